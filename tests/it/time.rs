//! Time semantics: timers fire in deadline order, the clock jumps, timeouts and intervals,
//! same-instant order, and skewed node clocks.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use crate::support::ms;
use seedsim::time::{interval, sleep, sleep_until, timeout, Instant, Skew};
use seedsim::{task, world, End, Policy, Seed, Sim};

#[test]
fn timers_fire_in_deadline_order_whatever_the_spawn_order() {
    for seed in 0..20 {
        let fired = Rc::new(RefCell::new(Vec::new()));
        let mut sim = Sim::new(Seed(seed));
        let log = fired.clone();
        sim.client("c", async move {
            let mut handles = Vec::new();
            for delay in [30u64, 10, 50, 20, 40] {
                let log = log.clone();
                handles.push(task::spawn(async move {
                    sleep(ms(delay)).await;
                    log.borrow_mut().push((delay, Instant::now()));
                }));
            }
            for handle in handles {
                handle.await.unwrap();
            }
            Ok::<(), std::io::Error>(())
        })
        .unwrap();
        sim.run().unwrap();
        let fired = fired.borrow();
        let delays: Vec<u64> = fired.iter().map(|(d, _)| *d).collect();
        assert_eq!(delays, vec![10, 20, 30, 40, 50], "seed {seed}");
        for (delay, at) in fired.iter() {
            assert_eq!(*at, Instant::ZERO + ms(*delay), "a timer fires exactly at its deadline");
        }
    }
}

#[test]
fn the_clock_jumps_to_the_next_event_without_ticking() {
    let mut sim = Sim::builder().time_limit(Duration::from_secs(48 * 3600)).build().unwrap();
    sim.client("c", async {
        sleep(Duration::from_secs(24 * 3600)).await;
        Ok::<(), std::io::Error>(())
    })
    .unwrap();
    let summary = sim.run().unwrap();
    assert_eq!(summary.time, Instant::ZERO + Duration::from_secs(24 * 3600));
    // One poll to start, one after the timer: no polls for the day in between.
    assert_eq!(summary.steps, 2);
}

#[test]
fn time_does_not_move_while_tasks_are_ready() {
    let mut sim = Sim::new(Seed(3));
    sim.client("c", async {
        let start = Instant::now();
        for _ in 0..100 {
            task::yield_now().await;
        }
        assert_eq!(Instant::now(), start);
        Ok::<(), std::io::Error>(())
    })
    .unwrap();
    sim.run().unwrap();
}

#[test]
fn timeout_returns_the_value_or_elapses_at_the_deadline() {
    let mut sim = Sim::new(Seed(1));
    sim.client("c", async {
        let start = Instant::now();
        assert_eq!(timeout(ms(10), async { 7 }).await, Ok(7));
        let err = timeout(ms(10), sleep(ms(11))).await.unwrap_err();
        assert_eq!(start.elapsed(), ms(10));
        assert_eq!(err.to_string(), "deadline has elapsed");
        // Ready exactly at the deadline: the future wins, because it is polled first.
        assert!(timeout(ms(5), sleep(ms(5))).await.is_ok());
        Ok::<(), std::io::Error>(())
    })
    .unwrap();
    sim.run().unwrap();
}

#[test]
fn intervals_keep_their_schedule_and_burst_to_catch_up() {
    let mut sim = Sim::new(Seed(1));
    sim.client("c", async {
        let mut ticks = interval(ms(10));
        assert_eq!(ticks.tick().await, Instant::ZERO);
        assert_eq!(ticks.tick().await, Instant::ZERO + ms(10));
        sleep(ms(35)).await; // now 45 ms: the ticks at 20, 30, 40 are late
        let late: Vec<Instant> = vec![ticks.tick().await, ticks.tick().await, ticks.tick().await];
        assert_eq!(late, vec![Instant::ZERO + ms(20), Instant::ZERO + ms(30), Instant::ZERO + ms(40)]);
        assert_eq!(Instant::now(), Instant::ZERO + ms(45));
        assert_eq!(ticks.tick().await, Instant::ZERO + ms(50));
        Ok::<(), std::io::Error>(())
    })
    .unwrap();
    sim.run().unwrap();
}

