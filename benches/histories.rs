//! The linearizability checker on generated key-value histories: 1,000 to 100,000 operations
//! over many keys, with 5 concurrent clients, linearizable and not (one stale read), with and
//! without unknown outcomes; the headline case, 10,000 operations with 5 clients on one
//! key, where nothing splits the history; and histories built to be hard for the memo of
//! unknown outcomes (`unknown_puts`), checked at the default budget, which must bound their
//! time as it bounds the others'.
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
use seedsim::check::{Checker, History, Kv, KvInput, KvOutput, Verdict};

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
        let (verdict, best) = check_best_of(repetitions, &checker, &history);
        let got = verdict_name(&verdict);
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
    // Many unknown outcomes on one key, the shape that made the checker's time outgrow its
    // budget (issue 14): every subset of the unknown puts is a possible past, and the memo
    // gathers a record of unknown operations per subset under one configuration. Walking
    // those records is counted as steps now, so the default budget ends the search in a
    // fraction of a second; before, 1 million steps of the 18-put history took 2.5 s.
    let sizes: &[u32] = if quick { &[14] } else { &[14, 18, 24] };
    for &puts in sizes {
        let history = unknown_puts(puts);
        let checker = Checker::new();
        let (verdict, best) = check_best_of(repetitions, &checker, &history);
        let name = format!("{puts} unknown puts, then an impossible read");
        let got = verdict_name(&verdict);
        if matches!(verdict, Verdict::Linearizable) {
            eprintln!("histories: WRONG VERDICT for {name}: {verdict}");
            wrong += 1;
        }
        println!("{:<58} {:>18} {:>12}", name, got, format!("{:.1} ms", best.as_secs_f64() * 1e3));
    }
    println!();
    if wrong > 0 {
        eprintln!("histories: {wrong} wrong verdict(s)");
        return ExitCode::from(1);
    }
    println!("histories: every verdict is the expected one");
    ExitCode::SUCCESS
}

/// `puts` concurrent puts on one key whose outcomes are unknown, then a read of the last one's
/// value and a read of a value nobody wrote: not linearizable, and every subset of the other
/// puts may have taken effect before the first read.
fn unknown_puts(puts: u32) -> History<KvInput<u32, u32>, KvOutput<u32>> {
    let mut history = History::new();
    let unknown: Vec<_> = (0..puts).map(|i| history.invoke(u64::from(i), KvInput::Put(0, i + 1))).collect();
    let read = history.invoke(u64::from(puts), KvInput::Get(0));
    history.ok(read, KvOutput::Get(Some(puts))).expect("invoked here");
    let read = history.invoke(u64::from(puts), KvInput::Get(0));
    history.ok(read, KvOutput::Get(Some(u32::MAX))).expect("invoked here");
    for op in unknown {
        history.unknown(op).expect("invoked here");
    }
    history
}

/// The checker's verdict on `history`, and the best time of `repetitions` checks.
fn check_best_of(
    repetitions: u32,
    checker: &Checker,
    history: &History<KvInput<u32, u32>, KvOutput<u32>>,
) -> (Verdict, Duration) {
    let mut best = Duration::MAX;
    let mut verdict = Verdict::Linearizable;
    for _ in 0..repetitions {
        let start = Instant::now();
        verdict = checker.check(&Kv::new(), history);
        best = best.min(start.elapsed());
    }
    (verdict, best)
}

/// The verdict as the table prints it.
fn verdict_name(verdict: &Verdict) -> &'static str {
    match verdict {
        Verdict::Linearizable => "linearizable",
        Verdict::NotLinearizable(_) => "not linearizable",
        Verdict::Unknown(_) => "unknown (budget)",
    }
}
