//! Simulated time: [`Instant`], [`sleep`], [`sleep_until`], [`timeout`], [`interval`], and the
//! per-node clock that skew faults bend.
//!
//! Time is integer nanoseconds since the start of the run. It moves only when no task is
//! ready: the run loop jumps the clock to the next scheduled event, so a simulated hour of
//! idle timers costs nothing. Nothing here reads the host clock.
//!
//! Each node reads its own clock. Without a skew fault a node's clock is the true simulated
//! time; with one (see [`Skew`]) it is ahead or behind by an offset and runs fast or slow by a
//! drift, as a real node's clock does. Timers are set in the node's own time and fire when
//! that clock reads their deadline: a skew applied while one is pending moves it in true time
//! (the world computes its true time again), so a sleep never ends before its node's clock
//! reads the deadline, and ends at once when the clock is stepped past it.

pub(crate) mod queue;

use std::fmt;
use std::future::Future;
use std::ops::{Add, AddAssign, Sub, SubAssign};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use crate::context;
use crate::error::{Error, ErrorKind};
use crate::node::NodeId;

/// A point in simulated time, as the calling node's clock reads it.
///
/// Like `std::time::Instant` it only means something relative to another `Instant` of the
/// same run; unlike it, `Instant::ZERO` is the start of the run and [`Instant::as_nanos`] is
/// stable, so instants can be printed and compared across replays.
///
/// On a node whose clock was set back by a [`Skew`] fault, `now()` can go backwards: that is
/// the fault.
///
/// ```
/// use std::time::Duration;
/// use seedsim::time::{self, Instant};
/// let mut sim = seedsim::Sim::new(seedsim::Seed(1));
/// sim.client("c", async {
///     let start = Instant::now();
///     time::sleep(Duration::from_millis(250)).await;
///     assert_eq!(start.elapsed(), Duration::from_millis(250));
///     Ok::<(), std::io::Error>(())
/// })?;
/// assert!(sim.run().is_passed());
/// # Ok::<(), seedsim::Error>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Instant(u64);

impl Instant {
    /// The start of the run.
    pub const ZERO: Instant = Instant(0);

    /// The calling node's current time. On the real backend (`seedsim::real`, feature `tokio`): the
    /// host's monotonic clock, counted from the first `Instant` read in the process.
    ///
    /// # Panics
    /// Outside a running simulation (and, with the `tokio` feature, outside a Tokio runtime).
    #[track_caller]
    pub fn now() -> Instant {
        if let Some(now) = context::with_current(|shared| shared.world.borrow().local_now()) {
            return now;
        }
        #[cfg(feature = "tokio")]
        if crate::real::active() {
            return crate::real::now();
        }
        panic!("{}", Error::new(ErrorKind::NoSimulation, "seedsim::time::Instant::now"))
    }

    /// The instant `nanos` nanoseconds after the start of the run.
    pub const fn from_nanos(nanos: u64) -> Instant {
        Instant(nanos)
    }

    /// Nanoseconds since the start of the run.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    /// Time since the start of the run.
    pub const fn since_start(self) -> Duration {
        Duration::from_nanos(self.0)
    }

    /// `self - earlier`, or zero if `earlier` is later.
    pub fn saturating_duration_since(self, earlier: Instant) -> Duration {
        Duration::from_nanos(self.0.saturating_sub(earlier.0))
    }

    /// `self - earlier`, or zero if `earlier` is later (as `std::time::Instant` does).
    pub fn duration_since(self, earlier: Instant) -> Duration {
        self.saturating_duration_since(earlier)
    }

    /// `self - earlier`, or `None` if `earlier` is later.
    pub fn checked_duration_since(self, earlier: Instant) -> Option<Duration> {
        self.0.checked_sub(earlier.0).map(Duration::from_nanos)
    }

    /// Time the calling node's clock moved since `self`.
    ///
    /// # Panics
    /// Outside a running simulation.
    #[track_caller]
    pub fn elapsed(self) -> Duration {
        Instant::now().saturating_duration_since(self)
    }

    /// `self + duration`, or `None` past the end of representable time (584 years).
    pub fn checked_add(self, duration: Duration) -> Option<Instant> {
        u64::try_from(duration.as_nanos()).ok().and_then(|d| self.0.checked_add(d)).map(Instant)
    }

