//! A generated audit trail: many orgs, users, sign-ins, failures, second
//! factors and application events, shaped like Warden's own events; and a
//! brute-force reference that says which events a search must find,
//! written apart from the index so that the two can disagree.

use std::collections::HashMap;
use std::net::IpAddr;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use warden_core::{Actor, ActorKind, Event, NewEvent, Outcome};
use warden_projections::audit::{AuditQuery, KindPattern};

/// A word that only ever appears inside sealed fields and hashes.
pub const SEALED_WORD: &str = "zebrasecret";
/// The roles a generated role change may grant.
const ROLES: [&str; 4] = ["owner", "admin", "member", "auditor"];

pub const WORDS: [&str; 16] = [
    "firefox",
    "chrome",
    "safari",
    "linux",
    "macos",
    "windows",
    "invoice",
    "refund",
    "laptop",
    "phone",
    "berlin",
    "paris",
    "lagos",
    "quarterly",
    "export",
    "payroll",
];

pub struct GeneratedUser {
    pub id: String,
    pub org: String,
    pub email: String,
}

/// The people of a generated trail.
pub struct Population {
    pub orgs: Vec<String>,
    pub users: Vec<GeneratedUser>,
}

impl Population {
    pub fn new(orgs: usize, users_per_org: usize) -> Self {
        let orgs: Vec<String> = (0..orgs).map(|n| format!("org{n:02}")).collect();
        let users = orgs
            .iter()
            .flat_map(|org| {
                (0..users_per_org).map(move |n| GeneratedUser {
                    id: format!("{org}-u{n:03}"),
                    org: org.clone(),
                    email: format!("user{n}@{org}.example"),
                })
            })
            .collect();
        Population { orgs, users }
    }

    /// The `user.created` events of everyone.
    pub fn creations(&self) -> Vec<NewEvent> {
        self.users
            .iter()
            .map(|user| {
                NewEvent::new("user.created", format!("user:{}", user.id), Actor::system()).data(json!({
                    "org": user.org,
                    "email": user.email,
                    "display_name": format!("User {}", user.id),
                    "role": "member",
                    "status": "active",
                }))
            })
            .collect()
    }
}

fn ip(rng: &mut StdRng) -> String {
    match rng.random_range(0..4) {
        0 => format!("10.1.{}.{}", rng.random_range(0..4), rng.random_range(1..255)),
        1 => format!("10.2.{}.{}", rng.random_range(0..4), rng.random_range(1..255)),
        2 => format!("192.0.2.{}", rng.random_range(1..255)),
        _ => format!("2001:db8:a::{:x}", rng.random_range(1..4096)),
    }
}

fn words(rng: &mut StdRng, count: usize) -> String {
    (0..count)
        .map(|_| WORDS[rng.random_range(0..WORDS.len())])
        .collect::<Vec<_>>()
        .join(" ")
}

