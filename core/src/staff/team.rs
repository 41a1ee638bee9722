//! The privacy officer's operations on the team: inviting someone (the account, its invitation
//! mail and the audit row in one transaction) and changing another member's account.

use chrono::{DateTime, Utc};

use super::{Refusal, Role, StaffName, auth};
use crate::{
    CoreError, Portal,
    access::Action,
    audit::{self, Actor},
    email::Email,
};

/// A change to another member of staff.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StaffChange {
    /// A new role.
    Role(Role),
    /// No more sign-in (the account and its history stay).
    Deactivate,
    /// Lifts the sign-in delays of the account.
    Unlock,
}

/// `by` invites `email` as `role`; the invitation is mailed with its link. Returns the new
/// account's id.
#[tracing::instrument(skip_all, fields(role = role.as_str()))]
pub async fn invite(
    portal: &Portal,
    by: Actor,
    email: Email,
    name: &StaffName,
    role: Role,
    now: DateTime<Utc>,
) -> Result<i64, CoreError> {
    let s = &portal.settings;
    let change = async |tx: &sea_orm::DatabaseTransaction| {
        let inv = auth::invite(tx, &portal.vault, &email, name, role, now).await?;
        let mail = crate::mail::staff_invitation(email, &s.salon_name, &s.public_url, &inv.token);
        portal.enqueue_mail(tx, None, "staff_invite", &mail).await?;
        Ok(inv.staff)
    };
    let id = audit::audited(&portal.db, by, Action::ManageStaff, now, change, |&id| {
        Some(("staff", id))
    })
    .await?;
    portal.outbox.notify();
    Ok(id)
}

/// Member of staff `by` changes account `staff`. Never one's own: the salon must not lock out
/// its last privacy officer by accident.
#[tracing::instrument(skip_all, fields(staff = staff))]
pub async fn change(
    portal: &Portal,
    by: Actor,
    staff: i64,
    change: StaffChange,
    now: DateTime<Utc>,
) -> Result<(), CoreError> {
    if matches!(by, Actor::Staff { id, .. } if id == staff) {
        return Err(Refusal::Oneself.into());
    }
    let apply = async |tx: &sea_orm::DatabaseTransaction| match change {
        StaffChange::Role(r) => auth::set_role(tx, staff, r, now).await,
        StaffChange::Deactivate => auth::deactivate(tx, staff, now).await,
        StaffChange::Unlock => auth::unlock(tx, &portal.vault, staff).await,
    };
    audit::audited(&portal.db, by, Action::ManageStaff, now, apply, |_| {
        Some(("staff", staff))
    })
    .await
}
