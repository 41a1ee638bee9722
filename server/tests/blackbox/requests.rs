//! Data-subject requests through the domain, with mail through a real SMTP server: due dates,
//! one open request per kind, cancelling, and the staff decisions with their rules.

use crate::support;

use std::time::Duration as StdDuration;

use crate::support::{app_with_sink, eventually, smtp::SmtpSink};
use chrono::{Datelike, Duration, Utc};
use portal_core::requests::{self, Details, Kind, Status, Submitter};

fn note(text: &str) -> Details {
    Details {
        note: Some(text.into()),
        ..Details::default()
    }
}

/// The mail to customers (officers are mailed of each new request too: not counted here),
/// once at least `n` have arrived.
async fn mails(sink: &SmtpSink, n: usize) -> Vec<String> {
    let customers = || {
        sink.received()
            .into_iter()
            .filter(|m| !m.rcpt.iter().any(|r| r.contains("@salon.example")))
            .map(|m| m.data.replace("=\r\n", "").replace("=3D", "="))
            .collect::<Vec<_>>()
    };
    assert!(
        eventually(StdDuration::from_secs(10), || async {
            customers().len() >= n
        })
        .await,
        "expected {n} mails, got {}",
        customers().len()
    );
    customers()
}

#[test]
fn a_request_is_due_in_fifteen_working_days_and_a_second_of_the_same_kind_is_merged() {
    crate::support::run(async {
        let (app, sink) = app_with_sink().await;
        let c = support::customer(&app, "asker@example.com", "en").await;
        let now = Utc::now();
        let first = requests::submit(
            &app.portal,
            c,
            Kind::Access,
            &note("all of it"),
            Submitter::Customer,
            now,
        )
        .await
        .unwrap();
        assert!(!first.merged);
        let r = requests::get(&app.portal.db, first.id).await.unwrap();
        assert_eq!(r.status, Status::Submitted);
        let cal = requests::calendar(&app.portal);
        let due_day = cal.local_date(r.due_at);
        assert_eq!(cal.working_days_between(cal.local_date(now), due_day), 15);
        assert!(!matches!(
            due_day.weekday(),
            chrono::Weekday::Sat | chrono::Weekday::Sun
        ));

        let again = requests::submit(
            &app.portal,
            c,
            Kind::Access,
            &note("photos too"),
            Submitter::Customer,
            now,
        )
        .await
        .unwrap();
        assert_eq!(again.id, first.id);
        assert!(again.merged);
        let d = requests::details(&app.portal.db, &app.portal.vault, first.id)
            .await
            .unwrap();
        assert_eq!(d.note.as_deref(), Some("all of it\n\nphotos too"));
        let other = requests::submit(
            &app.portal,
            c,
            Kind::Objection,
            &Details::default(),
            Submitter::Customer,
            now,
        )
        .await
        .unwrap();
        assert_ne!(other.id, first.id);

        let m = mails(&sink, 3).await;
        assert!(
            m[0].contains("We have received your request for a copy of your data"),
            "{}",
            m[0]
        );
        assert!(m[0].contains(&due_day.format("%Y-%m-%d").to_string()));
        assert!(m[1].contains("we have added what you sent"));
        assert!(
            m.iter()
                .all(|x| x.contains("http://portal.test/me/requests"))
        );
    })
}

#[test]
fn a_customer_cancels_only_their_own_request_and_only_before_it_is_decided() {
    crate::support::run(async {
        let (app, _sink) = app_with_sink().await;
        let a = support::customer(&app, "a@example.com", "zh").await;
        let b = support::customer(&app, "b@example.com", "zh").await;
        let now = Utc::now();
        let r = requests::submit(
            &app.portal,
            a,
            Kind::Deletion,
            &Details::default(),
            Submitter::Customer,
            now,
        )
        .await
        .unwrap();
        assert!(
            requests::cancel(&app.portal, b, r.id, now).await.is_err(),
            "not b's request"
        );
        let cancelled = requests::cancel(&app.portal, a, r.id, now).await.unwrap();
        assert_eq!(cancelled.status, Status::Cancelled);
        assert!(
            requests::cancel(&app.portal, a, r.id, now).await.is_err(),
            "once"
        );

        let r2 = requests::submit(
            &app.portal,
            a,
            Kind::Restriction,
            &Details::default(),
            Submitter::Customer,
            now,
        )
        .await
        .unwrap();
        let staff = support_staff(&app).await;
        requests::approve(&app.portal, staff, r2.id, now)
            .await
            .unwrap();
        assert!(
            requests::cancel(&app.portal, a, r2.id, now).await.is_err(),
            "approved cannot be cancelled"
        );
        let history = requests::events(&app.portal.db, r.id).await.unwrap();
        let path: Vec<&str> = history.iter().map(|e| e.to.as_str()).collect();
        assert_eq!(path, ["submitted", "cancelled"]);
    })
}

async fn support_staff(app: &support::TestApp) -> i64 {
    portal_core::staff::add(
        &app.portal.db,
        &portal_core::email::Email::parse(&format!(
            "s{}@salon.example",
            uuid::Uuid::new_v4().simple()
        ))
        .unwrap(),
        &portal_core::staff::StaffName::parse("员工").unwrap(),
        portal_core::staff::Role::PrivacyOfficer,
    )
    .await
    .unwrap()
    .id
}

