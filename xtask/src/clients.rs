//! `cargo xtask e2e --clients`: real coding-agent CLIs through the router in front of the mock.
//!
//! Claude Code (`claude -p`), Codex (`codex exec`) and aider (`aider --message`) each run one
//! [`Scenario`] against `anvil-e2e-stack` (mock upstream + router with the e2e config, tiers
//! `oa` openai, `an` anthropic, `rs` responses). The CLIs are looked up in the cache dir
//! (`~/.cache/anvil/clients`: `npm/node_modules/.bin/{claude,codex}` and
//! `aider-venv/bin/aider`), then on `PATH`; missing ones are skipped and named. `--install` puts
//! them there first ([`install`]: `npm install --prefix`, a venv for aider), pinned to the
//! versions the fixtures were recorded with.
//!
//! Every scenario runs in its own temp dir (HOME, project dir, Codex's `CODEX_HOME`) with a
//! cleared environment (only `PATH` and the variables the scenario sets), stdin closed, a bounded
//! timeout and its own process group, which is killed when the client exits or times out. It
//! passes when the client exits 0, its stdout holds every expected needle, and (tool loops) the
//! mock recorded a request on the tier's upstream path carrying the tool result.
//!
//! Tool loops rely on the mock's rule for `MOCK:tool` (tests/mock-upstream/src/lib.rs): one call
//! to the FIRST offered tool, every required string argument `"x ☀"`. Claude Code runs with
//! `--tools Read`, so the call is `Read {"file_path": "x ☀"}` and the scenario puts a file of
//! that name, holding [`READ_MARKER`], in the project dir. Codex's first tool is
//! `exec_command {"cmd": "x ☀"}`: bash runs `x` with the argument `☀`, which does not exist, so
//! the tool result is `x: command not found` (read-only sandbox, approval `never`).

use std::ffi::OsStr;
use std::fmt;
use std::fs::File;
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::Value;

use crate::e2e::{Built, Outcome, StackProcess};

/// Claude Code version `--install` installs (the fixtures' version).
pub const CLAUDE_CODE_VERSION: &str = "2.1.197";
/// Codex CLI version `--install` installs.
pub const CODEX_VERSION: &str = "0.171.0";
/// aider version `--install` installs.
pub const AIDER_VERSION: &str = "0.86.2";

/// How long one client run may take before its process group is killed.
pub const SCENARIO_TIMEOUT: Duration = Duration::from_secs(180);
/// How long one `npm install` / `pip install` may take.
pub const INSTALL_TIMEOUT: Duration = Duration::from_secs(900);
/// How long `--version` may take.
const VERSION_TIMEOUT: Duration = Duration::from_secs(30);
/// Socket timeouts when reading the mock's request log.
const HTTP_TIMEOUT: Duration = Duration::from_secs(10);

/// The key the clients send to the router (the router never forwards client keys).
pub const CLIENT_KEY: &str = "sk-anvil-clients-not-forwarded";
/// The mock's value for a required string argument, hence the name of the file Claude Code's
/// `Read` call asks for.
pub const MOCK_STRING_ARGUMENT: &str = "x ☀";
/// The content of that file: it must come back to the mock inside the tool result.
pub const READ_MARKER: &str = "anvil clients tool loop marker 4c1e";
/// What bash says about Codex's `exec_command {"cmd": "x ☀"}`.
pub const CODEX_TOOL_OUTPUT: &str = "x: command not found";
/// The mock's default answer.
pub const MOCK_TEXT: &str = "Hello from the mock upstream.";
/// The prefix of the mock's answer to a turn made only of tool results.
pub const TOOL_SAID: &str = "Tool said:";

/// A real client CLI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Client {
    /// Claude Code (`claude`, npm `@anthropic-ai/claude-code`).
    ClaudeCode,
    /// Codex CLI (`codex`, npm `@openai/codex`).
    Codex,
    /// aider (`aider`, PyPI `aider-chat`, in its own venv).
    Aider,
}

impl Client {
    /// Every client, in run order.
    pub const ALL: [Self; 3] = [Self::ClaudeCode, Self::Codex, Self::Aider];

    /// Display name.
    pub fn name(self) -> &'static str {
        match self {
            Self::ClaudeCode => "claude-code",
            Self::Codex => "codex",
            Self::Aider => "aider",
        }
    }

    /// The executable's file name.
    pub fn program(self) -> &'static str {
        match self {
            Self::ClaudeCode => "claude",
            Self::Codex => "codex",
            Self::Aider => "aider",
        }
    }

    /// Where [`install`] puts the executable inside the clients cache dir.
    pub fn cached(self, clients_dir: &Path) -> PathBuf {
        match self {
            Self::ClaudeCode | Self::Codex => clients_dir
                .join("npm")
                .join("node_modules")
                .join(".bin")
                .join(self.program()),
            Self::Aider => clients_dir.join("aider-venv").join("bin").join("aider"),
        }
    }
}

impl fmt::Display for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// `clients` in anvil's cache dir (the directory `venv-sdk` lives in; same lookup rules).
pub fn clients_dir(
    anvil_cache_dir: Option<&str>,
    xdg_cache_home: Option<&str>,
    home: Option<&str>,
) -> Option<PathBuf> {
    let venv = crate::e2e::venv_dir(anvil_cache_dir, xdg_cache_home, home)?;
    Some(venv.parent()?.join("clients"))
}

