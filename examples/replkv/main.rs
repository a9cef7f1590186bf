//! One codebase for simulation and production: a primary-backup key-value store whose node
//! code (`replica.rs`) runs unchanged under seedsim's simulator and as real replicas on
//! loopback.
//!
//! ```text
//! cargo run --release --example replkv --features tokio                  # search seeds for the planted bug
//! cargo run --release --example replkv --features tokio -- --fixed       # the fixed variant, 1,000 seeds
//! cargo run --release --example replkv --features tokio -- --real        # 3 real replicas + a client on loopback
//! cargo run --release --example replkv --features tokio -- --real --port 7100 --writes 100
//! cargo test --example replkv --features tokio                           # its tests: both backends
//! ```
//!
//! `--real` starts three replicas, each on its own thread with its own
//! `seedsim::real::Runtime` and data directory, listening on `127.0.0.1:PORT`, `PORT+1` and
//! `PORT+2`, then runs the client against the primary and prints what it read back. The
//! simulation runs the same `replica` and `client` functions on nodes `r0`, `r1`, `r2` under
//! crashes, pauses, partitions and clogs. Only the addresses differ.
//!
//! Exits 0 when every seed passed (or the real run's reads checked out), 1 when a run failed
//! (the report and its replay line are printed), 2 on bad input.

mod replica;
mod world;

use std::io;
use std::path::PathBuf;
use std::process::ExitCode;

use replica::Config;
use seedsim::Runner;
use world::{profile, scenario};

fn runner(seeds: u64, command: &str) -> Runner {
    Runner::new().seeds(seeds).nemesis(profile()).replay_command(command)
}

/// Three real replicas on `127.0.0.1:port..port+2`, each on a thread of its own, and the
/// client on this thread.
fn real(port: u16, writes: u32, data: PathBuf) -> io::Result<replica::ClientReport> {
    let replicas: Vec<String> = (0..3).map(|id| format!("127.0.0.1:{}", port + id)).collect();
    for id in 0..replicas.len() {
        let config = Config { id, replicas: replicas.clone(), sync_before_ack: true };
        let dir = data.join(format!("r{id}"));
        // Real replicas are separate machines in miniature: a thread and a runtime each.
        #[allow(clippy::disallowed_methods)]
        std::thread::spawn(move || {
            let runtime = seedsim::real::Runtime::new().expect("a tokio runtime starts").data_dir(dir);
            if let Err(err) = runtime.block_on(replica::replica(config)) {
                eprintln!("replkv: replica {id} stopped: {err}");
            }
        });
    }
    // The client retries until the primary is up, as it does after a simulated crash.
    seedsim::real::Runtime::new()?.block_on(replica::client(&replicas[0], writes))
}

fn main() -> ExitCode {
    let (mut fixed, mut real_mode, mut port, mut writes) = (false, false, 7100u16, 40u32);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let parsed = match arg.as_str() {
            "--fixed" => {
                fixed = true;
                Ok(())
            }
            "--real" => {
                real_mode = true;
                Ok(())
            }
            "--port" => {
                parse(args.next(), "a port from 1 to 65533", |p: &u16| (1..=65533).contains(p)).map(|p| port = p)
            }
            "--writes" => parse(args.next(), "a number of writes from 1 up", |w: &u32| *w > 0).map(|w| writes = w),
            other => Err(format!("unknown argument {other:?}: expected --fixed, --real, --port N, --writes N")),
        };
        if let Err(expected) = parsed {
            eprintln!("replkv: {arg} needs {expected}");
            return ExitCode::from(2);
        }
    }
    if real_mode {
        let data = std::env::temp_dir().join(format!("seedsim-replkv-{}", std::process::id()));
        println!("replkv: 3 replicas on 127.0.0.1:{port}..{}, data in {}", port + 2, data.display());
        let result = real(port, writes, data.clone());
        let _ = std::fs::remove_dir_all(&data);
        return match result {
            Ok(report) => {
                println!(
                    "replkv: {} writes acknowledged ({} retried); read back {:?}",
                    report.acked, report.failed, report.values
                );
                ExitCode::SUCCESS
            }
            Err(err) => {
                eprintln!("replkv: {err}");
                ExitCode::from(1)
            }
        };
    }
    let (seeds, command) = if fixed {
        (1_000, "cargo run --release --example replkv --features tokio -- --fixed")
    } else {
        (1_000, "cargo run --release --example replkv --features tokio")
    };
    match runner(seeds, command).try_run(|sim| scenario(sim, fixed, writes)) {
        Err(err) => {
            eprintln!("replkv: {err}");
            ExitCode::from(2)
        }
        Ok(report) => match report.failure {
            Some(failure) => {
                println!("replkv: seed {} failed after {} passing seed(s):\n{failure}", failure.seed, report.passed);
                ExitCode::from(1)
            }
            None => {
                println!("replkv: all {} seed(s) passed", report.passed);
                ExitCode::SUCCESS
            }
        },
    }
}

/// A flag's value, or what was expected of it.
fn parse<T: std::str::FromStr>(value: Option<String>, expected: &str, valid: impl Fn(&T) -> bool) -> Result<T, String> {
    value.and_then(|v| v.parse().ok()).filter(valid).ok_or_else(|| expected.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use seedsim::Cause;

    #[test]
    fn the_fixed_store_keeps_every_acknowledged_write_in_simulation() {
        let report = runner(150, "test").try_run(|sim| scenario(sim, true, 20)).unwrap();
        assert!(report.failure.is_none(), "{}", report.failure.unwrap());
        assert_eq!(report.passed, 150);
    }

    #[test]
    fn the_planted_bug_loses_an_acknowledged_write_in_simulation() {
        let report = runner(1_000, "test").try_run(|sim| scenario(sim, false, 20)).unwrap();
        let failure = report.failure.expect("the simulator finds the lost write");
        let Cause::ClientError { message } = &failure.cause else { panic!("{failure}") };
        assert!(message.contains("lost write"), "{message}");
    }

    #[test]
    fn the_same_code_runs_as_real_replicas_on_loopback() {
        // Three consecutive free ports: bind them, note the first, let them go.
        let port = (20_000..60_000u16)
            .step_by(7)
            .find(|&port| (0..3).all(|k| std::net::TcpListener::bind(("127.0.0.1", port + k)).is_ok()))
            .expect("three free ports on loopback");
        let data = std::env::temp_dir().join(format!("seedsim-replkv-test-{}", std::process::id()));
        let report = real(port, 10, data.clone());
        let logs: Vec<usize> = (0..3)
            .map(|id| {
                std::fs::read(data.join(format!("r{id}/replkv/wal")))
                    .map_or(0, |wal| wal.split(|&b| b == b'\n').count() - 1)
            })
            .collect();
        let _ = std::fs::remove_dir_all(&data);
        let report = report.unwrap();
        assert_eq!(report.acked, 10);
        assert!(!report.values.is_empty() && report.values.len() <= 4, "{report:?}");
        assert_eq!(logs[0], 10, "the primary logged every write in its own data directory");
        assert!(logs[1] + logs[2] >= 10, "each write is on a backup's disk too: {logs:?}");
    }
}
