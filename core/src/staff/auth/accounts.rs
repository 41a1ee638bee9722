//! Staff accounts as the rest of the portal reads them, and the officer's changes to them:
//! deactivation, roles, unlocking.

#[allow(unused_imports)]
use super::*;

/// The staff member behind a session, re-read on every request: deactivated staff and changed
/// roles take effect at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// `staff.id`.
    pub id: i64,
    /// Display name.
    pub name: String,
    /// Current role.
    pub role: Role,
    /// Whether a second factor is set up.
    pub has_totp: bool,
}

/// The active staff member `id`, or `None` when deactivated or gone.
pub async fn member(db: &impl ConnectionTrait, id: i64) -> Result<Option<Member>, CoreError> {
    let Some(row) = entity::Entity::find_by_id(id).one(db).await? else {
        return Ok(None);
    };
    if !row.active {
        return Ok(None);
    }
    Ok(Some(Member {
        id: row.id,
        name: row.name.clone(),
        role: role_of(&row)?,
        has_totp: row.totp_secret_sealed.is_some(),
    }))
}

/// Deactivates a staff member: their sessions end at their next request.
pub async fn deactivate(
    db: &impl ConnectionTrait,
    staff: i64,
    now: DateTime<Utc>,
) -> Result<(), CoreError> {
    let q = Query::update()
        .table("staff")
        .value("active", false)
        .value("updated_at", now)
        .and_where(Expr::col("id").eq(staff))
        .to_owned();
    if db.execute(&q).await?.rows_affected() != 1 {
        return Err(CoreError::NotFound);
    }
    crate::sessions::end_all(db, crate::sessions::Subject::Staff(staff), now).await?;
    Ok(())
}

/// Changes a staff member's role; it applies from their next request. Becoming privacy
/// officer ends their sessions: that role requires a second factor, which they are asked for
/// (or to set up) when they sign in again.
pub async fn set_role(
    db: &impl ConnectionTrait,
    staff: i64,
    role: Role,
    now: DateTime<Utc>,
) -> Result<(), CoreError> {
    let before = entity::Entity::find_by_id(staff)
        .one(db)
        .await?
        .ok_or(CoreError::NotFound)?;
    if role == Role::PrivacyOfficer && role_of(&before)? != Role::PrivacyOfficer {
        crate::sessions::end_all(db, crate::sessions::Subject::Staff(staff), now).await?;
    }
    let q = Query::update()
        .table("staff")
        .value("role", role.as_str())
        .value("updated_at", now)
        .and_where(Expr::col("id").eq(staff))
        .to_owned();
    if db.execute(&q).await?.rows_affected() != 1 {
        return Err(CoreError::NotFound);
    }
    Ok(())
}

/// Lifts every delay of an account (its typed-address bucket and its second-factor step) after
/// the privacy officer has checked with the person. `NotFound` for no such account.
pub async fn unlock(
    db: &impl ConnectionTrait,
    vault: &crate::vault::Vault,
    staff: i64,
) -> Result<(), CoreError> {
    let row = entity::Entity::find_by_id(staff)
        .one(db)
        .await?
        .ok_or(CoreError::NotFound)?;
    clear_bucket(db, &address_bucket(vault, &row.email)).await?;
    reset_failures(db, staff).await
}

/// [`unlock`] by work address, with its audit row in the same transaction (the `portal staff
/// unlock EMAIL` command); the account's id, or `NotFound`.
pub async fn unlock_by_email(
    portal: &Portal,
    email: &Email,
    actor: crate::audit::Actor,
    now: DateTime<Utc>,
) -> Result<i64, CoreError> {
    let tx = crate::db::begin_write(&portal.db).await?;
    let row = find_by_email(&tx, email)
        .await?
        .ok_or(CoreError::NotFound)?;
    unlock(&tx, &portal.vault, row.id).await?;
    let entry = crate::audit::Entry {
        actor,
        action: crate::access::Action::ManageStaff,
        subject: Some(("staff", row.id)),
        reason: Some("unlock"),
    };
    crate::audit::append(&tx, &entry, now).await?;
    tx.commit().await?;
    Ok(row.id)
}

/// A staff account as the privacy officer's list shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// `staff.id`.
    pub id: i64,
    /// Display name.
    pub name: String,
    /// Work address.
    pub email: String,
    /// Current role.
    pub role: Role,
    /// False once deactivated.
    pub active: bool,
    /// Whether a second factor is set up.
    pub has_totp: bool,
    /// Delayed by failed sign-ins right now (from untrusted browsers, or wrong codes).
    pub locked: bool,
    /// Invited, password not yet set.
    pub pending: bool,
}

/// Every staff account, by name.
pub async fn accounts(
    db: &impl ConnectionTrait,
    vault: &crate::vault::Vault,
    now: DateTime<Utc>,
) -> Result<Vec<Account>, CoreError> {
    use sea_orm::QueryOrder;
    let rows = entity::Entity::find()
        .order_by_asc(entity::Column::Id)
        .all(db)
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let locked =
            is_locked(&r, now) || bucket_delayed(db, &address_bucket(vault, &r.email), now).await?;
        out.push(Account {
            id: r.id,
            role: role_of(&r)?,
            active: r.active,
            has_totp: r.totp_secret_sealed.is_some(),
            locked,
            pending: r.password_hash.is_none(),
            name: r.name,
            email: r.email,
        });
    }
    Ok(out)
}
