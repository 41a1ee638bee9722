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
    /// `(purpose, on)`, in display order.
    pub states: Vec<(Purpose, bool)>,
    /// `(date, purpose, on, channel)`, newest first.
    pub history: Vec<(String, Purpose, bool, String)>,
}

/// The signed-in customer's switches.
#[server]
pub async fn my_consents() -> Result<ConsentsView, PortalError> {
    use portal_core::consents;
    let (p, id, _) = crate::signin::ssr::customer("/me/consents").await?;
    let day = portal_core::requests::calendar::local_day;
    let history = consents::history(&p.db, id).await?.into_iter();
    Ok(ConsentsView {
        states: consents::states(&p.db, id).await?,
        history: history
            .map(|e| (day(e.at), e.purpose, e.granted, e.channel))
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
    use portal_core::consents;
    let (p, id, _) = crate::signin::ssr::customer("/me/consents").await?;
    let Ok(purpose) = Purpose::parse(&purpose) else {
        return crate::back("/me/consents?error=invalid");
    };
    let (on, confirmed, now) = (on == "1", confirm.is_some(), chrono::Utc::now());
    let switched = consents::customer_switch(&p, id, purpose, on, confirmed, now).await?;
    crate::back(&after_switch(switched, purpose))
}

/// Where a switch leads: the page with its note, or the explicit tick for this purpose.
#[cfg(feature = "ssr")]
fn after_switch(switched: portal_core::consents::Switched, purpose: Purpose) -> String {
    use portal_core::consents::Switched;
    let done = match switched {
        Switched::NeedsConfirmation => return format!("/me/consents?confirm={}", purpose.code()),
        Switched::On => "on",
        Switched::Off => "off",
        Switched::Unchanged => "unchanged",
    };
    // The note names the purpose it changed: a phone's page is long, and the switch may be
    // off screen when it comes back.
    format!("/me/consents?done={done}&purpose={}", purpose.code())
}

/// `/me/consents`.
#[component]
pub fn ConsentsPage() -> impl IntoView {
    let all = use_texts();
    let t = all.me;
    let q = use_query_map();
    let data = Resource::new(|| (), |_| my_consents());
    crate::loaded(data, move |d| {
        let asking = q.read().get("confirm");
        view! {
            <section class="card">
                <h1>{t.consents}</h1>
                <p class="muted">{t.consents_intro}</p>
                {move || {
                    let q = q.read();
                    let named = q.get("purpose").and_then(|p| Purpose::parse(&p).ok()).map(|p| t.purpose_names.get(p));
                    q.get("done").map(|d| match d.as_str() { "on" => t.consent_on_done, "off" => t.consent_off_done, _ => t.consent_unchanged })
                        .map(|m| match named { Some(p) => (t.consent_named)(p, m), None => m.to_owned() })
                        .or_else(|| q.get("error").map(|_| t.bad_request.to_owned()))
                        .map(|m| view! { <p class="banner" role="status">{m}</p> })
                }}
                <ul class="switches">
                    {d.states.into_iter().map(|(purpose, on)| {
                        let code = purpose.code();
                        let needs = purpose.needs_explicit_confirmation();
                        let confirming = asking.as_deref() == Some(code);
                        view! {
                            <li data-purpose=code data-on=on.to_string()>
                                <h2>{t.purpose_names.get(purpose)}</h2>
                                <p class="muted">{t.purpose_explanations.get(purpose)}</p>
                                <p><strong>{if on { t.on } else { t.off }}</strong></p>
                                <form method="post" action=SetConsent::PATH>
                                    <input type="hidden" name="purpose" value=code/>
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
                    {d.history.into_iter().map(|(date, purpose, on, channel)| view! {
                        <li><span class="muted">{date}</span>" "{t.purpose_names.get(purpose)}": "{if on { t.on } else { t.off }}" ("{super::channel_name(t, &channel)}")"</li>
                    }).collect_view()}
                </ul>
            </section>
        }.into_any()
    })
}
