//! Retention: off until switched on (the preview works either way); long-inactive customers are
//! told, then deleted after the notice period if still inactive; old closed request records are
//! purged; every purge is audited as the portal's own act.

use crate::support;

use crate::support::spawn_app;
use chrono::{Duration, Utc};
use portal_core::{
    audit::{self, Filter},
    customers::record,
    requests::{self, Details, Kind, Submitter},
    retention::{self, Rules},
};
use sea_orm::{
    ConnectionTrait,
    sea_query::{Expr, ExprTrait, Query},
};

async fn set(
    app: &support::TestApp,
    table: &'static str,
    col: &'static str,
    id: i64,
    at: chrono::DateTime<Utc>,
) {
    app.portal
        .db
        .execute(
            &Query::update()
                .table(table)
                .value(col, at)
                .and_where(Expr::col("id").eq(id))
                .to_owned(),
        )
        .await
        .unwrap();
}

#[test]
fn inactive_customers_are_told_then_deleted_and_old_closed_requests_purged_only_when_on() {
    crate::support::run(async {
        let app = spawn_app().await;
        let now = Utc::now();
        let long_ago = now - Duration::days(40 * 30);
        let gone = support::customer(&app, "long.gone@example.com", "en").await;
        let regular = support::customer(&app, "regular@example.com", "zh").await;
        let returning = support::customer(&app, "returning@example.com", "zh").await;
        for c in [gone, regular, returning] {
            set(&app, "customers", "created_at", c, long_ago).await;
            record::record_visit(
                &app.portal.db,
                &app.portal.vault,
                c,
                &record::NewVisit {
                    at: if c == regular {
                        now - Duration::days(20)
                    } else {
                        long_ago
                    },
                    services: "cut",
                    stylist: None,
                    amount_cents: 5000,
                    notes: None,
                },
            )
            .await
            .unwrap();
        }
        // A request closed four years ago.
        let old = requests::submit(
            &app.portal,
            regular,
            Kind::Question,
            &Details {
                note: Some("?".into()),
                ..Details::default()
            },
            Submitter::Customer,
            now,
        )
        .await
        .unwrap()
        .id;
        requests::cancel(&app.portal, regular, old, now)
            .await
            .unwrap();
        set(
            &app,
            "requests",
            "completed_at",
            old,
            now - Duration::days(4 * 366),
        )
        .await;

        // The server's own daily run has happened (with the rules off) and is not due again for a
        // day, so every run below is this test's.
        support::daily_run_passed(&app).await;
        // Off by default: the preview tells, the run does nothing.
        let rules = retention::rules(&app.portal.db).await.unwrap();
        assert!(!rules.enabled);
        let p = retention::preview(&app.portal, &rules, now).await.unwrap();
        let mut notify = p.to_notify.clone();
        notify.sort();
        assert_eq!(notify, vec![gone, returning]);
        assert_eq!(p.requests_to_purge, vec![old]);
        assert_eq!(
            retention::run(&app.portal, now).await.unwrap(),
            Default::default()
        );

        assert!(
            retention::save(
                &app.portal.db,
                &Rules {
                    inactive_months: 3,
                    ..Rules::default()
                },
                now
            )
            .await
            .is_err(),
            "ranges are checked"
        );
        retention::save(
            &app.portal.db,
            &Rules {
                enabled: true,
                ..Rules::default()
            },
            now,
        )
        .await
        .unwrap();
        let first = retention::run(&app.portal, now).await.unwrap();
        assert_eq!(
            (first.notified, first.deleted, first.purged_requests),
            (2, 0, 1)
        );
        let again = retention::run(&app.portal, now).await.unwrap();
        assert_eq!(
            (again.notified, again.deleted),
            (0, 0),
            "told once; not yet due"
        );

        // One of them comes back during the notice period.
        record::record_visit(
            &app.portal.db,
            &app.portal.vault,
            returning,
            &record::NewVisit {
                at: now + Duration::days(3),
                services: "colour",
                stylist: None,
                amount_cents: 9000,
                notes: None,
            },
        )
        .await
        .unwrap();
        let later = now + Duration::days(31);
        let due = retention::run(&app.portal, later).await.unwrap();
        assert_eq!(due.deleted, 1);
        assert!(
            portal_core::customers::contact(&app.portal.db, &app.portal.vault, gone)
                .await
                .is_err(),
            "deleted"
        );
        portal_core::customers::contact(&app.portal.db, &app.portal.vault, returning)
            .await
            .unwrap();
        portal_core::customers::contact(&app.portal.db, &app.portal.vault, regular)
            .await
            .unwrap();

        let purges = audit::list(
            &app.portal.db,
            &Filter {
                action: Some(portal_core::access::Action::PurgeRetained),
                ..Default::default()
            },
            10,
        )
        .await
        .unwrap();
        assert_eq!(purges.len(), 2, "the customer and the request record");
        assert!(purges.iter().all(|r| r.actor_kind == "system"));
        assert!(
            purges.iter().any(
                |r| r.subject_kind.as_deref() == Some("customer") && r.subject_id == Some(gone)
            )
        );
        // The notice mail went out before the deletion.
        let notices: i64 = app
            .portal
            .db
            .query_one(
                &Query::select()
                    .expr_as(Expr::col("id").count(), "n")
                    .from("mail_outbox")
                    .and_where(Expr::col("template").eq("retention_notice"))
                    .to_owned(),
            )
            .await
            .unwrap()
            .unwrap()
            .try_get("", "n")
            .unwrap();
        // The deleted customer's queued notice went with their data; the returning one's stays.
        assert!(notices >= 1);
    })
}

