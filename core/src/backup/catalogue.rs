//! What a backup carries: every table in foreign-key order with its columns and their kinds.
//! A migration that adds a column adds it here too; a test holds the two equal.

/// Column kinds, enough to read and write every column on both engines.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    I64,
    I32,
    Text,
    Bool,
    Bytes,
    Time,
}

use Kind::*;

/// Every table in foreign-key order, with its columns (`?` marks NULL-able).
pub(super) const TABLES: &[(&str, &[(&str, Kind)])] = &[
    (
        "settings",
        &[("key", Text), ("value", Text), ("updated_at", Time)],
    ),
    (
        "staff",
        &[
            ("id", I64),
            ("email", Text),
            ("name", Text),
            ("role", Text),
            ("password_hash?", Text),
            ("totp_secret_sealed?", Bytes),
            ("active", Bool),
            ("failed_sign_ins", I32),
            ("locked_until?", Time),
            ("created_at", Time),
            ("updated_at", Time),
            ("totp_last_step?", I64),
        ],
    ),
    (
        "vault_keys",
        &[
            ("id", I64),
            ("name", Text),
            ("wrapped_key", Bytes),
            ("master_key_id", Text),
            ("created_at", Time),
        ],
    ),
    (
        "customers",
        &[
            ("id", I64),
            ("name_sealed", Bytes),
            ("email_sealed?", Bytes),
            ("phone_sealed?", Bytes),
            ("email_index?", Bytes),
            ("phone_index?", Bytes),
            ("preferred_language", Text),
            ("created_by_staff_id?", I64),
            ("created_at", Time),
            ("updated_at", Time),
            ("erased_at?", Time),
            ("restricted_at?", Time),
            ("retention_notified_at?", Time),
            ("last_signed_in_at?", Time),
            ("language_chosen_at?", Time),
        ],
    ),
    (
        "service_profiles",
        &[
            ("customer_id", I64),
            ("hair_type_sealed?", Bytes),
            ("skin_type_sealed?", Bytes),
            ("preferred_stylist_id?", I64),
            ("preferences_sealed?", Bytes),
            ("updated_at", Time),
        ],
    ),
    (
        "sensitive_notes",
        &[
            ("id", I64),
            ("customer_id", I64),
            ("category", Text),
            ("body_sealed", Bytes),
            ("recorded_by_staff_id?", I64),
            ("created_at", Time),
        ],
    ),
    (
        "visits",
        &[
            ("id", I64),
            ("customer_id?", I64),
            ("visited_at", Time),
            ("services", Text),
            ("stylist_id?", I64),
            ("amount_cents", I64),
            ("notes_sealed?", Bytes),
        ],
    ),
    (
        "memberships",
        &[
            ("id", I64),
            ("customer_id?", I64),
            ("card_number_sealed", Bytes),
            ("card_number_index?", Bytes),
            ("balance_cents", I64),
            ("points", I64),
            ("opened_at", Time),
            ("closed_at?", Time),
        ],
    ),
    (
        "membership_ledger",
        &[
            ("id", I64),
            ("membership_id", I64),
            ("at", Time),
            ("kind", Text),
            ("amount_cents", I64),
            ("points_delta", I64),
            ("balance_after_cents", I64),
            ("visit_id?", I64),
        ],
    ),
    (
        "photos",
        &[
            ("id", I64),
            ("customer_id", I64),
            ("taken_at", Time),
            ("kind", Text),
            ("content_type", Text),
            ("file_name", Text),
            ("size_bytes", I64),
            ("taken_by_staff_id?", I64),
        ],
    ),
    (
        "photo_uses",
        &[
            ("photo_id", I64),
            ("use_code", Text),
            ("ends_at?", Time),
            ("granted_at", Time),
        ],
    ),
    (
        "photo_use_events",
        &[
            ("id", I64),
            ("photo_id", I64),
            ("customer_id", I64),
            ("use_code", Text),
            ("granted", Bool),
            ("ends_at?", Time),
            ("at", Time),
            ("channel", Text),
            ("reason", Text),
            ("recorded_by_staff_id?", I64),
        ],
    ),
    (
        "photo_takedowns",
        &[
            ("id", I64),
            ("photo_id?", I64),
            ("photo_ref", I64),
            ("photo_taken_at", Time),
            ("use_code", Text),
            ("reason", Text),
            ("created_at", Time),
            ("done_at?", Time),
            ("done_by_staff_id?", I64),
        ],
    ),
    (
        "consent_purposes",
        &[
            ("code", Text),
            ("sort_order", I32),
            ("name_zh", Text),
            ("name_en", Text),
            ("description_zh", Text),
            ("description_en", Text),
        ],
    ),
    (
        "privacy_notices",
        &[
            ("id", I64),
            ("version", I32),
            ("title_zh", Text),
            ("title_en", Text),
            ("body_zh", Text),
            ("body_en", Text),
            ("requires_confirmation", Bool),
            ("published_at", Time),
            ("published_by_staff_id?", I64),
        ],
    ),
    (
        "consent_events",
        &[
            ("id", I64),
            ("customer_id", I64),
            ("purpose", Text),
            ("granted", Bool),
            ("at", Time),
            ("channel", Text),
            ("recorded_by_staff_id?", I64),
            ("notice_version?", I32),
        ],
    ),
    (
        "notice_confirmations",
        &[
            ("id", I64),
            ("customer_id", I64),
            ("notice_version", I32),
            ("at", Time),
            ("channel", Text),
            ("recorded_by_staff_id?", I64),
        ],
    ),
    (
        "consent_states",
        &[
            ("customer_id", I64),
            ("purpose", Text),
            ("granted", Bool),
            ("event_id", I64),
            ("updated_at", Time),
        ],
    ),
    (
        "requests",
        &[
            ("id", I64),
            ("customer_id?", I64),
            ("kind", Text),
            ("status", Text),
            ("details_sealed?", Bytes),
            ("submitted_at", Time),
            ("due_at", Time),
            ("extended_at?", Time),
            ("extension_reason?", Text),
            ("submitted_by_staff_id?", I64),
            ("decided_by_staff_id?", I64),
            ("decided_at?", Time),
            ("decision_reason?", Text),
            ("completed_at?", Time),
            ("outcome?", Text),
            ("assigned_staff_id?", I64),
            ("reminded_at?", Time),
            ("overdue_notified_at?", Time),
        ],
    ),
    (
        "request_events",
        &[
            ("id", I64),
            ("request_id", I64),
            ("at", Time),
            ("actor_kind", Text),
            ("actor_staff_id?", I64),
            ("from_status?", Text),
            ("to_status", Text),
            ("note?", Text),
        ],
    ),
    (
        "third_parties",
        &[
            ("id", I64),
            ("name", Text),
            ("data_shared_zh", Text),
            ("data_shared_en", Text),
            ("purpose_zh", Text),
            ("purpose_en", Text),
            ("identifiers", Text),
        ],
    ),
    (
        "request_propagations",
        &[
            ("id", I64),
            ("request_id", I64),
            ("third_party_id", I64),
            ("status", Text),
            ("confirmed_at?", Time),
            ("identifiers_sealed?", Bytes),
        ],
    ),
    (
        "sessions",
        &[
            ("id", Text),
            ("subject_kind", Text),
            ("customer_id?", I64),
            ("staff_id?", I64),
            ("created_at", Time),
            ("last_seen_at", Time),
            ("expires_at", Time),
            ("revoked_at?", Time),
        ],
    ),
    (
        "one_time_tokens",
        &[
            ("id", I64),
            ("purpose", Text),
            ("token_hash", Bytes),
            ("code_mac", Bytes),
            ("customer_id?", I64),
            ("target_sealed?", Bytes),
            ("browser_hash?", Bytes),
            ("failed_attempts", I32),
            ("created_at", Time),
            ("expires_at", Time),
            ("used_at?", Time),
            ("staff_id?", I64),
            ("address_index?", Bytes),
        ],
    ),
    (
        "throttle_counters",
        &[
            ("bucket", Bytes),
            ("slot_start", Time),
            ("hits", I32),
            ("last_at", Time),
        ],
    ),
    (
        "staff_signin_buckets",
        &[
            ("bucket", Bytes),
            ("failures", I32),
            ("blocked_until?", Time),
            ("last_failure_at", Time),
        ],
    ),
    (
        "mail_outbox",
        &[
            ("id", I64),
            ("customer_id?", I64),
            ("template", Text),
            ("message_sealed", Bytes),
            ("created_at", Time),
            ("attempts", I32),
            ("next_attempt_at", Time),
            ("claimed_until?", Time),
            ("claimed_by?", Text),
            ("sent_at?", Time),
            ("last_error?", Text),
        ],
    ),
    (
        "audit_log",
        &[
            ("id", I64),
            ("at", Time),
            ("actor_kind", Text),
            ("actor_id?", I64),
            ("role?", Text),
            ("action", Text),
            ("subject_kind?", Text),
            ("subject_id?", I64),
            ("reason?", Text),
            ("prev_hash", Bytes),
            ("hash", Bytes),
        ],
    ),
    (
        "api_keys",
        &[
            ("id", I64),
            ("name", Text),
            ("key_hash", Bytes),
            ("role", Text),
            ("created_by_staff_id?", I64),
            ("created_at", Time),
            ("last_used_at?", Time),
            ("revoked_at?", Time),
        ],
    ),
    (
        "exports",
        &[
            ("id", I64),
            ("request_id", I64),
            ("customer_id", I64),
            ("file_name", Text),
            ("size_bytes", I64),
            ("created_at", Time),
            ("expires_at", Time),
            ("downloaded_at?", Time),
            ("downloads", I32),
        ],
    ),
    (
        "suppression_list",
        &[("contact_hash", Bytes), ("added_at", Time)],
    ),
];

