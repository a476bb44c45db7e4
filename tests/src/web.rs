//! A browser-like HTTP client for tests of the session surface: it keeps
//! the session cookie from `Set-Cookie`, sends the CSRF token and an
//! `Origin`, like a page of Warden's own origin would.

use reqwest::header::{HeaderMap, SET_COOKIE};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::process::{NodeEnv, Server};

/// The cookie name over plain http on loopback.
pub const COOKIE: &str = "warden_session";

/// One answer: status, headers and the JSON body (`null` when empty).
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Answer {
    /// The error code of an error body.
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }

    /// The session cookie this answer set (`Some("")` when it cleared it).
    pub fn cookie(&self) -> Option<String> {
        self.headers
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .find_map(|line| line.strip_prefix(&format!("{COOKIE}=")))
            .map(|rest| rest.split(';').next().unwrap_or("").to_string())
    }
}

#[derive(Clone)]
pub struct WebClient {
    http: reqwest::Client,
    pub base: String,
    pub origin: Option<String>,
    pub cookie: Option<String>,
    pub csrf: Option<String>,
    pub user_agent: String,
    /// More headers on every request (`x-forwarded-for`, …).
    pub headers: Vec<(String, String)>,
}

impl WebClient {
    pub fn new(server: &Server) -> Self {
        WebClient {
            http: reqwest::Client::new(),
            base: server.url.clone(),
            origin: Some(server.url.clone()),
            cookie: None,
            csrf: None,
            user_agent: "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0".into(),
            headers: Vec::new(),
        }
    }

    /// The same browser pointed at another node.
    pub fn on(&self, server: &Server) -> Self {
        let mut other = self.clone();
        other.base = server.url.clone();
        other.origin = Some(server.url.clone());
        other
    }

