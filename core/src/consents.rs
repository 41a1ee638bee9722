//! Consent: one switch per purpose, off until turned on. Every change is an append-only event;
//! the current state is kept beside it in the same transaction for fast reads.

use chrono::{DateTime, Utc};
use sea_orm::{
    ConnectionTrait, TransactionSession, TransactionTrait,
    sea_query::{Expr, ExprTrait, OnConflict, Order, Query},
};

use crate::CoreError;

pub use portal_vocab::{Channel, Purpose};

/// One change to record.
#[derive(Clone, Copy, Debug)]
pub struct Change {
    /// Which switch.
    pub purpose: Purpose,
    /// On or off.
    pub granted: bool,
    /// Where.
    pub channel: Channel,
    /// The staff member who recorded it (None when the customer did it).
    pub recorded_by: Option<i64>,
    /// The notice version the customer was shown.
    pub notice_version: Option<i32>,
}

/// What came of a customer's switch in the portal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Switched {
    /// Turned on.
    On,
    /// Turned off.
    Off,
    /// It already was as asked: nothing recorded.
    Unchanged,
    /// Turning this purpose on needs the explicit confirmation, which was not given: nothing
    /// recorded.
    NeedsConfirmation,
}

/// The customer turns one switch on or off in the portal, at once, as an event in the ledger
/// naming the notice in force. Purposes that need explicit confirmation (health data,
/// published photos: [`Purpose::needs_explicit_confirmation`]) turn on only with `confirmed`.
#[tracing::instrument(skip_all, fields(customer = customer, purpose = purpose.code()))]
pub async fn customer_switch(
    portal: &crate::Portal,
    customer: i64,
    purpose: Purpose,
    on: bool,
    confirmed: bool,
    now: DateTime<Utc>,
) -> Result<Switched, CoreError> {
    if on && purpose.needs_explicit_confirmation() && !confirmed {
        return Ok(Switched::NeedsConfirmation);
    }
    if granted(&portal.db, customer, purpose).await? == on {
        return Ok(Switched::Unchanged);
    }
    let version = crate::notices::current(&portal.db).await?.version;
    let change = Change {
        purpose,
        granted: on,
        channel: Channel::Portal,
        recorded_by: None,
        notice_version: Some(version),
    };
    // Through the group commit: a customer's switch never waits for SQLite's lock behind it.
    portal
        .writer
        .write(Box::new(move |tx| {
            Box::pin(async move { record(tx, customer, change, now).await })
        }))
        .await?;
    Ok(if on { Switched::On } else { Switched::Off })
}

/// Appends the event and sets the current state, in one (nested) transaction.
pub async fn record<C: ConnectionTrait + TransactionTrait>(
    outer: &C,
    customer: i64,
    change: Change,
    now: DateTime<Utc>,
) -> Result<i64, CoreError> {
    let tx = outer.begin().await?;
    let insert = Query::insert()
        .into_table("consent_events")
        .columns([
            "customer_id",
            "purpose",
            "granted",
            "at",
            "channel",
            "recorded_by_staff_id",
            "notice_version",
        ])
        .values_panic([
            customer.into(),
            change.purpose.code().into(),
            change.granted.into(),
            now.into(),
            change.channel.as_str().into(),
            change.recorded_by.into(),
            change.notice_version.into(),
        ])
        .returning_col("id")
        .to_owned();
    let event: i64 = tx
        .query_one(&insert)
        .await?
        .ok_or(CoreError::NotFound)?
        .try_get("", "id")?;
    let upsert = Query::insert()
        .into_table("consent_states")
        .columns([
            "customer_id",
            "purpose",
            "granted",
            "event_id",
            "updated_at",
        ])
        .values_panic([
            customer.into(),
            change.purpose.code().into(),
            change.granted.into(),
            event.into(),
            now.into(),
        ])
        .on_conflict(
            OnConflict::columns(["customer_id", "purpose"])
                .update_columns(["granted", "event_id", "updated_at"])
                .to_owned(),
        )
        .to_owned();
    tx.execute(&upsert).await?;
    if !change.granted {
        let actor = crate::photos::Actor {
            channel: change.channel,
            staff: change.recorded_by,
        };
        crate::photos::on_purpose_withdrawn(&tx, customer, change.purpose, actor, now).await?;
    }
    tx.commit().await?;
    Ok(event)
}

