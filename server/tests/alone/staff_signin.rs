//! Enumeration by timing on the staff side: a sign-in attempt answers in the same time for an
//! unknown address as for a known one, whatever the outcome. In a file of its own, so no other
//! test shares the process while it measures.
//!
//! What this measures, honestly: the server's whole answer over loopback HTTP, median of
//! interleaved asks. The paths that reach the password check each run one Argon2id
//! verification (against the account's hash or a decoy of the same cost), so their medians are
//! compared with a larger tolerance, 10 ms or a tenth (never half the hash time): enough to
//! catch a path that skips or adds a hash, not a difference of a few per cent. Delayed buckets
//! are refused
//! before any hash, for unknown addresses exactly as for known ones, and those medians are
//! compared with max(1 ms, 10 %). It cannot see differences far below a millisecond.

use crate::support;

use std::time::{Duration, Instant};

use crate::support::{PUBLIC_URL, median_us, spawn_app};
use app::staff::StaffSignIn;
use chrono::Utc;
use leptos::server_fn::ServerFn;
use portal_core::staff::{Role, auth};

const PASSWORD: &str = "scissors mirror comb 2026";

async fn staff(app: &support::TestApp, email: &str) -> i64 {
    support::staff_member(app, email, Role::Stylist, PASSWORD).await
}

fn client(n: u8) -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .local_address(std::net::IpAddr::from([127, 0, 0, n]))
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_staff_sign_in_outcome_takes_as_long_for_an_unknown_address_as_for_a_known_one() {
    let _alone = crate::alone().await;
    let app = spawn_app().await;
    const ROUNDS: usize = 40;
    // Each known account, and each unknown address, hears at most four wrong passwords, so
    // none of them is delayed, and all of them have a counter row after their first.
    let mut wrong = Vec::new();
    let mut gone = Vec::new();
    for i in 0..ROUNDS / 4 {
        wrong.push(format!("known{i}@salon.example"));
        staff(&app, &wrong[i]).await;
        gone.push(format!("gone{i}@salon.example"));
        let id = staff(&app, &gone[i]).await;
        auth::deactivate(&app.portal.db, id, Utc::now())
            .await
            .unwrap();
    }
    // One known and one unknown address, both delayed by five failures from elsewhere.
    staff(&app, "delayed@salon.example").await;
    for email in ["delayed@salon.example", "delayed.nobody@salon.example"] {
        for i in 0..auth::FREE_FAILURES {
            let ip = format!("192.0.2.{i}");
            let r = auth::sign_in_password(&app.portal, email, "wrong!!", &ip, Utc::now()).await;
            assert!(matches!(r, Err(auth::AuthError::Failed)));
        }
    }
    let url = app.url(StaffSignIn::PATH);
    let ask = |c: reqwest::Client, email: String, password: &'static str, expect: &'static str| {
        let url = url.clone();
        async move {
            let started = Instant::now();
            let r = c
                .post(url)
                .header("origin", PUBLIC_URL)
                .header("accept", "text/html")
                .form(&[("email", email.as_str()), ("password", password)])
                .send()
                .await
                .unwrap();
            let took = started.elapsed();
            assert_eq!(support::location(&r), expect, "{email}");
            took
        }
    };
    const FAILED: &str = "/staff/signin?error=failed";
    const WAIT: &str = "/staff/signin?error=wait";
    for i in 0..3 {
        ask(client(200), format!("warm{i}@salon.example"), "x", FAILED).await;
    }
    let (mut unknown, mut known, mut deactivated) = (Vec::new(), Vec::new(), Vec::new());
    let (mut delayed_known, mut delayed_unknown) = (Vec::new(), Vec::new());
    let pause = || tokio::time::sleep(Duration::from_millis(20));
    for round in 0..ROUNDS {
        // Three failures per round on the client address: eight rounds stay under its budget.
        let c = client(10 + (round / 8) as u8);
        let n = round % wrong.len();
        // The three hashed paths take turns at going first, second and third.
        for k in 0..3 {
            match (round + k) % 3 {
                0 => {
                    let email = format!("nobody{n}@salon.example");
                    unknown.push(ask(c.clone(), email, PASSWORD, FAILED).await);
                }
                1 => known.push(ask(c.clone(), wrong[n].clone(), "wrong password!!", FAILED).await),
                // The right password of a deactivated account: refused like any failure.
                _ => deactivated.push(ask(c.clone(), gone[n].clone(), PASSWORD, FAILED).await),
            }
            pause().await;
        }
        // Cheap, so asked three times each per round; which goes first alternates, so neither
        // always follows a hash.
        for j in 0..6 {
            let known_first = (round + j) % 2 == 0;
            let (email, into) = if known_first {
                ("delayed@salon.example", &mut delayed_known)
            } else {
                ("delayed.nobody@salon.example", &mut delayed_unknown)
            };
            into.push(ask(c.clone(), email.into(), PASSWORD, WAIT).await);
            pause().await;
        }
    }
    let (mu, mk, md) = (median_us(unknown), median_us(known), median_us(deactivated));
    let (mdk, mdu) = (median_us(delayed_known), median_us(delayed_unknown));
    println!(
        "median answer: unknown {mu:.0} µs, wrong password {mk:.0} µs, deactivated {md:.0} µs; delayed known {mdk:.0} µs, delayed unknown {mdu:.0} µs"
    );
    // One Argon2 run is most of these answers, and on a shared two-core machine its time moves
    // by several milliseconds from ask to ask, so 10 ms (or a tenth, if more) is allowed, but
    // never half the hash: what this must catch is a path that skips or adds a hash.
    let hashed = (mu * 0.10).max(10_000.0).min(mu * 0.5);
    for (what, m) in [("wrong password", mk), ("deactivated", md)] {
        assert!(
            (m - mu).abs() < hashed,
            "{what} {m:.0} µs vs unknown {mu:.0} µs (allowed {hashed:.0} µs)"
        );
    }
    let refused = (mdu * 0.10).max(1000.0);
    assert!(
        (mdk - mdu).abs() < refused,
        "delayed known {mdk:.0} µs vs delayed unknown {mdu:.0} µs (allowed {refused:.0} µs)"
    );
    // Refused before hashing, really: much faster than the hashed paths.
    assert!(mdk * 2.0 < mu, "delayed {mdk:.0} µs vs hashed {mu:.0} µs");
}
