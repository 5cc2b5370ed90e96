//! Black-box tests of the network verbs (`preflight`, `benchmark`, `eval run/grade`) against the
//! workspace mock upstream, started in-process on port 0 with a persona.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::{Command, Output};

use anvil_mock_upstream::{serve, MockState, Persona};
use serde_json::{json, Value};

mod common;
use common::TempDir;

/// A mock upstream serving on a loopback port chosen by the OS.
struct Mock {
    _rt: tokio::runtime::Runtime,
    base: String,
    state: MockState,
}

fn mock(persona: Persona) -> Mock {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let state = MockState::with_persona(persona);
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    rt.spawn(serve(listener, state.clone()));
    Mock {
        _rt: rt,
        base: format!("http://{addr}/v1"),
        state,
    }
}

impl Mock {
    fn chat_bodies(&self) -> Vec<Value> {
        self.state
            .requests()
            .into_iter()
            .filter(|r| r["path"] == "/v1/chat/completions")
            .map(|r| r["body"].clone())
            .collect()
    }
}

/// A base URL nothing listens on.
fn dead_url() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    drop(l);
    format!("http://{addr}/v1")
}

fn run_in(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_anvil-substrate"));
    cmd.args(args).current_dir(dir).env("HOME", dir);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn preflight(m: &str, base: &str, extra: &[&str]) -> (Output, TempDir) {
    let dir = TempDir::new();
    let mut args = vec![
        "preflight",
        "--base-url",
        base,
        "--model",
        m,
        "--needle-ctx",
        "2000",
        "--tool-batch",
        "3",
    ];
    args.extend_from_slice(extra);
    let out = run_in(&dir.0, &args, &[]);
    (out, dir)
}

fn line_of<'a>(out: &'a str, check: &str) -> &'a str {
    out.lines()
        .find(|l| l.contains(check))
        .unwrap_or_else(|| panic!("no line for {check}:\n{out}"))
}

// ---------------------------------------------------------------- preflight

