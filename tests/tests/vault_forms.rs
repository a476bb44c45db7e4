//! The vault console's changes attacked over HTTP (the role matrix and
//! other orgs are `vault_pages.rs`'s): CSRF, a stale session on every
//! change, a form sent twice or after someone else's change, hostile
//! input, shredding and creating again; never a value on any page.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use warden_tests::audit::{page_signed_in, signed_in, two_orgs};
use warden_tests::vault::{VALUE, VALUE_2, read, value_of};
use warden_tests::web::{Forms, assert_refused, confirm_page, events, field, location};

const NAME: &str = "billing.db-password";

fn escaped(page: &str, text: &str) -> bool {
    page.contains(&text.replace('<', "&#60;").replace('>', "&#62;"))
        || page.contains(&text.replace('<', "&lt;").replace('>', "&gt;"))
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
        confirm_page(stale, &format!("/secrets/{NAME}")).await;
    }
    let stale = forms
        .post(
            "/secrets",
            Some(&owner),
            &[("csrf_token", &csrf), ("name", "other"), ("value", "x")],
        )
        .await;
    let pending = confirm_page(stale, "/secrets").await;
    assert!(
        !pending.contains("stale") && pending.len() > 40,
        "the form is sealed: {pending}"
    );
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
