//! The replicated register example: its planted bug is found within a few hundred seeds and
//! replays exactly; the fixed variant passes.

#[path = "../../examples/kv/system.rs"]
#[allow(dead_code)]
mod system;

use seedsim::{Cause, Runner, Seed};
use system::Variant;

#[test]
fn the_ack_before_quorum_bug_is_found_and_replays() {
    let report = Runner::new()
        .seeds(500)
        .builder(system::builder())
        .try_run(|sim| system::scenario(sim, Variant::Buggy))
        .unwrap();
    let failure = report.failure.expect("the planted bug is found within 500 seeds");
    let Cause::ClientError { message } = &failure.cause else { panic!("{failure}") };
    assert!(message.contains("not linearizable"), "{message}");

    let mut sim = system::builder().seed(failure.seed).build().unwrap();
    system::scenario(&mut sim, Variant::Buggy).unwrap();
    let replayed = sim.run().into_failure().expect("the failing seed fails again");
    assert_eq!(replayed.trace_hash, failure.trace_hash);
    assert_eq!(replayed.cause, failure.cause);
}

#[test]
fn the_bug_is_found_on_many_seed_ranges() {
    // Not a lucky base seed: the bug shows up within 500 seeds from each of 5 bases.
    for base in 1..=5 {
        let report = Runner::new()
            .seeds(500)
            .base_seed(Seed(base))
            .determinism_checks(0)
            .builder(system::builder())
            .try_run(|sim| system::scenario(sim, Variant::Buggy))
            .unwrap();
        assert!(report.failure.is_some(), "no failure in 500 seeds from base {base}");
    }
}

#[test]
fn the_fixed_variant_passes() {
    // CI runs 10,000 seeds of it in release (`cargo run --release --example kv -- --fixed`);
    // here, in a debug build, a few hundred.
    let report = Runner::new()
        .seeds(300)
        .builder(system::builder())
        .try_run(|sim| system::scenario(sim, Variant::Fixed))
        .unwrap();
    if let Some(failure) = report.failure {
        panic!("{failure}");
    }
    assert_eq!(report.passed, 300);
}
