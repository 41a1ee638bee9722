//! Issue 16's journeys.
//!
//! * What a recipient needs to find a corrected or deleted record: the register says which
//!   identifiers each recipient was given; each pass-on task keeps their values sealed under a
//!   key of its own, in `pass_on_keys` (the key store, backed up apart from the data), destroyed
//!   when the task is done or after a bounded time, so nothing readable outlives it.
//! * When a customer chose the language of the salon's mail on "My data" (the language they
//!   read the portal in no longer overrides that choice).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("third_parties")
                    .add_column(string_len("identifiers", 64).default(""))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table("customers")
                    .add_column(timestamp_with_time_zone_null("language_chosen_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table("request_propagations")
                    .add_column(binary_null("identifiers_sealed"))
                    .to_owned(),
            )
            .await?;
        // No foreign key: like `customer_keys`, the key store is restored on its own.
        manager
            .create_table(
                Table::create()
                    .table("pass_on_keys")
                    .col(big_integer("propagation_id").primary_key())
                    .col(binary("wrapped_key"))
                    .col(string_len("master_key_id", 16))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("expires_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_pass_on_keys_expires_at")
                    .table("pass_on_keys")
                    .col("expires_at")
                    .to_owned(),
            )
            .await
    }
}
