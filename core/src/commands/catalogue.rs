//! The catalogue of event payloads: every kind Warden appends, with the
//! type its `data` is written as, in one list.
//!
//! Read models decode an event's `data` as the type its kind was written
//! with. An event whose `data` no longer decodes (a field renamed or
//! retyped since it was written) would otherwise be skipped without a
//! word: a `session.rotated` lost on replay leaves the old token working.
//! The projection runner [`check`]s every verified event here before any
//! read model applies it, and stops on one that does not decode, as it does
//! on a chain violation. `core/tests/event_payloads.rs` holds a golden
//! payload of each kind (`core/tests/fixtures/events/<kind>.json`) to this
//! list, so that a change to a payload type fails a test first.
//!
//! Kinds outside the catalogue (application events, `app.*`) are the
//! caller's: they pass.
//!
//! Each kind also names the read models that fold it ([`read_by`]), so a
//! new kind is placed deliberately: its row does not compile without its
//! readers, and a model that reads a kind its row does not name fails
//! `projections/tests/kinds.rs`.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use thiserror::Error;

use super::sentence::{Sentence, Summarize};
use super::{
    account, alert, api_key, audit, checkpoint, email, email_change, import, kms, mfa, org, recovery, retention,
    secret, session, setup, sso, webhook_endpoint,
};
use crate::chain::SIGNING_KEY_ADDED;
use crate::event::Event;

/// The `data` of `signing_key.added`, as
/// [`crate::chain::signing_key_added_data`] writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SigningKeyAdded {
    /// `ed25519`.
    pub algorithm: String,
    pub key_id: String,
    /// 64 lower-case hex digits.
    pub public_key: String,
}

impl Summarize for SigningKeyAdded {
    fn summarize(&self, event: &Event) -> Option<Sentence> {
        Some(
            Sentence::by(event)
                .words(" added the signing key ")
                .value(self.key_id.as_str())
                .words(" to the log"),
        )
    }
}

/// The read models of `warden-projections`, by the names their snapshots
/// are kept under (`Projection::NAME`).
pub mod readers {
    pub const ACCOUNTS: &str = "accounts";
    pub const SESSIONS: &str = "sessions";
    pub const MFA: &str = "mfa";
    pub const LOGIN_THROTTLE: &str = "login_throttle";
    pub const SIGNING_KEYS: &str = "signing_keys";
    pub const RETENTION: &str = "retention";
    pub const CHECKPOINTS: &str = "checkpoints";
    pub const ALERTS: &str = "alerts";
    pub const DELIVERIES: &str = "deliveries";
    pub const API_KEYS: &str = "api_keys";
    pub const KEY_USAGE: &str = "key_usage";
    pub const VAULT: &str = "vault";
    pub const EMAIL_CODES: &str = "email_codes";
    pub const OUTBOX: &str = "outbox";
    pub const PASSWORD_RESETS: &str = "password_resets";
    pub const EMAIL_CHANGES: &str = "email_changes";
    pub const SSO: &str = "sso";

    /// Every read model.
    pub const ALL: &[&str] = &[
        ACCOUNTS,
        SESSIONS,
        MFA,
        LOGIN_THROTTLE,
        SIGNING_KEYS,
        RETENTION,
        CHECKPOINTS,
        ALERTS,
        DELIVERIES,
        API_KEYS,
        KEY_USAGE,
        VAULT,
        EMAIL_CODES,
        OUTBOX,
        PASSWORD_RESETS,
        EMAIL_CHANGES,
        SSO,
    ];
}

/// What to do with a kind's payload type, given the type. Every payload
/// type says its kinds' sentences ([`Summarize`]).
trait WithPayload {
    type Output;
    fn with<T: Serialize + DeserializeOwned + Summarize>(self) -> Self::Output;
}

/// Declares the catalogue from one list: [`KINDS`], and the dispatch from
/// a kind to its payload type. A kind listed twice is an unreachable
/// pattern (and fails the unit test below).
macro_rules! catalogue {
    ($($kind:path => $payload:ty, [$($reader:ident),*]),+ $(,)?) => {
        /// Every kind of the catalogue.
        pub const KINDS: &[&str] = &[$($kind),+];

        /// The read models that fold `kind` into their state (by their
        /// names, [`readers`]); `None` for a kind outside the catalogue.
        /// Every other read model ignores it, which
        /// `projections/tests/kinds.rs` checks on each kind's golden
        /// fixture. The audit index and the alert evaluator read every
        /// kind and are not named.
        pub fn read_by(kind: &str) -> Option<&'static [&'static str]> {
            match kind {
                $($kind => Some(&[$(readers::$reader),*]),)+
                _ => None,
            }
        }

        /// Runs `action` with `kind`'s payload type; `None` for a kind
        /// outside the catalogue.
        fn dispatch<A: WithPayload>(kind: &str, action: A) -> Option<A::Output> {
            match kind {
                $($kind => Some(action.with::<$payload>()),)+
                _ => None,
            }
        }
    };
}

