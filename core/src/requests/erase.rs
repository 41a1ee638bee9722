//! Deleting a customer (an approved deletion request, or retention): every table in one
//! transaction, the customer's key destroyed last, files removed after the commit. What the law
//! makes the salon keep (paid visits, the stored-value ledger) stays without identity; a keyed
//! hash of the email and phone goes on the suppression list; a dated receipt is mailed.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use sea_orm::{
    ConnectionTrait, DatabaseTransaction,
    sea_query::{Expr, ExprTrait, OnConflict, Query},
};

use crate::{
    CoreError, Portal,
    customers::{self, Contact},
};

/// What an erasure kept, for the receipt.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Kept {
    /// Paid visits kept as financial records (dates, services, amounts), without identity.
    pub visits: u64,
    /// Memberships whose stored-value ledger is kept, without identity.
    pub memberships: u64,
}

/// The suppression-list entry for an email or phone: a keyed hash, distinct from the blind
/// indexes (which are deleted with the customer).
pub fn suppression_hash(portal: &Portal, kind: &str, normalised: &str) -> Vec<u8> {
    portal
        .vault
        .index("suppression", &format!("{kind}:{normalised}"))
}

/// Whether an email or phone was erased and must never be contacted for marketing again.
pub async fn is_suppressed(
    portal: &Portal,
    kind: &str,
    normalised: &str,
) -> Result<bool, CoreError> {
    let q = Query::select()
        .column("contact_hash")
        .from("suppression_list")
        .and_where(Expr::col("contact_hash").eq(suppression_hash(portal, kind, normalised)))
        .to_owned();
    Ok(portal.db.query_one(&q).await?.is_some())
}

async fn delete_where(
    tx: &DatabaseTransaction,
    table: &str,
    customer: i64,
) -> Result<(), CoreError> {
    tx.execute(
        &Query::delete()
            .from_table(table.to_owned())
            .and_where(Expr::col("customer_id").eq(customer))
            .to_owned(),
    )
    .await?;
    Ok(())
}

async fn file_names(
    tx: &DatabaseTransaction,
    table: &str,
    customer: i64,
) -> Result<Vec<String>, CoreError> {
    let q = Query::select()
        .column("file_name")
        .from(table.to_owned())
        .and_where(Expr::col("customer_id").eq(customer))
        .to_owned();
    tx.query_all(&q)
        .await?
        .iter()
        .map(|r| Ok(r.try_get("", "file_name")?))
        .collect()
}

