//! The edges of HTTP: statuses that say whose fault a failure was (so monitoring counts only the
//! portal's own), body limits however a body arrives, redirects that are real redirects, the
//! security headers on every answer, and request data shaped to break things.

mod support;

use std::time::Duration;

use app::{me::CancelRequest, notices::GetNotice};
use leptos::server_fn::ServerFn;
use reqwest::StatusCode;
use support::{PUBLIC_URL, spawn_app};

/// A server-function call as the hydrated page's client makes it: same origin, no
/// `Accept: text/html`, so the answer is the function's own status, not a form redirect.
async fn call(
    app: &support::TestApp,
    path: &str,
    content_type: &str,
    body: impl Into<reqwest::Body>,
) -> reqwest::Response {
    app.client
        .post(app.url(path))
        .header("origin", PUBLIC_URL)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .expect("request reaches the test server")
}

const FORM: &str = "application/x-www-form-urlencoded";

/// Sends `head` and then `body` over a plain socket (for bodies reqwest will not send, such as
/// an unannounced chunked one) and returns the status line's code.
async fn raw_status(app: &support::TestApp, head: String, body: Vec<u8>) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = app.address.trim_start_matches("http://");
    let stream = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connects");
    let (mut read, mut write) = stream.into_split();
    // The server may answer before it has read the whole body: write and read side by side.
    let writer = tokio::spawn(async move {
        let _ = write.write_all(head.as_bytes()).await;
        let _ = write.write_all(&body).await;
        write
    });
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    let read_status = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            match read.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => answer.extend_from_slice(&buf[..n]),
            }
            if answer.windows(4).any(|w| w == b"\r\n\r\n") {
                break;
            }
        }
    })
    .await;
    assert!(read_status.is_ok(), "the server answers");
    drop(writer.await);
    let text = String::from_utf8_lossy(&answer);
    text.split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("an HTTP answer, got {text:?}"))
}

/// `size` bytes of form body, sent in 8 KiB chunks without a `Content-Length`.
fn chunked_form(size: usize) -> Vec<u8> {
    let mut body = Vec::new();
    let payload = format!("lang=En&pad={}", "x".repeat(size));
    for chunk in payload.as_bytes().chunks(8 * 1024) {
        body.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        body.extend_from_slice(chunk);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(b"0\r\n\r\n");
    body
}

#[tokio::test]
async fn server_functions_answer_400_for_arguments_they_cannot_decode() {
    let app = spawn_app().await;
    let cases: [(&str, &str, Vec<u8>); 5] = [
        ("an unknown enum value", FORM, b"lang=Klingon".to_vec()),
        ("a missing argument", FORM, b"version=1".to_vec()),
        ("an empty body", FORM, Vec::new()),
        ("invalid UTF-8", FORM, b"lang=En&version=\xff\xfe".to_vec()),
        (
            "a form sent as JSON",
            "application/json",
            br#"{"lang": "En"}"#.to_vec(),
        ),
    ];
    for (what, content_type, body) in cases {
        let r = call(&app, GetNotice::PATH, content_type, body).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{what}");
    }
    // The portal still answers a well-formed call.
    let r = call(&app, GetNotice::PATH, FORM, "lang=En").await;
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn server_functions_answer_404_for_things_that_do_not_exist() {
    let app = spawn_app().await;
    for version in ["999", "not-a-number"] {
        let r = call(
            &app,
            GetNotice::PATH,
            FORM,
            format!("lang=En&version={version}"),
        )
        .await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "version {version}");
    }
}

#[tokio::test]
async fn server_functions_answer_401_to_a_signed_out_customer() {
    let app = spawn_app().await;
    let r = call(&app, CancelRequest::PATH, FORM, "id=1").await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    // A form post from a page still lands on the sign-in page.
    let r = app
        .browser_post(CancelRequest::PATH, &[("id", "1")], "")
        .await;
    assert_eq!(r.status(), StatusCode::FOUND);
    assert!(support::location(&r).starts_with("/signin"));
}

#[tokio::test]
async fn server_function_bodies_over_the_limit_answer_413_whether_chunked_or_not() {
    let app = spawn_app().await;
    let size = server::BODY_LIMIT + 1024;
    let host = app.address.trim_start_matches("http://").to_owned();
    let head = format!(
        "POST {} HTTP/1.1\r\nHost: {host}\r\nOrigin: {PUBLIC_URL}\r\n\
         Content-Type: {FORM}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
        GetNotice::PATH
    );
    assert_eq!(raw_status(&app, head, chunked_form(size)).await, 413);
    let announced = format!("lang=En&pad={}", "x".repeat(size));
    let r = call(&app, GetNotice::PATH, FORM, announced).await;
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    // A chunked body under the limit is read as usual.
    let head = format!(
        "POST {} HTTP/1.1\r\nHost: {host}\r\nOrigin: {PUBLIC_URL}\r\n\
         Content-Type: {FORM}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
        GetNotice::PATH
    );
    assert_eq!(raw_status(&app, head, chunked_form(1024)).await, 200);
}
