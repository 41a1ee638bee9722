//! The staff request queue and a request's page: what was asked, old beside new for a
//! correction, the history, and the decisions (privacy officer only; never on a request the same
//! person recorded).

use leptos::{prelude::*, server_fn::ServerFn};
use leptos_router::{
    components::A,
    hooks::{use_params_map, use_query_map},
};
use portal_vocab::{Kind, Status};
use serde::{Deserialize, Serialize};

use crate::{PortalError, use_texts};

#[cfg(feature = "ssr")]
use super::gate;

/// One row of the queue (no personal values: the customer is named on the request's page).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QueueRow {
    pub id: i64,
    pub customer: Option<i64>,
    /// The customer's name, for roles that may see contact details (every read audited).
    pub customer_name: Option<String>,
    pub kind: Kind,
    pub status: Status,
    pub due_on: String,
    pub overdue: bool,
    pub assigned: Option<i64>,
}

/// The queue, soonest due first; `due` is `overdue` or `soon`.
#[server]
pub async fn request_queue(
    kind: Option<String>,
    status: Option<String>,
    due: Option<String>,
) -> Result<Vec<QueueRow>, PortalError> {
    use portal_core::{
        access::Action,
        requests::{self, QueueFilter},
    };
    let c = gate::require(Action::ViewRequests).await?;
    let now = chrono::Utc::now();
    let filter = QueueFilter::from_query(kind.as_deref(), status.as_deref(), due.as_deref());
    let rows = requests::open::queue_with_names(&c.portal, c.by(), &filter, now).await?;
    Ok(rows
        .into_iter()
        .map(|(r, name)| QueueRow::new(r, name, now))
        .collect())
}

#[cfg(feature = "ssr")]
impl QueueRow {
    fn new(
        r: portal_core::requests::Request,
        customer_name: Option<String>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Self {
        QueueRow {
            id: r.id,
            customer: r.customer,
            customer_name,
            kind: r.kind,
            status: r.status,
            due_on: portal_core::requests::calendar::local_day(r.due_at),
            overdue: r.status.is_open() && r.due_at < now,
            assigned: r.assigned_staff,
        }
    }
}

/// A request's page.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RequestView {
    pub id: i64,
    pub customer: Option<i64>,
    pub customer_name: Option<String>,
    pub kind: Kind,
    pub status: Status,
    pub submitted_on: String,
    pub due_on: String,
    /// The day after the due date, and the latest it may be extended to (salon-local days).
    pub extend_window: (String, String),
    pub extended: bool,
    pub note: Option<String>,
    /// `(field, current value, proposed value, approved)`.
    pub corrections: Vec<(String, String, String, bool)>,
    pub decision_reason: Option<String>,
    pub outcome: Option<String>,
    pub recorded_by_me: bool,
    pub balance: Option<String>,
    /// `(date, from, to, note)`.
    pub history: Vec<(String, String, String, String)>,
}

/// Opens a request; reading the customer's name and, for a correction, their current values is
/// audited.
#[server]
pub async fn request_detail(id: i64, lang: crate::Lang) -> Result<RequestView, PortalError> {
    use portal_core::{access::Action, requests};
    let c = gate::require(Action::ViewRequests).await?;
    let now = chrono::Utc::now();
    let o = requests::open::open(&c.portal, c.member.id, c.member.role, id, now).await?;
    Ok(RequestView::new(o, c.member.id, lang))
}

#[cfg(feature = "ssr")]
impl RequestView {
    /// The page's view of an opened request; `me` is the member of staff reading it, in `lang`.
    fn new(o: portal_core::requests::open::OpenedRequest, me: i64, lang: crate::Lang) -> Self {
        let day = portal_core::requests::calendar::local_day;
        let (r, d) = (o.request, o.details);
        RequestView {
            id: r.id,
            customer: r.customer,
            customer_name: o.customer_name,
            kind: r.kind,
            status: r.status,
            submitted_on: day(r.submitted_at),
            due_on: day(r.due_at),
            extend_window: (
                day(r.due_at + chrono::Duration::days(1)),
                day(portal_core::requests::latest_extension(r.due_at)),
            ),
            extended: r.extended_at.is_some(),
            note: d.note,
            corrections: o
                .corrections
                .into_iter()
                .map(|c| (c.field, c.old, c.new, c.approved))
                .collect(),
            decision_reason: r.decision_reason.or(r.extension_reason),
            outcome: r
                .outcome
                .map(|o| portal_core::requests::outcome_text(&o, lang)),
            recorded_by_me: r.submitted_by_staff == Some(me),
            balance: o
                .balance_cents
                .map(|cents| portal_vocab::Cents(cents).to_string()),
            history: o
                .history
                .into_iter()
                .map(|e| {
                    (
                        day(e.at),
                        e.from.unwrap_or_default(),
                        e.to,
                        e.note.unwrap_or_default(),
                    )
                })
                .collect(),
        }
    }
}

