//! `anvil-substrate preflight`: a correctness gate for an OpenAI-compatible endpoint.
//!
//! Five checks, run in order, each independent of the others' outcome (substrate reference §4,
//! stricter where 0.4.0 was lenient):
//! 1. `smoke (short coding)` — a one-liner that must contain `sum(`.
//! 2. `strict JSON` — the whole answer (one optional Markdown fence aside) must parse as a JSON
//!    object with `language: "python"` and `ok: true`.
//! 3. `needle @ ~N ctx` — a haystack of about N tokens with `ZEBRA-42917-QUARTZ` at 58 %; the
//!    answer must contain the code (dashes and spaces ignored).
//! 4. `tool batch xB` — B identical requests at once sharing a 25,600-character system prompt, each
//!    offering `get_weather`; every answer must be a structured call of `get_weather` whose
//!    arguments parse as a JSON object with a string `city`, and no answer may carry raw template
//!    tokens (`<|`, `<<tool`, `function=`, U+FFFD) — the sm_120 / broken speculative-decoding
//!    symptoms. (0.4.0 passed a text-only answer.)
//! 5. `thinking headroom` — `What is 17 + 25?` within `--max-tokens`: the answer must say 42. An
//!    empty answer whose reasoning used the budget (finish reason `length`, or reasoning text) is
//!    reported as thinking starvation. Any other check whose answer starved says so too.
//!
//! The endpoint is `--base-url`/`--model`, or `--config`/`--tier` (see [`crate::endpoint`]).
//! Every request is a non-streaming `POST <base>/chat/completions` with `temperature: 0` and
//! `max_tokens` (256); `--no-thinking` adds `chat_template_kwargs: {enable_thinking: false}`.
//! Exit 0 when every check passes, 1 otherwise (the failed checks are named on the RESULT line).

use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use http::Method;
use serde_json::{json, Value};

use crate::http::{join, Client};

const EXAMPLE: &str = "Example:
  anvil-substrate preflight --base-url http://127.0.0.1:30000/v1 --model local-specialist \\
      --needle-ctx 32000 --tool-batch 8
  # PRE-FLIGHT  http://127.0.0.1:30000/v1  model=local-specialist  thinking=default
  # [PASS] smoke (short coding)          0.4s got='sum(xs)'
  # [FAIL] needle @ ~32000 ctx            2.1s ctx~32000 got='I could not find a launch code.'
  # RESULT: FAILURES PRESENT (needle @ ~32000 ctx)      -> exit 1
  anvil-substrate preflight --config anvil.toml --tier fast-local   # a tier of the router config";

/// The needle inserted into the haystack.
pub const NEEDLE: &str = "ZEBRA-42917-QUARTZ";
const HAY: &str = "The engineers continued routine checks while the telemetry stayed nominal. ";
const GARBAGE: [&str; 4] = ["<<tool", "<|", "function=", "\u{FFFD}"];

/// Flags of `anvil-substrate preflight`.
#[derive(Debug, Args)]
#[command(after_help = EXAMPLE)]
pub struct PreflightArgs {
    #[command(flatten)]
    endpoint: crate::endpoint::Endpoint,
    /// Approximate tokens of the needle-in-a-haystack prompt
    #[arg(long, default_value_t = 128_000, value_parser = clap::value_parser!(u64).range(1..))]
    needle_ctx: u64,
    /// Concurrent requests of the tool-call batch
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=512))]
    tool_batch: u32,
    /// max_tokens of every request
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u64).range(16..))]
    max_tokens: u64,
    /// Send chat_template_kwargs {enable_thinking: false}
    #[arg(long)]
    no_thinking: bool,
    /// Seconds each request may take
    #[arg(long, default_value_t = 900, value_parser = clap::value_parser!(u64).range(1..))]
    timeout_s: u64,
    /// Print the results as JSON instead of the table
    #[arg(long)]
    json: bool,
}

/// One check's outcome.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The check's name.
    pub name: String,
    /// Passed.
    pub pass: bool,
    /// Why.
    pub detail: String,
}

/// The parts of a chat answer the checks read.
#[derive(Debug, Default)]
struct Reply {
    content: String,
    reasoning: String,
    finish: String,
    tool_calls: Vec<Value>,
}

