//! Every route of the HTTP surface, once ([`table`]): its path, whether
//! it is the API's (in the OpenAPI document, which a test holds to this
//! table) or a page, whether it reads a session, and whether it needs no
//! CSRF token, and what credential each of its operations takes
//! ([`Access`](crate::web::principal::Access): none, its own, a person's session, or a session or a key
//! with one scope of Warden's API; `web::principal::Admit` holds keys to
//! it). Which people may call a route is what its handler's extractors
//! require (`web::session`'s `SignedIn`, `UserManager`, `AuditReader` …;
//! `pages`' `PageSession`, `PageManager` …); every state-changing request
//! passes the origin check (`web::csrf`).

use crate::handlers::{
    alerts, api_keys, app_events, audit, audit_keys, auth, checkpoints, health, legal_holds, mfa, openapi, org,
    prometheus, secrets, sessions, sso, users, webhook_endpoints,
};
use crate::pages;
use crate::web::principal::Access::{Own, Public, Scope, Session};

mod route;
mod stack;
pub use route::{Route, Surface};
use route::{api, page};
pub use stack::router;

/// Every route of the HTTP surface, once.
pub fn table() -> Vec<Route> {
    vec![
        api("/healthz").sessionless().get(Public, health::live),
        api("/readyz").sessionless().get(Public, health::ready),
        api("/metrics").sessionless().get(Public, prometheus::render),
        api("/.well-known/warden-audit-keys")
            .sessionless()
            .get(Public, audit_keys::list),
        api("/api/v1/openapi.json").sessionless().get(Public, openapi::document),
        page("/assets/warden.css")
            .sessionless()
            .get(Public, pages::assets::stylesheet),
        page("/assets/passkeys.js")
            .sessionless()
            .get(Public, pages::assets::passkeys_script),
        page("/assets/copy.js")
            .sessionless()
            .get(Public, pages::assets::copy_script),
        page("/assets/time-zone.js")
            .sessionless()
            .get(Public, pages::assets::time_zone_script),
        api("/api/v1/app-events").token_exempt().post(Own, app_events::record),
        api("/api/v1/audit/events").get(Scope("audit:read"), audit::search),
        api("/api/v1/audit/events/{seq}").get(Scope("audit:read"), audit::detail),
        api("/api/v1/audit/export").get(Scope("audit:export"), audit::export),
        api("/api/v1/audit/checkpoints").get(Scope("audit:read"), checkpoints::history),
        api("/api/v1/audit/checkpoints/latest").get(Scope("audit:read"), checkpoints::latest),
        api("/api/v1/audit/checkpoints/consistency").get(Scope("audit:read"), checkpoints::consistency),
        api("/api/v1/setup").token_exempt().post(Public, auth::setup),
        api("/api/v1/sign-in").token_exempt().post(Public, auth::sign_in),
        api("/api/v1/sign-out").post(Session, auth::sign_out),
        api("/api/v1/invitations/accept")
            .token_exempt()
            .post(Public, auth::accept_invitation),
        api("/api/v1/session").get(Session, auth::session),
        api("/api/v1/auth/forward").get(Own, auth::forward),
        api("/api/v1/sessions").get(Session, sessions::list),
        api("/api/v1/sessions/{id}").delete(Session, sessions::revoke),
        api("/api/v1/sessions/sign-out-others").post(Session, sessions::revoke_others),
        api("/api/v1/password").put(Session, sessions::change_password),
        api("/api/v1/email-change").post(Session, sessions::request_email_change),
        api("/api/v1/email-change/verify")
            .token_exempt()
            .post(Public, sessions::verify_email_change),
        api("/api/v1/session/reauthenticate").post(Session, mfa::reauthenticate),
        api("/api/v1/mfa").get(Session, mfa::factors),
        api("/api/v1/mfa/totp")
            .post(Session, mfa::start_totp)
            .delete(Session, mfa::remove_totp),
        api("/api/v1/mfa/totp/confirm").post(Session, mfa::confirm_totp),
        api("/api/v1/mfa/backup-codes").post(Session, mfa::regenerate_backup_codes),
        api("/api/v1/mfa/backup-codes/acknowledge").post(Session, mfa::acknowledge_backup_codes),
        api("/api/v1/mfa/verify").post(Session, mfa::verify),
        api("/api/v1/mfa/passkeys/register/start").post(Session, mfa::start_passkey_registration),
        api("/api/v1/mfa/passkeys/register/finish").post(Session, mfa::finish_passkey_registration),
        api("/api/v1/mfa/passkeys/verify/start").post(Session, mfa::start_passkey_verification),
        api("/api/v1/mfa/passkeys/verify/finish").post(Session, mfa::finish_passkey_verification),
        api("/api/v1/mfa/passkeys/{credential}")
            .patch(Session, mfa::rename_passkey)
            .delete(Session, mfa::remove_passkey),
        api("/api/v1/sign-in/passkey/start")
            .token_exempt()
            .post(Public, mfa::start_passkey_sign_in),
        api("/api/v1/sign-in/passkey/finish")
            .token_exempt()
            .post(Public, mfa::finish_passkey_sign_in),
        api("/api/v1/sign-in/email/start")
            .token_exempt()
            .post(Public, auth::start_email_sign_in),
        api("/api/v1/sign-in/email/finish")
            .token_exempt()
            .post(Public, auth::finish_email_sign_in),
        api("/api/v1/password-reset/start")
            .token_exempt()
            .post(Public, auth::start_password_reset),
        api("/api/v1/password-reset/finish")
            .token_exempt()
            .post(Public, auth::finish_password_reset),
        api("/api/v1/org").get(Session, org::get),
        api("/api/v1/org/session-policy").put(Session, org::change_session_policy),
        api("/api/v1/org/security-emails")
            .get(Session, org::security_emails)
            .put(Session, org::change_security_emails),
        api("/api/v1/org/mfa-policy")
            .get(Session, org::mfa_policy)
            .put(Session, org::change_mfa_policy),
        api("/api/v1/org/legal-holds")
            .get(Session, legal_holds::list)
            .post(Session, legal_holds::place),
        api("/api/v1/org/legal-holds/{id}/release").post(Session, legal_holds::release),
        api("/api/v1/alert-rules")
            .get(Scope("alerts:read"), alerts::list)
            .post(Session, alerts::create),
        api("/api/v1/alert-rules/{id}")
            .get(Scope("alerts:read"), alerts::get)
            .put(Session, alerts::change)
            .delete(Session, alerts::remove),
        api("/api/v1/alert-rules/preview").post(Session, alerts::preview),
        api("/api/v1/alert-rules/{id}/enable").post(Session, alerts::enable),
        api("/api/v1/alert-rules/{id}/disable").post(Session, alerts::disable),
        api("/api/v1/alert-templates").get(Scope("alerts:read"), alerts::templates),
        api("/api/v1/alerts").get(Scope("alerts:read"), alerts::recent),
        api("/api/v1/alerts/{id}").get(Scope("alerts:read"), alerts::alert),
        api("/api/v1/alerts/{id}/acknowledge").post(Session, alerts::acknowledge),
        api("/api/v1/alerts/{id}/resolve").post(Session, alerts::resolve),
        api("/api/v1/alerts/{id}/resend").post(Session, alerts::resend),
        api("/api/v1/webhook-endpoints")
            .get(Session, webhook_endpoints::list)
            .post(Session, webhook_endpoints::create),
        api("/api/v1/webhook-endpoints/{id}").delete(Session, webhook_endpoints::remove),
        api("/api/v1/sso/connections")
            .get(Session, sso::list)
            .post(Session, sso::create),
        api("/api/v1/sso/connections/{id}")
            .get(Session, sso::show)
            .patch(Session, sso::change)
            .delete(Session, sso::remove),
        api("/api/v1/sso/connections/{id}/domains/{domain}/acknowledge").post(Session, sso::acknowledge),
        api("/api/v1/sso/connections/{id}/enable").post(Session, sso::enable),
        api("/api/v1/sso/connections/{id}/disable").post(Session, sso::disable),
        api("/api/v1/keys")
            .get(Scope("keys:read"), api_keys::list)
            .post(Session, api_keys::create),
        api("/api/v1/keys/verify")
            .sessionless()
            .token_exempt()
            .post(Scope("keys:verify"), api_keys::verify),
        api("/api/v1/keys/{id}")
            .get(Scope("keys:read"), api_keys::get)
            .patch(Session, api_keys::change),
        api("/api/v1/keys/{id}/rotate").post(Session, api_keys::rotate),
        api("/api/v1/keys/{id}/revoke").post(Session, api_keys::revoke),
        api("/api/v1/keys/{id}/usage").get(Scope("keys:read"), api_keys::usage),
        api("/api/v1/keys/{id}/tickets").get(Scope("audit:read"), api_keys::tickets),
        api("/api/v1/users")
            .get(Scope("users:read"), users::list)
            .post(Scope("users:write"), users::create),
        api("/api/v1/users/inactive").get(Scope("users:read"), users::inactive),
        api("/api/v1/users/inactive/disable").post(Scope("users:write"), users::disable_inactive),
        api("/api/v1/users/{id}").patch(Scope("users:write"), users::change),
        api("/api/v1/users/{id}/sessions").delete(Scope("users:write"), users::revoke_sessions),
        api("/api/v1/users/{id}/emails").get(Scope("users:read"), users::emails),
        api("/api/v1/users/{id}/password-reset").post(Scope("users:write"), users::send_password_reset),
        api("/api/v1/users/{id}/second-factors/reset").post(Scope("users:write"), users::reset_second_factors),
        api("/api/v1/secrets")
            .get(Session, secrets::list)
            .post(Session, secrets::create),
        api("/api/v1/secrets/{name}")
            .get(Scope("secrets:read"), secrets::read)
            .put(Session, secrets::add_version)
            .delete(Session, secrets::shred),
        api("/api/v1/secrets/{name}/rollback").post(Session, secrets::roll_back),
        api("/api/v1/secrets/{name}/readers").put(Session, secrets::change_readers),
        page("/").get(Session, pages::home::show),
        page("/sign-in")
            .token_exempt()
            .get(Public, pages::sign_in::form)
            .post(Public, pages::sign_in::submit),
        page("/sign-in/org/{slug}").get(Public, pages::sign_in::org_form),
        page("/admin/sso")
            .get(Session, pages::sso_connections::list)
            .post(Session, pages::sso_connections::create),
        page("/admin/sso/new").get(Session, pages::sso_connections::new),
        page("/admin/sso/{id}")
            .get(Session, pages::sso_connections::show)
            .post(Session, pages::sso_connections::change),
        page("/admin/sso/{id}/domains/{domain}/acknowledge").post(Session, pages::sso_connections::acknowledge),
        page("/admin/sso/{id}/enable").post(Session, pages::sso_connections::enable),
        page("/admin/sso/{id}/disable").post(Session, pages::sso_connections::disable),
        page("/admin/sso/{id}/remove").post(Session, pages::sso_connections::remove),
        page("/admin/sso/{id}/test").post(Session, pages::sso_connections::test),
        page("/sso/start").get(Public, pages::sso::start),
        page("/sso/callback").get(Public, pages::sso::callback),
        page("/sso/signed-out").get(Public, pages::sso::signed_out),
        page("/sign-in/email")
            .get(Public, pages::email_sign_in::form)
            .post(Public, pages::email_sign_in::submit),
        page("/sign-in/email/code")
            .get(Public, pages::email_sign_in::link)
            .post(Public, pages::email_sign_in::finish),
        page("/forgot-password")
            .token_exempt()
            .get(Public, pages::recovery::forgot_form)
            .post(Public, pages::recovery::forgot_submit),
        page("/reset-password")
            .token_exempt()
            .get(Public, pages::recovery::reset_form)
            .post(Public, pages::recovery::reset_submit),
        page("/sign-out").post(Session, pages::sign_in::sign_out),
        page("/setup")
            .token_exempt()
            .get(Public, pages::sign_in::setup_form)
            .post(Public, pages::sign_in::setup_submit),
        page("/invitation")
            .token_exempt()
            .get(Public, pages::sign_in::invitation_form)
            .post(Public, pages::sign_in::invitation_submit),
        page("/settings/sessions").get(Session, pages::settings::sessions),
        page("/settings/sessions/{id}/revoke").post(Session, pages::settings::revoke),
        page("/settings/sessions/revoke-others").post(Session, pages::settings::revoke_others),
        page("/settings/email")
            .get(Session, pages::email_change::form)
            .post(Session, pages::email_change::submit),
        page("/verify-email")
            .token_exempt()
            .get(Public, pages::email_change::verify_form)
            .post(Public, pages::email_change::verify_submit),
        page("/settings/time-zone")
            .get(Session, pages::settings::time_zone_form)
            .post(Session, pages::settings::time_zone_submit),
        page("/settings/password")
            .get(Session, pages::settings::password_form)
            .post(Session, pages::settings::password_submit),
        page("/sign-in/mfa")
            .get(Session, pages::mfa::prompt)
            .post(Session, pages::mfa::prompt_submit),
        page("/settings/mfa").get(Session, pages::mfa::settings),
        page("/settings/mfa/totp").post(Session, pages::mfa::start),
        page("/settings/mfa/totp/confirm").post(Session, pages::mfa::confirm),
        page("/settings/mfa/totp/remove").post(Session, pages::mfa::remove),
        page("/settings/mfa/backup-codes").post(Session, pages::mfa::regenerate),
        page("/settings/mfa/backup-codes/acknowledge").post(Session, pages::mfa::acknowledge),
        page("/settings/mfa/passkeys/{credential}/rename").post(Session, pages::mfa::rename_passkey),
        page("/settings/mfa/passkeys/{credential}/remove").post(Session, pages::mfa::remove_passkey),
        page("/settings/reauthenticate")
            .get(Session, pages::reauthenticate::page)
            .post(Session, pages::reauthenticate::submit),
        page("/settings/reauthenticate/pending").post(Session, pages::reauthenticate::pending),
        page("/settings/reauthenticate/sso").post(Session, pages::reauthenticate::with_provider),
        page("/admin/users")
            .get(Session, pages::users::list)
            .post(Session, pages::users::create),
        page("/admin/mfa-policy")
            .get(Session, pages::policy::view)
            .post(Session, pages::policy::change),
        page("/admin/users/inactive")
            .get(Session, pages::inactive_users::show)
            .post(Session, pages::inactive_users::disable),
        page("/admin/users/{id}")
            .get(Session, pages::user_page::show)
            .post(Session, pages::user_page::change),
        page("/admin/users/{id}/disable").get(Session, pages::user_page::confirm_disable),
        page("/admin/users/{id}/revoke-sessions").post(Session, pages::user_page::revoke_sessions),
        page("/admin/users/{id}/sessions/{session}/revoke").post(Session, pages::user_page::revoke_session),
        page("/admin/users/{id}/password-reset").post(Session, pages::user_page::send_password_reset),
        page("/admin/users/{id}/second-factors/reset").post(Session, pages::user_page::reset_second_factors),
        page("/alerts").get(Session, pages::alerts::list),
        page("/alerts/{id}").get(Session, pages::alerts::detail),
        page("/alerts/{id}/acknowledge").post(Session, pages::alerts::acknowledge),
        page("/alerts/{id}/resolve").post(Session, pages::alerts::resolve),
        page("/alerts/{id}/resend").post(Session, pages::alerts::resend),
        page("/alert-rules")
            .get(Session, pages::alert_rules::list)
            .post(Session, pages::alert_rule_editor::create),
        page("/alert-rules/new").get(Session, pages::alert_rule_editor::new),
        page("/alert-rules/preview").post(Session, pages::alert_rule_editor::preview),
        page("/alert-rules/{id}")
            .get(Session, pages::alert_rule_editor::show)
            .post(Session, pages::alert_rule_editor::change),
        page("/alert-rules/{id}/enable").post(Session, pages::alert_rules::enable),
        page("/alert-rules/{id}/disable").post(Session, pages::alert_rules::disable),
        page("/alert-rules/{id}/remove").post(Session, pages::alert_rules::remove),
        page("/alert-webhooks").post(Session, pages::alert_rules::create_endpoint),
        page("/alert-webhooks/{id}/remove").post(Session, pages::alert_rules::remove_endpoint),
        page("/keys")
            .get(Session, pages::keys::list)
            .post(Session, pages::keys::create),
        page("/keys/{id}").get(Session, pages::key_page::show),
        page("/keys/{id}/rotate").post(Session, pages::key_page::rotate),
        page("/keys/{id}/revoke")
            .get(Session, pages::key_page::confirm_revoke)
            .post(Session, pages::key_page::revoke),
        page("/secrets")
            .get(Session, pages::secrets::list)
            .post(Session, pages::secrets::create),
        page("/secrets/{name}").get(Session, pages::secret_page::show),
        page("/secrets/{name}/value").post(Session, pages::secret_page::add_version),
        page("/secrets/{name}/rollback").post(Session, pages::secret_page::roll_back),
        page("/secrets/{name}/readers").post(Session, pages::secret_page::change_readers),
        page("/secrets/{name}/shred")
            .get(Session, pages::secret_page::confirm_shred)
            .post(Session, pages::secret_page::shred),
        page("/audit").get(Session, pages::audit::search),
        page("/audit/saved-searches").post(Session, pages::saved_searches::save),
        page("/audit/saved-searches/{id}/remove").post(Session, pages::saved_searches::remove),
        page("/audit/events/{seq}").get(Session, pages::audit_event::event),
        page("/audit/export").get(Session, pages::audit::export),
    ]
}

