//! Events the consuming application records (`POST /api/v1/app-events`):
//! who they name as their actor, and what makes retrying one safe.
//!
//! **Attribution.** Warden authenticates the application's token, not the
//! application's users. So the actor of an application event is the
//! application itself (`{"kind":"service","id":"app:<token name>"}`, with
//! the token's org when the token is scoped to one), and the user the
//! application says it acts for is recorded as its claim, in
//! `actor.on_behalf_of`. No reader can take an application's word for a
//! user for Warden's: [`attribution`] tells the three apart, for the
//! console and the exports (decision 0018).
//!
//! **Retries**: [`idempotency`].

pub mod idempotency;

use std::fmt;

use serde_json::{Value, json};

use crate::chain::canonical;
use crate::commands::subjects::{Prefix, is_warden_subject};
use crate::event::{Actor, ActorKind, Event, NewEvent, Outcome};

/// What an application's actor id starts with: `app:<token name>`.
pub const ACTOR_PREFIX: &str = "app:";

/// What every application event's kind starts with.
pub const KIND_PREFIX: &str = "app.";

/// Longest `on_behalf_of`.
pub const ON_BEHALF_OF_MAX: usize = 200;

/// An application token, as far as its events go (its secret is not here).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Application {
    /// The token's name: the actor id is `app:<name>`.
    pub name: String,
    /// The one org the token records events for; `None`: every org.
    pub org: Option<String>,
}

impl Application {
    /// The application as the actor of what it does:
    /// `{"kind":"service","id":"app:<name>"}`, with its token's org.
    pub fn actor(&self) -> Actor {
        let mut actor = Actor::of_kind(ActorKind::Service);
        actor.id = Some(format!("{ACTOR_PREFIX}{}", self.name));
        actor.org = self.org.clone();
        actor
    }
}

/// 1 to 63 lower-case letters, digits, `-` and `_`, starting with a letter
/// or a digit.
pub fn valid_token_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    name.len() <= 63
        && bytes
            .next()
            .is_some_and(|first| first.is_ascii_lowercase() || first.is_ascii_digit())
        && bytes.all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'-' || byte == b'_')
}

/// What the application asks to record.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub kind: String,
    pub subject: String,
    /// The application's user it acts for, as the application says.
    pub on_behalf_of: Option<String>,
    pub outcome: Outcome,
    pub data: Option<Value>,
    pub expected_version: Option<u64>,
}

/// Why an application event is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The kind is not under `app.`.
    Kind,
    /// The subject's prefix is one of Warden's own.
    WardenSubject { subject: String },
    /// `on_behalf_of` is empty, too long or holds control characters.
    OnBehalfOf,
    /// `data` is not a JSON object.
    DataNotObject,
    /// `data` holds a number the canonical form cannot carry.
    Number(String),
    /// A token scoped to one org named another in `data.org`.
    OtherOrg { token_org: String },
}

impl Refusal {
    /// Whether the request is well formed but not the token's to make
    /// (403) rather than malformed (400).
    pub fn forbidden(&self) -> bool {
        matches!(self, Refusal::OtherOrg { .. })
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::Kind => write!(f, "kind must start with \"{KIND_PREFIX}\""),
            Refusal::WardenSubject { subject } => write!(
                f,
                "subject {subject:?} is one of Warden's own (its prefix is reserved: {}); record application events on subjects of the application's own, such as \"invoice:42\"",
                Prefix::ALL
                    .iter()
                    .map(|prefix| prefix.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Refusal::OnBehalfOf => write!(
                f,
                "on_behalf_of must be 1 to {ON_BEHALF_OF_MAX} characters without control characters"
            ),
            Refusal::DataNotObject => write!(f, "data must be a JSON object"),
            Refusal::Number(reason) => write!(f, "{reason}"),
            Refusal::OtherOrg { token_org } => write!(
                f,
                "this token records events for org {token_org} only: data.org must be absent or {token_org}"
            ),
        }
    }
}

/// Where the application called from, as Warden saw it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Caller<'a> {
    pub ip: Option<&'a str>,
    pub user_agent: Option<&'a str>,
}

