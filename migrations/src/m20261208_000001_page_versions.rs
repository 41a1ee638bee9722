//! Issue 17: a version number per customer that moves whenever anything their own pages show
//! changes, and one (`customer_id` 0) for what every customer's pages show (notices, purposes,
//! recipients, staff names and roles). A signed-in page may then be served again from
//! memory for as long as both numbers stand still, and on every replica at once: the numbers live
//! in the database, and triggers move them, so no write path (a staff form, a background job,
//! another replica, a restore) can forget to.
//!
//! One row per customer (a narrow table of its own, not a column of `customers`): a bump writes
//! a few bytes, and never fires `customers`' own trigger.

use sea_orm_migration::{prelude::*, schema::*, sea_orm::DatabaseBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Tables whose rows belong to one customer: the table, the customer's id from a row written as
/// `{row}` (NEW or OLD), and the columns whose update matters (`None`: any).
const CUSTOMER_TABLES: &[(&str, &str, Option<&str>)] = &[
    ("customers", "{row}.id", None),
    ("customer_keys", "{row}.customer_id", None),
    ("service_profiles", "{row}.customer_id", None),
    ("sensitive_notes", "{row}.customer_id", None),
    ("visits", "{row}.customer_id", None),
    ("memberships", "{row}.customer_id", None),
    (
        "membership_ledger",
        "(SELECT customer_id FROM memberships WHERE id = {row}.membership_id)",
        None,
    ),
    ("photos", "{row}.customer_id", None),
    (
        "photo_uses",
        "(SELECT customer_id FROM photos WHERE id = {row}.photo_id)",
        None,
    ),
    ("photo_use_events", "{row}.customer_id", None),
    (
        "photo_takedowns",
        "(SELECT customer_id FROM photos WHERE id = {row}.photo_id)",
        None,
    ),
    ("consent_events", "{row}.customer_id", None),
    ("consent_states", "{row}.customer_id", None),
    ("notice_confirmations", "{row}.customer_id", None),
    ("requests", "{row}.customer_id", None),
    (
        "request_events",
        "(SELECT customer_id FROM requests WHERE id = {row}.request_id)",
        None,
    ),
    (
        "request_propagations",
        "(SELECT customer_id FROM requests WHERE id = {row}.request_id)",
        None,
    ),
    ("exports", "{row}.customer_id", None),
    // Claiming a mail for sending changes nothing a customer sees; its being sent does.
    ("mail_outbox", "{row}.customer_id", Some("sent_at")),
    // "Who looked at my data": every staff read of a customer is appended here.
    (
        "audit_log",
        "CASE WHEN {row}.subject_kind = 'customer' THEN {row}.subject_id END",
        None,
    ),
];

/// Tables every customer's pages read, with the columns whose update matters.
const SHARED_TABLES: &[(&str, Option<&str>)] = &[
    ("consent_purposes", None),
    ("privacy_notices", None),
    ("third_parties", None),
    // Sign-in bookkeeping (failed tries, lock, second-factor step) is not shown.
    ("staff", Some("name, role, active")),
];
// Not `settings`: no customer page reads it, and it is written by every audit append (the hash
// chain's head) and by the jobs' bookkeeping, which would end every cached page each time.

fn key_of(expr: &str, row: &str) -> String {
    expr.replace("{row}", row)
}

/// SQLite: one trigger per table and kind of write. `UPDATE` bumps the customer after the
/// write, and the one before it too when the row moved between customers.
fn sqlite_statements() -> Vec<String> {
    let bump = |key: &str, cond: &str| {
        format!(
            "INSERT INTO page_versions (customer_id, version) \
             SELECT k, 1 FROM (SELECT {key} AS k) WHERE k IS NOT NULL AND ({cond}) \
             ON CONFLICT (customer_id) DO UPDATE SET version = page_versions.version + 1;"
        )
    };
    let mut out = Vec::new();
    let mut add = |table: &str,
                   key: &dyn Fn(&str) -> String,
                   cond: &dyn Fn(&str) -> String,
                   cols: Option<&str>| {
        let update_of = cols.map(|c| format!(" OF {c}")).unwrap_or_default();
        out.push(format!(
            "CREATE TRIGGER IF NOT EXISTS pv_{table}_insert AFTER INSERT ON {table} BEGIN {} END",
            bump(&key("NEW"), &cond("NEW"))
        ));
        out.push(format!(
            "CREATE TRIGGER IF NOT EXISTS pv_{table}_update AFTER UPDATE{update_of} ON {table} BEGIN {} {} END",
            bump(&key("NEW"), &cond("NEW")),
            bump(
                &format!("(SELECT CASE WHEN {o} IS NOT {n} THEN {o} END)", o = key("OLD"), n = key("NEW")),
                &cond("OLD")
            )
        ));
        out.push(format!(
            "CREATE TRIGGER IF NOT EXISTS pv_{table}_delete AFTER DELETE ON {table} BEGIN {} END",
            bump(&key("OLD"), &cond("OLD"))
        ));
    };
    for (table, expr, cols) in CUSTOMER_TABLES {
        add(table, &|row| key_of(expr, row), &|_| "1".to_owned(), *cols);
    }
    for (table, cols) in SHARED_TABLES {
        add(table, &|_| "0".to_owned(), &|_| "TRUE".to_owned(), *cols);
    }
    out
}

/// PostgreSQL: one trigger function per table, run at commit.
fn postgres_statements() -> Vec<String> {
    let mut out = Vec::new();
    let mut add = |table: &str,
                   key: &dyn Fn(&str) -> String,
                   cond: &dyn Fn(&str) -> String,
                   cols: Option<&str>| {
        let update_of = cols.map(|c| format!(" OF {c}")).unwrap_or_default();
        out.push(format!(
            r#"CREATE OR REPLACE FUNCTION pv_{table}() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE k bigint; j bigint;
BEGIN
  IF TG_OP = 'DELETE' THEN
    IF {old_cond} THEN k := {old}; END IF;
  ELSE
    IF {new_cond} THEN k := {new}; END IF;
    IF TG_OP = 'UPDATE' AND {old_cond} THEN j := {old}; END IF;
  END IF;
  IF j IS NOT NULL AND j IS DISTINCT FROM k THEN
    INSERT INTO page_versions (customer_id, version) VALUES (j, 1)
      ON CONFLICT (customer_id) DO UPDATE SET version = page_versions.version + 1;
  END IF;
  IF k IS NOT NULL THEN
    INSERT INTO page_versions (customer_id, version) VALUES (k, 1)
      ON CONFLICT (customer_id) DO UPDATE SET version = page_versions.version + 1;
  END IF;
  RETURN NULL;
END $$"#,
            old = key("OLD"),
            new = key("NEW"),
            old_cond = cond("OLD"),
            new_cond = cond("NEW"),
        ));
        out.push(format!("DROP TRIGGER IF EXISTS pv_{table} ON {table}"));
        // Deferred to the commit: the row lock on `page_versions` is taken last and held for
        // the commit only. Taken at each write, it inverted the order of other locks: an audit
        // append (the chain's head, then a customer's number) met a transaction that had bumped
        // that customer's number and then wanted the chain's head, and PostgreSQL broke the
        // deadlock by failing one of them.
        out.push(format!(
            "CREATE CONSTRAINT TRIGGER pv_{table} AFTER INSERT OR UPDATE{update_of} OR DELETE \
             ON {table} DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION pv_{table}()"
        ));
    };
    for (table, expr, cols) in CUSTOMER_TABLES {
        add(
            table,
            &|row| key_of(expr, row),
            &|_| "TRUE".to_owned(),
            *cols,
        );
    }
    for (table, cols) in SHARED_TABLES {
        add(table, &|_| "0".to_owned(), &|_| "TRUE".to_owned(), *cols);
    }
    out
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("page_versions")
                    .if_not_exists()
                    .col(big_integer("customer_id").primary_key())
                    .col(big_integer("version").default(0))
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        let statements = match manager.get_database_backend() {
            DatabaseBackend::Postgres => postgres_statements(),
            _ => sqlite_statements(),
        };
        for sql in statements {
            db.execute_unprepared(&sql).await?;
        }
        Ok(())
    }
}
