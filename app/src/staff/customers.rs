//! Customers in the staff area: search, the record (only what the role may see, every read
//! audited), front-desk intake and contact edits, stylists' visits and notes.

use leptos::{prelude::*, server_fn::ServerFn};
use leptos_router::{
    components::A,
    hooks::{use_params_map, use_query_map},
};
use serde::{Deserialize, Serialize};

use portal_vocab::Action;

use crate::{PortalError, use_texts};

#[cfg(feature = "ssr")]
use super::gate;

/// Finds customers. One match opens the record; several are listed by id (never by the search
/// text, which may be a phone or email and must stay out of URLs).
#[server]
pub async fn search_customers(q: String) -> Result<(), PortalError> {
    use portal_core::{
        access::Action,
        customers::record::{self, Search},
    };
    let c = gate::require(Action::SearchCustomers).await?;
    let Ok(query) = Search::parse(&q) else {
        return gate::back("/staff/customers?error=bad");
    };
    let found = record::search(&c.portal.db, &c.portal.vault, &query).await?;
    match found.as_slice() {
        [] => gate::back("/staff/customers?error=none"),
        [one] => gate::back(&format!("/staff/customers/{}", one.id)),
        many => {
            let ids: Vec<String> = many.iter().map(|f| f.id.to_string()).collect();
            gate::back(&format!("/staff/customers?found={}", ids.join(",")))
        }
    }
}

/// A search result as the list shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FoundView {
    pub id: i64,
    pub name: String,
}

/// The names of listed customers (each read audited).
#[server]
pub async fn found_customers(found: String) -> Result<Vec<FoundView>, PortalError> {
    use portal_core::{access::Action, customers::open};
    let c = gate::require(Action::SearchCustomers).await?;
    let ids: Vec<i64> = found
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let (me, role, now) = (c.member.id, c.member.role, chrono::Utc::now());
    let names = open::names(&c.portal, me, role, &ids, now).await?;
    Ok(names
        .into_iter()
        .map(|(id, name)| FoundView { id, name })
        .collect())
}

/// Contact details.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ContactView {
    pub phone: Option<String>,
    pub email: Option<String>,
}

/// The service profile.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProfileView {
    /// False when no profile was recorded yet (the fields are then empty).
    pub recorded: bool,
    pub hair_type: Option<String>,
    pub skin_type: Option<String>,
    pub preferred_stylist: Option<String>,
    pub preferences: Option<String>,
}

/// Sensitive notes, with whether the customer consented to keeping them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SensitiveView {
    pub consented: bool,
    /// `(category, body, date)`; empty without consent.
    pub notes: Vec<(String, String, String)>,
}

/// One visit.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VisitView {
    pub id: i64,
    pub date: String,
    pub services: String,
    pub stylist: Option<String>,
    pub amount: String,
    pub notes: Option<String>,
}

/// The membership card.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MembershipView {
    pub card: String,
    pub balance: String,
    pub points: i64,
}

/// A customer's record: each part is `None` when the role may not see it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RecordView {
    pub id: i64,
    pub name: String,
    /// The customer restricted the use of their data: show it, use nothing.
    pub restricted: bool,
    pub contact: Option<ContactView>,
    pub profile: Option<ProfileView>,
    pub sensitive: Option<SensitiveView>,
    pub visits: Option<Vec<VisitView>>,
    /// The open membership, if any (empty list when there is none).
    pub membership: Option<Vec<MembershipView>>,
    /// `(purpose code, on)`.
    pub consents: Option<Vec<(portal_vocab::Purpose, bool)>>,
}

/// Opens a record: every part the role may see, each read audited with it (`customers::open`).
#[server]
pub async fn customer_record(id: i64) -> Result<RecordView, PortalError> {
    use portal_core::{access::Action, customers::open};
    let c = gate::require(Action::SearchCustomers).await?;
    let now = chrono::Utc::now();
    let r = open::open(&c.portal, c.member.id, c.member.role, id, now).await?;
    Ok(RecordView::new(id, r))
}

