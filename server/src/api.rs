//! The consent API for marketing tools (`/api/v1`): keys only in the `Authorization` header,
//! scoped and rate-limited; errors as JSON with a stable code. No cookies, no Origin check (not
//! a browser API), its own body limit.

use axum::{
    Json, Router,
    extract::{Query, State},
    http::{HeaderMap, StatusCode, Uri, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use chrono::Utc;
use portal_core::{
    apikeys::{self, ApiKey, Scope},
    consents::{self, Purpose},
    signin::throttle::{self, Limit},
};
use serde::Deserialize;
use serde_json::json;

use crate::AppState;

/// Largest request body the API takes (10,000 contacts of up to 254 characters, as JSON).
pub const API_BODY_LIMIT: usize = 4 * 1024 * 1024;
/// Contacts per check.
pub const MAX_CONTACTS: usize = 10_000;
/// Calls per key per minute.
pub const PER_KEY: Limit = Limit {
    max: 600,
    window: chrono::Duration::minutes(1),
};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/consent/check", post(check))
        .route("/api/v1/consent/changes", get(changes))
}

/// An API error: a status and a stable code (plus a human message).
pub struct ApiError(StatusCode, &'static str, &'static str);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut r = (
            self.0,
            Json(json!({"error": {"code": self.1, "message": self.2}})),
        )
            .into_response();
        r.headers_mut().insert(
            header::CACHE_CONTROL,
            header::HeaderValue::from_static("no-store"),
        );
        r
    }
}

fn internal(e: portal_core::CoreError) -> ApiError {
    tracing::error!(error = %e, "api request failed");
    ApiError(
        StatusCode::SERVICE_UNAVAILABLE,
        "unavailable",
        "try again later",
    )
}

/// Finds the key (only in `Authorization: Bearer …`; a key in the query string is refused, as it
/// would be written to logs and browser history), checks its scope and its rate.
async fn authorize(
    state: &AppState,
    headers: &HeaderMap,
    uri: &Uri,
    scope: Scope,
) -> Result<ApiKey, ApiError> {
    let query = uri.query().unwrap_or_default().to_ascii_lowercase();
    if ["key=", "api_key=", "apikey=", "token=", "access_token="]
        .iter()
        .any(|k| query.split('&').any(|p| p.starts_with(k)))
        || query.contains(apikeys::PREFIX)
    {
        return Err(ApiError(
            StatusCode::BAD_REQUEST,
            "key_in_query",
            "send the key in the Authorization header, never in the URL",
        ));
    }
    let Some(presented) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    else {
        return Err(ApiError(
            StatusCode::UNAUTHORIZED,
            "missing_key",
            "Authorization: Bearer <key> is required",
        ));
    };
    let p = &state.portal;
    let now = Utc::now();
    let Some(key) = apikeys::authenticate(&p.db, presented.trim(), now)
        .await
        .map_err(internal)?
    else {
        return Err(ApiError(
            StatusCode::UNAUTHORIZED,
            "invalid_key",
            "unknown or revoked key",
        ));
    };
    if !key.scopes.contains(&scope) {
        return Err(ApiError(
            StatusCode::FORBIDDEN,
            "scope",
            "this key may not use this endpoint",
        ));
    }
    let bucket = p.vault.index("throttle/apikey", &key.id.to_string());
    if !throttle::hit(&p.db, &bucket, PER_KEY, now)
        .await
        .map_err(internal)?
    {
        return Err(ApiError(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "too many calls; slow down",
        ));
    }
    Ok(key)
}

#[derive(Deserialize)]
struct CheckBody {
    purpose: String,
    contacts: Vec<String>,
}

/// `POST /api/v1/consent/check`: `{"purpose": "marketing_email", "contacts": [...]}` →
/// `{"purpose": ..., "results": [{"contact": ..., "may_contact": bool}]}` in the same order.
async fn check(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    body: Result<Json<CheckBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    authorize(&state, &headers, &uri, Scope::ConsentCheck).await?;
    let Ok(Json(body)) = body else {
        return Err(ApiError(
            StatusCode::BAD_REQUEST,
            "bad_body",
            "expected {\"purpose\": ..., \"contacts\": [...]}",
        ));
    };
    let Ok(purpose) = Purpose::parse(&body.purpose) else {
        return Err(ApiError(
            StatusCode::BAD_REQUEST,
            "unknown_purpose",
            "purpose must be one of the six consent purposes",
        ));
    };
    if body.contacts.len() > MAX_CONTACTS {
        return Err(ApiError(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_many_contacts",
            "at most 10,000 contacts per call",
        ));
    }
    let answers = consents::may_contact(&state.portal, purpose, &body.contacts)
        .await
        .map_err(internal)?;
    let results: Vec<_> = body
        .contacts
        .into_iter()
        .zip(answers)
        .map(|(contact, may)| json!({"contact": contact, "may_contact": may}))
        .collect();
    Ok(Json(json!({"purpose": purpose.code(), "results": results})).into_response())
}

#[derive(Deserialize)]
struct ChangesQuery {
    since: Option<String>,
}

/// `GET /api/v1/consent/changes?since=CURSOR`: withdrawals after the cursor, oldest first, with
/// `next` to pass as `since` on the following call.
async fn changes(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    Query(q): Query<ChangesQuery>,
) -> Result<Response, ApiError> {
    authorize(&state, &headers, &uri, Scope::ConsentChanges).await?;
    let since = match q.since.as_deref() {
        None | Some("") => 0,
        Some(s) => s.parse::<i64>().map_err(|_| {
            ApiError(
                StatusCode::BAD_REQUEST,
                "bad_cursor",
                "since must be a cursor from an earlier answer",
            )
        })?,
    };
    let items = consents::withdrawals_since(&state.portal, since, 1000)
        .await
        .map_err(internal)?;
    let next = items.last().map_or(since, |w| w.cursor);
    Ok(Json(json!({"withdrawals": items, "next": next.to_string()})).into_response())
}
