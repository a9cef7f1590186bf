//! Behaviour feedback: a compact, hashed record of what a run did, for guided exploration.
//!
//! With [`Builder::feedback`](crate::Builder::feedback) on, the trace hands every event to a
//! `Collector` on its slow path (the one a full trace or a log already takes), so with
//! feedback off the hot path pays nothing: not a branch more. The collector keeps, per node,
//! the class of that node's previous event, and counts each (previous class, class) pair — a
//! node's event-kind bigram — in a fixed map of byte counters, as AFL counts the edges of a
//! program. A fault that hits a node is such an event, so the pair names the fault together
//! with the state the node was in (it had just sent a message of some size, had just been
//! restarted, had a stream reset). Classes carry what the event's kind leaves out: a
//! datagram's size class, the reason for a drop or a reset, the operation of a disk error, a
//! restart's incarnation.
//!
//! When the run ends, each counter becomes one feature per AFL hit-count bucket (1, 2, 3,
//! 4–7, 8–15, 16–31, 32–127, 128 and more), and the run's coverage adds features for every
//! assertion reached, held and failed, and every `buggify!` site fired (each bucketed by
//! count). The result, [`Feedback`], is a sorted set of small integers; a guide compares it
//! with what earlier runs reached. Nothing here allocates per event (a node's first event
//! grows a small vector once), formats, reads the host clock or depends on addresses: the
//! same seed gives the same feedback in every process.

use std::cell::RefCell;

use crate::check::{AssertionKind, Coverage};
use crate::node::NodeId;
use crate::trace::EventKind;

/// Bits of a counter's index in the map: 65,536 counters, 64 KiB.
const MAP_BITS: u32 = 16;
const MAP_SIZE: usize = 1 << MAP_BITS;
/// Bits of the hit-count bucket in a feature.
const BUCKET_BITS: u32 = 3;
/// Features of assertions and `buggify!` sites are at and above this; the events' below.
const MARKED: u32 = 1 << (MAP_BITS + BUCKET_BITS);

/// What a run reached: a sorted set of features, each below [`Feedback::SPACE`].
///
/// A feature is a hashed fact about the run with a coarse count: "some node sent a
/// 64-byte-class datagram and then crashed, 4 to 7 times", "the `sometimes` assertion
/// `leader elected` held 8 to 15 times". Runs that reach the same behaviour reach the same
/// features; a run that reaches a feature no earlier run did did something new. Empty when
/// the run collected none ([`Builder::feedback`](crate::Builder::feedback) off).
///
/// ```
/// use seedsim::{time::sleep, Seed, Sim};
/// let run = || {
///     let mut sim = Sim::builder().seed(Seed(5)).feedback(true).build()?;
///     sim.client("c", async {
///         sleep(std::time::Duration::from_millis(5)).await;
///         seedsim::assert_sometimes!(true, "woke up");
///         Ok::<(), std::io::Error>(())
///     })?;
///     Ok::<_, seedsim::Error>(sim.run().unwrap().feedback)
/// };
/// let feedback = run()?;
/// assert!(!feedback.is_empty());
/// assert_eq!(feedback, run()?, "the same seed reaches the same features");
/// # Ok::<(), seedsim::Error>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Feedback {
    features: Vec<u32>,
}

impl Feedback {
    /// Every feature is below this: a set of features fits a bitmap of this many bits.
    pub const SPACE: u32 = 2 << (MAP_BITS + BUCKET_BITS);

    /// True for a feature of a point the user marked — an assertion reached, held or failed, a
    /// `buggify!` site fired — and false for one of the events' bigrams. A guide weighs the
    /// first kind more: the user put them where the states worth reaching are.
    pub fn is_marked(feature: u32) -> bool {
        feature >= MARKED
    }

    /// The features, in increasing order, without repeats.
    pub fn features(&self) -> &[u32] {
        &self.features
    }

    /// How many features.
    pub fn len(&self) -> usize {
        self.features.len()
    }

    /// True if the run reached no feature (or collected none).
    pub fn is_empty(&self) -> bool {
        self.features.is_empty()
    }
}

/// The in-run side: counters, and each node's previous event class.
pub(crate) struct Collector {
    /// A byte counter per map index, saturating.
    hits: Box<[u8]>,
    /// The indices whose counter is not zero, in the order first hit: the end of a run reads
    /// these instead of scanning the whole map.
    touched: Vec<u16>,
    /// The class of each node's previous event (0 before its first), by node index.
    last: Vec<u16>,
    /// The same for events that belong to no node (loss bursts, drops, recovers).
    last_world: u16,
}

/// What [`class`] found: an event's class and the node(s) whose history it extends.
struct Class {
    code: u16,
    node: Option<NodeId>,
    /// A second node (the receiving end of a partition or clog).
    other: Option<NodeId>,
}

