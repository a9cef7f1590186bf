//! Faults: what can go wrong in a run, a [`FaultPlan`] that says when, a [`Nemesis`] that
//! makes plans from a seed and a [`Profile`], swarm profiles that vary which faults a seed
//! gets, and [`buggify!`](crate::buggify) fault points in user code.
//!
//! Every way of injecting faults goes through one value, [`Fault`], applied by the world at a
//! simulated time, so every fault is in the trace and every plan can be printed, edited,
//! parsed back and replayed. A nemesis does not act on its own: it writes a plan up front
//! from the seed, so the report of a failing run carries the exact faults that ran.

mod buggify;
mod mutate;
mod nemesis;
mod plan;
mod profile;
#[cfg(feature = "proptest")]
pub mod strategy;
mod text;
mod usage;

pub(crate) use buggify::buggify_enabled;
pub use buggify::{buggify_with, BuggifySite};
pub use mutate::{Mutation, Mutator};
pub use nemesis::Nemesis;
pub use plan::{FaultPlan, TimedFault};
pub use profile::{Profile, Spread, Weights};
pub(crate) use text::parse_duration;
pub use usage::Usage;

use std::fmt;
use std::time::Duration;

use crate::rand::Ratio;
use crate::time::Skew;

/// One fault, applied at one instant. Node names are resolved when a plan is installed.
///
/// Faults that last (a partition, a pause, a skew) stay until another fault undoes them:
/// `repair`, `resume`, `skew` back to none, `heal-all`, or `recover`, which ends every fault.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// Crash a node (its tasks dropped, sockets closed, datagrams in flight lost).
    Crash(String),
    /// Restart a crashed node.
    Restart(String),
    /// Crash a node and restart it after `down`.
    Bounce {
        /// The node.
        node: String,
        /// How long it stays down.
        down: Duration,
    },
    /// Freeze a node, as a long GC pause or a stalled VM would.
    Pause(String),
    /// Unfreeze a paused node.
    Resume(String),
    /// Cut every link between the two sets, both ways.
    Partition {
        /// One side.
        a: Vec<String>,
        /// The other side.
        b: Vec<String>,
    },
    /// Cut every link from `from` to `to`, one way.
    PartitionOneWay {
        /// Senders whose datagrams are blocked.
        from: Vec<String>,
        /// Receivers.
        to: Vec<String>,
    },
    /// Undo a partition between the two sets, both ways.
    Repair {
        /// One side.
        a: Vec<String>,
        /// The other side.
        b: Vec<String>,
    },
    /// Cut a node off from every other node.
    Isolate(String),
    /// Reconnect an isolated node.
    Rejoin(String),
    /// Delay everything between two nodes, both ways, for `duration`.
    Clog {
        /// One end.
        a: String,
        /// The other end.
        b: String,
        /// How long the clog lasts.
        duration: Duration,
    },
    /// Remove every partition, isolation, clog, loss burst and latency spike.
    HealAll,
    /// Set a node's clock off true time (offset and drift).
    Skew {
        /// The node.
        node: String,
        /// Its clock's error from now on.
        skew: Skew,
    },
    /// Jump a node's clock forward or back (an NTP step), keeping its drift.
    Jump {
        /// The node.
        node: String,
        /// Signed jump, in nanoseconds.
        by_nanos: i64,
    },
    /// Every link loses at least `loss` of its datagrams for `duration`.
    LossBurst {
        /// The loss during the burst.
        loss: Ratio,
        /// How long it lasts.
        duration: Duration,
    },
    /// Every datagram sent during `duration` takes `extra` longer.
    LatencySpike {
        /// The added latency.
        extra: Duration,
        /// How long it lasts.
        duration: Duration,
    },
    /// A node's disk fails reads, writes and syncs with probability `ratio` for `duration`.
    DiskErrors {
        /// The node.
        node: String,
        /// The chance each operation fails.
        ratio: Ratio,
        /// How long it lasts.
        duration: Duration,
    },
    /// A node's disk writes a block away from where it was aimed, with probability `ratio`.
    DiskMisdirect {
        /// The node.
        node: String,
        /// The chance each write lands a block off.
        ratio: Ratio,
        /// How long it lasts.
        duration: Duration,
    },
    /// A node's disk is full for `duration`: writes that grow a file fail.
    DiskFull {
        /// The node.
        node: String,
        /// How long it lasts.
        duration: Duration,
    },
    /// Every operation on a node's disk takes `extra` longer for `duration`.
    DiskSlow {
        /// The node.
        node: String,
        /// The added latency.
        extra: Duration,
        /// How long it lasts.
        duration: Duration,
    },
    /// One bit of a random synced block of a random file on a node's disk flips: corruption at
    /// rest, which only a checksum notices.
    DiskCorrupt(String),
    /// Every link delivers at least `ratio` of its packets twice for `duration` (each copy
    /// with its own latency).
    Duplicate {
        /// The chance a packet is delivered twice.
        ratio: Ratio,
        /// How long it lasts.
        duration: Duration,
    },
    /// For `duration`, `ratio` of the packets on every link are held back by up to `spread`
    /// and hold back nothing behind them, so later packets overtake them.
    Reorder {
        /// The chance a packet is held back.
        ratio: Ratio,
        /// The most a packet is held back.
        spread: Duration,
        /// How long it lasts.
        duration: Duration,
    },
    /// Cut the nodes that currently call themselves primaries
    /// ([`world::set_primary`](crate::world::set_primary)) off from the other servers (nodes
    /// added with `Sim::node`), both ways, for `duration`; clients still reach everyone. Who is cut is decided when the fault happens, as Jepsen's
    /// "primaries" nemesis asks the system. In a system where no node says so, the server
    /// that sent the most messages to other servers since the last such cut (or the start) is
    /// cut (a leader's heartbeats and replication make it the busiest); with no such traffic
    /// it does nothing.
    PartitionPrimaries {
        /// How long the cut lasts.
        duration: Duration,
    },
    /// A node's clock steps forward by `by`, then back by `by`, every `period`, for
    /// `duration`: a clock strobing between two readings (and stepping backwards each time).
    Strobe {
        /// The node.
        node: String,
        /// The size of each step.
        by: Duration,
        /// The time between two steps.
        period: Duration,
        /// How long it lasts; it ends on a step back, so the clock is where it would have been.
        duration: Duration,
    },
    /// Crash a node right after its next send or receive of a message (an event, not a
    /// time), and restart it after `down`: a crash between handling a request and persisting
    /// or answering it. Until the node sends (or receives) again, or a `recover`, it waits.
    CrashAfter {
        /// The node.
        node: String,
        /// The message that sets it off.
        trigger: Trigger,
        /// How long the node stays down.
        down: Duration,
    },
    /// The end of the faults: heal the network and the disks, restart crashed nodes, resume
    /// paused ones and set every clock right. Liveness properties are measured from the last
    /// `Recover`.
    Recover,
}

