//! The complete initial schema for everything in product.md.
//!
//! Personal fields are `*_sealed` blobs (AEAD ciphertext, filled by the sealing layer) and are
//! looked up through `*_index` blind indexes, never by plaintext. Money is integer cents.
//! Identifiers are 64-bit integers; tokens and sessions are found by their hashes.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

fn id() -> ColumnDef {
    big_pk_auto("id")
}

fn at(col: &'static str) -> ColumnDef {
    timestamp_with_time_zone(col)
}

fn at_null(col: &'static str) -> ColumnDef {
    timestamp_with_time_zone_null(col)
}

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

fn index(table: &'static str, cols: &[&'static str], unique: bool) -> IndexCreateStatement {
    let mut ix = Index::create();
    ix.name(format!("ix_{table}_{}", cols.join("_")))
        .table(table);
    for c in cols {
        ix.col(*c);
    }
    if unique {
        ix.unique();
    }
    ix.take()
}

/// Tables in creation order (referenced tables first).
fn tables() -> Vec<TableCreateStatement> {
    use ForeignKeyAction::{Cascade, Restrict, SetNull};
    vec![
        Table::create()
            .table("settings")
            .col(string("key").primary_key())
            .col(text("value"))
            .col(at("updated_at"))
            .take(),
        Table::create()
            .table("staff")
            .col(id())
            .col(string_len_uniq("email", 254))
            .col(string_len("name", 100))
            .col(string_len("role", 32))
            .col(string_null("password_hash"))
            .col(binary_null("totp_secret_sealed"))
            .col(boolean("active").default(true))
            .col(integer("failed_sign_ins").default(0))
            .col(at_null("locked_until"))
            .col(at("created_at"))
            .col(at("updated_at"))
            .take(),
        // Wrapped per-customer data keys live apart from the data they open (security.md: a key
        // store backed up on its own), so deleting a row here crypto-shreds every copy of the data.
        Table::create()
            .table("customer_keys")
            .col(big_integer("customer_id").primary_key())
            .col(binary("wrapped_key"))
            .col(string_len("master_key_id", 16))
            .col(at("created_at"))
            .take(),
        // The portal's own keys (blind-index key, data key for mail to no customer), wrapped.
        Table::create()
            .table("vault_keys")
            .col(big_integer("id").primary_key())
            .col(string_len_uniq("name", 32))
            .col(binary("wrapped_key"))
            .col(string_len("master_key_id", 16))
            .col(at("created_at"))
            .take(),
        Table::create()
            .table("customers")
            .col(id())
            .col(binary("name_sealed"))
            .col(binary_null("email_sealed"))
            .col(binary_null("phone_sealed"))
            .col(binary_null("email_index"))
            .col(binary_null("phone_index"))
            .col(string_len("preferred_language", 8).default("zh"))
            .col(big_integer_null("created_by_staff_id"))
            .col(at("created_at"))
            .col(at("updated_at"))
            .col(at_null("erased_at"))
            .foreign_key(&mut fk(
                "customers",
                "created_by_staff_id",
                "staff",
                SetNull,
            ))
            .take(),
        Table::create()
            .table("service_profiles")
            .col(big_integer("customer_id").primary_key())
            .col(binary_null("hair_type_sealed"))
            .col(binary_null("skin_type_sealed"))
            .col(big_integer_null("preferred_stylist_id"))
            .col(binary_null("preferences_sealed"))
            .col(at("updated_at"))
            .foreign_key(&mut fk(
                "service_profiles",
                "customer_id",
                "customers",
                Cascade,
            ))
            .foreign_key(&mut fk(
                "service_profiles",
                "preferred_stylist_id",
                "staff",
                SetNull,
            ))
            .take(),
        Table::create()
            .table("sensitive_notes")
            .col(id())
            .col(big_integer("customer_id"))
            .col(string_len("category", 32))
            .col(binary("body_sealed"))
            .col(big_integer_null("recorded_by_staff_id"))
            .col(at("created_at"))
            .foreign_key(&mut fk(
                "sensitive_notes",
                "customer_id",
                "customers",
                Cascade,
            ))
            .foreign_key(&mut fk(
                "sensitive_notes",
                "recorded_by_staff_id",
                "staff",
                SetNull,
            ))
            .take(),
        // Paid visits are financial records the law makes the salon keep: on erasure the
        // customer link is cut (SET NULL) and the notes are dropped, the amounts stay.
        Table::create()
            .table("visits")
            .col(id())
            .col(big_integer_null("customer_id"))
            .col(at("visited_at"))
            .col(text("services"))
            .col(big_integer_null("stylist_id"))
            .col(big_integer("amount_cents"))
            .col(binary_null("notes_sealed"))
            .foreign_key(&mut fk("visits", "customer_id", "customers", SetNull))
            .foreign_key(&mut fk("visits", "stylist_id", "staff", SetNull))
            .take(),
        Table::create()
            .table("memberships")
            .col(id())
            .col(big_integer_null("customer_id"))
            .col(binary("card_number_sealed"))
            .col(binary_null("card_number_index"))
            .col(big_integer("balance_cents").default(0))
            .col(big_integer("points").default(0))
            .col(at("opened_at"))
            .col(at_null("closed_at"))
            .foreign_key(&mut fk("memberships", "customer_id", "customers", SetNull))
            .take(),
        Table::create()
            .table("membership_ledger")
            .col(id())
            .col(big_integer("membership_id"))
            .col(at("at"))
            .col(string_len("kind", 16))
            .col(big_integer("amount_cents"))
            .col(big_integer("points_delta"))
            .col(big_integer("balance_after_cents"))
            .col(big_integer_null("visit_id"))
            .foreign_key(&mut fk(
                "membership_ledger",
                "membership_id",
                "memberships",
                Restrict,
            ))
            .foreign_key(&mut fk("membership_ledger", "visit_id", "visits", SetNull))
            .take(),
        Table::create()
            .table("photos")
            .col(id())
            .col(big_integer("customer_id"))
            .col(at("taken_at"))
            .col(string_len("kind", 16))
            .col(string_len("content_type", 32))
            .col(string_len("file_name", 128))
            .col(big_integer("size_bytes"))
            .col(string_len("permitted_use", 16))
            .col(string_null("platforms"))
            .col(at_null("use_ends_at"))
            .col(big_integer_null("taken_by_staff_id"))
            .foreign_key(&mut fk("photos", "customer_id", "customers", Cascade))
            .foreign_key(&mut fk("photos", "taken_by_staff_id", "staff", SetNull))
            .take(),
        Table::create()
            .table("consent_purposes")
            .col(string_len("code", 32).primary_key())
            .col(integer("sort_order"))
            .col(string_len("name_zh", 100))
            .col(string_len("name_en", 100))
            .col(text("description_zh"))
            .col(text("description_en"))
            .take(),
        Table::create()
            .table("privacy_notices")
            .col(id())
            .col(integer_uniq("version"))
            .col(string_len("title_zh", 200))
            .col(string_len("title_en", 200))
            .col(text("body_zh"))
            .col(text("body_en"))
            .col(boolean("requires_confirmation").default(false))
            .col(at("published_at"))
            .col(big_integer_null("published_by_staff_id"))
            .foreign_key(&mut fk(
                "privacy_notices",
                "published_by_staff_id",
                "staff",
                SetNull,
            ))
            .take(),
        // Append-only: rows are inserted, never updated; the current state is derived from it.
        Table::create()
            .table("consent_events")
            .col(id())
            .col(big_integer("customer_id"))
            .col(string_len("purpose", 32))
            .col(boolean("granted"))
            .col(at("at"))
            .col(string_len("channel", 16))
            .col(big_integer_null("recorded_by_staff_id"))
            .col(integer_null("notice_version"))
            .foreign_key(&mut fk(
                "consent_events",
                "customer_id",
                "customers",
                Cascade,
            ))
            .foreign_key(
                ForeignKey::create()
                    .name("fk_consent_events_purpose")
                    .from("consent_events", "purpose")
                    .to("consent_purposes", "code")
                    .on_delete(Restrict),
            )
            .foreign_key(&mut fk(
                "consent_events",
                "recorded_by_staff_id",
                "staff",
                SetNull,
            ))
            .take(),
        // Derived from consent_events, kept in the same transaction, so marketing reads one row.
        Table::create()
            .table("consent_states")
            .col(big_integer("customer_id"))
            .col(string_len("purpose", 32))
            .col(boolean("granted"))
            .col(big_integer("event_id"))
            .col(at("updated_at"))
            .primary_key(Index::create().col("customer_id").col("purpose"))
            .foreign_key(&mut fk(
                "consent_states",
                "customer_id",
                "customers",
                Cascade,
            ))
            .foreign_key(&mut fk(
                "consent_states",
                "event_id",
                "consent_events",
                Cascade,
            ))
            .take(),
        Table::create()
            .table("requests")
            .col(id())
            .col(big_integer_null("customer_id"))
            .col(string_len("kind", 16))
            .col(string_len("status", 16))
            .col(binary_null("details_sealed"))
            .col(at("submitted_at"))
            .col(at("due_at"))
            .col(at_null("extended_at"))
            .col(text_null("extension_reason"))
            .col(big_integer_null("submitted_by_staff_id"))
            .col(big_integer_null("decided_by_staff_id"))
            .col(at_null("decided_at"))
            .col(text_null("decision_reason"))
            .col(at_null("completed_at"))
            .col(text_null("outcome"))
            .foreign_key(&mut fk("requests", "customer_id", "customers", SetNull))
            .foreign_key(&mut fk(
                "requests",
                "submitted_by_staff_id",
                "staff",
                SetNull,
            ))
            .foreign_key(&mut fk("requests", "decided_by_staff_id", "staff", SetNull))
            .take(),
        Table::create()
            .table("request_events")
            .col(id())
            .col(big_integer("request_id"))
            .col(at("at"))
            .col(string_len("actor_kind", 16))
            .col(big_integer_null("actor_staff_id"))
            .col(string_len_null("from_status", 16))
            .col(string_len("to_status", 16))
            .col(text_null("note"))
            .foreign_key(&mut fk("request_events", "request_id", "requests", Cascade))
            .take(),
        Table::create()
            .table("third_parties")
            .col(id())
            .col(string_len("name", 100))
            .col(text("data_shared_zh"))
            .col(text("data_shared_en"))
            .col(text("purpose_zh"))
            .col(text("purpose_en"))
            .take(),
        Table::create()
            .table("request_propagations")
            .col(id())
            .col(big_integer("request_id"))
            .col(big_integer("third_party_id"))
            .col(string_len("status", 16))
            .col(at_null("confirmed_at"))
            .foreign_key(&mut fk(
                "request_propagations",
                "request_id",
                "requests",
                Cascade,
            ))
            .foreign_key(&mut fk(
                "request_propagations",
                "third_party_id",
                "third_parties",
                Restrict,
            ))
            .take(),
        Table::create()
            .table("sessions")
            .col(string_len("id", 64).primary_key())
            .col(string_len("subject_kind", 16))
            .col(big_integer_null("customer_id"))
            .col(big_integer_null("staff_id"))
            .col(at("created_at"))
            .col(at("last_seen_at"))
            .col(at("expires_at"))
            .col(at_null("revoked_at"))
            .foreign_key(&mut fk("sessions", "customer_id", "customers", Cascade))
            .foreign_key(&mut fk("sessions", "staff_id", "staff", Cascade))
            .take(),
        Table::create()
            .table("one_time_tokens")
            .col(id())
            .col(string_len("purpose", 16))
            .col(binary_uniq("token_hash"))
            .col(binary("code_mac"))
            .col(big_integer_null("customer_id"))
            .col(binary_null("target_sealed"))
            // SHA-256 of a random handle kept (in a cookie) by the browser that asked, so the
            // code typed there finds its token; every request gets a handle, known address or not.
            .col(binary_null("browser_hash"))
            .col(integer("failed_attempts").default(0))
            .col(at("created_at"))
            .col(at("expires_at"))
            .col(at_null("used_at"))
            .foreign_key(&mut fk(
                "one_time_tokens",
                "customer_id",
                "customers",
                Cascade,
            ))
            .take(),
        // Sign-in throttles live in the database so that they hold across replicas.
        Table::create()
            .table("throttle_hits")
            .col(id())
            .col(binary("bucket"))
            .col(at("at"))
            .take(),
        Table::create()
            .table("mail_outbox")
            .col(id())
            .col(big_integer_null("customer_id"))
            .col(string_len("template", 32))
            .col(binary("message_sealed"))
            .col(at("created_at"))
            .col(integer("attempts").default(0))
            .col(at("next_attempt_at"))
            .col(at_null("claimed_until"))
            .col(string_len_null("claimed_by", 64))
            .col(at_null("sent_at"))
            .col(string_len_null("last_error", 200))
            .foreign_key(&mut fk("mail_outbox", "customer_id", "customers", Cascade))
            .take(),
        Table::create()
            .table("audit_log")
            .col(id())
            .col(at("at"))
            .col(string_len("actor_kind", 16))
            .col(big_integer_null("actor_id"))
            .col(string_len_null("role", 32))
            .col(string_len("action", 64))
            .col(string_len_null("subject_kind", 32))
            .col(big_integer_null("subject_id"))
            .col(text_null("reason"))
            .col(binary("prev_hash"))
            .col(binary("hash"))
            .take(),
        Table::create()
            .table("api_keys")
            .col(id())
            .col(string_len("name", 100))
            .col(binary_uniq("key_hash"))
            .col(string_len("role", 32))
            .col(big_integer_null("created_by_staff_id"))
            .col(at("created_at"))
            .col(at_null("last_used_at"))
            .col(at_null("revoked_at"))
            .foreign_key(&mut fk("api_keys", "created_by_staff_id", "staff", SetNull))
            .take(),
        Table::create()
            .table("exports")
            .col(id())
            .col(big_integer("request_id"))
            .col(big_integer("customer_id"))
            .col(string_len("file_name", 128))
            .col(big_integer("size_bytes"))
            .col(at("created_at"))
            .col(at("expires_at"))
            .col(at_null("downloaded_at"))
            .foreign_key(&mut fk("exports", "request_id", "requests", Cascade))
            .foreign_key(&mut fk("exports", "customer_id", "customers", Cascade))
            .take(),
        // Keyed hashes of erased contact details: marketing can never re-add the person.
        Table::create()
            .table("suppression_list")
            .col(binary("contact_hash").primary_key())
            .col(at("added_at"))
            .take(),
    ]
}