/// The event an application's request records, or why not. The actor is
/// the application (with the address and user agent Warden saw it call
/// with); the user it names goes to `on_behalf_of`, as its claim.
pub fn decide(app: &Application, caller: Caller<'_>, request: Request) -> Result<NewEvent, Refusal> {
    if !request.kind.starts_with(KIND_PREFIX) {
        return Err(Refusal::Kind);
    }
    if is_warden_subject(&request.subject) {
        return Err(Refusal::WardenSubject {
            subject: request.subject.chars().take(64).collect(),
        });
    }
    if let Some(user) = &request.on_behalf_of
        && (user.is_empty() || user.chars().count() > ON_BEHALF_OF_MAX || user.chars().any(char::is_control))
    {
        return Err(Refusal::OnBehalfOf);
    }
    let mut data = request.data.unwrap_or_else(|| json!({}));
    if !data.is_object() {
        return Err(Refusal::DataNotObject);
    }
    canonical::normalize(&mut data).map_err(|error| Refusal::Number(error.to_string()))?;
    if let (Some(token_org), Some(named)) = (&app.org, data.get("org").and_then(Value::as_str))
        && named != token_org
    {
        return Err(Refusal::OtherOrg {
            token_org: token_org.clone(),
        });
    }
    let mut actor = app.actor();
    actor.ip = caller.ip.map(str::to_string);
    actor.user_agent = caller.user_agent.map(str::to_string);
    actor.on_behalf_of = request.on_behalf_of;
    let mut event = NewEvent::new(request.kind, request.subject, actor)
        .outcome(request.outcome)
        .data(data);
    event.expected_version = request.expected_version;
    Ok(event)
}

/// How far Warden vouches for an event's actor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attribution<'a> {
    /// Warden authenticated the actor itself (every event but the
    /// application's).
    Warden,
    /// Recorded with the application token `token`; `on_behalf_of` is the
    /// application's claim, which Warden did not check.
    Application {
        token: &'a str,
        on_behalf_of: Option<&'a str>,
    },
    /// Recorded by the application before its actors were marked
    /// (before 2026-12): the whole actor is the application's claim.
    ApplicationLegacy,
}

impl Attribution<'_> {
    /// The wire name, as in the CSV export and the API.
    pub fn as_str(&self) -> &'static str {
        match self {
            Attribution::Warden => "warden",
            Attribution::Application { .. } => "application",
            Attribution::ApplicationLegacy => "application_legacy",
        }
    }
}