/// The first executable file named `program` in the `PATH`-style list `path`.
pub fn find_on_path(program: &str, path: Option<&OsStr>) -> Option<PathBuf> {
    std::env::split_paths(path?)
        .map(|dir| dir.join(program))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .map(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// The client's executable: the cache dir first, then `PATH`.
pub fn locate(client: Client, clients_dir: &Path, path: Option<&OsStr>) -> Option<PathBuf> {
    let cached = client.cached(clients_dir);
    if is_executable(&cached) {
        return Some(cached);
    }
    find_on_path(client.program(), path)
}

/// One client run through the router.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scenario {
    /// Short name (`claude-code->an tool loop`).
    pub name: &'static str,
    /// The client.
    pub client: Client,
    /// The `model` the client asks for: a tier id of the e2e config.
    pub tier: &'static str,
    /// The prompt.
    pub prompt: &'static str,
    /// Needles the client's stdout must contain (its final text).
    pub expect: &'static [&'static str],
    /// For a tool loop: text the tool result the mock receives must contain.
    pub tool_result: Option<&'static str>,
}

impl Scenario {
    /// The path the router must have called on the mock for this tier.
    pub fn upstream_path(&self) -> Option<&'static str> {
        match self.tier {
            "oa" => Some("/v1/chat/completions"),
            "an" => Some("/v1/messages"),
            "rs" => Some("/v1/responses"),
            _ => None,
        }
    }
}

const TEXT: &[&str] = &[MOCK_TEXT];
const READ_ANSWER: &[&str] = &[TOOL_SAID, READ_MARKER];
const CODEX_ANSWER: &[&str] = &[TOOL_SAID, CODEX_TOOL_OUTPUT];

/// The scenarios, in run order.
pub const SCENARIOS: [Scenario; 8] = [
    Scenario {
        name: "claude-code->an text",
        client: Client::ClaudeCode,
        tier: "an",
        prompt: "hello",
        expect: TEXT,
        tool_result: None,
    },
    Scenario {
        name: "claude-code->an tool loop",
        client: Client::ClaudeCode,
        tier: "an",
        prompt: "MOCK:tool",
        expect: READ_ANSWER,
        tool_result: Some(READ_MARKER),
    },
    Scenario {
        name: "claude-code->oa tool loop",
        client: Client::ClaudeCode,
        tier: "oa",
        prompt: "MOCK:tool",
        expect: READ_ANSWER,
        tool_result: Some(READ_MARKER),
    },
    Scenario {
        name: "claude-code->rs tool loop",
        client: Client::ClaudeCode,
        tier: "rs",
        prompt: "MOCK:tool",
        expect: READ_ANSWER,
        tool_result: Some(READ_MARKER),
    },
    Scenario {
        name: "codex->rs tool loop",
        client: Client::Codex,
        tier: "rs",
        prompt: "MOCK:tool",
        expect: CODEX_ANSWER,
        tool_result: Some(CODEX_TOOL_OUTPUT),
    },
    Scenario {
        name: "codex->oa tool loop",
        client: Client::Codex,
        tier: "oa",
        prompt: "MOCK:tool",
        expect: CODEX_ANSWER,
        tool_result: Some(CODEX_TOOL_OUTPUT),
    },
    Scenario {
        name: "aider->oa text",
        client: Client::Aider,
        tier: "oa",
        prompt: "hello",
        expect: TEXT,
        tool_result: None,
    },
    Scenario {
        name: "aider->an text",
        client: Client::Aider,
        tier: "an",
        prompt: "hello",
        expect: TEXT,
        tool_result: None,
    },
];

/// The directories of one scenario run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workdir {
    /// The scenario's root (removed after a passing run).
    pub root: PathBuf,
    /// `HOME` for the client.
    pub home: PathBuf,
    /// The client's working directory.
    pub project: PathBuf,
}

impl Workdir {
    /// The layout under `root`.
    pub fn new(root: PathBuf) -> Self {
        Self {
            home: root.join("home"),
            project: root.join("project"),
            root,
        }
    }

    /// Codex's `CODEX_HOME`.
    pub fn codex_home(&self) -> PathBuf {
        self.home.join(".codex")
    }
}

/// Codex's `config.toml`: a custom Responses provider pointing at the router.
pub fn codex_config(router_url: &str, tier: &str) -> String {
    format!(
        "model = \"{tier}\"\nmodel_provider = \"anvil\"\n\n[model_providers.anvil]\n\
         name = \"anvil router\"\nbase_url = \"{}/v1\"\nenv_key = \"ANVIL_CLIENT_KEY\"\n\
         wire_api = \"responses\"\n",
        router_url.trim_end_matches('/')
    )
}

