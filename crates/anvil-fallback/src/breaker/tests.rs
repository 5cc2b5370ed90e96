use super::*;
use proptest::prelude::*;

const F: Outcome = Outcome::Failure;
const S: Outcome = Outcome::Success;

#[derive(Debug, Clone, Copy)]
enum Step {
    /// `allow` must answer exactly this.
    Allow(Admission),
    /// `record` this outcome.
    Record(Outcome),
    /// `state` must answer exactly this.
    State(BreakerState),
}
use Step::{Allow, Record, State};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}
fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}
const ALLOWED: Admission = Admission::Allowed;
const PROBE: Admission = Admission::Probe;
fn rejected(retry_in: Duration) -> Admission {
    Admission::Rejected { retry_in }
}
fn open(retry_in: Duration) -> BreakerState {
    BreakerState::Open { retry_in }
}
fn half(n: u32) -> BreakerState {
    BreakerState::HalfOpen {
        probes_in_flight: n,
    }
}

/// Rate trigger off, so consecutive-failure cases are isolated.
fn consecutive_only(n: u32) -> BreakerConfig {
    BreakerConfig {
        consecutive_failures: n,
        window_size: 0,
        ..BreakerConfig::default()
    }
}

fn run(name: &str, config: BreakerConfig, steps: &[(Duration, Step)]) {
    let t0 = Instant::now();
    let mut b = CircuitBreaker::new(config);
    for (i, (at, step)) in steps.iter().enumerate() {
        let now = t0 + *at;
        match step {
            Allow(want) => assert_eq!(b.allow(now), *want, "{name}: step {i} allow at {at:?}"),
            Record(o) => b.record(now, *o),
            State(want) => assert_eq!(b.state(now), *want, "{name}: step {i} state at {at:?}"),
        }
    }
}

