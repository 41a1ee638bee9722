//! Customer sign-in pages: ask for a link, type the code, open the link, the home page, sign out.
//! Every form is a plain POST to a server function, so the flow works without JavaScript.

use leptos::{prelude::*, server_fn::ServerFn};
use leptos_router::hooks::use_query_map;

#[cfg(feature = "ssr")]
use crate::identity::Cookie;
use crate::{PortalError, use_texts};

#[cfg(feature = "ssr")]
pub(crate) mod ssr {
    use http::header;
    use leptos::prelude::*;
    use portal_core::{Portal, sessions};

    use crate::{
        PortalError,
        identity::{Cookie, CustomerSession},
    };

    pub fn portal() -> Result<Portal, PortalError> {
        use_context::<Portal>().ok_or(PortalError::Internal)
    }

    /// Sets `c` on the response (`max_age` 0 clears it).
    pub fn set_cookie(p: &Portal, c: Cookie, value: &str, max_age: i64) {
        if let (Some(resp), Some(v)) = (
            use_context::<leptos_axum::ResponseOptions>(),
            c.set(p, value, max_age),
        ) {
            resp.append_header(header::SET_COOKIE, v);
        }
    }

    /// The value of `c` in this request.
    pub fn cookie(p: &Portal, c: Cookie) -> Option<String> {
        use_context::<http::request::Parts>().and_then(|parts| c.read(p, &parts.headers))
    }

    /// The request's headers and extensions (empty outside a request).
    pub fn request_parts() -> (http::HeaderMap, http::Extensions) {
        use_context::<http::request::Parts>()
            .map(|p| (p.headers, p.extensions))
            .unwrap_or_default()
    }

    /// The client's address, for throttles (never logged or stored in the clear).
    pub async fn client_ip(p: &Portal) -> String {
        use axum::extract::ConnectInfo;
        let Ok(ConnectInfo(peer)) =
            leptos_axum::extract::<ConnectInfo<std::net::SocketAddr>>().await
        else {
            return String::new();
        };
        let parts = use_context::<http::request::Parts>();
        let forwarded: Vec<&str> = parts
            .iter()
            .flat_map(|p| p.headers.get_all("x-forwarded-for"))
            .filter_map(|v| v.to_str().ok())
            .collect();
        p.settings.client_ip(peer.ip(), &forwarded).to_string()
    }

    /// The customer signed in on this request, if any.
    pub async fn current(p: &Portal) -> Result<Option<CustomerSession>, PortalError> {
        let (headers, extensions) = request_parts();
        Ok(CustomerSession::from_request(p, &headers, &extensions).await?)
    }

    /// The signed-in customer of this request, or a redirect to `/signin` that comes back to
    /// `page` afterwards (every customer page starts here).
    pub async fn customer(page: &str) -> Result<(Portal, i64, sessions::Session), PortalError> {
        let p = portal()?;
        if let Some(CustomerSession {
            customer: id,
            session,
        }) = current(&p).await?
        {
            // A notice marked "needs confirmation" comes first, on every customer page.
            if page != "/me/notice"
                && portal_core::notices::pending_confirmation(&p.db, id)
                    .await?
                    .is_some()
            {
                leptos_axum::redirect("/me/notice");
                return Err(PortalError::SignInRequired);
            }
            return Ok((p, id, session));
        }
        // A session ended by the customer's own erasure says so, once, and is cleared.
        if let Some(token) = cookie(&p, Cookie::CustomerSession)
            && sessions::ended_by_erasure(&p.db, &p.session_keys, &token).await?
        {
            set_cookie(&p, Cookie::CustomerSession, "", 0);
            leptos_axum::redirect("/signin?erased=1");
            return Err(PortalError::SignInRequired);
        }
        // Always with `next`, so the sign-in page says why it opened and leads back here.
        let page = portal_core::signin::landing(Some(page));
        leptos_axum::redirect(&format!("/signin?next={page}"));
        Err(PortalError::SignInRequired)
    }

