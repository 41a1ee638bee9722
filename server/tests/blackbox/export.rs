//! A copy of everything: built after approval by the running portal, downloaded only by the same
//! customer with a recent sign-in, at most 3 times within 72 hours, then gone.

use crate::support;

use std::{io::Read, time::Duration as StdDuration};

use crate::support::{eventually, spawn_app};
use chrono::{Duration, Utc};
use portal_core::{
    customers,
    email::Email,
    requests::{self, Details, Kind, Status, Submitter, export},
    sessions::Subject,
};
use reqwest::StatusCode;

async fn session(
    app: &support::TestApp,
    customer: i64,
    signed_in: chrono::DateTime<Utc>,
) -> String {
    support::signed_in_at(app, Subject::Customer(customer), signed_in).await
}

async fn get(app: &support::TestApp, path: &str, cookie: &str) -> reqwest::Response {
    app.client
        .get(app.url(path))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
}

#[test]
fn a_copy_is_built_after_approval_and_downloaded_three_times_by_its_customer_only() {
    crate::support::run(async {
        let app = spawn_app().await;
        portal_core::demo::load(&app.portal).await.unwrap();
        let (db, vault) = (&app.portal.db, &app.portal.vault);
        let me =
            customers::find_by_email(db, vault, &Email::parse("customer021@example.com").unwrap())
                .await
                .unwrap()
                .unwrap();
        let other =
            customers::find_by_email(db, vault, &Email::parse("customer022@example.com").unwrap())
                .await
                .unwrap()
                .unwrap();
        let officer = portal_core::staff::add(
            db,
            &Email::parse("po3@salon.example").unwrap(),
            &portal_core::staff::StaffName::parse("负责人").unwrap(),
            portal_core::staff::Role::PrivacyOfficer,
        )
        .await
        .unwrap()
        .id;
        let now = Utc::now();
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
        assert!(
            eventually(StdDuration::from_secs(20), || async {
                requests::get(db, r.id).await.unwrap().status == Status::Done
            })
            .await,
            "ready within the minute"
        );
        let ready = export::ready(db, me, Utc::now()).await.unwrap();
        assert_eq!(ready.len(), 1);
        let path = format!("/me/exports/{}", ready[0].id);
        use sea_orm::{
            ConnectionTrait,
            sea_query::{Expr, ExprTrait, Query},
        };
        let file: String = db
            .query_one(
                &Query::select()
                    .column("file_name")
                    .from("exports")
                    .and_where(Expr::col("id").eq(ready[0].id))
                    .to_owned(),
            )
            .await
            .unwrap()
            .unwrap()
            .try_get("", "file_name")
            .unwrap();
        let file = export::dir(&app.portal).join(file);
        assert!(file.exists());
        // At rest the copy is sealed under the customer's key: no ZIP, no value in the clear.
        let at_rest = std::fs::read(&file).unwrap();
        assert!(!at_rest.starts_with(b"PK"), "not a plain ZIP on disk");
        for clear in [
            &b"customer021@example.com"[..],
            b"index.html",
            b"contact.json",
        ] {
            assert!(
                !at_rest.windows(clear.len()).any(|w| w == clear),
                "{} in the clear",
                String::from_utf8_lossy(clear)
            );
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }

        // Someone else, or a stale sign-in, gets nothing.
        let theirs = session(&app, other, Utc::now()).await;
        assert_eq!(
            get(&app, &path, &theirs).await.status(),
            StatusCode::NOT_FOUND
        );
        let stale = session(&app, me, Utc::now() - Duration::minutes(11)).await;
        let r = get(&app, &path, &stale).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        assert_eq!(r.headers()["location"], "/signin?next=/me/requests&fresh=1");
        assert_eq!(get(&app, &path, "").await.status(), StatusCode::SEE_OTHER);

        let fresh = session(&app, me, Utc::now()).await;
        // The page offers the link only to a fresh sign-in, without a `download` attribute (a
        // link that ends on the sign-in page must show it, not save it as a file); a stale one is
        // asked to confirm first.
        let page = get(&app, "/me/requests", &stale)
            .await
            .text()
            .await
            .unwrap();
        assert!(
            page.contains("data-confirm-first"),
            "a stale sign-in confirms first"
        );
        assert!(!page.contains(&format!("href=\"{path}\"")));
        let page = get(&app, "/me/requests", &fresh)
            .await
            .text()
            .await
            .unwrap();
        let at = page
            .find(&format!("href=\"{path}\""))
            .expect("the copy's link");
        let tag = &page[page[..at].rfind("<a").unwrap()..at + page[at..].find('>').unwrap()];
        assert!(!tag.contains("download"), "{tag}");
        // Two copies never read alike: each link names its request.
        let link = &page[at..at + page[at..].find("</a>").unwrap()];
        assert!(link.contains(&format!("#{}", ready[0].request)), "{link}");
        assert!(!page.contains("data-confirm-first"));
        let r = get(&app, &path, &fresh).await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()["content-type"], "application/zip");
        assert_eq!(r.headers()["cache-control"], "no-store");
        let bytes = r.bytes().await.unwrap();
        let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes.to_vec())).unwrap();
        let names: Vec<String> = zip.file_names().map(str::to_owned).collect();
        for f in [
            "index.html",
            "schema.json",
            "data/contact.json",
            "data/service_profile.json",
            "data/sensitive_notes.json",
            "data/visits.json",
            "data/membership.json",
            "data/photos.json",
            "data/consents.json",
            "data/requests.json",
            "data/messages.json",
            "data/access_log.json",
            "data/sharing.json",
        ] {
            assert!(names.iter().any(|n| n == f), "{f} in {names:?}");
        }
        let mut contact = String::new();
        zip.by_name("data/contact.json")
            .unwrap()
            .read_to_string(&mut contact)
            .unwrap();
        let contact: serde_json::Value = serde_json::from_str(&contact).unwrap();
        assert_eq!(contact["email"], "customer021@example.com");
        let mut schema = String::new();
        zip.by_name("schema.json")
            .unwrap()
            .read_to_string(&mut schema)
            .unwrap();
        let schema: serde_json::Value = serde_json::from_str(&schema).unwrap();
        for (name, _) in contact.as_object().unwrap() {
            assert!(
                schema["$defs"]["contact"]["properties"][name].is_object(),
                "{name} described"
            );
        }
        let photos: Vec<&String> = names.iter().filter(|n| n.starts_with("photos/")).collect();
        assert_eq!(photos.len(), 2, "both of this customer's photos");
        let mut png = Vec::new();
        zip.by_name(photos[0])
            .unwrap()
            .read_to_end(&mut png)
            .unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "the photo itself, opened");
        let mut page = String::new();
        zip.by_name("index.html")
            .unwrap()
            .read_to_string(&mut page)
            .unwrap();
        assert!(page.contains("width=device-width"));
        // A page for people, in the customer's language (customer021 reads English): labelled
        // sections, yuan, the salon's dates, consents as given or not; no stored code, no cents,
        // no timestamp.
        assert!(page.contains("<html lang=\"en\">"), "{page}");
        for label in [
            "Contact",
            "Visits",
            "Membership card",
            "Consents",
            "Who we share data with",
        ] {
            assert!(page.contains(label), "{label} in the page");
        }
        assert!(page.contains('¥') && (page.contains("Given") || page.contains("Not given")));
        for code in [
            "amount_cents",
            "marketing_sms",
            "balance_cents",
            "\"purpose\"",
            "front_desk",
            "top_up",
        ] {
            assert!(!page.contains(code), "{code} in the page");
        }
        let time_of_day = page.as_bytes().windows(8).any(|w| {
            w.iter().enumerate().all(|(i, b)| match i {
                2 | 5 => *b == b':',
                _ => b.is_ascii_digit(),
            })
        });
        assert!(!time_of_day, "a time of day in the page");

        // Three downloads in all; then the link is dead and the file is gone.
        assert_eq!(get(&app, &path, &fresh).await.status(), StatusCode::OK);
        assert_eq!(get(&app, &path, &fresh).await.status(), StatusCode::OK);
        assert_eq!(
            get(&app, &path, &fresh).await.status(),
            StatusCode::NOT_FOUND
        );
        assert!(!file.exists(), "the file goes with the link");
    })
}

