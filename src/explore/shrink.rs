//! `shrink`: the fewest faults that still fail a seed the same way.
//!
//! The seed's fault plan (from its nemesis, or a `--plan` file) is cut down one fault at a
//! time, greedily, repeating until no single fault can go: each candidate runs the same seed
//! with the smaller plan, and is kept only if it fails with the same cause signature. The
//! scenario's own choices stay the seed's; only the injected faults shrink.

use crate::error::Error;
use crate::fault::FaultPlan;
use crate::sim::outcome::Failure;
use crate::Seed;

use super::sweep::signature;
use super::{build, Faults, Scenario};

/// How many candidate runs a shrink may make.
pub(crate) const RUNS_MAX: usize = 2_000;

pub(crate) struct Shrunk {
    pub(crate) before: FaultPlan,
    pub(crate) after: FaultPlan,
    pub(crate) failure: Box<Failure>,
    pub(crate) runs: usize,
}

/// Run `seed` with `plan`; the failure, if it failed.
fn attempt(scenario: &Scenario, seed: Seed, plan: &FaultPlan, replay: &str) -> Result<Option<Box<Failure>>, Error> {
    let mut sim = build(scenario, seed, Faults::Calm, Some(plan), replay, false, None)?;
    Ok(sim.run().into_failure().map(Box::new))
}

/// Shrink the plan of a failing seed. `Ok(None)` if the seed does not fail with its plan.
pub(crate) fn shrink(
    scenario: &Scenario,
    seed: Seed,
    faults: Faults,
    plan: Option<FaultPlan>,
    replay: &str,
) -> Result<Option<Shrunk>, Error> {
    let before = match plan {
        Some(plan) => plan,
        None => build(scenario, seed, faults, None, replay, false, None)?.fault_plan().clone(),
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
    Ok(Some(Shrunk { before, after: current, failure, runs }))
}
