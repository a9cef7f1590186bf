//! The stream protocol behind `TcpListener` and `TcpStream`: connection endpoints, listeners,
//! and segments in flight, run over the same links as datagrams.
//!
//! A connection is two endpoints, one per node, that exchange segments. Every segment goes
//! through the link between the two nodes (`Links::route`: partitions, isolation, loss,
//! duplication, reordering, latency, clogs), so a stream sees exactly the network a datagram
//! sees, and the protocol turns that into TCP's promises: sequence numbers and cumulative
//! acknowledgements give in-order, exactly-once delivery; a retransmission timer (RFC 6298,
//! in integers) and fast retransmit turn loss into delay; the receiver's advertised window
//! and a bounded send buffer give backpressure; a persist timer probes a closed window;
//! keepalive probes find a dead peer; a connection whose data or probes go unanswered for
//! `StreamConfig::timeout` is reset. Not modelled: congestion control, Nagle, a timed
//! TIME_WAIT, sequence number wraparound, urgent data, bandwidth.
//!
//! The protocol runs in the world, not in node tasks: segments are handled and acknowledged
//! while the receiving node is paused, as a kernel would. Nothing here polls a future or
//! wakes a task: operations return the wakers to wake (`Wakes`) and leave the events to
//! schedule in an outbox that the world drains (`World::schedule_streams`). Each endpoint
//! has at most one live timer event; a deadline that moves later costs nothing until the
//! event fires and finds it later (`Endpoint::rearm`).
//!
//! The files: `endpoint.rs` is one end of a connection and the protocol steps that touch only
//! it; `wire.rs` is the segment format and segments in flight; `events.rs` is what an arrival
//! or a timer does; this file holds the state of every connection and listener and the
//! operations that handles call.

mod endpoint;
mod events;
mod wire;

use std::any::Any;
use std::collections::{BTreeMap, VecDeque};
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::rc::Rc;
use std::task::{Poll, Waker};

use slab::Slab;

use super::link::Links;
use super::stream_config::{StreamConfig, StreamFaults};
use super::{Net, NetStats};
use crate::node::{Node, NodeId, EPHEMERAL_PORTS};
use crate::rand::{Purpose, Ratio, Stream};
use crate::seed::Seed;
use crate::sim::state::{Fired, World};
use crate::time::nanos;
use crate::trace::{DropReason, EventKind, ResetReason, Trace};
use endpoint::{drop_front, new_endpoint, Endpoint, Owner, Phase};
use wire::{Wire, ACK, RST, SYN};

/// An endpoint's slot and the sequence number that makes a stale handle or segment miss.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct EndpointKey {
    slot: u32,
    seq: u64,
}

/// A listener's slot and sequence number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ListenerKey {
    slot: u32,
    seq: u64,
}

/// Something the stream layer scheduled in the world's event queue.
#[derive(Debug)]
pub(crate) enum StreamEvent {
    /// A segment in flight arrives.
    Arrive { slot: u32 },
    /// An endpoint's timer: retransmission, delayed ack, keepalive, or giving up.
    Timer { key: EndpointKey },
}

/// Wakers to wake once the world's borrow is released: a stream's reader and writer, or a
/// listener's acceptor.
pub(crate) type Wakes = [Option<Waker>; 2];

/// What one stream operation needs of the world besides the stream state.
pub(crate) struct Io<'a> {
    pub(crate) now: u64,
    pub(crate) nodes: &'a [Node],
    pub(crate) trace: &'a mut Trace,
    pub(super) links: Links<'a>,
    pub(super) stats: &'a mut NetStats,
}

impl Net {
    /// The stream state and a view of the links, borrowed apart.
    fn split_streams(&mut self) -> (&mut Streams, Links<'_>, &mut NetStats) {
        let Net { streams, pairs, cuts, link_default, rng, windows, stats, .. } = self;
        (streams, Links { pairs, cuts, link_default, rng, windows }, stats)
    }
}

