//! Mutation of fault plans, for guided exploration: small, seeded changes to a plan that
//! reached new behaviour, so the runs near it get tried.
//!
//! A [`Mutator`] removes a fault, shifts it in time, stretches or shrinks how long it lasts,
//! duplicates it at another time, replaces it with a fault of another plan ("another shape":
//! the nemesis's plan for another seed, say), splices in another plan's faults over a stretch
//! of time, or crosses two plans over at an instant. It knows no fault kind by name: it works
//! on *units*, found with [`Fault::nodes`] and [`Fault::duration_mut`] alone. A fault that
//! lasts by itself (a bounce, a clog, a burst) is a unit of one; a fault that names nodes and
//! has no duration is paired with the next such fault naming the same nodes — a partition
//! with its repair, a pause with its resume — and the pair moves together. A pairing that
//! guesses wrong (a clock jump taken for the end of a pause) only moves two faults together:
//! the plan stays valid, which is all a mutation promises.
//!
//! Valid means: a plan that ended with `recover` still ends with that `recover` at the same
//! time, and every other fault is timed before it (a plan without a final `recover` keeps its
//! faults within its last fault's time); node names are only ever copied from the plans given,
//! so a plan of the scenario stays a plan of the scenario; and no more servers are down
//! (crashed or paused) at once than in the plans it came from, or one. Every draw comes from
//! the mutator's own seeded stream: the same seed and plans give the same mutations.

use std::time::Duration;

use super::{Fault, FaultPlan, TimedFault};
use crate::rand::{Ratio, Stream};
use crate::seed::Seed;
use crate::time::nanos;

/// The stream a mutator draws from (keyed by its own seed, not a run's).
const MUTATOR_STREAM: u64 = 1 << 48 | 1;

/// Attempts [`Mutator::mutate`] makes before it gives up on a plan.
const ATTEMPTS_MAX: usize = 16;

/// A way a [`Mutator`] changes a plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Mutation {
    /// One fault (with its undo) goes.
    Remove,
    /// One fault (with its undo) moves in time: a little, or anywhere in the plan.
    Shift,
    /// One fault lasts a quarter to four times as long (its duration, or the time to its undo).
    Stretch,
    /// One fault (with its undo) happens a second time, at another time.
    Duplicate,
    /// One fault (with its undo) is replaced by one of the donor plan's, at the same time.
    Replace,
    /// The faults in a stretch of time are replaced by the donor plan's faults of that stretch.
    Splice,
    /// The faults before an instant are kept, and the donor plan's after it are taken.
    Crossover,
}

impl Mutation {
    /// Every mutation, in the order [`Mutator::mutate`] draws from.
    pub const ALL: [Mutation; 7] = [
        Mutation::Remove,
        Mutation::Shift,
        Mutation::Stretch,
        Mutation::Duplicate,
        Mutation::Replace,
        Mutation::Splice,
        Mutation::Crossover,
    ];

    /// True for the mutations that take a donor plan.
    pub fn needs_donor(self) -> bool {
        matches!(self, Mutation::Replace | Mutation::Splice | Mutation::Crossover)
    }

    /// A short name for reports: `remove`, `shift`, ...
    pub fn name(self) -> &'static str {
        match self {
            Mutation::Remove => "remove",
            Mutation::Shift => "shift",
            Mutation::Stretch => "stretch",
            Mutation::Duplicate => "duplicate",
            Mutation::Replace => "replace",
            Mutation::Splice => "splice",
            Mutation::Crossover => "crossover",
        }
    }
}

