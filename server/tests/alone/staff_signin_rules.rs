//! Staff sign-in through the domain: password policy, lock-out, TOTP (required for the privacy
//! officer, replay refused), invitations, deactivation and role changes, on both engines.

use crate::support;

use crate::support::spawn_app;
use chrono::{DateTime, Duration, Utc};
use portal_core::{
    email::Email,
    sessions::{self, Subject},
    staff::{
        self, Role, StaffName,
        auth::{self, AuthError, PasswordProblem, Step},
    },
};

const PASSWORD: &str = "scissors mirror comb 2026";

async fn staff_with_password(app: &support::TestApp, email: &str, role: Role) -> i64 {
    let inv = auth::invite(
        &app.portal.db,
        &app.portal.vault,
        &Email::parse(email).unwrap(),
        &StaffName::parse("测试员工").unwrap(),
        role,
        Utc::now(),
    )
    .await
    .unwrap();
    auth::accept_invitation(
        &app.portal.db,
        &inv.token,
        PASSWORD,
        "Demo Salon",
        Utc::now(),
    )
    .await
    .unwrap()
}

fn code_at(url: &str, at: DateTime<Utc>) -> String {
    totp_rs::TOTP::from_url_unchecked(url)
        .unwrap()
        .generate(at.timestamp() as u64)
}

/// Signs a privacy officer in for the first time: enrol, return the otpauth URL.
async fn enrol_officer(app: &support::TestApp, email: &str, now: DateTime<Utc>) -> String {
    let Step::Enrol { pending } = auth::sign_in_password(&app.portal, email, PASSWORD, "ip", now)
        .await
        .unwrap()
    else {
        panic!("a privacy officer without a second factor must enrol");
    };
    let e = auth::enrolment(&app.portal, &pending, now)
        .await
        .unwrap()
        .unwrap();
    assert!(e.qr_svg.contains("<svg"));
    auth::sign_in_code(&app.portal, &pending, &code_at(&e.url, now), now)
        .await
        .unwrap();
    e.url
}

#[tokio::test]
async fn a_privacy_officer_must_set_up_a_second_factor_and_then_always_give_a_fresh_code() {
    let _alone = crate::alone().await;
    let app = spawn_app().await;
    let id = staff_with_password(&app, "officer@salon.example", Role::PrivacyOfficer).await;
    let t0 = Utc::now();
    let url = enrol_officer(&app, "officer@salon.example", t0).await;

    // Next time the code is asked for; the code already used is refused (replay).
    let t1 = t0 + Duration::seconds(5);
    let Step::Code { pending } =
        auth::sign_in_password(&app.portal, "officer@salon.example", PASSWORD, "ip", t1)
            .await
            .unwrap()
    else {
        panic!("code step expected");
    };
    let replay = auth::sign_in_code(&app.portal, &pending, &code_at(&url, t0), t1).await;
    assert!(matches!(replay, Err(AuthError::WrongCode)), "{replay:?}");
    let t2 = t0 + Duration::seconds(35);
    assert_eq!(
        auth::sign_in_code(&app.portal, &pending, &code_at(&url, t2), t2)
            .await
            .unwrap(),
        id
    );
    // The step is spent: the same pending cookie cannot be used again.
    assert!(matches!(
        auth::sign_in_code(
            &app.portal,
            &pending,
            &code_at(&url, t2 + Duration::seconds(30)),
            t2
        )
        .await,
        Err(AuthError::Failed)
    ));
    // The secret is stored sealed, not in base32 or raw form.
    let secret = totp_rs::TOTP::from_url_unchecked(&url).unwrap().secret;
    let row = staff::entity::Entity::find_by_id(id)
        .one(&app.portal.db)
        .await
        .unwrap()
        .unwrap();
    let sealed = row.totp_secret_sealed.unwrap();
    assert!(!sealed.windows(secret.len()).any(|w| w == secret.as_slice()));
}

use sea_orm::EntityTrait;

