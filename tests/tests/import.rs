//! `warden import` on a generated legacy table of 100,000 users shaped
//! like a production `organization_users`: a dry run, the import, sign-in
//! with a legacy bcrypt password (which upgrades it to Argon2id), and the
//! revert, against a running server on PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use serde_json::Value;
use warden_tests::TestDatabase;
use warden_tests::process::{NodeEnv, Server};
use warden_tests::web::WebClient;

const ROWS: i64 = 99_950;

fn password(i: i64) -> String {
    format!("legacy password {}", i % 16)
}

async fn legacy_table(source: &TestDatabase) {
    let mut connection = source.superuser().await;
    sqlx::raw_sql(
        "CREATE TABLE organization_users (
            id bigserial PRIMARY KEY,
            email text,
            name text,
            organization text,
            role text,
            password_hash text,
            is_active boolean NOT NULL DEFAULT true,
            created_at timestamptz NOT NULL DEFAULT now(),
            last_login_at timestamptz
        )",
    )
    .execute(&mut connection)
    .await
    .unwrap();
    // Sixteen bcrypt hashes (cost 4), shared round-robin: user i's password
    // is `legacy password {i % 16}`.
    let hashes: Vec<String> = (0..16).map(|k| bcrypt::hash(password(k), 4).unwrap()).collect();
    sqlx::query(
        "INSERT INTO organization_users (email, name, organization, role, password_hash, is_active, created_at, last_login_at)
         SELECT 'user' || i || '@example' || (i % 50) || '.test', 'User ' || i, 'Company ' || (i % 50),
                (ARRAY['member','member','member','user','admin','owner','auditor','billing'])[1 + i % 8],
                ($1::text[])[1 + i % 16], i % 997 <> 0, now() - (i || ' minutes')::interval,
                CASE WHEN i % 3 = 0 THEN NULL ELSE now() END
         FROM generate_series(1, $2::int8) AS i",
    )
    .bind(&hashes)
    .bind(ROWS)
    .execute(&mut connection)
    .await
    .unwrap();
    let argon2i = {
        use argon2::{Algorithm, Argon2, ParamsBuilder, PasswordHasher, Version};
        let params = ParamsBuilder::new().m_cost(64).t_cost(1).p_cost(1).build().unwrap();
        Argon2::new(Algorithm::Argon2i, Version::V0x13, params)
            .hash_password(b"password")
            .unwrap()
            .to_string()
    };
    // The rows a real table has too: duplicates by case, bad emails,
    // missing and foreign hashes, and a few argon2i hashes.
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "INSERT INTO organization_users (email, name, organization, role, password_hash)
         SELECT 'USER' || id || '@EXAMPLE' || (id % 50) || '.TEST', 'Dup ' || id, 'Company 1', 'member', password_hash
           FROM organization_users WHERE id <= 20;
         INSERT INTO organization_users (email, name, organization, role, password_hash)
         SELECT 'not-an-email-' || i, 'Bad ' || i, 'Company 1', 'member', '$2b$04$x' FROM generate_series(1, 10) i;
         INSERT INTO organization_users (email, name, organization, role, password_hash)
         SELECT 'nohash' || i || '@example1.test', 'No hash', 'Company 1', 'member', NULL FROM generate_series(1, 10) i;
         INSERT INTO organization_users (email, name, organization, role, password_hash)
         SELECT 'ldap' || i || '@example1.test', 'SSHA', 'Company 1', 'member', '{{SSHA}}abcdef' FROM generate_series(1, 5) i;
         INSERT INTO organization_users (email, name, organization, role, password_hash)
         SELECT 'argon' || i || '@example2.test', 'Argon ' || i, 'Company 2', 'admin', '{argon2i}' FROM generate_series(1, 5) i;"
    )))
    .execute(&mut connection)
    .await
    .unwrap();
}