#[test]
fn preflight_passes_against_a_healthy_model() {
    let m = mock(Persona::Healthy);
    let (out, _dir) = preflight("local-specialist", &format!("{}/", m.base), &[]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert_eq!(t.matches("[PASS]").count(), 5, "{t}");
    assert!(t.contains("RESULT: ALL PASS"), "{t}");
    assert!(t.contains("thinking=default"), "{t}");

    let bodies = m.chat_bodies();
    assert_eq!(bodies.len(), 4 + 3, "4 single checks and a batch of 3");
    for b in &bodies {
        assert_eq!(b["max_tokens"], 256);
        assert_eq!(b["temperature"], 0.0);
        assert_eq!(b["model"], "local-specialist");
        assert!(b.get("chat_template_kwargs").is_none());
    }
    let needle = bodies
        .iter()
        .find(|b| {
            b["messages"][0]["content"]
                .as_str()
                .unwrap()
                .contains("launch code")
        })
        .unwrap();
    assert_eq!(
        needle["messages"][0]["content"]
            .as_str()
            .unwrap()
            .chars()
            .count(),
        11_365
    );
    let batch: Vec<&Value> = bodies.iter().filter(|b| b.get("tools").is_some()).collect();
    assert_eq!(batch.len(), 3);
    for b in batch {
        assert_eq!(b["tool_choice"], "auto");
        assert_eq!(b["messages"][0]["content"].as_str().unwrap().len(), 25_600);
    }
    // no doubled slash from the trailing one
    assert!(m
        .state
        .requests()
        .iter()
        .all(|r| r["path"] == "/v1/chat/completions"));
}

#[test]
fn preflight_no_thinking_and_the_api_key() {
    let m = mock(Persona::Healthy);
    let dir = TempDir::new();
    let out = run_in(
        &dir.0,
        &[
            "preflight",
            "--base-url",
            &m.base,
            "--model",
            "m",
            "--needle-ctx",
            "500",
            "--tool-batch",
            "1",
            "--no-thinking",
            "--api-key-env",
            "PF_KEY",
        ],
        &[("PF_KEY", "sk-preflight-secret")],
    );
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert!(t.contains("thinking=off (enable_thinking=False)"), "{t}");
    for b in m.chat_bodies() {
        assert_eq!(b["chat_template_kwargs"], json!({"enable_thinking": false}));
    }
    for r in m.state.requests() {
        assert_eq!(r["headers"]["authorization"], "Bearer sk-preflight-secret");
    }
    assert!(!t.contains("sk-preflight-secret"));
    assert!(!String::from_utf8_lossy(&out.stderr).contains("sk-preflight-secret"));
}

#[test]
fn preflight_fails_naming_the_check_against_broken_models() {
    for (persona, check, why) in [
        (Persona::BrokenJson, "strict JSON", "not JSON"),
        (Persona::LoseNeedle, "needle @ ~2000 ctx", "could not find"),
        (
            Persona::StarveThinking,
            "thinking headroom",
            "thinking starvation",
        ),
        (
            Persona::GarbageTools,
            "tool batch x3",
            "0/3 clean (sample: garbage content",
        ),
    ] {
        let m = mock(persona);
        let (out, _dir) = preflight("m", &m.base, &[]);
        let t = text(&out);
        assert_eq!(out.status.code(), Some(1), "{persona:?}: {t}");
        let line = line_of(&t, check);
        assert!(line.starts_with("[FAIL]"), "{persona:?}: {line}");
        assert!(line.contains(why), "{persona:?}: {line}");
        let result = line_of(&t, "RESULT:");
        if persona == Persona::StarveThinking {
            // a starving model fails every check that needs an answer, each saying why
            assert!(result.contains(check), "{t}");
            assert_eq!(t.matches("thinking starvation").count(), 5, "{t}");
        } else {
            assert_eq!(
                result,
                format!("RESULT: FAILURES PRESENT ({check})"),
                "{persona:?}: {t}"
            );
        }
    }
}

#[test]
fn preflight_against_nothing_fails_every_check() {
    let (out, _dir) = preflight("m", &dead_url(), &[]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert_eq!(t.matches("[FAIL]").count(), 5, "{t}");
    assert!(line_of(&t, "smoke").contains("error:"), "{t}");
}

// ---------------------------------------------------------------- benchmark

#[test]
fn benchmark_reports_ttft_and_throughput_percentiles() {
    let m = mock(Persona::Healthy);
    let dir = TempDir::new();
    let report = dir.0.join("bench.json");
    let out = run_in(
        &dir.0,
        &[
            "benchmark",
            "--base-url",
            &m.base,
            "--model",
            "m",
            "--requests",
            "4",
            "--concurrency",
            "2",
            "--ctx-tokens",
            "3000",
            "--shared-prefix-tokens",
            "1000",
            "--max-tokens",
            "16",
            "--json",
            report.to_str().unwrap(),
        ],
        &[],
    );
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    // the window came from GET /v1/models: 32768 - 16 - 1024
    assert!(t.contains("max_model_len=32768(ctx<=31728)"), "{t}");
    assert!(t.contains("completed:        4/4"), "{t}");
    assert!(t.contains("TTFT  p50/p90/p95/p99:"), "{t}");
    assert!(t.contains("TTFT histogram (requests):"), "{t}");
    assert!(t.contains("throughput:"), "{t}");
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(doc["completed"], 4);
    assert_eq!(doc["output_tokens"], 4 * 16);
    let ttft = &doc["ttft_s"];
    assert!(ttft["p50"].as_f64().unwrap() > 0.0);
    assert!(ttft["p50"].as_f64().unwrap() <= ttft["p95"].as_f64().unwrap());
    assert!(doc["e2e_s"]["p99"].as_f64().unwrap() >= ttft["p99"].as_f64().unwrap());
    assert!(doc["throughput_tok_per_s"].as_f64().unwrap() > 0.0);
    // the shared prefix is served from the (simulated) prefix cache after the first request
    assert!(doc["prefix_cache_hit"].as_f64().unwrap() > 0.0, "{doc}");
    for b in m.chat_bodies() {
        assert_eq!(b["stream"], true);
        assert_eq!(b["stream_options"], json!({"include_usage": true}));
        assert_eq!(b["max_tokens"], 16);
    }
}

#[test]
fn benchmark_replays_the_profile_distribution_and_bursts() {
    let m = mock(Persona::Healthy);
    let dir = TempDir::new();
    let logs = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/claude-projects");
    let prof = run_in(
        &dir.0,
        &[
            "profile",
            "--logs-dir",
            logs.to_str().unwrap(),
            "--out-dir",
            "p",
        ],
        &[],
    );
    assert!(prof.status.success());
    let out = run_in(
        &dir.0,
        &[
            "benchmark",
            "--base-url",
            &m.base,
            "--model",
            "m",
            "--profile",
            "p/role_split.json",
            "--requests",
            "3",
            "--concurrency",
            "3",
            "--max-model-len",
            "600000",
            "--max-tokens",
            "4",
            "--shared-prefix-tokens",
            "100",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    // subagent calls: one each <= 32K, <= 64K, <= 128K -> three prompts of about 4 characters
    // per token of those sizes
    let mut chars: Vec<usize> = m
        .chat_bodies()
        .iter()
        .map(|b| b["messages"][0]["content"].as_str().unwrap().len())
        .collect();
    chars.sort_unstable();
    for (c, ctx) in chars.iter().zip([32_768usize, 65_536, 131_072]) {
        assert!(*c >= ctx * 4 && *c < ctx * 4 + 200, "{chars:?}");
    }

    let m = mock(Persona::Healthy);
    let out = run_in(
        &dir.0,
        &[
            "benchmark",
            "--base-url",
            &m.base,
            "--model",
            "m",
            "--burst",
            "3",
            "--ctx-tokens",
            "1000",
            "--max-tokens",
            "4",
        ],
        &[],
    );
    let t = text(&out);
    assert!(t.contains("n=3 concurrency=3 BURST(shared-prefix)"), "{t}");
    let bodies = m.chat_bodies();
    assert_eq!(bodies.len(), 3);
    for b in bodies {
        assert!(b["messages"][0]["content"]
            .as_str()
            .unwrap()
            .contains("# request 0:"));
    }
}

#[test]
fn benchmark_exits_non_zero_when_the_endpoint_is_unreachable() {
    let dir = TempDir::new();
    let out = run_in(
        &dir.0,
        &[
            "benchmark",
            "--base-url",
            &dead_url(),
            "--model",
            "m",
            "--requests",
            "2",
            "--ctx-tokens",
            "500",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    let t = text(&out);
    assert!(t.contains("completed:        0/2"), "{t}");
    assert!(t.contains("req error:"), "{t}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("no request completed"));
}

// ---------------------------------------------------------------- eval run / grade / bootstrap

#[test]
fn eval_runs_prompts_against_tiers_and_records_grades() {
    let m = mock(Persona::Healthy);
    let dir = TempDir::new();
    let eval = dir.0.join("evals/2026-07-01-review-capability");
    std::fs::create_dir_all(eval.join("prompts")).unwrap();
    std::fs::write(
        eval.join("prompts/prompt_p1.txt"),
        "=== SYSTEM ===\nYou review diffs.\n\n=== USER ===\nWhat is 2 + 3?",
    )
    .unwrap();
    let heavy = format!("heavy=qwen-heavy@{}", m.base);
    let fast = format!("fast=gpt-fast@{}", m.base);
    let out = run_in(
        &dir.0,
        &[
            "eval",
            "run",
            "--dir",
            eval.to_str().unwrap(),
            "--tier",
            &heavy,
            "--tier",
            &fast,
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(
        std::fs::read_to_string(eval.join("outputs/out_p1__heavy.md")).unwrap(),
        "5"
    );
    let bodies = m.chat_bodies();
    assert_eq!(bodies.len(), 2);
    assert_eq!(
        bodies[0]["messages"][0],
        json!({"role": "system", "content": "You review diffs."})
    );
    let anon: Value =
        serde_json::from_str(&std::fs::read_to_string(eval.join("grading/anon_map.json")).unwrap())
            .unwrap();
    let (lh, lf) = (
        anon["p1"]["heavy"].as_str().unwrap().to_owned(),
        anon["p1"]["fast"].as_str().unwrap().to_owned(),
    );
    assert_ne!(lh, lf);
    assert!(eval.join(format!("grading/blind/p1/{lh}.md")).is_file());

    // one judge's grades: heavy 24/25, fast 15/25
    let dims = |v: [u32; 5]| {
        json!({"decomposition_granularity": v[0], "requirement_coverage": v[1], "dependency_correctness": v[2],
               "acceptance_verifiability": v[3], "faithfulness": v[4]})
    };
    let grades = json!({"judge": "j1", "candidates": {
        lh.clone(): {"scores": dims([5, 5, 5, 5, 4]), "total": 24, "notes": ""},
        lf.clone(): {"scores": dims([3, 3, 3, 3, 3]), "total": 15, "notes": ""},
    }, "ranking": [lh, lf]});
    let gfile = dir.0.join("g.json");
    std::fs::write(&gfile, grades.to_string()).unwrap();
    let out = run_in(
        &dir.0,
        &[
            "eval",
            "grade",
            "--dir",
            eval.to_str().unwrap(),
            "--prompt",
            "p1",
            "--grades",
            gfile.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(eval.join("grading/judge_p1_1.json").is_file());

    let out = run_in(
        &dir.0,
        &[
            "eval",
            "bootstrap",
            "--eval-data",
            "evals",
            "--out",
            "profile.json",
        ],
        &[],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.0.join("profile.json")).unwrap())
            .unwrap();
    let rows: Vec<(String, String, String)> = doc["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["tier_id"].as_str().unwrap().to_owned(),
                e["work_class"].as_str().unwrap().to_owned(),
                e["decision"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        vec![
            ("fast-local".into(), "review".into(), "deny".into()),
            ("heavy-local".into(), "review".into(), "allow".into()),
        ]
    );

    // a grade file with a wrong total is refused and nothing is recorded
    let bad = json!({"candidates": {
        anon["p1"]["heavy"].as_str().unwrap(): {"scores": dims([1, 1, 1, 1, 1]), "total": 9},
        anon["p1"]["fast"].as_str().unwrap(): {"scores": dims([1, 1, 1, 1, 1]), "total": 5},
    }});
    std::fs::write(&gfile, bad.to_string()).unwrap();
    let out = run_in(
        &dir.0,
        &[
            "eval",
            "grade",
            "--dir",
            eval.to_str().unwrap(),
            "--prompt",
            "p1",
            "--grades",
            gfile.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(!eval.join("grading/judge_p1_2.json").exists());
}

#[test]
fn eval_runs_config_tiers_by_id_with_their_keys() {
    let m = mock(Persona::Healthy);
    let dir = TempDir::new();
    let example =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs/example-with-cloud.toml");
    let config = std::fs::read_to_string(example)
        .unwrap()
        .replace("http://127.0.0.1:30001/v1", &m.base)
        .replace("http://127.0.0.1:30000/v1", &m.base);
    std::fs::write(dir.0.join("anvil.toml"), config).unwrap();
    let eval = dir.0.join("evals/2026-07-02-planning-capability");
    std::fs::create_dir_all(eval.join("prompts")).unwrap();
    std::fs::write(eval.join("prompts/prompt_p.txt"), "What is 20 + 22?").unwrap();
    let out = run_in(
        &dir.0,
        &[
            "eval",
            "run",
            "--dir",
            eval.to_str().unwrap(),
            "--config",
            "anvil.toml",
            "--tier",
            "fast-local",
            "--tier",
            "heavy-local",
        ],
        &[("ANVIL_FAST_LOCAL_KEY", "sk-fast-secret")],
    );
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert!(!t.contains("sk-fast-secret"));
    assert_eq!(
        std::fs::read_to_string(eval.join("outputs/out_p__fast-local.md")).unwrap(),
        "42"
    );
    let reqs: Vec<Value> = m.state.requests();
    let by_model = |model: &str| {
        reqs.iter()
            .find(|r| r["body"]["model"] == model)
            .unwrap()
            .clone()
    };
    assert_eq!(
        by_model("gpt-oss-20b")["headers"]["authorization"],
        "Bearer sk-fast-secret"
    );
    assert!(by_model("local-specialist")["headers"]
        .get("authorization")
        .is_none());

    // an anthropic-dialect tier cannot be evaluated; an unknown id is named
    let out = run_in(
        &dir.0,
        &[
            "eval",
            "run",
            "--dir",
            eval.to_str().unwrap(),
            "--config",
            "anvil.toml",
            "--tier",
            "cloud",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("only openai-dialect tiers"));
    let out = run_in(
        &dir.0,
        &[
            "eval",
            "run",
            "--dir",
            eval.to_str().unwrap(),
            "--tier",
            "fast-local",
        ],
        &[],
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("needs --config"));

    // bootstrap with the config: tier-id labels map to themselves
    let anon: Value =
        serde_json::from_str(&std::fs::read_to_string(eval.join("grading/anon_map.json")).unwrap())
            .unwrap();
    let dims = json!({"decomposition_granularity": 4, "requirement_coverage": 4, "dependency_correctness": 4,
                      "acceptance_verifiability": 4, "faithfulness": 4});
    let mut cands = serde_json::Map::new();
    for letter in anon["p"].as_object().unwrap().values() {
        cands.insert(
            letter.as_str().unwrap().to_owned(),
            json!({"scores": dims, "total": 20}),
        );
    }
    let gfile = dir.0.join("g.json");
    std::fs::write(&gfile, json!({"candidates": cands}).to_string()).unwrap();
    let out = run_in(
        &dir.0,
        &[
            "eval",
            "grade",
            "--dir",
            eval.to_str().unwrap(),
            "--prompt",
            "p",
            "--grades",
            gfile.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(0));
    let out = run_in(
        &dir.0,
        &[
            "eval",
            "bootstrap",
            "--eval-data",
            "evals",
            "--config",
            "anvil.toml",
        ],
        &[],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.0.join("profile.json")).unwrap())
            .unwrap();
    let rows: Vec<(String, String)> = doc["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["tier_id"].as_str().unwrap().to_owned(),
                e["decision"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    // 20/25 = 0.8: allow-with-verify
    assert_eq!(
        rows,
        vec![
            ("fast-local".into(), "allow-with-verify".into()),
            ("heavy-local".into(), "allow-with-verify".into()),
        ]
    );
}

#[test]
fn preflight_and_benchmark_test_a_config_tier_by_id() {
    let m = mock(Persona::Healthy);
    let dir = TempDir::new();
    let example =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs/example-with-cloud.toml");
    let config = std::fs::read_to_string(example)
        .unwrap()
        .replace("http://127.0.0.1:30000/v1", &m.base);
    std::fs::write(dir.0.join("anvil.toml"), config).unwrap();
    let out = run_in(
        &dir.0,
        &[
            "preflight",
            "--config",
            "anvil.toml",
            "--tier",
            "heavy-local",
            "--needle-ctx",
            "500",
            "--tool-batch",
            "2",
        ],
        &[("ANVIL_HEAVY_LOCAL_KEY", "sk-heavy-secret")],
    );
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert!(t.contains("model=local-specialist"), "{t}");
    assert!(!t.contains("sk-heavy-secret"));
    for r in m.state.requests() {
        assert_eq!(r["headers"]["authorization"], "Bearer sk-heavy-secret");
        assert_eq!(r["body"]["model"], "local-specialist");
    }
    let out = run_in(
        &dir.0,
        &[
            "benchmark",
            "--config",
            "anvil.toml",
            "--tier",
            "heavy-local",
            "--requests",
            "2",
            "--ctx-tokens",
            "500",
            "--max-tokens",
            "4",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    // usage errors: a tier without a config, neither a tier nor a base URL
    let out = run_in(&dir.0, &["preflight", "--tier", "heavy-local"], &[]);
    assert_eq!(out.status.code(), Some(2));
    let out = run_in(&dir.0, &["benchmark", "--model", "m"], &[]);
    assert_eq!(out.status.code(), Some(2));
}
