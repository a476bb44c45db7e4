//! Running Warden the way operators do: a least-privilege database login,
//! read-only commands that change nothing, and exit codes scripts rely on.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::json;
use warden_tests::process::{NodeEnv, Server, TOKEN};
use warden_tests::{TestDatabase, unique};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_writer_login_serves_a_schema_the_owner_migrated() {
    let database = TestDatabase::create().await;
    let dir = tempfile::tempdir().unwrap();
    let owner = NodeEnv {
        data_dir: dir.path().to_path_buf(),
        database_url: Some(database.url.clone()),
        ..Default::default()
    };
    let migrated = owner.run(&["migrate"]);
    assert!(
        migrated.status.success(),
        "{}",
        String::from_utf8_lossy(&migrated.stderr)
    );

    let login = unique("warden_app_");
    let mut superuser = database.superuser().await;
    for statement in [
        format!("CREATE ROLE {login} LOGIN PASSWORD 'app-secret'"),
        format!("GRANT warden_writer TO {login}"),
    ] {
        sqlx::query(sqlx::AssertSqlSafe(statement))
            .execute(&mut superuser)
            .await
            .unwrap();
    }
    let app_url = database
        .url
        .replacen("postgres://postgres@", &format!("postgres://{login}:app-secret@"), 1);
    let app = NodeEnv {
        database_url: Some(app_url),
        ..NodeEnv::in_dir(dir.path())
    };
    let server = Server::start(&app, "app").await;
    let response = reqwest::Client::new()
        .post(format!("{}/api/v1/app-events", server.url))
        .bearer_auth(TOKEN)
        .json(&json!({"kind": "app.thing.done", "subject": "thing:1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    // The writer login cannot alter what it wrote.
    let mut as_app = <sqlx::PgConnection as sqlx::Connection>::connect(app.database_url.as_deref().unwrap())
        .await
        .unwrap();
    let refused = sqlx::query("UPDATE events SET data = '{}'")
        .execute(&mut as_app)
        .await
        .unwrap_err();
    assert_eq!(refused.as_database_error().unwrap().code().as_deref(), Some("42501"));
    drop(server);
    drop(as_app);
    let _ = sqlx::query(sqlx::AssertSqlSafe(format!("REVOKE warden_writer FROM {login}")))
        .execute(&mut superuser)
        .await;
    drop(superuser);
    drop(database);
    let mut admin = <sqlx::PgConnection as sqlx::Connection>::connect(&warden_tests::admin_url())
        .await
        .unwrap();
    let _ = sqlx::query(sqlx::AssertSqlSafe(format!("DROP ROLE IF EXISTS {login}")))
        .execute(&mut admin)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_only_commands_create_nothing_and_exit_codes_tell_why() {
    let dir = tempfile::tempdir().unwrap();
    let env = NodeEnv {
        data_dir: dir.path().join("nowhere"),
        ..Default::default()
    };
    let verify = env.run(&["verify"]);
    assert_eq!(verify.status.code(), Some(2), "no ledger: cannot check");
    assert!(String::from_utf8_lossy(&verify.stderr).contains("no ledger at"));
    assert_eq!(env.run(&["keys", "list"]).status.code(), Some(1));
    assert_eq!(env.run(&["export"]).status.code(), Some(1));
    assert!(
        !dir.path().join("nowhere").exists(),
        "read-only commands created the data directory"
    );
    let missing_file = env.run(&["verify", "--file", "/nonexistent/export.jsonl"]);
    assert_eq!(missing_file.status.code(), Some(2));
    let bad_key = env.run(&["verify", "--trusted-key", "00"]);
    assert_eq!(bad_key.status.code(), Some(2));
    let refused = env.run(&["--listen", "not-an-address", "verify"]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("listen:"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn applications_cannot_write_key_history_or_act_as_warden() {
    let dir = tempfile::tempdir().unwrap();
    let env = NodeEnv::in_dir(dir.path());
    let mut server = Server::start(&env, "app").await;
    let client = reqwest::Client::new();
    for body in [
        json!({"kind": "app.key.noted", "subject": "ledger"}),
        json!({"kind": "app.thing.done", "subject": "thing:1", "actor": {"kind": "system"}}),
    ] {
        let response = client
            .post(format!("{}/api/v1/app-events", server.url))
            .bearer_auth(TOKEN)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{body}");
    }
    let unauthorized = client
        .post(format!("{}/api/v1/app-events", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(unauthorized.headers()["www-authenticate"], "Bearer");
    // The node restarts on its log.
    assert!(server.terminate().success());
    let restarted = Server::start(&env, "again").await;
    drop(restarted);
}
