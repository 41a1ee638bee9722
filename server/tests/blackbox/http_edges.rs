//! The edges of HTTP: statuses that say whose fault a failure was (so monitoring counts only the
//! portal's own), body limits however a body arrives, redirects that are real redirects, the
//! security headers on every answer, and request data shaped to break things.

use crate::support;

use std::time::Duration;

use crate::support::{PUBLIC_URL, spawn_app};
use app::{me::CancelRequest, notices::GetNotice, staff::team::AcceptInvite};
use leptos::server_fn::ServerFn;
use reqwest::StatusCode;

/// A server-function call as the hydrated page's client makes it: same origin, no
/// `Accept: text/html`, so the answer is the function's own status, not a form redirect.
async fn call(
    app: &support::TestApp,
    path: &str,
    content_type: &str,
    body: impl Into<reqwest::Body>,
) -> reqwest::Response {
    app.client
        .post(app.url(path))
        .header("origin", PUBLIC_URL)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .expect("request reaches the test server")
}

const FORM: &str = "application/x-www-form-urlencoded";

/// `size` bytes of form body, sent in 8 KiB chunks without a `Content-Length`.
fn chunked_form(size: usize) -> Vec<u8> {
    let mut body = Vec::new();
    let payload = format!("lang=En&pad={}", "x".repeat(size));
    for chunk in payload.as_bytes().chunks(8 * 1024) {
        body.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        body.extend_from_slice(chunk);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(b"0\r\n\r\n");
    body
}

#[test]
fn server_functions_answer_400_for_arguments_they_cannot_decode() {
    crate::support::run(async {
        let app = spawn_app().await;
        let cases: [(&str, &str, Vec<u8>); 5] = [
            ("an unknown enum value", FORM, b"lang=Klingon".to_vec()),
            ("a missing argument", FORM, b"version=1".to_vec()),
            ("an empty body", FORM, Vec::new()),
            ("invalid UTF-8", FORM, b"lang=En&version=\xff\xfe".to_vec()),
            (
                "a form sent as JSON",
                "application/json",
                br#"{"lang": "En"}"#.to_vec(),
            ),
        ];
        for (what, content_type, body) in cases {
            let r = call(&app, GetNotice::PATH, content_type, body).await;
            assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{what}");
        }
        // The portal still answers a well-formed call.
        let r = call(&app, GetNotice::PATH, FORM, "lang=En").await;
        assert_eq!(r.status(), StatusCode::OK);
    })
}

#[test]
fn server_functions_answer_404_for_things_that_do_not_exist() {
    crate::support::run(async {
        let app = spawn_app().await;
        for version in ["999", "not-a-number"] {
            let r = call(
                &app,
                GetNotice::PATH,
                FORM,
                format!("lang=En&version={version}"),
            )
            .await;
            assert_eq!(r.status(), StatusCode::NOT_FOUND, "version {version}");
        }
    })
}

#[test]
fn server_functions_answer_401_to_a_signed_out_customer() {
    crate::support::run(async {
        let app = spawn_app().await;
        let r = call(&app, CancelRequest::PATH, FORM, "id=1").await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        // A form post from a page still lands on the sign-in page.
        let r = app
            .browser_post(CancelRequest::PATH, &[("id", "1")], "")
            .await;
        assert_eq!(r.status(), StatusCode::FOUND);
        assert!(support::location(&r).starts_with("/signin"));
    })
}

#[test]
fn server_functions_answer_403_to_a_member_of_staff_whose_role_may_not() {
    crate::support::run(async {
        use app::staff::team::Team;
        use portal_core::{sessions::Subject, staff::Role};
        let app = spawn_app().await;
        let desk = support::staff_member(
            &app,
            "desk.403@salon.example",
            Role::FrontDesk,
            "a long enough password",
        )
        .await;
        let officer = support::staff_member(
            &app,
            "po.403@salon.example",
            Role::PrivacyOfficer,
            "a long enough password",
        )
        .await;
        let list = |cookie: String| {
            app.client
                .post(app.url(Team::PATH))
                .header("origin", PUBLIC_URL)
                .header("content-type", FORM)
                .header("cookie", cookie)
                .body("")
                .send()
        };
        let r = list(support::signed_in_as(&app, Subject::Staff(desk)).await)
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        assert!(
            !r.text().await.unwrap().contains("po.403"),
            "the team list stays closed"
        );
        let r = list(support::signed_in_as(&app, Subject::Staff(officer)).await)
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "the officer manages staff");
    })
}

