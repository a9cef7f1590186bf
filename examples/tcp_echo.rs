//! A client and a server talk over `TcpStream` with `futures::io` utilities (`split`,
//! `BufReader`, `lines`, `write_all`), while a nemesis partitions them, clogs the link and
//! crashes and restarts the server. The client retries each line until its answer comes, so
//! every run ends with every line answered, in order, exactly as sent.
//!
//! ```text
//! cargo run --example tcp_echo                          # 20 seeds
//! SEEDSIM_SEEDS=500 cargo run --release --example tcp_echo
//! SEEDSIM_SEED=0x… SEEDSIM_LOG=tcp_echo=info cargo run --example tcp_echo   # one seed, logged
//! ```

use std::cell::Cell;
use std::io;
use std::rc::Rc;
use std::time::Duration;

use futures::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader, Lines, ReadHalf, WriteHalf};
use futures::StreamExt;
use seedsim::net::{Latency, Link, TcpListener, TcpStream};
use seedsim::rand::RngExt;
use seedsim::time::{sleep, timeout};
use seedsim::{task, world, Ratio, Runner, Sim};

const LINES: u32 = 40;
const PORT: u16 = 7070;

/// Answers every line of every connection with the line in upper case.
async fn upper() -> io::Result<()> {
    let listener = TcpListener::bind(("0.0.0.0", PORT)).await?;
    loop {
        let (stream, peer) = listener.accept().await?;
        tracing::info!(%peer, "accepted");
        drop(task::spawn(async move {
            let (reader, mut writer) = stream.split();
            let mut lines = BufReader::new(reader).lines();
            while let Some(line) = lines.next().await {
                writer.write_all(format!("{}\n", line?.to_uppercase()).as_bytes()).await?;
            }
            Ok::<(), io::Error>(())
        }));
    }
}

/// A connection to the server: lines in, a writer out.
struct Connection {
    lines: Lines<BufReader<ReadHalf<TcpStream>>>,
    writer: WriteHalf<TcpStream>,
}

async fn connect() -> io::Result<Connection> {
    let stream = timeout(Duration::from_secs(2), TcpStream::connect(("upper", PORT))).await??;
    let (reader, writer) = stream.split();
    Ok(Connection { lines: BufReader::new(reader).lines(), writer })
}

/// One line out and its answer back, within a second.
async fn exchange(connection: &mut Connection, line: &str) -> io::Result<String> {
    connection.writer.write_all(format!("{line}\n").as_bytes()).await?;
    match timeout(Duration::from_secs(1), connection.lines.next()).await? {
        Some(answer) => answer,
        None => Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the server closed the connection")),
    }
}

/// Sends `LINES` lines, each until its answer comes: a connection that fails or goes quiet
/// is dropped and a new one made.
async fn client(retries: Rc<Cell<u64>>) -> io::Result<()> {
    let mut connection: Option<Connection> = None;
    for n in 0..LINES {
        let line = format!("line {n}");
        loop {
            let current = match connection.as_mut() {
                Some(current) => current,
                None => match connect().await {
                    Ok(fresh) => connection.insert(fresh),
                    Err(err) => {
                        tracing::info!(%err, "connect failed");
                        retries.set(retries.get() + 1);
                        sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                },
            };
            match exchange(current, &line).await {
                Ok(answer) => {
                    // A reconnect never replays an old answer: each connection has its own.
                    assert_eq!(answer, line.to_uppercase(), "wrong answer");
                    break;
                }
                Err(err) => {
                    tracing::info!(%err, n, "exchange failed: reconnecting");
                    retries.set(retries.get() + 1);
                    connection = None;
                }
            }
        }
    }
    Ok(())
}

/// Partitions, clogs and restarts, then heals everything.
async fn nemesis() -> Result<(), seedsim::Error> {
    let mut rng = seedsim::rand::rng();
    for _ in 0..6 {
        sleep(Duration::from_millis(rng.random_range(100..800))).await;
        match rng.random_range(0..3) {
            0 => {
                world::partition("upper", "client")?;
                sleep(Duration::from_millis(rng.random_range(200..3_000))).await;
                world::repair("upper", "client")?;
            }
            1 => world::bounce("upper", Duration::from_millis(rng.random_range(50..1_000)))?,
            _ => world::clog("upper", "client", Duration::from_millis(rng.random_range(100..1_500)))?,
        }
    }
    world::heal_all()
}

fn main() {
    let link = Link {
        latency: Latency::Uniform { min: Duration::from_millis(1), max: Duration::from_millis(10) },
        loss: Ratio::percent(5).expect("valid"),
        duplicate: Ratio::percent(1).expect("valid"),
        reorder: Ratio::percent(2).expect("valid"),
    };
    let retries = Rc::new(Cell::new(0));
    let counted = retries.clone();
    let runner =
        Runner::new().seeds(20).builder(Sim::builder().link(link)).replay_command("cargo run --example tcp_echo");
    let report = runner
        .try_run(move |sim| {
            sim.node("upper", upper)?;
            sim.client("client", client(counted.clone()))?;
            sim.client("nemesis", nemesis())?;
            Ok(())
        })
        .unwrap_or_else(|err| {
            eprintln!("tcp_echo: {err}");
            std::process::exit(2);
        });
    match report.failure {
        Some(failure) => {
            eprintln!("{failure}");
            std::process::exit(1);
        }
        None => println!(
            "tcp_echo: {} seeds passed; every one of {LINES} lines answered in each, after {} retries in all",
            report.passed,
            retries.get()
        ),
    }
}
