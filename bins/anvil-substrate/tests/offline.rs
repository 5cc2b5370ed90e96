//! Black-box tests of the offline substrate verbs on the committed fixtures: `profile`,
//! `models sync`, `deploy`, `score`, `cache-prune`, `eval bootstrap` (through `quality import`),
//! and every verb's `--help` / bad-flag behaviour.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{json, Value};

mod common;
use common::TempDir;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// Runs the binary with a clean environment: HOME in `home`, no HF or anvil variables.
fn run(home: &Path, args: &[&str]) -> Output {
    run_env(home, args, &[])
}

/// [`run`] with some variables set.
fn run_env(home: &Path, args: &[&str], env: &[(&str, &Path)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_anvil-substrate"));
    cmd.args(args).env("HOME", home).current_dir(home);
    for k in [
        "HF_HOME",
        "HF_HUB_CACHE",
        "HUGGINGFACE_HUB_CACHE",
        "USERPROFILE",
        "ANVIL_HF_ROOTS",
        "ANVIL_MODEL_DIRS",
        "ANVIL_CLAUDE_LOGS",
        "HF_TOKEN",
    ] {
        cmd.env_remove(k);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "status {:?}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Copies a tree, recreating symlinks as symlinks.
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let (src, dst) = (e.path(), to.join(e.file_name()));
        let t = e.file_type().unwrap();
        if t.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(&src).unwrap(), &dst).unwrap();
        } else if t.is_dir() {
            copy_tree(&src, &dst);
        } else {
            std::fs::copy(&src, &dst).unwrap();
        }
    }
}

// ---------------------------------------------------------------- profile

#[test]
fn profile_gives_the_hand_computed_percentiles() {
    let dir = TempDir::new();
    let logs = fixtures().join("claude-projects");
    let out_dir = dir.0.join("usage/new");
    let out = run(
        &dir.0,
        &[
            "profile",
            "--logs-dir",
            logs.to_str().unwrap(),
            "--out-dir",
            out_dir.to_str().unwrap(),
        ],
    );
    let text = ok(&out);
    let agg = read_json(&out_dir.join("usage_aggregate.json"));
    let roles = read_json(&out_dir.join("role_split.json"));

    // Five API calls once the two repeated records are merged (the partial record of msg_a1 and
    // the resumed copy of msg_a2); the hidden folder and the hidden file are never read.
    // ctx = input + cache creation + cache read: [6010, 7005, 30001, 40102, 70003].
    // Linear interpolation, (n-1)*q/100: p90 -> i=3.6 -> 40102*0.4 + 70003*0.6 = 58042.6 -> 58043;
    // p95 -> i=3.8 -> 64022.8 -> 64023; p99 -> i=3.96 -> 68806.96 -> 68807; mean 153121/5 = 30624.
    assert_eq!(
        agg["context_size_per_call"],
        json!({"n": 5, "p50": 30001, "p90": 58043, "p95": 64023, "p99": 68807, "max": 70003, "mean": 30624})
    );
    // gen [7, 9, 20, 50, 100] (msg_a1 keeps its final record's 100, not the partial 3):
    // p90 -> 50*0.4 + 100*0.6 = 80; p95 -> 90; p99 -> 98; mean 186/5 = 37.
    assert_eq!(
        agg["generation_per_call"],
        json!({"p50": 20, "p90": 80, "p95": 90, "p99": 98, "max": 100, "mean": 37})
    );
    assert_eq!(agg["window"]["files"], 3);
    assert_eq!(agg["window"]["malformed_lines"], 3);
    assert_eq!(agg["window"]["duplicate_records"], 2);
    assert_eq!(agg["totals"]["assistant_calls"], 5);
    assert_eq!(agg["totals"]["total_processed"], 153_307);
    assert_eq!(
        agg["concurrency"]["peak_calls_per_min"],
        json!({"minute": "2026-06-01T10:00", "calls": 3})
    );
    assert_eq!(
        agg["throughput"]["peak_output_tokens_per_hour"]["tokens"],
        177
    );
    assert_eq!(agg["throughput"]["peak_sustained_tok_per_s"], 0.0);
    // durations 1.5 h (sess-a) and 23.0 h (its subagent file): median 12.25, p95 = 1.5*0.05 +
    // 23*0.95 = 21.925
    assert_eq!(agg["sessions"]["median_duration_h"], 12.25);
    assert_eq!(agg["sessions"]["p95_duration_h"], 21.925);
    assert_eq!(
        agg["workflows"],
        json!({"dispatches": 1, "subagent_tokens": 4500, "agent_count_p50": 3, "agent_count_p95": 3,
               "agent_count_max": 3, "total_subagents": 3})
    );
    assert_eq!(agg["tools"], json!({"Agent": 1, "Skill": 1}));
    assert_eq!(agg["skills"], json!({"pdf": 1}));
    assert_eq!(agg["agent_types"], json!({"general-purpose": 1}));
    assert_eq!(
        agg["busiest_day"],
        json!({"day": "2026-06-01", "out": 177, "calls": 4, "sessions": 1})
    );

    // main = {6010, 7005} -> p50 6507.5 -> ties to even 6508; subagent = {30001, 40102, 70003}
    assert_eq!(roles["by_role"]["main"]["ctx"]["p50"], 6508);
    assert_eq!(roles["by_role"]["subagent"]["n"], 3);
    assert_eq!(roles["by_role"]["subagent"]["ctx"]["p50"], 40102);
    assert_eq!(
        roles["subagent_context_coverage_pct"],
        json!({"16384": 0.0, "32768": 33.3, "65536": 66.7, "131072": 100.0, "262144": 100.0})
    );

    // the summary renders the context histogram: 2 calls <= 8K (the longest bar), 1 <= 32K
    assert!(text.contains("context size per call (calls):"), "{text}");
    assert!(
        text.contains(&format!("  <= 8K    2 |{}\n", "#".repeat(40))),
        "{text}"
    );
    assert!(
        text.contains(&format!("  <= 32K   1 |{}\n", "#".repeat(20))),
        "{text}"
    );
    assert!(text.contains("3 malformed lines"), "{text}");
    assert!(text.contains("<=  32,768 tok : 33.3%"), "{text}");
}

