//! Retention: data is destroyed when no longer needed (the salon plan; PIPL art. 19). Rules live
//! in the database, are off until the privacy officer switches them on after a preview, run once
//! a day (one replica), and every purge is audited.
//!
//! Defaults: a customer with no visit for 36 months is told by mail, and deleted 30 days later if
//! still inactive; closed request records are purged 3 years after they closed.

use chrono::{DateTime, Duration, Months, Utc};
use sea_orm::{
    ConnectionTrait,
    sea_query::{Expr, ExprTrait, OnConflict, Query},
};

use crate::{
    CoreError, Portal,
    access::Action,
    audit::{self, Actor, Entry},
    customers,
    requests::erase,
};

/// The rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Rules {
    /// Whether the daily run acts (the preview works either way).
    pub enabled: bool,
    /// Months without a visit after which a customer is told (12 to 120).
    pub inactive_months: u32,
    /// Days between the notice and the deletion (7 to 365).
    pub notice_days: u32,
    /// Years a closed request record is kept (1 to 10).
    pub request_years: u32,
}

impl Default for Rules {
    fn default() -> Self {
        Self {
            enabled: false,
            inactive_months: 36,
            notice_days: 30,
            request_years: 3,
        }
    }
}

impl Rules {
    /// Checks the ranges.
    pub fn check(&self) -> Result<(), CoreError> {
        let ok = (12..=120).contains(&self.inactive_months)
            && (7..=365).contains(&self.notice_days)
            && (1..=10).contains(&self.request_years);
        if ok {
            Ok(())
        } else {
            Err(CoreError::Invalid("retention.range"))
        }
    }
}

const KEY: &str = "retention_rules";
const LAST_RUN: &str = "retention_last_run";

/// The rules in force.
pub async fn rules(db: &impl ConnectionTrait) -> Result<Rules, CoreError> {
    let q = Query::select()
        .column("value")
        .from("settings")
        .and_where(Expr::col("key").eq(KEY))
        .to_owned();
    Ok(match db.query_one(&q).await? {
        Some(r) => serde_json::from_str(&r.try_get::<String>("", "value")?).unwrap_or_default(),
        None => Rules::default(),
    })
}

/// Saves new rules.
pub async fn save(
    db: &impl ConnectionTrait,
    rules: &Rules,
    now: DateTime<Utc>,
) -> Result<(), CoreError> {
    rules.check()?;
    let value = serde_json::to_string(rules).map_err(|_| CoreError::Invalid("retention.rules"))?;
    db.execute(
        &Query::insert()
            .into_table("settings")
            .columns(["key", "value", "updated_at"])
            .values_panic([KEY.into(), value.into(), now.into()])
            .on_conflict(
                OnConflict::column("key")
                    .update_columns(["value", "updated_at"])
                    .to_owned(),
            )
            .to_owned(),
    )
    .await?;
    Ok(())
}

/// The officer's rules form, saved with its audit row in one transaction; numbers that do not
/// read, or lie out of range, are `retention.range`.
#[tracing::instrument(skip_all, fields(staff = staff))]
pub async fn officer_saves(
    portal: &Portal,
    (staff, role): (i64, crate::staff::Role),
    form: &portal_vocab::forms::Retention,
    now: DateTime<Utc>,
) -> Result<(), CoreError> {
    let num = |s: &str| {
        s.trim()
            .parse::<u32>()
            .map_err(|_| CoreError::Invalid("retention.range"))
    };
    let rules = Rules {
        enabled: form.enabled.is_some(),
        inactive_months: num(&form.inactive_months)?,
        notice_days: num(&form.notice_days)?,
        request_years: num(&form.request_years)?,
    };
    let actor = Actor::Staff { id: staff, role };
    let change = async |tx: &_| save(tx, &rules, now).await;
    audit::audited(&portal.db, actor, Action::SetRetention, now, change, |_| {
        None
    })
    .await
}

