//! Events read as sentences in the console and in exports, with names of
//! the reader's org linked as the reader's role allows, escaped whatever
//! was typed into them; and every reader sees times in the zone they chose
//! (UTC until they choose), against a real `warden serve`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::json;
use warden_tests::audit::{listing, page_signed_in, sentences, signed_in, text, two_orgs};
use warden_tests::web::{Forms, field, location};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_trail_reads_as_sentences_with_names_linked_for_those_who_may_follow_them() {
    let instance = two_orgs(&[]).await;
    let server = &instance.server;
    let mut owner = signed_in(server, "owner@acme.test").await;
    let member = owner.user_id("member@acme.test").await;
    let changed = owner
        .patch(&format!("/api/v1/users/{member}"), json!({ "role": "admin" }))
        .await;
    assert_eq!(changed.status, 200, "{:?}", changed.body);
    // A name typed to break the page.
    let hostile = "<img src=x onerror=alert(1)> \"billing\"";
    let created = owner
        .post(
            "/api/v1/keys",
            json!({ "kind": "service", "name": hostile, "scopes": ["users:read"] }),
        )
        .await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    let key = created.body["id"].as_str().unwrap().to_string();

    let forms = Forms::new(server);
    let owner_page = page_signed_in(&forms, "owner@acme.test").await;
    let auditor_page = page_signed_in(&forms, "auditor@acme.test").await;
    let sentence = "owner@acme.test changed the role of member@acme.test from member to admin";

    // The owner manages users: the name links to the user's page, the id
    // is on hover.
    let html = listing(&forms, &owner_page, "/audit?kind=user.role_changed", 1).await;
    assert_eq!(sentences(&html), [sentence], "{html}");
    assert!(
        html.contains(&format!(
            "<a href=\"/admin/users/{member}\" title=\"{member}\">member@acme.test</a>"
        )),
        "{html}"
    );
    assert!(html.contains("<th scope=\"col\">Time (UTC)</th>"), "{html}");
    // An auditor reads the same sentence, with no link to a page their
    // role does not open.
    let (_, html) = forms.html("/audit?kind=user.role_changed", &auditor_page).await;
    assert_eq!(sentences(&html), [sentence]);
    assert!(html.contains(&format!("<span title=\"{member}\">member@acme.test</span>")));
    assert!(!html.contains("href=\"/admin/users/"), "{html}");

    // What was typed into a name is shown, as text.
    let html = listing(&forms, &owner_page, "/audit?kind=api_key.created", 1).await;
    let [said] = sentences(&html).try_into().unwrap();
    assert!(
        said.starts_with(&format!("owner@acme.test created API key \"{hostile}\"")),
        "{said}"
    );
    assert!(!html.contains("<img src=x"), "{html}");
    assert!(
        html.contains(&format!("<a href=\"/keys/{key}\" title=\"{key}\">")),
        "{html}"
    );

    // The event's page says it in a sentence above its envelope.
    let seq = html
        .split("<a href=\"/audit/events/")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_string();
    let (status, event) = forms.html(&format!("/audit/events/{seq}"), &owner_page).await;
    assert_eq!(status, 200);
    let lead = event.split("id=\"event-sentence\">").nth(1).unwrap();
    assert!(text(lead.split("</p>").next().unwrap()).starts_with("owner@acme.test created API key"));

    // The CSV export ends each row with the sentence.
    let export = forms
        .get("/audit/export?format=csv&kind=user.role_changed", Some(&owner_page))
        .await;
    assert_eq!(export.status(), 200);
    let csv = export.text().await.unwrap();
    let mut lines = csv.lines();
    assert!(lines.next().unwrap().ends_with(",key_id,summary"));
    let row = lines.next().unwrap();
    assert!(row.ends_with(&format!(",{sentence}")), "{row}");
    assert_eq!(lines.next(), None);

    // Another org's auditor sees none of it, and none of these names.
    let globex = page_signed_in(&forms, "auditor@globex.test").await;
    let (_, html) = forms.html("/audit?kind=user.role_changed", &globex).await;
    assert!(sentences(&html).is_empty());
    assert!(!html.contains("acme.test"), "{html}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_reader_sees_times_in_the_zone_they_chose() {
    let instance = two_orgs(&[]).await;
    let forms = Forms::new(&instance.server);
    let owner = page_signed_in(&forms, "owner@acme.test").await;
    let auditor = page_signed_in(&forms, "auditor@acme.test").await;

    let (status, html) = forms.html("/settings/time-zone", &owner).await;
    assert_eq!(status, 200);
    assert!(
        html.contains("<strong id=\"current-zone\">UTC</strong> (the default)"),
        "{html}"
    );
    assert!(html.contains("data-suggest-browser-zone"));
    assert!(html.contains("<option value=\"Europe/Paris\">Europe/Paris</option>"));
    assert!(
        html.contains("<a href=\"/settings/time-zone\" aria-current=\"page\""),
        "{html}"
    );
    let csrf = field(&html, "csrf_token");

    // Refused: no CSRF token, an unknown zone, an alias not offered.
    let forged = forms
        .post("/settings/time-zone", Some(&owner), &[("time_zone", "Europe/Paris")])
        .await;
    assert_eq!(forged.status(), 403);
    for zone in ["Mars/Olympus_Mons", "US/Pacific", "<script>"] {
        let refused = forms
            .post(
                "/settings/time-zone",
                Some(&owner),
                &[("csrf_token", &csrf), ("time_zone", zone)],
            )
            .await;
        assert_eq!(refused.status(), 400, "{zone}");
        assert!(refused.headers().contains_key("x-request-id"));
        let page = refused.text().await.unwrap();
        assert!(page.contains("time_zone must be one of the zones offered"), "{page}");
        assert!(!page.contains("<script>"));
        assert!(page.contains("<nav class=\"side\""), "the page keeps the navigation");
    }

    let chosen = forms
        .post(
            "/settings/time-zone",
            Some(&owner),
            &[("csrf_token", &csrf), ("time_zone", "Europe/Paris")],
        )
        .await;
    assert_eq!(chosen.status(), 303);
    assert_eq!(location(&chosen), "/settings/time-zone?notice=time_zone_changed");
    let (_, html) = forms.html("/settings/time-zone", &owner).await;
    assert!(
        html.contains("<strong id=\"current-zone\">Europe/Paris</strong>."),
        "{html}"
    );
    assert!(!html.contains("data-suggest-browser-zone"));
    assert!(html.contains("<option value=\"Europe/Paris\" selected>"));

    // The owner's audit trail is in Paris time, the exact UTC time on
    // hover; the auditor's stays in UTC.
    let html = listing(&forms, &owner, "/audit?kind=user.time_zone_changed", 1).await;
    assert!(html.contains("<th scope=\"col\">Time (Europe/Paris)</th>"), "{html}");
    let cell = html.split("<td class=\"when\"><time datetime=\"").nth(1).unwrap();
    let (utc, rest) = cell.split_once('"').unwrap();
    assert!(
        utc.ends_with('Z') && rest.starts_with(&format!(" title=\"{utc}\">")),
        "{cell}"
    );
    let local = rest.split('>').nth(1).unwrap().split('<').next().unwrap();
    assert!(local.ends_with(" CET") || local.ends_with(" CEST"), "{local}");
    assert_eq!(
        sentences(&html),
        ["owner@acme.test chose to read times in Europe/Paris"]
    );
    let (_, html) = forms.html("/audit?kind=user.time_zone_changed", &auditor).await;
    assert!(html.contains("<th scope=\"col\">Time (UTC)</th>"), "{html}");
    assert!(html.contains(" UTC</time>"), "{html}");

    // Back to the default; choosing it again records nothing more (the
    // last choice, indexed after them, shows the index holds all three).
    for zone in ["UTC", "UTC", "America/New_York"] {
        let chosen = forms
            .post(
                "/settings/time-zone",
                Some(&owner),
                &[("csrf_token", &csrf), ("time_zone", zone)],
            )
            .await;
        assert_eq!(chosen.status(), 303, "{zone}");
    }
    let html = listing(&forms, &owner, "/audit?kind=user.time_zone_changed", 3).await;
    assert_eq!(
        sentences(&html),
        [
            "owner@acme.test chose to read times in America/New_York",
            "owner@acme.test chose to read times in UTC, the default",
            "owner@acme.test chose to read times in Europe/Paris",
        ]
    );
}
