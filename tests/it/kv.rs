//! The replicated register example: its planted bug is found within a few hundred seeds and
//! replays exactly; the fixed variant passes.

#[path = "../../examples/kv/system.rs"]
#[allow(dead_code)]
mod system;

use seedsim::check::{Checker, Register, Verdict};
use seedsim::{Cause, Runner, Seed, DEFAULT_BASE_SEED};
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

/// The step budget of the history checks (the example's own, in its runs, and the ones below).
/// A healthy checker judges these histories (24 operations) in under 1,000 steps; one that
/// lost its pruning (say, it ignores real-time order, so every order of the operations is a
/// candidate) runs out of it, and the test fails with a message in seconds instead of
/// searching for hours.
const HISTORY_STEPS_MAX: u64 = system::HISTORY_STEPS_MAX;

/// Judge the history of one run of `variant` with only the history recorded (no online check),
/// within the budget.
fn history_verdict(seed: Seed, variant: Variant) -> Verdict {
    let mut sim = system::builder().seed(seed).build().unwrap();
    let no_checks = system::Checks { online: false, history: false };
    let ops = system::scenario_with(&mut sim, variant, no_checks).unwrap();
    if let Some(failure) = sim.run().failure() {
        panic!("with no checks on, the run can only fail by a crash of the scenario:\n{failure}");
    }
    let verdict = Checker::new().steps_max(HISTORY_STEPS_MAX).check(&Register::starting_at(0), &ops.history());
    assert!(!matches!(verdict, Verdict::Unknown(_)), "seed {seed}: {verdict}");
    verdict
}

#[test]
fn the_linearizability_checker_alone_finds_the_bug_and_explains_it() {
    // The online check off: only the recorded history, judged by seedsim::check, stands
    // between the bug and a passing run.
    let violation = (0..500)
        .map(|index| DEFAULT_BASE_SEED.nth(index))
        .find_map(|seed| match history_verdict(seed, Variant::Buggy) {
            Verdict::NotLinearizable(violation) => Some(violation),
            _ => None,
        })
        .expect("the linearizability checker finds the planted bug within 500 seeds");
    let message = violation.to_string();
    assert!(message.starts_with("not linearizable: no order of the operations explains op "), "{message}");
    assert!(message.contains("Read -> ok Read(Some("), "{message}");
    assert!(message.contains("the states such orders reach:"), "{message}");

    // The fixed variant's histories are linearizable.
    for index in 0..100 {
        let seed = DEFAULT_BASE_SEED.nth(index);
        let verdict = history_verdict(seed, Variant::Fixed);
        assert!(verdict.is_linearizable(), "seed {seed}: {verdict}");
    }
}

#[test]
fn the_online_check_and_the_history_checker_agree_on_what_clients_saw() {
    // The online check sees stamps, so it can fail a run as soon as a write is ordered wrongly,
    // before any read has returned a stale value; the history checker sees only what clients
    // saw. So: a history the history checker rejects must have failed the online check, and
    // the history checker must reject the history of some failing runs.
    let online_only = system::Checks { online: true, history: false };
    let (mut both, mut online_first) = (0, 0);
    for index in 0..300u64 {
        let mut sim = system::builder().seed(Seed(9).nth(index)).build().unwrap();
        let ops = system::scenario_with(&mut sim, Variant::Buggy, online_only).unwrap();
        let outcome = sim.run();
        // Operations still running when the run stopped count as unknown.
        let verdict = Checker::new().steps_max(HISTORY_STEPS_MAX).check(&Register::starting_at(0), &ops.history());
        assert!(!matches!(verdict, Verdict::Unknown(_)), "seed index {index}: {verdict}");
        match (outcome.failure(), verdict.violation()) {
            (None, Some(violation)) => {
                panic!("the online check passed a history that is not linearizable: {violation}")
            }
            (Some(_), Some(_)) => both += 1,
            (Some(_), None) => online_first += 1,
            (None, None) => {}
        }
    }
    assert!(both > 0, "the history checker rejected no failing run's history ({online_first} online-only failures)");
}
