//! Deletion completeness: after a demo customer's deletion request is carried out, no table
//! (read raw, both engines) and no file holds any of that customer's values, the other customers
//! are intact, what the law keeps stays without identity, and a receipt is mailed.

use crate::support;

use std::time::Duration as StdDuration;

use crate::support::{eventually, hex, raw_database, smtp::SmtpSink, spawn_app_with};
use chrono::Utc;
use portal_core::{
    customers,
    email::Email,
    requests::{self, Details, Kind, Status, Submitter},
};
use sea_orm::{
    ConnectionTrait,
    sea_query::{Expr, ExprTrait, Query},
};

/// Settles whatever balance `customer` holds, in cash, as the officer confirms it.
async fn settle_all(app: &support::TestApp, customer: i64, officer: i64) -> i64 {
    use portal_core::membership::{self, SettleMethod, Settlement};
    let cents = membership::balance_cents(&app.portal.db, customer)
        .await
        .unwrap();
    let settlement = Settlement {
        cents,
        method: SettleMethod::Cash,
    };
    membership::settle_balance(&app.portal, customer, officer, settlement, Utc::now())
        .await
        .unwrap()
}

fn found(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && memchr::memmem::find(haystack, needle).is_some()
}

async fn bytes_of(
    app: &support::TestApp,
    table: &'static str,
    col: &'static str,
    key: &'static str,
    id: i64,
) -> Vec<Vec<u8>> {
    app.portal
        .db
        .query_all(
            &Query::select()
                .column(col)
                .from(table)
                .and_where(Expr::col(key).eq(id))
                .to_owned(),
        )
        .await
        .unwrap()
        .iter()
        .filter_map(|r| r.try_get::<Option<Vec<u8>>>("", col).ok().flatten())
        .filter(|b| b.len() >= 16)
        .collect()
}

