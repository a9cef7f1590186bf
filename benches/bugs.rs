//! The bug-finding benchmark: for each example protocol with a planted bug, the median number
//! of seeds until a run fails, with no faults, with the `chaos` nemesis profile, in swarm mode
//! over `chaos`, and with the default faults (swarm over the whole vocabulary); and a check
//! that each fixed variant passes its seeds under `chaos` and the default faults. It fails
//! (exit status non-zero) when a bug is not found within the cap by `chaos` or the default
//! faults, or a fixed variant fails.
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
#[path = "../examples/replog/system.rs"]
mod replog;
#[path = "../examples/twopc/system.rs"]
mod twopc;
#[path = "../examples/walkv/system.rs"]
mod walkv;

use driver::{with_faults, Faults};
use seedsim::{Builder, Error, Runner, Seed, Sim};

struct Protocol {
    name: &'static str,
    bug: &'static str,
    builder: fn() -> Builder,
    scenario: fn(&mut Sim, bool) -> Result<(), Error>,
}

const PROTOCOLS: [Protocol; 5] = [
    Protocol {
        name: "election",
        bug: "votes for every candidate of a term: two leaders",
        builder: election::builder,
        scenario: election::scenario,
    },
    Protocol {
        name: "replog",
        bug: "acknowledges before a quorum has it: lost write",
        builder: replog::builder,
        scenario: replog::scenario,
    },
    Protocol {
        name: "lock",
        bug: "no fencing tokens: a stale holder writes",
        builder: lock::builder,
        scenario: lock::scenario,
    },
    Protocol {
        name: "twopc",
        bug: "no decision log: blocks after a coordinator crash",
        builder: twopc::builder,
        scenario: twopc::scenario,
    },
    Protocol {
        name: "walkv",
        bug: "acknowledges before it syncs its log: lost write",
        builder: walkv::builder,
        scenario: walkv::scenario,
    },
];

/// Seeds until the first failure from `base`, or `None` within `cap` seeds.
fn seeds_to_find(protocol: &Protocol, faults: Faults, base: Seed, cap: u64) -> Option<u64> {
    let runner = Runner::new().seeds(cap).base_seed(base).determinism_checks(0).builder((protocol.builder)());
    let report = with_faults(runner, faults).try_run(|sim| (protocol.scenario)(sim, false)).expect("a valid scenario");
    report.failure.map(|_| report.passed + 1)
}

fn main() {
    let quick = std::env::var("SEEDSIM_BENCH_QUICK").is_ok_and(|v| v == "1");
    let (trials, cap, fixed_seeds) = if quick { (3, 200, 200) } else { (9, 1_000, 10_000) };
    println!(
        "seedsim bug-finding benchmark ({}): median seeds to find each planted bug over {trials} trials, cap {cap}",
        if quick { "quick" } else { "full" }
    );
    println!(
        "{:<9} {:<50} {:>8} {:>8} {:>8} {:>8}   fixed variant",
        "protocol", "planted bug", "no faults", "chaos", "swarm", "default"
    );
    let mut missed = Vec::new();
    let started = std::time::Instant::now();
    for protocol in &PROTOCOLS {
        let mut cells = Vec::new();
        for faults in [Faults::Calm, Faults::Chaos, Faults::Swarm, Faults::Default] {
            let mut found: Vec<Option<u64>> =
                (0..trials).map(|trial| seeds_to_find(protocol, faults, Seed(0xb0b0_0000 + trial), cap)).collect();
            found.sort_by_key(|f| f.unwrap_or(u64::MAX));
            let median = found[trials as usize / 2];
            if median.is_none() && matches!(faults, Faults::Chaos | Faults::Default) {
                missed.push(format!("{} under {faults:?}", protocol.name));
            }
            cells.push(match median {
                Some(seeds) => seeds.to_string(),
                None => format!(">{cap}"),
            });
        }
        let mut passed = 0;
        for faults in [Faults::Chaos, Faults::Default] {
            let runner = with_faults(
                Runner::new().seeds(fixed_seeds).determinism_checks(0).builder((protocol.builder)()),
                faults,
            );
            let report = runner.try_run(|sim| (protocol.scenario)(sim, true)).expect("a valid scenario");
            if let Some(failure) = report.failure {
                panic!("the fixed {} failed under {faults:?}:\n{failure}", protocol.name);
            }
            passed = report.passed;
        }
        println!(
            "{:<9} {:<50} {:>8} {:>8} {:>8} {:>8}   {passed} seeds passed (chaos and default each)",
            protocol.name, protocol.bug, cells[0], cells[1], cells[2], cells[3]
        );
    }
    println!("({:.1} s)", started.elapsed().as_secs_f64());
    assert!(missed.is_empty(), "planted bugs not found within {cap} seeds (median of {trials} trials): {missed:?}");
}
