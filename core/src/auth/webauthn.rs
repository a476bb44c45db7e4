//! Passkeys (WebAuthn) with `webauthn-rs`: the relying party, and the
//! state of a ceremony between its two requests.
//!
//! A ceremony's state (its challenge) travels to the browser and back
//! sealed under a data key, with an id and an expiry, so any node can
//! finish a ceremony another node started; the id is claimed in the log
//! when the ceremony finishes, so a state and its answer work once.
//! `webauthn-rs` passkeys always require user verification: a passkey
//! proves something the user has and something they are or know.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use thiserror::Error;
pub use webauthn_rs::prelude::{
    AuthenticationResult, CreationChallengeResponse, Passkey, PasskeyAuthentication, PasskeyRegistration,
    PublicKeyCredential, RegisterPublicKeyCredential, RequestChallengeResponse, Url, Uuid, WebauthnError,
};
use webauthn_rs::{Webauthn, WebauthnBuilder};

/// Claim namespace of finished ceremonies (each state works once).
pub const CEREMONY_CLAIM: &str = "webauthn_ceremony";
/// Claim namespace of credential ids (one account per credential).
pub const CREDENTIAL_CLAIM: &str = "passkey_credential";
/// How long a ceremony may take.
pub const CEREMONY_LIFETIME: chrono::Duration = chrono::Duration::minutes(5);

#[derive(Debug, Error)]
pub enum RelyingPartyError {
    #[error("the relying party id {0:?} does not fit the origins (it must be their host or a parent domain of it)")]
    Config(String),
}

/// The relying party: its id (a domain) and the origins passkeys may be
/// used from.
pub struct RelyingParty {
    pub webauthn: Webauthn,
    pub rp_id: String,
}

impl RelyingParty {
    pub fn new(rp_id: &str, rp_name: &str, origins: &[Url]) -> Result<Self, RelyingPartyError> {
        let Some((first, more)) = origins.split_first() else {
            return Err(RelyingPartyError::Config(rp_id.to_string()));
        };
        let mut builder = WebauthnBuilder::new(rp_id, first)
            .map_err(|_| RelyingPartyError::Config(rp_id.to_string()))?
            .rp_name(rp_name);
        for origin in more {
            builder = builder.append_allowed_origin(origin);
        }
        let webauthn = builder
            .build()
            .map_err(|_| RelyingPartyError::Config(rp_id.to_string()))?;
        Ok(RelyingParty {
            webauthn,
            rp_id: rp_id.to_string(),
        })
    }

    /// The options of a sign-in for an account without passkeys (or no
    /// account): shaped like a real one, with one credential id derived
    /// from `seed` (the same every time for the same email), so the answer
    /// does not tell whether the account exists or has passkeys.
    pub fn decoy_challenge(&self, seed: &[u8; 32]) -> RequestChallengeResponse {
        use webauthn_rs_proto::{AllowCredentials, PublicKeyCredentialRequestOptions, UserVerificationPolicy};
        let credential = blake3::derive_key("warden 2026-11 decoy passkey credential id", seed);
        RequestChallengeResponse {
            public_key: PublicKeyCredentialRequestOptions {
                challenge: crate::keys::random_bytes::<32>().to_vec(),
                timeout: Some(u32::try_from(webauthn_rs::DEFAULT_AUTHENTICATOR_TIMEOUT.as_millis()).unwrap_or(300_000)),
                rp_id: self.rp_id.clone(),
                allow_credentials: vec![AllowCredentials {
                    type_: "public-key".into(),
                    id: credential[..16].to_vec(),
                    transports: None,
                }],
                user_verification: UserVerificationPolicy::Required,
                hints: None,
                extensions: None,
            },
            mediation: None,
        }
    }
}

/// What a ceremony remembers between its two requests.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Ceremony {
    /// Claimed in the log when the ceremony finishes.
    pub id: String,
    /// The user it is for (known at the start of every Warden ceremony:
    /// sign-in with a passkey asks for the email first).
    pub user: Option<String>,
    /// The session that started it, when there was one.
    pub session: Option<String>,
    #[serde(with = "crate::event::timestamp")]
    pub expires_at: DateTime<Utc>,
    pub state: CeremonyState,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", content = "state", rename_all = "snake_case")]
pub enum CeremonyState {
    Registration(PasskeyRegistration),
    Authentication(PasskeyAuthentication),
    /// A sign-in for an email with no passkey: answered like a real one,
    /// refused at the end.
    Decoy,
}

/// A credential id as text (base64url, no padding), as browsers show it.
pub fn credential_id_text(id: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(id)
}
