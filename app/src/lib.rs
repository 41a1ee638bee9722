//! Pages and server functions of the Salon Privacy Portal.
//!
//! Server functions are thin: they find the caller, check what they may do, call
//! `portal-core`, and map its error. Everything here renders the same on the server and in the
//! browser; only the `ssr` side touches the database.

#![recursion_limit = "256"]

pub mod error;
pub mod i18n;
use i18n::Catalogue;
#[cfg(feature = "ssr")]
pub mod identity;
pub mod mailbox;
pub mod me;
pub mod notices;
pub mod signin;
pub mod staff;

use leptos::prelude::*;
use leptos_meta::{HashedStylesheet, MetaTags, Title, provide_meta_context};
use leptos_router::{
    SsrMode,
    components::{A, ParentRoute, Route, Router, Routes},
    hooks::use_location,
    path,
};

pub use error::PortalError;
pub use i18n::{Lang, Texts};

/// Facts about the site that both renderers must agree on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Site {
    /// The page language.
    pub lang: Lang,
    /// The salon's name, from configuration.
    pub salon_name: String,
}

impl Site {
    /// On the server: from the request (cookie, `Accept-Language`) and the settings.
    #[cfg(feature = "ssr")]
    fn detect() -> Self {
        let parts = use_context::<http::request::Parts>();
        let lang = parts
            .map(|p| {
                let cookie = identity::cookie_value(&p.headers, i18n::LANG_COOKIE);
                let accept = p
                    .headers
                    .get(http::header::ACCEPT_LANGUAGE)
                    .and_then(|v| v.to_str().ok());
                Lang::negotiate(cookie.as_deref(), accept)
            })
            .unwrap_or_default();
        let salon_name = use_context::<portal_core::Portal>()
            .map(|p| p.settings.salon_name.clone())
            .unwrap_or_default();
        Self { lang, salon_name }
    }

    /// Elsewhere (the wasm build never renders the app in islands mode): the defaults.
    #[cfg(not(feature = "ssr"))]
    fn detect() -> Self {
        Self {
            lang: Lang::default(),
            salon_name: String::new(),
        }
    }
}

/// Redirects (for forms) to `path`; returns `Ok` so the form's POST ends with a redirect.
#[cfg(feature = "ssr")]
pub fn back(path: &str) -> Result<(), PortalError> {
    redirect(path);
    Ok(())
}

/// Asks the browser to drop this site's cookies and storage (on sign-out).
#[cfg(feature = "ssr")]
pub fn clear_site_data() {
    if let Some(resp) = use_context::<leptos_axum::ResponseOptions>() {
        resp.insert_header(
            http::HeaderName::from_static("clear-site-data"),
            http::HeaderValue::from_static("\"cookies\", \"storage\""),
        );
    }
}

/// The end of a form's POST: back to `ok` when the operation went through, to `refused` when
/// the domain refused the input (the page explains it); any other failure stays an error.
#[cfg(feature = "ssr")]
pub fn settle<T>(
    done: Result<T, portal_core::CoreError>,
    ok: &str,
    refused: &str,
) -> Result<(), PortalError> {
    match done {
        Ok(_) => {
            redirect(ok);
            Ok(())
        }
        Err(e) => crate::refused(e, refused),
    }
}

/// A failed form operation: back to `to` when the domain refused the input (the page explains
/// it); any other failure stays an error.
#[cfg(feature = "ssr")]
pub fn refused(e: portal_core::CoreError, to: &str) -> Result<(), PortalError> {
    use portal_core::CoreError;
    match e {
        CoreError::Invalid(_) | CoreError::Refused(_) => {
            redirect(to);
            Ok(())
        }
        e => Err(e.into()),
    }
}

/// Sends the visitor to `path`, a relative path the server built. `leptos_axum::redirect`
/// panics on a path that is not a valid header value, so a path that request data made
/// unwritable (a control character, non-ASCII, a space) goes home instead.
#[cfg(feature = "ssr")]
pub fn redirect(path: &str) {
    // Same-site only: `//host` and `/\host` would leave the site.
    let writable = path.starts_with('/')
        && !path.starts_with("//")
        && !path.starts_with("/\\")
        && path.len() <= 2048
        && path.bytes().all(|b| b.is_ascii_graphic());
    if writable {
        leptos_axum::redirect(path);
    } else {
        // The path may carry a token or an address: never log it.
        tracing::warn!("redirect to an unwritable path refused; sent home");
        leptos_axum::redirect("/");
    }
}

/// The texts of the page's language.
pub fn use_texts() -> &'static Texts {
    use_context::<Site>()
        .map(|s| s.lang)
        .unwrap_or_default()
        .t()
}

