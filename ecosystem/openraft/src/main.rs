//! raftkv: a 3-node openraft key-value cluster on seedsim (see docs/openraft.md).
//!
//! ```text
//! cargo run                        # the buggy log store over 300 seeds of the default faults: finds the bug
//! cargo run -- --fixed             # the fixed log store: every seed passes
//! cargo run -- --fixed --seeds 50  # fewer seeds
//! cargo run -- --real              # the same node code as 3 real nodes on loopback, with a client
//! cargo run -- --real --port 17200
//! cargo run --release -- --bench 50 # runs/s and simulated time per wall second, fixed variant
//! cargo run --release -- --bench 50 --no-faults # the same without faults, as peers/openraft runs it on turmoil
//! cargo run --release -- --survey 200 # how many seeds the buggy variant fails, and of what
//! ```
//!
//! In a simulation the nodes talk over seedsim's TCP, store their log, vote and snapshots on
//! seedsim's disk, and suffer the default faults (crashes and restarts, partitions, clock
//! faults, disk faults); three clients write and read, and the history they record is checked
//! for linearizability. The buggy variant's log store keeps its vote in memory only
//! (`store.rs`, `save_vote`): a crash makes a node forget whom it voted for, two leaders can
//! be elected in one term, and a committed write can be lost. A failure prints its report
//! and the line that replays it.
//!
//! Exits 0 when every seed passed (or the real run's history checked out), 1 when a run
//! failed, 2 on bad arguments or an I/O error.

mod client;
mod node;
mod store;
mod types;
mod wire;

use std::process::ExitCode;
use std::time::Duration;

use seedsim::check::{Checker, Kv};
use seedsim::{OnNodeError, Runner, Sim};

use node::Cluster;

/// openraft's runtime: seedsim. `types.rs` names it through this alias so that
/// `peers/openraft` can share that file with tokio's runtime in its place.
pub type Runtime = seedsim::compat::openraft::SeedsimRuntime;

/// Which log store the nodes use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Variant {
    /// Persists its vote before acknowledging it.
    Fixed,
    /// Keeps its vote in memory only.
    Buggy,
}

/// Clients, and operations each.
const CLIENTS: u64 = 3;
const OPS_PER_CLIENT: u32 = 30;

/// The scenario: three nodes, three clients, the history checked at the end.
pub fn scenario(sim: &mut Sim, variant: Variant) -> Result<(), seedsim::Error> {
    scenario_timed(sim, variant, None)
}

/// What one run of the benchmark measured, filled in by its clients.
#[derive(Default)]
struct Tally {
    /// The simulated time at which the last client finished.
    ended: std::cell::Cell<Duration>,
    /// Operations that completed (an answer, not unknown), over all clients.
    completed: std::cell::Cell<u32>,
}

/// [`scenario`], recording in `tally` when the last client finished and how many operations
/// completed.
fn scenario_timed(sim: &mut Sim, variant: Variant, tally: Option<std::rc::Rc<Tally>>) -> Result<(), seedsim::Error> {
    let cluster = Cluster::simulated();
    for &id in cluster.nodes.keys() {
        let cluster = cluster.clone();
        sim.node(&format!("n{id}"), move || node::node(id, cluster.clone(), variant))?;
    }
    let history = client::History::new();
    for id in 1..=CLIENTS {
        let (cluster, history, tally) = (cluster.clone(), history.clone(), tally.clone());
        sim.client(&format!("c{id}"), async move {
            let result = client::client(id, OPS_PER_CLIENT, cluster, history).await;
            if let Some(tally) = tally {
                tally.ended.set(tally.ended.get().max(seedsim::time::Instant::now().since_start()));
                tally.completed.set(tally.completed.get() + result.as_ref().map_or(0, |&n| n));
            }
            result.map(drop)
        })?;
    }
    sim.check_history(&history, Kv::new(), Checker::new());
    Ok(())
}