/// What the rules would do now.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Preview {
    /// Inactive customers to be told (not told yet).
    pub to_notify: Vec<i64>,
    /// Customers told at least `notice_days` ago and still inactive: to be deleted.
    pub to_delete: Vec<i64>,
    /// Closed request records old enough to purge.
    pub requests_to_purge: Vec<i64>,
}

/// Applies the rules to the data without changing anything.
pub async fn preview(
    portal: &Portal,
    rules: &Rules,
    now: DateTime<Utc>,
) -> Result<Preview, CoreError> {
    let db = &portal.db;
    let cutoff = now
        .checked_sub_months(Months::new(rules.inactive_months))
        .unwrap_or(now);
    let mut p = Preview::default();
    let customers = db
        .query_all(
            &Query::select()
                .columns([
                    "id",
                    "created_at",
                    "retention_notified_at",
                    "last_signed_in_at",
                ])
                .from("customers")
                .and_where(Expr::col("erased_at").is_null())
                // A restricted record is frozen (it may be needed for a claim): never purged.
                .and_where(Expr::col("restricted_at").is_null())
                .to_owned(),
        )
        .await?;
    for c in customers {
        let id: i64 = c.try_get("", "id")?;
        let created: DateTime<Utc> = c.try_get("", "created_at")?;
        let notified: Option<DateTime<Utc>> = c.try_get("", "retention_notified_at")?;
        let signed_in: Option<DateTime<Utc>> = c.try_get("", "last_signed_in_at")?;
        let last_visit: Option<DateTime<Utc>> = db
            .query_one(
                &Query::select()
                    .expr_as(Expr::col("visited_at").max(), "last")
                    .from("visits")
                    .and_where(Expr::col("customer_id").eq(id))
                    .to_owned(),
            )
            .await?
            .and_then(|r| {
                r.try_get::<Option<DateTime<Utc>>>("", "last")
                    .ok()
                    .flatten()
            });
        // A visit or a sign-in counts as activity, as the notice says.
        let active_since = [last_visit, signed_in]
            .into_iter()
            .flatten()
            .fold(created, Ord::max);
        if active_since >= cutoff {
            continue;
        }
        // A notice sent before the customer came back is spent: they are told again.
        match notified.filter(|t| *t >= active_since) {
            None => p.to_notify.push(id),
            Some(t) if t <= now - Duration::days(rules.notice_days as i64) => p.to_delete.push(id),
            Some(_) => {}
        }
    }
    let purge_before = now
        .checked_sub_months(Months::new(12 * rules.request_years))
        .unwrap_or(now);
    for r in db
        .query_all(
            &Query::select()
                .column("id")
                .from("requests")
                .and_where(Expr::col("status").is_in(["done", "denied", "cancelled"]))
                .and_where(Expr::col("completed_at").lt(purge_before))
                .to_owned(),
        )
        .await?
    {
        p.requests_to_purge.push(r.try_get("", "id")?);
    }
    Ok(p)
}

/// What a run did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ran {
    /// Customers told.
    pub notified: usize,
    /// Customers deleted.
    pub deleted: usize,
    /// Request records purged.
    pub purged_requests: usize,
}

