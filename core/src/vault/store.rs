//! The key store: wrapped customer keys, pass-on task keys and the portal's own keys, in the
//! database, and the master keys that wrap them (a ring, so a rotation never interrupts reads).

use std::{
    path::PathBuf,
    sync::{Arc, RwLock},
};

use chrono::{DateTime, Utc};
use sea_orm::{
    ConnectionTrait,
    sea_query::{Expr, ExprTrait, OnConflict, Query},
};

use super::{Field, MasterKey, SealError, SecretKey, blind_index, keys, open, seal};
use crate::{CoreError, config::Secret, email::Email, phone::Phone};

const CUSTOMER_WRAP: Field = Field::new("customer_keys", "wrapped_key");
const VAULT_WRAP: Field = Field::new("vault_keys", "wrapped_key");
const PASS_ON_WRAP: Field = Field::new("pass_on_keys", "wrapped_key");
/// Row ids of the portal's own keys in `vault_keys`.
const INDEX_KEY_ROW: i64 = 1;
const SYSTEM_KEY_ROW: i64 = 2;

/// Where the master keys come from, so the ring can be read again after a rotation.
#[derive(Clone, Debug)]
pub struct KeySourceConfig {
    /// `PORTAL_MASTER_KEY`, if set.
    pub env: Option<Secret>,
    /// The data directory with the key files.
    pub data_dir: PathBuf,
}

struct Inner {
    /// Current master first.
    ring: RwLock<Vec<MasterKey>>,
    source: KeySourceConfig,
    index_key: SecretKey,
    system_key: SecretKey,
}

/// Opens and creates keys; cheap to clone.
#[derive(Clone)]
pub struct Vault(Arc<Inner>);

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Vault(master {})", self.current().id)
    }
}

fn to_key(bytes: &[u8]) -> Result<SecretKey, CoreError> {
    let arr: [u8; 32] = bytes
        .try_into()
        .map_err(|_| CoreError::Sealed(SealError::Unopenable))?;
    Ok(SecretKey::from_bytes(arr))
}

fn load_ring(source: &KeySourceConfig) -> Result<Vec<MasterKey>, CoreError> {
    Ok(keys::load_key_ring(
        source.env.as_ref().map(Secret::expose),
        &source.data_dir,
    )?)
}

impl Vault {
    /// Loads the master keys and the portal's own keys (creating them on first use). A master key
    /// that does not open them is refused.
    pub async fn open(
        db: &impl ConnectionTrait,
        source: KeySourceConfig,
    ) -> Result<Self, CoreError> {
        let ring = load_ring(&source)?;
        let index_key = Self::portal_key(db, &ring, INDEX_KEY_ROW, "blind_index").await?;
        let system_key = Self::portal_key(db, &ring, SYSTEM_KEY_ROW, "system").await?;
        Ok(Self(Arc::new(Inner {
            ring: RwLock::new(ring),
            source,
            index_key,
            system_key,
        })))
    }

    async fn portal_key(
        db: &impl ConnectionTrait,
        ring: &[MasterKey],
        row: i64,
        name: &str,
    ) -> Result<SecretKey, CoreError> {
        let current = &ring[0];
        let fresh = SecretKey::random();
        // Several replicas may start at once: the first insert wins, everyone reads it back.
        let insert = Query::insert()
            .into_table("vault_keys")
            .columns(["id", "name", "wrapped_key", "master_key_id", "created_at"])
            .values_panic([
                row.into(),
                name.into(),
                seal(&current.kek, VAULT_WRAP, row, fresh.bytes()).into(),
                current.id.clone().into(),
                Utc::now().into(),
            ])
            .on_conflict(OnConflict::column("id").do_nothing().to_owned())
            .to_owned();
        db.execute(&insert).await?;
        let select = Query::select()
            .columns(["wrapped_key", "master_key_id"])
            .from("vault_keys")
            .and_where(Expr::col("id").eq(row))
            .to_owned();
        let found = db.query_one(&select).await?.ok_or(CoreError::NotFound)?;
        let wrapped: Vec<u8> = found.try_get("", "wrapped_key")?;
        let id: String = found.try_get("", "master_key_id")?;
        let master = ring
            .iter()
            .find(|m| m.id == id)
            .ok_or(CoreError::WrongMasterKey {
                expected: id.clone(),
            })?;
        match open(&master.kek, VAULT_WRAP, row, &wrapped) {
            Ok(k) => to_key(&k),
            Err(_) => Err(CoreError::WrongMasterKey { expected: id }),
        }
    }

    fn current(&self) -> MasterKey {
        // A poisoned lock only means another thread panicked mid-swap of whole vectors.
        self.0.ring.read().unwrap_or_else(|p| p.into_inner())[0].clone()
    }