#[cfg(feature = "ssr")]
impl RecordView {
    /// The page's view of an opened record: text as the page shows it.
    fn new(id: i64, r: portal_core::customers::open::OpenedRecord) -> Self {
        let day = |at: chrono::DateTime<chrono::Utc>| at.format("%Y-%m-%d").to_string();
        RecordView {
            id,
            restricted: r.restricted,
            name: r.name,
            contact: r.contact.map(|c| ContactView {
                phone: c.phone.map(|p| p.as_str().to_owned()),
                email: c.email.map(|e| e.as_str().to_owned()),
            }),
            profile: r.profile.map(|found| {
                let recorded = found.is_some();
                let s = found.unwrap_or_default();
                ProfileView {
                    recorded,
                    hair_type: s.hair_type,
                    skin_type: s.skin_type,
                    preferred_stylist: s.preferred_stylist,
                    preferences: s.preferences,
                }
            }),
            sensitive: r.sensitive.map(|s| SensitiveView {
                consented: s.consented,
                notes: s
                    .notes
                    .into_iter()
                    .map(|n| (n.category, n.body, day(n.at)))
                    .collect(),
            }),
            visits: r.visits.map(|vs| {
                vs.into_iter()
                    .map(|v| VisitView {
                        id: v.id,
                        date: day(v.at),
                        services: v.services,
                        stylist: v.stylist,
                        amount: portal_vocab::Cents(v.amount_cents).yuan(),
                        notes: v.notes,
                    })
                    .collect()
            }),
            membership: r.membership.map(|m| {
                m.into_iter()
                    .map(|m| MembershipView {
                        card: m.card_masked,
                        balance: portal_vocab::Cents(m.balance_cents).yuan(),
                        points: m.points,
                    })
                    .collect()
            }),
            consents: r.consents,
        }
    }
}

/// The privacy officer lifts a restriction (the reason for it has gone).
#[server]
pub async fn lift_restriction(id: i64) -> Result<(), PortalError> {
    use portal_core::{access::Action, requests::fulfil};
    let c = gate::require(Action::DecideRequest).await?;
    let lift = async |tx: &_| fulfil::lift_restriction(tx, id).await;
    c.audited(Action::DecideRequest, lift, |_| Some(("customer", id)))
        .await?;
    gate::back(&format!("/staff/customers/{id}?saved=1"))
}

/// Front desk replaces the contact details.
#[server]
pub async fn update_contact(
    id: i64,
    name: String,
    phone: String,
    email: String,
) -> Result<(), PortalError> {
    use portal_core::{
        CoreError, Refusal,
        access::Action,
        customers::{self, CustomerName, record},
        email::Email,
        phone::Phone,
        requests::email_change::{self, StaffContactOutcome as Outcome},
    };
    let c = gate::require(Action::EditContact).await?;
    let parsed = (
        CustomerName::parse(&name),
        (!phone.trim().is_empty())
            .then(|| Phone::parse(&phone))
            .transpose(),
        (!email.trim().is_empty())
            .then(|| Email::parse(&email))
            .transpose(),
    );
    let (Ok(name), Ok(phone), Ok(email)) = parsed else {
        return gate::back(&format!("/staff/customers/{id}?error=invalid"));
    };
    let change = record::ContactChange { name, email, phone };
    let (me, now) = (c.member.id, chrono::Utc::now());
    let done = email_change::staff_edit_contact(&c.portal, me, c.member.role, id, change, now);
    let to = match done.await {
        Ok(Outcome::Saved) => "saved=1",
        Ok(Outcome::EmailAwaitsConfirmation) => "saved=confirm",
        Ok(Outcome::EmailGoesToOfficer(_)) => "saved=officer",
        Err(CoreError::Refused(Refusal::Customer(r))) => match r {
            customers::Refusal::ContactTaken => "error=taken",
            customers::Refusal::EmailOfficerOnly => "error=email_officer",
            customers::Refusal::Restricted => "error=restricted",
        },
        Err(e) => return Err(e.into()),
    };
    gate::back(&format!("/staff/customers/{id}?{to}"))
}

/// A stylist records a visit they did.
#[server]
pub async fn record_visit(
    id: i64,
    services: String,
    amount: String,
    notes: String,
) -> Result<(), PortalError> {
    use portal_core::{CoreError, access::Action, customers::record};
    let c = gate::require(Action::RecordVisit).await?;
    let Some(amount_cents) = parse_yuan(&amount) else {
        return gate::back(&format!("/staff/customers/{id}?error=invalid"));
    };
    let visit = record::NewVisit {
        at: chrono::Utc::now(),
        services: &services,
        stylist: Some(c.member.id),
        amount_cents,
        notes: Some(notes.as_str()),
    };
    let vault = &c.portal.vault;
    let change = async |tx: &_| record::record_visit(tx, vault, id, &visit).await;
    match c
        .audited(Action::RecordVisit, change, |_| Some(("customer", id)))
        .await
    {
        Ok(_) => {}
        Err(CoreError::Refused(portal_core::Refusal::Customer(
            portal_core::customers::Refusal::Restricted,
        ))) => {
            return gate::back(&format!("/staff/customers/{id}?error=restricted"));
        }
        Err(CoreError::Invalid(_) | CoreError::Refused(_)) => {
            return gate::back(&format!("/staff/customers/{id}?error=invalid"));
        }
        Err(e) => return Err(e.into()),
    }
    gate::back(&format!("/staff/customers/{id}?saved=1"))
}

