//! Per-photo consent: each photo's public uses and end date, changed by the customer per photo;
//! a withdrawn, lapsed, switched-off or erased public use ends at once and opens one takedown task
//! for staff; the queue shows no customer field; old single-use photos are carried over by the
//! migration.

use crate::support;

use crate::support::spawn_app;
use app::{me::photos::SetPhotoUses, staff::takedowns::CompleteTakedown};
use chrono::{Duration, Utc};
use leptos::server_fn::ServerFn;
use portal_core::{
    consents::{self, Change, Channel, Purpose},
    photos::{self, Actor, PhotoUse, Platform},
    sessions::Subject,
    staff::{Role, StaffName, auth},
};
use sea_orm::{
    ConnectionTrait, Database,
    sea_query::{Expr, ExprTrait, Query},
};

const CUSTOMER: Actor = Actor {
    channel: Channel::Portal,
    staff: None,
};

async fn signed_in(app: &support::TestApp, subject: Subject) -> String {
    support::signed_in_as(app, subject).await
}

/// Posts a form as a browser without JavaScript would; returns the redirect target.
async fn post(app: &support::TestApp, path: &str, form: &[(&str, &str)], cookie: &str) -> String {
    let r = app.browser_post(path, form, cookie).await;
    assert!(r.status().is_redirection(), "{path}: {}", r.status());
    support::location(&r)
}

async fn photo(app: &support::TestApp, customer: i64) -> i64 {
    app.portal
        .db
        .query_one(
            &Query::insert()
                .into_table("photos")
                .columns([
                    "customer_id",
                    "taken_at",
                    "kind",
                    "content_type",
                    "file_name",
                    "size_bytes",
                ])
                .values_panic([
                    customer.into(),
                    Utc::now().into(),
                    "after".into(),
                    "image/png".into(),
                    "none.sealed".into(),
                    0i64.into(),
                ])
                .returning_col("id")
                .to_owned(),
        )
        .await
        .unwrap()
        .unwrap()
        .try_get("", "id")
        .unwrap()
}

async fn switch(app: &support::TestApp, customer: i64, purpose: Purpose, on: bool) {
    let change = Change {
        purpose,
        granted: on,
        channel: Channel::Portal,
        recorded_by: None,
        notice_version: Some(1),
    };
    consents::record(&app.portal.db, customer, change, Utc::now())
        .await
        .unwrap();
}

async fn uses(app: &support::TestApp, customer: i64, photo: i64) -> Vec<PhotoUse> {
    photos::for_customer(&app.portal.db, customer, Utc::now())
        .await
        .unwrap()
        .into_iter()
        .find(|p| p.id == photo)
        .unwrap()
        .uses
        .into_iter()
        .map(|(u, _)| u)
        .collect()
}

async fn open_tasks(app: &support::TestApp) -> Vec<photos::Takedown> {
    photos::takedowns(&app.portal.db)
        .await
        .unwrap()
        .into_iter()
        .filter(|t| t.done_at.is_none())
        .collect()
}

const WECHAT: PhotoUse = PhotoUse::Social(Platform::WeChat);