impl World {
    /// Run a stream operation with the world's clock, nodes, trace and links, then schedule
    /// the events it asked for.
    pub(crate) fn with_streams<R>(&mut self, f: impl FnOnce(&mut Streams, &mut Io<'_>) -> R) -> R {
        let now = self.now;
        let (streams, links, stats) = self.net.split_streams();
        let mut io = Io { now, nodes: &self.nodes, trace: &mut self.trace, links, stats };
        let result = f(streams, &mut io);
        // Most reads and many arrivals schedule nothing; skip the outbox's take and put.
        if !self.net.streams.wire.outbox.is_empty() {
            self.schedule_streams();
        }
        result
    }

    /// A stream event is due: a segment arrives or an endpoint's timer fires.
    pub(crate) fn fire_stream(&mut self, event: StreamEvent) -> Fired {
        let wakes = self.with_streams(|streams, io| match event {
            StreamEvent::Arrive { slot } => streams.arrive(io, slot),
            StreamEvent::Timer { key } => streams.on_timer(io, key),
        });
        match wakes {
            [None, None] => Fired::Nothing,
            wakes => Fired::Wakes(wakes),
        }
    }

    /// A node crashed: reset its connections (the peers are sent a reset, which the link
    /// may lose) and close its listeners. Segments in flight were marked by `Net::crash`.
    pub(crate) fn crash_streams(&mut self, node: NodeId) {
        self.with_streams(|streams, io| streams.crash(io, node));
    }
}

impl crate::context::Shared {
    /// Change the stream faults from now on (see `world::set_stream_faults`).
    pub(crate) fn set_stream_faults(&self, faults: StreamFaults) -> Result<(), crate::Error> {
        faults.validate()?;
        let mut world = self.world.borrow_mut();
        world.net.streams.set_faults(faults);
        let now = world.now;
        world.trace.record(now, EventKind::StreamFaultsSet);
        Ok(())
    }
}

struct Listener {
    seq: u64,
    node: NodeId,
    port: u16,
    queue: VecDeque<EndpointKey>,
    acceptor: Option<Waker>,
}

/// What holds a TCP port of a node.
#[derive(Clone, Copy, Debug)]
enum Port {
    Listener(ListenerKey),
    /// A connecting side's local port.
    Connection,
}

/// Addresses and identity of an accepted or connected stream, for its handle.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Opened {
    pub(crate) key: EndpointKey,
    pub(crate) conn: u64,
    pub(crate) local: SocketAddr,
    pub(crate) peer: SocketAddr,
}

/// Every endpoint, listener and segment in flight of a world.
pub(crate) struct Streams {
    pub(crate) config: StreamConfig,
    endpoints: Slab<Endpoint>,
    listeners: Slab<Listener>,
    ports: BTreeMap<(NodeId, u16), Port>,
    /// Accepting endpoints by connection id, so a repeated SYN finds its connection.
    accepting: BTreeMap<u64, EndpointKey>,
    wire: Wire,
    next_seq: u64,
    next_conn: u64,
    seed: Seed,
    /// The stream faults' random stream, made on its first draw.
    fault_rng: Option<Stream>,
}

/// The endpoint `key` names, unless it is gone. A free function, so the wire can be
/// borrowed beside it.
fn endpoint_in(endpoints: &mut Slab<Endpoint>, key: EndpointKey) -> Option<&mut Endpoint> {
    endpoints.get_mut(key.slot as usize).filter(|e| e.seq == key.seq)
}

fn stale() -> io::Error {
    io::Error::new(io::ErrorKind::NotConnected, "the connection is gone: its node crashed")
}