#[tokio::test]
async fn other_roles_sign_in_with_a_password_alone_until_they_choose_a_second_factor() {
    let _alone = crate::alone().await;
    let app = spawn_app().await;
    let id = staff_with_password(&app, "desk@salon.example", Role::FrontDesk).await;
    let now = Utc::now();
    assert_eq!(
        auth::sign_in_password(&app.portal, "DESK@salon.example", PASSWORD, "ip", now)
            .await
            .unwrap(),
        Step::Done { staff: id }
    );
    let pending = auth::start_enrolment(&app.portal, id, None, now)
        .await
        .unwrap();
    let url = auth::enrolment(&app.portal, &pending, now)
        .await
        .unwrap()
        .unwrap()
        .url;
    auth::sign_in_code(&app.portal, &pending, &code_at(&url, now), now)
        .await
        .unwrap();
    assert!(matches!(
        auth::sign_in_password(&app.portal, "desk@salon.example", PASSWORD, "ip", now)
            .await
            .unwrap(),
        Step::Code { .. }
    ));
}

#[tokio::test]
async fn failures_delay_the_next_attempt_longer_each_time_never_for_good_and_unlock_clears_it() {
    let _alone = crate::alone().await;
    let app = spawn_app().await;
    let id = staff_with_password(&app, "li@salon.example", Role::Stylist).await;
    let t0 = Utc::now();
    // A fresh client address per attempt: this is about the account's own delay.
    let n = std::sync::atomic::AtomicU32::new(0);
    let try_at = |password: &'static str, at: DateTime<Utc>| {
        let portal = app.portal.clone();
        let ip = format!(
            "198.51.100.{}",
            n.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
        );
        async move { auth::sign_in_password(&portal, "li@salon.example", password, &ip, at).await }
    };
    for _ in 0..auth::FREE_FAILURES {
        assert!(matches!(
            try_at("wrong password!!", t0).await,
            Err(AuthError::Failed)
        ));
    }
    // Delayed: even the right password is refused, before any hashing, for one minute.
    let before = auth::verifications();
    assert!(matches!(
        try_at(PASSWORD, t0).await,
        Err(AuthError::Delayed)
    ));
    assert!(matches!(
        try_at(PASSWORD, t0 + auth::FIRST_DELAY - Duration::seconds(1)).await,
        Err(AuthError::Delayed)
    ));
    assert_eq!(auth::verifications(), before, "no hash while delayed");
    // Each further failure doubles the wait: 1, 2, 4 … minutes, capped at an hour.
    let mut at = t0;
    let mut waits = Vec::new();
    for _ in 0..8 {
        let mut wait = Duration::seconds(30);
        loop {
            match try_at("wrong password!!", at + wait).await {
                Err(AuthError::Delayed) => wait += Duration::seconds(30),
                Err(AuthError::Failed) => break,
                other => panic!("{other:?}"),
            }
        }
        at += wait;
        waits.push(wait.num_seconds());
    }
    assert_eq!(
        waits,
        vec![60, 120, 240, 480, 960, 1920, 3600, 3600],
        "the delay grows and stops at an hour"
    );
    // Never for good: an hour after the last failure the right password works again.
    let later = at + auth::MAX_DELAY;
    assert_eq!(
        try_at(PASSWORD, later).await.unwrap(),
        Step::Done { staff: id }
    );
    // ... and the count starts again: five failures are heard at once.
    for _ in 0..auth::FREE_FAILURES {
        assert!(matches!(
            try_at("wrong password!!", later).await,
            Err(AuthError::Failed)
        ));
    }
    assert!(matches!(
        try_at(PASSWORD, later).await,
        Err(AuthError::Delayed)
    ));
    // The officer's unlock lifts the delay at once.
    auth::unlock(&app.portal.db, &app.portal.vault, id)
        .await
        .unwrap();
    assert_eq!(
        try_at(PASSWORD, later).await.unwrap(),
        Step::Done { staff: id }
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_wrong_guesses_against_one_account_get_at_most_five_password_verifications() {
    let _alone = crate::alone().await;
    let app = spawn_app().await;
    staff_with_password(&app, "target@salon.example", Role::FrontDesk).await;
    let now = Utc::now();
    let before = auth::verifications();
    let guesses = (0..40).map(|i| {
        let portal = app.portal.clone();
        tokio::spawn(async move {
            // Each from its own client address, so only the account's own delay can stop them.
            let ip = format!("203.0.113.{i}");
            auth::sign_in_password(
                &portal,
                "target@salon.example",
                &format!("guess number {i}!"),
                &ip,
                now,
            )
            .await
        })
    });
    let mut failed = 0;
    for g in guesses.collect::<Vec<_>>() {
        match g.await.unwrap() {
            Err(AuthError::Failed) => failed += 1,
            Err(AuthError::Delayed | AuthError::Busy) => {}
            other => panic!("{other:?}"),
        }
    }
    let verified = auth::verifications() - before;
    assert!(
        verified <= auth::FREE_FAILURES as u64,
        "{verified} verifications for 40 parallel guesses"
    );
    assert!((1..=auth::FREE_FAILURES).contains(&failed), "{failed}");
    // Guesses told "busy" (no hashing permit in time, on a slow machine) were not heard; the
    // rest of the free failures are spent one at a time, then the account is delayed.
    let mut n = 0;
    while failed < auth::FREE_FAILURES {
        n += 1;
        let ip = format!("198.18.0.{n}");
        match auth::sign_in_password(
            &app.portal,
            "target@salon.example",
            "one more guess!!",
            &ip,
            now,
        )
        .await
        {
            Err(AuthError::Failed) => failed += 1,
            Err(AuthError::Busy) => tokio::time::sleep(std::time::Duration::from_millis(50)).await,
            other => panic!("{other:?}"),
        }
        assert!(n < 50, "the free failures were never spent");
    }
    // The account is now delayed for everyone without a trusted browser.
    assert!(matches!(
        auth::sign_in_password(
            &app.portal,
            "target@salon.example",
            PASSWORD,
            "192.0.2.1",
            now
        )
        .await,
        Err(AuthError::Delayed)
    ));
}

#[tokio::test]
async fn an_unknown_address_is_delayed_exactly_like_a_known_one() {
    let _alone = crate::alone().await;
    let app = spawn_app().await;
    staff_with_password(&app, "known@salon.example", Role::Stylist).await;
    let now = Utc::now();
    for email in ["known@salon.example", "unknown@salon.example"] {
        let mut outcomes = Vec::new();
        for i in 0..auth::FREE_FAILURES + 2 {
            let ip = format!("192.0.2.{i}");
            let r = auth::sign_in_password(&app.portal, email, "wrong password!!", &ip, now).await;
            outcomes.push(match r {
                Err(AuthError::Failed) => "failed",
                Err(AuthError::Delayed) => "delayed",
                other => panic!("{other:?}"),
            });
        }
        let mut expected = vec!["failed"; auth::FREE_FAILURES as usize];
        expected.extend(["delayed", "delayed"]);
        assert_eq!(outcomes, expected, "{email}");
    }
}

#[tokio::test]
async fn a_browser_that_signed_in_before_is_not_delayed_by_other_peoples_failures() {
    let _alone = crate::alone().await;
    let app = spawn_app().await;
    let id = staff_with_password(&app, "desk@salon.example", Role::FrontDesk).await;
    let now = Utc::now();
    let device = auth::device_token(&app.portal.vault, id);
    // Someone elsewhere spends the account's budget.
    for i in 0..auth::FREE_FAILURES + 3 {
        let _ = auth::sign_in_password(
            &app.portal,
            "desk@salon.example",
            "wrong password!!",
            &format!("203.0.113.{i}"),
            now,
        )
        .await;
    }
    let from = |device: Option<String>, password: &'static str| {
        let portal = app.portal.clone();
        async move {
            auth::sign_in_from(
                &portal,
                "desk@salon.example",
                password,
                "10.0.0.1",
                device.as_deref(),
                now,
            )
            .await
        }
    };
    assert!(matches!(
        from(None, PASSWORD).await,
        Err(AuthError::Delayed)
    ));
    // A forged or another account's token is no token.
    let forged = format!("{id}.AAAAAAAAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA");
    assert!(matches!(
        from(Some(forged), PASSWORD).await,
        Err(AuthError::Delayed)
    ));
    assert_eq!(
        from(Some(device.clone()), PASSWORD).await.unwrap(),
        Step::Done { staff: id }
    );
    // The trusted browser has a budget of its own, with the same delays.
    for _ in 0..auth::FREE_FAILURES {
        assert!(matches!(
            from(Some(device.clone()), "wrong password!!").await,
            Err(AuthError::Failed)
        ));
    }
    assert!(matches!(
        from(Some(device), PASSWORD).await,
        Err(AuthError::Delayed)
    ));
}

