//! Where a customer lands after signing in: only allowlisted local paths (ASVS 5.1.5).

/// The customer's home page, and where every refused `next` goes.
pub const HOME: &str = "/me";

/// `next` when it is a customer page (`/me` or below it, lower-case letters, digits, `-`, `_`,
/// with an optional plain query), else [`HOME`]. Everything else is refused rather than
/// cleaned: `//host`, `/\host`, schemes, dot segments, percent-encoding, control characters.
/// What passes is also safe as a cookie value.
pub fn landing(next: Option<&str>) -> &str {
    let Some(next) = next else { return HOME };
    let (path, query) = next.split_once('?').unwrap_or((next, ""));
    let path_ok = (path == HOME || path.starts_with("/me/"))
        && path[1..]
            .split('/')
            .all(|seg| !seg.is_empty() && seg.bytes().all(is_path_byte));
    let query_ok = query
        .bytes()
        .all(|b| is_path_byte(b) || b.is_ascii_uppercase() || b == b'=' || b == b'&');
    if next.len() <= 200 && path_ok && query_ok {
        next
    } else {
        HOME
    }
}

fn is_path_byte(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_'
}

#[cfg(test)]
mod tests {
    use super::{HOME, landing};

    #[test]
    fn customer_pages_are_followed_after_sign_in() {
        for ok in [
            "/me",
            "/me/requests",
            "/me/requests/12",
            "/me/data?tab=photos&page=2",
        ] {
            assert_eq!(landing(Some(ok)), ok);
        }
        assert_eq!(landing(None), HOME);
    }

    #[test]
    fn anything_that_could_leave_the_customer_pages_lands_on_the_home_page() {
        for evil in [
            "//evil.example",
            "/\\evil.example",
            "https://evil.example/me",
            "javascript:alert(1)",
            "",
            "me",
            "/me@evil.example",
            "/me.evil.example",
            "/meevil",
            "/me//evil.example",
            "/me/../admin",
            "/me/./x",
            "/me/%2e%2e/admin",
            "/me/%2F%2Fevil.example",
            "/me/\r\nSet-Cookie:x=y",
            "/me/x\u{0}",
            "/me/\\evil",
            "/me/",
            "/admin",
            "/me?next=https://evil.example",
            "/me#@evil.example",
        ] {
            assert_eq!(landing(Some(evil)), HOME, "{evil:?}");
        }
        assert_eq!(landing(Some(&format!("/me/{}", "a".repeat(300)))), HOME);
    }
}