catalogue! {
    SIGNING_KEY_ADDED => SigningKeyAdded, [SIGNING_KEYS],

    setup::SETUP_LINK_ISSUED => setup::LinkIssued, [ACCOUNTS],
    setup::SETUP_COMPLETED => setup::SetupCompleted, [ACCOUNTS],

    org::ORG_CREATED => org::OrgCreated, [ACCOUNTS],
    org::ORG_SESSION_POLICY_CHANGED => org::SessionPolicyChanged, [ACCOUNTS],
    org::ORG_MFA_POLICY_CHANGED => org::MfaPolicyChanged, [ACCOUNTS],
    org::ORG_SECURITY_EMAILS_CHANGED => org::SecurityEmailsChanged, [ACCOUNTS],
    org::ORG_REMOVED => org::OrgRemoved, [ACCOUNTS],

    account::USER_CREATED => account::UserCreated, [ACCOUNTS],
    account::USER_INVITATION_ACCEPTED => account::StatusChanged, [ACCOUNTS],
    account::USER_EMAIL_CHANGED => account::EmailChanged, [ACCOUNTS],
    account::USER_ROLE_CHANGED => account::RoleChanged, [ACCOUNTS],
    account::USER_DISABLED => account::StatusChanged, [ACCOUNTS],
    account::USER_ENABLED => account::StatusChanged, [ACCOUNTS],
    account::USER_REMOVED => account::UserRemoved, [ACCOUNTS],
    account::USER_TIME_ZONE_CHANGED => account::TimeZoneChanged, [ACCOUNTS],
    account::USER_SEARCH_SAVED => account::SearchSaved, [ACCOUNTS],
    account::USER_SEARCH_REMOVED => account::SearchRemoved, [ACCOUNTS],
    account::PASSWORD_SET => account::PasswordSet, [ACCOUNTS],
    account::PASSWORD_CHANGED => account::PasswordSet, [ACCOUNTS],
    account::PASSWORD_REHASHED => account::PasswordSet, [ACCOUNTS],
    account::LOGIN_SUCCEEDED => account::LoginSucceeded, [LOGIN_THROTTLE],
    account::LOGIN_FAILED => account::LoginFailed, [LOGIN_THROTTLE],

    import::IMPORT_STARTED => import::ImportStarted, [ACCOUNTS],
    import::IMPORT_COMPLETED => import::ImportCompleted, [ACCOUNTS],
    import::IMPORT_REVERTED => import::ImportReverted, [ACCOUNTS],

    session::SESSION_CREATED => session::SessionCreated, [SESSIONS],
    session::SESSION_REFRESHED => session::SessionRefreshed, [SESSIONS],
    session::SESSION_ROTATED => session::SessionRotated, [SESSIONS],
    session::SESSION_REVOKED => session::SessionRevoked, [SESSIONS],
    session::SESSION_ELEVATED => session::SessionElevated, [SESSIONS],
    session::DEVICE_FIRST_SEEN => session::DeviceFirstSeen, [SESSIONS],
    session::CSRF_REFUSED => session::CsrfRefused, [],
    session::ACCESS_DENIED => session::AccessDenied, [],

    mfa::TOTP_ENROLMENT_STARTED => mfa::TotpEnrolmentStarted, [MFA],
    mfa::TOTP_ENROLLED => mfa::TotpEnrolled, [MFA],
    mfa::TOTP_REMOVED => mfa::TotpRemoved, [MFA],
    mfa::BACKUP_CODES_GENERATED => mfa::BackupCodesGenerated, [MFA],
    mfa::BACKUP_CODES_ACKNOWLEDGED => mfa::BackupCodesAcknowledged, [MFA],
    mfa::PASSKEY_REGISTERED => mfa::PasskeyRegistered, [MFA],
    mfa::PASSKEY_RENAMED => mfa::PasskeyRenamed, [MFA],
    mfa::PASSKEY_REMOVED => mfa::PasskeyRemoved, [MFA],
    mfa::RESET => mfa::FactorsReset, [MFA],
    mfa::VERIFIED => mfa::Verified, [MFA, LOGIN_THROTTLE],
    mfa::FAILED => mfa::Failed, [LOGIN_THROTTLE],

    audit::AUDIT_SEARCHED => audit::Searched, [],
    audit::AUDIT_EVENT_VIEWED => audit::EventViewed, [],
    audit::AUDIT_EXPORTED => audit::Exported, [],

    retention::LEDGER_ARCHIVED => retention::Archived, [RETENTION],
    retention::LEGAL_HOLD_PLACED => retention::LegalHoldPlaced, [RETENTION],
    retention::LEGAL_HOLD_RELEASED => retention::LegalHoldReleased, [RETENTION],

    checkpoint::LEDGER_CHECKPOINTED => crate::chain::published::PublishedCheckpoint, [CHECKPOINTS],

    kms::KMS_ROTATION_STARTED => kms::RotationStarted, [],
    kms::KMS_ROTATION_FINISHED => kms::RotationFinished, [],
    kms::DATA_KEYS_UNWRAPPED => kms::DataKeysUnwrapped, [],
    kms::SIGNING_KEY_USED => kms::SigningKeyUsed, [],

    secret::SECRET_CREATED => secret::SecretCreated, [VAULT],
    secret::SECRET_VERSION_ADDED => secret::VersionAdded, [VAULT],
    secret::SECRET_ROLLED_BACK => secret::RolledBack, [VAULT],
    secret::SECRET_READERS_CHANGED => secret::ReadersChanged, [VAULT],
    secret::SECRET_SHREDDED => secret::Shredded, [VAULT],
    secret::SECRET_ACCESSED => secret::Accessed, [VAULT],
    secret::SECRET_ACCESS_DENIED => secret::AccessDenied, [],
    secret::SECRET_READS_COUNTED => secret::ReadsCounted, [VAULT],

    alert::ALERT_RULE_CREATED => alert::RuleDefined, [ALERTS],
    alert::ALERT_RULE_CHANGED => alert::RuleDefined, [ALERTS],
    alert::ALERT_RULE_ENABLED => alert::RuleToggled, [ALERTS],
    alert::ALERT_RULE_DISABLED => alert::RuleToggled, [ALERTS],
    alert::ALERT_RULE_REMOVED => alert::RuleToggled, [ALERTS],
    alert::ALERT_RULE_PREVIEWED => alert::Previewed, [],
    alert::ALERT_FIRED => alert::Fired, [ALERTS, DELIVERIES],
    alert::ALERT_DELIVERED => alert::DeliveryAttempt, [DELIVERIES],
    alert::ALERT_DELIVERY_FAILED => alert::DeliveryAttempt, [DELIVERIES],
    alert::ALERT_DEAD_LETTERED => alert::DeliveryAttempt, [DELIVERIES],
    alert::ALERT_RESEND_REQUESTED => alert::AlertAction, [DELIVERIES],
    alert::ALERT_ACKNOWLEDGED => alert::AlertAction, [ALERTS],
    alert::ALERT_RESOLVED => alert::AlertAction, [ALERTS],

    webhook_endpoint::WEBHOOK_ENDPOINT_CREATED => webhook_endpoint::EndpointCreated, [DELIVERIES],
    webhook_endpoint::WEBHOOK_ENDPOINT_REMOVED => webhook_endpoint::EndpointRemoved, [DELIVERIES],

    api_key::API_KEY_CREATED => api_key::KeyCreated, [API_KEYS],
    api_key::API_KEY_CHANGED => api_key::KeyChanged, [API_KEYS],
    api_key::API_KEY_ROTATED => api_key::KeyRotated, [API_KEYS],
    api_key::API_KEY_REVOKED => api_key::KeyRevoked, [API_KEYS],
    api_key::API_KEY_USED => api_key::KeyUsed, [API_KEYS, KEY_USAGE],
    api_key::API_KEY_REFUSED => api_key::KeyRefused, [],

    email::EMAIL_CODE_ISSUED => email::CodeIssued, [EMAIL_CODES],
    email::EMAIL_CODE_REFUSED => email::CodeRefused, [EMAIL_CODES],
    email::EMAIL_CODE_USED => email::CodeUsed, [EMAIL_CODES],
    email::EMAIL_QUEUED => email::EmailQueued, [OUTBOX],
    email::EMAIL_SENT => email::EmailAttempt, [OUTBOX],
    email::EMAIL_FAILED => email::EmailAttempt, [OUTBOX],
    email::EMAIL_BOUNCED => email::EmailAttempt, [OUTBOX],

    // On the address's subject, whose version the codes' model follows.
    recovery::PASSWORD_RESET_REQUESTED => recovery::ResetRequested, [EMAIL_CODES, PASSWORD_RESETS],
    recovery::PASSWORD_RESET_ISSUED => recovery::ResetIssued, [PASSWORD_RESETS],
    recovery::PASSWORD_RESET_USED => recovery::ResetUsed, [PASSWORD_RESETS],
    recovery::PASSWORD_RESET_REFUSED => recovery::ResetRefused, [PASSWORD_RESETS],

    email_change::EMAIL_CHANGE_REQUESTED => email_change::ChangeRequested, [EMAIL_CHANGES],
    email_change::EMAIL_CHANGE_VERIFIED => email_change::ChangeVerified, [EMAIL_CHANGES],
    email_change::EMAIL_CHANGE_REFUSED => email_change::ChangeRefused, [EMAIL_CHANGES],

    sso::SSO_CONNECTION_CREATED => sso::ConnectionCreated, [SSO],
    sso::SSO_CONNECTION_CHANGED => sso::ConnectionChanged, [SSO],
    sso::SSO_CONNECTION_DOMAIN_ACKNOWLEDGED => sso::DomainAcknowledged, [SSO],
    sso::SSO_CONNECTION_ENABLED => sso::ConnectionRef, [SSO],
    sso::SSO_CONNECTION_DISABLED => sso::ConnectionRef, [SSO],
    sso::SSO_CONNECTION_REMOVED => sso::ConnectionRef, [SSO],
    // The sso model keeps the flows each network has open.
    sso::sign_in::SSO_STARTED => sso::sign_in::Started, [SSO],
    // The sessions model notes the connection that signed a session in.
    sso::sign_in::SSO_SUCCEEDED => sso::sign_in::Succeeded, [SESSIONS, SSO],
    sso::sign_in::SSO_FAILED => sso::sign_in::Failed, [SSO],
    // On the user's subject, whose version the accounts model follows.
    sso::sign_in::USER_PROVISIONED => sso::sign_in::Provisioned, [ACCOUNTS, SSO],
    sso::sign_in::USER_LINKED => sso::sign_in::Linked, [ACCOUNTS, SSO],
}

