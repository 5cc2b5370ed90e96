//! Per-tier circuit breakers.
//!
//! A breaker starts **closed** and admits every request. It **opens** when either
//! - the last `consecutive_failures` outcomes were all failures, or
//! - over the sliding window (the last `window_size` outcomes, optionally only those younger than
//!   `window_duration`), at least `min_samples` outcomes were seen and the failure rate is at or
//!   above `failure_rate`.
//!
//! While open it rejects requests until its cool-down has elapsed; it is then **half-open** and admits
//! up to `half_open_probes` probe requests at a time. A probe success closes it (and resets the
//! cool-down to its base value); a probe failure re-opens it with the cool-down multiplied by
//! `cool_down_multiplier` (capped at `max_cool_down`).
//!
//! Time is always an argument; the breaker never reads a clock.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// The result of one request as far as a breaker is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// The tier served the request.
    Success,
    /// The tier failed the request (transport error, timeout, 5xx, 429, failed verification, ...).
    Failure,
}

/// Whether a request may be sent to a tier, as answered by [`CircuitBreaker::allow`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// The breaker is closed: send the request.
    Allowed,
    /// The breaker is half-open and this request is one of its probes: send it and record its outcome.
    Probe,
    /// The breaker is open (or half-open with every probe slot taken): skip the tier.
    Rejected {
        /// How long until the breaker may admit a request again (zero when only waiting for a probe).
        retry_in: Duration,
    },
}

impl Admission {
    /// True for [`Admission::Allowed`] and [`Admission::Probe`].
    #[must_use]
    pub fn is_admitted(&self) -> bool {
        !matches!(self, Admission::Rejected { .. })
    }
}

/// The observable state of a breaker at some instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    /// Requests flow normally.
    Closed,
    /// Requests are rejected until the cool-down ends.
    Open {
        /// Time left in the cool-down.
        retry_in: Duration,
    },
    /// The cool-down is over; a limited number of probe requests are admitted.
    HalfOpen {
        /// Probes admitted and not yet recorded.
        probes_in_flight: u32,
    },
}

impl BreakerState {
    /// The stable lowercase name of the state: `closed`, `open` or `half-open`.
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            BreakerState::Closed => "closed",
            BreakerState::Open { .. } => "open",
            BreakerState::HalfOpen { .. } => "half-open",
        }
    }
}

/// Tuning of one circuit breaker.
#[derive(Debug, Clone, PartialEq)]
pub struct BreakerConfig {
    /// Open after this many consecutive failures (0 disables this trigger). Default 5.
    pub consecutive_failures: u32,
    /// Number of most recent outcomes kept in the sliding window (0 disables the rate trigger).
    /// Default 20.
    pub window_size: usize,
    /// When set, only outcomes younger than this count towards the failure rate. Default unset.
    pub window_duration: Option<Duration>,
    /// Open when the failure rate over the window is at or above this fraction (0.0..=1.0).
    /// Default 0.5.
    pub failure_rate: f64,
    /// The failure rate is only considered once the window holds at least this many outcomes.
    /// Default 10.
    pub min_samples: usize,
    /// How long the breaker stays open before half-opening. Default 30 s.
    pub cool_down: Duration,
    /// Each failed probe multiplies the cool-down by this factor (1 keeps it constant). Default 2.
    pub cool_down_multiplier: u32,
    /// Upper bound for a grown cool-down. Default 5 min.
    pub max_cool_down: Duration,
    /// How many probes may be in flight at once while half-open (at least 1 is used). Default 1.
    pub half_open_probes: u32,
    /// A probe that has not been recorded after this long is presumed lost and its slot is freed, so
    /// a dropped probe cannot wedge the breaker half-open. Default 60 s.
    pub probe_timeout: Duration,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self {
            consecutive_failures: 5,
            window_size: 20,
            window_duration: None,
            failure_rate: 0.5,
            min_samples: 10,
            cool_down: Duration::from_secs(30),
            cool_down_multiplier: 2,
            max_cool_down: Duration::from_secs(300),
            half_open_probes: 1,
            probe_timeout: Duration::from_secs(60),
        }
    }
}

#[derive(Debug, Clone)]
enum Phase {
    Closed,
    Open {
        since: Instant,
        cool_down: Duration,
    },
    HalfOpen {
        cool_down: Duration,
        probes: Vec<Instant>,
    },
}

