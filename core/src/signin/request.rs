//! Asking for a sign-in link: the same answer for every address, mail only for one on record.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use rand::TryRngCore;
use sea_orm::{
    ConnectionTrait,
    sea_query::{Expr, ExprTrait, Query},
};
use sha2::{Digest, Sha256};

use super::{CodeOutcome, Purpose, issue, spend_code, throttle};
use crate::{
    CoreError, Portal, customers,
    email::{Email, EmailError},
};

/// What the asking browser keeps (in a cookie) so a code typed there finds its token. Every
/// request gets one, whether or not the address is on record.
pub struct Pending {
    /// 256 random bits, URL-safe.
    pub handle: String,
}

/// Why a request was not taken: only input the visitor can correct.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    /// Not an email address (message key for the i18n layer).
    #[error(transparent)]
    Email(#[from] EmailError),
    /// Anything else (logged, shown as a generic error).
    #[error(transparent)]
    Core(#[from] CoreError),
}

fn browser_hash(handle: &str) -> Vec<u8> {
    Sha256::digest(handle.as_bytes()).to_vec()
}

/// Takes a request for a sign-in link. Known, unknown and erased addresses, and throttled
/// requests, all get the same `Pending` after the same work (parse, two throttle hits); the
/// lookup, the token and the queued mail happen after the answer, in a task of their own, so
/// neither the body nor the timing tells whether the address is on record (ASVS v5 6.3.8).
pub async fn request_link(
    portal: &Portal,
    email_input: &str,
    client_ip: &str,
    now: DateTime<Utc>,
) -> Result<Pending, RequestError> {
    let email = Email::parse(email_input)?;
    let mut raw = [0u8; 32];
    rand::rngs::OsRng
        .try_fill_bytes(&mut raw)
        .expect("the operating system's random number generator");
    let pending = Pending {
        handle: URL_SAFE_NO_PAD.encode(raw),
    };
    let vault = &portal.vault;
    // The client first: a client over its limit adds no row for every address it makes up.
    let (by_ip, by_address) = throttle::hit_in_turn(
        portal,
        (
            &vault.index("throttle/ip", client_ip),
            throttle::Limit {
                max: portal.settings.signin_per_ip_per_hour,
                ..throttle::PER_IP
            },
        ),
        (
            &vault.index("throttle/email", email.as_str()),
            throttle::PER_ADDRESS,
        ),
        now,
    )
    .await?;
    if !(by_address && by_ip) {
        crate::ops::refused(if by_ip {
            crate::ops::Throttle::SigninPerAddress
        } else {
            crate::ops::Throttle::SigninPerIp
        });
        tracing::info!("sign-in request throttled");
        return Ok(pending);
    }
    let portal = portal.clone();
    let browser = browser_hash(&pending.handle);
    // Lost only if the process dies in the next milliseconds; the customer then asks again.
    tokio::spawn(async move {
        if let Err(e) = deliver_link(&portal, email, browser, now).await {
            tracing::error!(error = %e, "sign-in mail not queued");
        }
    });
    Ok(pending)
}

/// For an address on record: a new token bound to the asking browser, and its mail, queued in
/// one transaction. Nothing for any other address.
async fn deliver_link(
    portal: &Portal,
    email: Email,
    browser: Vec<u8>,
    now: DateTime<Utc>,
) -> Result<(), CoreError> {
    let (db, vault) = (&portal.db, &portal.vault);
    let address = vault.index(ADDRESS_INDEX, email.as_str());
    let Some(customer) = customers::find_by_email(db, vault, &email).await? else {
        // Two statements whose only failures are the database's: no savepoint needed.
        return portal
            .writer
            .write_plain(Box::new(move |tx| {
                Box::pin(async move { decoy(tx, browser, address, now).await })
            }))
            .await;
    };
    let lang_row = db
        .query_one(
            &Query::select()
                .column("preferred_language")
                .from("customers")
                .and_where(Expr::col("id").eq(customer))
                .to_owned(),
        )
        .await?;
    let language: String = match lang_row {
        Some(r) => r.try_get("", "preferred_language")?,
        None => "zh".into(),
    };
    // Through the group commit: a burst of sign-ins shares one sync of the log (SQLite).
    let p = portal.clone();
    portal
        .writer
        .write(Box::new(move |tx| {
            Box::pin(async move {
                let issued = issue(tx, &p.vault, customer, Purpose::SignIn, now).await?;
                let mark = Query::update()
                    .table("one_time_tokens")
                    .value("browser_hash", browser)
                    .value("address_index", address)
                    .and_where(Expr::col("id").eq(issued.id))
                    .to_owned();
                tx.execute(&mark).await?;
                let mail = crate::mail::sign_in_mail(
                    email,
                    portal_vocab::Lang::from_tag(&language).unwrap_or_default(),
                    &p.settings.salon_name,
                    &p.settings.public_url,
                    &issued.token,
                    &issued.code,
                );
                p.enqueue_mail(tx, Some(customer), "sign_in", &mail).await?;
                Ok(())
            })
        }))
        .await?;
    portal.outbox.notify();
    Ok(())
}

/// For an address not on record (or erased): a token row bound to the asking browser that no
/// code opens and no link names, so the code step answers exactly as for a customer's wrong
/// code (same redirect, same tries, same work) and tells nobody who is a customer.
async fn decoy(
    db: &impl ConnectionTrait,
    browser: Vec<u8>,
    address: Vec<u8>,
    now: DateTime<Utc>,
) -> Result<(), CoreError> {
    let mut token_hash = [0u8; 32];
    let mut code_mac = [0u8; 32];
    for bytes in [&mut token_hash, &mut code_mac] {
        rand::rngs::OsRng
            .try_fill_bytes(bytes)
            .expect("the operating system's random number generator");
    }
    // As a real request kills the customer's older links, a new decoy kills the older decoys
    // of the address: a browser holding an older one sees what it would see for a customer.
    let kill = Query::update()
        .table("one_time_tokens")
        .value("expires_at", now)
        .and_where(Expr::col("address_index").eq(address.clone()))
        .and_where(Expr::col("purpose").eq(Purpose::SignIn.as_str()))
        .and_where(Expr::col("used_at").is_null())
        .and_where(Expr::col("expires_at").gt(now))
        .to_owned();
    db.execute(&kill).await?;
    let insert = Query::insert()
        .into_table("one_time_tokens")
        .columns([
            "purpose",
            "token_hash",
            "code_mac",
            "browser_hash",
            "address_index",
            "failed_attempts",
            "created_at",
            "expires_at",
        ])
        .values_panic([
            Purpose::SignIn.as_str().into(),
            token_hash.to_vec().into(),
            code_mac.to_vec().into(),
            browser.into(),
            address.into(),
            0i32.into(),
            now.into(),
            (now + Purpose::SignIn.lifetime()).into(),
        ])
        .to_owned();
    db.execute(&insert).await?;
    Ok(())
}

/// The keyed hash that names an address on sign-in tokens (the per-address throttle's).
const ADDRESS_INDEX: &str = "throttle/email";

/// Wrong codes allowed per address per day, across all its tokens: each token burns after 5,
/// and a new one needs a new mail, so without this cap a patient guesser would get 5 tries per
/// mail the address throttle lets through (NIST 800-63B 5.2.2).
pub const MAX_WRONG_CODES_PER_DAY: i64 = 20;

/// Checks a code typed into the browser that holds `handle`. Once the address the token was
/// asked for has had [`MAX_WRONG_CODES_PER_DAY`] wrong codes, no code is checked for it until
/// the day has passed (the mailed link keeps working); decoy tokens of unknown addresses count
/// the same way, so the cap tells nobody who is a customer.
pub async fn spend_code_for(
    portal: &Portal,
    handle: &str,
    code: &str,
    now: DateTime<Utc>,
) -> Result<CodeOutcome, CoreError> {
    let q = Query::select()
        .columns(["id", "address_index"])
        .from("one_time_tokens")
        .and_where(Expr::col("browser_hash").eq(browser_hash(handle)))
        .and_where(Expr::col("purpose").eq(Purpose::SignIn.as_str()))
        .order_by("id", sea_orm::sea_query::Order::Desc)
        .limit(1)
        .to_owned();
    let Some(row) = portal.db.query_one(&q).await? else {
        // No token for this browser (yet: the mail is made after the answer, and takes longer
        // for a customer than a decoy does): answered as a wrong code, so a quick guess tells
        // nothing either.
        return Ok(CodeOutcome::Wrong { tries_left: 0 });
    };
    let id: i64 = row.try_get("", "id")?;
    if let Some(address) = row.try_get::<Option<Vec<u8>>>("", "address_index")? {
        let wrong = Query::select()
            .expr_as(Expr::col("failed_attempts").sum(), "n")
            .from("one_time_tokens")
            .and_where(Expr::col("address_index").eq(address))
            .and_where(Expr::col("purpose").eq(Purpose::SignIn.as_str()))
            .and_where(Expr::col("created_at").gt(now - chrono::Duration::days(1)))
            .to_owned();
        // SUM of an integer column is a 64-bit integer on both engines (NULL over no rows).
        let n: i64 = match portal.db.query_one(&wrong).await? {
            Some(r) => r.try_get::<Option<i64>>("", "n")?.unwrap_or(0),
            None => 0,
        };
        if n >= MAX_WRONG_CODES_PER_DAY {
            // Anyone who knows the address can spend these tries; the link in the mail still
            // works, so the customer is sent there rather than locked out.
            return Ok(CodeOutcome::UseLink);
        }
    }
    spend_code(&portal.db, &portal.vault, id, code, Purpose::SignIn, now).await
}
