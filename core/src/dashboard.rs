//! What the privacy officer's dashboard shows: request deadlines, requests per week, and the
//! posture check (the salon plan's periodic risk review, made continuous).

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use sea_orm::{
    ConnectionTrait,
    sea_query::{Expr, ExprTrait, Query},
};

use crate::{
    CoreError, Portal, backup,
    requests::{Due, DueWindow},
    vault::KEY_FILE,
};

/// Request states that still need work.
pub const OPEN_STATES: [&str; 3] = ["submitted", "in_review", "approved"];

/// Request counts for the dashboard.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Deadlines {
    /// Requests not yet done, denied or cancelled.
    pub open: i64,
    /// Open and due within 3 working days (not yet overdue).
    pub due_soon: i64,
    /// Open and past their due date.
    pub overdue: i64,
}

/// Counts open, due-soon and overdue requests, by the same [`DueWindow`] as the queue's
/// filters and the reminders.
pub async fn deadlines(portal: &Portal, now: DateTime<Utc>) -> Result<Deadlines, CoreError> {
    let q = Query::select()
        .column("due_at")
        .from("requests")
        .and_where(Expr::col("status").is_in(OPEN_STATES))
        .to_owned();
    let window = DueWindow::at(portal, now);
    let mut d = Deadlines::default();
    for r in portal.db.query_all(&q).await? {
        d.open += 1;
        match window.classify(r.try_get("", "due_at")?) {
            Due::Overdue => d.overdue += 1,
            Due::Soon => d.due_soon += 1,
            Due::Later => {}
        }
    }
    Ok(d)
}

/// New requests per week for the last `weeks` weeks (Monday-based), oldest first.
pub async fn requests_per_week(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    weeks: u32,
) -> Result<Vec<(NaiveDate, i64)>, CoreError> {
    let today = now.date_naive();
    let this_monday = today - Duration::days(today.weekday().num_days_from_monday() as i64);
    let first = this_monday - Duration::weeks(weeks as i64 - 1);
    let start = first
        .and_hms_opt(0, 0, 0)
        .map(|t| t.and_utc())
        .unwrap_or(now);
    let q = Query::select()
        .column("submitted_at")
        .from("requests")
        .and_where(Expr::col("submitted_at").gte(start))
        .to_owned();
    let mut counts = vec![0i64; weeks as usize];
    for r in db.query_all(&q).await? {
        let at: DateTime<Utc> = r.try_get("", "submitted_at")?;
        let week = (at.date_naive() - first).num_days() / 7;
        if let Some(c) = usize::try_from(week).ok().and_then(|w| counts.get_mut(w)) {
            *c += 1;
        }
    }
    Ok(counts
        .into_iter()
        .enumerate()
        .map(|(i, n)| (first + Duration::weeks(i as i64), n))
        .collect())
}

/// How mail leaves the portal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MailTransport {
    /// The dev mailbox (switched on by name; development only).
    DevMailbox,
    /// `smtps://`, or `smtp://` with `tls=required`.
    Tls,
    /// Plain or opportunistic SMTP.
    Plain,
}

/// Where the master key lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyFile {
    /// `PORTAL_MASTER_KEY` (the environment or a secret store).
    Environment,
    /// The key file, readable by its owner only.
    Private,
    /// The key file, readable by others: fix at once.
    Open,
}

/// The posture checklist.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Posture {
    /// Active staff without a second factor.
    pub staff_without_totp: i64,
    /// When the last data backup was written.
    pub last_backup: Option<DateTime<Utc>>,
    /// Requests past their due date.
    pub overdue_requests: i64,
    /// How mail is sent.
    pub mail: MailTransport,
    /// Where the master key lives.
    pub key_file: KeyFile,
}

impl Posture {
    /// A backup older than two days counts as a risk.
    pub fn backup_ok(&self, now: DateTime<Utc>) -> bool {
        self.last_backup
            .is_some_and(|t| now - t <= Duration::hours(48))
    }
}

/// Reads every item of the checklist.
pub async fn posture(portal: &Portal, now: DateTime<Utc>) -> Result<Posture, CoreError> {
    let db = &portal.db;
    let q = Query::select()
        .expr_as(Expr::col("id").count(), "n")
        .from("staff")
        .and_where(Expr::col("active").eq(true))
        .and_where(Expr::col("totp_secret_sealed").is_null())
        .to_owned();
    let staff_without_totp: i64 = db
        .query_one(&q)
        .await?
        .ok_or(CoreError::NotFound)?
        .try_get("", "n")?;
    let mail = match &portal.settings.smtp_url {
        _ if portal.settings.dev_mailbox() => MailTransport::DevMailbox,
        None => MailTransport::DevMailbox,
        Some(u) if u.starts_with("smtps://") || u.contains("tls=required") => MailTransport::Tls,
        Some(_) => MailTransport::Plain,
    };
    let key_file = if portal.settings.master_key.is_some() {
        KeyFile::Environment
    } else {
        key_file_state(&portal.settings.data_dir.join(KEY_FILE))
    };
    Ok(Posture {
        staff_without_totp,
        last_backup: backup::last_backup(db).await?,
        overdue_requests: deadlines(portal, now).await?.overdue,
        mail,
        key_file,
    })
}

/// Everything the dashboard shows a member holding `role`: deadlines and the last `weeks`
/// weeks for everyone, the posture to those who read the audit log, the open takedown tasks to
/// those who work them.
pub struct Overview {
    /// Open, due soon and overdue requests.
    pub deadlines: Deadlines,
    /// Monday of each week and the requests submitted that week, oldest first.
    pub weeks: Vec<(NaiveDate, i64)>,
    /// The posture checklist, if the role may see it.
    pub posture: Option<Posture>,
    /// Open photo takedown tasks, if the role works them.
    pub takedowns: Option<i64>,
}

/// Reads the dashboard for `role`.
#[tracing::instrument(skip_all, fields(role = role.as_str()))]
pub async fn overview(
    portal: &Portal,
    role: crate::staff::Role,
    weeks: u32,
    now: DateTime<Utc>,
) -> Result<Overview, CoreError> {
    use crate::access::Action;
    let db = &portal.db;
    Ok(Overview {
        deadlines: deadlines(portal, now).await?,
        weeks: requests_per_week(db, now, weeks).await?,
        posture: match role.may(Action::ViewAuditLog) {
            true => Some(posture(portal, now).await?),
            false => None,
        },
        takedowns: match role.may(Action::ProcessTakedowns) {
            true => Some(crate::photos::open_takedowns(db).await?),
            false => None,
        },
    })
}

#[cfg(unix)]
fn key_file_state(path: &std::path::Path) -> KeyFile {
    use std::os::unix::fs::PermissionsExt;
    match std::fs::metadata(path) {
        Ok(m) if m.permissions().mode() & 0o077 == 0 => KeyFile::Private,
        _ => KeyFile::Open,
    }
}

#[cfg(not(unix))]
fn key_file_state(_: &std::path::Path) -> KeyFile {
    KeyFile::Open
}
