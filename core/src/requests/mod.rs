//! Data-subject requests: submitted by a customer (or recorded by staff at the counter), decided
//! by staff within the deadline, carried out by the portal. Every change is an event and a mail
//! to the customer, in the same transaction.

pub mod calendar;
pub mod copy_page;
pub mod decide;
pub mod email_change;
pub mod erase;
pub mod export;
pub mod fulfil;
use crate::mail::templates::request_update as mails;
pub mod open;
pub mod reminders;

use chrono::{DateTime, Duration, Months, Utc};
use sea_orm::{
    ConnectionTrait, DatabaseTransaction, TransactionSession, TransactionTrait,
    sea_query::{Condition, Expr, ExprTrait, Order, Query},
};
use serde::{Deserialize, Serialize};

pub use calendar::Calendar;
pub use portal_vocab::{Kind, Status};

use crate::{CoreError, Portal, access::Action, audit, customers, vault::Field};

/// Why a decision on a request is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Staff do not decide a request they submitted themselves (four eyes).
    OwnRequest,
    /// A deletion waits until the stored-value balance is settled.
    OpenBalance,
    /// A due date is extended once, and only within its limit.
    AlreadyExtended,
    /// The request is not in a state that allows this step.
    WrongState,
}

impl Refusal {
    /// The message key pages and redirects use.
    pub fn key(self) -> &'static str {
        match self {
            Refusal::OwnRequest => "request.own",
            Refusal::OpenBalance => "request.balance",
            Refusal::AlreadyExtended => "request.extended",
            Refusal::WrongState => "request.state",
        }
    }
}

/// Sealed request details (what the customer asked).
pub const DETAILS: Field = Field::new("requests", "details_sealed");

const OPEN: [&str; 3] = ["submitted", "in_review", "approved"];

/// What the customer asked, sealed under their key.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Details {
    /// Free text: the question, the reason, anything the customer wants staff to know.
    pub note: Option<String>,
    /// For a correction: `(field, new value)` pairs (`name`, `phone`, `email`).
    pub corrections: Vec<(String, String)>,
    /// For a correction: the fields staff approved (the rest stay as they were).
    #[serde(default)]
    pub approved: Vec<String>,
}

impl Details {
    /// Checks sizes and fields; a correction must name at least one known field.
    pub fn validate(&self, kind: Kind) -> Result<(), CoreError> {
        if let Some(n) = &self.note
            && n.chars().count() > 2000
        {
            return Err(CoreError::Invalid("request.note"));
        }
        if kind == Kind::Question && self.note.as_deref().is_none_or(|n| n.trim().is_empty()) {
            return Err(CoreError::Invalid("request.question"));
        }
        if kind == Kind::Correction {
            if self.corrections.is_empty() {
                return Err(CoreError::Invalid("request.corrections"));
            }
            for (field, value) in &self.corrections {
                let ok = match field.as_str() {
                    "name" => customers::CustomerName::parse(value).is_ok(),
                    "phone" => crate::phone::Phone::parse(value).is_ok(),
                    "email" => crate::email::Email::parse(value).is_ok(),
                    _ => false,
                };
                if !ok {
                    return Err(CoreError::Invalid("request.correction_value"));
                }
            }
        }
        Ok(())
    }
}

/// Who made a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Submitter {
    /// The customer, signed in.
    Customer,
    /// A member of staff, at the counter.
    Staff(i64),
}

/// What [`submit`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Submitted {
    /// The request (a new one, or the open one of the same kind it was merged into).
    pub id: i64,
    /// True when an open request of the same kind existed and this one was added to it.
    pub merged: bool,
}

/// Front desk files a request of kind `kind` (a code) the customer made in person; audited in
/// the request's own transaction, as submitted by staff `staff` (who may not decide it).
#[tracing::instrument(skip_all, fields(staff = staff, customer = customer))]
pub async fn staff_records(
    portal: &Portal,
    staff: i64,
    customer: i64,
    kind: &str,
    note: Option<String>,
    now: DateTime<Utc>,
) -> Result<Submitted, CoreError> {
    let details = Details {
        note: note.filter(|n| !n.trim().is_empty()),
        ..Details::default()
    };
    let kind = Kind::parse(kind)?;
    submit(
        portal,
        customer,
        kind,
        &details,
        Submitter::Staff(staff),
        now,
    )
    .await
}

