//! Guided exploration against plain exploration (fresh plans only), on the planted-bug
//! examples, one synthetic bug that needs two faults at once (`guided/combo.rs`) and the
//! bug-class protocols (`classes/`): for each buggy variant, each fault base and each mode,
//! the median and mean over trials (different start seeds) of the runs until the first
//! failure, and the behaviour features covered in a budget of runs.
//!
//! ```text
//! cargo bench --bench guided                       # 101 trials (cap 4,000; bug classes 21, cap 2,000)
//! SEEDSIM_BENCH_QUICK=1 cargo bench --bench guided  # 5 trials (bug classes 3): a smoke run
//! cargo bench --bench guided -- walkv combo        # only the protocols named
//! ```
//!
//! Three fault bases: `swarm` draws a swarm profile from `chaos` per seed; `sparse` draws
//! from a `chaos` with four times fewer faults per run, where a bug needs the right few faults
//! rather than one of many, as in a system that tolerates most; `default` is what `explore`
//! runs without `--faults` (a swarm profile over the whole vocabulary, less what the scenario
//! cannot use). The bug classes are measured under `default` only.
//!
//! Each fixed variant then runs 1,000 guided runs of each of its bases (100 in quick mode),
//! and the benchmark fails if any fails: a guide's mutated plans must stay within what a
//! correct protocol survives.
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

use seedsim::fault::{FaultPlan, Profile, Usage};
use seedsim::guide::Guide;
use seedsim::{Builder, Error, Failure, Seed, Sim};

struct Protocol {
    name: &'static str,
    builder: fn() -> Builder,
    scenario: fn(&mut Sim, bool) -> Result<(), Error>,
    /// The fault bases it is measured over (their names, from `BASES`).
    bases: &'static [&'static str],
}

/// Every base, for the examples whose bugs the fault profiles grew up around.
const ALL: &[&str] = &["swarm", "sparse", "default"];
/// The default faults only, for the bug-class protocols (written without regard to any fault
/// generator), whose harder bugs take many runs.
const DEFAULT: &[&str] = &["default"];

/// Declares each bug-class protocol module and lists it: `name => "file in benches/classes"`.
macro_rules! classes {
    ($($name:ident => $path:literal),* $(,)?) => {
        $(
            #[allow(dead_code)] // their `WITNESS` plans are for the classes benchmark
            #[path = $path]
            mod $name;
        )*
        const CLASSES: &[Protocol] = &[$(Protocol {
            name: stringify!($name),
            builder: $name::builder,
            scenario: $name::scenario,
            bases: DEFAULT,
        }),*];
    };
}

classes! {
    rackstore => "classes/rackstore.rs",
    leasekv => "classes/leasekv.rs",
    ledger => "classes/ledger.rs",
    pbview => "classes/pbview.rs",
    reconfig => "classes/reconfig.rs",
    paxos_slots => "classes/paxos_slots.rs",
    view_primary => "classes/view_primary.rs",
    bank_sessions => "classes/bank_sessions.rs",
    branch_2pc => "classes/branch_2pc.rs",
    log_shipping => "classes/log_shipping.rs",
}

const EXAMPLES: &[Protocol] = &[
    Protocol { name: "election", builder: election::builder, scenario: election::scenario, bases: ALL },
    Protocol { name: "replog", builder: replog::builder, scenario: replog::scenario, bases: ALL },
    Protocol { name: "lock", builder: lock::builder, scenario: lock::scenario, bases: ALL },
    Protocol { name: "twopc", builder: twopc::builder, scenario: twopc::scenario, bases: ALL },
    Protocol { name: "walkv", builder: walkv::builder, scenario: walkv::scenario, bases: ALL },
    Protocol {
        name: "kv",
        builder: kv::builder,
        scenario: |sim, fixed| kv::scenario(sim, if fixed { kv::Variant::Fixed } else { kv::Variant::Buggy }),
        bases: ALL,
    },
    Protocol { name: "combo", builder: combo::builder, scenario: combo::scenario, bases: ALL },
];

/// A fault base: a name, and the profile a seed's swarm profile is drawn from (given what
/// the scenario was seen to use).
type Base = (&'static str, fn(Usage) -> Profile);

/// The fault modes guided exploration is measured over: swarm profiles drawn from a base.
const BASES: [Base; 3] = [
    ("swarm", |_| Profile::chaos()),
    // Four times fewer faults per run: a bug then needs the right few, not one of many.
    ("sparse", |_| Profile::chaos().interval(Duration::from_millis(400), Duration::from_secs(4))),
    // What `explore` runs without `--faults`.
    ("default", |usage| Profile::default().relevant_to(usage)),
];

/// How one cell is measured: a protocol's buggy variant, a base, and what the scenario uses.
#[derive(Clone, Copy)]
struct Cell<'a> {
    protocol: &'a Protocol,
    base: fn(Usage) -> Profile,
    usage: Usage,
}

