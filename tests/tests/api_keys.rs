//! API keys through a real `warden serve` (embedded profile): every
//! verification outcome in the fixed order, allowlists behind a trusted
//! proxy, rotation with a grace period, the role matrix, other orgs' ids,
//! CSRF and step-up on the management routes. Usage, secrecy and timing are
//! in `api_key_usage.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use chrono::{SecondsFormat, Utc};
use serde_json::{Value, json};
use warden_core::auth::api_key::format::KeyText;
use warden_tests::audit::{signed_in, two_orgs};
use warden_tests::keys::{application, code, create, verify_from};
use warden_tests::web::{WebClient, assert_refused, events};

fn in_seconds(seconds: i64) -> String {
    (Utc::now() + chrono::Duration::seconds(seconds)).to_rfc3339_opts(SecondsFormat::Secs, true)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_outcome_is_answered_in_the_fixed_order() {
    let instance = two_orgs(&[("WARDEN_TRUSTED_PROXIES", "127.0.0.1/32")]).await;
    let mut admin = signed_in(&instance.server, "admin@acme.test").await;
    let mut app = application(&instance.server);
    let member = admin.user_id("member@acme.test").await;
    let app_key = |name: &str, more: Value| {
        let mut body = json!({ "kind": "app", "name": name, "scopes": ["invoices:read"] });
        body.as_object_mut().unwrap().extend(more.as_object().unwrap().clone());
        body
    };

    let (_, plain) = create(&mut admin, app_key("plain", json!({}))).await;
    let valid = verify_from(&mut app, &plain, &["invoices:read"], None).await;
    assert_eq!(valid.body["valid"], true);
    assert_eq!(valid.body["code"], "valid");
    assert_eq!(valid.body["key"]["scopes"], json!(["invoices:read"]));
    assert_eq!(code(&mut app, &plain, &[]).await, "valid", "no scope asked");
    assert_eq!(code(&mut app, &plain, &["invoices:write"]).await, "insufficient_scope");
    // Not found: malformed, the right shape but unknown, a changed secret.
    let unknown = KeyText::generate();
    let mut changed = plain.clone().into_bytes();
    changed[30] = if changed[30] == b'a' { b'b' } else { b'a' };
    for text in ["nope", "", unknown.expose(), &String::from_utf8(changed).unwrap()] {
        let answer = verify_from(&mut app, text, &[], None).await;
        assert_eq!(answer.body["code"], "not_found", "{text}");
        assert_eq!(answer.body["valid"], false);
        assert!(answer.body.get("key").is_none(), "nothing of a key is told");
    }

    // Revoked beats expired; expired beats a disabled owner.
    let (revoked_id, revoked) = create(&mut admin, app_key("revoked", json!({ "expires_at": in_seconds(2) }))).await;
    let answer = admin
        .post(
            &format!("/api/v1/keys/{revoked_id}/revoke"),
            json!({ "reason": "leaked" }),
        )
        .await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    assert_eq!(answer.body["status"], "revoked");
    let (_, expiring) = create(
        &mut admin,
        app_key(
            "expiring",
            json!({ "expires_at": in_seconds(2), "owner": { "kind": "user", "id": member } }),
        ),
    )
    .await;
    let (_, owned) = create(
        &mut admin,
        app_key("owned", json!({ "owner": { "kind": "user", "id": member } })),
    )
    .await;
    assert_eq!(code(&mut app, &owned, &[]).await, "valid");
    assert_eq!(code(&mut app, &expiring, &[]).await, "valid");
    let disabled = admin
        .patch(&format!("/api/v1/users/{member}"), json!({ "status": "disabled" }))
        .await;
    assert_eq!(disabled.status, 200, "{:?}", disabled.body);
    assert_eq!(code(&mut app, &owned, &[]).await, "disabled_owner");
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(code(&mut app, &revoked, &[]).await, "revoked");
    assert_eq!(
        code(&mut app, &expiring, &[]).await,
        "expired",
        "expired, and its owner disabled"
    );

    // Networks, behind the trusted proxy at 127.0.0.1: the client is the
    // right-most address that is not a trusted proxy.
    let (_, fenced) = create(
        &mut admin,
        app_key(
            "fenced",
            json!({ "allowed_networks": ["10.0.0.0/8", "2001:db8::/32"], "owner": { "kind": "service", "name": "cron" } }),
        ),
    )
    .await;
    for (from, expected) in [
        (Some("10.1.2.3"), "valid"),
        (Some("2001:db8::17"), "valid"),
        (Some("192.0.2.1"), "ip_not_allowed"),
        (Some("2001:db9::1"), "ip_not_allowed"),
        (Some("10.0.0.1, 192.0.2.1"), "ip_not_allowed"),
        (Some("192.0.2.1, 10.0.0.1"), "valid"),
        (None, "ip_not_allowed"),
    ] {
        let answer = verify_from(&mut app, &fenced, &["invoices:read"], from).await;
        assert_eq!(answer.body["code"], expected, "from {from:?}");
    }
    // A network refusal comes before a scope refusal.
    let answer = verify_from(&mut app, &fenced, &["refunds:write"], Some("192.0.2.1")).await;
    assert_eq!(answer.body["code"], "ip_not_allowed");

    // Limits: a scope refusal costs nothing; rate limits come before uses.
    let (_, limited) = create(
        &mut admin,
        app_key(
            "limited",
            json!({ "limits": [{ "name": "per_day", "limit": 2, "window_seconds": 86400 }], "remaining_uses": 2 }),
        ),
    )
    .await;
    assert_eq!(code(&mut app, &limited, &["refunds:write"]).await, "insufficient_scope");
    let first = verify_from(&mut app, &limited, &[], None).await;
    assert_eq!(first.body["code"], "valid");
    assert_eq!(first.headers["ratelimit-policy"], "\"per_day\";q=2;w=86400");
    assert!(
        first.headers["ratelimit"]
            .to_str()
            .unwrap()
            .starts_with("\"per_day\";r=1;t="),
        "{:?}",
        first.headers
    );
    assert_eq!(code(&mut app, &limited, &[]).await, "valid");
    let spent = verify_from(&mut app, &limited, &[], None).await;
    assert_eq!(
        spent.body["code"], "rate_limited",
        "not usage_exceeded: limits come first"
    );
    let retry: u64 = spent.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=86_400).contains(&retry));
    assert!(spent.headers["ratelimit"].to_str().unwrap().contains(";r=0;"));
    let (_, counted) = create(&mut admin, app_key("counted", json!({ "remaining_uses": 2 }))).await;
    assert_eq!(code(&mut app, &counted, &[]).await, "valid");
    assert_eq!(code(&mut app, &counted, &[]).await, "valid");
    let used_up = verify_from(&mut app, &counted, &[], None).await;
    assert_eq!(used_up.body["code"], "usage_exceeded");
    assert_eq!(used_up.body["remaining_uses"], 2, "the log has not recorded them yet");

    // Without the application's token, no verification.
    let mut stranger = WebClient::new(&instance.server);
    stranger.origin = None;
    let refused = stranger.post("/api/v1/keys/verify", json!({ "key": plain })).await;
    assert_refused(&refused, 401, "unauthorized");
    let hostile = app
        .post("/api/v1/keys/verify", json!({ "key": plain, "extra": true }))
        .await;
    assert_refused(&hostile, 422, "unprocessable");
    let long = app.post("/api/v1/keys/verify", json!({ "key": "k".repeat(300) })).await;
    assert_refused(&long, 400, "bad_request");
}

