//! The register of recipients the salon shares data with (GDPR art. 19; PIPL art. 23), and the
//! tasks to pass an approved correction or deletion on to each of them, tracked to done.
//!
//! A recipient finds the customer by what it was given (the register names which identifiers:
//! a card number, a phone), but a deletion erases those before the officer writes to it. So
//! each task keeps the values it needs, read just before the change, sealed under a key of the
//! task's own in the key store (`pass_on_keys`). The key is destroyed when the task is marked
//! done, or after [`PASS_ON_KEEP`], whichever comes first: nothing readable outlives the task,
//! and a data backup taken meanwhile holds only ciphertext. Every view is audited.

use chrono::{DateTime, Duration, Utc};
use sea_orm::{
    ConnectionTrait,
    sea_query::{Expr, ExprTrait, Order, Query},
};
use serde::{Deserialize, Serialize};

use crate::{
    CoreError,
    vault::{Field, Vault},
};
pub use portal_vocab::Identifier;

/// How long a task's identifiers stay readable at most, done or not: longer than any request's
/// deadline (15 working days, extended once by at most two months is for the request itself;
/// telling recipients is the officer's next step after it), short enough that a forgotten
/// task does not keep a deleted customer findable.
pub const PASS_ON_KEEP: Duration = Duration::days(30);

const SEALED: Field = Field::new("request_propagations", "identifiers_sealed");

/// A new or changed register entry (the officer's form); every field 1 to 500 characters.
pub use portal_vocab::forms::Recipient;

/// The identifiers ticked on the officer's form.
fn ticked(r: &Recipient) -> Vec<Identifier> {
    ticks([&r.gives_name, &r.gives_phone, &r.gives_email, &r.gives_card])
}

/// The identifiers ticked, from the name, phone, email and card ticks in that order.
fn ticks(t: [&portal_vocab::forms::Tick; 4]) -> Vec<Identifier> {
    [
        (Identifier::Name, t[0]),
        (Identifier::Phone, t[1]),
        (Identifier::Email, t[2]),
        (Identifier::Card, t[3]),
    ]
    .into_iter()
    .filter(|(_, t)| t.is_some())
    .map(|(i, _)| i)
    .collect()
}

fn check(r: &Recipient) -> Result<(), CoreError> {
    let fields = [
        &r.name,
        &r.data_zh,
        &r.data_en,
        &r.purpose_zh,
        &r.purpose_en,
    ];
    for f in fields.map(|f| f.trim()) {
        if f.is_empty() || f.chars().count() > 500 || f.chars().any(|c| c.is_control() && c != '\n')
        {
            return Err(CoreError::Invalid("sharing.field"));
        }
    }
    Ok(())
}

/// The officer adds a recipient, with its audit row in one transaction; returns its id.
#[tracing::instrument(skip_all, fields(staff = staff))]
pub async fn officer_adds(
    portal: &crate::Portal,
    (staff, role): (i64, crate::staff::Role),
    r: &Recipient,
    now: DateTime<Utc>,
) -> Result<i64, CoreError> {
    use crate::audit::{self, Actor};
    let actor = Actor::Staff { id: staff, role };
    let action = crate::access::Action::ManageSharing;
    let change = async |tx: &_| add(tx, r).await;
    audit::audited(&portal.db, actor, action, now, change, |&id| {
        Some(("recipient", id))
    })
    .await
}