/// `count` varied events about `population`, deterministic for a seed.
pub fn generate(population: &Population, count: usize, seed: u64) -> Vec<NewEvent> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut events = Vec::with_capacity(count);
    let mut request = String::new();
    for n in 0..count {
        // Requests hold one to three events.
        if n == 0 || rng.random_range(0..2) == 0 {
            request = format!("req-{seed}-{n}");
        }
        let user = &population.users[rng.random_range(0..population.users.len())];
        let session = format!("s-{}-{}", user.id, rng.random_range(0..20));
        let client_ip = ip(&mut rng);
        let mut as_user = Actor::of_kind(ActorKind::User);
        as_user.id = Some(user.id.clone());
        as_user.org = Some(user.org.clone());
        as_user.ip = Some(client_ip.clone());
        as_user.user_agent = Some(format!("Mozilla/5.0 ({})", words(&mut rng, 1)));
        let mut anonymous = Actor::of_kind(ActorKind::Anonymous);
        anonymous.ip = Some(client_ip.clone());
        let event = match rng.random_range(0..9) {
            0 | 1 => {
                let known = rng.random_range(0..5) > 0;
                let identifier = if known {
                    user.email.clone()
                } else {
                    format!("stranger{}@example.net", rng.random_range(0..100))
                };
                let reason = if known { "wrong_password" } else { "unknown_account" };
                let mut data = json!({"method": "password", "reason": reason, "identifier": identifier});
                if known {
                    data["user"] = json!(user.id);
                }
                let outcome = if rng.random_range(0..4) == 0 {
                    Outcome::Denied
                } else {
                    Outcome::Failure
                };
                NewEvent::new("login.failed", format!("login:{identifier}"), anonymous)
                    .data(data)
                    .outcome(outcome)
            }
            2 => NewEvent::new("login.succeeded", format!("login:{}", user.email), as_user).data(json!({
                "user": user.id, "method": "password", "session": session, "identifier": user.email,
            })),
            3 => NewEvent::new("session.created", format!("session:{session}"), as_user).data(json!({
                "user": user.id, "org": user.org, "token_hash": format!("{SEALED_WORD}{n}"),
                "ip": client_ip, "user_agent": null,
                "device": {"browser": WORDS[rng.random_range(0..3)], "os": WORDS[rng.random_range(3..6)], "form": "desktop"},
                "fingerprint": format!("{n:016x}"),
                "assurance": {"at": "2026-11-28T04:32:30.983697Z", "level": "aal1", "methods": ["password"]},
                "idle_timeout_seconds": 28800, "expires_at": "2026-11-28T12:32:30.983697Z",
            })),
            4 => NewEvent::new("mfa.totp.enrolment_started", format!("mfa:{}", user.id), as_user).data(json!({
                "user": user.id, "enrolment": format!("e{n}"),
                "secret": {"sealed": "v1", "subject": format!("user:{}", user.id), "key_id": "k1",
                           "nonce": "bm9uY2U", "ciphertext": format!("{SEALED_WORD} {}", words(&mut rng, 2))},
                "digits": 6, "algorithm": "SHA1", "period_seconds": 30,
            })),
            5 => NewEvent::new("mfa.failed", format!("mfa-attempts:{}", user.id), anonymous)
                .data(json!({"user": user.id, "factor": "totp", "reason": "wrong_code", "session": session}))
                .outcome(Outcome::Failure),
            6 => {
                let mut service = Actor::of_kind(ActorKind::Service);
                service.id = Some(format!("billing-{}", rng.random_range(0..3)));
                let mut data = json!({"note": words(&mut rng, 3), "amount": n});
                if rng.random_range(0..2) == 0 {
                    data["org"] = json!(user.org);
                }
                NewEvent::new("app.invoice.paid", format!("invoice:{n}"), service).data(data)
            }
            7 => NewEvent::new("user.role_changed", format!("user:{}", user.id), as_user).data(json!({
                "org": user.org, "old": "member", "new": ROLES[rng.random_range(0..ROLES.len())],
            })),
            _ => NewEvent::new("session.revoked", format!("session:{session}"), as_user)
                .data(json!({"user": user.id, "reason": "signed_out"})),
        };
        events.push(event.request_id(request.clone()));
    }
    events
}

/// What the reference knows of one event, derived without the index.
pub struct Reference {
    pub seq: u64,
    pub at_micros: i64,
    pub kind: String,
    pub actor_kind: ActorKind,
    pub actor_id: Option<String>,
    pub actor_email: Option<String>,
    pub org: Option<String>,
    pub subject: String,
    pub user: Option<String>,
    pub session: Option<String>,
    pub outcome: Outcome,
    pub ip: Option<IpAddr>,
    pub request_id: String,
    pub words: Vec<String>,
}

/// Words as the index cuts them: runs of letters and digits, lower-cased,
/// shorter than 40 bytes.
pub fn tokens(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty() && word.len() < 40)
        .map(str::to_lowercase)
        .collect()
}

fn searchable_words(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(text) => out.extend(tokens(text)),
        Value::Array(items) => items.iter().for_each(|item| searchable_words(item, out)),
        Value::Object(members) if !members.contains_key("sealed") => {
            for (key, member) in members {
                let hash = key == "hash" || key == "hashes" || key.ends_with("_hash") || key == "passkey";
                if !hash {
                    searchable_words(member, out);
                }
            }
        }
        _ => {}
    }
}