impl Cell<'_> {
    /// A run of the buggy variant: the base's swarm profile's plan for the seed, or exactly `plan`.
    fn build(&self, seed: Seed, plan: Option<&FaultPlan>) -> Result<Sim, Error> {
        self.build_variant(false, seed, plan)
    }

    fn build_variant(&self, fixed: bool, seed: Seed, plan: Option<&FaultPlan>) -> Result<Sim, Error> {
        let mut sim = (self.protocol.builder)().seed(seed).feedback(true).build()?;
        (self.protocol.scenario)(&mut sim, fixed)?;
        match plan {
            Some(plan) => sim.faults(plan.clone())?,
            None => drop(sim.nemesis(Profile::swarm((self.base)(self.usage), seed))?),
        }
        Ok(sim)
    }

    fn guide(&self, guided: bool, start: Seed) -> Guide {
        if guided {
            Guide::new(start)
        } else {
            Guide::new(start).fresh_only()
        }
    }

    /// Runs until the first failure from `start` (1 if the first run fails), within `cap`.
    fn first_failure(&self, guided: bool, start: Seed, cap: u64) -> Option<u64> {
        let mut guide = self.guide(guided, start);
        (1..=cap).find(|_| !guide.run(|seed, plan| self.build(seed, plan)).expect("a valid scenario").1.is_passed())
    }

    /// The fixed variant under a guide for `runs` runs: mutated plans must stay within what
    /// the fixed protocol survives (no more servers down than the fault mode takes down, every
    /// fault healed by the final recover), so a failure here is a false alarm of the guide.
    fn fixed_failure(&self, runs: u64) -> Option<Failure> {
        let mut guide = self.guide(true, Seed(0xf1ed));
        (0..runs).find_map(|_| {
            guide.run(|seed, plan| self.build_variant(true, seed, plan)).expect("a valid scenario").1.into_failure()
        })
    }

    /// The features a guide covers in `runs` runs from `start`.
    fn coverage(&self, guided: bool, start: Seed, runs: u64) -> u64 {
        let mut guide = self.guide(guided, start);
        for _ in 0..runs {
            // Failures or not: coverage counts what the passing runs reached.
            let _ = guide.run(|seed, plan| self.build(seed, plan)).expect("a valid scenario");
        }
        guide.stats().features
    }
}

fn median(mut values: Vec<u64>) -> u64 {
    values.sort_unstable();
    values[values.len() / 2]
}

fn main() {
    let filters: Vec<String> = std::env::args().skip(1).filter(|arg| !arg.starts_with('-')).collect();
    let quick = quick::quick();
    // (trials, cap) for the examples and for the bug classes; coverage trials and runs.
    let ((trials, cap), (class_trials, class_cap), coverage_trials, coverage_runs) =
        if quick { ((5, 1_000), (3, 300), 2, 100) } else { ((101, 4_000), (21, 2_000), 5, 500) };
    let fixed_runs = if quick { 100 } else { 1_000 };
    let mut false_alarms = Vec::new();
    println!(
        "seedsim guided exploration benchmark: runs to the first failure over {trials} trials (cap {cap}; bug \
         classes {class_trials}, cap {class_cap}); features covered in {coverage_runs} runs (median of {coverage_trials})"
    );
    println!(
        "{:<13} {:<7} {:>10} {:>10} {:>10} {:>10} {:>6} {:>9} {:>9} {:>8}",
        "protocol", "faults", "median fr", "median gd", "mean fr", "mean gd", "ratio", "feat fr", "feat gd", "seconds"
    );
    let mut markdown = vec![
        "| protocol | faults | runs to first failure, fresh (median / mean) | guided (median / mean) | guided / fresh (means) | features in N runs, fresh | guided |"
            .to_owned(),
        "|---|---|---:|---:|---:|---:|---:|".to_owned(),
    ];
    for protocol in EXAMPLES.iter().chain(CLASSES) {
        if !filters.is_empty() && !filters.iter().any(|f| protocol.name == f.as_str()) {
            continue;
        }
        let (trials, cap) = if protocol.bases == ALL { (trials, cap) } else { (class_trials, class_cap) };
        let usage = Usage::probe(|seed| {
            let mut sim = (protocol.builder)().seed(seed).build()?;
            (protocol.scenario)(&mut sim, false)?;
            Ok(sim)
        })
        .expect("a valid scenario");
        for (base_name, base) in BASES.iter().filter(|(name, _)| protocol.bases.contains(name)) {
            let cell = Cell { protocol, base: *base, usage };
            let started = std::time::Instant::now();
            let (mut medians, mut means, mut features) = (Vec::new(), Vec::new(), Vec::new());
            for guided in [false, true] {
                let found: Vec<Option<u64>> =
                    (0..trials).map(|t| cell.first_failure(guided, Seed(0x6d1d_0000 + t), cap)).collect();
                // A trial that found nothing counts as past the cap: the median says `>N` then,
                // and the mean counts the cap (a lower bound).
                let middle = median(found.iter().map(|f| f.unwrap_or(u64::MAX)).collect());
                medians.push(if middle == u64::MAX { format!(">{cap}") } else { middle.to_string() });
                means.push(found.iter().map(|f| f.unwrap_or(cap)).sum::<u64>() as f64 / trials as f64);
                features.push(median(
                    (0..coverage_trials).map(|t| cell.coverage(guided, Seed(0xc0e0_0000 + t), coverage_runs)).collect(),
                ));
            }
            if let Some(failure) = cell.fixed_failure(fixed_runs) {
                eprintln!("the fixed {} failed under a guide over {base_name}:\n{failure}", protocol.name);
                false_alarms.push(format!("{} ({base_name})", protocol.name));
            }
            let seconds = started.elapsed().as_secs_f64();
            let ratio = means[1] / means[0];
            println!(
                "{:<13} {:<7} {:>10} {:>10} {:>10.1} {:>10.1} {:>6.2} {:>9} {:>9} {:>8.1}",
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
    assert!(
        false_alarms.is_empty(),
        "fixed variants failed under a guide ({fixed_runs} runs each): {}",
        false_alarms.join(", ")
    );
    println!("every fixed variant passed {fixed_runs} guided runs of every base");
}
