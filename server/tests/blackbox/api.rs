//! The consent API: keys only in the Authorization header, scoped and revocable; a bulk check
//! that says "no" for unknown, restricted, erased and withdrawn contacts; withdrawals visible on
//! the next call and in the changes feed; errors as JSON with stable codes.

use crate::support;

use crate::support::spawn_app;
use chrono::Utc;
use portal_core::{
    apikeys::{self, Scope},
    consents::{self, Change, Channel, Purpose},
    requests::{self, Details, Kind, Submitter},
};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn check(
    app: &support::TestApp,
    key: &str,
    purpose: &str,
    contacts: &[&str],
) -> (StatusCode, Value) {
    let r = app
        .client
        .post(app.url("/api/v1/consent/check"))
        .header("authorization", format!("Bearer {key}"))
        .json(&json!({"purpose": purpose, "contacts": contacts}))
        .send()
        .await
        .unwrap();
    (r.status(), r.json().await.unwrap_or_default())
}

fn answers(v: &Value) -> Vec<bool> {
    v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["may_contact"].as_bool().unwrap())
        .collect()
}

async fn consent(app: &support::TestApp, c: i64, p: Purpose, on: bool) {
    let change = Change {
        purpose: p,
        granted: on,
        channel: Channel::Portal,
        recorded_by: None,
        notice_version: Some(1),
    };
    consents::record(&app.portal.db, c, change, Utc::now())
        .await
        .unwrap();
}

