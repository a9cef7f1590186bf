//! Same seed, same trace hash; different seeds, different schedules; and the runner's
//! determinism check catches a scenario that is not driven by the seed.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::support::{gossip, gossip_builder, ms};
use seedsim::{Outcome, Policy, Runner, Seed};

fn run_gossip(seed: Seed, policy: Policy) -> Outcome {
    let mut sim = gossip_builder().seed(seed).policy(policy).build().unwrap();
    gossip(&mut sim).unwrap();
    sim.run()
}

/// How many seeds the sweep covers; `SEEDSIM_DETERMINISM_SEEDS` raises it for a longer check.
fn sweep_seeds() -> u64 {
    std::env::var("SEEDSIM_DETERMINISM_SEEDS").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000)
}

#[test]
fn the_same_seed_gives_the_same_trace_hash_over_a_thousand_seeds() {
    let mut distinct = std::collections::BTreeSet::new();
    for index in 0..sweep_seeds() {
        let seed = Seed(0xd00d).nth(index);
        let first = run_gossip(seed, Policy::Random);
        let second = run_gossip(seed, Policy::Random);
        assert!(first.is_passed(), "{:?}", first.failure().map(ToString::to_string));
        assert_eq!(first.trace_hash(), second.trace_hash(), "seed {seed} ran twice differently");
        distinct.insert(first.trace_hash());
    }
    assert_eq!(distinct.len() as u64, sweep_seeds(), "different seeds should give different runs");
}

#[test]
fn every_policy_is_deterministic_and_explores_other_schedules() {
    for policy in [Policy::Fifo, Policy::Random, Policy::Pct { depth: 3 }] {
        let hashes: Vec<u64> = (0..20).map(|i| run_gossip(Seed(i), policy).trace_hash()).collect();
        let again: Vec<u64> = (0..20).map(|i| run_gossip(Seed(i), policy).trace_hash()).collect();
        assert_eq!(hashes, again, "{policy:?}");
    }
    assert_ne!(run_gossip(Seed(1), Policy::Fifo).trace_hash(), run_gossip(Seed(1), Policy::Random).trace_hash());
}

#[test]
fn simulations_on_two_threads_do_not_disturb_each_other() {
    let alone: Vec<u64> = (0..30).map(|i| run_gossip(Seed(i), Policy::Random).trace_hash()).collect();
    // Two worlds at once on two threads: the explorer's situation. Threads are fine here:
    // each simulation stays on its own thread.
    #[allow(clippy::disallowed_methods)]
    let other =
        std::thread::spawn(|| (0..30).map(|i| run_gossip(Seed(i), Policy::Random).trace_hash()).collect::<Vec<u64>>());
    let here: Vec<u64> = (0..30).map(|i| run_gossip(Seed(i), Policy::Random).trace_hash()).collect();
    assert_eq!(here, alone);
    assert_eq!(other.join().unwrap(), alone);
}

static LEAKED_STATE: AtomicU64 = AtomicU64::new(0);

#[test]
fn the_runner_names_the_first_event_where_a_nondeterministic_scenario_diverges() {
    // State that outlives a run (a global counter) changes what the node does next time.
    let report = Runner::new()
        .seeds(3)
        .try_run(|sim| {
            let leaked = LEAKED_STATE.fetch_add(1, Ordering::Relaxed);
            sim.client("c", async move {
                seedsim::time::sleep(ms(1)).await;
                seedsim::time::sleep(ms(1 + leaked % 2)).await;
                seedsim::task::spawn(async {}).await.unwrap();
                seedsim::time::sleep(ms(10)).await;
                Ok::<(), std::io::Error>(())
            })?;
            Ok(())
        })
        .unwrap();
    let failure = report.failure.expect("the determinism check must catch the leaked state");
    let message = failure.to_string();
    assert!(message.contains("nondeterminism"), "{message}");
    assert!(message.contains("first difference at event"), "{message}");
    assert!(message.contains("run 1:") && message.contains("run 2:"), "{message}");
    // The report's place is where the runs parted (the third poll, at 2 or 3 ms), not the
    // start of the run nor its end (issue 14 found `at: 0.001000000s (step 0)`).
    assert_eq!(failure.step, 2, "two polls before the runs parted: {message}");
    assert!([ms(2), ms(3)].contains(&failure.time.since_start()), "{message}");
    assert!(message.contains(&format!("at:         {} (step 2)", failure.time)), "{message}");
}
