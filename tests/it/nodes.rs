//! Node lifecycle: crash drops tasks (destructors run), closes sockets and loses in-flight
//! datagrams; restart re-runs the factory; bounce, pause and resume; and the errors of
//! lifecycle calls that make no sense.

use std::cell::{Cell, RefCell};
use std::io;
use std::rc::Rc;

use crate::support::ms;
use seedsim::net::{Link, UdpSocket};
use seedsim::time::{sleep, Instant};
use seedsim::trace::EventKind;
use seedsim::{task, world, ErrorKind, Seed, Sim};

/// Sets its flag when dropped.
struct DropFlag(Rc<Cell<u32>>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.set(self.0.get() + 1);
    }
}

type Received = Rc<RefCell<Vec<(u32, Instant, u32)>>>;

/// A node that counts its starts, holds drop flags in two tasks, binds port 9 (again on
/// every start) and records datagrams with the incarnation that received them.
fn server(sim: &mut Sim, starts: Rc<Cell<u32>>, drops: Rc<Cell<u32>>, received: Received) {
    sim.node("server", move || {
        let (starts, drops, received) = (starts.clone(), drops.clone(), received.clone());
        async move {
            starts.set(starts.get() + 1);
            let incarnation = starts.get();
            let _main_flag = DropFlag(drops.clone());
            let helper_flag = DropFlag(drops.clone());
            let _helper = task::spawn(async move {
                let _flag = helper_flag;
                sleep(ms(1_000_000)).await;
            });
            let socket = UdpSocket::bind("0.0.0.0:9").await?;
            let mut buf = [0u8; 4];
            loop {
                socket.recv_from(&mut buf).await?;
                received.borrow_mut().push((u32::from_le_bytes(buf), Instant::now(), incarnation));
            }
            #[allow(unreachable_code)]
            Ok::<(), io::Error>(())
        }
    })
    .unwrap();
}

#[test]
fn a_crash_drops_tasks_closes_sockets_and_loses_datagrams_in_flight_and_restart_rebuilds() {
    let (starts, drops, received) = (Rc::new(Cell::new(0)), Rc::new(Cell::new(0)), Received::default());
    let mut sim = Sim::builder().link(Link::fixed(ms(10))).record_trace(true).seed(Seed(1)).build().unwrap();
    server(&mut sim, starts.clone(), drops.clone(), received.clone());
    sim.client("sender", async {
        let socket = UdpSocket::bind("0.0.0.0:0").await?;
        for seq in 0..10u32 {
            socket.send_to(&seq.to_le_bytes(), ("server", 9)).await?;
            sleep(ms(4)).await;
        }
        sleep(ms(100)).await;
        Ok::<(), io::Error>(())
    })
    .unwrap();

    assert!(sim.run_until(Instant::ZERO + ms(15)).is_none());
    assert_eq!(starts.get(), 1);
    let counts = sim.counts();
    assert_eq!(counts.datagrams_in_flight, 2, "datagrams 2 and 3 (sent at 8 and 12 ms) are in flight");
    assert_eq!(counts.tasks_live, 3, "server main, server helper, sender");

    sim.crash("server").unwrap();
    assert_eq!(drops.get(), 2, "both of the server's tasks were dropped, destructors run");
    assert!(!sim.is_up("server").unwrap());
    let counts = sim.counts();
    assert_eq!(counts.datagrams_in_flight, 2, "still queued, but marked to drop on arrival");
    assert_eq!(counts.tasks_live, 1, "only the sender is left");

    assert!(sim.run_until(Instant::ZERO + ms(30)).is_none());
    sim.restart("server").unwrap();
    sim.run().unwrap();
    assert_eq!(starts.get(), 2, "restart re-ran the factory, which could bind port 9 again");

    let got: Vec<(u32, u32)> = received.borrow().iter().map(|(seq, _, inc)| (*seq, *inc)).collect();
    // Datagram k is sent at 4k ms and arrives 10 ms later. 0 and 1 arrived before the crash
    // at 15 ms; 2 and 3 were in flight then and are lost; 4 and 5 arrive at 26 and 30 ms,
    // while the node is down, to no socket; from 6 on the restarted node receives.
    assert_eq!(got, vec![(0, 1), (1, 1), (6, 2), (7, 2), (8, 2), (9, 2)]);
    let trace = sim.take_trace().unwrap();
    let drops_by_reason =
        |reason| trace.iter().filter(|e| matches!(e.kind, EventKind::Drop { reason: r, .. } if r == reason)).count();
    assert_eq!(drops_by_reason(seedsim::trace::DropReason::Crash), 2);
    assert_eq!(drops_by_reason(seedsim::trace::DropReason::NoSocket), 2);
    assert!(trace.iter().any(|e| matches!(e.kind, EventKind::NodeStart { incarnation: 1, .. })));
}