/// One tier's circuit breaker. Not thread-safe by itself; share it through [`Breakers`].
#[derive(Debug, Clone)]
pub struct CircuitBreaker {
    config: BreakerConfig,
    phase: Phase,
    consecutive: u32,
    window: VecDeque<(Instant, Outcome)>,
    /// The cool-down the next opening will use (grows with failed probes, resets on close).
    next_cool_down: Duration,
}

impl CircuitBreaker {
    /// A closed breaker with the given tuning.
    #[must_use]
    pub fn new(config: BreakerConfig) -> Self {
        let next_cool_down = config.cool_down;
        Self {
            config,
            phase: Phase::Closed,
            consecutive: 0,
            window: VecDeque::new(),
            next_cool_down,
        }
    }

    /// The breaker's tuning.
    #[must_use]
    pub fn config(&self) -> &BreakerConfig {
        &self.config
    }

    /// The state at `now` (an open breaker whose cool-down has elapsed reports half-open).
    #[must_use]
    pub fn state(&self, now: Instant) -> BreakerState {
        match &self.phase {
            Phase::Closed => BreakerState::Closed,
            Phase::Open { since, cool_down } => {
                let elapsed = now.saturating_duration_since(*since);
                if elapsed >= *cool_down {
                    BreakerState::HalfOpen {
                        probes_in_flight: 0,
                    }
                } else {
                    BreakerState::Open {
                        retry_in: *cool_down - elapsed,
                    }
                }
            }
            Phase::HalfOpen { probes, .. } => BreakerState::HalfOpen {
                probes_in_flight: self.live_probes(probes, now),
            },
        }
    }

    /// Asks whether a request may go to this tier at `now`. A [`Admission::Probe`] answer reserves
    /// a probe slot, so the caller must [`record`](Self::record) the probe's outcome.
    pub fn allow(&mut self, now: Instant) -> Admission {
        self.advance(now);
        let max_probes = self.config.half_open_probes.max(1);
        let probe_timeout = self.config.probe_timeout;
        match &mut self.phase {
            Phase::Closed => Admission::Allowed,
            Phase::Open { since, cool_down } => Admission::Rejected {
                retry_in: cool_down.saturating_sub(now.saturating_duration_since(*since)),
            },
            Phase::HalfOpen { probes, .. } => {
                probes.retain(|t| now.saturating_duration_since(*t) < probe_timeout);
                if u32::try_from(probes.len()).unwrap_or(u32::MAX) < max_probes {
                    probes.push(now);
                    Admission::Probe
                } else {
                    Admission::Rejected {
                        retry_in: Duration::ZERO,
                    }
                }
            }
        }
    }

    /// Records the outcome of a request that was admitted. Outcomes arriving while the breaker is
    /// open (late answers to requests admitted before it opened) are ignored.
    pub fn record(&mut self, now: Instant, outcome: Outcome) {
        self.advance(now);
        match &self.phase {
            Phase::Closed => {
                self.consecutive = match outcome {
                    Outcome::Success => 0,
                    Outcome::Failure => self.consecutive.saturating_add(1),
                };
                if self.config.window_size > 0 {
                    self.window.push_back((now, outcome));
                    while self.window.len() > self.config.window_size {
                        self.window.pop_front();
                    }
                }
                if self.should_trip(now) {
                    self.open(now);
                }
            }
            Phase::Open { .. } => {}
            Phase::HalfOpen { cool_down, .. } => match outcome {
                Outcome::Success => self.close(),
                Outcome::Failure => {
                    let grown = cool_down
                        .saturating_mul(self.config.cool_down_multiplier.max(1))
                        .min(self.config.max_cool_down.max(self.config.cool_down));
                    self.next_cool_down = grown;
                    self.open(now);
                }
            },
        }
    }

    fn live_probes(&self, probes: &[Instant], now: Instant) -> u32 {
        let live = probes
            .iter()
            .filter(|t| now.saturating_duration_since(**t) < self.config.probe_timeout)
            .count();
        u32::try_from(live).unwrap_or(u32::MAX)
    }

    /// Moves an open breaker whose cool-down has elapsed to half-open.
    fn advance(&mut self, now: Instant) {
        if let Phase::Open { since, cool_down } = self.phase {
            if now.saturating_duration_since(since) >= cool_down {
                self.phase = Phase::HalfOpen {
                    cool_down,
                    probes: Vec::new(),
                };
            }
        }
    }