/// `123`, `123.5` or `123.45` yuan as cents.
#[cfg(feature = "ssr")]
fn parse_yuan(s: &str) -> Option<i64> {
    let s = s.trim();
    let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
    if whole.is_empty() || whole.len() > 9 || frac.len() > 2 {
        return None;
    }
    if !whole
        .bytes()
        .chain(frac.bytes())
        .all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let cents = format!("{frac:0<2}").parse::<i64>().ok()?;
    Some(whole.parse::<i64>().ok()? * 100 + cents)
}

/// A stylist adds a note to a visit.
#[server]
pub async fn add_visit_note(id: i64, visit: i64, note: String) -> Result<(), PortalError> {
    use portal_core::{CoreError, access::Action, customers::record};
    let c = gate::require(Action::AddVisitNote).await?;
    let vault = &c.portal.vault;
    let change = async |tx: &_| record::add_visit_note(tx, vault, id, visit, &note).await;
    match c
        .audited(Action::AddVisitNote, change, |_| Some(("customer", id)))
        .await
    {
        Ok(()) => {}
        Err(CoreError::Refused(portal_core::Refusal::Customer(
            portal_core::customers::Refusal::Restricted,
        ))) => {
            return gate::back(&format!("/staff/customers/{id}?error=restricted"));
        }
        Err(CoreError::Invalid(_) | CoreError::Refused(_)) => {
            return gate::back(&format!("/staff/customers/{id}?error=invalid"));
        }
        Err(e) => return Err(e.into()),
    }
    gate::back(&format!("/staff/customers/{id}?saved=1"))
}

/// The current notice version, for the intake form's checkbox.
#[server]
pub async fn intake_notice_version() -> Result<i32, PortalError> {
    use portal_core::access::Action;
    let c = gate::require(Action::CreateCustomer).await?;
    Ok(portal_core::notices::current(&c.portal.db).await?.version)
}

pub use intake_fn::{Intake, intake};

/// One argument per form field is what a plain HTML form posts; clippy's argument limit does not
/// fit a form, so it is lifted for this function alone.
mod intake_fn {
    #![allow(clippy::too_many_arguments)]
    #[cfg(feature = "ssr")]
    use super::gate;
    use super::*;

    /// Front-desk intake: minimum fields, the notice shown, the consents chosen at the counter.
    #[server]
    pub async fn intake(
        name: String,
        phone: String,
        email: String,
        language: String,
        channel: String,
        notice_version: i32,
        notice_shown: Option<String>,
        marketing_sms: Option<String>,
        marketing_email: Option<String>,
        marketing_wechat: Option<String>,
        photos_portfolio: Option<String>,
        photos_social: Option<String>,
        sensitive_notes: Option<String>,
        send_link: Option<String>,
    ) -> Result<(), PortalError> {
        use portal_core::{
            CoreError, Refusal,
            access::Action,
            consents::{Channel, Purpose},
            customers::{
                self, CustomerName, NewCustomer,
                intake::{self, Intake, Intaken},
            },
            email::Email,
            phone::Phone,
        };
        let c = gate::require(Action::CreateCustomer).await?;
        if notice_shown.is_none() {
            return gate::back("/staff/customers/new?error=notice");
        }
        let parsed = (
            CustomerName::parse(&name),
            Phone::parse(&phone),
            (!email.trim().is_empty())
                .then(|| Email::parse(&email))
                .transpose(),
            Channel::parse(&channel)
                .ok()
                .filter(|c| *c != Channel::Portal),
        );
        let (Ok(name), Ok(phone), Ok(email), Some(channel)) = parsed else {
            return gate::back("/staff/customers/new?error=invalid");
        };
        let now = chrono::Utc::now();
        let ticked = [
            (Purpose::MarketingSms, marketing_sms),
            (Purpose::MarketingEmail, marketing_email),
            (Purpose::MarketingWechat, marketing_wechat),
            (Purpose::PhotosPortfolio, photos_portfolio),
            (Purpose::PhotosSocial, photos_social),
            (Purpose::SensitiveNotes, sensitive_notes),
        ];
        let form = Intake {
            customer: NewCustomer {
                name,
                email,
                phone: Some(phone),
                language: if language == "en" { "en" } else { "zh" },
                created_by: None,
                at: now,
            },
            notice_version,
            channel,
            consents: ticked
                .into_iter()
                .filter_map(|(p, on)| on.map(|_| p))
                .collect(),
            send_link: send_link.is_some(),
        };
        match intake::intake(&c.portal, c.member.id, c.member.role, form, now).await {
            Ok(Intaken::Created(id)) => gate::back(&format!("/staff/customers/{id}?saved=1")),
            // The form showed an older notice than the one now in force: show it again.
            Ok(Intaken::NoticeOutdated) => gate::back("/staff/customers/new?error=notice"),
            Err(CoreError::Refused(Refusal::Customer(customers::Refusal::ContactTaken))) => {
                gate::back("/staff/customers/new?error=taken")
            }
            Err(e) => Err(e.into()),
        }
    }
}

