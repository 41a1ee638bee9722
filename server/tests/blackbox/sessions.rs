//! Session tokens: a signed JWT naming a server-side row (the domain under the cookies).
//! Runs on SQLite and, with `TEST_POSTGRES_URL`, on PostgreSQL.

use crate::support;

use crate::support::{PUBLIC_URL, spawn_app};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{Duration, Utc};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use portal_core::sessions::{self, SessionKeys, Subject};

fn keys(app: &support::TestApp) -> SessionKeys {
    SessionKeys::new(&app.portal.vault, PUBLIC_URL).unwrap()
}

/// Signs arbitrary claims with the portal's real session key.
fn forge(app: &support::TestApp, claims: serde_json::Value) -> String {
    let key = app.portal.vault.subkey("session-jwt");
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(key.bytes()).unwrap(),
    )
    .unwrap()
}

#[test]
fn a_session_resumes_until_sign_out_and_never_after() {
    crate::support::run(async {
        let app = spawn_app().await;
        // Sessions belong to real customers and staff: the demo salon provides them.
        portal_core::demo::load(&app.portal).await.unwrap();
        let (db, k) = (&app.portal.db, keys(&app));
        let now = Utc::now();
        let token = sessions::start(db, &k, Subject::Customer(42), now)
            .await
            .unwrap();
        let s = sessions::resume(db, &k, &token, now)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(s.subject, Subject::Customer(42));
        let window = sessions::FRESH;
        assert!(s.is_fresh(now + Duration::minutes(9), window));
        assert!(
            !s.is_fresh(now + Duration::minutes(11), window),
            "sensitive actions ask for a fresh code"
        );
        // A salon may ask for less, never for more than ten minutes.
        assert!(!s.is_fresh(now + Duration::minutes(2), Duration::minutes(1)));
        assert!(!s.is_fresh(now + Duration::minutes(11), Duration::hours(1)));
        sessions::end(db, &s.id, now).await.unwrap();
        assert_eq!(
            sessions::resume(db, &k, &token, now).await.unwrap(),
            None,
            "replay after sign-out"
        );
    })
}

#[test]
fn the_last_seen_time_is_written_at_most_once_a_minute_and_idle_expiry_holds_to_that_minute() {
    crate::support::run(async {
        use sea_orm::{
            ConnectionTrait,
            sea_query::{Expr, ExprTrait, Query},
        };
        let app = spawn_app().await;
        portal_core::demo::load(&app.portal).await.unwrap();
        let (db, k) = (&app.portal.db, keys(&app));
        // Whole seconds: PostgreSQL keeps microseconds, and the test sits on the exact boundary.
        let now = chrono::SubsecRound::trunc_subsecs(Utc::now(), 0);
        let token = sessions::start(db, &k, Subject::Customer(1), now)
            .await
            .unwrap();
        let id = sessions::resume(db, &k, &token, now)
            .await
            .unwrap()
            .unwrap()
            .id;
        let seen = || async {
            db.query_one(
                &Query::select()
                    .column("last_seen_at")
                    .from("sessions")
                    .and_where(Expr::col("id").eq(id.clone()))
                    .to_owned(),
            )
            .await
            .unwrap()
            .unwrap()
            .try_get::<chrono::DateTime<Utc>>("", "last_seen_at")
            .unwrap()
        };
        let at = |secs: i64| now + Duration::seconds(secs);
        // Requests within the minute write nothing.
        for s in [1, 20, 59] {
            assert!(
                sessions::resume(db, &k, &token, at(s))
                    .await
                    .unwrap()
                    .is_some()
            );
        }
        assert_eq!(
            seen().await.timestamp(),
            now.timestamp(),
            "not written within the minute"
        );
        // Idle expiry counts from the written time: the session may end up to a minute early,
        // never late. At exactly thirty minutes it is alive; a second later it is not, although
        // the last request (second 59) was under thirty minutes before.
        assert!(
            sessions::resume(db, &k, &token, at(30 * 60))
                .await
                .unwrap()
                .is_some(),
            "alive at thirty idle minutes"
        );
        assert_eq!(
            seen().await.timestamp(),
            at(30 * 60).timestamp(),
            "a minute or more since the last write: written"
        );
        let other = sessions::start(db, &k, Subject::Customer(1), now)
            .await
            .unwrap();
        assert!(
            sessions::resume(db, &k, &other, at(59))
                .await
                .unwrap()
                .is_some()
        );
        assert!(
            sessions::resume(db, &k, &other, at(30 * 60 + 1))
                .await
                .unwrap()
                .is_none(),
            "ended thirty minutes and a second after the last written time"
        );
        // A request at a minute or later writes, and moves the idle end with it.
        let third = sessions::start(db, &k, Subject::Customer(1), now)
            .await
            .unwrap();
        assert!(
            sessions::resume(db, &k, &third, at(60))
                .await
                .unwrap()
                .is_some()
        );
        assert!(
            sessions::resume(db, &k, &third, at(60 + 30 * 60))
                .await
                .unwrap()
                .is_some(),
            "the write at a minute counts"
        );
    })
}

