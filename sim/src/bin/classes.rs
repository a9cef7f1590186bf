//! Simulation target for the bug-class benchmark's protocols (`benches/classes/`): each fixed
//! variant (`rackstore`, ...) and each variant with its planted bug (`rackstore-buggy`, ...).
//!
//! ```text
//! cargo run --release -p seedsim-targets --bin classes -- explore --scenario leasekv --seeds 100000
//! cargo run --release -p seedsim-targets --bin classes -- explore --scenario ledger-buggy --seeds 1000
//! ```
//!
//! Each protocol's hand-written `WITNESS` plan replays with `replay --plan` from a file.

// The modules' `WITNESS` plans are for the tests and the benchmark, not used here.
#![allow(dead_code)]

#[path = "../../../benches/classes/bank_sessions.rs"]
mod bank_sessions;
#[path = "../../../benches/classes/branch_2pc.rs"]
mod branch_2pc;
#[path = "../../../benches/classes/leasekv.rs"]
mod leasekv;
#[path = "../../../benches/classes/ledger.rs"]
mod ledger;
#[path = "../../../benches/classes/log_shipping.rs"]
mod log_shipping;
#[path = "../../../benches/classes/paxos_slots.rs"]
mod paxos_slots;
#[path = "../../../benches/classes/pbview.rs"]
mod pbview;
#[path = "../../../benches/classes/rackstore.rs"]
mod rackstore;
#[path = "../../../benches/classes/reconfig.rs"]
mod reconfig;
#[path = "../../../benches/classes/view_primary.rs"]
mod view_primary;

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
    let scenarios = variants!(
        rackstore,
        leasekv,
        ledger,
        pbview,
        reconfig,
        paxos_slots,
        view_primary,
        bank_sessions,
        branch_2pc,
        log_shipping
    );
    explore::main(seedsim::explore_target!(), &scenarios)
}
