//! A key-value store on a write-ahead log, with a planted missing-sync bug.
//!
//! Every put appends a record (position, key, value, request id, checksum) to the log file
//! `wal`; on start the store replays the log. Making records durable is one step: sync the log,
//! then append how many records are durable to a second file, `meta` (each count written
//! twice, checksummed, synced). A background task takes that step every 200 ms for whatever
//! was appended since. On replay the store keeps the log's valid prefix (each record must
//! check out and sit at its own position, so a write that went astray is noticed): a torn or
//! garbled tail beyond the largest durable count was never made durable and is dropped; a
//! prefix shorter than that count means durable records were corrupted or misdirected, and
//! the store says so (it is degraded, and remembers it in a marker file) instead of serving
//! old values as if current. It says so too when corruption took both copies of a count (so
//! the count is unknown) and the log holds more than its valid prefix. Checksums mix in one
//! field at a time, so flipped bits in two fields do not cancel out. A degraded store still
//! answers reads from its valid prefix, flagged degraded, so a client can check that what it
//! serves is at least a value once put to that key.
//!
//! The client retries a put (each attempt with a new request id from one increasing counter)
//! until it is acknowledged, so copies of an old attempt can still be in the network, delayed
//! or reordered, after the client has moved on and put a newer value to the same key. Request
//! ids order the client's puts, so the store keeps, with each key's value, the id of the put
//! that wrote it (in the log record too, so a restart remembers it). A put whose id is not
//! newer than that is stale: the store acknowledges it, as it did the copy it applied, and does
//! not apply it over the newer value. (This orders the puts of one client, which is all this
//! scenario has; several clients would need an order across them, e.g. versions the store
//! assigns.)
//!
//! The planted bug (`fixed == false`) is one missing line: the fixed store makes a put's
//! record durable before it acknowledges the put; the buggy one acknowledges and leaves the
//! record to the background task, so a crash within 200 ms of an acknowledgement loses an
//! acknowledged put, and nothing notices (the durable count never claimed it). Everything
//! else, corruption detection included, is the same code in both variants.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::io;
use std::rc::Rc;
use std::time::Duration;

#[path = "../support/wire.rs"]
mod wire;

use seedsim::fs::File;
use seedsim::net::UdpSocket;
use seedsim::rand::RngExt;
use seedsim::time::{self, Instant};
use seedsim::{Builder, Error, Sim};

const PORT: u16 = 7000;
/// Keys the client puts to and reads back.
pub const KEYS: u64 = 6;
const PUTS: u64 = 30;
const RECORD: usize = 40;
const COUNT: usize = 16;

const PUT: u8 = 1;
const PUT_OK: u8 = 2;
const PUT_FAILED: u8 = 3;
const GET: u8 = 4;
const VALUE: u8 = 5;

/// `VALUE`'s flags: the key is absent (else found), and the store is degraded (it found
/// durable records missing), so the value may be older than the last acknowledged one.
const ABSENT: u64 = 1;
const DEGRADED: u64 = 2;

/// How often the background task makes appended records durable.
const FLUSH_EVERY: Duration = Duration::from_millis(200);

pub fn builder() -> Builder {
    Sim::builder().time_limit(Duration::from_secs(120))
}

/// What a run saw, for tests to judge the checks themselves: whether the store declared
/// itself degraded, and how many keys the client checked, and how.
#[derive(Debug, Default)]
pub struct Seen {
    /// The store found durable records missing on a restart.
    pub degraded: Cell<bool>,
    /// Which start of the store (0 for the first, 1 after the first restart, ...) first found
    /// them missing.
    pub degraded_since: Cell<Option<u32>>,
    /// How many times the store started.
    pub starts: Cell<u32>,
    /// Keys whose read the client checked against the last acknowledged put.
    pub keys_exact: Cell<u64>,
    /// Keys read from a degraded store, checked only to hold a value once put to that key.
    pub keys_weak: Cell<u64>,
}

pub fn scenario(sim: &mut Sim, fixed: bool) -> Result<(), Error> {
    scenario_seen(sim, fixed).map(drop)
}

