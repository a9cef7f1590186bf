//! One end of a connection: its buffers, sequence numbers and timers, and the protocol
//! steps that touch only it (sending and resending segments, the round trip estimate, taking
//! in data in order, failing, finishing, arming its timer).

use std::collections::{BTreeMap, VecDeque};
use std::io;
use std::task::Waker;

use super::wire::{Carried, Header, Values, Wire, ACK, FIN};
use super::{EndpointKey, Io, StreamEvent, Wakes};
use crate::net::stream_config::{StreamConfig, RTO_MAX};
use crate::node::NodeId;
use crate::time::nanos;
use crate::trace::{EventKind, ResetReason};

/// The first retransmission timeout, before a round trip has been measured (RFC 6298).
pub(super) const RTO_INITIAL: u64 = 1_000_000_000;
/// How long a receiver holds back an acknowledgement hoping to piggyback it (Linux's minimum).
pub(super) const DELAYED_ACK: u64 = 40_000_000;

/// Where an endpoint is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Phase {
    /// SYN sent, nothing heard back yet.
    Connecting,
    Open,
    /// Failed, reset, or finished: only a handle's error is left.
    Closed,
}

/// Who keeps an endpoint alive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Owner {
    /// A `TcpStream` or a pending connect.
    Handle,
    /// A listener's accept queue.
    Queue,
    /// Nobody: its handle was dropped and it is delivering its last data and FIN.
    Orphan,
}

/// A segment that arrived ahead of a gap, held until the gap fills.
pub(super) struct Held {
    pub(super) payload: Vec<u8>,
    pub(super) values: Carried,
    pub(super) fin: bool,
}

pub(super) struct Endpoint {
    pub(super) seq: u64,
    pub(super) conn: u64,
    pub(super) node: NodeId,
    pub(super) port: u16,
    pub(super) peer: NodeId,
    pub(super) peer_port: u16,
    /// Known once the peer has answered (the accepting side knows it from the SYN).
    pub(super) peer_key: Option<EndpointKey>,
    pub(super) phase: Phase,
    pub(super) owner: Owner,
    /// What reads and writes return once the connection failed.
    pub(super) error: Option<io::ErrorKind>,
    /// This endpoint's port is its own (a connecting side's ephemeral port).
    pub(super) owns_port: bool,
    /// Extra delay of every segment (a slow connection fault).
    pub(super) extra: u64,

    // Sending: `send_buf` holds the bytes `data_end - send_buf.len() .. data_end`, written
    // and not yet acknowledged. The FIN, once queued, is sequence number `data_end`.
    pub(super) send_buf: VecDeque<u8>,
    pub(super) values_out: Values,
    pub(super) data_end: u64,
    pub(super) snd_una: u64,
    pub(super) snd_nxt: u64,
    /// The peer accepts data below this sequence number (its ack plus its window).
    pub(super) send_limit: u64,
    pub(super) write_shut: bool,

    // Receiving: `recv_buf` holds `read_pos .. rcv_nxt`, received in order and not yet read.
    pub(super) recv_buf: VecDeque<u8>,
    pub(super) values_in: Values,
    pub(super) read_pos: u64,
    pub(super) rcv_nxt: u64,
    pub(super) fin_in: bool,
    pub(super) read_shut: bool,
    pub(super) out_of_order: BTreeMap<u64, Held>,
    pub(super) out_of_order_bytes: usize,
    /// The right edge of the window last told to the peer.
    pub(super) advertised_edge: u64,
    /// In-order data segments received since the last acknowledgement sent.
    pub(super) unacked_in: u32,

    // Timers, all true-time nanoseconds.
    pub(super) rto: u64,
    pub(super) srtt: Option<u64>,
    pub(super) rttvar: u64,
    /// The sequence number whose acknowledgement times a round trip, and when it was sent.
    pub(super) timing: Option<(u64, u64)>,
    pub(super) retransmit_at: Option<u64>,
    /// Since when an answer is awaited (an acknowledgement of data, or of a probe); the
    /// connection is reset when the wait reaches the timeout.
    pub(super) waiting_since: Option<u64>,
    pub(super) ack_due: Option<u64>,
    pub(super) last_heard: u64,
    pub(super) probing: bool,
    pub(super) dup_acks: u32,
    /// The earliest timer event scheduled for this endpoint.
    pub(super) timer_at: Option<u64>,