#[test]
fn staff_decide_with_reasons_never_on_their_own_recording_and_extend_only_once() {
    crate::support::run(async {
        let (app, sink) = app_with_sink().await;
        let c = support::customer(&app, "c@example.com", "en").await;
        let desk = support_staff(&app).await;
        let officer = support_staff(&app).await;
        let now = Utc::now();
        // Recorded at the counter by `desk`: desk may not decide it.
        let r = requests::submit(
            &app.portal,
            c,
            Kind::Access,
            &Details::default(),
            Submitter::Staff(desk),
            now,
        )
        .await
        .unwrap();
        assert!(matches!(
            requests::approve(&app.portal, desk, r.id, now).await,
            Err(portal_core::CoreError::Refused(
                portal_core::Refusal::Request(requests::Refusal::OwnRequest)
            ))
        ));
        assert!(
            requests::deny(&app.portal, desk, r.id, "no", now)
                .await
                .is_err()
        );
        // A denial needs a reason.
        assert!(matches!(
            requests::deny(&app.portal, officer, r.id, "   ", now).await,
            Err(portal_core::CoreError::Invalid("request.reason"))
        ));
        let reviewed = requests::start_review(&app.portal, officer, r.id, now)
            .await
            .unwrap();
        assert_eq!(reviewed.assigned_staff, Some(officer));

        // Extend: once, later than today's due date, at most two months after it.
        let due_day = requests::calendar(&app.portal).local_date(reviewed.due_at);
        assert!(
            requests::extend(
                &app.portal,
                officer,
                r.id,
                "busy",
                due_day + Duration::days(70),
                now
            )
            .await
            .is_err()
        );
        assert!(
            requests::extend(
                &app.portal,
                officer,
                r.id,
                "",
                due_day + Duration::days(10),
                now
            )
            .await
            .is_err()
        );
        let extended = requests::extend(
            &app.portal,
            officer,
            r.id,
            "photos are archived off-site",
            due_day + Duration::days(20),
            now,
        )
        .await
        .unwrap();
        assert_eq!(
            extended.extension_reason.as_deref(),
            Some("photos are archived off-site")
        );
        assert!(
            requests::extend(
                &app.portal,
                officer,
                r.id,
                "again",
                due_day + Duration::days(30),
                now
            )
            .await
            .is_err()
        );

        let denied = requests::deny(
            &app.portal,
            officer,
            r.id,
            "we could not confirm it is you",
            now,
        )
        .await
        .unwrap();
        assert_eq!(denied.status, Status::Denied);
        let m = mails(&sink, 4).await;
        assert!(
            m.iter()
                .any(|x| x.contains("Why: photos are archived off-site")),
            "extension told"
        );
        assert!(
            m.iter()
                .any(|x| x.contains("Why: we could not confirm it is you")),
            "denial told"
        );
    })
}

#[test]
fn a_deletion_waits_for_a_settled_balance_and_a_question_gets_an_answer() {
    crate::support::run(async {
        let (app, sink) = app_with_sink().await;
        let c = support::customer(&app, "member@example.com", "en").await;
        let officer = support_staff(&app).await;
        let now = Utc::now();
        support::membership_holding(&app, c, 5000).await;
        let del = requests::submit(
            &app.portal,
            c,
            Kind::Deletion,
            &Details::default(),
            Submitter::Customer,
            now,
        )
        .await
        .unwrap();
        assert!(matches!(
            requests::approve(&app.portal, officer, del.id, now).await,
            Err(portal_core::CoreError::Refused(
                portal_core::Refusal::Request(requests::Refusal::OpenBalance)
            ))
        ));

        assert!(
            requests::submit(
                &app.portal,
                c,
                Kind::Question,
                &Details::default(),
                Submitter::Customer,
                now
            )
            .await
            .is_err(),
            "a question needs its text"
        );
        let q = requests::submit(
            &app.portal,
            c,
            Kind::Question,
            &note("Who sees my allergies?"),
            Submitter::Customer,
            now,
        )
        .await
        .unwrap();
        let done = requests::answer(
            &app.portal,
            officer,
            q.id,
            "Only stylists, and only with your consent.",
            now,
        )
        .await
        .unwrap();
        assert_eq!(done.status, Status::Done);
        let m = mails(&sink, 3).await;
        assert!(
            m.iter()
                .any(|x| x.contains("Only stylists, and only with your consent."))
        );
    })
}

#[test]
fn two_staff_deciding_at_once_cannot_both_win() {
    crate::support::run(async {
        let (app, _sink) = app_with_sink().await;
        let c = support::customer(&app, "race@example.com", "zh").await;
        let a = support_staff(&app).await;
        let b = support_staff(&app).await;
        let now = Utc::now();
        let r = requests::submit(
            &app.portal,
            c,
            Kind::Restriction,
            &Details::default(),
            Submitter::Customer,
            now,
        )
        .await
        .unwrap();
        let (p1, p2) = (app.portal.clone(), app.portal.clone());
        let (x, y) = tokio::join!(
            tokio::spawn(async move { requests::approve(&p1, a, r.id, now).await }),
            tokio::spawn(async move { requests::deny(&p2, b, r.id, "not needed", now).await }),
        );
        let wins = [x.unwrap().is_ok(), y.unwrap().is_ok()];
        assert_eq!(wins.iter().filter(|w| **w).count(), 1, "{wins:?}");
    })
}

