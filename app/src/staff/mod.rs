//! The staff area. Every server function here starts with [`gate::require`], the one place
//! that decides (from the role matrix in `portal_core::access`) whether the caller may act;
//! pages only hide what a role cannot use. Forms are plain POSTs to server functions.

pub mod audit;
pub mod customers;
pub mod marketing;
pub mod notices;
pub mod requests;
pub mod retention;
pub mod sharing;
pub mod takedowns;
pub mod team;
pub mod texts;

use leptos::{prelude::*, server_fn::ServerFn};
use leptos_router::{
    components::{A, Outlet},
    hooks::use_query_map,
};
use portal_vocab::{Action, Role};
use serde::{Deserialize, Serialize};

#[cfg(feature = "ssr")]
use crate::identity::Cookie;
use crate::{PortalError, use_texts};

/// A stored role code in the language of `t` (also for the customer's access log).
pub fn role_name(t: &texts::StaffTexts, role: &str) -> &'static str {
    // An unknown code (never stored by the portal) reads as the least powerful role.
    let role = role.parse().unwrap_or(portal_vocab::Role::Marketing);
    t.role_names.get(role)
}

/// The server-side gate and helpers shared by the staff server functions.
#[cfg(feature = "ssr")]
pub(crate) mod gate {
    use chrono::Utc;
    use leptos::prelude::*;
    use portal_core::{
        Portal,
        access::{Action, Denied, authorize},
        audit::Actor,
        sessions::{self, Subject},
        staff::auth::{self, Member},
    };

    use crate::{
        PortalError,
        identity::{Cookie, StaffMember},
        signin::ssr as web,
    };

    /// A staff member allowed to do what they asked.
    pub struct Caller {
        pub portal: Portal,
        pub member: Member,
    }

    impl Caller {
        /// This caller as the domain's staff operations take them: id and current role.
        pub fn by(&self) -> (i64, portal_core::staff::Role) {
            (self.member.id, self.member.role)
        }

        /// This caller as the audit log names them.
        pub fn actor(&self) -> Actor {
            Actor::Staff {
                id: self.member.id,
                role: self.member.role,
            }
        }
    }

    fn set_status(code: http::StatusCode) {
        if let Some(resp) = use_context::<leptos_axum::ResponseOptions>() {
            resp.set_status(code);
        }
    }

    /// The signed-in staff member, re-read from the database on every request, so a
    /// deactivation or a role change applies at once. A database error refuses (fail closed).
    pub async fn current(p: &Portal) -> Result<Option<StaffMember>, PortalError> {
        let (headers, extensions) = web::request_parts();
        Ok(StaffMember::from_request(p, &headers, &extensions).await?)
    }

    /// The one gate of the staff area.
    pub async fn require(action: Action) -> Result<Caller, PortalError> {
        let portal = web::portal()?;
        let current = current(&portal).await?;
        match (
            authorize(current.as_ref().map(|s| s.member.role), action),
            current,
        ) {
            (Ok(_), Some(StaffMember { member, .. })) => Ok(Caller { portal, member }),
            (Err(Denied::Forbidden), _) => {
                set_status(http::StatusCode::FORBIDDEN);
                Err(PortalError::Forbidden)
            }
            _ => {
                set_status(http::StatusCode::UNAUTHORIZED);
                leptos_axum::redirect("/staff/signin");
                Err(PortalError::SignInRequired)
            }
        }
    }

    /// Starts a staff session and lands on the dashboard. The browser becomes trusted for this
    /// account: its later attempts count on a delay of their own (see `auth::sign_in_from`).
    pub async fn sign_in(p: &Portal, staff: i64) -> Result<(), PortalError> {
        let token =
            sessions::start(&p.db, &p.session_keys, Subject::Staff(staff), Utc::now()).await?;
        web::set_cookie(
            p,
            Cookie::StaffSession,
            &token,
            sessions::ABSOLUTE.num_seconds(),
        );
        web::set_cookie(p, Cookie::StaffStep, "", 0);
        web::set_cookie(
            p,
            Cookie::StaffDevice,
            &auth::device_token(&p.vault, staff),
            auth::DEVICE_FOR.num_seconds(),
        );
        leptos_axum::redirect("/staff");
        Ok(())
    }

