//! Network semantics: partitions (both ways, one way, in flight), repair, isolation, clogs,
//! the configured rates of loss, duplication and reordering, lookup and bind errors, and the
//! sparse link store.

use std::cell::RefCell;
use std::io;
use std::rc::Rc;
use std::time::Duration;

use crate::support::ms;
use seedsim::net::{lookup, Latency, Link, UdpSocket};
use seedsim::time::{sleep, Instant};
use seedsim::{OnLimit, Ratio, Seed, Sim};

type Inbox = Rc<RefCell<Vec<(u32, Instant)>>>;

/// A node that records every datagram it receives (a `u32` sequence number) and when.
fn recorder(sim: &mut Sim, name: &str) -> Inbox {
    let inbox: Inbox = Rc::default();
    let log = inbox.clone();
    sim.node(name, move || {
        let log = log.clone();
        async move {
            let socket = UdpSocket::bind("0.0.0.0:9").await?;
            let mut buf = [0u8; 4];
            loop {
                let (len, _) = socket.recv_from(&mut buf).await?;
                assert_eq!(len, 4);
                log.borrow_mut().push((u32::from_le_bytes(buf), Instant::now()));
            }
            #[allow(unreachable_code)]
            Ok::<(), io::Error>(())
        }
    })
    .unwrap();
    inbox
}

/// A client that sends `count` numbered datagrams to `to`, one every `every`.
fn sender(sim: &mut Sim, name: &str, to: &'static str, count: u32, every: Duration) {
    sim.client(name, async move {
        let socket = UdpSocket::bind("0.0.0.0:0").await?;
        for seq in 0..count {
            socket.send_to(&seq.to_le_bytes(), (to, 9)).await?;
            sleep(every).await;
        }
        sleep(Duration::from_secs(1)).await; // let the last ones land
        Ok::<(), io::Error>(())
    })
    .unwrap();
}

fn fixed(latency: Duration) -> seedsim::Builder {
    Sim::builder().link(Link::fixed(latency))
}

#[test]
fn nothing_crosses_a_partition_and_delivery_resumes_after_repair() {
    let mut sim = fixed(ms(5)).seed(Seed(1)).build().unwrap();
    let inbox = recorder(&mut sim, "b");
    sender(&mut sim, "a", "b", 30, ms(10));
    assert!(sim.run_until(Instant::ZERO + ms(100)).is_none());
    sim.partition("a", "b").unwrap();
    assert!(sim.run_until(Instant::ZERO + ms(200)).is_none());
    let during: Vec<u32> = inbox.borrow().iter().map(|(seq, _)| *seq).collect();
    sim.repair("a", "b").unwrap();
    sim.run().unwrap();
    let all: Vec<u32> = inbox.borrow().iter().map(|(seq, _)| *seq).collect();
    // Sent at 0, 10, ..., 290 ms, arriving 5 ms later. Number 10, sent at 100 ms, was in
    // flight when the partition began and is dropped on arrival; 11..=20 (sent at 110..=200
    // ms) meet the partition; from 21 on they flow again.
    assert_eq!(during, (0..10).collect::<Vec<_>>());
    assert_eq!(all, (0..10).chain(21..30).collect::<Vec<_>>());
}

#[test]
fn a_one_way_partition_blocks_one_direction_only() {
    let mut sim = fixed(ms(1)).seed(Seed(2)).build().unwrap();
    let at_c = recorder(&mut sim, "c");
    sender(&mut sim, "a", "c", 5, ms(10));
    sim.partition_oneway("a", "c").unwrap();
    sim.run().unwrap();
    assert!(at_c.borrow().is_empty(), "a -> c is blocked");

    let mut sim = fixed(ms(1)).seed(Seed(2)).build().unwrap();
    let at_a = recorder(&mut sim, "a");
    sender(&mut sim, "c", "a", 5, ms(10));
    sim.partition_oneway("a", "c").unwrap();
    sim.run().unwrap();
    assert_eq!(at_a.borrow().len(), 5, "c -> a still flows");
}

