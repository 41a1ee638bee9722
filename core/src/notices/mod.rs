//! Versioned privacy notices, public at a stable URL, in Chinese and English.

pub mod entity;

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect,
};
use serde::{Deserialize, Serialize};

use crate::CoreError;

/// A published notice in both languages.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    /// Version number, counting up from 1.
    pub version: i32,
    /// Chinese title.
    pub title_zh: String,
    /// English title.
    pub title_en: String,
    /// Chinese text; paragraphs separated by blank lines.
    pub body_zh: String,
    /// English text; paragraphs separated by blank lines.
    pub body_en: String,
    /// When it took effect.
    pub published_at: DateTime<Utc>,
}

impl Notice {
    /// The title and the paragraphs (blank-line separated, trimmed, none empty) in `lang`.
    pub fn in_lang(self, lang: portal_vocab::Lang) -> (String, Vec<String>) {
        let (title, body) = match lang {
            portal_vocab::Lang::Zh => (self.title_zh, self.body_zh),
            portal_vocab::Lang::En => (self.title_en, self.body_en),
        };
        let paragraphs = body
            .split("\n\n")
            .map(|p| p.trim().to_owned())
            .filter(|p| !p.is_empty())
            .collect();
        (title, paragraphs)
    }
}

/// The customer confirms having read version `version`, recorded with channel `portal`; a
/// version that is not the one waiting for them changes nothing.
#[tracing::instrument(skip_all, fields(customer = customer, version = version))]
pub async fn customer_confirms(
    db: &sea_orm::DatabaseConnection,
    customer: i64,
    version: i32,
    now: DateTime<Utc>,
) -> Result<(), CoreError> {
    if pending_confirmation(db, customer).await? == Some(version) {
        let portal = crate::consents::Channel::Portal;
        crate::consents::record_notice(db, customer, version, portal, None, now).await?;
    }
    Ok(())
}

/// A line in the list of versions.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoticeVersion {
    /// Version number.
    pub version: i32,
    /// When it took effect.
    pub published_at: DateTime<Utc>,
}

/// A new notice to publish.
pub struct NewNotice<'a> {
    /// Chinese title.
    pub title_zh: &'a str,
    /// English title.
    pub title_en: &'a str,
    /// Chinese text.
    pub body_zh: &'a str,
    /// English text.
    pub body_en: &'a str,
    /// Customers must confirm it at their next sign-in.
    pub requires_confirmation: bool,
    /// Who published it (none for the built-in first version).
    pub published_by: Option<i64>,
}

impl<'a> NewNotice<'a> {
    /// The officer's form, published by member of staff `by`.
    pub fn from_form(f: &'a portal_vocab::forms::Notice, by: i64) -> Self {
        NewNotice {
            title_zh: &f.title_zh,
            title_en: &f.title_en,
            body_zh: &f.body_zh,
            body_en: &f.body_en,
            requires_confirmation: f.requires_confirmation.is_some(),
            published_by: Some(by),
        }
    }
}

impl From<entity::Model> for Notice {
    fn from(m: entity::Model) -> Self {
        Self {
            version: m.version,
            title_zh: m.title_zh,
            title_en: m.title_en,
            body_zh: m.body_zh,
            body_en: m.body_en,
            published_at: m.published_at,
        }
    }
}

/// The notice in force: the highest version.
pub async fn current(db: &impl ConnectionTrait) -> Result<Notice, CoreError> {
    entity::Entity::find()
        .order_by_desc(entity::Column::Version)
        .one(db)
        .await?
        .map(Notice::from)
        .ok_or(CoreError::NotFound)
}

/// One version, current or earlier.
pub async fn version(db: &impl ConnectionTrait, version: i32) -> Result<Notice, CoreError> {
    entity::Entity::find()
        .filter(entity::Column::Version.eq(version))
        .one(db)
        .await?
        .map(Notice::from)
        .ok_or(CoreError::NotFound)
}

/// Every version, newest first.
pub async fn versions(db: &impl ConnectionTrait) -> Result<Vec<NoticeVersion>, CoreError> {
    let rows: Vec<(i32, DateTime<Utc>)> = entity::Entity::find()
        .select_only()
        .column(entity::Column::Version)
        .column(entity::Column::PublishedAt)
        .order_by_desc(entity::Column::Version)
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(version, published_at)| NoticeVersion {
            version,
            published_at,
        })
        .collect())
}

