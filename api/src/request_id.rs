//! Every request gets an id: the caller's `x-request-id` when it is a
//! reasonable token, a fresh UUIDv7 otherwise. It is on every log line of
//! the request (a tracing span), on the response, in every error body and
//! in the events the request appends.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use futures::future::BoxFuture;
use pin_project_lite::pin_project;

use crate::error::ApiError;

pub const HEADER: &str = "x-request-id";

#[derive(Debug, Clone)]
pub struct RequestId(pub String);

fn acceptable(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= 128
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

/// Layer: gives every request its id, runs it in a span that names the
/// id, and gives every answer the id's header and every error answer the
/// JSON error shape.
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestIds;

impl<S> tower::Layer<S> for RequestIds {
    type Service = WithRequestId<S>;

    fn layer(&self, inner: S) -> WithRequestId<S> {
        WithRequestId { inner }
    }
}

#[derive(Debug, Clone)]
pub struct WithRequestId<S> {
    inner: S,
}

impl<S, B> tower::Service<Request> for WithRequestId<S>
where
    S: tower::Service<Request, Response = axum::http::Response<B>, Error = Infallible>,
    axum::http::Response<B>: IntoResponse,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Identified<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request) -> Self::Future {
        let id = request
            .headers()
            .get(HEADER)
            .and_then(|value| value.to_str().ok())
            .filter(|value| acceptable(value))
            .map(str::to_string)
            .unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
        request.extensions_mut().insert(RequestId(id.clone()));
        // The request's method and path are in the span of its log lines
        // only when something is logged at debug level: formatting them
        // for every request costs more than the rest of the span.
        let span = if tracing::enabled!(tracing::Level::DEBUG) {
            tracing::info_span!("request", request_id = %id, method = %request.method(), path = %request.uri().path())
        } else {
            tracing::info_span!("request", request_id = %id)
        };
        let (method, uri) = (request.method().clone(), request.uri().clone());
        let future = span.in_scope(|| self.inner.call(request));
        Identified {
            stage: Stage::Answering { future },
            span,
            id,
            method,
            uri,
        }
    }
}

pin_project! {
    /// The future of [`WithRequestId`].
    pub struct Identified<F> {
        #[pin]
        stage: Stage<F>,
        span: tracing::Span,
        id: String,
        // For the log line of a failed request.
        method: axum::http::Method,
        uri: axum::http::Uri,
    }
}

pin_project! {
    #[project = StageProjection]
    enum Stage<F> {
        Answering { #[pin] future: F },
        /// An error answer being given its shape.
        Shaping { future: BoxFuture<'static, Response> },
    }
}

impl<F, B> Future for Identified<F>
where
    F: Future<Output = Result<axum::http::Response<B>, Infallible>>,
    axum::http::Response<B>: IntoResponse,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        let _entered = this.span.enter();
        loop {
            let response = match this.stage.as_mut().project() {
                StageProjection::Answering { future } => {
                    let Ok(response) = ready!(future.poll(cx));
                    let response = response.into_response();
                    let status = response.status();
                    if status.is_client_error() || status.is_server_error() {
                        let id = this.id.clone();
                        let future = Box::pin(async move { shape_error(response, &id).await });
                        this.stage.set(Stage::Shaping { future });
                        continue;
                    }
                    response
                }
                StageProjection::Shaping { future } => ready!(future.as_mut().poll(cx)),
            };
            let status = response.status();
            let (method, path) = (&*this.method, this.uri.path());
            if status == axum::http::StatusCode::SERVICE_UNAVAILABLE {
                tracing::warn!(status = status.as_u16(), %method, path, "request refused: unavailable");
            } else if status.is_server_error() {
                tracing::error!(status = status.as_u16(), %method, path, "request failed");
            } else {
                tracing::debug!(status = status.as_u16(), "request done");
            }
            return Poll::Ready(Ok(with_header(response, this.id)));
        }
    }
}

fn with_header(mut response: Response, id: &str) -> Response {
    if let Ok(value) = HeaderValue::from_str(id) {
        response.headers_mut().insert(HEADER, value);
    }
    response
}

/// Gives every error response the JSON error shape, keeping its headers
/// (`Retry-After`, `WWW-Authenticate`, …).
async fn shape_error(response: Response, id: &str) -> Response {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let ours = response.extensions().get::<ApiError>().cloned();
    let own_body = response.headers().get(header::CONTENT_TYPE).is_some_and(|value| {
        value.as_bytes().starts_with(b"application/json") || value.as_bytes().starts_with(b"text/html")
    });
    if own_body {
        // A handler's own JSON answer (the readiness checks) or page (a
        // form shown again with its error, an error page): kept as is.
        return response;
    }
    let (parts, body) = response.into_parts();
    let error = match ours {
        Some(error) => error,
        // An extractor rejection or another layer's error: keep its
        // client-facing text for 4xx, never a server detail for 5xx.
        None if status.is_client_error() => {
            let text = axum::body::to_bytes(body, 16 * 1024).await.unwrap_or_default();
            let message = match String::from_utf8_lossy(&text).trim() {
                "" => status.canonical_reason().unwrap_or("bad request").to_string(),
                text => text.to_string(),
            };
            ApiError::new(status, ApiError::code_for(status), message)
        }
        None => ApiError::new(
            status,
            ApiError::code_for(status),
            "internal error; the request id identifies it in the server logs",
        ),
    };
    let body = serde_json::json!({
        "error": { "code": error.code.as_str(), "message": error.message, "request_id": id }
    });
    let mut rebuilt = (status, axum::Json(body)).into_response();
    for (name, value) in parts.headers.iter() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            rebuilt.headers_mut().insert(name.clone(), value.clone());
        }
    }
    rebuilt
}
