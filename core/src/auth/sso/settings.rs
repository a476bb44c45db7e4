//! A connection's settings as an owner or admin types them, checked and
//! put in the one form events record ([`check`]), or the field that is
//! wrong and why.
//!
//! Nothing here does I/O: whether the issuer answers is for "Test
//! connection".

use crate::commands::account::Role;
use crate::commands::sso::{GroupRole, Mapping, Oidc, Preset, Provisioning, Settings, Upstream};

/// The longest name, in characters.
pub const LONGEST_NAME: usize = 80;
/// The most email domains one connection serves.
pub const MOST_DOMAINS: usize = 20;
/// The most group → role rows.
pub const MOST_ROLES: usize = 50;
/// The most values of a short list (scopes, `amr`, `acr`, tenants).
pub const MOST_VALUES: usize = 10;

/// Mail services anyone can have an address at: no org signs in "the
/// people at gmail.com", so no connection may claim one.
pub const PUBLIC_MAIL_DOMAINS: &[&str] = &[
    "gmail.com",
    "googlemail.com",
    "outlook.com",
    "hotmail.com",
    "live.com",
    "msn.com",
    "yahoo.com",
    "ymail.com",
    "icloud.com",
    "me.com",
    "mac.com",
    "aol.com",
    "proton.me",
    "protonmail.com",
    "gmx.com",
    "gmx.de",
    "web.de",
    "mail.com",
    "yandex.ru",
    "qq.com",
    "163.com",
    "zoho.com",
    "fastmail.com",
];

/// Google's one issuer.
pub const GOOGLE_ISSUER: &str = "https://accounts.google.com";
/// Microsoft Entra ID's issuers start so and end in `/v2.0`.
pub const ENTRA_ISSUER_START: &str = "https://login.microsoftonline.com/";
/// Entra's issuers that serve more than one tenant.
pub const ENTRA_MULTI_TENANT: [&str; 2] = ["organizations", "common"];
/// JumpCloud's one issuer.
pub const JUMPCLOUD_ISSUER: &str = "https://oauth.id.jumpcloud.com/";

/// A connection's settings as typed.
#[derive(Debug, Clone, Default)]
pub struct Typed {
    pub name: String,
    pub preset: String,
    pub issuer: String,
    pub client_id: String,
    pub scopes: Vec<String>,
    pub domains: Vec<String>,
    pub provisioning: String,
    pub email_claim: String,
    pub name_claim: String,
    pub groups_claim: String,
    pub roles: Vec<(String, String)>,
    pub default_role: String,
    pub sync_roles: bool,
    pub mfa_amr: Vec<String>,
    pub mfa_acr: Vec<String>,
    pub tenants: Vec<String>,
    pub sign_out_at_provider: bool,
}

impl Typed {
    /// A new connection's settings for `preset`, before anyone types:
    /// the provider's issuer when it has one, and the scopes, claims and
    /// `amr` values its setup guide (`docs/guides/sso/`) relies on.
    pub fn for_preset(preset: Preset) -> Typed {
        let (issuer, scopes, mfa_amr): (&str, &[&str], &[&str]) = match preset {
            Preset::Generic => ("", &["email", "profile"], &["mfa"]),
            Preset::Google => (GOOGLE_ISSUER, &["email", "profile"], &[]),
            Preset::Entra => ("", &["email", "profile"], &["mfa"]),
            Preset::Okta => ("", &["email", "profile", "groups"], &["mfa"]),
            Preset::JumpCloud => (JUMPCLOUD_ISSUER, &["email", "profile"], &["mfa"]),
        };
        let mapping = Mapping::default();
        Typed {
            preset: preset.as_str().into(),
            issuer: issuer.into(),
            scopes: scopes.iter().map(|scope| scope.to_string()).collect(),
            provisioning: "just_in_time".into(),
            email_claim: mapping.email,
            name_claim: mapping.name,
            groups_claim: mapping.groups,
            default_role: mapping.default_role.as_str().into(),
            mfa_amr: mfa_amr.iter().map(|value| value.to_string()).collect(),
            ..Typed::default()
        }
    }

