//! The privacy officer sets the retention rules, sees what they would do now, and switches them
//! on; the portal then applies them once a day.

use leptos::{prelude::*, server_fn::ServerFn};
use leptos_router::hooks::use_query_map;
use serde::{Deserialize, Serialize};

use crate::{PortalError, use_texts};

#[cfg(feature = "ssr")]
use super::gate;

/// The rules and their preview.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RetentionState {
    pub enabled: bool,
    pub inactive_months: u32,
    pub notice_days: u32,
    pub request_years: u32,
    pub to_notify: usize,
    pub to_delete: usize,
    pub requests_to_purge: usize,
}

/// Reads the rules and what they would do now (changes nothing).
#[server]
pub async fn retention_view() -> Result<RetentionState, PortalError> {
    use portal_core::{access::Action, retention};
    let c = gate::require(Action::SetRetention).await?;
    let r = retention::rules(&c.portal.db).await?;
    let p = retention::preview(&c.portal, &r, chrono::Utc::now()).await?;
    Ok(RetentionState {
        enabled: r.enabled,
        inactive_months: r.inactive_months,
        notice_days: r.notice_days,
        request_years: r.request_years,
        to_notify: p.to_notify.len(),
        to_delete: p.to_delete.len(),
        requests_to_purge: p.requests_to_purge.len(),
    })
}

/// Saves the rules (with their audit row, in one transaction).
#[server]
pub async fn save_retention(
    #[server(flatten)] form: portal_vocab::forms::Retention,
) -> Result<(), PortalError> {
    use portal_core::{access::Action, retention};
    let c = gate::require(Action::SetRetention).await?;
    let done = retention::officer_saves(&c.portal, c.by(), &form, chrono::Utc::now()).await;
    crate::settle(
        done,
        "/staff/retention?done=saved",
        "/staff/retention?error=invalid",
    )
}

/// `/staff/retention`.
#[component]
pub fn RetentionPage() -> impl IntoView {
    let t = use_texts().staff;
    let q = use_query_map();
    let v = Resource::new(|| (), |_| retention_view());
    crate::loaded(v, move |v| {
        view! {
            {move || {
                let q = q.read();
                q.get("done").map(|_| t.saved).or_else(|| q.get("error").map(|_| t.retention_invalid))
                    .map(|m| view! { <p class="banner" role="status">{m}</p> })
            }}
            <section class="card">
                <h1>{t.retention_title}</h1>
                <p>{if v.enabled { t.retention_on } else { t.retention_off }}</p>
                <h2>{t.retention_preview}</h2>
                <dl class="figures">
                    <div><dt>{t.retention_notify}</dt><dd data-figure="notify">{v.to_notify}</dd></div>
                    <div><dt>{t.retention_delete}</dt><dd data-figure="delete">{v.to_delete}</dd></div>
                    <div><dt>{t.retention_purge}</dt><dd data-figure="purge">{v.requests_to_purge}</dd></div>
                </dl>
                <form method="post" action=SaveRetention::PATH>
                    <label for="r-months">{t.retention_months}</label>
                    <input id="r-months" name="inactive_months" inputmode="numeric" value=v.inactive_months.to_string() required/>
                    <label for="r-days">{t.retention_days}</label>
                    <input id="r-days" name="notice_days" inputmode="numeric" value=v.notice_days.to_string() required/>
                    <label for="r-years">{t.retention_years}</label>
                    <input id="r-years" name="request_years" inputmode="numeric" value=v.request_years.to_string() required/>
                    <label class="check"><input type="checkbox" name="enabled" value="on" checked=v.enabled/>{t.retention_enable}</label>
                    <button type="submit" class="button">{t.save}</button>
                </form>
            </section>
        }.into_any()
    })
}
