//! `vopr`: the seeded simulation runner.
fn main() {}