impl Streams {
    pub(crate) fn new() -> Streams {
        Streams {
            config: StreamConfig::default(),
            endpoints: Slab::new(),
            listeners: Slab::new(),
            ports: BTreeMap::new(),
            accepting: BTreeMap::new(),
            wire: Wire {
                in_flight: Slab::new(),
                next_segment: 0,
                spare: Vec::new(),
                spare_values: Vec::new(),
                outbox: Vec::new(),
            },
            next_seq: 0,
            next_conn: 0,
            seed: Seed(0),
            fault_rng: None,
        }
    }

    pub(crate) fn configure(&mut self, seed: Seed, config: StreamConfig) {
        self.seed = seed;
        self.config = config;
    }

    pub(crate) fn set_faults(&mut self, faults: StreamFaults) {
        self.config.faults = faults;
    }

    /// The events operations asked for, to be scheduled by the world (which hands the
    /// emptied vector back with `put_outbox`, so draining it allocates nothing).
    pub(crate) fn take_outbox(&mut self) -> Vec<(u64, StreamEvent)> {
        std::mem::take(&mut self.wire.outbox)
    }

    pub(crate) fn put_outbox(&mut self, outbox: Vec<(u64, StreamEvent)>) {
        debug_assert!(outbox.is_empty());
        if self.wire.outbox.is_empty() {
            self.wire.outbox = outbox;
        }
    }

    pub(crate) fn endpoint_count(&self) -> usize {
        self.endpoints.len()
    }

    pub(crate) fn in_flight_count(&self) -> usize {
        self.wire.in_flight.len()
    }

    fn fault(&mut self, chance: Ratio) -> bool {
        if chance.is_never() {
            return false;
        }
        let seed = self.seed;
        self.fault_rng.get_or_insert_with(|| Stream::for_purpose(seed, Purpose::StreamFaults)).chance(chance)
    }

    /// A uniform draw from `1..n` (n >= 2) on the faults' stream.
    fn fault_below(&mut self, n: u64) -> u64 {
        let seed = self.seed;
        1 + self.fault_rng.get_or_insert_with(|| Stream::for_purpose(seed, Purpose::StreamFaults)).below(n - 1)
    }

