//! A real OpenID Provider for tests (panva's `oidc-provider`, started by
//! `tools/peers/oidc/start.sh`), with its test controls (forging the next
//! ID token, adding claims), and a browser that signs in through it: it
//! keeps each host's cookies and follows the provider's redirects until
//! the provider sends it back to Warden.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use serde_json::{Value, json};

use crate::peers::repository;
use crate::web::{Instance, WebClient, events};

/// The OIDC peer on a free port of 127.0.0.1, stopped when dropped.
pub struct OidcProvider {
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
    port: String,
    state: tempfile::TempDir,
    http: reqwest::Client,
}

/// A user of the provider: `sub` is the user name.
pub fn user(name: &str, email: &str, verified: bool, groups: &[&str], amr: &[&str]) -> (String, Value) {
    (
        name.to_string(),
        json!({"password": format!("{name}-pass"), "email": email, "email_verified": verified,
               "name": format!("{name} Example"), "groups": groups, "amr": amr}),
    )
}

impl OidcProvider {
    /// Starts a provider whose one client may send people back to
    /// `redirect_uri` (and, after signing out there, to Warden's
    /// `/sso/signed-out` beside it), knowing `users`.
    pub fn start(redirect_uri: &str, users: &[(String, Value)]) -> OidcProvider {
        let state = tempfile::tempdir().unwrap();
        let users_file = state.path().join("users.json");
        let users: serde_json::Map<String, Value> = users.iter().cloned().collect();
        std::fs::write(&users_file, serde_json::to_vec_pretty(&users).unwrap()).unwrap();
        let run = state.path().join("run");
        let output = Command::new(script("start.sh"))
            .arg("0")
            .env("OIDC_USERS", &users_file)
            .env("OIDC_STATE_DIR", &run)
            .env("OIDC_REDIRECT_URIS", redirect_uri)
            .env(
                "OIDC_POST_LOGOUT_REDIRECT_URIS",
                redirect_uri.replace("/sso/callback", "/sso/signed-out"),
            )
            .env("OIDC_CLIENT_ID", "warden")
            .env("OIDC_CLIENT_SECRET", "warden-client-secret")
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "the OIDC peer did not start: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let printed = String::from_utf8_lossy(&output.stdout).to_string();
        let value = |key: &str| {
            printed
                .lines()
                .find_map(|line| line.strip_prefix(&format!("{key}=")))
                .unwrap_or_else(|| panic!("no {key} in {printed}"))
                .to_string()
        };
        let issuer = value("OIDC_ISSUER");
        let port = issuer.rsplit(':').next().unwrap().to_string();
        OidcProvider {
            client_id: value("OIDC_CLIENT_ID"),
            client_secret: value("OIDC_CLIENT_SECRET"),
            issuer,
            port,
            state,
            http: reqwest::Client::new(),
        }
    }

    /// The next token response's ID token is forged so (`none`,
    /// `unknown_key`, `issuer`, `expired`, `nonce`, `audience`, `hs256`).
    pub async fn tamper(&self, mode: &str) {
        let answer = self
            .http
            .post(format!("{}/_test/tamper", self.issuer))
            .json(&json!({ "mode": mode }))
            .send()
            .await
            .unwrap();
        assert!(answer.status().is_success(), "tamper {mode}: {}", answer.status());
    }

    /// Adds `claims` to `sub`'s next ID tokens and userinfo.
    pub async fn claims(&self, sub: &str, claims: Value) {
        let answer = self
            .http
            .post(format!("{}/_test/claims", self.issuer))
            .json(&json!({ "sub": sub, "claims": claims }))
            .send()
            .await
            .unwrap();
        assert!(answer.status().is_success(), "claims: {}", answer.status());
    }

    /// The settings of a Warden connection to this provider.
    pub fn connection(&self, name: &str, domains: &[&str]) -> Value {
        json!({"name": name, "preset": "generic", "issuer": self.issuer, "client_id": self.client_id,
               "client_secret": self.client_secret, "domains": domains,
               "scopes": ["email", "profile", "groups"]})
    }
}

impl Drop for OidcProvider {
    fn drop(&mut self) {
        let _ = Command::new(script("stop.sh"))
            .arg(&self.port)
            .env("OIDC_STATE_DIR", self.state.path().join("run"))
            .output();
    }
}

fn script(name: &str) -> PathBuf {
    repository().join("tools/peers/oidc").join(name)
}

