//! The AWS KMS emulator (moto, `tools/peers/kms.sh`) for the KMS tests: a
//! server on a free port, its keys, and every request Warden sent it.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use crate::process::free_port;

pub struct Moto {
    child: Child,
    pub url: String,
    dir: tempfile::TempDir,
    client: reqwest::Client,
}

impl Moto {
    /// Starts moto and its request recorder.
    pub async fn start() -> Moto {
        let port = free_port();
        let dir = tempfile::tempdir().unwrap();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tools/peers/kms.sh");
        let child = Command::new(script)
            .arg(port.to_string())
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::from(std::fs::File::create(dir.path().join("moto.log")).unwrap()))
            .spawn()
            .unwrap();
        let moto = Moto {
            child,
            url: format!("http://127.0.0.1:{port}"),
            dir,
            client: reqwest::Client::new(),
        };
        let deadline = Instant::now() + Duration::from_secs(180);
        loop {
            let started = moto
                .client
                .post(format!("{}/moto-api/recorder/start-recording", moto.url))
                .send()
                .await;
            if started.is_ok_and(|response| response.status().is_success()) {
                break;
            }
            assert!(Instant::now() < deadline, "moto did not start: {}", moto.log());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        moto
    }

    /// Calls a KMS operation (`CreateKey`, `DisableKey`, …) as the AWS
    /// JSON protocol does; moto checks no signature.
    pub async fn call(&self, operation: &str, body: Value) -> Value {
        let response = self
            .client
            .post(&self.url)
            .header("X-Amz-Target", format!("TrentService.{operation}"))
            .header("Content-Type", "application/x-amz-json-1.1")
            .header(
                "Authorization",
                "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/kms/aws4_request, SignedHeaders=host, Signature=00",
            )
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success(), "{operation}: {}", response.status());
        response.json().await.unwrap()
    }

    /// A new symmetric encrypt/decrypt key, named by `alias` too; its ARN.
    pub async fn create_key(&self, alias: &str) -> String {
        let created = self
            .call(
                "CreateKey",
                json!({"KeyUsage": "ENCRYPT_DECRYPT", "KeySpec": "SYMMETRIC_DEFAULT", "Description": alias}),
            )
            .await;
        let arn = created["KeyMetadata"]["Arn"].as_str().unwrap().to_string();
        let key_id = created["KeyMetadata"]["KeyId"].as_str().unwrap();
        self.call("CreateAlias", json!({"AliasName": alias, "TargetKeyId": key_id}))
            .await;
        arn
    }

    /// The environment a `warden` process needs to use key `key` here.
    pub fn env(&self, key: &str) -> Vec<(String, String)> {
        [
            ("WARDEN_KMS_PROVIDER", "aws"),
            ("WARDEN_KMS_AWS_KEY_ID", key),
            ("AWS_ENDPOINT_URL", self.url.as_str()),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("AWS_EC2_METADATA_DISABLED", "true"),
            ("AWS_CONFIG_FILE", "/dev/null"),
            ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null"),
            ("WARDEN_KMS_TIMEOUT_SECONDS", "3"),
            ("WARDEN_KEY_USE_SUMMARIES", "true"),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect()
    }

    /// Every KMS request recorded so far: its operation
    /// (`X-Amz-Target` without the service) and its JSON body.
    pub fn requests(&self) -> Vec<(String, Value)> {
        let text = std::fs::read_to_string(self.dir.path().join("requests.jsonl")).unwrap_or_default();
        text.lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .filter_map(|request| {
                let target = request["headers"]["X-Amz-Target"].as_str()?;
                let operation = target.strip_prefix("TrentService.")?.to_string();
                let body = request["body"].as_str().unwrap_or_default();
                let body = if request["body_encoded"].as_bool() == Some(true) {
                    STANDARD.decode(body).unwrap_or_default()
                } else {
                    body.as_bytes().to_vec()
                };
                Some((operation, serde_json::from_slice(&body).unwrap_or(Value::Null)))
            })
            .collect()
    }

    /// The raw request log as recorded (for searching it for a secret).
    pub fn raw_requests(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("requests.jsonl")).unwrap_or_default()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("moto.log")).unwrap_or_default()
    }

    /// Stops the emulator: the KMS becomes unreachable.
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // kms.sh execs moto_server, so the child is the server itself.
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        self.stop();
    }
}
