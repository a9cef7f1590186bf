//! The scale benchmark: how the cost of an event and the memory of a world grow with the
//! world. Gossip among 10, 100, 1,000 and 10,000 nodes (the same number of messages at every
//! size), a million datagrams in flight at once, and the cost of partitions between large
//! sets: 1,000 and 10,000 idle nodes split in halves and repaired, and 10,000 nodes under the
//! `chaos` nemesis for 10 simulated seconds. Each gossip size runs twice, the second
//! world delivering twice the messages of the first: the difference in time over the
//! difference in messages is the marginal cost of a message, with the world's setup and
//! teardown (which grow with the nodes, not with the events) cancelled out. That cost is
//! compared with the growth of log2(nodes). Peak heap comes from a counting allocator around
//! the system's, so the figure is exact and reset between sizes.
//!
//! Every run must pass and must have delivered exactly the messages it counts; the in-flight
//! workload also checks that all its datagrams were in flight at one instant (`Sim::counts`).
//! The partition workloads check that a repair leaves no state behind and that traffic flowed
//! under chaos. `SEEDSIM_BENCH_QUICK=1` runs each gossip and in-flight workload twelve times
//! smaller (one and two gossip rounds at 10,000 nodes) and the partition workloads with a
//! tenth of the nodes: a smoke test whose figures are not a scaled-down version of the full
//! ones. A word on the command line picks workloads by label (`10000`, `flight`, `halves`,
//! `chaos`). The page
//! that explains the numbers is `docs/performance.md`.

// Timing the benchmark itself is the one legitimate use of the host clock: clippy.toml bans
// `std::time::Instant` for the simulated path, and nothing timed here runs inside a simulation.
#![allow(clippy::disallowed_types, clippy::disallowed_methods)]

#[path = "support/quick.rs"]
mod quick;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::{Duration, Instant};

use seedsim::fault::{Fault, FaultPlan, Profile};
use seedsim::net::UdpSocket;
use seedsim::{End, OnLimit, Seed, Sim};

/// The system allocator, counting the bytes live now and the most live since the last reset.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every method forwards to `System` with the caller's arguments unchanged; the
// counters are plain atomics and never affect what is allocated.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded as is; the caller upholds `alloc`'s contract.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            grew(layout.size());
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as `alloc`.
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if !ptr.is_null() {
            grew(layout.size());
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from this allocator (so from `System`) with `layout`.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: `ptr` came from `System` with `layout`; the caller upholds the rest.
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            LIVE.fetch_sub(layout.size(), Relaxed);
            grew(new_size);
        }
        new
    }
}

