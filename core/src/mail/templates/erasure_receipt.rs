//! The dated receipt after an erasure: what was deleted, what the law makes the salon keep
//! without identity (plain text, sealed with the portal's own key).

use chrono::{DateTime, Utc};
use portal_vocab::Lang;

use crate::{Portal, email::Email, mail::OutgoingMail};

/// The dated receipt, sealed with the portal's own key (the customer's is gone).
pub fn receipt(
    portal: &Portal,
    to: Email,
    lang: Lang,
    request: i64,
    kept: &crate::requests::erase::Kept,
    passed_on: &[crate::sharing::Kept],
    now: DateTime<Utc>,
) -> OutgoingMail {
    let date = crate::requests::calendar::local_day(now);
    let salon = &portal.settings.salon_name;
    let (subject, mut text) = if lang == Lang::En {
        (
            format!("{salon}: your data is deleted (request no. {request})"),
            format!(
                "On {date} we deleted everything {salon} kept about you: contact details, service profile, sensitive notes, photos, consents, sign-in links and sessions, exports and queued mail. Copies in our encrypted backups can no longer be opened.\n\nWhat the law makes us keep, without your name or contact details: {} paid visit record(s) (date, services, amount) and the stored-value ledger of {} membership card(s), as accounting and tax law require.\n\nYour email and phone are kept only as a one-way code, so that we never add you to marketing again.\n\nThis mail is your receipt.\n",
                kept.visits, kept.memberships
            ),
        )
    } else {
        (
            format!("{salon}：您的个人信息已删除（申请编号 {request}）"),
            format!(
                "{date}，我们已删除{salon}保存的关于您的全部信息：联系方式、服务档案、敏感信息、照片、授权记录、登录链接和会话、导出文件以及待发送的邮件。加密备份中的副本也已无法打开。\n\n依照会计和税务法规必须保留、且已去除您姓名和联系方式的记录：{} 条已付款的到店记录（日期、服务项目、金额），以及 {} 张会员卡的储值流水。\n\n您的邮箱和手机号仅以不可逆的编码保存，用于确保我们不会再向您发送营销信息。\n\n本邮件即为删除回执。\n",
                kept.visits, kept.memberships
            ),
        )
    };
    if let Some(p) = recipients_paragraph(lang, passed_on) {
        text.push('\n');
        text.push_str(&p);
    }
    OutgoingMail {
        to,
        subject,
        text,
        html: None,
    }
}

/// Who the deletion is passed on to, and what is kept sealed until they are told (at most
/// `sharing::PASS_ON_KEEP`): the receipt must not say "everything" of what is kept a while.
fn recipients_paragraph(lang: Lang, passed_on: &[crate::sharing::Kept]) -> Option<String> {
    use crate::sharing::Identifier;
    if passed_on.is_empty() {
        return None;
    }
    let days = crate::sharing::PASS_ON_KEEP.num_days();
    let en = lang == Lang::En;
    let word = |i: Identifier| match (i, en) {
        (Identifier::Name, false) => "姓名",
        (Identifier::Phone, false) => "手机号",
        (Identifier::Email, false) => "邮箱",
        (Identifier::Card, false) => "会员卡号",
        (Identifier::Name, true) => "name",
        (Identifier::Phone, true) => "phone number",
        (Identifier::Email, true) => "email address",
        (Identifier::Card, true) => "card number",
    };
    let lines: Vec<String> = passed_on
        .iter()
        .map(|k| {
            let ids: Vec<&str> = k.identifiers.iter().map(|&i| word(i)).collect();
            match (ids.is_empty(), en) {
                (true, _) => format!("- {}", k.recipient),
                (false, true) => format!("- {} ({})", k.recipient, ids.join(", ")),
                (false, false) => format!("- {}（{}）", k.recipient, ids.join("、")),
            }
        })
        .collect();
    let list = lines.join("\n");
    Some(if en {
        format!(
            "We also ask these recipients of your data to delete it:\n{list}\nSo that each can find your record, we keep what it knows you by (in brackets), encrypted and readable only by our privacy officer, until it has been told, and for at most {days} days.\n"
        )
    } else {
        format!(
            "我们也会请以下接收方删除您的信息：\n{list}\n为了让接收方找到您的记录，我们会加密保存它所掌握的身份信息（括号内），仅隐私负责人可查看，通知完成后即销毁，最长保存 {days} 天。\n"
        )
    })
}
