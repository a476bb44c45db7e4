//! Signed export bundles, checked by three verifiers that must agree: the
//! standalone `tools/bundle-verify` (written apart from Warden),
//! `warden verify --bundle`, and the core verifier in-process. A bundle
//! Warden made verifies; any changed character, dropped or moved event is
//! caught, and the verdict names where.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};
use warden_core::chain::bundle::{self, Selection};
use warden_tests::audit::{LEGACY_PASSWORD, two_orgs};
use warden_tests::process::{Server, bundle_verify_bin};
use warden_tests::web::{WebClient, instance, set_up};

/// The standalone tool's exit code and verdict.
fn tool(path: &Path, keys: &[&str]) -> (i32, String) {
    let mut command = Command::new(bundle_verify_bin());
    command.arg(path);
    for key in keys {
        command.args(["--key", key]);
    }
    let output = command.output().unwrap();
    let verdict = String::from_utf8_lossy(&output.stdout).to_string();
    (output.status.code().unwrap(), verdict)
}

fn core(text: &str) -> Result<bundle::Verified, bundle::BundleError> {
    bundle::verify(text.as_bytes(), &[])
}

/// Asserts that all three verifiers refuse `text`, naming `names`.
fn refused_by_all(env: &warden_tests::process::NodeEnv, dir: &Path, text: &str, names: &str) {
    let path = dir.join("tampered.jsonl");
    std::fs::write(&path, text).unwrap();
    let error = core(text)
        .expect_err("the core verifier accepted a tampered bundle")
        .to_string();
    assert!(error.contains(names), "core: {error:?} should name {names:?}");
    let (code, verdict) = tool(&path, &[]);
    assert_eq!(code, 1, "bundle-verify: {verdict}");
    assert!(
        verdict.contains(names),
        "bundle-verify: {verdict:?} should name {names:?}"
    );
    let output = env.run(&["verify", "--bundle", path.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    let said = String::from_utf8_lossy(&output.stdout);
    assert!(said.contains(names), "warden verify: {said:?} should name {names:?}");
}

async fn app_events(server: &Server, count: usize, tag: &str) {
    for n in 0..count {
        let body = json!({"kind": "app.invoice.paid", "subject": format!("invoice:{tag}{n}"),
                          "data": {"amount": n, "note": format!("paid \"in full\", {tag}")}});
        assert_eq!(server.post_app_event(&body).await.status(), 201);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn range_bundles_verify_offline_and_any_tampering_is_named() {
    // A log signed by two keys: the genesis key, then a rotated one.
    let mut instance = instance(&[]).await;
    set_up(&instance.server).await;
    app_events(&instance.server, 25, "a").await;
    instance.server.terminate();
    let rotated = instance.env.run(&["keys", "rotate"]);
    assert!(rotated.status.success(), "{}", String::from_utf8_lossy(&rotated.stderr));
    instance.server = Server::start(&instance.env, "again").await;
    app_events(&instance.server, 25, "b").await;
    let keys = instance.server.get_json("/.well-known/warden-audit-keys").await;
    let current = keys["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|key| key["key_id"] == keys["current"])
        .map(|key| key["public_key"].as_str().unwrap().to_string())
        .unwrap();
    assert_eq!(keys["keys"].as_array().unwrap().len(), 2);
    instance.server.terminate();

    let dir = instance.env.data_dir.clone();
    let path = dir.join("range.jsonl");
    let exported = instance
        .env
        .run(&["export", "--bundle", "--from", "3", "--out", path.to_str().unwrap()]);
    assert!(
        exported.status.success(),
        "{}",
        String::from_utf8_lossy(&exported.stderr)
    );
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.lines().collect();

    // Intact, for all three, and with the published key pinned.
    let verified = core(&text).unwrap();
    let head = verified.checkpoint.tree_size;
    assert_eq!(verified.selection, Selection::Range { from: 3, to: head });
    assert_eq!(verified.events, head - 2);
    assert_eq!(hex_of(&verified.signer.1), current);
    let (code, verdict) = tool(&path, &[&current]);
    assert_eq!(code, 0, "{verdict}");
    assert!(
        verdict.starts_with(&format!("intact: {} events of the range 3..{head}", head - 2)),
        "{verdict}"
    );
    let output = instance
        .env
        .run(&["verify", "--bundle", path.to_str().unwrap(), "--trusted-key", &current]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stdout));

    // Another key pinned: refused.
    let stranger = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
    let (code, verdict) = tool(&path, &[stranger]);
    assert_eq!(code, 1);
    assert!(verdict.contains("not a key you trust"), "{verdict}");

    // Any changed character of any event line: caught by the core
    // verifier, naming that line; the other two agree on a sample.
    let mut tried = 0;
    for (index, line) in lines.iter().enumerate().skip(1).take(lines.len() - 2) {
        let number = index + 1;
        let positions: Vec<usize> = line
            .char_indices()
            .filter(|(_, c)| c.is_ascii_alphanumeric())
            .map(|(at, _)| at)
            .collect();
        for (k, &at) in positions.iter().step_by((positions.len() / 12).max(1)).enumerate() {
            let mut changed = lines.clone();
            let original = line.as_bytes()[at];
            let replacement = if original == b'0' {
                b'1'
            } else if original.is_ascii_digit() {
                b'0'
            } else if original == b'a' {
                b'b'
            } else {
                b'a'
            };
            let edited = format!("{}{}{}", &line[..at], replacement as char, &line[at + 1..]);
            changed[index] = &edited;
            let tampered = changed.join("\n") + "\n";
            let error = core(&tampered)
                .expect_err("a changed character went unnoticed")
                .to_string();
            assert!(
                error.contains(&format!("line {number}")),
                "line {number} at {at}: {error}"
            );
            if k % 6 == 0 {
                refused_by_all(&instance.env, &dir, &tampered, &format!("line {number}"));
            }
            tried += 1;
        }
    }
    assert!(tried > 300, "{tried}");

    // A dropped event, two events swapped, a cut-short bundle.
    let seq_of = |line: &str| {
        serde_json::from_str::<Value>(line).unwrap()["event"]["seq"]
            .as_u64()
            .unwrap()
    };
    let middle = lines.len() / 2;
    let mut dropped = lines.clone();
    dropped.remove(middle);
    refused_by_all(
        &instance.env,
        &dir,
        &(dropped.join("\n") + "\n"),
        &format!("seq {}", seq_of(lines[middle + 1])),
    );
    let mut swapped = lines.clone();
    swapped.swap(middle, middle + 1);
    refused_by_all(
        &instance.env,
        &dir,
        &(swapped.join("\n") + "\n"),
        &format!("seq {}", seq_of(lines[middle + 1])),
    );
    let cut = lines[..lines.len() - 3].join("\n") + "\n";
    refused_by_all(&instance.env, &dir, &cut, "cut short");
    // The header's checkpoint and the seal.
    let header = lines[0].replacen("\"tree_size\":", "\"tree_size\":1", 1);
    let mut bad_header = lines.clone();
    bad_header[0] = &header;
    refused_by_all(&instance.env, &dir, &(bad_header.join("\n") + "\n"), "checkpoint");
    let seal = lines[lines.len() - 1].replacen("\"events\":", "\"events\":9", 1);
    let mut bad_seal = lines.clone();
    let last = bad_seal.len() - 1;
    bad_seal[last] = &seal;
    refused_by_all(&instance.env, &dir, &(bad_seal.join("\n") + "\n"), "seal");
}

fn hex_of(key: &ed25519_dalek::VerifyingKey) -> String {
    hex::encode(key.as_bytes())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_auditors_search_bundle_proves_each_event_in_the_log() {
    let instance = two_orgs(&[]).await;
    let mut auditor = WebClient::new(&instance.server);
    assert_eq!(
        auditor.sign_in("auditor@globex.test", LEGACY_PASSWORD).await.status,
        200
    );
    for _ in 0..4 {
        let mut member = WebClient::new(&instance.server);
        assert_eq!(member.sign_in("member@globex.test", "wrong").await.status, 401);
    }
    // Acme's events interleave with Globex's: the bundle skips them.
    let mut other = WebClient::new(&instance.server);
    assert_eq!(other.sign_in("member@acme.test", LEGACY_PASSWORD).await.status, 200);
    let head = instance.server.get_json("/readyz").await["checks"]["projections"]["applied"]
        .as_u64()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while auditor.get("/api/v1/audit/events?limit=1").await.body["indexed_through"]
        .as_u64()
        .unwrap()
        < head
    {
        assert!(std::time::Instant::now() < deadline);
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }

    let answer = auditor.get("/api/v1/audit/export?format=bundle&kind=login.*").await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    let text = answer.body.as_str().unwrap().to_string();
    let verified = core(&text).unwrap();
    let Selection::Search { org, filters } = &verified.selection else {
        panic!()
    };
    assert_eq!(filters["kind"], "login.*");
    assert!(verified.events >= 5, "{}", verified.events);
    let lines: Vec<&str> = text.lines().collect();
    let events: Vec<Value> = lines[1..lines.len() - 1]
        .iter()
        .map(|line| serde_json::from_str::<Value>(line).unwrap()["event"].clone())
        .collect();
    assert!(
        events
            .iter()
            .all(|event| event["kind"].as_str().unwrap().starts_with("login."))
    );
    assert!(!text.contains("acme.test"), "no other org's event");
    let seqs: Vec<u64> = events.iter().map(|event| event["seq"].as_u64().unwrap()).collect();
    assert!(
        seqs.windows(2).any(|pair| pair[1] > pair[0] + 1),
        "a selection with gaps: {seqs:?}"
    );
    assert!(!org.is_empty());

    let dir = instance.env.data_dir.clone();
    let path = dir.join("search.jsonl");
    std::fs::write(&path, &text).unwrap();
    let (code, verdict) = tool(&path, &[]);
    assert_eq!(code, 0, "{verdict}");
    assert!(verdict.contains("a search of org"), "{verdict}");

    // A dropped event is named by the next one; swapping is named too.
    let seq_of = |line: &str| {
        serde_json::from_str::<Value>(line).unwrap()["event"]["seq"]
            .as_u64()
            .unwrap()
    };
    let mut dropped = lines.clone();
    dropped.remove(2);
    refused_by_all(
        &instance.env,
        &dir,
        &(dropped.join("\n") + "\n"),
        &format!("seq {}", seq_of(lines[3])),
    );
    let mut swapped = lines.clone();
    swapped.swap(2, 3);
    refused_by_all(
        &instance.env,
        &dir,
        &(swapped.join("\n") + "\n"),
        &format!("seq {}", seq_of(lines[3])),
    );
    // An event of the other org slipped in (a real, signed event of the
    // log, with a proof that is not its own) is refused.
    let mut foreign: Value = serde_json::from_str(lines[2]).unwrap();
    foreign["event"]["seq"] = json!(seq_of(lines[2]) + 1);
    let foreign = foreign.to_string();
    let mut slipped = lines.clone();
    slipped[2] = &foreign;
    refused_by_all(&instance.env, &dir, &(slipped.join("\n") + "\n"), "line 3");
}