#[test]
fn server_function_bodies_over_the_limit_answer_413_whether_chunked_or_not() {
    crate::support::run(async {
        let app = spawn_app().await;
        let size = server::BODY_LIMIT + 1024;
        let host = app.address.trim_start_matches("http://").to_owned();
        let head = format!(
            "POST {} HTTP/1.1\r\nHost: {host}\r\nOrigin: {PUBLIC_URL}\r\n\
         Content-Type: {FORM}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
            GetNotice::PATH
        );
        assert_eq!(
            support::raw_status(&app, head, chunked_form(size)).await,
            413
        );
        let announced = format!("lang=En&pad={}", "x".repeat(size));
        let r = call(&app, GetNotice::PATH, FORM, announced).await;
        assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
        // A chunked body under the limit is read as usual.
        let head = format!(
            "POST {} HTTP/1.1\r\nHost: {host}\r\nOrigin: {PUBLIC_URL}\r\n\
         Content-Type: {FORM}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
            GetNotice::PATH
        );
        assert_eq!(
            support::raw_status(&app, head, chunked_form(1024)).await,
            200
        );
    })
}

#[test]
fn a_get_that_redirects_is_a_real_redirect_whatever_it_accepts() {
    crate::support::run(async {
        let app = spawn_app().await;
        for (path, to) in [("/me", "/signin?next=/me"), ("/staff", "/staff/signin")] {
            for accept in [
                None,
                Some("*/*"),
                Some("application/json"),
                Some("text/html"),
            ] {
                let mut req = app.client.get(app.url(path));
                if let Some(a) = accept {
                    req = req.header("accept", a);
                }
                let r = req.send().await.unwrap();
                assert_eq!(
                    r.status(),
                    StatusCode::FOUND,
                    "{path} with Accept {accept:?}"
                );
                assert!(
                    support::location(&r).starts_with(to),
                    "{path} with Accept {accept:?}"
                );
                assert!(r.headers().get("serverfnredirect").is_none());
            }
        }
    })
}

/// The headers every answer carries, whatever made it.
const SECURITY_HEADERS: [&str; 7] = [
    "content-security-policy",
    "x-content-type-options",
    "referrer-policy",
    "x-frame-options",
    "cross-origin-opener-policy",
    "permissions-policy",
    "cache-control",
];

#[test]
fn the_hidden_dev_mailbox_404_carries_the_same_security_headers_as_every_answer() {
    crate::support::run(async {
        let app = support::spawn_app_with(|s| s.smtp_url = Some("smtp://127.0.0.1:1".into())).await;
        let hidden = app
            .client
            .get(app.url("/dev/mailbox"))
            .send()
            .await
            .unwrap();
        assert_eq!(hidden.status(), StatusCode::NOT_FOUND);
        let page = app
            .client
            .get(app.url("/no-such-page"))
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), StatusCode::NOT_FOUND);
        for name in SECURITY_HEADERS {
            assert!(
                hidden.headers().get(name).is_some(),
                "{name} on the hidden mailbox"
            );
            assert!(page.headers().get(name).is_some(), "{name} on a 404 page");
        }
        assert_eq!(hidden.headers()["x-content-type-options"], "nosniff");
        assert_eq!(hidden.headers()["cache-control"], "no-store");
        assert!(
            hidden.headers()["content-security-policy"]
                .to_str()
                .unwrap()
                .contains("frame-ancestors 'none'")
        );
    })
}