/// The officer sets which identifiers `recipient` is given (an entry made before the register
/// recorded them, or a change of what is shared), with its audit row in one transaction.
#[tracing::instrument(skip_all, fields(staff = staff, recipient = recipient))]
pub async fn officer_sets_identifiers(
    portal: &crate::Portal,
    (staff, role): (i64, crate::staff::Role),
    recipient: i64,
    form: &portal_vocab::forms::Identifiers,
    now: DateTime<Utc>,
) -> Result<(), CoreError> {
    use crate::audit::{self, Actor};
    let actor = Actor::Staff { id: staff, role };
    let action = crate::access::Action::ManageSharing;
    let list = ticks([
        &form.gives_name,
        &form.gives_phone,
        &form.gives_email,
        &form.gives_card,
    ]);
    let change = async |tx: &sea_orm::DatabaseTransaction| {
        let q = Query::update()
            .table("third_parties")
            .value("identifiers", Identifier::list_code(&list))
            .and_where(Expr::col("id").eq(recipient))
            .to_owned();
        match tx.execute(&q).await?.rows_affected() {
            1 => Ok(()),
            _ => Err(CoreError::Invalid("sharing.recipient")),
        }
    };
    audit::audited(&portal.db, actor, action, now, change, |_| {
        Some(("recipient", recipient))
    })
    .await
}

/// The officer marks pass-on task `task` done, with its audit row in one transaction.
#[tracing::instrument(skip_all, fields(staff = staff, task = task))]
pub async fn officer_confirms(
    portal: &crate::Portal,
    (staff, role): (i64, crate::staff::Role),
    task: i64,
    now: DateTime<Utc>,
) -> Result<(), CoreError> {
    use crate::audit::{self, Actor};
    let actor = Actor::Staff { id: staff, role };
    let action = crate::access::Action::ManageSharing;
    let change = async |tx: &_| confirm(tx, task, now).await;
    audit::audited(&portal.db, actor, action, now, change, |_| {
        Some(("pass_on_task", task))
    })
    .await
}

/// Adds a recipient to the register.
pub async fn add(db: &impl ConnectionTrait, r: &Recipient) -> Result<i64, CoreError> {
    check(r)?;
    let q = Query::insert()
        .into_table("third_parties")
        .columns([
            "name",
            "data_shared_zh",
            "data_shared_en",
            "purpose_zh",
            "purpose_en",
            "identifiers",
        ])
        .values_panic([
            r.name.trim().into(),
            r.data_zh.trim().into(),
            r.data_en.trim().into(),
            r.purpose_zh.trim().into(),
            r.purpose_en.trim().into(),
            Identifier::list_code(&ticked(r)).into(),
        ])
        .returning_col("id")
        .to_owned();
    Ok(db
        .query_one(&q)
        .await?
        .ok_or(CoreError::NotFound)?
        .try_get("", "id")?)
}

/// A customer's identifiers as the recipients know them, read before a correction or an
/// erasure changes them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Identifiers {
    /// Full name.
    pub name: Option<String>,
    /// Phone, E.164.
    pub phone: Option<String>,
    /// Email.
    pub email: Option<String>,
    /// Every membership card number, open and closed.
    pub cards: Vec<String>,
}

impl Identifiers {
    /// Reads them for `customer` (inside the transaction of the change).
    pub async fn read(
        db: &impl ConnectionTrait,
        vault: &Vault,
        customer: i64,
    ) -> Result<Self, CoreError> {
        let contact = crate::customers::contact(db, vault, customer).await?;
        Ok(Identifiers {
            name: Some(contact.name),
            phone: contact.phone.map(|p| p.as_str().to_owned()),
            email: contact.email.map(|e| e.as_str().to_owned()),
            cards: crate::customers::record::card_numbers(db, vault, customer).await?,
        })
    }

    fn get(&self, which: Identifier) -> Option<String> {
        match which {
            Identifier::Name => self.name.clone(),
            Identifier::Phone => self.phone.clone(),
            Identifier::Email => self.email.clone(),
            Identifier::Card => (!self.cards.is_empty()).then(|| self.cards.join(", ")),
        }
    }
}

/// One identifier as a recipient knows it, and, for a correction that changed it, what it is now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Found {
    /// Which identifier.
    pub identifier: Identifier,
    /// Its value when the recipient was given it (before the change).
    pub value: String,
    /// Its new value, when a correction changed it.
    pub corrected: Option<String>,
}

