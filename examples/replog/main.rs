//! Lose an acknowledged write: a replicated log that acknowledges before a quorum has it on disk.
//! See `system.rs` for the protocol and the bug, `../support/driver.rs` for the flags.

#[path = "../support/driver.rs"]
mod driver;
mod system;

fn main() -> std::process::ExitCode {
    driver::main("replog", system::builder, system::scenario)
}
