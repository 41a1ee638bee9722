//! The portal's vocabulary: the words the domain and the pages share, on both sides of the
//! wire. Plain enums with their stored codes, no I/O and no dependency beyond serde, so the
//! wasm build of the pages uses the very types the domain decides with (`portal-core`
//! re-exports each one where it belongs). Pages look their translations up by these enums
//! through exhaustive matches: a new purpose or role without its text does not compile.

use serde::{Deserialize, Serialize};

pub mod forms;

/// A code that names none of a vocabulary's words. The payload is the message key of what
/// was being parsed (`consent.purpose`, `request.kind`, …).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Unknown(pub &'static str);

impl std::fmt::Display for Unknown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "unknown code for {}", self.0)
    }
}

impl std::error::Error for Unknown {}

/// The two languages of the portal.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Lang {
    /// Simplified Chinese, the default.
    #[default]
    Zh,
    /// English.
    En,
}

impl Lang {
    /// Short code used in the cookie and forms.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Zh => "zh",
            Lang::En => "en",
        }
    }

    /// Value of `<html lang>`.
    pub fn html_lang(self) -> &'static str {
        match self {
            Lang::Zh => "zh-CN",
            Lang::En => "en",
        }
    }

    /// Parses a code or a language tag (`zh`, `zh-CN`, `en-GB`…).
    pub fn from_tag(tag: &str) -> Option<Lang> {
        let primary = tag.trim().split(['-', '_']).next()?.to_ascii_lowercase();
        match primary.as_str() {
            "zh" => Some(Lang::Zh),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// The remembered choice wins; else the best `Accept-Language` match; else Chinese.
    pub fn negotiate(cookie: Option<&str>, accept_language: Option<&str>) -> Lang {
        if let Some(lang) = cookie.and_then(Lang::from_tag) {
            return lang;
        }
        let mut best: Option<(f32, Lang)> = None;
        for part in accept_language.unwrap_or_default().split(',') {
            let mut pieces = part.split(';');
            let Some(lang) = pieces.next().and_then(Lang::from_tag) else {
                continue;
            };
            let q = pieces
                .find_map(|p| {
                    p.trim()
                        .strip_prefix("q=")
                        .and_then(|q| q.parse::<f32>().ok())
                })
                .unwrap_or(1.0);
            if q > 0.0 && best.is_none_or(|(bq, _)| q > bq) {
                best = Some((q, lang));
            }
        }
        best.map(|(_, l)| l).unwrap_or_default()
    }

    /// The other language (the switch offers it).
    pub fn other(self) -> Lang {
        match self {
            Lang::Zh => Lang::En,
            Lang::En => Lang::Zh,
        }
    }
}

/// The six purposes of product.md.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    /// Offers by SMS.
    MarketingSms,
    /// Offers by email.
    MarketingEmail,
    /// Offers on WeChat.
    MarketingWechat,
    /// Photos in the salon's portfolio.
    PhotosPortfolio,
    /// Photos on named social platforms.
    PhotosSocial,
    /// Keeping allergies and skin/scalp conditions (health data: separate consent).
    SensitiveNotes,
}

impl Purpose {
    /// Every purpose, in display order.
    pub const ALL: [Purpose; 6] = [
        Purpose::MarketingSms,
        Purpose::MarketingEmail,
        Purpose::MarketingWechat,
        Purpose::PhotosPortfolio,
        Purpose::PhotosSocial,
        Purpose::SensitiveNotes,
    ];

    /// The marketing channels, for "may we contact them?", in display order.
    pub const MARKETING: [Purpose; 3] = [
        Purpose::MarketingSms,
        Purpose::MarketingEmail,
        Purpose::MarketingWechat,
    ];

    /// The stored code (`consent_purposes.code`).
    pub fn code(self) -> &'static str {
        match self {
            Purpose::MarketingSms => "marketing_sms",
            Purpose::MarketingEmail => "marketing_email",
            Purpose::MarketingWechat => "marketing_wechat",
            Purpose::PhotosPortfolio => "photos_portfolio",
            Purpose::PhotosSocial => "photos_social",
            Purpose::SensitiveNotes => "sensitive_notes",
        }
    }

    /// Turning it on needs an explicit confirmation (health data, published photos).
    pub fn needs_explicit_confirmation(self) -> bool {
        matches!(
            self,
            Purpose::PhotosPortfolio | Purpose::PhotosSocial | Purpose::SensitiveNotes
        )
    }

    /// Parses a stored or submitted code.
    pub fn parse(code: &str) -> Result<Self, Unknown> {
        Purpose::ALL
            .into_iter()
            .find(|p| p.code() == code)
            .ok_or(Unknown("consent.purpose"))
    }
}

