//! The trace: a compact log of what happened in a run, and its hash.
//!
//! Every scheduling decision, message, fault and lifecycle change is an [`Event`]: a few
//! integers, recorded without formatting. Each event is folded into a running hash with a
//! fixed function (the same on every platform and build), so the hash identifies the run: the
//! same seed on the same build gives the same hash. The last events are kept for failure
//! reports; the whole trace is kept only when asked (`Builder::record_trace`).

use std::fmt;

use crate::check::Coverage;
use crate::feedback::{Collector, Feedback};
use crate::node::NodeId;
use crate::task::TaskId;
use crate::time::Instant;

/// One thing that happened in a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Event {
    /// True simulated time (not a node's skewed clock).
    pub at: Instant,
    /// What happened.
    pub kind: EventKind,
}

/// Why a datagram did not arrive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DropReason {
    /// The link lost it.
    Loss,
    /// A partition or isolation was in the way when it was sent or while it was in flight.
    Partition,
    /// Its sender or receiver crashed while it was in flight.
    Crash,
    /// Nothing was bound to the destination port.
    NoSocket,
    /// The destination address belongs to no node.
    NoRoute,
    /// The receiving socket's queue was full.
    BufferFull,
}

/// Why a stream connection failed on one side. See [`EventKind::StreamReset`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResetReason {
    /// The connection attempt was refused: nothing listened, the node was down, or a
    /// `connect_refused` fault.
    Refused,
    /// The other side reset it: its node crashed, it closed with unread data, or a fault.
    Peer,
    /// Data or probes went unanswered for the stream timeout (or a connection attempt for
    /// the connect timeout): a long partition, or a peer gone silent.
    Timeout,
    /// A `reset` stream fault.
    Fault,
    /// This side reset it: closed with unread data, or its listener closed before accepting it.
    Abort,
}

/// What a stream segment carries. See [`EventKind::SegmentSend`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SegmentKind {
    /// Opens a connection.
    Syn,
    /// Answers a SYN.
    SynAck,
    /// Data (and an acknowledgement).
    Data,
    /// Only an acknowledgement (and a window).
    Ack,
    /// The end of a direction's data (perhaps with the last of it).
    Fin,
    /// A reset.
    Rst,
    /// A keepalive or window probe, answered at once.
    Probe,
}

