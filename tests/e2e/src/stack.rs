//! The processes under test: the mock upstream alone, or mock + router with a generated config.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::Value;

use crate::bins::binaries;
use crate::config::{router_config, Knobs, TIERS};
use crate::dialect::Dialect;
use crate::http;
use crate::process::{Proc, STARTUP_TIMEOUT};

/// A directory removed on drop.
#[derive(Debug)]
pub struct TempDir(PathBuf);

impl TempDir {
    /// A fresh, empty directory under the system temp dir.
    pub fn new(prefix: &str) -> Result<Self> {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or_default();
        let path = std::env::temp_dir().join(format!(
            "{prefix}-{}-{}-{nanos}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&path)
            .with_context(|| format!("cannot create {}", path.display()))?;
        Ok(Self(path))
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        // Best effort: a leftover temp dir is harmless.
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The running mock upstream.
#[derive(Debug)]
pub struct Mock {
    proc: Proc,
}

impl Mock {
    /// Starts `anvil-mock-upstream --port 0`.
    pub fn start() -> Result<Self> {
        let mut command = Command::new(&binaries()?.mock);
        command.args(["--host", "127.0.0.1", "--port", "0"]);
        Ok(Self {
            proc: Proc::spawn("anvil-mock-upstream", command, STARTUP_TIMEOUT)?,
        })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> &str {
        self.proc.url()
    }

    /// What the mock printed.
    pub fn logs(&self) -> String {
        self.proc.logs()
    }

    async fn log(&self, path: &str) -> Result<Vec<Value>> {
        let response = http::get(&format!("{}{path}", self.url())).await?;
        if !response.status.is_success() {
            bail!("GET {path}: {} {}", response.status, response.text());
        }
        match response.json()? {
            Value::Array(entries) => Ok(entries),
            other => bail!("GET {path} is not an array: {other}"),
        }
    }

    /// `GET /_mock/requests`: every request received, in order.
    pub async fn requests(&self) -> Result<Vec<Value>> {
        self.log("/_mock/requests").await
    }

    /// The recorded requests whose path is `path`.
    pub async fn requests_to(&self, path: &str) -> Result<Vec<Value>> {
        Ok(self
            .requests()
            .await?
            .into_iter()
            .filter(|request| request["path"] == path)
            .collect())
    }

    /// `GET /_mock/events`.
    pub async fn events(&self) -> Result<Vec<Value>> {
        self.log("/_mock/events").await
    }

    /// Waits (polling every 50 ms, at most `timeout`) for an event of `kind`.
    pub async fn wait_event(&self, kind: &str, timeout: Duration) -> Result<Value> {
        let deadline = Instant::now() + timeout;
        loop {
            let events = self.events().await?;
            if let Some(event) = events.iter().find(|event| event["kind"] == kind) {
                return Ok(event.clone());
            }
            if Instant::now() >= deadline {
                bail!("no `{kind}` mock event within {timeout:?}; events: {events:?}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// `POST /_mock/reset`.
    pub async fn reset(&self) -> Result<()> {
        let response =
            http::request("POST", &format!("{}/_mock/reset", self.url()), &[], "").await?;
        if !response.status.is_success() {
            bail!("POST /_mock/reset: {}", response.status);
        }
        Ok(())
    }

    /// A request sent straight to the mock (no router), in `dialect`, read to the end.
    pub async fn direct(&self, dialect: Dialect, body: &Value) -> Result<http::Response> {
        http::post_json(&format!("{}{}", self.url(), dialect.path()), body, &[]).await
    }
}

/// The running router.
#[derive(Debug)]
pub struct Router {
    proc: Proc,
}

impl Router {
    /// Starts `anvil-router serve --config CONFIG --port 0` with every tier secret in its
    /// environment.
    pub fn start(config: &Path, knobs: &Knobs) -> Result<Self> {
        let mut command = Command::new(&binaries()?.router);
        command.arg("serve").arg("--config").arg(config).args([
            "--host",
            "127.0.0.1",
            "--port",
            "0",
        ]);
        for tier in TIERS {
            command.env(tier.auth_env, tier.secret);
        }
        // The default data_dir (`~/.local/share/anvil`) then lands next to the config, never in
        // the real home directory.
        if let Some(dir) = config.parent() {
            command.env("HOME", dir);
        }
        command.env_remove("RUST_LOG");
        if let Some(filter) = &knobs.log_filter {
            command.env("RUST_LOG", filter);
        }
        Ok(Self {
            proc: Proc::spawn("anvil-router", command, STARTUP_TIMEOUT)?,
        })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> &str {
        self.proc.url()
    }

    /// `127.0.0.1:PORT`.
    pub fn authority(&self) -> &str {
        self.url().trim_start_matches("http://")
    }

    /// Everything the router printed so far (stdout and stderr).
    pub fn logs(&self) -> String {
        self.proc.logs()
    }

    /// The router's process id.
    pub fn pid(&self) -> u32 {
        self.proc.pid()
    }

    /// Sends SIGTERM.
    pub fn terminate(&self) -> Result<()> {
        self.proc.terminate()
    }

    /// Waits at most `timeout` for the router to exit.
    pub fn wait_exit(&mut self, timeout: Duration) -> Result<ExitStatus> {
        self.proc.wait_exit(timeout)
    }
}

/// Mock + router, with the config in a temp dir. Dropping it kills both.
#[derive(Debug)]
pub struct Stack {
    /// The router (dropped first).
    pub router: Router,
    /// The mock upstream.
    pub mock: Mock,
    /// The generated config file.
    pub config: PathBuf,
    dir: TempDir,
}

impl Stack {
    /// Starts the stack with [`Knobs::default`].
    pub fn start() -> Result<Self> {
        Self::start_with(&Knobs::default())
    }

    /// Starts the mock, writes the config for it, and starts the router.
    pub fn start_with(knobs: &Knobs) -> Result<Self> {
        let mock = Mock::start()?;
        let dir = TempDir::new("anvil-e2e")?;
        let config = dir.path().join("router.toml");
        std::fs::write(&config, router_config(mock.url(), knobs))
            .with_context(|| format!("cannot write {}", config.display()))?;
        let router = Router::start(&config, knobs)?;
        Ok(Self {
            router,
            mock,
            config,
            dir,
        })
    }

    /// The router's URL for `path` (which may carry a query).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.router.url())
    }

    /// `error` with the tail of the router's and the mock's output, for a failing test's message.
    pub fn diagnose(&self, error: &anyhow::Error) -> String {
        fn tail(text: &str) -> &str {
            let start = text.len().saturating_sub(6000);
            let start = (start..text.len())
                .find(|&i| text.is_char_boundary(i))
                .unwrap_or(text.len());
            &text[start..]
        }
        format!(
            "{error:#}\n--- router output (tail) ---\n{}\n--- mock output (tail) ---\n{}",
            tail(&self.router.logs()),
            tail(&self.mock.logs())
        )
    }

    /// The temp dir holding the config.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// POSTs `body` to the router at `dialect`'s path with that dialect's client headers.
    pub async fn post(&self, dialect: Dialect, body: &Value) -> Result<http::Response> {
        http::post_json(&self.url(dialect.path()), body, &dialect.client_headers()).await
    }

    /// Like [`Stack::post`] but returns once the head arrives, to read the body as it streams.
    pub async fn open(&self, dialect: Dialect, body: &Value) -> Result<http::Streaming> {
        http::open_json(&self.url(dialect.path()), body, &dialect.client_headers()).await
    }
}
