//! Staff sign-in: password (Argon2id), throttles and lock-out, TOTP second factor (required for
//! the privacy officer), invitations by email, deactivation. security.md, "Staff".

use std::sync::{
    OnceLock,
    atomic::{AtomicI64, AtomicU64, Ordering},
};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};

use argon2::PasswordHash;
use chrono::{DateTime, Duration, Utc};
use rand::TryRngCore;
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, TransactionSession, TransactionTrait,
    sea_query::{Expr, ExprTrait, OnConflict, Query},
};
use totp_rs::{Algorithm, TOTP};

use super::{Role, StaffName, entity, hash_password};
use crate::{
    CoreError, Portal,
    email::Email,
    signin::{Owner, Purpose, issue_for, token_hash, usable},
    vault::{self, Field},
};

/// Shortest password accepted (security.md).
pub const MIN_PASSWORD_CHARS: usize = 12;
/// Longest password accepted (Argon2 cost stays bounded).
pub const MAX_PASSWORD_CHARS: usize = 128;
/// Consecutive failures heard at once per bucket (an address typed, a trusted browser, or the
/// second-factor step of one account); after them each next attempt waits a growing delay.
pub const FREE_FAILURES: i32 = 5;
/// Failures from one client address (browsers not trusted by an account) heard at once.
pub const FREE_FAILURES_PER_IP: i32 = 30;
/// The first delay; each further failure doubles it, up to [`MAX_DELAY`]. Never permanent.
pub const FIRST_DELAY: Duration = Duration::minutes(1);
/// The longest delay, so an attacker can never lock anyone out for good (the most a bucket
/// hears then is one guess an hour).
pub const MAX_DELAY: Duration = Duration::hours(1);
/// Password hashes (Argon2id, 19 MiB each) running at once in this process.
pub const HASH_PERMITS: usize = 2;
/// How long an attempt waits for a hashing permit before it is told to try again shortly.
pub const HASH_WAIT: std::time::Duration = std::time::Duration::from_millis(250);
/// How long a browser stays trusted after a complete sign-in (the `staff_device` cookie).
pub const DEVICE_FOR: Duration = Duration::days(180);

const TOTP_SECRET: Field = Field::new("staff", "totp_secret_sealed");
const PENDING_SECRET: Field = Field::new("one_time_tokens", "target_sealed");
const TOTP_STEP_SECS: u64 = 30;

/// Why a new password is refused (message keys for the page).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PasswordProblem {
    /// Fewer than 12 characters.
    #[error("too short")]
    TooShort,
    /// More than 128 characters.
    #[error("too long")]
    TooLong,
    /// On a common-password list, a dictionary word, or built from the person's own details.
    #[error("too easy to guess")]
    TooCommon,
}

/// NIST 800-63B 5.1.1.2: length, and no common, dictionary or context-derived passwords (no
/// composition rules). `personal` holds the person's own name and address, `site` words such as
/// the salon's name.
pub fn check_new_password(
    password: &str,
    personal: &[&str],
    site: &[&str],
) -> Result<(), PasswordProblem> {
    let n = password.chars().count();
    if n < MIN_PASSWORD_CHARS {
        return Err(PasswordProblem::TooShort);
    }
    if n > MAX_PASSWORD_CHARS {
        return Err(PasswordProblem::TooLong);
    }
    // Each context value whole, in pieces ("wang", "fang", "salon") and with its separators
    // removed ("wangfang"), so a password built from a name or address is caught.
    let mut words: Vec<String> = ["salon", "privacy", "portal", "password"]
        .map(String::from)
        .to_vec();
    for c in personal {
        let lower = c.to_lowercase();
        let local = lower.split('@').next().unwrap_or_default();
        words.extend(
            lower
                .split(|ch: char| !ch.is_alphanumeric())
                .filter(|w| w.chars().count() >= 3)
                .map(String::from),
        );
        words.push(local.chars().filter(|ch| ch.is_alphanumeric()).collect());
        words.push(lower);
    }
    // The person's own name or address inside the password, however decorated, is refused
    // outright: it is the first thing a colleague or an attacker who knows them would try.
    let squashed: String = password
        .to_lowercase()
        .chars()
        .filter(|ch| ch.is_alphanumeric())
        .collect();
    let personal = words[4..].iter().any(|w| {
        w.chars().count() >= 4
            && w.chars().all(char::is_alphanumeric)
            && squashed.contains(w.as_str())
    });
    let mut words: Vec<&str> = words.iter().map(String::as_str).collect();
    words.extend(site);
    if personal || zxcvbn::zxcvbn(password, &words).score() < zxcvbn::Score::Three {
        return Err(PasswordProblem::TooCommon);
    }
    Ok(())
}

/// Where a right password leads.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// The TOTP code is next; `pending` (256 bits) goes into a short-lived cookie.
    Code {
        /// Names the half-finished sign-in.
        pending: String,
    },
    /// A second factor must be set up first (privacy officers always have one).
    Enrol {
        /// Names the half-finished sign-in; the new secret waits sealed in its row.
        pending: String,
    },
    /// Signed in: no second factor is set up and the role does not require one.
    Done {
        /// `staff.id`.
        staff: i64,
    },
}