#[test]
fn a_new_public_use_needs_the_purpose_switch_and_an_explicit_tick_and_changes_nothing_without_them()
{
    crate::support::run(async {
        let app = spawn_app().await;
        let c = support::customer(&app, "photo.grant@example.com", "zh").await;
        let p = photo(&app, c).await;
        let cookie = signed_in(&app, Subject::Customer(c)).await;
        let id = p.to_string();

        // No tick: asked to confirm, nothing granted.
        let to = post(
            &app,
            SetPhotoUses::PATH,
            &[("photo", &id), ("wechat", "on")],
            &cookie,
        )
        .await;
        assert_eq!(to, format!("/me/photos?confirm={p}#photo-{p}"));
        assert!(uses(&app, c, p).await.is_empty());

        // Ticked, but "photos on social media" is off: a clear message, nothing granted.
        let form = [("photo", id.as_str()), ("wechat", "on"), ("confirm", "yes")];
        let to = post(&app, SetPhotoUses::PATH, &form, &cookie).await;
        assert_eq!(to, format!("/me/photos?error=purpose#photo-{p}"));
        assert!(uses(&app, c, p).await.is_empty());

        // A date in the past, or not a date: refused, nothing granted.
        switch(&app, c, Purpose::PhotosSocial, true).await;
        for bad in ["2020-01-01", "next week"] {
            let mut f = form.to_vec();
            f.push(("until", bad));
            let to = post(&app, SetPhotoUses::PATH, &f, &cookie).await;
            assert_eq!(to, format!("/me/photos?error=date#photo-{p}"), "{bad}");
        }
        assert!(uses(&app, c, p).await.is_empty());

        // Switch on + tick: granted, in the ledger, and usable.
        let to = post(&app, SetPhotoUses::PATH, &form, &cookie).await;
        assert_eq!(to, format!("/me/photos?done=1#photo-{p}"));
        assert_eq!(uses(&app, c, p).await, vec![WECHAT]);
        assert!(
            photos::may_use(&app.portal.db, p, WECHAT, Utc::now())
                .await
                .unwrap()
        );
        assert!(
            !photos::may_use(&app.portal.db, p, PhotoUse::Portfolio, Utc::now())
                .await
                .unwrap()
        );

        // Another customer's photo cannot be touched.
        let other = support::customer(&app, "photo.other@example.com", "zh").await;
        let theirs = signed_in(&app, Subject::Customer(other)).await;
        let to = post(&app, SetPhotoUses::PATH, &[("photo", &id)], &theirs).await;
        assert_eq!(to, format!("/me/photos?error=invalid#photo-{p}"));
        assert_eq!(uses(&app, c, p).await, vec![WECHAT]);
        assert!(open_tasks(&app).await.is_empty());
    })
}

#[test]
fn withdrawing_a_public_use_ends_it_at_once_and_opens_one_takedown_task_for_staff() {
    crate::support::run(async {
        let app = spawn_app().await;
        let c = support::customer(&app, "photo.withdraw@example.com", "zh").await;
        let p = photo(&app, c).await;
        switch(&app, c, Purpose::PhotosSocial, true).await;
        switch(&app, c, Purpose::PhotosPortfolio, true).await;
        photos::set_uses(
            &app.portal.db,
            c,
            p,
            &[PhotoUse::Portfolio, WECHAT],
            None,
            CUSTOMER,
            Utc::now(),
        )
        .await
        .unwrap();
        let cookie = signed_in(&app, Subject::Customer(c)).await;
        // Untick WeChat, keep the portfolio: no confirmation needed to withdraw.
        let to = post(
            &app,
            SetPhotoUses::PATH,
            &[("photo", &p.to_string()), ("portfolio", "on")],
            &cookie,
        )
        .await;
        assert_eq!(to, format!("/me/photos?done=1#photo-{p}"));
        assert_eq!(uses(&app, c, p).await, vec![PhotoUse::Portfolio]);
        assert!(
            !photos::may_use(&app.portal.db, p, WECHAT, Utc::now())
                .await
                .unwrap()
        );
        let tasks = open_tasks(&app).await;
        assert_eq!(tasks.len(), 1);
        assert_eq!((tasks[0].photo_ref, tasks[0].used), (p, WECHAT));
        assert_eq!(tasks[0].reason, "changed");

        // The same form again changes nothing and opens no second task.
        post(
            &app,
            SetPhotoUses::PATH,
            &[("photo", &p.to_string()), ("portfolio", "on")],
            &cookie,
        )
        .await;
        assert_eq!(open_tasks(&app).await.len(), 1);

        // Marketing works the queue: sees the photo number and platform, never the customer.
        let inv = auth::invite(
            &app.portal.db,
            &app.portal.vault,
            &portal_core::email::Email::parse("mkt.photos@salon.example").unwrap(),
            &StaffName::parse("市场").unwrap(),
            Role::Marketing,
            Utc::now(),
        )
        .await
        .unwrap();
        let m = auth::accept_invitation(
            &app.portal.db,
            &inv.token,
            "peony lantern takedown 77",
            "Demo Salon",
            Utc::now(),
        )
        .await
        .unwrap();
        let staff = signed_in(&app, Subject::Staff(m)).await;
        let html = app
            .client
            .get(app.url("/staff/takedowns"))
            .header("cookie", &staff)
            .header("accept-language", "en")
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            html.contains(&format!("data-task=\"{}\"", tasks[0].id)),
            "{html}"
        );
        assert!(html.contains("withdrawn by the customer"));
        let dash = app
            .client
            .get(app.url("/staff"))
            .header("cookie", &staff)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(dash.contains("data-figure=\"takedowns\">1<"), "{dash}");
        for field in ["photo.withdraw", "测试顾客"] {
            assert!(!html.contains(field), "the queue shows {field}");
        }
        let to = post(
            &app,
            CompleteTakedown::PATH,
            &[("id", &tasks[0].id.to_string())],
            &staff,
        )
        .await;
        assert_eq!(to, "/staff/takedowns?done=1");
        assert!(open_tasks(&app).await.is_empty());
        // Done once: a second click is refused with a message, not a second completion.
        let to = post(
            &app,
            CompleteTakedown::PATH,
            &[("id", &tasks[0].id.to_string())],
            &staff,
        )
        .await;
        assert_eq!(to, "/staff/takedowns?error=invalid");
    })
}

