//! Delivery of queued mail.

use std::{path::PathBuf, time::Duration};

use chrono::Utc;
use lettre::{
    AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor, message::Mailbox,
    message::MultiPart, message::header::ContentType,
};
use sea_orm::{
    ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    sea_query::{Expr, ExprTrait},
};
use tokio::sync::watch;

use super::{DevMail, OutgoingMail, entity};
use crate::{Portal, config::ConfigError};

/// Where mail goes: a real SMTP server, or the dev mailbox folder.
#[derive(Clone)]
pub enum Transport {
    /// lettre's async SMTP transport (pooled).
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    /// JSON files in this folder, shown on `/dev/mailbox`.
    DevMailbox(PathBuf),
}

/// Why one delivery attempt failed; stored without any personal value.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// The SMTP server answered with an error code, or could not be reached.
    #[error("{0}")]
    Smtp(String),
    /// The stored message could not be turned into mail.
    #[error("message could not be built")]
    Build,
    /// The dev mailbox folder could not be written.
    #[error("dev mailbox not writable")]
    Io,
}

impl Transport {
    /// The transport the settings ask for; a bad or missing SMTP URL is a configuration error
    /// (the dev mailbox is used only when switched on by name).
    pub fn from_settings(settings: &crate::Settings) -> Result<Self, ConfigError> {
        match &settings.smtp_url {
            None if settings.dev_mailbox() => {
                Ok(Self::DevMailbox(super::dev_mailbox_dir(&settings.data_dir)))
            }
            None => Err(ConfigError {
                setting: "PORTAL_SMTP_URL",
                problem: "not set: name your mail server (smtp://host:port or smtps://user:pass@host:465), or set PORTAL_DEV_MAILBOX=1 for development on this machine".into(),
            }),
            Some(url) => {
                let t = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                    .map_err(|_| ConfigError {
                        setting: "PORTAL_SMTP_URL",
                        problem: "not a usable SMTP URL".into(),
                    })?
                    .timeout(Some(Duration::from_secs(15)))
                    .build();
                Ok(Self::Smtp(t))
            }
        }
    }

    async fn send(
        &self,
        row: &entity::Model,
        settings: &crate::Settings,
        mail: &OutgoingMail,
    ) -> Result<(), DeliveryError> {
        let (id, customer) = (row.id, row.customer_id);
        match self {
            Self::Smtp(smtp) => {
                let from: Mailbox = settings
                    .mail_from
                    .parse()
                    .map_err(|_| DeliveryError::Build)?;
                let to: Mailbox = mail.to.as_str().parse().map_err(|_| DeliveryError::Build)?;
                let builder = Message::builder()
                    .message_id(Some(message_id(row, settings)))
                    .from(from)
                    .to(to)
                    .subject(mail.subject.clone());
                let msg = match &mail.html {
                    Some(html) => builder.multipart(MultiPart::alternative_plain_html(
                        mail.text.clone(),
                        html.clone(),
                    )),
                    None => builder
                        .header(ContentType::TEXT_PLAIN)
                        .body(mail.text.clone()),
                }
                .map_err(|_| DeliveryError::Build)?;
                smtp.send(msg).await.map(|_| ()).map_err(|e| {
                    // The server's text may echo the address: keep only the code.
                    DeliveryError::Smtp(match e.status() {
                        Some(code) => format!("smtp {code}"),
                        None if e.is_timeout() => "smtp timeout".into(),
                        None => "smtp connection failed".into(),
                    })
                })
            }
            Self::DevMailbox(dir) => {
                let now = Utc::now();
                let dev = DevMail {
                    id,
                    delivered_at: now,
                    to: mail.to.as_str().to_owned(),
                    subject: mail.subject.clone(),
                    text: mail.text.clone(),
                };
                let bytes = serde_json::to_vec_pretty(&dev).map_err(|_| DeliveryError::Build)?;
                let path = dir.join(super::dev_mail_file_name(customer, now, id));
                // Links and codes live in these files: readable by the portal's user only.
                tokio::task::spawn_blocking(move || super::write_private(&path, &bytes))
                    .await
                    .map_err(|_| DeliveryError::Io)?
                    .map_err(|_| DeliveryError::Io)
            }
        }
    }
}

