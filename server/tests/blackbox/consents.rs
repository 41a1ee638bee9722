//! Consent switches: off until turned on, a change applies at once as a ledger event naming the
//! notice shown, sensitive and photo purposes need an explicit confirmation, and the current
//! states can be rebuilt from the ledger and compared (by the library and `portal consents`).

use crate::support;

use std::process::Command;

use crate::support::{PUBLIC_URL, spawn_app};
use app::me::consents::SetConsent;
use chrono::Utc;
use leptos::server_fn::ServerFn;
use portal_core::consents::{self, Purpose};
use sea_orm::{
    ConnectionTrait,
    sea_query::{Expr, ExprTrait, Query},
};

async fn set(app: &support::TestApp, cookie: &str, form: &[(&str, &str)]) -> String {
    support::location(&app.browser_post(SetConsent::PATH, form, cookie).await)
}

#[test]
fn a_switch_applies_at_once_and_sensitive_purposes_need_explicit_confirmation() {
    crate::support::run(async {
        let app = spawn_app().await;
        let c = support::customer(&app, "switches@example.com", "zh").await;
        let cookie = support::signed_in_as(&app, portal_core::sessions::Subject::Customer(c)).await;
        let on = |p: Purpose| {
            let db = app.portal.db.clone();
            async move { consents::granted(&db, c, p).await.unwrap() }
        };
        // Off until turned on.
        assert!(!on(Purpose::MarketingEmail).await);
        assert_eq!(
            set(
                &app,
                &cookie,
                &[("purpose", "marketing_email"), ("on", "1")]
            )
            .await,
            "/me/consents?done=on&purpose=marketing_email"
        );
        assert!(on(Purpose::MarketingEmail).await);
        // The note names the purpose it changed.
        let note = app
            .client
            .get(app.url("/me/consents?done=on&purpose=marketing_email"))
            .header("cookie", &cookie)
            .header("accept-language", "zh-CN")
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(note.contains("邮件营销：已开启，立即生效。"), "{note}");
        // Health data: not without the explicit box.
        assert_eq!(
            set(
                &app,
                &cookie,
                &[("purpose", "sensitive_notes"), ("on", "1")]
            )
            .await,
            "/me/consents?confirm=sensitive_notes"
        );
        assert!(!on(Purpose::SensitiveNotes).await);
        assert_eq!(
            set(
                &app,
                &cookie,
                &[
                    ("purpose", "sensitive_notes"),
                    ("on", "1"),
                    ("confirm", "yes")
                ]
            )
            .await,
            "/me/consents?done=on&purpose=sensitive_notes"
        );
        assert!(on(Purpose::SensitiveNotes).await);
        // Withdrawal takes one tap and applies at once.
        assert_eq!(
            set(
                &app,
                &cookie,
                &[("purpose", "marketing_email"), ("on", "0")]
            )
            .await,
            "/me/consents?done=off&purpose=marketing_email"
        );
        assert!(!on(Purpose::MarketingEmail).await);
        assert_eq!(
            set(&app, &cookie, &[("purpose", "nonsense"), ("on", "1")]).await,
            "/me/consents?error=invalid"
        );
        let history = consents::history(&app.portal.db, c).await.unwrap();
        assert_eq!(history.len(), 3);
        assert!(
            history
                .iter()
                .all(|e| e.channel == "portal" && e.notice_version.is_some())
        );
        let page = app
            .client
            .get(app.url("/me/consents"))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(page.contains("data-purpose=\"sensitive_notes\" data-on=\"true\""));
        assert!(page.contains("data-purpose=\"marketing_email\" data-on=\"false\""));
    })
}

#[test]
fn current_states_rebuilt_from_the_ledger_equal_the_stored_ones() {
    crate::support::run(async {
        let app = spawn_app().await;
        portal_core::demo::load(&app.portal).await.unwrap();
        let db = &app.portal.db;
        assert_eq!(
            consents::verify(db).await.unwrap(),
            Vec::<(i64, String)>::new()
        );
        // Someone edits a state behind the ledger's back: found, then repaired from the ledger.
        db.execute(
            &Query::update()
                .table("consent_states")
                .value("granted", Expr::col("granted").not())
                .and_where(Expr::col("purpose").eq("marketing_sms"))
                .to_owned(),
        )
        .await
        .unwrap();
        let broken = consents::verify(db).await.unwrap();
        assert!(!broken.is_empty());
        let run = |args: &[&str]| {
            let out = Command::new(env!("CARGO_BIN_EXE_portal"))
                .args(args)
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
        };
        let (code, out) = run(&["consents", "verify"]);
        assert_eq!(code, Some(3), "{out}");
        let (code, out) = run(&["consents", "rebuild"]);
        assert_eq!(code, Some(0), "{out}");
        assert_eq!(
            consents::verify(db).await.unwrap(),
            Vec::<(i64, String)>::new()
        );
        let (code, _) = run(&["consents", "verify"]);
        assert_eq!(code, Some(0));
    })
}

