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
/// limit is met; asserts that every answer is 202, that in the median
/// round the two answers differ by less than 5 % of the median answer,
/// and that only the accounts were mailed.
///
/// The pairs alternate their order (known first, then unknown first):
/// what one request leaves running after its answer (an email being
/// sent) falls on the next request, and so on each kind as often.
pub async fn assert_answered_alike(instance: &Instance, smtp: &SmtpSink, path: &str, users: usize) {
    let mut client = WebClient::new(&instance.server);
    let mut times: [Vec<Duration>; 2] = [Vec::new(), Vec::new()];
    for round in 0..200 {
        let order = match round % 2 {
            0 => [(0, "acme.test"), (1, "unknown.test")],
            _ => [(1, "unknown.test"), (0, "acme.test")],
        };
        for (which, domain) in order {
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
    // Each round's two answers came within a few milliseconds of each
    // other, under the same load: their difference, round by round, is
    // what tells the kinds apart. A leak shifts every difference; a burst
    // of load on the machine shifts both answers of a round. The median
    // difference must be within 5 % of the median answer.
    let mut differences: Vec<f64> = times[0]
        .iter()
        .zip(&times[1])
        .map(|(known, unknown)| known.as_secs_f64() - unknown.as_secs_f64())
        .collect();
    differences.sort_by(f64::total_cmp);
    let difference = differences[differences.len() / 2];
    let median = |times: &[Duration]| {
        let mut times = times.to_vec();
        times.sort();
        times[times.len() / 2]
    };
    let (known, unknown) = (median(&times[0]), median(&times[1]));
    let typical = median(&[times[0].clone(), times[1].clone()].concat()).as_secs_f64();
    assert!(
        difference.abs() / typical < 0.05,
        "known {known:?}, unknown {unknown:?}: a known address answered {:.1} µs later than an unknown one in the median round ({:.1} % of {:.1} µs)",
        difference * 1e6,
        difference.abs() / typical * 100.0,
        typical * 1e6
    );
    let mail = smtp.wait_for(200).await;
    assert_eq!(mail.len(), 200);
    assert!(
        mail.iter()
            .all(|message| message["to"].as_str().unwrap().contains("@acme.test"))
    );
}
