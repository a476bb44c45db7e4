//! The checks of an OpenID Connect ID token's claims, once its signature
//! passed (the flow verifies it against the provider's published keys,
//! asymmetric algorithms only): issuer, audience and authorized party,
//! expiry and issue time with a bounded clock skew, the nonce this flow
//! sent, and each preset's own (Google's `hd`, Entra ID's tenant and
//! `oid`). What passes is the identity the connection's mapping reads;
//! what fails says exactly why, for the org's admins.
//!
//! Nothing here does I/O or reads a clock.

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;

use super::settings::{ENTRA_ISSUER_START, ENTRA_MULTI_TENANT};
use crate::commands::sso::sign_in::Failure;
use crate::commands::sso::{Mapping, Oidc, Preset};

/// The clock skew allowed between Warden and a provider.
pub const SKEW: Duration = Duration::minutes(2);

/// What this flow expects of the token.
#[derive(Debug, Clone)]
pub struct Expected<'a> {
    pub preset: Preset,
    pub oidc: &'a Oidc,
    pub mapping: &'a Mapping,
    /// The nonce the flow sent.
    pub nonce: &'a str,
    /// When the flow started: a token issued before is not this flow's.
    pub started_at: DateTime<Utc>,
    /// The domains an owner acknowledged on the connection.
    pub domains: &'a [String],
}

/// Who the token says signed in, as the mapping reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The provider's stable id: `sub`, or Entra ID's `<tid>/<oid>`.
    pub subject: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub name: Option<String>,
    pub groups: Vec<String>,
    /// Entra ID left the groups out: too many for the token.
    pub groups_overage: bool,
    /// The provider asserted a second factor (`amr` or `acr` the
    /// connection names).
    pub upstream_mfa: bool,
    /// When the provider authenticated the person (`auth_time`), if it
    /// said.
    pub auth_time: Option<DateTime<Utc>>,
}

/// A failed check: the reason, and what exactly was wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub reason: Failure,
    pub detail: String,
}

fn refused(reason: Failure, detail: impl Into<String>) -> Refused {
    Refused {
        reason,
        detail: detail.into(),
    }
}

fn text<'a>(claims: &'a Value, name: &str) -> Option<&'a str> {
    claims.get(name).and_then(Value::as_str)
}

fn missing(name: &str) -> Refused {
    refused(Failure::MissingClaim, format!("the ID token has no {name} claim"))
}

/// A NumericDate claim (seconds since the epoch).
fn time(claims: &Value, name: &str) -> Result<DateTime<Utc>, Refused> {
    let seconds = claims.get(name).and_then(Value::as_f64).ok_or_else(|| missing(name))?;
    #[allow(clippy::cast_possible_truncation)]
    DateTime::from_timestamp(seconds.floor() as i64, 0)
        .ok_or_else(|| refused(Failure::MalformedToken, format!("{name} is not a time")))
}

/// A claim that is a string or a list of strings, as a list.
fn strings(claims: &Value, name: &str) -> Vec<String> {
    match claims.get(name) {
        Some(Value::String(one)) => vec![one.clone()],
        Some(Value::Array(many)) => many.iter().filter_map(Value::as_str).map(str::to_string).collect(),
        _ => Vec::new(),
    }
}

