//! The domain's error type, sorted for the three people who read it: the caller who can correct
//! their input (`Invalid`), the caller the domain says no to (`Refused`, one typed enum per
//! area), and the operator who must find a fault (`Internal`, `Database`, … with their cause).
//!
//! `Display` is what the operator's log gets. It names the cause (the database error kind and
//! SQLSTATE, the failing step) but never a value: database messages and decoder messages can
//! quote the data they choked on, so they are reduced to their kind and codes here.

use std::fmt;

use sea_orm::{DbErr, RuntimeErr};

use crate::{config, vault};

/// A boxed cause of an internal failure.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Errors of the domain layer. Internal causes are logged by the caller's edge, never shown.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// The thing asked for does not exist.
    #[error("not found")]
    NotFound,
    /// Input that the caller can correct; the payload is a message key for the i18n layer.
    #[error("invalid input: {0}")]
    Invalid(&'static str),
    /// A domain rule says no to this caller, for a reason the page explains.
    #[error("refused: {}", .0.key())]
    Refused(Refusal),
    /// A failure of the portal's own making (a value it stored that no longer reads, a
    /// serialiser or signer that failed): a bug or a damaged store, never the caller's fault.
    #[error("internal failure: {what}: {source}")]
    Internal {
        /// The step that failed, for the operator.
        what: &'static str,
        /// What it failed with (never carrying a personal value: see [`CoreError::internal`]).
        #[source]
        source: BoxError,
    },
    /// The database failed; the log gets its kind and codes.
    #[error("database error: {}", DbCause(.0))]
    Database(#[from] DbErr),
    /// A file in the data directory could not be read or written.
    #[error("storage error: {}", .0.kind())]
    Io(#[from] std::io::Error),
    /// A sealed value did not open, or its customer's key is destroyed.
    #[error(transparent)]
    Sealed(#[from] vault::SealError),
    /// The configured master key is not the one this database's keys are wrapped with.
    #[error("the master key does not open this database's keys (they need master key {expected})")]
    WrongMasterKey {
        /// Fingerprint of the master key the database expects.
        expected: String,
    },
    /// A setting is unusable.
    #[error(transparent)]
    Config(#[from] config::ConfigError),
}

impl From<portal_vocab::Unknown> for CoreError {
    fn from(u: portal_vocab::Unknown) -> Self {
        CoreError::Invalid(u.0)
    }
}

impl CoreError {
    /// An internal failure at step `what`. The source's own message is kept only when its type
    /// cannot quote data (serde_json's decode errors can: they are reduced to their category).
    pub fn internal(what: &'static str, source: impl Into<BoxError>) -> Self {
        CoreError::Internal {
            what,
            source: source.into(),
        }
    }

    /// An internal failure from serde_json, kept to its category and position.
    pub fn json(what: &'static str, e: &serde_json::Error) -> Self {
        let cause = format!(
            "{:?} at line {} column {}",
            e.classify(),
            e.line(),
            e.column()
        );
        CoreError::internal(what, cause)
    }

    /// The message key of an `Invalid` or `Refused` error, for the page to explain.
    pub fn key(&self) -> Option<&'static str> {
        match self {
            CoreError::Invalid(k) => Some(k),
            CoreError::Refused(r) => Some(r.key()),
            _ => None,
        }
    }
}

/// Why the domain said no, by area. Each area's enum lives in its module; the page maps each
/// variant to its message through [`Refusal::key`] (the same keys the pages used before).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// A customer record's rules.
    Customer(crate::customers::Refusal),
    /// A request's rules.
    Request(crate::requests::Refusal),
    /// A staff account's rules.
    Staff(crate::staff::Refusal),
    /// A photo's uses.
    Photo(crate::photos::Refusal),
    /// An operator's command on the installation.
    Setup(SetupRefusal),
}

impl Refusal {
    /// The message key, stable across versions (pages and redirects use it).
    pub fn key(self) -> &'static str {
        match self {
            Refusal::Customer(r) => r.key(),
            Refusal::Request(r) => r.key(),
            Refusal::Staff(r) => r.key(),
            Refusal::Photo(r) => r.key(),
            Refusal::Setup(r) => r.key(),
        }
    }
}

/// What an operator's command on the installation is refused for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetupRefusal {
    /// The demo salon goes only into an empty database.
    DemoNotEmpty,
    /// Rotating the master key needs it in a key file, not the environment.
    RotateNeedsKeyFile,
}

impl SetupRefusal {
    /// The message key.
    pub fn key(self) -> &'static str {
        match self {
            SetupRefusal::DemoNotEmpty => "demo.not_empty",
            SetupRefusal::RotateNeedsKeyFile => "keys.rotate_needs_key_file",
        }
    }
}

macro_rules! refusal_from {
    ($($t:ty => $v:ident),* $(,)?) => {$(
        impl From<$t> for CoreError {
            fn from(r: $t) -> Self {
                CoreError::Refused(Refusal::$v(r))
            }
        }
    )*};
}
refusal_from!(
    crate::customers::Refusal => Customer,
    crate::requests::Refusal => Request,
    crate::staff::Refusal => Staff,
    crate::photos::Refusal => Photo,
    SetupRefusal => Setup,
);

