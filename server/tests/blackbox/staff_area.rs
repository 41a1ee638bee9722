//! The staff area over HTTP: the whole role matrix (every role, anonymous and a customer against
//! every staff action), audit rows for reads and writes, deactivation ending a live session, and
//! the privacy officer's second factor, on both engines.

use crate::support;

use crate::support::{PUBLIC_URL, set_cookie_pair, spawn_app};
use app::staff::{
    StaffCode, StaffDashboard, StaffSignIn,
    audit::AuditLog,
    customers::{
        AddVisitNote, CustomerRecord, Intake, RecordVisit, SearchCustomers, UpdateContact,
    },
    marketing::{ConsentCounts, ConsentLookup, RevokeApiKey},
    notices::PublishNotice,
    requests::{DecideRequest, RecordRequest, RequestQueue},
    retention::RetentionView,
    sharing::{SharingView, TaskView},
    takedowns::TakedownList,
    team::{ManageStaff, Team},
};
use chrono::Utc;
use leptos::server_fn::ServerFn;
use portal_core::{
    access::Action,
    audit::{self, Filter},
    consents::{self, Purpose},
    customers::record,
    email::Email,
    sessions::{self, Subject},
    staff::{Role, auth},
};
use reqwest::StatusCode;

const PASSWORD: &str = "scissors mirror comb 2026";

struct Who {
    label: &'static str,
    role: Option<Role>,
    cookie: String,
}

async fn staff(app: &support::TestApp, email: &str, role: Role) -> i64 {
    support::staff_member(app, email, role, PASSWORD).await
}

async fn cookie_for(app: &support::TestApp, subject: Subject) -> String {
    support::signed_in_as(app, subject).await
}

/// A server-function call as the page's script makes it (no `Accept: text/html`, so a refusal
/// keeps its 401/403 status instead of becoming a redirect).
async fn call(
    app: &support::TestApp,
    path: &str,
    form: &[(&str, String)],
    cookie: &str,
) -> reqwest::Response {
    app.client
        .post(app.url(path))
        .header("origin", PUBLIC_URL)
        .header("cookie", cookie)
        .form(form)
        .send()
        .await
        .unwrap()
}

