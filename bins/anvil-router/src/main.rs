//! `anvil-router`: the router daemon.
//!
//! `anvil-router check --config FILE` validates a configuration file: exit 0 with a one-line
//! summary on stdout, or every error as `FILE:LINE:COL: dotted.key: message` on stderr and exit 2.
//!
//! `anvil-router serve --config FILE [--host H] [--port P]` runs the router; once bound it prints
//! `listening on http://HOST:PORT` on stdout. SIGINT/SIGTERM drain in-flight requests, then exit 0.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

// Every request allocates and frees many small, short-lived buffers across the runtime's worker
// threads. With mimalloc the router answered ~10 % more 2 KB requests per second at saturation
// than with glibc malloc, and keeps more memory for reuse (idle 21 MiB instead of 11.5, 111 MiB
// instead of 27 under saturation): the A/B is in docs/BENCHMARKS.md.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Exit status for an invalid or unreadable configuration.
const EXIT_CONFIG: u8 = 2;

#[derive(Debug, Parser)]
#[command(
    name = "anvil-router",
    version,
    about = "a quality-gated router for coding-agent traffic"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Validate a configuration file and report every problem in it
    Check {
        /// The TOML configuration file
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
    },
    /// Run the router
    Serve {
        /// The TOML configuration file
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        /// Address to bind (default: the config's router.listen.host, else 127.0.0.1)
        #[arg(long)]
        host: Option<String>,
        /// Port to bind; 0 picks a free one (default: the config's router.listen.port, else 8000)
        #[arg(long)]
        port: Option<u16>,
    },
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Check { config } => check(&config),
        Command::Serve { config, host, port } => serve(&config, host, port),
    }
}

fn serve(path: &Path, host: Option<String>, port: Option<u16>) -> ExitCode {
    let shown = path.display();
    let config = match std::fs::read_to_string(path) {
        Ok(src) => match anvil_config::parse(&src) {
            Ok(config) => config,
            Err(errors) => {
                for e in &errors {
                    eprintln!("{shown}:{e}");
                }
                eprintln!("anvil-router serve: {shown}: {} error(s)", errors.len());
                return ExitCode::from(EXIT_CONFIG);
            }
        },
        Err(e) => {
            eprintln!("anvil-router serve: cannot read config file {shown}: {e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("ANVIL_LOG")
        .or_else(|_| tracing_subscriber::EnvFilter::try_from_env("RUST_LOG"))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false);
    // `ANVIL_LOG_FORMAT=json`: one JSON object per line, for log shippers.
    if std::env::var("ANVIL_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json")) {
        logs.json().flatten_event(true).init();
    } else {
        logs.init();
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        // bookkeeping a request leaves for after its response (anvil_router::idle)
        .on_thread_park(anvil_router::idle::run_deferred)
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("anvil-router serve: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let host = host.unwrap_or_else(|| config.router.listen.host.clone());
    let port = port.unwrap_or(config.router.listen.port);
    let env = |name: &str| std::env::var(name).ok();
    let router = config.router.clone();
    let (state, unbound) = match anvil_router::AppState::new(config.router, &env) {
        Ok(pair) => pair,
        Err(e) => {
            eprintln!("anvil-router serve: {e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    for tier in unbound {
        tracing::warn!(tier = %tier.tier, reason = %tier.reason, "tier not bound");
    }
    let result = runtime.block_on(async move {
        let mut state = state;
        let (_refresher, log, writer) = profile_and_decisions(&mut state, &router).await;
        let _residency = state.poll_residency();
        let (listener, addr) = anvil_router::bind(&host, port).await?;
        println!("listening on http://{addr}");
        std::io::stdout().flush()?;
        let served = anvil_router::serve(state, listener, shutdown_signal()).await;
        // Flush the decision records still queued (bounded: a stuck database must not hold the
        // exit).
        drop(log);
        let _ = tokio::time::timeout(std::time::Duration::from_secs(5), writer.finished()).await;
        served
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("anvil-router serve: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Opens the profile store (the config's `database_url`, else `<data_dir>/anvil.db`), loads the
/// profile, starts its refresher and the decision-log writer. A store that cannot be opened (a
/// read-only or full disk, an unreachable Postgres) is logged and the router serves on the seed
/// profile; decision records then go only to the JSONL file, if one is configured.
async fn profile_and_decisions(
    state: &mut anvil_router::AppState,
    router: &anvil_config::RouterConfig,
) -> (
    Option<anvil_profile_store::Refresher>,
    anvil_profile_store::DecisionLog,
    anvil_profile_store::DecisionLogWriter,
) {
    let home = std::env::var("HOME").ok();
    let expand = |path: &str| match (path.strip_prefix("~/"), &home) {
        (Some(rest), Some(home)) => format!("{home}/{rest}"),
        _ => path.to_owned(),
    };
    let location = router.database_url.as_deref().map_or_else(
        || {
            anvil_profile_store::default_db_path(&router.data_dir, home.as_deref())
                .to_string_lossy()
                .into_owned()
        },
        expand,
    );
    let store = match anvil_profile_store::Store::open(&location).await {
        Ok(store) => Some(store),
        Err(e) => {
            tracing::error!(error = %e, "profile store unavailable: serving on the seed profile, decision records are not stored");
            None
        }
    };
    let shared = state.profile_handle();
    let refresher = match &store {
        Some(store) => {
            match store.snapshot().await {
                Ok(snapshot) => shared.replace(snapshot),
                Err(e) => tracing::warn!(error = %e, "profile not loaded; using the seed profile"),
            }
            Some(anvil_profile_store::Refresher::spawn(
                store.clone(),
                shared,
                router.profile_refresh,
            ))
        }
        None => None,
    };
    let (log, writer) = anvil_profile_store::DecisionLog::spawn(
        store,
        anvil_profile_store::DecisionLogConfig {
            jsonl: router
                .decision_log_jsonl
                .as_deref()
                .map(|p| expand(p).into()),
            keep_prompt: router.decision_log_prompts,
            ..Default::default()
        },
    );
    state.set_decision_log(log.clone());
    (refresher, log, writer)
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = interrupt => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = interrupt.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}

fn check(path: &Path) -> ExitCode {
    let shown = path.display().to_string();
    let src = match std::fs::read_to_string(path) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("anvil-router check: cannot read config file {shown}: {e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let report = anvil_config::check("anvil-router check", &shown, &src);
    for line in &report.stderr {
        eprintln!("{line}");
    }
    for line in &report.stdout {
        println!("{line}");
    }
    if report.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_CONFIG)
    }
}