/// A decision: `review`, `approve`, `deny`, `answer`, `extend` (with `new_due`), `assign`.
#[server]
pub async fn decide_request(
    id: i64,
    #[server(flatten)] form: portal_vocab::forms::Decision,
) -> Result<(), PortalError> {
    use portal_core::{access::Action, requests::decide};
    let c = gate::require(Action::DecideRequest).await?;
    let done = decide::decide_form(&c.portal, c.member.id, id, &form, chrono::Utc::now()).await;
    gate::back(&format!("/staff/requests/{id}?{}", after_decision(done)?))
}

/// The request page's note after a decision: what was done, or the refusal's key.
#[cfg(feature = "ssr")]
fn after_decision(
    done: Result<&'static str, portal_core::CoreError>,
) -> Result<String, PortalError> {
    use portal_core::CoreError;
    match done {
        Ok(code) => Ok(format!("done={code}")),
        Err(e @ (CoreError::Invalid(_) | CoreError::Refused(_))) => {
            let key = e.key().unwrap_or_default();
            Ok(format!("error={}", key.trim_start_matches("request.")))
        }
        Err(e) => Err(e.into()),
    }
}

/// Front desk records a request the customer made in person (audited inside the request's own
/// transaction, submitted by staff).
#[server]
pub async fn record_request(
    customer: i64,
    kind: String,
    note: Option<String>,
) -> Result<(), PortalError> {
    use super::customers::RecordNote;
    use portal_core::{access::Action, requests};
    let c = gate::require(Action::RecordRequest).await?;
    let now = chrono::Utc::now();
    let done = requests::staff_records(&c.portal, c.member.id, customer, &kind, note, now).await;
    match done {
        Ok(s) => gate::back(&format!("/staff/requests/{}", s.id)),
        Err(e) => RecordNote::of(Err::<(), _>(e), |()| RecordNote::Invalid)?.back(customer),
    }
}

