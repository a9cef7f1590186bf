//! How a run ended: [`Outcome`], with a [`Summary`] when it passed and a [`Failure`] report
//! when it did not.
//!
//! A failure report is made to be pasted into an issue: the cause with its location, where
//! and when it happened, the last events, the trace hash and the one line that replays it.

use std::fmt;
use std::time::Duration;

use crate::check::Coverage;
use crate::fault::FaultPlan;
use crate::feedback::Feedback;
use crate::net::NetStats;
use crate::seed::Seed;
use crate::task::TaskId;
use crate::time::Instant;

/// How a run ended.
#[derive(Clone, Debug)]
#[must_use = "an Outcome may be a failure: check it, or call .unwrap()"]
// `Passed` is made once per run, and a box would cost every passing run an allocation.
#[allow(clippy::large_enum_variant)]
pub enum Outcome {
    /// Every client finished (or, with no clients, nothing was left to do).
    Passed(Summary),
    /// A failure was found.
    Failed(Box<Failure>),
}

impl Outcome {
    /// True if the run passed.
    pub fn is_passed(&self) -> bool {
        matches!(self, Outcome::Passed(_))
    }

    /// The seed of the run.
    pub fn seed(&self) -> Seed {
        match self {
            Outcome::Passed(summary) => summary.seed,
            Outcome::Failed(failure) => failure.seed,
        }
    }

    /// The trace hash: the same seed on the same build gives the same hash.
    pub fn trace_hash(&self) -> u64 {
        match self {
            Outcome::Passed(summary) => summary.trace_hash,
            Outcome::Failed(failure) => failure.trace_hash,
        }
    }

    /// What the assertions and `buggify!` sites did.
    pub fn coverage(&self) -> &Coverage {
        match self {
            Outcome::Passed(summary) => &summary.coverage,
            Outcome::Failed(failure) => &failure.coverage,
        }
    }

    /// The behaviour features the run reached (empty unless
    /// [`Builder::feedback`](crate::Builder::feedback) was on).
    pub fn feedback(&self) -> &Feedback {
        match self {
            Outcome::Passed(summary) => &summary.feedback,
            Outcome::Failed(failure) => &failure.feedback,
        }
    }

    /// The faults the run had installed (plans and nemeses), merged.
    pub fn faults(&self) -> &FaultPlan {
        match self {
            Outcome::Passed(summary) => &summary.faults,
            Outcome::Failed(failure) => &failure.faults,
        }
    }

    /// The failure, if the run failed.
    pub fn failure(&self) -> Option<&Failure> {
        match self {
            Outcome::Passed(_) => None,
            Outcome::Failed(failure) => Some(failure),
        }
    }

    /// The failure, if the run failed.
    pub fn into_failure(self) -> Option<Failure> {
        match self {
            Outcome::Passed(_) => None,
            Outcome::Failed(failure) => Some(*failure),
        }
    }

    /// The summary of a passed run.
    ///
    /// # Panics
    /// If the run failed, with the failure report (and its replay line) as the message.
    #[track_caller]
    pub fn unwrap(self) -> Summary {
        match self {
            Outcome::Passed(summary) => summary,
            Outcome::Failed(failure) => panic!("{failure}"),
        }
    }
}

/// Why a passing run stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum End {
    /// Every client finished.
    ClientsDone,
    /// There were no clients, and no task was ready and no event pending.
    Quiescent,
    /// The time limit was reached, and `OnLimit::Pass` made that a pass.
    TimeLimit,
    /// The step limit was reached, and `OnLimit::Pass` made that a pass.
    StepLimit,
}

/// What a passing run did.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Summary {
    /// The seed.
    pub seed: Seed,
    /// Why it stopped.
    pub end: End,
    /// Simulated time at the end.
    pub time: Instant,
    /// Polls made.
    pub steps: u64,
    /// Trace events recorded.
    pub events: u64,
    /// The trace hash.
    pub trace_hash: u64,
    /// Tasks spawned, node and client main tasks included.
    pub tasks_spawned: u64,
    /// What the network did.
    pub net: NetStats,
    /// The faults installed (plans and nemeses), merged.
    pub faults: FaultPlan,
    /// What the assertions and `buggify!` sites did.
    pub coverage: Coverage,
    /// The behaviour features the run reached (empty unless
    /// [`Builder::feedback`](crate::Builder::feedback) was on).
    pub feedback: Feedback,
}