/// Opens a pass-on task for a correction of `customer`'s phone at a recipient that is given
/// phone numbers; returns the task's id.
async fn pass_on_task(app: &support::TestApp, customer: i64) -> i64 {
    use portal_core::{
        requests::{self, Details, Kind, Submitter},
        sharing::{self, Identifiers, Recipient},
    };
    sharing::add(
        &app.portal.db,
        &Recipient {
            name: "SMS Gateway".into(),
            data_zh: "手机号".into(),
            data_en: "phone".into(),
            purpose_zh: "短信".into(),
            purpose_en: "SMS".into(),
            gives_phone: Some("on".into()),
            ..Recipient::default()
        },
    )
    .await
    .unwrap();
    let now = Utc::now();
    let request = requests::submit(
        &app.portal,
        customer,
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
    let before = Identifiers {
        phone: Some("+8613800001111".into()),
        ..Identifiers::default()
    };
    sharing::open_tasks(
        &app.portal.db,
        &app.portal.vault,
        request,
        &before,
        None,
        now,
    )
    .await
    .unwrap();
    sharing::tasks(&app.portal.db, true).await.unwrap()[0].id
}

/// product.md's role matrix, written out independently of `Role::may`.
fn expected(role: Role, action: Action) -> bool {
    use Action::*;
    let front_desk = [
        ViewDashboard,
        SearchCustomers,
        ViewContact,
        ViewConsents,
        CreateCustomer,
        EditContact,
        RecordCounterConsent,
        ViewRequests,
        RecordRequest,
    ];
    let stylist = [
        ViewDashboard,
        SearchCustomers,
        ViewServiceProfile,
        ViewSensitiveNotes,
        ViewVisits,
        RecordVisit,
        AddVisitNote,
    ];
    let marketing = [
        ViewDashboard,
        CheckConsentStatus,
        ViewConsentCounts,
        ExportOptedIn,
        ProcessTakedowns,
    ];
    match role {
        Role::PrivacyOfficer => true,
        Role::FrontDesk => front_desk.contains(&action),
        Role::Stylist => stylist.contains(&action),
        Role::Marketing => marketing.contains(&action),
    }
}

#[test]
fn every_role_anonymous_and_customers_meet_the_role_matrix_on_the_server() {
    crate::support::run(async {
        let app = spawn_app().await;
        let officer = staff(&app, "po@salon.example", Role::PrivacyOfficer).await;
        let mut who = vec![
            Who {
                label: "anonymous",
                role: None,
                cookie: String::new(),
            },
            Who {
                label: "customer",
                role: None,
                cookie: {
                    let c = support::customer(&app, "someone@example.com", "zh").await;
                    cookie_for(&app, Subject::Customer(c)).await
                },
            },
            Who {
                label: "privacy_officer",
                role: Some(Role::PrivacyOfficer),
                cookie: cookie_for(&app, Subject::Staff(officer)).await,
            },
        ];
        for (label, role) in [
            ("front_desk", Role::FrontDesk),
            ("stylist", Role::Stylist),
            ("marketing", Role::Marketing),
        ] {
            let id = staff(&app, &format!("{label}@salon.example"), role).await;
            who.push(Who {
                label,
                role: Some(role),
                cookie: cookie_for(&app, Subject::Staff(id)).await,
            });
        }
        // A customer with consent to sensitive notes, a profile, a visit and a membership is enough
        // for every section to have something to show.
        let target = support::customer(&app, "target@example.com", "zh").await;
        consents::record(
            &app.portal.db,
            target,
            consents::Change {
                purpose: Purpose::SensitiveNotes,
                granted: true,
                channel: consents::Channel::FrontDesk,
                recorded_by: None,
                notice_version: Some(1),
            },
            Utc::now(),
        )
        .await
        .unwrap();
        let visit = record::record_visit(
            &app.portal.db,
            &app.portal.vault,
            target,
            &record::NewVisit {
                at: Utc::now(),
                services: "cut",
                stylist: None,
                amount_cents: 8800,
                notes: None,
            },
        )
        .await
        .unwrap();

        // A pass-on task holding the target's phone, for the view of its identifiers.
        let task = pass_on_task(&app, target).await;

        let mut checked = std::collections::BTreeSet::new();
        for (n, w) in who.iter().enumerate() {
            let may = |a: Action| w.role.is_some_and(|r| expected(r, a));
            let outcome = |a: Action, status: StatusCode| {
                let allowed = status.is_success() || status.is_redirection();
                assert_eq!(allowed, may(a), "{} → {}: {status}", w.label, a.as_str());
                if !allowed {
                    let wanted = if w.role.is_some() {
                        StatusCode::FORBIDDEN
                    } else {
                        StatusCode::UNAUTHORIZED
                    };
                    assert_eq!(status, wanted, "{} → {}", w.label, a.as_str());
                }
            };
            let id = target.to_string();

            let r = call(&app, StaffDashboard::PATH, &[], &w.cookie).await;
            outcome(Action::ViewDashboard, r.status());
            let r = call(&app, Team::PATH, &[], &w.cookie).await;
            outcome(Action::ManageStaff, r.status());
            let r = call(&app, AuditLog::PATH, &[], &w.cookie).await;
            outcome(Action::ViewAuditLog, r.status());
            let r = call(&app, TakedownList::PATH, &[], &w.cookie).await;
            outcome(Action::ProcessTakedowns, r.status());
            let r = call(&app, RequestQueue::PATH, &[], &w.cookie).await;
            outcome(Action::ViewRequests, r.status());
            let r = call(&app, SharingView::PATH, &[("lang", "Zh".into())], &w.cookie).await;
            outcome(Action::ManageSharing, r.status());
            let r = call(&app, TaskView::PATH, &[("id", task.to_string())], &w.cookie).await;
            outcome(Action::ViewPassOnIdentifiers, r.status());
            let r = call(&app, RetentionView::PATH, &[], &w.cookie).await;
            outcome(Action::SetRetention, r.status());
            let r = call(
                &app,
                RevokeApiKey::PATH,
                &[("id", "999999".into())],
                &w.cookie,
            )
            .await;
            outcome(Action::ManageApiKeys, r.status());
            let r = call(
                &app,
                ConsentLookup::PATH,
                &[("contact", "target@example.com".into())],
                &w.cookie,
            )
            .await;
            outcome(Action::CheckConsentStatus, r.status());
            let r = call(&app, ConsentCounts::PATH, &[], &w.cookie).await;
            outcome(Action::ViewConsentCounts, r.status());
            let r = call(
                &app,
                PublishNotice::PATH,
                &[
                    ("title_zh", format!("第 {n} 版")),
                    ("title_en", format!("Version {n}")),
                    ("body_zh", "正文".into()),
                    ("body_en", "Text".into()),
                ],
                &w.cookie,
            )
            .await;
            outcome(Action::PublishNotice, r.status());
            // The CSV export is a plain route: signed-out callers are sent to sign in.
            let r = app
                .client
                .get(app.url("/staff/marketing/export.csv?channel=marketing_email"))
                .header("cookie", &w.cookie)
                .send()
                .await
                .unwrap();
            let expected_status = match w.role {
                Some(r) if expected(r, Action::ExportOptedIn) => StatusCode::OK,
                Some(_) => StatusCode::FORBIDDEN,
                None => StatusCode::SEE_OTHER,
            };
            assert_eq!(r.status(), expected_status, "{} → export_opted_in", w.label);
            // Record a question for the target, then (someone else) answer it.
            let r = call(
                &app,
                RecordRequest::PATH,
                &[
                    ("customer", id.clone()),
                    ("kind", "question".into()),
                    ("note", format!("question {n}")),
                ],
                &w.cookie,
            )
            .await;
            outcome(Action::RecordRequest, r.status());
            let fresh = portal_core::requests::submit(
                &app.portal,
                target,
                portal_core::requests::Kind::Restriction,
                &Default::default(),
                portal_core::requests::Submitter::Customer,
                Utc::now(),
            )
            .await
            .unwrap();
            let r = call(
                &app,
                DecideRequest::PATH,
                &[
                    ("id", fresh.id.to_string()),
                    ("decision", "deny".into()),
                    ("reason", "testing the matrix".into()),
                ],
                &w.cookie,
            )
            .await;
            outcome(Action::DecideRequest, r.status());
            if !may(Action::DecideRequest) {
                portal_core::requests::cancel(&app.portal, target, fresh.id, Utc::now())
                    .await
                    .unwrap();
            }
            let r = call(
                &app,
                SearchCustomers::PATH,
                &[("q", "target@example.com".into())],
                &w.cookie,
            )
            .await;
            outcome(Action::SearchCustomers, r.status());

            // The record: opening it needs SearchCustomers; each section follows its own action.
            let r = call(&app, CustomerRecord::PATH, &[("id", id.clone())], &w.cookie).await;
            let status = r.status();
            outcome(Action::SearchCustomers, status);
            let body: serde_json::Value = r.json().await.unwrap_or_default();
            for (section, action) in [
                ("contact", Action::ViewContact),
                ("profile", Action::ViewServiceProfile),
                ("sensitive", Action::ViewSensitiveNotes),
                ("visits", Action::ViewVisits),
                ("membership", Action::ViewMembership),
                ("consents", Action::ViewConsents),
            ] {
                let shown = status.is_success() && !body[section].is_null();
                assert_eq!(shown, may(action), "{} sees {section}", w.label);
                checked.insert(action.as_str());
            }

            let r = call(
                &app,
                UpdateContact::PATH,
                &[
                    ("id", id.clone()),
                    ("name", "目标顾客".into()),
                    ("phone", format!("1390000{:04}", n)),
                    ("email", "target@example.com".into()),
                ],
                &w.cookie,
            )
            .await;
            outcome(Action::EditContact, r.status());
            let r = call(
                &app,
                RecordVisit::PATH,
                &[
                    ("id", id.clone()),
                    ("services", "colour".into()),
                    ("amount", "120".into()),
                    ("notes", String::new()),
                ],
                &w.cookie,
            )
            .await;
            outcome(Action::RecordVisit, r.status());
            let r = call(
                &app,
                AddVisitNote::PATH,
                &[
                    ("id", id.clone()),
                    ("visit", visit.to_string()),
                    ("note", "used the gentle shampoo".into()),
                ],
                &w.cookie,
            )
            .await;
            outcome(Action::AddVisitNote, r.status());

            // Intake with one consent ticked: the record is created only with CreateCustomer, the
            // consent only with RecordCounterConsent as well.
            let phone = format!("1380000{:04}", n);
            // The version in force now (the officer may have just published one above).
            let shown = portal_core::notices::current(&app.portal.db)
                .await
                .unwrap()
                .version
                .to_string();
            let r = call(
                &app,
                Intake::PATH,
                &[
                    ("name", "新顾客".into()),
                    ("phone", phone.clone()),
                    ("email", String::new()),
                    ("language", "zh".into()),
                    ("channel", "front_desk".into()),
                    ("notice_version", shown),
                    ("notice_shown", "on".into()),
                    ("marketing_sms", "on".into()),
                ],
                &w.cookie,
            )
            .await;
            outcome(Action::CreateCustomer, r.status());
            let created = record::search(
                &app.portal.db,
                &app.portal.vault,
                &record::Search::parse(&phone).unwrap(),
            )
            .await
            .unwrap();
            assert_eq!(
                created.len(),
                usize::from(may(Action::CreateCustomer)),
                "{}",
                w.label
            );
            if let Some(c) = created.first() {
                assert_eq!(
                    consents::granted(&app.portal.db, c.id, Purpose::MarketingSms)
                        .await
                        .unwrap(),
                    may(Action::RecordCounterConsent),
                    "{} records counter consent",
                    w.label
                );
            }
            for a in [
                Action::ViewDashboard,
                Action::ManageStaff,
                Action::ViewAuditLog,
                Action::SearchCustomers,
                Action::EditContact,
                Action::RecordVisit,
                Action::AddVisitNote,
                Action::CreateCustomer,
                Action::RecordCounterConsent,
                Action::ViewRequests,
                Action::RecordRequest,
                Action::DecideRequest,
                Action::ManageSharing,
                Action::ViewPassOnIdentifiers,
                Action::SetRetention,
                Action::ManageApiKeys,
                Action::CheckConsentStatus,
                Action::ViewConsentCounts,
                Action::ExportOptedIn,
                Action::ProcessTakedowns,
                Action::PublishNotice,
            ] {
                checked.insert(a.as_str());
            }
        }
        let all: std::collections::BTreeSet<_> = Action::ALL.iter().map(|a| a.as_str()).collect();
        assert_eq!(checked, all, "every action of the matrix is walked");
    })
}

#[test]
fn reads_and_changes_are_audited_without_the_values() {
    crate::support::run(async {
        let app = spawn_app().await;
        let desk = staff(&app, "desk@salon.example", Role::FrontDesk).await;
        let cookie = cookie_for(&app, Subject::Staff(desk)).await;
        let target = support::customer(&app, "secret.person@example.com", "zh").await;
        let r = call(
            &app,
            CustomerRecord::PATH,
            &[("id", target.to_string())],
            &cookie,
        )
        .await;
        assert_eq!(r.status(), StatusCode::OK);
        let r = call(
            &app,
            UpdateContact::PATH,
            &[
                ("id", target.to_string()),
                ("name", "改名顾客".into()),
                ("phone", "13912345678".into()),
                ("email", "secret.person@example.com".into()),
            ],
            &cookie,
        )
        .await;
        assert!(r.status().is_redirection() || r.status().is_success());
        let rows = audit::list(
            &app.portal.db,
            &Filter {
                customer: Some(target),
                ..Default::default()
            },
            50,
        )
        .await
        .unwrap();
        let actions: Vec<&str> = rows.iter().map(|r| r.action.as_str()).collect();
        for a in [
            "search_customers",
            "view_contact",
            "view_consents",
            "edit_contact",
        ] {
            assert!(actions.contains(&a), "{a} in {actions:?}");
        }
        assert!(
            !actions.contains(&"view_service_profile"),
            "front desk read no profile"
        );
        assert!(
            rows.iter()
                .all(|r| r.actor_id == Some(desk) && r.role.as_deref() == Some("front_desk"))
        );
        let raw = format!("{rows:?}");
        for value in ["secret.person", "13912345678", "改名顾客"] {
            assert!(!raw.contains(value), "audit rows carry {value}");
        }
        assert!(matches!(
            audit::verify(&app.portal.db).await.unwrap(),
            audit::Verdict::Whole { .. }
        ));
    })
}

#[test]
fn a_deactivated_member_of_staff_is_refused_at_the_next_request() {
    crate::support::run(async {
        let app = spawn_app().await;
        let officer = staff(&app, "po@salon.example", Role::PrivacyOfficer).await;
        let stylist = staff(&app, "leaving@salon.example", Role::Stylist).await;
        let po = cookie_for(&app, Subject::Staff(officer)).await;
        let theirs = cookie_for(&app, Subject::Staff(stylist)).await;
        assert_eq!(
            call(&app, StaffDashboard::PATH, &[], &theirs)
                .await
                .status(),
            StatusCode::OK
        );
        let r = call(
            &app,
            ManageStaff::PATH,
            &[
                ("staff", stylist.to_string()),
                ("change", "deactivate".into()),
            ],
            &po,
        )
        .await;
        assert!(
            r.status().is_redirection() || r.status().is_success(),
            "{}",
            r.status()
        );
        assert_eq!(
            call(&app, StaffDashboard::PATH, &[], &theirs)
                .await
                .status(),
            StatusCode::UNAUTHORIZED
        );
        // The officer cannot deactivate themself (the salon keeps its privacy officer).
        call(
            &app,
            ManageStaff::PATH,
            &[
                ("staff", officer.to_string()),
                ("change", "deactivate".into()),
            ],
            &po,
        )
        .await;
        assert_eq!(
            call(&app, StaffDashboard::PATH, &[], &po).await.status(),
            StatusCode::OK
        );
    })
}

#[test]
fn the_privacy_officer_signs_in_over_http_only_with_a_second_factor() {
    crate::support::run(async {
        let app = spawn_app().await;
        staff(&app, "po@salon.example", Role::PrivacyOfficer).await;
        let form = |email: &str, password: &str| {
            vec![
                ("email", email.to_owned()),
                ("password", password.to_owned()),
            ]
        };
        let post = |path: &'static str, form: Vec<(&'static str, String)>, cookie: String| {
            let app = &app;
            async move { app.browser_post(path, &form, &cookie).await }
        };
        let wrong = post(
            StaffSignIn::PATH,
            form("po@salon.example", "not the password"),
            String::new(),
        )
        .await;
        assert_eq!(wrong.headers()["location"], "/staff/signin?error=failed");
        let first = post(
            StaffSignIn::PATH,
            form("po@salon.example", PASSWORD),
            String::new(),
        )
        .await;
        assert_eq!(first.headers()["location"], "/staff/enrol");
        assert!(
            set_cookie_pair(&first, "__Host-portal_staff").is_none(),
            "no session yet"
        );
        let step = set_cookie_pair(&first, "staff_step").unwrap();
        // The enrolment page shows the QR code; its key gives the first code.
        let page = app
            .client
            .get(app.url("/staff/enrol"))
            .header("cookie", &step)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(page.contains("<svg"), "QR code drawn on the server");
        let secret = page
            .split("class=\"secret\">")
            .nth(1)
            .unwrap()
            .split('<')
            .next()
            .unwrap()
            .to_owned();
        let totp = totp_rs::TOTP::new_unchecked(
            totp_rs::Algorithm::SHA1,
            6,
            1,
            30,
            totp_rs::Secret::Encoded(secret).to_bytes().unwrap(),
            None,
            "x".into(),
        );
        let code = totp.generate(Utc::now().timestamp() as u64);
        let done = post(
            StaffCode::PATH,
            vec![("code", code), ("page", "enrol".into())],
            step,
        )
        .await;
        assert_eq!(done.headers()["location"], "/staff");
        let session = set_cookie_pair(&done, "__Host-portal_staff").expect("a staff session");
        assert_eq!(
            call(&app, StaffDashboard::PATH, &[], &session)
                .await
                .status(),
            StatusCode::OK
        );
        // Next sign-in asks for the code, not a new enrolment.
        let again = post(
            StaffSignIn::PATH,
            form("po@salon.example", PASSWORD),
            String::new(),
        )
        .await;
        assert_eq!(again.headers()["location"], "/staff/code");
    })
}