/// What came of a request the customer filed in the portal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CustomerFiled {
    /// A new request.
    Submitted(i64),
    /// Added to the open request of the same kind.
    Merged(i64),
    /// Nothing was filed: an irreversible deletion, or moving the address that signs the
    /// customer in, needs a sign-in of the last 10 minutes (email control is a low assurance;
    /// security.md).
    NeedsFreshSignIn,
}

/// The customer's request form, read and filed (see [`submit`]); `fresh` says whether the
/// session was signed in within the last 10 minutes. Only a correction keeps its
/// `(field, value)` pairs, and only the filled ones.
#[tracing::instrument(skip_all, fields(customer = customer))]
pub async fn customer_files(
    portal: &Portal,
    customer: i64,
    fresh: bool,
    form: &portal_vocab::forms::Request,
    now: DateTime<Utc>,
) -> Result<CustomerFiled, CoreError> {
    let kind = Kind::parse(&form.kind)?;
    let filled = |v: &Option<String>| {
        v.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let fields = [
        ("name", &form.name),
        ("phone", &form.phone),
        ("email", &form.email),
    ];
    let corrections: Vec<(String, String)> = match kind {
        Kind::Correction => fields
            .into_iter()
            .filter_map(|(f, v)| filled(v).map(|v| (f.to_owned(), v)))
            .collect(),
        _ => Vec::new(),
    };
    // Deletion cannot be undone: the customer ticks that they read what goes and what stays.
    if kind == Kind::Deletion && form.confirm.is_none() {
        return Err(CoreError::Invalid("request.deletion_confirm"));
    }
    let moves_sign_in = corrections.iter().any(|(f, _)| f == "email");
    if (kind == Kind::Deletion || moves_sign_in) && !fresh {
        return Ok(CustomerFiled::NeedsFreshSignIn);
    }
    let details = Details {
        note: filled(&form.note),
        corrections,
        ..Details::default()
    };
    let s = submit(portal, customer, kind, &details, Submitter::Customer, now).await?;
    Ok(match s.merged {
        true => CustomerFiled::Merged(s.id),
        false => CustomerFiled::Submitted(s.id),
    })
}

/// One request as lists show it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    /// `requests.id`.
    pub id: i64,
    /// The customer (None once erased).
    pub customer: Option<i64>,
    /// What kind.
    pub kind: Kind,
    /// Where it is.
    pub status: Status,
    /// When it was made.
    pub submitted_at: DateTime<Utc>,
    /// When it is due.
    pub due_at: DateTime<Utc>,
    /// Set when extended (once).
    pub extended_at: Option<DateTime<Utc>>,
    /// Why it was extended.
    pub extension_reason: Option<String>,
    /// The member of staff who recorded it, if staff did.
    pub submitted_by_staff: Option<i64>,
    /// Who decided.
    pub decided_by_staff: Option<i64>,
    /// Why it was denied (or the answer to a question).
    pub decision_reason: Option<String>,
    /// When it was carried out.
    pub completed_at: Option<DateTime<Utc>>,
    /// What was done (told to the customer).
    pub outcome: Option<String>,
    /// Who it is assigned to.
    pub assigned_staff: Option<i64>,
}

const COLUMNS: [&str; 14] = [
    "id",
    "customer_id",
    "kind",
    "status",
    "submitted_at",
    "due_at",
    "extended_at",
    "extension_reason",
    "submitted_by_staff_id",
    "decided_by_staff_id",
    "decision_reason",
    "completed_at",
    "outcome",
    "assigned_staff_id",
];

fn read(r: &sea_orm::QueryResult) -> Result<Request, CoreError> {
    let kind: String = r.try_get("", "kind")?;
    let status: String = r.try_get("", "status")?;
    Ok(Request {
        id: r.try_get("", "id")?,
        customer: r.try_get("", "customer_id")?,
        kind: Kind::parse(&kind)?,
        status: Status::parse(&status)?,
        submitted_at: r.try_get("", "submitted_at")?,
        due_at: r.try_get("", "due_at")?,
        extended_at: r.try_get("", "extended_at")?,
        extension_reason: r.try_get("", "extension_reason")?,
        submitted_by_staff: r.try_get("", "submitted_by_staff_id")?,
        decided_by_staff: r.try_get("", "decided_by_staff_id")?,
        decision_reason: r.try_get("", "decision_reason")?,
        completed_at: r.try_get("", "completed_at")?,
        outcome: r.try_get("", "outcome")?,
        assigned_staff: r.try_get("", "assigned_staff_id")?,
    })
}

