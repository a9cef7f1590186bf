//! Links: what the network does to a datagram between two nodes (latency, loss, duplication,
//! reordering), and the sparse per-pair state (partitions of the pair alone, clogs,
//! overrides, FIFO order). Partitions between sets are not per-pair state: `Links::route`
//! asks the `Cuts` of `net/cut.rs` about them.
//!
//! Pairs are stored only when something makes them differ from the default link or they have
//! traffic in flight, so a world of 1,000 nodes does not hold a million link objects: a record
//! that says nothing any more (no override, partition or clog, and its last arrival past) is
//! forgotten at the next sweep, which comes when the map has grown fourfold since the last, or
//! at once when a repair or heal-all leaves it so.

use std::collections::BTreeMap;
use std::ops::{Deref, DerefMut};
use std::time::Duration;

use super::cut::Cuts;
use crate::error::{Error, ErrorKind};
use crate::node::{Node, NodeId};
use crate::rand::{Ratio, Stream};
use crate::time::nanos;
use crate::trace::DropReason;

/// How long a datagram takes on a link. All sampling is integer arithmetic on the network's
/// random stream.
///
/// ```
/// use std::time::Duration;
/// use seedsim::net::Latency;
/// let ms = Duration::from_millis;
/// let lan = Latency::Uniform { min: ms(1), max: ms(2) };
/// let wan = Latency::LongTail { min: ms(20), median: ms(30), max: ms(2_000) };
/// let flaky = Latency::Bimodal { fast: ms(1), slow: ms(200), slow_ratio: seedsim::Ratio::percent(5)? };
/// # let _ = (lan, wan, flaky);
/// # Ok::<(), seedsim::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Latency {
    /// Always the same.
    Fixed(Duration),
    /// Uniform over `min..=max` (nanosecond resolution).
    Uniform {
        /// The shortest latency.
        min: Duration,
        /// The longest latency.
        max: Duration,
    },
    /// A power-law tail, like a real network's: half the datagrams take `min..median`, a
    /// quarter `median..3*median-2*min`, an eighth the next doubling, and so on, capped at
    /// `max`. (Each doubling of the excess over `min` halves its probability.)
    LongTail {
        /// The shortest latency.
        min: Duration,
        /// Half the datagrams are faster than this.
        median: Duration,
        /// No datagram is slower than this.
        max: Duration,
    },
    /// Usually `fast`, with probability `slow_ratio` `slow` (a congested path, a GC pause in
    /// a middlebox).
    Bimodal {
        /// The common latency.
        fast: Duration,
        /// The rare latency.
        slow: Duration,
        /// How often a datagram is slow.
        slow_ratio: Ratio,
    },
}

impl Latency {
    /// Draw one latency, in nanoseconds. A fixed latency, which draws nothing, is answered
    /// inline: every packet on a default-like link asks.
    #[inline]
    pub(crate) fn sample(&self, rng: &mut Stream) -> u64 {
        match *self {
            Latency::Fixed(latency) => nanos(latency),
            _ => self.sample_drawn(rng),
        }
    }

    fn sample_drawn(&self, rng: &mut Stream) -> u64 {
        match *self {
            Latency::Fixed(latency) => nanos(latency),
            Latency::Uniform { min, max } => rng.between(nanos(min), nanos(max)),
            Latency::LongTail { min, median, max } => {
                let (min, median, max) = (nanos(min), nanos(median), nanos(max));
                let unit = median - min;
                if unit == 0 {
                    return min;
                }
                // Geometric bucket: P(k) = 2^-(k+1), from the leading zeros of one draw.
                let k = rng.next_u64().leading_zeros().min(40);
                let bucket_start = unit.saturating_mul((1u64 << k) - 1);
                let within = rng.below(unit.saturating_mul(1u64 << k).max(1));
                min.saturating_add(bucket_start).saturating_add(within).min(max)
            }
            Latency::Bimodal { fast, slow, slow_ratio } => {
                if rng.chance(slow_ratio) {
                    nanos(slow)
                } else {
                    nanos(fast)
                }
            }
        }
    }

