//! The sign-in flow over HTTP, as a browser without JavaScript drives it: plain form posts to
//! server functions, a real SMTP server, cookies by hand.

use crate::support;

use std::time::Duration;

use crate::support::{
    PUBLIC_URL, eventually, location, mail_text, set_cookie, smtp::SmtpSink, spawn_app_with,
};
use app::signin::{ConfirmCode, ConfirmLink, RequestSignIn, SignOut};
use chrono::Utc;
use leptos::server_fn::ServerFn;
use portal_core::{
    customers::{self, CustomerName, NewCustomer},
    email::Email,
};
use reqwest::StatusCode;

fn pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().to_owned()
}

#[test]
fn a_customer_signs_in_by_link_and_by_code_and_signs_out_without_javascript() {
    crate::support::run(async {
        let sink = SmtpSink::start().await;
        let url = sink.url();
        let app = spawn_app_with(|s| s.smtp_url = Some(url)).await;
        let new = NewCustomer {
            name: CustomerName::parse("李娜").unwrap(),
            email: Some(Email::parse("li.na@example.com").unwrap()),
            phone: None,
            language: "en",
            created_by: None,
            at: Utc::now(),
        };
        customers::create(&app.portal.db, &app.portal.vault, &new)
            .await
            .unwrap();

        // Asking: the same answer for a known and an unknown address.
        let known = app
            .browser_post(RequestSignIn::PATH, &[("email", "li.na@example.com")], "")
            .await;
        let unknown = app
            .browser_post(RequestSignIn::PATH, &[("email", "nobody@example.com")], "")
            .await;
        for r in [&known, &unknown] {
            assert_eq!(r.status(), StatusCode::FOUND);
            assert_eq!(location(r), "/signin/sent");
            assert!(
                set_cookie(r, "signin_pending")
                    .unwrap()
                    .contains("HttpOnly")
            );
        }
        let bad = app
            .browser_post(
                RequestSignIn::PATH,
                &[("email", "li.na@example.com\r\nBcc: x@evil.example")],
                "",
            )
            .await;
        assert_eq!(location(&bad), "/signin?error=email");
        let page = app
            .get_in("/signin?error=email", "en")
            .await
            .text()
            .await
            .unwrap();
        assert!(page.contains("Please enter a valid email address"));

        assert!(
            eventually(Duration::from_secs(10), || async {
                !sink.received().is_empty()
            })
            .await
        );
        let text = mail_text(&sink.received()[0].data);
        assert!(
            !text.contains("evil.example"),
            "no link to the host the request named"
        );
        let start = text.find(&format!("{PUBLIC_URL}/signin/link?t=")).unwrap();
        let link = text[start..].split_whitespace().next().unwrap().to_owned();
        let token: String = link.split("?t=").nth(1).unwrap().chars().take(43).collect();
        let path = format!("/signin/link?t={token}");

        // A mail scanner's GET and HEAD spend nothing; the page names the masked address.
        for _ in 0..2 {
            let page = app.get_in(&path, "en").await;
            assert_eq!(page.status(), StatusCode::OK);
            let html = page.text().await.unwrap();
            assert!(html.contains("l***@example.com") && !html.contains("li.na@example.com"));
        }
        assert_eq!(
            app.client
                .head(app.url(&path))
                .send()
                .await
                .unwrap()
                .status(),
            StatusCode::OK
        );

        // The button's POST signs this browser in.
        let signed = app
            .browser_post(ConfirmLink::PATH, &[("t", &token)], "")
            .await;
        assert_eq!(signed.status(), StatusCode::FOUND);
        assert_eq!(location(&signed), "/me");
        let session_cookie =
            set_cookie(&signed, "__Host-portal_session").expect("a __Host- session cookie");
        for attr in ["Secure", "HttpOnly", "SameSite=Lax", "Path=/"] {
            assert!(session_cookie.contains(attr), "{session_cookie}");
        }
        let session = pair(&session_cookie);
        let home = app
            .client
            .get(app.url("/me"))
            .header("cookie", &session)
            .header("accept-language", "en")
            .send()
            .await
            .unwrap();
        assert_eq!(home.status(), StatusCode::OK);
        assert!(
            home.text()
                .await
                .unwrap()
                .contains("You are signed in as l***@example.com.")
        );

        // The link works once.
        let again = app
            .browser_post(ConfirmLink::PATH, &[("t", &token)], "")
            .await;
        assert_eq!(location(&again), "/signin?error=expired");

        // Sign-out ends the session at once and clears site data; the old cookie is worthless.
        let out = app
            .browser_post(SignOut::PATH, &[] as &[(&str, &str)], &session)
            .await;
        assert_eq!(location(&out), "/");
        assert_eq!(out.headers()["clear-site-data"], "\"cookies\", \"storage\"");
        assert!(
            set_cookie(&out, "__Host-portal_session")
                .unwrap()
                .contains("Max-Age=0")
        );
        let replay = app
            .client
            .get(app.url("/me"))
            .header("cookie", &session)
            .header("accept", "text/html")
            .send()
            .await
            .unwrap();
        assert_eq!(replay.status(), StatusCode::FOUND);
        assert_eq!(location(&replay), "/signin?next=/me");

        // The code path: typed into the browser that asked (it holds the pending cookie).
        let asked = app
            .browser_post(RequestSignIn::PATH, &[("email", "li.na@example.com")], "")
            .await;
        let pending = pair(&set_cookie(&asked, "signin_pending").unwrap());
        assert!(
            eventually(Duration::from_secs(10), || async {
                sink.received().len() == 2
            })
            .await
        );
        let text = mail_text(&sink.received()[1].data);
        let code = text.split("where you asked: ").nth(1).unwrap()[..6].to_owned();
        let wrong = if code == "000000" { "000001" } else { "000000" };
        let miss = app
            .browser_post(ConfirmCode::PATH, &[("code", wrong)], &pending)
            .await;
        assert_eq!(location(&miss), "/signin/sent?error=code");
        let other_browser = app
            .browser_post(ConfirmCode::PATH, &[("code", &code)], "")
            .await;
        assert_eq!(
            location(&other_browser),
            "/signin/sent?error=code",
            "the code only works where it was asked for"
        );
        let ok = app
            .browser_post(ConfirmCode::PATH, &[("code", &code)], &pending)
            .await;
        assert_eq!(location(&ok), "/me");
        assert!(set_cookie(&ok, "__Host-portal_session").is_some());
    })
}

