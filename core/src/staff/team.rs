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

impl StaffChange {
    /// The team page's form: `role` (with the new role's code), `deactivate` or `unlock`.
    pub fn parse(change: &str, role: Option<&str>) -> Result<StaffChange, CoreError> {
        match (change, role.map(str::parse::<Role>)) {
            ("role", Some(Ok(r))) => Ok(StaffChange::Role(r)),
            ("deactivate", _) => Ok(StaffChange::Deactivate),
            ("unlock", _) => Ok(StaffChange::Unlock),
            _ => Err(CoreError::Invalid("staff.change")),
        }
    }
}

/// The officer's form on another member of staff: the change by its code (see
/// [`StaffChange::parse`]), applied as [`change`].
pub async fn change_form(
    portal: &Portal,
    by: Actor,
    staff: i64,
    (change_code, role): (&str, Option<&str>),
    now: DateTime<Utc>,
) -> Result<(), CoreError> {
    let change_to = StaffChange::parse(change_code, role)?;
    change(portal, by, staff, change_to, now).await
}

/// The officer's invitation form: `email`, `name` and a role code, as [`invite`] (anything that
/// does not parse is `staff.invitation`).
pub async fn invite_form(
    portal: &Portal,
    by: Actor,
    (email, name, role): (&str, &str, &str),
    now: DateTime<Utc>,
) -> Result<i64, CoreError> {
    let invalid = || CoreError::Invalid("staff.invitation");
    let email = Email::parse(email).map_err(|_| invalid())?;
    let name = StaffName::parse(name).map_err(|_| invalid())?;
    let role = role.parse::<Role>().map_err(|_| invalid())?;
    invite(portal, by, email, &name, role, now).await
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