    /// `self - duration`, or `None` before the start of the run.
    pub fn checked_sub(self, duration: Duration) -> Option<Instant> {
        u64::try_from(duration.as_nanos()).ok().and_then(|d| self.0.checked_sub(d)).map(Instant)
    }

    pub(crate) fn saturating_add(self, duration: Duration) -> Instant {
        self.checked_add(duration).unwrap_or(Instant(u64::MAX))
    }

    /// `self - duration`, or the start of the run ([`Instant::ZERO`]) if that is earlier: a
    /// simulated clock starts at zero, so "a second ago" early in a run is the start.
    ///
    /// ```
    /// use std::time::Duration;
    /// use seedsim::time::Instant;
    /// let early = Instant::from_nanos(500_000_000);
    /// assert_eq!(early.saturating_sub(Duration::from_secs(1)), Instant::ZERO);
    /// assert_eq!(early.checked_sub(Duration::from_secs(1)), None);
    /// let mut later = Instant::from_nanos(3_000_000_000);
    /// later -= Duration::from_secs(1);
    /// assert_eq!(later, Instant::from_nanos(2_000_000_000));
    /// ```
    pub fn saturating_sub(self, duration: Duration) -> Instant {
        self.checked_sub(duration).unwrap_or(Instant::ZERO)
    }
}

/// Nanoseconds in a `Duration`, saturating at `u64::MAX` (584 years).
pub(crate) fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

impl Add<Duration> for Instant {
    type Output = Instant;
    /// # Panics
    /// Past 584 years of simulated time.
    fn add(self, duration: Duration) -> Instant {
        self.checked_add(duration).expect("seedsim::time::Instant overflowed: 584 years of simulated time")
    }
}

impl AddAssign<Duration> for Instant {
    fn add_assign(&mut self, duration: Duration) {
        *self = *self + duration;
    }
}

impl Sub<Duration> for Instant {
    type Output = Instant;
    /// # Panics
    /// Before the start of the run.
    fn sub(self, duration: Duration) -> Instant {
        self.checked_sub(duration).expect("seedsim::time::Instant underflowed: before the start of the run")
    }
}

impl SubAssign<Duration> for Instant {
    /// # Panics
    /// Before the start of the run (see [`Instant::saturating_sub`]).
    fn sub_assign(&mut self, duration: Duration) {
        *self = *self - duration;
    }
}

impl Sub<Instant> for Instant {
    type Output = Duration;
    fn sub(self, earlier: Instant) -> Duration {
        self.saturating_duration_since(earlier)
    }
}

impl fmt::Debug for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Seconds with nanosecond precision: `12.000350000s`.
impl fmt::Display for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = format!("{}.{:09}s", self.0 / 1_000_000_000, self.0 % 1_000_000_000);
        f.pad(&text)
    }
}

/// A clock fault: how far a node's clock is off and how fast it drifts.
///
/// ```
/// use std::time::Duration;
/// use seedsim::time::Skew;
/// let skew = Skew::ahead(Duration::from_millis(500)).with_drift_ppm(200)?;
/// assert_eq!(skew.offset_nanos(), 500_000_000);
/// # Ok::<(), seedsim::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Skew {
    offset_nanos: i64,
    drift_ppm: i32,
}

impl Skew {
    /// A correct clock.
    pub const NONE: Skew = Skew { offset_nanos: 0, drift_ppm: 0 };

    /// A clock `offset` ahead of true time.
    pub fn ahead(offset: Duration) -> Skew {
        Skew { offset_nanos: i64::try_from(offset.as_nanos()).unwrap_or(i64::MAX), drift_ppm: 0 }
    }

    /// A clock `offset` behind true time.
    pub fn behind(offset: Duration) -> Skew {
        Skew { offset_nanos: -i64::try_from(offset.as_nanos()).unwrap_or(i64::MAX), drift_ppm: 0 }
    }

    /// The same offset, and a clock that runs `ppm` parts per million fast (or slow, if
    /// negative) from the moment the skew is applied.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidConfig`] unless `-999_999 <= ppm <= 1_000_000` (a clock must move
    /// forward, and at most twice as fast as true time).
    pub fn with_drift_ppm(self, ppm: i32) -> Result<Skew, Error> {
        if !(-999_999..=1_000_000).contains(&ppm) {
            return Err(Error::new(
                ErrorKind::InvalidConfig { field: "Skew::drift_ppm", expected: "-999999 to 1000000" },
                ppm.to_string(),
            ));
        }
        Ok(Skew { drift_ppm: ppm, ..self })
    }