#[test]
fn the_privacy_officer_invites_staff_by_mail_and_the_link_sets_a_password_once() {
    crate::support::run(async {
        use app::staff::team::{AcceptInvite, InviteStaff};
        let sink = support::smtp::SmtpSink::start().await;
        let url = sink.url();
        let app = support::spawn_app_with(|s| s.smtp_url = Some(url)).await;
        let officer = staff(&app, "po@salon.example", Role::PrivacyOfficer).await;
        let po = cookie_for(&app, Subject::Staff(officer)).await;
        let desk = staff(&app, "desk@salon.example", Role::FrontDesk).await;
        let desk_cookie = cookie_for(&app, Subject::Staff(desk)).await;
        let invite = |cookie: String| {
            let app = &app;
            async move {
                call(
                    app,
                    InviteStaff::PATH,
                    &[
                        ("email", "new.stylist@salon.example".into()),
                        ("name", "新美发师".into()),
                        ("role", "stylist".into()),
                    ],
                    &cookie,
                )
                .await
            }
        };
        assert_eq!(invite(desk_cookie).await.status(), StatusCode::FORBIDDEN);
        let r = invite(po).await;
        assert!(
            r.status().is_redirection() || r.status().is_success(),
            "{}",
            r.status()
        );
        assert!(
            support::eventually(std::time::Duration::from_secs(10), || async {
                sink.received().len() == 1
            })
            .await
        );
        let text = sink.received()[0]
            .data
            .replace("=\r\n", "")
            .replace("=3D", "=");
        let token: String = text
            .split(&format!("{PUBLIC_URL}/staff/invite?t="))
            .nth(1)
            .expect("a link built from the public URL")
            .chars()
            .take(43)
            .collect();
        // The page names the person; a weak password is refused with the link still usable.
        let page = app
            .get_in(&format!("/staff/invite?t={token}"), "zh")
            .await
            .text()
            .await
            .unwrap();
        assert!(page.contains("新美发师"));
        let accept = |password: &'static str| {
            let (app, token) = (&app, token.clone());
            async move {
                app.client
                    .post(app.url(AcceptInvite::PATH))
                    .header("origin", PUBLIC_URL)
                    .header("accept", "text/html")
                    .form(&[("t", token.as_str()), ("password", password)])
                    .send()
                    .await
                    .unwrap()
            }
        };
        let weak = accept("password1234").await;
        assert!(
            weak.headers()["location"]
                .to_str()
                .unwrap()
                .ends_with("&error=common")
        );
        let ok = accept(PASSWORD).await;
        assert_eq!(ok.headers()["location"], "/staff/signin?error=password_set");
        let again = accept("another long phrase 99").await;
        assert!(
            again.headers()["location"]
                .to_str()
                .unwrap()
                .ends_with("&error=expired")
        );
        assert!(matches!(
            auth::sign_in_password(
                &app.portal,
                "new.stylist@salon.example",
                PASSWORD,
                "ip",
                Utc::now()
            )
            .await,
            Ok(auth::Step::Done { .. })
        ));
    })
}

#[test]
fn an_intake_form_whose_fields_do_not_read_comes_back_with_its_message_and_creates_nothing() {
    crate::support::run(async {
        let app = spawn_app().await;
        let desk = staff(&app, "desk@salon.example", Role::FrontDesk).await;
        let cookie = cookie_for(&app, Subject::Staff(desk)).await;
        let form = |version: &str, phone: &str| {
            vec![
                ("name", "柜台顾客".to_owned()),
                ("phone", phone.to_owned()),
                ("email", String::new()),
                ("language", "zh".to_owned()),
                ("channel", "paper_form".to_owned()),
                ("notice_version", version.to_owned()),
                ("notice_shown", "on".to_owned()),
            ]
        };
        // A tampered version number, a phone that is no phone, a channel of the portal's own.
        let mut portal_channel = form("1", "13811112222");
        portal_channel[4].1 = "portal".to_owned();
        for bad in [form("one", "13811112222"), form("1", "12"), portal_channel] {
            let bad: Vec<(&str, &str)> = bad.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let r = app.browser_post(Intake::PATH, &bad, &cookie).await;
            assert_eq!(support::location(&r), "/staff/customers/new?error=invalid");
        }
        let rows = support::count(&app, "SELECT COUNT(*) AS n FROM customers").await;
        assert_eq!(rows, 0, "nothing was created");
    })
}

