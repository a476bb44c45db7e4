//! The layers around the route table: what every request passes, and
//! what the routes that read a session add.

use std::convert::Infallible;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use tower::util::{MapRequestLayer, MapResponseLayer};
use tower::{ServiceBuilder, ServiceExt};
use tower_http::catch_panic::CatchPanicLayer;

use super::{Route, Surface, table};
use crate::error::ApiError;
use crate::pages;
use crate::request_id;
use crate::state::AppState;
use crate::web::cors::Cors;
use crate::web::layers::{Deadline, Gate};
use crate::web::{access, client, csrf, headers, session};

/// The whole HTTP surface. The layers every request passes wrap the
/// router once, as one stack (`Router::layer` would wrap every route in
/// them, and a request would clone its route's stack box by box): the
/// security headers, the request id, panics and the time limit, the body
/// limit, CORS and the client's address around everything; the session,
/// the record of refusals and the origin check around the routes that
/// read a session.
pub fn router(
    state: AppState,
) -> impl tower::Service<Request, Response = Response, Error = Infallible, Future: Send + 'static> + Clone + Send + 'static
{
    let mut sessionless = Router::new();
    let mut routed = Router::new();
    for route in table() {
        if route.sessionless {
            let handlers = Route::admitting(route.handlers, &route.methods, &state);
            sessionless = sessionless.route(route.path, handlers);
            continue;
        }
        // The token check stands only before routes that change state:
        // a read-only route is not wrapped (a layer costs every request).
        let changes_state = route.methods.iter().any(|(method, _)| csrf::state_changing(method));
        let handlers = if route.token_exempt || !changes_state {
            route.handlers
        } else {
            route
                .handlers
                .layer(axum::middleware::from_fn_with_state(state.clone(), csrf::require_token))
        };
        // A page's refusals, the token check's included, are pages.
        // A page's form refused for want of a recent authentication is
        // kept for "Confirm it's you"; a page's refusals, the token
        // check's included, are pages.
        let handlers = match route.surface {
            Surface::Page if changes_state && !route.token_exempt => handlers
                .layer(axum::middleware::from_fn_with_state(state.clone(), pages::resume::keep))
                .layer(axum::middleware::from_fn(pages::errors::dress)),
            Surface::Page => handlers.layer(axum::middleware::from_fn(pages::errors::dress)),
            Surface::Api => handlers,
        };
        // Outside the token check: a key's request is the key's, and
        // carries no session whose token could be asked for.
        routed = routed.route(route.path, Route::admitting(handlers, &route.methods, &state));
    }
    let routed = ServiceBuilder::new()
        .layer(Gate {
            concerns: |request| request.headers().contains_key(header::COOKIE),
            layer: axum::middleware::from_fn_with_state(state.clone(), session::resolve),
        })
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            access::record_denials,
        ))
        .layer(Gate {
            concerns: |request| csrf::state_changing(request.method()),
            layer: axum::middleware::from_fn_with_state(state.clone(), csrf::check_origin),
        })
        .service(
            routed
                .fallback(|| async { ApiError::not_found() })
                .with_state(state.clone()),
        );
    let app = sessionless.fallback_service(routed).with_state(state.clone());
    let https = state.web.public_url.starts_with("https://");
    let web = state.web.clone();
    let stack = ServiceBuilder::new()
        .layer(MapResponseLayer::new(move |mut response: Response| {
            headers::secure(response.headers_mut(), https);
            response
        }))
        .layer(request_id::RequestIds)
        .layer(CatchPanicLayer::new())
        .layer(Deadline {
            after: Duration::from_secs(30),
        })
        .layer(DefaultBodyLimit::max(256 * 1024))
        .layer(Cors::new(&state.web.app_origins))
        .layer(MapRequestLayer::new(move |request| {
            client::resolve_ip(&web.trusted_proxies, request)
        }))
        .service(app);
    // Answers in axum's body type, whatever the layers made of it.
    stack.map_response(IntoResponse::into_response)
}
