//! The bug-finding benchmark: for each example protocol with a planted bug, the median number
//! of seeds until a run fails, with no faults, with the `chaos` nemesis profile, in swarm mode
//! over `chaos`, and with the default faults (swarm over the whole vocabulary); and a check
//! that each fixed variant passes its seeds under each of those four. It fails (exit status
//! non-zero) when a faulted mode (`chaos`, swarm, default) does not find a bug within the cap
//! in most trials, when a run of a buggy variant fails by anything but its planted bug's
//! check, or when a fixed variant fails.
//!
//! ```text
//! cargo bench --bench bugs                       # 9 trials of up to 1,000 seeds per cell
//! SEEDSIM_BENCH_QUICK=1 cargo bench --bench bugs  # 3 trials of up to 200 seeds: a smoke run
//! ```
//!
//! A trial runs seeds from its own base seed until the first failure; the cell is the median
//! over trials, and `>N` when fewer than half the trials found the bug within N seeds.

#![allow(clippy::disallowed_types, clippy::disallowed_methods)] // the benchmark times itself
#![allow(clippy::duplicate_mod)] // each example includes the shared wire format as its own module

#[path = "../examples/support/driver.rs"]
#[allow(dead_code)]
mod driver;
#[path = "../examples/election/system.rs"]
mod election;
#[path = "../examples/lock/system.rs"]
mod lock;
#[path = "support/on_cores.rs"]
mod on_cores;
#[path = "support/quick.rs"]
mod quick;
#[path = "../examples/replog/system.rs"]
mod replog;
#[path = "../examples/twopc/system.rs"]
mod twopc;
#[path = "../examples/walkv/system.rs"]
mod walkv;

use driver::{with_faults, Faults};
use seedsim::{Builder, Cause, Error, Runner, Seed, Sim};

struct Protocol {
    name: &'static str,
    bug: &'static str,
    builder: fn() -> Builder,
    scenario: fn(&mut Sim, bool) -> Result<(), Error>,
    /// Whether a failure is the planted bug's (a buggy run failing by something else is not
    /// the bug found).
    expected: fn(&Cause) -> bool,
}

const PROTOCOLS: [Protocol; 5] = [
    Protocol {
        name: "election",
        bug: "votes for every candidate of a term: two leaders",
        builder: election::builder,
        scenario: election::scenario,
        expected: |cause| matches!(cause, Cause::Assertion { name, .. } if name == "at most one leader per term"),
    },
    Protocol {
        name: "replog",
        bug: "acknowledges before a quorum has it: lost write",
        builder: replog::builder,
        scenario: replog::scenario,
        expected: |cause| matches!(cause, Cause::ClientError { message } if message.contains("is lost")),
    },
    Protocol {
        name: "lock",
        bug: "no fencing tokens: a stale holder writes",
        builder: lock::builder,
        scenario: lock::scenario,
        expected: |cause| matches!(cause, Cause::Invariant { name, .. } if name == "the store accepts writes in lock order"),
    },
    Protocol {
        name: "twopc",
        bug: "decisions in memory: one commits, one aborts",
        builder: twopc::builder,
        scenario: twopc::scenario,
        expected: |cause| matches!(cause, Cause::Invariant { name, .. } if name == "participants agree on every decision"),
    },
    Protocol {
        name: "walkv",
        bug: "acknowledges before it syncs its log: lost write",
        builder: walkv::builder,
        scenario: walkv::scenario,
        expected: |cause| matches!(cause, Cause::ClientError { message } if message.contains("was acknowledged last")),
    },
];

