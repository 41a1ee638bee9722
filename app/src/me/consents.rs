//! `/me/consents`: one switch per purpose, off until turned on; a change applies at once, is
//! confirmed, and is listed in the history. Sensitive notes and photo purposes need a separate,
//! explicit confirmation before they turn on.

use leptos::{prelude::*, server_fn::ServerFn};
use leptos_router::hooks::use_query_map;
use portal_vocab::Purpose;
use serde::{Deserialize, Serialize};

use crate::{PortalError, use_texts};

/// The switches and their history.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConsentsView {
    /// `(purpose code, on)`, in display order.
    pub states: Vec<(String, bool)>,
    /// `(date, purpose code, on, channel)`, newest first.
    pub history: Vec<(String, String, bool, String)>,
}

/// The signed-in customer's switches.
#[server]
pub async fn my_consents() -> Result<ConsentsView, PortalError> {
    use portal_core::{consents, requests};
    let (p, id, _) = crate::signin::ssr::customer("/me/consents").await?;
    let cal = requests::calendar(&p);
    Ok(ConsentsView {
        states: consents::states(&p.db, id)
            .await?
            .into_iter()
            .map(|(x, on)| (x.code().to_owned(), on))
            .collect(),
        history: consents::history(&p.db, id)
            .await?
            .into_iter()
            .map(|e| {
                (
                    cal.local_date(e.at).format("%Y-%m-%d").to_string(),
                    e.purpose.code().to_owned(),
                    e.granted,
                    e.channel,
                )
            })
            .collect(),
    })
}

/// Turns one switch on or off, at once, as an event in the ledger naming the current notice.
#[server]
pub async fn set_consent(
    purpose: String,
    on: String,
    confirm: Option<String>,
) -> Result<(), PortalError> {
    use portal_core::consents::{self, Switched};
    let (p, id, _) = crate::signin::ssr::customer("/me/consents").await?;
    let Ok(purpose) = Purpose::parse(&purpose) else {
        leptos_axum::redirect("/me/consents?error=invalid");
        return Ok(());
    };
    let now = chrono::Utc::now();
    let to = match consents::customer_switch(&p, id, purpose, on == "1", confirm.is_some(), now)
        .await?
    {
        Switched::NeedsConfirmation => format!("confirm={}", purpose.code()),
        Switched::Unchanged => "done=unchanged".to_owned(),
        Switched::On => "done=on".to_owned(),
        Switched::Off => "done=off".to_owned(),
    };
    leptos_axum::redirect(&format!("/me/consents?{to}"));
    Ok(())
}

/// `/me/consents`.
#[component]
pub fn ConsentsPage() -> impl IntoView {
    let all = use_texts();
    let t = all.me;
    let q = use_query_map();
    let data = Resource::new(|| (), |_| my_consents());
    let name = move |code: &str| Purpose::parse(code).map_or("", |p| t.purpose_names.get(p));
    crate::loaded(data, move |d| {
        let asking = q.read().get("confirm");
        view! {
            <section class="card">
                <h1>{t.consents}</h1>
                <p class="muted">{t.consents_intro}</p>
                {move || {
                    let q = q.read();
                    q.get("done").map(|d| match d.as_str() { "on" => t.consent_on_done, "off" => t.consent_off_done, _ => t.consent_unchanged })
                        .or_else(|| q.get("error").map(|_| t.bad_request))
                        .map(|m| view! { <p class="banner" role="status">{m}</p> })
                }}
                <ul class="switches">
                    {d.states.into_iter().map(|(code, on)| {
                        let explain = Purpose::parse(&code).map_or("", |p| t.purpose_explanations.get(p));
                        let needs = Purpose::parse(&code).is_ok_and(Purpose::needs_explicit_confirmation);
                        let confirming = asking.as_deref() == Some(code.as_str());
                        view! {
                            <li data-purpose=code.clone() data-on=on.to_string()>
                                <h2>{name(&code)}</h2>
                                <p class="muted">{explain}</p>
                                <p><strong>{if on { t.on } else { t.off }}</strong></p>
                                <form method="post" action=SetConsent::PATH>
                                    <input type="hidden" name="purpose" value=code.clone()/>
                                    <input type="hidden" name="on" value=if on { "0" } else { "1" }/>
                                    {(needs && !on).then(|| view! {
                                        <label class="check">
                                            <input type="checkbox" name="confirm" value="yes" required=confirming/>
                                            {t.consent_confirm}
                                        </label>
                                    })}
                                    {confirming.then(|| view! { <p class="banner" role="alert">{t.consent_confirm_needed}</p> })}
                                    <button type="submit" class="button">{if on { t.turn_off } else { t.turn_on }}</button>
                                </form>
                            </li>
                        }
                    }).collect_view()}
                </ul>
            </section>
            <section class="card" data-section="history">
                <h2>{t.consent_history}</h2>
                <ul class="lines">
                    {d.history.into_iter().map(|(date, code, on, channel)| view! {
                        <li><span class="muted">{date}</span>" "{name(&code)}": "{if on { t.on } else { t.off }}" ("{super::channel_name(t, &channel)}")"</li>
                    }).collect_view()}
                </ul>
            </section>
        }.into_any()
    })
}
