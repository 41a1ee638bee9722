//! Connection and migrations; the same code for SQLite and PostgreSQL.

use std::time::Duration;

use portal_migrations::{Migrator, MigratorTrait};
use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbErr};

/// Creates `dir` (and its parents) so that only the portal's own user may enter the folders it
/// creates (0700): the data directory holds the database, the master key file, photos and
/// exports.
pub fn create_private_dir(dir: &std::path::Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// The file an SQLite URL names (none for `:memory:` or another engine).
pub fn sqlite_file(url: &str) -> Option<std::path::PathBuf> {
    let path = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = path.split('?').next()?;
    (!path.is_empty() && path != ":memory:").then(|| std::path::PathBuf::from(path))
}

/// Creates a missing SQLite file readable by the portal's user only (0600), in a private
/// folder; SQLite gives its `-wal` and `-shm` files the same mode.
fn prepare_sqlite_file(url: &str) -> Result<(), DbErr> {
    let Some(path) = sqlite_file(url) else {
        return Ok(());
    };
    let io = |e: std::io::Error| DbErr::Custom(format!("cannot create the database file: {e}"));
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        create_private_dir(dir).map_err(io)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(&path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(io(e)),
    }
}

/// Opens a pool for `url` (`sqlite://…` or `postgres://…`).
pub async fn connect(url: &str) -> Result<DatabaseConnection, DbErr> {
    prepare_sqlite_file(url)?;
    let mut opts = ConnectOptions::new(url.to_owned());
    opts.connect_timeout(Duration::from_secs(5))
        .acquire_timeout(Duration::from_secs(5))
        // SQL statements can carry personal values as parameters: never log them.
        .sqlx_logging(false);
    if url.starts_with("sqlite:") {
        // SQLite, embedded: why each setting is what it is.
        // * Eight connections: readers run side by side (WAL), and SQLite has one writer at a
        //   time anyway; the hot writes queue in the group commit (`group_commit`), not in the
        //   busy handler, whose sleeps (1, 2, 5 … 100 ms) made the p99 of contended writes.
        // * No ping before each use: the database is a local file, a connection cannot go stale,
        //   and the ping was one more round trip to the connection's thread per query (a page
        //   makes twenty).
        opts.max_connections(8).test_before_acquire(false);
        // Deleted rows are overwritten with zeros, so an erased customer's blind indexes and
        // ciphertexts do not linger in free pages of the database file.
        // WAL: readers never wait for the writer, and a commit is one sync of the log instead of
        // the rollback journal's three; `synchronous = FULL` keeps every commit durable (a
        // withdrawal we confirmed must survive a power cut).
        opts.map_sqlx_sqlite_opts(|o| {
            o.pragma("secure_delete", "on")
                .journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Full)
        });
    } else {
        // Over the network a connection can break (a restart, a failover): one that sat idle
        // for 30 s is pinged before use, a busy one shows a break as an error and is replaced.
        opts.max_connections(20)
            .test_before_acquire_if_idle_for(Duration::from_secs(30));
    }
    Database::connect(opts).await
}

/// Applies every pending migration (idempotent).
pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbErr> {
    Migrator::up(db, None).await
}

/// The applied migrations, oldest first.
pub async fn applied_migrations(db: &DatabaseConnection) -> Result<Vec<String>, DbErr> {
    Ok(Migrator::get_applied_migrations(db)
        .await?
        .into_iter()
        .map(|m| m.name().to_owned())
        .collect())
}

/// Begins a transaction that will write. On SQLite its first statement takes the write lock
/// (a no-op UPDATE), so a transaction that reads before it writes waits its turn (busy timeout)
/// instead of failing with "database is locked" when another connection committed since its
/// read began (WAL snapshot rule). PostgreSQL needs nothing: row locks and MVCC handle it.
pub async fn begin_write<C: sea_orm::TransactionTrait + sea_orm::ConnectionTrait>(
    db: &C,
) -> Result<C::Transaction, DbErr> {
    use sea_orm::ConnectionTrait as _;
    let tx = db.begin().await?;
    if db.get_database_backend() == sea_orm::DatabaseBackend::Sqlite {
        tx.execute_unprepared("UPDATE settings SET value = value WHERE key = '-write-lock-'")
            .await?;
    }
    Ok(tx)
}