/// Erases `customer` inside `tx`; returns the files to remove once `tx` has committed, what was
/// kept, and the contact details (for the receipt, then dropped).
/// `tx` must come from [`crate::db::begin_write`]: erasure reads before it writes.
pub async fn erase(
    portal: &Portal,
    tx: &DatabaseTransaction,
    customer: i64,
    now: DateTime<Utc>,
) -> Result<(Vec<PathBuf>, Kept, Contact), CoreError> {
    let contact = customers::contact(tx, &portal.vault, customer).await?;
    let mut hashes = Vec::new();
    if let Some(e) = &contact.email {
        hashes.push(suppression_hash(portal, "email", e.as_str()));
        // The sign-in throttle's bucket is a keyed hash of the address too: drop it now.
        crate::signin::throttle::forget(tx, &portal.vault.index("throttle/email", e.as_str()))
            .await?;
    }
    if let Some(p) = &contact.phone {
        hashes.push(suppression_hash(portal, "phone", p.as_str()));
    }
    for h in hashes {
        tx.execute(
            &Query::insert()
                .into_table("suppression_list")
                .columns(["contact_hash", "added_at"])
                .values_panic([h.into(), now.into()])
                .on_conflict(OnConflict::column("contact_hash").do_nothing().to_owned())
                .to_owned(),
        )
        .await?;
    }
    // Published photos may still be up somewhere: the takedown tasks outlive the photos.
    crate::photos::on_erasure(tx, customer, now).await?;
    let dir = &portal.settings.data_dir;
    let mut files: Vec<PathBuf> = file_names(tx, "photos", customer)
        .await?
        .into_iter()
        .map(|f| dir.join("photos").join(f))
        .collect();
    files.extend(
        file_names(tx, "exports", customer)
            .await?
            .into_iter()
            .map(|f| dir.join("exports").join(f)),
    );
    for table in [
        "sensitive_notes",
        "service_profiles",
        "photo_use_events",
        "photos",
        "consent_states",
        "consent_events",
        "notice_confirmations",
        "one_time_tokens",
        "exports",
        "mail_outbox",
    ] {
        delete_where(tx, table, customer).await?;
    }
    // Open sessions end now, but stay (revoked, cut from the customer, swept after a day) so
    // that the next page of that browser can say why: "your data has been deleted".
    tx.execute(
        &Query::update()
            .table("sessions")
            .value("subject_kind", crate::sessions::ERASED)
            .value("customer_id", Option::<i64>::None)
            .value(
                "revoked_at",
                sea_orm::sea_query::Func::if_null(Expr::col("revoked_at"), Expr::val(now)),
            )
            .and_where(Expr::col("customer_id").eq(customer))
            .to_owned(),
    )
    .await?;
    // In development the delivered mail sits in files too; it goes with the customer. Listed
    // after the outbox rows are deleted: a mail the worker delivers from now on finds its row
    // gone and removes its own file (`mail::worker`).
    if portal.settings.dev_mailbox() {
        files.extend(crate::mail::dev_mail_files_of(dir, customer));
    }
    // Financial records stay, cut from the person: paid visits (without their notes) and the
    // stored-value ledger (the card number and its index go).
    let visits = tx
        .execute(
            &Query::update()
                .table("visits")
                .value("customer_id", Option::<i64>::None)
                .value("notes_sealed", Option::<Vec<u8>>::None)
                .and_where(Expr::col("customer_id").eq(customer))
                .to_owned(),
        )
        .await?
        .rows_affected();
    let memberships = tx
        .execute(
            &Query::update()
                .table("memberships")
                .value("customer_id", Option::<i64>::None)
                .value("card_number_sealed", Vec::<u8>::new())
                .value("card_number_index", Option::<Vec<u8>>::None)
                .value("closed_at", now)
                .and_where(Expr::col("customer_id").eq(customer))
                .to_owned(),
        )
        .await?
        .rows_affected();
    // Earlier pass-on tasks (a correction) held identifiers of this customer: the deletion's
    // own tasks supersede them.
    crate::sharing::destroy_for_customer(tx, customer).await?;
    // Request records stay as proof that the request was answered, without what was asked.
    tx.execute(
        &Query::update()
            .table("requests")
            .value("customer_id", Option::<i64>::None)
            .value("details_sealed", Option::<Vec<u8>>::None)
            .and_where(Expr::col("customer_id").eq(customer))
            .to_owned(),
    )
    .await?;
    tx.execute(
        &Query::delete()
            .from_table("customers")
            .and_where(Expr::col("id").eq(customer))
            .to_owned(),
    )
    .await?;
    // Last: without the key, any copy of this customer's sealed data (backups included) is
    // unreadable for good.
    portal.vault.destroy_customer_key(tx, customer).await?;
    Ok((
        files,
        Kept {
            visits,
            memberships,
        },
        contact,
    ))
}

/// Removes files after the transaction that erased their rows has committed. A file left by a
/// crash here is sealed under a destroyed key: unreadable, and removed by the next run.
pub fn remove_files(files: &[PathBuf]) {
    for f in files {
        match std::fs::remove_file(f) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => tracing::error!(error = %e, "an erased customer's file could not be removed"),
        }
    }
}

