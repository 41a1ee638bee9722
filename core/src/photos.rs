//! Per-photo consent: what each photo may be used for, until when, and the takedown tasks that
//! follow when a public use ends.
//!
//! Keeping a photo at all is the internal record (it goes with a deletion request, not with a
//! switch here). The public uses are the salon portfolio and each named social platform; each is
//! a row of `photo_uses` with an optional end date, every change is an event of
//! `photo_use_events`, and a public use only counts while the matching purpose switch
//! (`photos_portfolio`, `photos_social`) is on too. When a public use ends (withdrawn, lapsed, the
//! purpose switched off, the customer erased) a task lands in `photo_takedowns`, because the
//! photo may already be up somewhere and someone has to take it down.

use chrono::{DateTime, Utc};
use sea_orm::{
    ConnectionTrait, TransactionSession, TransactionTrait,
    sea_query::{Expr, ExprTrait, Order, Query},
};

pub use portal_vocab::{PhotoUse, Platform};

use crate::{
    CoreError,
    consents::{self, Channel, Purpose},
};

/// Why a photo use is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The use needs the photo consent, which is off.
    PurposeOff,
    /// An end date must be a date, and lie in the future.
    EndInPast,
}

impl Refusal {
    /// The message key pages and redirects use.
    pub fn key(self) -> &'static str {
        match self {
            Refusal::PurposeOff => "photo_purpose_off",
            Refusal::EndInPast => "photo_end",
        }
    }
}

/// Why a use ended or began; stored in the ledger and on takedown tasks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    /// The customer (or staff on their word) changed it.
    Changed,
    /// Its end date passed.
    Lapsed,
    /// The customer switched the purpose off.
    ConsentOff,
    /// The customer's data was erased.
    Erased,
}

impl Reason {
    /// Stable code.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Changed => "changed",
            Reason::Lapsed => "lapsed",
            Reason::ConsentOff => "consent_off",
            Reason::Erased => "erased",
        }
    }
}

/// One photo with the public uses in force now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PhotoUses {
    /// `photos.id`.
    pub id: i64,
    /// When it was taken.
    pub taken_at: DateTime<Utc>,
    /// `before` or `after`.
    pub kind: String,
    /// `(use, end)`: granted and not past its end (the purpose switch is not looked at here).
    pub uses: Vec<(PhotoUse, Option<DateTime<Utc>>)>,
}

/// The customer's photos and their uses in force at `now`.
pub async fn for_customer(
    db: &impl ConnectionTrait,
    customer: i64,
    now: DateTime<Utc>,
) -> Result<Vec<PhotoUses>, CoreError> {
    let q = Query::select()
        .columns(["id", "taken_at", "kind"])
        .from("photos")
        .and_where(Expr::col("customer_id").eq(customer))
        .order_by("id", Order::Asc)
        .to_owned();
    let mut out = Vec::new();
    for r in db.query_all(&q).await? {
        let id: i64 = r.try_get("", "id")?;
        out.push(PhotoUses {
            id,
            taken_at: r.try_get("", "taken_at")?,
            kind: r.try_get("", "kind")?,
            uses: uses_of(db, id, now).await?,
        });
    }
    Ok(out)
}

async fn uses_of(
    db: &impl ConnectionTrait,
    photo: i64,
    now: DateTime<Utc>,
) -> Result<Vec<(PhotoUse, Option<DateTime<Utc>>)>, CoreError> {
    let q = Query::select()
        .columns(["use_code", "ends_at"])
        .from("photo_uses")
        .and_where(Expr::col("photo_id").eq(photo))
        .to_owned();
    let mut uses = Vec::new();
    for r in db.query_all(&q).await? {
        let code: String = r.try_get("", "use_code")?;
        let ends: Option<DateTime<Utc>> = r.try_get("", "ends_at")?;
        // Past its end it no longer counts, even before the sweep records the lapse.
        if ends.is_some_and(|e| e <= now) {
            continue;
        }
        if let Ok(u) = PhotoUse::parse(&code) {
            uses.push((u, ends));
        }
    }
    let order = PhotoUse::all();
    uses.sort_by_key(|(u, _)| order.iter().position(|o| o == u));
    Ok(uses)
}