    /// `settings` as they would be typed, to change some of them.
    pub fn of(settings: &Settings) -> Typed {
        let Upstream::Oidc(oidc) = &settings.upstream;
        let mapping = &settings.mapping;
        Typed {
            name: settings.name.clone(),
            preset: settings.preset.as_str().into(),
            issuer: oidc.issuer.clone(),
            client_id: oidc.client_id.clone(),
            scopes: oidc.scopes.clone(),
            domains: settings.domains.clone(),
            provisioning: settings.provisioning.as_str().into(),
            email_claim: mapping.email.clone(),
            name_claim: mapping.name.clone(),
            groups_claim: mapping.groups.clone(),
            roles: mapping
                .roles
                .iter()
                .map(|row| (row.group.clone(), row.role.as_str().to_string()))
                .collect(),
            default_role: mapping.default_role.as_str().into(),
            sync_roles: mapping.sync_roles,
            mfa_amr: oidc.mfa_amr.clone(),
            mfa_acr: oidc.mfa_acr.clone(),
            tenants: oidc.tenants.clone(),
            sign_out_at_provider: oidc.sign_out_at_provider,
        }
    }
}

/// What is wrong with a setting: the field (as the API names it) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wrong {
    pub field: &'static str,
    pub message: String,
}

fn wrong(field: &'static str, message: impl Into<String>) -> Wrong {
    Wrong {
        field,
        message: message.into(),
    }
}

/// `typed`, checked: `insecure_issuers` lets an issuer be `http://` (a
/// provider on this machine in tests; never in production).
pub fn check(typed: &Typed, insecure_issuers: bool) -> Result<Settings, Wrong> {
    let name = typed.name.trim();
    if name.is_empty() || name.chars().count() > LONGEST_NAME || name.chars().any(char::is_control) {
        return Err(wrong("name", format!("one line of 1 to {LONGEST_NAME} characters")));
    }
    let preset = Preset::parse(typed.preset.trim())
        .ok_or_else(|| wrong("preset", "one of generic, google, entra, okta, jump_cloud"))?;
    let issuer = issuer(typed.issuer.trim(), insecure_issuers)?;
    let tenants = short_list("tenants", &typed.tenants)?;
    check_preset(preset, &issuer, &tenants)?;
    let client_id = typed.client_id.trim();
    if client_id.is_empty() || client_id.len() > 200 || client_id.chars().any(|c| c.is_control() || c == ' ') {
        return Err(wrong("client_id", "1 to 200 characters without spaces"));
    }
    let mut scopes = short_list("scopes", &typed.scopes)?;
    if scopes.iter().any(|scope| !scope.chars().all(scope_character)) {
        return Err(wrong(
            "scopes",
            "a scope is printable ASCII without spaces, quotes or backslashes",
        ));
    }
    scopes.retain(|scope| scope != "openid");
    let domains = domains(&typed.domains)?;
    let provisioning = match typed.provisioning.trim() {
        "just_in_time" => Provisioning::JustInTime,
        "link_only" => Provisioning::LinkOnly,
        "off" => Provisioning::Off,
        _ => return Err(wrong("provisioning", "one of just_in_time, link_only, off")),
    };
    let mapping = Mapping {
        email: claim("mapping.email", &typed.email_claim)?,
        name: claim("mapping.name", &typed.name_claim)?,
        groups: claim("mapping.groups", &typed.groups_claim)?,
        roles: roles(&typed.roles)?,
        default_role: role("mapping.default_role", &typed.default_role)?,
        sync_roles: typed.sync_roles,
    };
    Ok(Settings {
        name: name.to_string(),
        preset,
        upstream: Upstream::Oidc(Oidc {
            issuer,
            client_id: client_id.to_string(),
            scopes,
            mfa_amr: short_list("mfa_amr", &typed.mfa_amr)?,
            mfa_acr: short_list("mfa_acr", &typed.mfa_acr)?,
            tenants,
            sign_out_at_provider: typed.sign_out_at_provider,
        }),
        domains,
        provisioning,
        mapping,
    })
}

/// An issuer: an `https://` URL (or `http://` when allowed) without
/// query, fragment or credentials, as the provider writes it.
fn issuer(text: &str, insecure: bool) -> Result<String, Wrong> {
    const WHAT: &str = "the provider's issuer URL, https://…, without query or fragment";
    let rest = match (text.strip_prefix("https://"), text.strip_prefix("http://")) {
        (Some(rest), _) => rest,
        (None, Some(rest)) if insecure => rest,
        (None, Some(_)) => return Err(wrong("issuer", format!("{WHAT}: http:// is not allowed"))),
        (None, None) => return Err(wrong("issuer", WHAT)),
    };
    let host = rest.split('/').next().unwrap_or_default();
    if text.len() > 300
        || host.is_empty()
        || host.contains('@')
        || text
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '?' | '#'))
    {
        return Err(wrong("issuer", WHAT));
    }
    Ok(text.to_string())
}

