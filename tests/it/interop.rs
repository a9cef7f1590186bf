//! Other crates inside a simulation: runtime-agnostic primitives (`futures` channels and
//! locks, `tokio::sync`, `async-channel`) work and stay deterministic; a dependency that needs
//! tokio's runtime or reads the host fails in a way that names the cause; and each source of
//! nondeterminism in docs/production.md's checklist is caught by the determinism check.

use std::cell::RefCell;
#[allow(clippy::disallowed_types)] // the point of one test: HashMap's iteration order
use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::io;
use std::rc::Rc;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use seedsim::rand::RngExt;
use seedsim::time::sleep;
use seedsim::{task, Cause, Error, Runner, Sim};

fn ms(millis: u64) -> Duration {
    Duration::from_millis(millis)
}

/// A short random pause, so tasks interleave differently from seed to seed.
async fn jitter() {
    let pause = seedsim::rand::rng().random_range(0..3);
    sleep(ms(pause)).await;
}

/// Run `scenario` over 30 seeds, each twice, and require every run to pass with the same trace
/// hash both times.
fn deterministic_over_seeds<R>(scenario: impl Fn(&mut Sim) -> Result<R, Error>) {
    let report = Runner::new().seeds(30).determinism_checks(30).try_run(|sim| scenario(sim).map(drop)).unwrap();
    assert!(report.failure.is_none(), "{}", report.failure.unwrap());
    assert_eq!(report.passed, 30);
}

#[test]
fn futures_channels_and_locks_work_and_replay() {
    deterministic_over_seeds(|sim| {
        sim.client("c", async {
            let (tx, mut rx) = futures::channel::mpsc::channel::<u32>(2);
            let (done_tx, done_rx) = futures::channel::oneshot::channel();
            let total = Rc::new(futures::lock::Mutex::new(0u32));
            for producer in 0..3u32 {
                let mut tx = tx.clone();
                let total = total.clone();
                let _producer = task::spawn(async move {
                    for k in 0..5 {
                        jitter().await;
                        tx.send(producer * 10 + k).await.expect("the receiver lives");
                        *total.lock().await += 1;
                    }
                });
            }
            drop(tx);
            let _consumer = task::spawn(async move {
                let mut got = Vec::new();
                while let Some(value) = rx.next().await {
                    jitter().await;
                    got.push(value);
                }
                let _ = done_tx.send(got);
            });
            let mut got = done_rx.await.expect("the consumer finished");
            got.sort_unstable();
            let expected: Vec<u32> = (0..3).flat_map(|p| (0..5).map(move |k| p * 10 + k)).collect();
            assert_eq!(got, expected);
            assert_eq!(*total.lock().await, 15);
            Ok::<(), io::Error>(())
        })
    });
}

#[test]
fn tokio_sync_primitives_work_and_replay() {
    deterministic_over_seeds(|sim| {
        sim.client("c", async {
            let (tx, mut rx) = tokio::sync::mpsc::channel::<u32>(2);
            let permits = Rc::new(tokio::sync::Semaphore::new(2));
            let inside = Rc::new(RefCell::new((0u32, 0u32))); // (now, most)
            let state = Rc::new(tokio::sync::RwLock::new(Vec::new()));
            let notify = Rc::new(tokio::sync::Notify::new());
            let (watch_tx, mut watch_rx) = tokio::sync::watch::channel(0u32);
            for worker in 0..4u32 {
                let (tx, permits, inside, state) = (tx.clone(), permits.clone(), inside.clone(), state.clone());
                let _worker = task::spawn(async move {
                    let _permit = permits.acquire().await.expect("the semaphore stays open");
                    {
                        let mut inside = inside.borrow_mut();
                        inside.0 += 1;
                        inside.1 = inside.1.max(inside.0);
                    }
                    sleep(ms(1)).await; // hold the permit while the others start
                    jitter().await;
                    state.write().await.push(worker);
                    inside.borrow_mut().0 -= 1;
                    tx.send(worker).await.expect("the receiver lives");
                });
            }
            drop(tx);
            let waiter = {
                let notify = notify.clone();
                task::spawn(async move { notify.notified().await })
            };
            let (once_tx, once_rx) = tokio::sync::oneshot::channel();
            let mut got = Vec::new();
            while let Some(worker) = rx.recv().await {
                got.push(worker);
                watch_tx.send(got.len() as u32).expect("the watcher lives");
            }
            notify.notify_one();
            waiter.await.expect("notified");
            once_tx.send(got.len()).expect("the receiver lives");
            assert_eq!(once_rx.await.expect("sent"), 4);
            watch_rx.changed().await.expect("the sender lives");
            assert_eq!(*watch_rx.borrow(), 4);
            got.sort_unstable();
            assert_eq!(got, [0, 1, 2, 3]);
            assert_eq!(state.read().await.len(), 4);
            assert_eq!(inside.borrow().1, 2, "the semaphore let at most 2 in, and 2 did get in together");
            let lock = tokio::sync::Mutex::new(5);
            *lock.lock().await += 1;
            assert_eq!(*lock.lock().await, 6);
            Ok::<(), io::Error>(())
        })
    });
}