/// The HTML document around the app; rendered on the server only.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    let site = Site::detect();
    #[cfg(feature = "ssr")]
    provide_request_nonce();
    let lang = site.lang.html_lang();
    view! {
        <!DOCTYPE html>
        <html lang=lang>
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name="color-scheme" content="light"/>
                <link rel="icon" href="/favicon.svg" type="image/svg+xml"/>
                // The stylesheet under its hashed name (cargo-leptos `hash-files`), found in the
                // head before the scripts, so the first paint is styled.
                <HashedStylesheet options=options.clone() id="leptos"/>
                <HydrationScripts options islands=true/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// Hands the nonce that the server's security-header layer put in the request to Leptos, which
/// adds it to the inline hydration and resource scripts (the same layer writes the CSP header).
#[cfg(feature = "ssr")]
fn provide_request_nonce() {
    let nonce = use_context::<http::request::Parts>()
        .and_then(|p| p.extensions.get::<leptos::nonce::Nonce>().cloned());
    if let Some(nonce) = nonce {
        provide_context(nonce);
    }
}

/// The whole application: header, routes, footer.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    let site = Site::detect();
    provide_context(site.clone());
    let t = site.lang.t();
    view! {
        <Title text=site.salon_name.clone()/>
        <Router>
            <a class="skip" href="#main">{t.skip_to_content}</a>
            <Header/>
            <main id="main">
                <Routes fallback=NotFound>
                    <Route path=path!("") view=HomePage ssr=SsrMode::Async/>
                    <Route path=path!("privacy") view=notices::NoticePage ssr=SsrMode::Async/>
                    <Route path=path!("privacy/:version") view=notices::NoticePage ssr=SsrMode::Async/>
                    <Route path=path!("signin") view=signin::SignInPage/>
                    <Route path=path!("signin/sent") view=signin::SentPage/>
                    <Route path=path!("signin/link") view=signin::LinkPage ssr=SsrMode::Async/>
                    // Reached from mail or before the notice is confirmed: no customer navigation.
                    <Route path=path!("me/email") view=me::EmailChangePage ssr=SsrMode::Async/>
                    <Route path=path!("me/notice") view=me::notice::NoticeConfirmPage ssr=SsrMode::Async/>
                    <ParentRoute path=path!("me") view=me::MeLayout ssr=SsrMode::Async>
                        <Route path=path!("") view=me::MyDataPage ssr=SsrMode::Async/>
                        <Route path=path!("requests") view=me::RequestsPage ssr=SsrMode::Async/>
                        <Route path=path!("consents") view=me::consents::ConsentsPage ssr=SsrMode::Async/>
                        <Route path=path!("photos") view=me::photos::PhotosPage ssr=SsrMode::Async/>
                    </ParentRoute>
                    // The entrances come first: the staff layout would match them too.
                    <Route path=path!("staff/signin") view=staff::StaffSignInPage/>
                    <Route path=path!("staff/code") view=staff::StaffCodePage/>
                    <Route path=path!("staff/enrol") view=staff::StaffEnrolPage ssr=SsrMode::Async/>
                    <Route path=path!("staff/invite") view=staff::team::InvitePage ssr=SsrMode::Async/>
                    <ParentRoute path=path!("staff") view=staff::StaffLayout ssr=SsrMode::Async>
                        <Route path=path!("") view=staff::DashboardPage ssr=SsrMode::Async/>
                        <Route path=path!("security") view=staff::SecurityPage ssr=SsrMode::Async/>
                        <Route path=path!("team") view=staff::team::TeamPage ssr=SsrMode::Async/>
                        <Route path=path!("notices") view=staff::notices::NoticesPage ssr=SsrMode::Async/>
                        <Route path=path!("marketing") view=staff::marketing::MarketingPage ssr=SsrMode::Async/>
                        <Route path=path!("retention") view=staff::retention::RetentionPage ssr=SsrMode::Async/>
                        <Route path=path!("sharing") view=staff::sharing::SharingPage ssr=SsrMode::Async/>
                        <Route path=path!("sharing/tasks/:id") view=staff::sharing::TaskPage ssr=SsrMode::Async/>
                        <Route path=path!("takedowns") view=staff::takedowns::TakedownsPage ssr=SsrMode::Async/>
                        <Route path=path!("audit") view=staff::audit::AuditPage ssr=SsrMode::Async/>
                        <Route path=path!("requests") view=staff::requests::QueuePage ssr=SsrMode::Async/>
                        <Route path=path!("requests/:id") view=staff::requests::RequestPage ssr=SsrMode::Async/>
                        <Route path=path!("customers") view=staff::customers::SearchPage ssr=SsrMode::Async/>
                        <Route path=path!("customers/new") view=staff::customers::IntakePage ssr=SsrMode::Async/>
                        <Route path=path!("customers/:id") view=staff::customers::RecordPage ssr=SsrMode::Async/>
                    </ParentRoute>
                    <Route path=path!("dev/mailbox") view=mailbox::MailboxPage ssr=SsrMode::Async/>
                </Routes>
            </main>
            <footer class="site-footer">
                <A href="/privacy">{t.privacy_notice}</A>
            </footer>
        </Router>
    }
}