/// What a crash left on disk, put right at start (every start, before the first request is
/// carried out): in `exports/`, a copy still named `.part` whose writer is gone (its lock went
/// with its process) takes its final name if its row was committed, and is removed if not; a
/// copy with its final name that no row refers to (its customer erased, its row swept) is
/// removed. In `photos/`, a file no row refers to is removed (a crash between an erasure's
/// commit and the removal of its files). Final-named files are touched only when older than
/// this process's [`Portal`], so a file written since (its row on its way) stays. On SQLite the
/// write-ahead log is emptied into the database file, so no page from before an erasure waits
/// there. Returns how many files were finished or removed.
pub async fn recover_files(portal: &Portal) -> Result<usize, CoreError> {
    let mut fixed = 0;
    // Only what an earlier process left: a file written since this one opened (a row on its
    // way) is not touched.
    let before_us = |entry: &std::fs::DirEntry| {
        entry
            .metadata()
            .and_then(|m| m.modified())
            .is_ok_and(|t| t < portal.opened_at)
    };
    // One error (a file another replica just renamed, an odd entry) skips that file only.
    let skip = |e: std::io::Error| {
        if e.kind() != std::io::ErrorKind::NotFound {
            tracing::warn!(error = %e, "a file left by a crash could not be put right");
        }
    };
    let exports = super::export::dir(portal);
    let named = file_names_in(portal, "exports").await?;
    for entry in std::fs::read_dir(&exports).into_iter().flatten().flatten() {
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        if !entry.file_type().is_ok_and(|t| t.is_file()) {
            continue;
        }
        let path = entry.path();
        if let Some(done) = name.strip_suffix(super::export::PART) {
            let Ok(file) = std::fs::File::open(&path) else {
                continue;
            };
            // Locked: another process is writing it right now. And the locked file must be
            // the one still at this name.
            if file.try_lock().is_err() || !super::export::same_file(&file, &path) {
                continue;
            }
            let done_path = exports.join(done);
            let result = if named.contains(done) {
                std::fs::rename(&path, &done_path)
            } else {
                std::fs::remove_file(&path)
            };
            match result {
                Ok(()) => fixed += 1,
                Err(e) => skip(e),
            }
        } else if before_us(&entry) && !named.contains(&name) {
            match std::fs::remove_file(&path) {
                Ok(()) => fixed += 1,
                Err(e) => skip(e),
            }
        }
    }
    let photos = portal.settings.data_dir.join("photos");
    let named = file_names_in(portal, "photos").await?;
    for entry in std::fs::read_dir(&photos).into_iter().flatten().flatten() {
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        if entry.file_type().is_ok_and(|t| t.is_file())
            && before_us(&entry)
            && !named.contains(&name)
        {
            match std::fs::remove_file(entry.path()) {
                Ok(()) => fixed += 1,
                Err(e) => skip(e),
            }
        }
    }
    if portal.db.get_database_backend() == sea_orm::DatabaseBackend::Sqlite {
        portal
            .db
            .execute_unprepared("PRAGMA wal_checkpoint(TRUNCATE)")
            .await?;
    }
    Ok(fixed)
}

/// Every file name `table` refers to, in one query.
async fn file_names_in(
    portal: &Portal,
    table: &'static str,
) -> Result<std::collections::HashSet<String>, CoreError> {
    let q = Query::select().column("file_name").from(table).to_owned();
    portal
        .db
        .query_all(&q)
        .await?
        .iter()
        .map(|r| Ok(r.try_get::<String>("", "file_name")?))
        .collect()
}

/// Removes files in `photos/` and `exports/` that no row refers to any more (left by a crash
/// between a commit and the file's removal, or by an export whose claim was lost). Only files
/// older than an hour are touched, so nothing being written right now is removed.
pub async fn sweep_orphan_files(portal: &Portal, now: DateTime<Utc>) -> Result<usize, CoreError> {
    let mut removed = 0;
    for (folder, table) in [("photos", "photos"), ("exports", "exports")] {
        let dir = portal.settings.data_dir.join(folder);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                continue;
            };
            // A copy still being written, or committed and awaiting its name: the lock tells
            // which, and `recover_files` reads it; age says nothing here.
            if name.ends_with(super::export::PART) {
                continue;
            }
            let old = entry
                .metadata()
                .and_then(|m| m.modified())
                .map(|t| DateTime::<Utc>::from(t) < now - chrono::Duration::hours(1))
                .unwrap_or(false);
            if !old {
                continue;
            }
            let known = portal
                .db
                .query_one(
                    &Query::select()
                        .column("file_name")
                        .from(table)
                        .and_where(Expr::col("file_name").eq(name.clone()))
                        .to_owned(),
                )
                .await?
                .is_some();
            if !known && std::fs::remove_file(entry.path()).is_ok() {
                removed += 1;
            }
        }
    }
    Ok(removed)
}