#[test]
fn approved_objection_restriction_and_correction_are_carried_out_once_and_told() {
    crate::support::run(async {
        use portal_core::consents::{self, Change, Channel, Purpose};
        let (app, sink) = app_with_sink().await;
        let c = support::customer(&app, "carry@example.com", "en").await;
        let officer = support_staff(&app).await;
        let now = Utc::now();
        for p in [
            Purpose::MarketingSms,
            Purpose::MarketingEmail,
            Purpose::PhotosPortfolio,
        ] {
            let change = Change {
                purpose: p,
                granted: true,
                channel: Channel::FrontDesk,
                recorded_by: None,
                notice_version: Some(1),
            };
            consents::record(&app.portal.db, c, change, now)
                .await
                .unwrap();
        }
        let submit = |kind: Kind, details: Details| {
            let portal = app.portal.clone();
            async move {
                requests::submit(&portal, c, kind, &details, Submitter::Customer, now)
                    .await
                    .unwrap()
                    .id
            }
        };
        let objection = submit(Kind::Objection, Details::default()).await;
        let restriction = submit(Kind::Restriction, Details::default()).await;
        let correction = submit(
            Kind::Correction,
            Details {
                corrections: vec![
                    ("name".into(), "Carry Newname".into()),
                    ("phone".into(), "13912340000".into()),
                ],
                ..Details::default()
            },
        )
        .await;
        requests::approve(&app.portal, officer, objection, now)
            .await
            .unwrap();
        requests::approve(&app.portal, officer, restriction, now)
            .await
            .unwrap();
        // Field by field: the name is approved, the phone is not.
        requests::approve_correction(&app.portal, officer, correction, &["name".into()], now)
            .await
            .unwrap();

        // Two more workers at once, beside the server's own loop (as on several replicas): each
        // request is carried out exactly once.
        let (p1, p2) = (app.portal.clone(), app.portal.clone());
        let (a, b) = tokio::join!(
            requests::fulfil::run_once(&p1, now),
            requests::fulfil::run_once(&p2, now)
        );
        assert!(a.unwrap() + b.unwrap() <= 3);
        assert_eq!(
            requests::fulfil::run_once(&app.portal, now).await.unwrap(),
            0,
            "nothing left"
        );

        for id in [objection, restriction, correction] {
            assert_eq!(
                requests::get(&app.portal.db, id).await.unwrap().status,
                Status::Done
            );
        }
        // Objection: every marketing consent off, photos untouched, each withdrawal in the ledger.
        let states = consents::states(&app.portal.db, c).await.unwrap();
        let on: Vec<Purpose> = states
            .iter()
            .filter(|(_, on)| *on)
            .map(|(p, _)| *p)
            .collect();
        assert_eq!(on, vec![Purpose::PhotosPortfolio]);
        let withdrawals = consents::history(&app.portal.db, c)
            .await
            .unwrap()
            .into_iter()
            .filter(|e| !e.granted)
            .count();
        assert_eq!(withdrawals, 2);
        // Restriction: frozen.
        assert!(
            portal_core::mydata::restricted(&app.portal.db, c)
                .await
                .unwrap()
        );
        // Correction: only the approved field changed.
        let contact = portal_core::customers::contact(&app.portal.db, &app.portal.vault, c)
            .await
            .unwrap();
        assert_eq!(contact.name, "Carry Newname");
        assert_eq!(contact.phone, None);

        // Received and done, for each of the three: no "approved" mail when the portal carries
        // the request out at once.
        mails(&sink, 6).await;
        tokio::time::sleep(StdDuration::from_millis(300)).await;
        let m = mails(&sink, 6).await;
        assert_eq!(m.len(), 6, "{m:#?}");
        assert!(!m.iter().any(|x| x.contains("is approved")), "{m:#?}");
        assert!(
            m.iter()
                .any(|x| x.contains("Every marketing consent is now off (2 withdrawn)")),
            "{m:#?}"
        );
        assert!(m.iter().any(|x| x.contains("We corrected: name.")));
    })
}

#[test]
fn an_approved_request_left_by_a_crash_is_carried_out_by_the_running_server() {
    crate::support::run(async {
        let (app, _sink) = app_with_sink().await;
        let c = support::customer(&app, "resume@example.com", "zh").await;
        let officer = support_staff(&app).await;
        let now = Utc::now();
        let id = requests::submit(
            &app.portal,
            c,
            Kind::Restriction,
            &Details::default(),
            Submitter::Customer,
            now,
        )
        .await
        .unwrap()
        .id;
        // Approval commits; nothing else runs it here: the server's own fulfilment loop must.
        requests::approve(&app.portal, officer, id, now)
            .await
            .unwrap();
        assert!(
            eventually(StdDuration::from_secs(10), || async {
                requests::get(&app.portal.db, id).await.unwrap().status == Status::Done
            })
            .await
        );
        assert!(
            portal_core::mydata::restricted(&app.portal.db, c)
                .await
                .unwrap()
        );
    })
}

