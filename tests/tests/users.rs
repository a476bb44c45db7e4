//! The accounts behind sessions over HTTP against a real `warden serve`
//! (embedded profile): user admin and the session rotation a role change
//! causes, invitations, password changes, and the events they leave.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::json;
use warden_tests::web::{WebClient, assert_refused, create_user, events, instance, set_up};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_manage_users_and_role_changes_rotate_the_session() {
    let instance = instance(&[]).await;
    let mut owner = set_up(&instance.server).await;
    let admin_id = create_user(&mut owner, "ada@acme.test", "admin", "ada's long password 7").await;
    let member_id = create_user(&mut owner, "max@acme.test", "member", "max's long password 7").await;
    let mut admin = WebClient::new(&instance.server);
    admin.sign_in("ada@acme.test", "ada's long password 7").await;
    let mut member = WebClient::new(&instance.server);
    member.sign_in("max@acme.test", "max's long password 7").await;

    // Members do not manage users; admins cannot touch owners.
    assert_refused(&member.get("/api/v1/users").await, 403, "forbidden");
    let owner_id = owner.get("/api/v1/session").await.body["user"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_refused(
        &admin
            .patch(&format!("/api/v1/users/{owner_id}"), json!({"status": "disabled"}))
            .await,
        403,
        "forbidden",
    );
    assert_refused(
        &admin
            .patch(&format!("/api/v1/users/{member_id}"), json!({"role": "owner"}))
            .await,
        403,
        "forbidden",
    );
    assert_refused(
        &admin
            .patch(&format!("/api/v1/users/{admin_id}"), json!({"role": "member"}))
            .await,
        403,
        "forbidden",
    );
    assert_refused(
        &admin.patch("/api/v1/users/nope", json!({"role": "member"})).await,
        404,
        "not_found",
    );
    assert_refused(
        &admin
            .patch(&format!("/api/v1/users/{member_id}"), json!({"role": "king"}))
            .await,
        400,
        "bad_request",
    );
    assert_refused(
        &admin
            .post(
                "/api/v1/users",
                json!({"email": "max@acme.test", "display_name": "Max", "role": "member"}),
            )
            .await,
        409,
        "taken",
    );

    // Auditors read the whole audit trail: only an owner makes one, and
    // only an owner acts on one.
    for (path, body) in [
        (format!("/api/v1/users/{member_id}"), json!({"role": "auditor"})),
        (
            "/api/v1/users".to_string(),
            json!({"email": "eve@acme.test", "display_name": "Eve", "role": "auditor", "password": "eve's long password 7"}),
        ),
        (
            "/api/v1/users".to_string(),
            json!({"email": "eve@acme.test", "display_name": "Eve", "role": "owner"}),
        ),
    ] {
        let answer = if body.get("email").is_some() {
            admin.post(&path, body).await
        } else {
            admin.patch(&path, body).await
        };
        assert_refused(&answer, 403, "forbidden");
    }

    // A role change gives the member's session a new token on its next request.
    let old_cookie = member.cookie.clone().unwrap();
    let changed = owner
        .patch(&format!("/api/v1/users/{member_id}"), json!({"role": "auditor"}))
        .await;
    assert_eq!(changed.body["role"], "auditor");
    let next = member.get("/api/v1/session").await;
    assert_eq!(next.status, 200);
    assert_eq!(next.body["roles"], json!(["auditor"]));
    let new_cookie = next.cookie().expect("a rotated cookie");
    assert_ne!(new_cookie, old_cookie);
    let mut stale = member.clone();
    stale.cookie = Some(old_cookie);
    assert_refused(&stale.get("/api/v1/session").await, 401, "session_required");
    assert_eq!(member.get("/api/v1/session").await.status, 200);

    // The first request after a role change may be state-changing: the
    // token the client holds is still the right one for it.
    assert_refused(
        &admin
            .patch(&format!("/api/v1/users/{member_id}"), json!({"status": "disabled"}))
            .await,
        403,
        "forbidden",
    );
    assert_eq!(
        owner
            .patch(&format!("/api/v1/users/{member_id}"), json!({"role": "member"}))
            .await
            .status,
        200
    );
    let before = (member.cookie.clone(), member.csrf.clone());
    let posted = member.post("/api/v1/sessions/sign-out-others", json!({})).await;
    assert_eq!(posted.status, 200, "{:?}", posted.body);
    assert_ne!(member.cookie, before.0, "rotated on that request");
    assert_ne!(member.csrf, before.1, "the new CSRF token comes in x-csrf-token");
    assert_eq!(
        member.post("/api/v1/sessions/sign-out-others", json!({})).await.status,
        200
    );
    // Admins cannot sign owners out.
    assert_refused(
        &admin.delete(&format!("/api/v1/users/{owner_id}/sessions")).await,
        403,
        "forbidden",
    );

    // Disabling ends the user's sessions; re-enabling lets them sign in.
    assert_eq!(
        admin
            .patch(&format!("/api/v1/users/{member_id}"), json!({"status": "disabled"}))
            .await
            .status,
        200
    );
    assert_refused(&member.get("/api/v1/session").await, 401, "session_required");
    assert_eq!(
        admin
            .patch(&format!("/api/v1/users/{member_id}"), json!({"status": "active"}))
            .await
            .status,
        200
    );
    assert_eq!(
        member.sign_in("max@acme.test", "max's long password 7").await.status,
        200
    );

    let events = events(&instance);
    let role_change = events
        .iter()
        .find(|event| event["kind"] == "user.role_changed")
        .unwrap();
    assert_eq!(role_change["data"]["old"], "member");
    assert_eq!(role_change["data"]["new"], "auditor");
    assert_eq!(role_change["actor"]["id"], owner_id.as_str());
    let disabled = events.iter().find(|event| event["kind"] == "user.disabled").unwrap();
    assert_eq!(
        (disabled["data"]["old"].as_str(), disabled["data"]["new"].as_str()),
        (Some("active"), Some("disabled"))
    );
    let rotated = events.iter().find(|event| event["kind"] == "session.rotated").unwrap();
    assert_eq!(rotated["data"]["reason"], "privileges_changed");
    assert!(events.iter().any(|event| event["kind"] == "user.enabled"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invitations_and_password_changes() {
    let instance = instance(&[]).await;
    let mut owner = set_up(&instance.server).await;
    let invited = owner
        .post(
            "/api/v1/users",
            json!({"email": "ivy@acme.test", "display_name": "Ivy", "role": "member"}),
        )
        .await;
    assert_eq!(invited.body["status"], "invited");
    let url = invited.body["invitation_url"].as_str().unwrap();
    let token = url.split("token=").nth(1).unwrap().to_string();
    // Invited users cannot sign in before accepting.
    let mut ivy = WebClient::new(&instance.server);
    assert_refused(
        &ivy.sign_in("ivy@acme.test", "anything at all 1").await,
        401,
        "invalid_credentials",
    );
    assert_refused(
        &ivy.post(
            "/api/v1/invitations/accept",
            json!({"token": token, "password": "password"}),
        )
        .await,
        422,
        "weak_password",
    );
    let accepted = ivy
        .post(
            "/api/v1/invitations/accept",
            json!({"token": token, "password": "ivy's long password 7"}),
        )
        .await;
    assert_eq!(accepted.status, 200, "{:?}", accepted.body);
    assert_refused(
        &WebClient::new(&instance.server)
            .post(
                "/api/v1/invitations/accept",
                json!({"token": token, "password": "ivy's long password 7"}),
            )
            .await,
        403,
        "invalid_link",
    );

    // Password change: the current password is checked, other sessions end,
    // this one gets a new token.
    let mut other = WebClient::new(&instance.server);
    other.sign_in("ivy@acme.test", "ivy's long password 7").await;
    assert_refused(
        &ivy.put(
            "/api/v1/password",
            json!({"current_password": "not it", "new_password": "a brand new password 8"}),
        )
        .await,
        403,
        "wrong_password",
    );
    assert_refused(
        &ivy.put(
            "/api/v1/password",
            json!({"current_password": "ivy's long password 7", "new_password": "short"}),
        )
        .await,
        422,
        "weak_password",
    );
    // Neither the current password again, nor a pattern, nor a common word
    // dressed up with digits and symbols.
    for weak in [
        "ivy's long password 7",
        "            ",
        "abcabcabcabc",
        "Password123!",
        "Welcome2024!",
    ] {
        let refused = ivy
            .put(
                "/api/v1/password",
                json!({"current_password": "ivy's long password 7", "new_password": weak}),
            )
            .await;
        assert_refused(&refused, 422, "weak_password");
    }
    let before = ivy.cookie.clone();
    let changed = ivy
        .put(
            "/api/v1/password",
            json!({"current_password": "ivy's long password 7", "new_password": "a brand new password 8"}),
        )
        .await;
    assert_eq!(changed.status, 200, "{:?}", changed.body);
    assert_ne!(ivy.cookie, before);
    assert_eq!(ivy.get("/api/v1/session").await.status, 200);
    assert_refused(&other.get("/api/v1/session").await, 401, "session_required");
    let mut fresh = WebClient::new(&instance.server);
    assert_refused(
        &fresh.sign_in("ivy@acme.test", "ivy's long password 7").await,
        401,
        "invalid_credentials",
    );
    assert_eq!(
        fresh.sign_in("ivy@acme.test", "a brand new password 8").await.status,
        200
    );

    let events = events(&instance);
    let kinds: Vec<&str> = events.iter().map(|event| event["kind"].as_str().unwrap()).collect();
    for kind in ["user.invitation_accepted", "password.changed"] {
        assert!(kinds.contains(&kind), "{kind} missing");
    }
    let text = serde_json::to_string(&events).unwrap();
    assert!(!text.contains(&token) && !text.contains("brand new password"));
}
