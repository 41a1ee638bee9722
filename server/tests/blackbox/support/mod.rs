//! Test harness: each test gets its own portal on port 0 with a fresh database (an SQLite file in
//! a temp dir, or a new PostgreSQL database when `TEST_POSTGRES_URL` is set), and, where it
//! needs mail, a real SMTP server of its own.

#![allow(dead_code)]

pub mod smtp;

use std::{collections::HashMap, time::Duration};

use portal_core::{Portal, Settings};
use sea_orm::{ConnectionTrait, Database};
use server::Application;
use tokio::sync::oneshot;

/// The origin the test portal believes it is served at.
pub const PUBLIC_URL: &str = "http://portal.test";

/// A running portal.
pub struct TestApp {
    /// `http://127.0.0.1:<port>`.
    pub address: String,
    /// The domain handle of the running server.
    pub portal: Portal,
    /// A client that does not follow redirects and sends no Origin of its own.
    pub client: reqwest::Client,
    /// Kept alive for the data directory's lifetime.
    pub data_dir: tempfile::TempDir,
    /// The SMTP server this portal delivers to unless the test named another (a portal does
    /// not start without one, outside the explicit dev mailbox).
    pub sink: smtp::SmtpSink,
    /// `http://127.0.0.1:<port>` of the metrics listener, when the test asked for one.
    pub metrics_address: Option<String>,
    stop: Option<oneshot::Sender<()>>,
}

