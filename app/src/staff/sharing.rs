//! The privacy officer's sharing register and the tasks to pass corrections and deletions on to
//! each recipient, tracked to done.

use leptos::{prelude::*, server_fn::ServerFn};
use leptos_router::{components::A, hooks::use_query_map};
use serde::{Deserialize, Serialize};

use crate::{PortalError, use_texts};

#[cfg(feature = "ssr")]
use super::gate;

/// The register and the tasks.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SharingRegister {
    /// `(name, data, purpose)` in the page's language.
    pub recipients: Vec<(String, String, String)>,
    /// `(task id, request id, kind, recipient, status, confirmed on)`.
    pub tasks: Vec<(i64, i64, String, String, String, Option<String>)>,
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
impl SharingRegister {
    fn new(
        recipients: Vec<portal_core::mydata::ThirdParty>,
        tasks: Vec<portal_core::sharing::Task>,
        lang: crate::Lang,
    ) -> Self {
        let recipients = recipients
            .into_iter()
            .map(|t| match lang {
                crate::Lang::Zh => (t.name, t.data_zh, t.purpose_zh),
                crate::Lang::En => (t.name, t.data_en, t.purpose_en),
            })
            .collect();
        let tasks = tasks
            .into_iter()
            .map(|t| {
                let confirmed = t
                    .confirmed_at
                    .map(portal_core::requests::calendar::local_day);
                (t.id, t.request, t.kind, t.recipient, t.status, confirmed)
            })
            .collect();
        SharingRegister { recipients, tasks }
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

/// `/staff/sharing`.
#[component]
pub fn SharingPage() -> impl IntoView {
    let t = use_texts().staff;
    let q = use_query_map();
    let lang = use_context::<crate::Site>()
        .map(|s| s.lang)
        .unwrap_or_default();
    let view_ = Resource::new(|| (), move |_| sharing_view(lang));
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
                    <thead><tr><th>{t.recipient}</th><th>{t.data_shared}</th><th>{t.purpose}</th></tr></thead>
                    <tbody>
                        {v.recipients.into_iter().map(|(n, d, p)| view! { <tr><td>{n}</td><td>{d}</td><td>{p}</td></tr> }).collect_view()}
                    </tbody>
                </table>
            </section>
            <section class="card">
                <h2>{t.tasks_title}</h2>
                <table class="table">
                    <thead><tr><th>{t.nav_requests}</th><th>{t.recipient}</th><th>{t.status}</th><th></th></tr></thead>
                    <tbody>
                        {v.tasks.into_iter().map(|(id, request, kind, who, status, on)| view! {
                            <tr data-task=id>
                                <td><A href=format!("/staff/requests/{request}")>{format!("#{request}")}</A>" "{kind}</td>
                                <td>{who}</td>
                                <td>{if status == "done" { format!("{} {}", t.task_done, on.unwrap_or_default()) } else { t.task_open.to_owned() }}</td>
                                <td>{(status == "open").then(|| view! {
                                    <form method="post" action=ConfirmTask::PATH class="inline-form">
                                        <input type="hidden" name="task" value=id/>
                                        <button type="submit" class="link">{t.task_confirm}</button>
                                    </form>
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
