//! Sessions (security.md, "Sessions"): a signed JWT names a server-side session row, so
//! sign-out, deactivation and deletion take effect on the very next request.
//!
//! One algorithm (HS256, key derived from the portal's own secret), `exp`, `iat`, `aud`, `iss` and
//! `jti` checked with an explicit leeway; 30 minutes idle and 12 hours absolute, for customers
//! and staff alike.

use chrono::{DateTime, Duration, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::TryRngCore;
use sea_orm::{
    ConnectionTrait,
    sea_query::{Expr, ExprTrait, Query},
};
use serde::{Deserialize, Serialize};

use crate::{CoreError, vault::Vault};

/// A session ends after this long without a request.
pub const IDLE: Duration = Duration::minutes(30);
/// A session ends this long after sign-in, whatever happens.
pub const ABSOLUTE: Duration = Duration::hours(12);
/// Sensitive actions (export download, deletion) want a sign-in younger than this at most
/// (`PORTAL_FRESH_SIGNIN_MINUTES` may ask for less).
pub const FRESH: Duration = Duration::minutes(10);
/// The last-seen time is written at most this often per session: a page used to write it on
/// every request (each a commit through SQLite's single writer). Idle expiry reads the written
/// time, so a session may end up to this much sooner than [`IDLE`] after its last request,
/// never later.
pub const TOUCH_EVERY: Duration = Duration::minutes(1);
/// Clock skew tolerated on `exp`/`iat`.
const LEEWAY_SECS: u64 = 30;
const AUDIENCE: &str = "salon-privacy-portal";

/// Who a session belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Subject {
    /// A customer, by id.
    Customer(i64),
    /// A staff member, by id.
    Staff(i64),
}

/// A live session, as resumed from its token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    /// The session row's id (the JWT's `jti`).
    pub id: String,
    /// Who is signed in.
    pub subject: Subject,
    /// When they signed in.
    pub created_at: DateTime<Utc>,
    /// What the subject's pages show, as of this request: see [`PageVersion`].
    pub page_version: PageVersion,
}

/// Two numbers that move whenever anything a customer's own pages show changes: theirs, and
/// the one for what every customer's pages show. Database triggers move them on every write
/// (migration `m20261208_000001_page_versions`), so a page rendered at one version may be served
/// again while both stand still. Read with the session, in the same query, at no extra cost.
/// A staff session carries the shared number only.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct PageVersion {
    /// The customer's number (0 for staff, or before their first write).
    pub own: i64,
    /// The number shared by every customer's pages.
    pub shared: i64,
}

impl Session {
    /// True when the sign-in is within `window` (the salon's setting, never more than
    /// [`FRESH`]) of `now`: recent enough for a sensitive action.
    pub fn is_fresh(&self, now: DateTime<Utc>, window: Duration) -> bool {
        now - self.created_at <= window.min(FRESH)
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    aud: String,
    iss: String,
    iat: i64,
    exp: i64,
    jti: String,
}

/// Signing and checking of session tokens.
#[derive(Clone)]
pub struct SessionKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    issuer: String,
}

impl SessionKeys {
    /// Keys derived from the portal's own secret; `issuer` is the public origin.
    pub fn new(vault: &Vault, issuer: &str) -> Result<Self, CoreError> {
        let key = vault.subkey("session-jwt");
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = LEEWAY_SECS;
        validation.set_audience(&[AUDIENCE]);
        validation.set_issuer(&[issuer]);
        validation.set_required_spec_claims(&["exp", "iat", "aud", "iss", "sub", "jti"]);
        validation.validate_exp = true;
        let bad = |e| CoreError::internal("session.key", e);
        Ok(Self {
            encoding: EncodingKey::from_secret(key.bytes()).map_err(bad)?,
            decoding: DecodingKey::from_secret(key.bytes()).map_err(bad)?,
            validation,
            issuer: issuer.to_owned(),
        })
    }
}

fn subject_parts(s: Subject) -> (&'static str, Option<i64>, Option<i64>, String) {
    match s {
        Subject::Customer(id) => ("customer", Some(id), None, format!("customer:{id}")),
        Subject::Staff(id) => ("staff", None, Some(id), format!("staff:{id}")),
    }
}

