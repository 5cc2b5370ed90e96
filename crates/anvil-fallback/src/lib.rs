//! Pure, clock-free building blocks for anvil's fallback walk.
//!
//! Nothing here reads a clock, sleeps or does I/O: every function that depends on time takes `now:
//! std::time::Instant` from the caller, so the router uses the real monotonic clock and tests use
//! explicit instants (a "paused clock").
//!
//! - [`breaker`]: per-tier [`CircuitBreaker`]s and the thread-safe [`Breakers`] registry whose
//!   [`Breakers::open_tiers`] feeds the policy's `open_breakers` input.
//! - [`budget`]: [`SessionBudgets`], dollars spent per session on metered tiers, with bounded memory.
//! - [`attempts`]: the attempt log of one request ([`Attempts`], rendered as the `x-anvil-attempts`
//!   header) and the per-request [`RetryPolicy`].
//! - [`window`]: the streaming commit window cap ([`WindowCap`], [`CommitWindow`]) and the keep-alive
//!   schedule ([`KeepAlive`]).
//!
//! One step of a fallback walk, on a paused clock:
//!
//! ```
//! use std::time::{Duration, Instant};
//! use anvil_fallback::{Admission, AttemptOutcome, Attempts, BreakerConfig, Breakers, RetryPolicy};
//!
//! let breakers = Breakers::new(BreakerConfig { consecutive_failures: 1, ..BreakerConfig::default() });
//! let t0 = Instant::now();
//! let mut attempts = Attempts::new();
//! for tier in ["fast-local", "heavy-local"] {
//!     if !RetryPolicy::default().may_try_another(&attempts) {
//!         break;
//!     }
//!     if let Admission::Rejected { .. } = breakers.allow(tier, t0) {
//!         attempts.push(tier, AttemptOutcome::BreakerOpen);
//!         continue;
//!     }
//!     // ... call the tier, verify the answer ...
//!     let outcome = if tier == "fast-local" {
//!         AttemptOutcome::VerifyFailed("tool-args-schema".into())
//!     } else {
//!         AttemptOutcome::Ok
//!     };
//!     if let Some(o) = outcome.breaker_outcome() {
//!         breakers.record(tier, t0, o);
//!     }
//!     attempts.push(tier, outcome);
//! }
//! assert_eq!(attempts.header_value(), "fast-local:verify-failed(tool-args-schema),heavy-local:ok");
//! assert_eq!(breakers.open_tiers(t0 + Duration::from_secs(1)), vec!["fast-local".to_owned()]);
//! ```

pub mod attempts;
pub mod breaker;
pub mod budget;
pub mod window;

pub use attempts::{Attempt, AttemptOutcome, Attempts, ParseOutcomeError, RetryPolicy};
pub use breaker::{Admission, BreakerConfig, BreakerState, Breakers, CircuitBreaker, Outcome};
pub use budget::{BudgetConfig, SessionBudgets};
pub use window::{CommitWindow, KeepAlive, OnExceeded, WindowCap, WindowStep};