/// An event of a catalogued kind whose `data` does not decode as that
/// kind's payload.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("seq {seq}: the data of this {kind} event does not decode: {reason}")]
pub struct PayloadError {
    pub seq: u64,
    pub kind: String,
    /// What the decoder said, with any string value of the data left out
    /// (the reason reaches logs and `/readyz`).
    pub reason: String,
}

/// Whether `event`'s `data` decodes as its kind's payload. Kinds outside
/// the catalogue pass.
pub fn check(event: &Event) -> Result<(), PayloadError> {
    decodes(&event.kind, &event.data).map_err(|reason| PayloadError {
        seq: event.seq,
        kind: event.kind.clone(),
        reason,
    })
}

/// Whether `data` decodes as `kind`'s payload (any data for a kind outside
/// the catalogue); the reason, without the data's strings, if not. The
/// ledger asks it of every event it is given, so a payload that does not
/// read back is refused at the append, not found by a read model later.
pub fn decodes(kind: &str, data: &Value) -> Result<(), String> {
    match dispatch(kind, Decode(data)) {
        None | Some(Ok(())) => Ok(()),
        Some(Err(error)) => Err(without_strings(&error.to_string())),
    }
}

/// The error for a part of `event`'s data that a reader decodes further
/// (an alert rule's `spec`) and that does not decode: such an event stops
/// its reader like any payload that does not decode.
pub fn undecodable(event: &Event, part: &str, error: &serde_json::Error) -> PayloadError {
    PayloadError {
        seq: event.seq,
        kind: event.kind.clone(),
        reason: format!("{part}: {}", without_strings(&error.to_string())),
    }
}