#[test]
fn a_use_past_its_end_date_stops_counting_at_once_and_lapses_with_one_task() {
    crate::support::run(async {
        let app = spawn_app().await;
        let c = support::customer(&app, "photo.lapse@example.com", "zh").await;
        let p = photo(&app, c).await;
        switch(&app, c, Purpose::PhotosPortfolio, true).await;
        let now = Utc::now();
        photos::set_uses(
            &app.portal.db,
            c,
            p,
            &[PhotoUse::Portfolio],
            Some(now + Duration::days(1)),
            CUSTOMER,
            now,
        )
        .await
        .unwrap();
        let later = now + Duration::days(1) + Duration::seconds(1);
        assert!(
            photos::may_use(&app.portal.db, p, PhotoUse::Portfolio, now)
                .await
                .unwrap()
        );
        // Past the end it no longer counts, before any sweep has run.
        assert!(
            !photos::may_use(&app.portal.db, p, PhotoUse::Portfolio, later)
                .await
                .unwrap()
        );
        // Two replicas sweeping at once record the lapse once.
        let (a, b) = tokio::join!(
            photos::lapse(&app.portal.db, later),
            photos::lapse(&app.portal.db, later)
        );
        assert_eq!(a.unwrap() + b.unwrap(), 1);
        assert_eq!(photos::lapse(&app.portal.db, later).await.unwrap(), 0);
        let tasks = open_tasks(&app).await;
        assert_eq!(tasks.len(), 1);
        assert_eq!(tasks[0].reason, "lapsed");
        let events = app
            .portal
            .db
            .query_all(
                &Query::select()
                    .columns(["granted", "reason"])
                    .from("photo_use_events")
                    .and_where(Expr::col("photo_id").eq(p))
                    .to_owned(),
            )
            .await
            .unwrap();
        let ledger: Vec<(bool, String)> = events
            .iter()
            .map(|r| {
                (
                    r.try_get("", "granted").unwrap(),
                    r.try_get("", "reason").unwrap(),
                )
            })
            .collect();
        assert_eq!(
            ledger,
            vec![(true, "changed".into()), (false, "lapsed".into())]
        );
    })
}

