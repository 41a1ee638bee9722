//! The privacy officer's sharing register and the tasks to pass corrections and deletions on to
//! each recipient, tracked to done.

use leptos::{prelude::*, server_fn::ServerFn};
use leptos_router::{components::A, hooks::use_query_map};
use serde::{Deserialize, Serialize};

use crate::{PortalError, use_texts};
use portal_vocab::{Identifier, Kind};

#[cfg(feature = "ssr")]
use super::gate;

/// One recipient of the register, in the page's language.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RecipientRow {
    pub id: i64,
    pub name: String,
    pub data: String,
    pub purpose: String,
    /// What it is given that identifies a customer.
    pub identifiers: Vec<Identifier>,
}

/// One pass-on task.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TaskRow {
    pub id: i64,
    pub request: i64,
    pub kind: Kind,
    pub recipient: String,
    pub open: bool,
    /// The salon-local day it was marked done.
    pub confirmed_on: Option<String>,
}

/// The register and the tasks.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SharingRegister {
    pub recipients: Vec<RecipientRow>,
    pub tasks: Vec<TaskRow>,
}

/// Reads the register and every task.
#[server]
pub async fn sharing_view(lang: crate::Lang) -> Result<SharingRegister, PortalError> {
    use portal_core::{access::Action, mydata, sharing};
    let c = gate::require(Action::ManageSharing).await?;
    let recipients = mydata::third_parties(&c.portal.db).await?;
    let tasks = sharing::tasks(&c.portal.db, false).await?;
    Ok(SharingRegister::new(recipients, tasks, lang))
}

#[cfg(feature = "ssr")]
impl TaskRow {
    fn new(t: portal_core::sharing::Task) -> Self {
        TaskRow {
            id: t.id,
            request: t.request,
            kind: t.kind,
            recipient: t.recipient,
            open: t.status == "open",
            confirmed_on: t
                .confirmed_at
                .map(portal_core::requests::calendar::local_day),
        }
    }
}

#[cfg(feature = "ssr")]
impl SharingRegister {
    fn new(
        recipients: Vec<portal_core::mydata::ThirdParty>,
        tasks: Vec<portal_core::sharing::Task>,
        lang: crate::Lang,
    ) -> Self {
        let recipients = recipients
            .into_iter()
            .map(|t| {
                let (data, purpose) = match lang {
                    crate::Lang::Zh => (t.data_zh, t.purpose_zh),
                    crate::Lang::En => (t.data_en, t.purpose_en),
                };
                RecipientRow {
                    id: t.id,
                    name: t.name,
                    data,
                    purpose,
                    identifiers: t.identifiers,
                }
            })
            .collect();
        let tasks = tasks.into_iter().map(TaskRow::new).collect();
        SharingRegister { recipients, tasks }
    }
}

/// One task with what its recipient needs to find the record.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PassOnTask {
    pub task: TaskRow,
    /// `(identifier, value as the recipient knows it, corrected value)`; empty once destroyed.
    pub found: Vec<(Identifier, String, Option<String>)>,
    /// Whether the task ever held identifiers (so an empty list means destroyed, not none).
    pub had_identifiers: bool,
}

/// Reads one task with its identifiers; the view is audited.
#[server]
pub async fn task_view(id: i64) -> Result<PassOnTask, PortalError> {
    use portal_core::{access::Action, sharing};
    let c = gate::require(Action::ViewPassOnIdentifiers).await?;
    let d = sharing::officer_views(&c.portal, c.by(), id, chrono::Utc::now()).await?;
    Ok(PassOnTask::new(d))
}

#[cfg(feature = "ssr")]
impl PassOnTask {
    fn new(d: portal_core::sharing::TaskDetail) -> Self {
        let had_identifiers = d.had_identifiers;
        PassOnTask {
            task: TaskRow::new(d.task),
            found: d
                .found
                .into_iter()
                .map(|f| (f.identifier, f.value, f.corrected))
                .collect(),
            had_identifiers,
        }
    }
}