/// Publishes `new` as the next version and returns its number.
pub async fn publish(db: &impl ConnectionTrait, new: NewNotice<'_>) -> Result<i32, CoreError> {
    for (text, max) in [(new.title_zh, 200), (new.title_en, 200)] {
        if text.trim().is_empty() || text.chars().count() > max {
            return Err(CoreError::Invalid("notice.title"));
        }
    }
    if new.body_zh.trim().is_empty() || new.body_en.trim().is_empty() {
        return Err(CoreError::Invalid("notice.body"));
    }
    let next = versions(db).await?.first().map_or(1, |v| v.version + 1);
    entity::ActiveModel {
        version: Set(next),
        title_zh: Set(new.title_zh.trim().to_owned()),
        title_en: Set(new.title_en.trim().to_owned()),
        body_zh: Set(new.body_zh.trim().to_owned()),
        body_en: Set(new.body_en.trim().to_owned()),
        requires_confirmation: Set(new.requires_confirmation),
        published_at: Set(Utc::now()),
        published_by_staff_id: Set(new.published_by),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(next)
}

/// Publishes the built-in first notice when none exists, so a new portal is never without one.
pub async fn ensure_initial(db: &impl ConnectionTrait) -> Result<(), CoreError> {
    if entity::Entity::find().count(db).await? == 0 {
        publish(db, INITIAL).await?;
    }
    Ok(())
}

/// The first notice every portal starts with; the privacy officer publishes the salon's own.
pub const INITIAL: NewNotice<'static> = NewNotice {
    title_zh: "隐私政策",
    title_en: "Privacy notice",
    body_zh: "我们只收集为您提供美发美容服务所必需的个人信息：姓名、手机号、电子邮箱、服务档案、到店记录、会员卡信息，以及经您同意的照片。\n\n过敏史及皮肤、头皮状况属于敏感个人信息，仅在您单独同意后记录，用于保障服务安全。\n\n营销信息（短信、邮件、微信）和照片的展示，均需您逐项同意，您可随时在本门户中一键撤回；拒绝同意不影响您享受服务。\n\n您有权查阅、复制、更正、删除您的个人信息，限制或反对处理，并可就隐私问题提出咨询或投诉。我们将在15个工作日内答复。\n\n您的个人信息受到严格保护，仅限授权员工按其职责访问，每次访问均有记录，您可查看。法律要求保留的财务记录在删除时将去除身份信息。",
    body_en: "We collect only the personal data we need to serve you: your name, phone, email, service profile, visits, membership card and, with your consent, photos.\n\nAllergies and skin or scalp conditions are sensitive data. We keep them only with your separate consent, to serve you safely.\n\nMarketing (SMS, email, WeChat) and any use of your photos each need your consent, which you can withdraw here at any time with one tap. Saying no never affects our service to you.\n\nYou may see, copy, correct or delete your data, restrict or object to its use, and ask us a privacy question or make a complaint. We answer within 15 working days.\n\nYour data is protected. Only authorised staff see it, as their role requires; every access is recorded and shown to you. Financial records the law makes us keep are stripped of your identity when you ask us to delete your data.",
    requires_confirmation: false,
    published_by: None,
};

/// The newest notice version marked "needs confirmation" that `customer` has not yet confirmed
/// (or been shown at the counter), if any.
pub async fn pending_confirmation(
    db: &impl ConnectionTrait,
    customer: i64,
) -> Result<Option<i32>, CoreError> {
    use sea_orm::sea_query::{Expr, ExprTrait, Query};
    let Some(required) = entity::Entity::find()
        .filter(entity::Column::RequiresConfirmation.eq(true))
        .order_by_desc(entity::Column::Version)
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let q = Query::select()
        .column("id")
        .from("notice_confirmations")
        .and_where(Expr::col("customer_id").eq(customer))
        .and_where(Expr::col("notice_version").gte(required.version))
        .to_owned();
    Ok(match db.query_one(&q).await? {
        Some(_) => None,
        None => Some(required.version),
    })
}
