//! `[router.verify]`, `[router.commit_window]` and `[router.budgets]`: what the fallback walk
//! checks, how long it may hold an answer back, and what a session may spend on metered tiers.

use std::time::Duration;

use toml_edit::{TableLike, Value};

use crate::{closest, positive_duration, value_type_name, Cx, Path, WorkClass};

/// The names of the structural checks (`anvil-verify`'s kebab-case names), in check order.
pub const CHECK_NAMES: [&str; 12] = [
    "empty",
    "truncated",
    "thinking-starved",
    "unknown-tool",
    "tool-args-json",
    "tool-args-schema",
    "tool-call-as-text",
    "edit-does-not-apply",
    "code-does-not-parse",
    "degenerate-repetition",
    "refusal",
    "low-logprob",
];

/// Where one check runs (`[router.verify.checks]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckScope {
    /// `true` (the default for every check): every work class.
    All,
    /// `false`: no work class.
    Off,
    /// An array of work classes: only those.
    Only(Vec<WorkClass>),
}

/// The verification of `allow-with-verify` answers (`[router.verify]`).
#[derive(Debug, Clone, PartialEq)]
pub struct Verify {
    /// Whether answers are verified at all (`enabled`); default true. Off, `allow-with-verify`
    /// tiers are served like `allow` ones.
    pub enabled: bool,
    /// Mean token logprob below which an answer fails `low-logprob` (`logprob_floor`, a negative
    /// number); default none (the check never fails).
    pub logprob_floor: Option<f64>,
    /// Checks whose scope the file sets (`[router.verify.checks]`, check name → `true`, `false` or
    /// an array of work classes); a check not listed runs for every work class.
    pub checks: Vec<(String, CheckScope)>,
}

impl Default for Verify {
    fn default() -> Self {
        Self {
            enabled: true,
            logprob_floor: None,
            checks: Vec::new(),
        }
    }
}

impl Verify {
    /// Whether check `name` runs for `work_class`.
    pub fn check_enabled(&self, name: &str, work_class: WorkClass) -> bool {
        match self.checks.iter().find(|(n, _)| n == name) {
            None | Some((_, CheckScope::All)) => true,
            Some((_, CheckScope::Off)) => false,
            Some((_, CheckScope::Only(classes))) => classes.contains(&work_class),
        }
    }
}

/// What happens when an answer outgrows the commit window (`on_exceeded`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnExceeded {
    /// `commit-unverified`: send what was held and stream the rest through unverified.
    CommitUnverified,
    /// `fail-over`: abandon the attempt and try the next tier.
    FailOver,
}

impl OnExceeded {
    /// The config spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            OnExceeded::CommitUnverified => "commit-unverified",
            OnExceeded::FailOver => "fail-over",
        }
    }
}

/// The streaming commit window (`[router.commit_window]`): an `allow-with-verify` answer is held
/// until it is verified.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CommitWindow {
    /// Most bytes of upstream answer held (`max_bytes`); default 4 MiB.
    pub max_bytes: u64,
    /// Longest time an answer is held (`max_s`); default 120 s.
    pub max_duration: Duration,
    /// Past either cap (`on_exceeded`); default `commit-unverified` (a long answer is sent rather
    /// than thrown away).
    pub on_exceeded: OnExceeded,
    /// How often a keep-alive goes to a streaming client while the window holds (`keepalive_s`,
    /// at most 10); default 5 s. The response headers go out with the first keep-alive, so an
    /// answer verified sooner carries its final `x-anvil-*` headers.
    pub keepalive: Duration,
}

impl Default for CommitWindow {
    fn default() -> Self {
        Self {
            max_bytes: 4 * 1024 * 1024,
            max_duration: Duration::from_secs(120),
            on_exceeded: OnExceeded::CommitUnverified,
            keepalive: Duration::from_secs(5),
        }
    }
}

/// Per-session spending on metered tiers (`[router.budgets]`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Budgets {
    /// USD a session (`x-anvil-session`, or the session the harness names) may spend on metered
    /// tiers before they are removed from its plans (`session_usd`); default none (no ceiling).
    pub session_usd: Option<f64>,
    /// A session idle this long is forgotten and its spend resets (`session_idle_s`); default 24 h.
    pub session_idle: Duration,
}

impl Default for Budgets {
    fn default() -> Self {
        Self {
            session_usd: None,
            session_idle: Duration::from_secs(24 * 3600),
        }
    }
}

const VERIFY_KEYS: &[&str] = &["enabled", "logprob_floor", "checks"];
const WINDOW_KEYS: &[&str] = &["max_bytes", "max_s", "on_exceeded", "keepalive_s"];
const BUDGET_KEYS: &[&str] = &["session_usd", "session_idle_s"];
const MAX_KEEPALIVE: Duration = Duration::from_secs(10);

