//! The linearizability checker on generated key-value histories: 1,000 to 100,000 operations
//! over many keys, with 5 concurrent clients, linearizable and not (one stale read), with and
//! without unknown outcomes; and the headline case, 10,000 operations with 5 clients on one
//! key, where nothing splits the history.
//!
//! The histories come from `tests/it/check_support.rs::generate` (a fixed generator: the same
//! histories on every machine). Every verdict must be the expected one (the program exits 1
//! otherwise). `SEEDSIM_BENCH_QUICK=1` runs each once and skips the largest.
//!
//! ```text
//! cargo bench --bench histories
//! ```

// Timing the benchmark itself is the one legitimate use of the host clock: clippy.toml bans
// `std::time::Instant` for the simulated path, and nothing timed here runs inside a simulation.
#![allow(clippy::disallowed_types, clippy::disallowed_methods)]

#[path = "../tests/it/check_support.rs"]
mod check_support;

#[path = "support/quick.rs"]
mod quick;

use std::process::ExitCode;
use std::time::{Duration, Instant};

use check_support::{generate, Shape};
use seedsim::check::{Checker, Kv, Verdict};

fn main() -> ExitCode {
    let quick = quick::quick();
    let repetitions = if quick { 1 } else { 3 };
    let mut shapes = Vec::new();
    for (ops, keys) in [(1_000, 10), (10_000, 100), (100_000, 1_000)] {
        if quick && ops > 10_000 {
            continue;
        }
        for unknown_per_mille in [0, 10] {
            for stale_read in [false, true] {
                shapes.push(Shape { ops, keys, clients: 5, unknown_per_mille, stale_read, seed: ops as u64 });
            }
        }
    }
    // The headline: one key, so one part of 10,000 operations.
    for stale_read in [false, true] {
        shapes.push(Shape { ops: 10_000, keys: 1, clients: 5, unknown_per_mille: 0, stale_read, seed: 7 });
    }
    shapes.push(Shape { ops: 10_000, keys: 1, clients: 5, unknown_per_mille: 10, stale_read: false, seed: 7 });
    // The hard case: ~100 unknown outcomes on one key of a history that is not linearizable.
    // Each may or may not have taken effect, so the search is exponential; the budget ends it.
    let hard = Shape { ops: 10_000, keys: 1, clients: 5, unknown_per_mille: 10, stale_read: true, seed: 7 };
    shapes.push(hard);
    if !quick {
        shapes.push(Shape { ops: 100_000, keys: 1, clients: 5, unknown_per_mille: 0, stale_read: false, seed: 8 });
    }

    println!("histories: seedsim's linearizability checker on generated key-value histories (best of {repetitions})");
    println!();
    println!("{:<58} {:>18} {:>12}", "history", "verdict", "time");
    let mut wrong = 0;
    for shape in shapes {
        let history = generate(shape);
        // The default budget, except for the hard case: 10 million steps, about half a second.
        let checker =
            if shape.to_string() == hard.to_string() { Checker::new().steps_max(10_000_000) } else { Checker::new() };
        let mut best = Duration::MAX;
        let mut verdict = Verdict::Linearizable;
        for _ in 0..repetitions {
            let start = Instant::now();
            verdict = checker.check(&Kv::new(), &history);
            best = best.min(start.elapsed());
        }
        let got = match &verdict {
            Verdict::Linearizable => "linearizable",
            Verdict::NotLinearizable(_) => "not linearizable",
            Verdict::Unknown(_) => "unknown (budget)",
        };
        let right = matches!(
            (&verdict, shape.stale_read),
            (Verdict::Linearizable, false) | (Verdict::NotLinearizable(_), true)
        ) || (shape.to_string() == hard.to_string() && matches!(verdict, Verdict::Unknown(_)));
        if !right {
            eprintln!("histories: WRONG VERDICT for {shape}: {verdict}");
            wrong += 1;
        }
        println!("{:<58} {:>18} {:>12}", shape.to_string(), got, format!("{:.1} ms", best.as_secs_f64() * 1e3));
    }
    println!();
    if wrong > 0 {
        eprintln!("histories: {wrong} wrong verdict(s)");
        return ExitCode::from(1);
    }
    println!("histories: every verdict is the expected one");
    ExitCode::SUCCESS
}