    pub async fn request(&mut self, method: Method, path: &str, body: Option<Value>) -> Answer {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header("user-agent", &self.user_agent);
        if let Some(origin) = &self.origin {
            request = request.header("origin", origin);
        }
        if let Some(cookie) = &self.cookie {
            request = request.header("cookie", format!("{COOKIE}={cookie}"));
        }
        if let Some(csrf) = &self.csrf {
            request = request.header("x-csrf-token", csrf);
        }
        for (name, value) in &self.headers {
            request = request.header(name, value);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        let answer = Answer { status, headers, body };
        if let Some(cookie) = answer.cookie() {
            self.cookie = (!cookie.is_empty()).then_some(cookie);
        }
        if let Some(csrf) = answer.body["csrf_token"].as_str() {
            self.csrf = Some(csrf.to_string());
        } else if let Some(csrf) = answer.headers.get("x-csrf-token").and_then(|value| value.to_str().ok()) {
            // A rotated session announces its new token in this header.
            self.csrf = Some(csrf.to_string());
        }
        answer
    }

    pub async fn get(&mut self, path: &str) -> Answer {
        self.request(Method::GET, path, None).await
    }

    /// The id of the user with `email`, as this client (a manager) lists
    /// the users of its org.
    pub async fn user_id(&mut self, email: &str) -> String {
        self.get("/api/v1/users").await.body["users"]
            .as_array()
            .unwrap_or_else(|| panic!("no users listed"))
            .iter()
            .find(|user| user["email"] == email)
            .and_then(|user| user["id"].as_str())
            .unwrap_or_else(|| panic!("no user {email}"))
            .to_string()
    }

    pub async fn post(&mut self, path: &str, body: Value) -> Answer {
        self.request(Method::POST, path, Some(body)).await
    }

    pub async fn put(&mut self, path: &str, body: Value) -> Answer {
        self.request(Method::PUT, path, Some(body)).await
    }

    pub async fn patch(&mut self, path: &str, body: Value) -> Answer {
        self.request(Method::PATCH, path, Some(body)).await
    }

    pub async fn delete(&mut self, path: &str) -> Answer {
        self.request(Method::DELETE, path, None).await
    }

    pub async fn sign_in(&mut self, email: &str, password: &str) -> Answer {
        self.post("/api/v1/sign-in", json!({ "email": email, "password": password }))
            .await
    }
}

/// The owner's password in every test org.
pub const OWNER_PASSWORD: &str = "correct horse battery staple 42";

/// Completes setup on a fresh server: org `acme`, owner `owner@acme.test`,
/// signed in.
pub async fn set_up(server: &Server) -> WebClient {
    let link = server.setup_link().expect("the server printed no setup link");
    let token = link.split("token=").nth(1).unwrap().to_string();
    let mut owner = WebClient::new(server);
    let answer = owner
        .post(
            "/api/v1/setup",
            json!({
                "token": token,
                "org_name": "Acme",
                "org_slug": "acme",
                "email": "owner@acme.test",
                "display_name": "Olive Owner",
                "password": OWNER_PASSWORD,
            }),
        )
        .await;
    assert_eq!(answer.status, 201, "{:?}", answer.body);
    owner
}

/// Creates an active user with a password; returns their id.
pub async fn create_user(admin: &mut WebClient, email: &str, role: &str, password: &str) -> String {
    let answer = admin
        .post(
            "/api/v1/users",
            json!({ "email": email, "display_name": email.split('@').next().unwrap(), "role": role, "password": password }),
        )
        .await;
    assert_eq!(answer.status, 201, "{:?}", answer.body);
    answer.body["id"].as_str().unwrap().to_string()
}

/// A fresh embedded server in its own directory.
pub struct Instance {
    pub server: Server,
    pub env: NodeEnv,
    _dir: tempfile::TempDir,
}

impl Instance {
    pub fn new(server: Server, env: NodeEnv, dir: tempfile::TempDir) -> Self {
        Instance { server, env, _dir: dir }
    }
}

/// Starts one, with more environment variables.
pub async fn instance(extra: &[(&str, &str)]) -> Instance {
    let dir = tempfile::tempdir().unwrap();
    let mut env = NodeEnv::in_dir(dir.path());
    env.extra = extra.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let server = Server::start(&env, "accounts").await;
    Instance { server, env, _dir: dir }
}

/// Every event in the log, as exported.
pub fn events(instance: &Instance) -> Vec<Value> {
    exported(&instance.env)
}

/// Every event in the log of the node `env` describes, as exported.
pub fn exported(env: &crate::process::NodeEnv) -> Vec<Value> {
    let out = env
        .data_dir
        .join(format!("events-{}.jsonl", uuid::Uuid::new_v4().simple()));
    let exported = env.run(&["export", "--out", out.to_str().unwrap()]);
    assert!(
        exported.status.success(),
        "{}",
        String::from_utf8_lossy(&exported.stderr)
    );
    std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// The kinds of the events after `seq`, in order.
pub fn kinds_after(events: &[Value], seq: u64) -> Vec<String> {
    events
        .iter()
        .filter(|event| event["seq"].as_u64().unwrap() > seq)
        .map(|event| event["kind"].as_str().unwrap().to_string())
        .collect()
}

/// The last `seq`.
pub fn head(events: &[Value]) -> u64 {
    events.last().unwrap()["seq"].as_u64().unwrap()
}

/// Asserts an error answer: status, code, and the request id in the body.
pub fn assert_refused(answer: &Answer, status: u16, code: &str) {
    assert_eq!(answer.status.as_u16(), status, "{:?}", answer.body);
    assert_eq!(answer.code(), code, "{:?}", answer.body);
    assert_eq!(
        answer.body["error"]["request_id"].as_str().unwrap(),
        answer.headers["x-request-id"].to_str().unwrap()
    );
}

/// A form-posting browser for the pages: follows no redirect, sends
/// Warden's own origin.
pub struct Forms {
    http: reqwest::Client,
    base: String,
}

impl Forms {
    pub fn new(server: &Server) -> Self {
        Forms {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            base: server.url.clone(),
        }
    }

    pub async fn get(&self, path: &str, cookie: Option<&str>) -> reqwest::Response {
        let mut request = self.http.get(format!("{}{path}", self.base));
        if let Some(cookie) = cookie {
            request = request.header("cookie", format!("warden_session={cookie}"));
        }
        request.send().await.unwrap()
    }

    /// A page's status and HTML.
    pub async fn html(&self, path: &str, cookie: &str) -> (u16, String) {
        let answer = self.get(path, Some(cookie)).await;
        (answer.status().as_u16(), answer.text().await.unwrap())
    }

    pub async fn post(&self, path: &str, cookie: Option<&str>, form: &[(&str, &str)]) -> reqwest::Response {
        let mut request = self
            .http
            .post(format!("{}{path}", self.base))
            .header("origin", &self.base)
            .form(form);
        if let Some(cookie) = cookie {
            request = request.header("cookie", format!("warden_session={cookie}"));
        }
        request.send().await.unwrap()
    }
}

pub fn location(response: &reqwest::Response) -> &str {
    response.headers()["location"].to_str().unwrap()
}

/// The session cookie a page answer set.
pub fn page_cookie(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find_map(|line| line.strip_prefix(&format!("{COOKIE}=")))
        .map(|rest| rest.split(';').next().unwrap_or("").to_string())
}

/// The value of the first `name="…" value="…"` hidden field of a page.
pub fn field(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} field in {html}"))
        + marker.len();
    html[start..].split('"').next().unwrap().to_string()
}

/// The answer to a form's post that needed a recent sign-in: "Confirm
/// it's you" (not a redirect: the form is kept, sealed in its `pending`
/// field), with `back` as the way back. The sealed form.
pub async fn confirm_page(response: reqwest::Response, back: &str) -> String {
    assert_eq!(response.status(), 200);
    let html = response.text().await.unwrap();
    assert!(html.contains("<h1>Confirm it's you</h1>"), "{html}");
    assert!(html.contains(&format!("name=\"next\" value=\"{back}\"")), "{html}");
    field(&html, "pending")
}