#[test]
fn the_privacy_officer_is_reminded_once_before_a_due_date_and_once_when_it_passes() {
    crate::support::run(async {
        use sea_orm::{
            ConnectionTrait,
            sea_query::{Expr, ExprTrait, Query},
        };
        let (app, sink) = app_with_sink().await;
        let c = support::customer(&app, "remind@example.com", "zh").await;
        let officer = format!("officer-{}@salon.example", uuid::Uuid::new_v4().simple());
        portal_core::staff::add(
            &app.portal.db,
            &portal_core::email::Email::parse(&officer).unwrap(),
            &portal_core::staff::StaffName::parse("员工").unwrap(),
            portal_core::staff::Role::PrivacyOfficer,
        )
        .await
        .unwrap();
        let now = Utc::now();
        let id = requests::submit(
            &app.portal,
            c,
            Kind::Access,
            &Details::default(),
            Submitter::Customer,
            now,
        )
        .await
        .unwrap()
        .id;
        let set_due = |due: chrono::DateTime<Utc>| {
            let db = app.portal.db.clone();
            async move {
                db.execute(
                    &Query::update()
                        .table("requests")
                        .value("due_at", due)
                        .and_where(Expr::col("id").eq(id))
                        .to_owned(),
                )
                .await
                .unwrap();
            }
        };
        // Fifteen working days away: nothing yet (the server's own loop runs too).
        tokio::time::sleep(StdDuration::from_millis(300)).await;
        assert_eq!(
            requests::reminders::run_once(&app.portal, now)
                .await
                .unwrap(),
            0
        );
        // Due tomorrow: one reminder, and only one however often the loop runs.
        set_due(now + Duration::hours(20)).await;
        requests::reminders::run_once(&app.portal, now)
            .await
            .unwrap();
        requests::reminders::run_once(&app.portal, now)
            .await
            .unwrap();
        assert_eq!(
            requests::reminders::run_once(&app.portal, now)
                .await
                .unwrap(),
            0
        );
        // Overdue: one more.
        set_due(now - Duration::hours(1)).await;
        requests::reminders::run_once(&app.portal, now)
            .await
            .unwrap();
        assert_eq!(
            requests::reminders::run_once(&app.portal, now)
                .await
                .unwrap(),
            0
        );
        // Counted where they arrive: the outbox forgets system mail once it is delivered.
        let reminders = || {
            sink.received()
                .into_iter()
                .filter(|m| m.rcpt.iter().any(|r| r.contains(&officer)))
                .filter(|m| !support::mail_body(&m.data).contains("新申请"))
                .count()
        };
        assert!(
            eventually(StdDuration::from_secs(10), || async { reminders() >= 2 }).await,
            "expected two reminders, got {}",
            reminders()
        );
        tokio::time::sleep(StdDuration::from_millis(500)).await;
        assert_eq!(reminders(), 2, "one before, one after the due date");
        // The kind in words, never its stored code.
        for m in sink
            .received()
            .iter()
            .filter(|m| m.rcpt.iter().any(|r| r.contains(&officer)))
            .filter(|m| !support::mail_body(&m.data).contains("新申请"))
        {
            let text = support::mail_body(&m.data);
            assert!(
                text.contains("（获取副本）") && text.contains("(copy of data)"),
                "{text}"
            );
            assert!(!text.contains("access"), "{text}");
        }
    })
}

