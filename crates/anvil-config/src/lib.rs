//! anvil configuration: one TOML file (shared by `anvil-router` and `anvil-substrate`) turned into
//! validated types.
//!
//! [`parse`] takes the file's text and returns a [`Config`] or a [`ConfigErrors`] holding *every*
//! problem found, each located by 1-based line and column (from the byte span of the offending key
//! or value) and by its dotted key, e.g. `12:12: router.tiers[1].base_url: not a URL: missing "://"`.
//! The crate does no I/O: reading the file and expanding `~` in paths is the caller's job.
//!
//! # Keys
//!
//! | key | type | default |
//! |---|---|---|
//! | `claude_logs`, `served_model_name` (top level, substrate) | string | `~/.claude/projects`, `local-specialist` |
//! | `hf_extra_roots`, `model_dirs` (top level, substrate) | array of strings | `[]` |
//! | `gpu_index` (top level, substrate) | integer ≥ 0 | 0 |
//! | `router.mapping_version` | non-empty string | required |
//! | `router.metered_cloud` | array of work classes | `[]` |
//! | `router.exhaustion_status` | integer 400–599 | 503 |
//! | `router.cost_sync` | bool | false |
//! | `router.data_dir` | path string (unexpanded) | `~/.local/share/anvil` |
//! | `router.database_url` | `postgres://…` URL or SQLite path/URL | `<data_dir>/anvil.db` |
//! | `router.profile_refresh_s` | seconds > 0: how often the quality profile snapshot is reloaded | 2 |
//! | `router.decision_log_jsonl` | path string (unexpanded): also append decision records here | none |
//! | `router.decision_log_prompts` | bool: keep prompt text in decision records | false |
//! | `router.listen.host`, `router.listen.port` | host name or IP; 0–65535 | `127.0.0.1`, 8000 |
//! | `router.timeouts.{connect_s, first_byte_s, idle_s, total_s}` | seconds > 0 | 10, 300, 120, 1800 |
//! | `router.limits.{max_body_bytes, max_concurrency}` | integer > 0 | 32 MiB, 64 |
//! | `router.limits.shutdown_grace_s` | seconds ≥ 0 | 30 |
//! | `router.limits.max_attempts` | integer > 0: tiers called per request at most | 3 |
//! | `router.breakers.{enabled, consecutive_failures, cooldown_s}` | bool; integer > 0; seconds > 0 | true, 5, 30 |
//! | `router.verify.enabled` | bool: verify `allow-with-verify` answers | true |
//! | `router.verify.logprob_floor` | negative number: mean token logprob floor | none |
//! | `router.verify.checks.<check>` | `true`, `false` or an array of work classes ([`CHECK_NAMES`]) | every check on for every class |
//! | `router.commit_window.{max_bytes, max_s}` | integer > 0; seconds > 0 | 4 MiB, 120 |
//! | `router.commit_window.on_exceeded` | `commit-unverified` or `fail-over` | `commit-unverified` |
//! | `router.commit_window.keepalive_s` | seconds in (0, 10] | 5 |
//! | `router.budgets.session_usd` | dollars ≥ 0 a session may spend on metered tiers | none |
//! | `router.budgets.session_idle_s` | seconds > 0 before an idle session's spend resets | 86400 |
//! | `[[router.tiers]]` `id`, `base_url`, `dialect`, `context_limit`, `privacy`, `tool_support` | see [`Tier`] | required |
//! | `[[router.tiers]]` `model`, `vision`, `auth_env`, `cost_input_per_mtok`, `cost_output_per_mtok` | see [`Tier`] | optional (`auth_env` required for cloud) |
//! | `router.presets.<name>` | non-empty array of declared tier ids | none |
//!
//! # Differences from anvil-serving 0.4.0
//!
//! * Unknown keys are errors everywhere (0.4.0 silently ignored them); the message suggests the
//!   closest known key.
//! * `auth_env` is required for `cloud` tiers only; for `local` tiers it is optional (0.4.0 required
//!   a syntactically valid name even for local tiers whose server takes no key). Names may start with
//!   `_` (`^[A-Z_][A-Z0-9_]*$`).
//! * `metered_cloud` is validated against the six work classes (0.4.0 accepted anything, so a preset
//!   name such as `quick-edit` silently never matched).
//! * `exhaustion_status` must be 400–599 (0.4.0 accepted 100–599, including 2xx).
//! * `dialect` also accepts `responses` (an upstream speaking the OpenAI Responses API).
//! * New keys: `[router.listen]`, `data_dir`, `[router.timeouts]`, `[router.limits]`, and per tier
//!   `vision`.
//!
//! Secrets are never read or stored: a tier names the environment variable that holds its key, and
//! values that look like a key pasted in place of that name are rejected without being echoed.

use std::fmt;
use std::ops::Range;
use std::time::Duration;

use toml_edit::{ImDocument, Item, TableLike, Value};

mod fallback;

pub use fallback::{Budgets, CheckScope, CommitWindow, OnExceeded, Verify, CHECK_NAMES};

// ------------------------------------------------------------------------------------------------
// Public types
// ------------------------------------------------------------------------------------------------

/// A fully validated configuration file.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The `[router]` table.
    pub router: RouterConfig,
    /// The substrate's top-level keys.
    pub substrate: SubstrateConfig,
    /// Non-fatal findings (e.g. a metered work class with no cloud tier to meter).
    pub warnings: Vec<Diagnostic>,
}

/// The substrate's top-level keys (before any `[table]` header).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubstrateConfig {
    /// Claude Code projects directory (`claude_logs`), unexpanded; default `~/.claude/projects`.
    pub claude_logs: String,
    /// Extra Hugging Face hub cache roots (`hf_extra_roots`), unexpanded.
    pub hf_extra_roots: Vec<String>,
    /// Plain model parent directories (`model_dirs`), unexpanded.
    pub model_dirs: Vec<String>,
    /// GPU index used by deployments (`gpu_index`); default 0.
    pub gpu_index: u32,
    /// Served model name for generated deployments (`served_model_name`); default `local-specialist`.
    pub served_model_name: String,
}

impl Default for SubstrateConfig {
    fn default() -> Self {
        Self {
            claude_logs: DEFAULT_CLAUDE_LOGS.to_owned(),
            hf_extra_roots: Vec::new(),
            model_dirs: Vec::new(),
            gpu_index: 0,
            served_model_name: DEFAULT_SERVED_MODEL_NAME.to_owned(),
        }
    }
}

