//! Find a real bug: a replicated register that acknowledges writes before a quorum stored
//! them, run under partitions, crashes, pauses, clogs and a lossy network until a read comes
//! back stale.
//!
//! ```text
//! cargo run --release --example kv                      # search seeds for the bug; print its replay line
//! SEEDSIM_SEED=0x… cargo run --release --example kv     # replay one seed (SEEDSIM_LOG=info for a log)
//! cargo run --release --example kv -- --fixed           # the fixed variant over 10,000 seeds
//! cargo run --release --example kv -- --html run.html   # also draw the failing seed's timeline
//! ```
//!
//! Exits 1 when a run failed, 0 when every seed passed, 2 on bad input.

#[path = "system.rs"]
mod system;

use std::process::ExitCode;

use seedsim::timeline::Timeline;
use seedsim::{Runner, Seed};
use system::Variant;

fn main() -> ExitCode {
    let mut fixed = false;
    let mut html = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--fixed" => fixed = true,
            "--html" => match args.next() {
                Some(path) => html = Some(path),
                None => {
                    eprintln!("kv: --html needs a file name, e.g. --html run.html");
                    return ExitCode::from(2);
                }
            },
            other => {
                eprintln!("kv: unknown argument {other:?}: expected --fixed (the fixed variant) and/or --html FILE");
                return ExitCode::from(2);
            }
        }
    }
    let (variant, seeds, command) = if fixed {
        (Variant::Fixed, 10_000, "cargo run --release --example kv -- --fixed")
    } else {
        (Variant::Buggy, 1_000, "cargo run --release --example kv")
    };
    let runner = Runner::new().seeds(seeds).builder(system::builder()).replay_command(command);
    let plan = match runner.plan() {
        Ok(plan) => plan,
        Err(err) => {
            eprintln!("kv: {err}");
            return ExitCode::from(2);
        }
    };
    if !plan.exact {
        println!("kv: running the {variant:?} variant over {} seeds from {}", plan.seeds, plan.base_seed);
    }
    match runner.try_run(|sim| system::scenario(sim, variant)) {
        Err(err) => {
            eprintln!("kv: {err}");
            ExitCode::from(2)
        }
        Ok(report) => {
            // The timeline: of the failing seed, or of the one seed SEEDSIM_SEED named.
            let drawn = report.failure.as_ref().map(|f| f.seed).or(plan.exact.then_some(plan.base_seed));
            if let (Some(path), Some(seed)) = (&html, drawn) {
                if let Err(err) = write_timeline(variant, seed, path) {
                    eprintln!("kv: cannot write the timeline to {path}: {err}");
                    return ExitCode::from(2);
                }
                println!("kv: the timeline of seed {seed} is in {path}");
            } else if html.is_some() {
                println!("kv: no failure to draw (SEEDSIM_SEED=0x… draws one seed)");
            }
            match report.failure {
                Some(failure) => {
                    println!("kv: seed {} failed after {} passing seed(s):\n{failure}", failure.seed, report.passed);
                    ExitCode::from(1)
                }
                None => {
                    println!("kv: all {} seed(s) passed", report.passed);
                    ExitCode::SUCCESS
                }
            }
        }
    }
}

/// Run `seed` again with the whole trace recorded, and write its timeline to `path`.
fn write_timeline(variant: Variant, seed: Seed, path: &str) -> Result<(), Box<dyn std::error::Error>> {
    let mut sim = system::builder().seed(seed).record_trace(true).build()?;
    let ops = system::scenario_with(&mut sim, variant, system::Checks::BOTH)?;
    let outcome = sim.run();
    let timeline = Timeline::from_sim(&mut sim)?
        .title(format!("kv example ({variant:?} variant), seed {seed}"))
        .outcome(&outcome)
        .history(&ops.history());
    timeline.write(path)?;
    Ok(())
}
