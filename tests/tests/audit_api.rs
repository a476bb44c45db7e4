//! The audit API over HTTP on a running server with two orgs: who may
//! read, org isolation, filters and pages, drill-down, clear refusals of
//! bad input, and every read recorded as an event.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashSet;
use std::time::{Duration, Instant};

use serde_json::Value;
use warden_tests::audit::{LEGACY_PASSWORD, two_orgs};
use warden_tests::web::{Forms, WebClient, assert_refused};

async fn signed_in(instance: &warden_tests::web::Instance, email: &str) -> WebClient {
    let mut client = WebClient::new(&instance.server);
    let answer = client.sign_in(email, LEGACY_PASSWORD).await;
    assert_eq!(answer.status, 200, "{email}: {:?}", answer.body);
    client
}

/// Every page of a search.
async fn everything(client: &mut WebClient, filters: &str) -> Vec<Value> {
    let mut events = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/api/v1/audit/events?limit=7&{filters}");
        if let Some(cursor) = &cursor {
            path.push_str(&format!("&cursor={cursor}"));
        }
        let answer = client.get(&path).await;
        assert_eq!(answer.status, 200, "{path}: {:?}", answer.body);
        events.extend(answer.body["events"].as_array().unwrap().iter().cloned());
        match answer.body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => return events,
        }
    }
}

