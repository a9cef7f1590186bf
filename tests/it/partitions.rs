//! Partitions between sets of nodes: which pairs they block, both ways and one way; how
//! overlapping ones compose by count and how repairs (equal, mismatched, of one pair) take
//! them off; what they do to datagrams in flight; and that nothing of them stays behind.
//! Large sets are held as sets (`Counts::set_partitions`), small ones pair by pair; a
//! per-pair model, the network's meaning of a partition, judges both.

use std::cell::RefCell;
use std::io;
use std::net::IpAddr;
use std::rc::Rc;
use std::time::Duration;

use seedsim::fault::{Fault, FaultPlan, Profile};
use seedsim::net::{Link, UdpSocket};
use seedsim::time::{sleep, Instant};
use seedsim::{Counts, OnLimit, Seed, Sim};

/// Rounds of the traffic world: every node sends to every other node at 10 ms × round.
const ROUNDS: u32 = 40;
const PERIOD: Duration = Duration::from_millis(10);
/// Faults happen half a millisecond into a round, while that round's datagrams (1 ms of fixed
/// latency) are in flight: each partition meets some in flight.
const INTO_ROUND: Duration = Duration::from_micros(500);

/// (from, to, round) of every datagram received.
type Received = Rc<RefCell<Vec<(usize, usize, u32)>>>;

fn name(i: usize) -> String {
    format!("n{i}")
}

fn names(ids: &[usize]) -> Vec<String> {
    ids.iter().map(|&i| name(i)).collect()
}

/// `n` nodes; in each of `ROUNDS` rounds each sends one datagram to every other node, over a
/// perfect 1 ms link, and logs what it receives. Runs `plan` (faults at `INTO_ROUND` past a
/// round's start) and returns what was received and the world's counts at the end.
fn traffic(n: usize, seed: u64, plan: FaultPlan) -> (Vec<(usize, usize, u32)>, Counts) {
    let received: Received = Rc::default();
    let mut sim = Sim::builder()
        .seed(Seed(seed))
        .link(Link::fixed(Duration::from_millis(1)))
        .time_limit(PERIOD * (ROUNDS + 1))
        .on_limit(OnLimit::Pass)
        .build()
        .unwrap();
    for me in 0..n {
        let log = received.clone();
        sim.node(&name(me), move || {
            let log = log.clone();
            async move {
                let socket = Rc::new(UdpSocket::bind("0.0.0.0:9").await?);
                let receiver = socket.clone();
                drop(seedsim::task::spawn(async move {
                    let mut buf = [0u8; 4];
                    while let Ok((_, from)) = receiver.recv_from(&mut buf).await {
                        let IpAddr::V4(ip) = from.ip() else { unreachable!() };
                        let from = u32::from(ip) as usize - (10 << 24) - 1;
                        log.borrow_mut().push((from, me, u32::from_le_bytes(buf)));
                    }
                }));
                for round in 0..ROUNDS {
                    for peer in (0..n).filter(|&peer| peer != me) {
                        socket.send_to(&round.to_le_bytes(), (name(peer).as_str(), 9)).await?;
                    }
                    sleep(PERIOD).await;
                }
                Ok::<(), io::Error>(())
            }
        })
        .unwrap();
    }
    sim.faults(plan).unwrap();
    sim.run().unwrap();
    let mut got = received.take();
    got.sort_unstable();
    (got, sim.counts())
}

/// A set fault at a round, for the model and for the plan.
#[derive(Clone, Debug)]
enum Step {
    Partition(Vec<usize>, Vec<usize>),
    OneWay(Vec<usize>, Vec<usize>),
    Repair(Vec<usize>, Vec<usize>),
    HealAll,
}

fn plan_of(steps: &[(u32, Step)]) -> FaultPlan {
    let mut plan = FaultPlan::new();
    for (round, step) in steps {
        let fault = match step {
            Step::Partition(a, b) => Fault::Partition { a: names(a), b: names(b) },
            Step::OneWay(a, b) => Fault::PartitionOneWay { from: names(a), to: names(b) },
            Step::Repair(a, b) => Fault::Repair { a: names(a), b: names(b) },
            Step::HealAll => Fault::HealAll,
        };
        plan.push(PERIOD * *round + INTO_ROUND, fault);
    }
    plan
}

