//! Memberships: the stored value and points a customer holds. The balance is money the salon
//! owes them, so a deletion waits until it is settled, and the settlement is a ledger line.

use chrono::{DateTime, Utc};
use sea_orm::{
    ConnectionTrait,
    sea_query::{Expr, ExprTrait, Query},
};

use crate::{CoreError, Portal, access::Action, audit};
/// Money, in cents, shown as yuan.
pub use portal_vocab::Cents;

/// The stored value left on a customer's open membership, in cents.
pub async fn balance_cents(db: &impl ConnectionTrait, customer: i64) -> Result<i64, CoreError> {
    let q = Query::select()
        .column("balance_cents")
        .from("memberships")
        .and_where(Expr::col("customer_id").eq(customer))
        .and_where(Expr::col("closed_at").is_null())
        .to_owned();
    let mut total = 0;
    for r in db.query_all(&q).await? {
        total += r.try_get::<i64>("", "balance_cents")?;
    }
    Ok(total)
}

/// How the salon settled a balance with the customer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SettleMethod {
    /// Paid out in cash at the counter.
    Cash,
    /// Transferred to the customer.
    Transfer,
    /// Any other way (used up on a last visit, say).
    Other,
}

impl SettleMethod {
    /// Every method, in the order the form offers them.
    pub const ALL: [SettleMethod; 3] = [
        SettleMethod::Cash,
        SettleMethod::Transfer,
        SettleMethod::Other,
    ];

    /// The form's and the audit row's code.
    pub fn code(self) -> &'static str {
        match self {
            SettleMethod::Cash => "cash",
            SettleMethod::Transfer => "transfer",
            SettleMethod::Other => "other",
        }
    }

    /// Parses the form's code.
    pub fn parse(code: &str) -> Result<Self, CoreError> {
        Self::ALL
            .into_iter()
            .find(|m| m.code() == code)
            .ok_or(CoreError::Invalid("request.settle"))
    }
}

/// What the officer confirms: the amount the page showed them, and how it was settled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Settlement {
    /// The balance the officer saw and settled, in cents.
    pub cents: i64,
    /// How.
    pub method: SettleMethod,
}

impl Settlement {
    /// Reads the settle fields of the decision form: an amount in yuan, a method, and the
    /// explicit tick; anything missing or unreadable is `Invalid("request.settle")`.
    pub fn from_form(
        amount: Option<&str>,
        method: Option<&str>,
        confirmed: bool,
    ) -> Result<Self, CoreError> {
        let bad = CoreError::Invalid("request.settle");
        if !confirmed {
            return Err(bad);
        }
        let cents = amount
            .and_then(Cents::parse_yuan)
            .ok_or(CoreError::Invalid("request.settle"))?;
        let method = SettleMethod::parse(method.unwrap_or_default())?;
        Ok(Settlement {
            cents: cents.0,
            method,
        })
    }
}

/// Staff record that the stored value left on the customer's membership was settled with them
/// (paid out or used up at the counter), confirming the amount they saw and how: a `settled`
/// ledger line brings the balance to zero, so a deletion can be approved; the audit row names
/// the method, and the customer is mailed. Refused (`Invalid("request.settle")`) when the
/// balance is not the amount confirmed (it changed since the page was read). Returns the amount
/// settled, in cents.
pub async fn settle_balance(
    portal: &Portal,
    customer: i64,
    staff: i64,
    settlement: Settlement,
    now: DateTime<Utc>,
) -> Result<i64, CoreError> {
    let tx = crate::db::begin_write(&portal.db).await?;
    if balance_cents(&tx, customer).await? != settlement.cents || settlement.cents <= 0 {
        return Err(CoreError::Invalid("request.settle"));
    }
    let reason = match settlement.method {
        SettleMethod::Cash => "balance settled: cash",
        SettleMethod::Transfer => "balance settled: transfer",
        SettleMethod::Other => "balance settled: other",
    };
    let action = Action::DecideRequest;
    audit::append_by_staff_because(&tx, staff, action, Some(customer), Some(reason), now).await?;
    let q = Query::select()
        .columns(["id", "balance_cents"])
        .from("memberships")
        .and_where(Expr::col("customer_id").eq(customer))
        .and_where(Expr::col("closed_at").is_null())
        .to_owned();
    let mut settled = 0;
    for r in tx.query_all(&q).await? {
        let id: i64 = r.try_get("", "id")?;
        let balance: i64 = r.try_get("", "balance_cents")?;
        if balance == 0 {
            continue;
        }
        tx.execute(
            &Query::insert()
                .into_table("membership_ledger")
                .columns([
                    "membership_id",
                    "at",
                    "kind",
                    "amount_cents",
                    "points_delta",
                    "balance_after_cents",
                ])
                .values_panic([
                    id.into(),
                    now.into(),
                    "settled".into(),
                    (-balance).into(),
                    0i64.into(),
                    0i64.into(),
                ])
                .to_owned(),
        )
        .await?;
        tx.execute(
            &Query::update()
                .table("memberships")
                .value("balance_cents", 0i64)
                .and_where(Expr::col("id").eq(id))
                .to_owned(),
        )
        .await?;
        settled += balance;
    }
    // A second submit of the same form, or a balance that moved meanwhile, settles nothing the
    // officer did not confirm: the whole transaction goes back.
    if settled != settlement.cents {
        return Err(CoreError::Invalid("request.settle"));
    }
    let contact = crate::customers::contact(&tx, &portal.vault, customer).await?;
    if let Some(to) = contact.email {
        let lang = crate::customers::language(&tx, customer).await?;
        let lang = portal_vocab::Lang::from_tag(&lang).unwrap_or_default();
        let mail = crate::mail::templates::settlement::settled(
            portal,
            to,
            lang,
            settled,
            settlement.method,
        );
        portal
            .enqueue_mail(&tx, Some(customer), "settlement", &mail)
            .await?;
    }
    tx.commit().await?;
    portal.outbox.notify();
    Ok(settled)
}
