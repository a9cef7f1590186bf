//! Segments on the wire: their header and flags, the segments in flight, and the link's
//! verdict on each (`Links::route`), which is the datagram path's, so a stream sees exactly
//! the network a datagram sees.

use std::any::Any;
use std::collections::VecDeque;
use std::rc::Rc;

use slab::Slab;

use super::{EndpointKey, Io, StreamEvent};
use crate::net::link::Verdict;
use crate::node::NodeId;
use crate::trace::{DropReason, EventKind, SegmentKind};

/// Opens a connection (sequence numbers start at 0 each way; the SYN takes none).
pub(super) const SYN: u8 = 1;
/// The `ack` field is valid: every segment but the first SYN has it.
pub(super) const ACK: u8 = 2;
/// The end of the sender's data; takes one sequence number, after the last byte.
pub(super) const FIN: u8 = 4;
/// Resets the connection.
pub(super) const RST: u8 = 8;
/// A keepalive or window probe: answered at once with an acknowledgement.
pub(super) const PROBE: u8 = 16;

/// Segment payload buffers kept for reuse.
pub(super) const SPARE_MAX: usize = 256;

/// A segment header: who sends it to whom, and what it says.
#[derive(Clone, Copy, Debug)]
pub(super) struct Header {
    pub(super) conn: u64,
    pub(super) from: NodeId,
    pub(super) from_port: u16,
    pub(super) from_key: EndpointKey,
    pub(super) to: NodeId,
    pub(super) to_port: u16,
    /// `None` for a SYN, which goes to a listener.
    pub(super) to_key: Option<EndpointKey>,
    pub(super) flags: u8,
    /// Sequence number of the first payload byte (of the FIN, if there is no payload).
    pub(super) seq: u64,
    /// The next sequence number the sender expects (FIN included).
    pub(super) ack: u64,
    /// Bytes the sender will accept beyond `ack`.
    pub(super) window: u64,
    /// A slow connection's extra delay, told to the accepting side by the SYN.
    pub(super) extra: u64,
    pub(super) retransmit: bool,
}

impl Header {
    pub(super) fn kind(&self, bytes: usize) -> SegmentKind {
        match self.flags {
            f if f & RST != 0 => SegmentKind::Rst,
            f if f & SYN != 0 && f & ACK != 0 => SegmentKind::SynAck,
            f if f & SYN != 0 => SegmentKind::Syn,
            f if f & FIN != 0 => SegmentKind::Fin,
            f if f & PROBE != 0 => SegmentKind::Probe,
            _ if bytes > 0 => SegmentKind::Data,
            _ => SegmentKind::Ack,
        }
    }
}

/// Values written with `TcpStream::poll_write_value`, by the position of the byte that
/// carries each.
pub(super) type Values = VecDeque<(u64, Rc<dyn Any>)>;

/// The values riding on one segment's bytes, by byte position.
pub(super) type Carried = Vec<(u64, Rc<dyn Any>)>;

pub(super) struct Segment {
    pub(super) id: u64,
    pub(super) header: Header,
    pub(super) payload: Vec<u8>,
    pub(super) values: Carried,
    pub(super) dropped: Option<DropReason>,
}

/// Segments in flight, and what sending one takes.
pub(super) struct Wire {
    pub(super) in_flight: Slab<Segment>,
    pub(super) next_segment: u64,
    pub(super) spare: Vec<Vec<u8>>,
    /// Emptied value lists kept for reuse, as payload buffers are: every RPC frame's last
    /// segment carries a value, and a fresh list would be an allocation per segment.
    pub(super) spare_values: Vec<Carried>,
    pub(super) outbox: Vec<(u64, StreamEvent)>,
}

impl Wire {
    /// Send a segment through the link. The payload buffer is the wire's from now on.
    pub(super) fn send(&mut self, io: &mut Io<'_>, header: Header, payload: Vec<u8>, values: Carried) {
        let id = self.next_segment;
        self.next_segment += 1;
        let bytes = payload.len();
        io.trace.record(
            io.now,
            EventKind::SegmentSend {
                segment: id,
                conn: header.conn,
                from: header.from,
                kind: header.kind(bytes),
                bytes: bytes as u32,
                retransmit: header.retransmit,
            },
        );
        io.stats.segments_sent += 1;
        if header.retransmit {
            io.stats.retransmits += 1;
        }
        match io.links.route(io.now, io.nodes, header.from, header.to, header.extra) {
            Verdict::Dropped(reason) => {
                io.stats.segments_dropped += 1;
                io.trace.record(io.now, EventKind::SegmentDrop { segment: id, reason });
                self.recycle(payload);
                self.recycle_values(values);
            }
            Verdict::Arrives(first, second) => {
                // The original first, then its copy, as for datagrams.
                let copy = second.map(|at| {
                    let copy = self.next_segment;
                    self.next_segment += 1;
                    let mut duplicate = self.spare.pop().unwrap_or_default();
                    duplicate.extend_from_slice(&payload);
                    let mut values_copy = Carried::new();
                    if !values.is_empty() {
                        values_copy = self.values_buffer();
                        values_copy.extend(values.iter().cloned());
                    }
                    (at, Segment { id: copy, header, payload: duplicate, values: values_copy, dropped: None })
                });
                let slot = self.in_flight.insert(Segment { id, header, payload, values, dropped: None }) as u32;
                self.outbox.push((first, StreamEvent::Arrive { slot }));
                if let Some((at, segment)) = copy {
                    io.trace.record(io.now, EventKind::SegmentDuplicate { segment: id, copy: segment.id });
                    let slot = self.in_flight.insert(segment) as u32;
                    self.outbox.push((at, StreamEvent::Arrive { slot }));
                }
            }
        }
    }

    pub(super) fn buffer(&mut self) -> Vec<u8> {
        self.spare.pop().unwrap_or_default()
    }

    pub(super) fn values_buffer(&mut self) -> Carried {
        self.spare_values.pop().unwrap_or_default()
    }

    /// Keep an emptied value list, if it ever allocated (an empty `Vec` costs nothing to make,
    /// and most segments carry none: that case stays inline).
    #[inline(always)]
    pub(super) fn recycle_values(&mut self, values: Carried) {
        if values.capacity() > 0 {
            self.keep_values(values);
        }
    }

    fn keep_values(&mut self, mut values: Carried) {
        if values.capacity() <= 64 && self.spare_values.len() < SPARE_MAX {
            values.clear();
            self.spare_values.push(values);
        }
    }

    pub(super) fn recycle(&mut self, mut payload: Vec<u8>) {
        if self.spare.len() < SPARE_MAX && payload.capacity() <= 1 << 16 {
            payload.clear();
            self.spare.push(payload);
        }
    }
}
