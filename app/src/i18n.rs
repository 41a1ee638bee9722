//! The i18n layer: every visible string of the portal, in Chinese (default) and English.
//!
//! A typed catalogue rather than leptos_i18n or Fluent: a missing translation is a compile
//! error (each language must fill every field of [`Texts`]), it costs nothing at run time and
//! adds nothing to the wasm bundle beyond the strings themselves.

pub use portal_vocab::Lang;
use portal_vocab::{Channel, Identifier, Kind, Platform, Purpose, Role, Status};

/// One text for each word of a vocabulary, looked up by the word itself through an exhaustive
/// match: a new purpose, channel, kind, state or role without its text does not compile.
macro_rules! per_word {
    ($(#[$doc:meta])* $name:ident, $word:ty, { $($field:ident => $variant:ident),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug)]
        pub struct $name {
            $(
                #[doc = concat!("The text for `", stringify!($variant), "`.")]
                pub $field: &'static str,
            )*
        }

        impl $name {
            /// The text for `w`.
            pub fn get(&self, w: $word) -> &'static str {
                match w {
                    $(<$word>::$variant => self.$field,)*
                }
            }
        }
    };
}

per_word!(
    /// A text per consent purpose.
    PerPurpose, Purpose, {
        marketing_sms => MarketingSms,
        marketing_email => MarketingEmail,
        marketing_wechat => MarketingWechat,
        photos_portfolio => PhotosPortfolio,
        photos_social => PhotosSocial,
        sensitive_notes => SensitiveNotes,
    }
);
per_word!(
    /// A text per consent channel.
    PerChannel, Channel, {
        portal => Portal,
        front_desk => FrontDesk,
        paper_form => PaperForm,
    }
);
per_word!(
    /// A text per request kind.
    PerKind, Kind, {
        access => Access,
        correction => Correction,
        deletion => Deletion,
        restriction => Restriction,
        objection => Objection,
        question => Question,
    }
);
per_word!(
    /// A text per identifier a sharing recipient may be given.
    PerIdentifier, Identifier, {
        name => Name,
        phone => Phone,
        email => Email,
        card => Card,
    }
);
per_word!(
    /// A text per request state.
    PerStatus, Status, {
        submitted => Submitted,
        in_review => InReview,
        approved => Approved,
        done => Done,
        denied => Denied,
        cancelled => Cancelled,
    }
);
per_word!(
    /// A text per social platform.
    PerPlatform, Platform, {
        wechat => WeChat,
        xiaohongshu => Xiaohongshu,
        douyin => Douyin,
        weibo => Weibo,
        instagram => Instagram,
    }
);
per_word!(
    /// A text per staff role.
    PerRole, Role, {
        privacy_officer => PrivacyOfficer,
        front_desk => FrontDesk,
        stylist => Stylist,
        marketing => Marketing,
    }
);

/// The two kinds of photo (before and after a treatment).
#[derive(Clone, Copy, Debug)]
pub struct PhotoKinds {
    /// Before the treatment.
    pub before: &'static str,
    /// After it.
    pub after: &'static str,
}

impl PhotoKinds {
    /// The text for a stored kind (`before` or `after`).
    pub fn get(&self, code: &str) -> &'static str {
        if code == "after" {
            self.after
        } else {
            self.before
        }
    }
}

/// Why a photo's public use ended, as a takedown task names it.
#[derive(Clone, Copy, Debug)]
pub struct TakedownReasons {
    /// The customer withdrew the use.
    pub changed: &'static str,
    /// Its end date passed.
    pub lapsed: &'static str,
    /// The customer switched the photo purpose off.
    pub consent_off: &'static str,
    /// The customer's data was erased.
    pub erased: &'static str,
}

impl TakedownReasons {
    /// The text for a stored reason (`changed`, `lapsed`, `consent_off`, `erased`).
    pub fn get(&self, code: &str) -> &'static str {
        match code {
            "changed" => self.changed,
            "lapsed" => self.lapsed,
            "consent_off" => self.consent_off,
            _ => self.erased,
        }
    }
}

/// The catalogue of a language (a trait: `Lang` lives in the vocabulary crate).
pub trait Catalogue {
    /// The catalogue for this language.
    fn t(self) -> &'static Texts;
}

impl Catalogue for Lang {
    fn t(self) -> &'static Texts {
        match self {
            Lang::Zh => &ZH,
            Lang::En => &EN,
        }
    }
}

