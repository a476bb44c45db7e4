//! Warden's own API with service and vendor keys, through a real `warden
//! serve`: the walk of every operation of the OpenAPI document (each takes
//! the key it declares and refuses the rest), a SIEM pulling the audit
//! trail, `users:write` as an admin without a step-up, the bounds a key's
//! people put on it, vendor keys acting for a user under a ticket, and
//! every event a key causes naming it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::{Value, json};
use warden_tests::audit::{signed_in, two_orgs};
use warden_tests::keys::create;
use warden_tests::process::Server;
use warden_tests::web::{Answer, Instance, WebClient, assert_refused, events};

/// A script's client: a key, no cookie, no origin.
fn script(server: &Server, key: &str) -> WebClient {
    let mut client = WebClient::new(server);
    client.origin = None;
    client.headers.push(("authorization".into(), format!("Bearer {key}")));
    client
}

/// A service key of a named service, created by the owner of Acme.
async fn service_key(owner: &mut WebClient, scopes: &[&str]) -> (String, String) {
    create(
        owner,
        json!({ "kind": "service", "name": format!("script with {} scopes", scopes.len()),
                "owner": { "kind": "service", "name": "script" }, "scopes": scopes }),
    )
    .await
}

async fn owner_of_acme(instance: &Instance) -> WebClient {
    signed_in(&instance.server, "owner@acme.test").await
}

/// The operations of the document: (method, path template, the scope a
/// key needs or `None` when it takes none).
fn operations(document: &Value) -> Vec<(String, String, Option<String>)> {
    let mut operations = Vec::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let scope = operation["security"]
                .as_array()
                .into_iter()
                .flatten()
                .find_map(|requirement| requirement.get("apiKey"))
                .map(|scopes| scopes[0].as_str().unwrap().to_string());
            operations.push((method.clone(), path.clone(), scope));
        }
    }
    operations
}

async fn call(client: &mut WebClient, method: &str, path: &str) -> Answer {
    // Unknown ids and empty bodies: the answer tells only whether the
    // caller got past its credential.
    let path = path
        .replace("{seq}", "1")
        .replace("{id}", "AAAAAAAAAAAAAAAA")
        .replace("{credential}", "AAAA");
    let method = reqwest::Method::from_bytes(method.to_ascii_uppercase().as_bytes()).unwrap();
    let body = (method != reqwest::Method::GET && method != reqwest::Method::DELETE).then(|| json!({}));
    client.request(method, &path, body).await
}

/// Whether an answer refused the credential (rather than the request).
fn refused_the_credential(answer: &Answer) -> bool {
    answer.status == 401
        || matches!(
            answer.code(),
            "insufficient_scope" | "key_not_accepted" | "forbidden" | "session_required"
        )
}

