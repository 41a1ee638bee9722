//! The consent API for marketing tools (`/api/v1`): keys only in the `Authorization` header,
//! scoped and rate-limited; errors as JSON with a stable code. No cookies, no Origin check (not
//! a browser API), its own body limit (read only after the key is checked).

use axum::{
    Json, Router,
    body::Bytes,
    extract::{Query, State},
    http::{HeaderMap, StatusCode, Uri, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use chrono::Utc;
use portal_core::{
    apikeys::{self, ApiKey, Scope},
    consents::{self, Purpose},
};
use serde::{Deserialize, Serialize};
use utoipa::{
    Modify, OpenApi, ToSchema,
    openapi::security::{Http, HttpAuthScheme, SecurityScheme},
};

use crate::AppState;

/// Largest request body the API takes (10,000 contacts of up to 254 characters, as JSON).
pub const API_BODY_LIMIT: usize = 4 * 1024 * 1024;
/// Contacts per check.
pub const MAX_CONTACTS: usize = 10_000;

/// Calls per key per minute (`PORTAL_API_CALLS_PER_MINUTE`), kept in this process's memory:
/// the limit protects the server's capacity, so each replica guards its own, and a call costs
/// one atomic update instead of a database write. GCRA (governor): a burst of the whole
/// minute's allowance, then one call per 60 s / limit, the same sustained rate as the sliding
/// window of database rows it replaces.
pub struct ApiLimiter {
    per_key: governor::RateLimiter<
        i64,
        governor::state::keyed::DefaultKeyedStateStore<i64>,
        governor::clock::DefaultClock,
    >,
    /// Checks with a body over [`SMALL_BODY`] run this many at a time: one per core.
    large_checks: tokio::sync::Semaphore,
}

/// A body up to this size (a few hundred contacts) is checked without waiting for a permit.
const SMALL_BODY: u64 = 16 * 1024;

impl ApiLimiter {
    /// A limiter allowing `per_minute` calls per key (clamped to at least one).
    pub fn new(per_minute: i64) -> Self {
        let n = u32::try_from(per_minute.max(1)).unwrap_or(u32::MAX);
        let n = std::num::NonZeroU32::new(n).unwrap_or(std::num::NonZeroU32::MIN);
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Self {
            per_key: governor::RateLimiter::keyed(governor::Quota::per_minute(n)),
            large_checks: tokio::sync::Semaphore::new(cores),
        }
    }

    /// Counts a call of key `id`; false when the key is over its rate.
    pub fn allows(&self, id: i64) -> bool {
        self.per_key.check_key(&id).is_ok()
    }
}

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/consent/check", post(check))
        .route("/api/v1/consent/changes", get(changes))
        .route("/api/v1/openapi.json", get(openapi))
}

/// The OpenAPI document, generated from the handlers and types below.
#[derive(OpenApi)]
#[openapi(
    info(title = "Salon Privacy Portal consent API", version = "1"),
    paths(check, changes),
    components(schemas(CheckBody, CheckAnswer, CheckResult, ChangesAnswer, WithdrawalItem, ErrorBody, ErrorDetail)),
    modifiers(&BearerKey)
)]
pub struct ApiDoc;

struct BearerKey;

impl Modify for BearerKey {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        if let Some(c) = doc.components.as_mut() {
            c.add_security_scheme(
                "api_key",
                SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
            );
        }
    }
}

/// `GET /api/v1/openapi.json`.
async fn openapi() -> Response {
    Json(ApiDoc::openapi()).into_response()
}

/// The error body: a stable code for programs, a message for people.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    error: ErrorDetail,
}

/// One error.
#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    /// `key_in_query`, `missing_key`, `invalid_key`, `scope`, `rate_limited`, `bad_body`,
    /// `body_too_large`, `unknown_purpose`, `too_many_contacts`, `bad_cursor`, `unavailable`.
    code: String,
    message: String,
}

/// An API error: a status and a stable code (plus a human message).
pub struct ApiError(StatusCode, &'static str, &'static str);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.1.to_owned(),
                message: self.2.to_owned(),
            },
        };
        let mut r = (self.0, Json(body)).into_response();
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
    if !state.api_limiter.allows(key.id) {
        portal_core::ops::refused(portal_core::ops::Throttle::ApiKey);
        return Err(ApiError(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "too many calls; slow down",
        ));
    }
    Ok(key)
}

/// A bulk check.
#[derive(Deserialize, ToSchema)]
pub struct CheckBody {
    /// One of `marketing_sms`, `marketing_email`, `marketing_wechat`, `photos_portfolio`,
    /// `photos_social`, `sensitive_notes`.
    purpose: String,
    /// Up to 10,000 email addresses or phone numbers.
    contacts: Vec<String>,
}

