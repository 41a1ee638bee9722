//! The `portal` command: `serve` (default), `migrate`, `demo-data`, `staff add`, `staff unlock`.

use clap::{Parser, Subcommand};
use portal_core::{Portal, Settings, backup, email::Email, staff};

use crate::{Application, StartError};

/// Salon Privacy Portal.
#[derive(Debug, Parser)]
#[command(name = "portal", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the portal (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Load the demo salon (idempotent): staff of every role, 200 customers, requests.
    DemoData,
    /// Write an encrypted backup: the data (default) or, with --keys, the key store.
    Backup {
        /// Archive to write.
        #[arg(long)]
        out: std::path::PathBuf,
        /// Back up the customer key store instead of the data (keep it apart, short retention).
        #[arg(long)]
        keys: bool,
    },
    /// Load a backup into an empty database (either engine); with --keys, a key-store archive.
    Restore {
        /// Archive to read.
        file: std::path::PathBuf,
        /// The archive is a key-store backup.
        #[arg(long)]
        keys: bool,
    },
    /// Manage the master key.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Manage staff accounts.
    Staff {
        #[command(subcommand)]
        command: StaffCommand,
    },
    /// Check the audit log.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// The consent ledger and the current states derived from it.
    Consents {
        #[command(subcommand)]
        command: ConsentsCommand,
    },
}

#[derive(Debug, Subcommand)]
enum ConsentsCommand {
    /// Compare the stored current states with the ledger; exit 3 if they differ.
    Verify,
    /// Recompute every current state from the ledger.
    Rebuild,
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Recompute the hash chain; name the first broken row, or say the chain is whole.
    Verify,
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Re-wrap every key under a new master key; running servers keep reading throughout.
    Rotate,
}

#[derive(Debug, Subcommand)]
enum StaffCommand {
    /// Add a staff member; prints a one-time initial password.
    Add {
        /// Work email address.
        #[arg(long)]
        email: String,
        /// Display name.
        #[arg(long)]
        name: String,
        /// privacy_officer, front_desk, stylist or marketing.
        #[arg(long)]
        role: String,
    },
    /// Lift the sign-in delays of an account (after checking with the person); audited.
    Unlock {
        /// The account's work email address.
        email: String,
    },
}

/// Exit status for bad configuration or bad arguments.
pub const EXIT_CONFIG: i32 = 2;

