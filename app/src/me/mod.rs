//! The signed-in customer's pages: "My data" (every category the salon keeps) and "My
//! requests" (make, follow and cancel requests). Phone first; every form is a plain POST.

pub mod consents;
mod data;
mod email;
pub mod notice;
pub mod photos;
mod requests;
pub mod texts;

pub use data::*;
pub use email::*;
pub use requests::*;

/// A stored consent channel in the customer's language; never the stored code itself.
pub fn channel_name(t: &texts::MeTexts, code: &str) -> &'static str {
    portal_vocab::Channel::parse(code).map_or(t.channel_other, |c| t.channel_names.get(c))
}

use leptos::{prelude::*, server_fn::ServerFn};
use leptos_router::components::A;

use crate::{signin::SignOut, use_texts};

/// Every page of a signed-in customer: their navigation, then the page in the `<Outlet/>`.
/// Each page's own server function finds the customer (or sends the visitor to sign in).
#[component]
pub fn MeLayout() -> impl IntoView {
    view! {
        <MeNav/>
        <leptos_router::components::Outlet/>
    }
}

/// The customer's navigation and sign-out.
#[component]
pub(crate) fn MeNav() -> impl IntoView {
    let t = use_texts().me;
    view! {
        <nav class="me-nav">
            <A href="/me">{t.nav_data}</A>
            <A href="/me/requests">{t.nav_requests}</A>
            <A href="/me/consents">{t.consents}</A>
            <A href="/me/photos">{t.photo_uses}</A>
            <form method="post" action=SignOut::PATH class="inline">
                <button type="submit" class="link">{use_texts().sign_out}</button>
            </form>
        </nav>
    }
}
