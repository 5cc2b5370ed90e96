//! `anvil-substrate profile`: a usage baseline from Claude Code transcripts.
//!
//! Reads every `*.jsonl` under the logs folder (recursively, subagent folders included; names
//! starting with `.` are skipped; files in sorted path order, so ties resolve to the earliest
//! inserted key), and writes `usage_aggregate.json` and `role_split.json` (the 0.4.0 layouts, see
//! the substrate reference §1) into `--out-dir`, then prints a summary with a context-size
//! histogram.
//!
//! Differences from 0.4.0 (its §11 quirks, fixed):
//! * one API response is one call: assistant records repeating a `message.id` (else `requestId`)
//!   are merged, across files too (a resumed session repeats its history). The merged call keeps
//!   the first record's time and file, the usage of the record with the most output tokens, and
//!   the tool-use blocks of all records (once per block id). `window.duplicate_records` counts the
//!   records merged away.
//! * a line that is not JSON, or JSON but not an object, is counted in `window.malformed_lines`
//!   and skipped; an unreadable file is counted in `window.unreadable_files`.
//! * `median_duration_h` is a float like `p95_duration_h` (0.4.0 rounded it to an integer).
//! * a call is a subagent call when its record says `isSidechain: true` or its file lies under a
//!   `subagents` folder.
//! * `--out-dir` is created when missing.
//!
//! Percentiles: see [`crate::stats`] (linear interpolation, rounded half to even).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use serde_json::{json, Map, Value};

use crate::stats::{histogram, pct, round_to, short_tokens, Bar};

/// Context ceilings of the subagent coverage table.
const CEILINGS: [u64; 5] = [16_384, 32_768, 65_536, 131_072, 262_144];
/// Upper bounds of the context histogram buckets (a last bucket holds everything above).
const BUCKETS: [u64; 7] = [4_096, 8_192, 16_384, 32_768, 65_536, 131_072, 262_144];
/// A progress bar is drawn (on a terminal) from this many files on.
const PROGRESS_FROM_FILES: usize = 50;

const EXAMPLE: &str = "Example:
  anvil-substrate profile --logs-dir ~/.claude/projects --out-dir ./usage
  # writes ./usage/usage_aggregate.json and ./usage/role_split.json and prints a summary:
  #   context/call p50 30,001  p90 58,043  p95 64,023  p99 68,807  max 70,003  mean 30,624
  #   subagent calls whose context fits a window of:
  #     <=  32,768 tok : 33.3%
  #     <=  65,536 tok : 66.7%
  anvil-substrate benchmark --profile ./usage/role_split.json ...   # replay that shape";

/// Flags of `anvil-substrate profile`.
#[derive(Debug, Args)]
#[command(after_help = EXAMPLE)]
pub struct ProfileArgs {
    /// Claude Code projects folder [default: $ANVIL_CLAUDE_LOGS, else ~/.claude/projects]
    #[arg(long, value_name = "DIR")]
    logs_dir: Option<PathBuf>,
    /// Where the two JSON files go (created when missing)
    #[arg(long, value_name = "DIR", default_value = ".")]
    out_dir: PathBuf,
    /// Print the aggregate JSON on stdout instead of the summary
    #[arg(long)]
    json: bool,
}

/// One API call (after de-duplication).
#[derive(Debug, Clone)]
struct Call {
    file: usize,
    ts: Option<String>,
    session: Option<String>,
    model: String,
    fresh: u64,
    cache_creation: u64,
    cache_read: u64,
    gen: u64,
    sidechain: bool,
    /// Tool-use blocks: id, name, input.
    tools: Vec<(Option<String>, String, Value)>,
}

impl Call {
    fn ctx(&self) -> u64 {
        self.fresh + self.cache_creation + self.cache_read
    }
}

/// Per-file facts.
#[derive(Debug, Default)]
struct FileFacts {
    session: Option<String>,
    first_ts: Option<String>,
    last_ts: Option<String>,
    calls: u64,
    output: u64,
}

/// Everything read from the logs.
#[derive(Debug, Default)]
pub(crate) struct Scan {
    files: Vec<FileFacts>,
    calls: Vec<Call>,
    malformed_lines: u64,
    unreadable_files: u64,
    duplicate_records: u64,
    dispatches: u64,
    agent_counts: Vec<u64>,
    subagent_tokens: u64,
}

