//! Throttles kept in the database, so they hold across replicas.

use chrono::{DateTime, Duration, Utc};
use sea_orm::{
    ConnectionTrait,
    sea_query::{Expr, ExprTrait, Query},
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

/// Records a hit on `bucket` (a keyed hash, never a plain address) and says whether it is within
/// `limit`. The hit is written before counting, so concurrent replicas can only over-refuse.
/// A bucket already twice over its limit is refused without a write: a flood grows the table
/// by at most `2 * max` rows per bucket and window.
pub async fn hit(
    db: &impl ConnectionTrait,
    bucket: &[u8],
    limit: Limit,
    now: DateTime<Utc>,
) -> Result<bool, CoreError> {
    if count(db, bucket, limit, now).await? >= 2 * limit.max {
        return Ok(false);
    }
    let insert = Query::insert()
        .into_table("throttle_hits")
        .columns(["bucket", "at"])
        .values_panic([bucket.to_vec().into(), now.into()])
        .to_owned();
    db.execute(&insert).await?;
    Ok(count(db, bucket, limit, now).await? <= limit.max)
}

/// Hits on `bucket` within the window ending at `now`.
async fn count(
    db: &impl ConnectionTrait,
    bucket: &[u8],
    limit: Limit,
    now: DateTime<Utc>,
) -> Result<i64, CoreError> {
    let count = Query::select()
        .expr_as(Expr::col("id").count(), "n")
        .from("throttle_hits")
        .and_where(Expr::col("bucket").eq(bucket.to_vec()))
        .and_where(Expr::col("at").gt(now - limit.window))
        .and_where(Expr::col("at").lte(now))
        .to_owned();
    Ok(db
        .query_one(&count)
        .await?
        .ok_or(CoreError::NotFound)?
        .try_get("", "n")?)
}

/// Deletes hits older than the longest window; run now and then.
pub async fn sweep(db: &impl ConnectionTrait, now: DateTime<Utc>) -> Result<u64, CoreError> {
    let delete = Query::delete()
        .from_table("throttle_hits")
        .and_where(Expr::col("at").lt(now - Duration::hours(24)))
        .to_owned();
    Ok(db.execute(&delete).await?.rows_affected())
}
