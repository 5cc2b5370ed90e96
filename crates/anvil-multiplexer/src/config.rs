//! The multiplexer's TOML configuration: a `[multiplexer]` table and its `[[multiplexer.engines]]`.
//!
//! ```toml
//! [multiplexer]
//! host = "127.0.0.1"        # optional; --host wins
//! port = 8100               # optional; --port wins (default 8100)
//! load_wait_s = 900         # how long a request waits for its model to become resident
//! drain_timeout_s = 300     # how long a swap waits for in-flight requests of the resident model
//! health_interval_ms = 500  # pause between two health probes while an engine starts
//! gpu_memory_gb = 24        # optional budget: an engine expected to need more is an error
//! preload = "qwen3-coder"   # optional: made resident at startup
//!
//! [[multiplexer.engines]]
//! name = "qwen3-coder"      # the `model` clients send; unique
//! engine = "sglang"         # sglang | vllm, with model_path (+ args), or:
//! model_path = "/models/Qwen3-Coder-30B-A3B-Instruct-AWQ"
//! args = ["--context-length", "65536"]
//! # command = ["my-server", "--port", "30000"]                       # any argv, or:
//! # compose = { file = "deploy/compose.yml", service = "qwen", project = "anvil" }
//! port = 30000
//! health_url = "http://127.0.0.1:30000/health"   # default http://127.0.0.1:PORT/health
//! base_url = "http://127.0.0.1:30000"            # default http://127.0.0.1:PORT
//! gpu_memory_gb = 18
//! start_timeout_s = 600
//! stop_grace_s = 30
//! env = { CUDA_VISIBLE_DEVICES = "0" }
//! ```
//!
//! Unknown keys are errors. Every error is one line: `LINE:COL: message` for TOML and type
//! errors, `multiplexer.engines[I].KEY: message` for semantic ones.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::time::Duration;

use serde::Deserialize;

/// Default port of the multiplexer's HTTP endpoint.
pub const DEFAULT_PORT: u16 = 8100;

/// A validated multiplexer configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct MultiplexerConfig {
    /// Address to bind, if the file names one.
    pub host: Option<String>,
    /// Port to bind, if the file names one.
    pub port: Option<u16>,
    /// Timing of swaps and waiting requests.
    pub settings: Settings,
    /// Total GPU memory the engines share, if declared.
    pub gpu_memory_gb: Option<f64>,
    /// Engine made resident at startup.
    pub preload: Option<String>,
    /// The registry, in file order; names unique.
    pub engines: Vec<EngineSpec>,
}

/// Timing of swaps and of requests that wait for one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// How long a request waits for its model to become resident before a 503.
    pub load_wait: Duration,
    /// How long a swap waits for in-flight requests of the resident model before stopping it.
    pub drain_timeout: Duration,
    /// Pause between two health probes while an engine starts.
    pub health_interval: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            load_wait: Duration::from_secs(900),
            drain_timeout: Duration::from_secs(300),
            health_interval: Duration::from_millis(500),
        }
    }
}

/// One registered engine.
#[derive(Debug, Clone, PartialEq)]
pub struct EngineSpec {
    /// The model name clients send (and the router's tier `model`).
    pub name: String,
    /// How the engine is started and stopped.
    pub launch: Launch,
    /// The port the engine serves on.
    pub port: u16,
    /// URL answering 2xx once the engine serves.
    pub health_url: String,
    /// Base URL requests are forwarded to (`/v1/...` is appended).
    pub base_url: String,
    /// Expected GPU memory, for the operator and the budget check.
    pub gpu_memory_gb: Option<f64>,
    /// Deadline for the engine to become healthy after it is started.
    pub start_timeout: Duration,
    /// Time between SIGTERM (or `docker compose stop`) and SIGKILL.
    pub stop_grace: Duration,
    /// Extra environment for the engine process.
    pub env: BTreeMap<String, String>,
    /// Working directory of the engine process.
    pub cwd: Option<String>,
}

/// How an engine is started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Launch {
    /// A child process with this argv (SGLang and vLLM command lines end up here too).
    Command(Vec<String>),
    /// A docker-compose service, started with `docker compose up -d` and stopped with
    /// `docker compose stop`.
    Compose(ComposeService),
}

