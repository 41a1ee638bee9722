//! The privacy officer manages staff: invitations by email, roles, deactivation, unlocking.
//! The invited person sets a password through a single-use, 24-hour link.

use leptos::{prelude::*, server_fn::ServerFn};
use leptos_router::hooks::use_query_map;
use serde::{Deserialize, Serialize};

use crate::{PortalError, use_texts};

#[cfg(feature = "ssr")]
use super::gate;

/// One account in the list.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AccountView {
    pub id: i64,
    pub name: String,
    pub email: String,
    pub role: portal_vocab::Role,
    pub active: bool,
    pub has_totp: bool,
    pub locked: bool,
    pub pending: bool,
    pub is_me: bool,
}

/// Every staff account.
#[server]
pub async fn team() -> Result<Vec<AccountView>, PortalError> {
    use portal_core::{access::Action, staff::auth};
    let c = gate::require(Action::ManageStaff).await?;
    let accounts = auth::accounts(&c.portal.db, &c.portal.vault, chrono::Utc::now()).await?;
    let me = c.member.id;
    Ok(accounts
        .into_iter()
        .map(|a| AccountView::new(a, me))
        .collect())
}

#[cfg(feature = "ssr")]
impl AccountView {
    /// The list's view of account `a`, read by member of staff `me`.
    fn new(a: portal_core::staff::auth::Account, me: i64) -> Self {
        AccountView {
            is_me: a.id == me,
            id: a.id,
            name: a.name,
            email: a.email,
            role: a.role,
            active: a.active,
            has_totp: a.has_totp,
            locked: a.locked,
            pending: a.pending,
        }
    }
}

/// Invites a new member of staff by email.
#[server]
pub async fn invite_staff(email: String, name: String, role: String) -> Result<(), PortalError> {
    use portal_core::{CoreError, Refusal, access::Action, staff::Refusal::Exists, staff::team};
    let c = gate::require(Action::ManageStaff).await?;
    let form = (email.as_str(), name.as_str(), role.as_str());
    let (ok, invalid) = ("/staff/team?done=invited", "/staff/team?error=invalid");
    match team::invite_form(&c.portal, c.actor(), form, chrono::Utc::now()).await {
        Err(CoreError::Refused(Refusal::Staff(Exists))) => gate::back("/staff/team?error=exists"),
        done => crate::settle(done, ok, invalid),
    }
}

/// Changes, deactivates or unlocks another member of staff (never oneself, so the salon cannot
/// lock out its last privacy officer by accident).
#[server]
pub async fn manage_staff(
    staff: i64,
    change: String,
    role: Option<String>,
) -> Result<(), PortalError> {
    use portal_core::{CoreError, access::Action, staff::team};
    let c = gate::require(Action::ManageStaff).await?;
    let form = (change.as_str(), role.as_deref());
    match team::change_form(&c.portal, c.actor(), staff, form, chrono::Utc::now()).await {
        Err(CoreError::NotFound) => gate::back("/staff/team?error=invalid"),
        done => crate::settle(done, "/staff/team?done=saved", "/staff/team?error=invalid"),
    }
}

/// The invited person's name, if the link still works. Spends nothing.
#[server]
pub async fn peek_invite(t: String) -> Result<Option<String>, PortalError> {
    let p = crate::signin::ssr::portal()?;
    Ok(portal_core::staff::auth::peek_invitation(&p.db, &t, chrono::Utc::now()).await?)
}

/// Sets the first password through the invitation link (spends it).
#[server]
pub async fn accept_invite(t: String, password: String) -> Result<(), PortalError> {
    use portal_core::staff::auth::{self, AuthError, PasswordProblem};
    let p = crate::signin::ssr::portal()?;
    // A token of the wrong shape is no invitation; it never reaches the database or a Location.
    if !portal_core::signin::well_formed_token(&t) {
        return gate::back("/staff/invite?error=expired");
    }
    let again = |e: &str| gate::back(&format!("/staff/invite?t={t}&error={e}"));
    let salon = &p.settings.salon_name;
    match auth::accept_invitation(&p.db, &t, &password, salon, chrono::Utc::now()).await {
        Ok(_) => gate::back("/staff/signin?error=password_set"),
        Err(AuthError::Password(PasswordProblem::TooShort)) => again("short"),
        Err(AuthError::Password(_)) => again("common"),
        Err(AuthError::Core(e)) => Err(e.into()),
        Err(_) => again("expired"),
    }
}

use portal_vocab::Role;

