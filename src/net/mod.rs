//! The simulated network: node addresses, name lookup, datagrams in flight, bound sockets,
//! and partitions, isolation and clogs between nodes.
//!
//! Every node has a name and an IPv4 address in `10.0.0.0/8` ([`lookup`]). A datagram is
//! copied when sent, given an arrival time from its link, and delivered by an event of the
//! world's queue. A datagram sent into a partition is dropped at once; one in flight when a
//! partition begins (or when either end crashes or is isolated) is marked and dropped on
//! arrival, in one pass over what is in flight per fault, never one per pair. A partition
//! between sets is held as the sets (`cut.rs`), so nothing here grows with the pairs it cuts.
//! Every drop is in the trace with its reason.

mod cut;
mod link;
pub(crate) mod stream;
mod stream_config;
mod tcp;
mod udp;

pub use link::{Latency, Link};
pub use stream_config::{StreamConfig, StreamFaults};
pub use tcp::{TcpListener, TcpStream};
pub use udp::UdpSocket;

use std::collections::{BTreeMap, VecDeque};
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::task::Waker;

use slab::Slab;

use crate::context;
use crate::error::{Error, ErrorKind};
use crate::node::{Node, NodeId, EPHEMERAL_PORTS};
use crate::rand::{Ratio, Stream};
use crate::trace::{DropReason, EventKind, Trace};
use cut::Cuts;
pub(crate) use cut::{Cut, NodeSet};
use link::{Links, Pairs, Reorder, Verdict, Windows};

/// The largest UDP payload, as on a real IPv4 stack.
pub const DATAGRAM_MAX: usize = 65_507;

/// Datagrams a socket queues before it drops new arrivals (a full receive buffer).
pub(crate) const RECV_QUEUE_MAX: usize = 4_096;

/// The address of the node named `name`. On the real backend (`seedsim::real`, feature `tokio`): the
/// first address the host's resolver gives (DNS, `/etc/hosts`), which blocks the thread while
/// the resolver works; an IP address or `localhost` answers at once.
///
/// # Errors
/// [`ErrorKind::UnknownNode`] if no node has that name; [`ErrorKind::NoSimulation`] outside a
/// running simulation.
///
/// ```
/// let mut sim = seedsim::Sim::new(seedsim::Seed(1));
/// sim.node("server", || async {})?;
/// sim.client("c", async {
///     assert_eq!(seedsim::net::lookup("server")?.to_string(), "10.0.0.1");
///     assert!(seedsim::net::lookup("nobody").is_err());
///     Ok::<(), seedsim::Error>(())
/// })?;
/// assert!(sim.run().is_passed());
/// # Ok::<(), seedsim::Error>(())
/// ```
pub fn lookup(name: &str) -> Result<IpAddr, Error> {
    let simulated = context::with_current(|shared| shared.world.borrow().node_id(name).map(|id| IpAddr::V4(id.ip())));
    match simulated {
        Some(found) => found,
        #[cfg(feature = "tokio")]
        None if crate::real::active() => crate::real::net::lookup(name),
        None => Err(Error::new(ErrorKind::NoSimulation, "seedsim::net::lookup")),
    }
}

/// Something that names a socket address: a `SocketAddr`, an `(ip, port)` pair, a
/// `(node name, port)` pair, or a `"name:port"` / `"ip:port"` string.
pub trait ToSocketAddrs: sealed::Sealed {
    #[doc(hidden)]
    fn to_addr_spec(&self) -> io::Result<AddrSpec<'_>>;
}

/// An address before name resolution. Internal to [`ToSocketAddrs`].
#[doc(hidden)]
#[derive(Clone, Copy, Debug)]
pub enum AddrSpec<'a> {
    Addr(SocketAddr),
    Host(&'a str, u16),
}

mod sealed {
    pub trait Sealed {}
}

impl sealed::Sealed for SocketAddr {}
impl ToSocketAddrs for SocketAddr {
    fn to_addr_spec(&self) -> io::Result<AddrSpec<'_>> {
        Ok(AddrSpec::Addr(*self))
    }
}

impl sealed::Sealed for (IpAddr, u16) {}
impl ToSocketAddrs for (IpAddr, u16) {
    fn to_addr_spec(&self) -> io::Result<AddrSpec<'_>> {
        Ok(AddrSpec::Addr(SocketAddr::new(self.0, self.1)))
    }
}

