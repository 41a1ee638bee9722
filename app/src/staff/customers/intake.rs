//! Front-desk intake: a new record with the notice shown and the consents chosen at the counter.

use leptos::{prelude::*, server_fn::ServerFn};
use leptos_router::hooks::use_query_map;

use crate::{PortalError, use_texts};

#[cfg(feature = "ssr")]
use super::super::gate;

#[cfg(feature = "ssr")]
use super::RecordNote;

/// The current notice version, for the intake form's checkbox.
#[server]
pub async fn intake_notice_version() -> Result<i32, PortalError> {
    use portal_core::access::Action;
    let c = gate::require(Action::CreateCustomer).await?;
    Ok(portal_core::notices::current(&c.portal.db).await?.version)
}

/// Front-desk intake: minimum fields, the notice shown, the consents chosen at the counter.
#[server]
pub async fn intake(
    #[server(flatten)] form: portal_vocab::forms::Intake,
) -> Result<(), PortalError> {
    use portal_core::{
        access::Action,
        customers::intake::{self, Intake},
    };
    let c = gate::require(Action::CreateCustomer).await?;
    let (me, role, now) = (c.member.id, c.member.role, chrono::Utc::now());
    let done =
        async { intake::intake(&c.portal, me, role, Intake::from_form(&form, now)?, now).await };
    match IntakeNote::of(done.await)? {
        Ok(id) => RecordNote::Saved.back(id),
        Err(note) => gate::back(&format!("/staff/customers/new?error={}", note.code())),
    }
}
/// Why the intake form comes back: `?error=…` on `/staff/customers/new`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IntakeNote {
    NoticeRequired,
    ContactTaken,
    Invalid,
}

impl IntakeNote {
    #[cfg(feature = "ssr")]
    fn code(self) -> &'static str {
        match self {
            IntakeNote::NoticeRequired => "notice",
            IntakeNote::ContactTaken => "taken",
            IntakeNote::Invalid => "invalid",
        }
    }

    fn read(code: &str) -> IntakeNote {
        match code {
            "notice" => IntakeNote::NoticeRequired,
            "taken" => IntakeNote::ContactTaken,
            _ => IntakeNote::Invalid,
        }
    }

    fn text(self, t: &'static crate::staff::texts::StaffTexts) -> &'static str {
        match self {
            IntakeNote::NoticeRequired => t.notice_required,
            IntakeNote::ContactTaken => t.contact_taken,
            IntakeNote::Invalid => t.invalid_input,
        }
    }

    /// The new record's id, or why the form comes back (other failures stay errors).
    #[cfg(feature = "ssr")]
    fn of(
        done: Result<portal_core::customers::intake::Intaken, portal_core::CoreError>,
    ) -> Result<Result<i64, IntakeNote>, PortalError> {
        use portal_core::{
            CoreError, Refusal, customers::Refusal as R, customers::intake::Intaken,
        };
        match done {
            Ok(Intaken::Created(id)) => Ok(Ok(id)),
            // The form showed an older notice than the one now in force: show it again.
            Ok(Intaken::NoticeOutdated) => Ok(Err(IntakeNote::NoticeRequired)),
            Err(CoreError::Refused(Refusal::Customer(R::NoticeNotShown))) => {
                Ok(Err(IntakeNote::NoticeRequired))
            }
            Err(CoreError::Refused(Refusal::Customer(R::ContactTaken))) => {
                Ok(Err(IntakeNote::ContactTaken))
            }
            Err(CoreError::Invalid(_)) => Ok(Err(IntakeNote::Invalid)),
            Err(e) => Err(e.into()),
        }
    }
}
/// `/staff/customers/new`: front-desk intake.
#[component]
pub fn IntakePage() -> impl IntoView {
    let t = use_texts().staff;
    let q = use_query_map();
    let version = Resource::new(|| (), |_| intake_notice_version());
    crate::loaded(version, move |version| {
        view! {
            <section class="card">
                <h1>{t.intake_title}</h1>
                <p>{t.intake_intro}</p>
                {move || q.read().get("error").map(|e| {
                    let msg = IntakeNote::read(&e).text(t);
                    view! { <p class="banner" role="alert">{msg}</p> }
                })}
                <form method="post" action=Intake::PATH>
                    <input type="hidden" name="notice_version" value=version/>
                    <label for="name">{t.name}</label>
                    <input id="name" name="name" type="text" required maxlength="100" autocomplete="off"/>
                    <label for="phone">{t.phone}</label>
                    <input id="phone" name="phone" type="tel" required maxlength="32" autocomplete="off"/>
                    <label for="email">{t.email}</label>
                    <input id="email" name="email" type="email" maxlength="254" autocomplete="off"/>
                    <label for="language">{t.language}</label>
                    <select id="language" name="language">
                        <option value="zh" selected>"中文"</option>
                        <option value="en">"English"</option>
                    </select>
                    <label class="check">
                        <input type="checkbox" name="notice_shown" value="on" required/>
                        {(t.notice_shown)(version)}
                    </label>
                    <fieldset>
                        <legend>{t.consents_legend}</legend>
                        {portal_vocab::Purpose::ALL.map(|p| view! {
                            <label class="check">
                                <input type="checkbox" name=p.code() value="on"/>
                                {t.purpose_names.get(p)}
                            </label>
                        }).collect_view()}
                    </fieldset>
                    <label for="channel">{t.channel}</label>
                    <select id="channel" name="channel">
                        <option value="front_desk" selected>{t.channel_front_desk}</option>
                        <option value="paper_form">{t.channel_paper}</option>
                    </select>
                    <label class="check">
                        <input type="checkbox" name="send_link" value="on"/>
                        {t.send_link}
                    </label>
                    <button type="submit" class="button">{t.create}</button>
                </form>
            </section>
        }.into_any()
    })
}
