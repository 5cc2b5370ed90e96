//! `anvil-substrate eval`: shadow evals and the quality-profile bootstrap.
//!
//! An eval folder (one per date and work class, e.g. `2026-06-28-planning-capability/`) holds
//! `prompts/prompt_<id>.txt` (`=== SYSTEM ===\n…\n\n=== USER ===\n…`, or plain user text),
//! `outputs/out_<id>__<label>.md`, and `grading/`: `gen_manifest.json`, `anon_map.json`
//! (`{id: {label: letter}}`, the blind letters), `blind/<id>/<letter>.md` (what judges read) and
//! `judge_<id>_<n>.json` (one judge's grades).
//!
//! * `eval run` sends every prompt to every `--tier` (non-streaming chat completions), stores the
//!   outputs, the manifest and the blind copies; the anonymisation map is kept when it exists (so a
//!   re-run stays blind), else drawn with `--seed`. A tier is `LABEL=MODEL@URL`, or, with
//!   `--config`, the id of an `openai`-dialect tier of that config (its `base_url`, `model` and
//!   `auth_env` key; the label is the tier id).
//! * `eval grade` checks one judge's grades (every blind letter scored on the five dimensions
//!   0–5, `total` = their sum) and records them as the next `judge_<id>_<n>.json`.
//! * `eval bootstrap` turns the graded evals into quality-profile rows (the 0.4.0
//!   `profile_bootstrap --replay`, reference §8.6): per (tier, work class) the judges' totals are
//!   pooled, `quality_score = round(mean / 25, 4)`, decision `allow` at ≥ 0.85, `deny` below 0.70,
//!   else `allow-with-verify`; written as `profile.json` for `anvil-substrate quality import`.
//!   Labels map to tiers `frontier → cloud`, `heavy → heavy-local`, `fast → fast-local`
//!   (`--tier-map label=tier` adds or overrides); with `--config`, a label that is one of its tier
//!   ids maps to itself, and a row for a tier the config does not declare is an error.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anvil_config::WorkClass;
use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use http::Method;
use serde_json::{json, Map, Value};

use crate::http::{join, Client};
use crate::stats::round_to;

/// The five judged dimensions, 0–5 each.
pub const DIMENSIONS: [&str; 5] = [
    "decomposition_granularity",
    "requirement_coverage",
    "dependency_correctness",
    "acceptance_verifiability",
    "faithfulness",
];
/// The largest total a judge can give.
pub const EVAL_MAX: f64 = 25.0;
const SCHEMA: &str = "anvil-serving.router.profile_bootstrap/v1";

const RUN_EXAMPLE: &str = "Example:
  anvil-substrate eval run --dir evals/2026-06-28-planning-capability \\
      --tier heavy=qwen3-coder-local@http://127.0.0.1:30000/v1 \\
      --tier fast=gpt-oss-20b@http://127.0.0.1:30001/v1
  # prdA-backlog heavy: ok 8.3s 1649 tokens -> outputs/out_prdA-backlog__heavy.md
  # blind copies for the judges in grading/blind/<prompt>/<letter>.md
  anvil-substrate eval run --dir evals/2026-06-28-planning-capability --config anvil.toml \\
      --tier fast-local --tier heavy-local      # the config's tiers, by id";
const GRADE_EXAMPLE: &str = "Example:
  anvil-substrate eval grade --dir evals/2026-06-28-planning-capability --prompt prdA-backlog \\
      --grades judge1.json
  # recorded grading/judge_prdA-backlog_1.json (3 candidates: X 25, Y 11, Z 15)";
const BOOTSTRAP_EXAMPLE: &str = "Example:
  anvil-substrate eval bootstrap --eval-data evals --out profile.json
  # wrote profile.json (3 entries)
  # tier         work_class  model     score  decision  n  avg/25
  # cloud        planning    frontier  0.99   allow     4  24.75
  # fast-local   planning    fast      0.64   deny      4  16.0
  # heavy-local  planning    heavy     0.53   deny      4  13.25
  anvil-substrate quality import profile.json --config anvil.toml";