#[tokio::test]
async fn unknown_addresses_deactivated_staff_and_throttled_clients_get_the_same_refusal() {
    let _alone = crate::alone().await;
    let app = spawn_app().await;
    let id = staff_with_password(&app, "gone@salon.example", Role::Marketing).await;
    let now = Utc::now();
    for (email, password) in [
        ("nobody@salon.example", PASSWORD),
        ("not an address", PASSWORD),
        ("gone@salon.example", "wrong password!!"),
    ] {
        assert!(matches!(
            auth::sign_in_password(&app.portal, email, password, "ip", now).await,
            Err(AuthError::Failed)
        ));
    }
    // A live session ends at the next request once the person is deactivated.
    let token = sessions::start(
        &app.portal.db,
        &app.portal.session_keys,
        Subject::Staff(id),
        now,
    )
    .await
    .unwrap();
    assert!(
        sessions::resume(&app.portal.db, &app.portal.session_keys, &token, now)
            .await
            .unwrap()
            .is_some()
    );
    auth::deactivate(&app.portal.db, id, now).await.unwrap();
    assert!(
        sessions::resume(&app.portal.db, &app.portal.session_keys, &token, now)
            .await
            .unwrap()
            .is_none()
    );
    assert!(auth::member(&app.portal.db, id).await.unwrap().is_none());
    assert!(matches!(
        auth::sign_in_password(&app.portal, "gone@salon.example", PASSWORD, "ip", now).await,
        Err(AuthError::Failed)
    ));

    // One client address trying many accounts is delayed, whatever it tries, unless the
    // browser signed in to that account before (see the test of trusted browsers).
    let other = staff_with_password(&app, "fine@salon.example", Role::Stylist).await;
    for i in 0..auth::FREE_FAILURES_PER_IP {
        let _ = auth::sign_in_password(
            &app.portal,
            &format!("guess{i}@salon.example"),
            PASSWORD,
            "203.0.113.9",
            now,
        )
        .await;
    }
    assert!(matches!(
        auth::sign_in_password(
            &app.portal,
            "fine@salon.example",
            PASSWORD,
            "203.0.113.9",
            now
        )
        .await,
        Err(AuthError::Delayed)
    ));
    assert_eq!(
        auth::sign_in_password(
            &app.portal,
            "fine@salon.example",
            PASSWORD,
            "198.51.100.1",
            now
        )
        .await
        .unwrap(),
        Step::Done { staff: other }
    );
}

