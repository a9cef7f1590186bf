//! The command line shared by the bug-finding examples (election, replog, lock, twopc):
//! search seeds for the planted bug, or check the fixed variant, under a fault mode.
//!
//! ```text
//! cargo run --release --example election                       # buggy variant, chaos nemesis
//! cargo run --release --example election -- --faults swarm     # swarm mode
//! cargo run --release --example election -- --fixed            # fixed variant, 10,000 seeds
//! SEEDSIM_SEED=0x… cargo run --release --example election      # replay one seed
//! ```
//!
//! Exits 0 when every seed passed, 1 when a run failed (the report and replay line are
//! printed), 2 on bad input.

use std::process::ExitCode;

use clap::{Arg, ArgAction, Command};
use seedsim::fault::Profile;
use seedsim::{Builder, Error, Runner, Sim};

/// Which faults the runs get.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Faults {
    Calm,
    Chaos,
    Swarm,
    /// The default exploration faults: swarm over the whole vocabulary.
    Default,
}

/// Add the faults of `mode` to a runner.
pub fn with_faults(runner: Runner, mode: Faults) -> Runner {
    match mode {
        Faults::Calm => runner,
        Faults::Chaos => runner.nemesis(Profile::chaos()),
        Faults::Swarm => runner.swarm(Profile::chaos()),
        Faults::Default => runner.default_faults(),
    }
}

pub fn main(
    name: &'static str,
    builder: fn() -> Builder,
    scenario: fn(&mut Sim, bool) -> Result<(), Error>,
) -> ExitCode {
    let matches = Command::new(name)
        .about("Search seeds for the planted bug, or check the fixed variant")
        .arg(
            Arg::new("fixed")
                .long("fixed")
                .action(ArgAction::SetTrue)
                .help("run the fixed variant (default seeds: 10000)"),
        )
        .arg(
            Arg::new("faults")
                .long("faults")
                .value_parser(["calm", "chaos", "swarm", "default"])
                .default_value("chaos")
                .help("faults for every run: none, a chaos nemesis, swarm profiles over chaos, or the default faults"),
        )
        .try_get_matches();
    let matches = match matches {
        Ok(matches) => matches,
        Err(err) => {
            let _ = err.print();
            return ExitCode::from(if err.use_stderr() { 2 } else { 0 });
        }
    };
    let fixed = matches.get_flag("fixed");
    let faults = match matches.get_one::<String>("faults").map(String::as_str) {
        Some("calm") => Faults::Calm,
        Some("swarm") => Faults::Swarm,
        Some("default") => Faults::Default,
        _ => Faults::Chaos,
    };
    let mut command = format!("cargo run --release --example {name} --");
    if fixed {
        command.push_str(" --fixed");
    }
    command.push_str(&format!(" --faults {}", format!("{faults:?}").to_lowercase()));
    let runner = Runner::new().seeds(if fixed { 10_000 } else { 1_000 }).builder(builder()).replay_command(command);
    let runner = with_faults(runner, faults);
    match runner.try_run(|sim| scenario(sim, fixed)) {
        Err(err) => {
            eprintln!("{name}: {err}");
            ExitCode::from(2)
        }
        Ok(report) => match report.failure {
            Some(failure) => {
                println!("{name}: seed {} failed after {} passing seed(s):\n{failure}", failure.seed, report.passed);
                ExitCode::from(1)
            }
            None => {
                println!("{name}: all {} seed(s) passed ({faults:?})", report.passed);
                ExitCode::SUCCESS
            }
        },
    }
}
