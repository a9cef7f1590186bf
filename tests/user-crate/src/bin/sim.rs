//! The crate's simulation target: `cargo run --release --bin sim -- explore --scenario
//! echo-once --seeds 10000` sweeps seeds, and each failure's replay line runs here.

use seedsim::explore::{self, Scenario};
use seedsim::fault::Profile;
use seedsim::Seed;

/// The default faults without duplicated or reordered datagrams: `--faults in-order`.
fn in_order(seed: Seed) -> Profile {
    let mut profile = Profile::default();
    profile.weights.duplicate = 0;
    profile.weights.reorder = 0;
    Profile::swarm(profile, seed)
}

fn main() -> std::process::ExitCode {
    explore::main(
        seedsim::explore_target!(),
        &[
            Scenario::new("echo", myservice::lossy, |sim| myservice::echo(sim, true)).faults(&[("in-order", in_order)]),
            Scenario::new("echo-once", myservice::lossy, |sim| myservice::echo(sim, false))
                .faults(&[("in-order", in_order)]),
        ],
    )
}