#[tokio::test]
async fn a_role_change_applies_at_the_next_request() {
    let _alone = crate::alone().await;
    let app = spawn_app().await;
    let id = staff_with_password(&app, "move@salon.example", Role::Stylist).await;
    assert_eq!(
        auth::member(&app.portal.db, id)
            .await
            .unwrap()
            .unwrap()
            .role,
        Role::Stylist
    );
    auth::set_role(&app.portal.db, id, Role::FrontDesk, Utc::now())
        .await
        .unwrap();
    assert_eq!(
        auth::member(&app.portal.db, id)
            .await
            .unwrap()
            .unwrap()
            .role,
        Role::FrontDesk
    );
}

#[tokio::test]
async fn an_invitation_sets_a_strong_password_once_within_a_day() {
    let _alone = crate::alone().await;
    let app = spawn_app().await;
    let now = Utc::now();
    let invite = |email: &'static str| {
        let portal = app.portal.clone();
        async move {
            auth::invite(
                &portal.db,
                &portal.vault,
                &Email::parse(email).unwrap(),
                &StaffName::parse("王芳").unwrap(),
                Role::FrontDesk,
                now,
            )
            .await
            .unwrap()
        }
    };
    let inv = invite("wang.fang@salon.example").await;
    assert_eq!(
        auth::peek_invitation(&app.portal.db, &inv.token, now)
            .await
            .unwrap()
            .as_deref(),
        Some("王芳")
    );
    // Without a password nobody can sign in to the new account.
    assert!(matches!(
        auth::sign_in_password(&app.portal, "wang.fang@salon.example", "", "ip", now).await,
        Err(AuthError::Failed)
    ));
    for (weak, problem) in [
        ("short1!", PasswordProblem::TooShort),
        ("password1234", PasswordProblem::TooCommon),
        ("wangfang2026!!", PasswordProblem::TooCommon),
    ] {
        let r = auth::accept_invitation(&app.portal.db, &inv.token, weak, "Demo Salon", now).await;
        assert!(
            matches!(r, Err(AuthError::Password(p)) if p == problem),
            "{weak}: {r:?}"
        );
    }
    auth::accept_invitation(&app.portal.db, &inv.token, PASSWORD, "Demo Salon", now)
        .await
        .unwrap();
    assert!(matches!(
        auth::accept_invitation(
            &app.portal.db,
            &inv.token,
            "another long phrase 77",
            "x",
            now
        )
        .await,
        Err(AuthError::Failed)
    ));
    assert!(matches!(
        auth::sign_in_password(&app.portal, "wang.fang@salon.example", PASSWORD, "ip", now)
            .await
            .unwrap(),
        Step::Done { .. }
    ));

    let late = invite("late@salon.example").await;
    assert!(matches!(
        auth::accept_invitation(
            &app.portal.db,
            &late.token,
            PASSWORD,
            "Demo Salon",
            now + Duration::hours(24) + Duration::seconds(1)
        )
        .await,
        Err(AuthError::Failed)
    ));
}

