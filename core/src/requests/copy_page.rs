//! The human-readable page of a customer's copy (`index.html` in the ZIP, and the same page in
//! the browser for phones that cannot open a ZIP): every category as labelled sections in the
//! customer's language, amounts in yuan, dates on the salon's calendar, consents as given or
//! not given, never a stored code. It reads the very JSON values the copy's `data/` files hold,
//! so the two can never say different things.

use chrono::{DateTime, Utc};
use portal_vocab::{Cents, Channel, Kind, Lang, PhotoUse, Platform, Purpose, Role, Status};
use serde_json::Value;

use crate::mail::escape_html;

/// The page's look: written into the ZIP's page, and served as `/copy.css` beside the browser
/// view (whose content security policy allows no inline style). Narrow-screen first.
pub const STYLE: &str = "body{font-family:system-ui,sans-serif;line-height:1.5;max-width:40rem;margin:0 auto;padding:1rem;color:#1a1a1a;background:#fff}\
h1{font-size:1.4rem}h2{font-size:1.15rem;margin:1.5rem 0 .5rem;border-top:1px solid #ccc;padding-top:1rem}\
dl{display:grid;grid-template-columns:max-content 1fr;gap:.25rem .75rem;margin:0}dt{color:#555}dd{margin:0;overflow-wrap:anywhere}\
ul{padding-left:1.1rem;margin:.25rem 0}li{margin:.35rem 0;overflow-wrap:anywhere}.muted{color:#555}.date{font-variant-numeric:tabular-nums;color:#555}";

/// Where the page's style comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    /// Inside the page (the ZIP's copy, opened from a file).
    Inline,
    /// From `/copy.css` (the browser view, under the portal's content security policy).
    Linked,
}

struct Words {
    html_lang: &'static str,
    title: fn(&str) -> String,
    intro: fn(&str) -> String,
    in_zip: &'static str,
    none: &'static str,
    contact: &'static str,
    name: &'static str,
    email: &'static str,
    phone: &'static str,
    profile: &'static str,
    hair: &'static str,
    skin: &'static str,
    stylist: &'static str,
    preferences: &'static str,
    sensitive: &'static str,
    visits: &'static str,
    membership: &'static str,
    card: &'static str,
    balance: &'static str,
    points: &'static str,
    points_delta: fn(i64) -> String,
    ledger: &'static str,
    top_up: &'static str,
    spend: &'static str,
    settled: &'static str,
    adjustment: &'static str,
    balance_after: &'static str,
    photos: &'static str,
    before: &'static str,
    after: &'static str,
    internal_only: &'static str,
    portfolio: &'static str,
    platform: fn(Platform) -> &'static str,
    until: &'static str,
    /// Between a label and its text inside a line.
    colon: &'static str,
    /// Around an aside inside a line.
    paren: fn(&str) -> String,
    consents: &'static str,
    given: &'static str,
    not_given: &'static str,
    history: &'static str,
    gave: &'static str,
    withdrew: &'static str,
    channel: fn(Channel) -> &'static str,
    purpose: fn(Purpose) -> &'static str,
    requests: &'static str,
    kind: fn(Kind) -> &'static str,
    status: fn(Status) -> &'static str,
    due: &'static str,
    reason: &'static str,
    outcome: &'static str,
    messages: &'static str,
    waiting: &'static str,
    access: &'static str,
    role: fn(Role) -> &'static str,
    read: &'static str,
    changed: &'static str,
    handled: &'static str,
    sharing: &'static str,
    shared: &'static str,
    why: &'static str,
}