#[test]
fn intake_records_the_notice_shown_and_can_mail_the_customer_a_portal_link() {
    crate::support::run(async {
        let sink = support::smtp::SmtpSink::start().await;
        let url = sink.url();
        let app = support::spawn_app_with(|s| s.smtp_url = Some(url)).await;
        let desk = staff(&app, "desk@salon.example", Role::FrontDesk).await;
        let cookie = cookie_for(&app, Subject::Staff(desk)).await;
        let form = |shown: bool| {
            let mut f = vec![
                ("name", "柜台顾客".to_owned()),
                ("phone", "13811112222".to_owned()),
                ("email", "counter.customer@example.com".to_owned()),
                ("language", "en".to_owned()),
                ("channel", "paper_form".to_owned()),
                ("notice_version", "1".to_owned()),
                ("photos_social", "on".to_owned()),
                ("send_link", "on".to_owned()),
            ];
            if shown {
                f.push(("notice_shown", "on".to_owned()));
            }
            f
        };
        // Without the notice shown, nothing is created.
        let r = call(&app, Intake::PATH, &form(false), &cookie).await;
        assert!(r.status().is_redirection() || r.status().is_success());
        let phone = record::Search::parse("13811112222").unwrap();
        assert!(
            record::search(&app.portal.db, &app.portal.vault, &phone)
                .await
                .unwrap()
                .is_empty()
        );

        call(&app, Intake::PATH, &form(true), &cookie).await;
        let found = record::search(&app.portal.db, &app.portal.vault, &phone)
            .await
            .unwrap();
        assert_eq!(found.len(), 1);
        let id = found[0].id;
        use sea_orm::{ConnectionTrait, Statement};
        let row = app
        .portal
        .db
        .query_one_raw(Statement::from_string(
            app.portal.db.get_database_backend(),
            format!("SELECT notice_version, channel, recorded_by_staff_id FROM notice_confirmations WHERE customer_id = {id}"),
        ))
        .await
        .unwrap()
        .expect("the notice shown is recorded");
        assert_eq!(row.try_get::<i32>("", "notice_version").unwrap(), 1);
        assert_eq!(row.try_get::<String>("", "channel").unwrap(), "paper_form");
        assert_eq!(
            row.try_get::<Option<i64>>("", "recorded_by_staff_id")
                .unwrap(),
            Some(desk)
        );
        let history = consents::history(&app.portal.db, id).await.unwrap();
        assert_eq!(history.len(), 1, "only the ticked purpose");
        assert_eq!(history[0].purpose, Purpose::PhotosSocial);
        assert_eq!(history[0].channel, "paper_form");
        assert_eq!(history[0].notice_version, Some(1));
        assert!(
            support::eventually(std::time::Duration::from_secs(10), || async {
                sink.received().len() == 1
            })
            .await
        );
        let mail = sink.received()[0]
            .data
            .replace("=\r\n", "")
            .replace("=3D", "=");
        assert!(
            mail.contains(&format!("{PUBLIC_URL}/signin")),
            "a link to the portal"
        );
        assert!(
            mail.contains("privacy portal"),
            "in the customer's language"
        );
        assert!(
            !mail.contains("/signin/link?t="),
            "no sign-in token in an intake mail"
        );
    })
}

#[test]
fn a_stylist_sees_no_sensitive_notes_without_the_customers_separate_consent() {
    crate::support::run(async {
        let app = spawn_app().await;
        let stylist = staff(&app, "stylist@salon.example", Role::Stylist).await;
        let cookie = cookie_for(&app, Subject::Staff(stylist)).await;
        let target = support::customer(&app, "no.consent@example.com", "zh").await;
        let body: serde_json::Value = call(
            &app,
            CustomerRecord::PATH,
            &[("id", target.to_string())],
            &cookie,
        )
        .await
        .json()
        .await
        .unwrap();
        assert_eq!(body["sensitive"]["consented"], false);
        assert_eq!(body["sensitive"]["notes"], serde_json::json!([]));
        assert!(
            body["contact"].is_null(),
            "a stylist sees no contact details"
        );
        let rows = audit::list(
            &app.portal.db,
            &Filter {
                customer: Some(target),
                action: Some(Action::ViewSensitiveNotes),
                ..Default::default()
            },
            10,
        )
        .await
        .unwrap();
        assert!(
            rows.is_empty(),
            "nothing sensitive was read, so nothing is logged as read"
        );
    })
}

#[test]
fn staff_sign_out_ends_the_session_at_once() {
    crate::support::run(async {
        use app::staff::StaffSignOut;
        let app = spawn_app().await;
        let id = staff(&app, "out@salon.example", Role::Marketing).await;
        let cookie = cookie_for(&app, Subject::Staff(id)).await;
        assert_eq!(
            call(&app, StaffDashboard::PATH, &[], &cookie)
                .await
                .status(),
            StatusCode::OK
        );
        let out = call(&app, StaffSignOut::PATH, &[], &cookie).await;
        assert_eq!(out.headers()["clear-site-data"], "\"cookies\", \"storage\"");
        assert_eq!(
            call(&app, StaffDashboard::PATH, &[], &cookie)
                .await
                .status(),
            StatusCode::UNAUTHORIZED
        );
    })
}

#[test]
fn the_officer_sees_old_beside_new_and_approves_a_correction_field_by_field() {
    crate::support::run(async {
        use app::staff::requests::{DecideRequest, RequestDetail};
        use portal_core::requests::{self, Details, Kind, Status, Submitter};
        let app = spawn_app().await;
        let officer = staff(&app, "po@salon.example", Role::PrivacyOfficer).await;
        let po = cookie_for(&app, Subject::Staff(officer)).await;
        let desk = staff(&app, "desk@salon.example", Role::FrontDesk).await;
        let desk_cookie = cookie_for(&app, Subject::Staff(desk)).await;
        let c = support::customer(&app, "fix.me@example.com", "zh").await;
        let id = requests::submit(
            &app.portal,
            c,
            Kind::Correction,
            &Details {
                corrections: vec![
                    ("name".into(), "正确的名字".into()),
                    ("phone".into(), "13955556666".into()),
                ],
                ..Details::default()
            },
            Submitter::Customer,
            Utc::now(),
        )
        .await
        .unwrap()
        .id;
        let view: serde_json::Value = call(
            &app,
            RequestDetail::PATH,
            &[("id", id.to_string()), ("lang", "Zh".into())],
            &po,
        )
        .await
        .json()
        .await
        .unwrap();
        assert_eq!(view["corrections"][0][1], "测试顾客", "current value");
        assert_eq!(view["corrections"][0][2], "正确的名字", "proposed value");
        // Front desk sees the queue but may not decide.
        let r = call(
            &app,
            DecideRequest::PATH,
            &[("id", id.to_string()), ("decision", "approve".into())],
            &desk_cookie,
        )
        .await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        let r = call(
            &app,
            DecideRequest::PATH,
            &[
                ("id", id.to_string()),
                ("decision", "approve".into()),
                ("apply_phone", "on".into()),
            ],
            &po,
        )
        .await;
        assert!(r.status().is_success() || r.status().is_redirection());
        assert!(
            support::eventually(std::time::Duration::from_secs(10), || async {
                requests::get(&app.portal.db, id).await.unwrap().status == Status::Done
            })
            .await
        );
        let contact = portal_core::customers::contact(&app.portal.db, &app.portal.vault, c)
            .await
            .unwrap();
        assert_eq!(contact.name, "测试顾客", "the name was not approved");
        assert_eq!(contact.phone.unwrap().as_str(), "+8613955556666");
        let decided = audit::list(
            &app.portal.db,
            &Filter {
                action: Some(Action::DecideRequest),
                customer: Some(c),
                ..Default::default()
            },
            10,
        )
        .await
        .unwrap();
        assert_eq!(decided.len(), 1);
        assert_eq!(decided[0].actor_id, Some(officer));
    })
}