/// `data` decoded as `kind`'s payload and encoded again: `None` for a kind
/// outside the catalogue, an error when it does not decode. A payload that
/// comes back different lost or gained something on the way.
pub fn round_trip(kind: &str, data: &Value) -> Option<Result<Value, String>> {
    dispatch(kind, RoundTrip(data))
}

/// The readable sentence of `event` ([`super::sentence`]): its payload
/// type's, or, for a kind outside the catalogue (an application's event)
/// or data that does not decode, who recorded which kind about what.
pub fn sentence(event: &Event) -> Sentence {
    match own_sentence(event) {
        Some(Ok(Some(sentence))) => sentence,
        _ => Sentence::generic(event),
    }
}

/// The sentence `event`'s payload type says of it: `None` for a kind
/// outside the catalogue, an error when its data does not decode, and
/// `Some(Ok(None))` for a kind its type has no sentence for (which
/// `core/tests/event_sentences.rs` refuses).
pub fn own_sentence(event: &Event) -> Option<Result<Option<Sentence>, String>> {
    dispatch(&event.kind, Summary(event))
}

struct Summary<'a>(&'a Event);

impl WithPayload for Summary<'_> {
    type Output = Result<Option<Sentence>, String>;

    fn with<T: Serialize + DeserializeOwned + Summarize>(self) -> Self::Output {
        let payload = T::deserialize(&self.0.data).map_err(|error| without_strings(&error.to_string()))?;
        Ok(payload.summarize(self.0))
    }
}