/// A docker-compose service.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComposeService {
    /// The compose file.
    pub file: String,
    /// The service name in it.
    pub service: String,
    /// The compose project name (`-p`), if any.
    #[serde(default)]
    pub project: Option<String>,
}

impl ComposeService {
    fn base(&self) -> Vec<String> {
        let mut argv = vec![
            "docker".to_owned(),
            "compose".to_owned(),
            "-f".to_owned(),
            self.file.clone(),
        ];
        if let Some(project) = &self.project {
            argv.extend(["-p".to_owned(), project.clone()]);
        }
        argv
    }

    /// `docker compose -f FILE [-p PROJECT] up -d SERVICE`.
    pub fn up_argv(&self) -> Vec<String> {
        let mut argv = self.base();
        argv.extend(["up".to_owned(), "-d".to_owned(), self.service.clone()]);
        argv
    }

    /// `docker compose -f FILE [-p PROJECT] stop -t GRACE SERVICE`.
    pub fn stop_argv(&self, grace: Duration) -> Vec<String> {
        let mut argv = self.base();
        argv.extend([
            "stop".to_owned(),
            "-t".to_owned(),
            grace.as_secs().to_string(),
            self.service.clone(),
        ]);
        argv
    }
}

/// Builds the argv of an SGLang or vLLM server for `model_path`, serving `name` on `port`.
///
/// * vllm: `vllm serve MODEL_PATH ARGS… --served-model-name NAME --host 127.0.0.1 --port PORT`
/// * sglang: `python3 -m sglang.launch_server --model-path MODEL_PATH ARGS… --served-model-name
///   NAME --host 127.0.0.1 --port PORT`
pub fn engine_argv(
    engine: &str,
    model_path: &str,
    args: &[String],
    name: &str,
    port: u16,
) -> Result<Vec<String>, String> {
    let mut argv: Vec<String> = match engine {
        "vllm" => vec!["vllm".into(), "serve".into(), model_path.into()],
        "sglang" => vec![
            "python3".into(),
            "-m".into(),
            "sglang.launch_server".into(),
            "--model-path".into(),
            model_path.into(),
        ],
        other => return Err(format!("unknown engine {other:?}: expected sglang or vllm")),
    };
    argv.extend(args.iter().cloned());
    argv.extend([
        "--served-model-name".into(),
        name.into(),
        "--host".into(),
        "127.0.0.1".into(),
        "--port".into(),
        port.to_string(),
    ]);
    Ok(argv)
}

/// A configuration error, one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    multiplexer: RawMultiplexer,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMultiplexer {
    host: Option<String>,
    port: Option<u16>,
    load_wait_s: Option<f64>,
    drain_timeout_s: Option<f64>,
    health_interval_ms: Option<u64>,
    gpu_memory_gb: Option<f64>,
    preload: Option<String>,
    #[serde(default)]
    engines: Vec<RawEngine>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEngine {
    name: String,
    command: Option<Vec<String>>,
    engine: Option<String>,
    model_path: Option<String>,
    args: Option<Vec<String>>,
    compose: Option<ComposeService>,
    port: u16,
    health_url: Option<String>,
    base_url: Option<String>,
    gpu_memory_gb: Option<f64>,
    start_timeout_s: Option<f64>,
    stop_grace_s: Option<f64>,
    #[serde(default)]
    env: BTreeMap<String, String>,
    cwd: Option<String>,
}

/// Line and column (1-based) of byte `offset` in `src`.
fn line_col(src: &str, offset: usize) -> (usize, usize) {
    let before = src.get(..offset).unwrap_or(src);
    let line = before.matches('\n').count() + 1;
    let col = before
        .rsplit('\n')
        .next()
        .map_or(1, |l| l.chars().count() + 1);
    (line, col)
}

fn seconds(v: Option<f64>, default: f64, key: &str, errors: &mut Vec<String>) -> Duration {
    let s = v.unwrap_or(default);
    if s.is_finite() && s > 0.0 && s < 1e9 {
        Duration::from_secs_f64(s)
    } else {
        errors.push(format!("{key}: must be a number of seconds > 0, got {s}"));
        Duration::from_secs_f64(default)
    }
}

