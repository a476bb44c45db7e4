//! One event of the audit trail, for owners and auditors: what happened
//! in a sentence, its envelope, its data, and links to its relatives.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use warden_core::commands::app_event::{Attribution, attribution};
use warden_core::{ActorKind, Event};
use warden_projections::projection::read;

use super::named::{self, Named};
use super::when::Zone;
use super::{Nav, PageAuditReader, Place, error_page, render};
use crate::error::ApiError;
use crate::flows::audit;
use crate::handlers::audit::{DEFAULT_WINDOW_MINUTES, related_queries};
use crate::state::AppState;
use crate::web::{Client, Principal};

struct Detail {
    name: &'static str,
    value: String,
}

struct Link {
    label: &'static str,
    url: String,
}

#[derive(Template)]
#[template(path = "audit_event.html")]
struct EventPage {
    nav: Nav,
    seq: u64,
    kind: String,
    /// What happened, in a sentence.
    sentence: Vec<Named>,
    details: Vec<Detail>,
    data: String,
    links: Vec<Link>,
}

/// Who did it, as a person reads it: a user's email when Warden knows it,
/// and the application's word marked as such.
fn actor_label(state: &AppState, event: &Event) -> String {
    let actor = &event.actor;
    let user = |id: &str| {
        read(&state.models.accounts)
            .user(id)
            .map_or_else(|| format!("user {id}"), |user| user.email.clone())
    };
    let named = match (actor.kind, actor.id.as_deref()) {
        (ActorKind::User, Some(id)) => user(id),
        (kind, Some(id)) => format!("{} {id}", kind.as_str()),
        (kind, None) => kind.as_str().to_string(),
    };
    match attribution(event) {
        Attribution::Warden => named,
        Attribution::Application {
            token,
            on_behalf_of: Some(on_behalf_of),
        } => format!(
            "application {token}, for {} (the application's word)",
            user(on_behalf_of)
        ),
        Attribution::Application {
            token,
            on_behalf_of: None,
        } => format!("application {token}"),
        Attribution::ApplicationLegacy => format!("{named} (the application's word)"),
    }
}

/// How far Warden vouches for the actor, in a sentence.
fn attribution_text(event: &Event) -> String {
    match attribution(event) {
        Attribution::Warden => "Warden authenticated this actor".into(),
        Attribution::Application { token, .. } => format!(
            "Recorded by the application with its token \"{token}\": Warden authenticated the token, not the user it names"
        ),
        Attribution::ApplicationLegacy => {
            "Recorded by the application before its events were marked: the actor is the application's word, not checked by Warden".into()
        }
    }
}

/// `GET /audit/events/{seq}`: one event, and links to its relatives.
pub async fn event(
    State(state): State<AppState>,
    client: Client,
    PageAuditReader(reader): PageAuditReader,
    Path(seq): Path<String>,
) -> Response {
    let Ok(seq) = seq.parse::<u64>() else {
        return error_page(&ApiError::bad_request("seq must be a whole number"));
    };
    let event = match audit::view(&state, &Principal::Person(reader.clone()), &client, seq).await {
        Ok(event) => event,
        Err(error) => return error_page(&error),
    };
    let nav = Nav::of(&reader, Place::Audit);
    let optional = |value: &Option<String>| value.clone().unwrap_or_else(|| "—".into());
    let details = vec![
        Detail {
            name: "Time",
            value: {
                let when = Zone::of(reader.user.time_zone.as_deref()).when(&event.at);
                format!("{} ({})", when.local, when.utc)
            },
        },
        Detail {
            name: "Outcome",
            value: event.outcome.as_str().into(),
        },
        Detail {
            name: "Actor",
            value: actor_label(&state, &event),
        },
        Detail {
            name: "Attribution",
            value: attribution_text(&event),
        },
        Detail {
            name: "Acting for",
            value: match (&event.actor.on_behalf_of, attribution(&event)) {
                (Some(user), Attribution::Application { .. }) => format!("{user} (the application's word)"),
                (on_behalf_of, _) => optional(on_behalf_of),
            },
        },
        Detail {
            name: "Actor kind",
            value: event.actor.kind.as_str().into(),
        },
        Detail {
            name: "Actor id",
            value: optional(&event.actor.id),
        },
        Detail {
            name: "Address",
            value: optional(&event.actor.ip),
        },
        Detail {
            name: "User agent",
            value: optional(&event.actor.user_agent),
        },
        Detail {
            name: "Subject",
            value: format!("{} (version {})", event.subject, event.subject_version),
        },
        Detail {
            name: "Request id",
            value: event.request_id.clone(),
        },
        Detail {
            name: "Event id",
            value: event.id.to_string(),
        },
        Detail {
            name: "Hash",
            value: event.hash.to_hex(),
        },
        Detail {
            name: "Previous hash",
            value: event.prev.to_hex(),
        },
        Detail {
            name: "Signed by",
            value: event.key_id.clone(),
        },
    ];
    let label = |name: &str| match name {
        "same_request" => "Same request",
        "same_session" => "Same session",
        "same_actor" => "Same actor, 15 minutes either side",
        _ => "Same subject",
    };
    let links = related_queries(&event, DEFAULT_WINDOW_MINUTES)
        .into_iter()
        .map(|(name, query)| Link {
            label: label(name),
            url: format!("/audit?{query}"),
        })
        .collect();
    let page = EventPage {
        nav,
        seq: event.seq,
        kind: event.kind.clone(),
        sentence: named::sentence(&state, &reader, &event),
        details,
        data: format!("{:#}", event.data),
        links,
    };
    render(StatusCode::OK, &page)
}
