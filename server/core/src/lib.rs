//! Domain and storage of the Salon Privacy Portal.
//!
//! Plain Rust: nothing here knows about HTTP or Leptos. The server and the pages call into
//! [`Portal`], which holds the database, the settings and the mail outbox.

pub mod config;
pub mod db;
pub mod demo;
pub mod email;
pub mod mail;
pub mod notices;
pub mod staff;

use std::sync::{
    Arc,
    atomic::{AtomicU64, Ordering},
};

pub use config::Settings;
use sea_orm::DatabaseConnection;

/// Errors of the domain layer. Internal causes are logged where they happen and never shown.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// The thing asked for does not exist.
    #[error("not found")]
    NotFound,
    /// Input that the caller can correct; the payload is a message key for the i18n layer.
    #[error("invalid input: {0}")]
    Invalid(&'static str),
    /// The database failed; the cause is logged, not shown.
    #[error("database error")]
    Database(#[from] sea_orm::DbErr),
    /// A file in the data directory could not be read or written.
    #[error("storage error")]
    Io(#[from] std::io::Error),
}

/// Handle to everything the domain needs; cheap to clone, one per process.
#[derive(Clone)]
pub struct Portal {
    /// The connection pool (SQLite or PostgreSQL).
    pub db: DatabaseConnection,
    /// Typed settings, read once at start.
    pub settings: Arc<Settings>,
    /// Wakes the outbox worker when mail is queued.
    pub outbox: mail::OutboxSignal,
    /// Bumped whenever this process publishes a notice, so cached pages are dropped at once.
    notice_generation: Arc<AtomicU64>,
}

impl Portal {
    /// Connects to the configured database and applies pending migrations.
    pub async fn open(settings: Settings) -> Result<Self, CoreError> {
        let db = db::connect(&settings.database_url).await?;
        db::migrate(&db).await?;
        notices::ensure_initial(&db).await?;
        Ok(Self {
            db,
            settings: Arc::new(settings),
            outbox: mail::OutboxSignal::default(),
            notice_generation: Arc::default(),
        })
    }

    /// Publishes a new privacy notice and invalidates cached copies of the old one.
    pub async fn publish_notice(&self, new: notices::NewNotice<'_>) -> Result<i32, CoreError> {
        let version = notices::publish(&self.db, new).await?;
        self.notice_generation.fetch_add(1, Ordering::SeqCst);
        Ok(version)
    }

    /// Changes whenever this process publishes a notice.
    pub fn notice_generation(&self) -> u64 {
        self.notice_generation.load(Ordering::SeqCst)
    }

    /// True when the database answers a trivial query.
    pub async fn database_ok(&self) -> bool {
        self.db.ping().await.is_ok()
    }
}
