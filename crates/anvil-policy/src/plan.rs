//! Filter, then rank: which tiers may serve a request, in what order, and why the others may not.

use std::cmp::Ordering;
use std::fmt;

use anvil_config::{RouterConfig, Tier, WorkClass};

use crate::intent::{work_class_preset, Hints, Intent, IntentSource};
use crate::profile::{Decision, ProfileSnapshot};

/// Below this classifier confidence an inferred request is ambiguous and goes to the safer tier.
pub const AMBIGUOUS_BELOW: f32 = 0.5;

/// What a request needs from a tier (the router estimates it from the canonical request).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Needs {
    /// Estimated prompt tokens.
    pub prompt_tokens: u64,
    /// The most output tokens the request allows (`max_tokens` or the dialect's default).
    pub max_output_tokens: u64,
    /// The request carries tool definitions.
    pub tools: bool,
    /// The request carries image input.
    pub images: bool,
}

/// Everything [`plan`] reads. All borrowed: building one allocates nothing.
#[derive(Debug, Clone, Copy)]
pub struct PlanInput<'a> {
    /// The router configuration (tiers in config order, presets, `metered_cloud`).
    pub config: &'a RouterConfig,
    /// The resolved intent ([`crate::resolve_intent`]).
    pub intent: &'a Intent,
    /// The caller's hints: [`Hints::verify`] and [`Hints::max_cost_usd`] are applied here.
    pub hints: &'a Hints,
    /// The classifier's work class, used when the intent declares none (pins, custom presets,
    /// inferred intents).
    pub work_class: WorkClass,
    /// The classifier's confidence in 0..=1; an inferred intent below [`AMBIGUOUS_BELOW`] is
    /// ambiguous.
    pub confidence: f32,
    /// What the request needs from a tier.
    pub needs: Needs,
    /// The quality profile.
    pub profile: &'a ProfileSnapshot,
    /// Ids of tiers whose circuit breaker is open.
    pub open_breakers: &'a [String],
    /// A local tier whose model is warm (loaded); it ranks ahead of other local tiers with the
    /// same decision.
    pub resident: Option<&'a str>,
    /// Per config tier (same index as `config.tiers`): whether the router could bind it. A tier
    /// without an entry counts as unbound.
    pub bound: &'a [bool],
    /// The session's spend on metered tiers against its ceiling, when the request belongs to a
    /// session with a budget; once spent, metered (cloud) tiers are dropped.
    pub session_budget: Option<SessionBudget>,
}

/// What a session has spent on metered tiers, and its ceiling.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SessionBudget {
    /// USD spent so far.
    pub spent_usd: f64,
    /// USD the session may spend.
    pub ceiling_usd: f64,
}

impl SessionBudget {
    /// Whether nothing is left to spend.
    pub fn spent(&self) -> bool {
        self.spent_usd >= self.ceiling_usd
    }
}

/// One tier that may serve the request.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// The tier's id.
    pub tier: String,
    /// The tier's index in `config.tiers`.
    pub index: usize,
    /// [`Decision::Allow`] (stream straight through) or [`Decision::AllowWithVerify`] (buffer and
    /// verify); never [`Decision::Deny`].
    pub decision: Decision,
    /// The profile's quality score for (tier, work class).
    pub score: f64,
}