    pub use crate::back;

    /// The password is right and one more step is due: `pending` names it in the step cookie
    /// (five minutes), and the browser goes on to `page`.
    pub fn next_step(p: &Portal, pending: &str, page: &str) -> Result<(), PortalError> {
        web::set_cookie(p, Cookie::StaffStep, pending, 300);
        back(page)
    }
}

/// Step one: email and password.
#[server]
pub async fn staff_sign_in(email: String, password: String) -> Result<(), PortalError> {
    use portal_core::staff::auth::{self, AuthError, Step};
    let p = crate::signin::ssr::portal()?;
    let ip = crate::signin::ssr::client_ip(&p).await;
    let device = crate::signin::ssr::cookie(&p, Cookie::StaffDevice);
    let now = chrono::Utc::now();
    match auth::sign_in_from(&p, &email, &password, &ip, device.as_deref(), now).await {
        Ok(Step::Done { staff }) => gate::sign_in(&p, staff).await,
        Ok(Step::Code { pending }) => gate::next_step(&p, &pending, "/staff/code"),
        Ok(Step::Enrol { pending }) => gate::next_step(&p, &pending, "/staff/enrol"),
        Err(AuthError::Core(e)) => Err(e.into()),
        // Neither says whether the account exists: unknown addresses are delayed alike.
        Err(AuthError::Delayed) => gate::back("/staff/signin?error=wait"),
        Err(AuthError::Busy) => gate::back("/staff/signin?error=busy"),
        Err(_) => gate::back("/staff/signin?error=failed"),
    }
}

/// Step two: the authenticator code (also finishes an enrolment).
#[server]
pub async fn staff_code(code: String, page: String) -> Result<(), PortalError> {
    use portal_core::staff::auth::{self, AuthError};
    let p = crate::signin::ssr::portal()?;
    let pending = crate::signin::ssr::cookie(&p, Cookie::StaffStep).unwrap_or_default();
    match auth::sign_in_code(&p, &pending, &code, chrono::Utc::now()).await {
        Ok(staff) => gate::sign_in(&p, staff).await,
        Err(AuthError::WrongCode) if page == "enrol" => gate::back("/staff/enrol?error=code"),
        Err(AuthError::WrongCode) => gate::back("/staff/code?error=code"),
        Err(AuthError::Core(e)) => Err(e.into()),
        Err(_) => gate::back("/staff/signin?error=expired"),
    }
}

/// The QR code and key of an enrolment in progress.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EnrolView {
    pub qr_svg: String,
    pub secret: String,
}

/// The enrolment waiting in this browser's step cookie, if any. Spends nothing.
#[server]
pub async fn staff_enrolment() -> Result<Option<EnrolView>, PortalError> {
    use portal_core::staff::auth::{self, AuthError};
    let p = crate::signin::ssr::portal()?;
    let pending = crate::signin::ssr::cookie(&p, Cookie::StaffStep).unwrap_or_default();
    match auth::enrolment(&p, &pending, chrono::Utc::now()).await {
        Ok(e) => Ok(e.map(|e| EnrolView {
            qr_svg: e.qr_svg,
            secret: e.secret_base32,
        })),
        Err(AuthError::Core(e)) => Err(e.into()),
        Err(_) => Ok(None),
    }
}

/// A signed-in member of staff starts setting up a second factor, or replaces theirs: then
/// `current_code`, from the authenticator they have now, is required.
#[server]
pub async fn staff_start_enrolment(current_code: Option<String>) -> Result<(), PortalError> {
    use portal_core::{
        access::Action,
        staff::auth::{self, AuthError},
    };
    let c = gate::require(Action::ViewDashboard).await?;
    let (me, now) = (c.member.id, chrono::Utc::now());
    match auth::start_enrolment(&c.portal, me, current_code.as_deref(), now).await {
        Ok(pending) => gate::next_step(&c.portal, &pending, "/staff/enrol"),
        Err(AuthError::WrongCode | AuthError::Delayed) => gate::back("/staff/security?error=code"),
        Err(AuthError::Core(e)) => Err(e.into()),
        Err(_) => Err(PortalError::Internal),
    }
}

