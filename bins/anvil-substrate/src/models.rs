//! `anvil-substrate models sync`: the local model catalog.
//!
//! Scans Hugging Face hub caches (`models--<owner>--<repo>/{blobs,refs,snapshots}`) and plain model
//! folders (each immediate subfolder is a model), and writes into `--out`: one
//! `cards/<owner>__<repo>.json` per model, `catalog.json` (every row), `INDEX.md` and `_seen.json`
//! (for new-model detection). Offline by default: the model card is the snapshot's `README.md`, or
//! a card saved by an earlier `--fetch-cards` run; only `--fetch-cards` asks the hub
//! (`$HF_ENDPOINT`, default `https://huggingface.co`, with `$HF_TOKEN` when set).
//!
//! Roots, one rule for every verb that scans (`models sync`, `cache-prune`, `score`; 0.4.0 honoured
//! `HF_HOME` in `models sync` only): `$HF_HUB_CACHE` and `$HUGGINGFACE_HUB_CACHE` as given,
//! `$HF_HOME/hub`, `~/.cache/huggingface/hub`, `$USERPROFILE/.cache/huggingface/hub`,
//! `/mnt/c/Users/*/.cache/huggingface/hub`, `$ANVIL_HF_ROOTS`, then `--hf-roots`; plain folders:
//! `$ANVIL_MODEL_DIRS`, `/mnt/c/Users/*/models`, then `--model-dirs`. `--no-default-roots` keeps only
//! the flags. Missing folders are skipped; a folder reached twice is scanned once.
//!
//! Per model: weight format (`GGUF` wins over `safetensors`, else `?`), size (the `blobs/` folder
//! when there is one, each file once by real path), native context (`max_position_embeddings`, or a
//! GGUF header's `<arch>.context_length`), quantization, MoE, which engines load the format
//! (GGUF: llama.cpp only — neither SGLang nor vLLM), the known Blackwell sm_120 risks (FP8 MoE hangs
//! in SGLang, sglang#16816; NVFP4 GEMMs return zeros, flashinfer#2577 / vllm#24921), license,
//! thinking-by-default (the card says so, or the chat template reads `enable_thinking`), sampling
//! defaults and the benchmark numbers the card states.

use std::collections::{BTreeMap, HashSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use anyhow::Context;
use clap::{Args, Subcommand};
use regex::Regex;
use serde::Serialize;
use serde_json::{json, Map, Value};

/// The caveat of FP8 weights on a mixture-of-experts model.
pub const FP8_MOE: &str = "FP8-MoE hangs post-load on sm_120 (sglang#16816)";
/// The caveat of NVFP4 weights.
pub const NVFP4: &str = "NVFP4 GEMM broken on sm_120: silent zeros (flashinfer#2577, vllm#24921)";

/// Benchmarks read from model cards, in the order they are looked for.
pub const CARD_BENCHMARKS: [&str; 8] = [
    "SWE-bench Verified",
    "Terminal-Bench",
    "LiveCodeBench",
    "BFCL",
    "TAU2",
    "MMLU-Pro",
    "Arena-Hard",
    "RULER",
];

const EXAMPLE: &str = "Example:
  anvil-substrate models sync --out ./model-library
  # discovered 5 model folders
  #   [safetensors] acme/dense-7b  0.0GB  card=y
  #   [       GGUF] acme/coder-gguf  0.0GB  card=n
  # wrote INDEX.md + 5 summaries to ./model-library
  anvil-substrate models sync --hf-roots /data/hf/hub --model-dirs /data/models --no-default-roots";

/// `anvil-substrate models …`
#[derive(Debug, Subcommand)]
pub enum ModelsCommand {
    /// Scan the HF caches and model folders into a catalog and an INDEX.md
    #[command(after_help = EXAMPLE)]
    Sync(SyncArgs),
}

/// Where to look for models (shared by `models sync`, `cache-prune`, `score`).
#[derive(Debug, Args, Clone, Default)]
pub struct Roots {
    /// Extra HF hub folders (`:`-separated or repeated)
    #[arg(long, value_name = "DIRS", value_delimiter = ':')]
    pub hf_roots: Vec<PathBuf>,
    /// Folders whose immediate subfolders are models (`:`-separated or repeated)
    #[arg(long, value_name = "DIRS", value_delimiter = ':')]
    pub model_dirs: Vec<PathBuf>,
    /// Scan only the folders given by flags (no environment or home-folder defaults)
    #[arg(long)]
    pub no_default_roots: bool,
}

/// Flags of `models sync`.
#[derive(Debug, Args)]
pub struct SyncArgs {
    /// Output folder
    #[arg(long, value_name = "DIR", default_value = "model-library")]
    out: PathBuf,
    #[command(flatten)]
    roots: Roots,
    /// Fetch each model's card from the hub ($HF_ENDPOINT) when no local card exists
    #[arg(long)]
    fetch_cards: bool,
}

/// Where a model was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// A Hugging Face hub cache.
    Hf,
    /// A plain model folder.
    Dir,
}