/// The scenario, and what its run will have seen once it is over.
pub fn scenario_seen(sim: &mut Sim, fixed: bool) -> Result<Rc<Seen>, Error> {
    let seen = Rc::new(Seen::default());
    let store_seen = seen.clone();
    sim.node("db", move || store(fixed, store_seen.clone()))?;
    sim.client("client", client(seen.clone()))?;
    Ok(seen)
}

/// A checksum of some words: each is mixed into the state in turn. Words xored together before
/// one mix would let two flipped bits cancel out (a key's bit and a value's bit it lines up
/// with); mixed in one by one, a change to any word scrambles the state before the next.
fn checksum(words: &[u64]) -> u64 {
    words.iter().fold(0x9e37_79b9_7f4a_7c15, |state, word| mix(state ^ word))
}

/// SplitMix64's finalizer: a fixed bijection of 64 bits, so a state changed in any bit mixes
/// to a different one.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// What a put left in the store: the value, and the request id of the put that wrote it.
#[derive(Clone, Copy)]
struct Written {
    value: u64,
    request: u64,
}

/// A log record's checksum, over every other field.
fn record_sum(position: u64, key: u64, written: Written) -> u64 {
    checksum(&[position, key, written.value, written.request])
}

/// A log record: position, key, value, request id, checksum.
fn record(position: u64, key: u64, written: Written) -> [u8; RECORD] {
    let mut bytes = [0u8; RECORD];
    bytes[..8].copy_from_slice(&position.to_le_bytes());
    bytes[8..16].copy_from_slice(&key.to_le_bytes());
    bytes[16..24].copy_from_slice(&written.value.to_le_bytes());
    bytes[24..32].copy_from_slice(&written.request.to_le_bytes());
    bytes[32..].copy_from_slice(&record_sum(position, key, written).to_le_bytes());
    bytes
}

/// A durable count, as `meta` stores it: the count and its checksum.
fn count_entry(count: u64) -> [u8; COUNT] {
    let mut bytes = [0u8; COUNT];
    bytes[..8].copy_from_slice(&count.to_le_bytes());
    bytes[8..].copy_from_slice(&checksum(&[count]).to_le_bytes());
    bytes
}

/// Retry an operation that a disk fault made fail, after a pause: the store never gives up
/// on its own disk, and never returns an error from its main task.
async fn retry<T, F: std::future::Future<Output = io::Result<T>>>(mut op: impl FnMut() -> F) -> T {
    loop {
        match op().await {
            Ok(value) => return value,
            Err(_) => time::sleep(Duration::from_millis(20)).await,
        }
    }
}

/// What a replay found.
struct Replayed {
    map: BTreeMap<u64, Written>,
    /// Records in the log's valid prefix.
    valid: u64,
    /// The largest durable count that checks out.
    durable: u64,
    /// Durable records are missing (or may be).
    lost: bool,
}

/// Replay the log: the map, the valid records, and whether durable records are missing.
async fn replay() -> Replayed {
    let data = retry(|| seedsim::fs::read("wal")).await;
    let mut map = BTreeMap::new();
    let mut valid = 0;
    for chunk in data.chunks_exact(RECORD) {
        let word = |at: usize| u64::from_le_bytes(chunk[at..at + 8].try_into().expect("8 bytes"));
        let (position, key, sum) = (word(0), word(8), word(32));
        let written = Written { value: word(16), request: word(24) };
        if position != valid || sum != record_sum(position, key, written) {
            break; // the end of the valid prefix
        }
        map.insert(key, written);
        valid += 1;
    }
    // The largest count that checks out, wherever a write put it. A pair of copies neither of
    // which checks out, and not the zeros of an append a crash lost, was corrupted at rest (a
    // torn append leaves zeros or a copy intact), and the count it held is unknown.
    let meta = retry(|| seedsim::fs::read("meta")).await;
    let mut durable = 0;
    let mut unreadable = false;
    for pair in meta.chunks(2 * COUNT) {
        let counts = pair.chunks_exact(COUNT).filter_map(|entry| {
            let count = u64::from_le_bytes(entry[..8].try_into().expect("8 bytes"));
            let sum = u64::from_le_bytes(entry[8..].try_into().expect("8 bytes"));
            (sum == checksum(&[count])).then_some(count)
        });
        match counts.max() {
            Some(count) => durable = durable.max(count),
            None => unreadable |= pair.iter().any(|&byte| byte != 0),
        }
    }
    // A durable record that is missing left bytes where it should be (it was synced, and
    // only a replay that found nothing missing cuts the log), so a log that ends with its valid
    // prefix lost nothing, whatever the unknown count was; a longer one may have.
    let beyond = data.len() as u64 > valid * RECORD as u64;
    Replayed { map, valid, durable, lost: valid < durable || (unreadable && beyond) }
}

