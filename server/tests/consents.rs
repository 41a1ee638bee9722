//! Consent switches: off until turned on, a change applies at once as a ledger event naming the
//! notice shown, sensitive and photo purposes need an explicit confirmation, and the current
//! states can be rebuilt from the ledger and compared (by the library and `portal consents`).

mod support;

use std::process::Command;

use app::me::consents::SetConsent;
use chrono::Utc;
use leptos::server_fn::ServerFn;
use portal_core::{
    consents::{self, Purpose},
    sessions::{self, Subject},
};
use sea_orm::{
    ConnectionTrait,
    sea_query::{Expr, ExprTrait, Query},
};
use support::{PUBLIC_URL, spawn_app};

async fn set(app: &support::TestApp, cookie: &str, form: &[(&str, &str)]) -> String {
    app.client
        .post(app.url(SetConsent::PATH))
        .header("origin", PUBLIC_URL)
        .header("accept", "text/html")
        .header("cookie", cookie)
        .form(form)
        .send()
        .await
        .unwrap()
        .headers()["location"]
        .to_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn a_switch_applies_at_once_and_sensitive_purposes_need_explicit_confirmation() {
    let app = spawn_app().await;
    let c = support::customer(&app, "switches@example.com", "zh").await;
    let token = sessions::start(
        &app.portal.db,
        &app.portal.session_keys,
        Subject::Customer(c),
        Utc::now(),
    )
    .await
    .unwrap();
    let cookie = format!("__Host-portal_session={token}");
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
        "/me/consents?done=on"
    );
    assert!(on(Purpose::MarketingEmail).await);
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
        "/me/consents?done=on"
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
        "/me/consents?done=off"
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
}

#[tokio::test]
async fn current_states_rebuilt_from_the_ledger_equal_the_stored_ones() {
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
}