#[test]
fn a_deleted_customer_leaves_no_value_in_any_table_or_file_and_everyone_else_is_intact() {
    crate::support::run(async {
        let sink = SmtpSink::start().await;
        let url = sink.url();
        let app = spawn_app_with(|s| s.smtp_url = Some(url)).await;
        portal_core::demo::load(&app.portal).await.unwrap();
        let db = &app.portal.db;
        let vault = &app.portal.vault;
        // customer011: visits, photos, consents, sensitive notes and a membership with money on it.
        let email = Email::parse("customer011@example.com").unwrap();
        let id = customers::find_by_email(db, vault, &email)
            .await
            .unwrap()
            .unwrap();
        let neighbour =
            customers::find_by_email(db, vault, &Email::parse("customer012@example.com").unwrap())
                .await
                .unwrap()
                .unwrap();
        let contact = customers::contact(db, vault, id).await.unwrap();
        let phone = contact.phone.clone().unwrap();
        let visits_before = customers::record::visits(db, vault, id, 500).await.unwrap();
        assert!(
            !visits_before.is_empty(),
            "the demo gives this customer visits"
        );

        // Everything that identifies this customer, as stored: plain values (never stored in the
        // clear, checked anyway), blind indexes, ciphertexts, the wrapped key, photo files.
        let mut needles: Vec<(String, Vec<u8>)> = vec![
            ("name".into(), contact.name.clone().into_bytes()),
            ("email".into(), email.as_str().as_bytes().to_vec()),
            ("phone".into(), phone.as_str().as_bytes().to_vec()),
            ("email index".into(), vault.email_index(&email)),
            ("phone index".into(), vault.phone_index(&phone)),
        ];
        for (table, col, key) in [
            ("customers", "name_sealed", "id"),
            ("customers", "email_sealed", "id"),
            ("customer_keys", "wrapped_key", "customer_id"),
            ("sensitive_notes", "body_sealed", "customer_id"),
            ("service_profiles", "preferences_sealed", "customer_id"),
            ("visits", "notes_sealed", "customer_id"),
            ("memberships", "card_number_sealed", "customer_id"),
            ("memberships", "card_number_index", "customer_id"),
            ("mail_outbox", "message_sealed", "customer_id"),
        ] {
            for b in bytes_of(&app, table, col, key, id).await {
                needles.push((format!("{table}.{col}"), b));
            }
        }
        let photos: Vec<String> = db
            .query_all(
                &Query::select()
                    .column("file_name")
                    .from("photos")
                    .and_where(Expr::col("customer_id").eq(id))
                    .to_owned(),
            )
            .await
            .unwrap()
            .iter()
            .map(|r| r.try_get("", "file_name").unwrap())
            .collect();
        assert!(!photos.is_empty(), "the demo gives this customer photos");
        let photo_dir = app.portal.settings.data_dir.join("photos");
        for p in &photos {
            assert!(photo_dir.join(p).exists());
        }

        // The customer asks; the officer approves; the running portal carries it out.
        let officer = portal_core::staff::add(
            db,
            &Email::parse("po2@salon.example").unwrap(),
            &portal_core::staff::StaffName::parse("负责人").unwrap(),
            portal_core::staff::Role::PrivacyOfficer,
        )
        .await
        .unwrap()
        .id;
        let now = Utc::now();
        let r = requests::submit(
            &app.portal,
            id,
            Kind::Deletion,
            &Details::default(),
            Submitter::Customer,
            now,
        )
        .await
        .unwrap();
        // Money left on the card blocks approval until staff record it settled with the customer.
        assert!(matches!(
            requests::approve(&app.portal, officer, r.id, now).await,
            Err(portal_core::CoreError::Refused(
                portal_core::Refusal::Request(portal_core::requests::Refusal::OpenBalance)
            ))
        ));
        assert!(settle_all(&app, id, officer).await > 0);
        requests::approve(&app.portal, officer, r.id, now)
            .await
            .unwrap();
        assert!(
            eventually(StdDuration::from_secs(15), || async {
                requests::get(db, r.id).await.unwrap().status == Status::Done
            })
            .await
        );

        let raw = raw_database(&app).await;
        for (what, needle) in &needles {
            assert!(!found(&raw, needle), "{what} is still in the database");
            assert!(
                !found(&raw, hex(needle).as_bytes()),
                "{what} (hex) is still in the database"
            );
        }
        for p in &photos {
            assert!(
                !photo_dir.join(p).exists(),
                "photo file {p} is still on disk"
            );
        }
        // Kept without identity: the paid visits, and the request record without its details.
        let kept: i64 = db
            .query_one(
                &Query::select()
                    .expr_as(Expr::col("id").count(), "n")
                    .from("visits")
                    .and_where(Expr::col("customer_id").is_null())
                    .to_owned(),
            )
            .await
            .unwrap()
            .unwrap()
            .try_get("", "n")
            .unwrap();
        assert!(kept >= visits_before.len() as i64);
        let ledger_rows: i64 = db
            .query_one(
                &Query::select()
                    .expr_as(Expr::col(("membership_ledger", "id")).count(), "n")
                    .from("membership_ledger")
                    .inner_join(
                        "memberships",
                        Expr::col(("memberships", "id"))
                            .equals(("membership_ledger", "membership_id")),
                    )
                    .and_where(Expr::col(("memberships", "customer_id")).is_null())
                    .to_owned(),
            )
            .await
            .unwrap()
            .unwrap()
            .try_get("", "n")
            .unwrap();
        assert!(
            ledger_rows >= 2,
            "the stored-value ledger stays, without identity"
        );
        let record = requests::get(db, r.id).await.unwrap();
        assert_eq!(record.customer, None);
        assert!(record.outcome.unwrap().contains("已删除"));
        // Marketing can never re-add the person.
        assert!(
            requests::erase::is_suppressed(&app.portal, "email", email.as_str())
                .await
                .unwrap()
        );
        assert!(
            requests::erase::is_suppressed(&app.portal, "phone", phone.as_str())
                .await
                .unwrap()
        );
        // Nobody else was touched.
        let other = customers::contact(db, vault, neighbour).await.unwrap();
        assert_eq!(other.email.unwrap().as_str(), "customer012@example.com");
        assert_eq!(
            customers::find_by_email(db, vault, &email).await.unwrap(),
            None
        );
        // A dated receipt is mailed to the old address, sealed with the portal's key (theirs is
        // gone); once the mail server took it, the erased address is gone from the outbox too.
        assert!(
            eventually(StdDuration::from_secs(10), || async {
                sink.received()
                    .iter()
                    .any(|m| m.rcpt.iter().any(|t| t.contains("customer011@example.com")))
            })
            .await,
            "the receipt was delivered"
        );
        assert!(
            eventually(StdDuration::from_secs(10), || async {
                db.query_one(
                    &Query::select()
                        .column("id")
                        .from("mail_outbox")
                        .and_where(Expr::col("template").eq("erasure_receipt"))
                        .to_owned(),
                )
                .await
                .unwrap()
                .is_none()
            })
            .await,
            "the delivered receipt does not keep the erased address in the outbox"
        );
    })
}