#[test]
fn staff_see_a_restriction_and_only_the_officer_lifts_it() {
    crate::support::run(async {
        use app::staff::customers::LiftRestriction;
        let app = spawn_app().await;
        let officer = staff(&app, "po@salon.example", Role::PrivacyOfficer).await;
        let desk = staff(&app, "desk@salon.example", Role::FrontDesk).await;
        let (po, fd) = (
            cookie_for(&app, Subject::Staff(officer)).await,
            cookie_for(&app, Subject::Staff(desk)).await,
        );
        let c = support::customer(&app, "frozen@example.com", "zh").await;
        let r = portal_core::requests::submit(
            &app.portal,
            c,
            portal_core::requests::Kind::Restriction,
            &Default::default(),
            portal_core::requests::Submitter::Customer,
            Utc::now(),
        )
        .await
        .unwrap();
        portal_core::requests::approve(&app.portal, officer, r.id, Utc::now())
            .await
            .unwrap();
        portal_core::requests::fulfil::run_once(&app.portal, Utc::now())
            .await
            .unwrap();
        let body: serde_json::Value =
            call(&app, CustomerRecord::PATH, &[("id", c.to_string())], &fd)
                .await
                .json()
                .await
                .unwrap();
        assert_eq!(body["restricted"], true, "front desk sees the banner");
        let html = app
            .client
            .get(app.url(&format!("/staff/customers/{c}")))
            .header("cookie", &fd)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(html.contains("data-restricted=\"true\""));
        assert_eq!(
            call(&app, LiftRestriction::PATH, &[("id", c.to_string())], &fd)
                .await
                .status(),
            StatusCode::FORBIDDEN
        );
        assert!(
            portal_core::mydata::restricted(&app.portal.db, c)
                .await
                .unwrap()
        );
        let r = call(&app, LiftRestriction::PATH, &[("id", c.to_string())], &po).await;
        assert!(r.status().is_success() || r.status().is_redirection());
        assert!(
            !portal_core::mydata::restricted(&app.portal.db, c)
                .await
                .unwrap()
        );
    })
}

#[test]
fn marketing_sees_only_may_contact_yes_or_no_and_never_a_profile_field() {
    crate::support::run(async {
        let app = spawn_app().await;
        let m = staff(&app, "mkt.only@salon.example", Role::Marketing).await;
        let cookie = cookie_for(&app, Subject::Staff(m)).await;
        let target = support::customer(&app, "profile.secret@example.com", "zh").await;
        record::record_visit(
            &app.portal.db,
            &app.portal.vault,
            target,
            &record::NewVisit {
                at: Utc::now(),
                services: "染发",
                stylist: None,
                amount_cents: 38800,
                notes: Some("头皮敏感备注"),
            },
        )
        .await
        .unwrap();
        consents::record(
            &app.portal.db,
            target,
            consents::Change {
                purpose: Purpose::MarketingEmail,
                granted: true,
                channel: consents::Channel::Portal,
                recorded_by: None,
                notice_version: Some(1),
            },
            Utc::now(),
        )
        .await
        .unwrap();
        // The lookup answers in the redirect: one letter per channel (SMS, email, WeChat).
        let r = app
            .browser_post(
                ConsentLookup::PATH,
                &[("contact", "profile.secret@example.com")],
                &cookie,
            )
            .await;
        let to = support::location(&r);
        assert_eq!(to, "/staff/marketing?may=nyn");
        let mut seen = String::new();
        for path in [to.as_str(), "/staff/takedowns", "/staff"] {
            let r = app
                .client
                .get(app.url(path))
                .header("cookie", &cookie)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::OK, "{path}");
            seen.push_str(&r.text().await.unwrap());
        }
        let counts = call(&app, ConsentCounts::PATH, &[], &cookie).await;
        seen.push_str(&counts.text().await.unwrap());
        assert!(seen.contains("data-channel=\"marketing_email\""));
        for field in ["测试顾客", "染发", "头皮敏感备注", "388"] {
            assert!(!seen.contains(field), "marketing saw {field}");
        }
        // The one place contacts appear is the audited export of those who said yes to a channel.
        let csv = app
            .client
            .get(app.url("/staff/marketing/export.csv?channel=marketing_email"))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(csv.contains("profile.secret@example.com"));
        for field in ["测试顾客", "染发", "头皮敏感备注"] {
            assert!(!csv.contains(field), "the export carries {field}");
        }
    })
}

/// The mails `sink` received for an address containing `who`, as text (soft line breaks joined).
fn mail_to(sink: &support::smtp::SmtpSink, who: &str) -> Vec<String> {
    sink.received()
        .into_iter()
        .filter(|m| m.rcpt.iter().any(|r| r.contains(who)))
        .map(|m| m.data.replace("=\r\n", "").replace("=3D", "="))
        .collect()
}

/// The customer who signs in with `email`, if any.
async fn find(app: &support::TestApp, email: &str) -> Option<i64> {
    portal_core::customers::find_by_email(
        &app.portal.db,
        &app.portal.vault,
        &Email::parse(email).unwrap(),
    )
    .await
    .unwrap()
}

/// Whether the session in the `Cookie` header `cookie` is still live.
async fn alive(app: &support::TestApp, cookie: &str) -> bool {
    sessions::resume(
        &app.portal.db,
        &app.portal.session_keys,
        cookie.split('=').nth(1).unwrap(),
        Utc::now(),
    )
    .await
    .unwrap()
    .is_some()
}

#[test]
fn front_desk_typing_a_new_email_moves_no_sign_in_until_the_officer_decides_and_the_new_address_confirms()
 {
    crate::support::run(async {
        use app::{me::ConfirmEmailChange, signin::RequestSignIn};
        use portal_core::requests::{self, Kind, Status};
        let sink = support::smtp::SmtpSink::start().await;
        let url = sink.url();
        let app = support::spawn_app_with(|s| s.smtp_url = Some(url)).await;
        let desk = staff(&app, "desk@salon.example", Role::FrontDesk).await;
        let desk_cookie = cookie_for(&app, Subject::Staff(desk)).await;
        let officer = staff(&app, "po@salon.example", Role::PrivacyOfficer).await;
        let victim = support::customer(&app, "victim@example.com", "en").await;
        let victim_cookie = cookie_for(&app, Subject::Customer(victim)).await;
        let db = &app.portal.db;

        // Front desk types an address of their own: nothing is mailed there, nothing moves.
        let r = app
            .browser_post(
                UpdateContact::PATH,
                &[
                    ("id", victim.to_string()),
                    ("name", "测试顾客".to_owned()),
                    ("phone", String::new()),
                    ("email", "desk.own@example.com".to_owned()),
                ],
                &desk_cookie,
            )
            .await;
        assert_eq!(
            support::location(&r),
            format!("/staff/customers/{victim}?saved=officer")
        );
        assert_eq!(
            find(&app, "victim@example.com").await,
            Some(victim),
            "sign-in stays"
        );
        assert_eq!(find(&app, "desk.own@example.com").await, None);
        let asked = app
            .browser_post(
                RequestSignIn::PATH,
                &[("email", "desk.own@example.com")],
                "",
            )
            .await;
        assert_eq!(support::location(&asked), "/signin/sent");
        // The customer is told at the address on record that a correction was asked for.
        assert!(
            support::eventually(std::time::Duration::from_secs(10), || async {
                !mail_to(&sink, "victim@").is_empty()
            })
            .await
        );
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        assert!(
            mail_to(&sink, "desk.own@").is_empty(),
            "no link, no code to the typed address"
        );
        assert!(alive(&app, &victim_cookie).await);
        let filed = requests::for_customer(db, victim).await.unwrap();
        assert_eq!(filed.len(), 1);
        assert_eq!(
            (filed[0].kind, filed[0].submitted_by_staff),
            (Kind::Correction, Some(desk))
        );
        // Removing the address is the officer's too.
        let r = app
            .browser_post(
                UpdateContact::PATH,
                &[
                    ("id", victim.to_string()),
                    ("name", "测试顾客".to_owned()),
                    ("phone", String::new()),
                    ("email", String::new()),
                ],
                &desk_cookie,
            )
            .await;
        assert_eq!(
            support::location(&r),
            format!("/staff/customers/{victim}?error=email_officer")
        );
        assert_eq!(find(&app, "victim@example.com").await, Some(victim));

        // The officer approves; the new address gets a link; using it moves sign-in and ends the
        // customer's sessions.
        requests::approve_correction(
            &app.portal,
            officer,
            filed[0].id,
            &["email".into()],
            Utc::now(),
        )
        .await
        .unwrap();
        assert!(
            support::eventually(std::time::Duration::from_secs(15), || async {
                requests::get(db, filed[0].id).await.unwrap().status == Status::Done
                    && !mail_to(&sink, "desk.own@").is_empty()
            })
            .await
        );
        let to_new = mail_to(&sink, "desk.own@");
        assert!(!to_new[0].contains("/signin/link?t="));
        let token: String = to_new[0]
            .split("http://portal.test/me/email?t=")
            .nth(1)
            .expect("a confirmation link")
            .chars()
            .take(43)
            .collect();
        let done = app
            .browser_post(ConfirmEmailChange::PATH, &[("t", token.as_str())], "")
            .await;
        assert_eq!(support::location(&done), "/me/email?done=1");
        assert_eq!(find(&app, "desk.own@example.com").await, Some(victim));
        assert_eq!(find(&app, "victim@example.com").await, None);
        assert!(
            !alive(&app, &victim_cookie).await,
            "the customer's sessions end when the address changes"
        );
    })
}

