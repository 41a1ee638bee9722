//! Per-photo consent. A photo's public uses (the salon portfolio, each named social platform)
//! become rows of `photo_uses`, each with an optional end date, and every change is an event of
//! `photo_use_events` (append-only, like the consent ledger). Withdrawing or losing a public use
//! opens a task in `photo_takedowns`; a task outlives the photo (an erased customer's photo may
//! still be up on a platform), so it keeps its own reference instead of a cascading key.
//!
//! The old single-use columns of `photos` are carried over and then dropped, so there is one
//! place that says what a photo may be used for.

use sea_orm_migration::sea_orm::{ConnectionTrait, prelude::ChronoDateTimeUtc};
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

fn fk(
    table: &'static str,
    col: &'static str,
    to: &'static str,
    on_delete: ForeignKeyAction,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(format!("fk_{table}_{col}"))
        .from(table, col)
        .to(to, "id")
        .on_delete(on_delete)
        .take()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use ForeignKeyAction::{Cascade, SetNull};
        manager
            .create_table(
                Table::create()
                    .table("photo_uses")
                    .col(big_integer("photo_id"))
                    .col(string_len("use_code", 32))
                    .col(timestamp_with_time_zone_null("ends_at"))
                    .col(timestamp_with_time_zone("granted_at"))
                    .primary_key(Index::create().col("photo_id").col("use_code"))
                    .foreign_key(&mut fk("photo_uses", "photo_id", "photos", Cascade))
                    .take(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("photo_use_events")
                    .col(big_pk_auto("id"))
                    .col(big_integer("photo_id"))
                    .col(big_integer("customer_id"))
                    .col(string_len("use_code", 32))
                    .col(boolean("granted"))
                    .col(timestamp_with_time_zone_null("ends_at"))
                    .col(timestamp_with_time_zone("at"))
                    .col(string_len("channel", 16))
                    .col(string_len("reason", 16))
                    .col(big_integer_null("recorded_by_staff_id"))
                    .foreign_key(&mut fk("photo_use_events", "photo_id", "photos", Cascade))
                    .foreign_key(&mut fk(
                        "photo_use_events",
                        "customer_id",
                        "customers",
                        Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "photo_use_events",
                        "recorded_by_staff_id",
                        "staff",
                        SetNull,
                    ))
                    .take(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("photo_takedowns")
                    .col(big_pk_auto("id"))
                    .col(big_integer_null("photo_id"))
                    .col(big_integer("photo_ref"))
                    .col(timestamp_with_time_zone("photo_taken_at"))
                    .col(string_len("use_code", 32))
                    .col(string_len("reason", 16))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone_null("done_at"))
                    .col(big_integer_null("done_by_staff_id"))
                    .foreign_key(&mut fk("photo_takedowns", "photo_id", "photos", SetNull))
                    .foreign_key(&mut fk(
                        "photo_takedowns",
                        "done_by_staff_id",
                        "staff",
                        SetNull,
                    ))
                    .take(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_photo_uses_ends_at")
                    .table("photo_uses")
                    .col("ends_at")
                    .take(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_photo_use_events_photo_id")
                    .table("photo_use_events")
                    .col("photo_id")
                    .take(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_photo_takedowns_done_at")
                    .table("photo_takedowns")
                    .col("done_at")
                    .take(),
            )
            .await?;

        // Carry the old single use over: "portfolio" → portfolio, "social" → one row per named
        // platform; "internal" needs no row (keeping the photo is the internal record).
        let db = manager.get_connection();
        let rows = db
            .query_all(
                &Query::select()
                    .columns([
                        "id",
                        "customer_id",
                        "taken_at",
                        "permitted_use",
                        "platforms",
                        "use_ends_at",
                    ])
                    .from("photos")
                    .to_owned(),
            )
            .await?;
        for r in rows {
            let id: i64 = r.try_get("", "id")?;
            let customer: i64 = r.try_get("", "customer_id")?;
            let taken: ChronoDateTimeUtc = r.try_get("", "taken_at")?;
            let used: String = r.try_get("", "permitted_use")?;
            let platforms: Option<String> = r.try_get("", "platforms")?;
            let ends: Option<ChronoDateTimeUtc> = r.try_get("", "use_ends_at")?;
            let codes: Vec<String> = match used.as_str() {
                "portfolio" => vec!["portfolio".into()],
                "social" => platforms
                    .unwrap_or_default()
                    .split(',')
                    .map(str::trim)
                    .filter(|p| !p.is_empty())
                    .map(|p| format!("social:{p}"))
                    .collect(),
                _ => vec![],
            };
            for code in codes {
                let ins = Query::insert()
                    .into_table("photo_uses")
                    .columns(["photo_id", "use_code", "ends_at", "granted_at"])
                    .values_panic([id.into(), code.clone().into(), ends.into(), taken.into()])
                    .to_owned();
                db.execute(&ins).await?;
                let ev = Query::insert()
                    .into_table("photo_use_events")
                    .columns([
                        "photo_id",
                        "customer_id",
                        "use_code",
                        "granted",
                        "ends_at",
                        "at",
                        "channel",
                        "reason",
                    ])
                    .values_panic([
                        id.into(),
                        customer.into(),
                        code.into(),
                        true.into(),
                        ends.into(),
                        taken.into(),
                        "front_desk".into(),
                        "carried_over".into(),
                    ])
                    .to_owned();
                db.execute(&ev).await?;
            }
        }
        // One column per statement: SQLite takes a single change per ALTER TABLE.
        for col in ["permitted_use", "platforms", "use_ends_at"] {
            manager
                .alter_table(Table::alter().table("photos").drop_column(col).to_owned())
                .await?;
        }
        Ok(())
    }
}
