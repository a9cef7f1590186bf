//! Proptest strategies that generate fault plans, and shrink them to fewer and simpler faults.
//!
//! With the `proptest` feature (on by default). A property test over plans finds a plan that
//! breaks the system; proptest then shrinks it, removing faults one by one while the test
//! still fails, so the plan left is the few faults that matter.
//!
//! ```
//! use std::time::Duration;
//! use proptest::strategy::{Strategy, ValueTree};
//! use proptest::test_runner::TestRunner;
//! use seedsim::fault::strategy;
//!
//! let names = vec!["a".to_owned(), "b".to_owned(), "c".to_owned()];
//! let plans = strategy::plan(names.clone(), names, Duration::from_secs(10), 8);
//! let plan = plans.new_tree(&mut TestRunner::deterministic()).unwrap().current();
//! assert!(plan.len() <= 9); // at most 8 faults and the final recover
//! assert_eq!(plan.faults().last().unwrap().fault, seedsim::fault::Fault::Recover);
//! ```

use std::time::Duration;

use proptest::prelude::*;

use super::{Fault, FaultPlan, Trigger};
use crate::rand::Ratio;
use crate::time::Skew;

/// One fault among `servers` (which may crash and pause) and `nodes` (every node, for
/// network and clock faults). Both lists must be non-empty.
pub fn fault(servers: Vec<String>, nodes: Vec<String>) -> impl Strategy<Value = Fault> {
    assert!(!servers.is_empty() && !nodes.is_empty(), "fault strategies need at least one server and one node");
    let server = proptest::sample::select(servers.clone());
    let node = proptest::sample::select(nodes.clone());
    let set = proptest::sample::subsequence(nodes.clone(), 1..=nodes.len().max(1));
    let millis = |max: u64| (1..=max).prop_map(Duration::from_millis);
    prop_oneof![
        (server.clone(), millis(2_000)).prop_map(|(node, down)| Fault::Bounce { node, down }),
        server.clone().prop_map(Fault::Crash),
        server.clone().prop_map(Fault::Restart),
        server.clone().prop_map(Fault::Pause),
        server.prop_map(Fault::Resume),
        (set.clone(), set.clone()).prop_map(|(a, b)| Fault::Partition { a, b }),
        (set.clone(), set.clone()).prop_map(|(from, to)| Fault::PartitionOneWay { from, to }),
        (set.clone(), set).prop_map(|(a, b)| Fault::Repair { a, b }),
        node.clone().prop_map(Fault::Isolate),
        node.clone().prop_map(Fault::Rejoin),
        (node.clone(), node.clone(), millis(1_000)).prop_map(|(a, b, duration)| Fault::Clog { a, b, duration }),
        Just(Fault::HealAll),
        (node.clone(), -1_000i64..=1_000, -1_000i32..=1_000).prop_map(|(node, offset_ms, drift)| {
            let offset = Duration::from_millis(offset_ms.unsigned_abs());
            let skew = if offset_ms < 0 { Skew::behind(offset) } else { Skew::ahead(offset) };
            Fault::Skew { node, skew: skew.with_drift_ppm(drift).expect("within range") }
        }),
        (node, -2_000i64..=2_000).prop_map(|(node, ms)| Fault::Jump { node, by_nanos: ms * 1_000_000 }),
        (1u32..=100, millis(3_000)).prop_map(|(percent, duration)| Fault::LossBurst {
            loss: Ratio::percent(percent).expect("<= 100"),
            duration
        }),
        (millis(1_000), millis(3_000)).prop_map(|(extra, duration)| Fault::LatencySpike { extra, duration }),
        (proptest::sample::select(servers.clone()), 1u32..=50, millis(2_000)).prop_map(|(node, percent, duration)| {
            Fault::DiskErrors { node, ratio: Ratio::percent(percent).expect("<= 100"), duration }
        }),
        proptest::sample::select(servers.clone()).prop_map(Fault::DiskCorrupt),
        (1u32..=100, millis(3_000)).prop_map(|(percent, duration)| Fault::Duplicate {
            ratio: Ratio::percent(percent).expect("<= 100"),
            duration
        }),
        (1u32..=100, millis(500), millis(3_000)).prop_map(|(percent, spread, duration)| Fault::Reorder {
            ratio: Ratio::percent(percent).expect("<= 100"),
            spread,
            duration
        }),
        millis(3_000).prop_map(|duration| Fault::PartitionPrimaries { duration }),
        (proptest::sample::select(nodes.clone()), -100_000i32..=100_000).prop_map(|(node, drift)| Fault::Skew {
            node,
            skew: Skew::NONE.with_drift_ppm(drift).expect("within range")
        }),
        (proptest::sample::select(nodes), millis(1_000), 1u64..=100, millis(3_000)).prop_map(
            |(node, by, period_ms, duration)| {
                let period = Duration::from_millis(period_ms);
                Fault::Strobe { node, by, period, duration: duration.min(period * 1_000) }
            }
        ),
        (proptest::sample::select(servers), any::<bool>(), millis(2_000)).prop_map(|(node, send, down)| {
            let trigger = if send { Trigger::Send } else { Trigger::Receive };
            Fault::CrashAfter { node, trigger, down }
        }),
    ]
}

/// A plan of up to `faults_max` faults at whole milliseconds within `duration`, ending with a
/// `recover` at `duration`. Shrinks towards fewer faults and earlier, simpler ones.
pub fn plan(
    servers: Vec<String>,
    nodes: Vec<String>,
    duration: Duration,
    faults_max: usize,
) -> impl Strategy<Value = FaultPlan> {
    let millis = duration.as_millis().max(1) as u64;
    proptest::collection::vec((0..millis, fault(servers, nodes)), 0..=faults_max).prop_map(move |faults| {
        let mut plan = FaultPlan::new();
        for (at, fault) in faults {
            plan.push(Duration::from_millis(at), fault);
        }
        plan.push(duration, Fault::Recover);
        plan
    })
}
