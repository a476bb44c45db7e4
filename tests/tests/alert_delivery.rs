//! Alert delivery with real peers, production profile (PostgreSQL and
//! NATS): a webhook receiver that checks the Standard Webhooks signature,
//! a receiver that is down and then up across a `kill -9` of the server,
//! an address nobody listens on (dead letter after the configured
//! attempts), and a real SMTP server receiving the email.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use warden_core::Event;
use warden_core::event::timestamp;
use warden_core::ledger::LedgerStore;
use warden_core::ledger::postgres::PostgresStore;
use warden_tests::audit::{LEGACY_PASSWORD, signed_in, two_orgs_on};
use warden_tests::peers::{SmtpSink, WebhookReceiver, verify};
use warden_tests::process::Server;
use warden_tests::web::{Forms, WebClient, assert_refused, page_cookie};
use warden_tests::{TestDatabase, nats_url, unique};

async fn events(store: &PostgresStore) -> Vec<Event> {
    let mut all = Vec::new();
    loop {
        let events = store.read(all.len() as u64 + 1, 1000).await.unwrap();
        if events.is_empty() {
            return all;
        }
        all.extend(events);
    }
}

const ATTEMPT_KINDS: [&str; 3] = ["alert.delivered", "alert.delivery_failed", "alert.dead_lettered"];

/// The delivery attempts of one recipient (`webhook:<id>`, `email:<address>`).
async fn attempts(store: &PostgresStore, recipient: &Value) -> Vec<Event> {
    events(store)
        .await
        .into_iter()
        .filter(|event| ATTEMPT_KINDS.contains(&event.kind.as_str()) && event.data["recipient"] == *recipient)
        .collect()
}