fn u(v: Option<&Value>) -> u64 {
    v.and_then(Value::as_u64).unwrap_or(0)
}

/// `*.jsonl` files under `dir`, sorted, skipping names that start with `.`.
fn jsonl_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            if name.to_string_lossy().starts_with('.') {
                continue;
            }
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "jsonl") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

fn first_number_after(text: &str, tag: &str) -> Option<u64> {
    let at = text.find(tag)? + tag.len();
    let digits: String = text[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

impl Scan {
    /// Reads one file's lines.
    fn read_file(&mut self, path: &Path, root: &Path, seen: &mut HashMap<String, usize>) {
        let Ok(bytes) = std::fs::read(path) else {
            self.unreadable_files += 1;
            return;
        };
        let text = String::from_utf8_lossy(&bytes);
        let file = self.files.len();
        let in_subagents = path
            .strip_prefix(root)
            .unwrap_or(path)
            .components()
            .any(|c| c.as_os_str() == "subagents");
        let mut facts = FileFacts::default();
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            let Ok(Value::Object(rec)) = serde_json::from_str::<Value>(line) else {
                self.malformed_lines += 1;
                continue;
            };
            if facts.session.is_none() {
                facts.session = rec
                    .get("sessionId")
                    .and_then(Value::as_str)
                    .map(str::to_owned);
            }
            let ts = rec
                .get("timestamp")
                .and_then(Value::as_str)
                .map(str::to_owned);
            if let Some(t) = &ts {
                if facts.first_ts.is_none() {
                    facts.first_ts = Some(t.clone());
                }
                facts.last_ts = Some(t.clone());
            }
            let Some(message) = rec.get("message").and_then(Value::as_object) else {
                continue;
            };
            match rec.get("type").and_then(Value::as_str) {
                Some("assistant") => self.assistant(&rec, message, ts, file, in_subagents, seen),
                Some("user") => self.user(message),
                _ => {}
            }
        }
        self.files.push(facts);
    }

    fn assistant(
        &mut self,
        rec: &Map<String, Value>,
        message: &Map<String, Value>,
        ts: Option<String>,
        file: usize,
        in_subagents: bool,
        seen: &mut HashMap<String, usize>,
    ) {
        let usage = message.get("usage");
        let field = |k: &str| u(usage.and_then(|us| us.get(k)));
        let mut call = Call {
            file,
            ts,
            session: None,
            model: message
                .get("model")
                .and_then(Value::as_str)
                .filter(|m| !m.is_empty())
                .unwrap_or("unknown")
                .to_owned(),
            fresh: field("input_tokens"),
            cache_creation: field("cache_creation_input_tokens"),
            cache_read: field("cache_read_input_tokens"),
            gen: field("output_tokens"),
            sidechain: rec.get("isSidechain").and_then(Value::as_bool) == Some(true)
                || in_subagents,
            tools: Vec::new(),
        };
        let blocks = message
            .get("content")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        for b in &blocks {
            if b.get("type").and_then(Value::as_str) != Some("tool_use") {
                continue;
            }
            let id = b.get("id").and_then(Value::as_str).map(str::to_owned);
            if id.is_some() && call.tools.iter().any(|(i, _, _)| *i == id) {
                continue;
            }
            let name = b.get("name").and_then(Value::as_str).unwrap_or("?");
            call.tools.push((
                id,
                name.to_owned(),
                b.get("input").cloned().unwrap_or(Value::Null),
            ));
        }
        let key = message
            .get("id")
            .and_then(Value::as_str)
            .map(|id| format!("msg:{id}"))
            .or_else(|| {
                rec.get("requestId")
                    .and_then(Value::as_str)
                    .map(|id| format!("req:{id}"))
            });
        if let Some(key) = key {
            if let Some(&i) = seen.get(&key) {
                self.duplicate_records += 1;
                let existing = &mut self.calls[i];
                if call.gen >= existing.gen {
                    existing.fresh = call.fresh;
                    existing.cache_creation = call.cache_creation;
                    existing.cache_read = call.cache_read;
                    existing.gen = call.gen;
                }
                existing.sidechain |= call.sidechain;
                // a block is new when its id is new (blocks without an id: when not identical)
                for (id, name, input) in call.tools {
                    let known = match &id {
                        Some(id) => existing
                            .tools
                            .iter()
                            .any(|(i, _, _)| i.as_ref() == Some(id)),
                        None => existing
                            .tools
                            .iter()
                            .any(|(i, n, inp)| i.is_none() && *n == name && *inp == input),
                    };
                    if !known {
                        existing.tools.push((id, name, input));
                    }
                }
                return;
            }
            seen.insert(key, self.calls.len());
        }
        self.calls.push(call);
    }

    fn user(&mut self, message: &Map<String, Value>) {
        let text = match message.get("content") {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Array(blocks)) => blocks
                .iter()
                .filter(|b| b.get("type").and_then(Value::as_str) == Some("text"))
                .filter_map(|b| b.get("text").and_then(Value::as_str))
                .collect::<Vec<_>>()
                .join(" "),
            _ => return,
        };
        if text.contains("<usage>") || text.contains("<task-notification>") {
            self.dispatches += 1;
            if let Some(n) = first_number_after(&text, "<agent_count>") {
                self.agent_counts.push(n);
            }
            if let Some(n) = first_number_after(&text, "<subagent_tokens>") {
                self.subagent_tokens += n;
            }
        }
    }

    /// Reads every transcript under `root` (a missing folder reads as empty).
    pub(crate) fn read(root: &Path, progress: bool) -> Scan {
        let files = jsonl_files(root);
        let bar = if progress && files.len() >= PROGRESS_FROM_FILES {
            indicatif::ProgressBar::new(files.len() as u64)
        } else {
            indicatif::ProgressBar::hidden()
        };
        let mut scan = Scan::default();
        let mut seen = HashMap::new();
        for path in &files {
            scan.read_file(path, root, &mut seen);
            bar.inc(1);
        }
        bar.finish_and_clear();
        for call in &mut scan.calls {
            call.session = scan.files[call.file].session.clone();
            let facts = &mut scan.files[call.file];
            facts.calls += 1;
            facts.output += call.gen;
        }
        scan
    }
}

