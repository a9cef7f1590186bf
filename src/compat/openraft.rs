//! [`SeedsimRuntime`]: openraft's [`AsyncRuntime`] on seedsim's clock, tasks and randomness
//! (feature `openraft`), so a real openraft cluster runs inside a simulation and replays
//! exactly from its seed.
//!
//! Time is seedsim's ([`time::sleep`], [`time::timeout`],
//! the node's skewed clock), tasks are seedsim's ([`task::spawn`](crate::task::spawn)),
//! and `thread_rng` is the calling node's seeded generator ([`rand::rng`](crate::rand::rng)):
//! nothing here reads the host's clock, entropy or threads inside a simulation. The channels
//! and the mutex are openraft-rt-tokio's, on `tokio::sync`, which needs no tokio runtime and
//! wakes through the task's waker like any other future. Outside a simulation, with the `tokio`
//! feature and inside `seedsim::real::Runtime`, the same calls run on tokio: the same node
//! code serves production.
//!
//! The one runtime-level method, `block_on`, runs the future as a client of the runtime's
//! [`Sim`] ([`Sim::block_on`]): the future may borrow, and it is dropped before `block_on`
//! returns.
//!
//! openraft requires `Send` storage, networks and futures unless it is built with its
//! `single-threaded` feature. seedsim's handles need not be `Send`, and its RPC client is not,
//! so a cluster on seedsim usually turns that feature on: then turn on seedsim's
//! `openraft-single-threaded` with it (it gives openraft-rt-tokio, whose channels this uses,
//! its matching feature; cargo cannot). `docs/openraft.md` is the recipe, and
//! `ecosystem/openraft/` a 3-node cluster built with it.

use std::fmt;
use std::future::Future;
use std::io;
use std::ops::{Add, AddAssign, Sub, SubAssign};
use std::time::Duration;

pub use openraft_rt::AsyncRuntime;
use openraft_rt::OptionalSend;

use crate::rand::NodeRng;
use crate::seed::Seed;
use crate::sim::Sim;
use crate::task::{JoinError, JoinHandle};
use crate::time::{self, Elapsed, Sleep, Timeout};

/// openraft's [`AsyncRuntime`] on seedsim. Name it as the `AsyncRuntime` of a type config:
///
/// ```
/// use std::time::Duration;
/// use seedsim::compat::openraft::{AsyncRuntime, SeedsimRuntime};
///
/// // What openraft does with its runtime, here driven by hand: a timeout, a task, a sleep.
/// let mut rt = SeedsimRuntime::new(1);
/// let slept = rt.block_on(async {
///     let start = <SeedsimRuntime as AsyncRuntime>::Instant::now();
///     let task = SeedsimRuntime::spawn(async { 6 * 7 });
///     assert_eq!(task.await.unwrap(), 42);
///     let never = std::future::pending::<()>();
///     assert!(SeedsimRuntime::timeout(Duration::from_secs(5), never).await.is_err());
///     start.elapsed()
/// });
/// assert_eq!(slept, Duration::from_secs(5)); // simulated: no real time passed
/// ```
///
/// In an openraft type config (`openraft::declare_raft_types!`), as `docs/openraft.md`
/// shows: `AsyncRuntime = seedsim::compat::openraft::SeedsimRuntime`. openraft calls its
/// methods from inside the simulation's nodes; the value (a [`Sim`]) is only for `block_on`.
pub struct SeedsimRuntime {
    sim: Sim,
    blocks: u64,
}

impl SeedsimRuntime {
    /// A runtime whose `block_on` runs futures in `sim`.
    ///
    /// ```
    /// use seedsim::compat::openraft::{AsyncRuntime, SeedsimRuntime};
    /// let mut rt = SeedsimRuntime::from_sim(seedsim::Sim::new(seedsim::Seed(42)));
    /// assert_eq!(rt.block_on(async { 1 + 1 }), 2);
    /// assert_eq!(rt.sim().seed(), seedsim::Seed(42));
    /// ```
    pub fn from_sim(sim: Sim) -> SeedsimRuntime {
        SeedsimRuntime { sim, blocks: 0 }
    }

    /// The simulation `block_on` runs in: to add nodes, inject faults or read its trace hash
    /// between calls.
    pub fn sim(&mut self) -> &mut Sim {
        &mut self.sim
    }

    /// The simulation, taken back.
    pub fn into_sim(self) -> Sim {
        self.sim
    }
}

impl fmt::Debug for SeedsimRuntime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SeedsimRuntime").field("seed", &self.sim.seed()).finish_non_exhaustive()
    }
}

