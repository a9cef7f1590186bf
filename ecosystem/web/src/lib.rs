//! hyper, axum and tonic on seedsim: the harness the two examples share.
//!
//! Each example (`examples/axum_kv.rs`, `examples/tonic_kv.rs`) brings only its protocol: a
//! function that serves a [`Store`] on a listener, and a [`KvClient`]. This crate brings
//! the rest: the durable store (`store`), the clients and their history (`workload`), the
//! simulated world under crashes, pauses, partitions and clogs, and the command line, which
//! runs many seeds, one seed (printing its trace hash, so two processes can compare), or the
//! same node code as a real server and real clients on loopback (`--real`).
//!
//! ```text
//! cargo run --example axum_kv                        # 100 seeds of the correct store
//! cargo run --example axum_kv -- --buggy             # finds the planted bug, prints the replay line
//! cargo run --example axum_kv -- --seed 0x2a         # one seed, and its trace hash
//! cargo run --example axum_kv -- --real --port 7300  # a real server and three clients on loopback
//! ```
//!
//! Exit codes: 0 every seed passed (or the real run's history checked out), 1 a run failed
//! (its report and replay line are printed), 2 bad input.

pub mod store;
pub mod workload;

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::process::ExitCode;
use std::time::Duration;

use seedsim::check::{check, Checker, Kv, Verdict};
use seedsim::fault::{Profile, Weights};
use seedsim::net::TcpListener;
use seedsim::{Error, Runner, Seed, Sim};

pub use store::{Durability, Store};
pub use workload::{History, KvClient};

/// How a server serves the store: it accepts connections on `listener` until its node stops.
pub type Serve = fn(TcpListener, Store) -> Pin<Box<dyn Future<Output = io::Result<()>>>>;

/// An example: its name (for messages and replay lines), its server and its client type.
#[derive(Clone, Copy, Debug)]
pub struct App {
    /// The example's name, as `cargo run --example` takes it.
    pub name: &'static str,
    /// Serve the store over the example's protocol.
    pub serve: Serve,
}

/// Operations per client, before its final reads.
const OPS: u32 = 30;
/// Clients in a simulated run, and in a real one.
const CLIENTS: u64 = 3;

/// The faults of every simulated run: the server crashes, pauses, is cut off or clogged, one
/// fault at a time, during the first 3 s.
pub fn profile() -> Profile {
    let mut weights = Weights::default();
    (weights.crash, weights.pause, weights.partition, weights.clog) = (3, 1, 2, 1);
    Profile::calm()
        .weights(weights)
        .duration(Duration::from_secs(3))
        .interval(Duration::from_millis(100), Duration::from_millis(400))
        .fault_length(Duration::from_millis(50), Duration::from_millis(500))
        .down_max(1)
        .focus("kv")
}

/// The server's node code, the same in a simulation and on loopback: open the store, listen,
/// serve.
async fn server(app: App, durability: Durability, addr: String) -> io::Result<()> {
    let store = Store::open(durability).await?;
    let listener = TcpListener::bind(addr).await?;
    (app.serve)(listener, store).await
}

/// The simulated world: the server `kv` and three clients, whose history must be
/// linearizable.
pub fn scenario<C: KvClient + 'static>(sim: &mut Sim, app: App, durability: Durability) -> Result<(), Error> {
    sim.node("kv", move || server(app, durability, "0.0.0.0:80".to_owned()))?;
    let history = History::new();
    for id in 0..CLIENTS {
        sim.client(&format!("client{id}"), workload::client::<C>(id, "kv:80".to_owned(), OPS, history.clone()))?;
    }
    sim.check_history(&history, Kv::new(), Checker::new());
    Ok(())
}

/// What the command line asked for.
#[derive(Debug)]
struct Args {
    durability: Durability,
    seeds: u64,
    seed: Option<Seed>,
    real: bool,
    port: u16,
}

fn parse_args(app: App) -> Result<Args, String> {
    let mut parsed = Args { durability: Durability::SyncEachPut, seeds: 100, seed: None, real: false, port: 7300 };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |expected: &str| args.next().ok_or_else(|| format!("{arg} needs {expected}"));
        match arg.as_str() {
            "--buggy" => parsed.durability = Durability::SyncEveryFourth,
            "--real" => parsed.real = true,
            "--seeds" => {
                let seeds = value("a number of seeds from 1 up")?;
                parsed.seeds = seeds
                    .parse()
                    .ok()
                    .filter(|&n| n > 0)
                    .ok_or_else(|| format!("--seeds {seeds:?}: expected a number of seeds from 1 up"))?;
            }
            "--seed" => {
                let seed = value("a seed")?;
                parsed.seed = Some(seed.parse().map_err(|err: Error| format!("--seed: {err}"))?);
            }
            "--port" => {
                let port = value("a port")?;
                parsed.port = port
                    .parse()
                    .ok()
                    .filter(|&p| p > 0)
                    .ok_or_else(|| format!("--port {port:?}: expected a port from 1 to 65535"))?;
            }
            other => {
                return Err(format!(
                    "unknown argument {other:?}: expected --buggy, --seeds N, --seed S, --real, --port P \
                     (cargo run --example {} -- [FLAGS])",
                    app.name
                ))
            }
        }
    }
    Ok(parsed)
}

