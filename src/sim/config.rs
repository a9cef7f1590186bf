//! The settings of a simulation: [`Config`], its [`Builder`], and [`OnLimit`].
//!
//! Every setting is validated when the `Sim` is built, so a run never starts with a value
//! out of range; the error names the setting and the accepted range.

use std::time::Duration;

use super::Sim;
use crate::error::{Error, ErrorKind};
use crate::net::Link;
use crate::runtime::sched::Policy;
use crate::seed::Seed;

/// What a run does when it reaches its time or step limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum OnLimit {
    /// The run fails: clients that never finish are a liveness bug (the default).
    #[default]
    Fail,
    /// The run passes: for scenarios that run servers for a fixed time.
    Pass,
}

/// What happens when a server's main future returns an error.
///
/// ```
/// use std::time::Duration;
/// use std::{cell::Cell, rc::Rc};
/// use seedsim::{OnNodeError, Sim, time::sleep};
/// let starts = Rc::new(Cell::new(0));
/// let counted = starts.clone();
/// let mut sim = Sim::builder().on_node_error(OnNodeError::Restart { after: Duration::from_millis(100) }).build()?;
/// sim.node("server", move || {
///     let counted = counted.clone();
///     async move {
///         counted.set(counted.get() + 1);
///         sleep(Duration::from_millis(10)).await;
///         // The process exits with an error, as one that lost its lease or its disk may.
///         Err::<(), _>(std::io::Error::other("lost my lease"))
///     }
/// })?;
/// sim.client("client", async { sleep(Duration::from_millis(500)).await; Ok::<(), std::io::Error>(()) })?;
/// assert!(sim.run().is_passed());
/// assert_eq!(starts.get(), 5, "exits at 10 ms, back at 110 ms, exits at 120 ms, …");
/// # Ok::<(), seedsim::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum OnNodeError {
    /// The run fails with the error (the default): a server is not meant to stop.
    #[default]
    Fail,
    /// The node exits as a crashed process does (its tasks dropped, its sockets closed, its
    /// unsynced disk state lost) and a supervisor restarts it `after` later: for servers
    /// written to exit on an error they cannot handle and be restarted by systemd or
    /// Kubernetes. The exit is in the trace.
    Restart {
        /// How long the supervisor waits before it restarts the node.
        after: Duration,
    },
}

/// The settings of a simulation. Build one with [`Sim::builder`].
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Config {
    /// The seed everything random derives from.
    pub seed: Seed,
    /// How the next ready task is picked.
    pub policy: Policy,
    /// Simulated time after which the run stops (default: one hour).
    pub time_limit: Duration,
    /// Polls after which the run stops (default: 100 million).
    pub steps_max: u64,
    /// Whether reaching a limit fails the run.
    pub on_limit: OnLimit,
    /// What a server's main future returning an error does.
    pub on_node_error: OnNodeError,
    /// The link between every pair of nodes unless overridden.
    pub link: Link,
    /// How stream connections (`TcpStream`) behave: timeouts, buffers, stream faults.
    pub stream: crate::net::StreamConfig,
    /// Tasks the world may hold at once (default: 4 million).
    pub tasks_max: usize,
    /// Trace events kept for failure reports (default: 32).
    pub trace_tail: usize,
    /// Keep the whole trace, for [`Sim::take_trace`] and determinism diffs.
    pub record_trace: bool,
    /// Collect behaviour feedback ([`Feedback`](crate::feedback::Feedback)) for the run's
    /// summary or failure, as guided exploration needs (default off: it costs nothing then).
    pub feedback: bool,
    /// A `tracing` filter; when set, the run logs to stdout with simulated time and node name
    /// on every line.
    pub log: Option<String>,
    /// What the failure report's replay line runs after `SEEDSIM_SEED=…`. `None` for a
    /// `Sim` built by hand, which does not read `SEEDSIM_SEED`: its report says to rebuild
    /// it with the seed instead. [`Runner`](crate::Runner) sets it.
    pub replay_command: Option<String>,
    /// How every node's disk behaves.
    pub disk: crate::fs::DiskConfig,
    /// Invariants and liveness properties are checked after every this many steps (default 1).
    pub check_every: u64,
    /// Events scheduled at once (timers, datagrams in flight, restarts) before the run fails
    /// as overloaded (default: 16 million).
    pub scheduled_max: usize,
    /// No clock fault steps a node's clock backwards (default: false). With it, a backward
    /// jump or strobe step does nothing, a skew that would set a clock back only changes its
    /// drift, and a `recover` leaves a clock that is ahead where it is (running at the true
    /// rate): for systems that read a monotonic clock, as `CLOCK_MONOTONIC` never steps back.
    pub clocks_monotonic: bool,
    /// Wall-clock time one poll may run before the watchdog reports a hang (default 10 s;
    /// zero turns it off). See [`Builder::watchdog`].
    pub watchdog: Duration,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            seed: Seed(0),
            policy: Policy::Random,
            time_limit: Duration::from_secs(3600),
            steps_max: 100_000_000,
            on_limit: OnLimit::Fail,
            on_node_error: OnNodeError::Fail,
            link: Link::default(),
            stream: crate::net::StreamConfig::default(),
            tasks_max: 1 << 22,
            trace_tail: 32,
            record_trace: false,
            feedback: false,
            log: None,
            replay_command: None,
            scheduled_max: 1 << 24,
            check_every: 1,
            disk: crate::fs::DiskConfig::default(),
            clocks_monotonic: false,
            watchdog: crate::watchdog::LIMIT_DEFAULT,
        }
    }
}

