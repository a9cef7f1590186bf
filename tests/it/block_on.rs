//! `Sim::block_on`: a future that borrows the caller's locals runs as a client and is dropped
//! before `block_on` returns, on every way out: its output, a failure of the run, its own
//! panic, a deadlock, a limit, a bad name, and a panic unwinding through `block_on`.

use std::cell::Cell;
use std::future::{pending, Future};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use seedsim::{BlockOnError, Cause, OnLimit, Seed, Sim};

/// Sets its flag when dropped: a future holding one borrows the flag from the test's stack.
struct DropFlag<'a>(&'a Cell<bool>);

impl Drop for DropFlag<'_> {
    fn drop(&mut self) {
        self.0.set(true);
    }
}

/// `future`, owning a `DropFlag` from the start: dropping it, polled or not, sets `flag`.
fn flagged<'a, F: Future + 'a>(flag: &'a Cell<bool>, future: F) -> impl Future<Output = F::Output> + 'a {
    let guard = DropFlag(flag);
    async move {
        let _guard = guard;
        future.await
    }
}

#[test]
fn a_borrowed_future_returns_its_output_and_mutates_locals() {
    let mut counter = 0u32;
    let dropped = Cell::new(false);
    let mut sim = Sim::new(Seed(3));
    let out = sim
        .block_on(
            "main",
            flagged(&dropped, async {
                for _ in 0..5 {
                    seedsim::time::sleep(Duration::from_millis(10)).await;
                    counter += 1;
                }
                &counter as *const u32 as usize // a non-'static-looking output is fine too
            }),
        )
        .unwrap();
    assert!(dropped.get());
    assert_eq!(out, &counter as *const u32 as usize);
    assert_eq!(counter, 5);
    assert_eq!(sim.now().since_start(), Duration::from_millis(50));
}

#[test]
fn the_output_may_borrow_from_the_caller() {
    let text = String::from("borrowed output");
    let mut sim = Sim::new(Seed(1));
    let slice: &str = sim.block_on("main", async { &text[..8] }).unwrap();
    assert_eq!(slice, "borrowed");
}

#[test]
#[allow(clippy::async_yields_async)] // the first block_on returns a JoinHandle on purpose
fn spawned_tasks_outlive_one_block_on_and_the_next_one_carries_on() {
    let run = |seed| {
        let mut sim = Sim::new(Seed(seed));
        let (tx, rx) = std::sync::mpsc::channel::<u32>();
        let handle = sim
            .block_on("first", async move {
                // The handle is the output: the task runs on after this block_on.
                seedsim::task::spawn(async move {
                    for i in 0..3 {
                        seedsim::time::sleep(Duration::from_secs(1)).await;
                        tx.send(i).unwrap();
                    }
                    7u32
                })
            })
            .unwrap();
        let mut got = Vec::new();
        let seven = sim
            .block_on("second", async {
                let value = handle.await.unwrap();
                got.extend(rx.try_iter());
                value
            })
            .unwrap();
        assert_eq!(seven, 7);
        assert_eq!(got, [0, 1, 2]);
        // The run goes on: a later Sim::run ends it (every client has finished).
        sim.run().unwrap().trace_hash
    };
    assert_eq!(run(11), run(11), "the same seed replays to the same trace hash");
}

#[test]
fn a_failure_elsewhere_drops_the_future_before_returning() {
    let dropped = Cell::new(false);
    let mut sim = Sim::new(Seed(5));
    sim.node("bad", || async {
        seedsim::time::sleep(Duration::from_secs(1)).await;
        if seedsim::time::Instant::now().since_start() >= Duration::from_secs(1) {
            panic!("node bad fails");
        }
    })
    .unwrap();
    let result = sim.block_on(
        "main",
        flagged(&dropped, async {
            seedsim::time::sleep(Duration::from_secs(10)).await;
        }),
    );
    assert!(dropped.get(), "the future was dropped before block_on returned");
    let Err(BlockOnError::Ended(outcome)) = result else { panic!("expected the run's failure, got {result:?}") };
    let failure = outcome.failure().expect("failed");
    assert!(matches!(&failure.cause, Cause::Panic { message, .. } if message.contains("node bad fails")), "{failure}");
    // The run has ended: another block_on says so at once, and drops its future too.
    let again = Cell::new(false);
    let result = sim.block_on("later", flagged(&again, async {}));
    assert!(matches!(result, Err(BlockOnError::Ended(_))));
    assert!(again.get());
}

#[test]
fn its_own_panic_fails_the_run_and_drops_the_future() {
    let dropped = Cell::new(false);
    let mut sim = Sim::new(Seed(5));
    let result = sim.block_on(
        "main",
        flagged(&dropped, async {
            seedsim::time::sleep(Duration::from_millis(1)).await;
            if !dropped.get() {
                panic!("the future panics");
            }
        }),
    );
    assert!(dropped.get());
    let error = result.unwrap_err();
    assert!(error.to_string().contains("the future panics"), "{error}");
    assert!(error.to_string().contains("replay:"), "the report carries a replay line: {error}");
}

#[test]
fn a_deadlock_and_a_passing_limit_end_it_and_drop_the_future() {
    let dropped = Cell::new(false);
    let mut sim = Sim::new(Seed(2));
    let result = sim.block_on(
        "main",
        flagged(&dropped, async {
            pending::<()>().await;
        }),
    );
    assert!(dropped.get());
    let outcome = result.unwrap_err().outcome().cloned().expect("ended");
    assert!(matches!(outcome.failure().map(|f| &f.cause), Some(Cause::Deadlock { .. })));

    let dropped = Cell::new(false);
    let mut sim =
        Sim::builder().seed(Seed(2)).time_limit(Duration::from_secs(5)).on_limit(OnLimit::Pass).build().unwrap();
    let result = sim.block_on(
        "main",
        flagged(&dropped, async {
            seedsim::time::sleep(Duration::from_secs(60)).await;
        }),
    );
    assert!(dropped.get());
    let error = result.unwrap_err();
    assert!(error.outcome().is_some_and(|outcome| outcome.is_passed()), "{error}");
    assert!(error.to_string().contains("before the future finished"), "{error}");
}

#[test]
fn a_bad_name_is_an_error_and_drops_the_future() {
    let dropped = Cell::new(false);
    let mut sim = Sim::new(Seed(2));
    sim.node("taken", || async {}).unwrap();
    let result = sim.block_on("taken", flagged(&dropped, async {}));
    assert!(matches!(result, Err(BlockOnError::Invalid(_))), "{result:?}");
    assert!(dropped.get());
    let result = sim.block_on("no spaces", async {});
    assert!(matches!(result, Err(BlockOnError::Invalid(_))), "{result:?}");
}

/// A waker whose wake panics: the run loop calls it when the timer fires, outside any poll,
/// so the panic unwinds out of `block_on` while the borrowed future is still in the world.
struct PanickingWaker;

impl Wake for PanickingWaker {
    fn wake(self: Arc<Self>) {
        panic!("a foreign waker panics");
    }
}

/// Polls its sleep once with a `PanickingWaker`, then stays pending on its own waker.
struct PollWithForeignWaker(Pin<Box<seedsim::time::Sleep>>, bool);

impl Future for PollWithForeignWaker {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<()> {
        if !self.1 {
            self.1 = true;
            let waker = Waker::from(Arc::new(PanickingWaker));
            let _ = self.0.as_mut().poll(&mut Context::from_waker(&waker));
        }
        Poll::Pending
    }
}

#[test]
fn a_panic_unwinding_through_block_on_drops_the_future_first() {
    let dropped = Cell::new(false);
    let mut sim = Sim::new(Seed(9));
    let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        sim.block_on(
            "main",
            flagged(&dropped, async {
                PollWithForeignWaker(Box::pin(seedsim::time::sleep(Duration::from_secs(1))), false).await;
            }),
        )
    }));
    let payload = unwound.expect_err("the waker's panic unwinds through block_on");
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"a foreign waker panics"));
    assert!(dropped.get(), "the future was dropped before the panic left block_on");
}

#[test]
fn a_panic_starting_the_client_drops_the_future() {
    let dropped = Cell::new(false);
    let mut sim = Sim::builder().seed(Seed(9)).tasks_max(1).build().unwrap();
    sim.node("busy", pending::<()>).unwrap();
    let unwound =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| sim.block_on("main", flagged(&dropped, async {}))));
    assert!(unwound.is_err(), "the task limit panics");
    assert!(dropped.get());
}