/// Adds a recipient.
#[server]
pub async fn add_recipient(
    #[server(flatten)] r: portal_vocab::forms::Recipient,
) -> Result<(), PortalError> {
    use portal_core::{access::Action, sharing};
    let c = gate::require(Action::ManageSharing).await?;
    let done = sharing::officer_adds(&c.portal, c.by(), &r, chrono::Utc::now()).await;
    crate::settle(
        done,
        "/staff/sharing?done=saved",
        "/staff/sharing?error=invalid",
    )
}

/// Sets which identifiers a recipient is given.
#[server]
pub async fn set_identifiers(
    recipient: i64,
    #[server(flatten)] form: portal_vocab::forms::Identifiers,
) -> Result<(), PortalError> {
    use portal_core::{access::Action, sharing};
    let c = gate::require(Action::ManageSharing).await?;
    let now = chrono::Utc::now();
    let done = sharing::officer_sets_identifiers(&c.portal, c.by(), recipient, &form, now).await;
    crate::settle(
        done,
        "/staff/sharing?done=saved",
        "/staff/sharing?error=invalid",
    )
}

/// Marks a task done: the recipient has applied the correction or deletion.
#[server]
pub async fn confirm_task(task: i64) -> Result<(), PortalError> {
    use portal_core::{access::Action, sharing};
    let c = gate::require(Action::ManageSharing).await?;
    let done = sharing::officer_confirms(&c.portal, c.by(), task, chrono::Utc::now()).await;
    crate::settle(
        done,
        "/staff/sharing?done=saved",
        "/staff/sharing?error=invalid",
    )
}

/// The confirm-done button of an open task.
#[component]
fn ConfirmButton(id: i64) -> impl IntoView {
    let t = use_texts().staff;
    view! {
        <form method="post" action=ConfirmTask::PATH class="inline-form">
            <input type="hidden" name="task" value=id/>
            <button type="submit" class="link">{t.task_confirm}</button>
        </form>
    }
}

