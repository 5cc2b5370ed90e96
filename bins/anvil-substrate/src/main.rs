//! `anvil-substrate`: anvil's operator tool.
//!
//! * `anvil-substrate config check FILE` validates a configuration file exactly like
//!   `anvil-router check`: exit 0 with a one-line summary, or every error as
//!   `FILE:LINE:COL: dotted.key: message` on stderr and exit 2.
//! * `anvil-substrate quality show|set|import|export --config FILE [--db URL]` reads and edits the
//!   quality profile the router routes by (the router picks changes up within its refresh interval).
//! * `anvil-substrate decisions tail|stats --config FILE [--db URL] [-n N]` reads the decision log.
//! * `profile`, `models sync`, `deploy`, `preflight`, `benchmark`, `eval`, `score`, `cache-prune`:
//!   the substrate verbs that size, deploy and check local serves, one module each (see each
//!   module's docs and each verb's `--help`).
//!
//! The database is the router's: `--db` (a SQLite path or a `postgres://` URL), else the config's
//! `router.database_url`, else `anvil.db` in its `router.data_dir` (`~` expanded with `$HOME`).
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anvil_config::{Config, Privacy, WorkClass};
use anvil_policy::profile::{Decision, ProfileEntry};
use anvil_profile_store::{default_db_path, DecisionRecord, Store};
use clap::{Args, Parser, Subcommand};

mod benchmark;
mod cache_prune;
mod deploy;
mod endpoint;
mod eval;
mod http;
mod models;
mod preflight;
mod profile;
mod score;
mod stats;

/// Exit status for an invalid or unreadable configuration or bad arguments.
const EXIT_USAGE: u8 = 2;
/// Exit status for a store failure.
const EXIT_STORE: u8 = 1;

#[derive(Debug, Parser)]
#[command(name = "anvil-substrate", version, about = "anvil's operator tool")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Configuration files
    #[command(subcommand)]
    Config(ConfigCommand),
    /// The quality profile: per tier and work class, a decision and a score
    #[command(subcommand)]
    Quality(QualityCommand),
    /// The decision log: one record per routed request
    #[command(subcommand)]
    Decisions(DecisionsCommand),
    /// Usage baseline from Claude Code transcripts (context, output, concurrency, roles)
    Profile(profile::ProfileArgs),
    /// The local model catalog (HF caches and model folders)
    #[command(subcommand)]
    Models(models::ModelsCommand),
    /// Render a tuned docker-compose file for SGLang or vLLM
    Deploy(deploy::DeployArgs),
    /// Correctness gate for an OpenAI-compatible endpoint (pass/fail table)
    Preflight(preflight::PreflightArgs),
    /// Replay a request-size distribution against an endpoint (TTFT, throughput, prefix cache)
    Benchmark(benchmark::BenchmarkArgs),
    /// Shadow evals: run prompts against tiers, record judge grades, bootstrap quality rows
    #[command(subcommand)]
    Eval(eval::EvalCommand),
    /// Rank local models for roles from published benchmark numbers
    Score(score::ScoreArgs),
    /// Plan (and with --execute perform) a Hugging Face cache cleanup
    CachePrune(cache_prune::CachePruneArgs),
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Validate a configuration file and report every problem in it
    #[command(
        after_help = "Example:\n  anvil-substrate config check configs/example.toml\n  # exit 0 with a one-line summary, or FILE:LINE:COL: key: message lines and exit 2"
    )]
    Check {
        /// The TOML configuration file
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
}

#[derive(Debug, Args)]
struct StoreArgs {
    /// The TOML configuration file
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    /// The database: a SQLite file path or a postgres:// URL (default: anvil.db in router.data_dir)
    #[arg(long, value_name = "URL")]
    db: Option<String>,
}