    fn should_trip(&self, now: Instant) -> bool {
        let cfg = &self.config;
        if cfg.consecutive_failures > 0 && self.consecutive >= cfg.consecutive_failures {
            return true;
        }
        if cfg.window_size == 0 {
            return false;
        }
        let (mut total, mut failures) = (0usize, 0usize);
        for (at, outcome) in &self.window {
            if let Some(max_age) = cfg.window_duration {
                if now.saturating_duration_since(*at) >= max_age {
                    continue;
                }
            }
            total += 1;
            if *outcome == Outcome::Failure {
                failures += 1;
            }
        }
        #[allow(clippy::cast_precision_loss)]
        let rate = if total == 0 {
            0.0
        } else {
            failures as f64 / total as f64
        };
        total >= cfg.min_samples.max(1) && rate >= cfg.failure_rate
    }

    fn open(&mut self, now: Instant) {
        self.phase = Phase::Open {
            since: now,
            cool_down: self.next_cool_down,
        };
        self.consecutive = 0;
        self.window.clear();
    }

    fn close(&mut self) {
        self.phase = Phase::Closed;
        self.consecutive = 0;
        self.window.clear();
        self.next_cool_down = self.config.cool_down;
    }
}

/// The breakers of every tier, keyed by tier id, safe to share across threads (`Arc<Breakers>`).
///
/// Each call takes one short internal lock and never holds it across anything slow.
#[derive(Debug, Default)]
pub struct Breakers {
    default_config: BreakerConfig,
    inner: Mutex<Registry>,
}

#[derive(Debug, Default)]
struct Registry {
    overrides: HashMap<String, BreakerConfig>,
    breakers: HashMap<String, CircuitBreaker>,
}

impl Breakers {
    /// An empty registry; every tier's breaker is created on first use with `default_config`.
    #[must_use]
    pub fn new(default_config: BreakerConfig) -> Self {
        Self {
            default_config,
            inner: Mutex::new(Registry::default()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Registry> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Gives `tier` its own tuning, replacing its breaker with a fresh closed one.
    pub fn set_config(&self, tier: &str, config: BreakerConfig) {
        let mut reg = self.lock();
        reg.overrides.insert(tier.to_owned(), config.clone());
        reg.breakers
            .insert(tier.to_owned(), CircuitBreaker::new(config));
    }

    fn with<R>(&self, tier: &str, f: impl FnOnce(&mut CircuitBreaker) -> R) -> R {
        let mut reg = self.lock();
        if let Some(breaker) = reg.breakers.get_mut(tier) {
            return f(breaker);
        }
        let Registry {
            overrides,
            breakers,
        } = &mut *reg;
        let breaker = breakers.entry(tier.to_owned()).or_insert_with(|| {
            CircuitBreaker::new(
                overrides
                    .get(tier)
                    .cloned()
                    .unwrap_or_else(|| self.default_config.clone()),
            )
        });
        f(breaker)
    }

    /// [`CircuitBreaker::allow`] for `tier`.
    pub fn allow(&self, tier: &str, now: Instant) -> Admission {
        self.with(tier, |b| b.allow(now))
    }

    /// [`CircuitBreaker::record`] for `tier`.
    pub fn record(&self, tier: &str, now: Instant, outcome: Outcome) {
        self.with(tier, |b| b.record(now, outcome));
    }

    /// [`CircuitBreaker::state`] for `tier` (closed for a tier never seen).
    #[must_use]
    pub fn state(&self, tier: &str, now: Instant) -> BreakerState {
        self.lock()
            .breakers
            .get(tier)
            .map_or(BreakerState::Closed, |b| b.state(now))
    }

    /// The ids of the tiers whose breaker would reject a request at `now` (open, or half-open with
    /// every probe slot taken), sorted: the policy's `open_breakers` input.
    #[must_use]
    pub fn open_tiers(&self, now: Instant) -> Vec<String> {
        let mut open: Vec<String> = self
            .lock()
            .breakers
            .iter()
            .filter(|(_, b)| match b.state(now) {
                BreakerState::Closed => false,
                BreakerState::Open { .. } => true,
                BreakerState::HalfOpen { probes_in_flight } => {
                    probes_in_flight >= b.config().half_open_probes.max(1)
                }
            })
            .map(|(id, _)| id.clone())
            .collect();
        open.sort();
        open
    }
}

#[cfg(test)]
mod tests;