/// One catalog row.
#[derive(Debug, Clone, Serialize)]
pub struct Model {
    /// `owner/repo`, or `repo` without an owner.
    pub id: String,
    /// The owner, when known.
    pub owner: Option<String>,
    /// The repository name.
    pub repo: String,
    /// The model's folder (not the snapshot).
    pub local_path: PathBuf,
    /// The folder holding the files (the snapshot, or the model folder).
    pub snapshot: PathBuf,
    /// `hf` or `dir`.
    pub source: Source,
    /// The scan root the model was found under.
    pub root: PathBuf,
    /// Bytes on disk (each file once).
    pub size_bytes: u64,
    /// `size_bytes / 1e9`, one decimal.
    pub size_gb: f64,
    /// `GGUF`, `safetensors` or `?`.
    pub format: String,
    /// `config.json` architectures.
    pub architectures: Vec<String>,
    /// `config.json` model_type (or the GGUF architecture).
    pub model_type: Option<String>,
    /// Native context length.
    pub context: Option<u64>,
    /// Quantization method (or the format when unquantized).
    pub quant: Option<String>,
    /// Weight bits of a `config_groups` quantization.
    pub quant_bits: Option<u64>,
    /// A mixture-of-experts model.
    pub moe: bool,
    /// Engines that load this weight format.
    pub engines: Vec<&'static str>,
    /// SGLang loads it and no sm_120 risk applies.
    pub sglang_loadable: bool,
    /// vLLM loads it and no sm_120 risk applies (the risks are treated as engine-wide: the
    /// known vLLM sm_120 fixes are version-dependent).
    pub vllm_loadable: bool,
    /// The known Blackwell sm_120 risk, if any.
    pub sm120_caveat: Option<String>,
    /// `temperature`/`top_p`/`top_k` from generation_config.json.
    pub gen_sampling: Map<String, Value>,
    /// License from the card (or GGUF metadata).
    pub license: Option<String>,
    /// Thinks by default (card or chat template).
    pub thinking_default: bool,
    /// Where the card came from, if any.
    pub card: Option<PathBuf>,
    /// Benchmark numbers stated in the card (the text as written).
    pub benchmarks: BTreeMap<String, String>,
}

impl Model {
    /// The card/summary file stem: `owner__repo` or `repo`.
    pub fn slug(&self) -> String {
        match &self.owner {
            Some(o) => format!("{o}__{}", self.repo),
            None => self.repo.clone(),
        }
    }

    /// The real-model gate of INDEX.md, `score` and `cache-prune` (0.4.0): not `unslothai/*`, not
    /// a tiny folder without weights, and a `model_type` or a weight format.
    pub fn is_real(&self) -> bool {
        if self.owner.as_deref() == Some("unslothai") {
            return false;
        }
        if self.size_gb < 0.2 && self.format == "?" {
            return false;
        }
        self.model_type.is_some() || self.format == "safetensors" || self.format == "GGUF"
    }
}