#[test]
fn the_officer_typing_a_new_email_mails_a_link_to_it_tells_the_old_address_and_moves_sign_in_only_when_the_link_is_used()
 {
    crate::support::run(async {
        use app::{me::ConfirmEmailChange, signin::RequestSignIn};
        let sink = support::smtp::SmtpSink::start().await;
        let url = sink.url();
        let app = support::spawn_app_with(|s| s.smtp_url = Some(url)).await;
        let officer = staff(&app, "po@salon.example", Role::PrivacyOfficer).await;
        let po = cookie_for(&app, Subject::Staff(officer)).await;
        let c = support::customer(&app, "old.address@example.com", "en").await;
        let c_cookie = cookie_for(&app, Subject::Customer(c)).await;
        let r = app
            .browser_post(
                UpdateContact::PATH,
                &[
                    ("id", c.to_string()),
                    ("name", "测试顾客".to_owned()),
                    ("phone", String::new()),
                    ("email", "new.address@example.com".to_owned()),
                ],
                &po,
            )
            .await;
        assert_eq!(
            support::location(&r),
            format!("/staff/customers/{c}?saved=confirm")
        );
        assert!(
            support::eventually(std::time::Duration::from_secs(10), || async {
                !mail_to(&sink, "old.address@").is_empty()
                    && !mail_to(&sink, "new.address@").is_empty()
            })
            .await,
            "the old address is told and the new one gets its link"
        );
        // Until the link is used, sign-in stays where it was: the typed address gets nothing.
        assert_eq!(find(&app, "old.address@example.com").await, Some(c));
        assert_eq!(find(&app, "new.address@example.com").await, None);
        assert!(alive(&app, &c_cookie).await);
        let before = mail_to(&sink, "new.address@").len();
        let asked = app
            .browser_post(
                RequestSignIn::PATH,
                &[("email", "new.address@example.com")],
                "",
            )
            .await;
        assert_eq!(support::location(&asked), "/signin/sent");
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        assert_eq!(
            mail_to(&sink, "new.address@").len(),
            before,
            "no sign-in mail to the typed address"
        );

        let link = mail_to(&sink, "new.address@").remove(0);
        let token: String = link
            .split("http://portal.test/me/email?t=")
            .nth(1)
            .expect("a confirmation link")
            .chars()
            .take(43)
            .collect();
        let done = app
            .browser_post(ConfirmEmailChange::PATH, &[("t", token.as_str())], "")
            .await;
        assert_eq!(support::location(&done), "/me/email?done=1");
        assert_eq!(find(&app, "new.address@example.com").await, Some(c));
        assert_eq!(find(&app, "old.address@example.com").await, None);
        assert!(
            !alive(&app, &c_cookie).await,
            "the customer's sessions end when the address changes"
        );
    })
}

#[test]
fn front_desk_never_sees_a_members_balance_and_settling_belongs_to_an_open_deletion_request() {
    crate::support::run(async {
        use app::staff::requests::{DecideRequest, RequestDetail};
        use portal_core::requests::{self, Details, Kind, Submitter};
        let app = spawn_app().await;
        portal_core::demo::load(&app.portal).await.unwrap();
        let officer = staff(&app, "po@salon.example", Role::PrivacyOfficer).await;
        let po = cookie_for(&app, Subject::Staff(officer)).await;
        let desk = staff(&app, "desk.two@salon.example", Role::FrontDesk).await;
        let desk_cookie = cookie_for(&app, Subject::Staff(desk)).await;
        // customer011 has money on the card (the demo gives it a membership with a balance).
        let c = portal_core::customers::find_by_email(
            &app.portal.db,
            &app.portal.vault,
            &Email::parse("customer011@example.com").unwrap(),
        )
        .await
        .unwrap()
        .unwrap();
        let balance = portal_core::membership::balance_cents(&app.portal.db, c)
            .await
            .unwrap();
        assert!(balance > 0);
        let submit = |kind| {
            let p = app.portal.clone();
            async move {
                let details = Details {
                    note: Some("?".into()),
                    ..Details::default()
                };
                requests::submit(&p, c, kind, &details, Submitter::Customer, Utc::now())
                    .await
                    .unwrap()
                    .id
            }
        };
        let deletion = submit(Kind::Deletion).await;
        let question = submit(Kind::Question).await;
        let detail = |cookie: String| {
            let form = [("id", deletion.to_string()), ("lang", "Zh".into())];
            let app = &app;
            async move {
                call(app, RequestDetail::PATH, &form, &cookie)
                    .await
                    .json::<serde_json::Value>()
                    .await
                    .unwrap()
            }
        };
        let seen_by_desk = detail(desk_cookie.clone()).await;
        assert_eq!(seen_by_desk["id"], deletion, "front desk opens the request");
        assert!(seen_by_desk["balance"].is_null(), "{seen_by_desk}");
        assert!(!seen_by_desk["balance"].to_string().contains('¥'));
        let seen_by_officer = detail(po.clone()).await;
        assert!(
            seen_by_officer["balance"]
                .as_str()
                .unwrap()
                .starts_with('¥')
        );

        // "Balance settled" on the question (not a deletion), however well filled in, changes
        // nothing.
        let r = app
            .browser_post(
                DecideRequest::PATH,
                &[
                    ("id", question.to_string()),
                    ("decision", "settle".into()),
                    (
                        "settle_amount",
                        portal_core::membership::Cents(balance).yuan(),
                    ),
                    ("settle_method", "cash".into()),
                    ("settle_confirm", "on".into()),
                ],
                &po,
            )
            .await;
        assert_eq!(
            support::location(&r),
            format!("/staff/requests/{question}?error=state")
        );
        assert_eq!(
            portal_core::membership::balance_cents(&app.portal.db, c)
                .await
                .unwrap(),
            balance
        );
    })
}

#[test]
fn a_restricted_record_refuses_every_staff_edit_until_the_restriction_is_lifted() {
    crate::support::run(async {
        let app = spawn_app().await;
        let officer = staff(&app, "po@salon.example", Role::PrivacyOfficer).await;
        let po = cookie_for(&app, Subject::Staff(officer)).await;
        let c = support::customer(&app, "frozen.edit@example.com", "zh").await;
        let visit = record::record_visit(
            &app.portal.db,
            &app.portal.vault,
            c,
            &record::NewVisit {
                at: Utc::now(),
                services: "cut",
                stylist: None,
                amount_cents: 100,
                notes: None,
            },
        )
        .await
        .unwrap();
        let r = portal_core::requests::submit(
            &app.portal,
            c,
            portal_core::requests::Kind::Restriction,
            &Default::default(),
            portal_core::requests::Submitter::Customer,
            Utc::now(),
        )
        .await
        .unwrap();
        portal_core::requests::approve(&app.portal, officer, r.id, Utc::now())
            .await
            .unwrap();
        portal_core::requests::fulfil::run_once(&app.portal, Utc::now())
            .await
            .unwrap();
        let before = portal_core::customers::contact(&app.portal.db, &app.portal.vault, c)
            .await
            .unwrap();
        let edits: [(&str, Vec<(&str, String)>); 3] = [
            (
                UpdateContact::PATH,
                vec![
                    ("id", c.to_string()),
                    ("name", "改掉的名字".into()),
                    ("phone", String::new()),
                    ("email", "frozen.edit@example.com".into()),
                ],
            ),
            (
                RecordVisit::PATH,
                vec![
                    ("id", c.to_string()),
                    ("services", "colour".into()),
                    ("amount", "88".into()),
                    ("notes", String::new()),
                ],
            ),
            (
                AddVisitNote::PATH,
                vec![
                    ("id", c.to_string()),
                    ("visit", visit.to_string()),
                    ("note", "note".into()),
                ],
            ),
        ];
        for (path, form) in &edits {
            let r = app.browser_post(path, form, &po).await;
            assert_eq!(
                support::location(&r),
                format!("/staff/customers/{c}?error=restricted"),
                "{path}"
            );
        }
        let after = portal_core::customers::contact(&app.portal.db, &app.portal.vault, c)
            .await
            .unwrap();
        assert_eq!(after.name, before.name);
        let visits = record::visits(&app.portal.db, &app.portal.vault, c, 10)
            .await
            .unwrap();
        assert_eq!(visits.len(), 1, "no visit added");
        assert!(visits[0].notes.is_none(), "no note added");
        let page = app
            .client
            .get(app.url(&format!("/staff/customers/{c}?error=restricted")))
            .header("cookie", &po)
            .header("accept-language", "en")
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(page.contains("restricted and cannot be changed"));
    })
}