/// What each preset's provider requires of the issuer and tenants.
fn check_preset(preset: Preset, issuer: &str, tenants: &[String]) -> Result<(), Wrong> {
    match preset {
        Preset::Google if issuer != GOOGLE_ISSUER => {
            Err(wrong("issuer", format!("Google Workspace's issuer is {GOOGLE_ISSUER}")))
        }
        Preset::JumpCloud if issuer != JUMPCLOUD_ISSUER => {
            Err(wrong("issuer", format!("JumpCloud's issuer is {JUMPCLOUD_ISSUER}")))
        }
        Preset::Entra => {
            let tenant = issuer
                .strip_prefix(ENTRA_ISSUER_START)
                .and_then(|rest| rest.strip_suffix("/v2.0"))
                .filter(|tenant| !tenant.is_empty() && !tenant.contains('/'))
                .ok_or_else(|| {
                    wrong(
                        "issuer",
                        format!("Entra ID's issuer is {ENTRA_ISSUER_START}<tenant>/v2.0"),
                    )
                })?;
            let multi = ENTRA_MULTI_TENANT.contains(&tenant);
            match (multi, tenants.is_empty()) {
                (true, true) => Err(wrong(
                    "tenants",
                    "a multi-tenant issuer needs the tenant ids (tid) allowed to sign in",
                )),
                (false, false) => Err(wrong(
                    "tenants",
                    "the issuer names its tenant; list tenants only with organizations or common",
                )),
                _ => Ok(()),
            }
        }
        _ if !tenants.is_empty() => Err(wrong("tenants", "only Microsoft Entra ID has tenants")),
        _ => Ok(()),
    }
}

/// Up to [`MOST_VALUES`] non-empty values of at most 200 characters,
/// trimmed, in order, once each.
fn short_list(field: &'static str, values: &[String]) -> Result<Vec<String>, Wrong> {
    let mut kept: Vec<String> = Vec::new();
    for value in values
        .iter()
        .map(|value| value.trim())
        .filter(|value| !value.is_empty())
    {
        if value.chars().count() > 200 || value.chars().any(char::is_control) {
            return Err(wrong(field, "each value is one line of at most 200 characters"));
        }
        if !kept.iter().any(|held| held == value) {
            kept.push(value.to_string());
        }
    }
    if kept.len() > MOST_VALUES {
        return Err(wrong(field, format!("at most {MOST_VALUES} values")));
    }
    Ok(kept)
}

/// RFC 6749's scope-token characters.
fn scope_character(c: char) -> bool {
    matches!(c, '\x21' | '\x23'..='\x5B' | '\x5D'..='\x7E')
}

/// The domains, lower case, each once: DNS names of two labels or more,
/// none a public mail service.
fn domains(typed: &[String]) -> Result<Vec<String>, Wrong> {
    let mut kept: Vec<String> = Vec::new();
    for domain in typed
        .iter()
        .map(|domain| domain.trim().trim_end_matches('.').to_ascii_lowercase())
    {
        if domain.is_empty() {
            continue;
        }
        if !is_domain(&domain) {
            return Err(wrong(
                "domains",
                format!("{domain:?} is not a domain name (write an internationalized one in its xn-- form)"),
            ));
        }
        if PUBLIC_MAIL_DOMAINS.contains(&domain.as_str()) {
            return Err(wrong(
                "domains",
                format!("{domain} is a public mail service: its people are not one organization's"),
            ));
        }
        if !kept.contains(&domain) {
            kept.push(domain);
        }
    }
    if kept.len() > MOST_DOMAINS {
        return Err(wrong("domains", format!("at most {MOST_DOMAINS} domains")));
    }
    Ok(kept)
}

