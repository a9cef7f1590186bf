//! A key-value store served over seedsim's typed RPC, and a client that writes keys and
//! reads them back while a nemesis partitions, crashes and restarts the store and turns
//! stream faults (random resets, partial reads and writes) on and off. The client retries
//! every call that timed out, broke or found the store down; puts are idempotent, so a retry
//! of a put that was applied does no harm. Every run ends with every key read back as
//! written.
//!
//! ```text
//! cargo run --example rpc                           # 20 seeds
//! SEEDSIM_SEEDS=500 cargo run --release --example rpc
//! SEEDSIM_SEED=0x… SEEDSIM_LOG=rpc=info cargo run --example rpc   # one seed, logged
//! ```

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::io;
use std::rc::Rc;
use std::time::Duration;

use seedsim::net::{Latency, Link, StreamFaults, TcpListener};
use seedsim::rand::RngExt;
use seedsim::rpc::{Client, Request, RpcError, Server};
use seedsim::time::sleep;
use seedsim::{world, Ratio, Runner, Sim};

const KEYS: u32 = 30;
const PORT: u16 = 7000;
const CALL_TIMEOUT: Duration = Duration::from_millis(500);

/// Store `value` under `key`; keys from 0 to 999.
#[derive(Clone, Debug)]
struct Put {
    key: u32,
    value: u64,
}
impl Request for Put {
    type Response = ();
}

/// The value under `key`, if any.
#[derive(Clone, Debug)]
struct Get {
    key: u32,
}
impl Request for Get {
    type Response = Option<u64>;
}

/// What the store keeps across crashes, as a disk would (the factory's closure owns it).
type Disk = Rc<RefCell<BTreeMap<u32, u64>>>;

async fn store(disk: Disk) -> io::Result<()> {
    let writes = disk.clone();
    let server = Server::new()
        .handle(move |Put { key, value }| {
            let result = if key < 1_000 {
                writes.borrow_mut().insert(key, value);
                Ok(())
            } else {
                Err(format!("key {key} out of range"))
            };
            async move { result }
        })
        .handle(move |Get { key }| {
            let value = disk.borrow().get(&key).copied();
            async move { Ok::<_, String>(value) }
        });
    server.serve(TcpListener::bind(("0.0.0.0", PORT)).await?).await
}

/// Call until the call gets an answer from the store: retry what timed out, broke, or found
/// the store unreachable, after a short pause.
async fn call<R: Request>(store: &Client, request: R, retries: &Cell<u64>) -> Result<R::Response, RpcError> {
    loop {
        match store.call(request.clone(), CALL_TIMEOUT).await {
            Err(err @ (RpcError::Timeout | RpcError::Reset(_) | RpcError::Unreachable(_))) => {
                tracing::info!(?request, %err, "retrying");
                retries.set(retries.get() + 1);
                sleep(Duration::from_millis(50)).await;
            }
            answer => return answer,
        }
    }
}

async fn client(retries: Rc<Cell<u64>>) -> Result<(), RpcError> {
    let store = Client::new(("store", PORT));
    for key in 0..KEYS {
        call(&store, Put { key, value: u64::from(key) * 7 }, &retries).await?;
    }
    // A handler's error is an answer, not something to retry.
    let refused = call(&store, Put { key: 5_000, value: 0 }, &retries).await;
    assert_eq!(refused, Err(RpcError::Handler("key 5000 out of range".into())));
    for key in 0..KEYS {
        let value = call(&store, Get { key }, &retries).await?;
        assert_eq!(value, Some(u64::from(key) * 7), "key {key} read back wrong");
    }
    Ok(())
}

/// Partitions, crashes and stream faults, then heals everything.
async fn nemesis() -> Result<(), seedsim::Error> {
    let mut rng = seedsim::rand::rng();
    let rough_streams = StreamFaults::NONE
        .reset(Ratio::new(1, 50)?)
        .partial_read(Ratio::percent(30)?)
        .partial_write(Ratio::percent(30)?);
    for _ in 0..6 {
        sleep(Duration::from_millis(rng.random_range(50..400))).await;
        match rng.random_range(0..4) {
            0 => {
                world::partition("store", "client")?;
                sleep(Duration::from_millis(rng.random_range(100..2_000))).await;
                world::repair("store", "client")?;
            }
            1 => world::bounce("store", Duration::from_millis(rng.random_range(50..800)))?,
            2 => world::set_stream_faults(rough_streams)?,
            _ => world::set_stream_faults(StreamFaults::NONE)?,
        }
    }
    world::set_stream_faults(StreamFaults::NONE)?;
    world::heal_all()
}

fn main() {
    let link = Link {
        latency: Latency::Uniform { min: Duration::from_millis(1), max: Duration::from_millis(10) },
        loss: Ratio::percent(3).expect("valid"),
        ..Link::default()
    };
    let retries = Rc::new(Cell::new(0));
    let counted = retries.clone();
    let runner = Runner::new().seeds(20).builder(Sim::builder().link(link)).replay_command("cargo run --example rpc");
    let report = runner
        .try_run(move |sim| {
            let disk = Disk::default();
            sim.node("store", move || store(disk.clone()))?;
            sim.client("client", client(counted.clone()))?;
            sim.client("nemesis", nemesis())?;
            Ok(())
        })
        .unwrap_or_else(|err| {
            eprintln!("rpc: {err}");
            std::process::exit(2);
        });
    match report.failure {
        Some(failure) => {
            eprintln!("{failure}");
            std::process::exit(1);
        }
        None => println!(
            "rpc: {} seeds passed; {KEYS} keys written and read back in each, after {} retried calls in all",
            report.passed,
            retries.get()
        ),
    }
}