#[test]
fn transitions() {
    let z = Duration::ZERO;
    type Case = (&'static str, BreakerConfig, Vec<(Duration, Step)>);
    let cases: Vec<Case> = vec![
        (
            "fresh breaker is closed and admits",
            BreakerConfig::default(),
            vec![(z, State(BreakerState::Closed)), (z, Allow(ALLOWED))],
        ),
        (
            "four consecutive failures keep it closed, the fifth opens it",
            BreakerConfig::default(),
            vec![
                (secs(1), Record(F)),
                (secs(2), Record(F)),
                (secs(3), Record(F)),
                (secs(4), Record(F)),
                (secs(4), State(BreakerState::Closed)),
                (secs(4), Allow(ALLOWED)),
                (secs(5), Record(F)),
                (secs(5), State(open(secs(30)))),
                (secs(15), Allow(rejected(secs(20)))),
            ],
        ),
        (
            "a success resets the consecutive count",
            consecutive_only(3),
            vec![
                (z, Record(F)),
                (z, Record(F)),
                (z, Record(S)),
                (z, Record(F)),
                (z, Record(F)),
                (z, State(BreakerState::Closed)),
                (z, Record(F)),
                (z, State(open(secs(30)))),
            ],
        ),
        (
            "open becomes half-open exactly when the cool-down ends",
            consecutive_only(1),
            vec![
                (secs(10), Record(F)),
                (secs(39), State(open(secs(1)))),
                (secs(40) - ms(1), Allow(rejected(ms(1)))),
                (secs(40), State(half(0))),
            ],
        ),
        (
            "half-open admits one probe and rejects the rest while it is in flight",
            consecutive_only(1),
            vec![
                (z, Record(F)),
                (secs(30), Allow(PROBE)),
                (secs(30), State(half(1))),
                (secs(31), Allow(rejected(z))),
                (secs(32), Allow(rejected(z))),
            ],
        ),
        (
            "a probe success closes the breaker",
            consecutive_only(1),
            vec![
                (z, Record(F)),
                (secs(30), Allow(PROBE)),
                (secs(31), Record(S)),
                (secs(31), State(BreakerState::Closed)),
                (secs(31), Allow(ALLOWED)),
            ],
        ),
        (
            "a probe failure re-opens with a doubled cool-down, a later success resets it",
            consecutive_only(1),
            vec![
                (z, Record(F)),
                (secs(30), Allow(PROBE)),
                (secs(31), Record(F)),
                (secs(31), State(open(secs(60)))),
                (secs(90), Allow(rejected(secs(1)))),
                (secs(91), Allow(PROBE)),
                (secs(92), Record(S)),
                (secs(92), State(BreakerState::Closed)),
                (secs(100), Record(F)),
                (secs(100), State(open(secs(30)))),
            ],
        ),
        (
            "the grown cool-down is capped",
            BreakerConfig {
                cool_down_multiplier: 10,
                max_cool_down: secs(100),
                ..consecutive_only(1)
            },
            vec![
                (z, Record(F)),
                (secs(30), Allow(PROBE)),
                (secs(30), Record(F)),
                (secs(30), State(open(secs(100)))),
                (secs(130), Allow(PROBE)),
                (secs(130), Record(F)),
                (secs(130), State(open(secs(100)))),
            ],
        ),
        (
            "multiplier 1 keeps the cool-down constant",
            BreakerConfig {
                cool_down_multiplier: 1,
                ..consecutive_only(1)
            },
            vec![
                (z, Record(F)),
                (secs(30), Allow(PROBE)),
                (secs(30), Record(F)),
                (secs(30), State(open(secs(30)))),
            ],
        ),
        (
            "two probe slots admit two probes, then reject",
            BreakerConfig {
                half_open_probes: 2,
                ..consecutive_only(1)
            },
            vec![
                (z, Record(F)),
                (secs(30), Allow(PROBE)),
                (secs(30), Allow(PROBE)),
                (secs(30), State(half(2))),
                (secs(30), Allow(rejected(z))),
            ],
        ),
        (
            "a lost probe frees its slot after the probe timeout",
            BreakerConfig {
                probe_timeout: secs(10),
                ..consecutive_only(1)
            },
            vec![
                (z, Record(F)),
                (secs(30), Allow(PROBE)),
                (secs(39), Allow(rejected(z))),
                (secs(40), State(half(0))),
                (secs(40), Allow(PROBE)),
            ],
        ),
        (
            "late outcomes while open are ignored",
            consecutive_only(1),
            vec![
                (z, Record(F)),
                (secs(5), Record(S)),
                (secs(5), State(open(secs(25)))),
                (secs(6), Record(F)),
                (secs(6), State(open(secs(24)))),
            ],
        ),
        (
            "failure rate at 50% over 10 samples opens",
            BreakerConfig {
                consecutive_failures: 0,
                ..BreakerConfig::default()
            },
            {
                let mut v = Vec::new();
                for i in 0..9u64 {
                    v.push((secs(i), Record(if i % 2 == 0 { S } else { F })));
                }
                // 9 samples, 4 failures: below min_samples.
                v.push((secs(9), State(BreakerState::Closed)));
                v.push((secs(10), Record(F)));
                // 10 samples, 5 failures: 50%.
                v.push((secs(10), State(open(secs(30)))));
                v
            },
        ),
        (
            "failure rate below the threshold stays closed",
            BreakerConfig {
                consecutive_failures: 0,
                ..BreakerConfig::default()
            },
            {
                let mut v = Vec::new();
                for i in 0..20u64 {
                    v.push((secs(i), Record(if i % 3 == 0 { F } else { S })));
                }
                v.push((secs(20), State(BreakerState::Closed)));
                v
            },
        ),
        (
            "below min samples a 100% failure rate does not open",
            BreakerConfig {
                consecutive_failures: 0,
                min_samples: 4,
                ..BreakerConfig::default()
            },
            vec![
                (z, Record(F)),
                (z, Record(F)),
                (z, Record(F)),
                (z, State(BreakerState::Closed)),
                (z, Record(F)),
                (z, State(open(secs(30)))),
            ],
        ),
        (
            "the count window only keeps the last window_size outcomes",
            BreakerConfig {
                consecutive_failures: 0,
                window_size: 4,
                min_samples: 4,
                failure_rate: 0.75,
                ..BreakerConfig::default()
            },
            vec![
                (z, Record(F)),
                (z, Record(F)),
                (z, Record(S)),
                (z, Record(S)),
                (z, Record(S)),
                (z, Record(F)),
                (z, Record(F)),
                // last four: [S, S, F, F] = 50%
                (z, State(BreakerState::Closed)),
                (z, Record(F)),
                // [S, F, F, F] = 75%
                (z, State(open(secs(30)))),
            ],
        ),
        (
            "the time window drops outcomes older than window_duration",
            BreakerConfig {
                consecutive_failures: 0,
                window_size: 100,
                window_duration: Some(secs(60)),
                min_samples: 3,
                failure_rate: 1.0,
                ..BreakerConfig::default()
            },
            vec![
                (secs(0), Record(F)),
                (secs(1), Record(F)),
                (secs(2), Record(S)),
                // at 62 the S at 2 is 60 s old and no longer counts; the Fs before it neither.
                (secs(62), Record(F)),
                (secs(63), Record(F)),
                (secs(63), State(BreakerState::Closed)),
                (secs(64), Record(F)),
                (secs(64), State(open(secs(30)))),
            ],
        ),
        (
            "after closing, the window starts empty",
            BreakerConfig {
                consecutive_failures: 0,
                min_samples: 2,
                ..BreakerConfig::default()
            },
            vec![
                (z, Record(F)),
                (z, Record(F)),
                (z, State(open(secs(30)))),
                (secs(30), Allow(PROBE)),
                (secs(30), Record(S)),
                (secs(31), Record(F)),
                // window [F]: below min samples even though the old failures were 100%.
                (secs(31), State(BreakerState::Closed)),
            ],
        ),
    ];
    for (name, config, steps) in cases {
        run(name, config, &steps);
    }
}

#[test]
fn state_names_are_stable() {
    assert_eq!(BreakerState::Closed.name(), "closed");
    assert_eq!(open(secs(1)).name(), "open");
    assert_eq!(half(0).name(), "half-open");
    assert!(ALLOWED.is_admitted());
    assert!(PROBE.is_admitted());
    assert!(!rejected(secs(1)).is_admitted());
}

#[test]
fn registry_tracks_tiers_independently_and_lists_open_ones() {
    let t0 = Instant::now();
    let reg = Breakers::new(consecutive_only(2));
    reg.set_config("heavy-local", consecutive_only(1));
    assert_eq!(reg.open_tiers(t0), Vec::<String>::new());
    reg.record("fast-local", t0, F);
    reg.record("heavy-local", t0, F);
    // heavy trips after 1, fast needs 2.
    assert_eq!(reg.open_tiers(t0), vec!["heavy-local".to_owned()]);
    reg.record("fast-local", t0, F);
    assert_eq!(
        reg.open_tiers(t0),
        vec!["fast-local".to_owned(), "heavy-local".to_owned()]
    );
    assert_eq!(reg.allow("fast-local", t0 + secs(1)), rejected(secs(29)));
    assert_eq!(reg.allow("cloud", t0), ALLOWED);
    assert_eq!(reg.state("never-seen", t0), BreakerState::Closed);
    // After the cool-down both are half-open with a free probe slot: not listed.
    let later = t0 + secs(30);
    assert_eq!(reg.open_tiers(later), Vec::<String>::new());
    // Taking the only probe slot lists the tier again until the probe is recorded.
    assert_eq!(reg.allow("fast-local", later), PROBE);
    assert_eq!(reg.open_tiers(later), vec!["fast-local".to_owned()]);
    reg.record("fast-local", later, S);
    assert_eq!(reg.state("fast-local", later), BreakerState::Closed);
    assert_eq!(reg.open_tiers(later), Vec::<String>::new());
}

#[test]
fn registry_is_shareable_across_threads() {
    let t0 = Instant::now();
    let reg = std::sync::Arc::new(Breakers::new(consecutive_only(1000)));
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let reg = std::sync::Arc::clone(&reg);
            std::thread::spawn(move || {
                for _ in 0..250 {
                    reg.record("t", t0, F);
                }
            })
        })
        .collect();
    for h in handles {
        assert!(h.join().is_ok());
    }
    // exactly 1000 failures were counted: the breaker just tripped.
    assert_eq!(reg.state("t", t0), open(secs(30)));
}

