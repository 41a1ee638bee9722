//! To a member of staff whose second factor was set up or replaced (both languages: staff
//! have no language of record).

use portal_vocab::Lang;

use crate::{email::Email, mail::OutgoingMail};

use super::envelope;

/// Tells a member of staff that a second factor was set up or replaced on their account
/// (bilingual, as the invitation: staff have no language of record), so a change they did not
/// make is noticed.
pub fn staff_second_factor_changed(to: Email, salon: &str, replaced: bool) -> OutgoingMail {
    let (zh, en) = if replaced {
        ("已更换", "was replaced")
    } else {
        ("已设置", "was set up")
    };
    let text = format!(
        "您好！您在{salon}隐私门户员工后台的账户双重验证{zh}。如果这不是您本人的操作，请立即联系隐私负责人。\n\nHello, the second factor of your {salon} privacy portal staff account {en}. If you did not do this, tell the privacy officer at once.\n"
    );
    OutgoingMail {
        to,
        subject: format!("{salon} 双重验证变更 / Second factor changed"),
        html: Some(envelope::html(Lang::Zh, &text, None, None, None)),
        text,
    }
}
