//! `cargo xtask e2e`: the black-box suites, in order.
//!
//! 1. build `anvil-router`, `anvil-mock-upstream` and `anvil-e2e-stack` once;
//! 2. `cargo nextest run -p anvil-e2e` (or `cargo test -p anvil-e2e` without nextest), pointed at
//!    those binaries through `ANVIL_E2E_ROUTER_BIN` / `ANVIL_E2E_MOCK_BIN` so no test rebuilds;
//! 3. the Python SDK tests in `tests/sdk/` (unless `--no-sdk`): a venv in
//!    `~/.cache/anvil/venv-sdk` (reused; `pip install -r tests/sdk/requirements.txt` only when
//!    that file changed), `anvil-e2e-stack` serving mock + router with the e2e config, and
//!    `python -m pytest -q tests/sdk` with `ANVIL_URL` and `ANVIL_MOCK_URL` set;
//! 4. the real-model scenario (unless `--no-llama`);
//! 5. with `--clients`, the real CLIs (Claude Code, Codex, aider) through the router
//!    ([`crate::clients`]); `--install` installs them into the cache dir first.
//!
//! A failed build stops the run; later parts run even when an earlier suite failed, so one run
//! shows every failing part.

use std::fmt;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::tidy::configs::executable_from_messages;

/// Binaries the e2e run builds (package, binary).
pub const BINARIES: [(&str, &str); 4] = [
    ("anvil-router", "anvil-router"),
    ("anvil-mock-upstream", "anvil-mock-upstream"),
    ("anvil-e2e", "anvil-e2e-stack"),
    ("anvil-e2e", "anvil-e2e-real-model"),
];

/// How long `anvil-e2e-stack` may take to print both URLs.
pub const STACK_STARTUP: Duration = Duration::from_secs(60);

/// The parts of the run that flags may skip.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// Run the Rust black-box tests (`cargo xtask ci` runs them with the rest of the workspace).
    pub tests: bool,
    /// Run the Python SDK tests.
    pub sdk: bool,
    /// Run the real-model scenario.
    pub llama: bool,
    /// Run the real client CLIs (`--clients`).
    pub clients: bool,
    /// Install the client CLIs first (`--install`, only with `--clients`).
    pub install: bool,
}

impl Options {
    /// Parses `--no-tests` / `--no-sdk` / `--no-llama` / `--clients` / `--install`.
    pub fn parse(args: &[&str]) -> Result<Self> {
        let mut options = Self {
            tests: true,
            sdk: true,
            llama: true,
            clients: false,
            install: false,
        };
        for arg in args {
            match *arg {
                "--no-tests" => options.tests = false,
                "--no-sdk" => options.sdk = false,
                "--no-llama" => options.llama = false,
                "--clients" => options.clients = true,
                "--install" => options.install = true,
                other => bail!(
                    "unknown e2e flag `{other}` (known: --no-tests, --no-sdk, --no-llama, --clients, --install)"
                ),
            }
        }
        if options.install && !options.clients {
            bail!("--install installs the client CLIs: use it with --clients");
        }
        Ok(options)
    }
}

/// How a part ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// It ran and passed.
    Passed,
    /// Skipped on request, with the reason.
    Skipped(String),
    /// It failed or could not run.
    Failed(String),
}

/// One part of the run and how it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartReport {
    /// The part (`build`, `tests`, `sdk`, `llama`).
    pub part: &'static str,
    /// How it ended.
    pub outcome: Outcome,
    /// Wall time.
    pub duration: Duration,
}

impl fmt::Display for PartReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (word, detail) = match &self.outcome {
            Outcome::Passed => ("ok", String::new()),
            Outcome::Skipped(why) => ("skipped", format!("  ({why})")),
            Outcome::Failed(why) => ("FAILED", format!("  {why}")),
        };
        write!(
            f,
            "{:>8.1}s  {word:<7}  {}{detail}",
            self.duration.as_secs_f64(),
            self.part
        )
    }
}

/// One line per part.
pub fn summary(reports: &[PartReport]) -> String {
    reports.iter().map(|report| format!("{report}\n")).collect()
}

/// Whether every part passed or was skipped on request.
pub fn passed(reports: &[PartReport]) -> bool {
    reports
        .iter()
        .all(|report| !matches!(report.outcome, Outcome::Failed(_)))
}

/// The built executables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Built {
    /// `anvil-router`.
    pub router: PathBuf,
    /// `anvil-mock-upstream`.
    pub mock: PathBuf,
    /// `anvil-e2e-stack`.
    pub stack: PathBuf,
    /// `anvil-e2e-real-model`.
    pub real_model: PathBuf,
}

