//! Workspace lints: every crate under `crates/` and `bins/` (and xtask) has `[lints] workspace = true`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// Directories whose subdirectories are crates.
pub const CRATE_DIRS: &[&str] = &["crates", "bins"];

/// Whether a manifest opts into the workspace lints (`[lints] workspace = true`).
pub fn has_workspace_lints(manifest: &str) -> Result<bool> {
    let document: toml_edit::DocumentMut = manifest.parse().context("not valid TOML")?;
    Ok(document
        .get("lints")
        .and_then(|lints| lints.get("workspace"))
        .and_then(toml_edit::Item::as_bool)
        == Some(true))
}

/// The `Cargo.toml` of every crate under [`CRATE_DIRS`], plus `xtask/Cargo.toml`, sorted.
pub fn crate_manifests(root: &Path) -> Result<Vec<PathBuf>> {
    let mut manifests = Vec::new();
    for dir in CRATE_DIRS {
        let dir = root.join(dir);
        if !dir.exists() {
            continue;
        }
        for entry in
            std::fs::read_dir(&dir).with_context(|| format!("cannot read {}", dir.display()))?
        {
            let manifest = entry
                .with_context(|| format!("cannot read {}", dir.display()))?
                .path()
                .join("Cargo.toml");
            if manifest.is_file() {
                manifests.push(manifest);
            }
        }
    }
    let xtask = root.join("xtask/Cargo.toml");
    if xtask.is_file() {
        manifests.push(xtask);
    }
    manifests.sort();
    Ok(manifests)
}

/// The manifests under `root` that do not opt into the workspace lints (or cannot be parsed).
pub fn check_workspace(root: &Path) -> Result<(Vec<PathBuf>, Vec<String>)> {
    let manifests = crate_manifests(root)?;
    let mut problems = Vec::new();
    for manifest in &manifests {
        let text = std::fs::read_to_string(manifest)
            .with_context(|| format!("cannot read {}", manifest.display()))?;
        match has_workspace_lints(&text) {
            Ok(true) => {}
            Ok(false) => problems.push(format!(
                "{}: missing `[lints] workspace = true`",
                manifest.display()
            )),
            Err(error) => problems.push(format!("{}: {error:#}", manifest.display())),
        }
    }
    Ok((manifests, problems))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn has_workspace_lints_table() {
        let cases = [
            (
                "[package]\nname = \"a\"\n\n[lints]\nworkspace = true\n",
                true,
            ),
            ("[package]\nname = \"a\"\nlints.workspace = true\n", false),
            ("[package]\nname = \"a\"\n", false),
            ("[lints]\nworkspace = false\n", false),
            ("[lints]\nworkspace = \"true\"\n", false),
            ("[lints.rust]\nunsafe_code = \"forbid\"\n", false),
            ("lints = { workspace = true }\n", true),
        ];
        for (manifest, expected) in cases {
            assert_eq!(
                has_workspace_lints(manifest).unwrap(),
                expected,
                "{manifest:?}"
            );
        }
        assert!(has_workspace_lints("[lints\n").is_err());
    }

    #[test]
    fn check_workspace_names_the_crates_without_workspace_lints() {
        let root = std::env::temp_dir().join(format!("xtask-lints-{}", std::process::id()));
        for (path, text) in [
            ("crates/good/Cargo.toml", "[lints]\nworkspace = true\n"),
            ("bins/bad/Cargo.toml", "[package]\nname = \"bad\"\n"),
            ("crates/not-a-crate/README.md", "no manifest here\n"),
        ] {
            std::fs::create_dir_all(root.join(path).parent().unwrap()).unwrap();
            std::fs::write(root.join(path), text).unwrap();
        }
        let (manifests, problems) = check_workspace(&root).unwrap();
        std::fs::remove_dir_all(&root).unwrap();
        assert_eq!(
            manifests,
            vec![
                root.join("bins/bad/Cargo.toml"),
                root.join("crates/good/Cargo.toml")
            ]
        );
        assert_eq!(
            problems,
            vec![format!(
                "{}: missing `[lints] workspace = true`",
                root.join("bins/bad/Cargo.toml").display()
            )]
        );
    }
}