#[test]
fn sessions_end_after_thirty_idle_minutes_and_twelve_hours_in_all() {
    crate::support::run(async {
        let app = spawn_app().await;
        // Sessions belong to real customers and staff: the demo salon provides them.
        portal_core::demo::load(&app.portal).await.unwrap();
        let (db, k) = (&app.portal.db, keys(&app));
        let now = Utc::now();
        let idle = sessions::start(db, &k, Subject::Customer(1), now)
            .await
            .unwrap();
        assert!(
            sessions::resume(db, &k, &idle, now + Duration::minutes(29))
                .await
                .unwrap()
                .is_some()
        );
        assert!(
            sessions::resume(db, &k, &idle, now + Duration::minutes(29 + 31))
                .await
                .unwrap()
                .is_none()
        );

        let busy = sessions::start(db, &k, Subject::Staff(1), now)
            .await
            .unwrap();
        let mut t = now;
        while t < now + Duration::hours(12) - Duration::minutes(20) {
            t += Duration::minutes(20);
            assert!(
                sessions::resume(db, &k, &busy, t).await.unwrap().is_some(),
                "active at {t}"
            );
        }
        assert!(
            sessions::resume(db, &k, &busy, now + Duration::hours(12))
                .await
                .unwrap()
                .is_none()
        );
    })
}

#[test]
fn ending_all_of_a_subjects_sessions_takes_effect_on_the_next_request() {
    crate::support::run(async {
        let app = spawn_app().await;
        // Sessions belong to real customers and staff: the demo salon provides them.
        portal_core::demo::load(&app.portal).await.unwrap();
        let (db, k) = (&app.portal.db, keys(&app));
        let now = Utc::now();
        let a = sessions::start(db, &k, Subject::Staff(3), now)
            .await
            .unwrap();
        let b = sessions::start(db, &k, Subject::Staff(3), now)
            .await
            .unwrap();
        let other = sessions::start(db, &k, Subject::Customer(7), now)
            .await
            .unwrap();
        assert_eq!(
            sessions::end_all(db, Subject::Staff(3), now).await.unwrap(),
            2
        );
        for t in [&a, &b] {
            assert!(sessions::resume(db, &k, t, now).await.unwrap().is_none());
        }
        assert!(
            sessions::resume(db, &k, &other, now)
                .await
                .unwrap()
                .is_some()
        );
    })
}

#[test]
fn forged_tampered_expired_and_foreign_tokens_are_refused() {
    crate::support::run(async {
        let app = spawn_app().await;
        // Sessions belong to real customers and staff: the demo salon provides them.
        portal_core::demo::load(&app.portal).await.unwrap();
        let (db, k) = (&app.portal.db, keys(&app));
        let now = Utc::now();
        let good = sessions::start(db, &k, Subject::Customer(5), now)
            .await
            .unwrap();
        let jti = {
            let payload = good.split('.').nth(1).unwrap();
            let v: serde_json::Value =
                serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
            v["jti"].as_str().unwrap().to_owned()
        };
        let claims = |aud: &str, iss: &str, sub: &str, exp: i64| serde_json::json!({"sub": sub, "aud": aud, "iss": iss, "iat": now.timestamp(), "exp": exp, "jti": jti});
        let exp = (now + Duration::hours(1)).timestamp();
        // Sanity: the forging helper makes tokens the portal accepts when everything is right.
        assert!(
            sessions::resume(
                db,
                &k,
                &forge(
                    &app,
                    claims("salon-privacy-portal", PUBLIC_URL, "customer:5", exp)
                ),
                now
            )
            .await
            .unwrap()
            .is_some()
        );

        let mut tampered = good.clone().into_bytes();
        let mid = tampered.len() / 2;
        tampered[mid] = if tampered[mid] == b'A' { b'B' } else { b'A' };
        let header_none = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        let body = good.split('.').nth(1).unwrap();
        let other_app = spawn_app().await;
        portal_core::demo::load(&other_app.portal).await.unwrap();
        let cases = [
            ("tampered", String::from_utf8(tampered).unwrap()),
            ("alg none", format!("{header_none}.{body}.")),
            (
                "wrong key",
                sessions::start(
                    &other_app.portal.db,
                    &keys(&other_app),
                    Subject::Customer(5),
                    now,
                )
                .await
                .unwrap(),
            ),
            (
                "wrong audience",
                forge(&app, claims("someone-else", PUBLIC_URL, "customer:5", exp)),
            ),
            (
                "wrong issuer",
                forge(
                    &app,
                    claims(
                        "salon-privacy-portal",
                        "https://evil.example",
                        "customer:5",
                        exp,
                    ),
                ),
            ),
            (
                "expired",
                forge(
                    &app,
                    claims(
                        "salon-privacy-portal",
                        PUBLIC_URL,
                        "customer:5",
                        (now - Duration::minutes(5)).timestamp(),
                    ),
                ),
            ),
            (
                "other subject",
                forge(
                    &app,
                    claims("salon-privacy-portal", PUBLIC_URL, "customer:6", exp),
                ),
            ),
            ("garbage", "not.a.jwt".to_owned()),
            ("empty", String::new()),
        ];
        for (what, token) in cases {
            assert_eq!(
                sessions::resume(db, &k, &token, now).await.unwrap(),
                None,
                "{what}"
            );
        }
    })
}