    fn next_seq(&mut self) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        seq
    }

    fn endpoint(&self, key: EndpointKey) -> Option<&Endpoint> {
        self.endpoints.get(key.slot as usize).filter(|e| e.seq == key.seq)
    }

    fn endpoint_mut(&mut self, key: EndpointKey) -> Option<&mut Endpoint> {
        endpoint_in(&mut self.endpoints, key)
    }

    /// A free TCP port of `node` from the ephemeral range.
    pub(crate) fn ephemeral_port(&self, node: &mut Node) -> io::Result<u16> {
        let span = EPHEMERAL_PORTS.end() - EPHEMERAL_PORTS.start() + 1;
        for _ in 0..span {
            let port = node.next_ephemeral_port;
            node.next_ephemeral_port = if port == *EPHEMERAL_PORTS.end() { *EPHEMERAL_PORTS.start() } else { port + 1 };
            if !self.ports.contains_key(&(node.id, port)) {
                return Ok(port);
            }
        }
        Err(io::Error::new(io::ErrorKind::AddrInUse, format!("node {} has no free ephemeral TCP port", node.name)))
    }

    // --- listeners ------------------------------------------------------------------------

    pub(crate) fn listen(&mut self, node: &mut Node, requested: SocketAddr) -> io::Result<(ListenerKey, SocketAddr)> {
        let ip = super::local_ip(node, requested)?;
        let port = match requested.port() {
            0 => self.ephemeral_port(node)?,
            port if self.ports.contains_key(&(node.id, port)) => {
                return Err(io::Error::new(
                    io::ErrorKind::AddrInUse,
                    format!("TCP port {port} is already in use on node {}", node.name),
                ))
            }
            port => port,
        };
        let seq = self.next_seq();
        let slot = self.listeners.insert(Listener { seq, node: node.id, port, queue: VecDeque::new(), acceptor: None });
        let key = ListenerKey { slot: slot as u32, seq };
        self.ports.insert((node.id, port), Port::Listener(key));
        Ok((key, SocketAddr::new(IpAddr::V4(ip), port)))
    }

    fn listener_mut(&mut self, key: ListenerKey) -> io::Result<&mut Listener> {
        match self.listeners.get_mut(key.slot as usize) {
            Some(listener) if listener.seq == key.seq => Ok(listener),
            _ => Err(io::Error::new(io::ErrorKind::NotConnected, "the listener is closed: its node crashed")),
        }
    }

    /// Take a connection from the accept queue, or register `waker` for the next one.
    pub(crate) fn accept(&mut self, key: ListenerKey, waker: &Waker) -> Poll<io::Result<Opened>> {
        let listener = self.listener_mut(key)?;
        let Some(endpoint) = listener.queue.pop_front() else {
            match &mut listener.acceptor {
                Some(existing) if existing.will_wake(waker) => {}
                slot => *slot = Some(waker.clone()),
            }
            return Poll::Pending;
        };
        let local_port = listener.port;
        let e = self.endpoint_mut(endpoint).expect("a queued endpoint stays until its listener takes it");
        e.owner = Owner::Handle;
        Poll::Ready(Ok(Opened {
            key: endpoint,
            conn: e.conn,
            local: SocketAddr::new(IpAddr::V4(e.node.ip()), local_port),
            peer: SocketAddr::new(IpAddr::V4(e.peer.ip()), e.peer_port),
        }))
    }

    /// A listener's handle was dropped: close its port and reset the connections it queued.
    pub(crate) fn close_listener(&mut self, io: &mut Io<'_>, key: ListenerKey) {
        let Ok(listener) = self.listener_mut(key) else { return };
        let (node, port) = (listener.node, listener.port);
        let queued = std::mem::take(&mut listener.queue);
        self.listeners.remove(key.slot as usize);
        self.ports.remove(&(node, port));
        for endpoint in queued {
            self.abort(io, endpoint);
        }
    }

    // --- connections ----------------------------------------------------------------------

    /// Start a connection from `node`'s `port` to `to`: send the SYN.
    pub(crate) fn connect(
        &mut self,
        io: &mut Io<'_>,
        node: NodeId,
        port: u16,
        to: SocketAddr,
    ) -> io::Result<(EndpointKey, u64)> {
        let peer = match to.ip() {
            IpAddr::V4(ip) if ip.is_loopback() || ip.is_unspecified() => Some(node),
            IpAddr::V4(ip) => NodeId::from_ip(ip).filter(|n| n.index() < io.nodes.len()),
            IpAddr::V6(_) => None,
        };
        let Some(peer) = peer else {
            return Err(io::Error::new(
                io::ErrorKind::HostUnreachable,
                format!("cannot connect to {to}: no node has that address (nodes are 10.x.y.z; IPv6 is not simulated)"),
            ));
        };
        if to.port() == 0 {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("cannot connect to {to}: port 0")));
        }
        let conn = self.next_conn;
        self.next_conn += 1;
        let faults = self.config.faults;
        let extra = if self.fault(faults.slow) { nanos(faults.slow_delay) } else { 0 };
        io.trace.record(io.now, EventKind::StreamConnect { conn, from: node, to: peer, to_port: to.port() });
        io.stats.connections += 1;
        let seq = self.next_seq();
        let config = self.config;
        let mut endpoint =
            new_endpoint(seq, conn, node, port, peer, to.port(), Phase::Connecting, extra, &config, io.now);
        endpoint.waiting_since = Some(io.now);
        endpoint.retransmit_at = Some(io.now + endpoint.rto);
        endpoint.timing = Some((0, io.now));
        let slot = self.endpoints.insert(endpoint);
        self.ports.insert((node, port), Port::Connection);
        let e = &mut self.endpoints[slot];
        e.send(slot, &mut self.wire, io, &config, SYN, 0, 0, false);
        e.rearm(slot, &mut self.wire, &config);
        Ok((e.key(slot), conn))
    }

    /// Poll a connection attempt: ready once the peer answered, or the attempt failed.
    pub(crate) fn poll_connected(&mut self, key: EndpointKey, waker: &Waker) -> Poll<io::Result<()>> {
        let Some(e) = self.endpoint_mut(key) else { return Poll::Ready(Err(stale())) };
        match (e.phase, e.error) {
            // Opened and failed since: the connect succeeded, and the failure shows on use.
            (_, Some(_)) if e.peer_key.is_some() => Poll::Ready(Ok(())),
            (_, Some(kind)) => Poll::Ready(Err(connect_error(kind))),
            (Phase::Connecting, None) => {
                set_waker(&mut e.writer, waker);
                Poll::Pending
            }
            (_, None) => Poll::Ready(Ok(())),
        }
    }

    /// Read into `buf`, or register `waker` for more data.
    pub(crate) fn read(
        &mut self,
        io: &mut Io<'_>,
        key: EndpointKey,
        waker: &Waker,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let partial = self.config.faults.partial_read;
        let Some(e) = self.endpoint_mut(key) else { return Poll::Ready(Err(stale())) };
        if let Some(kind) = e.error {
            return Poll::Ready(Err(io::Error::from(kind)));
        }
        if buf.is_empty() || e.read_shut {
            return Poll::Ready(Ok(0));
        }
        if e.recv_buf.is_empty() {
            if e.fin_in {
                return Poll::Ready(Ok(0));
            }
            set_waker(&mut e.reader, waker);
            return Poll::Pending;
        }
        // Values that an earlier read passed over are not wanted.
        let read_pos = e.read_pos;
        while e.values_in.front().is_some_and(|(at, _)| *at < read_pos) {
            e.values_in.pop_front();
        }
        let available = buf.len().min(e.recv_buf.len());
        let mut len = available;
        if available > 1 && self.fault(partial) {
            len = self.fault_below(available as u64) as usize;
        }
        let slot = key.slot as usize;
        // Borrowed, not copied: the config is about 150 bytes and this runs per read.
        let config = &self.config;
        let e = &mut self.endpoints[slot];
        if len < available {
            io.trace.record(
                io.now,
                EventKind::StreamPartial {
                    conn: e.conn,
                    node: e.node,
                    write: false,
                    bytes: len as u32,
                    wanted: available as u32,
                },
            );
        }
        let (front, back) = e.recv_buf.as_slices();
        let from_front = len.min(front.len());
        buf[..from_front].copy_from_slice(&front[..from_front]);
        if from_front < len {
            buf[from_front..len].copy_from_slice(&back[..len - from_front]);
        }
        drop_front(&mut e.recv_buf, len);
        e.read_pos += len as u64;
        // Tell the peer the window opened, if it opened enough to matter (or from nothing).
        let edge = e.right_edge(config);
        let threshold = (config.recv_buffer as u64 / 2).min(2 * config.segment_max as u64).max(1);
        if e.phase == Phase::Open && !e.fin_in && edge - e.advertised_edge >= threshold {
            e.send_control(slot, &mut self.wire, io, config, ACK);
            e.rearm(slot, &mut self.wire, config);
        }
        Poll::Ready(Ok(len))
    }

    /// The value carried by the last byte read, if it carried one.
    pub(crate) fn take_value(&mut self, key: EndpointKey) -> Option<Rc<dyn Any>> {
        let e = self.endpoint_mut(key)?;
        match e.values_in.front() {
            Some((at, _)) if *at + 1 == e.read_pos => e.values_in.pop_front().map(|(_, value)| value),
            _ => None,
        }
    }

    /// Write from `buf` into the send buffer, or register `waker` for space. With `value`,
    /// the last byte of `buf` carries it, if the write takes that byte (a short write does
    /// not: the caller writes the rest, value and all, again).
    pub(crate) fn write(
        &mut self,
        io: &mut Io<'_>,
        key: EndpointKey,
        waker: &Waker,
        buf: &[u8],
        value: Option<&Rc<dyn Any>>,
    ) -> Poll<io::Result<usize>> {
        let partial = self.config.faults.partial_write;
        let Some(e) = endpoint_in(&mut self.endpoints, key) else { return Poll::Ready(Err(stale())) };
        if let Some(kind) = e.error {
            return Poll::Ready(Err(io::Error::from(kind)));
        }
        if e.write_shut {
            return Poll::Ready(Err(io::Error::new(io::ErrorKind::BrokenPipe, "the stream was shut down for writing")));
        }
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let space = self.config.send_buffer - e.send_buf.len();
        if space == 0 {
            set_waker(&mut e.writer, waker);
            return Poll::Pending;
        }
        let available = space.min(buf.len());
        let mut len = available;
        if available > 1 && self.fault(partial) {
            len = self.fault_below(available as u64) as usize;
        }
        let slot = key.slot as usize;
        let config = &self.config;
        let e = &mut self.endpoints[slot];
        if len < available {
            io.trace.record(
                io.now,
                EventKind::StreamPartial {
                    conn: e.conn,
                    node: e.node,
                    write: true,
                    bytes: len as u32,
                    wanted: available as u32,
                },
            );
        }
        if let Some(value) = value.filter(|_| len == buf.len()) {
            e.values_out.push_back((e.data_end + len as u64 - 1, value.clone()));
        }
        e.send_buf.extend(&buf[..len]);
        e.data_end += len as u64;
        e.transmit(slot, &mut self.wire, io, config);
        e.rearm(slot, &mut self.wire, config);
        Poll::Ready(Ok(len))
    }

    /// Shut down reading, writing or both. Returns the wakers of tasks waiting on the
    /// directions shut.
    pub(crate) fn shutdown(&mut self, io: &mut Io<'_>, key: EndpointKey, read: bool, write: bool) -> io::Result<Wakes> {
        let config = self.config;
        let slot = key.slot as usize;
        let Some(e) = endpoint_in(&mut self.endpoints, key) else { return Err(stale()) };
        if let Some(kind) = e.error {
            return Err(io::Error::new(io::ErrorKind::NotConnected, format!("the connection failed: {kind}")));
        }
        let mut wakes = [None, None];
        if read && !e.read_shut {
            e.read_shut = true;
            e.read_pos += e.recv_buf.len() as u64;
            e.recv_buf.clear();
            e.values_in.clear();
            wakes[0] = e.reader.take();
        }
        if write && !e.write_shut {
            e.write_shut = true;
            io.trace.record(io.now, EventKind::StreamShutdown { conn: e.conn, node: e.node });
            e.transmit(slot, &mut self.wire, io, &config);
            e.rearm(slot, &mut self.wire, &config);
            wakes[1] = e.writer.take();
        }
        Ok(wakes)
    }

    /// A stream's handle (or a pending connect) was dropped.
    pub(crate) fn close(&mut self, io: &mut Io<'_>, key: EndpointKey) {
        let config = self.config;
        let slot = key.slot as usize;
        let Some(e) = endpoint_in(&mut self.endpoints, key) else { return };
        match e.phase {
            Phase::Closed | Phase::Connecting => self.remove(key),
            Phase::Open if !e.recv_buf.is_empty() => {
                // Closing with unread data resets the connection, as Linux does.
                self.abort(io, key);
            }
            Phase::Open => {
                e.owner = Owner::Orphan;
                if !e.write_shut {
                    e.write_shut = true;
                    io.trace.record(io.now, EventKind::StreamShutdown { conn: e.conn, node: e.node });
                }
                e.reader = None;
                e.writer = None;
                e.transmit(slot, &mut self.wire, io, &config);
                e.rearm(slot, &mut self.wire, &config);
                self.remove_if_done(key);
            }
        }
    }

    /// Reset a connection from this side: tell the peer and forget the endpoint.
    fn abort(&mut self, io: &mut Io<'_>, key: EndpointKey) {
        let config = self.config;
        let slot = key.slot as usize;
        let Some(e) = endpoint_in(&mut self.endpoints, key) else { return };
        if e.phase != Phase::Closed {
            io.trace.record(io.now, EventKind::StreamReset { conn: e.conn, node: e.node, reason: ResetReason::Abort });
            io.stats.resets += 1;
            if e.peer_key.is_some() {
                e.send_control(slot, &mut self.wire, io, &config, RST | ACK);
            }
        }
        self.remove(key);
    }

    fn remove(&mut self, key: EndpointKey) {
        let Some(e) = self.endpoint(key) else { return };
        let (node, port, conn, owns_port) = (e.node, e.port, e.conn, e.owns_port);
        if owns_port {
            self.ports.remove(&(node, port));
        }
        if self.accepting.get(&conn) == Some(&key) {
            self.accepting.remove(&conn);
        }
        self.endpoints.remove(key.slot as usize);
    }

    /// An orphan whose connection finished (both FINs exchanged) or failed is forgotten.
    fn remove_if_done(&mut self, key: EndpointKey) {
        if self.endpoint(key).is_some_and(|e| e.owner == Owner::Orphan && e.phase == Phase::Closed) {
            self.remove(key);
        }
    }

    /// Mark every segment in flight that matches `affected` to be dropped on arrival.
    pub(crate) fn drop_in_flight(&mut self, reason: DropReason, affected: impl Fn(NodeId, NodeId) -> bool) {
        for (_, segment) in self.wire.in_flight.iter_mut() {
            if segment.dropped.is_none() && affected(segment.header.from, segment.header.to) {
                segment.dropped = Some(reason);
            }
        }
    }

    /// `node` crashed: its peers are sent resets, and its endpoints and listeners are gone.
    fn crash(&mut self, io: &mut Io<'_>, node: NodeId) {
        let config = self.config;
        let keys: Vec<EndpointKey> =
            self.endpoints.iter().filter(|(_, e)| e.node == node).map(|(slot, e)| e.key(slot)).collect();
        for key in keys {
            let slot = key.slot as usize;
            let e = &mut self.endpoints[slot];
            if e.phase != Phase::Closed && e.peer_key.is_some() {
                // The node's sockets are closed by its (surviving) network stack.
                e.send_control(slot, &mut self.wire, io, &config, RST | ACK);
            }
            self.remove(key);
        }
        let listeners: Vec<usize> =
            self.listeners.iter().filter(|(_, listener)| listener.node == node).map(|(slot, _)| slot).collect();
        for slot in listeners {
            self.listeners.remove(slot);
        }
        let ports: Vec<(NodeId, u16)> = self.ports.range((node, 0)..=(node, u16::MAX)).map(|(port, _)| *port).collect();
        for port in ports {
            self.ports.remove(&port);
        }
    }
}

fn set_waker(slot: &mut Option<Waker>, waker: &Waker) {
    match slot {
        Some(existing) if existing.will_wake(waker) => {}
        slot => *slot = Some(waker.clone()),
    }
}

/// The error a failed connection attempt reports.
fn connect_error(kind: io::ErrorKind) -> io::Error {
    let message = match kind {
        io::ErrorKind::ConnectionRefused => "connection refused: nothing listens on that port, or its node is down",
        io::ErrorKind::TimedOut => "connection timed out: no answer within StreamConfig::connect_timeout",
        _ => "connection failed",
    };
    io::Error::new(kind, message)
}

/// The address a stream's handle reports for its own end.
pub(crate) fn local_addr(node: NodeId, port: u16) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(node.ip()), port)
}