/// What the network promises, pair by pair: each directed pair has a count of partitions;
/// a partition adds one to each pair it cuts and drops what is in flight across it; a repair
/// takes one off each pair it names that has one, both ways; heal-all zeroes them. A datagram
/// arrives if its pair had no partition when it was sent and none began while it flew.
fn model(n: usize, steps: &[(u32, Step)]) -> Vec<(usize, usize, u32)> {
    let mut count = vec![vec![0u32; n]; n];
    let mut dropped_in_flight = vec![vec![Vec::new(); n]; n];
    let mut blocked_at = vec![vec![vec![false; ROUNDS as usize]; n]; n];
    let mut steps = steps.to_vec();
    steps.sort_by_key(|(round, _)| *round);
    let mut next = 0;
    for round in 0..ROUNDS {
        // Sends at the round's start, then the faults half a millisecond later.
        for x in 0..n {
            for y in 0..n {
                blocked_at[x][y][round as usize] = count[x][y] > 0;
            }
        }
        while next < steps.len() && steps[next].0 == round {
            let mut cut = |a: &[usize], b: &[usize], count: &mut Vec<Vec<u32>>| {
                for &x in a {
                    for &y in b.iter().filter(|&&y| y != x) {
                        count[x][y] += 1;
                        dropped_in_flight[x][y].push(round);
                    }
                }
            };
            match &steps[next].1 {
                Step::Partition(a, b) => {
                    cut(a, b, &mut count);
                    cut(b, a, &mut count);
                }
                Step::OneWay(a, b) => cut(a, b, &mut count),
                Step::Repair(a, b) => {
                    for &x in a {
                        for &y in b.iter().filter(|&&y| y != x) {
                            count[x][y] = count[x][y].saturating_sub(1);
                            count[y][x] = count[y][x].saturating_sub(1);
                        }
                    }
                }
                Step::HealAll => count.iter_mut().flatten().for_each(|c| *c = 0),
            }
            next += 1;
        }
    }
    let mut out = Vec::new();
    for x in 0..n {
        for y in (0..n).filter(|&y| y != x) {
            for round in 0..ROUNDS {
                if !blocked_at[x][y][round as usize] && !dropped_in_flight[x][y].contains(&round) {
                    out.push((x, y, round));
                }
            }
        }
    }
    out.sort_unstable();
    out
}

/// `ids` shuffled by `next`, then cut into two non-empty sides and the nodes left out.
fn sides(next: &mut impl FnMut() -> u64, ids: &[usize]) -> (Vec<usize>, Vec<usize>) {
    let mut order = ids.to_vec();
    for i in (1..order.len()).rev() {
        order.swap(i, (next() % (i as u64 + 1)) as usize);
    }
    let used = 2 + (next() % (order.len() as u64 - 1)) as usize;
    let cut = 1 + (next() % (used as u64 - 1)) as usize;
    (order[..cut].to_vec(), order[cut..used].to_vec())
}

#[test]
fn a_set_partition_blocks_exactly_the_pairs_across_it_both_ways() {
    // 12 by 12 nodes: 288 directed pairs, held as two sets.
    let (a, b): (Vec<usize>, Vec<usize>) = (0..24).partition(|i| i % 2 == 0);
    let steps = [(10, Step::Partition(a.clone(), b.clone())), (20, Step::Repair(a.clone(), b.clone()))];
    let (got, counts) = traffic(24, 1, plan_of(&steps));
    let side = |i: usize| i % 2;
    for (from, to, round) in &got {
        // Round 10 was in flight when the cut began; rounds 11 to 20 were sent into it.
        assert!(side(*from) == side(*to) || !(10..=20).contains(round), "{from} -> {to} in round {round}");
    }
    let crossing = got.iter().filter(|(from, to, _)| side(*from) != side(*to)).count();
    assert_eq!(crossing, 24 * 12 * (ROUNDS as usize - 11), "every other datagram across gets through");
    assert_eq!(got.len(), 24 * 23 * ROUNDS as usize - 24 * 12 * 11);
    assert_eq!(got, model(24, &steps));
    assert_eq!(counts.set_partitions, 0);
}

