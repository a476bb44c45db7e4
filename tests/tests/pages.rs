//! The server-rendered pages over HTTP: redirects to sign-in, errors shown
//! on the page with the right status, the CSRF field, role checks, and the
//! headers that keep pages out of frames and caches.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use warden_tests::process::{NodeEnv, Server};
use warden_tests::web::{Forms, create_user, location, set_up};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_guard_render_errors_and_check_csrf() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&NodeEnv::in_dir(dir.path()), "pages").await;
    let mut owner = set_up(&server).await;
    create_user(&mut owner, "mo@acme.test", "member", "mo's long password 7").await;
    let forms = Forms::new(&server);

    // Not signed in: to the sign-in page, and back after.
    let redirected = forms.get("/settings/sessions", None).await;
    assert_eq!(redirected.status(), 303);
    assert_eq!(location(&redirected), "/sign-in?next=/settings/sessions");
    // Only local paths are followed after sign-in: another site's is
    // the home page.
    let page = forms.get("/sign-in?next=https://evil.example/", None).await;
    assert_eq!(page.status(), 200);
    assert_eq!(page.headers()["x-frame-options"], "DENY");
    assert!(
        page.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'")
    );
    assert_eq!(page.headers()["cache-control"], "no-store");
    let html = page.text().await.unwrap();
    assert!(html.contains(r#"name="next" value="/""#), "{html}");
    assert!(!html.contains("evil.example"));

    // A wrong password is shown on the page with the API's status.
    let wrong = forms
        .post(
            "/sign-in",
            None,
            &[
                ("email", "mo@acme.test"),
                ("password", "nope"),
                ("next", "/admin/users"),
            ],
        )
        .await;
    assert_eq!(wrong.status(), 401);
    assert!(
        wrong.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = wrong.text().await.unwrap();
    assert!(html.contains("the email or password is wrong"));
    assert!(html.contains(r#"value="mo@acme.test""#), "the email is kept");
    assert!(!html.contains("nope"), "the password is never echoed");

    let signed_in = forms
        .post(
            "/sign-in",
            None,
            &[
                ("email", "mo@acme.test"),
                ("password", "mo's long password 7"),
                ("next", "/settings/password"),
            ],
        )
        .await;
    assert_eq!(signed_in.status(), 303);
    assert_eq!(location(&signed_in), "/settings/password");
    let cookie = signed_in.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .strip_prefix("warden_session=")
        .unwrap()
        .to_string();

    // The sessions page carries the CSRF token in each form.
    let page = forms
        .get("/settings/sessions", Some(&cookie))
        .await
        .text()
        .await
        .unwrap();
    let token = page
        .split(r#"name="csrf_token" value=""#)
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let refused = forms.post("/settings/sessions/revoke-others", Some(&cookie), &[]).await;
    assert_eq!(refused.status(), 403);
    let wrong_token = forms
        .post(
            "/settings/sessions/revoke-others",
            Some(&cookie),
            &[("csrf_token", "x")],
        )
        .await;
    assert_eq!(wrong_token.status(), 403);
    let done = forms
        .post(
            "/settings/sessions/revoke-others",
            Some(&cookie),
            &[("csrf_token", &token)],
        )
        .await;
    assert_eq!(done.status(), 303);
    assert_eq!(location(&done), "/settings/sessions?notice=revoked_others");

    // Members do not see the users page.
    let forbidden = forms.get("/admin/users", Some(&cookie)).await;
    assert_eq!(forbidden.status(), 403);
    assert!(
        forbidden
            .text()
            .await
            .unwrap()
            .contains("only owners and admins manage users")
    );

    // The owner invites someone from the users page and sees the link once.
    let owner_cookie = owner.cookie.clone().unwrap();
    let owner_token = owner.csrf.clone().unwrap();
    let invited = forms
        .post(
            "/admin/users",
            Some(&owner_cookie),
            &[
                ("csrf_token", &owner_token),
                ("email", "new@acme.test"),
                ("display_name", "New"),
                ("role", "member"),
                ("password", ""),
            ],
        )
        .await;
    assert_eq!(invited.status(), 201);
    let html = invited.text().await.unwrap();
    assert!(html.contains("/invitation?token="), "{html}");
    assert!(html.contains("new@acme.test"));
    // A weak password is refused on the page with the API's status.
    let weak = forms
        .post(
            "/admin/users",
            Some(&owner_cookie),
            &[
                ("csrf_token", &owner_token),
                ("email", "weak@acme.test"),
                ("display_name", "Weak"),
                ("role", "member"),
                ("password", "password"),
            ],
        )
        .await;
    assert_eq!(weak.status(), 422);
    // The owner's session still works through the API.
    assert_eq!(owner.get("/api/v1/session").await.status, 200);
}
