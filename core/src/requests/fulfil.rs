//! Carrying out approved requests. Each is done in one transaction whose first write moves the
//! request from `approved` to `done` (one conditional UPDATE): two replicas never both do it, and
//! a crash before the commit leaves it `approved`, to be picked up again.

use chrono::{DateTime, Utc};
use sea_orm::{
    ConnectionTrait,
    sea_query::{Expr, ExprTrait, Order, Query},
};

use super::{Kind, Status, mails, tell};
use crate::{
    CoreError, Portal,
    consents::{self, Change, Channel, Purpose},
    customers::{self, record},
};

/// The kinds carried out here so far; the others wait in `approved` for their executor.
pub(crate) const HANDLED: [Kind; 5] = [
    Kind::Access,
    Kind::Objection,
    Kind::Restriction,
    Kind::Correction,
    Kind::Deletion,
];

/// Carries out every approved request it handles; returns how many were done.
pub async fn run_once(portal: &Portal, now: DateTime<Utc>) -> Result<usize, CoreError> {
    let q = Query::select()
        .column("id")
        .from("requests")
        .and_where(Expr::col("status").eq(Status::Approved.as_str()))
        .and_where(Expr::col("kind").is_in(HANDLED.map(Kind::as_str)))
        .order_by("id", Order::Asc)
        .limit(50)
        .to_owned();
    let mut done = 0;
    for r in portal.db.query_all(&q).await? {
        let id: i64 = r.try_get("", "id")?;
        match fulfil(portal, id, now).await {
            Ok(true) => done += 1,
            Ok(false) => {}
            Err(e) => {
                tracing::error!(request = id, error = %e, "request not carried out; will retry")
            }
        }
    }
    Ok(done)
}

/// Runs [`run_once`] and the due-date reminders every `mail_poll` until `shutdown` turns true.
pub async fn run(portal: Portal, mut shutdown: tokio::sync::watch::Receiver<bool>) {
    match super::erase::recover_files(&portal).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(
            files = n,
            "files left by an interrupted export or erasure put right"
        ),
        Err(e) => tracing::error!(error = %e, "files left by a crash could not be put right"),
    }
    // Housekeeping runs at start and then every ten minutes; it is cheap and idempotent.
    let mut next_sweep = tokio::time::Instant::now();
    loop {
        if tokio::time::Instant::now() >= next_sweep {
            next_sweep += std::time::Duration::from_secs(600);
            match crate::housekeeping::sweep(&portal, Utc::now()).await {
                Ok(s) => {
                    crate::ops::ran(crate::ops::Job::Housekeeping);
                    tracing::debug!(?s, "housekeeping sweep")
                }
                Err(e) => tracing::error!(error = %e, "housekeeping sweep failed"),
            }
        }
        if let Err(e) = run_once(&portal, Utc::now()).await {
            tracing::error!(error = %e, "request fulfilment could not read the queue");
        }
        if let Err(e) = super::reminders::run_once(&portal, Utc::now()).await {
            tracing::error!(error = %e, "request reminders could not be sent");
        }
        if let Err(e) = super::reminders::digest_once(&portal, Utc::now()).await {
            tracing::error!(error = %e, "the officers' daily digest could not be sent");
        }
        if let Err(e) = super::export::sweep(&portal, Utc::now()).await {
            tracing::error!(error = %e, "expired exports could not be swept");
        }
        if let Err(e) = crate::staff::auth::sweep_buckets_hourly(&portal.db, Utc::now()).await {
            tracing::error!(error = %e, "staff sign-in delays could not be swept");
        }
        match crate::photos::lapse(&portal.db, Utc::now()).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(lapsed = n, "photo uses past their end date lapsed"),
            Err(e) => tracing::error!(error = %e, "photo uses could not be lapsed"),
        }
        match crate::retention::daily(&portal, Utc::now()).await {
            Ok(Some(r)) => {
                crate::ops::ran(crate::ops::Job::Retention);
                tracing::info!(
                    notified = r.notified,
                    deleted = r.deleted,
                    purged_requests = r.purged_requests,
                    "retention rules applied"
                )
            }
            Ok(None) => {}
            Err(e) => tracing::error!(error = %e, "retention rules could not be applied"),
        }
        crate::ops::ran(crate::ops::Job::Fulfilment);
        tokio::select! {
            _ = tokio::time::sleep(portal.settings.mail_poll) => {}
            _ = shutdown.changed() => {}
        }
        if *shutdown.borrow() {
            break;
        }
    }
}