    pub(super) reader: Option<Waker>,
    pub(super) writer: Option<Waker>,
}

impl Endpoint {
    pub(super) fn key(&self, slot: usize) -> EndpointKey {
        EndpointKey { slot: slot as u32, seq: self.seq }
    }

    pub(super) fn right_edge(&self, config: &StreamConfig) -> u64 {
        self.read_pos + config.recv_buffer as u64
    }

    pub(super) fn outstanding(&self) -> bool {
        self.snd_una < self.snd_nxt
    }

    pub(super) fn fin_sent(&self) -> bool {
        self.snd_nxt > self.data_end
    }

    /// Waiting for the peer's window to open, with data to send and none in flight.
    pub(super) fn window_closed(&self) -> bool {
        self.snd_nxt < self.data_end && self.snd_nxt >= self.send_limit && !self.outstanding()
    }

    pub(super) fn header(&self, slot: usize, flags: u8, seq: u64, config: &StreamConfig) -> Header {
        Header {
            conn: self.conn,
            from: self.node,
            from_port: self.port,
            from_key: self.key(slot),
            to: self.peer,
            to_port: self.peer_port,
            to_key: self.peer_key,
            flags,
            seq,
            ack: self.rcv_nxt + u64::from(self.fin_in),
            window: self.right_edge(config).saturating_sub(self.rcv_nxt),
            extra: self.extra,
            retransmit: false,
        }
    }

