//! The crate's simulation target: `cargo run --release --bin sim -- explore --scenario
//! echo-once --seeds 10000` sweeps seeds, and each failure's replay line runs here.

use seedsim::explore::{self, Scenario};

fn main() -> std::process::ExitCode {
    explore::main(
        seedsim::explore_target!(),
        &[
            Scenario::new("echo", myservice::lossy, |sim| myservice::echo(sim, true)),
            Scenario::new("echo-once", myservice::lossy, |sim| myservice::echo(sim, false)),
        ],
    )
}
