//! New passwords and their checks, and Argon2id verification on a small pool of hashing
//! threads, so a burst of sign-ins cannot take the runtime's threads (security.md, "Staff").

#[allow(unused_imports)]
use super::*;

/// Why a new password is refused (message keys for the page).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PasswordProblem {
    /// Fewer than 12 characters.
    #[error("too short")]
    TooShort,
    /// More than 128 characters.
    #[error("too long")]
    TooLong,
    /// On a common-password list, a dictionary word, or built from the person's own details.
    #[error("too easy to guess")]
    TooCommon,
}

/// NIST 800-63B 5.1.1.2: length, and no common, dictionary or context-derived passwords (no
/// composition rules). `personal` holds the person's own name and address, `site` words such as
/// the salon's name.
pub fn check_new_password(
    password: &str,
    personal: &[&str],
    site: &[&str],
) -> Result<(), PasswordProblem> {
    let n = password.chars().count();
    if n < MIN_PASSWORD_CHARS {
        return Err(PasswordProblem::TooShort);
    }
    if n > MAX_PASSWORD_CHARS {
        return Err(PasswordProblem::TooLong);
    }
    // Each context value whole, in pieces ("wang", "fang", "salon") and with its separators
    // removed ("wangfang"), so a password built from a name or address is caught.
    let mut words: Vec<String> = ["salon", "privacy", "portal", "password"]
        .map(String::from)
        .to_vec();
    for c in personal {
        let lower = c.to_lowercase();
        let local = lower.split('@').next().unwrap_or_default();
        words.extend(
            lower
                .split(|ch: char| !ch.is_alphanumeric())
                .filter(|w| w.chars().count() >= 3)
                .map(String::from),
        );
        words.push(local.chars().filter(|ch| ch.is_alphanumeric()).collect());
        words.push(lower);
    }
    // The person's own name or address inside the password, however decorated, is refused
    // outright: it is the first thing a colleague or an attacker who knows them would try.
    let squashed: String = password
        .to_lowercase()
        .chars()
        .filter(|ch| ch.is_alphanumeric())
        .collect();
    let personal = words[4..].iter().any(|w| {
        w.chars().count() >= 4
            && w.chars().all(char::is_alphanumeric)
            && squashed.contains(w.as_str())
    });
    let mut words: Vec<&str> = words.iter().map(String::as_str).collect();
    words.extend(site);
    if personal || zxcvbn::zxcvbn(password, &words).score() < zxcvbn::Score::Three {
        return Err(PasswordProblem::TooCommon);
    }
    Ok(())
}

/// A hash to verify against when the address is unknown, so both paths cost one Argon2 run.
/// Made on a hashing thread (the first call hashes).
pub(super) fn decoy_hash() -> &'static str {
    static DECOY: OnceLock<String> = OnceLock::new();
    DECOY.get_or_init(|| hash_password("decoy password that matches nothing"))
}

/// Bounds the Argon2 runs of this process (19 MiB and two passes each): without it, 200
/// parallel bad sign-ins took the portal to 3.9 GiB. A static because a process serves one
/// portal; the permit travels into the hashing job, so a client that hangs up mid-hash
/// cannot free it early.
pub(super) static HASHING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(HASH_PERMITS);

/// Password verifications run by this process so far (for tests and metrics).
pub(super) static VERIFICATIONS: AtomicU64 = AtomicU64::new(0);

/// How many password verifications this process has run (tests count the work an attack got).
pub fn verifications() -> u64 {
    VERIFICATIONS.load(Ordering::SeqCst)
}

/// Waits a short while for a hashing permit; `None` means "try again shortly".
pub(super) async fn hashing_permit() -> Option<tokio::sync::SemaphorePermit<'static>> {
    tokio::time::timeout(HASH_WAIT, HASHING.acquire())
        .await
        .ok()
        .and_then(Result::ok)
}

pub(super) type HashJob = Box<dyn FnOnce() + Send>;

