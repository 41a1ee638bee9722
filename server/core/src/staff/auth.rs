//! Staff sign-in: password (Argon2id), throttles and lock-out, TOTP second factor (required for
//! the privacy officer), invitations by email, deactivation. security.md, "Staff".

use std::sync::OnceLock;

use argon2::{PasswordHash, PasswordVerifier};
use chrono::{DateTime, Duration, Utc};
use rand::TryRngCore;
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, TransactionSession, TransactionTrait,
    sea_query::{Expr, ExprTrait, Query},
};
use totp_rs::{Algorithm, TOTP};

use super::{Role, StaffName, entity, hash_password, hasher};
use crate::{
    CoreError, Portal,
    email::Email,
    signin::{Owner, Purpose, issue_for, throttle, token_hash, usable},
    vault::{self, Field},
};

/// Shortest password accepted (security.md).
pub const MIN_PASSWORD_CHARS: usize = 12;
/// Longest password accepted (Argon2 cost stays bounded).
pub const MAX_PASSWORD_CHARS: usize = 128;
/// Every this many consecutive failures locks the account for [`LOCK_FOR`].
pub const LOCK_EVERY: i32 = 5;
/// How long a temporary lock lasts.
pub const LOCK_FOR: Duration = Duration::minutes(15);
/// At this many consecutive failures the account stays locked until the privacy officer
/// unlocks it (security.md: no more than 100 failures per account).
pub const HARD_LOCK_AT: i32 = 50;
/// Sign-in attempts per client address per 15 minutes, whatever the account.
pub const PER_IP: throttle::Limit = throttle::Limit {
    max: 30,
    window: Duration::minutes(15),
};

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
    /// Wrong address or password, locked, deactivated, throttled, or a spent/expired step.
    #[error("sign-in failed")]
    Failed,
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
fn decoy_hash() -> &'static str {
    static DECOY: OnceLock<String> = OnceLock::new();
    DECOY.get_or_init(|| hash_password("decoy password that matches nothing"))
}

async fn verify_password(hash: String, password: String) -> bool {
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&hash)
            .map(|h| hasher().verify_password(password.as_bytes(), &h).is_ok())
            .unwrap_or(false)
    })
    .await
    .unwrap_or(false)
}

fn role_of(row: &entity::Model) -> Result<Role, CoreError> {
    row.role.parse()
}

fn is_locked(row: &entity::Model, now: DateTime<Utc>) -> bool {
    row.failed_sign_ins >= HARD_LOCK_AT || row.locked_until.is_some_and(|t| t > now)
}

/// Counts one failure; locks for 15 minutes on every 5th in a row.
async fn record_failure(
    db: &impl ConnectionTrait,
    staff: i64,
    now: DateTime<Utc>,
) -> Result<(), CoreError> {
    let bump = Query::update()
        .table("staff")
        .value("failed_sign_ins", Expr::col("failed_sign_ins").add(1))
        .and_where(Expr::col("id").eq(staff))
        .to_owned();
    db.execute(&bump).await?;
    let lock = Query::update()
        .table("staff")
        .value("locked_until", now + LOCK_FOR)
        .and_where(Expr::col("id").eq(staff))
        .and_where(Expr::col("failed_sign_ins").modulo(LOCK_EVERY).eq(0))
        .to_owned();
    db.execute(&lock).await?;
    tracing::info!(staff, "staff sign-in failure recorded");
    Ok(())
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

/// Step one: address and password. Unknown addresses cost the same Argon2 run as known ones.
pub async fn sign_in_password(
    portal: &Portal,
    email_input: &str,
    password: &str,
    client_ip: &str,
    now: DateTime<Utc>,
) -> Result<Step, AuthError> {
    let (db, vault) = (&portal.db, &portal.vault);
    let within = throttle::hit(
        db,
        &vault.index("throttle/staff-ip", client_ip),
        PER_IP,
        now,
    )
    .await?;
    let email = Email::parse(email_input).ok();
    let row = match &email {
        Some(e) => find_by_email(db, e).await?,
        None => None,
    };
    let hash = row
        .as_ref()
        .and_then(|r| r.password_hash.clone())
        .unwrap_or_else(|| decoy_hash().to_owned());
    let right = verify_password(hash, password.chars().take(MAX_PASSWORD_CHARS).collect()).await;
    let Some(row) = row else {
        return Err(AuthError::Failed);
    };
    if !within || !row.active || is_locked(&row, now) || row.password_hash.is_none() {
        return Err(AuthError::Failed);
    }
    if !right {
        record_failure(db, row.id, now).await?;
        return Err(AuthError::Failed);
    }
    let role = role_of(&row)?;
    if row.totp_secret_sealed.is_none() && role != Role::PrivacyOfficer {
        reset_failures(db, row.id).await?;
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
        .map_err(|_| CoreError::Invalid("totp.qr"))?
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
    let fresh_step = matching_step(&t, code, now)
        .filter(|s| step.staff.totp_last_step.is_none_or(|last| *s > last));
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
    remember.cond_where(
        sea_orm::sea_query::Condition::any()
            .add(Expr::col("totp_last_step").is_null())
            .add(Expr::col("totp_last_step").lt(matched)),
    );
    if step.pending_secret.is_some() {
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
    tx.commit().await?;
    Ok(staff)
}

/// Starts setting up a second factor for a signed-in staff member (optional for roles other
/// than the privacy officer); returns the pending token for the enrolment page.
pub async fn start_enrolment(
    portal: &Portal,
    staff: i64,
    now: DateTime<Utc>,
) -> Result<String, AuthError> {
    let tx = portal.db.begin().await?;
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

/// Changes a staff member's role; it applies from their next request.
pub async fn set_role(
    db: &impl ConnectionTrait,
    staff: i64,
    role: Role,
    now: DateTime<Utc>,
) -> Result<(), CoreError> {
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

/// Lifts a lock (temporary or hard) after the privacy officer has checked with the person.
pub async fn unlock(db: &impl ConnectionTrait, staff: i64) -> Result<(), CoreError> {
    reset_failures(db, staff).await
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
        return Err(CoreError::Invalid("staff.exists"));
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
    let hash = tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|_| AuthError::Failed)?;
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
    /// Locked by failed sign-ins right now.
    pub locked: bool,
    /// Invited, password not yet set.
    pub pending: bool,
}

/// Every staff account, by name.
pub async fn accounts(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
) -> Result<Vec<Account>, CoreError> {
    use sea_orm::QueryOrder;
    entity::Entity::find()
        .order_by_asc(entity::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(|r| {
            Ok(Account {
                id: r.id,
                role: role_of(&r)?,
                active: r.active,
                has_totp: r.totp_secret_sealed.is_some(),
                locked: is_locked(&r, now),
                pending: r.password_hash.is_none(),
                name: r.name,
                email: r.email,
            })
        })
        .collect()
}
