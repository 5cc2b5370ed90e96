//! Per-session cost budgets for metered tiers.
//!
//! [`SessionBudgets`] remembers how many dollars each session (`x-anvil-session`, or the session
//! the harness names in metadata) has spent on metered tiers. The ceiling is an argument of each
//! query, so the router can take it from configuration or from a per-request header. Memory is
//! bounded: a session idle for longer than [`BudgetConfig::idle_ttl`] is forgotten, and when
//! [`BudgetConfig::max_sessions`] sessions are remembered the least recently used one is evicted.
//! Thread-safe; time is an argument.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// Memory bounds of [`SessionBudgets`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BudgetConfig {
    /// A session not charged or queried for this long is forgotten (its spend resets). Default 24 h.
    pub idle_ttl: Duration,
    /// At most this many sessions are remembered (at least 1 is used); the least recently used is
    /// evicted first. Default 10 000.
    pub max_sessions: usize,
}

impl Default for BudgetConfig {
    fn default() -> Self {
        Self {
            idle_ttl: Duration::from_secs(24 * 3600),
            max_sessions: 10_000,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    spent_usd: f64,
    last_seen: Instant,
}

/// Dollars spent per session on metered tiers, bounded in memory.
#[derive(Debug, Default)]
pub struct SessionBudgets {
    config: BudgetConfig,
    sessions: Mutex<HashMap<String, Entry>>,
}

impl SessionBudgets {
    /// An empty store with the given memory bounds.
    #[must_use]
    pub fn new(config: BudgetConfig) -> Self {
        Self {
            config,
            sessions: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Entry>> {
        self.sessions.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn expired(&self, entry: &Entry, now: Instant) -> bool {
        now.saturating_duration_since(entry.last_seen) >= self.config.idle_ttl
    }

    /// Adds `usd` to the session's spend and returns the new total. Negative, NaN or infinite
    /// amounts are ignored (the current total is returned).
    pub fn charge(&self, session: &str, usd: f64, now: Instant) -> f64 {
        let mut sessions = self.lock();
        if let Some(entry) = sessions.get_mut(session) {
            if now.saturating_duration_since(entry.last_seen) >= self.config.idle_ttl {
                entry.spent_usd = 0.0;
            }
            entry.last_seen = now;
            if usd.is_finite() && usd > 0.0 {
                entry.spent_usd += usd;
            }
            return entry.spent_usd;
        }
        let cap = self.config.max_sessions.max(1);
        if sessions.len() >= cap {
            sessions
                .retain(|_, e| now.saturating_duration_since(e.last_seen) < self.config.idle_ttl);
        }
        while sessions.len() >= cap {
            let Some(oldest) = sessions
                .iter()
                .min_by_key(|(_, e)| e.last_seen)
                .map(|(id, _)| id.clone())
            else {
                break;
            };
            sessions.remove(&oldest);
        }
        let spent_usd = if usd.is_finite() && usd > 0.0 {
            usd
        } else {
            0.0
        };
        sessions.insert(
            session.to_owned(),
            Entry {
                spent_usd,
                last_seen: now,
            },
        );
        spent_usd
    }

    /// Dollars the session has spent (0 for an unknown or expired session). Counts as use of the
    /// session for the idle TTL.
    pub fn spent(&self, session: &str, now: Instant) -> f64 {
        let mut sessions = self.lock();
        match sessions.get_mut(session) {
            Some(entry) if !self.expired(entry, now) => {
                entry.last_seen = now;
                entry.spent_usd
            }
            Some(_) => {
                sessions.remove(session);
                0.0
            }
            None => 0.0,
        }
    }

    /// Dollars left under `ceiling_usd` (never negative).
    pub fn remaining(&self, session: &str, ceiling_usd: f64, now: Instant) -> f64 {
        (ceiling_usd - self.spent(session, now)).max(0.0)
    }

    /// True when the session has spent at least `ceiling_usd`: metered tiers must be skipped.
    pub fn over_budget(&self, session: &str, ceiling_usd: f64, now: Instant) -> bool {
        self.spent(session, now) >= ceiling_usd
    }

    /// Forgets every session idle for at least the TTL; returns how many were dropped.
    pub fn sweep(&self, now: Instant) -> usize {
        let mut sessions = self.lock();
        let before = sessions.len();
        sessions.retain(|_, e| now.saturating_duration_since(e.last_seen) < self.config.idle_ttl);
        before - sessions.len()
    }

    /// How many sessions are remembered.
    #[must_use]
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// True when no session is remembered.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[derive(Debug)]
    enum Step {
        Charge(&'static str, f64, f64),
        Spent(&'static str, f64),
        Remaining(&'static str, f64, f64),
        Over(&'static str, f64, bool),
        Len(usize),
        Sweep(usize),
    }
    use Step::{Charge, Len, Over, Remaining, Spent, Sweep};

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn budget_steps() {
        let cfg = BudgetConfig {
            idle_ttl: secs(100),
            max_sessions: 3,
        };
        let cases: Vec<(&str, Vec<(u64, Step)>)> = vec![
            (
                "charges accumulate and the ceiling is inclusive",
                vec![
                    (0, Spent("a", 0.0)),
                    (0, Over("a", 1.0, false)),
                    (1, Charge("a", 0.4, 0.4)),
                    (2, Charge("a", 0.6, 1.0)),
                    (2, Remaining("a", 1.5, 0.5)),
                    (2, Remaining("a", 0.5, 0.0)),
                    (2, Over("a", 1.0, true)),
                    (2, Over("a", 1.01, false)),
                    (2, Over("b", 0.01, false)),
                ],
            ),
            (
                "bad amounts are ignored",
                vec![
                    (0, Charge("a", 0.5, 0.5)),
                    (0, Charge("a", -3.0, 0.5)),
                    (0, Charge("a", f64::NAN, 0.5)),
                    (0, Charge("a", f64::INFINITY, 0.5)),
                    (0, Charge("b", -1.0, 0.0)),
                ],
            ),
            (
                "an idle session expires after the TTL, a used one does not",
                vec![
                    (0, Charge("a", 2.0, 2.0)),
                    (0, Charge("b", 3.0, 3.0)),
                    (60, Spent("b", 3.0)),
                    (99, Spent("a", 2.0)),
                    (159, Over("b", 3.0, true)),
                    (199, Spent("a", 0.0)),
                    (200, Charge("a", 1.0, 1.0)),
                ],
            ),
            (
                "charging an expired session starts from zero",
                vec![(0, Charge("a", 2.0, 2.0)), (100, Charge("a", 1.0, 1.0))],
            ),
            (
                "the cap evicts the least recently used session",
                vec![
                    (0, Charge("a", 1.0, 1.0)),
                    (1, Charge("b", 1.0, 1.0)),
                    (2, Charge("c", 1.0, 1.0)),
                    (3, Spent("a", 1.0)),
                    (4, Charge("d", 1.0, 1.0)),
                    (4, Len(3)),
                    (5, Spent("b", 0.0)),
                    (5, Spent("a", 1.0)),
                    (5, Spent("c", 1.0)),
                    (5, Spent("d", 1.0)),
                ],
            ),
            (
                "at the cap expired sessions go before live ones",
                vec![
                    (0, Charge("a", 1.0, 1.0)),
                    (50, Charge("b", 1.0, 1.0)),
                    (60, Charge("c", 1.0, 1.0)),
                    (120, Charge("d", 1.0, 1.0)),
                    (120, Len(3)),
                    (120, Spent("b", 1.0)),
                    (120, Spent("c", 1.0)),
                ],
            ),
            (
                "sweep drops only idle sessions",
                vec![
                    (0, Charge("a", 1.0, 1.0)),
                    (50, Charge("b", 1.0, 1.0)),
                    (100, Sweep(1)),
                    (100, Len(1)),
                    (100, Spent("b", 1.0)),
                ],
            ),
        ];
        for (name, steps) in cases {
            let t0 = Instant::now();
            let budgets = SessionBudgets::new(cfg.clone());
            for (i, (at, step)) in steps.iter().enumerate() {
                let now = t0 + secs(*at);
                let ctx = format!("{name}: step {i} {step:?}");
                match step {
                    Charge(s, usd, want) => {
                        assert!(close(budgets.charge(s, *usd, now), *want), "{ctx}")
                    }
                    Spent(s, want) => assert!(close(budgets.spent(s, now), *want), "{ctx}"),
                    Remaining(s, ceil, want) => {
                        assert!(close(budgets.remaining(s, *ceil, now), *want), "{ctx}");
                    }
                    Over(s, ceil, want) => {
                        assert_eq!(budgets.over_budget(s, *ceil, now), *want, "{ctx}")
                    }
                    Len(n) => assert_eq!(budgets.len(), *n, "{ctx}"),
                    Sweep(n) => assert_eq!(budgets.sweep(now), *n, "{ctx}"),
                }
            }
        }
    }

    #[test]
    fn default_bounds() {
        let budgets = SessionBudgets::new(BudgetConfig::default());
        assert!(budgets.is_empty());
        assert_eq!(BudgetConfig::default().idle_ttl, secs(86_400));
        assert_eq!(BudgetConfig::default().max_sessions, 10_000);
    }
}
