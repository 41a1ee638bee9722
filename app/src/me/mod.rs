//! The signed-in customer's pages: "My data" (every category the salon keeps) and "My
//! requests" (make, follow and cancel requests). Phone first; every form is a plain POST.

pub mod consents;
pub mod notice;
pub mod photos;
pub mod texts;

/// A stored consent channel in the customer's language; never the stored code itself.
pub fn channel_name(t: &texts::MeTexts, code: &str) -> &'static str {
    portal_vocab::Channel::parse(code).map_or(t.channel_other, |c| t.channel_names.get(c))
}

/// One line of "who looked at my data": the role and what was done, in the customer's language.
/// The match is exhaustive, so a new staff action must decide how customers read it.
#[cfg(feature = "ssr")]
fn access_text(all: &crate::i18n::Texts, role: Option<&str>, action: &str) -> String {
    use portal_core::access::Action::{self, *};
    let t = all.me;
    let what = match Action::ALL.into_iter().find(|a| a.as_str() == action) {
        Some(ViewContact) => (t.viewed)(t.contact),
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

use leptos::{prelude::*, server_fn::ServerFn};
use leptos_router::{components::A, hooks::use_query_map};
use serde::{Deserialize, Serialize};

#[cfg(feature = "ssr")]
use crate::i18n::Catalogue;
use crate::{PortalError, signin::SignOut, use_texts};

/// One request as the customer sees it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MyRequest {
    pub id: i64,
    /// What was asked for.
    pub kind: portal_vocab::Kind,
    /// Where it is.
    pub status: portal_vocab::Status,
    pub submitted_on: String,
    pub due_on: String,
    pub reason: Option<String>,
    pub outcome: Option<String>,
    pub can_cancel: bool,
}

/// The customer's requests, newest first.
#[server]
pub async fn my_requests() -> Result<Vec<MyRequest>, PortalError> {
    use portal_core::requests;
    let (p, id, _) = crate::signin::ssr::customer("/me/requests").await?;
    let rows = requests::for_customer(&p.db, id).await?;
    Ok(rows.into_iter().map(MyRequest::new).collect())
}

#[cfg(feature = "ssr")]
impl MyRequest {
    fn new(r: portal_core::requests::Request) -> Self {
        use portal_core::requests::{Status, calendar::local_day as day};
        MyRequest {
            id: r.id,
            kind: r.kind,
            status: r.status,
            submitted_on: day(r.submitted_at),
            due_on: day(r.due_at),
            reason: r.decision_reason.or(r.extension_reason),
            outcome: r.outcome,
            can_cancel: matches!(r.status, Status::Submitted | Status::InReview),
        }
    }
}

/// A copy ready to download.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MyExport {
    pub id: i64,
    pub until: String,
    pub downloads_left: i32,
    pub size_kb: i64,
}

/// The customer's copies that can still be downloaded.
#[server]
pub async fn my_exports() -> Result<Vec<MyExport>, PortalError> {
    use portal_core::requests::export;
    let (p, id, _) = crate::signin::ssr::customer("/me/requests").await?;
    Ok(export::ready(&p.db, id, chrono::Utc::now())
        .await?
        .into_iter()
        .map(|e| MyExport {
            id: e.id,
            until: portal_core::requests::calendar::local_day(e.expires_at),
            downloads_left: e.downloads_left,
            size_kb: (e.size + 1023) / 1024,
        })
        .collect())
}

/// Makes a request. For a correction, only the filled-in fields are proposed.
#[server]
pub async fn submit_request(
    #[server(flatten)] form: portal_vocab::forms::Request,
) -> Result<(), PortalError> {
    use portal_core::{
        CoreError,
        requests::{self, CustomerFiled as Filed},
    };
    let (p, id, session) = crate::signin::ssr::customer("/me/requests").await?;
    let now = chrono::Utc::now();
    let filed = requests::customer_files(&p, id, session.is_fresh(now), &form, now).await;
    crate::redirect(match filed {
        Ok(Filed::Merged(_)) => "/me/requests?done=merged",
        Ok(Filed::Submitted(_)) => "/me/requests?done=submitted",
        Ok(Filed::NeedsFreshSignIn) => "/signin?next=/me/requests&fresh=request",
        Err(CoreError::Invalid(_) | CoreError::Refused(_)) => "/me/requests?error=invalid",
        Err(e) => return Err(e.into()),
    });
    Ok(())
}

