//! Protections every route inherits (security.md): security headers, the Origin check on
//! state-changing requests, body limits, request logs without personal values, and the dev
//! mailbox hidden outside dev mode.

use std::sync::Arc;

use axum::{
    body::Body,
    extract::Request,
    http::{HeaderValue, Method, StatusCode, header},
    middleware::{self, Next},
    response::{IntoResponse, Response},
};
use http_body_util::BodyExt;
use portal_core::Settings;
use tower::ServiceBuilder;
use tower_http::trace::{DefaultOnResponse, TraceLayer};

/// Largest request body accepted anywhere (forms and server functions are small).
pub const BODY_LIMIT: usize = 64 * 1024;

/// Wraps `router` in the protections, outermost first: logging, headers, real redirects,
/// server-function statuses, Origin, GETs with effects, body limit.
pub(crate) fn apply(router: axum::Router, settings: Arc<Settings>) -> axum::Router {
    let for_headers = Arc::clone(&settings);
    router.layer(
        ServiceBuilder::new()
            .layer(
                // Method and path only: no query string, headers or body (personal data lives there).
                TraceLayer::new_for_http()
                    .make_span_with(|req: &Request| {
                        tracing::info_span!("http", method = %req.method(), path = %req.uri().path())
                    })
                    .on_response(DefaultOnResponse::new().level(tracing::Level::INFO)),
            )
            .layer(middleware::from_fn(move |req, next| {
                security_headers(Arc::clone(&for_headers), req, next)
            }))
            .layer(middleware::from_fn(real_redirects))
            .layer(middleware::from_fn(server_fn_status))
            .layer(middleware::from_fn(move |req, next| {
                same_origin_only(Arc::clone(&settings), req, next)
            }))
            .layer(middleware::from_fn(no_cross_site_effects))
            .layer(middleware::from_fn(|req, next| {
                limit_body(BODY_LIMIT, req, next)
            })),
    )
}

/// The API's protections: the same request logs and headers, and no Origin check (callers are
/// tools with keys, not browsers; keys never travel in cookies). No body limit here: the API
/// checks the key before it reads a body, and reads at most `API_BODY_LIMIT` of it.
pub(crate) fn apply_api(router: axum::Router, settings: Arc<Settings>) -> axum::Router {
    router.layer(
        ServiceBuilder::new()
            .layer(
                TraceLayer::new_for_http()
                    .make_span_with(|req: &Request| {
                        tracing::info_span!("http", method = %req.method(), path = %req.uri().path())
                    })
                    .on_response(DefaultOnResponse::new().level(tracing::Level::INFO)),
            )
            .layer(middleware::from_fn(move |req, next| {
                security_headers(Arc::clone(&settings), req, next)
            })),
    )
}

/// The policy for HTML pages: scripts only from us or inline with this response's nonce
/// (Leptos' hydration and resource scripts), and `wasm-unsafe-eval` for the wasm bundle.
fn page_csp(nonce: &str) -> Option<HeaderValue> {
    HeaderValue::from_str(&format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; style-src 'self'; \
         img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; \
         frame-ancestors 'none'; form-action 'self'"
    ))
    .ok()
}

/// Everything that is not a page gets the strictest policy.
const STRICT_CSP: &str =
    "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

async fn security_headers(settings: Arc<Settings>, mut req: Request, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    // One nonce per response, written here so the header and the page can never disagree.
    let nonce = leptos::nonce::Nonce::new();
    // The hidden dev mailbox answers a bare 404, but with every header below like any answer.
    let mut resp = if is_dev_mailbox(&path) && !dev_mailbox_request(&settings, req.headers()) {
        StatusCode::NOT_FOUND.into_response()
    } else {
        req.extensions_mut().insert(nonce.clone());
        next.run(req).await
    };
    let is_html = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"text/html"));
    let csp = if is_html { page_csp(&nonce) } else { None };
    resp.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        csp.unwrap_or(HeaderValue::from_static(STRICT_CSP)),
    );
    let h = resp.headers_mut();
    let set = |h: &mut axum::http::HeaderMap, name, value: &'static str| {
        h.insert(name, HeaderValue::from_static(value));
    };
    set(h, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(h, header::REFERRER_POLICY, "no-referrer");
    set(h, header::X_FRAME_OPTIONS, "DENY");
    set(
        h,
        header::HeaderName::from_static("cross-origin-opener-policy"),
        "same-origin",
    );
    set(
        h,
        header::HeaderName::from_static("permissions-policy"),
        "camera=(), microphone=(), geolocation=(), interest-cohort=()",
    );
    if settings.public_url.scheme() == "https" {
        set(
            h,
            header::STRICT_TRANSPORT_SECURITY,
            "max-age=31536000; includeSubDomains",
        );
    }
    // Built assets are public and say how long they keep (assets::serve); everything else
    // may show personal data.
    if !path.starts_with("/pkg/") && !path.starts_with("/favicon") {
        set(h, header::CACHE_CONTROL, "no-store");
    }
    resp
}