/// The `[router]` table.
#[derive(Debug, Clone, PartialEq)]
pub struct RouterConfig {
    /// Version tag of the preset → tier mapping (`mapping_version`), non-empty.
    pub mapping_version: String,
    /// Work classes that may be served by a metered cloud tier (`metered_cloud`), in file order.
    pub metered_cloud: Vec<WorkClass>,
    /// HTTP status returned when no tier may serve a request (`exhaustion_status`); default 503.
    pub exhaustion_status: u16,
    /// Whether missing cloud prices may be filled from a price list at startup (`cost_sync`).
    pub cost_sync: bool,
    /// Where the daemon listens (`[router.listen]`).
    pub listen: Listen,
    /// Data directory (`data_dir`), stored unexpanded (`~` is the binary's to expand).
    pub data_dir: String,
    /// The profile/decision database (`database_url`): a Postgres URL, or a SQLite path or URL;
    /// `None` means `<data_dir>/anvil.db`.
    pub database_url: Option<String>,
    /// How often the in-memory quality profile is reloaded (`profile_refresh_s`); default 2 s.
    pub profile_refresh: Duration,
    /// Also append decision records, one JSON object per line, to this file (`decision_log_jsonl`),
    /// unexpanded.
    pub decision_log_jsonl: Option<String>,
    /// Keep prompt text in decision records (`decision_log_prompts`); default false.
    pub decision_log_prompts: bool,
    /// Upstream deadlines (`[router.timeouts]`).
    pub timeouts: Timeouts,
    /// Resource limits (`[router.limits]`).
    pub limits: Limits,
    /// Per-tier circuit breakers (`[router.breakers]`).
    pub breakers: Breakers,
    /// Verification of `allow-with-verify` answers (`[router.verify]`).
    pub verify: Verify,
    /// The streaming commit window (`[router.commit_window]`).
    pub commit_window: CommitWindow,
    /// Per-session spending on metered tiers (`[router.budgets]`).
    pub budgets: Budgets,
    /// The tiers (`[[router.tiers]]`), in file order; at least one, ids unique.
    pub tiers: Vec<Tier>,
    /// The presets (`[router.presets]`), in file order.
    pub presets: Vec<Preset>,
}

impl RouterConfig {
    /// The tier with this id.
    pub fn tier(&self, id: &str) -> Option<&Tier> {
        self.tiers.iter().find(|t| t.id == id)
    }

    /// The preset with this name, matched case-insensitively.
    pub fn preset(&self, name: &str) -> Option<&Preset> {
        self.presets
            .iter()
            .find(|p| p.name.eq_ignore_ascii_case(name))
    }
}

/// Listen address of the daemon (`[router.listen]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listen {
    /// Host name or IP address; default `127.0.0.1`.
    pub host: String,
    /// TCP port; default 8000; 0 asks the OS for a free port.
    pub port: u16,
}

impl Default for Listen {
    fn default() -> Self {
        Self {
            host: DEFAULT_HOST.to_owned(),
            port: DEFAULT_PORT,
        }
    }
}

/// Upstream deadlines (`[router.timeouts]`), sized for slow local prefill by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Time to establish the upstream connection (`connect_s`); default 10 s.
    pub connect: Duration,
    /// Time from sending the request to the first response byte (`first_byte_s`); default 300 s.
    pub first_byte: Duration,
    /// Longest silence between two response chunks (`idle_s`); default 120 s.
    pub idle: Duration,
    /// Whole-attempt deadline (`total_s`); default 1800 s.
    pub total: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(10),
            first_byte: Duration::from_secs(300),
            idle: Duration::from_secs(120),
            total: Duration::from_secs(1800),
        }
    }
}

/// Resource limits (`[router.limits]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest accepted request body in bytes (`max_body_bytes`); default 32 MiB.
    pub max_body_bytes: u64,
    /// Most requests served at once (`max_concurrency`); default 64.
    pub max_concurrency: u32,
    /// How long shutdown waits for in-flight requests (`shutdown_grace_s`); default 30 s.
    pub shutdown_grace: Duration,
    /// At most this many tiers are called for one request (`max_attempts`); default 3. Skipped
    /// tiers (open breaker, spent budget) do not count.
    pub max_attempts: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body_bytes: 32 * 1024 * 1024,
            max_concurrency: 64,
            shutdown_grace: Duration::from_secs(30),
            max_attempts: 3,
        }
    }
}

/// One upstream tier (`[[router.tiers]]`).
#[derive(Debug, Clone, PartialEq)]
pub struct Tier {
    /// Unique id, `[a-z0-9][a-z0-9._-]*`.
    pub id: String,
    /// Upstream base URL, `http` or `https` with a host.
    pub base_url: String,
    /// Wire protocol the upstream speaks.
    pub dialect: Dialect,
    /// Provider model id sent upstream instead of the caller's model string (empty ⇒ `None`).
    pub model: Option<String>,
    /// Context window in tokens.
    pub context_limit: u64,
    /// Whether requests leave the machine.
    pub privacy: Privacy,
    /// Whether the upstream handles tool definitions and calls.
    pub tool_support: bool,
    /// Whether the upstream accepts image input; default false.
    pub vision: bool,
    /// Name of the environment variable holding the upstream key (never the key itself).
    pub auth_env: Option<String>,
    /// USD per million input tokens.
    pub cost_input_per_mtok: Option<f64>,
    /// USD per million output tokens.
    pub cost_output_per_mtok: Option<f64>,
}

impl Tier {
    /// Whether this is a metered cloud tier.
    pub fn is_cloud(&self) -> bool {
        self.privacy == Privacy::Cloud
    }
}

/// Per-tier circuit breakers (`[router.breakers]`): a tier that fails `consecutive_failures` times
/// in a row (or at a high rate) is skipped for `cooldown`, then probed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Breakers {
    /// Whether breakers open at all (`enabled`); default true.
    pub enabled: bool,
    /// Consecutive failures that open a tier's breaker (`consecutive_failures`); default 5.
    pub consecutive_failures: u32,
    /// How long an open breaker waits before a probe (`cooldown_s`); default 30 s.
    pub cooldown: Duration,
}

impl Default for Breakers {
    fn default() -> Self {
        Self {
            enabled: true,
            consecutive_failures: 5,
            cooldown: Duration::from_secs(30),
        }
    }
}

/// A named, ordered list of tier ids (`[router.presets]`), cheapest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preset {
    /// Preset name as written (matching against the wire is case-insensitive).
    pub name: String,
    /// Tier ids, each declared, no duplicates, at least one.
    pub tiers: Vec<String>,
}

/// The wire protocol an upstream tier speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dialect {
    /// OpenAI Chat Completions (`openai`).
    OpenAi,
    /// Anthropic Messages (`anthropic`).
    Anthropic,
    /// OpenAI Responses API (`responses`).
    Responses,
}

impl Dialect {
    /// Every dialect, in the order error messages list them.
    pub const ALL: [Dialect; 3] = [Dialect::OpenAi, Dialect::Anthropic, Dialect::Responses];

    /// The config spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Dialect::OpenAi => "openai",
            Dialect::Anthropic => "anthropic",
            Dialect::Responses => "responses",
        }
    }

    /// Parses the config spelling (exact, lowercase).
    pub fn from_name(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|d| d.as_str() == s)
    }
}

impl fmt::Display for Dialect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether a tier's traffic stays on the machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Privacy {
    /// A local model server (`local`).
    Local,
    /// A metered cloud API (`cloud`).
    Cloud,
}

impl Privacy {
    /// Every privacy value.
    pub const ALL: [Privacy; 2] = [Privacy::Local, Privacy::Cloud];

    /// The config spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Privacy::Local => "local",
            Privacy::Cloud => "cloud",
        }
    }

    /// Parses the config spelling (exact, lowercase).
    pub fn from_name(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

impl fmt::Display for Privacy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The closed work-class taxonomy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WorkClass {
    /// `chat`
    Chat,
    /// `bounded-edit`
    BoundedEdit,
    /// `multi-file-refactor`
    MultiFileRefactor,
    /// `planning`
    Planning,
    /// `review`
    Review,
    /// `long-context`
    LongContext,
}

impl WorkClass {
    /// Every work class.
    pub const ALL: [WorkClass; 6] = [
        WorkClass::Chat,
        WorkClass::BoundedEdit,
        WorkClass::MultiFileRefactor,
        WorkClass::Planning,
        WorkClass::Review,
        WorkClass::LongContext,
    ];

    /// The config spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            WorkClass::Chat => "chat",
            WorkClass::BoundedEdit => "bounded-edit",
            WorkClass::MultiFileRefactor => "multi-file-refactor",
            WorkClass::Planning => "planning",
            WorkClass::Review => "review",
            WorkClass::LongContext => "long-context",
        }
    }

    /// Parses the config spelling (exact, lowercase).
    pub fn from_name(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|w| w.as_str() == s)
    }
}