impl sealed::Sealed for (Ipv4Addr, u16) {}
impl ToSocketAddrs for (Ipv4Addr, u16) {
    fn to_addr_spec(&self) -> io::Result<AddrSpec<'_>> {
        Ok(AddrSpec::Addr(SocketAddr::new(IpAddr::V4(self.0), self.1)))
    }
}

impl sealed::Sealed for (&str, u16) {}
impl ToSocketAddrs for (&str, u16) {
    fn to_addr_spec(&self) -> io::Result<AddrSpec<'_>> {
        Ok(AddrSpec::Host(self.0, self.1))
    }
}

impl sealed::Sealed for (String, u16) {}
impl ToSocketAddrs for (String, u16) {
    fn to_addr_spec(&self) -> io::Result<AddrSpec<'_>> {
        Ok(AddrSpec::Host(&self.0, self.1))
    }
}

impl sealed::Sealed for str {}
impl ToSocketAddrs for str {
    fn to_addr_spec(&self) -> io::Result<AddrSpec<'_>> {
        if let Ok(addr) = self.parse::<SocketAddr>() {
            return Ok(AddrSpec::Addr(addr));
        }
        let invalid = || {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("invalid socket address {self:?}: expected \"name:port\" or \"ip:port\""),
            )
        };
        let (host, port) = self.rsplit_once(':').ok_or_else(invalid)?;
        let port = port.parse::<u16>().map_err(|_| invalid())?;
        Ok(AddrSpec::Host(host, port))
    }
}

impl sealed::Sealed for String {}
impl ToSocketAddrs for String {
    fn to_addr_spec(&self) -> io::Result<AddrSpec<'_>> {
        self.as_str().to_addr_spec()
    }
}

impl<T: ToSocketAddrs + ?Sized> sealed::Sealed for &T {}
impl<T: ToSocketAddrs + ?Sized> ToSocketAddrs for &T {
    fn to_addr_spec(&self) -> io::Result<AddrSpec<'_>> {
        (**self).to_addr_spec()
    }
}

pub(crate) struct Datagram {
    id: u64,
    from: NodeId,
    from_port: u16,
    to: NodeId,
    to_port: u16,
    payload: Vec<u8>,
    dropped: Option<DropReason>,
}

pub(crate) struct Socket {
    node: NodeId,
    port: u16,
    seq: u64,
    queue: VecDeque<(SocketAddr, Vec<u8>)>,
    reader: Option<Waker>,
}

/// A socket's slot and the sequence number that makes a stale handle miss.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SocketKey {
    slot: u32,
    seq: u64,
}

/// Counts of what the network did, for the run summary.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NetStats {
    /// Datagrams handed to the network (a duplicate counts once).
    pub sent: u64,
    /// Datagrams put into a socket's queue.
    pub delivered: u64,
    /// Datagrams lost, partitioned, or with nobody to receive them.
    pub dropped: u64,
    /// Extra copies the network made.
    pub duplicated: u64,
    /// Stream segments handed to the network, retransmissions included.
    pub segments_sent: u64,
    /// Stream segments that reached a connection or listener.
    pub segments_delivered: u64,
    /// Stream segments lost, partitioned, or with no connection to go to.
    pub segments_dropped: u64,
    /// Stream segments sent again because they were not acknowledged in time.
    pub retransmits: u64,
    /// Stream connection attempts.
    pub connections: u64,
    /// Stream connections that failed or were reset, counted once per side.
    pub resets: u64,
}

pub(crate) struct Net {
    pub(crate) link_default: Link,
    pairs: Pairs,
    /// Partitions between sets of nodes, as objects (`net/cut.rs`); partitions of single
    /// pairs are counted in `Pair::blocked`.
    cuts: Cuts,
    in_flight: Slab<Datagram>,
    sockets: Slab<Socket>,
    bound: BTreeMap<(NodeId, u16), SocketKey>,
    next_socket_seq: u64,
    next_datagram: u64,
    rng: Stream,
    pub(crate) stats: NetStats,
    spare_payloads: Vec<Vec<u8>>,
    /// TCP: listeners, connections and segments in flight, over the same links.
    pub(crate) streams: stream::Streams,
    /// Loss bursts, latency spikes, duplication and reordering over every link.
    windows: Windows,
}

