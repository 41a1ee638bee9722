//! Marketing in the staff area: per contact only "may we contact them?" per channel, counts per
//! purpose with their history, and the opted-in contacts of one channel as CSV (audited). The
//! privacy officer also manages the consent API keys here.

use leptos::{prelude::*, server_fn::ServerFn};
use leptos_router::hooks::use_query_map;
use portal_vocab::{MayContact, Purpose};
use serde::{Deserialize, Serialize};

use crate::{PortalError, use_texts};

#[cfg(feature = "ssr")]
use super::gate;
#[cfg(feature = "ssr")]
use crate::identity::Cookie;

/// Looks a contact up; the answer (yes/no per channel, `y`/`n`) goes into the URL, the contact
/// never does.
#[server]
pub async fn consent_lookup(contact: String) -> Result<(), PortalError> {
    use portal_core::{access::Action, consents};
    let c = gate::require(Action::CheckConsentStatus).await?;
    let may = consents::staff_checks(&c.portal, c.by(), &contact, chrono::Utc::now()).await?;
    gate::back(&format!("/staff/marketing?may={}", may.code()))
}

/// Counts now, and weekly history of each marketing channel.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CountsView {
    /// `(purpose, customers with it on)`.
    pub now: Vec<(Purpose, i64)>,
    /// Per marketing channel: `(channel, [(week ending, count)])`.
    pub weekly: Vec<(Purpose, Vec<(String, i64)>)>,
    /// API keys, for the privacy officer only.
    pub keys: Option<Vec<KeyRow>>,
}

/// One API key as the list shows it (never the key itself).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KeyRow {
    pub id: i64,
    pub name: String,
    pub scopes: String,
    pub created: String,
    pub last_used: Option<String>,
    pub revoked: bool,
}

#[cfg(feature = "ssr")]
impl CountsView {
    /// The page's view of the counts, and of the keys if the member manages them.
    fn new(
        c: portal_core::consents::Counts,
        keys: Option<Vec<portal_core::apikeys::Listed>>,
    ) -> Self {
        let day = portal_core::requests::calendar::local_day;
        let key = |k: portal_core::apikeys::Listed| KeyRow {
            id: k.id,
            name: k.name,
            scopes: k.scopes,
            created: day(k.created_at),
            last_used: k.last_used_at.map(day),
            revoked: k.revoked_at.is_some(),
        };
        CountsView {
            now: c.now,
            weekly: c
                .weekly
                .into_iter()
                .map(|(p, w)| (p, w.into_iter().map(|(d, n)| (day(d), n)).collect()))
                .collect(),
            keys: keys.map(|k| k.into_iter().map(key).collect()),
        }
    }
}

/// The counts (and, for the officer, the API keys).
#[server]
pub async fn consent_counts() -> Result<CountsView, PortalError> {
    use portal_core::{access::Action, apikeys, consents};
    let c = gate::require(Action::ViewConsentCounts).await?;
    let counts = consents::counts_overview(&c.portal.db, chrono::Utc::now(), 12).await?;
    let keys = match c.member.role.may(Action::ManageApiKeys) {
        true => Some(apikeys::list(&c.portal.db).await?),
        false => None,
    };
    Ok(CountsView::new(counts, keys))
}

/// Makes an API key; it is shown once, on the next page only (in a short-lived cookie, never in
/// a URL).
#[server]
pub async fn create_api_key(name: String, changes: Option<String>) -> Result<(), PortalError> {
    use portal_core::{access::Action, apikeys};
    let c = gate::require(Action::ManageApiKeys).await?;
    let now = chrono::Utc::now();
    match apikeys::officer_creates(&c.portal, c.by(), &name, changes.is_some(), now).await {
        Ok(key) => {
            crate::signin::ssr::set_cookie(&c.portal, Cookie::NewApiKey, &key, 120);
            gate::back("/staff/marketing?key=new")
        }
        Err(e) => crate::refused(e, "/staff/marketing?error=invalid"),
    }
}

/// The key just made, read once from its cookie (then the cookie is cleared).
#[server]
pub async fn take_new_api_key() -> Result<Option<String>, PortalError> {
    use portal_core::access::Action;
    let c = gate::require(Action::ManageApiKeys).await?;
    let key = crate::signin::ssr::cookie(&c.portal, Cookie::NewApiKey).filter(|k| !k.is_empty());
    crate::signin::ssr::set_cookie(&c.portal, Cookie::NewApiKey, "", 0);
    Ok(key)
}

