//! The vault's console attacked over HTTP: the role matrix, another org's
//! secrets, escaping, and never a value on any page (the changes' CSRF,
//! step-up, stale forms and hostile input are `vault_forms.rs`'s).

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
