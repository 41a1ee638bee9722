//! A customer's record as staff work with it: search, the parts of the profile, and the
//! changes front desk and stylists make. Which part a role may see is decided by the caller
//! through `access`; these functions only read and write.

use chrono::{DateTime, Utc};
use sea_orm::{
    ConnectionTrait, TransactionSession, TransactionTrait,
    sea_query::{Expr, ExprTrait, Order, Query},
};

use super::{EMAIL, NAME, PHONE, open_text, seal_text, unique_violation};
use portal_vocab::{Cents, forms};

use crate::{
    CoreError, Portal,
    access::Action,
    audit::{self, Actor},
    demo::fields,
    email::Email,
    phone::Phone,
    staff::Role,
    vault::Vault,
};

/// What staff typed into the search box, parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Search {
    /// An email address: exact, through the blind index.
    Email(Email),
    /// A phone number: exact (normalised to E.164), through the blind index.
    Phone(Phone),
    /// Part of a name.
    Name(String),
}

impl Search {
    /// `@` means an email, digits (with `+`, spaces, dashes) a phone, anything else a name.
    pub fn parse(input: &str) -> Result<Self, CoreError> {
        let s = input.trim();
        if s.is_empty() || s.chars().count() > 100 || s.chars().any(char::is_control) {
            return Err(CoreError::Invalid("search.query"));
        }
        if s.contains('@') {
            return Email::parse(s)
                .map(Search::Email)
                .map_err(|_| CoreError::Invalid("search.email"));
        }
        let phone_like = s
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '+' | ' ' | '-' | '(' | ')'));
        if phone_like && s.chars().filter(char::is_ascii_digit).count() >= 5 {
            return Phone::parse(s)
                .map(Search::Phone)
                .map_err(|_| CoreError::Invalid("search.phone"));
        }
        Ok(Search::Name(s.to_lowercase()))
    }
}

/// One search result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Found {
    /// `customers.id`.
    pub id: i64,
    /// Full name.
    pub name: String,
}

/// Most results a name search returns.
pub const MAX_RESULTS: usize = 20;

/// Finds customers (never erased ones). Email and phone are exact matches through their blind
/// indexes; a name search opens every name, which is fine at a salon's scale (thousands).
pub async fn search(
    db: &impl ConnectionTrait,
    vault: &Vault,
    query: &Search,
) -> Result<Vec<Found>, CoreError> {
    let mut q = Query::select()
        .columns(["id", "name_sealed"])
        .from("customers")
        .and_where(Expr::col("erased_at").is_null())
        .order_by("id", Order::Asc)
        .to_owned();
    match query {
        Search::Email(e) => {
            q.and_where(Expr::col("email_index").eq(vault.email_index(e)));
        }
        Search::Phone(p) => {
            q.and_where(Expr::col("phone_index").eq(vault.phone_index(p)));
        }
        Search::Name(_) => {}
    }
    let mut found = Vec::new();
    for r in db.query_all(&q).await? {
        let id: i64 = r.try_get("", "id")?;
        let sealed: Vec<u8> = r.try_get("", "name_sealed")?;
        let Ok(key) = vault.customer_key(db, id).await else {
            continue;
        };
        let name = open_text(&key, NAME, id, &sealed)?;
        let hit = match query {
            Search::Name(part) => name.to_lowercase().contains(part.as_str()),
            _ => true,
        };
        if hit {
            found.push(Found { id, name });
            if found.len() == MAX_RESULTS {
                break;
            }
        }
    }
    Ok(found)
}

/// The service profile (stylists).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ServiceProfile {
    /// Hair type.
    pub hair_type: Option<String>,
    /// Skin type.
    pub skin_type: Option<String>,
    /// The preferred stylist's name.
    pub preferred_stylist: Option<String>,
    /// Free-text preferences.
    pub preferences: Option<String>,
}

