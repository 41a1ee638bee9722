//! The `portal` binary: bad configuration fails fast with one line, commands do their job.

use std::process::Command;

fn portal() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_portal"));
    for var in [
        "DATABASE_URL",
        "PORTAL_PUBLIC_URL",
        "PORTAL_SMTP_URL",
        "PORTAL_DEV_MAILBOX",
        "PORTAL_MAIL_FROM",
        "PORTAL_DATA_DIR",
        "LEPTOS_SITE_ADDR",
        "PORTAL_CONFIG",
        "PORTAL_LOG_FORMAT",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

/// Runs `cmd` (a `portal serve` expected to refuse) for at most 20 s: a portal that starts
/// would serve for ever, which fails the test instead of hanging it.
fn refused(mut cmd: Command, what: &str) -> std::process::Output {
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("{what}: the portal started instead of refusing");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

#[test]
fn bad_configuration_prints_one_line_naming_the_setting_and_exits_2_before_listening() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    for (k, v) in [
        ("PORTAL_PUBLIC_URL", "ftp://salon.example"),
        ("DATABASE_URL", "mysql://nope"),
        ("PORTAL_SMTP_URL", "http://mail.example"),
        ("PORTAL_MAIL_FROM", "not an address"),
        ("LEPTOS_SITE_ADDR", "not-an-address"),
    ] {
        let out = portal()
            .arg("serve")
            .env("PORTAL_DATA_DIR", dir.path())
            .env("LEPTOS_SITE_ADDR", format!("127.0.0.1:{port}"))
            .env(k, v)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{k}");
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(stderr.lines().count(), 1, "{k}: {stderr}");
        assert!(
            stderr.starts_with(&format!("configuration error: {k}: ")),
            "{stderr}"
        );
        assert!(
            std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
            "nothing listens"
        );
    }
}

#[test]
fn without_smtp_the_portal_does_not_start_and_the_dev_mailbox_is_refused_on_a_public_address() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    for (setting, env) in [
        // An unset SMTP setting used to publish every sign-in link at /dev/mailbox.
        ("PORTAL_SMTP_URL", vec![]),
        (
            "PORTAL_DEV_MAILBOX",
            vec![
                ("PORTAL_DEV_MAILBOX", "1"),
                ("PORTAL_PUBLIC_URL", "https://salon.example"),
            ],
        ),
        (
            "PORTAL_DEV_MAILBOX",
            vec![
                ("PORTAL_DEV_MAILBOX", "1"),
                ("PORTAL_PUBLIC_URL", "http://salon.example"),
            ],
        ),
        (
            "PORTAL_DEV_MAILBOX",
            vec![
                ("PORTAL_DEV_MAILBOX", "1"),
                ("PORTAL_PUBLIC_URL", "https://127.0.0.1:3000"),
            ],
        ),
    ] {
        let mut cmd = portal();
        cmd.arg("serve")
            .env("PORTAL_DATA_DIR", dir.path())
            .env("LEPTOS_SITE_ADDR", format!("127.0.0.1:{port}"))
            .envs(env.iter().copied());
        let out = refused(cmd, &format!("{env:?}"));
        assert_eq!(out.status.code(), Some(2), "{env:?}");
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(stderr.lines().count(), 1, "{env:?}: {stderr}");
        assert!(
            stderr.starts_with(&format!("configuration error: {setting}: ")),
            "{env:?}: {stderr}"
        );
        assert!(
            std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
            "nothing listens"
        );
    }
}