#[derive(Debug, Subcommand)]
enum QualityCommand {
    /// Show the profile as a table: tiers × work classes, decision and score
    #[command(
        after_help = "Example:\n  anvil-substrate quality show --config anvil.toml\n  # tier         chat           planning       ...\n  # fast-local   allow 0.90 *   deny 0.64 *    ..."
    )]
    Show {
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Set the decision (and optionally the score) of one tier for one work class
    #[command(
        after_help = "Example:\n  anvil-substrate quality set fast-local review allow-with-verify --score 0.7 --config anvil.toml\n  # fast-local review: allow-with-verify 0.70 (stored)"
    )]
    Set {
        /// Tier id (declared in the config)
        tier: String,
        /// Work class: chat, bounded-edit, multi-file-refactor, planning, review, long-context
        work_class: String,
        /// Decision: allow, allow-with-verify or deny
        decision: String,
        /// Quality score in 0..=1
        #[arg(long)]
        score: Option<f64>,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Import a profile.json (anvil-serving 0.4.0 bootstrap format)
    #[command(
        after_help = "Example:\n  anvil-substrate eval bootstrap --eval-data evals --out profile.json\n  anvil-substrate quality import profile.json --config anvil.toml\n  # imported 3 entries from profile.json"
    )]
    Import {
        /// The profile.json file
        path: PathBuf,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Export the stored profile as profile.json
    #[command(
        after_help = "Example:\n  anvil-substrate quality export --config anvil.toml --out profile.json"
    )]
    Export {
        /// Write here instead of stdout
        #[arg(long, value_name = "PATH")]
        out: Option<PathBuf>,
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(Debug, Subcommand)]
enum DecisionsCommand {
    /// The latest decision records, oldest first
    #[command(
        after_help = "Example:\n  anvil-substrate decisions tail -n 5 --config anvil.toml\n  anvil-substrate decisions tail --json --config anvil.toml | jq .served_tier"
    )]
    Tail {
        /// How many records
        #[arg(short = 'n', long = "lines", default_value_t = 20)]
        n: u32,
        /// Print each record as one JSON line
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Per work class: record count, tiers used, mean confidence
    #[command(
        after_help = "Example:\n  anvil-substrate decisions stats --config anvil.toml\n  # work_class  count  confidence  tiers\n  # planning    12     0.91        cloud=12"
    )]
    Stats {
        #[command(flatten)]
        store: StoreArgs,
    },
}

/// A failure with its exit status; the message is printed on stderr.
struct Failure(u8, String);

/// Ends a substrate verb: its status, or its error on stderr with status 1.
fn finish(verb: &str, result: anyhow::Result<u8>) -> ExitCode {
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("anvil-substrate {verb}: {e:#}");
            ExitCode::from(EXIT_STORE)
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let command = match cli.command {
        Command::Config(ConfigCommand::Check { file }) => return check(&file),
        Command::Profile(a) => return finish("profile", profile::run(a)),
        Command::Models(c) => return finish("models", models::run(c)),
        Command::Deploy(a) => return finish("deploy", deploy::run(a)),
        Command::Preflight(a) => return finish("preflight", preflight::run(a)),
        Command::Benchmark(a) => return finish("benchmark", benchmark::run(a)),
        Command::Eval(c) => return finish("eval", eval::run(c)),
        Command::Score(a) => return finish("score", score::run(a)),
        Command::CachePrune(a) => return finish("cache-prune", cache_prune::run(a)),
        other => other,
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("anvil-substrate: cannot start the runtime: {e}");
            return ExitCode::from(EXIT_STORE);
        }
    };
    match runtime.block_on(run(command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure(code, message)) => {
            eprintln!("anvil-substrate: {message}");
            ExitCode::from(code)
        }
    }
}

fn check(path: &Path) -> ExitCode {
    let shown = path.display().to_string();
    let src = match std::fs::read_to_string(path) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("anvil-substrate config check: cannot read config file {shown}: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    // The same check as `anvil-router check`.
    let report = anvil_config::check("anvil-substrate config check", &shown, &src);
    for line in &report.stderr {
        eprintln!("{line}");
    }
    for line in &report.stdout {
        println!("{line}");
    }
    if report.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_USAGE)
    }
}

/// Loads the config; on errors prints them like `config check` does.
fn load_config(path: &Path) -> Result<Config, Failure> {
    let shown = path.display();
    let src = std::fs::read_to_string(path)
        .map_err(|e| Failure(EXIT_USAGE, format!("cannot read config file {shown}: {e}")))?;
    anvil_config::parse(&src).map_err(|errors| {
        for e in &errors {
            eprintln!("{shown}:{e}");
        }
        Failure(
            EXIT_USAGE,
            format!("{shown}: {} error(s) in the config", errors.len()),
        )
    })
}

