//! Confirming a new sign-in email from the link mailed to it.

use leptos::{prelude::*, server_fn::ServerFn};
use leptos_router::hooks::use_query_map;

use crate::{PortalError, use_texts};

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