#[test]
fn after_sign_in_the_customer_lands_only_on_an_allowlisted_customer_page() {
    crate::support::run(async {
        let sink = SmtpSink::start().await;
        let url = sink.url();
        let app = spawn_app_with(|s| s.smtp_url = Some(url)).await;
        support::customer(&app, "zhao@example.com", "en").await;

        // A signed-out visit to a customer page sends the visitor to sign in, and back afterwards.
        let page = app.get_in("/signin?next=/me/requests", "en").await;
        let html = page.text().await.unwrap();
        assert!(
            html.contains(r#"name="next" value="/me/requests""#),
            "{html}"
        );

        for (i, (next, lands)) in [
            ("/me/requests", "/me/requests"),
            ("//evil.example", "/me"),
            ("/\\evil.example", "/me"),
            ("javascript:alert(1)", "/me"),
            ("https://evil.example/me", "/me"),
        ]
        .into_iter()
        .enumerate()
        {
            let asked = app
                .browser_post(
                    RequestSignIn::PATH,
                    &[("email", "zhao@example.com"), ("next", next)],
                    "",
                )
                .await;
            let mut cookies = vec![pair(&set_cookie(&asked, "signin_pending").unwrap())];
            // Only an allowlisted page is remembered at all.
            let kept = set_cookie(&asked, "signin_next").unwrap();
            if lands == "/me" {
                assert!(kept.contains("Max-Age=0"), "{next:?}: {kept}");
            } else {
                cookies.push(pair(&kept));
            }
            assert!(
                eventually(Duration::from_secs(10), || async {
                    sink.received().len() == i + 1
                })
                .await
            );
            let text = mail_text(&sink.received()[i].data);
            let code = text.split("where you asked: ").nth(1).unwrap()[..6].to_owned();
            let ok = app
                .browser_post(ConfirmCode::PATH, &[("code", &code)], &cookies.join("; "))
                .await;
            assert_eq!(location(&ok), lands, "next = {next:?}");
        }
    })
}

#[test]
fn behind_a_trusted_proxy_each_client_is_throttled_on_the_address_the_proxy_saw() {
    crate::support::run(async {
        let sink = SmtpSink::start().await;
        let url = sink.url();
        let app = spawn_app_with(|s| {
            s.smtp_url = Some(url);
            s.trusted_proxies = 1;
        })
        .await;
        support::customer(&app, "qian@example.com", "zh").await;
        let ask = |email: String, forwarded_for: &'static str| {
            app.client
                .post(app.url(RequestSignIn::PATH))
                .header("origin", PUBLIC_URL)
                .header("accept", "text/html")
                .header("x-forwarded-for", forwarded_for)
                .form(&[("email", email)])
                .send()
        };
        // One client uses up its hour (all peers are 127.0.0.1: the proxy).
        for i in 0..portal_core::signin::throttle::PER_IP.max {
            let r = ask(format!("nobody{i}@example.com"), "203.0.113.1")
                .await
                .unwrap();
            assert_eq!(location(&r), "/signin/sent");
        }
        // Its next ask gets the same answer and no mail, whatever it writes in front.
        let r = ask("qian@example.com".into(), "198.51.100.99, 203.0.113.1")
            .await
            .unwrap();
        assert_eq!(location(&r), "/signin/sent");
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert!(sink.received().is_empty(), "throttled client got a mail");
        // Another client behind the same proxy is not held back, even naming the throttled one.
        let r = ask("qian@example.com".into(), "203.0.113.1, 203.0.113.2")
            .await
            .unwrap();
        assert_eq!(location(&r), "/signin/sent");
        assert!(
            eventually(Duration::from_secs(10), || async {
                sink.received().len() == 1
            })
            .await,
            "the other client's mail"
        );
    })
}