/// The words of a customer's record that the staff pages and the customer's own pages share
/// (contact, profile, visits, membership, consents, a request's state): one text each, read by
/// both catalogues through `Deref`.
pub struct RecordWords {
    pub contact: &'static str,
    pub name: &'static str,
    pub phone: &'static str,
    pub profile: &'static str,
    pub hair: &'static str,
    pub skin: &'static str,
    pub preferred_stylist: &'static str,
    pub preferences: &'static str,
    pub sensitive: &'static str,
    pub visits: &'static str,
    pub membership: &'static str,
    pub balance: &'static str,
    pub points: &'static str,
    pub consents: &'static str,
    pub on: &'static str,
    pub off: &'static str,
    pub purpose_names: PerPurpose,
    pub status_names: PerStatus,
    pub reason: &'static str,
    pub outcome: &'static str,
}

/// The record's words in Chinese.
pub static RECORD_ZH: RecordWords = RecordWords {
    contact: "联系方式",
    name: "姓名",
    phone: "手机号",
    profile: "服务档案",
    hair: "发质",
    skin: "肤质",
    preferred_stylist: "常用美发师",
    preferences: "偏好",
    sensitive: "敏感信息（过敏、皮肤/头皮状况）",
    visits: "到店记录",
    membership: "会员卡",
    balance: "余额",
    points: "积分",
    consents: "授权",
    on: "已同意",
    off: "未同意",
    purpose_names: PerPurpose {
        marketing_sms: "短信营销",
        marketing_email: "邮件营销",
        marketing_wechat: "微信营销",
        photos_portfolio: "作品集照片",
        photos_social: "社交媒体照片",
        sensitive_notes: "敏感信息",
    },
    status_names: PerStatus {
        submitted: "已提交",
        in_review: "审核中",
        approved: "已批准",
        done: "已完成",
        denied: "已拒绝",
        cancelled: "已撤回",
    },
    reason: "理由",
    outcome: "结果",
};

/// The record's words in English.
pub static RECORD_EN: RecordWords = RecordWords {
    contact: "Contact",
    name: "Name",
    phone: "Phone",
    profile: "Service profile",
    hair: "Hair type",
    skin: "Skin type",
    preferred_stylist: "Preferred stylist",
    preferences: "Preferences",
    sensitive: "Sensitive notes (allergies, skin and scalp)",
    visits: "Visits",
    membership: "Membership",
    balance: "Balance",
    points: "Points",
    consents: "Consents",
    on: "Given",
    off: "Not given",
    purpose_names: PerPurpose {
        marketing_sms: "Marketing by SMS",
        marketing_email: "Marketing by email",
        marketing_wechat: "Marketing on WeChat",
        photos_portfolio: "Portfolio photos",
        photos_social: "Social media photos",
        sensitive_notes: "Sensitive notes",
    },
    status_names: PerStatus {
        submitted: "Submitted",
        in_review: "In review",
        approved: "Approved",
        done: "Done",
        denied: "Denied",
        cancelled: "Cancelled",
    },
    reason: "Reason",
    outcome: "Outcome",
};

/// Name of the cookie that remembers the chosen language.
pub const LANG_COOKIE: &str = "lang";

/// The language this request's page is read in, when the browser said one (the language
/// switch's cookie, or `Accept-Language`); `None` for a client that said nothing, so that a
/// tool without headers never overwrites a customer's language.
#[cfg(feature = "ssr")]
pub fn read_in() -> Option<Lang> {
    let parts = leptos::prelude::use_context::<http::request::Parts>()?;
    let cookie = crate::identity::cookie_value(&parts.headers, LANG_COOKIE);
    let accept = parts
        .headers
        .get(http::header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok());
    (cookie.is_some() || accept.is_some()).then(|| Lang::negotiate(cookie.as_deref(), accept))
}

