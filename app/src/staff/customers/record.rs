//! A customer's record for staff: what the role may see (every read audited), and the forms
//! on it: contact edits, visits and notes, lifting a restriction.

use leptos::{prelude::*, server_fn::ServerFn};
use leptos_router::hooks::{use_params_map, use_query_map};
use serde::{Deserialize, Serialize};

use crate::{PortalError, use_texts};

#[cfg(feature = "ssr")]
use super::super::gate;

use portal_vocab::Action;

/// Contact details.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ContactView {
    pub phone: Option<String>,
    pub email: Option<String>,
}

/// The service profile.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProfileView {
    /// False when no profile was recorded yet (the fields are then empty).
    pub recorded: bool,
    pub hair_type: Option<String>,
    pub skin_type: Option<String>,
    pub preferred_stylist: Option<String>,
    pub preferences: Option<String>,
}

/// Sensitive notes, with whether the customer consented to keeping them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SensitiveView {
    pub consented: bool,
    /// `(category, body, date)`; empty without consent.
    pub notes: Vec<(String, String, String)>,
}

/// One visit.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VisitView {
    pub id: i64,
    pub date: String,
    pub services: String,
    pub stylist: Option<String>,
    pub amount: String,
    pub notes: Option<String>,
}

/// The membership card.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MembershipView {
    pub card: String,
    pub balance: String,
    pub points: i64,
}

/// A customer's record: each part is `None` when the role may not see it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RecordView {
    pub id: i64,
    pub name: String,
    /// The customer restricted the use of their data: show it, use nothing.
    pub restricted: bool,
    pub contact: Option<ContactView>,
    pub profile: Option<ProfileView>,
    pub sensitive: Option<SensitiveView>,
    pub visits: Option<Vec<VisitView>>,
    /// The open membership, if any (empty list when there is none).
    pub membership: Option<Vec<MembershipView>>,
    /// `(purpose code, on)`.
    pub consents: Option<Vec<(portal_vocab::Purpose, bool)>>,
}

/// Opens a record: every part the role may see, each read audited with it (`customers::open`).
#[server]
pub async fn customer_record(id: i64) -> Result<RecordView, PortalError> {
    use portal_core::{access::Action, customers::open};
    let c = gate::require(Action::SearchCustomers).await?;
    let now = chrono::Utc::now();
    let r = open::open(&c.portal, c.member.id, c.member.role, id, now).await?;
    Ok(RecordView::new(id, r))
}

#[cfg(feature = "ssr")]
impl RecordView {
    /// The page's view of an opened record: text as the page shows it.
    fn new(id: i64, r: portal_core::customers::open::OpenedRecord) -> Self {
        let day = portal_core::requests::calendar::local_day;
        RecordView {
            id,
            restricted: r.restricted,
            name: r.name,
            contact: r.contact.map(|c| ContactView {
                phone: c.phone.map(|p| p.as_str().to_owned()),
                email: c.email.map(|e| e.as_str().to_owned()),
            }),
            profile: r.profile.map(|found| {
                let recorded = found.is_some();
                let s = found.unwrap_or_default();
                ProfileView {
                    recorded,
                    hair_type: s.hair_type,
                    skin_type: s.skin_type,
                    preferred_stylist: s.preferred_stylist,
                    preferences: s.preferences,
                }
            }),
            sensitive: r.sensitive.map(|s| SensitiveView {
                consented: s.consented,
                notes: s
                    .notes
                    .into_iter()
                    .map(|n| (n.category, n.body, day(n.at)))
                    .collect(),
            }),
            visits: r.visits.map(|vs| {
                vs.into_iter()
                    .map(|v| VisitView {
                        id: v.id,
                        date: day(v.at),
                        services: v.services,
                        stylist: v.stylist,
                        amount: portal_vocab::Cents(v.amount_cents).yuan(),
                        notes: v.notes,
                    })
                    .collect()
            }),
            membership: r.membership.map(|m| {
                m.into_iter()
                    .map(|m| MembershipView {
                        card: m.card_masked,
                        balance: portal_vocab::Cents(m.balance_cents).yuan(),
                        points: m.points,
                    })
                    .collect()
            }),
            consents: r.consents,
        }
    }
}

