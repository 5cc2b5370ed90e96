//! `anvil-bench floor --upstream http://HOST:PORT [--port 0]`: serves the floor, prints
//! `listening on http://HOST:PORT`, runs until SIGTERM, SIGINT or the end of its standard input.
//!
//! `anvil-bench run --root DIR --direct URL --floor URL --anvil URL --anvil-pid PID
//! --floor-pid PID --out FILE [--markdown FILE] [--verify-note TEXT] [--only ID,ID…] [--quick]`:
//! runs every scenario (or those whose id starts with one of `--only`'s), prints the tables and
//! writes the JSON report (and the Markdown tables).
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;

use anvil_bench::load::Target;
use anvil_bench::{floor, suite};
use anyhow::{bail, Context, Result};
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;
use tokio::signal::unix::{signal, SignalKind};

const USAGE: &str = "usage:
  anvil-bench floor --upstream http://HOST:PORT [--port 0]
  anvil-bench run --root DIR --direct URL --floor URL --anvil URL --anvil-pid PID --floor-pid PID
                  --out FILE [--markdown FILE] [--verify-note TEXT] [--only ID,ID…] [--quick]";

/// `--name value` pairs and bare `--flag`s.
fn options(args: &[String], flags: &[&str]) -> Result<HashMap<String, String>> {
    let mut out = HashMap::new();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let Some(name) = arg.strip_prefix("--") else {
            bail!("unexpected argument {arg}\n{USAGE}");
        };
        if flags.contains(&name) {
            out.insert(name.to_owned(), String::new());
        } else {
            let value = args
                .next()
                .with_context(|| format!("--{name} needs a value"))?;
            out.insert(name.to_owned(), value.clone());
        }
    }
    Ok(out)
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("floor") => floor_main(&options(&args[1..], &[])?),
        Some("run") => run_main(&options(&args[1..], &["quick"])?),
        _ => {
            eprintln!("{USAGE}");
            std::process::exit(2);
        }
    }
}

fn floor_main(options: &HashMap<String, String>) -> Result<()> {
    let upstream =
        floor::Upstream::parse(options.get("upstream").context("--upstream is required")?)?;
    let port: u16 = options
        .get("port")
        .map_or(Ok(0), |p| p.parse())
        .context("--port must be a port number")?;
    // Like the router: tokio's multi-thread runtime, one worker per CPU.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let served = runtime.block_on(async move {
        let listener = TcpListener::bind(("127.0.0.1", port)).await?;
        let mut sigterm = signal(SignalKind::terminate())?;
        let mut sigint = signal(SignalKind::interrupt())?;
        println!("listening on http://{}", listener.local_addr()?);
        std::io::stdout().flush()?;
        let mut stdin = tokio::io::stdin();
        let mut sink = [0u8; 64];
        tokio::select! {
            () = floor::serve(listener, upstream) => {}
            _ = sigterm.recv() => {}
            _ = sigint.recv() => {}
            _ = async { while stdin.read(&mut sink).await.is_ok_and(|n| n > 0) {} } => {}
        }
        Ok(())
    });
    // The stdin reader is a blocking thread that may never return: do not wait for it.
    runtime.shutdown_background();
    served
}

fn run_main(options: &HashMap<String, String>) -> Result<()> {
    let get = |name: &str| {
        options
            .get(name)
            .with_context(|| format!("--{name} is required\n{USAGE}"))
    };
    let pid = |name: &str| -> Result<u32> {
        get(name)?
            .parse()
            .with_context(|| format!("--{name} must be a process id"))
    };
    let setup = suite::Setup {
        direct: Target::parse("direct", get("direct")?)?,
        floor: Target::parse("floor", get("floor")?)?,
        anvil: Target::parse("anvil", get("anvil")?)?,
        anvil_pid: pid("anvil-pid")?,
        floor_pid: pid("floor-pid")?,
        quick: options.contains_key("quick"),
        verify_note: options.get("verify-note").cloned().unwrap_or_default(),
        only: options
            .get("only")
            .map(|only| only.split(',').map(str::to_owned).collect())
            .unwrap_or_default(),
    };
    let root = PathBuf::from(get("root")?);
    let out = PathBuf::from(get("out")?);
    // One thread drives all the load: the load generator takes at most one CPU of the machine.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let report = runtime.block_on(suite::run(&root, &setup, &mut |line| {
        println!("==> {line}");
        let _ = std::io::stdout().flush();
    }))?;
    let markdown = suite::markdown(&report);
    println!("\n{markdown}");
    if let Some(parent) = out.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(&out, serde_json::to_string_pretty(&report)?)
        .with_context(|| format!("cannot write {}", out.display()))?;
    if let Some(path) = options.get("markdown") {
        std::fs::write(path, &markdown).with_context(|| format!("cannot write {path}"))?;
    }
    println!("report: {}", out.display());
    Ok(())
}