/// What an [`Event`] records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum EventKind {
    /// A node or client started; `incarnation` counts restarts.
    NodeStart {
        /// The node.
        node: NodeId,
        /// 0 on the first start, then 1, 2, ... after each restart.
        incarnation: u32,
    },
    /// A node crashed: its tasks were dropped, its sockets closed, its datagrams lost.
    NodeCrash {
        /// The node.
        node: NodeId,
    },
    /// A node was paused.
    NodePause {
        /// The node.
        node: NodeId,
    },
    /// A paused node resumed.
    NodeResume {
        /// The node.
        node: NodeId,
    },
    /// A task was spawned.
    Spawn {
        /// The new task.
        task: TaskId,
        /// Its node.
        node: NodeId,
    },
    /// A task was polled: one step.
    Poll {
        /// The task.
        task: TaskId,
        /// Its node.
        node: NodeId,
    },
    /// A task finished.
    TaskDone {
        /// The task.
        task: TaskId,
    },
    /// A task was cancelled: aborted, or its node crashed.
    TaskCancel {
        /// The task.
        task: TaskId,
    },
    /// A datagram was sent.
    Send {
        /// The datagram's number in this run.
        datagram: u64,
        /// Sending node.
        from: NodeId,
        /// Sending port.
        from_port: u16,
        /// Receiving node.
        to: NodeId,
        /// Receiving port.
        to_port: u16,
        /// Payload length.
        bytes: u32,
    },
    /// The network made a second copy of a datagram.
    Duplicate {
        /// The original.
        datagram: u64,
        /// The copy's number.
        copy: u64,
    },
    /// A datagram arrived in a socket's queue.
    Deliver {
        /// The datagram.
        datagram: u64,
        /// Receiving node.
        to: NodeId,
    },
    /// A datagram was dropped.
    Drop {
        /// The datagram.
        datagram: u64,
        /// Why.
        reason: DropReason,
    },
    /// Datagrams from `from` to `to` are blocked.
    Partition {
        /// Sending side.
        from: NodeId,
        /// Receiving side.
        to: NodeId,
    },
    /// Datagrams from `from` to `to` flow again.
    Repair {
        /// Sending side.
        from: NodeId,
        /// Receiving side.
        to: NodeId,
    },
    /// A node was cut off from every other node.
    Isolate {
        /// The node.
        node: NodeId,
    },
    /// An isolated node was reconnected.
    Rejoin {
        /// The node.
        node: NodeId,
    },
    /// Datagrams from `from` to `to` sent before `until` arrive no earlier than `until`.
    Clog {
        /// Sending side.
        from: NodeId,
        /// Receiving side.
        to: NodeId,
        /// When the clog clears (true time).
        until: Instant,
    },
    /// The link from `from` to `to` was reconfigured.
    LinkSet {
        /// Sending side.
        from: NodeId,
        /// Receiving side.
        to: NodeId,
    },
    /// Every partition, isolation and clog was removed.
    HealAll,
    /// A node's clock was set off true time.
    Skew {
        /// The node.
        node: NodeId,
        /// Offset in nanoseconds.
        offset_nanos: i64,
        /// Drift in parts per million.
        drift_ppm: i32,
    },
    /// A stream connection attempt: `from` sent its first SYN to `to`'s port `to_port`.
    StreamConnect {
        /// The connection's number in this run.
        conn: u64,
        /// Connecting node.
        from: NodeId,
        /// Listening node.
        to: NodeId,
        /// Listening port.
        to_port: u16,
    },
    /// A listener on `node` took connection `conn` into its accept queue.
    StreamAccept {
        /// The connection.
        conn: u64,
        /// The listening node.
        node: NodeId,
    },
    /// The connecting side of `conn` heard back: the connection is open.
    StreamOpen {
        /// The connection.
        conn: u64,
        /// The connecting node.
        node: NodeId,
    },
    /// `node` shut down writing on `conn`: a FIN follows its data.
    StreamShutdown {
        /// The connection.
        conn: u64,
        /// The node.
        node: NodeId,
    },
    /// Connection `conn` failed on `node`.
    StreamReset {
        /// The connection.
        conn: u64,
        /// The node whose side failed.
        node: NodeId,
        /// Why.
        reason: ResetReason,
    },
    /// A stream segment was sent.
    SegmentSend {
        /// The segment's number in this run.
        segment: u64,
        /// Its connection.
        conn: u64,
        /// Sending node.
        from: NodeId,
        /// What it carries.
        kind: SegmentKind,
        /// Payload length.
        bytes: u32,
        /// True if it resends data (or a SYN or FIN) sent before.
        retransmit: bool,
    },
    /// The network made a second copy of a segment.
    SegmentDuplicate {
        /// The original.
        segment: u64,
        /// The copy's number.
        copy: u64,
    },
    /// A segment reached its endpoint or listener.
    SegmentDeliver {
        /// The segment.
        segment: u64,
        /// Receiving node.
        to: NodeId,
    },
    /// A segment was dropped.
    SegmentDrop {
        /// The segment.
        segment: u64,
        /// Why: the link's reasons, `NoSocket` for a segment with no connection or listener
        /// to go to (answered with a reset), `BufferFull` for a SYN beyond a listener's backlog.
        reason: DropReason,
    },
    /// A stream fault made a read or write take fewer bytes than it could.
    StreamPartial {
        /// The connection.
        conn: u64,
        /// The node.
        node: NodeId,
        /// A write (else a read).
        write: bool,
        /// Bytes taken.
        bytes: u32,
        /// Bytes that could have been taken.
        wanted: u32,
    },
    /// The stream faults were changed.
    StreamFaultsSet,
    /// A node's clock stepped forward or back.
    ClockJump {
        /// The node.
        node: NodeId,
        /// The step, in nanoseconds.
        by_nanos: i64,
    },
    /// Every link loses at least `loss_num / loss_den` of its datagrams until `until`.
    LossBurst {
        /// The loss's numerator.
        loss_num: u32,
        /// The loss's denominator.
        loss_den: u32,
        /// When the burst ends.
        until: Instant,
    },
    /// Every datagram sent until `until` takes `extra_nanos` longer.
    LatencySpike {
        /// The added latency.
        extra_nanos: u64,
        /// When the spike ends.
        until: Instant,
    },
    /// The end of the faults: network healed, crashed nodes restarted, paused ones resumed,
    /// clocks set right. Liveness is measured from here.
    Recover,
    /// A `buggify!` site fired.
    Buggify {
        /// The call site.
        site: &'static std::panic::Location<'static>,
    },
    /// A node's disk lost or kept its unsynced blocks in a crash.
    DiskCrash {
        /// The node.
        node: NodeId,
        /// Unsynced blocks that kept their new contents.
        blocks_kept: u32,
        /// Unsynced blocks that lost them.
        blocks_lost: u32,
        /// Kept blocks that came back corrupted.
        blocks_corrupted: u32,
    },
    /// A disk fault began (it lasts until `until`, or is a one-off for corruption).
    DiskFault {
        /// The node.
        node: NodeId,
        /// Which fault.
        fault: DiskFaultKind,
        /// When it ends.
        until: Instant,
    },
    /// A disk operation failed with an injected error.
    DiskError {
        /// The node.
        node: NodeId,
        /// The operation.
        op: DiskOp,
    },
    /// A write landed one block away from where it was aimed.
    DiskMisdirected {
        /// The node.
        node: NodeId,
    },
    /// Every link duplicates at least `ratio_num / ratio_den` of its packets until `until`.
    DuplicateWindow {
        /// The ratio's numerator.
        ratio_num: u32,
        /// The ratio's denominator.
        ratio_den: u32,
        /// When the window ends.
        until: Instant,
    },
    /// Until `until`, `ratio_num / ratio_den` of the packets are held back by up to
    /// `spread_nanos`, so later ones overtake them.
    ReorderWindow {
        /// The ratio's numerator.
        ratio_num: u32,
        /// The ratio's denominator.
        ratio_den: u32,
        /// The most a packet is held back.
        spread_nanos: u64,
        /// When the window ends.
        until: Instant,
    },
    /// A node will crash right after its next send or receive, and restart after `down_nanos`.
    CrashArmed {
        /// The node.
        node: NodeId,
        /// What sets it off.
        trigger: crate::fault::Trigger,
        /// How long it stays down.
        down_nanos: u64,
    },
    /// Datagrams from the `from` nodes of one set to the `to` nodes of another are blocked
    /// (a partition between sets too large to trace pair by pair: the pairs of a small one
    /// follow as `Partition` events instead). `sets` is a digest of both sets' members.
    SetPartition {
        /// How many nodes send.
        from: u32,
        /// How many nodes receive.
        to: u32,
        /// A digest of the members of both sets.
        sets: u64,
    },
    /// One partition is taken off every pair from the `from` nodes of one set to the `to`
    /// nodes of another (the repair of a partition between large sets; `sets` as in
    /// `SetPartition`).
    SetRepair {
        /// How many nodes send.
        from: u32,
        /// How many nodes receive.
        to: u32,
        /// A digest of the members of both sets.
        sets: u64,
    },
    /// The nodes that call themselves primaries (`primaries` of them) are cut off from the
    /// rest until `until` (the cuts follow as `Partition` or `SetPartition` events).
    PrimariesCut {
        /// How many primaries there were.
        primaries: u32,
        /// When the cut is repaired.
        until: Instant,
    },
    /// A node said it is (or is no longer) a primary (`world::set_primary`).
    PrimarySet {
        /// The node.
        node: NodeId,
        /// Whether it is one now.
        primary: bool,
    },
    /// A server's main future returned an error and, under
    /// [`OnNodeError::Restart`](crate::OnNodeError::Restart), the node exits to be restarted.
    NodeExit {
        /// The node.
        node: NodeId,
    },
}

