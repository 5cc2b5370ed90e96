//! Mock upstream (being written).
fn main() {}