async fn staff_name(
    db: &impl ConnectionTrait,
    id: Option<i64>,
) -> Result<Option<String>, CoreError> {
    let Some(id) = id else { return Ok(None) };
    let q = Query::select()
        .column("name")
        .from("staff")
        .and_where(Expr::col("id").eq(id))
        .to_owned();
    Ok(match db.query_one(&q).await? {
        Some(r) => Some(r.try_get("", "name")?),
        None => None,
    })
}

/// Opens the service profile, if one was recorded.
pub async fn service_profile(
    db: &impl ConnectionTrait,
    vault: &Vault,
    id: i64,
) -> Result<Option<ServiceProfile>, CoreError> {
    let q = Query::select()
        .columns([
            "hair_type_sealed",
            "skin_type_sealed",
            "preferred_stylist_id",
            "preferences_sealed",
        ])
        .from("service_profiles")
        .and_where(Expr::col("customer_id").eq(id))
        .to_owned();
    let Some(r) = db.query_one(&q).await? else {
        return Ok(None);
    };
    let key = vault.customer_key(db, id).await?;
    let open = |col: &str, field| -> Result<Option<String>, CoreError> {
        let v: Option<Vec<u8>> = r.try_get("", col)?;
        v.map(|b| open_text(&key, field, id, &b)).transpose()
    };
    Ok(Some(ServiceProfile {
        hair_type: open("hair_type_sealed", fields::HAIR)?,
        skin_type: open("skin_type_sealed", fields::SKIN)?,
        preferences: open("preferences_sealed", fields::PREFERENCES)?,
        preferred_stylist: staff_name(db, r.try_get("", "preferred_stylist_id")?).await?,
    }))
}

/// One sensitive note (allergy, skin or scalp condition).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SensitiveNote {
    /// `allergy`, `skin`, `scalp`...
    pub category: String,
    /// The note.
    pub body: String,
    /// When it was recorded.
    pub at: DateTime<Utc>,
}

/// Opens the sensitive notes. Callers show them only with the customer's separate consent.
pub async fn sensitive_notes(
    db: &impl ConnectionTrait,
    vault: &Vault,
    id: i64,
) -> Result<Vec<SensitiveNote>, CoreError> {
    let q = Query::select()
        .columns(["id", "category", "body_sealed", "created_at"])
        .from("sensitive_notes")
        .and_where(Expr::col("customer_id").eq(id))
        .order_by("id", Order::Asc)
        .to_owned();
    let rows = db.query_all(&q).await?;
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let key = vault.customer_key(db, id).await?;
    rows.iter()
        .map(|r| {
            let row: i64 = r.try_get("", "id")?;
            let body: Vec<u8> = r.try_get("", "body_sealed")?;
            Ok(SensitiveNote {
                category: r.try_get("", "category")?,
                body: open_text(&key, fields::SENSITIVE, row, &body)?,
                at: r.try_get("", "created_at")?,
            })
        })
        .collect()
}

/// One visit.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Visit {
    /// `visits.id`.
    pub id: i64,
    /// When.
    pub at: DateTime<Utc>,
    /// What was done.
    pub services: String,
    /// Who did it.
    pub stylist: Option<String>,
    /// Amount paid, in cents.
    pub amount_cents: i64,
    /// Notes.
    pub notes: Option<String>,
}

/// The newest `limit` visits, newest first.
pub async fn visits(
    db: &impl ConnectionTrait,
    vault: &Vault,
    id: i64,
    limit: u64,
) -> Result<Vec<Visit>, CoreError> {
    let q = Query::select()
        .columns([
            "id",
            "visited_at",
            "services",
            "stylist_id",
            "amount_cents",
            "notes_sealed",
        ])
        .from("visits")
        .and_where(Expr::col("customer_id").eq(id))
        .order_by("visited_at", Order::Desc)
        .order_by("id", Order::Desc)
        .limit(limit)
        .to_owned();
    let rows = db.query_all(&q).await?;
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let key = vault.customer_key(db, id).await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let vid: i64 = r.try_get("", "id")?;
        let notes: Option<Vec<u8>> = r.try_get("", "notes_sealed")?;
        out.push(Visit {
            id: vid,
            at: r.try_get("", "visited_at")?,
            services: r.try_get("", "services")?,
            stylist: staff_name(db, r.try_get("", "stylist_id")?).await?,
            amount_cents: r.try_get("", "amount_cents")?,
            notes: notes
                .map(|n| open_text(&key, fields::VISIT_NOTES, vid, &n))
                .transpose()?,
        });
    }
    Ok(out)
}

