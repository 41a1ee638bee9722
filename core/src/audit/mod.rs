//! The audit log: who did what to whose data, when and why; never the values. Each row carries
//! SHA-256 over its own fields and the previous row's hash, so an edited, removed or inserted
//! row breaks the chain at that point; appends are serialised so the chain never forks.

use chrono::{DateTime, Utc};
use sea_orm::{
    ConnectionTrait,
    sea_query::{Expr, ExprTrait, OnConflict, Order, Query},
};
use sha2::{Digest, Sha256};

use crate::{CoreError, access::Action, staff::Role};

/// Who acted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Actor {
    /// A member of staff, with the role they held at the time.
    Staff {
        /// `staff.id`.
        id: i64,
        /// Their role when they acted.
        role: Role,
    },
    /// The customer themself (through the portal).
    Customer(i64),
    /// The portal on its own (schedules, fulfilment).
    System,
}

/// One thing to record. `reason` is free text typed by staff (why they opened a record), never
/// a value read from it.
#[derive(Clone, Debug)]
pub struct Entry<'a> {
    /// Who acted.
    pub actor: Actor,
    /// What they did.
    pub action: Action,
    /// Whose data: a customer, or another kind of subject (`staff`, `request`, ...).
    pub subject: Option<(&'a str, i64)>,
    /// Why, when the actor gave a reason.
    pub reason: Option<&'a str>,
}

impl<'a> Entry<'a> {
    /// A staff action on one customer's data.
    pub fn on_customer(actor: Actor, action: Action, customer: i64) -> Self {
        Self {
            actor,
            action,
            subject: Some(("customer", customer)),
            reason: None,
        }
    }
}

/// Runs `change` in one write transaction with its audit row: the change first, then the row
/// for `action` by `actor` on the subject `subject` names from the change's result (a created
/// row's id, say). Both commit or neither: no change without its audit row.
pub async fn audited<T>(
    db: &sea_orm::DatabaseConnection,
    actor: Actor,
    action: Action,
    now: DateTime<Utc>,
    change: impl AsyncFnOnce(&sea_orm::DatabaseTransaction) -> Result<T, CoreError>,
    subject: impl FnOnce(&T) -> Option<(&'static str, i64)>,
) -> Result<T, CoreError> {
    let tx = crate::db::begin_write(db).await?;
    let out = change(&tx).await?;
    let entry = Entry {
        actor,
        action,
        subject: subject(&out),
        reason: None,
    };
    append(&tx, &entry, now).await?;
    tx.commit().await?;
    Ok(out)
}

/// A stored row, as the privacy officer browses it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Row {
    /// Position in the chain.
    pub id: i64,
    /// When.
    pub at: DateTime<Utc>,
    /// `staff`, `customer` or `system`.
    pub actor_kind: String,
    /// The staff or customer id.
    pub actor_id: Option<i64>,
    /// The staff role at the time.
    pub role: Option<String>,
    /// The action's name.
    pub action: String,
    /// `customer`, `staff`, `request`, ...
    pub subject_kind: Option<String>,
    /// The subject's id.
    pub subject_id: Option<i64>,
    /// Why.
    pub reason: Option<String>,
}

/// Appends an action of staff member `staff` (with the role they hold now) inside `db`, the
/// transaction of the change, so the change and its row commit together.
pub async fn append_by_staff(
    db: &impl ConnectionTrait,
    staff: i64,
    action: Action,
    customer: Option<i64>,
    now: DateTime<Utc>,
) -> Result<i64, CoreError> {
    append_by_staff_because(db, staff, action, customer, None, now).await
}

/// [`append_by_staff`] with a reason (a code or fixed words, never a value).
pub async fn append_by_staff_because(
    db: &impl ConnectionTrait,
    staff: i64,
    action: Action,
    customer: Option<i64>,
    reason: Option<&str>,
    now: DateTime<Utc>,
) -> Result<i64, CoreError> {
    let role: String = db
        .query_one(
            &Query::select()
                .column("role")
                .from("staff")
                .and_where(Expr::col("id").eq(staff))
                .to_owned(),
        )
        .await?
        .ok_or(CoreError::NotFound)?
        .try_get("", "role")?;
    let role = role.parse::<Role>().map_err(|_| CoreError::NotFound)?;
    let entry = Entry {
        actor: Actor::Staff { id: staff, role },
        action,
        subject: customer.map(|c| ("customer", c)),
        reason,
    };
    append(db, &entry, now).await
}