/// How far Warden vouches for `event`'s actor. Only the application
/// records kinds under `app.`, and only through its token.
pub fn attribution(event: &Event) -> Attribution<'_> {
    if !event.kind.starts_with(KIND_PREFIX) {
        return Attribution::Warden;
    }
    let token = (event.actor.kind == ActorKind::Service)
        .then_some(event.actor.id.as_deref())
        .flatten()
        .and_then(|id| id.strip_prefix(ACTOR_PREFIX));
    match token {
        Some(token) => Attribution::Application {
            token,
            on_behalf_of: event.actor.on_behalf_of.as_deref(),
        },
        None => Attribution::ApplicationLegacy,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn app(org: Option<&str>) -> Application {
        Application {
            name: "billing".into(),
            org: org.map(str::to_string),
        }
    }

    fn request(on_behalf_of: Option<&str>, data: Value) -> Request {
        Request {
            kind: "app.invoice.paid".into(),
            subject: "invoice:42".into(),
            on_behalf_of: on_behalf_of.map(str::to_string),
            outcome: Outcome::Success,
            data: Some(data),
            expected_version: None,
        }
    }

    #[test]
    fn the_actor_is_the_application_and_the_user_its_claim() {
        // (token org, on_behalf_of, data) → (actor org, on_behalf_of)
        let cases = [
            (None, None, json!({}), None, None),
            (None, Some("u-7"), json!({"org": "acme"}), None, Some("u-7")),
            (Some("o1"), Some("u-7"), json!({}), Some("o1"), Some("u-7")),
            (Some("o1"), None, json!({"org": "o1"}), Some("o1"), None),
            // Only a string names an org (the audit index reads no other).
            (Some("o1"), None, json!({"org": 7}), Some("o1"), None),
        ];
        for (token_org, user, data, org, on_behalf_of) in cases {
            let caller = Caller {
                ip: Some("198.51.100.7"),
                user_agent: Some("billing/2.1"),
            };
            let event = decide(&app(token_org), caller, request(user, data.clone())).unwrap();
            assert_eq!(event.actor.kind, ActorKind::Service, "{token_org:?} {user:?}");
            assert_eq!(event.actor.id.as_deref(), Some("app:billing"));
            assert_eq!(event.actor.org.as_deref(), org, "{token_org:?} {data}");
            assert_eq!(event.actor.on_behalf_of.as_deref(), on_behalf_of);
            assert_eq!(event.actor.ip.as_deref(), Some("198.51.100.7"));
            assert_eq!(event.actor.user_agent.as_deref(), Some("billing/2.1"));
            assert_eq!(event.data, data);
        }
    }

    #[test]
    fn refusals() {
        let base = || request(None, json!({}));
        let cases: Vec<(Option<&str>, Request, Refusal)> = vec![
            (
                None,
                Request {
                    kind: "user.created".into(),
                    ..base()
                },
                Refusal::Kind,
            ),
            (
                None,
                Request {
                    subject: "alert_rule:1".into(),
                    ..base()
                },
                Refusal::WardenSubject {
                    subject: "alert_rule:1".into(),
                },
            ),
            (None, request(Some(""), json!({})), Refusal::OnBehalfOf),
            (None, request(Some("u\n7"), json!({})), Refusal::OnBehalfOf),
            (None, request(Some(&"u".repeat(201)), json!({})), Refusal::OnBehalfOf),
            (None, request(None, json!([1])), Refusal::DataNotObject),
            (
                None,
                request(None, json!({"x": 0.5})),
                Refusal::Number(
                    "number 0.5 is not an integer within ±(2^53-1); Warden events carry only safe integers".into(),
                ),
            ),
            (
                Some("o1"),
                request(None, json!({"org": "o2"})),
                Refusal::OtherOrg { token_org: "o1".into() },
            ),
        ];
        for (token_org, request, expected) in cases {
            let refusal = decide(&app(token_org), Caller::default(), request.clone()).unwrap_err();
            assert_eq!(refusal, expected, "{request:?}");
            assert_eq!(refusal.forbidden(), matches!(expected, Refusal::OtherOrg { .. }));
            assert!(!refusal.to_string().is_empty());
        }
        assert!(
            decide(
                &app(None),
                Caller::default(),
                request(Some(&"é".repeat(200)), json!({}))
            )
            .is_ok()
        );
    }

    #[test]
    fn token_names() {
        for good in ["billing", "a", "app-2", "x_y", &"a".repeat(63)] {
            assert!(valid_token_name(good), "{good}");
        }
        for bad in ["", "-a", "_a", "Billing", "a b", "a:b", "é", &"a".repeat(64)] {
            assert!(!valid_token_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn attribution_tells_warden_s_word_from_the_application_s() {
        let event = |kind: &str, actor: Actor| {
            Event::unsealed(1, crate::event::now_micros(), NewEvent::new(kind, "x:1", actor))
        };
        let app_actor = decide(&app(None), Caller::default(), request(Some("u-7"), json!({})))
            .unwrap()
            .actor;
        let mut user = Actor::of_kind(ActorKind::User);
        user.id = Some("u-7".into());
        let mut pretender = Actor::of_kind(ActorKind::Service);
        pretender.id = Some("billing".into());
        let cases = [
            ("session.created", user.clone(), "warden"),
            // A Warden event by a service actor named like an application.
            ("user.created", app_actor.clone(), "warden"),
            ("app.invoice.paid", app_actor.clone(), "application"),
            ("app.invoice.paid", user, "application_legacy"),
            ("app.invoice.paid", pretender, "application_legacy"),
            (
                "app.invoice.paid",
                Actor::of_kind(ActorKind::Service),
                "application_legacy",
            ),
        ];
        for (kind, actor, expected) in cases {
            let event = event(kind, actor);
            assert_eq!(attribution(&event).as_str(), expected, "{kind} {:?}", event.actor);
        }
        let event = event("app.invoice.paid", app_actor);
        assert_eq!(
            attribution(&event),
            Attribution::Application {
                token: "billing",
                on_behalf_of: Some("u-7")
            }
        );
    }
}