#[test]
fn an_applied_correction_opens_a_task_per_recipient_with_the_old_and_new_values_tracked_to_done() {
    crate::support::run(async {
        use portal_core::{
            customers::{self, record},
            phone::Phone,
            sharing::{self, Identifier, Recipient},
        };
        let (app, _sink) = app_with_sink().await;
        let c = support::customer(&app, "shared@example.com", "zh").await;
        let officer = support_staff(&app).await;
        let now = Utc::now();
        let old_phone = Phone::parse("13900009999").unwrap();
        let change = record::ContactChange {
            name: customers::CustomerName::parse("测试顾客").unwrap(),
            email: Some(portal_core::email::Email::parse("shared@example.com").unwrap()),
            phone: Some(old_phone.clone()),
        };
        record::update_contact(&app.portal.db, &app.portal.vault, c, &change, now)
            .await
            .unwrap();
        // The first is given phone numbers, the second nothing that identifies anyone, the third
        // card numbers only (which a phone correction does not concern).
        for (name, phone, card) in [
            ("短信服务商", Some("on".into()), None),
            ("统计服务", None, None),
            ("支付平台", None, Some("on".into())),
        ] {
            sharing::add(
                &app.portal.db,
                &Recipient {
                    name: name.into(),
                    data_zh: "手机号".into(),
                    data_en: "phone".into(),
                    purpose_zh: "发送通知".into(),
                    purpose_en: "notifications".into(),
                    gives_phone: phone,
                    gives_card: card,
                    ..Recipient::default()
                },
            )
            .await
            .unwrap();
        }
        let id = requests::submit(
            &app.portal,
            c,
            Kind::Correction,
            &Details {
                corrections: vec![("phone".into(), "13800001111".into())],
                ..Details::default()
            },
            Submitter::Customer,
            now,
        )
        .await
        .unwrap()
        .id;
        requests::approve_correction(&app.portal, officer, id, &["phone".into()], now)
            .await
            .unwrap();
        assert!(
            eventually(StdDuration::from_secs(10), || async {
                requests::get(&app.portal.db, id).await.unwrap().status == Status::Done
            })
            .await
        );
        let open = sharing::tasks(&app.portal.db, true).await.unwrap();
        assert_eq!(open.len(), 2);
        assert!(
            open.iter()
                .all(|t| t.request == id && t.kind == Kind::Correction)
        );
        let by = (officer, portal_core::staff::Role::PrivacyOfficer);
        let sms = sharing::officer_views(&app.portal, by, open[0].id, now)
            .await
            .unwrap();
        assert_eq!(
            sms.found,
            vec![sharing::Found {
                identifier: Identifier::Phone,
                value: old_phone.as_str().to_owned(),
                corrected: Some("+8613800001111".into()),
            }],
            "the recipient finds the record by the old number and learns the new one"
        );
        let stats = sharing::officer_views(&app.portal, by, open[1].id, now)
            .await
            .unwrap();
        assert!(stats.found.is_empty() && !stats.had_identifiers);
        // The customer is still on record: both reads are theirs to see.
        assert_eq!(
            support::count(
                &app,
                &format!(
                    "SELECT COUNT(*) AS n FROM audit_log WHERE action = 'view_pass_on_identifiers' AND subject_kind = 'customer' AND subject_id = {c}"
                )
            )
            .await,
            2
        );
        sharing::confirm(&app.portal.db, open[0].id, now)
            .await
            .unwrap();
        assert!(
            sharing::confirm(&app.portal.db, open[0].id, now)
                .await
                .is_err(),
            "once"
        );
        assert_eq!(sharing::tasks(&app.portal.db, true).await.unwrap().len(), 1);
        assert!(
            sharing::add(
                &app.portal.db,
                &Recipient {
                    name: " ".into(),
                    data_zh: "x".into(),
                    data_en: "x".into(),
                    purpose_zh: "x".into(),
                    purpose_en: "x".into(),
                    ..Recipient::default()
                },
            )
            .await
            .is_err()
        );
    })
}

#[test]
fn a_new_email_address_applies_only_once_confirmed_through_a_link_sent_to_it() {
    crate::support::run(async {
        use app::me::ConfirmEmailChange;
        use leptos::server_fn::ServerFn;
        let (app, sink) = app_with_sink().await;
        let c = support::customer(&app, "old.address@example.com", "en").await;
        let officer = support_staff(&app).await;
        let now = Utc::now();
        let id = requests::submit(
            &app.portal,
            c,
            Kind::Correction,
            &Details {
                corrections: vec![("email".into(), "new.address@example.com".into())],
                ..Details::default()
            },
            Submitter::Customer,
            now,
        )
        .await
        .unwrap()
        .id;
        requests::approve_correction(&app.portal, officer, id, &["email".into()], now)
            .await
            .unwrap();
        assert!(
            eventually(StdDuration::from_secs(10), || async {
                requests::get(&app.portal.db, id).await.unwrap().status == Status::Done
            })
            .await
        );
        // Not applied yet.
        let contact = portal_core::customers::contact(&app.portal.db, &app.portal.vault, c)
            .await
            .unwrap();
        assert_eq!(contact.email.unwrap().as_str(), "old.address@example.com");
        assert!(
            eventually(StdDuration::from_secs(10), || async {
                sink.received()
                    .iter()
                    .any(|m| m.rcpt.iter().any(|r| r.contains("new.address@example.com")))
            })
            .await
        );
        let mail = sink
            .received()
            .into_iter()
            .find(|m| m.rcpt.iter().any(|r| r.contains("new.address@example.com")))
            .unwrap()
            .data
            .replace("=\r\n", "")
            .replace("=3D", "=");
        let token: String = mail
            .split("http://portal.test/me/email?t=")
            .nth(1)
            .expect("a link built from the public URL")
            .chars()
            .take(43)
            .collect();
        let page = app
            .get_in(&format!("/me/email?t={token}"), "en")
            .await
            .text()
            .await
            .unwrap();
        assert!(
            page.contains("n***@example.com"),
            "the page names the masked new address"
        );
        let post = || async {
            app.client
                .post(app.url(ConfirmEmailChange::PATH))
                .header("origin", support::PUBLIC_URL)
                .header("accept", "text/html")
                .form(&[("t", token.as_str())])
                .send()
                .await
                .unwrap()
                .headers()["location"]
                .to_str()
                .unwrap()
                .to_owned()
        };
        assert_eq!(post().await, "/me/email?done=1");
        assert_eq!(
            post().await,
            "/me/email?error=expired",
            "the link works once"
        );
        let email = portal_core::email::Email::parse("new.address@example.com").unwrap();
        assert_eq!(
            portal_core::customers::find_by_email(&app.portal.db, &app.portal.vault, &email)
                .await
                .unwrap(),
            Some(c)
        );
    })
}