/// A simulated disk operation that can fail with an injected error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DiskOp {
    /// A read.
    Read,
    /// A write, append or truncation.
    Write,
    /// A file or directory sync.
    Sync,
}

/// A disk fault of a fault plan. See [`EventKind::DiskFault`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DiskFaultKind {
    /// Reads, writes and syncs fail with some probability.
    Errors,
    /// Writes land a block off with some probability.
    Misdirect,
    /// Writes that grow a file fail with `StorageFull`.
    Full,
    /// Every operation takes longer.
    Slow,
    /// A block at rest was corrupted.
    Corrupt,
}

impl EventKind {
    /// The words folded into the hash: a tag and the fields.
    fn words(&self) -> [u64; 4] {
        use EventKind::*;
        let n = |node: NodeId| u64::from(node.0);
        match *self {
            NodeStart { node, incarnation } => [1, n(node), u64::from(incarnation), 0],
            NodeCrash { node } => [2, n(node), 0, 0],
            NodePause { node } => [3, n(node), 0, 0],
            NodeResume { node } => [4, n(node), 0, 0],
            Spawn { task, node } => [5, task.0, n(node), 0],
            Poll { task, node } => [6, task.0, n(node), 0],
            TaskDone { task } => [7, task.0, 0, 0],
            TaskCancel { task } => [8, task.0, 0, 0],
            Send { datagram, from, from_port, to, to_port, bytes } => [
                9,
                datagram,
                (n(from) << 16) | u64::from(from_port),
                (n(to) << 16) | u64::from(to_port) | (u64::from(bytes) << 40),
            ],
            Duplicate { datagram, copy } => [10, datagram, copy, 0],
            Deliver { datagram, to } => [11, datagram, n(to), 0],
            Drop { datagram, reason } => [12, datagram, reason as u64, 0],
            Partition { from, to } => [13, n(from), n(to), 0],
            Repair { from, to } => [14, n(from), n(to), 0],
            Isolate { node } => [15, n(node), 0, 0],
            Rejoin { node } => [16, n(node), 0, 0],
            Clog { from, to, until } => [17, n(from), n(to), until.as_nanos()],
            LinkSet { from, to } => [18, n(from), n(to), 0],
            HealAll => [19, 0, 0, 0],
            Skew { node, offset_nanos, drift_ppm } => [20, n(node), offset_nanos as u64, drift_ppm as u64],
            // Tags from 64 on belong to streams.
            StreamConnect { conn, from, to, to_port } => [64, conn, n(from), (n(to) << 16) | u64::from(to_port)],
            StreamAccept { conn, node } => [65, conn, n(node), 0],
            StreamOpen { conn, node } => [66, conn, n(node), 0],
            StreamShutdown { conn, node } => [67, conn, n(node), 0],
            StreamReset { conn, node, reason } => [68, conn, n(node), reason as u64],
            SegmentSend { segment, conn, from, kind, bytes, retransmit } => [
                69,
                segment,
                conn,
                n(from) | ((kind as u64) << 24) | (u64::from(retransmit) << 31) | (u64::from(bytes) << 32),
            ],
            SegmentDuplicate { segment, copy } => [70, segment, copy, 0],
            SegmentDeliver { segment, to } => [71, segment, n(to), 0],
            SegmentDrop { segment, reason } => [72, segment, reason as u64, 0],
            StreamPartial { conn, node, write, bytes, wanted } => {
                [73, conn, n(node) | (u64::from(write) << 32), (u64::from(bytes) << 32) | u64::from(wanted)]
            }
            StreamFaultsSet => [74, 0, 0, 0],
            // Tags from 40 on belong to faults and checks.
            ClockJump { node, by_nanos } => [40, n(node), by_nanos as u64, 0],
            LossBurst { loss_num, loss_den, until } => {
                [41, (u64::from(loss_num) << 32) | u64::from(loss_den), until.as_nanos(), 0]
            }
            LatencySpike { extra_nanos, until } => [42, extra_nanos, until.as_nanos(), 0],
            Recover => [43, 0, 0, 0],
            Buggify { site } => {
                let file = site.file().bytes().fold(HASH_START, |hash, byte| mix(hash, u64::from(byte)));
                [44, file, u64::from(site.line()), u64::from(site.column())]
            }
            DiskCrash { node, blocks_kept, blocks_lost, blocks_corrupted } => {
                [45, n(node), (u64::from(blocks_kept) << 32) | u64::from(blocks_lost), u64::from(blocks_corrupted)]
            }
            DiskFault { node, fault, until } => [46, n(node), fault as u64, until.as_nanos()],
            DiskError { node, op } => [47, n(node), op as u64, 0],
            DiskMisdirected { node } => [48, n(node), 0, 0],
            DuplicateWindow { ratio_num, ratio_den, until } => {
                [49, (u64::from(ratio_num) << 32) | u64::from(ratio_den), until.as_nanos(), 0]
            }
            ReorderWindow { ratio_num, ratio_den, spread_nanos, until } => {
                [50, (u64::from(ratio_num) << 32) | u64::from(ratio_den), spread_nanos, until.as_nanos()]
            }
            CrashArmed { node, trigger, down_nanos } => [51, n(node), trigger as u64, down_nanos],
            PrimariesCut { primaries, until } => [52, u64::from(primaries), until.as_nanos(), 0],
            PrimarySet { node, primary } => [53, n(node), u64::from(primary), 0],
            NodeExit { node } => [54, n(node), 0, 0],
            SetPartition { from, to, sets } => [55, (u64::from(from) << 32) | u64::from(to), sets, 0],
            SetRepair { from, to, sets } => [56, (u64::from(from) << 32) | u64::from(to), sets, 0],
        }
    }
}