#[test]
fn a_one_way_set_partition_blocks_one_direction_only() {
    let (a, b): (Vec<usize>, Vec<usize>) = ((0..10).collect(), (10..20).collect());
    let steps = [(5, Step::OneWay(a.clone(), b.clone()))];
    let (got, counts) = traffic(20, 2, plan_of(&steps));
    assert!(got.iter().all(|(from, to, round)| !(a.contains(from) && b.contains(to)) || *round < 5));
    assert_eq!(got.iter().filter(|(from, to, _)| b.contains(from) && a.contains(to)).count(), 100 * ROUNDS as usize);
    assert_eq!(got, model(20, &steps));
    assert_eq!(counts.set_partitions, 1, "the partition still stands, as one set partition");
}

#[test]
fn overlapping_set_partitions_compose_by_count() {
    // Two partitions that share pairs; the first's repair leaves the shared pairs blocked by
    // the second. A one-way partition's repair names both directions, so it also takes one
    // partition off the reverse pairs, here ones the second still blocks: per pair, that is
    // what a repair has always meant.
    let first = (Vec::from_iter(0..10), Vec::from_iter(10..20));
    let second = (Vec::from_iter(5..15), Vec::from_iter(15..20));
    let steps = [
        (3, Step::Partition(first.0.clone(), first.1.clone())),
        (6, Step::Partition(second.0.clone(), second.1.clone())),
        (9, Step::Repair(first.0.clone(), first.1.clone())),
        (12, Step::OneWay(first.1.clone(), second.0.clone())),
        (15, Step::Repair(first.1.clone(), second.0.clone())),
        (18, Step::Repair(second.0.clone(), second.1.clone())),
        (21, Step::Partition(first.0.clone(), first.1.clone())),
        (24, Step::Repair(vec![0], vec![10])),
        (27, Step::HealAll),
    ];
    let (got, counts) = traffic(20, 3, plan_of(&steps));
    // Shared pair 5 -> 15: blocked from round 3 by both, still by the second after round 9,
    // open after the one-way partition's repair at round 15, cut again at 21, healed at 27.
    let open: Vec<u32> = got.iter().filter(|(f, t, _)| (*f, *t) == (5, 15)).map(|(.., r)| *r).collect();
    assert_eq!(open, (0..3).chain(16..21).chain(28..ROUNDS).collect::<Vec<_>>());
    // Pair 0 -> 10, cut by the first alone: open after its repair at round 9, cut again at 21,
    // and repaired alone out of that set partition at round 24.
    let open: Vec<u32> = got.iter().filter(|(f, t, _)| (*f, *t) == (0, 10)).map(|(.., r)| *r).collect();
    assert_eq!(open, (0..3).chain(10..21).chain(25..ROUNDS).collect::<Vec<_>>());
    assert_eq!(got, model(20, &steps));
    assert_eq!(counts.set_partitions, 0, "heal-all leaves no set partition behind");
}