#[test]
fn staff_add_creates_an_account_once_and_refuses_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        portal()
            .env("PORTAL_DATA_DIR", dir.path())
            .args(args)
            .output()
            .unwrap()
    };
    let ok = run(&[
        "staff",
        "add",
        "--email",
        "officer@salon.example",
        "--name",
        "周店长",
        "--role",
        "privacy_officer",
    ]);
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let stdout = String::from_utf8(ok.stdout).unwrap();
    assert!(stdout.contains("added as privacy_officer"));
    let password = stdout
        .lines()
        .find_map(|l| l.strip_prefix("initial password (shown once): "))
        .unwrap();
    assert_eq!(password.len(), 20);

    let again = run(&[
        "staff",
        "add",
        "--email",
        "OFFICER@salon.example",
        "--name",
        "x",
        "--role",
        "stylist",
    ]);
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("--email"));
    let bad_role = run(&[
        "staff",
        "add",
        "--email",
        "a@salon.example",
        "--name",
        "A",
        "--role",
        "admin",
    ]);
    assert_eq!(bad_role.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad_role.stderr).contains("--role"));
    let bad_email = run(&[
        "staff",
        "add",
        "--email",
        "a@b\r\nBcc: x@y.z",
        "--name",
        "A",
        "--role",
        "stylist",
    ]);
    assert_eq!(bad_email.status.code(), Some(2));
}

#[test]
fn migrate_and_demo_data_are_idempotent_commands() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        portal()
            .env("PORTAL_DATA_DIR", dir.path())
            .args(args)
            .output()
            .unwrap()
    };
    for _ in 0..2 {
        let out = run(&["migrate"]);
        assert_eq!(out.status.code(), Some(0));
        assert!(String::from_utf8_lossy(&out.stdout).contains("up to date"));
    }
    let first = run(&["demo-data"]);
    assert_eq!(
        first.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert!(String::from_utf8_lossy(&first.stdout).contains("200 customers"));
    let second = run(&["demo-data"]);
    assert!(String::from_utf8_lossy(&second.stdout).contains("nothing changed"));
}

#[test]
fn backup_and_restore_commands_move_a_salon_and_refuse_a_damaged_archive() {
    let (a, b, files) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    let in_a = |args: &[&str]| {
        portal()
            .env("PORTAL_DATA_DIR", a.path())
            .args(args)
            .output()
            .unwrap()
    };
    assert_eq!(in_a(&["demo-data"]).status.code(), Some(0));
    let data = files.path().join("data.bak");
    let keys = files.path().join("keys.bak");
    let out = in_a(&["backup", "--out", data.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("backup written: "));
    assert_eq!(
        in_a(&["backup", "--keys", "--out", keys.to_str().unwrap()])
            .status
            .code(),
        Some(0)
    );

    let master = std::fs::read_to_string(a.path().join(portal_core::vault::KEY_FILE)).unwrap();
    let in_b = |args: &[&str]| {
        portal()
            .env("PORTAL_DATA_DIR", b.path())
            .env("PORTAL_MASTER_KEY", master.trim())
            .args(args)
            .output()
            .unwrap()
    };
    let mut damaged = std::fs::read(&data).unwrap();
    damaged.truncate(damaged.len() - 10);
    let bad = files.path().join("bad.bak");
    std::fs::write(&bad, damaged).unwrap();
    let refused = in_b(&["restore", bad.to_str().unwrap()]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("nothing was changed"));

    let restored = in_b(&["restore", data.to_str().unwrap()]);
    assert_eq!(
        restored.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&restored.stderr)
    );
    assert!(String::from_utf8_lossy(&restored.stdout).starts_with("restored: 3"));
    assert_eq!(
        in_b(&["restore", "--keys", keys.to_str().unwrap()])
            .status
            .code(),
        Some(0)
    );
    let rotated = in_a(&["keys", "rotate"]);
    assert_eq!(rotated.status.code(), Some(0));
    assert!(
        a.path()
            .join(portal_core::vault::PREVIOUS_KEY_FILE)
            .exists()
    );
}

#[test]
fn demo_data_refuses_a_public_address_and_a_database_with_real_records() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str], env: &[(&str, &str)]| {
        portal()
            .env("PORTAL_DATA_DIR", dir.path())
            .envs(env.iter().copied())
            .args(args)
            .output()
            .unwrap()
    };
    for url in ["https://salon.example", "http://192.168.1.20:3000"] {
        let out = run(&["demo-data"], &[("PORTAL_PUBLIC_URL", url)]);
        assert_eq!(out.status.code(), Some(2), "{url}");
        assert!(
            String::from_utf8_lossy(&out.stderr)
                .starts_with("configuration error: PORTAL_PUBLIC_URL: ")
        );
    }
    let added = run(
        &[
            "staff",
            "add",
            "--email",
            "real.officer@salon.example",
            "--name",
            "周店长",
            "--role",
            "privacy_officer",
        ],
        &[],
    );
    assert_eq!(added.status.code(), Some(0));
    let out = run(&["demo-data"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("already holds customers or staff"));
    let listed = run(&["demo-data"], &[]);
    assert!(
        !String::from_utf8_lossy(&listed.stdout).contains("peony lantern"),
        "no demo password was published into a real salon"
    );
}

