//! OpenID Providers as Warden talks to them: their discovery documents
//! and keys (cached an hour; the keys fetched again, at most every 30
//! seconds, when a token names a key they do not hold), the authorization
//! request, the code exchange, the ID token's signature (by `openidconnect`,
//! asymmetric algorithms only) and userinfo. What the claims must say is
//! `warden_core::auth::sso::id_token`'s to decide.
//!
//! The HTTP client follows no redirects (a provider's answer is its own,
//! never another host's) and gives up after ten seconds.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openidconnect::core::{CoreIdToken, CoreIdTokenVerifier, CoreJsonWebKeySet, CoreJwsSigningAlgorithm};
use openidconnect::{ClaimsVerificationError, ClientId, IssuerUrl, Nonce, SignatureVerificationError};
use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use warden_core::commands::sso::sign_in::Failure;

/// How long a provider's documents are kept.
const KEPT: Duration = Duration::from_secs(3600);
/// The least time between two fetches of a provider's keys for an
/// unknown key id (a token naming random key ids cannot make Warden
/// fetch on every request).
const REFETCH_AT_MOST_EVERY: Duration = Duration::from_secs(30);
/// The largest document Warden reads from a provider.
const LARGEST: usize = 512 * 1024;

/// The signature algorithms accepted: asymmetric only (`none` and the
/// HMACs, whose key the client holds too, never).
const ALGORITHMS: [CoreJwsSigningAlgorithm; 9] = [
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha384,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha512,
    CoreJwsSigningAlgorithm::RsaSsaPssSha256,
    CoreJwsSigningAlgorithm::RsaSsaPssSha384,
    CoreJwsSigningAlgorithm::RsaSsaPssSha512,
    CoreJwsSigningAlgorithm::EcdsaP256Sha256,
    CoreJwsSigningAlgorithm::EcdsaP384Sha384,
    CoreJwsSigningAlgorithm::EdDsa,
];

/// A provider's discovery document: what Warden uses of it.
#[derive(Debug, Clone, Deserialize)]
pub struct Metadata {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    #[serde(default)]
    pub userinfo_endpoint: Option<String>,
    pub jwks_uri: String,
    #[serde(default)]
    pub end_session_endpoint: Option<String>,
}

/// A provider as last fetched.
pub struct Provider {
    pub metadata: Metadata,
    keys: CoreJsonWebKeySet,
    fetched: Instant,
    keys_fetched: Instant,
}

/// Why talking to a provider failed: the reason a flow records, and
/// what exactly happened, for the org's admins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderError {
    pub reason: Failure,
    pub detail: String,
}

fn error(reason: Failure, detail: impl Into<String>) -> ProviderError {
    ProviderError {
        reason,
        detail: detail.into(),
    }
}

/// What the token endpoint answered.
pub struct Tokens {
    pub id_token: String,
    pub access_token: Option<String>,
}

/// The providers this node talks to.
pub struct Providers {
    http: reqwest::Client,
    cache: Mutex<HashMap<String, Arc<Provider>>>,
}

impl Default for Providers {
    fn default() -> Self {
        Self::new()
    }
}

impl Providers {
    pub fn new() -> Self {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .user_agent("Warden")
            .build()
            .unwrap_or_default();
        Providers {
            http,
            cache: Mutex::default(),
        }
    }

    fn cached(&self, issuer: &str) -> Option<Arc<Provider>> {
        let cache = self.cache.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        cache.get(issuer).cloned()
    }

    fn keep(&self, issuer: &str, provider: Provider) -> Arc<Provider> {
        let provider = Arc::new(provider);
        let mut cache = self.cache.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        cache.insert(issuer.to_string(), Arc::clone(&provider));
        provider
    }