/// The same node code on seedsim's real backend: three nodes on loopback, each on its own
/// thread and runtime with its own data directory, and one client whose history is checked.
fn real(port: u16) -> Result<String, String> {
    let cluster = Cluster::loopback(port);
    let base = std::env::temp_dir().join(format!("raftkv-{}-{port}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    for &id in cluster.nodes.keys() {
        let (cluster, dir) = (cluster.clone(), base.join(format!("n{id}")));
        std::fs::create_dir_all(&dir).map_err(|err| format!("cannot create {}: {err}", dir.display()))?;
        // One thread per real node, as separate processes would be: this is the real backend,
        // outside any simulation.
        #[allow(clippy::disallowed_methods)]
        std::thread::spawn(move || {
            let runtime = seedsim::real::Runtime::new().expect("a tokio runtime starts").data_dir(dir);
            if let Err(err) = runtime.block_on(node::node(id, cluster, Variant::Fixed)) {
                eprintln!("raftkv: node {id} stopped: {err}");
            }
        });
    }
    let history = client::History::new();
    let runtime = seedsim::real::Runtime::new().map_err(|err| err.to_string())?;
    let completed = runtime.block_on(client::client(1, 40, cluster, history.clone()))?;
    let _ = std::fs::remove_dir_all(&base);
    let verdict = seedsim::check::check(&Kv::new(), &history.history());
    if !verdict.is_linearizable() {
        return Err(format!("the real run's history is not linearizable: {verdict:?}"));
    }
    if completed < 40 {
        return Err(format!("only {completed} of 40 operations completed on loopback"));
    }
    Ok(format!("{completed} operations on 3 real nodes on loopback, linearizable"))
}

/// Which faults the benchmark runs under.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Faults {
    /// The default exploration faults (`Runner::default_faults`).
    Default,
    /// None: the scenario as `peers/openraft` runs it on turmoil, for comparison.
    None,
}

/// The fixed variant over `seeds` seeds, as one sweep without determinism re-runs: runs per
/// second of wall time, and simulated time per second of wall time (under the default faults
/// the runner's two probe runs before the sweep count in the wall time, not as runs). Without
/// faults every run must complete all its operations, or the benchmark fails.
fn bench(seeds: u64, builder: seedsim::Builder, faults: Faults) -> Result<String, String> {
    use std::cell::RefCell;
    use std::rc::Rc;
    let tallies: Rc<RefCell<Vec<Rc<Tally>>>> = Rc::default();
    // The host clock measures the benchmark from outside the simulations; nothing simulated
    // reads it.
    #[allow(clippy::disallowed_types, clippy::disallowed_methods)]
    let start = std::time::Instant::now();
    let runner = Runner::new().seeds(seeds).determinism_checks(0).builder(builder);
    let runner = match faults {
        Faults::Default => runner.default_faults(),
        Faults::None => runner,
    };
    let report = runner
        .try_run(|sim| {
            let tally = Rc::new(Tally::default());
            tallies.borrow_mut().push(tally.clone());
            scenario_timed(sim, Variant::Fixed, Some(tally))
        })
        .map_err(|err| err.to_string())?;
    let wall = start.elapsed();
    if let Some(failure) = report.failure {
        return Err(format!("{failure}"));
    }
    let tallies = tallies.borrow();
    let operations = CLIENTS as u32 * OPS_PER_CLIENT;
    if faults == Faults::None {
        if let Some((run, tally)) = tallies.iter().enumerate().find(|(_, tally)| tally.completed.get() != operations) {
            return Err(format!("run {run} completed {} of {operations} operations", tally.completed.get()));
        }
    }
    let simulated: Duration = tallies.iter().map(|tally| tally.ended.get()).sum();
    let completed: u64 = tallies.iter().map(|tally| u64::from(tally.completed.get())).sum();
    Ok(format!(
        "{seeds} runs in {:.1} s: {:.1} runs/s, {:.0} simulated s per wall s ({:.2} simulated s per run, {} worlds built, {completed} of {} operations completed)",
        wall.as_secs_f64(),
        seeds as f64 / wall.as_secs_f64(),
        simulated.as_secs_f64() / wall.as_secs_f64(),
        simulated.as_secs_f64() / tallies.len() as f64,
        tallies.len(),
        u64::from(operations) * tallies.len() as u64,
    ))
}

/// The buggy variant over `seeds` seeds, not stopping at a failure: how many fail, and of what
/// (the first words of each cause).
fn survey(seeds: u64, builder: seedsim::Builder) -> Result<String, String> {
    let mut causes: std::collections::BTreeMap<String, u64> = Default::default();
    let mut failed = 0;
    for index in 0..seeds {
        let seed = seedsim::DEFAULT_BASE_SEED.nth(index);
        let runner = Runner::new().seed(seed).determinism_checks(0).builder(builder.clone()).default_faults();
        let report = runner.try_run(|sim| scenario(sim, Variant::Buggy)).map_err(|err| err.to_string())?;
        if let Some(failure) = report.failure {
            failed += 1;
            // A panic's location without the registry's path, and the first words of its message.
            let text = failure.cause.to_string();
            let short = text.rsplit_once("/src/").map_or(text.as_str(), |(_, rest)| rest);
            let cause: String = short.chars().take(80).collect();
            *causes.entry(cause).or_default() += 1;
        }
    }
    let mut text = format!("{failed} of {seeds} seeds failed");
    for (cause, count) in causes {
        text.push_str(&format!("\n  {count:4} {cause}"));
    }
    Ok(text)
}