/// `/staff/customers`: the search form and, after a search with several matches, the list.
#[component]
pub fn SearchPage() -> impl IntoView {
    let t = use_texts().staff;
    let q = use_query_map();
    let found = Resource::new(
        move || q.read().get("found"),
        |f| async move {
            match f {
                Some(f) => found_customers(f).await.map(Some),
                None => Ok(None),
            }
        },
    );
    let error = move || q.read().get("error");
    crate::loaded(found, move |list| {
        view! {
            <section class="card">
                <h1>{t.search_title}</h1>
                {move || error().map(|e| {
                    let msg = if e == "none" { t.search_none } else { t.search_bad };
                    view! { <p class="banner" role="alert">{msg}</p> }
                })}
                <form method="post" action=SearchCustomers::PATH>
                    <label for="q">{t.search_label}</label>
                    <input id="q" name="q" type="search" required maxlength="100" autocomplete="off"/>
                    <button type="submit" class="button">{t.search_button}</button>
                </form>
            </section>
            {match list {
                Some(rows) => view! {
                    <section class="card">
                        <h2>{t.results_title}</h2>
                        <ul class="results">
                            {rows.into_iter().map(|r| view! {
                                <li><A href=format!("/staff/customers/{}", r.id)>{r.name}</A></li>
                            }).collect_view()}
                        </ul>
                    </section>
                }.into_any(),
                None => ().into_any(),
            }}
        }
    })
}

/// `/staff/customers/{id}`.
#[component]
pub fn RecordPage() -> impl IntoView {
    let params = use_params_map();
    let q = use_query_map();
    let record = Resource::new(
        move || params.read().get("id").and_then(|s| s.parse::<i64>().ok()),
        |id| async move {
            match id {
                Some(id) => customer_record(id).await,
                None => Err(PortalError::NotFound),
            }
        },
    );
    let t = use_texts().staff;
    let banner = move || {
        let q = q.read();
        if let Some(saved) = q.get("saved") {
            Some(match saved.as_str() {
                "confirm" => t.email_awaits_confirmation,
                "officer" => t.email_goes_to_officer,
                _ => t.saved,
            })
        } else {
            q.get("error").map(|e| match e.as_str() {
                "taken" => t.contact_taken,
                "restricted" => t.record_restricted_no_edits,
                "email_officer" => t.email_removal_officer_only,
                _ => t.invalid_input,
            })
        }
    };
    crate::loaded(record, move |r| {
        view! {
            {move || banner().map(|b| view! { <p class="banner" role="status">{b}</p> })}
            <RecordBody r=r/>
        }
    })
}

fn or_dash(v: Option<String>) -> String {
    v.unwrap_or_else(|| "—".into())
}