#[test]
fn every_privacy_officer_hears_of_each_new_request_once_in_words_and_a_merged_one_adds_no_mail() {
    crate::support::run(async {
        let (app, sink) = app_with_sink().await;
        let c = support::customer(&app, "newreq@example.com", "zh").await;
        let officers = [support_staff(&app).await, support_staff(&app).await];
        let desk = portal_core::staff::add(
            &app.portal.db,
            &portal_core::email::Email::parse("desk.new@salon.example").unwrap(),
            &portal_core::staff::StaffName::parse("前台").unwrap(),
            portal_core::staff::Role::FrontDesk,
        )
        .await
        .unwrap()
        .id;
        assert_ne!(officers[0], desk);
        let now = Utc::now();
        let id = requests::submit(
            &app.portal,
            c,
            Kind::Deletion,
            &Details::default(),
            Submitter::Customer,
            now,
        )
        .await
        .unwrap()
        .id;
        let again = requests::submit(
            &app.portal,
            c,
            Kind::Deletion,
            &note("soon please"),
            Submitter::Customer,
            now,
        )
        .await
        .unwrap();
        assert!(again.merged);
        let to_staff = || {
            sink.received()
                .into_iter()
                .filter(|m| m.rcpt.iter().any(|r| r.contains("@salon.example")))
                .collect::<Vec<_>>()
        };
        assert!(
            eventually(StdDuration::from_secs(10), || async {
                to_staff().len() >= 2
            })
            .await
        );
        tokio::time::sleep(StdDuration::from_millis(300)).await;
        let staff_mail = to_staff();
        assert_eq!(
            staff_mail.len(),
            2,
            "one per officer, none for the merge, none to front desk"
        );
        assert!(
            !staff_mail
                .iter()
                .any(|m| m.rcpt.iter().any(|r| r.contains("desk.new")))
        );
        for m in &staff_mail {
            let body = support::mail_body(&m.data);
            assert!(body.contains(&format!("新申请 #{id}（删除）")), "{body}");
            assert!(
                body.contains(&format!("http://portal.test/staff/requests/{id}")),
                "{body}"
            );
            assert!(
                !body.contains("newreq@example.com") && !body.contains("deletion\n"),
                "{body}"
            );
        }
    })
}

#[test]
fn with_the_daily_digest_officers_get_one_mail_a_day_listing_the_new_requests() {
    crate::support::run(async {
        let sink = SmtpSink::start().await;
        let url = sink.url();
        let app = support::spawn_app_with(|s| {
            s.smtp_url = Some(url);
            s.officer_mail = portal_core::config::OfficerMail::Daily;
        })
        .await;
        let start = Utc::now() - Duration::hours(1);
        // Starts the digest's clock (the running server may have already).
        requests::reminders::digest_once(&app.portal, start)
            .await
            .unwrap();
        let c = support::customer(&app, "digest@example.com", "en").await;
        support_staff(&app).await;
        let now = Utc::now();
        let mut ids = Vec::new();
        for kind in [Kind::Access, Kind::Objection] {
            ids.push(
                requests::submit(
                    &app.portal,
                    c,
                    kind,
                    &Details::default(),
                    Submitter::Customer,
                    now,
                )
                .await
                .unwrap()
                .id,
            );
        }
        let tomorrow = now + Duration::days(1);
        assert_eq!(
            requests::reminders::digest_once(&app.portal, tomorrow)
                .await
                .unwrap(),
            2
        );
        assert_eq!(
            requests::reminders::digest_once(&app.portal, tomorrow)
                .await
                .unwrap(),
            0,
            "once a day"
        );
        let to_staff = || {
            sink.received()
                .into_iter()
                .filter(|m| m.rcpt.iter().any(|r| r.contains("@salon.example")))
                .collect::<Vec<_>>()
        };
        assert!(
            eventually(StdDuration::from_secs(10), || async {
                !to_staff().is_empty()
            })
            .await
        );
        tokio::time::sleep(StdDuration::from_millis(300)).await;
        let staff_mail = to_staff();
        assert_eq!(staff_mail.len(), 1, "the digest, and no mail per request");
        let body = support::mail_body(&staff_mail[0].data);
        for id in ids {
            assert!(body.contains(&format!("#{id} ")), "{body}");
        }
    })
}

#[test]
fn a_copy_requests_mails_say_in_their_subject_what_happened() {
    crate::support::run(async {
        let (app, sink) = app_with_sink().await;
        let c = support::customer(&app, "subjects@example.com", "zh").await;
        let officer = support_staff(&app).await;
        let now = Utc::now();
        let id = requests::submit(
            &app.portal,
            c,
            Kind::Access,
            &Details::default(),
            Submitter::Customer,
            now,
        )
        .await
        .unwrap()
        .id;
        requests::approve(&app.portal, officer, id, now)
            .await
            .unwrap();
        assert!(
            eventually(StdDuration::from_secs(15), || async {
                requests::get(&app.portal.db, id).await.unwrap().status == Status::Done
            })
            .await
        );
        mails(&sink, 2).await;
        tokio::time::sleep(StdDuration::from_millis(300)).await;
        let subjects: Vec<String> = sink
            .received()
            .iter()
            .filter(|m| m.rcpt.iter().any(|r| r.contains("subjects@example.com")))
            .filter_map(|m| {
                m.data
                    .lines()
                    .find(|l| l.starts_with("Subject:"))
                    .map(str::to_owned)
            })
            .collect();
        assert_eq!(
            subjects.len(),
            2,
            "received and ready, no approved: {subjects:?}"
        );
        assert_ne!(subjects[0], subjects[1]);
    })
}