/// The examples' `main`: parse the command line, run, and map the result to an exit code.
pub fn main<C: KvClient + 'static>(app: App) -> ExitCode {
    let args = match parse_args(app) {
        Ok(args) => args,
        Err(message) => {
            eprintln!("{}: {message}", app.name);
            return ExitCode::from(2);
        }
    };
    if args.real {
        return real::<C>(app, args.port);
    }
    let buggy = if args.durability == Durability::SyncEveryFourth { " --buggy" } else { "" };
    if let Some(seed) = args.seed {
        return one_seed::<C>(app, args.durability, seed);
    }
    let command = format!("cargo run --manifest-path ecosystem/web/Cargo.toml --example {} --{buggy}", app.name);
    let runner = Runner::new().seeds(args.seeds).nemesis(profile()).replay_command(command);
    // The harness times itself to report runs per second; nothing simulated reads this clock.
    #[allow(clippy::disallowed_methods, clippy::disallowed_types)]
    let started = std::time::Instant::now();
    match runner.try_run(|sim| scenario::<C>(sim, app, args.durability)) {
        Err(err) => {
            eprintln!("{}: {err}", app.name);
            ExitCode::from(2)
        }
        Ok(report) => match report.failure {
            Some(failure) => {
                println!(
                    "{}: seed {} failed after {} passing seed(s):\n{failure}",
                    app.name, failure.seed, report.passed
                );
                ExitCode::from(1)
            }
            None => {
                let seconds = started.elapsed().as_secs_f64();
                println!(
                    "{}: all {} seed(s) passed ({} runs in {seconds:.1} s, {:.0} runs/s)",
                    app.name,
                    report.passed,
                    report.runs,
                    report.runs as f64 / seconds
                );
                ExitCode::SUCCESS
            }
        },
    }
}

/// Run one seed and print its outcome and trace hash: two processes that print the same hash
/// ran the same events.
fn one_seed<C: KvClient + 'static>(app: App, durability: Durability, seed: Seed) -> ExitCode {
    let run = || -> Result<seedsim::Outcome, Error> {
        let mut sim = Sim::builder().seed(seed).build()?;
        scenario::<C>(&mut sim, app, durability)?;
        sim.nemesis(profile())?;
        Ok(sim.run())
    };
    match run() {
        Err(err) => {
            eprintln!("{}: {err}", app.name);
            ExitCode::from(2)
        }
        Ok(outcome) => {
            let verdict = if outcome.is_passed() { "passed" } else { "failed" };
            println!("{}: seed {seed} {verdict}", app.name);
            println!("  trace hash: 0x{:016x}", outcome.trace_hash());
            match outcome {
                seedsim::Outcome::Failed(failure) => {
                    println!("{failure}");
                    ExitCode::from(1)
                }
                _ => ExitCode::SUCCESS,
            }
        }
    }
}

/// The same node code on the real backend: the server on its own thread and runtime,
/// listening on `127.0.0.1:port` with its log in a temporary directory, and three clients on
/// this thread. Their history must be linearizable too.
fn real<C: KvClient + 'static>(app: App, port: u16) -> ExitCode {
    let data = std::env::temp_dir().join(format!("seedsim-{}-{}", app.name, std::process::id()));
    let addr = format!("127.0.0.1:{port}");
    println!("{}: a real server on {addr}, its log in {}", app.name, data.display());
    let server_data = data.clone();
    let server_addr = addr.clone();
    // A real server is a machine in miniature: a thread and a runtime of its own.
    #[allow(clippy::disallowed_methods)]
    std::thread::spawn(move || {
        let runtime = seedsim::real::Runtime::new().expect("a tokio runtime starts").data_dir(server_data);
        if let Err(err) = runtime.block_on(server(app, Durability::SyncEachPut, server_addr)) {
            eprintln!("{}: the server stopped: {err}", app.name);
        }
    });
    let history = History::new();
    let clients = async {
        let tasks: Vec<_> = (0..CLIENTS)
            .map(|id| seedsim::task::spawn(workload::client::<C>(id, addr.clone(), OPS, history.clone())))
            .collect();
        for task in tasks {
            task.await.map_err(io::Error::other)??;
        }
        Ok::<(), io::Error>(())
    };
    let ran = seedsim::real::Runtime::new().and_then(|runtime| runtime.block_on(clients));
    let _ = std::fs::remove_dir_all(&data);
    if let Err(err) = ran {
        eprintln!("{}: {err}", app.name);
        return ExitCode::from(1);
    }
    let history = history.history();
    match check(&Kv::new(), &*history) {
        Verdict::Linearizable => {
            println!("{}: {} operations on real sockets, linearizable", app.name, history.len());
            ExitCode::SUCCESS
        }
        verdict => {
            eprintln!("{}: {verdict}", app.name);
            ExitCode::from(1)
        }
    }
}