/// The folders to scan: `(path, is_hf)`.
pub fn root_list(roots: &Roots) -> Vec<(PathBuf, bool)> {
    let mut out: Vec<(PathBuf, bool)> = Vec::new();
    let env = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
    let win_users = |tail: &[&str]| -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir("/mnt/c/Users")
            .map(|rd| {
                rd.flatten()
                    .map(|e| tail.iter().fold(e.path(), |p, t| p.join(t)))
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    };
    if !roots.no_default_roots {
        for k in ["HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"] {
            if let Some(v) = env(k) {
                out.push((PathBuf::from(v), true));
            }
        }
        if let Some(v) = env("HF_HOME") {
            out.push((PathBuf::from(v).join("hub"), true));
        }
        for k in ["HOME", "USERPROFILE"] {
            if let Some(v) = env(k) {
                out.push((PathBuf::from(v).join(".cache/huggingface/hub"), true));
            }
        }
        out.extend(
            win_users(&[".cache", "huggingface", "hub"])
                .into_iter()
                .map(|p| (p, true)),
        );
        if let Some(v) = env("ANVIL_HF_ROOTS") {
            out.extend(std::env::split_paths(&v).map(|p| (p, true)));
        }
    }
    out.extend(roots.hf_roots.iter().cloned().map(|p| (p, true)));
    if !roots.no_default_roots {
        if let Some(v) = env("ANVIL_MODEL_DIRS") {
            out.extend(std::env::split_paths(&v).map(|p| (p, false)));
        }
        out.extend(win_users(&["models"]).into_iter().map(|p| (p, false)));
    }
    out.extend(roots.model_dirs.iter().cloned().map(|p| (p, false)));
    let mut seen = HashSet::new();
    out.into_iter()
        .map(|(p, hf)| (std::path::absolute(&p).unwrap_or(p), hf))
        .filter(|(p, _)| p.is_dir())
        .filter(|(p, _)| seen.insert(std::fs::canonicalize(p).unwrap_or_else(|_| p.clone())))
        .collect()
}

fn read_json(path: &Path) -> Map<String, Value> {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|t| serde_json::from_str::<Value>(&t).ok())
        .and_then(|v| match v {
            Value::Object(m) => Some(m),
            _ => None,
        })
        .unwrap_or_default()
}

/// Every file under `dir` (following file symlinks, not directory symlinks).
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            match e.file_type() {
                Ok(t) if t.is_dir() => stack.push(p),
                Ok(_) => out.push(p),
                Err(_) => {}
            }
        }
    }
    out.sort();
    out
}

/// Bytes under `dir`, each file once by real path (apparent size).
pub fn dir_bytes(dir: &Path) -> u64 {
    let mut seen = HashSet::new();
    files_under(dir)
        .into_iter()
        .filter_map(|f| {
            let real = std::fs::canonicalize(&f).ok()?;
            let len = std::fs::metadata(&real).ok()?.len();
            seen.insert(real).then_some(len)
        })
        .sum()
}

fn pick_snapshot(model_dir: &Path) -> Option<PathBuf> {
    let rd = std::fs::read_dir(model_dir.join("snapshots")).ok()?;
    let mut snaps: Vec<(bool, usize, SystemTime, PathBuf)> = rd
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .map(|p| {
            let entries = std::fs::read_dir(&p).map(Iterator::count).unwrap_or(0);
            let mtime = std::fs::metadata(&p)
                .and_then(|m| m.modified())
                .unwrap_or(SystemTime::UNIX_EPOCH);
            (p.join("config.json").exists(), entries, mtime, p)
        })
        .collect();
    snaps.sort_by(|a, b| (b.0, b.1, b.2).cmp(&(a.0, a.1, a.2)).then(a.3.cmp(&b.3)));
    snaps.into_iter().next().map(|s| s.3)
}

/// GGUF metadata: the string and integer values of the header's key/value section.
#[derive(Debug, Default)]
pub struct GgufMeta {
    /// `general.architecture`.
    pub architecture: Option<String>,
    /// `<arch>.context_length`.
    pub context_length: Option<u64>,
    /// `general.license`.
    pub license: Option<String>,
    /// `general.file_type` (llama.cpp's quantization enum).
    pub file_type: Option<u64>,
}

/// Reads the metadata of a GGUF file's header (v2/v3, little endian) from its first MiB; `None`
/// when the file is not GGUF.
pub fn read_gguf(path: &Path) -> Option<GgufMeta> {
    let mut f = std::fs::File::open(path).ok()?;
    let mut buf = Vec::new();
    f.by_ref().take(1 << 20).read_to_end(&mut buf).ok()?;
    let mut r = Reader { buf: &buf, at: 0 };
    if r.bytes(4)? != b"GGUF" {
        return None;
    }
    let version = r.u32()?;
    if version < 2 {
        return None;
    }
    let _tensors = r.u64()?;
    let kvs = r.u64()?;
    // The first MiB holds the general.* and <arch>.* keys; a tokenizer vocabulary array after them
    // can run for megabytes: stop at the first key that does not fit and use what was read.
    let mut raw: Vec<(String, Value)> = Vec::new();
    for _ in 0..kvs.min(10_000) {
        let Some(key) = r.string() else { break };
        let Some(value) = r.u32().and_then(|ty| r.value(ty)) else {
            break;
        };
        raw.push((key, value));
    }
    let get = |k: &str| raw.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone());
    let architecture = get("general.architecture").and_then(|v| v.as_str().map(str::to_owned));
    Some(GgufMeta {
        context_length: architecture
            .as_deref()
            .and_then(|a| get(&format!("{a}.context_length")))
            .and_then(|v| v.as_u64()),
        license: get("general.license").and_then(|v| v.as_str().map(str::to_owned)),
        file_type: get("general.file_type").and_then(|v| v.as_u64()),
        architecture,
    })
}

