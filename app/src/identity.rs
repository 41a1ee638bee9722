//! Who is calling, found in one place: every cookie the portal sets (name and flags), and the
//! two identities read from them, a customer's session and a member of staff. Routes take them
//! as axum extractors; server functions read them from the request Leptos hands them. Both go
//! through [`CustomerSession::from_request`] and [`StaffMember::from_request`], which look each
//! identity up once per request (see [`RequestIdentities`]), however many server functions a
//! page runs.

use axum::{
    extract::{FromRef, FromRequestParts},
    response::{IntoResponse, Response},
};
use http::{Extensions, HeaderMap, HeaderValue, StatusCode, request::Parts};
use portal_core::{
    CoreError, Portal,
    sessions::{self, Session, Subject},
    staff::auth::{self, Member},
};
use std::sync::Arc;
use tokio::sync::OnceCell;

/// Every cookie the portal sets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cookie {
    /// A customer's session token.
    CustomerSession,
    /// A staff member's session token.
    StaffSession,
    /// A browser's proof that it signed in to a staff account before (kept after sign-out).
    StaffDevice,
    /// The second-factor step of a staff sign-in (5 minutes).
    StaffStep,
    /// The handle of a customer sign-in waiting for its code.
    SignInPending,
    /// The allowlisted page to land on after sign-in, kept by the browser that asked.
    SignInNext,
    /// A new consent-API key, shown once on the page after it was made (2 minutes).
    NewApiKey,
    /// The chosen language.
    Lang,
}

impl Cookie {
    /// Every cookie the portal sets.
    pub const ALL: [Cookie; 8] = [
        Cookie::CustomerSession,
        Cookie::StaffSession,
        Cookie::StaffDevice,
        Cookie::StaffStep,
        Cookie::SignInPending,
        Cookie::SignInNext,
        Cookie::NewApiKey,
        Cookie::Lang,
    ];

    /// The cookie's name. Tokens take the `__Host-` prefix on an https site (it needs
    /// `Secure`, which plain-http localhost cannot have).
    pub fn name(self, secure: bool) -> &'static str {
        match (self, secure) {
            (Cookie::CustomerSession, true) => "__Host-portal_session",
            (Cookie::CustomerSession, false) => "portal_session",
            (Cookie::StaffSession, true) => "__Host-portal_staff",
            (Cookie::StaffSession, false) => "portal_staff",
            (Cookie::StaffDevice, true) => "__Host-staff_device",
            (Cookie::StaffDevice, false) => "staff_device",
            (Cookie::StaffStep, _) => "staff_step",
            (Cookie::SignInPending, _) => "signin_pending",
            (Cookie::SignInNext, _) => "signin_next",
            (Cookie::NewApiKey, _) => "new_api_key",
            (Cookie::Lang, _) => crate::i18n::LANG_COOKIE,
        }
    }

    /// This cookie's value in a request.
    pub fn read(self, p: &Portal, headers: &HeaderMap) -> Option<String> {
        cookie_value(headers, self.name(p.settings.cookies_secure()))
    }

    /// The `Set-Cookie` value that sets it (`max_age` 0 clears it). Every cookie is
    /// `HttpOnly`, `SameSite=Lax`, for the whole site, and `Secure` on an https site.
    pub fn set(self, p: &Portal, value: &str, max_age: i64) -> Option<HeaderValue> {
        let secure = p.settings.cookies_secure();
        let c = cookie::Cookie::build((self.name(secure), value))
            .path("/")
            .max_age(cookie::time::Duration::seconds(max_age))
            .http_only(true)
            .same_site(cookie::SameSite::Lax)
            .secure(secure)
            .build();
        HeaderValue::from_str(&c.to_string()).ok()
    }
}

/// The portal's own cookies in the request headers, as (name, value), in order; any other
/// cookie left out.
pub fn portal_cookies(headers: &HeaderMap) -> Vec<(String, String)> {
    let ours = |name: &str| {
        Cookie::ALL
            .iter()
            .any(|c| c.name(true) == name || c.name(false) == name)
    };
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(cookie::Cookie::split_parse)
        .filter_map(Result::ok)
        .filter(|c| ours(c.name()))
        .map(|c| (c.name().to_owned(), c.value().to_owned()))
        .collect()
}

/// Reads one cookie from the request headers (the first of that name).
pub fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(cookie::Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == name)
        .map(|c| c.value().to_owned())
}

/// Why a request has no identity of the kind asked for.
#[derive(Debug)]
pub enum NoIdentity {
    /// No live session of that kind.
    SignedOut,
    /// The session could not be checked (the database failed): refused, never let through.
    Unavailable(CoreError),
}

impl IntoResponse for NoIdentity {
    fn into_response(self) -> Response {
        match self {
            NoIdentity::SignedOut => StatusCode::UNAUTHORIZED.into_response(),
            NoIdentity::Unavailable(e) => {
                tracing::error!(error = %e, "session check failed");
                StatusCode::SERVICE_UNAVAILABLE.into_response()
            }
        }
    }
}