/// Starts a session; returns the signed token for the cookie.
pub async fn start(
    db: &impl ConnectionTrait,
    keys: &SessionKeys,
    subject: Subject,
    now: DateTime<Utc>,
) -> Result<String, CoreError> {
    let mut raw = [0u8; 16];
    rand::rngs::OsRng
        .try_fill_bytes(&mut raw)
        .expect("the operating system's random number generator");
    let jti: String = raw.iter().map(|b| format!("{b:02x}")).collect();
    let (kind, customer, staff, sub) = subject_parts(subject);
    let expires = now + ABSOLUTE;
    let insert = Query::insert()
        .into_table("sessions")
        .columns([
            "id",
            "subject_kind",
            "customer_id",
            "staff_id",
            "created_at",
            "last_seen_at",
            "expires_at",
        ])
        .values_panic([
            jti.clone().into(),
            kind.into(),
            customer.into(),
            staff.into(),
            now.into(),
            now.into(),
            expires.into(),
        ])
        .to_owned();
    db.execute(&insert).await?;
    if let Some(id) = customer {
        // A sign-in is activity: retention counts it, as its notice tells the customer.
        db.execute(
            &Query::update()
                .table("customers")
                .value("last_signed_in_at", now)
                .and_where(Expr::col("id").eq(id))
                .to_owned(),
        )
        .await?;
    }
    let claims = Claims {
        sub,
        aud: AUDIENCE.into(),
        iss: keys.issuer.clone(),
        iat: now.timestamp(),
        exp: expires.timestamp(),
        jti,
    };
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &keys.encoding)
        .map_err(|e| CoreError::internal("session.sign", e))
}

/// Whether `token` names a session that ended because its customer was erased (the next page
/// then says so, instead of a silent sign-in form). Only a token this portal signed counts.
pub async fn ended_by_erasure(
    db: &impl ConnectionTrait,
    keys: &SessionKeys,
    token: &str,
) -> Result<bool, CoreError> {
    if token.len() > 2048 {
        return Ok(false);
    }
    let Ok(data) = jsonwebtoken::decode::<Claims>(token, &keys.decoding, &keys.validation) else {
        return Ok(false);
    };
    let select = Query::select()
        .column("subject_kind")
        .from("sessions")
        .and_where(Expr::col("id").eq(data.claims.jti))
        .to_owned();
    Ok(match db.query_one(&select).await? {
        Some(row) => row.try_get::<String>("", "subject_kind")? == ERASED,
        None => false,
    })
}

/// The `subject_kind` of a session whose customer was erased: kept, revoked and cut from the
/// customer, until the sweep (a day), so that the next page can say why it ended.
pub const ERASED: &str = "erased";

/// The live session a token names, or `None` for any token that is forged, expired, revoked,
/// idle too long, or of another audience or issuer. Touches the session's last-seen time when
/// it is [`TOUCH_EVERY`] old or older.
pub async fn resume(
    db: &impl ConnectionTrait,
    keys: &SessionKeys,
    token: &str,
    now: DateTime<Utc>,
) -> Result<Option<Session>, CoreError> {
    let Some((session, touch)) = look_up(db, keys, token, now).await? else {
        return Ok(None);
    };
    if let Some(touch) = touch {
        db.execute(&touch).await?;
    }
    Ok(Some(session))
}

/// [`resume`] on the portal's database, the touch through its group commit: a page whose
/// session is due a touch waits for the writer's next batch, never for SQLite's lock (a touch
/// that met a busy writer used to sleep in the busy handler, up to hundreds of milliseconds).
pub async fn resume_in(
    portal: &crate::Portal,
    token: &str,
    now: DateTime<Utc>,
) -> Result<Option<Session>, CoreError> {
    let Some((session, touch)) = look_up(&portal.db, &portal.session_keys, token, now).await?
    else {
        return Ok(None);
    };
    if let Some(touch) = touch {
        // One statement whose only failures are the database's: no savepoint needed.
        portal
            .writer
            .write_plain(Box::new(move |tx| {
                Box::pin(async move {
                    tx.execute(&touch).await?;
                    Ok(())
                })
            }))
            .await?;
    }
    Ok(Some(session))
}

