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
#[cfg(feature = "proptest")]
pub mod strategy;
mod text;

pub(crate) use buggify::buggify_enabled;
pub use buggify::{buggify_with, BuggifySite};
pub use mutate::{Mutation, Mutator};
pub use nemesis::{Nemesis, Profile, Weights};
pub use plan::{FaultPlan, TimedFault};
#[cfg(feature = "explore")]
pub(crate) use text::parse_duration;

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
            | Fault::DiskCorrupt(n) => vec![n.as_str()],
            Fault::Partition { a, b } | Fault::Repair { a, b } => a.iter().chain(b).map(String::as_str).collect(),
            Fault::PartitionOneWay { from, to } => from.iter().chain(to).map(String::as_str).collect(),
            Fault::Clog { a, b, .. } => vec![a.as_str(), b.as_str()],
            Fault::HealAll | Fault::LossBurst { .. } | Fault::LatencySpike { .. } | Fault::Recover => Vec::new(),
        }
    }

    /// How long the fault lasts, for the faults that end by themselves (a bounce's downtime,
    /// a clog, a loss burst, a latency spike, a disk fault); `None` for the rest.
    pub(crate) fn duration_mut(&mut self) -> Option<&mut Duration> {
        match self {
            Fault::Bounce { down: d, .. }
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
        matches!(self, Fault::Crash(_) | Fault::Restart(_) | Fault::Bounce { .. } | Fault::Pause(_) | Fault::Resume(_))
    }
}

/// The fault's text form, as a line of a plan without its time: `partition a,b | c`.
impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        text::write_fault(f, self)
    }
}
