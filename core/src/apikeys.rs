//! API keys for marketing tools: made by the privacy officer, shown once, stored as SHA-256 only,
//! scoped, revocable, rate-limited by the API layer.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use rand::TryRngCore;
use sea_orm::{
    ConnectionTrait,
    sea_query::{Expr, ExprTrait, Order, Query},
};
use sha2::{Digest, Sha256};

use crate::CoreError;

/// What a key may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// `POST /api/v1/consent/check`.
    ConsentCheck,
    /// `GET /api/v1/consent/changes`.
    ConsentChanges,
}

impl Scope {
    /// The stored and shown name.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::ConsentCheck => "consent:check",
            Scope::ConsentChanges => "consent:changes",
        }
    }

    fn parse_list(s: &str) -> Vec<Scope> {
        s.split_whitespace()
            .filter_map(|x| match x {
                "consent:check" => Some(Scope::ConsentCheck),
                "consent:changes" => Some(Scope::ConsentChanges),
                _ => None,
            })
            .collect()
    }
}

/// Prefix of every key, so a leaked one is recognisable (and greppable by secret scanners).
pub const PREFIX: &str = "spp_";

fn hash(key: &str) -> Vec<u8> {
    Sha256::digest(key.as_bytes()).to_vec()
}

/// A key as the API layer sees it after authentication.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiKey {
    /// `api_keys.id`.
    pub id: i64,
    /// What it may do.
    pub scopes: Vec<Scope>,
}

/// The officer makes a key named `name` that may check consent and, with `changes`, read the
/// change feed; with its audit row in one transaction. Returns the key (shown once).
#[tracing::instrument(skip_all, fields(staff = staff))]
pub async fn officer_creates(
    portal: &crate::Portal,
    (staff, role): (i64, crate::staff::Role),
    name: &str,
    changes: bool,
    now: DateTime<Utc>,
) -> Result<String, CoreError> {
    use crate::audit::{self, Actor};
    let mut scopes = vec![Scope::ConsentCheck];
    if changes {
        scopes.push(Scope::ConsentChanges);
    }
    let actor = Actor::Staff { id: staff, role };
    let action = crate::access::Action::ManageApiKeys;
    let change = async |tx: &_| create(tx, name, &scopes, Some(staff), now).await;
    let subject = |(id, _): &(i64, String)| Some(("api_key", *id));
    let (_, key) = audit::audited(&portal.db, actor, action, now, change, subject).await?;
    Ok(key)
}

/// The officer revokes key `id` at once, with its audit row in one transaction. A key that is
/// gone already counts as revoked.
#[tracing::instrument(skip_all, fields(staff = staff, key = id))]
pub async fn officer_revokes(
    portal: &crate::Portal,
    (staff, role): (i64, crate::staff::Role),
    id: i64,
    now: DateTime<Utc>,
) -> Result<(), CoreError> {
    use crate::audit::{self, Actor};
    let actor = Actor::Staff { id: staff, role };
    let action = crate::access::Action::ManageApiKeys;
    let change = async |tx: &_| revoke(tx, id, now).await;
    match audit::audited(&portal.db, actor, action, now, change, |_| {
        Some(("api_key", id))
    })
    .await
    {
        Err(CoreError::NotFound) => Ok(()),
        done => done,
    }
}

/// Makes a key; returns its id and the key itself (shown once, never stored).
pub async fn create(
    db: &impl ConnectionTrait,
    name: &str,
    scopes: &[Scope],
    created_by: Option<i64>,
    now: DateTime<Utc>,
) -> Result<(i64, String), CoreError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 || scopes.is_empty() {
        return Err(CoreError::Invalid("apikey.input"));
    }
    let mut raw = [0u8; 32];
    rand::rngs::OsRng
        .try_fill_bytes(&mut raw)
        .expect("the operating system's random number generator");
    let key = format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(raw));
    let scopes: Vec<&str> = scopes.iter().map(|s| s.as_str()).collect();
    let q = Query::insert()
        .into_table("api_keys")
        .columns([
            "name",
            "key_hash",
            "role",
            "created_by_staff_id",
            "created_at",
        ])
        .values_panic([
            name.into(),
            hash(&key).into(),
            scopes.join(" ").into(),
            created_by.into(),
            now.into(),
        ])
        .returning_col("id")
        .to_owned();
    let id: i64 = db
        .query_one(&q)
        .await?
        .ok_or(CoreError::NotFound)?
        .try_get("", "id")?;
    Ok((id, key))
}

