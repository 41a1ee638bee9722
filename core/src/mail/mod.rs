//! Mail: an outbox table written in the caller's transaction, and a worker that delivers it.
//!
//! A request never waits for SMTP. The worker claims a row with one conditional UPDATE, so
//! several replicas never send the same mail at the same time; a failed attempt is retried with
//! exponential backoff until the server takes it. With no SMTP server configured, mail goes to
//! the dev mailbox: JSON files in `<data dir>/mailbox`.

pub mod entity;
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

/// A short mail after intake: where the customer can see and manage their data. It carries no
/// sign-in token (the customer asks for one on the page).
pub fn portal_invitation(
    to: Email,
    language: &str,
    salon: &str,
    public_url: &url::Url,
) -> OutgoingMail {
    let link = format!("{}signin", public_url.as_str());
    let (subject, text) = if language == "en" {
        (
            format!("{salon}: your privacy portal"),
            format!(
                "Hello,\n\n{salon} has created your customer record. You can see everything we keep about you, download a copy, correct or delete it, and switch each marketing consent on or off at:\n{link}\n\nSign in with this email address.\n"
            ),
        )
    } else {
        (
            format!("{salon} 隐私门户"),
            format!(
                "您好！\n\n{salon}已为您建立顾客档案。您可以在下面的网址查看我们保存的关于您的全部信息、下载副本、更正或删除，并逐项开启或关闭营销授权：\n{link}\n\n请使用本邮箱地址登录。\n"
            ),
        )
    };
    let html = format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"></head><body style=\"font-family:sans-serif;line-height:1.6\"><p>{}</p><p><a href=\"{}\">{}</a></p></body></html>",
        escape_html(&text.replace("\n\n", " ")),
        escape_html(&link),
        escape_html(&link)
    );
    OutgoingMail {
        to,
        subject,
        text,
        html: Some(html),
    }
}

/// Tells a member of staff that a second factor was set up or replaced on their account
/// (bilingual, as the invitation: staff have no language of record), so a change they did not
/// make is noticed.
pub fn staff_second_factor_changed(to: Email, salon: &str, replaced: bool) -> OutgoingMail {
    let (zh, en) = if replaced {
        ("已更换", "was replaced")
    } else {
        ("已设置", "was set up")
    };
    let text = format!(
        "您好！您在{salon}隐私门户员工后台的账户双重验证{zh}。如果这不是您本人的操作，请立即联系隐私负责人。\n\nHello, the second factor of your {salon} privacy portal staff account {en}. If you did not do this, tell the privacy officer at once.\n"
    );
    OutgoingMail {
        to,
        subject: format!("{salon} 双重验证变更 / Second factor changed"),
        html: Some(format!(
            "<!DOCTYPE html><html><head><meta charset=\"utf-8\"></head><body style=\"font-family:sans-serif;line-height:1.6\"><p>{}</p></body></html>",
            escape_html(&text)
        )),
        text,
    }
}

/// The invitation to a new member of staff: a single-use link, valid 24 hours, to set a
/// password. Built from the configured public URL only.
pub fn staff_invitation(
    to: Email,
    salon: &str,
    public_url: &url::Url,
    token: &str,
) -> OutgoingMail {
    let link = format!("{}staff/invite?t={token}", public_url.as_str());
    let text = format!(
        "您好！{salon}邀请您使用隐私门户员工后台。请在 24 小时内打开下面的链接设置密码（仅可使用一次）：\n{link}\n\nHello, {salon} invites you to the privacy portal's staff area. Open this link within 24 hours to set your password (it works once):\n{link}\n"
    );
    OutgoingMail {
        to,
        subject: format!("{salon} 员工邀请 / Staff invitation"),
        html: Some(format!(
            "<!DOCTYPE html><html><head><meta charset=\"utf-8\"></head><body style=\"font-family:sans-serif;line-height:1.6\"><p>{}</p><p><a href=\"{}\">{}</a></p></body></html>",
            escape_html(&text),
            escape_html(&link),
            escape_html(&link)
        )),
        text,
    }
}
