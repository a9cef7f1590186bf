//! A target for seedsim's own command-line tests: scenarios that pass, that always fail,
//! one that is deliberately not deterministic (it reads state left over from an earlier run
//! in the same process), so `check-determinism` has something to catch, and one that fails
//! only on such leftovers, so `explore --isolate` has something to rule out. `tiny` is the
//! 3-node echo scenario `docs/performance.md` measures `explore`'s seeds per second on.
//! `always-fails` has a profile of its own (`--faults spikes`); `own-faults` installs faults
//! in its setup. `watch` waits on tokio's `watch` with six waiters, which tokio wakes in an
//! order the seed does not decide, and must pass `check-determinism` all the same. `hangs`
//! spins without yielding on one seed in four, and `always-hangs` on every seed, for the
//! watchdog (with a small `--watchdog`); `setup-panics` panics outside any run, on a worker.

use std::cell::RefCell;
use std::io;
use std::process::ExitCode;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use seedsim::explore::{self, Scenario};
use seedsim::fault::{Profile, Weights};
use seedsim::net::UdpSocket;
use seedsim::rand::RngExt;
use seedsim::time::{sleep, timeout};
use seedsim::{Error, Sim};

fn passes(sim: &mut Sim) -> Result<(), Error> {
    sim.client("c", async {
        sleep(Duration::from_millis(5)).await;
        Ok::<(), io::Error>(())
    })?;
    Ok(())
}

fn always_fails(sim: &mut Sim) -> Result<(), Error> {
    sim.client("c", async {
        sleep(Duration::from_millis(5)).await;
        Err::<(), _>("this scenario always fails")
    })?;
    Ok(())
}

const ECHO_PORT: u16 = 9000;

/// Three nodes: an echo server and two clients that each get three pings answered, retrying
/// through whatever faults the run injects (and giving up quietly after a while: this
/// scenario measures the runner, not a protocol).
fn tiny(sim: &mut Sim) -> Result<(), Error> {
    sim.node("server", || async {
        let socket = UdpSocket::bind(("0.0.0.0", ECHO_PORT)).await?;
        let mut buf = [0u8; 16];
        loop {
            let (len, from) = socket.recv_from(&mut buf).await?;
            socket.send_to(&buf[..len], from).await?;
        }
        #[allow(unreachable_code)]
        Ok::<(), io::Error>(())
    })?;
    for client in ["a", "b"] {
        sim.client(client, async {
            let socket = UdpSocket::bind("0.0.0.0:0").await?;
            let mut buf = [0u8; 16];
            for ping in 0..3u8 {
                for _attempt in 0..20 {
                    socket.send_to(&[ping; 16], ("server", ECHO_PORT)).await?;
                    if let Ok(Ok((_, _))) = timeout(Duration::from_millis(50), socket.recv_from(&mut buf)).await {
                        if buf[0] == ping {
                            break;
                        }
                    }
                }
            }
            Ok::<(), io::Error>(())
        })?;
    }
    Ok(())
}

static LEFT_OVER: AtomicU64 = AtomicU64::new(0);
static TOUCHED: AtomicBool = AtomicBool::new(false);

/// Fails when it finds state an earlier run in this process left behind: the failure
/// `explore --isolate` exists to rule out.
fn leaky(sim: &mut Sim) -> Result<(), Error> {
    let earlier = TOUCHED.swap(true, Ordering::Relaxed);
    sim.client("c", async move {
        sleep(Duration::from_millis(5)).await;
        if earlier {
            return Err("saw state left by an earlier run in this process");
        }
        Ok(())
    })?;
    Ok(())
}

fn nondeterministic(sim: &mut Sim) -> Result<(), Error> {
    let runs = LEFT_OVER.fetch_add(1, Ordering::Relaxed);
    sim.client("c", async move {
        sleep(Duration::from_millis(5)).await;
        sleep(Duration::from_millis(1 + runs % 2)).await;
        Ok::<(), io::Error>(())
    })?;
    Ok(())
}

/// Latency spikes only, on every seed: a scenario's own profile (`--faults spikes`).
fn spikes(_seed: seedsim::Seed) -> Profile {
    let mut weights = Weights::default();
    weights.latency_spike = 1;
    Profile::chaos().weights(weights)
}

/// Fails always, under faults its setup installs itself (which `shrink` must not count as
/// shrunk away).
fn own_faults(sim: &mut Sim) -> Result<(), Error> {
    always_fails(sim)?;
    sim.faults("100ms latency-spike 10ms 1s\n200ms loss-burst 1/10 1s\n".parse()?)
}

/// Six tasks wait on one `tokio::sync::watch` for five values; the order in which they ran
/// then sets the run's timing, so a schedule that followed tokio's wake order would not
/// replay.
fn watch(sim: &mut Sim) -> Result<(), Error> {
    sim.client("c", async {
        let (tx, rx) = tokio::sync::watch::channel(0u32);
        let order = Rc::new(RefCell::new(Vec::new()));
        let waiters: Vec<_> = (0..6u32)
            .map(|waiter| {
                let (mut rx, order) = (rx.clone(), order.clone());
                seedsim::task::spawn(async move {
                    while *rx.borrow_and_update() < 5 {
                        rx.changed().await.expect("the sender lives");
                        order.borrow_mut().push(waiter);
                    }
                })
            })
            .collect();
        for value in 1..=5 {
            sleep(Duration::from_millis(1)).await;
            tx.send(value).expect("the receivers live");
        }
        for waiter in waiters {
            waiter.await.expect("a waiter finishes");
        }
        let order = order.borrow().clone();
        for waiter in order {
            sleep(Duration::from_millis(1 + u64::from(waiter % 2))).await;
        }
        Ok::<(), io::Error>(())
    })?;
    Ok(())
}

/// Spin without yielding for up to a minute of host time: a hang for the watchdog to report,
/// bounded so that a broken watchdog fails the tests instead of hanging them.
#[allow(clippy::disallowed_types, clippy::disallowed_methods)] // a deliberately misbehaving node
fn spin() {
    let started = std::time::Instant::now();
    while started.elapsed() < Duration::from_secs(60) {
        std::hint::spin_loop();
    }
}

/// One seed in four, the client never yields again.
fn hangs(sim: &mut Sim) -> Result<(), Error> {
    sim.client("c", async {
        sleep(Duration::from_millis(5)).await;
        if seedsim::rand::rng().random_range(0..4u32) == 0 {
            spin();
        }
        Ok::<(), io::Error>(())
    })?;
    Ok(())
}

/// Every seed, the node `spinner` never yields after its first sleep.
fn always_hangs(sim: &mut Sim) -> Result<(), Error> {
    sim.node("spinner", || async {
        sleep(Duration::from_millis(1)).await;
        spin();
    })?;
    passes(sim)
}

fn main() -> ExitCode {
    explore::main(
        seedsim::explore_target!(),
        &[
            Scenario::new("passes", Sim::builder, passes),
            Scenario::new("always-fails", Sim::builder, always_fails).faults(&[("spikes", spikes)]),
            Scenario::new("own-faults", Sim::builder, own_faults),
            Scenario::new("nondeterministic", Sim::builder, nondeterministic),
            Scenario::new("leaky", Sim::builder, leaky),
            Scenario::new("tiny", Sim::builder, tiny),
            Scenario::new("watch", Sim::builder, watch),
            Scenario::new("hangs", Sim::builder, hangs),
            Scenario::new("always-hangs", Sim::builder, always_hangs),
            Scenario::new("setup-panics", Sim::builder, |_| panic!("this scenario's setup panics")),
        ],
    )
}