/// Creates the scenario's directories and the files its client needs.
pub fn prepare(scenario: &Scenario, dir: &Workdir, router_url: &str) -> Result<()> {
    for path in [&dir.home, &dir.project] {
        std::fs::create_dir_all(path)
            .with_context(|| format!("cannot create {}", path.display()))?;
    }
    match scenario.client {
        Client::ClaudeCode => {
            let file = dir.project.join(MOCK_STRING_ARGUMENT);
            std::fs::write(&file, format!("{READ_MARKER}\n"))
                .with_context(|| format!("cannot write {}", file.display()))?;
        }
        Client::Codex => {
            let codex_home = dir.codex_home();
            std::fs::create_dir_all(&codex_home)
                .with_context(|| format!("cannot create {}", codex_home.display()))?;
            let config = codex_home.join("config.toml");
            std::fs::write(&config, codex_config(router_url, scenario.tier))
                .with_context(|| format!("cannot write {}", config.display()))?;
        }
        Client::Aider => {}
    }
    Ok(())
}

/// The client's command line and environment (the environment is cleared first: only `PATH`
/// from `path` and the variables set here reach the client).
pub fn command(
    scenario: &Scenario,
    program: &Path,
    dir: &Workdir,
    router_url: &str,
    path: Option<&OsStr>,
) -> Command {
    let router_url = router_url.trim_end_matches('/');
    let mut command = Command::new(program);
    command
        .current_dir(&dir.project)
        .env_clear()
        .env("HOME", &dir.home)
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost");
    if let Some(path) = path {
        command.env("PATH", path);
    }
    match scenario.client {
        Client::ClaudeCode => {
            command
                .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
                .env("CLAUDE_CODE_MAX_RETRIES", "1")
                .env("DISABLE_AUTOUPDATER", "1")
                .env("ANTHROPIC_BASE_URL", router_url)
                .env("ANTHROPIC_API_KEY", CLIENT_KEY)
                .args(["-p", scenario.prompt, "--model", scenario.tier]);
            if scenario.tool_result.is_some() {
                // Only `Read` is offered, so the mock's "first offered tool" is `Read`.
                command.args(["--tools", "Read"]);
            }
        }
        Client::Codex => {
            command
                .env("CODEX_HOME", dir.codex_home())
                .env("ANVIL_CLIENT_KEY", CLIENT_KEY)
                .args(["exec", "--skip-git-repo-check", scenario.prompt]);
        }
        Client::Aider => {
            command
                .env("OPENAI_API_BASE", format!("{router_url}/v1"))
                .env("OPENAI_API_KEY", CLIENT_KEY)
                // litellm would fetch its price list from GitHub otherwise.
                .env("LITELLM_LOCAL_MODEL_COST_MAP", "True")
                .args(["--model", &format!("openai/{}", scenario.tier)])
                .args(["--message", scenario.prompt])
                .args([
                    "--yes-always",
                    "--no-check-update",
                    "--no-analytics",
                    "--no-pretty",
                    "--no-git",
                    "--no-show-model-warnings",
                ]);
        }
    }
    command
}

/// How a bounded child run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finished {
    /// The exit status; `None` when the timeout killed it.
    pub status: Option<ExitStatus>,
    /// Captured stdout.
    pub stdout: String,
    /// Captured stderr.
    pub stderr: String,
    /// Wall time.
    pub elapsed: Duration,
}

impl Finished {
    /// Whether it exited with code 0.
    pub fn success(&self) -> bool {
        self.status.is_some_and(|status| status.success())
    }

    /// `exit status: 1`, or `killed after the timeout`.
    pub fn describe(&self) -> String {
        match self.status {
            Some(status) => status.to_string(),
            None => format!("killed after {:.0}s timeout", self.elapsed.as_secs_f64()),
        }
    }
}

fn kill_group(pid: u32) {
    // The child leads its own process group: this ends it and everything it started. Errors
    // (the group is already gone) are expected and ignored.
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{pid}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Runs `command` with stdin closed, stdout/stderr captured to `stdout_path`/`stderr_path`, in
/// a new process group that is killed when the child exits or after `timeout`.
pub fn run_bounded(
    mut command: Command,
    timeout: Duration,
    stdout_path: &Path,
    stderr_path: &Path,
) -> Result<Finished> {
    let stdout = File::create(stdout_path)
        .with_context(|| format!("cannot create {}", stdout_path.display()))?;
    let stderr = File::create(stderr_path)
        .with_context(|| format!("cannot create {}", stderr_path.display()))?;
    let start = Instant::now();
    let mut child = command
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .process_group(0)
        .spawn()
        .with_context(|| format!("cannot start {:?}", command.get_program()))?;
    let pid = child.id();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if start.elapsed() >= timeout => break None,
            Ok(None) => std::thread::sleep(Duration::from_millis(50)),
            Err(error) => {
                kill_group(pid);
                let _ = child.wait();
                return Err(error).context("cannot wait for the client");
            }
        }
    };
    kill_group(pid);
    if status.is_none() {
        let _ = child.wait();
    }
    let read = |path: &Path| {
        std::fs::read(path)
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
            .with_context(|| format!("cannot read {}", path.display()))
    };
    Ok(Finished {
        status,
        stdout: read(stdout_path)?,
        stderr: read(stderr_path)?,
        elapsed: start.elapsed(),
    })
}

fn text_of(content: &Value) -> Vec<String> {
    match content {
        Value::String(text) => vec![text.clone()],
        Value::Array(parts) => parts
            .iter()
            .filter_map(|part| part.get("text").and_then(Value::as_str))
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    }
}