/// The calendar of this portal's settings.
pub fn calendar(portal: &Portal) -> Calendar {
    Calendar::new(portal.settings.holidays.iter().copied())
}

/// One request.
pub async fn get(db: &impl ConnectionTrait, id: i64) -> Result<Request, CoreError> {
    let q = Query::select()
        .columns(COLUMNS)
        .from("requests")
        .and_where(Expr::col("id").eq(id))
        .to_owned();
    read(&db.query_one(&q).await?.ok_or(CoreError::NotFound)?)
}

/// The details the customer gave, opened.
pub async fn details(
    db: &impl ConnectionTrait,
    vault: &crate::vault::Vault,
    id: i64,
) -> Result<Details, CoreError> {
    let q = Query::select()
        .columns(["customer_id", "details_sealed"])
        .from("requests")
        .and_where(Expr::col("id").eq(id))
        .to_owned();
    let r = db.query_one(&q).await?.ok_or(CoreError::NotFound)?;
    let customer: Option<i64> = r.try_get("", "customer_id")?;
    let sealed: Option<Vec<u8>> = r.try_get("", "details_sealed")?;
    let (Some(customer), Some(sealed)) = (customer, sealed) else {
        return Ok(Details::default());
    };
    let key = vault.customer_key(db, customer).await?;
    open_details(&key, id, &sealed)
}

fn open_details(
    key: &crate::vault::SecretKey,
    id: i64,
    sealed: &[u8],
) -> Result<Details, CoreError> {
    let text = customers::open_text(key, DETAILS, id, sealed)?;
    // The demo salon stores plain notes; anything that is not our JSON is a note.
    Ok(serde_json::from_str(&text).unwrap_or(Details {
        note: Some(text),
        ..Details::default()
    }))
}

/// A customer's requests, newest first.
pub async fn for_customer(
    db: &impl ConnectionTrait,
    customer: i64,
) -> Result<Vec<Request>, CoreError> {
    let q = Query::select()
        .columns(COLUMNS)
        .from("requests")
        .and_where(Expr::col("customer_id").eq(customer))
        .order_by("id", Order::Desc)
        .to_owned();
    db.query_all(&q).await?.iter().map(read).collect()
}

/// Which requests the queue shows.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueFilter {
    /// Only this kind.
    pub kind: Option<Kind>,
    /// Only this state; `None` means every open state.
    pub status: Option<Status>,
    /// Only overdue ones.
    pub overdue: bool,
    /// Only those due within 3 working days (not yet overdue).
    pub due_soon: bool,
}

impl QueueFilter {
    /// The queue page's GET form: a kind and a state by code (an unknown one filters nothing),
    /// `due` as `overdue` or `soon`.
    pub fn from_query(kind: Option<&str>, status: Option<&str>, due: Option<&str>) -> Self {
        QueueFilter {
            kind: kind.and_then(|k| Kind::parse(k).ok()),
            status: status.and_then(|s| Status::parse(s).ok()),
            overdue: due == Some("overdue"),
            due_soon: due == Some("soon"),
        }
    }
}

/// The one meaning of "overdue" and "due soon", for the dashboard's counts, the queue's filters
/// and the officer's reminders alike: overdue once the due instant has passed; due soon from
/// now to the end of the third working day ahead on the salon's calendar (its time zone and
/// holidays).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DueWindow {
    now: DateTime<Utc>,
    soon_until: DateTime<Utc>,
}

/// Where a due instant falls in a [`DueWindow`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Due {
    /// Past.
    Overdue,
    /// Within the next 3 working days.
    Soon,
    /// Later.
    Later,
}

impl DueWindow {
    /// The window as of `now`.
    pub fn at(portal: &Portal, now: DateTime<Utc>) -> Self {
        let cal = calendar(portal);
        let soon_until = cal.end_of(cal.add_working_days(cal.local_date(now), 3));
        DueWindow { now, soon_until }
    }

    /// Where `due` falls.
    pub fn classify(&self, due: DateTime<Utc>) -> Due {
        if due < self.now {
            Due::Overdue
        } else if due <= self.soon_until {
            Due::Soon
        } else {
            Due::Later
        }
    }

    /// `requests.due_at` has passed.
    pub fn overdue(&self) -> sea_orm::sea_query::SimpleExpr {
        Expr::col("due_at").lt(self.now)
    }

    /// `requests.due_at` is due soon.
    pub fn due_soon(&self) -> sea_orm::sea_query::SimpleExpr {
        Expr::col("due_at")
            .gte(self.now)
            .and(Expr::col("due_at").lte(self.soon_until))
    }
}

