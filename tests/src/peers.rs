//! Real peers of alert delivery: a webhook receiver that checks each
//! request's Standard Webhooks signature as a receiver would, and an SMTP
//! server (aiosmtpd, `tools/peers/smtp.sh`) whose Maildir the test reads.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

/// One request a receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub id: String,
    pub timestamp: i64,
    /// Whether `webhook-signature` holds a valid `v1` signature of
    /// `id.timestamp.body` with the receiver's secret.
    pub signature_valid: bool,
    /// `webhook-signature` as sent.
    pub signature: String,
    /// The body as sent, and as JSON.
    pub raw: Vec<u8>,
    pub body: Value,
    pub at: Instant,
    /// The wall clock when it arrived (to compare with an event's `at`).
    pub received_at: chrono::DateTime<chrono::Utc>,
}

/// How the receiver answers the next requests: a queue of statuses (with
/// an optional `Retry-After`), then 200.
#[derive(Default)]
struct Script {
    answers: VecDeque<(u16, Option<u64>)>,
}

#[derive(Clone)]
struct Receiver {
    secret: Arc<Mutex<Option<String>>>,
    received: Arc<Mutex<Vec<Received>>>,
    script: Arc<Mutex<Script>>,
}

/// A webhook receiver on 127.0.0.1, started with [`WebhookReceiver::start`].
pub struct WebhookReceiver {
    pub address: SocketAddr,
    state: Receiver,
}