fn json_of(output: &std::process::Output) -> Value {
    assert!(
        output.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8_lossy(&output.stdout);
    serde_json::from_str(text.lines().last().unwrap()).unwrap()
}

async fn applied(server: &Server) -> u64 {
    server.get_json("/readyz").await["checks"]["projections"]["applied"]
        .as_u64()
        .unwrap()
}

/// Waits until the server's read models hold every event of the log (a
/// sign-in answered before that may time out its read-your-writes wait on
/// a loaded machine and answer the short form, without user and org).
async fn caught_up(server: &Server, database: &TestDatabase) {
    let mut connection = database.superuser().await;
    let head: i64 = sqlx::query_scalar("SELECT max(seq) FROM events")
        .fetch_one(&mut connection)
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while applied(server).await < head as u64 {
        assert!(Instant::now() < deadline, "the server did not reach seq {head}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Signs in until the answer has `status` (the server follows the log).
async fn sign_in_until(server: &Server, email: &str, password: &str, status: u16) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let mut browser = WebClient::new(server);
        let answer = browser.sign_in(email, password).await;
        if answer.status.as_u16() == status {
            return answer.body;
        }
        assert!(
            Instant::now() < deadline,
            "{email}: still {} {:?}",
            answer.status,
            answer.body
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn import_dry_run_sign_in_upgrade_and_revert_on_100k_users() {
    let source = TestDatabase::create().await;
    legacy_table(&source).await;
    let target = TestDatabase::create().await;
    let dir = tempfile::tempdir().unwrap();
    let env = NodeEnv {
        database_url: Some(target.url.clone()),
        ..NodeEnv::in_dir(dir.path())
    };
    let server = Server::start(&env, "import").await;
    let source_flag = format!("--source={}", source.url);

    // Dry run: a report, nothing appended.
    let before = applied(&server).await;
    let began = Instant::now();
    let report = json_of(&env.run(&["import", &source_flag, "--column", "active=is_active", "--dry-run"]));
    eprintln!("dry run: {:.1} s", began.elapsed().as_secs_f64());
    assert_eq!(report["rows"], 100_000);
    assert_eq!(report["users"], 99_955);
    assert_eq!(report["orgs_new"], 50);
    assert_eq!(report["skipped"], 45);
    assert_eq!(report["skipped_by_reason"]["duplicate_email"], 20);
    assert_eq!(report["skipped_by_reason"]["invalid_email"], 10);
    assert_eq!(report["skipped_by_reason"]["no_password_hash"], 10);
    assert_eq!(report["skipped_by_reason"]["unknown_hash_scheme"], 5);
    assert_eq!(report["schemes"]["bcrypt"], 99_950);
    assert_eq!(report["schemes"]["argon2i"], 5);
    assert_eq!(report["roles"]["owner"], (1..=ROWS).filter(|i| i % 8 == 5).count());
    assert_eq!(
        report["roles_defaulted_to_member"]["billing"],
        (1..=ROWS).filter(|i| i % 8 == 7).count()
    );
    assert!(report["import_id"].is_null());
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(applied(&server).await, before, "a dry run appends nothing");

    // The import.
    let began = Instant::now();
    let imported = json_of(&env.run(&["import", &source_flag, "--column", "active=is_active"]));
    eprintln!("import of 99,955 users: {:.1} s", began.elapsed().as_secs_f64());
    assert_eq!(imported["users"], 99_955);
    let import_id = imported["import_id"].as_str().unwrap().to_string();
    caught_up(&server, &target).await;

    // A legacy bcrypt password signs in and is replaced by Argon2id.
    let user7 = "user7@example7.test";
    let signed_in = sign_in_until(&server, user7, &password(7), 200).await;
    assert_eq!(signed_in["org"]["slug"], "company-7");
    assert_refused_wrong(&server, user7).await;
    let mut again = WebClient::new(&server);
    assert_eq!(again.sign_in(user7, &password(7)).await.status, 200);
    // Disabled in the legacy table: disabled here.
    let disabled = sign_in_until(&server, "user997@example47.test", &password(997), 403).await;
    assert_eq!(disabled["error"]["code"], "account_disabled");
    // argon2i from the legacy table works too (password "password").
    sign_in_until(&server, "argon1@example2.test", "password", 200).await;

    let out = dir.path().join("events.jsonl");
    assert!(env.run(&["export", "--out", out.to_str().unwrap()]).status.success());
    let events: Vec<Value> = std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let user_id = signed_in["user"]["id"].as_str().unwrap();
    let subject = format!("user:{user_id}");
    let of_user: Vec<&Value> = events
        .iter()
        .filter(|event| event["subject"] == subject.as_str())
        .collect();
    let kinds: Vec<&str> = of_user.iter().map(|event| event["kind"].as_str().unwrap()).collect();
    assert_eq!(
        kinds.iter().filter(|kind| **kind == "password.rehashed").count(),
        1,
        "{kinds:?}"
    );
    let set = of_user.iter().find(|event| event["kind"] == "password.set").unwrap();
    assert_eq!(set["data"]["scheme"], "bcrypt");
    assert_eq!(set["data"]["reason"], "import");
    let rehashed = of_user
        .iter()
        .find(|event| event["kind"] == "password.rehashed")
        .unwrap();
    assert_eq!(rehashed["data"]["scheme"], "argon2id");
    let created = of_user.iter().find(|event| event["kind"] == "user.created").unwrap();
    assert_eq!(created["data"]["import_id"], import_id.as_str());
    assert_eq!(created["data"]["legacy_id"], "7");
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(!text.contains("$2b$04$"), "legacy hashes travel sealed");
    assert!(!text.contains(&source.url), "the source URL is not recorded");

    // A new row in an org that now exists in Warden joins it only with
    // --into-existing, and a legacy owner joins as an admin.
    let mut connection = source.superuser().await;
    sqlx::query(
        "INSERT INTO organization_users (email, name, organization, role, password_hash)
         SELECT 'late@example3.test', 'Late', 'Company 3', 'owner', password_hash FROM organization_users WHERE id = 3",
    )
    .execute(&mut connection)
    .await
    .unwrap();
    let report = json_of(&env.run(&["import", &source_flag, "--column", "active=is_active", "--dry-run"]));
    assert_eq!(report["users"], 0);
    assert_eq!(report["skipped_by_reason"]["existing_org"], 1);
    let report = json_of(&env.run(&[
        "import",
        &source_flag,
        "--column",
        "active=is_active",
        "--dry-run",
        "--into-existing",
    ]));
    assert_eq!(report["users"], 1);
    assert_eq!(report["owners_joining_existing_orgs_as_admins"], 1);
    sqlx::query("DELETE FROM organization_users WHERE email = 'late@example3.test'")
        .execute(&mut connection)
        .await
        .unwrap();

    // Revert: compensating events; the users can no longer sign in, and
    // their emails are free again.
    let reverted = json_of(&env.run(&["import", "--revert", &import_id]));
    assert_eq!(reverted["reverted_users"], 99_955);
    assert_eq!(reverted["reverted_orgs"], 50);
    sign_in_until(&server, user7, &password(7), 401).await;
    let twice = env.run(&["import", "--revert", &import_id]);
    assert!(!twice.status.success());
    assert!(String::from_utf8_lossy(&twice.stderr).contains("already reverted"));
    let report = json_of(&env.run(&["import", &source_flag, "--column", "active=is_active", "--dry-run"]));
    assert_eq!(report["users"], 99_955, "reverted emails are free again");
    assert_eq!(report["orgs_new"], 50);
    assert!(env.run(&["verify"]).status.success());
    // The reverted users' data keys are shredded: their legacy hashes can
    // no longer be opened from the log.
    let mut warden_db = target.superuser().await;
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM data_keys WHERE subject LIKE 'user:%'")
        .fetch_one(&mut warden_db)
        .await
        .unwrap();
    assert_eq!(left, 0);
}

async fn assert_refused_wrong(server: &Server, email: &str) {
    let mut browser = WebClient::new(server);
    assert_eq!(browser.sign_in(email, "not the legacy password").await.status, 401);
}

/// A refused sign-in takes the same time whoever the account: a wrong
/// password for an imported account whose bcrypt hash (cost 12) has not
/// been replaced yet, and any password for an unknown email, compared by
/// their medians in one run (each from its own address, under every
/// throttle allowance).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_sign_ins_take_the_same_time_for_imported_and_unknown_accounts() {
    let source = TestDatabase::create().await;
    let mut connection = source.superuser().await;
    sqlx::raw_sql(
        "CREATE TABLE organization_users (
            id bigserial PRIMARY KEY, email text, name text, organization text, role text,
            password_hash text)",
    )
    .execute(&mut connection)
    .await
    .unwrap();
    let hash = bcrypt::hash("a legacy password of old", 12).unwrap();
    sqlx::query(
        "INSERT INTO organization_users (email, name, organization, role, password_hash)
         VALUES ('old@acme.test', 'Old Timer', 'acme', 'member', $1)",
    )
    .bind(&hash)
    .execute(&mut connection)
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut env = NodeEnv::in_dir(dir.path());
    env.extra = vec![("WARDEN_TRUSTED_PROXIES".into(), "127.0.0.1".into())];
    let imported = env.run(&["import", &format!("--source={}", source.url)]);
    assert!(
        imported.status.success(),
        "{}",
        String::from_utf8_lossy(&imported.stderr)
    );
    // Restarted after the import, as an operator would: the floor is
    // learned at start, before any request.
    let server = Server::start(&env, "timing").await;

    let mut imported_times = Vec::new();
    let mut unknown_times = Vec::new();
    for round in 0..9 {
        for (email, times) in [
            ("old@acme.test".to_string(), &mut imported_times),
            (format!("nobody-{round}@acme.test"), &mut unknown_times),
        ] {
            let mut client = WebClient::new(&server);
            client.headers = vec![("x-forwarded-for".into(), format!("203.0.{round}.{}", times.len() + 1))];
            let began = Instant::now();
            let answer = client.sign_in(&email, "not the password at all").await;
            times.push(began.elapsed());
            assert_eq!(answer.status, 401, "{email}: {:?}", answer.body);
        }
    }
    let median = |times: &mut Vec<Duration>| {
        times.sort();
        times[times.len() / 2]
    };
    let (imported, unknown) = (median(&mut imported_times), median(&mut unknown_times));
    let (slow, fast) = (imported.max(unknown), imported.min(unknown));
    assert!(
        slow.as_secs_f64() <= fast.as_secs_f64() * 1.25,
        "median refusal: imported account {imported:?}, unknown email {unknown:?}"
    );
}
