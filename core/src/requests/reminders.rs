//! The privacy officers are mailed on each new request (or once a day, a digest of them), 3
//! working days before a request is due, and again when a due date passes. Each reminder and
//! digest is claimed by a conditional UPDATE, so replicas send it once.

use chrono::{DateTime, Utc};
use sea_orm::{
    ConnectionTrait,
    sea_query::{Expr, ExprTrait, OnConflict, Query},
};

use super::{Kind, OPEN};
use crate::{CoreError, Portal, config::OfficerMail, email::Email};

/// Sends the reminders that are due; returns how many requests were reminded about.
pub async fn run_once(portal: &Portal, now: DateTime<Utc>) -> Result<usize, CoreError> {
    let window = super::DueWindow::at(portal, now);
    let mut sent = 0;
    for (column, overdue) in [("reminded_at", false), ("overdue_notified_at", true)] {
        let mut q = Query::select()
            .columns(["id", "kind", "due_at"])
            .from("requests")
            .and_where(Expr::col("status").is_in(OPEN))
            .and_where(Expr::col(column).is_null())
            .to_owned();
        q.and_where(match overdue {
            true => window.overdue(),
            false => window.due_soon(),
        });
        for r in portal.db.query_all(&q).await? {
            let id: i64 = r.try_get("", "id")?;
            let kind: String = r.try_get("", "kind")?;
            let due: DateTime<Utc> = r.try_get("", "due_at")?;
            let tx = crate::db::begin_write(&portal.db).await?;
            let claim = Query::update()
                .table("requests")
                .value(column, now)
                .and_where(Expr::col("id").eq(id))
                .and_where(Expr::col(column).is_null())
                .to_owned();
            if tx.execute(&claim).await?.rows_affected() != 1 {
                continue;
            }
            let day = crate::requests::calendar::local_day(due);
            for to in officers(&tx).await? {
                let kind = Kind::parse(&kind)?;
                let mail = crate::mail::templates::request_reminder::reminder(
                    portal, to, id, kind, &day, overdue,
                );
                portal
                    .enqueue_mail(&tx, None, "request_reminder", &mail)
                    .await?;
            }
            tx.commit().await?;
            sent += 1;
        }
    }
    if sent > 0 {
        portal.outbox.notify();
    }
    Ok(sent)
}

pub(super) async fn officers(db: &impl ConnectionTrait) -> Result<Vec<Email>, CoreError> {
    let q = Query::select()
        .column("email")
        .from("staff")
        .and_where(Expr::col("role").eq("privacy_officer"))
        .and_where(Expr::col("active").eq(true))
        .to_owned();
    let mut out = Vec::new();
    for r in db.query_all(&q).await? {
        let e: String = r.try_get("", "email")?;
        if let Ok(e) = Email::parse(&e) {
            out.push(e);
        }
    }
    Ok(out)
}

/// New requests of one customer in a day that mail the officers (one per kind).
pub const OFFICER_MAILS_PER_CUSTOMER_DAY: i64 = 6;

/// Inside the transaction that stored new request `id`: mails each privacy officer, unless they
/// asked for a daily digest instead (`PORTAL_OFFICER_MAIL`).
pub(super) async fn tell_officers<C: ConnectionTrait + sea_orm::TransactionTrait>(
    portal: &Portal,
    db: &C,
    (id, customer): (i64, i64),
    kind: Kind,
    (due_from, due): (DateTime<Utc>, DateTime<Utc>),
) -> Result<(), CoreError> {
    if portal.settings.officer_mail != OfficerMail::Each {
        return Ok(());
    }
    // One customer filing and withdrawing in a loop must not flood the officers: past one mail
    // per kind in a day, their requests wait in the queue (and the reminders) without a mail.
    let recent = db
        .query_one(
            &Query::select()
                .expr_as(Expr::col("id").count(), "n")
                .from("requests")
                .and_where(Expr::col("customer_id").eq(customer))
                .and_where(Expr::col("submitted_at").gt(due_from - chrono::Duration::days(1)))
                .to_owned(),
        )
        .await?
        .map(|r| r.try_get::<i64>("", "n"))
        .transpose()?
        .unwrap_or_default();
    if recent > OFFICER_MAILS_PER_CUSTOMER_DAY {
        return Ok(());
    }
    let day = crate::requests::calendar::local_day(due);
    for to in officers(db).await? {
        let mail =
            crate::mail::templates::request_reminder::new_request(portal, to, id, kind, &day);
        portal.enqueue_mail(db, None, "request_new", &mail).await?;
    }
    Ok(())
}

/// The settings row that holds when the last digest covered up to.
const DIGEST_KEY: &str = "officer_digest_until";

/// With `PORTAL_OFFICER_MAIL=daily`: once per salon-local day, mails the privacy officers the
/// requests submitted since the last digest. The day's run is claimed by a compare-and-swap on
/// one settings row, so replicas send it once. Returns how many requests the digest listed.
pub async fn digest_once(portal: &Portal, now: DateTime<Utc>) -> Result<usize, CoreError> {
    if portal.settings.officer_mail != OfficerMail::Daily {
        return Ok(0);
    }
    let db = &portal.db;
    // The first run starts the clock: nothing before it is listed.
    db.execute(
        &Query::insert()
            .into_table("settings")
            .columns(["key", "value", "updated_at"])
            .values_panic([DIGEST_KEY.into(), now.to_rfc3339().into(), now.into()])
            .on_conflict(OnConflict::column("key").do_nothing().to_owned())
            .to_owned(),
    )
    .await?;
    let row = db
        .query_one(
            &Query::select()
                .column("value")
                .from("settings")
                .and_where(Expr::col("key").eq(DIGEST_KEY))
                .to_owned(),
        )
        .await?
        .ok_or(CoreError::NotFound)?;
    let since_text: String = row.try_get("", "value")?;
    let since = DateTime::parse_from_rfc3339(&since_text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| CoreError::internal("officer digest time", e))?;
    let local_day = crate::requests::calendar::local_day;
    if local_day(since) == local_day(now) {
        return Ok(0);
    }
    let tx = crate::db::begin_write(db).await?;
    let claim = Query::update()
        .table("settings")
        .value("value", now.to_rfc3339())
        .value("updated_at", now)
        .and_where(Expr::col("key").eq(DIGEST_KEY))
        .and_where(Expr::col("value").eq(since_text))
        .to_owned();
    if tx.execute(&claim).await?.rows_affected() != 1 {
        return Ok(0);
    }
    let q = Query::select()
        .columns(["id", "kind", "due_at"])
        .from("requests")
        .and_where(Expr::col("submitted_at").gt(since))
        .and_where(Expr::col("submitted_at").lte(now))
        .order_by("id", sea_orm::sea_query::Order::Asc)
        .to_owned();
    let mut listed = Vec::new();
    for r in tx.query_all(&q).await? {
        let kind: String = r.try_get("", "kind")?;
        let due: DateTime<Utc> = r.try_get("", "due_at")?;
        listed.push((r.try_get("", "id")?, Kind::parse(&kind)?, local_day(due)));
    }
    if !listed.is_empty() {
        for to in officers(&tx).await? {
            let mail = crate::mail::templates::request_reminder::digest(portal, to, &listed);
            portal
                .enqueue_mail(&tx, None, "request_digest", &mail)
                .await?;
        }
    }
    tx.commit().await?;
    if !listed.is_empty() {
        portal.outbox.notify();
    }
    Ok(listed.len())
}
