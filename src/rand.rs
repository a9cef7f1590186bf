//! Randomness: one ChaCha root per run, split into independent streams by purpose.
//!
//! The seed is the ChaCha key; each purpose (scheduler, network, faults, each node's own
//! [`rng()`]) reads its own ChaCha stream of that key, so an extra draw in the network does not
//! shift the scheduler's choices. ChaCha's output is specified and stable across platforms and
//! versions; nothing here uses floating point or the host's entropy.

use std::convert::Infallible;
use std::fmt;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

pub use rand::{Rng, RngExt};

use crate::context;
use crate::error::{Error, ErrorKind};
use crate::seed::Seed;

/// Stream ids below 2^32 are the simulator's own purposes; node streams start at 2^32.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Purpose {
    Scheduler = 1,
    Network = 2,
    /// The fault generator (nemesis, swarm choices).
    Faults = 3,
    /// Draws made by code that runs outside any node (test code between steps).
    World = 4,
    /// Stream faults: resets, partial reads and writes, refused connects, slow connections.
    StreamFaults = 5,
    /// `buggify!` sites: which are enabled, and when they fire.
    Buggify = 6,
    /// Swarm testing: which fault kinds a seed turns on.
    Swarm = 7,
    /// Simulated disks: operation latency, injected errors, torn writes in a crash.
    Disk = 8,
}

const NODE_STREAM_BASE: u64 = 1 << 32;

/// One independent deterministic random stream.
pub(crate) struct Stream {
    rng: ChaCha8Rng,
}

impl Stream {
    pub(crate) fn new(seed: Seed, stream: u64) -> Stream {
        let mut key = [0u8; 32];
        key[..8].copy_from_slice(&seed.0.to_le_bytes());
        let mut rng = ChaCha8Rng::from_seed(key);
        rng.set_stream(stream);
        Stream { rng }
    }

    pub(crate) fn for_purpose(seed: Seed, purpose: Purpose) -> Stream {
        Stream::new(seed, purpose as u64)
    }

    pub(crate) fn for_node(seed: Seed, node_index: u32) -> Stream {
        Stream::new(seed, NODE_STREAM_BASE + u64::from(node_index))
    }

    #[inline]
    pub(crate) fn next_u64(&mut self) -> u64 {
        rand::Rng::next_u64(&mut self.rng)
    }

    /// A uniform draw from `0..n` (`n > 0`) by multiply-and-shift: integer only, one draw, and
    /// a bias below 2^-32 for any `n` that fits a `u32`.
    #[inline]
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        assert!(n > 0, "Stream::below needs n > 0");
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// A uniform draw from `low..=high`.
    #[inline]
    pub(crate) fn between(&mut self, low: u64, high: u64) -> u64 {
        assert!(low <= high, "Stream::between needs low <= high: {low} > {high}");
        match (high - low).checked_add(1) {
            Some(span) => low + self.below(span),
            None => self.next_u64(),
        }
    }

    /// True with probability `ratio`. Draws nothing for the never and always ratios, so
    /// turning a fault off does not shift the stream of the draws around it... as long as it
    /// stays off for the whole run.
    #[inline]
    pub(crate) fn chance(&mut self, ratio: Ratio) -> bool {
        if ratio.num == 0 {
            return false;
        }
        if ratio.num >= ratio.den {
            return true;
        }
        self.below(u64::from(ratio.den)) < u64::from(ratio.num)
    }

    pub(crate) fn fill_bytes(&mut self, dst: &mut [u8]) {
        rand::Rng::fill_bytes(&mut self.rng, dst)
    }
}

/// A probability as an integer ratio `num / den`, so draws give the same answer on every
/// platform.
///
/// ```
/// use seedsim::Ratio;
/// let loss = Ratio::new(1, 100)?;
/// assert_eq!(loss, Ratio::percent(1)?);
/// assert!(Ratio::new(3, 2).is_err());
/// # Ok::<(), seedsim::Error>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ratio {
    num: u32,
    den: u32,
}

impl Ratio {
    /// Probability zero.
    pub const NEVER: Ratio = Ratio { num: 0, den: 1 };
    /// Probability one.
    pub const ALWAYS: Ratio = Ratio { num: 1, den: 1 };

    /// `num / den`.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidConfig`] if `den` is zero or `num > den`.
    pub fn new(num: u32, den: u32) -> Result<Ratio, Error> {
        if den == 0 || num > den {
            return Err(Error::new(
                ErrorKind::InvalidConfig { field: "Ratio", expected: "num / den with den > 0 and num <= den" },
                format!("{num}/{den}"),
            ));
        }
        Ok(Ratio { num, den })
    }

    /// `percent / 100`.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidConfig`] if `percent > 100`.
    pub fn percent(percent: u32) -> Result<Ratio, Error> {
        Ratio::new(percent, 100)
    }

    /// The numerator.
    pub fn num(self) -> u32 {
        self.num
    }

    /// The denominator.
    pub fn den(self) -> u32 {
        self.den
    }

    /// True if the ratio is zero.
    pub fn is_never(self) -> bool {
        self.num == 0
    }