/// The row that serialises appends: every append first updates it, which takes PostgreSQL's
/// row lock and SQLite's write lock until the transaction ends.
const HEAD_KEY: &str = "audit_head";

/// Appends one entry inside the caller's transaction, so the audited change (or read) and its
/// row commit together or not at all. Concurrent appends wait for each other.
pub async fn append(
    db: &impl ConnectionTrait,
    entry: &Entry<'_>,
    now: DateTime<Utc>,
) -> Result<i64, CoreError> {
    let at = micros(now);
    db.execute(
        &Query::insert()
            .into_table("settings")
            .columns(["key", "value", "updated_at"])
            .values_panic([HEAD_KEY.into(), "".into(), at.into()])
            .on_conflict(OnConflict::column("key").do_nothing().to_owned())
            .to_owned(),
    )
    .await?;
    db.execute(
        &Query::update()
            .table("settings")
            .value("updated_at", at)
            .and_where(Expr::col("key").eq(HEAD_KEY))
            .to_owned(),
    )
    .await?;
    let prev: Vec<u8> = match db
        .query_one(
            &Query::select()
                .column("hash")
                .from("audit_log")
                .order_by("id", Order::Desc)
                .limit(1)
                .to_owned(),
        )
        .await?
    {
        Some(r) => r.try_get("", "hash")?,
        None => GENESIS.to_vec(),
    };
    let (actor_kind, actor_id, role) = match entry.actor {
        Actor::Staff { id, role } => ("staff", Some(id), Some(role.as_str())),
        Actor::Customer(id) => ("customer", Some(id), None),
        Actor::System => ("system", None, None),
    };
    let row = Row {
        id: 0,
        at,
        actor_kind: actor_kind.into(),
        actor_id,
        role: role.map(str::to_owned),
        action: entry.action.as_str().into(),
        subject_kind: entry.subject.map(|(k, _)| k.to_owned()),
        subject_id: entry.subject.map(|(_, id)| id),
        reason: entry.reason.map(str::to_owned),
    };
    let hash = chain_hash(&prev, &row);
    let insert = Query::insert()
        .into_table("audit_log")
        .columns([
            "at",
            "actor_kind",
            "actor_id",
            "role",
            "action",
            "subject_kind",
            "subject_id",
            "reason",
            "prev_hash",
            "hash",
        ])
        .values_panic([
            row.at.into(),
            row.actor_kind.clone().into(),
            row.actor_id.into(),
            row.role.clone().into(),
            row.action.clone().into(),
            row.subject_kind.clone().into(),
            row.subject_id.into(),
            row.reason.clone().into(),
            prev.into(),
            hash.into(),
        ])
        .returning_col("id")
        .to_owned();
    let inserted = db.query_one(&insert).await?.ok_or(CoreError::NotFound)?;
    Ok(inserted.try_get("", "id")?)
}

/// The hash the first row chains to.
const GENESIS: [u8; 32] = [0; 32];

/// Timestamps at the precision both engines store, so a re-read row hashes the same.
fn micros(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(t.timestamp_micros()).unwrap_or(t)
}

/// SHA-256 over the previous hash and every field but the id, each length-prefixed so no two
/// different rows share an encoding.
fn chain_hash(prev: &[u8], row: &Row) -> Vec<u8> {
    let mut h = Sha256::new();
    h.update(b"salon-portal audit v1");
    h.update(prev);
    let opt_i = |v: Option<i64>| v.map(|i| i.to_string()).unwrap_or_else(|| "-".into());
    for field in [
        row.at.timestamp_micros().to_string(),
        row.actor_kind.clone(),
        opt_i(row.actor_id),
        row.role.clone().unwrap_or_else(|| "-".into()),
        row.action.clone(),
        row.subject_kind.clone().unwrap_or_else(|| "-".into()),
        opt_i(row.subject_id),
    ] {
        h.update((field.len() as u64).to_be_bytes());
        h.update(field.as_bytes());
    }
    match &row.reason {
        Some(r) => {
            h.update([1]);
            h.update((r.len() as u64).to_be_bytes());
            h.update(r.as_bytes());
        }
        None => h.update([0]),
    }
    h.finalize().to_vec()
}