/// What recipient `given` needs to find the record: each identifier it was given that the
/// customer had, with its new value where `after` (a correction) changed it.
fn found_for(
    given: &[Identifier],
    before: &Identifiers,
    after: Option<&Identifiers>,
) -> Vec<Found> {
    given
        .iter()
        .filter_map(|&i| {
            let value = before.get(i)?;
            let corrected = after.and_then(|a| a.get(i)).filter(|v| *v != value);
            Some(Found {
                identifier: i,
                value,
                corrected,
            })
        })
        .collect()
}

/// Opens a task per recipient to pass request `request` on (inside the fulfilment
/// transaction; for a correction, only for recipients given something it changed, or whose
/// entry names nothing), each with what that recipient needs to find the record sealed under a new key
/// of the task's own: the identifiers `before` the change, and for a correction what they are
/// `after` it. Returns the tasks opened.
pub async fn open_tasks(
    db: &impl ConnectionTrait,
    vault: &Vault,
    request: i64,
    before: &Identifiers,
    after: Option<&Identifiers>,
    now: DateTime<Utc>,
) -> Result<Vec<Kept>, CoreError> {
    let mut opened = Vec::new();
    let recipients = Query::select()
        .columns(["id", "name", "identifiers"])
        .from("third_parties")
        .order_by("id", Order::Asc)
        .to_owned();
    for r in db.query_all(&recipients).await? {
        let tp: i64 = r.try_get("", "id")?;
        let given = Identifier::parse_list(&r.try_get::<String>("", "identifiers")?);
        let found = found_for(&given, before, after);
        // A correction concerns a recipient only if it changed something the recipient was
        // given; a recipient whose register entry names nothing is told all the same.
        let unchanged = after.is_some() && found.iter().all(|f| f.corrected.is_none());
        if unchanged && !given.is_empty() {
            continue;
        }
        let insert = Query::insert()
            .into_table("request_propagations")
            .columns(["request_id", "third_party_id", "status"])
            .values_panic([request.into(), tp.into(), "open".into()])
            .returning_col("id")
            .to_owned();
        let task: i64 = db
            .query_one(&insert)
            .await?
            .ok_or(CoreError::NotFound)?
            .try_get("", "id")?;
        if !found.is_empty() {
            let key = vault
                .create_task_key(db, task, now, now + PASS_ON_KEEP)
                .await?;
            let plain = zeroize::Zeroizing::new(
                serde_json::to_vec(&found)
                    .map_err(|e| CoreError::json("pass-on identifiers", &e))?,
            );
            db.execute(
                &Query::update()
                    .table("request_propagations")
                    .value(
                        "identifiers_sealed",
                        crate::vault::seal(&key, SEALED, task, &plain),
                    )
                    .and_where(Expr::col("id").eq(task))
                    .to_owned(),
            )
            .await?;
        }
        opened.push(Kept {
            recipient: r.try_get("", "name")?,
            identifiers: found.iter().map(|f| f.identifier).collect(),
        });
    }
    Ok(opened)
}

/// A task just opened: to whom, and which identifiers it keeps sealed (for the customer's
/// receipt: what is kept, for whom, and for how long).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Kept {
    /// The recipient's name.
    pub recipient: String,
    /// The identifiers kept for it (none when its entry names none, or the customer had none).
    pub identifiers: Vec<Identifier>,
}

/// One task: pass a correction or deletion on to a recipient.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Task {
    /// `request_propagations.id`.
    pub id: i64,
    /// The request it comes from.
    pub request: i64,
    /// Its kind (a correction or a deletion).
    pub kind: crate::requests::Kind,
    /// The recipient's name.
    pub recipient: String,
    /// `open` or `done`.
    pub status: String,
    /// When it was confirmed done.
    pub confirmed_at: Option<DateTime<Utc>>,
}

