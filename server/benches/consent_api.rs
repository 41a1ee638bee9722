//! `make bench`: the consent API against 1,000,000 customers on SQLite (issue 7).
//!
//! 1. Bulk: `POST /api/v1/consent/check` with 10,000 contacts per call (emails and phones, some
//!    unknown, some restricted or erased), contacts per second; beside it the same lookups done
//!    directly on the database (one join per 500 blind indexes, indexes computed beforehand, no
//!    HTTP, no JSON, no key check), and the ratio of the two (goal ≥ 0.3). The two answers are
//!    compared, so the bench also fails if the API is fast but wrong.
//! 2. Single-contact checks from 50 concurrent clients: p50 / p99 latency and calls per second.
//!
//! The million customers are generated once by this command into
//! `$CARGO_TARGET_DIR/bench-data/consent-1m` (a few minutes) and reused by later runs; no test
//! generates them. Their names are random bytes standing in for sealed names (the check never
//! opens one); emails, phones and their blind indexes are made exactly as the portal makes them.

use std::{
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use chrono::Utc;
use portal_core::{
    Portal, Settings,
    apikeys::{self, Scope},
    email::Email,
    phone::Phone,
};
use sea_orm::{
    ConnectionTrait, Database, DatabaseConnection, TransactionTrait,
    sea_query::{Expr, ExprTrait, Query},
};
use serde_json::{Value, json};

const CUSTOMERS: u64 = 1_000_000;
const PER_CALL: usize = 10_000;
const BULK_CALLS: usize = 20;
const CLIENTS: usize = 50;
const SINGLE_SECONDS: u64 = 10;
const BATCH: u64 = 2_000;

fn email(i: u64) -> String {
    format!("bench.customer{i:07}@example.com")
}

fn phone(i: u64) -> String {
    format!("139{i:08}")
}

/// Who is who in the generated salon: every 97th restricted, every 101st erased, marketing by
/// email on for two in three.
fn restricted(i: u64) -> bool {
    i % 97 == 5
}
fn erased(i: u64) -> bool {
    i % 101 == 7
}
fn email_on(i: u64) -> bool {
    !i.is_multiple_of(3)
}

fn settings(dir: &Path, port0: bool) -> Settings {
    let mut env = std::collections::HashMap::new();
    env.insert("PORTAL_DATA_DIR".to_owned(), dir.display().to_string());
    env.insert(
        "DATABASE_URL".to_owned(),
        format!("sqlite://{}?mode=rwc", dir.join("portal.db").display()),
    );
    if port0 {
        env.insert("LEPTOS_SITE_ADDR".to_owned(), "127.0.0.1:0".to_owned());
    }
    // No mail is sent by the API; the dev mailbox (loopback only) keeps the bench self-contained.
    env.insert("PORTAL_DEV_MAILBOX".to_owned(), "1".to_owned());
    // The bench measures latency, not the per-key limit (which it would hit in 2 s).
    env.insert(
        "PORTAL_API_CALLS_PER_MINUTE".to_owned(),
        "1000000".to_owned(),
    );
    Settings::from_sources(&env).expect("bench settings")
}

async fn generate(dir: &Path) {
    let started = Instant::now();
    let p = Portal::open(settings(dir, false)).await.expect("opens");
    let now = Utc::now();
    let mut i = 0;
    while i < CUSTOMERS {
        let end = Ord::min(i + BATCH, CUSTOMERS);
        let tx = p.db.begin().await.unwrap();
        let mut customers = Query::insert()
            .into_table("customers")
            .columns([
                "id",
                "name_sealed",
                "email_index",
                "phone_index",
                "created_at",
                "updated_at",
                "restricted_at",
                "erased_at",
            ])
            .to_owned();
        let mut events = Query::insert()
            .into_table("consent_events")
            .columns([
                "id",
                "customer_id",
                "purpose",
                "granted",
                "at",
                "channel",
                "notice_version",
            ])
            .to_owned();
        let mut states = Query::insert()
            .into_table("consent_states")
            .columns([
                "customer_id",
                "purpose",
                "granted",
                "event_id",
                "updated_at",
            ])
            .to_owned();
        for n in i..end {
            let id = (n + 1) as i64;
            let (ei, pi) = if erased(n) {
                (None, None)
            } else {
                let e = Email::parse(&email(n)).expect("bench email");
                let ph = Phone::parse(&phone(n)).expect("bench phone");
                (
                    Some(p.vault.email_index(&e)),
                    Some(p.vault.phone_index(&ph)),
                )
            };
            let name: Vec<u8> = (0..40).map(|_| rand::random::<u8>()).collect();
            customers.values_panic([
                id.into(),
                name.into(),
                ei.into(),
                pi.into(),
                now.into(),
                now.into(),
                restricted(n).then_some(now).into(),
                erased(n).then_some(now).into(),
            ]);
            if !erased(n) {
                events.values_panic([
                    id.into(),
                    id.into(),
                    "marketing_email".into(),
                    email_on(n).into(),
                    now.into(),
                    "portal".into(),
                    1.into(),
                ]);
                states.values_panic([
                    id.into(),
                    "marketing_email".into(),
                    email_on(n).into(),
                    id.into(),
                    now.into(),
                ]);
            }
        }
        tx.execute(&customers).await.unwrap();
        tx.execute(&events).await.unwrap();
        tx.execute(&states).await.unwrap();
        tx.commit().await.unwrap();
        i = end;
        if i.is_multiple_of(100_000) {
            eprintln!(
                "  generated {i} customers ({:.0} s)",
                started.elapsed().as_secs_f64()
            );
        }
    }
    p.db.execute_unprepared("ANALYZE").await.unwrap();
    std::fs::write(dir.join("READY"), CUSTOMERS.to_string()).unwrap();
    println!(
        "generated {CUSTOMERS} customers in {:.0} s",
        started.elapsed().as_secs_f64()
    );
}

/// A deterministic mix: 70 % emails, 20 % phones, 10 % never on record.
fn contacts(call: usize, n: usize) -> Vec<String> {
    let mut state = 0x9E37_79B9_7F4A_7C15u64 ^ (call as u64 + 1);
    (0..n)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let i = state % CUSTOMERS;
            match state % 10 {
                0 => format!("nobody{i}@example.org"),
                1 | 2 => phone(i),
                _ => email(i),
            }
        })
        .collect()
}