/// Whether a photo may be used publicly in this way right now: the use is granted and not past
/// its end, and the matching purpose switch is on.
pub async fn may_use(
    db: &impl ConnectionTrait,
    photo: i64,
    used: PhotoUse,
    now: DateTime<Utc>,
) -> Result<bool, CoreError> {
    let q = Query::select()
        .column("customer_id")
        .from("photos")
        .and_where(Expr::col("id").eq(photo))
        .to_owned();
    let Some(r) = db.query_one(&q).await? else {
        return Ok(false);
    };
    let customer: i64 = r.try_get("", "customer_id")?;
    Ok(uses_of(db, photo, now)
        .await?
        .iter()
        .any(|(u, _)| *u == used)
        && consents::granted(db, customer, used.purpose()).await?)
}

/// Who made a change, and through which channel.
#[derive(Clone, Copy, Debug)]
pub struct Actor {
    /// Where.
    pub channel: Channel,
    /// The staff member who recorded it (None when the customer did it).
    pub staff: Option<i64>,
}

/// What [`set_uses`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Uses granted (or given a new end date).
    pub granted: usize,
    /// Uses withdrawn.
    pub withdrawn: usize,
    /// Takedown tasks opened.
    pub takedowns: usize,
}

/// What came of a customer's change in the portal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CustomerChange {
    /// Applied.
    Applied(Outcome),
    /// It adds a public use the photo does not have, and the explicit tick was not given:
    /// nothing changed (withdrawing never needs the tick).
    NeedsConfirmation,
}

/// The customer's form for one photo: the ticked uses until the end of `until` (a salon-local
/// date, inclusive; blank: until withdrawn), as [`customer_sets_uses`]. A date that does not
/// read is [`Refusal::EndInPast`].
pub async fn customer_form(
    portal: &crate::Portal,
    customer: i64,
    photo: i64,
    form: &portal_vocab::forms::PhotoUses,
    now: DateTime<Utc>,
) -> Result<CustomerChange, CoreError> {
    let until = form
        .until
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty());
    let ends = match until.map(|s| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")) {
        None => None,
        Some(Ok(d)) => Some(crate::requests::calendar(portal).end_of(d)),
        Some(Err(_)) => return Err(Refusal::EndInPast.into()),
    };
    let (wanted, confirmed) = (form.ticked(), form.confirm.is_some());
    customer_sets_uses(&portal.db, customer, photo, &wanted, ends, confirmed, now).await
}

/// The customer sets the public uses of their photo in the portal. A use the photo does not
/// have yet needs `confirmed` (the explicit tick); then as [`set_uses`].
#[tracing::instrument(skip_all, fields(customer = customer, photo = photo))]
pub async fn customer_sets_uses(
    db: &(impl ConnectionTrait + TransactionTrait),
    customer: i64,
    photo: i64,
    wanted: &[PhotoUse],
    ends: Option<DateTime<Utc>>,
    confirmed: bool,
    now: DateTime<Utc>,
) -> Result<CustomerChange, CoreError> {
    let held: Vec<PhotoUse> = for_customer(db, customer, now)
        .await?
        .into_iter()
        .find(|x| x.id == photo)
        .map(|x| x.uses.into_iter().map(|(u, _)| u).collect())
        .unwrap_or_default();
    if !confirmed && wanted.iter().any(|u| !held.contains(u)) {
        return Ok(CustomerChange::NeedsConfirmation);
    }
    let actor = Actor {
        channel: Channel::Portal,
        staff: None,
    };
    let done = set_uses(db, customer, photo, wanted, ends, actor, now).await?;
    Ok(CustomerChange::Applied(done))
}