    /// Signed offset from true time, in nanoseconds.
    pub fn offset_nanos(self) -> i64 {
        self.offset_nanos
    }

    /// Drift in parts per million.
    pub fn drift_ppm(self) -> i32 {
        self.drift_ppm
    }
}

/// A node's clock: `local(t) = base_local + (t - base_true) * (1e6 + drift) / 1e6`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Clock {
    base_true: u64,
    base_local: i128,
    drift_ppm: i64,
}

const PPM: i128 = 1_000_000;

impl Clock {
    pub(crate) const TRUE: Clock = Clock { base_true: 0, base_local: 0, drift_ppm: 0 };

    #[inline]
    pub(crate) fn is_true(&self) -> bool {
        self.drift_ppm == 0 && self.base_local == i128::from(self.base_true)
    }

    /// The clock's reading at true time `t`, clamped to the representable range.
    #[inline]
    pub(crate) fn local(&self, t: u64) -> u64 {
        if self.is_true() {
            return t;
        }
        let elapsed = i128::from(t) - i128::from(self.base_true);
        let rate = PPM + i128::from(self.drift_ppm);
        // In 64 bits whenever the product fits (hours of simulated time at any drift): a
        // 128-bit division is a library call, and timers on skewed clocks divide on every set.
        // Both truncate toward zero, so the result is the same.
        let scaled = match (i64::try_from(elapsed), i64::try_from(rate)) {
            (Ok(elapsed), Ok(rate)) => elapsed.checked_mul(rate).map(|product| i128::from(product / PPM as i64)),
            _ => None,
        };
        let local = self.base_local + scaled.unwrap_or_else(|| elapsed * rate / PPM);
        local.clamp(0, i128::from(u64::MAX)) as u64
    }

    /// The earliest true time at which the clock reads at least `local`.
    pub(crate) fn true_time_of(&self, local: u64) -> u64 {
        if self.is_true() {
            return local;
        }
        let rate = PPM + i128::from(self.drift_ppm);
        let delta = (i128::from(local) - self.base_local) * PPM;
        // Ceiling division, so the clock has reached `local` at the returned time; in 64 bits
        // when the operands fit, as in `local`.
        let elapsed = match (i64::try_from(delta), i64::try_from(rate)) {
            (Ok(delta), Ok(rate)) => i128::from(delta.div_euclid(rate) + i64::from(delta.rem_euclid(rate) != 0)),
            _ => delta.div_euclid(rate) + i128::from(delta.rem_euclid(rate) != 0),
        };
        (i128::from(self.base_true) + elapsed).clamp(0, i128::from(u64::MAX)) as u64
    }

    /// Whether this clock reads what `other` reads at every true time from `now` on: the same
    /// reading now and the same rate (two clocks set at different times can agree so).
    pub(crate) fn same_from(&self, other: &Clock, now: u64) -> bool {
        self.drift_ppm == other.drift_ppm && self.local(now) == other.local(now)
    }

    /// This clock jumped by `delta` nanoseconds at true time `now`, keeping its drift. A step
    /// back stops at zero (see [`Clock::starting_at`]).
    pub(crate) fn jumped(&self, now: u64, delta: i64) -> Clock {
        let local = i128::from(self.local(now));
        Clock::starting_at(now, local + i128::from(delta), self.drift_ppm)
    }

    /// The clock that reads `local` at true time `now`, or zero if `local` is negative: no
    /// clock reads before the simulation's start. A clock that read a clamped zero while its
    /// reckoning was below it would stand still, and a sleep begun then would last longer
    /// than asked by however far below zero the clock was (a lease holder whose clock was
    /// stepped back early would trust its lease for seconds too long).
    fn starting_at(now: u64, local: i128, drift_ppm: i64) -> Clock {
        Clock { base_true: now, base_local: local.max(0), drift_ppm }
    }

    /// The clock that `skew` sets at true time `now`: it reads `now + offset` and runs at the
    /// skew's drift.
    pub(crate) fn skewed(now: u64, skew: Skew) -> Clock {
        Clock::starting_at(now, i128::from(now) + i128::from(skew.offset_nanos), i64::from(skew.drift_ppm))
    }

