//! Due dates on a working-day calendar: Monday to Friday, minus configured holidays, counted on
//! the salon's local date (China, UTC+8).

use std::collections::BTreeSet;

use chrono::{DateTime, Datelike, Duration, FixedOffset, NaiveDate, TimeZone, Utc, Weekday};

/// The salon's UTC offset: China Standard Time has no daylight saving.
pub fn salon_offset() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).unwrap_or_else(|| FixedOffset::east_opt(0).expect("zero"))
}

/// The salon's local date of an instant as the portal writes it everywhere (`2026-12-02`):
/// pages, mails and files alike, so a late-evening visit never shows as the next day.
pub fn local_day(at: DateTime<Utc>) -> String {
    at.with_timezone(&salon_offset())
        .format("%Y-%m-%d")
        .to_string()
}

/// Working days for due dates.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Calendar {
    holidays: BTreeSet<NaiveDate>,
}

impl Calendar {
    /// A calendar with these non-working dates.
    pub fn new(holidays: impl IntoIterator<Item = NaiveDate>) -> Self {
        Self {
            holidays: holidays.into_iter().collect(),
        }
    }

    /// Whether `d` is a working day.
    pub fn is_working_day(&self, d: NaiveDate) -> bool {
        !matches!(d.weekday(), Weekday::Sat | Weekday::Sun) && !self.holidays.contains(&d)
    }

    /// `date` moved forward by `n` working days.
    pub fn add_working_days(&self, date: NaiveDate, n: u32) -> NaiveDate {
        let mut d = date;
        let mut left = n;
        while left > 0 {
            d += Duration::days(1);
            if self.is_working_day(d) {
                left -= 1;
            }
        }
        d
    }

    /// Working days from `from` (exclusive) to `to` (inclusive); 0 when `to` is not later.
    pub fn working_days_between(&self, from: NaiveDate, to: NaiveDate) -> u32 {
        let mut n = 0;
        let mut d = from;
        while d < to {
            d += Duration::days(1);
            if self.is_working_day(d) {
                n += 1;
            }
        }
        n
    }

    /// The salon's local date of an instant.
    pub fn local_date(&self, at: DateTime<Utc>) -> NaiveDate {
        at.with_timezone(&salon_offset()).date_naive()
    }

    /// The end of `date` in the salon's time zone, as an instant.
    pub fn end_of(&self, date: NaiveDate) -> DateTime<Utc> {
        let end = date.and_hms_opt(23, 59, 59).unwrap_or_default();
        salon_offset()
            .from_local_datetime(&end)
            .single()
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_else(|| end.and_utc())
    }

    /// A request submitted at `submitted` is due at the end of the `days`-th working day after.
    pub fn due_at(&self, submitted: DateTime<Utc>, days: u32) -> DateTime<Utc> {
        self.end_of(self.add_working_days(self.local_date(submitted), days))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn fifteen_working_days_skip_weekends_and_holidays() {
        let plain = Calendar::default();
        // Monday 2026-11-30 + 15 working days = Monday 2026-12-21.
        assert_eq!(plain.add_working_days(d("2026-11-30"), 15), d("2026-12-21"));
        // Submitted on a Saturday: counting starts on Monday.
        assert_eq!(plain.add_working_days(d("2026-11-28"), 1), d("2026-11-30"));
        // China's National Day week: 2026-10-01..07 are holidays.
        let cn = Calendar::new((1..=7).map(|day| d(&format!("2026-10-{day:02}"))));
        assert_eq!(cn.add_working_days(d("2026-09-30"), 1), d("2026-10-08"));
        assert_eq!(cn.add_working_days(d("2026-09-30"), 15), d("2026-10-28"));
        assert_eq!(cn.working_days_between(d("2026-09-30"), d("2026-10-09")), 2);
    }

    #[test]
    fn the_due_date_is_counted_on_the_salons_local_date_and_ends_at_local_midnight() {
        let cal = Calendar::default();
        // 2026-11-29 20:00 UTC is already Monday 2026-11-30 04:00 in China.
        let submitted = Utc.with_ymd_and_hms(2026, 11, 29, 20, 0, 0).unwrap();
        assert_eq!(cal.local_date(submitted), d("2026-11-30"));
        let due = cal.due_at(submitted, 1);
        assert_eq!(due, Utc.with_ymd_and_hms(2026, 12, 1, 15, 59, 59).unwrap());
    }
}