/// `anvil-substrate eval …`
#[derive(Debug, Subcommand)]
pub enum EvalCommand {
    /// Run an eval folder's prompts against tiers and store the outputs (blind copies for judges)
    #[command(after_help = RUN_EXAMPLE)]
    Run(RunArgs),
    /// Check one judge's grades and record them in the eval folder
    #[command(after_help = GRADE_EXAMPLE)]
    Grade(GradeArgs),
    /// Turn graded evals into quality-profile rows (profile.json for `quality import`)
    #[command(after_help = BOOTSTRAP_EXAMPLE)]
    Bootstrap(BootstrapArgs),
}

/// Flags of `eval run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The eval folder (with prompts/)
    #[arg(long, value_name = "DIR")]
    dir: PathBuf,
    /// A tier to run: LABEL=MODEL@BASE_URL, or a tier id of --config (repeat)
    #[arg(long = "tier", value_name = "TIER", required = true)]
    tiers: Vec<String>,
    /// anvil config whose tiers --tier may name
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Name of an environment variable holding an API key for every tier
    #[arg(long, value_name = "VAR")]
    api_key_env: Option<String>,
    /// max_tokens of each generation
    #[arg(long, default_value_t = 8192)]
    max_tokens: u64,
    /// Seconds each generation may take
    #[arg(long, default_value_t = 400)]
    timeout_s: u64,
    /// Seed of the blind letter assignment (when no anon_map.json exists)
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

/// Flags of `eval grade`.
#[derive(Debug, Args)]
pub struct GradeArgs {
    /// The eval folder
    #[arg(long, value_name = "DIR")]
    dir: PathBuf,
    /// The prompt id the grades are for
    #[arg(long)]
    prompt: String,
    /// The judge's grades (JSON: {judge, candidates: {LETTER: {scores: {...}, total, notes}}, ranking})
    #[arg(long, value_name = "FILE")]
    grades: PathBuf,
}

/// Flags of `eval bootstrap`.
#[derive(Debug, Args)]
pub struct BootstrapArgs {
    /// Folder holding eval folders (each with grading/anon_map.json and judge_*.json)
    #[arg(long, value_name = "DIR")]
    eval_data: PathBuf,
    /// Where to write profile.json
    #[arg(long, value_name = "FILE", default_value = "profile.json")]
    out: PathBuf,
    /// Extra or overriding label→tier mappings: LABEL=TIER (repeat)
    #[arg(long = "tier-map", value_name = "LABEL=TIER")]
    tier_map: Vec<String>,
    /// anvil config: its tier ids are labels too, and every row must name one of its tiers
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

fn read_json(path: &Path) -> anyhow::Result<Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))
}

fn write_json(path: &Path, v: &Value) -> anyhow::Result<()> {
    std::fs::write(path, serde_json::to_string_pretty(v)? + "\n")
        .with_context(|| format!("cannot write {}", path.display()))
}

/// Splits a prompt file into (system, user).
fn split_prompt(text: &str) -> (Option<String>, String) {
    if let Some(rest) = text.strip_prefix("=== SYSTEM ===\n") {
        if let Some((system, user)) = rest.split_once("\n\n=== USER ===\n") {
            return (Some(system.to_owned()), user.to_owned());
        }
    }
    (None, text.to_owned())
}