/// Salon name and the language switch. The switch is a plain form, so it works without
/// JavaScript; the server remembers the choice in a cookie and sends the visitor back.
#[component]
fn Header() -> impl IntoView {
    let site = use_context::<Site>().unwrap_or_else(Site::detect);
    let location = use_location();
    let other = site.lang.other();
    let t = site.lang.t();
    view! {
        <header class="site-header">
            <A href="/" attr:class="salon-name">{site.salon_name.clone()}</A>
            <form class="lang-switch" method="post" action="/lang">
                <input type="hidden" name="lang" value=other.code()/>
                <input type="hidden" name="next" value=move || {
                    // Leptos gives the query without its `?`.
                    let search = location.search.get();
                    if search.is_empty() { location.pathname.get() } else { format!("{}?{search}", location.pathname.get()) }
                }/>
                <button type="submit" lang=other.html_lang() aria-label=format!("{}: {}", t.language, other.t().this_language)>
                    {other.t().this_language}
                </button>
            </form>
        </header>
    }
}

#[component]
fn HomePage() -> impl IntoView {
    let t = use_texts();
    let signed_in = Resource::new(|| (), |_| signin::signed_in());
    loaded(signed_in, move |signed_in| {
        // A signed-in customer goes on to their data; anyone else signs in.
        let (href, label) = match signed_in {
            true => ("/me", t.me_title),
            false => ("/signin", t.sign_in),
        };
        view! {
            <section class="card">
                <h1>{t.home_title}</h1>
                <p>{t.home_intro}</p>
                <p class="muted">{t.home_rights}</p>
                <p><A href=href attr:class="button">{label}</A></p>
                <p><A href="/privacy">{t.read_notice}</A></p>
            </section>
        }
    })
}

/// Shown for unknown paths, with a real 404 status.
#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(resp) = use_context::<leptos_axum::ResponseOptions>() {
        resp.set_status(http::StatusCode::NOT_FOUND);
    }
    let t = use_texts();
    view! {
        <section class="card">
            <h1>{t.not_found_title}</h1>
            <p>{t.not_found_body}</p>
            <p><A href="/">{t.back_home}</A></p>
        </section>
    }
}

/// The scaffold of every page that loads something: a loading line, then the page made from
/// what `load` gave, or the notice for its error.
pub fn loaded<T, V>(
    load: Resource<Result<T, PortalError>>,
    page: impl Fn(T) -> V + Clone + Send + Sync + 'static,
) -> impl IntoView
where
    T: Clone + Send + Sync + serde::Serialize + serde::de::DeserializeOwned + 'static,
    V: IntoView + 'static,
{
    view! {
        <Suspense fallback=move || view! { <p class="muted">{use_texts().loading}</p> }>
            {move || {
                let page = page.clone();
                Suspend::new(async move {
                    match load.await {
                        Ok(v) => page(v).into_any(),
                        Err(e) => view! { <ErrorNotice error=e/> }.into_any(),
                    }
                })
            }}
        </Suspense>
    }
}

/// Shown when a server function failed for a reason the visitor cannot fix.
#[component]
pub fn ErrorNotice(error: PortalError) -> impl IntoView {
    match error {
        PortalError::NotFound => view! { <NotFound/> }.into_any(),
        // The server function already answered with a redirect to /signin; keep its status.
        PortalError::SignInRequired => {
            let t = use_texts();
            view! {
                <section class="card">
                    <p><A href="/signin">{t.sign_in}</A></p>
                </section>
            }
            .into_any()
        }
        PortalError::Forbidden => {
            let t = use_texts().staff;
            view! {
                <section class="card" role="alert">
                    <h1>{t.forbidden_title}</h1>
                    <p>{t.forbidden_body}</p>
                </section>
            }
            .into_any()
        }
        PortalError::Invalid(_) | PortalError::BadRequest | PortalError::TooLarge => {
            let t = use_texts().staff;
            view! {
                <section class="card" role="alert">
                    <p>{t.invalid_input}</p>
                </section>
            }
            .into_any()
        }
        PortalError::Internal => {
            #[cfg(feature = "ssr")]
            if let Some(resp) = use_context::<leptos_axum::ResponseOptions>() {
                resp.set_status(http::StatusCode::SERVICE_UNAVAILABLE);
            }
            let t = use_texts();
            view! {
                <section class="card" role="alert">
                    <h1>{t.error_title}</h1>
                    <p>{t.error_body}</p>
                </section>
            }
            .into_any()
        }
    }
}
