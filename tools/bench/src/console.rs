//! The console's people pages at 100,000 users (issue 21), against a real
//! `warden serve` (embedded profile): the users list (first page, a
//! search, a page far on), a user's page, and the owner's home page, whose
//! users figures count every member. p50/p99 over loopback.

use std::path::Path;
use std::time::Instant;

use warden_core::commands::Context;
use warden_core::commands::account::{self, Role, Status, UserCreated};
use warden_core::keys::{Kms, LocalKms};
use warden_core::ledger::Ledger;
use warden_core::ledger::sqlite::SqliteStore;
use warden_core::{Actor, ActorKind};

use crate::audit::percentile;
use crate::sessions::Node;

/// Pages timed per shape.
const PAGES: usize = 100;

fn email(n: u64) -> String {
    format!("user{n:06}@bench.test")
}

pub async fn run(warden: &Path, users: u64) {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start_with(warden, dir.path(), &[]).await;
    let (cookie, owner) = node.set_up().await;
    node.stop();
    let org = owner["org"]["id"].as_str().unwrap().to_string();
    let user = owner["user"]["id"].as_str().unwrap().to_string();
    let began = Instant::now();
    let first = add_users(dir.path(), &org, &user, users).await;
    println!(
        "{users} users added to the log in {:.1} s (appended directly, as an import would)\n",
        began.elapsed().as_secs_f64()
    );
    let node = Node::start_with(warden, dir.path(), &[]).await;
    node.settle().await;
    let http = reqwest::Client::new();
    println!("## The console's people pages ({users} users in the org)\n");
    println!("| page | p50 (ms) | p99 (ms) |");
    println!("| --- | ---: | ---: |");
    let middle = email(users / 2);
    for (shape, path, marker) in [
        ("users list, first page", "/admin/users".to_string(), "id=\"users\""),
        (
            "users list, searched by a word",
            "/admin/users?q=user04217".to_string(),
            "id=\"users\"",
        ),
        (
            "users list, a page half-way on",
            format!("/admin/users?after={middle}"),
            "id=\"users\"",
        ),
        ("a user's page", format!("/admin/users/{first}"), "<h1>"),
        (
            "the owner's home page (users by status and second factor)",
            "/".to_string(),
            "id=\"home-users\"",
        ),
    ] {
        let mut samples = Vec::with_capacity(PAGES);
        for _ in 0..PAGES {
            let began = Instant::now();
            let answer = http
                .get(format!("{}{path}", node.url))
                .header("cookie", &cookie)
                .send()
                .await
                .unwrap();
            assert_eq!(answer.status(), 200, "{path}");
            let html = answer.text().await.unwrap();
            samples.push(began.elapsed().as_secs_f64() * 1000.0);
            assert!(html.contains(marker), "{path}: {html}");
        }
        println!(
            "| {shape} | {:.1} | {:.1} |",
            percentile(&mut samples, 0.5),
            percentile(&mut samples, 0.99)
        );
    }
    println!("\n(Measured by the client over loopback: the server's time plus a local round trip.)");
    node.stop();
}

/// Appends `count` active members to the node's log in `dir`; the id of
/// the first.
async fn add_users(dir: &Path, org: &str, owner: &str, count: u64) -> String {
    let store = std::sync::Arc::new(SqliteStore::open(&dir.join("ledger.sqlite")).await.unwrap());
    let ledger = Ledger::new(store);
    let kms: std::sync::Arc<dyn Kms> = std::sync::Arc::new(LocalKms::open(&dir.join("master.key"), false).unwrap());
    warden_core::keys::signing::establish(&ledger, &kms.into())
        .await
        .unwrap();
    let mut actor = Actor::of_kind(ActorKind::User);
    actor.id = Some(owner.to_string());
    actor.org = Some(org.to_string());
    let context = Context {
        actor,
        request_id: "bench".into(),
    };
    let ids: Vec<String> = (0..count).map(|_| uuid::Uuid::now_v7().to_string()).collect();
    for (batch, chunk) in ids.chunks(1000).enumerate() {
        let events = chunk
            .iter()
            .enumerate()
            .map(|(n, id)| {
                let n = (batch * 1000 + n) as u64;
                let created = UserCreated {
                    org: org.to_string(),
                    email: email(n),
                    display_name: format!("User {n}"),
                    role: Role::Member,
                    status: Status::Active,
                    invitation: None,
                    import_id: None,
                    legacy_id: None,
                };
                account::create(&context, id, &created)
            })
            .collect();
        ledger.append(events).await.unwrap();
    }
    ids[0].clone()
}
