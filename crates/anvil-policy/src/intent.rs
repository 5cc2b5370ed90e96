//! Intent resolution: what the caller declared about a request, from its `model` string and hints.

use std::fmt;

use anvil_config::{RouterConfig, WorkClass};

/// The caller's optional routing hints, filled by the router from the `x-anvil-intent`,
/// `x-anvil-session`, `x-anvil-verify` and `x-anvil-max-cost-usd` headers or from the body's `anvil`
/// object. Every field is optional; [`Hints::default`] means "no hints".
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Hints {
    /// A preset name (bare or `anvil/…`), or a work-class name, the caller declares.
    pub intent: Option<String>,
    /// The caller's session id (recorded, not used for routing).
    pub session: Option<String>,
    /// `Some(true)`: verify even where the profile allows streaming; `Some(false)`: stream even
    /// where the profile asks for verification. It never lifts a `deny`.
    pub verify: Option<bool>,
    /// Cost ceiling in USD for this request: tiers whose estimate exceeds it are dropped
    /// ([`crate::estimate_cost_usd`]). A NaN ceiling drops nothing; callers should reject
    /// non-finite or negative values when parsing.
    pub max_cost_usd: Option<f64>,
}

/// Where a request's intent came from, in precedence order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IntentSource {
    /// A configured preset named in `model` (`planning`, `anvil/planning`, a custom preset).
    Preset,
    /// A tier pinned in `model` (`fast-local`, `tier:fast-local`).
    Pin,
    /// The `x-anvil-intent` header or the body's `anvil.intent`.
    Hint,
    /// Nothing declared: the classifier's verdict decides.
    Inferred,
}

impl IntentSource {
    /// The record/wire spelling: `preset`, `pin`, `hint`, `inferred`.
    pub fn as_str(self) -> &'static str {
        match self {
            IntentSource::Preset => "preset",
            IntentSource::Pin => "pin",
            IntentSource::Hint => "hint",
            IntentSource::Inferred => "inferred",
        }
    }
}

impl fmt::Display for IntentSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A resolved intent: the input of [`crate::plan`] together with the classifier's verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Intent {
    /// Where the intent came from.
    pub source: IntentSource,
    /// The configured preset (its name as written in the config), for [`IntentSource::Preset`]
    /// and for a [`IntentSource::Hint`] that names one.
    pub preset: Option<String>,
    /// The pinned tier's id, for [`IntentSource::Pin`].
    pub pinned_tier: Option<String>,
    /// The work class the caller declared: a canonical preset's ([`preset_work_class`]), or the
    /// one a hint names. `None` for custom presets, pins and inferred intents: the classifier's
    /// verdict is used.
    pub declared_work_class: Option<WorkClass>,
}

/// The five canonical presets and the work class each declares (reference §5.1).
const CANONICAL: [(&str, WorkClass); 5] = [
    ("planning", WorkClass::Planning),
    ("quick-edit", WorkClass::BoundedEdit),
    ("review", WorkClass::Review),
    ("chat", WorkClass::Chat),
    ("long-context", WorkClass::LongContext),
];

/// The work class a canonical preset declares (case-insensitive): `planning`→planning,
/// `quick-edit`→bounded-edit, `review`→review, `chat`→chat, `long-context`→long-context. Any other
/// name (a custom preset, even one spelled like a work class) declares none.
///
/// ```
/// use anvil_policy::{preset_work_class, WorkClass};
/// assert_eq!(preset_work_class("Quick-Edit"), Some(WorkClass::BoundedEdit));
/// assert_eq!(preset_work_class("bounded-edit"), None);
/// ```
pub fn preset_work_class(preset: &str) -> Option<WorkClass> {
    CANONICAL
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(preset))
        .map(|(_, work_class)| *work_class)
}

/// The preset whose pool serves a work class (reference §5.1): `chat`→`chat`,
/// `bounded-edit`→`quick-edit`, `multi-file-refactor`→`review`, `planning`→`planning`,
/// `review`→`review`, `long-context`→`long-context`.
///
/// ```
/// use anvil_policy::{work_class_preset, WorkClass};
/// assert_eq!(work_class_preset(WorkClass::MultiFileRefactor), "review");
/// ```
pub fn work_class_preset(work_class: WorkClass) -> &'static str {
    match work_class {
        WorkClass::Chat => "chat",
        WorkClass::BoundedEdit => "quick-edit",
        WorkClass::MultiFileRefactor | WorkClass::Review => "review",
        WorkClass::Planning => "planning",
        WorkClass::LongContext => "long-context",
    }
}

/// Strips `prefix` from the front of `s`, ASCII-case-insensitively.
fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

