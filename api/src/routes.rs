//! Every route of the HTTP surface, once ([`table`]): its path, whether
//! it is the API's (in the OpenAPI document, which a test holds to this
//! table) or a page, whether it reads a session, and whether it needs no
//! CSRF token. Who may call a route is what its handler's extractors
//! require (`web::session`'s `SignedIn`, `UserManager`, `AuditReader` …;
//! `pages`' `PageSession`, `PageManager` …); every state-changing request
//! passes the origin check (`web::csrf`).

use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::handler::Handler;
use axum::http::{HeaderName, HeaderValue, Method, header};
use axum::routing::{MethodFilter, MethodRouter};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::timeout::TimeoutLayer;

use crate::error::ApiError;
use crate::handlers::{
    alerts, api_keys, app_events, audit, audit_keys, auth, checkpoints, health, legal_holds, mfa, openapi, org,
    prometheus, sessions, users, webhook_endpoints,
};
use crate::pages;
use crate::request_id;
use crate::state::AppState;
use crate::web::{access, client, csrf, headers, session};

/// Who a route serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Surface {
    /// The JSON API and the probes: every one of them is in the OpenAPI
    /// document (`api/openapi.json`), and nothing else is.
    Api,
    /// The console's pages (HTML), outside the OpenAPI document.
    Page,
}

/// One route: its path, what it serves, how it is guarded beyond its
/// handlers' extractors, and the handler of each method.
pub struct Route {
    pub path: &'static str,
    pub surface: Surface,
    /// Reads no session: a cookie sent to it is never looked at, so no
    /// cookie can slow it down (probes, metrics, keys, documents).
    pub sessionless: bool,
    /// A state-changing request needs no CSRF token: the route acts
    /// before there is a session, or on a bearer token. Its origin is
    /// checked all the same.
    pub token_exempt: bool,
    pub methods: Vec<Method>,
    handlers: MethodRouter<AppState>,
}

fn api(path: &'static str) -> Route {
    Route::new(path, Surface::Api)
}

fn page(path: &'static str) -> Route {
    Route::new(path, Surface::Page)
}

impl Route {
    fn new(path: &'static str, surface: Surface) -> Self {
        Route {
            path,
            surface,
            sessionless: false,
            token_exempt: false,
            methods: Vec::new(),
            handlers: MethodRouter::new(),
        }
    }

    fn sessionless(mut self) -> Self {
        self.sessionless = true;
        self
    }

    fn token_exempt(mut self) -> Self {
        self.token_exempt = true;
        self
    }

    fn method<H, T>(mut self, method: Method, handler: H) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        let filter = MethodFilter::try_from(method.clone()).unwrap_or(MethodFilter::GET);
        self.handlers = self.handlers.on(filter, handler);
        self.methods.push(method);
        self
    }

    fn get<H: Handler<T, AppState>, T: 'static>(self, handler: H) -> Self {
        self.method(Method::GET, handler)
    }

    fn post<H: Handler<T, AppState>, T: 'static>(self, handler: H) -> Self {
        self.method(Method::POST, handler)
    }

    fn put<H: Handler<T, AppState>, T: 'static>(self, handler: H) -> Self {
        self.method(Method::PUT, handler)
    }

    fn patch<H: Handler<T, AppState>, T: 'static>(self, handler: H) -> Self {
        self.method(Method::PATCH, handler)
    }

    fn delete<H: Handler<T, AppState>, T: 'static>(self, handler: H) -> Self {
        self.method(Method::DELETE, handler)
    }
}

