//! Passkeys (WebAuthn) with `webauthn-rs`: the relying party, and the
//! state of a ceremony between its two requests.
//!
//! A ceremony's state (its challenge) travels to the browser and back
//! sealed under a data key, with an id and an expiry, so any node can
//! finish a ceremony another node started; the id is claimed in the log
//! when the ceremony finishes, so a state and its answer work once.
//! `webauthn-rs` passkeys always require user verification: a passkey
//! proves something the user has and something they are or know.
//!
//! Attestation policy: none by default (any passkey, synced ones
//! included). With an allowlist, registration asks for direct attestation
//! and accepts only authenticators whose attestation chains to a
//! configured root and whose AAGUID (authenticator model) is listed;
//! `webauthn-rs` then also refuses synced passkeys, which no vendor
//! attests as one device.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use thiserror::Error;
pub use webauthn_rs::prelude::{
    AttestationCaList, AttestedPasskeyRegistration, AuthenticationResult, CreationChallengeResponse, CredentialID,
    Passkey, PasskeyAuthentication, PasskeyRegistration, PublicKeyCredential, RegisterPublicKeyCredential,
    RequestChallengeResponse, Url, Uuid, WebauthnError,
};
use webauthn_rs::prelude::{AttestationCaListBuilder, AttestationMetadata};
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
    #[error("attestation roots: {0}")]
    Attestation(String),
}

/// The attestation allowlist: every AAGUID in `aaguids` is allowed under
/// every certificate of `roots_pem` (one or more PEM certificates).
pub fn attestation_allowlist(roots_pem: &str, aaguids: &[Uuid]) -> Result<AttestationCaList, RelyingPartyError> {
    const END: &str = "-----END CERTIFICATE-----";
    let roots: Vec<&str> = roots_pem
        .split_inclusive(END)
        .filter(|block| block.contains("-----BEGIN CERTIFICATE-----"))
        .collect();
    if roots.is_empty() {
        return Err(RelyingPartyError::Attestation("no PEM certificate found".into()));
    }
    if aaguids.is_empty() {
        return Err(RelyingPartyError::Attestation("no AAGUID is allowed".into()));
    }
    let mut builder = AttestationCaListBuilder::new();
    for (index, root) in roots.iter().enumerate() {
        for aaguid in aaguids {
            builder
                .insert_device_pem(root.trim().as_bytes(), *aaguid, aaguid.to_string(), Default::default())
                .map_err(|error| {
                    RelyingPartyError::Attestation(format!("certificate {} is not usable: {error:?}", index + 1))
                })?;
        }
    }
    Ok(builder.build())
}

/// Why a registration was refused.
#[derive(Debug, Error)]
pub enum RegistrationRefused {
    /// The attestation policy does not admit this authenticator.
    #[error("this authenticator is not on the allowlist of authenticator models: {0}")]
    NotAllowed(WebauthnError),
    #[error("{0}")]
    Invalid(WebauthnError),
}

/// The relying party: its id (a domain) and the origins passkeys may be
/// used from.
pub struct RelyingParty {
    pub webauthn: Webauthn,
    pub rp_id: String,
    /// The attestation allowlist; `None`: attestation "none".
    pub attestation: Option<AttestationCaList>,
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
            attestation: None,
        })
    }

    pub fn with_attestation(mut self, allowlist: Option<AttestationCaList>) -> Self {
        self.attestation = allowlist;
        self
    }

    /// Starts a registration under the attestation policy.
    pub fn start_registration(
        &self,
        handle: Uuid,
        name: &str,
        display_name: &str,
        exclude: Vec<CredentialID>,
    ) -> Result<(CreationChallengeResponse, CeremonyState), WebauthnError> {
        match &self.attestation {
            None => self
                .webauthn
                .start_passkey_registration(handle, name, display_name, Some(exclude))
                .map(|(options, state)| (options, CeremonyState::Registration(state))),
            Some(allowlist) => self
                .webauthn
                .start_attested_passkey_registration(handle, name, display_name, Some(exclude), allowlist.clone(), None)
                .map(|(options, state)| (options, CeremonyState::AttestedRegistration(state))),
        }
    }

    /// Finishes a registration: the passkey, and the authenticator model
    /// (AAGUID) when it was attested. `None` for a ceremony that is not a
    /// registration.
    pub fn finish_registration(
        &self,
        credential: &RegisterPublicKeyCredential,
        state: &CeremonyState,
    ) -> Option<Result<(Passkey, Option<Uuid>), RegistrationRefused>> {
        Some(match state {
            CeremonyState::Registration(state) => self
                .webauthn
                .finish_passkey_registration(credential, state)
                .map(|passkey| (passkey, None))
                .map_err(RegistrationRefused::Invalid),
            CeremonyState::AttestedRegistration(state) => {
                match self.webauthn.finish_attested_passkey_registration(credential, state) {
                    Ok(attested) => {
                        let aaguid = match &attested.attestation().metadata {
                            AttestationMetadata::Packed { aaguid } | AttestationMetadata::Tpm { aaguid, .. } => {
                                Some(*aaguid)
                            }
                            _ => None,
                        };
                        Ok((Passkey::from(attested), aaguid))
                    }
                    Err(
                        error @ (WebauthnError::AttestationUntrustedAaguid
                        | WebauthnError::AttestationChainNotTrusted(_)
                        | WebauthnError::AttestationNotVerifiable
                        | WebauthnError::CredentialMayNotBeHardwareBound
                        | WebauthnError::AttestationFormatMissingAaguid),
                    ) => Err(RegistrationRefused::NotAllowed(error)),
                    Err(error) => Err(RegistrationRefused::Invalid(error)),
                }
            }
            _ => return None,
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
    /// A registration under an attestation allowlist.
    AttestedRegistration(AttestedPasskeyRegistration),
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