impl fmt::Display for WorkClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One located finding (error or warning).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// 1-based line.
    pub line: usize,
    /// 1-based column, counted in characters.
    pub column: usize,
    /// Byte range in the source the finding points at.
    pub span: Range<usize>,
    /// Dotted key, e.g. `router.tiers[1].base_url`; empty for TOML syntax errors.
    pub key: String,
    /// Lowercase message without trailing period.
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            write!(f, "{}:{}: {}", self.line, self.column, self.message)
        } else {
            write!(
                f,
                "{}:{}: {}: {}",
                self.line, self.column, self.key, self.message
            )
        }
    }
}

/// Every problem found in a configuration file, in source order.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", render_all(.errors))]
pub struct ConfigErrors {
    /// The errors, sorted by position; never empty.
    pub errors: Vec<Diagnostic>,
}

impl ConfigErrors {
    /// The errors, sorted by position.
    pub fn iter(&self) -> std::slice::Iter<'_, Diagnostic> {
        self.errors.iter()
    }

    /// Number of errors.
    pub fn len(&self) -> usize {
        self.errors.len()
    }

    /// Always false for a value returned by [`parse`].
    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }
}

impl<'a> IntoIterator for &'a ConfigErrors {
    type Item = &'a Diagnostic;
    type IntoIter = std::slice::Iter<'a, Diagnostic>;
    fn into_iter(self) -> Self::IntoIter {
        self.errors.iter()
    }
}

fn render_all(errors: &[Diagnostic]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

// ------------------------------------------------------------------------------------------------
// Defaults and key lists
// ------------------------------------------------------------------------------------------------

const DEFAULT_CLAUDE_LOGS: &str = "~/.claude/projects";
const DEFAULT_SERVED_MODEL_NAME: &str = "local-specialist";
const DEFAULT_HOST: &str = "127.0.0.1";
const DEFAULT_PORT: u16 = 8000;
/// Default `profile_refresh_s`.
const DEFAULT_PROFILE_REFRESH: Duration = Duration::from_secs(2);

/// Default `data_dir` (unexpanded).
pub const DEFAULT_DATA_DIR: &str = "~/.local/share/anvil";
/// Default `exhaustion_status`.
pub const DEFAULT_EXHAUSTION_STATUS: u16 = 503;

const SUBSTRATE_KEYS: &[&str] = &[
    "claude_logs",
    "hf_extra_roots",
    "model_dirs",
    "gpu_index",
    "served_model_name",
];
const TOP_KEYS: &[&str] = &[
    "claude_logs",
    "hf_extra_roots",
    "model_dirs",
    "gpu_index",
    "served_model_name",
    "router",
];
const ROUTER_KEYS: &[&str] = &[
    "mapping_version",
    "metered_cloud",
    "exhaustion_status",
    "cost_sync",
    "listen",
    "data_dir",
    "database_url",
    "profile_refresh_s",
    "decision_log_jsonl",
    "decision_log_prompts",
    "timeouts",
    "limits",
    "breakers",
    "verify",
    "commit_window",
    "budgets",
    "tiers",
    "presets",
];
const LISTEN_KEYS: &[&str] = &["host", "port"];
const TIMEOUT_KEYS: &[&str] = &["connect_s", "first_byte_s", "idle_s", "total_s"];
const LIMIT_KEYS: &[&str] = &[
    "max_body_bytes",
    "max_concurrency",
    "shutdown_grace_s",
    "max_attempts",
];
const BREAKER_KEYS: &[&str] = &["enabled", "consecutive_failures", "cooldown_s"];
const TIER_KEYS: &[&str] = &[
    "id",
    "base_url",
    "dialect",
    "model",
    "context_limit",
    "privacy",
    "tool_support",
    "vision",
    "auth_env",
    "cost_input_per_mtok",
    "cost_output_per_mtok",
];
/// Canonical preset names and the work class each stands for.
const PRESET_WORK_CLASS: &[(&str, &str)] = &[
    ("planning", "planning"),
    ("quick-edit", "bounded-edit"),
    ("review", "review"),
    ("chat", "chat"),
    ("long-context", "long-context"),
];

// ------------------------------------------------------------------------------------------------
// Entry point
// ------------------------------------------------------------------------------------------------

/// Parses and validates a configuration file's text.
///
/// Returns every error found, not just the first, sorted by position.
pub fn parse(src: &str) -> Result<Config, ConfigErrors> {
    let mut cx = Cx::new(src);
    let doc = match ImDocument::parse(src) {
        Ok(doc) => doc,
        Err(e) => {
            let message = e
                .message()
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect::<Vec<_>>()
                .join("; ");
            cx.error(e.span(), String::new(), format!("invalid TOML: {message}"));
            return Err(cx.into_errors());
        }
    };
    let root = doc.as_table();

    cx.unknown_keys(root, &Path::root(), TOP_KEYS);
    let substrate = substrate(&mut cx, root);
    let router = match root.get_key_value("router") {
        None => {
            cx.error(Some(0..0), "router", "missing required table [router]");
            None
        }
        Some((key, item)) => match item.as_table_like() {
            Some(t) => {
                let span = item.span().or_else(|| key.span());
                router(&mut cx, t, span)
            }
            None => {
                cx.error(
                    item.span().or_else(|| key.span()),
                    "router",
                    format!("expected a table, found {}", type_name(item)),
                );
                None
            }
        },
    };

    match router {
        Some(router) if cx.errors.is_empty() => Ok(Config {
            router,
            substrate,
            warnings: cx.sorted_warnings(),
        }),
        _ => Err(cx.into_errors()),
    }
}

// ------------------------------------------------------------------------------------------------
// Sections
// ------------------------------------------------------------------------------------------------

fn substrate(cx: &mut Cx<'_>, root: &toml_edit::Table) -> SubstrateConfig {
    let path = Path::root();
    let mut out = SubstrateConfig::default();
    if let Some(s) = cx.string(root, &path, "claude_logs") {
        if s.value.is_empty() {
            cx.error(s.span, path.key("claude_logs"), "must not be empty");
        } else {
            out.claude_logs = s.value;
        }
    }
    if let Some(list) = cx.string_array(root, &path, "hf_extra_roots") {
        out.hf_extra_roots = list.into_iter().map(|s| s.value).collect();
    }
    if let Some(list) = cx.string_array(root, &path, "model_dirs") {
        out.model_dirs = list.into_iter().map(|s| s.value).collect();
    }
    if let Some(i) = cx.int(root, &path, "gpu_index") {
        match u32::try_from(i.value) {
            Ok(v) => out.gpu_index = v,
            Err(_) => cx.error(
                i.span,
                path.key("gpu_index"),
                "must be a non-negative integer",
            ),
        }
    }
    if let Some(s) = cx.string(root, &path, "served_model_name") {
        if s.value.trim().is_empty() {
            cx.error(s.span, path.key("served_model_name"), "must not be empty");
        } else {
            out.served_model_name = s.value;
        }
    }
    out
}

fn router(cx: &mut Cx<'_>, t: &dyn TableLike, span: Option<Range<usize>>) -> Option<RouterConfig> {
    let path = Path::root().push("router");
    cx.unknown_keys(t, &path, ROUTER_KEYS);

    let mapping_version = match cx.string(t, &path, "mapping_version") {
        None => {
            if t.get("mapping_version").is_none() {
                cx.error(
                    span.clone(),
                    path.key("mapping_version"),
                    "missing required key",
                );
            }
            None
        }
        Some(s) if s.value.trim().is_empty() => {
            cx.error(s.span, path.key("mapping_version"), "must not be empty");
            None
        }
        Some(s) => Some(s.value),
    };

    let exhaustion_status = match cx.int(t, &path, "exhaustion_status") {
        None => DEFAULT_EXHAUSTION_STATUS,
        Some(i) => match u16::try_from(i.value) {
            Ok(v) if (400..=599).contains(&v) => v,
            _ => {
                cx.error(
                    i.span,
                    path.key("exhaustion_status"),
                    format!("must be an HTTP error status 400–599, found {}", i.value),
                );
                DEFAULT_EXHAUSTION_STATUS
            }
        },
    };
    let cost_sync = cx.bool(t, &path, "cost_sync").is_some_and(|b| b.value);
    let data_dir = match cx.string(t, &path, "data_dir") {
        None => DEFAULT_DATA_DIR.to_owned(),
        Some(s) if s.value.trim().is_empty() => {
            cx.error(s.span, path.key("data_dir"), "must not be empty");
            DEFAULT_DATA_DIR.to_owned()
        }
        Some(s) => s.value,
    };
    let non_empty = |cx: &mut Cx<'_>, key: &str| match cx.string(t, &path, key) {
        Some(s) if s.value.trim().is_empty() => {
            cx.error(s.span, path.key(key), "must not be empty");
            None
        }
        other => other.map(|s| s.value),
    };
    let database_url = non_empty(cx, "database_url");
    let decision_log_jsonl = non_empty(cx, "decision_log_jsonl");
    let decision_log_prompts = cx
        .bool(t, &path, "decision_log_prompts")
        .is_some_and(|b| b.value);
    let profile_refresh = match cx.number(t, &path, "profile_refresh_s") {
        None => DEFAULT_PROFILE_REFRESH,
        Some(n) => positive_duration(n.value).unwrap_or_else(|| {
            cx.error(
                n.span,
                path.key("profile_refresh_s"),
                format!("must be a positive number of seconds, found {}", n.value),
            );
            DEFAULT_PROFILE_REFRESH
        }),
    };
    let listen = cx
        .sub_table(t, &path, "listen")
        .map_or_else(Listen::default, |(st, p)| listen(cx, st, &p));
    let timeouts = cx
        .sub_table(t, &path, "timeouts")
        .map_or_else(Timeouts::default, |(st, p)| timeouts(cx, st, &p));
    let limits = cx
        .sub_table(t, &path, "limits")
        .map_or_else(Limits::default, |(st, p)| limits(cx, st, &p));
    let breakers = cx
        .sub_table(t, &path, "breakers")
        .map_or_else(Breakers::default, |(st, p)| breakers(cx, st, &p));
    let verify = cx
        .sub_table(t, &path, "verify")
        .map_or_else(Verify::default, |(st, p)| fallback::verify(cx, st, &p));
    let commit_window = cx
        .sub_table(t, &path, "commit_window")
        .map_or_else(CommitWindow::default, |(st, p)| {
            fallback::commit_window(cx, st, &p)
        });
    let budgets = cx
        .sub_table(t, &path, "budgets")
        .map_or_else(Budgets::default, |(st, p)| fallback::budgets(cx, st, &p));

    let tiers = tiers(cx, t, &path, span);
    let presets = presets(cx, t, &path, &tiers);
    let metered_cloud = metered_cloud(cx, t, &path, &tiers);

    // Warnings that need the whole picture.
    for (tier, spans) in &tiers {
        if tier.is_cloud() && tier.model.is_none() {
            cx.warning(
                spans.table.clone(),
                format!("{}.model", spans.path),
                "cloud tier has no model: the caller's model string (e.g. a preset name) is sent upstream as the model id",
            );
        }
        if tier.is_cloud() && tier.base_url.to_ascii_lowercase().starts_with("http://") {
            cx.warning(
                spans.base_url.clone(),
                format!("{}.base_url", spans.path),
                "cloud tier over plain http sends its key unencrypted",
            );
        }
        if let Some(p) = presets
            .iter()
            .find(|p| p.name.eq_ignore_ascii_case(&tier.id))
        {
            cx.warning(
                spans.id.clone(),
                format!("{}.id", spans.path),
                format!(
                    "tier id is also the preset name \"{}\": the model string selects the preset; pin the tier with \"tier:{}\"",
                    p.name, tier.id
                ),
            );
        }
    }

    let mapping_version = mapping_version?;
    Some(RouterConfig {
        mapping_version,
        metered_cloud,
        exhaustion_status,
        cost_sync,
        listen,
        data_dir,
        database_url,
        profile_refresh,
        decision_log_jsonl,
        decision_log_prompts,
        timeouts,
        limits,
        breakers,
        verify,
        commit_window,
        budgets,
        tiers: tiers.into_iter().map(|(t, _)| t).collect(),
        presets,
    })
}

