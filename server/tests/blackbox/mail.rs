//! The mail outbox against a real SMTP server (lettre's SMTP transport to an in-process sink).

use crate::support;

use std::time::Duration;

use crate::support::{eventually, smtp::SmtpSink, spawn_app_with};
use portal_core::{
    email::Email,
    mail::{OutgoingMail, entity},
};
use sea_orm::EntityTrait;

fn mail(to: &str) -> OutgoingMail {
    OutgoingMail {
        to: Email::parse(to).unwrap(),
        subject: "登录验证码 / Your sign-in code".into(),
        text: "123456".into(),
        html: None,
    }
}

async fn outbox_row(app: &support::TestApp, id: i64) -> entity::Model {
    entity::Entity::find_by_id(id)
        .one(&app.portal.db)
        .await
        .unwrap()
        .unwrap()
}

#[test]
fn queued_mail_is_delivered_once_through_smtp() {
    crate::support::run(async {
        let sink = SmtpSink::start().await;
        let url = sink.url();
        let app = spawn_app_with(|s| s.smtp_url = Some(url)).await;
        let id = app
            .portal
            .enqueue_mail(
                &app.portal.db,
                Some(support::customer(&app, "once@example.com", "zh").await),
                "test",
                &mail("once@example.com"),
            )
            .await
            .unwrap();
        app.portal.outbox.notify();
        assert!(
            eventually(Duration::from_secs(10), || async {
                !sink.received().is_empty()
            })
            .await
        );
        // Give the worker several more polls: the mail must not go out again.
        tokio::time::sleep(Duration::from_millis(400)).await;
        let got = sink.received();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].rcpt, vec!["<once@example.com>".to_owned()]);
        assert!(got[0].data.contains("Subject: "));
        let row = outbox_row(&app, id).await;
        assert!(row.sent_at.is_some());
        assert_eq!(row.attempts, 1);
        assert!(row.last_error.is_none());
    })
}

#[test]
fn mail_the_server_refuses_is_retried_with_backoff_until_accepted() {
    crate::support::run(async {
        let sink = SmtpSink::start().await;
        sink.refuse_next(2);
        let url = sink.url();
        let app = spawn_app_with(|s| s.smtp_url = Some(url)).await;
        let id = app
            .portal
            .enqueue_mail(
                &app.portal.db,
                Some(support::customer(&app, "retry@example.com", "zh").await),
                "test",
                &mail("retry@example.com"),
            )
            .await
            .unwrap();
        app.portal.outbox.notify();
        assert!(
            eventually(Duration::from_secs(10), || async {
                !sink.received().is_empty()
            })
            .await
        );
        assert_eq!(sink.refusals_left(), 0);
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(
            sink.received().len(),
            1,
            "delivered exactly once after the refusals"
        );
        let row = outbox_row(&app, id).await;
        assert_eq!(row.attempts, 3, "two refused attempts, then one accepted");
        assert!(row.sent_at.is_some());
        // Every attempt carries the one Message-ID of this queued mail.
        let ids: Vec<String> = sink
            .tried()
            .iter()
            .filter_map(|m| {
                m.lines()
                    .find(|l| l.to_ascii_lowercase().starts_with("message-id:"))
                    .map(|l| l[11..].trim().to_owned())
            })
            .collect();
        assert_eq!(ids.len(), 3, "three attempts reached the server");
        assert!(
            ids.iter()
                .all(|i| *i == format!("<{id}.{}@portal.test>", row.created_at.timestamp())),
            "{ids:?}"
        );
    })
}

