//! Find a write from a holder whose lock lease ran out: a lock service without fencing tokens.
//! See `system.rs` for the protocol and the bug, `../support/driver.rs` for the flags.

#[path = "../support/driver.rs"]
mod driver;
mod system;

fn main() -> std::process::ExitCode {
    driver::main("lock", system::builder, system::scenario)
}