/// Every string shown to people. Add a field here and the compiler asks for both languages.
pub struct Texts {
    pub skip_to_content: &'static str,
    pub language: &'static str,
    /// The switch's label, written in its own language.
    pub this_language: &'static str,
    pub privacy_notice: &'static str,
    pub home_title: &'static str,
    pub home_intro: &'static str,
    pub home_rights: &'static str,
    pub read_notice: &'static str,
    pub loading: &'static str,
    pub version: fn(i32) -> String,
    pub published_on: fn(&str) -> String,
    pub current_version: &'static str,
    pub earlier_versions: &'static str,
    pub viewing_old_version: &'static str,
    pub see_current: &'static str,
    pub not_found_title: &'static str,
    pub not_found_body: &'static str,
    pub error_title: &'static str,
    pub error_body: &'static str,
    pub back_home: &'static str,
    pub mailbox_title: &'static str,
    pub mailbox_intro: &'static str,
    pub mailbox_empty: &'static str,
    pub mailbox_to: &'static str,
    pub mailbox_subject: &'static str,
    pub mailbox_at: &'static str,
    pub sign_in: &'static str,
    pub signin_title: &'static str,
    pub signin_intro: &'static str,
    pub signin_email_label: &'static str,
    pub signin_send: &'static str,
    pub signin_bad_email: &'static str,
    pub signin_expired: &'static str,
    pub signin_again: &'static str,
    /// Shown when a download needs a recent sign-in.
    pub signin_fresh: &'static str,
    /// Before a deletion request or a new email address: sign in again.
    pub signin_fresh_request: &'static str,
    /// Shown when a customer page sent the visitor here (`next`): why, and where they go after.
    pub signin_needed: &'static str,
    /// The browser's session ended because the customer's data was deleted at their request.
    pub signin_erased: &'static str,
    pub signin_sent_title: &'static str,
    pub signin_sent_body: &'static str,
    pub signin_code_label: &'static str,
    pub signin_bad_code: &'static str,
    /// Too many wrong codes for the address today: the mailed link still works.
    pub signin_use_link: &'static str,
    pub signin_confirm: &'static str,
    pub signin_link_title: &'static str,
    pub signin_link_for: fn(&str) -> String,
    pub me_title: &'static str,
    pub me_signed_in_as: fn(&str) -> String,
    pub sign_out: &'static str,
    /// The staff area's strings.
    pub staff: &'static crate::staff::texts::StaffTexts,
    /// The customer's own pages.
    pub me: &'static crate::me::texts::MeTexts,
}

static ZH: Texts = Texts {
    skip_to_content: "跳到正文",
    language: "语言",
    this_language: "中文",
    privacy_notice: "隐私政策",
    home_title: "您的个人信息，由您做主",
    home_intro: "在这里查看本店保存的关于您的全部信息，下载副本，申请更正或删除，并逐项开启或关闭营销授权。",
    home_rights: "拒绝任何营销授权都不会影响您享受服务。",
    read_notice: "阅读隐私政策",
    loading: "加载中…",
    version: |v| format!("第 {v} 版"),
    published_on: |d| format!("生效日期：{d}"),
    current_version: "现行版本",
    earlier_versions: "全部版本",
    viewing_old_version: "您正在查看历史版本。",
    see_current: "查看现行版本",
    not_found_title: "找不到该页面",
    not_found_body: "您要找的内容不存在或已被移除。",
    error_title: "暂时无法显示",
    error_body: "服务暂时出现问题，请稍后再试。您的信息没有任何改动。",
    back_home: "返回首页",
    mailbox_title: "开发邮箱",
    mailbox_intro: "未配置 SMTP 服务器时，所有邮件都投递到这里（仅限开发模式）。",
    mailbox_empty: "还没有邮件。",
    mailbox_to: "收件人",
    mailbox_subject: "主题",
    mailbox_at: "时间",
    sign_in: "登录",
    signin_title: "登录隐私门户",
    signin_intro: "输入您在本店登记的电子邮箱，我们会发送一个登录链接和验证码。",
    signin_email_label: "电子邮箱",
    signin_send: "发送登录链接",
    signin_bad_email: "请输入有效的电子邮箱地址，例如 name@example.com。",
    signin_expired: "该登录链接或验证码已失效（有效期 10 分钟，仅可使用一次）。请重新获取。",
    signin_again: "重新获取登录链接",
    signin_fresh: "为了保护您的信息，下载副本前请重新登录（输入新的验证码）。",
    signin_fresh_request: "为了保护您的信息，申请删除或更改登录邮箱前请重新登录（输入新的验证码），然后再提交一次。",
    signin_needed: "请先登录再查看这个页面（登录后 30 分钟无操作会自动退出）。登录后会带您回到这个页面。",
    signin_erased: "您的信息已按您的申请删除，此前的登录也已结束。删除回执已发到您的邮箱。",
    signin_sent_title: "请查收邮件",
    signin_sent_body: "如果该邮箱已在本店登记，登录链接和验证码已经发出，10 分钟内有效。您可以点击邮件中的链接，或在下方输入验证码。",
    signin_code_label: "6 位验证码",
    signin_bad_code: "验证码不正确，请检查后重试。",
    signin_use_link: "今天这个邮箱输错验证码的次数太多，验证码已停用。请直接点击邮件中的登录链接（10 分钟内有效）。",
    signin_confirm: "登录",
    signin_link_title: "确认登录",
    signin_link_for: |m| format!("正在以 {m} 登录。点击下方按钮继续。"),
    me_title: "我的信息",
    me_signed_in_as: |m| format!("您已登录：{m}"),
    sign_out: "退出登录",
    staff: &crate::staff::texts::ZH,
    me: &crate::me::texts::ZH,
};

