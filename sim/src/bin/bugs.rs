//! Simulation target for the bug-finding examples (election, replog, lock, twopc, walkv):
//! each fixed variant (`election`, ...) and each variant with its planted bug
//! (`election-buggy`, ...).
//!
//! ```text
//! cargo run --release -p seedsim-targets --bin bugs -- explore --scenario walkv --seeds 100000
//! cargo run --release -p seedsim-targets --bin bugs -- explore --scenario lock-buggy --seeds 1000
//! ```

#![allow(clippy::duplicate_mod)] // each example includes the shared wire format as its own module

#[path = "../../../examples/election/system.rs"]
mod election;
#[path = "../../../examples/lock/system.rs"]
mod lock;
#[path = "../../../examples/replog/system.rs"]
mod replog;
#[path = "../../../examples/twopc/system.rs"]
mod twopc;
#[path = "../../../examples/walkv/system.rs"]
mod walkv;

use std::process::ExitCode;

use seedsim::explore::{self, Scenario};
use seedsim::{Error, Sim};

macro_rules! variants {
    ($($module:ident),*) => {{
        let mut scenarios = Vec::new();
        $(
            let fixed: fn(&mut Sim) -> Result<(), Error> = |sim| $module::scenario(sim, true);
            let buggy: fn(&mut Sim) -> Result<(), Error> = |sim| $module::scenario(sim, false);
            scenarios.push(Scenario::new(stringify!($module), $module::builder, fixed));
            scenarios.push(Scenario::new(concat!(stringify!($module), "-buggy"), $module::builder, buggy));
        )*
        scenarios
    }};
}

fn main() -> ExitCode {
    let scenarios = variants!(election, replog, lock, twopc, walkv);
    explore::main(seedsim::explore_target!(), &scenarios)
}