/// Withdraws one of the customer's own requests while it waits or is in review.
#[server]
pub async fn cancel_request(id: i64) -> Result<(), PortalError> {
    use portal_core::{CoreError, requests};
    let (p, customer, _) = crate::signin::ssr::customer("/me/requests").await?;
    match requests::cancel(&p, customer, id, chrono::Utc::now()).await {
        Ok(_) => crate::back("/me/requests?done=cancelled"),
        Err(CoreError::Invalid(_) | CoreError::Refused(_) | CoreError::NotFound) => {
            crate::back("/me/requests?error=invalid")
        }
        Err(e) => Err(e.into()),
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
}

/// Gathers "My data" (`mydata::everything`). Served `no-store` like every page.
#[server]
pub async fn my_data(lang: crate::Lang) -> Result<MyDataView, PortalError> {
    let (p, id, _) = crate::signin::ssr::customer("/me").await?;
    let everything = portal_core::mydata::everything(&p, id, chrono::Utc::now()).await?;
    Ok(MyDataView::new(everything, lang))
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
        MyDataView {
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
                    line(
                        l.at,
                        format!("{kind} {amount} · {} → {after}", l.points_delta),
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

/// Every page of a signed-in customer: their navigation, then the page in the `<Outlet/>`.
/// Each page's own server function finds the customer (or sends the visitor to sign in).
#[component]
pub fn MeLayout() -> impl IntoView {
    view! {
        <MeNav/>
        <leptos_router::components::Outlet/>
    }
}

/// The customer's navigation and sign-out.
#[component]
pub(crate) fn MeNav() -> impl IntoView {
    let t = use_texts().me;
    view! {
        <nav class="me-nav">
            <A href="/me">{t.nav_data}</A>
            <A href="/me/requests">{t.nav_requests}</A>
            <A href="/me/consents">{t.consents}</A>
            <A href="/me/photos">{t.photo_uses}</A>
            <form method="post" action=SignOut::PATH class="inline">
                <button type="submit" class="link">{use_texts().sign_out}</button>
            </form>
        </nav>
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
    view! {
        <section class="card">
            <h1>{all.me_title}</h1>
            <p>{(all.me_signed_in_as)(&d.masked_email)}</p>
            <p class="muted">{t.data_intro}</p>
            {d.restricted.then(|| view! { <p class="banner" role="status">{t.restricted_banner}</p> })}
        </section>
        <section class="card" data-section="contact">
            <h2>{t.contact}</h2>
            <dl class="facts">
                <dt>{t.name}</dt><dd>{d.name.clone()}</dd>
                <dt>{t.phone}</dt><dd>{or_dash(d.phone.clone())}</dd>
                <dt>{t.email}</dt><dd>{or_dash(d.email.clone())}</dd>
            </dl>
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
            <h3>{t.consent_history}</h3>
            {lines(d.consent_history.clone())}
        </section>
        <section class="card" data-section="requests">
            <h2>{t.requests_title}</h2>
            <p><A href="/me/requests">{t.nav_requests}</A></p>
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

/// `/me/requests`.
#[component]
pub fn RequestsPage() -> impl IntoView {
    let t = use_texts().me;
    let q = use_query_map();
    // One load for the page: the requests and the copies ready to download.
    let both = Resource::new(
        || (),
        |_| async { Ok((my_requests().await?, my_exports().await?)) },
    );
    let banner = move || {
        let q = q.read();
        q.get("done")
            .map(|d| match d.as_str() {
                "merged" => t.merged,
                "cancelled" => t.cancelled,
                _ => t.submitted,
            })
            .or_else(|| q.get("error").map(|_| t.bad_request))
    };
    crate::loaded(both, move |(list, exports)| {
        view! {
            <section class="card">
                <h1>{t.requests_title}</h1>
                <p class="muted">{t.requests_intro}</p>
                {move || banner().map(|b| view! { <p class="banner" role="status">{b}</p> })}
                {(!exports.is_empty()).then(|| view! {
                    <div class="exports">
                        <h2>{t.exports_title}</h2>
                        <ul class="lines">
                            {exports.into_iter().map(|x| view! {
                                <li data-export=x.id>
                                    <a href=format!("/me/exports/{}", x.id) rel="nofollow" download>{t.download}</a>
                                    " · "{(t.export_until)(&x.until, x.downloads_left)}" · "{x.size_kb}" KB"
                                </li>
                            }).collect_view()}
                        </ul>
                    </div>
                })}
                {list.is_empty().then(|| view! { <p>{t.no_requests}</p> })}
                <ul class="requests">
                    {list.into_iter().map(|r| view! {
                        <li data-request=r.id>
                            <strong>{t.kind_names.get(r.kind)}</strong>
                            " · "<span class="tag" data-status=r.status.as_str()>{t.status_names.get(r.status)}</span>
                            <br/><span class="muted">{(t.submitted_on)(&r.submitted_on)}" · "{(t.due_by)(&r.due_on)}</span>
                            {r.reason.clone().map(|x| view! { <p>{t.reason}": "{x}</p> })}
                            {r.outcome.clone().map(|x| view! { <p>{t.outcome}": "{x}</p> })}
                            {r.can_cancel.then(|| view! {
                                <form method="post" action=CancelRequest::PATH class="inline">
                                    <input type="hidden" name="id" value=r.id/>
                                    <button type="submit" class="link">{t.cancel}</button>
                                </form>
                            })}
                        </li>
                    }).collect_view()}
                </ul>
            </section>
            <section class="card">
                <h2>{t.new_request}</h2>
                <form method="post" action=SubmitRequest::PATH>
                    <label for="kind">{t.kind_label}</label>
                    <select id="kind" name="kind">
                        {portal_vocab::Kind::ALL.map(|k| view! { <option value=k.as_str()>{t.kind_names.get(k)}</option> }).collect_view()}
                    </select>
                    <label for="note">{t.note_label}</label>
                    <textarea id="note" name="note" maxlength="2000" rows="4"></textarea>
                    <fieldset>
                        <legend>{t.correction_hint}</legend>
                        <label for="c-name">{t.name}</label>
                        <input id="c-name" name="name" type="text" maxlength="100" autocomplete="name"/>
                        <label for="c-phone">{t.phone}</label>
                        <input id="c-phone" name="phone" type="tel" maxlength="32" autocomplete="tel"/>
                        <label for="c-email">{t.email}</label>
                        <input id="c-email" name="email" type="email" maxlength="254" autocomplete="email"/>
                    </fieldset>
                    <button type="submit" class="button">{t.submit}</button>
                </form>
            </section>
        }.into_any()
    })
}

/// The masked new address a confirmation link is for; spends nothing.
#[server]
pub async fn peek_email_change(t: String) -> Result<Option<String>, PortalError> {
    let p = crate::signin::ssr::portal()?;
    Ok(portal_core::requests::email_change::peek(&p, &t, chrono::Utc::now()).await?)
}

/// Confirms a new email address (spends the link; only on this POST).
#[server]
pub async fn confirm_email_change(t: String) -> Result<(), PortalError> {
    use portal_core::requests::email_change;
    let p = crate::signin::ssr::portal()?;
    match email_change::confirm(&p, &t, chrono::Utc::now()).await {
        Ok(None) => crate::back("/me/email?error=expired"),
        done => crate::settle(done, "/me/email?done=1", "/me/email?error=taken"),
    }
}

/// `/me/email?t=…`: confirm a new email address with one button.
#[component]
pub fn EmailChangePage() -> impl IntoView {
    let t = use_texts().me;
    let q = use_query_map();
    let token = move || q.read().get("t").unwrap_or_default();
    let peek = Resource::new(token, |t| async move {
        if t.is_empty() {
            Ok(None)
        } else {
            peek_email_change(t).await
        }
    });
    crate::loaded(peek, move |masked| {
        let status = {
            let q = q.read();
            if q.get("done").is_some() {
                Some(t.email_changed)
            } else {
                q.get("error").map(|e| {
                    if e == "taken" {
                        t.email_taken
                    } else {
                        t.email_link_dead
                    }
                })
            }
        };
        match (status, masked) {
            (Some(s), _) => view! { <section class="card"><h1>{t.email_title}</h1><p role="status">{s}</p></section> }.into_any(),
            (None, Some(masked)) => view! {
                <section class="card">
                    <h1>{t.email_title}</h1>
                    <p>{(t.email_confirm_for)(&masked)}</p>
                    <form method="post" action=ConfirmEmailChange::PATH>
                        <input type="hidden" name="t" value=token()/>
                        <button type="submit" class="button">{t.email_confirm}</button>
                    </form>
                </section>
            }.into_any(),
            (None, None) => view! { <section class="card"><h1>{t.email_title}</h1><p role="alert">{t.email_link_dead}</p></section> }.into_any(),
        }
    })
}
