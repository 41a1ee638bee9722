//! To the privacy officer: a request is due soon, or overdue (both languages: staff have no
//! language of record; plain text).

use portal_vocab::Kind;

use crate::{Portal, email::Email, mail::OutgoingMail};

/// The kind as the staff pages name it, in Chinese and English (never its stored code).
fn kind_names(kind: Kind) -> (&'static str, &'static str) {
    match kind {
        Kind::Access => ("获取副本", "copy of data"),
        Kind::Correction => ("更正", "correction"),
        Kind::Deletion => ("删除", "deletion of data"),
        Kind::Restriction => ("限制处理", "restriction of use"),
        Kind::Objection => ("拒绝营销", "objection to marketing"),
        Kind::Question => ("咨询或投诉", "question or complaint"),
    }
}

/// The reminder of request `id`, due on the salon-local day `due`.
pub fn reminder(
    portal: &Portal,
    to: Email,
    id: i64,
    kind: Kind,
    due: &str,
    overdue: bool,
) -> OutgoingMail {
    let link = format!("{}staff/requests/{id}", portal.settings.public_url.as_str());
    let (zh, en) = kind_names(kind);
    let (subject, text) = if overdue {
        (
            format!("逾期：申请 #{id} / Overdue: request #{id}"),
            format!(
                "申请 #{id}（{zh}）已于 {due} 到期，仍未处理完毕。\nRequest #{id} ({en}) was due on {due} and is still open.\n\n{link}\n"
            ),
        )
    } else {
        (
            format!("即将到期：申请 #{id} / Due soon: request #{id}"),
            format!(
                "申请 #{id}（{zh}）将于 {due} 到期。\nRequest #{id} ({en}) is due on {due}.\n\n{link}\n"
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
