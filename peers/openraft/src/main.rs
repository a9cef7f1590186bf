//! raftkv's cluster on turmoil, as a benchmark beside `raftkv --bench N --no-faults`
//! (docs/performance.md, "Whole systems").
//!
//! ```text
//! cargo run --release -- --bench 50   # 50 runs: runs/s, simulated s per run, simulated s per wall s
//! cargo run --release -- --bench 50 --latency-fixed 5   # every link 5 ms instead of 1 to 10 ms
//! ```
//!
//! A run is raftkv's fault-free scenario: three openraft nodes (raftkv's settings, requests and
//! messages, shared from `ecosystem/openraft/src/{types,wire}.rs`) on turmoil hosts, over
//! turmoil's TCP with links of 1 to 10 ms (seedsim's default range; turmoil draws within it
//! from its exponential distribution, seedsim uniformly), turmoil's default 1 ms tick, and
//! three clients of 30 operations each whose history is checked for linearizability with
//! seedsim's checker. openraft runs on its own tokio runtime, which turmoil drives per host.
//! The log and state machine are in memory (`store.rs`). openraft draws its election timeouts
//! from the OS-seeded `rand::rng()`, so a seed fixes turmoil's latencies and the clients'
//! draws but not the whole run.
//!
//! Exits 0 when every run completed all its operations with a linearizable history, 1
//! otherwise, 2 on bad arguments.

mod client;
mod node;
mod store;
#[path = "../../../ecosystem/openraft/src/types.rs"]
mod types;
#[path = "../../../ecosystem/openraft/src/wire.rs"]
mod wire;

use std::cell::Cell;
use std::process::ExitCode;
use std::rc::Rc;
use std::time::Duration;

use seedsim::check::Kv;

/// openraft's runtime here: tokio's, which turmoil runs each host on.
pub type Runtime = openraft_rt_tokio::TokioRuntime;

/// Clients, and operations each (raftkv's).
const CLIENTS: u64 = 3;
const OPS_PER_CLIENT: u32 = 30;
/// seedsim's default link latency range, the links' range unless `--latency-fixed` is given.
const LATENCY_MIN: Duration = Duration::from_millis(1);
const LATENCY_MAX: Duration = Duration::from_millis(10);
/// A run that has not finished by this simulated time fails.
const TIME_LIMIT: Duration = Duration::from_secs(600);

/// The links' latency: turmoil draws a message's from `min + (max - min) * Exp(5)`, capped at
/// `max`, in whole milliseconds.
#[derive(Clone, Copy, Debug)]
struct Links {
    min: Duration,
    max: Duration,
}

/// What one run measured.
struct Measured {
    /// The simulated time at which the last client finished.
    ended: Duration,
}

/// One run: the cluster, the clients, the checks. An error says what went wrong.
fn run(seed: u64, links: Links) -> Result<Measured, String> {
    let mut sim = turmoil::Builder::new()
        .rng_seed(seed)
        .min_message_latency(links.min)
        .max_message_latency(links.max)
        .simulation_duration(TIME_LIMIT)
        .build();
    let cluster = node::cluster();
    for &id in cluster.keys() {
        sim.host(format!("n{id}"), move || node::node(id));
    }
    let history = client::History::new();
    let (ended, completed) = (Rc::new(Cell::new(Duration::ZERO)), Rc::new(Cell::new(0u32)));
    let addrs: Vec<String> = cluster.values().cloned().collect();
    for id in 1..=CLIENTS {
        let (history, addrs, ended, completed) = (history.clone(), addrs.clone(), ended.clone(), completed.clone());
        sim.client(format!("c{id}"), async move {
            let done = client::client(id, OPS_PER_CLIENT, seed, addrs, history).await?;
            let now = turmoil::sim_elapsed().expect("a client runs inside the simulation");
            ended.set(ended.get().max(now));
            completed.set(completed.get() + done);
            Ok(())
        });
    }
    sim.run().map_err(|err| format!("the simulation failed: {err}"))?;
    let operations = CLIENTS as u32 * OPS_PER_CLIENT;
    if completed.get() != operations {
        return Err(format!("{} of {operations} operations completed", completed.get()));
    }
    let history = history.history();
    let verdict = seedsim::check::check(&Kv::<u64, u64>::new(), &history);
    if !verdict.is_linearizable() {
        return Err(format!("the history is not linearizable: {verdict:?}"));
    }
    Ok(Measured { ended: ended.get() })
}

