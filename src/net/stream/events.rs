//! What happens when a segment arrives (at a listener, at an endpoint, or where nothing
//! waits for it) and when an endpoint's timer fires.

use std::io;

use super::endpoint::{drop_front, new_endpoint, receive, Owner, Phase, DELAYED_ACK};
use super::wire::{Carried, Header, Segment, ACK, FIN, PROBE, RST, SYN};
use super::{endpoint_in, EndpointKey, Io, Port, Streams, Wakes};
use crate::node::NodeId;
use crate::time::nanos;
use crate::trace::{DropReason, EventKind, ResetReason};

impl Streams {
    // --- segments arriving -----------------------------------------------------------------

    pub(super) fn arrive(&mut self, io: &mut Io<'_>, slot: u32) -> Wakes {
        let segment = self.wire.in_flight.remove(slot as usize);
        let Segment { id, header, payload, mut values, dropped } = segment;
        if let Some(reason) = dropped {
            io.stats.segments_dropped += 1;
            io.trace.record(io.now, EventKind::SegmentDrop { segment: id, reason });
            self.wire.recycle(payload);
            self.wire.recycle_values(values);
            return [None, None];
        }
        let wakes = match header.to_key {
            None => self.on_syn(io, id, &header),
            Some(key) => self.on_segment(io, id, key, &header, &payload, &mut values),
        };
        self.wire.recycle(payload);
        self.wire.recycle_values(values);
        wakes
    }

    /// Answer a segment that has no connection to go to with a reset, as a real stack does.
    fn refuse(&mut self, io: &mut Io<'_>, header: &Header) {
        if header.flags & RST != 0 {
            return;
        }
        let reply = Header {
            conn: header.conn,
            from: header.to,
            from_port: header.to_port,
            from_key: EndpointKey { slot: u32::MAX, seq: u64::MAX },
            to: header.from,
            to_port: header.from_port,
            to_key: Some(header.from_key),
            flags: RST | ACK,
            seq: header.ack,
            ack: header.seq,
            window: 0,
            extra: header.extra,
            retransmit: false,
        };
        let payload = self.wire.buffer();
        self.wire.send(io, reply, payload, Vec::new());
    }

    fn deliver(&mut self, io: &mut Io<'_>, id: u64, to: NodeId) {
        io.stats.segments_delivered += 1;
        io.trace.record(io.now, EventKind::SegmentDeliver { segment: id, to });
    }

    fn not_delivered(&mut self, io: &mut Io<'_>, id: u64, reason: DropReason) {
        io.stats.segments_dropped += 1;
        io.trace.record(io.now, EventKind::SegmentDrop { segment: id, reason });
    }

    fn on_syn(&mut self, io: &mut Io<'_>, id: u64, header: &Header) -> Wakes {
        let config = self.config;
        // A repeated SYN: its answer was lost, so answer again.
        if let Some(&key) = self.accepting.get(&header.conn) {
            if let Some(e) = endpoint_in(&mut self.endpoints, key).filter(|e| e.phase == Phase::Open) {
                io.stats.segments_delivered += 1;
                io.trace.record(io.now, EventKind::SegmentDeliver { segment: id, to: header.to });
                let slot = key.slot as usize;
                e.send_control(slot, &mut self.wire, io, &config, SYN | ACK);
                e.rearm(slot, &mut self.wire, &config);
                return [None, None];
            }
        }
        let listener = match self.ports.get(&(header.to, header.to_port)) {
            Some(Port::Listener(key)) => *key,
            _ => {
                self.not_delivered(io, id, DropReason::NoSocket);
                self.refuse(io, header);
                return [None, None];
            }
        };
        if self.listeners[listener.slot as usize].queue.len() >= config.backlog {
            // A full backlog drops the SYN; the connecting side will try again.
            self.not_delivered(io, id, DropReason::BufferFull);
            return [None, None];
        }
        self.deliver(io, id, header.to);
        if self.fault(config.faults.connect_refused) {
            self.refuse(io, header);
            return [None, None];
        }
        let seq = self.next_seq();
        let mut endpoint = new_endpoint(
            seq,
            header.conn,
            header.to,
            header.to_port,
            header.from,
            header.from_port,
            Phase::Open,
            header.extra,
            &config,
            io.now,
        );
        endpoint.owner = Owner::Queue;
        endpoint.owns_port = false;
        endpoint.peer_key = Some(header.from_key);
        endpoint.send_limit = header.window;
        let slot = self.endpoints.insert(endpoint);
        let e = &mut self.endpoints[slot];
        let key = e.key(slot);
        io.trace.record(io.now, EventKind::StreamAccept { conn: header.conn, node: header.to });
        e.send_control(slot, &mut self.wire, io, &config, SYN | ACK);
        e.rearm(slot, &mut self.wire, &config);
        self.accepting.insert(header.conn, key);
        let listener = &mut self.listeners[listener.slot as usize];
        listener.queue.push_back(key);
        [listener.acceptor.take(), None]
    }