    /// Set the clock to `next` at true time `now`. With `monotonic`, a `next` that reads less
    /// than this clock reads now keeps this reading and takes only `next`'s drift, so the
    /// clock never steps back. Returns the step the reading took, in nanoseconds.
    pub(crate) fn set(&mut self, now: u64, next: Clock, monotonic: bool) -> i64 {
        let before = self.local(now);
        *self = if monotonic && next.local(now) < before {
            Clock { base_true: now, base_local: i128::from(before), drift_ppm: next.drift_ppm }
        } else {
            next
        };
        let after = self.local(now);
        debug_assert!(!monotonic || after >= before, "a monotonic clock stepped back: {before} -> {after}");
        (i128::from(after) - i128::from(before)).clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
    }
}

/// A future that completes at a deadline on the calling node's clock. See [`sleep`].
#[must_use = "a Sleep does nothing unless awaited"]
#[derive(Debug)]
pub struct Sleep {
    deadline: Instant,
    timer: Timer,
}

#[derive(Debug)]
enum Timer {
    Simulated {
        /// Whose clock the deadline is on: the node that created the sleep (`None` outside
        /// any node: true time).
        node: Option<NodeId>,
        key: Option<TimerKey>,
        /// The true time its timer was set for, valid while the world's `clock_epoch` is
        /// still `epoch` (no clock changed since, so the timer did not move): then the fast
        /// check `now >= at` says whether it fired, with no look-up of the timer.
        at: u64,
        epoch: u64,
        /// The sum of the steps its node's clock had taken when the sleep was made, so that
        /// steps taken before its first poll move its deadline too (the world moves it after).
        steps: i64,
        world: u64,
    },
    #[cfg(feature = "tokio")]
    Real(std::pin::Pin<Box<tokio::time::Sleep>>),
}

/// A timer's slot in the world, checked by sequence number so a reused slot never fires the
/// wrong timer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TimerKey {
    pub(crate) slot: u32,
    pub(crate) seq: u64,
}

/// Wait until `duration` has passed on the calling node's clock.
///
/// # Panics
/// Outside a running simulation (and, with the `tokio` feature, outside a Tokio runtime).
///
/// ```
/// use std::time::Duration;
/// let mut sim = seedsim::Sim::new(seedsim::Seed(1));
/// sim.client("c", async {
///     seedsim::time::sleep(Duration::from_secs(3600)).await;
///     assert_eq!(seedsim::time::Instant::now().since_start(), Duration::from_secs(3600));
///     Ok::<(), std::io::Error>(())
/// })?;
/// assert!(sim.run().is_passed()); // an hour of simulated time, in microseconds of real time
/// # Ok::<(), seedsim::Error>(())
/// ```
#[track_caller]
pub fn sleep(duration: Duration) -> Sleep {
    let simulated = context::with_current(|shared| {
        let world = shared.world.borrow();
        let deadline = world.local_now().saturating_add(duration);
        simulated_sleep(deadline, &world, shared.id)
    });
    match simulated {
        Some(sleep) => sleep,
        None => real_sleep(None, duration, "seedsim::time::sleep"),
    }
}

/// Wait until the calling node's clock reads `deadline`.
///
/// # Panics
/// Outside a running simulation (and, with the `tokio` feature, outside a Tokio runtime).
#[track_caller]
pub fn sleep_until(deadline: Instant) -> Sleep {
    let simulated = context::with_current(|shared| simulated_sleep(deadline, &shared.world.borrow(), shared.id));
    match simulated {
        Some(sleep) => sleep,
        None => real_sleep(Some(deadline), Duration::ZERO, "seedsim::time::sleep_until"),
    }
}

fn simulated_sleep(deadline: Instant, world: &crate::sim::state::World, id: u64) -> Sleep {
    let node = world.current_node();
    let steps = world.clock_steps(node);
    Sleep { deadline, timer: Timer::Simulated { node, key: None, at: 0, epoch: 0, steps, world: id } }
}

/// A sleep on the real backend until `deadline`, or for `duration` from now; outside a
/// Tokio runtime (or without the `tokio` feature) the panic that names `api`.
#[track_caller]
#[cfg_attr(not(feature = "tokio"), allow(unused_variables))]
fn real_sleep(deadline: Option<Instant>, duration: Duration, api: &'static str) -> Sleep {
    #[cfg(feature = "tokio")]
    if crate::real::active() {
        let deadline = deadline.unwrap_or_else(|| crate::real::now().saturating_add(duration));
        return Sleep { deadline, timer: Timer::Real(crate::real::sleep_until(deadline)) };
    }
    panic!("{}", Error::new(ErrorKind::NoSimulation, api))
}

