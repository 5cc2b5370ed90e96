//! `cargo xtask demo`: a real local model behind the router, on any machine, no GPU needed.
//!
//! Builds (once, cached) and starts `llama-server` with SmolLM2-135M-Instruct ([`crate::llama`]),
//! writes a router config with one local tier ([`TIER`]) that every preset maps to, builds and
//! starts `anvil-router serve --port 0` on it, sends one request through it, prints copy-paste
//! lines for curl, the Python SDKs and Claude Code, and runs until Ctrl-C.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::llama::{self, elapsed_text, listening_port, LlamaServer, Supervised};
use crate::tidy::configs;

/// The one tier of the demo config.
pub const TIER: &str = "fast-local";

/// The presets of the demo config, all mapped to [`TIER`].
pub const PRESETS: &[&str] = &["chat", "quick-edit", "planning", "review", "long-context"];

/// How long to wait for the router's `listening on` line.
pub const ROUTER_START_TIMEOUT: Duration = Duration::from_secs(30);

/// The router config for a llama-server at `base_url` (OpenAI dialect, `.../v1`) serving `model`.
pub fn router_config(base_url: &str, model: &str) -> String {
    let presets: String = PRESETS
        .iter()
        .map(|preset| format!("{preset} = [\"{TIER}\"]\n"))
        .collect();
    format!(
        "# Written by `cargo xtask demo`: one local tier, llama-server serving {model} on CPU.\n\
         # Rewritten on every run; edit a copy instead.\n\
         \n\
         [router]\n\
         mapping_version = \"demo\"\n\
         \n\
         [[router.tiers]]\n\
         id = \"{TIER}\"\n\
         base_url = \"{base_url}\"\n\
         dialect = \"openai\"\n\
         model = \"{model}\"\n\
         context_limit = {context}\n\
         privacy = \"local\"\n\
         tool_support = false\n\
         \n\
         [router.presets]\n\
         {presets}",
        context = llama::CONTEXT_LIMIT,
    )
}