/// "May we contact them?" on each marketing channel, for one contact. It travels in the staff
/// page's URL as one letter per channel of [`Purpose::MARKETING`] (`y` or `n`: `nyn` is email
/// only), so the contact never does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MayContact([bool; 3]);

impl MayContact {
    /// The answer for each marketing channel.
    pub fn from_fn(mut may: impl FnMut(Purpose) -> bool) -> Self {
        MayContact(Purpose::MARKETING.map(&mut may))
    }

    /// The answer for `channel`; `false` for a purpose that is no marketing channel.
    pub fn may(self, channel: Purpose) -> bool {
        Purpose::MARKETING
            .iter()
            .position(|&p| p == channel)
            .is_some_and(|i| self.0[i])
    }

    /// Each marketing channel with its answer, in display order.
    pub fn answers(self) -> [(Purpose, bool); 3] {
        Purpose::MARKETING.map(|p| (p, self.may(p)))
    }

    /// The URL form, `nyn`.
    pub fn code(self) -> String {
        self.0.iter().map(|&m| if m { 'y' } else { 'n' }).collect()
    }

    /// Reads [`MayContact::code`] back; anything else (a hand-edited URL) is `None`.
    pub fn parse(code: &str) -> Option<Self> {
        let mut answers = [false; 3];
        let mut letters = code.chars();
        for answer in &mut answers {
            *answer = match letters.next()? {
                'y' => true,
                'n' => false,
                _ => return None,
            };
        }
        letters.next().is_none().then_some(MayContact(answers))
    }
}

/// Where a consent was given or withdrawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// By the customer in the portal.
    Portal,
    /// At the counter, recorded by front desk.
    FrontDesk,
    /// On a signed paper form, recorded by staff.
    PaperForm,
}

impl Channel {
    /// Every channel, in the order the pages name them.
    pub const ALL: [Channel; 3] = [Channel::Portal, Channel::FrontDesk, Channel::PaperForm];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Portal => "portal",
            Channel::FrontDesk => "front_desk",
            Channel::PaperForm => "paper_form",
        }
    }

    /// Parses a submitted channel.
    pub fn parse(s: &str) -> Result<Self, Unknown> {
        [Channel::Portal, Channel::FrontDesk, Channel::PaperForm]
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or(Unknown("consent.channel"))
    }
}

/// The kinds of product.md.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A copy of everything (export).
    Access,
    /// Correct some values.
    Correction,
    /// Delete everything the law does not make the salon keep.
    Deletion,
    /// Freeze use of the data.
    Restriction,
    /// Object to marketing: every marketing consent withdrawn.
    Objection,
    /// A privacy question or complaint, answered by the privacy officer.
    Question,
}

impl Kind {
    /// Every kind, in display order.
    pub const ALL: [Kind; 6] = [
        Kind::Access,
        Kind::Correction,
        Kind::Deletion,
        Kind::Restriction,
        Kind::Objection,
        Kind::Question,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Access => "access",
            Kind::Correction => "correction",
            Kind::Deletion => "deletion",
            Kind::Restriction => "restriction",
            Kind::Objection => "objection",
            Kind::Question => "question",
        }
    }

    /// Parses a stored or submitted name.
    pub fn parse(s: &str) -> Result<Self, Unknown> {
        Kind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or(Unknown("request.kind"))
    }
}

/// What a recipient in the sharing register was given that identifies a customer: what it
/// needs to find the record when a correction or deletion is passed on to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Identifier {
    /// The customer's name.
    Name,
    /// The phone number.
    Phone,
    /// The email address.
    Email,
    /// The membership card number.
    Card,
}

impl Identifier {
    /// Every identifier, in display order.
    pub const ALL: [Identifier; 4] = [
        Identifier::Name,
        Identifier::Phone,
        Identifier::Email,
        Identifier::Card,
    ];