thread_local! {
    /// A cleared map left by the last collector of this thread: zeroing 64 KiB for every run
    /// would cost a short run more than its events do.
    static SPARE: RefCell<Option<Box<[u8]>>> = const { RefCell::new(None) };
}

impl Collector {
    pub(crate) fn new() -> Collector {
        let spare = SPARE.try_with(|spare| spare.borrow_mut().take()).ok().flatten();
        let hits = spare.unwrap_or_else(|| vec![0; MAP_SIZE].into_boxed_slice());
        debug_assert!(hits.iter().all(|&count| count == 0), "a spare map is handed on cleared");
        Collector { hits, touched: Vec::new(), last: Vec::new(), last_world: 0 }
    }

    /// Count one event.
    #[inline]
    pub(crate) fn observe(&mut self, kind: &EventKind) {
        let Some(class) = class(kind) else { return };
        match class.node {
            None => {
                let previous = std::mem::replace(&mut self.last_world, class.code);
                self.hit(pair(previous, class.code));
            }
            Some(node) => {
                self.step(node, class.code);
                if let Some(other) = class.other {
                    self.step(other, class.code);
                }
            }
        }
    }

    fn step(&mut self, node: NodeId, code: u16) {
        let index = node.index();
        if index >= self.last.len() {
            // Once per node, not per event.
            self.last.resize(index + 1, 0);
        }
        let previous = std::mem::replace(&mut self.last[index], code);
        self.hit(pair(previous, code));
    }

    fn hit(&mut self, index: u16) {
        let counter = &mut self.hits[usize::from(index)];
        if *counter == 0 {
            self.touched.push(index);
        }
        *counter = counter.saturating_add(1);
    }

    /// The run's features: the map's counters, bucketed, and `coverage`'s assertions and
    /// `buggify!` sites.
    pub(crate) fn finish(&self, coverage: &Coverage) -> Feedback {
        let mut features: Vec<u32> =
            self.touched.iter().map(|&index| feature(index, u64::from(self.hits[usize::from(index)]))).collect();
        let marked = |key: u64, count: u64| MARKED | feature(index_of(key), count);
        for assertion in &coverage.assertions {
            let kind = match assertion.kind {
                AssertionKind::Always => 1,
                AssertionKind::Sometimes => 2,
            };
            let name = text_hash(&assertion.name) ^ kind;
            features.push(marked(name, assertion.evaluated));
            if assertion.held > 0 {
                features.push(marked(name ^ 0x100, assertion.held));
            }
            if assertion.held < assertion.evaluated {
                features.push(marked(name ^ 0x200, assertion.evaluated - assertion.held));
            }
        }
        for site in coverage.buggify.iter().filter(|site| site.fired > 0) {
            features.push(marked(text_hash(&site.location) ^ 0x300, site.fired));
        }
        features.sort_unstable();
        features.dedup();
        Feedback { features }
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        // Clear only what was touched, and leave the map for the thread's next run.
        for &index in &self.touched {
            self.hits[usize::from(index)] = 0;
        }
        let hits = std::mem::take(&mut self.hits);
        let _ = SPARE.try_with(|spare| *spare.borrow_mut() = Some(hits));
    }
}

/// The map index of a bigram: a multiplicative hash of the two classes.
#[inline]
fn pair(previous: u16, code: u16) -> u16 {
    index_of(u64::from(previous) << 16 | u64::from(code))
}

fn index_of(key: u64) -> u16 {
    (key.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> (64 - MAP_BITS)) as u16
}

/// AFL's hit-count buckets: 1, 2, 3, 4–7, 8–15, 16–31, 32–127, 128 and more.
fn bucket(count: u64) -> u32 {
    match count {
        0 => unreachable!("a feature is only made for a count above zero"),
        1 => 0,
        2 => 1,
        3 => 2,
        4..=7 => 3,
        8..=15 => 4,
        16..=31 => 5,
        32..=127 => 6,
        _ => 7,
    }
}

fn feature(index: u16, count: u64) -> u32 {
    u32::from(index) << BUCKET_BITS | bucket(count)
}

/// FNV-1a over the bytes, finished with SplitMix64: names of assertions and sites.
fn text_hash(text: &str) -> u64 {
    let hash = text
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325u64, |hash, byte| (hash ^ u64::from(byte)).wrapping_mul(0x100_0000_01b3));
    crate::seed::splitmix64(hash)
}

/// A code for an event kind this file does not name: a fixed hash of its discriminant, in
/// the tags from 128 on (the trace's own tags are below). Fixed for a build, whatever the
/// process: a discriminant hashes as its integer value.
fn kind_code(kind: &EventKind) -> u16 {
    struct Fnv(u64);
    impl std::hash::Hasher for Fnv {
        fn finish(&self) -> u64 {
            self.0
        }
        fn write(&mut self, bytes: &[u8]) {
            for &byte in bytes {
                self.0 = (self.0 ^ u64::from(byte)).wrapping_mul(0x100_0000_01b3);
            }
        }
    }
    let mut hasher = Fnv(0xcbf2_9ce4_8422_2325);
    std::hash::Hash::hash(&std::mem::discriminant(kind), &mut hasher);
    128 + (std::hash::Hasher::finish(&hasher) % 3968) as u16
}

