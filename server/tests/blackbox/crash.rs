//! A crash in the middle (issue 18, item 5): the portal process is aborted, as `kill -9` would
//! stop it, at each step of an export and of an erasure (`PORTAL_FAILPOINT`, honoured by debug
//! builds only), then started again; the next start finishes the work, with no half state and
//! no file left behind.

use std::{
    path::Path,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use chrono::Utc;
use portal_core::{
    Portal,
    customers::{self, CustomerName, NewCustomer},
    email::Email,
    requests::{self, Details, Kind, Submitter, export},
};
use sea_orm::{ConnectionTrait, Statement};

use crate::support::{PUBLIC_URL, test_settings};

/// The files in `exports/`, sorted.
fn export_files(data: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(data.join("exports"))
        .map(|d| {
            d.flatten()
                .filter_map(|e| e.file_name().to_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

async fn number(p: &Portal, sql: &str) -> i64 {
    let st = Statement::from_string(p.db.get_database_backend(), sql.to_owned());
    p.db.query_one_raw(st)
        .await
        .unwrap()
        .and_then(|r| r.try_get_by_index::<i64>(0).ok())
        .unwrap_or(-1)
}

async fn status_of(p: &Portal, request: i64) -> String {
    let st = Statement::from_string(
        p.db.get_database_backend(),
        format!("SELECT status FROM requests WHERE id = {request}"),
    );
    p.db.query_one_raw(st)
        .await
        .unwrap()
        .and_then(|r| r.try_get_by_index::<String>(0).ok())
        .unwrap_or_default()
}

/// `portal serve` on this data directory and database, with `failpoint` armed (or none).
fn serve(p: &Portal, data: &Path, failpoint: Option<&str>) -> std::process::Child {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_portal"));
    cmd.arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", &p.settings.database_url)
        .env("PORTAL_DATA_DIR", data)
        .env("PORTAL_PUBLIC_URL", PUBLIC_URL)
        .env("PORTAL_SMTP_URL", "smtp://127.0.0.1:9")
        .env("LEPTOS_SITE_ADDR", "127.0.0.1:0")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if let Some(f) = failpoint {
        cmd.env("PORTAL_FAILPOINT", f);
    }
    cmd.spawn().expect("portal serve starts")
}

/// Runs the portal with `failpoint` armed until it aborts there.
fn crash_at(p: &Portal, data: &Path, failpoint: &str) {
    let mut child = serve(p, data, Some(failpoint));
    let started = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if started.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("the portal never reached {failpoint}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert!(!status.success(), "{failpoint}: the process was aborted");
    assert!(
        err.contains(&format!("failpoint {failpoint}: aborting")),
        "{failpoint}: aborted at the failpoint, not elsewhere: {err}"
    );
}

/// Starts the portal again (no failpoint) and waits until `done` holds; then stops it.
async fn restart_until<F, Fut>(p: &Portal, data: &Path, what: &str, mut done: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let mut child = serve(p, data, None);
    let started = Instant::now();
    while !done().await {
        assert!(
            child.try_wait().unwrap().is_none(),
            "{what}: the restarted portal stopped"
        );
        if started.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("{what}: the restarted portal did not finish the work");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// A fresh portal (database and data directory) with one customer and one approved request of
/// `kind`; the portal handle stays open beside the processes the test starts.
async fn with_approved(dir: &Path, kind: Kind) -> (Portal, i64, i64) {
    let p = Portal::open(test_settings(dir).await).await.unwrap();
    let new = NewCustomer {
        name: CustomerName::parse("测试顾客").unwrap(),
        email: Some(Email::parse("crash.test@example.com").unwrap()),
        phone: None,
        language: "zh",
        created_by: None,
        at: Utc::now(),
    };
    let customer = customers::create(&p.db, &p.vault, &new).await.unwrap().0;
    let request = approved(&p, customer, kind).await;
    (p, customer, request)
}

async fn approved(p: &Portal, customer: i64, kind: Kind) -> i64 {
    let id = requests::submit(
        p,
        customer,
        kind,
        &Details::default(),
        Submitter::Customer,
        Utc::now(),
    )
    .await
    .unwrap()
    .id;
    p.db.execute_unprepared(&format!(
        "UPDATE requests SET status = 'approved' WHERE id = {id}"
    ))
    .await
    .unwrap();
    id
}

#[test]
fn an_export_interrupted_at_any_step_is_finished_by_the_next_start_with_one_whole_file() {
    crate::support::run(async {
        for failpoint in ["export.writing", "export.written", "export.committed"] {
            let dir = tempfile::tempdir().unwrap();
            let data = dir.path();
            let (p, customer, request) = with_approved(data, Kind::Access).await;

            crash_at(&p, data, failpoint);
            // What the crash left: a copy still under its temporary name, the request done
            // only when the crash came after the commit.
            let left = export_files(data);
            assert_eq!(left.len(), 1, "{failpoint}: {left:?}");
            assert!(left[0].ends_with(".zip.part"), "{failpoint}: {left:?}");
            let expected = if failpoint == "export.committed" {
                "done"
            } else {
                "approved"
            };
            assert_eq!(status_of(&p, request).await, expected, "{failpoint}");

            restart_until(&p, data, failpoint, || async {
                let files = export_files(data);
                status_of(&p, request).await == "done"
                    && files.len() == 1
                    && !files[0].ends_with(".part")
            })
            .await;
            let rows = number(
                &p,
                &format!("SELECT COUNT(*) FROM exports WHERE request_id = {request}"),
            )
            .await;
            assert_eq!(rows, 1, "{failpoint}: one copy for the request");
            let files = export_files(data);
            let named = number(
                &p,
                &format!(
                    "SELECT COUNT(*) FROM exports WHERE file_name = '{}' AND request_id = {request}",
                    files[0]
                ),
            )
            .await;
            assert_eq!(named, 1, "{failpoint}: the one file is the row's");
            // The copy is whole: it opens under the customer's key as a ZIP with its page.
            let bytes = export::open_file(&p, customer, &data.join("exports").join(&files[0]))
                .await
                .unwrap();
            let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes.to_vec())).unwrap();
            assert!(zip.by_name("index.html").is_ok(), "{failpoint}");
        }
    })
}

#[test]
fn an_erasure_interrupted_at_any_step_is_finished_by_the_next_start_and_leaves_no_file() {
    crate::support::run(async {
        for failpoint in ["erasure.erased", "erasure.committed"] {
            let dir = tempfile::tempdir().unwrap();
            let data = dir.path();
            let (p, customer, copy) = with_approved(data, Kind::Access).await;
            // The customer has a copy on disk, which the erasure must take with it.
            requests::fulfil::run_once(&p, Utc::now()).await.unwrap();
            assert_eq!(status_of(&p, copy).await, "done");
            assert_eq!(export_files(data).len(), 1);
            let request = approved(&p, customer, Kind::Deletion).await;

            crash_at(&p, data, failpoint);
            let customers_left = number(
                &p,
                &format!("SELECT COUNT(*) FROM customers WHERE id = {customer}"),
            )
            .await;
            if failpoint == "erasure.erased" {
                // Rolled back with the process: nothing of it happened.
                assert_eq!(status_of(&p, request).await, "approved");
                assert_eq!(customers_left, 1);
            } else {
                // Committed, but the files were still to go.
                assert_eq!(status_of(&p, request).await, "done");
                assert_eq!(customers_left, 0);
            }
            assert_eq!(
                export_files(data).len(),
                1,
                "{failpoint}: the copy is still there"
            );

            restart_until(&p, data, failpoint, || async {
                status_of(&p, request).await == "done" && export_files(data).is_empty()
            })
            .await;
            for table in ["exports", "consent_states", "one_time_tokens"] {
                assert_eq!(
                    number(
                        &p,
                        &format!("SELECT COUNT(*) FROM {table} WHERE customer_id = {customer}")
                    )
                    .await,
                    0,
                    "{failpoint}: {table}"
                );
            }
            assert_eq!(
                number(
                    &p,
                    &format!("SELECT COUNT(*) FROM customers WHERE id = {customer}"),
                )
                .await,
                0,
                "{failpoint}: the customer is erased"
            );
            assert!(
                matches!(
                    portal_core::audit::verify(&p.db).await,
                    Ok(portal_core::audit::Verdict::Whole { .. })
                ),
                "{failpoint}: the audit chain is whole"
            );
        }
    })
}
