//! Find a real bug: a replicated register that acknowledges writes before a quorum stored
//! them, run under partitions, crashes, pauses, clogs and a lossy network until a read comes
//! back stale.
//!
//! ```text
//! cargo run --release --example kv                      # search seeds for the bug; print its replay line
//! SEEDSIM_SEED=0x… cargo run --release --example kv     # replay one seed (SEEDSIM_LOG=info for a log)
//! cargo run --release --example kv -- --fixed           # the fixed variant over 10,000 seeds
//! ```
//!
//! Exits 1 when a run failed, 0 when every seed passed, 2 on bad input.

#[path = "system.rs"]
mod system;

use std::process::ExitCode;

use seedsim::Runner;
use system::Variant;

fn main() -> ExitCode {
    let fixed = match std::env::args().nth(1).as_deref() {
        None => false,
        Some("--fixed") => true,
        Some(other) => {
            eprintln!("kv: unknown argument {other:?}: expected no argument (the buggy variant) or --fixed");
            return ExitCode::from(2);
        }
    };
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
        Ok(report) => match report.failure {
            Some(failure) => {
                println!("kv: seed {} failed after {} passing seed(s):\n{failure}", failure.seed, report.passed);
                ExitCode::from(1)
            }
            None => {
                println!("kv: all {} seed(s) passed", report.passed);
                ExitCode::SUCCESS
            }
        },
    }
}