fn prompt_ids(dir: &Path) -> anyhow::Result<Vec<(String, PathBuf)>> {
    let prompts = dir.join("prompts");
    let mut out: Vec<(String, PathBuf)> = std::fs::read_dir(&prompts)
        .with_context(|| format!("cannot read {}", prompts.display()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .filter_map(|p| {
            let stem = p.file_stem()?.to_string_lossy().into_owned();
            Some((stem.strip_prefix("prompt_").unwrap_or(&stem).to_owned(), p))
        })
        .collect();
    out.sort();
    anyhow::ensure!(
        !out.is_empty(),
        "{} holds no *.txt prompts",
        prompts.display()
    );
    Ok(out)
}

fn run_eval(a: RunArgs) -> anyhow::Result<u8> {
    let config = a
        .config
        .as_deref()
        .map(crate::endpoint::load_config)
        .transpose()?;
    let mut tiers = Vec::new();
    let mut keys: Vec<Option<String>> = Vec::new();
    for t in &a.tiers {
        if !t.contains('=') {
            let config = config.as_ref().with_context(|| {
                format!("--tier {t}: a tier id needs --config (or give LABEL=MODEL@URL)")
            })?;
            let (url, model, key) = crate::endpoint::config_tier(config, t)?;
            tiers.push((t.clone(), model, url));
            keys.push(key);
            continue;
        }
        let (label, rest) = t
            .split_once('=')
            .with_context(|| format!("--tier {t}: expected LABEL=MODEL@URL"))?;
        let (model, url) = rest
            .split_once('@')
            .with_context(|| format!("--tier {t}: expected LABEL=MODEL@URL"))?;
        anyhow::ensure!(
            !label.is_empty()
                && label
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
            "--tier {t}: the label must be letters, digits, - or _"
        );
        tiers.push((label.to_owned(), model.to_owned(), url.to_owned()));
        keys.push(None);
    }
    let key = match &a.api_key_env {
        Some(var) => Some(
            std::env::var(var).with_context(|| format!("environment variable {var} is not set"))?,
        ),
        None => None,
    };
    let clients = keys
        .iter()
        .map(|k| {
            Client::new(
                k.as_deref().or(key.as_deref()),
                Duration::from_secs(a.timeout_s),
            )
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let prompts = prompt_ids(&a.dir)?;
    for sub in ["outputs", "grading"] {
        std::fs::create_dir_all(a.dir.join(sub))?;
    }
    let anon_path = a.dir.join("grading/anon_map.json");
    let mut anon: Map<String, Value> = match read_json(&anon_path) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut manifest = Vec::new();
    let mut failures = 0;
    let mut state = a.seed;
    for (id, path) in &prompts {
        let (system, user) = split_prompt(&std::fs::read_to_string(path)?);
        let mut messages = Vec::new();
        if let Some(s) = system {
            messages.push(json!({"role": "system", "content": s}));
        }
        messages.push(json!({"role": "user", "content": user}));
        for ((label, model, url), client) in tiers.iter().zip(&clients) {
            let body = json!({"model": model, "messages": messages, "max_tokens": a.max_tokens, "temperature": 0.0});
            let t = Instant::now();
            let result =
                rt.block_on(client.json(Method::POST, &join(url, "chat/completions"), Some(&body)));
            let elapsed = round_to(t.elapsed().as_secs_f64(), 1);
            let file = format!("outputs/out_{id}__{label}.md");
            match result.and_then(|v| {
                let text = v
                    .pointer("/choices/0/message/content")
                    .and_then(Value::as_str)
                    .filter(|s| !s.trim().is_empty())
                    .context("the answer has no content")?
                    .to_owned();
                Ok((
                    text,
                    v.pointer("/usage/completion_tokens")
                        .and_then(Value::as_u64),
                ))
            }) {
                Ok((text, tokens)) => {
                    std::fs::write(a.dir.join(&file), &text)?;
                    println!(
                        "{id} {label}: ok {elapsed}s {} tokens -> {file}",
                        tokens.unwrap_or(0)
                    );
                    manifest.push(json!({"prd": id, "model": label, "model_id": model, "ok": true,
                        "elapsed_s": elapsed, "completion_tokens": tokens, "chars": text.chars().count(), "file": file}));
                }
                Err(e) => {
                    failures += 1;
                    println!("{id} {label}: FAILED {e:#}");
                    manifest.push(json!({"prd": id, "model": label, "model_id": model, "ok": false, "error": format!("{e:#}")}));
                }
            }
        }
        // blind letters: keep an existing assignment, else draw one
        let outputs: Vec<String> = std::fs::read_dir(a.dir.join("outputs"))?
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                name.strip_prefix(&format!("out_{id}__"))?
                    .strip_suffix(".md")
                    .map(str::to_owned)
            })
            .collect();
        let entry = anon.entry(id.clone()).or_insert_with(|| json!({}));
        let letters = ["X", "Y", "Z", "W", "V", "U", "T", "S"];
        let mut labels: Vec<String> = outputs;
        labels.sort();
        crate::stats::shuffle(&mut labels, state);
        state = state.wrapping_add(1);
        for label in labels {
            let taken: Vec<String> = entry
                .as_object()
                .map(|m| {
                    m.values()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default();
            if entry.get(&label).is_none() {
                if let Some(l) = letters.iter().find(|l| !taken.iter().any(|t| t == *l)) {
                    entry[&label] = json!(l);
                }
            }
        }
        let blind = a.dir.join("grading/blind").join(id);
        std::fs::create_dir_all(&blind)?;
        if let Some(m) = entry.as_object() {
            for (label, letter) in m {
                let src = a.dir.join(format!("outputs/out_{id}__{label}.md"));
                if let (Some(letter), true) = (letter.as_str(), src.is_file()) {
                    std::fs::copy(&src, blind.join(format!("{letter}.md")))?;
                }
            }
        }
    }
    write_json(
        &a.dir.join("grading/gen_manifest.json"),
        &Value::Array(manifest),
    )?;
    write_json(&anon_path, &Value::Object(anon))?;
    println!(
        "blind copies for the judges in {}",
        a.dir.join("grading/blind").display()
    );
    Ok(if failures == 0 { 0 } else { 1 })
}

/// Checks one candidate's grades; returns its total.
fn check_candidate(where_: &str, c: &Value) -> anyhow::Result<f64> {
    let scores = c
        .get("scores")
        .and_then(Value::as_object)
        .with_context(|| format!("{where_}: no scores object"))?;
    let mut sum = 0.0;
    for d in DIMENSIONS {
        let v = scores
            .get(d)
            .and_then(Value::as_f64)
            .with_context(|| format!("{where_}: scores.{d} is missing or not a number"))?;
        anyhow::ensure!(
            (0.0..=5.0).contains(&v),
            "{where_}: scores.{d} = {v} is outside 0..=5"
        );
        sum += v;
    }
    let total = c
        .get("total")
        .and_then(Value::as_f64)
        .with_context(|| format!("{where_}: total is missing"))?;
    anyhow::ensure!(
        (total - sum).abs() < 1e-9,
        "{where_}: total {total} is not the sum of its dimensions ({sum})"
    );
    Ok(total)
}

fn grade(a: GradeArgs) -> anyhow::Result<u8> {
    let anon = read_json(&a.dir.join("grading/anon_map.json"))?;
    let letters: Vec<String> = anon
        .get(&a.prompt)
        .and_then(Value::as_object)
        .with_context(|| format!("anon_map.json has no prompt {:?}", a.prompt))?
        .values()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect();
    let mut g = read_json(&a.grades)?;
    let candidates = g
        .get("candidates")
        .and_then(Value::as_object)
        .context("the grades have no candidates object")?
        .clone();
    let mut shown = Vec::new();
    for l in &letters {
        let c = candidates
            .get(l)
            .with_context(|| format!("candidate {l} is not graded"))?;
        shown.push(format!(
            "{l} {}",
            check_candidate(&format!("candidate {l}"), c)?
        ));
    }
    if let Some(extra) = candidates.keys().find(|k| !letters.contains(k)) {
        bail!(
            "candidate {extra} is not a blind letter of {} ({})",
            a.prompt,
            letters.join(", ")
        );
    }
    g["prd"] = json!(a.prompt);
    let grading = a.dir.join("grading");
    let n = (1..)
        .find(|n| {
            !grading
                .join(format!("judge_{}_{n}.json", a.prompt))
                .exists()
        })
        .unwrap_or(1);
    if g.get("judge").is_none() {
        g["judge"] = json!(n);
    }
    let path = grading.join(format!("judge_{}_{n}.json", a.prompt));
    write_json(&path, &g)?;
    println!(
        "recorded {} ({} candidates: {})",
        path.display(),
        letters.len(),
        shown.join(", ")
    );
    Ok(0)
}

/// The work class of an eval folder name (without its date).
fn work_class(slug: &str) -> Option<WorkClass> {
    let mut all: Vec<WorkClass> = WorkClass::ALL.to_vec();
    all.sort_by_key(|w| std::cmp::Reverse(w.as_str().len()));
    all.into_iter()
        .find(|w| slug == w.as_str() || slug.starts_with(&format!("{}-", w.as_str())))
}

fn date_prefix(name: &str) -> Option<(&str, &str)> {
    let (date, rest) = (name.get(..10)?, name.get(11..)?);
    let ok = date.len() == 10
        && date.chars().enumerate().all(|(i, c)| {
            if i == 4 || i == 7 {
                c == '-'
            } else {
                c.is_ascii_digit()
            }
        });
    (ok && name.as_bytes().get(10) == Some(&b'-')).then_some((date, rest))
}

/// One (tier, work class)'s pooled grades: model label, judge totals, eval dates, eval folders.
type Pool = (String, Vec<f64>, Vec<String>, Vec<String>);

/// The `profile.json` of the graded evals under `root`.
pub fn bootstrap_doc(
    root: &Path,
    extra_map: &[(String, String)],
    config_tiers: Option<&[String]>,
) -> anyhow::Result<Value> {
    let mut labels: BTreeMap<String, String> = [
        ("frontier", "cloud"),
        ("heavy", "heavy-local"),
        ("fast", "fast-local"),
    ]
    .into_iter()
    .map(|(a, b)| (a.to_owned(), b.to_owned()))
    .collect();
    for id in config_tiers.unwrap_or_default() {
        labels.insert(id.clone(), id.clone());
    }
    labels.extend(extra_map.iter().cloned());
    anyhow::ensure!(
        root.is_dir(),
        "eval data folder {} does not exist",
        root.display()
    );
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root)?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("grading/anon_map.json").is_file())
        .collect();
    dirs.sort();
    let mut pooled: BTreeMap<(String, String), Pool> = BTreeMap::new();
    let mut used = 0;
    for dir in &dirs {
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut judges: Vec<PathBuf> = std::fs::read_dir(dir.join("grading"))?
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.file_name().is_some_and(|n| {
                    let n = n.to_string_lossy();
                    n.starts_with("judge_") && n.ends_with(".json")
                })
            })
            .collect();
        judges.sort();
        if judges.is_empty() {
            continue;
        }
        used += 1;
        let (date, slug) = match date_prefix(&name) {
            Some((d, s)) => (Some(d.to_owned()), s.to_owned()),
            None => (None, name.clone()),
        };
        let wc = work_class(&slug)
            .or_else(|| {
                let trimmed = slug
                    .trim_end_matches("-capability")
                    .trim_end_matches("-eval");
                WorkClass::from_name(trimmed)
            })
            .with_context(|| {
                format!("{name}: cannot tell its work class (name it <date>-<work class>-…)")
            })?;
        let anon = read_json(&dir.join("grading/anon_map.json"))?;
        for j in &judges {
            let g = read_json(j)?;
            let prd = g
                .get("prd")
                .and_then(Value::as_str)
                .with_context(|| format!("{}: no prd", j.display()))?;
            let map = anon
                .get(prd)
                .and_then(Value::as_object)
                .with_context(|| format!("{}: prd {prd:?} is not in anon_map.json", j.display()))?;
            let cands = g
                .get("candidates")
                .and_then(Value::as_object)
                .with_context(|| format!("{}: no candidates", j.display()))?;
            for (letter, c) in cands {
                let label = map
                    .iter()
                    .find(|(_, l)| l.as_str() == Some(letter))
                    .map(|(label, _)| label.clone())
                    .with_context(|| {
                        format!(
                            "{}: letter {letter} is not in anon_map.json for {prd}",
                            j.display()
                        )
                    })?;
                let total = check_candidate(&format!("{} candidate {letter}", j.display()), c)?;
                let tier = labels.get(&label).with_context(|| {
                    format!(
                        "{}: unknown model label {label:?} (use --tier-map {label}=TIER)",
                        j.display()
                    )
                })?;
                if let Some(ids) = config_tiers {
                    anyhow::ensure!(
                        ids.contains(tier),
                        "{}: label {label:?} maps to tier {tier:?}, which the config does not declare \
                         (use --tier-map {label}=TIER)",
                        j.display()
                    );
                }
                let e = pooled
                    .entry((tier.clone(), wc.as_str().to_owned()))
                    .or_insert_with(|| (label.clone(), vec![], vec![], vec![]));
                e.1.push(total);
                if let Some(d) = &date {
                    e.2.push(d.clone());
                }
                if !e.3.contains(&name) {
                    e.3.push(name.clone());
                }
            }
        }
    }
    anyhow::ensure!(
        used > 0,
        "{} holds no graded eval (grading/anon_map.json and judge_*.json)",
        root.display()
    );
    let mut entries = Vec::new();
    for ((tier, wc), (label, totals, mut dates, mut evals)) in pooled {
        let avg = round_to(totals.iter().sum::<f64>() / totals.len() as f64, 3);
        let score = round_to(avg / EVAL_MAX, 4);
        let decision = if score >= 0.85 {
            "allow"
        } else if score < 0.70 {
            "deny"
        } else {
            "allow-with-verify"
        };
        dates.sort();
        evals.sort();
        // keys in sorted order (the 0.4.0 file is written with sort_keys)
        entries.push(json!({
            "decision": decision,
            "eval_max": EVAL_MAX,
            "eval_total_avg": avg,
            "last_measured": dates.last(),
            "model_label": label,
            "quality_score": score,
            "sample_n": totals.len(),
            "source_evals": evals,
            "tier_id": tier,
            "work_class": wc,
        }));
    }
    Ok(json!({"entries": entries, "eval_max": EVAL_MAX, "mode": "replay", "schema": SCHEMA}))
}