#[test]
fn the_bulk_check_says_yes_only_for_customers_who_said_yes_and_withdrawal_shows_at_once() {
    crate::support::run(async {
        let app = spawn_app().await;
        let now = Utc::now();
        let (_, key) = apikeys::create(
            &app.portal.db,
            "campaign tool",
            &[Scope::ConsentCheck, Scope::ConsentChanges],
            None,
            now,
        )
        .await
        .unwrap();
        let yes = support::customer(&app, "yes@example.com", "zh").await;
        let no = support::customer(&app, "no@example.com", "zh").await;
        let restricted = support::customer(&app, "restricted@example.com", "zh").await;
        let erased = support::customer(&app, "erased@example.com", "zh").await;
        for c in [yes, restricted, erased] {
            consent(&app, c, Purpose::MarketingEmail, true).await;
        }
        consent(&app, no, Purpose::MarketingSms, true).await;
        // Restricted through a request; erased through one.
        let officer = portal_core::staff::add(
            &app.portal.db,
            &portal_core::email::Email::parse("po@salon.example").unwrap(),
            &portal_core::staff::StaffName::parse("负责人").unwrap(),
            portal_core::staff::Role::PrivacyOfficer,
        )
        .await
        .unwrap()
        .id;
        for (c, kind) in [(restricted, Kind::Restriction), (erased, Kind::Deletion)] {
            let r = requests::submit(
                &app.portal,
                c,
                kind,
                &Details::default(),
                Submitter::Customer,
                now,
            )
            .await
            .unwrap();
            requests::approve(&app.portal, officer, r.id, now)
                .await
                .unwrap();
        }
        requests::fulfil::run_once(&app.portal, now).await.unwrap();

        let contacts = [
            "YES@example.com",
            "no@example.com",
            "restricted@example.com",
            "erased@example.com",
            "stranger@example.com",
            "not a contact",
        ];
        let (status, body) = check(&app, &key, "marketing_email", &contacts).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(
            answers(&body),
            vec![true, false, false, false, false, false]
        );
        assert_eq!(
            body["results"][0]["contact"], "YES@example.com",
            "answered in the order asked"
        );
        // A profile field never appears: only the contact as sent and yes/no.
        let text = body.to_string();
        assert!(!text.contains("测试顾客") && !text.contains("customer_id"));

        // Withdrawal is visible on the next call, and in the feed.
        consent(&app, yes, Purpose::MarketingEmail, false).await;
        let (_, body) = check(&app, &key, "marketing_email", &["yes@example.com"]).await;
        assert_eq!(answers(&body), vec![false]);
        let feed: Value = app
            .client
            .get(app.url("/api/v1/consent/changes?since=0"))
            .header("authorization", format!("Bearer {key}"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let withdrawals = feed["withdrawals"].as_array().unwrap();
        assert!(
            withdrawals
                .iter()
                .any(|w| w["email"] == "yes@example.com" && w["purpose"] == "marketing_email")
        );
        let next = feed["next"].as_str().unwrap();
        let later: Value = app
            .client
            .get(app.url(&format!("/api/v1/consent/changes?since={next}")))
            .header("authorization", format!("Bearer {key}"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            later["withdrawals"].as_array().unwrap().len(),
            0,
            "nothing new after the cursor"
        );
    })
}

#[test]
fn keys_work_only_in_the_header_within_their_scope_until_revoked_and_errors_have_codes() {
    crate::support::run(async {
        let app = spawn_app().await;
        let now = Utc::now();
        let (id, key) =
            apikeys::create(&app.portal.db, "checker", &[Scope::ConsentCheck], None, now)
                .await
                .unwrap();
        let code = |v: &Value| v["error"]["code"].as_str().unwrap_or_default().to_owned();
        // In the query string: refused even with the right key, and said why.
        let r = app
            .client
            .post(app.url(&format!("/api/v1/consent/check?api_key={key}")))
            .json(&json!({"purpose": "marketing_sms", "contacts": []}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        assert_eq!(code(&r.json().await.unwrap()), "key_in_query");
        let (s, b) = check(&app, "spp_nonsense", "marketing_sms", &[]).await;
        assert_eq!(
            (s, code(&b).as_str()),
            (StatusCode::UNAUTHORIZED, "invalid_key")
        );
        let r = app
            .client
            .post(app.url("/api/v1/consent/check"))
            .json(&json!({"purpose": "marketing_sms", "contacts": []}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(code(&r.json().await.unwrap()), "missing_key");
        let (s, b) = check(&app, &key, "world_domination", &[]).await;
        assert_eq!(
            (s, code(&b).as_str()),
            (StatusCode::BAD_REQUEST, "unknown_purpose")
        );
        let many: Vec<String> = (0..10_001).map(|i| format!("c{i}@example.com")).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        let (s, b) = check(&app, &key, "marketing_sms", &many).await;
        assert_eq!(
            (s, code(&b).as_str()),
            (StatusCode::PAYLOAD_TOO_LARGE, "too_many_contacts")
        );
        let (s, _) = check(&app, &key, "marketing_sms", &many[..10_000]).await;
        assert_eq!(s, StatusCode::OK, "10,000 contacts in one call");
        // Out of scope.
        let r = app
            .client
            .get(app.url("/api/v1/consent/changes"))
            .header("authorization", format!("Bearer {key}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        assert_eq!(code(&r.json().await.unwrap()), "scope");
        // Revoked: refused at once. The key itself was never stored.
        apikeys::revoke(&app.portal.db, id, now).await.unwrap();
        let (s, b) = check(&app, &key, "marketing_sms", &[]).await;
        assert_eq!(
            (s, code(&b).as_str()),
            (StatusCode::UNAUTHORIZED, "invalid_key")
        );
        use sea_orm::{ConnectionTrait, sea_query::Query};
        let stored = app
            .portal
            .db
            .query_one(
                &Query::select()
                    .column("key_hash")
                    .from("api_keys")
                    .to_owned(),
            )
            .await
            .unwrap()
            .unwrap();
        let hash: Vec<u8> = stored.try_get("", "key_hash").unwrap();
        assert_eq!(hash.len(), 32);
        assert!(
            !hash
                .windows(8)
                .any(|w| key.as_bytes().windows(8).any(|k| k == w))
        );
    })
}

#[test]
fn the_openapi_document_is_generated_from_the_handlers_and_describes_both_endpoints() {
    crate::support::run(async {
        let app = spawn_app().await;
        let doc: Value = app
            .client
            .get(app.url("/api/v1/openapi.json"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
        assert!(doc["paths"]["/api/v1/consent/check"]["post"].is_object());
        assert!(doc["paths"]["/api/v1/consent/changes"]["get"].is_object());
        assert_eq!(
            doc["components"]["securitySchemes"]["api_key"]["scheme"],
            "bearer"
        );
        let body = &doc["components"]["schemas"]["CheckBody"]["properties"];
        assert!(body["contacts"].is_object() && body["purpose"].is_object());
        assert!(doc["components"]["schemas"]["ErrorDetail"]["properties"]["code"].is_object());
    })
}

#[test]
fn a_key_past_its_calls_per_minute_is_refused_with_429_and_other_keys_are_not() {
    crate::support::run(async {
        let app = support::spawn_app_with(|s| s.api_calls_per_minute = 3).await;
        let now = Utc::now();
        let make = |name: &'static str| {
            let db = app.portal.db.clone();
            async move {
                apikeys::create(&db, name, &[Scope::ConsentCheck], None, now)
                    .await
                    .unwrap()
                    .1
            }
        };
        let busy = make("busy tool").await;
        let calm = make("calm tool").await;
        for _ in 0..3 {
            let (status, _) = check(&app, &busy, "marketing_email", &["a@example.com"]).await;
            assert_eq!(status, StatusCode::OK);
        }
        let (status, body) = check(&app, &busy, "marketing_email", &["a@example.com"]).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(body["error"]["code"], "rate_limited", "{body}");
        let (status, _) = check(&app, &calm, "marketing_email", &["a@example.com"]).await;
        assert_eq!(status, StatusCode::OK);
    })
}

#[test]
fn the_changes_feed_gives_marketing_withdrawals_only_with_the_channels_own_contact_and_nothing_of_a_restricted_or_erased_customer()
 {
    crate::support::run(async {
        use portal_core::customers::{self, CustomerName, NewCustomer};
        let app = spawn_app().await;
        let now = Utc::now();
        let (_, key) = apikeys::create(&app.portal.db, "sync", &[Scope::ConsentChanges], None, now)
            .await
            .unwrap();
        let mut ids = Vec::new();
        for (email, phone) in [
            ("feed.a@example.com", "+86 139 0000 0991"),
            ("feed.restricted@example.com", "+86 139 0000 0992"),
            ("feed.erased@example.com", "+86 139 0000 0993"),
        ] {
            let new = NewCustomer {
                name: CustomerName::parse("测试顾客").unwrap(),
                email: Some(portal_core::email::Email::parse(email).unwrap()),
                phone: Some(portal_core::phone::Phone::parse(phone).unwrap()),
                language: "zh",
                created_by: None,
                at: now,
            };
            ids.push(
                customers::create(&app.portal.db, &app.portal.vault, &new)
                    .await
                    .unwrap()
                    .0,
            );
        }
        let (a, restricted, erased) = (ids[0], ids[1], ids[2]);
        for c in [a, restricted, erased] {
            for p in Purpose::ALL {
                consent(&app, c, p, true).await;
                consent(&app, c, p, false).await;
            }
        }
        let officer = portal_core::staff::add(
            &app.portal.db,
            &portal_core::email::Email::parse("po@salon.example").unwrap(),
            &portal_core::staff::StaffName::parse("负责人").unwrap(),
            portal_core::staff::Role::PrivacyOfficer,
        )
        .await
        .unwrap()
        .id;
        let r = requests::submit(
            &app.portal,
            restricted,
            Kind::Restriction,
            &Details::default(),
            Submitter::Customer,
            now,
        )
        .await
        .unwrap();
        requests::approve(&app.portal, officer, r.id, now)
            .await
            .unwrap();
        let deletion = requests::submit(
            &app.portal,
            erased,
            Kind::Deletion,
            &Details::default(),
            Submitter::Customer,
            now,
        )
        .await
        .unwrap();
        requests::approve(&app.portal, officer, deletion.id, now)
            .await
            .unwrap();
        requests::fulfil::run_once(&app.portal, now).await.unwrap();
        for id in [r.id, deletion.id] {
            assert_eq!(
                requests::get(&app.portal.db, id).await.unwrap().status,
                portal_core::requests::Status::Done
            );
        }

        let feed: Value = app
            .client
            .get(app.url("/api/v1/consent/changes?since=0"))
            .header("authorization", format!("Bearer {key}"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let items = feed["withdrawals"].as_array().unwrap();
        let mut seen: Vec<(String, Value, Value)> = items
            .iter()
            .map(|w| {
                (
                    w["purpose"].as_str().unwrap().to_owned(),
                    w["email"].clone(),
                    w["phone"].clone(),
                )
            })
            .collect();
        seen.sort_by(|x, y| x.0.cmp(&y.0));
        assert_eq!(
            seen,
            vec![
                (
                    "marketing_email".into(),
                    json!("feed.a@example.com"),
                    Value::Null
                ),
                ("marketing_sms".into(), Value::Null, json!("+8613900000991")),
                (
                    "marketing_wechat".into(),
                    Value::Null,
                    json!("+8613900000991")
                ),
            ],
            "{feed}"
        );
        let text = feed.to_string();
        assert!(!text.contains("feed.restricted") && !text.contains("0992"));
        assert!(!text.contains("feed.erased") && !text.contains("0993"));
    })
}

/// 10,000 contacts of 254 characters each, as the README promises a call may carry (about 2.6 MB
/// of JSON, over axum's default 2 MiB and under the API's 4 MiB).
fn longest_contacts() -> Vec<String> {
    (0..10_000)
        .map(|i| {
            let local = format!("c{i:05}");
            let domain = "d".repeat(254 - local.len() - "@.example".len());
            format!("{local}@{domain}.example")
        })
        .collect()
}

#[test]
fn a_check_of_10000_contacts_of_254_characters_is_answered_up_to_the_documented_4_mib() {
    crate::support::run(async {
        let app = spawn_app().await;
        let (_, key) = apikeys::create(
            &app.portal.db,
            "bulk",
            &[Scope::ConsentCheck],
            None,
            Utc::now(),
        )
        .await
        .unwrap();
        let contacts = longest_contacts();
        assert!(contacts.iter().all(|c| c.len() == 254));
        let body = serde_json::to_vec(&json!({"purpose": "marketing_email", "contacts": contacts}))
            .unwrap();
        assert!(body.len() > 2 * 1024 * 1024 && body.len() < 4 * 1024 * 1024);
        let r = app
            .client
            .post(app.url("/api/v1/consent/check"))
            .header("authorization", format!("Bearer {key}"))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let v: Value = r.json().await.unwrap();
        assert_eq!(answers(&v).len(), 10_000);
        assert!(
            answers(&v).iter().all(|yes| !yes),
            "unknown contacts are a no"
        );
    })
}

#[test]
fn a_body_over_4_mib_gets_413_body_too_large_as_json() {
    crate::support::run(async {
        let app = spawn_app().await;
        let (_, key) = apikeys::create(
            &app.portal.db,
            "bulk",
            &[Scope::ConsentCheck],
            None,
            Utc::now(),
        )
        .await
        .unwrap();
        let padding = "x".repeat(server::API_BODY_LIMIT + 1);
        let body =
            serde_json::to_vec(&json!({"purpose": "marketing_email", "contacts": [padding]}))
                .unwrap();
        let r = app
            .client
            .post(app.url("/api/v1/consent/check"))
            .header("authorization", format!("Bearer {key}"))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(
            server::API_BODY_LIMIT,
            4 * 1024 * 1024,
            "as the README says"
        );
        assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["error"]["code"], "body_too_large");
        assert!(v["error"]["message"].is_string());
    })
}

#[test]
fn without_a_valid_key_any_body_gets_401_before_it_is_read() {
    crate::support::run(async {
        let app = spawn_app().await;
        // A body over the limit is announced and never sent: the answer cannot have waited
        // for it. (Sent whole, the client may still be writing when the portal has answered
        // and closed, which is the point, but reads as a broken pipe.)
        let host = app.address.trim_start_matches("http://").to_owned();
        for auth in ["", "Authorization: Bearer spp_nonsense\r\n"] {
            let head = format!(
                "POST /api/v1/consent/check HTTP/1.1\r\nHost: {host}\r\n{auth}\
                 Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                server::API_BODY_LIMIT + 1
            );
            assert_eq!(
                support::raw_status(&app, head, Vec::new()).await,
                401,
                "{auth}"
            );
        }
        let bodies: [(&str, Vec<u8>); 2] = [
            ("not JSON", b"{{{ not json".to_vec()),
            ("the wrong shape", br#"{"contacts": 3}"#.to_vec()),
        ];
        for (what, body) in bodies {
            for auth in [None, Some("Bearer spp_nonsense")] {
                let mut req = app
                    .client
                    .post(app.url("/api/v1/consent/check"))
                    .header("content-type", "application/json")
                    .body(body.clone());
                if let Some(a) = auth {
                    req = req.header("authorization", a);
                }
                let r = req.send().await.unwrap();
                assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{what}, {auth:?}");
                let v: Value = r.json().await.unwrap();
                assert!(
                    ["missing_key", "invalid_key"].contains(&v["error"]["code"].as_str().unwrap()),
                    "{what}"
                );
            }
        }
    })
}
