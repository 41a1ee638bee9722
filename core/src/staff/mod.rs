//! Staff accounts and their roles.

pub use portal_vocab::Role;

pub mod auth;
pub mod entity;
pub mod team;

use argon2::{Algorithm, Argon2, Params, PasswordHasher, Version, password_hash::SaltString};
use chrono::Utc;
use rand::{Rng, distr::Alphanumeric};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
};

use crate::{CoreError, email::Email};

/// Why a change to the team is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// An account with this email exists.
    Exists,
    /// Staff do not change their own account.
    Oneself,
}

impl Refusal {
    /// The message key pages and redirects use.
    pub fn key(self) -> &'static str {
        match self {
            Refusal::Exists => "staff.exists",
            Refusal::Oneself => "staff.oneself",
        }
    }
}

/// A staff member's display name: 1 to 100 characters, no control characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StaffName(pub(crate) String);

impl StaffName {
    /// Parses a name typed by an operator.
    pub fn parse(s: &str) -> Result<Self, CoreError> {
        let s = s.trim();
        if s.is_empty() || s.chars().count() > 100 || s.chars().any(char::is_control) {
            return Err(CoreError::Invalid("staff.name"));
        }
        Ok(Self(s.to_owned()))
    }
}

/// Argon2id with at least the OWASP minimum (m=19456 KiB, t=2, p=1).
pub(crate) fn hasher() -> Argon2<'static> {
    let params = Params::new(19_456, 2, 1, None).expect("constant Argon2 parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes a password for storage.
pub fn hash_password(password: &str) -> String {
    let mut salt = [0u8; 16];
    rand::rng().fill(&mut salt);
    let salt = SaltString::encode_b64(&salt).expect("16 bytes is a valid salt length");
    hasher()
        .hash_password(password.as_bytes(), &salt)
        .expect("hashing with valid parameters cannot fail")
        .to_string()
}

/// Result of [`add`]: the new account and its one-time initial password.
pub struct NewStaff {
    /// The account's id.
    pub id: i64,
    /// Shown once to the operator; only its Argon2id hash is stored.
    pub initial_password: String,
}

/// Creates a staff account with a random 20-character initial password.
pub async fn add(
    db: &impl ConnectionTrait,
    email: &Email,
    name: &StaffName,
    role: Role,
) -> Result<NewStaff, CoreError> {
    let exists = entity::Entity::find()
        .filter(entity::Column::Email.eq(email.as_str()))
        .one(db)
        .await?;
    if exists.is_some() {
        return Err(Refusal::Exists.into());
    }
    let password: String = rand::rng()
        .sample_iter(&Alphanumeric)
        .take(20)
        .map(char::from)
        .collect();
    let now = Utc::now();
    let row = entity::ActiveModel {
        email: Set(email.as_str().to_owned()),
        name: Set(name.0.clone()),
        role: Set(role.as_str().to_owned()),
        password_hash: Set(Some(hash_password(&password))),
        active: Set(true),
        failed_sign_ins: Set(0),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(NewStaff {
        id: row.id,
        initial_password: password,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_parse_from_their_names_and_nothing_else() {
        for r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>().unwrap(), r);
        }
        assert_eq!("front-desk".parse::<Role>().unwrap(), Role::FrontDesk);
        assert!("admin".parse::<Role>().is_err());
        assert!("".parse::<Role>().is_err());
    }

    #[test]
    fn staff_names_must_be_short_and_printable() {
        assert!(StaffName::parse("王芳").is_ok());
        assert!(StaffName::parse("  ").is_err());
        assert!(StaffName::parse("a\nb").is_err());
        assert!(StaffName::parse(&"x".repeat(101)).is_err());
    }

    #[test]
    fn password_hashes_are_argon2id_with_the_minimum_cost() {
        let h = hash_password("correct horse battery");
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
    }
}