#[test]
fn switching_a_photo_purpose_off_or_erasing_the_customer_ends_the_photo_uses_with_tasks() {
    crate::support::run(async {
        let app = spawn_app().await;
        let c = support::customer(&app, "photo.off@example.com", "zh").await;
        let p = photo(&app, c).await;
        switch(&app, c, Purpose::PhotosSocial, true).await;
        switch(&app, c, Purpose::PhotosPortfolio, true).await;
        let both = [
            PhotoUse::Portfolio,
            WECHAT,
            PhotoUse::Social(Platform::Xiaohongshu),
        ];
        photos::set_uses(&app.portal.db, c, p, &both, None, CUSTOMER, Utc::now())
            .await
            .unwrap();
        // Social media off: both platforms come down, the portfolio stays.
        switch(&app, c, Purpose::PhotosSocial, false).await;
        assert_eq!(uses(&app, c, p).await, vec![PhotoUse::Portfolio]);
        let tasks = open_tasks(&app).await;
        assert_eq!(tasks.len(), 2);
        assert!(tasks.iter().all(|t| t.reason == "consent_off"));

        // Erasure: the portfolio use ends too, and the task outlives the photo.
        // As the portal itself erases: the write lock first, since the background loop writes too.
        let tx = portal_core::db::begin_write(&app.portal.db).await.unwrap();
        let erased = portal_core::requests::erase::erase(&app.portal, &tx, c, Utc::now()).await;
        assert!(erased.is_ok(), "{erased:?}");
        tx.commit().await.unwrap();
        let tasks = open_tasks(&app).await;
        assert_eq!(tasks.len(), 3);
        let last = tasks.last().unwrap();
        assert_eq!(
            (last.photo_ref, last.used, last.reason.as_str()),
            (p, PhotoUse::Portfolio, "erased")
        );
        let left = app
            .portal
            .db
            .query_all(
                &Query::select()
                    .column("id")
                    .from("photos")
                    .and_where(Expr::col("customer_id").eq(c))
                    .to_owned(),
            )
            .await
            .unwrap();
        assert!(left.is_empty());
    })
}

#[test]
fn the_migration_carries_each_old_photo_use_over_and_drops_the_old_columns() {
    crate::support::run(async {
        use portal_migrations::{Migrator, MigratorTrait};
        let dir = tempfile::tempdir().unwrap();
        let db = Database::connect(support::fresh_database_url(dir.path()).await)
            .await
            .unwrap();
        Migrator::up(&db, Some(3)).await.unwrap();
        let now = Utc::now();
        let customer: i64 = db
            .query_one(
                &Query::insert()
                    .into_table("customers")
                    .columns(["name_sealed", "created_at", "updated_at"])
                    .values_panic([vec![1u8].into(), now.into(), now.into()])
                    .returning_col("id")
                    .to_owned(),
            )
            .await
            .unwrap()
            .unwrap()
            .try_get("", "id")
            .unwrap();
        let ends = now + Duration::days(30);
        for (used, platforms, end) in [
            ("internal", None, None),
            ("portfolio", None, Some(ends)),
            ("social", Some("wechat, douyin"), None),
        ] {
            db.execute(
                &Query::insert()
                    .into_table("photos")
                    .columns([
                        "customer_id",
                        "taken_at",
                        "kind",
                        "content_type",
                        "file_name",
                        "size_bytes",
                        "permitted_use",
                        "platforms",
                        "use_ends_at",
                    ])
                    .values_panic([
                        customer.into(),
                        now.into(),
                        "before".into(),
                        "image/png".into(),
                        "x".into(),
                        0i64.into(),
                        used.into(),
                        platforms.into(),
                        end.into(),
                    ])
                    .to_owned(),
            )
            .await
            .unwrap();
        }
        Migrator::up(&db, None).await.unwrap();
        let got = photos::for_customer(&db, customer, now).await.unwrap();
        let carried: Vec<Vec<(PhotoUse, bool)>> = got
            .iter()
            .map(|p| p.uses.iter().map(|(u, e)| (*u, e.is_some())).collect())
            .collect();
        assert_eq!(
            carried,
            vec![
                vec![],
                vec![(PhotoUse::Portfolio, true)],
                vec![(WECHAT, false), (PhotoUse::Social(Platform::Douyin), false)],
            ]
        );
        // The old columns are gone: one place says what a photo may be used for.
        // (Inserting, not selecting: SQLite reads an unknown quoted name in a SELECT as a string.)
        let old = db
            .execute(
                &Query::insert()
                    .into_table("photos")
                    .columns([
                        "customer_id",
                        "taken_at",
                        "kind",
                        "content_type",
                        "file_name",
                        "size_bytes",
                        "permitted_use",
                    ])
                    .values_panic([
                        customer.into(),
                        now.into(),
                        "before".into(),
                        "image/png".into(),
                        "y".into(),
                        0i64.into(),
                        "internal".into(),
                    ])
                    .to_owned(),
            )
            .await;
        assert!(old.is_err());
    })
}