/// Changes fault plans, deterministically from a seed.
///
/// ```
/// use seedsim::fault::{Fault, FaultPlan, Mutation, Mutator};
/// use seedsim::Seed;
///
/// let plan: FaultPlan = "1s partition a | b,c\n3s repair a | b,c\n4s bounce b 500ms\n10s recover".parse()?;
/// let donor: FaultPlan = "2s clog a c 2s\n6s pause c\n7s resume c\n10s recover".parse()?;
/// let mut mutator = Mutator::new(Seed(7));
/// for _ in 0..100 {
///     let (child, mutation) = mutator.mutate(&plan, Some(&donor)).expect("this plan has faults to change");
///     // Still a plan of the same run: it ends with the same recover, and parses back.
///     assert_eq!(child.faults().last(), plan.faults().last(), "{mutation:?}\n{child}");
///     assert_eq!(child.to_string().parse::<FaultPlan>()?, child);
/// }
/// # Ok::<(), seedsim::Error>(())
/// ```
pub struct Mutator {
    rng: Stream,
}

impl std::fmt::Debug for Mutator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mutator").finish_non_exhaustive()
    }
}

/// A plan taken apart: its faults before the final `recover` (if any), and the window they
/// must stay in.
struct Parts {
    body: Vec<TimedFault>,
    /// The final `recover`, kept as it was.
    anchor: Option<TimedFault>,
    /// Faults of the body are timed at most this (before the anchor, when there is one).
    latest: Duration,
}

impl Parts {
    fn of(plan: &FaultPlan) -> Parts {
        let mut body = plan.faults().to_vec();
        let anchor = match body.last() {
            Some(last) if last.fault == Fault::Recover => body.pop(),
            _ => None,
        };
        let latest = match &anchor {
            Some(anchor) => anchor.at.saturating_sub(Duration::from_nanos(1)),
            None => plan.end(),
        };
        Parts { body, anchor, latest }
    }

    /// The plan again, with `body` sorted by time (stably) and each time clamped to the window.
    fn assemble(&self, body: Vec<TimedFault>) -> FaultPlan {
        let mut plan = FaultPlan::new();
        let mut body = body;
        body.sort_by_key(|timed| timed.at);
        for timed in body {
            plan.push(timed.at.min(self.latest), timed.fault);
        }
        if let Some(anchor) = &self.anchor {
            plan.push(anchor.at, anchor.fault.clone());
        }
        plan
    }
}

/// A fault and, when it has one, the later fault that undoes it: indices into a body.
#[derive(Clone, Copy, Debug)]
struct Unit {
    first: usize,
    undo: Option<usize>,
}

impl Unit {
    fn indices(self) -> impl Iterator<Item = usize> {
        std::iter::once(self.first).chain(self.undo)
    }
}

fn lasts(fault: &Fault) -> Option<Duration> {
    fault.clone().duration_mut().map(|d| *d)
}

fn node_set(fault: &Fault) -> Vec<&str> {
    let mut nodes = fault.nodes();
    nodes.sort_unstable();
    nodes.dedup();
    nodes
}

/// The body's units, in time order of their first fault.
fn units(body: &[TimedFault]) -> Vec<Unit> {
    let mut taken = vec![false; body.len()];
    let mut units = Vec::new();
    for first in 0..body.len() {
        if taken[first] {
            continue;
        }
        taken[first] = true;
        let fault = &body[first].fault;
        let mut undo = None;
        if lasts(fault).is_none() && !fault.nodes().is_empty() {
            let nodes = node_set(fault);
            undo = (first + 1..body.len())
                .find(|&j| !taken[j] && lasts(&body[j].fault).is_none() && node_set(&body[j].fault) == nodes);
            if let Some(j) = undo {
                taken[j] = true;
            }
        }
        units.push(Unit { first, undo });
    }
    units
}

