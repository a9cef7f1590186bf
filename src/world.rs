//! Faults and lifecycle changes, callable from inside a running simulation by node name.
//!
//! These are one-line facades over the running world, for code that runs in the simulation
//! (a nemesis client, a test harness task). Test code outside the run calls the methods of
//! the same names on [`Sim`](crate::Sim) between steps.
//!
//! Every function returns [`ErrorKind::NoSimulation`](crate::ErrorKind::NoSimulation)
//! outside a running simulation and [`ErrorKind::UnknownNode`](crate::ErrorKind::UnknownNode)
//! for a name no node has.
//!
//! ```
//! use std::time::Duration;
//! use seedsim::{time::sleep, world, Seed, Sim};
//! let mut sim = Sim::new(Seed(1));
//! sim.node("db", || async { sleep(Duration::from_secs(1_000)).await })?;
//! sim.client("nemesis", async {
//!     world::crash("db")?;
//!     sleep(Duration::from_secs(1)).await;
//!     world::restart("db")?;
//!     world::partition("db", "nemesis")?;
//!     world::heal_all()?;
//!     Ok::<(), seedsim::Error>(())
//! })?;
//! assert!(sim.run().is_passed());
//! assert!(world::crash("db").is_err()); // not inside a run any more
//! # Ok::<(), seedsim::Error>(())
//! ```

use std::time::Duration;

use crate::context::try_with_shared;
use crate::error::Error;
use crate::net::Link;
use crate::time::Skew;

/// Crash a node: every task of it is dropped (destructors run), its sockets close, the
/// datagrams it sent or was sent that are in flight are lost. It stays down until restarted.
/// A node that crashes itself stops at its task's next `.await`.
///
/// # Errors
/// [`InvalidNodeState`](crate::ErrorKind::InvalidNodeState) for a client (clients run once).
/// Crashing a node that is already down does nothing.
pub fn crash(node: &str) -> Result<(), Error> {
    try_with_shared("seedsim::world::crash", |s| s.crash(node))?
}

/// Restart a crashed node: its factory is called again to build a fresh main task.
///
/// # Errors
/// [`InvalidNodeState`](crate::ErrorKind::InvalidNodeState) unless the node is crashed.
pub fn restart(node: &str) -> Result<(), Error> {
    try_with_shared("seedsim::world::restart", |s| s.restart(node))?
}

/// Crash a node now and restart it after `down_for`.
///
/// # Errors
/// As [`crash`].
pub fn bounce(node: &str, down_for: Duration) -> Result<(), Error> {
    try_with_shared("seedsim::world::bounce", |s| s.bounce(node, down_for))?
}

/// Pause a node, as a long GC pause or a stalled VM would: its tasks are not polled, while
/// datagrams for it still queue at its sockets.
///
/// # Errors
/// [`InvalidNodeState`](crate::ErrorKind::InvalidNodeState) unless it is running.
pub fn pause(node: &str) -> Result<(), Error> {
    try_with_shared("seedsim::world::pause", |s| s.set_paused(node, true))?
}

/// Resume a paused node.
///
/// # Errors
/// [`InvalidNodeState`](crate::ErrorKind::InvalidNodeState) unless it is paused or running.
pub fn resume(node: &str) -> Result<(), Error> {
    try_with_shared("seedsim::world::resume", |s| s.set_paused(node, false))?
}

/// Partition two nodes both ways: nothing crosses, and datagrams in flight between them are
/// dropped on arrival. Partitions stack: each needs its own [`repair`] (or a [`heal_all`]).
///
/// # Errors
/// [`UnknownNode`](crate::ErrorKind::UnknownNode).
pub fn partition(a: &str, b: &str) -> Result<(), Error> {
    try_with_shared("seedsim::world::partition", |s| s.partition(a, b))?
}

/// Block datagrams from `from` to `to`; the other direction still flows.
///
/// # Errors
/// [`UnknownNode`](crate::ErrorKind::UnknownNode).
pub fn partition_oneway(from: &str, to: &str) -> Result<(), Error> {
    try_with_shared("seedsim::world::partition_oneway", |s| s.partition_oneway(from, to))?
}

/// Undo one partition between two nodes, both ways.
///
/// # Errors
/// [`UnknownNode`](crate::ErrorKind::UnknownNode).
pub fn repair(a: &str, b: &str) -> Result<(), Error> {
    try_with_shared("seedsim::world::repair", |s| s.repair(a, b))?
}

/// Undo a one-way partition from `from` to `to`.
///
/// # Errors
/// [`UnknownNode`](crate::ErrorKind::UnknownNode).
pub fn repair_oneway(from: &str, to: &str) -> Result<(), Error> {
    try_with_shared("seedsim::world::repair_oneway", |s| s.repair_oneway(from, to))?
}

/// Cut a node off from every other node (its loopback still works). Isolations stack: each
/// needs its own [`rejoin`].
///
/// # Errors
/// [`UnknownNode`](crate::ErrorKind::UnknownNode).
pub fn isolate(node: &str) -> Result<(), Error> {
    try_with_shared("seedsim::world::isolate", |s| s.isolate(node))?
}

