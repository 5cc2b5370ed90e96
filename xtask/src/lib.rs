//! Project automation for the anvil workspace.
//!
//! `cargo xtask ci` runs the whole gate (format, clippy, tests, cargo-deny) in order and stops at the
//! first failure; `cargo xtask tidy` runs only the repository-shape checks in [`tidy`], which also run
//! as ordinary tests (`xtask/tests/tidy.rs`), so `ci` covers them through the test step.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

pub mod bench;
pub mod ci;
pub mod clients;
pub mod demo;
pub mod e2e;
pub mod llama;
pub mod tidy;

/// The workspace root: the parent of this crate's manifest directory.
pub fn workspace_root() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .parent()
        .map_or_else(|| manifest_dir.to_path_buf(), Path::to_path_buf)
}

/// The cargo executable to run nested commands with: `$CARGO` when cargo started us, else `cargo`.
pub fn cargo() -> OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"))
}