struct Reader<'a> {
    buf: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn bytes(&mut self, n: usize) -> Option<&[u8]> {
        let s = self.buf.get(self.at..self.at.checked_add(n)?)?;
        self.at += n;
        Some(s)
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.bytes(4)?.try_into().ok()?))
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.bytes(8)?.try_into().ok()?))
    }
    fn string(&mut self) -> Option<String> {
        let n = usize::try_from(self.u64()?).ok()?;
        Some(String::from_utf8_lossy(self.bytes(n)?).into_owned())
    }
    fn value(&mut self, ty: u32) -> Option<Value> {
        Some(match ty {
            0 => json!(self.bytes(1)?[0]),
            1 => json!(self.bytes(1)?[0] as i8),
            2 => json!(u16::from_le_bytes(self.bytes(2)?.try_into().ok()?)),
            3 => json!(i16::from_le_bytes(self.bytes(2)?.try_into().ok()?)),
            4 => json!(self.u32()?),
            5 => json!(i32::from_le_bytes(self.bytes(4)?.try_into().ok()?)),
            6 => json!(f32::from_le_bytes(self.bytes(4)?.try_into().ok()?)),
            7 => json!(self.bytes(1)?[0] != 0),
            8 => json!(self.string()?),
            9 => {
                let inner = self.u32()?;
                let n = self.u64()?;
                let mut items = Vec::new();
                for _ in 0..n {
                    let v = self.value(inner)?;
                    if items.len() < 16 {
                        items.push(v);
                    }
                }
                Value::Array(items)
            }
            10 => json!(self.u64()?),
            11 => json!(i64::from_le_bytes(self.bytes(8)?.try_into().ok()?)),
            12 => json!(f64::from_le_bytes(self.bytes(8)?.try_into().ok()?)),
            _ => return None,
        })
    }
}

/// The hazard facts of a `config.json`: (quant, bits, moe, caveat) for a given format.
pub fn hazard(
    cfg: &Map<String, Value>,
    format: &str,
) -> (Option<String>, Option<u64>, bool, Option<String>) {
    let txt = cfg
        .get("text_config")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let q = cfg
        .get("quantization_config")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let method = q
        .get("quant_method")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let (mut bits, mut qtype) = (None, String::new());
    if let Some(groups) = q.get("config_groups").and_then(Value::as_object) {
        for g in groups.values() {
            if let Some(b) = g.pointer("/weights/num_bits").and_then(Value::as_u64) {
                if b > 0 {
                    bits = Some(b);
                    qtype = g
                        .pointer("/weights/type")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_lowercase();
                }
            }
        }
    }
    let fmt = q.get("format").and_then(Value::as_str).unwrap_or_default();
    let mut sig = format!(
        "{} {}",
        method.clone().unwrap_or_else(|| fmt.to_owned()),
        fmt
    )
    .to_lowercase();
    if bits == Some(8) && qtype == "float" {
        sig.push_str(" fp8");
    } else if bits == Some(4)
        && !sig.contains("mxfp4")
        && (qtype.contains("float") || sig.contains("float"))
    {
        sig.push_str(" nvfp4");
    }
    let moe_keys = ["num_experts", "num_local_experts", "n_routed_experts"];
    let arch_text = format!(
        "{} {}",
        cfg.get("model_type")
            .and_then(Value::as_str)
            .unwrap_or_default(),
        cfg.get("architectures")
            .and_then(Value::as_array)
            .map(|a| a
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(" "))
            .unwrap_or_default()
    )
    .to_lowercase();
    let moe = moe_keys
        .iter()
        .any(|k| cfg.contains_key(*k) || txt.contains_key(*k))
        || ["moe", "mixtral", "deepseek", "qwen3_moe", "gpt_oss"]
            .iter()
            .any(|s| arch_text.contains(s));
    let caveat = if format != "safetensors" {
        None
    } else if sig.contains("fp8") && moe {
        Some(FP8_MOE.to_owned())
    } else if sig.contains("nvfp4") {
        Some(NVFP4.to_owned())
    } else {
        None
    };
    let quant = method.or_else(|| (format != "?").then(|| format.to_owned()));
    (quant, bits, moe, caveat)
}

