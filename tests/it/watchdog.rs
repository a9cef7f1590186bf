//! The watchdog: a task that never yields is reported (seed, node, task, spawn site, replay
//! line) and ends the test process instead of hanging it; the watchdog changes no trace hash;
//! `SEEDSIM_WATCHDOG` is read and checked like the other variables.

use std::io;
use std::process::Command;
use std::time::Duration;

use seedsim::time::sleep;
use seedsim::{ErrorKind, Runner, Seed, Sim};

/// Set in the child process that `a_task_that_never_yields_is_reported_and_ends_the_process`
/// starts, so that `hanging_child` hangs there and passes everywhere else.
const CHILD_VAR: &str = "SEEDSIM_IT_HANGING_CHILD";

/// Spin without yielding for up to 60 s of host time: far past any limit the tests set, and
/// bounded, so a broken watchdog fails a test rather than hanging it.
#[allow(clippy::disallowed_types, clippy::disallowed_methods)] // a deliberately misbehaving node
fn spin() {
    let started = std::time::Instant::now();
    while started.elapsed() < Duration::from_secs(60) {
        std::hint::spin_loop();
    }
}

#[test]
fn hanging_child() {
    if std::env::var_os(CHILD_VAR).is_none() {
        return;
    }
    Runner::new().seeds(3).run(|sim| {
        sim.node("spinner", || async {
            sleep(Duration::from_millis(3)).await;
            spin();
        })?;
        sim.client("client", async {
            sleep(Duration::from_millis(10)).await;
            Ok::<(), io::Error>(())
        })?;
        Ok(())
    });
}

#[test]
fn a_task_that_never_yields_is_reported_and_ends_the_process() {
    let output = Command::new(std::env::current_exe().unwrap())
        .args(["watchdog::hanging_child", "--exact", "--nocapture", "--test-threads", "1"])
        .env(CHILD_VAR, "1")
        .env("SEEDSIM_WATCHDOG", "0.2")
        .env_remove("SEEDSIM_SEED")
        .env_remove("SEEDSIM_SEEDS")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "the process fails: {stderr}");
    assert!(stderr.contains("cause:      hang: a poll of the task spawned at tests/it/watchdog.rs:"), "{stderr}");
    assert!(stderr.contains("where:      node spinner, task"), "{stderr}");
    let seed = seedsim::DEFAULT_BASE_SEED.nth(0);
    assert!(stderr.contains(&format!("seed:       {seed}")), "{stderr}");
    // The replay line, as a Runner prints it.
    let replay = format!("replay:     SEEDSIM_SEED={seed} cargo test -p seedsim watchdog::hanging_child -- --exact");
    assert!(stderr.contains(&replay), "{stderr}");
    assert!(stderr.contains("the watchdog ends this process"), "{stderr}");
}

fn scenario(sim: &mut Sim) -> Result<(), seedsim::Error> {
    for name in ["a", "b", "c"] {
        sim.node(name, || async {
            let mut rng = seedsim::rand::rng();
            for _ in 0..20 {
                let pause = seedsim::rand::RngExt::random_range(&mut rng, 1..20);
                sleep(Duration::from_millis(pause)).await;
                drop(seedsim::task::spawn(async { seedsim::task::yield_now().await }));
            }
        })?;
    }
    sim.client("client", async {
        sleep(Duration::from_millis(300)).await;
        Ok::<(), io::Error>(())
    })?;
    Ok(())
}

#[test]
fn the_watchdog_changes_no_trace_hash() -> Result<(), seedsim::Error> {
    for seed in 0..20 {
        let hash = |limit: Duration| -> Result<u64, seedsim::Error> {
            let mut sim = Sim::builder().seed(Seed(seed)).watchdog(limit).build()?;
            scenario(&mut sim)?;
            Ok(sim.run().unwrap().trace_hash)
        };
        let off = hash(Duration::ZERO)?;
        assert_eq!(hash(Duration::from_secs(10))?, off, "seed {seed}");
        assert_eq!(hash(Duration::from_millis(200))?, off, "seed {seed}");
    }
    Ok(())
}

#[test]
fn seedsim_watchdog_is_read_and_a_bad_value_names_the_variable() -> Result<(), seedsim::Error> {
    let plan =
        |value: &'static str| Runner::new().plan_from(move |var| (var == "SEEDSIM_WATCHDOG").then(|| value.to_owned()));
    assert_eq!(plan("0.5")?.watchdog, Some(Duration::from_millis(500)));
    assert_eq!(plan("200ms")?.watchdog, Some(Duration::from_millis(200)));
    assert_eq!(plan("0")?.watchdog, Some(Duration::ZERO));
    assert_eq!(Runner::new().plan_from(|_| None)?.watchdog, None);
    let err = plan("abc").unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::InvalidEnv { var: "SEEDSIM_WATCHDOG", .. }), "{err}");
    assert!(err.to_string().contains("SEEDSIM_WATCHDOG") && err.to_string().contains("0 turns"), "{err}");
    Ok(())
}
