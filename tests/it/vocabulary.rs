//! The fault vocabulary beyond crashes and partitions: duplication and reordering windows,
//! crashes set off by a message, the primaries' partition, strobing clocks and monotonic
//! clocks, and the default profile that draws from all of it (less what a scenario cannot
//! feel).

use std::cell::{Cell, RefCell};
use std::io;
use std::rc::Rc;
use std::time::Duration;

use crate::support::ms;
use seedsim::fault::{Fault, FaultPlan, Profile};
use seedsim::net::UdpSocket;
use seedsim::time::{self, sleep, Instant};
use seedsim::trace::EventKind;
use seedsim::{world, Runner, Seed, Sim};

/// A node that counts the datagrams it receives on port 7, in arrival order.
fn counter(
    seen: Rc<RefCell<Vec<u8>>>,
) -> impl Fn() -> std::pin::Pin<Box<dyn std::future::Future<Output = io::Result<()>>>> {
    move || {
        let seen = seen.clone();
        Box::pin(async move {
            let socket = UdpSocket::bind("0.0.0.0:7").await?;
            let mut buf = [0; 8];
            loop {
                let (len, _) = socket.recv_from(&mut buf).await?;
                seen.borrow_mut().extend_from_slice(&buf[..len]);
            }
        })
    }
}

/// Send datagram `i` at `start + i` ms, for `i` in `0..count`.
async fn send_numbered(start: Duration, count: u8) -> io::Result<()> {
    let socket = UdpSocket::bind("0.0.0.0:0").await?;
    for i in 0..count {
        time::sleep_until(Instant::ZERO + start + ms(u64::from(i))).await;
        socket.send_to(&[i], ("counter", 7)).await?;
    }
    sleep(ms(1_000)).await;
    Ok(())
}

#[test]
fn a_duplication_window_delivers_its_datagrams_twice_and_only_its_own() {
    let seen = Rc::new(RefCell::new(Vec::new()));
    let mut sim = Sim::new(Seed(3));
    sim.node("counter", counter(seen.clone())).unwrap();
    sim.client("sender", async {
        send_numbered(ms(100), 20).await?;
        send_numbered(ms(2_000), 20).await
    })
    .unwrap();
    sim.faults("100ms duplicate 100% 50ms".parse().unwrap()).unwrap();
    let summary = sim.run().unwrap();
    let seen = seen.borrow();
    // The first 50 ms of the first burst (datagrams 0 to 49 ms after it starts) come twice.
    assert_eq!(seen.len(), 20 + 20 + 20, "{seen:?}");
    assert_eq!(summary.net.duplicated, 20);
}

/// Datagrams 0..100 sent 10 ms apart to the counter, under `plan`: the numbers that arrived.
fn arrivals_every_10ms(plan: &str) -> Vec<u8> {
    let seen = Rc::new(RefCell::new(Vec::new()));
    let mut sim = Sim::new(Seed(5));
    sim.node("counter", counter(seen.clone())).unwrap();
    sim.client("sender", async {
        let socket = UdpSocket::bind("0.0.0.0:0").await?;
        for i in 0..100u8 {
            time::sleep_until(Instant::ZERO + ms(10 * u64::from(i))).await;
            socket.send_to(&[i], ("counter", 7)).await?;
        }
        sleep(ms(1_000)).await;
        Ok::<(), io::Error>(())
    })
    .unwrap();
    sim.faults(plan.parse().unwrap()).unwrap();
    sim.run().unwrap();
    seen.borrow().clone()
}

