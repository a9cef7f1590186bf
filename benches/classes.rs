//! The bug-class benchmark: small protocols written without regard to any fault generator,
//! each with one planted bug of a named class (`benches/classes/*.rs`), and the question how
//! many seeds of each fault mode expose it.
//!
//! ```text
//! cargo bench --bench classes                        # 1,000 seeds per cell, 10,000 per fixed check
//! SEEDSIM_BENCH_QUICK=1 cargo bench --bench classes   # 200 and 500: a smoke run
//! SEEDSIM_BENCH_ONLY=leasekv cargo bench --bench classes
//! ```
//!
//! For every protocol and every fault mode it runs the buggy variant on N seeds (`Seed(BASE)
//! .nth(i)`) and reports how many failed and the index of the first that did; then it runs
//! the fixed variant on M seeds of every mode, and panics with the failure report if any
//! failed (so the benchmark exits non-zero). It also fails when the default faults, or a
//! guide over them, find no failing run of a buggy variant within 1,000 runs, and (full run)
//! when the default faults' median first failing seed is over #100. It also runs each buggy
//! variant under its hand-written `WITNESS` plan on a few seeds, to show that the engine can
//! expose the bug.
//! The report is printed as a plain table and again as a markdown table.
//!
//! To add a protocol, put its file in `benches/classes/` with the shared interface
//! (`builder`, `scenario(sim, fixed)`, `WITNESS`) and add one line to `protocols!` below. To
//! add a fault mode, add one line to `MODES`.

// Timing the benchmark itself is the one legitimate use of the host clock: clippy.toml bans
// `std::time::Instant` for the simulated path, and nothing timed here runs inside a simulation.
#![allow(clippy::disallowed_types, clippy::disallowed_methods)]

#[path = "support/on_cores.rs"]
mod on_cores;
#[path = "support/quick.rs"]
mod quick;

use std::time::{Duration, Instant};

use seedsim::fault::{FaultPlan, Profile, Usage};
use seedsim::guide::Guide;
use seedsim::{Builder, Error, Failure, Seed, Sim};

/// One protocol of the benchmark: its module's interface.
struct Protocol {
    name: &'static str,
    builder: fn() -> Builder,
    scenario: fn(&mut Sim, bool) -> Result<(), Error>,
    witness: &'static str,
}

/// Declares each protocol module and lists it: `name => "file in benches/classes"`.
macro_rules! protocols {
    ($($name:ident => $path:literal),* $(,)?) => {
        $(
            #[path = $path]
            mod $name;
        )*
        const PROTOCOLS: &[Protocol] = &[$(Protocol {
            name: stringify!($name),
            builder: $name::builder,
            scenario: $name::scenario,
            witness: $name::WITNESS,
        }),*];
    };
}