    /// True if `self` is a higher probability than `other`.
    ///
    /// ```
    /// use seedsim::Ratio;
    /// assert!(Ratio::new(1, 3)?.exceeds(Ratio::percent(30)?));
    /// assert!(!Ratio::percent(30)?.exceeds(Ratio::new(3, 10)?));
    /// # Ok::<(), seedsim::Error>(())
    /// ```
    pub fn exceeds(self, other: Ratio) -> bool {
        u64::from(self.num) * u64::from(other.den) > u64::from(other.num) * u64::from(self.den)
    }
}

/// Never.
impl Default for Ratio {
    fn default() -> Ratio {
        Ratio::NEVER
    }
}

impl fmt::Debug for Ratio {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.num, self.den)
    }
}

impl fmt::Display for Ratio {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.num, self.den)
    }
}

/// The calling node's deterministic random generator.
///
/// Inside a node's task it reads that node's own stream, so one node's draws never change
/// another's. Code running in the simulation but outside any node (test code between steps)
/// reads a stream of its own. The handle is `Copy` and cheap: keep one or call `rng()` each
/// time.
///
/// It implements [`Rng`], so [`RngExt`]'s methods (`random`, `random_range`, ...) work on it.
/// Both traits are re-exported here, so node code needs no `rand` dependency of its own.
///
/// On the real backend (`seedsim::real`, feature `tokio`) it draws from rand's thread-local generator,
/// seeded from the operating system.
///
/// # Panics
/// Drawing from it outside a running simulation panics with a message that says so: node code
/// must not silently fall back to the host's entropy. (With the `tokio` feature, inside a
/// Tokio runtime it does draw from the host's entropy: that is the real backend.)
///
/// ```
/// use seedsim::rand::RngExt;
/// let mut sim = seedsim::Sim::new(seedsim::Seed(1));
/// sim.client("c", async {
///     let roll: u32 = seedsim::rand::rng().random_range(1..=6);
///     assert!((1..=6).contains(&roll));
///     Ok::<(), std::io::Error>(())
/// })?;
/// assert!(sim.run().is_passed());
/// # Ok::<(), seedsim::Error>(())
/// ```
pub fn rng() -> NodeRng {
    NodeRng { _private: () }
}

/// The handle [`rng()`] returns. See there.
#[derive(Clone, Copy)]
pub struct NodeRng {
    _private: (),
}

impl fmt::Debug for NodeRng {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NodeRng")
    }
}

impl NodeRng {
    fn with_stream<R>(&mut self, f: impl FnOnce(&mut Stream) -> R) -> Option<R> {
        context::with_current(|shared| f(shared.world.borrow_mut().current_stream()))
    }
}

/// Outside a simulation: the host's generator on the real backend.
#[cfg(feature = "tokio")]
#[track_caller]
fn host() -> rand::rngs::ThreadRng {
    if !crate::real::active() {
        no_simulation()
    }
    rand::rng()
}

/// Outside a simulation, without the real backend: the panic that says so.
#[cfg(not(feature = "tokio"))]
#[track_caller]
fn host() -> ChaCha8Rng {
    no_simulation()
}

#[track_caller]
fn no_simulation() -> ! {
    panic!("{}", Error::new(ErrorKind::NoSimulation, "seedsim::rand::rng()"))
}

impl rand::TryRng for NodeRng {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        Ok(self.with_stream(|s| s.next_u64() as u32).unwrap_or_else(|| host().next_u32()))
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        Ok(self.with_stream(|s| s.next_u64()).unwrap_or_else(|| host().next_u64()))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        if self.with_stream(|s| s.fill_bytes(dst)).is_none() {
            host().fill_bytes(dst);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_independent_and_repeatable() {
        let mut a = Stream::for_purpose(Seed(9), Purpose::Network);
        let mut b = Stream::for_purpose(Seed(9), Purpose::Network);
        let mut c = Stream::for_purpose(Seed(9), Purpose::Scheduler);
        let xs: Vec<u64> = (0..8).map(|_| a.next_u64()).collect();
        let ys: Vec<u64> = (0..8).map(|_| b.next_u64()).collect();
        let zs: Vec<u64> = (0..8).map(|_| c.next_u64()).collect();
        assert_eq!(xs, ys);
        assert_ne!(xs, zs);
    }

    #[test]
    fn below_stays_in_range_and_covers_it() {
        let mut s = Stream::for_purpose(Seed(1), Purpose::World);
        let mut seen = [0u32; 7];
        for _ in 0..7_000 {
            seen[s.below(7) as usize] += 1;
        }
        for count in seen {
            assert!((800..1200).contains(&count), "{seen:?}");
        }
        assert_eq!(s.between(5, 5), 5);
        let _ = s.between(0, u64::MAX);
    }

    #[test]
    fn chance_matches_its_ratio() {
        let mut s = Stream::for_purpose(Seed(2), Purpose::World);
        let r = Ratio::new(1, 4).unwrap();
        let hits = (0..40_000).filter(|_| s.chance(r)).count();
        assert!((9_400..10_600).contains(&hits), "{hits}");
        assert!(!s.chance(Ratio::NEVER));
        assert!(s.chance(Ratio::ALWAYS));
    }
}