#[test]
fn settling_a_balance_takes_the_amount_shown_a_method_and_a_tick_is_audited_and_mailed() {
    crate::support::run(async {
        use app::staff::requests::DecideRequest;
        use leptos::server_fn::ServerFn;
        let (app, sink) = app_with_sink().await;
        let c = support::customer(&app, "settle.me@example.com", "zh").await;
        let officer = support_staff(&app).await;
        let cookie =
            support::signed_in_as(&app, portal_core::sessions::Subject::Staff(officer)).await;
        let now = Utc::now();
        support::membership_holding(&app, c, 5000).await;
        let id = requests::submit(
            &app.portal,
            c,
            Kind::Deletion,
            &Details::default(),
            Submitter::Customer,
            now,
        )
        .await
        .unwrap()
        .id;
        let settle = |fields: Vec<(&'static str, &'static str)>| {
            let app = &app;
            let cookie = cookie.clone();
            async move {
                let mut form = vec![("id", id.to_string()), ("decision", "settle".to_owned())];
                form.extend(fields.into_iter().map(|(k, v)| (k, v.to_owned())));
                support::location(&app.browser_post(DecideRequest::PATH, &form, &cookie).await)
            }
        };
        let balance = || portal_core::membership::balance_cents(&app.portal.db, c);
        // No tick, no method, or an amount other than the balance: refused, nothing settled.
        for form in [
            vec![("settle_amount", "50.00"), ("settle_method", "cash")],
            vec![("settle_amount", "50.00"), ("settle_confirm", "on")],
            vec![
                ("settle_amount", "5.00"),
                ("settle_method", "cash"),
                ("settle_confirm", "on"),
            ],
        ] {
            assert_eq!(
                settle(form).await,
                format!("/staff/requests/{id}?error=settle")
            );
            assert_eq!(balance().await.unwrap(), 5000);
        }
        assert_eq!(
            settle(vec![
                ("settle_amount", "50.00"),
                ("settle_method", "transfer"),
                ("settle_confirm", "on")
            ])
            .await,
            format!("/staff/requests/{id}?done=settle")
        );
        assert_eq!(balance().await.unwrap(), 0);
        let audited = support::count(
            &app,
            &format!("SELECT COUNT(*) AS n FROM audit_log WHERE reason = 'balance settled: transfer' AND subject_id = {c}"),
        )
        .await;
        assert_eq!(audited, 1);
        // The same form sent again settles nothing more and records nothing more.
        assert_eq!(
            settle(vec![
                ("settle_amount", "50.00"),
                ("settle_method", "transfer"),
                ("settle_confirm", "on")
            ])
            .await,
            format!("/staff/requests/{id}?error=settle")
        );
        let audited_again = support::count(
            &app,
            &format!("SELECT COUNT(*) AS n FROM audit_log WHERE reason = 'balance settled: transfer' AND subject_id = {c}"),
        )
        .await;
        assert_eq!(audited_again, 1);
        // The customer hears of it, with the amount and how.
        assert!(
            eventually(StdDuration::from_secs(10), || async {
                sink.received().iter().any(|m| {
                    let body = support::mail_body(&m.data);
                    m.rcpt.iter().any(|r| r.contains("settle.me@example.com"))
                        && body.contains("¥50.00")
                        && body.contains("转账")
                })
            })
            .await,
            "the settlement mail"
        );
    })
}

#[test]
fn the_officers_request_page_names_fields_in_words_and_keeps_deny_and_extend_folded_and_distinct() {
    crate::support::run(async {
        let (app, _sink) = app_with_sink().await;
        let c = support::customer(&app, "page.words@example.com", "zh").await;
        let officer = support_staff(&app).await;
        let cookie =
            support::signed_in_as(&app, portal_core::sessions::Subject::Staff(officer)).await;
        let id = requests::submit(
            &app.portal,
            c,
            Kind::Correction,
            &Details {
                corrections: vec![("phone".into(), "13800003333".into())],
                ..Details::default()
            },
            Submitter::Customer,
            Utc::now(),
        )
        .await
        .unwrap()
        .id;
        let html = app
            .client
            .get(app.url(&format!("/staff/requests/{id}")))
            .header("cookie", &cookie)
            .header("accept-language", "zh-CN")
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        // The field in words, never its code.
        assert!(html.contains("采纳 手机号"), "{html}");
        assert!(!html.contains("采纳 phone") && !html.contains("<td>phone</td>"));
        // Approve is the primary button; deny (danger) and extend (secondary) are folded.
        assert!(html.contains("data-decision=\"deny\""), "{html}");
        assert!(html.contains("class=\"button danger\""));
        assert!(html.contains("data-decision=\"extend\""));
        // The new due date is bounded to what the rule allows, and the page says so.
        let r = requests::get(&app.portal.db, id).await.unwrap();
        let last = requests::calendar::local_day(requests::latest_extension(r.due_at));
        assert!(html.contains(&format!("max=\"{last}\"")), "{html}");
        assert!(html.contains(&format!("最迟可延至 {last}")));
    })
}