/// Ends the staff session at once and clears the browser's site data.
#[server]
pub async fn staff_sign_out() -> Result<(), PortalError> {
    let p = crate::signin::ssr::portal()?;
    if let Some(crate::identity::StaffMember { session: s, .. }) = gate::current(&p).await? {
        portal_core::sessions::end(&p.db, &s.id, chrono::Utc::now()).await?;
    }
    crate::signin::ssr::set_cookie(&p, Cookie::StaffSession, "", 0);
    crate::clear_site_data();
    gate::back("/staff/signin")
}

/// Who is signed in, for the navigation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Me {
    pub name: String,
    pub role: Role,
    pub has_totp: bool,
}

impl Me {
    /// Whether the member's role may take `action` (the role matrix itself, so pages hide
    /// exactly what the gate would refuse).
    pub fn may(&self, action: Action) -> bool {
        self.role.may(action)
    }
}

/// The member of staff the staff layout read for this page (pages below the layout only).
pub fn use_me() -> Me {
    // Always there below the layout. Were a page placed outside it, it would show a nameless
    // marketing member's buttons; the server functions refuse whatever the role may not do.
    use_context::<Me>().unwrap_or(Me {
        name: String::new(),
        role: Role::Marketing,
        has_totp: false,
    })
}

/// The signed-in member of staff.
#[server]
pub async fn staff_me() -> Result<Me, PortalError> {
    let c = gate::require(Action::ViewDashboard).await?;
    Ok(Me {
        name: c.member.name.clone(),
        role: c.member.role,
        has_totp: c.member.has_totp,
    })
}

/// Every signed-in staff page: the member is read once, for the navigation and, through
/// [`use_me`], for the page in the `<Outlet/>`. A visitor who is not signed in is sent to the
/// sign-in page before any page below runs its own server function.
#[component]
pub fn StaffLayout() -> impl IntoView {
    // Read again on each navigation (as each page did before the layout): a role changed or a
    // session ended shows on the next page, not only after a reload.
    let path = leptos_router::hooks::use_location().pathname;
    let me = Resource::new(move || path.get(), |_| staff_me());
    crate::loaded(me, |m: Me| {
        provide_context(m.clone());
        view! {
            <StaffNav me=m/>
            <Outlet/>
        }
    })
}

/// One item of the posture checklist, as the page names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Check {
    /// Active staff without a second factor (figure: how many).
    StaffTwoFactor,
    /// The last backup's age (figure: hours).
    BackupAge,
    /// No backup yet.
    NoBackup,
    /// Requests past their due date (figure: how many).
    Overdue,
    /// Mail over TLS.
    SmtpTls,
    /// Mail in the clear.
    SmtpPlain,
    /// Mail to the dev mailbox.
    SmtpDev,
    /// The key file is the portal's own.
    KeyFileOk,
    /// The key file can be read by others.
    KeyFileOpen,
    /// The key comes from the environment.
    KeyEnv,
}

impl Check {
    /// The item's name in the page's markup (`data-item`).
    pub fn code(self) -> &'static str {
        match self {
            Check::StaffTwoFactor => "staff_2fa",
            Check::BackupAge => "backup_age",
            Check::NoBackup => "no_backup",
            Check::Overdue => "overdue",
            Check::SmtpTls => "smtp_tls",
            Check::SmtpPlain => "smtp_plain",
            Check::SmtpDev => "smtp_dev",
            Check::KeyFileOk => "key_file_ok",
            Check::KeyFileOpen => "key_file_open",
            Check::KeyEnv => "key_env",
        }
    }
}

/// One posture item: what it is, a figure, and whether it is fine.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PostureItem {
    pub item: Check,
    pub figure: i64,
    pub ok: bool,
}

