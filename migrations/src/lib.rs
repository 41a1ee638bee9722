//! Forward-only schema migrations. Each file is applied once, in order, on SQLite and PostgreSQL
//! alike; a released migration is never edited, only followed by a new one.

pub use sea_orm_migration::prelude::*;

mod m20261129_000001_initial_schema;
mod m20261130_000001_staff_sign_in;
mod m20261130_000002_request_workflow;
mod m20261130_000003_photo_uses;
mod m20261201_000001_hardening;
mod m20261201_000005_staff_signin_buckets;
mod m20261206_000001_pass_on_identifiers;
mod m20261207_000001_throttle_counters;
mod m20261208_000001_page_versions;

/// Every migration of the portal, in the order they apply.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261129_000001_initial_schema::Migration),
            Box::new(m20261130_000001_staff_sign_in::Migration),
            Box::new(m20261130_000002_request_workflow::Migration),
            Box::new(m20261130_000003_photo_uses::Migration),
            Box::new(m20261201_000001_hardening::Migration),
            Box::new(m20261201_000005_staff_signin_buckets::Migration),
            Box::new(m20261206_000001_pass_on_identifiers::Migration),
            Box::new(m20261207_000001_throttle_counters::Migration),
            Box::new(m20261208_000001_page_versions::Migration),
        ]
    }
}
