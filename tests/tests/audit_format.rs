//! What an independent verifier found in the audit format (issue 15),
//! through the real binaries: bundles that end before a key rotation
//! verify (range and archive forms); duplicate and unknown members are
//! refused by every verifier and by the API; every verdict names the span
//! it covered, and `--expect-from` / `--expect-head` catch a file cut at
//! either end.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use warden_core::chain::bundle;
use warden_core::ledger::postgres::PostgresStore;
use warden_tests::TestDatabase;
use warden_tests::audit::two_orgs_on;
use warden_tests::process::{NodeEnv, Ran, Server, bundle_verify};
use warden_tests::web::{instance, set_up};

fn run(env: &NodeEnv, args: &[&str]) -> Ran {
    env.ran(args)
}

fn tool(path: &Path, args: &[&str]) -> Ran {
    bundle_verify(&[&[path.to_str().unwrap()], args].concat())
}

async fn app_events(server: &Server, count: usize, tag: &str) {
    for n in 0..count {
        let body = json!({"kind": "app.invoice.paid", "subject": format!("invoice:{tag}{n}"),
                          "data": {"amount": n, "currency": "EUR"}});
        assert_eq!(server.post_app_event(&body).await.status(), 201);
    }
}

/// The seqs of the log's key announcements, its head seq and hash, and
/// the current public key, from a full export.
fn log_facts(env: &NodeEnv) -> (Vec<u64>, (u64, String), String) {
    let path = env.data_dir.join("all.jsonl");
    let exported = run(env, &["export", "--out", path.to_str().unwrap()]);
    assert_eq!(exported.code, 0, "{}", exported.out);
    let events: Vec<Value> = std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let announcements: Vec<&Value> = events.iter().filter(|e| e["kind"] == "signing_key.added").collect();
    let last = events.last().unwrap();
    (
        announcements.iter().map(|e| e["seq"].as_u64().unwrap()).collect(),
        (
            last["seq"].as_u64().unwrap(),
            last["hash"].as_str().unwrap().to_string(),
        ),
        announcements.last().unwrap()["data"]["public_key"]
            .as_str()
            .unwrap()
            .to_string(),
    )
}

fn export_bundle(env: &NodeEnv, from: u64, to: u64) -> PathBuf {
    let path = env.data_dir.join(format!("range-{from}-{to}.jsonl"));
    let exported = run(
        env,
        &[
            "export",
            "--bundle",
            "--from",
            &from.to_string(),
            "--to",
            &to.to_string(),
            "--out",
            path.to_str().unwrap(),
        ],
    );
    assert_eq!(exported.code, 0, "{}", exported.out);
    path
}

