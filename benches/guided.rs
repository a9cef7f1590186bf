//! Guided exploration against plain swarm exploration, on the planted-bug examples and one
//! synthetic bug that needs two faults at once (`guided/combo.rs`): for each buggy variant,
//! each fault base and each mode, the median and mean over trials (different start seeds) of
//! the runs until the first failure, and the behaviour features covered in a budget of runs.
//!
//! ```text
//! cargo bench --bench guided                       # 101 trials (cap 4,000 runs); coverage in 500 runs
//! SEEDSIM_BENCH_QUICK=1 cargo bench --bench guided  # 5 trials; coverage in 100 runs: a smoke run
//! cargo bench --bench guided -- walkv combo        # only the protocols named
//! ```
//!
//! Two fault bases: `swarm` is `explore`'s default (a swarm profile drawn from `chaos` per
//! seed); `sparse` draws from a `chaos` with four times fewer faults per run, where a bug
//! needs the right few faults rather than one of many, as in a system that tolerates most.
//!
//! Both modes run through a [`Guide`] with feedback on, so their coverage is measured the
//! same way: `swarm` is a guide that hands out fresh trials only (the seeds, and so the runs,
//! `explore --faults swarm` makes from the same start), `guided` is `explore --guided`'s.
//! Everything is single-threaded and deterministic: the same build prints the same table.

#![allow(clippy::disallowed_types, clippy::disallowed_methods)] // the benchmark times itself
#![allow(clippy::duplicate_mod)] // each example includes the shared wire format as its own module

#[path = "support/quick.rs"]
mod quick;

#[path = "guided/combo.rs"]
mod combo;
#[path = "../examples/election/system.rs"]
mod election;
#[allow(dead_code)]
#[path = "../examples/kv/system.rs"]
mod kv;
#[path = "../examples/lock/system.rs"]
mod lock;
#[path = "../examples/replog/system.rs"]
mod replog;
#[path = "../examples/twopc/system.rs"]
mod twopc;
#[path = "../examples/walkv/system.rs"]
mod walkv;

use std::time::Duration;

use seedsim::fault::{FaultPlan, Profile};
use seedsim::guide::Guide;
use seedsim::{Builder, Error, Seed, Sim};

struct Protocol {
    name: &'static str,
    builder: fn() -> Builder,
    scenario: fn(&mut Sim, bool) -> Result<(), Error>,
}

const PROTOCOLS: [Protocol; 7] = [
    Protocol { name: "election", builder: election::builder, scenario: election::scenario },
    Protocol { name: "replog", builder: replog::builder, scenario: replog::scenario },
    Protocol { name: "lock", builder: lock::builder, scenario: lock::scenario },
    Protocol { name: "twopc", builder: twopc::builder, scenario: twopc::scenario },
    Protocol { name: "walkv", builder: walkv::builder, scenario: walkv::scenario },
    Protocol {
        name: "kv",
        builder: kv::builder,
        scenario: |sim, fixed| kv::scenario(sim, if fixed { kv::Variant::Fixed } else { kv::Variant::Buggy }),
    },
    Protocol { name: "combo", builder: combo::builder, scenario: combo::scenario },
];