/// What [`verify`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Every row chains to the one before it.
    Whole {
        /// Rows checked.
        rows: u64,
    },
    /// The first row whose stored hashes do not match its fields or its predecessor.
    Broken {
        /// That row's id.
        id: i64,
    },
}

const COLUMNS: [&str; 11] = [
    "id",
    "at",
    "actor_kind",
    "actor_id",
    "role",
    "action",
    "subject_kind",
    "subject_id",
    "reason",
    "prev_hash",
    "hash",
];

fn read_row(r: &sea_orm::QueryResult) -> Result<(Row, Vec<u8>, Vec<u8>), CoreError> {
    Ok((
        Row {
            id: r.try_get("", "id")?,
            at: r.try_get("", "at")?,
            actor_kind: r.try_get("", "actor_kind")?,
            actor_id: r.try_get("", "actor_id")?,
            role: r.try_get("", "role")?,
            action: r.try_get("", "action")?,
            subject_kind: r.try_get("", "subject_kind")?,
            subject_id: r.try_get("", "subject_id")?,
            reason: r.try_get("", "reason")?,
        },
        r.try_get("", "prev_hash")?,
        r.try_get("", "hash")?,
    ))
}

/// Walks the whole chain in id order, a page at a time.
pub async fn verify(db: &impl ConnectionTrait) -> Result<Verdict, CoreError> {
    const PAGE: u64 = 1000;
    let mut prev = GENESIS.to_vec();
    let mut after = i64::MIN;
    let mut rows = 0u64;
    loop {
        let q = Query::select()
            .columns(COLUMNS)
            .from("audit_log")
            .and_where(Expr::col("id").gt(after))
            .order_by("id", Order::Asc)
            .limit(PAGE)
            .to_owned();
        let page = db.query_all(&q).await?;
        if page.is_empty() {
            return Ok(Verdict::Whole { rows });
        }
        for r in &page {
            let (row, stored_prev, stored_hash) = read_row(r)?;
            if stored_prev != prev || chain_hash(&prev, &row) != stored_hash {
                return Ok(Verdict::Broken { id: row.id });
            }
            prev = stored_hash;
            after = row.id;
            rows += 1;
        }
    }
}

/// What the privacy officer filters the log by; every part optional.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct Filter {
    /// Only this staff member's actions.
    pub staff: Option<i64>,
    /// Only actions on this customer.
    pub customer: Option<i64>,
    /// Only this action.
    pub action: Option<Action>,
    /// Only rows older than this id (paging backwards from the newest).
    pub before: Option<i64>,
}

impl Filter {
    /// The log page's filter form as typed: ids are numbers (anything else filters nothing),
    /// the action is a stored action name (an unknown one filters nothing).
    pub fn from_form(
        staff: Option<&str>,
        customer: Option<&str>,
        action: Option<&str>,
        before: Option<&str>,
    ) -> Self {
        let num = |s: Option<&str>| s.and_then(|s| s.trim().parse::<i64>().ok());
        Filter {
            staff: num(staff),
            customer: num(customer),
            // Second-factor changes are no matrix action but the officer filters by them too.
            action: action.filter(|a| !a.is_empty()).and_then(|a| {
                Action::ALL
                    .into_iter()
                    .chain([Action::SetSecondFactor])
                    .find(|x| x.as_str() == a)
            }),
            before: num(before),
        }
    }
}

/// The newest `limit` rows matching `filter`, newest first.
pub async fn list(
    db: &impl ConnectionTrait,
    filter: &Filter,
    limit: u64,
) -> Result<Vec<Row>, CoreError> {
    let mut q = Query::select()
        .columns(COLUMNS)
        .from("audit_log")
        .order_by("id", Order::Desc)
        .limit(limit)
        .to_owned();
    if let Some(s) = filter.staff {
        q.and_where(Expr::col("actor_kind").eq("staff"))
            .and_where(Expr::col("actor_id").eq(s));
    }
    if let Some(c) = filter.customer {
        q.and_where(Expr::col("subject_kind").eq("customer"))
            .and_where(Expr::col("subject_id").eq(c));
    }
    if let Some(a) = filter.action {
        q.and_where(Expr::col("action").eq(a.as_str()));
    }
    if let Some(b) = filter.before {
        q.and_where(Expr::col("id").lt(b));
    }
    db.query_all(&q)
        .await?
        .iter()
        .map(|r| read_row(r).map(|(row, _, _)| row))
        .collect()
}