/// One Message-ID per queued mail, the same on every attempt (RFC 5322 3.6.4: a message sent
/// again keeps its identifier), so a mail that reaches a mailbox twice after a crash between
/// the server's acceptance and our record of it can be recognised as one.
fn message_id(row: &entity::Model, settings: &crate::Settings) -> String {
    let host = settings.public_url.host_str().unwrap_or("localhost");
    format!("<{}.{}@{host}>", row.id, row.created_at.timestamp())
}

/// Exponential backoff: `base * 2^(attempts-1)`, at most `max`.
fn backoff(attempts: i32, base: Duration, max: Duration) -> Duration {
    let shift = attempts.clamp(1, 20) as u32 - 1;
    base.saturating_mul(1u32 << shift).min(max)
}

/// Opens a queued message; `Ok(None)` when it opens but is not a message.
async fn open_message(
    portal: &Portal,
    row: &entity::Model,
) -> Result<Option<OutgoingMail>, crate::CoreError> {
    let key = match row.customer_id {
        Some(id) => portal.vault.customer_key(&portal.db, id).await?,
        None => portal.vault.system_key().clone(),
    };
    let plain = crate::vault::open(&key, super::MESSAGE, row.id, &row.message_sealed)?;
    Ok(serde_json::from_slice::<OutgoingMail>(&plain).ok())
}

/// Sends every mail that is due now; returns how many were sent.
pub async fn deliver_due(
    portal: &Portal,
    transport: &Transport,
    worker_id: &str,
) -> Result<usize, sea_orm::DbErr> {
    deliver_due_until(portal, transport, worker_id, None).await
}

