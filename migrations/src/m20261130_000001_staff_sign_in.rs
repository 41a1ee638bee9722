//! Staff sign-in: one-time tokens can belong to a staff member (invitations, the second-factor
//! step), and the last accepted TOTP step is kept so a code cannot be replayed. Notice
//! confirmations: which privacy-notice version each customer was shown or confirmed, where.
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
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("notice_confirmations")
                    .col(big_pk_auto("id"))
                    .col(big_integer("customer_id"))
                    .col(integer("notice_version"))
                    .col(timestamp_with_time_zone("at"))
                    .col(string_len("channel", 16))
                    .col(big_integer_null("recorded_by_staff_id"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_notice_confirmations_customer_id")
                            .from("notice_confirmations", "customer_id")
                            .to("customers", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_notice_confirmations_recorded_by_staff_id")
                            .from("notice_confirmations", "recorded_by_staff_id")
                            .to("staff", "id")
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_notice_confirmations_customer_id")
                    .table("notice_confirmations")
                    .col("customer_id")
                    .to_owned(),
            )
            .await
    }
}