/// `{name: count}` ordered by count descending (ties: first seen), at most `top`.
fn most_common(counts: &[(String, u64)], top: usize) -> Value {
    let mut v: Vec<(usize, &(String, u64))> = counts.iter().enumerate().collect();
    v.sort_by(|a, b| b.1 .1.cmp(&a.1 .1).then(a.0.cmp(&b.0)));
    Value::Object(
        v.into_iter()
            .take(top)
            .map(|(_, (k, n))| (k.clone(), json!(n)))
            .collect(),
    )
}

/// A first-seen-ordered counter.
#[derive(Default)]
struct Counter {
    order: Vec<(String, u64)>,
    index: HashMap<String, usize>,
}

impl Counter {
    /// The slot of `key`, created at zero when new.
    fn slot(&mut self, key: &str) -> usize {
        match self.index.get(key) {
            Some(&i) => i,
            None => {
                self.order.push((key.to_owned(), 0));
                self.index.insert(key.to_owned(), self.order.len() - 1);
                self.order.len() - 1
            }
        }
    }
    fn add(&mut self, key: &str, n: u64) {
        let i = self.slot(key);
        self.order[i].1 += n;
    }
    /// The entry with the highest count (the first inserted on ties).
    fn peak(&self) -> Option<&(String, u64)> {
        self.order
            .iter()
            .fold(None, |best: Option<&(String, u64)>, e| match best {
                Some(b) if b.1 >= e.1 => Some(b),
                _ => Some(e),
            })
    }
}

fn mean(v: &[u64]) -> u64 {
    if v.is_empty() {
        0
    } else {
        v.iter().sum::<u64>() / v.len() as u64
    }
}

fn sorted(mut v: Vec<u64>) -> Vec<u64> {
    v.sort_unstable();
    v
}

fn ctx_summary(ctx: &[u64]) -> Value {
    json!({
        "n": ctx.len(),
        "p50": pct(ctx, 50.0), "p90": pct(ctx, 90.0), "p95": pct(ctx, 95.0), "p99": pct(ctx, 99.0),
        "max": ctx.last().copied().unwrap_or(0),
        "mean": mean(ctx),
    })
}