#[cfg(unix)]
#[test]
fn the_data_directory_and_the_sqlite_file_are_the_portals_own() {
    use std::os::unix::fs::PermissionsExt;
    let parent = tempfile::tempdir().unwrap();
    let data = parent.path().join("data");
    let out = portal()
        .env("PORTAL_DATA_DIR", &data)
        .arg("migrate")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&data), 0o700, "data directory");
    assert_eq!(mode(&data.join("portal.db")), 0o600, "SQLite file");
}

#[test]
fn staff_unlock_lifts_an_accounts_sign_in_delay_and_refuses_an_unknown_address() {
    use portal_core::staff::auth::{self, AuthError, Step};
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        portal()
            .env("PORTAL_DATA_DIR", dir.path())
            .args(args)
            .output()
            .unwrap()
    };
    let added = run(&[
        "staff",
        "add",
        "--email",
        "desk@salon.example",
        "--name",
        "前台",
        "--role",
        "front_desk",
    ]);
    assert_eq!(added.status.code(), Some(0));
    let stdout = String::from_utf8(added.stdout).unwrap();
    let password = stdout
        .lines()
        .find_map(|l| l.strip_prefix("initial password (shown once): "))
        .unwrap()
        .to_owned();
    // The same database as the binary's, opened in this process to sign in.
    let env: std::collections::HashMap<String, String> = [(
        "PORTAL_DATA_DIR".to_owned(),
        dir.path().display().to_string(),
    )]
    .into();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let attempt = |password: String| {
        let env = env.clone();
        rt.block_on(async move {
            let settings = portal_core::Settings::from_sources(&env).unwrap();
            let p = portal_core::Portal::open(settings).await.unwrap();
            auth::sign_in_password(
                &p,
                "desk@salon.example",
                &password,
                "192.0.2.7",
                chrono::Utc::now(),
            )
            .await
        })
    };
    for _ in 0..auth::FREE_FAILURES {
        assert!(matches!(
            attempt("wrong password!!".into()),
            Err(AuthError::Failed)
        ));
    }
    assert!(matches!(attempt(password.clone()), Err(AuthError::Delayed)));

    let unknown = run(&["staff", "unlock", "nobody@salon.example"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no staff member"));
    let bad = run(&["staff", "unlock", "not an address"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(matches!(attempt(password.clone()), Err(AuthError::Delayed)));

    let out = run(&["staff", "unlock", "DESK@salon.example"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("unlocked"));
    assert!(matches!(attempt(password), Ok(Step::Done { .. })));
    let audited = run(&["audit", "verify"]);
    assert_eq!(audited.status.code(), Some(0));
}

#[test]
fn a_database_with_the_demo_salon_is_never_served_on_a_public_address() {
    let dir = tempfile::tempdir().unwrap();
    let loaded = portal()
        .env("PORTAL_DATA_DIR", dir.path())
        .arg("demo-data")
        .output()
        .unwrap();
    assert_eq!(loaded.status.code(), Some(0));
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut cmd = portal();
    cmd.arg("serve")
        .env("PORTAL_DATA_DIR", dir.path())
        .env("LEPTOS_SITE_ADDR", format!("127.0.0.1:{port}"))
        .env("PORTAL_PUBLIC_URL", "https://salon.example")
        .env("PORTAL_SMTP_URL", "smtp://127.0.0.1:9");
    let out = refused(cmd, "the demo salon on a public address");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).starts_with(
            "configuration error: PORTAL_PUBLIC_URL: this database holds the demo salon"
        )
    );
}
