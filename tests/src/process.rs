//! `warden` processes: servers a test can kill, and CLI runs.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The `warden` binary built beside the test binaries
/// (`target/debug/warden`; `tools/test.sh` builds it first).
pub fn warden_bin() -> PathBuf {
    if let Ok(path) = std::env::var("WARDEN_BIN") {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(Path::parent).unwrap();
    let bin = profile_dir.join("warden");
    assert!(
        bin.exists(),
        "{} missing: run `cargo build --bin warden` (tools/test.sh does)",
        bin.display()
    );
    bin
}

/// The standalone bundle verifier (`tools/bundle-verify`), built beside
/// `warden` (`tools/test.sh` builds it).
pub fn bundle_verify_bin() -> PathBuf {
    let bin = warden_bin().with_file_name("bundle-verify");
    assert!(
        bin.exists(),
        "{} missing: run `cargo build -p bundle-verify` (tools/test.sh does)",
        bin.display()
    );
    bin
}

/// The application-events token of every test node (`NodeEnv::in_dir`).
pub const TOKEN: &str = "test-token-0123456789abcdef0123456789abcdef";

/// How to start a node: the environment it gets.
#[derive(Debug, Clone, Default)]
pub struct NodeEnv {
    pub data_dir: PathBuf,
    pub database_url: Option<String>,
    pub nats_url: Option<String>,
    pub nats_prefix: Option<String>,
    pub token_file: Option<PathBuf>,
    /// More variables (`WARDEN_SESSION_IDLE_TIMEOUT_SECONDS`, …).
    pub extra: Vec<(String, String)>,
    /// The node's clock off the real one (`-100d`): its commands and
    /// servers run with libfaketime preloaded (Debian's `faketime`,
    /// installed by tools/test-env.sh).
    pub clock: Option<String>,
}

impl NodeEnv {
    /// An embedded node in `dir` that accepts application events with
    /// [`TOKEN`]; set `database_url` and the NATS fields for production.
    pub fn in_dir(dir: &Path) -> NodeEnv {
        let token_file = dir.join("app-events.token");
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(&token_file, TOKEN).unwrap();
        NodeEnv {
            data_dir: dir.to_path_buf(),
            token_file: Some(token_file),
            ..Default::default()
        }
    }

    /// A production node in `dir`: PostgreSQL at `database_url`, NATS at
    /// `nats_url` under the stream prefix `prefix`.
    pub fn production(dir: &Path, database_url: &str, nats_url: &str, prefix: &str) -> NodeEnv {
        NodeEnv {
            database_url: Some(database_url.to_string()),
            nats_url: Some(nats_url.to_string()),
            nats_prefix: Some(prefix.to_string()),
            ..NodeEnv::in_dir(dir)
        }
    }

    fn apply(&self, command: &mut Command) {
        command
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("WARDEN_DATA_DIR", &self.data_dir)
            .env("WARDEN_LOG", "info,warden_core=debug,warden_projections=debug");
        if let Some(url) = &self.database_url {
            command.env("DATABASE_URL", url);
        }
        if let Some(url) = &self.nats_url {
            command.env("NATS_URL", url);
        }
        if let Some(prefix) = &self.nats_prefix {
            command.env("WARDEN_NATS_PREFIX", prefix);
        }
        if let Some(file) = &self.token_file {
            command.env("WARDEN_APP_EVENTS_TOKEN_FILE", file);
        }
        // A node's per-minute key-use summaries would land in the middle of
        // tests that count what was appended; tests/tests/kms.rs turns
        // them on.
        command.env("WARDEN_KEY_USE_SUMMARIES", "false");
        // Tests sign in often: the cheapest parameters Warden accepts.
        command
            .env("WARDEN_PASSWORD_MEMORY_KIB", "8192")
            .env("WARDEN_PASSWORD_ITERATIONS", "1");
        for (name, value) in &self.extra {
            command.env(name, value);
        }
    }

    /// A `warden` command with this environment, to run as the test likes.
    pub fn command(&self) -> Command {
        let mut command = Command::new(warden_bin());
        self.apply(&mut command);
        if let Some(offset) = &self.clock {
            // Preloaded into warden itself (not the `faketime` wrapper, a
            // parent process that would take the test's signals).
            command.env("LD_PRELOAD", libfaketime()).env("FAKETIME", offset);
        }
        command
    }

    /// Runs a CLI command to completion: its exit code and what it printed.
    pub fn ran(&self, args: &[&str]) -> Ran {
        self.run(args).into()
    }

    /// Runs a CLI command to completion.
    pub fn run(&self, args: &[&str]) -> Output {
        self.command().args(args).output().unwrap()
    }

    /// Runs a command that should end by itself (`serve` refusing to
    /// start); panics if it is still running after `timeout`.
    pub async fn run_until_exit(&self, args: &[&str], timeout: Duration) -> Output {
        let mut command = tokio::process::Command::new(warden_bin());
        command.as_std_mut().args(args);
        self.apply(command.as_std_mut());
        command.kill_on_drop(true).stdout(Stdio::piped()).stderr(Stdio::piped());
        let child = command.spawn().unwrap();
        tokio::time::timeout(timeout, child.wait_with_output())
            .await
            .unwrap_or_else(|_| panic!("warden {args:?} still running after {timeout:?}"))
            .unwrap()
    }
}

/// libfaketime's library for threaded programs, where Debian puts it.
fn libfaketime() -> PathBuf {
    ["x86_64-linux-gnu", "aarch64-linux-gnu", "."]
        .iter()
        .map(|arch| Path::new("/usr/lib").join(arch).join("faketime/libfaketimeMT.so.1"))
        .find(|path| path.exists())
        .expect("libfaketime is missing: run tools/test-env.sh (it installs Debian's faketime)")
}

/// A running `warden serve`.
pub struct Server {
    child: Child,
    pub url: String,
    pub log_path: PathBuf,
    /// Standard output: what Warden prints for people (the setup link).
    pub out_path: PathBuf,
}

impl Server {
    /// Starts a server on a free port and waits until it is ready.
    pub async fn start(env: &NodeEnv, name: &str) -> Server {
        std::fs::create_dir_all(&env.data_dir).unwrap();
        let log_path = env.data_dir.join(format!("{name}.log"));
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .unwrap();
        let out_path = env.data_dir.join(format!("{name}.out"));
        let out = std::fs::File::create(&out_path).unwrap();
        let mut command = env.command();
        command
            .args(["serve", "--listen", "127.0.0.1:0"])
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(log));
        let offset = std::fs::metadata(&log_path).map(|m| m.len()).unwrap_or(0) as usize;
        let child = command.spawn().unwrap();
        let mut server = Server {
            child,
            url: String::new(),
            log_path,
            out_path,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while server.url.is_empty() {
            assert!(Instant::now() < deadline, "server did not start:\n{}", server.log());
            if let Some(status) = server.child.try_wait().unwrap() {
                panic!("server exited with {status}:\n{}", server.log());
            }
            let log = server.log();
            if let Some(rest) = log[offset.min(log.len())..].split("listening on http://").nth(1) {
                let address: String = rest
                    .chars()
                    .take_while(|c| !c.is_whitespace() && *c != '\u{1b}')
                    .collect();
                server.url = format!("http://{address}");
            } else {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        server.wait_ready(Duration::from_secs(60)).await;
        server
    }

    pub async fn wait_ready(&self, timeout: Duration) {
        let client = reqwest::Client::new();
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(response) = client.get(format!("{}/readyz", self.url)).send().await
                && response.status().is_success()
            {
                return;
            }
            assert!(Instant::now() < deadline, "server not ready:\n{}", self.log());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// `GET path` answered with JSON (any status).
    pub async fn get_json(&self, path: &str) -> serde_json::Value {
        reqwest::get(format!("{}{path}", self.url))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Records an application event with [`TOKEN`]; returns the answer.
    pub async fn post_app_event(&self, body: &serde_json::Value) -> reqwest::Response {
        reqwest::Client::new()
            .post(format!("{}/api/v1/app-events", self.url))
            .bearer_auth(TOKEN)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// Records `count` application events (`app.invoice.paid`, subjects
    /// `invoice:<tag><n>`), each acknowledged with 201.
    pub async fn post_invoices(&self, count: usize, tag: &str) {
        for n in 0..count {
            let body = serde_json::json!({"kind": "app.invoice.paid", "subject": format!("invoice:{tag}{n}"),
                                          "data": {"amount": n, "currency": "EUR"}});
            assert_eq!(self.post_app_event(&body).await.status(), 201);
        }
    }

    /// The setup link this server printed, if it printed one.
    pub fn setup_link(&self) -> Option<String> {
        let out = std::fs::read_to_string(&self.out_path).unwrap_or_default();
        out.split_whitespace()
            .find(|word| word.contains("/setup?token="))
            .map(str::to_string)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// `kill -9`: no chance to flush or snapshot.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM and wait for the graceful exit.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        self.child.wait().unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// A private nats-server with JetStream that a test may stop and restart
/// (keeping its store).
pub struct NatsServer {
    child: Option<Child>,
    pub port: u16,
    pub store: tempfile::TempDir,
}

impl NatsServer {
    pub async fn start() -> NatsServer {
        let port = free_port();
        let mut server = NatsServer {
            child: None,
            port,
            store: tempfile::tempdir().unwrap(),
        };
        server.restart().await;
        server
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub async fn restart(&mut self) {
        self.stop();
        let binary = std::env::var("WARDEN_NATS_SERVER").unwrap_or_else(|_| "nats-server".into());
        let child = Command::new(binary)
            .args(["-a", "127.0.0.1", "-p", &self.port.to_string(), "-js", "-sd"])
            .arg(self.store.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nats-server (tools/test-env.sh installs it)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "nats-server did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.stop();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Posts application events as fast as it can until stopped; returns what
/// the server acknowledged: (seq, hash).
pub async fn append_load(
    url: String,
    token: String,
    tag: String,
    stop: tokio::sync::watch::Receiver<bool>,
) -> Vec<(u64, String)> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let mut acknowledged = Vec::new();
    let mut n = 0u64;
    while !*stop.borrow() {
        n += 1;
        let body = serde_json::json!({
            "kind": "app.load.recorded",
            "subject": format!("load:{tag}:{n}"),
            "data": { "writer": tag, "n": n }
        });
        match client
            .post(format!("{url}/api/v1/app-events"))
            .bearer_auth(&token)
            .json(&body)
            .send()
            .await
        {
            Ok(response) if response.status().as_u16() == 201 => {
                let value: serde_json::Value = response.json().await.unwrap_or_default();
                if let (Some(seq), Some(hash)) = (value["seq"].as_u64(), value["hash"].as_str()) {
                    acknowledged.push((seq, hash.to_string()));
                }
            }
            _ => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
    acknowledged
}

/// A command's exit code and everything it printed (standard output, then
/// standard error).
pub struct Ran {
    pub code: i32,
    pub out: String,
}

impl From<Output> for Ran {
    fn from(output: Output) -> Ran {
        Ran {
            code: output.status.code().unwrap_or(-1),
            out: format!(
                "{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ),
        }
    }
}

/// Runs the offline auditor's tool.
pub fn bundle_verify(args: &[&str]) -> Ran {
    Command::new(bundle_verify_bin()).args(args).output().unwrap().into()
}
