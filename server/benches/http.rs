//! `make bench`: one table, from one run, of what a customer, marketing and the ceiling cost
//! over HTTP (issue 17 item 6).
//!
//! The release `portal` (built by `make build-release`) serves the demo salon from a fresh data
//! directory; every row gets the same load shape (wrk `-t2 -c32`, `BENCH_SECONDS` s, `BENCH_RUNS`
//! runs, the median of each figure) and shows requests per second, p50, p99 and the ratio to
//! `/livez`, the ceiling. Then resident memory idle and at peak, the wasm as built and as sent,
//! and the Lighthouse figures of the last `make lighthouse` run. On SQLite, and again on
//! PostgreSQL when `BENCH_POSTGRES_URL` (or `TEST_POSTGRES_URL`) names a server.
//!
//! The signed-in rows use sessions and an API key made by the bench directly in the database
//! (what a sign-in and the staff's key page would make); the sign-in row posts the real form,
//! spread over 10,000 addresses of which the 200 demo customers get a mail until their
//! per-address limit; the filing row posts the request form as the 200 demo customers in turn
//! (a copy, a question, an objection; later ones join the open request of their kind).

use std::{
    collections::HashMap,
    io::Write,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use chrono::Utc;
use portal_core::{
    Portal, Settings,
    apikeys::{self, Scope},
    sessions::{self, Subject},
};
use sea_orm::{ConnectionTrait, Database};

mod common;
use common::{lua, lua_str, root, target_dir};

const THREADS: u32 = 2;
const CONNECTIONS: u32 = 32;

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

/// One row's figures (medians over the runs).
#[derive(Clone, Debug, Default)]
struct Row {
    name: &'static str,
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
    /// Answers other than 2xx/3xx, summed over the runs.
    errors: u64,
    /// The server's peak resident memory so far, after this row (MiB).
    peak_mib: f64,
}

/// A server the bench started, with what it needs to be asked.
struct Server {
    child: Child,
    port: u16,
    env: HashMap<String, String>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn status_kib(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find(|l| l.starts_with(field))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    }
}

fn start(bin: &Path, data: &Path, port: u16, database_url: &str) -> Server {
    let mut env = HashMap::new();
    let site = std::env::var("LEPTOS_SITE_ROOT")
        .unwrap_or_else(|_| root().join("target/site").display().to_string());
    for (k, v) in [
        ("PORTAL_DATA_DIR", data.display().to_string()),
        ("DATABASE_URL", database_url.to_owned()),
        ("LEPTOS_SITE_ROOT", site),
        ("LEPTOS_SITE_ADDR", format!("127.0.0.1:{port}")),
        ("PORTAL_PUBLIC_URL", format!("http://127.0.0.1:{port}")),
        ("PORTAL_DEV_MAILBOX", "1".to_owned()),
        ("RUST_LOG", "warn".to_owned()),
        ("NO_COLOR", "1".to_owned()),
        // Every call of the bench comes from one client and one key; the limits would answer
        // 429 after a second. Their cost is still paid on every request.
        ("PORTAL_API_CALLS_PER_MINUTE", "1000000".to_owned()),
        ("PORTAL_SIGNIN_PER_IP_PER_HOUR", "100000".to_owned()),
    ] {
        env.insert(k.to_owned(), v);
    }
    let run = |args: &[&str]| {
        let mut c = Command::new(bin);
        c.args(args)
            .env_clear()
            .envs(&env)
            .env("PATH", env_or("PATH", "/usr/bin:/bin"));
        c
    };
    let out = run(&["demo-data"])
        .stdout(Stdio::null())
        .status()
        .expect("runs portal demo-data");
    assert!(out.success(), "portal demo-data failed");
    // The server's warnings and errors (never a personal value), to read when a row has errors.
    let log = target_dir().join(format!("bench-server-{port}.log"));
    let child = run(&["serve"])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).map_or_else(|_| Stdio::null(), Stdio::from))
        .spawn()
        .expect("starts portal serve");
    let server = Server { child, port, env };
    let started = Instant::now();
    while !curl_ok(&server.url("/healthz")) {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the portal did not start"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    server
}