/// Carries out one approved request; false when another worker already did.
pub async fn fulfil(portal: &Portal, id: i64, now: DateTime<Utc>) -> Result<bool, CoreError> {
    let request = super::get(&portal.db, id).await?;
    let Some(customer) = request.customer else {
        return Ok(false);
    };
    let details = super::details(&portal.db, &portal.vault, id).await?;
    let lang = customers::language(&portal.db, customer).await?;
    let en = lang == "en";
    // The copy is written before the transaction (files are not transactional), under a
    // temporary name: if another worker wins the claim, or anything fails before the commit,
    // dropping it removes the file; it takes its final name after the commit.
    let built = if request.kind == Kind::Access {
        Some(super::export::build(portal, customer).await?)
    } else {
        None
    };
    let tx = crate::db::begin_write(&portal.db).await?;
    let claim = Query::update()
        .table("requests")
        .value("status", Status::Done.as_str())
        .value("completed_at", now)
        .and_where(Expr::col("id").eq(id))
        .and_where(Expr::col("status").eq(Status::Approved.as_str()))
        .to_owned();
    if tx.execute(&claim).await?.rows_affected() != 1 {
        return Ok(false);
    }
    if request.kind == Kind::Deletion {
        if crate::membership::balance_cents(&tx, customer).await? > 0 {
            // Settled first (approval checks it); leave it approved until it is.
            return Ok(false);
        }
        // What the recipients know the customer by, read while it still exists.
        let before = crate::sharing::Identifiers::read(&tx, &portal.vault, customer).await?;
        let (files, kept, contact) = super::erase::erase(portal, &tx, customer, now).await?;
        let passed_on =
            crate::sharing::open_tasks(&tx, &portal.vault, id, &before, None, now).await?;
        let outcome = super::outcome_both(
            &format!(
                "已删除。去除身份后保留：{} 条已付款到店记录，{} 张会员卡流水。",
                kept.visits, kept.memberships
            ),
            &format!(
                "Deleted. Kept without identity: {} paid visit(s), {} membership ledger(s).",
                kept.visits, kept.memberships
            ),
        );
        tx.execute(
            &Query::update()
                .table("requests")
                .value("outcome", outcome)
                .and_where(Expr::col("id").eq(id))
                .to_owned(),
        )
        .await?;
        super::event_system(&tx, id, Status::Approved, Status::Done, now).await?;
        if let Some(to) = contact.email {
            let lang = portal_vocab::Lang::from_tag(&lang).unwrap_or_default();
            let mail = crate::mail::templates::erasure_receipt::receipt(
                portal, to, lang, id, &kept, &passed_on, now,
            );
            portal
                .enqueue_mail(&tx, None, "erasure_receipt", &mail)
                .await?;
        }
        crate::failpoint::hit("erasure.erased");
        tx.commit().await?;
        crate::failpoint::hit("erasure.committed");
        super::erase::remove_files(&files);
        // SQLite keeps old page versions in its write-ahead log until a checkpoint; write them
        // into the (zero-filling) database file and empty the log, so nothing of the erased
        // customer waits there.
        if portal.db.get_database_backend() == sea_orm::DatabaseBackend::Sqlite
            && let Err(e) = portal
                .db
                .execute_unprepared("PRAGMA wal_checkpoint(TRUNCATE)")
                .await
        {
            tracing::warn!(error = %e, "write-ahead log not emptied after an erasure; the next checkpoint will");
        }
        portal.outbox.notify();
        return Ok(true);
    }
    // Written in both languages: the customer's pages, the staff's and the copy each read it in
    // theirs; the mail goes in the customer's.
    let (zh, en_text) = match request.kind {
        Kind::Objection => {
            let mut withdrawn = 0;
            for p in [
                Purpose::MarketingSms,
                Purpose::MarketingEmail,
                Purpose::MarketingWechat,
            ] {
                if consents::granted(&tx, customer, p).await? {
                    let change = Change {
                        purpose: p,
                        granted: false,
                        channel: Channel::Portal,
                        recorded_by: None,
                        notice_version: None,
                    };
                    consents::record(&tx, customer, change, now).await?;
                    withdrawn += 1;
                }
            }
            (
                format!(
                    "所有营销授权均已关闭（撤回 {withdrawn} 项），我们不会再向您发送营销信息。"
                ),
                format!(
                    "Every marketing consent is now off ({withdrawn} withdrawn). We will not contact you for marketing."
                ),
            )
        }
        Kind::Restriction => {
            tx.execute(
                &Query::update()
                    .table("customers")
                    .value("restricted_at", now)
                    .and_where(Expr::col("id").eq(customer))
                    .and_where(Expr::col("restricted_at").is_null())
                    .to_owned(),
            )
            .await?;
            (
                "您的信息已限制处理：在解除限制之前，我们只保存、不使用，也不会向您发送营销信息。"
                    .to_owned(),
                "Use of your data is now restricted: we keep it but do not use it, and send you no marketing, until the restriction is lifted.".to_owned(),
            )
        }
        Kind::Correction => {
            let contact = customers::contact(&tx, &portal.vault, customer).await?;
            let before = crate::sharing::Identifiers::read(&tx, &portal.vault, customer).await?;
            let mut change = record::ContactChange {
                name: customers::CustomerName::parse(&contact.name)?,
                email: contact.email.clone(),
                phone: contact.phone.clone(),
            };
            let mut applied = Vec::new();
            let mut confirming = false;
            for (field, value) in &details.corrections {
                if !details.approved.iter().any(|a| a == field) {
                    continue;
                }
                match field.as_str() {
                    "name" => change.name = customers::CustomerName::parse(value)?,
                    "phone" => {
                        change.phone = Some(
                            crate::phone::Phone::parse(value)
                                .map_err(|_| CoreError::Invalid("request.correction_value"))?,
                        )
                    }
                    // A new address is applied only once confirmed through a link sent to it.
                    "email" => {
                        let new = crate::email::Email::parse(value)
                            .map_err(|_| CoreError::Invalid("request.correction_value"))?;
                        super::email_change::start(portal, &tx, customer, &new, &lang, now).await?;
                        confirming = true;
                        continue;
                    }
                    _ => continue,
                }
                applied.push(field.clone());
            }
            record::update_contact(&tx, &portal.vault, customer, &change, now).await?;
            if !applied.is_empty() {
                let after = crate::sharing::Identifiers::read(&tx, &portal.vault, customer).await?;
                crate::sharing::open_tasks(&tx, &portal.vault, id, &before, Some(&after), now)
                    .await?;
            }
            let mut zh = match applied.is_empty() {
                false => format!("已更正：{}。", applied_words(&applied, false)),
                true => "没有更改其他信息。".to_owned(),
            };
            let mut en = match applied.is_empty() {
                false => format!("We corrected: {}.", applied_words(&applied, true)),
                true => "Nothing else was changed.".to_owned(),
            };
            if confirming {
                zh.push_str("我们已向您的新邮箱发送确认链接，请在 10 分钟内点击确认后生效。");
                en.push_str(" We sent a link to your new email address: it applies once you confirm it there (within 10 minutes).");
            }
            (zh, en)
        }
        Kind::Access => {
            let Some((name, size)) = built.as_ref().map(|b| (b.name.clone(), b.size)) else {
                return Ok(false);
            };
            let expires = now + super::export::LIFETIME;
            tx.execute(
                &Query::insert()
                    .into_table("exports")
                    .columns([
                        "request_id",
                        "customer_id",
                        "file_name",
                        "size_bytes",
                        "created_at",
                        "expires_at",
                        "downloads",
                    ])
                    .values_panic([
                        id.into(),
                        customer.into(),
                        name.into(),
                        (size as i64).into(),
                        now.into(),
                        expires.into(),
                        0i32.into(),
                    ])
                    .to_owned(),
            )
            .await?;
            let until = super::calendar(portal)
                .local_date(expires)
                .format("%Y-%m-%d");
            (
                format!(
                    "您的信息副本已生成，可在“我的申请”页面下载，有效期至 {until}，最多下载 3 次。若您登录已超过 10 分钟，下载前需要再次输入验证码。"
                ),
                format!(
                    "Your copy is ready to download from \"My requests\" until {until}, at most 3 times. You will be asked for a fresh code if you signed in more than 10 minutes ago."
                ),
            )
        }
        Kind::Deletion | Kind::Question => return Ok(false),
    };
    tx.execute(
        &Query::update()
            .table("requests")
            .value("outcome", super::outcome_both(&zh, &en_text))
            .and_where(Expr::col("id").eq(id))
            .to_owned(),
    )
    .await?;
    super::event_system(&tx, id, Status::Approved, Status::Done, now).await?;
    let after = super::get(&tx, id).await?;
    let told = if en { &en_text } else { &zh };
    tell(portal, &tx, &after, mails::Change::Done(told)).await?;
    tx.commit().await?;
    crate::failpoint::hit("export.committed");
    if let Some(built) = built
        && let Err(e) = built.finish()
    {
        // Its row is committed: the next start's recovery gives it its name.
        tracing::error!(error = %e, "a committed copy could not take its final name");
    }
    portal.outbox.notify();
    Ok(true)
}

