//! The peer benchmark's workloads on turmoil (its `net::UdpSocket`, `net::TcpListener` and
//! `net::TcpStream`, and tokio's `spawn` and `time::sleep`, which turmoil runs on a simulated
//! clock). Links are 1 ms fixed (minimum and maximum message latency both 1 ms, the default
//! 1 ms tick). Every message received, timer fired, task joined and simulation passed is
//! counted, and every run must pass.

use std::cell::Cell;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::rc::Rc;
use std::time::Duration;

use seedsim_peers::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use turmoil::net::{TcpListener, TcpStream, UdpSocket};
use turmoil::{Builder, Sim};

fn main() {
    measure(
        "turmoil",
        &[
            workload("ping-pong", ping_pong),
            workload("stream", stream),
            workload("fan-out", fan_out),
            workload("timers", timers),
            workload("timers-100k", timers_100k),
            workload("spawn", spawn),
            workload("spawn-live", spawn_live),
            workload("tiny-sims", tiny_sims),
        ],
    );
}

/// A world with a fixed 1 ms link and no practical time limit.
fn world(seed: u64) -> Sim<'static> {
    Builder::new()
        .rng_seed(seed)
        .min_message_latency(LATENCY)
        .max_message_latency(LATENCY)
        .simulation_duration(Duration::from_secs(1 << 20))
        .build()
}

const ANY: IpAddr = IpAddr::V4(Ipv4Addr::UNSPECIFIED);

/// A host's main: echo every datagram to its sender, counting each.
async fn echo(received: Rc<Cell<u64>>) -> turmoil::Result {
    let socket = UdpSocket::bind((ANY, PORT)).await?;
    let mut buf = [0u8; MESSAGE_LEN];
    loop {
        let (len, from) = socket.recv_from(&mut buf).await?;
        received.set(received.get() + 1);
        socket.send_to(&buf[..len], from).await?;
    }
}

fn ping_pong() -> u64 {
    let received = Rc::new(Cell::new(0));
    let mut sim = world(1);
    let counter = received.clone();
    sim.host("server", move || echo(counter.clone()));
    let counter = received.clone();
    sim.client("client", async move {
        let socket = UdpSocket::bind((ANY, 0)).await?;
        let server = SocketAddr::new(turmoil::lookup("server"), PORT);
        let mut buf = [0u8; MESSAGE_LEN];
        for trip in 0..PING_PONG_TRIPS {
            socket.send_to(&[trip as u8; MESSAGE_LEN], server).await?;
            let (len, _) = socket.recv_from(&mut buf).await?;
            assert_eq!((len, buf[0]), (MESSAGE_LEN, trip as u8));
            counter.set(counter.get() + 1);
        }
        Ok(())
    });
    sim.run().expect("the simulation passes");
    received.get()
}

fn stream() -> u64 {
    let received = Rc::new(Cell::new(0));
    let mut sim = world(6);
    let counter = received.clone();
    sim.host("server", move || {
        let counter = counter.clone();
        async move {
            let listener = TcpListener::bind((ANY, PORT)).await?;
            let (mut stream, _) = listener.accept().await?;
            let mut buf = [0u8; MESSAGE_LEN];
            loop {
                if let Err(err) = stream.read_exact(&mut buf).await {
                    return if err.kind() == std::io::ErrorKind::UnexpectedEof { Ok(()) } else { Err(err.into()) };
                }
                counter.set(counter.get() + 1);
                stream.write_all(&buf).await?;
                stream.flush().await?;
            }
        }
    });
    let counter = received.clone();
    sim.client("client", async move {
        let mut stream = TcpStream::connect((turmoil::lookup("server"), PORT)).await?;
        let mut buf = [0u8; MESSAGE_LEN];
        for trip in 0..PING_PONG_TRIPS {
            stream.write_all(&[trip as u8; MESSAGE_LEN]).await?;
            stream.flush().await?;
            stream.read_exact(&mut buf).await?;
            assert_eq!(buf[0], trip as u8);
            counter.set(counter.get() + 1);
        }
        Ok(())
    });
    sim.run().expect("the simulation passes");
    received.get()
}