    /// The stored name.
    pub fn code(self) -> &'static str {
        match self {
            Identifier::Name => "name",
            Identifier::Phone => "phone",
            Identifier::Email => "email",
            Identifier::Card => "card",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Result<Self, Unknown> {
        Identifier::ALL
            .into_iter()
            .find(|i| i.code() == s)
            .ok_or(Unknown("sharing.identifier"))
    }

    /// Reads a stored list (`"phone,card"`); unknown names are skipped, so a list written by a
    /// newer portal never stops an older one from reading the rest.
    pub fn parse_list(s: &str) -> Vec<Identifier> {
        Identifier::ALL
            .into_iter()
            .filter(|i| s.split(',').any(|p| p.trim() == i.code()))
            .collect()
    }

    /// The stored form of a list, in display order.
    pub fn list_code(ids: &[Identifier]) -> String {
        Identifier::ALL
            .into_iter()
            .filter(|i| ids.contains(i))
            .map(Identifier::code)
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// Where a request is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Waiting for staff.
    Submitted,
    /// Staff are looking at it.
    InReview,
    /// Approved; the portal is carrying it out.
    Approved,
    /// Carried out.
    Done,
    /// Denied, with a reason the customer was told.
    Denied,
    /// Withdrawn by the customer.
    Cancelled,
}

impl Status {
    /// Every state.
    pub const ALL: [Status; 6] = [
        Status::Submitted,
        Status::InReview,
        Status::Approved,
        Status::Done,
        Status::Denied,
        Status::Cancelled,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Submitted => "submitted",
            Status::InReview => "in_review",
            Status::Approved => "approved",
            Status::Done => "done",
            Status::Denied => "denied",
            Status::Cancelled => "cancelled",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Result<Self, Unknown> {
        Status::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or(Unknown("request.status"))
    }

    /// Still needs work.
    pub fn is_open(self) -> bool {
        matches!(
            self,
            Status::Submitted | Status::InReview | Status::Approved
        )
    }
}

/// The four staff roles of product.md (customers are not staff).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Owner or store manager: decides requests, manages staff, keys and notices.
    PrivacyOfficer,
    /// Reception: creates records, records counter consents, sees the queue.
    FrontDesk,
    /// Sees service profiles and visits; sensitive notes only with consent.
    Stylist,
    /// Sees consent status per channel, and nothing else of a profile.
    Marketing,
}

impl Role {
    /// Every role, in the order of product.md.
    pub const ALL: [Role; 4] = [
        Role::PrivacyOfficer,
        Role::FrontDesk,
        Role::Stylist,
        Role::Marketing,
    ];

    /// The stored and typed name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::PrivacyOfficer => "privacy_officer",
            Role::FrontDesk => "front_desk",
            Role::Stylist => "stylist",
            Role::Marketing => "marketing",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Role {
    type Err = Unknown;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s.trim().replace('-', "_"))
            .ok_or(Unknown("staff.role"))
    }
}

/// Every staff action the portal offers. The audit log records these names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
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
    /// Read what a recipient needs to find a corrected or deleted record (the identifiers it
    /// was given, kept sealed until its pass-on task is done); every view is audited.
    ViewPassOnIdentifiers,
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
    pub const ALL: [Action; 27] = [
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
        Action::ViewPassOnIdentifiers,
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
            ViewPassOnIdentifiers => "view_pass_on_identifiers",
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

/// A social platform the salon posts on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Platform {
    /// WeChat (moments and the official account).
    WeChat,
    /// Xiaohongshu (RED).
    Xiaohongshu,
    /// Douyin.
    Douyin,
    /// Weibo.
    Weibo,
    /// Instagram.
    Instagram,
}

impl Platform {
    /// Every platform, in display order.
    pub const ALL: [Platform; 5] = [
        Platform::WeChat,
        Platform::Xiaohongshu,
        Platform::Douyin,
        Platform::Weibo,
        Platform::Instagram,
    ];

    /// Stable code.
    pub fn code(self) -> &'static str {
        match self {
            Platform::WeChat => "wechat",
            Platform::Xiaohongshu => "xiaohongshu",
            Platform::Douyin => "douyin",
            Platform::Weibo => "weibo",
            Platform::Instagram => "instagram",
        }
    }
}

/// A public use of a photo.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PhotoUse {
    /// The salon's portfolio (window, website, albums shown in the salon).
    Portfolio,
    /// Posts on one named social platform.
    Social(Platform),
}

impl PhotoUse {
    /// Every public use, in display order.
    pub fn all() -> Vec<PhotoUse> {
        std::iter::once(PhotoUse::Portfolio)
            .chain(Platform::ALL.into_iter().map(PhotoUse::Social))
            .collect()
    }

    /// Stable code: `portfolio` or `social:<platform>`.
    pub fn code(self) -> String {
        match self {
            PhotoUse::Portfolio => "portfolio".to_owned(),
            PhotoUse::Social(p) => format!("social:{}", p.code()),
        }
    }

    /// Parses a code; anything else is `Invalid`.
    pub fn parse(code: &str) -> Result<Self, Unknown> {
        Self::all()
            .into_iter()
            .find(|u| u.code() == code)
            .ok_or(Unknown("photo_use"))
    }

