use super::*;
use crate::intent::resolve_intent;
use crate::profile::{seed_entry, ProfileEntry};
use anvil_config::Preset;
use proptest::bool::weighted;
use proptest::prelude::*;
use Decision::{Allow, AllowWithVerify as Verify};
use WorkClass::*;

const KEYLESS: &str = include_str!("../../../../configs/example.toml");
const KEYED: &str = include_str!("../../../../configs/example-with-cloud.toml");

fn config(src: &str) -> RouterConfig {
    anvil_config::parse(src).unwrap().router
}

/// One routing scenario; `case()` gives the defaults (keyless config, seed profile, every tier
/// bound, a small tool-using request, a confident chat verdict).
struct Case {
    name: &'static str,
    keyed: bool,
    tweak: fn(&mut RouterConfig),
    profile: fn(&mut ProfileSnapshot),
    model: &'static str,
    hint: Option<&'static str>,
    verify: Option<bool>,
    max_cost: Option<f64>,
    class: (WorkClass, f32),
    needs: Needs,
    breakers: &'static [&'static str],
    resident: Option<&'static str>,
    unbound: &'static [&'static str],
    budget: Option<SessionBudget>,
    /// Expected candidates, best first.
    want: &'static [(&'static str, Decision)],
    /// Expected drops (tier, reason kind), in pool order.
    want_dropped: &'static [(&'static str, &'static str)],
    /// Expected plan work class, when the case is about it.
    want_class: Option<(WorkClass, f32, IntentSource)>,
    /// A note the plan must carry.
    want_note: Option<&'static str>,
}

fn case() -> Case {
    Case {
        name: "",
        keyed: false,
        tweak: |_| {},
        profile: |_| {},
        model: "gpt-4o",
        hint: None,
        verify: None,
        max_cost: None,
        class: (Chat, 0.9),
        needs: Needs {
            prompt_tokens: 2_000,
            max_output_tokens: 1_000,
            tools: true,
            images: false,
        },
        breakers: &[],
        resident: None,
        unbound: &[],
        budget: None,
        want: &[],
        want_dropped: &[],
        want_class: None,
        want_note: None,
    }
}

fn run(c: &Case) -> Plan {
    let mut config = config(if c.keyed { KEYED } else { KEYLESS });
    (c.tweak)(&mut config);
    let mut profile = ProfileSnapshot::new();
    (c.profile)(&mut profile);
    let hints = Hints {
        intent: c.hint.map(str::to_owned),
        session: None,
        verify: c.verify,
        max_cost_usd: c.max_cost,
    };
    let intent = resolve_intent(&config, c.model, &hints);
    let bound: Vec<bool> = config
        .tiers
        .iter()
        .map(|t| !c.unbound.contains(&t.id.as_str()))
        .collect();
    let breakers: Vec<String> = c.breakers.iter().map(|b| b.to_string()).collect();
    plan(&PlanInput {
        config: &config,
        intent: &intent,
        hints: &hints,
        work_class: c.class.0,
        confidence: c.class.1,
        needs: c.needs,
        profile: &profile,
        open_breakers: &breakers,
        resident: c.resident,
        bound: &bound,
        session_budget: c.budget,
    })
}

fn check(cases: &[Case]) {
    for c in cases {
        let plan = run(c);
        let got: Vec<(&str, Decision)> = plan
            .candidates
            .iter()
            .map(|x| (x.tier.as_str(), x.decision))
            .collect();
        let dropped: Vec<(&str, &str)> = plan
            .dropped
            .iter()
            .map(|d| (d.tier.as_str(), d.reason.as_str()))
            .collect();
        assert_eq!(
            (got.as_slice(), dropped.as_slice()),
            (c.want, c.want_dropped),
            "{}: {plan:#?}",
            c.name
        );
        if let Some((wc, confidence, source)) = c.want_class {
            assert_eq!(
                (plan.work_class, plan.confidence, plan.source),
                (wc, confidence, source),
                "{}",
                c.name
            );
        }
        if let Some(note) = c.want_note {
            assert!(
                plan.notes.iter().any(|n| n.contains(note)),
                "{}: no note {note:?} in {:?}",
                c.name,
                plan.notes
            );
        }
        assert_eq!(
            plan.candidates.is_empty(),
            plan.notes.iter().any(|n| n.starts_with("empty:")),
            "{}",
            c.name
        );
    }
}