    pub async fn sign_in(p: &Portal, customer: i64) -> Result<(), PortalError> {
        // From now on the salon writes in the language the customer reads the portal in.
        if let Some(lang) = crate::i18n::read_in() {
            portal_core::customers::remember_language(p, customer, lang).await?;
        }
        let token = sessions::start(
            &p.db,
            &p.session_keys,
            sessions::Subject::Customer(customer),
            chrono::Utc::now(),
        )
        .await?;
        set_cookie(
            p,
            Cookie::CustomerSession,
            &token,
            sessions::ABSOLUTE.num_seconds(),
        );
        set_cookie(p, Cookie::SignInPending, "", 0);
        set_cookie(p, Cookie::SignInNext, "", 0);
        let next = cookie(p, Cookie::SignInNext);
        leptos_axum::redirect(portal_core::signin::landing(next.as_deref()));
        Ok(())
    }
}

/// Whether this browser holds a customer's session (the home page then offers "My data").
#[server]
pub async fn signed_in() -> Result<bool, PortalError> {
    let p = ssr::portal()?;
    Ok(ssr::current(&p).await?.is_some())
}

/// Takes the address; the answer is the same for every address. `next` (a customer page to land
/// on after sign-in) is kept only when it passes the allowlist.
#[server]
pub async fn request_sign_in(email: String, next: Option<String>) -> Result<(), PortalError> {
    use portal_core::signin::{HOME, RequestError, landing, request_link};
    let p = ssr::portal()?;
    match request_link(&p, &email, &ssr::client_ip(&p).await, chrono::Utc::now()).await {
        Ok(pending) => {
            ssr::set_cookie(&p, Cookie::SignInPending, &pending.handle, 600);
            match landing(next.as_deref()) {
                HOME => ssr::set_cookie(&p, Cookie::SignInNext, "", 0),
                page => ssr::set_cookie(&p, Cookie::SignInNext, page, 600),
            }
            crate::back("/signin/sent")
        }
        Err(RequestError::Email(_)) => crate::back("/signin?error=email"),
        Err(RequestError::Core(e)) => Err(e.into()),
    }
}

/// Checks the code typed into the browser that asked.
#[server]
pub async fn confirm_code(code: String) -> Result<(), PortalError> {
    use portal_core::signin::{CodeOutcome, spend_code_for};
    let p = ssr::portal()?;
    let handle = ssr::cookie(&p, Cookie::SignInPending).unwrap_or_default();
    match spend_code_for(&p, &handle, &code, chrono::Utc::now()).await? {
        CodeOutcome::Accepted(customer) => ssr::sign_in(&p, customer).await,
        CodeOutcome::Wrong { .. } => crate::back("/signin/sent?error=code"),
        CodeOutcome::Unusable => crate::back("/signin?error=expired"),
        CodeOutcome::UseLink => crate::back("/signin/sent?error=use_link"),
    }
}

/// Spends the link (only ever on this POST; the link's GET spends nothing).
#[server]
pub async fn confirm_link(t: String) -> Result<(), PortalError> {
    use portal_core::signin::{Purpose, spend_link};
    let p = ssr::portal()?;
    match spend_link(&p.db, &t, Purpose::SignIn, chrono::Utc::now()).await? {
        Some(customer) => ssr::sign_in(&p, customer).await,
        None => crate::back("/signin?error=expired"),
    }
}

/// The masked address a link is for, or `None` when it no longer works. Spends nothing.
#[server]
pub async fn peek_sign_in_link(t: String) -> Result<Option<String>, PortalError> {
    use portal_core::{customers, signin};
    let p = ssr::portal()?;
    let Some(customer) =
        signin::peek_link(&p.db, &t, signin::Purpose::SignIn, chrono::Utc::now()).await?
    else {
        return Ok(None);
    };
    let contact = customers::contact(&p.db, &p.vault, customer).await?;
    Ok(contact.email.as_ref().map(customers::mask_email))
}

