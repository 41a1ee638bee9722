//! `/me/notice`: a new privacy notice marked "needs confirmation" is shown at the next sign-in
//! (before any other customer page) until the customer confirms it.

use leptos::{prelude::*, server_fn::ServerFn};
use serde::{Deserialize, Serialize};

use crate::{PortalError, use_texts};

/// The notice waiting for confirmation, in the page's language.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NoticeToConfirm {
    pub version: i32,
    pub title: String,
    pub paragraphs: Vec<String>,
}

/// The notice to confirm, if one is waiting.
#[server]
pub async fn pending_notice(lang: crate::Lang) -> Result<Option<NoticeToConfirm>, PortalError> {
    use portal_core::notices;
    let (p, id, _) = crate::signin::ssr::customer("/me/notice").await?;
    let Some(version) = notices::pending_confirmation(&p.db, id).await? else {
        return Ok(None);
    };
    let (title, paragraphs) = notices::version(&p.db, version).await?.in_lang(lang);
    Ok(Some(NoticeToConfirm {
        version,
        title,
        paragraphs,
    }))
}

/// Confirms having read version `version` (recorded with channel `portal`).
#[server]
pub async fn confirm_notice(version: i32) -> Result<(), PortalError> {
    let (p, id, _) = crate::signin::ssr::customer("/me/notice").await?;
    portal_core::notices::customer_confirms(&p.db, id, version, chrono::Utc::now()).await?;
    leptos_axum::redirect("/me");
    Ok(())
}

/// `/me/notice`.
#[component]
pub fn NoticeConfirmPage() -> impl IntoView {
    let all = use_texts();
    let lang = use_context::<crate::Site>()
        .map(|s| s.lang)
        .unwrap_or_default();
    let n = Resource::new(|| (), move |_| pending_notice(lang));
    crate::loaded(n, move |loaded| match loaded {
        Some(n) => view! {
            <section class="card" data-notice=n.version>
                <p class="banner" role="status">{all.me.notice_new}</p>
                <h1>{n.title.clone()}</h1>
                {n.paragraphs.into_iter().map(|p| view! { <p>{p}</p> }).collect_view()}
                <form method="post" action=ConfirmNotice::PATH>
                    <input type="hidden" name="version" value=n.version/>
                    <button type="submit" class="button">{all.me.notice_confirm}</button>
                </form>
            </section>
        }
        .into_any(),
        None => view! { <section class="card"><p>{all.me.notice_nothing}</p></section> }.into_any(),
    })
}