#[component]
fn RecordBody(r: RecordView) -> impl IntoView {
    let t = use_texts().staff;
    let me = super::use_me();
    let (edit, visit, note, record) = (
        me.may(Action::EditContact),
        me.may(Action::RecordVisit),
        me.may(Action::AddVisitNote),
        me.may(Action::RecordRequest),
    );
    let id = r.id;
    view! {
        {r.restricted.then(|| view! {
            <p class="banner" role="status" data-restricted="true">
                {t.restricted_banner}
                {me.may(Action::DecideRequest).then(|| view! {
                    <form method="post" action=LiftRestriction::PATH class="inline-form">
                        <input type="hidden" name="id" value=id/>
                        <button type="submit" class="link">{t.lift_restriction}</button>
                    </form>
                })}
            </p>
        })}
        <section class="card">
            <h1 data-customer=id>{r.name.clone()}</h1>
            {r.contact.clone().map(|c| view! {
                <h2>{t.contact}</h2>
                <dl class="facts">
                    <dt>{t.phone}</dt><dd data-field="phone">{or_dash(c.phone.clone())}</dd>
                    <dt>{t.email}</dt><dd data-field="email">{or_dash(c.email.clone())}</dd>
                </dl>
                {edit.then(|| view! {
                    <details>
                        <summary>{t.edit_contact}</summary>
                        <form method="post" action=UpdateContact::PATH>
                            <input type="hidden" name="id" value=id/>
                            <label for="name">{t.name}</label>
                            <input id="name" name="name" type="text" required maxlength="100" value=r.name.clone()/>
                            <label for="phone">{t.phone}</label>
                            <input id="phone" name="phone" type="tel" maxlength="32" value=c.phone.clone().unwrap_or_default()/>
                            <label for="email">{t.email}</label>
                            <input id="email" name="email" type="email" maxlength="254" value=c.email.clone().unwrap_or_default()/>
                            <button type="submit" class="button">{t.save}</button>
                        </form>
                    </details>
                })}
            })}
        </section>
        {r.profile.clone().map(|p| view! {
            <section class="card" data-section="profile">
                <h2>{t.profile}</h2>
                {match Some(p).filter(|p| p.recorded) {
                    Some(p) => view! {
                        <dl class="facts">
                            <dt>{t.hair}</dt><dd>{or_dash(p.hair_type)}</dd>
                            <dt>{t.skin}</dt><dd>{or_dash(p.skin_type)}</dd>
                            <dt>{t.preferred_stylist}</dt><dd>{or_dash(p.preferred_stylist)}</dd>
                            <dt>{t.preferences}</dt><dd>{or_dash(p.preferences)}</dd>
                        </dl>
                    }.into_any(),
                    None => view! { <p class="muted">{t.no_profile}</p> }.into_any(),
                }}
            </section>
        })}
        {r.sensitive.clone().map(|s| view! {
            <section class="card" data-section="sensitive">
                <h2>{t.sensitive}</h2>
                {if s.consented {
                    view! {
                        <ul>{s.notes.into_iter().map(|(cat, body, date)| view! {
                            <li>{date}" · "{cat}": "{body}</li>
                        }).collect_view()}</ul>
                    }.into_any()
                } else {
                    view! { <p class="muted">{t.sensitive_no_consent}</p> }.into_any()
                }}
            </section>
        })}
        {r.visits.clone().map(|vs| view! {
            <section class="card" data-section="visits">
                <h2>{t.visits}</h2>
                {vs.is_empty().then(|| view! { <p class="muted">{t.no_visits}</p> })}
                <ul class="visits">
                    {vs.into_iter().map(|v| view! {
                        <li>
                            <strong>{v.date.clone()}</strong>" · "{v.services.clone()}" · "{or_dash(v.stylist.clone())}" · ¥"{v.amount.clone()}
                            {v.notes.clone().map(|n| view! { <p class="note">{n}</p> })}
                            {note.then(|| view! {
                                <form method="post" action=AddVisitNote::PATH class="inline-form">
                                    <input type="hidden" name="id" value=id/>
                                    <input type="hidden" name="visit" value=v.id/>
                                    <label for=format!("note-{}", v.id)>{t.add_note}</label>
                                    <input id=format!("note-{}", v.id) name="note" type="text" required maxlength="1000"/>
                                    <button type="submit" class="button">{t.save}</button>
                                </form>
                            })}
                        </li>
                    }).collect_view()}
                </ul>
                {visit.then(|| view! {
                    <details>
                        <summary>{t.record_visit}</summary>
                        <form method="post" action=RecordVisit::PATH>
                            <input type="hidden" name="id" value=id/>
                            <label for="services">{t.services}</label>
                            <input id="services" name="services" type="text" required maxlength="200"/>
                            <label for="amount">{t.amount}</label>
                            <input id="amount" name="amount" inputmode="decimal" required maxlength="12"/>
                            <label for="notes">{t.notes}</label>
                            <input id="notes" name="notes" type="text" maxlength="1000"/>
                            <button type="submit" class="button">{t.save}</button>
                        </form>
                    </details>
                })}
            </section>
        })}
        {r.membership.clone().map(|m| view! {
            <section class="card" data-section="membership">
                <h2>{t.membership}</h2>
                {m.into_iter().map(|m| view! {
                    <dl class="facts">
                        <dt>{t.membership}</dt><dd>{m.card}</dd>
                        <dt>{t.balance}</dt><dd>"¥"{m.balance}</dd>
                        <dt>{t.points}</dt><dd>{m.points}</dd>
                    </dl>
                }).collect_view()}
            </section>
        })}
        {record.then(|| view! {
            <section class="card" data-section="record-request">
                <h2>{t.record_request}</h2>
                <form method="post" action=super::requests::RecordRequest::PATH>
                    <input type="hidden" name="customer" value=id/>
                    <label for="rr-kind">{t.kind}</label>
                    <select id="rr-kind" name="kind">
                        {portal_vocab::Kind::ALL.map(|k| view! {
                            <option value=k.as_str()>{t.kind_names.get(k)}</option>
                        }).collect_view()}
                    </select>
                    <label for="rr-note">{t.notes}</label>
                    <input id="rr-note" name="note" type="text" maxlength="2000"/>
                    <button type="submit" class="button">{t.save}</button>
                </form>
            </section>
        })}
        {r.consents.clone().map(|cs| view! {
            <section class="card" data-section="consents">
                <h2>{t.consents}</h2>
                <dl class="facts">
                    {cs.into_iter().map(|(p, on)| view! {
                        <dt>{t.purpose_names.get(p)}</dt>
                        <dd data-purpose=p.code()>{if on { t.on } else { t.off }}</dd>
                    }).collect_view()}
                </dl>
            </section>
        })}
    }
}