impl TestApp {
    /// Sends the portal its shutdown signal (as SIGTERM does).
    pub fn shut_down(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

impl TestApp {
    /// Absolute URL of `path` on the test server.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// GET with an `Accept-Language` header.
    pub async fn get_in(&self, path: &str, accept_language: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .header("accept-language", accept_language)
            .send()
            .await
            .expect("request reaches the test server")
    }

    /// Form POST as a page without JavaScript sends it: same origin, `Accept: text/html` (so
    /// server functions answer with a redirect), and the browser's cookies.
    pub async fn browser_post<F: serde::Serialize + ?Sized>(
        &self,
        path: &str,
        form: &F,
        cookie: &str,
    ) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .header("origin", PUBLIC_URL)
            .header("accept", "text/html")
            .header("cookie", cookie)
            .form(form)
            .send()
            .await
            .expect("request reaches the test server")
    }

    /// Form POST as a same-origin browser would send it.
    pub async fn post_form(&self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .header("origin", PUBLIC_URL)
            .form(form)
            .send()
            .await
            .expect("request reaches the test server")
    }
}

/// The database URL for one test: SQLite in `dir`, or a brand-new PostgreSQL database.
pub async fn fresh_database_url(dir: &std::path::Path) -> String {
    match std::env::var("TEST_POSTGRES_URL") {
        Ok(base) if !base.is_empty() => {
            let name = format!("portal_test_{}", uuid::Uuid::new_v4().simple());
            let admin = Database::connect(&base)
                .await
                .expect("TEST_POSTGRES_URL is reachable");
            admin
                .execute_unprepared(&format!("CREATE DATABASE {name}"))
                .await
                .expect("can create a test database");
            let mut url = url::Url::parse(&base).expect("TEST_POSTGRES_URL is a URL");
            url.set_path(&name);
            url.to_string()
        }
        _ => format!("sqlite://{}?mode=rwc", dir.join("portal.db").display()),
    }
}

/// Settings for a test: fresh data dir and database, port 0, fast mail retries. Mail goes to
/// the discard port (nothing listens there) unless the test names an SMTP server.
pub async fn test_settings(dir: &std::path::Path) -> Settings {
    let mut env = HashMap::new();
    env.insert(
        "PORTAL_SMTP_URL".to_owned(),
        "smtp://127.0.0.1:9".to_owned(),
    );
    env.insert("PORTAL_DATA_DIR".to_owned(), dir.display().to_string());
    env.insert("LEPTOS_SITE_ADDR".to_owned(), "127.0.0.1:0".to_owned());
    env.insert("PORTAL_PUBLIC_URL".to_owned(), PUBLIC_URL.to_owned());
    env.insert("DATABASE_URL".to_owned(), fresh_database_url(dir).await);
    let mut s = Settings::from_sources(&env).expect("test settings are valid");
    s.mail_retry_base = Duration::from_millis(50);
    s.mail_retry_max = Duration::from_millis(200);
    s.mail_poll = Duration::from_millis(50);
    // Tests stop portals often; the ones about draining set their own.
    s.drain = Duration::ZERO;
    s
}

/// Runs one test on a runtime of its own, with two worker threads: its portal, background
/// jobs and clients share nothing with another test's (one test's busy moment cannot starve
/// another's background job), and what a test runs at once really runs at once.
pub fn run<F: std::future::Future>(test: F) -> F::Output {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("the test's runtime starts")
        .block_on(test)
}

/// Starts a portal with default test settings.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Starts a portal after `adjust` has changed its settings.
pub async fn spawn_app_with(adjust: impl FnOnce(&mut Settings)) -> TestApp {
    let data_dir = tempfile::tempdir().expect("temp dir");
    let mut settings = test_settings(data_dir.path()).await;
    let sink = smtp::SmtpSink::start().await;
    settings.smtp_url = Some(format!("smtp://127.0.0.1:{}", sink.port));
    adjust(&mut settings);
    let app = Application::build(settings)
        .await
        .expect("the portal starts");
    let address = format!("http://127.0.0.1:{}", app.port());
    let metrics_address = app.metrics_port().map(|p| format!("http://127.0.0.1:{p}"));
    let portal = app.portal().clone();
    let (tx, rx) = oneshot::channel();
    tokio::spawn(app.run_until(async {
        let _ = rx.await;
    }));
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        // A hung request fails the test instead of hanging the suite.
        .timeout(Duration::from_secs(20))
        .build()
        .expect("client");
    TestApp {
        address,
        portal,
        client,
        data_dir,
        sink,
        metrics_address,
        stop: Some(tx),
    }
}

/// Polls `check` until it is true or `timeout` passes; returns the last answer.
pub async fn eventually<F, Fut>(timeout: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if check().await {
            return true;
        }
        if tokio::time::Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// A customer on record with `email`, created (and sealed) the way the portal does it.
pub async fn customer(app: &TestApp, email: &str, language: &'static str) -> i64 {
    use portal_core::customers::{self, CustomerName, NewCustomer};
    let new = NewCustomer {
        name: CustomerName::parse("测试顾客").expect("valid name"),
        email: Some(portal_core::email::Email::parse(email).expect("valid test address")),
        phone: None,
        language,
        created_by: None,
        at: chrono::Utc::now(),
    };
    customers::create(&app.portal.db, &app.portal.vault, &new)
        .await
        .expect("customer created")
        .0
}

/// Gives `customer` an open membership card holding `cents` of stored value (a placeholder
/// card number: what these tests read is the balance).
pub async fn membership_holding(app: &TestApp, customer: i64, cents: i64) {
    use sea_orm::{ConnectionTrait, sea_query::Query};
    app.portal
        .db
        .execute(
            &Query::insert()
                .into_table("memberships")
                .columns([
                    "customer_id",
                    "card_number_sealed",
                    "balance_cents",
                    "points",
                    "opened_at",
                ])
                .values_panic([
                    customer.into(),
                    vec![0u8].into(),
                    cents.into(),
                    0i64.into(),
                    chrono::Utc::now().into(),
                ])
                .to_owned(),
        )
        .await
        .expect("membership stored");
}

/// Where a redirect points (panics when the response has no `Location`).
pub fn location(r: &reqwest::Response) -> String {
    r.headers()["location"]
        .to_str()
        .expect("Location is text")
        .to_owned()
}

/// The `Cookie` header of a browser signed in as `subject` just now.
pub async fn signed_in_as(app: &TestApp, subject: portal_core::sessions::Subject) -> String {
    signed_in_at(app, subject, chrono::Utc::now()).await
}

/// The `Cookie` header of a browser signed in as `subject` at `at` (to test fresh sign-ins).
pub async fn signed_in_at(
    app: &TestApp,
    subject: portal_core::sessions::Subject,
    at: chrono::DateTime<chrono::Utc>,
) -> String {
    use app::identity::Cookie;
    use portal_core::sessions::{self, Subject};
    let token = sessions::start(&app.portal.db, &app.portal.session_keys, subject, at)
        .await
        .expect("session started");
    let cookie = match subject {
        Subject::Customer(_) => Cookie::CustomerSession,
        Subject::Staff(_) => Cookie::StaffSession,
    };
    format!(
        "{}={token}",
        cookie.name(app.portal.settings.cookies_secure())
    )
}

/// A member of staff with `role` who accepted their invitation with `password`.
pub async fn staff_member(
    app: &TestApp,
    email: &str,
    role: portal_core::staff::Role,
    password: &str,
) -> i64 {
    use portal_core::{email::Email, staff::StaffName, staff::auth};
    let inv = auth::invite(
        &app.portal.db,
        &app.portal.vault,
        &Email::parse(email).expect("valid test address"),
        &StaffName::parse("员工").expect("valid name"),
        role,
        chrono::Utc::now(),
    )
    .await
    .expect("invited");
    auth::accept_invitation(
        &app.portal.db,
        &inv.token,
        password,
        "Demo Salon",
        chrono::Utc::now(),
    )
    .await
    .expect("invitation accepted")
}

/// The first `Set-Cookie` of `resp` for `name`, whole (with its attributes).
pub fn set_cookie(resp: &reqwest::Response, name: &str) -> Option<String> {
    resp.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with(&format!("{name}=")))
        .map(str::to_owned)
}

/// The `name=value` pair of the first `Set-Cookie` of `resp` for `name`.
pub fn set_cookie_pair(resp: &reqwest::Response, name: &str) -> Option<String> {
    set_cookie(resp, name).and_then(|c| c.split(';').next().map(str::to_owned))
}

/// A mail's text with quoted-printable soft line breaks and `=3D` undone (enough to find
/// links and codes in it).
pub fn mail_text(raw: &str) -> String {
    raw.replace("=\r\n", "").replace("=3D", "=")
}

/// A mail's text: every part's body with its transfer encoding (base64 or quoted-printable,
/// which lettre picks for non-ASCII text) undone, joined, so that Chinese words can be looked for.
pub fn mail_body(raw: &str) -> String {
    use base64::{Engine, engine::general_purpose::STANDARD};
    let lower = raw.to_ascii_lowercase();
    let mut out = String::new();
    for (encoding, at) in lower
        .match_indices("content-transfer-encoding: ")
        .map(|(at, m)| (&lower[at + m.len()..], at))
    {
        let Some(start) = raw[at..].find("\r\n\r\n").map(|p| at + p + 4) else {
            continue;
        };
        let end = raw[start..].find("\r\n--").map_or(raw.len(), |p| start + p);
        let body = &raw[start..end];
        if encoding.starts_with("base64") {
            let b64: String = body
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '='))
                .collect();
            out.push_str(&String::from_utf8_lossy(
                &STANDARD.decode(b64).unwrap_or_default(),
            ));
        } else if encoding.starts_with("quoted-printable") {
            out.push_str(&quoted_printable(body));
        } else {
            out.push_str(body);
        }
        out.push('\n');
    }
    if out.is_empty() {
        return raw.split_once("\r\n\r\n").map_or("", |(_, b)| b).to_owned();
    }
    out
}

