//! `anvil-router`: the router daemon.
fn main() {}