/// The paths of one surface (the pages: outside the OpenAPI document).
pub fn paths(surface: Surface) -> Vec<&'static str> {
    table()
        .into_iter()
        .filter(|route| route.surface == surface)
        .map(|route| route.path)
        .collect()
}

/// The OpenAPI document lists exactly the API routes of the table.
#[cfg(test)]
mod openapi_tests {
    use std::collections::BTreeSet;

    use super::{Surface, table};
    use crate::handlers::openapi::DOCUMENT;

    /// (method, path) of every route of `surface` in `routes::table`.
    fn routed(surface: Surface) -> BTreeSet<(String, String)> {
        table()
            .into_iter()
            .filter(|route| route.surface == surface)
            .flat_map(|route| {
                route
                    .methods
                    .iter()
                    .map(|(method, _)| (method.as_str().to_ascii_lowercase(), route.path.to_string()))
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    fn documented() -> BTreeSet<(String, String)> {
        let document: serde_json::Value = serde_json::from_str(DOCUMENT).unwrap();
        document["paths"]
            .as_object()
            .unwrap()
            .iter()
            .flat_map(|(path, item)| {
                item.as_object()
                    .unwrap()
                    .keys()
                    .map(move |method| (method.clone(), path.clone()))
            })
            .collect()
    }

    #[test]
    fn every_route_is_documented_and_nothing_else() {
        let routed = routed(Surface::Api);
        assert!(routed.len() >= 6, "{routed:?}");
        assert_eq!(routed, documented());
        let documented_paths: BTreeSet<String> = documented().into_iter().map(|(_, path)| path).collect();
        for (_, page) in self::routed(Surface::Page) {
            assert!(!documented_paths.contains(&page), "{page} is a page, not in the API");
        }
    }

    /// Every operation declares what credential it takes, and the
    /// document says the same: an operation that takes a key lists
    /// `apiKey` with its one scope beside the session; no other operation
    /// lists `apiKey`. Every scope an operation names is Warden's, and
    /// every scope of Warden's is some operation's.
    #[test]
    fn every_operation_declares_its_scope_as_the_document_does() {
        use warden_core::auth::api_key::scopes::{WARDEN_SCOPES, is_warden_scope};

        use crate::web::principal::Access;

        let document: serde_json::Value = serde_json::from_str(DOCUMENT).unwrap();
        let mut named = BTreeSet::new();
        for route in table().into_iter().filter(|route| route.surface == Surface::Api) {
            for (method, access) in &route.methods {
                let operation = &document["paths"][route.path][method.as_str().to_ascii_lowercase()];
                let key_scopes: Vec<Vec<String>> = operation["security"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|requirement| requirement.get("apiKey"))
                    .map(|scopes| serde_json::from_value(scopes.clone()).unwrap())
                    .collect();
                let what = format!("{method} {}", route.path);
                match access {
                    Access::Scope(scope) => {
                        assert!(is_warden_scope(scope), "{what}: {scope} is not a scope of Warden's API");
                        assert_eq!(key_scopes, vec![vec![scope.to_string()]], "{what}");
                        named.insert(*scope);
                    }
                    _ => assert!(key_scopes.is_empty(), "{what} takes no key but documents one"),
                }
            }
        }
        for scope in WARDEN_SCOPES {
            assert!(named.contains(scope.name), "no operation takes {}", scope.name);
        }
    }
}
