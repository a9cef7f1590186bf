//! The test harness: seeds from the environment, failures with a replay line that
//! reproduces the same trace hash, and clear errors for bad environment values.

use std::io;

use crate::support::{gossip, gossip_builder, ms};
use seedsim::time::sleep;
use seedsim::{ErrorKind, Runner, Seed};

fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
    move |name| vars.iter().find(|(n, _)| *n == name).map(|(_, v)| v.to_string())
}

#[test]
fn the_environment_picks_the_seeds() {
    let runner = Runner::new().seeds(7).base_seed(Seed(100));
    let plan = runner.plan_from(env(&[])).unwrap();
    assert_eq!((plan.seeds, plan.exact, plan.base_seed), (7, false, Seed(100)));
    assert_ne!(plan.seed(0), plan.seed(1));

    let plan = runner.plan_from(env(&[("SEEDSIM_SEEDS", "250")])).unwrap();
    assert_eq!(plan.seeds, 250);

    let plan = runner.plan_from(env(&[("SEEDSIM_SEED", "0x2a"), ("SEEDSIM_SEEDS", "250")])).unwrap();
    assert_eq!((plan.seeds, plan.exact, plan.seed(0)), (1, true, Seed(42)));

    let plan = runner.plan_from(env(&[("SEEDSIM_LOG", "info,seedsim=debug")])).unwrap();
    assert_eq!(plan.log.as_deref(), Some("info,seedsim=debug"));
}

#[test]
fn bad_environment_values_name_the_variable_and_the_accepted_form() {
    let runner = Runner::new();
    let cases = [
        ("SEEDSIM_SEED", "0xZZ", "expected a decimal u64 or 0x followed by up to 16 hex digits"),
        ("SEEDSIM_SEED", "-3", "expected a decimal u64"),
        ("SEEDSIM_SEEDS", "many", "expected a whole number from 1 to 1000000000"),
        ("SEEDSIM_SEEDS", "0", "expected a whole number from 1 to 1000000000"),
        ("SEEDSIM_LOG", "seedsim=loud", "expected a tracing filter"),
    ];
    for (var, value, expected) in cases {
        let err = runner.plan_from(env(&[(var, value)])).unwrap_err();
        assert!(matches!(err.kind(), ErrorKind::InvalidEnv { var: v, .. } if *v == var), "{err}");
        let message = err.to_string();
        assert!(message.starts_with(&format!("invalid {var}={value:?}")), "{message}");
        assert!(message.contains(expected), "{message}");
    }
    assert!(Runner::new().seeds(0).plan_from(env(&[])).is_err());
}

#[test]
fn a_failure_carries_a_replay_line_that_reproduces_its_trace_hash() {
    // A bug that needs an unlucky interleaving: two tasks race for a "lock" without a real
    // lock, and only some seeds interleave them so both get in.
    let scenario = |sim: &mut seedsim::Sim| {
        sim.client("racer", async {
            let holder = std::rc::Rc::new(std::cell::Cell::new(0u32));
            let tasks: Vec<_> = (1..=2)
                .map(|me| {
                    let holder = holder.clone();
                    seedsim::task::spawn(async move {
                        let wait = seedsim::rand::RngExt::random_range(&mut seedsim::rand::rng(), 0..3);
                        sleep(ms(wait)).await;
                        if holder.get() == 0 {
                            seedsim::task::yield_now().await; // check, then act: the race
                            assert_eq!(holder.get(), 0, "two holders of the lock");
                            holder.set(me);
                        }
                    })
                })
                .collect();
            for t in tasks {
                t.await.unwrap();
            }
            Ok::<(), io::Error>(())
        })?;
        Ok(())
    };
    let report = Runner::new().seeds(200).name("it::runner::race").try_run(scenario).unwrap();
    let failure = report.failure.expect("some seed interleaves the racers badly");
    assert!(report.passed < 200);
    // The line names the test runner this test runs under.
    if std::env::var_os("NEXTEST").is_some() {
        let expected =
            format!("SEEDSIM_SEED={} cargo nextest run -p seedsim -E 'test(=it::runner::race)'", failure.seed);
        assert_eq!(failure.replay, expected);
    } else {
        assert!(failure.replay.starts_with(&format!("SEEDSIM_SEED={} cargo test", failure.seed)), "{}", failure.replay);
        assert!(failure.replay.contains("it::runner::race -- --exact"), "{}", failure.replay);
    }

    // Replaying that seed exactly, as the replay line's SEEDSIM_SEED would.
    let replay = Runner::new().base_seed(failure.seed).seeds(1).determinism_checks(0);
    let plan = replay.plan_from(env(&[("SEEDSIM_SEED", &failure.seed.to_string())])).unwrap();
    assert_eq!(plan.seed(0), failure.seed);
    let mut sim = seedsim::Sim::new(plan.seed(0));
    scenario(&mut sim).unwrap();
    let replayed = sim.run().into_failure().expect("the seed fails again");
    assert_eq!(replayed.trace_hash, failure.trace_hash);
    assert_eq!(replayed.cause, failure.cause);
    assert_eq!(replayed.time, failure.time);
}

