//! `anvil-substrate score`: rank models for roles from published benchmark numbers.
//!
//! Candidates: the rows of the shipped data file `data/published-benchmarks.json` (or `--data`),
//! each number with its source, plus (unless `--no-local`) the local catalog (`models sync`'s scan,
//! offline) with the numbers their model cards state. A role's score is the first benchmark of
//! the role's evidence list the candidate has (coding: SWE-bench Verified, LiveCodeBench;
//! research: MMLU-Pro, RULER@128K; writing: Arena-Hard, MT-Bench, AlpacaEval); a value that is not
//! a number within 0..=100 does not count. Nothing is estimated: a candidate without a number is
//! `unknown` for that role and not ranked.
//!
//! The mixture picks, per tier (`heavy`, `fast`; a local model is `fast` up to 22 GB) and role,
//! among servable candidates with a score: the highest-priority benchmark any of them has, then
//! the best score on it (first listed wins ties) — so a SWE-bench number outranks a
//! LiveCodeBench one, as in 0.4.0.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use serde_json::{json, Map, Value};

use crate::models::{scan, Roots};

/// The shipped benchmark table.
const DATA: &str = include_str!("../data/published-benchmarks.json");
const TIERS: [&str; 2] = ["heavy", "fast"];

const EXAMPLE: &str = "Example:
  anvil-substrate score --no-local
  # | Candidate | Tier | Source | Servable | Native ctx | Coding | Research | Writing |
  # | openai/gpt-oss-120b | heavy | research | yes | 128K | 62.4 (SWE-bench Verified) | unknown | unknown |
  # mixture: heavy/coding -> openai/gpt-oss-120b (SWE-bench Verified 62.4) ...
  anvil-substrate score --hf-roots ~/.cache/huggingface/hub --json";

/// Flags of `anvil-substrate score`.
#[derive(Debug, Args)]
#[command(after_help = EXAMPLE)]
pub struct ScoreArgs {
    /// Leave the local catalog out (rank only the data file's models)
    #[arg(long)]
    no_local: bool,
    /// A benchmark table to use instead of the shipped one
    #[arg(long, value_name = "FILE")]
    data: Option<PathBuf>,
    /// Print JSON instead of Markdown
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    roots: Roots,
}

/// One ranked candidate.
#[derive(Debug, Clone)]
struct Candidate {
    id: String,
    tier: String,
    source: &'static str,
    servable: bool,
    context: Option<u64>,
    /// benchmark → (value text or number, source)
    benchmarks: Vec<(String, Value, String)>,
}

/// A role score: (value, basis, provenance), or why it is unknown.
fn role_score(c: &Candidate, evidence: &[String]) -> Result<(f64, String, String), String> {
    for bench in evidence {
        let found = c
            .benchmarks
            .iter()
            .find(|(k, _, _)| k == bench)
            .or_else(|| {
                c.benchmarks
                    .iter()
                    .find(|(k, _, _)| k.eq_ignore_ascii_case(bench))
            });
        let Some((_, raw, source)) = found else {
            continue;
        };
        let v = match raw {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.trim().parse::<f64>().ok(),
            _ => None,
        };
        if let Some(v) = v.filter(|v| (0.0..=100.0).contains(v)) {
            return Ok((v, bench.clone(), format!("{} {bench}={v} [{source}]", c.id)));
        }
    }
    Err(format!("no {} number", evidence.join(" / ")))
}

fn fmt(v: f64) -> String {
    if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        v.to_string()
    }
}

/// Roles with their evidence lists, in priority order.
type Roles = Vec<(String, Vec<String>)>;

