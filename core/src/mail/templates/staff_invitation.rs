//! The invitation to a new member of staff (both languages).

use portal_vocab::Lang;

use crate::{email::Email, mail::OutgoingMail};

use super::envelope::{self, Action};

/// The invitation to a new member of staff: a single-use link, valid 24 hours, to set a
/// password. Built from the configured public URL only.
pub fn staff_invitation(
    to: Email,
    salon: &str,
    public_url: &url::Url,
    token: &str,
) -> OutgoingMail {
    let link = format!("{}staff/invite?t={token}", public_url.as_str());
    let text = format!(
        "您好！{salon}邀请您使用隐私门户员工后台。请在 24 小时内打开下面的链接设置密码（仅可使用一次）：\n{link}\n\nHello, {salon} invites you to the privacy portal's staff area. Open this link within 24 hours to set your password (it works once):\n{link}\n"
    );
    OutgoingMail {
        to,
        subject: format!("{salon} 员工邀请 / Staff invitation"),
        html: Some(envelope::html(
            Lang::Zh,
            &text,
            Some(Action::link(&link, &link)),
            None,
            None,
        )),
        text,
    }
}
