//! Stream faults: partial reads and writes, random resets, refused connects and slow
//! connections, each on its own, turned on and off during a run, traced, and deterministic.

use std::cell::RefCell;
use std::io;
use std::rc::Rc;
use std::time::Duration;

use futures::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::ms;
use seedsim::net::{Link, StreamConfig, StreamFaults, TcpListener, TcpStream};
use seedsim::time::{sleep, Instant};
use seedsim::trace::{EventKind, ResetReason};
use seedsim::{world, Builder, ErrorKind, Ratio, Seed, Sim};

fn with_faults(faults: StreamFaults) -> Builder {
    Sim::builder().link(Link::fixed(ms(1))).stream(StreamConfig::default().faults(faults)).record_trace(true)
}

/// A node that echoes every connection on port 7 until it ends.
fn echo(sim: &mut Sim) {
    sim.node("echo", || async {
        let listener = TcpListener::bind("0.0.0.0:7").await?;
        loop {
            let (stream, _) = listener.accept().await?;
            drop(seedsim::task::spawn(async move { futures::io::copy(&stream, &mut &stream).await }));
        }
        #[allow(unreachable_code)]
        Ok::<(), io::Error>(())
    })
    .unwrap();
}

fn count(trace: &[seedsim::trace::Event], pick: impl Fn(&EventKind) -> bool) -> usize {
    trace.iter().filter(|event| pick(&event.kind)).count()
}

#[test]
fn partial_reads_return_fewer_bytes_than_are_there_and_nothing_is_lost() {
    let mut sim = with_faults(StreamFaults::NONE.partial_read(Ratio::ALWAYS)).seed(Seed(1)).build().unwrap();
    sim.node("server", || async {
        let listener = TcpListener::bind("0.0.0.0:80").await?;
        let (mut stream, _) = listener.accept().await?;
        stream.write_all(&[9u8; 1_000]).await?;
        stream.close().await
    })
    .unwrap();
    let reads = Rc::new(RefCell::new(Vec::new()));
    let log = reads.clone();
    sim.client("client", async move {
        let mut stream = TcpStream::connect(("server", 80)).await?;
        sleep(ms(100)).await; // everything has arrived
        let mut buf = [0u8; 1_000];
        let mut total = 0;
        loop {
            let len = stream.read(&mut buf[total..]).await?;
            if len == 0 {
                break;
            }
            log.borrow_mut().push(len);
            total += len;
        }
        assert_eq!(total, 1_000);
        assert!(buf.iter().all(|&b| b == 9));
        Ok::<(), io::Error>(())
    })
    .unwrap();
    sim.run().unwrap();
    let reads = reads.borrow();
    assert!(reads.len() > 1, "{reads:?}");
    // Every read that could take more than one byte took fewer: only the last byte comes
    // whole.
    assert_eq!(*reads.last().unwrap(), 1, "{reads:?}");
    let trace = sim.take_trace().unwrap();
    let partial = count(&trace, |kind| matches!(kind, EventKind::StreamPartial { write: false, .. }));
    assert_eq!(partial, reads.len() - 1);
}

#[test]
fn partial_writes_take_fewer_bytes_and_write_all_still_sends_everything() {
    let faults = StreamFaults::NONE.partial_write(Ratio::percent(50).unwrap());
    let mut sim = with_faults(faults).seed(Seed(2)).build().unwrap();
    echo(&mut sim);
    let short = Rc::new(RefCell::new(0));
    let shorts = short.clone();
    sim.client("client", async move {
        let mut stream = TcpStream::connect(("echo", 7)).await?;
        let message: Vec<u8> = (0..4_000u32).map(|i| i as u8).collect();
        for _ in 0..20 {
            let taken = stream.write(&message).await?;
            assert!((1..=message.len()).contains(&taken));
            if taken < message.len() {
                *shorts.borrow_mut() += 1;
            }
            stream.write_all(&message[taken..]).await?;
            let mut echoed = vec![0u8; message.len()];
            stream.read_exact(&mut echoed).await?;
            assert_eq!(echoed, message);
        }
        Ok::<(), io::Error>(())
    })
    .unwrap();
    sim.run().unwrap();
    let short = *short.borrow();
    assert!((3..=17).contains(&short), "{short} of 20 first writes were short");
    let trace = sim.take_trace().unwrap();
    assert!(count(&trace, |kind| matches!(kind, EventKind::StreamPartial { write: true, .. })) >= short);
}

