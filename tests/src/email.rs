//! Email in tests: an instance with a real SMTP server; sign-in by email
//! code (the org's switch, the two requests) and password-reset links.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::peers::SmtpSink;
use crate::web::{Answer, Instance, WebClient, instance};

pub const PASSWORD: &str = "a long enough password 7";

pub async fn with_smtp(extra: &[(&str, &str)]) -> (Instance, SmtpSink) {
    let smtp = SmtpSink::start().await;
    let mut env = smtp_env(&smtp);
    env.extend(extra.iter().map(|(key, value)| (key.to_string(), value.to_string())));
    let env: Vec<(&str, &str)> = env.iter().map(|(key, value)| (key.as_str(), value.as_str())).collect();
    (instance(&env).await, smtp)
}

/// The settings of a Warden that sends its email to `smtp`.
pub fn smtp_env(smtp: &SmtpSink) -> Vec<(String, String)> {
    [
        ("WARDEN_SMTP_URL", format!("smtp://127.0.0.1:{}", smtp.port)),
        ("WARDEN_SMTP_TLS", "none".into()),
        ("WARDEN_SMTP_FROM", "Warden <warden@acme.test>".into()),
        ("WARDEN_ALERT_DELIVERY_FIRST_RETRY_MS", "100".into()),
    ]
    .into_iter()
    .map(|(key, value)| (key.to_string(), value))
    .collect()
}

/// Asks for a reset link for `email`.
pub async fn forgot(client: &mut WebClient, email: &str) -> Answer {
    client
        .post("/api/v1/password-reset/start", json!({ "email": email }))
        .await
}

/// Sets `password` with the link's `token`.
pub async fn reset(client: &mut WebClient, token: &str, password: &str) -> Answer {
    client
        .post(
            "/api/v1/password-reset/finish",
            json!({ "token": token, "password": password }),
        )
        .await
}

/// The token of the `count`th reset link mailed to `to`.
pub async fn reset_token(smtp: &SmtpSink, to: &str, count: usize) -> String {
    let link = smtp.link_sent(to, count, "/reset-password?token=").await;
    link.split("token=").nth(1).unwrap().to_string()
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

/// No enumeration by time: asks `path` for `{"email": …}` 200 times for
/// addresses with an account (`user<n>@acme.test`, `users` of them, which
/// the caller made) and 200 times for addresses without one, interleaved,
/// each from its own client network (through a trusted proxy) so that no
/// limit is met; asserts that every answer is 202, that the median times
/// differ by less than 5 %, and that only the accounts were mailed.
pub async fn assert_answered_alike(instance: &Instance, smtp: &SmtpSink, path: &str, users: usize) {
    let mut client = WebClient::new(&instance.server);
    let mut times: [Vec<Duration>; 2] = [Vec::new(), Vec::new()];
    for round in 0..200 {
        for (which, domain) in ["acme.test", "unknown.test"].iter().enumerate() {
            let email = format!("user{}@{domain}", round % users);
            client.headers = vec![(
                "x-forwarded-for".into(),
                format!("198.51.{}.{}", round / 200, (round * 2 + which) % 250 + 1),
            )];
            let started = Instant::now();
            let answer = client.post(path, json!({ "email": email })).await;
            times[which].push(started.elapsed());
            assert_eq!(answer.status, 202, "{email}: {:?}", answer.body);
            // Let the recording that follows the answer finish before the
            // next request, whichever kind it was.
            tokio::time::sleep(Duration::from_millis(60)).await;
        }
    }
    let median = |times: &mut Vec<Duration>| {
        times.sort();
        times[times.len() / 2]
    };
    let known = median(&mut times[0]);
    let unknown = median(&mut times[1]);
    let difference = known.abs_diff(unknown).as_secs_f64() / known.min(unknown).as_secs_f64();
    assert!(
        difference < 0.05,
        "known {known:?}, unknown {unknown:?}: {:.1} % apart",
        difference * 100.0
    );
    let mail = smtp.wait_for(200).await;
    assert_eq!(mail.len(), 200);
    assert!(
        mail.iter()
            .all(|message| message["to"].as_str().unwrap().contains("@acme.test"))
    );
}