async fn open_store(args: &StoreArgs) -> Result<(Config, Store), Failure> {
    let config = load_config(&args.config)?;
    // The same database the router uses: --db, else the config's database_url, else anvil.db in
    // its data_dir.
    let home = std::env::var("HOME").ok();
    let location = match (&args.db, &config.router.database_url) {
        (Some(url), _) => url.clone(),
        (None, Some(url)) => match (url.strip_prefix("~/"), &home) {
            (Some(rest), Some(home)) => format!("{home}/{rest}"),
            _ => url.clone(),
        },
        (None, None) => default_db_path(&config.router.data_dir, home.as_deref())
            .to_string_lossy()
            .into_owned(),
    };
    let store = Store::open(&location)
        .await
        .map_err(|e| Failure(EXIT_STORE, format!("cannot open the store {location}: {e}")))?;
    Ok((config, store))
}

fn store_failure(e: anvil_profile_store::StoreError) -> Failure {
    Failure(EXIT_STORE, e.to_string())
}

async fn run(command: Command) -> Result<(), Failure> {
    match command {
        Command::Config(ConfigCommand::Check { .. })
        | Command::Profile(_)
        | Command::Models(_)
        | Command::Deploy(_)
        | Command::Preflight(_)
        | Command::Benchmark(_)
        | Command::Eval(_)
        | Command::Score(_)
        | Command::CachePrune(_) => Ok(()),
        Command::Quality(QualityCommand::Show { store }) => {
            let (config, store) = open_store(&store).await?;
            let rows = store.rows().await.map_err(store_failure)?;
            print!("{}", render_profile(&config, &rows));
            Ok(())
        }
        Command::Quality(QualityCommand::Set {
            tier,
            work_class,
            decision,
            score,
            store,
        }) => {
            let (config, store) = open_store(&store).await?;
            if config.router.tier(&tier).is_none() {
                let ids: Vec<&str> = config.router.tiers.iter().map(|t| t.id.as_str()).collect();
                return Err(Failure(
                    EXIT_USAGE,
                    format!(
                        "unknown tier {tier:?}; the config declares: {}",
                        ids.join(", ")
                    ),
                ));
            }
            let wc = WorkClass::from_name(&work_class).ok_or_else(|| {
                let all: Vec<&str> = WorkClass::ALL.iter().map(|w| w.as_str()).collect();
                Failure(
                    EXIT_USAGE,
                    format!(
                        "unknown work class {work_class:?}; expected one of: {}",
                        all.join(", ")
                    ),
                )
            })?;
            let d = Decision::from_name(&decision).ok_or_else(|| {
                Failure(
                    EXIT_USAGE,
                    format!(
                        "unknown decision {decision:?}; expected allow, allow-with-verify or deny"
                    ),
                )
            })?;
            if let Some(s) = score {
                if !(0.0..=1.0).contains(&s) {
                    return Err(Failure(EXIT_USAGE, format!("score {s} is outside 0..=1")));
                }
            }
            let entry = store
                .set(&tier, wc, d, score)
                .await
                .map_err(store_failure)?;
            println!(
                "{tier} {wc}: {} {:.2} (stored)",
                entry.decision.as_str(),
                entry.score
            );
            Ok(())
        }
        Command::Quality(QualityCommand::Import { path, store }) => {
            let (config, store) = open_store(&store).await?;
            let text = std::fs::read_to_string(&path)
                .map_err(|e| Failure(EXIT_USAGE, format!("cannot read {}: {e}", path.display())))?;
            let n = store
                .import_profile_json(&text)
                .await
                .map_err(|e| Failure(EXIT_USAGE, format!("{}: {e}", path.display())))?;
            let mut unknown: Vec<String> = store
                .rows()
                .await
                .map_err(store_failure)?
                .into_iter()
                .filter(|r| config.router.tier(&r.tier).is_none())
                .map(|r| r.tier)
                .collect();
            unknown.dedup();
            for tier in unknown {
                eprintln!("anvil-substrate: warning: tier {tier:?} is not declared in the config");
            }
            println!("imported {n} entries from {}", path.display());
            Ok(())
        }
        Command::Quality(QualityCommand::Export { out, store }) => {
            let (_config, store) = open_store(&store).await?;
            let text = store.export_profile_json().await.map_err(store_failure)?;
            match out {
                Some(path) => std::fs::write(&path, text).map_err(|e| {
                    Failure(EXIT_STORE, format!("cannot write {}: {e}", path.display()))
                }),
                None => std::io::stdout()
                    .write_all(text.as_bytes())
                    .map_err(|e| Failure(EXIT_STORE, format!("cannot write to stdout: {e}"))),
            }
        }
        Command::Decisions(DecisionsCommand::Tail { n, json, store }) => {
            let (_config, store) = open_store(&store).await?;
            let records = store.tail(n).await.map_err(store_failure)?;
            if json {
                for r in &records {
                    let line =
                        serde_json::to_string(r).map_err(|e| Failure(EXIT_STORE, e.to_string()))?;
                    println!("{line}");
                }
            } else {
                print!("{}", render_tail(&records));
            }
            Ok(())
        }
        Command::Decisions(DecisionsCommand::Stats { store }) => {
            let (_config, store) = open_store(&store).await?;
            let stats = store.stats().await.map_err(store_failure)?;
            let mut rows = vec![vec![
                "work_class".to_owned(),
                "count".to_owned(),
                "confidence".to_owned(),
                "tiers".to_owned(),
            ]];
            for s in &stats {
                let tiers: Vec<String> = s
                    .tiers
                    .iter()
                    .map(|(t, n)| format!("{}={n}", t.as_deref().unwrap_or("(none)")))
                    .collect();
                rows.push(vec![
                    s.work_class.clone().unwrap_or_else(|| "-".to_owned()),
                    s.count.to_string(),
                    format!("{:.2}", s.mean_confidence),
                    tiers.join(" "),
                ]);
            }
            print!("{}", render_table(&rows));
            Ok(())
        }
    }
}

