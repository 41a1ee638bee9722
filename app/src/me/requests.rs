//! "My requests": make, follow and cancel requests, and download a finished export.

use leptos::{prelude::*, server_fn::ServerFn};
use leptos_router::hooks::use_query_map;
use serde::{Deserialize, Serialize};

use crate::{PortalError, use_texts};

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
pub async fn my_requests(lang: crate::Lang) -> Result<Vec<MyRequest>, PortalError> {
    use portal_core::requests;
    let (p, id, _) = crate::signin::ssr::customer("/me/requests").await?;
    let rows = requests::for_customer(&p.db, id).await?;
    Ok(rows.into_iter().map(|r| MyRequest::new(r, lang)).collect())
}

#[cfg(feature = "ssr")]
impl MyRequest {
    /// The request as the customer's page shows it, its outcome in the page's language.
    fn new(r: portal_core::requests::Request, lang: crate::Lang) -> Self {
        use portal_core::requests::{Status, calendar::local_day as day};
        MyRequest {
            id: r.id,
            kind: r.kind,
            status: r.status,
            submitted_on: day(r.submitted_at),
            due_on: day(r.due_at),
            reason: r.decision_reason.or(r.extension_reason),
            outcome: r
                .outcome
                .map(|o| portal_core::requests::outcome_text(&o, lang)),
            can_cancel: matches!(r.status, Status::Submitted | Status::InReview),
        }
    }
}

/// A copy ready to download.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MyExport {
    pub id: i64,
    /// The request it answers.
    pub request: i64,
    /// The salon-local day it was made.
    pub made: String,
    pub until: String,
    pub downloads_left: i32,
    pub size_kb: i64,
}

/// The copies ready to download, and whether this sign-in may download them now.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExportsView {
    pub copies: Vec<MyExport>,
    /// Signed in within the last 10 minutes; otherwise a new code comes first, and the page
    /// says so instead of offering a link that would save the sign-in page as a file.
    pub fresh: bool,
}

/// The customer's copies that can still be downloaded.
#[server]
pub async fn my_exports() -> Result<ExportsView, PortalError> {
    use portal_core::requests::export;
    let (p, id, session) = crate::signin::ssr::customer("/me/requests").await?;
    let now = chrono::Utc::now();
    let copies = export::ready(&p.db, id, now).await?;
    let copies = copies.into_iter().map(MyExport::new).collect();
    Ok(ExportsView {
        copies,
        fresh: session.is_fresh(now, p.settings.fresh_signin()),
    })
}

#[cfg(feature = "ssr")]
impl MyExport {
    fn new(e: portal_core::requests::export::Ready) -> Self {
        MyExport {
            id: e.id,
            request: e.request,
            made: portal_core::requests::calendar::local_day(e.made_at),
            until: portal_core::requests::calendar::local_day(e.expires_at),
            downloads_left: e.downloads_left,
            size_kb: (e.size + 1023) / 1024,
        }
    }
}

/// Makes a request. For a correction, only the filled-in fields are proposed.
#[server]
pub async fn submit_request(
    #[server(flatten)] form: portal_vocab::forms::Request,
) -> Result<(), PortalError> {
    use portal_core::requests;
    let (p, id, session) = crate::signin::ssr::customer("/me/requests").await?;
    let now = chrono::Utc::now();
    // The mails about this request go out in the language the form was read in.
    if let Some(lang) = crate::i18n::read_in() {
        portal_core::customers::remember_language(&p, id, lang).await?;
    }
    let filed = requests::customer_files(
        &p,
        id,
        session.is_fresh(now, p.settings.fresh_signin()),
        &form,
        now,
    )
    .await;
    match filed {
        Ok(filed) => crate::back(after_filing(filed)),
        Err(portal_core::CoreError::Invalid("request.deletion_confirm")) => {
            crate::back("/me/requests?error=confirm#kind-deletion")
        }
        Err(e) => crate::refused(e, "/me/requests?error=invalid"),
    }
}

/// The stored value on the customer's card, when there is any (a deletion waits for it).
#[server]
pub async fn my_balance() -> Result<Option<String>, PortalError> {
    let (p, id, _) = crate::signin::ssr::customer("/me/requests").await?;
    let cents = portal_core::membership::balance_cents(&p.db, id).await?;
    Ok((cents > 0).then(|| portal_core::membership::Cents(cents).to_string()))
}

/// Where a filed request leads: its note, or a fresh sign-in first.
#[cfg(feature = "ssr")]
fn after_filing(filed: portal_core::requests::CustomerFiled) -> &'static str {
    use portal_core::requests::CustomerFiled as Filed;
    match filed {
        Filed::Merged(_) => "/me/requests?done=merged",
        Filed::Submitted(_) => "/me/requests?done=submitted",
        Filed::NeedsFreshSignIn => "/signin?next=/me/requests&fresh=request",
    }
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