/// What a model card says (offline extraction).
#[derive(Debug, Default)]
pub struct CardFacts {
    /// `license:` of the front matter.
    pub license: Option<String>,
    /// The card says thinking is on by default.
    pub thinking_default: bool,
    /// Benchmark name → the number as written.
    pub benchmarks: BTreeMap<String, String>,
}

/// Extracts license, thinking default and benchmark numbers from a card.
///
/// A benchmark's number is the first number within 40 characters after its name that is not a
/// version (`v6`, or a number directly followed by `:`/`)` such as `Terminal-Bench 2.0: 40.5`);
/// 0.4.0 took the first digits and so often stored a version.
pub fn card_facts(card: &str) -> CardFacts {
    let mut facts = CardFacts::default();
    if let Some(rest) = card.strip_prefix("---") {
        let fm = rest.split("\n---").next().unwrap_or_default();
        for line in fm.lines() {
            if let Some(v) = line.trim().strip_prefix("license:") {
                let v = v.trim().trim_matches(['"', '\'']);
                if !v.is_empty() {
                    facts.license = Some(v.to_owned());
                }
            }
        }
    }
    let lower = card.to_lowercase();
    facts.thinking_default = (lower.contains("thinking mode") && lower.contains("default"))
        || card.contains("enable_thinking");
    let number = Regex::new(r"v?[0-9]+(?:\.[0-9]+)?[:)]?").ok();
    for name in CARD_BENCHMARKS {
        let Some(number) = &number else { break };
        let lname = name.to_lowercase();
        let Some(at) = lower.find(&lname) else {
            continue;
        };
        let after: String = card[at + name.len()..].chars().take(40).collect();
        // skip a trailing version or suffix glued to the name (`RULER@128K`)
        for m in number.find_iter(&after) {
            let t = m.as_str();
            let prefix_ok = m.start() == 0
                || !after[..m.start()].ends_with(|c: char| c.is_alphanumeric() || c == '@');
            if t.starts_with('v') || t.ends_with(':') || t.ends_with(')') || !prefix_ok {
                continue;
            }
            if after[m.end()..].starts_with(|c: char| c.is_alphabetic()) {
                continue;
            }
            facts.benchmarks.insert(name.to_owned(), t.to_owned());
            break;
        }
    }
    facts
}

/// Summarises one model folder.
pub fn summarize(
    model_dir: &Path,
    root: &Path,
    source: Source,
    owner: Option<String>,
    repo: String,
    cards_dir: Option<&Path>,
) -> Model {
    let snapshot = match source {
        Source::Hf => pick_snapshot(model_dir).unwrap_or_else(|| model_dir.to_path_buf()),
        Source::Dir => model_dir.to_path_buf(),
    };
    let cfg = read_json(&snapshot.join("config.json"));
    let gen = read_json(&snapshot.join("generation_config.json"));
    let files = files_under(&snapshot);
    let has = |ext: &str| {
        files
            .iter()
            .any(|f| f.extension().is_some_and(|e| e == ext))
    };
    let format = if has("gguf") {
        "GGUF"
    } else if has("safetensors") {
        "safetensors"
    } else {
        "?"
    };
    let blobs = model_dir.join("blobs");
    let size_bytes = dir_bytes(if blobs.is_dir() { &blobs } else { model_dir });
    let txt = cfg
        .get("text_config")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let gguf = if format == "GGUF" {
        files
            .iter()
            .filter(|f| f.extension().is_some_and(|e| e == "gguf"))
            .find_map(|f| read_gguf(f))
    } else {
        None
    };
    let mut context = cfg
        .get("max_position_embeddings")
        .or_else(|| txt.get("max_position_embeddings"))
        .and_then(Value::as_u64);
    let mut model_type = cfg
        .get("model_type")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let (mut quant, quant_bits, moe, sm120_caveat) = hazard(&cfg, format);
    let mut license = None;
    if let Some(g) = &gguf {
        context = context.or(g.context_length);
        model_type = model_type.or_else(|| g.architecture.clone());
        license = g.license.clone();
        if let Some(ft) = g.file_type {
            quant = Some(format!("gguf file_type {ft}"));
        }
    }
    let slug = match &owner {
        Some(o) => format!("{o}__{repo}"),
        None => repo.clone(),
    };
    let card_path = [
        Some(snapshot.join("README.md")),
        cards_dir.map(|d| d.join(format!("{slug}.md"))),
    ]
    .into_iter()
    .flatten()
    .find(|p| p.is_file());
    let card = card_path
        .as_ref()
        .and_then(|p| std::fs::read_to_string(p).ok())
        .map(|t| card_facts(&t))
        .unwrap_or_default();
    let template =
        std::fs::read_to_string(snapshot.join("tokenizer_config.json")).unwrap_or_default();
    let engines: Vec<&'static str> = match format {
        "GGUF" => vec!["llama.cpp"],
        "safetensors" => vec!["sglang", "vllm"],
        _ => Vec::new(),
    };
    let safetensors = format == "safetensors";
    let gen_sampling: Map<String, Value> = ["temperature", "top_p", "top_k"]
        .iter()
        .filter_map(|k| gen.get(*k).map(|v| ((*k).to_owned(), v.clone())))
        .collect();
    Model {
        id: match &owner {
            Some(o) => format!("{o}/{repo}"),
            None => repo.clone(),
        },
        owner,
        repo,
        local_path: model_dir.to_path_buf(),
        snapshot,
        source,
        root: root.to_path_buf(),
        size_bytes,
        size_gb: crate::stats::round_to(size_bytes as f64 / 1e9, 1),
        format: format.to_owned(),
        architectures: cfg
            .get("architectures")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default(),
        model_type,
        context,
        quant,
        quant_bits,
        moe,
        engines,
        sglang_loadable: safetensors && sm120_caveat.is_none(),
        vllm_loadable: safetensors && sm120_caveat.is_none(),
        sm120_caveat,
        gen_sampling,
        license: card.license.or(license),
        thinking_default: card.thinking_default || template.contains("enable_thinking"),
        card: card_path,
        benchmarks: card.benchmarks,
    }
}

