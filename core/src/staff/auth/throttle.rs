//! Delays after wrong passwords and codes: per account, per address typed and per client IP,
//! in buckets that only grow by failures, and device tokens that give a member's own browser
//! a bucket of its own.

#[allow(unused_imports)]
use super::*;

/// The second-factor step of this account is delayed (wrong codes; never permanent).
pub(super) fn is_locked(row: &entity::Model, now: DateTime<Utc>) -> bool {
    row.locked_until.is_some_and(|t| t > now)
}

/// The delay that follows the `failures`-th consecutive failure of a bucket allowing `free`.
pub(super) fn delay_after(failures: i32, free: i32) -> Option<Duration> {
    if failures < free {
        return None;
    }
    let over = failures - free;
    // 1, 2, 4 … minutes; 2^6 minutes is past the cap already.
    let minutes = 1i64 << over.clamp(0, 6);
    Some((FIRST_DELAY * minutes as i32).min(MAX_DELAY))
}

/// `blocked_until` for a row whose failure count becomes `count` (an SQL expression): NULL
/// below `free`, then `now` plus the growing delay. Spelled out as a CASE over the few
/// possible steps so that the count and the delay change in one statement on both engines.
pub(super) fn blocked_until_after(count: Expr, free: i32, now: DateTime<Utc>) -> Expr {
    let mut case = Expr::case(
        count.clone().lt(free),
        Expr::val(Option::<DateTime<Utc>>::None),
    );
    for over in 0..6 {
        let failures = free + over;
        if let Some(d) = delay_after(failures, free) {
            case = case.case(count.clone().eq(failures), Expr::val(now + d));
        }
    }
    case.finally(Expr::val(now + MAX_DELAY)).into()
}

pub(super) const BUCKETS: &str = "staff_signin_buckets";

pub(super) fn bucket_col(c: &'static str) -> Expr {
    Expr::col((BUCKETS, c))
}

/// Counts one failure on `bucket` before the password is verified, in one conditional
/// statement: refused (false) while the bucket is delayed, so N parallel guesses get at most
/// `free` verifications and never slip past.
pub(super) async fn reserve(
    db: &impl ConnectionTrait,
    bucket: &[u8],
    free: i32,
    now: DateTime<Utc>,
) -> Result<bool, CoreError> {
    let count = bucket_col("failures").add(1);
    let mut on_conflict = OnConflict::column("bucket");
    on_conflict
        .value("failures", count.clone())
        .value("blocked_until", blocked_until_after(count, free, now))
        .value("last_failure_at", Expr::val(now))
        .action_and_where(
            bucket_col("blocked_until")
                .is_null()
                .or(bucket_col("blocked_until").lte(now)),
        );
    let first_blocked = delay_after(1, free).map(|d| now + d);
    let insert = Query::insert()
        .into_table(BUCKETS)
        .columns(["bucket", "failures", "blocked_until", "last_failure_at"])
        .values_panic([
            bucket.to_vec().into(),
            1.into(),
            first_blocked.into(),
            now.into(),
        ])
        .on_conflict(on_conflict)
        .returning_col("failures")
        .to_owned();
    Ok(db.query_one(&insert).await?.is_some())
}

/// Gives a reservation back (the attempt was refused elsewhere, found no permit, or the
/// password was right): one failure less, and no delay once below `free`.
pub(super) async fn give_back(
    db: &impl ConnectionTrait,
    bucket: &[u8],
    free: i32,
) -> Result<(), CoreError> {
    let count = bucket_col("failures").sub(1);
    let q = Query::update()
        .table(BUCKETS)
        .value("failures", count.clone())
        .value(
            "blocked_until",
            Expr::case(count.lt(free), Expr::val(Option::<DateTime<Utc>>::None))
                .finally(bucket_col("blocked_until")),
        )
        .and_where(Expr::col("bucket").eq(bucket.to_vec()))
        .and_where(Expr::col("failures").gt(0))
        .to_owned();
    db.execute(&q).await?;
    Ok(())
}

/// Forgets a bucket (a complete sign-in, or the officer's unlock).
pub(super) async fn clear_bucket(
    db: &impl ConnectionTrait,
    bucket: &[u8],
) -> Result<(), CoreError> {
    db.execute(
        &Query::delete()
            .from_table(BUCKETS)
            .and_where(Expr::col("bucket").eq(bucket.to_vec()))
            .to_owned(),
    )
    .await?;
    Ok(())
}

