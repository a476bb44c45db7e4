//! Two small tower layers for what every request passes, built so that a
//! request with nothing for them to do costs (almost) nothing:
//!
//! - [`Deadline`]: the answer comes within a time limit, else `408`. The
//!   timer is armed only when the request has to wait (its first poll is
//!   pending), so an answer computed at once never touches the runtime's
//!   timer wheel.
//! - [`Gate`]: a middleware runs only for the requests it concerns (the
//!   session for requests with a cookie, the origin check for
//!   state-changing ones); the others go straight to the service inside.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use axum::extract::Request;
use axum::http::{Response, StatusCode};
use futures::future::Either;
use pin_project_lite::pin_project;
use tokio::time::Sleep;

/// Answers `408 Request Timeout` when the service inside takes longer
/// than `after`.
#[derive(Debug, Clone, Copy)]
pub struct Deadline {
    pub after: Duration,
}

impl<S> tower::Layer<S> for Deadline {
    type Service = WithDeadline<S>;

    fn layer(&self, inner: S) -> WithDeadline<S> {
        WithDeadline {
            inner,
            after: self.after,
        }
    }
}

#[derive(Debug, Clone)]
pub struct WithDeadline<S> {
    inner: S,
    after: Duration,
}

impl<S, B> tower::Service<Request> for WithDeadline<S>
where
    S: tower::Service<Request, Response = Response<B>, Error = Infallible>,
    B: Default,
{
    type Response = Response<B>;
    type Error = Infallible;
    type Future = Timed<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        Timed {
            inner: self.inner.call(request),
            sleep: None,
            after: self.after,
        }
    }
}

pin_project! {
    /// The future of [`WithDeadline`].
    pub struct Timed<F> {
        #[pin]
        inner: F,
        #[pin]
        sleep: Option<Sleep>,
        after: Duration,
    }
}

impl<F, B> Future for Timed<F>
where
    F: Future<Output = Result<Response<B>, Infallible>>,
    B: Default,
{
    type Output = Result<Response<B>, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        if let Poll::Ready(answer) = this.inner.poll(cx) {
            return Poll::Ready(answer);
        }
        if this.sleep.is_none() {
            this.sleep.set(Some(tokio::time::sleep(*this.after)));
        }
        if let Some(sleep) = this.sleep.as_pin_mut() {
            ready!(sleep.poll(cx));
        }
        let mut response = Response::new(B::default());
        *response.status_mut() = StatusCode::REQUEST_TIMEOUT;
        Poll::Ready(Ok(response))
    }
}

/// Puts `layer` before the service only for the requests `concerns`
/// picks.
#[derive(Clone)]
pub struct Gate<L> {
    pub concerns: fn(&Request) -> bool,
    pub layer: L,
}

impl<L, S> tower::Layer<S> for Gate<L>
where
    L: tower::Layer<S>,
    S: Clone,
{
    type Service = Gated<L::Service, S>;

    fn layer(&self, inner: S) -> Self::Service {
        Gated {
            concerns: self.concerns,
            wrapped: self.layer.layer(inner.clone()),
            bare: inner,
        }
    }
}

#[derive(Clone)]
pub struct Gated<W, S> {
    concerns: fn(&Request) -> bool,
    wrapped: W,
    bare: S,
}

impl<W, S, R> tower::Service<Request> for Gated<W, S>
where
    W: tower::Service<Request, Response = R, Error = Infallible>,
    S: tower::Service<Request, Response = R, Error = Infallible>,
{
    type Response = R;
    type Error = Infallible;
    type Future = Either<W::Future, S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        ready!(self.wrapped.poll_ready(cx))?;
        self.bare.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        if (self.concerns)(&request) {
            Either::Left(self.wrapped.call(request))
        } else {
            Either::Right(self.bare.call(request))
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use axum::body::Body;
    use tower::{Layer, ServiceExt, service_fn};

    use super::*;

    fn request(method: &str) -> Request {
        Request::builder().method(method).uri("/").body(Body::empty()).unwrap()
    }

    #[tokio::test]
    async fn a_slow_answer_becomes_a_timeout_and_a_quick_one_passes() {
        let slow = service_fn(|_: Request| async {
            tokio::time::sleep(Duration::from_secs(60)).await;
            Ok::<_, Infallible>(Response::new(Body::empty()))
        });
        let deadline = Deadline {
            after: Duration::from_millis(300),
        };
        let answer = deadline.layer(slow).oneshot(request("GET")).await.unwrap();
        assert_eq!(answer.status(), StatusCode::REQUEST_TIMEOUT);
        let quick = service_fn(|_: Request| async { Ok::<_, Infallible>(Response::new(Body::empty())) });
        let answer = deadline.layer(quick).oneshot(request("GET")).await.unwrap();
        assert_eq!(answer.status(), StatusCode::OK);
        let waits = service_fn(|_: Request| async {
            tokio::time::sleep(Duration::from_millis(20)).await;
            Ok::<_, Infallible>(Response::new(Body::empty()))
        });
        let answer = deadline.layer(waits).oneshot(request("GET")).await.unwrap();
        assert_eq!(answer.status(), StatusCode::OK, "within the limit");
    }

    #[tokio::test]
    async fn a_gate_runs_its_layer_only_for_the_requests_it_concerns() {
        let seen = Arc::new(AtomicUsize::new(0));
        let counting = {
            let seen = seen.clone();
            tower::layer::layer_fn(move |inner| {
                let seen = seen.clone();
                tower::util::MapRequest::new(inner, move |request: Request| {
                    seen.fetch_add(1, Ordering::SeqCst);
                    request
                })
            })
        };
        let gate = Gate {
            concerns: |request: &Request| request.method() == "POST",
            layer: counting,
        };
        let service = gate.layer(service_fn(|_: Request| async {
            Ok::<_, Infallible>(Response::new(Body::empty()))
        }));
        service.clone().oneshot(request("GET")).await.unwrap();
        assert_eq!(seen.load(Ordering::SeqCst), 0);
        service.clone().oneshot(request("POST")).await.unwrap();
        assert_eq!(seen.load(Ordering::SeqCst), 1);
    }
}