/// [`deliver_due`], stopping between two mails once `stop` turns true.
async fn deliver_due_until(
    portal: &Portal,
    transport: &Transport,
    worker_id: &str,
    stop: Option<&watch::Receiver<bool>>,
) -> Result<usize, sea_orm::DbErr> {
    use entity::Column as C;
    let now = Utc::now();
    let due = entity::Entity::find()
        .filter(C::SentAt.is_null())
        .filter(C::NextAttemptAt.lte(now))
        .filter(C::ClaimedUntil.is_null().or(C::ClaimedUntil.lt(now)))
        .order_by_asc(C::Id)
        .limit(50)
        .all(&portal.db)
        .await?;
    if due.is_empty() {
        return Ok(0);
    }
    // The claim: one UPDATE for the lot, which only one worker (of any replica) wins per row,
    // through the group commit so that it shares a sync with the portal's other writes.
    let now = Utc::now();
    let lease = now + chrono::Duration::seconds(120);
    let claim = entity::Entity::update_many()
        .col_expr(C::ClaimedUntil, Expr::value(lease))
        .col_expr(C::ClaimedBy, Expr::value(worker_id.to_owned()))
        .filter(C::Id.is_in(due.iter().map(|r| r.id)))
        .filter(C::SentAt.is_null())
        .filter(C::ClaimedUntil.is_null().or(C::ClaimedUntil.lt(now)));
    let claimed: std::collections::HashSet<i64> = write(portal, move |tx| {
        Box::pin(async move {
            Ok(claim
                .exec_with_returning(tx)
                .await?
                .into_iter()
                .map(|m| m.id)
                .collect())
        })
    })
    .await?;
    let mut sent = 0;
    for row in due {
        if !claimed.contains(&row.id) {
            continue;
        }
        if stop.is_some_and(|s| *s.borrow()) {
            // Shutting down: the rest of the claim is released by the caller.
            break;
        }
        let mail = match open_message(portal, &row).await {
            Ok(mail) => mail,
            Err(crate::CoreError::Sealed(crate::vault::SealError::KeyDestroyed)) => {
                // The customer was erased: their queued mail goes with them, unsent.
                entity::Entity::delete_by_id(row.id)
                    .exec(&portal.db)
                    .await?;
                tracing::info!(mail_id = row.id, "mail for an erased customer dropped");
                continue;
            }
            Err(_) => None,
        };
        let result = match mail {
            Some(mail) => transport.send(&row, &portal.settings, &mail).await,
            None => Err(DeliveryError::Build),
        };
        let attempts = row.attempts + 1;
        let mut update = entity::Entity::update_many()
            .col_expr(C::Attempts, Expr::value(attempts))
            .col_expr(
                C::ClaimedUntil,
                Expr::value(Option::<chrono::DateTime<Utc>>::None),
            )
            .filter(C::Id.eq(row.id))
            .filter(C::ClaimedBy.eq(worker_id.to_owned()));
        match &result {
            Ok(()) => {
                sent += 1;
                update = update
                    .col_expr(C::SentAt, Expr::value(Utc::now()))
                    .col_expr(C::LastError, Expr::value(Option::<String>::None));
                tracing::info!(mail_id = row.id, template = %row.template, attempts, "mail delivered");
            }
            Err(e) => {
                let wait = backoff(
                    attempts,
                    portal.settings.mail_retry_base,
                    portal.settings.mail_retry_max,
                );
                let next = Utc::now()
                    + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::hours(1));
                update = update
                    .col_expr(C::NextAttemptAt, Expr::value(next))
                    .col_expr(C::LastError, Expr::value(e.to_string()));
                tracing::warn!(mail_id = row.id, attempts, error = %e, retry_in_ms = wait.as_millis() as u64, "mail delivery failed; will retry");
            }
        }
        // Once the server took a mail, its record must reach the database, or the mail would
        // go again when its lease ends: through a database outage (a restart takes seconds)
        // the record is tried again for most of the lease.
        let delivered = result.is_ok();
        if delivered && row.customer_id.is_none() {
            // Mail to no customer (staff invitations, erasure receipts, reminders to the
            // officer) is shown nowhere once sent: its body, with the links and the erased
            // address it may carry, goes as soon as the server took it.
            let gone = entity::Entity::delete_many()
                .filter(C::Id.eq(row.id))
                .filter(C::ClaimedBy.eq(worker_id.to_owned()));
            until_recorded(delivered, || gone.clone().exec(&portal.db)).await?;
        } else {
            let marked = until_recorded(delivered, || {
                let update = update.clone();
                write(portal, move |tx| {
                    Box::pin(async move { Ok(update.exec(tx).await?) })
                })
            })
            .await;
            // A mark that failed or found no row may mean the customer was erased while the
            // mail was on its way: the clean-up is checked before a failed mark is reported.
            if let Err(e) = &marked {
                tracing::error!(mail_id = row.id, error = %e, "a delivered mail could not be marked sent");
            }
            if result.is_ok() && !matches!(marked, Ok(ref m) if m.rows_affected > 0) {
                drop_if_erased(portal, transport, row.customer_id).await?;
            }
            marked?;
        }
    }
    Ok(sent)
}

/// How long the record of a delivered mail is tried again: a database restart takes seconds;
/// well within the lease, and within systemd's stop timeout (30 s) when it happens at shutdown.
const RECORD_FOR: Duration = Duration::from_secs(20);

/// Runs `record` once, or, when `delivered`, again a second apart while it fails, for up to
/// [`RECORD_FOR`].
async fn until_recorded<T, F, Fut>(delivered: bool, mut record: F) -> Result<T, sea_orm::DbErr>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, sea_orm::DbErr>>,
{
    let started = tokio::time::Instant::now();
    let mut warned = false;
    loop {
        match record().await {
            Err(e) if delivered && started.elapsed() + Duration::from_secs(1) < RECORD_FOR => {
                if !warned {
                    warned = true;
                    tracing::warn!(error = %e, "a delivered mail could not be recorded yet; trying again");
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            other => return other,
        }
    }
}

/// A statement through the group commit, without a savepoint (its only failures are the
/// database's), with the database's error as this module reports it.
async fn write<T: Send + 'static>(
    portal: &Portal,
    job: impl for<'a> FnOnce(
        &'a sea_orm::DatabaseTransaction,
    ) -> std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<T, crate::CoreError>> + Send + 'a>,
    > + Send
    + 'static,
) -> Result<T, sea_orm::DbErr> {
    portal
        .writer
        .write_plain(Box::new(job))
        .await
        .map_err(|e| match e {
            crate::CoreError::Database(db) => db,
            other => sea_orm::DbErr::Custom(other.to_string()),
        })
}

