//! Who may do what: the role matrix of product.md as one table, asked by every staff server
//! function and API route through [`authorize`], so the rule lives in one place. Actions are
//! added with the feature that offers them (requests, consent API), each with its matrix row.

pub use portal_vocab::Action;

use crate::staff::Role;

/// Why an action was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Denied {
    /// Nobody (or a customer) is signed in to the staff area.
    #[error("staff sign-in required")]
    SignInRequired,
    /// Signed in, but the role does not allow it.
    #[error("not allowed for this role")]
    Forbidden,
}

/// The one gate: `role` is the caller's current role read from the database on this request
/// (`None` for anonymous callers, customers and deactivated staff).
pub fn authorize(role: Option<Role>, action: Action) -> Result<Role, Denied> {
    match role {
        None => Err(Denied::SignInRequired),
        Some(r) if r.may(action) => Ok(r),
        Some(_) => Err(Denied::Forbidden),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_has_a_distinct_name() {
        let mut names: Vec<_> = Action::ALL.iter().map(|a| a.as_str()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), Action::ALL.len());
    }

    #[test]
    fn marketing_never_reads_a_profile_field_and_only_the_officer_decides() {
        for a in [
            Action::ViewContact,
            Action::ViewServiceProfile,
            Action::ViewSensitiveNotes,
            Action::ViewVisits,
            Action::ViewMembership,
            Action::SearchCustomers,
        ] {
            assert_eq!(authorize(Some(Role::Marketing), a), Err(Denied::Forbidden));
        }
        for r in Role::ALL {
            assert_eq!(r.may(Action::ManageStaff), r == Role::PrivacyOfficer, "{r}");
        }
        assert_eq!(
            authorize(None, Action::ViewDashboard),
            Err(Denied::SignInRequired)
        );
        assert!(!Role::Stylist.may(Action::ViewContact));
        assert!(!Role::FrontDesk.may(Action::ViewServiceProfile));
    }
}
