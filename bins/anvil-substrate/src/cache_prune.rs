//! `anvil-substrate cache-prune`: plan, and only with `--execute --yes` perform, a model cache
//! cleanup (substrate reference §10).
//!
//! The scan is `models sync`'s (same roots, offline, nothing written). Every real model that is not
//! protected by `--mixture` is a candidate: GGUF → `incompatible-gguf` (SGLang/vLLM cannot load
//! it, llama.cpp can: kept unless `--include-servable`), safetensors with a known sm_120 risk →
//! `incompatible-sm120` (dead on this hardware: deletable), any other → `purposeless` (kept unless
//! `--include-servable`). Protected ids never become candidates.
//!
//! Gates, in order: `--execute` without `--yes` exits 2; `--execute --include-servable` with no
//! `--mixture` exits 2 (`REFUSING broad wipe`) unless `--allow-empty-mixture`; with `--execute`, a
//! `--mixture` id the scan did not find exits 2 (`ABORT`: its protection cannot be honoured);
//! `--dry-run` overrides `--execute`. Each deletion must name an absolute path that is not a
//! symlink, resolves to a folder strictly inside a scan root (never a root itself), and still
//! exists; anything else is skipped with its reason.

use std::path::{Component, Path, PathBuf};

use clap::Args;
use serde_json::{json, Value};

use crate::models::{dir_bytes, root_list, scan, Model, Roots};

const EXAMPLE: &str = "Examples:
  anvil-substrate cache-prune --mixture openai/gpt-oss-20b,Qwen/Qwen3-Coder-30B-A3B-Instruct
  # PRUNE PLAN (dry run: nothing is deleted without --execute --yes)
  # | acme/moe-fp8 | safetensors | 80.0 | incompatible-sm120 | yes |
  # TOTAL reclaimable: 130.0 GB (130000000000 bytes)
  anvil-substrate cache-prune --mixture openai/gpt-oss-20b --execute --yes   # deletes the dead ones";

/// Flags of `anvil-substrate cache-prune`.
#[derive(Debug, Args)]
#[command(after_help = EXAMPLE)]
pub struct CachePruneArgs {
    /// Model ids to protect (comma-separated or repeated)
    #[arg(long, value_delimiter = ',', value_name = "IDS")]
    mixture: Vec<String>,
    /// Delete (needs --yes)
    #[arg(long)]
    execute: bool,
    /// Confirm deletion
    #[arg(long)]
    yes: bool,
    /// Plan only, even with --execute
    #[arg(long)]
    dry_run: bool,
    /// Also delete servable models (GGUF, unused safetensors), not only dead ones
    #[arg(long)]
    include_servable: bool,
    /// Allow --include-servable without a --mixture to protect
    #[arg(long)]
    allow_empty_mixture: bool,
    /// Print JSON instead of text
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    roots: Roots,
}

/// A prune candidate.
#[derive(Debug, Clone)]
struct Candidate {
    id: String,
    reason: &'static str,
    format: String,
    size_gb: f64,
    bytes: u64,
    dead: bool,
    path: PathBuf,
}

fn classify(m: &Model) -> (&'static str, bool) {
    if m.format == "GGUF" {
        ("incompatible-gguf", false)
    } else if m.format == "safetensors" && m.sm120_caveat.is_some() {
        ("incompatible-sm120", true)
    } else {
        ("purposeless", false)
    }
}

/// Why `path` may not be deleted, if so.
fn refusal(path: &Path, roots: &[PathBuf]) -> Option<&'static str> {
    if path.as_os_str().is_empty() || !path.is_absolute() {
        return Some("refused:not-absolute");
    }
    match std::fs::symlink_metadata(path) {
        Err(_) => return Some("gone"),
        Ok(m) if m.file_type().is_symlink() => return Some("refused:symlink"),
        Ok(m) if !m.is_dir() => return Some("refused:notdir"),
        Ok(_) => {}
    }
    let Ok(real) = std::fs::canonicalize(path) else {
        return Some("gone");
    };
    if real.parent().is_none()
        || real
            .components()
            .all(|c| matches!(c, Component::RootDir | Component::Prefix(_)))
    {
        return Some("refused:filesystem-root");
    }
    let inside = roots
        .iter()
        .any(|r| real.starts_with(r) && real.components().count() > r.components().count());
    if !inside {
        return Some("refused:outside-root");
    }
    None
}

