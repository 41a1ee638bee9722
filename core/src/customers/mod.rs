//! Customers: the record and its contact details, sealed under the customer's own key.

pub mod intake;
pub mod open;
pub mod record;

use chrono::{DateTime, Utc};
use sea_orm::{
    ConnectionTrait, TransactionSession, TransactionTrait,
    sea_query::{Expr, ExprTrait, Query},
};
use zeroize::Zeroizing;

use crate::{
    CoreError,
    email::Email,
    phone::Phone,
    vault::{Field, SecretKey, Vault, open, seal},
};

/// Why a change to a customer record is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The email or phone belongs to another customer.
    ContactTaken,
    /// Only the privacy officer may remove or re-point a customer's email.
    EmailOfficerOnly,
    /// Processing is restricted: the record is not edited until the restriction ends.
    Restricted,
    /// A record is created only once the customer has been shown the privacy notice.
    NoticeNotShown,
}

impl Refusal {
    /// The message key pages and redirects use.
    pub fn key(self) -> &'static str {
        match self {
            Refusal::ContactTaken => "customer.contact_taken",
            Refusal::EmailOfficerOnly => "customer.email_officer_only",
            Refusal::Restricted => "customer.restricted",
            Refusal::NoticeNotShown => "customer.notice_not_shown",
        }
    }
}

/// Sealed columns of `customers`.
pub const NAME: Field = Field::new("customers", "name_sealed");
/// Sealed email column.
pub const EMAIL: Field = Field::new("customers", "email_sealed");
/// Sealed phone column.
pub const PHONE: Field = Field::new("customers", "phone_sealed");

/// A customer's name: 1 to 100 printable characters.
#[derive(Clone, PartialEq, Eq)]
pub struct CustomerName(String);

impl CustomerName {
    /// Parses a name typed by a customer or by staff.
    pub fn parse(s: &str) -> Result<Self, CoreError> {
        let s = s.trim();
        if s.is_empty() || s.chars().count() > 100 || s.chars().any(char::is_control) {
            return Err(CoreError::Invalid("customer.name"));
        }
        Ok(Self(s.to_owned()))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for CustomerName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CustomerName(***)")
    }
}

/// What is needed to create a customer (the minimum fields of product.md).
pub struct NewCustomer {
    /// Full name.
    pub name: CustomerName,
    /// Email on record (the sign-in address).
    pub email: Option<Email>,
    /// Mobile number.
    pub phone: Option<Phone>,
    /// `zh` or `en`.
    pub language: &'static str,
    /// Staff member who created the record, if any.
    pub created_by: Option<i64>,
    /// When the record was created.
    pub at: DateTime<Utc>,
}

/// Contact details, opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contact {
    /// Full name.
    pub name: String,
    /// Email on record.
    pub email: Option<Email>,
    /// Mobile number.
    pub phone: Option<Phone>,
}

/// Seals a text value of `row` under `key`.
pub fn seal_text(key: &SecretKey, field: Field, row: i64, text: &str) -> Vec<u8> {
    seal(key, field, row, text.as_bytes())
}

/// Opens a text value sealed by [`seal_text`].
pub fn open_text(
    key: &SecretKey,
    field: Field,
    row: i64,
    sealed: &[u8],
) -> Result<String, CoreError> {
    let plain: Zeroizing<Vec<u8>> = open(key, field, row, sealed)?;
    String::from_utf8(plain.to_vec())
        .map_err(|_| CoreError::Sealed(crate::vault::SealError::Unopenable))
}

fn unique_violation(e: &sea_orm::DbErr) -> bool {
    matches!(
        e.sql_err(),
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
    )
}

/// Creates a customer with a key of their own, in a (nested) transaction of `outer`, so nobody
/// sees the row before it is sealed. Returns the id and the key, so the caller can seal the rest
/// of the record. An email or phone already on record is refused.
pub async fn create<C: ConnectionTrait + TransactionTrait>(
    outer: &C,
    vault: &Vault,
    new: &NewCustomer,
) -> Result<(i64, SecretKey), CoreError> {
    let tx = outer.begin().await?;
    let db = &tx;
    let insert = Query::insert()
        .into_table("customers")
        .columns([
            "name_sealed",
            "email_index",
            "phone_index",
            "preferred_language",
            "created_by_staff_id",
            "created_at",
            "updated_at",
        ])
        .values_panic([
            Vec::<u8>::new().into(),
            new.email.as_ref().map(|e| vault.email_index(e)).into(),
            new.phone.as_ref().map(|p| vault.phone_index(p)).into(),
            new.language.into(),
            new.created_by.into(),
            new.at.into(),
            new.at.into(),
        ])
        .returning_col("id")
        .to_owned();
    let row = match db.query_one(&insert).await {
        Ok(Some(row)) => row,
        Ok(None) => return Err(CoreError::NotFound),
        Err(e) if unique_violation(&e) => return Err(Refusal::ContactTaken.into()),
        Err(e) => return Err(e.into()),
    };
    let id: i64 = row.try_get("", "id")?;
    let key = vault.create_customer_key(db, id).await?;
    let update = Query::update()
        .table("customers")
        .value("name_sealed", seal_text(&key, NAME, id, new.name.as_str()))
        .value(
            "email_sealed",
            new.email
                .as_ref()
                .map(|e| seal_text(&key, EMAIL, id, e.as_str())),
        )
        .value(
            "phone_sealed",
            new.phone
                .as_ref()
                .map(|p| seal_text(&key, PHONE, id, p.as_str())),
        )
        .and_where(Expr::col("id").eq(id))
        .to_owned();
    db.execute(&update).await?;
    tx.commit().await?;
    Ok((id, key))
}