#[test]
fn an_ipv6_client_is_throttled_by_its_64_whichever_address_in_it_it_picks() {
    crate::support::run(async {
        let sink = SmtpSink::start().await;
        let url = sink.url();
        let app = spawn_app_with(|s| {
            s.smtp_url = Some(url);
            s.trusted_proxies = 1;
            s.signin_per_ip_per_hour = 2;
        })
        .await;
        support::customer(&app, "wu@example.com", "zh").await;
        let ask = |email: &'static str, forwarded_for: &'static str| {
            app.client
                .post(app.url(RequestSignIn::PATH))
                .header("origin", PUBLIC_URL)
                .header("accept", "text/html")
                .header("x-forwarded-for", forwarded_for)
                .form(&[("email", email)])
                .send()
        };
        // Two asks from two addresses of one /64 spend its hour; a third address in it is held back.
        for (email, from) in [
            ("nobody1@example.com", "2001:db8:1:2::1"),
            ("nobody2@example.com", "2001:db8:1:2:ffff:ffff:ffff:fffe"),
            ("wu@example.com", "2001:db8:1:2:abcd::9"),
        ] {
            let r = ask(email, from).await.unwrap();
            assert_eq!(location(&r), "/signin/sent");
        }
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert!(
            sink.received().is_empty(),
            "the /64's third ask was over its limit of 2"
        );
        // The neighbouring /64 is another subscriber.
        let r = ask("wu@example.com", "2001:db8:1:3::1").await.unwrap();
        assert_eq!(location(&r), "/signin/sent");
        assert!(
            eventually(Duration::from_secs(10), || async {
                sink.received().len() == 1
            })
            .await,
            "the other /64's mail"
        );
    })
}

#[test]
fn the_per_address_sign_in_limit_follows_its_setting() {
    crate::support::run(async {
        let sink = SmtpSink::start().await;
        let url = sink.url();
        let app = spawn_app_with(|s| {
            s.smtp_url = Some(url);
            s.signin_per_ip_per_hour = 2;
        })
        .await;
        support::customer(&app, "zhou@example.com", "zh").await;
        let ask = |email: &'static str| {
            app.client
                .post(app.url(RequestSignIn::PATH))
                .header("origin", PUBLIC_URL)
                .header("accept", "text/html")
                .form(&[("email", email)])
                .send()
        };
        for email in [
            "nobody1@example.com",
            "nobody2@example.com",
            "zhou@example.com",
        ] {
            let r = ask(email).await.unwrap();
            assert_eq!(location(&r), "/signin/sent");
        }
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert!(
            sink.received().is_empty(),
            "the third ask from this client was over its limit of 2"
        );
    })
}

/// Everything a browser can see of an answer: status, redirect, cookies (names and attributes,
/// values aside), body.
async fn seen(resp: reqwest::Response) -> (StatusCode, Option<String>, Vec<String>, String) {
    let status = resp.status();
    let loc = resp
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_owned());
    let mut cookies: Vec<String> = resp
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| {
            let c = v.to_str().unwrap();
            let (pair, attrs) = c.split_once(';').unwrap_or((c, ""));
            let name = pair.split('=').next().unwrap();
            format!("{name}=…;{attrs}")
        })
        .collect();
    cookies.sort();
    (status, loc, cookies, resp.text().await.unwrap())
}

