//! A real headless Chromium, driven through chromedriver with plain
//! WebDriver calls (W3C protocol over HTTP). `tools/test-env.sh` installs
//! Debian's `chromium` and `chromium-driver`.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::process::free_port;

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

pub struct Browser {
    http: reqwest::Client,
    driver: Child,
    base: String,
    session: String,
    dir: tempfile::TempDir,
}

impl Browser {
    pub async fn start() -> Browser {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let mut command = Command::new("chromedriver");
        // Its own process group, so that dropping the browser ends
        // chromedriver and every Chromium process it started.
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let driver = command
            .arg(format!("--port={port}"))
            .env("HOME", dir.path())
            .env("XDG_CONFIG_HOME", dir.path().join("config"))
            .env("XDG_CACHE_HOME", dir.path().join("cache"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver (tools/test-env.sh installs chromium-driver)");
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        while !http
            .get(format!("{base}/status"))
            .send()
            .await
            .is_ok_and(|response| response.status().is_success())
        {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let profile = dir.path().join("profile");
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "webauthn:virtualAuthenticators": true,
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--no-first-run", "--disable-background-networking", "--disable-component-update",
                         "--disable-sync", "--window-size=1024,768",
                         format!("--user-data-dir={}", profile.display())],
                "prefs": {
                    "download.default_directory": dir.path().join("downloads"),
                    "download.prompt_for_download": false,
                },
            },
        }}});
        let created: Value = http
            .post(format!("{base}/session"))
            .json(&capabilities)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let session = created["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no WebDriver session: {created}"))
            .to_string();
        Browser {
            http,
            driver,
            base,
            session,
            dir,
        }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let mut request = self.http.request(method, url);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let answer: Value = request.send().await.unwrap().json().await.unwrap();
        assert!(answer["value"]["error"].is_null(), "WebDriver {path}: {answer}");
        answer["value"].clone()
    }

    /// Waits for a finished download whose name ends with `suffix`;
    /// returns its contents.
    pub async fn downloaded(&self, suffix: &str) -> String {
        let folder = self.dir.path().join("downloads");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let done = std::fs::read_dir(&folder)
                .into_iter()
                .flatten()
                .flatten()
                .find(|entry| entry.file_name().to_str().is_some_and(|name| name.ends_with(suffix)));
            if let Some(entry) = done {
                return std::fs::read_to_string(entry.path()).unwrap();
            }
            assert!(
                Instant::now() < deadline,
                "no *{suffix} download in {}",
                folder.display()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn goto(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", Some(json!({ "url": url })))
            .await;
    }

    /// Reloads the page (a page answering a POST is posted again, as a
    /// browser's reload does once the user agrees).
    pub async fn refresh(&self) {
        self.call(reqwest::Method::POST, "/refresh", Some(json!({}))).await;
    }

    pub async fn url(&self) -> String {
        self.call(reqwest::Method::GET, "/url", None)
            .await
            .as_str()
            .unwrap()
            .to_string()
    }

    async fn element(&self, css: &str) -> String {
        let found = self
            .call(
                reqwest::Method::POST,
                "/element",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await;
        found[ELEMENT].as_str().unwrap().to_string()
    }

    /// Replaces the value of a field with `text`.
    pub async fn fill(&self, css: &str, text: &str) {
        let element = self.element(css).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{element}/clear"),
            Some(json!({})),
        )
        .await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{element}/value"),
            Some(json!({ "text": text })),
        )
        .await;
    }

    pub async fn click(&self, css: &str) {
        let element = self.element(css).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{element}/click"),
            Some(json!({})),
        )
        .await;
    }

    /// The visible text of the first element matching `css`.
    pub async fn text(&self, css: &str) -> String {
        let element = self.element(css).await;
        self.call(reqwest::Method::GET, &format!("/element/{element}/text"), None)
            .await
            .as_str()
            .unwrap()
            .to_string()
    }

    /// Waits until the first element matching `css` shows text; returns
    /// it. A page being replaced meanwhile (the element found, then gone
    /// before its text is read) is waited out too, and so is a hidden or
    /// empty element still on the page being left (the sign-in page holds
    /// a hidden `role=alert` for passkey errors until the answer replaces
    /// it).
    pub async fn wait_for_text(&self, css: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(text) = self.try_text(css).await.filter(|text| !text.is_empty()) {
                return text;
            }
            if Instant::now() > deadline {
                let page = self.try_text("body").await.unwrap_or_default();
                panic!("no {css} on the page, which says:\n{page}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until the first element matching `css` shows text containing
    /// `expected`; returns the text. After a click that submits a form,
    /// the page being left can still answer for a moment: waiting for
    /// what the next page says (not just for any text) waits it out.
    pub async fn wait_for_text_containing(&self, css: &str, expected: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(text) = self.try_text(css).await.filter(|text| text.contains(expected)) {
                return text;
            }
            if Instant::now() > deadline {
                let page = self.try_text("body").await.unwrap_or_default();
                panic!("no {css} saying {expected:?} on the page, which says:\n{page}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The text of the first element matching `css`, or `None` when there
    /// is none right now.
    async fn try_text(&self, css: &str) -> Option<String> {
        let url = format!("{}/session/{}/element", self.base, self.session);
        let found: Value = self
            .http
            .post(url)
            .json(&json!({"using": "css selector", "value": css}))
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        let element = found["value"][ELEMENT].as_str()?;
        let url = format!("{}/session/{}/element/{element}/text", self.base, self.session);
        let text: Value = self.http.get(url).send().await.ok()?.json().await.ok()?;
        text["value"].as_str().map(str::to_string)
    }

    /// Waits until the page's URL contains `part`.
    /// Waits until the address is exactly `url`: the home page's
    /// (`{base}/`) is part of every other's, so [`Self::wait_for_url`]
    /// cannot wait for it.
    pub async fn wait_for_address(&self, url: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let now = self.url().await;
            if now == url {
                return now;
            }
            if Instant::now() > deadline {
                let page = self.text("body").await;
                panic!("still at {now}, expected {url}; the page says:\n{page}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn wait_for_url(&self, part: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let url = self.url().await;
            if url.contains(part) {
                return url;
            }
            if Instant::now() > deadline {
                let page = self.text("body").await;
                panic!("still at {url}, expected {part}; the page says:\n{page}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Browser {
    /// Adds a WebAuthn virtual authenticator (W3C WebDriver extension):
    /// a platform authenticator that keeps discoverable credentials and
    /// verifies its user. Returns its id.
    pub async fn add_virtual_authenticator(&self) -> String {
        let added = self
            .call(
                reqwest::Method::POST,
                "/webauthn/authenticator",
                Some(json!({
                    "protocol": "ctap2",
                    "transport": "internal",
                    "hasResidentKey": true,
                    "hasUserVerification": true,
                    "isUserVerified": true,
                    "isUserConsenting": true,
                })),
            )
            .await;
        added.as_str().unwrap().to_string()
    }

    /// The credentials the virtual authenticator holds.
    pub async fn authenticator_credentials(&self, authenticator: &str) -> Vec<Value> {
        self.call(
            reqwest::Method::GET,
            &format!("/webauthn/authenticator/{authenticator}/credentials"),
            None,
        )
        .await
        .as_array()
        .cloned()
        .unwrap_or_default()
    }

    /// Runs `script` in the page (WebDriver's synchronous execution): what
    /// it returns.
    pub async fn execute(&self, script: &str) -> Value {
        self.call(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({ "script": script, "args": [] })),
        )
        .await
    }

    /// The WCAG 2.0, 2.1 and 2.2 (A and AA) violations axe-core finds on
    /// the page whose impact is serious or critical, each as "rule
    /// (impact): help, at: the first elements".
    pub async fn accessibility_violations(&self) -> Vec<String> {
        self.execute(&format!("{}\nreturn typeof axe;", axe_source())).await;
        let run = "const done = arguments[arguments.length - 1];
            axe.run(document, { runOnly: { type: 'tag',
                values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'] } })
              .then((result) => done(result.violations.map((v) => ({
                  id: v.id, impact: v.impact, help: v.help,
                  nodes: v.nodes.slice(0, 3).map((n) => n.target.join(' ')) }))))
              .catch((error) => done([{ id: 'axe-failed', impact: 'critical', help: String(error), nodes: [] }]));";
        let found = self
            .call(
                reqwest::Method::POST,
                "/execute/async",
                Some(json!({ "script": run, "args": [] })),
            )
            .await;
        found
            .as_array()
            .unwrap()
            .iter()
            .filter(|violation| matches!(violation["impact"].as_str(), Some("serious" | "critical")))
            .map(|violation| {
                format!(
                    "{} ({}): {}, at: {}",
                    violation["id"].as_str().unwrap_or(""),
                    violation["impact"].as_str().unwrap_or(""),
                    violation["help"].as_str().unwrap_or(""),
                    violation["nodes"]
                )
            })
            .collect()
    }

    /// A PNG of the viewport, written to `path`.
    pub async fn screenshot(&self, path: &std::path::Path) {
        use base64::Engine as _;
        let png = self.call(reqwest::Method::GET, "/screenshot", None).await;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(png.as_str().unwrap())
            .unwrap();
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(path, bytes).unwrap();
    }

    /// Resizes the window (a phone's width, a desktop's).
    pub async fn resize(&self, width: u32, height: u32) {
        self.call(
            reqwest::Method::POST,
            "/window/rect",
            Some(json!({ "width": width, "height": height })),
        )
        .await;
    }

    /// Ends the WebDriver session (closing Chromium) and chromedriver.
    pub async fn quit(self) {
        let _ = self
            .http
            .delete(format!("{}/session/{}", self.base, self.session))
            .send()
            .await;
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.driver.id())])
            .status();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// axe-core's script, installed from the npm registry by
/// `tools/test-env.sh` (or where `WARDEN_AXE_JS` says).
fn axe_source() -> &'static str {
    static SOURCE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SOURCE.get_or_init(|| {
        let path = std::env::var("WARDEN_AXE_JS").unwrap_or_else(|_| {
            concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../tools/axe/node_modules/axe-core/axe.min.js"
            )
            .to_string()
        });
        std::fs::read_to_string(&path)
            .unwrap_or_else(|error| panic!("axe-core at {path}: {error} (tools/test-env.sh installs it)"))
    })
}

/// Fills the setup page the browser shows (org Acme, owner Olive) and
/// waits for the users page it leads to.
pub async fn set_up_acme(browser: &Browser) {
    browser.fill("#org_name", "Acme").await;
    browser.fill("#org_slug", "acme").await;
    browser.fill("#display_name", "Olive Owner").await;
    browser.fill("#email", "owner@acme.test").await;
    browser.fill("#password", "correct horse battery staple 42").await;
    browser.click("form button[type=submit]").await;
    browser.wait_for_url("/admin/users").await;
}