/// Why a sign-in step did not succeed. Deliberately coarse: the page says the same thing for
/// an unknown address, a wrong password, a locked or deactivated account.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Wrong address or password, deactivated, or a spent/expired step.
    #[error("sign-in failed")]
    Failed,
    /// Refused before the password was looked at: this address typed (known or not), this
    /// client address or this browser had too many failures just now. Says nothing about
    /// whether the account exists: unknown addresses are delayed alike.
    #[error("sign-in delayed")]
    Delayed,
    /// No hashing permit within a short wait: try again shortly. Nothing was counted.
    #[error("busy")]
    Busy,
    /// Wrong second-factor code; the step stays open.
    #[error("wrong code")]
    WrongCode,
    /// A new password the policy refuses.
    #[error(transparent)]
    Password(#[from] PasswordProblem),
    /// Internal (logged, not shown).
    #[error(transparent)]
    Core(#[from] CoreError),
}

impl From<sea_orm::DbErr> for AuthError {
    fn from(e: sea_orm::DbErr) -> Self {
        AuthError::Core(e.into())
    }
}

/// A hash to verify against when the address is unknown, so both paths cost one Argon2 run.
/// Made on a hashing thread (the first call hashes).
fn decoy_hash() -> &'static str {
    static DECOY: OnceLock<String> = OnceLock::new();
    DECOY.get_or_init(|| hash_password("decoy password that matches nothing"))
}

/// Bounds the Argon2 runs of this process (19 MiB and two passes each): without it, 200
/// parallel bad sign-ins took the portal to 3.9 GiB. A static because a process serves one
/// portal; the permit travels into the hashing job, so a client that hangs up mid-hash
/// cannot free it early.
static HASHING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(HASH_PERMITS);

/// Password verifications run by this process so far (for tests and metrics).
static VERIFICATIONS: AtomicU64 = AtomicU64::new(0);

/// How many password verifications this process has run (tests count the work an attack got).
pub fn verifications() -> u64 {
    VERIFICATIONS.load(Ordering::SeqCst)
}

/// Waits a short while for a hashing permit; `None` means "try again shortly".
async fn hashing_permit() -> Option<tokio::sync::SemaphorePermit<'static>> {
    tokio::time::timeout(HASH_WAIT, HASHING.acquire())
        .await
        .ok()
        .and_then(Result::ok)
}

type HashJob = Box<dyn FnOnce() + Send>;

/// Runs `job` on one of [`HASH_PERMITS`] long-lived hashing threads. Not on tokio's blocking
/// pool: each of its many threads would keep a 19 MiB Argon2 block in its own malloc arena
/// after the hash (measured: 623 MiB resident after 200 parallel attempts with two permits);
/// the same few threads reuse the same few blocks.
async fn on_hasher<T: Send + 'static>(job: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    static QUEUE: OnceLock<std::sync::mpsc::Sender<HashJob>> = OnceLock::new();
    let queue = QUEUE.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel::<HashJob>();
        let rx = std::sync::Arc::new(std::sync::Mutex::new(rx));
        for i in 0..HASH_PERMITS {
            let rx = rx.clone();
            let started = std::thread::Builder::new()
                .name(format!("argon2-{i}"))
                .spawn(move || {
                    loop {
                        // The lock is held only while waiting, not while hashing.
                        let next = match rx.lock() {
                            Ok(r) => r.recv(),
                            Err(_) => return,
                        };
                        let Ok(job) = next else { return };
                        // A panic loses one answer (the caller sees `None`), not a thread.
                        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                    }
                });
            if let Err(e) = started {
                tracing::error!(error = %e, "a password hashing thread did not start");
            }
        }
        tx
    });
    let (tx, rx) = tokio::sync::oneshot::channel();
    queue
        .send(Box::new(move || {
            let _ = tx.send(job());
        }))
        .ok()?;
    rx.await.ok()
}

/// Verifies `password` against `hash` (the decoy when `None`) on a hashing thread, holding
/// `permit` until the hash is done.
async fn verify_password(
    permit: tokio::sync::SemaphorePermit<'static>,
    hash: Option<String>,
    password: String,
) -> bool {
    on_hasher(move || {
        let _permit = permit;
        VERIFICATIONS.fetch_add(1, Ordering::SeqCst);
        let hash = hash.as_deref().unwrap_or_else(|| decoy_hash());
        verify_in_place(hash, password.as_bytes())
    })
    .await
    .unwrap_or(false)
}

/// The most Argon2 memory a stored hash may ask for (KiB); ours ask for 19456.
const MAX_M_COST: u32 = 65_536;

/// `PasswordVerifier::verify_password`, but with the Argon2 blocks (19 MiB) kept per hashing
/// thread and reused: a fresh allocation per attempt is kept by the allocator anyway (measured:
/// resident memory grew 19 MiB with each of the first 18 sequential verifications).
fn verify_in_place(hash: &str, password: &[u8]) -> bool {
    thread_local! {
        static BLOCKS: std::cell::RefCell<Vec<argon2::Block>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    let Ok(h) = PasswordHash::new(hash) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (h.salt, h.hash) else {
        return false;
    };
    let (Ok(algorithm), Ok(params)) = (
        argon2::Algorithm::try_from(h.algorithm),
        argon2::Params::try_from(&h),
    ) else {
        return false;
    };
    let version = match h.version.map(argon2::Version::try_from).transpose() {
        Ok(v) => v.unwrap_or_default(),
        Err(_) => return false,
    };
    if params.m_cost() > MAX_M_COST {
        return false;
    }
    let mut salt_buf = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_buf) else {
        return false;
    };
    let mut out = vec![0u8; expected.len()];
    let argon = argon2::Argon2::new(algorithm, version, params.clone());
    let done = BLOCKS.with(|b| {
        let mut blocks = b.borrow_mut();
        if blocks.len() < params.block_count() {
            blocks.resize(params.block_count(), argon2::Block::default());
        }
        argon
            .hash_password_into_with_memory(
                password,
                salt,
                &mut out,
                &mut blocks[..params.block_count()],
            )
            .is_ok()
    });
    done && constant_time_eq(&out, expected.as_bytes())
}