/// An outcome the portal writes, in both languages: the customer's pages, the staff's and the
/// copy each read it in theirs ([`outcome_text`]).
pub fn outcome_both(zh: &str, en: &str) -> String {
    serde_json::json!({ "format": OUTCOME_FORMAT, "zh": zh, "en": en }).to_string()
}

/// Marks an outcome written in both languages, so an officer's answer that happens to look like
/// one is never read as one.
const OUTCOME_FORMAT: &str = "portal-outcome/1";

/// A stored outcome in `lang`: one written in both languages ([`outcome_both`]) gives that
/// language's text; anything else (an officer's answer, in the words they wrote) as it is.
pub fn outcome_text(stored: &str, lang: portal_vocab::Lang) -> String {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Both {
        format: String,
        zh: String,
        en: String,
    }
    match serde_json::from_str::<Both>(stored) {
        Ok(b) if b.format == OUTCOME_FORMAT => match lang {
            portal_vocab::Lang::Zh => b.zh,
            portal_vocab::Lang::En => b.en,
        },
        _ => stored.to_owned(),
    }
}

/// The latest a request due at `due_at` may be extended to (two months later).
pub fn latest_extension(due_at: DateTime<Utc>) -> DateTime<Utc> {
    due_at.checked_add_months(Months::new(2)).unwrap_or(due_at)
}

/// The staff queue, soonest due first.
pub async fn queue(
    portal: &Portal,
    filter: &QueueFilter,
    now: DateTime<Utc>,
) -> Result<Vec<Request>, CoreError> {
    let mut q = Query::select()
        .columns(COLUMNS)
        .from("requests")
        .order_by("due_at", Order::Asc)
        .order_by("id", Order::Asc)
        .limit(500)
        .to_owned();
    match filter.status {
        Some(s) => {
            q.and_where(Expr::col("status").eq(s.as_str()));
        }
        None => {
            q.and_where(Expr::col("status").is_in(OPEN));
        }
    }
    if let Some(k) = filter.kind {
        q.and_where(Expr::col("kind").eq(k.as_str()));
    }
    let window = DueWindow::at(portal, now);
    if filter.overdue {
        q.and_where(window.overdue());
    }
    if filter.due_soon {
        q.and_where(window.due_soon());
    }
    portal.db.query_all(&q).await?.iter().map(read).collect()
}

/// An event by the portal itself (fulfilment).
async fn event_system<C: ConnectionTrait>(
    db: &C,
    request: i64,
    from: Status,
    to: Status,
    now: DateTime<Utc>,
) -> Result<(), CoreError> {
    db.execute(
        &Query::insert()
            .into_table("request_events")
            .columns(["request_id", "at", "actor_kind", "from_status", "to_status"])
            .values_panic([
                request.into(),
                now.into(),
                "system".into(),
                from.as_str().into(),
                to.as_str().into(),
            ])
            .to_owned(),
    )
    .await?;
    Ok(())
}

async fn event<C: ConnectionTrait>(
    db: &C,
    request: i64,
    staff: Option<i64>,
    from: Option<Status>,
    to: Status,
    note: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), CoreError> {
    db.execute(
        &Query::insert()
            .into_table("request_events")
            .columns([
                "request_id",
                "at",
                "actor_kind",
                "actor_staff_id",
                "from_status",
                "to_status",
                "note",
            ])
            .values_panic([
                request.into(),
                now.into(),
                if staff.is_some() { "staff" } else { "customer" }.into(),
                staff.into(),
                from.map(Status::as_str).into(),
                to.as_str().into(),
                note.into(),
            ])
            .to_owned(),
    )
    .await?;
    Ok(())
}

/// Tells the customer (when they have an email on record), in their language, in `db`'s
/// transaction.
async fn tell<C: ConnectionTrait + TransactionTrait>(
    portal: &Portal,
    db: &C,
    request: &Request,
    what: mails::Change<'_>,
) -> Result<(), CoreError> {
    let Some(customer) = request.customer else {
        return Ok(());
    };
    if !worth_a_mail(request, &what) {
        return Ok(());
    }
    let key = portal.vault.customer_key(db, customer).await?;
    tell_with_key(portal, db, &key, request, what).await
}

/// The portal carries these out at once: the "done" mail (or the deletion receipt) follows
/// within moments, and an "approved" mail before it would only be one more to read.
fn worth_a_mail(request: &Request, what: &mails::Change<'_>) -> bool {
    !(matches!(what, mails::Change::Approved) && fulfil::HANDLED.contains(&request.kind))
}

