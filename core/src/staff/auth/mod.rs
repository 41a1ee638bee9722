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

mod accounts;
mod invitations;
mod password;
mod throttle;
mod totp;

pub use accounts::*;
pub use invitations::*;
pub use password::*;
pub use throttle::*;
pub use totp::*;

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

fn role_of(row: &entity::Model) -> Result<Role, CoreError> {
    Ok(row.role.parse()?)
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
            crate::ops::refused(crate::ops::Throttle::StaffSignin);
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
            crate::ops::refused(crate::ops::Throttle::StaffSignin);
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