impl Event {
    /// A readable line, with node names from `names` (indexed by node).
    ///
    /// ```
    /// use seedsim::trace::{Event, EventKind};
    /// let event = Event { at: seedsim::time::Instant::from_nanos(1_500_000), kind: EventKind::HealAll };
    /// assert_eq!(event.describe(&[]).to_string().trim(), "0.001500000s  heal all");
    /// ```
    pub fn describe<'a>(&'a self, names: &'a [String]) -> impl fmt::Display + 'a {
        Described { event: self, names, with_time: true }
    }

    /// Like [`describe`](Event::describe), without the time.
    pub fn describe_kind<'a>(&'a self, names: &'a [String]) -> impl fmt::Display + 'a {
        Described { event: self, names, with_time: false }
    }
}

struct Described<'a> {
    event: &'a Event,
    names: &'a [String],
    with_time: bool,
}

impl fmt::Display for Described<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use EventKind::*;
        let name = |node: NodeId| self.names.get(node.index()).map_or("?", String::as_str);
        if self.with_time {
            write!(f, "{:>16}  ", self.event.at)?;
        }
        match self.event.kind {
            NodeStart { node, incarnation: 0 } => write!(f, "start {}", name(node)),
            NodeStart { node, incarnation } => {
                write!(f, "restart {} (incarnation {incarnation})", name(node))
            }
            NodeCrash { node } => write!(f, "crash {}", name(node)),
            NodePause { node } => write!(f, "pause {}", name(node)),
            NodeResume { node } => write!(f, "resume {}", name(node)),
            Spawn { task, node } => write!(f, "spawn {task} on {}", name(node)),
            Poll { task, node } => write!(f, "poll {task} on {}", name(node)),
            TaskDone { task } => write!(f, "{task} finished"),
            TaskCancel { task } => write!(f, "{task} cancelled"),
            Send { datagram, from, from_port, to, to_port, bytes } => write!(
                f,
                "send datagram {datagram} {}:{from_port} -> {}:{to_port} ({bytes} bytes)",
                name(from),
                name(to)
            ),
            Duplicate { datagram, copy } => write!(f, "duplicate datagram {datagram} as {copy}"),
            Deliver { datagram, to } => write!(f, "deliver datagram {datagram} to {}", name(to)),
            Drop { datagram, reason } => write!(f, "drop datagram {datagram} ({reason:?})"),
            Partition { from, to } => write!(f, "partition {} -> {}", name(from), name(to)),
            Repair { from, to } => write!(f, "repair {} -> {}", name(from), name(to)),
            SetPartition { from, to, sets } => write!(f, "partition {from} nodes -> {to} nodes (sets {sets:#018x})"),
            SetRepair { from, to, sets } => write!(f, "repair {from} nodes -> {to} nodes (sets {sets:#018x})"),
            Isolate { node } => write!(f, "isolate {}", name(node)),
            Rejoin { node } => write!(f, "rejoin {}", name(node)),
            Clog { from, to, until } => {
                write!(f, "clog {} -> {} until {until}", name(from), name(to))
            }
            LinkSet { from, to } => write!(f, "set link {} -> {}", name(from), name(to)),
            HealAll => write!(f, "heal all"),
            Skew { node, offset_nanos, drift_ppm } => {
                write!(f, "skew clock of {} by {offset_nanos} ns, drift {drift_ppm} ppm", name(node))
            }
            StreamConnect { conn, from, to, to_port } => {
                write!(f, "{} connects to {}:{to_port} (conn {conn})", name(from), name(to))
            }
            StreamAccept { conn, node } => write!(f, "{} accepts conn {conn}", name(node)),
            StreamOpen { conn, node } => write!(f, "conn {conn} open at {}", name(node)),
            StreamShutdown { conn, node } => write!(f, "{} shuts down writing on conn {conn}", name(node)),
            StreamReset { conn, node, reason } => write!(f, "conn {conn} reset at {} ({reason:?})", name(node)),
            SegmentSend { segment, conn, from, kind, bytes, retransmit } => write!(
                f,
                "{}send segment {segment} of conn {conn} from {}: {kind:?}, {bytes} bytes",
                if retransmit { "re" } else { "" },
                name(from)
            ),
            SegmentDuplicate { segment, copy } => write!(f, "duplicate segment {segment} as {copy}"),
            SegmentDeliver { segment, to } => write!(f, "deliver segment {segment} to {}", name(to)),
            SegmentDrop { segment, reason } => write!(f, "drop segment {segment} ({reason:?})"),
            StreamPartial { conn, node, write, bytes, wanted } => write!(
                f,
                "partial {} on conn {conn} at {}: {bytes} of {wanted} bytes",
                if write { "write" } else { "read" },
                name(node)
            ),
            StreamFaultsSet => write!(f, "set stream faults"),
            ClockJump { node, by_nanos } => write!(f, "jump clock of {} by {by_nanos} ns", name(node)),
            LossBurst { loss_num, loss_den, until } => write!(f, "loss burst {loss_num}/{loss_den} until {until}"),
            LatencySpike { extra_nanos, until } => write!(f, "latency spike +{extra_nanos} ns until {until}"),
            Recover => write!(f, "recover: faults end"),
            Buggify { site } => write!(f, "buggify fired at {}:{}:{}", site.file(), site.line(), site.column()),
            DiskCrash { node, blocks_kept, blocks_lost, blocks_corrupted } => write!(
                f,
                "disk of {} crashed: {blocks_kept} unsynced block(s) kept, {blocks_lost} lost, {blocks_corrupted} corrupted",
                name(node)
            ),
            DiskFault { node, fault, until } => write!(f, "disk fault {fault:?} on {} until {until}", name(node)),
            DiskError { node, op } => write!(f, "disk {op:?} failed on {} (injected)", name(node)),
            DiskMisdirected { node } => write!(f, "disk write misdirected on {}", name(node)),
            DuplicateWindow { ratio_num, ratio_den, until } => {
                write!(f, "duplicate {ratio_num}/{ratio_den} of packets until {until}")
            }
            ReorderWindow { ratio_num, ratio_den, spread_nanos, until } => {
                write!(f, "reorder {ratio_num}/{ratio_den} of packets by up to {spread_nanos} ns until {until}")
            }
            CrashArmed { node, trigger, down_nanos } => write!(
                f,
                "{} will crash after its next {} (down {down_nanos} ns)",
                name(node),
                match trigger {
                    crate::fault::Trigger::Send => "send",
                    crate::fault::Trigger::Receive => "receive",
                }
            ),
            PrimariesCut { primaries, until } => write!(f, "cut {primaries} primary node(s) off until {until}"),
            PrimarySet { node, primary } => {
                write!(f, "{} is {}a primary", name(node), if primary { "" } else { "no longer " })
            }
            NodeExit { node } => write!(f, "{} exits with an error, to be restarted", name(node)),
        }
    }
}