#[test]
fn files_left_behind_by_a_crash_are_swept_once_an_hour_old() {
    crate::support::run(async {
        let app = support::spawn_app().await;
        // The portal's own daily run sweeps at start-up; let it pass first, so the count below is
        // this call's alone.
        support::daily_run_passed(&app).await;
        let dir = app.portal.settings.data_dir.join("photos");
        std::fs::create_dir_all(&dir).unwrap();
        let stray = dir.join("left-by-a-crash.sealed");
        let fresh = dir.join("being-written.sealed");
        std::fs::write(&stray, b"sealed bytes of an erased customer").unwrap();
        std::fs::write(&fresh, b"an upload in progress").unwrap();
        let hours_ago = std::time::SystemTime::now() - StdDuration::from_secs(2 * 3600);
        std::fs::File::options()
            .write(true)
            .open(&stray)
            .unwrap()
            .set_modified(hours_ago)
            .unwrap();
        // A copy under its temporary name is the lock's business (a long export, or a
        // committed one whose replica is down), never the age's.
        let exports = app.portal.settings.data_dir.join("exports");
        std::fs::create_dir_all(&exports).unwrap();
        let part = exports.join("a-committed-copy.zip.part");
        std::fs::write(&part, b"sealed copy").unwrap();
        std::fs::File::options()
            .write(true)
            .open(&part)
            .unwrap()
            .set_modified(hours_ago)
            .unwrap();
        let n = requests::erase::sweep_orphan_files(&app.portal, Utc::now())
            .await
            .unwrap();
        assert_eq!(n, 1);
        assert!(!stray.exists());
        assert!(fresh.exists(), "nothing younger than an hour is touched");
        assert!(part.exists(), "a temporary copy is left to the recovery");
    })
}

#[test]
fn in_development_the_dev_mailbox_files_of_an_erased_customer_go_with_them() {
    crate::support::run(async {
        let app = spawn_app_with(|s| {
            s.smtp_url = None;
            s.dev_mailbox = true;
        })
        .await;
        let id = support::customer(&app, "mailbox-erased@example.com", "zh").await;
        let other = support::customer(&app, "mailbox-kept@example.com", "zh").await;
        let dir = portal_core::mail::dev_mailbox_dir(&app.portal.settings.data_dir);
        for (who, to) in [
            (id, "mailbox-erased@example.com"),
            (other, "mailbox-kept@example.com"),
        ] {
            let mail = portal_core::mail::OutgoingMail {
                to: Email::parse(to).unwrap(),
                subject: "subject".into(),
                text: "body".into(),
                html: None,
            };
            app.portal
                .enqueue_mail(&app.portal.db, Some(who), "test", &mail)
                .await
                .unwrap();
        }
        app.portal.outbox.notify();
        let holds = |needle: &'static str| {
            let dir = dir.clone();
            move || {
                std::fs::read_dir(&dir).into_iter().flatten().any(|f| {
                    std::fs::read_to_string(f.unwrap().path())
                        .unwrap_or_default()
                        .contains(needle)
                })
            }
        };
        assert!(
            eventually(StdDuration::from_secs(10), || {
                let (a, b) = (holds("mailbox-erased"), holds("mailbox-kept"));
                async move { a() && b() }
            })
            .await,
            "both mails were delivered to the dev mailbox"
        );
        let officer = portal_core::staff::add(
            &app.portal.db,
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
            id,
            Kind::Deletion,
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
            eventually(StdDuration::from_secs(15), || async {
                requests::get(&app.portal.db, r.id).await.unwrap().status == Status::Done
            })
            .await
        );
        let data_dir = &app.portal.settings.data_dir;
        assert!(
            portal_core::mail::dev_mail_files_of(data_dir, id).is_empty(),
            "no mailbox file of the erased customer is left"
        );
        assert_eq!(
            portal_core::mail::dev_mail_files_of(data_dir, other).len(),
            1,
            "another customer's mail stays"
        );
    })
}

