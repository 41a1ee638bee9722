//! `make bench`: exporting a customer with 10,000 visits and 50 photos (issue goal: at most 2 s
//! and 100 MB peak memory). Peak memory is the process's high-water mark, reset just before each
//! export (`/proc/self/clear_refs`), so setup does not count.

use std::time::Instant;

use chrono::Utc;
use portal_core::{
    Portal, Settings,
    customers::{self, CustomerName, NewCustomer, record},
    demo::fields,
    email::Email,
    requests::export,
    vault::seal,
};
use sea_orm::{
    ConnectionTrait, TransactionTrait,
    sea_query::{Expr, ExprTrait, Query},
};

const VISITS: usize = 10_000;
const PHOTOS: usize = 50;
const PHOTO_BYTES: usize = 200 * 1024;

fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
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
    let now = Utc::now();
    let (id, key) = customers::create(
        &p.db,
        &p.vault,
        &NewCustomer {
            name: CustomerName::parse("导出测试").unwrap(),
            email: Some(Email::parse("export.bench@example.com").unwrap()),
            phone: None,
            language: "zh",
            created_by: None,
            at: now,
        },
    )
    .await
    .unwrap();
    let tx = p.db.begin().await.unwrap();
    for v in 0..VISITS {
        record::record_visit(
            &tx,
            &p.vault,
            id,
            &record::NewVisit {
                at: now - chrono::Duration::hours(v as i64),
                services: "cut and colour",
                stylist: None,
                amount_cents: 12_800,
                notes: Some("happy with the result; next time a little shorter"),
            },
        )
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
    let photo_dir = dir.path().join("photos");
    std::fs::create_dir_all(&photo_dir).unwrap();
    let mut bytes = vec![0u8; PHOTO_BYTES];
    bytes[..8].copy_from_slice(b"\x89PNG\r\n\x1a\n");
    for n in 0..PHOTOS {
        for (i, b) in bytes.iter_mut().enumerate().skip(8) {
            *b = (i * 31 + n * 7) as u8;
        }
        let file = format!("bench-{n}.png.sealed");
        let r =
            p.db.query_one(
                &Query::insert()
                    .into_table("photos")
                    .columns([
                        "customer_id",
                        "taken_at",
                        "kind",
                        "content_type",
                        "file_name",
                        "size_bytes",
                    ])
                    .values_panic([
                        id.into(),
                        now.into(),
                        "before".into(),
                        "image/png".into(),
                        file.clone().into(),
                        (PHOTO_BYTES as i64).into(),
                    ])
                    .returning_col("id")
                    .to_owned(),
            )
            .await
            .unwrap()
            .unwrap();
        let pid: i64 = r.try_get("", "id").unwrap();
        std::fs::write(
            photo_dir.join(&file),
            seal(&key, fields::PHOTO_FILE, pid, &bytes),
        )
        .unwrap();
        let _ =
            p.db.execute(
                &Query::update()
                    .table("photos")
                    .value("file_name", file)
                    .and_where(Expr::col("id").eq(pid))
                    .to_owned(),
            )
            .await;
    }

    let mut times = Vec::new();
    let mut peaks = Vec::new();
    let mut size = 0;
    for _ in 0..3 {
        let measured = reset_peak();
        let started = Instant::now();
        let built = export::build(&p, id).await.unwrap();
        times.push(started.elapsed());
        if measured && let Some(kib) = peak_rss_kib() {
            peaks.push(kib);
        }
        size = built.size;
        // Dropped unfinished: the file goes.
        drop(built);
    }
    times.sort();
    peaks.sort();
    println!(
        "export of {VISITS} visits and {PHOTOS} photos ({} MB of photos): {:.0} ms median ({:.0}–{:.0} ms), ZIP {:.1} MB (goal ≤ 2,000 ms)",
        PHOTOS * PHOTO_BYTES / 1_000_000,
        times[1].as_secs_f64() * 1e3,
        times[0].as_secs_f64() * 1e3,
        times[2].as_secs_f64() * 1e3,
        size as f64 / 1e6
    );
    match peaks.last() {
        Some(kib) => println!(
            "peak resident memory during the export: {:.1} MB (whole process, goal ≤ 100 MB)",
            *kib as f64 * 1024.0 / 1e6
        ),
        None => println!("peak resident memory: not measurable here (no /proc/self/clear_refs)"),
    }
}