impl Config {
    pub(crate) fn validate(&self) -> Result<(), Error> {
        let bad = |field, expected, value: String| Err(Error::new(ErrorKind::InvalidConfig { field, expected }, value));
        self.policy.validate()?;
        self.link.validate()?;
        self.stream.validate()?;
        if self.time_limit.is_zero() {
            return bad("time_limit", "a non-zero duration", format!("{:?}", self.time_limit));
        }
        if self.steps_max == 0 {
            return bad("steps_max", "at least 1", "0".to_owned());
        }
        if !(1..=1 << 31).contains(&self.tasks_max) {
            return bad("tasks_max", "1 to 2147483648", self.tasks_max.to_string());
        }
        self.disk.validate()?;
        if self.check_every == 0 {
            return bad("check_every", "at least 1", "0".to_owned());
        }
        if self.scheduled_max == 0 {
            return bad("scheduled_max", "at least 1", "0".to_owned());
        }
        if self.trace_tail > 1 << 20 {
            return bad("trace_tail", "at most 1048576", self.trace_tail.to_string());
        }
        Ok(())
    }
}

/// Builds a [`Sim`] with settings other than the defaults.
///
/// ```
/// use std::time::Duration;
/// use seedsim::{OnLimit, Policy, Seed, Sim};
/// let sim = Sim::builder()
///     .seed(Seed(7))
///     .policy(Policy::Fifo)
///     .time_limit(Duration::from_secs(60))
///     .on_limit(OnLimit::Pass)
///     .build()?;
/// assert_eq!(sim.seed(), Seed(7));
/// assert!(Sim::builder().steps_max(0).build().is_err());
/// # Ok::<(), seedsim::Error>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct Builder {
    config: Config,
}

impl Builder {
    /// The seed.
    pub fn seed(mut self, seed: Seed) -> Builder {
        self.config.seed = seed;
        self
    }

    /// The scheduling policy (default [`Policy::Random`]).
    pub fn policy(mut self, policy: Policy) -> Builder {
        self.config.policy = policy;
        self
    }

    /// The simulated time limit (default one hour).
    pub fn time_limit(mut self, limit: Duration) -> Builder {
        self.config.time_limit = limit;
        self
    }

    /// The step (poll) limit (default 100 million).
    pub fn steps_max(mut self, steps: u64) -> Builder {
        self.config.steps_max = steps;
        self
    }

    /// Whether reaching a limit fails the run (default [`OnLimit::Fail`]).
    pub fn on_limit(mut self, on_limit: OnLimit) -> Builder {
        self.config.on_limit = on_limit;
        self
    }

    /// What a server's main future returning an error does (default [`OnNodeError::Fail`]).
    pub fn on_node_error(mut self, on_error: OnNodeError) -> Builder {
        self.config.on_node_error = on_error;
        self
    }

    /// The default link between every pair of nodes.
    pub fn link(mut self, link: Link) -> Builder {
        self.config.link = link;
        self
    }

    /// How stream connections behave (default [`StreamConfig::default`](crate::net::StreamConfig::default)).
    pub fn stream(mut self, stream: crate::net::StreamConfig) -> Builder {
        self.config.stream = stream;
        self
    }

    /// How many tasks the world may hold at once.
    pub fn tasks_max(mut self, tasks: usize) -> Builder {
        self.config.tasks_max = tasks;
        self
    }

    /// How many trace events a failure report shows.
    pub fn trace_tail(mut self, events: usize) -> Builder {
        self.config.trace_tail = events;
        self
    }

    /// Keep the whole trace in memory (see [`Sim::take_trace`]).
    pub fn record_trace(mut self, record: bool) -> Builder {
        self.config.record_trace = record;
        self
    }