#[test]
fn async_channel_works_and_replays() {
    deterministic_over_seeds(|sim| {
        let (tx, rx) = async_channel::bounded::<u32>(1);
        sim.node("producer", move || {
            let tx = tx.clone();
            async move {
                for k in 0..10 {
                    jitter().await;
                    tx.send(k).await.expect("the consumer lives");
                }
            }
        })?;
        sim.client("consumer", async move {
            let mut got = Vec::new();
            for _ in 0..10 {
                got.push(rx.recv().await.expect("the producer lives"));
                jitter().await;
            }
            assert_eq!(got, (0..10).collect::<Vec<_>>(), "one producer: in order");
            Ok::<(), io::Error>(())
        })
    });
}

/// The cause of the one failing run of a single-seed simulation.
fn failure_of(scenario: impl FnOnce(&mut Sim)) -> Cause {
    let mut sim = Sim::new(seedsim::Seed(1));
    scenario(&mut sim);
    sim.run().into_failure().expect("the run fails").cause
}

#[test]
fn tokio_spawn_and_tokio_time_in_a_simulation_fail_naming_the_runtime() {
    for cause in [
        failure_of(|sim| {
            sim.client("c", async {
                drop(tokio::spawn(async {}));
                Ok::<(), io::Error>(())
            })
            .unwrap();
        }),
        failure_of(|sim| {
            sim.client("c", async {
                tokio::time::sleep(ms(1)).await;
                Ok::<(), io::Error>(())
            })
            .unwrap();
        }),
    ] {
        let Cause::Panic { message, .. } = &cause else { panic!("{cause}") };
        assert!(message.contains("must be called from the context of a Tokio 1.x runtime"), "{message}");
    }
}

/// Run `node` on two seeds-equal runs and return what the determinism check says.
fn determinism_report(node: fn() -> futures::future::LocalBoxFuture<'static, ()>) -> String {
    let report = Runner::new()
        .seeds(1)
        .determinism_checks(1)
        .try_run(move |sim| {
            sim.client("c", async move {
                node().await;
                Ok::<(), io::Error>(())
            })?;
            Ok(())
        })
        .unwrap();
    let failure = report.failure.expect("the determinism check catches it");
    let Cause::Nondeterminism { message } = &failure.cause else { panic!("{}", failure.cause) };
    assert!(message.contains("the same seed ran twice gave trace hashes"), "{message}");
    message.clone()
}

/// Sleep 1 ms or 2 ms by a bit the seed does not decide: the trace shows which.
async fn branch_on(bit: bool) {
    sleep(ms(if bit { 1 } else { 2 })).await;
}

#[test]
#[allow(clippy::disallowed_methods, clippy::disallowed_types)] // the point: the host clock
fn the_host_clock_is_caught() {
    determinism_report(|| {
        Box::pin(async {
            for _ in 0..64 {
                let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
                branch_on(nanos / 100 % 2 == 0).await;
            }
        })
    });
}

#[test]
#[allow(clippy::disallowed_types)] // the point: RandomState's keys come from the OS
fn os_randomness_is_caught() {
    determinism_report(|| {
        Box::pin(async {
            for _ in 0..64 {
                branch_on(RandomState::new().hash_one(0u8) % 2 == 0).await;
            }
        })
    });
}

#[test]
#[allow(clippy::disallowed_types)] // the point: RandomState's iteration order
fn hash_map_iteration_order_is_caught() {
    determinism_report(|| {
        Box::pin(async {
            let delays: HashMap<u32, u64> = (0..32).map(|k| (k, u64::from(k % 3) + 1)).collect();
            for delay in delays.values() {
                sleep(ms(*delay)).await;
            }
        })
    });
}

