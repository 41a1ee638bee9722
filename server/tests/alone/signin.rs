//! Enumeration by timing: asking for a link answers as fast for an unknown address as for a
//! known one.

use crate::support;

use std::time::Duration;

use crate::support::{PUBLIC_URL, eventually, location, median_us, smtp::SmtpSink, spawn_app_with};
use app::signin::RequestSignIn;
use leptos::server_fn::ServerFn;
use reqwest::StatusCode;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn asking_for_a_link_takes_as_long_for_an_unknown_address_as_for_a_known_one() {
    let _alone = crate::alone().await;
    let sink = SmtpSink::start().await;
    let url = sink.url();
    let app = spawn_app_with(|s| s.smtp_url = Some(url)).await;
    const ROUNDS: usize = 80;
    let known: Vec<String> = (0..ROUNDS / 4)
        .map(|i| format!("known{i}@example.com"))
        .collect();
    for a in &known {
        support::customer(&app, a, "zh").await;
    }
    // Every client address on 127/8 is this machine; each stays under the per-IP limit, and
    // each known address under the per-address one (4 asks each), so no answer is throttled.
    let client = |n: u8| {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .local_address(std::net::IpAddr::from([127, 0, 0, n]))
            .timeout(Duration::from_secs(20))
            .build()
            .unwrap()
    };
    let ask = |c: reqwest::Client, email: String| {
        let url = app.url(RequestSignIn::PATH);
        async move {
            let started = std::time::Instant::now();
            let r = c
                .post(url)
                .header("origin", PUBLIC_URL)
                .header("accept", "text/html")
                .form(&[("email", email)])
                .send()
                .await
                .unwrap();
            let took = started.elapsed();
            assert_eq!(r.status(), StatusCode::FOUND);
            assert_eq!(location(&r), "/signin/sent");
            took
        }
    };
    // Warm-up: connection set-up, first queries, page compilation caches.
    for i in 0..4 {
        ask(client(200), format!("warm{i}@example.com")).await;
    }
    let (mut k, mut u) = (Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        let c = client(10 + (round / 8) as u8);
        let (known, unknown) = (
            known[round % known.len()].clone(),
            format!("nobody{round}@example.com"),
        );
        // Each kind goes first in half the rounds, so neither is timed on what the other left
        // behind; the pause lets a known address's mail be made before the next ask.
        let pause = || tokio::time::sleep(Duration::from_millis(30));
        if round % 2 == 0 {
            k.push(ask(c.clone(), known).await);
            pause().await;
            u.push(ask(c, unknown).await);
        } else {
            u.push(ask(c.clone(), unknown).await);
            pause().await;
            k.push(ask(c, known).await);
        }
        pause().await;
    }
    assert!(
        eventually(Duration::from_secs(20), || async {
            sink.received().len() == ROUNDS
        })
        .await,
        "every known ask got its mail: {}",
        sink.received().len()
    );
    let (mk, mu) = (median_us(k), median_us(u));
    println!("median answer: known {mk:.0} µs, unknown {mu:.0} µs");
    // The known path must do no work the unknown path does not: the mail and its token are
    // made after the answer. A tenth of the answer time, and never below 1 ms, absorbs noise.
    let allowed = (mu * 0.10).max(1000.0);
    assert!(
        (mk - mu).abs() < allowed,
        "known {mk:.0} µs vs unknown {mu:.0} µs (allowed difference {allowed:.0} µs)"
    );
}