/// `/staff/customers/new`: front-desk intake.
#[component]
pub fn IntakePage() -> impl IntoView {
    let t = use_texts().staff;
    let q = use_query_map();
    let version = Resource::new(|| (), |_| intake_notice_version());
    crate::loaded(version, move |version| {
        view! {
            <section class="card">
                <h1>{t.intake_title}</h1>
                <p>{t.intake_intro}</p>
                {move || q.read().get("error").map(|e| {
                    let msg = match e.as_str() { "notice" => t.notice_required, "taken" => t.contact_taken, _ => t.invalid_input };
                    view! { <p class="banner" role="alert">{msg}</p> }
                })}
                <form method="post" action=Intake::PATH>
                    <input type="hidden" name="notice_version" value=version/>
                    <label for="name">{t.name}</label>
                    <input id="name" name="name" type="text" required maxlength="100" autocomplete="off"/>
                    <label for="phone">{t.phone}</label>
                    <input id="phone" name="phone" type="tel" required maxlength="32" autocomplete="off"/>
                    <label for="email">{t.email}</label>
                    <input id="email" name="email" type="email" maxlength="254" autocomplete="off"/>
                    <label for="language">{t.language}</label>
                    <select id="language" name="language">
                        <option value="zh" selected>"中文"</option>
                        <option value="en">"English"</option>
                    </select>
                    <label class="check">
                        <input type="checkbox" name="notice_shown" value="on" required/>
                        {(t.notice_shown)(version)}
                    </label>
                    <fieldset>
                        <legend>{t.consents_legend}</legend>
                        {portal_vocab::Purpose::ALL.map(|p| view! {
                            <label class="check">
                                <input type="checkbox" name=p.code() value="on"/>
                                {t.purpose_names.get(p)}
                            </label>
                        }).collect_view()}
                    </fieldset>
                    <label for="channel">{t.channel}</label>
                    <select id="channel" name="channel">
                        <option value="front_desk" selected>{t.channel_front_desk}</option>
                        <option value="paper_form">{t.channel_paper}</option>
                    </select>
                    <label class="check">
                        <input type="checkbox" name="send_link" value="on"/>
                        {t.send_link}
                    </label>
                    <button type="submit" class="button">{t.create}</button>
                </form>
            </section>
        }.into_any()
    })
}

#[cfg(all(test, feature = "ssr"))]
mod tests {
    use super::parse_yuan;

    #[test]
    fn amounts_are_read_as_yuan_and_cents_and_nothing_else() {
        assert_eq!(parse_yuan("128"), Some(12_800));
        assert_eq!(parse_yuan("128.5"), Some(12_850));
        assert_eq!(parse_yuan(" 0.05 "), Some(5));
        for bad in ["", "-1", "1.234", "1e3", "abc", ".5", "1,000"] {
            assert_eq!(parse_yuan(bad), None, "{bad}");
        }
    }
}