/// The texts of every tool result in a request body of any dialect: Anthropic `tool_result`
/// blocks, Chat `role: "tool"` messages, Responses `function_call_output` /
/// `custom_tool_call_output` items.
pub fn tool_results(body: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for message in body
        .get("messages")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if message.get("role").and_then(Value::as_str) == Some("tool") {
            out.extend(message.get("content").map(text_of).unwrap_or_default());
        }
        for block in message
            .get("content")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if block.get("type").and_then(Value::as_str) == Some("tool_result") {
                out.extend(block.get("content").map(text_of).unwrap_or_default());
            }
        }
    }
    for item in body
        .get("input")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if matches!(
            item.get("type").and_then(Value::as_str),
            Some("function_call_output" | "custom_tool_call_output")
        ) {
            out.extend(item.get("output").map(text_of).unwrap_or_default());
        }
    }
    out
}

/// Checks one run: exit code 0, every expected needle in stdout, a request on the tier's
/// upstream path, and for tool loops one such request carrying the tool result. `requests` are
/// the mock's log entries (`{"path", "body", ...}`) recorded during the run.
pub fn check(scenario: &Scenario, run: &Finished, requests: &[Value]) -> Result<(), String> {
    let mut problems = Vec::new();
    if !run.success() {
        problems.push(format!("exited with {}", run.describe()));
    }
    for needle in scenario.expect {
        if !run.stdout.contains(needle) {
            problems.push(format!("stdout lacks {needle:?}"));
        }
    }
    let upstream = scenario.upstream_path().unwrap_or("?");
    let on_path: Vec<&Value> = requests
        .iter()
        .filter(|request| request.get("path").and_then(Value::as_str) == Some(upstream))
        .collect();
    if on_path.is_empty() {
        problems.push(format!("the mock received no request on {upstream}"));
    }
    if let Some(marker) = scenario.tool_result {
        let carried = on_path.iter().any(|request| {
            request
                .get("body")
                .map(tool_results)
                .unwrap_or_default()
                .iter()
                .any(|result| result.contains(marker))
        });
        if !carried {
            problems.push(format!(
                "no request on {upstream} carried a tool result containing {marker:?}"
            ));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

/// Decodes a `Transfer-Encoding: chunked` body.
pub fn dechunk(mut body: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = body
            .windows(2)
            .position(|pair| pair == b"\r\n")
            .context("chunk size line without CRLF")?;
        let size_text = std::str::from_utf8(&body[..line_end]).context("chunk size not text")?;
        let size_text = size_text.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16)
            .with_context(|| format!("bad chunk size {size_text:?}"))?;
        body = &body[line_end + 2..];
        if size == 0 {
            return Ok(out);
        }
        if body.len() < size + 2 {
            bail!("truncated chunk");
        }
        out.extend_from_slice(&body[..size]);
        body = &body[size + 2..];
    }
}

/// The body of a raw HTTP/1.1 response that must have status 200.
pub fn response_body(raw: &[u8]) -> Result<Vec<u8>> {
    let split = raw
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .context("no end of headers in the response")?;
    let head = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
    let body = &raw[split + 4..];
    let status = head.split_whitespace().nth(1).unwrap_or_default();
    if status != "200" {
        bail!("status {status}");
    }
    if head.contains("transfer-encoding: chunked") {
        dechunk(body)
    } else {
        Ok(body.to_vec())
    }
}

/// `METHOD url` with `Connection: close` over std's TCP, bounded by socket timeouts.
fn http(method: &str, url: &str) -> Result<Vec<u8>> {
    let rest = url
        .strip_prefix("http://")
        .with_context(|| format!("not an http:// url: {url}"))?;
    let (authority, path) = rest
        .split_once('/')
        .map_or((rest, "/".to_owned()), |(a, p)| (a, format!("/{p}")));
    let address = authority
        .to_socket_addrs()
        .with_context(|| format!("cannot resolve {authority}"))?
        .next()
        .with_context(|| format!("no address for {authority}"))?;
    let mut stream = TcpStream::connect_timeout(&address, HTTP_TIMEOUT)
        .with_context(|| format!("cannot connect to {authority}"))?;
    stream.set_read_timeout(Some(HTTP_TIMEOUT))?;
    stream.set_write_timeout(Some(HTTP_TIMEOUT))?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {authority}\r\nContent-Length: 0\r\n\
         Connection: close\r\n\r\n"
    )?;
    let mut raw = Vec::new();
    stream
        .read_to_end(&mut raw)
        .with_context(|| format!("cannot read the answer to {method} {url}"))?;
    response_body(&raw).with_context(|| format!("{method} {url}"))
}

/// The mock's request log.
fn mock_requests(mock_url: &str) -> Result<Vec<Value>> {
    let body = http("GET", &format!("{mock_url}/_mock/requests"))?;
    let log: Value = serde_json::from_slice(&body).context("the mock's request log is not JSON")?;
    match log {
        Value::Array(entries) => Ok(entries),
        _ => bail!("the mock's request log is not an array"),
    }
}