/// Seeds until the first failure from `base`, or `None` within `cap` seeds.
///
/// # Panics
/// When the failure is not the planted bug's.
fn seeds_to_find(protocol: &Protocol, faults: Faults, base: Seed, cap: u64) -> Option<u64> {
    let runner = Runner::new().seeds(cap).base_seed(base).determinism_checks(0).builder((protocol.builder)());
    let report = with_faults(runner, faults).try_run(|sim| (protocol.scenario)(sim, false)).expect("a valid scenario");
    let failure = report.failure?;
    assert!(
        (protocol.expected)(&failure.cause),
        "the buggy {} failed under {faults:?}, but not by its planted bug:\n{failure}",
        protocol.name
    );
    Some(report.passed + 1)
}

/// One protocol's row of the table: the line to print, and the modes that missed its bug.
struct Row {
    line: String,
    missed: Vec<String>,
}

/// Measure one protocol: median seeds to its bug in each mode, then its fixed variant in each.
fn row(protocol: &Protocol, trials: u64, cap: u64, fixed_seeds: u64) -> Row {
    let row_started = std::time::Instant::now();
    let mut missed = Vec::new();
    let mut cells = Vec::new();
    for faults in [Faults::Calm, Faults::Chaos, Faults::Swarm, Faults::Default] {
        let mut found: Vec<Option<u64>> =
            (0..trials).map(|trial| seeds_to_find(protocol, faults, Seed(0xb0b0_0000 + trial), cap)).collect();
        found.sort_by_key(|f| f.unwrap_or(u64::MAX));
        let median = found[trials as usize / 2];
        if median.is_none() && faults != Faults::Calm {
            missed.push(format!("{} under {faults:?}", protocol.name));
        }
        cells.push(match median {
            Some(seeds) => seeds.to_string(),
            None => format!(">{cap}"),
        });
    }
    // Every mode the row reports, the fixed variant passes: the two the search leans on
    // over many seeds, the others over the search's cap.
    let mut passed = Vec::new();
    for faults in [Faults::Calm, Faults::Chaos, Faults::Swarm, Faults::Default] {
        let seeds = if matches!(faults, Faults::Chaos | Faults::Default) { fixed_seeds } else { cap };
        let runner =
            with_faults(Runner::new().seeds(seeds).determinism_checks(0).builder((protocol.builder)()), faults);
        let report = runner.try_run(|sim| (protocol.scenario)(sim, true)).expect("a valid scenario");
        if let Some(failure) = report.failure {
            panic!("the fixed {} failed under {faults:?}:\n{failure}", protocol.name);
        }
        passed.push(report.passed.to_string());
    }
    let line = format!(
        "{:<9} {:<50} {:>8} {:>8} {:>8} {:>8}   {} seeds passed ({:.1} s)",
        protocol.name,
        protocol.bug,
        cells[0],
        cells[1],
        cells[2],
        cells[3],
        passed.join(" / "),
        row_started.elapsed().as_secs_f64()
    );
    Row { line, missed }
}

fn main() {
    let quick = quick::quick();
    let (trials, cap, fixed_seeds) = if quick { (3, 200, 200) } else { (9, 1_000, 10_000) };
    println!(
        "seedsim bug-finding benchmark ({}): median seeds to find each planted bug over {trials} trials, cap {cap}",
        if quick { "quick" } else { "full" }
    );
    println!(
        "{:<9} {:<50} {:>8} {:>8} {:>8} {:>8}   fixed variant (no faults / chaos / swarm / default)",
        "protocol", "planted bug", "no faults", "chaos", "swarm", "default"
    );
    // Rows are independent: one worker thread per core takes the next protocol (each
    // simulation stays on the thread that runs it), and rows print in table order.
    let started = std::time::Instant::now();
    let rows = on_cores::map_on_cores(&PROTOCOLS, |protocol| row(protocol, trials, cap, fixed_seeds));
    let mut missed = Vec::new();
    for row in rows {
        println!("{}", row.line);
        missed.extend(row.missed);
    }
    println!("({:.1} s)", started.elapsed().as_secs_f64());
    assert!(missed.is_empty(), "planted bugs not found within {cap} seeds (median of {trials} trials): {missed:?}");
}
