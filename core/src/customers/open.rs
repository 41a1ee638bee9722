//! A member of staff opens a customer's record: every part their role may see, and each part
//! read is written to the audit log in the same transaction (no read without its audit row).

use chrono::{DateTime, Utc};

use super::{
    Contact,
    record::{self, Membership, SensitiveNote, ServiceProfile, Visit},
};
use crate::{
    CoreError, Portal,
    access::Action,
    audit::{self, Actor, Entry},
    consents::{self, Purpose},
    staff::Role,
};

/// How many recent visits the record shows.
pub const VISITS_SHOWN: u64 = 50;

/// What one role sees of a record; `None` where the role may not see that part.
#[derive(Clone, Debug)]
pub struct OpenedRecord {
    /// Processing is restricted (the record is read-only while it is).
    pub restricted: bool,
    /// The customer's name (every role that may open a record sees it).
    pub name: String,
    /// Phone and email.
    pub contact: Option<Contact>,
    /// The service profile; `Some(None)` when none was recorded.
    pub profile: Option<Option<ServiceProfile>>,
    /// The sensitive notes, shown only while the customer's consent to them holds.
    pub sensitive: Option<Sensitive>,
    /// Recent visits, newest first.
    pub visits: Option<Vec<Visit>>,
    /// The open membership card.
    pub membership: Option<Option<Membership>>,
    /// Every purpose with its current state.
    pub consents: Option<Vec<(Purpose, bool)>>,
}

/// The sensitive notes part of a record.
#[derive(Clone, Debug)]
pub struct Sensitive {
    /// The customer's explicit consent to keeping them holds.
    pub consented: bool,
    /// The notes (empty without consent: they are not read).
    pub notes: Vec<SensitiveNote>,
}

/// Opens record `id` for member of staff `staff` holding `role`.
#[tracing::instrument(skip_all, fields(staff = staff, role = role.as_str(), customer = id))]
pub async fn open(
    portal: &Portal,
    staff: i64,
    role: Role,
    id: i64,
    now: DateTime<Utc>,
) -> Result<OpenedRecord, CoreError> {
    let (db, vault) = (&portal.db, &portal.vault);
    let tx = crate::db::begin_write(db).await?;
    let actor = Actor::Staff { id: staff, role };
    let read = |action: Action| {
        let tx = &tx;
        async move {
            audit::append(tx, &Entry::on_customer(actor, action, id), now)
                .await
                .map(drop)
        }
    };
    let contact = super::contact(&tx, vault, id).await?;
    read(Action::SearchCustomers).await?;
    let mut out = OpenedRecord {
        restricted: crate::mydata::restricted(&tx, id).await?,
        name: contact.name.clone(),
        contact: None,
        profile: None,
        sensitive: None,
        visits: None,
        membership: None,
        consents: None,
    };
    if role.may(Action::ViewContact) {
        read(Action::ViewContact).await?;
        out.contact = Some(contact);
    }
    if role.may(Action::ViewServiceProfile) {
        read(Action::ViewServiceProfile).await?;
        out.profile = Some(record::service_profile(&tx, vault, id).await?);
    }
    if role.may(Action::ViewSensitiveNotes) {
        let consented = consents::granted(&tx, id, Purpose::SensitiveNotes).await?;
        let notes = if consented {
            read(Action::ViewSensitiveNotes).await?;
            record::sensitive_notes(&tx, vault, id).await?
        } else {
            Vec::new()
        };
        out.sensitive = Some(Sensitive { consented, notes });
    }
    if role.may(Action::ViewVisits) {
        read(Action::ViewVisits).await?;
        out.visits = Some(record::visits(&tx, vault, id, VISITS_SHOWN).await?);
    }
    if role.may(Action::ViewMembership) {
        read(Action::ViewMembership).await?;
        out.membership = Some(record::membership(&tx, vault, id).await?);
    }
    if role.may(Action::ViewConsents) {
        read(Action::ViewConsents).await?;
        out.consents = Some(consents::states(&tx, id).await?);
    }
    tx.commit().await?;
    Ok(out)
}

/// The names of the customers a search listed, for member of staff `staff` holding `role`; each
/// name read is audited with it. Ids that no longer exist are left out.
pub async fn names(
    portal: &Portal,
    staff: i64,
    role: Role,
    ids: &[i64],
    now: DateTime<Utc>,
) -> Result<Vec<(i64, String)>, CoreError> {
    let tx = crate::db::begin_write(&portal.db).await?;
    let actor = Actor::Staff { id: staff, role };
    let mut out = Vec::new();
    for &id in ids.iter().take(record::MAX_RESULTS) {
        match super::contact(&tx, &portal.vault, id).await {
            Ok(contact) => {
                let entry = Entry::on_customer(actor, Action::SearchCustomers, id);
                audit::append(&tx, &entry, now).await?;
                out.push((id, contact.name));
            }
            Err(CoreError::NotFound) => {}
            Err(e) => return Err(e),
        }
    }
    tx.commit().await?;
    Ok(out)
}
