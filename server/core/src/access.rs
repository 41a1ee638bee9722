//! Who may do what: the role matrix of product.md as one table, asked by every staff server
//! function and API route through [`authorize`], so the rule lives in one place. Actions are
//! added with the feature that offers them (requests, consent API), each with its matrix row.

use crate::staff::Role;

/// Every staff action the portal offers. The audit log records these names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// The staff dashboard (open requests, due dates, posture checklist).
    ViewDashboard,
    /// Find a customer by phone, email or name.
    SearchCustomers,
    /// Read a customer's name, phone and email.
    ViewContact,
    /// Read hair/skin type, preferred stylist, preference notes.
    ViewServiceProfile,
    /// Read allergies and conditions (also needs the customer's separate consent).
    ViewSensitiveNotes,
    /// Read the visit history.
    ViewVisits,
    /// Read the membership card, balance and ledger.
    ViewMembership,
    /// Read a customer's consents and their history.
    ViewConsents,
    /// Create a customer record at the counter (minimum fields).
    CreateCustomer,
    /// Change a customer's name, phone or email.
    EditContact,
    /// Record consents the customer chose at the counter or on paper.
    RecordCounterConsent,
    /// Record a visit.
    RecordVisit,
    /// Add a note to a visit.
    AddVisitNote,
    /// See the request queue and a request's page.
    ViewRequests,
    /// Record a request made in person on the customer's behalf.
    RecordRequest,
    /// Review, approve, deny, answer, extend or assign a request.
    DecideRequest,
    /// Keep the register of recipients and track passing requests on to them.
    ManageSharing,
    /// Publish a privacy-notice version.
    PublishNotice,
    /// Make and revoke consent API keys.
    ManageApiKeys,
    /// "May we contact them?" per channel for one contact, and nothing else.
    CheckConsentStatus,
    /// Counts per purpose, and their history.
    ViewConsentCounts,
    /// Export the opted-in contacts of one channel (CSV; audited).
    ExportOptedIn,
    /// See the photo takedown tasks (photo number, date, platform; no profile) and mark them done.
    ProcessTakedowns,
    /// Preview and set the retention rules.
    SetRetention,
    /// The portal itself deleting what retention says is no longer needed (no role may).
    PurgeRetained,
    /// Invite staff, change roles, deactivate.
    ManageStaff,
    /// Browse and verify the audit log.
    ViewAuditLog,
    /// A member of staff sets up or replaces their own second factor. Every signed-in member
    /// may, for themself only, so it is not in [`Action::ALL`] (the matrix of other people's
    /// data); it names the audit row of the change.
    SetSecondFactor,
}

impl Action {
    /// Every action a member of staff can ask for, for the matrix test and the note. (The
    /// portal's own `PurgeRetained` is not among them: no role may.)
    pub const ALL: [Action; 26] = [
        Action::ViewDashboard,
        Action::SearchCustomers,
        Action::ViewContact,
        Action::ViewServiceProfile,
        Action::ViewSensitiveNotes,
        Action::ViewVisits,
        Action::ViewMembership,
        Action::ViewConsents,
        Action::CreateCustomer,
        Action::EditContact,
        Action::RecordCounterConsent,
        Action::RecordVisit,
        Action::AddVisitNote,
        Action::ViewRequests,
        Action::RecordRequest,
        Action::DecideRequest,
        Action::ManageSharing,
        Action::SetRetention,
        Action::PublishNotice,
        Action::ManageApiKeys,
        Action::CheckConsentStatus,
        Action::ViewConsentCounts,
        Action::ExportOptedIn,
        Action::ProcessTakedowns,
        Action::ManageStaff,
        Action::ViewAuditLog,
    ];

    /// The stored name (audit log, API scopes).
    pub fn as_str(self) -> &'static str {
        use Action::*;
        match self {
            ViewDashboard => "view_dashboard",
            SearchCustomers => "search_customers",
            ViewContact => "view_contact",
            ViewServiceProfile => "view_service_profile",
            ViewSensitiveNotes => "view_sensitive_notes",
            ViewVisits => "view_visits",
            ViewMembership => "view_membership",
            ViewConsents => "view_consents",
            CreateCustomer => "create_customer",
            EditContact => "edit_contact",
            RecordCounterConsent => "record_counter_consent",
            RecordVisit => "record_visit",
            AddVisitNote => "add_visit_note",
            ViewRequests => "view_requests",
            RecordRequest => "record_request",
            DecideRequest => "decide_request",
            ManageSharing => "manage_sharing",
            SetRetention => "set_retention",
            PublishNotice => "publish_notice",
            ManageApiKeys => "manage_api_keys",
            CheckConsentStatus => "check_consent_status",
            ViewConsentCounts => "view_consent_counts",
            ExportOptedIn => "export_opted_in",
            ProcessTakedowns => "process_takedowns",
            PurgeRetained => "purge_retained",
            ManageStaff => "manage_staff",
            ViewAuditLog => "view_audit_log",
            SetSecondFactor => "set_second_factor",
        }
    }
}

impl Role {
    /// The role matrix of product.md. Anything not listed is refused.
    pub fn may(self, action: Action) -> bool {
        use Action::*;
        if action == PurgeRetained {
            return false;
        }
        if action == SetSecondFactor {
            return true;
        }
        match self {
            Role::PrivacyOfficer => true,
            Role::FrontDesk => matches!(
                action,
                ViewDashboard
                    | SearchCustomers
                    | ViewContact
                    | ViewConsents
                    | CreateCustomer
                    | EditContact
                    | RecordCounterConsent
                    | ViewRequests
                    | RecordRequest
            ),
            // Stylists find a customer by name to serve them, but see no contact details.
            Role::Stylist => matches!(
                action,
                ViewDashboard
                    | SearchCustomers
                    | ViewServiceProfile
                    | ViewSensitiveNotes
                    | ViewVisits
                    | RecordVisit
                    | AddVisitNote
            ),
            Role::Marketing => matches!(
                action,
                ViewDashboard
                    | CheckConsentStatus
                    | ViewConsentCounts
                    | ExportOptedIn
                    | ProcessTakedowns
            ),
        }
    }
}

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
