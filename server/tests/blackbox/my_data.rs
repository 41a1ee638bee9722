//! The customer's own pages over HTTP: "My data" shows every category and is never cached;
//! requests are made, merged, listed and cancelled with plain form posts.

use crate::support;

use crate::support::spawn_app;
use app::me::{CancelRequest, SubmitRequest};
use chrono::Utc;
use leptos::server_fn::ServerFn;
use portal_core::{
    requests::{self, Kind, Status},
    sessions::Subject,
};
use reqwest::StatusCode;

async fn signed_in(app: &support::TestApp, customer: i64) -> String {
    support::signed_in_as(app, Subject::Customer(customer)).await
}

async fn post(app: &support::TestApp, path: &str, form: &[(&str, &str)], cookie: &str) -> String {
    let r = app.browser_post(path, form, cookie).await;
    assert_eq!(r.status(), StatusCode::FOUND, "{path}");
    support::location(&r)
}

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

#[test]
fn my_data_shows_every_category_to_its_customer_only_and_is_never_cached() {
    crate::support::run(async {
        let app = spawn_app().await;
        portal_core::demo::load(&app.portal).await.unwrap();
        let me = portal_core::customers::find_by_email(
            &app.portal.db,
            &app.portal.vault,
            &portal_core::email::Email::parse("customer002@example.com").unwrap(),
        )
        .await
        .unwrap()
        .unwrap();
        let cookie = signed_in(&app, me).await;
        let r = page(&app, "/me", &cookie).await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()["cache-control"], "no-store");
        let html = r.text().await.unwrap();
        for section in [
            "contact",
            "profile",
            "sensitive",
            "visits",
            "membership",
            "consents",
            "requests",
            "messages",
            "access",
            "sharing",
        ] {
            assert!(
                html.contains(&format!("data-section=\"{section}\"")),
                "{section}"
            );
        }
        assert!(html.contains("customer002@example.com"));
        assert!(
            !html.contains("customer003@example.com"),
            "nobody else's data"
        );

        // A member reads the membership ledger in words (the demo's first customer has a card).
        let member = portal_core::customers::find_by_email(
            &app.portal.db,
            &app.portal.vault,
            &portal_core::email::Email::parse("customer001@example.com").unwrap(),
        )
        .await
        .unwrap()
        .unwrap();
        let html = page(&app, "/me", &signed_in(&app, member).await)
            .await
            .text()
            .await
            .unwrap();
        let shown = html
            .split("__RESOLVED_RESOURCES")
            .next()
            .unwrap_or_default();
        assert!(shown.contains("Top-up"), "ledger line in words");
        assert!(!shown.contains("top_up"), "ledger kind shown as its code");
        // Points apart from money, each named; the balance after it named too.
        assert!(shown.contains("points +"), "{shown}");
        assert!(shown.contains(" · Balance ¥"), "{shown}");
        // The consents block leads to the switches; the requests card lists the requests.
        let consents = &shown[shown.find("data-section=\"consents\"").unwrap()..];
        let consents = &consents[..consents.find("</section>").unwrap()];
        assert!(
            consents.contains("href=\"/me/consents\"") && consents.contains("Change consents"),
            "{consents}"
        );
        let requests = requests::for_customer(&app.portal.db, member)
            .await
            .unwrap();
        let card = &shown[shown.find("data-section=\"requests\"").unwrap()..];
        let card = &card[..card.find("</section>").unwrap()];
        for r in &requests {
            assert!(card.contains(&format!("#{} ", r.id)), "{card}");
        }
        assert!(card.contains("href=\"/me/requests\""));
        // The consent history in date order, newest first.
        let history = portal_core::consents::history(&app.portal.db, member)
            .await
            .unwrap();
        assert!(history.windows(2).all(|w| w[0].at >= w[1].at));

        // Signed out, the page sends the visitor to sign in and shows nothing.
        let anon = page(&app, "/me", "").await;
        assert_eq!(anon.status(), StatusCode::FOUND);
        assert_eq!(anon.headers()["location"], "/signin?next=/me");
    })
}

