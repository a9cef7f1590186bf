//! Guided exploration against plain swarm exploration, on the planted-bug examples: for each
//! buggy variant and each mode, the median over trials (different start seeds) of the runs
//! until the first failure, of the failures found in a budget of runs, and of the behaviour
//! features covered by then.
//!
//! ```text
//! cargo bench --bench guided                       # 15 trials of 1,000 runs per cell
//! SEEDSIM_BENCH_QUICK=1 cargo bench --bench guided  # 3 trials of 200 runs: a smoke run
//! cargo bench --bench guided -- walkv kv           # only the protocols named
//! ```
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

/// What one trial of one mode found in its budget of runs.
struct Found {
    /// Runs until the first failure (1 if the first run failed), if any failed.
    first: Option<u64>,
    failures: u64,
    features: u64,
}

/// The fault modes guided exploration is measured over: swarm profiles drawn from a base.
const BASES: [(&str, fn() -> Profile); 2] = [
    ("swarm", Profile::chaos),
    // Four times fewer faults per run: a bug then needs the right few, not one of many.
    ("sparse", || Profile::chaos().interval(Duration::from_millis(400), Duration::from_secs(4))),
];

fn trial(protocol: &Protocol, base: fn() -> Profile, guided: bool, start: Seed, runs: u64) -> Found {
    let build = |seed: Seed, plan: Option<&FaultPlan>| -> Result<Sim, Error> {
        let mut sim = (protocol.builder)().seed(seed).feedback(true).build()?;
        (protocol.scenario)(&mut sim, false)?;
        match plan {
            Some(plan) => sim.faults(plan.clone())?,
            None => drop(sim.nemesis(Profile::swarm(base(), seed))?),
        }
        Ok(sim)
    };
    let mut guide = if guided { Guide::new(start) } else { Guide::new(start).fresh_only() };
    let mut found = Found { first: None, failures: 0, features: 0 };
    for run in 1..=runs {
        let (_, outcome) = guide.run(build).expect("a valid scenario");
        if !outcome.is_passed() {
            found.failures += 1;
            found.first.get_or_insert(run);
            if std::env::var("G_FIRST_ONLY").is_ok() {
                break;
            }
        }
    }
    found.features = guide.stats().features;
    found
}

fn median(mut values: Vec<u64>) -> u64 {
    values.sort_unstable();
    values[values.len() / 2]
}

fn main() {
    let filters: Vec<String> = std::env::args().skip(1).filter(|arg| !arg.starts_with('-')).collect();
    let (trials, runs) = if quick::quick() { (3, 200) } else { (15, 1_000) };
    let trials: u64 = std::env::var("G_TRIALS").ok().and_then(|v| v.parse().ok()).unwrap_or(trials);
    let runs: u64 = std::env::var("G_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(runs);
    println!("seedsim guided exploration benchmark: {trials} trials of {runs} runs each per cell");
    println!(
        "{:<9} {:<7} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>8} {:>8} {:>8}",
        "protocol",
        "faults",
        "first sw",
        "first gd",
        "mean sw",
        "mean gd",
        "fails sw",
        "fails gd",
        "feat sw",
        "feat gd",
        "seconds"
    );
    let mut markdown = vec![
        "| protocol | faults | runs to first failure (median), fresh | guided | (mean), fresh | guided | failures, fresh | guided | features, fresh | guided |"
            .to_owned(),
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|".to_owned(),
    ];
    for protocol in &PROTOCOLS {
        if !filters.is_empty() && !filters.iter().any(|f| protocol.name == f.as_str()) {
            continue;
        }
        for (base_name, base) in BASES {
            let started = std::time::Instant::now();
            let (mut first, mut mean, mut fails, mut features) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
            for guided in [false, true] {
                let found: Vec<Found> =
                    (0..trials).map(|t| trial(protocol, base, guided, Seed(0x6d1d_0000 + t), runs)).collect();
                // A trial that found nothing counts as past the budget; the median says `>N` then.
                let median_first = median(found.iter().map(|f| f.first.unwrap_or(u64::MAX)).collect());
                first.push(if median_first == u64::MAX { format!(">{runs}") } else { median_first.to_string() });
                // The mean counts a trial that found nothing as the whole budget: a lower bound.
                let sum: u64 = found.iter().map(|f| f.first.unwrap_or(runs)).sum();
                mean.push(format!("{:.1}", sum as f64 / trials as f64));
                fails.push(median(found.iter().map(|f| f.failures).collect()));
                features.push(median(found.iter().map(|f| f.features).collect()));
            }
            let seconds = started.elapsed().as_secs_f64();
            println!(
                "{:<9} {:<7} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>8} {:>8} {:>8.1}",
                protocol.name,
                base_name,
                first[0],
                first[1],
                mean[0],
                mean[1],
                fails[0],
                fails[1],
                features[0],
                features[1],
                seconds
            );
            markdown.push(format!(
                "| `{}` | {base_name} | {} | {} | {} | {} | {} | {} | {} | {} |",
                protocol.name, first[0], first[1], mean[0], mean[1], fails[0], fails[1], features[0], features[1]
            ));
        }
    }
    println!("\n{}", markdown.join("\n"));
}