    pub(crate) fn validate(&self) -> Result<(), Error> {
        let bad = |expected: &'static str| {
            Err(Error::new(ErrorKind::InvalidConfig { field: "Latency", expected }, format!("{self:?}")))
        };
        match *self {
            Latency::Fixed(_) => Ok(()),
            Latency::Uniform { min, max } if min > max => bad("Uniform with min <= max"),
            Latency::LongTail { min, median, max } if !(min <= median && median <= max) => {
                bad("LongTail with min <= median <= max")
            }
            Latency::Bimodal { fast, slow, .. } if fast > slow => bad("Bimodal with fast <= slow"),
            _ => Ok(()),
        }
    }
}

/// What the network does to datagrams between two nodes, one direction.
///
/// Loss, duplication and reordering apply to datagrams; streams (a later layer) see loss as
/// delay. Set the default for every pair with [`Builder::link`](crate::Builder::link) and
/// override single pairs with [`Sim::set_link`](crate::Sim::set_link) or
/// [`world::set_link`](crate::world::set_link).
///
/// ```
/// use std::time::Duration;
/// use seedsim::{net::{Latency, Link}, Ratio};
/// let link = Link {
///     latency: Latency::Fixed(Duration::from_millis(1)),
///     loss: Ratio::percent(2)?,
///     duplicate: Ratio::new(1, 1000)?,
///     reorder: Ratio::percent(1)?,
/// };
/// # let _ = link;
/// # Ok::<(), seedsim::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Link {
    /// One-way delay.
    pub latency: Latency,
    /// Chance a datagram is lost.
    pub loss: Ratio,
    /// Chance a datagram is delivered twice (each copy with its own latency).
    pub duplicate: Ratio,
    /// Chance a datagram gives up its place in line: it is held back by one more latency
    /// draw, so datagrams sent after it can arrive first. Other datagrams between a pair
    /// arrive in the order they were sent.
    pub reorder: Ratio,
}

impl Default for Link {
    /// 1 to 10 ms uniform latency; no loss, duplication or reordering.
    fn default() -> Link {
        Link {
            latency: Latency::Uniform { min: Duration::from_millis(1), max: Duration::from_millis(10) },
            loss: Ratio::NEVER,
            duplicate: Ratio::NEVER,
            reorder: Ratio::NEVER,
        }
    }
}

impl Link {
    /// A perfect link with a fixed latency.
    pub fn fixed(latency: Duration) -> Link {
        Link { latency: Latency::Fixed(latency), ..Link::default() }
    }

    pub(crate) fn validate(&self) -> Result<(), Error> {
        self.latency.validate()
    }
}

/// Faults over every link for a window of true time: a loss burst, a latency spike, a
/// duplication window and a reordering window. Each ends at its `until` (ns); a window that
/// has ended changes nothing and draws nothing. `until_max`, the latest end, lets a packet
/// sent after every window skip them all with one comparison.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Windows {
    /// The latest `until` of the four.
    pub(crate) until_max: u64,
    /// At least this loss until this time.
    pub(crate) burst: (Ratio, u64),
    /// This much extra latency (ns) until this time.
    pub(crate) spike: (u64, u64),
    /// At least this duplication until this time.
    pub(crate) duplicate: (Ratio, u64),
    /// This share of packets held back by up to `spread` ns, until this time.
    pub(crate) reorder: Reorder,
}

/// A reordering window: a share of packets is held back by `1..=spread` ns and holds back no
/// packet after it, so later packets overtake it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Reorder {
    pub(crate) ratio: Ratio,
    pub(crate) spread: u64,
    pub(crate) until: u64,
}

impl Windows {
    pub(crate) const NONE: Windows = Windows {
        until_max: 0,
        burst: (Ratio::NEVER, 0),
        spike: (0, 0),
        duplicate: (Ratio::NEVER, 0),
        reorder: Reorder { ratio: Ratio::NEVER, spread: 0, until: 0 },
    };
}

/// A view of the network's links for one send: the per-pair state, the default link, the
/// network's random stream, and the fault windows over every link. Datagrams and stream
/// segments both go through [`Links::route`], so they see the same network.
pub(crate) struct Links<'a> {
    pub(crate) pairs: &'a mut Pairs,
    pub(crate) cuts: &'a Cuts,
    pub(crate) link_default: &'a Link,
    pub(crate) rng: &'a mut Stream,
    pub(crate) windows: &'a Windows,
}

/// The link's verdict on one packet.
pub(crate) enum Verdict {
    Dropped(DropReason),
    /// When it arrives, and when its duplicate does, if the link made one.
    Arrives(u64, Option<u64>),
}