/// The privacy officer lifts a restriction (the reason for it has gone).
#[server]
pub async fn lift_restriction(id: i64) -> Result<(), PortalError> {
    use portal_core::{access::Action, requests::fulfil};
    let c = gate::require(Action::DecideRequest).await?;
    let done = fulfil::officer_lifts_restriction(&c.portal, c.by(), id, chrono::Utc::now());
    RecordNote::of(done.await, |_| RecordNote::Saved)?.back(id)
}

/// Front desk replaces the contact details.
#[server]
pub async fn update_contact(
    id: i64,
    #[server(flatten)] form: portal_vocab::forms::Contact,
) -> Result<(), PortalError> {
    use portal_core::{access::Action, requests::email_change};
    let c = gate::require(Action::EditContact).await?;
    let now = chrono::Utc::now();
    let done = email_change::staff_contact_form(&c.portal, c.by(), id, &form, now).await;
    RecordNote::of(done, RecordNote::from)?.back(id)
}

/// A stylist records a visit they did.
#[server]
pub async fn record_visit(
    id: i64,
    #[server(flatten)] form: portal_vocab::forms::Visit,
) -> Result<(), PortalError> {
    use portal_core::{access::Action, customers::record};
    let c = gate::require(Action::RecordVisit).await?;
    let done = record::stylist_records_visit(&c.portal, c.by(), id, &form, chrono::Utc::now());
    RecordNote::of(done.await, |_| RecordNote::Saved)?.back(id)
}

/// A stylist adds a note to a visit.
#[server]
pub async fn add_visit_note(id: i64, visit: i64, note: String) -> Result<(), PortalError> {
    use portal_core::{access::Action, customers::record};
    let c = gate::require(Action::AddVisitNote).await?;
    let now = chrono::Utc::now();
    let done = record::stylist_notes_visit(&c.portal, c.by(), id, visit, &note, now);
    RecordNote::of(done.await, |_| RecordNote::Saved)?.back(id)
}
/// What the record page says after one of its forms, carried in its URL as a code (never a
/// value): `?saved=…` or `?error=…`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordNote {
    Saved,
    EmailAwaitsConfirmation,
    EmailGoesToOfficer,
    ContactTaken,
    Restricted,
    EmailOfficerOnly,
    Invalid,
}

