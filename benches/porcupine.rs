//! The linearizability checker against Porcupine, on Porcupine's own test data: the 102 Jepsen
//! etcd register histories and the key-value histories with 1, 10 and 50 clients, read from
//! `../shared/bench-data/porcupine/` beside the repository.
//!
//! Every file's verdict must match `EXPECTED` (the program exits 1 otherwise, and 2 when the
//! data is missing). Times are the best of several runs, parsing excluded, printed next to
//! Porcupine's figures measured on a machine like ours (from the data's README).
//! `SEEDSIM_BENCH_QUICK=1` runs each measurement once and skips the slow unsplit runs.
//! The page that explains the numbers is `docs/performance.md`.
//!
//! ```text
//! cargo bench --bench porcupine
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

use check_support::{parse_etcd, parse_expected, parse_kv, porcupine_dir, AppendKv, AppendKvUnsplit};
use seedsim::check::{check, Checker, Verdict};

/// Model steps the unsplit runs may spend before the checker says Unknown (on c50, about 20 s:
/// with every key's value in one state, a step copies ten strings).
const UNSPLIT_STEPS_MAX: u64 = 50_000_000;

fn main() -> ExitCode {
    let quick = quick::quick();
    let repetitions = if quick { 1 } else { 5 };
    let dir = porcupine_dir();
    if !dir.join("jepsen/EXPECTED").is_file() || !dir.join("kv/EXPECTED").is_file() {
        eprintln!(
            "porcupine: NO DATA: Porcupine's test data is not at {} (expected jepsen/EXPECTED and kv/EXPECTED).\n\
             This benchmark reads the shared bench-data folder that sits beside the repository (../shared/); \
             a clone without it cannot run it.",
            dir.display()
        );
        return ExitCode::from(2);
    }
    let read = |path: std::path::PathBuf| {
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
    };
    let mut wrong = 0;

    // --- etcd: one register, read / write / cas ---------------------------------------------
    let expected = parse_expected(&read(dir.join("jepsen/EXPECTED"))).expect("jepsen/EXPECTED");
    let histories: Vec<_> = expected
        .iter()
        .map(|(name, linearizable)| {
            let history =
                parse_etcd(&read(dir.join(format!("jepsen/{name}.log")))).unwrap_or_else(|e| panic!("{name}: {e}"));
            (name, *linearizable, history)
        })
        .collect();
    let ops: usize = histories.iter().map(|(_, _, h)| h.len()).sum();
    let mut best_total = Duration::MAX;
    let mut slowest = (Duration::ZERO, String::new());
    for _ in 0..repetitions {
        let mut total = Duration::ZERO;
        let mut slowest_here = (Duration::ZERO, String::new());
        for (name, linearizable, history) in &histories {
            let start = Instant::now();
            let verdict = check(&seedsim::check::Register::new(), history);
            let took = start.elapsed();
            total += took;
            if took > slowest_here.0 {
                slowest_here = (took, (*name).clone());
            }
            if verdict_matches(&verdict, *linearizable).is_err() {
                eprintln!(
                    "porcupine: WRONG VERDICT for jepsen/{name}: expected {}, got {verdict}",
                    word(*linearizable)
                );
                wrong += 1;
            }
        }
        if total < best_total {
            best_total = total;
            slowest = slowest_here;
        }
    }
    let lin = histories.iter().filter(|(_, l, _)| *l).count();
    println!("porcupine: seedsim's linearizability checker on Porcupine's test data (best of {repetitions})");
    println!();
    println!("{:<34} {:>12} {:>22}", "histories", "seedsim", "Porcupine");
    println!(
        "{:<34} {:>12} {:>22}",
        format!("etcd, all {} ({} ops; {} lin.)", histories.len(), ops, lin),
        ms(best_total),
        "750 ms"
    );
    println!("{:<34} {:>12} {:>22}", format!("  slowest one ({})", slowest.1), ms(slowest.0), "");

    // --- kv: get / put / append over 10 keys --------------------------------------------------
    let porcupine_split = |name: &str| match name {
        "c10-ok" => "1.6 ms",
        "c50-ok" => "200-600 ms",
        "c50-bad" => "74 ms",
        _ => "-",
    };
    let porcupine_unsplit = |name: &str| match name {
        "c10-ok" => "4.5 s",
        "c50-ok" => "no answer in 120 s",
        _ => "-",
    };
    let expected = parse_expected(&read(dir.join("kv/EXPECTED"))).expect("kv/EXPECTED");
    for (name, linearizable) in &expected {
        let history = parse_kv(&read(dir.join(format!("kv/{name}.txt")))).unwrap_or_else(|e| panic!("{name}: {e}"));
        let (took, verdict) = best_of(repetitions, || check(&AppendKv, &history));
        if verdict_matches(&verdict, *linearizable).is_err() {
            eprintln!("porcupine: WRONG VERDICT for kv/{name}: expected {}, got {verdict}", word(*linearizable));
            wrong += 1;
        }
        println!(
            "{:<34} {:>12} {:>22}",
            format!("kv {name} ({} ops), by key", history.len()),
            ms(took),
            porcupine_split(name)
        );
    }
    // Unsplit: one part with every key's value in the state, as Porcupine without partitioning.
    for (name, linearizable) in &expected {
        if quick && name.starts_with("c50") {
            continue;
        }
        let history = parse_kv(&read(dir.join(format!("kv/{name}.txt")))).unwrap_or_else(|e| panic!("{name}: {e}"));
        let checker = Checker::new().steps_max(UNSPLIT_STEPS_MAX);
        let (took, verdict) = best_of(if name.starts_with("c50") { 1 } else { repetitions }, || {
            checker.check(&AppendKvUnsplit, &history)
        });
        let shown = match verdict_matches(&verdict, *linearizable) {
            Ok(()) => ms(took),
            Err(true) => format!("unknown, {}", ms(took)),
            Err(false) => {
                eprintln!(
                    "porcupine: WRONG VERDICT for kv/{name} unsplit: expected {}, got {verdict}",
                    word(*linearizable)
                );
                wrong += 1;
                "WRONG".to_owned()
            }
        };
        println!("{:<34} {:>12} {:>22}", format!("kv {name}, unsplit"), shown, porcupine_unsplit(name));
    }
    println!();
    if wrong > 0 {
        eprintln!("porcupine: {wrong} wrong verdict(s)");
        return ExitCode::from(1);
    }
    println!("porcupine: every verdict matches EXPECTED");
    ExitCode::SUCCESS
}

/// `Err(true)` for Unknown, `Err(false)` for the wrong answer.
fn verdict_matches(verdict: &Verdict, linearizable: bool) -> Result<(), bool> {
    match verdict {
        Verdict::Unknown(_) => Err(true),
        _ if verdict.is_linearizable() == linearizable => Ok(()),
        _ => Err(false),
    }
}

fn word(linearizable: bool) -> &'static str {
    if linearizable {
        "linearizable"
    } else {
        "not linearizable"
    }
}

fn best_of<T>(repetitions: usize, mut run: impl FnMut() -> T) -> (Duration, T) {
    let mut best = Duration::MAX;
    let mut result = None;
    for _ in 0..repetitions.max(1) {
        let start = Instant::now();
        let value = run();
        best = best.min(start.elapsed());
        result = Some(value);
    }
    (best, result.expect("ran at least once"))
}

fn ms(duration: Duration) -> String {
    let millis = duration.as_secs_f64() * 1e3;
    if millis < 10.0 {
        format!("{millis:.2} ms")
    } else {
        format!("{millis:.0} ms")
    }
}
