//! Tests that need the process to themselves, one at a time ([`alone`]), in a binary cargo
//! runs after the others: enumeration by timing (each outcome as fast for an unknown address as
//! for a known one), and the staff sign-in rules, which count and bound the process-wide
//! password hashing (a second portal's sign-ins in the same process would be counted too).

#[path = "../blackbox/support/mod.rs"]
mod support;

mod signin;
mod staff_signin;
mod staff_signin_rules;

/// Held for the whole of each test here: no two run at once.
pub async fn alone() -> tokio::sync::MutexGuard<'static, ()> {
    static ALONE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    ALONE.lock().await
}