/// `/staff/team`.
#[component]
pub fn TeamPage() -> impl IntoView {
    let t = use_texts().staff;
    let q = use_query_map();
    let list = Resource::new(|| (), |_| team());
    crate::loaded(list, move |list| {
        view! {
            {move || {
                let q = q.read();
                q.get("done").map(|d| if d == "invited" { t.invited } else { t.saved })
                    .or_else(|| q.get("error").map(|e| if e == "exists" { t.staff_exists } else { t.invalid_input }))
                    .map(|m| view! { <p class="banner" role="status">{m}</p> })
            }}
            <section class="card">
                <h1>{t.team_title}</h1>
                <table class="table stack">
                    <thead><tr>
                        <th>{t.name}</th><th>{t.email}</th><th>{t.role}</th>
                        <th>{t.second_factor}</th><th>{t.status}</th><th></th>
                    </tr></thead>
                    <tbody>
                        {list.into_iter().map(|a| view! { <AccountRow a=a/> }).collect_view()}
                    </tbody>
                </table>
            </section>
            <section class="card">
                <h2>{t.invite_title}</h2>
                <form method="post" action=InviteStaff::PATH>
                    <label for="inv-name">{t.name}</label>
                    <input id="inv-name" name="name" type="text" required maxlength="100"/>
                    <label for="inv-email">{t.email}</label>
                    <input id="inv-email" name="email" type="email" required maxlength="254"/>
                    <label for="inv-role">{t.role}</label>
                    <select id="inv-role" name="role">
                        // The least powerful role that serves customers is the default.
                        {Role::ALL.map(|r| view! { <option value=r.as_str() selected=r == Role::FrontDesk>{t.role_names.get(r)}</option> }).collect_view()}
                    </select>
                    <button type="submit" class="button">{t.invite_button}</button>
                </form>
            </section>
        }.into_any()
    })
}

#[component]
fn AccountRow(a: AccountView) -> impl IntoView {
    let t = use_texts().staff;
    let status = if !a.active {
        t.inactive
    } else if a.locked {
        t.locked
    } else {
        t.active
    };
    let id = a.id;
    let manageable = !a.is_me && a.active;
    view! {
        <tr data-staff=id>
            <td data-label=t.name>{a.name.clone()}</td>
            <td data-label=t.email>{a.email.clone()}</td>
            <td data-label=t.role>{t.role_names.get(a.role)}</td>
            <td data-label=t.second_factor>{if a.has_totp { t.yes } else { t.no }}</td>
            <td data-label=t.status>{status}</td>
            <td>
                {manageable.then(|| view! {
                    <form method="post" action=ManageStaff::PATH class="inline-form">
                        <input type="hidden" name="staff" value=id/>
                        <input type="hidden" name="change" value="role"/>
                        <select name="role" aria-label=t.change_role>
                            {Role::ALL.map(|r| view! { <option value=r.as_str() selected=r == a.role>{t.role_names.get(r)}</option> }).collect_view()}
                        </select>
                        <button type="submit" class="link">{t.change_role}</button>
                    </form>
                    <form method="post" action=ManageStaff::PATH class="inline-form">
                        <input type="hidden" name="staff" value=id/>
                        <input type="hidden" name="change" value="deactivate"/>
                        <button type="submit" class="link">{t.deactivate}</button>
                    </form>
                })}
                {(a.locked && a.active).then(|| view! {
                    <form method="post" action=ManageStaff::PATH class="inline-form">
                        <input type="hidden" name="staff" value=id/>
                        <input type="hidden" name="change" value="unlock"/>
                        <button type="submit" class="link">{t.unlock}</button>
                    </form>
                })}
            </td>
        </tr>
    }
}

/// `/staff/invite?t=…`: set a password.
#[component]
pub fn InvitePage() -> impl IntoView {
    let t = use_texts().staff;
    let q = use_query_map();
    let token = move || q.read().get("t").unwrap_or_default();
    let peek = Resource::new(token, peek_invite);
    crate::loaded(peek, move |loaded| {
        match loaded {
        Some(name) => view! {
            <section class="card">
                <h1>{t.invite_accept_title}</h1>
                <p>{(t.invite_accept_intro)(&name)}</p>
                {move || q.read().get("error").map(|e| {
                    let m = match e.as_str() { "short" => t.password_too_short, "common" => t.password_too_common, _ => t.invite_expired };
                    view! { <p class="banner" role="alert">{m}</p> }
                })}
                <form method="post" action=AcceptInvite::PATH>
                    <input type="hidden" name="t" value=token()/>
                    <label for="password">{t.new_password}</label>
                    <input id="password" name="password" type="password" autocomplete="new-password" required minlength="12" maxlength="128"/>
                    <button type="submit" class="button">{t.set_password}</button>
                </form>
            </section>
        }.into_any(),
        None => view! {
            <section class="card"><p role="alert">{t.invite_expired}</p></section>
        }.into_any(),
    }
    })
}