/// The identities of one request, each looked up at most once: a page renders several server
/// functions and resources, and each used to check the session again (a database read, and a
/// write of its last-seen time). Put in every request's extensions by [`remember_identities`];
/// the clones Leptos hands its server functions share it. A request without it (a test calling
/// a handler directly) looks them up each time, as before.
#[derive(Clone, Default)]
pub struct RequestIdentities(Arc<Identities>);

#[derive(Default)]
struct Identities {
    customer: OnceCell<Option<CustomerSession>>,
    staff: OnceCell<Option<StaffMember>>,
}

/// Middleware: gives the request a fresh [`RequestIdentities`] (never one a client could supply:
/// extensions are not headers).
pub async fn remember_identities(
    mut req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    req.extensions_mut().insert(RequestIdentities::default());
    next.run(req).await
}

/// A customer signed in on this request.
#[derive(Clone, Debug)]
pub struct CustomerSession {
    /// The customer.
    pub customer: i64,
    /// Their session.
    pub session: Session,
}

impl CustomerSession {
    /// The customer whose live session the request carries, if any (looked up once per request).
    pub async fn from_request(
        p: &Portal,
        headers: &HeaderMap,
        extensions: &Extensions,
    ) -> Result<Option<Self>, CoreError> {
        let lookup = || async {
            Ok::<_, CoreError>(match resume(p, headers, Cookie::CustomerSession).await? {
                Some(session) => match session.subject {
                    Subject::Customer(customer) => Some(Self { customer, session }),
                    Subject::Staff(_) => None,
                },
                None => None,
            })
        };
        match extensions.get::<RequestIdentities>() {
            Some(memo) => memo.0.customer.get_or_try_init(lookup).await.cloned(),
            None => lookup().await,
        }
    }
}

/// A member of staff signed in on this request, re-read from the database on every request so
/// that a deactivation or a role change applies at once.
#[derive(Clone, Debug)]
pub struct StaffMember {
    /// The account as it is now.
    pub member: Member,
    /// Their session.
    pub session: Session,
}

impl StaffMember {
    /// The active member of staff whose live session the request carries, if any (looked up,
    /// with the account, once per request).
    pub async fn from_request(
        p: &Portal,
        headers: &HeaderMap,
        extensions: &Extensions,
    ) -> Result<Option<Self>, CoreError> {
        let lookup = || async {
            let Some(session) = resume(p, headers, Cookie::StaffSession).await? else {
                return Ok(None);
            };
            let Subject::Staff(id) = session.subject else {
                return Ok(None);
            };
            Ok(auth::member(&p.db, id)
                .await?
                .map(|member| Self { member, session }))
        };
        match extensions.get::<RequestIdentities>() {
            Some(memo) => memo.0.staff.get_or_try_init(lookup).await.cloned(),
            None => lookup().await,
        }
    }
}

async fn resume(p: &Portal, headers: &HeaderMap, c: Cookie) -> Result<Option<Session>, CoreError> {
    match c.read(p, headers) {
        Some(token) => sessions::resume_in(p, &token, chrono::Utc::now()).await,
        None => Ok(None),
    }
}

fn rejected<T>(found: Result<Option<T>, CoreError>) -> Result<T, NoIdentity> {
    match found {
        Ok(Some(t)) => Ok(t),
        Ok(None) => Err(NoIdentity::SignedOut),
        Err(e) => Err(NoIdentity::Unavailable(e)),
    }
}

impl<S> FromRequestParts<S> for CustomerSession
where
    Portal: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = NoIdentity;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        rejected(
            Self::from_request(&Portal::from_ref(state), &parts.headers, &parts.extensions).await,
        )
    }
}

impl<S> FromRequestParts<S> for StaffMember
where
    Portal: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = NoIdentity;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        rejected(
            Self::from_request(&Portal::from_ref(state), &parts.headers, &parts.extensions).await,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cookie_is_found_by_its_exact_name_among_several() {
        let mut h = HeaderMap::new();
        h.append(
            http::header::COOKIE,
            HeaderValue::from_static("lang=en; portal_session_x=no; portal_session=tok"),
        );
        h.append(
            http::header::COOKIE,
            HeaderValue::from_static("staff_step=s"),
        );
        assert_eq!(cookie_value(&h, "portal_session").as_deref(), Some("tok"));
        assert_eq!(cookie_value(&h, "staff_step").as_deref(), Some("s"));
        assert_eq!(cookie_value(&h, "portal_staff"), None);
    }

    #[test]
    fn only_tokens_take_the_host_prefix_and_only_on_https() {
        for c in [
            Cookie::CustomerSession,
            Cookie::StaffSession,
            Cookie::StaffDevice,
        ] {
            assert!(c.name(true).starts_with("__Host-"));
            assert!(!c.name(false).starts_with("__Host-"));
        }
        assert_eq!(Cookie::Lang.name(true), Cookie::Lang.name(false));
    }
}