fn listen(cx: &mut Cx<'_>, t: &dyn TableLike, path: &Path) -> Listen {
    cx.unknown_keys(t, path, LISTEN_KEYS);
    let mut out = Listen::default();
    if let Some(h) = cx.string(t, path, "host") {
        if valid_host(&h.value) {
            out.host = h.value;
        } else {
            cx.error(
                h.span,
                path.key("host"),
                "not a host name or IP address (write it without scheme or port, e.g. \"127.0.0.1\")",
            );
        }
    }
    if let Some(p) = cx.int(t, path, "port") {
        match u16::try_from(p.value) {
            Ok(v) => out.port = v,
            Err(_) => cx.error(
                p.span,
                path.key("port"),
                format!("must be a port 0–65535, found {}", p.value),
            ),
        }
    }
    out
}

fn timeouts(cx: &mut Cx<'_>, t: &dyn TableLike, path: &Path) -> Timeouts {
    cx.unknown_keys(t, path, TIMEOUT_KEYS);
    let mut out = Timeouts::default();
    let mut spans: [Option<Option<Range<usize>>>; 4] = [None, None, None, None];
    for (i, key) in TIMEOUT_KEYS.iter().enumerate() {
        if let Some(n) = cx.number(t, path, key) {
            match positive_duration(n.value) {
                Some(d) => {
                    spans[i] = Some(n.span);
                    match i {
                        0 => out.connect = d,
                        1 => out.first_byte = d,
                        2 => out.idle = d,
                        _ => out.total = d,
                    }
                }
                None => cx.error(
                    n.span,
                    path.key(key),
                    format!("must be a positive number of seconds, found {}", n.value),
                ),
            }
        }
    }
    // Cross-checks: a deadline inside the whole-attempt deadline must not exceed it. Point at the
    // inner key when the file sets it, else at total_s.
    for (i, inner) in [(0, out.connect), (1, out.first_byte)] {
        if inner > out.total {
            let (span, key) = match (&spans[i], &spans[3]) {
                (Some(s), _) => (s.clone(), TIMEOUT_KEYS[i]),
                (None, Some(s)) => (s.clone(), "total_s"),
                (None, None) => continue,
            };
            cx.error(
                span,
                path.key(key),
                format!(
                    "{} ({} s) must not exceed total_s ({} s)",
                    TIMEOUT_KEYS[i],
                    inner.as_secs_f64(),
                    out.total.as_secs_f64()
                ),
            );
        }
    }
    out
}