fn curl(args: &[&str]) -> String {
    let out = Command::new("curl")
        .args(["-s", "--max-time", "30"])
        .args(args)
        .output()
        .expect("runs curl");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn curl_ok(url: &str) -> bool {
    Command::new("curl")
        .args(["-fs", "-o", "/dev/null", "--max-time", "2", url])
        .status()
        .is_ok_and(|s| s.success())
}

/// A form's action on a page (the server function's URL carries a hash of its own).
fn form_action(html: &str, contains: &str) -> String {
    html.split("action=\"")
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .find(|a| a.contains(contains))
        .unwrap_or_else(|| panic!("no form posting to *{contains}* on the page"))
        .to_owned()
}

/// Parses one wrk report (with `--latency`).
fn parse_wrk(out: &str) -> (f64, f64, f64, u64) {
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
    let mut rps = f64::NAN;
    let (mut p50, mut p99) = (f64::NAN, f64::NAN);
    let mut errors = 0;
    for line in out.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["Requests/sec:", v] => rps = v.parse().unwrap_or(f64::NAN),
            ["50%", v] => p50 = ms(v),
            ["99%", v] => p99 = ms(v),
            ["Non-2xx", "or", "3xx", "responses:", n] => errors += n.parse::<u64>().unwrap_or(0),
            [.., "Socket", "errors:", _] => {}
            _ if line.trim_start().starts_with("Socket errors:") => {
                errors += line
                    .split(|c: char| !c.is_ascii_digit())
                    .filter_map(|n| n.parse::<u64>().ok())
                    .sum::<u64>();
            }
            _ => {}
        }
    }
    (rps, p50, p99, errors)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn wrk(server: &Server, name: &'static str, path: &str, script: Option<&Path>) -> Row {
    // BENCH_ONLY=text runs only the rows whose name holds it (while iterating on one row).
    if let Ok(only) = std::env::var("BENCH_ONLY")
        && !name.contains(only.as_str())
    {
        return Row {
            name,
            rps: 0.0,
            p50_ms: 0.0,
            p99_ms: 0.0,
            errors: 0,
            peak_mib: 0.0,
        };
    }
    let seconds = env_or("BENCH_SECONDS", "10");
    let runs: usize = env_or("BENCH_RUNS", "3").parse().unwrap_or(3);
    let (mut rps, mut p50, mut p99, mut errors) = (vec![], vec![], vec![], 0);
    for _ in 0..runs.max(1) {
        let mut c = Command::new("wrk");
        c.args([
            format!("-t{THREADS}"),
            format!("-c{CONNECTIONS}"),
            format!("-d{seconds}s"),
            "--latency".to_owned(),
            "-H".to_owned(),
            "Accept-Language: zh-CN".to_owned(),
        ]);
        if let Some(s) = script {
            c.arg("-s").arg(s);
        }
        let out = c.arg(server.url(path)).output().expect("runs wrk");
        let text = String::from_utf8_lossy(&out.stdout);
        let (r, a, b, e) = parse_wrk(&text);
        if e > 0 {
            // Which kind of error (a timeout, a refused answer) is in wrk's own words.
            for line in text
                .lines()
                .filter(|l| l.contains("errors") || l.contains("Non-2xx"))
            {
                eprintln!("{name}: {}", line.trim());
            }
        }
        rps.push(r);
        p50.push(a);
        p99.push(b);
        errors += e;
    }
    Row {
        name,
        rps: median(rps),
        p50_ms: median(p50),
        p99_ms: median(p99),
        errors,
        peak_mib: server.status_kib("VmHWM:") as f64 / 1024.0,
    }
}

struct Figures {
    engine: &'static str,
    rows: Vec<Row>,
    idle_mib: f64,
    peak_mib: f64,
}

