//! `assert_always!` and `assert_sometimes!`: assertions that know how often they held.
//!
//! An `always` assertion fails the run the first time it is false. A `sometimes` assertion
//! never fails a run; it records whether it ever held, and a run (or a whole sweep) reports the
//! ones that never did: a state the tests never reach is a state they never test. Outside a
//! simulation `assert_always!` is a plain `assert!` and `assert_sometimes!` does nothing.
//!
//! Assertions are known from the moment they are first evaluated: one that is never reached
//! is not listed (its absence from the coverage is the sign).

use std::fmt;
use std::panic::Location;

use crate::context;
use crate::sim::outcome::Cause;

/// Which macro an [`Assertion`] comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum AssertionKind {
    /// `assert_always!`: must hold every time.
    Always,
    /// `assert_sometimes!`: should hold at least once.
    Sometimes,
}

/// How often one assertion was evaluated and held in a run (or a sweep).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Assertion {
    /// The name given to the macro.
    pub name: String,
    /// Which macro.
    pub kind: AssertionKind,
    /// `file:line` of its first evaluation.
    pub location: String,
    /// Times it was evaluated.
    pub evaluated: u64,
    /// Times it held.
    pub held: u64,
}

/// What the assertions and `buggify!` sites of a run (or a sweep) did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Coverage {
    /// Every assertion evaluated, by name.
    pub assertions: Vec<Assertion>,
    /// Every `buggify!` site reached, by location.
    pub buggify: Vec<crate::fault::BuggifySite>,
}

impl Coverage {
    /// The `sometimes` assertions that never held: states the run never reached.
    pub fn never_held(&self) -> Vec<&Assertion> {
        self.assertions.iter().filter(|a| a.kind == AssertionKind::Sometimes && a.held == 0).collect()
    }

    /// Add another run's coverage to this one (for a sweep of many seeds).
    pub fn absorb(&mut self, other: &Coverage) {
        for assertion in &other.assertions {
            match self.assertions.iter_mut().find(|a| a.name == assertion.name) {
                Some(mine) => {
                    mine.evaluated += assertion.evaluated;
                    mine.held += assertion.held;
                }
                None => self.assertions.push(assertion.clone()),
            }
        }
        self.assertions.sort_by(|a, b| a.name.cmp(&b.name));
        for site in &other.buggify {
            match self.buggify.iter_mut().find(|s| s.location == site.location) {
                Some(mine) => {
                    mine.enabled |= site.enabled;
                    mine.evaluated += site.evaluated;
                    mine.fired += site.fired;
                }
                None => self.buggify.push(site.clone()),
            }
        }
        self.buggify.sort_by(|a, b| a.location.cmp(&b.location));
    }
}

impl fmt::Display for Coverage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for a in &self.assertions {
            let kind = match a.kind {
                AssertionKind::Always => "always",
                AssertionKind::Sometimes => "sometimes",
            };
            let flag = if a.kind == AssertionKind::Sometimes && a.held == 0 { "  NEVER HELD" } else { "" };
            writeln!(
                f,
                "  {kind:<9} {:<32} held {:>8} of {:>8}  at {}{flag}",
                a.name, a.held, a.evaluated, a.location
            )?;
        }
        for site in &self.buggify {
            let state = if site.enabled { "enabled" } else { "disabled" };
            writeln!(f, "  buggify   {:<32} {state}, fired {} of {}", site.location, site.fired, site.evaluated)?;
        }
        Ok(())
    }
}

/// Record one evaluation of an assertion. Called by the macros; returns `cond`.
#[doc(hidden)]
#[track_caller]
pub fn record(kind: AssertionKind, name: &'static str, cond: bool) -> bool {
    let location = Location::caller();
    let in_simulation = context::with_current(|shared| {
        let mut world = shared.world.borrow_mut();
        world.record_assertion(kind, name, location, cond);
        if kind == AssertionKind::Always && !cond {
            world.fail(Cause::Assertion {
                name: name.to_owned(),
                location: format!("{}:{}:{}", location.file(), location.line(), location.column()),
            });
        }
    });
    if in_simulation.is_none() && kind == AssertionKind::Always && !cond {
        panic!("assert_always!({name:?}) failed at {location}");
    }
    cond
}

/// Fail the run if `cond` is false, and count how often it held.
///
/// Inside a simulation a violation fails the run with `Cause::Assertion` (the report names the
/// assertion and where it is), and the task stops by panicking. Outside one it is `assert!`.
///
/// ```
/// let mut sim = seedsim::Sim::new(seedsim::Seed(1));
/// sim.client("c", async {
///     let balance = 10;
///     seedsim::assert_always!(balance >= 0, "balance never negative");
///     Ok::<(), std::io::Error>(())
/// })?;
/// let summary = sim.run().unwrap();
/// assert_eq!(summary.coverage.assertions[0].held, 1);
/// # Ok::<(), seedsim::Error>(())
/// ```
#[macro_export]
macro_rules! assert_always {
    ($cond:expr, $name:literal $(,)?) => {
        if !$crate::check::assertions::record($crate::check::AssertionKind::Always, $name, $cond) {
            ::core::panic!("assert_always!({:?}) failed", $name);
        }
    };
}

/// Record whether `cond` held; the coverage report lists `sometimes` assertions that never
/// did. Never fails a run.
///
/// ```
/// let mut sim = seedsim::Sim::new(seedsim::Seed(1));
/// sim.client("c", async {
///     let leader_changed = false;
///     seedsim::assert_sometimes!(leader_changed, "a leader was replaced");
///     Ok::<(), std::io::Error>(())
/// })?;
/// let summary = sim.run().unwrap();
/// let missed: Vec<&str> = summary.coverage.never_held().iter().map(|a| a.name.as_str()).collect();
/// assert_eq!(missed, ["a leader was replaced"]);
/// # Ok::<(), seedsim::Error>(())
/// ```
#[macro_export]
macro_rules! assert_sometimes {
    ($cond:expr, $name:literal $(,)?) => {
        $crate::check::assertions::record($crate::check::AssertionKind::Sometimes, $name, $cond);
    };
}