#[test]
fn marketing_sees_only_may_contact_counts_and_an_audited_export_of_the_opted_in() {
    crate::support::run(async {
        use app::staff::marketing::{ConsentCounts, ConsentLookup};
        use portal_core::{
            audit::{self, Filter},
            staff::{Role, StaffName, auth},
        };
        let app = spawn_app().await;
        let inv = auth::invite(
            &app.portal.db,
            &app.portal.vault,
            &portal_core::email::Email::parse("mk@salon.example").unwrap(),
            &StaffName::parse("市场").unwrap(),
            Role::Marketing,
            Utc::now(),
        )
        .await
        .unwrap();
        let mk = auth::accept_invitation(
            &app.portal.db,
            &inv.token,
            "scissors mirror comb 2026",
            "x",
            Utc::now(),
        )
        .await
        .unwrap();
        let cookie = support::signed_in_as(&app, portal_core::sessions::Subject::Staff(mk)).await;
        let a = support::customer(&app, "opted.in@example.com", "zh").await;
        let b = support::customer(&app, "=cmd@example.com", "zh").await;
        let r = support::customer(&app, "frozen.in@example.com", "zh").await;
        for c in [a, b, r] {
            consents::record(
                &app.portal.db,
                c,
                consents::Change {
                    purpose: Purpose::MarketingEmail,
                    granted: true,
                    channel: consents::Channel::FrontDesk,
                    recorded_by: None,
                    notice_version: Some(1),
                },
                Utc::now(),
            )
            .await
            .unwrap();
        }
        app.portal
            .db
            .execute(
                &Query::update()
                    .table("customers")
                    .value("restricted_at", Utc::now())
                    .and_where(Expr::col("id").eq(r))
                    .to_owned(),
            )
            .await
            .unwrap();

        let lookup = app
            .browser_post(
                ConsentLookup::PATH,
                &[("contact", "opted.in@example.com")],
                &cookie,
            )
            .await;
        let location = support::location(&lookup);
        assert_eq!(
            location, "/staff/marketing?may=nyn",
            "SMS no, email yes, WeChat no; no contact in the URL"
        );

        let counts: serde_json::Value = app
            .client
            .post(app.url(ConsentCounts::PATH))
            .header("origin", PUBLIC_URL)
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(
            serde_json::Value::is_null(&counts["keys"]),
            "marketing does not manage API keys"
        );
        let email_count = counts["now"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x[0] == "marketing_email")
            .unwrap()[1]
            .clone();
        assert_eq!(email_count, 2, "the restricted customer is not counted");
        assert!(!counts.to_string().contains("测试顾客"), "no profile field");

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
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(
            lines,
            vec!["email", "opted.in@example.com", "'=cmd@example.com"]
        );
        let exports = audit::list(
            &app.portal.db,
            &Filter {
                action: Some(portal_core::access::Action::ExportOptedIn),
                ..Default::default()
            },
            10,
        )
        .await
        .unwrap();
        assert_eq!(exports.len(), 1);
        assert_eq!(
            exports[0].reason.as_deref(),
            Some("marketing_email: 2 contacts")
        );
    })
}

#[test]
fn a_notice_needing_confirmation_comes_first_at_the_next_visit_until_confirmed() {
    crate::support::run(async {
        use app::me::notice::ConfirmNotice;
        use portal_core::notices::NewNotice;
        let app = spawn_app().await;
        let c = support::customer(&app, "reader@example.com", "en").await;
        let cookie = support::signed_in_as(&app, portal_core::sessions::Subject::Customer(c)).await;
        let get = |path: &'static str| {
            let (app, cookie) = (&app, cookie.clone());
            async move {
                app.client
                    .get(app.url(path))
                    .header("cookie", cookie)
                    .header("accept", "text/html")
                    .send()
                    .await
                    .unwrap()
            }
        };
        assert_eq!(get("/me").await.status(), reqwest::StatusCode::OK);
        let v = app
            .portal
            .publish_notice(NewNotice {
                title_zh: "隐私政策（第二版）",
                title_en: "Privacy notice (v2)",
                body_zh: "我们更新了照片的使用方式。",
                body_en: "We changed how photos are used.",
                requires_confirmation: true,
                published_by: None,
            })
            .await
            .unwrap();
        let r = get("/me").await;
        assert_eq!(r.status(), reqwest::StatusCode::FOUND);
        assert_eq!(r.headers()["location"], "/me/notice");
        let page = get("/me/notice").await.text().await.unwrap();
        assert!(
            page.contains("我们更新了照片的使用方式。"),
            "shown in the page language"
        );
        let confirmed = app
            .browser_post(ConfirmNotice::PATH, &[("version", v.to_string())], &cookie)
            .await;
        assert_eq!(confirmed.headers()["location"], "/me");
        assert_eq!(get("/me").await.status(), reqwest::StatusCode::OK);
        assert_eq!(
            portal_core::notices::pending_confirmation(&app.portal.db, c)
                .await
                .unwrap(),
            None
        );
    })
}