/// Runs the command line; returns the process exit status.
pub async fn run(cli: Cli, settings: Settings) -> i32 {
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            let local = demo_allowed(&settings);
            let app = match Application::build(settings).await {
                Ok(app) => app,
                Err(e) => return fail(e),
            };
            // The demo salon's staff passwords are published in the README: never served where
            // anyone else can reach it.
            if !local
                && portal_core::demo::is_loaded(&app.portal().db)
                    .await
                    .unwrap_or(true)
            {
                eprintln!(
                    "configuration error: PORTAL_PUBLIC_URL: this database holds the demo salon (published passwords); serve it only on this machine, or start from a new database"
                );
                return EXIT_CONFIG;
            }
            let s = &app.portal().settings;
            tracing::info!(port = app.port(), public_url = %s.public_url, "portal listening");
            if s.dev_mailbox() {
                println!(
                    "Dev mailbox: {}dev/mailbox (files in {})",
                    s.public_url,
                    portal_core::mail::dev_mailbox_dir(&s.data_dir).display()
                );
            }
            match app.run_until_stopped().await {
                Ok(()) => 0,
                Err(e) => {
                    eprintln!("server error: {e}");
                    1
                }
            }
        }
        Command::Migrate => match open(settings).await {
            Ok(p) => {
                let applied = portal_core::db::applied_migrations(&p.db)
                    .await
                    .unwrap_or_default();
                println!(
                    "database is up to date ({} migrations applied)",
                    applied.len()
                );
                0
            }
            Err(code) => code,
        },
        Command::DemoData if !demo_allowed(&settings) => {
            eprintln!(
                "configuration error: PORTAL_PUBLIC_URL: demo-data loads made-up customers and published staff passwords, so only into a portal on this machine (http://127.0.0.1, [::1] or localhost)"
            );
            EXIT_CONFIG
        }
        Command::DemoData => match open(settings).await {
            Ok(p) => match portal_core::demo::load(&p).await {
                Ok(portal_core::demo::Loaded::Now(n)) => {
                    println!("demo salon loaded: {n} customers");
                    println!("demo staff (sign in at /staff/signin; demo data only):");
                    for d in portal_core::demo::DEMO_STAFF {
                        println!(
                            "  {:<28} {:<16} password: {:<26} TOTP secret: {}",
                            d.email,
                            d.role.as_str(),
                            d.password,
                            d.totp_base32.unwrap_or("-")
                        );
                    }
                    0
                }
                Ok(portal_core::demo::Loaded::Already) => {
                    println!("demo salon already loaded; nothing changed");
                    0
                }
                Err(portal_core::CoreError::Refused(portal_core::Refusal::Setup(
                    portal_core::error::SetupRefusal::DemoNotEmpty,
                ))) => {
                    eprintln!(
                        "demo-data refused: this database already holds customers or staff; the demo salon goes only into a new database"
                    );
                    EXIT_CONFIG
                }
                Err(e) => {
                    eprintln!("demo-data failed: {e}");
                    1
                }
            },
            Err(code) => code,
        },
        Command::Keys {
            command: KeysCommand::Rotate,
        } => match open(settings).await {
            Ok(p) => match p.vault.rotate(&p.db).await {
                Ok(n) => {
                    println!(
                        "master key rotated: {n} keys re-wrapped; the old key is in master.key.previous"
                    );
                    println!(
                        "keep it until every server has restarted and old backups have expired"
                    );
                    0
                }
                Err(portal_core::CoreError::Refused(portal_core::Refusal::Setup(
                    portal_core::error::SetupRefusal::RotateNeedsKeyFile,
                ))) => {
                    eprintln!(
                        "error: PORTAL_MASTER_KEY is set; rotation works on the key file in PORTAL_DATA_DIR"
                    );
                    EXIT_CONFIG
                }
                Err(e) => {
                    eprintln!("rotation stopped: {e}; run it again to finish (it resumes)");
                    1
                }
            },
            Err(code) => code,
        },
        Command::Backup { out, keys } => match open(settings).await {
            Ok(p) => {
                let started = std::time::Instant::now();
                let done = backup::backup(&p, scope(keys), &out).await;
                report(
                    done.map_err(|e| format!("backup failed: {e}")),
                    "backup written",
                    started,
                )
            }
            Err(code) => code,
        },
        Command::Restore { file, keys } => match open(settings).await {
            Ok(p) => {
                let started = std::time::Instant::now();
                let done = backup::restore(&p, scope(keys), &file).await;
                report(
                    done.map_err(|e| format!("restore refused: {e}; nothing was changed")),
                    "restored",
                    started,
                )
            }
            Err(code) => code,
        },
        Command::Consents { command } => match open(settings).await {
            Ok(p) => match command {
                ConsentsCommand::Verify => match portal_core::consents::verify(&p.db).await {
                    Ok(diff) if diff.is_empty() => {
                        println!("consent states agree with the ledger");
                        0
                    }
                    Ok(diff) => {
                        println!(
                            "consent states differ from the ledger for {} customer/purpose pairs; run `portal consents rebuild`",
                            diff.len()
                        );
                        EXIT_AUDIT_BROKEN
                    }
                    Err(e) => {
                        eprintln!("consents verify failed: {e}");
                        1
                    }
                },
                ConsentsCommand::Rebuild => match portal_core::consents::rebuild(&p.db).await {
                    Ok(n) => {
                        println!("consent states rebuilt from the ledger: {n}");
                        0
                    }
                    Err(e) => {
                        eprintln!("consents rebuild failed: {e}; nothing was changed");
                        1
                    }
                },
            },
            Err(code) => code,
        },
        Command::Audit {
            command: AuditCommand::Verify,
        } => match open(settings).await {
            Ok(p) => match portal_core::audit::verify(&p.db).await {
                Ok(portal_core::audit::Verdict::Whole { rows }) => {
                    println!("audit chain whole: {rows} rows");
                    0
                }
                Ok(portal_core::audit::Verdict::Broken { id }) => {
                    println!("audit chain broken at row {id}");
                    EXIT_AUDIT_BROKEN
                }
                Err(e) => {
                    eprintln!("audit verify failed: {e}");
                    1
                }
            },
            Err(code) => code,
        },
        Command::Staff {
            command: StaffCommand::Unlock { email },
        } => {
            let Ok(email) = Email::parse(&email) else {
                eprintln!("error: EMAIL: not a valid email address");
                return EXIT_CONFIG;
            };
            let p = match open(settings).await {
                Ok(p) => p,
                Err(code) => return code,
            };
            match unlock(&p, &email).await {
                Ok(id) => {
                    println!("staff member {id} unlocked: their sign-in delays are lifted");
                    0
                }
                Err(portal_core::CoreError::NotFound) => {
                    eprintln!("error: EMAIL: no staff member has this address");
                    EXIT_CONFIG
                }
                Err(e) => {
                    eprintln!("staff unlock failed: {e}; nothing was changed");
                    1
                }
            }
        }
        Command::Staff {
            command: StaffCommand::Add { email, name, role },
        } => {
            let parsed = (
                Email::parse(&email).map_err(|_| "--email: not a valid email address"),
                staff::StaffName::parse(&name).map_err(|_| "--name: 1 to 100 printable characters"),
                role.parse::<staff::Role>()
                    .map_err(|_| "--role: one of privacy_officer, front_desk, stylist, marketing"),
            );
            let (email, name, role) = match parsed {
                (Ok(e), Ok(n), Ok(r)) => (e, n, r),
                (Err(m), _, _) | (_, Err(m), _) | (_, _, Err(m)) => {
                    eprintln!("error: {m}");
                    return EXIT_CONFIG;
                }
            };
            let p = match open(settings).await {
                Ok(p) => p,
                Err(code) => return code,
            };
            match staff::add(&p.db, &email, &name, role).await {
                Ok(new) => {
                    println!("staff member {} added as {role}", new.id);
                    println!("initial password (shown once): {}", new.initial_password);
                    0
                }
                Err(portal_core::CoreError::Refused(portal_core::Refusal::Staff(
                    portal_core::staff::Refusal::Exists,
                ))) => {
                    eprintln!("error: --email: a staff member with this address exists already");
                    EXIT_CONFIG
                }
                Err(e) => {
                    eprintln!("staff add failed: {e}");
                    1
                }
            }
        }
    }
}