/// The answer, in the order asked.
#[derive(Serialize, ToSchema)]
pub struct CheckAnswer {
    purpose: String,
    results: Vec<CheckResult>,
}

/// One contact's answer: nothing but yes or no.
#[derive(Serialize, ToSchema)]
pub struct CheckResult {
    contact: String,
    /// False for unknown, restricted, erased (suppressed) and withdrawn contacts.
    may_contact: bool,
}

/// Withdrawals after a cursor.
#[derive(Serialize, ToSchema)]
pub struct ChangesAnswer {
    withdrawals: Vec<WithdrawalItem>,
    /// Pass as `since` on the next call.
    next: String,
}

/// One withdrawal.
#[derive(Serialize, ToSchema)]
pub struct WithdrawalItem {
    cursor: i64,
    purpose: String,
    /// RFC 3339.
    at: String,
    email: Option<String>,
    phone: Option<String>,
}

/// Whether each contact may be contacted for a purpose.
#[utoipa::path(
    post,
    path = "/api/v1/consent/check",
    request_body = CheckBody,
    responses(
        (status = 200, body = CheckAnswer),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 413, body = ErrorBody),
        (status = 429, body = ErrorBody)
    ),
    security(("api_key" = []))
)]
async fn check(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    body: axum::body::Body,
) -> Result<Response, ApiError> {
    // The key first: without one, nothing of the body is read, whatever its size or shape.
    authorize(&state, &headers, &uri, Scope::ConsentCheck).await?;
    let bytes = read_body(&headers, body).await?;
    // A large check is all CPU (blind indexes, JSON): one per core at a time finishes as soon as
    // many at once would, and memory holds a few parsed lists and answers instead of one per
    // caller. Taken once the body is in, so a slow upload holds no permit.
    let _permit = match bytes.len() as u64 <= SMALL_BODY {
        true => None,
        false => Some(
            state
                .api_limiter
                .large_checks
                .acquire()
                .await
                .map_err(|_| internal(portal_core::CoreError::internal("api.permits", "closed")))?,
        ),
    };
    let Ok(body) = serde_json::from_slice::<CheckBody>(&bytes) else {
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
    let results = body
        .contacts
        .into_iter()
        .zip(answers)
        .map(|(contact, may_contact)| CheckResult {
            contact,
            may_contact,
        })
        .collect();
    Ok(Json(CheckAnswer {
        purpose: purpose.code().to_owned(),
        results,
    })
    .into_response())
}

/// Reads a body of at most [`API_BODY_LIMIT`] bytes, announced or chunked; past it, 413.
async fn read_body(headers: &HeaderMap, body: axum::body::Body) -> Result<Bytes, ApiError> {
    use http_body_util::BodyExt;
    let too_large = ApiError(
        StatusCode::PAYLOAD_TOO_LARGE,
        "body_too_large",
        "the body may be at most 4 MiB",
    );
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > API_BODY_LIMIT as u64) {
        return Err(too_large);
    }
    match http_body_util::Limited::new(body, API_BODY_LIMIT)
        .collect()
        .await
    {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(too_large),
        Err(_) => Err(ApiError(
            StatusCode::BAD_REQUEST,
            "bad_body",
            "the body could not be read",
        )),
    }
}

#[derive(Deserialize)]
struct ChangesQuery {
    since: Option<String>,
}

/// Withdrawals after the cursor, oldest first (at most 1,000 per call).
#[utoipa::path(
    get,
    path = "/api/v1/consent/changes",
    params(("since" = Option<String>, Query, description = "a cursor from an earlier answer")),
    responses(
        (status = 200, body = ChangesAnswer),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 429, body = ErrorBody)
    ),
    security(("api_key" = []))
)]
async fn changes(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, ApiError> {
    authorize(&state, &headers, &uri, Scope::ConsentChanges).await?;
    // The query is read after the key, like the check's body.
    let Ok(Query(q)) = Query::<ChangesQuery>::try_from_uri(&uri) else {
        return Err(ApiError(
            StatusCode::BAD_REQUEST,
            "bad_cursor",
            "since must be a cursor from an earlier answer",
        ));
    };
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
    let withdrawals = items
        .into_iter()
        .map(|w| WithdrawalItem {
            cursor: w.cursor,
            purpose: w.purpose.code().to_owned(),
            at: w.at.to_rfc3339(),
            email: w.email,
            phone: w.phone,
        })
        .collect();
    Ok(Json(ChangesAnswer {
        withdrawals,
        next: next.to_string(),
    })
    .into_response())
}