#[test]
fn an_export_nobody_downloads_is_removed_when_its_72_hours_are_up() {
    crate::support::run(async {
        let app = spawn_app().await;
        let me = support::customer(&app, "late@example.com", "zh").await;
        let officer = portal_core::staff::add(
            &app.portal.db,
            &Email::parse("po4@salon.example").unwrap(),
            &portal_core::staff::StaffName::parse("负责人").unwrap(),
            portal_core::staff::Role::PrivacyOfficer,
        )
        .await
        .unwrap()
        .id;
        let now = Utc::now();
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
        assert!(
            eventually(StdDuration::from_secs(20), || async {
                !export::ready(&app.portal.db, me, Utc::now())
                    .await
                    .unwrap()
                    .is_empty()
            })
            .await
        );
        let dir = export::dir(&app.portal);
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
        assert_eq!(
            export::sweep(&app.portal, Utc::now()).await.unwrap(),
            0,
            "still alive"
        );
        let later = Utc::now() + export::LIFETIME + Duration::seconds(1);
        assert_eq!(export::sweep(&app.portal, later).await.unwrap(), 1);
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
        assert!(
            export::ready(&app.portal.db, me, Utc::now())
                .await
                .unwrap()
                .is_empty()
        );
    })
}

/// An approved copy of everything for `customer`, built by the running portal: its export id.
async fn ready_copy(app: &support::TestApp, customer: i64) -> i64 {
    let officer = portal_core::staff::add(
        &app.portal.db,
        &Email::parse("po.copy@salon.example").unwrap(),
        &portal_core::staff::StaffName::parse("负责人").unwrap(),
        portal_core::staff::Role::PrivacyOfficer,
    )
    .await
    .unwrap()
    .id;
    let now = Utc::now();
    let r = requests::submit(
        &app.portal,
        customer,
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
    assert!(
        eventually(StdDuration::from_secs(20), || async {
            requests::get(&app.portal.db, r.id).await.unwrap().status == Status::Done
        })
        .await,
        "the copy is built"
    );
    export::ready(&app.portal.db, customer, Utc::now())
        .await
        .unwrap()[0]
        .id
}

#[test]
fn the_last_download_is_served_even_when_the_sweep_runs_between_counting_and_reading() {
    crate::support::run(async {
        let app = spawn_app().await;
        let me = support::customer(&app, "sweep.race@example.com", "en").await;
        let id = ready_copy(&app, me).await;
        let mut last = None;
        for _ in 0..export::MAX_DOWNLOADS {
            last = Some(
                export::take(&app.portal, me, id, Utc::now())
                    .await
                    .unwrap()
                    .unwrap(),
            );
        }
        let (path, is_last) = last.unwrap();
        assert!(is_last);
        // The background sweep runs now, between the count and the read.
        export::sweep(&app.portal, Utc::now()).await.unwrap();
        assert!(
            export::open_file(&app.portal, me, &path).await.is_ok(),
            "the third download is served"
        );
        // A download that never removed its file (a crash) is caught later.
        let later = Utc::now() + export::LAST_DOWNLOAD_GRACE + Duration::minutes(1);
        assert_eq!(export::sweep(&app.portal, later).await.unwrap(), 1);
        assert!(!path.exists());
    })
}

#[test]
fn the_copy_reads_in_the_browser_for_its_customer_with_a_fresh_sign_in_only() {
    crate::support::run(async {
        let app = spawn_app().await;
        let me = support::customer(&app, "reader@example.com", "zh").await;
        let fresh = session(&app, me, Utc::now()).await;
        let stale = session(&app, me, Utc::now() - Duration::minutes(11)).await;
        // Signed out, or signed in too long ago: confirm first, then back here.
        for cookie in ["", stale.as_str()] {
            let r = get(&app, "/me/copy", cookie).await;
            assert_eq!(r.status(), StatusCode::SEE_OTHER);
            assert_eq!(support::location(&r), "/signin?next=/me/copy&fresh=1");
        }
        let r = app
            .client
            .get(app.url("/me/copy"))
            .header("cookie", &fresh)
            .header("accept-language", "zh-CN")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()["cache-control"], "no-store");
        let page = r.text().await.unwrap();
        assert!(page.contains("<html lang=\"zh-CN\">"));
        assert!(page.contains("测试顾客") && page.contains("reader@example.com"));
        assert!(page.contains("联系方式") && page.contains("未同意"));
        assert!(
            page.contains("href=\"/copy.css\""),
            "the style comes from a file"
        );
        let css = get(&app, "/copy.css", "").await;
        assert_eq!(css.status(), StatusCode::OK);
        assert!(
            css.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/css")
        );
    })
}
