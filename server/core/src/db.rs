//! Connection and migrations; the same code for SQLite and PostgreSQL.

use std::time::Duration;

use portal_migrations::{Migrator, MigratorTrait};
use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbErr};

/// Opens a pool for `url` (`sqlite://…` or `postgres://…`).
pub async fn connect(url: &str) -> Result<DatabaseConnection, DbErr> {
    let mut opts = ConnectOptions::new(url.to_owned());
    opts.connect_timeout(Duration::from_secs(5))
        .acquire_timeout(Duration::from_secs(5))
        // SQL statements can carry personal values as parameters: never log them.
        .sqlx_logging(false);
    if url.starts_with("sqlite:") {
        // One writer at a time in SQLite; a small pool avoids lock convoys.
        opts.max_connections(8);
    } else {
        opts.max_connections(20);
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