/// Every model under the roots, in discovery order.
pub fn scan(roots: &Roots, cards_dir: Option<&Path>) -> Vec<Model> {
    let mut out = Vec::new();
    for (root, is_hf) in root_list(roots) {
        let Ok(rd) = std::fs::read_dir(&root) else {
            continue;
        };
        let mut entries: Vec<PathBuf> = rd
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.is_dir())
            .filter(|p| {
                !p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with('.'))
            })
            .collect();
        entries.sort();
        for dir in entries {
            let name = dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if is_hf {
                let Some(rest) = name.strip_prefix("models--") else {
                    continue;
                };
                let Some((owner, repo)) = rest.split_once("--") else {
                    continue; // owner-less repos (models--gpt2) are not cataloged
                };
                out.push(summarize(
                    &dir,
                    &root,
                    Source::Hf,
                    Some(owner.to_owned()),
                    repo.to_owned(),
                    cards_dir,
                ));
            } else {
                let cfg = read_json(&dir.join("config.json"));
                let named = cfg
                    .get("_name_or_path")
                    .and_then(Value::as_str)
                    .filter(|n| !n.is_empty() && !n.starts_with('/'))
                    .map(str::to_owned);
                let (owner, repo) = match named.as_deref().and_then(|n| n.split_once('/')) {
                    Some((o, r)) if !o.is_empty() && !r.is_empty() && !r.contains('/') => {
                        (Some(o.to_owned()), r.to_owned())
                    }
                    _ => (None, name.clone()),
                };
                out.push(summarize(&dir, &root, Source::Dir, owner, repo, cards_dir));
            }
        }
    }
    out
}