    /// The provider at `issuer`: its discovery document (whose issuer must
    /// be `issuer`, exactly, unless `any_issuer`: Entra ID's multi-tenant
    /// documents name a template) and its keys.
    pub async fn provider(&self, issuer: &str, any_issuer: bool) -> Result<Arc<Provider>, ProviderError> {
        if let Some(provider) = self.cached(issuer).filter(|provider| provider.fetched.elapsed() < KEPT) {
            return Ok(provider);
        }
        let url = format!("{}/.well-known/openid-configuration", issuer.trim_end_matches('/'));
        let document = self.get_json(&url, None).await?;
        let metadata: Metadata = serde_json::from_value(document).map_err(|why| {
            error(
                Failure::ProviderUnreachable,
                format!("the discovery document at {url} is not one: {why}"),
            )
        })?;
        if !any_issuer && metadata.issuer != issuer {
            return Err(error(
                Failure::IssuerMismatch,
                format!(
                    "the discovery document names the issuer {:?}, not the connection's {issuer:?}",
                    metadata.issuer
                ),
            ));
        }
        let keys = self.keys(&metadata.jwks_uri).await?;
        let now = Instant::now();
        Ok(self.keep(
            issuer,
            Provider {
                metadata,
                keys,
                fetched: now,
                keys_fetched: now,
            },
        ))
    }

    async fn keys(&self, url: &str) -> Result<CoreJsonWebKeySet, ProviderError> {
        let document = self.get_json(url, None).await?;
        serde_json::from_value(document).map_err(|why| {
            error(
                Failure::ProviderUnreachable,
                format!("the keys at {url} are not a JWK set: {why}"),
            )
        })
    }

    /// GETs a JSON document (with a bearer token, for userinfo).
    async fn get_json(&self, url: &str, bearer: Option<&str>) -> Result<Value, ProviderError> {
        let mut request = self.http.get(url).header("accept", "application/json");
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        let response = request
            .send()
            .await
            .map_err(|why| error(Failure::ProviderUnreachable, format!("{url}: {}", plain(&why))))?;
        read_json(url, response).await
    }

    /// The address the browser is sent to.
    pub fn authorization_url(provider: &Provider, request: &AuthorizationRequest) -> Result<String, ProviderError> {
        let mut scopes = vec!["openid".to_string()];
        scopes.extend(request.scopes.iter().cloned());
        let mut params = vec![
            ("response_type", "code".to_string()),
            ("client_id", request.client_id.to_string()),
            ("redirect_uri", request.redirect_uri.to_string()),
            ("scope", scopes.join(" ")),
            ("state", request.state.to_string()),
            ("nonce", request.nonce.to_string()),
            ("code_challenge", challenge(request.verifier)),
            ("code_challenge_method", "S256".to_string()),
        ];
        if let Some(hint) = request.login_hint {
            params.push(("login_hint", hint.to_string()));
        }
        if request.reauthenticate {
            params.push(("prompt", "login".to_string()));
            params.push(("max_age", "0".to_string()));
        }
        let endpoint = &provider.metadata.authorization_endpoint;
        reqwest::Url::parse_with_params(endpoint, &params)
            .map(String::from)
            .map_err(|_| {
                error(
                    Failure::ProviderUnreachable,
                    format!("the authorization endpoint {endpoint:?} is not a URL"),
                )
            })
    }

    /// Where a browser signs out at the provider (RP-Initiated Logout 1.0):
    /// its `end_session_endpoint` with Warden's `client_id` and where to
    /// come back; none when the provider offers no such endpoint.
    pub fn end_session_url(provider: &Provider, client_id: &str, come_back: &str) -> Option<String> {
        let endpoint = provider.metadata.end_session_endpoint.as_deref()?;
        let params = [("client_id", client_id), ("post_logout_redirect_uri", come_back)];
        reqwest::Url::parse_with_params(endpoint, params).ok().map(String::from)
    }