/// A mail delivered to the dev mailbox whose sent mark found no row: if its customer was erased
/// meanwhile (their key is destroyed and the erasure deleted the outbox rows), the file just
/// written, listed too late for the erasure to remove it, goes now with their other files.
async fn drop_if_erased(
    portal: &Portal,
    transport: &Transport,
    customer: Option<i64>,
) -> Result<(), sea_orm::DbErr> {
    let (Transport::DevMailbox(_), Some(customer)) = (transport, customer) else {
        return Ok(());
    };
    match portal.vault.customer_key(&portal.db, customer).await {
        Err(crate::CoreError::Sealed(crate::vault::SealError::KeyDestroyed)) => {}
        Ok(_) => return Ok(()),
        Err(crate::CoreError::Database(e)) => return Err(e),
        Err(e) => {
            tracing::warn!(error = %e, "could not tell whether a customer was erased");
            return Ok(());
        }
    }
    let files = super::dev_mail_files_of(&portal.settings.data_dir, customer);
    // File removal blocks; the worker's thread serves requests too.
    let _ = tokio::task::spawn_blocking(move || crate::requests::erase::remove_files(&files)).await;
    tracing::info!("dev mail of a customer erased during delivery removed");
    Ok(())
}

/// Delivers mail until `shutdown` turns true: on every wake-up and every `mail_poll`.
pub async fn run_worker(portal: Portal, transport: Transport, mut shutdown: watch::Receiver<bool>) {
    let worker_id = uuid::Uuid::new_v4().to_string();
    loop {
        match deliver_due_until(&portal, &transport, &worker_id, Some(&shutdown)).await {
            Ok(_) => crate::ops::ran(crate::ops::Job::Mail),
            Err(e) => tracing::error!(error = %e, "outbox worker could not read the outbox"),
        }
        // Sleep until woken, but never past the next retry that is due.
        let poll = portal
            .settings
            .mail_poll
            .min(portal.settings.mail_retry_base);
        tokio::select! {
            _ = portal.outbox.notified() => {}
            _ = tokio::time::sleep(poll) => {}
            _ = shutdown.changed() => {}
        }
        if *shutdown.borrow() {
            break;
        }
    }
    // What this worker claimed and did not send goes back at once, not when its lease ends:
    // another replica sends it now.
    let release = entity::Entity::update_many()
        .col_expr(
            entity::Column::ClaimedUntil,
            Expr::value(Option::<chrono::DateTime<Utc>>::None),
        )
        .col_expr(
            entity::Column::ClaimedBy,
            Expr::value(Option::<String>::None),
        )
        .filter(entity::Column::ClaimedBy.eq(worker_id))
        .filter(entity::Column::SentAt.is_null());
    match release.exec(&portal.db).await {
        Ok(r) if r.rows_affected > 0 => {
            tracing::info!(
                mails = r.rows_affected,
                "unsent mail claims released at shutdown"
            )
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "mail claims not released; they lapse in two minutes"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_the_base_and_stops_at_the_maximum() {
        let b = Duration::from_secs(5);
        let m = Duration::from_secs(60);
        assert_eq!(backoff(1, b, m), Duration::from_secs(5));
        assert_eq!(backoff(2, b, m), Duration::from_secs(10));
        assert_eq!(backoff(4, b, m), Duration::from_secs(40));
        assert_eq!(backoff(5, b, m), Duration::from_secs(60));
        assert_eq!(backoff(500, b, m), Duration::from_secs(60));
    }
}