/// Left-aligned columns separated by two spaces; trailing spaces trimmed.
fn render_table(rows: &[Vec<String>]) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            line.push_str(cell);
            let pad = widths[c].saturating_sub(cell.chars().count()) + 2;
            line.extend(std::iter::repeat_n(' ', pad));
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn cell(entry: &ProfileEntry, stored: bool) -> String {
    let mark = match (stored, entry.stale) {
        (false, _) => " seed",
        (true, false) => " *",
        (true, true) => " *stale",
    };
    format!("{} {:.2}{mark}", entry.decision.as_str(), entry.score)
}

/// The profile table: one line per tier (config order, then stored tiers the config does not
/// declare), one column per work class.
fn render_profile(config: &Config, rows: &[anvil_profile_store::StoredRow]) -> String {
    let mut header = vec!["tier".to_owned()];
    header.extend(WorkClass::ALL.iter().map(|w| w.as_str().to_owned()));
    let mut table = vec![header];
    let mut tiers: Vec<(String, bool, bool)> = config
        .router
        .tiers
        .iter()
        .map(|t| (t.id.clone(), t.privacy == Privacy::Cloud, true))
        .collect();
    for r in rows {
        if !tiers.iter().any(|(id, _, _)| *id == r.tier) {
            tiers.push((r.tier.clone(), false, false));
        }
    }
    for (tier, is_cloud, declared) in &tiers {
        let mut line = vec![if *declared {
            tier.clone()
        } else {
            format!("{tier} (not in config)")
        }];
        for wc in WorkClass::ALL {
            let stored = rows.iter().find(|r| r.tier == *tier && r.work_class == wc);
            line.push(match stored {
                Some(r) => cell(&r.entry, true),
                None => cell(
                    &anvil_policy::profile::seed_entry(tier, wc, *is_cloud),
                    false,
                ),
            });
        }
        table.push(line);
    }
    let mut out = render_table(&table);
    out.push_str(
        "\n* stored row   seed: never measured, 0.4.0 seed table   stale: serve changed since \
         measured (allow acts as allow-with-verify)\n",
    );
    out
}

fn render_tail(records: &[DecisionRecord]) -> String {
    let mut rows = vec![[
        "time (utc)",
        "request_id",
        "intent",
        "work_class",
        "conf",
        "served",
        "status",
        "attempts",
        "latency_ms",
        "tokens_in",
        "tokens_out",
        "cost_usd",
    ]
    .map(str::to_owned)
    .to_vec()];
    for r in records {
        rows.push(vec![
            anvil_profile_store::time::format_datetime(r.unix_ms.div_euclid(1000)),
            r.request_id.clone(),
            r.intent_source.clone(),
            r.work_class.clone().unwrap_or_else(|| "-".to_owned()),
            format!("{:.2}", r.confidence),
            r.served_tier.clone().unwrap_or_else(|| "-".to_owned()),
            r.status.to_string(),
            r.attempts.to_string(),
            r.latency_ms.to_string(),
            r.tokens_in.to_string(),
            r.tokens_out.to_string(),
            format!("{:.6}", r.cost_usd),
        ]);
    }
    render_table(&rows)
}
