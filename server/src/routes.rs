//! Plain axum routes: health, the language switch, and the bare handler for benchmarks.

use app::{
    i18n::Lang,
    identity::{Cookie, CustomerSession, NoIdentity, StaffMember},
};
use axum::{
    Form, Json, Router,
    extract::State,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
};
use serde::Deserialize;

use crate::AppState;

pub(crate) fn plain_routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/livez", get(livez))
        .route("/lang", post(set_lang))
        .route("/me/exports/{id}", get(download_export))
        .route("/me/copy", get(copy_in_browser))
        .route("/copy.css", get(copy_style))
        .route("/me/photos/{id}", get(my_photo))
        .route("/staff/marketing/export.csv", get(export_opted_in))
}

/// Downloads a customer's copy: only with a session of that customer that signed in within the
/// last 10 minutes (else a fresh sign-in first), at most 3 times, within 72 hours.
async fn download_export(
    State(state): State<AppState>,
    who: Result<CustomerSession, NoIdentity>,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Response {
    use portal_core::requests::export;
    let portal = &state.portal;
    let now = chrono::Utc::now();
    let again = Redirect::to("/signin?next=/me/requests&fresh=1").into_response();
    let Ok(id) = id.parse::<i64>() else {
        return gone();
    };
    let CustomerSession { customer, session } = match who {
        Ok(s) => s,
        Err(NoIdentity::SignedOut) => return again,
        Err(e) => return e.into_response(),
    };
    // Email control is a low assurance: a copy of everything needs a recent proof.
    if !session.is_fresh(now, portal.settings.fresh_signin()) {
        return again;
    }
    let (path, last) = match export::take(portal, customer, id, now).await {
        Ok(Ok(found)) => found,
        Ok(Err(export::Refused::Gone)) => return gone(),
        Err(e) => {
            tracing::error!(error = %e, "export download failed");
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
    };
    let bytes = match export::open_file(portal, customer, &path).await {
        Ok(b) => b.to_vec(),
        Err(e) => {
            tracing::error!(error = %e, "export file missing or unopenable");
            return gone();
        }
    };
    if last {
        // The link has died: the file goes now, its row with the next sweep.
        let _ = tokio::fs::remove_file(&path).await;
    }
    let mut resp = (StatusCode::OK, bytes).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/zip"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"my-data-{id}.zip\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    resp
}

/// The copy's page in the browser, for a phone that cannot open a ZIP: the same page as the
/// copy's, made now from what is kept, in the page's language, for a session of this customer
/// that signed in within the last 10 minutes (as a download needs). It shows what "My data"
/// shows and costs what it costs, so it is not counted; never cached.
async fn copy_in_browser(
    State(state): State<AppState>,
    who: Result<CustomerSession, NoIdentity>,
    headers: axum::http::HeaderMap,
) -> Response {
    let again = Redirect::to("/signin?next=/me/copy&fresh=1").into_response();
    let CustomerSession { customer, session } = match who {
        Ok(s) => s,
        Err(NoIdentity::SignedOut) => return again,
        Err(e) => return e.into_response(),
    };
    if !session.is_fresh(chrono::Utc::now(), state.portal.settings.fresh_signin()) {
        return again;
    }
    let cookie = app::identity::cookie_value(&headers, app::i18n::LANG_COOKIE);
    let accept = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok());
    let lang = Lang::negotiate(cookie.as_deref(), accept);
    match portal_core::requests::export::page(&state.portal, customer, lang).await {
        Ok(page) => {
            let mut resp = (StatusCode::OK, page).into_response();
            let h = resp.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            );
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            resp
        }
        Err(e) => {
            tracing::error!(error = %e, "the copy's page could not be made");
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
    }
}

/// The copy page's style (the browser view's policy allows no inline style).
async fn copy_style() -> Response {
    let mut resp = (StatusCode::OK, portal_core::requests::copy_page::STYLE).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/css; charset=utf-8"),
    );
    resp
}

