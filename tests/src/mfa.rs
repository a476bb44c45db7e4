//! Second factors in tests: TOTP codes from `oathtool` (Debian's OATH
//! Toolkit, an implementation independent of Warden's), and a user with an
//! authenticator set up.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::json;

use crate::web::WebClient;

pub fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

/// The 6-digit SHA-1 TOTP code of a base32 secret at Unix time `at`,
/// computed by `oathtool`.
pub fn oathtool(secret: &str, at: u64) -> String {
    let output = std::process::Command::new("oathtool")
        .args([
            "--totp=SHA1",
            "--digits=6",
            "--time-step-size=30s",
            &format!("--now=@{at}"),
            "--base32",
            secret,
        ])
        .output()
        .expect("oathtool is installed (tools/test-env.sh)");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap().trim().to_string()
}

/// A 6-digit code that is not `code`.
pub fn wrong(code: &str) -> String {
    code.chars()
        .map(|c| char::from_digit((c.to_digit(10).unwrap() + 5) % 10, 10).unwrap())
        .collect()
}

/// Waits until at most 10 s of the current 30-s step have passed, and
/// returns that time: codes of the steps before, at and after it are then
/// all valid for the next 20 s.
pub async fn early_in_step() -> u64 {
    loop {
        let now = unix_now();
        if now % 30 <= 10 {
            return now;
        }
        tokio::time::sleep(Duration::from_millis((30 - now % 30) * 1000 + 200)).await;
    }
}

/// What setting up an authenticator gave.
pub struct Enrolled {
    pub secret: String,
    pub backup_codes: Vec<String>,
    pub backup_set: String,
}

/// Sets up an authenticator for the signed-in `user`, confirming it with
/// the code of the step before `at` (so the steps at and after `at` stay
/// usable).
pub async fn enrol(user: &mut WebClient, at: u64) -> Enrolled {
    let started = user.post("/api/v1/mfa/totp", json!({})).await;
    assert_eq!(started.status, 201, "{:?}", started.body);
    let secret = started.body["secret"].as_str().unwrap().to_string();
    let confirmed = user
        .post(
            "/api/v1/mfa/totp/confirm",
            json!({ "code": oathtool(&secret, at - 30) }),
        )
        .await;
    assert_eq!(confirmed.status, 200, "{:?}", confirmed.body);
    let codes = &confirmed.body["backup_codes"];
    Enrolled {
        secret,
        backup_codes: codes["codes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|code| code.as_str().unwrap().to_string())
            .collect(),
        backup_set: codes["set"].as_str().unwrap().to_string(),
    }
}
