//! A signed-in customer's own pages are served again from memory (`page_cache::MyPages`) while
//! nothing they show has changed: to their own live session only, never after it ends, and
//! never past a change made anywhere (a staff form, a background job, another replica).

use crate::support::{self, spawn_app};
use portal_core::{
    consents::{self, Purpose},
    sessions::{self, Subject},
};
use reqwest::StatusCode;
use sea_orm::{ConnectionTrait, Statement};

async fn page(app: &support::TestApp, path: &str, cookie: &str) -> reqwest::Response {
    app.client
        .get(app.url(path))
        .header("cookie", cookie)
        .header("accept", "text/html")
        .header("accept-language", "en")
        .send()
        .await
        .unwrap()
}

/// The page and the nonce its CSP header names.
async fn page_text(app: &support::TestApp, path: &str, cookie: &str) -> (String, String) {
    let r = page(app, path, cookie).await;
    assert_eq!(r.status(), StatusCode::OK, "{path}");
    assert_eq!(r.headers()["cache-control"], "no-store");
    let nonce = r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .split("'nonce-")
        .nth(1)
        .and_then(|s| s.split('\'').next())
        .unwrap()
        .to_owned();
    (r.text().await.unwrap(), nonce)
}

async fn customer_id(app: &support::TestApp, email: &str) -> i64 {
    portal_core::customers::find_by_email(
        &app.portal.db,
        &app.portal.vault,
        &portal_core::email::Email::parse(email).unwrap(),
    )
    .await
    .unwrap()
    .unwrap()
}

