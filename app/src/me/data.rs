//! "My data": every category the salon keeps about the customer, who looked at it, and where
//! it went.

use leptos::{prelude::*, server_fn::ServerFn};
use leptos_router::components::A;
use serde::{Deserialize, Serialize};

#[cfg(feature = "ssr")]
use super::{channel_name, photos};
#[cfg(feature = "ssr")]
use crate::i18n::Catalogue;
use crate::{PortalError, use_texts};

/// One line of "who looked at my data": the role and what was done, in the customer's language.
/// The match is exhaustive, so a new staff action must decide how customers read it.
#[cfg(feature = "ssr")]
fn access_text(all: &crate::i18n::Texts, role: Option<&str>, action: &str) -> String {
    use portal_core::access::Action::{self, *};
    let t = all.me;
    let what = match Action::ALL.into_iter().find(|a| a.as_str() == action) {
        Some(ViewContact | ViewPassOnIdentifiers) => (t.viewed)(t.contact),
        Some(ViewServiceProfile) => (t.viewed)(t.profile),
        Some(ViewSensitiveNotes) => (t.viewed)(t.sensitive),
        Some(ViewVisits) => (t.viewed)(t.visits),
        Some(ViewMembership) => (t.viewed)(t.membership),
        Some(ViewConsents) => (t.viewed)(t.consents),
        Some(EditContact) => (t.changed)(t.contact),
        Some(RecordCounterConsent) => (t.changed)(t.consents),
        Some(RecordVisit | AddVisitNote) => (t.changed)(t.visits),
        Some(CreateCustomer) => t.access_created.to_owned(),
        Some(ViewRequests | RecordRequest | DecideRequest) => t.access_request.to_owned(),
        Some(CheckConsentStatus) => t.access_checked.to_owned(),
        Some(ProcessTakedowns) => t.access_takedown.to_owned(),
        Some(PurgeRetained) => t.access_purged.to_owned(),
        Some(
            ViewDashboard | SearchCustomers | ManageSharing | SetRetention | PublishNotice
            | ManageApiKeys | ViewConsentCounts | ExportOptedIn | ManageStaff | ViewAuditLog
            | SetSecondFactor,
        )
        | None => t.access_other.to_owned(),
    };
    match role {
        Some(r) => format!("{} · {what}", crate::staff::role_name(all.staff, r)),
        None => what,
    }
}

/// One line of a list: a date and a text.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Line {
    pub date: String,
    pub text: String,
}

/// Everything the salon keeps about the signed-in customer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MyDataView {
    pub masked_email: String,
    pub restricted: bool,
    pub name: String,
    pub phone: Option<String>,
    pub email: Option<String>,
    /// Hair, skin, preferred stylist, preferences.
    pub profile: Option<[Option<String>; 4]>,
    pub sensitive: Vec<Line>,
    pub visits: Vec<Line>,
    /// `(card, balance, points)`.
    pub membership: Option<(String, String, i64)>,
    pub membership_ledger: Vec<Line>,
    /// `(photo id, date, kind and permitted use)`.
    pub photos: Vec<(i64, String, String)>,
    /// `(purpose index, on)`.
    pub consents: Vec<(portal_vocab::Purpose, bool)>,
    pub consent_history: Vec<Line>,
    pub access_log: Vec<Line>,
    pub messages: Vec<Line>,
    /// `(name, what, why)`.
    pub sharing: Vec<(String, String, String)>,
    /// The language the salon writes to them in.
    pub mail_lang: crate::Lang,
    /// Their requests: what, and where each is.
    pub requests: Vec<Line>,
}

/// Gathers "My data" (`mydata::everything`). Served `no-store` like every page.
#[server]
pub async fn my_data(lang: crate::Lang) -> Result<MyDataView, PortalError> {
    let (p, id, _) = crate::signin::ssr::customer("/me").await?;
    let everything = portal_core::mydata::everything(&p, id, chrono::Utc::now()).await?;
    Ok(MyDataView::new(everything, lang))
}

/// The customer chooses the language of the salon's mail to them.
#[server]
pub async fn set_mail_language(lang: String) -> Result<(), PortalError> {
    let (p, id, _) = crate::signin::ssr::customer("/me").await?;
    let Some(lang) = crate::Lang::from_tag(&lang) else {
        return crate::back("/me?error=language#contact");
    };
    portal_core::customers::choose_language(&p.db, id, lang, chrono::Utc::now()).await?;
    crate::back("/me?done=language#contact")
}

