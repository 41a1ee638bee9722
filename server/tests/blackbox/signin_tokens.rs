//! One-time sign-in tokens and codes, and database throttles (the domain under the sign-in
//! pages). Runs on SQLite and, with `TEST_POSTGRES_URL`, on PostgreSQL.

use crate::support;

use crate::support::spawn_app;
use chrono::{Duration, Utc};
use portal_core::signin::{
    CodeOutcome, LIFETIME, MAX_CODE_TRIES, Purpose, issue, spend_code, spend_link, throttle,
};

#[test]
fn a_link_is_256_bits_stored_only_as_a_hash_and_spent_once() {
    crate::support::run(async {
        let app = spawn_app().await;
        let c = support::customer(&app, "once@example.com", "zh").await;
        let now = Utc::now();
        let t = issue(&app.portal.db, &app.portal.vault, c, Purpose::SignIn, now)
            .await
            .unwrap();
        assert_eq!(
            t.token.len(),
            43,
            "32 bytes, URL-safe base64 without padding"
        );
        assert!(
            t.token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_eq!(t.code.len(), 6);
        assert_eq!(t.expires_at, now + LIFETIME);
        let db = &app.portal.db;
        assert_eq!(
            spend_link(db, &t.token, Purpose::SignIn, now)
                .await
                .unwrap(),
            Some(c)
        );
        assert_eq!(
            spend_link(db, &t.token, Purpose::SignIn, now)
                .await
                .unwrap(),
            None,
            "reuse is refused"
        );
        assert_eq!(
            spend_link(db, "x", Purpose::SignIn, now).await.unwrap(),
            None
        );
    })
}

#[test]
fn twenty_parallel_spends_of_one_link_give_one_sign_in() {
    crate::support::run(async {
        let app = spawn_app().await;
        let c = support::customer(&app, "race@example.com", "zh").await;
        let now = Utc::now();
        let t = issue(&app.portal.db, &app.portal.vault, c, Purpose::SignIn, now)
            .await
            .unwrap();
        let mut tasks = Vec::new();
        for _ in 0..20 {
            let (db, token) = (app.portal.db.clone(), t.token.clone());
            tasks.push(tokio::spawn(async move {
                spend_link(&db, &token, Purpose::SignIn, now).await
            }));
        }
        let mut wins = 0;
        for task in tasks {
            // Under contention SQLite may report "busy" for a loser: that also spends nothing.
            if let Ok(Ok(Some(_))) = task.await {
                wins += 1;
            }
        }
        assert_eq!(wins, 1);
    })
}

#[test]
fn a_link_expires_after_ten_minutes_and_serves_only_its_purpose() {
    crate::support::run(async {
        let app = spawn_app().await;
        let c = support::customer(&app, "late@example.com", "zh").await;
        let now = Utc::now();
        let db = &app.portal.db;
        let t = issue(db, &app.portal.vault, c, Purpose::SignIn, now)
            .await
            .unwrap();
        let late = now + Duration::minutes(10) + Duration::seconds(1);
        assert_eq!(
            spend_link(db, &t.token, Purpose::SignIn, late)
                .await
                .unwrap(),
            None
        );
        let t = issue(db, &app.portal.vault, c, Purpose::SignIn, now)
            .await
            .unwrap();
        assert_eq!(
            spend_link(db, &t.token, Purpose::ExportDownload, now)
                .await
                .unwrap(),
            None
        );
        assert_eq!(
            spend_link(db, &t.token, Purpose::SignIn, now + Duration::minutes(9))
                .await
                .unwrap(),
            Some(c)
        );
    })
}

#[test]
fn a_newer_link_kills_the_older_ones() {
    crate::support::run(async {
        let app = spawn_app().await;
        let c = support::customer(&app, "newer@example.com", "zh").await;
        let now = Utc::now();
        let db = &app.portal.db;
        let old = issue(db, &app.portal.vault, c, Purpose::SignIn, now)
            .await
            .unwrap();
        let new = issue(
            db,
            &app.portal.vault,
            c,
            Purpose::SignIn,
            now + Duration::seconds(5),
        )
        .await
        .unwrap();
        let at = now + Duration::seconds(6);
        assert_eq!(
            spend_link(db, &old.token, Purpose::SignIn, at)
                .await
                .unwrap(),
            None
        );
        assert_eq!(
            spend_code(
                db,
                &app.portal.vault,
                old.id,
                &old.code,
                Purpose::SignIn,
                at
            )
            .await
            .unwrap(),
            CodeOutcome::Unusable
        );
        assert_eq!(
            spend_link(db, &new.token, Purpose::SignIn, at)
                .await
                .unwrap(),
            Some(c)
        );
    })
}

#[test]
fn the_code_signs_in_once_and_is_burned_after_five_wrong_tries() {
    crate::support::run(async {
        let app = spawn_app().await;
        let (db, vault) = (&app.portal.db, &app.portal.vault);
        let c = support::customer(&app, "code@example.com", "zh").await;
        let now = Utc::now();
        let t = issue(db, vault, c, Purpose::SignIn, now).await.unwrap();
        assert_eq!(
            spend_code(db, vault, t.id, &t.code, Purpose::SignIn, now)
                .await
                .unwrap(),
            CodeOutcome::Accepted(c)
        );
        assert_eq!(
            spend_code(db, vault, t.id, &t.code, Purpose::SignIn, now)
                .await
                .unwrap(),
            CodeOutcome::Unusable
        );
        assert_eq!(
            spend_link(db, &t.token, Purpose::SignIn, now)
                .await
                .unwrap(),
            None,
            "code and link are one"
        );

        let t = issue(db, vault, c, Purpose::SignIn, now).await.unwrap();
        let wrong = if t.code == "000000" {
            "000001"
        } else {
            "000000"
        };
        for n in 1..=MAX_CODE_TRIES {
            let outcome = spend_code(db, vault, t.id, wrong, Purpose::SignIn, now)
                .await
                .unwrap();
            assert_eq!(
                outcome,
                CodeOutcome::Wrong {
                    tries_left: MAX_CODE_TRIES - n
                }
            );
        }
        assert_eq!(
            spend_code(db, vault, t.id, &t.code, Purpose::SignIn, now)
                .await
                .unwrap(),
            CodeOutcome::Unusable
        );
        assert_eq!(
            spend_link(db, &t.token, Purpose::SignIn, now)
                .await
                .unwrap(),
            None,
            "a burned code burns its link"
        );
        for junk in ["", "12345", "1234567", "abcdef", "12 345"] {
            let t = issue(db, vault, c, Purpose::SignIn, now).await.unwrap();
            assert!(matches!(
                spend_code(db, vault, t.id, junk, Purpose::SignIn, now)
                    .await
                    .unwrap(),
                CodeOutcome::Wrong { .. }
            ));
        }
    })
}

#[test]
fn throttles_count_per_bucket_in_the_database() {
    crate::support::run(async {
        use sea_orm::{
            ConnectionTrait,
            sea_query::{Expr, ExprTrait, Query},
        };
        let app = spawn_app().await;
        let db = &app.portal.db;
        let now = Utc::now();
        let address = app.portal.vault.index("throttle/email", "a@example.com");
        let other = app.portal.vault.index("throttle/email", "b@example.com");
        for _ in 0..throttle::PER_ADDRESS.max {
            assert!(
                throttle::hit(db, &address, throttle::PER_ADDRESS, now)
                    .await
                    .unwrap()
            );
        }
        assert!(
            !throttle::hit(db, &address, throttle::PER_ADDRESS, now)
                .await
                .unwrap()
        );
        assert!(
            throttle::hit(db, &other, throttle::PER_ADDRESS, now)
                .await
                .unwrap(),
            "buckets are separate"
        );
        let almost = now + Duration::hours(1) - Duration::seconds(1);
        assert!(
            !throttle::hit(db, &address, throttle::PER_ADDRESS, almost)
                .await
                .unwrap(),
            "a hit counts for its whole window, whichever slot the window starts in"
        );
        let later = now + Duration::hours(1) + Duration::seconds(1);
        assert!(
            throttle::hit(db, &address, throttle::PER_ADDRESS, later)
                .await
                .unwrap(),
            "the window slides"
        );
        // A hit written late with an earlier time (a queue, another replica's clock) does not
        // move the slot's latest hit back, so the slot keeps counting as long as it should.
        let late = app.portal.vault.index("throttle/email", "late@example.com");
        throttle::hit(db, &late, throttle::PER_ADDRESS, now)
            .await
            .unwrap();
        throttle::hit(db, &late, throttle::PER_ADDRESS, now - Duration::seconds(5))
            .await
            .unwrap();
        let last: chrono::DateTime<Utc> = db
            .query_one(
                &Query::select()
                    .column("last_at")
                    .from("throttle_counters")
                    .and_where(Expr::col("bucket").eq(late.clone()))
                    .to_owned(),
            )
            .await
            .unwrap()
            .unwrap()
            .try_get("", "last_at")
            .unwrap();
        assert_eq!(last.timestamp(), now.timestamp());
        assert!(throttle::sweep(db, now + Duration::days(2)).await.unwrap() > 0);
    })
}

async fn rows(app: &support::TestApp, table: &'static str) -> i64 {
    use sea_orm::{
        ConnectionTrait,
        sea_query::{Expr, Query},
    };
    app.portal
        .db
        .query_one(
            &Query::select()
                .expr_as(Expr::cust("COUNT(*)"), "n")
                .from(table)
                .to_owned(),
        )
        .await
        .unwrap()
        .unwrap()
        .try_get("", "n")
        .unwrap()
}

#[test]
fn a_flooded_bucket_stops_growing_and_every_table_anonymous_traffic_writes_is_swept() {
    crate::support::run(async {
        use portal_core::sessions::{self, Subject};
        use sea_orm::{
            ConnectionTrait,
            sea_query::{Expr, ExprTrait, Query},
        };
        let app = spawn_app().await;
        let db = &app.portal.db;
        let now = Utc::now();
        let bucket = app.portal.vault.index("throttle/ip", "198.51.100.9");
        for _ in 0..200 {
            throttle::hit(db, &bucket, throttle::PER_ADDRESS, now)
                .await
                .unwrap();
        }
        assert_eq!(
            rows(&app, "throttle_counters").await,
            1,
            "one counter per bucket and slot, however many hits"
        );
        let hits: i64 = db
            .query_one(
                &Query::select()
                    .expr_as(Expr::col("hits").sum(), "n")
                    .from("throttle_counters")
                    .to_owned(),
            )
            .await
            .unwrap()
            .unwrap()
            .try_get("", "n")
            .unwrap();
        assert_eq!(
            hits,
            2 * throttle::PER_ADDRESS.max,
            "refusals count up to twice the limit, then are refused without a write"
        );
        // Old hits, spent and expired tokens (a decoy among them), ended sessions.
        let c = support::customer(&app, "swept@example.com", "zh").await;
        let old = now - Duration::days(3);
        issue(db, &app.portal.vault, c, Purpose::SignIn, old)
            .await
            .unwrap();
        sessions::start(db, &app.portal.session_keys, Subject::Customer(c), old)
            .await
            .unwrap();
        let live = issue(db, &app.portal.vault, c, Purpose::EmailChange, now)
            .await
            .unwrap();
        sessions::start(db, &app.portal.session_keys, Subject::Customer(c), now)
            .await
            .unwrap();
        let swept = portal_core::housekeeping::sweep(&app.portal, now)
            .await
            .unwrap();
        // The portal's own sweep (at start, on its background task) may have been slow enough
        // to take these first: what is left is checked, not who swept it.
        assert!(swept.tokens <= 1 && swept.sessions <= 1, "{swept:?}");
        assert_eq!(
            swept.throttle_counters, 0,
            "counts inside their window stay"
        );
        assert_eq!(rows(&app, "one_time_tokens").await, 1);
        assert_eq!(rows(&app, "sessions").await, 1);
        assert_eq!(
            spend_link(db, &live.token, Purpose::EmailChange, now)
                .await
                .unwrap(),
            Some(c),
            "a live token survives the sweep"
        );
        let later = portal_core::housekeeping::sweep(&app.portal, now + Duration::days(2))
            .await
            .unwrap();
        assert_eq!(later.throttle_counters, 1);
        assert_eq!(rows(&app, "throttle_counters").await, 0);
    })
}

#[test]
fn the_migration_to_counters_keeps_the_last_hours_hits_so_an_upgrade_lifts_no_limit() {
    crate::support::run(async {
        use portal_migrations::{Migrator, MigratorTrait};
        use sea_orm::{ConnectionTrait, Database, sea_query::Query};
        let dir = tempfile::tempdir().unwrap();
        let db = Database::connect(support::fresh_database_url(dir.path()).await)
            .await
            .unwrap();
        // Every migration before the counters (the eighth).
        Migrator::up(&db, Some(7)).await.unwrap();
        let now = Utc::now();
        let full = b"bucket-at-its-limit".to_vec();
        let old = b"bucket-of-yesterday".to_vec();
        for i in 0..throttle::PER_ADDRESS.max {
            for (bucket, at) in [
                (&full, now - Duration::minutes(50 - i)),
                (&old, now - Duration::hours(30)),
            ] {
                db.execute(
                    &Query::insert()
                        .into_table("throttle_hits")
                        .columns(["bucket", "at"])
                        .values_panic([bucket.clone().into(), at.into()])
                        .to_owned(),
                )
                .await
                .unwrap();
            }
        }
        Migrator::up(&db, None).await.unwrap();
        assert!(
            !throttle::hit(&db, &full, throttle::PER_ADDRESS, now)
                .await
                .unwrap(),
            "the hits of the last hour still count"
        );
        assert!(
            throttle::hit(&db, &old, throttle::PER_ADDRESS, now)
                .await
                .unwrap(),
            "a day-old bucket is not carried over"
        );
        assert!(
            throttle::hit(
                &db,
                &full,
                throttle::PER_ADDRESS,
                now + Duration::minutes(51)
            )
            .await
            .unwrap(),
            "and slide out of the window as before"
        );
        assert!(
            db.execute_unprepared("SELECT 1 FROM throttle_hits")
                .await
                .is_err(),
            "the old table is gone"
        );
    })
}
