//! anvil's routing policy (pure: no I/O, no async, no SQL): which tiers may serve a request, in
//! what order, and why the others may not. The crate other Rust gateways embed.
//!
//! Per request:
//!
//! 1. [`resolve_intent`] reads what the caller declared: a preset in `model` (`planning`,
//!    `anvil/planning`, a custom preset), a tier pin (`fast-local`, `tier:fast-local`), a hint
//!    ([`Hints`], from `x-anvil-*` headers or the body's `anvil` object), or nothing (inferred).
//! 2. A classifier (anvil-classify) supplies a work class and a confidence.
//! 3. [`plan`] filters the intent's pool (bound, context, tools, vision, metered cloud, the
//!    quality profile's `deny`, open breakers, a cost ceiling) and ranks the survivors. The
//!    [`Plan`] lists the candidates best first, each with its [`Decision`], and every dropped tier
//!    with a [`DropReason`]. An empty plan means exhaustion.
//!
//! [`plan`] documents the pool for each intent source, the filter order and the ranking rule
//! (local before cloud, `allow` before `allow-with-verify`, the warm tier, the operator's preset
//! order, quality score, config order; an ambiguous request ranks by quality score first). It
//! allocates only its output and takes well under a microsecond for a three-tier config.
//!
//! The [`profile`] types are the contract between the quality profile store (which persists
//! them), the policy (which reads a [`ProfileSnapshot`]) and the tools that edit them.
//!
//! # Example
//!
//! ```
//! use anvil_policy::{plan, resolve_intent, Decision, DropReason, Hints, Needs, PlanInput,
//!                    ProfileSnapshot, WorkClass};
//!
//! let config = anvil_config::parse(r#"
//! [router]
//! mapping_version = "1"
//! [[router.tiers]]
//! id = "fast-local"
//! base_url = "http://127.0.0.1:30001/v1"
//! dialect = "openai"
//! context_limit = 32768
//! privacy = "local"
//! tool_support = true
//! [[router.tiers]]
//! id = "heavy-local"
//! base_url = "http://127.0.0.1:30000/v1"
//! dialect = "openai"
//! context_limit = 131072
//! privacy = "local"
//! tool_support = true
//! [router.presets]
//! chat = ["fast-local", "heavy-local"]
//! planning = ["heavy-local"]
//! "#).unwrap().router;
//! let profile = ProfileSnapshot::new(); // never measured: the 0.4.0 seed table answers
//! let hints = Hints::default();
//! let needs = Needs { prompt_tokens: 30_000, max_output_tokens: 4_096, tools: true, images: false };
//!
//! // `anvil/chat` declares the chat preset; the request is too long for fast-local.
//! let intent = resolve_intent(&config, "anvil/chat", &hints);
//! let input = PlanInput {
//!     config: &config,
//!     intent: &intent,
//!     hints: &hints,
//!     work_class: WorkClass::Chat, // the classifier's verdict (unused: the preset declares chat)
//!     confidence: 0.9,
//!     needs,
//!     profile: &profile,
//!     open_breakers: &[],
//!     resident: None,
//!     bound: &[true, true],
//!     session_budget: None,
//! };
//! let routed = plan(&input);
//! assert_eq!(routed.candidates[0].tier, "heavy-local");
//! assert_eq!(routed.candidates[0].decision, Decision::Allow);
//! assert_eq!(routed.dropped[0].tier, "fast-local");
//! assert_eq!(routed.dropped[0].reason.as_str(), "context");
//!
//! // The seed profile denies planning to local tiers: the plan is empty (exhaustion).
//! let intent = resolve_intent(&config, "planning", &hints);
//! let routed = plan(&PlanInput { intent: &intent, ..input });
//! assert!(routed.candidates.is_empty());
//! assert_eq!(routed.dropped[0].reason, DropReason::Denied { work_class: WorkClass::Planning });
//! ```

mod intent;
mod plan;
pub mod profile;

pub use anvil_config::WorkClass;
pub use intent::{
    normalize_model, preset_work_class, resolve_intent, work_class_preset, Hints, Intent,
    IntentSource,
};
pub use plan::{
    estimate_cost_usd, plan, Candidate, DropReason, Dropped, Needs, Plan, PlanInput, SessionBudget,
    AMBIGUOUS_BELOW,
};
pub use profile::{Decision, ProfileEntry, ProfileSnapshot};
