//! The multi-field forms exactly as a browser posts them: every field a string (or absent, for
//! an unticked box), so a form never fails before the domain has read it. The domain parses
//! each into its own typed input (`portal_core::customers::intake::Intake::from_form`, …) and
//! says what was wrong; server functions take these with `#[server(flatten)]`, so the field
//! names are the form's own.

use serde::{Deserialize, Serialize};

/// A ticked checkbox posts its `value`; an unticked one posts nothing.
pub type Tick = Option<String>;

/// The front desk's intake form.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Intake {
    pub name: String,
    pub phone: String,
    pub email: String,
    pub language: String,
    pub channel: String,
    /// The notice version the form showed.
    pub notice_version: String,
    pub notice_shown: Tick,
    pub marketing_sms: Tick,
    pub marketing_email: Tick,
    pub marketing_wechat: Tick,
    pub photos_portfolio: Tick,
    pub photos_social: Tick,
    pub sensitive_notes: Tick,
    pub send_link: Tick,
}

/// The front desk's contact form on a record (blank phone or email removes it).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contact {
    pub name: String,
    pub phone: String,
    pub email: String,
}

/// A stylist's visit form.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Visit {
    pub services: String,
    /// Yuan, as typed: `128`, `128.5`.
    pub amount: String,
    pub notes: String,
}

/// The customer's request form (the corrections only for a correction).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    pub kind: String,
    pub note: Option<String>,
    pub name: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    /// For a deletion: the customer's explicit tick that they read what goes and what stays.
    #[serde(default)]
    pub confirm: Tick,
}

/// The customer's choices for one photo: a box per use, an optional end date.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhotoUses {
    pub portfolio: Tick,
    pub wechat: Tick,
    pub xiaohongshu: Tick,
    pub douyin: Tick,
    pub weibo: Tick,
    pub instagram: Tick,
    /// `YYYY-MM-DD`, or blank for no end.
    pub until: Option<String>,
    /// The explicit tick a public use needs.
    pub confirm: Tick,
}

impl PhotoUses {
    /// The ticked uses, in the order of [`crate::PhotoUse::all`].
    pub fn ticked(&self) -> Vec<crate::PhotoUse> {
        let boxes = [
            &self.portfolio,
            &self.wechat,
            &self.xiaohongshu,
            &self.douyin,
            &self.weibo,
            &self.instagram,
        ];
        crate::PhotoUse::all()
            .into_iter()
            .zip(boxes)
            .filter_map(|(u, on)| on.as_ref().map(|_| u))
            .collect()
    }
}

/// The officer's decision form on a request.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    /// `review`, `approve`, `deny`, `answer`, `extend` or `assign`.
    pub decision: String,
    pub reason: Option<String>,
    /// `YYYY-MM-DD`, for `extend`.
    pub new_due: Option<String>,
    pub apply_name: Tick,
    pub apply_phone: Tick,
    pub apply_email: Tick,
    /// For `settle`: the balance the page showed, in yuan (refused if it changed meanwhile).
    #[serde(default)]
    pub settle_amount: Option<String>,
    /// For `settle`: `cash`, `transfer` or `other`.
    #[serde(default)]
    pub settle_method: Option<String>,
    /// For `settle`: the officer's explicit tick that the amount was settled with the customer.
    #[serde(default)]
    pub settle_confirm: Tick,
}

/// The officer's retention rules form (numbers as typed).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Retention {
    pub enabled: Tick,
    pub inactive_months: String,
    pub notice_days: String,
    pub request_years: String,
}

/// A sharing-register entry as the officer types it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recipient {
    /// Who (e.g. the payment platform).
    pub name: String,
    /// What data, in Chinese.
    pub data_zh: String,
    /// What data, in English.
    pub data_en: String,
    /// Why, in Chinese.
    pub purpose_zh: String,
    /// Why, in English.
    pub purpose_en: String,
    /// Ticked when the recipient is given the customer's name.
    #[serde(default)]
    pub gives_name: Tick,
    /// … their phone number.
    #[serde(default)]
    pub gives_phone: Tick,
    /// … their email address.
    #[serde(default)]
    pub gives_email: Tick,
    /// … their membership card number.
    #[serde(default)]
    pub gives_card: Tick,
}

/// The identifiers a register entry's recipient is given, as the officer ticks them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identifiers {
    #[serde(default)]
    pub gives_name: Tick,
    #[serde(default)]
    pub gives_phone: Tick,
    #[serde(default)]
    pub gives_email: Tick,
    #[serde(default)]
    pub gives_card: Tick,
}

/// The officer's form for the next version of the privacy notice.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    pub title_zh: String,
    pub title_en: String,
    pub body_zh: String,
    pub body_en: String,
    /// Customers must confirm it at their next sign-in.
    pub requires_confirmation: Tick,
}
