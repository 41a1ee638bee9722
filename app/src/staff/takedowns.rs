//! `/staff/takedowns`: photos that must come down from the portfolio or a social platform
//! because the customer withdrew the use, its end date passed, the photo purpose was switched
//! off, or the customer was erased. A task names the photo's number and date and the platform,
//! nothing of the customer, so marketing can work it without seeing a profile.

use leptos::{prelude::*, server_fn::ServerFn};
use leptos_router::hooks::use_query_map;
use serde::{Deserialize, Serialize};

use crate::{PortalError, use_texts};

#[cfg(feature = "ssr")]
use super::gate;

/// One task as the queue shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TakedownRow {
    /// Task id.
    pub id: i64,
    /// The photo's number.
    pub photo: i64,
    /// Local date the photo was taken.
    pub taken: String,
    /// Use code (`portfolio`, `social:wechat`, …).
    pub used: String,
    /// `changed`, `lapsed`, `consent_off` or `erased`.
    pub reason: String,
    /// Local date the task was opened.
    pub opened: String,
    /// Local date it was done.
    pub done: Option<String>,
}

/// Open tasks (oldest first), then recently done ones.
#[server]
pub async fn takedown_list() -> Result<Vec<TakedownRow>, PortalError> {
    use portal_core::{access::Action, photos};
    let c = gate::require(Action::ProcessTakedowns).await?;
    let tasks = photos::takedowns(&c.portal.db).await?;
    Ok(tasks.into_iter().map(TakedownRow::new).collect())
}

#[cfg(feature = "ssr")]
impl TakedownRow {
    fn new(x: portal_core::photos::Takedown) -> Self {
        use portal_core::requests::calendar::local_day as day;
        TakedownRow {
            id: x.id,
            photo: x.photo_ref,
            taken: day(x.photo_taken_at),
            used: x.used.code(),
            reason: x.reason,
            opened: day(x.created_at),
            done: x.done_at.map(day),
        }
    }
}

/// Marks a task done (audited).
#[server]
pub async fn complete_takedown(id: i64) -> Result<(), PortalError> {
    use portal_core::{CoreError, access::Action, photos};
    let c = gate::require(Action::ProcessTakedowns).await?;
    match photos::staff_completes_takedown(&c.portal, c.by(), id, chrono::Utc::now()).await {
        Ok(()) => gate::back("/staff/takedowns?done=1"),
        Err(CoreError::NotFound) => gate::back("/staff/takedowns?error=invalid"),
        Err(e) => Err(e.into()),
    }
}

/// `/staff/takedowns`.
#[component]
pub fn TakedownsPage() -> impl IntoView {
    let all = use_texts();
    let t = all.staff;
    let m = all.me;
    let q = use_query_map();
    let list = Resource::new(|| (), |_| takedown_list());
    let use_name = move |code: &str| crate::me::photos::use_name_of(m, code);
    let reason = move |r: &str| t.takedown_reasons.get(r);
    crate::loaded(list, move |list| {
        let (open, done): (Vec<_>, Vec<_>) = list.into_iter().partition(|x| x.done.is_none());
        view! {
            {move || {
                let q = q.read();
                q.get("done").map(|_| t.saved).or_else(|| q.get("error").map(|_| t.invalid_input))
                    .map(|m| view! { <p class="banner" role="status">{m}</p> })
            }}
            <section class="card">
                <h1>{t.takedowns_title}</h1>
                <p class="muted">{t.takedowns_intro}</p>
                {open.is_empty().then(|| view! { <p class="muted">{t.takedowns_none}</p> })}
                <ul class="lines" data-list="open">
                    {open.into_iter().map(|x| view! {
                        <li data-task=x.id.to_string() data-use=x.used.clone()>
                            <strong>{t.takedown_photo}" #"{x.photo}</strong>
                            " ("{x.taken}") · "{use_name(&x.used)}" · "{reason(&x.reason)}
                            <span class="muted">" · "{x.opened}</span>
                            <form method="post" action=CompleteTakedown::PATH>
                                <input type="hidden" name="id" value=x.id.to_string()/>
                                <button type="submit" class="button">{t.takedown_mark_done}</button>
                            </form>
                        </li>
                    }).collect_view()}
                </ul>
            </section>
            <section class="card">
                <h2>{t.takedowns_done}</h2>
                <ul class="lines" data-list="done">
                    {done.into_iter().map(|x| view! {
                        <li data-task=x.id.to_string()>
                            {t.takedown_photo}" #"{x.photo}" · "{use_name(&x.used)}" · "{reason(&x.reason)}
                            <span class="muted">" · "{x.done.unwrap_or_default()}</span>
                        </li>
                    }).collect_view()}
                </ul>
            </section>
        }.into_any()
    })
}
