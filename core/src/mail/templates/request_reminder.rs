//! To the privacy officers: a new request (or a daily digest of them), a request due soon, or
//! overdue (both languages: staff have no language of record; plain text).

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

/// To a privacy officer: a new request came in (`PORTAL_OFFICER_MAIL=each`). No customer value:
/// the link opens the request behind the staff sign-in.
pub fn new_request(portal: &Portal, to: Email, id: i64, kind: Kind, due: &str) -> OutgoingMail {
    let link = format!("{}staff/requests/{id}", portal.settings.public_url.as_str());
    let (zh, en) = kind_names(kind);
    OutgoingMail {
        to,
        subject: format!("新申请 #{id}（{zh}）/ New request #{id} ({en})"),
        text: format!(
            "新申请 #{id}（{zh}），答复期限 {due}。\nNew request #{id} ({en}), to be answered by {due}.\n\n{link}\n"
        ),
        html: None,
    }
}

/// To a privacy officer: the requests that came in since the last digest
/// (`PORTAL_OFFICER_MAIL=daily`), each `(id, kind, due day)`.
pub fn digest(portal: &Portal, to: Email, requests: &[(i64, Kind, String)]) -> OutgoingMail {
    let base = portal.settings.public_url.as_str();
    let lines: Vec<String> = requests
        .iter()
        .map(|(id, kind, due)| {
            let (zh, en) = kind_names(*kind);
            format!("#{id} {zh} / {en} · {due} · {base}staff/requests/{id}")
        })
        .collect();
    let n = requests.len();
    OutgoingMail {
        to,
        subject: format!("新申请 {n} 件 / {n} new request(s)"),
        text: format!(
            "自上次汇总以来的新申请（编号、类型、答复期限）：\nNew requests since the last digest (number, kind, due by):\n\n{}\n",
            lines.join("\n")
        ),
        html: None,
    }
}