#[test]
fn every_outcome_of_the_code_form_looks_the_same_for_a_known_and_an_unknown_address() {
    crate::support::run(async {
        let sink = SmtpSink::start().await;
        let url = sink.url();
        let app = spawn_app_with(|s| s.smtp_url = Some(url)).await;
        support::customer(&app, "known.code@example.com", "zh").await;
        let mut pending = Vec::new();
        for email in ["known.code@example.com", "unknown.code@example.com"] {
            let r = app
                .browser_post(RequestSignIn::PATH, &[("email", email)], "")
                .await;
            pending.push(pair(&set_cookie(&r, "signin_pending").unwrap()));
        }
        // Both requests are settled (the mail for the known one is queued after the answer).
        assert!(
            eventually(Duration::from_secs(10), || async {
                !sink.received().is_empty()
            })
            .await
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
        // Wrong codes until the code is burned, then more: the same sequence for both.
        let mut first = None;
        for attempt in 0..7 {
            let mut answers = Vec::new();
            for cookie in &pending {
                let r = app
                    .browser_post(ConfirmCode::PATH, &[("code", "000000")], cookie)
                    .await;
                answers.push(seen(r).await);
            }
            assert_eq!(answers[0], answers[1], "attempt {attempt}");
            assert_eq!(answers[0].0, StatusCode::FOUND);
            first.get_or_insert(answers.remove(0));
        }
        // A browser whose token is not there (never asked, or asked a moment ago) sees a wrong code.
        let none = seen(
            app.browser_post(ConfirmCode::PATH, &[("code", "000000")], "")
                .await,
        )
        .await;
        assert_eq!(Some(none), first);

        // Asking again kills the older link: for an unknown address too. Each token (decoys
        // too) is written after the answer, so the test waits for it before asking again.
        let tokens = || async {
            use sea_orm::{
                ConnectionTrait,
                sea_query::{Expr, ExprTrait, Query},
            };
            app.portal
                .db
                .query_one(
                    &Query::select()
                        .expr_as(Expr::col("id").count(), "n")
                        .from("one_time_tokens")
                        .to_owned(),
                )
                .await
                .unwrap()
                .unwrap()
                .try_get::<i64>("", "n")
                .unwrap()
        };
        let mut older = Vec::new();
        for email in ["known.code@example.com", "unknown.code@example.com"] {
            let mut cookies = Vec::new();
            for _ in 0..2 {
                let before = tokens().await;
                let r = app
                    .browser_post(RequestSignIn::PATH, &[("email", email)], "")
                    .await;
                cookies.push(pair(&set_cookie(&r, "signin_pending").unwrap()));
                assert!(
                    eventually(Duration::from_secs(10), || async {
                        tokens().await == before + 1
                    })
                    .await
                );
            }
            older.push(cookies.remove(0));
        }
        let mut answers = Vec::new();
        for cookie in &older {
            let r = app
                .browser_post(ConfirmCode::PATH, &[("code", "000000")], cookie)
                .await;
            answers.push(seen(r).await);
        }
        assert_eq!(answers[0], answers[1], "the superseded link answers alike");
    })
}

#[test]
fn twenty_wrong_codes_in_a_day_stop_every_further_code_for_that_address_even_the_right_one() {
    crate::support::run(async {
        let sink = SmtpSink::start().await;
        let url = sink.url();
        let app = spawn_app_with(|s| s.smtp_url = Some(url)).await;
        support::customer(&app, "guessed@example.com", "en").await;
        let ask = || async {
            let r = app
                .browser_post(RequestSignIn::PATH, &[("email", "guessed@example.com")], "")
                .await;
            pair(&set_cookie(&r, "signin_pending").unwrap())
        };
        for round in 1..=4 {
            let cookie = ask().await;
            assert!(
                eventually(Duration::from_secs(10), || async {
                    sink.received().len() == round
                })
                .await
            );
            for _ in 0..5 {
                app.browser_post(ConfirmCode::PATH, &[("code", "000000")], &cookie)
                    .await;
            }
        }
        let cookie = ask().await;
        assert!(
            eventually(Duration::from_secs(10), || async {
                sink.received().len() == 5
            })
            .await
        );
        let text = mail_text(&sink.received()[4].data);
        let code: String = text
            .split("Or type this code in the browser where you asked: ")
            .nth(1)
            .expect("the mail carries the code")
            .chars()
            .take(6)
            .collect();
        let r = app
            .browser_post(ConfirmCode::PATH, &[("code", code.as_str())], &cookie)
            .await;
        assert_eq!(location(&r), "/signin/sent?error=use_link");
        assert!(set_cookie(&r, "__Host-portal_session").is_none());
        let page = app
            .get_in("/signin/sent?error=use_link", "en")
            .await
            .text()
            .await
            .unwrap();
        assert!(page.contains("Open the sign-in link in the mail instead"));
        // The link in that mail still signs the customer in.
        let token: String = text
            .split(&format!("{PUBLIC_URL}/signin/link?t="))
            .nth(1)
            .expect("the mail carries the link")
            .chars()
            .take(43)
            .collect();
        let r = app
            .browser_post(ConfirmLink::PATH, &[("t", token.as_str())], &cookie)
            .await;
        assert!(set_cookie(&r, "__Host-portal_session").is_some());
    })
}

#[test]
fn a_customer_page_opened_signed_out_leads_to_a_sign_in_that_says_why_and_leads_back() {
    crate::support::run(async {
        let app = support::spawn_app().await;
        for (lang, why) in [
            ("zh-CN", "请先登录再查看这个页面"),
            ("en", "Please sign in to see that page"),
        ] {
            let r = app.get_in("/me/requests", lang).await;
            assert_eq!(r.status(), reqwest::StatusCode::FOUND);
            assert_eq!(location(&r), "/signin?next=/me/requests");
            let page = app.get_in(&location(&r), lang).await.text().await.unwrap();
            assert!(page.contains(why), "{lang}: {page}");
            assert!(
                page.contains("name=\"next\" value=\"/me/requests\""),
                "the form carries the way back"
            );
            // A plain visit to the sign-in page has no such note.
            let plain = app.get_in("/signin", lang).await.text().await.unwrap();
            assert!(!plain.contains(why));
        }
    })
}

#[test]
fn signing_in_from_a_page_read_in_english_makes_english_the_language_of_the_customers_mail() {
    crate::support::run(async {
        let sink = SmtpSink::start().await;
        let url = sink.url();
        let app = spawn_app_with(|s| s.smtp_url = Some(url)).await;
        let id = support::customer(&app, "li.lei@example.com", "zh").await;
        let english_post =
            |path: &'static str, form: Vec<(&'static str, String)>, cookie: String| {
                let app = &app;
                async move {
                    app.client
                        .post(app.url(path))
                        .header("origin", PUBLIC_URL)
                        .header("accept", "text/html")
                        .header("accept-language", "en-GB,en;q=0.9")
                        .header("cookie", cookie)
                        .form(&form)
                        .send()
                        .await
                        .unwrap()
                }
            };
        let asked = english_post(
            RequestSignIn::PATH,
            vec![("email", "li.lei@example.com".into())],
            String::new(),
        )
        .await;
        let pending = pair(&set_cookie(&asked, "signin_pending").unwrap());
        assert!(
            eventually(Duration::from_secs(10), || async {
                !sink.received().is_empty()
            })
            .await
        );
        // The mail still went out in the stored language: the sign-in has not happened yet.
        let body = support::mail_body(&sink.received()[0].data);
        let code = body.split("验证码：").nth(1).expect("a Chinese mail")[..6].to_owned();
        let ok = english_post(ConfirmCode::PATH, vec![("code", code)], pending).await;
        assert_eq!(location(&ok), "/me");
        assert_eq!(customers::language(&app.portal.db, id).await.unwrap(), "en");
    })
}

#[test]
fn the_home_page_offers_my_data_to_a_signed_in_customer_and_sign_in_to_anyone_else() {
    crate::support::run(async {
        let app = support::spawn_app().await;
        let me = support::customer(&app, "home.page@example.com", "zh").await;
        let cookie =
            support::signed_in_as(&app, portal_core::sessions::Subject::Customer(me)).await;
        let home = |cookie: String| {
            let app = &app;
            async move {
                app.client
                    .get(app.url("/"))
                    .header("cookie", cookie)
                    .header("accept-language", "zh-CN")
                    .send()
                    .await
                    .unwrap()
                    .text()
                    .await
                    .unwrap()
            }
        };
        let signed_in = home(cookie).await;
        assert!(
            signed_in.contains("href=\"/me\" class=\"button\""),
            "{signed_in}"
        );
        let anonymous = home(String::new()).await;
        assert!(
            anonymous.contains("href=\"/signin\" class=\"button\""),
            "{anonymous}"
        );
    })
}
