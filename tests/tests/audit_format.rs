//! What an independent verifier found in the audit format (issue 15),
//! through the real binaries: bundles that end before a key rotation
//! verify (range and archive forms), and the bundle vectors hold for the
//! tool and for warden. The verdicts themselves: `audit_verdicts.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use serde_json::Value;
use warden_core::chain::bundle;
use warden_core::ledger::postgres::PostgresStore;
use warden_tests::TestDatabase;
use warden_tests::audit::two_orgs_on;
use warden_tests::exports::{export_bundle, log_facts, tool};
use warden_tests::process::{NodeEnv, Server};
use warden_tests::web::{instance, set_up};

/// A log signed by three keys: the genesis key, then two rotations with
/// application events between them. Returns the instance (stopped).
async fn rotated_log() -> warden_tests::web::Instance {
    let mut instance = instance(&[]).await;
    set_up(&instance.server).await;
    instance.server.post_invoices(6, "a").await;
    for round in ["b", "c"] {
        instance.server.terminate();
        let rotated = instance.env.ran(&["keys", "rotate"]);
        assert_eq!(rotated.code, 0, "{}", rotated.out);
        instance.server = Server::start(&instance.env, round).await;
        instance.server.post_invoices(6, round).await;
    }
    instance.server.terminate();
    instance
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn range_bundles_ending_before_at_and_after_each_rotation_verify_under_the_current_key() {
    let instance = rotated_log().await;
    let env = &instance.env;
    let (announced, (head, _), current) = log_facts(env);
    assert_eq!(announced.len(), 3, "{announced:?}");
    let (first_rotation, second_rotation) = (announced[1], announced[2]);
    let ends = [
        first_rotation - 1,
        first_rotation,
        first_rotation + 1,
        second_rotation - 1,
        second_rotation,
        head,
    ];
    for (n, to) in ends.into_iter().enumerate() {
        for from in [1, 3] {
            let path = export_bundle(env, from, to);
            let text = std::fs::read_to_string(&path).unwrap();
            // Core: proven under a checkpoint of the whole log, signed by
            // the current key (the one pinned).
            let pinned =
                ed25519_dalek::VerifyingKey::from_bytes(&hex::decode(&current).unwrap().try_into().unwrap()).unwrap();
            let verified =
                bundle::verify(text.as_bytes(), &[pinned]).unwrap_or_else(|error| panic!("{from}..{to}: {error}"));
            assert_eq!(verified.checkpoint.tree_size, head, "{from}..{to}");
            assert_eq!(verified.first.unwrap().0, from);
            assert_eq!(verified.last.unwrap().0, to);
            // The standalone tool, with the current key pinned.
            let checked = tool(&path, &["--key", &current]);
            assert_eq!(checked.code, 0, "{from}..{to}: {}", checked.out);
            assert!(
                checked.out.contains(&format!("events: seq {from}..{to}")),
                "{}",
                checked.out
            );
            assert!(
                checked.out.contains(&format!("checkpoint: head seq {head}")),
                "{}",
                checked.out
            );
            // `warden verify --bundle`, on a sample.
            if n % 2 == 0 {
                let said = env.ran(&["verify", "--bundle", path.to_str().unwrap(), "--trusted-key", &current]);
                assert_eq!(said.code, 0, "{from}..{to}: {}", said.out);
                assert!(said.out.contains(&format!("events: seq {from}..{to}")), "{}", said.out);
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_archive_made_after_a_later_rotation_verifies_offline() {
    const PARTITION_SIZE: i64 = 40;
    let database = TestDatabase::create().await;
    PostgresStore::migrate(&database.url).await.unwrap();
    let mut owner_db = database.superuser().await;
    sqlx::query("UPDATE ledger_settings SET value = $1 WHERE name = 'partition_size'")
        .bind(PARTITION_SIZE)
        .execute(&mut owner_db)
        .await
        .unwrap();
    let mut instance = two_orgs_on(&[], Some(&database.url)).await;
    let env = instance.env.clone();
    // Past the first partition, then a rotation, then past the second.
    let readyz_head = |body: Value| body["checks"]["projections"]["applied"].as_u64().unwrap();
    while readyz_head(instance.server.get_json("/readyz").await) < 45 {
        instance.server.post_invoices(5, "a").await;
    }
    instance.server.terminate();
    let rotated = env.ran(&["keys", "rotate"]);
    assert_eq!(rotated.code, 0, "{}", rotated.out);
    instance.server = Server::start(&env, "rotated").await;
    while readyz_head(instance.server.get_json("/readyz").await) < 90 {
        instance.server.post_invoices(5, "b").await;
    }
    instance.server.terminate();
    let (announced, _, current) = log_facts(&env);
    let rotation = *announced.last().unwrap();
    assert!(rotation > 40, "the rotation is after the archived range: {announced:?}");

    let out = env.data_dir.join("archive-1-40.jsonl");
    let archived = env.ran(&["archive", "--through", "40", "--out", out.to_str().unwrap()]);
    assert_eq!(archived.code, 0, "{}", archived.out);
    let checked = tool(&out, &["--key", &current]);
    assert_eq!(checked.code, 0, "{}", checked.out);
    assert!(checked.out.contains("events: seq 1..40"), "{}", checked.out);
    let said = env.ran(&["verify", "--bundle", out.to_str().unwrap(), "--trusted-key", &current]);
    assert_eq!(said.code, 0, "{}", said.out);
    // And the rest of the log verifies from the boundary.
    let verified = env.ran(&["verify"]);
    assert_eq!(verified.code, 0, "{}", verified.out);
    assert!(verified.out.contains("range: seq 41.."), "{}", verified.out);
}

/// The bundle spec's vectors (`core/tests/fixtures/bundle-vectors.json`)
/// through the standalone tool and `warden verify --bundle`: the bundle
/// verifies, each negative fails at the line the spec names.
#[test]
fn the_bundle_vectors_hold_for_the_tool_and_warden() {
    let fixture: Value = serde_json::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../core/tests/fixtures/bundle-vectors.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let env = NodeEnv::in_dir(dir.path());
    let test_key = "03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8";
    let path = dir.path().join("vectors.jsonl");
    std::fs::write(&path, fixture["bundle"].as_str().unwrap()).unwrap();
    let statement: Value = serde_json::from_str(fixture["checkpoint"]["statement"].as_str().unwrap()).unwrap();
    let head = format!("3:{}", statement["head"].as_str().unwrap());
    let checked = tool(&path, &["--key", test_key, "--expect-head", &head]);
    assert_eq!(checked.code, 0, "{}", checked.out);
    let said = env.ran(&["verify", "--bundle", path.to_str().unwrap(), "--trusted-key", test_key]);
    assert_eq!(said.code, 0, "{}", said.out);
    for negative in fixture["negative"].as_array().unwrap() {
        let name = negative["name"].as_str().unwrap();
        let path = dir.path().join(format!("{name}.jsonl"));
        std::fs::write(&path, negative["bundle"].as_str().unwrap()).unwrap();
        let line = negative["line"].as_u64().unwrap();
        let checked = tool(&path, &[]);
        assert_eq!(checked.code, 1, "{name}: {}", checked.out);
        assert!(
            checked.out.starts_with(&format!("FAILED at line {line}")),
            "{name}: {}",
            checked.out
        );
        let said = env.ran(&["verify", "--bundle", path.to_str().unwrap()]);
        assert_eq!(said.code, 1, "{name}: {}", said.out);
        assert!(
            said.out.starts_with(&format!("FAILED at line {line}")),
            "{name}: {}",
            said.out
        );
    }
}