static ZH: Words = Words {
    html_lang: "zh-CN",
    title: |salon| format!("{salon}：您的个人信息副本"),
    intro: |day| {
        format!(
            "生成于 {day}。这是本店保存的关于您的全部信息。金额以人民币元计，日期为本店当地日期。"
        )
    },
    in_zip: "同样的内容也以 JSON 文件放在副本的 data 文件夹中（供程序读取），照片在 photos 文件夹中。",
    none: "无",
    contact: "联系方式",
    name: "姓名",
    email: "电子邮箱",
    phone: "手机号",
    profile: "服务档案",
    hair: "发质",
    skin: "肤质",
    stylist: "常用美发师",
    preferences: "偏好",
    sensitive: "敏感信息（过敏、皮肤/头皮状况）",
    visits: "到店记录",
    membership: "会员卡",
    card: "卡号",
    balance: "余额",
    points: "积分",
    points_delta: |n| format!("积分 {n:+}"),
    ledger: "会员卡流水",
    top_up: "充值",
    spend: "消费",
    settled: "结清退还",
    adjustment: "调整",
    balance_after: "余额",
    photos: "照片",
    before: "护理前",
    after: "护理后",
    internal_only: "仅作内部档案",
    portfolio: "本店作品集",
    platform: |p| match p {
        Platform::WeChat => "微信",
        Platform::Xiaohongshu => "小红书",
        Platform::Douyin => "抖音",
        Platform::Weibo => "微博",
        Platform::Instagram => "Instagram",
    },
    until: "截止",
    colon: "：",
    paren: |s| format!("（{s}）"),
    consents: "授权",
    given: "已同意",
    not_given: "未同意",
    history: "授权变更记录",
    gave: "同意",
    withdrew: "撤回",
    channel: |c| match c {
        Channel::Portal => "本人在线操作",
        Channel::FrontDesk => "柜台口头确认",
        Channel::PaperForm => "纸质表格",
    },
    purpose: |p| match p {
        Purpose::MarketingSms => "短信营销",
        Purpose::MarketingEmail => "邮件营销",
        Purpose::MarketingWechat => "微信营销",
        Purpose::PhotosPortfolio => "照片用于本店作品集",
        Purpose::PhotosSocial => "照片用于社交媒体",
        Purpose::SensitiveNotes => "保存敏感信息",
    },
    requests: "我的申请",
    kind: |k| match k {
        Kind::Access => "获取个人信息副本",
        Kind::Correction => "更正个人信息",
        Kind::Deletion => "删除个人信息",
        Kind::Restriction => "限制处理",
        Kind::Objection => "拒绝营销",
        Kind::Question => "隐私咨询或投诉",
    },
    status: |s| match s {
        Status::Submitted => "已提交",
        Status::InReview => "审核中",
        Status::Approved => "已批准",
        Status::Done => "已完成",
        Status::Denied => "已拒绝",
        Status::Cancelled => "已撤回",
    },
    due: "答复期限",
    reason: "理由",
    outcome: "结果",
    messages: "我们发给您的邮件",
    waiting: "（等待发送）",
    access: "谁查看过您的信息",
    role: |r| match r {
        Role::PrivacyOfficer => "隐私负责人",
        Role::FrontDesk => "前台",
        Role::Stylist => "美发师",
        Role::Marketing => "市场",
    },
    read: "查看",
    changed: "修改",
    handled: "处理",
    sharing: "与第三方共享",
    shared: "共享的信息",
    why: "用途",
};

