//! Throttles kept in the database, so they hold across replicas: one counter per bucket and
//! slot (a twelfth of the window), added to by an upsert, so a hit costs the same at any rate.
//! Each counter keeps its latest hit too, so the slot the window's start falls in counts whole
//! while any of its hits may be inside the window, and not at all once none can be: never less
//! strict than a log of every hit, and at most 13 rows read per check.

use chrono::{DateTime, Duration, Utc};
use sea_orm::{
    ConnectionTrait,
    sea_query::{Expr, ExprTrait, OnConflict, Query},
};

use crate::CoreError;

/// A limit: at most `max` hits per `window`.
#[derive(Clone, Copy, Debug)]
pub struct Limit {
    /// Hits allowed in one window.
    pub max: i64,
    /// The sliding window.
    pub window: Duration,
}

/// Five sign-in mails per address per hour (OWASP Forgot Password).
pub const PER_ADDRESS: Limit = Limit {
    max: 5,
    window: Duration::hours(1),
};
/// Twenty sign-in requests per client IP per hour (the default of
/// `PORTAL_SIGNIN_PER_IP_PER_HOUR`).
pub const PER_IP: Limit = Limit {
    max: 20,
    window: Duration::hours(1),
};

/// Slots per window.
const SLOTS: i64 = 12;

const TABLE: &str = "throttle_counters";

/// The start of the slot holding `at`, and of the oldest slot a check at `at` adds up.
fn slots(limit: Limit, at: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
    let len = Ord::max(limit.window.num_seconds() / SLOTS, 1);
    let current = at.timestamp().div_euclid(len) * len;
    let start = |secs: i64| DateTime::<Utc>::from_timestamp(secs, 0).unwrap_or(at);
    (start(current), start(current - SLOTS * len))
}

/// Records a hit on `bucket` (a keyed hash, never a plain address) and says whether it is within
/// `limit`. A bucket already at its limit is refused without a write. Otherwise the hit is
/// counted before the sum is read again, so concurrent replicas can only over-refuse.
pub async fn hit(
    db: &impl ConnectionTrait,
    bucket: &[u8],
    limit: Limit,
    now: DateTime<Utc>,
) -> Result<bool, CoreError> {
    if count(db, bucket, limit, now).await? >= limit.max {
        return Ok(false);
    }
    db.execute(&upsert(bucket, limit, now)).await?;
    Ok(count(db, bucket, limit, now).await? <= limit.max)
}

/// [`hit`] with the count's write through the portal's group commit, so a burst of sign-in
/// requests shares one commit; the sums are read outside it, beside other readers.
pub async fn hit_grouped(
    portal: &crate::Portal,
    bucket: &[u8],
    limit: Limit,
    now: DateTime<Utc>,
) -> Result<bool, CoreError> {
    let db = &portal.db;
    if count(db, bucket, limit, now).await? >= limit.max {
        return Ok(false);
    }
    let upsert = upsert(bucket, limit, now);
    portal
        .writer
        .write(Box::new(move |tx| {
            Box::pin(async move {
                tx.execute(&upsert).await?;
                Ok(())
            })
        }))
        .await?;
    Ok(count(db, bucket, limit, now).await? <= limit.max)
}

/// Adds one to `bucket`'s counter of the slot holding `now`.
fn upsert(bucket: &[u8], limit: Limit, now: DateTime<Utc>) -> sea_orm::sea_query::InsertStatement {
    let (slot, _) = slots(limit, now);
    let mut on_conflict = OnConflict::columns(["bucket", "slot_start"]);
    on_conflict
        .value("hits", Expr::col((TABLE, "hits")).add(1))
        .value("last_at", Expr::val(now));
    Query::insert()
        .into_table(TABLE)
        .columns(["bucket", "slot_start", "hits", "last_at"])
        .values_panic([bucket.to_vec().into(), slot.into(), 1.into(), now.into()])
        .on_conflict(on_conflict)
        .to_owned()
}

/// Hits on `bucket` in the slots that may hold a hit of the window ending at `now`.
async fn count(
    db: &impl ConnectionTrait,
    bucket: &[u8],
    limit: Limit,
    now: DateTime<Utc>,
) -> Result<i64, CoreError> {
    let (current, oldest) = slots(limit, now);
    let sum = Query::select()
        .expr_as(Expr::col("hits").sum(), "n")
        .from(TABLE)
        .and_where(Expr::col("bucket").eq(bucket.to_vec()))
        .and_where(
            Expr::col("slot_start")
                .gt(oldest)
                .or(Expr::col("slot_start")
                    .eq(oldest)
                    .and(Expr::col("last_at").gt(now - limit.window))),
        )
        .and_where(Expr::col("slot_start").lte(current))
        .to_owned();
    let row = db.query_one(&sum).await?.ok_or(CoreError::NotFound)?;
    // `hits` is a 32-bit integer, so its SUM is a 64-bit one on both engines; NULL without rows.
    Ok(row.try_get::<Option<i64>>("", "n")?.unwrap_or(0))
}

/// Forgets every count of `bucket` (an erased customer's address).
pub async fn forget(db: &impl ConnectionTrait, bucket: &[u8]) -> Result<(), CoreError> {
    db.execute(
        &Query::delete()
            .from_table(TABLE)
            .and_where(Expr::col("bucket").eq(bucket.to_vec()))
            .to_owned(),
    )
    .await?;
    Ok(())
}

/// Deletes counters older than the longest window; run now and then. Returns the rows deleted.
pub async fn sweep(db: &impl ConnectionTrait, now: DateTime<Utc>) -> Result<u64, CoreError> {
    let delete = Query::delete()
        .from_table(TABLE)
        .and_where(Expr::col("slot_start").lt(now - Duration::hours(24)))
        .to_owned();
    Ok(db.execute(&delete).await?.rows_affected())
}