#[test]
fn profile_of_a_missing_folder_is_empty_not_a_crash() {
    let dir = TempDir::new();
    let out = run(
        &dir.0,
        &["profile", "--logs-dir", "nope", "--out-dir", ".", "--json"],
    );
    let agg: Value = serde_json::from_str(&ok(&out)).unwrap();
    assert_eq!(agg["totals"]["assistant_calls"], 0);
    assert_eq!(agg["busiest_day"], Value::Null);
    assert_eq!(agg["daily"], json!([]));
    let roles = read_json(&dir.0.join("role_split.json"));
    assert_eq!(roles["subagent_context_coverage_pct"]["32768"], 0.0);
}

#[test]
fn profile_draws_no_progress_bar_when_stderr_is_not_a_terminal() {
    let dir = TempDir::new();
    let logs = dir.0.join("logs/-home-dev-big");
    std::fs::create_dir_all(&logs).unwrap();
    let session = fixtures().join("claude-projects/-home-dev-anvil/sess-a.jsonl");
    for i in 0..60 {
        std::fs::copy(&session, logs.join(format!("s{i:02}.jsonl"))).unwrap();
    }
    let out = run(&dir.0, &["profile", "--logs-dir", "logs", "--out-dir", "o"]);
    let text = ok(&out);
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // 60 copies of one session: each API response once, 59 x 3 repeats merged away
    assert!(text.contains("60 files, 1 sessions with calls"), "{text}");
    assert!(text.contains("2 assistant calls"), "{text}");
    let agg = read_json(&dir.0.join("o/usage_aggregate.json"));
    assert_eq!(agg["window"]["duplicate_records"], 1 + 59 * 3);
    assert_eq!(agg["window"]["malformed_lines"], 60 * 2);
}