/// Ends the session at once and clears the browser's site data.
#[server]
pub async fn sign_out() -> Result<(), PortalError> {
    let p = ssr::portal()?;
    if let Some(s) = ssr::current(&p).await? {
        portal_core::sessions::end(&p.db, &s.session.id, chrono::Utc::now()).await?;
    }
    ssr::set_cookie(&p, Cookie::CustomerSession, "", 0);
    crate::clear_site_data();
    crate::back("/")
}

fn error_param() -> Memo<Option<String>> {
    let q = use_query_map();
    Memo::new(move |_| q.read().get("error"))
}

/// `/signin`: ask for a link.
#[component]
pub fn SignInPage() -> impl IntoView {
    let t = use_texts();
    let error = error_param();
    let q = use_query_map();
    let next = Memo::new(move |_| q.read().get("next"));
    view! {
        <section class="card">
            <h1>{t.signin_title}</h1>
            <p>{t.signin_intro}</p>
            {move || error.get().map(|e| {
                let msg = if e == "email" { t.signin_bad_email } else { t.signin_expired };
                view! { <p class="banner" role="alert">{msg}</p> }
            })}
            {move || {
                let q = q.read();
                let m = match (q.get("fresh"), q.get("next")) {
                    _ if q.get("erased").is_some() => Some(t.signin_erased),
                    (Some(f), _) if f == "request" => Some(t.signin_fresh_request),
                    (Some(_), _) => Some(t.signin_fresh),
                    (None, Some(_)) => Some(t.signin_needed),
                    (None, None) => None,
                };
                m.map(|m| view! { <p class="banner" role="status">{m}</p> })
            }}
            <form method="post" action=RequestSignIn::PATH>
                {move || next.get().map(|n| view! { <input type="hidden" name="next" value=n/> })}
                <label for="email">{t.signin_email_label}</label>
                <input id="email" name="email" type="email" autocomplete="email" required maxlength="254"/>
                <button type="submit" class="button">{t.signin_send}</button>
            </form>
        </section>
    }
}

/// `/signin/sent`: the generic answer, and the code form.
#[component]
pub fn SentPage() -> impl IntoView {
    let t = use_texts();
    let error = error_param();
    view! {
        <section class="card">
            <h1>{t.signin_sent_title}</h1>
            <p>{t.signin_sent_body}</p>
            {move || error.get().map(|e| {
                let msg = if e == "use_link" { t.signin_use_link } else { t.signin_bad_code };
                view! { <p class="banner" role="alert">{msg}</p> }
            })}
            <form method="post" action=ConfirmCode::PATH>
                <label for="code">{t.signin_code_label}</label>
                <input id="code" name="code" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9]{6}" maxlength="6" required/>
                <button type="submit" class="button">{t.signin_confirm}</button>
            </form>
        </section>
    }
}

/// `/signin/link?t=…`: names the masked address, and one button spends the link.
#[component]
pub fn LinkPage() -> impl IntoView {
    let t = use_texts();
    let q = use_query_map();
    let token = move || q.read().get("t").unwrap_or_default();
    let peek = Resource::new(token, peek_sign_in_link);
    crate::loaded(peek, move |loaded| match loaded {
        Some(masked) => view! {
            <section class="card">
                <h1>{t.signin_link_title}</h1>
                <p>{(t.signin_link_for)(&masked)}</p>
                <form method="post" action=ConfirmLink::PATH>
                    <input type="hidden" name="t" value=token()/>
                    <button type="submit" class="button">{t.signin_confirm}</button>
                </form>
            </section>
        }
        .into_any(),
        None => view! {
            <section class="card">
                <h1>{t.signin_link_title}</h1>
                <p role="alert">{t.signin_expired}</p>
                <p><a href="/signin">{t.signin_again}</a></p>
            </section>
        }
        .into_any(),
    })
}