/// The size class of a payload: 0 for empty, else 1 + floor(log2(bytes)), at most 15.
fn size_class(bytes: u32) -> u16 {
    (u32::BITS - bytes.leading_zeros()).min(15) as u16
}

/// An event's class (its kind's tag times 16, plus a detail below 16) and the node whose
/// history it extends; `None` for scheduling noise (polls, task ends) and for what the
/// coverage already counts (`buggify!` firings).
fn class(kind: &EventKind) -> Option<Class> {
    use EventKind::*;
    let one =
        |tag: u16, detail: u16, node: NodeId| Some(Class { code: tag << 4 | detail, node: Some(node), other: None });
    let two = |tag: u16, from: NodeId, to: NodeId| Some(Class { code: tag << 4, node: Some(from), other: Some(to) });
    let world = |tag: u16, detail: u16| Some(Class { code: tag << 4 | detail, node: None, other: None });
    match *kind {
        Poll { .. } | TaskDone { .. } | TaskCancel { .. } | Buggify { .. } => None,
        NodeStart { node, incarnation } => one(1, incarnation.min(3) as u16, node),
        NodeCrash { node } => one(2, 0, node),
        NodePause { node } => one(3, 0, node),
        NodeResume { node } => one(4, 0, node),
        Spawn { node, .. } => one(5, 0, node),
        Send { from, bytes, .. } => one(9, size_class(bytes), from),
        Deliver { to, .. } => one(11, 0, to),
        Drop { reason, .. } => world(12, reason as u16),
        Partition { from, to } => two(13, from, to),
        Repair { from, to } => two(14, from, to),
        Isolate { node } => one(15, 0, node),
        Rejoin { node } => one(16, 0, node),
        Clog { from, to, .. } => two(17, from, to),
        LinkSet { from, to } => two(18, from, to),
        Skew { node, offset_nanos, .. } => one(20, u16::from(offset_nanos < 0), node),
        StreamConnect { from, .. } => one(64, 0, from),
        StreamAccept { node, .. } => one(65, 0, node),
        StreamOpen { node, .. } => one(66, 0, node),
        StreamShutdown { node, .. } => one(67, 0, node),
        StreamReset { node, reason, .. } => one(68, reason as u16, node),
        SegmentSend { from, kind, retransmit, .. } => one(69, kind as u16 | u16::from(retransmit) << 3, from),
        SegmentDeliver { to, .. } => one(71, 0, to),
        SegmentDrop { reason, .. } => world(72, reason as u16),
        StreamPartial { node, write, .. } => one(73, u16::from(write), node),
        ClockJump { node, by_nanos } => one(40, u16::from(by_nanos < 0), node),
        DiskCrash { node, blocks_kept, blocks_lost, blocks_corrupted } => one(
            45,
            u16::from(blocks_kept > 0) | u16::from(blocks_lost > 0) << 1 | u16::from(blocks_corrupted > 0) << 2,
            node,
        ),
        DiskFault { node, fault, .. } => one(46, fault as u16, node),
        DiskError { node, op } => one(47, op as u16, node),
        DiskMisdirected { node } => one(48, 0, node),
        // Everything else (heal-all, recover, loss bursts, duplicates, and kinds added later)
        // by its kind alone, in the world's history.
        ref other => world(kind_code(other), 0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_follow_afl() {
        let buckets: Vec<u32> = [1, 2, 3, 4, 7, 8, 15, 16, 31, 32, 127, 128, 1000].map(bucket).to_vec();
        assert_eq!(buckets, [0, 1, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7]);
        assert_eq!(size_class(0), 0);
        assert_eq!(size_class(1), 1);
        assert_eq!(size_class(64), 7);
        assert_eq!(size_class(u32::MAX), 15);
    }

    #[test]
    fn a_bigram_counts_per_node_and_buckets_at_the_end() {
        let mut collector = Collector::new();
        let send = EventKind::Send { datagram: 0, from: NodeId(1), from_port: 1, to: NodeId(2), to_port: 2, bytes: 64 };
        for _ in 0..5 {
            collector.observe(&send);
        }
        collector.observe(&EventKind::Poll { task: crate::task::TaskId(1), node: NodeId(1) });
        let features = collector.finish(&Coverage::default());
        // (none → send) once, (send → send) four times: two features.
        assert_eq!(features.len(), 2);
        let buckets: Vec<u32> = features.features().iter().map(|f| f & 7).collect();
        assert!(buckets.contains(&0) && buckets.contains(&3), "{buckets:?}");
        assert!(features.features().iter().all(|&f| f < Feedback::SPACE));
    }
}