/// A form post of the staff sign-in page, from the browser holding `cookie`.
async fn staff_sign_in_post(
    app: &support::TestApp,
    email: &str,
    password: &str,
    cookie: &str,
) -> reqwest::Response {
    app.browser_post(
        StaffSignIn::PATH,
        &[("email", email), ("password", password)],
        cookie,
    )
    .await
}

#[test]
fn after_an_attacker_at_the_salons_address_spends_its_budget_a_member_on_their_own_browser_still_signs_in()
 {
    crate::support::run(async {
        let app = spawn_app().await;
        staff(&app, "desk@salon.example", Role::FrontDesk).await;
        staff(&app, "li@salon.example", Role::Stylist).await;
        // Every request of this test comes from 127.0.0.1: the salon's one shared address.
        let first = staff_sign_in_post(&app, "desk@salon.example", PASSWORD, "").await;
        assert_eq!(support::location(&first), "/staff");
        let device = set_cookie_pair(&first, "__Host-staff_device");
        // The attacker spends the desk account's own budget, then the address's.
        for _ in 0..auth::FREE_FAILURES {
            let r = staff_sign_in_post(&app, "desk@salon.example", "wrong password!!", "").await;
            assert_eq!(support::location(&r), "/staff/signin?error=failed");
        }
        for i in auth::FREE_FAILURES..auth::FREE_FAILURES_PER_IP {
            let r =
                staff_sign_in_post(&app, &format!("guess{i}@salon.example"), "wrong!!", "").await;
            assert_eq!(support::location(&r), "/staff/signin?error=failed", "{i}");
        }
        let r = staff_sign_in_post(&app, "guess@salon.example", "wrong!!", "").await;
        assert_eq!(support::location(&r), "/staff/signin?error=wait");
        // The member at the same address, on the browser they signed in with before, gets in.
        let ok = staff_sign_in_post(
            &app,
            "desk@salon.example",
            PASSWORD,
            device.as_deref().unwrap_or(""),
        )
        .await;
        assert_eq!(support::location(&ok), "/staff");
        assert!(
            device.is_some(),
            "the first sign-in made the browser trusted"
        );
        assert!(set_cookie_pair(&ok, "__Host-portal_staff").is_some());
        // What the design gives up, stated: a browser never signed in with waits out the
        // address's delay (at most an hour), and says so in the member's language.
        let new_browser = staff_sign_in_post(&app, "li@salon.example", PASSWORD, "").await;
        assert_eq!(support::location(&new_browser), "/staff/signin?error=wait");
        let page = app
            .get_in("/staff/signin?error=wait", "en")
            .await
            .text()
            .await
            .unwrap();
        assert!(page.contains("Wait a few minutes"), "{page}");
    })
}

#[test]
fn becoming_privacy_officer_ends_the_members_sessions_so_the_second_factor_is_asked_for() {
    crate::support::run(async {
        let app = spawn_app().await;
        let officer = staff(&app, "po@salon.example", Role::PrivacyOfficer).await;
        let po = cookie_for(&app, Subject::Staff(officer)).await;
        let stylist = staff(&app, "rising@salon.example", Role::Stylist).await;
        let theirs = cookie_for(&app, Subject::Staff(stylist)).await;
        assert_eq!(
            call(&app, StaffDashboard::PATH, &[], &theirs)
                .await
                .status(),
            StatusCode::OK
        );
        let r = call(
            &app,
            ManageStaff::PATH,
            &[
                ("staff", stylist.to_string()),
                ("change", "role".into()),
                ("role", "privacy_officer".into()),
            ],
            &po,
        )
        .await;
        assert!(
            r.status().is_redirection() || r.status().is_success(),
            "{}",
            r.status()
        );
        assert_eq!(
            call(&app, StaffDashboard::PATH, &[], &theirs)
                .await
                .status(),
            StatusCode::UNAUTHORIZED,
            "the session without a second factor ended"
        );
        let again = staff_sign_in_post(&app, "rising@salon.example", PASSWORD, "").await;
        assert_eq!(support::location(&again), "/staff/enrol");
        // Other role changes keep the session.
        let desk = staff(&app, "desk@salon.example", Role::FrontDesk).await;
        let desk_cookie = cookie_for(&app, Subject::Staff(desk)).await;
        call(
            &app,
            ManageStaff::PATH,
            &[
                ("staff", desk.to_string()),
                ("change", "role".into()),
                ("role", "marketing".into()),
            ],
            &po,
        )
        .await;
        assert_eq!(
            call(&app, StaffDashboard::PATH, &[], &desk_cookie)
                .await
                .status(),
            StatusCode::OK
        );
    })
}

async fn count(app: &support::TestApp, sql: &str) -> i64 {
    use sea_orm::ConnectionTrait;
    let backend = app.portal.db.get_database_backend();
    app.portal
        .db
        .query_one_raw(sea_orm::Statement::from_string(backend, sql))
        .await
        .unwrap()
        .unwrap()
        .try_get("", "n")
        .unwrap()
}

async fn sealed_secret(app: &support::TestApp, id: i64) -> Option<Vec<u8>> {
    use sea_orm::EntityTrait;
    portal_core::staff::entity::Entity::find_by_id(id)
        .one(&app.portal.db)
        .await
        .unwrap()
        .unwrap()
        .totp_secret_sealed
}

#[test]
fn replacing_a_second_factor_needs_a_code_from_the_current_one_and_is_audited_and_mailed() {
    crate::support::run(async {
        use app::staff::StaffStartEnrolment;
        let app = spawn_app().await;
        let officer = staff(&app, "po@salon.example", Role::PrivacyOfficer).await;
        // Enrolled a minute ago, so the code of this minute is fresh.
        let earlier = Utc::now() - chrono::Duration::seconds(90);
        let auth::Step::Enrol { pending } =
            auth::sign_in_password(&app.portal, "po@salon.example", PASSWORD, "ip", earlier)
                .await
                .unwrap()
        else {
            panic!("enrolment expected");
        };
        let url = auth::enrolment(&app.portal, &pending, earlier)
            .await
            .unwrap()
            .unwrap()
            .url;
        let old = totp_rs::TOTP::from_url_unchecked(&url).unwrap();
        auth::sign_in_code(
            &app.portal,
            &pending,
            &old.generate(earlier.timestamp() as u64),
            earlier,
        )
        .await
        .unwrap();
        let po = cookie_for(&app, Subject::Staff(officer)).await;
        let secret_before = sealed_secret(&app, officer).await;
        let audits = "SELECT COUNT(*) AS n FROM audit_log WHERE action = 'set_second_factor'";
        // Mail to staff leaves the outbox once delivered: count what the SMTP server received.
        let mails = || {
            app.sink
                .received()
                .iter()
                .filter(|m| m.rcpt.iter().any(|r| r.contains("po@salon.example")))
                .count()
        };
        assert!(
            support::eventually(std::time::Duration::from_secs(10), || async {
                mails() >= 1
            })
            .await,
            "the first enrolment was mailed"
        );
        let (audits_before, mails_before) = (count(&app, audits).await, mails());

        let now = Utc::now().timestamp() as u64;
        let near: Vec<String> = [now - 30, now, now + 30]
            .iter()
            .map(|t| old.generate(*t))
            .collect();
        let wrong = (0..4)
            .map(|i| format!("{i}{i}{i}{i}{i}{i}"))
            .find(|c| !near.contains(c))
            .unwrap();
        for form in [vec![], vec![("current_code", wrong.as_str())]] {
            let r = app
                .browser_post(StaffStartEnrolment::PATH, &form, &po)
                .await;
            assert_eq!(
                support::location(&r),
                "/staff/security?error=code",
                "{form:?}"
            );
            assert!(
                set_cookie_pair(&r, "staff_step").is_none(),
                "no enrolment started"
            );
        }
        assert_eq!(sealed_secret(&app, officer).await, secret_before);
        assert_eq!(count(&app, audits).await, audits_before);
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        assert_eq!(mails(), mails_before);
        let page = app
            .client
            .get(app.url("/staff/security?error=code"))
            .header("accept-language", "en")
            .header("cookie", &po)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(page.contains("your second factor is unchanged"), "{page}");

        // With a code from the current authenticator the replacement starts ...
        let current = old.generate(Utc::now().timestamp() as u64);
        let r = app
            .browser_post(
                StaffStartEnrolment::PATH,
                &[("current_code", current.as_str())],
                &po,
            )
            .await;
        assert_eq!(support::location(&r), "/staff/enrol");
        let step = set_cookie_pair(&r, "staff_step").expect("an enrolment step");
        let token = step.trim_start_matches("staff_step=");
        let new_url = auth::enrolment(&app.portal, token, Utc::now())
            .await
            .unwrap()
            .unwrap()
            .url;
        let new_code = totp_rs::TOTP::from_url_unchecked(&new_url)
            .unwrap()
            .generate(Utc::now().timestamp() as u64);
        // ... and the first code of the new secret makes it, audited and mailed.
        let done = app
            .browser_post(
                StaffCode::PATH,
                &[("code", new_code.as_str()), ("page", "enrol")],
                &step,
            )
            .await;
        assert_eq!(support::location(&done), "/staff");
        assert_ne!(sealed_secret(&app, officer).await, secret_before);
        assert_eq!(count(&app, audits).await, audits_before + 1);
        assert!(
            support::eventually(std::time::Duration::from_secs(10), || async {
                mails() == mails_before + 1
            })
            .await
        );
        assert_eq!(audits_before, 1, "the first enrolment is audited too");
    })
}