/// The form for one kind of request, folded under its name and what it does.
#[component]
fn RequestForm(kind: portal_vocab::Kind, balance: Option<String>) -> impl IntoView {
    use portal_vocab::Kind;
    let t = use_texts().me;
    let code = kind.as_str();
    let id = |field: &str| format!("{code}-{field}");
    let note_required = kind == Kind::Question;
    view! {
        <details class="request-kind" data-kind=code id=format!("kind-{code}")>
            <summary>
                <strong>{t.kind_names.get(kind)}</strong>
                <span class="muted">{t.kind_explain.get(kind)}</span>
            </summary>
            <form method="post" action=SubmitRequest::PATH>
                <input type="hidden" name="kind" value=code/>
                {(kind == Kind::Correction).then(|| view! {
                    <p class="muted">{t.correction_hint}</p>
                    <label for=id("name")>{t.name}</label>
                    <input id=id("name") name="name" type="text" maxlength="100" autocomplete="name"/>
                    <label for=id("phone")>{t.phone}</label>
                    <input id=id("phone") name="phone" type="tel" maxlength="32" autocomplete="tel"/>
                    <label for=id("email")>{t.email}</label>
                    <input id=id("email") name="email" type="email" maxlength="254" autocomplete="email"/>
                })}
                {(kind == Kind::Objection).then(|| view! {
                    <p class="muted">{t.objection_switches}" "<a href="/me/consents">{t.objection_switches_link}</a></p>
                })}
                {(kind == Kind::Deletion).then(|| view! {
                    <ul class="lines">
                        <li>{t.deletion_removes}</li>
                        <li>{t.deletion_keeps}</li>
                        {balance.clone().map(|b| view! { <li data-field="balance"><strong>{(t.deletion_balance)(&b)}</strong></li> })}
                        <li>{t.deletion_signin}</li>
                    </ul>
                    <label class="check">
                        <input type="checkbox" name="confirm" value="yes" required/>
                        {t.deletion_confirm}
                    </label>
                })}
                <label for=id("note")>{t.note_label}</label>
                <textarea id=id("note") name="note" maxlength="2000" rows="3" required=note_required></textarea>
                <button type="submit" class="button">{t.submit}</button>
            </form>
        </details>
    }
}

/// `/me/requests`.
#[component]
pub fn RequestsPage() -> impl IntoView {
    let t = use_texts().me;
    let q = use_query_map();
    // One load for the page: the requests and the copies ready to download.
    let lang = use_context::<crate::Site>()
        .map(|s| s.lang)
        .unwrap_or_default();
    let both = Resource::new(
        || (),
        move |_| async move {
            Ok((
                my_requests(lang).await?,
                my_exports().await?,
                my_balance().await?,
            ))
        },
    );
    let banner = move || {
        let q = q.read();
        q.get("done")
            .map(|d| match d.as_str() {
                "merged" => t.merged,
                "cancelled" => t.cancelled,
                _ => t.submitted,
            })
            .or_else(|| {
                q.get("error").map(|e| match e.as_str() {
                    "confirm" => t.deletion_confirm_needed,
                    _ => t.bad_request,
                })
            })
    };
    crate::loaded(both, move |(list, exports, balance)| {
        view! {
            <section class="card">
                <h1>{t.requests_title}</h1>
                <p class="muted">{t.requests_intro}</p>
                {move || banner().map(|b| view! { <p class="banner" role="status">{b}</p> })}
                {(!exports.copies.is_empty()).then(|| view! {
                    <div class="exports">
                        <h2>{t.exports_title}</h2>
                        <ul class="lines">
                            // No `download` attribute: the ZIP names itself, and a link that
                            // ends on another page must show that page, not save it. `external`
                            // keeps the router from taking the click.
                            {exports.copies.into_iter().map(|x| view! {
                                <li data-export=x.id>
                                    {if exports.fresh {
                                        view! { <a href=format!("/me/exports/{}", x.id) rel="external nofollow">{t.download}{(t.download_which)(x.request, &x.made)}</a> }.into_any()
                                    } else {
                                        view! { <a href="/signin?next=/me/requests&fresh=1" data-confirm-first="true">{t.download_confirm}{(t.download_which)(x.request, &x.made)}</a> }.into_any()
                                    }}
                                    " · "{(t.export_until)(&x.until, x.downloads_left)}" · "{x.size_kb}" KB"
                                </li>
                            }).collect_view()}
                        </ul>
                        // For phones that cannot open a ZIP: the same page, in the browser
                        // (a plain route: the router must not take the click).
                        <p class="muted">{t.copy_in_browser_hint}" "
                            <a href="/me/copy" rel="external nofollow">{t.copy_in_browser}</a>
                        </p>
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
            <section class="card" data-section="new-request">
                <h2>{t.new_request}</h2>
                // One form per kind, each folded in a <details> (no JavaScript needed): its own
                // fields, one line on what it does.
                {portal_vocab::Kind::ALL.map(|k| view! {
                    <RequestForm kind=k balance=balance.clone()/>
                }).collect_view()}
            </section>
        }.into_any()
    })
}