/// Where and when a datagram arrives; the world schedules it.
pub(crate) struct Arrival {
    pub(crate) at: u64,
    pub(crate) slot: u32,
}

impl Net {
    pub(crate) fn new(link_default: Link, rng: Stream) -> Net {
        Net {
            link_default,
            pairs: Pairs::default(),
            cuts: Cuts::default(),
            in_flight: Slab::new(),
            sockets: Slab::new(),
            bound: BTreeMap::new(),
            next_socket_seq: 0,
            next_datagram: 0,
            rng,
            stats: NetStats::default(),
            spare_payloads: Vec::new(),
            streams: stream::Streams::new(),
            windows: Windows::NONE,
        }
    }

    // --- sockets ------------------------------------------------------------------------

    pub(crate) fn bind(&mut self, node: &mut Node, requested: SocketAddr) -> io::Result<(SocketKey, SocketAddr)> {
        let ip = local_ip(node, requested)?;
        let port = match requested.port() {
            0 => self.ephemeral_port(node)?,
            port if self.bound.contains_key(&(node.id, port)) => {
                return Err(io::Error::new(
                    io::ErrorKind::AddrInUse,
                    format!("port {port} is already bound on node {}", node.name),
                ))
            }
            port => port,
        };
        let seq = self.next_socket_seq;
        self.next_socket_seq += 1;
        let slot = self.sockets.insert(Socket { node: node.id, port, seq, queue: VecDeque::new(), reader: None });
        let key = SocketKey { slot: slot as u32, seq };
        self.bound.insert((node.id, port), key);
        Ok((key, SocketAddr::new(IpAddr::V4(ip), port)))
    }

    fn ephemeral_port(&mut self, node: &mut Node) -> io::Result<u16> {
        let span = EPHEMERAL_PORTS.end() - EPHEMERAL_PORTS.start() + 1;
        for _ in 0..span {
            let port = node.next_ephemeral_port;
            node.next_ephemeral_port = if port == *EPHEMERAL_PORTS.end() { *EPHEMERAL_PORTS.start() } else { port + 1 };
            if !self.bound.contains_key(&(node.id, port)) {
                return Ok(port);
            }
        }
        Err(io::Error::new(io::ErrorKind::AddrInUse, format!("node {} has no free ephemeral port", node.name)))
    }

    fn socket_mut(&mut self, key: SocketKey) -> io::Result<&mut Socket> {
        match self.sockets.get_mut(key.slot as usize) {
            Some(socket) if socket.seq == key.seq => Ok(socket),
            _ => {
                Err(io::Error::new(io::ErrorKind::NotConnected, "socket is closed: its node crashed or it was dropped"))
            }
        }
    }

    pub(crate) fn check_open(&mut self, key: SocketKey) -> io::Result<()> {
        self.socket_mut(key).map(|_| ())
    }

    pub(crate) fn close(&mut self, key: SocketKey) {
        if self.socket_mut(key).is_ok() {
            let socket = self.sockets.remove(key.slot as usize);
            self.bound.remove(&(socket.node, socket.port));
        }
    }

    /// Copy the next queued datagram into `buf` (truncating it, as UDP does), or register
    /// `waker` for the next arrival. Returns the datagram's copied length and sender.
    pub(crate) fn recv_into(
        &mut self,
        key: SocketKey,
        waker: &Waker,
        buf: &mut [u8],
    ) -> io::Result<Option<(usize, SocketAddr)>> {
        let socket = self.socket_mut(key)?;
        if socket.queue.is_empty() {
            match &mut socket.reader {
                Some(existing) if existing.will_wake(waker) => {}
                slot => *slot = Some(waker.clone()),
            }
            return Ok(None);
        }
        self.try_recv_into(key, buf)
    }

    /// Copy the next queued datagram into `buf`, if one has arrived.
    pub(crate) fn try_recv_into(&mut self, key: SocketKey, buf: &mut [u8]) -> io::Result<Option<(usize, SocketAddr)>> {
        let Some((from, payload)) = self.socket_mut(key)?.queue.pop_front() else { return Ok(None) };
        let len = payload.len().min(buf.len());
        buf[..len].copy_from_slice(&payload[..len]);
        recycle(&mut self.spare_payloads, payload);
        Ok(Some((len, from)))
    }