/// A database error as the operator's log shows it: the stage, the error kind, SQLSTATE (or
/// SQLite's extended result code), and the constraint and table where the engine names them.
struct DbCause<'a>(&'a DbErr);

impl fmt::Display for DbCause<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (stage, runtime) = match self.0 {
            DbErr::Conn(r) => ("connect", r),
            DbErr::Exec(r) => ("execute", r),
            DbErr::Query(r) => ("query", r),
            // The pool's own errors are fixed texts ("timed out", "closed").
            DbErr::ConnectionAcquire(e) => return write!(f, "connection acquire: {e}"),
            // The other variants carry free text that may quote a value: name the variant.
            other => return f.write_str(variant_name(other)),
        };
        match runtime {
            RuntimeErr::SqlxError(e) => write!(f, "{stage}: {}", SqlxCause(e)),
            RuntimeErr::Internal(_) => write!(f, "{stage}: sea-orm internal"),
        }
    }
}

fn variant_name(e: &DbErr) -> &'static str {
    match e {
        DbErr::TryIntoErr { .. } => "type conversion",
        DbErr::ConvertFromU64(_) => "conversion from u64",
        DbErr::UnpackInsertId => "unpack insert id",
        DbErr::UpdateGetPrimaryKey => "primary key after update",
        DbErr::RecordNotFound(_) => "record not found",
        DbErr::AttrNotSet(_) => "attribute not set",
        DbErr::Custom(_) => "custom",
        DbErr::Type(_) => "type",
        DbErr::Json(_) => "json",
        DbErr::Migration(_) => "migration",
        DbErr::RecordNotInserted => "record not inserted",
        DbErr::RecordNotUpdated => "record not updated",
        _ => "other",
    }
}

struct SqlxCause<'a>(&'a sea_orm::sqlx::Error);

impl fmt::Display for SqlxCause<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use sea_orm::sqlx::Error as E;
        match self.0 {
            E::Database(d) => {
                // The message is left out: PostgreSQL's and SQLite's can quote the row.
                write!(f, "{:?}", d.kind())?;
                if let Some(code) = d.code() {
                    write!(f, ", SQLSTATE {code}")?;
                }
                if let Some(c) = d.constraint() {
                    write!(f, ", constraint {c}")?;
                }
                if let Some(t) = d.table() {
                    write!(f, ", table {t}")?;
                }
                Ok(())
            }
            E::Io(e) => write!(f, "io: {}", e.kind()),
            E::Tls(_) => f.write_str("tls"),
            E::Protocol(_) => f.write_str("protocol"),
            E::Configuration(_) => f.write_str("configuration"),
            E::RowNotFound => f.write_str("row not found"),
            E::TypeNotFound { type_name } => write!(f, "type not found: {type_name}"),
            E::ColumnIndexOutOfBounds { index, len } => {
                write!(f, "column index {index} out of bounds ({len})")
            }
            E::ColumnNotFound(c) => write!(f, "column not found: {c}"),
            E::ColumnDecode { index, .. } => write!(f, "column {index} did not decode"),
            E::Decode(_) => f.write_str("decode"),
            E::PoolTimedOut => f.write_str("pool timed out"),
            E::PoolClosed => f.write_str("pool closed"),
            E::WorkerCrashed => f.write_str("worker crashed"),
            _ => f.write_str("other"),
        }
    }
}

#[cfg(test)]
mod tests {
    use sea_orm::{ConnectionTrait, Database};

    use super::*;

    #[tokio::test]
    async fn a_database_error_shows_its_kind_and_code_but_not_the_value() {
        let db = Database::connect("sqlite::memory:").await.unwrap();
        db.execute_unprepared("CREATE TABLE t (email TEXT UNIQUE)")
            .await
            .unwrap();
        db.execute_unprepared("INSERT INTO t VALUES ('someone@example.com')")
            .await
            .unwrap();
        let e = db
            .execute_unprepared("INSERT INTO t VALUES ('someone@example.com')")
            .await
            .unwrap_err();
        let shown = CoreError::from(e).to_string();
        assert!(shown.contains("UniqueViolation"), "{shown}");
        // 2067: SQLite's extended code for a UNIQUE constraint.
        assert!(shown.contains("SQLSTATE 2067"), "{shown}");
        assert!(!shown.contains("someone"), "{shown}");
    }

    #[test]
    fn an_internal_json_failure_keeps_its_category_not_the_text_it_read() {
        let e = serde_json::from_str::<u32>("\"someone@example.com\"").unwrap_err();
        let shown = CoreError::json("mail.stored", &e).to_string();
        assert!(
            shown.contains("mail.stored") && shown.contains("Data"),
            "{shown}"
        );
        assert!(!shown.contains("someone"), "{shown}");
    }

    #[test]
    fn a_refusal_keeps_the_message_key_pages_know() {
        let e = CoreError::from(SetupRefusal::DemoNotEmpty);
        assert_eq!(e.key(), Some("demo.not_empty"));
        assert!(matches!(
            e,
            CoreError::Refused(Refusal::Setup(SetupRefusal::DemoNotEmpty))
        ));
    }
}
