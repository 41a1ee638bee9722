//! Sealing of personal data at rest (security.md, "Data at rest").
//!
//! * A master key (32 random bytes from `PORTAL_MASTER_KEY`, or the key file `master.key` in the
//!   data directory, created 0600 on first run; never a built-in default) yields, through HKDF,
//!   the key-encryption key that wraps every other key.
//! * Each customer has a random data key, stored wrapped in `customer_keys`. Every personal value
//!   of that customer is sealed with AES-256-GCM under it, with the table, column and row
//!   as associated data, so a ciphertext copied elsewhere does not open.
//! * Values that belong to no customer (mail to staff) use the portal's own data key; email and
//!   phone lookups use blind indexes under a separate index key. Both live wrapped in
//!   `vault_keys`.
//! * Deleting a customer's row in `customer_keys` crypto-shreds every copy of their data.

mod keys;
mod store;
pub mod stream;

use aes_gcm::{
    Aes256Gcm, Nonce,
    aead::{Aead, KeyInit, Payload},
};
use hmac::{Hmac, Mac};
use rand::TryRngCore;
use sha2::Sha256;
use zeroize::Zeroizing;

pub use keys::{
    KEY_FILE, KeySource, MasterKey, NEXT_KEY_FILE, PREVIOUS_KEY_FILE, load_key_ring,
    load_master_key,
};
pub use store::{KeySourceConfig, Vault};

/// Format byte in front of every sealed value, so the scheme can change without ambiguity:
/// 2 = AES-256-GCM with a random 96-bit nonce.
const FORMAT_V2: u8 = 2;
const NONCE_LEN: usize = 12;

/// Fills `buf` from the operating system's random number generator (never a userspace PRNG).
fn fill_random(buf: &mut [u8]) {
    // Without an OS RNG no key or nonce can be made safely: stopping is the only right answer.
    rand::rngs::OsRng
        .try_fill_bytes(buf)
        .expect("the operating system's random number generator");
}

/// A 256-bit key that is wiped from memory when dropped and never printed.
#[derive(Clone)]
pub struct SecretKey(Zeroizing<[u8; 32]>);

impl SecretKey {
    /// 32 bytes from the operating system's random number generator.
    pub fn random() -> Self {
        let mut k = Zeroizing::new([0u8; 32]);
        fill_random(k.as_mut());
        Self(k)
    }

    /// Wraps existing key material.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(Zeroizing::new(bytes))
    }

    /// HKDF-SHA256 subkey for `info`.
    pub fn derive(&self, info: &str) -> SecretKey {
        let hk = hkdf::Hkdf::<Sha256>::new(Some(b"salon-privacy-portal"), self.0.as_ref());
        let mut out = Zeroizing::new([0u8; 32]);
        // 32 bytes is always a valid HKDF-SHA256 output length.
        hk.expand(info.as_bytes(), out.as_mut())
            .expect("32-byte HKDF output");
        SecretKey(out)
    }

    /// The key material, for the primitives that need it.
    pub fn bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(***)")
    }
}

/// Why a sealed value could not be opened. Never carries the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// The ciphertext is malformed, was tampered with, or belongs to another row, column or key.
    #[error("sealed value does not open")]
    Unopenable,
    /// The customer's key was destroyed: their data is gone for good.
    #[error("key destroyed")]
    KeyDestroyed,
}

/// Where a sealed value lives; part of its associated data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    /// Table name.
    pub table: &'static str,
    /// Column name.
    pub column: &'static str,
}

impl Field {
    /// A field of `table.column`.
    pub const fn new(table: &'static str, column: &'static str) -> Self {
        Self { table, column }
    }

    fn aad(&self, row: i64) -> Vec<u8> {
        format!("{}.{}#{row}", self.table, self.column).into_bytes()
    }
}

