//! The copy a customer asks for: a ZIP written entry by entry to disk, with one JSON file per
//! category (and a JSON Schema for them), a page that opens on a phone, and the photos. The link
//! lives 72 hours and serves at most 3 downloads; the file goes when the link dies.

use std::{
    io::Write,
    path::{Path, PathBuf},
};

use chrono::{DateTime, Duration, Utc};
use sea_orm::{
    ConnectionTrait,
    sea_query::{Expr, ExprTrait, Order, Query},
};
use serde_json::{Value, json};
use zip::{CompressionMethod, ZipWriter, write::SimpleFileOptions};

use super::copy_page::Style;
use crate::{CoreError, Portal, consents, customers, demo::fields, mydata, vault};

/// How long a download link lives.
pub const LIFETIME: Duration = Duration::hours(72);
/// Downloads a link serves.
pub const MAX_DOWNLOADS: i32 = 3;

/// The folder exports are written to.
pub fn dir(portal: &Portal) -> PathBuf {
    portal.settings.data_dir.join("exports")
}

/// The JSON Schema of the files under `data/` (draft 2020-12).
pub const SCHEMA: &str = include_str!("export_schema.json");

fn day(t: DateTime<Utc>) -> String {
    t.to_rfc3339()
}

/// Every category as JSON, ready to be written. Reads everything first (a salon customer's
/// record is small even with 10,000 visits); the photos are read one at a time while writing.
struct Gathered {
    files: Vec<(&'static str, Value)>,
    photos: Vec<(i64, String, String)>,
    key: vault::SecretKey,
    lang: portal_vocab::Lang,
    made: DateTime<Utc>,
}

async fn gather(portal: &Portal, customer: i64) -> Result<Gathered, CoreError> {
    let (db, v) = (&portal.db, &portal.vault);
    let contact = customers::contact(db, v, customer).await?;
    let profile = customers::record::service_profile(db, v, customer).await?;
    let sensitive = customers::record::sensitive_notes(db, v, customer).await?;
    let visits = customers::record::visits(db, v, customer, u64::MAX >> 1).await?;
    let membership = customers::record::membership(db, v, customer).await?;
    let ledger = mydata::ledger(db, customer).await?;
    let states = consents::states(db, customer).await?;
    let history = consents::history(db, customer).await?;
    let reqs = super::for_customer(db, customer).await?;
    let messages = mydata::messages(db, v, customer).await?;
    let access = mydata::access_log(db, customer).await?;
    let sharing = mydata::third_parties(db).await?;
    let lang =
        portal_vocab::Lang::from_tag(&customers::language(db, customer).await?).unwrap_or_default();
    let photo_rows = db
        .query_all(
            &Query::select()
                .columns(["id", "taken_at", "kind", "content_type", "file_name"])
                .from("photos")
                .and_where(Expr::col("customer_id").eq(customer))
                .order_by("id", Order::Asc)
                .to_owned(),
        )
        .await?;
    // The public uses in force (internal record: every photo kept), with their end dates.
    let mut public_uses: std::collections::HashMap<i64, Vec<Value>> =
        crate::photos::for_customer(db, customer, Utc::now())
            .await?
            .into_iter()
            .map(|p| {
                let uses = p
                    .uses
                    .into_iter()
                    .map(|(u, end)| json!({ "use": u.code(), "ends_at": end.map(day) }))
                    .collect();
                (p.id, uses)
            })
            .collect();
    let mut photo_meta = Vec::new();
    let mut photos = Vec::new();
    for r in photo_rows {
        let id: i64 = r.try_get("", "id")?;
        let content_type: String = r.try_get("", "content_type")?;
        let ext = if content_type.contains("jpeg") {
            "jpg"
        } else if content_type.contains("webp") {
            "webp"
        } else {
            "png"
        };
        let name = format!("photos/{id}.{ext}");
        photo_meta.push(json!({
            "id": id,
            "file": name,
            "taken_at": day(r.try_get("", "taken_at")?),
            "kind": r.try_get::<String>("", "kind")?,
            "public_uses": public_uses.remove(&id).unwrap_or_default(),
        }));
        photos.push((id, r.try_get::<String>("", "file_name")?, name));
    }
    let files = vec![
        ("contact", json!({
            "name": contact.name,
            "email": contact.email.map(|e| e.as_str().to_owned()),
            "phone": contact.phone.map(|p| p.as_str().to_owned()),
        })),
        ("service_profile", match profile {
            Some(p) => json!({"hair_type": p.hair_type, "skin_type": p.skin_type, "preferred_stylist": p.preferred_stylist, "preferences": p.preferences}),
            None => Value::Null,
        }),
        ("sensitive_notes", json!(sensitive.into_iter().map(|n| json!({"category": n.category, "note": n.body, "recorded_at": day(n.at)})).collect::<Vec<_>>())),
        ("visits", json!(visits.into_iter().map(|x| json!({"date": day(x.at), "services": x.services, "stylist": x.stylist, "amount_cents": x.amount_cents, "notes": x.notes})).collect::<Vec<_>>())),
        ("membership", json!({
            "card": membership.as_ref().map(|m| m.card_masked.clone()),
            "balance_cents": membership.as_ref().map(|m| m.balance_cents),
            "points": membership.as_ref().map(|m| m.points),
            "ledger": ledger.into_iter().map(|l| json!({"at": day(l.at), "kind": l.kind, "amount_cents": l.amount_cents, "points": l.points_delta, "balance_after_cents": l.balance_after_cents})).collect::<Vec<_>>(),
        })),
        ("photos", json!(photo_meta)),
        ("consents", json!({
            "current": states.into_iter().map(|(p, on)| json!({"purpose": p.code(), "given": on})).collect::<Vec<_>>(),
            "history": history.into_iter().map(|e| json!({"purpose": e.purpose.code(), "given": e.granted, "at": day(e.at), "channel": e.channel, "notice_version": e.notice_version})).collect::<Vec<_>>(),
        })),
        ("requests", json!(reqs.into_iter().map(|r| json!({"id": r.id, "kind": r.kind.as_str(), "status": r.status.as_str(), "submitted_at": day(r.submitted_at), "due_at": day(r.due_at), "reason": r.decision_reason.or(r.extension_reason), "outcome": r.outcome.as_deref().map(|o| super::outcome_text(o, lang))})).collect::<Vec<_>>())),
        ("messages", json!(messages.into_iter().map(|m| json!({"at": day(m.at), "subject": m.subject, "sent": m.sent})).collect::<Vec<_>>())),
        ("access_log", json!(access.into_iter().map(|a| json!({"at": day(a.at), "role": a.role, "action": a.action})).collect::<Vec<_>>())),
        ("sharing", json!(sharing.into_iter().map(|t| json!({"name": t.name, "data_zh": t.data_zh, "data_en": t.data_en, "purpose_zh": t.purpose_zh, "purpose_en": t.purpose_en})).collect::<Vec<_>>())),
    ];
    Ok(Gathered {
        files,
        photos,
        key: v.customer_key(db, customer).await?,
        lang,
        made: Utc::now(),
    })
}

/// The export file on disk, sealed under the customer's key (security.md, "Data at rest"): the
/// copy waits up to 72 hours for its downloads and must die with the customer's key.
pub const FILE: vault::Field = vault::Field::new("exports", "file");

fn write_zip(
    file: std::fs::File,
    path: &Path,
    salon: &str,
    g: &Gathered,
    photo_dir: &Path,
) -> Result<u64, CoreError> {
    let sealing =
        vault::stream::SealingWriter::new(std::io::BufWriter::new(file), g.key.clone(), FILE)?;
    // Written as a stream (no seeking back): the sealed chunks go out in order.
    let mut zip = ZipWriter::new_stream(sealing);
    let deflated = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
    // Photos are already compressed.
    let stored = SimpleFileOptions::default().compression_method(CompressionMethod::Stored);
    let bad = |e: zip::result::ZipError| CoreError::internal("export.zip", e);
    zip.start_file("index.html", deflated).map_err(bad)?;
    let page = super::copy_page::render(salon, g.lang, g.made, &g.files, Style::Inline);
    zip.write_all(page.as_bytes())?;
    crate::failpoint::hit("export.writing");
    zip.start_file("schema.json", deflated).map_err(bad)?;
    zip.write_all(SCHEMA.as_bytes())?;
    for (name, value) in &g.files {
        zip.start_file(format!("data/{name}.json"), deflated)
            .map_err(bad)?;
        serde_json::to_writer_pretty(&mut zip, value)
            .map_err(|e| CoreError::json("export.json", &e))?;
    }
    for (id, file_name, entry) in &g.photos {
        let sealed = std::fs::read(photo_dir.join(file_name))?;
        let plain = vault::open(&g.key, fields::PHOTO_FILE, *id, &sealed)?;
        zip.start_file(entry.as_str(), stored).map_err(bad)?;
        zip.write_all(&plain)?;
    }
    let sealing = zip.finish().map_err(bad)?.into_inner();
    let mut out = sealing.finish()?;
    out.flush()?;
    // On disk before a row says the copy exists.
    out.get_ref().sync_all()?;
    Ok(std::fs::metadata(path)?.len())
}

/// The copy's page for `customer`, made now from what is kept, in `lang`: the same page as the
/// ZIP's, for a browser that cannot open a ZIP (its style from `/copy.css`).
pub async fn page(
    portal: &Portal,
    customer: i64,
    lang: portal_vocab::Lang,
) -> Result<String, CoreError> {
    let g = gather(portal, customer).await?;
    let salon = &portal.settings.salon_name;
    Ok(super::copy_page::render(
        salon,
        lang,
        g.made,
        &g.files,
        Style::Linked,
    ))
}

/// The ending of a copy still being written, or written and not yet committed.
pub const PART: &str = ".part";

/// A copy made for a customer: written as `<name>.part` under an exclusive lock that lives as
/// long as this value. [`Built::finish`] gives it its final name once its row is committed;
/// dropped unfinished (an error, a lost claim) it is removed. After a crash the lock is gone
/// with the process, which is how [`recover_files`](super::erase::recover_files) tells a
/// crash's leftover from a copy another replica is writing now.
pub struct Built {
    /// The final file name, as the `exports` row names it.
    pub name: String,
    /// Its size in bytes.
    pub size: u64,
    part: PathBuf,
    lock: Option<std::fs::File>,
}

impl Built {
    /// Gives the committed copy its final name. Its row is committed: even when the rename
    /// fails, the file stays (the next start's recovery names it).
    pub fn finish(mut self) -> std::io::Result<()> {
        let done = std::fs::rename(&self.part, self.part.with_file_name(&self.name));
        self.lock = None;
        done
    }
}

impl Drop for Built {
    fn drop(&mut self) {
        if self.lock.take().is_some() {
            let _ = std::fs::remove_file(&self.part);
        }
    }
}

/// Whether `file` (open) is still the file at `path`, not one removed from under it.
pub(crate) fn same_file(file: &std::fs::File, path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        match (file.metadata(), std::fs::symlink_metadata(path)) {
            (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino() && a.nlink() > 0,
            _ => false,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = file;
        path.exists()
    }
}

/// Writes `customer`'s copy (see [`Built`]); the caller commits its row, then finishes it.
pub async fn build(portal: &Portal, customer: i64) -> Result<Built, CoreError> {
    let g = gather(portal, customer).await?;
    let dir = dir(portal);
    std::fs::create_dir_all(&dir)?;
    let name = format!("{}.zip", uuid::Uuid::new_v4().simple());
    let part = dir.join(format!("{name}{PART}"));
    let file = {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        options.open(&part)?
    };
    // Never waits: a fresh file is locked by nobody, unless another replica's recovery has
    // just opened it, which then removes it (it has no row): this attempt fails, the request
    // stays approved and is carried out on the next round.
    file.try_lock()
        .map_err(|_| CoreError::Invalid("export.locked"))?;
    if !same_file(&file, &part) {
        return Err(CoreError::Invalid("export.removed"));
    }
    // A second handle on the same open file holds the lock once the writer closes its own.
    let lock = file.try_clone()?;
    let mut built = Built {
        name,
        size: 0,
        part: part.clone(),
        lock: Some(lock),
    };
    let salon = portal.settings.salon_name.clone();
    let photo_dir = portal.settings.data_dir.join("photos");
    built.size =
        tokio::task::spawn_blocking(move || write_zip(file, &part, &salon, &g, &photo_dir))
            .await
            .map_err(|_| CoreError::Invalid("export.task"))??;
    crate::failpoint::hit("export.written");
    Ok(built)
}

/// One export as the customer's page lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ready {
    /// `exports.id`.
    pub id: i64,
    /// The request it answers.
    pub request: i64,
    /// When it was made.
    pub made_at: DateTime<Utc>,
    /// Until when it can be downloaded.
    pub expires_at: DateTime<Utc>,
    /// Downloads left.
    pub downloads_left: i32,
    /// Size in bytes.
    pub size: i64,
}

/// The customer's exports that can still be downloaded.
pub async fn ready(
    db: &impl ConnectionTrait,
    customer: i64,
    now: DateTime<Utc>,
) -> Result<Vec<Ready>, CoreError> {
    let q = Query::select()
        .columns([
            "id",
            "request_id",
            "created_at",
            "expires_at",
            "downloads",
            "size_bytes",
        ])
        .from("exports")
        .and_where(Expr::col("customer_id").eq(customer))
        .and_where(Expr::col("expires_at").gt(now))
        .and_where(Expr::col("downloads").lt(MAX_DOWNLOADS))
        .order_by("id", Order::Desc)
        .to_owned();
    db.query_all(&q)
        .await?
        .iter()
        .map(|r| {
            Ok(Ready {
                id: r.try_get("", "id")?,
                request: r.try_get("", "request_id")?,
                made_at: r.try_get("", "created_at")?,
                expires_at: r.try_get("", "expires_at")?,
                downloads_left: MAX_DOWNLOADS - r.try_get::<i32>("", "downloads")?,
                size: r.try_get("", "size_bytes")?,
            })
        })
        .collect()
}

/// Why a download is refused.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    /// Not this customer's, expired, or used up.
    Gone,
}