/// The most servers down (crashed or paused) at one instant. This is the one place that
/// names kinds: the five that take a server down or bring it back. A kind added later that
/// takes a server down is not counted, which only makes the bound looser.
pub(crate) fn down_max(plan: &FaultPlan) -> usize {
    let faults = plan.faults();
    let mut spans: Vec<(&str, Duration, Duration)> = Vec::new();
    for (i, timed) in faults.iter().enumerate() {
        let until_undo = |node: &str, undo: fn(&Fault) -> Option<&str>| {
            faults[i + 1..]
                .iter()
                .find(|later| undo(&later.fault) == Some(node) || later.fault == Fault::Recover)
                .map_or(Duration::MAX, |later| later.at)
        };
        match &timed.fault {
            Fault::Bounce { node, down } => spans.push((node, timed.at, timed.at.saturating_add(*down))),
            Fault::Crash(node) => spans.push((
                node,
                timed.at,
                until_undo(node, |f| if let Fault::Restart(n) = f { Some(n) } else { None }),
            )),
            Fault::Pause(node) => spans.push((
                node,
                timed.at,
                until_undo(node, |f| if let Fault::Resume(n) = f { Some(n) } else { None }),
            )),
            _ => {}
        }
    }
    let mut most = 0;
    for &(_, at, _) in &spans {
        let mut down: Vec<&str> = spans.iter().filter(|(_, from, to)| *from <= at && at < *to).map(|s| s.0).collect();
        down.sort_unstable();
        down.dedup();
        most = most.max(down.len());
    }
    most
}

impl Mutator {
    /// A mutator whose draws all come from `seed`.
    pub fn new(seed: Seed) -> Mutator {
        Mutator { rng: Stream::new(seed, MUTATOR_STREAM) }
    }

    /// One random mutation of `plan` that applies and keeps it valid, with `donor` for the
    /// mutations that take faults from another plan (without one, those are not drawn).
    /// `None` when no mutation applies (an empty plan with no donor) or none of a few
    /// attempts gave a valid plan.
    pub fn mutate(&mut self, plan: &FaultPlan, donor: Option<&FaultPlan>) -> Option<(FaultPlan, Mutation)> {
        let choices: Vec<Mutation> =
            Mutation::ALL.into_iter().filter(|m| donor.is_some() || !m.needs_donor()).collect();
        for _ in 0..ATTEMPTS_MAX {
            let mutation = choices[self.rng.below(choices.len() as u64) as usize];
            if let Some(child) = self.apply(mutation, plan, donor) {
                return Some((child, mutation));
            }
        }
        None
    }

    /// Apply `mutation` to `plan`. `None` when it does not apply (no fault to change, no
    /// donor, or a donor with no fault to take) or the result would break the plan's bounds
    /// (more servers down at once than `plan` and `donor` have, or one) or a fault's own
    /// (a strobe stretched past its most steps).
    pub fn apply(&mut self, mutation: Mutation, plan: &FaultPlan, donor: Option<&FaultPlan>) -> Option<FaultPlan> {
        let parts = Parts::of(plan);
        let body = match mutation {
            Mutation::Remove => self.remove(&parts),
            Mutation::Shift => self.shift(&parts),
            Mutation::Stretch => self.stretch(&parts),
            Mutation::Duplicate => self.duplicate(&parts),
            Mutation::Replace => self.replace(&parts, &Parts::of(donor?)),
            Mutation::Splice => self.splice(&parts, &Parts::of(donor?)),
            Mutation::Crossover => self.crossover(&parts, &Parts::of(donor?)),
        }?;
        let child = parts.assemble(body);
        if child.faults().iter().any(|timed| timed.fault.invalid().is_some()) {
            return None;
        }
        let bound = down_max(plan).max(donor.map_or(0, down_max)).max(1);
        if down_max(&child) > bound {
            return None;
        }
        match &parts.anchor {
            Some(anchor) => {
                assert_eq!(child.faults().last(), Some(anchor), "a mutated plan keeps its recover\n{child}")
            }
            None => assert!(child.end() <= parts.latest, "a mutated plan stays in its window\n{child}"),
        }
        Some(child)
    }

    fn pick_unit(&mut self, body: &[TimedFault]) -> Option<Unit> {
        let units = units(body);
        (!units.is_empty()).then(|| units[self.rng.below(units.len() as u64) as usize])
    }

    /// A time in the window, uniformly.
    fn anywhere(&mut self, parts: &Parts) -> Duration {
        Duration::from_nanos(self.rng.between(0, nanos(parts.latest)))
    }