#[test]
fn random_resets_break_connections_on_both_sides_and_retries_get_through() {
    let faults = StreamFaults::NONE.reset(Ratio::new(1, 40).unwrap());
    let mut sim = with_faults(faults).seed(Seed(3)).build().unwrap();
    echo(&mut sim);
    let failures = Rc::new(RefCell::new(Vec::new()));
    let log = failures.clone();
    sim.client("client", async move {
        let mut done = 0;
        while done < 30 {
            let mut stream = TcpStream::connect(("echo", 7)).await?;
            let message = [done as u8; 3_000];
            let mut echoed = [0u8; 3_000];
            let exchange = async {
                stream.write_all(&message).await?;
                stream.read_exact(&mut echoed).await
            };
            match exchange.await {
                Ok(()) => {
                    assert_eq!(echoed, message);
                    done += 1;
                }
                Err(err) => log.borrow_mut().push(err.kind()),
            }
        }
        Ok::<(), io::Error>(())
    })
    .unwrap();
    sim.run().unwrap();
    let failures = failures.borrow();
    assert!(!failures.is_empty(), "no connection was reset");
    assert!(failures.iter().all(|&kind| kind == io::ErrorKind::ConnectionReset), "{failures:?}");
    let trace = sim.take_trace().unwrap();
    let by_fault = count(&trace, |kind| matches!(kind, EventKind::StreamReset { reason: ResetReason::Fault, .. }));
    let by_peer = count(&trace, |kind| matches!(kind, EventKind::StreamReset { reason: ResetReason::Peer, .. }));
    assert!(by_fault > 0);
    // The side that drew the fault tells the other, which fails too.
    assert_eq!(by_peer, by_fault);
}

#[test]
fn refused_connects_and_turning_a_fault_off_during_the_run() {
    let mut sim = with_faults(StreamFaults::NONE.connect_refused(Ratio::ALWAYS)).seed(Seed(4)).build().unwrap();
    echo(&mut sim);
    sim.client("client", async {
        for _ in 0..3 {
            let err = TcpStream::connect(("echo", 7)).await.unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused);
        }
        world::set_stream_faults(StreamFaults::NONE)?;
        let mut stream = TcpStream::connect(("echo", 7)).await?;
        stream.write_all(b"in").await?;
        let mut buf = [0u8; 2];
        stream.read_exact(&mut buf).await?;
        assert_eq!(&buf, b"in");
        Ok::<(), Box<dyn std::error::Error>>(())
    })
    .unwrap();
    sim.run().unwrap();
    let trace = sim.take_trace().unwrap();
    assert_eq!(count(&trace, |kind| matches!(kind, EventKind::StreamFaultsSet)), 1);
    assert_eq!(count(&trace, |kind| matches!(kind, EventKind::StreamReset { reason: ResetReason::Refused, .. })), 3);
}

#[test]
fn some_connections_are_slow_and_the_rest_are_not() {
    let faults = StreamFaults::NONE.slow(Ratio::percent(50).unwrap(), ms(100));
    let mut sim = with_faults(faults).seed(Seed(5)).build().unwrap();
    echo(&mut sim);
    let round_trips = Rc::new(RefCell::new(Vec::new()));
    let log = round_trips.clone();
    sim.client("client", async move {
        for _ in 0..20 {
            let mut stream = TcpStream::connect(("echo", 7)).await?;
            let start = Instant::now();
            stream.write_all(b"x").await?;
            stream.read_exact(&mut [0u8; 1]).await?;
            log.borrow_mut().push(start.elapsed());
        }
        Ok::<(), io::Error>(())
    })
    .unwrap();
    sim.run().unwrap();
    let round_trips = round_trips.borrow();
    // Two hops of 1 ms, plus 100 ms each way on a slow connection.
    let fast = round_trips.iter().filter(|&&rtt| rtt == ms(2)).count();
    let slow = round_trips.iter().filter(|&&rtt| rtt == ms(202)).count();
    assert_eq!(fast + slow, 20, "{round_trips:?}");
    assert!((4..=16).contains(&slow), "{slow} slow of 20");
}

#[test]
fn stream_faults_are_checked_and_deterministic() {
    let too_slow = StreamFaults::NONE.slow(Ratio::ALWAYS, Duration::from_secs(1 << 31));
    let err = Sim::builder().stream(StreamConfig::default().faults(too_slow)).build().unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::InvalidConfig { field: "StreamFaults::slow_delay", .. }), "{err}");
    let mut sim = Sim::new(Seed(1));
    assert!(sim.set_stream_faults(too_slow).is_err());
    sim.set_stream_faults(StreamFaults::NONE.reset(Ratio::percent(1).unwrap())).unwrap();

    let everything = StreamFaults::NONE
        .reset(Ratio::new(1, 100).unwrap())
        .partial_read(Ratio::percent(30).unwrap())
        .partial_write(Ratio::percent(30).unwrap())
        .connect_refused(Ratio::percent(10).unwrap())
        .slow(Ratio::percent(20).unwrap(), ms(30));
    let run = |seed: Seed| {
        let mut sim = with_faults(everything).link(crate::support::rough_link()).seed(seed).build().unwrap();
        echo(&mut sim);
        sim.client("client", async {
            let mut done = 0u32;
            while done < 10 {
                let Ok(mut stream) = TcpStream::connect(("echo", 7)).await else { continue };
                let message = vec![done as u8; 2_000];
                let mut echoed = vec![0u8; 2_000];
                if stream.write_all(&message).await.is_ok() && stream.read_exact(&mut echoed).await.is_ok() {
                    assert_eq!(echoed, message);
                    done += 1;
                }
            }
            Ok::<(), io::Error>(())
        })
        .unwrap();
        sim.run()
    };
    for index in 0..5 {
        let seed = Seed(0x5f).nth(index);
        let (first, second) = (run(seed), run(seed));
        assert!(first.is_passed(), "{}", first.failure().unwrap());
        assert_eq!(first.trace_hash(), second.trace_hash(), "seed {seed}");
    }
}
