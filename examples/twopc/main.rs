//! Find a blocked two-phase commit: a coordinator crash leaves prepared participants waiting forever.
//! See `system.rs` for the protocol and the bug, `../support/driver.rs` for the flags.

#[path = "../support/driver.rs"]
mod driver;
mod system;

fn main() -> std::process::ExitCode {
    driver::main("twopc", system::builder, system::scenario)
}
