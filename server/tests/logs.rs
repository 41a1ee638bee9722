//! Logs carry no personal values: this test captures everything the portal logs, with the
//! production filter, while personal values pass through URLs, forms and mail.

#[path = "blackbox/support/mod.rs"]
mod support;

use std::{
    io::Write,
    sync::{Arc, Mutex},
    time::Duration,
};

use app::signin::{ConfirmLink, RequestSignIn};
use leptos::server_fn::ServerFn;
use portal_core::{email::Email, mail::OutgoingMail};
use support::{PUBLIC_URL, eventually, smtp::SmtpSink, spawn_app_with};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn logs_record_requests_and_mail_without_any_personal_value() {
    let captured = Captured::default();
    let writer = captured.clone();
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(tracing_subscriber::EnvFilter::new(
            server::DEFAULT_LOG_FILTER,
        ))
        .with_writer(move || writer.clone())
        .init();

    let secret = "li.na.secret@example.com";
    let phone = "13900001234";
    let sink = SmtpSink::start().await;
    sink.refuse_next(1);
    let url = sink.url();
    let app = spawn_app_with(|s| s.smtp_url = Some(url)).await;

    // Personal values in a query string, a form field and a refused cross-site form.
    app.client
        .get(app.url(&format!("/privacy?email={secret}&phone={phone}")))
        .send()
        .await
        .unwrap();
    app.post_form(
        "/lang",
        &[("lang", "en"), ("next", &format!("/privacy?e={secret}"))],
    )
    .await;
    app.client
        .post(app.url("/lang"))
        .header("origin", "https://evil.example")
        .form(&[("next", secret)])
        .send()
        .await
        .unwrap();
    app.client
        .post(app.url("/lang"))
        .header("origin", PUBLIC_URL)
        .body(format!("{secret}{}", "x".repeat(70_000)))
        .send()
        .await
        .unwrap();

    // Mail to the person, refused once and then delivered.
    let mail = OutgoingMail {
        to: Email::parse(secret).unwrap(),
        subject: format!("Hi {phone}"),
        text: secret.into(),
        html: Some(format!("<p>{secret}</p>")),
    };
    app.portal
        .enqueue_mail(&app.portal.db, None, "test", &mail)
        .await
        .unwrap();
    app.portal.outbox.notify();
    assert!(
        eventually(Duration::from_secs(10), || async {
            !sink.received().is_empty()
        })
        .await
    );

    // A whole sign-in: the address, the link's token, the code, the browser handle and the
    // session cookie all pass through requests; none may reach the logs.
    support::customer(&app, secret, "en").await;
    let asked = app
        .client
        .post(app.url(RequestSignIn::PATH))
        .header("origin", PUBLIC_URL)
        .header("accept", "text/html")
        .form(&[("email", secret)])
        .send()
        .await
        .unwrap();
    let pending = cookie_pair(&asked, "signin_pending");
    assert!(
        eventually(Duration::from_secs(10), || async {
            sink.received().len() == 2
        })
        .await
    );
    let text = sink.received()[1]
        .data
        .replace("=\r\n", "")
        .replace("=3D", "=");
    let token: String = text
        .split("/signin/link?t=")
        .nth(1)
        .unwrap()
        .chars()
        .take(43)
        .collect();
    let code = text.split("where you asked: ").nth(1).unwrap()[..6].to_owned();
    app.get_in(&format!("/signin/link?t={token}"), "en").await;
    let signed = app
        .client
        .post(app.url(ConfirmLink::PATH))
        .header("origin", PUBLIC_URL)
        .header("accept", "text/html")
        .form(&[("t", &token)])
        .send()
        .await
        .unwrap();
    let session = cookie_pair(&signed, "__Host-portal_session");
    app.client
        .get(app.url("/me"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    // The logs are there and structured...
    assert!(logs.contains("mail delivery failed"), "{logs}");
    assert!(logs.contains("mail delivered"), "{logs}");
    assert!(logs.contains("cross-origin request refused"), "{logs}");
    assert!(logs.contains(r#""path":"/privacy""#), "{logs}");
    assert!(
        logs.lines()
            .all(|l| serde_json::from_str::<serde_json::Value>(l).is_ok()),
        "every line is JSON"
    );
    // ...and carry nothing personal.
    assert!(logs.contains(r#""path":"/signin/link""#), "{logs}");
    let session_jwt = session.split_once('=').unwrap().1;
    let handle = pending.split_once('=').unwrap().1;
    for value in [
        secret,
        "li.na.secret",
        phone,
        &token,
        &token[..12],
        session_jwt,
        handle,
        &format!("\"{code}\""),
    ] {
        assert!(!logs.contains(value), "logs contain {value}:\n{logs}");
    }
}

fn cookie_pair(resp: &reqwest::Response, name: &str) -> String {
    resp.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with(&format!("{name}=")))
        .and_then(|c| c.split(';').next())
        .expect("the cookie is set")
        .to_owned()
}