/// The hash of an empty trace (FNV-1a's offset basis).
pub(crate) const HASH_START: u64 = 0xcbf2_9ce4_8422_2325;

/// Fold one word into the hash: FxHash's step (rotate, xor, multiply), fixed forever.
#[inline]
pub(crate) fn mix(hash: u64, word: u64) -> u64 {
    (hash.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95)
}

pub(crate) struct Trace {
    hash: u64,
    count: u64,
    /// The last `tail.len()` events, as a ring: the event `count` goes to `count % len`.
    tail: Vec<Event>,
    /// `count % tail.len()` (0 for an empty tail), kept by increment and wrap: a division per
    /// event was a visible share of a step.
    cursor: usize,
    full: Option<Vec<Event>>,
    /// Emit every event as a `tracing` debug event (target `seedsim`).
    log: bool,
    /// Behaviour feedback, when the run collects it (`Builder::feedback`).
    feedback: Option<Box<Collector>>,
    /// `full.is_some() || log || feedback.is_some()`: one branch on the hot path for every
    /// rare case, so a run without them pays for none.
    slow_path: bool,
}

impl Trace {
    pub(crate) fn new(tail_max: usize, record_full: bool) -> Trace {
        let blank = Event { at: Instant::ZERO, kind: EventKind::HealAll };
        Trace {
            hash: HASH_START,
            count: 0,
            tail: vec![blank; tail_max],
            cursor: 0,
            full: record_full.then(Vec::new),
            log: false,
            feedback: None,
            slow_path: record_full,
        }
    }