#[test]
fn overlapping_partitions_and_isolations_stack_until_each_is_undone() {
    // Two partitions of one pair, 100-300 ms and 200-600 ms: the link is cut from 100 ms to
    // 600 ms, the first repair leaving the second in force.
    for plan in [
        "100ms partition counter | sender\n200ms partition counter | sender\n300ms repair counter | sender\n600ms repair counter | sender",
        "100ms isolate counter\n200ms isolate counter\n300ms rejoin counter\n600ms rejoin counter",
    ] {
        let seen = arrivals_every_10ms(plan);
        assert!(seen.iter().all(|i| !(10..60).contains(i)), "{plan}: {seen:?}");
        assert!((0..9).chain(61..100).all(|i| seen.contains(&i)), "{plan}: {seen:?}");
    }
    // A heal-all undoes every partition at once.
    let seen =
        arrivals_every_10ms("100ms partition counter | sender\n200ms partition counter | sender\n300ms heal-all");
    assert!((31..100).all(|i| seen.contains(&i)), "{seen:?}");
}

#[test]
fn a_reordering_window_lets_later_datagrams_overtake_and_order_returns_after_it() {
    let seen = Rc::new(RefCell::new(Vec::new()));
    let mut sim = Sim::new(Seed(5));
    sim.node("counter", counter(seen.clone())).unwrap();
    sim.client("sender", async {
        send_numbered(ms(100), 50).await?;
        send_numbered(ms(3_000), 50).await
    })
    .unwrap();
    sim.faults("100ms reorder 50% 30ms 1s".parse().unwrap()).unwrap();
    assert!(sim.run().is_passed());
    let seen = seen.borrow();
    assert_eq!(seen.len(), 100, "reordering loses nothing");
    let (first, second) = seen.split_at(50);
    assert!(first.windows(2).any(|w| w[0] > w[1]), "in the window some datagram overtook: {first:?}");
    assert!(second.windows(2).all(|w| w[0] < w[1]), "after it the pair is in order again: {second:?}");
}

/// A server that answers each request after noting that it handled it.
fn answering(
    handled: Rc<Cell<u32>>,
    starts: Rc<Cell<u32>>,
) -> impl Fn() -> std::pin::Pin<Box<dyn std::future::Future<Output = io::Result<()>>>> {
    move || {
        let handled = handled.clone();
        starts.set(starts.get() + 1);
        Box::pin(async move {
            let socket = UdpSocket::bind("0.0.0.0:7").await?;
            let mut buf = [0; 8];
            loop {
                let (len, from) = socket.recv_from(&mut buf).await?;
                handled.set(handled.get() + 1); // runs before the crash: the same poll
                sleep(ms(1)).await;
                socket.send_to(&buf[..len], from).await?;
            }
        })
    }
}

/// Ask the server every 100 ms from 50 ms on; which of the `count` requests were answered.
async fn ask(count: u64) -> io::Result<Vec<bool>> {
    let socket = UdpSocket::bind("0.0.0.0:0").await?;
    let mut answered = Vec::new();
    for i in 0..count {
        time::sleep_until(Instant::ZERO + ms(50 + 100 * i)).await;
        socket.send_to(b"req", ("server", 7)).await?;
        let mut buf = [0; 8];
        answered.push(time::timeout(ms(60), socket.recv_from(&mut buf)).await.is_ok());
    }
    Ok(answered)
}

#[test]
fn a_crash_after_receive_lets_the_handler_run_to_its_next_wait_and_loses_the_answer() {
    let (handled, starts) = (Rc::new(Cell::new(0)), Rc::new(Cell::new(0)));
    let answered = Rc::new(RefCell::new(Vec::new()));
    let mut sim = Sim::builder().record_trace(true).build().unwrap();
    sim.node("server", answering(handled.clone(), starts.clone())).unwrap();
    let out = answered.clone();
    sim.client("client", async move {
        *out.borrow_mut() = ask(4).await?;
        Ok::<(), io::Error>(())
    })
    .unwrap();
    // Armed at 120 ms: the request at 150 ms sets it off; the server is back 120 ms later.
    sim.faults("120ms crash-after-receive server 120ms".parse().unwrap()).unwrap();
    assert!(sim.run().is_passed());
    assert_eq!(*answered.borrow(), [true, false, false, true]);
    assert_eq!(handled.get(), 3, "the request that set it off was handled, the one while down was not");
    assert_eq!(starts.get(), 2, "restarted after its downtime");
    let trace = sim.take_trace().unwrap();
    let crash = trace.iter().find(|e| matches!(e.kind, EventKind::NodeCrash { .. })).unwrap();
    let delivered: Vec<u64> =
        trace.iter().filter(|e| matches!(e.kind, EventKind::Deliver { .. })).map(|e| e.at.as_nanos()).collect();
    assert!(crash.at.as_nanos() > 150_000_000, "not at the fault's time: {}", crash.at);
    assert!(delivered.contains(&crash.at.as_nanos()), "at the request's arrival: {} not in {delivered:?}", crash.at);
}