/// Reference §8.4, keyless `example.toml`: every row is kept.
#[test]
fn keyless_outcome_matrix() {
    check(&[
        Case {
            name: "chat preset streams on fast-local",
            model: "chat",
            want: &[("fast-local", Allow), ("heavy-local", Allow)],
            want_class: Some((Chat, 1.0, IntentSource::Preset)),
            ..case()
        },
        Case {
            name: "quick-edit preset",
            model: "anvil/quick-edit",
            class: (Planning, 0.9),
            want: &[("fast-local", Allow), ("heavy-local", Allow)],
            want_class: Some((BoundedEdit, 1.0, IntentSource::Preset)),
            ..case()
        },
        Case {
            name: "review preset",
            model: "review",
            want: &[("heavy-local", Allow)],
            ..case()
        },
        Case {
            name: "long-context preset",
            model: "long-context",
            want: &[("heavy-local", Allow)],
            ..case()
        },
        Case {
            name: "planning preset is exhausted",
            model: "planning",
            want: &[],
            want_dropped: &[("heavy-local", "deny")],
            ..case()
        },
        Case {
            name: "inferred bounded edit",
            class: (BoundedEdit, 0.9),
            want: &[("fast-local", Allow), ("heavy-local", Allow)],
            want_class: Some((BoundedEdit, 0.9, IntentSource::Inferred)),
            ..case()
        },
        Case {
            name: "inferred refactor uses the review pool, verified",
            class: (MultiFileRefactor, 0.8),
            want: &[("heavy-local", Verify)],
            ..case()
        },
        Case {
            name: "ambiguous goes to the safer tier, locally",
            class: (Chat, 0.3),
            want: &[("heavy-local", Allow), ("fast-local", Allow)],
            want_note: Some("ambiguous"),
            ..case()
        },
        Case {
            name: "inferred planning is exhausted",
            class: (Planning, 0.9),
            want: &[],
            want_dropped: &[("heavy-local", "deny")],
            ..case()
        },
        Case {
            name: "ambiguous planning is exhausted too (every tier denies it)",
            class: (Planning, 0.2),
            want: &[],
            want_dropped: &[("fast-local", "deny"), ("heavy-local", "deny")],
            ..case()
        },
        Case {
            name: "pin denied for the work class is redirected to its gated pool",
            model: "fast-local",
            class: (MultiFileRefactor, 0.8),
            want: &[("heavy-local", Verify)],
            want_dropped: &[("fast-local", "deny")],
            want_class: Some((MultiFileRefactor, 0.8, IntentSource::Pin)),
            want_note: Some(
                "pin fast-local denied for multi-file-refactor; routed via the review pool",
            ),
            ..case()
        },
        Case {
            name: "allowed pin is the sole candidate",
            model: "tier:fast-local",
            class: (Chat, 0.9),
            want: &[("fast-local", Allow)],
            want_note: Some("pool: pin fast-local"),
            ..case()
        },
        Case {
            name: "denied pin whose gated pool holds it again is dropped once",
            model: "heavy-local",
            class: (Planning, 0.9),
            want: &[],
            want_dropped: &[("heavy-local", "deny")],
            ..case()
        },
    ]);
}