fn grew(bytes: usize) {
    let live = LIVE.fetch_add(bytes, Relaxed) + bytes;
    PEAK.fetch_max(live, Relaxed);
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Forget the peak so far: the next `peak_since_reset` is the most live from now on, above
/// what is live now.
fn reset_peak() -> usize {
    let live = LIVE.load(Relaxed);
    PEAK.store(live, Relaxed);
    live
}

/// Bytes of 64-byte message.
const MESSAGE_LEN: usize = 64;
/// The port every node binds.
const PORT: u16 = 9000;
/// Each node sends this many messages per gossip round.
const FANOUT: u64 = 4;
/// Messages delivered in the longer of each gossip size's two worlds, whatever its size (the
/// shorter delivers half).
const GOSSIP_MESSAGES: u64 = 1_000_000;
/// Datagrams in flight at once in the in-flight workload, and the nodes that send them.
const IN_FLIGHT: u64 = 1_000_000;
const IN_FLIGHT_NODES: u64 = 1_000;
/// Timed repetitions per size; the best is reported.
const REPETITIONS: usize = 5;
/// Nodes of the chaos workload (a tenth in quick mode).
const CHAOS_NODES: u64 = 10_000;
/// How often each node of the chaos workload sends a datagram.
const CHAOS_PERIOD: Duration = Duration::from_millis(200);
/// Quick mode's divisor: half of 1,000,000 / 12 is 41,666 messages, one round of 10,000 nodes.
const QUICK_DIVISOR: u64 = 12;

fn main() {
    // `cargo bench` passes `--bench`; a filter word among the arguments picks workloads by
    // their label ("nodes", "10000", "flight").
    let filters: Vec<String> = std::env::args().skip(1).filter(|arg| !arg.starts_with('-')).collect();
    let wanted = |label: &str| filters.is_empty() || filters.iter().any(|f| label.contains(f.as_str()));
    let quick = quick::quick();
    let divisor = if quick { QUICK_DIVISOR } else { 1 };
    println!("seedsim scale benchmark ({} mode, best of {REPETITIONS})", if quick { "quick" } else { "full" });
    println!(
        "{:<22} {:>9} {:>8} {:>9} {:>10} {:>10} {:>9} {:>10} {:>10}",
        "workload", "messages", "seconds", "ns/msg", "marginal", "vs 10", "log2 ×", "peak heap", "heap/node"
    );
    let mut first_cost = None;
    for nodes in [10, 100, 1_000, 10_000] {
        let label = format!("gossip, {nodes} nodes");
        if !wanted(&label) {
            continue;
        }
        // Two runs, one twice as long: the difference is the cost of the extra messages alone,
        // without the world's setup and teardown (which grow with the nodes, not the events).
        let half = GOSSIP_MESSAGES / 2 / divisor;
        let (short, _, short_messages) = measure(|| gossip(nodes, half));
        let (long, peak, messages) = measure(|| gossip(nodes, 2 * half));
        let marginal = (long - short) * 1e9 / (messages - short_messages) as f64;
        let first = *first_cost.get_or_insert(marginal);
        println!(
            "{:<22} {:>9} {:>8.3} {:>9.1} {:>10.1} {:>9.2}x {:>8.2}x {:>10} {:>10}",
            label,
            messages,
            long,
            long * 1e9 / messages as f64,
            marginal,
            marginal / first,
            (nodes as f64).log2() / 10f64.log2(),
            bytes(peak),
            bytes(peak / nodes as usize),
        );
    }
    for nodes in [1_000, 10_000] {
        let nodes = if quick { nodes / 10 } else { nodes };
        let label = format!("halves, {nodes} nodes");
        if !wanted(&label) {
            continue;
        }
        let (seconds, peak, _) = measure(|| halves(nodes));
        println!(
            "{:<22} {:>9} {:>8.3} {:>9} {:>10} {:>10} {:>9} {:>10} {:>10}",
            label,
            "-",
            seconds,
            "-",
            "-",
            "-",
            "-",
            bytes(peak),
            bytes(peak / nodes as usize),
        );
    }
    let nodes = if quick { CHAOS_NODES / 10 } else { CHAOS_NODES };
    let label = format!("chaos, {nodes} nodes");
    if wanted(&label) {
        let (seconds, peak, messages) = measure(|| chaos(nodes));
        println!(
            "{:<22} {:>9} {:>8.3} {:>9.1} {:>10} {:>10} {:>9} {:>10} {:>10}",
            label,
            messages,
            seconds,
            seconds * 1e9 / messages as f64,
            "-",
            "-",
            "-",
            bytes(peak),
            bytes(peak / nodes as usize),
        );
    }
    let in_flight = IN_FLIGHT / divisor;
    let label = format!("{in_flight} in flight");
    if !wanted(&label) {
        return;
    }
    let (seconds, peak, in_flight) = measure(|| flood(IN_FLIGHT_NODES, in_flight));
    println!(
        "{:<22} {:>9} {:>8.3} {:>9.1} {:>10} {:>10} {:>9} {:>10} {:>10}",
        label,
        in_flight,
        seconds,
        seconds * 1e9 / in_flight as f64,
        "-",
        "-",
        "-",
        bytes(peak),
        format!("{}/msg", bytes(peak / in_flight as usize)),
    );
}

/// Runs `workload` `REPETITIONS` times: the fastest time in seconds, the largest peak heap
/// above what was live before it (the runs are deterministic, so the peaks agree), and the
/// messages it delivered.
fn measure(workload: impl Fn() -> u64) -> (f64, usize, u64) {
    let (mut best, mut peak, mut messages) = (f64::MAX, 0, 0);
    for _ in 0..REPETITIONS {
        let before = reset_peak();
        let start = Instant::now();
        messages = workload();
        best = best.min(start.elapsed().as_secs_f64());
        peak = peak.max(PEAK.load(Relaxed) - before);
    }
    (best, peak, messages)
}

fn bytes(n: usize) -> String {
    if n >= 10 << 20 {
        format!("{} MiB", n >> 20)
    } else if n >= 10 << 10 {
        format!("{} KiB", n >> 10)
    } else {
        format!("{n} B")
    }
}

/// The address of the node added `index`-th, as `NodeId::ip` numbers them (10.0.0.1 for the
/// first, counting up), at `PORT`.
fn address(index: u64) -> SocketAddr {
    let host = index + 1;
    SocketAddr::from((Ipv4Addr::new(10, (host >> 16) as u8, (host >> 8) as u8, host as u8), PORT))
}

/// The `k`-th peer offset of `round`, 1 to `nodes - 1`: the same for every node, so each node
/// receives exactly `FANOUT` messages a round (from the nodes those offsets behind it).
fn offset(nodes: u64, round: u64, k: u64) -> u64 {
    let mut z = (round * FANOUT + k).wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    1 + (z ^ (z >> 31)) % (nodes - 1)
}

/// Gossip: `nodes` nodes, each round each sends a 64-byte datagram to `FANOUT` peers and then
/// receives `FANOUT`, until `messages` have been delivered. Default link (1 to 10 ms
/// uniform), so rounds overlap in time. Asserts every message was delivered, and returns how
/// many that was (whole rounds: `messages` rounded down).
fn gossip(nodes: u64, messages: u64) -> u64 {
    let rounds = messages / (nodes * FANOUT);
    assert!(rounds > 0, "{messages} messages are less than one round of {nodes} nodes");
    let received = Rc::new(Cell::new(0u64));
    let mut sim =
        Sim::builder().seed(Seed(nodes)).time_limit(Duration::from_secs(1 << 20)).build().expect("a valid config");
    for me in 0..nodes {
        let counter = received.clone();
        sim.client(&format!("n{me}"), async move {
            let socket = UdpSocket::bind(("0.0.0.0", PORT)).await?;
            let mut buf = [0u8; MESSAGE_LEN];
            for round in 0..rounds {
                for k in 0..FANOUT {
                    let peer = address((me + offset(nodes, round, k)) % nodes);
                    socket.send_to(&[round as u8; MESSAGE_LEN], peer).await?;
                }
                for _ in 0..FANOUT {
                    let (len, _) = socket.recv_from(&mut buf).await?;
                    assert_eq!(len, MESSAGE_LEN);
                    counter.set(counter.get() + 1);
                }
            }
            Ok::<(), io::Error>(())
        })
        .expect("a new client");
    }
    let summary = sim.run().unwrap();
    assert_eq!(received.get(), rounds * nodes * FANOUT);
    assert_eq!(summary.net.delivered, rounds * nodes * FANOUT);
    summary.net.delivered
}

/// A flood: `nodes` nodes each send `messages / nodes` 64-byte datagrams to the next node at
/// time zero, then receive as many. The default link (at least 1 ms) keeps every one of them
/// in flight until the first arrives, which is checked. Returns the messages delivered.
fn flood(nodes: u64, messages: u64) -> u64 {
    let each = messages / nodes;
    let received = Rc::new(Cell::new(0u64));
    let mut sim =
        Sim::builder().seed(Seed(7)).time_limit(Duration::from_secs(1 << 20)).build().expect("a valid config");
    for me in 0..nodes {
        let counter = received.clone();
        sim.client(&format!("n{me}"), async move {
            let socket = UdpSocket::bind(("0.0.0.0", PORT)).await?;
            let peer = address((me + 1) % nodes);
            for i in 0..each {
                socket.send_to(&[i as u8; MESSAGE_LEN], peer).await?;
            }
            let mut buf = [0u8; MESSAGE_LEN];
            for _ in 0..each {
                socket.recv_from(&mut buf).await?;
                counter.set(counter.get() + 1);
            }
            Ok::<(), io::Error>(())
        })
        .expect("a new client");
    }
    // Half a millisecond in, every node has sent and nothing has arrived.
    assert!(sim.run_until(seedsim::time::Instant::from_nanos(500_000)).is_none());
    assert_eq!(sim.counts().datagrams_in_flight as u64, nodes * each);
    let summary = sim.run().unwrap();
    assert_eq!(received.get(), nodes * each);
    assert_eq!(summary.net.delivered, nodes * each);
    summary.net.delivered
}

/// Halves: `nodes` idle nodes split into two halves at 1 s and repaired at 2 s, with no
/// traffic: what applying and repairing a partition between two large sets costs by itself.
/// Asserts the repair left no per-pair state behind.
fn halves(nodes: u64) -> u64 {
    let mut sim = Sim::builder().seed(Seed(nodes)).time_limit(Duration::from_secs(3)).build().expect("a valid config");
    for me in 0..nodes {
        sim.node(&format!("n{me}"), || seedsim::time::sleep(Duration::from_secs(3_600))).expect("a new node");
    }
    let names: Vec<String> = (0..nodes).map(|me| format!("n{me}")).collect();
    let (a, b) = names.split_at(names.len() / 2);
    let mut plan = FaultPlan::new();
    plan.push(Duration::from_secs(1), Fault::Partition { a: a.to_vec(), b: b.to_vec() });
    plan.push(Duration::from_secs(2), Fault::Repair { a: a.to_vec(), b: b.to_vec() });
    sim.faults(plan).expect("a valid plan");
    assert!(sim.run_until(seedsim::time::Instant::from_nanos(2_500_000_000)).is_none(), "the world ended early");
    let counts = sim.counts();
    assert_eq!(counts.link_pairs, 0, "a repaired partition leaves no per-pair state");
    assert_eq!(counts.set_partitions, 0, "a repaired partition leaves no partition behind");
    0
}

/// Chaos: `nodes` servers, each sending a 64-byte datagram to another every `CHAOS_PERIOD`
/// and receiving on a task of its own, under the `chaos` nemesis for 10 simulated seconds
/// (crashes, pauses, partitions of random sets both ways and one way, isolation, clogs,
/// clock skews and jumps, loss bursts, latency spikes, disk faults). Asserts the run reached
/// its time limit with traffic flowing; returns the datagrams delivered.
fn chaos(nodes: u64) -> u64 {
    let mut sim = Sim::builder()
        .seed(Seed(nodes))
        .time_limit(Duration::from_secs(10))
        .on_limit(OnLimit::Pass)
        .build()
        .expect("a valid config");
    for me in 0..nodes {
        sim.node(&format!("n{me}"), move || async move {
            let socket = Rc::new(UdpSocket::bind(("0.0.0.0", PORT)).await?);
            let receiver = socket.clone();
            drop(seedsim::task::spawn(async move {
                let mut buf = [0u8; MESSAGE_LEN];
                while receiver.recv_from(&mut buf).await.is_ok() {}
            }));
            for round in 0.. {
                seedsim::time::sleep(CHAOS_PERIOD).await;
                let peer = address((me + offset(nodes, round, 0)) % nodes);
                socket.send_to(&[round as u8; MESSAGE_LEN], peer).await?;
            }
            Ok::<(), io::Error>(())
        })
        .expect("a new node");
    }
    sim.nemesis(Profile::chaos()).expect("a valid profile");
    let summary = sim.run().unwrap();
    assert_eq!(summary.end, End::TimeLimit);
    assert!(summary.net.delivered > nodes * 10, "{} delivered", summary.net.delivered);
    summary.net.delivered
}