    // --- datagrams -----------------------------------------------------------------------

    /// Send a datagram. Returns the arrivals to schedule (none if it was dropped at once, two
    /// if the network duplicated it).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn send(
        &mut self,
        now: u64,
        nodes: &[Node],
        from: NodeId,
        from_port: u16,
        to: SocketAddr,
        payload: &[u8],
        trace: &mut Trace,
    ) -> [Option<Arrival>; 2] {
        let id = self.next_datagram;
        self.next_datagram += 1;
        self.stats.sent += 1;
        let to_node = match to.ip() {
            IpAddr::V4(ip) if ip.is_loopback() => Some(from),
            IpAddr::V4(ip) => NodeId::from_ip(ip).filter(|n| n.index() < nodes.len()),
            IpAddr::V6(_) => None,
        };
        let Some(to_node) = to_node else {
            self.stats.dropped += 1;
            trace.record(now, EventKind::Drop { datagram: id, reason: DropReason::NoRoute });
            return [None, None];
        };
        trace.record(
            now,
            EventKind::Send {
                datagram: id,
                from,
                from_port,
                to: to_node,
                to_port: to.port(),
                bytes: payload.len() as u32,
            },
        );
        // Split the borrows: the links decide while the rest of the network is used.
        let Net { pairs, cuts, in_flight, rng, stats, next_datagram, link_default, spare_payloads, windows, .. } = self;
        let mut links = Links { pairs, cuts, link_default, rng, windows };
        let (first, second) = match links.route(now, nodes, from, to_node, 0) {
            Verdict::Dropped(reason) => {
                stats.dropped += 1;
                trace.record(now, EventKind::Drop { datagram: id, reason });
                return [None, None];
            }
            Verdict::Arrives(first, second) => (first, second),
        };
        let mut place = |datagram_id: u64, at: u64| {
            let mut buffer = spare_payloads.pop().unwrap_or_default();
            buffer.extend_from_slice(payload);
            let slot = in_flight.insert(Datagram {
                id: datagram_id,
                from,
                from_port,
                to: to_node,
                to_port: to.port(),
                payload: buffer,
                dropped: None,
            });
            Some(Arrival { at, slot: slot as u32 })
        };
        let mut arrivals = [place(id, first), None];
        if let Some(at) = second {
            stats.duplicated += 1;
            let copy_id = *next_datagram;
            *next_datagram += 1;
            trace.record(now, EventKind::Duplicate { datagram: id, copy: copy_id });
            arrivals[1] = place(copy_id, at);
        }
        arrivals
    }

    /// Deliver the datagram in `slot`. Returns the receiving socket's waker, if any.
    pub(crate) fn deliver(&mut self, now: u64, slot: u32, trace: &mut Trace) -> Option<Waker> {
        let datagram = self.in_flight.remove(slot as usize);
        let socket = match (datagram.dropped, self.bound.get(&(datagram.to, datagram.to_port))) {
            (Some(reason), _) => Err(reason),
            (None, None) => Err(DropReason::NoSocket),
            (None, Some(key)) => {
                let socket = &mut self.sockets[key.slot as usize];
                if socket.queue.len() >= RECV_QUEUE_MAX {
                    Err(DropReason::BufferFull)
                } else {
                    Ok(socket)
                }
            }
        };
        match socket {
            Err(reason) => {
                self.stats.dropped += 1;
                trace.record(now, EventKind::Drop { datagram: datagram.id, reason });
                recycle(&mut self.spare_payloads, datagram.payload);
                None
            }
            Ok(socket) => {
                let source = SocketAddr::new(IpAddr::V4(datagram.from.ip()), datagram.from_port);
                socket.queue.push_back((source, datagram.payload));
                self.stats.delivered += 1;
                trace.record(now, EventKind::Deliver { datagram: datagram.id, to: datagram.to });
                socket.reader.take()
            }
        }
    }

    /// Mark every datagram and stream segment in flight that matches `affected` to be
    /// dropped on arrival.
    fn drop_in_flight(&mut self, reason: DropReason, affected: impl Fn(NodeId, NodeId) -> bool) {
        for (_, datagram) in self.in_flight.iter_mut() {
            if datagram.dropped.is_none() && affected(datagram.from, datagram.to) {
                datagram.dropped = Some(reason);
            }
        }
        self.streams.drop_in_flight(reason, &affected);
    }

    // --- faults --------------------------------------------------------------------------

    /// Block the pair `from` to `to` once more (a partition of two nodes), and mark what is in
    /// flight from `from` to `to`.
    pub(crate) fn block(&mut self, from: NodeId, to: NodeId) {
        self.block_pair(from, to);
        self.drop_in_flight(DropReason::Partition, |f, t| f == from && t == to);
    }

    /// Count one more partition of the pair `from` to `to`, marking nothing in flight: the
    /// caller marks once for all the pairs it blocks (`drop_crossing`).
    pub(crate) fn block_pair(&mut self, from: NodeId, to: NodeId) {
        let pair = self.pairs.entry((from, to)).or_default();
        pair.blocked = pair.blocked.saturating_add(1);
    }

    /// Take one partition off the pair `from` to `to`, if one blocks it: its own count first,
    /// else the pair is carved out of a set partition that holds it. A record left saying
    /// nothing is forgotten at once.
    pub(crate) fn unblock(&mut self, now: u64, from: NodeId, to: NodeId) {
        if let Some(pair) = self.pairs.get_mut(&(from, to)) {
            if pair.blocked > 0 {
                pair.blocked -= 1;
                if pair.is_idle(now) {
                    self.pairs.remove(&(from, to));
                }
                return;
            }
        }
        if !self.cuts.is_empty() {
            self.cuts.repair(Cut { from: NodeSet::of([from]), to: NodeSet::of([to]) });
        }
    }

    /// Partitions between sets: each cut blocks its pairs once more. One pass over what is
    /// in flight marks the datagrams and segments any of them separates, however many pairs
    /// they cut.
    pub(crate) fn block_sets(&mut self, cuts: Vec<Cut>) {
        let cuts: Vec<Cut> = cuts.into_iter().filter(|cut| !cut.is_empty()).collect();
        self.drop_crossing(&cuts);
        for cut in cuts {
            self.cuts.add(cut);
        }
    }

    /// Mark every datagram and stream segment in flight across one of `cuts` to be dropped
    /// on arrival.
    pub(crate) fn drop_crossing(&mut self, cuts: &[Cut]) {
        if cuts.iter().any(|cut| !cut.is_empty()) {
            self.drop_in_flight(DropReason::Partition, |f, t| cuts.iter().any(|cut| cut.contains(f, t)));
        }
    }

    /// Take one partition off every pair of `repair` that has one, each pair once: the set
    /// partitions first (`Cuts::repair`), then, for the pairs none of them covered, the
    /// per-pair counts. Records left saying nothing are forgotten.
    pub(crate) fn unblock_sets(&mut self, now: u64, repair: Cut) {
        let left = self.cuts.repair(repair);
        if left.is_empty() {
            return;
        }
        self.pairs.retain(|&(from, to), pair| {
            if pair.blocked > 0 && left.iter().any(|cut| cut.contains(from, to)) {
                pair.blocked -= 1;
            }
            !pair.is_idle(now)
        });
    }

    pub(crate) fn isolate(&mut self, node: NodeId) {
        self.drop_in_flight(DropReason::Partition, |f, t| f != t && (f == node || t == node));
    }

    pub(crate) fn clog(&mut self, from: NodeId, to: NodeId, until: u64) {
        let pair = self.pairs.entry((from, to)).or_default();
        pair.clogged_until = pair.clogged_until.max(until);
    }

    pub(crate) fn set_link(&mut self, from: NodeId, to: NodeId, link: Option<Link>) {
        self.pairs.entry((from, to)).or_default().link = link.map(Box::new);
    }

    /// Every partition, clog and window ends at `now`. Packets a clog already holds arrive
    /// when it would have ended; packets sent from now on are not held behind them (they may
    /// arrive first), so a healed link is a healthy link at once. Records left saying nothing
    /// are forgotten.
    pub(crate) fn heal_all(&mut self, now: u64) {
        self.pairs.retain(|_, pair| {
            pair.blocked = 0;
            if pair.clogged_until > now {
                pair.last_arrival = pair.last_arrival.min(now);
            }
            pair.clogged_until = 0;
            !pair.is_idle(now)
        });
        self.cuts.clear();
        self.windows = Windows::NONE;
    }

    /// Every link loses at least `loss` until `until`.
    pub(crate) fn loss_burst(&mut self, loss: Ratio, until: u64) {
        self.windows.burst = (loss, until);
        self.windows.until_max = self.windows.until_max.max(until);
    }

    /// Every datagram sent before `until` takes `extra` more nanoseconds.
    pub(crate) fn latency_spike(&mut self, extra: u64, until: u64) {
        self.windows.spike = (extra, until);
        self.windows.until_max = self.windows.until_max.max(until);
    }

    /// Every link duplicates at least `ratio` of its packets until `until`.
    pub(crate) fn duplicate_window(&mut self, ratio: Ratio, until: u64) {
        self.windows.duplicate = (ratio, until);
        self.windows.until_max = self.windows.until_max.max(until);
    }

    /// Until `until`, `ratio` of the packets are held back by up to `spread` nanoseconds.
    pub(crate) fn reorder_window(&mut self, ratio: Ratio, spread: u64, until: u64) {
        self.windows.reorder = Reorder { ratio, spread, until };
        self.windows.until_max = self.windows.until_max.max(until);
    }

    /// A node crashed: close its sockets and drop every datagram to or from it.
    /// With `keep_sent`, what the node sent is on the wire and still arrives (a crash right
    /// after a send); what was on its way to it is lost either way.
    pub(crate) fn crash(&mut self, node: NodeId, keep_sent: bool) {
        let ports: Vec<SocketKey> = self.bound.range((node, 0)..=(node, u16::MAX)).map(|(_, key)| *key).collect();
        for key in ports {
            self.close(key);
        }
        self.drop_in_flight(DropReason::Crash, |f, t| t == node || (f == node && !keep_sent));
    }

    pub(crate) fn in_flight_count(&self) -> usize {
        self.in_flight.len()
    }

    pub(crate) fn pair_count(&self) -> usize {
        self.pairs.len()
    }

    pub(crate) fn cut_count(&self) -> usize {
        self.cuts.len()
    }
}

