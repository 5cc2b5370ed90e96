//! `anvil-substrate multiplexer --config FILE [--host H] [--port P] [--check]`: one GPU, one
//! resident model, swapped on demand behind one OpenAI-compatible endpoint (see the
//! `anvil-multiplexer` crate and `docs/MULTIPLEXER.md`).
//!
//! Prints `listening on http://HOST:PORT` once bound. SIGTERM or SIGINT: stop accepting, give open
//! requests a few seconds, stop the resident engine (SIGTERM to its process group, SIGKILL after
//! its grace period) and exit 0. `--check` validates the file and exits (0, or 2 with every error).

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use anvil_multiplexer::{Multiplexer, ProcessBackend};
use clap::Args;
use tokio::signal::unix::{signal, SignalKind};

use crate::{Failure, EXIT_STORE, EXIT_USAGE};

/// How long open requests get once a shutdown signal arrives.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Arguments of `anvil-substrate multiplexer`.
#[derive(Debug, Args)]
pub struct MultiplexerArgs {
    /// The multiplexer's TOML file (a [multiplexer] table and its [[multiplexer.engines]])
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    /// Address to bind (default: the file's multiplexer.host, else 127.0.0.1)
    #[arg(long)]
    host: Option<String>,
    /// Port to bind; 0 picks a free one (default: the file's multiplexer.port, else 8100)
    #[arg(long)]
    port: Option<u16>,
    /// Only validate the file
    #[arg(long)]
    check: bool,
}

/// Runs the multiplexer until SIGTERM or SIGINT.
pub async fn run(args: MultiplexerArgs) -> Result<(), Failure> {
    let shown = args.config.display().to_string();
    let src = std::fs::read_to_string(&args.config)
        .map_err(|e| Failure(EXIT_USAGE, format!("cannot read config file {shown}: {e}")))?;
    let config = anvil_multiplexer::parse(&src).map_err(|errors| {
        for e in &errors {
            eprintln!("{shown}:{e}");
        }
        Failure(
            EXIT_USAGE,
            format!(
                "{shown}: {} error(s) in the multiplexer config",
                errors.len()
            ),
        )
    })?;
    if args.check {
        let names: Vec<&str> = config.engines.iter().map(|e| e.name.as_str()).collect();
        println!(
            "{shown}: ok ({} engines: {})",
            names.len(),
            names.join(", ")
        );
        return Ok(());
    }
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .try_init();

    let host = args
        .host
        .or(config.host.clone())
        .unwrap_or_else(|| "127.0.0.1".to_owned());
    let port = args
        .port
        .or(config.port)
        .unwrap_or(anvil_multiplexer::config::DEFAULT_PORT);
    let listener = tokio::net::TcpListener::bind((host.as_str(), port))
        .await
        .map_err(|e| Failure(EXIT_STORE, format!("cannot bind {host}:{port}: {e}")))?;
    let addr = listener
        .local_addr()
        .map_err(|e| Failure(EXIT_STORE, format!("cannot read the bound address: {e}")))?;
    let failure = |e: std::io::Error| Failure(EXIT_STORE, format!("cannot watch signals: {e}"));
    let mut sigterm = signal(SignalKind::terminate()).map_err(failure)?;
    let mut sigint = signal(SignalKind::interrupt()).map_err(failure)?;

    let mux = Multiplexer::new(ProcessBackend::new(), config.engines, config.settings);
    println!("listening on http://{addr}");
    let _ = std::io::stdout().flush();
    if let Some(model) = config.preload {
        let mux = mux.clone();
        tokio::spawn(async move {
            if let Err(e) = mux.swap_to(&model).await {
                tracing::error!(%model, error = %e, "preload failed");
            }
        });
    }
    let stop = {
        let mux = mux.clone();
        async move {
            tokio::select! {
                _ = sigterm.recv() => {}
                _ = sigint.recv() => {}
            }
            // Requests waiting for a swap are answered now; streams in flight get the grace.
            mux.close();
        }
    };
    anvil_multiplexer::server::serve(mux.clone(), listener, stop, SHUTDOWN_GRACE).await;
    mux.shutdown().await;
    Ok(())
}
