//! Single sign-on connections through the API (embedded profile): what
//! owners and admins set, what only owners vouch for, what another org
//! cannot see or take, and what the log keeps (never the client secret).

use std::time::Duration;

use serde_json::{Value, json};
use warden_tests::audit::{signed_in, two_orgs};
use warden_tests::web::{WebClient, assert_refused, events};

const SECRET: &str = "okta-client-secret-4f1d8a";

fn okta(domains: &[&str]) -> Value {
    json!({
        "name": "Acme Okta",
        "preset": "okta",
        "issuer": "https://acme.okta.com/oauth2/default",
        "client_id": "0oa8f3k2",
        "client_secret": SECRET,
        "domains": domains,
        "mapping": {"roles": [{"group": "warden-admins", "role": "admin"}]},
    })
}

fn domain(connection: &Value, name: &str) -> Value {
    connection["domains"]
        .as_array()
        .unwrap()
        .iter()
        .find(|domain| domain["domain"] == name)
        .cloned()
        .unwrap_or_else(|| panic!("no {name} in {connection}"))
}

async fn create(client: &mut WebClient, body: Value) -> String {
    let created = client.post("/api/v1/sso/connections", body).await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    created.body["id"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_are_set_up_by_managers_and_vouched_for_by_owners() {
    let instance = two_orgs(&[("WARDEN_STEP_UP_MAX_AGE_SECONDS", "8")]).await;
    let server = &instance.server;
    // What decides who signs in takes a recent sign-in (8 seconds here):
    // each part of the test signs in afresh.
    let mut admin = signed_in(server, "admin@acme.test").await;
    let mut owner = signed_in(server, "owner@acme.test").await;

    // An admin adds one: the preset's defaults fill what was left out; the
    // secret is never answered.
    let created = admin
        .post("/api/v1/sso/connections", okta(&["Acme.test", "acme.example"]))
        .await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    let connection = &created.body;
    let id = connection["id"].as_str().unwrap().to_string();
    assert_eq!(connection["enabled"], false);
    assert_eq!(connection["protocol"], "oidc");
    assert_eq!(connection["scopes"], json!(["email", "profile", "groups"]));
    assert_eq!(connection["mapping"]["email"], "email");
    assert_eq!(connection["mapping"]["default_role"], "member");
    assert_eq!(connection["mfa_amr"], json!(["mfa"]));
    assert_eq!(domain(connection, "acme.test")["acknowledged"], false);
    assert_eq!(
        connection["redirect_uri"],
        format!("{}/sso/callback", server.url.trim_end_matches('/'))
    );
    assert!(!created.body.to_string().contains(SECRET));
    let listed = owner.get("/api/v1/sso/connections").await;
    assert_eq!(listed.status, 200);
    assert_eq!(listed.body["connections"].as_array().unwrap().len(), 1);

    // What is wrong is named by its field.
    let cases: &[(&str, Value, &str)] = &[
        ("an http issuer", json!({"issuer": "http://acme.okta.com"}), "issuer:"),
        ("a public mail domain", json!({"domains": ["gmail.com"]}), "domains:"),
        (
            "owners by group",
            json!({"mapping": {"roles": [{"group": "g", "role": "owner"}]}}),
            "mapping.roles:",
        ),
        (
            "an owner by default",
            json!({"mapping": {"default_role": "owner"}}),
            "mapping.default_role:",
        ),
        ("an unknown preset", json!({"preset": "auth0"}), "preset:"),
        ("no name", json!({"name": " "}), "name:"),
        ("Google elsewhere", json!({"preset": "google"}), "issuer:"),
        (
            "a long secret",
            json!({"client_secret": "s".repeat(1025)}),
            "client_secret:",
        ),
    ];
    for (case, change, field) in cases {
        let mut body = okta(&["acme.test"]);
        for (key, value) in change.as_object().unwrap() {
            body[key] = value.clone();
        }
        let refused = admin.post("/api/v1/sso/connections", body).await;
        assert_refused(&refused, 400, "bad_request");
        let message = refused.body["error"]["message"].as_str().unwrap();
        assert!(message.starts_with(field), "{case}: {message}");
    }
    let mut no_secret = okta(&[]);
    no_secret.as_object_mut().unwrap().remove("client_secret");
    assert_refused(
        &admin.post("/api/v1/sso/connections", no_secret).await,
        400,
        "bad_request",
    );
    let mut unknown = okta(&[]);
    unknown["client_secret_hash"] = json!("x");
    assert!(
        admin
            .post("/api/v1/sso/connections", unknown)
            .await
            .status
            .is_client_error()
    );

    // Members and auditors manage none; another org sees none of Acme's.
    let path = format!("/api/v1/sso/connections/{id}");
    for email in ["member@acme.test", "auditor@acme.test"] {
        let mut person = signed_in(server, email).await;
        assert_refused(&person.get("/api/v1/sso/connections").await, 403, "forbidden");
        assert_refused(
            &person.post("/api/v1/sso/connections", okta(&[])).await,
            403,
            "forbidden",
        );
        assert_refused(&person.get(&path).await, 403, "forbidden");
    }
    let mut globex = signed_in(server, "owner@globex.test").await;
    assert_eq!(
        globex.get("/api/v1/sso/connections").await.body["connections"],
        json!([])
    );
    assert_refused(&globex.get(&path).await, 404, "not_found");
    assert_refused(&globex.patch(&path, json!({"name": "Mine"})).await, 404, "not_found");
    assert_refused(
        &globex.post(&format!("{path}/enable"), json!({})).await,
        404,
        "not_found",
    );
    assert_refused(
        &globex
            .post(&format!("{path}/domains/acme.test/acknowledge"), json!({}))
            .await,
        404,
        "not_found",
    );
    assert_refused(&globex.delete(&path).await, 404, "not_found");

    // Only an owner vouches for a domain, and only for one it lists.
    let mut owner = signed_in(server, "owner@acme.test").await;
    let mut admin = signed_in(server, "admin@acme.test").await;
    let ack = |domain: &str| format!("{path}/domains/{domain}/acknowledge");
    assert_refused(&admin.post(&ack("acme.test"), json!({})).await, 403, "forbidden");
    assert_refused(&owner.post(&ack("globex.test"), json!({})).await, 400, "bad_request");
    let vouched = owner.post(&ack("acme.test"), json!({})).await;
    assert_eq!(vouched.status, 200, "{:?}", vouched.body);
    assert_eq!(domain(&vouched.body, "acme.test")["acknowledged"], true);
    assert_eq!(domain(&vouched.body, "acme.example")["acknowledged"], false);
    assert_eq!(
        owner.post(&ack("acme.test"), json!({})).await.status,
        200,
        "again: nothing new"
    );

    // Another org can neither list a domain Acme's provider serves nor
    // vouch for one where Acme's people have addresses.
    let taken = globex.post("/api/v1/sso/connections", okta(&["acme.test"])).await;
    assert_refused(&taken, 409, "domain_taken");
    let theirs = create(&mut globex, okta(&["acme.example"])).await;
    let in_use = globex
        .post(
            &format!("/api/v1/sso/connections/{theirs}/domains/acme.example/acknowledge"),
            json!({}),
        )
        .await;
    // acme.example has no Acme accounts: Globex's owner may vouch for it,
    // and then Acme's owner cannot.
    assert_eq!(in_use.status, 200, "{:?}", in_use.body);
    assert_refused(&owner.post(&ack("acme.example"), json!({})).await, 409, "domain_taken");
    let mut globex_acme = okta(&["acme.test"]);
    globex_acme["name"] = json!("Impostor");
    globex_acme["domains"] = json!(["globex.test"]);
    let impostor = create(&mut globex, globex_acme).await;
    let changed = globex
        .patch(
            &format!("/api/v1/sso/connections/{impostor}"),
            json!({"domains": ["globex.test", "acme.test"]}),
        )
        .await;
    assert_refused(&changed, 409, "domain_taken");

    // A change of issuer withdraws the owner's word; a change of name
    // keeps it.
    let mut admin = signed_in(server, "admin@acme.test").await;
    let mut owner = signed_in(server, "owner@acme.test").await;
    let mut globex = signed_in(server, "owner@globex.test").await;
    let renamed = admin.patch(&path, json!({"name": "Acme SSO"})).await;
    assert_eq!(renamed.status, 200, "{:?}", renamed.body);
    assert_eq!(domain(&renamed.body, "acme.test")["acknowledged"], true);
    let moved = admin
        .patch(
            &path,
            json!({"issuer": "https://acme-new.okta.com/oauth2/default", "client_secret": "new-secret-9"}),
        )
        .await;
    assert_eq!(moved.status, 200, "{:?}", moved.body);
    assert_eq!(domain(&moved.body, "acme.test")["acknowledged"], false);
    assert!(!moved.body.to_string().contains("new-secret-9"));
    // Freed, the domain can be vouched for again (by Acme's owner; a
    // Globex connection could list it now, but not vouch: Acme's people
    // are there).
    let impostor_path = format!("/api/v1/sso/connections/{impostor}");
    let listed = globex
        .patch(&impostor_path, json!({"domains": ["globex.test", "acme.test"]}))
        .await;
    assert_eq!(listed.status, 200, "{:?}", listed.body);
    assert_refused(
        &globex
            .post(&format!("{impostor_path}/domains/acme.test/acknowledge"), json!({}))
            .await,
        409,
        "domain_taken",
    );
    assert_eq!(owner.post(&ack("acme.test"), json!({})).await.status, 200);

    // On, then off before it goes.
    let mut admin = signed_in(server, "admin@acme.test").await;
    let on = admin.post(&format!("{path}/enable"), json!({})).await;
    assert_eq!(on.body["enabled"], true, "{:?}", on.body);
    assert_refused(&admin.delete(&path).await, 409, "connection_enabled");
    // A stale session changes nothing that decides who signs in; it may
    // still turn the connection off.
    tokio::time::sleep(Duration::from_millis(8500)).await;
    assert_refused(
        &admin.patch(&path, json!({"name": "x"})).await,
        403,
        "reauthentication_required",
    );
    assert_refused(
        &owner.post(&ack("acme.test"), json!({})).await,
        403,
        "reauthentication_required",
    );
    assert_refused(&admin.delete(&path).await, 403, "reauthentication_required");
    let off = admin.post(&format!("{path}/disable"), json!({})).await;
    assert_eq!(off.body["enabled"], false, "{:?}", off.body);
    let mut admin = signed_in(server, "admin@acme.test").await;
    let mut no_token = admin.clone();
    no_token.csrf = None;
    assert_refused(&no_token.delete(&path).await, 403, "csrf_refused");
    assert_eq!(admin.delete(&path).await.status, 204);
    assert_refused(&admin.get(&path).await, 404, "not_found");

    // The log: each step, by whom, the secret sealed and never in clear.
    let log = events(&instance);
    let text = serde_json::to_string(&log).unwrap();
    assert!(!text.contains(SECRET) && !text.contains("new-secret-9"));
    let kinds: Vec<&str> = log
        .iter()
        .filter(|event| event["subject"] == format!("sso_connection:{id}"))
        .map(|event| event["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "sso_connection.created",
            "sso_connection.domain_acknowledged",
            "sso_connection.changed",
            "sso_connection.changed",
            "sso_connection.domain_acknowledged",
            "sso_connection.enabled",
            "sso_connection.disabled",
            "sso_connection.removed",
        ]
    );
    let created = log
        .iter()
        .find(|event| event["kind"] == "sso_connection.created" && event["subject"] == format!("sso_connection:{id}"))
        .unwrap();
    assert_eq!(created["data"]["client_secret"]["sealed"], "v1");
    let withdrawn = log
        .iter()
        .filter(|event| event["kind"] == "sso_connection.changed")
        .find(|event| event["data"]["unacknowledged"] == json!(["acme.test"]));
    assert!(withdrawn.is_some(), "the change of issuer records what it withdrew");
}