fn limits(cx: &mut Cx<'_>, t: &dyn TableLike, path: &Path) -> Limits {
    cx.unknown_keys(t, path, LIMIT_KEYS);
    let mut out = Limits::default();
    if let Some(i) = cx.int(t, path, "max_body_bytes") {
        match u64::try_from(i.value) {
            Ok(v) if v > 0 => out.max_body_bytes = v,
            _ => cx.error(
                i.span,
                path.key("max_body_bytes"),
                format!("must be a positive integer, found {}", i.value),
            ),
        }
    }
    if let Some(i) = cx.int(t, path, "max_concurrency") {
        match u32::try_from(i.value) {
            Ok(v) if v > 0 => out.max_concurrency = v,
            _ => cx.error(
                i.span,
                path.key("max_concurrency"),
                format!("must be a positive integer, found {}", i.value),
            ),
        }
    }
    if let Some(i) = cx.int(t, path, "max_attempts") {
        match u32::try_from(i.value) {
            Ok(v) if v > 0 => out.max_attempts = v,
            _ => cx.error(
                i.span,
                path.key("max_attempts"),
                format!("must be a positive integer, found {}", i.value),
            ),
        }
    }
    if let Some(n) = cx.number(t, path, "shutdown_grace_s") {
        match Duration::try_from_secs_f64(n.value) {
            Ok(d) => out.shutdown_grace = d,
            Err(_) => cx.error(
                n.span,
                path.key("shutdown_grace_s"),
                format!("must be a number of seconds ≥ 0, found {}", n.value),
            ),
        }
    }
    out
}

fn breakers(cx: &mut Cx<'_>, t: &dyn TableLike, path: &Path) -> Breakers {
    cx.unknown_keys(t, path, BREAKER_KEYS);
    let mut out = Breakers::default();
    if let Some(b) = cx.bool(t, path, "enabled") {
        out.enabled = b.value;
    }
    if let Some(i) = cx.int(t, path, "consecutive_failures") {
        match u32::try_from(i.value) {
            Ok(v) if v > 0 => out.consecutive_failures = v,
            _ => cx.error(
                i.span,
                path.key("consecutive_failures"),
                format!("must be a positive integer, found {}", i.value),
            ),
        }
    }
    if let Some(n) = cx.number(t, path, "cooldown_s") {
        match positive_duration(n.value) {
            Some(d) => out.cooldown = d,
            None => cx.error(
                n.span,
                path.key("cooldown_s"),
                format!("must be a positive number of seconds, found {}", n.value),
            ),
        }
    }
    out
}

/// Spans of a tier kept for cross-checks.
struct TierSpans {
    path: String,
    table: Option<Range<usize>>,
    id: Option<Range<usize>>,
    base_url: Option<Range<usize>>,
}

fn tiers(
    cx: &mut Cx<'_>,
    router: &dyn TableLike,
    path: &Path,
    router_span: Option<Range<usize>>,
) -> Vec<(Tier, TierSpans)> {
    let tiers_path = path.push("tiers");
    let Some((key, item)) = router.get_key_value("tiers") else {
        cx.error(
            router_span,
            tiers_path.to_string(),
            "at least one tier is required (add a [[router.tiers]] table)",
        );
        return Vec::new();
    };
    let item_span = item.span().or_else(|| key.span());
    let tables: Vec<(&dyn TableLike, Option<Range<usize>>)> = match item {
        Item::ArrayOfTables(a) => a.iter().map(|t| (t as &dyn TableLike, t.span())).collect(),
        Item::Value(Value::Array(a)) => {
            let mut v = Vec::new();
            for (i, el) in a.iter().enumerate() {
                match el {
                    Value::InlineTable(t) => v.push((t as &dyn TableLike, t.span())),
                    other => cx.error(
                        other.span(),
                        tiers_path.index(i).to_string(),
                        format!("expected a table, found {}", value_type_name(other)),
                    ),
                }
            }
            if a.is_empty() {
                cx.error(
                    item_span.clone(),
                    tiers_path.to_string(),
                    "at least one tier is required",
                );
            }
            v
        }
        other => {
            cx.error(
                item_span,
                tiers_path.to_string(),
                format!("expected an array of tables, found {}", type_name(other)),
            );
            return Vec::new();
        }
    };

    let mut out: Vec<(Tier, TierSpans)> = Vec::new();
    let mut seen: Vec<(String, usize)> = Vec::new();
    for (i, (t, span)) in tables.into_iter().enumerate() {
        let p = tiers_path.index(i);
        let Some((tier, spans)) = tier(cx, t, &p, span) else {
            continue;
        };
        if let Some((_, first)) = seen.iter().find(|(id, _)| *id == tier.id) {
            cx.error(
                spans.id.clone(),
                p.key("id"),
                format!(
                    "duplicate tier id \"{}\" (first declared at router.tiers[{first}])",
                    tier.id
                ),
            );
            continue;
        }
        seen.push((tier.id.clone(), i));
        out.push((tier, spans));
    }
    out
}