#[test]
fn a_crash_after_send_lets_the_message_leave_and_waits_for_it() {
    let (handled, starts) = (Rc::new(Cell::new(0)), Rc::new(Cell::new(0)));
    let answered = Rc::new(RefCell::new(Vec::new()));
    let mut sim = Sim::new(Seed(2));
    sim.node("server", answering(handled.clone(), starts.clone())).unwrap();
    let out = answered.clone();
    sim.client("client", async move {
        *out.borrow_mut() = ask(5).await?;
        Ok::<(), io::Error>(())
    })
    .unwrap();
    // Armed long before any request: it waits for the first answer the server sends.
    sim.faults("1ms crash-after-send server 150ms".parse().unwrap()).unwrap();
    assert!(sim.run().is_passed());
    assert_eq!(*answered.borrow(), [true, false, true, true, true], "the answer left before the crash");
    assert_eq!(starts.get(), 2);
    assert_eq!(handled.get(), 4);
}

#[test]
fn a_recover_disarms_a_crash_that_never_went_off() {
    let (handled, starts) = (Rc::new(Cell::new(0)), Rc::new(Cell::new(0)));
    let mut sim = Sim::new(Seed(2));
    sim.node("server", answering(handled.clone(), starts.clone())).unwrap();
    sim.client("client", async {
        sleep(ms(200)).await;
        ask(3).await.map(drop)
    })
    .unwrap();
    sim.faults("10ms crash-after-receive server 1s\n20ms recover".parse().unwrap()).unwrap();
    assert!(sim.run().is_passed());
    assert_eq!(starts.get(), 1, "never crashed");
}

#[test]
fn the_primaries_partition_cuts_whoever_says_so_at_that_moment() {
    let mut sim = Sim::builder().record_trace(true).build().unwrap();
    for name in ["a", "b", "c"] {
        sim.node(name, move || async move {
            // b is the primary until 2 s, then c takes over.
            if name == "b" {
                world::set_primary(true);
                sleep(ms(2_000)).await;
                world::set_primary(false);
            }
            if name == "c" {
                sleep(ms(2_000)).await;
                world::set_primary(true);
            }
            sleep(ms(60_000)).await;
        })
        .unwrap();
    }
    sim.client("c1", async {
        sleep(ms(6_000)).await;
        Ok::<(), io::Error>(())
    })
    .unwrap();
    sim.faults("1s partition-primaries 500ms\n3s partition-primaries 500ms".parse().unwrap()).unwrap();
    sim.run().unwrap();
    let trace = sim.take_trace().unwrap();
    let names = sim.node_names();
    // The nodes in every cut made at that second: the ones cut off from the rest.
    let cut_from = |second: u64| -> Vec<String> {
        let pairs: Vec<(usize, usize)> = trace
            .iter()
            .filter(|e| e.at.as_nanos() == second * 1_000_000_000)
            .filter_map(|e| match e.kind {
                EventKind::Partition { from, to } => Some((from.index(), to.index())),
                _ => None,
            })
            .collect();
        assert_eq!(pairs.len(), 2 * 2, "one server against the 2 others, both ways (not the client): {pairs:?}");
        (0..names.len()).filter(|&i| pairs.iter().all(|&(a, b)| a == i || b == i)).map(|i| names[i].clone()).collect()
    };
    assert_eq!(cut_from(1), ["b"]);
    assert_eq!(cut_from(3), ["c"]);
    let repairs = trace.iter().filter(|e| matches!(e.kind, EventKind::Repair { .. })).count();
    assert_eq!(repairs, 2 * 2 * 2, "each cut repaired after 500 ms, both ways, against the 2 other servers");
}

