//! The privacy officer is mailed 3 working days before a request is due and again when a due
//! date passes. Each reminder is claimed by a conditional UPDATE, so replicas send it once.

use chrono::{DateTime, Utc};
use sea_orm::{
    ConnectionTrait,
    sea_query::{Expr, ExprTrait, Query},
};

use super::{Kind, OPEN};
use crate::{CoreError, Portal, email::Email};

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

async fn officers(db: &impl ConnectionTrait) -> Result<Vec<Email>, CoreError> {
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
