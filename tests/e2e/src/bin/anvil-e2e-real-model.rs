//! `anvil-e2e-real-model --base-url URL --model NAME [--context-limit N]`: starts `anvil-router`
//! with one local `openai` tier at `URL` serving `NAME` (the `chat` preset) and runs
//! [`anvil_e2e::scenario::real_model_smoke`] through it: every inbound dialect, whole and streamed,
//! must get a non-empty answer carrying the model server's own usage numbers. Prints one line per answer; exits 1 on the first failure, with the
//! router's output. `cargo xtask e2e` runs it against llama-server.
#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a command line tool: the answers and the failure are its output"
)]

use std::process::ExitCode;

use anvil_e2e::config::single_tier_config;
use anvil_e2e::scenario::real_model_smoke;
use anvil_e2e::stack::TempDir;
use anvil_e2e::{Knobs, Router};
use anyhow::{bail, Context, Result};

struct Args {
    base_url: String,
    model: String,
    context_limit: u32,
}

fn parse(args: &[String]) -> Result<Args> {
    let mut base_url = None;
    let mut model = None;
    let mut context_limit = 8192;
    let mut rest = args.iter();
    while let Some(flag) = rest.next() {
        let value = rest
            .next()
            .with_context(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--base-url" => base_url = Some(value.clone()),
            "--model" => model = Some(value.clone()),
            "--context-limit" => context_limit = value.parse().context("--context-limit")?,
            other => bail!("unknown flag {other}"),
        }
    }
    Ok(Args {
        base_url: base_url.context("--base-url is required")?,
        model: model.context("--model is required")?,
        context_limit,
    })
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args = match parse(&args) {
        Ok(args) => args,
        Err(error) => {
            eprintln!("anvil-e2e-real-model: {error:#}\nusage: anvil-e2e-real-model --base-url URL --model NAME [--context-limit N]");
            return ExitCode::from(2);
        }
    };
    // CPU inference of a small model: generous deadlines.
    let knobs = Knobs {
        first_byte_s: 120.0,
        idle_s: 60.0,
        total_s: 300.0,
        ..Knobs::default()
    };
    let run = async {
        let dir = TempDir::new("anvil-e2e-real")?;
        let config = dir.path().join("router.toml");
        std::fs::write(
            &config,
            single_tier_config(&args.base_url, &args.model, args.context_limit, &knobs),
        )?;
        let router = Router::start(&config, &knobs)?;
        let result = real_model_smoke(router.url(), &args.base_url, &args.model).await;
        Ok::<_, anyhow::Error>((result, router.logs()))
    };
    match run.await {
        Ok((Ok(lines), _)) => {
            for line in lines {
                println!("{line}");
            }
            ExitCode::SUCCESS
        }
        Ok((Err(error), logs)) => {
            eprintln!("anvil-e2e-real-model: {error:#}\n--- router output ---\n{logs}");
            ExitCode::FAILURE
        }
        Err(error) => {
            eprintln!("anvil-e2e-real-model: {error:#}");
            ExitCode::FAILURE
        }
    }
}