fn context_histogram(ctx: &[u64]) -> Value {
    let mut out = Vec::new();
    let mut below = 0;
    for le in BUCKETS {
        let n = ctx.iter().filter(|c| **c <= le).count();
        out.push(json!({"le": le, "calls": n - below}));
        below = n;
    }
    out.push(json!({"le": null, "calls": ctx.len() - below}));
    Value::Array(out)
}

/// Seconds since the epoch of an ISO-8601 UTC timestamp.
fn epoch(ts: &str) -> Option<i64> {
    anvil_profile_store::time::parse_date(ts.get(..19).unwrap_or(ts))
}

/// Builds `usage_aggregate.json`.
pub(crate) fn aggregate(scan: &Scan) -> Value {
    let calls = &scan.calls;
    let ctx = sorted(calls.iter().map(Call::ctx).collect());
    let gen = sorted(calls.iter().map(|c| c.gen).collect());
    let mut per_minute = Counter::default();
    let mut minute_sessions: Vec<HashSet<String>> = Vec::new();
    let mut per_hour = Counter::default();
    let mut days: BTreeMap<String, (u64, u64, HashSet<String>)> = BTreeMap::new();
    let (mut models_calls, mut models_out) = (Counter::default(), Counter::default());
    let (mut tools, mut skills, mut agents) =
        (Counter::default(), Counter::default(), Counter::default());
    for c in calls {
        models_calls.add(&c.model, 1);
        models_out.add(&c.model, c.gen);
        for (_, name, input) in &c.tools {
            tools.add(name, 1);
            if name == "Skill" {
                skills.add(input.get("skill").and_then(Value::as_str).unwrap_or("?"), 1);
            } else if name == "Agent" {
                agents.add(
                    input
                        .get("subagent_type")
                        .and_then(Value::as_str)
                        .unwrap_or("general-purpose"),
                    1,
                );
            }
        }
        let Some(ts) = &c.ts else { continue };
        let minute = ts.get(..16).unwrap_or(ts);
        per_minute.add(minute, 1);
        // per_minute and minute_sessions share their slots
        let slot = per_minute.slot(minute);
        if minute_sessions.len() <= slot {
            minute_sessions.resize_with(slot + 1, HashSet::new);
        }
        if let Some(s) = &c.session {
            minute_sessions[slot].insert(s.clone());
        }
        per_hour.add(ts.get(..13).unwrap_or(ts), c.gen);
        let day = days
            .entry(ts.get(..10).unwrap_or(ts).to_owned())
            .or_default();
        day.0 += c.gen;
        day.1 += 1;
        if let Some(s) = &c.session {
            day.2.insert(s.clone());
        }
    }
    let cpm = sorted(per_minute.order.iter().map(|(_, n)| *n).collect());
    let mut par = Counter::default();
    for ((minute, _), sessions) in per_minute.order.iter().zip(&minute_sessions) {
        par.add(minute, sessions.len() as u64);
    }
    let par_sorted = sorted(par.order.iter().map(|(_, n)| *n).collect());
    let peak_par = par.peak().cloned().unwrap_or_default();
    let peak_min = per_minute.peak().cloned().unwrap_or_default();
    let peak_hour = per_hour.peak().cloned().unwrap_or_default();

    let sessions: Vec<&FileFacts> = scan.files.iter().filter(|f| f.calls > 0).collect();
    let durations: Vec<f64> = sessions
        .iter()
        .map(|f| match (&f.first_ts, &f.last_ts) {
            (Some(a), Some(b)) => match (epoch(a), epoch(b)) {
                (Some(a), Some(b)) => round_to((b - a) as f64 / 3600.0, 3),
                _ => 0.0,
            },
            _ => 0.0,
        })
        .collect();
    let dur_ms = sorted(
        durations
            .iter()
            .map(|d| (d * 1000.0).round() as u64)
            .collect(),
    );
    let turns = sorted(sessions.iter().map(|f| f.calls).collect());
    let active_days = days.len() as u64;
    let busiest = days
        .iter()
        .fold(None, |best: Option<(&String, u64)>, (d, v)| match best {
            Some((_, o)) if o >= v.0 => best,
            _ => Some((d, v.0)),
        });
    let day_row = |d: &str, v: &(u64, u64, HashSet<String>)| json!({"day": d, "out": v.0, "calls": v.1, "sessions": v.2.len()});
    let agent_counts = sorted(scan.agent_counts.clone());
    let totals_out: u64 = calls.iter().map(|c| c.gen).sum();
    let fresh: u64 = calls.iter().map(|c| c.fresh).sum();
    let cc: u64 = calls.iter().map(|c| c.cache_creation).sum();
    let cr: u64 = calls.iter().map(|c| c.cache_read).sum();
    json!({
        "window": {
            "files": scan.files.len(),
            "sessions_with_calls": sessions.len(),
            "first_day": days.keys().next(),
            "last_day": days.keys().next_back(),
            "active_days": active_days,
            "malformed_lines": scan.malformed_lines,
            "unreadable_files": scan.unreadable_files,
            "duplicate_records": scan.duplicate_records,
        },
        "totals": {
            "assistant_calls": calls.len(),
            "output_tokens": totals_out,
            "fresh_input_tokens": fresh,
            "cache_creation_tokens": cc,
            "cache_read_tokens": cr,
            "total_processed": totals_out + fresh + cc + cr,
        },
        "model_mix": {"calls": most_common(&models_calls.order, usize::MAX), "output_tokens": most_common(&models_out.order, usize::MAX)},
        "context_size_per_call": ctx_summary(&ctx),
        "context_histogram": context_histogram(&ctx),
        "generation_per_call": {
            "p50": pct(&gen, 50.0), "p90": pct(&gen, 90.0), "p95": pct(&gen, 95.0), "p99": pct(&gen, 99.0),
            "max": gen.last().copied().unwrap_or(0), "mean": mean(&gen),
        },
        "concurrency": {
            "peak_calls_per_min": {"minute": peak_min.0, "calls": peak_min.1},
            "p99_calls_per_min": pct(&cpm, 99.0),
            "p95_calls_per_min": pct(&cpm, 95.0),
            "peak_parallel_sessions": {"minute": peak_par.0, "sessions": peak_par.1},
            "p99_parallel_sessions": pct(&par_sorted, 99.0),
            "p95_parallel_sessions": pct(&par_sorted, 95.0),
        },
        "throughput": {
            "peak_output_tokens_per_hour": {"hour": peak_hour.0, "tokens": peak_hour.1},
            "peak_sustained_tok_per_s": round_to(peak_hour.1 as f64 / 3600.0, 1),
        },
        "workflows": {
            "dispatches": scan.dispatches,
            "subagent_tokens": scan.subagent_tokens,
            "agent_count_p50": pct(&agent_counts, 50.0),
            "agent_count_p95": pct(&agent_counts, 95.0),
            "agent_count_max": agent_counts.last().copied().unwrap_or(0),
            "total_subagents": agent_counts.iter().sum::<u64>(),
        },
        "sessions": {
            "count": sessions.len(),
            "median_duration_h": crate::stats::pct(&dur_ms, 50.0) as f64 / 1000.0,
            "p95_duration_h": crate::stats::pct(&dur_ms, 95.0) as f64 / 1000.0,
            "max_duration_h": durations.iter().copied().fold(0.0, f64::max),
            "median_asst_turns": pct(&turns, 50.0),
            "max_asst_turns": turns.last().copied().unwrap_or(0),
            "sessions_per_active_day": round_to(sessions.len() as f64 / active_days.max(1) as f64, 1),
        },
        "tools": most_common(&tools.order, 25),
        "skills": most_common(&skills.order, 20),
        "agent_types": most_common(&agents.order, 20),
        "busiest_day": busiest.and_then(|(d, _)| days.get(d).map(|v| day_row(d, v))),
        "daily": days.iter().map(|(d, v)| day_row(d, v)).collect::<Vec<_>>(),
    })
}

