//! The node code: a replica of a small primary-backup key-value store, and a client of it.
//!
//! Everything here reaches the outside world through seedsim's APIs only (`net`, `fs`,
//! `time`, `task`, `rand`), so the same functions run in a simulation and as a real process:
//! which one is decided by whoever calls them, not here.
//!
//! Replica 0 is the primary: it serves `PUT key value` and `GET key` on its TCP address. A
//! `PUT` is appended to the primary's write-ahead log, synced, and sent to every backup
//! (`REPL seq key value`); it is acknowledged (`OK`) once one backup has synced it too, so an
//! acknowledged write is on two of the three disks. A replica that restarts replays its log.
//! There is no failover: while the primary is down, writes fail (`ERR`), and the client
//! retries.
//!
//! The planted bug (`Config::sync_before_ack = false`): the primary acknowledges before its
//! own log is synced, so a crash can lose a write the client was told is stored.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::io;
use std::rc::Rc;
use std::time::Duration;

use futures::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use futures::StreamExt;
use seedsim::fs::File;
use seedsim::net::{TcpListener, TcpStream};
use seedsim::rand::RngExt;
use seedsim::time::{sleep, timeout};
use seedsim::{fs, task};

/// The write-ahead log's file, on the replica's own disk (its data directory for real).
const WAL: &str = "replkv/wal";

/// How long a replica waits for a peer, and a client for a reply.
const REPLY_TIMEOUT: Duration = Duration::from_millis(500);
/// The read buffer of a connection: its lines are a few dozen bytes, and a connection is
/// opened per request, so futures' default 8 KiB buffer (zeroed on every connection) would
/// cost more than the request.
const LINE_BUFFER: usize = 512;

/// One replica's configuration: which of `replicas` it is.
#[derive(Clone, Debug)]
pub struct Config {
    /// Index into `replicas`; 0 is the primary.
    pub id: usize,
    /// Every replica's address, as `host:port` (`"r0:7000"` in a simulation,
    /// `"127.0.0.1:7100"` for real).
    pub replicas: Vec<String>,
    /// Sync the primary's log before acknowledging a write: `false` plants the bug.
    pub sync_before_ack: bool,
}

/// A replica's state: the map and the next sequence number. The log is beside it, not in
/// it, so no `RefCell` borrow is held across a disk operation.
struct Store {
    map: BTreeMap<String, String>,
    next_seq: u64,
}

/// Open the log and replay it. A crash can leave a torn last record (or garbage where
/// unsynced blocks were lost): the log is cut back to its last whole record, so later
/// appends follow valid data.
async fn recover() -> io::Result<(Store, File)> {
    let wal = File::open_or_create(WAL).await?;
    let bytes = fs::read(WAL).await?;
    let mut store = Store { map: BTreeMap::new(), next_seq: 1 };
    let mut valid = 0;
    for line in bytes.split_inclusive(|&b| b == b'\n') {
        match parse_record(line) {
            Some((seq, key, value)) if seq >= store.next_seq => {
                store.map.insert(key, value);
                store.next_seq += 1;
                valid += line.len();
            }
            _ => break,
        }
    }
    if valid < bytes.len() {
        wal.set_len(valid as u64).await?;
        wal.sync_all().await?;
    }
    Ok((store, wal))
}

/// `seq key value\n`, or `None` for anything else (a torn or garbled record).
fn parse_record(line: &[u8]) -> Option<(u64, String, String)> {
    let line = std::str::from_utf8(line.strip_suffix(b"\n")?).ok()?;
    let mut parts = line.split(' ');
    let (seq, key, value) = (parts.next()?.parse().ok()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || key.is_empty() || value.is_empty() {
        return None;
    }
    Some((seq, key.to_owned(), value.to_owned()))
}

/// What every connection of a replica shares.
struct Replica {
    config: Config,
    store: RefCell<Store>,
    wal: File,
    /// Held while a record is appended, so the log's order is the order of sequence numbers.
    appending: futures::lock::Mutex<()>,
}

impl Replica {
    /// Append a record to the log (synced if `sync`), then apply it.
    async fn store(&self, seq: u64, key: &str, value: &str, sync: bool) -> io::Result<()> {
        self.wal.append(format!("{seq} {key} {value}\n").as_bytes()).await?;
        if sync {
            self.wal.sync_data().await?;
        }
        let mut store = self.store.borrow_mut();
        store.map.insert(key.to_owned(), value.to_owned());
        store.next_seq = store.next_seq.max(seq + 1);
        Ok(())
    }
}

/// Run a replica until its process (or simulated node) ends.
pub async fn replica(config: Config) -> io::Result<()> {
    let (store, wal) = recover().await?;
    let listener = TcpListener::bind(config.replicas[config.id].as_str()).await?;
    tracing::info!(replica = config.id, records = store.next_seq - 1, "recovered; serving");
    let replica = Rc::new(Replica { config, store: RefCell::new(store), wal, appending: Default::default() });
    loop {
        let (stream, _) = listener.accept().await?;
        let replica = replica.clone();
        let _connection = task::spawn(async move {
            // A connection that fails mid-request (a crash or reset of the other side) is the
            // client's problem to retry; the replica carries on.
            let _ = serve(stream, &replica).await;
        });
    }
}

/// Answer one connection's requests, one line each.
async fn serve(stream: TcpStream, replica: &Replica) -> io::Result<()> {
    let mut lines = BufReader::with_capacity(LINE_BUFFER, &stream).lines();
    while let Some(line) = lines.next().await {
        let line = line?;
        let words: Vec<&str> = line.split(' ').collect();
        let primary = replica.config.id == 0;
        let reply = match words.as_slice() {
            ["GET", key] if primary => match replica.store.borrow().map.get(*key) {
                Some(value) => format!("VALUE {value}"),
                None => "NONE".to_owned(),
            },
            ["PUT", key, value] if primary => {
                let seq = {
                    let _turn = replica.appending.lock().await;
                    let seq = replica.store.borrow().next_seq;
                    replica.store(seq, key, value, replica.config.sync_before_ack).await?;
                    seq
                };
                if replicate(&replica.config, seq, key, value).await {
                    "OK".to_owned()
                } else {
                    "ERR no backup stored it".to_owned()
                }
            }
            ["REPL", seq, key, value] if !primary => {
                let seq = seq.parse().map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "bad seq"))?;
                let _turn = replica.appending.lock().await;
                replica.store(seq, key, value, true).await?;
                "ACK".to_owned()
            }
            _ => format!("ERR replica {} cannot serve {line:?}", replica.config.id),
        };
        (&stream).write_all(format!("{reply}\n").as_bytes()).await?;
    }
    Ok(())
}

