//! The audit log: appends chain, concurrent appends never fork it, and tampering is found at
//! the right row (by the library and by `portal audit verify`), on both engines.

use crate::support;

use std::process::Command;

use crate::support::spawn_app;
use chrono::Utc;
use portal_core::{
    access::Action,
    audit::{self, Actor, Entry, Filter, Verdict},
    staff::Role,
};
use sea_orm::{ConnectionTrait, TransactionTrait};

const OFFICER: Actor = Actor::Staff {
    id: 1,
    role: Role::PrivacyOfficer,
};

async fn append_n(app: &support::TestApp, n: i64) {
    for i in 0..n {
        let mut e = Entry::on_customer(OFFICER, Action::ViewContact, i);
        e.reason = Some("customer phoned");
        audit::append(&app.portal.db, &e, Utc::now()).await.unwrap();
    }
}

fn verify_command(app: &support::TestApp) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_portal"))
        .args(["audit", "verify"])
        .env("PORTAL_DATA_DIR", app.data_dir.path())
        .env("DATABASE_URL", &app.portal.settings.database_url)
        .env_remove("PORTAL_MASTER_KEY")
        .env_remove("PORTAL_CONFIG")
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn an_untouched_chain_is_whole_and_the_command_says_so() {
    crate::support::run(async {
        let app = spawn_app().await;
        assert_eq!(
            audit::verify(&app.portal.db).await.unwrap(),
            Verdict::Whole { rows: 0 }
        );
        append_n(&app, 5).await;
        assert_eq!(
            audit::verify(&app.portal.db).await.unwrap(),
            Verdict::Whole { rows: 5 }
        );
        let (code, out) = verify_command(&app);
        assert_eq!(code, Some(0), "{out}");
        assert_eq!(out.trim(), "audit chain whole: 5 rows");
    })
}

#[test]
fn an_edited_row_breaks_the_chain_at_that_row() {
    crate::support::run(async {
        let app = spawn_app().await;
        append_n(&app, 6).await;
        let rows = audit::list(&app.portal.db, &Filter::default(), 100)
            .await
            .unwrap();
        let third = rows.iter().map(|r| r.id).min().unwrap() + 2;
        // Someone with database access hides who read the record.
        app.portal
            .db
            .execute_unprepared(&format!(
                "UPDATE audit_log SET reason = 'routine' WHERE id = {third}"
            ))
            .await
            .unwrap();
        assert_eq!(
            audit::verify(&app.portal.db).await.unwrap(),
            Verdict::Broken { id: third }
        );
        let (code, out) = verify_command(&app);
        assert_eq!(code, Some(3));
        assert_eq!(out.trim(), format!("audit chain broken at row {third}"));
    })
}

#[test]
fn a_removed_row_breaks_the_chain_at_the_row_after_it() {
    crate::support::run(async {
        let app = spawn_app().await;
        append_n(&app, 4).await;
        let first = audit::list(&app.portal.db, &Filter::default(), 100)
            .await
            .unwrap()
            .iter()
            .map(|r| r.id)
            .min()
            .unwrap();
        app.portal
            .db
            .execute_unprepared(&format!("DELETE FROM audit_log WHERE id = {}", first + 1))
            .await
            .unwrap();
        assert_eq!(
            audit::verify(&app.portal.db).await.unwrap(),
            Verdict::Broken { id: first + 2 }
        );
    })
}