#[test]
fn bounce_restarts_after_the_delay_and_a_node_can_crash_itself() {
    let starts = Rc::new(Cell::new(0u32));
    let mut sim = Sim::new(Seed(2));
    let counter = starts.clone();
    sim.node("flaky", move || {
        let counter = counter.clone();
        async move {
            counter.set(counter.get() + 1);
            if counter.get() == 1 {
                sleep(ms(5)).await;
                world::crash("flaky").unwrap();
                sleep(ms(1)).await;
                unreachable!("a node that crashed itself stops at its next await");
            }
        }
    })
    .unwrap();
    sim.client("nemesis", async {
        sleep(ms(10)).await;
        world::restart("flaky")?;
        sleep(ms(10)).await;
        world::bounce("flaky", ms(30))?;
        sleep(ms(29)).await;
        assert!(world::restart("flaky").is_ok(), "down until bounced back");
        sleep(ms(50)).await;
        Ok::<(), seedsim::Error>(())
    })
    .unwrap();
    sim.run().unwrap();
    // Start, restart by hand at 10 ms, restart by hand at 49 ms; the bounce's own restart
    // at 50 ms found the node up and did nothing.
    assert_eq!(starts.get(), 3);
}

#[test]
fn a_paused_node_is_not_polled_and_its_datagrams_wait_for_it() {
    let received = Received::default();
    let mut sim = Sim::builder().link(Link::fixed(ms(1))).seed(Seed(3)).build().unwrap();
    server(&mut sim, Rc::default(), Rc::default(), received.clone());
    sim.client("sender", async {
        let socket = UdpSocket::bind("0.0.0.0:0").await?;
        for seq in 0..5u32 {
            socket.send_to(&seq.to_le_bytes(), ("server", 9)).await?;
            sleep(ms(10)).await;
        }
        Ok::<(), io::Error>(())
    })
    .unwrap();
    assert!(sim.run_until(Instant::ZERO + ms(5)).is_none());
    sim.pause("server").unwrap();
    assert!(sim.run_until(Instant::ZERO + ms(35)).is_none());
    assert_eq!(received.borrow().len(), 1, "only datagram 0 was taken before the pause");
    sim.resume("server").unwrap();
    sim.run().unwrap();
    let got = received.borrow();
    let order: Vec<u32> = got.iter().map(|(seq, _, _)| *seq).collect();
    assert_eq!(order, vec![0, 1, 2, 3, 4], "nothing lost while paused");
    assert_eq!(got[1].1, Instant::ZERO + ms(35), "datagram 1 waited for the resume");
    assert_eq!(got[4].1, Instant::ZERO + ms(41));
}

#[test]
fn lifecycle_calls_that_make_no_sense_are_errors() {
    let mut sim = Sim::new(Seed(4));
    sim.node("server", || async { sleep(ms(100)).await }).unwrap();
    sim.client("client", async { Ok::<(), io::Error>(()) }).unwrap();
    let err = sim.restart("server").unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::InvalidNodeState { operation: "restart", .. }), "{err}");
    sim.step();
    let err = sim.restart("server").unwrap_err();
    assert!(err.to_string().contains("it is up; crash it first, or use bounce"), "{err}");
    let err = sim.crash("client").unwrap_err();
    assert!(err.to_string().contains("it is a client"), "{err}");
    assert_eq!(sim.crash("nobody").unwrap_err().kind(), &ErrorKind::UnknownNode);
    sim.crash("server").unwrap();
    sim.crash("server").expect("crashing a crashed node does nothing");
    assert!(sim.pause("server").is_err(), "a crashed node cannot pause");
}