fn tier(
    cx: &mut Cx<'_>,
    t: &dyn TableLike,
    path: &Path,
    span: Option<Range<usize>>,
) -> Option<(Tier, TierSpans)> {
    cx.unknown_keys(t, path, TIER_KEYS);
    let errors_before = cx.errors.len();

    let required = [
        "id",
        "base_url",
        "dialect",
        "context_limit",
        "privacy",
        "tool_support",
    ];
    let missing: Vec<&str> = required
        .iter()
        .copied()
        .filter(|k| t.get(k).is_none())
        .collect();
    for k in &missing {
        cx.error(span.clone(), path.key(k), "missing required key");
    }

    let id = cx.string(t, path, "id").and_then(|s| {
        if valid_tier_id(&s.value) {
            Some(s)
        } else {
            cx.error(
                s.span.clone(),
                path.key("id"),
                format!(
                    "invalid tier id \"{}\": use lowercase letters, digits, '.', '_' or '-', starting with a letter or digit",
                    s.value
                ),
            );
            None
        }
    });
    let base_url = cx
        .string(t, path, "base_url")
        .and_then(|s| match check_base_url(&s.value) {
            Ok(()) => Some(s),
            Err(msg) => {
                cx.error(s.span.clone(), path.key("base_url"), msg);
                None
            }
        });
    let dialect = cx
        .string(t, path, "dialect")
        .and_then(|s| match Dialect::from_name(&s.value) {
            Some(d) => Some(d),
            None => {
                cx.error(
                    s.span,
                    path.key("dialect"),
                    format!(
                        "unknown dialect \"{}\" (valid: {})",
                        s.value,
                        Dialect::ALL.map(Dialect::as_str).join(", ")
                    ),
                );
                None
            }
        });
    let model = cx
        .string(t, path, "model")
        .map(|s| s.value)
        .filter(|m| !m.is_empty());
    let context_limit =
        cx.int(t, path, "context_limit")
            .and_then(|i| match u64::try_from(i.value) {
                Ok(v) if v > 0 => Some(v),
                _ => {
                    cx.error(
                        i.span,
                        path.key("context_limit"),
                        format!("must be a positive integer, found {}", i.value),
                    );
                    None
                }
            });
    let privacy = cx
        .string(t, path, "privacy")
        .and_then(|s| match Privacy::from_name(&s.value) {
            Some(p) => Some(p),
            None => {
                cx.error(
                    s.span,
                    path.key("privacy"),
                    format!(
                        "unknown privacy \"{}\" (valid: {})",
                        s.value,
                        Privacy::ALL.map(Privacy::as_str).join(", ")
                    ),
                );
                None
            }
        });
    let tool_support = cx.bool(t, path, "tool_support").map(|b| b.value);
    let vision = cx.bool(t, path, "vision").is_some_and(|b| b.value);
    let auth_env = cx
        .string(t, path, "auth_env")
        .and_then(|s| match check_env_name(&s.value) {
            Ok(()) => Some(s.value),
            Err(msg) => {
                cx.error(s.span, path.key("auth_env"), msg);
                None
            }
        });
    if privacy == Some(Privacy::Cloud) && t.get("auth_env").is_none() {
        cx.error(
            span.clone(),
            path.key("auth_env"),
            "required for a cloud tier: name the environment variable that holds its API key, e.g. auth_env = \"ANTHROPIC_API_KEY\"",
        );
    }
    let mut cost = |key: &str| {
        cx.number(t, path, key).and_then(|n| {
            if n.value >= 0.0 && n.value.is_finite() {
                Some(n.value)
            } else {
                cx.error(
                    n.span,
                    path.key(key),
                    format!("must be a number ≥ 0, found {}", n.value),
                );
                None
            }
        })
    };
    let cost_input_per_mtok = cost("cost_input_per_mtok");
    let cost_output_per_mtok = cost("cost_output_per_mtok");

    if cx.errors.len() != errors_before {
        // Keep a well-formed id for the duplicate/preset cross-checks even when another field is
        // broken, so one typo does not also produce "unknown tier" noise in every preset.
        return id.map(|id| {
            (
                Tier {
                    id: id.value,
                    base_url: String::new(),
                    dialect: Dialect::OpenAi,
                    model: None,
                    context_limit: 0,
                    privacy: Privacy::Local,
                    tool_support: false,
                    vision: false,
                    auth_env: None,
                    cost_input_per_mtok: None,
                    cost_output_per_mtok: None,
                },
                TierSpans {
                    path: path.to_string(),
                    table: span,
                    id: id.span,
                    base_url: None,
                },
            )
        });
    }
    let (Some(id), Some(base_url), Some(dialect), Some(context_limit), Some(privacy), Some(ts)) =
        (id, base_url, dialect, context_limit, privacy, tool_support)
    else {
        return None;
    };
    Some((
        Tier {
            id: id.value,
            base_url: base_url.value,
            dialect,
            model,
            context_limit,
            privacy,
            tool_support: ts,
            vision,
            auth_env,
            cost_input_per_mtok,
            cost_output_per_mtok,
        },
        TierSpans {
            path: path.to_string(),
            table: span,
            id: id.span,
            base_url: base_url.span,
        },
    ))
}

fn presets(
    cx: &mut Cx<'_>,
    router: &dyn TableLike,
    path: &Path,
    tiers: &[(Tier, TierSpans)],
) -> Vec<Preset> {
    let Some((t, ppath)) = cx.sub_table(router, path, "presets") else {
        return Vec::new();
    };
    let mut out: Vec<Preset> = Vec::new();
    for (name, item) in t.iter() {
        let key_span = t.key(name).and_then(toml_edit::Key::span);
        let p = ppath.push(name);
        if name.trim().is_empty() {
            cx.error(
                key_span.clone(),
                p.to_string(),
                "preset name must not be empty",
            );
            continue;
        }
        if let Some(prev) = out.iter().find(|o| o.name.eq_ignore_ascii_case(name)) {
            cx.error(
                key_span.clone(),
                p.to_string(),
                format!(
                    "preset \"{name}\" repeats \"{}\" (preset names match case-insensitively)",
                    prev.name
                ),
            );
            continue;
        }
        let span = item.span().or(key_span);
        let Some(arr) = item.as_array() else {
            cx.error(
                span,
                p.to_string(),
                format!("expected an array of tier ids, found {}", type_name(item)),
            );
            continue;
        };
        if arr.is_empty() {
            cx.error(span, p.to_string(), "must name at least one tier");
            continue;
        }
        let mut ids: Vec<String> = Vec::new();
        let mut ok = true;
        for (i, el) in arr.iter().enumerate() {
            let ep = p.index(i).to_string();
            let Some(s) = el.as_str() else {
                cx.error(
                    el.span(),
                    ep,
                    format!("expected a tier id string, found {}", value_type_name(el)),
                );
                ok = false;
                continue;
            };
            if ids.iter().any(|x| x == s) {
                cx.error(el.span(), ep, format!("duplicate tier \"{s}\" in preset"));
                ok = false;
                continue;
            }
            if !tiers.iter().any(|(t, _)| t.id == s) {
                let known: Vec<&str> = tiers.iter().map(|(t, _)| t.id.as_str()).collect();
                let hint = match closest(s, &known) {
                    Some(k) => format!(" (did you mean \"{k}\"?)"),
                    None => format!(" (declared tiers: {})", known.join(", ")),
                };
                cx.error(el.span(), ep, format!("unknown tier \"{s}\"{hint}"));
                ok = false;
                continue;
            }
            ids.push(s.to_owned());
        }
        if ok {
            out.push(Preset {
                name: name.to_owned(),
                tiers: ids,
            });
        }
    }
    out
}

fn metered_cloud(
    cx: &mut Cx<'_>,
    router: &dyn TableLike,
    path: &Path,
    tiers: &[(Tier, TierSpans)],
) -> Vec<WorkClass> {
    let Some(list) = cx.string_array(router, path, "metered_cloud") else {
        return Vec::new();
    };
    let mc = path.push("metered_cloud");
    let any_cloud = tiers.iter().any(|(t, _)| t.is_cloud());
    let mut out = Vec::new();
    for (i, s) in list.into_iter().enumerate() {
        let key = mc.index(i).to_string();
        let Some(wc) = WorkClass::from_name(&s.value) else {
            let hint = match PRESET_WORK_CLASS
                .iter()
                .find(|(p, w)| *p == s.value && p != w)
            {
                Some((p, w)) => {
                    format!(" (\"{p}\" is a preset; metered_cloud takes work classes: use \"{w}\")")
                }
                None => {
                    let names = WorkClass::ALL.map(WorkClass::as_str);
                    match closest(&s.value, &names) {
                        Some(k) => format!(" (did you mean \"{k}\"?)"),
                        None => format!(" (valid: {})", names.join(", ")),
                    }
                }
            };
            cx.error(
                s.span,
                key,
                format!("unknown work class \"{}\"{hint}", s.value),
            );
            continue;
        };
        if out.contains(&wc) {
            cx.error(s.span, key, format!("duplicate work class \"{wc}\""));
            continue;
        }
        if !any_cloud {
            cx.warning(
                s.span,
                key,
                format!("work class \"{wc}\" is metered but no tier has privacy = \"cloud\""),
            );
        }
        out.push(wc);
    }
    out
}

// ------------------------------------------------------------------------------------------------
// Field checks
// ------------------------------------------------------------------------------------------------

fn valid_tier_id(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c.is_ascii_digit())
        && chars
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'))
}