/// Runs the verb.
pub fn run(a: CachePruneArgs) -> anyhow::Result<u8> {
    if a.execute && !a.yes {
        eprintln!("anvil-substrate cache-prune: refusing to delete without --yes (this DELETES directories)");
        return Ok(2);
    }
    if a.execute && a.include_servable && a.mixture.is_empty() && !a.allow_empty_mixture {
        eprintln!(
            "anvil-substrate cache-prune: REFUSING broad wipe: --include-servable with no --mixture would delete \
             every model; name the models to keep with --mixture (or pass --allow-empty-mixture)"
        );
        return Ok(2);
    }
    let models: Vec<Model> = scan(&a.roots, None)
        .into_iter()
        .filter(Model::is_real)
        .collect();
    let roots: Vec<PathBuf> = root_list(&a.roots)
        .into_iter()
        .filter_map(|(p, _)| std::fs::canonicalize(p).ok())
        .collect();
    let protected: Vec<String> = models
        .iter()
        .filter(|m| a.mixture.contains(&m.id))
        .map(|m| m.id.clone())
        .collect();
    let unmatched: Vec<&String> = a
        .mixture
        .iter()
        .filter(|id| !protected.contains(id))
        .collect();
    let mut cands: Vec<Candidate> = models
        .iter()
        .filter(|m| !a.mixture.contains(&m.id))
        .map(|m| {
            let (reason, dead) = classify(m);
            Candidate {
                id: m.id.clone(),
                reason,
                format: m.format.clone(),
                size_gb: m.size_gb,
                bytes: m.size_bytes,
                dead,
                path: m.local_path.clone(),
            }
        })
        .collect();
    cands.sort_by(|x, y| y.bytes.cmp(&x.bytes).then(x.id.cmp(&y.id)));
    let total: u64 = cands.iter().map(|c| c.bytes).sum();
    let mut by_reason: std::collections::BTreeMap<&str, (u64, u64)> =
        std::collections::BTreeMap::new();
    for c in &cands {
        let e = by_reason.entry(c.reason).or_default();
        e.0 += 1;
        e.1 += c.bytes;
    }
    let gb = |b: u64| crate::stats::round_to(b as f64 / 1e9, 1);
    let plan = json!({
        "candidates": cands.iter().map(|c| json!({"id": c.id, "reason": c.reason, "format": c.format, "size_gb": c.size_gb,
            "reclaimable_bytes": c.bytes, "dead_everywhere": c.dead, "local_path": c.path})).collect::<Vec<_>>(),
        "protected": protected,
        "by_reason": by_reason.iter().map(|(r, (n, b))| (r.to_string(), json!({"count": n, "bytes": b}))).collect::<serde_json::Map<_, _>>(),
        "total_reclaimable_gb": gb(total),
        "total_reclaimable_bytes": total,
    });
    if a.execute && !unmatched.is_empty() && !a.dry_run {
        if a.json {
            println!(
                "{}",
                serde_json::to_string_pretty(
                    &json!({"error": "unmatched-protect-ids", "unmatched": unmatched, "plan": plan, "mixture": a.mixture})
                )?
            );
        } else {
            println!("ABORT: requested protect id(s) NOT found in scan -- refusing to delete (cannot honor protection): {unmatched:?}");
        }
        return Ok(2);
    }
    let dry = !a.execute || a.dry_run;
    let (mut deleted, mut would, mut kept, mut skipped) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut reclaimed, mut planned) = (0u64, 0u64);
    for c in &cands {
        if !(c.dead || a.include_servable) {
            kept.push(json!({"id": c.id, "reason": c.reason}));
            continue;
        }
        if let Some(why) = refusal(&c.path, &roots) {
            skipped.push(json!({"id": c.id, "reason": why}));
            continue;
        }
        planned += c.bytes;
        if dry {
            would.push(c.id.clone());
            continue;
        }
        let size = dir_bytes(&c.path);
        match std::fs::remove_dir_all(&c.path) {
            Ok(()) if !c.path.exists() => {
                reclaimed += size;
                deleted.push(c.id.clone());
            }
            Ok(()) => skipped.push(json!({"id": c.id, "reason": "still-present"})),
            Err(e) => skipped.push(json!({"id": c.id, "reason": format!("error: {e}")})),
        }
    }
    let report = json!({"dry_run": dry, "include_servable": a.include_servable, "deleted": deleted, "would_delete": would,
        "kept": kept, "skipped": skipped, "reclaimed_bytes": reclaimed, "planned_bytes": planned, "reclaimed_gb": gb(reclaimed)});
    if a.json {
        let mut mixture = a.mixture.clone();
        mixture.sort();
        println!(
            "{}",
            serde_json::to_string_pretty(
                &json!({"plan": plan, "report": report, "mixture": mixture})
            )?
        );
        return Ok(0);
    }
    println!(
        "PRUNE PLAN ({})",
        if dry {
            "dry run: nothing is deleted without --execute --yes"
        } else {
            "executing"
        }
    );
    println!("| id | format | size_gb | reason | dead? |\n|---|---|---|---|---|");
    for c in &cands {
        println!(
            "| {} | {} | {:.1} | {} | {} |",
            c.id,
            c.format,
            c.size_gb,
            c.reason,
            if c.dead { "yes" } else { "no" }
        );
    }
    for (r, (n, b)) in &by_reason {
        println!("  {r}: {n} model(s), {:.1} GB", gb(*b));
    }
    println!("TOTAL reclaimable: {:.1} GB ({total} bytes)", gb(total));
    println!("protected (matched in scan, never removed): {protected:?}");
    if !unmatched.is_empty() {
        println!(
            "WARNING: requested protect id(s) NOT found in scan -- NOT protected: {unmatched:?}"
        );
    }
    println!();
    if dry {
        println!(
            "DRY-RUN{} -- would reclaim {planned} bytes ({:.1} GB)",
            if a.execute && a.dry_run {
                " (--dry-run overrides --execute)"
            } else {
                ""
            },
            gb(planned)
        );
        println!("would delete: {would:?}");
    } else {
        println!("reclaimed {reclaimed} bytes ({:.1} GB)", gb(reclaimed));
        println!("deleted: {deleted:?}");
    }
    let ids = |v: &[Value]| {
        v.iter()
            .map(|k| {
                format!(
                    "{} ({})",
                    k["id"].as_str().unwrap_or_default(),
                    k["reason"].as_str().unwrap_or_default()
                )
            })
            .collect::<Vec<_>>()
    };
    if !kept.is_empty() {
        println!("kept (servable elsewhere): {:?}", ids(&kept));
    }
    if !skipped.is_empty() {
        println!("skipped: {:?}", ids(&skipped));
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deletion_refuses_unsafe_paths() {
        let base = std::env::temp_dir().join(format!("anvil-prune-unit-{}", std::process::id()));
        let root = base.join("root");
        std::fs::create_dir_all(root.join("m")).unwrap();
        std::fs::create_dir_all(base.join("outside")).unwrap();
        std::os::unix::fs::symlink(base.join("outside"), root.join("link")).unwrap();
        let roots = vec![std::fs::canonicalize(&root).unwrap()];
        assert_eq!(
            refusal(Path::new("rel/path"), &roots),
            Some("refused:not-absolute")
        );
        assert_eq!(refusal(&root.join("link"), &roots), Some("refused:symlink"));
        assert_eq!(refusal(&root, &roots), Some("refused:outside-root"));
        assert_eq!(
            refusal(&base.join("outside"), &roots),
            Some("refused:outside-root")
        );
        assert_eq!(refusal(&root.join("gone"), &roots), Some("gone"));
        assert_eq!(
            refusal(Path::new("/"), &roots),
            Some("refused:filesystem-root")
        );
        assert_eq!(refusal(&root.join("m"), &roots), None);
        let _ = std::fs::remove_dir_all(&base);
    }
}
