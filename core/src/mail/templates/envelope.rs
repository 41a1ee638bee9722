//! The one HTML envelope every mail with an HTML part is sent in: phone width, the portal's
//! colours, the body's paragraphs, then an optional link or button, an optional code to type
//! and an optional closing line. Everything put in is escaped here.

use portal_vocab::Lang;

use crate::mail::escape_html as e;

/// The link or button under the body.
pub struct Action<'a> {
    href: &'a str,
    label: &'a str,
    button: bool,
}

impl<'a> Action<'a> {
    /// A plain link.
    pub fn link(href: &'a str, label: &'a str) -> Self {
        Self {
            href,
            label,
            button: false,
        }
    }

    /// A button (the sign-in link).
    pub fn button(href: &'a str, label: &'a str) -> Self {
        Self {
            href,
            label,
            button: true,
        }
    }
}

/// The HTML part: `body`'s paragraphs (split at blank lines), then `action`, then `code`
/// (`(line above it, the code)`), then `footer` in a quieter colour.
pub fn html(
    lang: Lang,
    body: &str,
    action: Option<Action<'_>>,
    code: Option<(&str, &str)>,
    footer: Option<&str>,
) -> String {
    let mut out = format!(
        "<!DOCTYPE html><html lang=\"{}\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\"></head>\
         <body style=\"font-family:sans-serif;line-height:1.6;max-width:32rem;margin:0 auto;padding:1rem\">",
        lang.html_lang()
    );
    for p in body.split("\n\n").map(str::trim).filter(|p| !p.is_empty()) {
        out.push_str(&format!("<p style=\"white-space:pre-wrap\">{}</p>", e(p)));
    }
    if let Some(a) = action {
        let style = if a.button {
            " style=\"display:inline-block;padding:0.75rem 1.5rem;background:#9b3d5a;color:#fff;border-radius:999px;text-decoration:none\""
        } else {
            ""
        };
        out.push_str(&format!(
            "<p><a href=\"{}\"{style}>{}</a></p>",
            e(a.href),
            e(a.label)
        ));
    }
    if let Some((line, code)) = code {
        out.push_str(&format!(
            "<p>{}</p><p style=\"font-size:1.75rem;letter-spacing:0.3rem;font-weight:bold\">{}</p>",
            e(line),
            e(code)
        ));
    }
    if let Some(f) = footer {
        out.push_str(&format!("<p style=\"color:#59636e\">{}</p>", e(f)));
    }
    out.push_str("</body></html>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_envelope_escapes_what_it_is_given_and_names_the_language() {
        let h = html(
            Lang::En,
            "Hello <b>you</b>\n\nSecond & last",
            Some(Action::button(
                "https://portal.test/x?a=1&b=\"2\"",
                "Sign in",
            )),
            Some(("Code:", "<123>")),
            Some("ignore"),
        );
        assert!(h.contains("<html lang=\"en\">"));
        assert!(h.contains("Hello &lt;b&gt;you&lt;/b&gt;") && h.contains("Second &amp; last"));
        assert!(h.contains("href=\"https://portal.test/x?a=1&amp;b=&quot;2&quot;\""));
        assert!(h.contains("&lt;123&gt;") && !h.contains("<123>"));
        assert_eq!(h.matches("<p").count(), 6);
    }
}
