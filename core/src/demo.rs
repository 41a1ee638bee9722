//! The demo salon: staff of every role, 200 made-up customers with visits, memberships,
//! consents in mixed states, small generated photos, and requests in every state.
//!
//! Every name, address and number is generated (addresses use the reserved `example.com`);
//! no real person's data is involved. Loading twice changes nothing.

use chrono::{Duration, Utc};
use sea_orm::{
    ConnectionTrait, DatabaseTransaction, TransactionTrait,
    sea_query::{Expr, ExprTrait, OnConflict, Query, SimpleExpr},
};

use crate::{
    CoreError, Portal,
    consents::{self, Channel, Purpose},
    customers::{self, CustomerName, NewCustomer, record, seal_text},
    email::Email,
    notices,
    phone::Phone,
    photos::{PhotoUse, Platform},
    requests::{Kind, Status},
    staff,
    vault::{Field, SecretKey, seal},
};

/// Sealed columns written by the demo (and, later, by the features that own them).
pub mod fields {
    use crate::vault::Field;
    pub const HAIR: Field = Field::new("service_profiles", "hair_type_sealed");
    pub const SKIN: Field = Field::new("service_profiles", "skin_type_sealed");
    pub const PREFERENCES: Field = Field::new("service_profiles", "preferences_sealed");
    pub const SENSITIVE: Field = Field::new("sensitive_notes", "body_sealed");
    pub const VISIT_NOTES: Field = Field::new("visits", "notes_sealed");
    pub const CARD_NUMBER: Field = Field::new("memberships", "card_number_sealed");
    pub const PHOTO_FILE: Field = Field::new("photos", "file");
}

/// A demo member of staff, with the password and TOTP secret the README lists. Demo only: the
/// addresses are on `salon.example`, and a real salon creates its own staff.
pub struct DemoStaff {
    /// Sign-in address.
    pub email: &'static str,
    /// Display name.
    pub name: &'static str,
    /// Role.
    pub role: staff::Role,
    /// Demo password.
    pub password: &'static str,
    /// Base32 TOTP secret (for an authenticator app), where the demo sets one up.
    pub totp_base32: Option<&'static str>,
}

/// The demo salon's staff: every role (the owner and the store manager both privacy officers, as
/// product.md allows); both officers and one stylist with a second factor.
pub const DEMO_STAFF: [DemoStaff; 6] = [
    DemoStaff {
        email: "officer@salon.example",
        name: "周店长",
        role: staff::Role::PrivacyOfficer,
        password: "peony lantern officer 71",
        totp_base32: Some("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"),
    },
    DemoStaff {
        email: "owner@salon.example",
        name: "吴老板",
        role: staff::Role::PrivacyOfficer,
        password: "peony lantern owner 76",
        totp_base32: Some("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"),
    },
    DemoStaff {
        email: "desk@salon.example",
        name: "前台小林",
        role: staff::Role::FrontDesk,
        password: "peony lantern desk 72",
        totp_base32: None,
    },
    DemoStaff {
        email: "stylist.wang@salon.example",
        name: "王造型师",
        role: staff::Role::Stylist,
        password: "peony lantern wang 73",
        totp_base32: Some("KRSXG5CTMVRXEZLUKN2XAZLSKNSWG4TF"),
    },
    DemoStaff {
        email: "stylist.li@salon.example",
        name: "李美容师",
        role: staff::Role::Stylist,
        password: "peony lantern li 74",
        totp_base32: None,
    },
    DemoStaff {
        email: "marketing@salon.example",
        name: "市场部小陈",
        role: staff::Role::Marketing,
        password: "peony lantern chen 75",
        totp_base32: None,
    },
];

/// What [`load`] did.
#[derive(Debug, PartialEq, Eq)]
pub enum Loaded {
    /// The demo salon was loaded now, with this many customers.
    Now(usize),
    /// It was there already; nothing changed.
    Already,
}

const MARKER: &str = "demo_data_loaded";
/// Number of demo customers.
pub const CUSTOMERS: usize = 200;

const SURNAMES: [&str; 16] = [
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭",
];
const GIVEN: [&str; 16] = [
    "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明", "超",
];
const HAIR: [&str; 4] = ["straight", "wavy", "curly", "coily"];
const SKIN: [&str; 4] = ["dry", "oily", "combination", "sensitive"];
const SERVICES: [&str; 5] = ["cut", "colour", "perm", "facial", "scalp care"];

/// Deterministic xorshift, so the demo salon is the same on every machine.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

