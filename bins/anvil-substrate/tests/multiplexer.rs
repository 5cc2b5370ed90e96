//! `anvil-substrate multiplexer` as a real process: config errors, preload, and SIGTERM leaving no
//! engine process (nor an engine's own child) behind.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_anvil-substrate");

/// `cargo`, without the variables cargo sets for this test (`CARGO_PKG_*`, `CARGO_MANIFEST_DIR`,
/// …): build scripts that read them would rebuild, and the outer build would rebuild them back.
fn cargo() -> Command {
    let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy().into_owned();
        let per_test = [
            "CARGO_PKG_",
            "CARGO_MANIFEST_",
            "CARGO_CRATE_",
            "CARGO_BIN_",
            "CARGO_PRIMARY_PACKAGE",
            "CARGO_TARGET_TMPDIR",
        ];
        if per_test.iter().any(|p| name.starts_with(p)) {
            command.env_remove(name);
        }
    }
    command
}

/// The mock upstream (the fake engine), built with cargo (it is another package's binary).
fn mock_bin() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = cargo()
        .args(["build", "--quiet", "-p", "anvil-mock-upstream"])
        .args(["--bin", "anvil-mock-upstream"])
        .args(["--message-format", "json-render-diagnostics"])
        .arg("--manifest-path")
        .arg(root.join("Cargo.toml"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|m| {
            m["reason"] == "compiler-artifact" && m["target"]["name"] == "anvil-mock-upstream"
        })
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .unwrap()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The multiplexer, started on port 0; returns it and its address once it printed its line.
fn start(config: &Path) -> (Child, String) {
    let mut child = Command::new(BIN)
        .args(["multiplexer", "--port", "0", "--config"])
        .arg(config)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("no readiness line: {line:?}"))
        .to_owned();
    (child, addr)
}

/// One HTTP/1.1 request over a fresh connection; returns the status and the body.
fn http(addr: &str, method: &str, path: &str, body: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, body.to_owned())
}

fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        let state = stat.rsplit(')').next().unwrap_or("").trim_start();
        !state.starts_with('Z') && !state.starts_with('X')
    })
}

/// Live processes in process group `pgid`.
fn group(pgid: u32) -> Vec<u32> {
    let mut out: Vec<u32> = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_string_lossy().parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
                s.rsplit(')').next().unwrap_or("").split_whitespace().nth(2)
                    == Some(pgid.to_string().as_str())
            })
        })
        .filter(|pid| alive(*pid))
        .collect();
    out.sort_unstable();
    out
}

/// Polls `check` every 20 ms until it holds or `timeout` passes (waiting on real processes).
fn eventually(timeout: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while !check() {
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    true
}

fn sigterm(child: &Child) {
    let pid = rustix::process::Pid::from_raw(i32::try_from(child.id()).unwrap()).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).unwrap();
}

fn exit_within(child: &mut Child, timeout: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "the multiplexer did not exit");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A config with an engine that is a shell running the mock as its own child, preloaded, and a
/// second engine that never becomes healthy.
fn config(dir: &Path) -> PathBuf {
    let mock = mock_bin();
    let (p1, p2) = (free_port(), free_port());
    let path = dir.join("mux.toml");
    std::fs::write(
        &path,
        format!(
            r#"
[multiplexer]
health_interval_ms = 20
preload = "wrapped"

[[multiplexer.engines]]
name = "wrapped"
command = ["sh", "-c", "{mock} --port {p1} & wait"]
port = {p1}
health_url = "http://127.0.0.1:{p1}/_mock/events"
start_timeout_s = 20

[[multiplexer.engines]]
name = "slow"
command = ["{mock}", "--port", "{p2}", "--start-delay-ms", "3600000"]
port = {p2}
health_url = "http://127.0.0.1:{p2}/_mock/events"
start_timeout_s = 600
"#,
            mock = mock.display()
        ),
    )
    .unwrap();
    path
}

