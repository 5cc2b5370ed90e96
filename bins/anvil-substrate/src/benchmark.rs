//! `anvil-substrate benchmark`: replay a request-size distribution against a streaming endpoint.
//!
//! The endpoint is `--base-url`/`--model`, or `--config`/`--tier` (see [`crate::endpoint`]).
//! Request sizes come from, in order: `--ctx-tokens` (one fixed size), `--profile` (the context
//! histogram of `profile`'s `role_split.json` — subagent calls, else main — or of
//! `usage_aggregate.json`), else the built-in 0.4.0 mix (21.8 % 32K, 38.4 % 64K, 30.4 % 128K,
//! 9.4 % 256K). Request `i` of `n` takes the size at quantile `(i + 0.5) / n` of that distribution
//! (each bucket's upper bound; the open top bucket counts as twice the last bound), so the replay
//! has the measured shape exactly; the order is then shuffled with `--seed`. Sizes are capped at
//! the serve's window minus `--max-tokens` and `--margin` (`--max-model-len`, else
//! `GET <base>/models`).
//!
//! Prompts (substrate reference §5.3, sized in characters rather than words: 0.4.0's word budget
//! made code-like prompts about twice their target): a shared prefix of about
//! `--shared-prefix-tokens`, then unique filler up to about 4 characters per token of the size,
//! then `# request <i>: summarize the above in one line.`; `--burst N` sends N requests at once,
//! all with request index 0 (same prompt: the prefix-cache test).
//!
//! Measures per request TTFT (first content or reasoning delta), end-to-end time, output tokens
//! (`usage.completion_tokens`, else the number of deltas) and the prefix-cache hit
//! (`usage.prompt_tokens_details.cached_tokens / prompt_tokens`). Reports p50/p90/p95/p99 (the
//! interpolation of [`crate::stats`]), aggregate output tok/s, a TTFT histogram, and with `--json`
//! a JSON report. Exit 1 when no request completed (endpoint unreachable or failing), else 0; the
//! failures are counted and the first few errors printed.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use futures::StreamExt;
use http::Method;
use serde_json::{json, Value};

use crate::http::{join, Client, SseReader};
use crate::stats::{histogram, pct_f, Bar};

const EXAMPLE: &str = "Examples:
  anvil-substrate benchmark --base-url http://127.0.0.1:30000/v1 --model local-specialist \\
      --profile ./usage/role_split.json --requests 60 --concurrency 20 --json bench.json
  # completed:        60/60 in 41.2s
  # TTFT  p50/p90/p95/p99:  0.81s / 2.40s / 3.10s / 3.90s
  # throughput:       412 output tok/s (aggregate)
  # prefix-cache hit: 71.3% avg cached prompt tokens (KEY KPI)
  anvil-substrate benchmark --base-url http://127.0.0.1:30000/v1 --model local-specialist --burst 16
  anvil-substrate benchmark --config anvil.toml --tier heavy-local --requests 20";

/// The built-in size mix: (context tokens, weight).
const BUILT_IN: [(u64, f64); 4] = [
    (32_768, 0.218),
    (65_536, 0.384),
    (131_072, 0.304),
    (262_144, 0.094),
];

/// Flags of `anvil-substrate benchmark`.
#[derive(Debug, Args)]
#[command(after_help = EXAMPLE)]
pub struct BenchmarkArgs {
    #[command(flatten)]
    endpoint: crate::endpoint::Endpoint,
    /// Requests in mixed mode
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u32).range(1..))]
    requests: u32,
    /// Requests in flight at once in mixed mode
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..))]
    concurrency: u32,
    /// Burst mode: N identical requests at once (0 = mixed mode)
    #[arg(long, default_value_t = 0)]
    burst: u32,
    /// Tokens of the prefix every prompt shares
    #[arg(long, default_value_t = 8000)]
    shared_prefix_tokens: u64,
    /// Fixed prompt size in tokens (0 = the distribution)
    #[arg(long, default_value_t = 0)]
    ctx_tokens: u64,
    /// profile output (role_split.json or usage_aggregate.json) to take the size distribution from
    #[arg(long, value_name = "FILE")]
    profile: Option<PathBuf>,
    /// Output tokens per request
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..))]
    max_tokens: u64,
    /// The serve's context window (0 = ask GET <base>/models)
    #[arg(long, default_value_t = 0)]
    max_model_len: u64,
    /// Tokens kept free below the window
    #[arg(long, default_value_t = 1024)]
    margin: u64,
    /// Send chat_template_kwargs {enable_thinking: false}
    #[arg(long)]
    no_thinking: bool,
    /// Seed of the request order shuffle
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Seconds each request may take
    #[arg(long, default_value_t = 900, value_parser = clap::value_parser!(u64).range(1..))]
    timeout_s: u64,
    /// Also write the report as JSON to FILE
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
}