#[test]
fn concurrent_appends_from_many_transactions_keep_one_chain() {
    crate::support::run(async {
        let app = spawn_app().await;
        let mut tasks = Vec::new();
        for i in 0..20 {
            let db = app.portal.db.clone();
            tasks.push(tokio::spawn(async move {
                // Each in its own transaction, the way a server function audits a read; SQLite may
                // answer "busy" to a writer that waited too long, which the caller retries.
                for _attempt in 0..50 {
                    let tx = db.begin().await.unwrap();
                    let e = Entry::on_customer(OFFICER, Action::ViewVisits, i);
                    match audit::append(&tx, &e, Utc::now()).await {
                        Ok(_) => {
                            tx.commit().await.unwrap();
                            return;
                        }
                        Err(_) => {
                            drop(tx);
                            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                        }
                    }
                }
                panic!("append never succeeded");
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(
            audit::verify(&app.portal.db).await.unwrap(),
            Verdict::Whole { rows: 20 }
        );
    })
}

#[test]
fn the_log_filters_by_staff_customer_and_action_and_a_rolled_back_change_leaves_no_row() {
    crate::support::run(async {
        let app = spawn_app().await;
        let fd = Actor::Staff {
            id: 2,
            role: Role::FrontDesk,
        };
        let now = Utc::now();
        for (actor, action, customer) in [
            (OFFICER, Action::ViewContact, 10),
            (fd, Action::EditContact, 10),
            (fd, Action::ViewContact, 11),
        ] {
            audit::append(
                &app.portal.db,
                &Entry::on_customer(actor, action, customer),
                now,
            )
            .await
            .unwrap();
        }
        let tx = app.portal.db.begin().await.unwrap();
        audit::append(&tx, &Entry::on_customer(fd, Action::EditContact, 12), now)
            .await
            .unwrap();
        tx.rollback().await.unwrap();

        let by = |f: Filter| {
            let db = app.portal.db.clone();
            async move { audit::list(&db, &f, 50).await.unwrap() }
        };
        assert_eq!(by(Filter::default()).await.len(), 3);
        let front_desk = by(Filter {
            staff: Some(2),
            ..Default::default()
        })
        .await;
        assert_eq!(front_desk.len(), 2);
        assert!(
            front_desk
                .iter()
                .all(|r| r.role.as_deref() == Some("front_desk"))
        );
        assert_eq!(
            by(Filter {
                customer: Some(10),
                ..Default::default()
            })
            .await
            .len(),
            2
        );
        let edits = by(Filter {
            action: Some(Action::EditContact),
            ..Default::default()
        })
        .await;
        assert_eq!(edits.len(), 1);
        assert_eq!(edits[0].subject_id, Some(10));
        assert_eq!(
            audit::verify(&app.portal.db).await.unwrap(),
            Verdict::Whole { rows: 3 }
        );
    })
}

#[test]
fn every_audited_path_run_at_once_leaves_the_chain_whole_with_one_row_per_change() {
    crate::support::run(async {
        use app::staff::{
            customers::CustomerRecord,
            notices::PublishNotice,
            requests::{DecideRequest, RecordRequest},
            retention::SaveRetention,
        };
        use leptos::server_fn::ServerFn;
        use portal_core::{
            email::Email,
            requests::{self, Details, Kind, Submitter},
            sessions::Subject,
        };
        let app = spawn_app().await;
        let db = &app.portal.db;
        let mut members = Vec::new();
        for (email, role) in [
            ("po@salon.example", Role::PrivacyOfficer),
            ("desk@salon.example", Role::FrontDesk),
            ("mk@salon.example", Role::Marketing),
        ] {
            let id = portal_core::staff::add(
                db,
                &Email::parse(email).unwrap(),
                &portal_core::staff::StaffName::parse("员工").unwrap(),
                role,
            )
            .await
            .unwrap()
            .id;
            members.push(support::signed_in_as(&app, Subject::Staff(id)).await);
        }
        let (po, desk, mk) = (members[0].clone(), members[1].clone(), members[2].clone());
        let mut customers = Vec::new();
        let mut open = Vec::new();
        for i in 0..6 {
            let c = support::customer(&app, &format!("chain{i}@example.com"), "zh").await;
            customers.push(c);
            let r = requests::submit(
                &app.portal,
                c,
                Kind::Question,
                &Details {
                    note: Some("?".into()),
                    ..Details::default()
                },
                Submitter::Customer,
                Utc::now(),
            )
            .await
            .unwrap();
            open.push(r.id);
        }
        let before = match audit::verify(db).await.unwrap() {
            Verdict::Whole { rows } => rows,
            broken => panic!("{broken:?}"),
        };

        let post = |path: &'static str, form: Vec<(&'static str, String)>, cookie: String| {
            let client = app.client.clone();
            let url = app.url(path);
            tokio::spawn(async move {
                client
                    .post(url)
                    .header("origin", support::PUBLIC_URL)
                    .header("accept", "text/html")
                    .header("cookie", cookie)
                    .form(&form)
                    .send()
                    .await
                    .unwrap()
                    .status()
            })
        };
        let mut calls = Vec::new();
        for (i, c) in customers.iter().enumerate() {
            calls.push(post(
                CustomerRecord::PATH,
                vec![("id", c.to_string())],
                desk.clone(),
            ));
            calls.push(post(
                RecordRequest::PATH,
                vec![
                    ("customer", c.to_string()),
                    ("kind", "restriction".into()),
                    ("note", "at the counter".into()),
                ],
                desk.clone(),
            ));
            let decision = if i % 2 == 0 { "review" } else { "assign" };
            calls.push(post(
                DecideRequest::PATH,
                vec![("id", open[i].to_string()), ("decision", decision.into())],
                po.clone(),
            ));
        }
        for i in 0..3 {
            calls.push(post(
                PublishNotice::PATH,
                vec![
                    ("title_zh", format!("隐私政策 {i}")),
                    ("title_en", format!("Privacy notice {i}")),
                    ("body_zh", "正文".into()),
                    ("body_en", "Body".into()),
                ],
                po.clone(),
            ));
            calls.push(post(
                SaveRetention::PATH,
                vec![
                    ("inactive_months", "36".into()),
                    ("notice_days", "30".into()),
                    ("request_years", "3".into()),
                ],
                po.clone(),
            ));
            let client = app.client.clone();
            let url = app.url("/staff/marketing/export.csv?channel=marketing_email");
            let cookie = mk.clone();
            calls.push(tokio::spawn(async move {
                client
                    .get(url)
                    .header("cookie", cookie)
                    .send()
                    .await
                    .unwrap()
                    .status()
            }));
        }
        let n = calls.len();
        for call in calls {
            let status = call.await.unwrap();
            assert!(
                status.is_success() || status.is_redirection(),
                "every call went through: {status}"
            );
        }
        match audit::verify(db).await.unwrap() {
            // Each call audits at least once (a record read audits each section it shows).
            Verdict::Whole { rows } => {
                assert!(rows - before >= n as u64, "{rows} - {before} < {n}")
            }
            broken => panic!("the chain forked under concurrent appends: {broken:?}"),
        }
        let (code, out) = verify_command(&app);
        assert_eq!(code, Some(0), "{out}");
    })
}

#[test]
fn api_keys_made_and_revoked_and_sharing_register_changes_are_audited() {
    crate::support::run(async {
        use app::staff::{
            marketing::{CreateApiKey, RevokeApiKey},
            sharing::AddRecipient,
        };
        use leptos::server_fn::ServerFn;
        use portal_core::{email::Email, sessions::Subject};
        let app = spawn_app().await;
        let db = &app.portal.db;
        let po = portal_core::staff::add(
            db,
            &Email::parse("po@salon.example").unwrap(),
            &portal_core::staff::StaffName::parse("负责人").unwrap(),
            Role::PrivacyOfficer,
        )
        .await
        .unwrap()
        .id;
        let cookie = support::signed_in_as(&app, Subject::Staff(po)).await;
        let app = &app;
        let cookie = cookie.as_str();
        let post = move |path: &'static str, form: Vec<(&'static str, String)>| async move {
            app.browser_post(path, &form, cookie).await.status()
        };
        assert!(
            post(CreateApiKey::PATH, vec![("name", "campaign tool".into())])
                .await
                .is_redirection()
        );
        let key = portal_core::apikeys::list(db).await.unwrap()[0].id;
        assert!(
            post(RevokeApiKey::PATH, vec![("id", key.to_string())])
                .await
                .is_redirection()
        );
        assert!(
            post(
                AddRecipient::PATH,
                vec![
                    ("name", "SMS Gateway".into()),
                    ("data_zh", "手机号".into()),
                    ("data_en", "phone".into()),
                    ("purpose_zh", "发送短信".into()),
                    ("purpose_en", "sending SMS".into()),
                    ("gives_phone", "on".into()),
                ],
            )
            .await
            .is_redirection()
        );
        // The ticked identifier is kept with the entry (what a pass-on task will carry).
        let register = portal_core::mydata::third_parties(db).await.unwrap();
        assert_eq!(
            register[0].identifiers,
            vec![portal_core::sharing::Identifier::Phone]
        );
        let rows = audit::list(
            db,
            &Filter {
                staff: Some(po),
                ..Default::default()
            },
            20,
        )
        .await
        .unwrap();
        let subjects: Vec<(String, Option<String>)> = rows
            .iter()
            .map(|r| (r.action.clone(), r.subject_kind.clone()))
            .collect();
        for (action, kind, n) in [
            ("manage_api_keys", "api_key", 2),
            ("manage_sharing", "recipient", 1),
        ] {
            assert_eq!(
                subjects
                    .iter()
                    .filter(|(a, k)| a == action && k.as_deref() == Some(kind))
                    .count(),
                n,
                "{subjects:?}"
            );
        }
        assert!(matches!(
            audit::verify(db).await.unwrap(),
            Verdict::Whole { .. }
        ));
    })
}

#[test]
fn the_audit_pages_older_link_keeps_the_filters_encoded_so_a_value_cannot_add_a_parameter() {
    crate::support::run(async {
        use portal_core::{sessions::Subject, staff::Role};
        let app = spawn_app().await;
        let po = support::staff_member(
            &app,
            "po.audit@salon.example",
            Role::PrivacyOfficer,
            "a long enough password",
        )
        .await;
        let cookie = support::signed_in_as(&app, Subject::Staff(po)).await;
        // A row to page back from: the officer invites a member of staff (audited).
        portal_core::staff::team::invite(
            &app.portal,
            portal_core::audit::Actor::Staff {
                id: po,
                role: Role::PrivacyOfficer,
            },
            portal_core::email::Email::parse("new.member@salon.example").unwrap(),
            &portal_core::staff::StaffName::parse("新员工").unwrap(),
            Role::Stylist,
            Utc::now(),
        )
        .await
        .unwrap();
        let html = app
            .client
            .get(app.url("/staff/audit?action=x%26customer%3D7"))
            .header("cookie", cookie)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let href = html
            .split("href=\"/staff/audit?before=")
            .nth(1)
            .unwrap_or_else(|| panic!("an older-rows link in {html}"))
            .split('"')
            .next()
            .unwrap()
            .to_owned();
        assert!(href.contains("action=x%26customer%3D7"), "{href}");
        assert!(
            !href.contains("&amp;customer=7") && !href.contains("&customer=7"),
            "{href}"
        );
    })
}
