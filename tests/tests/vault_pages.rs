//! The vault's console attacked over HTTP: the role matrix, another org's
//! secrets, CSRF, a stale session on every change, a form sent twice or
//! after someone else's change, hostile input, and never a value on any
//! page, a refused form's answer included.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use warden_tests::audit::{page_signed_in, signed_in, two_orgs};
use warden_tests::vault::{VALUE, VALUE_2, read, script, service_key, value_of};
use warden_tests::web::{Forms, assert_refused, events, field, location};

const NAME: &str = "billing.db-password";

/// The secret's page, once its access history shows `expected` (the
/// audit index follows the log within about a second).
async fn page_showing(forms: &Forms, cookie: &str, expected: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (status, page) = forms.html(&format!("/secrets/{NAME}"), cookie).await;
        assert_eq!(status, 200);
        if page.contains(expected) || Instant::now() > deadline {
            return page;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn escaped(page: &str, text: &str) -> bool {
    page.contains(&text.replace('<', "&#60;").replace('>', "&#62;"))
        || page.contains(&text.replace('<', "&lt;").replace('>', "&gt;"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owners_and_admins_act_auditors_read_members_and_other_orgs_see_nothing() {
    let instance = two_orgs(&[]).await;
    let server = &instance.server;
    let mut api = signed_in(server, "owner@acme.test").await;
    let (key_id, key) = service_key(&mut api, "billing", &["secrets:read"]).await;

    // Added from the form, readable by owners, admins and the billing key.
    let forms = Forms::new(server);
    let owner = page_signed_in(&forms, "owner@acme.test").await;
    let (_, page) = forms.html("/secrets", &owner).await;
    assert!(page.contains("No secrets yet."));
    assert!(
        page.contains("billing (service key)"),
        "the service key is offered: {page}"
    );
    let csrf = field(&page, "csrf_token");
    let added = forms
        .post(
            "/secrets",
            Some(&owner),
            &[
                ("csrf_token", &csrf),
                ("name", NAME),
                ("description", "the <b>billing</b> database"),
                ("value", VALUE),
                ("reader_role", "owner"),
                ("reader_role", "admin"),
                ("reader_key", &key_id),
            ],
        )
        .await;
    assert_eq!(added.status(), 303);
    assert_eq!(location(&added), format!("/secrets/{NAME}?notice=secret_created"));

    // Read by the key and the admin; a member refused.
    let mut service = script(server, &key);
    assert_eq!(value_of(&read(&mut service, NAME, "reason=service+start").await), VALUE);
    let mut admin_api = signed_in(server, "admin@acme.test").await;
    assert_eq!(value_of(&read(&mut admin_api, NAME, "reason=INC-4411").await), VALUE);
    let mut member_api = signed_in(server, "member@acme.test").await;
    assert_refused(
        &read(&mut member_api, NAME, "reason=curious").await,
        403,
        "not_a_reader",
    );

    // The owner's list and page: names, versions, readers, the last
    // access, the history with its reasons and refusals; never the value.
    let (status, list) = forms.html("/secrets", &owner).await;
    assert_eq!(status, 200);
    assert!(list.contains(&format!("href=\"/secrets/{NAME}\"")), "{list}");
    assert!(escaped(&list, "the <b>billing</b> database"), "escaped: {list}");
    assert!(list.contains("owners, admins, <a href=\"/keys/"), "{list}");
    assert!(list.contains("1 (the only version)"), "{list}");
    assert!(
        list.contains("by admin@acme.test (version 1)"),
        "the last access: {list}"
    );
    let page = page_showing(&forms, &owner, "refused: not a reader").await;
    for expected in [
        "service start",
        "INC-4411",
        "refused: not a reader",
        "member@acme.test",
        "key “billing”",
        "Replace the value",
        "shred-link",
    ] {
        assert!(page.contains(expected), "{expected}: {page}");
    }
    for page in [&list, &page] {
        assert!(!page.contains(VALUE), "a value is never shown");
    }
    // Reading the history is reading the audit trail: recorded.
    let log = events(&instance);
    assert!(
        log.iter().any(|event| event["kind"] == "audit.searched"
            && event["data"]["filters"]["subject"]
                .as_str()
                .is_some_and(|subject| subject.starts_with("vault_access:") && subject.ends_with(&format!("/{NAME}")))),
        "the history view is an audit search"
    );

    // Admins act, without the trail; auditors read the trail, act on nothing.
    let admin = page_signed_in(&forms, "admin@acme.test").await;
    let (status, page) = forms.html(&format!("/secrets/{NAME}"), &admin).await;
    assert_eq!(status, 200);
    assert!(page.contains("Replace the value") && !page.contains("id=\"secret-history\""));
    assert!(page.contains("Owners and auditors see every access"), "{page}");
    let auditor = page_signed_in(&forms, "auditor@acme.test").await;
    let (status, page) = forms.html(&format!("/secrets/{NAME}"), &auditor).await;
    assert_eq!(status, 200);
    assert!(page.contains("id=\"secret-history\"") && page.contains("INC-4411"));
    assert!(!page.contains("Replace the value") && !page.contains("shred-link"));
    let (_, list) = forms.html("/secrets", &auditor).await;
    assert!(!list.contains("Add the secret"));
    let csrf = field(&list, "csrf_token");
    let version = "1".to_string();
    for (path, form) in [
        ("/secrets".to_string(), vec![("name", "mine"), ("value", "x")]),
        (format!("/secrets/{NAME}/value"), vec![("value", VALUE_2)]),
        (format!("/secrets/{NAME}/rollback"), vec![("version", "1")]),
        (format!("/secrets/{NAME}/readers"), vec![("reader_role", "auditor")]),
        (format!("/secrets/{NAME}/shred"), vec![("reason", "mine now")]),
    ] {
        let mut form = form;
        form.extend([("csrf_token", csrf.as_str()), ("subject_version", version.as_str())]);
        let refused = forms.post(&path, Some(&auditor), &form).await;
        assert_eq!(refused.status(), 403, "{path}");
    }
    assert_eq!(
        forms
            .get(&format!("/secrets/{NAME}/shred"), Some(&auditor))
            .await
            .status(),
        403
    );

    let member = page_signed_in(&forms, "member@acme.test").await;
    assert_eq!(forms.get("/secrets", Some(&member)).await.status(), 403);
    assert_eq!(
        forms.get(&format!("/secrets/{NAME}"), Some(&member)).await.status(),
        403
    );

    // Another org's owner: the secret does not exist for them, and their
    // own secret of the same name is another secret.
    let stranger = page_signed_in(&forms, "owner@globex.test").await;
    let (status, page) = forms.html(&format!("/secrets/{NAME}"), &stranger).await;
    assert_eq!(status, 404);
    assert!(!page.contains("billing"));
    let (_, list) = forms.html("/secrets", &stranger).await;
    assert!(!list.contains(NAME) && !list.contains("billing (service key)"));
    let csrf = field(&list, "csrf_token");
    for (action, form) in [
        ("value", vec![("value", "stolen")]),
        ("rollback", vec![("version", "1")]),
        ("readers", vec![("reader_role", "member")]),
        ("shred", vec![("reason", "gone")]),
    ] {
        let mut form = form;
        form.extend([("csrf_token", csrf.as_str()), ("subject_version", version.as_str())]);
        let refused = forms
            .post(&format!("/secrets/{NAME}/{action}"), Some(&stranger), &form)
            .await;
        assert_eq!(refused.status(), 404, "{action}");
    }
    assert_eq!(
        forms
            .get(&format!("/secrets/{NAME}/shred"), Some(&stranger))
            .await
            .status(),
        404
    );
    // Nor can they name acme's key as a reader of their own secret.
    let refused = forms
        .post(
            "/secrets",
            Some(&stranger),
            &[
                ("csrf_token", &csrf),
                ("name", NAME),
                ("value", "globex's own"),
                ("reader_key", &key_id),
            ],
        )
        .await;
    assert_eq!(refused.status(), 422);
    assert_eq!(
        value_of(&read(&mut service, NAME, "reason=after+the+attacks").await),
        VALUE
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_need_their_token_a_recent_sign_in_and_the_version_they_were_shown_at() {
    let instance = two_orgs(&[("WARDEN_STEP_UP_MAX_AGE_SECONDS", "3")]).await;
    let server = &instance.server;
    let forms = Forms::new(server);
    let mut owner_api = signed_in(server, "owner@acme.test").await;
    let mut owner = page_signed_in(&forms, "owner@acme.test").await;
    let (_, page) = forms.html("/secrets", &owner).await;
    let csrf = field(&page, "csrf_token");

    // Hostile input is refused with its reason, on the page, which keeps
    // what was typed except the value.
    for (name, value, reason) in [
        ("name", "../etc/passwd", "name:"),
        ("name", "Billing DB", "name:"),
        ("reader_role", "root", "readers:"),
        ("reader_key", "wk_not_a_key", "readers:"),
        ("value", "", "value:"),
    ] {
        let mut form = vec![
            ("csrf_token", csrf.as_str()),
            ("name", NAME),
            ("description", "kept <i>as typed</i>"),
            ("value", VALUE),
        ];
        form.retain(|(field, _)| *field != name);
        form.push((name, value));
        let refused = forms.post("/secrets", Some(&owner), &form).await;
        assert_eq!(refused.status().as_u16() / 100, 4, "{name}={value}");
        let page = refused.text().await.unwrap();
        assert!(page.contains(reason), "{name}: {page}");
        assert!(escaped(&page, "kept <i>as typed</i>"), "the form is kept: {page}");
        assert!(!page.contains(VALUE), "never the value");
    }

    // Without the session's token: refused, nothing done.
    let refused = forms
        .post("/secrets", Some(&owner), &[("name", NAME), ("value", VALUE)])
        .await;
    assert_eq!(refused.status(), 403);
    assert!(!events(&instance).iter().any(|event| event["kind"] == "secret.created"));

    let added = forms
        .post(
            "/secrets",
            Some(&owner),
            &[
                ("csrf_token", &csrf),
                ("name", NAME),
                ("value", VALUE),
                ("reader_role", "owner"),
            ],
        )
        .await;
    assert_eq!(added.status(), 303);
    // Sent twice (a reload): refused, the first one stands.
    let again = forms
        .post(
            "/secrets",
            Some(&owner),
            &[
                ("csrf_token", &csrf),
                ("name", NAME),
                ("value", VALUE_2),
                ("reader_role", "owner"),
            ],
        )
        .await;
    assert_eq!(again.status(), 409);
    assert_eq!(value_of(&read(&mut owner_api, NAME, "reason=check").await), VALUE);

    // Rotated from the page; the same form again changes nothing.
    let (_, page) = forms.html(&format!("/secrets/{NAME}"), &owner).await;
    let shown = field(&page, "subject_version");
    let rotate = [
        ("csrf_token", csrf.as_str()),
        ("subject_version", &shown),
        ("value", VALUE_2),
    ];
    let rotated = forms
        .post(&format!("/secrets/{NAME}/value"), Some(&owner), &rotate)
        .await;
    assert_eq!(rotated.status(), 303);
    assert_eq!(location(&rotated), format!("/secrets/{NAME}?notice=secret_rotated"));
    let again = forms
        .post(&format!("/secrets/{NAME}/value"), Some(&owner), &rotate)
        .await;
    assert_eq!(again.status(), 409);
    let page = again.text().await.unwrap();
    assert!(page.contains("changed since this page was shown"), "{page}");
    assert!(!page.contains(VALUE_2));
    let read_2 = read(&mut owner_api, NAME, "reason=check").await;
    assert_eq!(value_of(&read_2), VALUE_2);
    assert_eq!(read_2.body["version"], 2, "not a third version");

    // Rolled back, then the readers changed: a member reads.
    let (_, page) = forms.html(&format!("/secrets/{NAME}"), &owner).await;
    assert!(page.contains("Make version 1 current again"), "{page}");
    let shown = field(&page, "subject_version");
    let rolled = forms
        .post(
            &format!("/secrets/{NAME}/rollback"),
            Some(&owner),
            &[("csrf_token", &csrf), ("subject_version", &shown), ("version", "1")],
        )
        .await;
    assert_eq!(rolled.status(), 303);
    assert_eq!(value_of(&read(&mut owner_api, NAME, "reason=check").await), VALUE);
    let (_, page) = forms.html(&format!("/secrets/{NAME}"), &owner).await;
    let shown = field(&page, "subject_version");
    let readers = forms
        .post(
            &format!("/secrets/{NAME}/readers"),
            Some(&owner),
            &[
                ("csrf_token", &csrf),
                ("subject_version", &shown),
                ("reader_role", "owner"),
                ("reader_role", "member"),
            ],
        )
        .await;
    assert_eq!(readers.status(), 303);
    let mut member = signed_in(server, "member@acme.test").await;
    assert_eq!(value_of(&read(&mut member, NAME, "reason=deploy").await), VALUE);

    // A form shown before someone else's change: refused, nothing changed.
    let (_, page) = forms.html(&format!("/secrets/{NAME}"), &owner).await;
    let shown = field(&page, "subject_version");
    let mut admin = signed_in(server, "admin@acme.test").await;
    let changed = admin
        .put(
            &format!("/api/v1/secrets/{NAME}/readers"),
            serde_json::json!({ "roles": ["owner", "admin", "member"] }),
        )
        .await;
    assert_eq!(changed.status, 200, "{:?}", changed.body);
    for (action, form) in [
        ("value", vec![("value", "overwrites")]),
        ("rollback", vec![("version", "2")]),
        ("readers", vec![("reader_role", "owner")]),
        ("shred", vec![("reason", "outdated page")]),
    ] {
        let mut form = form;
        form.extend([("csrf_token", csrf.as_str()), ("subject_version", shown.as_str())]);
        let refused = forms
            .post(&format!("/secrets/{NAME}/{action}"), Some(&owner), &form)
            .await;
        assert_eq!(refused.status(), 409, "{action}");
        assert!(
            refused
                .text()
                .await
                .unwrap()
                .contains("changed since this page was shown")
        );
    }
    let read_1 = read(&mut member, NAME, "reason=deploy").await;
    assert_eq!((value_of(&read_1), read_1.body["version"].as_u64()), (VALUE, Some(1)));

    // Without the token, or stale: refused, nothing changed.
    let (_, page) = forms.html(&format!("/secrets/{NAME}"), &owner).await;
    let shown = field(&page, "subject_version");
    let refused = forms
        .post(
            &format!("/secrets/{NAME}/value"),
            Some(&owner),
            &[("subject_version", &shown), ("value", "no token")],
        )
        .await;
    assert_eq!(refused.status(), 403);
    tokio::time::sleep(Duration::from_millis(3500)).await;
    for (action, form) in [
        ("value", vec![("value", "stale")]),
        ("rollback", vec![("version", "2")]),
        ("readers", vec![("reader_role", "owner")]),
        ("shred", vec![("reason", "stale session")]),
    ] {
        let mut form = form;
        form.extend([("csrf_token", csrf.as_str()), ("subject_version", shown.as_str())]);
        let stale = forms
            .post(&format!("/secrets/{NAME}/{action}"), Some(&owner), &form)
            .await;
        assert_eq!(stale.status(), 303, "{action}");
        assert!(
            location(&stale).starts_with(&format!("/settings/reauthenticate?next=%2Fsecrets%2F{NAME}&")),
            "{action}: {}",
            location(&stale)
        );
    }
    let stale = forms
        .post(
            "/secrets",
            Some(&owner),
            &[("csrf_token", &csrf), ("name", "other"), ("value", "x")],
        )
        .await;
    assert!(location(&stale).starts_with("/settings/reauthenticate?next=/secrets&"));
    assert_eq!(value_of(&read(&mut member, NAME, "reason=deploy").await), VALUE);

    // Shredded after its confirmation page: unreadable, the forms gone.
    owner = page_signed_in(&forms, "owner@acme.test").await;
    let (status, confirm) = forms.html(&format!("/secrets/{NAME}/shred"), &owner).await;
    assert_eq!(status, 200);
    assert!(confirm.contains("none of its 2 versions"), "{confirm}");
    let csrf = field(&confirm, "csrf_token");
    let shown = field(&confirm, "subject_version");
    let shredded = forms
        .post(
            &format!("/secrets/{NAME}/shred"),
            Some(&owner),
            &[
                ("csrf_token", &csrf),
                ("subject_version", &shown),
                ("reason", "INC-9 leaked"),
            ],
        )
        .await;
    assert_eq!(shredded.status(), 303);
    assert_refused(&read(&mut member, NAME, "reason=deploy").await, 410, "secret_shredded");
    let (_, page) = forms.html(&format!("/secrets/{NAME}"), &owner).await;
    assert!(page.contains("id=\"secret-shredded\""));
    assert!(!page.contains("Replace the value") && !page.contains("Make version"));
    let (_, list) = forms.html("/secrets", &owner).await;
    assert!(list.contains("shredded"));
    for page in [&page, &list] {
        assert!(!page.contains(VALUE) && !page.contains(VALUE_2));
    }

    // Added again: a new life, numbered on, without the shredded versions.
    let (_, page) = forms.html("/secrets", &owner).await;
    let csrf = field(&page, "csrf_token");
    let again = forms
        .post(
            "/secrets",
            Some(&owner),
            &[
                ("csrf_token", &csrf),
                ("name", NAME),
                ("value", "a third value"),
                ("reader_role", "owner"),
            ],
        )
        .await;
    assert_eq!(again.status(), 303);
    let (_, page) = forms.html(&format!("/secrets/{NAME}"), &owner).await;
    assert_eq!(between(&page, "id=\"secret-current\">", "<"), "3");
    assert!(
        !page.contains("Make version"),
        "no way back to a shredded version: {page}"
    );
    let mut owner_api = signed_in(server, "owner@acme.test").await;
    assert_refused(
        &read(&mut owner_api, NAME, "reason=old&version=1").await,
        410,
        "secret_shredded",
    );
    let refused = owner_api
        .post(
            &format!("/api/v1/secrets/{NAME}/rollback"),
            serde_json::json!({ "version": 2 }),
        )
        .await;
    assert_refused(&refused, 422, "unprocessable");
    assert_eq!(
        value_of(&read(&mut owner_api, NAME, "reason=new").await),
        "a third value"
    );
}

/// The text of `html` between `start` and the next `end`.
fn between<'a>(html: &'a str, start: &str, end: &str) -> &'a str {
    html.split_once(start)
        .unwrap_or_else(|| panic!("no {start}"))
        .1
        .split(end)
        .next()
        .unwrap()
}
