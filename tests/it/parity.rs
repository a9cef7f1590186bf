//! The same node code on both backends: once in the simulator, once on the real backend
//! (tokio, loopback, the host's files), and what it observed must be the same.
//!
//! The node code below knows nothing of which backend runs it: it takes addresses to bind
//! and to reach, and reports what it saw. Only the harness differs (`Sim` with two nodes, or
//! `real::Runtime` with two tasks on one thread).

use std::cell::RefCell;
use std::io;
use std::net::{Shutdown, SocketAddr};
use std::rc::Rc;
use std::time::Duration;

use futures::channel::oneshot;
use futures::io::{AsyncReadExt, AsyncWriteExt};
use seedsim::net::{TcpListener, TcpStream, UdpSocket};
use seedsim::rand::RngExt;
use seedsim::rpc::{Codec, RpcError};
use seedsim::time::{interval, sleep, timeout, Instant};
use seedsim::{fs, task, Seed, Sim};

fn ms(millis: u64) -> Duration {
    Duration::from_millis(millis)
}

/// Everything the client saw, compared across backends.
#[derive(Debug, Default, PartialEq)]
struct Observed {
    datagram_echoes: Vec<Vec<u8>>,
    truncated_datagram: Vec<u8>,
    stream_echo: Vec<u8>,
    stream_lines: Vec<u8>,
    refused: Option<io::ErrorKind>,
    slept_long_enough: bool,
    timers_in_deadline_order: Vec<u64>,
    timeout_elapsed: bool,
    timeout_value: Option<u32>,
    interval_on_schedule: bool,
    joined: Option<u64>,
    aborted_is_error: bool,
    roll_in_range: bool,
    rpc: Vec<Result<u64, RpcError>>,
    file: FileObserved,
}

#[derive(Debug, Default, PartialEq)]
struct FileObserved {
    read_back: Vec<u8>,
    len_after_append: u64,
    appended_at: u64,
    listing: Vec<String>,
    renamed_read: Vec<u8>,
    missing_after_remove: Option<io::ErrorKind>,
    create_new_twice: Option<io::ErrorKind>,
    short_read: usize,
}

/// Little-endian `u64`s, for the byte-level RPC.
struct Le;

impl Codec<u64> for Le {
    fn encode(&self, value: &u64, out: &mut Vec<u8>) {
        out.extend_from_slice(&value.to_le_bytes());
    }
    fn decode(&self, bytes: &[u8]) -> Result<u64, String> {
        let bytes: [u8; 8] = bytes.try_into().map_err(|_| format!("{} bytes, expected 8", bytes.len()))?;
        Ok(u64::from_le_bytes(bytes))
    }
}

/// A number to double.
#[derive(Clone, Debug)]
struct Double(u64);

impl seedsim::rpc::Request for Double {
    type Response = u64;
}

impl Codec<Double> for Le {
    fn encode(&self, Double(n): &Double, out: &mut Vec<u8>) {
        <Le as Codec<u64>>::encode(self, n, out);
    }
    fn decode(&self, bytes: &[u8]) -> Result<Double, String> {
        <Le as Codec<u64>>::decode(self, bytes).map(Double)
    }
}

/// The addresses the server bound: datagrams, the stream echo, RPC.
type Bound = (SocketAddr, SocketAddr, SocketAddr);

/// The server node: a datagram echo, a stream echo that upper-cases what it reads until end
/// of file, and an RPC server that doubles numbers. It reports its addresses once bound.
async fn server(udp: &str, tcp: &str, rpc: &str, bound: oneshot::Sender<Bound>) -> io::Result<()> {
    let socket = UdpSocket::bind(udp).await?;
    let listener = TcpListener::bind(tcp).await?;
    let rpc_listener = TcpListener::bind(rpc).await?;
    let _ = bound.send((socket.local_addr()?, listener.local_addr()?, rpc_listener.local_addr()?));
    let doubling = seedsim::rpc::Server::new().handle_with_codec("double", Le, |Double(n)| async move {
        n.checked_mul(2).ok_or_else(|| "overflow".to_owned())
    });
    let _rpc = task::spawn(doubling.serve(rpc_listener));
    let datagrams = task::spawn(async move {
        let mut buf = [0u8; 1500];
        loop {
            let (len, from) = socket.recv_from(&mut buf).await?;
            socket.send_to(&buf[..len], from).await?;
        }
        #[allow(unreachable_code)]
        Ok::<(), io::Error>(())
    });
    let _datagrams = datagrams; // detached; ends with the node
    loop {
        let (mut stream, _) = listener.accept().await?;
        let _connection = task::spawn(async move {
            let mut request = Vec::new();
            stream.read_to_end(&mut request).await?;
            stream.write_all(&request.to_ascii_uppercase()).await?;
            stream.close().await
        });
    }
}

