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
    let lang = portal_vocab::Lang::from_tag(lang).unwrap_or_default();
    let salon = &portal.settings.salon_name;
    let mail =
        crate::mail::templates::email_confirmation::mail(new_email.clone(), lang, salon, &link);
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

/// Front desk's contact form for `customer` ([`customers::record::ContactChange::from_form`]),
/// applied as [`staff_edit_contact`].
pub async fn staff_contact_form(
    portal: &Portal,
    (staff, by): (i64, crate::staff::Role),
    customer: i64,
    form: &portal_vocab::forms::Contact,
    now: DateTime<Utc>,
) -> Result<StaffContactOutcome, CoreError> {
    let change = customers::record::ContactChange::from_form(form)?;
    staff_edit_contact(portal, staff, by, customer, change, now).await
}

/// Member of staff `staff` (holding `by`) replaces a customer's contact details: the change
/// and its audit row in one transaction (see [`staff_change_contact`] for what happens to a new
/// email); a new email for the officer is then filed as a correction request (audited in its
/// own transaction), and the customer is told at the address on record.
#[tracing::instrument(skip_all, fields(staff = staff, customer = customer))]
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
        let lang = portal_vocab::Lang::from_tag(&lang).unwrap_or_default();
        let salon = &portal.settings.salon_name;
        let mail =
            crate::mail::templates::email_changed::old_address_told(old, lang, salon, cleared);
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