/// The membership card, shown with only its last four characters.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Membership {
    /// `****1234`.
    pub card_masked: String,
    /// Stored value, in cents.
    pub balance_cents: i64,
    /// Points.
    pub points: i64,
}

/// The open membership, if any.
pub async fn membership(
    db: &impl ConnectionTrait,
    vault: &Vault,
    id: i64,
) -> Result<Option<Membership>, CoreError> {
    let q = Query::select()
        .columns(["id", "card_number_sealed", "balance_cents", "points"])
        .from("memberships")
        .and_where(Expr::col("customer_id").eq(id))
        .and_where(Expr::col("closed_at").is_null())
        .to_owned();
    let Some(r) = db.query_one(&q).await? else {
        return Ok(None);
    };
    let key = vault.customer_key(db, id).await?;
    let mid: i64 = r.try_get("", "id")?;
    let card: Vec<u8> = r.try_get("", "card_number_sealed")?;
    let card = open_text(&key, fields::CARD_NUMBER, mid, &card)?;
    let tail: String = card
        .chars()
        .rev()
        .take(4)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    Ok(Some(Membership {
        card_masked: format!("****{tail}"),
        balance_cents: r.try_get("", "balance_cents")?,
        points: r.try_get("", "points")?,
    }))
}

/// Every membership card number of `id` in full, open and closed (what a payment platform
/// knows the customer by, for a correction or deletion passed on to it).
pub async fn card_numbers(
    db: &impl ConnectionTrait,
    vault: &Vault,
    id: i64,
) -> Result<Vec<String>, CoreError> {
    let q = Query::select()
        .columns(["id", "card_number_sealed"])
        .from("memberships")
        .and_where(Expr::col("customer_id").eq(id))
        .order_by("id", Order::Asc)
        .to_owned();
    let rows = db.query_all(&q).await?;
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let key = vault.customer_key(db, id).await?;
    rows.iter()
        .map(|r| {
            let mid: i64 = r.try_get("", "id")?;
            let card: Vec<u8> = r.try_get("", "card_number_sealed")?;
            open_text(&key, fields::CARD_NUMBER, mid, &card)
        })
        .collect()
}

/// New contact details typed by front desk; every field is replaced (email and phone may be
/// cleared, the name may not).
pub struct ContactChange {
    /// Full name.
    pub name: super::CustomerName,
    /// Email, or none.
    pub email: Option<Email>,
    /// Phone, or none.
    pub phone: Option<Phone>,
}

impl ContactChange {
    /// Reads front desk's contact form: a blank phone or email clears it
    /// (`customer.contact` for anything that does not parse).
    pub fn from_form(f: &forms::Contact) -> Result<ContactChange, CoreError> {
        let invalid = || CoreError::Invalid("customer.contact");
        let optional = |s: &str| (!s.trim().is_empty()).then_some(s.to_owned());
        Ok(ContactChange {
            name: super::CustomerName::parse(&f.name).map_err(|_| invalid())?,
            email: optional(&f.email)
                .map(|e| Email::parse(&e))
                .transpose()
                .map_err(|_| invalid())?,
            phone: optional(&f.phone)
                .map(|p| Phone::parse(&p))
                .transpose()
                .map_err(|_| invalid())?,
        })
    }
}

