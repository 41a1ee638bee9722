//! Mail: an outbox table written in the caller's transaction, and a worker that delivers it.
//!
//! A request never waits for SMTP. The worker claims a row with one conditional UPDATE, so
//! several replicas never send the same mail at the same time; a failed attempt is retried with
//! exponential backoff until the server takes it. With no SMTP server configured, mail goes to
//! the dev mailbox: JSON files in `<data dir>/mailbox`.

pub mod entity;
pub mod templates;
mod worker;

use std::{path::Path, sync::Arc};

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ConnectionTrait, TransactionSession, TransactionTrait,
};
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

use crate::{
    CoreError,
    email::Email,
    vault::{Field, Vault, seal},
};

/// Where a queued message is sealed.
pub const MESSAGE: Field = Field::new("mail_outbox", "message_sealed");
pub use templates::{
    portal_invitation::portal_invitation, second_factor_changed::staff_second_factor_changed,
    sign_in::sign_in_mail, staff_invitation::staff_invitation,
};
pub use worker::{DeliveryError, Transport, deliver_due, run_worker};

/// One message as the outbox stores it.
#[derive(Clone, Serialize, Deserialize)]
pub struct OutgoingMail {
    /// The recipient, already parsed (so no header injection is possible).
    pub to: Email,
    /// Subject line, in the recipient's language.
    pub subject: String,
    /// Plain-text body.
    pub text: String,
    /// Optional HTML alternative of the same content (sent as multipart/alternative).
    #[serde(default)]
    pub html: Option<String>,
}

/// Escapes text for HTML element content and attribute values.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Wakes the outbox worker right after a transaction that queued mail commits.
#[derive(Clone, Default)]
pub struct OutboxSignal(Arc<Notify>);

impl OutboxSignal {
    /// Tells the worker there is new mail.
    pub fn notify(&self) {
        self.0.notify_one();
    }

    async fn notified(&self) {
        self.0.notified().await;
    }
}

/// Queues `mail` in the same transaction as the change that causes it, sealed under the
/// customer's key (or the portal's own when it is for no customer). Call
/// [`OutboxSignal::notify`] after the commit.
pub async fn enqueue<C: ConnectionTrait + TransactionTrait>(
    outer: &C,
    vault: &Vault,
    customer_id: Option<i64>,
    template: &str,
    mail: &OutgoingMail,
) -> Result<i64, CoreError> {
    let now = Utc::now();
    let body = zeroize::Zeroizing::new(
        serde_json::to_vec(mail).map_err(|e| CoreError::json("mail.unserialisable", &e))?,
    );
    // Insert and seal in one (nested) transaction: no worker ever sees the row unsealed. It
    // reads (the key) before it writes, so on SQLite it takes the write lock first.
    let db = crate::db::begin_write(outer).await?;
    let key = match customer_id {
        Some(id) => vault.customer_key(&db, id).await?,
        None => vault.system_key().clone(),
    };
    let row = entity::ActiveModel {
        customer_id: Set(customer_id),
        template: Set(template.to_owned()),
        message_sealed: Set(Vec::new()),
        created_at: Set(now),
        attempts: Set(0),
        next_attempt_at: Set(now),
        ..Default::default()
    }
    .insert(&db)
    .await?;
    // The row id is part of the associated data, so the seal comes second.
    entity::ActiveModel {
        id: Set(row.id),
        message_sealed: Set(seal(&key, MESSAGE, row.id, &body)),
        ..Default::default()
    }
    .update(&db)
    .await?;
    db.commit().await?;
    Ok(row.id)
}

/// [`enqueue`] inside a transaction the caller already holds (the group commit's savepoint),
/// with the customer's key at hand: two statements, where `enqueue` takes five.
pub async fn enqueue_with_key(
    db: &impl ConnectionTrait,
    key: &crate::vault::SecretKey,
    customer_id: Option<i64>,
    template: &str,
    mail: &OutgoingMail,
) -> Result<i64, CoreError> {
    let now = Utc::now();
    let body = zeroize::Zeroizing::new(
        serde_json::to_vec(mail).map_err(|e| CoreError::json("mail.unserialisable", &e))?,
    );
    let insert = sea_orm::sea_query::Query::insert()
        .into_table("mail_outbox")
        .columns([
            "customer_id",
            "template",
            "message_sealed",
            "created_at",
            "attempts",
            "next_attempt_at",
        ])
        .values_panic([
            customer_id.into(),
            template.into(),
            Vec::<u8>::new().into(),
            now.into(),
            0i32.into(),
            now.into(),
        ])
        .returning_col("id")
        .to_owned();
    let id: i64 = db
        .query_one(&insert)
        .await?
        .ok_or(CoreError::NotFound)?
        .try_get("", "id")?;
    // The row id is part of the associated data, so the seal comes second; no other
    // connection sees the row before the caller's transaction commits.
    db.execute(
        &sea_orm::sea_query::Query::update()
            .table("mail_outbox")
            .value("message_sealed", seal(key, MESSAGE, id, &body))
            .and_where(sea_orm::sea_query::ExprTrait::eq(
                sea_orm::sea_query::Expr::col("id"),
                id,
            ))
            .to_owned(),
    )
    .await?;
    Ok(id)
}

/// A message delivered to the dev mailbox.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DevMail {
    /// Outbox id of the message.
    pub id: i64,
    /// When it was delivered to the mailbox.
    pub delivered_at: DateTime<Utc>,
    /// Recipient address.
    pub to: String,
    /// Subject line.
    pub subject: String,
    /// Plain-text body.
    pub text: String,
}

/// The dev mailbox's folder inside the data directory.
pub fn dev_mailbox_dir(data_dir: &Path) -> std::path::PathBuf {
    data_dir.join("mailbox")
}

/// The file a dev-mailbox message is written to: the customer's id leads the name, so their
/// mail can be removed with them on erasure.
pub(crate) fn dev_mail_file_name(customer: Option<i64>, at: DateTime<Utc>, id: i64) -> String {
    match customer {
        Some(c) => format!("c{c}-{}-{id}.json", at.timestamp_millis()),
        None => format!("s-{}-{id}.json", at.timestamp_millis()),
    }
}

/// Writes `bytes` to a new file only the portal's own user may read (0600), in a folder only
/// it may enter (0700).
pub(crate) fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    if let Some(dir) = path.parent() {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        builder.mode(0o700);
        builder.create(dir)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    options.mode(0o600);
    options.open(path)?.write_all(bytes)
}

/// The dev-mailbox files of one customer (none when the dev mailbox is off or empty).
pub fn dev_mail_files_of(data_dir: &Path, customer: i64) -> Vec<std::path::PathBuf> {
    let prefix = format!("c{customer}-");
    std::fs::read_dir(dev_mailbox_dir(data_dir))
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(&prefix) && n.ends_with(".json"))
        })
        .collect()
}

/// Every message in the dev mailbox, newest first.
pub fn read_dev_mailbox(data_dir: &Path) -> Result<Vec<DevMail>, CoreError> {
    let dir = dev_mailbox_dir(data_dir);
    let mut out = Vec::new();
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(e.into()),
    };
    for entry in entries {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "json") {
            let bytes = std::fs::read(&path)?;
            if let Ok(mail) = serde_json::from_slice::<DevMail>(&bytes) {
                out.push(mail);
            }
        }
    }
    out.sort_by(|a, b| b.delivered_at.cmp(&a.delivered_at).then(b.id.cmp(&a.id)));
    Ok(out)
}