async fn bench_engine(engine: &'static str, database_url: &str, port: u16) -> Figures {
    let bin = std::env::var_os("BENCH_PORTAL")
        .map(PathBuf::from)
        .unwrap_or_else(|| target_dir().join("release/portal"));
    assert!(
        bin.exists(),
        "{} is missing: run `make build-release` first",
        bin.display()
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let server = start(&bin, &data, port, database_url);
    let origin = server.url("");

    // A customer's session and a marketing key, as the portal itself makes them.
    let settings = Settings::from_sources(&server.env).expect("bench settings");
    let p = Portal::open(settings)
        .await
        .expect("opens the bench database");
    let now = Utc::now();
    let mut tokens = Vec::new();
    for customer in 1..=200 {
        tokens.push(
            sessions::start(&p.db, &p.session_keys, Subject::Customer(customer), now)
                .await
                .expect("a session"),
        );
    }
    let token = tokens[0].clone();
    let (_, key) = apikeys::create(&p.db, "bench", &[Scope::ConsentCheck], None, now)
        .await
        .expect("an API key");
    let contact = "customer001@example.com";
    let cookie = format!("portal_session={token}");

    let me = curl(&["-H", &format!("Cookie: {cookie}"), &server.url("/me")]);
    assert!(
        me.contains("<main") && !me.contains("name=\"email\""),
        "/me did not render for the bench's session"
    );
    let signin_action = form_action(&curl(&[&server.url("/signin")]), "request_sign_in");
    let requests_page = curl(&[
        "-H",
        &format!("Cookie: {cookie}"),
        &server.url("/me/requests"),
    ]);
    let file_action = form_action(&requests_page, "submit_request");

    let scripts = dir.path();
    let check_one = lua(
        scripts,
        "one.lua",
        &format!(
            "wrk.method = 'POST'\nwrk.headers['Content-Type'] = 'application/json'\n\
             wrk.headers['Authorization'] = 'Bearer {key}'\nwrk.body = {}\n",
            lua_str(&format!(
                r#"{{"purpose":"marketing_email","contacts":["{contact}"]}}"#
            ))
        ),
    );
    let bulk_body: Vec<String> = (0..10_000)
        .map(|i| match i % 10 {
            0 => format!("\"nobody{i}@example.org\""),
            _ => format!("\"customer{:03}@example.com\"", i % 200 + 1),
        })
        .collect();
    std::fs::write(
        scripts.join("bulk.json"),
        format!(
            r#"{{"purpose":"marketing_email","contacts":[{}]}}"#,
            bulk_body.join(",")
        ),
    )
    .expect("writes the bulk body");
    let check_bulk = lua(
        scripts,
        "bulk.lua",
        &format!(
            "wrk.method = 'POST'\nwrk.headers['Content-Type'] = 'application/json'\n\
             wrk.headers['Authorization'] = 'Bearer {key}'\n\
             local f = io.open({}, 'rb')\nwrk.body = f:read('*a')\nf:close()\n",
            lua_str(&scripts.join("bulk.json").display().to_string())
        ),
    );
    // A browser's form post without JavaScript: same origin, answered with a redirect.
    let form_headers = format!(
        "wrk.method = 'POST'\nwrk.headers['Content-Type'] = 'application/x-www-form-urlencoded'\n\
         wrk.headers['Accept'] = 'text/html'\nwrk.headers['Origin'] = {}\n\
         wrk.headers['Sec-Fetch-Site'] = 'same-origin'\n",
        lua_str(&origin)
    );
    let signin = lua(
        scripts,
        "signin.lua",
        &format!(
            "{form_headers}\
             local n = 0\nlocal tid = 0\n\
             function setup(thread) tid = tid + 1; thread:set('tid', tid) end\n\
             function request()\n  n = n + 1\n  local i = (n * 7919 + tid * 104729) % 10000\n\
             local email\n  if i < 200 then email = string.format('customer%03d%%40example.com', i + 1)\n\
             else email = 'visitor' .. i .. '%40example.org' end\n\
             return wrk.format(nil, nil, nil, 'email=' .. email)\nend\n"
        ),
    );
    let cookies: Vec<String> = tokens
        .iter()
        .map(|t| lua_str(&format!("portal_session={t}")))
        .collect();
    let file = lua(
        scripts,
        "file.lua",
        &format!(
            "{form_headers}local cookies = {{ {} }}\n\
             local kinds = {{ 'access', 'question', 'objection' }}\nlocal n = 0\n\
             function request()\n  n = n + 1\n\
             wrk.headers['Cookie'] = cookies[(n % #cookies) + 1]\n\
             local kind = kinds[(math.floor(n / #cookies) % #kinds) + 1]\n\
             return wrk.format(nil, nil, nil, 'kind=' .. kind .. '&note=bench')\nend\n",
            cookies.join(", ")
        ),
    );
    let me_script = lua(
        scripts,
        "me.lua",
        &format!("wrk.headers['Cookie'] = {}\n", lua_str(&cookie)),
    );

    std::thread::sleep(Duration::from_secs(1));
    let idle_mib = server.status_kib("VmRSS:") as f64 / 1024.0;
    let rows = vec![
        wrk(&server, "/livez (the ceiling)", "/livez", None),
        wrk(&server, "/privacy notice page", "/privacy", None),
        wrk(&server, "/me signed in", "/me", Some(&me_script)),
        wrk(
            &server,
            "consent check, 1 contact",
            "/api/v1/consent/check",
            Some(&check_one),
        ),
        wrk(
            &server,
            "consent check, 10,000",
            "/api/v1/consent/check",
            Some(&check_bulk),
        ),
        wrk(
            &server,
            "sign-in request (form)",
            &signin_action,
            Some(&signin),
        ),
        wrk(
            &server,
            "filing a request (form)",
            &file_action,
            Some(&file),
        ),
    ];
    let peak_mib = server.status_kib("VmHWM:") as f64 / 1024.0;
    // What the form rows did, so a row that only bounced off a redirect shows.
    let count = |sql: &'static str| {
        let db = p.db.clone();
        async move {
            db.query_one_raw(sea_orm::Statement::from_string(
                db.get_database_backend(),
                sql,
            ))
            .await
            .ok()
            .flatten()
            .and_then(|r| r.try_get_by_index::<i64>(0).ok())
            .unwrap_or(-1)
        }
    };
    println!(
        "{engine}: request events written {}, sign-in links issued {}, mails queued {}",
        count("SELECT COUNT(*) FROM request_events").await,
        count("SELECT COUNT(*) FROM one_time_tokens").await,
        count("SELECT COUNT(*) FROM mail_outbox").await,
    );
    Figures {
        engine,
        rows,
        idle_mib,
        peak_mib,
    }
}

