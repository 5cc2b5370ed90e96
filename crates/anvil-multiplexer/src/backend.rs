//! Engine lifecycle: how an engine is started, probed and stopped.
//!
//! [`Backend`] is what the swap state machine drives; [`ProcessBackend`] is the real one: child
//! processes in their own process group (so an engine's own children die with it), SIGTERM to the
//! group, then SIGKILL after the engine's grace period; docker-compose services through
//! `docker compose up -d` / `docker compose stop`. A [`Running`] engine that is dropped without
//! being stopped (a cancelled start, a runtime shutting down) has its whole group SIGKILLed. And
//! should the multiplexer die without running any destructor (SIGKILL, OOM killer), each engine
//! group holds a *lifeline*: a `sh` in the group blocked reading a pipe whose other end only the
//! multiplexer holds; when the kernel closes that end, the read returns and the shell SIGKILLs the
//! group. So no engine outlives the multiplexer.

use std::future::Future;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Empty;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use rustix::process::{kill_process_group, Pid, Signal};
use tokio::process::{Child, ChildStdin, Command};

use crate::config::{EngineSpec, Launch};

/// The outcome of one health probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    /// The engine answers 2xx on its health URL.
    Healthy,
    /// Not yet.
    NotYet,
    /// The engine is gone (its process exited); the message says how.
    Exited(String),
}

/// Starts, probes and stops engines. Implemented by [`ProcessBackend`] and, in tests, by fakes.
pub trait Backend: Send + Sync + 'static {
    /// A started engine.
    type Running: Send + 'static;

    /// Starts `engine`; returns once it is launched (not yet healthy).
    fn start(
        &self,
        engine: &EngineSpec,
    ) -> impl Future<Output = Result<Self::Running, String>> + Send;

    /// One health probe of a started engine.
    fn probe(
        &self,
        engine: &EngineSpec,
        running: &mut Self::Running,
    ) -> impl Future<Output = Probe> + Send;

    /// Whether something already answers on `engine`'s health URL before it is started (another
    /// process on its port would otherwise pass for the engine).
    fn occupied(&self, engine: &EngineSpec) -> impl Future<Output = bool> + Send;

    /// Stops a started engine: graceful first, forced after its grace period.
    fn stop(&self, engine: &EngineSpec, running: Self::Running) -> impl Future<Output = ()> + Send;

    /// Operating-system process id of a started engine, if it has one.
    fn pid(&self, running: &Self::Running) -> Option<u32>;
}

/// The real backend: child processes and docker-compose services, health over HTTP.
#[derive(Debug, Clone)]
pub struct ProcessBackend {
    client: Client<HttpConnector, Empty<Bytes>>,
    probe_timeout: Duration,
}

impl Default for ProcessBackend {
    fn default() -> Self {
        Self::new()
    }
}

impl ProcessBackend {
    /// A backend whose health probes give up after 5 s each.
    pub fn new() -> Self {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(Duration::from_secs(2)));
        Self {
            client: Client::builder(TokioExecutor::new()).build(connector),
            probe_timeout: Duration::from_secs(5),
        }
    }

    async fn get_ok(&self, url: &str) -> bool {
        let Ok(uri) = url.parse::<http::Uri>() else {
            return false;
        };
        matches!(
            tokio::time::timeout(self.probe_timeout, self.client.get(uri)).await,
            Ok(Ok(response)) if response.status().is_success()
        )
    }
}

/// A started engine of [`ProcessBackend`].
#[derive(Debug)]
pub enum Running {
    /// A child process leading its own process group.
    Process(Box<ProcessGroup>),
    /// A compose service (`docker compose up -d` has returned).
    Compose,
}

/// A child process that leads its own process group; dropping it SIGKILLs the group.
#[derive(Debug)]
pub struct ProcessGroup {
    child: Child,
    pid: Option<u32>,
    /// The lifeline shell and the write end of its pipe (see the module docs).
    lifeline: Option<(Child, ChildStdin)>,
}

/// Starts the lifeline of process group `pgid`: `sh` in that group, reading its stdin until EOF,
/// then SIGKILLing the group. The write end stays with the multiplexer (close-on-exec, so no
/// engine inherits it).
fn lifeline(pgid: u32) -> Option<(Child, ChildStdin)> {
    let spawned = Command::new("sh")
        .args(["-c", "read -r _ ; kill -KILL -\"$0\"", &pgid.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(pgid.cast_signed())
        .spawn();
    match spawned {
        Ok(mut child) => {
            let stdin = child.stdin.take()?;
            Some((child, stdin))
        }
        Err(e) => {
            // An engine that already exited leaves no group to join; the probe reports it.
            tracing::debug!(pgid, error = %e, "no lifeline for the engine");
            None
        }
    }
}

impl ProcessGroup {
    fn signal(&self, signal: Signal) {
        if let Some(pid) = self.pid.and_then(|p| Pid::from_raw(p.cast_signed())) {
            // ESRCH (already gone) is fine.
            let _ = kill_process_group(pid, signal);
        }
    }

    /// The leader's pid.
    pub fn pid(&self) -> Option<u32> {
        self.pid
    }
}

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        self.signal(Signal::KILL);
    }
}