fn task_query() -> sea_orm::sea_query::SelectStatement {
    Query::select()
        .columns([
            ("request_propagations", "id"),
            ("request_propagations", "request_id"),
            ("request_propagations", "status"),
            ("request_propagations", "confirmed_at"),
        ])
        .expr_as(Expr::col(("requests", "kind")), "kind")
        .expr_as(Expr::col(("third_parties", "name")), "name")
        .from("request_propagations")
        .inner_join(
            "requests",
            Expr::col(("requests", "id")).equals(("request_propagations", "request_id")),
        )
        .inner_join(
            "third_parties",
            Expr::col(("third_parties", "id")).equals(("request_propagations", "third_party_id")),
        )
        .to_owned()
}

fn task_from(r: &sea_orm::QueryResult) -> Result<Task, CoreError> {
    let kind: String = r.try_get("", "kind")?;
    Ok(Task {
        id: r.try_get("", "id")?,
        request: r.try_get("", "request_id")?,
        kind: crate::requests::Kind::parse(&kind)?,
        recipient: r.try_get("", "name")?,
        status: r.try_get("", "status")?,
        confirmed_at: r.try_get("", "confirmed_at")?,
    })
}

/// Tasks, open ones first.
pub async fn tasks(db: &impl ConnectionTrait, only_open: bool) -> Result<Vec<Task>, CoreError> {
    let mut q = task_query()
        .order_by(("request_propagations", "status"), Order::Desc)
        .order_by(("request_propagations", "id"), Order::Asc)
        .limit(500)
        .to_owned();
    if only_open {
        q.and_where(Expr::col(("request_propagations", "status")).eq("open"));
    }
    db.query_all(&q).await?.iter().map(task_from).collect()
}

/// One task with what its recipient needs to find the record, for the officer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskDetail {
    /// The task.
    pub task: Task,
    /// The identifiers, while the task's key lives; empty once it is destroyed.
    pub found: Vec<Found>,
    /// Whether the task was given identifiers at all (so an empty `found` means destroyed).
    pub had_identifiers: bool,
    /// The customer, while still on record (a correction); `None` once erased.
    pub customer: Option<i64>,
}

/// The officer reads task `task` with its identifiers; the view is audited in the same
/// transaction (a view that cannot be audited shows nothing).
#[tracing::instrument(skip_all, fields(staff = staff, task = task))]
pub async fn officer_views(
    portal: &crate::Portal,
    (staff, role): (i64, crate::staff::Role),
    task: i64,
    now: DateTime<Utc>,
) -> Result<TaskDetail, CoreError> {
    use crate::audit::{self, Actor};
    let actor = Actor::Staff { id: staff, role };
    let action = crate::access::Action::ViewPassOnIdentifiers;
    let vault = &portal.vault;
    let read = async |tx: &_| detail(tx, vault, task, now).await;
    // A corrected customer is still on record: the read is theirs to see in "who read my data".
    audit::audited(&portal.db, actor, action, now, read, |d| match d.customer {
        Some(c) => Some(("customer", c)),
        None => Some(("pass_on_task", task)),
    })
    .await
}

async fn detail(
    db: &impl ConnectionTrait,
    vault: &Vault,
    task: i64,
    now: DateTime<Utc>,
) -> Result<TaskDetail, CoreError> {
    let q = task_query()
        .column(("request_propagations", "identifiers_sealed"))
        .column(("requests", "customer_id"))
        .and_where(Expr::col(("request_propagations", "id")).eq(task))
        .to_owned();
    let row = db.query_one(&q).await?.ok_or(CoreError::NotFound)?;
    let t = task_from(&row)?;
    // NULL: the recipient was given nothing to find the record by; empty: destroyed.
    let sealed: Option<Vec<u8>> = row.try_get("", "identifiers_sealed")?;
    let had_identifiers = sealed.is_some();
    let found = match sealed {
        None => Vec::new(),
        Some(sealed) if sealed.is_empty() => Vec::new(),
        Some(sealed) => match vault.task_key(db, task, now).await {
            Ok(key) => {
                let plain = crate::vault::open(&key, SEALED, task, &sealed)?;
                serde_json::from_slice(&plain)
                    .map_err(|e| CoreError::json("pass-on identifiers", &e))?
            }
            Err(CoreError::Sealed(crate::vault::SealError::KeyDestroyed)) => Vec::new(),
            Err(e) => return Err(e),
        },
    };
    Ok(TaskDetail {
        task: t,
        found,
        had_identifiers,
        customer: row.try_get("", "customer_id")?,
    })
}