    /// Send a segment of `len` bytes from `seq` (plus a FIN, if `flags` has one). Every
    /// segment but a SYN carries an acknowledgement, so a pending one is now sent.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn send(
        &mut self,
        slot: usize,
        wire: &mut Wire,
        io: &mut Io<'_>,
        config: &StreamConfig,
        flags: u8,
        seq: u64,
        len: usize,
        retransmit: bool,
    ) {
        let mut header = self.header(slot, flags, seq, config);
        header.retransmit = retransmit;
        let mut payload = wire.buffer();
        let mut values = Carried::new();
        if len > 0 {
            let offset = (seq - (self.data_end - self.send_buf.len() as u64)) as usize;
            copy_out(&self.send_buf, offset, len, &mut payload);
            let end = seq + len as u64;
            // Only RPC frames carry values; plain bytes skip the scan.
            if !self.values_out.is_empty() {
                values = wire.values_buffer();
                values.extend(self.values_out.iter().filter(|(at, _)| (seq..end).contains(at)).cloned());
            }
        }
        if flags & ACK != 0 {
            self.ack_due = None;
            self.unacked_in = 0;
            self.advertised_edge = self.right_edge(config);
        }
        wire.send(io, header, payload, values);
    }

    /// An acknowledgement (or a probe, or a reset) with no data.
    pub(super) fn send_control(
        &mut self,
        slot: usize,
        wire: &mut Wire,
        io: &mut Io<'_>,
        config: &StreamConfig,
        flags: u8,
    ) {
        let seq = self.snd_nxt;
        self.send(slot, wire, io, config, flags, seq, 0, false);
    }

    /// Send new data and the FIN as far as the peer's window allows.
    pub(super) fn transmit(&mut self, slot: usize, wire: &mut Wire, io: &mut Io<'_>, config: &StreamConfig) {
        if self.phase != Phase::Open {
            return;
        }
        loop {
            let limit = self.data_end.min(self.send_limit);
            let seq = self.snd_nxt;
            if seq < limit {
                let len = (limit - seq).min(config.segment_max as u64);
                let fin = self.write_shut && seq + len == self.data_end;
                let flags = ACK | if fin { FIN } else { 0 };
                self.send(slot, wire, io, config, flags, seq, len as usize, false);
                self.snd_nxt = seq + len + u64::from(fin);
            } else if self.write_shut && seq == self.data_end {
                self.send(slot, wire, io, config, ACK | FIN, seq, 0, false);
                self.snd_nxt = seq + 1;
            } else {
                break;
            }
            self.retransmit_at.get_or_insert(io.now + self.rto);
            self.waiting_since.get_or_insert(io.now);
            self.timing.get_or_insert((self.snd_nxt, io.now));
        }
        if self.window_closed() && self.retransmit_at.is_none() {
            // The persist timer: probe the closed window in case its opening is lost.
            self.retransmit_at = Some(io.now + self.rto);
        }
    }

    /// Resend the oldest unacknowledged segment.
    pub(super) fn retransmit(&mut self, slot: usize, wire: &mut Wire, io: &mut Io<'_>, config: &StreamConfig) {
        let seq = self.snd_una;
        if seq < self.data_end {
            let len = (self.data_end - seq).min(config.segment_max as u64);
            let fin = self.fin_sent() && seq + len == self.data_end;
            let flags = ACK | if fin { FIN } else { 0 };
            self.send(slot, wire, io, config, flags, seq, len as usize, true);
        } else if self.fin_sent() {
            self.send(slot, wire, io, config, ACK | FIN, seq, 0, true);
        }
        // Karn: a round trip that included a retransmission measures nothing.
        self.timing = None;
    }

    pub(super) fn backoff(&mut self) {
        self.rto = (self.rto * 2).min(nanos(RTO_MAX));
    }

    /// Fold a measured round trip into the estimate and reset the timeout from it.
    pub(super) fn sample_rtt(&mut self, rtt: u64, config: &StreamConfig) {
        match self.srtt {
            None => {
                self.srtt = Some(rtt);
                self.rttvar = rtt / 2;
            }
            Some(srtt) => {
                self.rttvar = (3 * self.rttvar + srtt.abs_diff(rtt)) / 4;
                self.srtt = Some((7 * srtt + rtt) / 8);
            }
        }
        self.rto = self.base_rto(config);
    }

    pub(super) fn base_rto(&self, config: &StreamConfig) -> u64 {
        let estimate = match self.srtt {
            Some(srtt) => srtt + (4 * self.rttvar).max(1_000_000),
            None => RTO_INITIAL,
        };
        estimate.clamp(nanos(config.rto_min), nanos(RTO_MAX))
    }

    /// Fail the connection: reads and writes return `kind` from now on.
    pub(super) fn fail(&mut self, io: &mut Io<'_>, kind: io::ErrorKind, reason: ResetReason) -> Wakes {
        io.trace.record(io.now, EventKind::StreamReset { conn: self.conn, node: self.node, reason });
        io.stats.resets += 1;
        self.error = Some(kind);
        self.close_quietly();
        [self.reader.take(), self.writer.take()]
    }

    /// Drop every buffer and timer: the endpoint is only a tombstone for its handle now.
    pub(super) fn close_quietly(&mut self) {
        self.phase = Phase::Closed;
        self.send_buf = VecDeque::new();
        self.values_out = VecDeque::new();
        self.recv_buf = VecDeque::new();
        self.values_in = VecDeque::new();
        self.out_of_order = BTreeMap::new();
        self.out_of_order_bytes = 0;
        self.retransmit_at = None;
        self.waiting_since = None;
        self.ack_due = None;
        self.probing = false;
    }

    /// Both directions are done (our FIN acknowledged, the peer's received): the connection
    /// is finished. The endpoint keeps its unread data for its handle and answers a repeated
    /// FIN with an acknowledgement (TIME_WAIT's job), but has no timers left.
    pub(super) fn finish_if_done(&mut self) {
        if self.phase == Phase::Open && self.write_shut && self.fin_sent() && !self.outstanding() && self.fin_in {
            self.phase = Phase::Closed;
            self.retransmit_at = None;
            self.waiting_since = None;
            self.ack_due = None;
            self.probing = false;
        }
    }

    /// The endpoint's next deadline, if it has one.
    pub(super) fn next_deadline(&self, config: &StreamConfig) -> Option<u64> {
        if self.phase == Phase::Closed {
            return None;
        }
        let give_up = self.waiting_since.map(|since| {
            let limit = if self.phase == Phase::Connecting { config.connect_timeout } else { config.timeout };
            since.saturating_add(nanos(limit))
        });
        let keepalive = match config.keepalive {
            Some(idle) if self.phase == Phase::Open && !self.outstanding() && !self.probing => {
                Some(self.last_heard.saturating_add(nanos(idle)))
            }
            _ => None,
        };
        earlier(earlier(self.retransmit_at, give_up), earlier(self.ack_due, keepalive))
    }

    /// Make sure a timer event is scheduled by the next deadline. An event already scheduled
    /// earlier is kept: when it fires and finds nothing due, it schedules the next one.
    pub(super) fn rearm(&mut self, slot: usize, wire: &mut Wire, config: &StreamConfig) {
        if let Some(deadline) = self.next_deadline(config) {
            if self.timer_at.is_none_or(|at| deadline < at) {
                self.timer_at = Some(deadline);
                wire.outbox.push((deadline, StreamEvent::Timer { key: self.key(slot) }));
            }
        }
    }
}