/// A failed run, with everything needed to understand and replay it.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Failure {
    /// The seed.
    pub seed: Seed,
    /// Simulated time of the failure.
    pub time: Instant,
    /// The step (poll count) of the failure.
    pub step: u64,
    /// The node where it happened, if it happened in a node's task.
    pub node: Option<String>,
    /// The task where it happened, if it happened in a task.
    pub task: Option<TaskId>,
    /// What went wrong.
    pub cause: Cause,
    /// The last events of the trace, oldest first, one line each.
    pub last_events: Vec<String>,
    /// The trace hash at the failure.
    pub trace_hash: u64,
    /// One line that replays the failure.
    pub replay: String,
    /// The faults installed (plans and nemeses), merged: the report prints them so they can
    /// be read, edited and replayed.
    pub faults: FaultPlan,
    /// What the assertions and `buggify!` sites did up to the failure.
    pub coverage: Coverage,
    /// The behaviour features the run reached up to the failure (empty unless
    /// [`Builder::feedback`](crate::Builder::feedback) was on).
    pub feedback: Feedback,
    /// Files written about this failure, each with what it holds (`timeline`, `trace`), or
    /// why it could not be written: a [`Runner`](crate::Runner) writes them when asked
    /// (`SEEDSIM_HTML`, `SEEDSIM_TRACE`), and the report names them.
    pub files: Vec<(&'static str, Result<std::path::PathBuf, String>)>,
}

/// What went wrong in a failed run.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Cause {
    /// A task panicked.
    Panic {
        /// The panic message.
        message: String,
        /// `file:line:column` of the panic, when the hook saw it.
        location: Option<String>,
    },
    /// A client's future returned an error.
    ClientError {
        /// The error's `Display`.
        message: String,
    },
    /// A node's main future returned an error.
    NodeError {
        /// The error's `Display`.
        message: String,
    },
    /// No task was ready and no event pending while clients were unfinished.
    Deadlock {
        /// Every task still alive, with its node and where it was spawned.
        blocked: Vec<BlockedTask>,
    },
    /// Simulated time passed the limit.
    TimeLimit {
        /// The limit.
        limit: Duration,
    },
    /// The number of steps passed the limit.
    StepLimit {
        /// The limit.
        limit: u64,
    },
    /// More events were scheduled at once than `Builder::scheduled_max` allows: a node that
    /// floods the network or leaks timers.
    ScheduledLimit {
        /// The limit.
        limit: usize,
    },
    /// An `assert_always!` was false.
    Assertion {
        /// The assertion's name.
        name: String,
        /// `file:line:column` of the assertion.
        location: String,
    },
    /// An invariant registered with `Sim::invariant` returned an error.
    Invariant {
        /// The invariant's name.
        name: String,
        /// Its error message.
        message: String,
    },
    /// A liveness property did not hold within its time after the last recover.
    Liveness {
        /// The property's name.
        name: String,
        /// When the time started: the last recover, or the start of the run.
        since: Instant,
        /// How long it had.
        within: Duration,
        /// True if the run ended (clients done) before its deadline, with it not holding.
        run_ended: bool,
    },
    /// The client history registered with [`Sim::check_history`](crate::Sim::check_history)
    /// is not linearizable (or the checker could not decide within its budget).
    History {
        /// The checker's explanation.
        message: String,
        /// The operation it blamed (its id in the history), if it blamed one.
        op: Option<u64>,
    },
    /// The run did something that cannot replay (a wake from another thread).
    Nondeterminism {
        /// What happened, and the usual fix.
        message: String,
    },
    /// One poll ran longer on the host than the watchdog's limit
    /// ([`Builder::watchdog`](crate::Builder::watchdog)): a task that never yields (a loop with
    /// no `.await`, a blocking call, a busy wait). Reported by the watchdog thread while the
    /// poll still runs, so the failure has no last events, and `explore` records it as a
    /// failure of its seed.
    Hang {
        /// `file:line` where the polled task was spawned (or where its node was added).
        spawned_at: String,
        /// How long the poll had run on the host when the watchdog reported it (at least).
        ran_for: Duration,
        /// The watchdog's limit.
        limit: Duration,
    },
}