    fn on_segment(
        &mut self,
        io: &mut Io<'_>,
        id: u64,
        key: EndpointKey,
        header: &Header,
        payload: &[u8],
        values: &mut Carried,
    ) -> Wakes {
        let slot = key.slot as usize;
        let found = self.endpoint(key).is_some_and(|e| {
            e.conn == header.conn
                && (e.phase != Phase::Closed || e.error.is_none())
                && (header.flags & RST != 0 || e.peer_key.is_none() || e.peer_key == Some(header.from_key))
        });
        if !found {
            self.not_delivered(io, id, DropReason::NoSocket);
            self.refuse(io, header);
            return [None, None];
        }
        self.deliver(io, id, header.to);
        let reset = self.config.faults.reset;
        let reset_fault = !payload.is_empty() && self.fault(reset);
        // Borrowed beside the endpoint and the wire, not copied: this runs per segment.
        let config = &self.config;
        let e = &mut self.endpoints[slot];
        let mut wakes: Wakes = [None, None];
        if e.phase == Phase::Closed {
            // Finished: the peer did not hear our last acknowledgement, so say it again.
            if header.flags & RST == 0 && (header.flags & FIN != 0 || !payload.is_empty()) {
                e.send_control(slot, &mut self.wire, io, config, ACK);
            }
            return wakes;
        }
        if header.flags & RST != 0 {
            let wakes = if e.phase == Phase::Connecting {
                e.fail(io, io::ErrorKind::ConnectionRefused, ResetReason::Refused)
            } else {
                e.fail(io, io::ErrorKind::ConnectionReset, ResetReason::Peer)
            };
            self.remove_if_done(key);
            return wakes;
        }
        e.last_heard = io.now;
        if e.phase == Phase::Connecting {
            // Any answer opens the connection (a SYN-ACK, or data after a lost one).
            e.phase = Phase::Open;
            e.peer_key = Some(header.from_key);
            e.waiting_since = None;
            e.retransmit_at = None;
            if let Some((_, sent_at)) = e.timing.take() {
                e.sample_rtt(io.now - sent_at, config);
            }
            e.rto = e.base_rto(config);
            io.trace.record(io.now, EventKind::StreamOpen { conn: e.conn, node: e.node });
            wakes[1] = e.writer.take();
        }
        if e.probing {
            e.probing = false;
            if !e.outstanding() {
                e.waiting_since = None;
                e.retransmit_at = None;
            }
        }
        if e.owner == Owner::Orphan && !payload.is_empty() && header.seq + payload.len() as u64 > e.rcv_nxt {
            // New data for a stream nobody will read again: reset it, as Linux does. An old
            // duplicate (its acknowledgement was lost) is acknowledged again below instead:
            // resetting there would throw away a response the peer has yet to receive.
            self.abort(io, key);
            return [None, None];
        }
        if reset_fault {
            let wakes = e.fail(io, io::ErrorKind::ConnectionReset, ResetReason::Fault);
            if let Some(peer) = e.peer_key {
                let reply = Header { to_key: Some(peer), flags: RST | ACK, ..e.header(slot, 0, e.snd_nxt, config) };
                let buffer = self.wire.buffer();
                self.wire.send(io, reply, buffer, Vec::new());
            }
            self.remove_if_done(key);
            return wakes;
        }
        let mut ack_now = header.flags & PROBE != 0;

        // What the peer acknowledges.
        if header.flags & ACK != 0 {
            let ack = header.ack;
            if ack > e.snd_una && ack <= e.snd_nxt {
                let buffered_from = e.data_end - e.send_buf.len() as u64;
                let data_acked = ack.min(e.data_end).saturating_sub(buffered_from) as usize;
                drop_front(&mut e.send_buf, data_acked);
                while e.values_out.front().is_some_and(|(at, _)| *at < ack) {
                    e.values_out.pop_front();
                }
                e.snd_una = ack;
                match e.timing {
                    Some((timed, sent_at)) if ack >= timed => {
                        e.timing = None;
                        e.sample_rtt(io.now - sent_at, config); // which resets `rto` too
                    }
                    _ => e.rto = e.base_rto(config),
                }
                e.dup_acks = 0;
                if e.outstanding() {
                    e.retransmit_at = Some(io.now + e.rto);
                    e.waiting_since = Some(io.now);
                } else {
                    e.retransmit_at = None;
                    // An orphan whose FIN is acknowledged waits for the peer's, but not
                    // forever (FIN_WAIT_2's timeout).
                    let fin_wait = e.owner == Owner::Orphan && e.fin_sent() && !e.fin_in;
                    e.waiting_since = fin_wait.then_some(io.now);
                }
                if data_acked > 0 {
                    wakes[1] = e.writer.take();
                }
            } else if ack == e.snd_una
                && e.outstanding()
                && payload.is_empty()
                && header.flags & (FIN | SYN | PROBE) == 0
                && ack + header.window == e.send_limit
            {
                e.dup_acks += 1;
                if e.dup_acks == 3 {
                    e.retransmit(slot, &mut self.wire, io, config);
                }
            }
            let limit = ack.saturating_add(header.window);
            if limit > e.send_limit {
                e.send_limit = limit;
                if !e.window_closed() && !e.outstanding() {
                    e.retransmit_at = None;
                }
            }
        }

        // What the peer sends.
        let fin = header.flags & FIN != 0;
        if !payload.is_empty() || fin {
            let (in_order, woke) = receive(e, config, header.seq, payload, values, fin);
            if woke {
                wakes[0] = e.reader.take();
            }
            if in_order {
                e.unacked_in += 1;
                if fin || e.unacked_in >= 2 || !e.out_of_order.is_empty() {
                    ack_now = true;
                } else {
                    e.ack_due.get_or_insert(io.now + DELAYED_ACK);
                }
            } else {
                ack_now = true;
            }
        }

        // Data sent now carries the acknowledgement; otherwise an owed one goes alone.
        let sent_before = self.wire.next_segment;
        e.transmit(slot, &mut self.wire, io, config);
        if ack_now && self.wire.next_segment == sent_before {
            e.send_control(slot, &mut self.wire, io, config, ACK);
        }
        e.finish_if_done();
        e.rearm(slot, &mut self.wire, config);
        self.remove_if_done(key);
        wakes
    }

