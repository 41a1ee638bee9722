//! The built assets under `/pkg`: the wasm, its JavaScript and the stylesheet. Served as
//! brotli or gzip when the browser takes it and the release build made the file
//! (`cargo leptos build --release --precompress`), and cached for a year when the name carries
//! the content's hash (`hash-files`): a phone on mobile data fetches the bundle once per
//! release, compressed, instead of whole on every visit.

use std::path::Path;

use axum::{
    extract::Request,
    http::{HeaderValue, StatusCode, header},
    middleware::{self, Next},
    response::Response,
};
use tower_http::services::ServeDir;

/// A file named `name.<hash>.ext` (cargo-leptos: 22 characters of URL-safe base64 of its MD5)
/// never changes under that name.
pub(crate) fn is_hashed(file: &str) -> bool {
    let mut parts = file.rsplit('.');
    let (Some(_ext), Some(hash), Some(stem)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    !stem.is_empty()
        && hash.len() == 22
        && hash
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Whether cargo-leptos wrote the hashed names beside this binary.
pub(crate) fn hash_file_present() -> bool {
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|d| d.join("hash.txt")))
        .is_some_and(|f| f.is_file())
}

/// `/pkg`, from `<site root>/pkg`, precompressed variants first.
pub(crate) fn pkg_service(site_root: &str) -> axum::Router {
    let dir = ServeDir::new(Path::new(site_root).join("pkg"))
        .precompressed_br()
        .precompressed_gzip();
    axum::Router::new()
        .fallback_service(dir)
        .layer(middleware::from_fn(cache_lifetime))
}

/// A year, immutable, for a hashed name; otherwise asked again each time (the file may change
/// under the same name between two builds).
async fn cache_lifetime(req: Request, next: Next) -> Response {
    let hashed = is_hashed(req.uri().path().rsplit('/').next().unwrap_or_default());
    let mut resp = next.run(req).await;
    if resp.status() == StatusCode::OK || resp.status() == StatusCode::NOT_MODIFIED {
        let value = if hashed {
            "public, max-age=31536000, immutable"
        } else {
            "no-cache"
        };
        let h = resp.headers_mut();
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static(value));
        // The same name answers brotli, gzip or plain: caches keep one copy per encoding.
        h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::is_hashed;

    #[test]
    fn only_a_name_carrying_a_content_hash_counts_as_hashed() {
        assert!(is_hashed("portal.QmJ3dVhlTWN0cnp3X2Z1YQ.wasm"));
        assert!(is_hashed("portal.A-b_c1234567890123456Z.css"));
        assert!(!is_hashed("portal.wasm"));
        assert!(!is_hashed("portal_bg.wasm"));
        assert!(!is_hashed("portal.short.js"));
        assert!(!is_hashed(".QmJ3dVhlTWN0cnp3X2Z1YQ.js"));
        assert!(!is_hashed("portal.QmJ3dVhlTWN0cnp3X2Z1Y!.js"));
    }
}