/// Whether `bucket` is delayed right now (for the officer's list).
pub(super) async fn bucket_delayed(
    db: &impl ConnectionTrait,
    bucket: &[u8],
    now: DateTime<Utc>,
) -> Result<bool, CoreError> {
    let q = Query::select()
        .column("bucket")
        .from(BUCKETS)
        .and_where(Expr::col("bucket").eq(bucket.to_vec()))
        .and_where(Expr::col("blocked_until").gt(now))
        .to_owned();
    Ok(db.query_one(&q).await?.is_some())
}

/// Deletes buckets a day after their last failure (their count starts again); returns how
/// many went. Run with the other sweeps.
pub async fn sweep_buckets(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
) -> Result<u64, CoreError> {
    let q = Query::delete()
        .from_table(BUCKETS)
        .and_where(Expr::col("last_failure_at").lt(now - Duration::hours(24)))
        .and_where(
            Expr::col("blocked_until")
                .is_null()
                .or(Expr::col("blocked_until").lt(now)),
        )
        .to_owned();
    Ok(db.execute(&q).await?.rows_affected())
}

/// [`sweep_buckets`] at most once an hour per process (the background loop calls this often).
pub async fn sweep_buckets_hourly(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
) -> Result<u64, CoreError> {
    static LAST: AtomicI64 = AtomicI64::new(i64::MIN);
    let last = LAST.load(Ordering::SeqCst);
    if now.timestamp().saturating_sub(last) < 3600 {
        return Ok(0);
    }
    LAST.store(now.timestamp(), Ordering::SeqCst);
    sweep_buckets(db, now).await
}

/// The bucket of an address as typed: the account's own for a known address, and one just
/// like it for an unknown or malformed one, so a delay looks the same whether or not the
/// account exists.
pub(super) fn address_bucket(vault: &crate::vault::Vault, email_input: &str) -> Vec<u8> {
    let normalised = match Email::parse(email_input) {
        Ok(e) => e.as_str().to_owned(),
        // Cut before lowering, so a huge field costs no more than a long address.
        Err(_) => email_input
            .trim()
            .chars()
            .take(254)
            .collect::<String>()
            .to_lowercase(),
    };
    vault.index("throttle/staff-account", &normalised)
}

pub(super) fn ip_bucket(vault: &crate::vault::Vault, client_ip: &str) -> Vec<u8> {
    vault.index("throttle/staff-ip", client_ip)
}

/// Counts one wrong second-factor code on the account's row, with the same growing delays
/// (one statement). The code step is only reached with the right password, so only someone
/// who has it can delay it.
pub(super) async fn record_failure(
    db: &impl ConnectionTrait,
    staff: i64,
    now: DateTime<Utc>,
) -> Result<(), CoreError> {
    let count = Expr::col(("staff", "failed_sign_ins")).add(1);
    let bump = Query::update()
        .table("staff")
        .value("failed_sign_ins", count.clone())
        .value(
            "locked_until",
            blocked_until_after(count, FREE_FAILURES, now),
        )
        .and_where(Expr::col("id").eq(staff))
        .to_owned();
    db.execute(&bump).await?;
    tracing::info!(staff, "staff second-factor failure recorded");
    Ok(())
}

/// A browser that completed a sign-in to `staff`: `id.nonce.mac`, the MAC under a key of the
/// portal's own. Attempts that carry it count on a bucket of their own, so failures caused by
/// others (from anywhere, the salon's own address included) never delay the member there.
pub fn device_token(vault: &crate::vault::Vault, staff: i64) -> String {
    let mut nonce = [0u8; 16];
    rand::rngs::OsRng
        .try_fill_bytes(&mut nonce)
        .expect("the operating system's random number generator");
    let body = format!("{staff}.{}", URL_SAFE_NO_PAD.encode(nonce));
    let mac = URL_SAFE_NO_PAD.encode(vault.index("staff-device", &body));
    format!("{body}.{mac}")
}

/// The staff id and bucket of a genuine device token.
pub(super) fn trusted_device(vault: &crate::vault::Vault, token: &str) -> Option<(i64, Vec<u8>)> {
    if token.len() > 100 {
        return None;
    }
    let (body, mac) = token.rsplit_once('.')?;
    let (id, _nonce) = body.split_once('.')?;
    let expected = URL_SAFE_NO_PAD.encode(vault.index("staff-device", body));
    if !constant_time_eq(expected.as_bytes(), mac.as_bytes()) {
        return None;
    }
    Some((id.parse().ok()?, vault.index("throttle/staff-device", body)))
}
