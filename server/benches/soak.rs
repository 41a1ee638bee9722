//! `make soak` (issue 18, item 4): two release replicas on one PostgreSQL behind nginx, an SMTP
//! sink, load through the proxy, and faults injected while customers use it. Then it checks,
//! from the database and the sink, that nothing was lost or done twice, prints one table, and
//! exits non-zero on any loss or duplicate.
//!
//! Everything is started here, on free loopback ports, in a temporary directory: PostgreSQL (a
//! cluster of its own, made with Debian's `initdb`, so restarting it disturbs nothing else), the
//! release `portal` twice (one data directory, as `deploy/portal@.service` shares it), nginx with
//! the upstream and `location` blocks of `deploy/nginx.conf` (what is deployed is what is
//! tested; TLS is left out, the loopback needs none), and an SMTP server that can be taken down.
//!
//! Load: wrk (with Lua scripts) for the steady traffic (customers reading "My data" and
//! switching consents, marketing's single and 10,000-contact checks, sign-in requests from
//! visitors), and virtual customers in this program for the journeys that need a mail read in
//! between: sign in by link or code, read "My data", switch a consent, file a request; a staff
//! member approves what comes in. Faults, in turn: the same sign-in link spent at both replicas at
//! once, `kill -9` of one replica (restarted after, as systemd's `Restart=` would), PostgreSQL
//! restarted, the SMTP server down (2 minutes).
//!
//! `SOAK_SHORT=1` runs the same checks with 20 s of load and a 10 s mail outage (CI, `make test`).

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use app::{
    me::{SubmitRequest, consents::SetConsent},
    signin::{ConfirmCode, ConfirmLink, RequestSignIn},
    staff::requests::DecideRequest,
};
use chrono::Utc;
use leptos::server_fn::ServerFn;
use portal_core::{
    Portal, Settings,
    apikeys::{self, Scope},
    sessions::{self, Subject},
};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement};

/// Demo customers 1 to `JOURNEY_CUSTOMERS` take part in the load; the last two are kept for the
/// throttle and the link-race checks.
const JOURNEY_CUSTOMERS: i64 = 150;
const THROTTLED: i64 = 200;
const RACED: i64 = 199;

/// When each thing happens, from the start of the load.
struct Plan {
    load: Duration,
    link_race: Duration,
    kill: Duration,
    restart: Duration,
    pg_restart: Duration,
    smtp_down: Duration,
    smtp_outage: Duration,
    /// How long a journey waits for its sign-in mail before it goes on with its last session.
    mail_wait: Duration,
    /// How long the outbox and the fulfilment queue may take to empty after the load.
    settle: Duration,
    customers: usize,
}