fn valid_host(s: &str) -> bool {
    if s.parse::<std::net::IpAddr>().is_ok() {
        return true;
    }
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|label| {
            !label.is_empty()
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

/// Checks an upstream base URL by hand: scheme `http`/`https`, a host, an optional numeric port,
/// no credentials, no query or fragment. Messages never echo the URL (it might hold a key).
fn check_base_url(url: &str) -> Result<(), String> {
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("not a URL: contains whitespace".to_owned());
    }
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err(
            "not a URL: expected scheme://host, e.g. \"http://127.0.0.1:30000/v1\"".to_owned(),
        );
    };
    let scheme_ok = scheme
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if !scheme_ok {
        return Err("not a URL: bad scheme".to_owned());
    }
    let scheme_l = scheme.to_ascii_lowercase();
    if scheme_l != "http" && scheme_l != "https" {
        return Err(format!("scheme must be http or https, found \"{scheme}\""));
    }
    if rest.contains('?') || rest.contains('#') {
        return Err("base URL must not have a query or fragment".to_owned());
    }
    let authority = rest.split('/').next().unwrap_or_default();
    if authority.contains('@') {
        return Err(
            "base URL must not contain credentials; name an environment variable in auth_env instead"
                .to_owned(),
        );
    }
    let (host, port) = if let Some(after) = authority.strip_prefix('[') {
        let Some((h, tail)) = after.split_once(']') else {
            return Err("not a URL: unclosed '[' in host".to_owned());
        };
        if h.parse::<std::net::Ipv6Addr>().is_err() {
            return Err("not a URL: bad IPv6 address".to_owned());
        }
        match tail {
            "" => (h, None),
            t => match t.strip_prefix(':') {
                Some(p) => (h, Some(p)),
                None => return Err("not a URL: bad host".to_owned()),
            },
        }
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err("not a URL: missing host".to_owned());
    }
    if !authority.starts_with('[') && !valid_host(host) {
        return Err("not a URL: bad host".to_owned());
    }
    if let Some(p) = port {
        if p.is_empty() || !p.chars().all(|c| c.is_ascii_digit()) || p.parse::<u16>().is_err() {
            return Err("not a URL: bad port".to_owned());
        }
    }
    Ok(())
}

/// Checks an `auth_env` value: an environment-variable name, not a pasted secret. Messages never
/// echo the value.
fn check_env_name(s: &str) -> Result<(), String> {
    if looks_like_secret(s) {
        return Err(
            "looks like a secret, not an environment variable name: put the key in an environment variable and name that variable here (e.g. \"ANTHROPIC_API_KEY\")"
                .to_owned(),
        );
    }
    let mut chars = s.chars();
    let ok = matches!(chars.next(), Some(c) if c.is_ascii_uppercase() || c == '_')
        && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
    if ok {
        Ok(())
    } else {
        Err("not an environment variable name: use uppercase letters, digits and '_', not starting with a digit (e.g. \"ANTHROPIC_API_KEY\")".to_owned())
    }
}

fn looks_like_secret(s: &str) -> bool {
    const PREFIXES: &[&str] = &[
        "sk-",
        "sk_live_",
        "sk_test_",
        "rk_live_",
        "github_pat_",
        "ghp_",
        "gho_",
        "ghr_",
        "ghs_",
        "ghu_",
        "xoxa-",
        "xoxb-",
        "xoxp-",
        "xoxr-",
        "xoxs-",
        "hf_",
        "-----BEGIN",
    ];
    if PREFIXES.iter().any(|p| s.starts_with(p)) {
        return true;
    }
    if s.to_ascii_lowercase().starts_with("bearer ") {
        return true;
    }
    // AWS access key ids: AKIA/ASIA + 16 of [0-9A-Z].
    if (s.starts_with("AKIA") || s.starts_with("ASIA"))
        && s.len() == 20
        && s[4..]
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
    {
        return true;
    }
    // Google API keys: AIza + at least 10 more.
    if s.starts_with("AIza") && s.len() >= 14 {
        return true;
    }
    // A long run without separators, mixing letters and digits, is a token rather than a name.
    let long_token = s.len() >= 32
        && !s.contains('_')
        && s.chars().any(|c| c.is_ascii_digit())
        && s.chars().any(|c| c.is_ascii_alphabetic());
    long_token
}

fn positive_duration(secs: f64) -> Option<Duration> {
    if secs > 0.0 {
        Duration::try_from_secs_f64(secs).ok()
    } else {
        None
    }
}

// ------------------------------------------------------------------------------------------------
// Suggestions
// ------------------------------------------------------------------------------------------------

