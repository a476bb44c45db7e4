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