#[derive(Debug, Clone, Copy)]
enum Op {
    Allow,
    Record(bool),
}

fn op() -> impl Strategy<Value = (u64, Op)> {
    (
        0u64..20_000,
        prop_oneof![Just(Op::Allow), any::<bool>().prop_map(Op::Record)],
    )
}

proptest! {
    /// While open, no request is admitted at all; once the cool-down has elapsed since opening,
    /// the breaker is half-open and admits a probe.
    #[test]
    fn open_never_admits_and_half_opens_after_cool_down(
        ops in proptest::collection::vec(op(), 1..200),
        threshold in 1u32..4,
        cool_ms in 1u64..60_000,
    ) {
        let config = BreakerConfig {
            consecutive_failures: threshold,
            window_size: 5,
            min_samples: 3,
            cool_down: ms(cool_ms),
            ..BreakerConfig::default()
        };
        let t0 = Instant::now();
        let mut b = CircuitBreaker::new(config);
        let mut now = t0;
        for (gap, op) in ops {
            now += ms(gap);
            let before = b.state(now);
            match op {
                Op::Allow => {
                    let got = b.allow(now);
                    match before {
                        BreakerState::Open { retry_in } => {
                            prop_assert_eq!(got, Admission::Rejected { retry_in });
                        }
                        BreakerState::Closed => prop_assert_eq!(got, Admission::Allowed),
                        BreakerState::HalfOpen { .. } => prop_assert_ne!(got, Admission::Allowed),
                    }
                }
                Op::Record(ok) => {
                    b.record(now, if ok { S } else { F });
                    if let BreakerState::Open { retry_in } = b.state(now) {
                        // a fresh opening: rejected until exactly retry_in later, then a probe.
                        let just_before = now + retry_in - Duration::from_nanos(1);
                        prop_assert!(b.state(just_before).name() == "open");
                        prop_assert!(!b.clone().allow(just_before).is_admitted());
                        prop_assert_eq!(b.state(now + retry_in), BreakerState::HalfOpen { probes_in_flight: 0 });
                        prop_assert_eq!(b.clone().allow(now + retry_in), Admission::Probe);
                    }
                }
            }
        }
    }
}