/// A vendor key's claim is checked when the application verifies it too,
/// after the key's own checks and before its limits: a refused claim
/// never spends the key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vendor_key_is_verified_with_the_claim_its_request_made() {
    let instance = two_orgs(&[]).await;
    let mut admin = signed_in(&instance.server, "admin@acme.test").await;
    let mut app = application(&instance.server);
    let member = admin.user_id("member@acme.test").await;
    let (id, key) = create(
        &mut admin,
        json!({ "kind": "vendor", "name": "Helpdesk Co", "ticket_pattern": "[A-Z]+-[0-9]+",
                "owner": { "kind": "service", "name": "helpdesk-co" },
                "limits": [{ "name": "per_day", "limit": 1, "window_seconds": 86400 }] }),
    )
    .await;
    let mut verify = async |claim: Value| {
        let mut body = json!({ "key": key });
        body.as_object_mut().unwrap().extend(claim.as_object().unwrap().clone());
        let answer = app.post("/api/v1/keys/verify", body).await;
        assert_eq!(answer.status, 200, "{:?}", answer.body);
        answer.body
    };
    let nobody = verify(json!({ "ticket_reference": "SUP-1" })).await;
    assert_eq!(nobody["code"], "actor_not_allowed");
    assert_eq!(nobody["valid"], false);
    assert_eq!(nobody["key"]["id"], id.as_str());
    assert!(nobody.get("on_behalf_of").is_none());
    let ticket = verify(json!({ "actor_user_id": member, "ticket_reference": "SUP 1" })).await;
    assert_eq!(ticket["code"], "invalid_ticket");
    let claimed = json!({ "actor_user_id": member, "ticket_reference": "SUP-1" });
    let valid = verify(claimed.clone()).await;
    assert_eq!(valid["code"], "valid", "the refusals did not spend the limit of 1");
    assert_eq!(valid["on_behalf_of"], member.as_str());
    assert_eq!(valid["ticket"], "SUP-1");
    assert_eq!(verify(claimed).await["code"], "rate_limited");
    // Another kind of key needs no claim, and what it sends is not echoed.
    let (_, plain) = create(&mut admin, json!({ "kind": "app", "name": "plain" })).await;
    let answer = app
        .post(
            "/api/v1/keys/verify",
            json!({ "key": plain, "actor_user_id": member, "ticket_reference": "SUP-1" }),
        )
        .await;
    assert_eq!(answer.body["code"], "valid");
    assert!(answer.body.get("on_behalf_of").is_none() && answer.body.get("ticket").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_owners_and_admins_manage_keys_of_their_own_org() {
    let instance = two_orgs(&[("WARDEN_STEP_UP_MAX_AGE_SECONDS", "3")]).await;
    let mut admin = signed_in(&instance.server, "admin@acme.test").await;
    let body = json!({ "kind": "service", "name": "siem", "scopes": ["users:read"] });
    let (id, _) = create(&mut admin, body.clone()).await;
    for (email, lists, creates) in [
        ("owner@acme.test", true, true),
        ("auditor@acme.test", true, false),
        ("member@acme.test", false, false),
    ] {
        let mut user = signed_in(&instance.server, email).await;
        let listed = user.get("/api/v1/keys").await;
        let read = user.get(&format!("/api/v1/keys/{id}")).await;
        if lists {
            assert_eq!(listed.status, 200, "{email}");
            let keys = listed.body["keys"].as_array().unwrap();
            assert!(keys.iter().any(|key| key["id"] == id.as_str()), "{email}");
            assert!(keys.iter().all(|key| key.get("key").is_none()), "never the secret");
            assert_eq!(read.status, 200, "{email}");
        } else {
            assert_refused(&listed, 403, "forbidden");
            assert_refused(&read, 403, "forbidden");
        }
        let created = user.post("/api/v1/keys", body.clone()).await;
        let rotated = user
            .post(&format!("/api/v1/keys/{id}/rotate"), json!({ "grace_seconds": 0 }))
            .await;
        let revoked = user.post(&format!("/api/v1/keys/{id}/revoke"), json!({})).await;
        if creates {
            assert_eq!(created.status, 201, "{email}: {:?}", created.body);
            assert_eq!(rotated.status, 200, "{email}: {:?}", rotated.body);
        } else {
            for answer in [&created, &rotated, &revoked] {
                assert_refused(answer, 403, "forbidden");
            }
        }
    }
    // Another org's key does not exist for globex's owner.
    let mut globex = signed_in(&instance.server, "owner@globex.test").await;
    assert_refused(&globex.get(&format!("/api/v1/keys/{id}")).await, 404, "not_found");
    for (path, body) in [
        (format!("/api/v1/keys/{id}/rotate"), json!({})),
        (format!("/api/v1/keys/{id}/revoke"), json!({})),
    ] {
        assert_refused(&globex.post(&path, body).await, 404, "not_found");
    }
    assert_refused(
        &globex
            .patch(&format!("/api/v1/keys/{id}"), json!({ "name": "mine" }))
            .await,
        404,
        "not_found",
    );
    assert!(
        globex.get("/api/v1/keys").await.body["keys"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    // Settings that are not allowed name their field.
    for (bad, field) in [
        (
            json!({ "kind": "service", "name": "x", "scopes": ["invoices:read"] }),
            "scopes",
        ),
        (json!({ "kind": "vendor", "name": "x" }), "ticket_pattern"),
        (
            json!({ "kind": "app", "name": "x", "allowed_networks": ["10.0.0.0/33"] }),
            "allowed_networks",
        ),
        (
            json!({ "kind": "app", "name": "x", "expires_at": "2001-01-01T00:00:00Z" }),
            "expires_at",
        ),
    ] {
        let answer = admin.post("/api/v1/keys", bad).await;
        assert_refused(&answer, 422, "invalid_key_settings");
        assert!(answer.body["error"]["message"].as_str().unwrap().starts_with(field));
    }
    // A cross-site form cannot create one; no CSRF token, no key.
    let mut no_token = admin.clone();
    no_token.csrf = None;
    assert_refused(&no_token.post("/api/v1/keys", body.clone()).await, 403, "csrf_refused");
    // A stale session re-authenticates first; revoking needs no step-up.
    tokio::time::sleep(Duration::from_millis(3500)).await;
    assert_refused(
        &admin.post("/api/v1/keys", body.clone()).await,
        403,
        "reauthentication_required",
    );
    assert_refused(
        &admin.post(&format!("/api/v1/keys/{id}/rotate"), json!({})).await,
        403,
        "reauthentication_required",
    );
    let revoked = admin.post(&format!("/api/v1/keys/{id}/revoke"), json!({})).await;
    assert_eq!(revoked.status, 200, "{:?}", revoked.body);
    let again = admin.post(&format!("/api/v1/keys/{id}/revoke"), json!({})).await;
    assert_eq!(again.status, 200, "revoking again changes nothing");
    let kinds: Vec<Value> = events(&instance)
        .into_iter()
        .filter(|event| event["kind"].as_str().unwrap().starts_with("api_key."))
        .collect();
    let revocations: Vec<&Value> = kinds
        .iter()
        .filter(|event| event["kind"] == "api_key.revoked")
        .collect();
    assert_eq!(revocations.len(), 1);
    assert_eq!(revocations[0]["actor"]["kind"], "user");
    assert!(
        kinds
            .iter()
            .filter(|event| event["kind"] != "api_key.refused")
            .all(|event| event["actor"]["org"].is_string()),
        "every change names who made it"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_secret_works_through_its_grace_and_then_expires() {
    let instance = two_orgs(&[]).await;
    let mut owner = signed_in(&instance.server, "owner@acme.test").await;
    let mut app = application(&instance.server);
    let (id, old) = create(&mut owner, json!({ "kind": "app", "name": "billing" })).await;
    let rotated = owner
        .post(&format!("/api/v1/keys/{id}/rotate"), json!({ "grace_seconds": 2 }))
        .await;
    assert_eq!(rotated.status, 200, "{:?}", rotated.body);
    let new = rotated.body["key"].as_str().unwrap().to_string();
    assert_ne!(new, old);
    assert_eq!(&new[..24], &old[..24], "the same key id");
    assert_eq!(rotated.body["previous_secret"]["hint"], &old[69..]);
    assert_eq!(code(&mut app, &old, &[]).await, "valid", "in its grace");
    assert_eq!(code(&mut app, &new, &[]).await, "valid");
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(code(&mut app, &old, &[]).await, "expired");
    assert_eq!(code(&mut app, &new, &[]).await, "valid");
    let quick = owner
        .post(&format!("/api/v1/keys/{id}/rotate"), json!({ "grace_seconds": 0 }))
        .await;
    assert_eq!(quick.status, 200, "{:?}", quick.body);
    assert_eq!(code(&mut app, &new, &[]).await, "expired", "no grace");
    assert_eq!(code(&mut app, quick.body["key"].as_str().unwrap(), &[]).await, "valid");
    let too_long = owner
        .post(
            &format!("/api/v1/keys/{id}/rotate"),
            json!({ "grace_seconds": 604_801 }),
        )
        .await;
    assert_refused(&too_long, 422, "invalid_key_settings");
}
