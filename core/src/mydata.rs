//! The parts of "My data" that no other module owns: restriction state, the membership ledger,
//! who at the salon read the customer's data, the mail sent to them, and the sharing register.

use chrono::{DateTime, Utc};
use sea_orm::{
    ConnectionTrait,
    sea_query::{Expr, ExprTrait, Order, Query},
};

use crate::{CoreError, mail, vault::Vault};

/// Whether the customer's data is restricted (frozen) right now.
pub async fn restricted(db: &impl ConnectionTrait, customer: i64) -> Result<bool, CoreError> {
    let q = Query::select()
        .column("restricted_at")
        .from("customers")
        .and_where(Expr::col("id").eq(customer))
        .to_owned();
    let r = db.query_one(&q).await?.ok_or(CoreError::NotFound)?;
    Ok(r.try_get::<Option<DateTime<Utc>>>("", "restricted_at")?
        .is_some())
}

/// One movement on the membership card.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LedgerLine {
    /// When.
    pub at: DateTime<Utc>,
    /// `top_up`, `spend`, ...
    pub kind: String,
    /// Amount, in cents.
    pub amount_cents: i64,
    /// Points gained or spent.
    pub points_delta: i64,
    /// Balance afterwards, in cents.
    pub balance_after_cents: i64,
}

/// The ledger of the customer's memberships, newest first.
pub async fn ledger(
    db: &impl ConnectionTrait,
    customer: i64,
) -> Result<Vec<LedgerLine>, CoreError> {
    let q = Query::select()
        .columns([
            ("membership_ledger", "at"),
            ("membership_ledger", "kind"),
            ("membership_ledger", "amount_cents"),
            ("membership_ledger", "points_delta"),
            ("membership_ledger", "balance_after_cents"),
        ])
        .from("membership_ledger")
        .inner_join(
            "memberships",
            Expr::col(("memberships", "id")).equals(("membership_ledger", "membership_id")),
        )
        .and_where(Expr::col(("memberships", "customer_id")).eq(customer))
        .order_by(("membership_ledger", "id"), Order::Desc)
        .to_owned();
    db.query_all(&q)
        .await?
        .iter()
        .map(|r| {
            Ok(LedgerLine {
                at: r.try_get("", "at")?,
                kind: r.try_get("", "kind")?,
                amount_cents: r.try_get("", "amount_cents")?,
                points_delta: r.try_get("", "points_delta")?,
                balance_after_cents: r.try_get("", "balance_after_cents")?,
            })
        })
        .collect()
}

/// One staff access to the customer's data (from the audit log).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Access {
    /// When.
    pub at: DateTime<Utc>,
    /// The staff role at the time (the person is not named to the customer).
    pub role: Option<String>,
    /// What they did.
    pub action: String,
}

/// Who at the salon read or changed this customer's data, newest first (at most 200).
pub async fn access_log(
    db: &impl ConnectionTrait,
    customer: i64,
) -> Result<Vec<Access>, CoreError> {
    let q = Query::select()
        .columns(["at", "role", "action"])
        .from("audit_log")
        .and_where(Expr::col("subject_kind").eq("customer"))
        .and_where(Expr::col("subject_id").eq(customer))
        .and_where(Expr::col("actor_kind").eq("staff"))
        .order_by("id", Order::Desc)
        .limit(200)
        .to_owned();
    db.query_all(&q)
        .await?
        .iter()
        .map(|r| {
            Ok(Access {
                at: r.try_get("", "at")?,
                role: r.try_get("", "role")?,
                action: r.try_get("", "action")?,
            })
        })
        .collect()
}

/// One mail to the customer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// When it was queued.
    pub at: DateTime<Utc>,
    /// Its subject.
    pub subject: String,
    /// Whether the mail server took it.
    pub sent: bool,
}

/// The mail sent (or waiting to be sent) to the customer, newest first.
pub async fn messages(
    db: &impl ConnectionTrait,
    vault: &Vault,
    customer: i64,
) -> Result<Vec<Message>, CoreError> {
    let q = Query::select()
        .columns(["id", "created_at", "message_sealed", "sent_at"])
        .from("mail_outbox")
        .and_where(Expr::col("customer_id").eq(customer))
        .order_by("id", Order::Desc)
        .limit(200)
        .to_owned();
    let rows = db.query_all(&q).await?;
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let key = vault.customer_key(db, customer).await?;
    let mut out = Vec::new();
    for r in rows {
        let id: i64 = r.try_get("", "id")?;
        let sealed: Vec<u8> = r.try_get("", "message_sealed")?;
        let plain = crate::vault::open(&key, mail::MESSAGE, id, &sealed)?;
        let m: mail::OutgoingMail =
            serde_json::from_slice(&plain).map_err(|e| CoreError::json("mail.stored", &e))?;
        out.push(Message {
            at: r.try_get("", "created_at")?,
            subject: m.subject,
            sent: r.try_get::<Option<DateTime<Utc>>>("", "sent_at")?.is_some(),
        });
    }
    Ok(out)
}

