//! `make bench`: time to open one customer's full record (contact, service profile, sensitive
//! notes, 200 visits, membership, consents) with sealing, against the same read of the same
//! rows stored unsealed, in the same run on SQLite.

use std::time::Instant;

use chrono::Utc;
use portal_core::{
    Portal, Settings,
    customers::{self, CustomerName, NewCustomer},
    demo::fields,
    email::Email,
    vault::{Field, SecretKey, open, seal},
};
use sea_orm::{
    ConnectionTrait, QueryResult,
    sea_query::{Expr, ExprTrait, Query},
};

const VISITS: usize = 200;
const ROUNDS: usize = 300;

/// One value as stored: sealed, or the plain bytes in the same column.
fn store(key: Option<&SecretKey>, field: Field, row: i64, text: &str) -> Vec<u8> {
    match key {
        Some(k) => seal(k, field, row, text.as_bytes()),
        None => text.as_bytes().to_vec(),
    }
}

fn read(key: Option<&SecretKey>, field: Field, row: i64, bytes: &[u8]) -> usize {
    match key {
        Some(k) => open(k, field, row, bytes)
            .map(|p| String::from_utf8_lossy(&p).len())
            .unwrap_or(0),
        None => String::from_utf8_lossy(bytes).len(),
    }
}

async fn insert_id(db: &impl ConnectionTrait, mut q: sea_orm::sea_query::InsertStatement) -> i64 {
    let row = db
        .query_one(&q.returning_col("id").to_owned())
        .await
        .unwrap()
        .unwrap();
    row.try_get("", "id").unwrap()
}

/// Creates a customer whose record is sealed (`sealed`) or stored plain.
async fn make_customer(p: &Portal, n: usize, sealed: bool) -> i64 {
    let new = NewCustomer {
        name: CustomerName::parse("测试顾客").unwrap(),
        email: Some(Email::parse(&format!("bench{n}@example.com")).unwrap()),
        phone: None,
        language: "zh",
        created_by: None,
        at: Utc::now(),
    };
    let (id, key) = customers::create(&p.db, &p.vault, &new).await.unwrap();
    let key = sealed.then_some(&key);
    let db = &p.db;
    let now = Utc::now();
    db.execute(
        &Query::insert()
            .into_table("service_profiles")
            .columns([
                "customer_id",
                "hair_type_sealed",
                "skin_type_sealed",
                "preferences_sealed",
                "updated_at",
            ])
            .values_panic([
                id.into(),
                store(key, fields::HAIR, id, "wavy").into(),
                store(key, fields::SKIN, id, "dry").into(),
                store(
                    key,
                    fields::PREFERENCES,
                    id,
                    "quiet appointment, tea not coffee",
                )
                .into(),
                now.into(),
            ])
            .to_owned(),
    )
    .await
    .unwrap();
    let nid = insert_id(
        db,
        Query::insert()
            .into_table("sensitive_notes")
            .columns(["customer_id", "category", "body_sealed", "created_at"])
            .values_panic([
                id.into(),
                "allergy".into(),
                Vec::<u8>::new().into(),
                now.into(),
            ])
            .to_owned(),
    )
    .await;
    db.execute(
        &Query::update()
            .table("sensitive_notes")
            .value(
                "body_sealed",
                store(key, fields::SENSITIVE, nid, "allergic to PPD hair dye"),
            )
            .and_where(Expr::col("id").eq(nid))
            .to_owned(),
    )
    .await
    .unwrap();
    for v in 0..VISITS {
        let vid = insert_id(
            db,
            Query::insert()
                .into_table("visits")
                .columns([
                    "customer_id",
                    "visited_at",
                    "services",
                    "amount_cents",
                    "notes_sealed",
                ])
                .values_panic([
                    id.into(),
                    now.into(),
                    "cut".into(),
                    (10_000 + v as i64).into(),
                    Vec::<u8>::new().into(),
                ])
                .to_owned(),
        )
        .await;
        db.execute(
            &Query::update()
                .table("visits")
                .value(
                    "notes_sealed",
                    store(
                        key,
                        fields::VISIT_NOTES,
                        vid,
                        "happy with the result, book again in six weeks",
                    ),
                )
                .and_where(Expr::col("id").eq(vid))
                .to_owned(),
        )
        .await
        .unwrap();
    }
    let mid = insert_id(
        db,
        Query::insert()
            .into_table("memberships")
            .columns([
                "customer_id",
                "card_number_sealed",
                "balance_cents",
                "points",
                "opened_at",
            ])
            .values_panic([
                id.into(),
                Vec::<u8>::new().into(),
                0i64.into(),
                0i64.into(),
                now.into(),
            ])
            .to_owned(),
    )
    .await;
    db.execute(
        &Query::update()
            .table("memberships")
            .value(
                "card_number_sealed",
                store(key, fields::CARD_NUMBER, mid, &format!("VIP{n:06}")),
            )
            .and_where(Expr::col("id").eq(mid))
            .to_owned(),
    )
    .await
    .unwrap();
    id
}