impl Built {
    /// Environment telling the harness to use these binaries instead of building.
    pub fn env(&self) -> [(&'static str, &Path); 2] {
        [
            ("ANVIL_E2E_ROUTER_BIN", &self.router),
            ("ANVIL_E2E_MOCK_BIN", &self.mock),
        ]
    }
}

/// `cargo build` of [`BINARIES`]; their paths come from cargo's JSON messages.
pub fn build(root: &Path) -> Result<Built> {
    let [router, mock, stack, real_model] = build_binaries(root, false, &BINARIES)?;
    Ok(Built {
        router,
        mock,
        stack,
        real_model,
    })
}

/// `cargo build [--release]` of `(package, bin)` pairs; their executables, in the same order, as
/// cargo's JSON messages name them.
pub fn build_binaries<const N: usize>(
    root: &Path,
    release: bool,
    binaries: &[(&str, &str); N],
) -> Result<[PathBuf; N]> {
    let mut command = Command::new(crate::cargo());
    command.args(["build", "--quiet"]);
    if release {
        command.arg("--release");
    }
    for (package, bin) in binaries {
        command.args(["--package", package, "--bin", bin]);
    }
    let output = command
        .args(["--message-format", "json-render-diagnostics"])
        .arg("--manifest-path")
        .arg(root.join("Cargo.toml"))
        .stderr(Stdio::inherit())
        .output()
        .context("cannot run cargo build")?;
    if !output.status.success() {
        bail!("cargo build failed ({})", output.status);
    }
    let messages = String::from_utf8_lossy(&output.stdout);
    let mut found = Vec::with_capacity(N);
    for (_, bin) in binaries {
        found.push(
            executable_from_messages(&messages, bin)
                .with_context(|| format!("cargo build reported no `{bin}` executable"))?,
        );
    }
    found
        .try_into()
        .map_err(|_| anyhow::anyhow!("cargo build reported too few executables"))
}

/// The test command: nextest when installed, else `cargo test`.
pub fn test_args(nextest: bool) -> Vec<&'static str> {
    if nextest {
        vec!["nextest", "run", "--package", "anvil-e2e"]
    } else {
        vec!["test", "--package", "anvil-e2e"]
    }
}

/// `venv-sdk` in anvil's cache dir: `$ANVIL_CACHE_DIR`, else `$XDG_CACHE_HOME/anvil` (absolute
/// only, as the XDG spec says), else `$HOME/.cache/anvil`; empty values count as unset.
pub fn venv_dir(
    anvil_cache_dir: Option<&str>,
    xdg_cache_home: Option<&str>,
    home: Option<&str>,
) -> Option<PathBuf> {
    fn set(value: Option<&str>) -> Option<&str> {
        value.filter(|value| !value.is_empty())
    }
    let cache = if let Some(dir) = set(anvil_cache_dir) {
        PathBuf::from(dir)
    } else if let Some(xdg) = set(xdg_cache_home).filter(|xdg| Path::new(xdg).is_absolute()) {
        Path::new(xdg).join("anvil")
    } else {
        Path::new(set(home)?).join(".cache").join("anvil")
    };
    Some(cache.join("venv-sdk"))
}

/// The stamp file recording which requirements a venv was installed from.
const STAMP: &str = "anvil-requirements.txt";

/// Creates the venv if needed and installs `requirements` into it unless the same file was
/// installed before. Returns the venv's python.
pub fn ensure_venv(venv: &Path, requirements: &Path, out: &mut dyn Write) -> Result<PathBuf> {
    let python = venv.join("bin").join("python");
    if !python.exists() {
        writeln!(out, "==> python3 -m venv {}", venv.display())?;
        let status = Command::new("python3")
            .args(["-m", "venv"])
            .arg(venv)
            .status()
            .context("cannot run python3 -m venv")?;
        if !status.success() {
            bail!("python3 -m venv {} failed ({status})", venv.display());
        }
    }
    let wanted = std::fs::read(requirements)
        .with_context(|| format!("cannot read {}", requirements.display()))?;
    let stamp = venv.join(STAMP);
    if std::fs::read(&stamp).ok().as_deref() != Some(wanted.as_slice()) {
        writeln!(out, "==> pip install -r {}", requirements.display())?;
        let status = Command::new(&python)
            .args(["-m", "pip", "install", "--quiet", "-r"])
            .arg(requirements)
            .status()
            .context("cannot run pip")?;
        if !status.success() {
            bail!(
                "pip install -r {} failed ({status})",
                requirements.display()
            );
        }
        std::fs::write(&stamp, &wanted)
            .with_context(|| format!("cannot write {}", stamp.display()))?;
    }
    Ok(python)
}