#[test]
fn the_queue_names_each_customer_to_roles_that_see_contact_details_and_audits_each_read() {
    crate::support::run(async {
        use app::staff::requests::RequestQueue;
        use leptos::server_fn::ServerFn;
        let (app, _sink) = app_with_sink().await;
        let c = support::customer(&app, "queued@example.com", "zh").await;
        requests::submit(
            &app.portal,
            c,
            Kind::Question,
            &note("?"),
            Submitter::Customer,
            Utc::now(),
        )
        .await
        .unwrap();
        let queue = |role: portal_core::staff::Role, email: &'static str| {
            let app = &app;
            async move {
                let staff = portal_core::staff::add(
                    &app.portal.db,
                    &portal_core::email::Email::parse(email).unwrap(),
                    &portal_core::staff::StaffName::parse("员工").unwrap(),
                    role,
                )
                .await
                .unwrap()
                .id;
                let cookie =
                    support::signed_in_as(app, portal_core::sessions::Subject::Staff(staff)).await;
                let rows: serde_json::Value = app
                    .client
                    .post(app.url(RequestQueue::PATH))
                    .header("origin", support::PUBLIC_URL)
                    .header("cookie", cookie)
                    .form(&[("kind", "")])
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                (staff, rows)
            }
        };
        let (desk, rows) = queue(portal_core::staff::Role::FrontDesk, "desk.q@salon.example").await;
        assert_eq!(rows[0]["customer_name"], "测试顾客", "{rows}");
        let audited = support::count(
            &app,
            &format!(
                "SELECT COUNT(*) AS n FROM audit_log WHERE action = 'view_contact' AND actor_id = {desk} AND subject_id = {c}"
            ),
        )
        .await;
        assert_eq!(audited, 1, "the name read is the customer's to see");
    })
}

#[test]
fn an_outcome_reads_in_the_language_of_the_page_that_shows_it() {
    crate::support::run(async {
        let (app, _sink) = app_with_sink().await;
        let c = support::customer(&app, "two.languages@example.com", "zh").await;
        let officer = support_staff(&app).await;
        let id = requests::submit(
            &app.portal,
            c,
            Kind::Objection,
            &Details::default(),
            Submitter::Customer,
            Utc::now(),
        )
        .await
        .unwrap()
        .id;
        requests::approve(&app.portal, officer, id, Utc::now())
            .await
            .unwrap();
        assert!(
            eventually(StdDuration::from_secs(15), || async {
                requests::get(&app.portal.db, id).await.unwrap().status == Status::Done
            })
            .await
        );
        let read = |path: String, subject: portal_core::sessions::Subject, lang: &'static str| {
            let app = &app;
            async move {
                let cookie = support::signed_in_as(app, subject).await;
                app.client
                    .get(app.url(&path))
                    .header("cookie", cookie)
                    .header("accept-language", lang)
                    .send()
                    .await
                    .unwrap()
                    .text()
                    .await
                    .unwrap()
            }
        };
        let (zh, en) = ("所有营销授权均已关闭", "Every marketing consent is now off");
        for (path, subject) in [
            (
                "/me/requests".to_owned(),
                portal_core::sessions::Subject::Customer(c),
            ),
            (
                format!("/staff/requests/{id}"),
                portal_core::sessions::Subject::Staff(officer),
            ),
        ] {
            let english = read(path.clone(), subject, "en").await;
            assert!(
                english.contains(en) && !english.contains(zh),
                "{path}: {english}"
            );
            let chinese = read(path.clone(), subject, "zh-CN").await;
            assert!(chinese.contains(zh) && !chinese.contains(en), "{path}");
        }
    })
}

#[test]
fn a_customer_filing_and_withdrawing_in_a_loop_cannot_flood_the_officers_with_mail() {
    crate::support::run(async {
        let (app, sink) = app_with_sink().await;
        let c = support::customer(&app, "looping@example.com", "zh").await;
        support_staff(&app).await;
        let now = Utc::now();
        for n in 0..10 {
            let id = requests::submit(
                &app.portal,
                c,
                Kind::Question,
                &note(&format!("q{n}")),
                Submitter::Customer,
                now,
            )
            .await
            .unwrap()
            .id;
            requests::cancel(&app.portal, c, id, now).await.unwrap();
        }
        let to_staff = || {
            sink.received()
                .iter()
                .filter(|m| m.rcpt.iter().any(|r| r.contains("@salon.example")))
                .count()
        };
        assert!(
            eventually(StdDuration::from_secs(10), || async {
                to_staff() >= requests::reminders::OFFICER_MAILS_PER_CUSTOMER_DAY as usize
            })
            .await
        );
        tokio::time::sleep(StdDuration::from_millis(500)).await;
        assert_eq!(
            to_staff(),
            requests::reminders::OFFICER_MAILS_PER_CUSTOMER_DAY as usize,
            "one mail per kind a day at most, however often they file"
        );
        assert_eq!(
            requests::for_customer(&app.portal.db, c)
                .await
                .unwrap()
                .len(),
            10
        );
    })
}
