//! Encrypted, engine-neutral backups of the data (`portal backup` / `portal restore`).
//!
//! The archive holds every table but the key store (`customer_keys`, `pass_on_keys`), and the
//! photo files, as typed JSON sealed with AES-256-GCM under a key derived from the master key.
//! The key store is backed up on its own (`portal backup --keys`), so a data archive restored
//! beside today's key store cannot open a customer whose key was destroyed since, nor a
//! pass-on task's identifiers once the task is done.
//!
//! Restore checks the whole archive before writing anything and writes every row in one
//! transaction, into an empty database of either engine.

use std::path::Path;

use base64::{Engine, engine::general_purpose::STANDARD};
use chrono::{DateTime, Utc};
use sea_orm::{
    ConnectionTrait, DatabaseBackend, DbErr, QueryResult, Statement, TransactionSession,
    TransactionTrait,
    sea_query::{Expr, ExprTrait, Query, SimpleExpr},
};
use serde_json::{Map, Value, json};
use zeroize::Zeroizing;

use crate::{
    CoreError, Portal,
    vault::{Field, open, seal},
};

mod catalogue;

pub use catalogue::covered_columns;
use catalogue::{KEY_TABLES, Kind, Kind::*, TABLES, col_name};

const MAGIC_DATA: &[u8] = b"SALON-PORTAL-BACKUP-1\n";
const MAGIC_KEYS: &[u8] = b"SALON-PORTAL-KEYSTORE-1\n";
const ARCHIVE: Field = Field::new("backup", "archive");

/// What an archive holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Every table but the key store, and the photo files.
    Data,
    /// The key store only: customer keys and pass-on task keys.
    Keys,
}

impl Scope {
    fn tables(self) -> &'static [(&'static str, &'static [(&'static str, Kind)])] {
        match self {
            Scope::Data => TABLES,
            Scope::Keys => KEY_TABLES,
        }
    }
    fn magic(self) -> &'static [u8] {
        match self {
            Scope::Data => MAGIC_DATA,
            Scope::Keys => MAGIC_KEYS,
        }
    }
}

