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

pub mod attempts;
pub mod breaker;
pub mod budget;
pub mod window;

pub use attempts::{Attempt, AttemptOutcome, Attempts, ParseOutcomeError, RetryPolicy};
pub use breaker::{Admission, BreakerConfig, BreakerState, Breakers, CircuitBreaker, Outcome};
pub use budget::{BudgetConfig, SessionBudgets};
pub use window::{CommitWindow, KeepAlive, OnExceeded, WindowCap, WindowStep};
