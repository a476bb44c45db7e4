//! Forward authentication with an API key (`Authorization: Bearer
//! wk_live_…`) through a real `warden serve`: the key's identity headers,
//! scopes the proxy asks for, every refusal's status, code and
//! `WWW-Authenticate`, rate-limit headers, and a vendor key's actor and
//! ticket headers (missing, malformed, naming a user of another org).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};

use serde_json::json;
use warden_tests::audit::{signed_in, two_orgs};
use warden_tests::keys::create;
use warden_tests::web::{Answer, Instance, WebClient, assert_refused, events};

/// The proxy's subrequest for a client that sent `key` and `headers`.
async fn forward(instance: &Instance, path: &str, key: &str, headers: &[(&str, &str)]) -> Answer {
    let mut proxy = WebClient::new(&instance.server);
    proxy.origin = None;
    proxy.headers.push(("authorization".into(), format!("Bearer {key}")));
    for (name, value) in headers {
        proxy.headers.push((name.to_string(), value.to_string()));
    }
    proxy.get(path).await
}

fn header<'a>(answer: &'a Answer, name: &str) -> &'a str {
    answer.headers.get(name).map_or("", |value| value.to_str().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_passes_forward_authentication_with_its_identity_or_is_refused_by_code() {
    let instance = two_orgs(&[("WARDEN_TRUSTED_PROXIES", "127.0.0.1/32")]).await;
    let mut admin = signed_in(&instance.server, "admin@acme.test").await;
    let (id, key) = create(
        &mut admin,
        json!({ "kind": "app", "name": "billing", "scopes": ["invoices:read", "invoices:write"],
                "owner": { "kind": "service", "name": "billing" },
                "limits": [{ "name": "per_day", "limit": 4, "window_seconds": 86400 }] }),
    )
    .await;
    let passed = forward(&instance, "/api/v1/auth/forward?scope=invoices:read", &key, &[]).await;
    assert_eq!(passed.status, 200, "{:?}", passed.body);
    assert_eq!(header(&passed, "x-warden-key-id"), id);
    assert_eq!(header(&passed, "x-warden-key-kind"), "app");
    assert_eq!(header(&passed, "x-warden-key-owner"), "service:billing");
    assert_eq!(header(&passed, "x-warden-scopes"), "invoices:read invoices:write");
    assert!(!header(&passed, "x-warden-org-id").is_empty());
    assert_eq!(
        header(&passed, "x-warden-user-id"),
        "",
        "a key is never taken for a user"
    );
    assert_eq!(header(&passed, "ratelimit-policy"), "\"per_day\";q=4;w=86400");
    // The key decides, not the cookie a browser also sent.
    let mut both = admin.clone();
    both.origin = None;
    both.headers.push(("authorization".into(), format!("Bearer {key}")));
    let answer = both.get("/api/v1/auth/forward").await;
    assert_eq!(header(&answer, "x-warden-key-id"), id);
    assert_eq!(header(&answer, "x-warden-session-id"), "");

    let scoped = forward(
        &instance,
        "/api/v1/auth/forward?scope=invoices:read&scope=refunds:write",
        &key,
        &[],
    )
    .await;
    assert_refused(&scoped, 403, "insufficient_scope");
    assert_eq!(
        header(&scoped, "www-authenticate"),
        "Bearer error=\"insufficient_scope\""
    );
    // A scope the proxy garbled is no scope of the key: refused, never
    // read as asking for none.
    let garbled = forward(&instance, "/api/v1/auth/forward?scope=%ZZ", &key, &[]).await;
    assert_refused(&garbled, 403, "insufficient_scope");
    let many = (0..51).map(|i| format!("scope=s{i}")).collect::<Vec<_>>().join("&");
    let too_many = forward(&instance, &format!("/api/v1/auth/forward?{many}"), &key, &[]).await;
    assert_refused(&too_many, 400, "bad_request");
    let unknown = forward(&instance, "/api/v1/auth/forward", "wk_live_nothing", &[]).await;
    assert_refused(&unknown, 401, "key_not_found");
    assert_eq!(header(&unknown, "www-authenticate"), "Bearer error=\"invalid_token\"");
    for _ in 0..2 {
        assert_eq!(forward(&instance, "/api/v1/auth/forward", &key, &[]).await.status, 200);
    }
    let limited = forward(&instance, "/api/v1/auth/forward", &key, &[]).await;
    assert_refused(&limited, 429, "rate_limited");
    assert!(header(&limited, "retry-after").parse::<u64>().unwrap() >= 1);
    assert!(header(&limited, "ratelimit").contains(";r=0;"));
    let revoked = admin.post(&format!("/api/v1/keys/{id}/revoke"), json!({})).await;
    assert_eq!(revoked.status, 200);
    assert_refused(
        &forward(&instance, "/api/v1/auth/forward", &key, &[]).await,
        401,
        "key_revoked",
    );
    assert!(
        !instance.server.log().contains(&key[24..67]),
        "the header's secret is in no log"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vendor_key_names_an_active_user_of_its_org_and_a_ticket() {
    let mut instance = two_orgs(&[]).await;
    let mut admin = signed_in(&instance.server, "admin@acme.test").await;
    let member = admin.user_id("member@acme.test").await;
    let auditor = admin.user_id("auditor@acme.test").await;
    let mut globex = signed_in(&instance.server, "admin@globex.test").await;
    let stranger = globex.user_id("member@globex.test").await;
    let (id, key) = create(
        &mut admin,
        json!({ "kind": "vendor", "name": "Helpdesk Co", "ticket_pattern": "[A-Z]+-[0-9]+",
                "owner": { "kind": "service", "name": "helpdesk-co" } }),
    )
    .await;
    let path = "/api/v1/auth/forward";
    type Case<'a> = (&'a [(&'a str, &'a str)], u16, &'a str);
    let cases: &[Case] = &[
        (&[], 403, "actor_not_allowed"),
        (&[("x-ticket-reference", "SUP-42")], 403, "actor_not_allowed"),
        (
            &[("x-actor-user-id", &stranger), ("x-ticket-reference", "SUP-42")],
            403,
            "actor_not_allowed",
        ),
        (
            &[("x-actor-user-id", "no-such-user"), ("x-ticket-reference", "SUP-42")],
            403,
            "actor_not_allowed",
        ),
        (&[("x-actor-user-id", &member)], 400, "invalid_ticket"),
        (
            &[("x-actor-user-id", &member), ("x-ticket-reference", "sup-42")],
            400,
            "invalid_ticket",
        ),
        (
            &[("x-actor-user-id", &member), ("x-ticket-reference", "SUP-42; DROP")],
            400,
            "invalid_ticket",
        ),
    ];
    for (headers, status, code) in cases {
        let answer = forward(&instance, path, &key, headers).await;
        assert_refused(&answer, *status, code);
    }
    let passed = forward(
        &instance,
        path,
        &key,
        &[("x-actor-user-id", &member), ("x-ticket-reference", "SUP-42")],
    )
    .await;
    assert_eq!(passed.status, 200, "{:?}", passed.body);
    assert_eq!(header(&passed, "x-warden-on-behalf-of"), member);
    assert_eq!(header(&passed, "x-warden-ticket"), "SUP-42");
    assert_eq!(header(&passed, "x-warden-key-kind"), "vendor");
    // A disabled user cannot be acted for.
    let mut owner = signed_in(&instance.server, "owner@acme.test").await;
    let disabled = owner
        .patch(&format!("/api/v1/users/{auditor}"), json!({ "status": "disabled" }))
        .await;
    assert_eq!(disabled.status, 200, "{:?}", disabled.body);
    let answer = forward(
        &instance,
        path,
        &key,
        &[("x-actor-user-id", &auditor), ("x-ticket-reference", "SUP-43")],
    )
    .await;
    assert_refused(&answer, 403, "actor_not_allowed");
    // A refused claim is a refused use: counted by its outcome, never as
    // valid, and an `api_key.refused` of its own.
    assert!(instance.server.terminate().success());
    let all = events(&instance);
    let mut counted: BTreeMap<String, u64> = BTreeMap::new();
    for event in all.iter().filter(|event| event["kind"] == "api_key.used") {
        assert_eq!(event["data"]["key"], id.as_str());
        for (outcome, n) in event["data"]["counts"].as_object().unwrap() {
            *counted.entry(outcome.clone()).or_default() += n.as_u64().unwrap();
        }
    }
    let expected = [("actor_not_allowed", 5), ("invalid_ticket", 3), ("valid", 1)];
    assert_eq!(
        counted,
        expected.map(|(outcome, n)| (outcome.to_string(), n)).into(),
        "every answer counted once, by its outcome"
    );
    let refused: BTreeSet<&str> = all
        .iter()
        .filter(|event| event["kind"] == "api_key.refused" && event["data"]["key"] == id.as_str())
        .filter_map(|event| event["data"]["outcome"].as_str())
        .collect();
    assert_eq!(refused, ["actor_not_allowed", "invalid_ticket"].into());
}