static EN: Words = Words {
    html_lang: "en",
    title: |salon| format!("{salon}: a copy of your data"),
    intro: |day| {
        format!(
            "Made on {day}. This is everything the salon keeps about you. Amounts are in yuan; dates are the salon's local dates."
        )
    },
    in_zip: "The same data is in the copy's data folder as JSON files (for programs), and your photos are in its photos folder.",
    none: "None",
    contact: "Contact",
    name: "Name",
    email: "Email",
    phone: "Phone",
    profile: "Service profile",
    hair: "Hair type",
    skin: "Skin type",
    stylist: "Preferred stylist",
    preferences: "Preferences",
    sensitive: "Sensitive notes (allergies, skin and scalp)",
    visits: "Visits",
    membership: "Membership card",
    card: "Card",
    balance: "Balance",
    points: "Points",
    points_delta: |n| format!("points {n:+}"),
    ledger: "Card history",
    top_up: "Top-up",
    spend: "Paid from balance",
    settled: "Settled with you",
    adjustment: "Adjustment",
    balance_after: "balance",
    photos: "Photos",
    before: "Before",
    after: "After",
    internal_only: "internal record only",
    portfolio: "salon portfolio",
    platform: |p| match p {
        Platform::WeChat => "WeChat",
        Platform::Xiaohongshu => "Xiaohongshu",
        Platform::Douyin => "Douyin",
        Platform::Weibo => "Weibo",
        Platform::Instagram => "Instagram",
    },
    until: "until",
    colon: ": ",
    paren: |s| format!(" ({s})"),
    consents: "Consents",
    given: "Given",
    not_given: "Not given",
    history: "Consent history",
    gave: "given",
    withdrew: "withdrawn",
    channel: |c| match c {
        Channel::Portal => "by you, online",
        Channel::FrontDesk => "said at the counter",
        Channel::PaperForm => "paper form",
    },
    purpose: |p| match p {
        Purpose::MarketingSms => "Marketing by SMS",
        Purpose::MarketingEmail => "Marketing by email",
        Purpose::MarketingWechat => "Marketing by WeChat",
        Purpose::PhotosPortfolio => "Photos in the salon's portfolio",
        Purpose::PhotosSocial => "Photos on social media",
        Purpose::SensitiveNotes => "Keeping sensitive notes",
    },
    requests: "Your requests",
    kind: |k| match k {
        Kind::Access => "A copy of your data",
        Kind::Correction => "Correction",
        Kind::Deletion => "Deletion",
        Kind::Restriction => "Restriction of use",
        Kind::Objection => "Objection to marketing",
        Kind::Question => "Privacy question or complaint",
    },
    status: |s| match s {
        Status::Submitted => "Submitted",
        Status::InReview => "In review",
        Status::Approved => "Approved",
        Status::Done => "Done",
        Status::Denied => "Denied",
        Status::Cancelled => "Withdrawn",
    },
    due: "Answer due",
    reason: "Reason",
    outcome: "Outcome",
    messages: "Mail we sent you",
    waiting: " (waiting to be sent)",
    access: "Who at the salon read your data",
    role: |r| match r {
        Role::PrivacyOfficer => "Privacy officer",
        Role::FrontDesk => "Front desk",
        Role::Stylist => "Stylist",
        Role::Marketing => "Marketing",
    },
    read: "read",
    changed: "changed",
    handled: "handled",
    sharing: "Who we share data with",
    shared: "Data shared",
    why: "Purpose",
};

fn words(lang: Lang) -> &'static Words {
    match lang {
        Lang::Zh => &ZH,
        Lang::En => &EN,
    }
}

/// A stored instant as the salon's local day; anything unreadable as nothing.
fn day(v: &Value) -> String {
    v.as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| super::calendar::local_day(t.with_timezone(&Utc)))
        .unwrap_or_default()
}

fn text(v: &Value) -> Option<String> {
    v.as_str()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(escape_html)
}

fn yuan(v: &Value) -> String {
    Cents(v.as_i64().unwrap_or_default()).to_string()
}

fn list(v: &Value) -> &[Value] {
    v.as_array().map(Vec::as_slice).unwrap_or_default()
}

/// `<dl>` of the labelled values that are there.
fn facts(out: &mut String, rows: &[(&str, Option<String>)]) {
    out.push_str("<dl>");
    for (label, value) in rows {
        if let Some(v) = value {
            out.push_str(&format!("<dt>{label}</dt><dd>{v}</dd>"));
        }
    }
    out.push_str("</dl>");
}

/// `<ul>` of dated lines, or "none".
fn lines(out: &mut String, w: &Words, items: Vec<(String, String)>) {
    if items.is_empty() {
        out.push_str(&format!("<p class=\"muted\">{}</p>", w.none));
        return;
    }
    out.push_str("<ul>");
    for (date, line) in items {
        out.push_str(&format!(
            "<li><span class=\"date\">{date}</span> {line}</li>"
        ));
    }
    out.push_str("</ul>");
}

fn section(out: &mut String, id: &str, title: &str) {
    out.push_str(&format!("<h2 id=\"{id}\">{title}</h2>"));
}

fn photo_use(w: &Words, code: &str) -> &'static str {
    match PhotoUse::parse(code) {
        Ok(PhotoUse::Portfolio) => w.portfolio,
        Ok(PhotoUse::Social(p)) => (w.platform)(p),
        Err(_) => "",
    }
}

