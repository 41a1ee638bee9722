//! A short-lived cache of the rendered public pages (the privacy notice), so that the page most
//! fetched by strangers costs no database query and no render.
//!
//! Only anonymous GETs are cached (no cookie but `lang`, no query string), only `200` answers, per
//! path and language. Each page carries a CSP nonce; the cached copy remembers the nonce it was
//! rendered with and every hit swaps in the nonce of the current response. An entry lives
//! [`TTL`], or until this process publishes a new notice (other replicas catch up within TTL).

use std::{
    collections::HashMap,
    sync::{Arc, RwLock},
    time::{Duration, Instant},
};

use app::i18n::{LANG_COOKIE, Lang};
use axum::{
    body::{Body, Bytes},
    extract::Request,
    http::{HeaderValue, Method, StatusCode, header},
    middleware::Next,
    response::Response,
};
use leptos::nonce::Nonce;
use portal_core::Portal;

/// How long a rendered page is served from memory.
pub const TTL: Duration = Duration::from_secs(5);
/// Rendered notices are a few KiB; anything larger is not cached.
const MAX_BODY: usize = 256 * 1024;

struct Entry {
    body: String,
    nonce: String,
    content_type: HeaderValue,
    stored: Instant,
    generation: u64,
}

/// The cache, shared by every request of the process.
#[derive(Clone, Default)]
pub struct PageCache(Arc<RwLock<HashMap<(String, Lang), Entry>>>);

fn cacheable_path(path: &str) -> bool {
    path == "/privacy"
        || path
            .strip_prefix("/privacy/")
            .is_some_and(|v| !v.is_empty() && v.len() <= 9 && v.bytes().all(|b| b.is_ascii_digit()))
}

/// The page language if the request is anonymous and cacheable, else `None`.
fn cache_key(req: &Request) -> Option<(String, Lang)> {
    if req.method() != Method::GET
        || req.uri().query().is_some()
        || !cacheable_path(req.uri().path())
    {
        return None;
    }
    let headers = req.headers();
    let mut lang_cookie = None;
    for value in headers.get_all(header::COOKIE) {
        for kv in value.to_str().ok()?.split(';') {
            match kv.trim().split_once('=') {
                Some((LANG_COOKIE, v)) => lang_cookie = Some(v.to_owned()),
                // Any other cookie may be a session: never serve such a visitor a shared copy.
                _ if kv.trim().is_empty() => {}
                _ => return None,
            }
        }
    }
    let accept = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok());
    Some((
        req.uri().path().to_owned(),
        Lang::negotiate(lang_cookie.as_deref(), accept),
    ))
}

fn html(body: String, content_type: HeaderValue) -> Response {
    let mut resp = Response::new(Body::from(body));
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, content_type);
    resp
}

/// The middleware: serve a fresh copy, or render and keep one.
pub async fn serve(cache: PageCache, portal: Portal, req: Request, next: Next) -> Response {
    let Some(key) = cache_key(&req) else {
        return next.run(req).await;
    };
    let Some(nonce) = req.extensions().get::<Nonce>().map(|n| n.to_string()) else {
        return next.run(req).await;
    };
    let generation = portal.notice_generation();
    if let Ok(map) = cache.0.read()
        && let Some(e) = map.get(&key)
        && e.generation == generation
        && e.stored.elapsed() < TTL
    {
        return html(e.body.replace(&e.nonce, &nonce), e.content_type.clone());
    }
    let resp = next.run(req).await;
    if resp.status() != StatusCode::OK {
        return resp;
    }
    let (parts, body) = resp.into_parts();
    let bytes: Bytes = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(_) => return Response::from_parts(parts, Body::empty()),
    };
    if let (Ok(text), Some(ct)) = (
        std::str::from_utf8(&bytes),
        parts.headers.get(header::CONTENT_TYPE),
    ) && text.contains(&nonce)
        && let Ok(mut map) = cache.0.write()
    {
        map.insert(
            key,
            Entry {
                body: text.to_owned(),
                nonce,
                content_type: ct.clone(),
                stored: Instant::now(),
                generation,
            },
        );
    }
    Response::from_parts(parts, Body::from(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(path: &str, cookie: Option<&str>) -> Request {
        let mut b = Request::builder().uri(path).header("accept-language", "en");
        if let Some(c) = cookie {
            b = b.header("cookie", c);
        }
        b.body(Body::empty()).unwrap()
    }

    #[test]
    fn only_anonymous_notice_pages_are_cached() {
        assert_eq!(
            cache_key(&req("/privacy", None)),
            Some(("/privacy".into(), Lang::En))
        );
        assert_eq!(
            cache_key(&req("/privacy/2", Some("lang=zh"))),
            Some(("/privacy/2".into(), Lang::Zh))
        );
        assert_eq!(
            cache_key(&req("/privacy", Some("lang=zh; session=abc"))),
            None
        );
        assert_eq!(cache_key(&req("/privacy?x=1", None)), None);
        assert_eq!(cache_key(&req("/privacy/abc", None)), None);
        assert_eq!(cache_key(&req("/", None)), None);
        assert_eq!(cache_key(&req("/dev/mailbox", None)), None);
    }
}