    /// Collect behaviour feedback: the run's [`Summary::feedback`](crate::Summary::feedback)
    /// (or [`Failure::feedback`](crate::Failure::feedback)) then holds the features it
    /// reached, for a [`Guide`](crate::guide::Guide). Off by default, and free when off.
    ///
    /// ```
    /// let mut sim = seedsim::Sim::builder().feedback(true).build()?;
    /// sim.client("c", async { Ok::<(), std::io::Error>(()) })?;
    /// assert!(!sim.run().unwrap().feedback.is_empty());
    /// # Ok::<(), seedsim::Error>(())
    /// ```
    pub fn feedback(mut self, on: bool) -> Builder {
        self.config.feedback = on;
        self
    }

    /// Log the run with this `tracing` filter (`"info"`, `"seedsim=debug,my_crate=trace"`).
    /// `seedsim=debug` logs every event of the trace; `seedsim=trace` adds every poll.
    pub fn log(mut self, filter: impl Into<String>) -> Builder {
        self.config.log = Some(filter.into());
        self
    }

    /// What the replay line runs after `SEEDSIM_SEED=…`, for a simulation run by something
    /// that reads `SEEDSIM_SEED` (a `Runner` sets this itself).
    pub fn replay_command(mut self, command: impl Into<String>) -> Builder {
        self.config.replay_command = Some(command.into());
        self
    }

    /// Keep every node's clock monotonic: clock faults may run a clock fast or slow and step it
    /// forward, never back (see [`Config::clocks_monotonic`]).
    ///
    /// ```
    /// use std::time::Duration;
    /// use seedsim::{time::Instant, Sim};
    /// let mut sim = Sim::builder().clocks_monotonic().build()?;
    /// sim.client("c", async {
    ///     let mut last = Instant::ZERO;
    ///     for _ in 0..50 {
    ///         seedsim::time::sleep(Duration::from_millis(3)).await;
    ///         let now = Instant::now();
    ///         assert!(now >= last);
    ///         last = now;
    ///     }
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// // Backward steps: a jump, and every other step of a strobe.
    /// sim.faults("10ms jump c -5s\n20ms strobe c 1s 5ms 100ms".parse()?)?;
    /// assert!(sim.run().is_passed());
    /// # Ok::<(), seedsim::Error>(())
    /// ```
    pub fn clocks_monotonic(mut self) -> Builder {
        self.config.clocks_monotonic = true;
        self
    }

    /// How every node's disk behaves (block size, capacity, latency, crash behaviour).
    pub fn disk(mut self, disk: crate::fs::DiskConfig) -> Builder {
        self.config.disk = disk;
        self
    }

    /// Check invariants and liveness properties after every `steps` steps instead of every
    /// step: cheaper for expensive checks, at the cost of noticing a violation later.
    pub fn check_every(mut self, steps: u64) -> Builder {
        self.config.check_every = steps;
        self
    }

    /// How many events may be scheduled at once before the run fails as overloaded.
    pub fn scheduled_max(mut self, events: usize) -> Builder {
        self.config.scheduled_max = events;
        self
    }

    /// How long one poll may run on the host (wall-clock time) before the watchdog reports
    /// it as a hang; default 10 s, and [`Duration::ZERO`] turns the watchdog off.
    ///
    /// A task that never yields (a `loop {}` with no `.await`, a blocking call) would
    /// otherwise hang its run forever, without a word: a poll takes no simulated time, and
    /// nothing can interrupt it. A watchdog thread outside the simulation (one per process)
    /// sees the poll outlast the limit and reports the seed, node, task, where the task was
    /// spawned and the replay line ([`Cause::Hang`](crate::Cause::Hang)). Under a
    /// [`Runner`](crate::Runner) or a `Sim` run by hand, it prints that report to stderr and
    /// ends the process with a failure, since the stuck thread cannot be stopped;
    /// `explore` records the seed as failed and goes on. The watchdog reads a few atomics
    /// the run loop sets around each poll, and changes nothing a run does: the trace hash
    /// is the same with it on or off. Turn it off to hold a run in a debugger.
    ///
    /// ```
    /// use std::time::Duration;
    /// let sim = seedsim::Sim::builder().watchdog(Duration::from_secs(60)).build()?;
    /// assert_eq!(sim.config().watchdog, Duration::from_secs(60));
    /// let off = seedsim::Sim::builder().watchdog(Duration::ZERO).build()?;
    /// assert!(off.config().watchdog.is_zero());
    /// # Ok::<(), seedsim::Error>(())
    /// ```
    pub fn watchdog(mut self, limit: Duration) -> Builder {
        self.config.watchdog = limit;
        self
    }

    /// The settings so far.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Build the simulation.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidConfig`] for a setting out of range, naming it;
    /// [`ErrorKind::InvalidLogFilter`] for a log filter that does not parse.
    pub fn build(self) -> Result<Sim, Error> {
        Sim::with_config(self.config)
    }
}
