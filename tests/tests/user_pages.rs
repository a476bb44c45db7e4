//! The users pages against a real `warden serve` (embedded profile): the
//! list searches and pages both ways, a user's page shows and acts (one
//! session signed out, disabling asked first), a refused form keeps what
//! was typed, and the role matrix, another org's ids, CSRF and hostile
//! input are refused with a page that keeps the navigation. The
//! invitation page says who invited whom to what.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::json;
use warden_tests::audit::{page_signed_in, sentences, signed_in, two_orgs};
use warden_tests::web::{Forms, create_user, field, instance, location, page_cookie, set_up};

const SAM: &str = "sam@acme.test";
const SAM_PASSWORD: &str = "sam's long password 7";

async fn page_sign_in(forms: &Forms, email: &str, password: &str) -> String {
    let signed_in = forms
        .post("/sign-in", None, &[("email", email), ("password", password)])
        .await;
    assert_eq!(signed_in.status(), 303);
    page_cookie(&signed_in).unwrap()
}

/// The ids of the users a list page links to, in order.
fn listed(html: &str) -> Vec<String> {
    html.split("<a href=\"/admin/users/")
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap().to_string())
        .filter(|id| !id.contains('/') && !id.starts_with('?'))
        .collect()
}

fn link(html: &str, id: &str) -> Option<String> {
    let marker = format!("id=\"{id}\" href=\"");
    html.split_once(&marker)
        .map(|(_, rest)| rest.split('"').next().unwrap().replace("&#38;", "&"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_list_searches_and_pages_both_ways() {
    let instance = instance(&[]).await;
    let mut owner = set_up(&instance.server).await;
    for n in 0..59 {
        let invited = owner
            .post(
                "/api/v1/users",
                json!({ "email": format!("user{n:02}@acme.test"), "display_name": format!("User {n:02}"), "role": "member" }),
            )
            .await;
        assert_eq!(invited.status, 201, "{:?}", invited.body);
    }
    let forms = Forms::new(&instance.server);
    let cookie = owner.cookie.clone().unwrap();

    let (status, first) = forms.html("/admin/users", &cookie).await;
    assert_eq!(status, 200);
    assert!(first.contains("60 users in all."), "{first}");
    assert_eq!(listed(&first).len(), 50);
    assert!(link(&first, "previous-page").is_none());
    let next = link(&first, "next-page").unwrap();
    let (_, second) = forms.html(&next, &cookie).await;
    // owner@acme.test sorts after user48…: 10 more.
    assert_eq!(listed(&second).len(), 10, "{second}");
    assert!(link(&second, "next-page").is_none());
    let previous = link(&second, "previous-page").unwrap();
    let (_, back) = forms.html(&previous, &cookie).await;
    assert_eq!(listed(&back), listed(&first));

    // Search by name or address, and by status; the filters stay in the
    // page links and in the form.
    let (_, found) = forms.html("/admin/users?q=user0", &cookie).await;
    assert_eq!(listed(&found).len(), 10);
    assert!(found.contains("value=\"user0\""));
    let (_, found) = forms.html("/admin/users?q=USER%2007", &cookie).await;
    assert_eq!(listed(&found).len(), 1);
    let (_, invited) = forms.html("/admin/users?status=invited", &cookie).await;
    assert_eq!(listed(&invited).len(), 50);
    assert!(link(&invited, "next-page").unwrap().contains("status=invited"));
    let (_, none) = forms.html("/admin/users?q=nobody-by-that-name", &cookie).await;
    assert!(none.contains("No user matches."), "{none}");
    // Hostile input: escaped, or a 400 page with the navigation.
    let (status, hostile) = forms
        .html("/admin/users?q=%3Cscript%3Ealert(1)%3C%2Fscript%3E", &cookie)
        .await;
    assert_eq!(status, 200);
    assert!(!hostile.contains("<script>alert"), "{hostile}");
    let (status, bad) = forms.html("/admin/users?after=x&after=y", &cookie).await;
    assert_eq!(status, 400, "{bad}");
    assert!(
        bad.contains("nav class=\"side\"") && bad.contains("Request id"),
        "{bad}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_users_page_shows_them_and_acts_and_refusals_keep_what_was_typed() {
    let instance = instance(&[]).await;
    let mut owner = set_up(&instance.server).await;
    let sam_id = create_user(&mut owner, SAM, "member", SAM_PASSWORD).await;
    let forms = Forms::new(&instance.server);
    let cookie = owner.cookie.clone().unwrap();
    let csrf = owner.csrf.clone().unwrap();
    let laptop = page_sign_in(&forms, SAM, SAM_PASSWORD).await;
    let phone = page_sign_in(&forms, SAM, SAM_PASSWORD).await;

    let (status, page) = forms.html(&format!("/admin/users/{sam_id}"), &cookie).await;
    assert_eq!(status, 200);
    assert!(page.contains("<h1>sam "), "{page}");
    assert!(page.contains("by Olive Owner (owner@acme.test)"), "{page}");
    assert!(page.contains("aria-current=\"page\">Users<"), "{page}");
    let sessions = page
        .matches(&format!("action=\"/admin/users/{sam_id}/sessions/"))
        .count();
    assert_eq!(sessions, 2, "{page}");

    // One session signed out: the other still works.
    let session = page
        .split(&format!("action=\"/admin/users/{sam_id}/sessions/"))
        .nth(1)
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_string();
    let revoked = forms
        .post(
            &format!("/admin/users/{sam_id}/sessions/{session}/revoke"),
            Some(&cookie),
            &[("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(
        location(&revoked),
        format!("/admin/users/{sam_id}?notice=session_revoked")
    );
    let still = [
        forms.get("/settings/sessions", Some(&laptop)).await.status().as_u16(),
        forms.get("/settings/sessions", Some(&phone)).await.status().as_u16(),
    ];
    assert!(still.contains(&200) && still.contains(&303), "{still:?}");
    // The same session again, or another user's: not found.
    let again = forms
        .post(
            &format!("/admin/users/{sam_id}/sessions/{session}/revoke"),
            Some(&cookie),
            &[("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(again.status(), 404);
    assert!(again.text().await.unwrap().contains("no such session"));

    // Disabling asks first; the question says what it does.
    let (status, confirm) = forms.html(&format!("/admin/users/{sam_id}/disable"), &cookie).await;
    assert_eq!(status, 200);
    assert!(
        confirm.contains("Disable sam?") && confirm.contains("1 session(s) end now"),
        "{confirm}"
    );
    let disabled = forms
        .post(
            &format!("/admin/users/{sam_id}"),
            Some(&cookie),
            &[("csrf_token", &csrf), ("status", "disabled")],
        )
        .await;
    assert_eq!(
        location(&disabled),
        format!("/admin/users/{sam_id}?notice=user_changed")
    );
    let (_, page) = forms.html(&format!("/admin/users/{sam_id}"), &cookie).await;
    assert!(page.contains("badge-disabled") && page.contains("Enable sam"), "{page}");
    // The page tells what happened to them lately, newest first, as
    // sentences (once the index has it).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let recent = loop {
        let (_, page) = forms.html(&format!("/admin/users/{sam_id}"), &cookie).await;
        let table = page.split("id=\"user-recent-events\"").nth(1).unwrap_or("").to_string();
        if sentences(&table)
            .iter()
            .any(|sentence| sentence.contains(" disabled sam@"))
        {
            break sentences(&table);
        }
        assert!(std::time::Instant::now() < deadline, "{page}");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    assert!(recent.len() <= 10, "{recent:?}");
    assert!(
        recent.contains(&"owner@acme.test disabled sam@acme.test".to_string()),
        "{recent:?}"
    );
    assert!(
        recent
            .iter()
            .any(|sentence| sentence.starts_with("owner@acme.test ended session ")
                && sentence.ends_with(" of sam@acme.test")),
        "{recent:?}"
    );
    // The disabled user's browser is told why it is signed out.
    let bounced = forms.get("/settings/sessions", Some(&laptop)).await;
    assert!(location(&bounced).contains("notice="), "{}", location(&bounced));

    // A refused add keeps what was typed (never the password).
    let refused = forms
        .post(
            "/admin/users",
            Some(&cookie),
            &[
                ("csrf_token", &csrf),
                ("email", SAM),
                ("display_name", "Second Sam"),
                ("role", "admin"),
                ("password", "a long enough password 9"),
            ],
        )
        .await;
    assert_eq!(refused.status(), 409);
    let html = refused.text().await.unwrap();
    assert!(
        html.contains("value=\"sam@acme.test\"") && html.contains("value=\"Second Sam\""),
        "{html}"
    );
    assert!(html.contains("<option value=\"admin\" selected>"), "{html}");
    assert!(!html.contains("a long enough password 9"));
    // So does a refused webhook endpoint (a private address).
    let refused = forms
        .post(
            "/alert-webhooks",
            Some(&cookie),
            &[
                ("csrf_token", &csrf),
                ("url", "http://127.0.0.1:9/hook"),
                ("description", "the on-call pager"),
            ],
        )
        .await;
    assert!(refused.status().is_client_error(), "{}", refused.status());
    let html = refused.text().await.unwrap();
    assert!(
        html.contains("value=\"http://127.0.0.1:9/hook\"") && html.contains("value=\"the on-call pager\""),
        "{html}"
    );
    // A recovery form refused for its reason keeps the reason's page.
    let enabled = forms
        .post(
            &format!("/admin/users/{sam_id}"),
            Some(&cookie),
            &[("csrf_token", &csrf), ("status", "active")],
        )
        .await;
    assert_eq!(enabled.status(), 303);
    let no_reason = forms
        .post(
            &format!("/admin/users/{sam_id}/password-reset"),
            Some(&cookie),
            &[("csrf_token", &csrf), ("reason", "x")],
        )
        .await;
    assert_eq!(no_reason.status(), 400);
    assert!(no_reason.text().await.unwrap().contains("value=\"x\""));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pages_refuse_other_roles_other_orgs_and_forged_posts() {
    let instance = two_orgs(&[]).await;
    let forms = Forms::new(&instance.server);
    let id_of = |users: &serde_json::Value, email: &str| {
        users["users"]
            .as_array()
            .unwrap()
            .iter()
            .find(|user| user["email"] == email)
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let acme = signed_in(&instance.server, "owner@acme.test")
        .await
        .get("/api/v1/users")
        .await
        .body;
    let globex = signed_in(&instance.server, "owner@globex.test")
        .await
        .get("/api/v1/users")
        .await
        .body;
    let (member, owner) = (id_of(&acme, "member@acme.test"), id_of(&acme, "owner@acme.test"));
    let globex_member = id_of(&globex, "member@globex.test");

    // Members and auditors: a 403 page that keeps their navigation.
    for email in ["member@acme.test", "auditor@acme.test"] {
        let cookie = page_signed_in(&forms, email).await;
        for path in ["/admin/users".to_string(), format!("/admin/users/{member}")] {
            let (status, html) = forms.html(&path, &cookie).await;
            assert_eq!(status, 403, "{email} {path}");
            assert!(
                html.contains("Not allowed") && html.contains("nav class=\"side\""),
                "{html}"
            );
        }
    }
    // An admin sees an owner's page but may not act on them.
    let admin = page_signed_in(&forms, "admin@acme.test").await;
    let (status, page) = forms.html(&format!("/admin/users/{owner}"), &admin).await;
    assert_eq!(status, 200);
    assert!(!page.contains("Change role") && !page.contains("/disable"), "{page}");
    let (_, sessions) = forms.html("/settings/sessions", &admin).await;
    let admin_csrf = field(&sessions, "csrf_token");
    let demoted = forms
        .post(
            &format!("/admin/users/{owner}"),
            Some(&admin),
            &[("csrf_token", &admin_csrf), ("role", "member")],
        )
        .await;
    assert_eq!(demoted.status(), 403);

    // Another org's user does not exist here, for reading or acting.
    let cookie = page_signed_in(&forms, "owner@acme.test").await;
    let (_, sessions) = forms.html("/settings/sessions", &cookie).await;
    let csrf = field(&sessions, "csrf_token");
    for id in [
        globex_member.as_str(),
        "00000000-0000-0000-0000-000000000000",
        "%3Cb%3E",
    ] {
        let (status, html) = forms.html(&format!("/admin/users/{id}"), &cookie).await;
        assert_eq!(status, 404, "{id}: {html}");
        let (status, _) = forms.html(&format!("/admin/users/{id}/disable"), &cookie).await;
        assert_eq!(status, 404, "{id}");
    }
    for (path, form) in [
        (format!("/admin/users/{globex_member}"), vec![("status", "disabled")]),
        (format!("/admin/users/{globex_member}/revoke-sessions"), vec![]),
        (
            format!("/admin/users/{globex_member}/password-reset"),
            vec![("reason", "SUP-1 other org")],
        ),
    ] {
        let mut form = form;
        form.push(("csrf_token", csrf.as_str()));
        let refused = forms.post(&path, Some(&cookie), &form).await;
        assert_eq!(refused.status(), 404, "{path}");
    }
    assert!(
        signed_in(&instance.server, "member@globex.test")
            .await
            .get("/api/v1/session")
            .await
            .status
            == 200,
        "globex's member is untouched"
    );

    // No token, or a forged one: refused with a page, nothing changed.
    for form in [
        vec![("role", "admin")],
        vec![("csrf_token", "forged"), ("role", "admin")],
    ] {
        let forged = forms
            .post(&format!("/admin/users/{member}"), Some(&cookie), &form)
            .await;
        assert_eq!(forged.status(), 403);
        assert!(forged.text().await.unwrap().contains("nav class=\"side\""));
    }
    let (_, page) = forms.html(&format!("/admin/users/{member}"), &cookie).await;
    assert!(page.contains("<dt>Role</dt><dd>member</dd>"), "{page}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_invitation_page_says_who_invited_whom_to_what() {
    let instance = instance(&[]).await;
    let mut owner = set_up(&instance.server).await;
    let invited = owner
        .post(
            "/api/v1/users",
            json!({ "email": "ivy@acme.test", "display_name": "Ivy", "role": "auditor" }),
        )
        .await;
    assert_eq!(invited.status, 201, "{:?}", invited.body);
    let url = invited.body["invitation_url"].as_str().unwrap();
    let token = url.split("token=").nth(1).unwrap();
    let forms = Forms::new(&instance.server);
    let page = forms.get(&format!("/invitation?token={token}"), None).await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("<h1>Join Acme</h1>"), "{html}");
    assert!(
        html.contains("Olive Owner invited you to Acme on Warden as <strong>auditor</strong>"),
        "{html}"
    );
    assert!(html.contains("<strong>ivy@acme.test</strong>"), "{html}");
    // A wrong or used link: said so, no form.
    for bad in ["not-a-token", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"] {
        let page = forms.get(&format!("/invitation?token={bad}"), None).await;
        assert_eq!(page.status(), 410);
        let html = page.text().await.unwrap();
        assert!(
            html.contains("This invitation cannot be used") && !html.contains("<form"),
            "{html}"
        );
    }
    let accepted = forms
        .post(
            "/invitation",
            None,
            &[("token", token), ("password", "ivy's long password 7")],
        )
        .await;
    assert_eq!(accepted.status(), 303);
    let used = forms.get(&format!("/invitation?token={token}"), None).await;
    assert_eq!(used.status(), 410);
}