    pub(crate) fn set_log(&mut self, log: bool) {
        self.log = log;
        self.update_slow_path();
    }

    /// Collect behaviour feedback from now on (or stop, dropping what was collected).
    pub(crate) fn set_feedback(&mut self, on: bool) {
        if on != self.feedback.is_some() {
            self.feedback = on.then(|| Box::new(Collector::new()));
        }
        self.update_slow_path();
    }

    fn update_slow_path(&mut self) {
        self.slow_path = self.full.is_some() || self.log || self.feedback.is_some();
    }

    /// The run's feedback so far, with `coverage`'s part; empty when none is collected.
    pub(crate) fn feedback(&self, coverage: &Coverage) -> Feedback {
        self.feedback.as_ref().map_or_else(Feedback::default, |collector| collector.finish(coverage))
    }

    #[inline]
    pub(crate) fn record(&mut self, at: u64, kind: EventKind) {
        let mut hash = mix(self.hash, at);
        for word in kind.words() {
            hash = mix(hash, word);
        }
        self.hash = hash;
        let event = Event { at: Instant::from_nanos(at), kind };
        if let Some(slot) = self.tail.get_mut(self.cursor) {
            *slot = event;
            self.cursor += 1;
            if self.cursor == self.tail.len() {
                self.cursor = 0;
            }
        }
        self.count += 1;
        if self.slow_path {
            self.record_slow(event);
        }
    }

