//! Saved searches of the audit trail against a real `warden serve`: saved
//! under a name by an owner or auditor for themselves alone, listed and
//! marked on the audit page, refused with the page kept when the name or
//! the filters are wrong, CSRF-protected, out of reach of other roles,
//! users and orgs, and recorded as sentences (decision 0032).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use warden_tests::audit::{listing, page_signed_in, sentences, two_orgs};
use warden_tests::web::{Forms, events, field, location};

/// The saved searches the audit page lists: (name, link, marked current).
fn saved(html: &str) -> Vec<(String, String, bool)> {
    let Some((_, list)) = html.split_once("<nav id=\"saved-searches\"") else {
        return Vec::new();
    };
    let list = list.split("</nav>").next().unwrap();
    list.split("<li><a href=\"")
        .skip(1)
        .map(|item| {
            let (href, rest) = item.split_once('"').unwrap();
            let current = rest.starts_with(" aria-current=\"page\"");
            let name = rest.split_once('>').unwrap().1.split("</a>").next().unwrap();
            (name.to_string(), href.replace("&#38;", "&"), current)
        })
        .collect()
}

/// The ids of the remove buttons' forms, in the list's order.
fn removals(html: &str) -> Vec<String> {
    html.split("action=\"/audit/saved-searches/")
        .skip(1)
        .map(|rest| rest.split("/remove\"").next().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_saves_runs_and_removes_their_own_searches() {
    let instance = two_orgs(&[]).await;
    let forms = Forms::new(&instance.server);
    let owner = page_signed_in(&forms, "owner@acme.test").await;
    let auditor = page_signed_in(&forms, "auditor@acme.test").await;
    let (status, html) = forms.html("/audit", &owner).await;
    assert_eq!(status, 200);
    assert!(saved(&html).is_empty());
    assert!(!html.contains("id=\"save-search\""), "nothing to save without a filter");
    let csrf = field(&html, "csrf_token");

    // The page of a search offers to save its filters.
    let (_, html) = forms.html("/audit?kind=login.*&outcome=success", &owner).await;
    assert!(html.contains("<form method=\"post\" action=\"/audit/saved-searches\" id=\"save-search\""));
    assert!(
        html.contains("<input type=\"hidden\" name=\"kind\" value=\"login.*\">"),
        "{html}"
    );
    assert!(html.contains("<input type=\"hidden\" name=\"outcome\" value=\"success\">"));

    let save = |cookie: String, form: Vec<(&'static str, String)>| {
        let forms = &forms;
        async move {
            let form: Vec<(&str, &str)> = form.iter().map(|(name, value)| (*name, value.as_str())).collect();
            forms.post("/audit/saved-searches", Some(&cookie), &form).await
        }
    };
    let sign_ins = vec![
        ("csrf_token", csrf.clone()),
        ("name", "  Sign-ins  ".to_string()),
        ("kind", "login.*".to_string()),
        ("outcome", "success".to_string()),
        ("q", String::new()),
    ];
    // No CSRF token: refused, nothing saved.
    let forged = save(owner.clone(), sign_ins[1..].to_vec()).await;
    assert_eq!(forged.status(), 403);

    let saved_one = save(owner.clone(), sign_ins.clone()).await;
    assert_eq!(saved_one.status(), 303);
    assert_eq!(location(&saved_one), "/audit?kind=login.%2A&outcome=success");
    let (_, html) = forms.html("/audit?kind=login.*&outcome=success", &owner).await;
    assert_eq!(
        saved(&html),
        [(
            "Sign-ins".to_string(),
            "/audit?kind=login.%2A&outcome=success".to_string(),
            true
        )]
    );
    let (_, html) = forms.html("/audit?kind=login.*", &owner).await;
    assert!(!saved(&html)[0].2, "another search is not marked");

    // Refused, with the page, its navigation, the name typed and why.
    let with = |name: &str, filters: &[(&'static str, &str)]| {
        let mut form = vec![("csrf_token", csrf.clone()), ("name", name.to_string())];
        form.extend(filters.iter().map(|(filter, value)| (*filter, value.to_string())));
        form
    };
    let refusals = [
        (
            with("SIGN-INS", &[("kind", "mfa.*")]),
            409,
            "you already have a saved search named &#34;Sign-ins&#34;",
        ),
        (with("   ", &[("kind", "mfa.*")]), 400, "name the search to save it"),
        (
            with("Everything", &[("order", "oldest")]),
            400,
            "choose at least one filter",
        ),
        (
            with("Paged", &[("kind", "mfa.*"), ("cursor", "5")]),
            400,
            "cursor pages a search",
        ),
        (
            with("Bad time", &[("from", "yesterday-ish")]),
            400,
            "from must be an RFC 3339 time",
        ),
        (with("Unknown", &[("colour", "red")]), 400, "unknown field"),
        (
            with(&"x".repeat(81), &[("kind", "mfa.*")]),
            400,
            "at most 80 characters",
        ),
        (with("Two\nlines", &[("kind", "mfa.*")]), 400, "one line"),
    ];
    for (form, status, message) in refusals {
        let refused = save(owner.clone(), form.clone()).await;
        assert_eq!(refused.status(), status, "{form:?}");
        assert!(refused.headers().contains_key("x-request-id"));
        let page = refused.text().await.unwrap();
        assert!(page.contains(message), "{form:?}: {page}");
        assert!(page.contains("<nav class=\"side\""), "the page keeps the navigation");
        assert!(page.contains("id=\"audit-search\""), "and the search form");
        let typed = form[1].1.trim();
        if !typed.is_empty() && !typed.contains('\n') {
            assert!(
                page.contains(&format!("value=\"{typed}\"")),
                "the name typed is kept: {typed}"
            );
        }
    }

    // Every filter of the search is kept, the API's too (the account
    // concerned, a user's page links to it): in the form, in the save
    // form, and in the pages' links.
    let (_, html) = forms.html("/audit?user=u-1&actor_kind=user", &owner).await;
    assert!(
        html.contains("<input id=\"filter-user\" name=\"user\" type=\"text\" value=\"u-1\">"),
        "{html}"
    );
    assert!(html.contains("<input type=\"hidden\" name=\"user\" value=\"u-1\">"));
    assert!(html.contains("<input type=\"hidden\" name=\"actor_kind\" value=\"user\">"));
    assert!(html.contains("<details id=\"more-filters\" open>"));

    // A hostile name is text; the auditor's list is their own.
    let hostile = save(
        owner.clone(),
        with("<img src=x onerror=alert(1)>", &[("kind", "user.*"), ("q", "a&b=c")]),
    )
    .await;
    assert_eq!(hostile.status(), 303);
    assert_eq!(location(&hostile), "/audit?q=a%26b%3Dc&kind=user.%2A");
    let (_, html) = forms.html("/audit", &owner).await;
    assert!(!html.contains("<img src=x"));
    let list = saved(&html);
    assert_eq!(list.len(), 2);
    assert_eq!(list[1].0, "&#60;img src=x onerror=alert(1)&#62;");
    assert_eq!(list[1].1, "/audit?q=a%26b%3Dc&kind=user.%2A");
    let ids = removals(&html);
    let (_, theirs) = forms.html("/audit", &auditor).await;
    assert!(saved(&theirs).is_empty(), "{theirs}");
    let auditor_csrf = field(&theirs, "csrf_token");

    // Nobody else removes them: not the auditor of the same org, not an
    // owner of another (both 404, as for an id that never was), not an
    // admin or a member, who do not read the trail (403).
    let globex = page_signed_in(&forms, "owner@globex.test").await;
    let (_, html) = forms.html("/audit", &globex).await;
    let globex_csrf = field(&html, "csrf_token");
    for (cookie, token) in [(&auditor, &auditor_csrf), (&globex, &globex_csrf)] {
        for id in [
            ids[0].as_str(),
            "0193f4b8-1c2d-7e3f-9a4b-5c6d7e8f9a01",
            "..%2F..%2Fadmin",
        ] {
            let refused = forms
                .post(
                    &format!("/audit/saved-searches/{id}/remove"),
                    Some(cookie),
                    &[("csrf_token", token)],
                )
                .await;
            assert_eq!(refused.status(), 404, "{id}");
        }
    }
    for email in ["admin@acme.test", "member@acme.test"] {
        let cookie = page_signed_in(&forms, email).await;
        let (_, html) = forms.html("/settings/time-zone", &cookie).await;
        let token = field(&html, "csrf_token");
        let refused = forms
            .post(
                "/audit/saved-searches",
                Some(&cookie),
                &[("csrf_token", &token), ("name", "Mine"), ("kind", "login.*")],
            )
            .await;
        assert_eq!(refused.status(), 403, "{email}");
        let refused = forms
            .post(
                &format!("/audit/saved-searches/{}/remove", ids[0]),
                Some(&cookie),
                &[("csrf_token", &token)],
            )
            .await;
        assert_eq!(refused.status(), 403, "{email}");
    }
    let forged = forms
        .post(&format!("/audit/saved-searches/{}/remove", ids[0]), Some(&owner), &[])
        .await;
    assert_eq!(forged.status(), 403);
    let (_, html) = forms.html("/audit", &owner).await;
    assert_eq!(saved(&html).len(), 2, "nothing was removed");

    // Up to 50 each.
    for n in 2..50 {
        let more = save(owner.clone(), with(&format!("Search {n}"), &[("kind", "mfa.*")])).await;
        assert_eq!(more.status(), 303, "{n}");
    }
    let full = save(owner.clone(), with("One too many", &[("kind", "mfa.*")])).await;
    assert_eq!(full.status(), 409);
    assert!(
        full.text()
            .await
            .unwrap()
            .contains("you keep 50 saved searches already")
    );

    // The owner removes one.
    let removed = forms
        .post(
            &format!("/audit/saved-searches/{}/remove", ids[0]),
            Some(&owner),
            &[("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(removed.status(), 303);
    assert_eq!(location(&removed), "/audit");
    let (_, html) = forms.html("/audit", &owner).await;
    let list = saved(&html);
    assert_eq!(list.len(), 49);
    assert!(list.iter().all(|(name, _, _)| name != "Sign-ins"));

    // In the trail, as sentences; on the log, with their filters.
    let html = listing(&forms, &owner, "/audit?kind=user.search_removed", 1).await;
    assert_eq!(
        sentences(&html),
        ["owner@acme.test removed the saved audit search \"Sign-ins\""]
    );
    let html = listing(&forms, &owner, "/audit?kind=user.search_saved&order=oldest", 50).await;
    assert_eq!(
        sentences(&html)[0],
        "owner@acme.test saved the audit search \"Sign-ins\" (kind login.*, outcome success)"
    );
    let log = events(&instance);
    let first = log.iter().find(|event| event["kind"] == "user.search_saved").unwrap();
    assert_eq!(first["data"]["name"], "Sign-ins");
    assert_eq!(
        first["data"]["filters"],
        serde_json::json!({"kind": "login.*", "outcome": "success"})
    );
    assert_eq!(
        log.iter().filter(|event| event["kind"] == "user.search_saved").count(),
        50
    );
}