fn quoted_printable(body: &str) -> String {
    let body = body.replace("=\r\n", "");
    let bytes = body.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'=', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Median of a set of durations, in microseconds.
pub fn median_us(mut d: Vec<Duration>) -> f64 {
    d.sort();
    d[d.len() / 2].as_secs_f64() * 1e6
}

/// The single number `sql` selects as `n` (`SELECT COUNT(*) AS n FROM …`).
pub async fn count(app: &TestApp, sql: &str) -> i64 {
    use sea_orm::ConnectionTrait;
    let db = &app.portal.db;
    let statement = sea_orm::Statement::from_string(db.get_database_backend(), sql.to_owned());
    let row = db.query_one_raw(statement).await.unwrap().expect("one row");
    row.try_get::<i64>("", "n").unwrap()
}

/// Every byte the database holds: the SQLite file and its WAL, or every PostgreSQL row as text
/// (bytea shows as hex there, so callers search for the hex form too).
pub async fn raw_database(app: &TestApp) -> Vec<u8> {
    use sea_orm::{DatabaseBackend, Statement};
    let db = &app.portal.db;
    match db.get_database_backend() {
        DatabaseBackend::Sqlite => {
            // A checkpoint that meets a reader or the writer of a background job (the outbox,
            // the group commit) reports "busy" and leaves old pages in the log: try again until
            // it has moved every page and emptied the log.
            for attempt in 0.. {
                let row = db
                    .query_one_raw(Statement::from_string(
                        DatabaseBackend::Sqlite,
                        "PRAGMA wal_checkpoint(TRUNCATE)".to_owned(),
                    ))
                    .await
                    .expect("checkpoint")
                    .expect("a checkpoint answers a row");
                let busy: i64 = row.try_get_by_index(0).expect("busy flag");
                if busy == 0 || attempt == 200 {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
            let mut bytes =
                std::fs::read(app.data_dir.path().join("portal.db")).expect("database file");
            if let Ok(wal) = std::fs::read(app.data_dir.path().join("portal.db-wal")) {
                bytes.extend(wal);
            }
            bytes
        }
        _ => {
            let tables = db
                .query_all_raw(Statement::from_string(
                    DatabaseBackend::Postgres,
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public'".to_owned(),
                ))
                .await
                .expect("tables");
            let mut out = Vec::new();
            for t in tables {
                let name: String = t.try_get("", "tablename").expect("table name");
                let rows = db
                    .query_all_raw(Statement::from_string(
                        DatabaseBackend::Postgres,
                        format!("SELECT t::text AS v FROM \"{name}\" t"),
                    ))
                    .await
                    .expect("rows");
                for r in rows {
                    out.extend(r.try_get::<String>("", "v").expect("row text").into_bytes());
                    out.push(b'\n');
                }
            }
            out
        }
    }
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A portal and the SMTP server it delivers to, held by the test.
pub async fn app_with_sink() -> (TestApp, smtp::SmtpSink) {
    let sink = smtp::SmtpSink::start().await;
    let url = sink.url();
    (spawn_app_with(|s| s.smtp_url = Some(url)).await, sink)
}

/// Waits until the server's own daily run (retention and the sweep of orphan files, at
/// start-up) has been claimed and has had time to finish, so that what a test does next is not
/// raced by it. The `retention_last_run` row appears before the claim (dated two days back);
/// the claim dates it now. The run leaves no mark of its end: a second covers its sweep of
/// near-empty folders and its reading of the rules.
pub async fn daily_run_passed(app: &TestApp) {
    use sea_orm::sea_query::{Expr, ExprTrait, Query};
    let db = &app.portal.db;
    assert!(
        eventually(Duration::from_secs(10), || async {
            db.query_one(
                &Query::select()
                    .column("key")
                    .from("settings")
                    .and_where(Expr::col("key").eq("retention_last_run"))
                    .and_where(
                        Expr::col("updated_at").gt(chrono::Utc::now() - chrono::Duration::hours(1)),
                    )
                    .to_owned(),
            )
            .await
            .expect("settings readable")
            .is_some()
        })
        .await,
        "the server's daily run was claimed"
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
}

/// Sends `head` and then `body` over a plain socket (for bodies reqwest will not send, such as
/// an unannounced chunked one) and returns the status line's code.
pub async fn raw_status(app: &TestApp, head: String, body: Vec<u8>) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = app.address.trim_start_matches("http://");
    let stream = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connects");
    let (mut read, mut write) = stream.into_split();
    // The server may answer before it has read the whole body: write and read side by side.
    let writer = tokio::spawn(async move {
        let _ = write.write_all(head.as_bytes()).await;
        let _ = write.write_all(&body).await;
        write
    });
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    let read_status = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            match read.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => answer.extend_from_slice(&buf[..n]),
            }
            if answer.windows(4).any(|w| w == b"\r\n\r\n") {
                break;
            }
        }
    })
    .await;
    assert!(read_status.is_ok(), "the server answers");
    drop(writer.await);
    let text = String::from_utf8_lossy(&answer);
    text.split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("an HTTP answer, got {text:?}"))
}
