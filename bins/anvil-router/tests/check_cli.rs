//! Black-box tests of `anvil-router check --config FILE`.
#![allow(clippy::expect_used, clippy::panic)] // test helpers outside #[test] fns

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

fn configs_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs")
}

fn run_check(config: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_anvil-router"))
        .arg("check")
        .arg("--config")
        .arg(config)
        .output()
        .expect("run anvil-router")
}

/// A file in the temp dir, removed on drop.
struct TempFile(PathBuf);

impl TempFile {
    fn new(contents: &str) -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "anvil-check-cli-{}-{}.toml",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        let path = std::env::temp_dir().join(name);
        std::fs::write(&path, contents).expect("write temp config");
        TempFile(path)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[test]
fn shipped_configs_pass() {
    for (name, tiers, metered) in [
        (
            "example.toml",
            "2 tier(s): fast-local (local), heavy-local (local)",
            "metered cloud: none",
        ),
        (
            "example-with-cloud.toml",
            "3 tier(s): fast-local (local), heavy-local (local), cloud (cloud)",
            "metered cloud: planning",
        ),
    ] {
        let out = run_check(&configs_dir().join(name));
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{name}: {stdout}{stderr}");
        assert_eq!(stdout.lines().count(), 1, "one summary line: {stdout}");
        assert!(stdout.contains(tiers), "{name}: {stdout}");
        assert!(
            stdout.contains("5 preset(s): chat, quick-edit, review, planning, long-context"),
            "{name}: {stdout}"
        );
        assert!(stdout.contains(metered), "{name}: {stdout}");
        assert!(stderr.is_empty(), "{name}: no warnings expected: {stderr}");
    }
}

const BROKEN: &str = r#"claude_logs = "~/.claude/projects"

[router]
mapping_version = "2026-06-30.0"
colour = "blue"

[[router.tiers]]
id = "fast-local"
base_url = "http://127.0.0.1:30001/v1"
dialect = "openai"
context_limit = 32768
privacy = "local"
tool_support = true

[[router.tiers]]
id = "fast-local"
base_url = "http://127.0.0.1:30000/v1"
dialect = "openai"
context_limit = 131072
privacy = "local"
tool_support = true

[[router.tiers]]
id = "cloud"
base_url = "api.anthropic.com"
dialect = "claude"
context_limit = 200000
privacy = "cloud"
tool_support = true
auth_env = "anthropic-key"

[router.presets]
chat = ["fast-local", "heavy-local"]
"#;

#[test]
fn broken_config_reports_every_problem() {
    let file = TempFile::new(BROKEN);
    let out = run_check(&file.0);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(out.stdout.is_empty(), "nothing on stdout on failure");

    let prefix = format!("{}:", file.0.display());
    let lines: Vec<&str> = stderr
        .lines()
        .filter_map(|l| l.strip_prefix(prefix.as_str()))
        .collect();
    let expected = [
        ("5:1: router.colour: ", "unknown key \"colour\""),
        (
            "16:6: router.tiers[1].id: ",
            "duplicate tier id \"fast-local\"",
        ),
        ("25:12: router.tiers[2].base_url: ", "not a URL"),
        (
            "26:11: router.tiers[2].dialect: ",
            "unknown dialect \"claude\" (valid: openai, anthropic, responses)",
        ),
        (
            "30:12: router.tiers[2].auth_env: ",
            "not an environment variable name",
        ),
        (
            "33:23: router.presets.chat[1]: ",
            "unknown tier \"heavy-local\"",
        ),
    ];
    assert_eq!(
        lines.len(),
        expected.len(),
        "one line per problem:\n{stderr}"
    );
    for (line, (location, message)) in lines.iter().zip(expected) {
        let rest = line
            .strip_prefix(location)
            .unwrap_or_else(|| panic!("expected {location:?} at the start of {line:?}"));
        assert!(rest.contains(message), "{line:?} lacks {message:?}");
    }
}

#[test]
fn unreadable_file_names_the_path() {
    let missing = std::env::temp_dir().join(format!(
        "anvil-check-cli-missing-{}.toml",
        std::process::id()
    ));
    let out = run_check(&missing);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&missing.display().to_string()),
        "error must name the path: {stderr}"
    );
    assert!(stderr.contains("cannot read config file"), "{stderr}");
}

#[test]
fn warnings_go_to_stderr_and_still_pass() {
    let file = TempFile::new(
        r#"[router]
mapping_version = "v"
metered_cloud = ["planning"]

[[router.tiers]]
id = "a"
base_url = "http://127.0.0.1:1"
dialect = "openai"
context_limit = 1
privacy = "local"
tool_support = true
"#,
    );
    let out = run_check(&file.0);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let expected = format!(
        "{}:3:18: router.metered_cloud[0]: warning: work class \"planning\" is metered but no tier has privacy = \"cloud\"",
        file.0.display()
    );
    assert_eq!(stderr.trim_end(), expected);
}

#[test]
fn missing_config_flag_is_a_usage_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_anvil-router"))
        .arg("check")
        .output()
        .expect("run anvil-router");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--config"));
}