#[test]
fn isolation_and_rejoin() {
    let mut sim = fixed(ms(1)).seed(Seed(3)).build().unwrap();
    let inbox = recorder(&mut sim, "b");
    sender(&mut sim, "a", "b", 20, ms(10));
    sim.isolate("b").unwrap();
    assert!(sim.run_until(Instant::ZERO + ms(95)).is_none());
    assert!(inbox.borrow().is_empty());
    sim.rejoin("b").unwrap();
    sim.run().unwrap();
    let got: Vec<u32> = inbox.borrow().iter().map(|(seq, _)| *seq).collect();
    assert_eq!(got, (10..20).collect::<Vec<_>>());
}

#[test]
fn a_clog_delays_datagrams_until_it_clears_without_losing_them() {
    let mut sim = fixed(ms(2)).seed(Seed(4)).build().unwrap();
    let inbox = recorder(&mut sim, "b");
    sender(&mut sim, "a", "b", 10, ms(10));
    sim.clog("a", "b", ms(45)).unwrap();
    sim.run().unwrap();
    let inbox = inbox.borrow();
    assert_eq!(inbox.iter().map(|(seq, _)| *seq).collect::<Vec<_>>(), (0..10).collect::<Vec<_>>());
    for (seq, at) in inbox.iter() {
        let normal = Instant::ZERO + ms(u64::from(*seq) * 10 + 2);
        let expected = if normal < Instant::ZERO + ms(45) { Instant::ZERO + ms(45) } else { normal };
        assert_eq!(*at, expected, "datagram {seq}");
    }
}

/// Send `count` datagrams on a link with `link`'s faults and return what arrived, in order.
fn arrivals(link: Link, count: u32, seed: u64) -> Vec<u32> {
    let mut sim = Sim::builder().link(link).seed(Seed(seed)).build().unwrap();
    let inbox = recorder(&mut sim, "b");
    sender(&mut sim, "a", "b", count, ms(1));
    sim.run().unwrap();
    inbox.borrow().iter().map(|(seq, _)| *seq).collect()
}

#[test]
fn loss_duplication_and_reordering_happen_at_their_configured_rates() {
    const N: u32 = 10_000;
    let base = Link::fixed(ms(5));
    // Tolerances are 5 standard deviations of a binomial count: failing by chance is
    // practically impossible, while a rate off by a third fails.
    let loss = arrivals(Link { loss: Ratio::percent(10).unwrap(), ..base }, N, 1);
    let lost = N as usize - loss.len();
    assert!((850..=1150).contains(&lost), "10% loss lost {lost} of {N}");

    let dup = arrivals(Link { duplicate: Ratio::percent(5).unwrap(), ..base }, N, 2);
    let extra = dup.len() - N as usize;
    assert!((390..=610).contains(&extra), "5% duplication made {extra} copies");

    let reorder = arrivals(Link { reorder: Ratio::percent(5).unwrap(), ..base }, N, 3);
    assert_eq!(reorder.len(), N as usize, "reordering loses nothing");
    // A held-back datagram arrives after the next few: count datagrams that arrive after a
    // higher-numbered one.
    let mut highest = 0;
    let late = reorder
        .iter()
        .filter(|&&seq| {
            let is_late = seq < highest;
            highest = highest.max(seq);
            is_late
        })
        .count();
    assert!((390..=610).contains(&late), "5% reordering delayed {late}");

    let clean = arrivals(base, 1_000, 4);
    assert_eq!(clean, (0..1_000).collect::<Vec<_>>(), "a clean link is lossless and in order");
}

