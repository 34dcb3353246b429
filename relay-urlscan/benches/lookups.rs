//! Placeholder, replaced by the bench.
fn main() {}