/// Opens the sealed export file at `path` of `customer`: the ZIP to serve.
pub async fn open_file(
    portal: &Portal,
    customer: i64,
    path: &Path,
) -> Result<zeroize::Zeroizing<Vec<u8>>, CoreError> {
    let key = portal.vault.customer_key(&portal.db, customer).await?;
    let sealed = tokio::fs::read(path).await?;
    tokio::task::spawn_blocking(move || vault::stream::open_file(&key, FILE, &sealed))
        .await
        .map_err(|_| CoreError::Invalid("export.task"))?
        .map_err(CoreError::from)
}

/// Counts one download of `export` by `customer` (one conditional UPDATE, so 3 is 3 even when
/// requests race) and returns the file's path, and whether this was the last download: its
/// caller reads the file and then removes it ([`sweep`] leaves it alone meanwhile).
pub async fn take(
    portal: &Portal,
    customer: i64,
    export: i64,
    now: DateTime<Utc>,
) -> Result<Result<(PathBuf, bool), Refused>, CoreError> {
    let q = Query::update()
        .table("exports")
        .value("downloads", Expr::col("downloads").add(1))
        .value("downloaded_at", now)
        .and_where(Expr::col("id").eq(export))
        .and_where(Expr::col("customer_id").eq(customer))
        .and_where(Expr::col("expires_at").gt(now))
        .and_where(Expr::col("downloads").lt(MAX_DOWNLOADS))
        .to_owned();
    if portal.db.execute(&q).await?.rows_affected() != 1 {
        return Ok(Err(Refused::Gone));
    }
    let r = portal
        .db
        .query_one(
            &Query::select()
                .columns(["file_name", "downloads"])
                .from("exports")
                .and_where(Expr::col("id").eq(export))
                .to_owned(),
        )
        .await?
        .ok_or(CoreError::NotFound)?;
    let name: String = r.try_get("", "file_name")?;
    let last = r.try_get::<i32>("", "downloads")? >= MAX_DOWNLOADS;
    Ok(Ok((dir(portal).join(name), last)))
}

