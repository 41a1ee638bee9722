//! Black-box tests of the foundation: health, pages, language, protections, configuration.
//! Each test runs its own portal on port 0 with a fresh database (SQLite, or PostgreSQL when
//! `TEST_POSTGRES_URL` is set).

use crate::support;

use std::time::Duration;

use crate::support::{PUBLIC_URL, spawn_app, spawn_app_with};
use leptos::server_fn::ServerFn;
use reqwest::StatusCode;

#[test]
fn health_check_answers_ok_when_the_database_answers() {
    crate::support::run(async {
        let app = spawn_app().await;
        let resp = app.client.get(app.url("/healthz")).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        let body: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(body, serde_json::json!({"status": "ok", "database": "ok"}));
    })
}

#[test]
fn health_check_answers_503_when_the_database_cannot_be_reached() {
    crate::support::run(async {
        let app = spawn_app().await;
        // Closing the shared pool makes every later query fail, as a lost database would.
        tokio::time::timeout(Duration::from_secs(10), app.portal.db.clone().close())
            .await
            .expect("the pool closes")
            .unwrap();
        let resp = app.client.get(app.url("/healthz")).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
        let body: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(body["database"], "unreachable");
    })
}

#[test]
fn the_privacy_notice_is_in_chinese_by_default() {
    crate::support::run(async {
        let app = spawn_app().await;
        for accept in ["", "fr-FR,de;q=0.5", "zh-CN,zh;q=0.9"] {
            let resp = app.get_in("/privacy", accept).await;
            assert_eq!(resp.status(), StatusCode::OK);
            let html = resp.text().await.unwrap();
            assert!(html.contains(r#"<html lang="zh-CN""#), "{accept:?}");
            assert!(html.contains("隐私政策"), "{accept:?}");
            assert!(html.contains("第 1 版"), "{accept:?}");
        }
    })
}

#[test]
fn the_privacy_notice_follows_an_english_browser() {
    crate::support::run(async {
        let app = spawn_app().await;
        let html = app
            .get_in("/privacy", "en-US,en;q=0.9")
            .await
            .text()
            .await
            .unwrap();
        assert!(html.contains(r#"<html lang="en""#));
        assert!(html.contains("<h1>Privacy notice"));
        assert!(html.contains("Version 1"));
        assert!(
            !html.contains("隐私政策<"),
            "no Chinese title on the English page"
        );
    })
}

#[test]
fn a_new_notice_version_becomes_current_and_earlier_ones_stay_readable() {
    crate::support::run(async {
        let app = spawn_app().await;
        // Seen once first, so a cached copy of version 1 exists when version 2 is published.
        let before = app.get_in("/privacy", "en").await.text().await.unwrap();
        assert!(before.contains("Version 1"));
        let v = app
            .portal
            .publish_notice(portal_core::notices::NewNotice {
                title_zh: "新版隐私政策",
                title_en: "New privacy notice",
                body_zh: "第二版正文。",
                body_en: "Second version text.",
                requires_confirmation: false,
                published_by: None,
            })
            .await
            .unwrap();
        assert_eq!(v, 2);
        let current = app.get_in("/privacy", "en").await.text().await.unwrap();
        assert!(current.contains("New privacy notice") && current.contains("Second version text."));
        assert!(
            current.contains(r#"href="/privacy/1""#),
            "earlier version listed with a link"
        );
        let old = app.get_in("/privacy/1", "en").await;
        assert_eq!(old.status(), StatusCode::OK);
        let old = old.text().await.unwrap();
        assert!(old.contains("You are reading an earlier version."));
        assert!(old.contains("We collect only the personal data"));
    })
}

#[test]
fn unknown_notice_versions_and_paths_answer_404_in_the_visitors_language() {
    crate::support::run(async {
        let app = spawn_app().await;
        for path in [
            "/privacy/99",
            "/privacy/abc",
            "/privacy/-1",
            "/no/such/page",
        ] {
            let resp = app.get_in(path, "zh-CN").await;
            assert_eq!(resp.status(), StatusCode::NOT_FOUND, "{path}");
            assert!(
                resp.text().await.unwrap().contains("找不到该页面"),
                "{path}"
            );
        }
        let resp = app.get_in("/privacy/99", "en").await;
        assert!(resp.text().await.unwrap().contains("Page not found"));
    })
}

#[test]
fn switching_language_is_remembered_in_a_cookie_and_returns_to_the_page() {
    crate::support::run(async {
        let app = spawn_app().await;
        let resp = app
            .post_form("/lang", &[("lang", "en"), ("next", "/privacy/1")])
            .await;
        assert_eq!(resp.status(), StatusCode::SEE_OTHER);
        assert_eq!(resp.headers()["location"], "/privacy/1");
        let cookie = resp.headers()["set-cookie"].to_str().unwrap().to_owned();
        assert!(cookie.starts_with("lang=en;"), "{cookie}");
        assert!(
            cookie.contains("SameSite=Lax")
                && cookie.contains("HttpOnly")
                && cookie.contains("Path=/")
        );

        // The cookie beats a Chinese browser, both ways.
        let html = app
            .client
            .get(app.url("/privacy"))
            .header("cookie", "lang=en")
            .header("accept-language", "zh-CN")
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(html.contains(r#"<html lang="en""#));
        let html = app
            .client
            .get(app.url("/privacy"))
            .header("cookie", "lang=zh")
            .header("accept-language", "en")
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(html.contains(r#"<html lang="zh-CN""#));
    })
}

#[test]
fn the_language_switch_never_redirects_off_site_and_ignores_unknown_languages() {
    crate::support::run(async {
        let app = spawn_app().await;
        for next in [
            "//evil.example/x",
            "/\\evil.example",
            "https://evil.example",
            "javascript:alert(1)",
        ] {
            let resp = app
                .post_form("/lang", &[("lang", "en"), ("next", next)])
                .await;
            assert_eq!(resp.headers()["location"], "/", "{next}");
        }
        let resp = app
            .post_form("/lang", &[("lang", "xx"), ("next", "/privacy")])
            .await;
        assert_eq!(resp.status(), StatusCode::SEE_OTHER);
        assert!(resp.headers().get("set-cookie").is_none());
    })
}

#[test]
fn state_changing_requests_from_another_site_are_refused() {
    crate::support::run(async {
        let app = spawn_app().await;
        let form = [("lang", "en"), ("next", "/")];
        let cases: [(&[(&str, &str)], StatusCode); 6] = [
            (&[("origin", "https://evil.example")], StatusCode::FORBIDDEN),
            (
                &[("sec-fetch-site", "cross-site"), ("origin", PUBLIC_URL)],
                StatusCode::FORBIDDEN,
            ),
            (&[("sec-fetch-site", "same-site")], StatusCode::FORBIDDEN),
            (&[], StatusCode::FORBIDDEN),
            (&[("origin", PUBLIC_URL)], StatusCode::SEE_OTHER),
            (&[("sec-fetch-site", "same-origin")], StatusCode::SEE_OTHER),
        ];
        for (headers, expected) in cases {
            let mut req = app.client.post(app.url("/lang")).form(&form);
            for (k, v) in headers {
                req = req.header(*k, *v);
            }
            let resp = req.send().await.unwrap();
            assert_eq!(resp.status(), expected, "{headers:?}");
            if expected == StatusCode::FORBIDDEN {
                assert!(
                    resp.headers().get("set-cookie").is_none(),
                    "a refused request changes nothing"
                );
            }
        }
        // Server functions are covered too.
        let resp = app
            .client
            .post(app.url("/api/get_notice"))
            .header("origin", "https://evil.example")
            .form(&[("lang", "En")])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    })
}

#[test]
fn pages_carry_the_security_headers() {
    crate::support::run(async {
        let app = spawn_app().await;
        let resp = app.get_in("/privacy", "zh").await;
        let h = resp.headers();
        let csp = h["content-security-policy"].to_str().unwrap();
        for part in [
            "default-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "frame-ancestors 'none'",
            "'wasm-unsafe-eval'",
        ] {
            assert!(csp.contains(part), "{csp}");
        }
        let nonce = csp
            .split("'nonce-")
            .nth(1)
            .and_then(|s| s.split('\'').next())
            .unwrap()
            .to_owned();
        assert!(nonce.len() >= 16);
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(h["referrer-policy"], "no-referrer");
        assert_eq!(h["cache-control"], "no-store");
        assert!(
            h.get("strict-transport-security").is_none(),
            "no HSTS over plain http"
        );
        let html = resp.text().await.unwrap();
        assert!(
            html.contains(&format!(r#"<script type="module" nonce="{nonce}">"#)),
            "hydration script carries the nonce"
        );

        // Every page view gets its own nonce, in the header and the page alike, cached copy or not.
        for _ in 0..3 {
            let again = app.get_in("/privacy", "zh").await;
            let csp = again.headers()["content-security-policy"]
                .to_str()
                .unwrap()
                .to_owned();
            let fresh = csp
                .split("'nonce-")
                .nth(1)
                .and_then(|s| s.split('\'').next())
                .unwrap()
                .to_owned();
            assert_ne!(fresh, nonce);
            let html = again.text().await.unwrap();
            assert!(html.contains(&format!(r#"nonce="{fresh}""#)));
            assert!(
                !html.contains(&nonce),
                "no trace of an earlier response's nonce"
            );
        }

        let https =
            spawn_app_with(|s| s.public_url = "https://salon.example".parse().unwrap()).await;
        let resp = https
            .client
            .get(https.url("/healthz"))
            .send()
            .await
            .unwrap();
        assert!(
            resp.headers()["strict-transport-security"]
                .to_str()
                .unwrap()
                .starts_with("max-age=")
        );
    })
}

#[test]
fn oversized_request_bodies_are_refused() {
    crate::support::run(async {
        let app = spawn_app().await;
        let big = "x".repeat(server::BODY_LIMIT + 1);
        let resp = app
            .post_form("/lang", &[("lang", "en"), ("next", &big)])
            .await;
        assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert!(resp.headers().get("set-cookie").is_none());
    })
}

#[test]
fn the_dev_mailbox_lists_mail_only_when_switched_on_by_name_and_never_by_a_missing_smtp_setting() {
    crate::support::run(async {
        let app = spawn_app_with(|s| {
            s.smtp_url = None;
            s.dev_mailbox = true;
        })
        .await;
        let mail = portal_core::mail::OutgoingMail {
            to: portal_core::email::Email::parse("mailbox-test@example.com").unwrap(),
            subject: "您的登录链接".into(),
            text: "Hello from the outbox".into(),
            html: None,
        };
        app.portal
            .enqueue_mail(&app.portal.db, None, "test", &mail)
            .await
            .unwrap();
        app.portal.outbox.notify();
        let mailbox = |host: &'static str, forwarded: bool| {
            let mut r = app
                .client
                .get(app.url("/dev/mailbox"))
                .header("host", host)
                .header("accept-language", "en");
            if forwarded {
                r = r.header("x-forwarded-for", "203.0.113.9");
            }
            r.send()
        };
        let listed = support::eventually(Duration::from_secs(10), || async {
            let html = mailbox("portal.test", false)
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            html.contains("您的登录链接") && html.contains("Hello from the outbox")
        })
        .await;
        assert!(listed, "the queued mail shows up in the dev mailbox");
        // The page's server function, the second door: it hands the mail out as JSON.
        let function = |host: &'static str, forwarded: bool| {
            let mut r = app
                .client
                .post(app.url(app::mailbox::DevMailbox::PATH))
                .header("host", host)
                .header("origin", PUBLIC_URL);
            if forwarded {
                r = r.header("x-forwarded-for", "203.0.113.9");
            }
            r.send()
        };
        let json = function("portal.test", false).await.unwrap();
        assert_eq!(json.status(), StatusCode::OK);
        assert!(json.text().await.unwrap().contains("Hello from the outbox"));
        // Reached through a proxy, or under another name (a rebound DNS name), neither door is there.
        for (host, forwarded) in [("evil.example", false), ("portal.test", true)] {
            let r = mailbox(host, forwarded).await.unwrap();
            assert_eq!(r.status(), StatusCode::NOT_FOUND, "{host} {forwarded}");
            assert!(!r.text().await.unwrap().contains("Hello from the outbox"));
            let r = function(host, forwarded).await.unwrap();
            assert_eq!(
                r.status(),
                StatusCode::NOT_FOUND,
                "server function: {host} {forwarded}"
            );
            assert!(!r.text().await.unwrap().contains("Hello from the outbox"));
        }
        // The files hold links and codes: only the portal's own user may read them.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let dir = portal_core::mail::dev_mailbox_dir(&app.portal.settings.data_dir);
            let mode =
                |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&dir), 0o700, "mailbox folder");
            for f in std::fs::read_dir(&dir).unwrap() {
                assert_eq!(mode(&f.unwrap().path()), 0o600, "mailbox file");
            }
        }

        // Mail configured, or nothing configured in settings at all: both doors are shut.
        let with_smtp = spawn_app().await;
        assert!(!with_smtp.portal.settings.dev_mailbox());
        let resp = with_smtp.get_in("/dev/mailbox", "en").await;
        assert_eq!(resp.status(), StatusCode::NOT_FOUND);
        with_smtp
            .portal
            .enqueue_mail(&with_smtp.portal.db, None, "test", &mail)
            .await
            .unwrap();
        let resp = with_smtp
            .client
            .post(with_smtp.url(app::mailbox::DevMailbox::PATH))
            .header("origin", PUBLIC_URL)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::NOT_FOUND);
        assert!(
            !resp.text().await.unwrap().contains("Hello from the outbox"),
            "the server function hands out nothing"
        );
    })
}

#[test]
fn migrations_create_every_table_and_apply_again_without_change() {
    crate::support::run(async {
        let app = spawn_app().await;
        let before = portal_core::db::applied_migrations(&app.portal.db)
            .await
            .unwrap();
        assert!(!before.is_empty());
        portal_core::db::migrate(&app.portal.db).await.unwrap();
        assert_eq!(
            portal_core::db::applied_migrations(&app.portal.db)
                .await
                .unwrap(),
            before
        );
        use sea_orm::ConnectionTrait;
        for table in [
            "settings",
            "staff",
            "customer_keys",
            "customers",
            "service_profiles",
            "sensitive_notes",
            "visits",
            "memberships",
            "membership_ledger",
            "photos",
            "consent_purposes",
            "consent_events",
            "consent_states",
            "privacy_notices",
            "requests",
            "request_events",
            "third_parties",
            "request_propagations",
            "sessions",
            "one_time_tokens",
            "throttle_counters",
            "mail_outbox",
            "audit_log",
            "api_keys",
            "exports",
            "suppression_list",
        ] {
            let row = app
                .portal
                .db
                .query_one_raw(sea_orm::Statement::from_string(
                    app.portal.db.get_database_backend(),
                    format!("SELECT COUNT(*) AS n FROM {table}"),
                ))
                .await;
            assert!(row.is_ok(), "table {table} exists");
        }
        let purposes = app
            .portal
            .db
            .query_one_raw(sea_orm::Statement::from_string(
                app.portal.db.get_database_backend(),
                "SELECT COUNT(*) AS n FROM consent_purposes".to_owned(),
            ))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(purposes.try_get::<i64>("", "n").unwrap(), 6);
    })
}

#[test]
fn demo_data_loads_a_whole_salon_once() {
    crate::support::run(async {
        use portal_core::demo::{CUSTOMERS, Loaded, load};
        use sea_orm::ConnectionTrait;
        let app = spawn_app().await;
        assert_eq!(load(&app.portal).await.unwrap(), Loaded::Now(CUSTOMERS));
        assert_eq!(load(&app.portal).await.unwrap(), Loaded::Already);
        let db = &app.portal.db;
        let count = |sql: &str| {
            let sql = sql.to_owned();
            async move {
                let row = db
                    .query_one_raw(sea_orm::Statement::from_string(
                        db.get_database_backend(),
                        sql,
                    ))
                    .await
                    .unwrap()
                    .unwrap();
                row.try_get::<i64>("", "n").unwrap()
            }
        };
        assert_eq!(
            count("SELECT COUNT(*) AS n FROM customers").await,
            CUSTOMERS as i64
        );
        assert_eq!(
            count("SELECT COUNT(DISTINCT role) AS n FROM staff").await,
            4
        );
        assert_eq!(
            count("SELECT COUNT(DISTINCT status) AS n FROM requests").await,
            6
        );
        assert_eq!(
            count("SELECT COUNT(DISTINCT kind) AS n FROM requests").await,
            6
        );
        assert!(count("SELECT COUNT(*) AS n FROM visits").await > 100);
        assert!(count("SELECT COUNT(*) AS n FROM memberships").await >= 100);
        assert!(count("SELECT COUNT(*) AS n FROM consent_states WHERE granted = TRUE").await > 0);
        assert!(count("SELECT COUNT(*) AS n FROM consent_states WHERE granted = FALSE").await > 0);
        let photos = count("SELECT COUNT(*) AS n FROM photos").await;
        assert!(photos > 0);
        let files = std::fs::read_dir(app.data_dir.path().join("photos"))
            .unwrap()
            .count() as i64;
        assert_eq!(files, photos, "every photo row has its file");
        assert_eq!(count("SELECT COUNT(*) AS n FROM privacy_notices").await, 2);
    })
}

#[test]
fn pages_keep_answering_while_other_portals_start_in_the_same_process() {
    crate::support::run(async {
        let app = spawn_app().await;
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        // Portals starting one after another, as tests (and nothing in production) do.
        let starter = {
            let stop = stop.clone();
            tokio::spawn(async move {
                let mut started = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) && started < 20 {
                    drop(spawn_app().await);
                    started += 1;
                }
                started
            })
        };
        let mut slowest = Duration::ZERO;
        let mut round = 0;
        while !starter.is_finished() {
            round += 1;
            // A query string keeps the page out of the page cache: each answer is rendered.
            let pages: Vec<_> = (0..8)
                .map(|i| {
                    let r = app
                        .client
                        .get(app.url(&format!("/privacy?round={round}&page={i}")))
                        .header("accept-language", "en")
                        .send();
                    tokio::spawn(tokio::time::timeout(Duration::from_secs(5), r))
                })
                .collect();
            let started = std::time::Instant::now();
            for page in pages {
                let resp = page
                    .await
                    .unwrap()
                    .unwrap_or_else(|_| panic!("round {round}: a page did not answer in 5 s"))
                    .unwrap();
                assert_eq!(resp.status(), StatusCode::OK);
            }
            slowest = slowest.max(started.elapsed());
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        assert!(starter.await.unwrap() > 0, "portals were started meanwhile");
        eprintln!("{round} rounds of eight pages, the slowest {slowest:?}");
    })
}

#[test]
fn writes_queued_together_commit_together_and_a_failing_one_leaves_nothing_behind() {
    crate::support::run(async {
        use portal_core::CoreError;
        use sea_orm::{
            ConnectionTrait,
            sea_query::{Expr, ExprTrait, Query},
        };
        let app = spawn_app().await;
        let p = &app.portal;
        let jobs = (0..40i64).map(|i| {
            let writer = p.writer.clone();
            async move {
                writer
                    .write(Box::new(move |tx| {
                        Box::pin(async move {
                            tx.execute(
                                &Query::insert()
                                    .into_table("throttle_counters")
                                    .columns(["bucket", "slot_start", "hits", "last_at"])
                                    .values_panic([
                                        format!("group-{i}").into_bytes().into(),
                                        chrono::Utc::now().into(),
                                        1.into(),
                                        chrono::Utc::now().into(),
                                    ])
                                    .to_owned(),
                            )
                            .await?;
                            // Every seventh job fails after its write: only its own is undone.
                            if i % 7 == 3 {
                                return Err(CoreError::Invalid("test.failing_job"));
                            }
                            Ok(i)
                        })
                    }))
                    .await
            }
        });
        let answers = futures::future::join_all(jobs).await;
        for (i, a) in answers.iter().enumerate() {
            match a {
                Ok(v) => assert_eq!(*v, i as i64),
                Err(CoreError::Invalid("test.failing_job")) => assert_eq!(i % 7, 3),
                Err(e) => panic!("job {i}: {e}"),
            }
        }
        let stored: Vec<String> =
            p.db.query_all(
                &Query::select()
                    .column("bucket")
                    .from("throttle_counters")
                    .and_where(Expr::col("hits").eq(1))
                    .to_owned(),
            )
            .await
            .unwrap()
            .into_iter()
            .map(|r| String::from_utf8(r.try_get::<Vec<u8>>("", "bucket").unwrap()).unwrap())
            .filter(|b| b.starts_with("group-"))
            .collect();
        let expected: Vec<String> = (0..40)
            .filter(|i| i % 7 != 3)
            .map(|i| format!("group-{i}"))
            .collect();
        let mut stored = stored;
        stored.sort_by_key(|b| b[6..].parse::<i64>().unwrap());
        assert_eq!(
            stored, expected,
            "each answered Ok is stored, each failure is not"
        );
    })
}

#[test]
fn built_assets_go_out_precompressed_and_a_hashed_name_is_cached_for_a_year_while_pages_are_never_stored()
 {
    crate::support::run(async {
        let site = tempfile::tempdir().unwrap();
        let pkg = site.path().join("pkg");
        std::fs::create_dir_all(&pkg).unwrap();
        let hashed = "portal.QmJ3dVhlTWN0cnp3X2Z1YQ.wasm";
        std::fs::write(pkg.join(hashed), b"\0asm plain").unwrap();
        std::fs::write(pkg.join(format!("{hashed}.br")), b"brotli bytes").unwrap();
        std::fs::write(pkg.join(format!("{hashed}.gz")), b"gzip bytes").unwrap();
        std::fs::write(pkg.join("portal.css"), b"body{}").unwrap();
        let root = site.path().display().to_string();
        let app = support::spawn_app_with(|s| s.site_root = root).await;
        let get = |path: String, encoding: &'static str| {
            app.client
                .get(app.url(&path))
                .header("accept-encoding", encoding)
                .send()
        };
        let br = get(format!("/pkg/{hashed}"), "gzip, deflate, br")
            .await
            .unwrap();
        assert_eq!(br.status(), 200);
        assert_eq!(br.headers()["content-encoding"], "br");
        assert_eq!(br.headers()["content-type"], "application/wasm");
        assert_eq!(
            br.headers()["cache-control"],
            "public, max-age=31536000, immutable"
        );
        assert_eq!(br.headers()["vary"], "accept-encoding");
        assert_eq!(br.bytes().await.unwrap().as_ref(), b"brotli bytes");
        let gz = get(format!("/pkg/{hashed}"), "gzip").await.unwrap();
        assert_eq!(gz.headers()["content-encoding"], "gzip");
        let plain = get(format!("/pkg/{hashed}"), "identity").await.unwrap();
        assert!(plain.headers().get("content-encoding").is_none());
        assert_eq!(plain.bytes().await.unwrap().as_ref(), b"\0asm plain");
        // A name without a hash may change under it: asked again every time.
        let css = get("/pkg/portal.css".into(), "br").await.unwrap();
        assert_eq!(css.status(), 200);
        assert_eq!(css.headers()["cache-control"], "no-cache");
        // Nothing outside the folder, and pages stay out of every cache.
        let escape = get("/pkg/../../etc/passwd".into(), "br").await.unwrap();
        assert_ne!(escape.status(), 200);
        let page = get("/signin".into(), "br").await.unwrap();
        assert_eq!(page.headers()["cache-control"], "no-store");
    })
}

#[test]
fn a_write_told_done_is_stored_even_when_a_batch_mate_fails_in_the_database_or_panics() {
    crate::support::run(async {
        use portal_core::CoreError;
        use sea_orm::{ConnectionTrait, sea_query::Query};
        let app = spawn_app().await;
        let p = &app.portal;
        let insert = |i: i64| {
            Query::insert()
                .into_table("throttle_counters")
                .columns(["bucket", "slot_start", "hits", "last_at"])
                .values_panic([
                    format!("mate-{i}").into_bytes().into(),
                    chrono::Utc::now().into(),
                    1.into(),
                    chrono::Utc::now().into(),
                ])
                .to_owned()
        };
        let jobs = (0..60i64).map(|i| {
            let writer = p.writer.clone();
            let insert = insert(i);
            async move {
                if i % 10 == 9 {
                    // Without a savepoint: a failure after its first write spoils the batch.
                    return writer
                        .write_plain(Box::new(move |tx| {
                            Box::pin(async move {
                                tx.execute(&insert).await?;
                                tx.execute_unprepared("SELECT * FROM no_such_table").await?;
                                Ok::<_, CoreError>(())
                            })
                        }))
                        .await;
                }
                writer
                    .write(Box::new(move |tx| {
                        Box::pin(async move {
                            tx.execute(&insert).await?;
                            match i % 10 {
                                // A failure in the database may have undone the whole batch.
                                4 => {
                                    tx.execute_unprepared("SELECT * FROM no_such_table").await?;
                                }
                                7 => panic!("a job panics"),
                                _ => {}
                            }
                            Ok::<_, CoreError>(())
                        })
                    }))
                    .await
            }
        });
        let answers = futures::future::join_all(jobs).await;
        let stored: std::collections::BTreeSet<String> =
            p.db.query_all(
                &Query::select()
                    .column("bucket")
                    .from("throttle_counters")
                    .to_owned(),
            )
            .await
            .unwrap()
            .into_iter()
            .map(|r| String::from_utf8(r.try_get::<Vec<u8>>("", "bucket").unwrap()).unwrap())
            .filter(|b| b.starts_with("mate-"))
            .collect();
        let done: std::collections::BTreeSet<String> = answers
            .iter()
            .enumerate()
            .filter(|(_, a)| a.is_ok())
            .map(|(i, _)| format!("mate-{i}"))
            .collect();
        for (i, a) in answers.iter().enumerate() {
            if [4, 7, 9].contains(&(i % 10)) {
                assert!(a.is_err(), "job {i} failed and says so");
            }
        }
        assert_eq!(stored, done, "stored is exactly what was told done");
        // The writer lives on after a panic.
        p.writer
            .write(Box::new(move |tx| {
                Box::pin(async move {
                    tx.execute(&insert(1000)).await?;
                    Ok::<_, CoreError>(())
                })
            }))
            .await
            .expect("the writer still writes");
    })
}
