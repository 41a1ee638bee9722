//! The phone number newtype: parsed at the edge, kept in E.164.

use std::fmt;

/// A valid phone number in E.164 form (`+8613900000001`). Numbers without a country code are
/// read as Chinese numbers, the salon's home market.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Phone(String);

/// Why a string is not a [`Phone`]; a message key for the i18n layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    /// Not a phone number, or not a valid one.
    #[error("phone.invalid")]
    Invalid,
}

impl Phone {
    /// Parses user input (spaces, dashes and a leading `+` allowed).
    pub fn parse(input: &str) -> Result<Self, PhoneError> {
        let s = input.trim();
        if s.is_empty() || s.len() > 32 || s.chars().any(|c| c.is_control()) {
            return Err(PhoneError::Invalid);
        }
        let number = phonenumber::parse(Some(phonenumber::country::Id::CN), s)
            .map_err(|_| PhoneError::Invalid)?;
        if !phonenumber::is_valid(&number) {
            return Err(PhoneError::Invalid);
        }
        Ok(Self(
            number.format().mode(phonenumber::Mode::E164).to_string(),
        ))
    }

    /// The number in E.164.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Debug output masks the number so it can never reach a log by accident.
impl fmt::Debug for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Phone(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_normalised_to_e164_with_china_as_the_default_country() {
        for input in [
            "+86 139 0000 0001",
            "139-0000-0001",
            "13900000001",
            "+8613900000001",
        ] {
            assert_eq!(
                Phone::parse(input).unwrap().as_str(),
                "+8613900000001",
                "{input}"
            );
        }
        assert_eq!(
            Phone::parse("+44 20 7946 0958").unwrap().as_str(),
            "+442079460958"
        );
    }

    #[test]
    fn garbage_is_refused() {
        for bad in ["", "abc", "123", "+86 139\n0000 0001", &"1".repeat(40)] {
            assert_eq!(Phone::parse(bad), Err(PhoneError::Invalid), "{bad:?}");
        }
    }
}
