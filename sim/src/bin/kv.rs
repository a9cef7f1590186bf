//! Simulation target: the fixed replicated register (examples/kv) must pass every seed.
//!
//! Like a cargo-fuzz target, it is a few lines over the library: the scenario comes from the
//! example, the seeds from the environment (`SEEDSIM_SEEDS`, default 10,000; `SEEDSIM_SEED`
//! replays one, `SEEDSIM_LOG` logs it). Exits 0 when every seed passed, 1 on a failure (with
//! its report and replay line), 2 on bad input.
//!
//! ```text
//! cargo run --release -p seedsim-targets --bin kv
//! SEEDSIM_SEEDS=1000000 cargo run --release -p seedsim-targets --bin kv
//! ```

#[path = "../../../examples/kv/system.rs"]
#[allow(dead_code)] // the buggy variant is the example's, not this target's
mod system;

use std::process::ExitCode;

use seedsim::Runner;

fn main() -> ExitCode {
    let runner = Runner::new()
        .seeds(10_000)
        .builder(system::builder())
        .replay_command("cargo run --release -p seedsim-targets --bin kv");
    match runner.try_run(|sim| system::scenario(sim, system::Variant::Fixed)) {
        Err(err) => {
            eprintln!("kv: {err}");
            ExitCode::from(2)
        }
        Ok(report) => match report.failure {
            Some(failure) => {
                println!("{failure}");
                ExitCode::from(1)
            }
            None => {
                println!("kv: {} seed(s) passed", report.passed);
                ExitCode::SUCCESS
            }
        },
    }
}