fn levenshtein(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// The candidate nearest to `s`, if near enough to be a plausible typo.
fn closest<'k>(s: &str, candidates: &[&'k str]) -> Option<&'k str> {
    let s = s.to_ascii_lowercase();
    candidates
        .iter()
        .map(|c| (levenshtein(&s, c), *c))
        .filter(|(d, c)| *d <= (s.chars().count().max(c.chars().count()) / 3).clamp(1, 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

// ------------------------------------------------------------------------------------------------
// Dotted paths
// ------------------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
struct Path(String);

impl Path {
    fn root() -> Self {
        Path(String::new())
    }

    fn push(&self, key: &str) -> Self {
        let seg = if !key.is_empty()
            && key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            key.to_owned()
        } else {
            format!("{key:?}")
        };
        if self.0.is_empty() {
            Path(seg)
        } else {
            Path(format!("{}.{seg}", self.0))
        }
    }

    fn index(&self, i: usize) -> Self {
        Path(format!("{}[{i}]", self.0))
    }

    fn key(&self, key: &str) -> String {
        self.push(key).0
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

// ------------------------------------------------------------------------------------------------
// Context: diagnostics and typed getters
// ------------------------------------------------------------------------------------------------

struct Spanned<T> {
    value: T,
    span: Option<Range<usize>>,
}

struct Cx<'s> {
    src: &'s str,
    errors: Vec<Diagnostic>,
    warnings: Vec<Diagnostic>,
}

impl<'s> Cx<'s> {
    fn new(src: &'s str) -> Self {
        Self {
            src,
            errors: Vec::new(),
            warnings: Vec::new(),
        }
    }

    fn diagnostic(
        &self,
        span: Option<Range<usize>>,
        key: impl Into<String>,
        message: impl Into<String>,
    ) -> Diagnostic {
        let span = span.unwrap_or(0..0);
        let start = span.start.min(self.src.len());
        // Spans come from the parser and sit on char boundaries; guard anyway.
        let before = self.src.get(..start).unwrap_or_default();
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before[line_start..].chars().count() + 1;
        Diagnostic {
            line,
            column,
            span,
            key: key.into(),
            message: message.into(),
        }
    }

    fn error(
        &mut self,
        span: Option<Range<usize>>,
        key: impl Into<String>,
        msg: impl Into<String>,
    ) {
        let d = self.diagnostic(span, key, msg);
        self.errors.push(d);
    }

    fn warning(
        &mut self,
        span: Option<Range<usize>>,
        key: impl Into<String>,
        msg: impl Into<String>,
    ) {
        let d = self.diagnostic(span, key, msg);
        self.warnings.push(d);
    }

    fn into_errors(mut self) -> ConfigErrors {
        self.errors.sort_by_key(|d| (d.line, d.column));
        ConfigErrors {
            errors: self.errors,
        }
    }

    fn sorted_warnings(&mut self) -> Vec<Diagnostic> {
        let mut w = std::mem::take(&mut self.warnings);
        w.sort_by_key(|d| (d.line, d.column));
        w
    }

    fn unknown_keys(&mut self, t: &dyn TableLike, path: &Path, known: &[&str]) {
        for (k, _) in t.iter() {
            if known.contains(&k) {
                continue;
            }
            let span = t.key(k).and_then(toml_edit::Key::span);
            let mut msg = format!("unknown key \"{k}\"");
            if let Some(s) = closest(k, known) {
                msg.push_str(&format!(" (did you mean \"{s}\"?)"));
            } else if path.0 == "router" && SUBSTRATE_KEYS.contains(&k) {
                msg.push_str(
                    " (substrate keys go at the top of the file, before the first [table] header)",
                );
            } else if path.0.is_empty() && ROUTER_KEYS.contains(&k) {
                msg.push_str(&format!(
                    " (did you mean router.{k}? put it under [router])"
                ));
            } else if path.0.is_empty() && TIER_KEYS.contains(&k) {
                msg.push_str(" (tier keys go under a [[router.tiers]] header)");
            }
            self.error(span, path.key(k), msg);
        }
    }

    /// The value item for `key` and the span to report against, or an error for table-shaped items.
    fn value<'t>(
        &mut self,
        t: &'t dyn TableLike,
        path: &Path,
        key: &str,
        expected: &str,
    ) -> Option<(&'t Value, Option<Range<usize>>)> {
        let (k, item) = t.get_key_value(key)?;
        match item {
            Item::Value(v) => Some((v, v.span().or_else(|| k.span()))),
            Item::None => None,
            other => {
                self.error(
                    other.span().or_else(|| k.span()),
                    path.key(key),
                    format!("expected {expected}, found {}", type_name(other)),
                );
                None
            }
        }
    }

    fn mismatch(&mut self, span: Option<Range<usize>>, key: String, expected: &str, v: &Value) {
        self.error(
            span,
            key,
            format!("expected {expected}, found {}", value_type_name(v)),
        );
    }

    fn string(&mut self, t: &dyn TableLike, path: &Path, key: &str) -> Option<Spanned<String>> {
        let (v, span) = self.value(t, path, key, "a string")?;
        match v.as_str() {
            Some(s) => Some(Spanned {
                value: s.to_owned(),
                span,
            }),
            None => {
                self.mismatch(span, path.key(key), "a string", v);
                None
            }
        }
    }

    fn int(&mut self, t: &dyn TableLike, path: &Path, key: &str) -> Option<Spanned<i64>> {
        let (v, span) = self.value(t, path, key, "an integer")?;
        match v.as_integer() {
            Some(i) => Some(Spanned { value: i, span }),
            None => {
                self.mismatch(span, path.key(key), "an integer", v);
                None
            }
        }
    }

    /// An integer or a float, as f64; NaN and infinities are rejected.
    fn number(&mut self, t: &dyn TableLike, path: &Path, key: &str) -> Option<Spanned<f64>> {
        let (v, span) = self.value(t, path, key, "a number")?;
        #[allow(clippy::cast_precision_loss)] // config numbers are small
        let n = match v {
            Value::Integer(i) => Some(*i.value() as f64),
            Value::Float(f) if f.value().is_finite() => Some(*f.value()),
            _ => None,
        };
        match n {
            Some(value) => Some(Spanned { value, span }),
            None => {
                self.mismatch(span, path.key(key), "a number", v);
                None
            }
        }
    }

    fn bool(&mut self, t: &dyn TableLike, path: &Path, key: &str) -> Option<Spanned<bool>> {
        let (v, span) = self.value(t, path, key, "a boolean")?;
        match v.as_bool() {
            Some(b) => Some(Spanned { value: b, span }),
            None => {
                self.mismatch(span, path.key(key), "a boolean (true or false)", v);
                None
            }
        }
    }

    /// An array of strings; each bad element is reported at the element.
    fn string_array(
        &mut self,
        t: &dyn TableLike,
        path: &Path,
        key: &str,
    ) -> Option<Vec<Spanned<String>>> {
        let (v, span) = self.value(t, path, key, "an array of strings")?;
        let Some(arr) = v.as_array() else {
            self.mismatch(span, path.key(key), "an array of strings", v);
            return None;
        };
        let p = path.push(key);
        let mut out = Vec::new();
        let mut ok = true;
        for (i, el) in arr.iter().enumerate() {
            match el.as_str() {
                Some(s) => out.push(Spanned {
                    value: s.to_owned(),
                    span: el.span(),
                }),
                None => {
                    self.mismatch(el.span(), p.index(i).to_string(), "a string", el);
                    ok = false;
                }
            }
        }
        ok.then_some(out)
    }

    /// A sub-table (standard, inline or dotted) and its path; `None` when absent or not a table.
    fn sub_table<'t>(
        &mut self,
        t: &'t dyn TableLike,
        path: &Path,
        key: &str,
    ) -> Option<(&'t dyn TableLike, Path)> {
        let (k, item) = t.get_key_value(key)?;
        match item.as_table_like() {
            Some(st) => Some((st, path.push(key))),
            None => {
                self.error(
                    item.span().or_else(|| k.span()),
                    path.key(key),
                    format!("expected a table, found {}", type_name(item)),
                );
                None
            }
        }
    }
}

fn type_name(item: &Item) -> &'static str {
    match item {
        Item::None => "nothing",
        Item::Value(v) => value_type_name(v),
        Item::Table(_) => "a table",
        Item::ArrayOfTables(_) => "an array of tables",
    }
}

fn value_type_name(v: &Value) -> &'static str {
    match v {
        Value::String(_) => "a string",
        Value::Integer(_) => "an integer",
        Value::Float(_) => "a float",
        Value::Boolean(_) => "a boolean",
        Value::Datetime(_) => "a datetime",
        Value::Array(_) => "an array",
        Value::InlineTable(_) => "a table",
    }
}

/// What `anvil-router check` and `anvil-substrate config check` print for a config file's text (the
/// same function behind both): on success one summary line for stdout; every warning and, on
/// failure, every error as `FILE:LINE:COL: key: message` plus a count line for stderr.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckReport {
    /// Whether the file is valid.
    pub ok: bool,
    /// Lines for standard output.
    pub stdout: Vec<String>,
    /// Lines for standard error.
    pub stderr: Vec<String>,
}

/// Checks `src`, the text of the config file shown as `file`; `program` prefixes the count line.
pub fn check(program: &str, file: &str, src: &str) -> CheckReport {
    match parse(src) {
        Ok(cfg) => {
            let stderr = cfg
                .warnings
                .iter()
                .map(|w| {
                    format!(
                        "{file}:{}:{}: {}: warning: {}",
                        w.line, w.column, w.key, w.message
                    )
                })
                .collect();
            let r = &cfg.router;
            let tiers: Vec<String> = r
                .tiers
                .iter()
                .map(|t| format!("{} ({})", t.id, t.privacy))
                .collect();
            let presets: Vec<&str> = r.presets.iter().map(|p| p.name.as_str()).collect();
            let metered: Vec<&str> = r.metered_cloud.iter().map(|w| w.as_str()).collect();
            let or = |list: Vec<&str>, none: &str| {
                if list.is_empty() {
                    none.to_owned()
                } else {
                    list.join(", ")
                }
            };
            let summary = format!(
                "{file}: ok: {} tier(s): {}; {} preset(s): {}; metered cloud: {}",
                tiers.len(),
                tiers.join(", "),
                presets.len(),
                or(presets, "-"),
                or(metered, "none"),
            );
            CheckReport {
                ok: true,
                stdout: vec![summary],
                stderr,
            }
        }
        Err(errors) => {
            let mut stderr: Vec<String> = errors.iter().map(|e| format!("{file}:{e}")).collect();
            stderr.push(format!("{program}: {file}: {} error(s)", errors.len()));
            CheckReport {
                ok: false,
                stdout: Vec::new(),
                stderr,
            }
        }
    }
}

#[cfg(test)]
mod tests;
