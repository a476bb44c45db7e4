//! Warden's own API as keys reach it: its scopes, and who holds each.
//!
//! A key never does what its people could not. A scope of Warden's API
//! is held by roles ([`holds`]): only a manager whose role holds a scope
//! grants it to a key, a key owned by a user may name it only while that
//! user's role holds it, and at every request a user-owned key uses it
//! only while its owner's role still does (a demoted owner's key loses
//! what the demotion took). App keys carry the application's own scopes
//! and never reach Warden's API, whatever their scopes are named.

use crate::commands::account::Role;
use crate::commands::api_key::KeyKind;

/// One scope of Warden's API.
#[derive(Debug, Clone, Copy)]
pub struct Scope {
    pub name: &'static str,
    pub description: &'static str,
    /// Which roles hold it.
    held_by: fn(Role) -> bool,
}

fn managers(role: Role) -> bool {
    role.manages_users()
}

fn audit_readers(role: Role) -> bool {
    role.reads_audit_trail()
}

fn readers(role: Role) -> bool {
    role.manages_users() || role.reads_audit_trail()
}

/// Every scope of Warden's API; each operation needs one of them, or
/// takes no key (`docs/api.md`, the OpenAPI document's `apiKey`
/// requirements).
pub const WARDEN_SCOPES: &[Scope] = &[
    Scope {
        name: "keys:verify",
        description: "verify the application's keys (POST /api/v1/keys/verify)",
        held_by: managers,
    },
    Scope {
        name: "keys:read",
        description: "list the org's keys and their usage",
        held_by: readers,
    },
    Scope {
        name: "audit:read",
        description: "search and read the audit trail and its checkpoints",
        held_by: audit_readers,
    },
    Scope {
        name: "audit:export",
        description: "export the audit trail and its bundles",
        held_by: audit_readers,
    },
    Scope {
        name: "users:read",
        description: "list the org's users",
        held_by: managers,
    },
    Scope {
        name: "users:write",
        description: "create users, change their status, end their sessions (what an admin may do without a step-up)",
        held_by: managers,
    },
    Scope {
        name: "secrets:read",
        description: "read the vault secrets whose readers name the key, for a reason (GET /api/v1/secrets/{name})",
        held_by: managers,
    },
    Scope {
        name: "alerts:read",
        description: "read alert rules, alerts and templates",
        held_by: readers,
    },
];

pub fn find(name: &str) -> Option<&'static Scope> {
    WARDEN_SCOPES.iter().find(|scope| scope.name == name)
}

pub fn is_warden_scope(name: &str) -> bool {
    find(name).is_some()
}

/// Whether `role` holds `scope`; a scope that is not Warden's is the
/// application's business, which every role may name.
pub fn holds(role: Role, scope: &str) -> bool {
    find(scope).is_none_or(|scope| (scope.held_by)(role))
}

/// Who stands behind a key when it is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holder {
    /// A named service: the key's scopes as granted.
    Service,
    /// An active user of the key's org, with their role now.
    User(Role),
    /// A user who is no longer active, or gone, or an org that is gone.
    Inactive,
}

/// Whether a key of `kind` standing for `holder` may use `scope` on
/// Warden's own API (its scopes were checked already: this is what its
/// kind and its people allow on top).
pub fn usable_on_warden(kind: KeyKind, holder: Holder, scope: &str) -> bool {
    let by_kind = kind != KeyKind::App;
    let by_holder = match holder {
        Holder::Service => true,
        Holder::User(role) => holds(role, scope),
        Holder::Inactive => false,
    };
    by_kind && by_holder && is_warden_scope(scope)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_role_holds_the_scopes_of_what_it_may_do_itself() {
        // (role, scopes it holds) — the console's and the API's own rules:
        // managers manage users and keys, owners and auditors read the
        // audit trail, and the three of them read alerts and keys.
        let cases: [(Role, &[&str]); 4] = [
            (
                Role::Owner,
                &[
                    "keys:verify",
                    "keys:read",
                    "audit:read",
                    "audit:export",
                    "users:read",
                    "users:write",
                    "secrets:read",
                    "alerts:read",
                ],
            ),
            (
                Role::Admin,
                &[
                    "keys:verify",
                    "keys:read",
                    "users:read",
                    "users:write",
                    "secrets:read",
                    "alerts:read",
                ],
            ),
            (
                Role::Auditor,
                &["keys:read", "audit:read", "audit:export", "alerts:read"],
            ),
            (Role::Member, &[]),
        ];
        for (role, held) in cases {
            for scope in WARDEN_SCOPES {
                assert_eq!(
                    holds(role, scope.name),
                    held.contains(&scope.name),
                    "{role:?} {}",
                    scope.name
                );
            }
            assert!(holds(role, "invoices:read"), "the application's scopes are anyone's");
        }
    }

    #[test]
    fn only_service_and_vendor_keys_of_people_who_hold_a_scope_use_it() {
        let cases = [
            (KeyKind::Service, Holder::Service, "audit:read", true),
            (KeyKind::Vendor, Holder::Service, "audit:read", true),
            (KeyKind::App, Holder::Service, "audit:read", false),
            (KeyKind::Service, Holder::User(Role::Owner), "audit:read", true),
            (KeyKind::Service, Holder::User(Role::Admin), "audit:read", false),
            (KeyKind::Service, Holder::User(Role::Admin), "users:write", true),
            (KeyKind::Service, Holder::User(Role::Member), "users:read", false),
            (KeyKind::Service, Holder::Inactive, "users:read", false),
            (KeyKind::Service, Holder::Service, "invoices:read", false),
        ];
        for (kind, holder, scope, expected) in cases {
            assert_eq!(
                usable_on_warden(kind, holder, scope),
                expected,
                "{kind:?} {holder:?} {scope}"
            );
        }
    }
}