/// Revokes a key at once.
#[server]
pub async fn revoke_api_key(id: i64) -> Result<(), PortalError> {
    use portal_core::{access::Action, apikeys};
    let c = gate::require(Action::ManageApiKeys).await?;
    apikeys::officer_revokes(&c.portal, c.by(), id, chrono::Utc::now()).await?;
    gate::back("/staff/marketing?done=revoked")
}

/// `/staff/marketing`.
#[component]
pub fn MarketingPage() -> impl IntoView {
    let t = use_texts().staff;
    let q = use_query_map();
    // The counts, and a key made a moment ago (shown once; a failure to read it shows none).
    let page = Resource::new(
        move || q.read().get("key"),
        |k| async move {
            let counts = consent_counts().await?;
            let key = match k {
                Some(_) => take_new_api_key().await.ok().flatten(),
                None => None,
            };
            Ok((counts, key))
        },
    );
    crate::loaded(page, move |(counts, new_key)| {
        let may = q.read().get("may").and_then(|m| MayContact::parse(&m));
        view! {
            <section class="card">
                <h1>{t.marketing_title}</h1>
                <form method="post" action=ConsentLookup::PATH>
                    <label for="m-contact">{t.marketing_lookup}</label>
                    <input id="m-contact" name="contact" type="search" required maxlength="254" autocomplete="off"/>
                    <button type="submit" class="button">{t.search_button}</button>
                </form>
                {may.map(|m| view! {
                    <dl class="facts" data-section="may-contact">
                        {m.answers().map(|(p, may)| view! {
                            <dt>{t.purpose_names.get(p)}</dt>
                            <dd data-channel=p.code()>{if may { t.may_yes } else { t.may_no }}</dd>
                        }).collect_view()}
                    </dl>
                })}
            </section>
            <section class="card">
                <h2>{t.marketing_counts}</h2>
                <dl class="facts">
                    {counts.now.into_iter().map(|(p, n)| view! {
                        <dt>{t.purpose_names.get(p)}</dt><dd data-count=p.code()>{n}</dd>
                    }).collect_view()}
                </dl>
                {counts.weekly.into_iter().map(|(p, weeks)| view! {
                    <h3>{t.purpose_names.get(p)}</h3>
                    <super::WeekChart weeks=weeks/>
                }).collect_view()}
            </section>
            <section class="card">
                <h2>{t.marketing_export}</h2>
                <ul class="lines">
                    {Purpose::MARKETING.map(|p| view! {
                        <li><a href=format!("/staff/marketing/export.csv?channel={}", p.code()) download>{t.purpose_names.get(p)}" (CSV)"</a></li>
                    }).collect_view()}
                </ul>
            </section>
            {counts.keys.map(|keys| view! {
                <section class="card" data-section="api-keys">
                    <h2>{t.api_keys}</h2>
                    {new_key.map(|k| view! {
                        <p class="banner" role="status">{t.api_key_once}<br/><code class="secret" data-new-key="true">{k}</code></p>
                    })}
                    <table class="table">
                        <thead><tr><th>{t.name}</th><th>{t.api_scopes}</th><th>{t.submitted}</th><th>{t.api_last_used}</th><th></th></tr></thead>
                        <tbody>
                            {keys.into_iter().map(|KeyRow { id, name: n, scopes, created, last_used: used, revoked }| view! {
                                <tr data-key=id>
                                    <td>{n}</td><td>{scopes}</td><td>{created}</td><td>{used.unwrap_or_default()}</td>
                                    <td>{if revoked {
                                        view! { <span>{t.api_revoked}</span> }.into_any()
                                    } else {
                                        view! {
                                            <form method="post" action=RevokeApiKey::PATH class="inline-form">
                                                <input type="hidden" name="id" value=id/>
                                                <button type="submit" class="link">{t.api_revoke}</button>
                                            </form>
                                        }.into_any()
                                    }}</td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                    <form method="post" action=CreateApiKey::PATH>
                        <label for="k-name">{t.name}</label>
                        <input id="k-name" name="name" type="text" required maxlength="100"/>
                        <label class="check"><input type="checkbox" name="changes" value="on"/>{t.api_scope_changes}</label>
                        <button type="submit" class="button">{t.api_create}</button>
                    </form>
                </section>
            })}
        }.into_any()
    })
}
