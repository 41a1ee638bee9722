//! Operators' metrics: off unless asked for, on a listener of their own, labelled by route
//! pattern and fixed words only.

use std::time::Duration;

use app::signin::RequestSignIn;
use leptos::server_fn::ServerFn;
use reqwest::StatusCode;

use crate::support::{PUBLIC_URL, eventually, spawn_app, spawn_app_with};

#[test]
fn metrics_are_off_by_default_and_the_public_port_never_serves_them() {
    crate::support::run(async {
        let app = spawn_app().await;
        assert!(app.metrics_address.is_none(), "no metrics listener");
        let r = app.client.get(app.url("/metrics")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        let on = spawn_app_with(|s| s.metrics_addr = Some("127.0.0.1:0".parse().unwrap())).await;
        assert!(on.metrics_address.is_some());
        let r = on.client.get(on.url("/metrics")).send().await.unwrap();
        assert_eq!(
            r.status(),
            StatusCode::NOT_FOUND,
            "the public port has no /metrics even when metrics are on"
        );
    })
}

#[test]
fn metrics_count_requests_by_route_pattern_with_queues_pool_and_refusals_and_no_personal_value() {
    crate::support::run(async {
        let app = spawn_app_with(|s| {
            s.metrics_addr = Some("127.0.0.1:0".parse().unwrap());
            s.signin_per_ip_per_hour = 1;
        })
        .await;
        let metrics = app.metrics_address.clone().expect("a metrics listener");
        assert_eq!(app.get_in("/privacy", "en").await.status(), StatusCode::OK);
        // A made-up id in a path: counted under the route's pattern, never as sent.
        app.client
            .get(app.url("/me/exports/zzprobe"))
            .send()
            .await
            .unwrap();
        // Two sign-in requests from one client with a limit of one: the second is refused.
        for _ in 0..2 {
            let r = app
                .client
                .post(app.url(RequestSignIn::PATH))
                .header("origin", PUBLIC_URL)
                .header("accept", "text/html")
                .form(&[("email", "metrics.probe@example.com")])
                .send()
                .await
                .unwrap();
            assert!(r.status().is_redirection());
        }
        let scrape = || async {
            let r = app
                .client
                .get(format!("{metrics}/metrics"))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::OK);
            assert!(
                r.headers()[reqwest::header::CONTENT_TYPE]
                    .to_str()
                    .unwrap()
                    .starts_with("text/plain")
            );
            r.text().await.unwrap()
        };
        assert!(
            eventually(Duration::from_secs(10), || async {
                scrape()
                    .await
                    .contains("portal_background_last_run_timestamp_seconds{job=\"fulfilment\"}")
            })
            .await,
            "the fulfilment loop reports its last run"
        );
        let text = scrape().await;
        for want in [
            r#"portal_http_requests_total{route="/privacy",method="GET",status="200"}"#,
            r#"route="/me/exports/{id}""#,
            r#"portal_http_request_duration_seconds_bucket{route="/privacy",method="GET",le="0.005"}"#,
            r#"portal_throttle_refusals_total{throttle="signin_per_ip"}"#,
            "portal_mail_outbox_depth ",
            "portal_mail_outbox_oldest_age_seconds ",
            "portal_fulfilment_queue_depth ",
            r#"portal_db_pool_connections{state="max"}"#,
            "portal_database_up 1",
            r#"portal_background_last_run_timestamp_seconds{job="mail"}"#,
        ] {
            assert!(text.contains(want), "{want} missing from:\n{text}");
        }
        for never in ["zzprobe", "metrics.probe", "example.com"] {
            assert!(!text.contains(never), "{never} leaked into the metrics");
        }
        // Other paths on the metrics listener are not served.
        let r = app
            .client
            .get(format!("{metrics}/healthz"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
    })
}