/// Why a tier of the pool may not serve the request.
#[derive(Debug, Clone, PartialEq)]
pub enum DropReason {
    /// The pool names a tier the config does not declare (only possible with a hand-built config).
    UnknownTier,
    /// The router could not bind the tier (no backend).
    Unbound,
    /// The prompt estimate plus the output allowance exceed the tier's context window.
    Context {
        /// `prompt_tokens + max_output_tokens`.
        needed: u64,
        /// The tier's `context_limit`.
        limit: u64,
    },
    /// The request has tools and the tier has no `tool_support`.
    Tools,
    /// The request has images and the tier has no `vision`.
    Vision,
    /// A cloud tier, and the work class is not listed in `metered_cloud`.
    MeteredCloud {
        /// The request's work class.
        work_class: WorkClass,
    },
    /// The profile denies the tier this work class.
    Denied {
        /// The request's work class.
        work_class: WorkClass,
    },
    /// The tier's circuit breaker is open.
    BreakerOpen,
    /// The tier's cost estimate exceeds the caller's ceiling.
    CostCeiling {
        /// Estimated USD: `prompt_tokens × cost_input + max_output_tokens × cost_output`, per
        /// million tokens.
        estimate_usd: f64,
        /// The caller's `max_cost_usd`.
        ceiling_usd: f64,
    },
    /// A metered tier, and the session has spent its budget.
    SessionBudget {
        /// USD the session spent on metered tiers.
        spent_usd: f64,
        /// The session's ceiling.
        ceiling_usd: f64,
    },
}

impl DropReason {
    /// A stable, low-cardinality kind for records and metrics: `unknown-tier`, `unbound`,
    /// `context`, `tools`, `vision`, `metered-cloud`, `deny`, `breaker-open`, `cost-ceiling`,
    /// `session-budget`.
    pub fn as_str(&self) -> &'static str {
        match self {
            DropReason::UnknownTier => "unknown-tier",
            DropReason::Unbound => "unbound",
            DropReason::Context { .. } => "context",
            DropReason::Tools => "tools",
            DropReason::Vision => "vision",
            DropReason::MeteredCloud { .. } => "metered-cloud",
            DropReason::Denied { .. } => "deny",
            DropReason::BreakerOpen => "breaker-open",
            DropReason::CostCeiling { .. } => "cost-ceiling",
            DropReason::SessionBudget { .. } => "session-budget",
        }
    }
}

impl fmt::Display for DropReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DropReason::UnknownTier => f.write_str("unknown-tier: not a configured tier"),
            DropReason::Unbound => f.write_str("unbound: no backend for this tier"),
            DropReason::Context { needed, limit } => write!(
                f,
                "context: needs {needed} tokens, context limit is {limit}"
            ),
            DropReason::Tools => f.write_str("tools: request has tools, tier has no tool support"),
            DropReason::Vision => f.write_str("vision: request has images, tier has no vision"),
            DropReason::MeteredCloud { work_class } => write!(
                f,
                "metered-cloud: {work_class} is not listed in metered_cloud"
            ),
            DropReason::Denied { work_class } => {
                write!(f, "deny: the quality profile denies {work_class}")
            }
            DropReason::BreakerOpen => f.write_str("breaker-open: circuit breaker is open"),
            DropReason::CostCeiling {
                estimate_usd,
                ceiling_usd,
            } => write!(
                f,
                "cost-ceiling: estimate ${estimate_usd:.6} exceeds max ${ceiling_usd:.6}"
            ),
            DropReason::SessionBudget {
                spent_usd,
                ceiling_usd,
            } => write!(
                f,
                "session-budget: the session spent ${spent_usd:.6} of its ${ceiling_usd:.6} on metered tiers"
            ),
        }
    }
}

/// A tier of the pool that was dropped, with the first filter it failed.
#[derive(Debug, Clone, PartialEq)]
pub struct Dropped {
    /// The tier's id.
    pub tier: String,
    /// Why.
    pub reason: DropReason,
}

/// The policy's answer for one request.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The work class the plan was made for (declared, else the classifier's).
    pub work_class: WorkClass,
    /// 1.0 for a declared work class, else the classifier's confidence.
    pub confidence: f32,
    /// Where the intent came from.
    pub source: IntentSource,
    /// The tiers that may serve, best first. Empty when none survives: the router answers with
    /// the exhaustion status.
    pub candidates: Vec<Candidate>,
    /// The pool's tiers that may not serve, in pool order, each once.
    pub dropped: Vec<Dropped>,
    /// Human-readable notes: the pool used, a pin redirect, a verify hint, an empty plan.
    pub notes: Vec<String>,
}

impl Plan {
    /// The first candidate, if any.
    pub fn first(&self) -> Option<&Candidate> {
        self.candidates.first()
    }
}

