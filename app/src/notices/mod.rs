//! The public privacy notice: the current version and every earlier one.

use leptos::prelude::*;
use leptos_router::{components::A, hooks::use_params_map};
use serde::{Deserialize, Serialize};

use crate::{Lang, PortalError, use_texts};

/// A notice as the page shows it, already in the visitor's language.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NoticeView {
    pub version: i32,
    pub title: String,
    pub paragraphs: Vec<String>,
    pub published_on: String,
    pub current_version: i32,
    /// Every version with its date, newest first.
    pub versions: Vec<(i32, String)>,
}

/// Loads a notice; `version` is the URL segment (absent for the current one).
#[server]
pub async fn get_notice(version: Option<String>, lang: Lang) -> Result<NoticeView, PortalError> {
    use portal_core::notices;
    let portal = use_context::<portal_core::Portal>().ok_or(PortalError::Internal)?;
    let notice = match version.map(|v| v.parse::<i32>()) {
        None => notices::current(&portal.db).await?,
        Some(Ok(n)) => notices::version(&portal.db, n).await?,
        // A segment that is not a number is simply not a version.
        Some(Err(_)) => return Err(PortalError::NotFound),
    };
    let versions = notices::versions(&portal.db).await?;
    Ok(NoticeView::new(notice, versions, lang))
}

#[cfg(feature = "ssr")]
impl NoticeView {
    fn new(
        notice: portal_core::notices::Notice,
        versions: Vec<portal_core::notices::NoticeVersion>,
        lang: Lang,
    ) -> Self {
        let day = portal_core::requests::calendar::local_day;
        let (version, published_on) = (notice.version, day(notice.published_at));
        let (title, paragraphs) = notice.in_lang(lang);
        NoticeView {
            version,
            title,
            paragraphs,
            published_on,
            current_version: versions.first().map_or(version, |v| v.version),
            versions: versions
                .into_iter()
                .map(|v| (v.version, day(v.published_at)))
                .collect(),
        }
    }
}

/// `/privacy` and `/privacy/{version}`.
#[component]
pub fn NoticePage() -> impl IntoView {
    let params = use_params_map();
    let lang = use_context::<crate::Site>()
        .map(|s| s.lang)
        .unwrap_or_default();
    let notice = Resource::new(
        move || params.read().get("version"),
        move |v| get_notice(v, lang),
    );
    crate::loaded(notice, move |n| view! { <NoticeBody notice=n/> }.into_any())
}

#[component]
fn NoticeBody(notice: NoticeView) -> impl IntoView {
    let t = use_texts();
    let is_current = notice.version == notice.current_version;
    let shown = notice.version;
    view! {
        <article class="card notice">
            <h1>{notice.title}</h1>
            <p class="muted">
                {(t.version)(notice.version)} " · " {(t.published_on)(&notice.published_on)}
            </p>
            {(!is_current).then(|| view! {
                <p class="banner">{t.viewing_old_version} " " <A href="/privacy">{t.see_current}</A></p>
            })}
            {notice.paragraphs.into_iter().map(|p| view! { <p>{p}</p> }).collect_view()}
        </article>
        <nav class="card" aria-labelledby="versions-title">
            <h2 id="versions-title">{t.earlier_versions}</h2>
            <ul class="versions">
                {notice.versions.into_iter().map(|(v, date)| {
                    let label = format!("{} · {}", (t.version)(v), date);
                    let href = if v == notice.current_version { "/privacy".to_owned() } else { format!("/privacy/{v}") };
                    let current = (v == notice.current_version).then_some(t.current_version);
                    view! {
                        <li>
                            {if v == shown {
                                view! { <span aria-current="page">{label}</span> }.into_any()
                            } else {
                                view! { <A href=href>{label}</A> }.into_any()
                            }}
                            {current.map(|c| view! { " " <span class="tag">{c}</span> })}
                        </li>
                    }
                }).collect_view()}
            </ul>
        </nav>
    }
}