/// Applies the rules now (when enabled). Each deletion is its own transaction with its audit row.
pub async fn run(portal: &Portal, now: DateTime<Utc>) -> Result<Ran, CoreError> {
    let r = rules(&portal.db).await?;
    let mut ran = Ran::default();
    if !r.enabled {
        return Ok(ran);
    }
    let p = preview(portal, &r, now).await?;
    let cutoff = now
        .checked_sub_months(Months::new(r.inactive_months))
        .unwrap_or(now);
    for id in p.to_notify {
        let tx = crate::db::begin_write(&portal.db).await?;
        let claimed = tx
            .execute(
                &Query::update()
                    .table("customers")
                    .value("retention_notified_at", now)
                    .and_where(Expr::col("id").eq(id))
                    // Not told, or told before they came back (such a notice is older than
                    // the inactivity cutoff); a replica that just told them wins.
                    .cond_where(
                        Expr::col("retention_notified_at")
                            .is_null()
                            .or(Expr::col("retention_notified_at").lt(cutoff)),
                    )
                    .to_owned(),
            )
            .await?
            .rows_affected();
        if claimed != 1 {
            continue;
        }
        let contact = customers::contact(&tx, &portal.vault, id).await?;
        if let Some(to) = contact.email {
            let lang = customers::language(&tx, id).await?;
            portal
                .enqueue_mail(
                    &tx,
                    Some(id),
                    "retention_notice",
                    &crate::mail::templates::retention_notice::notice(
                        portal,
                        to,
                        lang_of(&lang),
                        &r,
                        now,
                    ),
                )
                .await?;
        }
        tx.commit().await?;
        ran.notified += 1;
    }
    for id in p.to_delete {
        let tx = crate::db::begin_write(&portal.db).await?;
        if crate::membership::balance_cents(&tx, id).await? > 0 {
            // Money on the card is the customer's: staff settle it first.
            continue;
        }
        if crate::mydata::restricted(&tx, id).await? {
            // Restricted since the preview: frozen, never purged.
            continue;
        }
        let lang = customers::language(&tx, id).await?;
        let (files, kept, contact) = erase::erase(portal, &tx, id, now).await?;
        let entry = Entry {
            actor: Actor::System,
            action: Action::PurgeRetained,
            subject: Some(("customer", id)),
            reason: Some("retention: inactive"),
        };
        audit::append(&tx, &entry, now).await?;
        if let Some(to) = contact.email {
            let mail = crate::mail::templates::erasure_receipt::receipt(
                portal,
                to,
                lang_of(&lang),
                0,
                &kept,
                &[],
                now,
            );
            portal
                .enqueue_mail(&tx, None, "erasure_receipt", &mail)
                .await?;
        }
        tx.commit().await?;
        erase::remove_files(&files);
        ran.deleted += 1;
    }
    for id in p.requests_to_purge {
        let tx = crate::db::begin_write(&portal.db).await?;
        tx.execute(
            &Query::delete()
                .from_table("requests")
                .and_where(Expr::col("id").eq(id))
                .to_owned(),
        )
        .await?;
        let entry = Entry {
            actor: Actor::System,
            action: Action::PurgeRetained,
            subject: Some(("request", id)),
            reason: Some("retention: closed request record"),
        };
        audit::append(&tx, &entry, now).await?;
        tx.commit().await?;
        ran.purged_requests += 1;
    }
    portal.outbox.notify();
    Ok(ran)
}

/// Runs [`run`] once a day, on one replica (a claim in `settings`).
pub async fn daily(portal: &Portal, now: DateTime<Utc>) -> Result<Option<Ran>, CoreError> {
    let db = &portal.db;
    db.execute(
        &Query::insert()
            .into_table("settings")
            .columns(["key", "value", "updated_at"])
            .values_panic([LAST_RUN.into(), "".into(), (now - Duration::days(2)).into()])
            .on_conflict(OnConflict::column("key").do_nothing().to_owned())
            .to_owned(),
    )
    .await?;
    let claimed = db
        .execute(
            &Query::update()
                .table("settings")
                .value("updated_at", now)
                .and_where(Expr::col("key").eq(LAST_RUN))
                .and_where(Expr::col("updated_at").lte(now - Duration::hours(24)))
                .to_owned(),
        )
        .await?
        .rows_affected();
    if claimed != 1 {
        return Ok(None);
    }
    let orphans = erase::sweep_orphan_files(portal, now).await?;
    if orphans > 0 {
        tracing::info!(files = orphans, "files no record refers to were removed");
    }
    Ok(Some(run(portal, now).await?))
}

fn lang_of(stored: &str) -> portal_vocab::Lang {
    portal_vocab::Lang::from_tag(stored).unwrap_or_default()
}