/// The page for `files` (the copy's categories), made at `made`, in `lang`.
pub fn render(
    salon: &str,
    lang: Lang,
    made: DateTime<Utc>,
    files: &[(&'static str, Value)],
    style: Style,
) -> String {
    let w = words(lang);
    let get = |name: &str| {
        files
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v)
            .unwrap_or(&Value::Null)
    };
    let title = (w.title)(&escape_html(salon));
    let style_tag = match style {
        Style::Inline => format!("<style>{STYLE}</style>"),
        Style::Linked => "<link rel=\"stylesheet\" href=\"/copy.css\">".to_owned(),
    };
    let mut out = format!(
        "<!DOCTYPE html><html lang=\"{}\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{title}</title>{style_tag}</head><body><main><h1>{title}</h1><p>{}</p>",
        w.html_lang,
        (w.intro)(&super::calendar::local_day(made)),
    );

    let c = get("contact");
    section(&mut out, "contact", w.contact);
    facts(
        &mut out,
        &[
            (w.name, text(&c["name"])),
            (w.email, text(&c["email"])),
            (w.phone, text(&c["phone"])),
        ],
    );

    let p = get("service_profile");
    section(&mut out, "profile", w.profile);
    if p.is_null() {
        out.push_str(&format!("<p class=\"muted\">{}</p>", w.none));
    } else {
        facts(
            &mut out,
            &[
                (w.hair, text(&p["hair_type"])),
                (w.skin, text(&p["skin_type"])),
                (w.stylist, text(&p["preferred_stylist"])),
                (w.preferences, text(&p["preferences"])),
            ],
        );
    }

    section(&mut out, "sensitive", w.sensitive);
    let notes = list(get("sensitive_notes"))
        .iter()
        .map(|n| {
            let category = text(&n["category"]).unwrap_or_default();
            let note = text(&n["note"]).unwrap_or_default();
            (
                day(&n["recorded_at"]),
                format!("{category}{}{note}", w.colon),
            )
        })
        .collect();
    lines(&mut out, w, notes);

    section(&mut out, "visits", w.visits);
    let visits = list(get("visits"))
        .iter()
        .map(|v| {
            let mut parts = vec![text(&v["services"]).unwrap_or_default()];
            parts.extend(text(&v["stylist"]));
            parts.push(yuan(&v["amount_cents"]));
            parts.extend(text(&v["notes"]));
            (day(&v["date"]), parts.join(" · "))
        })
        .collect();
    lines(&mut out, w, visits);

    let m = get("membership");
    section(&mut out, "membership", w.membership);
    if m["card"].is_null() {
        out.push_str(&format!("<p class=\"muted\">{}</p>", w.none));
    } else {
        facts(
            &mut out,
            &[
                (w.card, text(&m["card"])),
                (w.balance, Some(yuan(&m["balance_cents"]))),
                (w.points, m["points"].as_i64().map(|n| n.to_string())),
            ],
        );
    }
    let ledger: Vec<_> = list(&m["ledger"])
        .iter()
        .map(|l| {
            let kind = match l["kind"].as_str() {
                Some("top_up") => w.top_up,
                Some("spend") => w.spend,
                Some("settled") => w.settled,
                _ => w.adjustment,
            };
            let points = l["points"].as_i64().unwrap_or_default();
            let mut line = format!("{kind} {}", yuan(&l["amount_cents"]));
            if points != 0 {
                line.push_str(&format!(" · {}", (w.points_delta)(points)));
            }
            line.push_str(&format!(
                " · {} {}",
                w.balance_after,
                yuan(&l["balance_after_cents"])
            ));
            (day(&l["at"]), line)
        })
        .collect();
    if !ledger.is_empty() {
        out.push_str(&format!("<h3>{}</h3>", w.ledger));
        lines(&mut out, w, ledger);
    }

    section(&mut out, "photos", w.photos);
    let photos = list(get("photos"))
        .iter()
        .map(|p| {
            let kind = match p["kind"].as_str() {
                Some("before") => w.before,
                _ => w.after,
            };
            let uses: Vec<String> = list(&p["public_uses"])
                .iter()
                .map(|u| {
                    let name = photo_use(w, u["use"].as_str().unwrap_or_default());
                    match day(&u["ends_at"]) {
                        d if d.is_empty() => name.to_owned(),
                        d => format!("{name}{}", (w.paren)(&format!("{} {d}", w.until))),
                    }
                })
                .collect();
            let uses = if uses.is_empty() {
                w.internal_only.to_owned()
            } else {
                uses.join(if lang == Lang::Zh { "、" } else { ", " })
            };
            let file = text(&p["file"]).unwrap_or_default();
            (day(&p["taken_at"]), format!("{kind} · {uses} · {file}"))
        })
        .collect();
    lines(&mut out, w, photos);

    let consents = get("consents");
    section(&mut out, "consents", w.consents);
    let current: Vec<_> = list(&consents["current"])
        .iter()
        .filter_map(|s| {
            let p = Purpose::parse(s["purpose"].as_str()?).ok()?;
            let on = if s["given"].as_bool() == Some(true) {
                w.given
            } else {
                w.not_given
            };
            Some(((w.purpose)(p), Some(on.to_owned())))
        })
        .collect();
    facts(&mut out, &current);
    out.push_str(&format!("<h3>{}</h3>", w.history));
    let mut history: Vec<&Value> = list(&consents["history"]).iter().collect();
    // Oldest first, as a history reads.
    history.sort_by_key(|e| e["at"].as_str().unwrap_or_default().to_owned());
    let history = history
        .into_iter()
        .filter_map(|e| {
            let p = Purpose::parse(e["purpose"].as_str()?).ok()?;
            let how = if e["given"].as_bool() == Some(true) {
                w.gave
            } else {
                w.withdrew
            };
            let channel = e["channel"]
                .as_str()
                .and_then(|c| Channel::parse(c).ok())
                .map(|c| (w.paren)((w.channel)(c)))
                .unwrap_or_default();
            Some((
                day(&e["at"]),
                format!("{}{}{how}{channel}", (w.purpose)(p), w.colon),
            ))
        })
        .collect();
    lines(&mut out, w, history);

    section(&mut out, "requests", w.requests);
    let requests = list(get("requests"))
        .iter()
        .filter_map(|r| {
            let kind = Kind::parse(r["kind"].as_str()?).ok()?;
            let status = Status::parse(r["status"].as_str()?).ok()?;
            let mut line = format!(
                "#{} {} · {}",
                r["id"].as_i64().unwrap_or_default(),
                (w.kind)(kind),
                (w.status)(status)
            );
            if status.is_open() {
                line.push_str(&format!(" · {} {}", w.due, day(&r["due_at"])));
            }
            if let Some(reason) = text(&r["reason"]) {
                line.push_str(&format!(" · {}{}{reason}", w.reason, w.colon));
            }
            if let Some(outcome) = text(&r["outcome"]) {
                line.push_str(&format!(" · {}{}{outcome}", w.outcome, w.colon));
            }
            Some((day(&r["submitted_at"]), line))
        })
        .collect();
    lines(&mut out, w, requests);

    section(&mut out, "messages", w.messages);
    let messages = list(get("messages"))
        .iter()
        .map(|m| {
            let waiting = if m["sent"].as_bool() == Some(true) {
                ""
            } else {
                w.waiting
            };
            let subject = text(&m["subject"]).unwrap_or_default();
            (day(&m["at"]), format!("{subject}{waiting}"))
        })
        .collect();
    lines(&mut out, w, messages);

    section(&mut out, "access", w.access);
    let access = list(get("access_log"))
        .iter()
        .map(|a| {
            let role = a["role"]
                .as_str()
                .and_then(|r| r.parse::<Role>().ok())
                .map(w.role)
                .unwrap_or_default();
            let action = a["action"].as_str().unwrap_or_default();
            let what = if action.starts_with("view_") {
                w.read
            } else if action.starts_with("edit_") || action.starts_with("record_") {
                w.changed
            } else {
                w.handled
            };
            (day(&a["at"]), format!("{role} · {what}"))
        })
        .collect();
    lines(&mut out, w, access);

    section(&mut out, "sharing", w.sharing);
    let (data_key, why_key) = match lang {
        Lang::Zh => ("data_zh", "purpose_zh"),
        Lang::En => ("data_en", "purpose_en"),
    };
    for t in list(get("sharing")) {
        out.push_str(&format!(
            "<h3>{}</h3>",
            text(&t["name"]).unwrap_or_default()
        ));
        facts(
            &mut out,
            &[(w.shared, text(&t[data_key])), (w.why, text(&t[why_key]))],
        );
    }
    if style == Style::Inline {
        out.push_str(&format!("<p class=\"muted\">{}</p>", w.in_zip));
    }
    out.push_str("</main></body></html>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn files() -> Vec<(&'static str, Value)> {
        vec![
            (
                "contact",
                json!({"name": "王<小>美", "email": "w@example.com", "phone": null}),
            ),
            ("service_profile", Value::Null),
            (
                "visits",
                json!([{"date": "2026-03-01T17:30:00.123456789+00:00", "services": "剪发", "stylist": null, "amount_cents": 8800, "notes": null}]),
            ),
            (
                "membership",
                json!({"card": "****1234", "balance_cents": 12050, "points": 180,
                "ledger": [{"at": "2026-03-01T17:30:00Z", "kind": "top_up", "amount_cents": 20000, "points": 180, "balance_after_cents": 20000}]}),
            ),
            (
                "consents",
                json!({
                "current": [{"purpose": "marketing_sms", "given": true}, {"purpose": "sensitive_notes", "given": false}],
                "history": [
                    {"purpose": "marketing_sms", "given": false, "at": "2026-04-01T01:00:00Z", "channel": "portal"},
                    {"purpose": "marketing_sms", "given": true, "at": "2026-01-01T01:00:00Z", "channel": "front_desk"}
                ]}),
            ),
            (
                "requests",
                json!([{"id": 7, "kind": "deletion", "status": "submitted", "submitted_at": "2026-04-01T01:00:00Z", "due_at": "2026-04-22T15:59:59Z", "reason": null, "outcome": null}]),
            ),
        ]
    }

    #[test]
    fn the_copy_page_speaks_the_customers_language_in_yuan_and_local_dates_with_no_stored_code() {
        let made = DateTime::parse_from_rfc3339("2026-04-02T00:00:00Z")
            .unwrap()
            .to_utc();
        let zh = render("本店", Lang::Zh, made, &files(), Style::Inline);
        assert!(zh.starts_with("<!DOCTYPE html><html lang=\"zh-CN\">"));
        // 17:30 UTC is the next day in the salon (UTC+8); yuan with two decimals.
        assert!(zh.contains("2026-03-02</span> 剪发 · ¥88.00"), "{zh}");
        assert!(zh.contains("¥120.50") && zh.contains("积分 +180"));
        assert!(zh.contains("<dt>短信营销</dt><dd>已同意</dd>"));
        assert!(zh.contains("<dt>保存敏感信息</dt><dd>未同意</dd>"));
        assert!(zh.contains("#7 删除个人信息 · 已提交 · 答复期限 2026-04-22"));
        // The history reads oldest first.
        let gave = zh.find("短信营销：同意（柜台口头确认）").unwrap();
        let withdrew = zh.find("短信营销：撤回（本人在线操作）").unwrap();
        assert!(gave < withdrew);
        // What the customer typed is escaped.
        assert!(zh.contains("王&lt;小&gt;美") && !zh.contains("王<小>"));
        let en = render("Salon", Lang::En, made, &files(), Style::Linked);
        assert!(en.contains("<html lang=\"en\">") && en.contains("href=\"/copy.css\""));
        assert!(en.contains("<dt>Marketing by SMS</dt><dd>Given</dd>"));
        assert!(en.contains("Top-up ¥200.00 · points +180 · balance ¥200.00"));
        for page in [&zh, &en] {
            for code in [
                "marketing_sms",
                "deletion",
                "top_up",
                "amount_cents",
                "front_desk",
                "17:30",
            ] {
                assert!(!page.contains(code), "{code}");
            }
        }
    }
}
