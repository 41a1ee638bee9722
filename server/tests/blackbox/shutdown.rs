//! Shutdown and stalls (issue 18): a portal told to stop says "not ready" while it drains and
//! still answers, then stops; a page that cannot answer in time gets a 503, never a hang.

use std::time::{Duration, Instant};

use crate::support::{self, spawn_app_with};
use reqwest::StatusCode;
use sea_orm::TransactionTrait;

#[test]
fn a_portal_told_to_stop_says_draining_while_it_still_serves_then_stops() {
    crate::support::run(async {
        let mut app = spawn_app_with(|s| s.drain = Duration::from_secs(2)).await;
        let health = |app: &support::TestApp| {
            let (client, url) = (app.client.clone(), app.url("/healthz"));
            async move { client.get(url).send().await }
        };
        assert_eq!(health(&app).await.unwrap().status(), StatusCode::OK);
        app.shut_down();
        // Draining: not ready, but pages still answer.
        assert!(
            support::eventually(Duration::from_secs(2), || async {
                health(&app)
                    .await
                    .is_ok_and(|r| r.status() == StatusCode::SERVICE_UNAVAILABLE)
            })
            .await,
            "not ready while draining"
        );
        let body: serde_json::Value = health(&app).await.unwrap().json().await.unwrap();
        assert_eq!(body["status"], "draining");
        assert_eq!(app.get_in("/privacy", "en").await.status(), StatusCode::OK);
        // Then it stops taking connections.
        assert!(
            support::eventually(Duration::from_secs(6), || async {
                health(&app).await.is_err()
            })
            .await,
            "stopped after the drain time"
        );
    })
}

#[test]
fn a_page_that_cannot_answer_in_time_gets_a_503_and_the_portal_serves_again_after() {
    crate::support::run(async {
        let app = spawn_app_with(|s| s.page_timeout = Duration::from_secs(1)).await;
        // A real fault: every database connection held elsewhere (a pool exhausted by a stuck
        // job, a database that stopped answering), so the page's first read waits.
        let mut held = Vec::new();
        loop {
            match tokio::time::timeout(Duration::from_millis(300), app.portal.db.begin()).await {
                Ok(tx) => held.push(tx.unwrap()),
                Err(_) => break,
            }
            assert!(held.len() < 100, "the pool is bounded");
        }
        let started = Instant::now();
        let resp = app.get_in("/privacy", "en").await;
        let took = started.elapsed();
        assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(resp.headers()["retry-after"], "5");
        assert_eq!(resp.headers()["cache-control"], "no-store");
        assert!(
            took < Duration::from_secs(4),
            "answered at the limit: {took:?}"
        );
        let text = resp.text().await.unwrap();
        assert!(text.contains("请稍后再试") && text.contains("Please try again"));
        drop(held);
        let resp = app.get_in("/privacy", "en").await;
        assert_eq!(
            resp.status(),
            StatusCode::OK,
            "serves again once the database does"
        );
    })
}

#[test]
fn a_portal_told_to_stop_finishes_the_mail_in_hand_and_hands_back_the_rest_of_its_claim() {
    crate::support::run(async {
        use portal_core::mail::{OutgoingMail, entity};
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
        let sink = support::smtp::SmtpSink::start().await;
        sink.slow_down(Duration::from_millis(1500));
        let url = sink.url();
        let mut app = spawn_app_with(|s| s.smtp_url = Some(url)).await;
        let c = support::customer(&app, "claims@example.com", "zh").await;
        // Queued in one transaction: the worker sees all three at once or none.
        let tx = app.portal.db.begin().await.unwrap();
        for _ in 0..3 {
            let mail = OutgoingMail {
                to: portal_core::email::Email::parse("claims@example.com").unwrap(),
                subject: "test".into(),
                text: "test".into(),
                html: None,
            };
            app.portal
                .enqueue_mail(&tx, Some(c), "test", &mail)
                .await
                .unwrap();
        }
        tx.commit().await.unwrap();
        app.portal.outbox.notify();
        // The worker claims all three and is sending the first when the stop comes.
        assert!(
            support::eventually(Duration::from_secs(5), || async { sink.tried().len() == 1 }).await,
            "the first mail reached the server"
        );
        let claimed = entity::Entity::find()
            .filter(entity::Column::ClaimedBy.is_not_null())
            .all(&app.portal.db)
            .await
            .unwrap();
        assert_eq!(claimed.len(), 3, "one claim for the lot");
        app.shut_down();
        let db = app.portal.db.clone();
        let rows = || {
            let db = db.clone();
            async move { entity::Entity::find().all(&db).await.unwrap() }
        };
        assert!(
            support::eventually(Duration::from_secs(10), || async {
                let rows = rows().await;
                rows.iter().any(|m| m.sent_at.is_some())
                    && rows
                        .iter()
                        .filter(|m| m.sent_at.is_none())
                        .all(|m| m.claimed_by.is_none())
            })
            .await,
            "every claim handed back"
        );
        let rows = rows().await;
        assert_eq!(
            rows.iter().filter(|m| m.sent_at.is_some()).count(),
            1,
            "the mail in hand was finished and recorded"
        );
        assert_eq!(sink.received().len(), 1, "nothing else was sent");
        assert!(
            rows.iter()
                .filter(|m| m.sent_at.is_none())
                .all(|m| m.claimed_until.is_none()),
            "the unsent ones are free for another replica at once, not after the lease"
        );
    })
}
