//! `/me/photos`: per-photo consent. Each photo lists the public uses it may have (the salon
//! portfolio, each named social platform) and an optional end date; the customer changes them
//! with one plain form per photo. A new public use needs an explicit tick; a withdrawn one opens
//! a takedown task for staff (in the domain, `portal_core::photos`).

use leptos::{prelude::*, server_fn::ServerFn};
use leptos_router::hooks::use_query_map;
use serde::{Deserialize, Serialize};

use portal_vocab::PhotoUse;

use crate::{PortalError, use_texts};

/// A public use in the customer's language.
pub fn use_name(t: &crate::me::texts::MeTexts, u: PhotoUse) -> &'static str {
    match u {
        PhotoUse::Portfolio => t.use_portfolio,
        PhotoUse::Social(p) => t.platform_names.get(p),
    }
}

/// A stored use code in the customer's language (empty for a code the portal does not know).
pub fn use_name_of(t: &crate::me::texts::MeTexts, code: &str) -> &'static str {
    PhotoUse::parse(code).map_or("", |u| use_name(t, u))
}

/// The checkbox name of a use: its platform, or `portfolio`.
fn field_name(u: PhotoUse) -> &'static str {
    match u {
        PhotoUse::Portfolio => "portfolio",
        PhotoUse::Social(p) => p.code(),
    }
}

/// One photo and its uses in force.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PhotoRow {
    /// `photos.id`.
    pub id: i64,
    /// Local date taken.
    pub date: String,
    /// `before` or `after`.
    pub kind: String,
    /// `(use code, end date)` of the uses in force.
    pub uses: Vec<(String, Option<String>)>,
}

/// The signed-in customer's photos and whether the two photo purposes are on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MyPhotosView {
    /// Photos, oldest first.
    pub photos: Vec<PhotoRow>,
    /// `photos_portfolio` is on.
    pub portfolio_on: bool,
    /// `photos_social` is on.
    pub social_on: bool,
}

/// The signed-in customer's photos with their uses.
#[server]
pub async fn my_photos() -> Result<MyPhotosView, PortalError> {
    use portal_core::{
        consents::{self, Purpose},
        photos,
    };
    let (p, id, _) = crate::signin::ssr::customer("/me/photos").await?;
    let photos = photos::for_customer(&p.db, id, chrono::Utc::now()).await?;
    Ok(MyPhotosView {
        photos: photos.into_iter().map(PhotoRow::new).collect(),
        portfolio_on: consents::granted(&p.db, id, Purpose::PhotosPortfolio).await?,
        social_on: consents::granted(&p.db, id, Purpose::PhotosSocial).await?,
    })
}

#[cfg(feature = "ssr")]
impl PhotoRow {
    fn new(x: portal_core::photos::PhotoUses) -> Self {
        let day = portal_core::requests::calendar::local_day;
        PhotoRow {
            id: x.id,
            date: day(x.taken_at),
            kind: x.kind,
            uses: x
                .uses
                .into_iter()
                .map(|(u, end)| (u.code(), end.map(day)))
                .collect(),
        }
    }
}

/// Sets one photo's public uses to exactly the boxes ticked, ending on `until` (a local date,
/// inclusive; empty: until withdrawn).
#[server]
pub async fn set_photo_uses(
    photo: i64,
    #[server(flatten)] form: portal_vocab::forms::PhotoUses,
) -> Result<(), PortalError> {
    let (p, id, _) = crate::signin::ssr::customer("/me/photos").await?;
    let done = portal_core::photos::customer_form(&p, id, photo, &form, chrono::Utc::now()).await;
    let q = PhotoNote::of(done)?.query(photo);
    crate::back(&format!("/me/photos?{q}#photo-{photo}"))
}

/// What the photos page says after a photo's form, carried in its URL as a code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PhotoNote {
    Saved,
    /// Adding a public use needs the explicit tick; withdrawing never does. (Shown at its photo,
    /// from `?confirm=`, so only the server makes it.)
    #[cfg_attr(not(feature = "ssr"), allow(dead_code))]
    NeedsConfirmation,
    PurposeOff,
    EndInPast,
    Invalid,
}

impl PhotoNote {
    #[cfg(feature = "ssr")]
    fn of(
        done: Result<portal_core::photos::CustomerChange, portal_core::CoreError>,
    ) -> Result<PhotoNote, PortalError> {
        use portal_core::{
            CoreError, Refusal,
            photos::{CustomerChange, Refusal as R},
        };
        Ok(match done {
            Ok(CustomerChange::Applied(_)) => PhotoNote::Saved,
            Ok(CustomerChange::NeedsConfirmation) => PhotoNote::NeedsConfirmation,
            Err(CoreError::Refused(Refusal::Photo(R::PurposeOff))) => PhotoNote::PurposeOff,
            Err(CoreError::Refused(Refusal::Photo(R::EndInPast))) => PhotoNote::EndInPast,
            Err(CoreError::NotFound | CoreError::Invalid(_) | CoreError::Refused(_)) => {
                PhotoNote::Invalid
            }
            Err(e) => return Err(e.into()),
        })
    }

