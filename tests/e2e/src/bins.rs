//! Locating (building once) the binaries under test.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use anyhow::{anyhow, bail, Context, Result};

/// Package and binary name of the router.
pub const ROUTER: &str = "anvil-router";
/// Package and binary name of the mock upstream.
pub const MOCK: &str = "anvil-mock-upstream";
/// Environment variable that, with [`MOCK_BIN_ENV`], skips the build and names the router binary.
pub const ROUTER_BIN_ENV: &str = "ANVIL_E2E_ROUTER_BIN";
/// Environment variable that names a prebuilt mock binary.
pub const MOCK_BIN_ENV: &str = "ANVIL_E2E_MOCK_BIN";

/// Paths of the two executables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binaries {
    /// `anvil-router`.
    pub router: PathBuf,
    /// `anvil-mock-upstream`.
    pub mock: PathBuf,
}

/// The workspace root (two levels above this crate).
pub fn workspace_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest
        .ancestors()
        .nth(2)
        .map_or_else(|| manifest.to_path_buf(), Path::to_path_buf)
}

/// The binaries, built at most once per process. `cargo build` inherits this process's
/// environment, so `CARGO_TARGET_DIR` is honoured; the executables' paths come from cargo's JSON
/// build messages rather than being guessed.
pub fn binaries() -> Result<&'static Binaries> {
    static BINARIES: OnceLock<Result<Binaries, String>> = OnceLock::new();
    BINARIES
        .get_or_init(|| locate().map_err(|error| format!("{error:#}")))
        .as_ref()
        .map_err(|error| anyhow!("{error}"))
}

fn locate() -> Result<Binaries> {
    if let (Some(router), Some(mock)) = (
        std::env::var_os(ROUTER_BIN_ENV),
        std::env::var_os(MOCK_BIN_ENV),
    ) {
        return Ok(Binaries {
            router: PathBuf::from(router),
            mock: PathBuf::from(mock),
        });
    }
    build(&workspace_root())
}

/// Runs `cargo build -p anvil-router -p anvil-mock-upstream` in `root` and returns the executables.
pub fn build(root: &Path) -> Result<Binaries> {
    let output = cargo_command()
        .args(["build", "--quiet", "--package", ROUTER, "--package", MOCK])
        .args(["--bin", ROUTER, "--bin", MOCK])
        .args(["--message-format", "json-render-diagnostics"])
        .arg("--manifest-path")
        .arg(root.join("Cargo.toml"))
        .output()
        .context("cannot run cargo build")?;
    if !output.status.success() {
        bail!(
            "`cargo build -p {ROUTER} -p {MOCK}` failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    let messages = String::from_utf8_lossy(&output.stdout);
    let find = |bin: &str| {
        executable_from_messages(&messages, bin)
            .with_context(|| format!("cargo build reported no `{bin}` executable"))
    };
    Ok(Binaries {
        router: find(ROUTER)?,
        mock: find(MOCK)?,
    })
}

/// A `cargo` command without the variables cargo sets for a running test (`CARGO_PKG_*`,
/// `CARGO_MANIFEST_DIR`, …): build scripts that read them (ring's does) would otherwise see other
/// values than in the outer build and rebuild, and the outer build would rebuild them back.
pub fn cargo_command() -> Command {
    let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        let per_test = [
            "CARGO_PKG_",
            "CARGO_MANIFEST_",
            "CARGO_CRATE_",
            "CARGO_BIN_",
            "CARGO_PRIMARY_PACKAGE",
            "CARGO_TARGET_TMPDIR",
        ];
        if per_test.iter().any(|p| name.starts_with(p)) {
            command.env_remove(name.as_ref());
        }
    }
    command
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn executable_from_messages_picks_the_named_binary() {
        let messages = [
            r#"{"reason":"compiler-artifact","target":{"name":"anvil-mock-upstream","kind":["bin"]},"executable":"/t/debug/anvil-mock-upstream"}"#,
            "garbage",
            r#"{"reason":"compiler-artifact","target":{"name":"anvil-router","kind":["bin"]},"executable":"/t/debug/anvil-router"}"#,
        ]
        .join("\n");
        for (bin, want) in [
            (ROUTER, Some("/t/debug/anvil-router")),
            (MOCK, Some("/t/debug/anvil-mock-upstream")),
            ("other", None),
        ] {
            assert_eq!(
                executable_from_messages(&messages, bin),
                want.map(PathBuf::from),
                "{bin}"
            );
        }
    }

    #[test]
    fn workspace_root_holds_the_workspace_manifest() {
        let manifest = std::fs::read_to_string(workspace_root().join("Cargo.toml")).unwrap();
        assert!(manifest.contains("[workspace]"), "{manifest}");
    }
}