#[test]
fn the_customer_reads_who_looked_and_how_each_consent_was_given_in_words_never_in_codes() {
    crate::support::run(async {
        use portal_core::{
            access::Action,
            audit::{self, Actor, Entry},
            consents::{self, Change, Channel, Purpose},
            staff::Role,
        };
        let app = spawn_app().await;
        let me = support::customer(&app, "reader@example.com", "zh").await;
        let desk_id = portal_core::staff::add(
            &app.portal.db,
            &portal_core::email::Email::parse("desk@salon.example").unwrap(),
            &portal_core::staff::StaffName::parse("前台").unwrap(),
            Role::FrontDesk,
        )
        .await
        .unwrap()
        .id;
        let desk = Actor::Staff {
            id: desk_id,
            role: Role::FrontDesk,
        };
        audit::append(
            &app.portal.db,
            &Entry::on_customer(desk, Action::ViewContact, me),
            Utc::now(),
        )
        .await
        .unwrap();
        consents::record(
            &app.portal.db,
            me,
            Change {
                purpose: Purpose::MarketingSms,
                granted: true,
                channel: Channel::FrontDesk,
                recorded_by: Some(desk_id),
                notice_version: Some(1),
            },
            Utc::now(),
        )
        .await
        .unwrap();
        let cookie = signed_in(&app, me).await;
        for (lang, access, channel) in [
            ("en", "Front desk · viewed: Contact", "said at the counter"),
            ("zh", "前台 · 查看了：联系方式", "柜台口头确认"),
        ] {
            for path in ["/me", "/me/consents"] {
                // The language cookie outranks the Accept-Language header `page` sends.
                let with_lang = format!("{cookie}; lang={lang}");
                let html = page(&app, path, &with_lang).await.text().await.unwrap();
                if path == "/me" {
                    assert!(html.contains(access), "{lang} {path}: access line");
                }
                assert!(html.contains(channel), "{lang} {path}: channel");
                // The hydration data after the page may carry codes; the page itself never shows one.
                let shown = html
                    .split("__RESOLVED_RESOURCES")
                    .next()
                    .unwrap_or_default();
                for code in ["view_contact", "front_desk"] {
                    assert!(!shown.contains(code), "{lang} {path}: code {code} shown");
                }
            }
        }
    })
}

#[test]
fn a_customer_makes_follows_and_cancels_requests_without_javascript() {
    crate::support::run(async {
        let app = spawn_app().await;
        let me = support::customer(&app, "asks@example.com", "en").await;
        let other = support::customer(&app, "other@example.com", "en").await;
        let cookie = signed_in(&app, me).await;

        let done = post(
            &app,
            SubmitRequest::PATH,
            &[("kind", "question"), ("note", "Who sees my photos?")],
            &cookie,
        )
        .await;
        assert_eq!(done, "/me/requests?done=submitted");
        let merged = post(
            &app,
            SubmitRequest::PATH,
            &[("kind", "question"), ("note", "And my notes?")],
            &cookie,
        )
        .await;
        assert_eq!(merged, "/me/requests?done=merged");
        // Bad input changes nothing and says so.
        for bad in [
            vec![("kind", "question"), ("note", "   ")],
            vec![("kind", "correction"), ("phone", "not a phone")],
            vec![("kind", "correction")],
            vec![("kind", "erase-everything")],
        ] {
            assert_eq!(
                post(&app, SubmitRequest::PATH, &bad, &cookie).await,
                "/me/requests?error=invalid"
            );
        }
        let correction = post(
            &app,
            SubmitRequest::PATH,
            &[
                ("kind", "correction"),
                ("name", "New Name"),
                ("phone", ""),
                ("email", ""),
            ],
            &cookie,
        )
        .await;
        assert_eq!(correction, "/me/requests?done=submitted");
        let mine = requests::for_customer(&app.portal.db, me).await.unwrap();
        assert_eq!(mine.len(), 2);
        let corr = mine.iter().find(|r| r.kind == Kind::Correction).unwrap();
        let details = requests::details(&app.portal.db, &app.portal.vault, corr.id)
            .await
            .unwrap();
        assert_eq!(
            details.corrections,
            vec![("name".to_owned(), "New Name".to_owned())]
        );

        let html = page(&app, "/me/requests", &cookie)
            .await
            .text()
            .await
            .unwrap();
        assert!(html.contains("A privacy question or complaint"));
        assert!(html.contains("Answer due by"));

        // Someone else's request cannot be cancelled from this session.
        let theirs = requests::submit(
            &app.portal,
            other,
            Kind::Deletion,
            &Default::default(),
            requests::Submitter::Customer,
            Utc::now(),
        )
        .await
        .unwrap();
        let id = theirs.id.to_string();
        assert_eq!(
            post(&app, CancelRequest::PATH, &[("id", &id)], &cookie).await,
            "/me/requests?error=invalid"
        );
        assert_eq!(
            requests::get(&app.portal.db, theirs.id)
                .await
                .unwrap()
                .status,
            Status::Submitted
        );
        let id = corr.id.to_string();
        assert_eq!(
            post(&app, CancelRequest::PATH, &[("id", &id)], &cookie).await,
            "/me/requests?done=cancelled"
        );
        assert_eq!(
            requests::get(&app.portal.db, corr.id).await.unwrap().status,
            Status::Cancelled
        );
    })
}

