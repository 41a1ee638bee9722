//! Before the retention rules delete an inactive customer: when, and the two ways to keep the
//! record (plain text).

use chrono::{DateTime, Duration, Utc};
use portal_vocab::Lang;

use crate::{Portal, mail::OutgoingMail};

pub fn notice(
    portal: &Portal,
    to: crate::email::Email,
    lang: Lang,
    rules: &crate::retention::Rules,
    now: DateTime<Utc>,
) -> OutgoingMail {
    let salon = &portal.settings.salon_name;
    let cal = crate::requests::calendar(portal);
    let when = cal
        .local_date(now + Duration::days(rules.notice_days as i64))
        .format("%Y-%m-%d");
    let link = format!("{}signin", portal.settings.public_url.as_str());
    let (subject, text) = if lang == Lang::En {
        (
            format!("{salon}: we will delete your data on {when}"),
            format!(
                "You have not visited {salon} or signed in to its privacy portal for {} months. We keep data only as long as we need it, so we will delete your record on {when}, keeping only what accounting law requires without your name.\n\nTo keep it (for example, to keep your preferences), do one of these before {when}: have a visit recorded at the salon, or sign in to the privacy portal with this email address: {link}\nEither one counts; nothing else does. You can also download a copy first.\n",
                rules.inactive_months
            ),
        )
    } else {
        (
            format!("{salon}：您的信息将于 {when} 删除"),
            format!(
                "您已有 {} 个月没有到店，也没有登录隐私门户。我们只在需要期间保存您的信息，因此将于 {when} 删除您的档案（仅保留会计法规要求、且已去除姓名的记录）。\n\n如需保留（例如保留您的服务偏好），请在 {when} 之前做到以下任意一项：到店并登记一次服务，或用本邮箱登录隐私门户：{link}\n只有这两项算数。您也可以先下载一份信息副本。\n",
                rules.inactive_months
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