/// Unlocks `email`; the audit row names the portal's own operator.
async fn unlock(p: &Portal, email: &Email) -> Result<i64, portal_core::CoreError> {
    let actor = portal_core::audit::Actor::System;
    staff::auth::unlock_by_email(p, email, actor, chrono::Utc::now()).await
}

/// Exit status when `audit verify` finds a broken chain.
pub const EXIT_AUDIT_BROKEN: i32 = 3;

fn scope(keys: bool) -> backup::Scope {
    if keys {
        backup::Scope::Keys
    } else {
        backup::Scope::Data
    }
}

/// Prints the outcome of a backup or restore; returns the exit status.
fn report(done: Result<usize, String>, what: &str, started: std::time::Instant) -> i32 {
    match done {
        Ok(rows) => {
            println!(
                "{what}: {rows} rows in {} ms",
                started.elapsed().as_millis()
            );
            0
        }
        Err(message) => {
            eprintln!("{message}");
            1
        }
    }
}

async fn open(settings: Settings) -> Result<Portal, i32> {
    if let Some(parent) = crate::sqlite_parent(&settings.database_url)
        && let Err(e) = portal_core::db::create_private_dir(parent)
    {
        return Err(fail(StartError::Database(format!(
            "cannot create {}: {e}",
            parent.display()
        ))));
    }
    Portal::open(settings)
        .await
        .map_err(|e| fail(StartError::from_core(e)))
}

/// The demo salon (published passwords and TOTP secrets) may go only into a portal that nobody
/// else can reach.
fn demo_allowed(settings: &Settings) -> bool {
    settings.public_url.scheme() == "http" && portal_core::config::is_loopback(&settings.public_url)
}

fn fail(e: StartError) -> i32 {
    eprintln!("{e}");
    EXIT_CONFIG
}
