//! Sign-in by email code in tests: an instance with a real SMTP server,
//! the org's switch, and the two requests.

use serde_json::json;

use crate::peers::SmtpSink;
use crate::web::{Answer, Instance, WebClient, instance};

pub const PASSWORD: &str = "a long enough password 7";

pub async fn with_smtp(extra: &[(&str, &str)]) -> (Instance, SmtpSink) {
    let smtp = SmtpSink::start().await;
    let url = format!("smtp://127.0.0.1:{}", smtp.port);
    let mut env = vec![
        ("WARDEN_SMTP_URL", url.as_str()),
        ("WARDEN_SMTP_TLS", "none"),
        ("WARDEN_SMTP_FROM", "Warden <warden@acme.test>"),
        ("WARDEN_ALERT_DELIVERY_FIRST_RETRY_MS", "100"),
    ];
    env.extend_from_slice(extra);
    (instance(&env).await, smtp)
}

pub async fn offer_email_codes(owner: &mut WebClient) {
    let changed = owner
        .put(
            "/api/v1/org/mfa-policy",
            json!({ "methods": { "email_code": { "allowed": true } } }),
        )
        .await;
    assert_eq!(changed.status, 200, "{:?}", changed.body);
}

pub async fn start(client: &mut WebClient, email: &str) -> Answer {
    client
        .post("/api/v1/sign-in/email/start", json!({ "email": email }))
        .await
}

pub async fn finish(client: &mut WebClient, email: &str, code: &str) -> Answer {
    client
        .post("/api/v1/sign-in/email/finish", json!({ "email": email, "code": code }))
        .await
}

pub fn wrong(code: &str) -> String {
    let last = code.as_bytes()[7];
    format!(
        "{}{}",
        &code[..7],
        if last == b'9' { '0' } else { char::from(last + 1) }
    )
}