/// The dashboard.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DashboardView {
    pub open: i64,
    pub due_soon: i64,
    pub overdue: i64,
    /// Monday of each week (`YYYY-MM-DD`) and the requests submitted that week, oldest first.
    pub weeks: Vec<(String, i64)>,
    /// Only for the privacy officer.
    pub posture: Option<Vec<PostureItem>>,
    /// Open photo takedown tasks, for those who work them.
    pub takedowns: Option<i64>,
}

#[cfg(feature = "ssr")]
impl DashboardView {
    /// The page's view of the dashboard: dates as text, the posture as its checklist.
    fn new(o: portal_core::dashboard::Overview, now: chrono::DateTime<chrono::Utc>) -> Self {
        use portal_core::dashboard::{KeyFile, MailTransport};
        let item = |item, figure, ok| PostureItem { item, figure, ok };
        let posture = o.posture.map(|p| {
            vec![
                item(
                    Check::StaffTwoFactor,
                    p.staff_without_totp,
                    p.staff_without_totp == 0,
                ),
                match p.last_backup {
                    Some(t) => item(Check::BackupAge, (now - t).num_hours(), p.backup_ok(now)),
                    None => item(Check::NoBackup, 0, false),
                },
                item(Check::Overdue, p.overdue_requests, p.overdue_requests == 0),
                match p.mail {
                    MailTransport::Tls => item(Check::SmtpTls, 0, true),
                    MailTransport::Plain => item(Check::SmtpPlain, 0, false),
                    MailTransport::DevMailbox => item(Check::SmtpDev, 0, false),
                },
                match p.key_file {
                    KeyFile::Private => item(Check::KeyFileOk, 0, true),
                    KeyFile::Open => item(Check::KeyFileOpen, 0, false),
                    KeyFile::Environment => item(Check::KeyEnv, 0, true),
                },
            ]
        });
        DashboardView {
            open: o.deadlines.open,
            due_soon: o.deadlines.due_soon,
            overdue: o.deadlines.overdue,
            weeks: o
                .weeks
                .into_iter()
                .map(|(w, n)| (w.format("%Y-%m-%d").to_string(), n))
                .collect(),
            posture,
            takedowns: o.takedowns,
        }
    }
}

/// Requests and posture for the dashboard.
#[server]
pub async fn staff_dashboard() -> Result<DashboardView, PortalError> {
    let c = gate::require(Action::ViewDashboard).await?;
    let now = chrono::Utc::now();
    let o = portal_core::dashboard::overview(&c.portal, c.member.role, 12, now).await?;
    Ok(DashboardView::new(o, now))
}

fn error_param() -> Memo<Option<String>> {
    let q = use_query_map();
    Memo::new(move |_| q.read().get("error"))
}

/// `/staff/signin`.
#[component]
pub fn StaffSignInPage() -> impl IntoView {
    let t = use_texts().staff;
    let error = error_param();
    view! {
        <section class="card">
            <h1>{t.signin_title}</h1>
            {move || error.get().map(|e| {
                let msg = match e.as_str() {
                    "expired" => t.step_expired,
                    "password_set" => t.password_set,
                    "wait" => t.signin_wait,
                    "busy" => t.signin_busy,
                    _ => t.signin_failed,
                };
                view! { <p class="banner" role="alert">{msg}</p> }
            })}
            <form method="post" action=StaffSignIn::PATH>
                <label for="email">{t.email}</label>
                <input id="email" name="email" type="email" autocomplete="username" required maxlength="254"/>
                <label for="password">{t.password}</label>
                <input id="password" name="password" type="password" autocomplete="current-password" required maxlength="128"/>
                <button type="submit" class="button">{t.signin_submit}</button>
            </form>
        </section>
    }
}

/// `/staff/code`.
#[component]
pub fn StaffCodePage() -> impl IntoView {
    let t = use_texts().staff;
    let error = error_param();
    view! {
        <section class="card">
            <h1>{t.code_title}</h1>
            <p>{t.code_intro}</p>
            {move || error.get().map(|_| view! { <p class="banner" role="alert">{t.code_wrong}</p> })}
            <CodeForm page="code"/>
        </section>
    }
}

