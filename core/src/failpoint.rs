//! Crash points for tests: with `PORTAL_FAILPOINT=name[,name…]` set, a debug build aborts the
//! process where [`hit`] names that point, as `kill -9` would (no destructor runs, nothing is
//! flushed or released). Release builds compile the check out, so a production setting can
//! never crash a replica.

/// Aborts the process here when a test armed `name` (debug builds only).
pub fn hit(name: &str) {
    #[cfg(debug_assertions)]
    {
        static ARMED: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
        let armed = ARMED.get_or_init(|| {
            std::env::var("PORTAL_FAILPOINT")
                .map(|v| v.split(',').map(|s| s.trim().to_owned()).collect())
                .unwrap_or_default()
        });
        if armed.iter().any(|a| a == name) {
            eprintln!("failpoint {name}: aborting the process");
            std::process::abort();
        }
    }
    #[cfg(not(debug_assertions))]
    let _ = name;
}
