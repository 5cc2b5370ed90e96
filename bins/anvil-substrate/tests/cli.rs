//! Black-box tests of the `anvil-substrate` binary.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{json, Value};

mod common;
use common::TempDir;

/// The repo's example config with `data_dir` pointed into `dir` (under a `~`, to exercise the
/// expansion with `$HOME = dir`).
fn write_config(dir: &Path) -> PathBuf {
    let example =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs/example-with-cloud.toml");
    let text = std::fs::read_to_string(example).unwrap();
    let text = text.replacen("[router]\n", "[router]\ndata_dir = \"~/state/anvil\"\n", 1);
    let path = dir.join("anvil.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn run(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_anvil-substrate"))
        .args(args)
        .env("HOME", dir)
        .output()
        .unwrap()
}

fn stdout(out: &Output) -> String {
    assert!(
        out.status.success(),
        "status {:?}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

/// The cell of `tier` × `work_class` in `quality show` output.
fn show_cell(table: &str, tier: &str, work_class: &str) -> String {
    let mut lines = table.lines();
    let header = lines.next().unwrap();
    let start = header.find(&format!("  {work_class}")).unwrap() + 2;
    let line = lines
        .find(|l| l.split_whitespace().next() == Some(tier))
        .unwrap();
    let rest = &line[start..];
    let end = rest.find("  ").unwrap_or(rest.len());
    rest[..end].trim().to_owned()
}

#[test]
fn config_check_reports_like_the_router() {
    let dir = TempDir::new();
    let good = write_config(&dir.0);
    let out = run(&dir.0, &["config", "check", good.to_str().unwrap()]);
    assert!(
        stdout(&out).contains(": ok: 3 tier(s)"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    let bad = dir.0.join("bad.toml");
    std::fs::write(
        &bad,
        "[router]\nmapping_version = \"x\"\nexhaustion_status = 200\n",
    )
    .unwrap();
    let out = run(&dir.0, &["config", "check", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    let want = format!("{}:3:21: router.exhaustion_status: ", bad.display());
    assert!(stderr.lines().any(|l| l.starts_with(&want)), "{stderr}");
}

#[test]
fn set_then_show_reflects_the_row_and_seeds_the_rest() {
    let dir = TempDir::new();
    let config = write_config(&dir.0);
    let c = config.to_str().unwrap();
    let show = stdout(&run(&dir.0, &["quality", "show", "--config", c]));
    assert_eq!(show_cell(&show, "fast-local", "planning"), "deny 0.20 seed");
    assert_eq!(show_cell(&show, "cloud", "planning"), "allow 0.95 seed");

    let out = stdout(&run(
        &dir.0,
        &[
            "quality",
            "set",
            "fast-local",
            "planning",
            "allow-with-verify",
            "--score",
            "0.77",
            "--config",
            c,
        ],
    ));
    assert_eq!(
        out.trim(),
        "fast-local planning: allow-with-verify 0.77 (stored)"
    );
    assert!(
        dir.0.join("state/anvil/anvil.db").is_file(),
        "the db lives in the expanded data_dir"
    );

    let show = stdout(&run(&dir.0, &["quality", "show", "--config", c]));
    assert_eq!(
        show_cell(&show, "fast-local", "planning"),
        "allow-with-verify 0.77 *"
    );
    assert_eq!(show_cell(&show, "fast-local", "chat"), "allow 0.65 seed");

    // bad arguments: exit 2, nothing stored
    let cases: &[&[&str]] = &[
        &["quality", "set", "nope", "planning", "allow"],
        &["quality", "set", "fast-local", "quick-edit", "allow"],
        &["quality", "set", "fast-local", "chat", "Allow"],
        &[
            "quality",
            "set",
            "fast-local",
            "chat",
            "allow",
            "--score",
            "2",
        ],
    ];
    for args in cases {
        let mut args = args.to_vec();
        args.extend(["--config", c]);
        let out = run(&dir.0, &args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
    }
    let show = stdout(&run(&dir.0, &["quality", "show", "--config", c]));
    assert_eq!(show_cell(&show, "fast-local", "chat"), "allow 0.65 seed");
}

#[test]
fn import_then_export_round_trips() {
    let dir = TempDir::new();
    let config = write_config(&dir.0);
    let c = config.to_str().unwrap();
    let doc = json!({
        "schema": "anvil-serving.router.profile_bootstrap/v1",
        "mode": "replay",
        "eval_max": 25.0,
        "entries": [
            {"tier_id": "cloud", "work_class": "planning", "model_label": "frontier",
             "decision": "allow", "quality_score": 0.99, "sample_n": 4, "eval_total_avg": 24.75,
             "eval_max": 25.0, "last_measured": "2026-06-28",
             "source_evals": ["2026-06-28-planning-capability"]},
            {"tier_id": "fast-local", "work_class": "planning", "model_label": "fast",
             "decision": "deny", "quality_score": 0.64, "sample_n": 4, "eval_total_avg": 16.0,
             "eval_max": 25.0, "last_measured": "2026-06-28",
             "source_evals": ["2026-06-28-planning-capability"]},
            {"tier_id": "heavy-local", "work_class": "review", "model_label": "heavy",
             "decision": "allow-with-verify", "quality_score": 0.8, "sample_n": 2,
             "last_measured": null}
        ]
    });
    let input = dir.0.join("profile.json");
    std::fs::write(&input, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
    let out = stdout(&run(
        &dir.0,
        &["quality", "import", input.to_str().unwrap(), "--config", c],
    ));
    assert!(out.contains("imported 3 entries"), "{out}");

    let show = stdout(&run(&dir.0, &["quality", "show", "--config", c]));
    assert_eq!(
        show_cell(&show, "heavy-local", "review"),
        "allow-with-verify 0.80 *"
    );

    let exported = dir.0.join("out.json");
    stdout(&run(
        &dir.0,
        &[
            "quality",
            "export",
            "--out",
            exported.to_str().unwrap(),
            "--config",
            c,
        ],
    ));
    let text = std::fs::read_to_string(&exported).unwrap();
    assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), doc);
    let to_stdout = stdout(&run(&dir.0, &["quality", "export", "--config", c]));
    assert_eq!(serde_json::from_str::<Value>(&to_stdout).unwrap(), doc);

    // a malformed file is refused with exit 2
    std::fs::write(&input, r#"{"entries": [{"tier_id": "x", "work_class": "chat", "decision": "yes", "quality_score": 1}]}"#).unwrap();
    let out = run(
        &dir.0,
        &["quality", "import", input.to_str().unwrap(), "--config", c],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("entries[0].decision"));
}

#[test]
fn decisions_tail_and_stats_read_what_the_log_wrote() {
    let dir = TempDir::new();
    let config = write_config(&dir.0);
    let c = config.to_str().unwrap();
    let db = dir.0.join("elsewhere.db");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let store = anvil_profile_store::Store::open(db.to_str().unwrap())
            .await
            .unwrap();
        let records: Vec<anvil_profile_store::DecisionRecord> = [
            ("chat", Some("fast-local"), 0.9),
            ("chat", Some("fast-local"), 0.5),
            ("planning", None, 0.8),
        ]
        .iter()
        .enumerate()
        .map(
            |(i, (wc, tier, conf))| anvil_profile_store::DecisionRecord {
                request_id: format!("req-{i}"),
                unix_ms: 1_782_649_805_000 + i as i64,
                intent_source: "tier0".to_owned(),
                work_class: Some((*wc).to_owned()),
                confidence: *conf,
                signals: json!({}).into(),
                plan: json!({"candidates": []}).into(),
                served_tier: tier.map(str::to_owned),
                attempts: 1,
                status: if tier.is_some() { 200 } else { 503 },
                latency_ms: 10,
                tokens_in: 5,
                tokens_out: 6,
                cost_usd: 0.0,
                prompt: None,
                attempt_log: Default::default(),
                failed_tokens_in: 0,
                failed_tokens_out: 0,
                failed_cost_usd: 0.0,
            },
        )
        .collect();
        store.insert_decisions(&records).await.unwrap();
    });
    let dbs = db.to_str().unwrap();
    let tail = stdout(&run(
        &dir.0,
        &["decisions", "tail", "-n", "2", "--config", c, "--db", dbs],
    ));
    let lines: Vec<&str> = tail.lines().collect();
    assert_eq!(lines.len(), 3, "{tail}");
    assert!(
        lines[1].contains("req-1") && lines[2].contains("req-2"),
        "{tail}"
    );
    assert!(
        lines[2].contains("2026-06-28T12:30:05Z") && lines[2].contains("503"),
        "{tail}"
    );

    let json_tail = stdout(&run(
        &dir.0,
        &["decisions", "tail", "--json", "--config", c, "--db", dbs],
    ));
    let parsed: Vec<Value> = json_tail
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(parsed.len(), 3);
    assert_eq!(parsed[2]["status"], 503);

    let stats = stdout(&run(
        &dir.0,
        &["decisions", "stats", "--config", c, "--db", dbs],
    ));
    let rows: Vec<Vec<&str>> = stats
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        rows,
        vec![
            vec!["work_class", "count", "confidence", "tiers"],
            vec!["chat", "2", "0.70", "fast-local=2"],
            vec!["planning", "1", "0.80", "(none)=1"],
        ]
    );
}