fn role_summary(calls: &[&Call]) -> Value {
    let ctx = sorted(calls.iter().map(|c| c.ctx()).collect());
    let gen = sorted(calls.iter().map(|c| c.gen).collect());
    json!({
        "n": calls.len(),
        "ctx": {"p50": pct(&ctx, 50.0), "p90": pct(&ctx, 90.0), "p95": pct(&ctx, 95.0), "p99": pct(&ctx, 99.0),
                "max": ctx.last().copied().unwrap_or(0), "mean": mean(&ctx)},
        "gen": {"p50": pct(&gen, 50.0), "p95": pct(&gen, 95.0), "max": gen.last().copied().unwrap_or(0)},
        "ctx_histogram": context_histogram(&ctx),
    })
}

/// Builds `role_split.json`.
pub(crate) fn role_split(scan: &Scan) -> Value {
    let calls = &scan.calls;
    let mut by_role = Map::new();
    for (role, side) in [("main", false), ("subagent", true)] {
        let of_role: Vec<&Call> = calls.iter().filter(|c| c.sidechain == side).collect();
        if !of_role.is_empty() {
            by_role.insert(role.to_owned(), role_summary(&of_role));
        }
    }
    let mut model_counts = Counter::default();
    for c in calls {
        model_counts.add(&c.model, 1);
    }
    let mut order: Vec<(usize, &(String, u64))> = model_counts.order.iter().enumerate().collect();
    order.sort_by(|a, b| b.1 .1.cmp(&a.1 .1).then(a.0.cmp(&b.0)));
    let by_model: Map<String, Value> = order
        .into_iter()
        .map(|(_, (m, _))| {
            let of_model: Vec<&Call> = calls.iter().filter(|c| c.model == *m).collect();
            (m.clone(), role_summary(&of_model))
        })
        .collect();
    let sub: Vec<u64> = calls
        .iter()
        .filter(|c| c.sidechain)
        .map(Call::ctx)
        .collect();
    let coverage: Map<String, Value> = CEILINGS
        .iter()
        .map(|ceil| {
            let v = if sub.is_empty() {
                json!(0.0)
            } else {
                let n = sub.iter().filter(|c| **c <= *ceil).count();
                json!(round_to(100.0 * n as f64 / sub.len() as f64, 1))
            };
            (ceil.to_string(), v)
        })
        .collect();
    json!({
        "total_assistant_calls": calls.len(),
        "subagent_calls": sub.len(),
        "by_role": by_role,
        "by_model": by_model,
        "subagent_context_coverage_pct": coverage,
    })
}

