//! To the privacy officer: a request is due soon, or overdue (both languages: staff have no
//! language of record; plain text).

use portal_vocab::Kind;

use crate::{Portal, email::Email, mail::OutgoingMail};

pub fn reminder(
    portal: &Portal,
    to: Email,
    id: i64,
    kind: Kind,
    due: &str,
    overdue: bool,
) -> OutgoingMail {
    let link = format!("{}staff/requests/{id}", portal.settings.public_url.as_str());
    let kind = kind.as_str();
    let (subject, text) = if overdue {
        (
            format!("逾期：申请 #{id} / Overdue: request #{id}"),
            format!(
                "申请 #{id}（{kind}）已于 {due} 到期，仍未处理完毕。\nRequest #{id} ({kind}) was due on {due} and is still open.\n\n{link}\n"
            ),
        )
    } else {
        (
            format!("即将到期：申请 #{id} / Due soon: request #{id}"),
            format!(
                "申请 #{id}（{kind}）将于 {due} 到期。\nRequest #{id} ({kind}) is due on {due}.\n\n{link}\n"
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