fn role_of(row: &entity::Model) -> Result<Role, CoreError> {
    Ok(row.role.parse()?)
}

/// The second-factor step of this account is delayed (wrong codes; never permanent).
fn is_locked(row: &entity::Model, now: DateTime<Utc>) -> bool {
    row.locked_until.is_some_and(|t| t > now)
}

/// The delay that follows the `failures`-th consecutive failure of a bucket allowing `free`.
fn delay_after(failures: i32, free: i32) -> Option<Duration> {
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
fn blocked_until_after(count: Expr, free: i32, now: DateTime<Utc>) -> Expr {
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

const BUCKETS: &str = "staff_signin_buckets";

fn bucket_col(c: &'static str) -> Expr {
    Expr::col((BUCKETS, c))
}

/// Counts one failure on `bucket` before the password is verified, in one conditional
/// statement: refused (false) while the bucket is delayed, so N parallel guesses get at most
/// `free` verifications and never slip past.
async fn reserve(
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
async fn give_back(db: &impl ConnectionTrait, bucket: &[u8], free: i32) -> Result<(), CoreError> {
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
async fn clear_bucket(db: &impl ConnectionTrait, bucket: &[u8]) -> Result<(), CoreError> {
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
async fn bucket_delayed(
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
fn address_bucket(vault: &crate::vault::Vault, email_input: &str) -> Vec<u8> {
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

fn ip_bucket(vault: &crate::vault::Vault, client_ip: &str) -> Vec<u8> {
    vault.index("throttle/staff-ip", client_ip)
}

/// Counts one wrong second-factor code on the account's row, with the same growing delays
/// (one statement). The code step is only reached with the right password, so only someone
/// who has it can delay it.
async fn record_failure(
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
fn trusted_device(vault: &crate::vault::Vault, token: &str) -> Option<(i64, Vec<u8>)> {
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

async fn find_by_email(
    db: &impl ConnectionTrait,
    email: &Email,
) -> Result<Option<entity::Model>, CoreError> {
    Ok(entity::Entity::find()
        .filter(entity::Column::Email.eq(email.as_str()))
        .one(db)
        .await?)
}

fn new_totp_secret() -> Vec<u8> {
    let mut raw = vec![0u8; 20];
    rand::rngs::OsRng
        .try_fill_bytes(&mut raw)
        .expect("the operating system's random number generator");
    raw
}

fn totp(secret: Vec<u8>, issuer: &str, account: &str) -> TOTP {
    // ':' is the label separator of otpauth URLs; the salon name must not split it.
    let issuer = issuer.replace(':', " ");
    let account = account.replace(':', " ");
    TOTP::new_unchecked(
        Algorithm::SHA1,
        6,
        1,
        TOTP_STEP_SECS,
        secret,
        Some(issuer),
        account,
    )
}

/// The time step `code` belongs to (now, or one step either side for clock drift), if any.
fn matching_step(t: &TOTP, code: &str, now: DateTime<Utc>) -> Option<i64> {
    let code = code.trim();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let current = now.timestamp() / TOTP_STEP_SECS as i64;
    [current - 1, current, current + 1]
        .into_iter()
        .find(|step| {
            let expected = t.generate((*step as u64) * TOTP_STEP_SECS);
            constant_time_eq(expected.as_bytes(), code.as_bytes())
        })
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Step one: address and password, from a browser without a device token. See
/// [`sign_in_from`].
pub async fn sign_in_password(
    portal: &Portal,
    email_input: &str,
    password: &str,
    client_ip: &str,
    now: DateTime<Utc>,
) -> Result<Step, AuthError> {
    sign_in_from(portal, email_input, password, client_ip, None, now).await
}

/// Step one: address and password. Refuse before expensive work, and look the same for every
/// address:
///
/// - A browser with a genuine device token for this very account counts only on its own
///   bucket: nobody else's failures delay it.
/// - Any other attempt counts on the bucket of its client address (30 failures heard at once)
///   and on the bucket of the address typed (5). Both are reserved, in one conditional
///   statement each, before the hash; a delayed bucket is refused without hashing. The
///   typed-address bucket exists for unknown addresses too, so a refusal before the hash says
///   nothing about whether the account exists: unknown, wrong password, deactivated and
///   invited-only accounts all run one Argon2 verification (the decoy where there is no hash),
///   and delayed buckets none, whoever they belong to.
/// - The per-address budget only ever delays untrusted browsers: a member at the salon's
///   shared address, on a browser they signed in with before, still gets in after an attacker
///   there has spent it (and the delay is never permanent for anyone). The price, chosen on
///   purpose: a browser never used for this account, at a delayed client address, waits out
///   that delay (an hour at most) or signs in from elsewhere. A higher per-address ceiling
///   instead would still let anyone at the salon's address shut everyone out, only later.
/// - At most [`HASH_PERMITS`] hashes run at once; beyond a short wait the answer is
///   [`AuthError::Busy`] and the reservations are given back.
pub async fn sign_in_from(
    portal: &Portal,
    email_input: &str,
    password: &str,
    client_ip: &str,
    device: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Step, AuthError> {
    let (db, vault) = (&portal.db, &portal.vault);
    let email = Email::parse(email_input).ok();
    let row = match &email {
        Some(e) => find_by_email(db, e).await?,
        None => None,
    };
    let device = device
        .and_then(|d| trusted_device(vault, d))
        .filter(|(id, _)| row.as_ref().is_some_and(|r| r.id == *id));
    // (bucket, free failures, reset when the sign-in completes)
    let buckets: Vec<(Vec<u8>, i32, bool)> = match device {
        Some((_, b)) => vec![(b, FREE_FAILURES, true)],
        None => vec![
            (ip_bucket(vault, client_ip), FREE_FAILURES_PER_IP, false),
            (address_bucket(vault, email_input), FREE_FAILURES, true),
        ],
    };
    let give_all_back = |upto: usize| {
        let buckets = &buckets;
        async move {
            for (b, free, _) in &buckets[..upto] {
                give_back(db, b, *free).await?;
            }
            Ok::<(), CoreError>(())
        }
    };
    for (i, (b, free, _)) in buckets.iter().enumerate() {
        if !reserve(db, b, *free, now).await? {
            // Never heard: the buckets counted before this one get their failure back.
            give_all_back(i).await?;
            return Err(AuthError::Delayed);
        }
    }
    let Some(permit) = hashing_permit().await else {
        give_all_back(buckets.len()).await?;
        return Err(AuthError::Busy);
    };
    let hash = row.as_ref().and_then(|r| r.password_hash.clone());
    let typed: String = password.chars().take(MAX_PASSWORD_CHARS).collect();
    let right = verify_password(permit, hash.clone(), typed).await;
    // Re-read after the hash: a deactivation, a new password or an unlock during it wins.
    let row = match (&row, right) {
        (Some(r), true) => entity::Entity::find_by_id(r.id).one(db).await?,
        _ => None,
    };
    let Some(row) =
        row.filter(|r| r.active && r.password_hash.is_some() && r.password_hash == hash)
    else {
        // The reservations stand as the failures they are.
        return Err(AuthError::Failed);
    };
    let role = role_of(&row)?;
    let done = row.totp_secret_sealed.is_none() && role != Role::PrivacyOfficer;
    for (b, free, reset) in &buckets {
        if done && *reset {
            clear_bucket(db, b).await?;
        } else {
            // A right password is no failure; with a second factor still to come, the
            // account's count is cleared only by the right code.
            give_back(db, b, *free).await?;
        }
    }
    if done {
        return Ok(Step::Done { staff: row.id });
    }
    let tx = db.begin().await?;
    let issued = issue_for(&tx, vault, Owner::Staff(row.id), Purpose::StaffStep, now).await?;
    let step = if row.totp_secret_sealed.is_some() {
        Step::Code {
            pending: issued.token,
        }
    } else {
        attach_new_secret(&tx, vault, issued.id).await?;
        Step::Enrol {
            pending: issued.token,
        }
    };
    tx.commit().await?;
    Ok(step)
}

async fn reset_failures(db: &impl ConnectionTrait, staff: i64) -> Result<(), CoreError> {
    db.execute(
        &Query::update()
            .table("staff")
            .value("failed_sign_ins", 0)
            .value("locked_until", Option::<DateTime<Utc>>::None)
            .and_where(Expr::col("id").eq(staff))
            .to_owned(),
    )
    .await?;
    Ok(())
}

/// An open second-factor step, found by the cookie's token.
struct OpenStep {
    id: i64,
    staff: entity::Model,
    pending_secret: Option<zeroize::Zeroizing<Vec<u8>>>,
}

async fn open_step(
    portal: &Portal,
    pending: &str,
    now: DateTime<Utc>,
) -> Result<Option<OpenStep>, AuthError> {
    if pending.len() != 43 {
        return Ok(None);
    }
    let q = Query::select()
        .columns(["id", "staff_id", "target_sealed"])
        .from("one_time_tokens")
        .and_where(Expr::col("token_hash").eq(token_hash(pending)))
        .cond_where(usable(Purpose::StaffStep, now))
        .to_owned();
    let Some(r) = portal.db.query_one(&q).await? else {
        return Ok(None);
    };
    let id: i64 = r.try_get("", "id")?;
    let Some(staff_id): Option<i64> = r.try_get("", "staff_id")? else {
        return Ok(None);
    };
    let sealed: Option<Vec<u8>> = r.try_get("", "target_sealed")?;
    let Some(staff) = entity::Entity::find_by_id(staff_id).one(&portal.db).await? else {
        return Ok(None);
    };
    if !staff.active || is_locked(&staff, now) {
        return Ok(None);
    }
    let pending_secret = match sealed {
        Some(s) => Some(
            vault::open(portal.vault.system_key(), PENDING_SECRET, id, &s)
                .map_err(CoreError::from)?,
        ),
        None => None,
    };
    Ok(Some(OpenStep {
        id,
        staff,
        pending_secret,
    }))
}

/// What the enrolment page shows: the secret as a QR code and as text, for an authenticator app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enrolment {
    /// `otpauth://totp/...` URL.
    pub url: String,
    /// The secret in base32, for typing in by hand.
    pub secret_base32: String,
    /// The URL as an SVG QR code (drawn on the server; no script needed).
    pub qr_svg: String,
}

/// The secret waiting in an enrolment step, for the page that shows it. Spends nothing.
pub async fn enrolment(
    portal: &Portal,
    pending: &str,
    now: DateTime<Utc>,
) -> Result<Option<Enrolment>, AuthError> {
    let Some(step) = open_step(portal, pending, now).await? else {
        return Ok(None);
    };
    let Some(secret) = step.pending_secret else {
        return Ok(None);
    };
    let t = totp(
        secret.to_vec(),
        &portal.settings.salon_name,
        &step.staff.email,
    );
    let url = t.get_url();
    let qr_svg = qrcode::QrCode::new(url.as_bytes())
        .map_err(|e| CoreError::internal("totp.qr", e))?
        .render::<qrcode::render::svg::Color>()
        .min_dimensions(200, 200)
        .build();
    Ok(Some(Enrolment {
        url,
        secret_base32: t.get_secret_base32(),
        qr_svg,
    }))
}

/// Step two: the TOTP code (or, when enrolling, the first code from the new secret, which is
/// then stored sealed). The step is spent by one conditional UPDATE; a code is accepted once.
pub async fn sign_in_code(
    portal: &Portal,
    pending: &str,
    code: &str,
    now: DateTime<Utc>,
) -> Result<i64, AuthError> {
    let Some(step) = open_step(portal, pending, now).await? else {
        return Err(AuthError::Failed);
    };
    let db = &portal.db;
    let staff = step.staff.id;
    let secret = match (&step.pending_secret, &step.staff.totp_secret_sealed) {
        (Some(new), _) => new.to_vec(),
        (None, Some(sealed)) => vault::open(portal.vault.system_key(), TOTP_SECRET, staff, sealed)
            .map_err(CoreError::from)?
            .to_vec(),
        (None, None) => return Err(AuthError::Failed),
    };
    let t = totp(
        secret.clone(),
        &portal.settings.salon_name,
        &step.staff.email,
    );
    // Replay is judged per secret: a new secret's first code may share a time step with the
    // old secret's last one (a replacement spends a code of the old secret just before).
    let enrolling = step.pending_secret.is_some();
    let fresh_step = matching_step(&t, code, now)
        .filter(|s| enrolling || step.staff.totp_last_step.is_none_or(|last| *s > last));
    let Some(matched) = fresh_step else {
        let tx = db.begin().await?;
        tx.execute(
            &Query::update()
                .table("one_time_tokens")
                .value("failed_attempts", Expr::col("failed_attempts").add(1))
                .and_where(Expr::col("id").eq(step.id))
                .to_owned(),
        )
        .await?;
        record_failure(&tx, staff, now).await?;
        tx.commit().await?;
        return Err(AuthError::WrongCode);
    };
    let tx = db.begin().await?;
    let mut spend = Query::update()
        .table("one_time_tokens")
        .value("used_at", now)
        .and_where(Expr::col("id").eq(step.id))
        .to_owned();
    spend.cond_where(usable(Purpose::StaffStep, now));
    // Both conditional: of two racing requests with the same code, one wins.
    let mut remember = Query::update()
        .table("staff")
        .value("totp_last_step", matched)
        .value("failed_sign_ins", 0)
        .value("locked_until", Option::<DateTime<Utc>>::None)
        .and_where(Expr::col("id").eq(staff))
        .to_owned();
    if !enrolling {
        remember.cond_where(
            sea_orm::sea_query::Condition::any()
                .add(Expr::col("totp_last_step").is_null())
                .add(Expr::col("totp_last_step").lt(matched)),
        );
    }
    if enrolling {
        remember.value(
            "totp_secret_sealed",
            vault::seal(portal.vault.system_key(), TOTP_SECRET, staff, &secret),
        );
    }
    if tx.execute(&spend).await?.rows_affected() != 1
        || tx.execute(&remember).await?.rows_affected() != 1
    {
        return Err(AuthError::Failed);
    }
    // Both factors right: the account's typed-address delays start again.
    clear_bucket(&tx, &address_bucket(&portal.vault, &step.staff.email)).await?;
    if enrolling {
        // A new second factor: audited, and the member told, with the change itself.
        let replaced = step.staff.totp_secret_sealed.is_some();
        let entry = crate::audit::Entry {
            actor: crate::audit::Actor::Staff {
                id: staff,
                role: role_of(&step.staff)?,
            },
            action: crate::access::Action::SetSecondFactor,
            subject: Some(("staff", staff)),
            reason: None,
        };
        crate::audit::append(&tx, &entry, now).await?;
        let to = Email::parse(&step.staff.email).map_err(|_| CoreError::Invalid("staff.email"))?;
        let mail =
            crate::mail::staff_second_factor_changed(to, &portal.settings.salon_name, replaced);
        portal
            .enqueue_mail(&tx, None, "staff_second_factor", &mail)
            .await?;
    }
    tx.commit().await?;
    if enrolling {
        portal.outbox.notify();
    }
    Ok(staff)
}

/// Starts setting up (or replacing) a second factor for a signed-in member of staff; returns
/// the pending token for the enrolment page. When one is set up already, `current_code` must
/// be a fresh code from it: a live session alone (a browser left open, a stolen cookie) cannot
/// swap it for the thief's. That code is spent, and a wrong one counts as a second-factor
/// failure ([`AuthError::WrongCode`]; nothing changes). The change itself happens, audited
/// and mailed, when the first code of the new secret is confirmed ([`sign_in_code`]).
pub async fn start_enrolment(
    portal: &Portal,
    staff: i64,
    current_code: Option<&str>,
    now: DateTime<Utc>,
) -> Result<String, AuthError> {
    let row = entity::Entity::find_by_id(staff)
        .one(&portal.db)
        .await?
        .filter(|r| r.active)
        .ok_or(AuthError::Failed)?;
    let tx = portal.db.begin().await?;
    if let Some(sealed) = &row.totp_secret_sealed {
        if is_locked(&row, now) {
            return Err(AuthError::Delayed);
        }
        let secret = vault::open(portal.vault.system_key(), TOTP_SECRET, staff, sealed)
            .map_err(CoreError::from)?;
        let t = totp(secret.to_vec(), &portal.settings.salon_name, &row.email);
        let fresh = current_code
            .and_then(|c| matching_step(&t, c, now))
            .filter(|s| row.totp_last_step.is_none_or(|last| *s > last));
        let Some(matched) = fresh else {
            record_failure(&tx, staff, now).await?;
            tx.commit().await?;
            return Err(AuthError::WrongCode);
        };
        // Spent, conditionally: of two requests with the same code, one wins.
        let mut remember = Query::update()
            .table("staff")
            .value("totp_last_step", matched)
            .and_where(Expr::col("id").eq(staff))
            .to_owned();
        remember.cond_where(
            sea_orm::sea_query::Condition::any()
                .add(Expr::col("totp_last_step").is_null())
                .add(Expr::col("totp_last_step").lt(matched)),
        );
        if tx.execute(&remember).await?.rows_affected() != 1 {
            return Err(AuthError::WrongCode);
        }
    }
    let issued = issue_for(
        &tx,
        &portal.vault,
        Owner::Staff(staff),
        Purpose::StaffStep,
        now,
    )
    .await?;
    attach_new_secret(&tx, &portal.vault, issued.id).await?;
    tx.commit().await?;
    Ok(issued.token)
}

/// Gives a pending enrolment token a fresh TOTP secret, sealed to that token's row, so the
/// secret the page shows is the one the confirming code is checked against.
async fn attach_new_secret(
    tx: &impl ConnectionTrait,
    vault: &crate::vault::Vault,
    token: i64,
) -> Result<(), CoreError> {
    let sealed = vault::seal(
        vault.system_key(),
        PENDING_SECRET,
        token,
        &new_totp_secret(),
    );
    tx.execute(
        &Query::update()
            .table("one_time_tokens")
            .value("target_sealed", sealed)
            .and_where(Expr::col("id").eq(token))
            .to_owned(),
    )
    .await?;
    Ok(())
}

/// Seals a TOTP secret for `staff` the way enrolment stores it (the demo salon uses this).
pub fn seal_totp_secret(vault: &crate::vault::Vault, staff: i64, secret: &[u8]) -> Vec<u8> {
    vault::seal(vault.system_key(), TOTP_SECRET, staff, secret)
}

/// The current TOTP code for a sealed secret; for tests and the demo's printed instructions.
pub fn current_code(secret: &[u8], now: DateTime<Utc>) -> String {
    totp(secret.to_vec(), "x", "x").generate(now.timestamp() as u64)
}

/// The staff member behind a session, re-read on every request: deactivated staff and changed
/// roles take effect at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// `staff.id`.
    pub id: i64,
    /// Display name.
    pub name: String,
    /// Current role.
    pub role: Role,
    /// Whether a second factor is set up.
    pub has_totp: bool,
}

/// The active staff member `id`, or `None` when deactivated or gone.
pub async fn member(db: &impl ConnectionTrait, id: i64) -> Result<Option<Member>, CoreError> {
    let Some(row) = entity::Entity::find_by_id(id).one(db).await? else {
        return Ok(None);
    };
    if !row.active {
        return Ok(None);
    }
    Ok(Some(Member {
        id: row.id,
        name: row.name.clone(),
        role: role_of(&row)?,
        has_totp: row.totp_secret_sealed.is_some(),
    }))
}

/// Deactivates a staff member: their sessions end at their next request.
pub async fn deactivate(
    db: &impl ConnectionTrait,
    staff: i64,
    now: DateTime<Utc>,
) -> Result<(), CoreError> {
    let q = Query::update()
        .table("staff")
        .value("active", false)
        .value("updated_at", now)
        .and_where(Expr::col("id").eq(staff))
        .to_owned();
    if db.execute(&q).await?.rows_affected() != 1 {
        return Err(CoreError::NotFound);
    }
    crate::sessions::end_all(db, crate::sessions::Subject::Staff(staff), now).await?;
    Ok(())
}

/// Changes a staff member's role; it applies from their next request. Becoming privacy
/// officer ends their sessions: that role requires a second factor, which they are asked for
/// (or to set up) when they sign in again.
pub async fn set_role(
    db: &impl ConnectionTrait,
    staff: i64,
    role: Role,
    now: DateTime<Utc>,
) -> Result<(), CoreError> {
    let before = entity::Entity::find_by_id(staff)
        .one(db)
        .await?
        .ok_or(CoreError::NotFound)?;
    if role == Role::PrivacyOfficer && role_of(&before)? != Role::PrivacyOfficer {
        crate::sessions::end_all(db, crate::sessions::Subject::Staff(staff), now).await?;
    }
    let q = Query::update()
        .table("staff")
        .value("role", role.as_str())
        .value("updated_at", now)
        .and_where(Expr::col("id").eq(staff))
        .to_owned();
    if db.execute(&q).await?.rows_affected() != 1 {
        return Err(CoreError::NotFound);
    }
    Ok(())
}

/// Lifts every delay of an account (its typed-address bucket and its second-factor step) after
/// the privacy officer has checked with the person. `NotFound` for no such account.
pub async fn unlock(
    db: &impl ConnectionTrait,
    vault: &crate::vault::Vault,
    staff: i64,
) -> Result<(), CoreError> {
    let row = entity::Entity::find_by_id(staff)
        .one(db)
        .await?
        .ok_or(CoreError::NotFound)?;
    clear_bucket(db, &address_bucket(vault, &row.email)).await?;
    reset_failures(db, staff).await
}

/// [`unlock`] by work address, with its audit row in the same transaction (the `portal staff
/// unlock EMAIL` command); the account's id, or `NotFound`.
pub async fn unlock_by_email(
    portal: &Portal,
    email: &Email,
    actor: crate::audit::Actor,
    now: DateTime<Utc>,
) -> Result<i64, CoreError> {
    let tx = crate::db::begin_write(&portal.db).await?;
    let row = find_by_email(&tx, email)
        .await?
        .ok_or(CoreError::NotFound)?;
    unlock(&tx, &portal.vault, row.id).await?;
    let entry = crate::audit::Entry {
        actor,
        action: crate::access::Action::ManageStaff,
        subject: Some(("staff", row.id)),
        reason: Some("unlock"),
    };
    crate::audit::append(&tx, &entry, now).await?;
    tx.commit().await?;
    Ok(row.id)
}

/// An invitation: a new account without a password, and a single-use 24-hour link to set one.
pub struct Invitation {
    /// The new account.
    pub staff: i64,
    /// The link token (mailed, never stored).
    pub token: String,
}

/// Creates the account and the invitation token (the caller mails the link).
pub async fn invite(
    db: &(impl ConnectionTrait + TransactionTrait),
    vault: &crate::vault::Vault,
    email: &Email,
    name: &StaffName,
    role: Role,
    now: DateTime<Utc>,
) -> Result<Invitation, CoreError> {
    if find_by_email(db, email).await?.is_some() {
        return Err(super::Refusal::Exists.into());
    }
    let tx = db.begin().await?;
    let row = entity::ActiveModel {
        email: Set(email.as_str().to_owned()),
        name: Set(name.0.clone()),
        role: Set(role.as_str().to_owned()),
        password_hash: Set(None),
        active: Set(true),
        failed_sign_ins: Set(0),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&tx)
    .await?;
    let issued = issue_for(&tx, vault, Owner::Staff(row.id), Purpose::StaffInvite, now).await?;
    tx.commit().await?;
    Ok(Invitation {
        staff: row.id,
        token: issued.token,
    })
}

/// The invited person's name, without spending the link (for the page GET shows).
pub async fn peek_invitation(
    db: &impl ConnectionTrait,
    token: &str,
    now: DateTime<Utc>,
) -> Result<Option<String>, CoreError> {
    Ok(invited(db, token, now).await?.map(|r| r.name))
}

async fn invited(
    db: &impl ConnectionTrait,
    token: &str,
    now: DateTime<Utc>,
) -> Result<Option<entity::Model>, CoreError> {
    if token.len() != 43 {
        return Ok(None);
    }
    let q = Query::select()
        .column("staff_id")
        .from("one_time_tokens")
        .and_where(Expr::col("token_hash").eq(token_hash(token)))
        .cond_where(usable(Purpose::StaffInvite, now))
        .to_owned();
    let Some(r) = db.query_one(&q).await? else {
        return Ok(None);
    };
    let Some(id): Option<i64> = r.try_get("", "staff_id")? else {
        return Ok(None);
    };
    Ok(entity::Entity::find_by_id(id)
        .one(db)
        .await?
        .filter(|s| s.active))
}

/// Sets the first password through an invitation link; the link is spent by one conditional
/// UPDATE in the same transaction, so it works once.
pub async fn accept_invitation(
    db: &(impl ConnectionTrait + TransactionTrait),
    token: &str,
    password: &str,
    salon_name: &str,
    now: DateTime<Utc>,
) -> Result<i64, AuthError> {
    let Some(row) = invited(db, token, now).await? else {
        return Err(AuthError::Failed);
    };
    check_new_password(password, &[&row.name, &row.email], &[salon_name])?;
    let password = password.to_owned();
    // Holders of a valid link only, but the same bound on concurrent hashes applies.
    let permit = HASHING.acquire().await.map_err(|_| AuthError::Busy)?;
    let hash = on_hasher(move || {
        let _permit = permit;
        hash_password(&password)
    })
    .await
    .ok_or(AuthError::Failed)?;
    let tx = db.begin().await?;
    let mut spend = Query::update()
        .table("one_time_tokens")
        .value("used_at", now)
        .and_where(Expr::col("token_hash").eq(token_hash(token)))
        .to_owned();
    spend.cond_where(usable(Purpose::StaffInvite, now));
    if tx.execute(&spend).await?.rows_affected() != 1 {
        return Err(AuthError::Failed);
    }
    tx.execute(
        &Query::update()
            .table("staff")
            .value("password_hash", hash)
            .value("updated_at", now)
            .and_where(Expr::col("id").eq(row.id))
            .to_owned(),
    )
    .await?;
    tx.commit().await?;
    Ok(row.id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_common_and_personal_passwords_are_refused_and_long_unusual_ones_pass() {
        assert_eq!(
            check_new_password("Tr0ub4dor&3", &[], &[]),
            Err(PasswordProblem::TooShort)
        );
        for common in [
            "password1234",
            "123456789012",
            "qwertyuiop123",
            "iloveyou1234",
        ] {
            assert_eq!(
                check_new_password(common, &[], &[]),
                Err(PasswordProblem::TooCommon),
                "{common}"
            );
        }
        assert_eq!(
            check_new_password("wangfang2026!", &["王芳", "wang.fang@salon.example"], &[]),
            Err(PasswordProblem::TooCommon)
        );
        assert_eq!(
            check_new_password(&"x".repeat(129), &[], &[]),
            Err(PasswordProblem::TooLong)
        );
        assert!(
            check_new_password(
                "correct horse battery staple",
                &["王芳", "wang.fang@salon.example"],
                &["Demo Salon"]
            )
            .is_ok()
        );
        assert!(check_new_password("剪刀 吹风机 镜子 2026", &[], &[]).is_ok());
    }

    #[test]
    fn verifying_in_place_accepts_the_right_password_only_and_refuses_odd_hashes() {
        let h = hash_password("correct horse battery");
        for _ in 0..2 {
            assert!(verify_in_place(&h, b"correct horse battery"));
            assert!(!verify_in_place(&h, b"correct horse batterz"));
        }
        assert!(!verify_in_place("not a hash", b"x"));
        // A stored hash asking for a gigabyte is refused, not allocated.
        let greedy = h.replace("m=19456", "m=1048576");
        assert!(!verify_in_place(&greedy, b"correct horse battery"));
    }

    #[test]
    fn delays_double_from_one_minute_after_the_free_failures_and_stop_at_an_hour() {
        assert_eq!(delay_after(4, 5), None);
        let minutes: Vec<i64> = (5..14)
            .map(|f| delay_after(f, 5).map(|d| d.num_minutes()).unwrap_or(0))
            .collect();
        assert_eq!(minutes, vec![1, 2, 4, 8, 16, 32, 60, 60, 60]);
    }

    #[test]
    fn a_totp_code_matches_its_own_step_and_one_either_side_only() {
        let secret = new_totp_secret();
        let t = totp(secret.clone(), "Demo: Salon", "a@b.example");
        let now = Utc::now();
        let code = current_code(&secret, now);
        let step = now.timestamp() / 30;
        assert_eq!(matching_step(&t, &code, now), Some(step));
        assert_eq!(
            matching_step(&t, &code, now + Duration::seconds(30)),
            Some(step)
        );
        assert_eq!(matching_step(&t, &code, now + Duration::seconds(95)), None);
        assert_eq!(matching_step(&t, "12345", now), None);
        assert_eq!(matching_step(&t, "abcdef", now), None);
        assert!(t.get_url().starts_with("otpauth://totp/"));
    }
}

/// A staff account as the privacy officer's list shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// `staff.id`.
    pub id: i64,
    /// Display name.
    pub name: String,
    /// Work address.
    pub email: String,
    /// Current role.
    pub role: Role,
    /// False once deactivated.
    pub active: bool,
    /// Whether a second factor is set up.
    pub has_totp: bool,
    /// Delayed by failed sign-ins right now (from untrusted browsers, or wrong codes).
    pub locked: bool,
    /// Invited, password not yet set.
    pub pending: bool,
}

/// Every staff account, by name.
pub async fn accounts(
    db: &impl ConnectionTrait,
    vault: &crate::vault::Vault,
    now: DateTime<Utc>,
) -> Result<Vec<Account>, CoreError> {
    use sea_orm::QueryOrder;
    let rows = entity::Entity::find()
        .order_by_asc(entity::Column::Id)
        .all(db)
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let locked =
            is_locked(&r, now) || bucket_delayed(db, &address_bucket(vault, &r.email), now).await?;
        out.push(Account {
            id: r.id,
            role: role_of(&r)?,
            active: r.active,
            has_totp: r.totp_secret_sealed.is_some(),
            locked,
            pending: r.password_hash.is_none(),
            name: r.name,
            email: r.email,
        });
    }
    Ok(out)
}