/// Opens a customer's contact details.
pub async fn contact(
    db: &impl ConnectionTrait,
    vault: &Vault,
    id: i64,
) -> Result<Contact, CoreError> {
    let select = Query::select()
        .columns(["name_sealed", "email_sealed", "phone_sealed"])
        .from("customers")
        .and_where(Expr::col("id").eq(id))
        .to_owned();
    let row = db.query_one(&select).await?.ok_or(CoreError::NotFound)?;
    let key = vault.customer_key(db, id).await?;
    let name: Vec<u8> = row.try_get("", "name_sealed")?;
    let email: Option<Vec<u8>> = row.try_get("", "email_sealed")?;
    let phone: Option<Vec<u8>> = row.try_get("", "phone_sealed")?;
    let bad = || CoreError::Sealed(crate::vault::SealError::Unopenable);
    Ok(Contact {
        name: open_text(&key, NAME, id, &name)?,
        email: email
            .map(|e| {
                open_text(&key, EMAIL, id, &e).and_then(|s| Email::parse(&s).map_err(|_| bad()))
            })
            .transpose()?,
        phone: phone
            .map(|p| {
                open_text(&key, PHONE, id, &p).and_then(|s| Phone::parse(&s).map_err(|_| bad()))
            })
            .transpose()?,
    })
}

/// The customer whose email on record is `email`, found through its blind index.
pub async fn find_by_email(
    db: &impl ConnectionTrait,
    vault: &Vault,
    email: &Email,
) -> Result<Option<i64>, CoreError> {
    let select = Query::select()
        .column("id")
        .from("customers")
        .and_where(Expr::col("email_index").eq(vault.email_index(email)))
        .to_owned();
    Ok(match db.query_one(&select).await? {
        Some(row) => Some(row.try_get("", "id")?),
        None => None,
    })
}

/// An address as the portal shows it back: first character, stars, domain (`l***@example.com`).
pub fn mask_email(email: &Email) -> String {
    let (local, domain) = email
        .as_str()
        .split_once('@')
        .unwrap_or((email.as_str(), ""));
    let first: String = local.chars().take(1).collect();
    format!("{first}***@{domain}")
}

/// Remembers `lang`, the language customer `id` reads the portal in, as the one the portal
/// writes to them in, unless they chose one on "My data" ([`choose_language`]). No write when it
/// is already that one. Returns whether it changed.
pub async fn remember_language(
    portal: &crate::Portal,
    id: i64,
    lang: portal_vocab::Lang,
) -> Result<bool, CoreError> {
    let db = &portal.db;
    // Read first: nearly every call finds nothing to change, and a read does not queue behind
    // the database's one writer.
    let current = Query::select()
        .columns(["preferred_language", "language_chosen_at"])
        .from("customers")
        .and_where(Expr::col("id").eq(id))
        .to_owned();
    let Some(row) = db.query_one(&current).await? else {
        return Ok(false);
    };
    let chosen: Option<chrono::DateTime<chrono::Utc>> = row.try_get("", "language_chosen_at")?;
    if chosen.is_some() || row.try_get::<String>("", "preferred_language")? == lang.code() {
        return Ok(false);
    }
    let q = Query::update()
        .table("customers")
        .value("preferred_language", lang.code())
        .and_where(Expr::col("id").eq(id))
        .and_where(Expr::col("preferred_language").ne(lang.code()))
        .and_where(Expr::col("language_chosen_at").is_null())
        .to_owned();
    // Through the group commit: under load a write of its own waited for SQLite's lock behind
    // the writer's back-to-back batches, seconds at worst (busy handler).
    portal
        .writer
        .write_plain(Box::new(move |tx| {
            Box::pin(async move { Ok(tx.execute(&q).await?.rows_affected() == 1) })
        }))
        .await
}

/// Customer `id` chose `lang` for the portal's mail to them: it stays, whatever language
/// their pages are read in later.
pub async fn choose_language(
    db: &impl ConnectionTrait,
    id: i64,
    lang: portal_vocab::Lang,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), CoreError> {
    let q = Query::update()
        .table("customers")
        .value("preferred_language", lang.code())
        .value("language_chosen_at", now)
        .and_where(Expr::col("id").eq(id))
        .to_owned();
    db.execute(&q).await?;
    Ok(())
}

/// The language the portal writes to customer `id` in (`zh` or `en`).
/// Where and in which language to mail customer `id`, in one read: `None` without an address.
pub async fn mail_address(
    db: &impl ConnectionTrait,
    key: &crate::vault::SecretKey,
    id: i64,
) -> Result<Option<(Email, portal_vocab::Lang)>, CoreError> {
    let select = Query::select()
        .columns(["email_sealed", "preferred_language"])
        .from("customers")
        .and_where(Expr::col("id").eq(id))
        .to_owned();
    let row = db.query_one(&select).await?.ok_or(CoreError::NotFound)?;
    let Some(sealed) = row.try_get::<Option<Vec<u8>>>("", "email_sealed")? else {
        return Ok(None);
    };
    let email = Email::parse(&open_text(key, EMAIL, id, &sealed)?)
        .map_err(|_| CoreError::Sealed(crate::vault::SealError::Unopenable))?;
    let lang: String = row.try_get("", "preferred_language")?;
    Ok(Some((
        email,
        portal_vocab::Lang::from_tag(&lang).unwrap_or_default(),
    )))
}

/// The customer's preferred language tag.
pub async fn language(db: &impl ConnectionTrait, id: i64) -> Result<String, CoreError> {
    let q = Query::select()
        .column("preferred_language")
        .from("customers")
        .and_where(Expr::col("id").eq(id))
        .to_owned();
    Ok(db
        .query_one(&q)
        .await?
        .ok_or(CoreError::NotFound)?
        .try_get("", "preferred_language")?)
}
