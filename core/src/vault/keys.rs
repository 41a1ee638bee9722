//! The master key: from `PORTAL_MASTER_KEY`, or a key file created on first run.

use std::{io::Write, path::Path};

use base64::{Engine, engine::general_purpose::STANDARD, engine::general_purpose::URL_SAFE_NO_PAD};
use hmac::{Hmac, KeyInit as _, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

use super::SecretKey;
use crate::config::ConfigError;

/// Name of the key file inside the data directory.
pub const KEY_FILE: &str = "master.key";
/// The master key before the last rotation (kept so servers and old backups still open).
pub const PREVIOUS_KEY_FILE: &str = "master.key.previous";
/// The master key a rotation in progress is moving to.
pub const NEXT_KEY_FILE: &str = "master.key.next";

/// Where the master key came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// The `PORTAL_MASTER_KEY` environment variable.
    Environment,
    /// The key file in the data directory.
    File,
}

/// The master key, reduced at once to what the portal uses: a key-encryption key and an id.
#[derive(Clone, Debug)]
pub struct MasterKey {
    /// Short public fingerprint, stored beside everything this key wraps.
    pub id: String,
    /// HKDF subkey that wraps customer and vault keys.
    pub(crate) kek: SecretKey,
    /// HKDF subkey that seals backup archives.
    pub(crate) backup: SecretKey,
    /// Where it came from.
    pub source: KeySource,
}

impl MasterKey {
    /// Builds the master key from raw key material.
    pub fn from_material(material: &SecretKey, source: KeySource) -> Self {
        let mut mac =
            <Hmac<Sha256>>::new_from_slice(material.bytes()).expect("HMAC takes any key length");
        mac.update(b"salon-privacy-portal master key id");
        let tag = mac.finalize().into_bytes();
        let id = tag[..8].iter().map(|b| format!("{b:02x}")).collect();
        Self {
            id,
            kek: material.derive("kek/v1"),
            backup: material.derive("backup/v1"),
            source,
        }
    }
}

fn bad(setting: &'static str, problem: impl Into<String>) -> ConfigError {
    ConfigError {
        setting,
        problem: problem.into(),
    }
}

/// Parses 32 bytes written as base64 (standard or URL-safe) or 64 hex digits.
fn parse_material(text: &str) -> Option<SecretKey> {
    let t = text.trim();
    let bytes = Zeroizing::new(
        if t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit()) {
            (0..32)
                .map(|i| u8::from_str_radix(&t[2 * i..2 * i + 2], 16).ok())
                .collect::<Option<Vec<u8>>>()?
        } else {
            STANDARD
                .decode(t)
                .or_else(|_| URL_SAFE_NO_PAD.decode(t.trim_end_matches('=')))
                .ok()?
        },
    );
    let arr: [u8; 32] = bytes.as_slice().try_into().ok()?;
    Some(SecretKey::from_bytes(arr))
}

/// Reads a key file if it exists, refusing one that others can read.
pub(crate) fn read_key_file(path: &Path) -> Result<Option<MasterKey>, ConfigError> {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(bad(
                "PORTAL_DATA_DIR",
                format!("cannot read {}: {e}", path.display()),
            ));
        }
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(bad(
                "PORTAL_DATA_DIR",
                format!(
                    "{} is readable by others (mode {mode:o}); run chmod 600 on it",
                    path.display()
                ),
            ));
        }
    }
    #[cfg(not(unix))]
    let _ = meta;
    let text = Zeroizing::new(std::fs::read_to_string(path).map_err(|e| {
        bad(
            "PORTAL_DATA_DIR",
            format!("cannot read {}: {e}", path.display()),
        )
    })?);
    let material = parse_material(&text).ok_or_else(|| {
        bad(
            "PORTAL_DATA_DIR",
            format!("{} does not hold a 32-byte key", path.display()),
        )
    })?;
    Ok(Some(MasterKey::from_material(&material, KeySource::File)))
}

