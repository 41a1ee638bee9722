//! Encrypted backups: round trips on both engines, a move from SQLite, refusals, and
//! crypto-shredding that reaches into old backups.

use crate::support;

use portal_core::{
    CoreError, Portal, Settings,
    backup::{RestoreError, Scope, backup, dump_tables, restore},
    config::Secret,
    customers, demo,
    vault::SealError,
};

/// A portal with the demo salon on `database_url` (None: this run's engine), and its master key.
async fn source(dir: &std::path::Path, database_url: Option<String>) -> (Portal, Secret) {
    let mut s = support::test_settings(dir).await;
    if let Some(url) = database_url {
        s.database_url = url;
    }
    let p = Portal::open(s).await.unwrap();
    demo::load(&p).await.unwrap();
    let key = std::fs::read_to_string(dir.join(portal_core::vault::KEY_FILE)).unwrap();
    (p, Secret::new(key))
}

/// An empty portal on a fresh database of this run's engine, under `master`.
async fn target(dir: &std::path::Path, master: &Secret) -> Settings {
    let mut s = support::test_settings(dir).await;
    s.master_key = Some(master.clone());
    s
}

#[test]
fn a_backup_restores_every_row_and_photo_into_an_empty_database() {
    crate::support::run(async {
        let (a_dir, b_dir, files) = (
            tempfile::tempdir().unwrap(),
            tempfile::tempdir().unwrap(),
            tempfile::tempdir().unwrap(),
        );
        let (a, master) = source(a_dir.path(), None).await;
        let data = files.path().join("data.bak");
        let keys = files.path().join("keys.bak");
        let rows = backup(&a, Scope::Data, &data).await.unwrap();
        assert!(rows > 1000);
        backup(&a, Scope::Keys, &keys).await.unwrap();

        let b_settings = target(b_dir.path(), &master).await;
        let b = Portal::open(b_settings.clone()).await.unwrap();
        assert_eq!(restore(&b, Scope::Data, &data).await.unwrap(), rows);
        restore(&b, Scope::Keys, &keys).await.unwrap();

        assert_eq!(
            dump_tables(&a.db, Scope::Data).await.unwrap(),
            dump_tables(&b.db, Scope::Data).await.unwrap()
        );
        assert_eq!(
            dump_tables(&a.db, Scope::Keys).await.unwrap(),
            dump_tables(&b.db, Scope::Keys).await.unwrap()
        );
        for entry in std::fs::read_dir(a_dir.path().join("photos")).unwrap() {
            let path = entry.unwrap().path();
            let copy = b_dir.path().join("photos").join(path.file_name().unwrap());
            assert_eq!(std::fs::read(&path).unwrap(), std::fs::read(copy).unwrap());
        }
        // The restored portal opens everyone's data with its own (restored) keys.
        let b = Portal::open(b_settings).await.unwrap();
        for id in [1, 100, 200] {
            assert_eq!(
                customers::contact(&b.db, &b.vault, id).await.unwrap(),
                customers::contact(&a.db, &a.vault, id).await.unwrap()
            );
        }
    })
}

#[test]
fn a_salon_moves_from_sqlite_to_this_runs_engine_with_a_backup() {
    crate::support::run(async {
        let (a_dir, b_dir, files) = (
            tempfile::tempdir().unwrap(),
            tempfile::tempdir().unwrap(),
            tempfile::tempdir().unwrap(),
        );
        let sqlite = format!(
            "sqlite://{}?mode=rwc",
            a_dir.path().join("source.db").display()
        );
        let (a, master) = source(a_dir.path(), Some(sqlite)).await;
        let (data, keys) = (files.path().join("d"), files.path().join("k"));
        backup(&a, Scope::Data, &data).await.unwrap();
        backup(&a, Scope::Keys, &keys).await.unwrap();
        let b_settings = target(b_dir.path(), &master).await;
        let b = Portal::open(b_settings.clone()).await.unwrap();
        restore(&b, Scope::Data, &data).await.unwrap();
        restore(&b, Scope::Keys, &keys).await.unwrap();
        assert_eq!(
            dump_tables(&a.db, Scope::Data).await.unwrap(),
            dump_tables(&b.db, Scope::Data).await.unwrap()
        );
        // New rows after the move get fresh ids (PostgreSQL's sequences were moved on).
        let b = Portal::open(b_settings).await.unwrap();
        let n = portal_core::notices::publish(&b.db, portal_core::notices::INITIAL)
            .await
            .unwrap();
        assert_eq!(n, 3);
    })
}

#[test]
fn a_wrong_key_or_a_damaged_archive_is_refused_and_changes_nothing() {
    crate::support::run(async {
        let (a_dir, b_dir, c_dir, files) = (
            tempfile::tempdir().unwrap(),
            tempfile::tempdir().unwrap(),
            tempfile::tempdir().unwrap(),
            tempfile::tempdir().unwrap(),
        );
        let (a, master) = source(a_dir.path(), None).await;
        let data = files.path().join("data.bak");
        backup(&a, Scope::Data, &data).await.unwrap();
        let bytes = std::fs::read(&data).unwrap();

        let other = Portal::open(target(c_dir.path(), &Secret::new("33".repeat(32))).await)
            .await
            .unwrap();
        assert!(matches!(
            restore(&other, Scope::Data, &data).await,
            Err(RestoreError::Unreadable)
        ));

        let b = Portal::open(target(b_dir.path(), &master).await)
            .await
            .unwrap();
        let cut = files.path().join("cut.bak");
        std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
        let mut flipped = bytes.clone();
        let middle = flipped.len() / 2;
        flipped[middle] ^= 0x01;
        let altered = files.path().join("altered.bak");
        std::fs::write(&altered, &flipped).unwrap();
        for bad in [&cut, &altered] {
            assert!(matches!(
                restore(&b, Scope::Data, bad).await,
                Err(RestoreError::Unreadable)
            ));
        }
        // A data archive is not a key archive.
        assert!(matches!(
            restore(&b, Scope::Keys, &data).await,
            Err(RestoreError::Unreadable)
        ));
        let (_, rows) = dump_tables(&b.db, Scope::Data).await.unwrap();
        let (_, fresh_rows) = dump_tables(&other.db, Scope::Data).await.unwrap();
        assert_eq!(
            rows, fresh_rows,
            "the target still holds only what a new portal starts with"
        );
        assert!(
            !b_dir.path().join("photos").exists(),
            "no photo was written"
        );

        // Restoring into a database that already holds data is refused too.
        assert!(matches!(
            restore(&a, Scope::Data, &data).await,
            Err(RestoreError::NotEmpty(_))
        ));
    })
}