#[test]
fn latency_distributions_shape_arrival_times() {
    let link = Link { latency: Latency::Uniform { min: ms(10), max: ms(20) }, ..Link::default() };
    let mut sim = Sim::builder().link(link).seed(Seed(5)).build().unwrap();
    let inbox = recorder(&mut sim, "b");
    sender(&mut sim, "a", "b", 200, ms(30));
    sim.run().unwrap();
    for (seq, at) in inbox.borrow().iter() {
        let latency = at.duration_since(Instant::ZERO + ms(u64::from(*seq) * 30));
        assert!((ms(10)..=ms(20)).contains(&latency), "datagram {seq} took {latency:?}");
    }
}

#[test]
fn per_pair_links_override_the_default_and_are_stored_sparsely() {
    let mut sim = Sim::builder()
        .link(Link::fixed(ms(1)))
        .on_limit(OnLimit::Pass)
        .time_limit(Duration::from_secs(1))
        .build()
        .unwrap();
    for i in 0..1_000 {
        sim.node(&format!("n{i}"), || async {}).unwrap();
    }
    sim.set_link("n1", "n2", Link::fixed(ms(50))).unwrap();
    let inbox = recorder(&mut sim, "sink");
    sender(&mut sim, "n-sender", "sink", 3, ms(1));
    sim.run().unwrap();
    let pairs = sim.counts().link_pairs;
    assert!(pairs <= 2, "1,000 nodes hold {pairs} link records, not a million");
    assert_eq!(inbox.borrow().len(), 3);
}

#[test]
fn lookup_and_bind_errors_say_what_is_wrong() {
    let mut sim = Sim::new(Seed(1));
    sim.node("server", || async {}).unwrap();
    sim.client("c", async {
        assert_eq!(lookup("server")?.to_string(), "10.0.0.1");
        let err = lookup("nope").unwrap_err();
        assert_eq!(err.kind(), &seedsim::ErrorKind::UnknownNode);
        let socket = UdpSocket::bind("0.0.0.0:4000").await.unwrap();
        assert_eq!(socket.local_addr().unwrap().to_string(), "10.0.0.2:4000");
        let in_use = UdpSocket::bind("0.0.0.0:4000").await.unwrap_err();
        assert_eq!(in_use.kind(), io::ErrorKind::AddrInUse);
        let foreign = UdpSocket::bind("10.0.0.1:4001").await.unwrap_err();
        assert_eq!(foreign.kind(), io::ErrorKind::AddrNotAvailable);
        let unknown = socket.send_to(b"x", ("nobody", 1)).await.unwrap_err();
        assert_eq!(unknown.kind(), io::ErrorKind::NotFound);
        assert!(unknown.to_string().contains("nobody"));
        let bad = socket.send_to(b"x", "no-port").await.unwrap_err();
        assert_eq!(bad.kind(), io::ErrorKind::InvalidInput);
        let big = socket.send_to(&vec![0u8; 70_000], ("server", 1)).await.unwrap_err();
        assert_eq!(big.kind(), io::ErrorKind::InvalidInput);
        drop(socket);
        UdpSocket::bind("0.0.0.0:4000").await.expect("a dropped socket frees its port");
        Ok::<(), seedsim::Error>(())
    })
    .unwrap();
    sim.run().unwrap();
}

#[test]
fn datagrams_carry_the_senders_address_and_loopback_reaches_the_node_itself() {
    let mut sim = Sim::new(Seed(1));
    sim.client("c", async {
        let a = UdpSocket::bind("0.0.0.0:1000").await?;
        let b = UdpSocket::bind("127.0.0.1:2000").await?;
        a.send_to(b"hi", "localhost:2000").await?;
        let mut buf = [0u8; 1]; // shorter than the datagram: truncated, as UDP does
        let (len, from) = b.recv_from(&mut buf).await?;
        assert_eq!((len, &buf[..]), (1, &b"h"[..]));
        assert_eq!(from, a.local_addr()?);
        Ok::<(), io::Error>(())
    })
    .unwrap();
    sim.run().unwrap();
}