fn fan_out() -> u64 {
    let received = Rc::new(Cell::new(0));
    let mut sim = world(2);
    for me in 0..FAN_OUT_NODES {
        let counter = received.clone();
        sim.client(format!("n{me}"), async move {
            let socket = UdpSocket::bind((ANY, PORT)).await?;
            let peers: Vec<SocketAddr> = (0..FAN_OUT_NODES)
                .filter(|&other| other != me)
                .map(|other| SocketAddr::new(turmoil::lookup(format!("n{other}")), PORT))
                .collect();
            let message = [me as u8; MESSAGE_LEN];
            let mut buf = [0u8; MESSAGE_LEN];
            for _ in 0..FAN_OUT_ROUNDS {
                for &peer in &peers {
                    socket.send_to(&message, peer).await?;
                }
                for _ in 0..peers.len() {
                    let (len, _) = socket.recv_from(&mut buf).await?;
                    assert_eq!(len, MESSAGE_LEN);
                    counter.set(counter.get() + 1);
                }
            }
            Ok(())
        });
    }
    sim.run().expect("the simulation passes");
    received.get()
}

fn timers() -> u64 {
    timers_with(TIMER_TASKS)
}

fn timers_100k() -> u64 {
    timers_with(TIMER_TASKS_LARGE)
}

/// `tasks` tasks each sleep `TIMER_SLEEPS` times; the client joins them all.
fn timers_with(tasks: u64) -> u64 {
    let fired = Rc::new(Cell::new(0));
    let mut sim = world(3);
    let counter = fired.clone();
    sim.client("sleeper", async move {
        // turmoil runs each host on a `LocalSet`, so tasks need not be `Send` (as in seedsim).
        let handles: Vec<_> = (0..tasks)
            .map(|me| {
                let counter = counter.clone();
                tokio::task::spawn_local(async move {
                    for i in 0..TIMER_SLEEPS {
                        tokio::time::sleep(Duration::from_millis(sleep_ms(me, i))).await;
                        counter.set(counter.get() + 1);
                    }
                })
            })
            .collect();
        for handle in handles {
            handle.await?;
        }
        Ok(())
    });
    sim.run().expect("the simulation passes");
    fired.get()
}

fn spawn() -> u64 {
    spawn_in_batches_of(SPAWN_BATCH)
}

fn spawn_live() -> u64 {
    spawn_in_batches_of(SPAWN_TASKS)
}

/// `SPAWN_TASKS` trivial tasks, spawned `batch` at a time; each batch is joined before the next.
fn spawn_in_batches_of(batch: u64) -> u64 {
    let joined = Rc::new(Cell::new(0));
    let mut sim = world(4);
    let counter = joined.clone();
    sim.client("spawner", async move {
        let mut handles = Vec::with_capacity(batch as usize);
        for _ in 0..SPAWN_TASKS / batch {
            handles.extend((0..batch).map(|_| tokio::spawn(async {})));
            for handle in handles.drain(..) {
                handle.await?;
                counter.set(counter.get() + 1);
            }
        }
        Ok(())
    });
    sim.run().expect("the simulation passes");
    joined.get()
}

fn tiny_sims() -> u64 {
    let mut passed = 0;
    for seed in 0..TINY_SIMS {
        let echoed = Rc::new(Cell::new(0));
        let mut sim = world(0x5eed_0000 + seed);
        let counter = echoed.clone();
        sim.host("server", move || echo(counter.clone()));
        for client in ["a", "b"] {
            sim.client(client, async {
                let socket = UdpSocket::bind((ANY, 0)).await?;
                let server = SocketAddr::new(turmoil::lookup("server"), PORT);
                let mut buf = [0u8; MESSAGE_LEN];
                for ping in 0..TINY_PINGS {
                    socket.send_to(&[ping; MESSAGE_LEN], server).await?;
                    let (len, _) = socket.recv_from(&mut buf).await?;
                    assert_eq!((len, buf[0]), (MESSAGE_LEN, ping));
                }
                Ok(())
            });
        }
        sim.run().expect("the simulation passes");
        assert_eq!(echoed.get(), 2 * u64::from(TINY_PINGS));
        passed += 1;
    }
    passed
}