/// The route walk: every operation of the document either names the one
/// scope a key needs (a key with it gets past its credential, a key with
/// every other scope is refused `insufficient_scope`) or takes no key (a
/// session-only operation refuses one with `key_not_accepted`). What the
/// document says is what `routes::table` declares (a unit test there).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_takes_the_key_it_declares_and_no_other() {
    let instance = two_orgs(&[]).await;
    let mut owner = owner_of_acme(&instance).await;
    let document = owner.get("/api/v1/openapi.json").await.body;
    let all: Vec<&str> = warden_core::auth::api_key::scopes::WARDEN_SCOPES
        .iter()
        .map(|scope| scope.name)
        .collect();
    let (_, every) = service_key(&mut owner, &all).await;
    let mut keyed = 0;
    for (method, path, scope) in operations(&document) {
        let what = format!("{method} {path}");
        match scope {
            Some(scope) => {
                keyed += 1;
                let (_, only) = service_key(&mut owner, &[&scope]).await;
                let answer = call(&mut script(&instance.server, &only), &method, &path).await;
                assert!(
                    !refused_the_credential(&answer),
                    "{what}: a key with {scope} was refused: {} {:?}",
                    answer.status,
                    answer.body
                );
                let others: Vec<&str> = all.iter().copied().filter(|other| *other != scope).collect();
                let (_, without) = service_key(&mut owner, &others).await;
                let answer = call(&mut script(&instance.server, &without), &method, &path).await;
                assert_refused(&answer, 403, "insufficient_scope");
                assert!(
                    answer.headers["www-authenticate"]
                        .to_str()
                        .unwrap()
                        .contains("insufficient_scope"),
                    "{what}"
                );
            }
            None => {
                let security = document["paths"][&path][&method]["security"].to_string();
                if !security.contains("sessionCookie") || path == "/api/v1/auth/forward" {
                    continue; // public, or its own credential
                }
                let answer = call(&mut script(&instance.server, &every), &method, &path).await;
                assert_refused(&answer, 403, "key_not_accepted");
            }
        }
    }
    assert!(keyed >= 19, "{keyed} operations take a key");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_siem_pulls_the_audit_trail_and_every_read_names_its_key() {
    let instance = two_orgs(&[("WARDEN_STEP_UP_MAX_AGE_SECONDS", "60")]).await;
    let mut owner = owner_of_acme(&instance).await;
    let (siem_id, siem) = service_key(&mut owner, &["audit:read", "audit:export"]).await;
    let (_, reader) = service_key(&mut owner, &["audit:read"]).await;
    let mut client = script(&instance.server, &siem);

    // The index follows the log: the owner's sign-in is there soon.
    let mut found = client.get("/api/v1/audit/events?kind=session.*&limit=5").await;
    for _ in 0..50 {
        if found.status != 200 || found.body["total"].as_u64() != Some(0) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        found = client.get("/api/v1/audit/events?kind=session.*&limit=5").await;
    }
    assert_eq!(found.status, 200, "{:?}", found.body);
    assert!(!found.body["events"].as_array().unwrap().is_empty(), "{:?}", found.body);
    let ours = found.body["events"][0]["seq"].as_u64().unwrap();
    let viewed = client.get(&format!("/api/v1/audit/events/{ours}")).await;
    assert_eq!(viewed.status, 200, "{:?}", viewed.body);
    let exported = client.get("/api/v1/audit/export?format=jsonl").await;
    assert_eq!(exported.status, 200, "no step-up for a key: {:?}", exported.body);
    let refused = script(&instance.server, &reader)
        .get("/api/v1/audit/export?format=jsonl")
        .await;
    assert_refused(&refused, 403, "insufficient_scope");
    let checkpoints = client.get("/api/v1/audit/checkpoints/latest").await;
    assert_ne!(checkpoints.status, 401, "{:?}", checkpoints.body);
    assert_ne!(checkpoints.status, 403, "{:?}", checkpoints.body);

    // Another org's event does not exist for the key.
    let mut globex = signed_in(&instance.server, "owner@globex.test").await;
    let theirs = globex.get("/api/v1/audit/events?limit=1").await.body["events"][0]["seq"]
        .as_u64()
        .unwrap();
    let answer = client.get(&format!("/api/v1/audit/events/{theirs}")).await;
    assert_refused(&answer, 404, "event_not_found");

    // The reads are recorded as the key's, in its org.
    let org = owner.get("/api/v1/session").await.body["org"]["id"].clone();
    assert!(org.is_string());
    let log = events(&instance);
    for kind in ["audit.searched", "audit.exported", "audit.event_viewed"] {
        let event = log
            .iter()
            .rev()
            .find(|event| event["kind"] == kind && event["actor"]["id"] == siem_id.as_str())
            .unwrap_or_else(|| panic!("no {kind} by the key"));
        assert_eq!(event["actor"]["kind"], "api_key", "{kind}");
        assert_eq!(event["actor"]["org"], org, "{kind}");
    }
}

/// A request with a key is the key's: a session cookie beside it is not
/// read (a key the operation does not take is refused even beside an
/// owner's cookie), and needs no CSRF token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_beside_a_cookie_decides_alone() {
    let instance = two_orgs(&[]).await;
    let mut owner = owner_of_acme(&instance).await;
    let (_, users_only) = service_key(&mut owner, &["users:read"]).await;
    let mut both = owner.clone();
    both.headers
        .push(("authorization".into(), format!("Bearer {users_only}")));
    assert_refused(&both.get("/api/v1/audit/events").await, 403, "insufficient_scope");
    assert_refused(&both.get("/api/v1/sessions").await, 403, "key_not_accepted");
    assert_eq!(both.get("/api/v1/users").await.status, 200);

    let (_, writer) = service_key(&mut owner, &["users:write"]).await;
    let mut script = script(&instance.server, &writer);
    // A browser's cross-site request is still refused by its origin.
    script.origin = Some("https://evil.test".into());
    let answer = script
        .post(
            "/api/v1/users",
            json!({ "email": "x@acme.test", "display_name": "X", "role": "member" }),
        )
        .await;
    assert_refused(&answer, 403, "csrf_refused");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_write_is_an_admin_without_a_step_up() {
    let instance = two_orgs(&[]).await;
    let mut owner = owner_of_acme(&instance).await;
    let (key_id, key) = service_key(&mut owner, &["users:read", "users:write"]).await;
    let mut client = script(&instance.server, &key);

    let created = client
        .post(
            "/api/v1/users",
            json!({ "email": "new@acme.test", "display_name": "New", "role": "member" }),
        )
        .await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    let new = created.body["id"].as_str().unwrap().to_string();
    assert!(created.body["invitation_url"].is_string(), "invited");
    let admin = client
        .post(
            "/api/v1/users",
            json!({ "email": "boss@acme.test", "display_name": "Boss", "role": "admin" }),
        )
        .await;
    assert_refused(&admin, 403, "person_required");
    let member = client.user_id("member@acme.test").await;
    let promoted = client
        .patch(&format!("/api/v1/users/{member}"), json!({ "role": "admin" }))
        .await;
    assert_refused(&promoted, 403, "person_required");
    let disabled = client
        .patch(&format!("/api/v1/users/{member}"), json!({ "status": "disabled" }))
        .await;
    assert_eq!(disabled.status, 200, "{:?}", disabled.body);
    assert_eq!(disabled.body["status"], "disabled");
    let auditor = client.user_id("auditor@acme.test").await;
    let answer = client.delete(&format!("/api/v1/users/{auditor}/sessions")).await;
    assert_refused(&answer, 403, "forbidden");
    let mut globex = signed_in(&instance.server, "owner@globex.test").await;
    let theirs = globex.user_id("member@globex.test").await;
    let answer = client
        .patch(&format!("/api/v1/users/{theirs}"), json!({ "status": "disabled" }))
        .await;
    assert_refused(&answer, 404, "not_found");

    let log = events(&instance);
    for kind in ["user.created", "user.disabled"] {
        let event = log.iter().rev().find(|event| event["kind"] == kind).unwrap();
        assert_eq!(event["actor"]["kind"], "api_key", "{kind}");
        assert_eq!(event["actor"]["id"], key_id.as_str(), "{kind}");
    }
    assert!(log.iter().any(|event| event["subject"] == format!("user:{new}")));
}

