//! `anvil-router`: the router daemon.
//!
//! `anvil-router check --config FILE` validates a configuration file: exit 0 with a one-line
//! summary on stdout, or every error as `FILE:LINE:COL: dotted.key: message` on stderr and exit 2.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

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
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Check { config } => check(&config),
    }
}

fn check(path: &Path) -> ExitCode {
    let shown = path.display();
    let src = match std::fs::read_to_string(path) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("anvil-router check: cannot read config file {shown}: {e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    match anvil_config::parse(&src) {
        Ok(cfg) => {
            for w in &cfg.warnings {
                eprintln!(
                    "{shown}:{}:{}: {}: warning: {}",
                    w.line, w.column, w.key, w.message
                );
            }
            let r = &cfg.router;
            let tiers: Vec<String> = r
                .tiers
                .iter()
                .map(|t| format!("{} ({})", t.id, t.privacy))
                .collect();
            let presets: Vec<&str> = r.presets.iter().map(|p| p.name.as_str()).collect();
            let metered: Vec<&str> = r.metered_cloud.iter().map(|w| w.as_str()).collect();
            println!(
                "{shown}: ok: {} tier(s): {}; {} preset(s): {}; metered cloud: {}",
                tiers.len(),
                tiers.join(", "),
                presets.len(),
                if presets.is_empty() {
                    "-".to_owned()
                } else {
                    presets.join(", ")
                },
                if metered.is_empty() {
                    "none".to_owned()
                } else {
                    metered.join(", ")
                },
            );
            ExitCode::SUCCESS
        }
        Err(errors) => {
            for e in &errors {
                eprintln!("{shown}:{e}");
            }
            eprintln!("anvil-router check: {shown}: {} error(s)", errors.len());
            ExitCode::from(EXIT_CONFIG)
        }
    }
}
