//! After intake: where the customer can see and manage their data (no sign-in token in it).

use portal_vocab::Lang;

use crate::{email::Email, mail::OutgoingMail};

use super::envelope::{self, Action};

/// A short mail after intake: where the customer can see and manage their data. It carries no
/// sign-in token (the customer asks for one on the page).
pub fn portal_invitation(
    to: Email,
    lang: Lang,
    salon: &str,
    public_url: &url::Url,
) -> OutgoingMail {
    let link = format!("{}signin", public_url.as_str());
    let (subject, text) = if lang == Lang::En {
        (
            format!("{salon}: your privacy portal"),
            format!(
                "Hello,\n\n{salon} has created your customer record. You can see everything we keep about you, download a copy, correct or delete it, and switch each marketing consent on or off at:\n{link}\n\nSign in with this email address.\n"
            ),
        )
    } else {
        (
            format!("{salon} 隐私门户"),
            format!(
                "您好！\n\n{salon}已为您建立顾客档案。您可以在下面的网址查看我们保存的关于您的全部信息、下载副本、更正或删除，并逐项开启或关闭营销授权：\n{link}\n\n请使用本邮箱地址登录。\n"
            ),
        )
    };
    let html = envelope::html(lang, &text, Some(Action::link(&link, &link)), None, None);
    OutgoingMail {
        to,
        subject,
        text,
        html: Some(html),
    }
}