/// `/staff/sharing`.
#[component]
pub fn SharingPage() -> impl IntoView {
    let t = use_texts().staff;
    let q = use_query_map();
    let lang = use_context::<crate::Site>()
        .map(|s| s.lang)
        .unwrap_or_default();
    let view_ = Resource::new(|| (), move |_| sharing_view(lang));
    let names = move |ids: &[Identifier]| {
        ids.iter()
            .map(|&i| t.identifier_names.get(i))
            .collect::<Vec<_>>()
            .join(if lang == crate::Lang::Zh { "、" } else { ", " })
    };
    crate::loaded(view_, move |v| {
        view! {
            {move || {
                let q = q.read();
                q.get("done").map(|_| t.saved).or_else(|| q.get("error").map(|_| t.invalid_input))
                    .map(|m| view! { <p class="banner" role="status">{m}</p> })
            }}
            <section class="card">
                <h1>{t.sharing_title}</h1>
                <table class="table">
                    <thead><tr><th>{t.recipient}</th><th>{t.data_shared}</th><th>{t.identifiers_given}</th><th>{t.purpose}</th></tr></thead>
                    <tbody>
                        {v.recipients.into_iter().map(|r| {
                            let given = r.identifiers.clone();
                            view! {
                                <tr data-recipient=r.id>
                                    <td>{r.name}</td><td>{r.data}</td>
                                    <td>
                                        {names(&r.identifiers)}
                                        // What this recipient is given, changeable (entries made
                                        // before the register recorded it name nothing).
                                        <details>
                                            <summary>{t.identifiers_change}</summary>
                                            <form method="post" action=SetIdentifiers::PATH>
                                                <input type="hidden" name="recipient" value=r.id/>
                                                {Identifier::ALL.map(|i| view! {
                                                    <label class="check">
                                                        <input type="checkbox" name=format!("gives_{}", i.code()) value="on" checked=given.contains(&i)/>
                                                        {t.identifier_names.get(i)}
                                                    </label>
                                                }).collect_view()}
                                                <button type="submit" class="button secondary">{t.save}</button>
                                            </form>
                                        </details>
                                    </td>
                                    <td>{r.purpose}</td>
                                </tr>
                            }
                        }).collect_view()}
                    </tbody>
                </table>
            </section>
            <section class="card">
                <h2>{t.tasks_title}</h2>
                <table class="table">
                    <thead><tr><th>{t.nav_requests}</th><th>{t.recipient}</th><th>{t.status}</th><th></th></tr></thead>
                    <tbody>
                        {v.tasks.into_iter().map(|task| view! {
                            <tr data-task=task.id>
                                <td><A href=format!("/staff/requests/{}", task.request)>{format!("#{}", task.request)}</A>" "{t.kind_names.get(task.kind)}</td>
                                <td>{task.recipient}</td>
                                <td>{if task.open { t.task_open.to_owned() } else { format!("{} {}", t.task_done, task.confirmed_on.unwrap_or_default()) }}</td>
                                <td>{task.open.then(|| view! {
                                    <A href=format!("/staff/sharing/tasks/{}", task.id)>{t.task_show}</A>
                                })}</td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
            </section>
            <section class="card">
                <h2>{t.add_recipient}</h2>
                <form method="post" action=AddRecipient::PATH>
                    <label for="tp-name">{t.recipient}</label>
                    <input id="tp-name" name="name" type="text" required maxlength="100"/>
                    <label for="tp-dzh">{t.data_shared}" (中文)"</label>
                    <input id="tp-dzh" name="data_zh" type="text" required maxlength="500"/>
                    <label for="tp-den">{t.data_shared}" (English)"</label>
                    <input id="tp-den" name="data_en" type="text" required maxlength="500"/>
                    <fieldset>
                        <legend>{t.identifiers_given}</legend>
                        {Identifier::ALL.map(|i| view! {
                            <label class="check">
                                <input type="checkbox" name=format!("gives_{}", i.code()) value="on"/>
                                {t.identifier_names.get(i)}
                            </label>
                        }).collect_view()}
                    </fieldset>
                    <label for="tp-pzh">{t.purpose}" (中文)"</label>
                    <input id="tp-pzh" name="purpose_zh" type="text" required maxlength="500"/>
                    <label for="tp-pen">{t.purpose}" (English)"</label>
                    <input id="tp-pen" name="purpose_en" type="text" required maxlength="500"/>
                    <button type="submit" class="button">{t.save}</button>
                </form>
            </section>
        }.into_any()
    })
}

/// `/staff/sharing/tasks/:id`: one task, with what its recipient needs to find the record.
#[component]
pub fn TaskPage() -> impl IntoView {
    let t = use_texts().staff;
    let params = leptos_router::hooks::use_params_map();
    let task = Resource::new(
        move || params.read().get("id").and_then(|s| s.parse::<i64>().ok()),
        |id| async move {
            match id {
                Some(id) => task_view(id).await,
                None => Err(PortalError::NotFound),
            }
        },
    );
    crate::loaded(task, move |v| {
        let PassOnTask {
            task,
            found,
            had_identifiers,
        } = v;
        let status = if task.open {
            t.task_open.to_owned()
        } else {
            format!(
                "{} {}",
                t.task_done,
                task.confirmed_on.clone().unwrap_or_default()
            )
        };
        let body = if !found.is_empty() {
            view! {
                <p>{t.task_find_by}</p>
                <dl class="facts" data-field="identifiers">
                    {found.into_iter().map(|(i, value, corrected)| view! {
                        <dt>{t.identifier_names.get(i)}</dt>
                        <dd>{value}{corrected.map(|c| view! { " → "{t.task_corrected_to}" "<strong>{c}</strong> })}</dd>
                    }).collect_view()}
                </dl>
                <p class="muted">{t.task_audited}</p>
            }.into_any()
        } else if had_identifiers {
            view! { <p class="muted">{t.task_identifiers_gone}</p> }.into_any()
        } else {
            view! { <p class="muted">{t.task_no_identifiers}</p> }.into_any()
        };
        view! {
            <section class="card">
                <h1>{format!("{} · {}", t.task_title, task.recipient)}</h1>
                <dl class="facts">
                    <dt>{t.nav_requests}</dt>
                    <dd><A href=format!("/staff/requests/{}", task.request)>{format!("#{}", task.request)}</A>" "{t.kind_names.get(task.kind)}</dd>
                    <dt>{t.status}</dt><dd>{status}</dd>
                </dl>
                {body}
                {task.open.then(|| view! { <ConfirmButton id=task.id/> })}
                <p><A href="/staff/sharing">{t.sharing_title}</A></p>
            </section>
        }.into_any()
    })
}
