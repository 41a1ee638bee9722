//! The register of recipients the salon shares data with (GDPR art. 19; PIPL art. 23), and the
//! tasks to pass an approved correction or deletion on to each of them, tracked to done.

use chrono::{DateTime, Utc};
use sea_orm::{
    ConnectionTrait,
    sea_query::{Expr, ExprTrait, Order, Query},
};

use crate::CoreError;

/// A new or changed register entry (the officer's form); every field 1 to 500 characters.
pub use portal_vocab::forms::Recipient;

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
        ])
        .values_panic([
            r.name.trim().into(),
            r.data_zh.trim().into(),
            r.data_en.trim().into(),
            r.purpose_zh.trim().into(),
            r.purpose_en.trim().into(),
        ])
        .returning_col("id")
        .to_owned();
    Ok(db
        .query_one(&q)
        .await?
        .ok_or(CoreError::NotFound)?
        .try_get("", "id")?)
}

/// Opens a task per recipient to pass request `request` on (inside the fulfilment transaction).
pub async fn open_tasks(db: &impl ConnectionTrait, request: i64) -> Result<u64, CoreError> {
    let mut n = 0;
    for r in db
        .query_all(
            &Query::select()
                .column("id")
                .from("third_parties")
                .to_owned(),
        )
        .await?
    {
        let tp: i64 = r.try_get("", "id")?;
        db.execute(
            &Query::insert()
                .into_table("request_propagations")
                .columns(["request_id", "third_party_id", "status"])
                .values_panic([request.into(), tp.into(), "open".into()])
                .to_owned(),
        )
        .await?;
        n += 1;
    }
    Ok(n)
}

/// One task: pass a correction or deletion on to a recipient.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Task {
    /// `request_propagations.id`.
    pub id: i64,
    /// The request it comes from.
    pub request: i64,
    /// Its kind (`correction` or `deletion`).
    pub kind: String,
    /// The recipient's name.
    pub recipient: String,
    /// `open` or `done`.
    pub status: String,
    /// When it was confirmed done.
    pub confirmed_at: Option<DateTime<Utc>>,
}

/// Tasks, open ones first.
pub async fn tasks(db: &impl ConnectionTrait, only_open: bool) -> Result<Vec<Task>, CoreError> {
    let mut q = Query::select()
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
        .order_by(("request_propagations", "status"), Order::Desc)
        .order_by(("request_propagations", "id"), Order::Asc)
        .limit(500)
        .to_owned();
    if only_open {
        q.and_where(Expr::col(("request_propagations", "status")).eq("open"));
    }
    db.query_all(&q)
        .await?
        .iter()
        .map(|r| {
            Ok(Task {
                id: r.try_get("", "id")?,
                request: r.try_get("", "request_id")?,
                kind: r.try_get("", "kind")?,
                recipient: r.try_get("", "name")?,
                status: r.try_get("", "status")?,
                confirmed_at: r.try_get("", "confirmed_at")?,
            })
        })
        .collect()
}

/// Marks a task done (the recipient confirmed the correction or deletion).
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
    Ok(())
}