fn print(f: &Figures) {
    let ceiling = f.rows.first().map(|r| r.rps).unwrap_or(f64::NAN);
    println!(
        "\n{} · release build · wrk -t{THREADS} -c{CONNECTIONS} -d{}s × {} (medians) · {} cores",
        f.engine,
        env_or("BENCH_SECONDS", "10"),
        env_or("BENCH_RUNS", "3"),
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!(
        "| {:<26} | {:>9} | {:>8} | {:>8} | {:>8} | {:>6} | {:>8} |",
        "route", "req/s", "p50 ms", "p99 ms", "/ceiling", "errors", "peak MiB"
    );
    println!(
        "|{:-<28}|{:-<11}|{:-<10}|{:-<10}|{:-<10}|{:-<8}|{:-<10}|",
        "", "", "", "", "", "", ""
    );
    for r in &f.rows {
        println!(
            "| {:<26} | {:>9.0} | {:>8.2} | {:>8.2} | {:>8.3} | {:>6} | {:>8.0} |",
            r.name,
            r.rps,
            r.p50_ms,
            r.p99_ms,
            r.rps / ceiling,
            r.errors,
            r.peak_mib
        );
    }
    println!(
        "resident memory: {:.0} MiB idle, {:.0} MiB at peak",
        f.idle_mib, f.peak_mib
    );
}

fn gzip_len(bytes: &[u8]) -> usize {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(bytes).expect("gzip");
    e.finish().expect("gzip").len()
}

/// The wasm as built and as a browser receives it (the precompressed file when there is one).
fn print_assets() {
    let site = std::env::var("LEPTOS_SITE_ROOT")
        .map(PathBuf::from)
        .unwrap_or_else(|_| root().join("target/site"));
    let pkg = site.join("pkg");
    let Ok(entries) = std::fs::read_dir(&pkg) else {
        println!("no site at {}", pkg.display());
        return;
    };
    let mut files: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    files.sort();
    println!("\nassets in {}:", pkg.display());
    for ext in ["wasm", "js", "css"] {
        for f in files
            .iter()
            .filter(|f| f.extension().is_some_and(|e| e == ext))
        {
            let raw = std::fs::read(f).unwrap_or_default();
            let name = f.file_name().unwrap_or_default().to_string_lossy();
            let br = std::fs::metadata(format!("{}.br", f.display())).map(|m| m.len());
            let gz = std::fs::metadata(format!("{}.gz", f.display())).map(|m| m.len());
            println!(
                "  {name}: {} B raw, {} B gzip -9{}{}",
                raw.len(),
                gzip_len(&raw),
                gz.map(|n| format!(", {n} B .gz as sent"))
                    .unwrap_or_default(),
                br.map(|n| format!(", {n} B .br as sent"))
                    .unwrap_or_default(),
            );
        }
    }
}

fn print_lighthouse() {
    let summary = target_dir().join("lighthouse/summary.txt");
    match std::fs::read_to_string(&summary) {
        Ok(s) => println!(
            "\nLighthouse (mobile defaults), {}:\n{s}",
            summary.display()
        ),
        Err(_) => println!(
            "\nLighthouse: no {} (run `make lighthouse`)",
            summary.display()
        ),
    }
}

async fn postgres_database(base: &str) -> Option<(String, String)> {
    let admin = Database::connect(base).await.ok()?;
    let name = format!("portal_bench_{}", std::process::id());
    admin
        .execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await
        .ok()?;
    let mut url = url::Url::parse(base).ok()?;
    url.set_path(&name);
    Some((url.to_string(), name))
}

#[tokio::main]
async fn main() {
    if Command::new("wrk").arg("--version").output().is_err() {
        panic!("wrk is missing: `make bench` installs it from Debian's packages");
    }
    let mut all = vec![];
    let sqlite_dir = tempfile::tempdir().expect("temp dir");
    let sqlite_url = format!(
        "sqlite://{}?mode=rwc",
        sqlite_dir.path().join("portal.db").display()
    );
    all.push(bench_engine("SQLite", &sqlite_url, 3210).await);
    print(&all[0]);
    let pg = std::env::var("BENCH_POSTGRES_URL")
        .or_else(|_| std::env::var("TEST_POSTGRES_URL"))
        .ok();
    match pg {
        Some(base) => match postgres_database(&base).await {
            Some((url, name)) => {
                all.push(bench_engine("PostgreSQL", &url, 3211).await);
                if let Ok(admin) = Database::connect(&base).await {
                    let _ = admin
                        .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .await;
                }
            }
            None => println!("\nPostgreSQL: could not create a bench database at the given URL"),
        },
        None => println!("\nPostgreSQL: not available (set BENCH_POSTGRES_URL to add its table)"),
    }
    println!("\n=== make bench: one run ===");
    for f in &all {
        print(f);
    }
    print_assets();
    print_lighthouse();
}
