//! anvil configuration (in progress).