/// Marks a task done (the recipient confirmed the correction or deletion) and destroys its
/// identifiers with their key.
pub async fn confirm(
    db: &impl ConnectionTrait,
    task: i64,
    now: DateTime<Utc>,
) -> Result<(), CoreError> {
    let q = Query::update()
        .table("request_propagations")
        .value("status", "done")
        .value("confirmed_at", now)
        .and_where(Expr::col("id").eq(task))
        .and_where(Expr::col("status").eq("open"))
        .to_owned();
    if db.execute(&q).await?.rows_affected() != 1 {
        return Err(CoreError::Invalid("sharing.task"));
    }
    destroy(db, &[task]).await?;
    Ok(())
}

/// Destroys the identifiers of `customer`'s earlier tasks (an erasure: the deletion's own tasks
/// supersede them); the tasks stay open, to be passed on. Call before the customer's requests
/// lose their link to the customer.
pub async fn destroy_for_customer(
    db: &impl ConnectionTrait,
    customer: i64,
) -> Result<u64, CoreError> {
    let q = Query::select()
        .column(("request_propagations", "id"))
        .from("request_propagations")
        .inner_join(
            "requests",
            Expr::col(("requests", "id")).equals(("request_propagations", "request_id")),
        )
        .and_where(Expr::col(("requests", "customer_id")).eq(customer))
        .to_owned();
    let ids: Vec<i64> = db
        .query_all(&q)
        .await?
        .iter()
        .map(|r| r.try_get("", "id"))
        .collect::<Result<_, _>>()?;
    if ids.is_empty() {
        return Ok(0);
    }
    destroy(db, &ids).await
}

/// Destroys the identifiers of every task past [`PASS_ON_KEEP`] (their key first); returns how
/// many. Idempotent, so replicas may run it side by side.
pub async fn sweep_expired(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
) -> Result<u64, CoreError> {
    let expired = Query::select()
        .column("propagation_id")
        .from("pass_on_keys")
        .and_where(Expr::col("expires_at").lte(now))
        .to_owned();
    let ids: Vec<i64> = db
        .query_all(&expired)
        .await?
        .iter()
        .map(|r| r.try_get("", "propagation_id"))
        .collect::<Result<_, _>>()?;
    if ids.is_empty() {
        return Ok(0);
    }
    destroy(db, &ids).await
}

/// Destroys the keys of `tasks`, then their ciphertexts (left empty, not NULL, so the page can
/// tell "destroyed" from "never given"); returns how many keys went.
async fn destroy(db: &impl ConnectionTrait, tasks: &[i64]) -> Result<u64, CoreError> {
    let gone = db
        .execute(
            &Query::delete()
                .from_table("pass_on_keys")
                .and_where(Expr::col("propagation_id").is_in(tasks.iter().copied()))
                .to_owned(),
        )
        .await?
        .rows_affected();
    db.execute(
        &Query::update()
            .table("request_propagations")
            .value("identifiers_sealed", Vec::<u8>::new())
            .and_where(Expr::col("id").is_in(tasks.iter().copied()))
            .and_where(Expr::col("identifiers_sealed").is_not_null())
            .to_owned(),
    )
    .await?;
    Ok(gone)
}
