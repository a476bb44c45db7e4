//! `signing_key_max_age_days`: a node rotates the chain's signing key once
//! the current one is older than that, on its own, and the chain still
//! verifies. The old key is made days ago by running the command that
//! makes it under libfaketime (`faketime`, installed by tools/test-env.sh);
//! the node itself runs on the real clock.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use serde_json::Value;
use warden_tests::process::{NodeEnv, Server};
use warden_tests::web::exported;

/// The `signing_key.added` events of the node's log.
fn keys_added(env: &NodeEnv) -> Vec<Value> {
    exported(env)
        .into_iter()
        .filter(|event| event["kind"] == "signing_key.added")
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_rotates_a_signing_key_older_than_the_maximum_age() {
    let dir = tempfile::tempdir().unwrap();
    let mut env = NodeEnv::in_dir(dir.path());

    // The genesis key and a rotation, three days ago.
    env.clock = Some("-3d".into());
    let made = env.run(&["keys", "rotate"]);
    env.clock = None;
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let old = keys_added(&env);
    assert_eq!(old.len(), 2);
    let made_at = chrono::DateTime::parse_from_rfc3339(old[1]["at"].as_str().unwrap()).unwrap();
    assert!(
        chrono::Utc::now() - made_at.to_utc() > chrono::Duration::hours(71),
        "{made_at}"
    );

    // Younger than the maximum age: kept.
    env.extra = vec![("WARDEN_SIGNING_KEY_MAX_AGE_DAYS".into(), "4".into())];
    let mut server = Server::start(&env, "younger").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(server.terminate().success());
    assert_eq!(keys_added(&env).len(), 2, "a key younger than 4 days is kept");

    // Older: the node rotates it at its first check, once.
    env.extra = vec![("WARDEN_SIGNING_KEY_MAX_AGE_DAYS".into(), "2".into())];
    let mut server = Server::start(&env, "older").await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while !server.log().contains("signing key rotated") {
        assert!(Instant::now() < deadline, "no rotation:\n{}", server.log());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(server.terminate().success());
    let mut server = Server::start(&env, "again").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(server.terminate().success());
    let keys = keys_added(&env);
    assert_eq!(keys.len(), 3, "rotated once: the new key is young");
    assert_eq!(keys[2]["actor"]["kind"], "system");
    assert_eq!(keys[2]["actor"]["id"], "warden-schedule");
    assert_ne!(keys[2]["data"]["key_id"], keys[1]["data"]["key_id"]);
    let verified = env.run(&["verify"]);
    assert!(
        verified.status.success(),
        "{}{}",
        String::from_utf8_lossy(&verified.stdout),
        String::from_utf8_lossy(&verified.stderr)
    );
}
