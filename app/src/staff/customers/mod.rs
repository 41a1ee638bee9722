//! Customers in the staff area: search here; the record (only what the role may see, every
//! read audited) with front desk's contact edits and stylists' visits and notes in `record`;
//! front-desk intake in `intake`.

mod intake;
mod record;

pub use intake::*;
pub use record::*;

use leptos::{prelude::*, server_fn::ServerFn};
use leptos_router::{components::A, hooks::use_query_map};
use serde::{Deserialize, Serialize};

use crate::{PortalError, use_texts};

#[cfg(feature = "ssr")]
use super::gate;

/// Finds customers. One match opens the record; several are listed by id (never by the search
/// text, which may be a phone or email and must stay out of URLs).
#[server]
pub async fn search_customers(q: String) -> Result<(), PortalError> {
    use portal_core::{
        access::Action,
        customers::record::{self, Search},
    };
    let c = gate::require(Action::SearchCustomers).await?;
    let Ok(query) = Search::parse(&q) else {
        return gate::back("/staff/customers?error=bad");
    };
    let found = record::search(&c.portal.db, &c.portal.vault, &query).await?;
    gate::back(&after_search(found.iter().map(|f| f.id).collect()))
}

/// One customer found opens their record; several are listed by id, never by what was typed.
#[cfg(feature = "ssr")]
fn after_search(ids: Vec<i64>) -> String {
    let ids: Vec<String> = ids.iter().map(i64::to_string).collect();
    match ids.as_slice() {
        [] => "/staff/customers?error=none".to_owned(),
        [one] => format!("/staff/customers/{one}"),
        many => format!("/staff/customers?found={}", many.join(",")),
    }
}

/// A search result as the list shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FoundView {
    pub id: i64,
    pub name: String,
}

/// The names of listed customers (each read audited).
#[server]
pub async fn found_customers(found: String) -> Result<Vec<FoundView>, PortalError> {
    use portal_core::{access::Action, customers::open};
    let c = gate::require(Action::SearchCustomers).await?;
    let ids: Vec<i64> = found
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let (me, role, now) = (c.member.id, c.member.role, chrono::Utc::now());
    let names = open::names(&c.portal, me, role, &ids, now).await?;
    Ok(names
        .into_iter()
        .map(|(id, name)| FoundView { id, name })
        .collect())
}
/// `/staff/customers`: the search form and, after a search with several matches, the list.
#[component]
pub fn SearchPage() -> impl IntoView {
    let t = use_texts().staff;
    let q = use_query_map();
    let found = Resource::new(
        move || q.read().get("found"),
        |f| async move {
            match f {
                Some(f) => found_customers(f).await.map(Some),
                None => Ok(None),
            }
        },
    );
    let error = move || q.read().get("error");
    crate::loaded(found, move |list| {
        view! {
            <section class="card">
                <h1>{t.search_title}</h1>
                {move || error().map(|e| {
                    let msg = if e == "none" { t.search_none } else { t.search_bad };
                    view! { <p class="banner" role="alert">{msg}</p> }
                })}
                <form method="post" action=SearchCustomers::PATH>
                    <label for="q">{t.search_label}</label>
                    <input id="q" name="q" type="search" required maxlength="100" autocomplete="off"/>
                    <button type="submit" class="button">{t.search_button}</button>
                </form>
            </section>
            {match list {
                Some(rows) => view! {
                    <section class="card">
                        <h2>{t.results_title}</h2>
                        <ul class="results">
                            {rows.into_iter().map(|r| view! {
                                <li><A href=format!("/staff/customers/{}", r.id)>{r.name}</A></li>
                            }).collect_view()}
                        </ul>
                    </section>
                }.into_any(),
                None => ().into_any(),
            }}
        }
    })
}