#[test]
fn a_passing_sweep_reports_its_runs() {
    let report = Runner::new().seeds(25).determinism_checks(3).builder(gossip_builder()).try_run(gossip).unwrap();
    assert!(report.failure.is_none());
    assert_eq!(report.passed, 25);
    assert_eq!(report.runs, 28, "25 seeds and 3 determinism re-runs");
}

#[test]
fn a_scenario_setup_error_is_an_error_not_a_finding() {
    let err = Runner::new()
        .try_run(|sim| {
            sim.node("twin", || async {})?;
            sim.node("twin", || async {})?;
            Ok(())
        })
        .unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::DuplicateNode);
    let panic = std::panic::catch_unwind(|| Runner::new().run(|sim| sim.node("bad name", || async {}).map(drop)));
    let message = panic.unwrap_err().downcast::<String>().unwrap();
    assert!(message.contains("invalid node name \"bad name\""), "{message}");
}

#[test]
fn a_failing_seed_writes_its_timeline_and_trace_where_asked_and_the_report_names_them() {
    let dir = std::env::temp_dir().join(format!("seedsim-runner-files-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (html, trace) = (dir.join("failure.html"), dir.join("failure.txt"));
    let failing = |sim: &mut seedsim::Sim| {
        sim.client("c", async {
            sleep(ms(5)).await;
            Err::<(), _>(io::Error::other("the check failed"))
        })?;
        Ok(())
    };
    let report = Runner::new().seeds(3).html(&html).trace(&trace).try_run(failing).unwrap();
    let failure = report.failure.expect("the client fails");
    let text = failure.to_string();
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("<html") && page.contains("the check failed"), "the timeline shows the failure");
    let lines = std::fs::read_to_string(&trace).unwrap();
    assert!(lines.lines().count() >= failure.last_events.len(), "the whole trace: {lines}");
    assert!(lines.contains(failure.last_events.last().unwrap().trim()), "{lines}");
    let names: Vec<&str> = failure.files.iter().map(|(what, _)| *what).collect();
    assert_eq!(names, ["timeline", "trace"]);
    assert!(text.contains("  timeline:   ") && text.contains("failure.html"), "{text}");
    assert!(text.contains("  trace:      ") && text.contains("failure.txt"), "{text}");
    // A file that cannot be written is said in the report; the failure is still the finding.
    let nowhere = dir.join("no-such-dir").join("t.html");
    let report = Runner::new().seeds(1).html(&nowhere).try_run(failing).unwrap();
    let text = report.failure.expect("still fails").to_string();
    assert!(text.contains("timeline:   not written: ") && text.contains("no-such-dir"), "{text}");
    // The environment names them too, over the runner's own choice.
    let plan =
        Runner::new().html("a.html").plan_from(env(&[("SEEDSIM_HTML", "b.html"), ("SEEDSIM_TRACE", "t.txt")])).unwrap();
    assert_eq!(plan.html, Some("b.html".into()));
    assert_eq!(plan.trace, Some("t.txt".into()));
    std::fs::remove_dir_all(&dir).unwrap();
}