/// Replaces a customer's contact details and their blind indexes. An email or phone that
/// belongs to another customer is refused (`customer.contact_taken`).
pub async fn update_contact<C: ConnectionTrait + TransactionTrait>(
    outer: &C,
    vault: &Vault,
    id: i64,
    change: &ContactChange,
    now: DateTime<Utc>,
) -> Result<(), CoreError> {
    let tx = crate::db::begin_write(outer).await?;
    let key = vault.customer_key(&tx, id).await?;
    let q = Query::update()
        .table("customers")
        .value(
            "name_sealed",
            seal_text(&key, NAME, id, change.name.as_str()),
        )
        .value(
            "email_sealed",
            change
                .email
                .as_ref()
                .map(|e| seal_text(&key, EMAIL, id, e.as_str())),
        )
        .value(
            "phone_sealed",
            change
                .phone
                .as_ref()
                .map(|p| seal_text(&key, PHONE, id, p.as_str())),
        )
        .value(
            "email_index",
            change.email.as_ref().map(|e| vault.email_index(e)),
        )
        .value(
            "phone_index",
            change.phone.as_ref().map(|p| vault.phone_index(p)),
        )
        .value("updated_at", now)
        .and_where(Expr::col("id").eq(id))
        .and_where(Expr::col("erased_at").is_null())
        .to_owned();
    match tx.execute(&q).await {
        Ok(r) if r.rows_affected() == 1 => {}
        Ok(_) => return Err(CoreError::NotFound),
        Err(e) if unique_violation(&e) => return Err(super::Refusal::ContactTaken.into()),
        Err(e) => return Err(e.into()),
    }
    tx.commit().await?;
    Ok(())
}

/// Refuses a staff change to a restricted (frozen) record with `customer.restricted`: the
/// restriction stops processing, not only shows a banner, until the privacy officer lifts it.
pub async fn refuse_if_restricted(
    db: &impl ConnectionTrait,
    customer: i64,
) -> Result<(), CoreError> {
    if crate::mydata::restricted(db, customer).await? {
        return Err(super::Refusal::Restricted.into());
    }
    Ok(())
}

/// A visit to record.
pub struct NewVisit<'a> {
    /// When.
    pub at: DateTime<Utc>,
    /// What was done (1 to 200 characters).
    pub services: &'a str,
    /// Who did it.
    pub stylist: Option<i64>,
    /// Amount paid, in cents (0 or more).
    pub amount_cents: i64,
    /// Notes, sealed.
    pub notes: Option<&'a str>,
}