fn load(args: &ScoreArgs) -> anyhow::Result<(Roles, Vec<Candidate>)> {
    let text = match &args.data {
        Some(p) => {
            std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))?
        }
        None => DATA.to_owned(),
    };
    let doc: Value = serde_json::from_str(&text).context("the benchmark table is not JSON")?;
    let roles: Vec<(String, Vec<String>)> = doc
        .get("roles")
        .and_then(Value::as_object)
        .context("the benchmark table has no roles")?
        .iter()
        .map(|(r, v)| {
            let list = v
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default();
            (r.clone(), list)
        })
        .collect();
    let mut out = Vec::new();
    if !args.no_local {
        for m in scan(&args.roots, None).into_iter().filter(|m| m.is_real()) {
            out.push(Candidate {
                id: m.id.clone(),
                tier: if m.size_gb > 0.0 && m.size_gb <= 22.0 {
                    "fast"
                } else {
                    "heavy"
                }
                .to_owned(),
                source: "local",
                servable: m.sglang_loadable || m.vllm_loadable,
                context: m.context,
                benchmarks: m
                    .benchmarks
                    .iter()
                    .map(|(k, v)| {
                        (
                            k.clone(),
                            json!(v),
                            format!(
                                "local card {}",
                                m.card
                                    .as_ref()
                                    .map(|p| p.display().to_string())
                                    .unwrap_or_default()
                            ),
                        )
                    })
                    .collect(),
            });
        }
    }
    for (i, m) in doc
        .get("models")
        .and_then(Value::as_array)
        .context("the benchmark table has no models")?
        .iter()
        .enumerate()
    {
        let id = m
            .get("id")
            .and_then(Value::as_str)
            .with_context(|| format!("models[{i}]: no id"))?;
        let tier = m
            .get("tier")
            .and_then(Value::as_str)
            .filter(|t| TIERS.contains(t))
            .with_context(|| format!("models[{i}] ({id}): tier must be heavy or fast"))?;
        let mut benchmarks = Vec::new();
        for (k, b) in m
            .get("benchmarks")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default()
        {
            let source = b
                .get("source")
                .and_then(Value::as_str)
                .filter(|s| !s.trim().is_empty())
                .with_context(|| format!("models[{i}] ({id}): {k} has no source"))?;
            benchmarks.push((
                k.clone(),
                b.get("value").cloned().unwrap_or(Value::Null),
                source.to_owned(),
            ));
        }
        out.push(Candidate {
            id: id.to_owned(),
            tier: tier.to_owned(),
            source: "research",
            servable: m.get("servable").and_then(Value::as_bool).unwrap_or(false),
            context: m.get("native_context").and_then(Value::as_u64),
            benchmarks,
        });
    }
    Ok((roles, out))
}

/// The ranking document.
fn rank(roles: &[(String, Vec<String>)], cands: &[Candidate]) -> Value {
    let candidates: Vec<Value> = cands
        .iter()
        .map(|c| {
            let mut r = Map::new();
            for (role, ev) in roles {
                r.insert(
                    role.clone(),
                    match role_score(c, ev) {
                        Ok((v, basis, prov)) => json!({"score": v, "basis": basis, "provenance": prov}),
                        Err(reason) => json!({"score": "unknown", "reason": reason}),
                    },
                );
            }
            json!({"id": c.id, "tier": c.tier, "source": c.source, "servable": c.servable, "native_context": c.context, "roles": r})
        })
        .collect();
    let mut mixture = Map::new();
    for tier in TIERS {
        let mut cells = Map::new();
        for (role, ev) in roles {
            let eligible: Vec<(&Candidate, f64, String, String)> = cands
                .iter()
                .filter(|c| c.tier == tier && c.servable)
                .filter_map(|c| role_score(c, ev).ok().map(|(v, b, p)| (c, v, b, p)))
                .collect();
            let basis = ev.iter().find(|b| eligible.iter().any(|e| e.2 == **b));
            let pick = basis.and_then(|b| {
                eligible.iter().filter(|e| e.2 == *b).fold(
                    None,
                    |best: Option<&(&Candidate, f64, String, String)>, e| match best {
                        Some(x) if x.1 >= e.1 => Some(x),
                        _ => Some(e),
                    },
                )
            });
            cells.insert(
                role.clone(),
                match pick {
                    Some((c, v, b, p)) => json!({"pick": c.id, "basis": b, "score": v, "provenance": p, "native_context": c.context}),
                    None => json!({"pick": null, "reason": format!("no servable {tier} candidate with a {role} number")}),
                },
            );
        }
        mixture.insert(tier.to_owned(), Value::Object(cells));
    }
    json!({"candidates": candidates, "mixture": mixture})
}

