//! Cross-origin requests with credentials, from the application's origins
//! (`app_origins`) only. A request without an `Origin` header (every
//! server-to-server call, every same-origin navigation) costs one header
//! lookup; the policy is shared, never copied per request.
//!
//! - A preflight (`OPTIONS` with `Origin` and
//!   `Access-Control-Request-Method`) is answered here, `204`: for a listed
//!   origin with the methods, headers and credentials allowed, for 10
//!   minutes; for any other origin with none of them, so the browser
//!   refuses.
//! - Any other request from a listed origin gets its answer with
//!   `Access-Control-Allow-Origin` (that origin),
//!   `Access-Control-Allow-Credentials` and the headers a script may read
//!   (`x-request-id`, `x-csrf-token`).
//! - Every answer says it varies by `Origin` and the preflight headers, so
//!   that a cache never serves one origin's answer to another.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, Method, Response, StatusCode, header};
use futures::future::{Either, Ready};
use pin_project_lite::pin_project;

const ALLOW_METHODS: HeaderValue = HeaderValue::from_static("GET, POST, PUT, PATCH, DELETE");
const ALLOW_HEADERS: HeaderValue = HeaderValue::from_static("content-type, x-csrf-token, x-request-id");
const EXPOSE_HEADERS: HeaderValue = HeaderValue::from_static("x-request-id, x-csrf-token");
const MAX_AGE: HeaderValue = HeaderValue::from_static("600");
const VARY: HeaderValue =
    HeaderValue::from_static("origin, access-control-request-method, access-control-request-headers");
const TRUE: HeaderValue = HeaderValue::from_static("true");

/// The layer, with the origins that may call with credentials.
#[derive(Debug, Clone)]
pub struct Cors {
    origins: Arc<[HeaderValue]>,
}

impl Cors {
    pub fn new(origins: &[String]) -> Self {
        Cors {
            origins: origins
                .iter()
                .filter_map(|origin| HeaderValue::from_str(origin).ok())
                .collect(),
        }
    }

    /// The request's origin, when it is one of the application's.
    fn allowed(&self, headers: &HeaderMap) -> Option<HeaderValue> {
        let origin = headers.get(header::ORIGIN)?;
        self.origins
            .iter()
            .any(|listed| listed == origin)
            .then(|| origin.clone())
    }
}

impl<S> tower::Layer<S> for Cors {
    type Service = WithCors<S>;

    fn layer(&self, inner: S) -> WithCors<S> {
        WithCors {
            cors: self.clone(),
            inner,
        }
    }
}

#[derive(Debug, Clone)]
pub struct WithCors<S> {
    cors: Cors,
    inner: S,
}

impl<S> tower::Service<Request> for WithCors<S>
where
    S: tower::Service<Request, Response = Response<Body>, Error = Infallible>,
{
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = Either<Allowing<S::Future>, Ready<Result<Response<Body>, Infallible>>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let headers = request.headers();
        if request.method() == Method::OPTIONS
            && headers.contains_key(header::ORIGIN)
            && headers.contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
        {
            return Either::Right(futures::future::ready(Ok(preflight(self.cors.allowed(headers)))));
        }
        let allowed = self.cors.allowed(headers);
        Either::Left(Allowing {
            inner: self.inner.call(request),
            allowed,
        })
    }
}

fn preflight(allowed: Option<HeaderValue>) -> Response<Body> {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::NO_CONTENT;
    let headers = response.headers_mut();
    headers.insert(header::VARY, VARY);
    if let Some(origin) = allowed {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        headers.insert(header::ACCESS_CONTROL_ALLOW_CREDENTIALS, TRUE);
        headers.insert(header::ACCESS_CONTROL_ALLOW_METHODS, ALLOW_METHODS);
        headers.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, ALLOW_HEADERS);
        headers.insert(header::ACCESS_CONTROL_MAX_AGE, MAX_AGE);
    }
    response
}

pin_project! {
    /// An answer, given the CORS headers its origin allows.
    pub struct Allowing<F> {
        #[pin]
        inner: F,
        allowed: Option<HeaderValue>,
    }
}

impl<F> Future for Allowing<F>
where
    F: Future<Output = Result<Response<Body>, Infallible>>,
{
    type Output = Result<Response<Body>, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let Ok(mut response) = ready!(this.inner.poll(cx));
        let headers = response.headers_mut();
        headers.append(header::VARY, VARY);
        if let Some(origin) = this.allowed.take() {
            headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
            headers.insert(header::ACCESS_CONTROL_ALLOW_CREDENTIALS, TRUE);
            headers.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, EXPOSE_HEADERS);
        }
        Poll::Ready(Ok(response))
    }
}

#[cfg(test)]
mod tests {
    use tower::{Layer, ServiceExt, service_fn};

    use super::*;

    fn cors() -> Cors {
        Cors::new(&["https://app.example".to_string()])
    }

    async fn answer(method: Method, headers: &[(&str, &str)]) -> Response<Body> {
        let mut request = Request::builder().method(method).uri("/api/v1/session");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let service = cors().layer(service_fn(|_: Request| async {
            Ok::<_, Infallible>(Response::new(Body::from("inner")))
        }));
        service.oneshot(request.body(Body::empty()).unwrap()).await.unwrap()
    }

    #[tokio::test]
    async fn a_listed_origin_is_allowed_with_credentials_and_no_other() {
        let allowed = answer(
            Method::OPTIONS,
            &[
                ("origin", "https://app.example"),
                ("access-control-request-method", "POST"),
            ],
        )
        .await;
        assert_eq!(allowed.status(), StatusCode::NO_CONTENT);
        let headers = allowed.headers();
        assert_eq!(headers["access-control-allow-origin"], "https://app.example");
        assert_eq!(headers["access-control-allow-credentials"], "true");
        assert!(
            headers["access-control-allow-headers"]
                .to_str()
                .unwrap()
                .contains("x-csrf-token")
        );
        assert!(
            headers["access-control-allow-methods"]
                .to_str()
                .unwrap()
                .contains("PATCH")
        );

        for origin in ["https://evil.example", "https://app.example.evil.example", "null"] {
            let refused = answer(
                Method::OPTIONS,
                &[("origin", origin), ("access-control-request-method", "POST")],
            )
            .await;
            assert!(
                refused.headers().get("access-control-allow-origin").is_none(),
                "{origin}"
            );
            assert!(
                refused.headers().get("access-control-allow-methods").is_none(),
                "{origin}"
            );
        }

        let simple = answer(Method::GET, &[("origin", "https://app.example")]).await;
        assert_eq!(simple.headers()["access-control-allow-origin"], "https://app.example");
        assert_eq!(
            simple.headers()["access-control-expose-headers"],
            "x-request-id, x-csrf-token"
        );
        let other = answer(Method::GET, &[("origin", "https://evil.example")]).await;
        assert!(other.headers().get("access-control-allow-origin").is_none());
    }

    #[tokio::test]
    async fn every_answer_varies_by_origin_and_requests_without_one_pass_through() {
        let plain = answer(Method::GET, &[]).await;
        assert!(plain.headers()["vary"].to_str().unwrap().starts_with("origin"));
        assert!(plain.headers().get("access-control-allow-origin").is_none());
        let body = axum::body::to_bytes(plain.into_body(), 100).await.unwrap();
        assert_eq!(&body[..], b"inner");
        // An OPTIONS request that is no preflight reaches the service.
        let options = answer(Method::OPTIONS, &[("origin", "https://app.example")]).await;
        assert_eq!(options.status(), StatusCode::OK);
    }
}