impl Sleep {
    /// When the sleep completes, on the clock of the node that created it.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// True once the deadline has passed (its timer fired, or, before the first poll, the
    /// clock reads the deadline).
    pub fn is_elapsed(&self) -> bool {
        match &self.timer {
            Timer::Simulated { node, key, at, epoch, steps, .. } => {
                context::with_world("seedsim::time::Sleep::is_elapsed", |world| match key {
                    Some(key) => fired(world, *key, *at, *epoch),
                    None => world.timer_at(*node, self.deadline, *steps) <= world.now,
                })
            }
            #[cfg(feature = "tokio")]
            Timer::Real(sleep) => sleep.is_elapsed(),
        }
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let deadline = self.deadline;
        let (node, timer, at, epoch, steps) = match &mut self.timer {
            Timer::Simulated { node, key, at, epoch, steps, .. } => (*node, key, at, epoch, *steps),
            #[cfg(feature = "tokio")]
            Timer::Real(sleep) => return sleep.as_mut().poll(cx),
        };
        context::with_world("seedsim::time::Sleep", |world| {
            if let Some(key) = *timer {
                // The timer decides, not a clock reading here: it fired when its clock read
                // the deadline, and the world moves it whenever that clock changes.
                if fired(world, key, *at, *epoch) {
                    *timer = None;
                    return Poll::Ready(());
                }
                world.update_timer(key, cx.waker());
                return Poll::Pending;
            }
            let true_at = world.timer_at(node, deadline, steps);
            if true_at <= world.now {
                return Poll::Ready(());
            }
            *timer = Some(world.add_timer(node, deadline, steps, true_at, cx.waker().clone()));
            (*at, *epoch) = (true_at, world.clock_epoch);
            Poll::Pending
        })
    }
}

/// Whether the timer `key`, set for true time `at` when the clock epoch was `epoch`, fired.
fn fired(world: &crate::sim::state::World, key: TimerKey, at: u64, epoch: u64) -> bool {
    if world.clock_epoch == epoch {
        // Not moved since it was set, and every event due by now was processed before any
        // task ran at this instant.
        let fired = world.now >= at;
        debug_assert_eq!(fired, !world.timer_pending(key), "timer {key:?} set for {at}, now {}", world.now);
        fired
    } else {
        !world.timer_pending(key)
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        if let Timer::Simulated { key: Some(key), world, .. } = &self.timer {
            let (key, world) = (*key, *world);
            context::with_current(|shared| {
                if shared.id == world {
                    if let Ok(mut world) = shared.world.try_borrow_mut() {
                        world.cancel_timer(key);
                    }
                }
            });
        }
    }
}

/// The error of a [`timeout`] whose deadline passed first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Elapsed(());

impl fmt::Display for Elapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("deadline has elapsed")
    }
}

impl std::error::Error for Elapsed {}

impl From<Elapsed> for std::io::Error {
    fn from(elapsed: Elapsed) -> std::io::Error {
        std::io::Error::new(std::io::ErrorKind::TimedOut, elapsed)
    }
}

/// A future with a deadline. See [`timeout`].
#[must_use = "a Timeout does nothing unless awaited"]
#[derive(Debug)]
pub struct Timeout<F> {
    future: F,
    sleep: Sleep,
}

/// Run `future` for at most `duration` of the calling node's time.
///
/// The future is polled first, so one that is ready at the deadline wins.
///
/// # Panics
/// Outside a running simulation.
///
/// ```
/// use std::time::Duration;
/// use seedsim::time::{sleep, timeout};
/// let mut sim = seedsim::Sim::new(seedsim::Seed(1));
/// sim.client("c", async {
///     assert!(timeout(Duration::from_secs(1), sleep(Duration::from_secs(2))).await.is_err());
///     assert!(timeout(Duration::from_secs(2), sleep(Duration::from_secs(1))).await.is_ok());
///     Ok::<(), std::io::Error>(())
/// })?;
/// assert!(sim.run().is_passed());
/// # Ok::<(), seedsim::Error>(())
/// ```
#[track_caller]
pub fn timeout<F: Future>(duration: Duration, future: F) -> Timeout<F> {
    Timeout { future, sleep: sleep(duration) }
}