/// How long a used-up copy's file is left to the download that used it up: that download
/// removes it once served, and the sweep only catches one that never did (a crash).
pub const LAST_DOWNLOAD_GRACE: chrono::Duration = chrono::Duration::minutes(10);

/// Removes the files of exports whose link has died (expired, or used up at least
/// [`LAST_DOWNLOAD_GRACE`] ago) and their rows.
pub async fn sweep(portal: &Portal, now: DateTime<Utc>) -> Result<usize, CoreError> {
    use sea_orm::sea_query::Condition;
    let q = Query::select()
        .columns(["id", "file_name"])
        .from("exports")
        .cond_where(
            Condition::any().add(Expr::col("expires_at").lte(now)).add(
                Condition::all()
                    .add(Expr::col("downloads").gte(MAX_DOWNLOADS))
                    .add(Expr::col("downloaded_at").lte(now - LAST_DOWNLOAD_GRACE)),
            ),
        )
        .to_owned();
    let mut n = 0;
    for r in portal.db.query_all(&q).await? {
        let id: i64 = r.try_get("", "id")?;
        let name: String = r.try_get("", "file_name")?;
        match std::fs::remove_file(dir(portal).join(&name)) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                tracing::error!(error = %e, "an expired export could not be removed");
                continue;
            }
        }
        portal
            .db
            .execute(
                &Query::delete()
                    .from_table("exports")
                    .and_where(Expr::col("id").eq(id))
                    .to_owned(),
            )
            .await?;
        n += 1;
    }
    Ok(n)
}