/// The earlier of two deadlines, either of which may be absent. (`Option::min` would take
/// an absent one, which orders first.)
fn earlier(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, None) => a,
        (None, b) => b,
    }
}

/// Forget the first `len` bytes of a deque. Taking everything is the common case (a reader
/// that drains the buffer, an acknowledgement of all in flight) and `clear` does it without
/// `Drain`'s bookkeeping.
pub(super) fn drop_front(deque: &mut VecDeque<u8>, len: usize) {
    if len == deque.len() {
        deque.clear();
    } else {
        deque.drain(..len);
    }
}

/// Copy `len` bytes from `offset` of a deque into `out`.
pub(super) fn copy_out(deque: &VecDeque<u8>, offset: usize, len: usize, out: &mut Vec<u8>) {
    let (front, back) = deque.as_slices();
    if offset < front.len() {
        let end = (offset + len).min(front.len());
        out.extend_from_slice(&front[offset..end]);
        if end - offset < len {
            out.extend_from_slice(&back[..len - (end - offset)]);
        }
    } else {
        let start = offset - front.len();
        out.extend_from_slice(&back[start..start + len]);
    }
}

/// Take in the payload (and FIN) of a segment starting at `seq`. Returns whether it was in
/// order (at or before `rcv_nxt`, with something new) and whether a reader should wake.
pub(super) fn receive(
    e: &mut Endpoint,
    config: &StreamConfig,
    seq: u64,
    payload: &[u8],
    values: &mut Carried,
    fin: bool,
) -> (bool, bool) {
    if e.fin_in {
        return (false, false); // everything was received already: a duplicate
    }
    if seq > e.rcv_nxt {
        // Ahead of a gap: hold it, if it fits the window and the buffer.
        let edge = e.right_edge(config);
        if seq < edge || (payload.is_empty() && fin) {
            let end = (seq + payload.len() as u64).min(edge);
            let keep = (end - seq) as usize;
            let fits = e.out_of_order_bytes + keep <= config.recv_buffer;
            let longer = e.out_of_order.get(&seq).is_none_or(|held| held.payload.len() < keep);
            if fits && longer {
                let held = Held {
                    payload: payload[..keep].to_vec(),
                    values: values.drain(..).filter(|(at, _)| *at < end).collect(),
                    fin: fin && keep == payload.len(),
                };
                if let Some(old) = e.out_of_order.insert(seq, held) {
                    e.out_of_order_bytes -= old.payload.len();
                }
                e.out_of_order_bytes += keep;
            }
        }
        return (false, false);
    }
    let before = e.rcv_nxt;
    take_in_order(e, config, seq, payload, values, fin);
    while let Some(entry) = e.out_of_order.first_entry() {
        if *entry.key() > e.rcv_nxt || e.fin_in {
            break;
        }
        let (seq, mut held) = entry.remove_entry();
        e.out_of_order_bytes -= held.payload.len();
        take_in_order(e, config, seq, &held.payload, &mut held.values, held.fin);
    }
    if e.fin_in {
        e.out_of_order.clear();
        e.out_of_order_bytes = 0;
    }
    let progressed = e.rcv_nxt > before || e.fin_in;
    (progressed, progressed)
}

