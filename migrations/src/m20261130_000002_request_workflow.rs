//! Request workflow: who a request is assigned to, and when the privacy officer was reminded of
//! its due date and told it passed (so each reminder is sent once, by one replica); and the
//! restriction of a customer's data (frozen from `restricted_at` until lifted); and how many
//! times an export was downloaded (at most 3); when a long-inactive customer was told their
//! record will be deleted (retention).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for col in ["assigned_staff_id"] {
            manager
                .alter_table(
                    Table::alter()
                        .table("requests")
                        .add_column(big_integer_null(col))
                        .to_owned(),
                )
                .await?;
        }
        for col in ["reminded_at", "overdue_notified_at"] {
            manager
                .alter_table(
                    Table::alter()
                        .table("requests")
                        .add_column(timestamp_with_time_zone_null(col))
                        .to_owned(),
                )
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table("exports")
                    .add_column(integer("downloads").default(0))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table("customers")
                    .add_column(timestamp_with_time_zone_null("restricted_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table("customers")
                    .add_column(timestamp_with_time_zone_null("retention_notified_at"))
                    .to_owned(),
            )
            .await?;
        Ok(())
    }
}