/// The client node: exercises datagrams, streams, timers, tasks, randomness and files.
async fn client(server: Bound, closed_port: SocketAddr) -> io::Result<Observed> {
    let (server_udp, server_tcp, server_rpc) = server;
    let mut observed = Observed::default();

    // Datagrams: three echoes, in order (one at a time), and one truncated receive.
    let socket = UdpSocket::bind("127.0.0.1:0").await?;
    let mut buf = [0u8; 1500];
    for payload in [&b"one"[..], b"two", b"three"] {
        socket.send_to(payload, server_udp).await?;
        let (len, from) = timeout(Duration::from_secs(5), socket.recv_from(&mut buf)).await??;
        assert_eq!(from, server_udp);
        observed.datagram_echoes.push(buf[..len].to_vec());
    }
    socket.send_to(b"longer than four", server_udp).await?;
    let mut small = [0u8; 4];
    let (len, _) = timeout(Duration::from_secs(5), socket.recv_from(&mut small)).await??;
    observed.truncated_datagram = small[..len].to_vec();

    // Streams: a half-close, then the echo until end of file; the shared-reference I/O.
    let mut stream = TcpStream::connect(server_tcp).await?;
    stream.write_all(b"hello").await?;
    stream.shutdown(Shutdown::Write)?;
    stream.read_to_end(&mut observed.stream_echo).await?;
    let stream = TcpStream::connect(server_tcp).await?;
    (&stream).write_all(b"a\nb\n").await?;
    (&stream).close().await?;
    (&stream).read_to_end(&mut observed.stream_lines).await?;
    observed.refused = TcpStream::connect(closed_port).await.err().map(|err| err.kind());

    // Timers.
    let start = Instant::now();
    sleep(ms(20)).await;
    observed.slept_long_enough = start.elapsed() >= ms(20);
    let order = Rc::new(RefCell::new(Vec::new()));
    let timers: Vec<_> = [30u64, 10, 20]
        .into_iter()
        .map(|delay| {
            let order = order.clone();
            task::spawn(async move {
                sleep(ms(delay)).await;
                order.borrow_mut().push(delay);
            })
        })
        .collect();
    for timer in timers {
        timer.await.expect("a timer task finished");
    }
    observed.timers_in_deadline_order = order.take();
    observed.timeout_elapsed = timeout(ms(5), futures::future::pending::<()>()).await.is_err();
    observed.timeout_value = timeout(ms(50), async { 7 }).await.ok();
    let mut ticks = interval(ms(10));
    let first = ticks.tick().await;
    let mut on_schedule = true;
    for k in 1..4u32 {
        let tick = ticks.tick().await;
        on_schedule &= tick == first + ms(10) * k && Instant::now() >= tick;
    }
    observed.interval_on_schedule = on_schedule;

    // Tasks and randomness.
    observed.joined = task::spawn(async { 6u64 * 7 }).await.ok();
    let stuck = task::spawn(futures::future::pending::<()>());
    stuck.abort();
    observed.aborted_is_error = stuck.await.is_err();
    let roll: u32 = seedsim::rand::rng().random_range(1..=6);
    observed.roll_in_range = (1..=6).contains(&roll);

    // Byte-level RPC: a result, the handler's error, an unknown method.
    let rpc = seedsim::rpc::Client::new(server_rpc);
    for (method, n) in [("double", 21), ("double", u64::MAX), ("triple", 1)] {
        observed.rpc.push(rpc.call_with_codec(method, &Le, Double(n), Duration::from_secs(5)).await);
    }

    observed.file = files().await?;
    Ok(observed)
}

async fn files() -> io::Result<FileObserved> {
    let mut observed = FileObserved::default();
    let file = fs::File::create("data/wal").await?;
    file.write_at(b"hello", 0).await?;
    file.sync_all().await?;
    observed.appended_at = file.append(b", world").await?;
    file.sync_data().await?;
    observed.len_after_append = file.metadata().await?.len();
    observed.read_back = fs::read("data/wal").await?;
    let mut big = [0u8; 64];
    observed.short_read = file.read_at(&mut big, 7).await?;
    fs::write("data/meta", b"v1").await?;
    fs::sync_dir("data").await?;
    observed.listing = fs::read_dir("data").await?;
    fs::rename("data/meta", "data/meta.old").await?;
    observed.renamed_read = fs::read("data/meta.old").await?;
    fs::remove_file("data/meta.old").await?;
    observed.missing_after_remove = fs::File::open("data/meta.old").await.err().map(|err| err.kind());
    fs::File::create_new("data/once").await?;
    observed.create_new_twice = fs::File::create_new("data/once").await.err().map(|err| err.kind());
    Ok(observed)
}

fn in_simulation(seed: u64) -> Observed {
    let observed = Rc::new(RefCell::new(None));
    let (bound, addresses) = oneshot::channel();
    let bound = RefCell::new(Some(bound));
    let mut sim = Sim::new(Seed(seed));
    sim.node("server", move || {
        let bound = bound.borrow_mut().take().expect("the server starts once");
        server("0.0.0.0:9000", "0.0.0.0:80", "0.0.0.0:7000", bound)
    })
    .unwrap();
    let report = observed.clone();
    sim.client("client", async move {
        let bound: Bound = addresses.await.expect("the server bound its sockets");
        let closed = SocketAddr::new(bound.1.ip(), 81);
        *report.borrow_mut() = Some(client(bound, closed).await?);
        Ok::<(), io::Error>(())
    })
    .unwrap();
    sim.run().unwrap();
    observed.take().expect("the client finished")
}