/// Every route of the HTTP surface, once.
pub fn table() -> Vec<Route> {
    vec![
        api("/healthz").sessionless().get(health::live),
        api("/readyz").sessionless().get(health::ready),
        api("/metrics").sessionless().get(prometheus::render),
        api("/.well-known/warden-audit-keys")
            .sessionless()
            .get(audit_keys::list),
        api("/api/v1/openapi.json").sessionless().get(openapi::document),
        page("/assets/passkeys.js").sessionless().get(pages::mfa::script),
        api("/api/v1/app-events").token_exempt().post(app_events::record),
        api("/api/v1/audit/events").get(audit::search),
        api("/api/v1/audit/events/{seq}").get(audit::detail),
        api("/api/v1/audit/export").get(audit::export),
        api("/api/v1/audit/checkpoints").get(checkpoints::history),
        api("/api/v1/audit/checkpoints/latest").get(checkpoints::latest),
        api("/api/v1/audit/checkpoints/consistency").get(checkpoints::consistency),
        api("/api/v1/setup").token_exempt().post(auth::setup),
        api("/api/v1/sign-in").token_exempt().post(auth::sign_in),
        api("/api/v1/sign-out").post(auth::sign_out),
        api("/api/v1/invitations/accept")
            .token_exempt()
            .post(auth::accept_invitation),
        api("/api/v1/session").get(auth::session),
        api("/api/v1/auth/forward").get(auth::forward),
        api("/api/v1/sessions").get(sessions::list),
        api("/api/v1/sessions/{id}").delete(sessions::revoke),
        api("/api/v1/sessions/sign-out-others").post(sessions::revoke_others),
        api("/api/v1/password").put(sessions::change_password),
        api("/api/v1/session/reauthenticate").post(mfa::reauthenticate),
        api("/api/v1/mfa").get(mfa::factors),
        api("/api/v1/mfa/totp").post(mfa::start_totp).delete(mfa::remove_totp),
        api("/api/v1/mfa/totp/confirm").post(mfa::confirm_totp),
        api("/api/v1/mfa/backup-codes").post(mfa::regenerate_backup_codes),
        api("/api/v1/mfa/backup-codes/acknowledge").post(mfa::acknowledge_backup_codes),
        api("/api/v1/mfa/verify").post(mfa::verify),
        api("/api/v1/mfa/passkeys/register/start").post(mfa::start_passkey_registration),
        api("/api/v1/mfa/passkeys/register/finish").post(mfa::finish_passkey_registration),
        api("/api/v1/mfa/passkeys/verify/start").post(mfa::start_passkey_verification),
        api("/api/v1/mfa/passkeys/verify/finish").post(mfa::finish_passkey_verification),
        api("/api/v1/mfa/passkeys/{credential}")
            .patch(mfa::rename_passkey)
            .delete(mfa::remove_passkey),
        api("/api/v1/sign-in/passkey/start")
            .token_exempt()
            .post(mfa::start_passkey_sign_in),
        api("/api/v1/sign-in/passkey/finish")
            .token_exempt()
            .post(mfa::finish_passkey_sign_in),
        api("/api/v1/org").get(org::get),
        api("/api/v1/org/session-policy").put(org::change_session_policy),
        api("/api/v1/org/mfa-policy")
            .get(org::mfa_policy)
            .put(org::change_mfa_policy),
        api("/api/v1/org/legal-holds")
            .get(legal_holds::list)
            .post(legal_holds::place),
        api("/api/v1/org/legal-holds/{id}/release").post(legal_holds::release),
        api("/api/v1/alert-rules").get(alerts::list).post(alerts::create),
        api("/api/v1/alert-rules/{id}")
            .get(alerts::get)
            .put(alerts::change)
            .delete(alerts::remove),
        api("/api/v1/alert-rules/preview").post(alerts::preview),
        api("/api/v1/alert-rules/{id}/enable").post(alerts::enable),
        api("/api/v1/alert-rules/{id}/disable").post(alerts::disable),
        api("/api/v1/alert-templates").get(alerts::templates),
        api("/api/v1/alerts").get(alerts::recent),
        api("/api/v1/alerts/{id}").get(alerts::alert),
        api("/api/v1/alerts/{id}/acknowledge").post(alerts::acknowledge),
        api("/api/v1/alerts/{id}/resolve").post(alerts::resolve),
        api("/api/v1/alerts/{id}/resend").post(alerts::resend),
        api("/api/v1/webhook-endpoints")
            .get(webhook_endpoints::list)
            .post(webhook_endpoints::create),
        api("/api/v1/webhook-endpoints/{id}").delete(webhook_endpoints::remove),
        api("/api/v1/keys").get(api_keys::list).post(api_keys::create),
        api("/api/v1/keys/verify")
            .sessionless()
            .token_exempt()
            .post(api_keys::verify),
        api("/api/v1/keys/{id}").get(api_keys::get).patch(api_keys::change),
        api("/api/v1/keys/{id}/rotate").post(api_keys::rotate),
        api("/api/v1/keys/{id}/revoke").post(api_keys::revoke),
        api("/api/v1/keys/{id}/usage").get(api_keys::usage),
        api("/api/v1/users").get(users::list).post(users::create),
        api("/api/v1/users/{id}").patch(users::change),
        api("/api/v1/users/{id}/sessions").delete(users::revoke_sessions),
        page("/").get(|| async { axum::response::Redirect::to("/settings/sessions") }),
        page("/sign-in")
            .token_exempt()
            .get(pages::sign_in::form)
            .post(pages::sign_in::submit),
        page("/sign-out").post(pages::sign_in::sign_out),
        page("/setup")
            .token_exempt()
            .get(pages::sign_in::setup_form)
            .post(pages::sign_in::setup_submit),
        page("/invitation")
            .token_exempt()
            .get(pages::sign_in::invitation_form)
            .post(pages::sign_in::invitation_submit),
        page("/settings/sessions").get(pages::settings::sessions),
        page("/settings/sessions/{id}/revoke").post(pages::settings::revoke),
        page("/settings/sessions/revoke-others").post(pages::settings::revoke_others),
        page("/settings/password")
            .get(pages::settings::password_form)
            .post(pages::settings::password_submit),
        page("/sign-in/mfa")
            .get(pages::mfa::prompt)
            .post(pages::mfa::prompt_submit),
        page("/settings/mfa").get(pages::mfa::settings),
        page("/settings/mfa/totp").post(pages::mfa::start),
        page("/settings/mfa/totp/confirm").post(pages::mfa::confirm),
        page("/settings/mfa/totp/remove").post(pages::mfa::remove),
        page("/settings/mfa/backup-codes").post(pages::mfa::regenerate),
        page("/settings/mfa/backup-codes/acknowledge").post(pages::mfa::acknowledge),
        page("/settings/mfa/passkeys/{credential}/rename").post(pages::mfa::rename_passkey),
        page("/settings/mfa/passkeys/{credential}/remove").post(pages::mfa::remove_passkey),
        page("/settings/reauthenticate")
            .get(pages::reauthenticate::page)
            .post(pages::reauthenticate::submit),
        page("/admin/users").get(pages::admin::list).post(pages::admin::create),
        page("/admin/mfa-policy")
            .get(pages::policy::view)
            .post(pages::policy::change),
        page("/admin/users/{id}").post(pages::admin::change),
        page("/admin/users/{id}/revoke-sessions").post(pages::admin::revoke_sessions),
        page("/alerts").get(pages::alerts::list),
        page("/alerts/{id}").get(pages::alerts::detail),
        page("/alerts/{id}/acknowledge").post(pages::alerts::acknowledge),
        page("/alerts/{id}/resolve").post(pages::alerts::resolve),
        page("/alerts/{id}/resend").post(pages::alerts::resend),
        page("/alert-rules")
            .get(pages::alert_rules::list)
            .post(pages::alert_rules::create),
        page("/alert-rules/new").get(pages::alert_rules::new),
        page("/alert-rules/preview").post(pages::alert_rules::preview),
        page("/alert-rules/{id}")
            .get(pages::alert_rules::show)
            .post(pages::alert_rules::change),
        page("/alert-rules/{id}/enable").post(pages::alert_rules::enable),
        page("/alert-rules/{id}/disable").post(pages::alert_rules::disable),
        page("/alert-rules/{id}/remove").post(pages::alert_rules::remove),
        page("/alert-webhooks").post(pages::alert_rules::create_endpoint),
        page("/alert-webhooks/{id}/remove").post(pages::alert_rules::remove_endpoint),
        page("/audit").get(pages::audit::search),
        page("/audit/events/{seq}").get(pages::audit::event),
        page("/audit/export").get(pages::audit::export),
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

pub fn router(state: AppState) -> Router {
    let mut sessionless = Router::new();
    let mut routed = Router::new();
    for route in table() {
        if route.sessionless {
            sessionless = sessionless.route(route.path, route.handlers);
            continue;
        }
        // The token check stands only before routes that change state:
        // a read-only route is not wrapped (a layer costs every request).
        let changes_state = route.methods.iter().any(csrf::state_changing);
        let handlers = if route.token_exempt || !changes_state {
            route.handlers
        } else {
            route
                .handlers
                .layer(axum::middleware::from_fn_with_state(state.clone(), csrf::require_token))
        };
        routed = routed.route(route.path, handlers);
    }
    routed
        .fallback(|| async { ApiError::not_found() })
        .layer(axum::middleware::from_fn_with_state(state.clone(), csrf::check_origin))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            access::record_denials,
        ))
        .layer(axum::middleware::from_fn_with_state(state.clone(), session::resolve))
        .merge(sessionless)
        .layer(axum::middleware::from_fn_with_state(state.clone(), client::resolve_ip))
        .layer(cors(&state))
        .layer(DefaultBodyLimit::max(256 * 1024))
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(30),
        ))
        .layer(CatchPanicLayer::new())
        .layer(axum::middleware::from_fn(request_id::middleware))
        .layer(axum::middleware::from_fn_with_state(state.clone(), headers::secure))
        .with_state(state)
}

/// Cross-origin requests with credentials from the application's origins
/// (`app_origins`) only.
fn cors(state: &AppState) -> CorsLayer {
    let origins: Vec<HeaderValue> = state
        .web
        .app_origins
        .iter()
        .filter_map(|origin| HeaderValue::from_str(origin).ok())
        .collect();
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_credentials(true)
        .allow_methods([Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE])
        .allow_headers([
            header::CONTENT_TYPE,
            HeaderName::from_static(csrf::HEADER),
            HeaderName::from_static(request_id::HEADER),
        ])
        .expose_headers([
            HeaderName::from_static(request_id::HEADER),
            HeaderName::from_static(csrf::HEADER),
        ])
        .max_age(Duration::from_secs(600))
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
                    .map(|method| (method.as_str().to_ascii_lowercase(), route.path.to_string()))
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
}