/// Reference §8.4, keyed `example-with-cloud.toml` (`metered_cloud = ["planning"]`). Kept except
/// the ambiguous rows (§15.9): they are served locally instead of exhausted.
#[test]
fn keyed_outcome_matrix() {
    check(&[
        Case {
            name: "chat: cloud removed by the metered gate",
            keyed: true,
            model: "chat",
            want: &[("fast-local", Allow)],
            want_dropped: &[("cloud", "metered-cloud")],
            ..case()
        },
        Case {
            name: "quick-edit",
            keyed: true,
            model: "quick-edit",
            want: &[("fast-local", Allow), ("heavy-local", Allow)],
            want_dropped: &[("cloud", "metered-cloud")],
            ..case()
        },
        Case {
            name: "review",
            keyed: true,
            model: "review",
            want: &[("heavy-local", Allow)],
            want_dropped: &[("cloud", "metered-cloud")],
            ..case()
        },
        Case {
            name: "planning reaches the cloud",
            keyed: true,
            model: "planning",
            want: &[("cloud", Allow)],
            ..case()
        },
        Case {
            name: "planning without a key (cloud unbound) is exhausted",
            keyed: true,
            model: "planning",
            unbound: &["cloud"],
            want: &[],
            want_dropped: &[("cloud", "unbound")],
            ..case()
        },
        Case {
            name: "ambiguous is served locally (0.4.0 answered 503)",
            keyed: true,
            class: (Chat, 0.2),
            want: &[("heavy-local", Allow), ("fast-local", Allow)],
            want_dropped: &[("cloud", "metered-cloud")],
            ..case()
        },
        Case {
            name: "inferred planning reaches the cloud",
            keyed: true,
            class: (Planning, 0.9),
            want: &[("cloud", Allow)],
            ..case()
        },
        Case {
            name: "pin to cloud for an unmetered class is exhausted",
            keyed: true,
            model: "cloud",
            class: (Chat, 0.9),
            want: &[],
            want_dropped: &[("cloud", "metered-cloud")],
            ..case()
        },
        Case {
            name: "pin to cloud for planning",
            keyed: true,
            model: "cloud",
            class: (Planning, 0.9),
            want: &[("cloud", Allow)],
            ..case()
        },
        Case {
            name: "metered refactor tries local first, escalates to cloud",
            keyed: true,
            tweak: |c| c.metered_cloud.push(MultiFileRefactor),
            class: (MultiFileRefactor, 0.9),
            want: &[("heavy-local", Verify), ("cloud", Allow)],
            ..case()
        },
        Case {
            name: "a session under its budget still escalates to the cloud",
            keyed: true,
            tweak: |c| c.metered_cloud.push(MultiFileRefactor),
            class: (MultiFileRefactor, 0.9),
            budget: Some(SessionBudget {
                spent_usd: 0.99,
                ceiling_usd: 1.0,
            }),
            want: &[("heavy-local", Verify), ("cloud", Allow)],
            ..case()
        },
        Case {
            name: "a session that spent its budget no longer reaches the cloud",
            keyed: true,
            tweak: |c| c.metered_cloud.push(MultiFileRefactor),
            class: (MultiFileRefactor, 0.9),
            budget: Some(SessionBudget {
                spent_usd: 1.0,
                ceiling_usd: 1.0,
            }),
            want: &[("heavy-local", Verify)],
            want_dropped: &[("cloud", "session-budget")],
            ..case()
        },
        Case {
            name: "metered ambiguous chat: the safer tier is the best-scoring one",
            keyed: true,
            tweak: |c| c.metered_cloud.push(Chat),
            class: (Chat, 0.4),
            want: &[
                ("cloud", Allow),
                ("heavy-local", Allow),
                ("fast-local", Allow),
            ],
            ..case()
        },
        Case {
            name: "the hint header declares planning",
            keyed: true,
            hint: Some("anvil/planning"),
            class: (Chat, 0.9),
            want: &[("cloud", Allow)],
            want_class: Some((Planning, 1.0, IntentSource::Hint)),
            ..case()
        },
    ]);
}