struct Decode<'a>(&'a Value);

impl WithPayload for Decode<'_> {
    type Output = Result<(), serde_json::Error>;

    fn with<T: Serialize + DeserializeOwned + Summarize>(self) -> Self::Output {
        T::deserialize(self.0).map(drop)
    }
}

struct RoundTrip<'a>(&'a Value);

impl WithPayload for RoundTrip<'_> {
    type Output = Result<Value, String>;

    fn with<T: Serialize + DeserializeOwned + Summarize>(self) -> Self::Output {
        let payload = T::deserialize(self.0).map_err(|error| error.to_string())?;
        serde_json::to_value(&payload).map_err(|error| error.to_string())
    }
}

/// A decoder's message without the string values it quotes (`invalid
/// type: string "alice@example.org", expected u64`): event data holds
/// emails and addresses, and the message is shown to anyone who asks
/// `/readyz`.
fn without_strings(message: &str) -> String {
    const QUOTED: &str = "string \"";
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(start) = rest.find(QUOTED) {
        out.push_str(&rest[..start]);
        out.push_str("a string");
        // Skip to the closing quote of the `{:?}`-escaped value.
        let mut escaped = false;
        let mut end = rest.len();
        for (offset, character) in rest[start + QUOTED.len()..].char_indices() {
            match character {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => {
                    end = start + QUOTED.len() + offset + 1;
                    break;
                }
                _ => {}
            }
        }
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use serde_json::json;

    use super::*;
    use crate::event::{Actor, NewEvent};

    fn event(kind: &str, data: Value) -> Event {
        Event::unsealed(
            7,
            crate::event::now_micros(),
            NewEvent::new(kind, "session:s1", Actor::system()).data(data),
        )
    }

    #[test]
    fn every_kind_is_listed_once() {
        let unique: BTreeSet<&str> = KINDS.iter().copied().collect();
        assert_eq!(unique.len(), KINDS.len(), "a kind is listed twice: {KINDS:?}");
        assert!(KINDS.iter().all(|kind| crate::event::valid_kind(kind)));
        assert!(KINDS.contains(&SIGNING_KEY_ADDED));
    }

    #[test]
    fn a_payload_that_does_not_decode_names_its_event() {
        let rotated = json!({"token_hash": "ab".repeat(32), "reason": "privileges_changed"});
        assert_eq!(check(&event(session::SESSION_ROTATED, rotated)), Ok(()));
        let error = check(&event(
            session::SESSION_ROTATED,
            json!({"reason": "privileges_changed"}),
        ))
        .unwrap_err();
        assert_eq!((error.seq, error.kind.as_str()), (7, session::SESSION_ROTATED));
        assert!(error.reason.contains("token_hash"), "{error}");
        assert!(error.to_string().starts_with("seq 7: "), "{error}");
        // Not an object at all.
        assert!(check(&event(session::SESSION_ROTATED, json!([]))).is_err());
    }

    #[test]
    fn kinds_outside_the_catalogue_pass() {
        assert_eq!(check(&event("app.invoice.paid", json!(["anything"]))), Ok(()));
        assert_eq!(round_trip("app.invoice.paid", &json!({})), None);
    }

    #[test]
    fn reasons_leave_string_values_out() {
        let error = check(&event(
            audit::AUDIT_EVENT_VIEWED,
            json!({"org": "o1", "seq": "alice@example.org \"quoted\\\"", "kind": "user.created"}),
        ))
        .unwrap_err();
        assert!(!error.reason.contains("alice"), "{error}");
        assert!(error.reason.contains("invalid type: a string, expected u64"), "{error}");
        assert_eq!(
            without_strings("invalid type: string \"a\\\"b\", expected u64; string \"c\" too"),
            "invalid type: a string, expected u64; a string too"
        );
        assert_eq!(without_strings("missing field `user`"), "missing field `user`");
        assert_eq!(without_strings("string \"unterminated"), "a string");
    }
}