/// Writes new key material to `path` with mode 0600; fails if the file exists.
pub(crate) fn write_key_file(path: &Path, material: &SecretKey) -> std::io::Result<()> {
    let text = Zeroizing::new(format!("{}\n", STANDARD.encode(material.bytes())));
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut file = opts.open(path)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
}

/// Every master key the portal may meet: the current one first, then the previous and the next
/// key files of a rotation. Wrapped keys name the master they need by its id.
pub fn load_key_ring(
    env_value: Option<&str>,
    data_dir: &Path,
) -> Result<Vec<MasterKey>, ConfigError> {
    let mut ring = vec![load_master_key(env_value, data_dir)?];
    for name in [NEXT_KEY_FILE, PREVIOUS_KEY_FILE] {
        if let Some(k) = read_key_file(&data_dir.join(name))? {
            ring.push(k);
        }
    }
    Ok(ring)
}

/// Loads the master key: `env_value` if given, else `<data_dir>/master.key`, created with mode
/// 0600 when missing. A key file that others can read is refused.
pub fn load_master_key(env_value: Option<&str>, data_dir: &Path) -> Result<MasterKey, ConfigError> {
    if let Some(v) = env_value {
        let material = parse_material(v).ok_or_else(|| {
            bad(
                "PORTAL_MASTER_KEY",
                "must be 32 bytes written as base64 or 64 hex digits",
            )
        })?;
        return Ok(MasterKey::from_material(&material, KeySource::Environment));
    }
    let path = data_dir.join(KEY_FILE);
    if let Some(key) = read_key_file(&path)? {
        return Ok(key);
    }
    crate::db::create_private_dir(data_dir).map_err(|e| {
        bad(
            "PORTAL_DATA_DIR",
            format!("cannot create {}: {e}", data_dir.display()),
        )
    })?;
    let material = SecretKey::random();
    match write_key_file(&path, &material) {
        Ok(()) => {
            tracing::info!("created a new master key file");
            Ok(MasterKey::from_material(&material, KeySource::File))
        }
        // Another process created it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => load_master_key(None, data_dir),
        Err(e) => Err(bad(
            "PORTAL_DATA_DIR",
            format!("cannot create {}: {e}", path.display()),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_file_is_created_0600_on_first_run_and_reused_after() {
        let dir = tempfile::tempdir().unwrap();
        let first = load_master_key(None, dir.path()).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(KEY_FILE))
                .unwrap()
                .permissions()
                .mode()
                & 0o777;
            assert_eq!(mode, 0o600);
        }
        let second = load_master_key(None, dir.path()).unwrap();
        assert_eq!(first.id, second.id);
        assert_eq!(first.source, KeySource::File);
    }

    #[cfg(unix)]
    #[test]
    fn a_key_file_others_can_read_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        load_master_key(None, dir.path()).unwrap();
        let path = dir.path().join(KEY_FILE);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = load_master_key(None, dir.path()).unwrap_err();
        assert_eq!(err.setting, "PORTAL_DATA_DIR");
        assert!(err.problem.contains("readable by others"));
    }

    #[test]
    fn the_environment_key_must_be_32_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let hex = "11".repeat(32);
        let k = load_master_key(Some(&hex), dir.path()).unwrap();
        assert_eq!(k.source, KeySource::Environment);
        assert!(
            !dir.path().join(KEY_FILE).exists(),
            "no key file when the environment gives one"
        );
        let b64 = STANDARD.encode([0x11u8; 32]);
        assert_eq!(load_master_key(Some(&b64), dir.path()).unwrap().id, k.id);
        for bad in ["", "short", &"11".repeat(31), &STANDARD.encode([1u8; 16])] {
            assert_eq!(
                load_master_key(Some(bad), dir.path()).unwrap_err().setting,
                "PORTAL_MASTER_KEY"
            );
        }
    }
}