/// A photo, only to the session of the customer it belongs to; never cached.
async fn my_photo(
    State(state): State<AppState>,
    who: Result<CustomerSession, NoIdentity>,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Response {
    let customer = match who {
        Ok(s) => s.customer,
        Err(NoIdentity::SignedOut) => return StatusCode::NOT_FOUND.into_response(),
        Err(e) => return e.into_response(),
    };
    let Ok(id) = id.parse::<i64>() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let p = &state.portal;
    match portal_core::mydata::photo(&p.db, &p.vault, &p.settings.data_dir, customer, id).await {
        Ok((content_type, bytes)) => {
            let ct = match content_type.as_str() {
                "image/jpeg" => "image/jpeg",
                "image/webp" => "image/webp",
                _ => "image/png",
            };
            (
                StatusCode::OK,
                [
                    (header::CONTENT_TYPE, ct),
                    (header::CACHE_CONTROL, "no-store"),
                ],
                bytes,
            )
                .into_response()
        }
        Err(portal_core::CoreError::NotFound) => StatusCode::NOT_FOUND.into_response(),
        Err(e) => {
            tracing::error!(error = %e, "photo could not be opened");
            StatusCode::NOT_FOUND.into_response()
        }
    }
}

#[derive(Deserialize)]
struct ExportQuery {
    channel: String,
}

/// The opted-in contacts of one marketing channel as CSV, for marketing staff and the privacy
/// officer only (the same role matrix as every staff action), each export audited.
async fn export_opted_in(
    State(state): State<AppState>,
    who: Result<StaffMember, NoIdentity>,
    axum::extract::Query(q): axum::extract::Query<ExportQuery>,
) -> Response {
    use portal_core::{
        access::{Action, authorize},
        audit::Actor,
        consents::{self, Purpose},
    };
    let p = &state.portal;
    let now = chrono::Utc::now();
    let member = match who {
        Ok(s) => Some(s.member),
        Err(NoIdentity::SignedOut) => None,
        Err(e) => return e.into_response(),
    };
    let role = match authorize(member.as_ref().map(|m| m.role), Action::ExportOptedIn) {
        Ok(r) => r,
        Err(portal_core::access::Denied::SignInRequired) => {
            return Redirect::to("/staff/signin").into_response();
        }
        Err(portal_core::access::Denied::Forbidden) => {
            return StatusCode::FORBIDDEN.into_response();
        }
    };
    let Some(member) = member else {
        return StatusCode::FORBIDDEN.into_response();
    };
    let Ok(channel) = Purpose::parse(&q.channel) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let by = Actor::Staff {
        id: member.id,
        role,
    };
    let csv = match consents::export_opted_in(p, by, channel, now).await {
        Ok(csv) => csv,
        Err(portal_core::CoreError::Invalid(_) | portal_core::CoreError::Refused(_)) => {
            return StatusCode::BAD_REQUEST.into_response();
        }
        Err(e) => {
            tracing::error!(error = %e, "opted-in export failed or not audited; refused");
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
    };
    let disposition = format!("attachment; filename=\"{}.csv\"", channel.code());
    let mut resp = (StatusCode::OK, csv).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    resp
}

/// A dead download link, in both languages (no page context here).
fn gone() -> Response {
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "该下载链接已失效（72 小时内有效，最多下载 3 次）。\nThis download link no longer works (it lasts 72 hours and 3 downloads).\n",
    )
        .into_response()
}

/// Readiness: 200 when the database answers, 503 when it does not (asked again each time, so it
/// recovers by itself) or while the process drains for shutdown.
async fn healthz(State(state): State<AppState>) -> Response {
    if state.portal.draining() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({"status": "draining"})),
        )
            .into_response();
    }
    if state.portal.database_ok().await {
        (
            StatusCode::OK,
            Json(serde_json::json!({"status": "ok", "database": "ok"})),
        )
            .into_response()
    } else {
        tracing::warn!("health check: database unreachable");
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({"status": "unavailable", "database": "unreachable"})),
        )
            .into_response()
    }
}

/// Liveness, with no I/O at all; also the bare handler `make bench` compares pages against.
async fn livez() -> &'static str {
    "ok"
}

#[derive(Deserialize)]
struct LangForm {
    lang: String,
    #[serde(default)]
    next: String,
}

/// Remembers the chosen language in a cookie and goes back to the page the visitor was on.
async fn set_lang(State(state): State<AppState>, Form(form): Form<LangForm>) -> Response {
    let mut resp = Redirect::to(safe_next(&form.next)).into_response();
    // An unknown language changes nothing: the visitor just lands back where they were.
    if let Some(lang) = Lang::from_tag(&form.lang)
        && let Some(v) = Cookie::Lang.set(&state.portal, lang.code(), 31_536_000)
    {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
    resp
}

/// Only same-site relative paths of plain ASCII reach `Location`: `//evil`, `/\evil`, schemes,
/// control characters, spaces, non-ASCII (say a `%FF` the form decoding made into a character)
/// and a `%` not followed by two hex digits all go home.
pub(crate) fn safe_next(next: &str) -> &str {
    const ALLOWED: &[u8] = b"-._~/?&=+#:@!$'()*,;%";
    let bytes = next.as_bytes();
    let percent_ok = bytes.iter().enumerate().all(|(i, &b)| {
        b != b'%'
            || (bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit))
    });
    let ok = next.starts_with('/')
        && !next.starts_with("//")
        && next.len() <= 512
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || ALLOWED.contains(b))
        && percent_ok;
    if ok { next } else { "/" }
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn only_local_relative_paths_are_followed_after_switching_language() {
        assert_eq!(safe_next("/privacy/2"), "/privacy/2");
        assert_eq!(safe_next("/me/requests?done=1#x"), "/me/requests?done=1#x");
        assert_eq!(safe_next("/caf%C3%A9"), "/caf%C3%A9");
        for evil in [
            "/\u{FFFD}",
            "/café",
            "/%FF%",
            "/%G0",
            "/a b",
            "/a\tb",
            "/a\"b",
            "/<script>",
            "//evil.example",
            "/\\evil.example",
            "https://evil.example",
            "javascript:alert(1)",
            "",
            "/a\r\nb",
            "privacy",
        ] {
            assert_eq!(safe_next(evil), "/", "{evil:?}");
        }
    }
}