pub(crate) fn verify(cx: &mut Cx<'_>, t: &dyn TableLike, path: &Path) -> Verify {
    cx.unknown_keys(t, path, VERIFY_KEYS);
    let mut out = Verify::default();
    if let Some(b) = cx.bool(t, path, "enabled") {
        out.enabled = b.value;
    }
    if let Some(n) = cx.number(t, path, "logprob_floor") {
        if n.value < 0.0 {
            out.logprob_floor = Some(n.value);
        } else {
            cx.error(
                n.span,
                path.key("logprob_floor"),
                format!(
                    "must be a negative mean token logprob (e.g. -2.5), found {}",
                    n.value
                ),
            );
        }
    }
    if let Some((checks, p)) = cx.sub_table(t, path, "checks") {
        for (name, item) in checks.iter() {
            let key_span = checks.key(name).and_then(toml_edit::Key::span);
            let key = p.key(name);
            if !CHECK_NAMES.contains(&name) {
                let hint = closest(name, &CHECK_NAMES).map_or_else(
                    || format!(" (valid: {})", CHECK_NAMES.join(", ")),
                    |k| format!(" (did you mean \"{k}\"?)"),
                );
                cx.error(key_span, key, format!("unknown check \"{name}\"{hint}"));
                continue;
            }
            let scope = match item.as_value() {
                Some(Value::Boolean(b)) => {
                    if *b.value() {
                        CheckScope::All
                    } else {
                        CheckScope::Off
                    }
                }
                Some(Value::Array(array)) => {
                    let mut classes = Vec::new();
                    for (i, el) in array.iter().enumerate() {
                        match el.as_str().map(|s| (s, WorkClass::from_name(s))) {
                            Some((_, Some(wc))) => classes.push(wc),
                            Some((s, None)) => cx.error(
                                el.span(),
                                p.push(name).index(i).to_string(),
                                format!(
                                    "unknown work class \"{s}\" (valid: {})",
                                    WorkClass::ALL.map(WorkClass::as_str).join(", ")
                                ),
                            ),
                            None => cx.mismatch(
                                el.span(),
                                p.push(name).index(i).to_string(),
                                "a work class",
                                el,
                            ),
                        }
                    }
                    CheckScope::Only(classes)
                }
                Some(other) => {
                    cx.error(
                        other.span().or(key_span),
                        key,
                        format!(
                            "expected true, false or an array of work classes, found {}",
                            value_type_name(other)
                        ),
                    );
                    continue;
                }
                None => {
                    cx.error(
                        item.span().or(key_span),
                        key,
                        "expected true, false or an array of work classes, found a table",
                    );
                    continue;
                }
            };
            out.checks.push((name.to_owned(), scope));
        }
    }
    out
}

pub(crate) fn commit_window(cx: &mut Cx<'_>, t: &dyn TableLike, path: &Path) -> CommitWindow {
    cx.unknown_keys(t, path, WINDOW_KEYS);
    let mut out = CommitWindow::default();
    if let Some(i) = cx.int(t, path, "max_bytes") {
        match u64::try_from(i.value) {
            Ok(v) if v > 0 => out.max_bytes = v,
            _ => cx.error(
                i.span,
                path.key("max_bytes"),
                format!("must be a positive integer, found {}", i.value),
            ),
        }
    }
    if let Some(n) = cx.number(t, path, "max_s") {
        match positive_duration(n.value) {
            Some(d) => out.max_duration = d,
            None => cx.error(
                n.span,
                path.key("max_s"),
                format!("must be a positive number of seconds, found {}", n.value),
            ),
        }
    }
    if let Some(s) = cx.string(t, path, "on_exceeded") {
        match s.value.as_str() {
            "commit-unverified" => out.on_exceeded = OnExceeded::CommitUnverified,
            "fail-over" => out.on_exceeded = OnExceeded::FailOver,
            other => cx.error(
                s.span,
                path.key("on_exceeded"),
                format!("expected \"commit-unverified\" or \"fail-over\", found \"{other}\""),
            ),
        }
    }
    if let Some(n) = cx.number(t, path, "keepalive_s") {
        match positive_duration(n.value).filter(|d| *d <= MAX_KEEPALIVE) {
            Some(d) => out.keepalive = d,
            None => cx.error(
                n.span,
                path.key("keepalive_s"),
                format!(
                    "must be more than 0 and at most 10 seconds (harness idle timeouts), found {}",
                    n.value
                ),
            ),
        }
    }
    out
}

pub(crate) fn budgets(cx: &mut Cx<'_>, t: &dyn TableLike, path: &Path) -> Budgets {
    cx.unknown_keys(t, path, BUDGET_KEYS);
    let mut out = Budgets::default();
    if let Some(n) = cx.number(t, path, "session_usd") {
        if n.value >= 0.0 {
            out.session_usd = Some(n.value);
        } else {
            cx.error(
                n.span,
                path.key("session_usd"),
                format!("must be a number of dollars ≥ 0, found {}", n.value),
            );
        }
    }
    if let Some(n) = cx.number(t, path, "session_idle_s") {
        match positive_duration(n.value) {
            Some(d) => out.session_idle = d,
            None => cx.error(
                n.span,
                path.key("session_idle_s"),
                format!("must be a positive number of seconds, found {}", n.value),
            ),
        }
    }
    out
}
