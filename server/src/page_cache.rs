//! Short-lived caches of rendered pages: the public ones (the privacy notice), so that the page
//! most fetched by strangers costs no database query and no render; and a signed-in customer's
//! own pages ([`MyPages`]), so that theirs costs one.
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
use app::identity::{CustomerSession, portal_cookies};
use axum::{
    body::{Body, Bytes},
    extract::Request,
    http::{HeaderValue, Method, StatusCode, header},
    middleware::Next,
    response::Response,
};
use leptos::nonce::Nonce;
use portal_core::{Portal, sessions::PageVersion};

/// How long a rendered page is served from memory.
pub const TTL: Duration = Duration::from_secs(5);
/// Rendered pages are tens of KiB; anything larger is sent but not kept.
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
    let (resp, rendered) = capture(next.run(req).await, &nonce).await;
    if let Some((body, content_type)) = rendered
        && let Ok(mut map) = cache.0.write()
    {
        map.insert(
            key,
            Entry {
                body,
                nonce,
                content_type,
                stored: Instant::now(),
                generation,
            },
        );
    }
    resp
}

/// The response, and its page when it may be kept: a `200` HTML page of at most [`MAX_BODY`]
/// that carries `nonce` (so each hit can swap in its own) and sets no cookie.
async fn capture(resp: Response, nonce: &str) -> (Response, Option<(String, HeaderValue)>) {
    // A server function's redirect can leave a 200 with a `Location` for a later layer to turn
    // into a 302: never a page to keep.
    if resp.status() != StatusCode::OK
        || resp.headers().contains_key(header::SET_COOKIE)
        || resp.headers().contains_key(header::LOCATION)
        || resp.headers().contains_key("serverfnredirect")
    {
        return (resp, None);
    }
    let (parts, body) = resp.into_parts();
    // Our own render, sent whole anyway: read it all (a limit here once cut a long page to
    // nothing), and keep only what fits.
    let bytes: Bytes = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(b) => b,
        Err(e) => {
            tracing::warn!(error = %e, "page body unreadable");
            let mut resp = Response::from_parts(parts, Body::empty());
            *resp.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
            return (resp, None);
        }
    };
    if bytes.len() > MAX_BODY {
        return (Response::from_parts(parts, Body::from(bytes)), None);
    }
    let kept = match (
        std::str::from_utf8(&bytes),
        parts.headers.get(header::CONTENT_TYPE),
    ) {
        (Ok(text), Some(ct)) if text.contains(nonce) => Some((text.to_owned(), ct.clone())),
        _ => None,
    };
    (Response::from_parts(parts, Body::from(bytes)), kept)
}

/// How long a customer's own page may be served from memory while nothing it shows has
/// changed. Writes end an entry at once (their page version moves); this bounds what moves with
/// the clock alone: a date turning, a photo use reaching its end.
pub const MY_TTL: Duration = Duration::from_secs(10);
/// At most this many bytes of customers' pages are held; past it the oldest half goes.
const MY_BUDGET: usize = 16 * 1024 * 1024;

/// The customer pages that show only what is stored (each a read of up to twenty tables).
fn my_page(path: &str) -> bool {
    matches!(path, "/me" | "/me/requests" | "/me/consents" | "/me/photos")
}

struct MyEntry {
    customer: i64,
    session: String,
    version: PageVersion,
    fresh: bool,
    page: Entry,
}

#[derive(Default)]
struct MyPagesInner {
    map: HashMap<(String, u64), MyEntry>,
    bytes: usize,
    swept: Option<Instant>,
}

/// A handle to [`MyPages`] that does not keep it alive (for its sweeping task).
pub struct WeakMyPages(std::sync::Weak<RwLock<MyPagesInner>>);

impl WeakMyPages {
    /// The cache, while anything else holds it.
    pub fn upgrade(&self) -> Option<MyPages> {
        self.0.upgrade().map(MyPages)
    }
}

