//! The peer benchmark's workloads on madsim (built with `RUSTFLAGS="--cfg madsim"`, without
//! which madsim is a thin layer over tokio): its `net::UdpSocket`, `net::TcpListener`,
//! `net::TcpStream` (whose writes are buffered until a flush, so every implementation flushes
//! after each message), `task::spawn` and `time::sleep`. Links are 1 ms: madsim draws each
//! packet's latency uniformly from a half-open range, which may not be empty, so the range is
//! 1 ms to 1 ms + 1 ns. Every message received, timer fired, task joined and simulation passed
//! is counted, and every run must pass.

#[cfg(not(madsim))]
compile_error!("the madsim benchmark needs RUSTFLAGS=\"--cfg madsim\" (peers/run.sh sets it)");

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use madsim::net::{TcpListener, TcpStream, UdpSocket};
use madsim::runtime::{Handle, Runtime};
use seedsim_peers::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn main() {
    measure(
        "madsim",
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

/// Runs `main` in a fresh runtime with a 1 ms link and no practical time limit.
fn run<F: Future<Output = ()>>(seed: u64, main: impl FnOnce() -> F) {
    let mut config = madsim::Config::default();
    config.net.send_latency = LATENCY..LATENCY + Duration::from_nanos(1);
    let mut runtime = Runtime::with_seed_and_config(seed, config);
    runtime.set_time_limit(Duration::from_secs(1 << 20));
    runtime.block_on(main());
}

/// The address of the `i`-th node.
fn ip(i: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(10, 0, 0, i + 1))
}

const ANY: IpAddr = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
const SERVER: u8 = 0;

/// Starts a node at `ip(SERVER)` that echoes every datagram to its sender, counting each.
fn echo_node(received: &Arc<AtomicU64>) {
    let received = received.clone();
    Handle::current()
        .create_node()
        .name("server")
        .ip(ip(SERVER))
        .init(move || {
            let received = received.clone();
            async move {
                let socket = UdpSocket::bind((ANY, PORT)).await.expect("bind");
                let mut buf = [0u8; MESSAGE_LEN];
                loop {
                    let (len, from) = socket.recv_from(&mut buf).await.expect("recv");
                    received.fetch_add(1, Relaxed);
                    socket.send_to(from, &buf[..len]).await.expect("send");
                }
            }
        })
        .build();
}

/// Runs `main` as the main task of a new node at `ip(i)` and waits for it.
async fn client<F>(i: u8, main: F)
where
    F: Future<Output = ()> + Send + 'static,
{
    let node = Handle::current().create_node().name(format!("n{i}")).ip(ip(i)).build();
    node.spawn(main).await.expect("the client finishes");
}

fn ping_pong() -> u64 {
    let received = Arc::new(AtomicU64::new(0));
    run(1, || async {
        echo_node(&received);
        let counter = received.clone();
        client(1, async move {
            let socket = UdpSocket::bind((ANY, 0)).await.expect("bind");
            let server = SocketAddr::new(ip(SERVER), PORT);
            let mut buf = [0u8; MESSAGE_LEN];
            for trip in 0..PING_PONG_TRIPS {
                socket.send_to(server, &[trip as u8; MESSAGE_LEN]).await.expect("send");
                let (len, _) = socket.recv_from(&mut buf).await.expect("recv");
                assert_eq!((len, buf[0]), (MESSAGE_LEN, trip as u8));
                counter.fetch_add(1, Relaxed);
            }
        })
        .await;
    });
    received.load(Relaxed)
}

fn stream() -> u64 {
    let received = Arc::new(AtomicU64::new(0));
    run(6, || async {
        let counter = received.clone();
        Handle::current()
            .create_node()
            .name("server")
            .ip(ip(SERVER))
            .init(move || {
                let counter = counter.clone();
                async move {
                    let listener = TcpListener::bind((ANY, PORT)).await.expect("bind");
                    let (mut stream, _) = listener.accept().await.expect("accept");
                    let mut buf = [0u8; MESSAGE_LEN];
                    while stream.read_exact(&mut buf).await.is_ok() {
                        counter.fetch_add(1, Relaxed);
                        stream.write_all(&buf).await.expect("write");
                        stream.flush().await.expect("write");
                    }
                }
            })
            .build();
        let counter = received.clone();
        client(1, async move {
            let mut stream = TcpStream::connect((ip(SERVER), PORT)).await.expect("connect");
            let mut buf = [0u8; MESSAGE_LEN];
            for trip in 0..PING_PONG_TRIPS {
                stream.write_all(&[trip as u8; MESSAGE_LEN]).await.expect("write");
                stream.flush().await.expect("write");
                stream.read_exact(&mut buf).await.expect("read");
                assert_eq!(buf[0], trip as u8);
                counter.fetch_add(1, Relaxed);
            }
        })
        .await;
    });
    received.load(Relaxed)
}

fn fan_out() -> u64 {
    let received = Arc::new(AtomicU64::new(0));
    run(2, || async {
        let nodes: Vec<_> = (0..FAN_OUT_NODES as u8)
            .map(|me| {
                let counter = received.clone();
                let node = Handle::current().create_node().name(format!("n{me}")).ip(ip(me)).build();
                node.spawn(async move {
                    let socket = UdpSocket::bind((ANY, PORT)).await.expect("bind");
                    let peers: Vec<SocketAddr> = (0..FAN_OUT_NODES as u8)
                        .filter(|&other| other != me)
                        .map(|other| SocketAddr::new(ip(other), PORT))
                        .collect();
                    let message = [me; MESSAGE_LEN];
                    let mut buf = [0u8; MESSAGE_LEN];
                    for _ in 0..FAN_OUT_ROUNDS {
                        for &peer in &peers {
                            socket.send_to(peer, &message).await.expect("send");
                        }
                        for _ in 0..peers.len() {
                            let (len, _) = socket.recv_from(&mut buf).await.expect("recv");
                            assert_eq!(len, MESSAGE_LEN);
                            counter.fetch_add(1, Relaxed);
                        }
                    }
                })
            })
            .collect();
        for node in nodes {
            node.await.expect("the client finishes");
        }
    });
    received.load(Relaxed)
}

fn timers() -> u64 {
    timers_with(TIMER_TASKS)
}

fn timers_100k() -> u64 {
    timers_with(TIMER_TASKS_LARGE)
}

/// `tasks` tasks each sleep `TIMER_SLEEPS` times; the client joins them all.
fn timers_with(tasks: u64) -> u64 {
    let fired = Arc::new(AtomicU64::new(0));
    run(3, || async {
        let counter = fired.clone();
        client(1, async move {
            let handles: Vec<_> = (0..tasks)
                .map(|me| {
                    let counter = counter.clone();
                    madsim::task::spawn(async move {
                        for i in 0..TIMER_SLEEPS {
                            madsim::time::sleep(Duration::from_millis(sleep_ms(me, i))).await;
                            counter.fetch_add(1, Relaxed);
                        }
                    })
                })
                .collect();
            for handle in handles {
                handle.await.expect("the task finishes");
            }
        })
        .await;
    });
    fired.load(Relaxed)
}

fn spawn() -> u64 {
    spawn_in_batches_of(SPAWN_BATCH)
}

fn spawn_live() -> u64 {
    spawn_in_batches_of(SPAWN_TASKS)
}

/// `SPAWN_TASKS` trivial tasks, spawned `batch` at a time; each batch is joined before the next.
fn spawn_in_batches_of(batch: u64) -> u64 {
    let joined = Arc::new(AtomicU64::new(0));
    run(4, || async {
        let counter = joined.clone();
        client(1, async move {
            let mut handles = Vec::with_capacity(batch as usize);
            for _ in 0..SPAWN_TASKS / batch {
                handles.extend((0..batch).map(|_| madsim::task::spawn(async {})));
                for handle in handles.drain(..) {
                    handle.await.expect("the task finishes");
                    counter.fetch_add(1, Relaxed);
                }
            }
        })
        .await;
    });
    joined.load(Relaxed)
}

fn tiny_sims() -> u64 {
    let mut passed = 0;
    for seed in 0..TINY_SIMS {
        let echoed = Arc::new(AtomicU64::new(0));
        run(0x5eed_0000 + seed, || async {
            echo_node(&echoed);
            let clients: Vec<_> = (1..=2)
                .map(|i| {
                    let node = Handle::current().create_node().name(format!("n{i}")).ip(ip(i)).build();
                    node.spawn(async move {
                        let socket = UdpSocket::bind((ANY, 0)).await.expect("bind");
                        let server = SocketAddr::new(ip(SERVER), PORT);
                        let mut buf = [0u8; MESSAGE_LEN];
                        for ping in 0..TINY_PINGS {
                            socket.send_to(server, &[ping; MESSAGE_LEN]).await.expect("send");
                            let (len, _) = socket.recv_from(&mut buf).await.expect("recv");
                            assert_eq!((len, buf[0]), (MESSAGE_LEN, ping));
                        }
                    })
                })
                .collect();
            for node in clients {
                node.await.expect("the client finishes");
            }
        });
        assert_eq!(echoed.load(Relaxed), 2 * u64::from(TINY_PINGS));
        passed += 1;
    }
    passed
}
