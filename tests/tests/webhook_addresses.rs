//! Alert webhooks reach the public Internet only, whatever name or
//! written form an address takes.

use serde_json::{Value, json};
use warden_tests::audit::signed_in;
use warden_tests::peers::WebhookReceiver;
use warden_tests::web::{WebClient, assert_refused};

/// Webhooks go to the public Internet only (no
/// `alert_webhook_private_addresses`): special-purpose addresses in every
/// written form and special-use names are refused when the endpoint is
/// created; a name that passes but resolves to loopback (this machine's
/// own host name) is resolved when sending and refused then, so the local
/// receiver never hears from Warden; and the org learns only the class
/// `unreachable`, not what answered where.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_never_reach_private_addresses_by_any_name() {
    let receiver = WebhookReceiver::start().await;
    let port = receiver
        .url()
        .rsplit(':')
        .next()
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_string();
    // The precondition that makes the case real: the host name resolves
    // to loopback, where the receiver listens.
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim()
        .to_string();
    let resolved: Vec<std::net::SocketAddr> = std::net::ToSocketAddrs::to_socket_addrs(&(host.as_str(), 1))
        .unwrap()
        .collect();
    assert!(
        resolved.iter().any(|address| address.ip().is_loopback()),
        "{host} should resolve to loopback (/etc/hosts): {resolved:?}"
    );
    let instance = warden_tests::audit::two_orgs(&[
        ("WARDEN_ALERT_DELIVERY_ATTEMPTS", "2"),
        ("WARDEN_ALERT_DELIVERY_FIRST_RETRY_MS", "100"),
    ])
    .await;
    let mut admin = signed_in(&instance.server, "admin@acme.test").await;
    for url in [
        format!("http://127.0.0.1:{port}/hook"),
        format!("http://[::127.0.0.1]:{port}/hook"),
        format!("http://[::ffff:7f00:1]:{port}/hook"),
        format!("http://[64:ff9b::7f00:1]:{port}/hook"),
        format!("http://[2002:7f00:1::]:{port}/hook"),
        format!("http://localhost.:{port}/hook"),
        format!("http://0x7f000001:{port}/hook"),
        "http://100.100.100.200/latest/meta-data".to_string(),
        "http://169.254.169.254/latest/meta-data".to_string(),
        "http://metadata.google.internal/computeMetadata/v1/".to_string(),
        "http://198.18.0.1/".to_string(),
        "http://192.0.0.170/".to_string(),
        "http://240.0.0.1/".to_string(),
        "http://224.0.0.251/".to_string(),
    ] {
        let refused = admin
            .post(
                "/api/v1/webhook-endpoints",
                json!({"url": url, "description": "internal"}),
            )
            .await;
        assert_refused(&refused, 400, "bad_request");
        assert!(
            refused.body["error"]["message"].as_str().unwrap().starts_with("url:"),
            "{url}: {:?}",
            refused.body
        );
    }

    // A name that looks public at creation and resolves to loopback.
    let created = admin
        .post(
            "/api/v1/webhook-endpoints",
            json!({"url": format!("http://{host}:{port}/hook"), "description": "SOC"}),
        )
        .await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    let endpoint_id = created.body["id"].as_str().unwrap().to_string();
    let rule = json!({"name": "Failed sign-in", "severity": "high",
        "condition": {"type": "match", "select": {"kinds": ["login.failed"]}, "group_by": ["subject"]},
        "recipients": [{"webhook": endpoint_id}]});
    assert_eq!(admin.post("/api/v1/alert-rules", rule).await.status, 201);
    let mut stranger = WebClient::new(&instance.server);
    stranger.sign_in("member@acme.test", "not the password").await;

    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let attempts = loop {
        let attempts: Vec<Value> = warden_tests::web::events(&instance)
            .into_iter()
            .filter(|event| event["data"]["recipient"] == json!({"webhook": endpoint_id}))
            .collect();
        if attempts.iter().any(|event| event["kind"] == "alert.dead_lettered") {
            break attempts;
        }
        assert!(std::time::Instant::now() < deadline, "no dead letter: {attempts:?}");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    assert!(receiver.received().is_empty(), "the loopback receiver was reached");
    for attempt in &attempts {
        assert_eq!(attempt["data"]["error"], "unreachable", "{attempt}");
        assert!(attempt["data"].get("status").is_none());
    }
}