/// Undo one isolation of a node.
///
/// # Errors
/// [`UnknownNode`](crate::ErrorKind::UnknownNode).
pub fn rejoin(node: &str) -> Result<(), Error> {
    try_with_shared("seedsim::world::rejoin", |s| s.rejoin(node))?
}

/// Clog the link between two nodes, both ways, for `duration`: datagrams sent meanwhile
/// arrive no earlier than when the clog clears (a congested switch, a full buffer).
///
/// # Errors
/// [`UnknownNode`](crate::ErrorKind::UnknownNode).
pub fn clog(a: &str, b: &str, duration: Duration) -> Result<(), Error> {
    try_with_shared("seedsim::world::clog", |s| s.clog(a, b, duration))?
}

/// Override the link from `from` to `to` (latency, loss, duplication, reordering).
///
/// # Errors
/// [`UnknownNode`](crate::ErrorKind::UnknownNode), or
/// [`InvalidConfig`](crate::ErrorKind::InvalidConfig) for a bad latency.
pub fn set_link(from: &str, to: &str, link: Link) -> Result<(), Error> {
    try_with_shared("seedsim::world::set_link", |s| s.set_link(from, to, link))?
}

/// Remove every partition, isolation and clog.
///
/// # Errors
/// [`NoSimulation`](crate::ErrorKind::NoSimulation) outside a run.
pub fn heal_all() -> Result<(), Error> {
    try_with_shared("seedsim::world::heal_all", |s| s.heal_all())
}

/// Set a node's clock off true time by an offset and a drift (see [`Skew`]).
///
/// # Errors
/// [`UnknownNode`](crate::ErrorKind::UnknownNode).
pub fn skew_clock(node: &str, skew: Skew) -> Result<(), Error> {
    try_with_shared("seedsim::world::skew_clock", |s| s.skew_clock(node, skew))?
}

/// Change the stream faults (resets, partial reads and writes, refused connects, slow
/// connections) from now on, for every connection. See
/// [`StreamFaults`](crate::net::StreamFaults).
///
/// ```
/// use seedsim::{net::StreamFaults, world, Ratio, Seed, Sim};
/// let mut sim = Sim::new(Seed(1));
/// sim.client("nemesis", async {
///     world::set_stream_faults(StreamFaults::NONE.partial_read(Ratio::percent(50)?))?;
///     world::set_stream_faults(StreamFaults::NONE)
/// })?;
/// assert!(sim.run().is_passed());
/// # Ok::<(), seedsim::Error>(())
/// ```
///
/// # Errors
/// [`InvalidConfig`](crate::ErrorKind::InvalidConfig) for a value out of range.
pub fn set_stream_faults(faults: crate::net::StreamFaults) -> Result<(), Error> {
    try_with_shared("seedsim::world::set_stream_faults", |s| s.set_stream_faults(faults))?
}

/// End every fault now: heal the network, restart crashed nodes, resume paused ones and set
/// every clock right. Liveness properties (`Sim::liveness`) are measured from the last
/// recover. A nemesis of your own calls this when it is done.
///
/// # Errors
/// [`NoSimulation`](crate::ErrorKind::NoSimulation) outside a run.
pub fn recover() -> Result<(), Error> {
    try_with_shared("seedsim::world::recover", |s| s.recover())
}

/// True if the node is running or paused (started and not crashed): for a nemesis of your
/// own that must not take down too many nodes.
///
/// # Errors
/// [`UnknownNode`](crate::ErrorKind::UnknownNode).
pub fn is_up(node: &str) -> Result<bool, Error> {
    try_with_shared("seedsim::world::is_up", |s| {
        let world = s.world.borrow();
        world.node_id(node).map(|id| world.node(id).is_up())
    })?
}

/// The name of the node whose code is running: for node code shared by several nodes that
/// must know which it is (a log line, a per-node file name), without passing it in.
///
/// # Errors
/// [`NoSimulation`](crate::ErrorKind::NoSimulation) outside a simulation, or outside any
/// node's task (the `Sim`'s own code between steps).
///
/// ```
/// use seedsim::{world, Sim, Seed};
/// let mut sim = Sim::new(Seed(1));
/// sim.client("alice", async {
///     assert_eq!(world::current_node()?, "alice");
///     Ok::<(), seedsim::Error>(())
/// })?;
/// assert!(sim.run().is_passed());
/// assert!(world::current_node().is_err(), "outside a simulation");
/// # Ok::<(), seedsim::Error>(())
/// ```
pub fn current_node() -> Result<String, Error> {
    try_with_shared("seedsim::world::current_node", |s| {
        let world = s.world.borrow();
        world.current_node().map(|id| world.node(id).name.clone())
    })?
    .ok_or_else(|| Error::new(crate::ErrorKind::NoSimulation, "seedsim::world::current_node outside a node's task"))
}