fn bars(hist: &Value) -> Vec<Bar> {
    hist.as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|b| Bar {
            label: match b.get("le").and_then(Value::as_u64) {
                Some(le) => format!("<= {}", short_tokens(le)),
                None => format!(" > {}", short_tokens(BUCKETS[BUCKETS.len() - 1])),
            },
            count: u(b.get("calls")),
        })
        .collect()
}

fn n(v: &Value, ptr: &str) -> String {
    let raw = v.pointer(ptr).cloned().unwrap_or(Value::Null);
    match raw.as_u64() {
        Some(x) => {
            let s = x.to_string();
            let mut out = String::new();
            for (i, ch) in s.chars().enumerate() {
                if i > 0 && (s.len() - i) % 3 == 0 {
                    out.push(',');
                }
                out.push(ch);
            }
            out
        }
        None => match raw {
            Value::String(s) => s,
            Value::Null => "-".to_owned(),
            other => other.to_string(),
        },
    }
}

/// The human summary.
pub(crate) fn summary(agg: &Value, roles: &Value) -> String {
    let mut o = String::new();
    o.push_str("=== USAGE PROFILE ===\n");
    o.push_str(&format!(
        "window       {} files, {} sessions with calls, {} .. {} ({} active days)\n",
        n(agg, "/window/files"),
        n(agg, "/window/sessions_with_calls"),
        n(agg, "/window/first_day"),
        n(agg, "/window/last_day"),
        n(agg, "/window/active_days"),
    ));
    o.push_str(&format!(
        "skipped      {} malformed lines, {} unreadable files, {} duplicate records merged\n",
        n(agg, "/window/malformed_lines"),
        n(agg, "/window/unreadable_files"),
        n(agg, "/window/duplicate_records"),
    ));
    o.push_str(&format!(
        "calls        {} assistant calls, {} output tokens, {} tokens processed\n",
        n(agg, "/totals/assistant_calls"),
        n(agg, "/totals/output_tokens"),
        n(agg, "/totals/total_processed"),
    ));
    let c = "/context_size_per_call";
    o.push_str(&format!(
        "context/call p50 {}  p90 {}  p95 {}  p99 {}  max {}  mean {}\n",
        n(agg, &format!("{c}/p50")),
        n(agg, &format!("{c}/p90")),
        n(agg, &format!("{c}/p95")),
        n(agg, &format!("{c}/p99")),
        n(agg, &format!("{c}/max")),
        n(agg, &format!("{c}/mean")),
    ));
    let g = "/generation_per_call";
    o.push_str(&format!(
        "output/call  p50 {}  p95 {}  p99 {}  max {}\n",
        n(agg, &format!("{g}/p50")),
        n(agg, &format!("{g}/p95")),
        n(agg, &format!("{g}/p99")),
        n(agg, &format!("{g}/max")),
    ));
    o.push_str(&format!(
        "concurrency  peak {} calls/min at {}, p95 {}; peak {} parallel sessions\n",
        n(agg, "/concurrency/peak_calls_per_min/calls"),
        n(agg, "/concurrency/peak_calls_per_min/minute"),
        n(agg, "/concurrency/p95_calls_per_min"),
        n(agg, "/concurrency/peak_parallel_sessions/sessions"),
    ));
    o.push_str(&format!(
        "throughput   peak hour {} output tokens ({} tok/s sustained)\n",
        n(agg, "/throughput/peak_output_tokens_per_hour/tokens"),
        n(agg, "/throughput/peak_sustained_tok_per_s"),
    ));
    o.push_str(&format!(
        "sessions     {} (median {} h, p95 {} h, max {} turns); {} subagent dispatches\n",
        n(agg, "/sessions/count"),
        n(agg, "/sessions/median_duration_h"),
        n(agg, "/sessions/p95_duration_h"),
        n(agg, "/sessions/max_asst_turns"),
        n(agg, "/workflows/dispatches"),
    ));
    if let Some(tools) = agg.get("tools").and_then(Value::as_object) {
        let top: Vec<String> = tools
            .iter()
            .take(8)
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        if !top.is_empty() {
            o.push_str(&format!("tools        {}\n", top.join(", ")));
        }
    }
    o.push_str("\ncontext size per call (calls):\n");
    o.push_str(&histogram(&bars(&agg["context_histogram"]), 40));
    o.push_str("\n=== ROLE SPLIT (main loop vs subagents) ===\n");
    if let Some(by_role) = roles.get("by_role").and_then(Value::as_object) {
        for (role, s) in by_role {
            o.push_str(&format!(
                "{role:<9} n={}  ctx p50 {}  p95 {}  max {}  gen p50 {}\n",
                n(s, "/n"),
                n(s, "/ctx/p50"),
                n(s, "/ctx/p95"),
                n(s, "/ctx/max"),
                n(s, "/gen/p50"),
            ));
        }
    }
    o.push_str("subagent calls whose context fits a window of:\n");
    if let Some(cov) = roles
        .get("subagent_context_coverage_pct")
        .and_then(Value::as_object)
    {
        for (ceil, pctv) in cov {
            let ceil: u64 = ceil.parse().unwrap_or(0);
            o.push_str(&format!(
                "  <= {:>7} tok : {}%\n",
                n(&json!(ceil), ""),
                pctv
            ));
        }
    }
    o
}