/// The size distribution of a `profile` output file.
fn profile_mix(path: &PathBuf) -> anyhow::Result<Vec<(u64, f64)>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let doc: Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))?;
    let hist = [
        "/by_role/subagent/ctx_histogram",
        "/by_role/main/ctx_histogram",
        "/context_histogram",
    ]
    .iter()
    .find_map(|p| doc.pointer(p).and_then(Value::as_array))
    .with_context(|| {
        format!(
            "{} has no context histogram (run `anvil-substrate profile`)",
            path.display()
        )
    })?;
    let mut last = 0;
    let mut mix = Vec::new();
    for b in hist {
        let calls = b.get("calls").and_then(Value::as_u64).unwrap_or(0);
        let size = match b.get("le").and_then(Value::as_u64) {
            Some(le) => {
                last = le;
                le
            }
            None => last * 2,
        };
        if calls > 0 {
            mix.push((size, calls as f64));
        }
    }
    anyhow::ensure!(!mix.is_empty(), "{} records no calls", path.display());
    Ok(mix)
}

/// `n` sizes at quantiles `(i + 0.5) / n` of `mix`, shuffled with `seed`.
fn sizes(mix: &[(u64, f64)], n: usize, seed: u64) -> Vec<u64> {
    let total: f64 = mix.iter().map(|m| m.1).sum();
    let mut out: Vec<u64> = (0..n)
        .map(|i| {
            let q = (i as f64 + 0.5) / n as f64 * total;
            let mut acc = 0.0;
            for (size, w) in mix {
                acc += w;
                if q < acc {
                    return *size;
                }
            }
            mix.last().map_or(0, |m| m.0)
        })
        .collect();
    crate::stats::shuffle(&mut out, seed);
    out
}

fn filler(a: u64, b: u64) -> String {
    format!("def helper_{a}():\n    return compute({b})  # routine specialist context\n")
}

/// Characters per token assumed when sizing prompts (the filler is code-like: about 4).
const CHARS_PER_TOKEN: usize = 4;

/// The prompt of request `uniq` for a target of `ctx` tokens: the shared prefix, then unique
/// filler until the prompt holds `ctx × 4` characters, then the instruction. With a known window
/// cap, a prompt longer than `cap × 3` characters (a conservative 3 characters per token, as in
/// 0.4.0) is cut to that length, which drops the instruction but never overflows the window.
fn prompt(prefix: &str, uniq: u64, ctx: u64, cap: Option<u64>) -> String {
    let target = usize::try_from(ctx)
        .unwrap_or(usize::MAX)
        .saturating_mul(CHARS_PER_TOKEN);
    let mut body = String::new();
    let mut i = 0;
    while prefix.len() + 1 + body.len() < target {
        body.push_str(&filler(uniq + i, i));
        i += 1;
    }
    let mut p = format!("{prefix}\n{body}\n# request {uniq}: summarize the above in one line.");
    if let Some(cap) = cap {
        let limit = usize::try_from(cap).unwrap_or(usize::MAX).saturating_mul(3);
        if p.len() > limit {
            p.truncate(limit);
        }
    }
    p
}

/// One finished request.
#[derive(Debug, Default, Clone)]
struct Sample {
    ttft: f64,
    e2e: f64,
    out: u64,
    cached: Option<f64>,
}

async fn one(client: &Client, url: &str, body: Value) -> anyhow::Result<Sample> {
    let t = Instant::now();
    let resp = client.send(Method::POST, url, Some(&body)).await?;
    let mut sse = SseReader::new(resp.into_body());
    let mut first = None;
    let mut deltas = 0;
    let mut usage = Value::Null;
    let deadline = t + client.timeout();
    loop {
        let next = tokio::time::timeout_at(deadline.into(), sse.next())
            .await
            .map_err(|_| {
                anyhow::anyhow!("the stream did not finish within {:?}", client.timeout())
            })??;
        let Some(data) = next else { break };
        let Ok(chunk) = serde_json::from_str::<Value>(&data) else {
            continue;
        };
        if let Some(err) = chunk.get("error") {
            anyhow::bail!("error event: {err}");
        }
        if chunk.get("usage").is_some_and(|u| !u.is_null()) {
            usage = chunk["usage"].clone();
        }
        for choice in chunk
            .get("choices")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let d = &choice["delta"];
            let has = |k: &str| {
                d.get(k)
                    .and_then(Value::as_str)
                    .is_some_and(|s| !s.is_empty())
            };
            if has("content")
                || has("reasoning_content")
                || has("reasoning")
                || d.get("tool_calls").is_some()
            {
                deltas += 1;
                first.get_or_insert_with(|| t.elapsed().as_secs_f64());
            }
        }
    }
    let e2e = t.elapsed().as_secs_f64();
    let prompt_tokens = usage
        .get("prompt_tokens")
        .and_then(Value::as_u64)
        .unwrap_or(0);
    let cached = usage
        .pointer("/prompt_tokens_details/cached_tokens")
        .and_then(Value::as_u64)
        .filter(|_| prompt_tokens > 0)
        .map(|c| c as f64 / prompt_tokens as f64);
    Ok(Sample {
        ttft: first.unwrap_or(e2e),
        e2e,
        out: usage
            .get("completion_tokens")
            .and_then(Value::as_u64)
            .unwrap_or(deltas),
        cached,
    })
}