fn plan() -> Plan {
    if std::env::var("SOAK_SHORT").is_ok_and(|v| !v.is_empty() && v != "0") {
        Plan {
            load: Duration::from_secs(20),
            link_race: Duration::from_secs(2),
            kill: Duration::from_secs(5),
            restart: Duration::from_secs(8),
            pg_restart: Duration::from_secs(10),
            smtp_down: Duration::from_secs(13),
            smtp_outage: Duration::from_secs(10),
            mail_wait: Duration::from_secs(5),
            settle: Duration::from_secs(120),
            customers: 3,
        }
    } else {
        Plan {
            load: Duration::from_secs(60),
            link_race: Duration::from_secs(3),
            kill: Duration::from_secs(10),
            restart: Duration::from_secs(18),
            pg_restart: Duration::from_secs(25),
            smtp_down: Duration::from_secs(35),
            smtp_outage: Duration::from_secs(120),
            mail_wait: Duration::from_secs(10),
            settle: Duration::from_secs(300),
            customers: 4,
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn chmod(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

fn must(c: &mut Command, what: &str) {
    let out = c.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

// ---------------------------------------------------------------- PostgreSQL

/// A PostgreSQL cluster of the soak's own (Debian's binaries), on a free port.
struct Postgres {
    bin: PathBuf,
    data: PathBuf,
    port: u16,
    as_postgres: bool,
    /// Made fresh for each soak: other users of the machine cannot reach this cluster.
    password: String,
}

impl Postgres {
    fn command(&self, program: &str) -> Command {
        let program = self.bin.join(program);
        if self.as_postgres {
            // PostgreSQL refuses to run as root.
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(program);
            c
        } else {
            Command::new(program)
        }
    }

    fn start(dir: &Path) -> Self {
        let versions = std::fs::read_dir("/usr/lib/postgresql")
            .expect("PostgreSQL from Debian's packages (`make soak` installs it)");
        let mut versions: Vec<u32> = versions
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
            .collect();
        versions.sort_unstable();
        let version = versions.last().expect("a PostgreSQL version");
        let pg = Self {
            bin: PathBuf::from(format!("/usr/lib/postgresql/{version}/bin")),
            data: dir.join("pgdata"),
            port: free_port(),
            as_postgres: is_root(),
            password: uuid::Uuid::new_v4().simple().to_string(),
        };
        std::fs::create_dir_all(&pg.data).expect("pgdata");
        if pg.as_postgres {
            must(
                Command::new("chown").arg("postgres:").arg(&pg.data),
                "chown pgdata",
            );
        }
        chmod(&pg.data, 0o700);
        // Readable by PostgreSQL's user only, and gone once initdb has read it.
        let pwfile = dir.join("pwfile");
        std::fs::write(&pwfile, &pg.password).expect("pwfile");
        chmod(&pwfile, 0o600);
        if pg.as_postgres {
            must(
                Command::new("chown").arg("postgres:").arg(&pwfile),
                "chown pwfile",
            );
        }
        must(
            pg.command("initdb")
                .args(["-U", "postgres", "--auth=scram-sha-256", "-E", "UTF8"])
                .arg("--no-sync")
                .arg(format!("--pwfile={}", pwfile.display()))
                .arg("-D")
                .arg(&pg.data),
            "initdb",
        );
        let _ = std::fs::remove_file(&pwfile);
        let opts = format!(
            "-p {} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c max_connections=100",
            pg.port
        );
        must(
            pg.command("pg_ctl")
                .args(["-w", "-D"])
                .arg(&pg.data)
                .arg("-l")
                .arg(pg.data.join("server.log"))
                .args(["-o", &opts, "start"]),
            "pg_ctl start",
        );
        pg
    }

    fn url(&self, db: &str) -> String {
        format!(
            "postgres://postgres:{}@127.0.0.1:{}/{db}",
            self.password, self.port
        )
    }

    /// A fast restart: every connection is cut, as when the server is restarted for an update.
    fn restart(&self) {
        must(
            self.command("pg_ctl")
                .args(["-w", "-m", "fast", "-D"])
                .arg(&self.data)
                .arg("-l")
                .arg(self.data.join("server.log"))
                .arg("restart"),
            "pg_ctl restart",
        );
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = self
            .command("pg_ctl")
            .args(["-m", "immediate", "-D"])
            .arg(&self.data)
            .arg("stop")
            .output();
    }
}

// ---------------------------------------------------------------- the SMTP sink

/// The tests' SMTP server: it can be taken down and brought back on its port.
#[allow(dead_code)]
#[path = "../tests/blackbox/support/smtp.rs"]
mod smtp;

/// Shared helpers of the benches.
#[allow(dead_code)]
mod common;

/// A mail's text with quoted-printable soft line breaks and `=3D` undone.
fn mail_text(raw: &str) -> String {
    raw.replace("=\r\n", "").replace("=3D", "=")
}

// ---------------------------------------------------------------- the replicas

struct Replica {
    name: &'static str,
    port: u16,
    bin: PathBuf,
    env: HashMap<String, String>,
    log: PathBuf,
    child: Option<Child>,
}

impl Replica {
    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("replica log");
        let err = log.try_clone().expect("replica log");
        let child = Command::new(&self.bin)
            .arg("serve")
            .env_clear()
            .envs(&self.env)
            .env("LEPTOS_SITE_ADDR", format!("127.0.0.1:{}", self.port))
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(err))
            .spawn()
            .expect("starts a replica");
        self.child = Some(child);
    }

    /// `kill -9`: no drain, no release of claims, nothing flushed.
    fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        self.kill9();
    }
}

async fn healthy(client: &reqwest::Client, url: &str) -> bool {
    client
        .get(url)
        .timeout(Duration::from_secs(2))
        .send()
        .await
        .is_ok_and(|r| r.status().is_success())
}

async fn wait_healthy(client: &reqwest::Client, url: &str, within: Duration) -> Option<Duration> {
    let started = Instant::now();
    while started.elapsed() < within {
        if healthy(client, url).await {
            return Some(started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    None
}

// ---------------------------------------------------------------- nginx

/// The text between `open` and the next closing brace after it (the blocks used have none
/// nested).
fn block<'a>(conf: &'a str, open: &str) -> &'a str {
    let start = conf
        .find(open)
        .unwrap_or_else(|| panic!("deploy/nginx.conf has no `{open}`"));
    let end = conf[start..].find('}').expect("a closing brace") + start + 1;
    &conf[start..end]
}

/// A child process stopped when the soak ends, however it ends.
struct Stopped(Child);

impl Drop for Stopped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_nginx(dir: &Path, port: u16, a: u16, b: u16) -> Stopped {
    let deployed =
        std::fs::read_to_string(common::root().join("deploy/nginx.conf")).expect("nginx.conf");
    let upstream = block(&deployed, "upstream portal {")
        .replace("127.0.0.1:3001", &format!("127.0.0.1:{a}"))
        .replace("127.0.0.1:3002", &format!("127.0.0.1:{b}"));
    let location = block(&deployed, "location / {");
    let tmp = dir.join("tmp");
    std::fs::create_dir_all(&tmp).expect("nginx tmp");
    chmod(&tmp, 0o777);
    let d = dir.display();
    let user = if is_root() {
        "user nobody nogroup;\n"
    } else {
        ""
    };
    let conf = format!(
        "{user}worker_processes 1;\ndaemon off;\npid {d}/nginx.pid;\nerror_log {d}/error.log warn;\n\
         events {{ worker_connections 1024; }}\n\
         http {{\n  access_log off;\n  server_tokens off;\n  client_max_body_size 5m;\n\
         client_body_temp_path {d}/tmp/body;\n  proxy_temp_path {d}/tmp/proxy;\n\
         fastcgi_temp_path {d}/tmp/fastcgi;\n  uwsgi_temp_path {d}/tmp/uwsgi;\n  scgi_temp_path {d}/tmp/scgi;\n\
         {upstream}\n  server {{\n    listen 127.0.0.1:{port};\n    {location}\n  }}\n}}\n"
    );
    let path = dir.join("nginx.conf");
    std::fs::write(&path, conf).expect("writes nginx.conf");
    Command::new("nginx")
        .arg("-e")
        .arg(dir.join("error.log"))
        .arg("-p")
        .arg(dir)
        .arg("-c")
        .arg(&path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map(Stopped)
        .expect("starts nginx (`make soak` installs it)")
}

// ---------------------------------------------------------------- what the load saw

#[derive(Default)]
struct Tally {
    /// Latencies in ms by route.
    latencies: BTreeMap<String, Vec<f64>>,
    /// Errors by kind.
    errors: BTreeMap<String, u64>,
    /// Filings answered "submitted" or "merged", by (customer, kind).
    filed: HashMap<(i64, String), u64>,
    sign_ins: u64,
    mail_waits_given_up: u64,
}

#[derive(Clone)]
struct Shared {
    tally: Arc<Mutex<Tally>>,
    client: reqwest::Client,
    proxy: String,
    origin: String,
    sink: Arc<smtp::SmtpSink>,
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicU64>,
}

impl Shared {
    fn took(&self, route: &str, started: Instant) {
        self.sent.fetch_add(1, Ordering::Relaxed);
        self.tally
            .lock()
            .expect("tally")
            .latencies
            .entry(route.to_owned())
            .or_default()
            .push(started.elapsed().as_secs_f64() * 1000.0);
    }

    fn error(&self, route: &str, kind: String) {
        self.sent.fetch_add(1, Ordering::Relaxed);
        *self
            .tally
            .lock()
            .expect("tally")
            .errors
            .entry(format!("{route}: {kind}"))
            .or_default() += 1;
    }

    /// A form post as a browser without JavaScript sends it; the answer's Location and cookies.
    async fn post(
        &self,
        route: &str,
        base: &str,
        path: &str,
        form: &[(&str, &str)],
        cookie: &str,
    ) -> Option<(String, Vec<String>)> {
        let started = Instant::now();
        let r = self
            .client
            .post(format!("{base}{path}"))
            .header("origin", &self.origin)
            .header("accept", "text/html")
            .header("cookie", cookie)
            .form(form)
            .send()
            .await;
        match r {
            Ok(r) if r.status().is_redirection() => {
                self.took(route, started);
                let location = r
                    .headers()
                    .get("location")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                let cookies = r
                    .headers()
                    .get_all("set-cookie")
                    .iter()
                    .filter_map(|v| v.to_str().ok())
                    .map(|v| v.split(';').next().unwrap_or_default().to_owned())
                    .collect();
                Some((location, cookies))
            }
            Ok(r) => {
                self.error(route, format!("status {}", r.status().as_u16()));
                None
            }
            Err(e) => {
                self.error(route, error_kind(&e));
                None
            }
        }
    }
}

fn error_kind(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timeout".into()
    } else if e.is_connect() {
        "connection refused".into()
    } else {
        "connection cut".into()
    }
}

fn cookie_named<'a>(cookies: &'a [String], name: &str) -> Option<&'a str> {
    cookies
        .iter()
        .find(|c| c.starts_with(&format!("{name}=")) && c.len() > name.len() + 1)
        .map(String::as_str)
}

/// Waits for a mail to `to` beyond the first `seen` of them; its text.
async fn mail_to(sink: &smtp::SmtpSink, to: &str, seen: usize, within: Duration) -> Option<String> {
    let started = Instant::now();
    while started.elapsed() < within {
        if let Some(m) = sink
            .received()
            .into_iter()
            .filter(|m| m.is_to(to))
            .nth(seen)
        {
            return Some(mail_text(&m.data));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    None
}

fn link_token(text: &str) -> Option<String> {
    let at = text.find("/signin/link?t=")? + "/signin/link?t=".len();
    Some(text[at..].chars().take(43).collect())
}

fn code(text: &str) -> Option<String> {
    let after = text.split("where you asked: ").nth(1)?;
    let code: String = after.chars().take(6).collect();
    code.chars().all(|c| c.is_ascii_digit()).then_some(code)
}

fn email_of(customer: i64) -> String {
    format!("customer{customer:03}@example.com")
}

/// Signs a demo customer in through the proxy, by link or by code; their session cookie.
async fn sign_in(s: &Shared, customer: i64, by_code: bool, wait: Duration) -> Option<String> {
    let email = email_of(customer);
    let seen = s.sink.received().iter().filter(|m| m.is_to(&email)).count();
    let (location, cookies) = s
        .post(
            "sign-in request",
            &s.proxy,
            RequestSignIn::PATH,
            &[("email", &email)],
            "",
        )
        .await?;
    if location != "/signin/sent" {
        s.error("sign-in request", format!("answered {location}"));
        return None;
    }
    let pending = cookie_named(&cookies, "signin_pending")?.to_owned();
    let Some(text) = mail_to(&s.sink, &email, seen, wait).await else {
        s.tally.lock().expect("tally").mail_waits_given_up += 1;
        return None;
    };
    let (route, answer) = if by_code {
        let code = code(&text)?;
        (
            "sign-in by code",
            s.post(
                "sign-in by code",
                &s.proxy,
                ConfirmCode::PATH,
                &[("code", &code)],
                &pending,
            )
            .await?,
        )
    } else {
        let token = link_token(&text)?;
        (
            "sign-in by link",
            s.post(
                "sign-in by link",
                &s.proxy,
                ConfirmLink::PATH,
                &[("t", &token)],
                "",
            )
            .await?,
        )
    };
    match cookie_named(&answer.1, "portal_session") {
        Some(c) if answer.0 == "/me" => {
            s.tally.lock().expect("tally").sign_ins += 1;
            Some(c.to_owned())
        }
        _ => {
            s.error(route, format!("answered {}", answer.0));
            None
        }
    }
}

/// One virtual customer: sign in, read "My data", switch a consent, file a request; again.
async fn customer_journeys(s: Shared, vu: usize, vus: usize, wait: Duration) {
    let kinds = ["question", "objection", "access"];
    let mut session: Option<(i64, String)> = None;
    let mut n = 0usize;
    let errors = || s.tally.lock().map_or(0, |t| t.errors.values().sum::<u64>());
    while !s.stop.load(Ordering::Relaxed) {
        // A person whose page failed waits a moment before trying again.
        let before = errors();
        n += 1;
        let customer = 1 + ((vu + n * vus) as i64 % JOURNEY_CUSTOMERS);
        if let Some(cookie) = sign_in(&s, customer, n.is_multiple_of(2), wait).await {
            session = Some((customer, cookie));
        }
        let Some((customer, cookie)) = session.clone() else {
            tokio::time::sleep(Duration::from_millis(500)).await;
            continue;
        };
        let started = Instant::now();
        match s
            .client
            .get(format!("{}/me", s.proxy))
            .header("cookie", &cookie)
            .header("accept", "text/html")
            .send()
            .await
        {
            Ok(r) if r.status().is_success() => s.took("/me", started),
            Ok(r) => s.error("/me", format!("status {}", r.status().as_u16())),
            Err(e) => s.error("/me", error_kind(&e)),
        }
        let on = if n.is_multiple_of(2) { "1" } else { "0" };
        s.post(
            "consent switch",
            &s.proxy,
            SetConsent::PATH,
            &[("purpose", "marketing_email"), ("on", on)],
            &cookie,
        )
        .await;
        let kind = kinds[n % kinds.len()];
        let note = format!("soak {vu}/{n}");
        if let Some((location, _)) = s
            .post(
                "filing a request",
                &s.proxy,
                SubmitRequest::PATH,
                &[("kind", kind), ("note", &note)],
                &cookie,
            )
            .await
            && location.contains("done=")
        {
            *s.tally
                .lock()
                .expect("tally")
                .filed
                .entry((customer, kind.to_owned()))
                .or_default() += 1;
        }
        if errors() > before {
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}

/// A privacy officer approving what customers file, through the proxy.
async fn staff_decides(s: Shared, db: DatabaseConnection, cookie: String) {
    while !s.stop.load(Ordering::Relaxed) {
        let ids = rows(
            &db,
            "SELECT id FROM requests WHERE status = 'submitted' AND kind IN ('access', 'objection') \
             ORDER BY id LIMIT 5",
        )
        .await;
        for id in ids {
            let id = id.to_string();
            s.post(
                "staff deciding",
                &s.proxy,
                DecideRequest::PATH,
                &[("id", &id), ("decision", "approve")],
                &cookie,
            )
            .await;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

async fn rows(db: &DatabaseConnection, sql: &str) -> Vec<i64> {
    match db
        .query_all_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
    {
        Ok(rows) => rows
            .iter()
            .filter_map(|r| r.try_get_by_index::<i64>(0).ok())
            .collect(),
        Err(_) => Vec::new(),
    }
}

async fn one(db: &DatabaseConnection, sql: &str) -> i64 {
    rows(db, sql).await.first().copied().unwrap_or(-1)
}

// ---------------------------------------------------------------- wrk

struct WrkRun {
    name: &'static str,
    child: Child,
}

/// Appended to every wrk script: answers counted by status, printed at the end as
/// `status N: count`.
const STATUSES: &str = "local threads = {}\nfunction setup(thread) table.insert(threads, thread) end\n\
statuses = {}\nfunction response(status, headers, body) statuses[status] = (statuses[status] or 0) + 1 end\n\
function done(summary, latency, requests)\n  for _, t in ipairs(threads) do\n\
    for k, v in pairs(t:get('statuses')) do io.write(string.format('status %d: %d\\n', k, v)) end\n  end\nend\n";

fn lua(dir: &Path, name: &str, body: &str) -> PathBuf {
    common::lua(dir, name, &format!("{body}\n{STATUSES}"))
}

fn wrk(name: &'static str, url: &str, script: &Path, connections: u32, seconds: u64) -> WrkRun {
    let child = Command::new("wrk")
        .args([
            "-t1".to_owned(),
            format!("-c{connections}"),
            format!("-d{seconds}s"),
            "--timeout".to_owned(),
            "10s".to_owned(),
            "--latency".to_owned(),
            "-s".to_owned(),
        ])
        .arg(script)
        .arg(url)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("runs wrk (`make soak` installs it)");
    WrkRun { name, child }
}

/// Requests, p50, p99 and errors by kind from one wrk report.
fn parse_wrk(out: &str) -> (u64, f64, f64, Vec<(String, u64)>) {
    let ms = |v: &str| -> f64 {
        let (n, unit) = v.split_at(v.find(|c: char| c.is_alphabetic()).unwrap_or(v.len()));
        let n: f64 = n.parse().unwrap_or(f64::NAN);
        match unit {
            "us" => n / 1000.0,
            "ms" => n,
            "s" => n * 1000.0,
            "m" => n * 60_000.0,
            _ => f64::NAN,
        }
    };
    let (mut requests, mut p50, mut p99, mut errors) = (0, f64::NAN, f64::NAN, vec![]);
    for line in out.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            [n, "requests", "in", ..] => requests = n.parse().unwrap_or(0),
            ["50%", v] => p50 = ms(v),
            ["99%", v] => p99 = ms(v),
            ["status", code, n] => {
                let code = code.trim_end_matches(':');
                if !(code.starts_with('2') || code.starts_with('3')) {
                    errors.push((format!("status {code}"), n.parse().unwrap_or(0)));
                }
            }
            ["Socket", "errors:", rest @ ..] => {
                // "connect 0, read 0, write 0, timeout 0"
                for pair in rest.join(" ").split(", ") {
                    if let Some((kind, n)) = pair.rsplit_once(' ')
                        && let Ok(n) = n.parse::<u64>()
                        && n > 0
                    {
                        errors.push((format!("socket {kind}"), n));
                    }
                }
            }
            _ => {}
        }
    }
    (requests, p50, p99, errors)
}

fn percentile(v: &mut [f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    v[((v.len() as f64 * p).ceil() as usize).clamp(1, v.len()) - 1]
}

// ---------------------------------------------------------------- the soak

struct Check {
    what: String,
    ok: bool,
}

#[tokio::main]
async fn main() {
    let plan = plan();
    for tool in ["wrk", "nginx", "runuser"] {
        if Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .output()
            .map_or(true, |o| !o.status.success())
            && (tool != "runuser" || is_root())
        {
            panic!("{tool} is missing: `make soak` installs it from Debian's packages");
        }
    }
    let bin = std::env::var_os("SOAK_PORTAL")
        .map(PathBuf::from)
        .unwrap_or_else(|| common::target_dir().join("release/portal"));
    assert!(
        bin.exists(),
        "{} is missing: run `make build-release` first",
        bin.display()
    );
    let started_all = Instant::now();
    let dir = tempfile::tempdir().expect("temp dir");
    chmod(dir.path(), 0o755);

    // PostgreSQL, the sink, the shared data directory with the demo salon.
    let pg = Postgres::start(dir.path());
    let admin = Database::connect(pg.url("postgres"))
        .await
        .expect("connects to the soak's PostgreSQL");
    admin
        .execute_unprepared("CREATE DATABASE portal")
        .await
        .expect("creates the soak database");
    drop(admin);
    let database_url = pg.url("portal");
    let sink = Arc::new(smtp::SmtpSink::start().await);
    // A mail server takes a moment per message: claims are held while it does.
    sink.slow_down(Duration::from_millis(5));
    let proxy_port = free_port();
    let origin = format!("http://127.0.0.1:{proxy_port}");
    let data = dir.path().join("data");
    let site = std::env::var("LEPTOS_SITE_ROOT")
        .unwrap_or_else(|_| common::root().join("target/site").display().to_string());
    let mut env: HashMap<String, String> = [
        ("PORTAL_DATA_DIR", data.display().to_string()),
        ("DATABASE_URL", database_url.clone()),
        ("LEPTOS_SITE_ROOT", site),
        ("PORTAL_PUBLIC_URL", origin.clone()),
        ("PORTAL_SMTP_URL", format!("smtp://127.0.0.1:{}", sink.port)),
        ("PORTAL_TRUSTED_PROXIES", "1".to_owned()),
        ("PORTAL_DRAIN_SECONDS", "1".to_owned()),
        // Every visitor of the soak comes from 127.0.0.1: the per-client limit would refuse
        // them all. The per-address limit (5 an hour) is the one checked across replicas.
        ("PORTAL_SIGNIN_PER_IP_PER_HOUR", "100000".to_owned()),
        ("PORTAL_API_CALLS_PER_MINUTE", "1000000".to_owned()),
        // Warnings, and the daily job's line (counted across replicas afterwards).
        (
            "RUST_LOG",
            "warn,portal_core::requests::fulfil=info".to_owned(),
        ),
        ("NO_COLOR", "1".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let demo = Command::new(&bin)
        .arg("demo-data")
        .env_clear()
        .envs(&env)
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .stdout(Stdio::null())
        .status()
        .expect("runs portal demo-data");
    assert!(demo.success(), "portal demo-data failed");

    let mut replicas: Vec<Replica> = ["A", "B"]
        .into_iter()
        .map(|name| Replica {
            name,
            port: free_port(),
            bin: bin.clone(),
            env: env.clone(),
            log: dir.path().join(format!("replica-{name}.log")),
            child: None,
        })
        .collect();
    for r in &mut replicas {
        r.spawn();
    }
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(15))
        .build()
        .expect("client");
    for r in &replicas {
        assert!(
            wait_healthy(&client, &r.url("/healthz"), Duration::from_secs(60))
                .await
                .is_some(),
            "replica {} did not start; its log: {}",
            r.name,
            r.log.display()
        );
    }
    let nginx_dir = dir.path().join("nginx");
    std::fs::create_dir_all(&nginx_dir).expect("nginx dir");
    chmod(&nginx_dir, 0o755);
    let nginx = start_nginx(&nginx_dir, proxy_port, replicas[0].port, replicas[1].port);
    assert!(
        wait_healthy(&client, &format!("{origin}/livez"), Duration::from_secs(10))
            .await
            .is_some(),
        "nginx did not start; see {}",
        nginx_dir.join("error.log").display()
    );

    // Sessions for wrk's readers, the marketing key and a privacy officer's session, as the
    // portal itself makes them.
    env.insert("RUST_LOG".into(), "off".into());
    let harness = Portal::open(Settings::from_sources(&env).expect("soak settings"))
        .await
        .expect("opens the soak database");
    let db = harness.db.clone();
    let now = Utc::now();
    let mut cookies = Vec::new();
    for customer in 1..=JOURNEY_CUSTOMERS {
        let t = sessions::start(&db, &harness.session_keys, Subject::Customer(customer), now)
            .await
            .expect("a session");
        cookies.push(common::lua_str(&format!("portal_session={t}")));
    }
    let direct_sessions = cookies.len() as i64;
    let (_, key) = apikeys::create(&db, "soak", &[Scope::ConsentCheck], None, now)
        .await
        .expect("an API key");
    let officer = one(
        &db,
        "SELECT id FROM staff WHERE role = 'privacy_officer' AND active ORDER BY id LIMIT 1",
    )
    .await;
    let staff_cookie = format!(
        "{}={}",
        app::identity::Cookie::StaffSession.name(false),
        sessions::start(&db, &harness.session_keys, Subject::Staff(officer), now)
            .await
            .expect("a staff session")
    );

    // wrk's scripts.
    let scripts = dir.path();
    let form = format!(
        "wrk.method = 'POST'\nwrk.headers['Content-Type'] = 'application/x-www-form-urlencoded'\n\
         wrk.headers['Accept'] = 'text/html'\nwrk.headers['Origin'] = {}\n",
        common::lua_str(&origin)
    );
    let rotate = format!(
        "local cookies = {{ {} }}\nlocal n = 0\n",
        cookies.join(", ")
    );
    let me = lua(
        scripts,
        "me.lua",
        &format!(
            "{rotate}function request()\n  n = n + 1\n  wrk.headers['Cookie'] = cookies[(n % #cookies) + 1]\n\
             return wrk.format('GET', '/me')\nend\n"
        ),
    );
    let consent = lua(
        scripts,
        "consent.lua",
        &format!(
            "{form}{rotate}function request()\n  n = n + 1\n  wrk.headers['Cookie'] = cookies[(n % #cookies) + 1]\n\
             local on = (math.floor(n / #cookies) % 2)\n\
             return wrk.format(nil, {}, nil, 'purpose=marketing_sms&on=' .. on)\nend\n",
            common::lua_str(SetConsent::PATH)
        ),
    );
    let api = format!(
        "wrk.method = 'POST'\nwrk.headers['Content-Type'] = 'application/json'\n\
         wrk.headers['Authorization'] = 'Bearer {key}'\n"
    );
    let check_one = lua(
        scripts,
        "one.lua",
        &format!(
            "{api}wrk.body = {}\n",
            common::lua_str(
                r#"{"purpose":"marketing_email","contacts":["customer001@example.com"]}"#
            )
        ),
    );
    let bulk: Vec<String> = (0..10_000)
        .map(|i| match i % 10 {
            0 => format!("\"nobody{i}@example.org\""),
            _ => format!("\"customer{:03}@example.com\"", i % 200 + 1),
        })
        .collect();
    let bulk_file = scripts.join("bulk.json");
    std::fs::write(
        &bulk_file,
        format!(
            r#"{{"purpose":"marketing_email","contacts":[{}]}}"#,
            bulk.join(",")
        ),
    )
    .expect("bulk body");
    let check_bulk = lua(
        scripts,
        "bulk.lua",
        &format!(
            "{api}local f = io.open({}, 'rb')\nwrk.body = f:read('*a')\nf:close()\n",
            common::lua_str(&bulk_file.display().to_string())
        ),
    );
    let visitors = lua(
        scripts,
        "visitors.lua",
        &format!(
            "{form}local n = 0\nfunction request()\n  n = n + 1\n\
             return wrk.format(nil, {}, nil, 'email=visitor' .. n .. '%40example.org')\nend\n",
            common::lua_str(RequestSignIn::PATH)
        ),
    );

    // The load, and the faults on their schedule.
    let shared = Shared {
        tally: Arc::default(),
        client: client.clone(),
        proxy: origin.clone(),
        origin: origin.clone(),
        sink: sink.clone(),
        stop: Arc::default(),
        sent: Arc::default(),
    };
    let secs = plan.load.as_secs();
    let load_started = Instant::now();
    let url = |path: &str| format!("{origin}{path}");
    let wrks = vec![
        wrk("/me (wrk)", &url("/me"), &me, 4, secs),
        wrk("consent switch (wrk)", &url("/"), &consent, 1, secs),
        wrk(
            "consent check, 1 (wrk)",
            &url("/api/v1/consent/check"),
            &check_one,
            2,
            secs,
        ),
        wrk(
            "consent check, 10,000 (wrk)",
            &url("/api/v1/consent/check"),
            &check_bulk,
            1,
            secs,
        ),
        wrk(
            "sign-in request, visitors (wrk)",
            &url("/"),
            &visitors,
            1,
            secs,
        ),
    ];
    let mut tasks = Vec::new();
    for vu in 0..plan.customers {
        tasks.push(tokio::spawn(customer_journeys(
            shared.clone(),
            vu,
            plan.customers,
            plan.mail_wait,
        )));
    }
    tasks.push(tokio::spawn(staff_decides(
        shared.clone(),
        db.clone(),
        staff_cookie,
    )));

    // The per-address throttle, hit at both replicas directly: 8 asks, 5 allowed in all.
    for i in 0..8 {
        let r = &replicas[i % 2];
        shared
            .post(
                "sign-in request (throttle probe)",
                &r.url(""),
                RequestSignIn::PATH,
                &[("email", &email_of(THROTTLED))],
                "",
            )
            .await;
    }

    let at = |t: Duration| async move {
        let wait = t.saturating_sub(load_started.elapsed());
        tokio::time::sleep(wait).await;
    };
    let mut events: Vec<String> = Vec::new();
    let mut checks: Vec<Check> = Vec::new();

    // The same link, spent at both replicas at once.
    at(plan.link_race).await;
    let raced_email = email_of(RACED);
    shared
        .post(
            "sign-in request",
            &origin,
            RequestSignIn::PATH,
            &[("email", &raced_email)],
            "",
        )
        .await;
    let race = match mail_to(&sink, &raced_email, 0, Duration::from_secs(20))
        .await
        .and_then(|t| link_token(&t))
    {
        Some(token) => {
            let spend = |base: String| {
                let s = shared.clone();
                let token = token.clone();
                async move {
                    s.post(
                        "sign-in by link (race)",
                        &base,
                        ConfirmLink::PATH,
                        &[("t", &token)],
                        "",
                    )
                    .await
                    .and_then(|(_, c)| cookie_named(&c, "portal_session").map(str::to_owned))
                    .is_some()
                }
            };
            let (a, b) = tokio::join!(spend(replicas[0].url("")), spend(replicas[1].url("")));
            usize::from(a) + usize::from(b)
        }
        None => 0,
    };
    events.push(format!(
        "{:>5.1} s  one sign-in link spent at both replicas at once: {race} session(s)",
        load_started.elapsed().as_secs_f64()
    ));
    checks.push(Check {
        what: format!("the same link at both replicas makes one session (made {race})"),
        ok: race == 1,
    });

    // kill -9 of replica A, and what it held.
    at(plan.kill).await;
    replicas[0].kill9();
    let held = rows(
        &db,
        "SELECT id FROM mail_outbox WHERE sent_at IS NULL AND claimed_until IS NOT NULL",
    )
    .await;
    events.push(format!(
        "{:>5.1} s  kill -9 of replica A; mails claimed and unsent at that moment (by A or B): {}",
        load_started.elapsed().as_secs_f64(),
        held.len()
    ));
    at(plan.restart).await;
    replicas[0].spawn();
    let back = wait_healthy(
        &client,
        &replicas[0].url("/healthz"),
        Duration::from_secs(60),
    )
    .await;
    events.push(format!(
        "{:>5.1} s  replica A started again (as systemd's Restart= would); ready after {:.1} s",
        load_started.elapsed().as_secs_f64(),
        back.map_or(f64::NAN, |d| d.as_secs_f64())
    ));

    // PostgreSQL restarted under the replicas.
    at(plan.pg_restart).await;
    let restarting = Instant::now();
    tokio::task::block_in_place(|| pg.restart());
    let restarted = restarting.elapsed();
    let (health_a, health_b) = (replicas[0].url("/healthz"), replicas[1].url("/healthz"));
    let (ra, rb) = tokio::join!(
        wait_healthy(&client, &health_a, Duration::from_secs(60)),
        wait_healthy(&client, &health_b, Duration::from_secs(60)),
    );
    events.push(format!(
        "{:>5.1} s  PostgreSQL restarted ({:.1} s); /healthz 200 again on A after {:.1} s, on B after {:.1} s, neither restarted",
        load_started.elapsed().as_secs_f64(),
        restarted.as_secs_f64(),
        ra.map_or(f64::NAN, |d| d.as_secs_f64()),
        rb.map_or(f64::NAN, |d| d.as_secs_f64())
    ));
    checks.push(Check {
        what: "both replicas recover from the PostgreSQL restart by themselves".into(),
        ok: ra.is_some() && rb.is_some(),
    });

    // The SMTP server down.
    at(plan.smtp_down).await;
    sink.take_down();
    events.push(format!(
        "{:>5.1} s  SMTP server down for {} s",
        load_started.elapsed().as_secs_f64(),
        plan.smtp_outage.as_secs()
    ));
    let smtp_up_at = plan.smtp_down + plan.smtp_outage;

    // The end of the load.
    at(plan.load).await;
    shared.stop.store(true, Ordering::Relaxed);
    for t in tasks {
        let _ = t.await;
    }
    let mut wrk_rows = Vec::new();
    for w in wrks {
        let out = tokio::task::spawn_blocking(move || w.child.wait_with_output())
            .await
            .expect("wrk joins")
            .expect("wrk ran");
        wrk_rows.push((w.name, parse_wrk(&String::from_utf8_lossy(&out.stdout))));
    }
    let load_secs = load_started.elapsed().as_secs_f64();
    events.push(format!("{load_secs:>5.1} s  load stopped"));
    if load_started.elapsed() < smtp_up_at {
        at(smtp_up_at).await;
    }
    sink.bring_up().await;
    events.push(format!(
        "{:>5.1} s  SMTP server back",
        load_started.elapsed().as_secs_f64()
    ));

    // Settling: the outbox and the fulfilment queue empty.
    let settling = Instant::now();
    let mut unsent = -1;
    let mut approved = -1;
    while settling.elapsed() < plan.settle {
        unsent = one(
            &db,
            "SELECT COUNT(*) FROM mail_outbox WHERE sent_at IS NULL",
        )
        .await;
        approved = one(
            &db,
            "SELECT COUNT(*) FROM requests WHERE status = 'approved' AND kind IN ('access', 'objection')",
        )
        .await;
        if unsent == 0 && approved == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    events.push(format!(
        "{:>5.1} s  outbox and fulfilment queue settled after {:.1} s (unsent {unsent}, approved {approved})",
        load_started.elapsed().as_secs_f64(),
        settling.elapsed().as_secs_f64()
    ));
    // A moment for the last SMTP answers to be counted by the sink.
    tokio::time::sleep(Duration::from_millis(500)).await;

    // ------------------------------------------------------------ the checks
    let tally = std::mem::take(&mut *shared.tally.lock().expect("tally"));

    // Every filing answered as accepted is stored.
    let mut lost = 0;
    for ((customer, kind), answered) in &tally.filed {
        let stored = one(
            &db,
            &format!(
                "SELECT COUNT(*) FROM requests WHERE customer_id = {customer} AND kind = '{kind}'"
            ),
        )
        .await;
        if stored < 1 {
            lost += answered;
        }
    }
    let accepted: u64 = tally.filed.values().sum();
    checks.push(Check {
        what: format!("every filing accepted is stored ({accepted} accepted, {lost} missing)"),
        ok: lost == 0 && accepted > 0,
    });

    // Every mail the portal queued went out, once. Rows stay in the outbox once sent, except
    // mail to no customer (staff notices), whose row goes as soon as the server took it.
    let in_outbox = one(&db, "SELECT COUNT(*) FROM mail_outbox").await;
    let unsent_left = one(
        &db,
        "SELECT COUNT(*) FROM mail_outbox WHERE sent_at IS NULL",
    )
    .await;
    let sent: HashSet<i64> = rows(&db, "SELECT id FROM mail_outbox WHERE sent_at IS NOT NULL")
        .await
        .into_iter()
        .collect();
    let mails = sink.received();
    let mut per_id: HashMap<i64, u64> = HashMap::new();
    let mut foreign = 0;
    for m in &mails {
        match m
            .message_id()
            .unwrap_or_default()
            .trim_start_matches('<')
            .split('.')
            .next()
            .and_then(|id| id.parse::<i64>().ok())
        {
            Some(id) => *per_id.entry(id).or_default() += 1,
            None => foreign += 1,
        }
    }
    let delivered = per_id.len() as i64;
    let staff_mail = per_id.keys().filter(|id| !sent.contains(id)).count() as i64;
    let expected = in_outbox + staff_mail;
    let never_arrived = sent.iter().filter(|id| !per_id.contains_key(id)).count();
    checks.push(Check {
        what: format!(
            "every queued mail delivered ({expected} queued: {in_outbox} to customers, {staff_mail} to staff; {unsent_left} unsent, {never_arrived} marked sent but not received, {foreign} without our Message-ID)"
        ),
        ok: unsent_left == 0 && never_arrived == 0 && foreign == 0 && delivered == expected,
    });
    // A mail the killed replica had handed to the server but not yet recorded is sent again
    // after its lease: SMTP cannot be made exactly-once across a crash in that instant. It
    // keeps its Message-ID, so the mailbox shows it once; at most one such mail (a worker sends
    // one at a time) is told apart, every other second copy fails the soak.
    let twice: Vec<i64> = per_id
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(id, _)| *id)
        .collect();
    let duplicated: u64 = per_id.values().map(|n| n - 1).sum();
    let in_flight_at_kill = twice.iter().filter(|id| held.contains(id)).count() as u64;
    let in_flight_extra: u64 = twice
        .iter()
        .filter(|id| held.contains(id))
        .map(|id| per_id[id] - 1)
        .sum();
    checks.push(Check {
        what: format!(
            "no mail delivered twice ({duplicated} second copies; {in_flight_extra} of them of the one mail in the SMTP server's hands at kill -9)"
        ),
        ok: duplicated == in_flight_extra && in_flight_at_kill <= 1 && in_flight_extra <= 1,
    });
    let held_sent = held.iter().filter(|id| per_id.contains_key(id)).count();
    checks.push(Check {
        what: format!(
            "the mails claimed and unsent at the kill were sent (A's after their lease) ({held_sent} of {})",
            held.len()
        ),
        ok: held_sent == held.len(),
    });

    // No token spent twice: each sign-in the journeys made spent a token of its own.
    let spent = one(
        &db,
        &format!(
            "SELECT COUNT(*) FROM one_time_tokens WHERE used_at IS NOT NULL AND purpose = 'sign_in' \
             AND customer_id <> {RACED}"
        ),
    )
    .await;
    let customer_sessions = one(
        &db,
        &format!(
            "SELECT COUNT(*) FROM sessions WHERE customer_id IS NOT NULL AND customer_id <> {RACED}"
        ),
    )
    .await;
    checks.push(Check {
        what: format!(
            "no token spent twice ({} sign-ins, {spent} tokens spent, {} sessions made by signing in)",
            tally.sign_ins,
            customer_sessions - direct_sessions
        ),
        ok: spent == tally.sign_ins as i64 && customer_sessions - direct_sessions == spent,
    });

    // The per-address throttle counted across replicas.
    let issued = one(
        &db,
        &format!("SELECT COUNT(*) FROM one_time_tokens WHERE customer_id = {THROTTLED}"),
    )
    .await;
    checks.push(Check {
        what: format!(
            "the per-address limit holds across replicas (8 asks at A and B in turn, {issued} links issued, limit 5)"
        ),
        ok: issued == 5,
    });

    // The daily job ran once, though three processes started.
    let mut daily_runs = 0;
    for r in &replicas {
        daily_runs += std::fs::read_to_string(&r.log)
            .unwrap_or_default()
            .matches("retention rules applied")
            .count();
    }
    checks.push(Check {
        what: format!(
            "the daily retention job ran once across three replica starts (ran {daily_runs})"
        ),
        ok: daily_runs == 1,
    });

    // The chains are whole.
    for what in ["audit", "consents"] {
        let out = Command::new(&bin)
            .args([what, "verify"])
            .env_clear()
            .envs(&env)
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .output()
            .expect("runs portal verify");
        checks.push(Check {
            what: format!(
                "`portal {what} verify`: {}",
                String::from_utf8_lossy(&out.stdout)
                    .lines()
                    .last()
                    .unwrap_or_default()
                    .trim()
            ),
            ok: out.status.success(),
        });
    }

    // ------------------------------------------------------------ the table
    drop(nginx);
    let driver_sent = shared.sent.load(Ordering::Relaxed);
    let wrk_sent: u64 = wrk_rows.iter().map(|(_, r)| r.0).sum();
    println!(
        "\n=== make soak{}: two replicas on PostgreSQL behind nginx, {} s of load ===",
        if plan.customers == 3 { " (short)" } else { "" },
        plan.load.as_secs()
    );
    println!("\n{}", events.join("\n"));
    println!(
        "\nrequests sent: {} ({wrk_sent} by wrk, {driver_sent} by {} journeying customers and a privacy officer), {:.0} req/s over {load_secs:.0} s",
        wrk_sent + driver_sent,
        plan.customers,
        (wrk_sent + driver_sent) as f64 / load_secs
    );
    println!("\n| route | requests | p50 ms | p99 ms |\n|---|---|---|---|");
    for (name, (n, p50, p99, _)) in &wrk_rows {
        println!("| {name} | {n} | {p50:.1} | {p99:.1} |");
    }
    let mut latencies = tally.latencies;
    for (route, v) in &mut latencies {
        let n = v.len();
        let (p50, p99) = (percentile(v, 0.50), percentile(v, 0.99));
        println!("| {route} | {n} | {p50:.1} | {p99:.1} |");
    }
    println!("\n| errors by kind | count |\n|---|---|");
    let mut any_error = false;
    for (name, (_, _, _, errors)) in &wrk_rows {
        for (kind, n) in errors {
            any_error = true;
            println!("| {name}: {kind} | {n} |");
        }
    }
    for (kind, n) in &tally.errors {
        any_error = true;
        println!("| {kind} | {n} |");
    }
    if !any_error {
        println!("| (none) | 0 |");
    }
    println!(
        "\nsign-ins completed: {}; journeys that went on without their mail (SMTP down): {}",
        tally.sign_ins, tally.mail_waits_given_up
    );
    println!(
        "\n| mails | count |\n|---|---|\n| expected (queued) | {expected} |\n| delivered | {delivered} |\n| duplicated | {duplicated} |"
    );
    println!("\n| check | result |\n|---|---|");
    let mut failed = 0;
    for c in &checks {
        if !c.ok {
            failed += 1;
        }
        println!("| {} | {} |", c.what, if c.ok { "pass" } else { "FAIL" });
    }
    println!(
        "\nsoak finished in {:.0} s: {}",
        started_all.elapsed().as_secs_f64(),
        if failed == 0 {
            "nothing lost, nothing twice".to_owned()
        } else {
            format!(
                "{failed} check(s) failed; replica logs in {}",
                dir.path().display()
            )
        }
    );
    drop(replicas);
    drop(pg);
    if failed > 0 {
        // Keep the logs to read.
        let kept = dir.keep();
        eprintln!("logs kept in {}", kept.display());
        std::process::exit(1);
    }
}