/// Seals `plain` under `key` for `field` of `row`.
pub fn seal(key: &SecretKey, field: Field, row: i64, plain: &[u8]) -> Vec<u8> {
    let cipher = Aes256Gcm::new(key.bytes().into());
    let mut nonce = [0u8; NONCE_LEN];
    fill_random(&mut nonce);
    let aad = field.aad(row);
    // Encryption with a valid key and nonce cannot fail.
    let ct = cipher
        .encrypt(
            &Nonce::from(nonce),
            Payload {
                msg: plain,
                aad: &aad,
            },
        )
        .expect("AES-256-GCM encryption");
    let mut out = Vec::with_capacity(1 + NONCE_LEN + ct.len());
    out.push(FORMAT_V2);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ct);
    out
}

/// Opens a value sealed by [`seal`] for the same key, field and row.
pub fn open(
    key: &SecretKey,
    field: Field,
    row: i64,
    sealed: &[u8],
) -> Result<Zeroizing<Vec<u8>>, SealError> {
    if sealed.len() < 1 + NONCE_LEN + 16 || sealed[0] != FORMAT_V2 {
        return Err(SealError::Unopenable);
    }
    let cipher = Aes256Gcm::new(key.bytes().into());
    let aad = field.aad(row);
    let nonce: [u8; NONCE_LEN] = sealed[1..1 + NONCE_LEN]
        .try_into()
        .map_err(|_| SealError::Unopenable)?;
    cipher
        .decrypt(
            &Nonce::from(nonce),
            Payload {
                msg: &sealed[1 + NONCE_LEN..],
                aad: &aad,
            },
        )
        .map(Zeroizing::new)
        .map_err(|_| {
            tracing::warn!(
                table = field.table,
                column = field.column,
                row,
                "sealed value failed to open"
            );
            SealError::Unopenable
        })
}

/// Blind index: HMAC-SHA256 of the normalised value under a purpose-bound subkey, truncated to
/// 16 bytes. For lookups that must be unique (email, phone) the index has to be collision-free,
/// so it keeps 128 bits and reveals only equality, as CipherSweet describes for unique indexes.
pub fn blind_index(index_key: &SecretKey, purpose: &str, normalised: &str) -> Vec<u8> {
    let sub = index_key.derive(&format!("blind-index/{purpose}/v1"));
    let mut mac = <Hmac<Sha256>>::new_from_slice(sub.bytes()).expect("HMAC takes any key length");
    mac.update(normalised.as_bytes());
    mac.finalize().into_bytes()[..16].to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAME: Field = Field::new("customers", "name_sealed");
    const EMAIL: Field = Field::new("customers", "email_sealed");

    #[test]
    fn a_sealed_value_opens_only_at_its_own_table_column_row_and_key() {
        let key = SecretKey::random();
        let sealed = seal(&key, NAME, 7, "王芳".as_bytes());
        assert_eq!(
            open(&key, NAME, 7, &sealed).unwrap().as_slice(),
            "王芳".as_bytes()
        );
        assert_eq!(
            open(&key, NAME, 8, &sealed).unwrap_err(),
            SealError::Unopenable
        );
        assert_eq!(
            open(&key, EMAIL, 7, &sealed).unwrap_err(),
            SealError::Unopenable
        );
        assert_eq!(
            open(&SecretKey::random(), NAME, 7, &sealed).unwrap_err(),
            SealError::Unopenable
        );
        let mut tampered = sealed.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert_eq!(
            open(&key, NAME, 7, &tampered).unwrap_err(),
            SealError::Unopenable
        );
        assert_eq!(
            open(&key, NAME, 7, &sealed[..10]).unwrap_err(),
            SealError::Unopenable
        );
    }

    #[test]
    fn sealing_the_same_value_twice_gives_different_ciphertexts() {
        let key = SecretKey::random();
        assert_ne!(seal(&key, NAME, 1, b"x"), seal(&key, NAME, 1, b"x"));
    }

    #[test]
    fn blind_indexes_are_stable_per_key_and_differ_across_purposes_and_keys() {
        let k = SecretKey::random();
        let a = blind_index(&k, "email", "li@example.com");
        assert_eq!(a.len(), 16);
        assert_eq!(a, blind_index(&k, "email", "li@example.com"));
        assert_ne!(a, blind_index(&k, "phone", "li@example.com"));
        assert_ne!(
            a,
            blind_index(&SecretKey::random(), "email", "li@example.com")
        );
    }
}
