//! Domain and storage of the Salon Privacy Portal.
//!
//! Plain Rust: nothing here knows about HTTP or Leptos. The server and the pages call into
//! [`Portal`], which holds the database, the settings and the mail outbox.

pub mod access;
pub mod apikeys;
pub mod audit;
pub mod backup;
pub mod config;
pub mod consents;
pub mod customers;
pub mod dashboard;
pub mod db;
pub mod demo;
pub mod email;
pub mod error;
pub mod failpoint;
pub mod group_commit;
pub mod housekeeping;
pub mod mail;
pub mod membership;
pub mod mydata;
pub mod notices;
pub mod ops;
pub mod phone;
pub mod photos;
pub mod requests;
pub mod retention;
pub mod sessions;
pub mod sharing;
pub mod signin;
pub mod staff;
pub mod vault;

use std::sync::{
    Arc,
    atomic::{AtomicU64, Ordering},
};

pub use config::Settings;
pub use error::{CoreError, Refusal};
use sea_orm::DatabaseConnection;

/// Handle to everything the domain needs; cheap to clone, one per process.
#[derive(Clone)]
pub struct Portal {
    /// The connection pool (SQLite or PostgreSQL).
    pub db: DatabaseConnection,
    /// Typed settings, read once at start.
    pub settings: Arc<Settings>,
    /// Wakes the outbox worker when mail is queued.
    pub outbox: mail::OutboxSignal,
    /// Keys and sealing of personal data.
    pub vault: vault::Vault,
    /// Signing and checking of session tokens.
    pub session_keys: sessions::SessionKeys,
    /// The writes that commit together (SQLite's group commit).
    pub writer: group_commit::GroupCommit,
    /// Bumped whenever this process publishes a notice, so cached pages are dropped at once.
    notice_generation: Arc<AtomicU64>,
    /// Set once this process is shutting down: it still answers, but says it is not ready.
    draining: Arc<std::sync::atomic::AtomicBool>,
    /// When this handle was opened: files older than it that no row names were left by an
    /// earlier process (`requests::erase::recover_files`).
    pub(crate) opened_at: std::time::SystemTime,
}

impl Portal {
    /// Connects to the configured database and applies pending migrations.
    pub async fn open(settings: Settings) -> Result<Self, CoreError> {
        let keys = vault::KeySourceConfig {
            env: settings.master_key.clone(),
            data_dir: settings.data_dir.clone(),
        };
        // A bad key fails before the database is touched.
        vault::load_key_ring(keys.env.as_ref().map(|k| k.expose()), &keys.data_dir)?;
        let db = db::connect(&settings.database_url).await?;
        db::migrate(&db).await?;
        notices::ensure_initial(&db).await?;
        let vault = vault::Vault::open(&db, keys).await?;
        let session_keys = sessions::SessionKeys::new(&vault, &settings.public_origin())?;
        Ok(Self {
            writer: group_commit::GroupCommit::start(&db),
            db,
            vault,
            session_keys,
            settings: Arc::new(settings),
            outbox: mail::OutboxSignal::default(),
            notice_generation: Arc::default(),
            draining: Arc::default(),
            opened_at: std::time::SystemTime::now(),
        })
    }

    /// Publishes a new privacy notice and invalidates cached copies of the old one.
    pub async fn publish_notice(&self, new: notices::NewNotice<'_>) -> Result<i32, CoreError> {
        let by = new.published_by;
        let tx = db::begin_write(&self.db).await?;
        let version = notices::publish(&tx, new).await?;
        // Published by staff: the audit row commits with the notice.
        if let Some(staff) = by {
            let now = chrono::Utc::now();
            audit::append_by_staff(&tx, staff, access::Action::PublishNotice, None, now).await?;
        }
        tx.commit().await?;
        self.notice_generation.fetch_add(1, Ordering::SeqCst);
        Ok(version)
    }

    /// Queues `mail` (sealed under the customer's key, or the portal's own) in `db`, which may be
    /// the transaction of the change that causes it. Call `outbox.notify()` after the commit.
    pub async fn enqueue_mail(
        &self,
        db: &(impl sea_orm::ConnectionTrait + sea_orm::TransactionTrait),
        customer_id: Option<i64>,
        template: &str,
        mail: &mail::OutgoingMail,
    ) -> Result<i64, CoreError> {
        mail::enqueue(db, &self.vault, customer_id, template, mail).await
    }

    /// Marks this process as shutting down ([`Portal::draining`]).
    pub fn begin_draining(&self) {
        self.draining.store(true, Ordering::SeqCst);
    }

    /// True once shutdown has begun: `/healthz` then answers 503 so proxies move traffic away.
    pub fn draining(&self) -> bool {
        self.draining.load(Ordering::SeqCst)
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
