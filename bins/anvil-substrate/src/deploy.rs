//! `anvil-substrate deploy`: a tuned docker-compose file for SGLang or vLLM.
//!
//! The defaults are the ones that proved themselves on the reference deployment (substrate
//! reference §3): the GPU pinned through `deploy.resources.reservations.devices[].device_ids`, the
//! weights read without mmap (SGLang `--weight-loader-disable-mmap`, vLLM
//! `--safetensors-load-strategy eager`: mmap across a Windows/virtiofs bind mount is extremely
//! slow; the trade-off is that the weights pass through host RAM while loading), fp8 KV cache,
//! metrics on, the context and served name as asked. Every value is written as a quoted YAML
//! scalar, and the rendered text is parsed back and checked (GPU pin, volume, command) before it is
//! written.
//!
//! When `--model` is a folder that exists, it is inspected like `models sync` does: a GGUF model is
//! refused (neither engine loads it: use llama.cpp), a known sm_120 risk is printed as a warning,
//! and a thinking-by-default model gets a note in the file.

use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::{Args, ValueEnum};
use yaml_rust2::{Yaml, YamlLoader};

const EXAMPLE: &str = "Examples:
  anvil-substrate deploy --model /data/models/qwen3-coder --gpu 1 --context 65536 --served-name heavy
  # wrote docker-compose.yml (sglang, GPU 1, port 30000)
  # Launch:  docker compose -f docker-compose.yml up -d
  anvil-substrate deploy --engine vllm --model /data/models/gpt-oss-20b --served-name gpt-oss-20b \\
      --reasoning-parser openai_gptoss --tool-call-parser openai --out fast.yml";

/// The serving engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Engine {
    /// SGLang (`lmsysorg/sglang`)
    Sglang,
    /// vLLM (`vllm/vllm-openai`)
    Vllm,
}

/// Flags of `anvil-substrate deploy`.
#[derive(Debug, Args)]
#[command(after_help = EXAMPLE)]
pub struct DeployArgs {
    /// Host folder with the model (bind-mounted at /models/local)
    #[arg(long, value_name = "PATH")]
    model: PathBuf,
    /// Serving engine
    #[arg(long, value_enum, default_value_t = Engine::Sglang)]
    engine: Engine,
    /// GPU to pin: an index or a GPU UUID (as `nvidia-smi -L` shows)
    #[arg(long, default_value = "0")]
    gpu: String,
    /// Context length in tokens
    #[arg(long, default_value_t = 131_072, value_parser = clap::value_parser!(u64).range(256..))]
    context: u64,
    /// Model name the server answers to
    #[arg(long, default_value = "local-specialist")]
    served_name: String,
    /// Host and container port [default: 30000 for sglang, 8000 for vllm]
    #[arg(long)]
    port: Option<u16>,
    /// Container image [default: lmsysorg/sglang:latest or vllm/vllm-openai:latest]
    #[arg(long)]
    image: Option<String>,
    /// Reasoning parser [default: qwen3 for sglang, none for vllm]; "" for none
    #[arg(long)]
    reasoning_parser: Option<String>,
    /// Tool-call parser [default: qwen3_coder for sglang, none for vllm]; "" for none
    #[arg(long)]
    tool_call_parser: Option<String>,
    /// Fraction of GPU memory for weights and KV cache
    #[arg(long, default_value_t = 0.88)]
    mem_fraction: f64,
    /// Most requests running at once
    #[arg(long, default_value_t = 16)]
    max_running: u32,
    /// Output file ("-" for stdout)
    #[arg(long, default_value = "docker-compose.yml")]
    out: String,
}

