//! Front-desk intake: a new customer record with the notice they were shown and the consents
//! they chose at the counter, and optionally a mail that tells them about the portal. One
//! transaction: the record, its audit rows, the notice, the consents and the mail.

use chrono::{DateTime, Utc};

use portal_vocab::forms;

use super::{CustomerName, NewCustomer};
use crate::{
    CoreError, Portal,
    access::Action,
    audit::{self, Actor, Entry},
    consents::{self, Change, Channel, Purpose},
    email::Email,
    phone::Phone,
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

impl Intake {
    /// Reads the counter form. Refused before anything is stored: a notice not ticked as shown
    /// ([`super::Refusal::NoticeNotShown`]); a bad name, phone or email, or a channel other than the counter's
    /// (`intake.invalid`). The record's `created_by` and `at` are set by [`intake`].
    pub fn from_form(f: &forms::Intake, now: DateTime<Utc>) -> Result<Intake, CoreError> {
        if f.notice_shown.is_none() {
            return Err(super::Refusal::NoticeNotShown.into());
        }
        let invalid = || CoreError::Invalid("intake.invalid");
        let email = (!f.email.trim().is_empty())
            .then(|| Email::parse(&f.email))
            .transpose()
            .map_err(|_| invalid())?;
        let channel = Channel::parse(&f.channel)
            .ok()
            .filter(|c| *c != Channel::Portal)
            .ok_or_else(invalid)?;
        let ticked = [
            (Purpose::MarketingSms, &f.marketing_sms),
            (Purpose::MarketingEmail, &f.marketing_email),
            (Purpose::MarketingWechat, &f.marketing_wechat),
            (Purpose::PhotosPortfolio, &f.photos_portfolio),
            (Purpose::PhotosSocial, &f.photos_social),
            (Purpose::SensitiveNotes, &f.sensitive_notes),
        ];
        Ok(Intake {
            customer: NewCustomer {
                name: CustomerName::parse(&f.name).map_err(|_| invalid())?,
                email,
                phone: Some(Phone::parse(&f.phone).map_err(|_| invalid())?),
                language: if f.language == "en" { "en" } else { "zh" },
                created_by: None,
                at: now,
            },
            notice_version: f.notice_version.trim().parse().map_err(|_| invalid())?,
            channel,
            consents: ticked
                .into_iter()
                .filter_map(|(p, on)| on.as_ref().map(|_| p))
                .collect(),
            send_link: f.send_link.is_some(),
        })
    }
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
