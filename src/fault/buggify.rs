//! `buggify!`: fault points in user code, as FoundationDB's BUGGIFY.
//!
//! A site is a `buggify!()` call, known by its source location. In each run the seed enables
//! or disables each site (half of them, decided by a hash of the seed and the location, so the
//! choice does not depend on which site is reached first); an enabled site then fires with
//! its probability (a quarter by default) at each evaluation, drawn from a stream of its own.
//! Outside a simulation `buggify!()` is always false, so the fault points can stay in
//! production code.

use std::panic::Location;

use crate::context;
use crate::rand::Ratio;

/// What one `buggify!` site did in a run (or a sweep).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuggifySite {
    /// `file:line:column` of the call.
    pub location: String,
    /// Whether the seed enabled it.
    pub enabled: bool,
    /// Times it was evaluated.
    pub evaluated: u64,
    /// Times it returned true.
    pub fired: u64,
}

/// A fault point: false outside a simulation; in a run, true with probability `fire` if the
/// seed enabled this call site. [`buggify!`](crate::buggify) is the usual way in.
///
/// ```
/// use seedsim::{fault::buggify_with, Ratio};
/// assert!(!buggify_with(Ratio::ALWAYS), "never outside a simulation");
/// ```
#[track_caller]
pub fn buggify_with(fire: Ratio) -> bool {
    let location = Location::caller();
    context::with_current(|shared| shared.world.borrow_mut().buggify(location, fire)).unwrap_or(false)
}

/// A fault point in user code: `if buggify!() { /* misbehave */ }`.
///
/// False outside a simulation. In a run, each call site is enabled or not by the seed, and an
/// enabled site fires a quarter of the time (`buggify!(1 / 10)` sets another probability).
/// The run's coverage lists every site reached and how often it fired.
///
/// ```
/// use std::time::Duration;
/// let mut sim = seedsim::Sim::new(seedsim::Seed(3));
/// sim.client("c", async {
///     for _ in 0..100 {
///         if seedsim::buggify!() {
///             seedsim::time::sleep(Duration::from_millis(5)).await; // a slow path, sometimes
///         }
///     }
///     Ok::<(), std::io::Error>(())
/// })?;
/// let summary = sim.run().unwrap();
/// assert_eq!(summary.coverage.buggify.len(), 1);
/// assert_eq!(summary.coverage.buggify[0].evaluated, 100);
/// # Ok::<(), seedsim::Error>(())
/// ```
#[macro_export]
macro_rules! buggify {
    () => {
        $crate::fault::buggify_with($crate::Ratio::new(1, 4).unwrap_or($crate::Ratio::ALWAYS))
    };
    ($num:literal / $den:literal) => {
        $crate::fault::buggify_with($crate::Ratio::new($num, $den).unwrap_or($crate::Ratio::ALWAYS))
    };
}

/// Whether the seed enables the site at `location`: one bit of a fixed hash of both.
pub(crate) fn buggify_enabled(seed: u64, location: &Location<'_>) -> bool {
    let mut hash = crate::seed::splitmix64(seed ^ 0x6275_6767_6966_7921);
    for byte in location.file().bytes() {
        hash = crate::seed::splitmix64(hash ^ u64::from(byte));
    }
    hash = crate::seed::splitmix64(hash ^ (u64::from(location.line()) << 32 | u64::from(location.column())));
    hash & 1 == 1
}
