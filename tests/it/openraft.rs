//! `seedsim::compat::openraft`: openraft's runtime calls, driven through the `AsyncRuntime`
//! trait as openraft drives them, land on seedsim's clock, tasks and seeded randomness.
//! (openraft-rt's own conformance suites run in `ecosystem/openraft`, `.ci/ecosystem-openraft`.)

use std::cell::Cell;
use std::time::Duration;

use seedsim::compat::openraft::{AsyncRuntime, Instant, SeedsimRuntime};
use seedsim::rand::RngExt;
use seedsim::{Seed, Sim};

type Rt = SeedsimRuntime;

#[test]
fn thread_rng_is_the_node_s_seeded_stream() {
    let draws = |seed| {
        let mut rt = Rt::from_sim(Sim::new(Seed(seed)));
        rt.block_on(async {
            let mut rng = Rt::thread_rng();
            (0..4).map(|_| rng.random::<u64>()).collect::<Vec<_>>()
        })
    };
    assert_eq!(draws(7), draws(7), "the same seed draws the same numbers");
    assert_ne!(draws(7), draws(8), "another seed draws others");
    // The same numbers seedsim's own generator gives the node.
    let mut rt = Rt::from_sim(Sim::new(Seed(7)));
    let own = rt.block_on(async { (0..4).map(|_| seedsim::rand::rng().random::<u64>()).collect::<Vec<_>>() });
    assert_eq!(draws(7), own);
}

#[test]
fn time_is_simulated_and_has_a_past_at_the_start() {
    let mut rt = Rt::new(8);
    let (early, slept) = rt.block_on(async {
        let start = <Rt as AsyncRuntime>::Instant::now();
        // openraft computes instants in the past from its first moments.
        let early = start - Duration::from_secs(10);
        Rt::sleep(Duration::from_secs(3)).await;
        Rt::sleep_until(start + Duration::from_secs(5)).await;
        let never = std::future::pending::<()>();
        assert!(Rt::timeout_at(start + Duration::from_secs(6), never).await.is_err());
        (start - early, start.elapsed())
    });
    assert_eq!(early, Duration::from_secs(10));
    assert_eq!(slept, Duration::from_secs(6));
    assert_eq!(rt.sim().now().since_start(), Duration::from_secs(6), "no host time: the sim's clock moved");
    assert_eq!(Instant::from_sim(rt.sim().now()).to_sim(), rt.sim().now());
}

#[test]
fn block_on_borrows_and_spawned_tasks_are_the_node_s() {
    let counter = Cell::new(0);
    let mut rt = Rt::new(1);
    let joined = rt.block_on(async {
        let task = Rt::spawn(async { 40 });
        counter.set(counter.get() + 1);
        task.await.unwrap() + 2
    });
    assert_eq!((joined, counter.get()), (42, 1));
    // A later block_on runs in the same world, as the next client.
    let again = rt.block_on(async { counter.get() });
    assert_eq!(again, 1);
    assert!(rt.sim().is_up("block_on-2").is_ok());
}

#[test]
fn spawn_blocking_runs_inline_without_a_thread() {
    let mut rt = Rt::new(1);
    let caller = std::thread::current().id();
    let ran_on = rt.block_on(async { Rt::spawn_blocking(|| std::thread::current().id()).await.unwrap() });
    assert_eq!(ran_on, caller);
}

#[test]
fn a_failed_run_panics_out_of_block_on_with_its_report() {
    let mut rt = Rt::new(1);
    let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        rt.block_on(std::future::pending::<()>());
    }));
    let payload = unwound.expect_err("a deadlock ends the run");
    let message = payload.downcast_ref::<String>().expect("a formatted report");
    assert!(message.contains("deadlock"), "{message}");
}
