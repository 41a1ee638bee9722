//! Plain axum routes: health, the language switch, and the bare handler for benchmarks.

use app::i18n::{LANG_COOKIE, Lang};
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
}

/// Readiness: 200 when the database answers, 503 when it does not.
async fn healthz(State(state): State<AppState>) -> Response {
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
    if let Some(lang) = Lang::from_tag(&form.lang) {
        let secure = if state.portal.settings.cookies_secure() {
            "; Secure"
        } else {
            ""
        };
        let cookie = format!(
            "{LANG_COOKIE}={}; Path=/; Max-Age=31536000; SameSite=Lax; HttpOnly{secure}",
            lang.code()
        );
        if let Ok(v) = HeaderValue::from_str(&cookie) {
            resp.headers_mut().insert(header::SET_COOKIE, v);
        }
    }
    resp
}

/// Only same-site relative paths: `//evil`, `/\evil`, schemes and control characters go home.
pub(crate) fn safe_next(next: &str) -> &str {
    let ok = next.starts_with('/')
        && !next.starts_with("//")
        && !next.starts_with("/\\")
        && !next.chars().any(|c| c.is_control() || c == '\\')
        && next.len() <= 512;
    if ok { next } else { "/" }
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn only_local_relative_paths_are_followed_after_switching_language() {
        assert_eq!(safe_next("/privacy/2"), "/privacy/2");
        for evil in [
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
