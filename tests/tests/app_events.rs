//! Who an application event names (issue 14, item 8): the application
//! itself, by its token's name, and the user it says it acts for only as
//! its word, marked as such in the event, the API, the console and the
//! exports; tokens scoped to one org record for that org only.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use warden_tests::audit::{LEGACY_PASSWORD, two_orgs};
use warden_tests::process::{NodeEnv, Server, TOKEN};
use warden_tests::web::{Instance, WebClient, assert_refused, events, head, kinds_after};

const BILLING: &str = "billing-token-0123456789abcdef0123456789abcdef";
const GHOST: &str = "ghost-token-0123456789abcdef0123456789abcdef";

async fn signed_in(instance: &Instance, email: &str) -> WebClient {
    let mut client = WebClient::new(&instance.server);
    let answer = client.sign_in(email, LEGACY_PASSWORD).await;
    assert_eq!(answer.status, 200, "{email}: {:?}", answer.body);
    client
}

/// A caller of `POST /api/v1/app-events` with `token`: no cookie, no
/// origin, as an application server calls.
fn application(instance: &Instance, token: &str) -> WebClient {
    let mut client = WebClient::new(&instance.server);
    client.origin = None;
    client.user_agent = "acme-app/1.0".into();
    client.headers.push(("authorization".into(), format!("Bearer {token}")));
    client
}

