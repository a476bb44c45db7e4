//! Accepting HTTP connections, with limits a client cannot get around:
//!
//! - a header-read timeout (`header_read_timeout_seconds`): a request's
//!   headers must arrive whole in that time, and an idle keep-alive
//!   connection waits no longer than that for its next request (hyper
//!   starts the same timer between requests), so a client that sends
//!   nothing, or trickles a header line every few seconds, is closed;
//! - a cap on connections served at once (`max_connections`): one more is
//!   answered `503` with `Retry-After` and closed, so probes and real users
//!   are not starved by a crowd of slow ones that will time out;
//! - graceful shutdown: stop accepting, let every connection finish its
//!   request in flight (each answers only after its append committed), up
//!   to the grace period.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use std::convert::Infallible;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request};
use axum::response::Response;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tower::ServiceExt;

use crate::config::ConnectionsConfig;
use crate::error::Code;

/// How long a refusal may take to write before the connection is dropped.
const REFUSAL_WRITE: Duration = Duration::from_secs(1);
/// The pause after an accept error (out of file descriptors, say), so the
/// loop does not spin while the condition lasts.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);

/// Serves `service` (the routes and the layers around them) on
/// `listener` until `shutdown` resolves, then drains the connections for
/// at most `grace`.
pub async fn serve<S>(
    listener: TcpListener,
    service: S,
    limits: ConnectionsConfig,
    shutdown: impl Future<Output = ()>,
    grace: Duration,
) where
    S: tower::Service<Request, Response = Response, Error = Infallible, Future: Send + 'static>
        + Clone
        + Send
        + 'static,
{
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(Some(limits.header_read_timeout))
        .keep_alive_timeout(limits.header_read_timeout);
    metrics::gauge!("warden_http_connections_max").set(limits.max_connections as f64);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::warn!(%error, "accepting a connection failed");
                    tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Ok(permit) = Arc::clone(&permits).try_acquire_owned() else {
            metrics::counter!("warden_http_connections_refused_total").increment(1);
            tokio::spawn(refuse(stream));
            continue;
        };
        let _ = stream.set_nodelay(true);
        let service = service.clone().map_request(move |request: hyper::Request<Incoming>| {
            let mut request = request.map(Body::new);
            request.extensions_mut().insert(ConnectInfo(peer));
            request
        });
        let builder = builder.clone();
        let watcher = graceful.watcher();
        metrics::gauge!("warden_http_connections").increment(1.0);
        tokio::spawn(async move {
            // hyper's header timer starts with the first byte of the first
            // request: a client that sends nothing at all is timed here.
            if first_byte(&stream, limits.header_read_timeout).await {
                let connection =
                    builder.serve_connection_with_upgrades(TokioIo::new(stream), TowerToHyperService::new(service));
                // Errors here are the client's (a reset, a timeout):
                // nothing to answer and nothing lost.
                if let Err(error) = watcher.watch(connection.into_owned()).await {
                    tracing::debug!(error = %error, "connection ended");
                }
            }
            metrics::gauge!("warden_http_connections").decrement(1.0);
            drop(permit);
        });
    }
    drop(listener);
    if tokio::time::timeout(grace, graceful.shutdown()).await.is_err() {
        tracing::warn!("grace period over; closing remaining connections");
    }
}

/// Whether the client sends something within `timeout` (false when it
/// closes or stays silent).
async fn first_byte(stream: &TcpStream, timeout: Duration) -> bool {
    let mut byte = [0u8; 1];
    matches!(tokio::time::timeout(timeout, stream.peek(&mut byte)).await, Ok(Ok(1..)))
}

/// Answers a connection over the cap with a 503 in the error shape of
/// every other answer, and closes it.
async fn refuse(mut stream: TcpStream) {
    let request_id = uuid::Uuid::now_v7();
    let body = serde_json::json!({
        "error": {
            "code": Code::TooManyConnections.as_str(),
            "message": "the server is serving as many connections as it may; retry shortly",
            "request_id": request_id.to_string(),
        }
    })
    .to_string();
    let answer = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: {}\r\nretry-after: 1\r\nx-request-id: {request_id}\r\ncache-control: no-store\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = tokio::time::timeout(REFUSAL_WRITE, async {
        stream.write_all(answer.as_bytes()).await?;
        stream.shutdown().await
    })
    .await;
}