/// Polls until `done` holds of the log's delivery events of `recipient`.
async fn wait_for_attempts(store: &PostgresStore, recipient: &Value, done: impl Fn(&[Event]) -> bool) -> Vec<Event> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let found = attempts(store, recipient).await;
        if done(&found) {
            return found;
        }
        assert!(Instant::now() < deadline, "{recipient}: {found:#?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn endpoint(admin: &mut WebClient, receiver_url: &str) -> (String, String) {
    let created = admin
        .post(
            "/api/v1/webhook-endpoints",
            json!({"url": receiver_url, "description": "SOC"}),
        )
        .await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    let secret = created.body["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("whsec_"));
    (created.body["id"].as_str().unwrap().to_string(), secret)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_reach_webhooks_and_email_through_retries_dead_letters_and_a_crash() {
    let database = TestDatabase::create().await;
    PostgresStore::migrate(&database.url).await.unwrap();
    let prefix = unique("delivery_");
    let nats = nats_url();
    let smtp = SmtpSink::start().await;
    let smtp_url = format!("smtp://127.0.0.1:{}", smtp.port);
    let mut instance = two_orgs_on(
        &[
            ("NATS_URL", nats.as_str()),
            ("WARDEN_NATS_PREFIX", prefix.as_str()),
            ("WARDEN_ALERT_WEBHOOK_PRIVATE_ADDRESSES", "true"),
            ("WARDEN_ALERT_DELIVERY_ATTEMPTS", "3"),
            ("WARDEN_ALERT_DELIVERY_FIRST_RETRY_MS", "100"),
            ("WARDEN_SMTP_URL", smtp_url.as_str()),
            ("WARDEN_SMTP_TLS", "none"),
            ("WARDEN_SMTP_FROM", "Warden <warden@acme.test>"),
        ],
        Some(&database.url),
    )
    .await;
    let env = instance.env.clone();
    let store = database.store().await;
    let mut admin = signed_in(&instance.server, "admin@acme.test").await;
    let mut member = signed_in(&instance.server, "member@acme.test").await;

    // Endpoints: the secret is answered once, never listed, never in the log.
    let up = WebhookReceiver::start().await;
    let flaky = WebhookReceiver::start().await;
    let nobody = format!(
        "http://{}/hook",
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
    );
    assert_refused(
        &member.post("/api/v1/webhook-endpoints", json!({"url": up.url()})).await,
        403,
        "forbidden",
    );
    let refused = admin
        .post("/api/v1/webhook-endpoints", json!({"url": "ftp://example.org/"}))
        .await;
    assert_refused(&refused, 400, "bad_request");
    assert!(refused.body["error"]["message"].as_str().unwrap().starts_with("url:"));
    let (up_id, up_secret) = endpoint(&mut admin, &up.url()).await;
    let (flaky_id, flaky_secret) = endpoint(&mut admin, &flaky.url()).await;
    let (nobody_id, nobody_secret) = endpoint(&mut admin, &nobody).await;
    up.set_secret(&up_secret);
    flaky.set_secret(&flaky_secret);
    let listed = admin.get("/api/v1/webhook-endpoints").await;
    let listed = listed.body["endpoints"].as_array().unwrap();
    assert_eq!(listed.len(), 3);
    assert!(listed.iter().all(|endpoint| endpoint.get("secret").is_none()));
    let log = serde_json::to_string(&events(&store).await).unwrap();
    for secret in [&up_secret, &flaky_secret, &nobody_secret] {
        let key = secret.strip_prefix("whsec_").unwrap();
        assert!(!log.contains(key), "a webhook secret is in the log in clear");
    }

    // A rule naming them all, and an email address.
    let mut rule = json!({"name": "Failed sign-in", "severity": "high",
        "condition": {"type": "match", "select": {"kinds": ["login.failed"]}, "group_by": ["subject"]},
        "suppress_seconds": 3600,
        "recipients": [{"webhook": "no-such-endpoint"}]});
    let refused = admin.post("/api/v1/alert-rules", rule.clone()).await;
    assert_refused(&refused, 400, "bad_request");
    assert!(
        refused.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("recipients[0].webhook")
    );
    rule["recipients"] = json!([{"webhook": up_id}, {"webhook": flaky_id}, {"webhook": nobody_id},
                                {"email": "soc@acme.test"}]);
    assert_eq!(admin.post("/api/v1/alert-rules", rule).await.status, 201);
    assert_refused(
        &admin.delete(&format!("/api/v1/webhook-endpoints/{up_id}")).await,
        409,
        "endpoint_in_use",
    );
    // The flaky receiver is down: 503, come back in 3 seconds.
    flaky.answer(&[(503, Some(3))]);

    let mut stranger = WebClient::new(&instance.server);
    assert_eq!(
        stranger.sign_in("member@acme.test", "not the password").await.status,
        401
    );

    // The receiver that is up gets it once, signed per the spec.
    let received = up.wait_for(1).await;
    assert_eq!(received.len(), 1);
    let hook = &received[0];
    assert!(hook.signature_valid, "{hook:?}");
    let alert = hook.body["data"]["alert"].as_str().unwrap().to_string();
    assert_eq!(hook.id, alert, "webhook-id is the alert id");
    assert_eq!(hook.body["type"], "alert.fired");
    assert_eq!(hook.body["data"]["name"], "Failed sign-in");
    let triggering = &hook.body["data"]["events"][0];
    assert_eq!(triggering["event"]["kind"], "login.failed");
    // What happened, in words, the user named by their address.
    let said = "Someone gave a wrong password to sign in as member@acme.test from 127.0.0.1";
    assert!(
        triggering["summary"].as_str().unwrap().starts_with(said),
        "{triggering}"
    );
    let seq = triggering["event"]["seq"].as_u64().unwrap();
    assert!(
        triggering["url"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/audit/events/{seq}"))
    );
    let mut tampered = hook.raw.clone();
    tampered.extend_from_slice(b" ");
    assert!(
        !verify(&up_secret, &alert, hook.timestamp, &tampered, &hook.signature),
        "the receiver's check fails on another body"
    );
    assert!(!verify(
        &flaky_secret,
        &alert,
        hook.timestamp,
        &hook.raw,
        &hook.signature
    ));

    // The email, with the triggering event and a link to it.
    let mail = smtp.wait_for(1).await;
    assert_eq!(mail.len(), 1, "{mail:?}");
    assert_eq!(mail[0]["to"], "soc@acme.test");
    assert!(
        mail[0]["subject"].as_str().unwrap().contains("Failed sign-in"),
        "{mail:?}"
    );
    let link = format!("/audit/events/{seq}");
    let text = mail[0]["text"].as_str().unwrap();
    assert!(text.contains("login.failed") && text.contains(&link), "{text}");
    assert!(text.contains(said), "{text}");
    let html = mail[0]["html"].as_str().unwrap();
    assert!(html.contains("<table>") && html.contains(&link), "{html}");
    assert!(html.contains(said), "{html}");
    assert!(html.contains(&format!("/alerts/{alert}")), "{html}");

    // Nobody listens: dead-lettered after the configured 3 attempts.
    let nobody_recipient = json!({"webhook": nobody_id});
    let tried = wait_for_attempts(&store, &nobody_recipient, |found| {
        found.iter().any(|event| event.kind == "alert.dead_lettered")
    })
    .await;
    let kinds: Vec<&str> = tried.iter().map(|event| event.kind.as_str()).collect();
    assert_eq!(
        kinds,
        ["alert.delivery_failed", "alert.delivery_failed", "alert.dead_lettered"]
    );
    assert_eq!(tried[2].data["attempt"], 3);
    // The org learns a coarse class only (the detail is in the operator's
    // log): no telling a closed port from an open one.
    assert_eq!(tried[2].data["error"], "unreachable");
    assert!(tried[2].data.get("status").is_none());

    // The flaky receiver failed once and asked for 3 s; the server dies
    // before the retry and comes back: the retry happens, once.
    let flaky_recipient = json!({"webhook": flaky_id});
    let failed = wait_for_attempts(&store, &flaky_recipient, |found| !found.is_empty()).await;
    assert_eq!(failed[0].kind, "alert.delivery_failed");
    assert_eq!(failed[0].data["error"], "http_error");
    assert!(
        failed[0].data.get("status").is_none(),
        "no status code for the org to map ports with"
    );
    let next_at = timestamp::parse(failed[0].data["next_at"].as_str().unwrap()).unwrap();
    // Backoff alone would wait at most 100 ms; Retry-After asked for 3 s
    // from the answer, a moment before the event was stamped.
    let waits = next_at - failed[0].at;
    assert!(
        waits >= chrono::Duration::milliseconds(2500),
        "Retry-After honoured: {waits}"
    );
    instance.server.kill9();
    assert_eq!(flaky.received().len(), 1, "killed between the attempts");
    let server = Server::start(&env, "after-crash").await;
    let delivered = wait_for_attempts(&store, &flaky_recipient, |found| found.len() >= 2).await;
    assert_eq!(delivered[1].kind, "alert.delivered");
    assert_eq!(delivered[1].data["attempt"], 2);
    let retried = flaky.wait_for(2).await;
    assert_eq!(retried.len(), 2);
    assert!(retried.iter().all(|hook| hook.signature_valid && hook.id == alert));

    // What the API shows, and nothing sent twice across the restart.
    let mut admin = signed_in(&server, "admin@acme.test").await;
    let shown = admin.get(&format!("/api/v1/alerts/{alert}")).await;
    assert_eq!(shown.status, 200, "{:?}", shown.body);
    let states: Vec<(String, String, u64)> = shown.body["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|delivery| {
            (
                delivery["recipient"].to_string(),
                delivery["state"].as_str().unwrap().to_string(),
                delivery["attempts"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(states.len(), 4, "{states:?}");
    for (recipient, state, attempts) in &states {
        let expected = if recipient.contains(&nobody_id) {
            ("dead_lettered", 3)
        } else if recipient.contains(&flaky_id) {
            ("delivered", 2)
        } else {
            ("delivered", 1)
        };
        assert_eq!((state.as_str(), *attempts), expected, "{recipient}");
    }
    assert_eq!(up.received().len(), 1);
    assert_eq!(smtp.messages().len(), 1);

    // The console shows the same: each recipient's state, and the
    // triggering event linked into the audit console.
    let forms = Forms::new(&server);
    let page_sign_in = forms
        .post(
            "/sign-in",
            None,
            &[("email", "auditor@acme.test"), ("password", LEGACY_PASSWORD)],
        )
        .await;
    let auditor = page_cookie(&page_sign_in).unwrap();
    let page = forms.get(&format!("/alerts/{alert}"), Some(&auditor)).await;
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    assert!(page.contains(&format!("href=\"/audit/events/{seq}\"")), "{page}");
    assert!(page.contains("dead-lettered") && page.contains("delivered"), "{page}");
    assert!(page.contains("unreachable"), "{page}");
    assert!(!page.contains("Send again"), "an auditor reads, and does not act");
    assert!(
        page.contains("<code>login.failed</code>")
            && page.contains("Someone gave a wrong password to sign in as <span title="),
        "{page}"
    );
    assert!(
        !page.contains("href=\"/admin/users/"),
        "an auditor does not manage users"
    );
    // An admin, who may see the alert but not read the audit trail, sees
    // the events that fired it all the same, without the links.
    let admin_page = forms
        .post(
            "/sign-in",
            None,
            &[("email", "admin@acme.test"), ("password", LEGACY_PASSWORD)],
        )
        .await;
    let admin_cookie = page_cookie(&admin_page).unwrap();
    let (status, shown) = forms.html(&format!("/alerts/{alert}"), &admin_cookie).await;
    assert_eq!(status, 200);
    assert!(shown.contains("id=\"alert-triggers\""), "{shown}");
    assert!(
        shown.contains("<code>login.failed</code>") && shown.contains(&format!("#{seq}")),
        "{shown}"
    );
    assert!(!shown.contains("href=\"/audit/events/"), "{shown}");
    // The admin manages users and rules: the names link to their pages.
    assert!(shown.contains("href=\"/admin/users/"), "{shown}");
    assert!(shown.contains("href=\"/alert-rules/"), "{shown}");
    // Times in the reader's zone (UTC until they choose one), exact on hover.
    assert!(shown.contains("<dt>Fired</dt><dd><time datetime=\""), "{shown}");
    // Recipients by name: an endpoint by its description and address,
    // never its id.
    assert!(shown.contains(&format!("<td>SOC ({})</td>", up.url())), "{shown}");
    assert!(!shown.contains(&format!(">webhook:{up_id}<")), "{shown}");
    let (status, list) = forms.html("/alerts", &admin_cookie).await;
    assert_eq!(status, 200);
    assert!(list.contains("<th scope=\"col\">Fired (UTC)</th>"), "{list}");
    assert!(list.contains(" UTC</time></td>"), "{list}");
    let missing = forms.get("/alerts/no-such-alert", Some(&auditor)).await;
    assert_eq!(missing.status(), 404);
    let request_id = missing.headers()["x-request-id"].to_str().unwrap().to_string();
    assert!(
        missing.text().await.unwrap().contains(&request_id),
        "the page names the request id"
    );

    // A re-send, by an admin only: the same webhook-id again.
    let path = format!("/api/v1/alerts/{alert}/resend");
    let mut member = signed_in(&server, "member@acme.test").await;
    assert_refused(&member.post(&path, json!({})).await, 403, "forbidden");
    let resent = admin.post(&path, json!({"recipient": {"webhook": up_id}})).await;
    assert_eq!(resent.status, 202, "{:?}", resent.body);
    let again = up.wait_for(2).await;
    assert_eq!(again.len(), 2);
    assert!(again[1].signature_valid && again[1].id == alert);
    let up_recipient = json!({"webhook": up_id});
    let resent = wait_for_attempts(&store, &up_recipient, |found| found.len() >= 2).await;
    assert_eq!(resent[1].kind, "alert.delivered");
    assert_eq!(resent[1].data["attempt"], 1, "a re-send starts again at 1");
    assert!(
        events(&store)
            .await
            .iter()
            .any(|event| event.kind == "alert.resend_requested")
    );

    // Acknowledged, then resolved: events, and once each.
    let acknowledge = format!("/api/v1/alerts/{alert}/acknowledge");
    let acknowledged = admin.post(&acknowledge, json!({"note": "looking"})).await;
    assert_eq!(acknowledged.status, 200, "{:?}", acknowledged.body);
    assert_eq!(acknowledged.body["status"], "acknowledged");
    assert_eq!(acknowledged.body["acknowledged"]["note"], "looking");
    assert_refused(&admin.post(&acknowledge, json!({})).await, 409, "already_done");
    let resolved = admin.post(&format!("/api/v1/alerts/{alert}/resolve"), json!({})).await;
    assert_eq!(resolved.body["status"], "resolved", "{:?}", resolved.body);

    // Another org sees none of it.
    let mut globex = signed_in(&server, "admin@globex.test").await;
    assert_eq!(globex.get(&format!("/api/v1/alerts/{alert}")).await.status, 404);
    assert_eq!(
        globex.get("/api/v1/webhook-endpoints").await.body["endpoints"],
        json!([])
    );
    assert_eq!(
        globex
            .delete(&format!("/api/v1/webhook-endpoints/{up_id}"))
            .await
            .status,
        404
    );
}
