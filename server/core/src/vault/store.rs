//! The key store: wrapped customer keys and the portal's own keys, in the database.

use std::sync::Arc;

use chrono::Utc;
use sea_orm::{
    ConnectionTrait,
    sea_query::{Expr, ExprTrait, OnConflict, Query},
};

use super::{Field, MasterKey, SealError, SecretKey, blind_index, open, seal};
use crate::{CoreError, email::Email, phone::Phone};

const CUSTOMER_WRAP: Field = Field::new("customer_keys", "wrapped_key");
const VAULT_WRAP: Field = Field::new("vault_keys", "wrapped_key");
/// Row ids of the portal's own keys in `vault_keys`.
const INDEX_KEY_ROW: i64 = 1;
const SYSTEM_KEY_ROW: i64 = 2;

struct Inner {
    master: MasterKey,
    index_key: SecretKey,
    system_key: SecretKey,
}

/// Opens and creates keys; cheap to clone.
#[derive(Clone)]
pub struct Vault(Arc<Inner>);

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Vault(master {})", self.0.master.id)
    }
}

fn to_key(bytes: &[u8]) -> Result<SecretKey, CoreError> {
    let arr: [u8; 32] = bytes
        .try_into()
        .map_err(|_| CoreError::Sealed(SealError::Unopenable))?;
    Ok(SecretKey::from_bytes(arr))
}

impl Vault {
    /// Loads the portal's own keys, creating them on first use, under `master`. A master key that
    /// does not open them is refused.
    pub async fn open(db: &impl ConnectionTrait, master: MasterKey) -> Result<Self, CoreError> {
        let index_key = Self::portal_key(db, &master, INDEX_KEY_ROW, "blind_index").await?;
        let system_key = Self::portal_key(db, &master, SYSTEM_KEY_ROW, "system").await?;
        Ok(Self(Arc::new(Inner {
            master,
            index_key,
            system_key,
        })))
    }

    async fn portal_key(
        db: &impl ConnectionTrait,
        master: &MasterKey,
        row: i64,
        name: &str,
    ) -> Result<SecretKey, CoreError> {
        let fresh = SecretKey::random();
        // Several replicas may start at once: the first insert wins, everyone reads it back.
        let insert = Query::insert()
            .into_table("vault_keys")
            .columns(["id", "name", "wrapped_key", "master_key_id", "created_at"])
            .values_panic([
                row.into(),
                name.into(),
                seal(&master.kek, VAULT_WRAP, row, fresh.bytes()).into(),
                master.id.clone().into(),
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
        match open(&master.kek, VAULT_WRAP, row, &wrapped) {
            Ok(k) => to_key(&k),
            Err(_) => Err(CoreError::WrongMasterKey { expected: id }),
        }
    }

    /// Fingerprint of the master key in use.
    pub fn master_id(&self) -> &str {
        &self.0.master.id
    }

    /// Key that seals backup archives (derived from the master key, so an archive needs it).
    pub fn backup_key(&self) -> &SecretKey {
        &self.0.master.backup
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
        let insert = Query::insert()
            .into_table("customer_keys")
            .columns(["customer_id", "wrapped_key", "master_key_id", "created_at"])
            .values_panic([
                customer_id.into(),
                seal(&self.0.master.kek, CUSTOMER_WRAP, customer_id, key.bytes()).into(),
                self.0.master.id.clone().into(),
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
            .column("wrapped_key")
            .from("customer_keys")
            .and_where(Expr::col("customer_id").eq(customer_id))
            .to_owned();
        let row = db
            .query_one(&select)
            .await?
            .ok_or(CoreError::Sealed(SealError::KeyDestroyed))?;
        let wrapped: Vec<u8> = row.try_get("", "wrapped_key")?;
        let key = open(&self.0.master.kek, CUSTOMER_WRAP, customer_id, &wrapped)?;
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
}