fn main() -> ExitCode {
    let (mut fixed, mut real_mode, mut port, mut seeds) = (false, false, 17200u16, None);
    let (mut bench_seeds, mut survey_seeds, mut bench_faults) = (None, None, Faults::Default);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let parsed = match arg.as_str() {
            "--fixed" => {
                fixed = true;
                Ok(())
            }
            "--real" => {
                real_mode = true;
                Ok(())
            }
            "--no-faults" => {
                bench_faults = Faults::None;
                Ok(())
            }
            "--port" => args.next().and_then(|p| p.parse().ok()).map(|p| port = p).ok_or("--port needs a number"),
            "--bench" => {
                args.next().and_then(|n| n.parse().ok()).map(|n| bench_seeds = Some(n)).ok_or("--bench needs a number")
            }
            "--survey" => args
                .next()
                .and_then(|n| n.parse().ok())
                .map(|n| survey_seeds = Some(n))
                .ok_or("--survey needs a number"),
            "--seeds" => {
                args.next().and_then(|n| n.parse().ok()).map(|n| seeds = Some(n)).ok_or("--seeds needs a number")
            }
            _ => Err("expected --fixed, --seeds N, --real, --port N, --bench N, --no-faults, --survey N"),
        };
        if let Err(message) = parsed {
            eprintln!("raftkv: bad argument {arg:?}: {message}");
            return ExitCode::from(2);
        }
    }
    if bench_faults == Faults::None && bench_seeds.is_none() {
        eprintln!("raftkv: --no-faults applies to --bench N only");
        return ExitCode::from(2);
    }
    if real_mode {
        return match real(port) {
            Ok(summary) => {
                println!("raftkv: {summary}");
                ExitCode::SUCCESS
            }
            Err(err) => {
                eprintln!("raftkv: {err}");
                ExitCode::from(1)
            }
        };
    }
    // openraft reads a monotonic clock (and asserts that it never goes back): clock faults
    // may run a node's clock fast or slow or step it forward, as CLOCK_MONOTONIC can be, but
    // not set it back. A node exits on a disk error it cannot handle (openraft stops on one),
    // and its supervisor restarts it.
    let builder =
        Sim::builder().clocks_monotonic().on_node_error(OnNodeError::Restart { after: Duration::from_secs(1) });
    if let Some(seeds) = bench_seeds {
        return match bench(seeds, builder, bench_faults) {
            Ok(summary) => {
                println!("raftkv bench: {summary}");
                ExitCode::SUCCESS
            }
            Err(err) => {
                eprintln!("raftkv bench: {err}");
                ExitCode::from(1)
            }
        };
    }
    if let Some(seeds) = survey_seeds {
        return match survey(seeds, builder) {
            Ok(summary) => {
                println!("raftkv survey (buggy variant): {summary}");
                ExitCode::SUCCESS
            }
            Err(err) => {
                eprintln!("raftkv survey: {err}");
                ExitCode::from(2)
            }
        };
    }
    let variant = if fixed { Variant::Fixed } else { Variant::Buggy };
    let command = if fixed { "cargo run -- --fixed" } else { "cargo run --" };
    let runner = Runner::new().seeds(seeds.unwrap_or(300)).builder(builder).default_faults().replay_command(command);
    let plan = match runner.plan() {
        Ok(plan) => plan,
        Err(err) => {
            eprintln!("raftkv: {err}");
            return ExitCode::from(2);
        }
    };
    if !plan.exact {
        println!("raftkv: the {variant:?} variant over {} seeds from {}", plan.seeds, plan.base_seed);
    }
    match runner.try_run(|sim| scenario(sim, variant)) {
        Err(err) => {
            eprintln!("raftkv: {err}");
            ExitCode::from(2)
        }
        Ok(report) => match report.failure {
            Some(failure) => {
                println!("raftkv: seed {} failed after {} passing seed(s):\n{failure}", failure.seed, report.passed);
                ExitCode::from(1)
            }
            None => {
                println!("raftkv: all {} seed(s) passed", report.passed);
                ExitCode::SUCCESS
            }
        },
    }
}
