//! Simulation target for the replicated register (examples/kv): the fixed variant (`kv`,
//! the default scenario) must pass every seed; `kv-buggy` has the planted bug.
//!
//! ```text
//! cargo run --release -p seedsim-targets --bin kv -- explore --seeds 100000
//! cargo run --release -p seedsim-targets --bin kv -- explore --scenario kv-buggy --seeds 1000 --json found.jsonl
//! cargo run --release -p seedsim-targets --bin kv -- replay --scenario kv-buggy --seed 0x… --trace trace.txt
//! ```

#[path = "../../../examples/kv/system.rs"]
mod system;

use std::process::ExitCode;

use seedsim::explore::{self, Scenario};
use seedsim::{Error, Sim};

fn fixed(sim: &mut Sim) -> Result<(), Error> {
    system::scenario(sim, system::Variant::Fixed)
}

fn buggy(sim: &mut Sim) -> Result<(), Error> {
    system::scenario(sim, system::Variant::Buggy)
}

fn main() -> ExitCode {
    explore::main(
        "kv",
        &[Scenario::new("kv", system::builder, fixed), Scenario::new("kv-buggy", system::builder, buggy)],
    )
}
