//! The AWS KMS provider against a KMS emulator (moto, `tools/peers/kms.sh`)
//! on the production profile (PostgreSQL and NATS): start, sign-in,
//! sealing and unsealing, `warden verify`; an unusable key refused at
//! start; the KMS unreachable (not ready, nothing sealed, nothing written);
//! rotating the KMS key from the local file to AWS with a `kill -9` half
//! way, resumed, after which every sealed field opens with AWS alone.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use warden_tests::Production;
use warden_tests::kms::Moto;
use warden_tests::process::{NodeEnv, Server};
use warden_tests::vault::{VALUE, read, value_of};
use warden_tests::web::{OWNER_PASSWORD, WebClient, create_user, exported, set_up};

/// The production environment of `production`, on AWS KMS key `key`.
fn on_aws(production: &Production, moto: &Moto, key: &str) -> NodeEnv {
    let mut env = production.env.clone();
    env.extra.extend(moto.env(key));
    env
}

fn verify(env: &NodeEnv) {
    let verified = env.run(&["verify"]);
    assert!(
        verified.status.success(),
        "warden verify: {}\n{}",
        String::from_utf8_lossy(&verified.stdout),
        String::from_utf8_lossy(&verified.stderr)
    );
}

/// Whether `secret` is anywhere in `text`, in clear or base64 (as KMS
/// request bodies carry binary fields).
fn contains_secret(text: &str, secret: &str) -> bool {
    text.contains(secret) || text.contains(&STANDARD.encode(secret)) || {
        // Inside a base64 body: decode every request body first.
        text.lines().any(|line| {
            serde_json::from_str::<Value>(line)
                .ok()
                .and_then(|request| request["body"].as_str().map(str::to_string))
                .and_then(|body| STANDARD.decode(body).ok())
                .is_some_and(|body| {
                    let body = String::from_utf8_lossy(&body);
                    body.contains(secret) || body.contains(&STANDARD.encode(secret))
                })
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_production_node_on_aws_kms_seals_signs_in_and_verifies() {
    let moto = Moto::start().await;
    let arn = moto.create_key("alias/warden").await;
    let production = Production::new().await;
    // Named by alias: the node resolves it to the key's ARN.
    let env = on_aws(&production, &moto, "alias/warden");
    let server = Server::start(&env, "aws").await;
    assert_eq!(server.get_json("/readyz").await["checks"]["kms"]["ok"], true);

    let mut owner = set_up(&server).await;
    let member_password = "a member's long passphrase 7";
    create_user(&mut owner, "mia@acme.test", "member", member_password).await;
    let mut mia = WebClient::new(&server);
    assert_eq!(mia.sign_in("mia@acme.test", member_password).await.status, 200);
    let mut wrong = WebClient::new(&server);
    assert_eq!(
        wrong.sign_in("mia@acme.test", "not her password at all").await.status,
        401
    );
    // A vault secret, sealed under its own data key, read back.
    let created = owner
        .post(
            "/api/v1/secrets",
            json!({ "name": "billing.db-password", "value": VALUE }),
        )
        .await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    assert_eq!(
        value_of(&read(&mut owner, "billing.db-password", "reason=service+start").await),
        VALUE
    );

    // The data keys came from GenerateDataKey under the key's ARN, each
    // bound to its subject; Decrypt names the same context.
    let requests = moto.requests();
    let generated: Vec<&Value> = requests
        .iter()
        .filter(|(operation, _)| operation == "GenerateDataKey")
        .map(|(_, body)| body)
        .collect();
    assert!(generated.len() >= 2, "{requests:?}");
    for body in &generated {
        assert_eq!(body["KeyId"], arn.as_str());
        assert_eq!(body["KeySpec"], "AES_256");
        let context = body["EncryptionContext"]["warden"].as_str().unwrap();
        assert!(context.starts_with("warden:data_key:"), "{context}");
    }
    assert!(
        generated
            .iter()
            .any(|body| body["EncryptionContext"]["warden"].as_str().unwrap().contains(":user:")),
        "a user's data key: {generated:?}"
    );
    assert!(
        generated.iter().any(|body| {
            let context = body["EncryptionContext"]["warden"].as_str().unwrap();
            context.contains(":vault_secret:") && context.contains("/billing.db-password:")
        }),
        "the secret's own data key: {generated:?}"
    );
    // The signing key's seed is wrapped too, for its own context.
    assert!(requests.iter().any(|(operation, body)| {
        operation == "Encrypt"
            && body["EncryptionContext"]["warden"]
                .as_str()
                .is_some_and(|context| context.starts_with("warden:signing_key:"))
    }));

    // No secret reached the KMS, the log, the stream or the server's log.
    let raw = moto.raw_requests();
    let log = server.log();
    let log_text = serde_json::to_string(&exported(&env)).unwrap();
    for secret in [member_password, OWNER_PASSWORD, VALUE] {
        assert!(!contains_secret(&raw, secret), "a secret in the KMS requests");
        assert!(!log.contains(secret), "a password in the server log");
        assert!(!log_text.contains(secret), "a password in the log");
    }
    let stream = warden_tests::stream_messages(&production.stream.url, &production.stream.prefix).await;
    assert!(!stream.is_empty());
    for (_, payload) in &stream {
        let payload = String::from_utf8_lossy(payload);
        assert!(!payload.contains(member_password) && !payload.contains(OWNER_PASSWORD) && !payload.contains(VALUE));
    }

    // The node's key uses are in the log once it stops: the data keys it
    // unwrapped (Mia's, after a restart emptied the cache) and the events
    // it signed.
    let mut server = server;
    assert!(server.terminate().success());
    let mut restarted = Server::start(&env, "aws-again").await;
    let mut mia = WebClient::new(&restarted);
    assert_eq!(mia.sign_in("mia@acme.test", member_password).await.status, 200);
    // The secret opens after the restart: its data key unwrapped by KMS.
    let mut owner = WebClient::new(&restarted);
    assert_eq!(owner.sign_in("owner@acme.test", OWNER_PASSWORD).await.status, 200);
    assert_eq!(
        value_of(&read(&mut owner, "billing.db-password", "reason=after+restart").await),
        VALUE
    );
    assert!(!contains_secret(&moto.raw_requests(), VALUE));
    let mia_id = mia.get("/api/v1/session").await.body["user"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(restarted.terminate().success());
    let log = exported(&env);
    let unwrapped: Vec<&Value> = log
        .iter()
        .filter(|event| event["kind"] == "kms.data_keys_unwrapped")
        .collect();
    assert!(!unwrapped.is_empty(), "no unwrap summary");
    assert!(
        unwrapped
            .iter()
            .all(|event| event["data"]["kms_keys"][0] == format!("aws:{arn}"))
    );
    assert!(
        unwrapped.iter().any(|event| event["data"]["subjects"]
            .to_string()
            .contains(&format!("user:{mia_id}"))),
        "{unwrapped:?}"
    );
    let signed: u64 = log
        .iter()
        .filter(|event| event["kind"] == "signing_key.used")
        .map(|event| event["data"]["events"].as_u64().unwrap())
        .sum();
    let others = log.iter().filter(|event| event["kind"] != "signing_key.used").count() as u64;
    assert!(signed > 0 && signed <= others, "{signed} signed of {others}");

    verify(&env);
    let status = env.ran(&["kms", "status"]);
    assert_eq!(status.code, 0, "{}", status.out);
    assert!(
        status.out.contains(&format!("current KMS key: aws:{arn}")),
        "{}",
        status.out
    );
    assert!(status.out.contains("0 data keys, 0 signing keys"), "{}", status.out);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unusable_or_unreachable_kms_is_refused_and_nothing_is_written_unsealed() {
    let mut moto = Moto::start().await;
    let production = Production::new().await;

    // A key that does not exist, then a disabled one: refused at start,
    // with the reason.
    let missing = on_aws(&production, &moto, "alias/nothing-here");
    let refused = missing.run_until_exit(&["serve"], Duration::from_secs(60)).await;
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("alias/nothing-here") && stderr.contains("not found"),
        "{stderr}"
    );

    let disabled = moto.create_key("alias/disabled").await;
    let key_id = disabled.rsplit('/').next().unwrap();
    moto.call("DisableKey", json!({"KeyId": key_id})).await;
    let refused = on_aws(&production, &moto, &disabled)
        .run_until_exit(&["serve"], Duration::from_secs(60))
        .await;
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("not enabled"), "{stderr}");

    // A usable key: serve, sign in, then lose the KMS.
    moto.create_key("alias/warden").await;
    let env = on_aws(&production, &moto, "alias/warden");
    let server = Server::start(&env, "aws").await;
    let mut owner = set_up(&server).await;
    create_user(&mut owner, "mia@acme.test", "member", "a member's long passphrase 7").await;
    let head_before = exported(&env).len();
    moto.stop();

    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let ready = server.get_json("/readyz").await;
        if ready["checks"]["kms"]["ok"] == false {
            assert_eq!(ready["status"], "not_ready");
            assert!(!ready["checks"]["kms"]["error"].to_string().contains("arn:"), "{ready}");
            break;
        }
        assert!(Instant::now() < deadline, "still ready without a KMS: {ready}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // A new user needs a new data key: refused, 503 with the request id,
    // and nothing appended (no password hash written unsealed, or at all).
    let answer = owner
        .post(
            "/api/v1/users",
            json!({"email": "noah@acme.test", "display_name": "Noah", "role": "member", "password": "another long passphrase 8"}),
        )
        .await;
    assert_eq!(answer.status, 503, "{:?}", answer.body);
    assert!(answer.body["error"]["request_id"].is_string());
    // A subject whose key is cached still opens: Mia signs in.
    let mut mia = WebClient::new(&server);
    assert_eq!(
        mia.sign_in("mia@acme.test", "a member's long passphrase 7")
            .await
            .status,
        200
    );
    let after = exported(&env);
    assert!(
        after[head_before..]
            .iter()
            .all(|event| event["subject"] != "user:noah" && !event.to_string().contains("noah@acme.test")),
        "{:?}",
        &after[head_before..]
    );
    assert!(server.log().contains("KMS"), "the reason is in the server log");
}

/// A legacy table of `rows` users for `warden import`, all with the
/// password `legacy password`.
async fn legacy_users(database: &warden_tests::TestDatabase, rows: i64) {
    let mut connection = database.superuser().await;
    sqlx::raw_sql(
        "CREATE TABLE organization_users (
            id bigserial PRIMARY KEY, email text, name text, organization text, role text,
            password_hash text, is_active boolean NOT NULL DEFAULT true,
            created_at timestamptz NOT NULL DEFAULT now(), last_login_at timestamptz)",
    )
    .execute(&mut connection)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO organization_users (email, name, organization, role, password_hash)
         SELECT 'user' || i || '@example.test', 'User ' || i, 'Example', 'member', $1
         FROM generate_series(1, $2::int8) AS i",
    )
    .bind(bcrypt::hash("legacy password", 4).unwrap())
    .bind(rows)
    .execute(&mut connection)
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotating_from_the_local_key_to_aws_survives_a_kill_and_every_sealed_field_opens() {
    let moto = Moto::start().await;
    let arn = moto.create_key("alias/warden").await;
    let production = Production::new().await;
    let source = warden_tests::TestDatabase::create().await;
    legacy_users(&source, 400).await;

    // The log starts on the local master key: 400 users, each with a data
    // key, and a second signing key.
    let local = production.env.clone();
    let imported = local.ran(&["import", &format!("--source={}", source.url)]);
    assert_eq!(imported.code, 0, "{}", imported.out);
    assert_eq!(local.ran(&["keys", "rotate"]).code, 0);

    // AWS becomes the current key; the local file only unwraps.
    let mut moving = on_aws(&production, &moto, "alias/warden");
    let master = local.data_dir.join("master.key");
    moving
        .extra
        .push(("WARDEN_KMS_RETIRED_KEY_FILES".into(), master.display().to_string()));
    let status = moving.ran(&["kms", "status"]);
    assert!(
        status
            .out
            .contains("not yet under the current key: 400 data keys, 2 signing keys"),
        "{}",
        status.out
    );

    // The first run is killed once it has moved some keys.
    let mut child = moving
        .command()
        .args(["kms", "rotate", "--batch-size", "20"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut moved = 0;
    while moved < 60 {
        let line = lines.next().expect("the rotation ended before it was killed").unwrap();
        if let Some(count) = line
            .trim()
            .strip_suffix(" data keys")
            .and_then(|rest| rest.split(' ').next())
        {
            moved = count.parse().unwrap();
        }
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let status = moving.ran(&["kms", "status"]);
    let left: u64 = status
        .out
        .split("not yet under the current key: ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|count| count.parse().ok())
        .unwrap();
    assert!(
        (1..=340).contains(&left),
        "killed half way: {left} left\n{}",
        status.out
    );

    // The second run finishes the job.
    let resumed = moving.ran(&["kms", "rotate"]);
    assert_eq!(resumed.code, 0, "{}", resumed.out);
    assert!(resumed.out.contains("0 remaining"), "{}", resumed.out);

    // The runs are in the log: the second says it resumed the first.
    let rotations: Vec<Value> = exported(&moving)
        .into_iter()
        .filter(|event| event["subject"] == "kms")
        .collect();
    let kinds: Vec<&str> = rotations.iter().map(|event| event["kind"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        ["kms.rotation_started", "kms.rotation_started", "kms.rotation_finished"]
    );
    assert_eq!(rotations[0]["data"]["resumed"], false);
    assert_eq!(rotations[0]["data"]["data_keys"], 400);
    assert_eq!(rotations[1]["data"]["resumed"], true);
    assert_eq!(rotations[1]["data"]["data_keys"], left);
    assert_eq!(rotations[2]["data"]["to"], format!("aws:{arn}"));
    assert_eq!(rotations[2]["data"]["remaining"], 0);
    assert_eq!(rotations[0]["actor"]["kind"], "system");

    // The local key is gone: AWS alone opens every sealed field and the
    // signing keys.
    std::fs::remove_file(&master).unwrap();
    let aws_only = on_aws(&production, &moto, "alias/warden");
    verify(&aws_only);
    let server = Server::start(&aws_only, "aws-only").await;
    for user in [1, 137, 400] {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let mut browser = WebClient::new(&server);
            let answer = browser
                .sign_in(&format!("user{user}@example.test"), "legacy password")
                .await;
            if answer.status == 200 {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "user{user}: {} {:?}",
                answer.status,
                answer.body
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
    let rotated = aws_only.ran(&["keys", "rotate"]);
    assert_eq!(rotated.code, 0, "{}", rotated.out);
    verify(&aws_only);
}
