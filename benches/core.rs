//! The core benchmark: events per second of the simulator on eight workloads (datagram
//! ping-pong, datagram fan-out, timers, task spawning in batches and all at once, whole tiny
//! simulations, stream round trips, RPC calls), each built with the public seedsim API only,
//! timed best of three, and compared with the faster of the two peers (turmoil 0.7.2, madsim
//! 0.2.34) measured on the same workloads, where a peer figure exists (`-` where none was
//! measured yet).
//!
//! Every simulation a workload runs must pass (`Outcome::unwrap`) and must have done the work
//! it was asked to do (datagrams delivered, tasks spawned), so a broken simulator cannot post a
//! fast number. `SEEDSIM_BENCH_QUICK=1` shrinks every workload twenty-fold for a smoke run.
//! The page that explains the numbers is `docs/performance.md`.

// Timing the benchmark itself is the one legitimate use of the host clock: clippy.toml bans
// `std::time::Instant` for the simulated path, and nothing timed here runs inside a simulation.
#![allow(clippy::disallowed_types, clippy::disallowed_methods)]

#[path = "support/quick.rs"]
mod quick;

use std::hint::black_box;
use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use futures::io::{AsyncReadExt, AsyncWriteExt};
use seedsim::net::{lookup, Link, TcpListener, TcpStream, UdpSocket};
use seedsim::rand::RngExt;
use seedsim::rpc::{Client, Request, Server};
use seedsim::{task, time, Seed, Sim, Summary};

/// Bytes in every datagram the network workloads send.
const MESSAGE_LEN: usize = 64;
/// The port every server socket binds.
const PORT: u16 = 9000;
/// Timed repetitions per workload; the best is reported.
const REPETITIONS: usize = 3;
/// The divisor `SEEDSIM_BENCH_QUICK=1` applies to every workload's size.
const QUICK_DIVISOR: u64 = 20;

/// One workload: what it is called, what it counts, the faster peer's rate, and how to run it.
struct Workload {
    name: &'static str,
    unit: &'static str,
    /// The faster of turmoil 0.7.2 and madsim 0.2.34 on this workload (units per second), or
    /// 0.0 where no peer figure was measured.
    peer_rate: f64,
    peer_name: &'static str,
    /// The workload's size at full scale, in `unit`s.
    count: u64,
    /// Runs the workload at `count` units; returns the units actually done.
    run: fn(u64) -> u64,
}

fn main() {
    // `cargo bench` passes `--bench`; a filter word among the arguments picks workloads.
    let filters: Vec<String> = std::env::args().skip(1).filter(|arg| !arg.starts_with('-')).collect();
    let quick = quick::quick();
    let workloads = [
        Workload {
            name: "ping-pong",
            unit: "messages",
            peer_rate: 0.33e6,
            peer_name: "madsim",
            count: 2_000_000,
            run: ping_pong,
        },
        Workload {
            name: "fan-out",
            unit: "messages",
            peer_rate: 0.60e6,
            peer_name: "turmoil",
            count: 2_000_000,
            run: fan_out,
        },
        Workload {
            name: "timers",
            unit: "fires",
            peer_rate: 0.88e6,
            peer_name: "turmoil",
            count: 1_000_000,
            run: timers,
        },
        Workload {
            name: "spawn",
            unit: "tasks",
            peer_rate: 1.26e6,
            peer_name: "turmoil",
            count: 1_000_000,
            run: spawn,
        },
        Workload {
            name: "spawn-live",
            unit: "tasks",
            // The independent side-by-side run's figure for turmoil 0.7.2 on this shape
            // (issue 17), where seedsim was slower.
            peer_rate: 0.79e6,
            peer_name: "turmoil",
            count: 1_000_000,
            run: spawn_live,
        },
        Workload {
            name: "tiny sims",
            unit: "sims",
            peer_rate: 36e3,
            peer_name: "madsim",
            count: 100_000,
            run: tiny_sims,
        },
        Workload {
            name: "stream",
            unit: "trips",
            peer_rate: 0.0,
            peer_name: "-",
            count: 200_000,
            run: stream_round_trips,
        },
        Workload { name: "rpc", unit: "calls", peer_rate: 0.0, peer_name: "-", count: 200_000, run: rpc_calls },
    ];

    println!("seedsim core benchmark ({} mode, best of {REPETITIONS})", if quick { "quick" } else { "full" });
    println!(
        "{:<10} {:>10} {:<8} {:>9} {:>7} {:>11} {:>11} {:<8} {:>6}",
        "workload", "count", "unit", "seconds", "spread", "rate/s", "peer/s", "peer", "ratio"
    );
    for workload in &workloads {
        if !filters.is_empty() && !filters.iter().any(|f| workload.name.contains(f.as_str())) {
            continue;
        }
        let count = if quick { workload.count / QUICK_DIVISOR } else { workload.count };
        let (mut best, mut worst) = (Duration::MAX, Duration::ZERO);
        let mut done = 0;
        for _ in 0..REPETITIONS {
            let started = Instant::now();
            done = black_box((workload.run)(black_box(count)));
            let elapsed = started.elapsed();
            best = best.min(elapsed);
            worst = worst.max(elapsed);
        }
        assert_eq!(done, count, "{}: did {done} {} of {count}", workload.name, workload.unit);
        let rate = done as f64 / best.as_secs_f64();
        let (peer, ratio) = if workload.peer_rate > 0.0 {
            (human(workload.peer_rate), format!("{:.2}", rate / workload.peer_rate))
        } else {
            ("-".to_owned(), "-".to_owned())
        };
        println!(
            "{:<10} {:>10} {:<8} {:>9.3} {:>6.0}% {:>11} {:>11} {:<8} {:>6}",
            workload.name,
            done,
            workload.unit,
            best.as_secs_f64(),
            // How much slower the worst repetition was: a noisy machine shows here.
            (worst.as_secs_f64() / best.as_secs_f64() - 1.0) * 100.0,
            human(rate),
            peer,
            workload.peer_name,
            ratio,
        );
    }
}

