//! A member of staff opens a request: the request, its history and, where it names a customer,
//! their name (and for a correction the values on record beside the asked-for ones, and for a
//! deletion the open balance to roles that see membership). Each read of customer data is
//! audited in the same transaction.

use chrono::{DateTime, Utc};

use super::{Details, Event, Kind, Request};
use crate::{
    CoreError, Portal,
    access::Action,
    audit::{self, Actor, Entry},
    customers,
    staff::Role,
};

/// One asked-for correction beside the value on record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Correction {
    /// `name`, `phone` or `email`.
    pub field: String,
    /// The value on record now (empty when none).
    pub old: String,
    /// The value asked for.
    pub new: String,
    /// The officer approved this field.
    pub approved: bool,
}

/// What a member of staff sees of one request.
#[derive(Clone, Debug)]
pub struct OpenedRequest {
    /// The request.
    pub request: Request,
    /// Its details (note, corrections asked for).
    pub details: Details,
    /// The customer's name, while the record exists.
    pub customer_name: Option<String>,
    /// The corrections asked for, beside the values on record.
    pub corrections: Vec<Correction>,
    /// A deletion's open stored-value balance, to roles that see membership.
    pub balance_cents: Option<i64>,
    /// What happened to it, oldest first.
    pub history: Vec<Event>,
}

/// Opens request `id` for member of staff `staff` holding `role`.
#[tracing::instrument(skip_all, fields(staff = staff, role = role.as_str(), request = id))]
pub async fn open(
    portal: &Portal,
    staff: i64,
    role: Role,
    id: i64,
    now: DateTime<Utc>,
) -> Result<OpenedRequest, CoreError> {
    let (db, vault) = (&portal.db, &portal.vault);
    let request = super::get(db, id).await?;
    let details = super::details(db, vault, id).await?;
    let actor = Actor::Staff { id: staff, role };
    let mut out = OpenedRequest {
        customer_name: None,
        corrections: Vec::new(),
        balance_cents: None,
        history: Vec::new(),
        request,
        details,
    };
    if let Some(customer) = out.request.customer {
        let tx = crate::db::begin_write(db).await?;
        let read = async |action| {
            let entry = Entry::on_customer(actor, action, customer);
            audit::append(&tx, &entry, now).await.map(drop)
        };
        let contact = customers::contact(&tx, vault, customer).await?;
        read(Action::ViewRequests).await?;
        if !out.details.corrections.is_empty() {
            read(Action::ViewContact).await?;
        }
        for (field, new) in &out.details.corrections {
            let old = match field.as_str() {
                "name" => Some(contact.name.clone()),
                "phone" => contact.phone.as_ref().map(|x| x.as_str().to_owned()),
                _ => contact.email.as_ref().map(|x| x.as_str().to_owned()),
            };
            out.corrections.push(Correction {
                field: field.clone(),
                old: old.unwrap_or_default(),
                new: new.clone(),
                approved: out.details.approved.contains(field),
            });
        }
        // The balance is membership data: only roles that may see membership see it here.
        if out.request.kind == Kind::Deletion && role.may(Action::ViewMembership) {
            read(Action::ViewMembership).await?;
            out.balance_cents = Some(crate::membership::balance_cents(&tx, customer).await?);
        }
        out.customer_name = Some(contact.name);
        tx.commit().await?;
    }
    out.history = super::events(db, id).await?;
    Ok(out)
}

/// The staff queue ([`super::queue`]) with each customer's name, for the requests that still
/// need work, to roles that may see contact details (`None` otherwise, and for an erased
/// customer). Every name read is audited on
/// its customer, in one transaction with the reads.
#[tracing::instrument(skip_all, fields(staff = staff, role = role.as_str()))]
pub async fn queue_with_names(
    portal: &Portal,
    (staff, role): (i64, Role),
    filter: &super::QueueFilter,
    now: DateTime<Utc>,
) -> Result<Vec<(Request, Option<String>)>, CoreError> {
    let rows = super::queue(portal, filter, now).await?;
    if !role.may(Action::ViewContact) {
        return Ok(rows.into_iter().map(|r| (r, None)).collect());
    }
    let actor = Actor::Staff { id: staff, role };
    let tx = crate::db::begin_write(&portal.db).await?;
    let mut names = std::collections::HashMap::new();
    // Names for the requests that still need work only: a look back over closed ones reads
    // (and audits) no one's contact details.
    let open = rows.iter().filter(|r| r.status.is_open());
    for customer in open.filter_map(|r| r.customer) {
        if names.contains_key(&customer) {
            continue;
        }
        let contact = match customers::contact(&tx, &portal.vault, customer).await {
            Ok(c) => c,
            // Erased since the queue was read: shown as deleted, like the others.
            Err(CoreError::NotFound | CoreError::Sealed(_)) => continue,
            Err(e) => return Err(e),
        };
        let entry = Entry::on_customer(actor, Action::ViewContact, customer);
        audit::append(&tx, &entry, now).await?;
        names.insert(customer, contact.name);
    }
    tx.commit().await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let name = r.customer.and_then(|c| names.get(&c).cloned());
            (r, name)
        })
        .collect())
}