/// The reference view of a whole log.
pub fn reference(log: &[Event]) -> Vec<Reference> {
    let mut people: HashMap<String, (String, String)> = HashMap::new();
    let mut references = Vec::with_capacity(log.len());
    for event in log {
        let text = |key: &str| event.data.get(key).and_then(Value::as_str).map(str::to_string);
        let after = |prefix: &str| event.subject.strip_prefix(prefix).map(str::to_string);
        if event.kind == "user.created"
            && let (Some(id), Some(org), Some(email)) = (after("user:"), text("org"), text("email"))
        {
            people.insert(id, (org, email));
        }
        let user = text("user")
            .or_else(|| after("user:"))
            .or_else(|| after("mfa:"))
            .or_else(|| after("mfa-attempts:"))
            .or_else(|| after("devices:"));
        let org = event
            .actor
            .org
            .clone()
            .or_else(|| text("org"))
            .or_else(|| user.as_ref().and_then(|id| people.get(id)).map(|(org, _)| org.clone()))
            .or_else(|| after("org:"));
        let actor_email = match (event.actor.kind, &event.actor.id) {
            (ActorKind::User, Some(id)) => people.get(id).map(|(_, email)| email.clone()),
            _ => None,
        };
        let mut words = Vec::new();
        searchable_words(&event.data, &mut words);
        references.push(Reference {
            seq: event.seq,
            at_micros: event.at.timestamp_micros(),
            kind: event.kind.clone(),
            actor_kind: event.actor.kind,
            actor_id: event.actor.id.clone(),
            actor_email,
            org,
            subject: event.subject.clone(),
            session: text("session").or_else(|| after("session:")),
            user,
            outcome: event.outcome,
            ip: event
                .actor
                .ip
                .clone()
                .or_else(|| text("ip"))
                .and_then(|ip| ip.parse().ok()),
            request_id: event.request_id.clone(),
            words,
        });
    }
    references
}

fn kind_matches(pattern: &KindPattern, kind: &str) -> bool {
    match pattern {
        KindPattern::Any => true,
        KindPattern::Exact(exact) => kind == exact,
        KindPattern::Prefix(prefix) => kind.len() > prefix.len() && kind.starts_with(&format!("{prefix}.")),
    }
}

/// Whether a search must find this event.
pub fn matches(query: &AuditQuery, event: &Reference) -> bool {
    let equal = |wanted: &Option<String>, have: &Option<String>| wanted.is_none() || wanted == have;
    equal(&query.org, &event.org)
        && (query.kinds.is_empty() || query.kinds.iter().any(|kind| kind_matches(kind, &event.kind)))
        && query.actor.as_ref().is_none_or(|actor| {
            event.actor_id.as_ref() == Some(actor) || event.actor_email.as_ref() == Some(&actor.to_lowercase())
        })
        && query.actor_kind.is_none_or(|kind| kind == event.actor_kind)
        && query.subject.as_ref().is_none_or(|subject| *subject == event.subject)
        && equal(&query.user, &event.user)
        && equal(&query.session, &event.session)
        && query.outcome.is_none_or(|outcome| outcome == event.outcome)
        && query
            .ip
            .is_none_or(|range| event.ip.is_some_and(|ip| range.contains(ip)))
        && query.request_id.as_ref().is_none_or(|id| *id == event.request_id)
        && query.from.is_none_or(|from| event.at_micros >= from.timestamp_micros())
        && query
            .until
            .is_none_or(|until| event.at_micros < until.timestamp_micros())
        && query
            .seqs
            .is_none_or(|(first, last)| (first..=last).contains(&event.seq))
        && query
            .text
            .as_ref()
            .is_none_or(|text| tokens(text).iter().all(|word| event.words.contains(word)))
}