    /// Exchanges the code (client_secret_basic, with the PKCE verifier).
    pub async fn exchange(&self, provider: &Provider, exchange: &Exchange<'_>) -> Result<Tokens, ProviderError> {
        let url = &provider.metadata.token_endpoint;
        let form = [
            ("grant_type", "authorization_code"),
            ("code", exchange.code),
            ("redirect_uri", exchange.redirect_uri),
            ("code_verifier", exchange.verifier),
        ];
        // RFC 6749 §2.3.1: both parts form-urlencoded before Basic.
        let user = form_encode(exchange.client_id);
        let password = form_encode(exchange.client_secret);
        let response = self
            .http
            .post(url)
            .basic_auth(user, Some(password))
            .header("accept", "application/json")
            .form(&form)
            .send()
            .await
            .map_err(|why| error(Failure::ProviderUnreachable, format!("{url}: {}", plain(&why))))?;
        let status = response.status();
        let body = read_json(url, response).await;
        if !status.is_success() {
            let said = body
                .ok()
                .map(|body| {
                    let code = body["error"].as_str().unwrap_or("no error code").to_string();
                    match body["error_description"].as_str() {
                        Some(description) => format!("{code}: {}", clip(description)),
                        None => code,
                    }
                })
                .unwrap_or_else(|| "no JSON error".to_string());
            return Err(error(
                Failure::TokenRefused,
                format!("the token endpoint answered {status} ({said})"),
            ));
        }
        let body = body?;
        let id_token = body["id_token"]
            .as_str()
            .ok_or_else(|| error(Failure::MalformedToken, "the token endpoint sent no id_token"))?;
        Ok(Tokens {
            id_token: id_token.to_string(),
            access_token: body["access_token"].as_str().map(str::to_string),
        })
    }

    /// The ID token's claims, once its signature checks against the
    /// provider's keys (fetched again once for a key id they lack).
    pub async fn verified_claims(
        &self,
        issuer: &str,
        provider: Arc<Provider>,
        client_id: &str,
        id_token: &str,
    ) -> Result<Value, ProviderError> {
        let token = CoreIdToken::from_str(id_token)
            .map_err(|why| error(Failure::MalformedToken, format!("the ID token is not a JWT: {why}")))?;
        match signature(&provider, client_id, &token) {
            Err(failure) if failure.reason == Failure::UnknownKey => {
                if provider.keys_fetched.elapsed() < REFETCH_AT_MOST_EVERY {
                    return Err(failure);
                }
                let keys = self.keys(&provider.metadata.jwks_uri).await?;
                let now = Instant::now();
                let renewed = self.keep(
                    issuer,
                    Provider {
                        metadata: provider.metadata.clone(),
                        keys,
                        fetched: provider.fetched,
                        keys_fetched: now,
                    },
                );
                signature(&renewed, client_id, &token)?;
            }
            result => result?,
        }
        payload(id_token)
    }

    /// The userinfo endpoint's claims (a JSON answer; a signed one is not
    /// read).
    pub async fn userinfo(&self, provider: &Provider, access_token: &str) -> Result<Option<Value>, ProviderError> {
        let Some(url) = &provider.metadata.userinfo_endpoint else {
            return Ok(None);
        };
        self.get_json(url, Some(access_token)).await.map(Some)
    }
}

/// What the authorization request carries.
pub struct AuthorizationRequest<'a> {
    pub client_id: &'a str,
    pub redirect_uri: &'a str,
    pub scopes: &'a [String],
    pub state: &'a str,
    pub nonce: &'a str,
    /// The PKCE verifier, whose S256 challenge is sent.
    pub verifier: &'a str,
    pub login_hint: Option<&'a str>,
    /// Ask the provider to authenticate the person again, whatever
    /// session it holds (`prompt=login`, `max_age=0`).
    pub reauthenticate: bool,
}

/// What the code exchange sends.
pub struct Exchange<'a> {
    pub client_id: &'a str,
    pub client_secret: &'a str,
    pub redirect_uri: &'a str,
    pub code: &'a str,
    pub verifier: &'a str,
}