#[test]
fn a_backup_taken_before_a_key_was_destroyed_cannot_open_that_customer_after_restore() {
    crate::support::run(async {
        let (a_dir, b_dir, files) = (
            tempfile::tempdir().unwrap(),
            tempfile::tempdir().unwrap(),
            tempfile::tempdir().unwrap(),
        );
        let (a, master) = source(a_dir.path(), None).await;
        let old_data = files.path().join("before.bak");
        backup(&a, Scope::Data, &old_data).await.unwrap();
        // Customer 1 is erased: their key is destroyed; the key store is backed up afterwards.
        assert!(a.vault.destroy_customer_key(&a.db, 1).await.unwrap());
        let keys_now = files.path().join("keys.bak");
        backup(&a, Scope::Keys, &keys_now).await.unwrap();

        let b_settings = target(b_dir.path(), &master).await;
        let b = Portal::open(b_settings.clone()).await.unwrap();
        restore(&b, Scope::Data, &old_data).await.unwrap();
        restore(&b, Scope::Keys, &keys_now).await.unwrap();
        let b = Portal::open(b_settings).await.unwrap();
        assert!(matches!(
            customers::contact(&b.db, &b.vault, 1).await,
            Err(CoreError::Sealed(SealError::KeyDestroyed))
        ));
        for other in 2..=30 {
            assert!(
                customers::contact(&b.db, &b.vault, other).await.is_ok(),
                "customer {other}"
            );
        }
    })
}

#[test]
fn backups_carry_every_column_of_every_table() {
    crate::support::run(async {
        use sea_orm::{ConnectionTrait, DatabaseBackend, Statement};
        let app = support::spawn_app().await;
        let db = &app.portal.db;
        let backend = db.get_database_backend();
        let sql = match backend {
            DatabaseBackend::Postgres => {
                "SELECT table_name AS t, column_name AS c FROM information_schema.columns WHERE table_schema = 'public'"
            }
            _ => {
                "SELECT m.name AS t, p.name AS c FROM sqlite_master m JOIN pragma_table_info(m.name) p WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%'"
            }
        };
        let mut live: Vec<(String, String)> = db
            .query_all_raw(Statement::from_string(backend, sql.to_owned()))
            .await
            .unwrap()
            .into_iter()
            .map(|r| {
                (
                    r.try_get::<String>("", "t").unwrap(),
                    r.try_get::<String>("", "c").unwrap(),
                )
            })
            .filter(|(t, _)| t != "seaql_migrations")
            .collect();
        let mut covered: Vec<(String, String)> = portal_core::backup::covered_columns()
            .into_iter()
            .map(|(t, c)| (t.to_owned(), c.to_owned()))
            .collect();
        live.sort();
        covered.sort();
        assert_eq!(live, covered);
    })
}

#[test]
fn the_server_keeps_the_last_n_scheduled_backups_and_they_restore() {
    crate::support::run(async {
        let dir = tempfile::tempdir().unwrap();
        let backup_dir = dir.path().join("backups");
        let b2 = backup_dir.clone();
        let app = support::spawn_app_with(move |s| {
            s.backup_dir = Some(b2);
            s.backup_keep = 2;
            s.backup_interval = std::time::Duration::from_millis(500);
        })
        .await;
        demo::load(&app.portal).await.unwrap();
        let archives = |prefix: &str| {
            let mut found: Vec<std::path::PathBuf> = std::fs::read_dir(&backup_dir)
                .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).collect())
                .unwrap_or_default();
            found.retain(|p| {
                let name = p.file_name().unwrap().to_string_lossy().into_owned();
                name.starts_with(prefix) && name.ends_with(".bak")
            });
            found.sort();
            found
        };
        // Time for several runs, the last ones after the demo salon was loaded; then stop the server
        // (its schedule finishes the run in progress) and look.
        tokio::time::sleep(std::time::Duration::from_millis(3000)).await;
        let master = Secret::new(
            std::fs::read_to_string(app.data_dir.path().join(portal_core::vault::KEY_FILE))
                .unwrap(),
        );
        drop(app);
        tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
        assert_eq!(
            archives("portal-data-").len(),
            2,
            "only the newest two data backups are kept"
        );
        assert_eq!(
            archives("portal-keys-").len(),
            2,
            "key-store backups are kept briefly"
        );
        let newest_data = archives("portal-data-").pop().unwrap();
        let newest_keys = archives("portal-keys-").pop().unwrap();
        let t_dir = tempfile::tempdir().unwrap();
        let t = Portal::open(target(t_dir.path(), &master).await)
            .await
            .unwrap();
        assert!(restore(&t, Scope::Data, &newest_data).await.unwrap() > 1000);
        restore(&t, Scope::Keys, &newest_keys).await.unwrap();
    })
}