    /// The master key with fingerprint `id`; reads the key files again once if it is unknown
    /// (another process may have rotated the master key meanwhile).
    fn master(&self, id: &str) -> Result<MasterKey, CoreError> {
        let find = |ring: &Vec<MasterKey>| ring.iter().find(|m| m.id == id).cloned();
        if let Some(m) = find(&self.0.ring.read().unwrap_or_else(|p| p.into_inner())) {
            return Ok(m);
        }
        let ring = load_ring(&self.0.source)?;
        let found = find(&ring);
        *self.0.ring.write().unwrap_or_else(|p| p.into_inner()) = ring;
        found.ok_or(CoreError::WrongMasterKey {
            expected: id.to_owned(),
        })
    }

    /// Fingerprint of the master key that wraps new keys.
    pub fn master_id(&self) -> String {
        self.current().id
    }

    /// Keys that may have sealed a backup archive: the current master's first.
    pub fn backup_keys(&self) -> Vec<SecretKey> {
        let ring = load_ring(&self.0.source).unwrap_or_else(|_| {
            self.0
                .ring
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .clone()
        });
        ring.into_iter().map(|m| m.backup).collect()
    }

    /// Key that seals new backup archives.
    pub fn backup_key(&self) -> SecretKey {
        self.current().backup
    }

    /// Data key for values that belong to no customer.
    pub fn system_key(&self) -> &SecretKey {
        &self.0.system_key
    }

    /// Blind index of an email address (already normalised by [`Email::parse`]).
    pub fn email_index(&self, email: &Email) -> Vec<u8> {
        blind_index(&self.0.index_key, "email", email.as_str())
    }

    /// Blind index of a phone number in E.164 form.
    pub fn phone_index(&self, phone: &Phone) -> Vec<u8> {
        blind_index(&self.0.index_key, "phone", phone.as_str())
    }

    /// A secret of the portal's own for `purpose` (HKDF from the index key).
    pub fn subkey(&self, purpose: &str) -> SecretKey {
        self.0.index_key.derive(&format!("subkey/{purpose}/v1"))
    }

    /// Blind index of another unique value (`purpose` keeps indexes of different kinds apart).
    pub fn index(&self, purpose: &str, normalised: &str) -> Vec<u8> {
        blind_index(&self.0.index_key, purpose, normalised)
    }

    /// Makes and stores a new data key for `customer_id`.
    pub async fn create_customer_key(
        &self,
        db: &impl ConnectionTrait,
        customer_id: i64,
    ) -> Result<SecretKey, CoreError> {
        let key = SecretKey::random();
        let master = self.current();
        let insert = Query::insert()
            .into_table("customer_keys")
            .columns(["customer_id", "wrapped_key", "master_key_id", "created_at"])
            .values_panic([
                customer_id.into(),
                seal(&master.kek, CUSTOMER_WRAP, customer_id, key.bytes()).into(),
                master.id.clone().into(),
                Utc::now().into(),
            ])
            .to_owned();
        db.execute(&insert).await?;
        Ok(key)
    }

    /// The data key of `customer_id`; [`SealError::KeyDestroyed`] once it has been shredded.
    pub async fn customer_key(
        &self,
        db: &impl ConnectionTrait,
        customer_id: i64,
    ) -> Result<SecretKey, CoreError> {
        let select = Query::select()
            .columns(["wrapped_key", "master_key_id"])
            .from("customer_keys")
            .and_where(Expr::col("customer_id").eq(customer_id))
            .to_owned();
        let row = db
            .query_one(&select)
            .await?
            .ok_or(CoreError::Sealed(SealError::KeyDestroyed))?;
        let wrapped: Vec<u8> = row.try_get("", "wrapped_key")?;
        let id: String = row.try_get("", "master_key_id")?;
        let key = open(&self.master(&id)?.kek, CUSTOMER_WRAP, customer_id, &wrapped)?;
        to_key(&key)
    }

    /// Crypto-shredding: destroys `customer_id`'s key, so none of their sealed values, in the live
    /// database or any backup, can be opened again. Returns whether a key was there.
    pub async fn destroy_customer_key(
        &self,
        db: &impl ConnectionTrait,
        customer_id: i64,
    ) -> Result<bool, CoreError> {
        let delete = Query::delete()
            .from_table("customer_keys")
            .and_where(Expr::col("customer_id").eq(customer_id))
            .to_owned();
        Ok(db.execute(&delete).await?.rows_affected() > 0)
    }