/// How stale a key's "last used" may be: the staff's key page shows it to the minute.
pub const LAST_USED_EVERY: chrono::Duration = chrono::Duration::minutes(1);

/// The key behind `presented`, if it exists and is not revoked (and notes its use).
pub async fn authenticate(
    db: &impl ConnectionTrait,
    presented: &str,
    now: DateTime<Utc>,
) -> Result<Option<ApiKey>, CoreError> {
    if !presented.starts_with(PREFIX) || presented.len() != PREFIX.len() + 43 {
        return Ok(None);
    }
    let q = Query::select()
        .columns(["id", "role", "last_used_at"])
        .from("api_keys")
        .and_where(Expr::col("key_hash").eq(hash(presented)))
        .and_where(Expr::col("revoked_at").is_null())
        .to_owned();
    let Some(r) = db.query_one(&q).await? else {
        return Ok(None);
    };
    let id: i64 = r.try_get("", "id")?;
    let used: Option<DateTime<Utc>> = r.try_get("", "last_used_at")?;
    // Noted at most once a minute (LAST_USED_EVERY): a write per call queued every consent
    // check behind the database's writer.
    if used.is_none_or(|t| now - t >= LAST_USED_EVERY) {
        db.execute(
            &Query::update()
                .table("api_keys")
                .value("last_used_at", now)
                .and_where(Expr::col("id").eq(id))
                .and_where(
                    Expr::col("last_used_at")
                        .is_null()
                        .or(Expr::col("last_used_at").lte(now - LAST_USED_EVERY)),
                )
                .to_owned(),
        )
        .await?;
    }
    Ok(Some(ApiKey {
        id,
        scopes: Scope::parse_list(&r.try_get::<String>("", "role")?),
    }))
}

/// Revokes a key at once.
pub async fn revoke(
    db: &impl ConnectionTrait,
    id: i64,
    now: DateTime<Utc>,
) -> Result<(), CoreError> {
    let q = Query::update()
        .table("api_keys")
        .value("revoked_at", now)
        .and_where(Expr::col("id").eq(id))
        .and_where(Expr::col("revoked_at").is_null())
        .to_owned();
    if db.execute(&q).await?.rows_affected() != 1 {
        return Err(CoreError::NotFound);
    }
    Ok(())
}

/// A key as the privacy officer's list shows it (never the key).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listed {
    /// `api_keys.id`.
    pub id: i64,
    /// Its name.
    pub name: String,
    /// Its scopes, space-separated.
    pub scopes: String,
    /// When made.
    pub created_at: DateTime<Utc>,
    /// When last used.
    pub last_used_at: Option<DateTime<Utc>>,
    /// When revoked.
    pub revoked_at: Option<DateTime<Utc>>,
}

/// Every key, newest first.
pub async fn list(db: &impl ConnectionTrait) -> Result<Vec<Listed>, CoreError> {
    let q = Query::select()
        .columns([
            "id",
            "name",
            "role",
            "created_at",
            "last_used_at",
            "revoked_at",
        ])
        .from("api_keys")
        .order_by("id", Order::Desc)
        .to_owned();
    db.query_all(&q)
        .await?
        .iter()
        .map(|r| {
            Ok(Listed {
                id: r.try_get("", "id")?,
                name: r.try_get("", "name")?,
                scopes: r.try_get("", "role")?,
                created_at: r.try_get("", "created_at")?,
                last_used_at: r.try_get("", "last_used_at")?,
                revoked_at: r.try_get("", "revoked_at")?,
            })
        })
        .collect()
}
