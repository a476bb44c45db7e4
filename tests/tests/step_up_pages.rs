//! "Confirm it's you" on the pages, against a real `warden serve`
//! (embedded profile): the action that asked for it is kept and finished
//! with one click, a secret typed into it never comes back in clear, a
//! kept action works only for its own session and action, and a link
//! (an export) runs again exactly as it was.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use warden_tests::vault::{read, value_of};
use warden_tests::web::{
    Forms, Instance, OWNER_PASSWORD, confirm_page, create_user, events, field, instance, location, page_cookie, set_up,
};

const SAM: &str = "sam@acme.test";
const SAM_PASSWORD: &str = "sam's long password 7";

/// Sam's role, as the log last set it.
fn role_of(instance: &Instance, id: &str) -> String {
    let subject = format!("user:{id}");
    events(instance)
        .iter()
        .rev()
        .filter(|event| event["subject"] == subject.as_str())
        .filter_map(|event| match event["kind"].as_str() {
            Some("user.created") => event["data"]["role"].as_str().map(str::to_string),
            Some("user.role_changed") => event["data"]["new"].as_str().map(str::to_string),
            _ => None,
        })
        .next()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_form_refused_for_a_stale_session_is_finished_with_one_click_after_confirming() {
    let instance = instance(&[("WARDEN_STEP_UP_MAX_AGE_SECONDS", "2")]).await;
    let mut owner = set_up(&instance.server).await;
    let sam_id = create_user(&mut owner, SAM, "member", SAM_PASSWORD).await;
    let forms = Forms::new(&instance.server);
    let cookie = owner.cookie.clone().unwrap();
    let csrf = owner.csrf.clone().unwrap();
    tokio::time::sleep(Duration::from_millis(2500)).await;

    // The role change asks "Confirm it's you" and keeps the form.
    let action = format!("/admin/users/{sam_id}");
    let refused = forms
        .post(&action, Some(&cookie), &[("csrf_token", &csrf), ("role", "admin")])
        .await;
    let back = format!("/admin/users/{sam_id}");
    let pending = confirm_page(refused, &back).await;
    // Adding an admin from the list asks the same, and keeps that form too.
    let added = forms
        .post(
            "/admin/users",
            Some(&cookie),
            &[
                ("csrf_token", &csrf),
                ("email", "ada@acme.test"),
                ("display_name", "Ada"),
                ("role", "admin"),
            ],
        )
        .await;
    confirm_page(added, "/admin/users").await;
    assert_eq!(role_of(&instance, &sam_id), "member");

    // A wrong password keeps it too.
    let wrong = forms
        .post(
            "/settings/reauthenticate",
            Some(&cookie),
            &[
                ("csrf_token", &csrf),
                ("password", "not the password at all"),
                ("next", &back),
                ("pending", &pending),
            ],
        )
        .await;
    assert_eq!(wrong.status(), 403);
    assert_eq!(field(&wrong.text().await.unwrap(), "pending"), pending);

    // Confirmed: the finish page says what will be sent, and one click
    // sends it, with the session's new token.
    let confirmed = forms
        .post(
            "/settings/reauthenticate",
            Some(&cookie),
            &[
                ("csrf_token", &csrf),
                ("password", OWNER_PASSWORD),
                ("next", &back),
                ("pending", &pending),
            ],
        )
        .await;
    assert_eq!(confirmed.status(), 200);
    let cookie = page_cookie(&confirmed).unwrap_or(cookie);
    let html = confirmed.text().await.unwrap();
    assert!(html.contains(&format!("action=\"{action}\"")), "{html}");
    assert!(html.contains("<th scope=\"row\">role</th><td>admin</td>"), "{html}");
    let csrf = field(&html, "csrf_token");
    let finish = field(&html, "pending");
    let finished = forms
        .post(&action, Some(&cookie), &[("csrf_token", &csrf), ("pending", &finish)])
        .await;
    assert_eq!(location(&finished), format!("{back}?notice=user_changed"));
    assert_eq!(role_of(&instance, &sam_id), "admin");

    // A kept form is its session's, for its own action only.
    let sam = forms
        .post(
            "/sign-in",
            None,
            &[
                ("email", SAM),
                ("password", SAM_PASSWORD),
                ("next", "/settings/sessions"),
            ],
        )
        .await;
    let sam_cookie = page_cookie(&sam).unwrap();
    let (_, sam_page) = forms.html("/settings/sessions", &sam_cookie).await;
    let sam_csrf = field(&sam_page, "csrf_token");
    let stolen = forms
        .post(
            &action,
            Some(&sam_cookie),
            &[("csrf_token", &sam_csrf), ("pending", &finish)],
        )
        .await;
    assert_eq!(stolen.status(), 410);
    assert!(stolen.text().await.unwrap().contains("do it again"));
    let elsewhere = forms
        .post(
            "/admin/mfa-policy",
            Some(&cookie),
            &[("csrf_token", &csrf), ("pending", &finish)],
        )
        .await;
    assert_eq!(elsewhere.status(), 410);
    let forged = forms
        .post(
            &action,
            Some(&cookie),
            &[("csrf_token", &csrf), ("pending", "bm90IHNlYWxlZA")],
        )
        .await;
    assert_eq!(forged.status(), 410);
    // Without the session's token, nothing is opened at all.
    let no_token = forms.post(&action, Some(&cookie), &[("pending", &finish)]).await;
    assert_eq!(no_token.status(), 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_typed_into_a_kept_form_never_comes_back_in_clear() {
    const VALUE: &str = "s3cr3t-value-typed-once";
    let instance = instance(&[("WARDEN_STEP_UP_MAX_AGE_SECONDS", "2")]).await;
    let owner = set_up(&instance.server).await;
    let forms = Forms::new(&instance.server);
    let cookie = owner.cookie.clone().unwrap();
    let csrf = owner.csrf.clone().unwrap();
    tokio::time::sleep(Duration::from_millis(2500)).await;

    let refused = forms
        .post(
            "/secrets",
            Some(&cookie),
            &[
                ("csrf_token", &csrf),
                ("name", "billing.db"),
                ("description", "the billing database"),
                ("value", VALUE),
                ("reader_role", "owner"),
                ("reader_role", "admin"),
            ],
        )
        .await;
    let pending = confirm_page(refused, "/secrets").await;
    assert!(!pending.contains(VALUE));
    let confirmed = forms
        .post(
            "/settings/reauthenticate",
            Some(&cookie),
            &[
                ("csrf_token", &csrf),
                ("password", OWNER_PASSWORD),
                ("next", "/secrets"),
                ("pending", &pending),
            ],
        )
        .await;
    let cookie = page_cookie(&confirmed).unwrap_or(cookie);
    let html = confirmed.text().await.unwrap();
    assert!(!html.contains(VALUE), "{html}");
    assert!(
        html.contains("<th scope=\"row\">value</th><td>(kept, not shown)</td>"),
        "{html}"
    );
    assert!(html.contains("<td>billing.db</td>"), "{html}");
    let finished = forms
        .post(
            "/secrets",
            Some(&cookie),
            &[
                ("csrf_token", &field(&html, "csrf_token")),
                ("pending", &field(&html, "pending")),
            ],
        )
        .await;
    assert_eq!(finished.status(), 303, "{}", finished.text().await.unwrap());
    let mut owner = owner;
    owner.cookie = Some(cookie);
    let read = read(&mut owner, "billing.db", "reason=checking+the+kept+form").await;
    assert_eq!(value_of(&read), VALUE);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_link_runs_again_as_it_was_after_confirming() {
    let instance = instance(&[("WARDEN_STEP_UP_MAX_AGE_SECONDS", "2")]).await;
    let owner = set_up(&instance.server).await;
    let forms = Forms::new(&instance.server);
    let cookie = owner.cookie.clone().unwrap();
    let csrf = owner.csrf.clone().unwrap();
    tokio::time::sleep(Duration::from_millis(2500)).await;

    let link = "/audit/export?format=csv&kind=session.*";
    let asked = forms.get(link, Some(&cookie)).await;
    assert_eq!(
        location(&asked),
        "/settings/reauthenticate?next=%2Faudit%2Fexport%3Fformat%3Dcsv%26kind%3Dsession.%2A&notice=reauthenticate"
    );
    let (status, page) = forms
        .html(
            "/settings/reauthenticate?next=%2Faudit%2Fexport%3Fformat%3Dcsv%26kind%3Dsession.%2A",
            &cookie,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(field(&page, "next"), "/audit/export?format=csv&#38;kind=session.*");
    let confirmed = forms
        .post(
            "/settings/reauthenticate",
            Some(&cookie),
            &[("csrf_token", &csrf), ("password", OWNER_PASSWORD), ("next", link)],
        )
        .await;
    // Back to the link exactly: no notice added to the export's query.
    assert_eq!(location(&confirmed), link);
    let cookie = page_cookie(&confirmed).unwrap_or(cookie);
    let export = forms.get(link, Some(&cookie)).await;
    assert_eq!(export.status(), 200);
    let csv = export.text().await.unwrap();
    assert!(csv.starts_with("seq,"), "{csv}");
    assert!(csv.contains("session.created"), "{csv}");
}