fn check_http_url(url: &str) -> Result<(), String> {
    let uri: http::Uri = url.parse().map_err(|e| format!("not a URL: {e}"))?;
    if uri.scheme_str() != Some("http") {
        return Err("must be an http:// URL (engines are local)".to_owned());
    }
    if uri.host().is_none() {
        return Err("has no host".to_owned());
    }
    Ok(())
}

/// Parses and validates a multiplexer configuration file's text; every problem found is returned.
pub fn parse(src: &str) -> Result<MultiplexerConfig, Vec<ConfigError>> {
    let raw: RawFile = toml_edit::de::from_str(src).map_err(|e| {
        let message = e.message().trim().replace('\n', "; ");
        let at = e.span().map(|span| line_col(src, span.start));
        vec![ConfigError(match at {
            Some((line, col)) => format!("{line}:{col}: {message}"),
            None => message,
        })]
    })?;
    let m = raw.multiplexer;
    let mut errors = Vec::new();
    let defaults = Settings::default();
    let settings = Settings {
        load_wait: seconds(
            m.load_wait_s,
            defaults.load_wait.as_secs_f64(),
            "multiplexer.load_wait_s",
            &mut errors,
        ),
        drain_timeout: seconds(
            m.drain_timeout_s,
            defaults.drain_timeout.as_secs_f64(),
            "multiplexer.drain_timeout_s",
            &mut errors,
        ),
        health_interval: match m.health_interval_ms {
            Some(0) => {
                errors.push("multiplexer.health_interval_ms: must be > 0".to_owned());
                defaults.health_interval
            }
            Some(ms) => Duration::from_millis(ms),
            None => defaults.health_interval,
        },
    };
    if let Some(g) = m.gpu_memory_gb {
        if !(g.is_finite() && g > 0.0) {
            errors.push(format!("multiplexer.gpu_memory_gb: must be > 0, got {g}"));
        }
    }
    if m.engines.is_empty() {
        errors.push("multiplexer.engines: at least one [[multiplexer.engines]] is required".into());
    }
    let mut names = HashSet::new();
    let mut engines = Vec::new();
    for (i, e) in m.engines.into_iter().enumerate() {
        let at = |key: &str| format!("multiplexer.engines[{i}].{key}");
        if e.name.trim().is_empty() || e.name.chars().any(char::is_whitespace) {
            errors.push(format!(
                "{}: must be a non-empty name without spaces",
                at("name")
            ));
        } else if !names.insert(e.name.clone()) {
            errors.push(format!(
                "{}: duplicate engine name {:?}",
                at("name"),
                e.name
            ));
        }
        if e.port == 0 {
            errors.push(format!("{}: must be 1-65535", at("port")));
        }
        let launch = match (&e.command, &e.engine, &e.compose) {
            (Some(argv), None, None) => {
                if argv.first().is_none_or(|p| p.trim().is_empty()) {
                    errors.push(format!(
                        "{}: must name a program (a non-empty array)",
                        at("command")
                    ));
                }
                if e.model_path.is_some() || e.args.is_some() {
                    errors.push(format!(
                        "{}: model_path and args go with engine = \"sglang\"|\"vllm\", not with command",
                        at("model_path")
                    ));
                }
                Some(Launch::Command(argv.clone()))
            }
            (None, Some(kind), None) => match &e.model_path {
                None => {
                    errors.push(format!(
                        "{}: required with engine = {kind:?}",
                        at("model_path")
                    ));
                    None
                }
                Some(path) => match engine_argv(
                    kind,
                    path,
                    e.args.as_deref().unwrap_or_default(),
                    &e.name,
                    e.port,
                ) {
                    Ok(argv) => Some(Launch::Command(argv)),
                    Err(msg) => {
                        errors.push(format!("{}: {msg}", at("engine")));
                        None
                    }
                },
            },
            (None, None, Some(compose)) => {
                if compose.file.trim().is_empty() || compose.service.trim().is_empty() {
                    errors.push(format!(
                        "{}: file and service must not be empty",
                        at("compose")
                    ));
                }
                if !e.env.is_empty() || e.cwd.is_some() {
                    errors.push(format!(
                        "{}: env and cwd belong in the compose file for a compose service",
                        at("env")
                    ));
                }
                Some(Launch::Compose(compose.clone()))
            }
            (None, None, None) => {
                errors.push(format!(
                    "engine {:?}: give exactly one of command, engine (+ model_path) or compose",
                    e.name
                ));
                None
            }
            _ => {
                errors.push(format!(
                    "engine {:?}: command, engine and compose are exclusive; give exactly one",
                    e.name
                ));
                None
            }
        };
        let health_url = e
            .health_url
            .clone()
            .unwrap_or_else(|| format!("http://127.0.0.1:{}/health", e.port));
        if let Err(msg) = check_http_url(&health_url) {
            errors.push(format!("{}: {msg}", at("health_url")));
        }
        let base_url = e
            .base_url
            .clone()
            .unwrap_or_else(|| format!("http://127.0.0.1:{}", e.port))
            .trim_end_matches('/')
            .to_owned();
        if let Err(msg) = check_http_url(&base_url) {
            errors.push(format!("{}: {msg}", at("base_url")));
        }
        if let Some(g) = e.gpu_memory_gb {
            if !(g.is_finite() && g > 0.0) {
                errors.push(format!("{}: must be > 0, got {g}", at("gpu_memory_gb")));
            } else if let Some(budget) = m.gpu_memory_gb.filter(|b| g > *b) {
                errors.push(format!(
                    "{}: {g} GB does not fit the {budget} GB of multiplexer.gpu_memory_gb",
                    at("gpu_memory_gb")
                ));
            }
        }
        let start_timeout = seconds(
            e.start_timeout_s,
            600.0,
            &at("start_timeout_s"),
            &mut errors,
        );
        let stop_grace = seconds(e.stop_grace_s, 30.0, &at("stop_grace_s"), &mut errors);
        if let Some(launch) = launch {
            engines.push(EngineSpec {
                name: e.name,
                launch,
                port: e.port,
                health_url,
                base_url,
                gpu_memory_gb: e.gpu_memory_gb,
                start_timeout,
                stop_grace,
                env: e.env,
                cwd: e.cwd,
            });
        }
    }
    if let Some(p) = &m.preload {
        if !names.contains(p) {
            errors.push(format!("multiplexer.preload: no engine is named {p:?}"));
        }
    }
    if !errors.is_empty() {
        return Err(errors.into_iter().map(ConfigError).collect());
    }
    Ok(MultiplexerConfig {
        host: m.host,
        port: m.port,
        settings,
        gpu_memory_gb: m.gpu_memory_gb,
        preload: m.preload,
        engines,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    const GOOD: &str = r#"
[multiplexer]
port = 8100
load_wait_s = 60
gpu_memory_gb = 24
preload = "coder"

[[multiplexer.engines]]
name = "coder"
engine = "sglang"
model_path = "/m/coder"
args = ["--context-length", "65536"]
port = 30000
gpu_memory_gb = 18

[[multiplexer.engines]]
name = "fast"
engine = "vllm"
model_path = "/m/fast"
port = 30001
start_timeout_s = 0.5
stop_grace_s = 2

[[multiplexer.engines]]
name = "raw"
command = ["my-server", "--port", "30002"]
port = 30002
health_url = "http://127.0.0.1:30002/ready"
env = { A = "1" }

[[multiplexer.engines]]
name = "composed"
compose = { file = "deploy/compose.yml", service = "qwen", project = "anvil" }
port = 30003
"#;

    #[test]
    fn a_full_file_parses_with_defaults_filled_in() {
        let c = parse(GOOD).unwrap();
        assert_eq!(c.port, Some(8100));
        assert_eq!(c.settings.load_wait, Duration::from_secs(60));
        assert_eq!(c.settings.drain_timeout, Duration::from_secs(300));
        assert_eq!(c.preload.as_deref(), Some("coder"));
        let names: Vec<_> = c.engines.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["coder", "fast", "raw", "composed"]);
        let coder = &c.engines[0];
        assert_eq!(coder.health_url, "http://127.0.0.1:30000/health");
        assert_eq!(coder.base_url, "http://127.0.0.1:30000");
        assert_eq!(coder.start_timeout, Duration::from_secs(600));
        assert_eq!(
            coder.launch,
            Launch::Command(
                "python3 -m sglang.launch_server --model-path /m/coder --context-length 65536 \
                 --served-model-name coder --host 127.0.0.1 --port 30000"
                    .split(' ')
                    .map(str::to_owned)
                    .collect()
            )
        );
        let fast = &c.engines[1];
        assert_eq!(fast.start_timeout, Duration::from_millis(500));
        assert_eq!(fast.stop_grace, Duration::from_secs(2));
        assert_eq!(
            fast.launch,
            Launch::Command(
                "vllm serve /m/fast --served-model-name fast --host 127.0.0.1 --port 30001"
                    .split(' ')
                    .map(str::to_owned)
                    .collect()
            )
        );
        assert_eq!(c.engines[2].health_url, "http://127.0.0.1:30002/ready");
        assert_eq!(c.engines[2].env.get("A").map(String::as_str), Some("1"));
    }

    #[test]
    fn compose_services_start_and_stop_through_docker_compose() {
        let c = parse(GOOD).unwrap();
        let Launch::Compose(svc) = &c.engines[3].launch else {
            panic!("not compose: {:?}", c.engines[3].launch)
        };
        assert_eq!(
            svc.up_argv().join(" "),
            "docker compose -f deploy/compose.yml -p anvil up -d qwen"
        );
        assert_eq!(
            svc.stop_argv(Duration::from_secs(30)).join(" "),
            "docker compose -f deploy/compose.yml -p anvil stop -t 30 qwen"
        );
        let no_project = ComposeService {
            project: None,
            ..svc.clone()
        };
        assert_eq!(
            no_project.up_argv().join(" "),
            "docker compose -f deploy/compose.yml up -d qwen"
        );
    }

    fn errors(src: &str) -> Vec<String> {
        parse(src).unwrap_err().into_iter().map(|e| e.0).collect()
    }

    #[test]
    fn unknown_keys_and_type_errors_are_located() {
        let e = errors("[multiplexer]\nportt = 1\n");
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(e[0].starts_with("2:1: unknown field `portt`"), "{e:?}");
        let e = errors("[multiplexer]\n[[multiplexer.engines]]\nname = 3\nport = 1\n");
        assert!(e[0].starts_with("3:8: invalid type"), "{e:?}");
        assert!(!e[0].contains('\n'));
    }

    #[test]
    fn semantic_errors_are_all_reported() {
        let src = r#"
[multiplexer]
gpu_memory_gb = 10
preload = "nope"
[[multiplexer.engines]]
name = "a"
command = []
port = 0
gpu_memory_gb = 12
health_url = "ftp://x/health"
[[multiplexer.engines]]
name = "a"
engine = "tgi"
model_path = "/m"
port = 1
start_timeout_s = -1
[[multiplexer.engines]]
name = "c"
command = ["x"]
compose = { file = "f", service = "s" }
port = 2
[[multiplexer.engines]]
name = "d"
port = 3
"#;
        let e = errors(src);
        let want = [
            "multiplexer.engines[0].port: must be 1-65535",
            "multiplexer.engines[0].command: must name a program",
            "multiplexer.engines[0].health_url: must be an http:// URL",
            "multiplexer.engines[0].gpu_memory_gb: 12 GB does not fit the 10 GB",
            "multiplexer.engines[1].name: duplicate engine name \"a\"",
            "multiplexer.engines[1].engine: unknown engine \"tgi\"",
            "multiplexer.engines[1].start_timeout_s: must be a number of seconds > 0",
            "engine \"c\": command, engine and compose are exclusive",
            "engine \"d\": give exactly one of command",
            "multiplexer.preload: no engine is named \"nope\"",
        ];
        for w in want {
            assert!(
                e.iter().any(|l| l.starts_with(w)),
                "missing {w:?} in {e:#?}"
            );
        }
        assert_eq!(e.len(), want.len(), "{e:#?}");
    }

    #[test]
    fn an_empty_registry_is_an_error() {
        assert_eq!(
            errors("[multiplexer]\n"),
            ["multiplexer.engines: at least one [[multiplexer.engines]] is required"]
        );
    }

    #[test]
    fn the_shipped_example_parses() {
        let src = include_str!("../../../configs/multiplexer/example.toml");
        let c = parse(src).unwrap();
        assert!(!c.engines.is_empty());
    }
}