#[test]
fn without_a_named_primary_the_busiest_server_is_cut() {
    // A leader that heartbeats its two followers every 50 ms; they answer each heartbeat.
    async fn member(leader: bool) -> io::Result<()> {
        let socket = UdpSocket::bind("0.0.0.0:7").await?;
        let mut buf = [0; 8];
        if leader {
            loop {
                for follower in ["f1", "f2"] {
                    socket.send_to(b"beat", (follower, 7)).await?;
                }
                sleep(ms(50)).await;
            }
        }
        loop {
            let (_, from) = socket.recv_from(&mut buf).await?;
            socket.send_to(b"ack", from).await?;
        }
    }
    let mut sim = Sim::builder().record_trace(true).build().unwrap();
    sim.node("f1", || member(false)).unwrap();
    sim.node("leader", || member(true)).unwrap();
    sim.node("f2", || member(false)).unwrap();
    sim.client("c", async {
        sleep(ms(3_000)).await;
        Ok::<(), io::Error>(())
    })
    .unwrap();
    sim.faults("2s partition-primaries 500ms".parse().unwrap()).unwrap();
    sim.run().unwrap();
    let names = sim.node_names();
    let cut: Vec<(String, String)> = sim
        .take_trace()
        .unwrap()
        .iter()
        .filter_map(|e| match e.kind {
            EventKind::Partition { from, to } => Some((names[from.index()].clone(), names[to.index()].clone())),
            _ => None,
        })
        .collect();
    assert_eq!(cut.len(), 4, "the leader against its two followers, both ways: {cut:?}");
    assert!(cut.iter().all(|(a, b)| a == "leader" || b == "leader"), "{cut:?}");
}

/// Client `c` reads its own clock at each of `steps` datagrams that client `ticker` (whose
/// clock no fault touches) sends it, one a millisecond from 1 s on, over a 1 ms link. Not a
/// sleep on `c`'s clock: that waits, as a real timer does, for a clock stepped back to read
/// its deadline again, so it would never see the clock go back.
fn readings(sim: &mut Sim, steps: u64) -> Rc<RefCell<Vec<u64>>> {
    let out = Rc::new(RefCell::new(Vec::new()));
    let readings = out.clone();
    sim.client("c", async move {
        let socket = UdpSocket::bind("0.0.0.0:7").await?;
        let mut buf = [0; 1];
        for _ in 0..steps {
            socket.recv_from(&mut buf).await?;
            readings.borrow_mut().push(Instant::now().as_nanos());
        }
        Ok::<(), io::Error>(())
    })
    .unwrap();
    sim.client("ticker", async move {
        let socket = UdpSocket::bind("0.0.0.0:0").await?;
        time::sleep_until(Instant::ZERO + ms(1_000)).await;
        for _ in 0..steps {
            socket.send_to(&[1], ("c", 7)).await?;
            sleep(ms(1)).await;
        }
        Ok::<(), io::Error>(())
    })
    .unwrap();
    out
}

/// A world whose datagrams take exactly 1 ms.
fn ticking() -> seedsim::Builder {
    Sim::builder().seed(Seed(1)).link(seedsim::net::Link::fixed(ms(1)))
}

#[test]
fn a_strobe_steps_the_clock_back_and_forth_and_ends_where_it_began() {
    let mut sim = ticking().build().unwrap();
    let seen = readings(&mut sim, 300);
    sim.faults("1050ms strobe c 500ms 10ms 100ms".parse().unwrap()).unwrap();
    assert!(sim.run().is_passed());
    let seen = seen.borrow();
    let back = seen.windows(2).filter(|w| w[1] < w[0]).count();
    assert_eq!(back, 5, "ten steps, every other one back");
    assert!(seen.iter().any(|&r| r > 1_500_000_000), "the forward steps show");
    // After the strobe the clock reads true time again.
    let last = *seen.last().unwrap();
    assert!(last < 1_400_000_000, "{last}");
}