// ---------------------------------------------------------------- models sync

fn sync(dir: &Path) -> (String, PathBuf) {
    let hf = fixtures().join("hf-cache/hub");
    let dirs = fixtures().join("model-dirs");
    let out_dir = dir.join("lib");
    let out = run(
        dir,
        &[
            "models",
            "sync",
            "--out",
            out_dir.to_str().unwrap(),
            "--hf-roots",
            hf.to_str().unwrap(),
            "--model-dirs",
            dirs.to_str().unwrap(),
            "--no-default-roots",
        ],
    );
    (ok(&out), out_dir)
}

#[test]
fn models_sync_flags_gguf_and_the_sm120_risks() {
    let dir = TempDir::new();
    let (text, lib) = sync(&dir.0);
    assert!(text.contains("discovered 7 model folders"), "{text}");
    let card = |slug: &str| read_json(&lib.join(format!("cards/{slug}.json")));

    let gguf = card("acme__coder-gguf");
    assert_eq!(gguf["format"], "GGUF");
    assert_eq!(gguf["sglang_loadable"], false);
    assert_eq!(gguf["vllm_loadable"], false);
    assert_eq!(gguf["engines"], json!(["llama.cpp"]));
    // from the GGUF header
    assert_eq!(gguf["context"], 32768);
    assert_eq!(gguf["license"], "mit");

    let fp8 = card("acme__moe-fp8");
    assert_eq!(
        fp8["sm120_caveat"],
        "FP8-MoE hangs post-load on sm_120 (sglang#16816)"
    );
    assert_eq!(fp8["sglang_loadable"], false);
    assert_eq!(fp8["moe"], true);
    assert_eq!(fp8["thinking_default"], true);
    // 2 weight/config/template blobs counted once each, not again through the snapshot symlinks
    let fp8_dir = fixtures().join("hf-cache/hub/models--acme--moe-fp8/blobs");
    let blob_bytes: u64 = std::fs::read_dir(fp8_dir)
        .unwrap()
        .flatten()
        .map(|e| e.metadata().unwrap().len())
        .sum();
    assert_eq!(fp8["size_bytes"], blob_bytes);

    let nvfp4 = card("acme__dense-nvfp4");
    assert!(nvfp4["sm120_caveat"]
        .as_str()
        .unwrap()
        .starts_with("NVFP4 GEMM broken on sm_120"));
    let mxfp4 = card("openai__gpt-oss-mini");
    assert_eq!(mxfp4["moe"], true);
    assert_eq!(mxfp4["sm120_caveat"], Value::Null);
    assert_eq!(mxfp4["sglang_loadable"], true);

    let dense = card("acme__dense-7b");
    assert_eq!(dense["license"], "apache-2.0");
    assert_eq!(dense["benchmarks"]["SWE-bench Verified"], "41.5");
    // `LiveCodeBench v6 38.0`: the version is skipped
    assert_eq!(dense["benchmarks"]["LiveCodeBench"], "38.0");
    assert_eq!(
        dense["gen_sampling"],
        json!({"temperature": 0.6, "top_p": 0.95})
    );

    assert_eq!(card("org__my-model")["source"], "dir");
    assert_eq!(card("bare")["id"], "bare");
    assert!(!lib.join("cards/gpt2.json").exists());

    let index = std::fs::read_to_string(lib.join("INDEX.md")).unwrap();
    let row = |id: &str| {
        index
            .lines()
            .find(|l| l.starts_with(&format!("| {id} |")))
            .unwrap_or_else(|| panic!("no INDEX row for {id}:\n{index}"))
            .to_owned()
    };
    assert!(row("acme/coder-gguf").contains("| ❌ (llama.cpp) | ❌ (llama.cpp) |"));
    assert!(row("acme/moe-fp8").contains("| ⚠️ sm_120 |"));
    assert!(row("acme/dense-7b").contains("| ✅ | ✅ |"));
    assert!(row("acme/dense-7b").contains("| 32K |"));
    assert!(row("org/my-model").contains("| 512 |"));
    // safetensors rows come before the GGUF row
    let pos = |id: &str| index.find(&format!("| {id} |")).unwrap();
    assert!(pos("acme/dense-7b") < pos("acme/coder-gguf"));

    assert!(
        text.contains("NEW_MODELS: acme/coder-gguf, acme/dense-7b"),
        "{text}"
    );
    let (again, _) = sync(&dir.0);
    assert!(again.contains("NEW_MODELS: none"), "{again}");
}