fn markdown(roles: &[(String, Vec<String>)], doc: &Value) -> String {
    let mut o = String::from("# Role suitability (published numbers only)\n\n");
    let role_names: Vec<&str> = roles.iter().map(|(r, _)| r.as_str()).collect();
    o.push_str(&format!(
        "| Candidate | Tier | Source | Servable | Native ctx | {} |\n",
        role_names.join(" | ")
    ));
    o.push_str(&format!(
        "|---|---|---|---|---|{}\n",
        "---|".repeat(roles.len())
    ));
    for c in doc["candidates"].as_array().into_iter().flatten() {
        let cells: Vec<String> = role_names
            .iter()
            .map(|r| {
                let s = &c["roles"][*r];
                match s["score"].as_f64() {
                    Some(v) => format!("{} ({})", fmt(v), s["basis"].as_str().unwrap_or_default()),
                    None => "unknown".to_owned(),
                }
            })
            .collect();
        o.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} |\n",
            c["id"].as_str().unwrap_or_default(),
            c["tier"].as_str().unwrap_or_default(),
            c["source"].as_str().unwrap_or_default(),
            if c["servable"].as_bool() == Some(true) {
                "yes"
            } else {
                "no"
            },
            c["native_context"]
                .as_u64()
                .map(crate::stats::short_tokens)
                .unwrap_or_else(|| "-".to_owned()),
            cells.join(" | "),
        ));
    }
    o.push_str("\n## Mixture\n\n");
    for tier in TIERS {
        for r in &role_names {
            let cell = &doc["mixture"][tier][*r];
            match cell["pick"].as_str() {
                Some(id) => o.push_str(&format!(
                    "- {tier}/{r}: **{id}** — {} {} (source: {})\n",
                    cell["basis"].as_str().unwrap_or_default(),
                    cell["score"].as_f64().map(fmt).unwrap_or_default(),
                    cell["provenance"].as_str().unwrap_or_default()
                )),
                None => o.push_str(&format!(
                    "- {tier}/{r}: none — {}\n",
                    cell["reason"].as_str().unwrap_or_default()
                )),
            }
        }
    }
    o
}

/// Runs the verb.
pub fn run(args: ScoreArgs) -> anyhow::Result<u8> {
    let (roles, cands) = load(&args)?;
    let doc = rank(&roles, &cands);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        print!("{}", markdown(&roles, &doc));
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_table_gives_the_0_4_0_mixture() {
        let args = ScoreArgs {
            no_local: true,
            data: None,
            json: true,
            roots: Roots::default(),
        };
        let (roles, cands) = load(&args).unwrap();
        let doc = rank(&roles, &cands);
        let m = &doc["mixture"];
        assert_eq!(m["heavy"]["coding"]["pick"], "openai/gpt-oss-120b");
        assert_eq!(m["heavy"]["coding"]["score"], 62.4);
        assert_eq!(
            m["heavy"]["research"]["pick"],
            "QuantTrio/Seed-OSS-36B-Instruct-AWQ"
        );
        assert_eq!(m["heavy"]["research"]["score"], 82.7);
        assert_eq!(
            m["fast"]["coding"]["pick"],
            "cyankiwi/Devstral-Small-2-24B-Instruct-2512-AWQ-4bit"
        );
        assert!(m["fast"]["research"]["pick"].is_null());
        assert!(m["heavy"]["writing"]["pick"].is_null() && m["fast"]["writing"]["pick"].is_null());
    }

    #[test]
    fn out_of_range_or_text_values_are_unknown() {
        let ev = vec!["SWE-bench Verified".to_owned()];
        let c = |v: Value| Candidate {
            id: "x".into(),
            tier: "fast".into(),
            source: "local",
            servable: true,
            context: None,
            benchmarks: vec![("SWE-Bench Verified".into(), v, "s".into())],
        };
        assert!(role_score(&c(json!("500")), &ev).is_err());
        assert!(role_score(&c(json!("-5")), &ev).is_err());
        assert!(role_score(&c(json!("N/A")), &ev).is_err());
        assert_eq!(role_score(&c(json!("0")), &ev).map(|r| r.0), Ok(0.0));
        assert_eq!(role_score(&c(json!("100")), &ev).map(|r| r.0), Ok(100.0));
    }
}