#[test]
fn random_overlapping_set_partitions_and_repairs_match_the_per_pair_model() {
    let n = 20;
    let ids: Vec<usize> = (0..n).collect();
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for seed in 0..24 {
        let mut steps: Vec<(u32, Step)> = Vec::new();
        let mut made: Vec<(Vec<usize>, Vec<usize>)> = Vec::new();
        for round in 1..ROUNDS - 2 {
            if next() % 3 != 0 {
                continue;
            }
            let step = match next() % 10 {
                0..=2 => {
                    let (a, b) = sides(&mut next, &ids);
                    made.push((a.clone(), b.clone()));
                    Step::Partition(a, b)
                }
                3 | 4 => {
                    let (a, b) = sides(&mut next, &ids);
                    made.push((a.clone(), b.clone()));
                    Step::OneWay(a, b)
                }
                // The repair of one made before (either order), of sets that match none, or
                // of one pair.
                5..=7 if !made.is_empty() => {
                    let (a, b) = made.swap_remove((next() % made.len() as u64) as usize);
                    if next() % 2 == 0 {
                        Step::Repair(a, b)
                    } else {
                        Step::Repair(b, a)
                    }
                }
                8 => {
                    let (a, b) = sides(&mut next, &ids);
                    Step::Repair(a, b)
                }
                9 if next() % 4 == 0 => Step::HealAll,
                _ => {
                    let (a, b) = sides(&mut next, &ids);
                    Step::Repair(a[..1].to_vec(), b[..1].to_vec())
                }
            };
            steps.push((round, step));
        }
        let (got, _) = traffic(n, seed, plan_of(&steps));
        assert_eq!(got, model(n, &steps), "seed {seed}: {steps:?}");
    }
}

#[test]
fn a_repaired_partition_leaves_no_state_behind() {
    // 200 idle nodes: halves cut 20,000 directed pairs, pair by pair that was 20,000 records.
    let mut sim = Sim::builder().seed(Seed(5)).build().unwrap();
    for i in 0..200 {
        sim.node(&name(i), || sleep(Duration::from_secs(60))).unwrap();
    }
    let (a, b): (Vec<usize>, Vec<usize>) = (0..200).partition(|i| i % 2 == 0);
    let mut plan = FaultPlan::new();
    plan.push(Duration::from_secs(1), Fault::Partition { a: names(&a), b: names(&b) });
    plan.push(Duration::from_secs(2), Fault::Repair { a: names(&a), b: names(&b) });
    sim.faults(plan).unwrap();
    assert!(sim.run_until(Instant::ZERO + Duration::from_millis(1_500)).is_none());
    let during = sim.counts();
    assert_eq!((during.set_partitions, during.link_pairs), (2, 0), "one set partition each way, no pairs");
    assert!(sim.run_until(Instant::ZERO + Duration::from_millis(2_500)).is_none());
    let after = sim.counts();
    assert_eq!((after.set_partitions, after.link_pairs), (0, 0));

    // A partition of two nodes is counted on the pair, and its record goes with the repair.
    sim.partition("n0", "n1").unwrap();
    assert_eq!(sim.counts().link_pairs, 2);
    sim.repair("n0", "n1").unwrap();
    assert_eq!(sim.counts().link_pairs, 0);
}

#[test]
fn a_large_world_under_chaos_replays() {
    // 300 servers under the chaos nemesis: its partitions of random sets are held as sets.
    let run = || {
        let mut sim = Sim::builder()
            .seed(Seed(0x5e75))
            .time_limit(Duration::from_secs(10))
            .on_limit(OnLimit::Pass)
            .build()
            .unwrap();
        for me in 0..300usize {
            sim.node(&name(me), move || async move {
                let socket = UdpSocket::bind("0.0.0.0:9").await?;
                let mut buf = [0u8; 4];
                for round in 0u32.. {
                    let peer = name((me + 1 + round as usize * 7) % 300);
                    socket.send_to(&round.to_le_bytes(), (peer.as_str(), 9)).await?;
                    let _ = seedsim::time::timeout(Duration::from_millis(200), socket.recv_from(&mut buf)).await;
                }
                Ok::<(), io::Error>(())
            })
            .unwrap();
        }
        let plan = sim.nemesis(Profile::chaos()).unwrap();
        let summary = sim.run().unwrap();
        (plan, summary.trace_hash, summary.net)
    };
    let (plan, hash, net) = run();
    assert!(
        plan.faults().iter().any(|timed| matches!(&timed.fault, Fault::Partition { a, b } if a.len() * b.len() > 64)),
        "the plan partitions large sets"
    );
    assert!(net.dropped > 0 && net.delivered > 1_000, "{net:?}");
    assert_eq!(run(), (plan, hash, net));
}
