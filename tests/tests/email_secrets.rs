//! On the production profile (PostgreSQL, NATS JetStream, a real SMTP
//! server): no sign-in code, reset link or verification link is anywhere
//! in clear but in the email itself: not in any PostgreSQL table, not on
//! the stream, not in the server's log. (The embedded tests check the
//! exported log and the audit index.)

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::json;
use sqlx::Row;
use warden_tests::TestDatabase;
use warden_tests::email::{PASSWORD, finish, forgot, offer_email_codes, reset, reset_token, smtp_env, start};
use warden_tests::peers::SmtpSink;
use warden_tests::process::{NodeEnv, Server};
use warden_tests::web::{WebClient, create_user, set_up};

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|window| window == needle.as_bytes())
}

/// Every row of every table of Warden's database, as text.
async fn database_bytes(database: &TestDatabase) -> Vec<u8> {
    let mut connection = database.superuser().await;
    let tables: Vec<String> = sqlx::query(
        "SELECT quote_ident(table_name) FROM information_schema.tables
         WHERE table_schema = 'public' AND table_type = 'BASE TABLE'",
    )
    .fetch_all(&mut connection)
    .await
    .unwrap()
    .into_iter()
    .map(|row| row.get(0))
    .collect();
    assert!(tables.iter().any(|table| table == "events"), "{tables:?}");
    let mut bytes = Vec::new();
    for table in tables {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT t::text FROM {table} t")))
            .fetch_all(&mut connection)
            .await
            .unwrap();
        for row in rows {
            bytes.extend(row.get::<String, _>(0).into_bytes());
        }
    }
    bytes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codes_and_link_tokens_are_nowhere_in_clear_on_postgres_and_nats() {
    let database = TestDatabase::create().await;
    let nats_url = std::env::var("WARDEN_TEST_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into());
    let prefix = format!("secrets{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let smtp = SmtpSink::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut env = NodeEnv::production(dir.path(), &database.url, &nats_url, &prefix);
    env.extra = smtp_env(&smtp);
    let server = Server::start(&env, "node").await;
    let mut owner = set_up(&server).await;
    offer_email_codes(&mut owner).await;
    create_user(&mut owner, "sam@acme.test", "member", PASSWORD).await;

    let mut sam = WebClient::new(&server);
    assert_eq!(start(&mut sam, "sam@acme.test").await.status, 202);
    let code = smtp.code_sent("sam@acme.test", 1).await;
    assert_eq!(finish(&mut sam, "sam@acme.test", &code).await.status, 200);
    assert_eq!(forgot(&mut sam, "sam@acme.test").await.status, 202);
    let reset_link = reset_token(&smtp, "sam@acme.test", 1).await;
    assert_eq!(reset(&mut sam, &reset_link, "a brand new password 8").await.status, 200);
    let mut again = WebClient::new(&server);
    assert_eq!(
        again.sign_in("sam@acme.test", "a brand new password 8").await.status,
        200
    );
    let asked = again
        .post("/api/v1/email-change", json!({"email": "sam.new@example.org"}))
        .await;
    assert_eq!(asked.status, 202, "{:?}", asked.body);
    let link = smtp.link_sent("sam.new@example.org", 1, "/verify-email?token=").await;
    let verification = link.split("token=").nth(1).unwrap().to_string();
    let verified = again
        .post("/api/v1/email-change/verify", json!({"token": verification}))
        .await;
    assert_eq!(verified.status, 200, "{:?}", verified.body);

    // Everything is on the stream (the relay caught up), and no secret.
    let head: u64 = {
        let mut connection = database.superuser().await;
        sqlx::query("SELECT max(seq) FROM events")
            .fetch_one(&mut connection)
            .await
            .unwrap()
            .get::<i64, _>(0) as u64
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let stream = loop {
        let messages = warden_tests::stream_messages(&nats_url, &prefix).await;
        if messages.len() as u64 >= head {
            break messages;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the stream has {} of {head}",
            messages.len()
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    let stream: Vec<u8> = stream.into_iter().flat_map(|(_, payload)| payload).collect();
    assert!(contains(&stream, "password_reset.used"), "the stream holds the events");
    let database = database_bytes(&database).await;
    assert!(
        contains(&database, "email_change.verified"),
        "the database holds the events"
    );
    let log = server.log();
    for secret in [&code, &reset_link, &verification] {
        assert!(!contains(&stream, secret), "{secret} on the stream");
        assert!(!contains(&database, secret), "{secret} in the database");
        assert!(!log.contains(secret.as_str()), "{secret} in the server's log");
    }
}