#[test]
fn photos_are_served_only_to_their_customers_session_and_never_cached() {
    crate::support::run(async {
        let app = spawn_app().await;
        portal_core::demo::load(&app.portal).await.unwrap();
        let find = |e: &'static str| {
            let p = app.portal.clone();
            async move {
                portal_core::customers::find_by_email(
                    &p.db,
                    &p.vault,
                    &portal_core::email::Email::parse(e).unwrap(),
                )
                .await
                .unwrap()
                .unwrap()
            }
        };
        let owner = find("customer001@example.com").await;
        let other = find("customer002@example.com").await;
        let photos = portal_core::photos::for_customer(&app.portal.db, owner, chrono::Utc::now())
            .await
            .unwrap();
        assert!(!photos.is_empty());
        let path = format!("/me/photos/{}", photos[0].id);
        let mine = page(&app, &path, &signed_in(&app, owner).await).await;
        assert_eq!(mine.status(), StatusCode::OK);
        assert_eq!(mine.headers()["cache-control"], "no-store");
        assert_eq!(mine.headers()["content-type"], "image/png");
        assert_eq!(&mine.bytes().await.unwrap()[..8], b"\x89PNG\r\n\x1a\n");
        let theirs = page(&app, &path, &signed_in(&app, other).await).await;
        assert_eq!(theirs.status(), StatusCode::NOT_FOUND);
        assert_eq!(page(&app, &path, "").await.status(), StatusCode::NOT_FOUND);
        let html = page(&app, "/me", &signed_in(&app, owner).await)
            .await
            .text()
            .await
            .unwrap();
        assert!(html.contains(&format!("src=\"{path}\"")));
    })
}

#[test]
fn deletion_and_a_new_sign_in_email_need_a_sign_in_of_the_last_ten_minutes() {
    crate::support::run(async {
        let app = spawn_app().await;
        let me = support::customer(&app, "fresh.check@example.com", "en").await;
        let stale = {
            support::signed_in_at(
                &app,
                Subject::Customer(me),
                Utc::now() - chrono::Duration::minutes(11),
            )
            .await
        };
        for form in [
            vec![("kind", "deletion"), ("confirm", "yes")],
            vec![
                ("kind", "correction"),
                ("email", "someone.else@example.com"),
            ],
        ] {
            assert_eq!(
                post(&app, SubmitRequest::PATH, &form, &stale).await,
                "/signin?next=/me/requests&fresh=request",
                "{form:?}"
            );
        }
        assert!(
            requests::for_customer(&app.portal.db, me)
                .await
                .unwrap()
                .is_empty(),
            "nothing was filed on a stale sign-in"
        );
        // Other requests need no fresh code; with a fresh one, deletion goes in.
        assert_eq!(
            post(
                &app,
                SubmitRequest::PATH,
                &[("kind", "correction"), ("name", "New Name")],
                &stale
            )
            .await,
            "/me/requests?done=submitted"
        );
        let fresh = signed_in(&app, me).await;
        // Deletion cannot be undone: without the customer's explicit tick nothing is filed.
        assert_eq!(
            post(&app, SubmitRequest::PATH, &[("kind", "deletion")], &fresh).await,
            "/me/requests?error=confirm#kind-deletion"
        );
        assert!(
            !requests::for_customer(&app.portal.db, me)
                .await
                .unwrap()
                .iter()
                .any(|r| r.kind == Kind::Deletion)
        );
        assert_eq!(
            post(
                &app,
                SubmitRequest::PATH,
                &[("kind", "deletion"), ("confirm", "yes")],
                &fresh
            )
            .await,
            "/me/requests?done=submitted"
        );
        let page = app
            .get_in("/signin?next=/me/requests&fresh=request", "en")
            .await;
        assert!(
            page.text()
                .await
                .unwrap()
                .contains("before asking for deletion or changing your sign-in email")
        );
    })
}

