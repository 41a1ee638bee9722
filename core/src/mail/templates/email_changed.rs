//! To the address on record when staff enter a new one or remove it (plain text).

use portal_vocab::Lang;

use crate::{email::Email, mail::OutgoingMail};

/// The mail to the address on record when staff change or remove it.
pub fn old_address_told(to: Email, lang: Lang, salon: &str, cleared: bool) -> OutgoingMail {
    let (subject, text) = match (lang == Lang::En, cleared) {
        (true, false) => (
            format!("{salon}: a new email address was entered for you"),
            format!(
                "Hello,\n\nStaff at {salon} entered a new email address for your customer record. It will replace this one only when someone confirms it through the link we sent to the new address; until then you keep signing in with this address.\n\nIf you did not ask for this, tell the salon or reply to this mail.\n"
            ),
        ),
        (true, true) => (
            format!("{salon}: your email address was removed"),
            format!(
                "Hello,\n\nStaff at {salon} removed this email address from your customer record, so it no longer signs you in to the privacy portal.\n\nIf you did not ask for this, tell the salon or reply to this mail.\n"
            ),
        ),
        (false, false) => (
            format!("{salon}：有人为您登记了新邮箱"),
            format!(
                "您好！\n\n{salon}的员工为您的顾客档案登记了一个新邮箱。只有在新邮箱收到的确认链接被打开并确认后，它才会替换本邮箱；在此之前，您仍用本邮箱登录。\n\n如果不是您本人的要求，请告知门店或回复本邮件。\n"
            ),
        ),
        (false, true) => (
            format!("{salon}：您的邮箱已被移除"),
            format!(
                "您好！\n\n{salon}的员工已从您的顾客档案中移除本邮箱，本邮箱不能再用于登录隐私门户。\n\n如果不是您本人的要求，请告知门店或回复本邮件。\n"
            ),
        ),
    };
    OutgoingMail {
        to,
        subject,
        text,
        html: None,
    }
}
