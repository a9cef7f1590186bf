//! Find two leaders in one term: an election whose nodes vote for every candidate of a term.
//! See `system.rs` for the protocol and the bug, `../support/driver.rs` for the flags.

#[path = "../support/driver.rs"]
mod driver;
mod system;

fn main() -> std::process::ExitCode {
    driver::main("election", system::builder, system::scenario)
}