/// Installs the pinned CLIs into `clients_dir`: `npm install --prefix clients_dir/npm` for
/// Claude Code and Codex, a venv `clients_dir/aider-venv` with `pip install aider-chat`.
pub fn install(clients_dir: &Path, out: &mut dyn Write) -> Result<()> {
    std::fs::create_dir_all(clients_dir)
        .with_context(|| format!("cannot create {}", clients_dir.display()))?;
    let logs = clients_dir.join("install-logs");
    std::fs::create_dir_all(&logs).with_context(|| format!("cannot create {}", logs.display()))?;
    let step = |name: &str, mut command: Command, out: &mut dyn Write| -> Result<()> {
        writeln!(out, "==> {command:?}")?;
        out.flush()?;
        command.current_dir(clients_dir);
        let stdout = logs.join(format!("{name}.stdout"));
        let stderr = logs.join(format!("{name}.stderr"));
        let run = run_bounded(command, INSTALL_TIMEOUT, &stdout, &stderr)?;
        if !run.success() {
            bail!(
                "{name} failed ({}); see {}:\n{}",
                run.describe(),
                stderr.display(),
                tail(&run.stderr, 20)
            );
        }
        Ok(())
    };
    let mut npm = Command::new("npm");
    npm.arg("install")
        .arg("--prefix")
        .arg(clients_dir.join("npm"))
        .args(["--no-fund", "--no-audit"])
        .arg(format!("@anthropic-ai/claude-code@{CLAUDE_CODE_VERSION}"))
        .arg(format!("@openai/codex@{CODEX_VERSION}"));
    step("npm-install", npm, out)?;
    let venv = clients_dir.join("aider-venv");
    let python = venv.join("bin").join("python");
    if !python.exists() {
        let mut create = Command::new("python3");
        create.args(["-m", "venv"]).arg(&venv);
        step("venv", create, out)?;
    }
    let mut pip = Command::new(&python);
    pip.args(["-m", "pip", "install", "--quiet"])
        .arg(format!("aider-chat=={AIDER_VERSION}"));
    step("pip-install", pip, out)?;
    Ok(())
}

/// The last `lines` lines of `text`.
pub fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

fn version(program: &Path, scratch: &Path) -> String {
    let mut command = Command::new(program);
    command.arg("--version");
    let run = run_bounded(
        command,
        VERSION_TIMEOUT,
        &scratch.join("version.stdout"),
        &scratch.join("version.stderr"),
    );
    match run {
        Ok(run) if run.success() => run.stdout.lines().next().unwrap_or("?").trim().to_owned(),
        Ok(run) => format!("--version failed ({})", run.describe()),
        Err(error) => format!("--version failed ({error:#})"),
    }
}

/// Runs one scenario against the running stack.
fn run_scenario(
    scenario: &Scenario,
    program: &Path,
    stack: &StackProcess,
    scratch: &Path,
    index: usize,
) -> Result<(), String> {
    let dir = Workdir::new(scratch.join(format!("{index}-{}", scenario.client)));
    let outcome = (|| -> Result<Result<(), String>> {
        prepare(scenario, &dir, &stack.anvil_url)?;
        let before = mock_requests(&stack.mock_url)?.len();
        let path = std::env::var_os("PATH");
        let command = command(scenario, program, &dir, &stack.anvil_url, path.as_deref());
        let run = run_bounded(
            command,
            SCENARIO_TIMEOUT,
            &dir.root.join("stdout.txt"),
            &dir.root.join("stderr.txt"),
        )?;
        let requests = mock_requests(&stack.mock_url)?;
        let during = requests.get(before..).unwrap_or_default();
        Ok(check(scenario, &run, during).map_err(|problems| {
            format!(
                "{problems}\n--- stdout (tail)\n{}\n--- stderr (tail)\n{}",
                tail(&run.stdout, 15),
                tail(&run.stderr, 15)
            )
        }))
    })();
    let result = outcome.unwrap_or_else(|error| Err(format!("{error:#}")));
    if result.is_ok() {
        // Kept on failure for inspection.
        let _ = std::fs::remove_dir_all(&dir.root);
    }
    result.map_err(|problem| format!("{problem}\n(files kept in {})", dir.root.display()))
}