/// A task that was waiting when a deadlock was detected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockedTask {
    /// The task.
    pub task: TaskId,
    /// Its node.
    pub node: String,
    /// `file:line` where it was spawned (or where its node was added).
    pub spawned_at: String,
    /// True if its node is paused (so it cannot run, ready or not).
    pub paused: bool,
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cause::Panic { message, location: Some(location) } => write!(f, "panic at {location}: {message}"),
            Cause::Panic { message, location: None } => write!(f, "panic: {message}"),
            Cause::ClientError { message } => write!(f, "client returned an error: {message}"),
            Cause::NodeError { message } => write!(f, "node returned an error: {message}"),
            Cause::Deadlock { blocked } => {
                write!(
                    f,
                    "deadlock: no task is ready and no event is pending, but a client has not finished; {} task(s) blocked:",
                    blocked.len()
                )?;
                for task in blocked {
                    write!(f, "\n      {} on {}, spawned at {}", task.task, task.node, task.spawned_at)?;
                    if task.paused {
                        write!(f, " (its node is paused)")?;
                    }
                }
                Ok(())
            }
            Cause::TimeLimit { limit } => write!(
                f,
                "time limit of {limit:?} reached before every client finished (raise it with Builder::time_limit, or pass with Builder::on_limit(OnLimit::Pass))"
            ),
            Cause::StepLimit { limit } => write!(
                f,
                "step limit of {limit} reached before every client finished (raise it with Builder::steps_max)"
            ),
            Cause::ScheduledLimit { limit } => write!(
                f,
                "more than {limit} events scheduled at once (timers, datagrams in flight, restarts): \
                 a node floods the network or leaks timers (raise the bound with Builder::scheduled_max)"
            ),
            Cause::Assertion { name, location } => write!(f, "assert_always!({name:?}) failed at {location}"),
            Cause::Invariant { name, message } => write!(f, "invariant {name:?} violated: {message}"),
            Cause::Liveness { name, since, within, run_ended } => {
                write!(f, "liveness: {name:?} did not hold within {within:?} of {since}")?;
                if *run_ended {
                    write!(f, " (the run ended first; keep a client running until it can hold)")?;
                }
                Ok(())
            }
            Cause::History { message, .. } => write!(f, "history check: {message}"),
            Cause::Nondeterminism { message } => write!(f, "nondeterminism: {message}"),
            Cause::Hang { spawned_at, ran_for, limit } => write!(
                f,
                "hang: a poll of the task spawned at {spawned_at} has run for {ran_for:.1?} of wall time without \
                 returning (watchdog limit {limit:?}): the task never yields (a loop with no .await, a blocking \
                 call, a busy wait). A poll takes no simulated time, so nothing else can run until it returns; \
                 make the loop await (a sleep, a receive, seedsim::task::yield_now)"
            ),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "seedsim: run failed")?;
        writeln!(f, "  cause:      {}", self.cause)?;
        writeln!(f, "  seed:       {}", self.seed)?;
        writeln!(f, "  at:         {} (step {})", self.time, self.step)?;
        match (&self.node, self.task) {
            (Some(node), Some(task)) => writeln!(f, "  where:      node {node}, {task}")?,
            (Some(node), None) => writeln!(f, "  where:      node {node}")?,
            _ => {}
        }
        writeln!(f, "  trace hash: 0x{:016x}", self.trace_hash)?;
        if !self.faults.is_empty() {
            writeln!(f, "  faults:")?;
            for line in self.faults.to_string().lines() {
                writeln!(f, "    {line}")?;
            }
        }
        let fired: Vec<&str> =
            self.coverage.buggify.iter().filter(|s| s.fired > 0).map(|s| s.location.as_str()).collect();
        if !fired.is_empty() {
            writeln!(f, "  buggify fired at: {}", fired.join(", "))?;
        }
        if !self.last_events.is_empty() {
            writeln!(f, "  last events:")?;
            for line in &self.last_events {
                writeln!(f, "    {line}")?;
            }
        }
        for (what, file) in &self.files {
            let pad = 12usize.saturating_sub(what.len() + 1);
            match file {
                Ok(path) => writeln!(f, "  {what}:{:pad$}{}", "", path.display())?,
                Err(err) => writeln!(f, "  {what}:{:pad$}not written: {err}", "")?,
            }
        }
        write!(f, "  replay:     {}", self.replay)
    }
}

impl std::error::Error for Failure {}
