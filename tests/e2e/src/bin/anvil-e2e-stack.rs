//! Starts the mock upstream and the router with the e2e config, prints
//! `ANVIL_URL=http://…` and `ANVIL_MOCK_URL=http://…` (one per line) and runs until stdin closes,
//! then stops both. `cargo xtask e2e` uses it to serve the Python SDK tests.
#![allow(
    clippy::print_stdout,
    reason = "the URLs on stdout are this tool's output"
)]

use std::io::{Read, Write};

use anvil_e2e::{Knobs, Stack};

fn main() -> anyhow::Result<()> {
    let stack = Stack::start_with(&Knobs::default())?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "ANVIL_URL={}", stack.router.url())?;
    writeln!(out, "ANVIL_MOCK_URL={}", stack.mock.url())?;
    out.flush()?;
    drop(out);
    let mut sink = Vec::new();
    // Blocks until the parent closes our stdin (or goes away).
    let _ = std::io::stdin().read_to_end(&mut sink);
    drop(stack);
    Ok(())
}