/// Sets the public uses of one of the customer's photos to exactly `wanted`, each new or kept use
/// ending at `ends` (None: until withdrawn). Every difference is a ledger event; every withdrawn
/// use opens a takedown task. A use whose purpose switch is off cannot be granted
/// (`Refusal::PurposeOff`); an end date must lie in the future (`Refusal::EndInPast`);
/// another customer's photo is `NotFound`. Nothing changes on an error.
pub async fn set_uses<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    customer: i64,
    photo: i64,
    wanted: &[PhotoUse],
    ends: Option<DateTime<Utc>>,
    actor: Actor,
    now: DateTime<Utc>,
) -> Result<Outcome, CoreError> {
    if ends.is_some_and(|e| e <= now) {
        return Err(Refusal::EndInPast.into());
    }
    let tx = crate::db::begin_write(db).await?;
    let owner = Query::select()
        .column("taken_at")
        .from("photos")
        .and_where(Expr::col("id").eq(photo))
        .and_where(Expr::col("customer_id").eq(customer))
        .to_owned();
    let taken: DateTime<Utc> = tx
        .query_one(&owner)
        .await?
        .ok_or(CoreError::NotFound)?
        .try_get("", "taken_at")?;
    let current = uses_of(&tx, photo, now).await?;
    let mut out = Outcome::default();
    for u in wanted {
        let held = current.iter().find(|(c, _)| c == u);
        if held.is_some_and(|(_, e)| *e == ends) {
            continue;
        }
        if held.is_none() && !consents::granted(&tx, customer, u.purpose()).await? {
            return Err(Refusal::PurposeOff.into());
        }
        grant(&tx, customer, photo, *u, ends, actor, now).await?;
        out.granted += 1;
    }
    for (u, _) in &current {
        if !wanted.contains(u)
            && end_use(&tx, customer, photo, taken, *u, Reason::Changed, actor, now).await?
        {
            out.withdrawn += 1;
            out.takedowns += 1;
        }
    }
    tx.commit().await?;
    Ok(out)
}

async fn grant(
    tx: &impl ConnectionTrait,
    customer: i64,
    photo: i64,
    used: PhotoUse,
    ends: Option<DateTime<Utc>>,
    actor: Actor,
    now: DateTime<Utc>,
) -> Result<(), CoreError> {
    // Drop a lapsed or older row of the same use first, so the upsert is portable.
    tx.execute(
        &Query::delete()
            .from_table("photo_uses")
            .and_where(Expr::col("photo_id").eq(photo))
            .and_where(Expr::col("use_code").eq(used.code()))
            .to_owned(),
    )
    .await?;
    tx.execute(
        &Query::insert()
            .into_table("photo_uses")
            .columns(["photo_id", "use_code", "ends_at", "granted_at"])
            .values_panic([photo.into(), used.code().into(), ends.into(), now.into()])
            .to_owned(),
    )
    .await?;
    event(
        tx,
        customer,
        photo,
        used,
        true,
        ends,
        Reason::Changed,
        actor,
        now,
    )
    .await
}

#[allow(clippy::too_many_arguments)]
async fn event(
    tx: &impl ConnectionTrait,
    customer: i64,
    photo: i64,
    used: PhotoUse,
    granted: bool,
    ends: Option<DateTime<Utc>>,
    reason: Reason,
    actor: Actor,
    now: DateTime<Utc>,
) -> Result<(), CoreError> {
    tx.execute(
        &Query::insert()
            .into_table("photo_use_events")
            .columns([
                "photo_id",
                "customer_id",
                "use_code",
                "granted",
                "ends_at",
                "at",
                "channel",
                "reason",
                "recorded_by_staff_id",
            ])
            .values_panic([
                photo.into(),
                customer.into(),
                used.code().into(),
                granted.into(),
                ends.into(),
                now.into(),
                actor.channel.as_str().into(),
                reason.as_str().into(),
                actor.staff.into(),
            ])
            .to_owned(),
    )
    .await?;
    Ok(())
}

/// Ends one use: deletes the row, records the event, opens the takedown task. False (and
/// nothing written) when another process ended it first, so each lapse opens one task.
#[allow(clippy::too_many_arguments)]
async fn end_use(
    tx: &impl ConnectionTrait,
    customer: i64,
    photo: i64,
    taken: DateTime<Utc>,
    used: PhotoUse,
    reason: Reason,
    actor: Actor,
    now: DateTime<Utc>,
) -> Result<bool, CoreError> {
    let gone = tx
        .execute(
            &Query::delete()
                .from_table("photo_uses")
                .and_where(Expr::col("photo_id").eq(photo))
                .and_where(Expr::col("use_code").eq(used.code()))
                .to_owned(),
        )
        .await?
        .rows_affected();
    if gone == 0 {
        return Ok(false);
    }
    event(tx, customer, photo, used, false, None, reason, actor, now).await?;
    tx.execute(
        &Query::insert()
            .into_table("photo_takedowns")
            .columns([
                "photo_id",
                "photo_ref",
                "photo_taken_at",
                "use_code",
                "reason",
                "created_at",
            ])
            .values_panic([
                photo.into(),
                photo.into(),
                taken.into(),
                used.code().into(),
                reason.as_str().into(),
                now.into(),
            ])
            .to_owned(),
    )
    .await?;
    Ok(true)
}