impl WebhookReceiver {
    /// Listens on a free port of 127.0.0.1 until the test ends.
    pub async fn start() -> WebhookReceiver {
        let state = Receiver {
            secret: Arc::default(),
            received: Arc::default(),
            script: Arc::default(),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let app = axum::Router::new()
            .route("/hook", axum::routing::post(receive))
            .with_state(state.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        WebhookReceiver { address, state }
    }

    pub fn url(&self) -> String {
        format!("http://{}/hook", self.address)
    }

    /// The secret Warden gave for this receiver's endpoint.
    pub fn set_secret(&self, secret: &str) {
        *self.state.secret.lock().unwrap() = Some(secret.to_string());
    }

    /// The next answers, in order (status, `Retry-After` seconds).
    pub fn answer(&self, answers: &[(u16, Option<u64>)]) {
        self.state
            .script
            .lock()
            .unwrap()
            .answers
            .extend(answers.iter().copied());
    }

    pub fn received(&self) -> Vec<Received> {
        self.state.received.lock().unwrap().clone()
    }

    /// Waits until `count` requests arrived (or 30 s).
    pub async fn wait_for(&self, count: usize) -> Vec<Received> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let received = self.received();
            if received.len() >= count || Instant::now() >= deadline {
                return received;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

async fn receive(State(state): State<Receiver>, headers: HeaderMap, body: Bytes) -> Response {
    let received_at = chrono::Utc::now();
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let id = header("webhook-id");
    let timestamp: i64 = header("webhook-timestamp").parse().unwrap_or_default();
    let secret = state.secret.lock().unwrap().clone().unwrap_or_default();
    let signature = header("webhook-signature");
    let signature_valid = verify(&secret, &id, timestamp, &body, &signature);
    state.received.lock().unwrap().push(Received {
        id,
        timestamp,
        signature_valid,
        signature,
        raw: body.to_vec(),
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
        at: Instant::now(),
        received_at,
    });
    let (status, retry_after) = state.script.lock().unwrap().answers.pop_front().unwrap_or((200, None));
    let mut response = StatusCode::from_u16(status).unwrap().into_response();
    if let Some(seconds) = retry_after {
        response
            .headers_mut()
            .insert("retry-after", HeaderValue::from_str(&seconds.to_string()).unwrap());
    }
    response
}

/// The receiver's check, as the Standard Webhooks specification writes
/// it: the key is the secret after `whsec_`, base64-decoded; the signed
/// content is `id.timestamp.body`; any `v1,` signature of the
/// space-separated list may match; the timestamp is within five minutes.
pub fn verify(secret: &str, id: &str, timestamp: i64, body: &[u8], signatures: &str) -> bool {
    let Some(key) = secret.strip_prefix("whsec_").and_then(|key| STANDARD.decode(key).ok()) else {
        return false;
    };
    if (chrono::Utc::now().timestamp() - timestamp).abs() > 300 {
        return false;
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    let expected = STANDARD.encode(mac.finalize().into_bytes());
    signatures
        .split(' ')
        .filter_map(|signature| signature.strip_prefix("v1,"))
        .any(|signature| signature == expected)
}

/// aiosmtpd on a free port of 127.0.0.1, writing to a Maildir.
pub struct SmtpSink {
    child: Child,
    pub port: u16,
    dir: tempfile::TempDir,
}

impl SmtpSink {
    pub async fn start() -> SmtpSink {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = tempfile::tempdir().unwrap();
        let script = repository().join("tools/peers/smtp.sh");
        let child = Command::new(script)
            .arg(port.to_string())
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(120);
        while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
            assert!(Instant::now() < deadline, "the SMTP server did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        SmtpSink { child, port, dir }
    }

    /// The messages received so far: `from`, `to`, `subject`, `text`,
    /// `html` (decoded).
    pub fn messages(&self) -> Vec<Value> {
        let maildir = self.dir.path().join("maildir");
        if !maildir.join("new").exists() {
            return Vec::new();
        }
        let output = Command::new("python3")
            .arg(repository().join("tools/peers/maildir.py"))
            .arg(&maildir)
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        serde_json::from_slice(&output.stdout).unwrap()
    }

    /// Waits until `count` messages arrived (or 30 s).
    pub async fn wait_for(&self, count: usize) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let messages = self.messages();
            if messages.len() >= count || Instant::now() >= deadline {
                return messages;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl SmtpSink {
    /// The messages sent to `to`, oldest first.
    pub fn messages_to(&self, to: &str) -> Vec<Value> {
        self.messages()
            .into_iter()
            .filter(|message| message["to"].as_str().unwrap_or_default().contains(to))
            .collect()
    }

    /// Waits (30 s at most) for the `count`th email to `to`.
    pub async fn mail_to(&self, to: &str, count: usize) -> Value {
        self.mail_to_where(to, count, |_| true).await
    }

    /// Waits (30 s at most) for the `count`th email to `to` that `wanted`
    /// picks (security notices arrive between the emails a test waits
    /// for).
    pub async fn mail_to_where(&self, to: &str, count: usize, wanted: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let mail: Vec<Value> = self.messages_to(to).into_iter().filter(|mail| wanted(mail)).collect();
            if mail.len() >= count {
                return mail[count - 1].clone();
            }
            assert!(
                Instant::now() < deadline,
                "email {count} to {to} did not arrive: {mail:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits for the `count`th sign-in code email to `to` and reads the
    /// code in it: the first word of 8 digits.
    pub async fn code_sent(&self, to: &str, count: usize) -> String {
        let mail = self
            .mail_to_where(to, count, |mail| mail["subject"] == "Your sign-in code")
            .await;
        let text = mail["text"].as_str().unwrap().to_string();
        text.split_whitespace()
            .find(|word| word.len() == 8 && word.bytes().all(|b| b.is_ascii_digit()))
            .unwrap_or_else(|| panic!("no code in {text:?}"))
            .to_string()
    }

    /// The first word that contains `part` of the `count`th email to `to`
    /// (waited for) with such a word: a link.
    pub async fn link_sent(&self, to: &str, count: usize, part: &str) -> String {
        let holds = |mail: &Value| mail["text"].as_str().is_some_and(|text| text.contains(part));
        let text = self.mail_to_where(to, count, holds).await["text"]
            .as_str()
            .unwrap()
            .to_string();
        text.split_whitespace()
            .find(|word| word.contains(part))
            .unwrap_or_else(|| panic!("no link with {part} in {text:?}"))
            .to_string()
    }

    /// The subjects of the emails to `to`, in the order they arrived.
    pub fn subjects_to(&self, to: &str) -> Vec<String> {
        self.messages_to(to)
            .iter()
            .map(|mail| mail["subject"].as_str().unwrap_or_default().to_string())
            .collect()
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}