/// Signed-in customers' own pages, kept per request shape (path, every cookie and the
/// languages asked for) and served again only to the same live session, while the customer's
/// [`PageVersion`] and the freshness of their sign-in are what they were at render time, for at
/// most [`MY_TTL`]. A signed-in page costs one database read (the session, which carries the
/// version) instead of twenty.
#[derive(Clone, Default)]
pub struct MyPages(Arc<RwLock<MyPagesInner>>);

impl MyPages {
    /// A handle that does not keep the cache alive.
    pub fn downgrade(&self) -> WeakMyPages {
        WeakMyPages(Arc::downgrade(&self.0))
    }

    /// Drops what has expired, at most once a [`MY_TTL`]: personal pages do not linger in
    /// memory past their use (a sign-out or an erasure ends their use at once: see
    /// [`serve_mine`]; the background sweep in `lib.rs` covers a portal gone quiet).
    pub fn sweep(&self) {
        let due = self
            .0
            .read()
            .map(|i| i.swept.is_none_or(|t| t.elapsed() >= MY_TTL) && !i.map.is_empty())
            .unwrap_or(false);
        if due && let Ok(mut inner) = self.0.write() {
            inner.map.retain(|_, e| e.page.stored.elapsed() < MY_TTL);
            inner.bytes = inner.bytes_now();
            inner.swept = Some(Instant::now());
        }
    }

    fn remove(&self, key: &(String, u64)) {
        if let Ok(mut inner) = self.0.write()
            && let Some(old) = inner.map.remove(key)
        {
            inner.bytes = inner.bytes.saturating_sub(old.page.body.len());
        }
    }

    fn insert(&self, key: (String, u64), entry: MyEntry) {
        let Ok(mut inner) = self.0.write() else {
            return;
        };
        let now = Instant::now();
        // Personal pages do not linger: whatever has expired goes at each store, once a TTL.
        if inner.swept.is_none_or(|t| now.duration_since(t) >= MY_TTL)
            || inner.bytes + entry.page.body.len() > MY_BUDGET
        {
            inner.map.retain(|_, e| e.page.stored.elapsed() < MY_TTL);
            inner.swept = Some(now);
            if inner.bytes_now() + entry.page.body.len() > MY_BUDGET {
                let mut ages: Vec<Instant> = inner.map.values().map(|e| e.page.stored).collect();
                ages.sort_unstable();
                if let Some(&cut) = ages.get(ages.len() / 2) {
                    inner.map.retain(|_, e| e.page.stored > cut);
                }
            }
            inner.bytes = inner.bytes_now();
        }
        inner.bytes += entry.page.body.len();
        if let Some(old) = inner.map.insert(key, entry) {
            inner.bytes = inner.bytes.saturating_sub(old.page.body.len());
        }
    }

    /// How many pages are held (for tests).
    pub fn len(&self) -> usize {
        self.0.read().map(|i| i.map.len()).unwrap_or(0)
    }

    /// True when no page is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl MyPagesInner {
    fn bytes_now(&self) -> usize {
        self.map.values().map(|e| e.page.body.len()).sum()
    }
}

/// Everything in the request a page could render differently by: the portal's own cookies
/// (a made-up cookie makes no new entry), the languages asked for, and what is accepted (a
/// server function answers a redirect differently to a browser and to a script). The session is
/// matched again on every hit besides.
fn request_shape(req: &Request) -> u64 {
    use std::hash::{BuildHasher, Hash, Hasher};
    static KEYS: std::sync::OnceLock<std::collections::hash_map::RandomState> =
        std::sync::OnceLock::new();
    let mut h = KEYS.get_or_init(Default::default).build_hasher();
    portal_cookies(req.headers()).hash(&mut h);
    for name in [header::ACCEPT_LANGUAGE, header::ACCEPT] {
        0xffu8.hash(&mut h);
        for v in req.headers().get_all(&name) {
            v.as_bytes().hash(&mut h);
        }
    }
    h.finish()
}