/// Append the part of a segment at or after `rcv_nxt` that fits the window.
pub(super) fn take_in_order(
    e: &mut Endpoint,
    config: &StreamConfig,
    seq: u64,
    payload: &[u8],
    values: &mut Carried,
    fin: bool,
) {
    debug_assert!(seq <= e.rcv_nxt);
    let skip = (e.rcv_nxt - seq) as usize;
    if skip > payload.len() {
        return;
    }
    let room = e.right_edge(config).saturating_sub(e.rcv_nxt) as usize;
    let new = &payload[skip..];
    let take = new.len().min(room);
    let start = e.rcv_nxt;
    let end = start + take as u64;
    if e.read_shut {
        e.read_pos += take as u64; // read side shut: received, acknowledged, discarded
    } else {
        e.recv_buf.extend(&new[..take]);
        if !values.is_empty() {
            e.values_in.extend(values.drain(..).filter(|(at, _)| (start..end).contains(at)));
        }
    }
    e.rcv_nxt = end;
    if fin && take == new.len() {
        e.fin_in = true;
    }
}

#[allow(clippy::too_many_arguments)]
pub(super) fn new_endpoint(
    seq: u64,
    conn: u64,
    node: NodeId,
    port: u16,
    peer: NodeId,
    peer_port: u16,
    phase: Phase,
    extra: u64,
    config: &StreamConfig,
    now: u64,
) -> Endpoint {
    Endpoint {
        seq,
        conn,
        node,
        port,
        peer,
        peer_port,
        peer_key: None,
        phase,
        owner: Owner::Handle,
        error: None,
        owns_port: true,
        extra,
        send_buf: VecDeque::new(),
        values_out: VecDeque::new(),
        data_end: 0,
        snd_una: 0,
        snd_nxt: 0,
        send_limit: 0,
        write_shut: false,
        recv_buf: VecDeque::new(),
        values_in: VecDeque::new(),
        read_pos: 0,
        rcv_nxt: 0,
        fin_in: false,
        read_shut: false,
        out_of_order: BTreeMap::new(),
        out_of_order_bytes: 0,
        advertised_edge: config.recv_buffer as u64,
        unacked_in: 0,
        rto: RTO_INITIAL.max(nanos(config.rto_min)),
        srtt: None,
        rttvar: 0,
        timing: None,
        retransmit_at: None,
        waiting_since: None,
        ack_due: None,
        last_heard: now,
        probing: false,
        dup_acks: 0,
        timer_at: None,
        reader: None,
        writer: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_out_spans_both_halves_of_a_deque() {
        let mut deque: VecDeque<u8> = VecDeque::with_capacity(8);
        deque.extend([0, 0, 0, 0, 0, 0]);
        deque.drain(..5);
        deque.extend([1, 2, 3, 4, 5, 6]); // wraps around
        let mut out = Vec::new();
        copy_out(&deque, 1, 5, &mut out);
        assert_eq!(out, [1, 2, 3, 4, 5]);
        out.clear();
        copy_out(&deque, 4, 2, &mut out);
        assert_eq!(out, [4, 5]);
    }

    #[test]
    fn the_retransmission_timeout_follows_round_trips_and_doubles() {
        let config = StreamConfig::default();
        let mut e = new_endpoint(0, 0, NodeId(0), 1, NodeId(1), 2, Phase::Open, 0, &config, 0);
        assert_eq!(e.rto, RTO_INITIAL);
        e.sample_rtt(100_000_000, &config);
        // srtt 100 ms, rttvar 50 ms: 100 + 4 * 50 = 300 ms.
        assert_eq!(e.rto, 300_000_000);
        for _ in 0..3 {
            e.sample_rtt(100_000_000, &config);
        }
        assert!(e.rto >= 200_000_000, "clamped at rto_min: {}", e.rto);
        for _ in 0..20 {
            e.backoff();
        }
        assert_eq!(e.rto, nanos(RTO_MAX));
    }
}
