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

/// A plan taken apart: its faults before the final `recover` (if any), the window they must
/// stay in, and their units.
struct Parts {
    body: Vec<TimedFault>,
    /// The final `recover`, kept as it was.
    anchor: Option<TimedFault>,
    /// Faults of the body are timed at most this (before the anchor, when there is one).
    latest: Duration,
    /// How long each fault of the body lasts by itself, if it does.
    lasts: Vec<Option<Duration>>,
    units: Vec<Unit>,
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
        let lasts: Vec<Option<Duration>> =
            body.iter_mut().map(|timed| timed.fault.duration_mut().map(|d| *d)).collect();
        let units = units(&body, &lasts);
        Parts { body, anchor, latest, lasts, units }
    }

    /// The plan: the body (in time order already), then the anchor.
    fn into_plan(self) -> FaultPlan {
        let mut plan = FaultPlan::new();
        for timed in self.body {
            plan.push(timed.at, timed.fault);
        }
        if let Some(anchor) = self.anchor {
            plan.push(anchor.at, anchor.fault);
        }
        match plan.faults().last() {
            Some(last) if last.fault == Fault::Recover => {}
            _ => assert!(plan.end() <= self.latest, "a mutated plan stays in its window\n{plan}"),
        }
        plan
    }

    /// The items of the body, as they are.
    fn items(&self) -> Vec<Item> {
        (0..self.body.len())
            .map(|index| Item { from: From::Mine(index), at: self.body[index].at, lasts: None })
            .collect()
    }

    /// The items of `unit` (of this plan, or of the donor with `theirs`).
    fn unit_items(&self, unit: Unit, theirs: bool) -> impl Iterator<Item = Item> + '_ {
        unit.indices().map(move |index| Item {
            from: if theirs { From::Theirs(index) } else { From::Mine(index) },
            at: self.body[index].at,
            lasts: None,
        })
    }

    /// The items of the units whose first fault is in `from..to` (`inside`) or not.
    fn within(&self, from: Duration, to: Duration, inside: bool, theirs: bool) -> Vec<Item> {
        self.units
            .iter()
            .filter(|unit| (from..to).contains(&self.body[unit.first].at) == inside)
            .flat_map(|&unit| self.unit_items(unit, theirs))
            .collect()
    }
}

/// Where a fault of a plan being made comes from: the plan's body or the donor's, by index.
#[derive(Clone, Copy, Debug)]
enum From {
    Mine(usize),
    Theirs(usize),
}