/// The `clients` part of `cargo xtask e2e`: installs the CLIs when `install`, starts the stack,
/// runs every scenario whose client is found and reports the others as skipped.
pub fn run(built: &Built, install_first: bool, out: &mut dyn Write) -> Result<Outcome> {
    let var = |name: &str| std::env::var(name).ok();
    let clients_dir = clients_dir(
        var("ANVIL_CACHE_DIR").as_deref(),
        var("XDG_CACHE_HOME").as_deref(),
        var("HOME").as_deref(),
    )
    .context("none of ANVIL_CACHE_DIR, XDG_CACHE_HOME, HOME is set: no place for the clients")?;
    if install_first {
        install(&clients_dir, out)?;
    }
    let scratch = std::env::temp_dir().join(format!("anvil-clients-{}", std::process::id()));
    std::fs::create_dir_all(&scratch)
        .with_context(|| format!("cannot create {}", scratch.display()))?;
    let path = std::env::var_os("PATH");
    let mut found = Vec::new();
    let mut missing = Vec::new();
    for client in Client::ALL {
        match locate(client, &clients_dir, path.as_deref()) {
            Some(program) => {
                let version = version(&program, &scratch);
                writeln!(out, "==> {client}: {} ({version})", program.display())?;
                found.push((client, program));
            }
            None => {
                writeln!(
                    out,
                    "==> SKIPPED {client}: not installed (not in {} nor on PATH; \
                     `cargo xtask e2e --clients --install` installs it)",
                    client.cached(&clients_dir).display()
                )?;
                missing.push(client);
            }
        }
    }
    out.flush()?;
    if found.is_empty() {
        let _ = std::fs::remove_dir_all(&scratch);
        return Ok(Outcome::Skipped(
            "no client installed (--install installs them)".to_owned(),
        ));
    }
    let stack = StackProcess::start(built)?;
    let mut failures = Vec::new();
    let mut passed = 0;
    for (index, scenario) in SCENARIOS.iter().enumerate() {
        let Some((_, program)) = found.iter().find(|(client, _)| *client == scenario.client) else {
            writeln!(out, "    skipped  {} (client not installed)", scenario.name)?;
            continue;
        };
        let start = Instant::now();
        let result = run_scenario(scenario, program, &stack, &scratch, index);
        let seconds = start.elapsed().as_secs_f64();
        match result {
            Ok(()) => {
                passed += 1;
                writeln!(out, "    ok       {} ({seconds:.1}s)", scenario.name)?;
            }
            Err(problem) => {
                writeln!(
                    out,
                    "    FAILED   {} ({seconds:.1}s): {problem}",
                    scenario.name
                )?;
                failures.push(scenario.name);
            }
        }
        out.flush()?;
    }
    drop(stack);
    if failures.is_empty() {
        let _ = std::fs::remove_dir_all(&scratch);
    }
    let skipped = if missing.is_empty() {
        String::new()
    } else {
        let names: Vec<&str> = missing.iter().map(|client| client.name()).collect();
        format!("; skipped, not installed: {}", names.join(", "))
    };
    Ok(if failures.is_empty() {
        writeln!(out, "==> {passed} client scenarios passed{skipped}")?;
        Outcome::Passed
    } else {
        Outcome::Failed(format!(
            "client scenarios failed: {}{skipped}",
            failures.join(", ")
        ))
    })
}

#[cfg(test)]
mod tests {
    use std::os::unix::process::ExitStatusExt;

    use serde_json::json;

    use super::*;

    #[test]
    fn clients_live_beside_the_sdk_venv() {
        let cases = [
            (Some("/a"), None, Some("/h"), Some("/a/clients")),
            (None, Some("/x"), Some("/h"), Some("/x/anvil/clients")),
            (None, None, Some("/h"), Some("/h/.cache/anvil/clients")),
            (None, None, None, None),
        ];
        for (anvil, xdg, home, want) in cases {
            assert_eq!(
                clients_dir(anvil, xdg, home),
                want.map(PathBuf::from),
                "{anvil:?} {xdg:?} {home:?}"
            );
        }
        let dir = Path::new("/c");
        let cases = [
            (Client::ClaudeCode, "/c/npm/node_modules/.bin/claude"),
            (Client::Codex, "/c/npm/node_modules/.bin/codex"),
            (Client::Aider, "/c/aider-venv/bin/aider"),
        ];
        for (client, want) in cases {
            assert_eq!(client.cached(dir), PathBuf::from(want), "{client}");
        }
    }

    #[test]
    fn clients_are_found_in_the_cache_before_path() {
        let root = std::env::temp_dir().join(format!("xtask-clients-find-{}", std::process::id()));
        let cache = root.join("cache");
        let bin = root.join("bin");
        let empty = root.join("empty");
        for dir in [&bin, &empty, &cache.join("npm/node_modules/.bin")] {
            std::fs::create_dir_all(dir).unwrap();
        }
        let make = |path: &Path, mode: u32| {
            std::fs::write(path, "#!/bin/sh\n").unwrap();
            std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(mode))
                .unwrap();
        };
        make(&cache.join("npm/node_modules/.bin/claude"), 0o755);
        make(&bin.join("claude"), 0o755);
        make(&bin.join("codex"), 0o755);
        make(&bin.join("aider"), 0o644);
        let path = std::env::join_paths([&empty, &bin]).unwrap();
        let cases = [
            (
                Client::ClaudeCode,
                Some(cache.join("npm/node_modules/.bin/claude")),
            ),
            (Client::Codex, Some(bin.join("codex"))),
            // Not executable: not found.
            (Client::Aider, None),
        ];
        for (client, want) in cases {
            assert_eq!(locate(client, &cache, Some(&path)), want, "{client}");
        }
        assert_eq!(find_on_path("codex", None), None);
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn every_scenario_names_a_tier_of_the_e2e_config_and_checks_something() {
        for scenario in SCENARIOS {
            assert!(scenario.upstream_path().is_some(), "{}", scenario.name);
            assert!(!scenario.expect.is_empty(), "{}", scenario.name);
            assert_eq!(
                scenario.tool_result.is_some(),
                scenario.prompt.contains("MOCK:tool"),
                "{}",
                scenario.name
            );
        }
        // Every client has a tool loop, except aider (no tools: text edit formats).
        for client in Client::ALL {
            let has_loop = SCENARIOS
                .iter()
                .any(|s| s.client == client && s.tool_result.is_some());
            assert_eq!(has_loop, client != Client::Aider, "{client}");
        }
    }