/// The checks, in the order OpenID Connect Core §3.1.3.7 gives them.
pub fn check(claims: &Value, expected: &Expected, now: DateTime<Utc>) -> Result<Identity, Refused> {
    let oidc = expected.oidc;
    let issuer = text(claims, "iss").ok_or_else(|| missing("iss"))?;
    let tenant = check_issuer(issuer, expected)?;
    let audiences = strings(claims, "aud");
    if !audiences.contains(&oidc.client_id) {
        return Err(refused(
            Failure::AudienceMismatch,
            format!(
                "the token is for {audiences:?}, not this connection's client id {:?}",
                oidc.client_id
            ),
        ));
    }
    if audiences.len() > 1 && text(claims, "azp") != Some(oidc.client_id.as_str()) {
        return Err(refused(
            Failure::AudienceMismatch,
            format!("the token is also for {audiences:?} without naming this client as its authorized party"),
        ));
    }
    if let Some(party) = text(claims, "azp")
        && party != oidc.client_id
    {
        return Err(refused(
            Failure::AuthorizedPartyMismatch,
            format!("azp is {party:?}, not this connection's client id {:?}", oidc.client_id),
        ));
    }
    let expires = time(claims, "exp")?;
    if now > expires + SKEW {
        return Err(refused(
            Failure::Expired,
            format!(
                "the token expired at {expires} and it is {now} here (allowing {} s of clock skew)",
                SKEW.num_seconds()
            ),
        ));
    }
    let issued = time(claims, "iat")?;
    if issued > now + SKEW || issued + SKEW < expected.started_at {
        return Err(refused(
            Failure::ClockSkew,
            format!(
                "the token was issued at {issued}, outside this sign-in (started {}, now {now}, allowing {} s of clock skew): check both clocks",
                expected.started_at,
                SKEW.num_seconds()
            ),
        ));
    }
    match text(claims, "nonce") {
        None => return Err(missing("nonce")),
        Some(nonce) if nonce != expected.nonce => {
            return Err(refused(
                Failure::NonceMismatch,
                "the token's nonce is not the one this sign-in sent (a token of another sign-in)",
            ));
        }
        Some(_) => {}
    }
    let sub = text(claims, "sub").filter(|sub| !sub.is_empty() && sub.len() <= 255);
    let sub = sub.ok_or_else(|| missing("sub"))?;
    let subject = match (expected.preset, tenant) {
        (Preset::Entra, tenant) => {
            let oid = text(claims, "oid").ok_or_else(|| missing("oid"))?;
            let tid = tenant.or_else(|| text(claims, "tid")).ok_or_else(|| missing("tid"))?;
            format!("{tid}/{oid}")
        }
        _ => sub.to_string(),
    };
    let mapping = expected.mapping;
    let email = text(claims, &mapping.email).map(str::to_lowercase);
    if expected.preset == Preset::Google {
        let hosted = text(claims, "hd").ok_or_else(|| {
            refused(
                Failure::HostedDomainMismatch,
                "the Google account is not a Workspace account (no hd claim)",
            )
        })?;
        if !expected.domains.iter().any(|domain| domain == hosted) {
            return Err(refused(
                Failure::HostedDomainMismatch,
                format!("the Google Workspace domain {hosted} is not one an owner acknowledged on this connection"),
            ));
        }
    }
    let email_verified = match claims.get("email_verified") {
        Some(Value::Bool(verified)) => *verified,
        // Some providers write it as text.
        Some(Value::String(verified)) => verified == "true",
        // Entra ID marks an address its tenant verified so.
        _ => expected.preset == Preset::Entra && claims.get("xms_edov") == Some(&Value::Bool(true)),
    };
    let amr = strings(claims, "amr");
    let acr = text(claims, "acr");
    let upstream_mfa = amr.iter().any(|method| oidc.mfa_amr.contains(method))
        || acr.is_some_and(|acr| oidc.mfa_acr.iter().any(|named| named == acr));
    let overage = claims
        .get("_claim_names")
        .and_then(|names| names.get(&mapping.groups))
        .is_some();
    Ok(Identity {
        subject,
        email,
        email_verified,
        name: text(claims, &mapping.name).map(str::to_string),
        groups: strings(claims, &mapping.groups),
        groups_overage: overage,
        upstream_mfa,
        auth_time: time(claims, "auth_time").ok(),
    })
}