protocols! {
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

/// A fault mode: installed on a world after its scenario's setup, with the run's seed and
/// what the scenario was seen to use (for the default faults).
type Mode = (&'static str, fn(&mut Sim, Seed, Usage) -> Result<(), Error>);

const MODES: &[Mode] = &[
    ("calm", |_, _, _| Ok(())),
    ("chaos", |sim, _, _| sim.nemesis(Profile::chaos()).map(drop)),
    ("swarm", |sim, seed, _| sim.nemesis(Profile::swarm(Profile::chaos(), seed)).map(drop)),
    // What `explore` and `Runner::default_faults` run.
    ("default", |sim, seed, usage| sim.nemesis(Profile::swarm(Profile::default().relevant_to(usage), seed)).map(drop)),
];

/// The mode whose findings the benchmark asserts: every bug found within `FIND_SEEDS` seeds
/// (but the known misses), and (in the full run) the median first failing seed at most
/// `MEDIAN_FIRST_MAX`.
const DEFAULT_MODE: &str = "default";
const FIND_SEEDS: u64 = 1_000;
const MEDIAN_FIRST_MAX: u64 = 100;

/// Protocols whose bug the default faults do not find within `FIND_SEEDS` seeds, as measured
/// when this list was last changed: the benchmark still runs them, reports them as missed, and
/// fails if one is found (so the list cannot go stale) or if any other is missed. Empty since
/// the default faults found `leasekv` (partitions that stack, swarm by families, drift in
/// every seed); it stays for the next protocol added that they do not find yet.
const KNOWN_MISSES: &[&str] = &[];

/// Where every sweep's seeds start: `Seed(BASE).nth(i)` is the i-th seed.
const BASE: u64 = 0xc1a5_5e5b;
/// Seeds of each buggy variant under its witness plan.
const WITNESS_SEEDS: u64 = 20;

/// Build, set up and run one seed; the failure, if it failed.
fn run_one(
    protocol: &Protocol,
    fixed: bool,
    seed: Seed,
    faults: impl FnOnce(&mut Sim) -> Result<(), Error>,
) -> Option<Failure> {
    let mut sim = (protocol.builder)().seed(seed).build().expect("a valid builder");
    (protocol.scenario)(&mut sim, fixed).expect("a valid scenario");
    faults(&mut sim).expect("valid faults");
    sim.run().into_failure()
}

/// Failing seeds out of `seeds`, and the index of the first.
struct Cell {
    failed: u64,
    first: Option<u64>,
    seeds: u64,
}

impl Cell {
    fn text(&self) -> String {
        match self.first {
            Some(first) => format!("{}/{} (#{first})", self.failed, self.seeds),
            None => format!("0/{}", self.seeds),
        }
    }
}

fn main() {
    let quick = quick::quick();
    let (seeds, fixed_seeds) = if quick { (300, 300) } else { (1_000, 10_000) };
    let only = std::env::var("SEEDSIM_BENCH_ONLY").ok().filter(|o| !o.is_empty());
    let protocols: Vec<&Protocol> = PROTOCOLS.iter().filter(|p| only.as_deref().is_none_or(|o| o == p.name)).collect();
    if protocols.is_empty() {
        eprintln!("SEEDSIM_BENCH_ONLY={only:?} names no protocol; the protocols are:");
        for protocol in PROTOCOLS {
            eprintln!("  {}", protocol.name);
        }
        std::process::exit(2);
    }
    println!(
        "seedsim bug-class benchmark ({}): failing seeds of each buggy variant out of {seeds} (first failing index), \
         fixed variants {fixed_seeds} seeds per mode, seeds Seed(0x{BASE:x}).nth(i)",
        if quick { "quick" } else { "full" }
    );
    let started = Instant::now();
    // Protocols are independent: one worker thread per core takes the next one (each
    // simulation stays on the thread that runs it); results are read in table order.
    let results = on_cores::map_on_cores(&protocols, |protocol| measure(protocol, quick, seeds, fixed_seeds));
    let mut rows = Vec::new();
    let mut broken = Vec::new();
    // Under the default faults: the protocols whose bug no seed found, and the first failing
    // index of the others; and the protocols whose bug guided exploration did not find.
    let (mut missed, mut firsts) = (Vec::new(), Vec::new());
    let mut guided_missed = Vec::new();
    for measured in results {
        let name = measured.row.0;
        match measured.default_first {
            None => missed.push(name),
            Some(first) => firsts.push(first),
        }
        if !measured.guided_found {
            guided_missed.push(name);
        }
        broken.extend(measured.broken);
        rows.push(measured.row);
    }
    print_tables(&rows, fixed_seeds);
    firsts.sort_unstable();
    let median = firsts.get(firsts.len() / 2).copied();
    println!(
        "under the {DEFAULT_MODE} faults: {} of {} bugs found within {FIND_SEEDS} seeds; median first failing seed {}",
        firsts.len(),
        firsts.len() + missed.len(),
        median.map_or("-".to_owned(), |m| format!("#{m}"))
    );
    println!("({:.1} s)", started.elapsed().as_secs_f64());
    if !broken.is_empty() {
        panic!("fixed variants failed: {}", broken.join(", "));
    }
    let unexpected: Vec<&&str> = missed.iter().filter(|name| !KNOWN_MISSES.contains(name)).collect();
    assert!(
        unexpected.is_empty(),
        "the {DEFAULT_MODE} faults found no failing seed of {unexpected:?} within {FIND_SEEDS}"
    );
    let guided_unexpected: Vec<&&str> = guided_missed.iter().filter(|name| !KNOWN_MISSES.contains(name)).collect();
    assert!(
        guided_unexpected.is_empty(),
        "guided exploration over the {DEFAULT_MODE} faults found no failing run of {guided_unexpected:?} within {FIND_SEEDS}"
    );
    if only.is_none() {
        let found: Vec<&&str> = KNOWN_MISSES.iter().filter(|name| !missed.contains(name)).collect();
        assert!(found.is_empty(), "{found:?} found now: take them off KNOWN_MISSES");
    }
    if !quick && only.is_none() {
        let median = median.expect("some bug found");
        assert!(median <= MEDIAN_FIRST_MAX, "median first failing seed #{median} is over #{MEDIAN_FIRST_MAX}");
    }
}

/// What measuring one protocol gives: its table row, its fixed variant's failures, the first
/// failing seed index under the default faults, and whether guided exploration found its bug.
struct Measured {
    row: Row,
    broken: Vec<String>,
    default_first: Option<u64>,
    guided_found: bool,
}

/// Measure one protocol in every mode (see the module's header).
fn measure(protocol: &Protocol, quick: bool, seeds: u64, fixed_seeds: u64) -> Measured {
    let protocol_started = Instant::now();
    let mut runs = 0u64;
    let mut broken = Vec::new();
    let mut default_first = None;
    let plan: FaultPlan = protocol.witness.parse().expect("a valid witness plan");
    let mut witness = Cell { failed: 0, first: None, seeds: WITNESS_SEEDS };
    for i in 0..WITNESS_SEEDS {
        let failure = run_one(protocol, false, Seed(BASE).nth(i), |sim| sim.faults(plan.clone()));
        runs += 1;
        if failure.is_some() {
            witness.failed += 1;
            witness.first.get_or_insert(i);
        }
    }
    let usage = |fixed: bool| {
        Usage::probe(|seed| {
            let mut sim = (protocol.builder)().seed(seed).build()?;
            (protocol.scenario)(&mut sim, fixed)?;
            Ok(sim)
        })
        .expect("a valid scenario")
    };
    let (usage_buggy, usage_fixed) = (usage(false), usage(true));
    let mut cells = Vec::new();
    for (mode_name, mode) in MODES {
        // The default faults' claim is checked on `FIND_SEEDS` seeds, even in the quick
        // run (which stops at the first failure there, to stay quick).
        let is_default = *mode_name == DEFAULT_MODE;
        let seeds = if is_default { FIND_SEEDS.max(seeds) } else { seeds };
        let mut cell = Cell { failed: 0, first: None, seeds };
        for i in 0..seeds {
            let seed = Seed(BASE).nth(i);
            runs += 1;
            if run_one(protocol, false, seed, |sim| mode(sim, seed, usage_buggy)).is_some() {
                cell.failed += 1;
                cell.first.get_or_insert(i);
                if quick && is_default {
                    cell.seeds = i + 1;
                    break;
                }
            }
        }
        if *mode_name == DEFAULT_MODE {
            default_first = cell.first;
        }
        cells.push(cell);
    }
    // Guided exploration over the default faults: runs a `Guide` hands out (fresh plans
    // and mutants of the plans that reached new behaviour), counted like seeds.
    let mut guided = Cell { failed: 0, first: None, seeds: FIND_SEEDS };
    let mut guide = Guide::new(Seed(BASE));
    for i in 0..FIND_SEEDS {
        runs += 1;
        let (_, outcome) = guide
            .run(|seed, plan| {
                let mut sim = (protocol.builder)().seed(seed).feedback(true).build()?;
                (protocol.scenario)(&mut sim, false)?;
                match plan {
                    Some(plan) => sim.faults(plan.clone())?,
                    None => drop(sim.nemesis(Profile::swarm(Profile::default().relevant_to(usage_buggy), seed))?),
                }
                Ok(sim)
            })
            .expect("a valid scenario");
        if !outcome.is_passed() {
            guided.failed += 1;
            guided.first.get_or_insert(i);
            if quick {
                guided.seeds = i + 1;
                break;
            }
        }
    }
    let guided_found = guided.first.is_some();
    cells.push(guided);
    let mut fixed_passed = true;
    for (mode_name, mode) in MODES {
        for i in 0..fixed_seeds {
            let seed = Seed(BASE).nth(i);
            runs += 1;
            if let Some(failure) = run_one(protocol, true, seed, |sim| mode(sim, seed, usage_fixed)) {
                eprintln!("the fixed {} failed under {mode_name} at seed index {i}:\n{failure}", protocol.name);
                broken.push(format!("{} ({mode_name}, seed index {i}, {})", protocol.name, failure.seed));
                fixed_passed = false;
                break;
            }
        }
    }
    let per_run = protocol_started.elapsed() / runs.max(1) as u32;
    eprintln!(
        "{}: witness {}, {} ({per_run:.2?} per run)",
        protocol.name,
        witness.text(),
        summary(&cells, fixed_passed)
    );
    Measured { row: (protocol.name, witness, cells, fixed_passed, per_run), broken, default_first, guided_found }
}

fn summary(cells: &[Cell], fixed: bool) -> String {
    let mut parts: Vec<String> = MODES
        .iter()
        .map(|(name, _)| *name)
        .chain(["guided"])
        .zip(cells)
        .map(|(name, cell)| format!("{name} {}", cell.text()))
        .collect();
    parts.push(if fixed { "fixed passed".to_owned() } else { "FIXED FAILED".to_owned() });
    parts.join(", ")
}

type Row = (&'static str, Cell, Vec<Cell>, bool, Duration);

fn print_tables(rows: &[Row], fixed_seeds: u64) {
    let mut header = vec!["protocol".to_owned(), "witness".to_owned()];
    header.extend(MODES.iter().map(|(name, _)| name.to_string()));
    header.push("guided".to_owned());
    header.push(format!("fixed ({fixed_seeds}/mode)"));
    header.push("per run".to_owned());
    let lines: Vec<Vec<String>> = rows
        .iter()
        .map(|(name, witness, cells, fixed, per_run)| {
            let mut line = vec![name.to_string(), witness.text()];
            line.extend(cells.iter().map(Cell::text));
            line.push(if *fixed { "passed".to_owned() } else { "FAILED".to_owned() });
            line.push(format!("{per_run:.2?}"));
            line
        })
        .collect();
    let widths: Vec<usize> = (0..header.len())
        .map(|c| lines.iter().map(|l| l[c].len()).chain([header[c].len()]).max().unwrap_or(0))
        .collect();
    println!();
    let plain = |cells: &[String]| {
        cells.iter().zip(&widths).map(|(cell, width)| format!("{cell:<width$}")).collect::<Vec<_>>().join("  ")
    };
    println!("{}", plain(&header));
    for line in &lines {
        println!("{}", plain(line));
    }
    println!();
    println!("| {} |", header.join(" | "));
    println!(
        "|{}",
        header.iter().enumerate().map(|(i, _)| if i == 0 { " --- |" } else { " ---: |" }).collect::<String>()
    );
    for line in &lines {
        println!("| {} |", line.join(" | "));
    }
    println!();
}