/// The key store, backed up on its own.
pub(super) const KEY_TABLES: &[(&str, &[(&str, Kind)])] = &[
    (
        "customer_keys",
        &[
            ("customer_id", I64),
            ("wrapped_key", Bytes),
            ("master_key_id", Text),
            ("created_at", Time),
        ],
    ),
    (
        "pass_on_keys",
        &[
            ("propagation_id", I64),
            ("wrapped_key", Bytes),
            ("master_key_id", Text),
            ("created_at", Time),
            ("expires_at", Time),
        ],
    ),
];

/// Tables backups leave out on purpose, because the database derives them: `page_versions`
/// (moved by triggers, so restoring the other tables writes it afresh).
const DERIVED: &[(&str, &[(&str, Kind)])] =
    &[("page_versions", &[("customer_id", I64), ("version", I64)])];

/// Every `(table, column)` that backups carry or leave out on purpose ([`DERIVED`]); a test
/// holds it equal to the live schema, so a new migration cannot silently leave a column out of
/// the backups.
pub fn covered_columns() -> Vec<(&'static str, &'static str)> {
    TABLES
        .iter()
        .chain(KEY_TABLES)
        .chain(DERIVED)
        .flat_map(|(t, cols)| cols.iter().map(move |(c, _)| (*t, col_name(c).0)))
        .collect()
}

/// A column spec read: its name, and whether it may be NULL (`name?`).
pub(super) fn col_name(spec: &str) -> (&str, bool) {
    match spec.strip_suffix('?') {
        Some(name) => (name, true),
        None => (spec, false),
    }
}