#[test]
fn select_without_a_seeded_order_is_caught() {
    determinism_report(|| {
        Box::pin(async {
            for _ in 0..64 {
                let mut a = futures::future::ready(true);
                let mut b = futures::future::ready(false);
                let picked = futures::select! { a = a => a, b = b => b };
                branch_on(picked).await;
            }
        })
    });
}

#[test]
fn select_biased_is_deterministic() {
    deterministic_over_seeds(|sim| {
        sim.client("c", async {
            for _ in 0..64 {
                let mut a = futures::future::ready(true);
                let mut b = futures::future::ready(false);
                let picked = futures::select_biased! { a = a => a, b = b => b };
                assert!(picked, "biased: the first ready branch");
                branch_on(picked).await;
            }
            Ok::<(), io::Error>(())
        })
    });
}

/// A broadcast that wakes all its waiters at once, in an order drawn from the OS each time,
/// as tokio's `watch` does when tokio's `rt` feature is on anywhere in the build.
#[derive(Default)]
struct ShuffledBroadcast {
    round: std::cell::Cell<u64>,
    waiters: RefCell<Vec<std::task::Waker>>,
}

impl ShuffledBroadcast {
    /// Wait until a round after `seen` is announced; returns that round.
    async fn wait_past(&self, seen: u64) -> u64 {
        std::future::poll_fn(|cx| {
            if self.round.get() > seen {
                return std::task::Poll::Ready(self.round.get());
            }
            self.waiters.borrow_mut().push(cx.waker().clone());
            std::task::Poll::Pending
        })
        .await
    }

    #[allow(clippy::disallowed_types)] // the point: an order the seed does not decide
    fn announce(&self) {
        self.round.set(self.round.get() + 1);
        let mut waiters = std::mem::take(&mut *self.waiters.borrow_mut());
        let shuffle = RandomState::new();
        waiters.sort_by_cached_key(|waker| shuffle.hash_one(waker.data() as usize));
        waiters.into_iter().for_each(std::task::Waker::wake);
    }
}

/// Sleep 1 ms or 2 ms for each entry of `log`, the tasks' wake-up order: a run whose tasks
/// ran in another order has another trace hash.
async fn replay_order(log: &RefCell<Vec<u32>>) {
    let log = log.borrow().clone();
    for waiter in log {
        branch_on(waiter % 2 == 0).await;
    }
}

#[test]
fn the_order_of_wakes_within_a_step_does_not_reach_the_schedule() {
    deterministic_over_seeds(|sim| {
        sim.client("c", async {
            let broadcast = Rc::new(ShuffledBroadcast::default());
            let log = Rc::new(RefCell::new(Vec::new()));
            let waiters: Vec<_> = (0..6u32)
                .map(|waiter| {
                    let (broadcast, log) = (broadcast.clone(), log.clone());
                    task::spawn(async move {
                        let mut seen = 0;
                        while seen < 5 {
                            seen = broadcast.wait_past(seen).await;
                            log.borrow_mut().push(waiter);
                        }
                    })
                })
                .collect();
            for _ in 0..5 {
                sleep(ms(1)).await;
                broadcast.announce();
            }
            for waiter in waiters {
                waiter.await.expect("the waiter finishes");
            }
            assert_eq!(log.borrow().len(), 30);
            replay_order(&log).await;
            Ok::<(), io::Error>(())
        })
    });
}

#[test]
fn tokio_watch_with_several_waiters_replays() {
    deterministic_over_seeds(|sim| {
        sim.client("c", async {
            let (tx, rx) = tokio::sync::watch::channel(0u32);
            let log = Rc::new(RefCell::new(Vec::new()));
            let waiters: Vec<_> = (0..6u32)
                .map(|waiter| {
                    let (mut rx, log) = (rx.clone(), log.clone());
                    task::spawn(async move {
                        while *rx.borrow_and_update() < 5 {
                            rx.changed().await.expect("the sender lives");
                            log.borrow_mut().push(waiter);
                        }
                    })
                })
                .collect();
            for value in 1..=5 {
                sleep(ms(1)).await;
                tx.send(value).expect("receivers live");
            }
            for waiter in waiters {
                waiter.await.expect("the waiter finishes");
            }
            assert_eq!(log.borrow().len(), 30);
            replay_order(&log).await;
            Ok::<(), io::Error>(())
        })
    });
}