/// A directory of its own under the system's temporary directory, removed when dropped.
struct TempDir(std::path::PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("seedsim-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn on_the_real_backend(name: &str) -> Observed {
    let dir = TempDir::new(name);
    // A port nothing listens on: bind one, note it, close it.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let runtime = seedsim::real::Runtime::new().unwrap().data_dir(&dir.0);
    runtime
        .block_on(async {
            let (bound, addresses) = oneshot::channel();
            let server = task::spawn(server("127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0", bound));
            let bound = addresses.await.expect("the server bound its sockets");
            let observed = client(bound, closed).await;
            server.abort();
            observed
        })
        .unwrap()
}

#[test]
fn the_same_node_code_observes_the_same_on_both_backends() {
    let real = on_the_real_backend("parity");
    let expected_file = FileObserved {
        read_back: b"hello, world".to_vec(),
        len_after_append: 12,
        appended_at: 5,
        listing: vec!["data/meta".to_owned(), "data/wal".to_owned()],
        renamed_read: b"v1".to_vec(),
        missing_after_remove: Some(io::ErrorKind::NotFound),
        create_new_twice: Some(io::ErrorKind::AlreadyExists),
        short_read: 5,
    };
    assert_eq!(real.file, expected_file, "the real backend's files");
    assert_eq!(real.datagram_echoes, [&b"one"[..], b"two", b"three"]);
    assert_eq!(real.truncated_datagram, b"long");
    assert_eq!(real.stream_echo, b"HELLO");
    assert_eq!(real.stream_lines, b"A\nB\n");
    assert_eq!(real.refused, Some(io::ErrorKind::ConnectionRefused));
    assert_eq!(real.timers_in_deadline_order, [10, 20, 30]);
    assert!(real.slept_long_enough && real.timeout_elapsed && real.interval_on_schedule, "{real:?}");
    assert_eq!((real.timeout_value, real.joined), (Some(7), Some(42)));
    assert!(real.aborted_is_error && real.roll_in_range, "{real:?}");
    let handler_error = RpcError::Handler("overflow".to_owned());
    assert_eq!(real.rpc, [Ok(42), Err(handler_error), Err(RpcError::NoHandler("triple".to_owned()))]);
    for seed in 0..20 {
        assert_eq!(in_simulation(seed), real, "seed {seed}: the simulator and the real backend differ");
    }
}

#[test]
fn outside_a_simulation_and_a_runtime_the_calls_still_say_so() {
    let panic = std::panic::catch_unwind(|| drop(sleep(ms(1)))).unwrap_err();
    let message = panic.downcast_ref::<String>().unwrap();
    assert!(message.contains("outside a seedsim simulation"), "{message}");
    assert!(message.contains("seedsim::real::Runtime"), "names the fix: {message}");
    let err = futures::executor::block_on(UdpSocket::bind("127.0.0.1:0")).unwrap_err();
    assert!(err.to_string().contains("outside a seedsim simulation"), "{err}");
}

#[test]
fn real_backend_specifics() {
    seedsim::real::Runtime::new().unwrap().block_on(async {
        assert!(!seedsim::buggify!(), "buggify! is always false on the real backend");
        assert!(!seedsim::fault::buggify_with(seedsim::Ratio::ALWAYS));
        assert_eq!(seedsim::net::lookup("localhost").unwrap().to_string(), "127.0.0.1");
        assert_eq!(seedsim::net::lookup("10.1.2.3").unwrap().to_string(), "10.1.2.3");
        let unknown = seedsim::net::lookup("no-such-host.invalid").unwrap_err();
        assert_eq!(unknown.kind(), &seedsim::ErrorKind::UnknownNode);
        // The fault API needs a simulation, also here.
        assert_eq!(seedsim::world::crash("a").unwrap_err().kind(), &seedsim::ErrorKind::NoSimulation);
        // A panic in a task comes back where it is awaited, not as a cancellation.
        let panicked = task::spawn(async { panic!("boom") });
        let resumed = futures::FutureExt::catch_unwind(std::panic::AssertUnwindSafe(panicked)).await;
        assert_eq!(*resumed.unwrap_err().downcast::<&str>().unwrap(), "boom");
        // Typed RPC values cannot cross a real connection: a clear error, not a hang.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let _server = task::spawn(async move {
            let server = seedsim::rpc::Server::new().handle(|Ping| async { Ok::<_, String>(()) });
            server.serve(listener).await
        });
        let client = seedsim::rpc::Client::new(address);
        let err = client.call(Ping, Duration::from_secs(5)).await.unwrap_err();
        assert_eq!(err, seedsim::rpc::RpcError::TypedOutsideSimulation);
        assert!(err.to_string().contains("call_with_codec"), "{err}");
    });
}

#[derive(Clone, Debug)]
struct Ping;

impl seedsim::rpc::Request for Ping {
    type Response = ();
}
