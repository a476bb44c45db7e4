//! Every state-changing route appends an event. The first test walks each
//! POST, PUT, PATCH and DELETE operation of the OpenAPI document through a
//! real server, successfully, and checks that the log grew; an operation
//! the walk does not cover (a new route) fails it. The second does the
//! same for every form POST of the pages, as routed in routes.rs.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::sync::Arc;

use serde_json::{Value, json};
use warden_core::ledger::LedgerStore;
use warden_core::ledger::sqlite::SqliteStore;
use warden_tests::mfa::{early_in_step, oathtool};
use warden_tests::passkeys::{assertion, passkey_sign_in, register};
use warden_tests::web::{Answer, Forms, Instance, OWNER_PASSWORD, WebClient, field, instance, page_cookie, set_up};
use webauthn_authenticator_rs::softpasskey::SoftPasskey;

/// The first half of a WebAuthn ceremony changes nothing: its state is
/// sealed into the answer and only the second half, which appends, uses it.
const CHANGE_NOTHING: [&str; 3] = [
    "startPasskeyRegistration",
    "startPasskeyVerification",
    "startPasskeySignIn",
];

struct Walk {
    store: Arc<dyn LedgerStore>,
    covered: BTreeSet<&'static str>,
}

impl Walk {
    async fn open(instance: &Instance) -> Walk {
        let store = SqliteStore::open_existing(&instance.env.data_dir.join("ledger.sqlite"))
            .await
            .unwrap();
        Walk {
            store: Arc::new(store),
            covered: BTreeSet::new(),
        }
    }

    async fn head(&self) -> u64 {
        self.store.head().await.unwrap().seq
    }

    /// Asserts that `operation` succeeded and appended at least one event.
    async fn appended(&mut self, operation: &'static str, before: u64, status: u16, body: &Value) {
        assert!((200..300).contains(&status), "{operation}: {status} {body:?}");
        let after = self.head().await;
        assert!(after > before, "{operation} appended no event");
        self.covered.insert(operation);
    }

    async fn answered(&mut self, operation: &'static str, before: u64, answer: &Answer) {
        self.appended(operation, before, answer.status.as_u16(), &answer.body)
            .await;
    }

    /// Asserts that a page's form post succeeded (a page, or a redirect
    /// elsewhere than to sign in or to confirm it's you) and appended.
    async fn posted(&mut self, route: &'static str, before: u64, response: &reqwest::Response) {
        let status = response.status();
        let to = response.headers().get("location").map_or("", |to| to.to_str().unwrap());
        assert!(status.is_success() || status.is_redirection(), "{route}: {status}");
        assert!(
            !to.starts_with("/sign-in?next=") && !to.starts_with("/settings/reauthenticate"),
            "{route}: {status} to {to}"
        );
        assert!(self.head().await > before, "{route} appended no event");
        self.covered.insert(route);
    }
}