/// True simulated time, which no clock fault touches: for checks and nemeses of your own
/// that compare events across nodes. Node code that stands for real code should read its own
/// clock ([`time::Instant::now`](crate::time::Instant::now)), which skew, drift and jumps
/// move.
///
/// # Errors
/// [`NoSimulation`](crate::ErrorKind::NoSimulation) outside a simulation.
///
/// ```
/// use std::time::Duration;
/// use seedsim::{time::{self, Instant, Skew}, world, Sim, Seed};
/// let mut sim = Sim::new(Seed(1));
/// sim.client("c", async {
///     world::skew_clock("c", Skew::ahead(Duration::from_secs(5)))?;
///     time::sleep(Duration::from_secs(1)).await;
///     assert_eq!(world::true_now()?, Instant::ZERO + Duration::from_secs(1));
///     assert_eq!(world::clock_of("c")?, Instant::ZERO + Duration::from_secs(6));
///     Ok::<(), seedsim::Error>(())
/// })?;
/// assert!(sim.run().is_passed());
/// # Ok::<(), seedsim::Error>(())
/// ```
pub fn true_now() -> Result<crate::time::Instant, Error> {
    try_with_shared("seedsim::world::true_now", |s| crate::time::Instant::from_nanos(s.world.borrow().now))
}

/// What `node`'s clock reads now (its skew, drift and jumps included).
///
/// # Errors
/// [`NoSimulation`](crate::ErrorKind::NoSimulation) outside a simulation;
/// [`UnknownNode`](crate::ErrorKind::UnknownNode).
pub fn clock_of(node: &str) -> Result<crate::time::Instant, Error> {
    try_with_shared("seedsim::world::clock_of", |s| {
        let world = s.world.borrow();
        world.node_id(node).map(|id| crate::time::Instant::from_nanos(world.node(id).clock.local(world.now)))
    })?
}

/// True if the node is isolated.
///
/// # Errors
/// [`UnknownNode`](crate::ErrorKind::UnknownNode).
pub fn is_isolated(node: &str) -> Result<bool, Error> {
    try_with_shared("seedsim::world::is_isolated", |s| {
        let world = s.world.borrow();
        world.node_id(node).map(|id| world.node(id).isolated > 0)
    })?
}

/// Say whether the calling node is a primary now (a leader, a coordinator, the node that
/// holds a lease): a [`Fault::PartitionPrimaries`](crate::fault::Fault::PartitionPrimaries)
/// cuts the nodes that said so off from the other servers, as Jepsen's "primaries" nemesis
/// does (clients still reach them). A
/// crash forgets it; a node says it again when it takes the role again. (Without it, that
/// fault guesses: it cuts the server that sent the most messages lately.)
///
/// It is an annotation for node code, so it never fails: outside a simulation (on the real
/// backend, in production) and outside any node's task it does nothing.
///
/// ```
/// use std::{cell::RefCell, rc::Rc, time::Duration};
/// use seedsim::{net::UdpSocket, time::{self, Instant}, world, Seed, Sim};
///
/// async fn leader() -> std::io::Result<()> {
///     world::set_primary(true);
///     let socket = UdpSocket::bind("0.0.0.0:7").await?;
///     let mut buf = [0; 8];
///     loop {
///         let (len, from) = socket.recv_from(&mut buf).await?;
///         socket.send_to(&buf[..len], from).await?;
///     }
/// }
///
/// let answered = Rc::new(RefCell::new(Vec::new()));
/// let mut sim = Sim::new(Seed(1));
/// sim.node("leader", leader)?;
/// let seen = answered.clone();
/// sim.node("follower", move || {
///     let seen = seen.clone();
///     async move {
///         let socket = UdpSocket::bind("0.0.0.0:0").await?;
///         for at in [500, 1500, 3500] {
///             time::sleep_until(Instant::ZERO + Duration::from_millis(at)).await;
///             socket.send_to(b"ping", ("leader", 7)).await?;
///             let mut buf = [0; 8];
///             let reply = time::timeout(Duration::from_millis(200), socket.recv_from(&mut buf)).await;
///             seen.borrow_mut().push(reply.is_ok());
///         }
///         Ok::<(), std::io::Error>(())
///     }
/// })?;
/// sim.client("clock", async {
///     time::sleep(Duration::from_secs(4)).await;
///     Ok::<(), std::io::Error>(())
/// })?;
/// sim.faults("1s partition-primaries 2s".parse()?)?;
/// assert!(sim.run().is_passed());
/// // Cut off from the other servers from 1 s to 3 s (clients still reach it).
/// assert_eq!(*answered.borrow(), [true, false, true]);
/// # Ok::<(), seedsim::Error>(())
/// ```
pub fn set_primary(primary: bool) {
    crate::context::with_current(|shared| {
        let mut world = shared.world.borrow_mut();
        if let Some(node) = world.current_node() {
            if world.nodes[node.index()].primary != primary {
                world.nodes[node.index()].primary = primary;
                let now = world.now;
                world.trace.record(now, crate::trace::EventKind::PrimarySet { node, primary });
            }
        }
    });
}