fn yes(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

/// The `INDEX.md` text.
pub fn render_index(models: &[Model], synced: &str) -> String {
    let mut rows: Vec<&Model> = models.iter().filter(|m| m.is_real()).collect();
    rows.sort_by(|a, b| {
        (b.format == "safetensors")
            .cmp(&(a.format == "safetensors"))
            .then(b.size_bytes.cmp(&a.size_bytes))
            .then(a.id.cmp(&b.id))
    });
    let mut o = format!(
        "# Model Library — Index\n\n_Generated by `anvil-substrate models sync` — {synced}. {} models. Summaries in `cards/`._\n\n",
        rows.len()
    );
    o.push_str("| Model | Format | Engines | SGLang? | vLLM? | Size | Context | Quant | MoE | License | Thinking | sm_120 risk | Coding bench |\n");
    o.push_str("|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    for m in rows {
        let ok = |b: bool| {
            if b {
                "✅".to_owned()
            } else if m.format == "GGUF" {
                "❌ (llama.cpp)".to_owned()
            } else if m.sm120_caveat.is_some() {
                "⚠️ sm_120".to_owned()
            } else {
                "?".to_owned()
            }
        };
        let quant = match (&m.quant, m.quant_bits) {
            (Some(q), Some(b)) => format!("{q} {b}"),
            (Some(q), None) => q.clone(),
            (None, _) => "—".to_owned(),
        };
        let bench = ["SWE-bench Verified", "Terminal-Bench", "LiveCodeBench"]
            .iter()
            .find_map(|b| m.benchmarks.get(*b).map(|v| format!("{b} {v}")))
            .unwrap_or_else(|| "—".to_owned());
        o.push_str(&format!(
            "| {} | {} | {} | {} | {} | {:.1} GB | {} | {} | {} | {} | {} | {} | {} |\n",
            m.id,
            m.format,
            if m.engines.is_empty() {
                "—".to_owned()
            } else {
                m.engines.join(", ")
            },
            ok(m.sglang_loadable),
            ok(m.vllm_loadable),
            m.size_gb,
            m.context
                .map(crate::stats::short_tokens)
                .unwrap_or_default(),
            quant,
            yes(m.moe),
            m.license.as_deref().unwrap_or("—"),
            if m.thinking_default { "yes" } else { "—" },
            m.sm120_caveat.as_deref().unwrap_or("—"),
            bench,
        ));
    }
    o
}

async fn fetch_card(
    client: &crate::http::Client,
    owner: &str,
    repo: &str,
) -> anyhow::Result<String> {
    let endpoint =
        std::env::var("HF_ENDPOINT").unwrap_or_else(|_| "https://huggingface.co".to_owned());
    let url = crate::http::join(&endpoint, &format!("{owner}/{repo}/raw/main/README.md"));
    client.text(http::Method::GET, &url, None).await
}

/// Runs `models sync`.
pub fn run(command: ModelsCommand) -> anyhow::Result<u8> {
    let ModelsCommand::Sync(args) = command;
    let cards = args.out.join("cards");
    std::fs::create_dir_all(&cards)
        .with_context(|| format!("cannot create {}", cards.display()))?;
    let mut models = scan(&args.roots, Some(&cards));
    println!("discovered {} model folders", models.len());
    if args.fetch_cards {
        let token = std::env::var("HF_TOKEN").ok();
        let client =
            crate::http::Client::new(token.as_deref(), std::time::Duration::from_secs(30))?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        for m in models.iter_mut().filter(|m| m.card.is_none()) {
            let Some(owner) = m.owner.clone() else {
                continue;
            };
            match rt.block_on(fetch_card(&client, &owner, &m.repo)) {
                Ok(text) => {
                    let path = cards.join(format!("{}.md", m.slug()));
                    std::fs::write(&path, &text)?;
                    let root = m.root.clone();
                    *m = summarize(
                        &m.local_path.clone(),
                        &root,
                        m.source,
                        m.owner.clone(),
                        m.repo.clone(),
                        Some(&cards),
                    );
                }
                Err(e) => eprintln!("  card {}: {e:#}", m.id),
            }
        }
    }
    let synced = anvil_profile_store::time::format_datetime(anvil_profile_store::time::now_s());
    for m in &models {
        println!(
            "  [{:>11}] {}  {:.1}GB  card={}",
            m.format,
            m.id,
            m.size_gb,
            if m.card.is_some() { "y" } else { "n" }
        );
        let mut v = serde_json::to_value(m)?;
        v["synced"] = json!(synced);
        std::fs::write(
            cards.join(format!("{}.json", m.slug())),
            serde_json::to_string_pretty(&v)? + "\n",
        )?;
    }
    std::fs::write(
        args.out.join("catalog.json"),
        serde_json::to_string_pretty(&models)? + "\n",
    )?;
    std::fs::write(args.out.join("INDEX.md"), render_index(&models, &synced))?;
    let seen_path = args.out.join("_seen.json");
    let previous: HashSet<String> = read_json(&seen_path)
        .get("ids")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let ids: Vec<&str> = models
        .iter()
        .filter(|m| m.format == "safetensors" || m.format == "GGUF")
        .map(|m| m.id.as_str())
        .collect();
    let new: Vec<&str> = ids
        .iter()
        .copied()
        .filter(|id| !previous.contains(*id))
        .collect();
    std::fs::write(
        &seen_path,
        serde_json::to_string_pretty(&json!({"ids": ids, "updated": synced}))? + "\n",
    )?;
    println!(
        "wrote INDEX.md + {} summaries to {}",
        models.len(),
        args.out.display()
    );
    println!(
        "NEW_MODELS: {}",
        if new.is_empty() {
            "none".to_owned()
        } else {
            new.join(", ")
        }
    );
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    #[test]
    fn the_sm120_hazard_table_holds() {
        let fp8_moe = cfg(
            json!({"num_local_experts": 8, "quantization_config": {"quant_method": "compressed-tensors",
            "config_groups": {"g": {"weights": {"num_bits": 8, "type": "float"}}}}}),
        );
        assert_eq!(hazard(&fp8_moe, "safetensors").3.as_deref(), Some(FP8_MOE));
        let nvfp4 = cfg(
            json!({"quantization_config": {"quant_method": "compressed-tensors",
            "config_groups": {"g": {"weights": {"num_bits": 4, "type": "float"}}}}}),
        );
        assert_eq!(hazard(&nvfp4, "safetensors").3.as_deref(), Some(NVFP4));
        let mxfp4 = cfg(
            json!({"model_type": "gpt_oss", "num_local_experts": 32, "quantization_config": {"quant_method": "mxfp4"}}),
        );
        let (_, _, moe, caveat) = hazard(&mxfp4, "safetensors");
        assert!(moe && caveat.is_none());
        let awq = cfg(json!({"quantization_config": {"quant_method": "awq", "bits": 4}}));
        assert!(hazard(&awq, "safetensors").3.is_none());
        let dense_fp8 =
            cfg(json!({"model_type": "llama", "quantization_config": {"quant_method": "fp8"}}));
        assert!(hazard(&dense_fp8, "safetensors").3.is_none());
        let gguf_fp8 =
            cfg(json!({"num_experts": 8, "quantization_config": {"quant_method": "fp8"}}));
        assert!(hazard(&gguf_fp8, "GGUF").3.is_none());
        assert!(
            hazard(&cfg(json!({"quantization_config": null})), "safetensors")
                .3
                .is_none()
        );
    }

    #[test]
    fn a_gguf_header_cut_inside_a_long_array_keeps_the_keys_before_it() {
        fn s(x: &str) -> Vec<u8> {
            let mut v = (x.len() as u64).to_le_bytes().to_vec();
            v.extend_from_slice(x.as_bytes());
            v
        }
        let mut b = b"GGUF".to_vec();
        b.extend_from_slice(&3u32.to_le_bytes());
        b.extend_from_slice(&0u64.to_le_bytes());
        b.extend_from_slice(&3u64.to_le_bytes());
        b.extend(s("general.architecture"));
        b.extend_from_slice(&8u32.to_le_bytes());
        b.extend(s("llama"));
        b.extend(s("llama.context_length"));
        b.extend_from_slice(&4u32.to_le_bytes());
        b.extend_from_slice(&8192u32.to_le_bytes());
        // an array of a million strings, cut off after a few
        b.extend(s("tokenizer.ggml.tokens"));
        b.extend_from_slice(&9u32.to_le_bytes());
        b.extend_from_slice(&8u32.to_le_bytes());
        b.extend_from_slice(&1_000_000u64.to_le_bytes());
        for _ in 0..3 {
            b.extend(s("tok"));
        }
        let path =
            std::env::temp_dir().join(format!("anvil-gguf-unit-{}.gguf", std::process::id()));
        std::fs::write(&path, &b).unwrap();
        let meta = read_gguf(&path).unwrap();
        let _ = std::fs::remove_file(&path);
        assert_eq!(meta.architecture.as_deref(), Some("llama"));
        assert_eq!(meta.context_length, Some(8192));
        assert!(read_gguf(Path::new("/nonexistent.gguf")).is_none());
    }

    #[test]
    fn cards_give_numbers_not_versions() {
        let card = "---\nlicense: apache-2.0\n---\nThinking mode is on by default.\n\
                    | SWE-bench Verified | 69.2 |\nTerminal-Bench 2.0: 40.5\nLiveCodeBench v6 74.6\n\
                    RULER@128K 94.6\nBFCL evaluated on 500 problems";
        let f = card_facts(card);
        assert_eq!(f.license.as_deref(), Some("apache-2.0"));
        assert!(f.thinking_default);
        assert_eq!(f.benchmarks["SWE-bench Verified"], "69.2");
        assert_eq!(f.benchmarks["Terminal-Bench"], "40.5");
        assert_eq!(f.benchmarks["LiveCodeBench"], "74.6");
        assert_eq!(f.benchmarks["RULER"], "94.6");
        // a count of problems is kept as written; the scorer rejects numbers outside 0..=100
        assert_eq!(f.benchmarks["BFCL"], "500");
    }
}
