// Placeholder: filled in by the benchmark's owner.
fn main() {}