#[test]
fn the_language_switch_sends_only_ascii_percent_safe_paths_to_location() {
    crate::support::run(async {
        let app = spawn_app().await;
        for (next, expected) in [
            ("/%FF", "/"),
            ("/caf%C3%A9", "/"),
            ("/%E4%BD%A0%E5%A5%BD", "/"),
            ("/privacy%09x", "/"),
            ("/privacy/1?x=%2541", "/privacy/1?x=%41"),
            ("/privacy/1", "/privacy/1"),
        ] {
            let r = app
                .client
                .post(app.url("/lang"))
                .header("origin", PUBLIC_URL)
                .header("content-type", FORM)
                .body(format!("lang=en&next={next}"))
                .send()
                .await
                .unwrap();
            assert!(r.status().is_redirection(), "{next}");
            assert_eq!(
                r.headers()["location"].as_bytes(),
                expected.as_bytes(),
                "next={next}"
            );
        }
    })
}

#[test]
fn an_invitation_token_with_a_control_character_non_ascii_or_over_long_never_breaks_the_request() {
    crate::support::run(async {
        let app = spawn_app().await;
        let long = "a".repeat(10_000);
        let spaced = format!("{} b", "a".repeat(41));
        let tokens = [
            "abc\u{1}def",
            "\r\nSet-Cookie: x=1",
            "\u{7f}",
            "éééééééééééééééééééééééééééééééééééééééééé",
            "令牌",
            long.as_str(),
            spaced.as_str(),
        ];
        for t in tokens {
            let form = [("t", t), ("password", "a long enough password 2026")];
            // As a form without JavaScript posts it: a clean redirect that carries no token.
            let r = app.browser_post(AcceptInvite::PATH, &form, "").await;
            assert_eq!(r.status(), StatusCode::FOUND, "{t:?}");
            assert_eq!(
                r.headers()["location"].as_bytes(),
                b"/staff/invite?error=expired",
                "{t:?}"
            );
            // As the hydrated page calls it: an answer, never a 500.
            let r = app
                .client
                .post(app.url(AcceptInvite::PATH))
                .header("origin", PUBLIC_URL)
                .form(&form)
                .send()
                .await
                .expect("an answer, not a dropped connection");
            assert!(!r.status().is_server_error(), "{t:?}: {}", r.status());
        }
    })
}

/// A member of staff with `role` and a live session cookie (the second factor is not the
/// point here).
async fn staff_cookie(
    app: &support::TestApp,
    email: &str,
    role: portal_core::staff::Role,
) -> String {
    use portal_core::{email::Email, sessions, staff};
    let id = staff::add(
        &app.portal.db,
        &Email::parse(email).unwrap(),
        &staff::StaffName::parse("员工").unwrap(),
        role,
    )
    .await
    .unwrap()
    .id;
    support::signed_in_as(app, sessions::Subject::Staff(id)).await
}

async fn audit_rows(app: &support::TestApp) -> usize {
    portal_core::audit::list(&app.portal.db, &portal_core::audit::Filter::default(), 1000)
        .await
        .unwrap()
        .len()
}

/// A top-level navigation as a browser sends it, with `Sec-Fetch-Site` when given.
async fn navigate(
    app: &support::TestApp,
    path: &str,
    cookie: &str,
    site: Option<&str>,
) -> reqwest::Response {
    let mut req = app
        .client
        .get(app.url(path))
        .header("cookie", cookie)
        .header("accept", "text/html")
        .header("accept-language", "en");
    if let Some(site) = site {
        req = req
            .header("sec-fetch-site", site)
            .header("sec-fetch-mode", "navigate");
    }
    req.send().await.unwrap()
}

#[test]
fn a_staff_page_that_audits_a_read_refuses_a_navigation_from_another_site_and_writes_nothing() {
    crate::support::run(async {
        let app = spawn_app().await;
        let cookie = staff_cookie(
            &app,
            "desk@salon.example",
            portal_core::staff::Role::FrontDesk,
        )
        .await;
        let customer = support::customer(&app, "record@example.com", "en").await;
        let path = format!("/staff/customers/{customer}");
        let before = audit_rows(&app).await;
        for site in ["cross-site", "same-site"] {
            let r = navigate(&app, &path, &cookie, Some(site)).await;
            assert_eq!(r.status(), StatusCode::FORBIDDEN, "{site}");
            let html = r.text().await.unwrap();
            assert!(
                html.contains(&format!("href=\"{path}\"")),
                "a link to go on: {html}"
            );
            assert_eq!(audit_rows(&app).await, before, "{site}: no audit row");
        }
        // The same page from the site itself, typed in, or by a tool: read and audited.
        for site in [Some("same-origin"), Some("none"), None] {
            let seen = audit_rows(&app).await;
            let r = navigate(&app, &path, &cookie, site).await;
            assert_eq!(r.status(), StatusCode::OK, "{site:?}");
            assert!(
                audit_rows(&app).await > seen,
                "{site:?}: the read is audited"
            );
        }
    })
}