#[tokio::test]
async fn five_wrong_codes_burn_the_second_factor_step() {
    let _alone = crate::alone().await;
    let app = spawn_app().await;
    staff_with_password(&app, "po@salon.example", Role::PrivacyOfficer).await;
    let t0 = Utc::now();
    let url = enrol_officer(&app, "po@salon.example", t0).await;
    let t1 = t0 + Duration::seconds(60);
    let Step::Code { pending } =
        auth::sign_in_password(&app.portal, "po@salon.example", PASSWORD, "ip", t1)
            .await
            .unwrap()
    else {
        panic!("code step expected");
    };
    let right = code_at(&url, t1);
    let wrong = if right == "000000" {
        "000001"
    } else {
        "000000"
    };
    for _ in 0..5 {
        assert!(matches!(
            auth::sign_in_code(&app.portal, &pending, wrong, t1).await,
            Err(AuthError::WrongCode)
        ));
    }
    assert!(matches!(
        auth::sign_in_code(&app.portal, &pending, &right, t1).await,
        Err(AuthError::Failed)
    ));
}

#[tokio::test]
async fn sign_in_delays_are_swept_a_day_after_the_last_failure_and_not_before() {
    let _alone = crate::alone().await;
    let app = spawn_app().await;
    let now = Utc::now();
    for i in 0..auth::FREE_FAILURES {
        let _ = auth::sign_in_password(
            &app.portal,
            "someone@salon.example",
            "wrong password!!",
            &format!("192.0.2.{i}"),
            now,
        )
        .await;
    }
    // Delayed now; kept while delayed and for a day after the last failure.
    assert_eq!(
        auth::sweep_buckets(&app.portal.db, now + Duration::hours(23))
            .await
            .unwrap(),
        0
    );
    let swept = auth::sweep_buckets(&app.portal.db, now + Duration::hours(25))
        .await
        .unwrap();
    // One bucket for the address typed, one for each client address.
    assert_eq!(swept, 1 + auth::FREE_FAILURES as u64);
}

#[tokio::test]
async fn wrong_second_factor_codes_delay_the_code_step_for_a_while_not_for_good() {
    let _alone = crate::alone().await;
    let app = spawn_app().await;
    let id = staff_with_password(&app, "po2@salon.example", Role::PrivacyOfficer).await;
    let t0 = Utc::now();
    let url = enrol_officer(&app, "po2@salon.example", t0).await;
    let t1 = t0 + Duration::seconds(60);
    let step = |at: DateTime<Utc>| {
        let portal = app.portal.clone();
        async move {
            match auth::sign_in_password(&portal, "po2@salon.example", PASSWORD, "ip", at).await {
                Ok(Step::Code { pending }) => pending,
                other => panic!("{other:?}"),
            }
        }
    };
    let right = code_at(&url, t1);
    let wrong = if right == "000000" {
        "000001"
    } else {
        "000000"
    };
    let pending = step(t1).await;
    for _ in 0..auth::FREE_FAILURES {
        let _ = auth::sign_in_code(&app.portal, &pending, wrong, t1).await;
    }
    // A new step with the right password: the right code is still refused while delayed ...
    let pending = step(t1).await;
    assert!(matches!(
        auth::sign_in_code(&app.portal, &pending, &right, t1).await,
        Err(AuthError::Failed)
    ));
    // ... and heard once the minute has passed.
    let t2 = t1 + auth::FIRST_DELAY + Duration::seconds(1);
    let pending = step(t2).await;
    assert_eq!(
        auth::sign_in_code(&app.portal, &pending, &code_at(&url, t2), t2)
            .await
            .unwrap(),
        id
    );
}
