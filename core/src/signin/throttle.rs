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
/// `limit`. Refused hits count too, up to twice the limit, so a client that keeps hammering
/// stays refused until it stops for a window; past that the bucket is refused without a write.
/// The slot's counter is added to and read back in one statement, so of concurrent hits (on any
/// replica) the ones past the limit see it: they can only over-refuse.
pub async fn hit(
    db: &impl ConnectionTrait,
    bucket: &[u8],
    limit: Limit,
    now: DateTime<Utc>,
) -> Result<bool, CoreError> {
    let (others, current) = counts(db, bucket, limit, now).await?;
    if others + current >= 2 * limit.max {
        return Ok(false);
    }
    let after = slot_hits(db.query_one(&upsert(bucket, limit, now)).await?)?;
    Ok(others + after <= limit.max)
}

/// Two limits met in turn by one request (a client, then the address it asks for): the second
/// is hit only when the first allows. Both counts are read in one query beside other readers and both
/// writes go to the group commit as one job, so a request waits for one commit, not two.
/// Returns whether each allows.
pub async fn hit_in_turn(
    portal: &crate::Portal,
    first: (&[u8], Limit),
    second: (&[u8], Limit),
    now: DateTime<Utc>,
) -> Result<(bool, bool), CoreError> {
    let [(o1, c1), (o2, c2)] = counts_of(&portal.db, [first, second], now).await?;
    if o1 + c1 >= 2 * first.1.max {
        return Ok((false, false));
    }
    let (up1, max1) = (upsert(first.0, first.1, now), first.1.max);
    let second_writes = o2 + c2 < 2 * second.1.max;
    let (up2, max2) = (upsert(second.0, second.1, now), second.1.max);
    // Two statements whose only failures are the database's: no savepoint needed.
    portal
        .writer
        .write_plain(Box::new(move |tx| {
            Box::pin(async move {
                let ok1 = o1 + slot_hits(tx.query_one(&up1).await?)? <= max1;
                if !ok1 {
                    return Ok((false, false));
                }
                let ok2 = second_writes && o2 + slot_hits(tx.query_one(&up2).await?)? <= max2;
                Ok((true, ok2))
            })
        }))
        .await
}

fn slot_hits(row: Option<sea_orm::QueryResult>) -> Result<i64, CoreError> {
    let row = row.ok_or(CoreError::NotFound)?;
    Ok(i64::from(row.try_get::<i32>("", "hits")?))
}

/// Adds one to `bucket`'s counter of the slot holding `now`, returning the counter.
fn upsert(bucket: &[u8], limit: Limit, now: DateTime<Utc>) -> sea_orm::sea_query::InsertStatement {
    let (slot, _) = slots(limit, now);
    let mut on_conflict = OnConflict::columns(["bucket", "slot_start"]);
    on_conflict
        .value("hits", Expr::col((TABLE, "hits")).add(1))
        // Never back in time: writes may land out of order (the group commit's queue, the
        // clocks of two replicas), and the latest hit decides whether the oldest slot counts.
        .value(
            "last_at",
            Expr::case(
                Expr::col((TABLE, "last_at")).gt(Expr::val(now)),
                Expr::col((TABLE, "last_at")),
            )
            .finally(Expr::val(now)),
        );
    Query::insert()
        .into_table(TABLE)
        .columns(["bucket", "slot_start", "hits", "last_at"])
        .values_panic([bucket.to_vec().into(), slot.into(), 1.into(), now.into()])
        .on_conflict(on_conflict)
        .returning_col("hits")
        .to_owned()
}

/// Hits on `bucket` that may fall in the window ending at `now`: in the slots before the
/// current one, and in the current slot. One read of at most 13 rows.
async fn counts(
    db: &impl ConnectionTrait,
    bucket: &[u8],
    limit: Limit,
    now: DateTime<Utc>,
) -> Result<(i64, i64), CoreError> {
    let [c] = counts_of(db, [(bucket, limit)], now).await?;
    Ok(c)
}

/// [`counts`] of several buckets, in one read.
async fn counts_of<const N: usize>(
    db: &impl ConnectionTrait,
    buckets: [(&[u8], Limit); N],
    now: DateTime<Utc>,
) -> Result<[(i64, i64); N], CoreError> {
    let mut any = sea_orm::sea_query::Condition::any();
    for (bucket, limit) in buckets {
        let (current, oldest) = slots(limit, now);
        any = any.add(
            Expr::col("bucket")
                .eq(bucket.to_vec())
                .and(Expr::col("slot_start").gte(oldest))
                .and(Expr::col("slot_start").lte(current)),
        );
    }
    let rows = Query::select()
        .columns(["bucket", "slot_start", "hits", "last_at"])
        .from(TABLE)
        .cond_where(any)
        .to_owned();
    let mut out = [(0, 0); N];
    for row in db.query_all(&rows).await? {
        let found: Vec<u8> = row.try_get("", "bucket")?;
        let start: DateTime<Utc> = row.try_get("", "slot_start")?;
        let last: DateTime<Utc> = row.try_get("", "last_at")?;
        let hits = i64::from(row.try_get::<i32>("", "hits")?);
        for ((bucket, limit), (others, this)) in buckets.iter().zip(out.iter_mut()) {
            if found != *bucket {
                continue;
            }
            let (current, oldest) = slots(*limit, now);
            if start == current {
                *this += hits;
            } else if start > oldest || last > now - limit.window {
                // The oldest slot counts whole while any of its hits may be inside the window.
                *others += hits;
            }
        }
    }
    Ok(out)
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