/// A fault mode: a name, and the base its swarm profiles are drawn from.
type Base = (&'static str, fn() -> Profile);

/// The fault modes guided exploration is measured over: swarm profiles drawn from a base.
const BASES: [Base; 2] = [
    ("swarm", Profile::chaos),
    // Four times fewer faults per run: a bug then needs the right few, not one of many.
    ("sparse", || Profile::chaos().interval(Duration::from_millis(400), Duration::from_secs(4))),
];

/// Runs until the first failure from `start` (1 if the first run fails), within `cap`.
fn trial(protocol: &Protocol, base: fn() -> Profile, guided: bool, start: Seed, cap: u64) -> Option<u64> {
    let mut guide = if guided { Guide::new(start) } else { Guide::new(start).fresh_only() };
    (1..=cap)
        .find(|_| !guide.run(|seed, plan| build(protocol, base, seed, plan)).expect("a valid scenario").1.is_passed())
}

/// The features a guide covers in `runs` runs from `start`.
fn coverage(protocol: &Protocol, base: fn() -> Profile, guided: bool, start: Seed, runs: u64) -> u64 {
    let mut guide = if guided { Guide::new(start) } else { Guide::new(start).fresh_only() };
    for _ in 0..runs {
        // Failures or not: coverage counts what the passing runs reached.
        let _ = guide.run(|seed, plan| build(protocol, base, seed, plan)).expect("a valid scenario");
    }
    guide.stats().features
}

/// A run of the buggy variant: the swarm profile's plan for the seed, or exactly `plan`.
fn build(protocol: &Protocol, base: fn() -> Profile, seed: Seed, plan: Option<&FaultPlan>) -> Result<Sim, Error> {
    let mut sim = (protocol.builder)().seed(seed).feedback(true).build()?;
    (protocol.scenario)(&mut sim, false)?;
    match plan {
        Some(plan) => sim.faults(plan.clone())?,
        None => drop(sim.nemesis(Profile::swarm(base(), seed))?),
    }
    Ok(sim)
}

fn median(mut values: Vec<u64>) -> u64 {
    values.sort_unstable();
    values[values.len() / 2]
}

fn main() {
    let filters: Vec<String> = std::env::args().skip(1).filter(|arg| !arg.starts_with('-')).collect();
    let (trials, cap, coverage_trials, coverage_runs) =
        if quick::quick() { (5, 1_000, 2, 100) } else { (101, 4_000, 5, 500) };
    println!(
        "seedsim guided exploration benchmark: runs to the first failure over {trials} trials (cap {cap}); \
         features covered in {coverage_runs} runs (median of {coverage_trials})"
    );
    println!(
        "{:<9} {:<7} {:>10} {:>10} {:>10} {:>10} {:>6} {:>9} {:>9} {:>8}",
        "protocol", "faults", "median sw", "median gd", "mean sw", "mean gd", "ratio", "feat sw", "feat gd", "seconds"
    );
    let mut markdown = vec![
        "| protocol | faults | runs to first failure, swarm (median / mean) | guided (median / mean) | guided / swarm (means) | features in N runs, swarm | guided |"
            .to_owned(),
        "|---|---|---:|---:|---:|---:|---:|".to_owned(),
    ];
    for protocol in &PROTOCOLS {
        if !filters.is_empty() && !filters.iter().any(|f| protocol.name == f.as_str()) {
            continue;
        }
        for (base_name, base) in BASES {
            let started = std::time::Instant::now();
            let (mut medians, mut means, mut features) = (Vec::new(), Vec::new(), Vec::new());
            for guided in [false, true] {
                let found: Vec<Option<u64>> =
                    (0..trials).map(|t| trial(protocol, base, guided, Seed(0x6d1d_0000 + t), cap)).collect();
                // A trial that found nothing counts as past the cap: the median says `>N` then,
                // and the mean counts the cap (a lower bound).
                let middle = median(found.iter().map(|f| f.unwrap_or(u64::MAX)).collect());
                medians.push(if middle == u64::MAX { format!(">{cap}") } else { middle.to_string() });
                means.push(found.iter().map(|f| f.unwrap_or(cap)).sum::<u64>() as f64 / trials as f64);
                features.push(median(
                    (0..coverage_trials)
                        .map(|t| coverage(protocol, base, guided, Seed(0xc0e0_0000 + t), coverage_runs))
                        .collect(),
                ));
            }
            let seconds = started.elapsed().as_secs_f64();
            let ratio = means[1] / means[0];
            println!(
                "{:<9} {:<7} {:>10} {:>10} {:>10.1} {:>10.1} {:>6.2} {:>9} {:>9} {:>8.1}",
                protocol.name,
                base_name,
                medians[0],
                medians[1],
                means[0],
                means[1],
                ratio,
                features[0],
                features[1],
                seconds
            );
            markdown.push(format!(
                "| `{}` | {base_name} | {} / {:.1} | {} / {:.1} | {ratio:.2} | {} | {} |",
                protocol.name, medians[0], means[0], medians[1], means[1], features[0], features[1]
            ));
        }
    }
    println!("\n{}", markdown.join("\n"));
}