/// Payload buffers kept for reuse; more are freed.
const SPARE_PAYLOADS_MAX: usize = 1_024;

/// Keep a payload buffer for the next send, so a steady flow of datagrams allocates nothing.
fn recycle(spare: &mut Vec<Vec<u8>>, mut payload: Vec<u8>) {
    if spare.len() < SPARE_PAYLOADS_MAX && payload.capacity() <= DATAGRAM_MAX {
        payload.clear();
        spare.push(payload);
    }
}

/// Resolve an address spec on the calling node: names through the world's node table,
/// `localhost` to the calling node.
pub(crate) fn resolve(world: &crate::sim::state::World, spec: AddrSpec<'_>) -> io::Result<SocketAddr> {
    match spec {
        AddrSpec::Addr(addr) => Ok(addr),
        AddrSpec::Host(host, port) => {
            if let Ok(ip) = host.parse::<IpAddr>() {
                return Ok(SocketAddr::new(ip, port));
            }
            if host == "localhost" {
                return Ok(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port));
            }
            let id = world.node_id(host).map_err(io::Error::from)?;
            Ok(SocketAddr::new(IpAddr::V4(id.ip()), port))
        }
    }
}

pub(crate) fn unknown_node(name: &str) -> Error {
    Error::new(ErrorKind::UnknownNode, name)
}

/// The address a socket or listener of `node` gets when it asks for `requested`: the node's
/// own address for `0.0.0.0`, `127.0.0.1` or that address, an error naming the choices for
/// any other.
pub(crate) fn local_ip(node: &Node, requested: SocketAddr) -> io::Result<Ipv4Addr> {
    match requested.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() || ip.is_loopback() || ip == node.id.ip() => Ok(node.id.ip()),
        other => Err(io::Error::new(
            io::ErrorKind::AddrNotAvailable,
            format!(
                "cannot bind {requested} on node {}: its address is {} (bind 0.0.0.0, that address, or 127.0.0.1){}",
                node.name,
                node.id.ip(),
                if other.is_ipv6() { "; IPv6 is not simulated" } else { "" }
            ),
        )),
    }
}
