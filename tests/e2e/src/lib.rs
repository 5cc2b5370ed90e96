//! Black-box test harness for `anvil-router`: real processes, real TCP, no shared code with the
//! router.
//!
//! * [`bins`] builds `anvil-router` and `anvil-mock-upstream` once per process (or takes them from
//!   `ANVIL_E2E_ROUTER_BIN` / `ANVIL_E2E_MOCK_BIN`).
//! * [`process`] spawns a child, waits (bounded) for its `listening on http://…` line, captures its
//!   stdout and stderr into a buffer and kills it on drop.
//! * [`config`] writes the router config used by every scenario: tiers `oa` (openai), `an`
//!   (anthropic) and `rs` (responses) pointing at the mock, each with a distinctive secret.
//! * [`stack`] starts the mock alone ([`stack::Mock`]) or mock + router ([`stack::Stack`]).
//! * [`http`] is a small hyper client (one TCP connection per request) with streamed bodies read
//!   chunk by chunk with timestamps, and [`sse`] the event-stream parser it uses.
//! * [`dialect`] builds requests in the three wire dialects and reads replies and streams back
//!   into one [`dialect::Reply`] shape.
//! * [`scenario`] holds the reusable steps (tool round trip, real-time stream, mid-stream failure,
//!   upstream status, client disconnect, real-model smoke) that return the first failed
//!   expectation as an error.
//!
//! Scenarios live in `tests/`: `round_trip.rs` (3 inbound × 3 tier dialects × whole/streamed),
//! `streaming.rs`, `errors.rs`, `surface.rs` (headers, auth, secrets, models, healthz),
//! `real_model.rs`, and `harness.rs` (the harness against the mock alone). Binaries:
//! `anvil-e2e-stack` (mock + router for the Python SDK tests) and `anvil-e2e-real-model` (the
//! router in front of a real OpenAI-dialect model server), both used by `cargo xtask e2e`.

pub mod bins;
pub mod config;
pub mod dialect;
pub mod http;
pub mod process;
pub mod scenario;
pub mod sse;
pub mod stack;

pub use config::{Knobs, Tier, CLIENT_KEY, TIERS};
pub use dialect::{Dialect, Reply, ToolCall};
pub use stack::{Mock, Router, Stack};