/// The same lookups straight on the database: given the blind indexes, one join per 500.
async fn direct(db: &DatabaseConnection, keys: &[(bool, Vec<u8>)]) -> Vec<bool> {
    let mut yes = std::collections::HashSet::new();
    for (is_email, column) in [(true, "email_index"), (false, "phone_index")] {
        let wanted: Vec<Vec<u8>> = keys
            .iter()
            .filter(|(e, _)| *e == is_email)
            .map(|(_, k)| k.clone())
            .collect();
        for chunk in wanted.chunks(500) {
            let q = Query::select()
                .column(("customers", column))
                .from("customers")
                .inner_join(
                    "consent_states",
                    Expr::col(("consent_states", "customer_id")).equals(("customers", "id")),
                )
                .and_where(Expr::col(("customers", column)).is_in(chunk.iter().cloned()))
                .and_where(Expr::col(("customers", "restricted_at")).is_null())
                .and_where(Expr::col(("customers", "erased_at")).is_null())
                .and_where(Expr::col(("consent_states", "purpose")).eq("marketing_email"))
                .and_where(Expr::col(("consent_states", "granted")).eq(true))
                .to_owned();
            for r in db.query_all(&q).await.unwrap() {
                yes.insert(r.try_get::<Vec<u8>>("", column).unwrap());
            }
        }
    }
    keys.iter().map(|(_, k)| yes.contains(k)).collect()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

#[tokio::main]
async fn main() {
    let target = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into());
    let dir = PathBuf::from(target).join("bench-data").join("consent-1m");
    if std::fs::read_to_string(dir.join("READY")).ok().as_deref()
        != Some(CUSTOMERS.to_string().as_str())
    {
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        println!("generating {CUSTOMERS} customers into {}", dir.display());
        generate(&dir).await;
    }
    let app = server::Application::build(settings(&dir, true))
        .await
        .expect("the portal starts");
    let base = format!("http://127.0.0.1:{}", app.port());
    let portal = app.portal().clone();
    let (_, key) = apikeys::create(
        &portal.db,
        "bench",
        &[Scope::ConsentCheck],
        None,
        Utc::now(),
    )
    .await
    .unwrap();
    tokio::spawn(app.run_until(std::future::pending()));
    let client = reqwest::Client::new();
    let url = format!("{base}/api/v1/consent/check");

    // 1. Bulk, through the API.
    let batches: Vec<Vec<String>> = (0..BULK_CALLS).map(|c| contacts(c, PER_CALL)).collect();
    let mut api_answers = Vec::new();
    let started = Instant::now();
    for b in &batches {
        let r = client
            .post(&url)
            .bearer_auth(&key)
            .json(&json!({"purpose": "marketing_email", "contacts": b}))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{}", r.status());
        let v: Value = r.json().await.unwrap();
        let got: Vec<bool> = v["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["may_contact"].as_bool().unwrap())
            .collect();
        api_answers.push(got);
    }
    let api_secs = started.elapsed().as_secs_f64();
    let api_rate = (BULK_CALLS * PER_CALL) as f64 / api_secs;

    // The same lookups directly on the database (its own connection pool).
    let db = Database::connect(&portal.settings.database_url)
        .await
        .unwrap();
    let keyed: Vec<Vec<(bool, Vec<u8>)>> = batches
        .iter()
        .map(|b| {
            b.iter()
                .map(|c| match c.contains('@') {
                    true => (
                        true,
                        portal
                            .vault
                            .email_index(&Email::parse(c).expect("valid email")),
                    ),
                    false => (
                        false,
                        portal
                            .vault
                            .phone_index(&Phone::parse(c).expect("valid phone")),
                    ),
                })
                .collect()
        })
        .collect();
    let started = Instant::now();
    let mut direct_answers = Vec::new();
    for k in &keyed {
        direct_answers.push(direct(&db, k).await);
    }
    let direct_secs = started.elapsed().as_secs_f64();
    let direct_rate = (BULK_CALLS * PER_CALL) as f64 / direct_secs;
    assert_eq!(
        api_answers, direct_answers,
        "the API and the database disagree"
    );
    let yes: usize = api_answers.iter().flatten().filter(|x| **x).count();
    println!(
        "consent bulk check, {CUSTOMERS} customers (SQLite): {BULK_CALLS} calls x {PER_CALL} contacts \
         ({yes} may be contacted)"
    );
    println!(
        "  API:    {api_rate:>9.0} contacts/s ({:.0} ms per call)",
        api_secs * 1000.0 / BULK_CALLS as f64
    );
    println!(
        "  direct: {direct_rate:>9.0} contacts/s ({:.0} ms per 10,000)",
        direct_secs * 1000.0 / BULK_CALLS as f64
    );
    println!(
        "  ratio API/direct: {:.2} (goal >= 0.3)",
        api_rate / direct_rate
    );

    // 2. Single-contact checks from 50 concurrent clients.
    let deadline = Instant::now() + Duration::from_secs(SINGLE_SECONDS);
    let mut tasks = Vec::new();
    for c in 0..CLIENTS {
        let client = client.clone();
        let url = url.clone();
        let key = key.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut n = 0usize;
            while Instant::now() < deadline {
                let contact = contacts(1000 + c * 100_000 + n, 1).remove(0);
                n += 1;
                let t = Instant::now();
                let r = client
                    .post(&url)
                    .bearer_auth(&key)
                    .json(&json!({"purpose": "marketing_email", "contacts": [contact]}))
                    .send()
                    .await
                    .unwrap();
                assert!(r.status().is_success(), "{}", r.status());
                let _ = r.bytes().await.unwrap();
                lat.push(t.elapsed());
            }
            lat
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    all.sort();
    println!(
        "consent single checks, {CLIENTS} concurrent clients for {SINGLE_SECONDS} s: {} calls, {:.0} calls/s, \
         p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        all.len(),
        all.len() as f64 / SINGLE_SECONDS as f64,
        percentile(&all, 0.50).as_secs_f64() * 1000.0,
        percentile(&all, 0.99).as_secs_f64() * 1000.0,
        all.last().copied().unwrap_or_default().as_secs_f64() * 1000.0
    );
}
