//! Starts the mock upstream and the router with the e2e config, and a second router on the same
//! mock that verifies answers (commit window, keep-alives every 0.3 s); prints
//! `ANVIL_URL=http://…`, `ANVIL_VERIFY_URL=http://…` and `ANVIL_MOCK_URL=http://…` (one per line)
//! and runs until stdin closes, then stops all three. `cargo xtask e2e` uses it to serve the Python
//! SDK tests.
#![allow(
    clippy::print_stdout,
    reason = "the URLs on stdout are this tool's output"
)]

use std::io::{Read, Write};

use anvil_e2e::stack::{Router, TempDir};
use anvil_e2e::{Knobs, Stack};

fn main() -> anyhow::Result<()> {
    let stack = Stack::start_with(&Knobs::default())?;
    let verify_knobs = Knobs {
        verify: true,
        keepalive_s: Some(0.3),
        ..Knobs::default()
    };
    let verify_dir = TempDir::new("anvil-e2e-verify")?;
    let verify_config = verify_dir.path().join("router.toml");
    std::fs::write(
        &verify_config,
        anvil_e2e::config::router_config(stack.mock.url(), &verify_knobs),
    )?;
    let verify_router = Router::start(&verify_config, &verify_knobs)?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "ANVIL_URL={}", stack.router.url())?;
    writeln!(out, "ANVIL_VERIFY_URL={}", verify_router.url())?;
    writeln!(out, "ANVIL_MOCK_URL={}", stack.mock.url())?;
    out.flush()?;
    drop(out);
    let mut sink = Vec::new();
    // Blocks until the parent closes our stdin (or goes away).
    let _ = std::io::stdin().read_to_end(&mut sink);
    drop(verify_router);
    drop(stack);
    Ok(())
}