/// The officer's view of one pass-on task over HTTP, as the task page asks for it.
async fn task_view(
    app: &support::TestApp,
    cookie: &str,
    task: i64,
) -> app::staff::sharing::PassOnTask {
    use leptos::server_fn::ServerFn;
    let r = app
        .client
        .post(app.url(app::staff::sharing::TaskView::PATH))
        .header("origin", support::PUBLIC_URL)
        .header("cookie", cookie)
        .form(&[("id", task.to_string())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), reqwest::StatusCode::OK);
    r.json().await.unwrap()
}

#[test]
fn after_a_deletion_each_recipient_task_shows_what_it_was_given_until_it_is_marked_done() {
    crate::support::run(async {
        use portal_core::{
            sessions::Subject,
            sharing::{self, Identifier},
            staff::Role,
        };
        let app = support::spawn_app().await;
        portal_core::demo::load(&app.portal).await.unwrap();
        let db = &app.portal.db;
        let vault = &app.portal.vault;
        // customer011 has a phone and a membership card; the demo's PayPlatform is given card
        // numbers, its SMS Gateway phone numbers.
        let email = Email::parse("customer011@example.com").unwrap();
        let id = customers::find_by_email(db, vault, &email)
            .await
            .unwrap()
            .unwrap();
        let phone = customers::contact(db, vault, id)
            .await
            .unwrap()
            .phone
            .unwrap();
        let cards = customers::record::card_numbers(db, vault, id)
            .await
            .unwrap();
        assert!(!cards.is_empty(), "the demo gives this customer a card");
        let officer = support::staff_member(
            &app,
            "po3@salon.example",
            Role::PrivacyOfficer,
            "scissors mirror comb 2026",
        )
        .await;
        let cookie = support::signed_in_as(&app, Subject::Staff(officer)).await;
        let now = Utc::now();
        // An earlier correction of the phone left a task for the SMS gateway only (the payment
        // platform was given nothing the correction changed).
        let correction = requests::submit(
            &app.portal,
            id,
            Kind::Correction,
            &Details {
                corrections: vec![("phone".into(), "13800002222".into())],
                ..Details::default()
            },
            Submitter::Customer,
            now,
        )
        .await
        .unwrap()
        .id;
        let before = sharing::Identifiers::read(db, vault, id).await.unwrap();
        let after = sharing::Identifiers {
            phone: Some("+8613800002222".into()),
            ..before.clone()
        };
        let opened = sharing::open_tasks(db, vault, correction, &before, Some(&after), now)
            .await
            .unwrap();
        assert_eq!(opened.len(), 1, "{opened:?}");
        let earlier = sharing::tasks(db, true).await.unwrap()[0].id;
        assert_eq!(task_view(&app, &cookie, earlier).await.found.len(), 1);
        let customers_browser = support::signed_in_as(&app, Subject::Customer(id)).await;
        let r = requests::submit(
            &app.portal,
            id,
            Kind::Deletion,
            &Details::default(),
            Submitter::Customer,
            now,
        )
        .await
        .unwrap();
        settle_all(&app, id, officer).await;
        requests::approve(&app.portal, officer, r.id, now)
            .await
            .unwrap();
        assert!(
            eventually(StdDuration::from_secs(15), || async {
                requests::get(db, r.id).await.unwrap().status == Status::Done
            })
            .await
        );

        // The customer's open session has ended, and their next page says why.
        let next = app
            .client
            .get(app.url("/me"))
            .header("cookie", &customers_browser)
            .send()
            .await
            .unwrap();
        assert_eq!(support::location(&next), "/signin?erased=1");
        let said = app
            .get_in("/signin?erased=1", "zh-CN")
            .await
            .text()
            .await
            .unwrap();
        assert!(said.contains("您的信息已按您的申请删除"), "{said}");
        // The request stays, and says its customer was erased.
        let page = app
            .client
            .get(app.url(&format!("/staff/requests/{}", r.id)))
            .header("cookie", &cookie)
            .header("accept-language", "zh-CN")
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(page.contains("已删除（顾客信息已按申请删除）"), "{page}");
        // One task per recipient, each with what that recipient was given and nothing else.
        let tasks: Vec<_> = sharing::tasks(db, true)
            .await
            .unwrap()
            .into_iter()
            .filter(|t| t.request == r.id)
            .collect();
        assert_eq!(tasks.len(), 2);
        let by_name = |n: &str| tasks.iter().find(|t| t.recipient == n).unwrap().id;
        let (pay, sms) = (by_name("PayPlatform"), by_name("SMS Gateway"));
        let v = task_view(&app, &cookie, pay).await;
        assert_eq!(v.task.kind, Kind::Deletion);
        assert_eq!(
            v.found,
            vec![(Identifier::Card, cards.join(", "), None)],
            "the payment platform finds the record by its card number"
        );
        let v = task_view(&app, &cookie, sms).await;
        assert_eq!(
            v.found,
            vec![(Identifier::Phone, phone.as_str().to_owned(), None)],
            "the SMS gateway by the phone number, and sees no card"
        );
        // Sealed in the database: the values are not there in the clear.
        let raw = raw_database(&app).await;
        assert!(!found(&raw, phone.as_str().as_bytes()));
        assert!(!found(&raw, cards[0].as_bytes()));
        // The earlier correction's identifiers went with the erasure; its task stays open.
        let v = task_view(&app, &cookie, earlier).await;
        assert!(v.found.is_empty() && v.had_identifiers && v.task.open);
        // Every view is audited: under the customer while on record (they see it), under the
        // task once erased.
        let views = |kind: &'static str| {
            let sql = format!(
                "SELECT COUNT(*) AS n FROM audit_log WHERE action = 'view_pass_on_identifiers' AND subject_kind = '{kind}'"
            );
            let app = &app;
            async move { support::count(app, &sql).await }
        };
        assert_eq!(views("customer").await, 1);
        assert_eq!(views("pass_on_task").await, 3);
        // The receipt names the recipients and what is kept for each, and for how long.
        assert!(
            eventually(StdDuration::from_secs(10), || async {
                app.sink.received().iter().any(|m| {
                    let body = support::mail_body(&m.data);
                    m.rcpt.iter().any(|t| t.contains("customer011@example.com"))
                        && body.contains("PayPlatform（会员卡号）")
                        && body.contains("SMS Gateway（手机号）")
                        && body.contains("最长保存 30 天")
                })
            })
            .await,
            "the receipt tells what is kept for the recipients"
        );

        // Marked done: its key and ciphertext go, and the page says so.
        let done = app
            .client
            .post(app.url(<app::staff::sharing::ConfirmTask as leptos::server_fn::ServerFn>::PATH))
            .header("origin", support::PUBLIC_URL)
            .header("cookie", &cookie)
            .form(&[("task", sms.to_string())])
            .send()
            .await
            .unwrap();
        assert!(done.status().is_success() || done.status().is_redirection());
        let v = task_view(&app, &cookie, sms).await;
        assert!(v.found.is_empty() && v.had_identifiers && !v.task.open);
        assert_eq!(
            support::count(&app, "SELECT COUNT(*) AS n FROM pass_on_keys").await,
            1,
            "only the payment platform's key is left"
        );

        // A task left open loses its identifiers after the bounded time all the same.
        let later = now + sharing::PASS_ON_KEEP + chrono::Duration::minutes(1);
        assert_eq!(sharing::sweep_expired(db, later).await.unwrap(), 1);
        let v = task_view(&app, &cookie, pay).await;
        assert!(v.found.is_empty() && v.had_identifiers && v.task.open);
        assert_eq!(
            support::count(&app, "SELECT COUNT(*) AS n FROM pass_on_keys").await,
            0
        );
    })
}