/// A recipient the salon shares data with (GDPR art. 19 register).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ThirdParty {
    /// `third_parties.id`.
    pub id: i64,
    /// Who.
    pub name: String,
    /// What data, in Chinese.
    pub data_zh: String,
    /// What data, in English.
    pub data_en: String,
    /// Why, in Chinese.
    pub purpose_zh: String,
    /// Why, in English.
    pub purpose_en: String,
    /// What it is given that identifies a customer.
    pub identifiers: Vec<portal_vocab::Identifier>,
}

/// The sharing register.
pub async fn third_parties(db: &impl ConnectionTrait) -> Result<Vec<ThirdParty>, CoreError> {
    let q = Query::select()
        .columns([
            "id",
            "name",
            "data_shared_zh",
            "data_shared_en",
            "purpose_zh",
            "purpose_en",
            "identifiers",
        ])
        .from("third_parties")
        .order_by("id", Order::Asc)
        .to_owned();
    db.query_all(&q)
        .await?
        .iter()
        .map(|r| {
            Ok(ThirdParty {
                id: r.try_get("", "id")?,
                name: r.try_get("", "name")?,
                data_zh: r.try_get("", "data_shared_zh")?,
                data_en: r.try_get("", "data_shared_en")?,
                purpose_zh: r.try_get("", "purpose_zh")?,
                purpose_en: r.try_get("", "purpose_en")?,
                identifiers: portal_vocab::Identifier::parse_list(
                    &r.try_get::<String>("", "identifiers")?,
                ),
            })
        })
        .collect()
}

/// One of the customer's own photos, opened: `(content type, bytes)`; `NotFound` for anyone
/// else's.
pub async fn photo(
    db: &impl ConnectionTrait,
    vault: &Vault,
    data_dir: &std::path::Path,
    customer: i64,
    photo: i64,
) -> Result<(String, Vec<u8>), CoreError> {
    let q = Query::select()
        .columns(["content_type", "file_name"])
        .from("photos")
        .and_where(Expr::col("id").eq(photo))
        .and_where(Expr::col("customer_id").eq(customer))
        .to_owned();
    let r = db.query_one(&q).await?.ok_or(CoreError::NotFound)?;
    let content_type: String = r.try_get("", "content_type")?;
    let file: String = r.try_get("", "file_name")?;
    let sealed = std::fs::read(data_dir.join("photos").join(file))?;
    let key = vault.customer_key(db, customer).await?;
    let plain = crate::vault::open(&key, crate::demo::fields::PHOTO_FILE, photo, &sealed)?;
    Ok((content_type, plain.to_vec()))
}

/// Everything kept about one customer, as "My data" shows it (read, never written).
pub struct Everything {
    /// Contact details.
    pub contact: crate::customers::Contact,
    /// Processing is restricted.
    pub restricted: bool,
    /// The service profile, if recorded.
    pub profile: Option<crate::customers::record::ServiceProfile>,
    /// Sensitive notes.
    pub sensitive: Vec<crate::customers::record::SensitiveNote>,
    /// Visits, newest first (at most [`VISITS_SHOWN`]).
    pub visits: Vec<crate::customers::record::Visit>,
    /// The open membership card.
    pub membership: Option<crate::customers::record::Membership>,
    /// The stored-value ledger.
    pub ledger: Vec<LedgerLine>,
    /// Photos with their public uses.
    pub photos: Vec<crate::photos::PhotoUses>,
    /// Each purpose's current state.
    pub consents: Vec<(crate::consents::Purpose, bool)>,
    /// Every consent change, newest first.
    pub consent_history: Vec<crate::consents::Event>,
    /// Who looked at the data (by role).
    pub access_log: Vec<Access>,
    /// Mail the portal sent them.
    pub messages: Vec<Message>,
    /// Who the salon passes data to.
    pub third_parties: Vec<ThirdParty>,
    /// The language the salon writes to them in.
    pub language: portal_vocab::Lang,
    /// Their requests, newest first.
    pub requests: Vec<crate::requests::Request>,
}

/// How many visits "My data" lists.
pub const VISITS_SHOWN: u64 = 500;

/// Reads everything kept about `customer`.
#[tracing::instrument(skip_all, fields(customer = customer))]
pub async fn everything(
    portal: &crate::Portal,
    customer: i64,
    now: DateTime<Utc>,
) -> Result<Everything, CoreError> {
    use crate::customers::{self, record};
    let (db, vault) = (&portal.db, &portal.vault);
    Ok(Everything {
        contact: customers::contact(db, vault, customer).await?,
        restricted: restricted(db, customer).await?,
        profile: record::service_profile(db, vault, customer).await?,
        sensitive: record::sensitive_notes(db, vault, customer).await?,
        visits: record::visits(db, vault, customer, VISITS_SHOWN).await?,
        membership: record::membership(db, vault, customer).await?,
        ledger: ledger(db, customer).await?,
        photos: crate::photos::for_customer(db, customer, now).await?,
        consents: crate::consents::states(db, customer).await?,
        consent_history: crate::consents::history(db, customer).await?,
        access_log: access_log(db, customer).await?,
        messages: messages(db, vault, customer).await?,
        third_parties: third_parties(db).await?,
        language: portal_vocab::Lang::from_tag(&customers::language(db, customer).await?)
            .unwrap_or_default(),
        requests: crate::requests::for_customer(db, customer).await?,
    })
}
