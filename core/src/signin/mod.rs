//! One-time sign-in links and codes (security.md, "Sign-in by one-time link and code").
//!
//! A token is 256 bits from the OS RNG, sent URL-safe; only its SHA-256 is stored. The 6-digit code
//! in the same mail is stored as an HMAC bound to the token, compared in constant time, and burned
//! after 5 wrong tries. Both live 10 minutes, are spent once by one conditional UPDATE, and are
//! bound to their purpose; a newer token of the same purpose kills the older ones.

mod landing;
mod request;
pub mod throttle;

pub use crate::mail::sign_in_mail;
pub use landing::{HOME, landing};
pub use request::{Pending, RequestError, request_link, spend_code_for};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, KeyInit as _, Mac};
use rand::{Rng, TryRngCore};
use sea_orm::{
    ConnectionTrait, TransactionSession, TransactionTrait,
    sea_query::{Condition, Expr, ExprTrait, Query},
};
use sha2::{Digest, Sha256};

use crate::{CoreError, vault::Vault};

/// How long a link and its code stay valid.
pub const LIFETIME: Duration = Duration::minutes(10);
/// Wrong codes allowed before the code (and its link) is burned.
pub const MAX_CODE_TRIES: i32 = 5;

/// What a token may be spent on; a token of one purpose never serves another.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// Signing in.
    SignIn,
    /// Confirming a new email address.
    EmailChange,
    /// Downloading an export.
    ExportDownload,
    /// A staff invitation: set a password (24 hours).
    StaffInvite,
    /// The second-factor step of a staff sign-in, after the password (5 minutes).
    StaffStep,
}

impl Purpose {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::SignIn => "sign_in",
            Purpose::EmailChange => "email_change",
            Purpose::ExportDownload => "export",
            Purpose::StaffInvite => "staff_invite",
            Purpose::StaffStep => "staff_step",
        }
    }

    /// How long a token of this purpose lives.
    pub fn lifetime(self) -> Duration {
        match self {
            Purpose::StaffInvite => Duration::hours(24),
            Purpose::StaffStep => Duration::minutes(5),
            _ => LIFETIME,
        }
    }
}

/// Whom a token belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Owner {
    /// A customer (sign-in, email change, export download).
    Customer(i64),
    /// A member of staff (invitation, second-factor step).
    Staff(i64),
}

impl Owner {
    fn column(self) -> (&'static str, i64) {
        match self {
            Owner::Customer(id) => ("customer_id", id),
            Owner::Staff(id) => ("staff_id", id),
        }
    }
}

/// A freshly issued link token and code: sent by mail, never stored.
pub struct Issued {
    /// Row id, kept by the browser that asked so the code can be checked against this token.
    pub id: i64,
    /// The link token (43 URL-safe characters).
    pub token: String,
    /// The 6-digit code.
    pub code: String,
    /// When both stop working.
    pub expires_at: DateTime<Utc>,
}

impl std::fmt::Debug for Issued {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Issued {{ id: {}, .. }}", self.id)
    }
}

/// The outcome of spending a code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeOutcome {
    /// Right code: spent; the customer is signed in.
    Accepted(i64),
    /// Wrong code; this many tries are left.
    Wrong { tries_left: i32 },
    /// Expired, used, burned, superseded or of another purpose.
    Unusable,
    /// Too many wrong codes for this address today: only the link in the mail works now.
    UseLink,
}

pub(crate) fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// HMAC keyed with a subkey of the portal's own secret, so stored codes are useless without it.
fn code_hmac(vault: &Vault) -> Hmac<Sha256> {
    <Hmac<Sha256>>::new_from_slice(vault.subkey("sign-in-code").bytes())
        .expect("HMAC takes any key length")
}

fn code_mac(vault: &Vault, token_hash: &[u8], code: &str) -> Vec<u8> {
    let mut mac = code_hmac(vault);
    mac.update(token_hash);
    mac.update(code.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// Issues a token and code for `customer_id`, killing every older unused one of `purpose`.
pub async fn issue<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    vault: &Vault,
    customer_id: i64,
    purpose: Purpose,
    now: DateTime<Utc>,
) -> Result<Issued, CoreError> {
    issue_for(db, vault, Owner::Customer(customer_id), purpose, now).await
}

/// Issues a token and code for `owner`, killing every older unused one of `purpose`.
pub async fn issue_for<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    vault: &Vault,
    owner: Owner,
    purpose: Purpose,
    now: DateTime<Utc>,
) -> Result<Issued, CoreError> {
    let (owner_column, owner_id) = owner.column();
    let mut raw = [0u8; 32];
    rand::rngs::OsRng
        .try_fill_bytes(&mut raw)
        .expect("the operating system's random number generator");
    let token = URL_SAFE_NO_PAD.encode(raw);
    let code = format!("{:06}", rand::rng().random_range(0..1_000_000u32));
    let hash = token_hash(&token);
    let expires_at = now + purpose.lifetime();
    let tx = db.begin().await?;
    let kill = Query::update()
        .table("one_time_tokens")
        .value("expires_at", now)
        .and_where(Expr::col(owner_column).eq(owner_id))
        .and_where(Expr::col("purpose").eq(purpose.as_str()))
        .and_where(Expr::col("used_at").is_null())
        .and_where(Expr::col("expires_at").gt(now))
        .to_owned();
    tx.execute(&kill).await?;
    let insert = Query::insert()
        .into_table("one_time_tokens")
        .columns([
            "purpose",
            "token_hash",
            "code_mac",
            owner_column,
            "failed_attempts",
            "created_at",
            "expires_at",
        ])
        .values_panic([
            purpose.as_str().into(),
            hash.clone().into(),
            code_mac(vault, &hash, &code).into(),
            owner_id.into(),
            0i32.into(),
            now.into(),
            expires_at.into(),
        ])
        .returning_col("id")
        .to_owned();
    let id: i64 = tx
        .query_one(&insert)
        .await?
        .ok_or(CoreError::NotFound)?
        .try_get("", "id")?;
    tx.commit().await?;
    Ok(Issued {
        id,
        token,
        code,
        expires_at,
    })
}

