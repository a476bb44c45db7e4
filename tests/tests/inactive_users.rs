//! Disabling the users nobody has seen for N days, through a real
//! `warden serve`. The org's first days are 100 days ago: the node runs
//! under libfaketime (`faketime`, installed by tools/test-env.sh) 100 days
//! in the past while the org is imported, people are added and some sign
//! in; then it runs on the real clock, where some come back and one
//! user's API key is used.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Value, json};
use warden_tests::audit::{LEGACY_PASSWORD, import_two_orgs, signed_in};
use warden_tests::keys::{application, code, create};
use warden_tests::process::{NodeEnv, Server};
use warden_tests::web::{Forms, WebClient, assert_refused, create_user, exported, field, location, page_cookie};

const PASSWORD: &str = "a long enough password 7";

/// Step-up lasts this long: the test waits it out once.
const STEP_UP_SECONDS: u64 = 8;

/// `id → reason` of a preview's `kept`, by email.
fn kept(preview: &Value) -> BTreeMap<String, String> {
    preview["kept"]
        .as_array()
        .unwrap()
        .iter()
        .map(|user| {
            (
                user["email"].as_str().unwrap().to_string(),
                user["kept"]["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn emails(preview: &Value) -> Vec<String> {
    preview["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|user| user["email"].as_str().unwrap().to_string())
        .collect()
}

fn id_of(preview: &Value, list: &str, email: &str) -> String {
    preview[list]
        .as_array()
        .unwrap()
        .iter()
        .find(|user| user["email"] == email)
        .unwrap_or_else(|| panic!("{email} not in {list}: {preview}"))["id"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_people_nobody_saw_are_disabled_and_everyone_else_stays() {
    let dir = tempfile::tempdir().unwrap();
    let mut env = NodeEnv::in_dir(dir.path());
    env.extra = vec![
        ("WARDEN_KEY_USE_SUMMARIES".into(), "true".into()),
        ("WARDEN_STEP_UP_MAX_AGE_SECONDS".into(), STEP_UP_SECONDS.to_string()),
    ];

    // 100 days ago: Acme and Globex are imported (owner@, admin@,
    // auditor@, member@ each); the owner adds three people and a key.
    env.clock = Some("-100d".into());
    import_two_orgs(&env).await;
    let mut server = Server::start(&env, "past").await;
    let mut owner = signed_in(&server, "owner@acme.test").await;
    let gone = create_user(&mut owner, "gone@acme.test", "member", PASSWORD).await;
    create_user(&mut owner, "back@acme.test", "member", PASSWORD).await;
    let keys_user = create_user(&mut owner, "keys@acme.test", "member", PASSWORD).await;
    let (_, app_key) = create(
        &mut owner,
        json!({ "kind": "app", "name": "billing", "owner": { "kind": "user", "id": keys_user }, "scopes": ["invoices:read"] }),
    )
    .await;
    let (_, service_key) = create(
        &mut owner,
        json!({ "kind": "service", "name": "hr sync", "owner": { "kind": "service", "name": "hr-sync" },
                "scopes": ["users:read", "users:write"] }),
    )
    .await;
    for email in ["gone@acme.test", "back@acme.test"] {
        let answer = WebClient::new(&server).sign_in(email, PASSWORD).await;
        assert_eq!(answer.status, 200, "{email}: {:?}", answer.body);
    }
    assert!(server.terminate().success());

    // Today: back@ signs in again, the key owned by keys@ answers an
    // application (recorded when the node stops).
    env.clock = None;
    server = Server::start(&env, "today").await;
    assert_eq!(
        WebClient::new(&server).sign_in("back@acme.test", PASSWORD).await.status,
        200
    );
    assert_eq!(
        code(&mut application(&server), &app_key, &["invoices:read"]).await,
        "valid"
    );
    assert!(server.terminate().success());
    server = Server::start(&env, "after").await;

    // The admin's list: gone@ (signed in 100 days ago) and member@ (never
    // signed in); the owner, the auditor (owners only) and keys@ (whose
    // key is in use) stay; back@ and the admin were seen today.
    let mut admin = signed_in(&server, "admin@acme.test").await;
    let preview = admin.get("/api/v1/users/inactive?days=90").await;
    assert_eq!(preview.status, 200, "{:?}", preview.body);
    let preview = preview.body;
    assert_eq!(
        emails(&preview),
        ["member@acme.test", "gone@acme.test"],
        "longest unseen first"
    );
    assert_eq!(preview["total"], 2);
    assert_eq!(preview["days"], 90);
    assert_eq!(
        preview["users"][0]["last_seen_at"],
        Value::Null,
        "member@ never signed in"
    );
    assert!(preview["users"][1]["last_seen_at"].as_str().unwrap() < preview["cutoff"].as_str().unwrap());
    assert_eq!(
        kept(&preview),
        BTreeMap::from([
            ("auditor@acme.test".into(), "owners_only".into()),
            ("keys@acme.test".into(), "keys_in_use".into()),
            ("owner@acme.test".into(), "owner".into()),
        ])
    );
    let member = id_of(&preview, "users", "member@acme.test");
    let auditor = id_of(&preview, "kept", "auditor@acme.test");
    let owner_id = id_of(&preview, "kept", "owner@acme.test");
    let never_before = admin.get("/api/v1/users/inactive?days=101").await;
    assert_eq!(
        never_before.body["total"], 0,
        "nobody is 101 days old: {:?}",
        never_before.body
    );
    assert_eq!(kept(&never_before.body), BTreeMap::new());

    // Bad input, the role matrix, another org's user, CSRF, a key.
    for days in ["29", "3651", "0"] {
        let answer = admin.get(&format!("/api/v1/users/inactive?days={days}")).await;
        assert_refused(&answer, 422, "unprocessable");
    }
    assert_refused(
        &admin.get("/api/v1/users/inactive?days=ninety").await,
        400,
        "bad_request",
    );
    assert_refused(&admin.get("/api/v1/users/inactive").await, 400, "bad_request");
    let mut member_client = WebClient::new(&server);
    assert_eq!(member_client.sign_in("back@acme.test", PASSWORD).await.status, 200);
    assert_refused(
        &member_client.get("/api/v1/users/inactive?days=90").await,
        403,
        "forbidden",
    );
    let disable = |users: &[&str]| json!({ "days": 90, "users": users });
    assert_refused(
        &member_client
            .post("/api/v1/users/inactive/disable", disable(&[&member]))
            .await,
        403,
        "forbidden",
    );
    let globex = signed_in(&server, "member@globex.test").await;
    let globex_id = globex.clone().get("/api/v1/session").await.body["user"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_refused(
        &admin
            .post("/api/v1/users/inactive/disable", disable(&[&member, &globex_id]))
            .await,
        404,
        "not_found",
    );
    let mut no_token = admin.clone();
    no_token.csrf = None;
    assert_refused(
        &no_token
            .post("/api/v1/users/inactive/disable", disable(&[&member]))
            .await,
        403,
        "csrf_refused",
    );
    assert_refused(
        &admin
            .post(
                "/api/v1/users/inactive/disable",
                json!({ "days": 10, "users": [&member] }),
            )
            .await,
        422,
        "unprocessable",
    );
    let mut script = WebClient::new(&server);
    script.origin = None;
    script
        .headers
        .push(("authorization".into(), format!("Bearer {service_key}")));
    let by_key = script.get("/api/v1/users/inactive?days=90").await;
    assert_eq!(
        emails(&by_key.body),
        emails(&preview),
        "a key with users:read reads the list"
    );
    assert_refused(
        &script.post("/api/v1/users/inactive/disable", disable(&[&member])).await,
        403,
        "person_required",
    );
    let untouched = admin.get("/api/v1/users/inactive?days=90").await.body;
    assert_eq!(untouched["total"], 2, "nothing refused disabled anyone");

    // The act: who is still unseen goes; who is kept or seen stays.
    let answer = admin
        .post(
            "/api/v1/users/inactive/disable",
            disable(&[&member, &gone, &gone, &owner_id, &auditor, &keys_user]),
        )
        .await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    assert_eq!(answer.body["disabled"], json!([member, gone]));
    assert_eq!(
        answer.body["left"],
        json!([
            { "id": owner_id, "reason": "owner" },
            { "id": auditor, "reason": "owners_only" },
            { "id": keys_user, "reason": "keys_in_use" },
        ])
    );
    assert_refused(
        &WebClient::new(&server).sign_in("gone@acme.test", PASSWORD).await,
        403,
        "account_disabled",
    );
    assert_refused(
        &WebClient::new(&server)
            .sign_in("member@acme.test", LEGACY_PASSWORD)
            .await,
        403,
        "account_disabled",
    );
    assert_eq!(admin.get("/api/v1/users/inactive?days=90").await.body["total"], 0);

    // A stale session confirms it's the admin first.
    tokio::time::sleep(Duration::from_secs(STEP_UP_SECONDS) + Duration::from_millis(500)).await;
    assert_refused(
        &admin.post("/api/v1/users/inactive/disable", disable(&[&gone])).await,
        403,
        "reauthentication_required",
    );
    let confirmed = admin
        .post("/api/v1/session/reauthenticate", json!({ "password": LEGACY_PASSWORD }))
        .await;
    assert_eq!(confirmed.status, 200, "{:?}", confirmed.body);
    let again = admin.post("/api/v1/users/inactive/disable", disable(&[&gone])).await;
    assert_eq!(again.status, 200, "{:?}", again.body);
    assert_eq!(again.body["disabled"], json!([]));
    assert_eq!(
        again.body["left"],
        json!([{ "id": gone, "reason": "seen" }]),
        "disabled already"
    );

    // The owner's page lists the auditor, ticked, and keeps keys@ with
    // the reason; the ticked are disabled with the page's CSRF token.
    let forms = Forms::new(&server);
    let signed = forms
        .post(
            "/sign-in",
            None,
            &[("email", "owner@acme.test"), ("password", LEGACY_PASSWORD)],
        )
        .await;
    assert_eq!(signed.status(), 303);
    let cookie = page_cookie(&signed).unwrap();
    let (status, html) = forms.html("/admin/users", &cookie).await;
    assert_eq!(status, 200);
    assert!(
        html.contains("href=\"/admin/users/inactive\""),
        "the users page links to it"
    );
    let (status, html) = forms.html("/admin/users/inactive?days=90", &cookie).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("1 active user not seen in the last 90 days"), "{html}");
    assert!(
        html.contains(&format!(
            "name=\"users\" value=\"{auditor}\" id=\"user-{auditor}\" checked"
        )),
        "{html}"
    );
    assert!(html.contains("keys@acme.test"), "{html}");
    assert!(html.contains("owns API keys still in use"), "{html}");
    let (status, html_bad) = forms.html("/admin/users/inactive?days=12", &cookie).await;
    assert_eq!(status, 422);
    assert!(
        html_bad.contains("days must be a whole number from 30 to 3650"),
        "{html_bad}"
    );
    let csrf = field(&html, "csrf_token");
    let forged = forms
        .post(
            "/admin/users/inactive",
            Some(&cookie),
            &[("days", "90"), ("users", &auditor)],
        )
        .await;
    assert_eq!(forged.status(), 403, "no CSRF token, no act");
    let posted = forms
        .post(
            "/admin/users/inactive",
            Some(&cookie),
            &[("csrf_token", &csrf), ("days", "90"), ("users", &auditor)],
        )
        .await;
    assert_eq!(posted.status(), 303);
    assert_eq!(
        location(&posted),
        "/admin/users/inactive?days=90&notice=inactive_disabled"
    );
    let (_, html) = forms.html(location(&posted), &cookie).await;
    assert!(html.contains("The ticked users are disabled"), "{html}");
    assert!(html.contains("id=\"inactive-none\""), "{html}");

    // What the trail says: each disabling by whom, with the reason.
    assert!(server.terminate().success());
    let events = exported(&env);
    let disabled: Vec<(String, String, String)> = events
        .iter()
        .filter(|event| event["kind"] == "user.disabled")
        .map(|event| {
            (
                event["subject"].as_str().unwrap().to_string(),
                event["actor"]["id"].as_str().unwrap().to_string(),
                event["data"]["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let admin_id = events
        .iter()
        .find(|event| event["kind"] == "user.created" && event["data"]["email"] == "admin@acme.test")
        .unwrap()["subject"]
        .as_str()
        .unwrap()
        .trim_start_matches("user:")
        .to_string();
    let reason = "not seen for 90 days".to_string();
    assert_eq!(
        disabled,
        [
            (format!("user:{member}"), admin_id.clone(), reason.clone()),
            (format!("user:{gone}"), admin_id, reason.clone()),
            (format!("user:{auditor}"), owner_id, reason),
        ]
    );
}
