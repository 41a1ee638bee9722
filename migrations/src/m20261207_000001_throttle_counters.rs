//! Issue 17: the sign-in throttles count in one row per bucket and slot (an upsert) instead of
//! one row per hit, so a hit costs the same at any rate. A slot is a twelfth of its limit's
//! window, and keeps the time of its latest hit; a check adds up the window's slots. The hits of the last day are carried over into
//! five-minute slots (every limit kept in the database had a one-hour window), so an upgrade
//! forgets no count; then the old table goes.

use chrono::{DateTime, Utc};
use sea_orm_migration::{
    prelude::*,
    schema::*,
    sea_orm::{ConnectionTrait, TransactionTrait},
};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The slot length of a one-hour window (a twelfth of it), in seconds.
const OLD_SLOT_SECS: i64 = 300;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("throttle_counters")
                    .if_not_exists()
                    .col(binary("bucket"))
                    .col(timestamp_with_time_zone("slot_start"))
                    .col(integer("hits").default(0))
                    .col(timestamp_with_time_zone("last_at"))
                    .primary_key(Index::create().col("bucket").col("slot_start"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .if_not_exists()
                    .name("ix_throttle_counters_slot_start")
                    .table("throttle_counters")
                    .col("slot_start")
                    .to_owned(),
            )
            .await?;
        // SQLite runs a migration's steps one by one: a start after a crash half-way finds the
        // new table made and perhaps the old one gone, and carries over what is left.
        if !manager.has_table("throttle_hits").await? {
            return Ok(());
        }
        let db = manager.get_connection();
        let since = Utc::now() - chrono::Duration::days(1);
        let rows = db
            .query_all(
                &Query::select()
                    .columns(["bucket", "at"])
                    .from("throttle_hits")
                    .and_where(Expr::col("at").gt(since))
                    .to_owned(),
            )
            .await?;
        let mut counts: std::collections::BTreeMap<(Vec<u8>, i64), (i32, DateTime<Utc>)> =
            Default::default();
        for r in rows {
            let bucket: Vec<u8> = r.try_get("", "bucket")?;
            let at: DateTime<Utc> = r.try_get("", "at")?;
            let slot = counts
                .entry((bucket, at.timestamp().div_euclid(OLD_SLOT_SECS)))
                .or_insert((0, at));
            slot.0 += 1;
            slot.1 = Ord::max(slot.1, at);
        }
        let tx = db.begin().await?;
        for ((bucket, slot), (hits, last)) in counts {
            let start = DateTime::<Utc>::from_timestamp(slot * OLD_SLOT_SECS, 0)
                .ok_or_else(|| DbErr::Custom("throttle slot out of range".into()))?;
            tx.execute(
                &Query::insert()
                    .into_table("throttle_counters")
                    .columns(["bucket", "slot_start", "hits", "last_at"])
                    .values_panic([bucket.into(), start.into(), hits.into(), last.into()])
                    .on_conflict(
                        OnConflict::columns(["bucket", "slot_start"])
                            .do_nothing()
                            .to_owned(),
                    )
                    .to_owned(),
            )
            .await?;
        }
        tx.commit().await?;
        manager
            .drop_table(Table::drop().table("throttle_hits").to_owned())
            .await
    }
}