fn indexes() -> Vec<IndexCreateStatement> {
    vec![
        // Unique where one person must be one record; erased customers have NULL indexes.
        index("customers", &["email_index"], true),
        index("customers", &["phone_index"], true),
        index("memberships", &["card_number_index"], true),
        index("visits", &["customer_id"], false),
        index("memberships", &["customer_id"], false),
        index("membership_ledger", &["membership_id"], false),
        index("photos", &["customer_id"], false),
        index("sensitive_notes", &["customer_id"], false),
        index("consent_events", &["customer_id", "purpose"], false),
        index("consent_states", &["purpose", "granted"], false),
        index("requests", &["status", "due_at"], false),
        index("requests", &["customer_id"], false),
        index("request_events", &["request_id"], false),
        index("sessions", &["customer_id"], false),
        index("sessions", &["staff_id"], false),
        index("one_time_tokens", &["customer_id"], false),
        index("one_time_tokens", &["browser_hash"], false),
        index("throttle_hits", &["bucket", "at"], false),
        index("mail_outbox", &["sent_at", "next_attempt_at"], false),
        index("audit_log", &["subject_kind", "subject_id"], false),
        index("exports", &["customer_id"], false),
    ]
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in tables() {
            manager.create_table(table).await?;
        }
        for ix in indexes() {
            manager.create_index(ix).await?;
        }
        let db = manager.get_connection();
        for (i, (code, zh, en, dzh, den)) in PURPOSES.iter().enumerate() {
            let insert = Query::insert()
                .into_table("consent_purposes")
                .columns([
                    "code",
                    "sort_order",
                    "name_zh",
                    "name_en",
                    "description_zh",
                    "description_en",
                ])
                .values_panic([
                    (*code).into(),
                    (i as i32).into(),
                    (*zh).into(),
                    (*en).into(),
                    (*dzh).into(),
                    (*den).into(),
                ])
                .to_owned();
            db.execute(&insert).await?;
        }
        Ok(())
    }
}

