//! The audit trail's pages against a real `warden serve`: a search pages
//! both ways, newest or oldest first as the reader asks (and as the page
//! says), and hostile paging parameters get a clear 400 page.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use warden_tests::audit::{page_signed_in, two_orgs};
use warden_tests::web::{Forms, field};

/// The seqs a page of events lists, in order.
fn seqs(html: &str) -> Vec<u64> {
    html.split("<td class=\"event\"><a href=\"/audit/events/")
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap().parse().unwrap())
        .collect()
}

fn link(html: &str, id: &str) -> Option<String> {
    let marker = format!("id=\"{id}\" href=\"");
    html.split_once(&marker).map(|(_, rest)| {
        rest.split('"')
            .next()
            .unwrap()
            .replace("&#38;", "&")
            .replace("&amp;", "&")
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_search_pages_both_ways_newest_or_oldest_first() {
    let instance = two_orgs(&[]).await;
    let forms = Forms::new(&instance.server);
    let owner = page_signed_in(&forms, "owner@acme.test").await;
    let (_, settings) = forms.html("/settings/time-zone", &owner).await;
    let csrf = field(&settings, "csrf_token");
    // 110 events of one kind: the owner changes their time zone.
    for n in 0..110 {
        let zone = if n % 2 == 0 { "Europe/Paris" } else { "America/New_York" };
        let chosen = forms
            .post(
                "/settings/time-zone",
                Some(&owner),
                &[("csrf_token", &csrf), ("time_zone", zone)],
            )
            .await;
        assert_eq!(chosen.status(), 303);
    }
    let search = "/audit?kind=user.time_zone_changed";
    let deadline = Instant::now() + Duration::from_secs(20);
    let first = loop {
        let (status, html) = forms.html(search, &owner).await;
        assert_eq!(status, 200);
        if html.contains("110 events match, newest first.") {
            break html;
        }
        assert!(Instant::now() < deadline, "{html}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };

    // Newest first: 50, 50, 10, each page older than the last.
    let page_one = seqs(&first);
    assert_eq!(page_one.len(), 50);
    assert!(page_one.windows(2).all(|pair| pair[0] > pair[1]));
    assert_eq!(link(&first, "previous-page"), None);
    let next = link(&first, "next-page").unwrap();
    assert!(next.contains("kind=user.time_zone_changed"), "{next}");
    assert!(first.contains(">Older events →</a>"));
    let (_, second) = forms.html(&next, &owner).await;
    let page_two = seqs(&second);
    assert_eq!(page_two.len(), 50);
    assert!(page_two[0] < page_one[49]);
    let (_, third) = forms.html(&link(&second, "next-page").unwrap(), &owner).await;
    let page_three = seqs(&third);
    assert_eq!(page_three.len(), 10);
    assert!(page_three[0] < page_two[49]);
    assert_eq!(link(&third, "next-page"), None);

    // And back: the same pages, in the same order, the first one with no
    // way further back.
    let previous = link(&third, "previous-page").unwrap();
    assert!(third.contains(">← Newer events</a>"));
    let (_, back) = forms.html(&previous, &owner).await;
    assert_eq!(seqs(&back), page_two);
    let (_, back) = forms.html(&link(&back, "previous-page").unwrap(), &owner).await;
    assert_eq!(seqs(&back), page_one);
    assert_eq!(link(&back, "previous-page"), None);
    assert_eq!(link(&back, "next-page"), link(&first, "next-page"));

    // Oldest first, as asked and as said; the order stays in the links and
    // in the form.
    let (_, oldest) = forms.html(&format!("{search}&order=oldest"), &owner).await;
    assert!(oldest.contains("110 events match, oldest first."), "{oldest}");
    assert!(oldest.contains("<option value=\"oldest\" selected>"));
    let ascending = seqs(&oldest);
    assert_eq!(ascending.len(), 50);
    assert!(ascending.windows(2).all(|pair| pair[0] < pair[1]));
    let mut all: Vec<u64> = [page_one, page_two, page_three].concat();
    all.reverse();
    assert_eq!(ascending, all[..50]);
    let next = link(&oldest, "next-page").unwrap();
    assert!(next.contains("order=oldest"), "{next}");
    assert!(oldest.contains(">Newer events →</a>"));
    let (_, later) = forms.html(&next, &owner).await;
    assert_eq!(seqs(&later), all[50..100]);
    let (_, again) = forms.html(&link(&later, "previous-page").unwrap(), &owner).await;
    assert_eq!(seqs(&again), all[..50]);

    // Hostile paging: a clear 400 page that keeps the form.
    for bad in [
        format!("{search}&before=abc"),
        format!("{search}&cursor=5&before=9"),
        format!("{search}&before=-1"),
        format!("{search}&order=sideways"),
    ] {
        let (status, html) = forms.html(&bad, &owner).await;
        assert_eq!(status, 400, "{bad}");
        assert!(html.contains("<p class=\"error\" role=\"alert\">"), "{bad}: {html}");
        assert!(html.contains("id=\"audit-search\""), "{bad}");
    }
}

/// The values of a facet: text and count, in order.
fn facet(html: &str, label: &str) -> Vec<(String, u64)> {
    let Some(section) = html.split(&format!(">{label}</h2>")).nth(1) else {
        return Vec::new();
    };
    let list = section.split("</ul>").next().unwrap();
    list.split("<li><a href=\"")
        .skip(1)
        .map(|item| {
            let text = item.split('>').nth(1).unwrap().split('<').next().unwrap().to_string();
            let count = item
                .split("<span class=\"count\">")
                .nth(1)
                .unwrap()
                .split('<')
                .next()
                .unwrap()
                .parse()
                .unwrap();
            (text, count)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn facets_count_the_matches_and_narrow_the_search_and_so_do_the_bars_over_time() {
    let instance = two_orgs(&[]).await;
    let forms = Forms::new(&instance.server);
    // Three failed sign-ins of one member, one of another, then sign-ins.
    for (email, password) in [
        ("member@acme.test", "wrong"),
        ("member@acme.test", "wrong again"),
        ("member@acme.test", "still wrong"),
        ("admin@acme.test", "wrong"),
    ] {
        let refused = forms
            .post("/sign-in", None, &[("email", email), ("password", password)])
            .await;
        assert_eq!(refused.status(), 401, "{email}");
    }
    let owner = page_signed_in(&forms, "owner@acme.test").await;
    let search = "/audit?kind=login.*";
    let deadline = Instant::now() + Duration::from_secs(20);
    let html = loop {
        let (_, html) = forms.html(search, &owner).await;
        if facet(&html, "Kinds").iter().any(|(kind, _)| kind == "login.succeeded") {
            break html;
        }
        assert!(Instant::now() < deadline, "{html}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(
        facet(&html, "Kinds"),
        [("login.failed".to_string(), 4), ("login.succeeded".to_string(), 1)]
    );
    assert_eq!(
        facet(&html, "Outcomes"),
        [("failure".to_string(), 4), ("success".to_string(), 1)]
    );
    // Sign-in failures are anonymous: the one named actor is the owner,
    // by their address, the id on hover.
    assert_eq!(facet(&html, "Actors"), [("owner@acme.test".to_string(), 1)]);
    // Another org's events count for nothing here.
    assert!(!html.contains("globex"), "{html}");

    // A facet narrows the search, keeping the other filters.
    let narrowed = link_to(&html, ">login.failed</a>");
    assert_eq!(narrowed, "/audit?kind=login.failed");
    let outcome = link_to(&html, ">success</a>");
    assert_eq!(outcome, "/audit?kind=login.%2A&outcome=success");
    let (_, html) = forms.html(&outcome, &owner).await;
    assert!(html.contains("1 event matches, newest first."), "{html}");
    assert!(html.contains("aria-current=\"true\">success</a>"), "{html}");

    // Over time: bars that each narrow the range to their span, labelled
    // for a screen reader; together they hold every match.
    let (_, html) = forms.html(search, &owner).await;
    let chart = html.split("id=\"audit-histogram\"").nth(1).unwrap();
    let chart = chart.split("</figure>").next().unwrap();
    let bars: Vec<&str> = chart.split("<a href=\"").skip(1).collect();
    assert!(!bars.is_empty(), "{chart}");
    let mut counted = 0;
    for bar in &bars {
        let href = bar
            .split('"')
            .next()
            .unwrap()
            .replace("&#38;", "&")
            .replace("&amp;", "&");
        assert!(
            href.contains("kind=login.%2A") && href.contains("from=") && href.contains("until="),
            "{href}"
        );
        let label = bar.split("aria-label=\"").nth(1).unwrap().split('"').next().unwrap();
        let count: u64 = label
            .rsplit(": ")
            .next()
            .unwrap()
            .split(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        counted += count;
        let (_, narrowed) = forms.html(&href, &owner).await;
        assert!(
            narrowed.contains(&match count {
                1 => "1 event matches".to_string(),
                count => format!("{count} events match"),
            }),
            "{href}: {narrowed}"
        );
    }
    assert_eq!(counted, 5);
    // The integrity panel: the log's head, this node's check of it, and
    // the key that signs now, as the well-known document publishes it.
    let panel = html.split("id=\"integrity\"").nth(1).unwrap();
    let head: u64 = panel
        .split("id=\"integrity-head\">")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let hash = panel.split("the last one's hash is <code>").nth(1).unwrap();
    assert!(hash[..64].chars().all(|c| c.is_ascii_hexdigit()), "{panel}");
    let verified: u64 = panel
        .split("every event through ")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(verified > 0 && verified <= head, "{verified} of {head}");
    let keys = instance.server.get_json("/.well-known/warden-audit-keys").await;
    let key_id = keys["keys"][0]["key_id"].as_str().unwrap();
    assert!(
        panel.contains(&format!("<code>{key_id}</code>: from event 1")),
        "{panel}"
    );
    assert!(panel.contains("(signing now)"));
    assert!(!panel.contains("stopped checking"));

    // Hostile input in a filter the facets echo is escaped.
    let (status, html) = forms.html("/audit?q=%3Cscript%3Ealert(1)%3C/script%3E", &owner).await;
    assert_eq!(status, 200);
    assert!(!html.contains("<script>alert"), "{html}");
}

/// The address of the first link whose text ends with `text_end`.
fn link_to(html: &str, text_end: &str) -> String {
    let before = html.split(text_end).next().unwrap();
    let href = before.rsplit("href=\"").next().unwrap();
    href.split('"')
        .next()
        .unwrap()
        .replace("&#38;", "&")
        .replace("&amp;", "&")
}
