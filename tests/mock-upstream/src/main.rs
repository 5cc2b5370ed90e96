//! `anvil-mock-upstream [--host 127.0.0.1] [--port 0] [--persona NAME] [--no-log]`: binds, prints
//! `listening on http://HOST:PORT` and serves the mock until SIGTERM or SIGINT. `--no-log` keeps no
//! request or event log (benchmarks).
//!
//! As a fake model engine (the multiplexer's tests): `--start-delay-ms N` waits N ms before
//! binding (a slow model load), `--crash-on-start` then exits with status 3 instead of serving.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io::Write;

use anvil_mock_upstream::{serve, MockState, Persona};
use anyhow::{bail, Context};
use tokio::net::TcpListener;
use tokio::signal::unix::{signal, SignalKind};

/// Fake-engine start-up: delay before binding, and whether to crash instead of serving.
#[derive(Default)]
struct Startup {
    delay_ms: u64,
    crash: bool,
}

fn parse_args() -> anyhow::Result<(String, u16, Option<Persona>, Startup, bool)> {
    let mut host = "127.0.0.1".to_owned();
    let mut port = 0u16;
    let mut persona = None;
    let mut startup = Startup::default();
    let mut no_log = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) => (n.to_owned(), Some(v.to_owned())),
            None => (arg.clone(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| args.next())
                .with_context(|| format!("{name} needs a value"))
        };
        match name.as_str() {
            "--host" => host = value()?,
            "--port" => port = value()?.parse().context("--port must be a port number")?,
            "--persona" => {
                let name = value()?;
                let names: Vec<&str> = Persona::ALL.iter().map(|(n, _)| *n).collect();
                persona = Some(Persona::from_name(&name).with_context(|| {
                    format!(
                        "unknown persona {name}; expected one of {}",
                        names.join(", ")
                    )
                })?);
            }
            "--start-delay-ms" => {
                startup.delay_ms = value()?.parse().context("--start-delay-ms must be ms")?;
            }
            "--crash-on-start" => startup.crash = true,
            "--no-log" => no_log = true,
            "-h" | "--help" => {
                println!(
                    "usage: anvil-mock-upstream [--host 127.0.0.1] [--port 0] \
                     [--persona NAME] [--start-delay-ms N] [--crash-on-start] [--no-log]"
                );
                std::process::exit(0);
            }
            other => bail!("unknown argument {other}"),
        }
    }
    Ok((host, port, persona, startup, no_log))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let (host, port, persona, startup, no_log) = parse_args()?;
    let mut state = persona.map_or_else(MockState::new, MockState::with_persona);
    if no_log {
        state = state.without_logs();
    }
    if startup.delay_ms > 0 || startup.crash {
        let mut sigterm = signal(SignalKind::terminate())?;
        tokio::select! {
            () = tokio::time::sleep(std::time::Duration::from_millis(startup.delay_ms)) => {}
            _ = sigterm.recv() => return Ok(()),
        }
        if startup.crash {
            eprintln!("anvil-mock-upstream: crashing on start as asked (--crash-on-start)");
            std::process::exit(3);
        }
    }
    let listener = TcpListener::bind((host.as_str(), port))
        .await
        .with_context(|| format!("cannot bind {host}:{port}"))?;
    let addr = listener.local_addr()?;
    // handlers first: a SIGTERM right after the readiness line must still exit cleanly
    let mut sigterm = signal(SignalKind::terminate())?;
    let mut sigint = signal(SignalKind::interrupt())?;
    println!("listening on http://{addr}");
    std::io::stdout().flush()?;
    tokio::select! {
        () = serve(listener, state) => {}
        _ = sigint.recv() => {}
        _ = sigterm.recv() => {}
    }
    Ok(())
}