/// Where the candidates come from.
#[derive(Clone, Copy)]
enum Pool<'a> {
    /// An operator-ordered list of tier ids (a preset).
    Declared(&'a [String]),
    /// Every configured tier (no preset to use, or an ambiguous request).
    All,
    /// A pinned tier, then (when it is denied) the work class's gated pool.
    Pin(&'a str, Redirect<'a>),
}

/// Where a denied pin goes.
#[derive(Clone, Copy)]
enum Redirect<'a> {
    /// The pin is allowed: nowhere.
    None,
    /// The gated preset's tiers.
    Declared(&'a [String]),
    /// Every tier (the gated preset is not configured).
    All,
}

impl<'a> Pool<'a> {
    /// Calls `f` with each tier id, in pool order (duplicates included).
    fn each(self, config: &'a RouterConfig, mut f: impl FnMut(&'a str)) {
        match self {
            Pool::Declared(ids) => ids.iter().for_each(|id| f(id)),
            Pool::All => config.tiers.iter().for_each(|t| f(&t.id)),
            Pool::Pin(pin, redirect) => {
                f(pin);
                match redirect {
                    Redirect::None => {}
                    Redirect::Declared(ids) => ids.iter().for_each(|id| f(id)),
                    Redirect::All => config.tiers.iter().for_each(|t| f(&t.id)),
                }
            }
        }
    }

    /// A tier's position in the operator's order; 0 where the router built the pool.
    fn position(self, id: &str) -> usize {
        let in_list = |ids: &[String]| ids.iter().position(|t| t == id).unwrap_or(usize::MAX);
        match self {
            Pool::Declared(ids) => in_list(ids),
            Pool::All => 0,
            Pool::Pin(pin, _) if pin == id => 0,
            Pool::Pin(_, Redirect::Declared(ids)) => in_list(ids),
            Pool::Pin(_, _) => 0,
        }
    }
}

fn decision_rank(decision: Decision) -> u8 {
    match decision {
        Decision::Allow => 0,
        Decision::AllowWithVerify => 1,
        Decision::Deny => 2,
    }
}

/// The USD estimate of serving `needs` on `tier`; a missing price counts as zero.
pub fn estimate_cost_usd(tier: &Tier, needs: &Needs) -> f64 {
    // u64 → f64 loses precision only beyond 2^53 tokens
    let input = needs.prompt_tokens as f64 * tier.cost_input_per_mtok.unwrap_or(0.0);
    let output = needs.max_output_tokens as f64 * tier.cost_output_per_mtok.unwrap_or(0.0);
    (input + output) / 1_000_000.0
}

