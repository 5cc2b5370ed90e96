//! Shipped configs: every `configs/*.toml` must pass `anvil-router check --config FILE` (exit 0).

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use anyhow::{bail, Context, Result};

/// The package and binary that validates configs.
pub const ROUTER: &str = "anvil-router";

/// The `configs/*.toml` files under `root`, sorted; empty when `configs/` does not exist.
pub fn shipped_configs(root: &Path) -> Result<Vec<PathBuf>> {
    let dir = root.join("configs");
    if !dir.exists() {
        return Ok(Vec::new());
    }
    let mut files = Vec::new();
    for entry in
        std::fs::read_dir(&dir).with_context(|| format!("cannot read {}", dir.display()))?
    {
        let path = entry
            .with_context(|| format!("cannot read {}", dir.display()))?
            .path();
        if path.is_file() && path.extension().is_some_and(|ext| ext == "toml") {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// Builds the `anvil-router` binary with cargo and returns the path of the executable.
pub fn build_router(root: &Path) -> Result<PathBuf> {
    let output = Command::new(crate::cargo())
        .args(["build", "--quiet", "--package", ROUTER, "--bin", ROUTER])
        .args(["--message-format", "json-render-diagnostics"])
        .arg("--manifest-path")
        .arg(root.join("Cargo.toml"))
        .output()
        .with_context(|| format!("cannot run `cargo build -p {ROUTER}`"))?;
    if !output.status.success() {
        bail!(
            "`cargo build -p {ROUTER}` failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    executable_from_messages(&String::from_utf8_lossy(&output.stdout), ROUTER)
        .with_context(|| format!("`cargo build -p {ROUTER}` reported no `{ROUTER}` executable"))
}

/// Finds the executable of binary target `bin` in cargo's JSON build messages.
pub fn executable_from_messages(messages: &str, bin: &str) -> Option<PathBuf> {
    messages
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|message| message["reason"] == "compiler-artifact")
        .filter(|message| message["target"]["name"] == bin)
        .find_map(|message| message["executable"].as_str().map(PathBuf::from))
}

/// A config that did not pass the check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The config file.
    pub config: PathBuf,
    /// Exit code, `None` when killed by a signal or when the checker could not start.
    pub code: Option<i32>,
    /// What the checker printed, or why it could not run.
    pub output: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let code = self.code.map_or_else(
            || "no exit code".to_owned(),
            |code| format!("exit code {code}"),
        );
        write!(
            f,
            "{}: `{ROUTER} check --config` failed ({code})",
            self.config.display()
        )?;
        let output = self.output.trim_end();
        if output.is_empty() {
            Ok(())
        } else {
            write!(f, "\n{output}")
        }
    }
}

/// Runs `check` on every config and collects those that did not exit 0.
pub fn check_all(
    configs: &[PathBuf],
    mut check: impl FnMut(&Path) -> std::io::Result<Output>,
) -> Vec<Failure> {
    configs
        .iter()
        .filter_map(|config| match check(config) {
            Ok(output) if output.status.success() => None,
            Ok(output) => Some(Failure {
                config: config.clone(),
                code: output.status.code(),
                output: format!(
                    "{}{}",
                    String::from_utf8_lossy(&output.stdout),
                    String::from_utf8_lossy(&output.stderr)
                ),
            }),
            Err(error) => Some(Failure {
                config: config.clone(),
                code: None,
                output: format!("cannot run checker: {error}"),
            }),
        })
        .collect()
}

/// Runs `router check --config FILE` for one config.
pub fn run_router_check(router: &Path, config: &Path) -> std::io::Result<Output> {
    Command::new(router)
        .arg("check")
        .arg("--config")
        .arg(config)
        .output()
}

/// Outcome of checking the shipped configs.
#[derive(Debug)]
pub struct Report {
    /// Configs that were checked.
    pub checked: Vec<PathBuf>,
    /// Configs that failed.
    pub failures: Vec<Failure>,
}

/// Builds `anvil-router` (only when there is something to check) and checks every shipped config.
pub fn check_workspace(root: &Path) -> Result<Report> {
    let checked = shipped_configs(root)?;
    if checked.is_empty() {
        return Ok(Report {
            checked,
            failures: Vec::new(),
        });
    }
    let router = build_router(root)?;
    let failures = check_all(&checked, |config| run_router_check(&router, config));
    Ok(Report { checked, failures })
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt;
    use std::process::ExitStatus;

    fn output(code: i32, stdout: &str, stderr: &str) -> Output {
        Output {
            // Wait status layout: the exit code lives in the second byte.
            status: ExitStatus::from_raw(code << 8),
            stdout: stdout.as_bytes().to_vec(),
            stderr: stderr.as_bytes().to_vec(),
        }
    }

    #[test]
    fn check_all_reports_every_config_that_does_not_exit_zero() {
        let configs: Vec<PathBuf> = ["a.toml", "bad.toml", "b.toml", "gone.toml"]
            .iter()
            .map(PathBuf::from)
            .collect();
        let mut seen = Vec::new();
        let failures = check_all(&configs, |config| {
            seen.push(config.to_path_buf());
            match config.to_str() {
                Some("bad.toml") => Ok(output(2, "", "error: router.tiers[0].url: not a url\n")),
                Some("gone.toml") => Err(std::io::Error::from(std::io::ErrorKind::NotFound)),
                _ => Ok(output(0, "ok\n", "")),
            }
        });
        assert_eq!(seen, configs, "every config is checked, in order");
        assert_eq!(
            failures,
            vec![
                Failure {
                    config: "bad.toml".into(),
                    code: Some(2),
                    output: "error: router.tiers[0].url: not a url\n".into(),
                },
                Failure {
                    config: "gone.toml".into(),
                    code: None,
                    output: "cannot run checker: entity not found".into(),
                },
            ]
        );
        assert_eq!(
            Failure {
                output: String::new(),
                ..failures[0].clone()
            }
            .to_string(),
            "bad.toml: `anvil-router check --config` failed (exit code 2)"
        );
        assert_eq!(
            failures[0].to_string(),
            "bad.toml: `anvil-router check --config` failed (exit code 2)\nerror: router.tiers[0].url: not a url"
        );
    }

    #[test]
    fn run_router_check_passes_the_exit_status_through() {
        // A stand-in checker script: exits 2 for files containing "bad", else 0, and fails unless
        // called as `check --config FILE`, so the argument shape is tested too.
        let dir = std::env::temp_dir().join(format!("xtask-configs-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("configs")).unwrap();
        let script = dir.join("fake-router");
        std::fs::write(
            &script,
            "#!/bin/sh\n[ \"$1\" = check ] && [ \"$2\" = --config ] || exit 99\ngrep -q bad \"$3\" && { echo \"error: bad config\" >&2; exit 2; }\nexit 0\n",
        )
        .unwrap();
        std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        std::fs::write(dir.join("configs/good.toml"), "[router]\n").unwrap();
        std::fs::write(dir.join("configs/broken.toml"), "bad = true\n").unwrap();
        std::fs::write(dir.join("configs/README.md"), "bad\n").unwrap();

        let configs = shipped_configs(&dir).unwrap();
        assert_eq!(
            configs,
            vec![
                dir.join("configs/broken.toml"),
                dir.join("configs/good.toml")
            ]
        );
        let failures = check_all(&configs, |config| run_router_check(&script, config));
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(failures.len(), 1, "{failures:?}");
        assert_eq!(failures[0].config, dir.join("configs/broken.toml"));
        assert_eq!(failures[0].code, Some(2));
        assert_eq!(failures[0].output, "error: bad config\n");
    }

    #[test]
    fn shipped_configs_is_empty_without_a_configs_dir() {
        let dir = std::env::temp_dir().join(format!("xtask-noconfigs-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let configs = shipped_configs(&dir).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(configs, Vec::<PathBuf>::new());
    }

    #[test]
    fn executable_from_messages_picks_the_named_binary() {
        let messages = [
            r#"{"reason":"compiler-artifact","target":{"name":"anvil_config","kind":["lib"]},"executable":null}"#,
            r#"not json"#,
            r#"{"reason":"compiler-artifact","target":{"name":"other","kind":["bin"]},"executable":"/t/debug/other"}"#,
            r#"{"reason":"compiler-artifact","target":{"name":"anvil-router","kind":["bin"]},"executable":"/t/debug/anvil-router"}"#,
            r#"{"reason":"build-finished","success":true}"#,
        ]
        .join("\n");
        assert_eq!(
            executable_from_messages(&messages, "anvil-router"),
            Some(PathBuf::from("/t/debug/anvil-router"))
        );
        assert_eq!(executable_from_messages(&messages, "missing"), None);
    }
}
