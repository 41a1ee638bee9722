//! Sweeps of the tables that anonymous traffic can write to, so that none of them (nor the
//! backups that copy them) grows without bound (security.md, "Defaults and growth"): throttle
//! hits past their window, one-time tokens past their life (decoys for unknown addresses
//! included), ended sessions, and delivered mail past `PORTAL_SENT_MAIL_DAYS`; and the sealed
//! identifiers of pass-on tasks past their time (`sharing::PASS_ON_KEEP`).

use chrono::{DateTime, Duration, Utc};
use sea_orm::{
    ConnectionTrait,
    sea_query::{Expr, ExprTrait, Query},
};

use crate::{CoreError, Portal};

/// How long a spent, expired or ended row is kept before it goes: long enough for the pages
/// and throttles that read it (every one looks back at most a day).
pub const GRACE: Duration = Duration::days(1);

/// How many rows each sweep removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Swept {
    /// `throttle_counters` rows.
    pub throttle_counters: u64,
    /// `one_time_tokens` rows.
    pub tokens: u64,
    /// `sessions` rows.
    pub sessions: u64,
    /// Delivered `mail_outbox` rows.
    pub sent_mail: u64,
    /// Pass-on tasks whose identifiers were destroyed, their time being up.
    pub pass_on_identifiers: u64,
}

/// Runs every sweep once. Each is one idempotent DELETE, so replicas may run it side by side.
pub async fn sweep(portal: &Portal, now: DateTime<Utc>) -> Result<Swept, CoreError> {
    let db = &portal.db;
    let throttle_counters = crate::signin::throttle::sweep(db, now).await?;
    let tokens = db
        .execute(
            &Query::delete()
                .from_table("one_time_tokens")
                .and_where(Expr::col("expires_at").lt(now - GRACE))
                .to_owned(),
        )
        .await?
        .rows_affected();
    let sessions = db
        .execute(
            &Query::delete()
                .from_table("sessions")
                .cond_where(
                    Expr::col("expires_at")
                        .lt(now - GRACE)
                        .or(Expr::col("revoked_at").lt(now - GRACE)),
                )
                .to_owned(),
        )
        .await?
        .rows_affected();
    let keep = Duration::days(i64::from(portal.settings.sent_mail_days));
    let sent_mail = db
        .execute(
            &Query::delete()
                .from_table("mail_outbox")
                .and_where(Expr::col("sent_at").lt(now - keep))
                .to_owned(),
        )
        .await?
        .rows_affected();
    let pass_on_identifiers = crate::sharing::sweep_expired(db, now).await?;
    Ok(Swept {
        throttle_counters,
        tokens,
        sessions,
        sent_mail,
        pass_on_identifiers,
    })
}