impl Links<'_> {
    /// Decide the fate of a packet sent now from `from` to `to`, in this order: a partition
    /// (of the pair, or between sets) or isolation in the way; loss (the link's, or a burst's if higher); duplication (the
    /// link's, or a duplication window's if higher); then for each copy a latency draw (plus a
    /// spike), no earlier than the end of a clog, and either reordered (by the link: held back
    /// by one more draw; or by a reordering window: held back by up to its spread; holding back
    /// nothing either way) or kept behind the pair's previous arrival. `extra` nanoseconds are
    /// added last and hold back no other packet (a slow stream connection).
    #[inline(always)]
    pub(crate) fn route(&mut self, now: u64, nodes: &[Node], from: NodeId, to: NodeId, extra: u64) -> Verdict {
        let pair = self.pairs.touch(now, from, to);
        if from != to
            && (pair.blocked > 0
                || nodes[from.index()].isolated > 0
                || nodes[to.index()].isolated > 0
                || self.cuts.separates(from, to))
        {
            return Verdict::Dropped(DropReason::Partition);
        }
        let mut link = pair.link.as_deref().copied().unwrap_or(*self.link_default);
        let (mut extra_latency, mut reorder) = (0, None);
        let windows = self.windows;
        if now < windows.until_max {
            if now < windows.burst.1 && windows.burst.0.exceeds(link.loss) {
                link.loss = windows.burst.0;
            }
            if now < windows.duplicate.1 && windows.duplicate.0.exceeds(link.duplicate) {
                link.duplicate = windows.duplicate.0;
            }
            if now < windows.spike.1 {
                extra_latency = windows.spike.0;
            }
            if now < windows.reorder.until {
                reorder = Some(windows.reorder);
            }
        }
        if self.rng.chance(link.loss) {
            return Verdict::Dropped(DropReason::Loss);
        }
        let duplicate = self.rng.chance(link.duplicate);
        let first = arrival(pair, &link, reorder, self.rng, now, extra_latency, extra);
        let second =
            if duplicate { Some(arrival(pair, &link, reorder, self.rng, now, extra_latency, extra)) } else { None };
        Verdict::Arrives(first, second)
    }
}

/// When one copy of a packet sent at `now` arrives: a latency draw (plus a spike's
/// `extra_latency`), no earlier than the end of a clog, then either reordered (by the link or
/// by a reordering window) or kept behind the pair's previous arrival, then `extra`.
#[inline(always)]
fn arrival(
    pair: &mut Pair,
    link: &Link,
    reorder: Option<Reorder>,
    rng: &mut Stream,
    now: u64,
    extra_latency: u64,
    extra: u64,
) -> u64 {
    let mut at = now.saturating_add(link.latency.sample(rng)).saturating_add(extra_latency);
    at = at.max(pair.clogged_until);
    if rng.chance(link.reorder) {
        // Held back by another latency draw, and not holding back the packets after it.
        at = at.saturating_add(link.latency.sample(rng).max(1));
    } else if let Some(window) = reorder.filter(|window| rng.chance(window.ratio)) {
        // Held back by up to the window's spread, from where it would have arrived in line.
        at = at.max(pair.last_arrival).saturating_add(1 + rng.below(window.spread.max(1)));
    } else {
        at = at.max(pair.last_arrival);
        pair.last_arrival = at;
    }
    let at = at.saturating_add(extra);
    assert!(at >= now, "arrival {at} before send {now}");
    at
}

/// The state of one directed pair of nodes.
#[derive(Clone, Debug, Default)]
pub(crate) struct Pair {
    /// An override of the default link, boxed: overrides are rare, and a small `Pair` keeps
    /// the map's nodes small (they are moved on every insert and remove).
    pub(crate) link: Option<Box<Link>>,
    /// How many partitions of this pair alone cut this direction and are not yet repaired
    /// (partitions between sets are counted by the `Cuts` holding the pair): nothing crosses
    /// while any is. Counted, so overlapping faults compose: the repair of a short partition
    /// does not end a longer one that also cuts this pair.
    pub(crate) blocked: u32,
    /// Clogged until this true time (ns): datagrams sent before it arrive after it.
    pub(crate) clogged_until: u64,
    /// When the last in-order datagram arrives, so the next one does not overtake it.
    pub(crate) last_arrival: u64,
}

