//! Every read model reads exactly the kinds the catalogue says it reads
//! (`warden_core::commands::catalogue::read_by`): a kind a model folds
//! into its state without the catalogue naming it fails here, so the
//! catalogue is the one registry of who reads what, and a new kind is
//! placed deliberately.
//!
//! Each model is first fed every golden fixture of the kinds it reads
//! (so that it holds users, sessions, factors, rules … to change), then
//! every other kind's fixture, under the subject Warden gives that kind:
//! its state must not move. (Models follow the version of the subjects
//! they hold whatever the kind, so a kind under another kind's subject
//! would move them; Warden never appends one so.)

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use chrono::{DateTime, Utc};
use serde_json::Value;
use warden_core::commands::catalogue::{KINDS, read_by, readers};
use warden_core::commands::{Prefix, subject};
use warden_core::event::{Actor, Event, NewEvent};
use warden_projections::Projection;
use warden_projections::accounts::Accounts;
use warden_projections::alerts::Alerts;
use warden_projections::api_keys::ApiKeys;
use warden_projections::checkpoints::Checkpoints;
use warden_projections::deliveries::Deliveries;
use warden_projections::email_changes::EmailChanges;
use warden_projections::email_codes::EmailCodes;
use warden_projections::key_usage::KeyUsage;
use warden_projections::mfa::Mfa;
use warden_projections::outbox::Outbox;
use warden_projections::password_resets::PasswordResets;
use warden_projections::retention::Retention;
use warden_projections::sessions::Sessions;
use warden_projections::signing_keys::SigningKeys;
use warden_projections::sso::Sso;
use warden_projections::throttle::LoginThrottle;
use warden_projections::vault::Vault;

fn fixture(kind: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../core/tests/fixtures/events/{kind}.json"));
    serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap()
}

fn at() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-28T04:32:40Z")
        .unwrap()
        .with_timezone(&Utc)
}

/// The subject Warden gives a kind's events (the same id throughout, so
/// that events about one entity meet).
fn usual_subject(kind: &str) -> String {
    let prefix = match kind.split('.').next().unwrap() {
        "user" | "password" => Prefix::User,
        "login" => Prefix::Login,
        "device" => Prefix::Devices,
        "session" | "csrf" | "access" => Prefix::Session,
        "mfa" if kind == "mfa.failed" => Prefix::MfaAttempts,
        "mfa" => Prefix::Mfa,
        "org" => Prefix::Org,
        "setup" => Prefix::Setup,
        "import" => Prefix::Import,
        "audit" => Prefix::Audit,
        "legal_hold" => Prefix::LegalHold,
        "alert_rule" => Prefix::AlertRule,
        "alert" => Prefix::Alert,
        "webhook_endpoint" => Prefix::WebhookEndpoint,
        "api_key" if kind == "api_key.used" || kind == "api_key.refused" => Prefix::ApiKeyUse,
        "api_key" => Prefix::ApiKey,
        "ledger" if kind == "ledger.checkpointed" => Prefix::Checkpoints,
        "email_code" => Prefix::EmailAddress,
        "email" => Prefix::Email,
        "password_reset" if kind == "password_reset.requested" => Prefix::EmailAddress,
        "password_reset" => Prefix::PasswordReset,
        "email_change" => Prefix::EmailChange,
        "sso_connection" => Prefix::SsoConnection,
        "sso" => Prefix::SsoFlow,
        _ => Prefix::Ledger,
    };
    subject(prefix, "0193f1a2-8d10-7e42-b6c1-2f9a4d7e3c02")
}

fn event(seq: u64, kind: &str, subject: String) -> Event {
    let new = NewEvent::new(kind, subject, Actor::system()).data(fixture(kind));
    let mut event = Event::unsealed(seq, at(), new);
    event.subject_version = seq;
    event
}

/// A model's state as its snapshot holds it, without its count of events
/// seen (which every event moves).
fn state<P: Projection>(model: &P) -> Value {
    let mut value = serde_json::to_value(model).unwrap();
    if let Some(members) = value.as_object_mut() {
        members.remove("applied");
    }
    value
}

/// The kinds `P` folds into its state that the catalogue does not name.
fn unnamed_kinds<P: Projection>() -> Vec<String> {
    let reads = |kind: &str| read_by(kind).unwrap().contains(&P::NAME);
    let mut model = P::default();
    let mut seq = 0;
    for kind in KINDS.iter().filter(|kind| reads(kind)) {
        seq += 1;
        model.apply(&event(seq, kind, usual_subject(kind)));
    }
    let base = state(&model);
    let mut unnamed = Vec::new();
    for kind in KINDS.iter().filter(|kind| !reads(kind)) {
        let mut changed = model.clone_for_test();
        changed.apply(&event(seq + 1, kind, usual_subject(kind)));
        if state(&changed) != base {
            unnamed.push(kind.to_string());
        }
    }
    unnamed
}

/// A copy of a model through its snapshot, as a restart would make it.
trait CloneForTest: Projection {
    fn clone_for_test(&self) -> Self {
        serde_json::from_value(serde_json::to_value(self).unwrap()).unwrap()
    }
}

impl<P: Projection> CloneForTest for P {}

#[test]
fn every_read_model_reads_only_what_the_catalogue_names() {
    let found = [
        (Accounts::NAME, unnamed_kinds::<Accounts>()),
        (Sessions::NAME, unnamed_kinds::<Sessions>()),
        (Mfa::NAME, unnamed_kinds::<Mfa>()),
        (LoginThrottle::NAME, unnamed_kinds::<LoginThrottle>()),
        (SigningKeys::NAME, unnamed_kinds::<SigningKeys>()),
        (Retention::NAME, unnamed_kinds::<Retention>()),
        (Checkpoints::NAME, unnamed_kinds::<Checkpoints>()),
        (Alerts::NAME, unnamed_kinds::<Alerts>()),
        (Deliveries::NAME, unnamed_kinds::<Deliveries>()),
        (ApiKeys::NAME, unnamed_kinds::<ApiKeys>()),
        (KeyUsage::NAME, unnamed_kinds::<KeyUsage>()),
        (Vault::NAME, unnamed_kinds::<Vault>()),
        (EmailCodes::NAME, unnamed_kinds::<EmailCodes>()),
        (Outbox::NAME, unnamed_kinds::<Outbox>()),
        (PasswordResets::NAME, unnamed_kinds::<PasswordResets>()),
        (EmailChanges::NAME, unnamed_kinds::<EmailChanges>()),
        (Sso::NAME, unnamed_kinds::<Sso>()),
    ];
    let names: Vec<&str> = found.iter().map(|(name, _)| *name).collect();
    assert_eq!(
        names,
        readers::ALL,
        "the catalogue names every read model, and only those"
    );
    let wrong: Vec<String> = found
        .into_iter()
        .filter(|(_, kinds)| !kinds.is_empty())
        .map(|(name, kinds)| format!("{name} reads {kinds:?}"))
        .collect();
    assert!(
        wrong.is_empty(),
        "kinds read without a row in catalogue::read_by: {wrong:#?}"
    );
}

#[test]
fn every_model_the_catalogue_names_reads_something() {
    for name in readers::ALL {
        assert!(
            KINDS.iter().any(|kind| read_by(kind).unwrap().contains(name)),
            "{name} reads no kind"
        );
    }
}
