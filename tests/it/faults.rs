//! Fault plans, the nemesis and swarm mode: plans apply at their times, read back from text,
//! shrink to the faults that matter, and appear in reports.

use std::cell::{Cell, RefCell};
use std::io;
use std::rc::Rc;
use std::time::Duration;

use crate::support::ms;
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::TestRunner;
use seedsim::fault::{strategy, Fault, FaultPlan, Profile};
use seedsim::net::{Link, UdpSocket};
use seedsim::time::{sleep, Instant};
use seedsim::trace::EventKind;
use seedsim::{ErrorKind, Runner, Seed, Sim};

fn sleeper() -> impl std::future::Future<Output = ()> {
    sleep(Duration::from_secs(3600))
}

#[test]
fn a_plan_applies_each_fault_at_its_time_and_recover_ends_them_all() {
    let starts = Rc::new(Cell::new(0));
    let mut sim = Sim::builder().record_trace(true).build().unwrap();
    let counter = starts.clone();
    sim.node("db", move || {
        counter.set(counter.get() + 1);
        sleeper()
    })
    .unwrap();
    sim.node("cache", sleeper).unwrap();
    sim.client("c", async {
        sleep(Duration::from_secs(5)).await;
        Ok::<(), io::Error>(())
    })
    .unwrap();
    let plan: FaultPlan = "
        # a plan as a person writes it
        500ms crash db
        1s    pause cache
        1s    partition db | cache,c
        2s    skew cache +1s drift 500ppm
        3s    recover
    "
    .parse()
    .unwrap();
    sim.faults(plan.clone()).unwrap();
    assert!(sim.run_until(Instant::ZERO + ms(2_500)).is_none());
    assert!(!sim.is_up("db").unwrap());
    assert_eq!(starts.get(), 1);
    let summary = sim.run().unwrap();
    assert_eq!(starts.get(), 2, "recover restarted the crashed node");
    assert!(sim.is_up("db").unwrap());
    assert_eq!(summary.faults, plan);
    let trace = sim.take_trace().unwrap();
    let at = |wanted: fn(&EventKind) -> bool| trace.iter().find(|e| wanted(&e.kind)).map(|e| e.at.as_nanos());
    assert_eq!(at(|k| matches!(k, EventKind::NodeCrash { .. })), Some(500_000_000));
    assert_eq!(at(|k| matches!(k, EventKind::NodePause { .. })), Some(1_000_000_000));
    assert_eq!(at(|k| matches!(k, EventKind::Partition { .. })), Some(1_000_000_000));
    assert_eq!(at(|k| matches!(k, EventKind::Recover)), Some(3_000_000_000));
    assert!(trace.iter().any(|e| matches!(e.kind, EventKind::NodeResume { .. }) && e.at.as_nanos() == 3_000_000_000));
}

#[test]
fn installing_a_bad_plan_is_an_error_before_the_run() {
    let mut sim = Sim::new(Seed(1));
    sim.node("db", sleeper).unwrap();
    sim.client("c", async { Ok::<(), io::Error>(()) }).unwrap();
    let err = sim.faults("1s crash ghost".parse().unwrap()).unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::UnknownNode);
    let err = sim.faults("1s pause c".parse().unwrap()).unwrap_err();
    assert!(err.to_string().contains("cannot pause node \"c\": it is a client"), "{err}");
    let err = "1s crash".parse::<FaultPlan>().unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::InvalidFaultPlan { line: 1, .. }), "{err}");
}

/// A client that sends 200 datagrams to `echo` and records the round trip of each answer.
fn echo_world(sim: &mut Sim, rtts: Rc<RefCell<Vec<(Instant, Duration)>>>) {
    sim.node("echo", || async {
        let socket = UdpSocket::bind("0.0.0.0:7").await?;
        let mut buf = [0u8; 8];
        loop {
            let (len, from) = socket.recv_from(&mut buf).await?;
            socket.send_to(&buf[..len], from).await?;
        }
        #[allow(unreachable_code)]
        Ok::<(), io::Error>(())
    })
    .unwrap();
    sim.client("c", async move {
        let socket = UdpSocket::bind("0.0.0.0:0").await?;
        let mut buf = [0u8; 8];
        for _ in 0..200 {
            let sent = Instant::now();
            socket.send_to(b"x", ("echo", 7)).await?;
            if let Ok(Ok(_)) = seedsim::time::timeout(ms(100), socket.recv_from(&mut buf)).await {
                rtts.borrow_mut().push((sent, sent.elapsed()));
            }
            sleep(ms(10)).await;
        }
        Ok::<(), io::Error>(())
    })
    .unwrap();
}

#[test]
fn loss_bursts_and_latency_spikes_last_their_time_and_heal() {
    let rtts = Rc::new(RefCell::new(Vec::new()));
    let mut sim = Sim::builder().link(Link::fixed(ms(1))).build().unwrap();
    echo_world(&mut sim, rtts.clone());
    sim.faults("200ms latency-spike 30ms 300ms\n1s loss-burst 100% 500ms".parse().unwrap()).unwrap();
    sim.run().unwrap();
    let rtts = rtts.borrow();
    let window = |from: u64, to: u64| {
        rtts.iter()
            .filter(|(sent, _)| (ms(from)..ms(to)).contains(&sent.since_start()))
            .map(|(_, rtt)| *rtt)
            .collect::<Vec<_>>()
    };
    assert!(window(0, 190).iter().all(|rtt| *rtt == ms(2)), "before the spike");
    assert!(window(200, 490).iter().all(|rtt| *rtt >= ms(32)), "during the spike: {:?}", window(200, 490));
    assert!(window(520, 990).iter().all(|rtt| *rtt == ms(2)), "after the spike");
    assert!(window(1_000, 1_499).is_empty(), "nothing crosses a 100% loss burst");
    assert!(!window(1_510, 2_000).is_empty(), "the burst ended");
}

