//! `docs/ARCHITECTURE.md` names only files and directories that exist.

use std::path::Path;

use anyhow::{Context, Result};

/// The architecture document, relative to the workspace root.
pub const ARCHITECTURE: &str = "docs/ARCHITECTURE.md";

/// Top-level entries whose mention in backticks is taken as a path to check.
const ROOTS: &[&str] = &[
    "crates/", "bins/", "xtask/", "configs/", "tests/", "docs/", "fuzz/", ".ci/",
];

/// The backticked repository paths in `text` (`crates/anvil-dialects/src/sse.rs`,
/// `tests/fixtures/clients/`); endpoint paths, commands and code are not paths.
pub fn mentioned_paths(text: &str) -> Vec<String> {
    text.split('`')
        .skip(1)
        .step_by(2)
        .filter(|span| !span.contains(char::is_whitespace))
        .filter(|span| ROOTS.iter().any(|root| span.starts_with(root)) || *span == "xtask")
        .map(|span| span.trim_end_matches('/').to_owned())
        .collect()
}

/// Paths named in the architecture document that do not exist under `root`.
pub fn missing_paths(root: &Path) -> Result<Vec<String>> {
    let path = root.join(ARCHITECTURE);
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    Ok(mentioned_paths(&text)
        .into_iter()
        .filter(|p| !root.join(p).exists())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_repository_paths_only() {
        let text = "see `crates/anvil-dialects/src/sse.rs`, `docs/FUZZING.md`, the endpoint \
                    `/v1/messages`, the command `cargo xtask ci`, `xtask` and `tests/fixtures/clients/`";
        assert_eq!(
            mentioned_paths(text),
            [
                "crates/anvil-dialects/src/sse.rs",
                "docs/FUZZING.md",
                "xtask",
                "tests/fixtures/clients"
            ]
        );
    }

    #[test]
    fn reports_a_path_that_does_not_exist() {
        let root = crate::workspace_root();
        let dir = std::env::temp_dir().join(format!("anvil-tidy-docs-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("docs")).unwrap();
        std::fs::create_dir_all(dir.join("crates/real")).unwrap();
        std::fs::write(
            dir.join(ARCHITECTURE),
            "`crates/real` and `crates/imagined/src/lib.rs`",
        )
        .unwrap();
        assert_eq!(missing_paths(&dir).unwrap(), ["crates/imagined/src/lib.rs"]);
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(root.join(ARCHITECTURE).exists());
    }
}
