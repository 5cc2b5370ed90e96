//! Repository-shape checks (`cargo xtask tidy`); `xtask/tests/tidy.rs` runs the same checks as tests.

use std::io::Write;
use std::path::Path;

use anyhow::Result;

pub mod configs;
pub mod docs;
pub mod lints;
pub mod purity;

/// Runs every tidy check on the workspace at `root`, reporting to `out`; `Ok(false)` if any failed.
pub fn run(root: &Path, out: &mut dyn Write) -> Result<bool> {
    let mut ok = true;

    writeln!(out, "tidy: purity of {}", purity::PURE_CRATES.join(", "))?;
    let report = purity::check(&purity::load_metadata(root)?, purity::PURE_CRATES)?;
    writeln!(out, "  checked: {}", report.checked.join(", "))?;
    if !report.missing.is_empty() {
        writeln!(
            out,
            "  not in the workspace (skipped): {}",
            report.missing.join(", ")
        )?;
    }
    for violation in &report.violations {
        ok = false;
        writeln!(out, "  error: {violation}")?;
    }

    writeln!(
        out,
        "tidy: shipped configs pass `{} check`",
        configs::ROUTER
    )?;
    let report = configs::check_workspace(root)?;
    if report.checked.is_empty() {
        writeln!(out, "  no configs/*.toml to check")?;
    }
    for config in &report.checked {
        let status = if report
            .failures
            .iter()
            .any(|failure| &failure.config == config)
        {
            "FAILED"
        } else {
            "ok"
        };
        writeln!(out, "  {}: {status}", display_relative(root, config))?;
    }
    for failure in &report.failures {
        ok = false;
        writeln!(out, "  error: {failure}")?;
    }

    writeln!(out, "tidy: every crate has `[lints] workspace = true`")?;
    let (manifests, problems) = lints::check_workspace(root)?;
    writeln!(out, "  checked {} manifests", manifests.len())?;
    for problem in &problems {
        ok = false;
        writeln!(out, "  error: {problem}")?;
    }

    writeln!(
        out,
        "tidy: {} names only paths that exist",
        docs::ARCHITECTURE
    )?;
    for missing in docs::missing_paths(root)? {
        ok = false;
        writeln!(
            out,
            "  error: {} names `{missing}`, which does not exist",
            docs::ARCHITECTURE
        )?;
    }

    Ok(ok)
}

fn display_relative(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string()
}