fn switch_shown(html: &str, purpose: &str) -> bool {
    html.contains(&format!(r#"data-purpose="{purpose}" data-on="true""#))
}

async fn own_version(app: &support::TestApp, customer: i64) -> i64 {
    support::count(
        app,
        &format!("SELECT COALESCE(MAX(version), 0) AS n FROM page_versions WHERE customer_id = {customer}"),
    )
    .await
}

async fn set_own_version(app: &support::TestApp, customer: i64, version: i64) {
    let db = &app.portal.db;
    db.execute_raw(Statement::from_string(
        db.get_database_backend(),
        format!("UPDATE page_versions SET version = {version} WHERE customer_id = {customer}"),
    ))
    .await
    .unwrap();
}

#[test]
fn each_customer_is_served_their_own_page_again_with_a_fresh_nonce_and_never_after_sign_out() {
    crate::support::run(async {
        let app = spawn_app().await;
        portal_core::demo::load(&app.portal).await.unwrap();
        let a = customer_id(&app, "customer002@example.com").await;
        let b = customer_id(&app, "customer003@example.com").await;
        let cookie_a = support::signed_in_as(&app, Subject::Customer(a)).await;
        let cookie_b = support::signed_in_as(&app, Subject::Customer(b)).await;
        let mut nonces = std::collections::HashSet::new();
        for _ in 0..3 {
            for (cookie, mine, theirs) in [
                (
                    &cookie_a,
                    "customer002@example.com",
                    "customer003@example.com",
                ),
                (
                    &cookie_b,
                    "customer003@example.com",
                    "customer002@example.com",
                ),
            ] {
                let (html, nonce) = page_text(&app, "/me", cookie).await;
                assert!(html.contains(mine), "their own page");
                assert!(!html.contains(theirs), "nobody else's");
                assert!(
                    html.contains(&format!(r#"nonce="{nonce}""#)),
                    "the page carries this response's nonce"
                );
                assert!(nonces.insert(nonce), "a nonce is never used twice");
            }
        }
        // Another browser of the same customer, signed in on its own, is served too; then
        // the first signs out and its cookie gets no page, copy or not.
        let other_a = support::signed_in_as(&app, Subject::Customer(a)).await;
        assert!(
            page_text(&app, "/me", &other_a)
                .await
                .0
                .contains("customer002@example.com")
        );
        let session_a = app
            .portal
            .db
            .query_one_raw(Statement::from_string(
                app.portal.db.get_database_backend(),
                format!(
                    "SELECT id FROM sessions WHERE customer_id = {a} ORDER BY created_at LIMIT 1"
                ),
            ))
            .await
            .unwrap()
            .unwrap()
            .try_get::<String>("", "id")
            .unwrap();
        sessions::end(&app.portal.db, &session_a, chrono::Utc::now())
            .await
            .unwrap();
        for path in ["/me", "/me/consents", "/me/requests"] {
            let r = page(&app, path, &cookie_a).await;
            assert_ne!(r.status(), StatusCode::OK, "{path} after sign-out");
            assert!(!r.text().await.unwrap().contains("customer002@example.com"));
        }
        assert!(
            page_text(&app, "/me", &other_a)
                .await
                .0
                .contains("customer002@example.com")
        );
    })
}

#[test]
fn a_page_is_served_from_memory_until_the_customers_page_version_moves() {
    crate::support::run(async {
        let app = spawn_app().await;
        let c = support::customer(&app, "versions@example.com", "en").await;
        let cookie = support::signed_in_as(&app, Subject::Customer(c)).await;
        let (html, _) = page_text(&app, "/me/consents", &cookie).await;
        assert!(!switch_shown(&html, "marketing_email"));
        // A change whose version bump is then undone (as if a write path had missed it): the
        // page in memory is served, which shows the version is all that is checked...
        let before = own_version(&app, c).await;
        let now = chrono::Utc::now();
        consents::customer_switch(&app.portal, c, Purpose::MarketingEmail, true, false, now)
            .await
            .unwrap();
        assert!(own_version(&app, c).await > before, "the switch moved it");
        set_own_version(&app, c, before).await;
        let (html, _) = page_text(&app, "/me/consents", &cookie).await;
        assert!(
            !switch_shown(&html, "marketing_email"),
            "served from memory"
        );
        // ...and once it moves, the page is rendered again, with the change.
        set_own_version(&app, c, before + 1).await;
        let (html, _) = page_text(&app, "/me/consents", &cookie).await;
        assert!(switch_shown(&html, "marketing_email"), "rendered anew");
    })
}

#[test]
fn changes_made_by_staff_jobs_or_another_replica_show_on_the_customers_next_page() {
    crate::support::run(async {
        let (app, _sink) = support::app_with_sink().await;
        let c = support::customer(&app, "elsewhere@example.com", "en").await;
        let cookie = support::signed_in_as(&app, Subject::Customer(c)).await;
        let now = chrono::Utc::now();

        // A consent recorded at the front desk (a write this portal's memory never saw).
        let (html, _) = page_text(&app, "/me/consents", &cookie).await;
        assert!(!switch_shown(&html, "marketing_sms"));
        consents::customer_switch(&app.portal, c, Purpose::MarketingSms, true, false, now)
            .await
            .unwrap();
        let (html, _) = page_text(&app, "/me/consents", &cookie).await;
        assert!(
            switch_shown(&html, "marketing_sms"),
            "the switch shows at once"
        );

        // A request filed elsewhere (the front desk, another replica): listed, and its mail
        // shown on "My data".
        let messages = |html: &str| {
            let s = &html[html.find("data-section=\"messages\"").unwrap()..];
            s[..s.find("</section>").unwrap()].to_owned()
        };
        let (requests_before, _) = page_text(&app, "/me/requests", &cookie).await;
        let (mine_before, _) = page_text(&app, "/me", &cookie).await;
        let id = portal_core::requests::submit(
            &app.portal,
            c,
            portal_core::requests::Kind::Access,
            &portal_core::requests::Details::default(),
            portal_core::requests::Submitter::Customer,
            now,
        )
        .await
        .unwrap()
        .id;
        let listed = format!(r#"data-request="{id}""#);
        let mailed = format!("(no. {id})");
        assert!(!requests_before.contains(&listed));
        assert!(!messages(&mine_before).contains(&mailed));
        let (html, _) = page_text(&app, "/me/requests", &cookie).await;
        assert!(html.contains(&listed), "the new request is listed");
        let (html, _) = page_text(&app, "/me", &cookie).await;
        assert!(messages(&html).contains(&mailed), "{}", messages(&html));

        // A new notice that needs confirming comes first, on the very next page.
        app.portal
            .publish_notice(portal_core::notices::NewNotice {
                title_zh: "新版隐私声明",
                title_en: "New privacy notice",
                body_zh: "正文",
                body_en: "Body",
                requires_confirmation: true,
                published_by: None,
            })
            .await
            .unwrap();
        let r = page(&app, "/me", &cookie).await;
        assert_ne!(
            r.status(),
            StatusCode::OK,
            "sent to confirm the new notice first"
        );
    })
}

#[test]
fn every_table_a_customers_pages_read_moves_a_page_version_on_each_write() {
    crate::support::run(async {
        let app = spawn_app().await;
        let db = &app.portal.db;
        let backend = db.get_database_backend();
        let rows = |sql: &str| {
            let sql = sql.to_owned();
            async move {
                db.query_all_raw(Statement::from_string(backend, sql))
                    .await
                    .unwrap()
                    .into_iter()
                    .map(|r| r.try_get::<String>("", "t").unwrap())
                    .collect::<std::collections::BTreeSet<String>>()
            }
        };
        let (columns, triggers) = match backend {
            sea_orm::DatabaseBackend::Postgres => (
                "SELECT table_name::text AS t FROM information_schema.columns WHERE table_schema = 'public' AND column_name IN ('customer_id', 'request_id', 'photo_id', 'membership_id', 'subject_id')",
                "SELECT event_object_table::text AS t FROM information_schema.triggers WHERE trigger_name LIKE 'pv\\_%'",
            ),
            _ => (
                "SELECT m.name AS t FROM sqlite_master m JOIN pragma_table_info(m.name) p WHERE m.type = 'table' AND p.name IN ('customer_id', 'request_id', 'photo_id', 'membership_id', 'subject_id')",
                "SELECT tbl_name AS t FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'pv\\_%' ESCAPE '\\'",
            ),
        };
        let holding = rows(columns).await;
        let moving = rows(triggers).await;
        // Rows of a customer that no page of theirs shows: sign-in bookkeeping, and the page
        // versions themselves. Any other table naming a customer must move their number.
        let not_shown = [
            "sessions",
            "one_time_tokens",
            "page_versions",
            "pass_on_keys",
        ];
        for table in &holding {
            assert!(
                moving.contains(table) || not_shown.contains(&table.as_str()),
                "{table} names a customer but moves no page version"
            );
        }
        for table in [
            "customers",
            "consent_purposes",
            "privacy_notices",
            "third_parties",
            "staff",
        ] {
            assert!(moving.contains(table), "{table}");
        }
    })
}
