//! The bug-finding examples: each planted bug is found under faults and not without them,
//! and each fixed variant passes. (CI runs 10,000 seeds of each fixed variant in release.)

#![allow(clippy::duplicate_mod)] // each example includes the shared wire format as its own module

#[path = "../../examples/election/system.rs"]
mod election;
#[path = "../../examples/lock/system.rs"]
mod lock;
#[path = "../../examples/replog/system.rs"]
mod replog;
#[path = "../../examples/twopc/system.rs"]
mod twopc;
#[path = "../../examples/walkv/system.rs"]
mod walkv;

use seedsim::fault::Profile;
use seedsim::{Builder, Cause, Error, Runner, Sim};

type Scenario = fn(&mut Sim, bool) -> Result<(), Error>;

fn sweep(
    builder: fn() -> Builder,
    scenario: Scenario,
    fixed: bool,
    profile: Option<Profile>,
    seeds: u64,
) -> seedsim::Report {
    let runner = Runner::new().seeds(seeds).determinism_checks(0).builder(builder());
    let runner = match profile {
        Some(profile) => runner.nemesis(profile),
        None => runner,
    };
    runner.try_run(|sim| scenario(sim, fixed)).unwrap()
}

fn check(name: &str, builder: fn() -> Builder, scenario: Scenario, expected: fn(&Cause) -> bool) {
    let calm = sweep(builder, scenario, false, None, 30);
    assert!(calm.failure.is_none(), "{name}: without faults the bug stays hidden: {:?}", calm.failure);
    let chaos = sweep(builder, scenario, false, Some(Profile::chaos()), 200);
    let failure = chaos.failure.unwrap_or_else(|| panic!("{name}: the chaos nemesis finds the bug within 200 seeds"));
    assert!(expected(&failure.cause), "{name}: found by its check, not something else:\n{failure}");
    assert!(!failure.faults.is_empty(), "{name}: the report carries the faults");
    let fixed = sweep(builder, scenario, true, Some(Profile::chaos()), 60);
    if let Some(failure) = fixed.failure {
        panic!("{name}: the fixed variant failed:\n{failure}");
    }
}

#[test]
fn election_elects_two_leaders_only_when_buggy() {
    check(
        "election",
        election::builder,
        election::scenario,
        |cause| matches!(cause, Cause::Assertion { name, .. } if name == "at most one leader per term"),
    );
}

#[test]
fn replog_loses_an_acknowledged_write_only_when_buggy() {
    check(
        "replog",
        replog::builder,
        replog::scenario,
        |cause| matches!(cause, Cause::ClientError { message } if message.contains("is lost")),
    );
}

#[test]
fn lock_lets_a_stale_holder_write_only_without_fencing() {
    check(
        "lock",
        lock::builder,
        lock::scenario,
        |cause| matches!(cause, Cause::Assertion { name, .. } if name == "the store accepts writes in lock order"),
    );
}

#[test]
fn twopc_blocks_after_a_coordinator_crash_only_when_buggy() {
    check(
        "twopc",
        twopc::builder,
        twopc::scenario,
        |cause| matches!(cause, Cause::Liveness { name, .. } if name == "prepared transactions are decided"),
    );
}

#[test]
fn walkv_loses_an_acknowledged_write_only_without_its_sync() {
    check(
        "walkv",
        walkv::builder,
        walkv::scenario,
        |cause| matches!(cause, Cause::ClientError { message } if message.contains("was acknowledged last")),
    );
}