/// The log and its durable counts: the one place that makes records durable.
struct Log {
    wal: File,
    meta: File,
    meta_end: Cell<u64>,
    /// Records appended (the log's valid length, in records).
    records: Cell<u64>,
    /// The largest count made durable by this incarnation.
    durable: Cell<u64>,
}

impl Log {
    /// Make the first `count` records durable: sync the log, then record the count.
    async fn make_durable(&self, count: u64) -> io::Result<()> {
        self.wal.sync_data().await?;
        // Twice, so one corrupted copy leaves the other. The offset is taken before the
        // write awaits, so the background task and a put never write over each other.
        let entry = count_entry(count);
        let twice = [entry, entry].concat();
        let at = self.meta_end.get();
        self.meta_end.set(at + twice.len() as u64);
        self.meta.write_at(&twice, at).await?;
        self.meta.sync_data().await?;
        self.durable.set(self.durable.get().max(count));
        Ok(())
    }
}

async fn store(fixed: bool, seen: Rc<Seen>) -> io::Result<()> {
    let start = seen.starts.get();
    seen.starts.set(start + 1);
    let wal = retry(|| File::open_or_create("wal")).await;
    let meta = retry(|| File::open_or_create("meta")).await;
    let meta_end = retry(|| meta.metadata()).await.len();
    let Replayed { mut map, valid: records, durable, lost } = replay().await;
    // Once found, a loss is remembered: later writes must not hide it from the next replay.
    let degraded = lost || seedsim::fs::metadata("degraded").await.is_ok();
    if lost {
        let marker = retry(|| File::open_or_create("degraded")).await;
        retry(|| marker.sync_all()).await;
    }
    if degraded && !seen.degraded.get() {
        seen.degraded.set(true);
        seen.degraded_since.set(Some(start));
    }
    seedsim::assert_sometimes!(degraded, "the store found corruption on restart");
    // Cut a torn tail, so new records follow the valid prefix.
    retry(|| wal.set_len(records * RECORD as u64)).await;
    let log = Rc::new(Log {
        wal,
        meta,
        meta_end: Cell::new(meta_end),
        records: Cell::new(records),
        // Records that outlived a crash without a count get one from the background task, so
        // corruption of them is noticed like corruption of any durable record.
        durable: Cell::new(durable.min(records)),
    });
    let flusher = log.clone();
    drop(seedsim::task::spawn(async move {
        loop {
            time::sleep(FLUSH_EVERY).await;
            let count = flusher.records.get();
            if count > flusher.durable.get() {
                let _ = flusher.make_durable(count).await; // tried again next time
            }
        }
    }));
    let socket = UdpSocket::bind(("0.0.0.0", PORT)).await?;
    let mut buf = [0u8; 64];
    loop {
        let (len, from) = socket.recv_from(&mut buf).await?;
        match wire::decode(&buf[..len]) {
            Some((PUT, id, key, value)) => {
                // A late copy of an attempt older than the put that last wrote the key (or of
                // that put itself): acknowledged, as the copy applied was, but not applied over
                // a newer value.
                let stale = map.get(&key).is_some_and(|written| written.request >= id);
                seedsim::assert_sometimes!(stale, "a stale put arrived and was not applied");
                if stale {
                    socket.send_to(&wire::encode(PUT_OK, id, 0, 0), from).await?;
                    continue;
                }
                let written = Written { value, request: id };
                let position = log.records.get();
                let ok = async {
                    log.wal.write_at(&record(position, key, written), position * RECORD as u64).await?;
                    if fixed {
                        log.make_durable(position + 1).await?; // the fix: durable before the ack
                    }
                    io::Result::Ok(())
                }
                .await;
                let reply = match ok {
                    Ok(()) => {
                        log.records.set(position + 1);
                        map.insert(key, written);
                        PUT_OK
                    }
                    Err(_) => PUT_FAILED, // the client tries again
                };
                socket.send_to(&wire::encode(reply, id, 0, 0), from).await?;
            }
            Some((GET, id, key, _)) => {
                let flag = if degraded { DEGRADED } else { 0 };
                let (value, flag) = match map.get(&key) {
                    Some(written) => (written.value, flag),
                    None => (0, flag | ABSENT),
                };
                socket.send_to(&wire::encode(VALUE, id, value, flag), from).await?;
            }
            _ => {}
        }
    }
}