#[test]
fn every_filter_records_its_reason() {
    check(&[
        Case {
            name: "context: prompt + max output over fast-local's 32768",
            model: "chat",
            needs: Needs {
                prompt_tokens: 30_000,
                max_output_tokens: 2_769,
                ..case().needs
            },
            want: &[("heavy-local", Allow)],
            want_dropped: &[("fast-local", "context")],
            ..case()
        },
        Case {
            name: "context: exactly at the limit fits",
            model: "chat",
            needs: Needs {
                prompt_tokens: 30_000,
                max_output_tokens: 2_768,
                ..case().needs
            },
            want: &[("fast-local", Allow), ("heavy-local", Allow)],
            ..case()
        },
        Case {
            name: "tools need tool_support",
            model: "chat",
            tweak: |c| c.tiers[0].tool_support = false,
            want: &[("heavy-local", Allow)],
            want_dropped: &[("fast-local", "tools")],
            ..case()
        },
        Case {
            name: "no tools, no tool_support needed",
            model: "chat",
            tweak: |c| c.tiers[0].tool_support = false,
            needs: Needs {
                tools: false,
                ..case().needs
            },
            want: &[("fast-local", Allow), ("heavy-local", Allow)],
            ..case()
        },
        Case {
            name: "images need vision",
            model: "chat",
            needs: Needs {
                images: true,
                ..case().needs
            },
            want: &[],
            want_dropped: &[("fast-local", "vision"), ("heavy-local", "vision")],
            ..case()
        },
        Case {
            name: "images on the vision cloud tier",
            keyed: true,
            model: "planning",
            needs: Needs {
                images: true,
                ..case().needs
            },
            want: &[("cloud", Allow)],
            ..case()
        },
        Case {
            name: "open breaker",
            model: "chat",
            breakers: &["fast-local"],
            want: &[("heavy-local", Allow)],
            want_dropped: &[("fast-local", "breaker-open")],
            ..case()
        },
        Case {
            name: "unbound",
            model: "chat",
            unbound: &["heavy-local"],
            want: &[("fast-local", Allow)],
            want_dropped: &[("heavy-local", "unbound")],
            ..case()
        },
        Case {
            name: "the first failing filter is the reason",
            model: "chat",
            unbound: &["fast-local"],
            breakers: &["fast-local"],
            needs: Needs {
                prompt_tokens: 100_000,
                images: true,
                ..case().needs
            },
            want: &[],
            want_dropped: &[("fast-local", "unbound"), ("heavy-local", "vision")],
            ..case()
        },
        Case {
            name: "cost ceiling below the cloud estimate (0.45 USD)",
            keyed: true,
            model: "planning",
            max_cost: Some(0.44),
            needs: Needs {
                prompt_tokens: 100_000,
                max_output_tokens: 10_000,
                ..case().needs
            },
            want: &[],
            want_dropped: &[("cloud", "cost-ceiling")],
            ..case()
        },
        Case {
            name: "cost ceiling above the estimate",
            keyed: true,
            model: "planning",
            max_cost: Some(0.46),
            needs: Needs {
                prompt_tokens: 100_000,
                max_output_tokens: 10_000,
                ..case().needs
            },
            want: &[("cloud", Allow)],
            ..case()
        },
        Case {
            name: "a zero ceiling keeps free local tiers",
            model: "chat",
            max_cost: Some(0.0),
            want: &[("fast-local", Allow), ("heavy-local", Allow)],
            ..case()
        },
        Case {
            name: "a preset naming an undeclared tier",
            model: "chat",
            tweak: |c| c.presets[0].tiers.insert(0, "ghost".to_owned()),
            want: &[("fast-local", Allow), ("heavy-local", Allow)],
            want_dropped: &[("ghost", "unknown-tier")],
            ..case()
        },
    ]);
}