/// A key never does what its people could not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_never_does_what_its_people_could_not() {
    let instance = two_orgs(&[]).await;
    let mut owner = owner_of_acme(&instance).await;
    let mut admin = signed_in(&instance.server, "admin@acme.test").await;
    let admin_id = admin.user_id("admin@acme.test").await;

    // An admin grants no scope of the audit trail, and an owner grants
    // none to a key an admin owns.
    let body = json!({ "kind": "service", "name": "siem", "scopes": ["audit:read"] });
    assert_refused(&admin.post("/api/v1/keys", body).await, 422, "invalid_key_settings");
    let body = json!({ "kind": "service", "name": "siem", "scopes": ["audit:read"],
                       "owner": { "kind": "user", "id": admin_id } });
    assert_refused(&owner.post("/api/v1/keys", body).await, 422, "invalid_key_settings");
    // An admin may not add one to an owner's key either.
    let (id, _) = service_key(&mut owner, &["users:read"]).await;
    let answer = admin
        .patch(
            &format!("/api/v1/keys/{id}"),
            json!({ "scopes": ["users:read", "audit:export"] }),
        )
        .await;
    assert_refused(&answer, 422, "invalid_key_settings");

    // A key the admin owns loses what the admin's role loses.
    let (_, admins) = create(
        &mut owner,
        json!({ "kind": "service", "name": "admin's script", "scopes": ["users:read"],
                "owner": { "kind": "user", "id": admin_id } }),
    )
    .await;
    let mut client = script(&instance.server, &admins);
    assert_eq!(client.get("/api/v1/users").await.status, 200);
    let demoted = owner
        .patch(&format!("/api/v1/users/{admin_id}"), json!({ "role": "member" }))
        .await;
    assert_eq!(demoted.status, 200, "{:?}", demoted.body);
    assert_refused(&client.get("/api/v1/users").await, 403, "insufficient_scope");

    // App keys never reach Warden's API, whatever their scopes are named.
    let (_, app) = create(
        &mut owner,
        json!({ "kind": "app", "name": "lookalike", "scopes": ["audit:read"] }),
    )
    .await;
    let answer = script(&instance.server, &app).get("/api/v1/audit/events").await;
    assert_refused(&answer, 403, "insufficient_scope");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vendor_keys_act_for_a_user_of_their_org_under_a_ticket() {
    let instance = two_orgs(&[]).await;
    let mut owner = owner_of_acme(&instance).await;
    let (vendor_id, vendor) = create(
        &mut owner,
        json!({ "kind": "vendor", "name": "Helpdesk Co", "ticket_pattern": "^SUP-[0-9]+$",
                "owner": { "kind": "service", "name": "helpdesk-co" },
                "scopes": ["users:read", "users:write"] }),
    )
    .await;
    let member = owner.user_id("member@acme.test").await;
    let mut globex = signed_in(&instance.server, "owner@globex.test").await;
    let stranger = globex.user_id("member@globex.test").await;
    let mut client = script(&instance.server, &vendor);

    assert_refused(&client.get("/api/v1/users").await, 403, "actor_not_allowed");
    client.headers.push(("x-actor-user-id".into(), stranger.clone()));
    client.headers.push(("x-ticket-reference".into(), "SUP-42".into()));
    assert_refused(&client.get("/api/v1/users").await, 403, "actor_not_allowed");
    client.headers.retain(|(name, _)| name != "x-actor-user-id");
    client.headers.push(("x-actor-user-id".into(), member.clone()));
    client.headers.retain(|(name, _)| name != "x-ticket-reference");
    assert_refused(&client.get("/api/v1/users").await, 400, "invalid_ticket");
    client
        .headers
        .push(("x-ticket-reference".into(), "SUP-42 or else".into()));
    assert_refused(&client.get("/api/v1/users").await, 400, "invalid_ticket");
    client.headers.retain(|(name, _)| name != "x-ticket-reference");
    client.headers.push(("x-ticket-reference".into(), "SUP-42".into()));
    assert_eq!(client.get("/api/v1/users").await.status, 200);

    let _signed_in = signed_in(&instance.server, "member@acme.test").await;
    let answer = client.delete(&format!("/api/v1/users/{member}/sessions")).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    let log = events(&instance);
    let revoked = log
        .iter()
        .rev()
        .find(|event| event["kind"] == "session.revoked")
        .unwrap();
    let actor = &revoked["actor"];
    assert_eq!(actor["kind"], "vendor");
    assert_eq!(actor["id"], vendor_id.as_str());
    assert_eq!(actor["on_behalf_of"], member.as_str());
    assert_eq!(actor["ticket"], "SUP-42");

    // What the vendor did under a ticket is one search away.
    let seq = revoked["seq"].as_u64().unwrap();
    let search = format!("/api/v1/audit/events?ticket=SUP-42&actor={vendor_id}");
    let mut found = owner.get(&search).await;
    for _ in 0..50 {
        if found.body["events"]
            .as_array()
            .is_some_and(|events| events.iter().any(|event| event["seq"] == seq))
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        found = owner.get(&search).await;
    }
    let listed = found.body["events"].as_array().unwrap();
    assert!(listed.iter().any(|event| event["seq"] == seq), "{:?}", found.body);
    assert!(listed.iter().all(|event| event["actor"]["ticket"] == "SUP-42"));
    let other = owner.get("/api/v1/audit/events?ticket=SUP-43").await;
    assert_eq!(other.body["total"], 0, "{:?}", other.body);

    // And what it did, per ticket: for owners, auditors and audit:read keys.
    let tickets = format!("/api/v1/keys/{vendor_id}/tickets");
    let listed = owner.get(&tickets).await;
    assert_eq!(listed.status, 200, "{:?}", listed.body);
    let ticket = &listed.body["tickets"][0];
    assert_eq!(ticket["ticket"], "SUP-42");
    assert!(ticket["events"].as_u64().unwrap() >= 1);
    assert_eq!(ticket["users"], json!([member]));
    assert!(ticket["kinds"]["session.revoked"].as_u64().unwrap() >= 1, "{ticket}");
    assert_eq!(listed.body["complete"], true);
    let (_, siem) = service_key(&mut owner, &["audit:read"]).await;
    assert_eq!(script(&instance.server, &siem).get(&tickets).await.status, 200);
    let mut admin = signed_in(&instance.server, "admin@acme.test").await;
    assert_refused(&admin.get(&tickets).await, 403, "forbidden");
    assert_refused(&globex.get(&tickets).await, 404, "not_found");
}

/// A service key with `keys:verify` verifies its own org's keys only, as
/// an org's application token does: another org's key is `not_found`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_verifying_key_finds_only_its_orgs_keys() {
    let instance = two_orgs(&[]).await;
    let mut owner = owner_of_acme(&instance).await;
    let (_, verifier) = service_key(&mut owner, &["keys:verify"]).await;
    let (_, ours) = create(&mut owner, json!({ "kind": "app", "name": "ours" })).await;
    let mut globex = signed_in(&instance.server, "owner@globex.test").await;
    let (_, theirs) = create(&mut globex, json!({ "kind": "app", "name": "theirs" })).await;
    let mut client = script(&instance.server, &verifier);
    for (key, code) in [(&ours, "valid"), (&theirs, "not_found")] {
        let answer = client.post("/api/v1/keys/verify", json!({ "key": key })).await;
        assert_eq!(answer.status, 200, "{:?}", answer.body);
        assert_eq!(answer.body["code"], code);
    }
    let (_, reader) = service_key(&mut owner, &["keys:read"]).await;
    let refused = script(&instance.server, &reader)
        .post("/api/v1/keys/verify", json!({ "key": ours }))
        .await;
    assert_refused(&refused, 403, "insufficient_scope");
}