fn bootstrap(a: BootstrapArgs) -> anyhow::Result<u8> {
    let mut extra = Vec::new();
    for m in &a.tier_map {
        let (l, t) = m
            .split_once('=')
            .with_context(|| format!("--tier-map {m}: expected LABEL=TIER"))?;
        extra.push((l.to_owned(), t.to_owned()));
    }
    let ids: Option<Vec<String>> = a
        .config
        .as_deref()
        .map(crate::endpoint::load_config)
        .transpose()?
        .map(|c| c.router.tiers.iter().map(|t| t.id.clone()).collect());
    let doc = bootstrap_doc(&a.eval_data, &extra, ids.as_deref())?;
    write_json(&a.out, &doc)?;
    let entries = doc["entries"].as_array().cloned().unwrap_or_default();
    println!("wrote {} ({} entries)", a.out.display(), entries.len());
    println!(
        "{:<12} {:<20} {:<9} {:<6} {:<18} {:<3} avg/25",
        "tier", "work_class", "model", "score", "decision", "n"
    );
    for e in &entries {
        let s = |k: &str| {
            e.get(k)
                .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
                .unwrap_or_default()
        };
        println!(
            "{:<12} {:<20} {:<9} {:<6} {:<18} {:<3} {}",
            s("tier_id"),
            s("work_class"),
            s("model_label"),
            s("quality_score"),
            s("decision"),
            s("sample_n"),
            s("eval_total_avg")
        );
    }
    Ok(0)
}

/// Runs `eval …`.
pub fn run(c: EvalCommand) -> anyhow::Result<u8> {
    match c {
        EvalCommand::Run(a) => run_eval(a),
        EvalCommand::Grade(a) => grade(a),
        EvalCommand::Bootstrap(a) => bootstrap(a),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folder_names_map_to_work_classes() {
        assert_eq!(
            date_prefix("2026-06-28-planning-capability"),
            Some(("2026-06-28", "planning-capability"))
        );
        assert_eq!(work_class("planning-capability"), Some(WorkClass::Planning));
        assert_eq!(
            work_class("multi-file-refactor-eval"),
            Some(WorkClass::MultiFileRefactor)
        );
        assert_eq!(work_class("poetry"), None);
        assert_eq!(
            split_prompt("=== SYSTEM ===\nS\n\n=== USER ===\nU"),
            (Some("S".into()), "U".into())
        );
    }
}