/// The issuer is the connection's, exactly; for Entra ID's multi-tenant
/// issuers, a tenant's own issuer for an allowed tenant (its id returned).
fn check_issuer<'a>(issuer: &'a str, expected: &Expected) -> Result<Option<&'a str>, Refused> {
    let oidc = expected.oidc;
    let configured = oidc.issuer.as_str();
    let multi_tenant = expected.preset == Preset::Entra
        && ENTRA_MULTI_TENANT
            .iter()
            .any(|tenant| configured == format!("{ENTRA_ISSUER_START}{tenant}/v2.0"));
    if !multi_tenant {
        if issuer != configured {
            return Err(refused(
                Failure::IssuerMismatch,
                format!("the token's issuer is {issuer:?}, not this connection's {configured:?}"),
            ));
        }
        return Ok(None);
    }
    let tenant = issuer
        .strip_prefix(ENTRA_ISSUER_START)
        .and_then(|rest| rest.strip_suffix("/v2.0"))
        .ok_or_else(|| {
            refused(
                Failure::IssuerMismatch,
                format!("the token's issuer {issuer:?} is not an Entra ID tenant's"),
            )
        })?;
    if !oidc.tenants.iter().any(|allowed| allowed == tenant) {
        return Err(refused(
            Failure::TenantNotAllowed,
            format!("tenant {tenant} is not one this connection allows"),
        ));
    }
    Ok(Some(tenant))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::commands::sso::Mapping;

    const NOW: i64 = 1_800_000_000;

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(seconds, 0).unwrap()
    }

    fn oidc(issuer: &str, tenants: &[&str]) -> Oidc {
        Oidc {
            issuer: issuer.into(),
            client_id: "warden".into(),
            scopes: vec![],
            mfa_amr: vec!["mfa".into()],
            mfa_acr: vec!["urn:warden:mfa".into()],
            tenants: tenants.iter().map(|tenant| tenant.to_string()).collect(),
            sign_out_at_provider: false,
        }
    }

    fn claims() -> Value {
        json!({"iss": "https://idp.acme.test", "aud": "warden", "sub": "alice", "exp": NOW + 300,
               "iat": NOW - 5, "nonce": "n-1", "email": "Alice@Acme.test", "email_verified": true,
               "name": "Alice", "groups": ["developers"], "amr": ["pwd"]})
    }

    fn checked(preset: Preset, oidc: &Oidc, claims: &Value) -> Result<Identity, Refused> {
        let mapping = Mapping::default();
        let domains = vec!["acme.test".to_string()];
        let expected = Expected {
            preset,
            oidc,
            mapping: &mapping,
            nonce: "n-1",
            started_at: at(NOW - 60),
            domains: &domains,
        };
        check(claims, &expected, at(NOW))
    }

    #[test]
    fn a_good_token_gives_the_identity() {
        let identity = checked(Preset::Generic, &oidc("https://idp.acme.test", &[]), &claims()).unwrap();
        assert_eq!(identity.subject, "alice");
        assert_eq!(identity.email.as_deref(), Some("alice@acme.test"));
        assert!(identity.email_verified);
        assert_eq!(identity.groups, ["developers"]);
        assert!(!identity.upstream_mfa);
    }

    /// Each change of a good token, and the reason it is refused for
    /// (`None`: accepted).
    #[test]
    fn every_claim_is_checked() {
        type Change = fn(&mut Value);
        let cases: &[(&str, Change, Option<Failure>)] = &[
            (
                "another issuer",
                |c| c["iss"] = json!("https://evil.test"),
                Some(Failure::IssuerMismatch),
            ),
            ("no issuer", |c| c["iss"] = Value::Null, Some(Failure::MissingClaim)),
            (
                "a trailing slash",
                |c| c["iss"] = json!("https://idp.acme.test/"),
                Some(Failure::IssuerMismatch),
            ),
            (
                "another audience",
                |c| c["aud"] = json!("other"),
                Some(Failure::AudienceMismatch),
            ),
            ("audiences as a list", |c| c["aud"] = json!(["warden"]), None),
            (
                "two audiences",
                |c| c["aud"] = json!(["warden", "other"]),
                Some(Failure::AudienceMismatch),
            ),
            (
                "two audiences, azp ours",
                |c| {
                    c["aud"] = json!(["warden", "other"]);
                    c["azp"] = json!("warden");
                },
                None,
            ),
            (
                "azp another",
                |c| c["azp"] = json!("other"),
                Some(Failure::AuthorizedPartyMismatch),
            ),
            ("expired", |c| c["exp"] = json!(NOW - 121), Some(Failure::Expired)),
            ("expired within the skew", |c| c["exp"] = json!(NOW - 119), None),
            ("no expiry", |c| c["exp"] = Value::Null, Some(Failure::MissingClaim)),
            (
                "issued in the future",
                |c| c["iat"] = json!(NOW + 121),
                Some(Failure::ClockSkew),
            ),
            ("issued a little ahead", |c| c["iat"] = json!(NOW + 100), None),
            (
                "issued before the flow",
                |c| c["iat"] = json!(NOW - 60 - 121),
                Some(Failure::ClockSkew),
            ),
            (
                "another nonce",
                |c| c["nonce"] = json!("n-2"),
                Some(Failure::NonceMismatch),
            ),
            ("no nonce", |c| c["nonce"] = Value::Null, Some(Failure::MissingClaim)),
            ("no subject", |c| c["sub"] = json!(""), Some(Failure::MissingClaim)),
            (
                "a huge subject",
                |c| c["sub"] = json!("s".repeat(256)),
                Some(Failure::MissingClaim),
            ),
        ];
        for (case, change, reason) in cases {
            let mut token = claims();
            change(&mut token);
            let result = checked(Preset::Generic, &oidc("https://idp.acme.test", &[]), &token);
            assert_eq!(
                result.as_ref().err().map(|refused| refused.reason),
                *reason,
                "{case}: {result:?}"
            );
        }
    }

    #[test]
    fn second_factors_count_as_the_connection_names_them() {
        let oidc = oidc("https://idp.acme.test", &[]);
        let mut token = claims();
        token["amr"] = json!(["pwd", "mfa"]);
        assert!(checked(Preset::Generic, &oidc, &token).unwrap().upstream_mfa);
        token["amr"] = json!(["pwd", "otp"]);
        assert!(!checked(Preset::Generic, &oidc, &token).unwrap().upstream_mfa);
        token["acr"] = json!("urn:warden:mfa");
        assert!(checked(Preset::Generic, &oidc, &token).unwrap().upstream_mfa);
        let mut unverified = claims();
        unverified["email_verified"] = json!(false);
        assert!(!checked(Preset::Generic, &oidc, &unverified).unwrap().email_verified);
        unverified["email_verified"] = json!("true");
        assert!(checked(Preset::Generic, &oidc, &unverified).unwrap().email_verified);
    }

    #[test]
    fn google_needs_an_acknowledged_workspace_domain() {
        let oidc = oidc(super::super::settings::GOOGLE_ISSUER, &[]);
        let mut token = claims();
        token["iss"] = json!(super::super::settings::GOOGLE_ISSUER);
        let refused = checked(Preset::Google, &oidc, &token).unwrap_err();
        assert_eq!(refused.reason, Failure::HostedDomainMismatch, "a consumer account");
        token["hd"] = json!("globex.test");
        assert_eq!(
            checked(Preset::Google, &oidc, &token).unwrap_err().reason,
            Failure::HostedDomainMismatch
        );
        token["hd"] = json!("acme.test");
        assert!(checked(Preset::Google, &oidc, &token).is_ok());
    }

    #[test]
    fn entra_identities_are_tenant_and_object_ids() {
        let tenant = "9188040d-6c67-4c5b-b112-36a304b66dad";
        let single = oidc(&format!("https://login.microsoftonline.com/{tenant}/v2.0"), &[]);
        let mut token = claims();
        token["iss"] = json!(single.issuer);
        token["tid"] = json!(tenant);
        assert_eq!(
            checked(Preset::Entra, &single, &token).unwrap_err().reason,
            Failure::MissingClaim,
            "no oid"
        );
        token["oid"] = json!("00000000-0000-0000-66f3-3332eca7ea81");
        let identity = checked(Preset::Entra, &single, &token).unwrap();
        assert_eq!(
            identity.subject,
            format!("{tenant}/00000000-0000-0000-66f3-3332eca7ea81")
        );

        let multi = oidc("https://login.microsoftonline.com/organizations/v2.0", &[tenant]);
        assert!(
            checked(Preset::Entra, &multi, &token).is_ok(),
            "an allowed tenant's issuer"
        );
        token["iss"] = json!("https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0");
        assert_eq!(
            checked(Preset::Entra, &multi, &token).unwrap_err().reason,
            Failure::TenantNotAllowed
        );
        token["iss"] = json!("https://evil.test/v2.0");
        assert_eq!(
            checked(Preset::Entra, &multi, &token).unwrap_err().reason,
            Failure::IssuerMismatch
        );

        let mut overage = claims();
        overage["iss"] = json!(single.issuer);
        overage["tid"] = json!(tenant);
        overage["oid"] = json!("o");
        overage["_claim_names"] = json!({"groups": "src1"});
        overage["xms_edov"] = json!(true);
        overage.as_object_mut().unwrap().remove("email_verified");
        let identity = checked(Preset::Entra, &single, &overage).unwrap();
        assert!(identity.groups_overage);
        assert!(identity.email_verified, "xms_edov counts for Entra ID");
        assert!(
            !checked(Preset::Generic, &oidc(&single.issuer, &[]), &overage)
                .unwrap()
                .email_verified
        );
    }
}