/// One fault of a plan being made: where it comes from, when it happens, and how long it
/// lasts if that changed. Mutations move items; only the final plan clones faults.
#[derive(Clone, Copy, Debug)]
struct Item {
    from: From,
    at: Duration,
    lasts: Option<Duration>,
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

/// A fixed hash of the set of nodes a fault names, for pairing a fault with its undo: a sum
/// of the names' hashes, so the order they are named in does not matter.
fn node_set(fault: &Fault) -> u64 {
    fault.nodes().iter().fold(0u64, |sum, node| {
        let hash = node
            .bytes()
            .fold(0xcbf2_9ce4_8422_2325u64, |hash, byte| (hash ^ u64::from(byte)).wrapping_mul(0x100_0000_01b3));
        sum.wrapping_add(crate::seed::splitmix64(hash))
    })
}

/// The body's units, in time order of their first fault: a fault that names nodes and does
/// not last by itself is paired with the next such fault naming the same nodes.
fn units(body: &[TimedFault], lasts: &[Option<Duration>]) -> Vec<Unit> {
    let keys: Vec<Option<u64>> = body
        .iter()
        .zip(lasts)
        .map(|(timed, lasts)| (lasts.is_none() && !timed.fault.nodes().is_empty()).then(|| node_set(&timed.fault)))
        .collect();
    let mut taken = vec![false; body.len()];
    let mut units = Vec::new();
    for first in 0..body.len() {
        if taken[first] {
            continue;
        }
        taken[first] = true;
        let undo = keys[first].and_then(|key| (first + 1..body.len()).find(|&j| !taken[j] && keys[j] == Some(key)));
        if let Some(j) = undo {
            taken[j] = true;
        }
        units.push(Unit { first, undo });
    }
    units
}

/// The most servers down (crashed or paused) at one instant of `plan`.
pub(crate) fn down_max(plan: &FaultPlan) -> usize {
    let faults: Vec<(Duration, &Fault, Option<Duration>)> =
        plan.faults().iter().map(|timed| (timed.at, &timed.fault, None)).collect();
    down_max_of(&faults)
}

/// The most servers down at one instant of faults in time order, each with the duration it
/// lasts if that was changed. This is the one place that names kinds: the six that take a
/// server down or bring it back. A kind added later that takes a server down is not counted,
/// which only makes the bound looser.
fn down_max_of(faults: &[(Duration, &Fault, Option<Duration>)]) -> usize {
    let mut spans: Vec<(&str, Duration, Duration)> = Vec::new();
    for (i, &(at, fault, lasts)) in faults.iter().enumerate() {
        let until_undo = |node: &str, undo: fn(&Fault) -> Option<&str>| {
            faults[i + 1..]
                .iter()
                .find(|later| undo(later.1) == Some(node) || *later.1 == Fault::Recover)
                .map_or(Duration::MAX, |later| later.0)
        };
        match fault {
            // A crash after a message happens at or after its time; counted from its time.
            Fault::Bounce { node, down } | Fault::CrashAfter { node, down, .. } => {
                spans.push((node, at, at.saturating_add(lasts.unwrap_or(*down))))
            }
            Fault::Crash(node) => {
                spans.push((node, at, until_undo(node, |f| if let Fault::Restart(n) = f { Some(n) } else { None })))
            }
            Fault::Pause(node) => {
                spans.push((node, at, until_undo(node, |f| if let Fault::Resume(n) = f { Some(n) } else { None })))
            }
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
        let (plan, mutations) = self.mutate_stack(plan, donor, 1);
        mutations.first().map(|&mutation| (plan, mutation))
    }

    /// `count` random mutations of `plan` in turn, each as [`mutate`](Mutator::mutate) makes
    /// them (with the same `donor`); returns the plan and the mutations that applied.
    pub fn mutate_stack(
        &mut self,
        plan: &FaultPlan,
        donor: Option<&FaultPlan>,
        count: usize,
    ) -> (FaultPlan, Vec<Mutation>) {
        let choices: Vec<Mutation> =
            Mutation::ALL.into_iter().filter(|m| donor.is_some() || !m.needs_donor()).collect();
        let bound = down_bound(plan, donor);
        let theirs = donor.map(Parts::of);
        let mut mine = Parts::of(plan);
        let mut applied = Vec::new();
        for _ in 0..count {
            for _ in 0..ATTEMPTS_MAX {
                let mutation = choices[self.rng.below(choices.len() as u64) as usize];
                if let Some(child) = self.attempt(mutation, &mine, theirs.as_ref(), bound) {
                    mine = child;
                    applied.push(mutation);
                    break;
                }
            }
        }
        if applied.is_empty() {
            return (plan.clone(), applied);
        }
        (mine.into_plan(), applied)
    }

    /// Apply `mutation` to `plan`. `None` when it does not apply (no fault to change, no
    /// donor, or a donor with no fault to take) or the result would break the plan's bounds
    /// (more servers down at once than `plan` and `donor` have, or one) or a fault's own
    /// (a strobe stretched past its most steps).
    pub fn apply(&mut self, mutation: Mutation, plan: &FaultPlan, donor: Option<&FaultPlan>) -> Option<FaultPlan> {
        let child = self.attempt(mutation, &Parts::of(plan), donor.map(Parts::of).as_ref(), down_bound(plan, donor))?;
        Some(child.into_plan())
    }

    fn attempt(&mut self, mutation: Mutation, mine: &Parts, theirs: Option<&Parts>, bound: usize) -> Option<Parts> {
        let mut items = match mutation {
            Mutation::Remove => self.remove(mine),
            Mutation::Shift => self.shift(mine),
            Mutation::Stretch => self.stretch(mine),
            Mutation::Duplicate => self.duplicate(mine),
            Mutation::Replace => self.replace(mine, theirs?),
            Mutation::Splice => self.splice(mine, theirs?),
            Mutation::Crossover => self.crossover(mine, theirs?),
        }?;
        for item in &mut items {
            item.at = item.at.min(mine.latest);
        }
        // Stable: faults at one time keep their order.
        items.sort_by_key(|item| item.at);
        let source = |item: &Item| match item.from {
            From::Mine(index) => (&mine.body[index].fault, mine.lasts[index]),
            From::Theirs(index) => {
                let theirs = theirs.expect("an item of theirs comes with them");
                (&theirs.body[index].fault, theirs.lasts[index])
            }
        };
        let mut faults: Vec<(Duration, &Fault, Option<Duration>)> =
            items.iter().map(|item| (item.at, source(item).0, item.lasts)).collect();
        if let Some(anchor) = &mine.anchor {
            faults.push((anchor.at, &anchor.fault, None));
        }
        if down_max_of(&faults) > bound {
            return None;
        }
        // Only now are faults cloned.
        let mut body = Vec::with_capacity(items.len());
        let mut lasts = Vec::with_capacity(items.len());
        for item in &items {
            let (fault, lasted) = source(item);
            let mut fault = fault.clone();
            if let (Some(changed), Some(duration)) = (item.lasts, fault.duration_mut()) {
                *duration = changed;
                // A fault with bounds of its own (a strobe's most steps) may not stretch past them.
                if fault.invalid().is_some() {
                    return None;
                }
            }
            body.push(TimedFault { at: item.at, fault });
            lasts.push(item.lasts.or(lasted));
        }
        let units = units(&body, &lasts);
        Some(Parts { body, anchor: mine.anchor.clone(), latest: mine.latest, lasts, units })
    }

    fn pick_unit(&mut self, parts: &Parts) -> Option<Unit> {
        let units = &parts.units;
        (!units.is_empty()).then(|| units[self.rng.below(units.len() as u64) as usize])
    }

    /// A time in the window, uniformly.
    fn anywhere(&mut self, parts: &Parts) -> Duration {
        Duration::from_nanos(self.rng.between(0, nanos(parts.latest)))
    }

    /// `items` moved so the first is at `to`, keeping their distance.
    fn moved(items: impl Iterator<Item = Item>, to: Duration) -> Vec<Item> {
        let mut items: Vec<Item> = items.collect();
        if let Some(from) = items.first().map(|item| item.at) {
            for item in &mut items {
                item.at = to.saturating_add(item.at - from);
            }
        }
        items
    }

    /// The items of `mine` without `unit`'s.
    fn without(mine: &Parts, unit: Unit) -> Vec<Item> {
        let mut items = mine.items();
        items.retain(|item| !matches!(item.from, From::Mine(index) if index == unit.first || Some(index) == unit.undo));
        items
    }

    fn remove(&mut self, mine: &Parts) -> Option<Vec<Item>> {
        let unit = self.pick_unit(mine)?;
        Some(Self::without(mine, unit))
    }

    fn shift(&mut self, mine: &Parts) -> Option<Vec<Item>> {
        let unit = self.pick_unit(mine)?;
        let at = mine.body[unit.first].at;
        let to = if self.rng.chance(Ratio::new(1, 2).expect("valid")) {
            // A little: up to a twentieth of the window (at least a millisecond), either way.
            let reach = (nanos(mine.latest) / 20).max(1_000_000);
            let by = Duration::from_nanos(self.rng.between(1, reach));
            if self.rng.chance(Ratio::new(1, 2).expect("valid")) {
                at.saturating_add(by)
            } else {
                at.saturating_sub(by)
            }
        } else {
            self.anywhere(mine)
        };
        let mut items = Self::without(mine, unit);
        items.extend(Self::moved(mine.unit_items(unit, false), to));
        Some(items)
    }

    fn stretch(&mut self, mine: &Parts) -> Option<Vec<Item>> {
        let stretchable: Vec<Unit> =
            mine.units.iter().copied().filter(|u| u.undo.is_some() || mine.lasts[u.first].is_some()).collect();
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
        let mut items = mine.items();
        match unit.undo {
            Some(undo) => {
                let gap = mine.body[undo].at - mine.body[unit.first].at;
                items[undo].at = mine.body[unit.first].at.saturating_add(scale(gap));
            }
            None => items[unit.first].lasts = mine.lasts[unit.first].map(scale),
        }
        Some(items)
    }

    fn duplicate(&mut self, mine: &Parts) -> Option<Vec<Item>> {
        let unit = self.pick_unit(mine)?;
        let to = self.anywhere(mine);
        let mut items = mine.items();
        items.extend(Self::moved(mine.unit_items(unit, false), to));
        Some(items)
    }

    fn replace(&mut self, mine: &Parts, theirs: &Parts) -> Option<Vec<Item>> {
        let unit = self.pick_unit(mine)?;
        let other = self.pick_unit(theirs)?;
        let mut items = Self::without(mine, unit);
        items.extend(Self::moved(theirs.unit_items(other, true), mine.body[unit.first].at));
        Some(items)
    }

    fn splice(&mut self, mine: &Parts, theirs: &Parts) -> Option<Vec<Item>> {
        if theirs.body.is_empty() {
            return None;
        }
        let window = nanos(mine.latest).max(1);
        let length = Duration::from_nanos(self.rng.between(window / 10, window / 2).max(1));
        let from = self.anywhere(mine).saturating_sub(length / 2);
        let to = from.saturating_add(length);
        let taken = theirs.within(from, to, true, true);
        if taken.is_empty() {
            return None;
        }
        let mut items = mine.within(from, to, false, false);
        items.extend(taken.into_iter().filter(|item| item.at <= mine.latest));
        Some(items)
    }

    fn crossover(&mut self, mine: &Parts, theirs: &Parts) -> Option<Vec<Item>> {
        if theirs.body.is_empty() && mine.body.is_empty() {
            return None;
        }
        let cut = self.anywhere(mine);
        let mut items = mine.within(Duration::ZERO, cut, true, false);
        items.extend(theirs.within(Duration::ZERO, cut, false, true).into_iter().filter(|item| item.at <= mine.latest));
        Some(items)
    }
}

/// The most servers a mutation of `plan` (with `donor`) may have down at once.
fn down_bound(plan: &FaultPlan, donor: Option<&FaultPlan>) -> usize {
    down_max(plan).max(donor.map_or(0, down_max)).max(1)
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
        let pairs: Vec<(usize, Option<usize>)> = parts.units.iter().map(|u| (u.first, u.undo)).collect();
        assert_eq!(pairs, [(0, Some(2)), (1, Some(4)), (3, None)]);
        assert_eq!(parts.latest, Duration::from_secs(6) - Duration::from_nanos(1));
    }

    #[test]
    fn down_max_counts_servers_down_at_once() {
        assert_eq!(down_max(&plan("1s bounce a 2s\n2s pause b\n4s resume b\n9s recover")), 2);
        assert_eq!(down_max(&plan("1s bounce a 1s\n2s pause b\n4s resume b\n9s recover")), 1);
        assert_eq!(down_max(&plan("1s crash a\n2s crash b\n3s restart a\n9s recover")), 2);
        assert_eq!(down_max(&plan("1s partition a | b\n9s recover")), 0);
        assert_eq!(down_max(&plan("1s crash-after-send b 3s\n2s bounce a 1s\n9s recover")), 2);
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