static EN: Texts = Texts {
    skip_to_content: "Skip to content",
    language: "Language",
    this_language: "English",
    privacy_notice: "Privacy notice",
    home_title: "Your data, your say",
    home_intro: "See everything the salon keeps about you, download a copy, ask for a correction or deletion, and switch each marketing consent on or off.",
    home_rights: "Saying no to marketing never affects our service to you.",
    read_notice: "Read the privacy notice",
    loading: "Loading…",
    version: |v| format!("Version {v}"),
    published_on: |d| format!("In effect since {d}"),
    current_version: "Current version",
    earlier_versions: "All versions",
    viewing_old_version: "You are reading an earlier version.",
    see_current: "See the current version",
    not_found_title: "Page not found",
    not_found_body: "What you are looking for does not exist or has been removed.",
    error_title: "Cannot show this right now",
    error_body: "Something went wrong on our side. Please try again later. Nothing of yours was changed.",
    back_home: "Back to the start page",
    mailbox_title: "Dev mailbox",
    mailbox_intro: "With no SMTP server configured, every mail is delivered here (development only).",
    mailbox_empty: "No mail yet.",
    mailbox_to: "To",
    mailbox_subject: "Subject",
    mailbox_at: "Time",
    sign_in: "Sign in",
    signin_title: "Sign in to the privacy portal",
    signin_intro: "Enter the email address the salon has on record. We will send you a sign-in link and a code.",
    signin_email_label: "Email address",
    signin_send: "Send me a sign-in link",
    signin_bad_email: "Please enter a valid email address, such as name@example.com.",
    signin_expired: "This sign-in link or code no longer works (they last 10 minutes and work once). Please ask for a new one.",
    signin_again: "Ask for a new sign-in link",
    signin_fresh: "To keep your data safe, please sign in again (with a new code) before downloading your copy.",
    signin_fresh_request: "To keep your data safe, please sign in again (with a new code) before asking for deletion or changing your sign-in email, then send it once more.",
    signin_needed: "Please sign in to see that page (a sign-in ends after 30 minutes without activity). You will be brought back to it afterwards.",
    signin_erased: "Your data has been deleted, as you asked, and your sign-in has ended with it. The deletion receipt is in your mailbox.",
    signin_sent_title: "Check your mail",
    signin_sent_body: "If this address is on record with the salon, a sign-in link and code are on their way; they work for 10 minutes. Open the link, or type the code below.",
    signin_code_label: "6-digit code",
    signin_bad_code: "That code is not right. Please check it and try again.",
    signin_use_link: "Too many wrong codes were typed for this address today, so codes are switched off until tomorrow. Open the sign-in link in the mail instead (it works for 10 minutes).",
    signin_confirm: "Sign in",
    signin_link_title: "Confirm sign-in",
    signin_link_for: |m| format!("Signing in as {m}. Press the button to continue."),
    me_title: "My data",
    me_signed_in_as: |m| format!("You are signed in as {m}."),
    sign_out: "Sign out",
    staff: &crate::staff::texts::EN,
    me: &crate::me::texts::EN,
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chinese_is_the_default_when_nothing_matches() {
        assert_eq!(Lang::negotiate(None, None), Lang::Zh);
        assert_eq!(Lang::negotiate(None, Some("fr-FR,de;q=0.8")), Lang::Zh);
        assert_eq!(Lang::negotiate(None, Some("garbage;;;q=x")), Lang::Zh);
    }

    #[test]
    fn accept_language_picks_the_highest_quality_match() {
        assert_eq!(Lang::negotiate(None, Some("en-US,en;q=0.9")), Lang::En);
        assert_eq!(
            Lang::negotiate(None, Some("fr, en;q=0.5, zh-CN;q=0.8")),
            Lang::Zh
        );
        assert_eq!(Lang::negotiate(None, Some("zh;q=0, en;q=0.1")), Lang::En);
    }

    #[test]
    fn the_remembered_choice_beats_the_browser() {
        assert_eq!(Lang::negotiate(Some("en"), Some("zh-CN")), Lang::En);
        assert_eq!(Lang::negotiate(Some("zh"), Some("en")), Lang::Zh);
        assert_eq!(Lang::negotiate(Some("xx"), Some("en")), Lang::En);
    }
}
