//! What the substrate's black-box test files share.

use std::path::PathBuf;

/// A fresh directory under the system temp dir, removed when dropped; `.0` is its path.
pub struct TempDir(
    pub PathBuf,
    #[allow(dead_code)] // held for its Drop, which removes the directory
    tempfile::TempDir,
);

impl TempDir {
    pub fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("anvil-substrate-")
            .tempdir()
            .unwrap();
        TempDir(dir.path().to_owned(), dir)
    }
}
