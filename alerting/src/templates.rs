//! Built-in rule templates: starting points an admin enables and tunes.
//! Each is an ordinary rule; the list is what `GET
//! /api/v1/alert-templates` will serve.

use serde_json::json;

use crate::rule::RuleSpec;

/// A template: a stable name and the rule it proposes.
pub struct Template {
    pub name: &'static str,
    pub spec: RuleSpec,
}

/// Every template. Each matches events Warden records, and
/// `tests/tests/alert_templates.rs` makes each fire through the API (the
/// tampering alarm of `audit_chain_verification_failed` in `tamper.rs`);
/// a feature adds its templates with the events they match (decision
/// 0017).
pub fn all() -> Vec<Template> {
    let templates = [
        (
            "failed_sign_ins_per_account",
            json!({"name": "Failed sign-ins on one account", "severity": "medium",
                   "description": "5 failed sign-ins on the same account (or unknown email) within 5 minutes: a password being guessed.",
                   "condition": {"type": "event_count", "select": {"kinds": ["login.failed"]},
                                 "group_by": ["subject"], "window_seconds": 300, "threshold": 5},
                   "suppress_seconds": 900}),
        ),
        (
            "failed_sign_ins_per_ip",
            json!({"name": "Failed sign-ins from one address", "severity": "medium",
                   "description": "20 failed sign-ins from the same IP address within 5 minutes: credential stuffing.",
                   "condition": {"type": "event_count", "select": {"kinds": ["login.failed"]},
                                 "group_by": ["actor.ip"], "window_seconds": 300, "threshold": 20},
                   "suppress_seconds": 900}),
        ),
        (
            "password_spraying",
            json!({"name": "Password spraying", "severity": "high",
                   "description": "One IP address failing to sign in to 10 different accounts within 10 minutes.",
                   "condition": {"type": "value_count", "select": {"kinds": ["login.failed"]},
                                 "group_by": ["actor.ip"], "field": "subject",
                                 "window_seconds": 600, "threshold": 10},
                   "suppress_seconds": 1800}),
        ),
        (
            "privileged_role_granted",
            json!({"name": "Admin or owner role granted", "severity": "high",
                   "description": "A user was made an admin or an owner.",
                   "condition": {"type": "match",
                                 "select": {"kinds": ["user.role_changed"],
                                            "where": [{"field": "data.new", "in": ["admin", "owner"]}]}},
                   "suppress_seconds": 0}),
        ),
        (
            "mfa_removed",
            json!({"name": "Second factor removed", "severity": "medium",
                   "description": "An authenticator app or a passkey was removed from an account.",
                   "condition": {"type": "match",
                                 "select": {"kinds": ["mfa.totp.removed", "mfa.passkey.removed"]}},
                   "suppress_seconds": 0}),
        ),
        (
            "new_device_sign_in",
            json!({"name": "Sign-in from a new device", "severity": "info",
                   "description": "An account signed in from a device it never used before.",
                   "condition": {"type": "match", "select": {"kinds": ["device.first_seen"]},
                                 "group_by": ["subject"]},
                   "suppress_seconds": 0}),
        ),
        (
            "api_key_refused_repeatedly",
            json!({"name": "API key refused repeatedly", "severity": "medium",
                   "description": "One API key refused 3 times within 10 minutes (refusals are recorded at most once per 10 s per key and reason, so this is a sustained run of refusals or several reasons at once): a leaked or misused key, or a client gone wrong.",
                   "condition": {"type": "event_count", "select": {"kinds": ["api_key.refused"], "where": [{"field": "data.key", "exists": true}]},
                                 "group_by": ["data.key"], "window_seconds": 600, "threshold": 3},
                   "suppress_seconds": 1800}),
        ),
        (
            "api_key_used_after_owner_disabled",
            json!({"name": "API key used after its owner was disabled", "severity": "high",
                   "description": "Someone still holds and uses the key of a user who was disabled.",
                   "condition": {"type": "match",
                                 "select": {"kinds": ["api_key.refused"],
                                            "where": [{"field": "data.outcome", "equals": "disabled_owner"}]},
                                 "group_by": ["data.key"]},
                   "suppress_seconds": 3600}),
        ),
        (
            "api_key_used_from_new_network",
            json!({"name": "API key used from a new network", "severity": "medium",
                   "description": "A key was used from a network (an IPv4 /24, an IPv6 /64) it had not been used from before: a new deployment, or someone else holding the key. A key's first network is not news.",
                   "condition": {"type": "match",
                                 "select": {"kinds": ["api_key.used"],
                                            "where": [{"field": "data.new_networks", "exists": true}]},
                                 "group_by": ["data.key"]},
                   "suppress_seconds": 3600}),
        ),
        (
            "secret_read_by_new_reader",
            json!({"name": "Vault secret read by a new reader", "severity": "medium",
                   "description": "A user or key read a vault secret it had never read before: a new service, or someone else using a reader's credentials.",
                   "condition": {"type": "match",
                                 "select": {"kinds": ["secret.accessed"],
                                            "where": [{"field": "data.new_reader", "equals": true}]},
                                 "group_by": ["subject"]},
                   "suppress_seconds": 0}),
        ),
        (
            "secret_read_burst",
            json!({"name": "Burst of vault reads", "severity": "high",
                   "description": "One reader read 10 different vault secrets or versions within 10 minutes: someone collecting secrets. (Repeats of the same read are counted, not listed, so this counts distinct reads.)",
                   "condition": {"type": "event_count", "select": {"kinds": ["secret.accessed"]},
                                 "group_by": ["actor.id"], "window_seconds": 600, "threshold": 10},
                   "suppress_seconds": 1800}),
        ),
        (
            "secret_read_outside_working_hours",
            json!({"name": "Vault secret read outside working hours", "severity": "low",
                   "description": "A person read a vault secret before 08:00, after 18:00 (UTC; set utc_offset_minutes to the org's) or on a weekend. Services read at any hour: their keys are not people.",
                   "condition": {"type": "match",
                                 "select": {"kinds": ["secret.accessed"],
                                            "where": [{"field": "actor.kind", "equals": "user"}],
                                            "outside_hours": {"start_hour": 8, "end_hour": 18, "utc_offset_minutes": 0}},
                                 "group_by": ["actor.id"]},
                   "suppress_seconds": 3600}),
        ),
        (
            "secret_access_denied",
            json!({"name": "Vault read refused", "severity": "medium",
                   "description": "Someone who is not among a vault secret's readers asked for its value.",
                   "condition": {"type": "match", "select": {"kinds": ["secret.access_denied"],
                                                             "where": [{"field": "data.denial", "equals": "not_a_reader"}]},
                                 "group_by": ["actor.id"]},
                   "suppress_seconds": 900}),
        ),
        (
            "audit_chain_verification_failed",
            json!({"name": "Audit chain verification failed", "severity": "critical",
                   "description": "A node found an event of the log that does not verify: the log was altered.",
                   "condition": {"type": "match", "select": {"kinds": ["ledger.verification_failed"]}},
                   "suppress_seconds": 3600}),
        ),
    ];
    templates
        .into_iter()
        .filter_map(|(name, value)| {
            serde_json::from_value::<RuleSpec>(value)
                .ok()
                .map(|spec| Template { name, spec })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_template_parses_and_validates() {
        let templates = super::all();
        assert_eq!(templates.len(), 14, "a template failed to parse");
        for template in templates {
            if let Err(error) = template.spec.validate() {
                panic!("template {}: {error}", template.name);
            }
        }
    }
}
