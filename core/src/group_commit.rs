//! Group commit for SQLite: one task writes, and commits together whatever has queued meanwhile.
//!
//! SQLite has one writer at a time. With `synchronous = FULL` every commit waits for the disk,
//! and writers that find the database locked sleep in SQLite's busy handler (1, 2, 5, 10 … ms)
//! instead of queueing: under load, a few hundred commits a second and p99s of half a second.
//! Here each write is a job sent to one task. The task takes the first job, then every job
//! queued behind it (up to [`MAX_BATCH`]), runs each in a savepoint of one transaction (a job
//! that fails rolls back alone), commits once (one sync of the log for the lot), and only then
//! answers each caller: a caller told "done" is as durable as with a commit of its own.
//!
//! PostgreSQL has row locks and many writers; there a job runs in a transaction of its own, at
//! once, and nothing queues.

use std::{future::Future, pin::Pin};

use futures::FutureExt as _;
use sea_orm::{DatabaseConnection, DatabaseTransaction, DbBackend, TransactionTrait};
use tokio::sync::{mpsc, oneshot};

use crate::CoreError;

/// Most jobs committed together: bounds the time the write lock is held, so readers of a
/// fresh snapshot and the next batch wait at most this many jobs.
pub const MAX_BATCH: usize = 64;

/// What a job's future returns to the writer: how to answer its caller once the batch is (or
/// is not) committed, and whether the batch's transaction can still be trusted. A database
/// error may have rolled the whole transaction back (SQLite does so on a full disk or an I/O
/// error, and the next savepoint would silently begin a new one): the batch is then abandoned
/// and every caller told it failed, never told "done" for a write that is gone.
type Answer = (Box<dyn FnOnce(Result<(), String>) + Send>, Poisoned);
type Poisoned = bool;
type Job = Box<
    dyn for<'a> FnOnce(&'a DatabaseTransaction) -> Pin<Box<dyn Future<Output = Answer> + Send + 'a>>
        + Send,
>;

/// A write job: a function of the transaction, owning what it needs.
pub type WriteFn<T> = Box<
    dyn for<'a> FnOnce(
            &'a DatabaseTransaction,
        ) -> Pin<Box<dyn Future<Output = Result<T, CoreError>> + Send + 'a>>
        + Send,
>;

/// The handle to the writer; cheap to clone.
#[derive(Clone)]
pub struct GroupCommit {
    db: DatabaseConnection,
    queue: Option<mpsc::UnboundedSender<Job>>,
}

impl GroupCommit {
    /// Starts the writer task for `db` when it is SQLite (on the current Tokio runtime).
    pub fn start(db: &DatabaseConnection) -> Self {
        let queue = (db.get_database_backend() == DbBackend::Sqlite).then(|| {
            let (tx, rx) = mpsc::unbounded_channel();
            tokio::spawn(run(db.clone(), rx));
            tx
        });
        Self {
            db: db.clone(),
            queue,
        }
    }

