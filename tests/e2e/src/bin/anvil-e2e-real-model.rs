//! `anvil-e2e-real-model --base-url URL --model NAME [--context-limit N] [--then CMD ARGS...]`:
//! starts `anvil-router`
//! with one local `openai` tier at `URL` serving `NAME` (the `chat` preset) and runs
//! [`anvil_e2e::scenario::real_model_smoke`] through it: every inbound dialect, whole and streamed,
//! must get a non-empty answer carrying the model server's own usage numbers. Prints one line per answer; exits 1 on the first failure, with the
//! router's output. With `--then`, CMD then runs against the same router, with `ANVIL_URL` (the router)
//! and `ANVIL_PROMPT_TOKENS` (the model server's own count of the smoke prompt) in its environment,
//! and its exit status decides. `cargo xtask e2e` runs it against llama-server, with the official
//! SDK tests of `tests/sdk_real` as CMD.
#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a command line tool: the answers and the failure are its output"
)]

use std::process::ExitCode;

use anvil_e2e::config::single_tier_config;
use anvil_e2e::scenario::{direct_prompt_tokens, real_model_smoke};
use anvil_e2e::stack::TempDir;
use anvil_e2e::{Knobs, Router};
use anyhow::{bail, Context, Result};

struct Args {
    base_url: String,
    model: String,
    context_limit: u32,
    then: Vec<String>,
}

fn parse(args: &[String]) -> Result<Args> {
    let mut base_url = None;
    let mut model = None;
    let mut context_limit = 8192;
    let mut then = Vec::new();
    let mut rest = args.iter();
    while let Some(flag) = rest.next() {
        if flag == "--then" {
            then = rest.by_ref().cloned().collect();
            break;
        }
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
        then,
    })
}

/// Runs `command` with the router's URL and the prompt's token count in its environment.
fn run_then(command: &[String], router_url: &str, prompt_tokens: u64) -> Result<()> {
    let Some((program, args)) = command.split_first() else {
        bail!("--then needs a command");
    };
    let status = std::process::Command::new(program)
        .args(args)
        .env("ANVIL_URL", router_url)
        .env("ANVIL_PROMPT_TOKENS", prompt_tokens.to_string())
        .status()
        .with_context(|| format!("cannot run {program}"))?;
    if !status.success() {
        bail!("{} failed ({status})", command.join(" "));
    }
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args = match parse(&args) {
        Ok(args) => args,
        Err(error) => {
            eprintln!("anvil-e2e-real-model: {error:#}\nusage: anvil-e2e-real-model --base-url URL --model NAME [--context-limit N] [--then CMD ARGS...]");
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
        let mut result = real_model_smoke(router.url(), &args.base_url, &args.model).await;
        if result.is_ok() && !args.then.is_empty() {
            let then = async {
                let tokens = direct_prompt_tokens(&args.base_url, &args.model).await?;
                run_then(&args.then, router.url(), tokens)
            };
            if let Err(error) = then.await {
                result = Err(error);
            }
        }
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