#[test]
fn a_clock_jump_moves_a_nodes_clock() {
    let readings = Rc::new(RefCell::new(Vec::new()));
    let log = readings.clone();
    let mut sim = Sim::new(Seed(2));
    sim.node("n", move || {
        let log = log.clone();
        async move {
            for _ in 0..3 {
                log.borrow_mut().push(Instant::now());
                sleep(ms(100)).await;
            }
        }
    })
    .unwrap();
    sim.faults("150ms jump n +10s".parse().unwrap()).unwrap();
    sim.run().unwrap();
    let readings = readings.borrow();
    assert_eq!(readings[1], Instant::ZERO + ms(100));
    // At true time 150 ms the clock jumps 10 s ahead. A sleep measures elapsed time, as one
    // on a monotonic clock does: it still ends 100 ms after it began, at true time 200 ms,
    // when the clock reads 10.2 s.
    assert_eq!(readings[2], Instant::ZERO + ms(200) + Duration::from_secs(10));
}

#[test]
fn the_nemesis_plan_is_in_the_report_and_replays() {
    let scenario = |sim: &mut Sim| {
        for name in ["a", "b", "c"] {
            sim.node(name, sleeper)?;
        }
        sim.client("c1", async {
            sleep(Duration::from_secs(8)).await;
            Err::<(), _>("found it")
        })?;
        Ok(())
    };
    let report = Runner::new().seeds(1).nemesis(Profile::chaos()).try_run(scenario).unwrap();
    let failure = report.failure.unwrap();
    assert!(failure.faults.len() > 3, "{}", failure.faults);
    let text = failure.to_string();
    assert!(text.contains("  faults:\n"), "{text}");
    let first_fault_line = failure.faults.to_string().lines().next().unwrap().to_owned();
    assert!(text.contains(&first_fault_line), "{text}");
    // The printed plan, parsed back and installed by hand, replays the same run.
    let mut sim = Sim::builder().seed(failure.seed).build().unwrap();
    scenario(&mut sim).unwrap();
    sim.faults(failure.faults.to_string().parse().unwrap()).unwrap();
    assert_eq!(sim.run().trace_hash(), failure.trace_hash);
}

#[test]
fn swarm_mode_varies_the_faults_by_seed_and_repeats_them_by_seed() {
    let plan_of = |seed: u64| {
        let mut sim = Sim::new(Seed(seed));
        for name in ["a", "b", "c"] {
            sim.node(name, sleeper).unwrap();
        }
        sim.nemesis(Profile::swarm(Profile::chaos(), Seed(seed))).unwrap()
    };
    let kinds = |plan: &FaultPlan| {
        let mut kinds: Vec<&str> = plan.faults().iter().map(|t| t.fault.kind()).collect();
        kinds.sort();
        kinds.dedup();
        kinds.join(",")
    };
    assert_eq!(plan_of(5), plan_of(5));
    let distinct: std::collections::BTreeSet<String> = (0..20).map(|s| kinds(&plan_of(s))).collect();
    assert!(distinct.len() >= 10, "swarm seeds should turn on different kinds: {distinct:?}");
}

/// A tiny system that breaks only when node "a" is crashed while "b" is isolated.
fn fragile(plan: &FaultPlan) -> bool {
    let mut sim = Sim::new(Seed(9));
    let broken = Rc::new(Cell::new(false));
    let flag = broken.clone();
    for name in ["a", "b", "c"] {
        sim.node(name, sleeper).unwrap();
    }
    sim.client("watch", async move {
        for _ in 0..200 {
            sleep(ms(50)).await;
            let a_down = !seedsim::world::is_up("a")?;
            let b_isolated = seedsim::world::is_isolated("b")?;
            if a_down && b_isolated {
                flag.set(true);
            }
        }
        Ok::<(), seedsim::Error>(())
    })
    .unwrap();
    sim.faults(plan.clone()).unwrap();
    sim.run().unwrap();
    broken.get()
}

#[test]
fn proptest_shrinks_a_failing_plan_to_the_faults_that_matter() {
    let names: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
    let strategy = strategy::plan(names.clone(), names, Duration::from_secs(10), 30);
    let mut runner = TestRunner::deterministic();
    // Find a plan that breaks the system, then shrink it as proptest does after a failure.
    let mut tree = loop {
        let tree = strategy.new_tree(&mut runner).unwrap();
        if fragile(&tree.current()) {
            break tree;
        }
    };
    let before = tree.current().len();
    let mut shrinks = 0;
    while shrinks < 500 {
        if fragile(&tree.current()) {
            if !tree.simplify() {
                break;
            }
        } else if !tree.complicate() {
            break;
        }
        shrinks += 1;
    }
    let shrunk = tree.current();
    assert!(fragile(&shrunk), "the shrunk plan still breaks it:\n{shrunk}");
    assert!(shrunk.len() < before, "{before} faults shrank to {}", shrunk.len());
    let essential: Vec<&Fault> = shrunk.faults().iter().map(|t| &t.fault).filter(|f| **f != Fault::Recover).collect();
    assert!(essential.len() <= 3, "at most the crash of a, the isolation of b, and one more:\n{shrunk}");
}
