//! Lose an acknowledged write: a write-ahead-log key-value store that acknowledges before it
//! syncs. See `system.rs` for the store and the bug, `../support/driver.rs` for the flags.

#[path = "../support/driver.rs"]
mod driver;
mod system;

fn main() -> std::process::ExitCode {
    driver::main("walkv", system::builder, system::scenario)
}