/// [`tell`] with the customer's key at hand: one read (address and language) and the mail.
async fn tell_with_key<C: ConnectionTrait + TransactionTrait>(
    portal: &Portal,
    db: &C,
    key: &crate::vault::SecretKey,
    request: &Request,
    what: mails::Change<'_>,
) -> Result<(), CoreError> {
    let Some(customer) = request.customer else {
        return Ok(());
    };
    if !worth_a_mail(request, &what) {
        return Ok(());
    }
    let Some((to, lang)) = customers::mail_address(db, key, customer).await? else {
        return Ok(());
    };
    let mail = mails::request_mail(portal, lang, to, request, what);
    crate::mail::enqueue_with_key(db, key, Some(customer), "request", &mail).await?;
    Ok(())
}

/// Makes a request, or adds to the open one of the same kind (one open request per kind).
#[tracing::instrument(skip_all, fields(customer = customer, kind = kind.as_str()))]
pub async fn submit(
    portal: &Portal,
    customer: i64,
    kind: Kind,
    details: &Details,
    by: Submitter,
    now: DateTime<Utc>,
) -> Result<Submitted, CoreError> {
    details.validate(kind)?;
    // Through the group commit: a burst of requests shares one sync of the log (SQLite).
    let (p, details) = (portal.clone(), details.clone());
    let submitted = portal
        .writer
        .write(Box::new(move |tx| {
            Box::pin(async move { submit_in(&p, tx, customer, kind, &details, by, now).await })
        }))
        .await?;
    portal.outbox.notify();
    Ok(submitted)
}

/// [`submit`]'s work, in the writer's transaction.
async fn submit_in(
    portal: &Portal,
    tx: &DatabaseTransaction,
    customer: i64,
    kind: Kind,
    details: &Details,
    by: Submitter,
    now: DateTime<Utc>,
) -> Result<Submitted, CoreError> {
    let key = portal.vault.customer_key(tx, customer).await?;
    let open = Query::select()
        .columns(COLUMNS)
        .column("details_sealed")
        .from("requests")
        .and_where(Expr::col("customer_id").eq(customer))
        .and_where(Expr::col("kind").eq(kind.as_str()))
        .and_where(Expr::col("status").is_in(OPEN))
        .to_owned();
    let staff = match by {
        Submitter::Staff(s) => Some(s),
        Submitter::Customer => None,
    };
    if let Some(r) = tx.query_one(&open).await? {
        // A merge changes no column but the details: the row as read is the request after it.
        let request = read(&r)?;
        let id = request.id;
        let mut merged = match r.try_get::<Option<Vec<u8>>>("", "details_sealed")? {
            Some(sealed) => open_details(&key, id, &sealed)?,
            None => Details::default(),
        };
        if let Some(n) = details.note.as_deref().filter(|n| !n.trim().is_empty()) {
            merged.note = Some(match merged.note.take() {
                Some(old) => format!("{old}\n\n{n}"),
                None => n.to_owned(),
            });
        }
        merged
            .corrections
            .extend(details.corrections.iter().cloned());
        let text =
            serde_json::to_string(&merged).map_err(|_| CoreError::Invalid("request.details"))?;
        tx.execute(
            &Query::update()
                .table("requests")
                .value(
                    "details_sealed",
                    customers::seal_text(&key, DETAILS, id, &text),
                )
                .and_where(Expr::col("id").eq(id))
                .to_owned(),
        )
        .await?;
        event(
            tx,
            id,
            staff,
            Some(request.status),
            request.status,
            Some("merged"),
            now,
        )
        .await?;
        tell_with_key(portal, tx, &key, &request, mails::Change::Merged).await?;
        if let Some(s) = staff {
            audit::append_by_staff(tx, s, Action::RecordRequest, Some(customer), now).await?;
        }
        return Ok(Submitted { id, merged: true });
    }
    let due = calendar(portal).due_at(now, portal.settings.request_days);
    let insert = Query::insert()
        .into_table("requests")
        .columns([
            "customer_id",
            "kind",
            "status",
            "submitted_at",
            "due_at",
            "submitted_by_staff_id",
        ])
        .values_panic([
            customer.into(),
            kind.as_str().into(),
            Status::Submitted.as_str().into(),
            now.into(),
            due.into(),
            staff.into(),
        ])
        .returning_col("id")
        .to_owned();
    let id: i64 = tx
        .query_one(&insert)
        .await?
        .ok_or(CoreError::NotFound)?
        .try_get("", "id")?;
    let text = serde_json::to_string(details).map_err(|_| CoreError::Invalid("request.details"))?;
    tx.execute(
        &Query::update()
            .table("requests")
            .value(
                "details_sealed",
                customers::seal_text(&key, DETAILS, id, &text),
            )
            .and_where(Expr::col("id").eq(id))
            .to_owned(),
    )
    .await?;
    event(tx, id, staff, None, Status::Submitted, None, now).await?;
    let request = get(tx, id).await?;
    tell_with_key(portal, tx, &key, &request, mails::Change::Received).await?;
    reminders::tell_officers(portal, tx, (id, customer), kind, (now, due)).await?;
    if let Some(s) = staff {
        audit::append_by_staff(tx, s, Action::RecordRequest, Some(customer), now).await?;
    }
    Ok(Submitted { id, merged: false })
}