#[test]
fn ranking_decisions_and_hints() {
    check(&[
        Case {
            name: "allow outranks the operator's order",
            model: "chat",
            profile: |p| {
                let mut stale = seed_entry("fast-local", Chat, false);
                stale.stale = true;
                p.insert("fast-local", Chat, stale);
            },
            want: &[("heavy-local", Allow), ("fast-local", Verify)],
            ..case()
        },
        Case {
            name: "no preset for the work class: every tier, by score",
            tweak: |c| c.presets.retain(|p| p.name != "chat"),
            want: &[("heavy-local", Allow), ("fast-local", Allow)],
            want_note: Some("preset chat is not configured"),
            ..case()
        },
        Case {
            name: "a measured score reorders a router-built pool",
            tweak: |c| c.presets.retain(|p| p.name != "chat"),
            profile: |p| p.insert("fast-local", Chat, measured(Allow, 0.9)),
            want: &[("fast-local", Allow), ("heavy-local", Allow)],
            ..case()
        },
        Case {
            name: "a measured score picks the safer tier",
            class: (BoundedEdit, 0.1),
            profile: |p| p.insert("fast-local", BoundedEdit, measured(Allow, 0.85)),
            want: &[("fast-local", Allow), ("heavy-local", Allow)],
            ..case()
        },
        Case {
            name: "the operator's order outranks the score in a declared pool",
            model: "chat",
            profile: |p| p.insert("heavy-local", Chat, measured(Allow, 0.99)),
            want: &[("fast-local", Allow), ("heavy-local", Allow)],
            ..case()
        },
        Case {
            name: "a measured deny gates a preset",
            model: "chat",
            profile: |p| p.insert("fast-local", Chat, measured(Decision::Deny, 0.1)),
            want: &[("heavy-local", Allow)],
            want_dropped: &[("fast-local", "deny")],
            ..case()
        },
        Case {
            name: "a measured allow opens planning locally",
            model: "planning",
            profile: |p| p.insert("heavy-local", Planning, measured(Allow, 0.9)),
            want: &[("heavy-local", Allow)],
            ..case()
        },
        Case {
            name: "the resident local tier ranks first",
            model: "chat",
            resident: Some("heavy-local"),
            want: &[("heavy-local", Allow), ("fast-local", Allow)],
            ..case()
        },
        Case {
            name: "residency does not outrank the decision",
            model: "chat",
            resident: Some("fast-local"),
            profile: |p| p.insert("fast-local", Chat, measured(Verify, 0.6)),
            want: &[("heavy-local", Allow), ("fast-local", Verify)],
            ..case()
        },
        Case {
            name: "a resident cloud tier is not local residency",
            keyed: true,
            model: "quick-edit",
            resident: Some("cloud"),
            tweak: |c| c.metered_cloud.push(BoundedEdit),
            want: &[
                ("fast-local", Allow),
                ("heavy-local", Allow),
                ("cloud", Allow),
            ],
            ..case()
        },
        Case {
            name: "verify hint: allow becomes allow-with-verify",
            model: "chat",
            verify: Some(true),
            want: &[("fast-local", Verify), ("heavy-local", Verify)],
            want_note: Some("verify hint"),
            ..case()
        },
        Case {
            name: "verify hint off: allow-with-verify becomes allow",
            class: (MultiFileRefactor, 0.9),
            verify: Some(false),
            want: &[("heavy-local", Allow)],
            ..case()
        },
        Case {
            name: "verify hint off never lifts a deny",
            model: "planning",
            verify: Some(false),
            want: &[],
            want_dropped: &[("heavy-local", "deny")],
            ..case()
        },
        Case {
            name: "a custom preset is gated with the classifier's work class",
            tweak: add_private,
            model: "Private",
            class: (Planning, 0.95),
            want: &[],
            want_dropped: &[("fast-local", "deny"), ("heavy-local", "deny")],
            want_class: Some((Planning, 0.95, IntentSource::Preset)),
            ..case()
        },
        Case {
            name: "a custom preset, low confidence, keeps its pool and order",
            tweak: add_private,
            model: "anvil/private",
            class: (Chat, 0.1),
            want: &[("fast-local", Allow), ("heavy-local", Allow)],
            ..case()
        },
        Case {
            name: "a pin redirect without a gated preset uses every tier",
            tweak: |c| c.presets.retain(|p| p.name != "review"),
            model: "fast-local",
            class: (MultiFileRefactor, 0.9),
            want: &[("heavy-local", Verify)],
            want_dropped: &[("fast-local", "deny")],
            want_note: Some("preset review is not configured"),
            ..case()
        },
        Case {
            name: "a work-class hint without its own preset",
            hint: Some("multi-file-refactor"),
            class: (Chat, 0.9),
            want: &[("heavy-local", Verify)],
            want_class: Some((MultiFileRefactor, 1.0, IntentSource::Hint)),
            ..case()
        },
    ]);
}

