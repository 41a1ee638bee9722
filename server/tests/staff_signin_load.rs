//! Staff sign-in under a flood: password hashes are bounded, so the portal stays responsive
//! and small. In a file of its own, so no other test shares the process while it measures
//! (the portal runs inside this test process, so `VmRSS` is the portal's memory).

#[path = "blackbox/support/mod.rs"]
mod support;

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use app::staff::StaffSignIn;
use leptos::server_fn::ServerFn;
use support::{PUBLIC_URL, spawn_app};

/// Resident memory of this process in MiB.
fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kib / 1024.0
}

fn client(n: u8) -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .local_address(std::net::IpAddr::from([127, 0, 0, n]))
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_parallel_bad_sign_ins_leave_livez_quick_and_memory_under_200_mib() {
    let app = spawn_app().await;
    let url = app.url(StaffSignIn::PATH);
    let post = |c: reqwest::Client, email: String| {
        let url = url.clone();
        async move {
            c.post(url)
                .header("origin", PUBLIC_URL)
                .header("accept", "text/html")
                .form(&[("email", email.as_str()), ("password", "not the password!")])
                .send()
                .await
                .unwrap()
        }
    };
    // Warm-up: the decoy hash, the pool, the page.
    post(client(250), "warm@salon.example".into()).await;
    let rss_before = rss_mib();

    // Watch /livez and the memory while the flood runs.
    let running = Arc::new(AtomicBool::new(true));
    // On a thread and runtime of its own: what is timed is the portal's answer, not the wait of
    // the watcher's own task behind the 200 client tasks this test runs beside the portal.
    let watcher = {
        let (running, livez) = (running.clone(), app.url("/livez"));
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let c = client(251);
                let (mut slowest, mut peak, mut samples) = (Duration::ZERO, 0f64, 0);
                while running.load(Ordering::SeqCst) {
                    let started = Instant::now();
                    let r = c.get(&livez).send().await.unwrap();
                    assert!(r.status().is_success());
                    slowest = slowest.max(started.elapsed());
                    peak = peak.max(rss_mib());
                    samples += 1;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                (slowest, peak, samples)
            })
        });
        tokio::task::spawn_blocking(move || thread.join().unwrap())
    };
    // 200 at once, spread over ten client addresses and as many unknown addresses, so that no
    // throttle refuses them: only the hashing permits stand between them and Argon2.
    let started = Instant::now();
    let flood: Vec<_> = (0..200)
        .map(|i| {
            tokio::spawn(post(
                client(10 + (i % 10) as u8),
                format!("flood{i}@salon.example"),
            ))
        })
        .collect();
    let (mut failed, mut busy) = (0, 0);
    for f in flood {
        let r = f.await.unwrap();
        assert_eq!(r.status(), reqwest::StatusCode::FOUND);
        match support::location(&r).as_str() {
            "/staff/signin?error=failed" => failed += 1,
            "/staff/signin?error=busy" => busy += 1,
            other => panic!("unexpected answer {other}"),
        }
    }
    let took = started.elapsed();
    running.store(false, Ordering::SeqCst);
    let (slowest, peak, samples) = watcher.await.unwrap();
    println!(
        "200 parallel bad sign-ins in {:.1} s: {failed} refused after a hash, {busy} told to try again shortly; /livez slowest {:.1} ms over {samples} samples; VmRSS {rss_before:.0} MiB before, {peak:.0} MiB peak",
        took.as_secs_f64(),
        slowest.as_secs_f64() * 1e3
    );
    assert!(samples >= 3, "the watcher ran during the flood");
    assert!(failed >= 1, "some attempts were heard");
    assert!(
        slowest < Duration::from_millis(100),
        "/livez took {slowest:?} during the flood"
    );
    assert!(peak < 200.0, "resident memory peaked at {peak:.0} MiB");
}
