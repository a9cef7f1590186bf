//! Nodes: identity (name, address), lifecycle (start, crash, restart, pause) and each node's
//! clock and random stream.
//!
//! A node is a server built by a factory that is called again on every restart; a client is
//! a node whose one future runs once, and the run passes when every client has finished.
//! Lifecycle changes are made by the world (`sim::control`); this file owns the state they
//! change.

use std::fmt;
use std::future::Future;
use std::net::Ipv4Addr;
use std::panic::Location;
use std::pin::Pin;
use std::rc::Rc;

use crate::error::{Error, ErrorKind};
use crate::rand::Stream;
use crate::time::Clock;

/// A node's index in its simulation, in the order nodes and clients were added.
///
/// ```
/// let mut sim = seedsim::Sim::new(seedsim::Seed(1));
/// let a = sim.node("a", || async {})?;
/// let b = sim.client("b", async { Ok::<(), std::io::Error>(()) })?;
/// assert_eq!((a.index(), b.index()), (0, 1));
/// # Ok::<(), seedsim::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId(pub(crate) u32);

impl NodeId {
    /// The node's index: 0 for the first node or client added, 1 for the next, and so on.
    pub fn index(self) -> usize {
        self.0 as usize
    }

    /// The node's IPv4 address: `10.0.0.1` for index 0, counting up.
    pub fn ip(self) -> Ipv4Addr {
        let host = self.0 + 1;
        Ipv4Addr::new(10, (host >> 16) as u8, (host >> 8) as u8, host as u8)
    }

    /// The node with this address, if it is in the range nodes are given.
    pub(crate) fn from_ip(ip: Ipv4Addr) -> Option<NodeId> {
        let [a, b, c, d] = ip.octets();
        let host = (u32::from(b) << 16) | (u32::from(c) << 8) | u32::from(d);
        (a == 10 && host > 0).then(|| NodeId(host - 1))
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "node#{}", self.0)
    }
}

/// How many nodes a world can hold: the size of the `10.0.0.0/8` address range.
pub(crate) const NODES_MAX: usize = (1 << 24) - 2;

/// What a node's or client's future may return: `()`, or a `Result` whose error fails the run.
///
/// ```
/// let mut sim = seedsim::Sim::new(seedsim::Seed(1));
/// sim.client("c", async { Err::<(), _>("the answer was 41") })?;
/// let failure = sim.run().into_failure().expect("the client's error fails the run");
/// assert!(failure.to_string().contains("the answer was 41"));
/// # Ok::<(), seedsim::Error>(())
/// ```
pub trait Exit: 'static {
    /// `Err` with a message if the run should fail.
    fn into_exit(self) -> Result<(), String>;
}

impl Exit for () {
    fn into_exit(self) -> Result<(), String> {
        Ok(())
    }
}

impl<E: fmt::Display + 'static> Exit for Result<(), E> {
    fn into_exit(self) -> Result<(), String> {
        self.map_err(|err| err.to_string())
    }
}

pub(crate) type MainFuture = Pin<Box<dyn Future<Output = Result<(), String>>>>;
pub(crate) type Factory = Rc<dyn Fn() -> MainFuture>;

pub(crate) enum Role {
    /// Restartable: the factory builds the node's main future on each start.
    Server { factory: Factory },
    /// Runs once; `future` is taken when the client starts.
    Client { future: Option<MainFuture>, finished: bool },
}

/// Where a node is in its lifecycle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum State {
    /// Added, not yet started (the run has not begun).
    Added,
    Running,
    Paused,
    Crashed,
}

