//! buggify!, assert_always!/assert_sometimes! with coverage, invariants, and liveness after
//! faults heal.

use std::cell::Cell;
use std::io;
use std::rc::Rc;
use std::time::Duration;

use crate::support::ms;
use seedsim::check::AssertionKind;
use seedsim::time::sleep;
use seedsim::{buggify, Cause, Runner, Seed, Sim};

#[test]
fn buggify_is_off_outside_a_simulation() {
    for _ in 0..1_000 {
        assert!(!buggify!());
        assert!(!buggify!(1 / 1));
    }
}

fn buggify_run(seed: u64) -> (Vec<(bool, u64, u64)>, u64) {
    let mut sim = Sim::new(Seed(seed));
    sim.client("c", async {
        for _ in 0..400 {
            if buggify!() {
                sleep(ms(1)).await;
            }
            if buggify!(1 / 2) {
                seedsim::task::yield_now().await;
            }
            let _ = buggify!(1 / 1);
        }
        Ok::<(), io::Error>(())
    })
    .unwrap();
    let summary = sim.run().unwrap();
    let sites = summary.coverage.buggify.iter().map(|s| (s.enabled, s.evaluated, s.fired)).collect();
    (sites, summary.trace_hash)
}

#[test]
fn buggify_sites_are_enabled_by_the_seed_and_fire_at_their_rate() {
    let mut enabled_counts = [0; 3];
    for seed in 0..40 {
        let (sites, hash) = buggify_run(seed);
        assert_eq!((sites.clone(), hash), buggify_run(seed), "seed {seed} repeats");
        assert_eq!(sites.len(), 3);
        for (i, (enabled, evaluated, fired)) in sites.iter().enumerate() {
            assert_eq!(*evaluated, 400);
            if !enabled {
                assert_eq!(*fired, 0, "a disabled site never fires");
                continue;
            }
            enabled_counts[i] += 1;
            let expected = [100, 200, 400][i];
            assert!(
                (fired * 10).abs_diff(expected * 10) <= expected * 3,
                "site {i} fired {fired}, expected about {expected}"
            );
        }
    }
    for count in enabled_counts {
        assert!((10..=30).contains(&count), "about half the seeds enable each site: {enabled_counts:?}");
    }
}

#[test]
fn a_failing_run_reports_which_buggify_sites_fired() {
    let mut sim = Sim::new(Seed(2));
    sim.client("c", async {
        let mut fired = false;
        for _ in 0..100 {
            fired |= buggify!(1 / 1);
        }
        assert!(!fired, "buggify fired");
        Ok::<(), io::Error>(())
    })
    .unwrap();
    // Seed 2 may disable the site; find a seed that enables it.
    let failure = (0..20)
        .find_map(|seed| {
            let mut sim = Sim::new(Seed(seed));
            sim.client("c", async {
                let mut fired = false;
                for _ in 0..100 {
                    fired |= buggify!(1 / 1);
                }
                assert!(!fired, "buggify fired");
                Ok::<(), io::Error>(())
            })
            .unwrap();
            sim.run().into_failure()
        })
        .expect("some seed enables the site");
    let text = failure.to_string();
    assert!(text.contains("buggify fired at: tests/it/checks.rs:"), "{text}");
    assert!(failure.last_events.iter().any(|line| line.contains("buggify fired at tests/it/checks.rs")), "{text}");
    drop(sim);
}

#[test]
fn assert_always_fails_the_run_with_its_name_and_location() {
    let mut sim = Sim::new(Seed(1));
    sim.node("bank", || async {
        let mut balance = 10i64;
        for withdrawal in [3, 4, 5] {
            sleep(ms(1)).await;
            balance -= withdrawal;
            seedsim::assert_always!(balance >= 0, "balance never negative");
        }
    })
    .unwrap();
    sim.client("c", async {
        sleep(ms(10)).await;
        Ok::<(), io::Error>(())
    })
    .unwrap();
    let failure = sim.run().into_failure().expect("the third withdrawal overdraws");
    let Cause::Assertion { name, location } = &failure.cause else { panic!("{failure}") };
    assert_eq!(name, "balance never negative");
    assert!(location.starts_with("tests/it/checks.rs:"), "{location}");
    assert_eq!(failure.node.as_deref(), Some("bank"));
    assert_eq!(failure.time, seedsim::time::Instant::ZERO + ms(3));
    let assertion = &failure.coverage.assertions[0];
    assert_eq!((assertion.kind, assertion.evaluated, assertion.held), (AssertionKind::Always, 3, 2));
}