/// `KEY=VALUE` from one line of `anvil-e2e-stack`'s output.
pub fn stack_line(line: &str) -> Option<(&str, &str)> {
    let (key, value) = line.trim().split_once('=')?;
    matches!(key, "ANVIL_URL" | "ANVIL_MOCK_URL" | "ANVIL_VERIFY_URL").then_some((key, value))
}

/// A running `anvil-e2e-stack`; dropping it closes its stdin, which stops mock and router.
#[derive(Debug)]
pub struct StackProcess {
    child: Child,
    stdin: Option<ChildStdin>,
    /// `ANVIL_URL`: the router.
    pub anvil_url: String,
    /// `ANVIL_MOCK_URL`: the mock upstream.
    pub mock_url: String,
    /// `ANVIL_VERIFY_URL`: a second router on the same mock that verifies answers.
    pub verify_url: String,
}

impl StackProcess {
    /// Starts the stack and waits (bounded) for both URLs.
    pub fn start(built: &Built) -> Result<Self> {
        let mut command = Command::new(&built.stack);
        command
            .envs(built.env())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = command.spawn().context("cannot start anvil-e2e-stack")?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().context("no stdout pipe")?;
        let (sender, receiver) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some((key, value)) = stack_line(&line) {
                    if sender.send((key.to_owned(), value.to_owned())).is_err() {
                        break;
                    }
                }
            }
        });
        let mut stack = Self {
            child,
            stdin,
            anvil_url: String::new(),
            mock_url: String::new(),
            verify_url: String::new(),
        };
        let deadline = Instant::now() + STACK_STARTUP;
        while stack.anvil_url.is_empty() || stack.mock_url.is_empty() || stack.verify_url.is_empty()
        {
            let left = deadline.saturating_duration_since(Instant::now());
            let (key, value) = receiver.recv_timeout(left).context(
                "anvil-e2e-stack did not print ANVIL_URL, ANVIL_VERIFY_URL and ANVIL_MOCK_URL",
            )?;
            match key.as_str() {
                "ANVIL_URL" => stack.anvil_url = value,
                "ANVIL_VERIFY_URL" => stack.verify_url = value,
                _ => stack.mock_url = value,
            }
        }
        Ok(stack)
    }
}

