//! The privacy officer browses and filters the audit log and sees whether its chain is whole.

use leptos::prelude::*;
use leptos_router::{components::A, hooks::use_query_map};
use serde::{Deserialize, Serialize};

use crate::{PortalError, use_texts};

#[cfg(feature = "ssr")]
use super::gate;

/// One row of the log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuditRowView {
    pub id: i64,
    pub at: String,
    pub actor: String,
    /// The staff role at the time (an unknown stored code reads as none).
    pub role: Option<portal_vocab::Role>,
    pub action: String,
    pub subject: Option<String>,
    pub reason: Option<String>,
}

/// A page of the log, and the chain's state.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuditPageView {
    pub rows: Vec<AuditRowView>,
    /// `Ok(rows)` when whole, `Err(id)` of the first broken row.
    pub chain: Result<u64, i64>,
}

#[cfg(feature = "ssr")]
impl AuditPageView {
    /// The page's view of a page of the log and of the chain's check.
    fn new(rows: Vec<portal_core::audit::Row>, verdict: portal_core::audit::Verdict) -> Self {
        use portal_core::audit::Verdict;
        let rows = rows
            .into_iter()
            .map(|r| AuditRowView {
                id: r.id,
                // The chain is kept in UTC; the label says so, beside pages that show salon-local dates.
                at: r.at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
                actor: match r.actor_id {
                    Some(id) => format!("{} #{id}", r.actor_kind),
                    None => r.actor_kind,
                },
                role: r.role.and_then(|r| r.parse().ok()),
                action: r.action,
                subject: r
                    .subject_kind
                    .map(|k| format!("{k} #{}", r.subject_id.unwrap_or_default())),
                reason: r.reason,
            })
            .collect();
        let chain = match verdict {
            Verdict::Whole { rows } => Ok(rows),
            Verdict::Broken { id } => Err(id),
        };
        AuditPageView { rows, chain }
    }
}

/// Newest rows first, filtered; `before` pages back.
#[server]
pub async fn audit_log(
    staff: Option<String>,
    customer: Option<String>,
    action: Option<String>,
    before: Option<String>,
) -> Result<AuditPageView, PortalError> {
    use portal_core::{access::Action, audit};
    let c = gate::require(Action::ViewAuditLog).await?;
    let f = Option::as_deref;
    let filter = audit::Filter::from_form(f(&staff), f(&customer), f(&action), f(&before));
    let rows = audit::list(&c.portal.db, &filter, 50).await?;
    Ok(AuditPageView::new(rows, audit::verify(&c.portal.db).await?))
}

/// `/staff/audit`: filters are a GET form (ids and action names only, nothing personal).
#[component]
pub fn AuditPage() -> impl IntoView {
    let t = use_texts().staff;
    let q = use_query_map();
    let page = Resource::new(
        move || {
            let q = q.read();
            (
                q.get("staff"),
                q.get("customer"),
                q.get("action"),
                q.get("before"),
            )
        },
        |(s, c, a, b)| audit_log(s, c, a, b),
    );
    crate::loaded(page, move |page| {
        let older = page.rows.last().map(|r| {
            // The filters go back into the link as typed, encoded: a value cannot add a
            // parameter of its own.
            let q = q.read();
            let mut query = form_urlencoded::Serializer::new(String::new());
            query.append_pair("before", &r.id.to_string());
            for k in ["staff", "customer", "action"] {
                if let Some(v) = q.get(k) {
                    query.append_pair(k, &v);
                }
            }
            format!("/staff/audit?{}", query.finish())
        });
        view! {
            <section class="card">
                <h1>{t.audit_title}</h1>
                {match page.chain {
                    Ok(n) => view! { <p class="banner ok" data-chain="whole">{(t.chain_whole)(n)}</p> }.into_any(),
                    Err(id) => view! { <p class="banner" role="alert" data-chain="broken">{(t.chain_broken)(id)}</p> }.into_any(),
                }}
                <form method="get" action="/staff/audit" class="filters">
                    <label for="f-staff">{t.filter_staff}</label>
                    <input id="f-staff" name="staff" inputmode="numeric" maxlength="12" value=move || q.read().get("staff").unwrap_or_default()/>
                    <label for="f-customer">{t.filter_customer}</label>
                    <input id="f-customer" name="customer" inputmode="numeric" maxlength="12" value=move || q.read().get("customer").unwrap_or_default()/>
                    <label for="f-action">{t.filter_action}</label>
                    <input id="f-action" name="action" type="text" maxlength="40" value=move || q.read().get("action").unwrap_or_default()/>
                    <button type="submit" class="button">{t.filter_button}</button>
                </form>
                <table class="table stack">
                    <thead><tr>
                        <th>"#"</th><th>{t.col_time}</th><th>{t.col_actor}</th><th>{t.role}</th>
                        <th>{t.col_action}</th><th>{t.col_subject}</th><th>{t.col_reason}</th>
                    </tr></thead>
                    <tbody>
                        {page.rows.into_iter().map(|r| view! {
                            <tr>
                                <td data-label="#">{r.id}</td><td data-label=t.col_time>{r.at}</td><td data-label=t.col_actor>{r.actor}</td>
                                <td data-label=t.role>{r.role.map(|r| t.role_names.get(r)).unwrap_or("—")}</td>
                                <td data-label=t.col_action>{r.action}</td><td data-label=t.col_subject>{r.subject.unwrap_or_default()}</td>
                                <td data-label=t.col_reason>{r.reason.unwrap_or_default()}</td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
                {older.map(|href| view! { <p><A href=href>{t.older}</A></p> })}
            </section>
        }.into_any()
    })
}
