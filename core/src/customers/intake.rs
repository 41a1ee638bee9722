//! Front-desk intake: a new customer record with the notice they were shown and the consents
//! they chose at the counter, and optionally a mail that tells them about the portal. One
//! transaction: the record, its audit rows, the notice, the consents and the mail.

use chrono::{DateTime, Utc};

use super::NewCustomer;
use crate::{
    CoreError, Portal,
    access::Action,
    audit::{self, Actor, Entry},
    consents::{self, Change, Channel, Purpose},
    staff::Role,
};

/// What the counter form gives, parsed (not `Debug`: it holds personal values).
pub struct Intake {
    /// The record (its `created_by` and `at` are set by [`intake`]).
    pub customer: NewCustomer,
    /// The notice version the form showed.
    pub notice_version: i32,
    /// Where consent was given (never the portal: this is the counter).
    pub channel: Channel,
    /// The purposes the customer said yes to.
    pub consents: Vec<Purpose>,
    /// Mail the customer a link to the portal.
    pub send_link: bool,
}

/// What came of an intake.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Intaken {
    /// The record was created.
    Created(i64),
    /// The form showed an older notice than the one now in force: nothing was stored.
    NoticeOutdated,
}

/// Creates the record for member of staff `staff` holding `role`. Consents are recorded only
/// when the role may record counter consent; the others are ignored, as the form hides them.
#[tracing::instrument(skip_all, fields(staff = staff, role = role.as_str()))]
pub async fn intake(
    portal: &Portal,
    staff: i64,
    role: Role,
    mut form: Intake,
    now: DateTime<Utc>,
) -> Result<Intaken, CoreError> {
    let current = crate::notices::current(&portal.db).await?.version;
    if form.notice_version != current {
        return Ok(Intaken::NoticeOutdated);
    }
    form.customer.created_by = Some(staff);
    form.customer.at = now;
    let actor = Actor::Staff { id: staff, role };
    let tx = crate::db::begin_write(&portal.db).await?;
    let (id, _) = super::create(&tx, &portal.vault, &form.customer).await?;
    audit::append(
        &tx,
        &Entry::on_customer(actor, Action::CreateCustomer, id),
        now,
    )
    .await?;
    consents::record_notice(&tx, id, current, form.channel, Some(staff), now).await?;
    if role.may(Action::RecordCounterConsent) && !form.consents.is_empty() {
        for purpose in form.consents {
            let change = Change {
                purpose,
                granted: true,
                channel: form.channel,
                recorded_by: Some(staff),
                notice_version: Some(current),
            };
            consents::record(&tx, id, change, now).await?;
        }
        let entry = Entry::on_customer(actor, Action::RecordCounterConsent, id);
        audit::append(&tx, &entry, now).await?;
    }
    if form.send_link
        && let Some(to) = form.customer.email
    {
        let s = &portal.settings;
        let mail = crate::mail::portal_invitation(
            to,
            portal_vocab::Lang::from_tag(form.customer.language).unwrap_or_default(),
            &s.salon_name,
            &s.public_url,
        );
        portal
            .enqueue_mail(&tx, Some(id), "portal_link", &mail)
            .await?;
    }
    tx.commit().await?;
    portal.outbox.notify();
    Ok(Intaken::Created(id))
}