impl Fault {
    /// The kind's name, as the text form writes it (`crash`, `partition-oneway`, ...).
    pub fn kind(&self) -> &'static str {
        match self {
            Fault::Crash(_) => "crash",
            Fault::Restart(_) => "restart",
            Fault::Bounce { .. } => "bounce",
            Fault::Pause(_) => "pause",
            Fault::Resume(_) => "resume",
            Fault::Partition { .. } => "partition",
            Fault::PartitionOneWay { .. } => "partition-oneway",
            Fault::Repair { .. } => "repair",
            Fault::Isolate(_) => "isolate",
            Fault::Rejoin(_) => "rejoin",
            Fault::Clog { .. } => "clog",
            Fault::HealAll => "heal-all",
            Fault::Skew { .. } => "skew",
            Fault::Jump { .. } => "jump",
            Fault::LossBurst { .. } => "loss-burst",
            Fault::LatencySpike { .. } => "latency-spike",
            Fault::DiskErrors { .. } => "disk-errors",
            Fault::DiskMisdirect { .. } => "disk-misdirect",
            Fault::DiskFull { .. } => "disk-full",
            Fault::DiskSlow { .. } => "disk-slow",
            Fault::DiskCorrupt(_) => "disk-corrupt",
            Fault::Duplicate { .. } => "duplicate",
            Fault::Reorder { .. } => "reorder",
            Fault::PartitionPrimaries { .. } => "partition-primaries",
            Fault::Strobe { .. } => "strobe",
            Fault::CrashAfter { trigger: Trigger::Send, .. } => "crash-after-send",
            Fault::CrashAfter { trigger: Trigger::Receive, .. } => "crash-after-receive",
            Fault::Recover => "recover",
        }
    }

    /// Every node the fault names.
    pub fn nodes(&self) -> Vec<&str> {
        match self {
            Fault::Crash(n)
            | Fault::Restart(n)
            | Fault::Bounce { node: n, .. }
            | Fault::Pause(n)
            | Fault::Resume(n)
            | Fault::Isolate(n)
            | Fault::Rejoin(n)
            | Fault::Skew { node: n, .. }
            | Fault::Jump { node: n, .. }
            | Fault::DiskErrors { node: n, .. }
            | Fault::DiskMisdirect { node: n, .. }
            | Fault::DiskFull { node: n, .. }
            | Fault::DiskSlow { node: n, .. }
            | Fault::DiskCorrupt(n)
            | Fault::Strobe { node: n, .. }
            | Fault::CrashAfter { node: n, .. } => vec![n.as_str()],
            Fault::Partition { a, b } | Fault::Repair { a, b } => a.iter().chain(b).map(String::as_str).collect(),
            Fault::PartitionOneWay { from, to } => from.iter().chain(to).map(String::as_str).collect(),
            Fault::Clog { a, b, .. } => vec![a.as_str(), b.as_str()],
            Fault::HealAll
            | Fault::LossBurst { .. }
            | Fault::LatencySpike { .. }
            | Fault::Duplicate { .. }
            | Fault::Reorder { .. }
            | Fault::PartitionPrimaries { .. }
            | Fault::Recover => Vec::new(),
        }
    }

    /// How long the fault lasts, for the faults that end by themselves (a bounce's downtime,
    /// a clog, a loss burst, a latency spike, a disk fault, a window of duplication or
    /// reordering, a cut of the primaries, a strobe); `None` for the rest.
    pub(crate) fn duration_mut(&mut self) -> Option<&mut Duration> {
        match self {
            Fault::Bounce { down: d, .. }
            | Fault::CrashAfter { down: d, .. }
            | Fault::Duplicate { duration: d, .. }
            | Fault::Reorder { duration: d, .. }
            | Fault::PartitionPrimaries { duration: d }
            | Fault::Strobe { duration: d, .. }
            | Fault::Clog { duration: d, .. }
            | Fault::LossBurst { duration: d, .. }
            | Fault::LatencySpike { duration: d, .. }
            | Fault::DiskErrors { duration: d, .. }
            | Fault::DiskMisdirect { duration: d, .. }
            | Fault::DiskFull { duration: d, .. }
            | Fault::DiskSlow { duration: d, .. } => Some(d),
            _ => None,
        }
    }

    /// True for faults that take a node down or freeze it (servers only: clients run once).
    pub(crate) fn needs_server(&self) -> bool {
        matches!(
            self,
            Fault::Crash(_)
                | Fault::Restart(_)
                | Fault::Bounce { .. }
                | Fault::CrashAfter { .. }
                | Fault::Pause(_)
                | Fault::Resume(_)
        )
    }

    /// Why the fault cannot be applied as written, if it cannot: a strobe needs a period of
    /// at least a millisecond and at most [`STROBE_STEPS_MAX`] steps.
    pub(crate) fn invalid(&self) -> Option<&'static str> {
        match self {
            Fault::Strobe { period, duration, .. } => {
                if *period < STROBE_PERIOD_MIN {
                    Some("a strobe period of at least 1ms")
                } else if duration.as_nanos() / period.as_nanos() > u128::from(STROBE_STEPS_MAX) {
                    Some("a strobe of at most 1000 steps (its duration divided by its period)")
                } else {
                    None
                }
            }
            _ => None,
        }
    }
}

/// The shortest period of a [`Fault::Strobe`].
pub const STROBE_PERIOD_MIN: Duration = Duration::from_millis(1);

/// The most clock steps one [`Fault::Strobe`] makes: it is applied as that many scheduled
/// steps.
pub const STROBE_STEPS_MAX: u32 = 1_000;

/// What sets off a [`Fault::CrashAfter`]: the node's next message out or in, as its code sees
/// it (a datagram sent or received, a stream write or read that moved bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trigger {
    /// The node's next `send_to` or stream write: the message has left when it crashes.
    Send,
    /// The node's next `recv_from` or stream read: its code has the message (and runs until
    /// it next waits) when it crashes.
    Receive,
}

/// The fault's text form, as a line of a plan without its time: `partition a,b | c`.
impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        text::write_fault(f, self)
    }
}