pub(crate) struct Node {
    pub(crate) id: NodeId,
    pub(crate) name: String,
    pub(crate) role: Role,
    pub(crate) state: State,
    /// How many times it has started; a start's incarnation is the count before it.
    pub(crate) starts: u32,
    pub(crate) clock: Clock,
    /// The sum of the steps the clock has taken (jumps, strobes, skews' offsets, recovers):
    /// what timers, which measure elapsed time, move along by.
    pub(crate) clock_steps: i64,
    /// The node's own random stream, made on its first draw: most nodes of a short run never
    /// draw, and a ChaCha setup is a good part of a tiny world's cost.
    pub(crate) rng: Option<Stream>,
    /// How many isolations of this node are not yet undone by a rejoin (counted, as a pair's
    /// partitions are, so overlapping faults compose).
    pub(crate) isolated: u32,
    pub(crate) next_ephemeral_port: u16,
    pub(crate) added_at: &'static Location<'static>,
    /// A crash armed by `Fault::CrashAfter`: what sets it off, and the downtime (ns).
    pub(crate) crash_after: Option<(crate::fault::Trigger, u64)>,
    /// The node says it is a primary (`world::set_primary`); a crash forgets it.
    pub(crate) primary: bool,
    /// Messages its code has sent to other servers (datagrams, and stream writes), and the
    /// count when the primaries were last cut: the server that sent the most since stands in
    /// for the primary of a system that names none.
    pub(crate) sent: u64,
    pub(crate) sent_at_cut: u64,
}

/// Ports handed out by `bind` with port 0, as Linux does.
pub(crate) const EPHEMERAL_PORTS: std::ops::RangeInclusive<u16> = 32768..=60999;

impl Node {
    /// Set the clock to `next` at true time `now` (see `Clock::set`), adding the step it took
    /// to `clock_steps`. Returns the step, and whether the clock runs differently from now on
    /// (then the node's pending timers must be moved: `World::retime_timers`).
    pub(crate) fn set_clock(&mut self, now: u64, next: Clock, monotonic: bool) -> (i64, bool) {
        let before = self.clock;
        let step = self.clock.set(now, next, monotonic);
        self.clock_steps = self.clock_steps.saturating_add(step);
        (step, !self.clock.same_from(&before, now))
    }

    pub(crate) fn new(id: NodeId, name: String, role: Role, added_at: &'static Location<'static>) -> Node {
        Node {
            id,
            name,
            role,
            state: State::Added,
            starts: 0,
            clock: Clock::TRUE,
            clock_steps: 0,
            rng: None,
            isolated: 0,
            crash_after: None,
            primary: false,
            sent: 0,
            sent_at_cut: 0,
            next_ephemeral_port: *EPHEMERAL_PORTS.start(),
            added_at,
        }
    }

    pub(crate) fn is_client(&self) -> bool {
        matches!(self.role, Role::Client { .. })
    }

    pub(crate) fn is_up(&self) -> bool {
        matches!(self.state, State::Running | State::Paused)
    }
}

/// Check a node name: 1 to 64 characters of `[A-Za-z0-9_.-]`, so names print unquoted in
/// reports and work as host names.
pub(crate) fn validate_name(name: &str) -> Result<(), Error> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
        && name.parse::<std::net::IpAddr>().is_err();
    if ok {
        Ok(())
    } else {
        Err(Error::new(ErrorKind::InvalidNodeName, name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_round_trip() {
        for index in [0u32, 1, 254, 255, 65_535, NODES_MAX as u32 - 1] {
            let id = NodeId(index);
            assert_eq!(NodeId::from_ip(id.ip()), Some(id));
        }
        assert_eq!(NodeId(0).ip(), Ipv4Addr::new(10, 0, 0, 1));
        assert_eq!(NodeId::from_ip(Ipv4Addr::new(10, 0, 0, 0)), None);
        assert_eq!(NodeId::from_ip(Ipv4Addr::new(127, 0, 0, 1)), None);
    }

    #[test]
    fn names_are_checked() {
        for good in ["a", "node-1", "db.primary_2"] {
            assert!(validate_name(good).is_ok(), "{good}");
        }
        for bad in ["", "a b", "ä", "10.0.0.1", &"x".repeat(65)] {
            assert!(validate_name(bad).is_err(), "{bad}");
        }
    }
}