#[test]
fn fields_a_form_does_not_have_are_ignored_so_no_one_records_in_another_members_name() {
    crate::support::run(async {
        let app = spawn_app().await;
        let desk = staff(&app, "desk@salon.example", Role::FrontDesk).await;
        let other_desk = staff(&app, "desk2@salon.example", Role::FrontDesk).await;
        let stylist = staff(&app, "stylist@salon.example", Role::Stylist).await;
        let other_stylist = staff(&app, "stylist2@salon.example", Role::Stylist).await;
        let desk_cookie = cookie_for(&app, Subject::Staff(desk)).await;
        let stylist_cookie = cookie_for(&app, Subject::Staff(stylist)).await;
        // The intake form with a field it does not have: who created the record.
        let other = other_desk.to_string();
        let intake = [
            ("name", "柜台顾客"),
            ("phone", "13811112222"),
            ("email", ""),
            ("language", "zh"),
            ("channel", "paper_form"),
            ("notice_version", "1"),
            ("notice_shown", "on"),
            ("created_by", other.as_str()),
            ("created_by_staff_id", other.as_str()),
        ];
        let r = app.browser_post(Intake::PATH, &intake, &desk_cookie).await;
        assert!(r.status().is_redirection(), "{}", r.status());
        let by_desk =
            format!("SELECT COUNT(*) AS n FROM customers WHERE created_by_staff_id = {desk}");
        assert_eq!(
            support::count(&app, &by_desk).await,
            1,
            "the record is the caller's"
        );
        // The visit form with the stylist who did it.
        let customer = support::customer(&app, "visit.customer@example.com", "zh").await;
        let id = customer.to_string();
        let other = other_stylist.to_string();
        let visit = [
            ("id", id.as_str()),
            ("services", "cut"),
            ("amount", "88"),
            ("notes", ""),
            ("stylist", other.as_str()),
            ("stylist_id", other.as_str()),
        ];
        let r = app
            .browser_post(RecordVisit::PATH, &visit, &stylist_cookie)
            .await;
        assert!(r.status().is_redirection(), "{}", r.status());
        let mine = format!(
            "SELECT COUNT(*) AS n FROM visits WHERE customer_id = {customer} AND stylist_id = {stylist}"
        );
        assert_eq!(
            support::count(&app, &mine).await,
            1,
            "the visit is the caller's"
        );
        let theirs = format!("SELECT COUNT(*) AS n FROM visits WHERE stylist_id = {other_stylist}");
        assert_eq!(support::count(&app, &theirs).await, 0);
    })
}

#[test]
fn the_marketing_page_shows_each_channels_answer_from_its_code_and_nothing_for_a_hand_edited_one() {
    crate::support::run(async {
        let app = spawn_app().await;
        let marketing = staff(&app, "marketing@salon.example", Role::Marketing).await;
        let cookie = cookie_for(&app, Subject::Staff(marketing)).await;
        let page = async |path: &str| {
            let r = app
                .client
                .get(app.url(path))
                .header("cookie", &cookie)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::OK, "{path}");
            r.text().await.unwrap()
        };
        let answer = |html: &str, channel: &str| {
            let at = html
                .find(&format!("data-channel=\"{channel}\""))
                .unwrap_or_else(|| panic!("no answer for {channel}"));
            let rest = &html[at..];
            rest[..rest.find("</dd>").unwrap()].to_owned()
        };
        let html = page("/staff/marketing?may=nyn").await;
        assert!(answer(&html, "marketing_email").contains("可以联系"));
        assert!(answer(&html, "marketing_sms").contains("不可联系"));
        assert!(answer(&html, "marketing_wechat").contains("不可联系"));
        for edited in ["nxn", "yy", "yyyy"] {
            let html = page(&format!("/staff/marketing?may={edited}")).await;
            assert!(!html.contains("data-section=\"may-contact\""), "{edited}");
        }
    })
}

#[test]
fn only_the_privacy_officer_sets_what_a_recipient_is_given_and_the_change_is_audited() {
    crate::support::run(async {
        use app::staff::sharing::SetIdentifiers;
        use portal_core::sharing::{self, Identifier, Recipient};
        let app = spawn_app().await;
        let db = &app.portal.db;
        // An entry made before the register recorded identifiers names none.
        let id = sharing::add(
            db,
            &Recipient {
                name: "PayPlatform".into(),
                data_zh: "会员卡号".into(),
                data_en: "card number".into(),
                purpose_zh: "付款".into(),
                purpose_en: "payments".into(),
                ..Recipient::default()
            },
        )
        .await
        .unwrap();
        let given = || async {
            portal_core::mydata::third_parties(db).await.unwrap()[0]
                .identifiers
                .clone()
        };
        assert!(given().await.is_empty());
        let desk = staff(&app, "desk.ids@salon.example", Role::FrontDesk).await;
        let desk_cookie = cookie_for(&app, Subject::Staff(desk)).await;
        let form = [
            ("recipient", id.to_string()),
            ("gives_card", "on".to_owned()),
            ("gives_phone", "on".to_owned()),
        ];
        let r = call(&app, SetIdentifiers::PATH, &form, &desk_cookie).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        assert!(given().await.is_empty(), "front desk changed nothing");
        let anon = call(&app, SetIdentifiers::PATH, &form, "").await;
        assert_eq!(anon.status(), StatusCode::UNAUTHORIZED);
        let po = staff(&app, "po.ids@salon.example", Role::PrivacyOfficer).await;
        let po_cookie = cookie_for(&app, Subject::Staff(po)).await;
        let r = call(&app, SetIdentifiers::PATH, &form, &po_cookie).await;
        assert!(r.status().is_success() || r.status().is_redirection());
        assert_eq!(given().await, vec![Identifier::Phone, Identifier::Card]);
        let audited = support::count(
            &app,
            &format!(
                "SELECT COUNT(*) AS n FROM audit_log WHERE action = 'manage_sharing' AND subject_kind = 'recipient' AND subject_id = {id} AND actor_id = {po}"
            ),
        )
        .await;
        assert_eq!(audited, 1);
        // An unknown entry is refused and changes nothing.
        let missing = [("recipient", "999999".to_owned())];
        let r = app
            .browser_post(SetIdentifiers::PATH, &missing, &po_cookie)
            .await;
        assert_eq!(support::location(&r), "/staff/sharing?error=invalid");
    })
}