/// Searches until the index holds `seq` (it commits about every second).
async fn indexed(client: &mut WebClient, seq: u64) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let answer = client.get("/api/v1/audit/events?limit=1").await;
        assert_eq!(answer.status, 200, "{:?}", answer.body);
        if answer.body["indexed_through"].as_u64().unwrap() >= seq {
            return;
        }
        assert!(Instant::now() < deadline, "the index did not reach {seq}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn seqs(events: &[Value]) -> Vec<u64> {
    events.iter().map(|event| event["seq"].as_u64().unwrap()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auditors_read_their_own_org_only_and_every_read_is_recorded() {
    let instance = two_orgs(&[]).await;
    let mut acme = signed_in(&instance, "auditor@acme.test").await;
    let mut globex = signed_in(&instance, "auditor@globex.test").await;
    let mut globex_member = WebClient::new(&instance.server);
    let failed = globex_member.sign_in("member@globex.test", "not the password").await;
    assert_eq!(failed.status, 401);
    let member_signed_in = globex_member.sign_in("member@globex.test", LEGACY_PASSWORD).await;
    assert_eq!(member_signed_in.status, 200);
    let head = instance.server.get_json("/readyz").await["checks"]["projections"]["applied"]
        .as_u64()
        .unwrap();
    indexed(&mut acme, head).await;

    // Only owners and auditors; others get a clear refusal.
    for email in ["member@acme.test", "admin@acme.test"] {
        let mut other = signed_in(&instance, email).await;
        assert_refused(&other.get("/api/v1/audit/events").await, 403, "forbidden");
    }
    let mut anonymous = WebClient::new(&instance.server);
    assert_refused(&anonymous.get("/api/v1/audit/events").await, 401, "session_required");
    let mut owner = signed_in(&instance, "owner@acme.test").await;
    assert_eq!(owner.get("/api/v1/audit/events").await.status, 200);

    // Each sees their own org's trail, and nothing of the other's.
    let of_acme = everything(&mut acme, "order=oldest").await;
    let of_globex = everything(&mut globex, "order=oldest").await;
    assert!(!of_acme.is_empty() && !of_globex.is_empty());
    let acme_seqs: HashSet<u64> = seqs(&of_acme).into_iter().collect();
    assert!(seqs(&of_globex).iter().all(|seq| !acme_seqs.contains(seq)));
    let globex_failure = of_globex
        .iter()
        .find(|event| event["kind"] == "login.failed" && event["data"]["identifier"].is_string())
        .expect("the anonymous failure on a Globex account is in Globex's trail");
    assert_eq!(globex_failure["outcome"], "failure");
    for event in &of_acme {
        let text = event.to_string();
        assert!(!text.contains("globex.test"), "Acme's trail shows {text}");
    }
    // Not by text, kind or detail either.
    let by_text = acme.get("/api/v1/audit/events?q=member%40globex.test").await;
    assert_eq!(by_text.body["total"], 0);
    let seq = globex_failure["seq"].as_u64().unwrap();
    assert_refused(
        &acme.get(&format!("/api/v1/audit/events/{seq}")).await,
        404,
        "event_not_found",
    );
    assert_refused(
        &acme.get("/api/v1/audit/events/999999999").await,
        404,
        "event_not_found",
    );
    // The console answers the same: Globex's event is not Acme's to open,
    // search or download.
    let pages = Forms::new(&instance.server);
    let cookie = acme.cookie.clone().unwrap();
    let page = pages.get(&format!("/audit/events/{seq}"), Some(&cookie)).await;
    assert_eq!(page.status(), 404);
    for path in [
        "/audit?q=member%40globex.test",
        "/audit?kind=login.failed",
        "/audit/export?format=csv",
    ] {
        let page = pages.get(path, Some(&cookie)).await;
        let status = page.status();
        let text = page.text().await.unwrap();
        assert!(status == 200 || status == 303, "{path}: {status}");
        // The page repeats the query in its form; what it found follows.
        let found = text.split("id=\"audit-results\"").nth(1).unwrap_or(&text);
        let found = if path.contains("/export") { text.as_str() } else { found };
        assert!(!found.contains("globex.test"), "{path} shows Globex: {text}");
        assert!(
            !text.contains(&format!("/audit/events/{seq}\"")),
            "{path} links Globex's event"
        );
    }

    // Filters, and pages that add up to the whole.
    let logins = everything(&mut globex, "kind=login.*&order=newest").await;
    assert!(logins.len() >= 3, "{logins:?}");
    assert!(
        logins
            .iter()
            .all(|event| event["kind"].as_str().unwrap().starts_with("login."))
    );
    let newest_first = seqs(&logins);
    let mut sorted = newest_first.clone();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(newest_first, sorted);
    let failures = everything(&mut globex, "kind=login.failed&outcome=failure&actor_kind=anonymous").await;
    assert_eq!(seqs(&failures), vec![seq]);
    // Words of the data: the member's email is in their `user.created`;
    // Acme's auditor finds nothing by it (above).
    let by_email = everything(&mut globex, "q=member%40globex.test").await;
    assert!(
        by_email.iter().any(|event| event["kind"] == "user.created"),
        "{by_email:?}"
    );

    // The detail, and its drill-down searches.
    let detail = globex.get(&format!("/api/v1/audit/events/{seq}?window=5")).await;
    assert_eq!(detail.status, 200, "{:?}", detail.body);
    assert_eq!(detail.body["event"]["seq"], seq);
    let same_request = detail.body["related"]["same_request"].as_str().unwrap().to_string();
    let related = globex.get(&same_request).await;
    assert!(seqs(related.body["events"].as_array().unwrap()).contains(&seq));
    let same_subject = detail.body["related"]["same_subject"].as_str().unwrap().to_string();
    let subject_events = globex.get(&same_subject).await;
    assert!(
        subject_events.body["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|event| event["kind"] == "login.succeeded"),
        "the same identifier signed in afterwards"
    );

    // Bad input: a 400 that says what is wrong, with the request id.
    for (query, says) in [
        ("kind=Login.Failed", "kind pattern"),
        ("ip=300.1.2.3", "ip"),
        ("from=yesterday", "from must be"),
        ("from=2026-11-28&until=2026-11-27", "from must be before until"),
        ("limit=0", "limit must be"),
        ("limit=1001", "limit must be"),
        ("order=sideways", "order must be"),
        ("outcome=maybe", "outcome must be"),
        ("q=%21%21%21", "no word"),
        ("colour=blue", "colour"),
    ] {
        let answer = globex.get(&format!("/api/v1/audit/events?{query}")).await;
        assert_refused(&answer, 400, "bad_request");
        let message = answer.body["error"]["message"].as_str().unwrap();
        assert!(message.contains(says), "{query}: {message}");
    }
    assert_refused(&globex.get("/api/v1/audit/events/abc").await, 400, "bad_request");

    // Every search and view is an event in the reader's org trail, naming
    // the reader and what they asked.
    let head = instance.server.get_json("/readyz").await["checks"]["projections"]["applied"]
        .as_u64()
        .unwrap();
    indexed(&mut globex, head).await;
    let reads = everything(&mut globex, "kind=audit.*&order=oldest").await;
    let viewed = reads
        .iter()
        .find(|event| event["kind"] == "audit.event_viewed")
        .unwrap();
    assert_eq!(viewed["data"]["seq"], seq);
    assert_eq!(viewed["data"]["org"], viewed["actor"]["org"]);
    let searched = reads
        .iter()
        .find(|event| event["kind"] == "audit.searched" && event["data"]["filters"]["kind"] == "login.failed")
        .unwrap();
    assert_eq!(searched["data"]["filters"]["outcome"], "failure");
    assert_eq!(searched["data"]["total"], 1);
    assert_eq!(searched["actor"]["kind"], "user");
    // The refused reads are in Acme's trail as denials, naming who was
    // refused, what code they got, and where.
    let denials = everything(&mut acme, "kind=access.denied&order=oldest").await;
    let refused: Vec<(&str, &str)> = denials
        .iter()
        .map(|event| {
            (
                event["data"]["code"].as_str().unwrap(),
                event["data"]["path"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        refused,
        [
            ("forbidden", "/api/v1/audit/events"),
            ("forbidden", "/api/v1/audit/events")
        ]
    );
    assert!(
        denials
            .iter()
            .all(|event| event["outcome"] == "denied" && event["actor"]["kind"] == "user")
    );
    // Acme's own reads are not in Globex's trail, and refused ones are
    // not recorded as reads.
    let acme_reads = everything(&mut acme, "kind=audit.searched").await;
    assert!(!acme_reads.is_empty());
    let globex_read_seqs: HashSet<u64> = seqs(&reads).into_iter().collect();
    assert!(seqs(&acme_reads).iter().all(|seq| !globex_read_seqs.contains(seq)));
}

/// The rows of a CSV text (RFC 4180: quoted fields, doubled quotes).
fn csv_rows(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\r') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => field.push(c),
        }
    }
    rows
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exports_stream_the_selection_and_need_a_recent_sign_in() {
    let instance = two_orgs(&[("WARDEN_STEP_UP_MAX_AGE_SECONDS", "3")]).await;
    let mut acme = signed_in(&instance, "auditor@acme.test").await;
    let mut globex = signed_in(&instance, "auditor@globex.test").await;
    for _ in 0..3 {
        let mut member = WebClient::new(&instance.server);
        assert_eq!(member.sign_in("member@globex.test", "wrong password").await.status, 401);
    }
    let head = instance.server.get_json("/readyz").await["checks"]["projections"]["applied"]
        .as_u64()
        .unwrap();
    indexed(&mut globex, head).await;

    // CSV: the documented columns, one row per matching event, oldest
    // first: the same events a search finds.
    let answer = globex.get("/api/v1/audit/export?format=csv&kind=login.*").await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    assert_eq!(answer.headers["content-type"], "text/csv; charset=utf-8");
    assert!(
        answer.headers["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment; filename=\"audit-")
    );
    let rows = csv_rows(answer.body.as_str().unwrap());
    // The documented columns, written out: a change to them is a change
    // to what auditors' tools read.
    assert_eq!(
        rows[0].join(","),
        "seq,at,kind,outcome,subject,subject_version,actor_kind,actor_id,actor_org,\
         actor_ip,actor_on_behalf_of,attribution,request_id,data,hash,key_id,summary"
    );
    let searched = everything(&mut globex, "kind=login.*&order=oldest").await;
    let exported: Vec<u64> = rows[1..].iter().map(|row| row[0].parse().unwrap()).collect();
    assert_eq!(exported, seqs(&searched)[..exported.len()]);
    assert!(exported.len() >= 4, "{exported:?}");
    for (row, event) in rows[1..].iter().zip(&searched) {
        assert_eq!(row[2], event["kind"].as_str().unwrap());
        assert_eq!(row[11], "warden");
        assert_eq!(row[14], event["hash"].as_str().unwrap());
        let data: Value = serde_json::from_str(&row[13]).unwrap();
        assert_eq!(data, event["data"]);
        // What happened, in words: a sign-in, from where.
        assert!(row[16].contains("sign"), "{row:?}");
        assert!(row[16].contains(" from 127.0.0.1"), "{row:?}");
    }

    // JSON Lines: each event exactly as stored and signed.
    let answer = globex.get("/api/v1/audit/export?format=jsonl").await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.headers["content-type"], "application/x-ndjson");
    // A selection, not a chain: its name says it, only a bundle proves it.
    let disposition = answer.headers["content-disposition"].to_str().unwrap();
    assert!(disposition.ends_with(".selection.jsonl\""), "{disposition}");
    let lines: Vec<warden_core::Event> = answer
        .body
        .as_str()
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert!(
        lines
            .iter()
            .all(|event| warden_core::chain::Envelope::of(event).hash().unwrap() == event.hash)
    );
    let acme_export = acme.get("/api/v1/audit/export?format=jsonl").await;
    assert!(!acme_export.body.as_str().unwrap().contains("globex.test"));

    // Bad input is refused before anything is recorded or sent.
    for query in ["format=xml", "limit=5", "cursor=3", "kind=Nope"] {
        assert_refused(
            &globex.get(&format!("/api/v1/audit/export?{query}")).await,
            400,
            "bad_request",
        );
    }

    // Each export is recorded, with what it holds.
    let head = instance.server.get_json("/readyz").await["checks"]["projections"]["applied"]
        .as_u64()
        .unwrap();
    indexed(&mut globex, head).await;
    let records = everything(&mut globex, "kind=audit.exported&order=oldest").await;
    assert_eq!(records.len(), 2, "{records:?}");
    assert_eq!(records[0]["data"]["format"], "csv");
    assert_eq!(records[0]["data"]["filters"]["kind"], "login.*");
    assert_eq!(records[0]["data"]["total"], exported.len());
    assert_eq!(records[1]["data"]["total"], lines.len());

    // A stale sign-in must confirm the password first.
    tokio::time::sleep(Duration::from_millis(3500)).await;
    assert_refused(
        &globex.get("/api/v1/audit/export").await,
        403,
        "reauthentication_required",
    );
    let confirmed = globex
        .post(
            "/api/v1/session/reauthenticate",
            serde_json::json!({ "password": LEGACY_PASSWORD }),
        )
        .await;
    assert_eq!(confirmed.status, 200, "{:?}", confirmed.body);
    assert_eq!(globex.get("/api/v1/audit/export").await.status, 200);
}

/// A link on another site (a top-level navigation: the `SameSite=Lax`
/// cookie comes along) cannot make an auditor's session run or export a
/// search of the linker's choosing: the API refuses it, the console shows
/// the form filled in but does not run it, and nothing is recorded as the
/// auditor's search. Viewing one event by a link works (alert emails link
/// to events) and is recorded as opened from another site.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn links_from_other_sites_do_not_search_as_the_auditor() {
    let instance = two_orgs(&[]).await;
    let mut auditor = signed_in(&instance, "auditor@acme.test").await;
    let head = instance.server.get_json("/readyz").await["checks"]["projections"]["applied"]
        .as_u64()
        .unwrap();
    indexed(&mut auditor, head).await;
    let own_event = auditor.get("/api/v1/audit/events?limit=1").await.body["events"][0]["seq"]
        .as_u64()
        .unwrap();
    let mut linked = auditor.clone();
    linked.origin = None;
    linked.headers = vec![
        ("sec-fetch-site".into(), "cross-site".into()),
        ("sec-fetch-mode".into(), "navigate".into()),
    ];
    for path in [
        "/api/v1/audit/events?q=planted%20words",
        "/api/v1/audit/export?format=csv&q=planted%20words",
    ] {
        assert_refused(&linked.get(path).await, 403, "cross_site");
    }
    let page = linked.get("/audit?q=planted+words").await;
    assert_eq!(page.status, 200);
    let html = page.body.as_str().unwrap();
    assert!(html.contains("was not run"), "{html}");
    assert!(html.contains("planted words"), "the form is filled in");
    // A navigation within Warden runs the same search.
    let mut same_origin = auditor.clone();
    same_origin.headers = vec![
        ("sec-fetch-site".into(), "same-origin".into()),
        ("sec-fetch-mode".into(), "navigate".into()),
    ];
    assert_eq!(
        same_origin.get("/api/v1/audit/events?q=planted%20words").await.status,
        200
    );

    let viewed = linked.get(&format!("/api/v1/audit/events/{own_event}")).await;
    assert_eq!(viewed.status, 200, "{:?}", viewed.body);
    let events = warden_tests::web::events(&instance);
    let planted: Vec<&Value> = events
        .iter()
        .filter(|event| event["kind"] == "audit.searched" && event["data"]["filters"]["q"] == "planted words")
        .collect();
    assert_eq!(
        planted.len(),
        1,
        "only the same-origin search was recorded: {planted:?}"
    );
    assert!(!events.iter().any(|event| event["kind"] == "audit.exported"));
    let view = events
        .iter()
        .rev()
        .find(|event| event["kind"] == "audit.event_viewed")
        .unwrap();
    assert_eq!(view["data"]["from_another_site"], true);
}