/// Searches until the index holds `seq`.
async fn indexed(client: &mut WebClient, seq: u64) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while client.get("/api/v1/audit/events?limit=1").await.body["indexed_through"]
        .as_u64()
        .unwrap()
        < seq
    {
        assert!(Instant::now() < deadline, "the index did not reach {seq}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The user id and org id of `email`, as its sign-in describes them.
async fn ids(instance: &Instance, email: &str) -> (String, String) {
    let mut client = WebClient::new(&instance.server);
    let session = client.sign_in(email, LEGACY_PASSWORD).await.body;
    let id = |value: &Value| value.as_str().unwrap().to_string();
    (id(&session["user"]["id"]), id(&session["org"]["id"]))
}

/// Restarts the instance with a configuration file that adds the token
/// `billing` scoped to acme and `ghost` scoped to an org that does not
/// exist (`app_events_token_file` stays, as the instance-wide `app`).
async fn with_scoped_tokens(instance: &mut Instance, acme: &str) {
    let dir = instance.env.data_dir.clone();
    std::fs::write(dir.join("billing.token"), BILLING).unwrap();
    std::fs::write(dir.join("ghost.token"), GHOST).unwrap();
    let config = dir.join("warden.toml");
    std::fs::write(
        &config,
        format!(
            "[[app_tokens]]\nname = \"billing\"\ntoken_file = {:?}\norg = {acme:?}\n\n\
             [[app_tokens]]\nname = \"ghost\"\ntoken_file = {:?}\norg = \"o-none\"\n",
            dir.join("billing.token"),
            dir.join("ghost.token"),
        ),
    )
    .unwrap();
    instance
        .env
        .extra
        .push(("WARDEN_CONFIG".into(), config.display().to_string()));
    assert!(instance.server.terminate().success());
    instance.server = Server::start(&instance.env, "app-tokens").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_application_is_the_actor_of_its_events_and_the_user_it_names_is_its_word() {
    let mut instance = two_orgs(&[]).await;
    let (owner_id, acme) = ids(&instance, "owner@acme.test").await;
    let (_, globex) = ids(&instance, "owner@globex.test").await;
    with_scoped_tokens(&mut instance, &acme).await;
    let mut acme_auditor = signed_in(&instance, "auditor@acme.test").await;
    let mut instance_wide = application(&instance, TOKEN);
    let mut billing = application(&instance, BILLING);

    // The instance-wide token: the actor is the application, the user its
    // claim; `data.org` files the event in acme's trail.
    let paid = instance_wide
        .post(
            "/api/v1/app-events",
            json!({"kind": "app.invoice.paid", "subject": "invoice:1", "on_behalf_of": owner_id,
                   "data": {"org": acme, "cents": 1200}}),
        )
        .await;
    assert_eq!(paid.status, 201, "{:?}", paid.body);
    // The scoped token: its org is the actor's.
    let refunded = billing
        .post(
            "/api/v1/app-events",
            json!({"kind": "app.invoice.refunded", "subject": "invoice:1", "on_behalf_of": "customer-77"}),
        )
        .await;
    assert_eq!(refunded.status, 201, "{:?}", refunded.body);
    let log = events(&instance);
    let recorded = |seq: &Value| log.iter().find(|event| &event["seq"] == seq).unwrap().clone();
    let paid_event = recorded(&paid.body["seq"]);
    assert_eq!(
        paid_event["actor"],
        json!({"kind": "service", "id": "app:app", "ip": "127.0.0.1", "user_agent": instance_wide.user_agent,
               "on_behalf_of": owner_id})
    );
    let refunded_event = recorded(&refunded.body["seq"]);
    assert_eq!(
        refunded_event["actor"],
        json!({"kind": "service", "id": "app:billing", "org": acme, "ip": "127.0.0.1", "user_agent": billing.user_agent,
               "on_behalf_of": "customer-77"})
    );

    // A scoped token cannot file an event in another org's trail, nor name
    // its own actor; a token for an org that does not exist records
    // nothing; none of them appends.
    let before = head(&events(&instance));
    let other_org = billing
        .post(
            "/api/v1/app-events",
            json!({"kind": "app.invoice.paid", "subject": "invoice:2", "data": {"org": globex}}),
        )
        .await;
    assert_refused(&other_org, 403, "forbidden");
    assert!(other_org.body["error"]["message"].as_str().unwrap().contains(&acme));
    for token in [TOKEN, BILLING] {
        let posing = application(&instance, token)
            .post(
                "/api/v1/app-events",
                json!({"kind": "app.invoice.paid", "subject": "invoice:3",
                       "actor": {"kind": "user", "id": owner_id, "org": acme}}),
            )
            .await;
        assert_refused(&posing, 400, "bad_request");
        assert!(
            posing.body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("on_behalf_of")
        );
    }
    let ghost = application(&instance, GHOST)
        .post("/api/v1/app-events", json!({"kind": "app.x.y", "subject": "x:1"}))
        .await;
    assert_refused(&ghost, 403, "forbidden");
    let unknown = application(&instance, "not-a-token-0123456789abcdef0123456789")
        .post("/api/v1/app-events", json!({"kind": "app.x.y", "subject": "x:1"}))
        .await;
    assert_refused(&unknown, 401, "unauthorized");
    for bad in [json!(""), json!("a\u{7}b"), json!("u".repeat(201)), json!(7)] {
        let answer = billing
            .post(
                "/api/v1/app-events",
                json!({"kind": "app.x.y", "subject": "x:1", "on_behalf_of": bad}),
            )
            .await;
        // 400 for a bad value, 422 for a wrong JSON type, as everywhere.
        assert!(matches!(answer.status.as_u16(), 400 | 422), "{bad}: {:?}", answer.body);
        assert!(
            answer.body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("on_behalf_of")
        );
    }
    let appended = kinds_after(&events(&instance), before);
    assert!(
        appended.iter().all(|kind| !kind.starts_with("app.")),
        "a refused request appended: {appended:?}"
    );

    // Idempotency keys are each token's own: the same key under two tokens
    // records two events; a retry under one replays its own.
    let body = json!({"kind": "app.report.sent", "subject": "report:1", "data": {"org": acme}});
    let keyed = |client: &WebClient| {
        let mut client = client.clone();
        client.headers.push(("idempotency-key".into(), "same-key-1".into()));
        client
    };
    let first = keyed(&instance_wide).post("/api/v1/app-events", body.clone()).await;
    let second = keyed(&billing).post("/api/v1/app-events", body.clone()).await;
    assert_eq!((first.status.as_u16(), second.status.as_u16()), (201, 201));
    assert_ne!(first.body["seq"], second.body["seq"]);
    let again = keyed(&billing).post("/api/v1/app-events", body).await;
    assert_eq!((again.status.as_u16(), &again.body["seq"]), (201, &second.body["seq"]));
    assert_eq!(again.headers["idempotent-replayed"], "true");

    // The audit API: the event found by the user it names, its
    // attribution stated.
    indexed(&mut acme_auditor, second.body["seq"].as_u64().unwrap()).await;
    let found = acme_auditor
        .get(&format!("/api/v1/audit/events?user={owner_id}&kind=app.*"))
        .await;
    assert_eq!(found.status, 200, "{:?}", found.body);
    assert_eq!(found.body["events"][0]["seq"], paid.body["seq"]);
    let detail = acme_auditor
        .get(&format!("/api/v1/audit/events/{}", refunded.body["seq"]))
        .await;
    assert_eq!(detail.body["attribution"], "application");
    let session_created = acme_auditor
        .get("/api/v1/audit/events?kind=session.created&limit=1")
        .await
        .body["events"][0]["seq"]
        .clone();
    let warden_s = acme_auditor
        .get(&format!("/api/v1/audit/events/{session_created}"))
        .await;
    assert_eq!(warden_s.body["attribution"], "warden");
    // Globex's trail holds none of it.
    let mut globex_auditor = signed_in(&instance, "auditor@globex.test").await;
    let globex_apps = globex_auditor.get("/api/v1/audit/events?kind=app.*").await;
    assert_eq!(globex_apps.body["total"], 0, "{:?}", globex_apps.body);

    // The console says whose word it is.
    let page = acme_auditor.get(&format!("/audit/events/{}", paid.body["seq"])).await;
    let html = page.body.as_str().unwrap();
    assert!(
        html.contains("application app, for owner@acme.test (the application&#39;s word)"),
        "{html}"
    );
    assert!(
        html.contains("Warden authenticated the token, not the user it names"),
        "{html}"
    );
    let list = acme_auditor.get("/audit?kind=app.invoice.*").await;
    let list = list.body.as_str().unwrap();
    assert!(
        list.contains(
            "The application (token billing), for <span title=\"customer-77\">user customer-77</span> (its word), \
             recorded app.invoice."
        ),
        "{list}"
    );

    // The CSV export: who acted, for whom, and on whose word.
    let csv = acme_auditor.get("/api/v1/audit/export?kind=app.invoice.refunded").await;
    let csv = csv.body.as_str().unwrap().to_string();
    let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    let row: Vec<&str> = csv.lines().nth(1).unwrap().split(',').collect();
    let column = |name: &str| row[header.iter().position(|column| *column == name).unwrap()];
    assert_eq!(
        (
            column("actor_kind"),
            column("actor_id"),
            column("actor_on_behalf_of"),
            column("attribution")
        ),
        ("service", "app:billing", "customer-77", "application")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_file_that_is_short_or_shared_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let mut env = NodeEnv::in_dir(dir.path());
    let config = dir.path().join("warden.toml");
    std::fs::write(dir.path().join("short.token"), "too-short").unwrap();
    std::fs::write(dir.path().join("twin.token"), TOKEN).unwrap();
    env.extra.push(("WARDEN_CONFIG".into(), config.display().to_string()));
    for (table, expected) in [
        (
            format!("name = \"short\"\ntoken_file = {:?}", dir.path().join("short.token")),
            "application token \"short\"",
        ),
        (
            format!("name = \"twin\"\ntoken_file = {:?}", dir.path().join("twin.token")),
            "holds the same token as \"app\"",
        ),
        (
            format!("name = \"app\"\ntoken_file = {:?}", dir.path().join("twin.token")),
            "app_tokens: name \"app\" is used twice",
        ),
    ] {
        std::fs::write(&config, format!("[[app_tokens]]\n{table}\n")).unwrap();
        let output = env.run_until_exit(&["serve"], Duration::from_secs(30)).await;
        assert!(!output.status.success());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(expected), "{expected}: {stderr}");
    }
}

/// An integral number written as a float is recorded as the integer it
/// is, up to the JSON-safe limit, however close to that limit (the API
/// fuzzer found `-4096223984861842.0` read as `…41.5` and refused: the
/// binary's JSON parser rounded loosely while the unit tests' did not).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn integral_floats_are_recorded_as_the_exact_integers_they_are() {
    let instance = warden_tests::web::instance(&[]).await;
    let post = |body: &'static str| {
        reqwest::Client::new()
            .post(format!("{}/api/v1/app-events", instance.server.url))
            .bearer_auth(TOKEN)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let answer = post(
        r#"{"kind":"app.invoice.posted","subject":"invoice:1","data":
            {"a":-4096223984861842.0,"b":9007199254740991.0,"c":-9007199254740991e0,"d":1e3,"e":-0.0}}"#,
    )
    .await
    .unwrap();
    assert_eq!(answer.status(), 201, "{:?}", answer.text().await);
    let seq: Value = answer.json().await.unwrap();
    let recorded = events(&instance)
        .into_iter()
        .find(|event| event["seq"] == seq["seq"])
        .unwrap();
    assert_eq!(
        recorded["data"],
        json!({"a": -4096223984861842_i64, "b": 9007199254740991_i64, "c": -9007199254740991_i64, "d": 1000, "e": 0})
    );
    for refused in [
        r#"{"kind":"app.invoice.posted","subject":"invoice:1","data":{"a":9007199254740992.0}}"#,
        r#"{"kind":"app.invoice.posted","subject":"invoice:1","data":{"a":4096223984861841.5}}"#,
    ] {
        let answer = post(refused).await.unwrap();
        assert_eq!(answer.status(), 400, "{refused}");
        let body: Value = answer.json().await.unwrap();
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains("number"), "{refused}: {message}");
    }
}