impl Drop for StackProcess {
    fn drop(&mut self) {
        self.stdin = None;
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        // It did not stop on stdin EOF: nothing better left to do than kill it.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The SDK venv's python, created or updated from `requirements` when needed.
fn sdk_python(requirements: &Path, out: &mut dyn Write) -> Result<PathBuf> {
    let var = |name: &str| std::env::var(name).ok();
    let venv = venv_dir(
        var("ANVIL_CACHE_DIR").as_deref(),
        var("XDG_CACHE_HOME").as_deref(),
        var("HOME").as_deref(),
    )
    .context("none of ANVIL_CACHE_DIR, XDG_CACHE_HOME, HOME is set: no place for the SDK venv")?;
    ensure_venv(&venv, requirements, out)
}

fn run_sdk(root: &Path, built: &Built, out: &mut dyn Write) -> Result<Outcome> {
    let requirements = root.join("tests/sdk/requirements.txt");
    if !requirements.exists() {
        return Ok(Outcome::Failed(format!(
            "{} does not exist (pass --no-sdk to skip the SDK tests)",
            requirements.display()
        )));
    }
    let python = sdk_python(&requirements, out)?;
    let stack = StackProcess::start(built)?;
    writeln!(
        out,
        "==> python -m pytest -q tests/sdk (ANVIL_URL={} ANVIL_MOCK_URL={})",
        stack.anvil_url, stack.mock_url
    )?;
    out.flush()?;
    let status = Command::new(python)
        .args(["-m", "pytest", "-q", "tests/sdk"])
        .current_dir(root)
        .env("ANVIL_URL", &stack.anvil_url)
        .env("ANVIL_MOCK_URL", &stack.mock_url)
        .env("ANVIL_VERIFY_URL", &stack.verify_url)
        // The presets of the e2e config (`anvil_e2e::config::router_config`).
        .env("ANVIL_EXPECT_MODELS", "chat,planning")
        .status()
        .context("cannot run pytest")?;
    drop(stack);
    Ok(if status.success() {
        Outcome::Passed
    } else {
        Outcome::Failed(format!("pytest failed ({status})"))
    })
}

/// Runs `anvil-e2e-real-model` against an OpenAI-dialect model server at `base_url` serving
/// `model`: router in front, every inbound dialect whole and streamed, non-empty answers.
pub fn run_real_model(
    built: &Built,
    base_url: &str,
    model: &str,
    context_limit: u32,
    then: &[&std::ffi::OsStr],
) -> Result<Outcome> {
    let mut command = Command::new(&built.real_model);
    command
        .envs(built.env())
        .args(["--base-url", base_url, "--model", model])
        .args(["--context-limit", &context_limit.to_string()]);
    if !then.is_empty() {
        command.arg("--then").args(then);
    }
    let status = command
        .status()
        .context("cannot run anvil-e2e-real-model")?;
    Ok(if status.success() {
        Outcome::Passed
    } else {
        Outcome::Failed(format!("anvil-e2e-real-model failed ({status})"))
    })
}

/// The real-model scenario: llama.cpp's `llama-server` with SmolLM2-135M (built and cached on first
/// use by [`crate::llama::ensure`]) behind the router, every inbound dialect whole and streamed over
/// raw HTTP, then the official SDKs (`tests/sdk_real`), each checking the model server's own usage.
fn run_llama(root: &Path, built: &Built, out: &mut dyn Write) -> Result<Outcome> {
    let python = sdk_python(&root.join("tests/sdk/requirements.txt"), out)?;
    let tests = root.join("tests/sdk_real");
    writeln!(
        out,
        "==> real model: llama-server with SmolLM2-135M (cached in the anvil cache dir)"
    )?;
    out.flush()?;
    let paths = crate::llama::ensure()?;
    let mut server = crate::llama::start(&paths)?;
    let then = [
        python.as_os_str(),
        "-m".as_ref(),
        "pytest".as_ref(),
        "-q".as_ref(),
        tests.as_os_str(),
    ];
    let outcome = run_real_model(
        built,
        &server.base_url(),
        server.model(),
        crate::llama::CONTEXT_LIMIT,
        &then,
    );
    server.stop();
    outcome
}

fn timed(part: &'static str, run: impl FnOnce() -> Result<Outcome>) -> PartReport {
    let start = Instant::now();
    let outcome = run().unwrap_or_else(|error| Outcome::Failed(format!("{error:#}")));
    PartReport {
        part,
        outcome,
        duration: start.elapsed(),
    }
}

/// Runs the parts `options` select, announcing each on `out`.
pub fn run(
    root: &Path,
    options: Options,
    nextest: bool,
    out: &mut dyn Write,
) -> Result<Vec<PartReport>> {
    let mut reports = Vec::new();
    writeln!(out, "==> cargo build (router, mock upstream, e2e stack)")?;
    out.flush()?;
    let mut built = None;
    reports.push(timed("build", || {
        built = Some(build(root)?);
        Ok(Outcome::Passed)
    }));
    let Some(built) = built else {
        return Ok(reports);
    };

    let args = test_args(nextest);
    if !options.tests {
        writeln!(out, "==> skipped the Rust black-box tests (--no-tests)")?;
        reports.push(skipped("tests", "--no-tests"));
    } else {
        writeln!(out, "==> cargo {}", args.join(" "))?;
        out.flush()?;
        reports.push(timed("tests", || {
            let status = Command::new(crate::cargo())
                .args(&args)
                .current_dir(root)
                .envs(built.env())
                .status()
                .context("cannot run the e2e tests")?;
            Ok(if status.success() {
                Outcome::Passed
            } else {
                Outcome::Failed(format!("`cargo {}` failed ({status})", args.join(" ")))
            })
        }));
    }

    if options.sdk {
        reports.push(timed("sdk", || run_sdk(root, &built, out)));
    } else {
        writeln!(out, "==> skipped the Python SDK tests (--no-sdk)")?;
        reports.push(skipped("sdk", "--no-sdk"));
    }

    if options.llama {
        reports.push(timed("llama", || run_llama(root, &built, out)));
    } else {
        writeln!(out, "==> skipped the real-model scenario (--no-llama)")?;
        reports.push(skipped("llama", "--no-llama"));
    }

    if options.clients {
        writeln!(out, "==> real clients through the router (--clients)")?;
        out.flush()?;
        reports.push(timed("clients", || {
            crate::clients::run(&built, options.install, out)
        }));
    }
    Ok(reports)
}

fn skipped(part: &'static str, why: &str) -> PartReport {
    PartReport {
        part,
        outcome: Outcome::Skipped(why.to_owned()),
        duration: Duration::ZERO,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_select_the_parts() {
        // (flags, Some((tests, sdk, llama, clients, install)) or None for an error)
        type Case = (
            &'static [&'static str],
            Option<(bool, bool, bool, bool, bool)>,
        );
        let cases: [Case; 9] = [
            (&[], Some((true, true, true, false, false))),
            (&["--no-sdk"], Some((true, false, true, false, false))),
            (&["--no-llama"], Some((true, true, false, false, false))),
            (
                &["--no-llama", "--no-sdk"],
                Some((true, false, false, false, false)),
            ),
            (&["--no-tests"], Some((false, true, true, false, false))),
            (&["--clients"], Some((true, true, true, true, false))),
            (
                &["--install", "--clients"],
                Some((true, true, true, true, true)),
            ),
            (&["--install"], None),
            (&["--fast"], None),
        ];
        for (args, want) in cases {
            let got = Options::parse(args)
                .ok()
                .map(|o| (o.tests, o.sdk, o.llama, o.clients, o.install));
            assert_eq!(got, want, "{args:?}");
        }
    }

    #[test]
    fn the_venv_lives_in_the_cache_dir() {
        let cases = [
            (Some("/a"), Some("/x"), Some("/h"), Some("/a/venv-sdk")),
            (Some(""), Some("/x"), Some("/h"), Some("/x/anvil/venv-sdk")),
            (
                None,
                Some("rel"),
                Some("/h"),
                Some("/h/.cache/anvil/venv-sdk"),
            ),
            (None, Some(""), Some("/h"), Some("/h/.cache/anvil/venv-sdk")),
            (None, None, Some("/h"), Some("/h/.cache/anvil/venv-sdk")),
            (None, None, None, None),
        ];
        for (anvil, xdg, home, want) in cases {
            assert_eq!(
                venv_dir(anvil, xdg, home),
                want.map(PathBuf::from),
                "{anvil:?} {xdg:?} {home:?}"
            );
        }
    }

    #[test]
    fn only_the_two_url_lines_of_the_stack_are_read() {
        let cases = [
            (
                "ANVIL_URL=http://127.0.0.1:1\n",
                Some(("ANVIL_URL", "http://127.0.0.1:1")),
            ),
            (
                "ANVIL_MOCK_URL=http://127.0.0.1:2",
                Some(("ANVIL_MOCK_URL", "http://127.0.0.1:2")),
            ),
            ("PATH=/bin", None),
            ("listening on http://127.0.0.1:3", None),
        ];
        for (line, want) in cases {
            assert_eq!(stack_line(line), want, "{line}");
        }
    }

    #[test]
    fn summary_and_verdict() {
        let report = |part, outcome| PartReport {
            part,
            outcome,
            duration: Duration::from_millis(1500),
        };
        let reports = vec![
            report("build", Outcome::Passed),
            report("sdk", Outcome::Skipped("--no-sdk".into())),
        ];
        assert!(passed(&reports));
        assert_eq!(
            summary(&reports),
            "     1.5s  ok       build\n     1.5s  skipped  sdk  (--no-sdk)\n"
        );
        let mut failing = reports;
        failing.push(report(
            "llama",
            Outcome::Failed("anvil-e2e-real-model failed (exit status: 1)".into()),
        ));
        assert!(!passed(&failing));
        assert!(summary(&failing).contains("FAILED   llama  anvil-e2e-real-model failed"));
        assert_eq!(
            test_args(true),
            ["nextest", "run", "--package", "anvil-e2e"]
        );
        assert_eq!(test_args(false), ["test", "--package", "anvil-e2e"]);
    }

    #[test]
    fn ensure_venv_skips_pip_when_the_requirements_are_unchanged() {
        // A fake venv whose python records its invocations: pip must run once per change.
        let dir = std::env::temp_dir().join(format!("xtask-e2e-venv-{}", std::process::id()));
        let venv = dir.join("venv");
        std::fs::create_dir_all(venv.join("bin")).unwrap();
        let log = dir.join("calls");
        let python = venv.join("bin/python");
        std::fs::write(
            &python,
            format!("#!/bin/sh\necho \"$*\" >> {}\n", log.display()),
        )
        .unwrap();
        std::fs::set_permissions(&python, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        let requirements = dir.join("requirements.txt");
        std::fs::write(&requirements, "pytest\n").unwrap();
        let mut out = Vec::new();
        for _ in 0..2 {
            assert_eq!(ensure_venv(&venv, &requirements, &mut out).unwrap(), python);
        }
        std::fs::write(&requirements, "pytest\nopenai\n").unwrap();
        ensure_venv(&venv, &requirements, &mut out).unwrap();
        let calls = std::fs::read_to_string(&log).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(calls.lines().count(), 2, "{calls}");
        assert!(calls.starts_with("-m pip install --quiet -r "), "{calls}");
    }
}