/// The six consent purposes of product.md; each is off until the customer turns it on.
const PURPOSES: [(&str, &str, &str, &str, &str); 6] = [
    (
        "marketing_sms",
        "短信营销",
        "Marketing by SMS",
        "通过短信向您发送优惠和活动信息。",
        "Offers and events sent to you by SMS.",
    ),
    (
        "marketing_email",
        "邮件营销",
        "Marketing by email",
        "通过电子邮件向您发送优惠和活动信息。",
        "Offers and events sent to you by email.",
    ),
    (
        "marketing_wechat",
        "微信营销",
        "Marketing by WeChat",
        "通过微信向您发送优惠和活动信息。",
        "Offers and events sent to you on WeChat.",
    ),
    (
        "photos_portfolio",
        "作品集照片",
        "Photos in our portfolio",
        "在店内作品集中展示您的前后对比照片。",
        "Showing your before/after photos in the salon's portfolio.",
    ),
    (
        "photos_social",
        "社交媒体照片",
        "Photos on social media",
        "在社交媒体上发布您的前后对比照片。",
        "Posting your before/after photos on social media.",
    ),
    (
        "sensitive_notes",
        "敏感信息处理",
        "Processing sensitive notes",
        "记录您的过敏史及皮肤、头皮状况，以便安全服务。",
        "Keeping your allergies and skin or scalp conditions so we can serve you safely.",
    ),
];