/// The multiplexer's stderr, for an engine's stdout (or nothing if it cannot be duplicated).
fn engine_log() -> Stdio {
    use std::os::fd::AsFd;
    std::io::stderr()
        .as_fd()
        .try_clone_to_owned()
        .map_or_else(|_| Stdio::null(), Stdio::from)
}

fn describe(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exited with status {code}"),
        (None, Some(sig)) => format!("killed by signal {sig}"),
        _ => format!("ended ({status})"),
    }
}

async fn run_to_end(argv: &[String], deadline: Duration) -> Result<(), String> {
    let Some((program, args)) = argv.split_first() else {
        return Err("empty command".to_owned());
    };
    let mut cmd = Command::new(program);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let child = cmd
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", argv.join(" ")))?;
    match tokio::time::timeout(deadline, child.wait_with_output()).await {
        Err(_) => Err(format!(
            "`{}` did not finish within {}s",
            argv.join(" "),
            deadline.as_secs()
        )),
        Ok(Err(e)) => Err(format!("`{}` failed: {e}", argv.join(" "))),
        Ok(Ok(out)) if out.status.success() => Ok(()),
        Ok(Ok(out)) => {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let last = stderr.lines().last().unwrap_or("").trim();
            Err(format!(
                "`{}` {}: {last}",
                argv.join(" "),
                describe(out.status)
            ))
        }
    }
}

impl Backend for ProcessBackend {
    type Running = Running;

    async fn start(&self, engine: &EngineSpec) -> Result<Running, String> {
        match &engine.launch {
            Launch::Command(argv) => {
                let Some((program, args)) = argv.split_first() else {
                    return Err("empty command".to_owned());
                };
                let mut cmd = Command::new(program);
                cmd.args(args)
                    .envs(&engine.env)
                    .stdin(Stdio::null())
                    // The engine's logs go where the multiplexer's stderr goes (stdout carries
                    // the multiplexer's own `listening on` line).
                    .stdout(engine_log())
                    .stderr(Stdio::inherit())
                    .process_group(0)
                    .kill_on_drop(true);
                if let Some(dir) = &engine.cwd {
                    cmd.current_dir(dir);
                }
                let child = cmd
                    .spawn()
                    .map_err(|e| format!("cannot start {program}: {e}"))?;
                let pid = child.id();
                let lifeline = pid.and_then(lifeline);
                Ok(Running::Process(Box::new(ProcessGroup {
                    child,
                    pid,
                    lifeline,
                })))
            }
            Launch::Compose(svc) => {
                run_to_end(&svc.up_argv(), engine.start_timeout).await?;
                Ok(Running::Compose)
            }
        }
    }

    async fn probe(&self, engine: &EngineSpec, running: &mut Running) -> Probe {
        if let Running::Process(group) = running {
            match group.child.try_wait() {
                Ok(Some(status)) => return Probe::Exited(describe(status)),
                Ok(None) => {}
                Err(e) => return Probe::Exited(format!("cannot be waited for: {e}")),
            }
        }
        if self.get_ok(&engine.health_url).await {
            Probe::Healthy
        } else {
            Probe::NotYet
        }
    }

    async fn occupied(&self, engine: &EngineSpec) -> bool {
        self.get_ok(&engine.health_url).await
    }

    async fn stop(&self, engine: &EngineSpec, running: Running) {
        match running {
            Running::Process(mut group) => {
                group.signal(Signal::TERM);
                match tokio::time::timeout(engine.stop_grace, group.child.wait()).await {
                    Ok(_) => tracing::info!(engine = %engine.name, "engine stopped"),
                    Err(_) => tracing::warn!(
                        engine = %engine.name,
                        grace_s = engine.stop_grace.as_secs_f64(),
                        "engine ignored SIGTERM; killing it"
                    ),
                }
                // The group may hold children that outlived the leader: SIGKILL them all.
                group.signal(Signal::KILL);
                let _ = group.child.wait().await;
                if let Some((mut shell, _pipe)) = group.lifeline.take() {
                    let _ = shell.wait().await;
                }
                // Reaped: its pid may be reused, so the drop must not signal it again.
                group.pid = None;
            }
            Running::Compose => {
                if let Launch::Compose(svc) = &engine.launch {
                    let deadline = engine.stop_grace + Duration::from_secs(30);
                    if let Err(e) = run_to_end(&svc.stop_argv(engine.stop_grace), deadline).await {
                        tracing::warn!(engine = %engine.name, error = %e, "compose stop failed");
                    }
                }
            }
        }
    }

    fn pid(&self, running: &Running) -> Option<u32> {
        match running {
            Running::Process(group) => group.pid(),
            Running::Compose => None,
        }
    }
}