    #[test]
    fn command_lines_point_each_client_at_the_router() {
        let dir = Workdir::new(PathBuf::from("/w"));
        let path = OsStr::new("/usr/bin");
        // (scenario index, expected args, expected env pairs)
        type Case = (
            usize,
            &'static [&'static str],
            &'static [(&'static str, &'static str)],
        );
        let cases: [Case; 3] = [
            (
                1,
                &["-p", "MOCK:tool", "--model", "an", "--tools", "Read"],
                &[
                    ("ANTHROPIC_BASE_URL", "http://127.0.0.1:9"),
                    ("CLAUDE_CODE_MAX_RETRIES", "1"),
                    ("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1"),
                    ("HOME", "/w/home"),
                    ("PATH", "/usr/bin"),
                ],
            ),
            (
                4,
                &["exec", "--skip-git-repo-check", "MOCK:tool"],
                &[
                    ("CODEX_HOME", "/w/home/.codex"),
                    ("ANVIL_CLIENT_KEY", CLIENT_KEY),
                ],
            ),
            (
                6,
                &["--model", "openai/oa", "--message", "hello", "--yes-always"],
                &[
                    ("OPENAI_API_BASE", "http://127.0.0.1:9/v1"),
                    ("LITELLM_LOCAL_MODEL_COST_MAP", "True"),
                ],
            ),
        ];
        for (index, want_args, want_env) in cases {
            let scenario = &SCENARIOS[index];
            let command = command(
                scenario,
                Path::new("/bin/client"),
                &dir,
                "http://127.0.0.1:9/",
                Some(path),
            );
            let args: Vec<&str> = command.get_args().filter_map(OsStr::to_str).collect();
            assert!(
                args.windows(want_args.len()).any(|w| w == want_args),
                "{}: {args:?}",
                scenario.name
            );
            let envs: Vec<(&str, Option<&str>)> = command
                .get_envs()
                .map(|(k, v)| (k.to_str().unwrap(), v.and_then(OsStr::to_str)))
                .collect();
            for (key, value) in want_env {
                assert!(
                    envs.contains(&(key, Some(value))),
                    "{}: {key}={value} missing from {envs:?}",
                    scenario.name
                );
            }
            assert_eq!(command.get_current_dir(), Some(Path::new("/w/project")));
        }
        // The text scenario offers every tool (no --tools).
        let text = command(&SCENARIOS[0], Path::new("c"), &dir, "http://h:1", None);
        assert!(!text.get_args().any(|arg| arg == "--tools"));
    }

    #[test]
    fn codex_config_names_a_responses_provider_at_the_router() {
        let config: toml_edit::DocumentMut =
            codex_config("http://127.0.0.1:7/", "rs").parse().unwrap();
        assert_eq!(config["model"].as_str(), Some("rs"));
        assert_eq!(config["model_provider"].as_str(), Some("anvil"));
        let provider = &config["model_providers"]["anvil"];
        assert_eq!(provider["base_url"].as_str(), Some("http://127.0.0.1:7/v1"));
        assert_eq!(provider["wire_api"].as_str(), Some("responses"));
        assert_eq!(provider["env_key"].as_str(), Some("ANVIL_CLIENT_KEY"));
    }

    #[test]
    fn prepare_writes_the_file_read_and_the_codex_config() {
        let root = std::env::temp_dir().join(format!("xtask-clients-prep-{}", std::process::id()));
        let dir = Workdir::new(root.clone());
        prepare(&SCENARIOS[1], &dir, "http://127.0.0.1:5").unwrap();
        let read = std::fs::read_to_string(dir.project.join("x ☀")).unwrap();
        assert_eq!(read.trim_end(), READ_MARKER);
        prepare(&SCENARIOS[4], &dir, "http://127.0.0.1:5").unwrap();
        let config = std::fs::read_to_string(dir.codex_home().join("config.toml")).unwrap();
        assert!(
            config.contains("base_url = \"http://127.0.0.1:5/v1\""),
            "{config}"
        );
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn tool_results_are_read_from_every_dialect() {
        let cases = [
            (
                json!({"messages": [
                    {"role": "user", "content": "hi"},
                    {"role": "user", "content": [
                        {"type": "tool_result", "tool_use_id": "t", "content": "1\tmarker"},
                        {"type": "tool_result", "tool_use_id": "u",
                         "content": [{"type": "text", "text": "listed"}]},
                        {"type": "text", "text": "not a result"}
                    ]}
                ]}),
                vec!["1\tmarker", "listed"],
            ),
            (
                json!({"messages": [
                    {"role": "assistant", "content": "plain"},
                    {"role": "tool", "tool_call_id": "c", "content": "chat result"},
                    {"role": "tool", "tool_call_id": "d",
                     "content": [{"type": "text", "text": "parts"}]}
                ]}),
                vec!["chat result", "parts"],
            ),
            (
                json!({"input": [
                    {"type": "message", "role": "user", "content": "x"},
                    {"type": "function_call", "call_id": "c", "arguments": "{}"},
                    {"type": "function_call_output", "call_id": "c", "output": "bash said"},
                    {"type": "custom_tool_call_output", "call_id": "e",
                     "output": [{"type": "input_text", "text": "custom"}]}
                ]}),
                vec!["bash said", "custom"],
            ),
            (json!({"input": "just text"}), vec![]),
            (json!(null), vec![]),
        ];
        for (body, want) in cases {
            assert_eq!(tool_results(&body), want, "{body}");
        }
    }

    fn finished(code: i32, stdout: &str) -> Finished {
        Finished {
            status: Some(ExitStatus::from_raw(code << 8)),
            stdout: stdout.to_owned(),
            stderr: String::new(),
            elapsed: Duration::from_secs(1),
        }
    }

    #[test]
    fn check_needs_exit_zero_the_text_and_the_tool_result_upstream() {
        let tool_loop = &SCENARIOS[2]; // claude-code->oa
        assert_eq!(tool_loop.upstream_path(), Some("/v1/chat/completions"));
        let answer = format!("{TOOL_SAID} 1\t{READ_MARKER}\n");
        let with_result = json!({"path": "/v1/chat/completions", "body": {"messages": [
            {"role": "tool", "tool_call_id": "c", "content": format!("1\t{READ_MARKER}")}
        ]}});
        let first_turn = json!({"path": "/v1/chat/completions", "body": {"messages": [
            {"role": "user", "content": "MOCK:tool"}
        ]}});
        let wrong_path = json!({"path": "/v1/messages", "body": with_result["body"].clone()});
        // (exit code, stdout, requests, Ok or the expected problem)
        let cases: [(i32, &str, Vec<Value>, Option<&str>); 5] = [
            (
                0,
                &answer,
                vec![first_turn.clone(), with_result.clone()],
                None,
            ),
            (1, &answer, vec![with_result.clone()], Some("exited with")),
            (
                0,
                "Tool said: nothing",
                vec![with_result],
                Some("stdout lacks"),
            ),
            (0, &answer, vec![first_turn], Some("carried a tool result")),
            (
                0,
                &answer,
                vec![wrong_path],
                Some("no request on /v1/chat/completions"),
            ),
        ];
        for (code, stdout, requests, want) in cases {
            let got = check(tool_loop, &finished(code, stdout), &requests);
            match want {
                None => assert_eq!(got, Ok(()), "{stdout}"),
                Some(needle) => {
                    let problem = got.unwrap_err();
                    assert!(problem.contains(needle), "{problem}");
                }
            }
        }
        let timed_out = Finished {
            status: None,
            ..finished(0, MOCK_TEXT)
        };
        let text = &SCENARIOS[0];
        let request = json!({"path": "/v1/messages", "body": {}});
        let problem = check(text, &timed_out, std::slice::from_ref(&request)).unwrap_err();
        assert!(problem.contains("killed after"), "{problem}");
        assert_eq!(check(text, &finished(0, MOCK_TEXT), &[request]), Ok(()));
    }

    #[test]
    fn http_bodies_are_read_plain_and_chunked() {
        let cases: [(&[u8], Option<&[u8]>); 5] = [
            (
                b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n[]",
                Some(b"[]"),
            ),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n[{}\r\n1;x=y\r\n]\r\n0\r\n\r\n",
                Some(b"[{}]"),
            ),
            (b"HTTP/1.1 404 Not Found\r\n\r\nnope", None),
            (b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n", None),
            (b"HTTP/1.1 200 OK", None),
        ];
        for (raw, want) in cases {
            assert_eq!(
                response_body(raw).ok().as_deref(),
                want,
                "{}",
                String::from_utf8_lossy(raw)
            );
        }
    }

    #[test]
    fn bounded_runs_capture_output_and_kill_on_timeout() {
        let dir = std::env::temp_dir().join(format!("xtask-clients-run-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (stdout, stderr) = (dir.join("o"), dir.join("e"));
        let mut quick = Command::new("sh");
        quick.args(["-c", "echo out; echo err >&2; exit 3"]);
        let run = run_bounded(quick, Duration::from_secs(20), &stdout, &stderr).unwrap();
        assert_eq!(run.status.and_then(|s| s.code()), Some(3));
        assert_eq!(
            (run.stdout.as_str(), run.stderr.as_str()),
            ("out\n", "err\n")
        );
        assert!(!run.success());
        // A child that outlives the timeout, with a grandchild: both end.
        let mut slow = Command::new("sh");
        slow.args(["-c", "sleep 30 & echo $!; sleep 30"]);
        let run = run_bounded(slow, Duration::from_millis(300), &stdout, &stderr).unwrap();
        assert_eq!(run.status, None);
        assert!(run.elapsed < Duration::from_secs(10), "{:?}", run.elapsed);
        assert!(run.describe().starts_with("killed after"));
        let grandchild = PathBuf::from(format!("/proc/{}/stat", run.stdout.trim()));
        let gone = || {
            // Gone, or a zombie waiting for whoever inherited it.
            std::fs::read_to_string(&grandchild)
                .map(|stat| stat.contains(") Z "))
                .unwrap_or(true)
        };
        let deadline = Instant::now() + Duration::from_secs(5);
        while !gone() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(gone(), "the grandchild {} survived", grandchild.display());
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(tail("a\nb\nc", 2), "b\nc");
    }
}
