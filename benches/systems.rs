//! Whole systems per simulated second: the example protocols' fixed variants (election, lock,
//! replog, twopc, walkv, kv), each over 300 seeds with no faults and with the default faults
//! (swarm over every kind), reporting runs per second, simulated seconds per run and per wall
//! second, and steps and events per wall second. Every run must pass. The figures are in
//! docs/performance.md ("Whole systems").
//!
//! ```text
//! cargo bench --bench systems          # 300 seeds per row
//! cargo bench --bench systems -- 1000  # another count
//! ```

// The benchmark times itself with the host clock; nothing timed here reads it.
#![allow(clippy::disallowed_types, clippy::disallowed_methods)]
#![allow(clippy::duplicate_mod)] // each example includes the shared wire format as its own module

#[path = "../examples/election/system.rs"]
mod election;
#[path = "../examples/kv/system.rs"]
#[allow(dead_code)]
mod kv;
#[path = "../examples/lock/system.rs"]
mod lock;
#[path = "../examples/replog/system.rs"]
mod replog;
#[path = "../examples/twopc/system.rs"]
mod twopc;
#[path = "../examples/walkv/system.rs"]
#[allow(dead_code)]
mod walkv;

use std::time::Instant;

use seedsim::fault::Profile;
use seedsim::{Builder, Error, Seed, Sim};

/// The kv example's fixed variant, in the shape the others take.
fn kv_scenario(sim: &mut Sim, _fixed: bool) -> Result<(), Error> {
    kv::scenario(sim, kv::Variant::Fixed)
}

type System = (&'static str, fn() -> Builder, fn(&mut Sim, bool) -> Result<(), Error>);
fn main() {
    let n: u64 = match std::env::args().skip(1).find(|arg| !arg.starts_with('-')) {
        Some(count) => count.parse().unwrap_or_else(|_| panic!("expected a seed count, got {count:?}")),
        None => 300,
    };
    let all: Vec<System> = vec![
        ("election", election::builder, election::scenario),
        ("lock", lock::builder, lock::scenario),
        ("replog", replog::builder, replog::scenario),
        ("twopc", twopc::builder, twopc::scenario),
        ("walkv", walkv::builder, walkv::scenario),
        ("kv", kv::builder, kv_scenario),
    ];
    for (name, builder, scenario) in all {
        for faults in ["none", "default"] {
            let (mut sim_ns, mut events, mut steps) = (0u128, 0u64, 0u64);
            let t = Instant::now();
            for i in 0..n {
                let seed = Seed(0xabc).nth(i);
                let mut sim = builder().seed(seed).build().unwrap();
                scenario(&mut sim, true).unwrap();
                if faults == "default" {
                    drop(sim.nemesis(Profile::swarm(Profile::default(), seed)).unwrap());
                }
                let s = sim.run().unwrap();
                sim_ns += s.time.as_nanos() as u128;
                steps += s.steps;
                events += s.events;
            }
            let wall = t.elapsed().as_secs_f64();
            let sim_s = sim_ns as f64 / 1e9;
            println!("{name:9} {faults:8} {n} runs: {:.0} runs/s, sim {:.1} s/run, {:.0}x real time, {:.2}M steps/s, {:.2}M events/s", n as f64 / wall, sim_s / n as f64, sim_s / wall, steps as f64 / wall / 1e6, events as f64 / wall / 1e6);
        }
    }
}