    fn remove(&mut self, parts: &Parts) -> Option<Vec<TimedFault>> {
        let unit = self.pick_unit(&parts.body)?;
        let gone: Vec<usize> = unit.indices().collect();
        Some(parts.body.iter().enumerate().filter(|(i, _)| !gone.contains(i)).map(|(_, t)| t.clone()).collect())
    }

    /// Move `unit`'s faults of `body` so its first fault is at `to`, keeping their distance.
    fn moved(body: &mut [TimedFault], unit: Unit, to: Duration) {
        let from = body[unit.first].at;
        for i in unit.indices() {
            let offset = body[i].at - from;
            body[i].at = to.saturating_add(offset);
        }
    }

    fn shift(&mut self, parts: &Parts) -> Option<Vec<TimedFault>> {
        let unit = self.pick_unit(&parts.body)?;
        let mut body = parts.body.clone();
        let at = body[unit.first].at;
        let to = if self.rng.chance(Ratio::new(1, 2).expect("valid")) {
            // A little: up to a twentieth of the window (at least a millisecond), either way.
            let reach = (nanos(parts.latest) / 20).max(1_000_000);
            let by = Duration::from_nanos(self.rng.between(1, reach));
            if self.rng.chance(Ratio::new(1, 2).expect("valid")) {
                at.saturating_add(by)
            } else {
                at.saturating_sub(by)
            }
        } else {
            self.anywhere(parts)
        };
        Self::moved(&mut body, unit, to);
        Some(body)
    }

    fn stretch(&mut self, parts: &Parts) -> Option<Vec<TimedFault>> {
        let stretchable: Vec<Unit> = units(&parts.body)
            .into_iter()
            .filter(|u| u.undo.is_some() || lasts(&parts.body[u.first].fault).is_some())
            .collect();
        if stretchable.is_empty() {
            return None;
        }
        let unit = stretchable[self.rng.below(stretchable.len() as u64) as usize];
        // A quarter to four times, never exactly once.
        let mut quarters = self.rng.between(1, 15);
        if quarters >= 4 {
            quarters += 1;
        }
        let scale = |d: Duration| Duration::from_nanos((nanos(d).saturating_mul(quarters) / 4).max(1_000_000));
        let mut body = parts.body.clone();
        match unit.undo {
            Some(undo) => {
                let gap = body[undo].at - body[unit.first].at;
                body[undo].at = body[unit.first].at.saturating_add(scale(gap));
            }
            None => {
                let duration = body[unit.first].fault.duration_mut().expect("chosen for its duration");
                *duration = scale(*duration);
            }
        }
        Some(body)
    }

    fn duplicate(&mut self, parts: &Parts) -> Option<Vec<TimedFault>> {
        let unit = self.pick_unit(&parts.body)?;
        let mut copy: Vec<TimedFault> = unit.indices().map(|i| parts.body[i].clone()).collect();
        let to = self.anywhere(parts);
        let from = copy[0].at;
        for timed in &mut copy {
            timed.at = to.saturating_add(timed.at - from);
        }
        let mut body = parts.body.clone();
        body.extend(copy);
        Some(body)
    }

    fn replace(&mut self, parts: &Parts, donor: &Parts) -> Option<Vec<TimedFault>> {
        let unit = self.pick_unit(&parts.body)?;
        let theirs = self.pick_unit(&donor.body)?;
        let at = parts.body[unit.first].at;
        let gone: Vec<usize> = unit.indices().collect();
        let mut body: Vec<TimedFault> =
            parts.body.iter().enumerate().filter(|(i, _)| !gone.contains(i)).map(|(_, t)| t.clone()).collect();
        let mut taken: Vec<TimedFault> = theirs.indices().map(|i| donor.body[i].clone()).collect();
        let from = taken[0].at;
        for timed in &mut taken {
            timed.at = at.saturating_add(timed.at - from);
        }
        body.extend(taken);
        Some(body)
    }