#[test]
fn mail_goes_out_in_the_language_the_customer_reads_the_portal_in_or_chose_on_my_data() {
    crate::support::run(async {
        use app::me::SetMailLanguage;
        let app = spawn_app().await;
        let me = support::customer(&app, "reads.english@example.com", "zh").await;
        let cookie = signed_in(&app, me).await;
        let language = || portal_core::customers::language(&app.portal.db, me);
        // A request filed from a page read in English (the language switch's cookie): its mail,
        // and the next ones, are in English.
        let r = app
            .client
            .post(app.url(SubmitRequest::PATH))
            .header("origin", support::PUBLIC_URL)
            .header("accept", "text/html")
            .header("cookie", format!("{cookie}; lang=en"))
            .form(&[("kind", "objection")])
            .send()
            .await
            .unwrap();
        assert_eq!(support::location(&r), "/me/requests?done=submitted");
        assert_eq!(language().await.unwrap(), "en");
        assert!(
            support::eventually(std::time::Duration::from_secs(10), || async {
                app.sink.received().iter().any(|m| {
                    m.rcpt.iter().any(|r| r.contains("reads.english"))
                        && support::mail_body(&m.data).contains("We have received your request")
                })
            })
            .await,
            "the receipt of the request is in English"
        );
        // A client that names no language changes nothing.
        post(
            &app,
            SubmitRequest::PATH,
            &[("kind", "restriction")],
            &cookie,
        )
        .await;
        assert_eq!(language().await.unwrap(), "en");
        // "My data" offers the choice, shows it, and refuses what is not a language.
        let html = page(&app, "/me", &cookie).await.text().await.unwrap();
        assert!(html.contains("Language of our mail to you"), "{html}");
        assert_eq!(
            post(&app, SetMailLanguage::PATH, &[("lang", "zh")], &cookie).await,
            "/me?done=language#contact"
        );
        assert_eq!(language().await.unwrap(), "zh");
        assert_eq!(
            post(&app, SetMailLanguage::PATH, &[("lang", "fr")], &cookie).await,
            "/me?error=language#contact"
        );
        assert_eq!(language().await.unwrap(), "zh");
        // A choice made there sticks, whatever language the next page is read in.
        let r = app
            .client
            .post(app.url(SubmitRequest::PATH))
            .header("origin", support::PUBLIC_URL)
            .header("accept", "text/html")
            .header("cookie", format!("{cookie}; lang=en"))
            .form(&[("kind", "access")])
            .send()
            .await
            .unwrap();
        assert_eq!(support::location(&r), "/me/requests?done=submitted");
        assert_eq!(language().await.unwrap(), "zh");
        // Not signed in: nothing is set.
        let anon = app
            .browser_post(SetMailLanguage::PATH, &[("lang", "en")], "")
            .await;
        assert!(support::location(&anon).starts_with("/signin"));
        assert_eq!(language().await.unwrap(), "zh");
    })
}

#[test]
fn the_request_form_explains_each_kind_and_says_what_a_deletion_removes_keeps_and_waits_for() {
    crate::support::run(async {
        let app = spawn_app().await;
        let me = support::customer(&app, "form.reader@example.com", "en").await;
        support::membership_holding(&app, me, 5000).await;
        let cookie = signed_in(&app, me).await;
        let html = page(&app, "/me/requests", &cookie)
            .await
            .text()
            .await
            .unwrap();
        // One folded form per kind, each with a line on what it does.
        for kind in [
            "access",
            "correction",
            "deletion",
            "restriction",
            "objection",
            "question",
        ] {
            assert!(html.contains(&format!("data-kind=\"{kind}\"")), "{kind}");
        }
        for line in [
            "Get a copy of everything",
            "Turn off all marketing at once",
            "Ask the salon's privacy officer",
        ] {
            assert!(html.contains(line), "{line}");
        }
        // Objection points to the instant switches.
        assert!(html.contains("href=\"/me/consents\""));
        // Deletion: what goes, what stays, the balance first, the end of sign-in, and a tick.
        let deletion = &html[html.find("data-kind=\"deletion\"").unwrap()..];
        let deletion = &deletion[..deletion.find("</details>").unwrap()];
        for part in [
            "Deleted: contact details",
            "Kept without your name",
            "Your card still holds ¥50.00",
            "you can no longer sign in",
            "name=\"confirm\"",
        ] {
            assert!(deletion.contains(part), "{part} in {deletion}");
        }
        // The correction fields belong to the correction only.
        let correction = &html[html.find("data-kind=\"correction\"").unwrap()..];
        let correction = &correction[..correction.find("</details>").unwrap()];
        assert!(correction.contains("name=\"phone\""));
        assert_eq!(html.matches("name=\"phone\"").count(), 1);
    })
}
