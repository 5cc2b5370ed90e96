//! anvil's routing policy (pure: no I/O, no async, no SQL).
//!
//! This module's [`profile`] types are the contract between the quality profile store (which
//! persists them), the policy (which reads a [`profile::ProfileSnapshot`]) and the tools that edit them.

pub mod profile;

pub use anvil_config::WorkClass;
