//! `/dev/mailbox`: mail delivered to files when no SMTP server is configured. The page and its
//! server function exist only in that mode (the server also answers 404 to the path otherwise).

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::{PortalError, use_texts};

/// One delivered message.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MailView {
    pub id: i64,
    pub at: String,
    pub to: String,
    pub subject: String,
    pub text: String,
}

/// Lists the dev mailbox, newest first.
#[server]
pub async fn dev_mailbox() -> Result<Vec<MailView>, PortalError> {
    let portal = use_context::<portal_core::Portal>().ok_or(PortalError::Internal)?;
    if !portal.settings.dev_mailbox() {
        return Err(PortalError::NotFound);
    }
    let mails = portal_core::mail::read_dev_mailbox(&portal.settings.data_dir)?;
    Ok(mails.into_iter().map(MailView::new).collect())
}

#[cfg(feature = "ssr")]
impl MailView {
    fn new(m: portal_core::mail::DevMail) -> Self {
        MailView {
            id: m.id,
            at: m.delivered_at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
            to: m.to,
            subject: m.subject,
            text: m.text,
        }
    }
}

/// The dev mailbox page.
#[component]
pub fn MailboxPage() -> impl IntoView {
    let mails = Resource::new(|| (), |_| dev_mailbox());
    let t = use_texts();
    crate::loaded(mails, move |list| {
        view! {
            <section class="card">
                <h1>{t.mailbox_title}</h1>
                <p class="muted">{t.mailbox_intro}</p>
                {list.is_empty().then(|| view! { <p>{t.mailbox_empty}</p> })}
            </section>
            {list.into_iter().map(|m| view! {
                <article class="card mail" id=format!("mail-{}", m.id)>
                    <dl>
                        <dt>{t.mailbox_subject}</dt><dd class="mail-subject">{m.subject}</dd>
                        <dt>{t.mailbox_to}</dt><dd>{m.to}</dd>
                        <dt>{t.mailbox_at}</dt><dd>{m.at}</dd>
                    </dl>
                    <pre class="mail-body">{m.text}</pre>
                </article>
            }).collect_view()}
        }
        .into_any()
    })
}
