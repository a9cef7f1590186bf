//! Find a split two-phase commit: a coordinator that keeps its decisions in memory presumes
//! abort, after a crash, for a transaction it committed.
//! See `system.rs` for the protocol and the bug, `../support/driver.rs` for the flags.

#[path = "../support/driver.rs"]
mod driver;
mod system;

fn main() -> std::process::ExitCode {
    driver::main("twopc", system::builder, system::scenario)
}