#[component]
fn CodeForm(page: &'static str) -> impl IntoView {
    let t = use_texts().staff;
    view! {
        <form method="post" action=StaffCode::PATH>
            <input type="hidden" name="page" value=page/>
            <label for="code">{t.code_label}</label>
            <input id="code" name="code" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9]{6}" maxlength="6" required/>
            <button type="submit" class="button">{t.confirm}</button>
        </form>
    }
}

/// `/staff/enrol`: the QR code (drawn on the server) and the key.
#[component]
pub fn StaffEnrolPage() -> impl IntoView {
    let t = use_texts().staff;
    let error = error_param();
    let enrol = Resource::new(|| (), |_| staff_enrolment());
    crate::loaded(enrol, move |loaded| {
        match loaded {
        Some(e) => view! {
            <section class="card">
                <h1>{t.enrol_title}</h1>
                <p>{t.enrol_intro}</p>
                {move || error.get().map(|_| view! { <p class="banner" role="alert">{t.code_wrong}</p> })}
                <div class="qr" inner_html=e.qr_svg></div>
                <p>{t.enrol_secret}": "<code class="secret">{e.secret}</code></p>
                <CodeForm page="enrol"/>
            </section>
        }.into_any(),
        None => view! {
            <section class="card">
                <p role="alert">{t.step_expired}</p>
                <p><A href="/staff/signin">{t.signin_title}</A></p>
            </section>
        }.into_any(),
    }
    })
}

/// The staff navigation, showing only what the role may use.
#[component]
pub fn StaffNav(me: Me) -> impl IntoView {
    let t = use_texts().staff;
    let may = move |a: Action| me.may(a);
    view! {
        <nav class="staff-nav" aria-label=t.area>
            <A href="/staff">{t.nav_dashboard}</A>
            {may(Action::SearchCustomers).then(|| view! { <A href="/staff/customers">{t.nav_customers}</A> })}
            {may(Action::CreateCustomer).then(|| view! { <A href="/staff/customers/new">{t.nav_new_customer}</A> })}
            {may(Action::ViewRequests).then(|| view! { <A href="/staff/requests">{t.nav_requests}</A> })}
            {may(Action::ViewConsentCounts).then(|| view! { <A href="/staff/marketing">{t.nav_marketing}</A> })}
            {may(Action::ProcessTakedowns).then(|| view! { <A href="/staff/takedowns">{t.nav_takedowns}</A> })}
            {may(Action::ManageSharing).then(|| view! { <A href="/staff/sharing">{t.nav_sharing}</A> })}
            {may(Action::SetRetention).then(|| view! { <A href="/staff/retention">{t.nav_retention}</A> })}
            {may(Action::PublishNotice).then(|| view! { <A href="/staff/notices">{t.nav_notices}</A> })}
            {may(Action::ManageStaff).then(|| view! { <A href="/staff/team">{t.nav_team}</A> })}
            {may(Action::ViewAuditLog).then(|| view! { <A href="/staff/audit">{t.nav_audit}</A> })}
            <A href="/staff/security">{t.nav_security}</A>
            <form method="post" action=StaffSignOut::PATH class="inline">
                <button type="submit" class="link">{use_texts().sign_out}</button>
            </form>
        </nav>
    }
}

/// `/staff`: deadlines, requests per week, posture.
#[component]
pub fn DashboardPage() -> impl IntoView {
    let t = use_texts().staff;
    let me = use_me();
    let dash = Resource::new(|| (), |_| staff_dashboard());
    crate::loaded(dash, move |d| {
        view! {
            <section class="card">
                <h1>{(t.welcome)(&me.name, t.role_names.get(me.role))}</h1>
                <dl class="figures">
                    <div><dt>{t.open_requests}</dt><dd data-figure="open">{d.open}</dd></div>
                    <div><dt>{t.due_soon}</dt><dd data-figure="due-soon">{d.due_soon}</dd></div>
                    <div><dt>{t.overdue}</dt><dd data-figure="overdue">{d.overdue}</dd></div>
                    {d.takedowns.map(|n| view! {
                        <div><dt><A href="/staff/takedowns">{t.nav_takedowns}</A></dt><dd data-figure="takedowns">{n}</dd></div>
                    })}
                </dl>
            </section>
            <section class="card">
                <h2>{t.chart_title}</h2>
                <WeekChart weeks=d.weeks.clone()/>
            </section>
            {d.posture.clone().map(|items| view! {
                <section class="card">
                    <h2>{t.posture_title}</h2>
                    <ul class="posture">
                        {items.into_iter().map(|i| view! { <PostureLine item=i/> }).collect_view()}
                    </ul>
                </section>
            })}
        }
    })
}