/// A rate with a k/M suffix, three significant digits.
fn human(rate: f64) -> String {
    if rate >= 1e6 {
        format!("{:.2}M", rate / 1e6)
    } else if rate >= 1e3 {
        format!("{:.1}k", rate / 1e3)
    } else {
        format!("{rate:.0}")
    }
}

/// Run a simulation to its end and insist it passed.
fn run_passing(mut sim: Sim) -> Summary {
    sim.run().unwrap()
}

/// A server that sends every datagram back to its sender, forever.
async fn echo() -> io::Result<()> {
    let socket = UdpSocket::bind(("0.0.0.0", PORT)).await?;
    let mut buf = [0u8; MESSAGE_LEN];
    loop {
        let (len, from) = socket.recv_from(&mut buf).await?;
        socket.send_to(&buf[..len], from).await?;
    }
}

/// Workload 1: `messages / 2` round trips of a 64-byte datagram between a client and an echo
/// server over a 1 ms fixed link, default (random) scheduling. Counts datagrams delivered.
fn ping_pong(messages: u64) -> u64 {
    let round_trips = messages / 2;
    let mut sim = Sim::builder()
        .seed(Seed(1))
        .link(Link::fixed(Duration::from_millis(1)))
        .time_limit(Duration::from_secs(1 << 20))
        .build()
        .expect("a valid config");
    sim.node("server", echo).expect("a new node");
    sim.client("client", async move {
        let socket = UdpSocket::bind("0.0.0.0:0").await?;
        let server = SocketAddr::new(lookup("server").map_err(io::Error::other)?, PORT);
        let mut buf = [0u8; MESSAGE_LEN];
        for round in 0..round_trips {
            let message = [round as u8; MESSAGE_LEN];
            socket.send_to(&message, server).await?;
            let (len, _) = socket.recv_from(&mut buf).await?;
            assert_eq!(len, MESSAGE_LEN);
            assert_eq!(buf[0], round as u8);
        }
        Ok::<(), io::Error>(())
    })
    .expect("a new client");
    let summary = run_passing(sim);
    assert_eq!(summary.net.sent, round_trips * 2);
    // Every round trip crosses the 1 ms link twice, so the clock must have moved that far.
    assert!(summary.time.as_nanos() >= round_trips * 2_000_000);
    summary.net.delivered
}