    #[cold]
    fn record_slow(&mut self, event: Event) {
        if let Some(collector) = &mut self.feedback {
            collector.observe(&event.kind);
        }
        if let Some(full) = &mut self.full {
            full.push(event);
        }
        if self.log {
            crate::log::emit_event(&event);
        }
    }

    pub(crate) fn hash(&self) -> u64 {
        self.hash
    }

    pub(crate) fn count(&self) -> u64 {
        self.count
    }

    /// The last events, oldest first.
    pub(crate) fn tail(&self) -> impl Iterator<Item = &Event> {
        let len = self.tail.len() as u64;
        let kept = self.count.min(len);
        (self.count - kept..self.count).map(move |index| &self.tail[(index % len) as usize])
    }

    pub(crate) fn take_full(&mut self) -> Option<Vec<Event>> {
        self.full.take()
    }
}

/// Write `events` to `path` as text, one described event a line (what `replay --trace` and
/// `SEEDSIM_TRACE` write).
pub(crate) fn write_text(path: &std::path::Path, events: &[Event], names: &[String]) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    for event in events {
        writeln!(out, "{}", event.describe(names))?;
    }
    out.flush()
}

/// The index of the first event where two traces differ (`None` if they are equal). If one
/// trace is a prefix of the other, the index is the shorter one's length.
///
/// ```
/// use seedsim::trace::{first_difference, Event, EventKind};
/// use seedsim::time::Instant;
/// let e = |t| Event { at: Instant::from_nanos(t), kind: EventKind::HealAll };
/// assert_eq!(first_difference(&[e(1), e(2)], &[e(1), e(3)]), Some(1));
/// assert_eq!(first_difference(&[e(1)], &[e(1)]), None);
/// ```
pub fn first_difference(a: &[Event], b: &[Event]) -> Option<usize> {
    match a.iter().zip(b).position(|(x, y)| x != y) {
        Some(index) => Some(index),
        None if a.len() != b.len() => Some(a.len().min(b.len())),
        None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_depends_on_order_and_content() {
        let a = EventKind::NodeCrash { node: NodeId(1) };
        let b = EventKind::NodeCrash { node: NodeId(2) };
        let run = |events: &[(u64, EventKind)]| {
            let mut trace = Trace::new(2, false);
            for (at, kind) in events {
                trace.record(*at, *kind);
            }
            trace.hash()
        };
        assert_eq!(run(&[(1, a), (2, b)]), run(&[(1, a), (2, b)]));
        assert_ne!(run(&[(1, a), (2, b)]), run(&[(1, b), (2, a)]));
        assert_ne!(run(&[(1, a)]), run(&[(2, a)]));
        // A pinned value: the hash function must never change, or old replay hashes lie.
        assert_eq!(run(&[(0, EventKind::HealAll)]), {
            let mut h = mix(HASH_START, 0);
            for w in [19, 0, 0, 0] {
                h = mix(h, w);
            }
            h
        });
    }

    #[test]
    fn tail_keeps_the_last_events() {
        let mut trace = Trace::new(3, false);
        trace.record(7, EventKind::HealAll);
        assert_eq!(trace.tail().map(|e| e.at.as_nanos()).collect::<Vec<_>>(), vec![7]);
        let mut trace = Trace::new(2, true);
        for at in 0..5 {
            trace.record(at, EventKind::HealAll);
        }
        let tail: Vec<u64> = trace.tail().map(|e| e.at.as_nanos()).collect();
        assert_eq!(tail, vec![3, 4]);
        assert_eq!(trace.count(), 5);
        assert_eq!(trace.take_full().unwrap().len(), 5);
    }
}