#[test]
fn a_recover_ends_a_strobe() {
    let mut sim = ticking().build().unwrap();
    let seen = readings(&mut sim, 400);
    sim.faults("1050ms strobe c 500ms 10ms 5s\n1200ms recover".parse().unwrap()).unwrap();
    assert!(sim.run().is_passed());
    let seen = seen.borrow();
    // Readings from 1.2 s on (index 200) follow true time, one millisecond apart.
    assert!(seen[201..].windows(2).all(|w| w[1] - w[0] == 1_000_000), "{:?}", &seen[195..215]);
    assert!(seen[50..200].windows(2).any(|w| w[1] < w[0]), "it strobed before the recover");
}

#[test]
fn monotonic_clocks_take_forward_steps_and_drift_but_never_go_back() {
    let plan: FaultPlan = "
        1010ms jump c -300ms
        1020ms strobe c 200ms 5ms 100ms
        1200ms skew c -1s drift -50000ppm
        1250ms skew c +2s
        1260ms recover
    "
    .parse()
    .unwrap();
    for monotonic in [false, true] {
        let builder = ticking();
        let mut sim = if monotonic { builder.clocks_monotonic() } else { builder }.build().unwrap();
        let seen = readings(&mut sim, 400);
        sim.faults(plan.clone()).unwrap();
        assert!(sim.run().is_passed());
        let back = seen.borrow().windows(2).filter(|w| w[1] < w[0]).count();
        if monotonic {
            assert_eq!(back, 0, "{:?}", seen.borrow());
            assert!(seen.borrow().iter().any(|&r| r > 3_000_000_000), "forward steps still happen");
        } else {
            assert!(back >= 5, "without the flag the same plan steps back {back} times");
        }
    }
}

#[test]
fn a_drift_of_ten_percent_stretches_the_nodes_sleeps() {
    let slept = Rc::new(Cell::new(0));
    let mut sim = Sim::new(Seed(1));
    let out = slept.clone();
    sim.client("slow", async move {
        // A sleep follows the clock it was set on, also when the drift begins during it.
        sleep(ms(100)).await;
        let start = Instant::now();
        sleep(ms(1_000)).await;
        out.set(start.elapsed().as_nanos());
        Ok::<(), io::Error>(())
    })
    .unwrap();
    sim.faults("50ms skew slow +0s drift -100000ppm".parse().unwrap()).unwrap();
    let summary = sim.run().unwrap();
    assert_eq!(slept.get(), 1_000_000_000, "a second on its own clock");
    // 50 ms at the true rate, then the clock's last 50 ms of the first sleep and its 1 s of
    // the second at 0.9 of it: 50 ms + 1,050 ms / 0.9, rounded up to the nanosecond.
    assert_eq!(summary.time.as_nanos(), 50_000_000 + 1_166_666_667);
}

/// A replicated counter whose replicas apply every increment datagram they receive: correct
/// on any network that does not duplicate.
fn counters(sim: &mut Sim) -> Result<(), seedsim::Error> {
    let total = Rc::new(Cell::new(0u32));
    let seen = total.clone();
    sim.node("replica", move || {
        let seen = seen.clone();
        async move {
            let socket = UdpSocket::bind("0.0.0.0:7").await?;
            let mut buf = [0; 1];
            loop {
                socket.recv_from(&mut buf).await?;
                seen.set(seen.get() + 1);
            }
            #[allow(unreachable_code)]
            Ok::<(), io::Error>(())
        }
    })?;
    sim.client("client", async move {
        let socket = UdpSocket::bind("0.0.0.0:0").await?;
        for _ in 0..100 {
            socket.send_to(&[1], ("replica", 7)).await?;
            sleep(ms(100)).await;
        }
        sleep(ms(500)).await;
        // Datagrams may be lost (and a crash loses the count); never counted twice.
        if total.get() > 100 {
            return Err(io::Error::other(format!("counted {} increments of 100", total.get())));
        }
        Ok(())
    })?;
    Ok(())
}