/// Records a visit; returns its id.
pub async fn record_visit<C: ConnectionTrait + TransactionTrait>(
    outer: &C,
    vault: &Vault,
    customer: i64,
    visit: &NewVisit<'_>,
) -> Result<i64, CoreError> {
    let services = visit.services.trim();
    if services.is_empty()
        || services.chars().count() > 200
        || services.chars().any(char::is_control)
    {
        return Err(CoreError::Invalid("visit.services"));
    }
    if !(0..=100_000_000).contains(&visit.amount_cents) {
        return Err(CoreError::Invalid("visit.amount"));
    }
    let tx = crate::db::begin_write(outer).await?;
    refuse_if_restricted(&tx, customer).await?;
    let key = vault.customer_key(&tx, customer).await?;
    let insert = Query::insert()
        .into_table("visits")
        .columns([
            "customer_id",
            "visited_at",
            "services",
            "stylist_id",
            "amount_cents",
        ])
        .values_panic([
            customer.into(),
            visit.at.into(),
            services.into(),
            visit.stylist.into(),
            visit.amount_cents.into(),
        ])
        .returning_col("id")
        .to_owned();
    let id: i64 = tx
        .query_one(&insert)
        .await?
        .ok_or(CoreError::NotFound)?
        .try_get("", "id")?;
    if let Some(n) = visit.notes.map(str::trim).filter(|n| !n.is_empty()) {
        tx.execute(
            &Query::update()
                .table("visits")
                .value("notes_sealed", seal_text(&key, fields::VISIT_NOTES, id, n))
                .and_where(Expr::col("id").eq(id))
                .to_owned(),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(id)
}

/// A stylist's visit form for `customer`: the visit, by stylist `staff` holding `role`, and its
/// audit row in one transaction; returns the visit's id. A bad amount is `visit.amount`.
#[tracing::instrument(skip_all, fields(staff = staff, customer = customer))]
pub async fn stylist_records_visit(
    portal: &Portal,
    (staff, role): (i64, Role),
    customer: i64,
    form: &forms::Visit,
    now: DateTime<Utc>,
) -> Result<i64, CoreError> {
    let amount = Cents::parse_yuan(&form.amount).ok_or(CoreError::Invalid("visit.amount"))?;
    let visit = NewVisit {
        at: now,
        services: &form.services,
        stylist: Some(staff),
        amount_cents: amount.0,
        notes: Some(form.notes.as_str()),
    };
    let change = async |tx: &_| record_visit(tx, &portal.vault, customer, &visit).await;
    let actor = Actor::Staff { id: staff, role };
    let subject = |_: &i64| Some(("customer", customer));
    audit::audited(&portal.db, actor, Action::RecordVisit, now, change, subject).await
}

/// A stylist's note on visit `visit` of `customer`, with its audit row in one transaction.
#[tracing::instrument(skip_all, fields(staff = staff, customer = customer, visit = visit))]
pub async fn stylist_notes_visit(
    portal: &Portal,
    (staff, role): (i64, Role),
    customer: i64,
    visit: i64,
    note: &str,
    now: DateTime<Utc>,
) -> Result<(), CoreError> {
    let change = async |tx: &_| add_visit_note(tx, &portal.vault, customer, visit, note).await;
    let actor = Actor::Staff { id: staff, role };
    let subject = |_: &()| Some(("customer", customer));
    audit::audited(
        &portal.db,
        actor,
        Action::AddVisitNote,
        now,
        change,
        subject,
    )
    .await
}

/// Adds a note to a visit of `customer` (appended below any earlier note); returns nothing
/// when the visit is not that customer's.
pub async fn add_visit_note<C: ConnectionTrait + TransactionTrait>(
    outer: &C,
    vault: &Vault,
    customer: i64,
    visit: i64,
    note: &str,
) -> Result<(), CoreError> {
    let note = note.trim();
    if note.is_empty() || note.chars().count() > 1000 {
        return Err(CoreError::Invalid("visit.note"));
    }
    let tx = crate::db::begin_write(outer).await?;
    refuse_if_restricted(&tx, customer).await?;
    let q = Query::select()
        .column("notes_sealed")
        .from("visits")
        .and_where(Expr::col("id").eq(visit))
        .and_where(Expr::col("customer_id").eq(customer))
        .to_owned();
    let row = tx.query_one(&q).await?.ok_or(CoreError::NotFound)?;
    let key = vault.customer_key(&tx, customer).await?;
    let old: Option<Vec<u8>> = row.try_get("", "notes_sealed")?;
    let text = match old {
        Some(o) => format!(
            "{}\n{note}",
            open_text(&key, fields::VISIT_NOTES, visit, &o)?
        ),
        None => note.to_owned(),
    };
    tx.execute(
        &Query::update()
            .table("visits")
            .value(
                "notes_sealed",
                seal_text(&key, fields::VISIT_NOTES, visit, &text),
            )
            .and_where(Expr::col("id").eq(visit))
            .to_owned(),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::Search;

    #[test]
    fn a_search_is_an_email_a_phone_or_part_of_a_name() {
        assert!(matches!(
            Search::parse(" Li.Na@Example.com "),
            Ok(Search::Email(_))
        ));
        assert!(matches!(
            Search::parse("139 0000 1234"),
            Ok(Search::Phone(_))
        ));
        assert!(matches!(
            Search::parse("+86 139-0000-1234"),
            Ok(Search::Phone(_))
        ));
        assert_eq!(Search::parse("李").unwrap(), Search::Name("李".into()));
        assert_eq!(Search::parse("Anna").unwrap(), Search::Name("anna".into()));
        assert!(Search::parse("").is_err());
        assert!(Search::parse("a@").is_err());
        assert!(Search::parse("x\ny").is_err());
    }
}