#[test]
fn models_sync_reads_the_roots_from_the_environment() {
    let dir = TempDir::new();
    let hub = fixtures().join("hf-cache/hub");
    let dirs = fixtures().join("model-dirs");
    // HF_HUB_CACHE is the hub folder itself (no /hub appended), as huggingface_hub reads it
    let out = run_env(&dir.0, &["models", "sync"], &[("HF_HUB_CACHE", &hub)]);
    assert!(ok(&out).contains("discovered 5 model folders"));
    // HF_HOME gets /hub appended; ANVIL_MODEL_DIRS adds plain folders; the default output folder
    let home = dir.0.join("hf-home");
    copy_tree(&hub, &home.join("hub"));
    let out = run_env(
        &dir.0,
        &["models", "sync"],
        &[("HF_HOME", &home), ("ANVIL_MODEL_DIRS", &dirs)],
    );
    assert!(ok(&out).contains("discovered 7 model folders"));
    assert!(dir.0.join("model-library/INDEX.md").is_file());
    // ~/.cache/huggingface/hub under HOME is a default root too; --no-default-roots drops it
    copy_tree(&hub, &dir.0.join(".cache/huggingface/hub"));
    assert!(ok(&run(&dir.0, &["models", "sync"])).contains("discovered 5 model folders"));
    assert!(ok(&run(&dir.0, &["models", "sync", "--no-default-roots"]))
        .contains("discovered 0 model folders"));
}

// ---------------------------------------------------------------- deploy

fn yaml(path: &Path) -> yaml_rust2::Yaml {
    yaml_rust2::YamlLoader::load_from_str(&std::fs::read_to_string(path).unwrap())
        .unwrap()
        .remove(0)
}