/// `/staff/requests`: the queue with its filters (a GET form: kinds and states only).
#[component]
pub fn QueuePage() -> impl IntoView {
    let t = use_texts().staff;
    let q = use_query_map();
    let rows = Resource::new(
        move || {
            let q = q.read();
            (q.get("kind"), q.get("status"), q.get("due"))
        },
        |(k, s, d)| request_queue(k, s, d),
    );
    crate::loaded(rows, move |rows| {
        view! {
            <section class="card">
                <h1>{t.queue_title}</h1>
                <form method="get" action="/staff/requests" class="filters">
                    // Each label sits over its own select, so the columns line up.
                    <div class="filter">
                        <label for="f-kind">{t.kind}</label>
                        <select id="f-kind" name="kind">
                            <option value="">{t.all}</option>
                            {Kind::ALL.map(|k| view! { <option value=k.as_str()>{t.kind_names.get(k)}</option> }).collect_view()}
                        </select>
                    </div>
                    <div class="filter">
                        <label for="f-status">{t.status}</label>
                        <select id="f-status" name="status">
                            <option value="">{t.open_states}</option>
                            {Status::ALL.map(|s| view! { <option value=s.as_str()>{t.status_names.get(s)}</option> }).collect_view()}
                        </select>
                    </div>
                    <div class="filter">
                        <label for="f-due">{t.due}</label>
                        <select id="f-due" name="due">
                            <option value="">{t.all}</option>
                            <option value="soon">{t.due_soon}</option>
                            <option value="overdue">{t.overdue}</option>
                        </select>
                    </div>
                    <button type="submit" class="button">{t.filter_button}</button>
                </form>
                <table class="table">
                    <thead><tr><th>"#"</th><th>{t.kind}</th><th>{t.status}</th><th>{t.due}</th><th>{t.customer}</th></tr></thead>
                    <tbody>
                        {rows.into_iter().map(|r| view! {
                            <tr class=if r.overdue { "overdue" } else { "" } data-request=r.id>
                                <td><A href=format!("/staff/requests/{}", r.id)>{r.id}</A></td>
                                <td>{t.kind_names.get(r.kind)}</td>
                                <td>{t.status_names.get(r.status)}</td>
                                <td>{r.due_on}{r.overdue.then(|| view! { " "<span class="tag">{t.overdue}</span> })}</td>
                                <td>{match (r.customer, r.customer_name) {
                                    (None, _) => t.customer_erased.to_owned(),
                                    (Some(_), Some(name)) => name,
                                    (Some(c), None) => format!("#{c}"),
                                }}</td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
            </section>
        }.into_any()
    })
}

fn status_name(s: &str) -> &'static str {
    Status::parse(s).map_or("", |s| use_texts().staff.status_names.get(s))
}

/// `/staff/requests/{id}`.
#[component]
pub fn RequestPage() -> impl IntoView {
    let params = use_params_map();
    let q = use_query_map();
    let t = use_texts().staff;
    let lang = use_context::<crate::Site>()
        .map(|s| s.lang)
        .unwrap_or_default();
    let r = Resource::new(
        move || params.read().get("id").and_then(|s| s.parse::<i64>().ok()),
        move |id| async move {
            match id {
                Some(id) => request_detail(id, lang).await,
                None => Err(PortalError::NotFound),
            }
        },
    );
    let banner = move || {
        let q = q.read();
        q.get("done").map(|_| t.saved).or_else(|| {
            q.get("error").map(|e| match e.as_str() {
                "own" => t.request_own,
                "balance" => t.request_balance,
                "reason" => t.request_reason,
                "extended" | "extension" => t.request_extension,
                "settle" => t.request_settle,
                _ => t.invalid_input,
            })
        })
    };
    crate::loaded(r, move |r| {
        view! {
            {move || banner().map(|b| view! { <p class="banner" role="status">{b}</p> })}
            <RequestBody r=r/>
        }
    })
}

#[component]
fn RequestBody(r: RequestView) -> impl IntoView {
    let t = use_texts().staff;
    let may_decide = super::use_me().may(portal_vocab::Action::DecideRequest) && !r.recorded_by_me;
    let open = matches!(r.status, Status::Submitted | Status::InReview);
    let id = r.id;
    let is_question = r.kind == Kind::Question;
    let is_correction = r.kind == Kind::Correction;
    view! {
        <section class="card">
            <h1>{format!("#{} · {}", r.id, t.kind_names.get(r.kind))}</h1>
            <dl class="facts">
                <dt>{t.status}</dt><dd data-field="status">{t.status_names.get(r.status)}</dd>
                <dt>{t.customer}</dt><dd data-field="customer">{match r.customer {
                    Some(c) => view! {
                        <A href=format!("/staff/customers/{c}")>{r.customer_name.clone().unwrap_or_default()}</A>
                    }.into_any(),
                    None => t.customer_erased.into_any(),
                }}</dd>
                <dt>{t.submitted}</dt><dd>{r.submitted_on.clone()}</dd>
                <dt>{t.due}</dt><dd>{r.due_on.clone()}</dd>
                {r.balance.clone().map(|b| view! { <dt>{t.balance}</dt><dd data-field="balance">{b}</dd> })}
            </dl>
            {r.note.clone().map(|n| view! { <p class="note">{n}</p> })}
            {(!r.corrections.is_empty()).then(|| view! {
                <table class="table">
                    <thead><tr><th></th><th>{t.current_value}</th><th>{t.proposed_value}</th></tr></thead>
                    <tbody>
                        {r.corrections.clone().into_iter().map(|(f, old, new, _)| view! {
                            <tr><td>{(t.correction_field)(&f)}</td><td>{old}</td><td>{new}</td></tr>
                        }).collect_view()}
                    </tbody>
                </table>
            })}
            {r.decision_reason.clone().map(|x| view! { <p>{t.reason}": "{x}</p> })}
            {r.outcome.clone().map(|x| view! { <p>{t.outcome}": "{x}</p> })}
        </section>
        {(may_decide && open).then(|| view! {
            <section class="card">
                <h2>{t.decide}</h2>
                {(r.status == Status::Submitted).then(|| view! {
                    <form method="post" action=DecideRequest::PATH class="inline-form">
                        <input type="hidden" name="id" value=id/>
                        <input type="hidden" name="decision" value="review"/>
                        <button type="submit" class="button">{t.start_review}</button>
                    </form>
                })}
                <form method="post" action=DecideRequest::PATH class="inline-form">
                    <input type="hidden" name="id" value=id/>
                    <input type="hidden" name="decision" value="assign"/>
                    <button type="submit" class="link">{t.assign_me}</button>
                </form>
                {r.balance.clone().filter(|b| b != "¥0.00").map(|b| view! {
                    <form method="post" action=DecideRequest::PATH data-form="settle">
                        <input type="hidden" name="id" value=id/>
                        <input type="hidden" name="decision" value="settle"/>
                        // The amount the officer sees travels with the form: a balance that
                        // changed meanwhile is refused rather than settled unseen.
                        <input type="hidden" name="settle_amount" value=b.trim_start_matches('¥').to_owned()/>
                        <p>{(t.settle_intro)(&b)}</p>
                        <label for="settle-method">{t.settle_method}</label>
                        <select id="settle-method" name="settle_method" required>
                            <option value="cash">{t.settle_cash}</option>
                            <option value="transfer">{t.settle_transfer}</option>
                            <option value="other">{t.settle_other}</option>
                        </select>
                        <label class="check">
                            <input type="checkbox" name="settle_confirm" value="on" required/>
                            {(t.settle_confirm)(&b)}
                        </label>
                        <button type="submit" class="button">{t.settle}</button>
                    </form>
                })}
                {(!is_question).then(|| view! {
                    <form method="post" action=DecideRequest::PATH>
                        <input type="hidden" name="id" value=id/>
                        <input type="hidden" name="decision" value="approve"/>
                        {is_correction.then(|| r.corrections.clone().into_iter().map(|(f, _, _, _)| view! {
                            <label class="check"><input type="checkbox" name=format!("apply_{f}") value="on"/>{format!("{} {}", t.apply, (t.correction_field)(&f))}</label>
                        }).collect_view())}
                        <button type="submit" class="button">{t.approve}</button>
                    </form>
                })}
                // Answering is a question's main step; denying is not, and stays folded until
                // chosen, in the danger colour.
                {if is_question {
                    view! {
                        <form method="post" action=DecideRequest::PATH>
                            <input type="hidden" name="id" value=id/>
                            <input type="hidden" name="decision" value="answer"/>
                            <label for="reason">{t.answer_label}</label>
                            <textarea id="reason" name="reason" required maxlength="2000" rows="3"></textarea>
                            <button type="submit" class="button">{t.answer}</button>
                        </form>
                    }.into_any()
                } else {
                    view! {
                        <details class="decision" data-decision="deny">
                            <summary class="button secondary">{t.deny}"…"</summary>
                            <form method="post" action=DecideRequest::PATH>
                                <input type="hidden" name="id" value=id/>
                                <input type="hidden" name="decision" value="deny"/>
                                <label for="reason">{t.deny_reason}</label>
                                <textarea id="reason" name="reason" required maxlength="2000" rows="3"></textarea>
                                <button type="submit" class="button danger">{t.deny}</button>
                            </form>
                        </details>
                    }.into_any()
                }}
                {(!r.extended).then(|| {
                    let (first, last) = r.extend_window.clone();
                    view! {
                        <details class="decision" data-decision="extend">
                            <summary class="button secondary">{t.extend}"…"</summary>
                            <form method="post" action=DecideRequest::PATH>
                                <input type="hidden" name="id" value=id/>
                                <input type="hidden" name="decision" value="extend"/>
                                <label for="new_due">{t.new_due}</label>
                                <p class="muted" id="new-due-hint">{(t.extend_window)(&r.due_on, &last)}</p>
                                <input id="new_due" name="new_due" type="date" required min=first max=last.clone() aria-describedby="new-due-hint"/>
                                <label for="ext-reason">{t.extend_reason}</label>
                                <input id="ext-reason" name="reason" type="text" required maxlength="2000"/>
                                <button type="submit" class="button secondary">{t.extend}</button>
                            </form>
                        </details>
                    }
                })}
            </section>
        })}
        <section class="card">
            <h2>{t.history}</h2>
            <ul class="lines">
                {r.history.clone().into_iter().map(|(d, from, to, note)| view! {
                    <li><span class="muted">{d}</span>" "{status_name(&from)}" → "{status_name(&to)}" "{note}</li>
                }).collect_view()}
            </ul>
        </section>
    }
}