/// The corrected fields in words, never their codes.
fn applied_words(applied: &[String], en: bool) -> String {
    let words: Vec<&str> = applied
        .iter()
        .map(|f| match (f.as_str(), en) {
            ("name", false) => "姓名",
            ("phone", false) => "手机号",
            ("email", false) => "邮箱",
            (_, false) => "其他",
            ("name", true) => "name",
            ("phone", true) => "phone number",
            ("email", true) => "email address",
            (_, true) => "other",
        })
        .collect();
    words.join(if en { ", " } else { "、" })
}

/// The privacy officer lifts a restriction, with its audit row in one transaction.
#[tracing::instrument(skip_all, fields(staff = staff, customer = customer))]
pub async fn officer_lifts_restriction(
    portal: &Portal,
    (staff, role): (i64, crate::staff::Role),
    customer: i64,
    now: DateTime<Utc>,
) -> Result<(), CoreError> {
    use crate::audit::{self, Actor};
    let lift = async |tx: &_| lift_restriction(tx, customer).await;
    let actor = Actor::Staff { id: staff, role };
    let action = crate::access::Action::DecideRequest;
    audit::audited(&portal.db, actor, action, now, lift, |_| {
        Some(("customer", customer))
    })
    .await
}

/// Lifts a restriction (staff, when the reason for it has gone).
pub async fn lift_restriction(db: &impl ConnectionTrait, customer: i64) -> Result<(), CoreError> {
    db.execute(
        &Query::update()
            .table("customers")
            .value("restricted_at", Option::<DateTime<Utc>>::None)
            .and_where(Expr::col("id").eq(customer))
            .to_owned(),
    )
    .await?;
    Ok(())
}