#[test]
fn sigterm_stops_the_resident_engine_and_its_children() {
    let dir = tempfile::tempdir().unwrap();
    let (mut mux, addr) = start(&config(dir.path()));
    let mut leader = None;
    assert!(
        eventually(Duration::from_secs(20), || {
            let (_, body) = http(&addr, "GET", "/residency", "");
            let r: Value = serde_json::from_str(&body).unwrap();
            leader = r["resident_pid"].as_u64();
            r["resident"] == "wrapped"
        }),
        "the preloaded engine never became resident"
    );
    let leader = u32::try_from(leader.unwrap()).unwrap();
    let members = group(leader);
    assert_eq!(
        members.len(),
        3,
        "the engine's sh, its mock, the lifeline: {members:?}"
    );
    let (status, body) = http(
        &addr,
        "POST",
        "/v1/chat/completions",
        r#"{"model":"wrapped","messages":[{"role":"user","content":"hi"}]}"#,
    );
    assert_eq!(status, 200, "{body}");

    sigterm(&mux);
    let status = exit_within(&mut mux, Duration::from_secs(15));
    assert!(status.success(), "{status:?}");
    assert!(
        eventually(Duration::from_secs(5), || group(leader).is_empty()),
        "left behind: {:?}",
        group(leader)
    );
}

#[test]
fn even_a_sigkilled_multiplexer_leaves_no_engine_behind() {
    let dir = tempfile::tempdir().unwrap();
    let (mut mux, addr) = start(&config(dir.path()));
    let mut leader = None;
    assert!(eventually(Duration::from_secs(20), || {
        let (_, body) = http(&addr, "GET", "/residency", "");
        let r: Value = serde_json::from_str(&body).unwrap();
        leader = r["resident_pid"].as_u64();
        r["resident"] == "wrapped"
    }));
    let leader = u32::try_from(leader.unwrap()).unwrap();
    assert_eq!(group(leader).len(), 3);
    // No destructor runs: only the lifeline can clean up.
    mux.kill().unwrap();
    mux.wait().unwrap();
    assert!(
        eventually(Duration::from_secs(5), || group(leader).is_empty()),
        "left behind: {:?}",
        group(leader)
    );
}

#[test]
fn sigterm_during_a_start_kills_the_starting_engine() {
    let dir = tempfile::tempdir().unwrap();
    let (mut mux, addr) = start(&config(dir.path()));
    assert!(eventually(Duration::from_secs(20), || {
        http(&addr, "GET", "/residency", "")
            .1
            .contains(r#""resident":"wrapped""#)
    }));
    // Ask for the engine that never comes up, from another thread (the request waits).
    let asker = {
        let addr = addr.clone();
        std::thread::spawn(move || http(&addr, "POST", "/swap", r#"{"model":"slow"}"#))
    };
    let mux_pid = mux.id();
    let mut starting = Vec::new();
    assert!(
        eventually(Duration::from_secs(20), || {
            starting = children_of(mux_pid);
            http(&addr, "GET", "/residency", "")
                .1
                .contains(r#""phase":"starting""#)
                && !starting.is_empty()
        }),
        "the swap never reached its start"
    );
    sigterm(&mux);
    assert!(exit_within(&mut mux, Duration::from_secs(15)).success());
    let (status, body) = asker.join().unwrap();
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("shutting down"), "{body}");
    for pid in starting {
        assert!(
            eventually(Duration::from_secs(5), || !alive(pid)),
            "engine {pid} outlived the multiplexer"
        );
    }
}

/// Live direct children of `parent`.
fn children_of(parent: u32) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_string_lossy().parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
                s.rsplit(')').next().unwrap_or("").split_whitespace().nth(1)
                    == Some(parent.to_string().as_str())
            })
        })
        .filter(|pid| alive(*pid))
        .collect()
}

#[test]
fn a_bad_config_is_reported_line_by_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(
        &path,
        "[multiplexer]\npreload = \"x\"\n[[multiplexer.engines]]\nname = \"a\"\nport = 1\n",
    )
    .unwrap();
    let out = Command::new(BIN)
        .args(["multiplexer", "--check", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let shown = path.display();
    assert!(
        stderr.contains(&format!(
            "{shown}:engine \"a\": give exactly one of command, engine (+ model_path) or compose"
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "{shown}:multiplexer.preload: no engine is named \"x\""
        )),
        "{stderr}"
    );
    let example =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs/multiplexer/example.toml");
    let out = Command::new(BIN)
        .args(["multiplexer", "--check", "--config"])
        .arg(&example)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout)
        .contains("ok (3 engines: qwen3-coder, qwen3-14b-fast, gpt-oss-20b)"));
}