/// The S256 challenge of a PKCE verifier.
pub fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// Checks the token's signature, and nothing else (the claims are
/// checked by the caller, who knows what to expect of them).
fn signature(provider: &Provider, client_id: &str, token: &CoreIdToken) -> Result<(), ProviderError> {
    let issuer = IssuerUrl::new(provider.metadata.issuer.clone())
        .map_err(|_| error(Failure::ProviderUnreachable, "the provider's issuer is not a URL"))?;
    let verifier =
        CoreIdTokenVerifier::new_public_client(ClientId::new(client_id.to_string()), issuer, provider.keys.clone())
            .set_allowed_algs(ALGORITHMS)
            .require_issuer_match(false)
            .require_audience_match(false)
            .set_time_fn(|| chrono::DateTime::UNIX_EPOCH)
            .set_issue_time_verifier_fn(|_| Ok(()));
    let any_nonce = |_: Option<&Nonce>| Ok(());
    match token.claims(&verifier, any_nonce) {
        Ok(_) => Ok(()),
        Err(ClaimsVerificationError::SignatureVerification(why)) => Err(match why {
            SignatureVerificationError::NoMatchingKey => error(
                Failure::UnknownKey,
                "the token is signed with a key the provider does not publish",
            ),
            SignatureVerificationError::DisallowedAlg(alg) | SignatureVerificationError::UnsupportedAlg(alg) => error(
                Failure::DisallowedAlgorithm,
                format!("signature algorithm not accepted: {alg}"),
            ),
            SignatureVerificationError::NoSignature => {
                error(Failure::DisallowedAlgorithm, "the token is not signed (alg none)")
            }
            other => error(Failure::BadSignature, format!("the signature does not verify: {other}")),
        }),
        Err(other) => Err(error(
            Failure::MalformedToken,
            format!("the ID token was not read: {other}"),
        )),
    }
}

/// The JSON payload of a compact JWT.
fn payload(jwt: &str) -> Result<Value, ProviderError> {
    let part = jwt.split('.').nth(1).unwrap_or_default();
    let bytes = URL_SAFE_NO_PAD
        .decode(part.trim_end_matches('='))
        .map_err(|_| error(Failure::MalformedToken, "the ID token's payload is not base64url"))?;
    serde_json::from_slice(&bytes).map_err(|_| error(Failure::MalformedToken, "the ID token's payload is not JSON"))
}

async fn read_json(url: &str, response: reqwest::Response) -> Result<Value, ProviderError> {
    let status = response.status();
    if response.content_length().is_some_and(|length| length > LARGEST as u64) {
        return Err(error(
            Failure::ProviderUnreachable,
            format!("{url}: the answer is too large"),
        ));
    }
    let bytes = response
        .bytes()
        .await
        .map_err(|why| error(Failure::ProviderUnreachable, format!("{url}: {}", plain(&why))))?;
    if bytes.len() > LARGEST {
        return Err(error(
            Failure::ProviderUnreachable,
            format!("{url}: the answer is too large"),
        ));
    }
    serde_json::from_slice(&bytes).map_err(|_| {
        error(
            Failure::ProviderUnreachable,
            format!("{url} answered {status} without JSON"),
        )
    })
}

/// An HTTP error without the URL's query (reqwest prints it).
fn plain(error: &reqwest::Error) -> String {
    let error = error.to_string();
    match error.split_once('?') {
        Some((before, _)) => format!("{before}…"),
        None => error,
    }
}

/// At most 200 characters of what a provider said, on one line.
pub fn clip(text: &str) -> String {
    text.chars()
        .filter(|character| !character.is_control())
        .take(200)
        .collect()
}

fn form_encode(text: &str) -> String {
    serde_urlencoded::to_string([("", text)])
        .map(|encoded| encoded.trim_start_matches('=').to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7636, appendix B.
    #[test]
    fn the_challenge_is_s256() {
        assert_eq!(
            challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn client_credentials_are_form_encoded() {
        assert_eq!(form_encode("a b:c%"), "a+b%3Ac%25");
    }

    #[test]
    fn payloads_decode() {
        let jwt = format!("h.{}.s", URL_SAFE_NO_PAD.encode(br#"{"sub":"a"}"#));
        assert_eq!(payload(&jwt).unwrap()["sub"], "a");
        assert_eq!(payload("h.!.s").unwrap_err().reason, Failure::MalformedToken);
    }
}