/// Workload 2: five nodes; each round every node sends a 64-byte datagram to each of the
/// other four, then receives four. 1 ms fixed link, default scheduling. Counts datagrams
/// delivered (20 per round).
fn fan_out(messages: u64) -> u64 {
    const NODES: usize = 5;
    let per_round = (NODES * (NODES - 1)) as u64;
    let rounds = messages / per_round;
    let mut sim = Sim::builder()
        .seed(Seed(2))
        .link(Link::fixed(Duration::from_millis(1)))
        .time_limit(Duration::from_secs(1 << 20))
        .build()
        .expect("a valid config");
    for me in 0..NODES {
        sim.client(&format!("n{me}"), async move {
            let socket = UdpSocket::bind(("0.0.0.0", PORT)).await?;
            let mut peers = Vec::with_capacity(NODES - 1);
            for other in (0..NODES).filter(|&other| other != me) {
                let ip = lookup(&format!("n{other}")).map_err(io::Error::other)?;
                peers.push(SocketAddr::new(ip, PORT));
            }
            let message = [me as u8; MESSAGE_LEN];
            let mut buf = [0u8; MESSAGE_LEN];
            for _ in 0..rounds {
                for &peer in &peers {
                    socket.send_to(&message, peer).await?;
                }
                for _ in 0..peers.len() {
                    let (len, _) = socket.recv_from(&mut buf).await?;
                    assert_eq!(len, MESSAGE_LEN);
                }
            }
            Ok::<(), io::Error>(())
        })
        .expect("a new client");
    }
    let summary = run_passing(sim);
    assert_eq!(summary.net.sent, rounds * per_round);
    assert!(summary.time.as_nanos() >= rounds * 1_000_000);
    summary.net.delivered
}

/// Workload 3: `fires / 10` tasks, each sleeping ten times for a random 1–100 ms drawn from
/// `seedsim::rand::rng()`. Counts timer fires.
fn timers(fires: u64) -> u64 {
    const SLEEPS: u64 = 10;
    let tasks = fires / SLEEPS;
    let mut sim = Sim::new(Seed(3));
    sim.client("sleeper", async move {
        let handles: Vec<_> = (0..tasks)
            .map(|_| {
                task::spawn(async {
                    for _ in 0..SLEEPS {
                        let ms = seedsim::rand::rng().random_range(1..=100u64);
                        time::sleep(Duration::from_millis(ms)).await;
                    }
                    SLEEPS
                })
            })
            .collect();
        let mut fired = 0;
        for handle in handles {
            fired += handle.await.map_err(io::Error::other)?;
        }
        assert_eq!(fired, tasks * SLEEPS);
        Ok::<(), io::Error>(())
    })
    .expect("a new client");
    let summary = run_passing(sim);
    assert_eq!(summary.tasks_spawned, tasks + 1);
    tasks * SLEEPS
}

/// Workload 4: spawn trivial tasks in batches of 1,000 and await each batch (spawn, run,
/// complete, join). Counts tasks.
fn spawn(tasks: u64) -> u64 {
    const BATCH: u64 = 1_000;
    let mut sim = Sim::new(Seed(4));
    sim.client("spawner", async move {
        let mut handles = Vec::with_capacity(BATCH as usize);
        let mut left = tasks;
        while left > 0 {
            let batch = left.min(BATCH);
            handles.extend((0..batch).map(|_| task::spawn(async {})));
            for handle in handles.drain(..) {
                handle.await.map_err(io::Error::other)?;
            }
            left -= batch;
        }
        Ok::<(), io::Error>(())
    })
    .expect("a new client");
    let summary = run_passing(sim);
    summary.tasks_spawned - 1
}

/// Workload 4b: spawn every trivial task first, then await them all: every task is live at
/// once, so each pick lands anywhere among a million tasks' state. Counts tasks.
fn spawn_live(tasks: u64) -> u64 {
    let mut sim = Sim::new(Seed(4));
    sim.client("spawner", async move {
        let handles: Vec<_> = (0..tasks).map(|_| task::spawn(async {})).collect();
        for handle in handles {
            handle.await.map_err(io::Error::other)?;
        }
        Ok::<(), io::Error>(())
    })
    .expect("a new client");
    let summary = run_passing(sim);
    summary.tasks_spawned - 1
}

