//! To a new email address a customer (or the privacy officer) entered: the link that confirms
//! it (plain text).

use portal_vocab::Lang;

use crate::{email::Email, mail::OutgoingMail};

/// The confirmation mail; `link` carries the single-use token.
pub fn mail(to: Email, lang: Lang, salon: &str, link: &str) -> OutgoingMail {
    let (subject, text) = if lang == Lang::En {
        (
            format!("{salon}: confirm your new email address"),
            format!(
                "Please confirm that this is your new email address for {salon} (the link works for 10 minutes, once):\n{link}\n\nIf you did not ask for this, ignore this mail; nothing will change.\n"
            ),
        )
    } else {
        (
            format!("{salon}：请确认您的新邮箱"),
            format!(
                "请点击下面的链接，确认这是您在{salon}登记的新邮箱（10 分钟内有效，仅可使用一次）：\n{link}\n\n如果不是您本人申请，请忽略本邮件，不会有任何变化。\n"
            ),
        )
    };
    OutgoingMail {
        to,
        subject,
        text,
        html: None,
    }
}