fn measured(decision: Decision, score: f64) -> ProfileEntry {
    ProfileEntry {
        decision,
        score,
        samples: 20,
        last_measured: Some(1_790_000_000),
        fingerprint: Some("fp".to_owned()),
        stale: false,
    }
}

fn add_private(c: &mut RouterConfig) {
    c.presets.push(Preset {
        name: "Private".to_owned(),
        tiers: vec!["fast-local".to_owned(), "heavy-local".to_owned()],
    });
}

#[test]
fn drop_reasons_display() {
    let cases = [
        (
            DropReason::UnknownTier,
            "unknown-tier: not a configured tier",
        ),
        (DropReason::Unbound, "unbound: no backend for this tier"),
        (
            DropReason::Context {
                needed: 40_000,
                limit: 32_768,
            },
            "context: needs 40000 tokens, context limit is 32768",
        ),
        (
            DropReason::Tools,
            "tools: request has tools, tier has no tool support",
        ),
        (
            DropReason::Vision,
            "vision: request has images, tier has no vision",
        ),
        (
            DropReason::MeteredCloud { work_class: Chat },
            "metered-cloud: chat is not listed in metered_cloud",
        ),
        (
            DropReason::Denied {
                work_class: Planning,
            },
            "deny: the quality profile denies planning",
        ),
        (
            DropReason::BreakerOpen,
            "breaker-open: circuit breaker is open",
        ),
        (
            DropReason::CostCeiling {
                estimate_usd: 0.45,
                ceiling_usd: 0.1,
            },
            "cost-ceiling: estimate $0.450000 exceeds max $0.100000",
        ),
    ];
    for (reason, text) in cases {
        assert_eq!(reason.to_string(), text);
        assert!(text.starts_with(reason.as_str()), "{text}");
    }
}

#[test]
fn cost_estimate() {
    let keyed = config(KEYED);
    let needs = Needs {
        prompt_tokens: 8,
        max_output_tokens: 5,
        ..Needs::default()
    };
    let cloud = keyed.tier("cloud").unwrap();
    assert!((estimate_cost_usd(cloud, &needs) - (3.0 * 8.0 + 15.0 * 5.0) / 1e6).abs() < 1e-15);
    assert_eq!(estimate_cost_usd(&keyed.tiers[0], &needs), 0.0);
}

// ------------------------------------------------------------------------------------------------
// Properties
// ------------------------------------------------------------------------------------------------

const MODELS: [&str; 12] = [
    "chat",
    "quick-edit",
    "review",
    "planning",
    "long-context",
    "anvil/Planning",
    "fast-local",
    "heavy-local",
    "cloud",
    "tier:cloud",
    "gpt-4o",
    "",
];
const HINTS: [&str; 4] = ["planning", "chat", "multi-file-refactor", "nonsense"];
const LIMITS: [u64; 4] = [8_192, 32_768, 131_072, 200_000];
const DECISIONS: [Decision; 3] = [Allow, Verify, Decision::Deny];

prop_compose! {
    fn tier_shape()(tools in weighted(0.8), vision in weighted(0.5), limit in 0..LIMITS.len())
        -> (bool, bool, u64) {
        (tools, vision, LIMITS[limit])
    }
}

