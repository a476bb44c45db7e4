//! Passkeys over HTTP against a real `warden serve`, with a software
//! authenticator (`webauthn-authenticator-rs`' SoftPasskey, which signs
//! real WebAuthn assertions): registration, sign-in with the passkey
//! alone, the passkey as a second factor, replays, accounts without
//! passkeys answered like others, rename and removal; and an attestation
//! allowlist of authenticator models.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::{Value, json};
use warden_tests::passkeys::{assertion, passkey_sign_in, register, registration};
use warden_tests::web::{WebClient, assert_refused, create_user, events, instance, set_up};
use webauthn_authenticator_rs::softpasskey::SoftPasskey;

const SAM: &str = "sam@acme.test";
const SAM_PASSWORD: &str = "sam's long password 7";

/// An instance whose member Sam registered a passkey ("Laptop"), and
/// Sam's key.
async fn sam_with_a_passkey() -> (warden_tests::web::Instance, SoftPasskey) {
    let instance = instance(&[]).await;
    let mut owner = set_up(&instance.server).await;
    create_user(&mut owner, SAM, "member", SAM_PASSWORD).await;
    let mut sam = WebClient::new(&instance.server);
    sam.sign_in(SAM, SAM_PASSWORD).await;
    let mut key = SoftPasskey::new(true);
    register(&mut sam, &mut key, "Laptop").await;
    (instance, key)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_passkey_signs_in_alone_or_as_second_factor_once_per_ceremony() {
    let instance = instance(&[]).await;
    let mut owner = set_up(&instance.server).await;
    create_user(&mut owner, SAM, "member", SAM_PASSWORD).await;
    let mut sam = WebClient::new(&instance.server);
    sam.sign_in(SAM, SAM_PASSWORD).await;
    let mut key = SoftPasskey::new(true);

    let registered = register(&mut sam, &mut key, "Laptop").await;
    assert_eq!(registered["name"], "Laptop");
    assert_eq!(registered["backup_codes"]["codes"].as_array().unwrap().len(), 10);
    let credential = registered["credential"].as_str().unwrap().to_string();
    let factors = sam.get("/api/v1/mfa").await;
    assert_eq!(factors.body["passkeys"][0]["credential"], credential.as_str());
    assert_eq!(factors.body["second_factors"], json!(["passkey", "backup_code"]));

    // Signing in with the passkey alone: a full session at aal2.
    let mut laptop = WebClient::new(&instance.server);
    let (ceremony, answer) = assertion(
        &mut laptop,
        &mut key,
        "/api/v1/sign-in/passkey/start",
        json!({ "email": SAM }),
    )
    .await;
    let body = json!({ "email": SAM, "ceremony": ceremony, "credential": answer });
    let signed_in = laptop.post("/api/v1/sign-in/passkey/finish", body.clone()).await;
    assert_eq!(signed_in.status, 200, "{:?}", signed_in.body);
    assert_eq!(signed_in.body["session"]["assurance"]["level"], "aal2");
    assert_eq!(signed_in.body["session"]["assurance"]["methods"], json!(["passkey"]));
    assert!(signed_in.body["session"]["pending"].is_null());
    assert_eq!(laptop.get("/api/v1/session").await.status, 200);
    // The same assertion again is refused.
    let mut thief = WebClient::new(&instance.server);
    assert_refused(
        &thief.post("/api/v1/sign-in/passkey/finish", body).await,
        401,
        "invalid_credentials",
    );

    // A password now gives a partial session; the passkey completes it.
    let mut phone = WebClient::new(&instance.server);
    let partial = phone.sign_in(SAM, SAM_PASSWORD).await;
    assert_eq!(
        partial.body["session"]["pending"]["factors"],
        json!(["passkey", "backup_code"])
    );
    let (ceremony, answer) = assertion(&mut phone, &mut key, "/api/v1/mfa/passkeys/verify/start", json!({})).await;
    let verified = phone
        .post(
            "/api/v1/mfa/passkeys/verify/finish",
            json!({ "ceremony": ceremony, "credential": answer }),
        )
        .await;
    assert_eq!(verified.status, 200, "{:?}", verified.body);
    assert_eq!(
        verified.body["session"]["assurance"]["methods"],
        json!(["password", "passkey"])
    );
    // The same answer again is a replay: its ceremony is spent.
    let replayed = phone
        .post(
            "/api/v1/mfa/passkeys/verify/finish",
            json!({ "ceremony": ceremony, "credential": answer }),
        )
        .await;
    assert_refused(&replayed, 401, "invalid_code");
    // A signature that does not verify is refused.
    let (ceremony, mut answer) = assertion(&mut phone, &mut key, "/api/v1/mfa/passkeys/verify/start", json!({})).await;
    let signature = answer["response"]["signature"].as_str().unwrap().to_string();
    let flipped = if signature.starts_with('A') { "B" } else { "A" };
    answer["response"]["signature"] = json!(format!("{flipped}{}", &signature[1..]));
    let forged = phone
        .post(
            "/api/v1/mfa/passkeys/verify/finish",
            json!({ "ceremony": ceremony, "credential": answer }),
        )
        .await;
    assert_refused(&forged, 401, "invalid_code");
    // A ceremony of another session is refused.
    let (ceremony, answer) = assertion(&mut phone, &mut key, "/api/v1/mfa/passkeys/verify/start", json!({})).await;
    let mut other = WebClient::new(&instance.server);
    other.sign_in(SAM, SAM_PASSWORD).await;
    assert_refused(
        &other
            .post(
                "/api/v1/mfa/passkeys/verify/finish",
                json!({ "ceremony": ceremony, "credential": answer }),
            )
            .await,
        400,
        "bad_request",
    );

    // Rename, then remove (the session just proved the passkey).
    assert_eq!(
        phone
            .patch(
                &format!("/api/v1/mfa/passkeys/{credential}"),
                json!({ "name": "Work laptop" })
            )
            .await
            .status,
        204
    );
    assert_eq!(
        phone.get("/api/v1/mfa").await.body["passkeys"][0]["name"],
        "Work laptop"
    );
    assert_eq!(
        phone.delete(&format!("/api/v1/mfa/passkeys/{credential}")).await.status,
        204
    );
    let signed_in = WebClient::new(&instance.server).sign_in(SAM, SAM_PASSWORD).await;
    assert!(signed_in.body["session"]["pending"].is_null(), "no second factor left");

    let log = events(&instance);
    let kinds: Vec<&str> = log.iter().map(|event| event["kind"].as_str().unwrap()).collect();
    for kind in ["mfa.passkey.registered", "mfa.passkey.renamed", "mfa.passkey.removed"] {
        assert!(kinds.contains(&kind), "no {kind}");
    }
    let passkey_uses = log
        .iter()
        .filter(|event| event["kind"] == "mfa.verified" && event["data"]["factor"] == "passkey")
        .count();
    assert_eq!(passkey_uses, 2);
    assert!(
        log.iter()
            .any(|event| event["kind"] == "login.succeeded" && event["data"]["method"] == "passkey")
    );
    assert!(
        log.iter()
            .any(|event| event["kind"] == "login.failed" && event["data"]["method"] == "passkey")
    );
    let failures: Vec<&str> = log
        .iter()
        .filter(|event| event["kind"] == "mfa.failed" && event["data"]["factor"] == "passkey")
        .map(|event| event["data"]["reason"].as_str().unwrap())
        .collect();
    assert_eq!(failures, ["replayed", "invalid_assertion"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_passkey_sign_in_does_not_tell_which_accounts_exist() {
    let (instance, mut key) = sam_with_a_passkey().await;

    let mut stranger = WebClient::new(&instance.server);
    let shape = |value: &Value| -> Vec<String> {
        let mut keys: Vec<String> = value["options"]["publicKey"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        keys.sort();
        keys
    };
    let real = stranger
        .post("/api/v1/sign-in/passkey/start", json!({ "email": SAM }))
        .await;
    let unknown = stranger
        .post("/api/v1/sign-in/passkey/start", json!({ "email": "nobody@acme.test" }))
        .await;
    let without = stranger
        .post("/api/v1/sign-in/passkey/start", json!({ "email": "owner@acme.test" }))
        .await;
    for answer in [&real, &unknown, &without] {
        assert_eq!(answer.status, 200);
        assert_eq!(shape(&answer.body), shape(&real.body));
        assert_eq!(
            answer.body["options"]["publicKey"]["allowCredentials"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
    }
    // The stand-in credential is the same every time for an email.
    let again = stranger
        .post("/api/v1/sign-in/passkey/start", json!({ "email": "nobody@acme.test" }))
        .await;
    assert_eq!(
        again.body["options"]["publicKey"]["allowCredentials"],
        unknown.body["options"]["publicKey"]["allowCredentials"]
    );
    assert_ne!(
        again.body["options"]["publicKey"]["challenge"],
        unknown.body["options"]["publicKey"]["challenge"]
    );
    // Finishing with Sam's passkey against the unknown account's ceremony fails.
    let (_, answer) = assertion(
        &mut stranger,
        &mut key,
        "/api/v1/sign-in/passkey/start",
        json!({ "email": SAM }),
    )
    .await;
    let refused = stranger
        .post(
            "/api/v1/sign-in/passkey/finish",
            json!({ "email": "nobody@acme.test", "ceremony": unknown.body["ceremony"], "credential": answer }),
        )
        .await;
    assert_refused(&refused, 401, "invalid_credentials");
    // A forged ceremony, or a malformed answer, is a failed sign-in.
    let forged = stranger
        .post(
            "/api/v1/sign-in/passkey/finish",
            json!({ "email": SAM, "ceremony": "bm90IGEgY2VyZW1vbnk", "credential": answer }),
        )
        .await;
    assert_refused(&forged, 401, "invalid_credentials");
    let malformed = stranger
        .post(
            "/api/v1/sign-in/passkey/finish",
            json!({ "email": SAM, "ceremony": unknown.body["ceremony"], "credential": {} }),
        )
        .await;
    assert_refused(&malformed, 401, "invalid_credentials");
    let long = stranger
        .post("/api/v1/sign-in/passkey/start", json!({ "email": "a".repeat(321) }))
        .await;
    assert_refused(&long, 400, "bad_request");
}

/// With an attestation allowlist, only the listed authenticator models
/// under a trusted root register (a SoftToken, which attests with its own
/// CA); an unlisted model, another vendor's root, or a passkey without
/// attestation is refused with a clear 422. The registered one signs in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_attestation_allowlist_admits_listed_authenticators_only() {
    use crypto_glue::traits::{EncodePem, LineEndingPem};
    use webauthn_authenticator_rs::softtoken::{self, SoftToken};

    let (mut token, root) = SoftToken::new(true).unwrap();
    let (mut foreign, _) = SoftToken::new(true).unwrap();
    let roots = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(roots.path(), root.to_pem(LineEndingPem::LF).unwrap()).unwrap();
    let roots = roots.path().to_str().unwrap().to_string();
    let allowed = softtoken::AAGUID.to_string();
    let (instance, mut sam) = with_allowlist(&roots, &allowed).await;

    // Another vendor's root, and a passkey that does not attest: refused.
    let mut plain = SoftPasskey::new(true);
    for body in [
        registration(&mut sam, &mut foreign, "Foreign").await,
        registration(&mut sam, &mut plain, "Plain").await,
    ] {
        let refused = sam.post("/api/v1/mfa/passkeys/register/finish", body).await;
        assert_refused(&refused, 422, "authenticator_not_allowed");
        assert!(refused.body["error"]["message"].as_str().unwrap().contains("allowlist"));
    }

    // The listed model under the trusted root: registered, with its AAGUID
    // in the event, and it signs in.
    let registered = register(&mut sam, &mut token, "Security key").await;
    assert_eq!(registered["name"], "Security key");
    let events = events(&instance);
    let event = events
        .iter()
        .find(|event| event["kind"] == "mfa.passkey.registered")
        .unwrap();
    assert_eq!(event["data"]["aaguid"], allowed.as_str());
    let mut laptop = WebClient::new(&instance.server);
    let signed_in = passkey_sign_in(&mut laptop, &mut token, SAM).await;
    assert_eq!(signed_in.status, 200, "{:?}", signed_in.body);

    // The same root with only another model listed: the key is refused.
    let (_other, mut sam) = with_allowlist(&roots, "6d44ba9b-f6ec-2e49-b930-0c8fe920cb73").await;
    let body = registration(&mut sam, &mut token, "Security key").await;
    assert_refused(
        &sam.post("/api/v1/mfa/passkeys/register/finish", body).await,
        422,
        "authenticator_not_allowed",
    );
}

/// An instance with an attestation allowlist, and Sam signed in on it.
async fn with_allowlist(roots: &str, aaguids: &str) -> (warden_tests::web::Instance, WebClient) {
    let instance = instance(&[
        ("WARDEN_PASSKEY_ATTESTATION_CA_FILE", roots),
        ("WARDEN_PASSKEY_ALLOWED_AAGUIDS", aaguids),
    ])
    .await;
    let mut owner = set_up(&instance.server).await;
    create_user(&mut owner, SAM, "member", SAM_PASSWORD).await;
    let mut sam = WebClient::new(&instance.server);
    sam.sign_in(SAM, SAM_PASSWORD).await;
    (instance, sam)
}

/// The keys of a JSON value, recursively, with array lengths: its shape.
fn shape(value: &Value) -> Value {
    match value {
        Value::Object(members) => Value::Object(
            members
                .iter()
                .map(|(key, member)| (key.clone(), shape(member)))
                .collect(),
        ),
        Value::Array(items) => json!({ "items": items.len(), "first": items.first().map(shape) }),
        Value::String(_) => json!("string"),
        other => json!(other.is_number()),
    }
}

/// Starting a passkey sign-in answers the same, in the same time, for an
/// account with passkeys and for an unknown email: the same status, the
/// same shape of options (a decoy credential list), and medians of the
/// answer times within 25% (plus 2 ms of network noise) in one run,
/// alternating (issue 14, item 6: every sign-in-like endpoint).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starting_a_passkey_sign_in_tells_no_account_apart() {
    let (instance, _key) = sam_with_a_passkey().await;

    let client = WebClient::new(&instance.server);
    let start = |email: String| {
        let mut client = client.on(&instance.server);
        async move {
            let began = std::time::Instant::now();
            let answer = client
                .post("/api/v1/sign-in/passkey/start", json!({ "email": email }))
                .await;
            (began.elapsed(), answer)
        }
    };
    let (_, known) = start(SAM.to_string()).await;
    let (_, unknown) = start("nobody@acme.test".to_string()).await;
    assert_eq!(known.status, 200, "{:?}", known.body);
    assert_eq!(unknown.status, 200, "{:?}", unknown.body);
    assert_eq!(
        shape(&known.body),
        shape(&unknown.body),
        "{:?} / {:?}",
        known.body,
        unknown.body
    );

    let (mut known_times, mut unknown_times) = (Vec::new(), Vec::new());
    for round in 0..30 {
        let (time, answer) = start(SAM.to_string()).await;
        assert_eq!(answer.status, 200);
        known_times.push(time);
        let (time, answer) = start(format!("nobody{round}@acme.test")).await;
        assert_eq!(answer.status, 200);
        unknown_times.push(time);
    }
    let median = |times: &mut Vec<std::time::Duration>| {
        times.sort();
        times[times.len() / 2]
    };
    let (known, unknown) = (median(&mut known_times), median(&mut unknown_times));
    let (slow, fast) = if known > unknown {
        (known, unknown)
    } else {
        (unknown, known)
    };
    assert!(
        slow.as_secs_f64() <= fast.as_secs_f64() * 1.25 + 0.002,
        "median passkey start: account with passkeys {known:?}, unknown email {unknown:?}"
    );
}
