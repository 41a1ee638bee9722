//! Staff sign-in through the domain: password policy, lock-out, TOTP (required for the privacy
//! officer, replay refused), invitations, deactivation and role changes, on both engines.

mod support;

use chrono::{DateTime, Duration, Utc};
use portal_core::{
    email::Email,
    sessions::{self, Subject},
    staff::{
        self, Role, StaffName,
        auth::{self, AuthError, PasswordProblem, Step},
    },
};
use support::spawn_app;

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
    let app = spawn_app().await;
    let id = staff_with_password(&app, "desk@salon.example", Role::FrontDesk).await;
    let now = Utc::now();
    assert_eq!(
        auth::sign_in_password(&app.portal, "DESK@salon.example", PASSWORD, "ip", now)
            .await
            .unwrap(),
        Step::Done { staff: id }
    );
    let pending = auth::start_enrolment(&app.portal, id, now).await.unwrap();
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
async fn repeated_failures_lock_the_account_for_a_while_and_fifty_lock_it_until_unlocked() {
    let app = spawn_app().await;
    let id = staff_with_password(&app, "li@salon.example", Role::Stylist).await;
    let t0 = Utc::now();
    let try_at = |password: &'static str, at: DateTime<Utc>| {
        let portal = app.portal.clone();
        async move { auth::sign_in_password(&portal, "li@salon.example", password, "ip", at).await }
    };
    for _ in 0..auth::LOCK_EVERY {
        assert!(matches!(
            try_at("wrong password!!", t0).await,
            Err(AuthError::Failed)
        ));
    }
    // Locked: even the right password is refused, with the same answer.
    assert!(matches!(try_at(PASSWORD, t0).await, Err(AuthError::Failed)));
    assert!(matches!(
        try_at(PASSWORD, t0 + auth::LOCK_FOR - Duration::seconds(1)).await,
        Err(AuthError::Failed)
    ));
    // After the lock, the right password works and the count starts again.
    let later = t0 + auth::LOCK_FOR + Duration::seconds(1);
    assert_eq!(
        try_at(PASSWORD, later).await.unwrap(),
        Step::Done { staff: id }
    );

    // Fifty in a row (spread out, so every temporary lock has passed) lock it for good.
    let mut at = later;
    for i in 0..auth::HARD_LOCK_AT {
        if i % auth::LOCK_EVERY == 0 {
            at += auth::LOCK_FOR + Duration::seconds(1);
        }
        let _ = try_at("wrong password!!", at).await;
    }
    let much_later = at + Duration::days(30);
    assert!(matches!(
        try_at(PASSWORD, much_later).await,
        Err(AuthError::Failed)
    ));
    auth::unlock(&app.portal.db, id).await.unwrap();
    assert_eq!(
        try_at(PASSWORD, much_later).await.unwrap(),
        Step::Done { staff: id }
    );
}

#[tokio::test]
async fn unknown_addresses_deactivated_staff_and_throttled_clients_get_the_same_refusal() {
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

    // One client address trying many accounts is cut off, whatever it tries.
    let other = staff_with_password(&app, "fine@salon.example", Role::Stylist).await;
    for i in 0..auth::PER_IP.max {
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
        Err(AuthError::Failed)
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
