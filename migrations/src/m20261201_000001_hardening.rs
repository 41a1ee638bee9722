//! Hardening after the outside review (issue 14): when a customer last signed in (retention
//! counts a sign-in as activity, as its notice says), and, on sign-in tokens, the keyed hash of
//! the address they were asked for, known or not, so failed codes can be capped per address
//! across tokens without telling known addresses from unknown ones.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("customers")
                    .add_column(timestamp_with_time_zone_null("last_signed_in_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table("one_time_tokens")
                    .add_column(binary_null("address_index"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_one_time_tokens_address_index")
                    .table("one_time_tokens")
                    .col("address_index")
                    .to_owned(),
            )
            .await?;
        Ok(())
    }
}