    /// Units of `body` whose first fault is in `from..to`, and the rest.
    fn split(body: &[TimedFault], from: Duration, to: Duration) -> (Vec<TimedFault>, Vec<TimedFault>) {
        let (mut inside, mut outside) = (Vec::new(), Vec::new());
        for unit in units(body) {
            let side = if (from..to).contains(&body[unit.first].at) { &mut inside } else { &mut outside };
            side.extend(unit.indices().map(|i| body[i].clone()));
        }
        (inside, outside)
    }

    fn splice(&mut self, parts: &Parts, donor: &Parts) -> Option<Vec<TimedFault>> {
        if donor.body.is_empty() {
            return None;
        }
        let window = nanos(parts.latest).max(1);
        let length = Duration::from_nanos(self.rng.between(window / 10, window / 2).max(1));
        let from = self.anywhere(parts).saturating_sub(length / 2);
        let to = from.saturating_add(length);
        let (theirs, _) = Self::split(&donor.body, from, to);
        let (_, mut body) = Self::split(&parts.body, from, to);
        if theirs.is_empty() {
            return None;
        }
        body.extend(theirs.into_iter().filter(|t| t.at <= parts.latest));
        Some(body)
    }

    fn crossover(&mut self, parts: &Parts, donor: &Parts) -> Option<Vec<TimedFault>> {
        if donor.body.is_empty() && parts.body.is_empty() {
            return None;
        }
        let cut = self.anywhere(parts);
        let (mut body, _) = Self::split(&parts.body, Duration::ZERO, cut);
        let (_, theirs) = Self::split(&donor.body, Duration::ZERO, cut);
        body.extend(theirs.into_iter().filter(|t| t.at <= parts.latest));
        Some(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(text: &str) -> FaultPlan {
        text.parse().unwrap()
    }

    #[test]
    fn units_pair_a_fault_with_its_undo_by_the_nodes_they_name() {
        let parts = Parts::of(&plan(
            "1s partition a | b\n2s pause c\n3s repair a | b\n4s clog a b 1s\n5s resume c\n6s recover",
        ));
        let pairs: Vec<(usize, Option<usize>)> = units(&parts.body).iter().map(|u| (u.first, u.undo)).collect();
        assert_eq!(pairs, [(0, Some(2)), (1, Some(4)), (3, None)]);
        assert_eq!(parts.latest, Duration::from_secs(6) - Duration::from_nanos(1));
    }

    #[test]
    fn down_max_counts_servers_down_at_once() {
        assert_eq!(down_max(&plan("1s bounce a 2s\n2s pause b\n4s resume b\n9s recover")), 2);
        assert_eq!(down_max(&plan("1s bounce a 1s\n2s pause b\n4s resume b\n9s recover")), 1);
        assert_eq!(down_max(&plan("1s crash a\n2s crash b\n3s restart a\n9s recover")), 2);
        assert_eq!(down_max(&plan("1s partition a | b\n9s recover")), 0);
    }

    #[test]
    fn a_mutation_that_would_take_more_servers_down_is_refused() {
        let parent = plan("1s bounce a 5s\n9s recover");
        let donor = plan("2s bounce b 5s\n9s recover");
        let mut mutator = Mutator::new(Seed(1));
        for _ in 0..200 {
            if let Some(child) = mutator.apply(Mutation::Splice, &parent, Some(&donor)) {
                assert!(down_max(&child) <= 1, "{child}");
            }
        }
    }

    #[test]
    fn a_stretch_never_makes_a_fault_invalid() {
        // At its most steps: any stretch longer would be refused when the plan is installed.
        let parent = plan("1s strobe a 5ms 1ms 1s\n9s recover");
        let mut mutator = Mutator::new(Seed(3));
        let mut stretched = 0;
        for _ in 0..200 {
            if let Some(child) = mutator.apply(Mutation::Stretch, &parent, None) {
                assert!(child.faults().iter().all(|t| t.fault.invalid().is_none()), "{child}");
                stretched += 1;
            }
        }
        assert!(stretched > 0, "shorter strobes are still made");
    }
}