    /// Runs `job` in a transaction and commits it (with others queued at the same moment, on
    /// SQLite). Its effects are durable when this returns `Ok`; on `Err` nothing of it stays.
    pub async fn write<T: Send + 'static>(&self, job: WriteFn<T>) -> Result<T, CoreError> {
        self.submit(job, true).await
    }

    /// [`write`](Self::write) without the job's savepoint, for a job whose only way to fail is
    /// the database (which spoils its whole batch anyway): two statements fewer in the one
    /// writer per job. A job that can fail otherwise after a write must use `write`.
    pub async fn write_plain<T: Send + 'static>(&self, job: WriteFn<T>) -> Result<T, CoreError> {
        self.submit(job, false).await
    }

    async fn submit<T: Send + 'static>(
        &self,
        job: WriteFn<T>,
        savepoint: bool,
    ) -> Result<T, CoreError> {
        let Some(queue) = &self.queue else {
            let tx = self.db.begin().await?;
            // As on SQLite, a panicking job is a failed write, not a failed caller.
            let value = std::panic::AssertUnwindSafe(job(&tx))
                .catch_unwind()
                .await
                .map_err(|_| CoreError::internal("group_commit.job", "the write panicked"))??;
            tx.commit().await?;
            return Ok(value);
        };
        let (answer_tx, answer_rx) = oneshot::channel::<Result<T, CoreError>>();
        let wrapped: Job = Box::new(move |tx: &DatabaseTransaction| {
            Box::pin(async move {
                let mut poisoned = false;
                let outcome = if !savepoint {
                    let done = job(tx).await;
                    // Without a savepoint, any failure may have left a half write: spoiled.
                    poisoned = done.is_err();
                    done
                } else {
                    match tx.begin().await {
                        Ok(savepoint) => match job(&savepoint).await {
                            Ok(value) => match savepoint.commit().await {
                                Ok(()) => Ok(value),
                                Err(e) => {
                                    poisoned = true;
                                    Err(CoreError::from(e))
                                }
                            },
                            Err(e) => {
                                poisoned = matches!(e, CoreError::Database(_))
                                    || savepoint.rollback().await.is_err();
                                Err(e)
                            }
                        },
                        Err(e) => {
                            poisoned = true;
                            Err(CoreError::from(e))
                        }
                    }
                };
                let answer: Box<dyn FnOnce(Result<(), String>) + Send> = match outcome {
                    // Told only after the batch's commit: an error of the commit reaches every
                    // caller of the batch.
                    Ok(value) => Box::new(move |committed: Result<(), String>| {
                        let _ = answer_tx.send(
                            committed
                                .map(|()| value)
                                .map_err(|e| CoreError::internal("group_commit.commit", e)),
                        );
                    }),
                    Err(e) => Box::new(move |_| {
                        let _ = answer_tx.send(Err(e));
                    }),
                };
                (answer, poisoned)
            })
        });
        queue
            .send(wrapped)
            .map_err(|_| CoreError::internal("group_commit.send", "the writer has stopped"))?;
        answer_rx
            .await
            .map_err(|_| CoreError::internal("group_commit.answer", "the writer dropped a job"))?
    }
}

async fn run(db: DatabaseConnection, mut queue: mpsc::UnboundedReceiver<Job>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while queue.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let started = std::time::Instant::now();
        let tx = match crate::db::begin_write(&db).await {
            Ok(tx) => tx,
            Err(e) => {
                // Each caller hears of it; the next batch tries again.
                tracing::error!(error = %CoreError::from(e), "group commit could not begin");
                batch.clear();
                continue;
            }
        };
        let locked = started.elapsed();
        let jobs = batch.len();
        let mut answers = Vec::with_capacity(batch.len());
        let mut poisoned = false;
        for job in batch.drain(..) {
            // A panicking job drops its caller's answer (they hear "dropped") and spoils the
            // batch, but never stops the writer: every later write would fail.
            match std::panic::AssertUnwindSafe(job(&tx)).catch_unwind().await {
                Ok((answer, spoiled)) => {
                    poisoned |= spoiled;
                    answers.push(answer);
                }
                Err(_) => {
                    tracing::error!("a group-commit job panicked; its batch is rolled back");
                    poisoned = true;
                }
            }
        }
        let committed = if poisoned {
            let _ = tx.rollback().await;
            Err("the batch was rolled back: one of its writes failed in the database".to_owned())
        } else {
            tx.commit().await.map_err(|e| {
                tracing::error!(error = %CoreError::from(e), "group commit failed");
                "the batch's commit failed".to_owned()
            })
        };
        let took = started.elapsed();
        if took >= SLOW_BATCH {
            // Every caller of the batch waited this long: a sign of another writer holding
            // SQLite's lock (the wait for it is `lock_ms`) or of a slow disk.
            tracing::warn!(
                jobs,
                lock_ms = locked.as_millis() as u64,
                total_ms = took.as_millis() as u64,
                "slow group-commit batch"
            );
        }
        for answer in answers {
            answer(committed.clone());
        }
    }
}

/// A batch that takes this long is logged.
const SLOW_BATCH: std::time::Duration = std::time::Duration::from_millis(200);