/// Like [`timeout`], with a deadline on the calling node's clock.
#[track_caller]
pub fn timeout_at<F: Future>(deadline: Instant, future: F) -> Timeout<F> {
    Timeout { future, sleep: sleep_until(deadline) }
}

impl<F: Future> Future for Timeout<F> {
    type Output = Result<F::Output, Elapsed>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: `future` is structurally pinned (never moved out of a pinned Timeout);
        // `sleep` is Unpin and not pinned.
        let this = unsafe { self.get_unchecked_mut() };
        let future = unsafe { Pin::new_unchecked(&mut this.future) };
        if let Poll::Ready(output) = future.poll(cx) {
            return Poll::Ready(Ok(output));
        }
        Pin::new(&mut this.sleep).poll(cx).map(|()| Err(Elapsed(())))
    }
}

/// Ticks at a fixed period on the calling node's clock. See [`interval`].
#[derive(Debug)]
pub struct Interval {
    next: Instant,
    period: Duration,
    sleep: Option<Sleep>,
}

/// An [`Interval`] whose first tick completes at once and then every `period`.
///
/// If a tick is late (the task was busy, or its node paused), the ticks it missed complete at
/// once, one per call, until it has caught up: the schedule stays `start + k * period`.
///
/// # Panics
/// If `period` is zero, or outside a running simulation.
///
/// ```
/// use std::time::Duration;
/// use seedsim::time::{interval, Instant};
/// let mut sim = seedsim::Sim::new(seedsim::Seed(1));
/// sim.client("c", async {
///     let mut ticks = interval(Duration::from_millis(10));
///     for k in 0..3 {
///         assert_eq!(ticks.tick().await, Instant::from_nanos(k * 10_000_000));
///     }
///     Ok::<(), std::io::Error>(())
/// })?;
/// assert!(sim.run().is_passed());
/// # Ok::<(), seedsim::Error>(())
/// ```
#[track_caller]
pub fn interval(period: Duration) -> Interval {
    interval_at(Instant::now(), period)
}

/// An [`Interval`] whose first tick completes at `start`.
///
/// # Panics
/// If `period` is zero, or outside a running simulation.
#[track_caller]
pub fn interval_at(start: Instant, period: Duration) -> Interval {
    assert!(!period.is_zero(), "seedsim::time::interval needs a non-zero period");
    Interval { next: start, period, sleep: None }
}

impl Interval {
    /// Wait for the next tick; returns its scheduled instant.
    pub async fn tick(&mut self) -> Instant {
        std::future::poll_fn(|cx| self.poll_tick(cx)).await
    }