#[test]
fn a_sign_in_counts_as_activity_a_returning_customer_is_told_again_and_restricted_records_stay() {
    crate::support::run(async {
        use portal_core::sessions::{self, Subject};
        let app = spawn_app().await;
        let now = Utc::now();
        let long_ago = now - Duration::days(40 * 30);
        let signs_in = support::customer(&app, "signs.in@example.com", "en").await;
        let came_back = support::customer(&app, "came.back@example.com", "en").await;
        let restricted = support::customer(&app, "restricted.keep@example.com", "en").await;
        for c in [signs_in, came_back, restricted] {
            set(&app, "customers", "created_at", c, long_ago).await;
        }
        set(&app, "customers", "restricted_at", restricted, long_ago).await;
        // Told 38 months ago, back for a visit 37 months ago, inactive again since.
        record::record_visit(
            &app.portal.db,
            &app.portal.vault,
            came_back,
            &record::NewVisit {
                at: now - Duration::days(37 * 30),
                services: "cut",
                stylist: None,
                amount_cents: 5000,
                notes: None,
            },
        )
        .await
        .unwrap();
        set(
            &app,
            "customers",
            "retention_notified_at",
            came_back,
            now - Duration::days(38 * 30),
        )
        .await;
        // The server's own daily run has passed (rules off), so every run below is this test's.
        support::daily_run_passed(&app).await;
        retention::save(
            &app.portal.db,
            &Rules {
                enabled: true,
                ..Rules::default()
            },
            now,
        )
        .await
        .unwrap();
        let rules = retention::rules(&app.portal.db).await.unwrap();
        let p = retention::preview(&app.portal, &rules, now).await.unwrap();
        let mut notify = p.to_notify.clone();
        notify.sort();
        assert_eq!(
            notify,
            vec![signs_in, came_back],
            "the old notice was spent by the visit; restricted records are left alone"
        );
        assert!(
            p.to_delete.is_empty(),
            "nobody is deleted on a spent notice"
        );

        // Told now; one of them signs in during the notice period and is kept.
        let ran = retention::run(&app.portal, now).await.unwrap();
        assert_eq!((ran.notified, ran.deleted), (2, 0));
        sessions::start(
            &app.portal.db,
            &app.portal.session_keys,
            Subject::Customer(signs_in),
            now + Duration::days(2),
        )
        .await
        .unwrap();
        let due = retention::run(&app.portal, now + Duration::days(31))
            .await
            .unwrap();
        assert_eq!(
            due.deleted, 1,
            "only the one who neither visited nor signed in"
        );
        portal_core::customers::contact(&app.portal.db, &app.portal.vault, signs_in)
            .await
            .unwrap();
        portal_core::customers::contact(&app.portal.db, &app.portal.vault, restricted)
            .await
            .unwrap();
        assert!(
            portal_core::customers::contact(&app.portal.db, &app.portal.vault, came_back)
                .await
                .is_err()
        );
        // The one kept was told by mail before.
        let mail = portal_core::mydata::messages(&app.portal.db, &app.portal.vault, signs_in)
            .await
            .unwrap();
        assert!(
            mail.iter()
                .any(|m| m.subject.contains("we will delete your data"))
        );
    })
}