/// The text of some HTML: tags left out, the usual entities read.
pub fn text(html: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for character in html.chars() {
        match character {
            '<' => in_tag = true,
            '>' => in_tag = false,
            _ if !in_tag => out.push(character),
            _ => {}
        }
    }
    out.replace("&#34;", "\"")
        .replace("&quot;", "\"")
        .replace("&#38;", "&")
        .replace("&amp;", "&")
        .replace("&lt;", "<")
        .replace("&#60;", "<")
        .replace("&gt;", ">")
        .replace("&#62;", ">")
        .replace("&#39;", "'")
}

/// The sentence cells of an events table.
pub fn sentences(html: &str) -> Vec<String> {
    html.split("<td class=\"sentence\">")
        .skip(1)
        .map(|rest| text(rest.split("</td>").next().unwrap()))
        .collect()
}

/// The audit page at `path` once it lists `count` events (the index
/// commits about every second).
pub async fn listing(forms: &crate::web::Forms, cookie: &str, path: &str, count: usize) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let (status, html) = forms.html(path, cookie).await;
        assert_eq!(status, 200, "{html}");
        if sentences(&html).len() >= count {
            return html;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{path} did not list {count}: {html}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

/// The password of every user of [`two_orgs`].
pub const LEGACY_PASSWORD: &str = "legacy password for audits";

/// Signs `email` of [`two_orgs`] in on the sign-in page; the session cookie.
pub async fn page_signed_in(forms: &crate::web::Forms, email: &str) -> String {
    let signed_in = forms
        .post("/sign-in", None, &[("email", email), ("password", LEGACY_PASSWORD)])
        .await;
    assert_eq!(signed_in.status(), 303, "{email}");
    crate::web::page_cookie(&signed_in).unwrap()
}

/// A user of [`two_orgs`], signed in through the API.
pub async fn signed_in(server: &crate::process::Server, email: &str) -> crate::web::WebClient {
    let mut client = crate::web::WebClient::new(server);
    let answer = client.sign_in(email, LEGACY_PASSWORD).await;
    assert_eq!(answer.status, 200, "{email}: {:?}", answer.body);
    client
}

/// An embedded instance with two orgs, imported from a legacy table
/// before it starts: `Acme` and `Globex`, each with `owner@`, `admin@`,
/// `auditor@` and `member@` users (`owner@acme.test` …), with more
/// environment variables.
pub async fn two_orgs(extra: &[(&str, &str)]) -> crate::web::Instance {
    two_orgs_on(extra, None).await
}

/// Imports [`two_orgs`]' orgs and users into the node of `env` (not
/// started).
pub async fn import_two_orgs(env: &crate::process::NodeEnv) {
    let source = crate::TestDatabase::create().await;
    let mut connection = source.superuser().await;
    sqlx::raw_sql(
        "CREATE TABLE organization_users (
            id bigserial PRIMARY KEY, email text, name text, organization text, role text,
            password_hash text, is_active boolean NOT NULL DEFAULT true)",
    )
    .execute(&mut connection)
    .await
    .unwrap();
    let hash = bcrypt::hash(LEGACY_PASSWORD, 4).unwrap();
    for org in ["acme", "globex"] {
        for role in ["owner", "admin", "auditor", "member"] {
            sqlx::query(
                "INSERT INTO organization_users (email, name, organization, role, password_hash)
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(format!("{role}@{org}.test"))
            .bind(format!("{role} of {org}"))
            .bind(org)
            .bind(role)
            .bind(&hash)
            .execute(&mut connection)
            .await
            .unwrap();
        }
    }
    let imported = env.run(&[
        "import",
        &format!("--source={}", source.url),
        "--column",
        "active=is_active",
    ]);
    assert!(
        imported.status.success(),
        "{}",
        String::from_utf8_lossy(&imported.stderr)
    );
}

/// The same on the PostgreSQL log at `database_url` (migrated, empty).
pub async fn two_orgs_on(extra: &[(&str, &str)], database_url: Option<&str>) -> crate::web::Instance {
    let dir = tempfile::tempdir().unwrap();
    let mut env = crate::process::NodeEnv::in_dir(dir.path());
    env.extra = extra.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    env.database_url = database_url.map(str::to_string);
    import_two_orgs(&env).await;
    let server = crate::process::Server::start(&env, "audit").await;
    crate::web::Instance::new(server, env, dir)
}