/// The current state of every purpose for a customer (off where nothing was ever recorded).
pub async fn states(
    db: &impl ConnectionTrait,
    customer: i64,
) -> Result<Vec<(Purpose, bool)>, CoreError> {
    let q = Query::select()
        .columns(["purpose", "granted"])
        .from("consent_states")
        .and_where(Expr::col("customer_id").eq(customer))
        .to_owned();
    let mut on = Vec::new();
    for r in db.query_all(&q).await? {
        let code: String = r.try_get("", "purpose")?;
        let granted: bool = r.try_get("", "granted")?;
        if granted && let Ok(p) = Purpose::parse(&code) {
            on.push(p);
        }
    }
    Ok(Purpose::ALL.map(|p| (p, on.contains(&p))).to_vec())
}

/// Whether one purpose is on for a customer.
pub async fn granted(
    db: &impl ConnectionTrait,
    customer: i64,
    purpose: Purpose,
) -> Result<bool, CoreError> {
    let q = Query::select()
        .column("granted")
        .from("consent_states")
        .and_where(Expr::col("customer_id").eq(customer))
        .and_where(Expr::col("purpose").eq(purpose.code()))
        .to_owned();
    Ok(match db.query_one(&q).await? {
        Some(r) => r.try_get("", "granted")?,
        None => false,
    })
}

/// One event of a customer's consent history.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Event {
    /// Which switch.
    pub purpose: Purpose,
    /// On or off.
    pub granted: bool,
    /// When.
    pub at: DateTime<Utc>,
    /// Where.
    pub channel: String,
    /// Notice version shown.
    pub notice_version: Option<i32>,
}

/// A customer's consent history, newest first.
pub async fn history(db: &impl ConnectionTrait, customer: i64) -> Result<Vec<Event>, CoreError> {
    let q = Query::select()
        .columns(["purpose", "granted", "at", "channel", "notice_version"])
        .from("consent_events")
        .and_where(Expr::col("customer_id").eq(customer))
        // By when it happened (a paper form is recorded after the day it was signed), then by
        // when it was recorded.
        .order_by("at", Order::Desc)
        .order_by("id", Order::Desc)
        .to_owned();
    let mut out = Vec::new();
    for r in db.query_all(&q).await? {
        let code: String = r.try_get("", "purpose")?;
        out.push(Event {
            purpose: Purpose::parse(&code)?,
            granted: r.try_get("", "granted")?,
            at: r.try_get("", "at")?,
            channel: r.try_get("", "channel")?,
            notice_version: r.try_get("", "notice_version")?,
        });
    }
    Ok(out)
}

/// Records that a customer was shown (at the counter, on paper) or confirmed (in the portal) a
/// privacy-notice version.
pub async fn record_notice(
    db: &impl ConnectionTrait,
    customer: i64,
    notice_version: i32,
    channel: Channel,
    recorded_by: Option<i64>,
    now: DateTime<Utc>,
) -> Result<(), CoreError> {
    db.execute(
        &Query::insert()
            .into_table("notice_confirmations")
            .columns([
                "customer_id",
                "notice_version",
                "at",
                "channel",
                "recorded_by_staff_id",
            ])
            .values_panic([
                customer.into(),
                notice_version.into(),
                now.into(),
                channel.as_str().into(),
                recorded_by.into(),
            ])
            .to_owned(),
    )
    .await?;
    Ok(())
}

