//! `cargo xtask`: project automation for the anvil workspace. See `cargo xtask help`.
#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "xtask is a developer command line tool: printing is its output"
)]

use std::io::Write;
use std::process::ExitCode;

use anyhow::Result;
use xtask::{bench, ci, demo, e2e, tidy, workspace_root};

const USAGE: &str = "\
usage: cargo xtask <task>

tasks:
  ci     cargo fmt --check, clippy -D warnings, cargo deny check licenses bans sources (no
         advisories: needs network), then the tests (doctests, and nextest when installed);
         stops at the first failure
  tidy   only the tidy checks (pure crates stay free of tokio/hyper/sqlx, shipped configs pass
         `anvil-router check`, every crate uses the workspace lints, docs/ARCHITECTURE.md names
         only existing paths); they also run as tests
  e2e    black-box suites: builds router + mock, runs the anvil-e2e tests (nextest when
         installed), then the Python SDK tests (venv in ~/.cache/anvil/venv-sdk) and the
         real-model scenario; --no-tests / --no-sdk / --no-llama skip parts; --clients also
         runs Claude Code, Codex and aider through the router (from ~/.cache/anvil/clients or
         PATH; missing ones are skipped), --clients --install installs them there first
  demo   a real local model behind the router, no GPU needed: builds (once, cached in
         $ANVIL_CACHE_DIR or ~/.cache/anvil) and starts llama-server with SmolLM2-135M-Instruct,
         starts `anvil-router serve` with every preset on it, prints curl/SDK/Claude Code lines,
         runs until Ctrl-C (needs python3 with pip, cmake and a C++ compiler for the first build)
  bench  anvil side by side with the floor (a minimal byte-forwarding hyper proxy) and the mock
         upstream alone: release builds, every scenario of docs/BENCHMARKS.md on loopback,
         a table on stdout, target/bench/report.json; --quick runs each scenario briefly
         (under 2 minutes after the build), --docs writes the tables into docs/BENCHMARKS.md,
         --only a-2k,c-stream runs only those scenarios (profiling)
  help   this text";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["ci"] => run_ci(),
        ["tidy"] => run_tidy(),
        ["e2e", flags @ ..] => run_e2e(flags),
        ["bench", flags @ ..] => bench::Options::parse(flags).and_then(|options| {
            bench::run(&workspace_root(), options, &mut std::io::stdout().lock())
        }),
        ["demo"] => demo::run(&workspace_root(), &mut std::io::stdout().lock()).map(|()| true),
        ["help" | "--help" | "-h"] => {
            println!("{USAGE}");
            Ok(true)
        }
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run_ci() -> Result<bool> {
    let root = workspace_root();
    let tools = ci::Tools::detect();
    let plan = ci::plan(tools);
    // Everything but the tests, then a summary, then the tests: the run ends on the test runner's
    // own closing lines (its pass/fail counts), which is what CI reads.
    let (before, tests) = plan.split_at(plan.len().saturating_sub(1));
    let mut out = std::io::stdout().lock();
    let reports = ci::run(&root, before, &mut out)?;
    writeln!(out, "\nci summary so far:\n{}", ci::summary(&reports))?;
    if let Some(ci::Outcome::Failed(message)) = reports.last().map(|report| &report.outcome) {
        eprintln!("error: ci failed: {message}");
        return Ok(false);
    }
    writeln!(
        out,
        "(cargo deny check advisories is not part of ci: it needs the network; run it where github is reachable)\n"
    )?;
    let reports = ci::run(&root, tests, &mut out)?;
    if let Some(ci::Outcome::Failed(message)) = reports.last().map(|report| &report.outcome) {
        eprintln!("error: ci failed: {message}");
        return Ok(false);
    }
    Ok(true)
}

fn run_tidy() -> Result<bool> {
    let mut out = std::io::stdout().lock();
    let ok = tidy::run(&workspace_root(), &mut out)?;
    out.flush()?;
    if ok {
        println!("tidy passed");
    } else {
        eprintln!("error: tidy failed");
    }
    Ok(ok)
}

fn run_e2e(flags: &[&str]) -> Result<bool> {
    let options = e2e::Options::parse(flags)?;
    let nextest = ci::Tools::detect().nextest;
    let reports = e2e::run(
        &workspace_root(),
        options,
        nextest,
        &mut std::io::stdout().lock(),
    )?;
    println!("\ne2e summary:\n{}", e2e::summary(&reports));
    let ok = e2e::passed(&reports);
    if ok {
        println!("e2e passed");
    } else {
        eprintln!("error: e2e failed");
    }
    Ok(ok)
}