#[test]
fn the_opted_in_csv_export_refuses_a_navigation_from_another_site_and_writes_nothing() {
    crate::support::run(async {
        let app = spawn_app().await;
        let cookie = staff_cookie(
            &app,
            "mk@salon.example",
            portal_core::staff::Role::Marketing,
        )
        .await;
        let path = "/staff/marketing/export.csv?channel=marketing_email";
        let before = audit_rows(&app).await;
        for site in ["cross-site", "same-site"] {
            let r = navigate(&app, path, &cookie, Some(site)).await;
            assert_eq!(r.status(), StatusCode::FORBIDDEN, "{site}");
            assert_eq!(
                audit_rows(&app).await,
                before,
                "{site}: no export, no audit row"
            );
        }
        let r = navigate(&app, path, &cookie, Some("same-origin")).await;
        assert_eq!(r.status(), StatusCode::OK);
        assert!(
            r.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/csv")
        );
        assert_eq!(audit_rows(&app).await, before + 1, "the export is audited");
    })
}

#[test]
fn an_export_download_refuses_a_navigation_from_another_site_and_is_not_used_up() {
    crate::support::run(async {
        use portal_core::requests::{self, Details, Kind, Status, Submitter, export};
        let app = spawn_app().await;
        let me = support::customer(&app, "copy@example.com", "en").await;
        let officer = portal_core::staff::add(
            &app.portal.db,
            &portal_core::email::Email::parse("po@salon.example").unwrap(),
            &portal_core::staff::StaffName::parse("负责人").unwrap(),
            portal_core::staff::Role::PrivacyOfficer,
        )
        .await
        .unwrap()
        .id;
        let now = chrono::Utc::now();
        let r = requests::submit(
            &app.portal,
            me,
            Kind::Access,
            &Details::default(),
            Submitter::Customer,
            now,
        )
        .await
        .unwrap();
        requests::approve(&app.portal, officer, r.id, now)
            .await
            .unwrap();
        let db = &app.portal.db;
        assert!(
            support::eventually(Duration::from_secs(20), || async {
                requests::get(db, r.id).await.unwrap().status == Status::Done
            })
            .await,
            "the copy is built"
        );
        let ready = export::ready(db, me, chrono::Utc::now()).await.unwrap();
        let path = format!("/me/exports/{}", ready[0].id);
        let cookie =
            support::signed_in_as(&app, portal_core::sessions::Subject::Customer(me)).await;
        // Three refused cross-site attempts use up nothing of the three downloads.
        for site in ["cross-site", "same-site", "cross-site"] {
            let r = navigate(&app, &path, &cookie, Some(site)).await;
            assert_eq!(r.status(), StatusCode::FORBIDDEN, "{site}");
        }
        for n in 1..=3 {
            let r = navigate(&app, &path, &cookie, Some("same-origin")).await;
            assert_eq!(r.status(), StatusCode::OK, "download {n}");
            assert_eq!(r.headers()["content-type"], "application/zip");
        }
        let r = navigate(&app, &path, &cookie, Some("same-origin")).await;
        assert_eq!(
            r.status(),
            StatusCode::NOT_FOUND,
            "three downloads, then gone"
        );
    })
}

#[test]
fn the_staff_sign_in_and_invitation_pages_open_from_a_link_in_mail() {
    crate::support::run(async {
        let app = spawn_app().await;
        for path in ["/staff/signin", "/staff/invite?t=x"] {
            let r = navigate(&app, path, "", Some("cross-site")).await;
            assert_eq!(r.status(), StatusCode::OK, "{path}");
        }
    })
}