/// Filters the intent's pool, then ranks the survivors.
///
/// **Work class.** The intent's declared work class (confidence 1.0), else the classifier's
/// verdict from the input.
///
/// **Pool.**
/// * a preset (from `model` or a hint): the preset's tiers;
/// * a pin: the pinned tier alone; but if the profile denies it the work class, the pin is
///   redirected to the work class's gated pool (the preset mapped from the work class,
///   [`crate::work_class_preset`]; all tiers when that preset is not configured) and a note says so;
/// * inferred and confident (≥ [`AMBIGUOUS_BELOW`]): the pool of the preset mapped from the work
///   class, or all tiers when that preset is not configured;
/// * inferred and ambiguous: all tiers, ranked for the *safer tier* (below).
///
/// **Filters**, in this order; a tier is dropped with the first one it fails ([`DropReason`]):
/// unbound; context (`prompt_tokens + max_output_tokens > context_limit`); tools without
/// `tool_support`; images without `vision`; a cloud tier when the work class is not in
/// `metered_cloud`; the profile's `deny` (a stale `allow` counts as `allow-with-verify`); an open
/// circuit breaker; the cost ceiling ([`Hints::max_cost_usd`], see [`estimate_cost_usd`]).
/// Custom presets are gated too (0.4.0 skipped the deny gate for them): the classifier's work
/// class stands in for the one they do not declare.
///
/// **Decision.** The profile's effective decision, then the verify hint: `Some(true)` turns
/// `allow` into `allow-with-verify`; `Some(false)` turns `allow-with-verify` into `allow` (the
/// caller accepts unverified output). Neither lifts a `deny`.
///
/// **Rank** (a total order, so plans are deterministic):
/// 1. local tiers before cloud tiers — the fallback chain climbs fast → heavy → cloud, so a
///    metered tier is the escalation, never the first try while a local tier may serve;
/// 2. `allow` before `allow-with-verify` — a tier proven for the work class streams straight
///    through, one that needs verification costs a commit window and may fail;
/// 3. the resident (warm) local tier before other local tiers;
/// 4. the operator's order, for pools the operator declared (a preset lists tiers cheapest
///    first, so `chat = ["fast-local", "heavy-local"]` serves on fast-local while both are
///    allowed);
/// 5. quality score, higher first;
/// 6. config order.
///
/// An ambiguous request ranks by quality score first, so its first candidate is the *safer tier*:
/// the best-scoring tier that survives the filters (then decision, residency, config order). In a
/// keyless config that is a local tier, never an exhaustion caused by an unreachable cloud tier.
///
/// Allocates only the returned vectors (tier ids, notes).
pub fn plan(input: &PlanInput<'_>) -> Plan {
    let config = input.config;
    let intent = input.intent;
    let (work_class, confidence) = match intent.declared_work_class {
        Some(declared) if intent.source != IntentSource::Pin => (declared, 1.0),
        _ => (input.work_class, input.confidence),
    };
    let mut notes = Vec::new();
    let gated_pool = |notes: &mut Vec<String>| -> Option<&[String]> {
        let name = work_class_preset(work_class);
        match config.preset(name) {
            Some(preset) => Some(preset.tiers.as_slice()),
            None => {
                notes.push(format!(
                    "preset {name} is not configured: every tier is a candidate"
                ));
                None
            }
        }
    };
    let ambiguous = intent.source == IntentSource::Inferred
        // NaN counts as ambiguous
        && confidence.partial_cmp(&AMBIGUOUS_BELOW).is_none_or(Ordering::is_lt);
    let pool = if let Some(pin) = intent.pinned_tier.as_deref() {
        let denied = config.tier(pin).is_some_and(|tier| {
            input.profile.verdict(pin, work_class, tier.is_cloud()).0 == Decision::Deny
        });
        if denied {
            notes.push(format!(
                "pin {pin} denied for {work_class}; routed via the {} pool",
                work_class_preset(work_class)
            ));
            match gated_pool(&mut notes) {
                Some(ids) => Pool::Pin(pin, Redirect::Declared(ids)),
                None => Pool::Pin(pin, Redirect::All),
            }
        } else {
            notes.push(format!("pool: pin {pin}"));
            Pool::Pin(pin, Redirect::None)
        }
    } else if let Some(name) = intent.preset.as_deref() {
        match config.preset(name) {
            Some(preset) => {
                notes.push(format!("pool: preset {}", preset.name));
                Pool::Declared(&preset.tiers)
            }
            None => {
                notes.push(format!("preset {name} is not configured: no candidates"));
                Pool::Declared(&[])
            }
        }
    } else if ambiguous {
        notes.push(format!(
            "pool: every tier (ambiguous: {work_class} at confidence {confidence:.2} < {AMBIGUOUS_BELOW}); the safer tier ranks first"
        ));
        Pool::All
    } else {
        match gated_pool(&mut notes) {
            Some(ids) => {
                notes.push(format!("pool: preset {}", work_class_preset(work_class)));
                Pool::Declared(ids)
            }
            None => Pool::All,
        }
    };
    match input.hints.verify {
        Some(true) => notes.push("verify hint: allow becomes allow-with-verify".to_owned()),
        Some(false) => notes.push("verify hint: allow-with-verify becomes allow".to_owned()),
        None => {}
    }

    let metered = config.metered_cloud.contains(&work_class);
    let needed = input
        .needs
        .prompt_tokens
        .saturating_add(input.needs.max_output_tokens);
    let mut candidates: Vec<Candidate> = Vec::new();
    let mut dropped: Vec<Dropped> = Vec::new();
    pool.each(config, |id| {
        if candidates.iter().any(|c| c.tier == id) || dropped.iter().any(|d| d.tier == id) {
            return;
        }
        let Some(index) = config.tiers.iter().position(|t| t.id == id) else {
            dropped.push(Dropped {
                tier: id.to_owned(),
                reason: DropReason::UnknownTier,
            });
            return;
        };
        let tier = &config.tiers[index];
        let (decision, score) = input.profile.verdict(id, work_class, tier.is_cloud());
        let reason = if !input.bound.get(index).copied().unwrap_or(false) {
            Some(DropReason::Unbound)
        } else if needed > tier.context_limit {
            Some(DropReason::Context {
                needed,
                limit: tier.context_limit,
            })
        } else if input.needs.tools && !tier.tool_support {
            Some(DropReason::Tools)
        } else if input.needs.images && !tier.vision {
            Some(DropReason::Vision)
        } else if tier.is_cloud() && !metered {
            Some(DropReason::MeteredCloud { work_class })
        } else if decision == Decision::Deny {
            Some(DropReason::Denied { work_class })
        } else if input.open_breakers.iter().any(|b| b == id) {
            Some(DropReason::BreakerOpen)
        } else if let Some(budget) = input
            .session_budget
            .filter(|b| tier.is_cloud() && b.spent())
        {
            Some(DropReason::SessionBudget {
                spent_usd: budget.spent_usd,
                ceiling_usd: budget.ceiling_usd,
            })
        } else {
            input.hints.max_cost_usd.and_then(|ceiling_usd| {
                let estimate_usd = estimate_cost_usd(tier, &input.needs);
                (estimate_usd > ceiling_usd).then_some(DropReason::CostCeiling {
                    estimate_usd,
                    ceiling_usd,
                })
            })
        };
        match reason {
            Some(reason) => dropped.push(Dropped {
                tier: id.to_owned(),
                reason,
            }),
            None => candidates.push(Candidate {
                tier: id.to_owned(),
                index,
                decision: match (decision, input.hints.verify) {
                    (Decision::Allow, Some(true)) => Decision::AllowWithVerify,
                    (Decision::AllowWithVerify, Some(false)) => Decision::Allow,
                    (decision, _) => decision,
                },
                score,
            }),
        }
    });

    let resident = |c: &Candidate| {
        input.resident == Some(c.tier.as_str()) && !config.tiers[c.index].is_cloud()
    };
    let by_score = |a: &Candidate, b: &Candidate| b.score.total_cmp(&a.score);
    let by_decision =
        |a: &Candidate, b: &Candidate| decision_rank(a.decision).cmp(&decision_rank(b.decision));
    let by_residency = |a: &Candidate, b: &Candidate| resident(b).cmp(&resident(a));
    let by_index = |a: &Candidate, b: &Candidate| a.index.cmp(&b.index);
    if ambiguous {
        candidates.sort_unstable_by(|a, b| {
            by_score(a, b)
                .then_with(|| by_decision(a, b))
                .then_with(|| by_residency(a, b))
                .then_with(|| by_index(a, b))
        });
    } else {
        candidates.sort_unstable_by(|a, b| {
            let cloud = |c: &Candidate| config.tiers[c.index].is_cloud();
            cloud(a)
                .cmp(&cloud(b))
                .then_with(|| by_decision(a, b))
                .then_with(|| by_residency(a, b))
                .then_with(|| pool.position(&a.tier).cmp(&pool.position(&b.tier)))
                .then_with(|| by_score(a, b))
                .then_with(|| by_index(a, b))
        });
    }
    if candidates.is_empty() {
        notes.push(format!("empty: no tier may serve {work_class}"));
    }
    Plan {
        work_class,
        confidence,
        source: intent.source,
        candidates,
        dropped,
        notes,
    }
}

// ------------------------------------------------------------------------------------------------

#[cfg(test)]
mod tests;