/// The dev mailbox's page and its server function.
fn is_dev_mailbox(path: &str) -> bool {
    use leptos::server_fn::ServerFn;
    path.starts_with("/dev/") || path == app::mailbox::DevMailbox::PATH
}

/// Whether a request may see the dev mailbox: only when it is switched on, and only when the
/// request names this machine's own public host (`Host`) and came through no proxy, so that
/// neither a proxy in front nor a page on a rebound DNS name can read the links and codes.
fn dev_mailbox_request(settings: &Settings, headers: &axum::http::HeaderMap) -> bool {
    let expected = settings
        .public_url
        .host_str()
        .map(|h| match settings.public_url.port() {
            Some(p) => format!("{h}:{p}"),
            None => h.to_owned(),
        });
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    settings.dev_mailbox()
        && host.is_some()
        && host.map(str::to_owned) == expected
        && !headers.contains_key("x-forwarded-for")
        && !headers.contains_key(header::FORWARDED)
}

/// Refuses a state-changing request that a browser says came from another site (CSRF).
async fn same_origin_only(settings: Arc<Settings>, req: Request, next: Next) -> Response {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return next.run(req).await;
    }
    let headers = req.headers();
    let fetch_site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok());
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    let allowed = match (fetch_site, origin) {
        // The browser's own verdict is the most reliable signal when present.
        (Some(site), _) => site == "same-origin",
        (None, Some(origin)) => origin == settings.public_origin(),
        // Browsers send at least one of them on every POST; anything else is not a browser
        // form we serve, and the API (with its keys) lives under its own rules.
        (None, None) => false,
    };
    if allowed {
        next.run(req).await
    } else {
        tracing::warn!(method = %req.method(), path = %req.uri().path(), "cross-origin request refused");
        let mut resp = Response::new(Body::from("cross-origin request refused\n跨站请求已拒绝\n"));
        *resp.status_mut() = StatusCode::FORBIDDEN;
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        resp
    }
}

/// Whether a GET of `path` counts, audits or downloads: every staff page (its server functions
/// audit reads as the page renders) and the CSV export, and the customer's export download
/// (each one is counted). The staff sign-in and invitation pages are entrances, opened from mail.
fn get_has_effects(path: &str) -> bool {
    let staff = path == "/staff" || path.starts_with("/staff/");
    let entrance = matches!(path, "/staff/signin" | "/staff/invite");
    (staff && !entrance) || path.starts_with("/me/exports/")
}

/// Refuses a GET with effects that another site started (a link or a redirect from elsewhere
/// carries the `SameSite=Lax` cookies along). Browsers always send `Sec-Fetch-Site`: only
/// `same-origin` and `none` (typed, bookmarked) pass; tools without it are not browsers and
/// carry no one's cookies by accident. The refusal offers a link on this site, so a person
/// who meant to come here goes on with one click, and nothing has happened in between.
async fn no_cross_site_effects(req: Request, next: Next) -> Response {
    let is_get = matches!(*req.method(), Method::GET | Method::HEAD);
    if !is_get || !get_has_effects(req.uri().path()) {
        return next.run(req).await;
    }
    let site = req.headers().get("sec-fetch-site").map(|v| v.as_bytes());
    if matches!(site, None | Some(b"same-origin") | Some(b"none")) {
        return next.run(req).await;
    }
    tracing::warn!(path = %req.uri().path(), "cross-site navigation to a page with effects refused");
    let target = req
        .uri()
        .path_and_query()
        .map_or("/", |pq| pq.as_str())
        .to_owned();
    let href = html_escape(&target);
    let body = format!(
        "<!DOCTYPE html>\n<html lang=\"zh-CN\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>继续 / Continue</title></head><body><main>\
         <p>此链接来自其他网站。<a href=\"{href}\">继续打开此页面</a></p>\
         <p lang=\"en\">This link came from another site. <a href=\"{href}\">Open the page</a></p>\
         </main></body></html>\n"
    );
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = StatusCode::FORBIDDEN;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    resp
}