#[cfg(feature = "ssr")]
impl MyDataView {
    /// The page's text of everything kept, in `lang`, dates salon-local, money as `Cents`.
    fn new(e: portal_core::mydata::Everything, lang: crate::Lang) -> Self {
        use portal_vocab::Cents;
        let day = portal_core::requests::calendar::local_day;
        let t = lang.t().me;
        let line = |at, text| Line {
            date: day(at),
            text,
        };
        let mail_lang = e.language;
        let requests = e
            .requests
            .iter()
            .map(|r| {
                let text = format!(
                    "#{} {} · {}",
                    r.id,
                    t.kind_names.get(r.kind),
                    t.status_names.get(r.status)
                );
                line(r.submitted_at, text)
            })
            .collect();
        MyDataView {
            mail_lang,
            requests,
            masked_email: e
                .contact
                .email
                .as_ref()
                .map(portal_core::customers::mask_email)
                .unwrap_or_default(),
            restricted: e.restricted,
            name: e.contact.name.clone(),
            phone: e.contact.phone.map(|x| x.as_str().to_owned()),
            email: e.contact.email.map(|x| x.as_str().to_owned()),
            profile: e
                .profile
                .map(|s| [s.hair_type, s.skin_type, s.preferred_stylist, s.preferences]),
            sensitive: e
                .sensitive
                .into_iter()
                .map(|n| line(n.at, format!("{}: {}", n.category, n.body)))
                .collect(),
            visits: e
                .visits
                .into_iter()
                .map(|v| {
                    let notes = v.notes.map(|n| format!(" · {n}")).unwrap_or_default();
                    let stylist = v.stylist.unwrap_or_default();
                    let text = format!(
                        "{} · {stylist} · {}{notes}",
                        v.services,
                        Cents(v.amount_cents)
                    );
                    line(v.at, text)
                })
                .collect(),
            membership: e
                .membership
                .map(|m| (m.card_masked, Cents(m.balance_cents).to_string(), m.points)),
            membership_ledger: e
                .ledger
                .into_iter()
                .map(|l| {
                    let kind = match l.kind.as_str() {
                        "top_up" => t.ledger_top_up,
                        "spend" => t.ledger_spend,
                        _ => t.ledger_other,
                    };
                    let (amount, after) = (Cents(l.amount_cents), Cents(l.balance_after_cents));
                    // Points apart from money, each named: "充值 ¥200.00 · 积分 +180 · 余额 ¥200.00".
                    let points = match l.points_delta {
                        0 => String::new(),
                        n => format!(" · {}", (t.points_delta)(n)),
                    };
                    line(
                        l.at,
                        format!("{kind} {amount}{points} · {} {after}", t.balance),
                    )
                })
                .collect(),
            photos: e
                .photos
                .into_iter()
                .map(|x| {
                    let uses = x
                        .uses
                        .iter()
                        .map(|(u, end)| match end {
                            Some(e) => format!(
                                "{} ({} {})",
                                photos::use_name(t, *u),
                                t.photo_ends,
                                day(*e)
                            ),
                            None => photos::use_name(t, *u).to_owned(),
                        })
                        .collect::<Vec<_>>();
                    let uses = if uses.is_empty() {
                        t.photo_no_public.to_owned()
                    } else {
                        uses.join(", ")
                    };
                    let kind = t.photo_kinds.get(&x.kind);
                    (x.id, day(x.taken_at), format!("{kind} · {uses}"))
                })
                .collect(),
            consents: e.consents,
            consent_history: e
                .consent_history
                .into_iter()
                .map(|c| {
                    let on = if c.granted { t.on } else { t.off };
                    let purpose = t.purpose_names.get(c.purpose);
                    line(
                        c.at,
                        format!("{purpose}: {on} ({})", channel_name(t, &c.channel)),
                    )
                })
                .collect(),
            access_log: e
                .access_log
                .into_iter()
                .map(|a| line(a.at, access_text(lang.t(), a.role.as_deref(), &a.action)))
                .collect(),
            messages: e
                .messages
                .into_iter()
                .map(|m| line(m.at, m.subject))
                .collect(),
            sharing: e
                .third_parties
                .into_iter()
                .map(|tp| match lang {
                    crate::Lang::Zh => (tp.name, tp.data_zh, tp.purpose_zh),
                    crate::Lang::En => (tp.name, tp.data_en, tp.purpose_en),
                })
                .collect(),
        }
    }
}

fn lines(items: Vec<Line>) -> impl IntoView {
    let t = use_texts().me;
    if items.is_empty() {
        view! { <p class="muted">{t.none_yet}</p> }.into_any()
    } else {
        view! {
            <ul class="lines">
                {items.into_iter().map(|l| view! { <li><span class="muted">{l.date}</span>" "{l.text}</li> }).collect_view()}
            </ul>
        }
        .into_any()
    }
}

fn or_dash(v: Option<String>) -> String {
    v.unwrap_or_else(|| "—".into())
}

/// `/me`: "My data".
#[component]
pub fn MyDataPage() -> impl IntoView {
    let lang = use_context::<crate::Site>()
        .map(|s| s.lang)
        .unwrap_or_default();
    let data = Resource::new(|| (), move |_| my_data(lang));
    crate::loaded(data, move |d| view! { <MyDataBody d=d/> }.into_any())
}

