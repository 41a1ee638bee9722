//! Memberships: the stored value and points a customer holds. The balance is money the salon
//! owes them, so a deletion waits until it is settled, and the settlement is a ledger line.

use chrono::{DateTime, Utc};
use sea_orm::{
    ConnectionTrait,
    sea_query::{Expr, ExprTrait, Query},
};

use crate::{CoreError, Portal, access::Action, audit};

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

/// Staff record that the stored value left on the customer's membership was settled with them
/// (paid out or used up at the counter): a `settled` ledger line brings the balance to zero, so a
/// deletion can be approved. Returns the amount settled, in cents.
pub async fn settle_balance(
    portal: &Portal,
    customer: i64,
    staff: i64,
    now: DateTime<Utc>,
) -> Result<i64, CoreError> {
    let tx = crate::db::begin_write(&portal.db).await?;
    audit::append_by_staff(&tx, staff, Action::DecideRequest, Some(customer), now).await?;
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
    tx.commit().await?;
    Ok(settled)
}