#[test]
fn tasks_woken_at_the_same_instant_run_in_a_seeded_order() {
    let order = |seed: u64, policy: Policy| {
        let log = Rc::new(RefCell::new(Vec::new()));
        let mut sim = Sim::builder().seed(Seed(seed)).policy(policy).build().unwrap();
        let sink = log.clone();
        sim.client("c", async move {
            let handles: Vec<_> = (0..8)
                .map(|i| {
                    let sink = sink.clone();
                    task::spawn(async move {
                        sleep(ms(5)).await;
                        sink.borrow_mut().push(i);
                    })
                })
                .collect();
            for handle in handles {
                handle.await.unwrap();
            }
            Ok::<(), std::io::Error>(())
        })
        .unwrap();
        sim.run().unwrap();
        log.borrow().clone()
    };
    assert_eq!(order(1, Policy::Fifo), (0..8).collect::<Vec<_>>(), "FIFO keeps the timers' order");
    assert_eq!(order(1, Policy::Random), order(1, Policy::Random));
    let distinct: std::collections::BTreeSet<Vec<i32>> = (0..10).map(|s| order(s, Policy::Random)).collect();
    assert!(distinct.len() > 5, "random scheduling should explore orders: {distinct:?}");
}

#[test]
fn a_skewed_clock_reads_off_true_time_and_times_its_own_sleeps() {
    let mut sim = Sim::new(Seed(1));
    let readings = Rc::new(RefCell::new(Vec::new()));
    let log = readings.clone();
    sim.node("skewed", move || {
        let log = log.clone();
        async move {
            log.borrow_mut().push(Instant::now());
            // The clock runs 10% fast: 110 ms of its time pass in 100 ms of true time.
            sleep(ms(110)).await;
            log.borrow_mut().push(Instant::now());
            sleep_until(Instant::ZERO + Duration::from_secs(10)).await;
            log.borrow_mut().push(Instant::now());
        }
    })
    .unwrap();
    sim.skew_clock("skewed", Skew::ahead(Duration::from_secs(1)).with_drift_ppm(100_000).unwrap()).unwrap();
    let summary = sim.run().unwrap();
    assert_eq!(summary.end, End::Quiescent);
    let readings = readings.borrow();
    assert_eq!(readings[0], Instant::ZERO + Duration::from_secs(1), "one second ahead at the start");
    assert_eq!(readings[1], Instant::ZERO + Duration::from_secs(1) + ms(110));
    assert_eq!(readings[2], Instant::ZERO + Duration::from_secs(10));
    // Its 9 s of clock from 1 s to 10 s took 9 / 1.1 s of true time.
    let true_end = summary.time.as_nanos();
    assert_eq!(true_end, 9_000_000_000 * 10 / 11 + 1, "ceil(9e9 / 1.1) ns");
}

/// A node that sleeps until its clock reads `deadline` and records what its clock and true
/// time read when the sleep ends; a second client changes the node's clock at true `at`.
fn sleep_through_a_clock_change(
    deadline: Duration,
    at: Duration,
    change: impl FnOnce() -> Result<(), seedsim::Error> + 'static,
) -> (Instant, u64) {
    let mut sim = Sim::new(Seed(2));
    let woke = Rc::new(RefCell::new(None));
    let log = woke.clone();
    sim.client("sleeper", async move {
        sleep_until(Instant::ZERO + deadline).await;
        *log.borrow_mut() = Some(Instant::now());
        Ok::<(), std::io::Error>(())
    })
    .unwrap();
    sim.client("operator", async move {
        sleep(at).await;
        change()
    })
    .unwrap();
    let summary = sim.run().unwrap();
    let woke = woke.borrow().expect("the sleep ended");
    (woke, summary.time.as_nanos())
}

