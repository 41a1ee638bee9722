//! Staff sign-in delays, one counter row per bucket. A bucket is a keyed hash of the address
//! typed (known or not, so a delay says nothing about whether an account exists), of a client
//! address, or of a trusted browser of one account. `failures` counts consecutive failures
//! (a reservation is counted before the password hash runs); `blocked_until` is the earliest
//! time the next attempt is heard. Rows are swept a day after their last failure.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("staff_signin_buckets")
                    .col(binary("bucket"))
                    .col(integer("failures").default(0))
                    .col(timestamp_with_time_zone_null("blocked_until"))
                    .col(timestamp_with_time_zone("last_failure_at"))
                    .primary_key(Index::create().col("bucket"))
                    .take(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_staff_signin_buckets_last_failure_at")
                    .table("staff_signin_buckets")
                    .col("last_failure_at")
                    .take(),
            )
            .await
    }
}