/// Puts values (each retried until acknowledged, every attempt with a new, larger request id),
/// then, once the faults are over, reads every key back: each must hold its last acknowledged
/// value, or, when the store reports itself degraded, at least a value once put to that key
/// (or nothing).
async fn client(seen: Rc<Seen>) -> Result<(), String> {
    let socket = UdpSocket::bind("0.0.0.0:0").await.map_err(|e| e.to_string())?;
    let db = wire::addr("db", PORT);
    let mut rng = seedsim::rand::rng();
    let mut acknowledged: BTreeMap<u64, u64> = BTreeMap::new();
    // Every value is put once (they count up), so a value names the key it was put to.
    let mut put_to: BTreeMap<u64, u64> = BTreeMap::new();
    let mut buf = [0u8; 64];
    let mut request = 0;
    let mut ask = |tag: u8, a: u64, b: u64| {
        request += 1;
        (request, wire::encode(tag, request, a, b))
    };
    for value in 1..=PUTS {
        let key = rng.random_range(0..KEYS);
        put_to.insert(value, key);
        'retry: loop {
            let (id, message) = ask(PUT, key, value);
            socket.send_to(&message, db).await.map_err(|e| e.to_string())?;
            let deadline = Instant::now() + Duration::from_millis(100);
            while let Ok(received) = time::timeout_at(deadline, socket.recv_from(&mut buf)).await {
                let (len, _) = received.map_err(|e| e.to_string())?;
                match wire::decode(&buf[..len]) {
                    Some((PUT_OK, reply, _, _)) if reply == id => break 'retry,
                    Some((PUT_FAILED, reply, _, _)) if reply == id => continue 'retry,
                    _ => {}
                }
            }
        }
        acknowledged.insert(key, value);
        time::sleep(Duration::from_millis(rng.random_range(50..400))).await;
    }
    // Past the nemesis' recover (10 s into the run), whatever this node's clock says.
    time::sleep(Duration::from_secs(12)).await;
    for key in 0..KEYS {
        let (value, flag) = 'answered: loop {
            let (id, message) = ask(GET, key, 0);
            socket.send_to(&message, db).await.map_err(|e| e.to_string())?;
            let deadline = Instant::now() + Duration::from_millis(100);
            while let Ok(received) = time::timeout_at(deadline, socket.recv_from(&mut buf)).await {
                let (len, _) = received.map_err(|e| e.to_string())?;
                if let Some((VALUE, reply, value, flag)) = wire::decode(&buf[..len]) {
                    if reply == id {
                        break 'answered (value, flag);
                    }
                }
            }
        };
        let got = (flag & ABSENT == 0).then_some(value);
        if flag & DEGRADED != 0 {
            // The store said it lost durable records: an old value is honest, an invented one
            // (or another key's) is not.
            if let Some(value) = got.filter(|value| put_to.get(value) != Some(&key)) {
                return Err(format!("key {key}: a degraded store read {value}, which was never put to it"));
            }
            seen.keys_weak.set(seen.keys_weak.get() + 1);
            continue;
        }
        let expected = acknowledged.get(&key).copied();
        if got != expected {
            return Err(format!("key {key}: read {got:?}, but {expected:?} was acknowledged last"));
        }
        seen.keys_exact.set(seen.keys_exact.get() + 1);
    }
    Ok(())
}