/// Runs the verb; returns the exit status.
pub fn run(args: ProfileArgs) -> anyhow::Result<u8> {
    let logs = match args.logs_dir {
        Some(d) => d,
        None => match std::env::var_os("ANVIL_CLAUDE_LOGS") {
            Some(d) => PathBuf::from(d),
            None => {
                let home = std::env::var_os("HOME").context("HOME is not set; pass --logs-dir")?;
                PathBuf::from(home).join(".claude").join("projects")
            }
        },
    };
    if !logs.is_dir() {
        eprintln!(
            "anvil-substrate profile: note: {} is not a folder; the profile is empty",
            logs.display()
        );
    }
    let scan = Scan::read(&logs, std::io::stderr().is_terminal());
    let agg = aggregate(&scan);
    let roles = role_split(&scan);
    std::fs::create_dir_all(&args.out_dir)
        .with_context(|| format!("cannot create {}", args.out_dir.display()))?;
    let agg_path = args.out_dir.join("usage_aggregate.json");
    let roles_path = args.out_dir.join("role_split.json");
    for (path, doc) in [(&agg_path, &agg), (&roles_path, &roles)] {
        let text = serde_json::to_string_pretty(doc)? + "\n";
        std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&agg)?);
    } else {
        print!("{}", summary(&agg, &roles));
        println!(
            "\nwrote {} and {}",
            agg_path.display(),
            roles_path.display()
        );
    }
    Ok(0)
}