/// A browser: keeps cookies per host, follows no redirect by itself.
pub struct Browser {
    http: reqwest::Client,
    jar: BTreeMap<(String, String), String>,
}

impl Default for Browser {
    fn default() -> Self {
        Self::new()
    }
}

fn host_of(url: &str) -> String {
    url.split("://")
        .nth(1)
        .unwrap_or(url)
        .split('/')
        .next()
        .unwrap_or("")
        .to_string()
}

impl Browser {
    pub fn new() -> Self {
        Browser {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            jar: BTreeMap::new(),
        }
    }

    /// The cookie `name` this browser holds for `url`'s host.
    pub fn cookie(&self, url: &str, name: &str) -> Option<String> {
        self.jar.get(&(host_of(url), name.to_string())).cloned()
    }

    /// Holds cookie `name` for `url`'s host (as a thief who copied it).
    pub fn set_cookie(&mut self, url: &str, name: &str, value: &str) {
        self.jar.insert((host_of(url), name.to_string()), value.to_string());
    }

    fn cookies(&self, url: &str) -> String {
        let host = host_of(url);
        self.jar
            .iter()
            .filter(|((at, _), _)| *at == host)
            .map(|((_, name), value)| format!("{name}={value}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn keep(&mut self, url: &str, response: &reqwest::Response) {
        let host = host_of(url);
        for line in response.headers().get_all(SET_COOKIE).iter() {
            let line = line.to_str().unwrap_or_default();
            let pair = line.split(';').next().unwrap_or_default();
            let Some((name, value)) = pair.split_once('=') else {
                continue;
            };
            let gone = value.is_empty() || line.to_ascii_lowercase().contains("max-age=0");
            let key = (host.clone(), name.trim().to_string());
            if gone {
                self.jar.remove(&key);
            } else {
                self.jar.insert(key, value.to_string());
            }
        }
    }

    pub async fn get(&mut self, url: &str) -> reqwest::Response {
        let response = self
            .http
            .get(url)
            .header(COOKIE, self.cookies(url))
            .send()
            .await
            .unwrap();
        self.keep(url, &response);
        response
    }

    pub async fn post(&mut self, url: &str, form: &[(&str, &str)]) -> reqwest::Response {
        let origin = format!("{}//{}", url.split("//").next().unwrap_or("http:"), host_of(url));
        let response = self
            .http
            .post(url)
            .header(COOKIE, self.cookies(url))
            .header("origin", origin)
            .form(form)
            .send()
            .await
            .unwrap();
        self.keep(url, &response);
        response
    }

    /// From the page Warden answers a sign-out with when the provider
    /// signs out too (a link to its `end_session_endpoint`), confirms the
    /// provider's sign-out form and answers where the provider sends the
    /// browser back.
    pub async fn sign_out_at_provider(&mut self, page: &str, issuer: &str) -> String {
        let link = page
            .split("id=\"continue\" href=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap_or_else(|| panic!("no way on to the provider: {page}"))
            .replace("&#38;", "&")
            .replace("&amp;", "&");
        assert!(link.starts_with(&format!("{issuer}/")), "{link}");
        let form = self.get(&link).await;
        assert_eq!(form.status(), 200, "{link}");
        let form = form.text().await.unwrap();
        let xsrf = form
            .split("name=\"xsrf\" value=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap_or_else(|| panic!("no sign-out form: {form}"))
            .to_string();
        let confirmed = self
            .post(
                &format!("{issuer}/session/end/confirm"),
                &[("xsrf", xsrf.as_str()), ("logout", "yes")],
            )
            .await;
        assert_eq!(confirmed.status(), 303, "{:?}", confirmed.text().await);
        confirmed.headers()[LOCATION].to_str().unwrap().to_string()
    }

    /// From Warden's `start` (a URL answering 303 to the provider), signs
    /// in at the provider as `user` (its password `<user>-pass`) and
    /// answers the URL the provider sends the browser back to (Warden's
    /// callback), not yet visited.
    pub async fn through_provider(&mut self, start: reqwest::Response, issuer: &str, user: &str) -> String {
        assert_eq!(start.status(), 303, "{:?}", start.text().await);
        let next = start.headers()[LOCATION].to_str().unwrap().to_string();
        self.through_provider_from(next, issuer, user).await
    }

    /// The same from a URL at the provider (a page's link to it).
    pub async fn through_provider_from(&mut self, mut next: String, issuer: &str, user: &str) -> String {
        for _ in 0..10 {
            if !next.starts_with(issuer) {
                return next;
            }
            let page = self.get(&next).await;
            match page.status().as_u16() {
                303 | 302 => {
                    let location = page.headers()[LOCATION].to_str().unwrap();
                    next = if location.starts_with('/') {
                        format!("{issuer}{location}")
                    } else {
                        location.to_string()
                    };
                }
                200 => {
                    let text = page.text().await.unwrap();
                    // A page that posts its form by itself (the provider
                    // ending another account's session first): posted.
                    let posted = match auto_submitted(&text) {
                        Some((action, fields)) => {
                            let fields: Vec<(&str, &str)> = fields
                                .iter()
                                .map(|(name, value)| (name.as_str(), value.as_str()))
                                .collect();
                            self.post(&action, &fields).await
                        }
                        None => {
                            let password = format!("{user}-pass");
                            let login = format!("{}/login", next.split('?').next().unwrap());
                            self.post(&login, &[("username", user), ("password", &password)]).await
                        }
                    };
                    assert_eq!(
                        posted.status(),
                        303,
                        "the provider refused {user}: {:?}",
                        posted.text().await
                    );
                    let location = posted.headers()[LOCATION].to_str().unwrap();
                    next = if location.starts_with('/') {
                        format!("{issuer}{location}")
                    } else {
                        location.to_string()
                    };
                }
                status => panic!("the provider answered {status} at {next}: {:?}", page.text().await),
            }
        }
        panic!("the provider never sent the browser back: {next}");
    }
}

/// A page whose script posts its form at once: the form's action and
/// hidden fields.
fn auto_submitted(page: &str) -> Option<(String, Vec<(String, String)>)> {
    if !page.contains("document.forms[0].submit()") {
        return None;
    }
    let action = page.split("action=\"").nth(1)?.split('"').next()?.to_string();
    let fields = page
        .split("<input type=\"hidden\" name=\"")
        .skip(1)
        .filter_map(|rest| {
            let (name, rest) = rest.split_once('"')?;
            let value = rest.split("value=\"").nth(1)?.split('"').next()?;
            Some((name.to_string(), value.to_string()))
        })
        .collect();
    Some((action, fields))
}

/// Sets up `provider` as an enabled connection of the client's org,
/// serving `domain` (acknowledged by `owner`).
pub async fn connect(
    admin: &mut WebClient,
    owner: &mut WebClient,
    provider: &OidcProvider,
    domain: &str,
    roles: Value,
) -> String {
    let mut settings = provider.connection("Acme IdP", &[domain]);
    settings["mapping"] = json!({ "roles": roles });
    let created = admin.post("/api/v1/sso/connections", settings).await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    let id = created.body["id"].as_str().unwrap().to_string();
    let path = format!("/api/v1/sso/connections/{id}");
    let vouched = owner
        .post(&format!("{path}/domains/{domain}/acknowledge"), json!({}))
        .await;
    assert_eq!(vouched.status, 200, "{:?}", vouched.body);
    assert_eq!(admin.post(&format!("{path}/enable"), json!({})).await.status, 200);
    id
}

/// Signs `user` in through connection `id`: Warden's answer to the
/// callback, and the browser.
pub async fn sign_in(
    instance: &Instance,
    provider: &OidcProvider,
    id: &str,
    user: &str,
) -> (reqwest::Response, Browser) {
    let mut browser = Browser::new();
    let start = browser
        .get(&format!(
            "{}/sso/start?connection={id}&next=/settings/sessions",
            instance.server.url
        ))
        .await;
    let callback = browser.through_provider(start, &provider.issuer, user).await;
    assert!(
        callback.starts_with(&format!("{}/sso/callback?", instance.server.url)),
        "{callback}"
    );
    let answer = browser.get(&callback).await;
    (answer, browser)
}

/// The events of `kind` in the log, oldest first.
pub fn sso_events(instance: &Instance, kind: &str) -> Vec<Value> {
    events(instance)
        .into_iter()
        .filter(|event| event["kind"] == kind)
        .collect()
}

pub fn last_failure(instance: &Instance) -> Value {
    sso_events(instance, "sso.failed").pop().expect("no sso.failed")["data"].clone()
}