    /// The purpose switch that must be on as well.
    pub fn purpose(self) -> Purpose {
        match self {
            PhotoUse::Portfolio => Purpose::PhotosPortfolio,
            PhotoUse::Social(_) => Purpose::PhotosSocial,
        }
    }
}

/// An amount of money in cents (fen) of yuan; negative for what the salon owes.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct Cents(pub i64);

impl Cents {
    /// `123`, `123.5` or `123.45` yuan, as typed into a form (no sign, at most nine digits
    /// before the point and two after).
    pub fn parse_yuan(s: &str) -> Option<Cents> {
        let s = s.trim();
        let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
        if whole.is_empty() || whole.len() > 9 || frac.len() > 2 {
            return None;
        }
        if !whole
            .bytes()
            .chain(frac.bytes())
            .all(|b| b.is_ascii_digit())
        {
            return None;
        }
        let cents = format!("{frac:0<2}").parse::<i64>().ok()?;
        Some(Cents(whole.parse::<i64>().ok()? * 100 + cents))
    }

    /// The amount in yuan with two decimals and its sign: `12.30`, `-0.50`.
    pub fn yuan(self) -> String {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        format!("{sign}{}.{:02}", abs / 100, abs % 100)
    }
}

/// `¥12.30`, `-¥0.50`: the one way the portal shows money.
impl std::fmt::Display for Cents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // By the unsigned magnitude: negating i64::MIN would overflow.
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        write!(f, "{sign}¥{}.{:02}", abs / 100, abs % 100)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn may_contact_reads_back_its_own_code_and_nothing_else() {
        let email_only = MayContact::from_fn(|p| p == Purpose::MarketingEmail);
        assert_eq!(email_only.code(), "nyn");
        assert_eq!(MayContact::parse("nyn"), Some(email_only));
        assert!(email_only.may(Purpose::MarketingEmail));
        assert!(!email_only.may(Purpose::MarketingSms));
        assert!(!email_only.may(Purpose::SensitiveNotes));
        for bad in ["", "ny", "nynn", "nxn", "NYN"] {
            assert_eq!(MayContact::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn an_identifier_list_reads_back_in_display_order_and_skips_unknown_names() {
        let list = [Identifier::Card, Identifier::Phone];
        assert_eq!(Identifier::list_code(&list), "phone,card");
        assert_eq!(
            Identifier::parse_list("card, phone,iban"),
            vec![Identifier::Phone, Identifier::Card]
        );
        assert_eq!(Identifier::parse_list(""), vec![]);
        assert_eq!(
            Identifier::parse("Phone"),
            Err(Unknown("sharing.identifier"))
        );
    }

    #[test]
    fn money_keeps_its_sign_and_two_decimals() {
        assert_eq!(Cents(1230).to_string(), "¥12.30");
        assert_eq!(Cents(-50).to_string(), "-¥0.50");
        assert_eq!(Cents(-1205).yuan(), "-12.05");
        assert_eq!(Cents(0).to_string(), "¥0.00");
        assert_eq!(Cents(i64::MIN).yuan(), "-92233720368547758.08");
        assert_eq!(Cents(i64::MIN).to_string(), "-¥92233720368547758.08");
    }

    #[test]
    fn yuan_as_typed_read_as_cents_and_anything_else_is_refused() {
        assert_eq!(Cents::parse_yuan("128"), Some(Cents(12_800)));
        assert_eq!(Cents::parse_yuan("128.5"), Some(Cents(12_850)));
        assert_eq!(Cents::parse_yuan(" 0.05 "), Some(Cents(5)));
        for bad in [
            "",
            "-1",
            "1.234",
            "1e3",
            "abc",
            ".5",
            "1,000",
            "1234567890",
            "１２",
        ] {
            assert_eq!(Cents::parse_yuan(bad), None, "{bad}");
        }
    }

    #[test]
    fn every_code_parses_back_to_its_word() {
        for p in Purpose::ALL {
            assert_eq!(Purpose::parse(p.code()), Ok(p));
        }
        for c in Channel::ALL {
            assert_eq!(Channel::parse(c.as_str()), Ok(c));
        }
        for k in Kind::ALL {
            assert_eq!(Kind::parse(k.as_str()), Ok(k));
        }
        for s in Status::ALL {
            assert_eq!(Status::parse(s.as_str()), Ok(s));
        }
        for r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>(), Ok(r));
        }
        for u in PhotoUse::all() {
            assert_eq!(PhotoUse::parse(&u.code()), Ok(u));
        }
        assert_eq!(
            Purpose::parse("marketing_fax"),
            Err(Unknown("consent.purpose"))
        );
    }
}