    /// Makes and stores the key of pass-on task `task`, destroyed at `expires_at` at the latest.
    pub async fn create_task_key(
        &self,
        db: &impl ConnectionTrait,
        task: i64,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<SecretKey, CoreError> {
        let key = SecretKey::random();
        let master = self.current();
        let insert = Query::insert()
            .into_table("pass_on_keys")
            .columns([
                "propagation_id",
                "wrapped_key",
                "master_key_id",
                "created_at",
                "expires_at",
            ])
            .values_panic([
                task.into(),
                seal(&master.kek, PASS_ON_WRAP, task, key.bytes()).into(),
                master.id.clone().into(),
                now.into(),
                expires_at.into(),
            ])
            // A key left by a task whose row an older data backup's restore took away.
            .on_conflict(
                OnConflict::column("propagation_id")
                    .update_columns(["wrapped_key", "master_key_id", "created_at", "expires_at"])
                    .to_owned(),
            )
            .to_owned();
        db.execute(&insert).await?;
        Ok(key)
    }

    /// The key of pass-on task `task`; [`SealError::KeyDestroyed`] once the task is done or its
    /// time is up.
    pub async fn task_key(
        &self,
        db: &impl ConnectionTrait,
        task: i64,
        now: DateTime<Utc>,
    ) -> Result<SecretKey, CoreError> {
        let select = Query::select()
            .columns(["wrapped_key", "master_key_id"])
            .from("pass_on_keys")
            .and_where(Expr::col("propagation_id").eq(task))
            .and_where(Expr::col("expires_at").gt(now))
            .to_owned();
        let row = db
            .query_one(&select)
            .await?
            .ok_or(CoreError::Sealed(SealError::KeyDestroyed))?;
        let wrapped: Vec<u8> = row.try_get("", "wrapped_key")?;
        let id: String = row.try_get("", "master_key_id")?;
        let key = open(&self.master(&id)?.kek, PASS_ON_WRAP, task, &wrapped)?;
        to_key(&key)
    }

    /// `portal keys rotate`: moves every wrapped key to a new master key without stopping reads.
    ///
    /// 1. writes the new key to `master.key.next` (0600), or resumes with the one there;
    /// 2. re-wraps every customer and portal key, one conditional UPDATE each (servers that meet
    ///    a key wrapped by the new master read the key files again and open it);
    /// 3. renames `master.key` to `master.key.previous` and `master.key.next` to `master.key`.
    ///
    /// Returns the number of keys re-wrapped. Needs the key file (not `PORTAL_MASTER_KEY`).
    pub async fn rotate(&self, db: &impl ConnectionTrait) -> Result<usize, CoreError> {
        let source = &self.0.source;
        if source.env.is_some() {
            return Err(crate::error::SetupRefusal::RotateNeedsKeyFile.into());
        }
        let next_path = source.data_dir.join(keys::NEXT_KEY_FILE);
        let next = match keys::read_key_file(&next_path)? {
            Some(k) => k,
            None => {
                keys::write_key_file(&next_path, &SecretKey::random())?;
                keys::read_key_file(&next_path)?.ok_or(CoreError::NotFound)?
            }
        };
        let mut moved = 0;
        for (table, id_col, field) in [
            ("customer_keys", "customer_id", CUSTOMER_WRAP),
            ("vault_keys", "id", VAULT_WRAP),
            ("pass_on_keys", "propagation_id", PASS_ON_WRAP),
        ] {
            loop {
                let batch = Query::select()
                    .columns([id_col, "wrapped_key", "master_key_id"])
                    .from(table)
                    .and_where(Expr::col("master_key_id").ne(next.id.clone()))
                    .limit(500)
                    .to_owned();
                let rows = db.query_all(&batch).await?;
                if rows.is_empty() {
                    break;
                }
                for row in rows {
                    let row_id: i64 = row.try_get("", id_col)?;
                    let wrapped: Vec<u8> = row.try_get("", "wrapped_key")?;
                    let old_id: String = row.try_get("", "master_key_id")?;
                    let key = open(&self.master(&old_id)?.kek, field, row_id, &wrapped)?;
                    let update = Query::update()
                        .table(table)
                        .value("wrapped_key", seal(&next.kek, field, row_id, &key))
                        .value("master_key_id", next.id.clone())
                        .and_where(Expr::col(id_col).eq(row_id))
                        .and_where(Expr::col("master_key_id").eq(old_id))
                        .to_owned();
                    moved += db.execute(&update).await?.rows_affected() as usize;
                }
            }
        }
        let current = source.data_dir.join(keys::KEY_FILE);
        std::fs::rename(&current, source.data_dir.join(keys::PREVIOUS_KEY_FILE))?;
        std::fs::rename(&next_path, &current)?;
        if let Ok(dir) = std::fs::File::open(&source.data_dir) {
            let _ = dir.sync_all();
        }
        *self.0.ring.write().unwrap_or_else(|p| p.into_inner()) = load_ring(source)?;
        Ok(moved)
    }
}