/// A log signed by three keys: the genesis key, then two rotations with
/// application events between them. Returns the instance (stopped).
async fn rotated_log() -> warden_tests::web::Instance {
    let mut instance = instance(&[]).await;
    set_up(&instance.server).await;
    app_events(&instance.server, 6, "a").await;
    for round in ["b", "c"] {
        instance.server.terminate();
        let rotated = run(&instance.env, &["keys", "rotate"]);
        assert_eq!(rotated.code, 0, "{}", rotated.out);
        instance.server = Server::start(&instance.env, round).await;
        app_events(&instance.server, 6, round).await;
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
                let said = run(
                    env,
                    &["verify", "--bundle", path.to_str().unwrap(), "--trusted-key", &current],
                );
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
        app_events(&instance.server, 5, "a").await;
    }
    instance.server.terminate();
    let rotated = run(&env, &["keys", "rotate"]);
    assert_eq!(rotated.code, 0, "{}", rotated.out);
    instance.server = Server::start(&env, "rotated").await;
    while readyz_head(instance.server.get_json("/readyz").await) < 90 {
        app_events(&instance.server, 5, "b").await;
    }
    instance.server.terminate();
    let (announced, _, current) = log_facts(&env);
    let rotation = *announced.last().unwrap();
    assert!(rotation > 40, "the rotation is after the archived range: {announced:?}");

    let out = env.data_dir.join("archive-1-40.jsonl");
    let archived = run(&env, &["archive", "--through", "40", "--out", out.to_str().unwrap()]);
    assert_eq!(archived.code, 0, "{}", archived.out);
    let checked = tool(&out, &["--key", &current]);
    assert_eq!(checked.code, 0, "{}", checked.out);
    assert!(checked.out.contains("events: seq 1..40"), "{}", checked.out);
    let said = run(
        &env,
        &["verify", "--bundle", out.to_str().unwrap(), "--trusted-key", &current],
    );
    assert_eq!(said.code, 0, "{}", said.out);
    // And the rest of the log verifies from the boundary.
    let verified = run(&env, &["verify"]);
    assert_eq!(verified.code, 0, "{}", verified.out);
    assert!(verified.out.contains("range: seq 41.."), "{}", verified.out);
}

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
    let said = run(env, &["verify", "--bundle", path.to_str().unwrap()]);
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
    app_events(&instance.server, 4, "a").await;
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
    let said = run(env, &["verify", "--file", forged_path.to_str().unwrap()]);
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
    app_events(&instance.server, 10, "a").await;
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
    let said = run(
        env,
        &[
            "verify",
            "--file",
            &whole,
            "--expect-from",
            "1",
            "--expect-head",
            &expected_head,
        ],
    );
    assert_eq!(said.code, 0, "{}", said.out);
    assert!(
        said.out.contains(&format!("range: seq 1..{head}, from the genesis")),
        "{}",
        said.out
    );

    // Its first four events cut off: intact with the key pinned, but the
    // verdict says where it starts; the promised start catches it.
    let headless = write("headless.jsonl", &lines[4..]);
    let said = run(env, &["verify", "--file", &headless, "--trusted-key", &current]);
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
    let said = run(
        env,
        &["verify", "--file", &headless, "--keys", document.to_str().unwrap()],
    );
    assert_eq!(said.code, 0, "{}", said.out);
    std::fs::write(&document, json!({"keys": [{"public_key": current}]}).to_string()).unwrap();
    let said = run(
        env,
        &["verify", "--file", &headless, "--keys", document.to_str().unwrap()],
    );
    assert_eq!(said.code, 2, "{}", said.out);
    assert!(said.out.contains("not a warden-audit-keys/v1 document"), "{}", said.out);
    let said = run(
        env,
        &[
            "verify",
            "--file",
            &headless,
            "--trusted-key",
            &current,
            "--expect-from",
            "1",
        ],
    );
    assert_eq!(said.code, 1, "{}", said.out);
    assert!(said.out.starts_with("FAILED at seq 1: missing"), "{}", said.out);

    // Its last three events cut off: the promised head catches it.
    let tailless = write("tailless.jsonl", &lines[..lines.len() - 3]);
    let said = run(env, &["verify", "--file", &tailless]);
    assert_eq!(said.code, 0, "{}", said.out);
    let said = run(env, &["verify", "--file", &tailless, "--expect-head", &expected_head]);
    assert_eq!(said.code, 1, "{}", said.out);
    assert!(
        said.out.starts_with(&format!("FAILED at seq {}: missing", head - 2)),
        "{}",
        said.out
    );
    // Another hash at the promised head: rewritten.
    let other = format!("{head}:{}", "ab".repeat(32));
    let said = run(env, &["verify", "--file", &whole, "--expect-head", &other]);
    assert_eq!(said.code, 1, "{}", said.out);
    assert!(
        said.out
            .starts_with(&format!("FAILED at seq {head}: its hash is {head_hash}")),
        "{}",
        said.out
    );
    // The database itself, with the same expectations.
    let said = run(env, &["verify", "--expect-from", "1", "--expect-head", &expected_head]);
    assert_eq!(said.code, 0, "{}", said.out);
    let said = run(env, &["verify", "--expect-head", &format!("{}:{head_hash}", head + 5)]);
    assert_eq!(said.code, 1, "{}", said.out);
    assert!(
        said.out.starts_with(&format!("FAILED at seq {}: missing", head + 1)),
        "{}",
        said.out
    );

    // An empty file is not intact: nothing was verified.
    let empty = write("empty.jsonl", &[]);
    let said = run(env, &["verify", "--file", &empty]);
    assert_eq!(said.code, 2, "{}", said.out);
    assert!(said.out.contains("nothing verified: 0 events"), "{}", said.out);
    assert!(!said.out.contains("intact"), "{}", said.out);
    let said = run(env, &["verify", "--file", &empty, "--expect-from", "1"]);
    assert_eq!(said.code, 1, "{}", said.out);
    // A blank line is not skipped: the file rules are the spec's.
    let mut blank = lines.clone();
    blank.insert(3, String::new());
    let blank = write("blank.jsonl", &blank);
    let said = run(env, &["verify", "--file", &blank]);
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
    let said = run(env, &["verify", "--bundle", path, "--expect-head", &expected_head]);
    assert_eq!(said.code, 0, "{}", said.out);
    assert!(said.out.contains(&format!("events: seq 3..{head}")), "{}", said.out);
    let said = run(env, &["verify", "--bundle", path, "--expect-from", "1"]);
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
    let said = run(
        &env,
        &["verify", "--bundle", path.to_str().unwrap(), "--trusted-key", test_key],
    );
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
        let said = run(&env, &["verify", "--bundle", path.to_str().unwrap()]);
        assert_eq!(said.code, 1, "{name}: {}", said.out);
        assert!(
            said.out.starts_with(&format!("FAILED at line {line}")),
            "{name}: {}",
            said.out
        );
    }
}
