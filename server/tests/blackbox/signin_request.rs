//! Asking for a sign-in link, through a real SMTP server: one answer for every address, mail
//! only for one on record, built from the public URL, in the customer's language, throttled.

use crate::support;

use std::time::Duration;

use crate::support::{PUBLIC_URL, app_with_sink, eventually, mail_text as body};
use chrono::Utc;
use portal_core::signin::{
    CodeOutcome, Purpose, RequestError, request_link, spend_code_for, spend_link, throttle,
};

fn link_token(text: &str) -> String {
    let start = text
        .find(&format!("{PUBLIC_URL}/signin/link?t="))
        .expect("a link built from the public URL");
    text[start..]
        .split("?t=")
        .nth(1)
        .unwrap()
        .chars()
        .take(43)
        .collect()
}

#[test]
fn an_address_on_record_gets_one_mail_with_a_link_and_a_code_that_each_sign_in() {
    crate::support::run(async {
        let (app, sink) = app_with_sink().await;
        let c = support::customer(&app, "li.na@example.com", "en").await;
        let pending = request_link(
            &app.portal,
            " Li.Na@Example.com ",
            "203.0.113.9",
            Utc::now(),
        )
        .await
        .unwrap();
        assert_eq!(pending.handle.len(), 43);
        assert!(
            eventually(Duration::from_secs(10), || async {
                !sink.received().is_empty()
            })
            .await
        );
        let mail = sink.received().remove(0);
        assert_eq!(mail.rcpt, vec!["<li.na@example.com>".to_owned()]);
        let text = body(&mail.data);
        assert!(
            text.contains("Subject: Your sign-in link"),
            "English for an English customer"
        );
        assert!(text.contains("valid for 10 minutes"));
        assert!(
            text.contains("multipart/alternative") && text.contains("text/html"),
            "plain text and HTML"
        );
        let token = link_token(&text);
        assert_eq!(
            spend_link(&app.portal.db, &token, Purpose::SignIn, Utc::now())
                .await
                .unwrap(),
            Some(c)
        );

        // A second request: this time the code, typed in the asking browser, signs in.
        let pending = request_link(&app.portal, "li.na@example.com", "203.0.113.9", Utc::now())
            .await
            .unwrap();
        assert!(
            eventually(Duration::from_secs(10), || async {
                sink.received().len() == 2
            })
            .await
        );
        let text = body(&sink.received()[1].data);
        let code = text.split("where you asked: ").nth(1).unwrap()[..6].to_owned();
        // Another browser has no token: answered as a wrong code (as for an unknown address).
        assert_eq!(
            spend_code_for(&app.portal, "someone-elses-handle", &code, Utc::now())
                .await
                .unwrap(),
            CodeOutcome::Wrong { tries_left: 0 }
        );
        assert_eq!(
            spend_code_for(&app.portal, &pending.handle, &code, Utc::now())
                .await
                .unwrap(),
            CodeOutcome::Accepted(c)
        );
    })
}

#[test]
fn unknown_and_erased_addresses_get_the_same_answer_and_no_mail() {
    crate::support::run(async {
        let (app, sink) = app_with_sink().await;
        let c = support::customer(&app, "gone@example.com", "zh").await;
        // Erasure clears the blind index (the deletion flow does this, with the key shredding).
        app.portal
            .vault
            .destroy_customer_key(&app.portal.db, c)
            .await
            .unwrap();
        use sea_orm::ConnectionTrait;
        app.portal
        .db
        .execute_unprepared(&format!(
            "UPDATE customers SET email_index = NULL, erased_at = CURRENT_TIMESTAMP WHERE id = {c}"
        ))
        .await
        .unwrap();
        for address in ["nobody@example.com", "gone@example.com"] {
            let pending = request_link(&app.portal, address, "203.0.113.9", Utc::now())
                .await
                .unwrap();
            assert_eq!(pending.handle.len(), 43, "same shape of answer");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert!(sink.received().is_empty());
    })
}

#[test]
fn malformed_addresses_are_refused_before_any_mail_is_built() {
    crate::support::run(async {
        let (app, sink) = app_with_sink().await;
        support::customer(&app, "victim@example.com", "zh").await;
        for bad in [
            "victim@example.com\r\nBcc: x@evil.example",
            "not-an-address",
            "",
            &format!("{}@example.com", "a".repeat(300)),
        ] {
            assert!(
                matches!(
                    request_link(&app.portal, bad, "203.0.113.9", Utc::now()).await,
                    Err(RequestError::Email(_))
                ),
                "{bad:?}"
            );
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(sink.received().is_empty());
    })
}

#[test]
fn two_portals_on_one_database_share_the_per_address_limit_and_mail_no_more_than_it_allows() {
    crate::support::run(async {
        let (a, sink) = app_with_sink().await;
        // A second replica: the same database and key, its own pool, worker and throttle calls.
        let (url, dir, smtp) = (
            a.portal.settings.database_url.clone(),
            a.portal.settings.data_dir.clone(),
            sink.url(),
        );
        let b = support::spawn_app_with(|s| {
            s.database_url = url;
            s.data_dir = dir;
            s.smtp_url = Some(smtp);
        })
        .await;
        support::customer(&a, "both@example.com", "zh").await;
        let now = Utc::now();
        let asks = (0..throttle::PER_ADDRESS.max + 3).map(|i| {
            let p = if i % 2 == 0 { &a.portal } else { &b.portal };
            // Each from a client of its own: only the per-address limit can stop them.
            let ip = format!("198.51.100.{}", 20 + i);
            async move { request_link(p, "both@example.com", &ip, now).await }
        });
        for asked in futures::future::join_all(asks).await {
            asked.unwrap();
        }
        let max = throttle::PER_ADDRESS.max as usize;
        assert!(
            eventually(Duration::from_secs(10), || async {
                sink.received().len() >= max
            })
            .await,
            "the allowed mails arrive"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(
            sink.received().len(),
            max,
            "two replicas together send no more than one would"
        );
    })
}

#[test]
fn the_mail_is_chinese_for_a_chinese_customer_and_throttled_per_address() {
    crate::support::run(async {
        let (app, sink) = app_with_sink().await;
        support::customer(&app, "wang@example.com", "zh").await;
        let now = Utc::now();
        for _ in 0..throttle::PER_ADDRESS.max + 2 {
            request_link(&app.portal, "wang@example.com", "198.51.100.7", now)
                .await
                .unwrap();
        }
        let max = throttle::PER_ADDRESS.max as usize;
        assert!(
            eventually(Duration::from_secs(10), || async {
                sink.received().len() >= max
            })
            .await
        );
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert_eq!(
            sink.received().len(),
            max,
            "no mail past the per-address limit"
        );
        let data = sink.received()[0].data.clone();
        let subject = data
            .lines()
            .find(|l| l.starts_with("Subject:"))
            .unwrap()
            .to_ascii_lowercase();
        assert!(
            subject.contains("=?utf-8?"),
            "a Chinese subject, encoded: {subject}"
        );
        assert!(!data.contains("Your sign-in link"), "not the English mail");
    })
}
