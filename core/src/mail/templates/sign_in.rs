//! The sign-in mail: a single-use link and the code, in the customer's language.

use portal_vocab::Lang;

use crate::{email::Email, mail::OutgoingMail};

use super::envelope::{self, Action};

/// The sign-in mail in the customer's language; the link is built from the configured public
/// URL only, never from request headers.
pub fn sign_in_mail(
    to: Email,
    lang: Lang,
    salon: &str,
    public_url: &url::Url,
    token: &str,
    code: &str,
) -> OutgoingMail {
    let link = format!("{}signin/link?t={token}", public_url.as_str());
    let (subject, text) = if lang == Lang::En {
        (
            format!("Your sign-in link for {salon}"),
            format!(
                "Hello,\n\nTo sign in to {salon}'s privacy portal, open this link (valid for 10 minutes, once):\n{link}\n\nOr type this code in the browser where you asked: {code}\n\nIf you did not ask to sign in, ignore this mail; nothing will happen.\n"
            ),
        )
    } else {
        (
            format!("{salon} 登录链接"),
            format!(
                "您好！\n\n请打开下面的链接登录{salon}隐私门户（10 分钟内有效，仅可使用一次）：\n{link}\n\n或在您发起登录的浏览器中输入验证码：{code}\n\n如果不是您本人操作，请忽略本邮件，不会有任何变化。\n"
            ),
        )
    };
    let (intro, button, code_line, ignore) = match lang {
        Lang::En => (
            format!(
                "To sign in to {salon}'s privacy portal, press the button. It works for 10 minutes, once."
            ),
            "Sign in",
            "Or type this code in the browser where you asked:",
            "If you did not ask to sign in, ignore this mail; nothing will happen.",
        ),
        Lang::Zh => (
            format!("请点击下方按钮登录{salon}隐私门户，10 分钟内有效，仅可使用一次。"),
            "登录",
            "或在您发起登录的浏览器中输入验证码：",
            "如果不是您本人操作，请忽略本邮件，不会有任何变化。",
        ),
    };
    let html = envelope::html(
        lang,
        &intro,
        Some(Action::button(&link, button)),
        Some((code_line, code)),
        Some(ignore),
    );
    OutgoingMail {
        to,
        subject,
        text,
        html: Some(html),
    }
}
