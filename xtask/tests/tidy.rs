//! The tidy checks over the real workspace, as tests, so `cargo test --workspace` (and thus
//! `cargo xtask ci`) enforces them. `cargo xtask tidy` runs the same checks directly.

use xtask::tidy::{configs, docs, lints, purity};
use xtask::workspace_root;

#[test]
fn pure_crates_do_not_depend_on_io_runtimes() {
    let metadata = purity::load_metadata(&workspace_root()).unwrap();
    let report = purity::check(&metadata, purity::PURE_CRATES).unwrap();
    // The check must have looked at something: these two are the workspace's first pure crates.
    for required in ["anvil-dialects", "anvil-config"] {
        assert!(
            report.checked.iter().any(|name| name == required),
            "{required} not found in the workspace: {report:?}"
        );
    }
    let violations: Vec<String> = report.violations.iter().map(ToString::to_string).collect();
    assert!(
        violations.is_empty(),
        "pure crates must not reach {:?}:\n{}",
        purity::FORBIDDEN,
        violations.join("\n")
    );
}

#[test]
fn shipped_configs_pass_anvil_router_check() {
    let report = configs::check_workspace(&workspace_root()).unwrap();
    let failures: Vec<String> = report.failures.iter().map(ToString::to_string).collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn every_crate_uses_the_workspace_lints() {
    let (manifests, problems) = lints::check_workspace(&workspace_root()).unwrap();
    assert!(
        manifests.len() >= 3,
        "expected crates under crates/ and bins/, found {manifests:?}"
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn architecture_doc_names_only_existing_paths() {
    let missing = docs::missing_paths(&workspace_root()).unwrap();
    assert!(
        missing.is_empty(),
        "{} names paths that do not exist: {missing:?}",
        docs::ARCHITECTURE
    );
}