/// The copy-paste lines for a router listening on 127.0.0.1:`port`.
pub fn instructions(port: u16) -> String {
    let base = format!("http://127.0.0.1:{port}");
    let question = "Write a haiku about anvils.";
    let chat = format!(
        r#"{{"model":"chat","max_tokens":64,"messages":[{{"role":"user","content":"{question}"}}]}}"#
    );
    let chat_stream = chat.replacen('{', r#"{"stream":true,"#, 1);
    format!(
        "\
# OpenAI Chat Completions (add \"stream\":true for SSE)
curl -s {base}/v1/chat/completions -H 'content-type: application/json' -H 'authorization: Bearer x' \\
  -d '{chat}'
curl -sN {base}/v1/chat/completions -H 'content-type: application/json' -H 'authorization: Bearer x' \\
  -d '{chat_stream}'

# Anthropic Messages
curl -s {base}/v1/messages -H 'content-type: application/json' -H 'x-api-key: x' -H 'anthropic-version: 2023-06-01' \\
  -d '{chat}'
curl -sN {base}/v1/messages -H 'content-type: application/json' -H 'x-api-key: x' -H 'anthropic-version: 2023-06-01' \\
  -d '{chat_stream}'

# Python SDKs (pip install openai anthropic)
python3 - <<'EOF'
from openai import OpenAI
from anthropic import Anthropic
oa = OpenAI(base_url=\"{base}/v1\", api_key=\"x\")
print(oa.chat.completions.create(model=\"chat\", max_tokens=64,
      messages=[{{\"role\": \"user\", \"content\": \"{question}\"}}]).choices[0].message.content)
an = Anthropic(base_url=\"{base}\", api_key=\"x\")
print(an.messages.create(model=\"chat\", max_tokens=64,
      messages=[{{\"role\": \"user\", \"content\": \"{question}\"}}]).content[0].text)
EOF

# Claude Code (a 135M model: expect plain text, not working tool calls)
ANTHROPIC_BASE_URL={base} ANTHROPIC_API_KEY=x claude --model chat
"
    )
}

/// Runs the demo until this process is stopped (Ctrl-C); returns only on a failure.
pub fn run(root: &Path, out: &mut dyn Write) -> Result<()> {
    let paths = llama::ensure()?;
    let mut server = llama::start(&paths)?;
    writeln!(
        out,
        "llama-server: {} serving {} (ready in {}; log {})",
        server.base_url(),
        server.model(),
        elapsed_text(server.startup()),
        server.log_path().display()
    )?;
    let config = write_config(&paths.cache, &server)?;
    writeln!(out, "router config: {}", config.display())?;
    writeln!(out, "building anvil-router ...")?;
    let router_bin = configs::build_router(root)?;
    let mut router = start_router(&router_bin, &config, &paths.cache.join("logs"))?;
    let port = router.wait_for_line(Instant::now() + ROUTER_START_TIMEOUT, listening_port)?;
    writeln!(
        out,
        "anvil-router: http://127.0.0.1:{port} (log {})",
        router.log_path().display()
    )?;
    match smoke_test(port) {
        Ok(reply) => writeln!(out, "one request through the router answered: {reply:?}")?,
        Err(error) => writeln!(
            out,
            "warning: a test request through the router failed: {error:#}"
        )?,
    }
    writeln!(out, "\n{}", instructions(port))?;
    writeln!(
        out,
        "running; Ctrl-C stops the router and llama-server. Router output follows."
    )?;
    out.flush()?;
    watch(&mut server, &mut router, out)
}

/// Writes the demo's router config to `CACHE/demo/router.toml`.
fn write_config(cache: &Path, server: &LlamaServer) -> Result<PathBuf> {
    let dir = cache.join("demo");
    fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let path = dir.join("router.toml");
    fs::write(&path, router_config(&server.base_url(), server.model()))
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(path)
}

/// Starts `anvil-router serve --config CONFIG --port 0`.
fn start_router(bin: &Path, config: &Path, logs: &Path) -> Result<Supervised> {
    let args = vec![
        "serve".into(),
        "--config".into(),
        config.as_os_str().to_owned(),
        "--port".into(),
        "0".into(),
    ];
    Supervised::spawn("anvil-router", bin, &args, logs)
}

/// Sends one short chat completion through the router; returns the reply text.
fn smoke_test(port: u16) -> Result<String> {
    let body = serde_json::json!({
        "model": "chat",
        "max_tokens": 24,
        "messages": [{"role": "user", "content": "Say hello in five words."}],
    })
    .to_string();
    let (status, reply) = llama::http_request(
        port,
        "POST",
        "/v1/chat/completions",
        Some(&body),
        Duration::from_secs(60),
    )?;
    if status != 200 {
        bail!("status {status}: {reply}");
    }
    let reply: serde_json::Value =
        serde_json::from_str(&reply).with_context(|| format!("not json: {reply}"))?;
    reply["choices"][0]["message"]["content"]
        .as_str()
        .map(str::to_owned)
        .with_context(|| format!("no choices[0].message.content in {reply}"))
}

/// Echoes the router's output until either child exits (an error: both should run until Ctrl-C).
fn watch(server: &mut LlamaServer, router: &mut Supervised, out: &mut dyn Write) -> Result<()> {
    loop {
        for line in router.take_lines() {
            writeln!(out, "[router] {line}")?;
        }
        out.flush()?;
        if let Some(status) = router.try_wait()? {
            bail!(
                "anvil-router exited ({status}); its output:\n{}",
                router.recent_output()
            );
        }
        if let Some(status) = server.try_wait()? {
            bail!(
                "llama-server exited ({status}); see {}",
                server.log_path().display()
            );
        }
        thread::sleep(Duration::from_millis(200));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_has_one_openai_tier_and_every_preset_on_it() {
        let text = router_config("http://127.0.0.1:4242/v1", "smollm2-135m-instruct");
        let doc: toml_edit::DocumentMut = text.parse().unwrap();
        let router = &doc["router"];
        assert_eq!(router["mapping_version"].as_str(), Some("demo"));
        let tiers = router["tiers"].as_array_of_tables().unwrap();
        assert_eq!(tiers.len(), 1);
        let tier = tiers.get(0).unwrap();
        let cases: &[(&str, toml_edit::Value)] = &[
            ("id", TIER.into()),
            ("base_url", "http://127.0.0.1:4242/v1".into()),
            ("dialect", "openai".into()),
            ("model", "smollm2-135m-instruct".into()),
            ("context_limit", 8192_i64.into()),
            ("privacy", "local".into()),
            ("tool_support", false.into()),
        ];
        for (key, expected) in cases {
            let found = tier[key].as_value().unwrap();
            assert_eq!(
                found.to_string().trim(),
                expected.to_string().trim(),
                "{key}"
            );
        }
        let presets = router["presets"].as_table().unwrap();
        let names: Vec<&str> = presets.iter().map(|(name, _)| name).collect();
        assert_eq!(names, PRESETS);
        for (name, tiers) in presets {
            let tiers: Vec<&str> = tiers
                .as_array()
                .unwrap()
                .iter()
                .filter_map(toml_edit::Value::as_str)
                .collect();
            assert_eq!(tiers, [TIER], "{name}");
        }
    }

    #[test]
    fn instructions_are_copy_pasteable_for_every_client() {
        let text = instructions(18000);
        for expected in [
            "curl -s http://127.0.0.1:18000/v1/chat/completions",
            "curl -sN http://127.0.0.1:18000/v1/chat/completions",
            "curl -s http://127.0.0.1:18000/v1/messages",
            "curl -sN http://127.0.0.1:18000/v1/messages",
            "OpenAI(base_url=\"http://127.0.0.1:18000/v1\"",
            "Anthropic(base_url=\"http://127.0.0.1:18000\"",
            "ANTHROPIC_BASE_URL=http://127.0.0.1:18000 ANTHROPIC_API_KEY=x claude --model chat",
        ] {
            assert!(text.contains(expected), "{expected} missing from:\n{text}");
        }
        // Every -d body is valid JSON asking for the `chat` preset; two of them stream.
        let bodies: Vec<serde_json::Value> = text
            .lines()
            .filter_map(|line| line.trim().strip_prefix("-d '"))
            .map(|rest| serde_json::from_str(rest.trim_end_matches('\'')).unwrap())
            .collect();
        assert_eq!(bodies.len(), 4);
        assert!(bodies.iter().all(|body| body["model"] == "chat"));
        let streaming = bodies.iter().filter(|body| body["stream"] == true).count();
        assert_eq!(streaming, 2);
    }
}