/// Ends every use of the customer's photos that `keep` rejects, inside the caller's transaction.
async fn end_where(
    tx: &impl ConnectionTrait,
    customer: i64,
    reason: Reason,
    actor: Actor,
    now: DateTime<Utc>,
    keep: impl Fn(PhotoUse) -> bool,
) -> Result<usize, CoreError> {
    let q = Query::select()
        .column(("photos", "id"))
        .column(("photos", "taken_at"))
        .column(("photo_uses", "use_code"))
        .from("photo_uses")
        .inner_join(
            "photos",
            Expr::col(("photos", "id")).equals(("photo_uses", "photo_id")),
        )
        .and_where(Expr::col(("photos", "customer_id")).eq(customer))
        .to_owned();
    let mut n = 0;
    for r in tx.query_all(&q).await? {
        let code: String = r.try_get("", "use_code")?;
        let Ok(u) = PhotoUse::parse(&code) else {
            continue;
        };
        if keep(u) {
            continue;
        }
        let id: i64 = r.try_get("", "id")?;
        let taken: DateTime<Utc> = r.try_get("", "taken_at")?;
        n += usize::from(end_use(tx, customer, id, taken, u, reason, actor, now).await?);
    }
    Ok(n)
}

/// Called inside the consent transaction when a purpose switch goes off: the photo uses that
/// needed it end, each with a takedown task.
pub(crate) async fn on_purpose_withdrawn(
    tx: &impl ConnectionTrait,
    customer: i64,
    purpose: Purpose,
    actor: Actor,
    now: DateTime<Utc>,
) -> Result<usize, CoreError> {
    if !matches!(purpose, Purpose::PhotosPortfolio | Purpose::PhotosSocial) {
        return Ok(0);
    }
    end_where(tx, customer, Reason::ConsentOff, actor, now, |u| {
        u.purpose() != purpose
    })
    .await
}

/// Called inside the erasure transaction, before the photos go: every public use ends with a
/// takedown task (which outlives the photo).
pub async fn on_erasure(
    tx: &impl ConnectionTrait,
    customer: i64,
    now: DateTime<Utc>,
) -> Result<usize, CoreError> {
    let actor = Actor {
        channel: Channel::Portal,
        staff: None,
    };
    end_where(tx, customer, Reason::Erased, actor, now, |_| false).await
}

/// Records the lapse of every use whose end date has passed (the read side already ignores
/// them): event plus takedown task each. Run by the background loop; returns how many lapsed.
pub async fn lapse<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    now: DateTime<Utc>,
) -> Result<usize, CoreError> {
    let q = Query::select()
        .column(("photos", "id"))
        .column(("photos", "customer_id"))
        .column(("photos", "taken_at"))
        .column(("photo_uses", "use_code"))
        .from("photo_uses")
        .inner_join(
            "photos",
            Expr::col(("photos", "id")).equals(("photo_uses", "photo_id")),
        )
        .and_where(Expr::col(("photo_uses", "ends_at")).lte(now))
        .to_owned();
    let actor = Actor {
        channel: Channel::Portal,
        staff: None,
    };
    // Read first: the loop runs every few seconds and must not take SQLite's write lock when
    // nothing has lapsed (which is nearly always). A use found here but ended by another
    // replica meanwhile is skipped by `end_use`.
    let due = db.query_all(&q).await?;
    if due.is_empty() {
        return Ok(0);
    }
    let tx = crate::db::begin_write(db).await?;
    let mut n = 0;
    for r in due {
        let code: String = r.try_get("", "use_code")?;
        let id: i64 = r.try_get("", "id")?;
        let Ok(u) = PhotoUse::parse(&code) else {
            continue;
        };
        let customer: i64 = r.try_get("", "customer_id")?;
        let taken: DateTime<Utc> = r.try_get("", "taken_at")?;
        n += usize::from(end_use(&tx, customer, id, taken, u, Reason::Lapsed, actor, now).await?);
    }
    tx.commit().await?;
    Ok(n)
}