/// Why a restore was refused; nothing was written in any case.
#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    /// Not an archive of this kind, cut short, altered, or made under another master key.
    #[error("the archive is damaged, incomplete, or was made with another master key")]
    Unreadable,
    /// The target database already holds data.
    #[error("the target database is not empty (table {0} has rows)")]
    NotEmpty(&'static str),
    /// Anything else.
    #[error(transparent)]
    Core(#[from] CoreError),
}

impl From<DbErr> for RestoreError {
    fn from(e: DbErr) -> Self {
        RestoreError::Core(e.into())
    }
}

fn read_value(row: &QueryResult, col: &str, kind: Kind) -> Result<Value, DbErr> {
    Ok(match kind {
        I64 => row
            .try_get::<Option<i64>>("", col)?
            .map_or(Value::Null, Value::from),
        I32 => row
            .try_get::<Option<i32>>("", col)?
            .map_or(Value::Null, Value::from),
        Text => row
            .try_get::<Option<String>>("", col)?
            .map_or(Value::Null, Value::from),
        Bool => row
            .try_get::<Option<bool>>("", col)?
            .map_or(Value::Null, Value::from),
        Bytes => row
            .try_get::<Option<Vec<u8>>>("", col)?
            .map_or(Value::Null, |b| Value::from(STANDARD.encode(b))),
        Time => row
            .try_get::<Option<DateTime<Utc>>>("", col)?
            .map_or(Value::Null, |t| {
                // Microseconds: what PostgreSQL keeps, so an archive means the same on both engines.
                Value::from(t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
            }),
    })
}

fn write_value(v: &Value, kind: Kind, nullable: bool) -> Option<SimpleExpr> {
    if v.is_null() {
        if !nullable {
            return None;
        }
        return Some(SimpleExpr::Value(match kind {
            I64 => Option::<i64>::None.into(),
            I32 => Option::<i32>::None.into(),
            Text => Option::<String>::None.into(),
            Bool => Option::<bool>::None.into(),
            Bytes => Option::<Vec<u8>>::None.into(),
            Time => Option::<DateTime<Utc>>::None.into(),
        }));
    }
    Some(SimpleExpr::Value(match kind {
        I64 => v.as_i64()?.into(),
        I32 => i32::try_from(v.as_i64()?).ok()?.into(),
        Text => v.as_str()?.to_owned().into(),
        Bool => v.as_bool()?.into(),
        Bytes => STANDARD.decode(v.as_str()?).ok()?.into(),
        Time => DateTime::parse_from_rfc3339(v.as_str()?)
            .ok()?
            .with_timezone(&Utc)
            .into(),
    }))
}

/// Every row of `scope`'s tables as typed JSON, read in one transaction (a consistent snapshot
/// on both engines). Also what tests compare after a round trip.
pub async fn dump_tables(
    db: &impl TransactionTrait,
    scope: Scope,
) -> Result<(Map<String, Value>, usize), CoreError> {
    let tx = db.begin().await?;
    let mut tables = Map::new();
    let mut rows_total = 0;
    for (table, cols) in scope.tables() {
        let names: Vec<&str> = cols.iter().map(|(c, _)| col_name(c).0).collect();
        let select = Query::select()
            .columns(names.iter().copied())
            .from(*table)
            .to_owned();
        let mut rows = Vec::new();
        for row in tx.query_all(&select).await? {
            let mut values = Vec::with_capacity(cols.len());
            for (spec, kind) in cols.iter() {
                values.push(read_value(&row, col_name(spec).0, *kind)?);
            }
            rows.push(Value::Array(values));
        }
        rows_total += rows.len();
        tables.insert(
            (*table).to_owned(),
            json!({ "columns": names, "rows": rows }),
        );
    }
    tx.commit().await?;
    Ok((tables, rows_total))
}

/// Writes an encrypted archive of `scope` to `out`; returns the number of rows.
pub async fn backup(portal: &Portal, scope: Scope, out: &Path) -> Result<usize, CoreError> {
    if scope == Scope::Keys {
        return write_archive(portal, scope, out).await;
    }
    // Noted before the dump, so the archive (and a database restored from it) says when it was
    // taken; put back if the backup fails.
    let previous = last_backup(&portal.db).await?;
    record_last_backup(&portal.db, Utc::now()).await?;
    match write_archive(portal, scope, out).await {
        Ok(rows) => Ok(rows),
        Err(e) => {
            match previous {
                Some(t) => record_last_backup(&portal.db, t).await?,
                None => {
                    portal
                        .db
                        .execute(
                            &Query::delete()
                                .from_table("settings")
                                .and_where(Expr::col("key").eq(LAST_BACKUP_KEY))
                                .to_owned(),
                        )
                        .await?;
                }
            }
            Err(e)
        }
    }
}

async fn write_archive(portal: &Portal, scope: Scope, out: &Path) -> Result<usize, CoreError> {
    let (tables, rows_total) = dump_tables(&portal.db, scope).await?;
    let mut files = Map::new();
    if scope == Scope::Data {
        let photos = portal.settings.data_dir.join("photos");
        if let Ok(entries) = std::fs::read_dir(&photos) {
            for entry in entries {
                let path = entry?.path();
                if let Some(name) = path.file_name().and_then(|n| n.to_str()) {
                    files.insert(
                        format!("photos/{name}"),
                        Value::from(STANDARD.encode(std::fs::read(&path)?)),
                    );
                }
            }
        }
    }
    let payload = Zeroizing::new(
        serde_json::to_vec(&json!({ "format": 1, "created_at": Utc::now().to_rfc3339(), "tables": tables, "files": files }))
            .map_err(|e| CoreError::json("backup.serialise", &e))?,
    );
    let key = portal.vault.backup_key();
    let mut archive = scope.magic().to_vec();
    archive.extend(seal(&key, ARCHIVE, 0, &payload));
    // Written beside the target and renamed, so a crash never leaves half an archive.
    let tmp = out.with_extension("partial");
    std::fs::write(&tmp, &archive)?;
    std::fs::rename(&tmp, out)?;
    Ok(rows_total)
}

const LAST_BACKUP_KEY: &str = "last_backup_at";

/// Notes when a data backup was last written (the posture check reads it).
async fn record_last_backup(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
) -> Result<(), CoreError> {
    db.execute(
        &Query::insert()
            .into_table("settings")
            .columns(["key", "value", "updated_at"])
            .values_panic([LAST_BACKUP_KEY.into(), now.to_rfc3339().into(), now.into()])
            .on_conflict(
                sea_orm::sea_query::OnConflict::column("key")
                    .update_columns(["value", "updated_at"])
                    .to_owned(),
            )
            .to_owned(),
    )
    .await?;
    Ok(())
}

/// When a data backup was last written, by the schedule or by `portal backup`.
pub async fn last_backup(db: &impl ConnectionTrait) -> Result<Option<DateTime<Utc>>, CoreError> {
    let q = Query::select()
        .column("updated_at")
        .from("settings")
        .and_where(Expr::col("key").eq(LAST_BACKUP_KEY))
        .to_owned();
    Ok(match db.query_one(&q).await? {
        Some(r) => Some(r.try_get("", "updated_at")?),
        None => None,
    })
}

/// A file name a restore may write under the data directory: one plain name, no folders, no
/// hidden or parent entries.
fn safe_file_name(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= 200
        && !n.starts_with('.')
        && n.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
}

/// Loads an archive into an empty database (and data directory). Checks everything first;
/// writes all rows in one transaction. Returns the number of rows.
pub async fn restore(portal: &Portal, scope: Scope, archive: &Path) -> Result<usize, RestoreError> {
    let bytes = std::fs::read(archive).map_err(|e| RestoreError::Core(e.into()))?;
    let sealed = bytes
        .strip_prefix(scope.magic())
        .ok_or(RestoreError::Unreadable)?;
    // Archives made before a rotation open with the previous master key.
    let payload = portal
        .vault
        .backup_keys()
        .iter()
        .find_map(|k| open(k, ARCHIVE, 0, sealed).ok())
        .ok_or(RestoreError::Unreadable)?;
    let doc: Value = serde_json::from_slice(&payload).map_err(|_| RestoreError::Unreadable)?;
    if doc["format"] != 1 {
        return Err(RestoreError::Unreadable);
    }

    // Parse every row before touching the database.
    let mut inserts = Vec::new();
    for (table, cols) in scope.tables() {
        let names: Vec<&str> = cols.iter().map(|(c, _)| col_name(c).0).collect();
        let entry = &doc["tables"][*table];
        let stored: Vec<&str> = entry["columns"]
            .as_array()
            .ok_or(RestoreError::Unreadable)?
            .iter()
            .filter_map(Value::as_str)
            .collect();
        if stored != names {
            return Err(RestoreError::Unreadable);
        }
        for row in entry["rows"].as_array().ok_or(RestoreError::Unreadable)? {
            let values = row
                .as_array()
                .filter(|v| v.len() == cols.len())
                .ok_or(RestoreError::Unreadable)?;
            let mut exprs = Vec::with_capacity(cols.len());
            for (v, (spec, kind)) in values.iter().zip(cols.iter()) {
                // A file name in a row becomes a path under the data directory: held to the
                // same rule as the archive's own file names.
                if col_name(spec).0 == "file_name" && !v.as_str().is_some_and(safe_file_name) {
                    return Err(RestoreError::Unreadable);
                }
                exprs
                    .push(write_value(v, *kind, col_name(spec).1).ok_or(RestoreError::Unreadable)?);
            }
            inserts.push(
                Query::insert()
                    .into_table(*table)
                    .columns(names.iter().copied())
                    .values_panic(exprs)
                    .to_owned(),
            );
        }
    }
    let mut files = Vec::new();
    if let Some(map) = doc["files"].as_object() {
        for (name, content) in map {
            let rel = name.strip_prefix("photos/").filter(|n| safe_file_name(n));
            let rel = rel.ok_or(RestoreError::Unreadable)?;
            let data = content
                .as_str()
                .and_then(|s| STANDARD.decode(s).ok())
                .ok_or(RestoreError::Unreadable)?;
            files.push((rel.to_owned(), data));
        }
    }

    let tx = portal.db.begin().await?;
    // Only tables that start empty may be restored into; migrations seed two of them, which the
    // archive replaces.
    for (table, _) in scope.tables() {
        if matches!(
            *table,
            "consent_purposes" | "privacy_notices" | "vault_keys"
        ) {
            tx.execute(&Query::delete().from_table(*table).to_owned())
                .await?;
            continue;
        }
        let any = tx
            .query_one(
                &Query::select()
                    .expr(Expr::cust("1"))
                    .from(*table)
                    .limit(1)
                    .to_owned(),
            )
            .await?;
        if any.is_some() {
            return Err(RestoreError::NotEmpty(table));
        }
    }
    for insert in &inserts {
        tx.execute(insert).await?;
    }
    if tx.get_database_backend() == DatabaseBackend::Postgres {
        // Explicit ids leave PostgreSQL's sequences behind; move them past the restored rows.
        for (table, cols) in scope.tables() {
            if cols.first().is_some_and(|(c, k)| *c == "id" && *k == I64) {
                tx.execute_raw(Statement::from_string(
                    DatabaseBackend::Postgres,
                    format!("SELECT setval(pg_get_serial_sequence('{table}', 'id'), COALESCE((SELECT MAX(id) FROM {table}), 0) + 1, false)"),
                ))
                .await?;
            }
        }
    }
    let dir = portal.settings.data_dir.join("photos");
    std::fs::create_dir_all(&dir).map_err(|e| RestoreError::Core(e.into()))?;
    for (name, data) in &files {
        std::fs::write(dir.join(name), data).map_err(|e| RestoreError::Core(e.into()))?;
    }
    tx.commit().await?;
    Ok(inserts.len())
}

/// Key-store backups are kept for a short time only (security.md): at most this many.
const KEEP_KEY_BACKUPS: usize = 2;

/// Keeps the newest `keep` files starting with `prefix` in `dir`, deletes the rest.
fn prune(dir: &Path, prefix: &str, keep: usize) -> std::io::Result<()> {
    let mut names: Vec<String> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with(prefix) && n.ends_with(".bak"))
        .collect();
    // Names carry a sortable UTC timestamp.
    names.sort();
    let excess = names.len().saturating_sub(keep);
    for name in names.into_iter().take(excess) {
        std::fs::remove_file(dir.join(name))?;
    }
    Ok(())
}

/// One scheduled run: a data archive and a key-store archive into `dir`, then pruning. Several
/// replicas may run the schedule; a claim in `settings` lets one of them do it per interval.
pub async fn scheduled_backup(portal: &Portal, dir: &Path) -> Result<bool, CoreError> {
    let now = Utc::now();
    let interval = chrono::Duration::from_std(portal.settings.backup_interval)
        .unwrap_or(chrono::Duration::days(1));
    // Claim: insert the marker, or move it forward if the last run is old enough.
    let insert = Query::insert()
        .into_table("settings")
        .columns(["key", "value", "updated_at"])
        .values_panic([
            "last_scheduled_backup".into(),
            now.to_rfc3339().into(),
            now.into(),
        ])
        .on_conflict(
            sea_orm::sea_query::OnConflict::column("key")
                .do_nothing()
                .to_owned(),
        )
        .to_owned();
    let claimed = portal.db.execute(&insert).await?.rows_affected() == 1 || {
        let update = Query::update()
            .table("settings")
            .value("value", now.to_rfc3339())
            .value("updated_at", now)
            .and_where(Expr::col("key").eq("last_scheduled_backup"))
            .and_where(Expr::col("updated_at").lte(now - interval * 9 / 10))
            .to_owned();
        portal.db.execute(&update).await?.rows_affected() == 1
    };
    if !claimed {
        return Ok(false);
    }
    std::fs::create_dir_all(dir)?;
    let stamp = now.format("%Y%m%dT%H%M%S%3fZ");
    backup(
        portal,
        Scope::Data,
        &dir.join(format!("portal-data-{stamp}.bak")),
    )
    .await?;
    backup(
        portal,
        Scope::Keys,
        &dir.join(format!("portal-keys-{stamp}.bak")),
    )
    .await?;
    prune(dir, "portal-data-", portal.settings.backup_keep)?;
    prune(
        dir,
        "portal-keys-",
        KEEP_KEY_BACKUPS.min(portal.settings.backup_keep),
    )?;
    Ok(true)
}

/// Runs [`scheduled_backup`] every `backup_interval` until `shutdown` turns true.
pub async fn run_schedule(
    portal: Portal,
    dir: std::path::PathBuf,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        match scheduled_backup(&portal, &dir).await {
            Ok(true) => {
                crate::ops::ran(crate::ops::Job::Backup);
                tracing::info!("scheduled backup written")
            }
            Ok(false) => {}
            Err(e) => tracing::error!(error = %e, "scheduled backup failed"),
        }
        tokio::select! {
            _ = tokio::time::sleep(portal.settings.backup_interval) => {}
            _ = shutdown.changed() => {}
        }
        if *shutdown.borrow() {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::safe_file_name;

    #[test]
    fn a_restored_row_may_name_only_a_plain_file_in_its_folder() {
        for ok in ["3f2a9c.bin", "photo-12_a.jpg", "0123456789abcdef.zip"] {
            assert!(safe_file_name(ok), "{ok}");
        }
        for bad in [
            "",
            "../master.key",
            "/etc/passwd",
            "a/b",
            "a\\b",
            ".hidden",
            "..",
            "name\n",
            "名字.jpg",
            &"a".repeat(201),
        ] {
            assert!(!safe_file_name(bad), "{bad:?}");
        }
    }
}