#[component]
fn MyDataBody(d: MyDataView) -> impl IntoView {
    let all = use_texts();
    let t = all.me;
    let q = leptos_router::hooks::use_query_map();
    view! {
        <section class="card">
            <h1>{all.me_title}</h1>
            <p>{(all.me_signed_in_as)(&d.masked_email)}</p>
            <p class="muted">{t.data_intro}</p>
            {d.restricted.then(|| view! { <p class="banner" role="status">{t.restricted_banner}</p> })}
        </section>
        <section class="card" data-section="contact" id="contact">
            <h2>{t.contact}</h2>
            <dl class="facts">
                <dt>{t.name}</dt><dd>{d.name.clone()}</dd>
                <dt>{t.phone}</dt><dd>{or_dash(d.phone.clone())}</dd>
                <dt>{t.email}</dt><dd>{or_dash(d.email.clone())}</dd>
            </dl>
            {move || {
                let q = q.read();
                let note = match (q.get("done").as_deref(), q.get("error").as_deref()) {
                    (Some("language"), _) => Some(t.mail_language_saved),
                    (_, Some("language")) => Some(t.mail_language_bad),
                    _ => None,
                };
                note.map(|n| view! { <p class="banner" role="status">{n}</p> })
            }}
            <form method="post" action=SetMailLanguage::PATH class="inline-form" data-form="mail-language">
                <label for="mail-lang">{t.mail_language}</label>
                <select id="mail-lang" name="lang">
                    <option value="zh" selected=d.mail_lang == crate::Lang::Zh>"中文"</option>
                    <option value="en" selected=d.mail_lang == crate::Lang::En>"English"</option>
                </select>
                <button type="submit" class="button">{t.mail_language_save}</button>
            </form>
        </section>
        <section class="card" data-section="profile">
            <h2>{t.profile}</h2>
            {match d.profile.clone() {
                Some([h, s, st, pr]) => view! {
                    <dl class="facts">
                        <dt>{t.hair}</dt><dd>{or_dash(h)}</dd>
                        <dt>{t.skin}</dt><dd>{or_dash(s)}</dd>
                        <dt>{t.preferred_stylist}</dt><dd>{or_dash(st)}</dd>
                        <dt>{t.preferences}</dt><dd>{or_dash(pr)}</dd>
                    </dl>
                }.into_any(),
                None => view! { <p class="muted">{t.none_yet}</p> }.into_any(),
            }}
        </section>
        <section class="card" data-section="sensitive">
            <h2>{t.sensitive}</h2>
            {if d.sensitive.is_empty() {
                view! { <p class="muted">{t.sensitive_none}</p> }.into_any()
            } else {
                lines(d.sensitive.clone()).into_any()
            }}
        </section>
        <section class="card" data-section="visits">
            <h2>{t.visits}</h2>
            {lines(d.visits.clone())}
        </section>
        <section class="card" data-section="membership">
            <h2>{t.membership}</h2>
            {match d.membership.clone() {
                Some((card, balance, points)) => view! {
                    <dl class="facts">
                        <dt>{t.membership}</dt><dd>{card}</dd>
                        <dt>{t.balance}</dt><dd>{balance}</dd>
                        <dt>{t.points}</dt><dd>{points}</dd>
                    </dl>
                    {lines(d.membership_ledger.clone())}
                }.into_any(),
                None => view! { <p class="muted">{t.none_yet}</p> }.into_any(),
            }}
        </section>
        <section class="card" data-section="photos">
            <h2>{t.photos}</h2>
            {if d.photos.is_empty() {
                view! { <p class="muted">{t.none_yet}</p> }.into_any()
            } else {
                view! {
                    <ul class="photos">
                        {d.photos.clone().into_iter().map(|(id, date, uses)| view! {
                            <li>
                                <img src=format!("/me/photos/{id}") alt=format!("{date} {uses}") width="96" height="96" loading="lazy"/>
                                <span class="muted">{date}" · "{uses}</span>
                            </li>
                        }).collect_view()}
                    </ul>
                    <p><A href="/me/photos">{t.photo_manage}</A></p>
                }.into_any()
            }}
        </section>
        <section class="card" data-section="consents">
            <h2>{t.consents}</h2>
            <dl class="facts">
                {d.consents.clone().into_iter().map(|(p, on)| view! {
                    <dt>{t.purpose_names.get(p)}</dt>
                    <dd>{if on { t.on } else { t.off }}</dd>
                }).collect_view()}
            </dl>
            <p><A href="/me/consents">{t.consents_change}</A></p>
            <h3>{t.consent_history}</h3>
            {lines(d.consent_history.clone())}
        </section>
        <section class="card" data-section="requests">
            <h2>{t.requests_title}</h2>
            {lines(d.requests.clone())}
            <p><A href="/me/requests">{t.requests_open}</A></p>
        </section>
        <section class="card" data-section="messages">
            <h2>{t.messages}</h2>
            {lines(d.messages.clone())}
        </section>
        <section class="card" data-section="access">
            <h2>{t.access_log}</h2>
            <p class="muted">{t.access_intro}</p>
            {lines(d.access_log.clone())}
        </section>
        <section class="card" data-section="sharing">
            <h2>{t.sharing}</h2>
            <ul class="lines">
                {d.sharing.clone().into_iter().map(|(n, what, why)| view! {
                    <li><strong>{n}</strong>": "{what}" — "{why}</li>
                }).collect_view()}
            </ul>
        </section>
    }
}
