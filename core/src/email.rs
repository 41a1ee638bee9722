//! The email address newtype, parsed at the edge.

use std::fmt;

/// An email address that is safe to put in a mail header: trimmed, at most 254 bytes, exactly
/// one `@`, no whitespace or control characters (so no CR/LF header injection), lower-cased
/// (mail systems treat addresses case-insensitively, and one person must be one address).
#[derive(Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

/// Why a string is not an [`Email`]; each variant is a message key for the i18n layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    /// Nothing was given.
    #[error("email.empty")]
    Empty,
    /// Longer than the 254 bytes SMTP allows.
    #[error("email.too_long")]
    TooLong,
    /// Not of the form `name@domain.tld`, or holds forbidden characters.
    #[error("email.invalid")]
    Invalid,
}

impl Email {
    /// Parses user input into an address.
    pub fn parse(input: &str) -> Result<Self, EmailError> {
        let s = input.trim();
        if s.is_empty() {
            return Err(EmailError::Empty);
        }
        if s.len() > 254 {
            return Err(EmailError::TooLong);
        }
        if s.chars()
            .any(|c| c.is_control() || c.is_whitespace() || "<>()[],;:\\\"".contains(c))
        {
            return Err(EmailError::Invalid);
        }
        let (local, domain) = s.split_once('@').ok_or(EmailError::Invalid)?;
        let labels_ok = domain
            .split('.')
            .all(|l| !l.is_empty() && !l.starts_with('-') && !l.ends_with('-') && l.len() <= 63);
        if local.is_empty()
            || local.len() > 64
            || domain.contains('@')
            || !domain.contains('.')
            || !labels_ok
            || local.starts_with('.')
            || local.ends_with('.')
            || local.contains("..")
        {
            return Err(EmailError::Invalid);
        }
        Ok(Self(s.to_lowercase()))
    }

    /// The address as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Email {
    type Error = EmailError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Email> for String {
    fn from(value: Email) -> Self {
        value.0
    }
}

/// Debug output masks the address so it can never reach a log by accident.
impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Email(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_address_is_accepted_trimmed_and_lower_cased() {
        assert_eq!(
            Email::parse("  Li.Na@Example.COM ").unwrap().as_str(),
            "li.na@example.com"
        );
    }

    #[test]
    fn header_injection_and_malformed_addresses_are_refused() {
        for bad in [
            "a@b.com\r\nBcc: x@y.com",
            "a@b.com\nx",
            "a b@c.com",
            "no-at-sign",
            "@example.com",
            "a@",
            "a@@b.com",
            "a@b",
            "a@-b.com",
            ".a@b.com",
            "a..b@c.com",
            "<a@b.com>",
        ] {
            assert_eq!(Email::parse(bad), Err(EmailError::Invalid), "{bad:?}");
        }
        assert_eq!(Email::parse("   "), Err(EmailError::Empty));
        let long = format!("{}@example.com", "a".repeat(250));
        assert_eq!(Email::parse(&long), Err(EmailError::TooLong));
    }

    #[test]
    fn debug_output_never_shows_the_address() {
        let e = Email::parse("secret@example.com").unwrap();
        assert!(!format!("{e:?}").contains("secret"));
    }
}
