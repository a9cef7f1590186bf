//! `shrink`: the fewest faults that still fail a seed the same way.
//!
//! The seed's fault plan (from its nemesis, or a `--plan` file) is cut down one fault at a
//! time, greedily, repeating until no single fault can go; then each remaining fault's
//! duration (a bounce's downtime, a clog's, a burst's, a disk fault's) is halved while it
//! still can be. Last, for a scenario declared with sizes (`Scenario::sized`), each size is
//! cut toward its minimum (first straight to it, then by halving the step) while the failure
//! stays; at a smaller size the plan drops what it says about nodes the scenario no longer
//! has (a partition loses those names from its sides, a crash of such a node goes). Each
//! candidate runs the same seed with the smaller plan or sizes, and is kept only if it fails
//! with the same cause signature.

use crate::error::Error;
use std::time::Duration;

use crate::fault::{Fault, FaultPlan};
use crate::sim::outcome::Failure;
use crate::Seed;

use super::sweep::signature;
use super::{build, Faults, Scenario};

/// How many candidate runs a shrink may make.
pub(crate) const RUNS_MAX: usize = 2_000;

pub(crate) struct Shrunk {
    /// The faults the scenario's setup installs itself, in every run: not shrunk.
    pub(crate) own: FaultPlan,
    pub(crate) before: FaultPlan,
    pub(crate) after: FaultPlan,
    /// The scenario at the sizes it shrank to.
    pub(crate) scenario: Scenario,
    pub(crate) failure: Box<Failure>,
    pub(crate) runs: usize,
}

/// Run `seed` with `plan`; the failure, if it failed.
fn attempt(
    scenario: &Scenario,
    seed: Seed,
    plan: &FaultPlan,
    replay: &dyn Fn(&Scenario) -> String,
) -> Result<Option<Box<Failure>>, Error> {
    let mut sim = build(scenario, seed, Faults::Calm, Some(plan), &replay(scenario), false, None)?;
    Ok(sim.run().into_failure().map(Box::new))
}

/// Run `seed` of `scenario` (at other sizes) with `plan` cut down to the nodes it has; the
/// failure and the plan it ran, if it failed.
fn attempt_sized(
    scenario: &Scenario,
    seed: Seed,
    plan: &FaultPlan,
    replay: &dyn Fn(&Scenario) -> String,
) -> Result<Option<(Box<Failure>, FaultPlan)>, Error> {
    let mut sim = build(scenario, seed, Faults::Calm, None, &replay(scenario), false, None)?;
    let plan = restricted(plan, &sim.node_names());
    sim.faults(plan.clone())?;
    Ok(sim.run().into_failure().map(|failure| (Box::new(failure), plan)))
}

/// `all` without one copy of each fault of `own` (at the same time).
fn minus(all: &FaultPlan, own: &FaultPlan) -> FaultPlan {
    let mut left: Vec<&crate::fault::TimedFault> = own.faults().iter().collect();
    let mut out = FaultPlan::new();
    for timed in all.faults() {
        match left.iter().position(|o| *o == timed) {
            Some(index) => drop(left.swap_remove(index)),
            None => out.push(timed.at, timed.fault.clone()),
        }
    }
    out
}

/// `plan` without what it says about nodes not in `names`: partition sides lose those
/// names (the partition goes when a side is left empty), and any other fault naming such a
/// node goes.
fn restricted(plan: &FaultPlan, names: &[String]) -> FaultPlan {
    let known = |name: &str| names.iter().any(|n| n == name);
    let keep = |side: &[String]| side.iter().filter(|n| known(n)).cloned().collect::<Vec<String>>();
    // A partition needs someone on each side; it goes when a side is left empty.
    let sides = |a: Vec<String>, b: Vec<String>| (!a.is_empty() && !b.is_empty()).then_some((a, b));
    let mut out = FaultPlan::new();
    for timed in plan.faults() {
        let fault = match &timed.fault {
            Fault::Partition { a, b } => sides(keep(a), keep(b)).map(|(a, b)| Fault::Partition { a, b }),
            Fault::Repair { a, b } => sides(keep(a), keep(b)).map(|(a, b)| Fault::Repair { a, b }),
            Fault::PartitionOneWay { from, to } => {
                sides(keep(from), keep(to)).map(|(from, to)| Fault::PartitionOneWay { from, to })
            }
            other => other.nodes().into_iter().all(known).then(|| other.clone()),
        };
        if let Some(fault) = fault {
            out.push(timed.at, fault);
        }
    }
    out
}