fn state_changing_operations() -> BTreeSet<String> {
    let document: Value = serde_json::from_str(include_str!("../../api/openapi.json")).unwrap();
    let mut operations = BTreeSet::new();
    for methods in document["paths"].as_object().unwrap().values() {
        for (method, operation) in methods.as_object().unwrap() {
            if ["post", "put", "patch", "delete"].contains(&method.as_str()) {
                operations.insert(operation["operationId"].as_str().unwrap().to_string());
            }
        }
    }
    operations
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_state_changing_route_appends_an_event() {
    const SAM: &str = "sam@acme.test";
    let instance = instance(&[]).await;
    let mut walk = Walk::open(&instance).await;
    let server = &instance.server;

    let before = walk.head().await;
    let mut owner = set_up(server).await;
    walk.appended("setup", before, 201, &Value::Null).await;

    let before = walk.head().await;
    let posted = server
        .post_app_event(&json!({"kind": "app.invoice.paid", "subject": "invoice:1"}))
        .await;
    walk.appended("recordAppEvent", before, posted.status().as_u16(), &Value::Null)
        .await;

    // Users, roles, policies (the owner's sign-in is fresh).
    let before = walk.head().await;
    let created = owner
        .post(
            "/api/v1/users",
            json!({"email": SAM, "display_name": "Sam", "role": "member", "password": "sam's long password 7"}),
        )
        .await;
    walk.answered("createUser", before, &created).await;
    let sam_id = created.body["id"].as_str().unwrap().to_string();
    let before = walk.head().await;
    let changed = owner
        .patch(&format!("/api/v1/users/{sam_id}"), json!({"role": "admin"}))
        .await;
    walk.answered("changeUser", before, &changed).await;
    let before = walk.head().await;
    let policy = owner
        .put(
            "/api/v1/org/session-policy",
            json!({"idle_timeout_seconds": 3600, "absolute_timeout_seconds": 86400}),
        )
        .await;
    walk.answered("changeSessionPolicy", before, &policy).await;
    let before = walk.head().await;
    let policy = owner
        .put("/api/v1/org/mfa-policy", json!({"enrolment_grace_seconds": 3600}))
        .await;
    walk.answered("changeMfaPolicy", before, &policy).await;
    let before = walk.head().await;
    let held = owner
        .post("/api/v1/org/legal-holds", json!({"reason": "matter 1"}))
        .await;
    walk.answered("placeLegalHold", before, &held).await;
    let hold = held.body["id"].as_str().unwrap().to_string();
    let before = walk.head().await;
    let released = owner
        .post(
            &format!("/api/v1/org/legal-holds/{hold}/release"),
            json!({"reason": "settled"}),
        )
        .await;
    walk.answered("releaseLegalHold", before, &released).await;

    // Alert rules: created, changed, disabled, enabled, removed.
    let before = walk.head().await;
    let rule = json!({"name": "Role changes", "severity": "high",
                      "condition": {"type": "match", "select": {"kinds": ["user.role_changed"]}}});
    let created = owner.post("/api/v1/alert-rules", rule.clone()).await;
    walk.answered("createAlertRule", before, &created).await;
    let rule_path = format!("/api/v1/alert-rules/{}", created.body["id"].as_str().unwrap());
    let before = walk.head().await;
    let mut changed_rule = rule;
    changed_rule["severity"] = json!("critical");
    let changed = owner.put(&rule_path, changed_rule).await;
    walk.answered("changeAlertRule", before, &changed).await;
    let before = walk.head().await;
    let disabled = owner.post(&format!("{rule_path}/disable"), json!({})).await;
    walk.answered("disableAlertRule", before, &disabled).await;
    let before = walk.head().await;
    let enabled = owner.post(&format!("{rule_path}/enable"), json!({})).await;
    walk.answered("enableAlertRule", before, &enabled).await;
    let before = walk.head().await;
    let removed = owner.delete(&rule_path).await;
    walk.answered("removeAlertRule", before, &removed).await;
    let before = walk.head().await;
    let previewed = owner
        .post(
            "/api/v1/alert-rules/preview",
            json!({"rule": {"name": "Any sign-in", "severity": "info",
                            "condition": {"type": "match", "select": {"kinds": ["login.*"]}}},
                   "hours": 1}),
        )
        .await;
    walk.answered("previewAlertRule", before, &previewed).await;

    // Sign-in, password, sessions.
    let mut sam = WebClient::new(server);
    let before = walk.head().await;
    let signed_in = sam.sign_in(SAM, "sam's long password 7").await;
    walk.answered("signIn", before, &signed_in).await;
    let before = walk.head().await;
    let password = sam
        .put(
            "/api/v1/password",
            json!({"current_password": "sam's long password 7", "new_password": "sam's newer password 8"}),
        )
        .await;
    walk.answered("changePassword", before, &password).await;
    let mut other = WebClient::new(server);
    other.sign_in(SAM, "sam's newer password 8").await;
    let before = walk.head().await;
    let others = sam.post("/api/v1/sessions/sign-out-others", json!({})).await;
    walk.answered("signOutOthers", before, &others).await;
    let mut third = WebClient::new(server);
    third.sign_in(SAM, "sam's newer password 8").await;
    let third_id = third.get("/api/v1/session").await.body["session"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let before = walk.head().await;
    let revoked = sam.delete(&format!("/api/v1/sessions/{third_id}")).await;
    walk.answered("revokeSession", before, &revoked).await;
    let before = walk.head().await;
    let revoked = owner.delete(&format!("/api/v1/users/{sam_id}/sessions")).await;
    walk.answered("revokeUserSessions", before, &revoked).await;

    // An invitation, then a second factor set up, used, renewed, removed.
    let invited = owner
        .post(
            "/api/v1/users",
            json!({"email": "ivy@acme.test", "display_name": "Ivy", "role": "member"}),
        )
        .await;
    let link = invited.body["invitation_url"].as_str().unwrap();
    let token = link.split("token=").nth(1).unwrap();
    let mut ivy = WebClient::new(server);
    let before = walk.head().await;
    let accepted = ivy
        .post(
            "/api/v1/invitations/accept",
            json!({"token": token, "password": "ivy's long password 7"}),
        )
        .await;
    walk.answered("acceptInvitation", before, &accepted).await;
    let before = walk.head().await;
    let confirmed = ivy
        .post(
            "/api/v1/session/reauthenticate",
            json!({"password": "ivy's long password 7"}),
        )
        .await;
    walk.answered("reauthenticate", before, &confirmed).await;
    let at = early_in_step().await;
    let before = walk.head().await;
    let started = ivy.post("/api/v1/mfa/totp", json!({})).await;
    walk.answered("startTotp", before, &started).await;
    let secret = started.body["secret"].as_str().unwrap().to_string();
    let before = walk.head().await;
    let enrolled = ivy
        .post("/api/v1/mfa/totp/confirm", json!({"code": oathtool(&secret, at - 30)}))
        .await;
    walk.answered("confirmTotp", before, &enrolled).await;
    let set = enrolled.body["backup_codes"]["set"].as_str().unwrap().to_string();
    let before = walk.head().await;
    let acknowledged = ivy
        .post("/api/v1/mfa/backup-codes/acknowledge", json!({"set": set}))
        .await;
    walk.answered("acknowledgeBackupCodes", before, &acknowledged).await;
    let mut ivy_phone = WebClient::new(server);
    ivy_phone.sign_in("ivy@acme.test", "ivy's long password 7").await;
    let before = walk.head().await;
    let verified = ivy_phone
        .post("/api/v1/mfa/verify", json!({"code": oathtool(&secret, at)}))
        .await;
    walk.answered("verifySecondFactor", before, &verified).await;
    let before = walk.head().await;
    let renewed = ivy_phone.post("/api/v1/mfa/backup-codes", json!({})).await;
    walk.answered("regenerateBackupCodes", before, &renewed).await;
    let before = walk.head().await;
    let removed = ivy_phone.delete("/api/v1/mfa/totp").await;
    walk.answered("removeTotp", before, &removed).await;

    // Passkeys: registered, renamed, signed in with, verified, removed.
    let mut laptop = WebClient::new(server);
    laptop.sign_in(SAM, "sam's newer password 8").await;
    let mut key = SoftPasskey::new(true);
    let before = walk.head().await;
    let registered = register(&mut laptop, &mut key, "Laptop").await;
    walk.appended("finishPasskeyRegistration", before, 201, &registered)
        .await;
    let credential = registered["credential"].as_str().unwrap().to_string();
    let before = walk.head().await;
    let renamed = laptop
        .patch(&format!("/api/v1/mfa/passkeys/{credential}"), json!({"name": "Work"}))
        .await;
    walk.answered("renamePasskey", before, &renamed).await;
    let mut tablet = WebClient::new(server);
    // (The ceremony's start appends nothing; its finish does.)
    let before = walk.head().await;
    let signed_in = passkey_sign_in(&mut tablet, &mut key, SAM).await;
    walk.answered("finishPasskeySignIn", before, &signed_in).await;
    let mut phone = WebClient::new(server);
    phone.sign_in(SAM, "sam's newer password 8").await;
    let (ceremony, answer) = assertion(&mut phone, &mut key, "/api/v1/mfa/passkeys/verify/start", json!({})).await;
    let before = walk.head().await;
    let second = phone
        .post(
            "/api/v1/mfa/passkeys/verify/finish",
            json!({"ceremony": ceremony, "credential": answer}),
        )
        .await;
    walk.answered("finishPasskeyVerification", before, &second).await;
    let before = walk.head().await;
    let removed = phone.delete(&format!("/api/v1/mfa/passkeys/{credential}")).await;
    walk.answered("removePasskey", before, &removed).await;
    let before = walk.head().await;
    let signed_out = phone.post("/api/v1/sign-out", json!({})).await;
    walk.answered("signOut", before, &signed_out).await;

    // Every state-changing operation was walked, or changes nothing.
    let mut walked: BTreeSet<String> = walk.covered.iter().map(|name| name.to_string()).collect();
    walked.extend(CHANGE_NOTHING.iter().map(|name| name.to_string()));
    let operations = state_changing_operations();
    let missing: Vec<_> = operations.difference(&walked).collect();
    assert!(
        missing.is_empty(),
        "state-changing operations this walk does not cover: {missing:?}"
    );
    let unknown: Vec<_> = walked.difference(&operations).collect();
    assert!(
        unknown.is_empty(),
        "walked operations the API no longer has: {unknown:?}"
    );
}

/// Every page route with a form: each `.route("/path", …post(…)…)` of
/// routes.rs outside `/api/` (read as openapi.rs's test reads it).
fn page_forms() -> BTreeSet<String> {
    // One line per route whatever rustfmt did: whitespace collapsed.
    let source = include_str!("../../api/src/routes.rs")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace(".route( \"", ".route(\"");
    source
        .split(".route(\"")
        .skip(1)
        .filter_map(|rest| {
            let (path, handlers) = rest.split_once("\", ").unwrap();
            let handlers = handlers.split(".fallback(").next().unwrap();
            let posts = handlers.starts_with("post(") || handlers.contains(".post(");
            (posts && !path.starts_with("/api/")).then(|| path.to_string())
        })
        .collect()
}

/// The text of `html` between `start` and the next `end`.
fn between<'a>(html: &'a str, start: &str, end: &str) -> &'a str {
    let rest = html
        .split_once(start)
        .unwrap_or_else(|| panic!("no {start} in {html}"))
        .1;
    rest.split(end).next().unwrap()
}