/// Recomputes every current state from the ledger (the latest event per customer and purpose)
/// and replaces the stored states with it, in one transaction. Returns the number of states.
pub async fn rebuild<C: ConnectionTrait + TransactionTrait>(db: &C) -> Result<usize, CoreError> {
    let derived = derive(db).await?;
    let tx = crate::db::begin_write(db).await?;
    tx.execute(&Query::delete().from_table("consent_states").to_owned())
        .await?;
    for ((customer, purpose), (granted, event, at)) in &derived {
        tx.execute(
            &Query::insert()
                .into_table("consent_states")
                .columns([
                    "customer_id",
                    "purpose",
                    "granted",
                    "event_id",
                    "updated_at",
                ])
                .values_panic([
                    (*customer).into(),
                    purpose.clone().into(),
                    (*granted).into(),
                    (*event).into(),
                    (*at).into(),
                ])
                .to_owned(),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(derived.len())
}

type Derived = std::collections::BTreeMap<(i64, String), (bool, i64, DateTime<Utc>)>;

/// The state the ledger implies: the newest event per customer and purpose.
async fn derive(db: &impl ConnectionTrait) -> Result<Derived, CoreError> {
    let q = Query::select()
        .columns(["id", "customer_id", "purpose", "granted", "at"])
        .from("consent_events")
        .order_by("id", Order::Asc)
        .to_owned();
    let mut out = Derived::new();
    for r in db.query_all(&q).await? {
        out.insert(
            (r.try_get("", "customer_id")?, r.try_get("", "purpose")?),
            (
                r.try_get("", "granted")?,
                r.try_get("", "id")?,
                r.try_get("", "at")?,
            ),
        );
    }
    Ok(out)
}

/// Differences between the stored states and what the ledger implies: `(customer, purpose)`
/// pairs whose stored state is missing, extra or different. Empty when they agree.
pub async fn verify(db: &impl ConnectionTrait) -> Result<Vec<(i64, String)>, CoreError> {
    let derived = derive(db).await?;
    let q = Query::select()
        .columns(["customer_id", "purpose", "granted", "event_id"])
        .from("consent_states")
        .to_owned();
    let mut stored = std::collections::BTreeMap::new();
    for r in db.query_all(&q).await? {
        stored.insert(
            (
                r.try_get::<i64>("", "customer_id")?,
                r.try_get::<String>("", "purpose")?,
            ),
            (
                r.try_get::<bool>("", "granted")?,
                r.try_get::<i64>("", "event_id")?,
            ),
        );
    }
    let mut diff = Vec::new();
    for (k, (granted, event, _)) in &derived {
        if stored.get(k) != Some(&(*granted, *event)) {
            diff.push(k.clone());
        }
    }
    for k in stored.keys() {
        if !derived.contains_key(k) {
            diff.push(k.clone());
        }
    }
    Ok(diff)
}

/// Whether each contact (an email address or a phone number, as typed) may be contacted for
/// `purpose`: only a customer on record, not restricted, with the purpose switched on. Unknown,
/// malformed, erased (suppressed) and restricted contacts are all `false`. Looked up through the
/// blind indexes in batches, so 10,000 contacts take a handful of queries.
pub async fn may_contact(
    portal: &crate::Portal,
    purpose: Purpose,
    contacts: &[String],
) -> Result<Vec<bool>, CoreError> {
    use std::collections::HashMap;
    let db = &portal.db;
    let vault = &portal.vault;
    // (column, index) per contact.
    let keys: Vec<Option<(&'static str, Vec<u8>)>> = contacts
        .iter()
        .map(|c| {
            let c = c.trim();
            if c.contains('@') {
                crate::email::Email::parse(c)
                    .ok()
                    .map(|e| ("email_index", vault.email_index(&e)))
            } else {
                crate::phone::Phone::parse(c)
                    .ok()
                    .map(|p| ("phone_index", vault.phone_index(&p)))
            }
        })
        .collect();
    let mut customer_of: HashMap<Vec<u8>, i64> = HashMap::new();
    for column in ["email_index", "phone_index"] {
        let wanted: Vec<Vec<u8>> = keys
            .iter()
            .flatten()
            .filter(|(c, _)| *c == column)
            .map(|(_, k)| k.clone())
            .collect();
        for chunk in wanted.chunks(500) {
            let q = Query::select()
                .columns(["id", column])
                .from("customers")
                .and_where(Expr::col(column).is_in(chunk.iter().cloned()))
                .and_where(Expr::col("restricted_at").is_null())
                .and_where(Expr::col("erased_at").is_null())
                .to_owned();
            for r in db.query_all(&q).await? {
                let idx: Vec<u8> = r.try_get("", column)?;
                customer_of.insert(idx, r.try_get("", "id")?);
            }
        }
    }
    let ids: Vec<i64> = customer_of.values().copied().collect();
    let mut granted = std::collections::HashSet::new();
    for chunk in ids.chunks(500) {
        let q = Query::select()
            .column("customer_id")
            .from("consent_states")
            .and_where(Expr::col("customer_id").is_in(chunk.iter().copied()))
            .and_where(Expr::col("purpose").eq(purpose.code()))
            .and_where(Expr::col("granted").eq(true))
            .to_owned();
        for r in db.query_all(&q).await? {
            granted.insert(r.try_get::<i64>("", "customer_id")?);
        }
    }
    Ok(keys
        .iter()
        .map(|k| {
            k.as_ref()
                .and_then(|(_, idx)| customer_of.get(idx))
                .is_some_and(|id| granted.contains(id))
        })
        .collect())
}

/// One withdrawal of a marketing purpose, for marketing tools to stop sending: the one
/// contact detail that channel uses, nothing more.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Withdrawal {
    /// Pass back as `since` to continue after this one.
    pub cursor: i64,
    /// Which marketing switch was turned off.
    pub purpose: Purpose,
    /// When.
    pub at: DateTime<Utc>,
    /// The email on record, for `marketing_email` only.
    pub email: Option<String>,
    /// The phone on record, for `marketing_sms` and `marketing_wechat` only.
    pub phone: Option<String>,
}

/// Withdrawals of a marketing purpose after `since` (an event id), oldest first, at most
/// `limit`. The least a marketing tool needs (security.md): marketing purposes only (never
/// sensitive notes or photos), the channel's own contact only, and nothing of a restricted or
/// erased customer (their consent checks answer no in any case).
pub async fn withdrawals_since(
    portal: &crate::Portal,
    since: i64,
    limit: u64,
) -> Result<Vec<Withdrawal>, CoreError> {
    let e = |c: &'static str| Expr::col(("consent_events", c));
    let q = Query::select()
        .column(("consent_events", "id"))
        .column(("consent_events", "customer_id"))
        .column(("consent_events", "purpose"))
        .column(("consent_events", "at"))
        .from("consent_events")
        .inner_join(
            "customers",
            Expr::col(("customers", "id")).equals(("consent_events", "customer_id")),
        )
        .and_where(e("id").gt(since))
        .and_where(e("granted").eq(false))
        .and_where(e("purpose").is_in(CHANNELS.map(|p| p.code())))
        .and_where(Expr::col(("customers", "restricted_at")).is_null())
        .and_where(Expr::col(("customers", "erased_at")).is_null())
        .order_by(("consent_events", "id"), Order::Asc)
        .limit(limit)
        .to_owned();
    let mut out = Vec::new();
    for r in portal.db.query_all(&q).await? {
        let customer: i64 = r.try_get("", "customer_id")?;
        let purpose = Purpose::parse(&r.try_get::<String>("", "purpose")?)?;
        let contact = crate::customers::contact(&portal.db, &portal.vault, customer).await?;
        let (email, phone) = match purpose {
            Purpose::MarketingEmail => (contact.email.map(|e| e.as_str().to_owned()), None),
            _ => (None, contact.phone.map(|p| p.as_str().to_owned())),
        };
        out.push(Withdrawal {
            cursor: r.try_get("", "id")?,
            purpose,
            at: r.try_get("", "at")?,
            email,
            phone,
        });
    }
    Ok(out)
}

/// The marketing channels, for "may we contact them?".
pub const CHANNELS: [Purpose; 3] = Purpose::MARKETING;

/// Marketing staff check one contact: may we reach them, channel by channel? Looking up a known
/// customer is audited on them.
#[tracing::instrument(skip_all, fields(staff = staff))]
pub async fn staff_checks(
    portal: &crate::Portal,
    (staff, role): (i64, crate::staff::Role),
    contact: &str,
    now: DateTime<Utc>,
) -> Result<portal_vocab::MayContact, CoreError> {
    let contact = [contact.to_owned()];
    let mut answers = Vec::with_capacity(CHANNELS.len());
    for channel in CHANNELS {
        answers.push(may_contact(portal, channel, &contact).await?.first() == Some(&true));
    }
    let answers = portal_vocab::MayContact::from_fn(|p| {
        CHANNELS
            .iter()
            .position(|&c| c == p)
            .is_some_and(|i| answers[i])
    });
    if let Some(customer) = customer_by_contact(portal, &contact[0]).await? {
        // The audit chain is written in a write transaction, like every change's row.
        let actor = crate::audit::Actor::Staff { id: staff, role };
        let action = crate::access::Action::CheckConsentStatus;
        let nothing = async |_: &_| Ok(());
        let subject = |_: &()| Some(("customer", customer));
        crate::audit::audited(&portal.db, actor, action, now, nothing, subject).await?;
    }
    Ok(answers)
}

/// Weeks ending at each date, with the customers who had a purpose on then.
pub type Weekly = Vec<(DateTime<Utc>, i64)>;

/// How many customers have each purpose on now, and each marketing channel at the end of each
/// of the last weeks.
pub struct Counts {
    /// Per purpose, customers with it on.
    pub now: Vec<(Purpose, i64)>,
    /// Per marketing channel, `(week ending, customers with it on)`, oldest first.
    pub weekly: Vec<(Purpose, Weekly)>,
}

/// The counts the marketing page shows, over the last `weeks` weeks.
pub async fn counts_overview(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    weeks: i64,
) -> Result<Counts, CoreError> {
    let mut weekly = Vec::new();
    for ch in CHANNELS {
        weekly.push((ch, counts_by_week(db, ch, now, weeks).await?));
    }
    Ok(Counts {
        now: counts(db).await?,
        weekly,
    })
}

/// The customer an email or phone belongs to (through the blind indexes), if any.
pub async fn customer_by_contact(
    portal: &crate::Portal,
    contact: &str,
) -> Result<Option<i64>, CoreError> {
    let c = contact.trim();
    let (column, index) = if c.contains('@') {
        match crate::email::Email::parse(c) {
            Ok(e) => ("email_index", portal.vault.email_index(&e)),
            Err(_) => return Ok(None),
        }
    } else {
        match crate::phone::Phone::parse(c) {
            Ok(p) => ("phone_index", portal.vault.phone_index(&p)),
            Err(_) => return Ok(None),
        }
    };
    let q = Query::select()
        .column("id")
        .from("customers")
        .and_where(Expr::col(column).eq(index))
        .to_owned();
    Ok(match portal.db.query_one(&q).await? {
        Some(r) => Some(r.try_get("", "id")?),
        None => None,
    })
}

/// How many customers have each purpose on now (restricted customers count as off).
pub async fn counts(db: &impl ConnectionTrait) -> Result<Vec<(Purpose, i64)>, CoreError> {
    let mut out = Vec::new();
    for p in Purpose::ALL {
        let q = Query::select()
            .expr_as(Expr::col(("consent_states", "customer_id")).count(), "n")
            .from("consent_states")
            .inner_join(
                "customers",
                Expr::col(("customers", "id")).equals(("consent_states", "customer_id")),
            )
            .and_where(Expr::col(("consent_states", "purpose")).eq(p.code()))
            .and_where(Expr::col(("consent_states", "granted")).eq(true))
            .and_where(Expr::col(("customers", "restricted_at")).is_null())
            .to_owned();
        let n: i64 = db
            .query_one(&q)
            .await?
            .ok_or(CoreError::NotFound)?
            .try_get("", "n")?;
        out.push((p, n));
    }
    Ok(out)
}

/// Customers with `purpose` on at the end of each of the last `weeks` weeks, oldest first,
/// replayed from the ledger.
pub async fn counts_by_week(
    db: &impl ConnectionTrait,
    purpose: Purpose,
    now: DateTime<Utc>,
    weeks: i64,
) -> Result<Vec<(DateTime<Utc>, i64)>, CoreError> {
    let q = Query::select()
        .columns(["customer_id", "granted", "at"])
        .from("consent_events")
        .and_where(Expr::col("purpose").eq(purpose.code()))
        .order_by("id", Order::Asc)
        .to_owned();
    let events = db.query_all(&q).await?;
    let mut on = std::collections::HashSet::new();
    let mut out = Vec::new();
    let mut i = 0;
    for w in (0..weeks).rev() {
        let end = now - chrono::Duration::weeks(w);
        while i < events.len() {
            let at: DateTime<Utc> = events[i].try_get("", "at")?;
            if at > end {
                break;
            }
            let c: i64 = events[i].try_get("", "customer_id")?;
            if events[i].try_get::<bool>("", "granted")? {
                on.insert(c);
            } else {
                on.remove(&c);
            }
            i += 1;
        }
        out.push((end, on.len() as i64));
    }
    Ok(out)
}

/// Member of staff `by` exports the opted-in contacts of `channel` ([`opted_in_csv`]); the
/// export's audit row (channel and count) is in before the file is handed out: no export
/// without its row (fail closed).
#[tracing::instrument(skip_all, fields(channel = channel.code()))]
pub async fn export_opted_in(
    portal: &crate::Portal,
    by: crate::audit::Actor,
    channel: Purpose,
    now: DateTime<Utc>,
) -> Result<String, CoreError> {
    use crate::audit::{self, Entry};
    let (csv, n) = opted_in_csv(portal, channel).await?;
    let reason = format!("{}: {n} contacts", channel.code());
    let entry = Entry {
        actor: by,
        action: crate::access::Action::ExportOptedIn,
        subject: None,
        reason: Some(&reason),
    };
    // A transaction of its own, so that the chain's head is held until the row is in.
    let tx = crate::db::begin_write(&portal.db).await?;
    audit::append(&tx, &entry, now).await?;
    tx.commit().await?;
    Ok(csv)
}

/// The opted-in contacts of one marketing channel, as CSV (`email` for email, `phone` for SMS
/// and WeChat), restricted customers left out.
pub async fn opted_in_csv(
    portal: &crate::Portal,
    channel: Purpose,
) -> Result<(String, usize), CoreError> {
    if !CHANNELS.contains(&channel) {
        return Err(CoreError::Invalid("consent.channel"));
    }
    let q = Query::select()
        .column(("consent_states", "customer_id"))
        .from("consent_states")
        .inner_join(
            "customers",
            Expr::col(("customers", "id")).equals(("consent_states", "customer_id")),
        )
        .and_where(Expr::col(("consent_states", "purpose")).eq(channel.code()))
        .and_where(Expr::col(("consent_states", "granted")).eq(true))
        .and_where(Expr::col(("customers", "restricted_at")).is_null())
        .order_by(("consent_states", "customer_id"), Order::Asc)
        .to_owned();
    let header = if channel == Purpose::MarketingEmail {
        "email"
    } else {
        "phone"
    };
    let mut csv = format!("{header}\r\n");
    let mut n = 0;
    for r in portal.db.query_all(&q).await? {
        let id: i64 = r.try_get("", "customer_id")?;
        let c = crate::customers::contact(&portal.db, &portal.vault, id).await?;
        let value = if channel == Purpose::MarketingEmail {
            c.email.map(|e| e.as_str().to_owned())
        } else {
            c.phone.map(|p| p.as_str().to_owned())
        };
        if let Some(mut v) = value {
            // Addresses and E.164 numbers hold no comma, quote or line break. An address that a
            // spreadsheet would read as a formula (=, +, -, @ first) is defused with a quote;
            // phone numbers are `+` and digits only, which no spreadsheet can run.
            if channel == Purpose::MarketingEmail && v.starts_with(['=', '+', '-', '@']) {
                v.insert(0, '\'');
            }
            csv.push_str(&v);
            csv.push_str("\r\n");
            n += 1;
        }
    }
    Ok((csv, n))
}