#[test]
fn deploy_renders_yaml_that_pins_the_gpu() {
    let dir = TempDir::new();
    let out = run(
        &dir.0,
        &[
            "deploy",
            "--model",
            "/data/my model: \"q\"",
            "--gpu",
            "1",
            "--context",
            "65536",
            "--served-name",
            "fast",
            "--out",
            "f.yml",
        ],
    );
    let text = ok(&out);
    assert!(
        text.contains("Launch:  docker compose -f f.yml up -d"),
        "{text}"
    );
    let doc = yaml(&dir.0.join("f.yml"));
    let svc = &doc["services"]["sglang"];
    assert_eq!(
        svc["deploy"]["resources"]["reservations"]["devices"][0]["device_ids"][0].as_str(),
        Some("1")
    );
    assert_eq!(
        svc["volumes"][0].as_str(),
        Some("/data/my model: \"q\":/models/local:ro")
    );
    let argv: Vec<&str> = svc["command"]
        .as_vec()
        .unwrap()
        .iter()
        .map(|y| y.as_str().unwrap())
        .collect();
    for pair in [
        ["--context-length", "65536"],
        ["--served-model-name", "fast"],
        ["--port", "30000"],
    ] {
        assert!(argv.windows(2).any(|w| w == pair), "{argv:?}");
    }
    assert!(argv.contains(&"--weight-loader-disable-mmap"));

    let out = run(
        &dir.0,
        &[
            "deploy", "--engine", "vllm", "--model", "/m/x", "--gpu", "3", "--out", "-",
        ],
    );
    let text = ok(&out);
    let doc = yaml_rust2::YamlLoader::load_from_str(&text)
        .unwrap()
        .remove(0);
    let svc = &doc["services"]["vllm"];
    assert_eq!(
        svc["deploy"]["resources"]["reservations"]["devices"][0]["device_ids"][0].as_str(),
        Some("3")
    );
    assert_eq!(svc["entrypoint"][0].as_str(), Some("vllm"));
    assert_eq!(svc["command"][0].as_str(), Some("serve"));

    let out = run(
        &dir.0,
        &["deploy", "--model", "/m/x", "--gpu", "0,1", "--out", "-"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("exactly one GPU"));
}

#[test]
fn deploy_refuses_gguf_and_warns_about_sm120() {
    let dir = TempDir::new();
    let gguf = fixtures().join("hf-cache/hub/models--acme--coder-gguf/snapshots/1a2b3c4d");
    let out = run(&dir.0, &["deploy", "--model", gguf.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("GGUF"));
    assert!(!dir.0.join("docker-compose.yml").exists());

    let fp8 = fixtures().join("hf-cache/hub/models--acme--moe-fp8/snapshots/2b3c4d5e");
    let out = run(&dir.0, &["deploy", "--model", fp8.to_str().unwrap()]);
    ok(&out);
    assert!(String::from_utf8_lossy(&out.stderr).contains("sglang#16816"));
    let text = std::fs::read_to_string(dir.0.join("docker-compose.yml")).unwrap();
    assert!(text.contains("# NOTE: sm_120 risk"), "{text}");
    assert!(text.contains("thinks by default"), "{text}");
}

// ---------------------------------------------------------------- score

#[test]
fn score_ranks_from_published_numbers_only() {
    let dir = TempDir::new();
    let out = run(&dir.0, &["score", "--no-local", "--json"]);
    let doc: Value = serde_json::from_str(&ok(&out)).unwrap();
    assert_eq!(
        doc["mixture"]["fast"]["coding"]["basis"],
        "SWE-bench Verified"
    );
    assert_eq!(doc["mixture"]["fast"]["coding"]["score"], 68.0);
    assert_eq!(doc["mixture"]["heavy"]["writing"]["pick"], Value::Null);
    for c in doc["candidates"].as_array().unwrap() {
        if let Some(p) = c["roles"]["coding"]["provenance"].as_str() {
            assert!(p.contains("model card"), "{p}");
        }
    }

    // with the fixture cache: local rows carry the card's numbers; others stay unknown
    let hf = fixtures().join("hf-cache/hub");
    let out = run(
        &dir.0,
        &[
            "score",
            "--hf-roots",
            hf.to_str().unwrap(),
            "--no-default-roots",
        ],
    );
    let md = ok(&out);
    let row = |id: &str| {
        md.lines()
            .find(|l| l.starts_with(&format!("| {id} |")))
            .unwrap()
            .to_owned()
    };
    assert!(
        row("acme/dense-7b").contains("41.5 (SWE-bench Verified)"),
        "{md}"
    );
    assert!(
        row("openai/gpt-oss-mini").contains("| unknown | unknown | unknown |"),
        "{md}"
    );
    // the GGUF model is not servable by SGLang/vLLM
    assert!(row("acme/coder-gguf").contains("| no |"), "{md}");
}

// ---------------------------------------------------------------- cache-prune

#[test]
fn cache_prune_plans_by_default_and_deletes_only_with_execute() {
    let dir = TempDir::new();
    let hub = dir.0.join("hub");
    copy_tree(&fixtures().join("hf-cache/hub"), &hub);
    let roots = ["--hf-roots", hub.to_str().unwrap(), "--no-default-roots"];
    let args = |extra: &[&str]| {
        let mut v = vec!["cache-prune"];
        v.extend_from_slice(&roots);
        v.extend_from_slice(extra);
        v.into_iter().map(str::to_owned).collect::<Vec<_>>()
    };
    let call = |extra: &[&str]| {
        let a = args(extra);
        run(&dir.0, &a.iter().map(String::as_str).collect::<Vec<_>>())
    };

    let plan = call(&["--mixture", "acme/dense-7b", "--json"]);
    let doc: Value = serde_json::from_str(&ok(&plan)).unwrap();
    let reasons: Vec<(String, String)> = doc["plan"]["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["id"].as_str().unwrap().to_owned(),
                c["reason"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(reasons.contains(&("acme/moe-fp8".into(), "incompatible-sm120".into())));
    assert!(reasons.contains(&("acme/dense-nvfp4".into(), "incompatible-sm120".into())));
    assert!(reasons.contains(&("acme/coder-gguf".into(), "incompatible-gguf".into())));
    assert!(reasons.contains(&("openai/gpt-oss-mini".into(), "purposeless".into())));
    assert!(!reasons.iter().any(|(id, _)| id == "acme/dense-7b"));
    assert_eq!(doc["report"]["dry_run"], true);
    assert!(
        hub.join("models--acme--moe-fp8").is_dir(),
        "a plan deletes nothing"
    );

    // gates
    let refused = call(&["--execute"]);
    assert_eq!(refused.status.code(), Some(2));
    let broad = call(&["--execute", "--yes", "--include-servable"]);
    assert_eq!(broad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&broad.stderr).contains("REFUSING broad wipe"));
    let ghost = call(&["--mixture", "ghost/x", "--execute", "--yes"]);
    assert_eq!(ghost.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&ghost.stdout).starts_with("ABORT"));
    let dry = call(&["--execute", "--yes", "--dry-run"]);
    assert!(ok(&dry).contains("DRY-RUN (--dry-run overrides --execute)"));
    assert!(hub.join("models--acme--moe-fp8").is_dir());

    // execute: only the dead (sm_120) models go; the protected and servable ones stay
    let done = call(&["--mixture", "acme/dense-7b", "--execute", "--yes"]);
    let text = ok(&done);
    assert!(
        text.contains("deleted: [\"acme/moe-fp8\", \"acme/dense-nvfp4\"]")
            || text.contains("deleted: [\"acme/dense-nvfp4\", \"acme/moe-fp8\"]"),
        "{text}"
    );
    assert!(!hub.join("models--acme--moe-fp8").exists());
    assert!(!hub.join("models--acme--dense-nvfp4").exists());
    for kept in [
        "models--acme--dense-7b",
        "models--acme--coder-gguf",
        "models--openai--gpt-oss-mini",
    ] {
        assert!(hub.join(kept).is_dir(), "{kept} must survive");
    }
    assert!(text.contains("kept (servable elsewhere)"), "{text}");
}

// ---------------------------------------------------------------- eval bootstrap -> quality import

fn write_config(dir: &Path) -> PathBuf {
    let example =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs/example-with-cloud.toml");
    let text = std::fs::read_to_string(example).unwrap();
    let path = dir.join("anvil.toml");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn eval_bootstrap_rows_import_and_deny_planning_on_both_local_tiers() {
    let dir = TempDir::new();
    let profile = dir.0.join("profile.json");
    let eval_data = fixtures().join("eval-data");
    let out = run(
        &dir.0,
        &[
            "eval",
            "bootstrap",
            "--eval-data",
            eval_data.to_str().unwrap(),
            "--out",
            profile.to_str().unwrap(),
        ],
    );
    let text = ok(&out);
    assert!(text.contains("(3 entries)"), "{text}");
    let doc = read_json(&profile);
    let entry = |tier: &str| {
        doc["entries"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["tier_id"] == tier)
            .unwrap()
            .clone()
    };
    for (tier, avg, score, decision) in [
        ("cloud", 24.75, 0.99, "allow"),
        ("fast-local", 16.0, 0.64, "deny"),
        ("heavy-local", 13.25, 0.53, "deny"),
    ] {
        let e = entry(tier);
        assert_eq!(e["work_class"], "planning");
        assert_eq!(e["eval_total_avg"], avg, "{tier}");
        assert_eq!(e["quality_score"], score, "{tier}");
        assert_eq!(e["decision"], decision, "{tier}");
        assert_eq!(e["sample_n"], 4);
        assert_eq!(e["last_measured"], "2026-06-28");
    }
    // byte-stable
    let again = dir.0.join("again.json");
    ok(&run(
        &dir.0,
        &[
            "eval",
            "bootstrap",
            "--eval-data",
            eval_data.to_str().unwrap(),
            "--out",
            again.to_str().unwrap(),
        ],
    ));
    assert_eq!(
        std::fs::read(&profile).unwrap(),
        std::fs::read(&again).unwrap()
    );

    // the real `quality import` accepts the rows, and `quality show` denies planning locally
    let config = write_config(&dir.0);
    let db = dir.0.join("anvil.db");
    let store = [
        "--config",
        config.to_str().unwrap(),
        "--db",
        db.to_str().unwrap(),
    ];
    let mut import = vec!["quality", "import", profile.to_str().unwrap()];
    import.extend_from_slice(&store);
    assert!(ok(&run(&dir.0, &import)).contains("imported 3 entries"));
    let mut show = vec!["quality", "show"];
    show.extend_from_slice(&store);
    let table = ok(&run(&dir.0, &show));
    let header = table.lines().next().unwrap();
    let col = header.find("  planning").unwrap() + 2;
    let cell = |tier: &str| {
        let line = table
            .lines()
            .find(|l| l.split_whitespace().next() == Some(tier))
            .unwrap();
        line[col..].split("  ").next().unwrap().trim().to_owned()
    };
    assert_eq!(cell("fast-local"), "deny 0.64 *");
    assert_eq!(cell("heavy-local"), "deny 0.53 *");
    assert_eq!(cell("cloud"), "allow 0.99 *");
}

#[test]
fn eval_bootstrap_rejects_a_total_that_is_not_the_sum() {
    let dir = TempDir::new();
    let data = dir.0.join("data");
    copy_tree(&fixtures().join("eval-data"), &data);
    let judge = data.join("2026-06-28-planning-capability/grading/judge_prdA-backlog_1.json");
    let mut g = read_json(&judge);
    g["candidates"]["X"]["total"] = json!(24);
    std::fs::write(&judge, g.to_string()).unwrap();
    let out = run(
        &dir.0,
        &["eval", "bootstrap", "--eval-data", data.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not the sum of its dimensions"));
    assert!(!dir.0.join("profile.json").exists());
}

// ---------------------------------------------------------------- help and flags

const VERBS: &[&[&str]] = &[
    &["profile"],
    &["models", "sync"],
    &["deploy"],
    &["preflight"],
    &["benchmark"],
    &["eval", "run"],
    &["eval", "grade"],
    &["eval", "bootstrap"],
    &["score"],
    &["cache-prune"],
    &["config", "check"],
    &["quality", "show"],
    &["quality", "set"],
    &["quality", "import"],
    &["quality", "export"],
    &["decisions", "tail"],
    &["decisions", "stats"],
];

#[test]
fn every_verb_help_shows_a_worked_example() {
    let dir = TempDir::new();
    for verb in VERBS {
        let mut args = verb.to_vec();
        args.push("--help");
        let text = ok(&run(&dir.0, &args));
        assert!(
            text.contains("Example") && text.contains("anvil-substrate "),
            "{verb:?} --help has no worked example:\n{text}"
        );
    }
}

#[test]
fn bad_flags_give_a_one_line_error_and_exit_2() {
    let dir = TempDir::new();
    for verb in VERBS {
        let mut args = verb.to_vec();
        args.push("--no-such-flag");
        let out = run(&dir.0, &args);
        assert_eq!(out.status.code(), Some(2), "{verb:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        let first = err.lines().next().unwrap_or_default();
        assert!(
            first.starts_with("error: unexpected argument '--no-such-flag'"),
            "{verb:?}: {err}"
        );
    }
    let out = run(
        &dir.0,
        &[
            "preflight",
            "--base-url",
            "http://x",
            "--model",
            "m",
            "--tool-batch",
            "0",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    let out = run(&dir.0, &["deploy", "--gpu", "0"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "deploy without --model is a usage error"
    );
}