async fn rows(p: &Portal, table: &'static str, cols: &[&'static str], id: i64) -> Vec<QueryResult> {
    let q = Query::select()
        .columns(cols.iter().copied())
        .from(table)
        .and_where(Expr::col("customer_id").eq(id))
        .to_owned();
    p.db.query_all(&q).await.unwrap()
}

/// Reads every category of one record; returns the bytes of plaintext seen.
async fn open_record(p: &Portal, id: i64, sealed: bool) -> usize {
    // Both paths fetch and unwrap the key once: the contact columns are always sealed.
    let k = p.vault.customer_key(&p.db, id).await.unwrap();
    let key = sealed.then_some(&k);
    let mut seen = 0;
    let c =
        p.db.query_one(
            &Query::select()
                .columns(["name_sealed", "email_sealed"])
                .from("customers")
                .and_where(Expr::col("id").eq(id))
                .to_owned(),
        )
        .await
        .unwrap()
        .unwrap();
    let name: Vec<u8> = c.try_get("", "name_sealed").unwrap();
    let email: Vec<u8> = c.try_get("", "email_sealed").unwrap();
    seen +=
        read(Some(&k), customers::NAME, id, &name) + read(Some(&k), customers::EMAIL, id, &email);
    for r in rows(
        p,
        "service_profiles",
        &["hair_type_sealed", "skin_type_sealed", "preferences_sealed"],
        id,
    )
    .await
    {
        for (col, f) in [
            ("hair_type_sealed", fields::HAIR),
            ("skin_type_sealed", fields::SKIN),
            ("preferences_sealed", fields::PREFERENCES),
        ] {
            let b: Vec<u8> = r.try_get("", col).unwrap();
            seen += read(key, f, id, &b);
        }
    }
    for (table, col, f) in [
        ("sensitive_notes", "body_sealed", fields::SENSITIVE),
        ("visits", "notes_sealed", fields::VISIT_NOTES),
        ("memberships", "card_number_sealed", fields::CARD_NUMBER),
    ] {
        for r in rows(p, table, &["id", col], id).await {
            let rid: i64 = r.try_get("", "id").unwrap();
            let b: Vec<u8> = r.try_get("", col).unwrap();
            seen += read(key, f, rid, &b);
        }
    }
    seen += rows(p, "consent_states", &["purpose"], id).await.len();
    seen
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let env = [(
        "PORTAL_DATA_DIR".to_owned(),
        dir.path().display().to_string(),
    )]
    .into_iter()
    .collect();
    let p = Portal::open(Settings::from_sources(&env).unwrap())
        .await
        .unwrap();
    let sealed_id = make_customer(&p, 1, true).await;
    let plain_id = make_customer(&p, 2, false).await;
    assert_eq!(
        open_record(&p, sealed_id, true).await,
        open_record(&p, plain_id, false).await,
        "same record both ways"
    );

    // Interleaved rounds, so both reads see the same machine conditions.
    let (mut t_sealed, mut t_plain) = (std::time::Duration::ZERO, std::time::Duration::ZERO);
    for _ in 0..ROUNDS {
        let t = Instant::now();
        std::hint::black_box(open_record(&p, plain_id, false).await);
        t_plain += t.elapsed();
        let t = Instant::now();
        std::hint::black_box(open_record(&p, sealed_id, true).await);
        t_sealed += t.elapsed();
    }
    let per = |d: std::time::Duration| d.as_secs_f64() * 1000.0 / ROUNDS as f64;
    let (s, u) = (per(t_sealed), per(t_plain));
    println!("full record ({VISITS} visits), SQLite, {ROUNDS} rounds each, release build");
    println!("open without sealing:           {u:8.3} ms");
    println!("open with sealing:              {s:8.3} ms");
    println!(
        "sealing adds:                   {:8.1} % (goal <= 25 %)",
        (s / u - 1.0) * 100.0
    );
}