#[component]
fn PostureLine(item: PostureItem) -> impl IntoView {
    let t = use_texts().staff;
    let text = match item.item {
        Check::StaffTwoFactor => (t.posture_staff_2fa)(item.figure),
        Check::BackupAge => (t.posture_backup_age)(item.figure),
        Check::NoBackup => t.posture_no_backup.to_owned(),
        Check::Overdue => (t.posture_overdue)(item.figure),
        Check::SmtpTls => t.posture_smtp_tls.to_owned(),
        Check::SmtpPlain => t.posture_smtp_plain.to_owned(),
        Check::SmtpDev => t.posture_smtp_dev.to_owned(),
        Check::KeyFileOk => t.posture_key_file_ok.to_owned(),
        Check::KeyFileOpen => t.posture_key_file_open.to_owned(),
        Check::KeyEnv => t.posture_key_env.to_owned(),
    };
    let (class, status) = if item.ok {
        ("ok", t.posture_ok)
    } else {
        ("attention", t.posture_attention)
    };
    view! {
        <li class=class data-item=item.item.code()>
            <span class="status">{status}</span>" "{text}
        </li>
    }
}

/// Bars drawn as SVG on the server: readable without JavaScript, each bar titled for screen
/// readers and hover.
#[component]
pub(crate) fn WeekChart(weeks: Vec<(String, i64)>) -> impl IntoView {
    let t = use_texts().staff;
    let max = weeks.iter().map(|(_, n)| *n).max().unwrap_or(0).max(1);
    let (w, h, bar) = (360i64, 120i64, 24i64);
    let gap = if weeks.is_empty() {
        0
    } else {
        (w - bar * weeks.len() as i64) / weeks.len() as i64
    };
    view! {
        <svg class="chart" viewBox=format!("0 0 {w} {}", h + 20) role="img" aria-label=t.chart_title>
            {weeks.into_iter().enumerate().map(|(i, (week, n))| {
                let x = i as i64 * (bar + gap) + gap / 2;
                let bh = n * h / max;
                let label = (t.chart_label)(&week, n);
                view! {
                    <g>
                        <title>{label}</title>
                        <rect x=x y=h - bh width=bar height=bh fill="#9b3d5a"></rect>
                        <text x=x + bar / 2 y=h + 14 text-anchor="middle" font-size="10">{n}</text>
                    </g>
                }
            }).collect_view()}
        </svg>
    }
}

/// `/staff/security`: the member's second factor.
#[component]
pub fn SecurityPage() -> impl IntoView {
    let t = use_texts().staff;
    let error = error_param();
    let m = use_me();
    view! {
        <section class="card">
            <h1>{t.security_title}</h1>
            {move || error.get().map(|_| view! { <p class="banner" role="alert">{t.security_code_wrong}</p> })}
            {if m.has_totp {
                view! {
                    <p>{t.security_on}</p>
                    <form method="post" action=StaffStartEnrolment::PATH>
                        <label for="current_code">{t.security_current_code}</label>
                        <input id="current_code" name="current_code" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9]{6}" maxlength="6" required/>
                        <button type="submit" class="button">{t.security_replace}</button>
                    </form>
                }.into_any()
            } else {
                view! {
                    <p>{t.security_off}</p>
                    <form method="post" action=StaffStartEnrolment::PATH>
                        <button type="submit" class="button">{t.security_start}</button>
                    </form>
                }.into_any()
            }}
        </section>
    }
}