/// Moves `id` from one of `from` to `to` with one conditional UPDATE (so two staff acting at
/// once cannot both succeed), sets `extra` columns, records the event and tells the customer.
#[allow(clippy::too_many_arguments)]
async fn transition(
    portal: &Portal,
    id: i64,
    customer: Option<i64>,
    from: &[Status],
    to: Status,
    staff: Option<i64>,
    extra: Vec<(&'static str, sea_orm::Value)>,
    note: Option<&str>,
    change: mails::Change<'_>,
    now: DateTime<Utc>,
) -> Result<Request, CoreError> {
    let tx = crate::db::begin_write(&portal.db).await?;
    let before = get(&tx, id).await?;
    if customer.is_some() && before.customer != customer {
        return Err(CoreError::NotFound);
    }
    let mut q = Query::update()
        .table("requests")
        .value("status", to.as_str())
        .and_where(Expr::col("id").eq(id))
        .and_where(Expr::col("status").is_in(from.iter().map(|s| s.as_str())))
        .to_owned();
    for (col, v) in extra {
        q.value(col, v);
    }
    if tx.execute(&q).await?.rows_affected() != 1 {
        return Err(Refusal::WrongState.into());
    }
    event(&tx, id, staff, Some(before.status), to, note, now).await?;
    let after = get(&tx, id).await?;
    tell(portal, &tx, &after, change).await?;
    if let Some(s) = staff {
        audit::append_by_staff(&tx, s, Action::DecideRequest, after.customer, now).await?;
    }
    tx.commit().await?;
    portal.outbox.notify();
    Ok(after)
}

/// The customer withdraws a request while it waits or is in review.
#[tracing::instrument(skip_all, fields(customer = customer, request = id))]
pub async fn cancel(
    portal: &Portal,
    customer: i64,
    id: i64,
    now: DateTime<Utc>,
) -> Result<Request, CoreError> {
    transition(
        portal,
        id,
        Some(customer),
        &[Status::Submitted, Status::InReview],
        Status::Cancelled,
        None,
        vec![("completed_at", now.into())],
        None,
        mails::Change::Cancelled,
        now,
    )
    .await
}

/// A member of staff starts looking at a request (and takes it, when nobody has).
pub async fn start_review(
    portal: &Portal,
    staff: i64,
    id: i64,
    now: DateTime<Utc>,
) -> Result<Request, CoreError> {
    let r = get(&portal.db, id).await?;
    let assignee = r.assigned_staff.unwrap_or(staff);
    transition(
        portal,
        id,
        None,
        &[Status::Submitted],
        Status::InReview,
        Some(staff),
        vec![("assigned_staff_id", assignee.into())],
        None,
        mails::Change::InReview,
        now,
    )
    .await
}

/// Approves a correction field by field: only `fields` (of those proposed) will be applied.
pub async fn approve_correction(
    portal: &Portal,
    staff: i64,
    id: i64,
    fields: &[String],
    now: DateTime<Utc>,
) -> Result<Request, CoreError> {
    let r = get(&portal.db, id).await?;
    let (Kind::Correction, Some(customer)) = (r.kind, r.customer) else {
        return Err(CoreError::Invalid("request.kind"));
    };
    let mut d = details(&portal.db, &portal.vault, id).await?;
    d.approved = d
        .corrections
        .iter()
        .map(|(f, _)| f.clone())
        .filter(|f| fields.contains(f))
        .collect();
    let key = portal.vault.customer_key(&portal.db, customer).await?;
    let text = serde_json::to_string(&d).map_err(|_| CoreError::Invalid("request.details"))?;
    portal
        .db
        .execute(
            &Query::update()
                .table("requests")
                .value(
                    "details_sealed",
                    customers::seal_text(&key, DETAILS, id, &text),
                )
                .and_where(Expr::col("id").eq(id))
                .and_where(Expr::col("status").is_in(["submitted", "in_review"]))
                .to_owned(),
        )
        .await?;
    approve(portal, staff, id, now).await
}

/// Approves a request. The member of staff who recorded it never approves it; a deletion waits
/// while the membership still holds a balance.
#[tracing::instrument(skip_all, fields(staff = staff, request = id))]
pub async fn approve(
    portal: &Portal,
    staff: i64,
    id: i64,
    now: DateTime<Utc>,
) -> Result<Request, CoreError> {
    let r = get(&portal.db, id).await?;
    if r.submitted_by_staff == Some(staff) {
        return Err(Refusal::OwnRequest.into());
    }
    if r.kind == Kind::Deletion
        && let Some(c) = r.customer
        && crate::membership::balance_cents(&portal.db, c).await? > 0
    {
        return Err(Refusal::OpenBalance.into());
    }
    transition(
        portal,
        id,
        None,
        &[Status::Submitted, Status::InReview],
        Status::Approved,
        Some(staff),
        vec![
            ("decided_by_staff_id", staff.into()),
            ("decided_at", now.into()),
        ],
        None,
        mails::Change::Approved,
        now,
    )
    .await
}

fn reason_text(reason: &str) -> Result<String, CoreError> {
    let r = reason.trim();
    if r.is_empty() || r.chars().count() > 2000 {
        return Err(CoreError::Invalid("request.reason"));
    }
    Ok(r.to_owned())
}

/// Denies a request; the reason is required and sent to the customer. For a question, the
/// reason is the privacy officer's answer and the request is done rather than denied.
#[tracing::instrument(skip_all, fields(staff = staff, request = id))]
pub async fn deny(
    portal: &Portal,
    staff: i64,
    id: i64,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<Request, CoreError> {
    let reason = reason_text(reason)?;
    let r = get(&portal.db, id).await?;
    if r.submitted_by_staff == Some(staff) {
        return Err(Refusal::OwnRequest.into());
    }
    transition(
        portal,
        id,
        None,
        &[Status::Submitted, Status::InReview],
        Status::Denied,
        Some(staff),
        vec![
            ("decided_by_staff_id", staff.into()),
            ("decided_at", now.into()),
            ("decision_reason", reason.clone().into()),
            ("completed_at", now.into()),
        ],
        None,
        mails::Change::Denied(&reason),
        now,
    )
    .await
}

/// Answers a question or complaint, with reasons; the request is done.
pub async fn answer(
    portal: &Portal,
    staff: i64,
    id: i64,
    answer: &str,
    now: DateTime<Utc>,
) -> Result<Request, CoreError> {
    let answer = reason_text(answer)?;
    let r = get(&portal.db, id).await?;
    if r.kind != Kind::Question {
        return Err(CoreError::Invalid("request.kind"));
    }
    transition(
        portal,
        id,
        None,
        &[Status::Submitted, Status::InReview],
        Status::Done,
        Some(staff),
        vec![
            ("decided_by_staff_id", staff.into()),
            ("decided_at", now.into()),
            ("decision_reason", answer.clone().into()),
            ("completed_at", now.into()),
            ("outcome", answer.clone().into()),
        ],
        None,
        mails::Change::Answered(&answer),
        now,
    )
    .await
}

/// Extends the due date once, by at most two months, with a reason the customer is told.
#[tracing::instrument(skip_all, fields(staff = staff, request = id))]
pub async fn extend(
    portal: &Portal,
    staff: i64,
    id: i64,
    reason: &str,
    new_due: chrono::NaiveDate,
    now: DateTime<Utc>,
) -> Result<Request, CoreError> {
    let reason = reason_text(reason)?;
    let r = get(&portal.db, id).await?;
    if r.extended_at.is_some() {
        return Err(Refusal::AlreadyExtended.into());
    }
    let cal = calendar(portal);
    let due = cal.end_of(new_due);
    let limit = latest_extension(r.due_at);
    if due <= r.due_at || due > limit + Duration::seconds(1) {
        return Err(CoreError::Invalid("request.extension"));
    }
    let status = r.status;
    if !status.is_open() {
        return Err(Refusal::WrongState.into());
    }
    let tx = crate::db::begin_write(&portal.db).await?;
    let mut q = Query::update()
        .table("requests")
        .value("due_at", due)
        .value("extended_at", now)
        .value("extension_reason", reason.clone())
        // A new due date earns a new reminder.
        .value("reminded_at", Option::<DateTime<Utc>>::None)
        .value("overdue_notified_at", Option::<DateTime<Utc>>::None)
        .and_where(Expr::col("id").eq(id))
        .and_where(Expr::col("extended_at").is_null())
        .to_owned();
    q.cond_where(Condition::all().add(Expr::col("status").is_in(OPEN)));
    if tx.execute(&q).await?.rows_affected() != 1 {
        return Err(Refusal::AlreadyExtended.into());
    }
    event(
        &tx,
        id,
        Some(staff),
        Some(status),
        status,
        Some("extended"),
        now,
    )
    .await?;
    let after = get(&tx, id).await?;
    tell(portal, &tx, &after, mails::Change::Extended(&reason)).await?;
    audit::append_by_staff(&tx, staff, Action::DecideRequest, after.customer, now).await?;
    tx.commit().await?;
    portal.outbox.notify();
    Ok(after)
}

/// Assigns a request to a member of staff (who takes it themself), audited with the change.
pub async fn assign<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    id: i64,
    staff: i64,
    now: DateTime<Utc>,
) -> Result<(), CoreError> {
    let tx = crate::db::begin_write(db).await?;
    let q = Query::update()
        .table("requests")
        .value("assigned_staff_id", staff)
        .and_where(Expr::col("id").eq(id))
        .and_where(Expr::col("status").is_in(OPEN))
        .to_owned();
    if tx.execute(&q).await?.rows_affected() != 1 {
        return Err(Refusal::WrongState.into());
    }
    let customer = get(&tx, id).await?.customer;
    audit::append_by_staff(&tx, staff, Action::DecideRequest, customer, now).await?;
    tx.commit().await?;
    Ok(())
}

/// Marks an approved request carried out, with what was done; the customer is told.
pub async fn complete(
    portal: &Portal,
    id: i64,
    outcome: &str,
    now: DateTime<Utc>,
) -> Result<Request, CoreError> {
    transition(
        portal,
        id,
        None,
        &[Status::Approved],
        Status::Done,
        None,
        vec![
            ("completed_at", now.into()),
            ("outcome", outcome.to_owned().into()),
        ],
        None,
        mails::Change::Done(outcome),
        now,
    )
    .await
}

/// One entry of a request's history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// When.
    pub at: DateTime<Utc>,
    /// `customer`, `staff` or `system`.
    pub actor_kind: String,
    /// From.
    pub from: Option<String>,
    /// To.
    pub to: String,
    /// `merged`, `extended`, ...
    pub note: Option<String>,
}