/// The CSRF token of a page session, from its forms.
async fn csrf(forms: &Forms, cookie: &str) -> String {
    let html = forms
        .get("/settings/sessions", Some(cookie))
        .await
        .text()
        .await
        .unwrap();
    field(&html, "csrf_token")
}

/// The checkboxes of a page's form that a browser sends as they are.
fn checked(html: &str) -> Vec<(String, String)> {
    html.split("<input type=\"checkbox\" ")
        .skip(1)
        .map(|rest| rest.split('>').next().unwrap())
        .filter(|tag| tag.trim_end().ends_with("checked"))
        .map(|tag| {
            let value = tag.contains("value=\"").then(|| between(tag, "value=\"", "\""));
            (
                between(tag, "name=\"", "\"").to_string(),
                value.unwrap_or("on").to_string(),
            )
        })
        .collect()
}

/// Signs in from the page; the session cookie.
async fn page_sign_in(forms: &Forms, email: &str, password: &str) -> String {
    let signed_in = forms
        .post("/sign-in", None, &[("email", email), ("password", password)])
        .await;
    assert_eq!(signed_in.status(), 303);
    page_cookie(&signed_in).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_form_appends_an_event() {
    const SAM: &str = "sam@acme.test";
    const IVY: &str = "ivy@acme.test";
    let instance = instance(&[]).await;
    let mut walk = Walk::open(&instance).await;
    let server = &instance.server;
    let forms = Forms::new(server);

    // Setup, then users and the policy from the admin pages.
    let link = server.setup_link().unwrap();
    let setup = [
        ("token", link.split("token=").nth(1).unwrap()),
        ("org_name", "Acme"),
        ("org_slug", "acme"),
        ("display_name", "Olive Owner"),
        ("email", "owner@acme.test"),
        ("password", OWNER_PASSWORD),
    ];
    let before = walk.head().await;
    let set_up = forms.post("/setup", None, &setup).await;
    walk.posted("/setup", before, &set_up).await;
    let owner = page_cookie(&set_up).unwrap();
    let owner_csrf = csrf(&forms, &owner).await;
    let add_sam = [
        ("csrf_token", owner_csrf.as_str()),
        ("email", SAM),
        ("display_name", "Sam"),
        ("role", "member"),
        ("password", "sam's long password 7"),
    ];
    let before = walk.head().await;
    let created = forms.post("/admin/users", Some(&owner), &add_sam).await;
    walk.posted("/admin/users", before, &created).await;
    let html = created.text().await.unwrap();
    let sam_id = between(
        between(&html, "<td>sam@acme.test</td>", "</tr>"),
        "action=\"/admin/users/",
        "\"",
    )
    .to_string();
    let invite_ivy = [
        ("csrf_token", owner_csrf.as_str()),
        ("email", IVY),
        ("display_name", "Ivy"),
        ("role", "member"),
    ];
    let invited = forms.post("/admin/users", Some(&owner), &invite_ivy).await;
    assert_eq!(invited.status(), 201);
    let invitation = between(&invited.text().await.unwrap(), "/invitation?token=", "<").to_string();
    let role = [("csrf_token", owner_csrf.as_str()), ("role", "admin")];
    let before = walk.head().await;
    let changed = forms.post(&format!("/admin/users/{sam_id}"), Some(&owner), &role).await;
    walk.posted("/admin/users/{id}", before, &changed).await;
    // The policy form as shown, with another grace period.
    let html = forms.get("/admin/mfa-policy", Some(&owner)).await.text().await.unwrap();
    let boxes = checked(&html);
    let mut policy: Vec<(&str, &str)> = boxes
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_str()))
        .collect();
    policy.extend([("csrf_token", owner_csrf.as_str()), ("grace_days", "3")]);
    let before = walk.head().await;
    let changed = forms.post("/admin/mfa-policy", Some(&owner), &policy).await;
    walk.posted("/admin/mfa-policy", before, &changed).await;

    // The invitation accepted.
    let accept = [("token", invitation.as_str()), ("password", "ivy's long password 7")];
    let before = walk.head().await;
    let accepted = forms.post("/invitation", None, &accept).await;
    walk.posted("/invitation", before, &accepted).await;
    let ivy = page_cookie(&accepted).unwrap();

    // Sign-in, sessions, password, "confirm it's you".
    let sign_in = [("email", SAM), ("password", "sam's long password 7")];
    let before = walk.head().await;
    let signed_in = forms.post("/sign-in", None, &sign_in).await;
    walk.posted("/sign-in", before, &signed_in).await;
    let mut sam = page_cookie(&signed_in).unwrap();
    page_sign_in(&forms, SAM, "sam's long password 7").await;
    let html = forms.get("/settings/sessions", Some(&sam)).await.text().await.unwrap();
    let (token, other) = (
        field(&html, "csrf_token"),
        between(&html, "action=\"/settings/sessions/", "/revoke\""),
    );
    let before = walk.head().await;
    let revoked = forms
        .post(
            &format!("/settings/sessions/{other}/revoke"),
            Some(&sam),
            &[("csrf_token", &token)],
        )
        .await;
    walk.posted("/settings/sessions/{id}/revoke", before, &revoked).await;
    page_sign_in(&forms, SAM, "sam's long password 7").await;
    let before = walk.head().await;
    let revoked = forms
        .post(
            "/settings/sessions/revoke-others",
            Some(&sam),
            &[("csrf_token", &token)],
        )
        .await;
    walk.posted("/settings/sessions/revoke-others", before, &revoked).await;
    let password = [
        ("csrf_token", token.as_str()),
        ("current_password", "sam's long password 7"),
        ("new_password", "sam's newer password 8"),
    ];
    let before = walk.head().await;
    let changed = forms.post("/settings/password", Some(&sam), &password).await;
    walk.posted("/settings/password", before, &changed).await;
    sam = page_cookie(&changed).unwrap();
    let token = csrf(&forms, &sam).await;
    let confirm = [
        ("csrf_token", token.as_str()),
        ("password", "sam's newer password 8"),
        ("next", "/settings/mfa"),
    ];
    let before = walk.head().await;
    let confirmed = forms.post("/settings/reauthenticate", Some(&sam), &confirm).await;
    walk.posted("/settings/reauthenticate", before, &confirmed).await;
    sam = page_cookie(&confirmed).unwrap();

    // An authenticator set up, asked for at sign-in, renewed, removed.
    let token = csrf(&forms, &sam).await;
    let at = early_in_step().await;
    let before = walk.head().await;
    let started = forms
        .post("/settings/mfa/totp", Some(&sam), &[("csrf_token", &token)])
        .await;
    walk.posted("/settings/mfa/totp", before, &started).await;
    let html = forms.get("/settings/mfa", Some(&sam)).await.text().await.unwrap();
    let secret = between(&html, "id=\"totp-secret\">", "<").to_string();
    let first = oathtool(&secret, at - 30);
    let code = [("csrf_token", token.as_str()), ("code", &first)];
    let before = walk.head().await;
    let enrolled = forms.post("/settings/mfa/totp/confirm", Some(&sam), &code).await;
    walk.posted("/settings/mfa/totp/confirm", before, &enrolled).await;
    let set = field(&enrolled.text().await.unwrap(), "set");
    let before = walk.head().await;
    let saved = forms
        .post(
            "/settings/mfa/backup-codes/acknowledge",
            Some(&sam),
            &[("csrf_token", &token), ("set", &set)],
        )
        .await;
    walk.posted("/settings/mfa/backup-codes/acknowledge", before, &saved)
        .await;
    let partial = page_sign_in(&forms, SAM, "sam's newer password 8").await;
    let html = forms.get("/sign-in/mfa", Some(&partial)).await.text().await.unwrap();
    let (token, next) = (field(&html, "csrf_token"), oathtool(&secret, at));
    let code = [("csrf_token", token.as_str()), ("code", &next)];
    let before = walk.head().await;
    let verified = forms.post("/sign-in/mfa", Some(&partial), &code).await;
    walk.posted("/sign-in/mfa", before, &verified).await;
    sam = page_cookie(&verified).unwrap();
    let token = csrf(&forms, &sam).await;
    let before = walk.head().await;
    let renewed = forms
        .post("/settings/mfa/backup-codes", Some(&sam), &[("csrf_token", &token)])
        .await;
    walk.posted("/settings/mfa/backup-codes", before, &renewed).await;
    let before = walk.head().await;
    let removed = forms
        .post("/settings/mfa/totp/remove", Some(&sam), &[("csrf_token", &token)])
        .await;
    walk.posted("/settings/mfa/totp/remove", before, &removed).await;

    // A passkey (registered and verified through the API: the page does
    // it by script) renamed and removed from the page.
    let mut laptop = WebClient::new(server);
    laptop.sign_in(IVY, "ivy's long password 7").await;
    let mut key = SoftPasskey::new(true);
    let registered = register(&mut laptop, &mut key, "Laptop").await;
    let credential = registered["credential"].as_str().unwrap();
    let cookie = laptop.cookie.clone().unwrap();
    let token = csrf(&forms, &cookie).await;
    let rename = [("csrf_token", token.as_str()), ("name", "Work")];
    let before = walk.head().await;
    let renamed = forms
        .post(
            &format!("/settings/mfa/passkeys/{credential}/rename"),
            Some(&cookie),
            &rename,
        )
        .await;
    walk.posted("/settings/mfa/passkeys/{credential}/rename", before, &renamed)
        .await;
    let (ceremony, answer) = assertion(&mut laptop, &mut key, "/api/v1/mfa/passkeys/verify/start", json!({})).await;
    let verified = laptop
        .post(
            "/api/v1/mfa/passkeys/verify/finish",
            json!({"ceremony": ceremony, "credential": answer}),
        )
        .await;
    assert_eq!(verified.status, 200, "{:?}", verified.body);
    let cookie = laptop.cookie.clone().unwrap();
    let token = csrf(&forms, &cookie).await;
    let before = walk.head().await;
    let removed = forms
        .post(
            &format!("/settings/mfa/passkeys/{credential}/remove"),
            Some(&cookie),
            &[("csrf_token", &token)],
        )
        .await;
    walk.posted("/settings/mfa/passkeys/{credential}/remove", before, &removed)
        .await;

    // Signed out; signed out everywhere by the owner.
    let token = csrf(&forms, &ivy).await;
    let before = walk.head().await;
    let signed_out = forms.post("/sign-out", Some(&ivy), &[("csrf_token", &token)]).await;
    walk.posted("/sign-out", before, &signed_out).await;
    let before = walk.head().await;
    let revoked = forms
        .post(
            &format!("/admin/users/{sam_id}/revoke-sessions"),
            Some(&owner),
            &[("csrf_token", &owner_csrf)],
        )
        .await;
    walk.posted("/admin/users/{id}/revoke-sessions", before, &revoked).await;

    // Every page form was walked.
    let walked: BTreeSet<String> = walk.covered.iter().map(|route| route.to_string()).collect();
    let routes = page_forms();
    assert!(routes.len() >= 20, "{routes:?}");
    let missing: Vec<_> = routes.difference(&walked).collect();
    assert!(missing.is_empty(), "page forms this walk does not cover: {missing:?}");
    let unknown: Vec<_> = walked.difference(&routes).collect();
    assert!(
        unknown.is_empty(),
        "walked page forms the server no longer routes: {unknown:?}"
    );
}