/// Send a write to every backup; true once one of them has stored it.
async fn replicate(config: &Config, seq: u64, key: &str, value: &str) -> bool {
    let acks = Rc::new(Cell::new(0u32));
    let mut sends = Vec::new();
    for backup in 1..config.replicas.len() {
        let (address, request, acks) =
            (config.replicas[backup].clone(), format!("REPL {seq} {key} {value}"), acks.clone());
        sends.push(task::spawn(async move {
            if let Ok(Ok(reply)) = timeout(REPLY_TIMEOUT, request_reply(&address, &request)).await {
                if reply == "ACK" {
                    acks.set(acks.get() + 1);
                }
            }
        }));
    }
    for send in sends {
        let _ = send.await;
        if acks.get() > 0 {
            return true;
        }
    }
    acks.get() > 0
}

/// Open a connection, send one request line, read one reply line.
async fn request_reply(address: &str, request: &str) -> io::Result<String> {
    let stream = TcpStream::connect(address).await?;
    (&stream).write_all(format!("{request}\n").as_bytes()).await?;
    let mut reply = String::new();
    BufReader::with_capacity(LINE_BUFFER, &stream).read_line(&mut reply).await?;
    match reply.strip_suffix('\n') {
        Some(reply) => Ok(reply.to_owned()),
        None => Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the connection closed before the reply")),
    }
}

/// What a client did.
#[derive(Debug)]
pub struct ClientReport {
    /// Writes acknowledged.
    pub acked: u32,
    /// Writes that failed or timed out (and were retried).
    pub failed: u32,
    /// The final value of each key, as read back.
    pub values: BTreeMap<String, String>,
}

/// Write `writes` random values to a few keys through the primary at `primary`, retrying
/// what fails, then read every key back and check it: a read must return the last
/// acknowledged write, or a write that was never acknowledged. A write that timed out or
/// failed may still land at any later time, even after later writes were acknowledged: its
/// request can wait in the connection's send buffer, retransmitted after the client gave up
/// on it, as TCP does after a close (and the primary applies a write before it replicates
/// it, so one answered `ERR` has landed there too).
///
/// # Errors
/// A read that returns something else: an acknowledged write was lost.
pub async fn client(primary: &str, writes: u32) -> io::Result<ClientReport> {
    let mut rng = seedsim::rand::rng();
    let mut report = ClientReport { acked: 0, failed: 0, values: BTreeMap::new() };
    // Per key: the last acknowledged value, and every value attempted and never acknowledged.
    let mut expect: BTreeMap<String, (Option<String>, Vec<String>)> = BTreeMap::new();
    let mut written = 0;
    while written < writes {
        let key = format!("k{}", rng.random_range(0..4));
        let value = format!("v{}", rng.random_range(0..1_000_000));
        let entry = expect.entry(key.clone()).or_default();
        entry.1.push(value.clone());
        match timeout(REPLY_TIMEOUT, request_reply(primary, &format!("PUT {key} {value}"))).await {
            Ok(Ok(reply)) if reply == "OK" => {
                entry.1.pop(); // this value, pushed above: acknowledged, so no longer in doubt
                entry.0 = Some(value);
                report.acked += 1;
                written += 1;
            }
            _ => {
                report.failed += 1;
                sleep(Duration::from_millis(rng.random_range(50..200))).await;
            }
        }
    }
    for (key, (acked, attempted)) in &expect {
        let reply = loop {
            match timeout(REPLY_TIMEOUT, request_reply(primary, &format!("GET {key}"))).await {
                Ok(Ok(reply)) if reply.starts_with("VALUE ") || reply == "NONE" => break reply,
                _ => sleep(Duration::from_millis(200)).await,
            }
        };
        let read = reply.strip_prefix("VALUE ").map(str::to_owned);
        let fine = read == *acked || read.as_ref().is_some_and(|value| attempted.contains(value));
        if !fine {
            return Err(io::Error::other(format!(
                "lost write: GET {key} returned {read:?}, but {acked:?} was acknowledged (never acknowledged: {attempted:?})"
            )));
        }
        report.values.insert(key.clone(), read.unwrap_or_default());
    }
    Ok(report)
}
