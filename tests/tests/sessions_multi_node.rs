//! Sessions across two `warden serve` processes on one PostgreSQL and one
//! NATS JetStream: a session created on one node works on the other at
//! once, and a revocation on one is refused on the other. How fast is the
//! benchmark's to say (`tools/bench`, api-keys suite: "Revocation across
//! two nodes", the same path through NATS, a few milliseconds); here the
//! bound is generous (5 s), as tests share the machine's two cores.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use serde_json::json;
use warden_tests::Production;
use warden_tests::process::Server;
use warden_tests::web::{WebClient, create_user, set_up};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sessions_are_shared_and_revocations_reach_every_node() {
    const WITHIN: Duration = Duration::from_secs(5);
    // Held to the end: the database, stream and directory live as long.
    let production = Production::new().await;
    let env = &production.env;
    // A starts alone so that the setup link it printed is the live one.
    let a = Server::start(env, "a").await;
    let mut owner = set_up(&a).await;
    let b = Server::start(env, "b").await;
    assert!(b.setup_link().is_none(), "setup is complete: no link on B");
    create_user(&mut owner, "nina@acme.test", "member", "winter garden lights 7").await;

    for round in 0..5 {
        // Signed in on A, used on B at once: B either has applied the
        // session already or waits for the seq the cookie names.
        let mut on_a = WebClient::new(&a);
        let signed_in = on_a.sign_in("nina@acme.test", "winter garden lights 7").await;
        assert_eq!(signed_in.status, 200, "{:?}", signed_in.body);
        let mut on_b = on_a.on(&b);
        let seen = on_b.get("/api/v1/session").await;
        assert_eq!(seen.status, 200, "round {round}: {:?}", seen.body);
        assert_eq!(seen.body["user"]["email"], "nina@acme.test");

        // Signed out on A: refused on B.
        assert_eq!(on_a.post("/api/v1/sign-out", json!({})).await.status, 204);
        let revoked_at = Instant::now();
        loop {
            let answer = on_b.get("/api/v1/session").await;
            if answer.status == 401 {
                break;
            }
            assert!(
                revoked_at.elapsed() < WITHIN,
                "round {round}: B still accepts a session revoked on A"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    // An admin's revocation on B ends a session used on A.
    let mut on_a = WebClient::new(&a);
    on_a.sign_in("nina@acme.test", "winter garden lights 7").await;
    let nina = owner.on(&b).user_id("nina@acme.test").await;
    let mut admin_on_b = owner.on(&b);
    assert_eq!(
        admin_on_b
            .delete(&format!("/api/v1/users/{nina}/sessions"))
            .await
            .status,
        200
    );
    let revoked_at = Instant::now();
    while on_a.get("/api/v1/session").await.status != 401 {
        assert!(revoked_at.elapsed() < WITHIN, "A still accepts the revoked session");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