/// A request's history, oldest first.
pub async fn events(db: &impl ConnectionTrait, id: i64) -> Result<Vec<Event>, CoreError> {
    let q = Query::select()
        .columns(["at", "actor_kind", "from_status", "to_status", "note"])
        .from("request_events")
        .and_where(Expr::col("request_id").eq(id))
        .order_by("id", Order::Asc)
        .to_owned();
    db.query_all(&q)
        .await?
        .iter()
        .map(|r| {
            Ok(Event {
                at: r.try_get("", "at")?,
                actor_kind: r.try_get("", "actor_kind")?,
                from: r.try_get("", "from_status")?,
                to: r.try_get("", "to_status")?,
                note: r.try_get("", "note")?,
            })
        })
        .collect()
}

#[cfg(test)]
mod outcome_tests {
    use super::{outcome_both, outcome_text};
    use portal_vocab::Lang;

    #[test]
    fn an_outcome_reads_in_each_language_and_an_officers_answer_stays_as_written() {
        let both = outcome_both("已完成。", "Done.");
        assert_eq!(outcome_text(&both, Lang::Zh), "已完成。");
        assert_eq!(outcome_text(&both, Lang::En), "Done.");
        // An answer that happens to look like one is shown as the officer wrote it.
        for answer in [
            r#"{"zh": "甲", "en": "B"}"#,
            r#"{"format": "portal-outcome/1", "zh": "甲", "en": "B", "x": 1}"#,
            "Plain words.",
        ] {
            assert_eq!(outcome_text(answer, Lang::En), answer);
        }
    }
}
