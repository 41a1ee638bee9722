//! The privacy officer publishes a new privacy-notice version (Chinese and English), optionally
//! marked "needs confirmation": customers then confirm it at their next sign-in.

use leptos::{prelude::*, server_fn::ServerFn};
use leptos_router::hooks::use_query_map;

use crate::{PortalError, use_texts};

#[cfg(feature = "ssr")]
use super::gate;

/// Publishes the next version.
#[server]
pub async fn publish_notice(
    #[server(flatten)] form: portal_vocab::forms::Notice,
) -> Result<(), PortalError> {
    use portal_core::{access::Action, notices::NewNotice};
    let c = gate::require(Action::PublishNotice).await?;
    // The audit row commits with the notice (published by this member of staff).
    match c
        .portal
        .publish_notice(NewNotice::from_form(&form, c.member.id))
        .await
    {
        Ok(v) => gate::back(&format!("/staff/notices?done={v}")),
        Err(e) => crate::refused(e, "/staff/notices?error=invalid"),
    }
}

/// `/staff/notices`.
#[component]
pub fn NoticesPage() -> impl IntoView {
    let t = use_texts().staff;
    let q = use_query_map();
    view! {
        {move || {
            let q = q.read();
            q.get("done").map(|_| t.saved).or_else(|| q.get("error").map(|_| t.invalid_input))
                .map(|m| view! { <p class="banner" role="status">{m}</p> })
        }}
        <section class="card">
            <h1>{t.notices_title}</h1>
            <p><a href="/privacy">{use_texts().privacy_notice}</a></p>
            <form method="post" action=PublishNotice::PATH>
                <label for="n-tzh">{t.notice_title}" (中文)"</label>
                <input id="n-tzh" name="title_zh" type="text" required maxlength="200"/>
                <label for="n-ten">{t.notice_title}" (English)"</label>
                <input id="n-ten" name="title_en" type="text" required maxlength="200"/>
                <label for="n-bzh">{t.notice_body}" (中文)"</label>
                <textarea id="n-bzh" name="body_zh" required rows="8"></textarea>
                <label for="n-ben">{t.notice_body}" (English)"</label>
                <textarea id="n-ben" name="body_en" required rows="8"></textarea>
                <label class="check"><input type="checkbox" name="requires_confirmation" value="on"/>{t.notice_requires}</label>
                <button type="submit" class="button">{t.notice_publish}</button>
            </form>
        </section>
    }
}