/// The routing token of a `model` string (reference §5.2, without lowercasing: every lookup is
/// case-insensitive): trimmed, one leading `anvil/` or `anvil:` removed, trimmed again.
///
/// ```
/// assert_eq!(anvil_policy::normalize_model("  ANVIL/Planning "), "Planning");
/// assert_eq!(anvil_policy::normalize_model("gpt-4o"), "gpt-4o");
/// ```
pub fn normalize_model(model: &str) -> &str {
    let model = model.trim();
    strip_prefix_ci(model, "anvil/")
        .or_else(|| strip_prefix_ci(model, "anvil:"))
        .map_or(model, str::trim)
}

/// Resolves a request's intent from its `model` string and the caller's hints, in this precedence:
///
/// 1. **Preset**: `model` (bare, `anvil/…` or `anvil:…`, case-insensitive) names a configured
///    preset, canonical or custom. A preset shadows a tier with the same id.
/// 2. **Pin**: `model` names a tier id, bare or as `tier:<id>` (case-insensitive).
/// 3. **Hint**: [`Hints::intent`] names a configured preset (same spelling rules), or a work class
///    by its exact name (`multi-file-refactor`); the latter declares that work class and uses the
///    preset mapped from it ([`work_class_preset`]) when it is configured.
/// 4. **Inferred**: anything else (empty, `gpt-4o`, a canonical preset absent from this config).
///
/// Resolution never fails. `planning` and `anvil/planning` resolve to equal intents.
///
/// ```
/// use anvil_policy::{resolve_intent, Hints, IntentSource, WorkClass};
/// let config = anvil_config::parse(r#"
/// [router]
/// mapping_version = "1"
/// [[router.tiers]]
/// id = "fast-local"
/// base_url = "http://127.0.0.1:30001/v1"
/// dialect = "openai"
/// context_limit = 32768
/// privacy = "local"
/// tool_support = true
/// [router.presets]
/// quick-edit = ["fast-local"]
/// "#).unwrap().router;
/// let none = Hints::default();
///
/// let intent = resolve_intent(&config, "anvil/Quick-Edit", &none);
/// assert_eq!(intent.source, IntentSource::Preset);
/// assert_eq!(intent.declared_work_class, Some(WorkClass::BoundedEdit));
///
/// let intent = resolve_intent(&config, "tier:fast-local", &none);
/// assert_eq!(intent.pinned_tier.as_deref(), Some("fast-local"));
///
/// let hint = Hints { intent: Some("quick-edit".into()), ..Hints::default() };
/// assert_eq!(resolve_intent(&config, "claude-sonnet-4-5", &hint).source, IntentSource::Hint);
/// assert_eq!(resolve_intent(&config, "claude-sonnet-4-5", &none).source, IntentSource::Inferred);
/// ```
pub fn resolve_intent(config: &RouterConfig, model: &str, hints: &Hints) -> Intent {
    let token = normalize_model(model);
    if !token.is_empty() {
        if let Some(preset) = config.preset(token) {
            return Intent {
                source: IntentSource::Preset,
                preset: Some(preset.name.clone()),
                pinned_tier: None,
                declared_work_class: preset_work_class(&preset.name),
            };
        }
        let id = strip_prefix_ci(token, "tier:").map_or(token, str::trim);
        if let Some(tier) = config.tiers.iter().find(|t| t.id.eq_ignore_ascii_case(id)) {
            return Intent {
                source: IntentSource::Pin,
                preset: None,
                pinned_tier: Some(tier.id.clone()),
                declared_work_class: None,
            };
        }
    }
    if let Some(hint) = hints.intent.as_deref() {
        let token = normalize_model(hint);
        if !token.is_empty() {
            if let Some(preset) = config.preset(token) {
                return Intent {
                    source: IntentSource::Hint,
                    preset: Some(preset.name.clone()),
                    pinned_tier: None,
                    declared_work_class: preset_work_class(&preset.name),
                };
            }
            if let Some(work_class) = WorkClass::ALL
                .into_iter()
                .find(|w| w.as_str().eq_ignore_ascii_case(token))
            {
                return Intent {
                    source: IntentSource::Hint,
                    preset: config
                        .preset(work_class_preset(work_class))
                        .map(|p| p.name.clone()),
                    pinned_tier: None,
                    declared_work_class: Some(work_class),
                };
            }
        }
    }
    Intent {
        source: IntentSource::Inferred,
        preset: None,
        pinned_tier: None,
        declared_work_class: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use IntentSource::*;
    use WorkClass::*;

    const CONFIG: &str = r#"
[router]
mapping_version = "1"
[[router.tiers]]
id = "fast-local"
base_url = "http://127.0.0.1:30001/v1"
dialect = "openai"
context_limit = 32768
privacy = "local"
tool_support = true
[[router.tiers]]
id = "heavy-local"
base_url = "http://127.0.0.1:30000/v1"
dialect = "openai"
context_limit = 131072
privacy = "local"
tool_support = true
[[router.tiers]]
id = "review"
base_url = "http://127.0.0.1:30002/v1"
dialect = "openai"
context_limit = 131072
privacy = "local"
tool_support = true
[router.presets]
planning = ["heavy-local"]
Quick-Edit = ["fast-local", "heavy-local"]
review = ["heavy-local"]
chat = ["fast-local", "heavy-local"]
Private = ["heavy-local"]
bounded-edit = ["fast-local"]
"#;

    /// (model, hints, source, preset, pinned tier, declared work class)
    type Row = (
        &'static str,
        Hints,
        IntentSource,
        Option<&'static str>,
        Option<&'static str>,
        Option<WorkClass>,
    );

    #[test]
    fn resolves_in_precedence_order() {
        let config = anvil_config::parse(CONFIG).unwrap().router;
        let hint = |s: &str| Hints {
            intent: Some(s.to_owned()),
            ..Hints::default()
        };
        let none = Hints::default();
        // (model, hints, source, preset, pinned tier, declared work class)
        let cases: &[Row] = &[
            (
                "planning",
                none.clone(),
                Preset,
                Some("planning"),
                None,
                Some(Planning),
            ),
            (
                "anvil/planning",
                none.clone(),
                Preset,
                Some("planning"),
                None,
                Some(Planning),
            ),
            (
                " ANVIL:Planning ",
                none.clone(),
                Preset,
                Some("planning"),
                None,
                Some(Planning),
            ),
            (
                "anvil/ chat",
                none.clone(),
                Preset,
                Some("chat"),
                None,
                Some(Chat),
            ),
            (
                "quick-edit",
                none.clone(),
                Preset,
                Some("Quick-Edit"),
                None,
                Some(BoundedEdit),
            ),
            ("private", none.clone(), Preset, Some("Private"), None, None),
            // a preset named like a work class is custom: it declares no work class
            (
                "bounded-edit",
                none.clone(),
                Preset,
                Some("bounded-edit"),
                None,
                None,
            ),
            // a preset shadows a tier with the same id
            (
                "review",
                none.clone(),
                Preset,
                Some("review"),
                None,
                Some(Review),
            ),
            ("tier:review", none.clone(), Pin, None, Some("review"), None),
            (
                "fast-local",
                none.clone(),
                Pin,
                None,
                Some("fast-local"),
                None,
            ),
            (
                "Tier:Heavy-Local",
                none.clone(),
                Pin,
                None,
                Some("heavy-local"),
                None,
            ),
            (
                "anvil/fast-local",
                none.clone(),
                Pin,
                None,
                Some("fast-local"),
                None,
            ),
            // the model string outranks the hint
            (
                "chat",
                hint("planning"),
                Preset,
                Some("chat"),
                None,
                Some(Chat),
            ),
            (
                "fast-local",
                hint("planning"),
                Pin,
                None,
                Some("fast-local"),
                None,
            ),
            (
                "gpt-4o",
                hint("planning"),
                Hint,
                Some("planning"),
                None,
                Some(Planning),
            ),
            ("", hint("anvil/Private"), Hint, Some("Private"), None, None),
            (
                "gpt-4o",
                hint("multi-file-refactor"),
                Hint,
                Some("review"),
                None,
                Some(MultiFileRefactor),
            ),
            // long-context has no preset in this config: the work class is still declared
            (
                "gpt-4o",
                hint("long-context"),
                Hint,
                None,
                None,
                Some(LongContext),
            ),
            // a hint never pins
            ("gpt-4o", hint("fast-local"), Inferred, None, None, None),
            ("gpt-4o", hint(""), Inferred, None, None, None),
            ("gpt-4o", none.clone(), Inferred, None, None, None),
            ("", none.clone(), Inferred, None, None, None),
            ("anvil/", none.clone(), Inferred, None, None, None),
            ("tier:", none.clone(), Inferred, None, None, None),
            // canonical but not configured
            ("long-context", none.clone(), Inferred, None, None, None),
            ("anvil/planner", none.clone(), Inferred, None, None, None),
        ];
        for (model, hints, source, preset, pinned, declared) in cases {
            let intent = resolve_intent(&config, model, hints);
            assert_eq!(
                intent,
                Intent {
                    source: *source,
                    preset: preset.map(str::to_owned),
                    pinned_tier: pinned.map(str::to_owned),
                    declared_work_class: *declared,
                },
                "model {model:?} hints {hints:?}"
            );
        }
    }

    #[test]
    fn spellings() {
        assert_eq!(normalize_model("anvil/anvil/chat"), "anvil/chat");
        assert_eq!(normalize_model("anvilx"), "anvilx");
        assert_eq!(normalize_model("é"), "é");
        assert_eq!(normalize_model("anvil:"), "");
        for (preset, wc) in CANONICAL {
            assert_eq!(preset_work_class(preset), Some(wc));
            assert_eq!(work_class_preset(wc), preset);
        }
        assert_eq!(work_class_preset(MultiFileRefactor), "review");
        assert_eq!(preset_work_class("PLANNING"), Some(Planning));
        assert_eq!(preset_work_class("multi-file-refactor"), None);
        let spelled: Vec<_> = [Preset, Pin, Hint, Inferred]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(spelled, ["preset", "pin", "hint", "inferred"]);
    }
}
