//! Acceptance 5 on a paused clock: a tier that fails repeatedly is skipped by later requests until
//! its breaker half-opens; a session over its budget stops reaching metered tiers.

use std::time::{Duration, Instant};

use anvil_fallback::{
    Admission, AttemptOutcome, Attempts, BreakerConfig, Breakers, BudgetConfig, RetryPolicy,
    SessionBudgets,
};

struct Tier {
    id: &'static str,
    metered: bool,
    cost_usd: f64,
}

const PLAN: [Tier; 3] = [
    Tier {
        id: "fast-local",
        metered: false,
        cost_usd: 0.0,
    },
    Tier {
        id: "heavy-local",
        metered: false,
        cost_usd: 0.0,
    },
    Tier {
        id: "cloud",
        metered: true,
        cost_usd: 0.40,
    },
];

struct Router {
    breakers: Breakers,
    budgets: SessionBudgets,
    retry: RetryPolicy,
    ceiling_usd: f64,
}

impl Router {
    /// Walks the plan for one request; `serve` says how each called tier answers.
    fn walk(
        &self,
        session: &str,
        now: Instant,
        serve: &dyn Fn(&str) -> AttemptOutcome,
    ) -> Attempts {
        let mut attempts = Attempts::new();
        for tier in &PLAN {
            if !self.retry.may_try_another(&attempts) {
                break;
            }
            if tier.metered && self.budgets.over_budget(session, self.ceiling_usd, now) {
                attempts.push(tier.id, AttemptOutcome::SkippedBudget);
                continue;
            }
            if let Admission::Rejected { .. } = self.breakers.allow(tier.id, now) {
                attempts.push(tier.id, AttemptOutcome::BreakerOpen);
                continue;
            }
            let outcome = serve(tier.id);
            if let Some(o) = outcome.breaker_outcome() {
                self.breakers.record(tier.id, now, o);
            }
            if tier.metered {
                self.budgets.charge(session, tier.cost_usd, now);
            }
            attempts.push(tier.id, outcome);
        }
        attempts
    }
}

fn router() -> Router {
    Router {
        breakers: Breakers::new(BreakerConfig::default()),
        budgets: SessionBudgets::new(BudgetConfig::default()),
        retry: RetryPolicy::default(),
        ceiling_usd: 1.0,
    }
}

#[test]
fn a_failing_tier_is_skipped_until_its_breaker_half_opens() {
    let r = router();
    let t0 = Instant::now();
    let fast_down = |tier: &str| {
        if tier == "fast-local" {
            AttemptOutcome::ConnectFailed
        } else {
            AttemptOutcome::Ok
        }
    };
    // five requests each try fast-local first and fall back.
    for i in 0..5u64 {
        let a = r.walk("s", t0 + Duration::from_secs(i), &fast_down);
        assert_eq!(
            a.header_value(),
            "fast-local:connect-failed,heavy-local:ok",
            "request {i}"
        );
    }
    assert_eq!(
        r.breakers.open_tiers(t0 + Duration::from_secs(5)),
        vec!["fast-local".to_owned()]
    );
    // later requests skip it without calling it, for the whole 30 s cool-down.
    let called = std::cell::Cell::new(0);
    let counting = |tier: &str| {
        if tier == "fast-local" {
            called.set(called.get() + 1);
        }
        fast_down(tier)
    };
    for at in [5u64, 10, 20, 33] {
        let a = r.walk("s", t0 + Duration::from_secs(at), &counting);
        assert_eq!(
            a.header_value(),
            "fast-local:breaker-open,heavy-local:ok",
            "at {at}s"
        );
    }
    assert_eq!(called.get(), 0);
    // opened at 4 s: half-open at 34 s, one probe goes through; fast-local recovered.
    let a = r.walk("s", t0 + Duration::from_secs(34), &|_: &str| {
        AttemptOutcome::Ok
    });
    assert_eq!(a.header_value(), "fast-local:ok");
    assert!(r
        .breakers
        .open_tiers(t0 + Duration::from_secs(34))
        .is_empty());
}

#[test]
fn a_session_over_budget_stops_reaching_metered_tiers() {
    let r = router();
    let t0 = Instant::now();
    let locals_down = |tier: &str| {
        if tier == "cloud" {
            AttemptOutcome::Ok
        } else {
            AttemptOutcome::Upstream5xx
        }
    };
    // the breakers must not interfere: lift the consecutive trigger for the locals.
    let lenient = BreakerConfig {
        consecutive_failures: 0,
        window_size: 0,
        ..BreakerConfig::default()
    };
    r.breakers.set_config("fast-local", lenient.clone());
    r.breakers.set_config("heavy-local", lenient);
    // $0.40 per cloud answer against a $1.00 ceiling: two fit, the third is still allowed at
    // $0.80 spent, the fourth is skipped at $1.20.
    let want = [
        "fast-local:upstream-5xx,heavy-local:upstream-5xx,cloud:ok",
        "fast-local:upstream-5xx,heavy-local:upstream-5xx,cloud:ok",
        "fast-local:upstream-5xx,heavy-local:upstream-5xx,cloud:ok",
        "fast-local:upstream-5xx,heavy-local:upstream-5xx,cloud:skipped-budget",
    ];
    for (i, w) in want.iter().enumerate() {
        let now = t0 + Duration::from_secs(u64::try_from(i).unwrap_or(0));
        assert_eq!(
            r.walk("alice", now, &locals_down).header_value(),
            *w,
            "request {i}"
        );
    }
    // another session still reaches the cloud tier.
    let a = r.walk("bob", t0 + Duration::from_secs(10), &locals_down);
    assert_eq!(
        a.header_value(),
        "fast-local:upstream-5xx,heavy-local:upstream-5xx,cloud:ok"
    );
    assert!(r
        .budgets
        .over_budget("alice", 1.0, t0 + Duration::from_secs(10)));
    assert!(!r
        .budgets
        .over_budget("bob", 1.0, t0 + Duration::from_secs(10)));
}
