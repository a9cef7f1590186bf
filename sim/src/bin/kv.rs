//! Simulation target for the replicated register (examples/kv): the fixed variant (`kv`,
//! the default scenario) must pass every seed; `kv-buggy` has the planted bug.
//!
//! ```text
//! cargo run --release -p seedsim-targets --bin kv -- explore --seeds 100000
//! cargo run --release -p seedsim-targets --bin kv -- explore --scenario kv-buggy --seeds 1000 --json found.jsonl
//! cargo run --release -p seedsim-targets --bin kv -- replay --scenario kv-buggy --seed 0x… --trace trace.txt
//! cargo run --release -p seedsim-targets --bin kv -- shrink --scenario kv-buggy --seed 0x…
//! ```
//!
//! Both scenarios declare their load as sizes (`clients`, `ops`), so `shrink` also looks for
//! fewer clients and operations that still fail the same way.

// The example's system is shared with its example binary and tests; each uses a part.
#[allow(dead_code)]
#[path = "../../../examples/kv/system.rs"]
mod system;

use std::process::ExitCode;

use seedsim::explore::{self, Scenario, Size, Sizes};
use seedsim::{Error, Sim};

const SIZES: &[Size] = &[Size::new("clients", system::CLIENTS, 1), Size::new("ops", system::OPS_PER_CLIENT, 1)];

fn load(sizes: &Sizes) -> Result<system::Load, Error> {
    Ok(system::Load { clients: sizes.get("clients")?, ops_per_client: sizes.get("ops")? })
}

fn fixed(sim: &mut Sim, sizes: &Sizes) -> Result<(), Error> {
    system::scenario_loaded(sim, system::Variant::Fixed, system::Checks::BOTH, load(sizes)?).map(drop)
}

fn buggy(sim: &mut Sim, sizes: &Sizes) -> Result<(), Error> {
    system::scenario_loaded(sim, system::Variant::Buggy, system::Checks::BOTH, load(sizes)?).map(drop)
}

fn main() -> ExitCode {
    explore::main(
        seedsim::explore_target!(),
        &[
            Scenario::sized("kv", system::builder, SIZES, fixed),
            Scenario::sized("kv-buggy", system::builder, SIZES, buggy),
        ],
    )
}
