//! Personal data sealed at rest: per-customer keys, blind indexes, crypto-shredding.
//! Runs on SQLite and, with `TEST_POSTGRES_URL`, on PostgreSQL.

use crate::support;

use crate::support::{hex, raw_database, spawn_app};
use portal_core::{
    CoreError,
    customers::{self, CustomerName, NewCustomer},
    demo,
    email::Email,
    phone::Phone,
    vault::SealError,
};
use sea_orm::{ConnectionTrait, DatabaseBackend, Statement};

fn new_customer(name: &str, email: &str, phone: &str) -> NewCustomer {
    NewCustomer {
        name: CustomerName::parse(name).unwrap(),
        email: Some(Email::parse(email).unwrap()),
        phone: Some(Phone::parse(phone).unwrap()),
        language: "zh",
        created_by: None,
        at: chrono::Utc::now(),
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    memchr::memmem::find(haystack, needle).is_some()
}

#[test]
fn the_stored_database_holds_no_demo_customer_name_email_or_phone_in_plaintext() {
    crate::support::run(async {
        let app = spawn_app().await;
        demo::load(&app.portal).await.unwrap();
        let raw = raw_database(&app).await;
        assert!(raw.len() > 10_000, "the dump is real");
        let mut checked = 0;
        for id in 1..=demo::CUSTOMERS as i64 {
            // Opening proves the values are there; the raw bytes must not show them.
            let Ok(c) = customers::contact(&app.portal.db, &app.portal.vault, id).await else {
                continue;
            };
            let mut values = vec![c.name.clone()];
            values.extend(c.email.iter().map(|e| e.as_str().to_owned()));
            values.extend(c.phone.iter().map(|p| p.as_str().to_owned()));
            for v in values {
                assert!(
                    !contains(&raw, v.as_bytes()),
                    "customer {id}: a value is stored in plaintext"
                );
                assert!(
                    !contains(&raw, hex(v.as_bytes()).as_bytes()),
                    "customer {id}: a value is stored as plain bytes"
                );
            }
            checked += 1;
        }
        assert_eq!(checked, demo::CUSTOMERS);
        // Photo files are sealed as well: no PNG signature anywhere in the photo folder.
        let photos = std::fs::read_dir(app.data_dir.path().join("photos")).unwrap();
        let mut files = 0;
        for f in photos {
            let bytes = std::fs::read(f.unwrap().path()).unwrap();
            assert!(
                !contains(&bytes, b"\x89PNG"),
                "a photo is stored in the clear"
            );
            files += 1;
        }
        assert!(files > 0);
    })
}

#[test]
fn a_sealed_value_copied_to_another_row_or_column_does_not_open() {
    crate::support::run(async {
        let app = spawn_app().await;
        let (db, vault) = (&app.portal.db, &app.portal.vault);
        let (a, _) = customers::create(
            db,
            vault,
            &new_customer("张伟", "zhang.wei@example.com", "13900001111"),
        )
        .await
        .unwrap();
        let (b, _) = customers::create(
            db,
            vault,
            &new_customer("李娜", "li.na@example.com", "13900002222"),
        )
        .await
        .unwrap();
        assert_eq!(customers::contact(db, vault, b).await.unwrap().name, "李娜");

        // A's sealed name pasted into B's row.
        let backend = db.get_database_backend();
        db.execute_raw(Statement::from_sql_and_values(
        backend,
        match backend {
            DatabaseBackend::Postgres => "UPDATE customers SET name_sealed = (SELECT name_sealed FROM customers WHERE id = $1) WHERE id = $2",
            _ => "UPDATE customers SET name_sealed = (SELECT name_sealed FROM customers WHERE id = ?) WHERE id = ?",
        },
        [a.into(), b.into()],
    ))
    .await
    .unwrap();
        assert!(matches!(
            customers::contact(db, vault, b).await,
            Err(CoreError::Sealed(SealError::Unopenable))
        ));

        // A's sealed email pasted into A's own phone column.
        db.execute_raw(Statement::from_sql_and_values(
            backend,
            match backend {
                DatabaseBackend::Postgres => {
                    "UPDATE customers SET phone_sealed = email_sealed WHERE id = $1"
                }
                _ => "UPDATE customers SET phone_sealed = email_sealed WHERE id = ?",
            },
            [a.into()],
        ))
        .await
        .unwrap();
        assert!(matches!(
            customers::contact(db, vault, a).await,
            Err(CoreError::Sealed(SealError::Unopenable))
        ));
    })
}

#[test]
fn customers_are_found_by_email_through_the_blind_index_and_an_address_is_used_once() {
    crate::support::run(async {
        let app = spawn_app().await;
        let (db, vault) = (&app.portal.db, &app.portal.vault);
        let (id, _) = customers::create(
            db,
            vault,
            &new_customer("王芳", "Wang.Fang@Example.com", "+86 139 0000 3333"),
        )
        .await
        .unwrap();
        let found =
            customers::find_by_email(db, vault, &Email::parse(" wang.fang@example.com ").unwrap())
                .await
                .unwrap();
        assert_eq!(found, Some(id));
        assert_eq!(
            customers::find_by_email(db, vault, &Email::parse("nobody@example.com").unwrap())
                .await
                .unwrap(),
            None
        );

        let same_email = customers::create(
            db,
            vault,
            &new_customer("王芳二", "wang.fang@example.com", "13900004444"),
        )
        .await;
        assert!(matches!(
            same_email,
            Err(CoreError::Refused(portal_core::Refusal::Customer(
                portal_core::customers::Refusal::ContactTaken
            )))
        ));
        let same_phone = customers::create(
            db,
            vault,
            &new_customer("王芳三", "other@example.com", "139-0000-3333"),
        )
        .await;
        assert!(matches!(
            same_phone,
            Err(CoreError::Refused(portal_core::Refusal::Customer(
                portal_core::customers::Refusal::ContactTaken
            )))
        ));
    })
}

#[test]
fn destroying_a_customers_key_makes_their_data_unreadable_and_leaves_everyone_else_intact() {
    crate::support::run(async {
        let app = spawn_app().await;
        demo::load(&app.portal).await.unwrap();
        let (db, vault) = (&app.portal.db, &app.portal.vault);
        let before = customers::contact(db, vault, 1).await.unwrap();
        assert!(before.email.is_some());
        assert!(vault.destroy_customer_key(db, 1).await.unwrap());
        assert!(matches!(
            customers::contact(db, vault, 1).await,
            Err(CoreError::Sealed(SealError::KeyDestroyed))
        ));
        // The rows are still there, sealed, and nobody can open them; the neighbours are untouched.
        for other in 2..=20 {
            assert!(
                customers::contact(db, vault, other).await.is_ok(),
                "customer {other}"
            );
        }
        assert!(
            !vault.destroy_customer_key(db, 1).await.unwrap(),
            "a destroyed key stays destroyed"
        );
    })
}

#[test]
fn a_master_key_that_does_not_match_the_database_stops_the_portal() {
    crate::support::run(async {
        let first = spawn_app().await;
        let db_url = first.portal.settings.database_url.clone();
        let dir = tempfile::tempdir().unwrap();
        let mut settings = support::test_settings(dir.path()).await;
        settings.database_url = db_url;
        settings.master_key = Some(portal_core::config::Secret::new("22".repeat(32)));
        let err = server::Application::build(settings)
            .await
            .err()
            .expect("refused");
        assert!(
            err.to_string()
                .starts_with("configuration error: PORTAL_MASTER_KEY: does not open"),
            "{err}"
        );
    })
}

#[test]
fn rotating_the_master_key_rewraps_every_key_while_a_running_portal_keeps_reading() {
    crate::support::run(async {
        let app = spawn_app().await;
        demo::load(&app.portal).await.unwrap();
        let (db, vault) = (&app.portal.db, &app.portal.vault);
        let before = customers::contact(db, vault, 7).await.unwrap();
        let old_id = vault.master_id();

        // Another process on the same database and data directory rotates.
        let other = portal_core::Portal::open(app.portal.settings.as_ref().clone())
            .await
            .unwrap();
        let moved = other.vault.rotate(&other.db).await.unwrap();
        assert_eq!(
            moved,
            demo::CUSTOMERS + 2,
            "every customer key and both portal keys"
        );
        let new_id = other.vault.master_id();
        assert_ne!(new_id, old_id);

        // The running portal, which only knew the old key, reads on.
        assert_eq!(customers::contact(db, vault, 7).await.unwrap(), before);
        let left = db
            .query_one_raw(Statement::from_string(
                db.get_database_backend(),
                format!(
                    "SELECT COUNT(*) AS n FROM customer_keys WHERE master_key_id <> '{new_id}'"
                ),
            ))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(left.try_get::<i64>("", "n").unwrap(), 0);

        // Without the old key at all, a fresh start opens everyone and finds them by email.
        std::fs::remove_file(
            app.data_dir
                .path()
                .join(portal_core::vault::PREVIOUS_KEY_FILE),
        )
        .unwrap();
        let fresh = portal_core::Portal::open(app.portal.settings.as_ref().clone())
            .await
            .unwrap();
        assert_eq!(
            customers::contact(&fresh.db, &fresh.vault, 7)
                .await
                .unwrap(),
            before
        );
        let email = before.email.unwrap();
        assert_eq!(
            customers::find_by_email(&fresh.db, &fresh.vault, &email)
                .await
                .unwrap(),
            Some(7)
        );
    })
}
