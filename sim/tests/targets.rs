//! The simulation targets run as binaries: exit codes and their output.

use std::process::Command;

fn kv() -> Command {
    Command::new(env!("CARGO_BIN_EXE_kv"))
}

#[test]
fn the_kv_target_passes_its_seeds_and_exits_zero() {
    let output = kv().env("SEEDSIM_SEEDS", "50").env_remove("SEEDSIM_SEED").output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("kv: 50 seed(s) passed"), "{stdout}");
}

#[test]
fn a_bad_seed_exits_two_naming_the_variable() {
    let output = kv().env("SEEDSIM_SEED", "0xnope").output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr.contains("invalid SEEDSIM_SEED=\"0xnope\""), "{stderr}");
}

#[test]
fn one_seed_replays_with_its_trace_hash() {
    let run = || kv().env("SEEDSIM_SEED", "0x2a").output().unwrap();
    let (first, second) = (run(), run());
    assert_eq!(first.status.code(), Some(0));
    let line = |out: &std::process::Output| {
        String::from_utf8_lossy(&out.stderr).lines().find(|l| l.contains("trace hash")).map(str::to_owned)
    };
    let hash = line(&first).expect("a replayed seed prints its trace hash");
    assert!(hash.contains("seed 0x000000000000002a passed"), "{hash}");
    assert_eq!(Some(hash), line(&second));
}

#[test]
fn seedsim_log_stamps_every_line_with_simulated_time_and_node() {
    let output = kv().env("SEEDSIM_SEED", "7").env("SEEDSIM_LOG", "seedsim=debug").output().unwrap();
    assert_eq!(output.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let lines: Vec<&str> = stdout.lines().filter(|l| l.contains("DEBUG seedsim:")).collect();
    assert!(lines.len() > 100, "expected a log of every event, got {} lines", lines.len());
    let starts = lines.iter().filter(|l| l.ends_with("start replica1")).count();
    assert_eq!(starts, 1, "the seed is logged once, not again by the determinism check");
    for line in &lines {
        let mut fields = line.split_whitespace();
        let time = fields.next().unwrap();
        let node = fields.next().unwrap();
        let seconds = time.strip_suffix('s').expect("a time stamp in seconds");
        let (whole, fraction) = seconds.split_once('.').expect("seconds.nanoseconds");
        assert!(whole.parse::<u64>().is_ok() && fraction.len() == 9, "{line}");
        assert!(
            node == "-" || node.starts_with("replica") || node.starts_with("client") || node == "nemesis",
            "{line}"
        );
    }
    assert!(
        lines.iter().any(|l| l.contains(" replica1 ") && l.contains("send datagram")),
        "sends are stamped with their node"
    );
    assert!(
        lines.iter().any(|l| l.contains("crash ") || l.contains("partition ") || l.contains("isolate ")),
        "faults are logged"
    );
}