proptest! {
    #[test]
    fn plans_keep_their_promises(
        shapes in proptest::collection::vec(tier_shape(), 3),
        metered in proptest::collection::vec(any::<bool>(), 6),
        rows in proptest::collection::vec(
            proptest::option::of((0..3usize, 0.0..1.0f64, any::<bool>())), 18),
        model in 0..MODELS.len(),
        hint in proptest::option::of(0..HINTS.len()),
        class in 0..6usize,
        confidence in 0.0..1.0f32,
        prompt_tokens in 0..150_000u64,
        max_output_tokens in 0..20_000u64,
        tools in weighted(0.5),
        images in weighted(0.2),
        breakers in proptest::collection::vec(weighted(0.15), 3),
        bound in proptest::collection::vec(weighted(0.85), 2..4),
        resident in proptest::option::of(0..3usize),
        verify in proptest::option::of(any::<bool>()),
        max_cost in proptest::option::of(0.0..1.0f64),
        duplicate_preset in any::<bool>(),
    ) {
        let mut config = config(KEYED);
        for (tier, (tool_support, vision, limit)) in config.tiers.iter_mut().zip(&shapes) {
            tier.tool_support = *tool_support;
            tier.vision = *vision;
            tier.context_limit = *limit;
        }
        config.metered_cloud = WorkClass::ALL
            .into_iter()
            .zip(&metered)
            .filter(|(_, on)| **on)
            .map(|(wc, _)| wc)
            .collect();
        if duplicate_preset {
            // hand-built configs may repeat a tier; the plan must not
            config.presets[0].tiers.push("fast-local".to_owned());
        }
        let mut profile = ProfileSnapshot::new();
        for (i, row) in rows.iter().enumerate() {
            if let Some((decision, score, stale)) = row {
                let mut entry = measured(DECISIONS[*decision], *score);
                entry.stale = *stale;
                profile.insert(config.tiers[i / 6].id.clone(), WorkClass::ALL[i % 6], entry);
            }
        }
        let hints = Hints {
            intent: hint.map(|h| HINTS[h].to_owned()),
            session: None,
            verify,
            max_cost_usd: max_cost,
        };
        let intent = resolve_intent(&config, MODELS[model], &hints);
        let open: Vec<String> = config
            .tiers
            .iter()
            .zip(&breakers)
            .filter(|(_, open)| **open)
            .map(|(t, _)| t.id.clone())
            .collect();
        let needs = Needs { prompt_tokens, max_output_tokens, tools, images };
        let plan = plan(&PlanInput {
            config: &config,
            intent: &intent,
            hints: &hints,
            work_class: WorkClass::ALL[class],
            confidence,
            needs,
            profile: &profile,
            open_breakers: &open,
            resident: resident.map(|r| config.tiers[r].id.as_str()),
            bound: &bound,
            session_budget: None,
        });
        for (i, c) in plan.candidates.iter().enumerate() {
            let tier = &config.tiers[c.index];
            prop_assert_eq!(&tier.id, &c.tier);
            prop_assert!(!plan.dropped.iter().any(|d| d.tier == c.tier), "dropped and kept");
            prop_assert!(
                !plan.candidates[..i].iter().any(|o| o.tier == c.tier),
                "duplicate candidate"
            );
            prop_assert_ne!(c.decision, Decision::Deny);
            prop_assert_ne!(
                profile.verdict(&c.tier, plan.work_class, tier.is_cloud()).0,
                Decision::Deny
            );
            prop_assert!(!tier.is_cloud() || config.metered_cloud.contains(&plan.work_class));
            prop_assert!(bound.get(c.index).copied().unwrap_or(false));
            prop_assert!(prompt_tokens + max_output_tokens <= tier.context_limit);
            prop_assert!(!tools || tier.tool_support);
            prop_assert!(!images || tier.vision);
            prop_assert!(!open.contains(&c.tier));
            prop_assert!(max_cost.is_none_or(|m| estimate_cost_usd(tier, &needs) <= m));
        }
        for (i, d) in plan.dropped.iter().enumerate() {
            prop_assert!(!plan.dropped[..i].iter().any(|o| o.tier == d.tier), "dropped twice");
        }
        // a pin that survives is the only candidate; a pin never reaches a denied tier
        if let Some(pin) = &intent.pinned_tier {
            if plan.candidates.iter().any(|c| &c.tier == pin) {
                prop_assert_eq!(plan.candidates.len(), 1);
            }
        }
    }
}