/// A DNS name of ASCII letters, digits and hyphens, two labels or more.
pub fn is_domain(domain: &str) -> bool {
    let labels: Vec<&str> = domain.split('.').collect();
    domain.len() <= 253
        && labels.len() >= 2
        && labels.iter().all(|label| {
            (1..=63).contains(&label.len())
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
        && labels
            .last()
            .is_some_and(|tld| !tld.bytes().all(|b| b.is_ascii_digit()))
}

/// A claim's name: one line of 1 to 100 characters.
fn claim(field: &'static str, typed: &str) -> Result<String, Wrong> {
    let name = typed.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(wrong(field, "a claim's name, 1 to 100 characters"));
    }
    Ok(name.to_string())
}

/// A role a provider may give: anything but owner.
fn role(field: &'static str, typed: &str) -> Result<Role, Wrong> {
    match Role::parse(typed.trim()) {
        Some(Role::Owner) => Err(wrong(field, "a provider cannot make owners: give owner in Warden")),
        Some(role) => Ok(role),
        None => Err(wrong(field, "one of admin, member, auditor")),
    }
}

fn roles(typed: &[(String, String)]) -> Result<Vec<GroupRole>, Wrong> {
    let mut roles: Vec<GroupRole> = Vec::new();
    for (group, typed_role) in typed {
        let group = group.trim();
        if group.is_empty() && typed_role.trim().is_empty() {
            continue;
        }
        if group.is_empty() || group.chars().count() > 200 || group.chars().any(char::is_control) {
            return Err(wrong(
                "mapping.roles",
                "a group's name is one line of 1 to 200 characters",
            ));
        }
        if roles.iter().any(|row| row.group == group) {
            return Err(wrong("mapping.roles", format!("the group {group:?} is listed twice")));
        }
        roles.push(GroupRole {
            group: group.to_string(),
            role: role("mapping.roles", typed_role)?,
        });
    }
    if roles.len() > MOST_ROLES {
        return Err(wrong("mapping.roles", format!("at most {MOST_ROLES} groups")));
    }
    Ok(roles)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn typed() -> Typed {
        Typed {
            name: " Acme Okta ".into(),
            preset: "okta".into(),
            issuer: "https://acme.okta.com/oauth2/default".into(),
            client_id: "0oa1".into(),
            scopes: vec!["openid".into(), "email".into(), "profile".into(), "email".into()],
            domains: vec!["Acme.TEST.".into(), "acme.test".into(), " ".into()],
            provisioning: "just_in_time".into(),
            email_claim: "email".into(),
            name_claim: "name".into(),
            groups_claim: "groups".into(),
            roles: vec![("admins".into(), "admin".into()), (String::new(), String::new())],
            default_role: "member".into(),
            ..Typed::default()
        }
    }

    #[test]
    fn a_connection_is_kept_in_one_form() {
        let settings = check(&typed(), false).unwrap();
        assert_eq!(settings.name, "Acme Okta");
        assert_eq!(settings.domains, ["acme.test"]);
        let Upstream::Oidc(oidc) = &settings.upstream;
        assert_eq!(oidc.scopes, ["email", "profile"]);
        assert_eq!(
            settings.mapping.roles,
            [GroupRole {
                group: "admins".into(),
                role: Role::Admin
            }]
        );
        assert_eq!(settings.mapping.default_role, Role::Member);
    }

    /// Each change of a good form, and the field it is refused on (`None`:
    /// accepted).
    #[test]
    fn every_setting_is_checked() {
        type Change = fn(&mut Typed);
        let cases: &[(&str, Change, Option<&str>)] = &[
            ("no name", |t| t.name = " ".into(), Some("name")),
            ("a long name", |t| t.name = "n".repeat(81), Some("name")),
            ("two lines", |t| t.name = "a\nb".into(), Some("name")),
            ("unknown preset", |t| t.preset = "auth0".into(), Some("preset")),
            (
                "http issuer",
                |t| t.issuer = "http://acme.okta.com".into(),
                Some("issuer"),
            ),
            ("no scheme", |t| t.issuer = "acme.okta.com".into(), Some("issuer")),
            (
                "a query",
                |t| t.issuer = "https://acme.okta.com/?a=b".into(),
                Some("issuer"),
            ),
            (
                "credentials",
                |t| t.issuer = "https://u:p@acme.okta.com".into(),
                Some("issuer"),
            ),
            ("google elsewhere", |t| t.preset = "google".into(), Some("issuer")),
            (
                "google",
                |t| {
                    t.preset = "google".into();
                    t.issuer = GOOGLE_ISSUER.into();
                },
                None,
            ),
            (
                "jumpcloud",
                |t| {
                    t.preset = "jump_cloud".into();
                    t.issuer = JUMPCLOUD_ISSUER.into();
                },
                None,
            ),
            ("entra elsewhere", |t| t.preset = "entra".into(), Some("issuer")),
            (
                "entra tenant",
                |t| {
                    t.preset = "entra".into();
                    t.issuer = "https://login.microsoftonline.com/9188040d-6c67-4c5b-b112-36a304b66dad/v2.0".into();
                },
                None,
            ),
            (
                "entra multi-tenant without tenants",
                |t| {
                    t.preset = "entra".into();
                    t.issuer = "https://login.microsoftonline.com/organizations/v2.0".into();
                },
                Some("tenants"),
            ),
            (
                "entra multi-tenant",
                |t| {
                    t.preset = "entra".into();
                    t.issuer = "https://login.microsoftonline.com/organizations/v2.0".into();
                    t.tenants = vec!["9188040d-6c67-4c5b-b112-36a304b66dad".into()];
                },
                None,
            ),
            ("tenants elsewhere", |t| t.tenants = vec!["x".into()], Some("tenants")),
            ("no client", |t| t.client_id = String::new(), Some("client_id")),
            (
                "a space in the client",
                |t| t.client_id = "a b".into(),
                Some("client_id"),
            ),
            ("a quote in a scope", |t| t.scopes = vec!["a\"b".into()], Some("scopes")),
            (
                "eleven scopes",
                |t| t.scopes = (0..11).map(|n| format!("s{n}")).collect(),
                Some("scopes"),
            ),
            (
                "a public mail domain",
                |t| t.domains = vec!["GMail.com".into()],
                Some("domains"),
            ),
            ("one label", |t| t.domains = vec!["localhost".into()], Some("domains")),
            ("an address", |t| t.domains = vec!["10.0.0.1".into()], Some("domains")),
            (
                "a hyphen at the end",
                |t| t.domains = vec!["acme-.test".into()],
                Some("domains"),
            ),
            ("unicode", |t| t.domains = vec!["bücher.test".into()], Some("domains")),
            ("punycode", |t| t.domains = vec!["xn--bcher-kva.test".into()], None),
            (
                "21 domains",
                |t| t.domains = (0..21).map(|n| format!("d{n}.test")).collect(),
                Some("domains"),
            ),
            ("no domain", |t| t.domains = Vec::new(), None),
            (
                "unknown provisioning",
                |t| t.provisioning = "yes".into(),
                Some("provisioning"),
            ),
            (
                "no email claim",
                |t| t.email_claim = String::new(),
                Some("mapping.email"),
            ),
            (
                "owner by group",
                |t| t.roles = vec![("x".into(), "owner".into())],
                Some("mapping.roles"),
            ),
            (
                "owner by default",
                |t| t.default_role = "owner".into(),
                Some("mapping.default_role"),
            ),
            (
                "unknown role",
                |t| t.default_role = "root".into(),
                Some("mapping.default_role"),
            ),
            (
                "a group twice",
                |t| {
                    t.roles = vec![("a".into(), "admin".into()), ("a".into(), "member".into())];
                },
                Some("mapping.roles"),
            ),
            (
                "a role without group",
                |t| t.roles = vec![(String::new(), "admin".into())],
                Some("mapping.roles"),
            ),
            ("auditors", |t| t.roles = vec![("audit".into(), "auditor".into())], None),
        ];
        for (case, change, field) in cases {
            let mut form = typed();
            change(&mut form);
            let checked = check(&form, false);
            assert_eq!(
                checked.as_ref().err().map(|wrong| wrong.field),
                *field,
                "{case}: {checked:?}"
            );
        }
    }

    #[test]
    fn settings_read_back_as_typed() {
        let settings = check(&typed(), false).unwrap();
        assert_eq!(check(&Typed::of(&settings), false).unwrap(), settings);
        for preset in Preset::ALL {
            let mut form = Typed::for_preset(preset);
            form.name = "Acme".into();
            form.client_id = "c".into();
            if form.issuer.is_empty() {
                form.issuer = match preset {
                    Preset::Entra => "https://login.microsoftonline.com/acme.onmicrosoft.com/v2.0".into(),
                    _ => "https://idp.acme.test".into(),
                };
            }
            assert!(check(&form, false).is_ok(), "{preset:?}: {:?}", check(&form, false));
        }
    }

    #[test]
    fn http_issuers_only_when_allowed() {
        let mut form = typed();
        form.issuer = "http://127.0.0.1:9080".into();
        assert_eq!(check(&form, false).unwrap_err().field, "issuer");
        assert!(check(&form, true).is_ok());
    }
}