#[test]
fn a_sleep_never_ends_before_its_nodes_clock_reads_the_deadline() {
    // Found by an adversarial review (issue 14): the deadline was converted to true time when
    // the sleep began, so a slowdown afterwards ended it when the clock read 80 ms.
    let slow = Skew::NONE.with_drift_ppm(-200_000).unwrap();
    let mut sim = Sim::new(Seed(2));
    sim.client("sleeper", async move {
        let mut sleeping = std::pin::pin!(sleep_until(Instant::ZERO + ms(100)));
        assert!(futures::poll!(&mut sleeping).is_pending(), "the timer is set");
        world::skew_clock("sleeper", slow).unwrap();
        sleeping.await;
        assert_eq!(Instant::now(), Instant::ZERO + ms(100), "a 20% slowdown right after the sleep began");
        Ok::<(), std::io::Error>(())
    })
    .unwrap();
    assert_eq!(sim.run().unwrap().time.as_nanos(), 125_000_000);
    // Slowed at 50 ms: the last 50 ms of the clock take 62.5 ms of true time.
    let (woke, true_end) = sleep_through_a_clock_change(ms(100), ms(50), move || world::skew_clock("sleeper", slow));
    assert_eq!(woke, Instant::ZERO + ms(100));
    assert_eq!(true_end, 112_500_000);
}

#[test]
fn a_step_of_the_clock_neither_ends_a_sleep_early_nor_makes_it_wait_longer() {
    // A sleep measures its node's elapsed time, as a timer on a monotonic clock does (what
    // tokio's sleeps and leases built on them use): a step is not time elapsed. Stepped back
    // 30 ms at 50 ms, the sleep still ends at 100 ms, the clock then reading 70 ms.
    let (woke, true_end) =
        sleep_through_a_clock_change(ms(100), ms(50), || world::skew_clock("sleeper", Skew::behind(ms(30))));
    assert_eq!(woke, Instant::ZERO + ms(70));
    assert_eq!(true_end, 100_000_000);
    // Stepped forward 30 ms, or past the deadline: the same.
    let (woke, true_end) =
        sleep_through_a_clock_change(ms(100), ms(50), || world::skew_clock("sleeper", Skew::ahead(ms(30))));
    assert_eq!(woke, Instant::ZERO + ms(130));
    assert_eq!(true_end, 100_000_000);
    let (woke, true_end) =
        sleep_through_a_clock_change(ms(100), ms(50), || world::skew_clock("sleeper", Skew::ahead(ms(80))));
    assert_eq!(woke, Instant::ZERO + ms(180));
    assert_eq!(true_end, 100_000_000);
    // Made twice as fast at 60 ms: its last 40 ms take 20 ms of true time.
    let fast = Skew::NONE.with_drift_ppm(1_000_000).unwrap();
    let (woke, true_end) = sleep_through_a_clock_change(ms(100), ms(60), move || world::skew_clock("sleeper", fast));
    assert_eq!(woke, Instant::ZERO + ms(100));
    assert_eq!(true_end, 80_000_000);
}

#[test]
fn sleeping_outside_a_simulation_panics_with_a_clear_message() {
    let panic = std::panic::catch_unwind(|| sleep(ms(1))).unwrap_err();
    let message = panic.downcast_ref::<String>().unwrap();
    assert!(message.contains("seedsim::time::sleep was called outside a seedsim simulation"), "{message}");
}

#[test]
fn a_sleep_checked_but_never_polled_measures_elapsed_time_through_steps_too() {
    // Lease code keeps a `Sleep` and asks `is_elapsed` without awaiting it.
    let mut sim = Sim::new(Seed(2));
    sim.client("holder", async {
        let lease = sleep(ms(100));
        world::skew_clock("holder", Skew::ahead(Duration::from_secs(1)))?;
        assert!(!lease.is_elapsed(), "a step forward is not time elapsed");
        sleep(ms(99)).await;
        assert!(!lease.is_elapsed());
        sleep(ms(1)).await;
        assert!(lease.is_elapsed());
        Ok::<(), seedsim::Error>(())
    })
    .unwrap();
    assert!(sim.run().is_passed());
}
