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
    stop: Option<oneshot::Sender<()>>,
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
    s
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

/// Where a redirect points (panics when the response has no `Location`).
pub fn location(r: &reqwest::Response) -> String {
    r.headers()["location"]
        .to_str()
        .expect("Location is text")
        .to_owned()
}