#[test]
fn sometimes_assertions_that_never_held_are_reported_per_run_and_per_sweep() {
    let scenario = |sim: &mut Sim| {
        sim.client("c", async {
            let roll: u32 = seedsim::rand::RngExt::random_range(&mut seedsim::rand::rng(), 0..100);
            seedsim::assert_sometimes!(roll < 50, "a low roll");
            seedsim::assert_sometimes!(roll == 1_000, "an impossible roll");
            Ok::<(), io::Error>(())
        })?;
        Ok(())
    };
    let report = Runner::new().seeds(30).try_run(scenario).unwrap();
    let never: Vec<&str> = report.coverage.never_held().iter().map(|a| a.name.as_str()).collect();
    assert_eq!(never, ["an impossible roll"]);
    let low = report.coverage.assertions.iter().find(|a| a.name == "a low roll").unwrap();
    assert_eq!(low.evaluated, 30);
    assert!((5..=25).contains(&low.held), "{low:?}");
    assert!(report.coverage.to_string().contains("NEVER HELD"));
}

#[test]
fn an_invariant_is_checked_after_steps_and_names_the_violation() {
    let counter = Rc::new(Cell::new(0u32));
    let mut sim = Sim::new(Seed(1));
    let bump = counter.clone();
    sim.client("c", async move {
        for _ in 0..10 {
            bump.set(bump.get() + 1);
            sleep(ms(1)).await;
        }
        Ok::<(), io::Error>(())
    })
    .unwrap();
    let watched = counter.clone();
    sim.invariant("counter stays below 5", move || {
        if watched.get() < 5 {
            Ok(())
        } else {
            Err(format!("counter reached {}", watched.get()))
        }
    });
    let failure = sim.run().into_failure().unwrap();
    assert_eq!(
        failure.cause,
        Cause::Invariant { name: "counter stays below 5".into(), message: "counter reached 5".into() }
    );
    assert_eq!(failure.time, seedsim::time::Instant::ZERO + ms(4));
}

/// Replicas that agree only once the network lets them: `healed` flips when every node is
/// up and reachable again, as a convergence protocol would after faults end.
fn converging(recover_at: &str, property_delay: Duration, within: Duration) -> Option<Cause> {
    let converged = Rc::new(Cell::new(false));
    let mut sim = Sim::new(Seed(3));
    for name in ["a", "b"] {
        sim.node(name, || sleep(Duration::from_secs(3600))).unwrap();
    }
    let flag = converged.clone();
    sim.client("observer", async move {
        // Converges `property_delay` after the faults end at 2 s, and only then.
        sleep(Duration::from_secs(2) + property_delay).await;
        flag.set(true);
        sleep(Duration::from_secs(20)).await;
        Ok::<(), io::Error>(())
    })
    .unwrap();
    sim.faults(format!("500ms crash a\n1s partition a | b\n{recover_at} recover").parse().unwrap()).unwrap();
    let watched = converged.clone();
    sim.liveness("replicas converge", within, move || watched.get());
    sim.run().into_failure().map(|f| f.cause)
}

#[test]
fn liveness_holds_when_the_property_becomes_true_in_time_after_recover() {
    assert_eq!(converging("2s", Duration::from_secs(3), Duration::from_secs(5)), None);
}

#[test]
fn liveness_fails_with_a_report_when_the_property_is_late() {
    let cause = converging("2s", Duration::from_secs(8), Duration::from_secs(5)).expect("8 s is later than 5 s");
    let Cause::Liveness { name, since, within, run_ended } = &cause else { panic!("{cause}") };
    assert_eq!((name.as_str(), *within, *run_ended), ("replicas converge", Duration::from_secs(5), false));
    assert_eq!(*since, seedsim::time::Instant::ZERO + Duration::from_secs(2), "measured from the recover");
    assert!(cause.to_string().contains("did not hold within 5s of 2.000000000s"), "{cause}");
}

#[test]
fn liveness_is_measured_from_the_last_recover_only() {
    // The plan recovers at 9 s instead: the property (true at 5 s) held by then.
    assert_eq!(converging("9s", Duration::from_secs(3), Duration::from_secs(1)), None);
}
