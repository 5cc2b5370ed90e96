//! anvil's benchmark (`cargo xtask bench`): the floor — a minimal hyper reverse proxy that forwards
//! bytes without parsing them, one proxy hop's cost on this machine — and a load generator that
//! drives the mock upstream directly, through the floor and through anvil with identical requests.
//!
//! `anvil-bench floor --upstream URL` serves the floor; `anvil-bench run …` runs every scenario
//! against three running targets and writes the report. `xtask/src/bench.rs` builds the binaries,
//! starts the mock, the router and the floor, and runs `anvil-bench run`.

pub mod fixtures;
pub mod floor;
pub mod load;
pub mod rss;
pub mod suite;
