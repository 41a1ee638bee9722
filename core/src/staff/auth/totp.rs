//! The TOTP second factor: secrets, the otpauth URL, and codes with one step of drift.

#[allow(unused_imports)]
use super::*;

pub(super) fn new_totp_secret() -> Vec<u8> {
    let mut raw = vec![0u8; 20];
    rand::rngs::OsRng
        .try_fill_bytes(&mut raw)
        .expect("the operating system's random number generator");
    raw
}

pub(super) fn totp(secret: Vec<u8>, issuer: &str, account: &str) -> TOTP {
    // ':' is the label separator of otpauth URLs; the salon name must not split it.
    let issuer = issuer.replace(':', " ");
    let account = account.replace(':', " ");
    TOTP::new_unchecked(
        Algorithm::SHA1,
        6,
        1,
        TOTP_STEP_SECS,
        secret,
        Some(issuer),
        account,
    )
}

/// The time step `code` belongs to (now, or one step either side for clock drift), if any.
pub(super) fn matching_step(t: &TOTP, code: &str, now: DateTime<Utc>) -> Option<i64> {
    let code = code.trim();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let current = now.timestamp() / TOTP_STEP_SECS as i64;
    [current - 1, current, current + 1]
        .into_iter()
        .find(|step| {
            let expected = t.generate((*step as u64) * TOTP_STEP_SECS);
            constant_time_eq(expected.as_bytes(), code.as_bytes())
        })
}

pub(super) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Seals a TOTP secret for `staff` the way enrolment stores it (the demo salon uses this).
pub fn seal_totp_secret(vault: &crate::vault::Vault, staff: i64, secret: &[u8]) -> Vec<u8> {
    vault::seal(vault.system_key(), TOTP_SECRET, staff, secret)
}

/// The current TOTP code for a sealed secret; for tests and the demo's printed instructions.
pub fn current_code(secret: &[u8], now: DateTime<Utc>) -> String {
    totp(secret.to_vec(), "x", "x").generate(now.timestamp() as u64)
}
