//! The auditor's offline tool (`tools/bundle-verify`) on the checkpoint
//! spec's vectors (`docs/spec/audit-checkpoint.md` §11), as the Rust and
//! Python checks read them.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::Value;
use warden_tests::process::bundle_verify as tool;

/// The auditor's tool on the spec's checkpoint vectors: every refused
/// document refused for its row's reason, the consistency proofs between
/// the two checkpoints checked, the refused proof documents refused.
#[test]
fn the_offline_tool_follows_the_checkpoint_vectors() {
    let vectors: Value =
        serde_json::from_str(include_str!("../../core/tests/fixtures/checkpoint-vectors.json")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let key = vectors["key"]["public_key"].as_str().unwrap();
    let file = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_string()
    };
    for vector in vectors["negative"].as_array().unwrap() {
        let name = vector["name"].as_str().unwrap();
        let path = file(&format!("{name}.json"), vector["text"].as_str().unwrap());
        let ran = tool(&["--checkpoint", &path, "--key", key]);
        assert_eq!(ran.code, 2, "{name}: {}", ran.out);
        let reason = vector["reason"].as_str().unwrap();
        match vector["rule"].as_str().unwrap() {
            // The tool's JSON reader words these its own way.
            "json" | "duplicate_member" => assert!(ran.out.contains("cannot use"), "{name}: {}", ran.out),
            _ => assert!(ran.out.contains(reason), "{name}: expected {reason:?} in {}", ran.out),
        }
    }
    let checkpoints: Vec<String> = vectors["checkpoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|vector| {
            file(
                &format!("cp-{}.json", vector["tree_size"]),
                vector["document"].as_str().unwrap(),
            )
        })
        .collect();
    let seven_to_twenty = vectors["consistency"]
        .as_array()
        .unwrap()
        .iter()
        .find(|vector| vector["from"] == 7)
        .unwrap();
    let proof = file("proof-7-20.json", seven_to_twenty["document"].as_str().unwrap());
    // Both checkpoints and a proof between them, with the signer's key.
    let between = |proof: &str| {
        let (first, second) = (&checkpoints[0], &checkpoints[1]);
        tool(&[
            "--checkpoint",
            first,
            "--checkpoint",
            second,
            "--consistency",
            proof,
            "--key",
            key,
        ])
    };
    let ran = between(&proof);
    assert_eq!(ran.code, 0, "{}", ran.out);
    assert!(
        ran.out
            .contains("consistent: the log of 20 events begins with the log of 7 events"),
        "{}",
        ran.out
    );
    // A checkpoint compared with nothing is said, not passed.
    let ran = tool(&["--checkpoint", &checkpoints[0], "--key", key]);
    assert_eq!(ran.code, 2, "{}", ran.out);
    assert!(ran.out.contains("was compared with nothing"), "{}", ran.out);
    for vector in vectors["consistency_negative"].as_array().unwrap() {
        let rule = vector["rule"].as_str().unwrap();
        if !["members", "format", "sizes", "proof"].contains(&rule) {
            continue;
        }
        let name = vector["name"].as_str().unwrap();
        let path = file(&format!("proof-{name}.json"), vector["document"].as_str().unwrap());
        let ran = between(&path);
        assert_eq!(ran.code, 2, "{name}: {}", ran.out);
        assert!(
            ran.out.contains(vector["reason"].as_str().unwrap()),
            "{name}: {}",
            ran.out
        );
    }
}
