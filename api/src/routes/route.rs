//! One route of the HTTP surface: its path, whom it serves, how it is
//! guarded beyond its handlers' extractors, and its handlers.

use axum::handler::Handler;
use axum::http::Method;
use axum::routing::{MethodFilter, MethodRouter};

use crate::state::AppState;
use crate::web::principal::{
    self,
    Access::{self, Scope, Session},
};

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
    /// Each method and the credential it takes.
    pub methods: Vec<(Method, Access)>,
    pub(super) handlers: MethodRouter<AppState>,
}

pub(super) fn api(path: &'static str) -> Route {
    Route::new(path, Surface::Api)
}

pub(super) fn page(path: &'static str) -> Route {
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

    pub(super) fn sessionless(mut self) -> Self {
        self.sessionless = true;
        self
    }

    pub(super) fn token_exempt(mut self) -> Self {
        self.token_exempt = true;
        self
    }

    pub(super) fn method<H, T>(mut self, method: Method, access: Access, handler: H) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        let filter = MethodFilter::try_from(method.clone()).unwrap_or(MethodFilter::GET);
        self.handlers = self.handlers.on(filter, handler);
        self.methods.push((method, access));
        self
    }

    pub(super) fn get<H: Handler<T, AppState>, T: 'static>(self, access: Access, handler: H) -> Self {
        self.method(Method::GET, access, handler)
    }

    pub(super) fn post<H: Handler<T, AppState>, T: 'static>(self, access: Access, handler: H) -> Self {
        self.method(Method::POST, access, handler)
    }

    pub(super) fn put<H: Handler<T, AppState>, T: 'static>(self, access: Access, handler: H) -> Self {
        self.method(Method::PUT, access, handler)
    }

    pub(super) fn patch<H: Handler<T, AppState>, T: 'static>(self, access: Access, handler: H) -> Self {
        self.method(Method::PATCH, access, handler)
    }

    pub(super) fn delete<H: Handler<T, AppState>, T: 'static>(self, access: Access, handler: H) -> Self {
        self.method(Method::DELETE, access, handler)
    }

    /// Holds keys to what each method declares, when one takes a session
    /// or a scope (a route of public and own-credential operations only
    /// pays nothing).
    pub(super) fn admitting(
        handlers: MethodRouter<AppState>,
        methods: &[(Method, Access)],
        state: &AppState,
    ) -> MethodRouter<AppState> {
        if !methods.iter().any(|(_, access)| matches!(access, Session | Scope(_))) {
            return handlers;
        }
        handlers.layer(principal::Admit::new(state.clone(), methods))
    }
}
