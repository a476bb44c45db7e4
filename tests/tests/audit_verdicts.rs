//! The verdicts of the audit verifiers, through the real binaries
//! (issue 15): duplicate and unknown members are refused by every
//! verifier and by the API; every verdict names the span it covered, and
//! `--expect-from` / `--expect-head` catch a file cut at either end.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use serde_json::{Value, json};
use warden_core::chain::bundle;
use warden_tests::exports::{export_bundle, log_facts, tool};
use warden_tests::process::NodeEnv;
use warden_tests::web::{instance, set_up};

/// Writes `text` and returns the verdicts of the core verifier, the tool
/// and `warden verify --bundle`: each must refuse, naming `line`.
fn refused_everywhere(env: &NodeEnv, name: &str, text: &str, line: u64) {
    let path = env.data_dir.join(format!("{name}.jsonl"));
    std::fs::write(&path, text).unwrap();
    let error = bundle::verify(text.as_bytes(), &[]).expect_err(name);
    assert_eq!(error.line, line, "{name}: core: {error}");
    let checked = tool(&path, &[]);
    assert_eq!(checked.code, 1, "{name}: tool: {}", checked.out);
    assert!(
        checked.out.starts_with(&format!("FAILED at line {line}")),
        "{name}: tool: {}",
        checked.out
    );
    let said = env.ran(&["verify", "--bundle", path.to_str().unwrap()]);
    assert_eq!(said.code, 1, "{name}: warden: {}", said.out);
    assert!(
        said.out.starts_with(&format!("FAILED at line {line}")),
        "{name}: warden: {}",
        said.out
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_and_unknown_members_are_refused_by_every_verifier_and_the_api() {
    let mut instance = instance(&[]).await;
    set_up(&instance.server).await;
    instance.server.post_invoices(4, "a").await;
    // The API refuses a body that names a member twice, whichever value
    // a reader would keep.
    let answer = reqwest::Client::new()
        .post(format!("{}/api/v1/app-events", instance.server.url))
        .bearer_auth(warden_tests::process::TOKEN)
        .header("content-type", "application/json")
        .body(r#"{"kind":"app.invoice.paid","subject":"invoice:x","data":{"amount":1,"amount":1000}}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 400);
    let body: Value = answer.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("duplicate member name \"amount\""),
        "{body}"
    );
    assert!(body["error"]["request_id"].is_string(), "{body}");
    instance.server.terminate();
    let env = &instance.env;
    let (_, (head, _), _) = log_facts(env);
    let path = export_bundle(env, 1, head);
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<String> = text.lines().map(str::to_string).collect();
    let n = lines.len();
    let join = |lines: &[String]| lines.join("\n") + "\n";
    // The application event with `"amount":3`.
    let target = lines.iter().position(|line| line.contains("\"amount\":3")).unwrap();
    let with = |index: usize, line: String| {
        let mut changed = lines.clone();
        changed[index] = line;
        join(&changed)
    };

    // A forged first value before the real one, in `data`.
    let forged = lines[target].replacen("\"amount\":3", "\"amount\":3000,\"amount\":3", 1);
    refused_everywhere(env, "duplicate-data", &with(target, forged), target as u64 + 1);
    // A whole forged `event` before the real one.
    let event_start = lines[target].find("\"event\":").unwrap();
    let event_text = {
        let value: Value = serde_json::from_str(&lines[target]).unwrap();
        let mut event = value["event"].clone();
        event["kind"] = json!("app.invoice.refunded");
        event.to_string()
    };
    let mut doubled = lines[target].clone();
    doubled.insert_str(event_start, &format!("\"event\":{event_text},"));
    refused_everywhere(env, "duplicate-event", &with(target, doubled), target as u64 + 1);
    // A duplicated mark, and a duplicated header format.
    let mark = lines[target].replacen("\"mark\":", "\"mark\":\"00\",\"mark\":", 1);
    refused_everywhere(env, "duplicate-mark", &with(target, mark), target as u64 + 1);
    let header = lines[0].replacen("{", "{\"format\":\"something-else\",", 1);
    refused_everywhere(env, "duplicate-format", &with(0, header), 1);
    // Unknown members: in an event line, in its event, in the seal and next to it.
    let unknown = lines[target].replacen("{", "{\"note\":\"x\",", 1);
    refused_everywhere(env, "unknown-in-line", &with(target, unknown), target as u64 + 1);
    let unknown = lines[target].replacen("\"event\":{", "\"event\":{\"note\":\"x\",", 1);
    refused_everywhere(env, "unknown-in-event", &with(target, unknown), target as u64 + 1);
    let unknown = lines[n - 1].replacen("\"seal\":{", "\"seal\":{\"note\":\"x\",", 1);
    refused_everywhere(env, "unknown-in-seal", &with(n - 1, unknown), n as u64);
    let unknown = lines[n - 1].replacen("{", "{\"note\":\"x\",", 1);
    refused_everywhere(env, "unknown-next-to-seal", &with(n - 1, unknown), n as u64);
    // A null proof is not an absent one.
    let null_proof = lines[1].replacen("\"mark\":", "\"proof\":null,\"mark\":", 1);
    refused_everywhere(env, "null-proof", &with(1, null_proof), 2);
    // Data after the seal, even after a blank line; CRLF line ends.
    refused_everywhere(env, "after-seal", &(text.clone() + "{\"seal\":{}}\n"), n as u64 + 1);
    refused_everywhere(env, "blank-then-data", &(text.clone() + "\nmore\n"), n as u64 + 1);
    refused_everywhere(env, "crlf", &text.replace('\n', "\r\n"), 1);
    // The intact bundle still verifies everywhere.
    assert_eq!(tool(&path, &[]).code, 0);

    // A JSON Lines export: the duplicate is refused by `warden verify --file`.
    let export = env.data_dir.join("all.jsonl");
    let exported: Vec<String> = std::fs::read_to_string(&export)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    let last = exported.iter().position(|line| line.contains("\"amount\":3")).unwrap();
    let mut forged = exported.clone();
    forged[last] = exported[last].replacen("\"amount\":3", "\"amount\":3000,\"amount\":3", 1);
    let forged_path = env.data_dir.join("forged.jsonl");
    std::fs::write(&forged_path, join(&forged)).unwrap();
    let said = env.ran(&["verify", "--file", forged_path.to_str().unwrap()]);
    assert_eq!(said.code, 1, "{}", said.out);
    assert!(
        said.out.starts_with(&format!(
            "FAILED at line {}: not an event: duplicate member name",
            last + 1
        )),
        "{}",
        said.out
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verdicts_name_their_span_and_expectations_catch_a_file_cut_at_either_end() {
    let mut instance = instance(&[]).await;
    set_up(&instance.server).await;
    instance.server.post_invoices(10, "a").await;
    instance.server.terminate();
    let env = &instance.env;
    let (_, (head, head_hash), current) = log_facts(env);
    let all = env.data_dir.join("all.jsonl");
    let lines: Vec<String> = std::fs::read_to_string(&all)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    let write = |name: &str, lines: &[String]| {
        let path = env.data_dir.join(name);
        let text = if lines.is_empty() {
            String::new()
        } else {
            lines.join("\n") + "\n"
        };
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_string()
    };
    let expected_head = format!("{head}:{head_hash}");

    // The whole log, from its genesis.
    let whole = write("whole.jsonl", &lines);
    let said = env.ran(&[
        "verify",
        "--file",
        &whole,
        "--expect-from",
        "1",
        "--expect-head",
        &expected_head,
    ]);
    assert_eq!(said.code, 0, "{}", said.out);
    assert!(
        said.out.contains(&format!("range: seq 1..{head}, from the genesis")),
        "{}",
        said.out
    );

    // Its first four events cut off: intact with the key pinned, but the
    // verdict says where it starts; the promised start catches it.
    let headless = write("headless.jsonl", &lines[4..]);
    let said = env.ran(&["verify", "--file", &headless, "--trusted-key", &current]);
    assert_eq!(said.code, 0, "{}", said.out);
    assert!(
        said.out
            .contains(&format!("range: seq 5..{head}, not from the genesis")),
        "{}",
        said.out
    );
    assert!(said.out.contains("(the hash of seq 4)"), "{}", said.out);
    // The same with the key document; one without its format is refused.
    let document = env.data_dir.join("keys.json");
    std::fs::write(
        &document,
        json!({"format": "warden-audit-keys/v1", "keys": [{"public_key": current}]}).to_string(),
    )
    .unwrap();
    let said = env.ran(&["verify", "--file", &headless, "--keys", document.to_str().unwrap()]);
    assert_eq!(said.code, 0, "{}", said.out);
    std::fs::write(&document, json!({"keys": [{"public_key": current}]}).to_string()).unwrap();
    let said = env.ran(&["verify", "--file", &headless, "--keys", document.to_str().unwrap()]);
    assert_eq!(said.code, 2, "{}", said.out);
    assert!(said.out.contains("not a warden-audit-keys/v1 document"), "{}", said.out);
    let said = env.ran(&[
        "verify",
        "--file",
        &headless,
        "--trusted-key",
        &current,
        "--expect-from",
        "1",
    ]);
    assert_eq!(said.code, 1, "{}", said.out);
    assert!(said.out.starts_with("FAILED at seq 1: missing"), "{}", said.out);

    // Its last three events cut off: the promised head catches it.
    let tailless = write("tailless.jsonl", &lines[..lines.len() - 3]);
    let said = env.ran(&["verify", "--file", &tailless]);
    assert_eq!(said.code, 0, "{}", said.out);
    let said = env.ran(&["verify", "--file", &tailless, "--expect-head", &expected_head]);
    assert_eq!(said.code, 1, "{}", said.out);
    assert!(
        said.out.starts_with(&format!("FAILED at seq {}: missing", head - 2)),
        "{}",
        said.out
    );
    // Another hash at the promised head: rewritten.
    let other = format!("{head}:{}", "ab".repeat(32));
    let said = env.ran(&["verify", "--file", &whole, "--expect-head", &other]);
    assert_eq!(said.code, 1, "{}", said.out);
    assert!(
        said.out
            .starts_with(&format!("FAILED at seq {head}: its hash is {head_hash}")),
        "{}",
        said.out
    );
    // The database itself, with the same expectations.
    let said = env.ran(&["verify", "--expect-from", "1", "--expect-head", &expected_head]);
    assert_eq!(said.code, 0, "{}", said.out);
    let said = env.ran(&["verify", "--expect-head", &format!("{}:{head_hash}", head + 5)]);
    assert_eq!(said.code, 1, "{}", said.out);
    assert!(
        said.out.starts_with(&format!("FAILED at seq {}: missing", head + 1)),
        "{}",
        said.out
    );

    // An empty file is not intact: nothing was verified.
    let empty = write("empty.jsonl", &[]);
    let said = env.ran(&["verify", "--file", &empty]);
    assert_eq!(said.code, 2, "{}", said.out);
    assert!(said.out.contains("nothing verified: 0 events"), "{}", said.out);
    assert!(!said.out.contains("intact"), "{}", said.out);
    let said = env.ran(&["verify", "--file", &empty, "--expect-from", "1"]);
    assert_eq!(said.code, 1, "{}", said.out);
    // A blank line is not skipped: the file rules are the spec's.
    let mut blank = lines.clone();
    blank.insert(3, String::new());
    let blank = write("blank.jsonl", &blank);
    let said = env.ran(&["verify", "--file", &blank]);
    assert_eq!(said.code, 1, "{}", said.out);
    assert!(
        said.out.starts_with("FAILED at line 4: not an event: a blank line"),
        "{}",
        said.out
    );

    // A bundle's verdict names its events and checkpoint; a promised
    // start and head are checked against them.
    let path = export_bundle(env, 3, head);
    let path = path.to_str().unwrap();
    let said = env.ran(&["verify", "--bundle", path, "--expect-head", &expected_head]);
    assert_eq!(said.code, 0, "{}", said.out);
    assert!(said.out.contains(&format!("events: seq 3..{head}")), "{}", said.out);
    let said = env.ran(&["verify", "--bundle", path, "--expect-from", "1"]);
    assert_eq!(said.code, 1, "{}", said.out);
    let checked = tool(Path::new(path), &["--expect-from", "1"]);
    assert_eq!(checked.code, 1, "{}", checked.out);
    assert!(checked.out.starts_with("FAILED at seq 1: missing"), "{}", checked.out);
    let later = format!("{}:{head_hash}", head + 1);
    let checked = tool(Path::new(path), &["--expect-head", &later]);
    assert_eq!(checked.code, 1, "{}", checked.out);
    assert!(
        checked.out.starts_with(&format!("FAILED at seq {}: missing", head + 1)),
        "{}",
        checked.out
    );
}
