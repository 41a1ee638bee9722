//! A new email address (from an approved correction, or typed by staff) applies only once
//! confirmed through a link sent to that address: single use, 10 minutes, purpose-bound, a
//! newer link kills older. The address signs the customer in, so whoever types a new one must
//! not be able to move sign-in to a mailbox of their own (security.md, "Defaults and growth").

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
    Email::parse(&text).map_err(|_| {
        CoreError::internal("email_change.stored", "the stored address does not parse")
    })
}

/// Spends the link (POST only) and applies the new address; every session of the customer
/// ends with the old address. `None` when the link no longer works;
/// `customers::Refusal::ContactTaken` when the address belongs to someone else by now.
pub async fn confirm(
    portal: &Portal,
    token: &str,
    now: DateTime<Utc>,
) -> Result<Option<i64>, CoreError> {
    let tx = crate::db::begin_write(&portal.db).await?;
    let Some(customer) = spend_link(&tx, token, Purpose::EmailChange, now).await? else {
        return Ok(None);
    };
    let email = target(portal, customer, token).await?;
    let contact = customers::contact(&tx, &portal.vault, customer).await?;
    let change = customers::record::ContactChange {
        name: customers::CustomerName::parse(&contact.name)?,
        email: Some(email),
        phone: contact.phone,
    };
    customers::record::update_contact(&tx, &portal.vault, customer, &change, now).await?;
    crate::sessions::end_all(&tx, crate::sessions::Subject::Customer(customer), now).await?;
    tx.commit().await?;
    Ok(Some(customer))
}

/// What became of contact details staff typed in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StaffContactOutcome {
    /// Saved as typed (the email did not change).
    Saved,
    /// Name and phone saved; the new email waits for confirmation through a link sent to it,
    /// and the old address (if any) was told.
    EmailAwaitsConfirmation,
    /// Name and phone saved; the new email is for the privacy officer to decide: the caller
    /// files it as a correction request once this transaction has committed.
    EmailGoesToOfficer(Email),
}

/// Member of staff `staff` (holding `by`) replaces a customer's contact details: the change
/// and its audit row in one transaction (see [`staff_change_contact`] for what happens to a new
/// email); a new email for the officer is then filed as a correction request (audited in its
/// own transaction), and the customer is told at the address on record.
pub async fn staff_edit_contact(
    portal: &Portal,
    staff: i64,
    by: crate::staff::Role,
    customer: i64,
    change: customers::record::ContactChange,
    now: DateTime<Utc>,
) -> Result<StaffContactOutcome, CoreError> {
    use crate::audit::{self, Actor, Entry};
    let tx = crate::db::begin_write(&portal.db).await?;
    let outcome = staff_change_contact(portal, &tx, customer, change, by, now).await?;
    let actor = Actor::Staff {
        id: staff,
        role: by,
    };
    let entry = Entry::on_customer(actor, crate::access::Action::EditContact, customer);
    audit::append(&tx, &entry, now).await?;
    tx.commit().await?;
    portal.outbox.notify();
    if let StaffContactOutcome::EmailGoesToOfficer(new) = &outcome {
        let details = super::Details {
            corrections: vec![("email".to_owned(), new.as_str().to_owned())],
            ..Default::default()
        };
        let kind = super::Kind::Correction;
        super::submit(
            portal,
            customer,
            kind,
            &details,
            super::Submitter::Staff(staff),
            now,
        )
        .await?;
    }
    Ok(outcome)
}