async fn insert(
    tx: &DatabaseTransaction,
    table: &'static str,
    cols: &[&'static str],
    vals: Vec<SimpleExpr>,
) -> Result<i64, CoreError> {
    let stmt = Query::insert()
        .into_table(table)
        .columns(cols.iter().copied())
        .values_panic(vals)
        .returning_col("id")
        .to_owned();
    let row = tx.query_one(&stmt).await?.ok_or(CoreError::NotFound)?;
    Ok(row.try_get::<i64>("", "id")?)
}

async fn insert_no_id(
    tx: &DatabaseTransaction,
    table: &'static str,
    cols: &[&'static str],
    vals: Vec<SimpleExpr>,
) -> Result<(), CoreError> {
    let stmt = Query::insert()
        .into_table(table)
        .columns(cols.iter().copied())
        .values_panic(vals)
        .to_owned();
    tx.execute(&stmt).await?;
    Ok(())
}

/// Inserts a row, then seals `text` into `field` with the new row's id as associated data.
async fn insert_sealed(
    tx: &DatabaseTransaction,
    table: &'static str,
    cols: &[&'static str],
    mut vals: Vec<SimpleExpr>,
    key: &SecretKey,
    field: Field,
    text: &str,
) -> Result<i64, CoreError> {
    let mut all = cols.to_vec();
    all.push(field.column);
    vals.push(v(Vec::<u8>::new()));
    let id = insert(tx, table, &all, vals).await?;
    let update = Query::update()
        .table(table)
        .value(field.column, seal_text(key, field, id, text))
        .and_where(sea_orm::sea_query::Expr::col("id").eq(id))
        .to_owned();
    tx.execute(&update).await?;
    Ok(id)
}

fn v<T: Into<sea_orm::Value>>(x: T) -> SimpleExpr {
    SimpleExpr::Value(x.into())
}

/// Whether the demo salon was loaded into this database.
pub async fn is_loaded(db: &impl ConnectionTrait) -> Result<bool, CoreError> {
    Ok(db
        .query_one(
            &Query::select()
                .column("key")
                .from("settings")
                .and_where(Expr::col("key").eq(MARKER))
                .to_owned(),
        )
        .await?
        .is_some())
}

/// Loads the demo salon unless it is there already.
pub async fn load(portal: &Portal) -> Result<Loaded, CoreError> {
    let tx = portal.db.begin().await?;
    // Claim the marker first: a second loader (or a second run) inserts nothing.
    let claim = Query::insert()
        .into_table("settings")
        .columns(["key", "value", "updated_at"])
        .values_panic([v(MARKER), v("1"), v(Utc::now())])
        .on_conflict(OnConflict::column("key").do_nothing().to_owned())
        .to_owned();
    if tx.execute(&claim).await?.rows_affected() == 0 {
        tx.rollback().await?;
        return Ok(Loaded::Already);
    }
    // Made-up customers and published passwords never go beside real people's data.
    for table in ["customers", "staff"] {
        let any = tx
            .query_one(&Query::select().column("id").from(table).limit(1).to_owned())
            .await?;
        if any.is_some() {
            tx.rollback().await?;
            return Err(crate::error::SetupRefusal::DemoNotEmpty.into());
        }
    }
    let now = Utc::now();
    let mut rng = Rng(0x005a_1011_5eed);

    let mut staff_ids = Vec::new();
    for d in DEMO_STAFF {
        let id = insert(
            &tx,
            "staff",
            &[
                "email",
                "name",
                "role",
                "password_hash",
                "active",
                "failed_sign_ins",
                "created_at",
                "updated_at",
            ],
            vec![
                v(d.email),
                v(d.name),
                v(d.role.as_str()),
                v(staff::hash_password(d.password)),
                v(true),
                v(0),
                v(now),
                v(now),
            ],
        )
        .await?;
        if let Some(secret) = d.totp_base32 {
            let bytes = totp_rs::Secret::Encoded(secret.to_owned())
                .to_bytes()
                .map_err(|_| CoreError::Invalid("demo.totp"))?;
            tx.execute(
                &Query::update()
                    .table("staff")
                    .value(
                        "totp_secret_sealed",
                        staff::auth::seal_totp_secret(&portal.vault, id, &bytes),
                    )
                    .and_where(Expr::col("id").eq(id))
                    .to_owned(),
            )
            .await?;
        }
        staff_ids.push((id, d.role));
    }
    let stylists: Vec<i64> = staff_ids
        .iter()
        .filter(|(_, r)| *r == staff::Role::Stylist)
        .map(|(i, _)| *i)
        .collect();
    let role_id = |role| {
        staff_ids
            .iter()
            .find(|(_, r)| *r == role)
            .map(|(i, _)| *i)
            .ok_or(CoreError::NotFound)
    };
    let desk = role_id(staff::Role::FrontDesk)?;
    let officer = role_id(staff::Role::PrivacyOfficer)?;

    if notices::current(&tx).await?.version == 1 {
        notices::publish(
            &tx,
            notices::NewNotice {
                title_zh: "隐私政策（2026年修订）",
                title_en: "Privacy notice (2026 revision)",
                body_zh: &format!("{}\n\n本次修订：新增社交媒体照片的单独授权，并说明我们与支付平台、短信服务商共享的信息。", notices::INITIAL.body_zh),
                body_en: &format!("{}\n\nThis revision adds a separate consent for photos on social media and explains what we share with our payment platform and SMS provider.", notices::INITIAL.body_en),
                // Not "needs confirmation": the demo customers would all meet it first.
                requires_confirmation: false,
                published_by: Some(officer),
            },
        )
        .await?;
    }

    let tick = || Some("on".to_owned());
    for (name, shared_zh, shared_en, why_zh, why_en, card, phone) in [
        (
            "PayPlatform",
            "会员卡号、支付金额",
            "card number, amounts paid",
            "处理付款",
            "to process payments",
            tick(),
            None,
        ),
        (
            "SMS Gateway",
            "手机号",
            "phone number",
            "发送预约提醒及经同意的营销短信",
            "appointment reminders and consented marketing SMS",
            None,
            tick(),
        ),
    ] {
        let recipient = crate::sharing::Recipient {
            name: name.to_owned(),
            data_zh: shared_zh.to_owned(),
            data_en: shared_en.to_owned(),
            purpose_zh: why_zh.to_owned(),
            purpose_en: why_en.to_owned(),
            gives_card: card,
            gives_phone: phone,
            ..Default::default()
        };
        crate::sharing::add(&tx, &recipient).await?;
    }

    let photo_dir = portal.settings.data_dir.join("photos");
    std::fs::create_dir_all(&photo_dir)?;
    let mut customer_ids = Vec::with_capacity(CUSTOMERS);
    for n in 0..CUSTOMERS {
        let name = format!(
            "{}{}{}",
            SURNAMES[rng.below(16)],
            GIVEN[rng.below(16)],
            if n % 3 == 0 { GIVEN[rng.below(16)] } else { "" }
        );
        let since = now - Duration::days(30 + rng.below(700) as i64);
        let new = NewCustomer {
            name: CustomerName::parse(&name)?,
            email: Some(
                Email::parse(&format!("customer{:03}@example.com", n + 1))
                    .map_err(|_| CoreError::Invalid("demo.email"))?,
            ),
            phone: Some(
                Phone::parse(&format!("+86 139 0000 {:04}", n + 1))
                    .map_err(|_| CoreError::Invalid("demo.phone"))?,
            ),
            language: if n % 4 == 0 { "en" } else { "zh" },
            created_by: Some(desk),
            at: since,
        };
        let (cid, key) = customers::create(&tx, &portal.vault, &new).await?;
        customer_ids.push(cid);
        insert_no_id(
            &tx,
            "service_profiles",
            &[
                "customer_id",
                "hair_type_sealed",
                "skin_type_sealed",
                "preferred_stylist_id",
                "preferences_sealed",
                "updated_at",
            ],
            vec![
                v(cid),
                v(seal_text(&key, fields::HAIR, cid, HAIR[rng.below(4)])),
                v(seal_text(&key, fields::SKIN, cid, SKIN[rng.below(4)])),
                v(stylists[rng.below(stylists.len())]),
                v(seal_text(
                    &key,
                    fields::PREFERENCES,
                    cid,
                    "quiet appointment, no small talk",
                )),
                v(since),
            ],
        )
        .await?;

        // Consents: each purpose independently, some granted then withdrawn.
        let mut sensitive_ok = false;
        for purpose in Purpose::ALL {
            let roll = rng.below(10);
            if roll < 4 {
                continue; // never asked: off
            }
            let mut events = vec![true];
            if roll == 9 {
                events.push(false);
            }
            let (mut at, mut last) = (since + Duration::hours(1), false);
            for granted in events {
                // Through the ledger's own function: the demo can store no channel, purpose or
                // state the domain does not know.
                let channel = Channel::ALL[rng.below(3)];
                let change = consents::Change {
                    purpose,
                    granted,
                    channel,
                    recorded_by: (channel != Channel::Portal).then_some(desk),
                    notice_version: Some(1),
                };
                consents::record(&tx, cid, change, at).await?;
                last = granted;
                at += Duration::days(10);
            }
            sensitive_ok |= purpose == Purpose::SensitiveNotes && last;
        }
        if sensitive_ok {
            insert_sealed(
                &tx,
                "sensitive_notes",
                &[
                    "customer_id",
                    "category",
                    "recorded_by_staff_id",
                    "created_at",
                ],
                vec![v(cid), v("allergy"), v(stylists[0]), v(since)],
                &key,
                fields::SENSITIVE,
                "allergic to PPD hair dye",
            )
            .await?;
        }

        let mut visit_ids = Vec::new();
        for k in 0..rng.below(6) {
            let amount = 8000 + 1000 * rng.below(30) as i64;
            let visit = record::NewVisit {
                at: since + Duration::days(20 * k as i64 + 1),
                services: SERVICES[rng.below(5)],
                stylist: Some(stylists[rng.below(stylists.len())]),
                amount_cents: amount,
                notes: Some("happy with the result"),
            };
            let vid = record::record_visit(&tx, &portal.vault, cid, &visit).await?;
            visit_ids.push((vid, amount));
        }
        if n % 2 == 0 {
            let top_up = 100_000i64;
            let card = format!("VIP{:06}", n + 1);
            let mid = insert_sealed(
                &tx,
                "memberships",
                &[
                    "customer_id",
                    "card_number_index",
                    "balance_cents",
                    "points",
                    "opened_at",
                ],
                vec![
                    v(cid),
                    v(portal.vault.index("card", &card)),
                    v(0i64),
                    v(0i64),
                    v(since),
                ],
                &key,
                fields::CARD_NUMBER,
                &card,
            )
            .await?;
            let mut balance = top_up;
            insert(
                &tx,
                "membership_ledger",
                &[
                    "membership_id",
                    "at",
                    "kind",
                    "amount_cents",
                    "points_delta",
                    "balance_after_cents",
                    "visit_id",
                ],
                vec![
                    v(mid),
                    v(since),
                    v("top_up"),
                    v(top_up),
                    v(0i64),
                    v(balance),
                    v(None::<i64>),
                ],
            )
            .await?;
            let mut points = 0i64;
            for (vid, amount) in visit_ids.iter().take(2) {
                let spend = Ord::min(*amount, balance);
                balance -= spend;
                points += spend / 100;
                insert(
                    &tx,
                    "membership_ledger",
                    &[
                        "membership_id",
                        "at",
                        "kind",
                        "amount_cents",
                        "points_delta",
                        "balance_after_cents",
                        "visit_id",
                    ],
                    vec![
                        v(mid),
                        v(since + Duration::days(1)),
                        v("spend"),
                        v(-spend),
                        v(spend / 100),
                        v(balance),
                        v(Some(*vid)),
                    ],
                )
                .await?;
            }
            let update = Query::update()
                .table("memberships")
                .value("balance_cents", balance)
                .value("points", points)
                .and_where(sea_orm::sea_query::Expr::col("id").eq(mid))
                .to_owned();
            tx.execute(&update).await?;
        }
        if n % 10 == 0 {
            for (kind, seed) in [("before", n as u8), ("after", n as u8 ^ 0x5a)] {
                let bytes = demo_photo(seed);
                let size = bytes.len() as i64;
                let uses: &[PhotoUse] = [
                    &[][..],
                    &[PhotoUse::Portfolio][..],
                    &[
                        PhotoUse::Social(Platform::WeChat),
                        PhotoUse::Social(Platform::Xiaohongshu),
                    ][..],
                ][rng.below(3)];
                let pid = insert(
                    &tx,
                    "photos",
                    &[
                        "customer_id",
                        "taken_at",
                        "kind",
                        "content_type",
                        "file_name",
                        "size_bytes",
                        "taken_by_staff_id",
                    ],
                    vec![
                        v(cid),
                        v(since),
                        v(kind),
                        v("image/png"),
                        v(""),
                        v(size),
                        v(stylists[0]),
                    ],
                )
                .await?;
                // Photo files are sealed too: a copied data folder shows nothing.
                let file = format!("{pid}.sealed");
                std::fs::write(
                    photo_dir.join(&file),
                    seal(&key, fields::PHOTO_FILE, pid, &bytes),
                )?;
                let update = Query::update()
                    .table("photos")
                    .value("file_name", file)
                    .and_where(sea_orm::sea_query::Expr::col("id").eq(pid))
                    .to_owned();
                tx.execute(&update).await?;
                for code in uses.iter().map(|u| u.code()) {
                    insert_no_id(
                        &tx,
                        "photo_uses",
                        &["photo_id", "use_code", "granted_at"],
                        vec![v(pid), v(code.as_str()), v(since)],
                    )
                    .await?;
                    insert_no_id(
                        &tx,
                        "photo_use_events",
                        &[
                            "photo_id",
                            "customer_id",
                            "use_code",
                            "granted",
                            "at",
                            "channel",
                            "reason",
                        ],
                        vec![
                            v(pid),
                            v(cid),
                            v(code.as_str()),
                            v(true),
                            v(since),
                            v(Channel::FrontDesk.as_str()),
                            v("changed"),
                        ],
                    )
                    .await?;
                }
            }
        }
    }

    // Requests in every state and of every kind, due 15 working days (21 calendar days) out.
    // Written as rows: these are past states (decided weeks ago, by the officer) that the
    // domain's operations, which act now and mail the customer, never produce.
    for (i, cid) in customer_ids.iter().take(18).enumerate() {
        let status = Status::ALL[i % Status::ALL.len()].as_str();
        // Approved requests are carried out by the running portal; in the demo only copies
        // (exports) wait in that state, so starting the demo never deletes a demo customer.
        let kind = if status == "approved" {
            "access"
        } else {
            let n = Kind::ALL.len();
            Kind::ALL[(i + i / n) % n].as_str()
        };
        let submitted = now - Duration::days(3 + 2 * i as i64);
        let decided = matches!(status, "approved" | "done" | "denied");
        let reason = (status == "denied").then_some(
            "We could not match this request to your records; please ask at the front desk.",
        );
        let rid = insert(
            &tx,
            "requests",
            &[
                "customer_id",
                "kind",
                "status",
                "details_sealed",
                "submitted_at",
                "due_at",
                "decided_by_staff_id",
                "decided_at",
                "decision_reason",
                "completed_at",
            ],
            vec![
                v(*cid),
                v(kind),
                v(status),
                v(None::<Vec<u8>>),
                v(submitted),
                v(submitted + Duration::days(21)),
                v(decided.then_some(officer)),
                v(decided.then_some(submitted + Duration::days(2))),
                v(reason),
                v((status == "done").then_some(submitted + Duration::days(2))),
            ],
        )
        .await?;
        let mut from: Option<&str> = None;
        let path: &[&str] = match status {
            "submitted" => &["submitted"],
            "in_review" => &["submitted", "in_review"],
            "approved" => &["submitted", "in_review", "approved"],
            "done" => &["submitted", "in_review", "approved", "done"],
            "denied" => &["submitted", "in_review", "denied"],
            _ => &["submitted", "cancelled"],
        };
        for (k, to) in path.iter().enumerate() {
            let actor = if k == 0 || *to == "cancelled" {
                "customer"
            } else {
                "staff"
            };
            insert(
                &tx,
                "request_events",
                &[
                    "request_id",
                    "at",
                    "actor_kind",
                    "actor_staff_id",
                    "from_status",
                    "to_status",
                    "note",
                ],
                vec![
                    v(rid),
                    v(submitted + Duration::hours(k as i64)),
                    v(actor),
                    v((actor == "staff").then_some(officer)),
                    v(from),
                    v(*to),
                    v(None::<String>),
                ],
            )
            .await?;
            from = Some(to);
        }
    }
    tx.commit().await?;
    Ok(Loaded::Now(CUSTOMERS))
}

/// A 48×48 PNG gradient, different for each seed.
fn demo_photo(seed: u8) -> Vec<u8> {
    const SIDE: u32 = 48;
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, SIDE, SIDE);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let mut pixels = Vec::with_capacity((SIDE * SIDE * 3) as usize);
        for y in 0..SIDE {
            for x in 0..SIDE {
                pixels.extend([(x * 5) as u8 ^ seed, (y * 5) as u8, seed.wrapping_mul(3)]);
            }
        }
        // Writing into a Vec cannot fail for a well-formed header.
        if let Ok(mut w) = enc.write_header() {
            let _ = w.write_image_data(&pixels);
        }
    }
    out
}