    pub(super) fn on_timer(&mut self, io: &mut Io<'_>, key: EndpointKey) -> Wakes {
        let slot = key.slot as usize;
        let config = &self.config;
        let Some(e) = endpoint_in(&mut self.endpoints, key) else { return [None, None] };
        let now = io.now;
        if e.timer_at == Some(now) {
            e.timer_at = None;
        }
        if e.phase == Phase::Closed {
            return [None, None];
        }
        if let Some(since) = e.waiting_since {
            let limit = if e.phase == Phase::Connecting { config.connect_timeout } else { config.timeout };
            if now >= since.saturating_add(nanos(limit)) {
                let wakes = e.fail(io, io::ErrorKind::TimedOut, ResetReason::Timeout);
                self.remove_if_done(key);
                return wakes;
            }
        }
        if e.retransmit_at.is_some_and(|at| at <= now) {
            e.retransmit_at = None;
            if e.phase == Phase::Connecting {
                let seq = 0;
                let mut header = e.header(slot, SYN, seq, config);
                header.retransmit = true;
                let buffer = self.wire.buffer();
                self.wire.send(io, header, buffer, Vec::new());
                e.timing = None;
            } else if e.outstanding() {
                e.retransmit(slot, &mut self.wire, io, config);
            } else if e.window_closed() || e.probing {
                e.send_control(slot, &mut self.wire, io, config, ACK | PROBE);
                e.probing = true;
                e.waiting_since.get_or_insert(now);
            }
            if e.phase == Phase::Connecting || e.outstanding() || e.probing {
                e.backoff();
                e.retransmit_at = Some(now + e.rto);
            }
        }
        if e.ack_due.is_some_and(|at| at <= now) {
            e.send_control(slot, &mut self.wire, io, config, ACK);
        }
        if let Some(idle) = config.keepalive {
            if e.phase == Phase::Open
                && !e.outstanding()
                && !e.probing
                && now >= e.last_heard.saturating_add(nanos(idle))
            {
                e.send_control(slot, &mut self.wire, io, config, ACK | PROBE);
                e.probing = true;
                e.waiting_since = Some(now);
                e.retransmit_at = Some(now + e.rto);
            }
        }
        e.rearm(slot, &mut self.wire, config);
        [None, None]
    }
}
