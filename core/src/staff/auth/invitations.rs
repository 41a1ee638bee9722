//! Invitations: a new account without a password, and a single-use link to set one.

#[allow(unused_imports)]
use super::*;

/// An invitation: a new account without a password, and a single-use 24-hour link to set one.
pub struct Invitation {
    /// The new account.
    pub staff: i64,
    /// The link token (mailed, never stored).
    pub token: String,
}

/// Creates the account and the invitation token (the caller mails the link).
pub async fn invite(
    db: &(impl ConnectionTrait + TransactionTrait),
    vault: &crate::vault::Vault,
    email: &Email,
    name: &StaffName,
    role: Role,
    now: DateTime<Utc>,
) -> Result<Invitation, CoreError> {
    if find_by_email(db, email).await?.is_some() {
        return Err(crate::staff::Refusal::Exists.into());
    }
    let tx = db.begin().await?;
    let row = entity::ActiveModel {
        email: Set(email.as_str().to_owned()),
        name: Set(name.0.clone()),
        role: Set(role.as_str().to_owned()),
        password_hash: Set(None),
        active: Set(true),
        failed_sign_ins: Set(0),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&tx)
    .await?;
    let issued = issue_for(&tx, vault, Owner::Staff(row.id), Purpose::StaffInvite, now).await?;
    tx.commit().await?;
    Ok(Invitation {
        staff: row.id,
        token: issued.token,
    })
}

/// The invited person's name, without spending the link (for the page GET shows).
pub async fn peek_invitation(
    db: &impl ConnectionTrait,
    token: &str,
    now: DateTime<Utc>,
) -> Result<Option<String>, CoreError> {
    Ok(invited(db, token, now).await?.map(|r| r.name))
}

pub(super) async fn invited(
    db: &impl ConnectionTrait,
    token: &str,
    now: DateTime<Utc>,
) -> Result<Option<entity::Model>, CoreError> {
    if token.len() != 43 {
        return Ok(None);
    }
    let q = Query::select()
        .column("staff_id")
        .from("one_time_tokens")
        .and_where(Expr::col("token_hash").eq(token_hash(token)))
        .cond_where(usable(Purpose::StaffInvite, now))
        .to_owned();
    let Some(r) = db.query_one(&q).await? else {
        return Ok(None);
    };
    let Some(id): Option<i64> = r.try_get("", "staff_id")? else {
        return Ok(None);
    };
    Ok(entity::Entity::find_by_id(id)
        .one(db)
        .await?
        .filter(|s| s.active))
}

/// Sets the first password through an invitation link; the link is spent by one conditional
/// UPDATE in the same transaction, so it works once.
pub async fn accept_invitation(
    db: &(impl ConnectionTrait + TransactionTrait),
    token: &str,
    password: &str,
    salon_name: &str,
    now: DateTime<Utc>,
) -> Result<i64, AuthError> {
    let Some(row) = invited(db, token, now).await? else {
        return Err(AuthError::Failed);
    };
    check_new_password(password, &[&row.name, &row.email], &[salon_name])?;
    let password = password.to_owned();
    // Holders of a valid link only, but the same bound on concurrent hashes applies.
    let permit = HASHING.acquire().await.map_err(|_| AuthError::Busy)?;
    let hash = on_hasher(move || {
        let _permit = permit;
        hash_password(&password)
    })
    .await
    .ok_or(AuthError::Failed)?;
    let tx = db.begin().await?;
    let mut spend = Query::update()
        .table("one_time_tokens")
        .value("used_at", now)
        .and_where(Expr::col("token_hash").eq(token_hash(token)))
        .to_owned();
    spend.cond_where(usable(Purpose::StaffInvite, now));
    if tx.execute(&spend).await?.rows_affected() != 1 {
        return Err(AuthError::Failed);
    }
    tx.execute(
        &Query::update()
            .table("staff")
            .value("password_hash", hash)
            .value("updated_at", now)
            .and_where(Expr::col("id").eq(row.id))
            .to_owned(),
    )
    .await?;
    tx.commit().await?;
    Ok(row.id)
}