impl RecordNote {
    #[cfg(feature = "ssr")]
    fn query(self) -> &'static str {
        match self {
            RecordNote::Saved => "saved=1",
            RecordNote::EmailAwaitsConfirmation => "saved=confirm",
            RecordNote::EmailGoesToOfficer => "saved=officer",
            RecordNote::ContactTaken => "error=taken",
            RecordNote::Restricted => "error=restricted",
            RecordNote::EmailOfficerOnly => "error=email_officer",
            RecordNote::Invalid => "error=invalid",
        }
    }

    /// The note of the page's query (a `saved` wins over an `error`).
    fn read(saved: Option<String>, error: Option<String>) -> Option<RecordNote> {
        if let Some(saved) = saved {
            return Some(match saved.as_str() {
                "confirm" => RecordNote::EmailAwaitsConfirmation,
                "officer" => RecordNote::EmailGoesToOfficer,
                _ => RecordNote::Saved,
            });
        }
        error.map(|e| match e.as_str() {
            "taken" => RecordNote::ContactTaken,
            "restricted" => RecordNote::Restricted,
            "email_officer" => RecordNote::EmailOfficerOnly,
            _ => RecordNote::Invalid,
        })
    }

    fn text(self, t: &'static crate::staff::texts::StaffTexts) -> &'static str {
        match self {
            RecordNote::Saved => t.saved,
            RecordNote::EmailAwaitsConfirmation => t.email_awaits_confirmation,
            RecordNote::EmailGoesToOfficer => t.email_goes_to_officer,
            RecordNote::ContactTaken => t.contact_taken,
            RecordNote::Restricted => t.record_restricted_no_edits,
            RecordNote::EmailOfficerOnly => t.email_removal_officer_only,
            RecordNote::Invalid => t.invalid_input,
        }
    }

    /// Back to record `id` with this note.
    #[cfg(feature = "ssr")]
    pub(crate) fn back(self, id: i64) -> Result<(), PortalError> {
        gate::back(&format!("/staff/customers/{id}?{}", self.query()))
    }

    /// The note for what a record form's operation came to: `ok` for its outcome, a note for
    /// each refusal the page explains; other failures stay errors.
    #[cfg(feature = "ssr")]
    pub(crate) fn of<T>(
        done: Result<T, portal_core::CoreError>,
        ok: impl FnOnce(T) -> RecordNote,
    ) -> Result<RecordNote, PortalError> {
        use portal_core::{CoreError, Refusal, customers::Refusal as R};
        match done {
            Ok(v) => Ok(ok(v)),
            Err(CoreError::Refused(Refusal::Customer(r))) => Ok(match r {
                R::ContactTaken => RecordNote::ContactTaken,
                R::Restricted => RecordNote::Restricted,
                R::EmailOfficerOnly => RecordNote::EmailOfficerOnly,
                R::NoticeNotShown => RecordNote::Invalid,
            }),
            Err(CoreError::Invalid(_) | CoreError::Refused(_)) => Ok(RecordNote::Invalid),
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(feature = "ssr")]
impl From<portal_core::requests::email_change::StaffContactOutcome> for RecordNote {
    fn from(o: portal_core::requests::email_change::StaffContactOutcome) -> Self {
        use portal_core::requests::email_change::StaffContactOutcome as O;
        match o {
            O::Saved => RecordNote::Saved,
            O::EmailAwaitsConfirmation => RecordNote::EmailAwaitsConfirmation,
            O::EmailGoesToOfficer(_) => RecordNote::EmailGoesToOfficer,
        }
    }
}
/// `/staff/customers/{id}`.
#[component]
pub fn RecordPage() -> impl IntoView {
    let params = use_params_map();
    let q = use_query_map();
    let record = Resource::new(
        move || params.read().get("id").and_then(|s| s.parse::<i64>().ok()),
        |id| async move {
            match id {
                Some(id) => customer_record(id).await,
                None => Err(PortalError::NotFound),
            }
        },
    );
    let t = use_texts().staff;
    let banner = move || {
        let q = q.read();
        RecordNote::read(q.get("saved"), q.get("error")).map(|n| n.text(t))
    };
    crate::loaded(record, move |r| {
        view! {
            {move || banner().map(|b| view! { <p class="banner" role="status">{b}</p> })}
            <RecordBody r=r/>
        }
    })
}

fn or_dash(v: Option<String>) -> String {
    v.unwrap_or_else(|| "—".into())
}

#[component]
fn RecordBody(r: RecordView) -> impl IntoView {
    let t = use_texts().staff;
    let me = crate::staff::use_me();
    let (edit, visit, note, record) = (
        me.may(Action::EditContact),
        me.may(Action::RecordVisit),
        me.may(Action::AddVisitNote),
        me.may(Action::RecordRequest),
    );
    let id = r.id;
    view! {
        {r.restricted.then(|| view! {
            <p class="banner" role="status" data-restricted="true">
                {t.restricted_banner}
                {me.may(Action::DecideRequest).then(|| view! {
                    <form method="post" action=LiftRestriction::PATH class="inline-form">
                        <input type="hidden" name="id" value=id/>
                        <button type="submit" class="link">{t.lift_restriction}</button>
                    </form>
                })}
            </p>
        })}
        <section class="card">
            <h1 data-customer=id>{r.name.clone()}</h1>
            {r.contact.clone().map(|c| view! {
                <h2>{t.contact}</h2>
                <dl class="facts">
                    <dt>{t.phone}</dt><dd data-field="phone">{or_dash(c.phone.clone())}</dd>
                    <dt>{t.email}</dt><dd data-field="email">{or_dash(c.email.clone())}</dd>
                </dl>
                {edit.then(|| view! {
                    <details>
                        <summary>{t.edit_contact}</summary>
                        <form method="post" action=UpdateContact::PATH>
                            <input type="hidden" name="id" value=id/>
                            <label for="name">{t.name}</label>
                            <input id="name" name="name" type="text" required maxlength="100" value=r.name.clone()/>
                            <label for="phone">{t.phone}</label>
                            <input id="phone" name="phone" type="tel" maxlength="32" value=c.phone.clone().unwrap_or_default()/>
                            <label for="email">{t.email}</label>
                            <input id="email" name="email" type="email" maxlength="254" value=c.email.clone().unwrap_or_default()/>
                            <button type="submit" class="button">{t.save}</button>
                        </form>
                    </details>
                })}
            })}
        </section>
        {r.profile.clone().map(|p| view! {
            <section class="card" data-section="profile">
                <h2>{t.profile}</h2>
                {match Some(p).filter(|p| p.recorded) {
                    Some(p) => view! {
                        <dl class="facts">
                            <dt>{t.hair}</dt><dd>{or_dash(p.hair_type)}</dd>
                            <dt>{t.skin}</dt><dd>{or_dash(p.skin_type)}</dd>
                            <dt>{t.preferred_stylist}</dt><dd>{or_dash(p.preferred_stylist)}</dd>
                            <dt>{t.preferences}</dt><dd>{or_dash(p.preferences)}</dd>
                        </dl>
                    }.into_any(),
                    None => view! { <p class="muted">{t.no_profile}</p> }.into_any(),
                }}
            </section>
        })}
        {r.sensitive.clone().map(|s| view! {
            <section class="card" data-section="sensitive">
                <h2>{t.sensitive}</h2>
                {if s.consented {
                    view! {
                        <ul>{s.notes.into_iter().map(|(cat, body, date)| view! {
                            <li>{date}" · "{cat}": "{body}</li>
                        }).collect_view()}</ul>
                    }.into_any()
                } else {
                    view! { <p class="muted">{t.sensitive_no_consent}</p> }.into_any()
                }}
            </section>
        })}
        {r.visits.clone().map(|vs| view! {
            <section class="card" data-section="visits">
                <h2>{t.visits}</h2>
                {vs.is_empty().then(|| view! { <p class="muted">{t.no_visits}</p> })}
                <ul class="visits">
                    {vs.into_iter().map(|v| view! {
                        <li>
                            <strong>{v.date.clone()}</strong>" · "{v.services.clone()}" · "{or_dash(v.stylist.clone())}" · ¥"{v.amount.clone()}
                            {v.notes.clone().map(|n| view! { <p class="note">{n}</p> })}
                            {note.then(|| view! {
                                <form method="post" action=AddVisitNote::PATH class="inline-form">
                                    <input type="hidden" name="id" value=id/>
                                    <input type="hidden" name="visit" value=v.id/>
                                    <label for=format!("note-{}", v.id)>{t.add_note}</label>
                                    <input id=format!("note-{}", v.id) name="note" type="text" required maxlength="1000"/>
                                    <button type="submit" class="button">{t.save}</button>
                                </form>
                            })}
                        </li>
                    }).collect_view()}
                </ul>
                {visit.then(|| view! {
                    <details>
                        <summary>{t.record_visit}</summary>
                        <form method="post" action=RecordVisit::PATH>
                            <input type="hidden" name="id" value=id/>
                            <label for="services">{t.services}</label>
                            <input id="services" name="services" type="text" required maxlength="200"/>
                            <label for="amount">{t.amount}</label>
                            <input id="amount" name="amount" inputmode="decimal" required maxlength="12"/>
                            <label for="notes">{t.notes}</label>
                            <input id="notes" name="notes" type="text" maxlength="1000"/>
                            <button type="submit" class="button">{t.save}</button>
                        </form>
                    </details>
                })}
            </section>
        })}
        {r.membership.clone().map(|m| view! {
            <section class="card" data-section="membership">
                <h2>{t.membership}</h2>
                {m.into_iter().map(|m| view! {
                    <dl class="facts">
                        <dt>{t.membership}</dt><dd>{m.card}</dd>
                        <dt>{t.balance}</dt><dd>"¥"{m.balance}</dd>
                        <dt>{t.points}</dt><dd>{m.points}</dd>
                    </dl>
                }).collect_view()}
            </section>
        })}
        {record.then(|| view! {
            <section class="card" data-section="record-request">
                <h2>{t.record_request}</h2>
                <form method="post" action=crate::staff::requests::RecordRequest::PATH>
                    <input type="hidden" name="customer" value=id/>
                    <label for="rr-kind">{t.kind}</label>
                    <select id="rr-kind" name="kind">
                        {portal_vocab::Kind::ALL.map(|k| view! {
                            <option value=k.as_str()>{t.kind_names.get(k)}</option>
                        }).collect_view()}
                    </select>
                    <label for="rr-note">{t.notes}</label>
                    <input id="rr-note" name="note" type="text" maxlength="2000"/>
                    <button type="submit" class="button">{t.save}</button>
                </form>
            </section>
        })}
        {r.consents.clone().map(|cs| view! {
            <section class="card" data-section="consents">
                <h2>{t.consents}</h2>
                <dl class="facts">
                    {cs.into_iter().map(|(p, on)| view! {
                        <dt>{t.purpose_names.get(p)}</dt>
                        <dd data-purpose=p.code()>{if on { t.on } else { t.off }}</dd>
                    }).collect_view()}
                </dl>
            </section>
        })}
    }
}