/// Escapes text for an HTML attribute or element.
fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Refuses a body over `limit` with 413, whether it announces its length or arrives in chunks.
/// The body is read here (it is small) so that a handler never meets the limit halfway through
/// reading, where a server function would report it as its own failure.
async fn limit_body(limit: usize, req: Request, next: Next) -> Response {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return plain(StatusCode::PAYLOAD_TOO_LARGE, "request body too large\n");
    }
    let (parts, body) = req.into_parts();
    match http_body_util::Limited::new(body, limit).collect().await {
        Ok(collected) => {
            next.run(Request::from_parts(parts, Body::from(collected.to_bytes())))
                .await
        }
        Err(e) if e.is::<http_body_util::LengthLimitError>() => {
            plain(StatusCode::PAYLOAD_TOO_LARGE, "request body too large\n")
        }
        // The client broke off or sent a malformed body.
        Err(_) => plain(StatusCode::BAD_REQUEST, "unreadable request body\n"),
    }
}

/// Gives a failed server function the status its error stands for. The server-function layer
/// answers 500 for every error; [`app::PortalError::status`] is the one mapping, so only the
/// portal's own faults stay 500. Form posts (answered with a redirect) keep their redirect.
async fn server_fn_status(req: Request, next: Next) -> Response {
    use leptos::server_fn::error::SERVER_FN_ERROR_HEADER;
    let resp = next.run(req).await;
    if resp.status().is_redirection() || !resp.headers().contains_key(SERVER_FN_ERROR_HEADER) {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    // The body is the JSON-encoded `PortalError`, a few bytes.
    let Ok(bytes) = axum::body::to_bytes(body, BODY_LIMIT).await else {
        return plain(StatusCode::INTERNAL_SERVER_ERROR, "internal error\n");
    };
    if let Ok(error) = serde_json::from_slice::<app::PortalError>(&bytes)
        && let Ok(status) = StatusCode::from_u16(error.status())
    {
        parts.status = status;
    }
    Response::from_parts(parts, Body::from(bytes))
}

/// Makes a GET that names a `Location` a real redirect. `leptos_axum::redirect` sets the 302
/// only when the request accepts HTML and otherwise leaves the status (200, or the 401 of the
/// staff gate) for its own client, which calls server functions with POST, never pages with
/// GET. A GET with a `Location` is always a page or route that sends the visitor elsewhere.
async fn real_redirects(req: Request, next: Next) -> Response {
    let is_get = matches!(*req.method(), Method::GET | Method::HEAD);
    let mut resp = next.run(req).await;
    if is_get && !resp.status().is_redirection() && resp.headers().contains_key(header::LOCATION) {
        *resp.status_mut() = StatusCode::FOUND;
        // Leptos' hint to its own client ("redirect after this call") means nothing here.
        resp.headers_mut().remove("serverfnredirect");
    }
    resp
}

/// A short plain-text answer (no page context here).
fn plain(status: StatusCode, text: &'static str) -> Response {
    let mut resp = Response::new(Body::from(text));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}

/// Answers 503 for a page or form that has not answered within `limit`, instead of letting it
/// hang: a render waiting on a database that stopped answering, or any stall of the renderer,
/// costs the customer a clear "try again", and the proxy can send the next request elsewhere.
/// The render is dropped (cancelled) with its database calls.
pub async fn time_limit(limit: std::time::Duration, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(resp) => resp,
        Err(_) => {
            // The path names a page, never a person (no personal data in URLs).
            tracing::error!(path = %path, limit_ms = limit.as_millis() as u64, "page timed out");
            let mut resp = (
                StatusCode::SERVICE_UNAVAILABLE,
                [(header::RETRY_AFTER, "5")],
                axum::response::Html(
                    "<!doctype html><html lang=\"zh\"><meta charset=\"utf-8\"><title>请稍后再试 · Please try again</title><main><h1>请稍后再试</h1><p>页面暂时没有响应，请几秒后再试。</p><h1 lang=\"en\">Please try again</h1><p lang=\"en\">The page is not answering right now. Please try again in a few seconds.</p></main></html>",
                ),
            )
                .into_response();
            resp.headers_mut().insert(
                header::CACHE_CONTROL,
                http::HeaderValue::from_static("no-store"),
            );
            resp
        }
    }
}