impl AsyncRuntime for SeedsimRuntime {
    type JoinError = JoinError;
    type JoinHandle<T: OptionalSend + 'static> = JoinHandle<T>;
    type Sleep = Sleep;
    type Instant = Instant;
    type TimeoutError = Elapsed;
    type Timeout<R, T: Future<Output = R> + OptionalSend> = Timeout<T>;
    type ThreadLocalRng = NodeRng;

    #[track_caller]
    fn spawn<T>(future: T) -> JoinHandle<T::Output>
    where
        T: Future + OptionalSend + 'static,
        T::Output: OptionalSend + 'static,
    {
        crate::task::spawn(future)
    }

    #[track_caller]
    fn sleep(duration: Duration) -> Sleep {
        time::sleep(duration)
    }

    #[track_caller]
    fn sleep_until(deadline: Instant) -> Sleep {
        time::sleep_until(deadline.to_sim())
    }

    #[track_caller]
    fn timeout<R, F: Future<Output = R> + OptionalSend>(duration: Duration, future: F) -> Timeout<F> {
        time::timeout(duration, future)
    }

    #[track_caller]
    fn timeout_at<R, F: Future<Output = R> + OptionalSend>(deadline: Instant, future: F) -> Timeout<F> {
        time::timeout_at(deadline.to_sim(), future)
    }

    /// Always false: a panic in a simulated task fails the run (with its report) instead of
    /// reaching a `JoinHandle`, and on the real backend it resumes in the awaiting task.
    fn is_panic(_join_error: &JoinError) -> bool {
        false
    }

    /// The calling node's seeded generator ([`rand::rng`](crate::rand::rng)): the same seed
    /// draws the same numbers, and one node's draws do not move another's.
    #[track_caller]
    fn thread_rng() -> NodeRng {
        crate::rand::rng()
    }

    type Mpsc = openraft_rt_tokio::TokioMpsc;
    type Watch = openraft_rt_tokio::TokioWatch;
    type Oneshot = openraft_rt_tokio::TokioOneshot;
    type Mutex<T: OptionalSend + 'static> = openraft_rt_tokio::TokioMutex<T>;

    /// A runtime on a new simulation with [`Seed(0)`](Seed), default settings and monotonic
    /// clocks ([`Builder::clocks_monotonic`](crate::Builder::clocks_monotonic): openraft reads
    /// a monotonic clock, and asserts that it never goes back). `threads` is ignored: a
    /// simulation has one thread. Use [`SeedsimRuntime::from_sim`] for other settings.
    fn new(_threads: usize) -> SeedsimRuntime {
        let sim = Sim::builder().seed(Seed(0)).clocks_monotonic().build();
        SeedsimRuntime::from_sim(sim.expect("the default settings are valid"))
    }

    /// Run `future` to completion in the runtime's simulation, as a client named `block_on`
    /// (`block_on-2`, ... for later calls). The future may borrow; it is dropped before this
    /// returns.
    ///
    /// # Panics
    /// If the run ends before the future finishes (a panic, a deadlock, a limit, a failed
    /// check), with the failure report and its replay line: the trait gives no other way to
    /// say so.
    #[track_caller]
    fn block_on<F, T>(&mut self, future: F) -> T
    where
        F: Future<Output = T>,
    {
        self.blocks += 1;
        let mut name = if self.blocks == 1 { "block_on".to_owned() } else { format!("block_on-{}", self.blocks) };
        // A name the user took for a node of their own: go on counting.
        while self.sim.is_up(&name).is_ok() {
            self.blocks += 1;
            name = format!("block_on-{}", self.blocks);
        }
        match self.sim.block_on(&name, future) {
            Ok(output) => output,
            Err(error) => panic!("{error}"),
        }
    }

    /// Runs `f` on the calling task, at once, when the future is first polled: a simulation
    /// has no other thread to run it on (openraft's default would start an OS thread, which
    /// would make the run nondeterministic). `f` blocks the whole simulation while it runs,
    /// in simulated zero time.
    async fn spawn_blocking<F, T>(f: F) -> Result<T, io::Error>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        Ok(f())
    }
}

/// The [`AsyncRuntime::Instant`] of [`SeedsimRuntime`]: seedsim's
/// [`time::Instant`] (the calling node's clock), counted from
/// [`Instant::EPOCH_OFFSET`] before the start of the run.
///
/// A simulated clock starts at zero, but a host's monotonic clock starts at boot, long before
/// a process runs, and openraft computes instants in the past (`now - lease`) from its first
/// moments. The offset gives it that past, so `Instant - Duration` does not reach the bottom
/// of the clock; at the bottom it saturates instead of panicking.
///
/// ```
/// use std::time::Duration;
/// use seedsim::compat::openraft::Instant;
/// let start = Instant::from_sim(seedsim::time::Instant::ZERO);
/// let earlier = start - Duration::from_secs(10); // ten seconds before the run: fine
/// assert_eq!(start - earlier, Duration::from_secs(10));
/// assert_eq!(earlier.to_sim(), seedsim::time::Instant::ZERO); // the sim's clock has no past
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant {
    /// Nanoseconds since the virtual epoch, `EPOCH_OFFSET` before the start of the run.
    nanos: u64,
}

