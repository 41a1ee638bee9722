//! The mail a customer gets on each change of a request, in their language.

use portal_vocab::{Kind, Lang};

use super::envelope::{self, Action};
use crate::{Portal, email::Email, mail::OutgoingMail, requests::Request};

/// What happened.
#[derive(Clone, Copy, Debug)]
pub enum Change<'a> {
    Received,
    Merged,
    Cancelled,
    InReview,
    Approved,
    Denied(&'a str),
    Answered(&'a str),
    Extended(&'a str),
    Done(&'a str),
}

fn kind_name(kind: Kind, en: bool) -> &'static str {
    match (kind, en) {
        (Kind::Access, false) => "获取个人信息副本",
        (Kind::Correction, false) => "更正个人信息",
        (Kind::Deletion, false) => "删除个人信息",
        (Kind::Restriction, false) => "限制处理",
        (Kind::Objection, false) => "拒绝营销",
        (Kind::Question, false) => "隐私咨询或投诉",
        (Kind::Access, true) => "a copy of your data",
        (Kind::Correction, true) => "a correction",
        (Kind::Deletion, true) => "deletion of your data",
        (Kind::Restriction, true) => "restriction of use",
        (Kind::Objection, true) => "objection to marketing",
        (Kind::Question, true) => "a privacy question or complaint",
    }
}

/// The subject says what happened, so a customer's mails about one request never read alike
/// (received, approved, your copy is ready, done).
fn subject(change: Change<'_>, r: &Request, en: bool, salon: &str) -> String {
    let id = r.id;
    let copy = r.kind == Kind::Access;
    if en {
        let what = match change {
            Change::Received => "we received your request",
            Change::Merged => "added to your open request",
            Change::Cancelled => "your request is withdrawn",
            Change::InReview => "we are reviewing your request",
            Change::Approved => "your request is approved",
            Change::Denied(_) => "we cannot carry out your request",
            Change::Answered(_) => "our answer to your question",
            Change::Extended(_) => "more time for your request",
            Change::Done(_) if copy => "your copy is ready",
            Change::Done(_) => "your request is done",
        };
        format!("{salon}: {what} (no. {id})")
    } else {
        let what = match change {
            Change::Received => "已收到您的申请",
            Change::Merged => "已并入您正在处理的申请",
            Change::Cancelled => "您的申请已撤回",
            Change::InReview => "正在审核您的申请",
            Change::Approved => "您的申请已获批准",
            Change::Denied(_) => "无法办理您的申请",
            Change::Answered(_) => "对您咨询的答复",
            Change::Extended(_) => "您的申请需要延长处理时间",
            Change::Done(_) if copy => "您的信息副本已可下载",
            Change::Done(_) => "您的申请已办理完毕",
        };
        format!("{salon}：{what}（编号 {id}）")
    }
}

/// Builds the mail; the portal link comes from the configured public URL only.
pub fn request_mail(
    portal: &Portal,
    lang: Lang,
    to: Email,
    r: &Request,
    change: Change<'_>,
) -> OutgoingMail {
    let en = lang == Lang::En;
    let salon = &portal.settings.salon_name;
    let due = crate::requests::calendar::local_day(r.due_at);
    let kind = kind_name(r.kind, en);
    let link = format!("{}me/requests", portal.settings.public_url.as_str());
    let (subject, body) = if en {
        let body = match change {
            Change::Received => format!(
                "We have received your request for {kind} (no. {}). We will answer by {due}.",
                r.id
            ),
            Change::Merged => format!(
                "You already had an open request for {kind} (no. {}); we have added what you sent to it. It is still due by {due}.",
                r.id
            ),
            Change::Cancelled => format!(
                "Your request for {kind} (no. {}) is cancelled, as you asked.",
                r.id
            ),
            Change::InReview => format!(
                "We are now looking at your request for {kind} (no. {}). We will answer by {due}.",
                r.id
            ),
            Change::Approved => format!(
                "Your request for {kind} (no. {}) is approved; we are carrying it out now.",
                r.id
            ),
            Change::Denied(why) => format!(
                "We cannot carry out your request for {kind} (no. {}).\n\nWhy: {why}\n\nIf you disagree, you can reply to this mail or complain to the data protection authority.",
                r.id
            ),
            Change::Answered(a) => {
                format!("Our answer to your privacy question (no. {}):\n\n{a}", r.id)
            }
            Change::Extended(why) => format!(
                "We need more time for your request for {kind} (no. {}). The new date is {due}.\n\nWhy: {why}",
                r.id
            ),
            Change::Done(what) => {
                format!("Your request for {kind} (no. {}) is done.\n\n{what}", r.id)
            }
        };
        (subject(change, r, en, salon), body)
    } else {
        let body = match change {
            Change::Received => format!(
                "我们已收到您关于“{kind}”的申请（编号 {}），将在 {due} 前答复。",
                r.id
            ),
            Change::Merged => format!(
                "您已有一个关于“{kind}”的申请正在处理（编号 {}），我们已把这次提交的内容并入其中，答复期限仍为 {due}。",
                r.id
            ),
            Change::Cancelled => format!("您关于“{kind}”的申请（编号 {}）已按您的要求撤回。", r.id),
            Change::InReview => format!(
                "我们正在审核您关于“{kind}”的申请（编号 {}），将在 {due} 前答复。",
                r.id
            ),
            Change::Approved => {
                format!("您关于“{kind}”的申请（编号 {}）已获批准，正在办理。", r.id)
            }
            Change::Denied(why) => format!(
                "很抱歉，我们无法办理您关于“{kind}”的申请（编号 {}）。\n\n理由：{why}\n\n如有异议，您可以回复本邮件，或向个人信息保护主管部门投诉。",
                r.id
            ),
            Change::Answered(a) => {
                format!("关于您的隐私咨询（编号 {}），我们的答复如下：\n\n{a}", r.id)
            }
            Change::Extended(why) => format!(
                "您关于“{kind}”的申请（编号 {}）需要延长处理时间，新的答复期限为 {due}。\n\n理由：{why}",
                r.id
            ),
            Change::Done(what) => format!(
                "您关于“{kind}”的申请（编号 {}）已办理完毕。\n\n{what}",
                r.id
            ),
        };
        (subject(change, r, en, salon), body)
    };
    let more = if en {
        format!("See all your requests: {link}")
    } else {
        format!("查看您的全部申请：{link}")
    };
    let text = format!("{body}\n\n{more}\n");
    let html = envelope::html(lang, &body, Some(Action::link(&link, &more)), None, None);
    OutgoingMail {
        to,
        subject,
        text,
        html: Some(html),
    }
}
