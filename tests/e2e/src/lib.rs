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