fn reply_of(v: &Value) -> anyhow::Result<Reply> {
    let choice = v
        .pointer("/choices/0")
        .context("the answer has no choices[0]")?;
    let message = choice
        .get("message")
        .context("the answer has no choices[0].message")?;
    let s = |k: &str| {
        message
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    Ok(Reply {
        content: s("content"),
        reasoning: if s("reasoning_content").is_empty() {
            s("reasoning")
        } else {
            s("reasoning_content")
        },
        finish: choice
            .get("finish_reason")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        tool_calls: message
            .get("tool_calls")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default(),
    })
}

fn short(s: &str) -> String {
    format!("{:?}", s.trim().chars().take(50).collect::<String>())
}

/// The starvation diagnosis of an empty answer, if it starved.
fn starved(r: &Reply) -> Option<String> {
    (r.content.trim().is_empty()
        && r.tool_calls.is_empty()
        && (r.finish == "length" || !r.reasoning.is_empty()))
    .then(|| {
        format!(
            "thinking starvation: empty answer, finish_reason={:?}, {} chars of reasoning \
             (raise max_tokens or use --no-thinking)",
            r.finish,
            r.reasoning.chars().count()
        )
    })
}

/// The needle prompt for about `ctx` tokens.
pub fn needle_prompt(ctx: u64) -> String {
    let reps = ((ctx as f64 * 0.75).floor() as u64 / 10).max(1);
    let hay = HAY.repeat(usize::try_from(reps).unwrap_or(usize::MAX));
    let at = (hay.len() as f64 * 0.58).floor() as usize;
    let at = (0..=at)
        .rev()
        .find(|i| hay.is_char_boundary(*i))
        .unwrap_or(0);
    format!(
        "{}\n\nIMPORTANT: The launch code is {NEEDLE}.\n\n{}\n\nQuestion: What is the launch code? Reply with ONLY the code.",
        &hay[..at],
        &hay[at..]
    )
}

/// Strips one surrounding Markdown code fence.
fn unfence(s: &str) -> &str {
    let t = s.trim();
    if let Some(rest) = t.strip_prefix("```") {
        let rest = rest.split_once('\n').map_or("", |(_, r)| r);
        return rest.trim_end().strip_suffix("```").unwrap_or(rest).trim();
    }
    t
}

struct Runner {
    client: Client,
    url: String,
    model: String,
    max_tokens: u64,
    no_thinking: bool,
}

impl Runner {
    fn body(&self, messages: Value, tools: Option<Value>) -> Value {
        let mut b = json!({
            "model": self.model,
            "messages": messages,
            "max_tokens": self.max_tokens,
            "temperature": 0.0,
        });
        if let Some(t) = tools {
            b["tools"] = t;
            b["tool_choice"] = json!("auto");
        }
        if self.no_thinking {
            b["chat_template_kwargs"] = json!({"enable_thinking": false});
        }
        b
    }

    async fn ask(&self, body: &Value) -> anyhow::Result<Reply> {
        reply_of(
            &self
                .client
                .json(Method::POST, &self.url, Some(body))
                .await?,
        )
    }

    async fn single(
        &self,
        name: String,
        question: &str,
        judge: impl Fn(&Reply) -> Result<String, String>,
    ) -> Outcome {
        let t = Instant::now();
        let body = self.body(json!([{"role": "user", "content": question}]), None);
        let (pass, detail) = match self.ask(&body).await {
            Err(e) => (false, format!("error: {e:#}")),
            Ok(r) => match (starved(&r), judge(&r)) {
                (_, Ok(d)) => (true, d),
                (Some(s), Err(_)) => (false, s),
                (None, Err(d)) => (false, d),
            },
        };
        Outcome {
            name,
            pass,
            detail: format!("{:.1}s {detail}", t.elapsed().as_secs_f64()),
        }
    }

    async fn tool_batch(&self, n: u32) -> Outcome {
        let t = Instant::now();
        let tools = json!([{"type": "function", "function": {
            "name": "get_weather",
            "description": "Get current weather for a city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
        }}]);
        let system =
            "You are a coding specialist agent. Follow the harness contract.\n".repeat(400);
        let body = self.body(
            json!([
                {"role": "system", "content": system},
                {"role": "user", "content": "What's the weather in Oakland? Use the tool."},
            ]),
            Some(tools),
        );
        let results = futures::future::join_all((0..n).map(|_| self.ask(&body))).await;
        let verdicts: Vec<Result<String, String>> = results
            .into_iter()
            .map(|r| match r {
                Err(e) => Err(format!("error: {e:#}")),
                Ok(r) => judge_tool(&r),
            })
            .collect();
        let passed = verdicts.iter().filter(|v| v.is_ok()).count();
        let sample = verdicts
            .iter()
            .find(|v| v.is_err())
            .or_else(|| verdicts.first())
            .map(|v| match v {
                Ok(s) | Err(s) => s.clone(),
            })
            .unwrap_or_default();
        Outcome {
            name: format!("tool batch x{n}"),
            pass: passed == verdicts.len(),
            detail: format!(
                "{:.1}s {passed}/{n} clean (sample: {sample})",
                t.elapsed().as_secs_f64()
            ),
        }
    }
}

fn judge_tool(r: &Reply) -> Result<String, String> {
    if let Some(g) = GARBAGE.iter().find(|g| r.content.contains(**g)) {
        return Err(format!("garbage content ({g:?}): {}", short(&r.content)));
    }
    let Some(call) = r.tool_calls.first() else {
        return Err(
            starved(r).unwrap_or_else(|| format!("no tool call; text {}", short(&r.content)))
        );
    };
    let name = call
        .pointer("/function/name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if name != "get_weather" {
        return Err(format!("called {name:?}, not get_weather"));
    }
    let args = call
        .pointer("/function/arguments")
        .and_then(Value::as_str)
        .unwrap_or_default();
    match serde_json::from_str::<Value>(args) {
        Ok(v) if v.get("city").is_some_and(Value::is_string) => {
            Ok(format!("valid tool_call {args}"))
        }
        Ok(_) => Err(format!("arguments lack a string city: {args}")),
        Err(e) => Err(format!("arguments are not JSON ({e}): {}", short(args))),
    }
}

/// Runs every check against the endpoint.
async fn checks(r: &Runner, needle_ctx: u64, batch: u32) -> Vec<Outcome> {
    let mut out = Vec::new();
    out.push(
        r.single(
            "smoke (short coding)".into(),
            "Write a Python one-liner that returns the sum of a list `xs`.",
            |rep| {
                let got = format!("got={}", short(&rep.content));
                if rep.content.contains("sum(") {
                    Ok(got)
                } else {
                    Err(got)
                }
            },
        )
        .await,
    );
    out.push(
        r.single(
            "strict JSON".into(),
            r#"Return ONLY a JSON object: {"language":"python","ok":true}. No prose."#,
            |rep| match serde_json::from_str::<Value>(unfence(&rep.content)) {
                Ok(v)
                    if v.get("language") == Some(&json!("python"))
                        && v.get("ok") == Some(&json!(true)) =>
                {
                    Ok("parsed {language: python, ok: true}".to_owned())
                }
                Ok(v) => Err(format!(
                    "valid JSON, wrong object: {}",
                    short(&v.to_string())
                )),
                Err(e) => Err(format!("not JSON ({e}): {}", short(&rep.content))),
            },
        )
        .await,
    );
    let prompt = needle_prompt(needle_ctx);
    out.push(
        r.single(format!("needle @ ~{needle_ctx} ctx"), &prompt, |rep| {
            let norm: String = rep
                .content
                .chars()
                .filter(|c| *c != '-' && *c != ' ')
                .collect();
            let got = format!("ctx~{needle_ctx} got={}", short(&rep.content));
            if norm.contains(&NEEDLE.replace('-', "")) {
                Ok(got)
            } else {
                Err(got)
            }
        })
        .await,
    );
    out.push(r.tool_batch(batch).await);
    out.push(
        r.single(
            "thinking headroom".into(),
            "What is 17 + 25? Answer with just the number.",
            |rep| {
                let got = format!("finish={:?} got={}", rep.finish, short(&rep.content));
                if rep.content.contains("42") {
                    Ok(got)
                } else {
                    Err(got)
                }
            },
        )
        .await,
    );
    out
}

/// Runs the verb.
pub fn run(a: PreflightArgs) -> anyhow::Result<u8> {
    let ep = a.endpoint.resolve()?;
    let key = ep.key.clone();
    let runner = Runner {
        client: Client::new(key.as_deref(), Duration::from_secs(a.timeout_s))?,
        url: join(&ep.base_url, "chat/completions"),
        model: ep.model.clone(),
        max_tokens: a.max_tokens,
        no_thinking: a.no_thinking,
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let results = rt.block_on(checks(&runner, a.needle_ctx, a.tool_batch));
    let failed: Vec<&str> = results
        .iter()
        .filter(|o| !o.pass)
        .map(|o| o.name.as_str())
        .collect();
    if a.json {
        let doc = json!({
            "base_url": ep.base_url, "model": ep.model, "thinking": !a.no_thinking,
            "checks": results.iter().map(|o| json!({"name": o.name, "pass": o.pass, "detail": o.detail})).collect::<Vec<_>>(),
            "pass": failed.is_empty(),
        });
        println!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        let rule = "-".repeat(60);
        println!(
            "PRE-FLIGHT  {}  model={}  thinking={}",
            ep.base_url,
            ep.model,
            if a.no_thinking {
                "off (enable_thinking=False)"
            } else {
                "default"
            }
        );
        println!("{rule}");
        for o in &results {
            println!(
                "[{}] {:<32} {}",
                if o.pass { "PASS" } else { "FAIL" },
                o.name,
                o.detail
            );
        }
        println!("{rule}");
        if failed.is_empty() {
            println!("RESULT: ALL PASS");
        } else {
            println!("RESULT: FAILURES PRESENT ({})", failed.join(", "));
        }
    }
    Ok(if failed.is_empty() { 0 } else { 1 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_needle_prompt_has_the_0_4_0_length() {
        let p = needle_prompt(2000);
        assert_eq!(p.chars().count(), 11_365);
        assert!(p.contains("IMPORTANT: The launch code is ZEBRA-42917-QUARTZ."));
    }

    #[test]
    fn fences_and_starvation() {
        assert_eq!(unfence("```json\n{\"a\":1}\n```"), "{\"a\":1}");
        let r = Reply {
            finish: "length".into(),
            reasoning: "hmm".into(),
            ..Reply::default()
        };
        assert!(starved(&r).is_some());
        let r = Reply {
            content: "42".into(),
            ..Reply::default()
        };
        assert!(starved(&r).is_none());
    }
}