#[test]
fn the_default_faults_find_what_only_duplication_breaks_and_chaos_cannot() {
    let chaos = Runner::new().seeds(200).determinism_checks(0).swarm(Profile::chaos()).try_run(counters).unwrap();
    assert!(chaos.failure.is_none(), "chaos has no duplication");
    let default = Runner::new().seeds(200).determinism_checks(0).default_faults().try_run(counters).unwrap();
    let failure = default.failure.expect("the default faults duplicate datagrams");
    assert!(failure.cause.to_string().contains("increments of 100"), "{}", failure.cause);
    assert!(failure.faults.faults().iter().any(|t| matches!(t.fault, Fault::Duplicate { .. })), "{}", failure.faults);
}

#[test]
fn the_default_faults_leave_out_disk_faults_for_a_system_without_files() {
    let kinds = |writes_files: bool| {
        let mut kinds = std::collections::BTreeSet::new();
        for base in 0..40 {
            let report = Runner::new()
                .seeds(1)
                .base_seed(Seed(base))
                .determinism_checks(0)
                .default_faults()
                .try_run(|sim| {
                    sim.node("db", move || async move {
                        if writes_files {
                            seedsim::fs::write("state", b"x").await?;
                        }
                        sleep(ms(60_000)).await;
                        Ok::<(), io::Error>(())
                    })?;
                    // Fails every run, so the report shows the plan.
                    sim.client("c", async {
                        sleep(ms(12_000)).await;
                        Err::<(), _>(io::Error::other("show the plan"))
                    })?;
                    Ok(())
                })
                .unwrap();
            for timed in report.failure.unwrap().faults.faults() {
                kinds.insert(timed.fault.kind());
            }
        }
        kinds
    };
    let without = kinds(false);
    assert!(without.iter().all(|kind| !kind.starts_with("disk-")), "{without:?}");
    assert!(!without.contains("duplicate") && !without.contains("reorder"), "{without:?}");
    let with = kinds(true);
    assert!(with.iter().any(|kind| kind.starts_with("disk-")), "{with:?}");
}

#[test]
fn every_generated_plan_installs_and_runs_to_its_end() {
    use proptest::strategy::{Strategy, ValueTree};
    let names: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
    let plans = seedsim::fault::strategy::plan(names.clone(), names, Duration::from_secs(3), 20);
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    for _ in 0..100 {
        let plan = plans.new_tree(&mut runner).unwrap().current();
        let mut sim = Sim::new(Seed(9));
        for name in ["a", "b", "c"] {
            sim.node(name, move || async move {
                world::set_primary(name == "a");
                let socket = UdpSocket::bind("0.0.0.0:7").await?;
                let mut buf = [0; 8];
                loop {
                    let (len, from) = socket.recv_from(&mut buf).await?;
                    socket.send_to(&buf[..len], from).await?;
                }
                #[allow(unreachable_code)]
                Ok::<(), io::Error>(())
            })
            .unwrap();
        }
        sim.client("pinger", async {
            let socket = UdpSocket::bind("0.0.0.0:0").await?;
            for i in 0..40u64 {
                socket.send_to(b"ping", (["a", "b", "c"][i as usize % 3], 7)).await?;
                let _ = time::timeout(ms(100), socket.recv_from(&mut [0; 8])).await;
            }
            Ok::<(), io::Error>(())
        })
        .unwrap();
        sim.faults(plan.clone()).unwrap_or_else(|err| panic!("{err}\n{plan}"));
        let summary = sim.run().unwrap();
        assert_eq!(summary.faults, plan);
    }
}