impl Instant {
    /// How far before the start of the run the clock's zero is: one day, like a host up for a
    /// day when the process starts.
    pub const EPOCH_OFFSET: Duration = Duration::from_secs(86_400);

    const OFFSET_NANOS: u64 = 86_400 * 1_000_000_000;

    /// The calling node's clock, as [`time::Instant::now`](crate::time::Instant::now) reads it
    /// (also what openraft's `Instant::now` returns).
    ///
    /// # Panics
    /// Outside a running simulation (and, with the `tokio` feature, outside a Tokio runtime).
    ///
    /// ```
    /// use seedsim::compat::openraft::Instant;
    /// let mut sim = seedsim::Sim::new(seedsim::Seed(1));
    /// sim.block_on("main", async {
    ///     let start = Instant::now();
    ///     seedsim::time::sleep(std::time::Duration::from_secs(2)).await;
    ///     assert_eq!(start.elapsed().as_secs(), 2);
    /// })?;
    /// # Ok::<(), seedsim::BlockOnError>(())
    /// ```
    #[track_caller]
    pub fn now() -> Instant {
        Instant::from_sim(crate::time::Instant::now())
    }

    /// Time the calling node's clock moved since `self` (zero if it reads earlier).
    ///
    /// # Panics
    /// As [`Instant::now`].
    #[track_caller]
    pub fn elapsed(self) -> Duration {
        Instant::now() - self
    }

    /// The instant that seedsim's `instant` is.
    ///
    /// ```
    /// use seedsim::compat::openraft::Instant;
    /// let at = seedsim::time::Instant::from_nanos(5);
    /// assert_eq!(Instant::from_sim(at).to_sim(), at);
    /// ```
    pub fn from_sim(instant: crate::time::Instant) -> Instant {
        Instant { nanos: instant.as_nanos().saturating_add(Instant::OFFSET_NANOS) }
    }

    /// This instant on seedsim's clock; an instant before the start of the run is the start.
    ///
    /// ```
    /// use std::time::Duration;
    /// use seedsim::compat::openraft::Instant;
    /// let start = Instant::from_sim(seedsim::time::Instant::ZERO);
    /// assert_eq!((start + Duration::from_secs(1)).to_sim().since_start(), Duration::from_secs(1));
    /// ```
    pub fn to_sim(self) -> crate::time::Instant {
        crate::time::Instant::from_nanos(self.nanos.saturating_sub(Instant::OFFSET_NANOS))
    }
}

impl openraft_rt::Instant for Instant {
    /// See [`Instant::now`].
    #[track_caller]
    fn now() -> Instant {
        Instant::now()
    }
}

fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

impl Add<Duration> for Instant {
    type Output = Instant;
    /// Saturates at the end of representable time (584 years), which reads as "never".
    fn add(self, duration: Duration) -> Instant {
        Instant { nanos: self.nanos.saturating_add(nanos(duration)) }
    }
}

impl AddAssign<Duration> for Instant {
    fn add_assign(&mut self, duration: Duration) {
        *self = *self + duration;
    }
}

impl Sub<Duration> for Instant {
    type Output = Instant;
    /// Saturates at the clock's zero, [`Instant::EPOCH_OFFSET`] before the start of the run.
    fn sub(self, duration: Duration) -> Instant {
        Instant { nanos: self.nanos.saturating_sub(nanos(duration)) }
    }
}

impl SubAssign<Duration> for Instant {
    fn sub_assign(&mut self, duration: Duration) {
        *self = *self - duration;
    }
}

impl Sub<Instant> for Instant {
    type Output = Duration;
    /// Zero if `earlier` is later, as `std::time::Instant` does.
    fn sub(self, earlier: Instant) -> Duration {
        Duration::from_nanos(self.nanos.saturating_sub(earlier.nanos))
    }
}

/// As seedsim's time since the start of the run (`-` before it): `12.000350000s`.
impl fmt::Debug for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.nanos.checked_sub(Instant::OFFSET_NANOS) {
            Some(since) => write!(f, "{}", crate::time::Instant::from_nanos(since)),
            None => write!(f, "-{}", crate::time::Instant::from_nanos(Instant::OFFSET_NANOS - self.nanos)),
        }
    }
}