/// A YAML double-quoted scalar.
fn q(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The engine command line (argv after the entrypoint).
fn command(a: &DeployArgs, port: u16) -> (String, Vec<String>) {
    let parser = |given: &Option<String>, default: &str| -> Option<String> {
        match given {
            Some(s) if s.is_empty() => None,
            Some(s) => Some(s.clone()),
            None => (!default.is_empty()).then(|| default.to_owned()),
        }
    };
    let s = |x: &str| x.to_owned();
    match a.engine {
        Engine::Sglang => {
            let mut argv = vec![
                s("-m"),
                s("sglang.launch_server"),
                s("--model-path"),
                s("/models/local"),
                s("--weight-loader-disable-mmap"),
                s("--kv-cache-dtype"),
                s("fp8_e5m2"),
            ];
            if let Some(p) = parser(&a.reasoning_parser, "qwen3") {
                argv.extend([s("--reasoning-parser"), p]);
            }
            if let Some(p) = parser(&a.tool_call_parser, "qwen3_coder") {
                argv.extend([s("--tool-call-parser"), p]);
            }
            argv.extend([
                s("--context-length"),
                a.context.to_string(),
                s("--max-running-requests"),
                a.max_running.to_string(),
                s("--mem-fraction-static"),
                a.mem_fraction.to_string(),
                s("--enable-metrics"),
                s("--served-model-name"),
                a.served_name.clone(),
                s("--host"),
                s("0.0.0.0"),
                s("--port"),
                port.to_string(),
            ]);
            (s("python3"), argv)
        }
        Engine::Vllm => {
            let mut argv = vec![
                s("serve"),
                s("/models/local"),
                s("--safetensors-load-strategy"),
                s("eager"),
                s("--kv-cache-dtype"),
                s("fp8"),
                s("--enable-prefix-caching"),
                s("--max-model-len"),
                a.context.to_string(),
                s("--max-num-seqs"),
                a.max_running.to_string(),
                s("--gpu-memory-utilization"),
                a.mem_fraction.to_string(),
                s("--served-model-name"),
                a.served_name.clone(),
            ];
            if let Some(p) = parser(&a.reasoning_parser, "") {
                argv.extend([s("--reasoning-parser"), p]);
            }
            if let Some(p) = parser(&a.tool_call_parser, "") {
                argv.extend([s("--enable-auto-tool-choice"), s("--tool-call-parser"), p]);
            }
            argv.extend([s("--host"), s("0.0.0.0"), s("--port"), port.to_string()]);
            (s("vllm"), argv)
        }
    }
}

/// Renders the compose file text.
fn render(a: &DeployArgs, notes: &[String]) -> (String, u16, String) {
    let (service, default_port, default_image) = match a.engine {
        Engine::Sglang => ("sglang", 30000, "lmsysorg/sglang:latest"),
        Engine::Vllm => ("vllm", 8000, "vllm/vllm-openai:latest"),
    };
    let port = a.port.unwrap_or(default_port);
    let image = a.image.clone().unwrap_or_else(|| default_image.to_owned());
    let (entrypoint, argv) = command(a, port);
    let model = a.model.to_string_lossy();
    let mut o = String::new();
    o.push_str("# Generated by `anvil-substrate deploy`.\n");
    o.push_str(&format!(
        "# {service} serving {model} as {:?} on GPU {} (pinned by device_ids), port {port}.\n",
        a.served_name, a.gpu
    ));
    o.push_str(
        "# Weights are read without mmap: mmap across a Windows/virtiofs bind mount is very slow\n",
    );
    o.push_str("# (the weights pass through host RAM while loading).\n");
    for n in notes {
        o.push_str(&format!("# NOTE: {n}\n"));
    }
    o.push_str("services:\n");
    o.push_str(&format!("  {service}:\n"));
    o.push_str(&format!("    image: {}\n", q(&image)));
    o.push_str(&format!("    container_name: {}\n", q(service)));
    o.push_str("    restart: \"unless-stopped\"\n");
    o.push_str("    shm_size: \"16g\"\n");
    o.push_str("    ipc: \"host\"\n");
    o.push_str(&format!("    ports: [{}]\n", q(&format!("{port}:{port}"))));
    o.push_str(&format!(
        "    volumes: [{}]\n",
        q(&format!("{model}:/models/local:ro"))
    ));
    o.push_str("    deploy:\n      resources:\n        reservations:\n          devices:\n");
    o.push_str(&format!(
        "            - driver: \"nvidia\"\n              device_ids: [{}]\n              capabilities: [\"gpu\"]\n",
        q(&a.gpu)
    ));
    o.push_str(&format!("    entrypoint: [{}]\n", q(&entrypoint)));
    o.push_str("    command:\n");
    for arg in &argv {
        o.push_str(&format!("      - {}\n", q(arg)));
    }
    (o, port, service.to_owned())
}

/// Parses the rendered text and checks what must hold.
fn validate(text: &str, a: &DeployArgs, service: &str, port: u16) -> anyhow::Result<()> {
    let docs = YamlLoader::load_from_str(text).context("the rendered file is not valid YAML")?;
    let doc = docs.first().context("the rendered file is empty")?;
    let svc = &doc["services"][service];
    if svc.is_badvalue() {
        bail!("the rendered file has no services.{service}");
    }
    let ids = &svc["deploy"]["resources"]["reservations"]["devices"][0]["device_ids"];
    if ids.as_vec().map(Vec::as_slice) != Some(&[Yaml::String(a.gpu.clone())][..]) {
        bail!("the rendered file does not pin GPU {}", a.gpu);
    }
    let volume = format!("{}:/models/local:ro", a.model.to_string_lossy());
    if svc["volumes"][0].as_str() != Some(volume.as_str()) {
        bail!("the rendered volume is not {volume}");
    }
    let argv: Vec<&str> = svc["command"]
        .as_vec()
        .map(|v| v.iter().filter_map(Yaml::as_str).collect())
        .unwrap_or_default();
    let port_s = port.to_string();
    if !argv.windows(2).any(|w| w == ["--port", port_s.as_str()]) {
        bail!("the rendered command does not listen on port {port}");
    }
    if !argv
        .windows(2)
        .any(|w| w == ["--served-model-name", a.served_name.as_str()])
    {
        bail!("the rendered command does not serve {}", a.served_name);
    }
    Ok(())
}

/// Runs the verb.
pub fn run(a: DeployArgs) -> anyhow::Result<u8> {
    if a.served_name.trim().is_empty() {
        bail!("--served-name must not be empty");
    }
    let gpu_ok = (!a.gpu.is_empty() && a.gpu.chars().all(|c| c.is_ascii_digit()))
        || ((a.gpu.starts_with("GPU-") || a.gpu.starts_with("MIG-"))
            && a.gpu
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '/'));
    if !gpu_ok {
        bail!(
            "--gpu {:?}: expected one GPU index (0) or UUID (GPU-…); the file pins exactly one GPU",
            a.gpu
        );
    }
    if !(0.05..=1.0).contains(&a.mem_fraction) {
        bail!("--mem-fraction must be within 0.05..=1.0");
    }
    let mut notes = Vec::new();
    if a.model.is_dir() {
        let name = a
            .model
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let m = crate::models::summarize(
            &a.model,
            a.model.parent().unwrap_or(&a.model),
            crate::models::Source::Dir,
            None,
            name,
            None,
        );
        if m.format == "GGUF" {
            bail!(
                "{} holds GGUF weights: neither SGLang nor vLLM loads them (serve it with llama.cpp)",
                a.model.display()
            );
        }
        if let Some(c) = &m.sm120_caveat {
            eprintln!("anvil-substrate deploy: warning: {c} (on Blackwell sm_120 GPUs)");
            notes.push(format!("sm_120 risk: {c}"));
        }
        if m.thinking_default {
            notes.push(
                "this model thinks by default: budget max_tokens for the reasoning, or send \
                 chat_template_kwargs {enable_thinking: false} (preflight --no-thinking)"
                    .to_owned(),
            );
        }
        if let Some(ctx) = m.context {
            if a.context > ctx {
                notes.push(format!(
                    "--context {} is above the model's native {ctx}",
                    a.context
                ));
            }
        }
    }
    let (text, port, service) = render(&a, &notes);
    validate(&text, &a, &service, port)?;
    if a.out == "-" {
        print!("{text}");
        return Ok(0);
    }
    std::fs::write(&a.out, &text).with_context(|| format!("cannot write {}", a.out))?;
    println!("wrote {} ({service}, GPU {}, port {port})", a.out, a.gpu);
    println!("Launch:  docker compose -f {} up -d", a.out);
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_survives_hostile_paths() {
        assert_eq!(q(r#"a "b" \c"#), r#""a \"b\" \\c""#);
        let docs =
            YamlLoader::load_from_str(&format!("x: [{}]", q("/data/my model: #1\n"))).unwrap();
        assert_eq!(docs[0]["x"][0].as_str(), Some("/data/my model: #1\n"));
    }
}
