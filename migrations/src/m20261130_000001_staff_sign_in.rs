//! Staff sign-in: one-time tokens can belong to a staff member (invitations, the second-factor
//! step), and the last accepted TOTP step is kept so a code cannot be replayed.
//!
//! Columns are added one per statement (SQLite's ALTER TABLE takes one change at a time) and
//! without a foreign key (SQLite cannot add one to an existing table); staff rows are
//! deactivated, never deleted, so nothing dangles.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("one_time_tokens")
                    .add_column(big_integer_null("staff_id"))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table("staff")
                    .add_column(big_integer_null("totp_last_step"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_one_time_tokens_staff_id")
                    .table("one_time_tokens")
                    .col("staff_id")
                    .to_owned(),
            )
            .await
    }
}
