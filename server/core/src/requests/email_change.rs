//! A new email address (from an approved correction) applies only once confirmed through a
//! link sent to that address: single use, 10 minutes, purpose-bound, a newer link kills older.

use chrono::{DateTime, Utc};
use sea_orm::{
    ConnectionTrait, DatabaseTransaction,
    sea_query::{Expr, ExprTrait, Query},
};

use crate::{
    CoreError, Portal, customers,
    email::Email,
    mail::OutgoingMail,
    signin::{Owner, Purpose, issue_for, spend_link, token_hash},
    vault::Field,
};

/// The new address, sealed in the token's row under the customer's key.
const TARGET: Field = Field::new("one_time_tokens", "target_sealed");

/// Issues the link and mails it to the new address, inside the fulfilment transaction.
pub async fn start(
    portal: &Portal,
    tx: &DatabaseTransaction,
    customer: i64,
    new_email: &Email,
    lang: &str,
    now: DateTime<Utc>,
) -> Result<(), CoreError> {
    let issued = issue_for(
        tx,
        &portal.vault,
        Owner::Customer(customer),
        Purpose::EmailChange,
        now,
    )
    .await?;
    let key = portal.vault.customer_key(tx, customer).await?;
    tx.execute(
        &Query::update()
            .table("one_time_tokens")
            .value(
                "target_sealed",
                customers::seal_text(&key, TARGET, issued.id, new_email.as_str()),
            )
            .and_where(Expr::col("id").eq(issued.id))
            .to_owned(),
    )
    .await?;
    let link = format!(
        "{}me/email?t={}",
        portal.settings.public_url.as_str(),
        issued.token
    );
    let salon = &portal.settings.salon_name;
    let (subject, text) = if lang == "en" {
        (
            format!("{salon}: confirm your new email address"),
            format!(
                "Please confirm that this is your new email address for {salon} (the link works for 10 minutes, once):\n{link}\n\nIf you did not ask for this, ignore this mail; nothing will change.\n"
            ),
        )
    } else {
        (
            format!("{salon}：请确认您的新邮箱"),
            format!(
                "请点击下面的链接，确认这是您在{salon}登记的新邮箱（10 分钟内有效，仅可使用一次）：\n{link}\n\n如果不是您本人申请，请忽略本邮件，不会有任何变化。\n"
            ),
        )
    };
    let mail = OutgoingMail {
        to: new_email.clone(),
        subject,
        text,
        html: None,
    };
    portal
        .enqueue_mail(tx, Some(customer), "email_change", &mail)
        .await?;
    Ok(())
}

/// The masked new address a link would confirm, without spending it (for the page GET shows).
pub async fn peek(
    portal: &Portal,
    token: &str,
    now: DateTime<Utc>,
) -> Result<Option<String>, CoreError> {
    let Some(customer) =
        crate::signin::peek_link(&portal.db, token, Purpose::EmailChange, now).await?
    else {
        return Ok(None);
    };
    Ok(Some(customers::mask_email(
        &target(portal, customer, token).await?,
    )))
}

async fn target(portal: &Portal, customer: i64, token: &str) -> Result<Email, CoreError> {
    let r = portal
        .db
        .query_one(
            &Query::select()
                .columns(["id", "target_sealed"])
                .from("one_time_tokens")
                .and_where(Expr::col("token_hash").eq(token_hash(token)))
                .to_owned(),
        )
        .await?
        .ok_or(CoreError::NotFound)?;
    let id: i64 = r.try_get("", "id")?;
    let sealed: Option<Vec<u8>> = r.try_get("", "target_sealed")?;
    let key = portal.vault.customer_key(&portal.db, customer).await?;
    let text = customers::open_text(&key, TARGET, id, &sealed.ok_or(CoreError::NotFound)?)?;
    Email::parse(&text).map_err(|_| CoreError::Invalid("email_change.stored"))
}

/// Spends the link (POST only) and applies the new address. `None` when the link no longer
/// works; `Invalid("customer.contact_taken")` when the address belongs to someone else by now.
pub async fn confirm(
    portal: &Portal,
    token: &str,
    now: DateTime<Utc>,
) -> Result<Option<i64>, CoreError> {
    let Some(customer) = spend_link(&portal.db, token, Purpose::EmailChange, now).await? else {
        return Ok(None);
    };
    let email = target(portal, customer, token).await?;
    let contact = customers::contact(&portal.db, &portal.vault, customer).await?;
    let change = customers::record::ContactChange {
        name: customers::CustomerName::parse(&contact.name)?,
        email: Some(email),
        phone: contact.phone,
    };
    customers::record::update_contact(&portal.db, &portal.vault, customer, &change, now).await?;
    Ok(Some(customer))
}