    /// Poll for the next tick.
    pub fn poll_tick(&mut self, cx: &mut Context<'_>) -> Poll<Instant> {
        let next = self.next;
        let sleep = self.sleep.get_or_insert_with(|| sleep_until(next));
        match Pin::new(sleep).poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(()) => {
                self.sleep = None;
                self.next = self.next.saturating_add(self.period);
                Poll::Ready(next)
            }
        }
    }

    /// The period between ticks.
    pub fn period(&self) -> Duration {
        self.period
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_true_clock_is_the_identity() {
        let clock = Clock::TRUE;
        assert_eq!(clock.local(123), 123);
        assert_eq!(clock.true_time_of(456), 456);
    }

    #[test]
    fn offset_and_drift_invert_exactly() {
        let clock = Clock::skewed(1_000, Skew::ahead(Duration::from_nanos(500)).with_drift_ppm(250_000).unwrap());
        assert_eq!(clock.local(1_000), 1_500);
        assert_eq!(clock.local(5_000), 1_500 + 5_000);
        for local in [1_500u64, 1_501, 2_000, 9_999, 1 << 40] {
            let t = clock.true_time_of(local);
            assert!(clock.local(t) >= local, "local {local} true {t}");
            assert!(t == 0 || clock.local(t - 1) < local, "not the earliest: {local} {t}");
        }
    }

    /// The 64-bit fast paths of `local` and `true_time_of` agree with the plain 128-bit
    /// reckoning, on both sides of where the product stops fitting 64 bits.
    #[test]
    fn the_64_bit_paths_agree_with_128_bit_arithmetic() {
        let mut rng = crate::rand::Stream::for_purpose(crate::seed::Seed(11), crate::rand::Purpose::World);
        for _ in 0..20_000 {
            let drift_ppm = rng.between(0, 1_999_998) as i64 - 999_999;
            let base_true = rng.below(1 << 44);
            let base_local = i128::from(rng.below(1 << 44));
            let clock = Clock { base_true, base_local, drift_ppm };
            // Spans from nanoseconds to far past 2^63 / 2e6 (where 64 bits stop sufficing), on
            // both sides of the base.
            let span = 1 << rng.between(1, 63);
            let at = match rng.below(2) {
                0 => base_true.saturating_add(rng.below(span)),
                _ => base_true.saturating_sub(rng.below(span)),
            };
            let rate = PPM + i128::from(drift_ppm);
            let elapsed = i128::from(at) - i128::from(base_true);
            let expected = (base_local + elapsed * rate / PPM).clamp(0, i128::from(u64::MAX)) as u64;
            assert_eq!(clock.local(at), expected, "{clock:?} at {at}");
            let span = 1 << rng.between(1, 63);
            let local = rng.below(span);
            let delta = (i128::from(local) - base_local) * PPM;
            let elapsed = delta.div_euclid(rate) + i128::from(delta.rem_euclid(rate) != 0);
            let expected = (i128::from(base_true) + elapsed).clamp(0, i128::from(u64::MAX)) as u64;
            assert_eq!(clock.true_time_of(local), expected, "{clock:?} reading {local}");
        }
    }

    #[test]
    fn a_clock_set_behind_zero_stops_at_zero_and_runs_on_from_there() {
        let clock = Clock::skewed(10, Skew::behind(Duration::from_nanos(100)).with_drift_ppm(-500_000).unwrap());
        assert_eq!(clock.local(10), 0);
        // 300 ns later at half speed: 150, not -90 + 150. A clock that stood still at zero
        // until its reckoning came back above it would stretch every sleep begun meanwhile.
        assert_eq!(clock.local(310), 150);
        assert_eq!(clock.true_time_of(60), 130);
        // A step back past zero too.
        let clock = Clock::TRUE.jumped(1_000, -5_000);
        assert_eq!(clock.local(1_000), 0);
        assert_eq!(clock.local(1_100), 100);
    }

    #[test]
    fn a_monotonic_clock_never_steps_back() {
        let mut clock = Clock::TRUE;
        assert_eq!(clock.set(1_000, clock.jumped(1_000, -400), true), 0);
        assert_eq!(clock.local(1_000), 1_000);
        // Forward steps and drift changes are kept.
        assert_eq!(clock.set(2_000, clock.jumped(2_000, 300), true), 300);
        assert_eq!(clock.local(2_000), 2_300);
        let slow = Skew::NONE.with_drift_ppm(-100_000).unwrap();
        assert_eq!(clock.set(3_000, Clock::skewed(3_000, slow), true), 0);
        assert_eq!(clock.local(3_000), 3_300);
        assert_eq!(clock.local(4_000), 3_300 + 900);
        // Set right: the clock stays ahead and runs at the true rate.
        assert_eq!(clock.set(4_000, Clock::TRUE, true), 0);
        assert_eq!(clock.local(5_000), 4_200 + 1_000);
        // Without the flag, the same step goes back.
        assert_eq!(clock.set(5_000, Clock::TRUE, false), -200);
        assert_eq!(clock.local(5_000), 5_000);
    }

    #[test]
    fn clocks_set_at_different_times_can_read_the_same() {
        let right = Clock::skewed(5_000, Skew::NONE);
        assert!(right.same_from(&Clock::TRUE, 5_000), "set right again: nothing changed");
        assert!(!Clock::TRUE.jumped(5_000, 1).same_from(&Clock::TRUE, 5_000));
        let slow = Clock::skewed(5_000, Skew::NONE.with_drift_ppm(-1).unwrap());
        assert!(!slow.same_from(&Clock::TRUE, 5_000), "the same reading now, but not later");
    }

    #[test]
    fn instants_print_as_seconds() {
        assert_eq!(Instant::from_nanos(12_000_350_000).to_string(), "12.000350000s");
        assert_eq!(Instant::ZERO + Duration::from_millis(1), Instant::from_nanos(1_000_000));
    }
}