/// Runs `job` on one of [`HASH_PERMITS`] long-lived hashing threads. Not on tokio's blocking
/// pool: each of its many threads would keep a 19 MiB Argon2 block in its own malloc arena
/// after the hash (measured: 623 MiB resident after 200 parallel attempts with two permits);
/// the same few threads reuse the same few blocks.
pub(super) async fn on_hasher<T: Send + 'static>(
    job: impl FnOnce() -> T + Send + 'static,
) -> Option<T> {
    static QUEUE: OnceLock<std::sync::mpsc::Sender<HashJob>> = OnceLock::new();
    let queue = QUEUE.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel::<HashJob>();
        let rx = std::sync::Arc::new(std::sync::Mutex::new(rx));
        for i in 0..HASH_PERMITS {
            let rx = rx.clone();
            let started = std::thread::Builder::new()
                .name(format!("argon2-{i}"))
                .spawn(move || {
                    loop {
                        // The lock is held only while waiting, not while hashing.
                        let next = match rx.lock() {
                            Ok(r) => r.recv(),
                            Err(_) => return,
                        };
                        let Ok(job) = next else { return };
                        // A panic loses one answer (the caller sees `None`), not a thread.
                        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                    }
                });
            if let Err(e) = started {
                tracing::error!(error = %e, "a password hashing thread did not start");
            }
        }
        tx
    });
    let (tx, rx) = tokio::sync::oneshot::channel();
    queue
        .send(Box::new(move || {
            let _ = tx.send(job());
        }))
        .ok()?;
    rx.await.ok()
}

/// Verifies `password` against `hash` (the decoy when `None`) on a hashing thread, holding
/// `permit` until the hash is done.
pub(super) async fn verify_password(
    permit: tokio::sync::SemaphorePermit<'static>,
    hash: Option<String>,
    password: String,
) -> bool {
    on_hasher(move || {
        let _permit = permit;
        VERIFICATIONS.fetch_add(1, Ordering::SeqCst);
        let hash = hash.as_deref().unwrap_or_else(|| decoy_hash());
        verify_in_place(hash, password.as_bytes())
    })
    .await
    .unwrap_or(false)
}

/// The most Argon2 memory a stored hash may ask for (KiB); ours ask for 19456.
pub(super) const MAX_M_COST: u32 = 65_536;

/// `PasswordVerifier::verify_password`, but with the Argon2 blocks (19 MiB) kept per hashing
/// thread and reused: a fresh allocation per attempt is kept by the allocator anyway (measured:
/// resident memory grew 19 MiB with each of the first 18 sequential verifications).
pub(super) fn verify_in_place(hash: &str, password: &[u8]) -> bool {
    thread_local! {
        static BLOCKS: std::cell::RefCell<Vec<argon2::Block>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    let Ok(h) = PasswordHash::new(hash) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (h.salt, h.hash) else {
        return false;
    };
    let (Ok(algorithm), Ok(params)) = (
        argon2::Algorithm::try_from(h.algorithm),
        argon2::Params::try_from(&h),
    ) else {
        return false;
    };
    let version = match h.version.map(argon2::Version::try_from).transpose() {
        Ok(v) => v.unwrap_or_default(),
        Err(_) => return false,
    };
    if params.m_cost() > MAX_M_COST {
        return false;
    }
    let mut salt_buf = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_buf) else {
        return false;
    };
    let mut out = vec![0u8; expected.len()];
    let argon = argon2::Argon2::new(algorithm, version, params.clone());
    let done = BLOCKS.with(|b| {
        let mut blocks = b.borrow_mut();
        if blocks.len() < params.block_count() {
            blocks.resize(params.block_count(), argon2::Block::default());
        }
        argon
            .hash_password_into_with_memory(
                password,
                salt,
                &mut out,
                &mut blocks[..params.block_count()],
            )
            .is_ok()
    });
    done && constant_time_eq(&out, expected.as_bytes())
}