async fn probe_len(client: &Client, base: &str, model: &str) -> Option<u64> {
    let v = client
        .json(Method::GET, &join(base, "models"), None)
        .await
        .ok()?;
    let data = v.get("data")?.as_array()?;
    let entry = data
        .iter()
        .find(|e| e.get("id").and_then(Value::as_str) == Some(model))
        .or_else(|| data.iter().find(|e| e.is_object()))?;
    ["max_model_len", "max_context_length", "context_length"]
        .iter()
        .find_map(|k| entry.get(*k).and_then(Value::as_u64).filter(|n| *n > 0))
}

fn summary(xs: &[f64]) -> Value {
    json!({"p50": pct_f(xs, 50.0), "p90": pct_f(xs, 90.0), "p95": pct_f(xs, 95.0), "p99": pct_f(xs, 99.0),
           "max": xs.last().copied().unwrap_or(0.0)})
}

fn ttft_bars(xs: &[f64]) -> Vec<Bar> {
    let edges = [0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0];
    let mut bars = Vec::new();
    let mut below = 0;
    for e in edges {
        let n = xs.iter().filter(|x| **x <= e).count();
        bars.push(Bar {
            label: format!("<= {e}s"),
            count: (n - below) as u64,
        });
        below = n;
    }
    bars.push(Bar {
        label: "> 30s".into(),
        count: (xs.len() - below) as u64,
    });
    bars
}