/// The usable-token conditions, shared by every spend.
pub(crate) fn usable(purpose: Purpose, now: DateTime<Utc>) -> Condition {
    Condition::all()
        .add(Expr::col("purpose").eq(purpose.as_str()))
        .add(Expr::col("used_at").is_null())
        .add(Expr::col("expires_at").gt(now))
        .add(Expr::col("failed_attempts").lt(MAX_CODE_TRIES))
}

async fn customer_of(
    db: &impl ConnectionTrait,
    column: &'static str,
    value: sea_orm::Value,
) -> Result<Option<i64>, CoreError> {
    let q = Query::select()
        .column("customer_id")
        .from("one_time_tokens")
        .and_where(Expr::col(column).eq(value))
        .to_owned();
    Ok(match db.query_one(&q).await? {
        Some(row) => row.try_get("", "customer_id")?,
        None => None,
    })
}

/// Whether `token` has the shape of the tokens this portal issues (43 URL-safe base64
/// characters, 256 bits): anything else is refused before it reaches a query or a redirect.
pub fn well_formed_token(token: &str) -> bool {
    token.len() == 43
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Spends a link token: one conditional UPDATE, so of any number of concurrent attempts exactly
/// one gets the customer. Never call this on GET.
pub async fn spend_link(
    db: &impl ConnectionTrait,
    token: &str,
    purpose: Purpose,
    now: DateTime<Utc>,
) -> Result<Option<i64>, CoreError> {
    if token.len() != 43 {
        return Ok(None);
    }
    let hash = token_hash(token);
    let mut q = Query::update()
        .table("one_time_tokens")
        .value("used_at", now)
        .and_where(Expr::col("token_hash").eq(hash.clone()))
        .to_owned();
    q.cond_where(usable(purpose, now));
    if db.execute(&q).await?.rows_affected() != 1 {
        return Ok(None);
    }
    customer_of(db, "token_hash", hash.into()).await
}

/// Checks a code typed into the browser that asked (which kept the token's `id`).
pub async fn spend_code(
    db: &impl ConnectionTrait,
    vault: &Vault,
    id: i64,
    code: &str,
    purpose: Purpose,
    now: DateTime<Utc>,
) -> Result<CodeOutcome, CoreError> {
    let q = Query::select()
        .columns(["token_hash", "code_mac", "failed_attempts"])
        .from("one_time_tokens")
        .and_where(Expr::col("id").eq(id))
        .to_owned();
    let Some(row) = db.query_one(&q).await? else {
        return Ok(CodeOutcome::Unusable);
    };
    let hash: Vec<u8> = row.try_get("", "token_hash")?;
    let stored: Vec<u8> = row.try_get("", "code_mac")?;
    let code = code.trim();
    let well_formed = code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit());
    let mut mac = code_hmac(vault);
    mac.update(&hash);
    mac.update(code.as_bytes());
    // `verify_slice` compares in constant time.
    let right = well_formed && mac.verify_slice(&stored).is_ok();
    if right {
        let mut spend = Query::update()
            .table("one_time_tokens")
            .value("used_at", now)
            .and_where(Expr::col("id").eq(id))
            .to_owned();
        spend.cond_where(usable(purpose, now));
        if db.execute(&spend).await?.rows_affected() == 1 {
            return Ok(match customer_of(db, "id", id.into()).await? {
                Some(c) => CodeOutcome::Accepted(c),
                None => CodeOutcome::Unusable,
            });
        }
        return Ok(CodeOutcome::Unusable);
    }
    let mut burn = Query::update()
        .table("one_time_tokens")
        .value("failed_attempts", Expr::col("failed_attempts").add(1))
        .and_where(Expr::col("id").eq(id))
        .to_owned();
    burn.cond_where(usable(purpose, now));
    if db.execute(&burn).await?.rows_affected() != 1 {
        return Ok(CodeOutcome::Unusable);
    }
    let tries: i32 = row.try_get("", "failed_attempts")?;
    Ok(CodeOutcome::Wrong {
        tries_left: Ord::max(MAX_CODE_TRIES - tries - 1, 0),
    })
}

/// The customer a link would sign in, without spending it (for the page that GET shows).
pub async fn peek_link(
    db: &impl ConnectionTrait,
    token: &str,
    purpose: Purpose,
    now: DateTime<Utc>,
) -> Result<Option<i64>, CoreError> {
    if token.len() != 43 {
        return Ok(None);
    }
    let q = Query::select()
        .column("customer_id")
        .from("one_time_tokens")
        .and_where(Expr::col("token_hash").eq(token_hash(token)))
        .cond_where(usable(purpose, now))
        .to_owned();
    Ok(match db.query_one(&q).await? {
        Some(row) => row.try_get("", "customer_id")?,
        None => None,
    })
}
