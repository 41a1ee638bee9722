//! What operators watch: counters and gauges through the `metrics` facade (a no-op until the
//! server installs a recorder), and the queue figures read from the database when scraped.
//! Labels are fixed words chosen here, never a value a customer or a request supplied.

use chrono::{DateTime, Utc};
use sea_orm::{
    ConnectionTrait, DbBackend,
    sea_query::{Expr, ExprTrait, Func, Query},
};

use crate::{CoreError, Portal};

/// A background loop of the portal, as named in `portal_background_last_run_timestamp_seconds`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Job {
    /// The mail outbox worker finished a pass.
    Mail,
    /// The request fulfilment loop finished a pass (fulfilment, reminders, sweeps).
    Fulfilment,
    /// The ten-minute housekeeping sweep ran.
    Housekeeping,
    /// The daily retention rules ran.
    Retention,
    /// A scheduled backup was written.
    Backup,
}

impl Job {
    fn label(self) -> &'static str {
        match self {
            Job::Mail => "mail",
            Job::Fulfilment => "fulfilment",
            Job::Housekeeping => "housekeeping",
            Job::Retention => "retention",
            Job::Backup => "backup",
        }
    }
}

/// Notes that `job` has just run.
pub fn ran(job: Job) {
    metrics::gauge!("portal_background_last_run_timestamp_seconds", "job" => job.label())
        .set(Utc::now().timestamp() as f64);
}

/// A throttle that refused a caller, as named in `portal_throttle_refusals_total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Throttle {
    /// Sign-in requests from one client address.
    SigninPerIp,
    /// Sign-in mails to one address.
    SigninPerAddress,
    /// Staff sign-in attempts.
    StaffSignin,
    /// Calls per API key.
    ApiKey,
}

/// Counts one refusal by `throttle`.
pub fn refused(throttle: Throttle) {
    let label = match throttle {
        Throttle::SigninPerIp => "signin_per_ip",
        Throttle::SigninPerAddress => "signin_per_address",
        Throttle::StaffSignin => "staff_signin",
        Throttle::ApiKey => "api_key",
    };
    metrics::counter!("portal_throttle_refusals_total", "throttle" => label).increment(1);
}

/// The queues an operator watches, read when metrics are scraped.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Queues {
    /// Mail waiting to be sent.
    pub outbox_depth: i64,
    /// Seconds the oldest unsent mail has waited (0 when none waits).
    pub outbox_oldest_seconds: i64,
    /// Approved requests waiting to be carried out.
    pub fulfilment_depth: i64,
    /// Seconds since the oldest waiting approved request was decided (0 when none waits).
    pub fulfilment_oldest_seconds: i64,
}

/// Reads the queues in two small aggregate queries.
pub async fn queues(portal: &Portal, now: DateTime<Utc>) -> Result<Queues, CoreError> {
    let (outbox_depth, oldest_mail) = count_and_oldest(portal, "mail_outbox", "created_at", |q| {
        q.and_where(Expr::col("sent_at").is_null());
    })
    .await?;
    let (fulfilment_depth, oldest_request) =
        count_and_oldest(portal, "requests", "decided_at", |q| {
            q.and_where(Expr::col("status").eq(crate::requests::Status::Approved.as_str()));
        })
        .await?;
    let age = |at: Option<DateTime<Utc>>| at.map_or(0, |t| Ord::max((now - t).num_seconds(), 0));
    Ok(Queues {
        outbox_depth,
        outbox_oldest_seconds: age(oldest_mail),
        fulfilment_depth,
        fulfilment_oldest_seconds: age(oldest_request),
    })
}

async fn count_and_oldest(
    portal: &Portal,
    table: &'static str,
    at: &'static str,
    filter: impl FnOnce(&mut sea_orm::sea_query::SelectStatement),
) -> Result<(i64, Option<DateTime<Utc>>), CoreError> {
    let mut q = Query::select();
    q.expr_as(Func::count(Expr::col("id")), "n")
        .expr_as(Func::min(Expr::col(at)), "oldest")
        .from(table);
    filter(&mut q);
    let Some(row) = portal.db.query_one(&q).await? else {
        return Ok((0, None));
    };
    let n: i64 = row.try_get("", "n")?;
    let oldest: Option<DateTime<Utc>> = row.try_get("", "oldest")?;
    Ok((n, oldest))
}

/// The connection pool: connections open, of which idle, and the most it opens.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pool {
    /// Connections open now.
    pub open: u32,
    /// Of those, idle.
    pub idle: u32,
    /// The pool's maximum.
    pub max: u32,
}

/// The pool's figures, without a query.
pub fn pool(portal: &Portal) -> Pool {
    match portal.db.get_database_backend() {
        DbBackend::Sqlite => {
            let p = portal.db.get_sqlite_connection_pool();
            Pool {
                open: p.size(),
                idle: p.num_idle() as u32,
                max: p.options().get_max_connections(),
            }
        }
        DbBackend::Postgres => {
            let p = portal.db.get_postgres_connection_pool();
            Pool {
                open: p.size(),
                idle: p.num_idle() as u32,
                max: p.options().get_max_connections(),
            }
        }
        _ => Pool::default(),
    }
}