/// The live session `token` names, and the touch of its last-seen time when one is due.
async fn look_up(
    db: &impl ConnectionTrait,
    keys: &SessionKeys,
    token: &str,
    now: DateTime<Utc>,
) -> Result<Option<(Session, Option<sea_orm::sea_query::UpdateStatement>)>, CoreError> {
    if token.len() > 2048 {
        return Ok(None);
    }
    let Ok(data) = jsonwebtoken::decode::<Claims>(token, &keys.decoding, &keys.validation) else {
        return Ok(None);
    };
    let claims = data.claims;
    // `exp` is checked against the real clock by the library; the session row is checked against
    // `now`, so tests can move time.
    let select = Query::select()
        .columns([
            "subject_kind",
            "customer_id",
            "staff_id",
            "created_at",
            "last_seen_at",
            "expires_at",
            "revoked_at",
        ])
        .expr_as(
            Expr::cust(
                "(SELECT version FROM page_versions WHERE page_versions.customer_id = sessions.customer_id)",
            ),
            "own_version",
        )
        .expr_as(
            Expr::cust("(SELECT version FROM page_versions WHERE page_versions.customer_id = 0)"),
            "shared_version",
        )
        .from("sessions")
        .and_where(Expr::col("id").eq(claims.jti.clone()))
        .to_owned();
    let Some(row) = db.query_one(&select).await? else {
        return Ok(None);
    };
    let revoked: Option<DateTime<Utc>> = row.try_get("", "revoked_at")?;
    let created: DateTime<Utc> = row.try_get("", "created_at")?;
    let seen: DateTime<Utc> = row.try_get("", "last_seen_at")?;
    let expires: DateTime<Utc> = row.try_get("", "expires_at")?;
    if revoked.is_some() || now >= expires || now - seen > IDLE {
        return Ok(None);
    }
    let kind: String = row.try_get("", "subject_kind")?;
    let subject = match (
        kind.as_str(),
        row.try_get::<Option<i64>>("", "customer_id")?,
        row.try_get::<Option<i64>>("", "staff_id")?,
    ) {
        ("customer", Some(id), _) => Subject::Customer(id),
        ("staff", _, Some(id)) => Subject::Staff(id),
        _ => return Ok(None),
    };
    if subject_parts(subject).3 != claims.sub {
        return Ok(None);
    }
    // Conditional, so replicas touching at once write it once, and never back in time.
    let touch = (now - seen >= TOUCH_EVERY).then(|| {
        Query::update()
            .table("sessions")
            .value("last_seen_at", now)
            .and_where(Expr::col("id").eq(claims.jti.clone()))
            .and_where(Expr::col("revoked_at").is_null())
            .and_where(Expr::col("last_seen_at").lte(now - TOUCH_EVERY))
            .to_owned()
    });
    let page_version = PageVersion {
        own: row.try_get::<Option<i64>>("", "own_version")?.unwrap_or(0),
        shared: row
            .try_get::<Option<i64>>("", "shared_version")?
            .unwrap_or(0),
    };
    Ok(Some((
        Session {
            id: claims.jti,
            subject,
            created_at: created,
            page_version,
        },
        touch,
    )))
}

/// Ends one session at once (sign-out).
pub async fn end(
    db: &impl ConnectionTrait,
    session_id: &str,
    now: DateTime<Utc>,
) -> Result<(), CoreError> {
    let q = Query::update()
        .table("sessions")
        .value("revoked_at", now)
        .and_where(Expr::col("id").eq(session_id))
        .and_where(Expr::col("revoked_at").is_null())
        .to_owned();
    db.execute(&q).await?;
    Ok(())
}

/// Ends every session of `subject` (role change, deactivation, deletion).
pub async fn end_all(
    db: &impl ConnectionTrait,
    subject: Subject,
    now: DateTime<Utc>,
) -> Result<u64, CoreError> {
    let (_, customer, staff, _) = subject_parts(subject);
    let mut q = Query::update()
        .table("sessions")
        .value("revoked_at", now)
        .and_where(Expr::col("revoked_at").is_null())
        .to_owned();
    match (customer, staff) {
        (Some(id), _) => q.and_where(Expr::col("customer_id").eq(id)),
        (_, Some(id)) => q.and_where(Expr::col("staff_id").eq(id)),
        _ => return Ok(0),
    };
    Ok(db.execute(&q).await?.rows_affected())
}