impl Pair {
    /// True if forgetting this record changes nothing a packet sent at `now` or later sees:
    /// no override, partition or clog, and every in-order arrival it holds back by is past
    /// (a later packet arrives at `now` or after, so `max` with the past is a no-op).
    pub(crate) fn is_idle(&self, now: u64) -> bool {
        self.link.is_none() && self.blocked == 0 && self.clogged_until <= now && self.last_arrival <= now
    }
}

/// Records a sweep is never made for: small worlds keep every pair they used.
const PAIRS_SWEEP_MIN: usize = 1_024;

/// The stored pairs by (from, to), pruned of idle records so the map holds only the pairs that
/// differ from the default link or have traffic in flight, however many pairs ever talked.
/// Derefs to the map for the fault operations.
pub(crate) struct Pairs {
    map: BTreeMap<(NodeId, NodeId), Pair>,
    /// Sweep the idle records once the map holds this many.
    sweep_at: usize,
}

impl Default for Pairs {
    fn default() -> Pairs {
        Pairs { map: BTreeMap::new(), sweep_at: PAIRS_SWEEP_MIN }
    }
}

impl Pairs {
    /// The record of the pair `(from, to)`, made if there is none. If the map has grown
    /// fourfold since the last sweep, the idle records go first: a sweep visits fewer records
    /// than were inserted since the last one, so a send pays a constant share of it.
    #[inline(always)]
    pub(crate) fn touch(&mut self, now: u64, from: NodeId, to: NodeId) -> &mut Pair {
        if self.map.len() >= self.sweep_at {
            self.sweep(now);
        }
        self.map.entry((from, to)).or_default()
    }

    #[cold]
    fn sweep(&mut self, now: u64) {
        self.map.retain(|_, pair| !pair.is_idle(now));
        self.sweep_at = (4 * self.map.len()).max(PAIRS_SWEEP_MIN);
    }
}

impl Deref for Pairs {
    type Target = BTreeMap<(NodeId, NodeId), Pair>;

    fn deref(&self) -> &Self::Target {
        &self.map
    }
}

impl DerefMut for Pairs {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.map
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rand::Purpose;
    use crate::seed::Seed;

    fn rng() -> Stream {
        Stream::for_purpose(Seed(11), Purpose::Network)
    }

    #[test]
    fn uniform_stays_in_bounds() {
        let mut rng = rng();
        let latency = Latency::Uniform { min: Duration::from_nanos(10), max: Duration::from_nanos(20) };
        for _ in 0..1_000 {
            assert!((10..=20).contains(&latency.sample(&mut rng)));
        }
    }

    #[test]
    fn long_tail_has_its_median_and_a_tail() {
        let mut rng = rng();
        let ms = Duration::from_millis;
        let latency = Latency::LongTail { min: ms(10), median: ms(20), max: ms(10_000) };
        let mut samples: Vec<u64> = (0..20_000).map(|_| latency.sample(&mut rng)).collect();
        samples.sort_unstable();
        let median = samples[samples.len() / 2];
        assert!((19_000_000..=21_000_000).contains(&median), "median {median}");
        let p99 = samples[samples.len() * 99 / 100];
        assert!(p99 > 500_000_000, "p99 {p99}: no tail");
        assert!(*samples.last().unwrap() <= 10_000_000_000);
        assert!(samples[0] >= 10_000_000);
    }

    #[test]
    fn bimodal_hits_its_ratio() {
        let mut rng = rng();
        let latency = Latency::Bimodal {
            fast: Duration::from_nanos(1),
            slow: Duration::from_nanos(100),
            slow_ratio: Ratio::percent(10).unwrap(),
        };
        let slow = (0..10_000).filter(|_| latency.sample(&mut rng) == 100).count();
        assert!((850..1150).contains(&slow), "{slow}");
    }

    #[test]
    fn bad_latencies_are_rejected() {
        let ms = Duration::from_millis;
        assert!(Latency::Uniform { min: ms(2), max: ms(1) }.validate().is_err());
        assert!(Latency::LongTail { min: ms(1), median: ms(5), max: ms(4) }.validate().is_err());
        assert!(Latency::Fixed(ms(1)).validate().is_ok());
    }
}