/// Workload 5: whole simulations, each with its own seed: build a world of an echo server
/// and two clients that send three datagrams each over the default link (1–10 ms uniform),
/// run it to the end, drop it. Counts simulations.
fn tiny_sims(sims: u64) -> u64 {
    const PINGS: u8 = 3;
    let mut passed = 0;
    for seed in 0..sims {
        let mut sim = Sim::new(Seed(0x5eed_0000 + seed));
        sim.node("server", echo).expect("a new node");
        for client in ["a", "b"] {
            sim.client(client, async {
                let socket = UdpSocket::bind("0.0.0.0:0").await?;
                let mut buf = [0u8; MESSAGE_LEN];
                for ping in 0..PINGS {
                    socket.send_to(&[ping; MESSAGE_LEN], ("server", PORT)).await?;
                    let (len, _) = socket.recv_from(&mut buf).await?;
                    assert_eq!((len, buf[0]), (MESSAGE_LEN, ping));
                }
                Ok::<(), io::Error>(())
            })
            .expect("a new client");
        }
        let summary = run_passing(sim);
        assert_eq!(summary.net.delivered, 4 * u64::from(PINGS));
        passed += 1;
    }
    passed
}

/// Workload 6: `trips` round trips of 64 bytes over one `TcpStream` between a client and an
/// echo server, over a 1 ms fixed link: the client writes a message and reads the echo, then
/// the next. Counts round trips.
fn stream_round_trips(trips: u64) -> u64 {
    let mut sim = Sim::builder()
        .seed(Seed(6))
        .link(Link::fixed(Duration::from_millis(1)))
        .time_limit(Duration::from_secs(1 << 20))
        .build()
        .expect("a valid config");
    sim.node("server", || async {
        let listener = TcpListener::bind(("0.0.0.0", PORT)).await?;
        let (mut stream, _) = listener.accept().await?;
        let mut buf = [0u8; MESSAGE_LEN];
        loop {
            if let Err(err) = stream.read_exact(&mut buf).await {
                // The client closed after its last round trip.
                return if err.kind() == io::ErrorKind::UnexpectedEof { Ok(()) } else { Err(err) };
            }
            stream.write_all(&buf).await?;
        }
    })
    .expect("a new node");
    sim.client("client", async move {
        let mut stream = TcpStream::connect(("server", PORT)).await?;
        let mut buf = [0u8; MESSAGE_LEN];
        for trip in 0..trips {
            stream.write_all(&[trip as u8; MESSAGE_LEN]).await?;
            stream.read_exact(&mut buf).await?;
            assert_eq!(buf[0], trip as u8);
        }
        Ok::<(), io::Error>(())
    })
    .expect("a new client");
    let summary = run_passing(sim);
    assert_eq!(summary.net.connections, 1);
    assert_eq!(summary.net.retransmits, 0);
    // Every trip crosses the link twice, and each carries a data segment each way.
    assert!(summary.time.as_nanos() >= trips * 2_000_000);
    assert!(summary.net.segments_delivered >= 2 * trips);
    trips
}

/// The RPC workload's request: a sum.
#[derive(Clone, Debug)]
struct Add(u64, u64);

impl Request for Add {
    type Response = u64;
}

/// Workload 7: `calls` typed RPC calls, one after another, from one client to a server over a
/// 1 ms fixed link (one connection; each call a request frame, a handler task, a reply frame).
/// Counts calls.
fn rpc_calls(calls: u64) -> u64 {
    let mut sim = Sim::builder()
        .seed(Seed(7))
        .link(Link::fixed(Duration::from_millis(1)))
        .time_limit(Duration::from_secs(1 << 20))
        .build()
        .expect("a valid config");
    sim.node("server", || async {
        let server = Server::new().handle(|Add(a, b)| async move { Ok::<_, String>(a + b) });
        server.serve(TcpListener::bind(("0.0.0.0", PORT)).await?).await
    })
    .expect("a new node");
    sim.client("client", async move {
        let server = Client::new(("server", PORT));
        for call in 0..calls {
            let sum = server.call(Add(call, 1), Duration::from_secs(1)).await.map_err(io::Error::from)?;
            assert_eq!(sum, call + 1);
        }
        Ok::<(), io::Error>(())
    })
    .expect("a new client");
    let summary = run_passing(sim);
    assert_eq!(summary.net.connections, 1);
    assert!(summary.time.as_nanos() >= calls * 2_000_000);
    calls
}