/// Runs the verb.
pub fn run(a: BenchmarkArgs) -> anyhow::Result<u8> {
    let ep = a.endpoint.resolve()?;
    let key = ep.key.clone();
    let mix = match (&a.profile, a.ctx_tokens) {
        (_, n) if n > 0 => vec![(n, 1.0)],
        (Some(p), _) => profile_mix(p)?,
        (None, _) => BUILT_IN.to_vec(),
    };
    let client = Client::new(key.as_deref(), Duration::from_secs(a.timeout_s))?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let max_len = if a.max_model_len > 0 {
        Some(a.max_model_len)
    } else {
        rt.block_on(probe_len(&client, &ep.base_url, &ep.model))
    };
    let cap = max_len.map(|l| l.saturating_sub(a.max_tokens + a.margin).max(256));
    let (n, concurrency, burst) = if a.burst > 0 {
        (a.burst as usize, a.burst as usize, true)
    } else {
        (a.requests as usize, a.concurrency as usize, false)
    };
    let prefix =
        filler(0, 0).repeat((((a.shared_prefix_tokens as f64 * 0.75).floor() as usize) / 6).max(1));
    let targets = sizes(&mix, n, a.seed);
    let url = join(&ep.base_url, "chat/completions");
    let bodies: Vec<(u64, Value)> = targets
        .iter()
        .enumerate()
        .map(|(i, size)| {
            let ctx = cap.map_or(*size, |c| (*size).min(c));
            let uniq = if burst { 0 } else { i as u64 };
            let mut body = json!({
                "model": ep.model,
                "messages": [{"role": "user", "content": prompt(&prefix, uniq, ctx, cap)}],
                "max_tokens": a.max_tokens,
                "temperature": 0.0,
                "stream": true,
                "stream_options": {"include_usage": true},
            });
            if a.no_thinking {
                body["chat_template_kwargs"] = json!({"enable_thinking": false});
            }
            (ctx, body)
        })
        .collect();
    let mode = if burst {
        "BURST(shared-prefix)"
    } else {
        "mixed"
    };
    println!(
        "BENCH {} model={}  n={n} concurrency={concurrency} {mode} max_tokens={}{}{}",
        ep.base_url,
        ep.model,
        a.max_tokens,
        match (max_len, cap) {
            (Some(l), Some(c)) => format!(" max_model_len={l}(ctx<={c})"),
            _ => String::new(),
        },
        if a.no_thinking { " thinking=off" } else { "" }
    );
    let started = Instant::now();
    let results: Vec<anyhow::Result<Sample>> = rt.block_on(
        futures::stream::iter(bodies.iter().map(|(_, b)| one(&client, &url, b.clone())))
            .buffer_unordered(concurrency)
            .collect(),
    );
    let wall = started.elapsed().as_secs_f64();
    let mut errors: Vec<String> = Vec::new();
    let mut ok: Vec<Sample> = Vec::new();
    for r in results {
        match r {
            Ok(s) => ok.push(s),
            Err(e) => errors.push(format!("{e:#}")),
        }
    }
    let mut shown = std::collections::HashSet::new();
    for e in &errors {
        if shown.len() < 5 && shown.insert(e.clone()) {
            println!("  req error: {e}");
        }
    }
    let sorted = |f: fn(&Sample) -> f64| {
        let mut v: Vec<f64> = ok.iter().map(f).collect();
        v.sort_by(f64::total_cmp);
        v
    };
    let ttft = sorted(|s| s.ttft);
    let e2e = sorted(|s| s.e2e);
    let rate = sorted(|s| {
        if s.e2e > s.ttft && s.out > 1 {
            (s.out - 1) as f64 / (s.e2e - s.ttft)
        } else {
            0.0
        }
    });
    let out_total: u64 = ok.iter().map(|s| s.out).sum();
    let throughput = if wall > 0.0 {
        out_total as f64 / wall
    } else {
        0.0
    };
    let cached: Vec<f64> = ok.iter().filter_map(|s| s.cached).collect();
    let hit = (!cached.is_empty()).then(|| cached.iter().sum::<f64>() / cached.len() as f64);
    let rule = "-".repeat(60);
    println!("{rule}");
    println!(
        "completed:        {}/{n} in {wall:.1}s ({} failed)",
        ok.len(),
        errors.len()
    );
    let p4 = |v: &[f64]| {
        format!(
            "{:.2}s / {:.2}s / {:.2}s / {:.2}s",
            pct_f(v, 50.0),
            pct_f(v, 90.0),
            pct_f(v, 95.0),
            pct_f(v, 99.0)
        )
    };
    println!("TTFT  p50/p90/p95/p99:  {}", p4(&ttft));
    println!("E2E   p50/p90/p95/p99:  {}", p4(&e2e));
    println!(
        "decode p50/p95:   {:.1} / {:.1} tok/s per request",
        pct_f(&rate, 50.0),
        pct_f(&rate, 95.0)
    );
    println!("throughput:       {throughput:.0} output tok/s (aggregate, {out_total} tokens)");
    match hit {
        Some(h) => println!(
            "prefix-cache hit: {:.1}% avg cached prompt tokens (KEY KPI)",
            h * 100.0
        ),
        None => println!(
            "prefix-cache hit: endpoint did not return prompt_tokens_details.cached_tokens"
        ),
    }
    println!("TTFT histogram (requests):");
    print!("{}", histogram(&ttft_bars(&ttft), 40));
    println!("{rule}");
    if let Some(path) = &a.json {
        let mut ctx_sizes: Vec<u64> = bodies.iter().map(|(c, _)| *c).collect();
        ctx_sizes.sort_unstable();
        let doc = json!({
            "base_url": ep.base_url, "model": ep.model, "mode": mode, "requests": n, "concurrency": concurrency,
            "max_tokens": a.max_tokens, "max_model_len": max_len, "ctx_cap": cap,
            "ctx_tokens": {"p50": crate::stats::pct(&ctx_sizes, 50.0), "max": ctx_sizes.last()},
            "completed": ok.len(), "failed": errors.len(), "errors": errors.iter().take(20).collect::<Vec<_>>(),
            "wall_s": wall, "ttft_s": summary(&ttft), "e2e_s": summary(&e2e),
            "decode_tok_per_s": summary(&rate), "output_tokens": out_total,
            "throughput_tok_per_s": throughput, "prefix_cache_hit": hit,
        });
        std::fs::write(path, serde_json::to_string_pretty(&doc)? + "\n")
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    if ok.is_empty() {
        eprintln!(
            "anvil-substrate benchmark: no request completed ({} failed): is the endpoint up?",
            errors.len()
        );
        return Ok(1);
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_follow_the_mix_exactly() {
        let s = sizes(&[(1000, 1.0), (2000, 3.0)], 8, 7);
        assert_eq!(s.iter().filter(|x| **x == 1000).count(), 2);
        assert_eq!(s.iter().filter(|x| **x == 2000).count(), 6);
        assert_eq!(sizes(&[(1000, 1.0), (2000, 3.0)], 8, 7), s);
    }

    #[test]
    fn prompts_share_the_prefix_and_respect_the_cap() {
        let prefix = filler(0, 0).repeat(10);
        let p = prompt(&prefix, 3, 2000, None);
        assert!(
            p.starts_with(&prefix) && p.ends_with("# request 3: summarize the above in one line.")
        );
        assert!(p.len() >= 8000 && p.len() < 8000 + 200);
        let capped = prompt(&prefix, 3, 20_000, Some(1000));
        assert_eq!(capped.len(), 3000);
    }
}