/// The middleware for [`MyPages`]: runs inside `remember_identities`, so the session it checks
/// is the one the page would check (looked up once for both).
pub async fn serve_mine(cache: MyPages, portal: Portal, req: Request, next: Next) -> Response {
    if req.method() != Method::GET || req.uri().query().is_some() || !my_page(req.uri().path()) {
        return next.run(req).await;
    }
    let Some(nonce) = req.extensions().get::<Nonce>().map(|n| n.to_string()) else {
        return next.run(req).await;
    };
    let Ok(Some(me)) =
        CustomerSession::from_request(&portal, req.headers(), req.extensions()).await
    else {
        // Signed out, or the check failed: the page itself answers (sign-in, or an error).
        return next.run(req).await;
    };
    let fresh = me
        .session
        .is_fresh(chrono::Utc::now(), portal.settings.fresh_signin());
    cache.sweep();
    let key = (req.uri().path().to_owned(), request_shape(&req));
    let mut stale = false;
    if let Ok(inner) = cache.0.read()
        && let Some(e) = inner.map.get(&key)
    {
        if e.customer == me.customer
            && e.session == me.session.id
            && e.version == me.session.page_version
            && e.fresh == fresh
            && e.page.stored.elapsed() < MY_TTL
        {
            return html(
                e.page.body.replace(&e.page.nonce, &nonce),
                e.page.content_type.clone(),
            );
        }
        stale = true;
    }
    if stale {
        // Out of date, or (a hash collision) someone else's: gone before the render.
        cache.remove(&key);
    }
    let (resp, rendered) = capture(next.run(req).await, &nonce).await;
    if let Some((body, content_type)) = rendered {
        cache.insert(
            key,
            MyEntry {
                customer: me.customer,
                session: me.session.id,
                // As read before the render: a write during it moves the number past this one,
                // and the next request renders again.
                version: me.session.page_version,
                fresh,
                page: Entry {
                    body,
                    nonce,
                    content_type,
                    stored: Instant::now(),
                    generation: 0,
                },
            },
        );
    }
    resp
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

    #[test]
    fn a_made_up_cookie_makes_no_new_entry_but_a_session_language_or_accept_does() {
        let shape = |cookie: &str, accept: &str| {
            let r = Request::builder()
                .uri("/me")
                .header("cookie", cookie)
                .header("accept", accept)
                .header("accept-language", "en")
                .body(Body::empty())
                .unwrap();
            request_shape(&r)
        };
        let base = shape("portal_session=a; lang=en", "text/html");
        assert_eq!(
            base,
            shape("portal_session=a; lang=en; junk=1", "text/html")
        );
        assert_ne!(base, shape("portal_session=b; lang=en", "text/html"));
        assert_ne!(base, shape("portal_session=a; lang=zh", "text/html"));
        assert_ne!(base, shape("portal_session=a; lang=en", "*/*"));
    }

    #[tokio::test]
    async fn a_redirect_or_a_cookie_setting_answer_is_never_kept() {
        let page = |header: Option<(&'static str, &'static str)>| {
            let mut r = html(
                "<p nonce=\"n1\">x</p>".to_owned(),
                HeaderValue::from_static("text/html"),
            );
            if let Some((k, v)) = header {
                r.headers_mut().insert(k, HeaderValue::from_static(v));
            }
            r
        };
        assert!(capture(page(None), "n1").await.1.is_some());
        for h in [
            ("location", "/me/notice"),
            ("serverfnredirect", "1"),
            ("set-cookie", "a=b"),
        ] {
            let (resp, kept) = capture(page(Some(h)), "n1").await;
            assert!(kept.is_none(), "{h:?}");
            assert_eq!(resp.status(), StatusCode::OK, "sent on unchanged");
        }
    }
}
