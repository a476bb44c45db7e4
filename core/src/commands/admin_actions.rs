//! The kinds that record a person's change to how an org is run: its
//! members and their roles, its policies, keys, secrets, alert rules,
//! webhooks, legal holds and single sign-on connections. The home page
//! lists the latest of them done by a person ("recent admin actions");
//! one list, here, beside the catalogue it is checked against.

use super::{account, alert, api_key, mfa, org, recovery, retention, secret, sso, webhook_endpoint};

/// Every kind of an admin action.
pub const ADMIN_ACTIONS: &[&str] = &[
    account::USER_CREATED,
    account::USER_ROLE_CHANGED,
    account::USER_DISABLED,
    account::USER_ENABLED,
    org::ORG_MFA_POLICY_CHANGED,
    org::ORG_SESSION_POLICY_CHANGED,
    org::ORG_SECURITY_EMAILS_CHANGED,
    mfa::RESET,
    recovery::PASSWORD_RESET_ISSUED,
    api_key::API_KEY_CREATED,
    api_key::API_KEY_CHANGED,
    api_key::API_KEY_ROTATED,
    api_key::API_KEY_REVOKED,
    secret::SECRET_CREATED,
    secret::SECRET_VERSION_ADDED,
    secret::SECRET_READERS_CHANGED,
    secret::SECRET_ROLLED_BACK,
    secret::SECRET_SHREDDED,
    alert::ALERT_RULE_CREATED,
    alert::ALERT_RULE_CHANGED,
    alert::ALERT_RULE_DISABLED,
    alert::ALERT_RULE_ENABLED,
    alert::ALERT_RULE_REMOVED,
    webhook_endpoint::WEBHOOK_ENDPOINT_CREATED,
    webhook_endpoint::WEBHOOK_ENDPOINT_REMOVED,
    retention::LEGAL_HOLD_PLACED,
    retention::LEGAL_HOLD_RELEASED,
    sso::SSO_CONNECTION_CREATED,
    sso::SSO_CONNECTION_CHANGED,
    sso::SSO_CONNECTION_DOMAIN_ACKNOWLEDGED,
    sso::SSO_CONNECTION_ENABLED,
    sso::SSO_CONNECTION_DISABLED,
    sso::SSO_CONNECTION_REMOVED,
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::catalogue::KINDS;

    #[test]
    fn every_admin_action_is_a_catalogued_kind_once() {
        for kind in ADMIN_ACTIONS {
            assert!(KINDS.contains(kind), "{kind}");
        }
        let mut sorted = ADMIN_ACTIONS.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), ADMIN_ACTIONS.len());
    }
}