/// One takedown task as the staff queue shows it: no customer field, only the photo's number
/// and date, so marketing can act on it without seeing a profile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Takedown {
    /// Task id.
    pub id: i64,
    /// The photo's number (kept after the photo itself is erased).
    pub photo_ref: i64,
    /// When the photo was taken.
    pub photo_taken_at: DateTime<Utc>,
    /// Where it has to come down.
    pub used: PhotoUse,
    /// Why.
    pub reason: String,
    /// When the task was opened.
    pub created_at: DateTime<Utc>,
    /// When it was marked done.
    pub done_at: Option<DateTime<Utc>>,
}

/// Open tasks first (oldest first), then the 50 most recently done.
pub async fn takedowns(db: &impl ConnectionTrait) -> Result<Vec<Takedown>, CoreError> {
    let cols = [
        "id",
        "photo_ref",
        "photo_taken_at",
        "use_code",
        "reason",
        "created_at",
        "done_at",
    ];
    let open = Query::select()
        .columns(cols)
        .from("photo_takedowns")
        .and_where(Expr::col("done_at").is_null())
        .order_by("id", Order::Asc)
        .to_owned();
    let done = Query::select()
        .columns(cols)
        .from("photo_takedowns")
        .and_where(Expr::col("done_at").is_not_null())
        .order_by("done_at", Order::Desc)
        .limit(50)
        .to_owned();
    let mut out = Vec::new();
    for r in db
        .query_all(&open)
        .await?
        .iter()
        .chain(db.query_all(&done).await?.iter())
    {
        if let Some(t) = read_takedown(r)? {
            out.push(t);
        }
    }
    Ok(out)
}

fn read_takedown(r: &sea_orm::QueryResult) -> Result<Option<Takedown>, CoreError> {
    let code: String = r.try_get("", "use_code")?;
    let Ok(used) = PhotoUse::parse(&code) else {
        return Ok(None);
    };
    Ok(Some(Takedown {
        id: r.try_get("", "id")?,
        photo_ref: r.try_get("", "photo_ref")?,
        photo_taken_at: r.try_get("", "photo_taken_at")?,
        used,
        reason: r.try_get("", "reason")?,
        created_at: r.try_get("", "created_at")?,
        done_at: r.try_get("", "done_at")?,
    }))
}

/// How many takedown tasks are open.
pub async fn open_takedowns(db: &impl ConnectionTrait) -> Result<i64, CoreError> {
    let q = Query::select()
        .expr_as(Expr::col("id").count(), "n")
        .from("photo_takedowns")
        .and_where(Expr::col("done_at").is_null())
        .to_owned();
    Ok(match db.query_one(&q).await? {
        Some(r) => r.try_get("", "n")?,
        None => 0,
    })
}

/// Member of staff `staff` marks takedown task `id` done, with its audit row in one
/// transaction.
#[tracing::instrument(skip_all, fields(staff = staff, task = id))]
pub async fn staff_completes_takedown(
    portal: &crate::Portal,
    (staff, role): (i64, crate::staff::Role),
    id: i64,
    now: DateTime<Utc>,
) -> Result<(), CoreError> {
    use crate::audit::{self, Actor};
    let actor = Actor::Staff { id: staff, role };
    let action = crate::access::Action::ProcessTakedowns;
    let change = async |tx: &_| complete_takedown(tx, id, staff, now).await;
    audit::audited(&portal.db, actor, action, now, change, |_| None).await
}

/// Marks a task done, once; `NotFound` if there is no such open task.
pub async fn complete_takedown(
    db: &impl ConnectionTrait,
    task: i64,
    staff: i64,
    now: DateTime<Utc>,
) -> Result<(), CoreError> {
    let res = db
        .execute(
            &Query::update()
                .table("photo_takedowns")
                .value("done_at", now)
                .value("done_by_staff_id", staff)
                .and_where(Expr::col("id").eq(task))
                .and_where(Expr::col("done_at").is_null())
                .to_owned(),
        )
        .await?;
    if res.rows_affected() == 0 {
        return Err(CoreError::NotFound);
    }
    Ok(())
}
