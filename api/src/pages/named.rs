//! Things as a page names them: by the name people know them by, linked
//! to their page when the viewer may open it, the id one hover away. And
//! an event's sentence (`warden_core::commands::sentence`) made of them.

use warden_core::Event;
use warden_core::commands::catalogue;
use warden_core::commands::sentence::{Part, Ref};
use warden_projections::names::Names;

use super::nav::{Place, sees};
use crate::handlers::audit::encode;
use crate::state::AppState;
use crate::web::session::CurrentSession;

/// A name on a page (or plain words, without `href` and `title`).
pub(crate) struct Named {
    pub text: String,
    pub href: Option<String>,
    /// The id behind the name, shown on hover.
    pub title: Option<String>,
}

impl Named {
    pub(crate) fn text(text: impl Into<String>) -> Self {
        Named {
            text: text.into(),
            href: None,
            title: None,
        }
    }

    pub(crate) fn linked(text: impl Into<String>, href: impl Into<String>) -> Self {
        Named {
            text: text.into(),
            href: Some(href.into()),
            title: None,
        }
    }
}

/// `event`'s sentence as `viewer` reads it: names of the viewer's org,
/// and links to the pages the viewer's role opens.
pub(crate) fn sentence(state: &AppState, viewer: &CurrentSession, event: &Event) -> Vec<Named> {
    let names = Names::new(&state.models, &viewer.user.org);
    catalogue::sentence(event)
        .parts()
        .iter()
        .map(|part| match part {
            Part::Words(words) => Named::text(words.as_ref()),
            Part::Value(value) => Named::text(value.as_str()),
            Part::Ref(reference) => named(&names, viewer, reference),
        })
        .collect()
}

/// One thing, as `viewer` reads its name.
pub(crate) fn reference(state: &AppState, viewer: &CurrentSession, reference: &Ref) -> Named {
    named(&Names::new(&state.models, &viewer.user.org), viewer, reference)
}

fn named(names: &Names<'_>, viewer: &CurrentSession, reference: &Ref) -> Named {
    let name = names.name(reference);
    let known = name.is_some();
    let (place, href) = page_of(reference);
    Named {
        text: name.unwrap_or_else(|| reference.fallback()),
        // A thing of no name in this org (removed, or not the org's) has
        // no page to open; sessions, secrets and events have no names but
        // their pages.
        href: (sees(place, viewer.user.role) && (known || !named_kind(reference))).then_some(href),
        title: Some(reference.id().into_owned()),
    }
}

/// Whether Warden knows names for this kind of reference.
fn named_kind(reference: &Ref) -> bool {
    !matches!(reference, Ref::Session(_) | Ref::Secret(_) | Ref::Event(_))
}

/// The page a reference opens, and the place of the navigation it belongs
/// to (whose roles may open it).
fn page_of(reference: &Ref) -> (Place, String) {
    match reference {
        Ref::User(id) => (Place::Users, format!("/admin/users/{}", encode(id))),
        Ref::Session(id) => (Place::Audit, format!("/audit?session={}", encode(id))),
        Ref::ApiKey(id) => (Place::Keys, format!("/keys/{}", encode(id))),
        Ref::AlertRule(id) => (Place::AlertRules, format!("/alert-rules/{}", encode(id))),
        Ref::Alert(id) => (Place::Alerts, format!("/alerts/{}", encode(id))),
        Ref::Secret(name) => (Place::Secrets, format!("/secrets/{}", encode(name))),
        Ref::WebhookEndpoint(_) => (Place::AlertRules, "/alert-rules".into()),
        Ref::Org(_) => (Place::Elsewhere, String::new()),
        Ref::Event(seq) => (Place::Audit, format!("/audit/events/{seq}")),
    }
}