/// `runs` runs over seedsim's default seeds, timed as a whole.
fn bench(runs: u64, links: Links) -> Result<String, String> {
    // The host clock measures the benchmark from outside the simulations.
    #[allow(clippy::disallowed_types, clippy::disallowed_methods)]
    let start = std::time::Instant::now();
    let mut simulated = Duration::ZERO;
    for index in 0..runs {
        let seed = seedsim::DEFAULT_BASE_SEED.nth(index);
        let measured = run(seed.0, links).map_err(|err| format!("seed {seed}: {err}"))?;
        simulated += measured.ended;
    }
    let wall = start.elapsed();
    Ok(format!(
        "{runs} runs in {:.1} s: {:.1} runs/s, {:.0} simulated s per wall s ({:.2} simulated s per run, {} of {} operations completed; tick 1 ms, links {}-{} ms)",
        wall.as_secs_f64(),
        runs as f64 / wall.as_secs_f64(),
        simulated.as_secs_f64() / wall.as_secs_f64(),
        simulated.as_secs_f64() / runs as f64,
        runs * CLIENTS * u64::from(OPS_PER_CLIENT),
        runs * CLIENTS * u64::from(OPS_PER_CLIENT),
        links.min.as_millis(),
        links.max.as_millis(),
    ))
}

/// The command line as given.
#[derive(Default)]
struct Flags {
    bench: Option<String>,
    latency_fixed: Option<String>,
}

/// What to run, validated.
struct Plan {
    runs: u64,
    links: Links,
}

fn flags(mut args: impl Iterator<Item = String>) -> Result<Flags, String> {
    let mut flags = Flags::default();
    while let Some(arg) = args.next() {
        let slot = match arg.as_str() {
            "--bench" => &mut flags.bench,
            "--latency-fixed" => &mut flags.latency_fixed,
            _ => return Err(format!("unknown argument {arg:?}: expected --bench N [--latency-fixed MS]")),
        };
        *slot = Some(args.next().ok_or(format!("{arg} needs a value"))?);
    }
    Ok(flags)
}

fn plan(flags: Flags) -> Result<Plan, String> {
    let runs = match flags.bench.as_deref().map(str::parse::<u64>) {
        Some(Ok(runs)) if runs > 0 => runs,
        Some(_) => {
            return Err(format!(
                "invalid --bench {:?}: expected a positive number of runs",
                flags.bench.unwrap_or_default()
            ))
        }
        None => return Err("expected --bench N [--latency-fixed MS]".to_owned()),
    };
    let links = match flags.latency_fixed.as_deref().map(str::parse::<u64>) {
        None => Links { min: LATENCY_MIN, max: LATENCY_MAX },
        Some(Ok(ms)) if ms > 0 => Links { min: Duration::from_millis(ms), max: Duration::from_millis(ms) },
        Some(_) => {
            let given = flags.latency_fixed.unwrap_or_default();
            return Err(format!("invalid --latency-fixed {given:?}: expected a positive number of milliseconds"));
        }
    };
    Ok(Plan { runs, links })
}

fn main() -> ExitCode {
    let plan = match flags(std::env::args().skip(1)).and_then(plan) {
        Ok(plan) => plan,
        Err(err) => {
            eprintln!("raftkv-turmoil: {err}");
            return ExitCode::from(2);
        }
    };
    match bench(plan.runs, plan.links) {
        Ok(summary) => {
            println!("raftkv on turmoil: {summary}");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("raftkv on turmoil: {err}");
            ExitCode::from(1)
        }
    }
}