#[test]
fn mail_is_kept_while_the_server_is_down_and_sent_when_it_returns() {
    crate::support::run(async {
        // Find a free port, then leave it closed: the SMTP server is "down".
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let app = spawn_app_with(|s| s.smtp_url = Some(format!("smtp://127.0.0.1:{port}"))).await;
        let id = app
            .portal
            .enqueue_mail(
                &app.portal.db,
                Some(support::customer(&app, "down@example.com", "zh").await),
                "test",
                &mail("down@example.com"),
            )
            .await
            .unwrap();
        app.portal.outbox.notify();
        let retried = eventually(Duration::from_secs(10), || async {
            outbox_row(&app, id).await.attempts >= 2
        })
        .await;
        assert!(retried, "the worker keeps trying");
        let row = outbox_row(&app, id).await;
        assert!(
            row.sent_at.is_none(),
            "nothing is marked sent while the server is down"
        );
        let error = row.last_error.unwrap();
        assert!(
            !error.contains("down@example.com"),
            "stored errors carry no address"
        );

        let sink = SmtpSink::start_on(port).await;
        assert!(
            eventually(Duration::from_secs(10), || async {
                !sink.received().is_empty()
            })
            .await
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(sink.received().len(), 1);
        assert!(outbox_row(&app, id).await.sent_at.is_some());
    })
}

#[test]
fn two_workers_on_one_database_never_send_a_mail_twice() {
    crate::support::run(async {
        let sink = SmtpSink::start().await;
        let url = sink.url();
        let app = spawn_app_with(|s| s.smtp_url = Some(url.clone())).await;
        let transport = portal_core::mail::Transport::from_settings(&app.portal.settings).unwrap();
        for n in 0..20 {
            app.portal
                .enqueue_mail(
                    &app.portal.db,
                    None,
                    "test",
                    &mail(&format!("many{n}@example.com")),
                )
                .await
                .unwrap();
        }
        // A second "replica" delivering from the same outbox at the same time as the app's worker.
        let (a, b) = tokio::join!(
            portal_core::mail::deliver_due(&app.portal, &transport, "replica-b"),
            async {
                app.portal.outbox.notify();
                Ok::<usize, sea_orm::DbErr>(0)
            }
        );
        a.unwrap();
        b.unwrap();
        assert!(
            eventually(Duration::from_secs(10), || async {
                sink.received().len() >= 20
            })
            .await
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
        let mut rcpts: Vec<String> = sink.received().into_iter().flat_map(|r| r.rcpt).collect();
        assert_eq!(rcpts.len(), 20);
        rcpts.sort();
        rcpts.dedup();
        assert_eq!(rcpts.len(), 20, "no recipient got the same mail twice");
    })
}

#[test]
fn mail_queued_in_a_transaction_that_rolls_back_is_never_sent() {
    crate::support::run(async {
        use sea_orm::TransactionTrait;
        let sink = SmtpSink::start().await;
        let url = sink.url();
        let app = spawn_app_with(|s| s.smtp_url = Some(url)).await;
        let tx = app.portal.db.begin().await.unwrap();
        app.portal
            .enqueue_mail(&tx, None, "test", &mail("rolled-back@example.com"))
            .await
            .unwrap();
        tx.rollback().await.unwrap();
        let tx = app.portal.db.begin().await.unwrap();
        app.portal
            .enqueue_mail(&tx, None, "test", &mail("committed@example.com"))
            .await
            .unwrap();
        tx.commit().await.unwrap();
        app.portal.outbox.notify();
        assert!(
            eventually(Duration::from_secs(10), || async {
                !sink.received().is_empty()
            })
            .await
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
        let rcpts: Vec<String> = sink.received().into_iter().flat_map(|r| r.rcpt).collect();
        assert_eq!(rcpts, vec!["<committed@example.com>".to_owned()]);
    })
}

#[test]
fn mail_to_no_customer_is_gone_from_the_outbox_once_the_server_took_it() {
    crate::support::run(async {
        let sink = SmtpSink::start().await;
        let url = sink.url();
        let app = spawn_app_with(|s| s.smtp_url = Some(url)).await;
        let id = app
            .portal
            .enqueue_mail(&app.portal.db, None, "test", &mail("receipt@example.com"))
            .await
            .unwrap();
        app.portal.outbox.notify();
        assert!(
            eventually(Duration::from_secs(10), || async {
                !sink.received().is_empty()
            })
            .await
        );
        assert!(
            eventually(Duration::from_secs(10), || async {
                entity::Entity::find_by_id(id)
                    .one(&app.portal.db)
                    .await
                    .unwrap()
                    .is_none()
            })
            .await,
            "an erasure receipt or invitation does not stay in the outbox after delivery"
        );
        assert_eq!(sink.received().len(), 1);
    })
}

#[test]
fn a_customers_delivered_mail_stays_for_the_sent_mail_days_and_is_swept_after() {
    crate::support::run(async {
        let sink = SmtpSink::start().await;
        let url = sink.url();
        let app = spawn_app_with(|s| {
            s.smtp_url = Some(url);
            s.sent_mail_days = 30;
        })
        .await;
        let customer = support::customer(&app, "kept@example.com", "zh").await;
        let id = app
            .portal
            .enqueue_mail(
                &app.portal.db,
                Some(customer),
                "test",
                &mail("kept@example.com"),
            )
            .await
            .unwrap();
        app.portal.outbox.notify();
        assert!(
            eventually(Duration::from_secs(10), || async {
                outbox_row(&app, id).await.sent_at.is_some()
            })
            .await,
            "delivered"
        );
        let sweep = |days: i64| {
            portal_core::housekeeping::sweep(
                &app.portal,
                chrono::Utc::now() + chrono::Duration::days(days),
            )
        };
        // The customer's own messages are part of what they see and export: kept for the period.
        assert_eq!(sweep(29).await.unwrap().sent_mail, 0);
        assert!(
            entity::Entity::find_by_id(id)
                .one(&app.portal.db)
                .await
                .unwrap()
                .is_some()
        );
        assert_eq!(sweep(31).await.unwrap().sent_mail, 1);
        assert!(
            entity::Entity::find_by_id(id)
                .one(&app.portal.db)
                .await
                .unwrap()
                .is_none()
        );
    })
}
