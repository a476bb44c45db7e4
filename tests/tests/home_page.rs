//! The home page against a real `warden serve` (decision 0033): each role
//! sees its parts and no other; the figures are the org's own (sign-ins
//! and refusals, users by status and second factor, admin actions,
//! exports, legal holds), counted from the audit index, never another
//! org's; bars link to the audit trail only for those who read it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use serde_json::json;
use warden_tests::audit::{LEGACY_PASSWORD, listing, page_signed_in, signed_in, text, two_orgs};
use warden_tests::web::{Forms, location};

/// The text of the part `id` of a page, or `None` without it.
fn part(html: &str, id: &str) -> Option<String> {
    let marker = format!("id=\"{id}\"");
    let (_, rest) = html.split_once(&marker)?;
    Some(text(rest.split("</section>").next().unwrap()))
}

/// The home page once `ready` holds of it (the index commits about every
/// second).
async fn home_when(forms: &Forms, cookie: &str, ready: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (status, html) = forms.html("/", cookie).await;
        assert_eq!(status, 200, "{html}");
        if ready(&html) {
            return html;
        }
        assert!(Instant::now() < deadline, "{html}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The bar labels of the chart `id`.
fn bar_labels(html: &str, id: &str) -> Vec<String> {
    let chart = html.split(&format!("id=\"{id}\"")).nth(1).unwrap();
    let chart = chart.split("</figure>").next().unwrap();
    chart
        .split("<title>")
        .skip(1)
        .map(|rest| rest.split("</title>").next().unwrap().to_string())
        .collect()
}

/// (signed in, refused) summed over a chart's bars.
fn summed(labels: &[String]) -> (u64, u64) {
    labels.iter().fold((0, 0), |(ok, refused), label| {
        let (_, counts) = label.rsplit_once(": ").unwrap();
        let numbers: Vec<u64> = counts.split(' ').filter_map(|word| word.parse().ok()).collect();
        (ok + numbers[0], refused + numbers[1])
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_role_sees_its_org_at_a_glance() {
    let instance = two_orgs(&[]).await;
    let server = &instance.server;
    let forms = Forms::new(server);

    // Signed out: the home page asks to sign in first, and comes back.
    let redirected = forms.get("/", None).await;
    assert_eq!(redirected.status(), 303);
    assert_eq!(location(&redirected), "/sign-in?next=/");

    // Activity: three refusals for Acme's users, one for an address
    // nobody has (no org's), and one in Globex.
    for (email, password) in [
        ("member@acme.test", "wrong 1"),
        ("member@acme.test", "wrong 2"),
        ("admin@acme.test", "wrong 3"),
        ("nobody@acme.test", "wrong 4"),
        ("owner@globex.test", "wrong 5"),
    ] {
        let refused = forms
            .post("/sign-in", None, &[("email", email), ("password", password)])
            .await;
        assert_eq!(refused.status(), 401, "{email}");
    }
    // Four sign-ins in Acme (three pages, one API), two in Globex.
    let owner = page_signed_in(&forms, "owner@acme.test").await;
    let _member = page_signed_in(&forms, "member@acme.test").await;
    let mut acme = signed_in(server, "owner@acme.test").await;
    let auditor = page_signed_in(&forms, "auditor@acme.test").await;
    let globex_owner = page_signed_in(&forms, "owner@globex.test").await;
    let mut globex = signed_in(server, "owner@globex.test").await;

    // An admin action in each org, a hold and an export in Acme.
    let member_id = acme.user_id("member@acme.test").await;
    let changed = acme
        .patch(&format!("/api/v1/users/{member_id}"), json!({"role": "admin"}))
        .await;
    assert_eq!(changed.status, 200, "{:?}", changed.body);
    let globex_admin = globex.user_id("admin@globex.test").await;
    let changed = globex
        .patch(&format!("/api/v1/users/{globex_admin}"), json!({"role": "auditor"}))
        .await;
    assert_eq!(changed.status, 200);
    let hold = acme
        .post("/api/v1/org/legal-holds", json!({"reason": "matter <7>"}))
        .await;
    assert_eq!(hold.status, 201, "{:?}", hold.body);
    // Exported once the index holds the change (an export holds what the
    // index held when it began).
    listing(&forms, &auditor, "/audit?kind=user.role_changed", 1).await;
    let export = forms
        .get("/audit/export?format=csv&kind=user.role_changed", Some(&auditor))
        .await;
    assert_eq!(export.status(), 200);

    // The owner: everything, Acme's only.
    let html = home_when(&forms, &owner, |html| {
        text(html).contains("1 export of the audit trail")
    })
    .await;
    assert!(html.contains("<h1>Home</h1>"));
    assert!(html.contains("<a href=\"/\" aria-current=\"page\">Home</a>"), "{html}");
    let day = bar_labels(&html, "sign-ins-day");
    assert_eq!(day.len(), 24);
    let month = bar_labels(&html, "sign-ins-month");
    assert_eq!(month.len(), 30);
    assert_eq!(summed(&day), (4, 3), "{day:?}");
    assert_eq!(summed(&month), (4, 3));
    let sign_ins = part(&html, "home-sign-ins").unwrap();
    assert!(sign_ins.contains("Last 24 hours: 4 signed in, 3 refused"), "{sign_ins}");
    assert!(sign_ins.contains("Last 30 days (UTC days): 4 signed in, 3 refused"));
    assert!(
        html.contains("<a href=\"/audit?kind=login.failed&#38;from="),
        "refusals link to the trail"
    );
    assert!(html.contains("<a href=\"/audit?kind=login.%2A&#38;from="), "and bars");
    let users = part(&html, "home-users").unwrap();
    assert!(users.contains("4 in all"), "{users}");
    assert!(users.contains("Active, without one4"), "{users}");
    let actions = part(&html, "home-admin-actions").unwrap();
    assert!(
        actions.contains("owner@acme.test changed the role of member@acme.test from member to admin"),
        "{actions}"
    );
    assert!(!html.contains("globex"), "nothing of Globex: {html}");
    let exports = part(&html, "home-exports").unwrap();
    assert!(
        exports.contains("1 export of the audit trail, by auditor@acme.test (1)"),
        "{exports}"
    );
    assert!(
        exports.contains("auditor@acme.test exported 1 event of the audit trail"),
        "{exports}"
    );
    let holds = part(&html, "home-holds").unwrap();
    assert!(holds.contains("matter <7>: placed"), "{holds}");
    assert!(html.contains("matter &#60;7&#62;"), "escaped");
    assert!(holds.contains("by owner@acme.test"));
    let integrity = part(&html, "home-integrity").unwrap();
    assert!(
        integrity.contains("has its hash, link and signature checked"),
        "{integrity}"
    );
    assert!(part(&html, "home-you").unwrap().contains("Two-factor sign-in is off"));

    // Opening it records nothing.
    let before = warden_tests::web::events(&instance).len();
    forms.html("/", &owner).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(warden_tests::web::events(&instance).len(), before);

    // The admin: how the org is run, no compliance part, no links into
    // the trail they do not read.
    let admin = page_signed_in(&forms, "admin@acme.test").await;
    let (_, html) = forms.html("/", &admin).await;
    assert!(part(&html, "home-admin-actions").is_some());
    assert!(part(&html, "home-users").is_some());
    assert!(part(&html, "home-exports").is_none());
    assert!(part(&html, "home-holds").is_none());
    assert!(!html.contains("href=\"/audit"), "{html}");

    // The auditor: compliance, not the running of the org.
    let (_, html) = forms.html("/", &auditor).await;
    assert!(part(&html, "home-exports").is_some());
    assert!(part(&html, "home-integrity").is_some());
    assert!(part(&html, "home-sign-ins").is_none());
    assert!(part(&html, "home-users").is_none());

    // Globex's owner: Globex's figures and actions only.
    let html = home_when(&forms, &globex_owner, |html| text(html).contains("changed the role of")).await;
    let sign_ins = part(&html, "home-sign-ins").unwrap();
    assert!(sign_ins.contains("Last 24 hours: 2 signed in, 1 refused"), "{sign_ins}");
    let actions = part(&html, "home-admin-actions").unwrap();
    assert!(
        actions.contains("owner@globex.test changed the role of admin@globex.test"),
        "{actions}"
    );
    assert!(!html.contains("acme"), "nothing of Acme: {html}");

    // A member: their account only; signing in lands here.
    let signed_in_page = forms
        .post(
            "/sign-in",
            None,
            &[("email", "member@globex.test"), ("password", LEGACY_PASSWORD)],
        )
        .await;
    assert_eq!(location(&signed_in_page), "/", "signing in lands on the home page");
    let member = warden_tests::web::page_cookie(&signed_in_page).unwrap();
    let (_, html) = forms.html("/", &member).await;
    assert!(
        part(&html, "home-you").unwrap().contains("1 session signed in"),
        "{html}"
    );
    for other in [
        "home-sign-ins",
        "home-users",
        "home-admin-actions",
        "home-exports",
        "home-holds",
    ] {
        assert!(part(&html, other).is_none(), "{other}");
    }
}