#[test]
fn a_task_spawned_after_its_node_crashed_in_the_same_poll_dies_with_it() {
    let ran = Rc::new(Cell::new(false));
    let flag = ran.clone();
    let mut sim = Sim::new(Seed(5));
    sim.node("doomed", move || {
        let flag = flag.clone();
        async move {
            world::crash("doomed").unwrap();
            let flag = flag.clone();
            let orphan = task::spawn(async move { flag.set(true) });
            assert!(orphan.await.is_err(), "cancelled with its node");
        }
    })
    .unwrap();
    sim.client("c", async {
        sleep(ms(10)).await;
        Ok::<(), io::Error>(())
    })
    .unwrap();
    sim.run().unwrap();
    assert!(!ran.get());
}

#[test]
fn a_node_crashed_before_the_run_starts_stays_down_until_restarted() {
    let starts = Rc::new(Cell::new(0u32));
    let counter = starts.clone();
    let mut sim = Sim::builder().seed(Seed(6)).record_trace(true).build().unwrap();
    sim.node("late", move || {
        let counter = counter.clone();
        async move { counter.set(counter.get() + 1) }
    })
    .unwrap();
    sim.client("c", async {
        sleep(ms(10)).await;
        world::restart("late")?;
        sleep(ms(10)).await;
        Ok::<(), seedsim::Error>(())
    })
    .unwrap();
    sim.crash("late").unwrap();
    assert!(sim.run_until(Instant::ZERO + ms(5)).is_none());
    assert_eq!(starts.get(), 0);
    sim.run().unwrap();
    assert_eq!(starts.get(), 1);
    let trace = sim.take_trace().unwrap();
    let incarnations: Vec<u32> = trace
        .iter()
        .filter_map(|e| match e.kind {
            EventKind::NodeStart { node, incarnation } if node.index() == 0 => Some(incarnation),
            _ => None,
        })
        .collect();
    assert_eq!(incarnations, vec![0], "its first start is a start, not a restart");
}

#[test]
fn a_server_that_exits_with_an_error_fails_the_run_or_is_restarted_by_its_supervisor() {
    use seedsim::OnNodeError;
    let scenario = |sim: &mut Sim| {
        sim.node("server", || async {
            seedsim::time::sleep(std::time::Duration::from_millis(10)).await;
            Err::<(), _>(std::io::Error::other("cannot go on"))
        })
        .unwrap();
        sim.client("client", async {
            seedsim::time::sleep(std::time::Duration::from_millis(100)).await;
            Ok::<(), std::io::Error>(())
        })
        .unwrap();
    };
    let mut sim = Sim::new(Seed(1));
    scenario(&mut sim);
    let failure = sim.run().into_failure().expect("by default a server's error fails the run");
    assert!(failure.to_string().contains("node returned an error: cannot go on"), "{failure}");

    let restart = OnNodeError::Restart { after: std::time::Duration::from_millis(30) };
    let mut sim = Sim::builder().seed(Seed(1)).record_trace(true).on_node_error(restart).build().unwrap();
    scenario(&mut sim);
    assert!(sim.run().is_passed());
    let events = sim.take_trace().unwrap();
    let exits = events.iter().filter(|e| matches!(e.kind, EventKind::NodeExit { .. })).count();
    let starts = events.iter().filter(|e| matches!(e.kind, EventKind::NodeStart { .. })).count();
    // Exits at 10, 50 and 90 ms; started at 0, 40 and 80 ms (and the client once).
    assert_eq!((exits, starts), (3, 4), "{events:?}");
}