    #[cfg(feature = "ssr")]
    fn query(self, photo: i64) -> String {
        match self {
            PhotoNote::Saved => "done=1".to_owned(),
            PhotoNote::NeedsConfirmation => format!("confirm={photo}"),
            PhotoNote::PurposeOff => "error=purpose".to_owned(),
            PhotoNote::EndInPast => "error=date".to_owned(),
            PhotoNote::Invalid => "error=invalid".to_owned(),
        }
    }

    /// The banner note of the page's query (`confirm` is shown at its photo instead).
    fn read(done: Option<String>, error: Option<String>) -> Option<PhotoNote> {
        done.map(|_| PhotoNote::Saved).or_else(|| {
            error.map(|e| match e.as_str() {
                "purpose" => PhotoNote::PurposeOff,
                "date" => PhotoNote::EndInPast,
                _ => PhotoNote::Invalid,
            })
        })
    }

    /// The banner's text and its ARIA role.
    fn banner(self, t: &'static crate::me::texts::MeTexts) -> (&'static str, &'static str) {
        match self {
            PhotoNote::Saved => (t.photo_saved, "status"),
            PhotoNote::NeedsConfirmation => (t.photo_confirm_needed, "alert"),
            PhotoNote::PurposeOff => (t.photo_purpose_off, "alert"),
            PhotoNote::EndInPast => (t.photo_bad_date, "alert"),
            PhotoNote::Invalid => (t.bad_request, "alert"),
        }
    }
}

/// `/me/photos`.
#[component]
pub fn PhotosPage() -> impl IntoView {
    let all = use_texts();
    let t = all.me;
    let q = use_query_map();
    let data = Resource::new(|| (), |_| my_photos());
    let use_name = move |code: &str| use_name_of(t, code);
    crate::loaded(data, move |d| {
        let asking: Option<i64> = q.read().get("confirm").and_then(|s| s.parse().ok());
        let banner = {
            let q = q.read();
            PhotoNote::read(q.get("done"), q.get("error")).map(|n| n.banner(t))
        };
        view! {
            <section class="card">
                <h1>{t.photo_uses}</h1>
                <p class="muted">{t.photo_uses_intro}</p>
                {banner.map(|(m, role)| view! { <p class="banner" role=role>{m}</p> })}
                {d.photos.is_empty().then(|| view! { <p class="muted">{t.none_yet}</p> })}
            </section>
            {d.photos.into_iter().map(|x| {
                let confirming = asking == Some(x.id);
                let kind = t.photo_kinds.get(&x.kind);
                let until = x.uses.iter().find_map(|(_, e)| e.clone()).unwrap_or_default();
                let summary = if x.uses.is_empty() {
                    t.photo_no_public.to_owned()
                } else {
                    x.uses.iter().map(|(c, e)| match e {
                        Some(e) => format!("{} ({} {e})", use_name(c), t.photo_ends),
                        None => use_name(c).to_owned(),
                    }).collect::<Vec<_>>().join(" · ")
                };
                view! {
                    <section class="card photo" id=format!("photo-{}", x.id) data-photo=x.id.to_string()>
                        <img src=format!("/me/photos/{}", x.id) alt=format!("{} {kind}", x.date) width="96" height="96" loading="lazy"/>
                        <p><span class="muted">{x.date.clone()}" · "{kind}</span></p>
                        <p data-uses="">{summary}</p>
                        <form method="post" action=SetPhotoUses::PATH>
                            <input type="hidden" name="photo" value=x.id.to_string()/>
                            <p class="muted">{t.photo_internal}</p>
                            {PhotoUse::all().into_iter().map(|u| {
                                let code = u.code();
                                let on = x.uses.iter().any(|(c, _)| *c == code);
                                let purpose_on = if u == PhotoUse::Portfolio { d.portfolio_on } else { d.social_on };
                                view! {
                                    <label class="check" data-purpose-on=purpose_on.to_string()>
                                        <input type="checkbox" name=field_name(u) value="on" checked=on/>
                                        {use_name(&code)}
                                    </label>
                                }
                            }).collect_view()}
                            <label>{t.photo_until}
                                <input type="date" name="until" value=until/>
                            </label>
                            <label class="check">
                                <input type="checkbox" name="confirm" value="yes" required=confirming/>
                                {t.photo_confirm}
                            </label>
                            {confirming.then(|| view! { <p class="banner" role="alert">{t.photo_confirm_needed}</p> })}
                            <button type="submit" class="button">{t.photo_save}</button>
                        </form>
                    </section>
                }
            }).collect_view()}
        }.into_any()
    })
}
