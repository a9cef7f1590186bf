//! What every implementation of the peer benchmark shares: the workloads' names, sizes and
//! parameters, the one timing harness, the one line format `run.sh` reads, and the one
//! random-number function that decides the timers' durations.
//!
//! Each binary (`seedsim`, `turmoil`, `madsim`, `floor`) implements the workloads on its
//! simulator and hands them to [`measure`]. A workload returns the number of events it
//! counted (messages delivered, timer fires, tasks joined, simulations passed), and
//! [`measure`] asserts that number equals the size it asked for, so an implementation that
//! skipped work panics instead of posting a fast figure. Nothing here knows any simulator.

// Timing the benchmark is the one use of the host clock here; no simulated path reads it.
#![allow(clippy::disallowed_types, clippy::disallowed_methods)]

use std::time::{Duration, Instant};

/// Bytes in every message, datagram or stream.
pub const MESSAGE_LEN: usize = 64;
/// The one-way latency of every link, fixed.
pub const LATENCY: Duration = Duration::from_millis(1);
/// The port every server binds.
pub const PORT: u16 = 9000;
/// Timed repetitions per workload; the fastest is reported.
pub const REPETITIONS: usize = 5;

/// Round trips of the datagram and stream ping-pong (2 messages each).
pub const PING_PONG_TRIPS: u64 = 100_000;
/// Nodes in the fan-out; each round, each sends to each of the others and receives from each.
pub const FAN_OUT_NODES: usize = 5;
/// Rounds of the fan-out (`FAN_OUT_NODES * (FAN_OUT_NODES - 1)` messages each).
pub const FAN_OUT_ROUNDS: u64 = 10_000;
/// Tasks in the timer workload.
pub const TIMER_TASKS: u64 = 10_000;
/// Tasks in the large timer workload (`timers-100k`): the shape where 100,000 sleeping tasks'
/// state no longer fits in cache.
pub const TIMER_TASKS_LARGE: u64 = 100_000;
/// Sleeps per task in the timer workload, each 1 to 100 ms drawn by [`sleep_ms`].
pub const TIMER_SLEEPS: u64 = 10;
/// Tasks spawned (and joined) in the spawn workload.
pub const SPAWN_TASKS: u64 = 1_000_000;
/// Tasks spawned before the spawner awaits them all (`spawn`; `spawn-live` spawns all
/// `SPAWN_TASKS` first, so every task is live at once).
pub const SPAWN_BATCH: u64 = 1_000;
/// Whole 3-node simulations in the tiny-sims workload.
pub const TINY_SIMS: u64 = 2_000;
/// Datagrams each of the two clients of a tiny simulation sends (and gets echoed).
pub const TINY_PINGS: u8 = 3;

/// One workload of one implementation: its name in the table, what it counts, how many, and
/// the function that runs it and returns how many it counted.
pub struct Workload {
    pub name: &'static str,
    pub unit: &'static str,
    pub count: u64,
    pub run: fn() -> u64,
}

/// The eight workload names, in table order. `floor` implements only ping-pong and the two
/// timer workloads.
pub const NAMES: [&str; 8] =
    ["ping-pong", "stream", "fan-out", "timers", "timers-100k", "spawn", "spawn-live", "tiny-sims"];

/// The size and unit of the workload `name`.
pub fn size(name: &str) -> (u64, &'static str) {
    match name {
        "ping-pong" | "stream" => (2 * PING_PONG_TRIPS, "messages"),
        "fan-out" => (FAN_OUT_ROUNDS * (FAN_OUT_NODES * (FAN_OUT_NODES - 1)) as u64, "messages"),
        "timers" => (TIMER_TASKS * TIMER_SLEEPS, "fires"),
        "timers-100k" => (TIMER_TASKS_LARGE * TIMER_SLEEPS, "fires"),
        "spawn" | "spawn-live" => (SPAWN_TASKS, "tasks"),
        "tiny-sims" => (TINY_SIMS, "sims"),
        other => panic!("no workload named {other:?}"),
    }
}

/// A workload named `name` (one of [`NAMES`]) run by `run`.
pub fn workload(name: &'static str, run: fn() -> u64) -> Workload {
    let (count, unit) = size(name);
    Workload { name, unit, count, run }
}

/// Runs each workload whose name contains one of the command line's words (all without
/// words) [`REPETITIONS`] times, asserts each run counted exactly its size, and prints one
/// line per workload: `result <implementation> <workload> <unit> <count> <best seconds>
/// <worst seconds>`.
pub fn measure(implementation: &str, workloads: &[Workload]) {
    let filters: Vec<String> = std::env::args().skip(1).filter(|arg| !arg.starts_with('-')).collect();
    for workload in workloads {
        if !filters.is_empty() && !filters.iter().any(|f| workload.name.contains(f.as_str())) {
            continue;
        }
        let (mut best, mut worst) = (Duration::MAX, Duration::ZERO);
        for _ in 0..REPETITIONS {
            let start = Instant::now();
            let done = std::hint::black_box((workload.run)());
            let took = start.elapsed();
            assert_eq!(
                done, workload.count,
                "{implementation} {}: counted {done} {}, expected {}",
                workload.name, workload.unit, workload.count
            );
            best = best.min(took);
            worst = worst.max(took);
        }
        println!(
            "result {implementation} {} {} {} {:.6} {:.6}",
            workload.name,
            workload.unit,
            workload.count,
            best.as_secs_f64(),
            worst.as_secs_f64()
        );
    }
}

/// The `i`-th sleep of timer task `task`, in milliseconds, 1 to 100: a SplitMix64 hash of the
/// pair, so every implementation sleeps exactly the same durations without drawing from its
/// simulator's generator (whose cost and stream differ between simulators).
pub fn sleep_ms(task: u64, i: u64) -> u64 {
    let mut z = (task * TIMER_SLEEPS + i).wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    1 + z % 100
}