/// Staff replace a customer's contact details inside `tx`. The email signs the customer in,
/// and whoever types a new one might own it (a link to it proves nothing then), so:
/// - a member of staff other than the privacy officer never changes it here: a new address
///   becomes a correction request for the officer ([`StaffContactOutcome::EmailGoesToOfficer`];
///   the person who records a request never decides it), and removing it is refused
///   (`customer.email_officer_only`);
/// - the privacy officer's new address is mailed a confirmation link and applies only when
///   that link is used; the old address is told at once. The officer's removal applies at once
///   (it gives sign-in to no one) and ends the customer's sessions.
///
/// An address of another customer is refused (`customer.contact_taken`).
pub async fn staff_change_contact(
    portal: &Portal,
    tx: &DatabaseTransaction,
    customer: i64,
    change: customers::record::ContactChange,
    by: crate::staff::Role,
    now: DateTime<Utc>,
) -> Result<StaffContactOutcome, CoreError> {
    customers::record::refuse_if_restricted(tx, customer).await?;
    let current = customers::contact(tx, &portal.vault, customer).await?;
    let (old, new) = (current.email.clone(), change.email.clone());
    let moved = match (&old, &new) {
        (Some(o), Some(n)) => o.as_str() != n.as_str(),
        (None, Some(_)) => true,
        _ => false,
    };
    let cleared = old.is_some() && new.is_none();
    let officer = by == crate::staff::Role::PrivacyOfficer;
    if cleared && !officer {
        return Err(crate::customers::Refusal::EmailOfficerOnly.into());
    }
    if let Some(new) = new.as_ref().filter(|_| moved)
        && let Some(other) = customers::find_by_email(tx, &portal.vault, new).await?
        && other != customer
    {
        return Err(crate::customers::Refusal::ContactTaken.into());
    }
    let lang = customers::language(tx, customer).await?;
    let mut apply = change;
    if moved {
        let new = new.clone().ok_or(CoreError::NotFound)?;
        // Sign-in stays with the address on record until the change is decided and confirmed.
        apply.email = old.clone();
        if !officer {
            customers::record::update_contact(tx, &portal.vault, customer, &apply, now).await?;
            return Ok(StaffContactOutcome::EmailGoesToOfficer(new));
        }
        start(portal, tx, customer, &new, &lang, now).await?;
    }
    customers::record::update_contact(tx, &portal.vault, customer, &apply, now).await?;
    if cleared {
        crate::sessions::end_all(tx, crate::sessions::Subject::Customer(customer), now).await?;
    }
    if let Some(old) = old.filter(|_| moved || cleared) {
        let mail = old_address_told(old, &lang, &portal.settings.salon_name, cleared);
        portal
            .enqueue_mail(tx, Some(customer), "email_change_notice", &mail)
            .await?;
    }
    Ok(if moved {
        StaffContactOutcome::EmailAwaitsConfirmation
    } else {
        StaffContactOutcome::Saved
    })
}

/// The mail to the address on record when staff change or remove it.
fn old_address_told(to: Email, lang: &str, salon: &str, cleared: bool) -> OutgoingMail {
    let (subject, text) = match (lang == "en", cleared) {
        (true, false) => (
            format!("{salon}: a new email address was entered for you"),
            format!(
                "Hello,\n\nStaff at {salon} entered a new email address for your customer record. It will replace this one only when someone confirms it through the link we sent to the new address; until then you keep signing in with this address.\n\nIf you did not ask for this, tell the salon or reply to this mail.\n"
            ),
        ),
        (true, true) => (
            format!("{salon}: your email address was removed"),
            format!(
                "Hello,\n\nStaff at {salon} removed this email address from your customer record, so it no longer signs you in to the privacy portal.\n\nIf you did not ask for this, tell the salon or reply to this mail.\n"
            ),
        ),
        (false, false) => (
            format!("{salon}：有人为您登记了新邮箱"),
            format!(
                "您好！\n\n{salon}的员工为您的顾客档案登记了一个新邮箱。只有在新邮箱收到的确认链接被打开并确认后，它才会替换本邮箱；在此之前，您仍用本邮箱登录。\n\n如果不是您本人的要求，请告知门店或回复本邮件。\n"
            ),
        ),
        (false, true) => (
            format!("{salon}：您的邮箱已被移除"),
            format!(
                "您好！\n\n{salon}的员工已从您的顾客档案中移除本邮箱，本邮箱不能再用于登录隐私门户。\n\n如果不是您本人的要求，请告知门店或回复本邮件。\n"
            ),
        ),
    };
    OutgoingMail {
        to,
        subject,
        text,
        html: None,
    }
}