/// Shrink the plan and sizes of a failing seed. `Ok(None)` if the seed does not fail with its
/// plan. `replay` gives the replay line for the scenario at a candidate's sizes.
pub(crate) fn shrink(
    scenario: &Scenario,
    seed: Seed,
    faults: Faults,
    plan: Option<FaultPlan>,
    replay: &dyn Fn(&Scenario) -> String,
) -> Result<Option<Shrunk>, Error> {
    // What the setup installs by itself comes back in every candidate run: it is left out of
    // the plan to shrink, and the summary says so, rather than count it as shrunk away.
    let own = build(scenario, seed, Faults::Calm, None, &replay(scenario), false, None)?.fault_plan().clone();
    let before = match plan {
        Some(plan) => plan,
        None => {
            let all = build(scenario, seed, faults, None, &replay(scenario), false, None)?.fault_plan().clone();
            minus(&all, &own)
        }
    };
    let Some(mut failure) = attempt(scenario, seed, &before, replay)? else { return Ok(None) };
    let wanted = signature(&failure.cause);
    let mut current = before.clone();
    let mut runs = 1;
    let mut shrank = true;
    while shrank && runs < RUNS_MAX {
        shrank = false;
        let mut index = current.len();
        while index > 0 && runs < RUNS_MAX {
            index -= 1;
            let candidate = current.without(index);
            runs += 1;
            if let Some(found) = attempt(scenario, seed, &candidate, replay)? {
                if signature(&found.cause) == wanted {
                    current = candidate;
                    failure = found;
                    shrank = true;
                }
            }
            index = index.min(current.len());
        }
    }
    // Then shorter: halve each fault's duration while the failure stays.
    for index in 0..current.len() {
        while runs < RUNS_MAX {
            let Some(halved) = halve(&current.faults()[index].fault) else { break };
            let mut candidate = FaultPlan::new();
            for (i, timed) in current.faults().iter().enumerate() {
                candidate.push(timed.at, if i == index { halved.clone() } else { timed.fault.clone() });
            }
            runs += 1;
            match attempt(scenario, seed, &candidate, replay)? {
                Some(found) if signature(&found.cause) == wanted => {
                    current = candidate;
                    failure = found;
                }
                _ => break,
            }
        }
    }
    // Then smaller: each size toward its minimum.
    let mut scenario = *scenario;
    for index in 0..scenario.sizes().declared().len() {
        let min = scenario.sizes().declared()[index].min();
        let mut step = scenario.sizes().value_at(index) - min;
        while step > 0 && runs < RUNS_MAX {
            let value = scenario.sizes().value_at(index);
            step = step.min(value - min);
            if step == 0 {
                break;
            }
            let candidate = scenario.at(scenario.sizes().set_at(index, value - step));
            runs += 1;
            match attempt_sized(&candidate, seed, &current, replay)? {
                Some((found, plan)) if signature(&found.cause) == wanted => {
                    scenario = candidate;
                    current = plan;
                    failure = found;
                }
                _ => step /= 2,
            }
        }
    }
    Ok(Some(Shrunk { own, before, after: current, scenario, failure, runs }))
}

/// The same fault lasting half as long, down to a millisecond; `None` for faults without a
/// duration, or already that short.
fn halve(fault: &Fault) -> Option<Fault> {
    let mut halved = fault.clone();
    let duration = halved.duration_mut()?;
    if *duration < Duration::from_millis(2) {
        return None;
    }
    *duration /= 2;
    Some(halved)
}

/// The total time a plan's faults last (the sum of their durations), for reports.
pub(crate) fn fault_time(plan: &FaultPlan) -> Duration {
    plan.faults().iter().filter_map(|timed| timed.fault.clone().duration_mut().map(|d| *d)).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plan_restricted_to_fewer_nodes_keeps_what_still_makes_sense() {
        let plan: FaultPlan = "1s partition a,b | c,d\n\
                               2s crash d\n\
                               3s partition-oneway d -> a\n\
                               4s clog a b 1s\n\
                               5s heal-all\n"
            .parse()
            .unwrap();
        let names: Vec<String> = ["a", "b", "c"].iter().map(|n| n.to_string()).collect();
        let kept = restricted(&plan, &names);
        let expected: FaultPlan = "1s partition a,b | c\n4s clog a b 1s\n5s heal-all\n".parse().unwrap();
        assert_eq!(kept, expected);
    }
}
