//! Whole systems per simulated second: the example protocols' fixed variants (election, lock,
//! replog, twopc, walkv, kv, replkv), each over 300 seeds with no faults and with the default faults
//! (swarm over every kind; replkv, whose nodes do not survive disk errors by design, with the
//! faults of its own runs), reporting runs per second, simulated seconds per run and per wall
//! second, and steps and events per wall second. Every run must pass. The figures are in
//! docs/performance.md ("Whole systems").
//!
//! ```text
//! cargo bench --bench systems               # 300 seeds per row
//! cargo bench --bench systems -- 1000       # another count
//! cargo bench --bench systems -- 100 kv     # only the systems named (kv here)
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
#[path = "../examples/replkv"]
mod replkv {
    pub mod replica;
    pub mod world;
}
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

/// The replkv example's fixed variant (the primary syncs before it acknowledges), as its
/// `main.rs` runs it by default: three replicas and a client writing 40 values.
fn replkv_scenario(sim: &mut Sim, _fixed: bool) -> Result<(), Error> {
    replkv::world::scenario(sim, true, 40)
}

/// The faults of a system's second row: what the row is labelled, and the profile for a seed.
type Faults = (&'static str, fn(Seed) -> Profile);

/// The default faults, swarm over every kind.
const DEFAULT_FAULTS: Faults = ("default", |seed| Profile::swarm(Profile::default(), seed));

/// The faults of replkv's own runs: a replica returns a disk error rather than survive it,
/// so the default profile's disk faults would fail it by design.
const REPLKV_FAULTS: Faults = ("its own", |_| replkv::world::profile());

/// A system: its name, builder, scenario, and the faults of its row with faults.
type System = (&'static str, fn() -> Builder, fn(&mut Sim, bool) -> Result<(), Error>, Faults);
fn main() {
    // `cargo bench` passes `--bench`; a number is the seed count, any other word names a system.
    let words: Vec<String> = std::env::args().skip(1).filter(|arg| !arg.starts_with('-')).collect();
    let (counts, filters): (Vec<&String>, Vec<&String>) =
        words.iter().partition(|word| word.bytes().all(|byte| byte.is_ascii_digit()));
    let n: u64 = match counts.as_slice() {
        [] => 300,
        [count] => count.parse().unwrap_or_else(|_| panic!("seed count {count} does not fit 64 bits")),
        _ => panic!("expected at most one seed count, got {counts:?}"),
    };
    let all: Vec<System> = vec![
        ("election", election::builder, election::scenario, DEFAULT_FAULTS),
        ("lock", lock::builder, lock::scenario, DEFAULT_FAULTS),
        ("replog", replog::builder, replog::scenario, DEFAULT_FAULTS),
        ("twopc", twopc::builder, twopc::scenario, DEFAULT_FAULTS),
        ("walkv", walkv::builder, walkv::scenario, DEFAULT_FAULTS),
        ("kv", kv::builder, kv_scenario, DEFAULT_FAULTS),
        ("replkv", Sim::builder, replkv_scenario, REPLKV_FAULTS),
    ];
    for (name, builder, scenario, (with_faults, profile)) in all {
        if !filters.is_empty() && !filters.iter().any(|filter| filter.as_str() == name) {
            continue;
        }
        for faults in ["none", with_faults] {
            let (mut sim_ns, mut events, mut steps) = (0u128, 0u64, 0u64);
            let t = Instant::now();
            for i in 0..n {
                let seed = Seed(0xabc).nth(i);
                let mut sim = builder().seed(seed).build().unwrap();
                scenario(&mut sim, true).unwrap();
                if faults != "none" {
                    drop(sim.nemesis(profile(seed)).unwrap());
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
