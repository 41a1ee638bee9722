//! The privacy officer's dashboard figures: deadlines on working days and the posture check.

use crate::support;

use crate::support::spawn_app;
use chrono::{Duration, Utc};
use portal_core::dashboard::{self, KeyFile, MailTransport};
use sea_orm::{ConnectionTrait, sea_query::Query};

async fn request(app: &support::TestApp, status: &str, due: chrono::DateTime<Utc>) {
    let c = support::customer(
        app,
        &format!("r{}@example.com", uuid::Uuid::new_v4().simple()),
        "zh",
    )
    .await;
    app.portal
        .db
        .execute(
            &Query::insert()
                .into_table("requests")
                .columns(["customer_id", "kind", "status", "submitted_at", "due_at"])
                .values_panic([
                    c.into(),
                    // A question: the running portal carries out an approved access request at
                    // once (and closes it), which would race the counts read here.
                    "question".into(),
                    status.into(),
                    (Utc::now() - Duration::days(1)).into(),
                    due.into(),
                ])
                .to_owned(),
        )
        .await
        .unwrap();
}

#[test]
fn deadlines_count_open_requests_due_soon_and_overdue() {
    crate::support::run(async {
        let app = spawn_app().await;
        let now = Utc::now();
        request(&app, "submitted", now - Duration::hours(1)).await; // overdue
        request(&app, "in_review", now + Duration::hours(20)).await; // due soon
        request(&app, "approved", now + Duration::days(30)).await; // open, not soon
        request(&app, "done", now - Duration::days(3)).await; // closed: not counted
        request(&app, "denied", now + Duration::hours(2)).await; // closed
        let d = dashboard::deadlines(&app.portal, now).await.unwrap();
        assert_eq!((d.open, d.due_soon, d.overdue), (3, 1, 1));
        let weeks = dashboard::requests_per_week(&app.portal.db, now, 12)
            .await
            .unwrap();
        assert_eq!(weeks.len(), 12);
        assert_eq!(weeks.iter().map(|(_, n)| n).sum::<i64>(), 5);
    })
}

#[test]
fn the_dashboards_due_soon_and_overdue_counts_are_what_the_queue_filters_of_those_names_list() {
    crate::support::run(async {
        use portal_core::requests::{self, QueueFilter};
        let app = spawn_app().await;
        let now = Utc::now();
        // Due dates every 7 hours over ten days from a day ago: some fall on the salon's next
        // day but the same UTC day, some on weekends, some just past the end of the window.
        for k in 0..35 {
            request(
                &app,
                "submitted",
                now - Duration::days(1) + Duration::hours(7 * k),
            )
            .await;
        }
        let d = dashboard::deadlines(&app.portal, now).await.unwrap();
        let listed = |due: &str| {
            let filter = QueueFilter::from_query(None, None, Some(due));
            let portal = app.portal.clone();
            async move { requests::queue(&portal, &filter, now).await.unwrap().len() as i64 }
        };
        assert_eq!(d.open, 35);
        assert_eq!(d.due_soon, listed("soon").await);
        assert_eq!(d.overdue, listed("overdue").await);
        assert!(d.due_soon > 0 && d.overdue > 0);
    })
}

#[cfg(unix)]
#[test]
fn the_posture_check_names_what_is_at_risk_now() {
    crate::support::run(async {
        use std::os::unix::fs::PermissionsExt;
        let app = spawn_app().await;
        let now = Utc::now();
        let p = dashboard::posture(&app.portal, now).await.unwrap();
        // The test portal mails through a plain SMTP sink.
        assert_eq!(p.mail, MailTransport::Plain);
        assert_eq!(p.key_file, KeyFile::Private);
        assert_eq!(p.last_backup, None);
        assert!(!p.backup_ok(now));
        assert_eq!(p.staff_without_totp, 0);

        portal_core::staff::add(
            &app.portal.db,
            &portal_core::email::Email::parse("no2fa@salon.example").unwrap(),
            &portal_core::staff::StaffName::parse("新人").unwrap(),
            portal_core::staff::Role::FrontDesk,
        )
        .await
        .unwrap();
        let key = app.data_dir.path().join(portal_core::vault::KEY_FILE);
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
        let out = app.data_dir.path().join("b.bak");
        portal_core::backup::backup(&app.portal, portal_core::backup::Scope::Data, &out)
            .await
            .unwrap();
        let p = dashboard::posture(&app.portal, now + Duration::hours(1))
            .await
            .unwrap();
        assert_eq!(p.staff_without_totp, 1);
        assert_eq!(p.key_file, KeyFile::Open);
        assert!(p.backup_ok(now + Duration::hours(1)));
        assert!(!p.backup_ok(now + Duration::hours(49)));
    })
}
