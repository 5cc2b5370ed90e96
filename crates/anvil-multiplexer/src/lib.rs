//! anvil's single-GPU model multiplexer.
//!
//! Many operators have one GPU that holds one model at a time. The multiplexer keeps one engine
//! (an SGLang or vLLM server, any command line, or a docker-compose service) resident behind one
//! OpenAI-compatible endpoint and swaps on demand: a request for a model that is not resident
//! drains the resident model's in-flight requests, stops it, starts the requested one and waits
//! for its health (with a deadline), rolling back to the previous model if the new one fails.
//! Requests for the model being loaded wait (bounded) instead of failing.
//!
//! * [`config`]: the `[multiplexer]` TOML file.
//! * [`backend`]: engine lifecycle (child processes in their own process group, compose services).
//! * [`swap`]: the swap state machine and the residency report.
//! * [`server`]: the HTTP endpoint (`/v1/*` pass-through, `GET /residency`, `POST /swap`,
//!   `GET /metrics`).
//! * [`metrics`]: Prometheus metrics.
//!
//! Differences from anvil-serving 0.4.0's multiplexer: residency is served at `GET /residency`
//! and read by the router; a swap waits for in-flight requests (streams included) before stopping
//! an engine; an engine whose process exits during start-up fails at once instead of after the
//! deadline; a health URL that already answers before the engine starts (another process on its
//! port) is refused; every start failure is a JSON 503, never a dropped connection; engines run in
//! their own process group and die with the multiplexer.

pub mod backend;
pub mod config;
pub mod metrics;
pub mod server;
pub mod swap;

pub use backend::{Backend, Probe, ProcessBackend};
pub use config::{parse, EngineSpec, Launch, MultiplexerConfig, Settings};
pub use swap::{Lease, Multiplexer, MuxError, Outcome, Phase, Residency};
