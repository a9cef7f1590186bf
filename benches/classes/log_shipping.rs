//! Asynchronous log shipping from a primary to three read followers, the way a database
//! streams its write-ahead log to replicas.
//!
//! **Protocol.** Writers append values to the `primary`'s log (each request numbered and
//! retried every 200 ms until acknowledged; the primary remembers each writer's last request,
//! so a retry is not appended twice). The primary's log outlives its crashes (an `Rc` standing
//! in for a synced disk). For each follower (`f1`..`f3`) the primary runs a shipper: it sends
//! `SHIP(from, entries)` with up to 32 entries starting where it believes the follower's log
//! ends (an empty batch every 200 ms when there is nothing new: a heartbeat), and the
//! follower answers with the length of its log, which tells the shipper where to continue (a
//! follower that restarted with an empty log is re-sent everything). A follower appends only
//! entries that extend its log, so lost, duplicated or reordered batches do no harm. An
//! unanswered batch (200 ms) counts as a failure; the shipper backs off exponentially, from
//! 100 ms up to 2 s, and a success resets it.
//!
//! **Bug class:** lost liveness after heal.
//!
//! **Planted bug** (`fixed == false`, in `shipper`, at the `if fixed { .. } else { .. }` after
//! the fifth consecutive failure): the shipper declares the follower dead and stops shipping
//! to it, for good ("a dead replica must not cost us retries; an operator will re-add it").
//! A follower cut off for about 2.5 s (a partition, a crash and slow restart, a long pause) is
//! never caught up again, though it is back and healthy.
//!
//! **Fix:** never give up on a follower: keep retrying at the capped backoff (2 s), and resume
//! shipping as soon as it answers.
//!
//! **Check:** a monitor client waits for the writers to finish (each gets its 60 appends
//! acknowledged), then polls the primary and every follower for their log length and a hash
//! of their log, until every follower's log equals the primary's, and the primary holds at
//! least as many entries as were acknowledged. `Sim::liveness` requires that to happen within
//! 25 s of the last `recover` (or of the start, without faults), so a follower that never
//! catches up fails the run.
//!
//! **What exposes it:** any fault that makes a follower unreachable from the primary for
//! more than about 2.5 s in a row: an isolation or partition of a follower, a crash with a
//! slow restart, a pause, or a partition of the primary itself (all three give up at once).

use std::cell::{Cell, RefCell};
use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use seedsim::net::UdpSocket;
use seedsim::rand::RngExt;
use seedsim::time::{self, Instant};
use seedsim::{Builder, Error, Sim};

const FOLLOWERS: [&str; 3] = ["f1", "f2", "f3"];
const WRITERS: [&str; 2] = ["w1", "w2"];
const PORT: u16 = 7500;
const APPENDS: u64 = 60;
const BATCH: usize = 32;
/// How long a shipper waits for a follower's answer.
const SHIP_TIMEOUT: Duration = Duration::from_millis(200);
/// How often a shipper with nothing new sends an empty batch.
const HEARTBEAT: Duration = Duration::from_millis(200);
const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(2);
/// Consecutive failures after which the buggy shipper drops a follower.
const FAILURES_MAX: u32 = 5;
const WRITER_RETRY: Duration = Duration::from_millis(200);
/// Followers must have caught up within this long after the last recover.
const CONVERGE_WITHIN: Duration = Duration::from_secs(25);

const APPEND: u8 = 1;
const APPENDED: u8 = 2;
const SHIP: u8 = 3;
const SHIP_OK: u8 = 4;
const STATUS: u8 = 5;
const STATE: u8 = 6;

/// `f2` is cut off for three seconds, long enough for its shipper's fifth failure.
pub const WITNESS: &str = "
    2s  isolate f2
    5s  rejoin f2
    6s  recover
";

pub fn builder() -> Builder {
    Sim::builder().time_limit(Duration::from_secs(120))
}

pub fn scenario(sim: &mut Sim, fixed: bool) -> Result<(), Error> {
    let log: Rc<RefCell<Vec<u64>>> = Rc::default();
    let sessions: Rc<RefCell<[(u64, u64); 2]>> = Rc::default();
    sim.node("primary", move || primary(log.clone(), sessions.clone(), fixed))?;
    for name in FOLLOWERS {
        sim.node(name, follower)?;
    }
    let ledger = Rc::new(RefCell::new(Ledger::default()));
    for (index, name) in WRITERS.iter().enumerate() {
        sim.client(name, writer(index as u64 + 1, ledger.clone()))?;
    }
    let converged = Rc::new(Cell::new(false));
    sim.client("monitor", monitor(ledger, converged.clone()))?;
    sim.liveness("followers catch up with the primary", CONVERGE_WITHIN, move || converged.get());
    Ok(())
}

/// A message: a tag and any number of words.
fn encode(tag: u8, words: &[u64]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(1 + 8 * words.len());
    bytes.push(tag);
    for word in words {
        bytes.extend_from_slice(&word.to_le_bytes());
    }
    bytes
}

fn decode(bytes: &[u8]) -> Option<(u8, Vec<u64>)> {
    let (&tag, rest) = bytes.split_first()?;
    if rest.len() % 8 != 0 {
        return None;
    }
    Some((tag, rest.chunks_exact(8).map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes"))).collect()))
}

fn addr(name: &str) -> SocketAddr {
    SocketAddr::new(seedsim::net::lookup(name).expect("a node of the scenario"), PORT)
}

/// A hash of a log, to compare logs without sending them.
fn digest(log: &[u64]) -> u64 {
    log.iter().fold(0xcbf2_9ce4_8422_2325u64, |hash, &entry| (hash ^ entry).wrapping_mul(0x0100_0000_01b3))
}

async fn primary(log: Rc<RefCell<Vec<u64>>>, sessions: Rc<RefCell<[(u64, u64); 2]>>, fixed: bool) -> io::Result<()> {
    for name in FOLLOWERS {
        drop(seedsim::task::spawn(shipper(name, log.clone(), fixed)));
    }
    let socket = UdpSocket::bind(("0.0.0.0", PORT)).await?;
    let mut buf = [0u8; 512];
    loop {
        let (len, from) = socket.recv_from(&mut buf).await?;
        match decode(&buf[..len]) {
            Some((APPEND, words)) if words.len() == 3 && (1..=2).contains(&words[0]) => {
                let (writer, seq, value) = (words[0] as usize - 1, words[1], words[2]);
                let (last, index) = sessions.borrow()[writer];
                let index = if seq == last {
                    index // a retry: already appended
                } else if seq > last {
                    let mut log = log.borrow_mut();
                    log.push(value);
                    sessions.borrow_mut()[writer] = (seq, log.len() as u64);
                    log.len() as u64
                } else {
                    continue;
                };
                socket.send_to(&encode(APPENDED, &[words[0], seq, index]), from).await?;
            }
            Some((STATUS, _)) => {
                let state = {
                    let log = log.borrow();
                    [log.len() as u64, digest(&log)]
                };
                socket.send_to(&encode(STATE, &state), from).await?;
            }
            _ => {}
        }
    }
}

/// Ships the primary's log to one follower, for as long as the primary runs.
async fn shipper(name: &'static str, log: Rc<RefCell<Vec<u64>>>, fixed: bool) -> io::Result<()> {
    let socket = UdpSocket::bind("0.0.0.0:0").await?;
    let target = addr(name);
    let mut buf = [0u8; 512];
    let mut next = 0usize;
    let mut failures = 0u32;
    loop {
        let batch = {
            let log = log.borrow();
            next = next.min(log.len());
            let mut words = vec![next as u64];
            words.extend_from_slice(&log[next..(next + BATCH).min(log.len())]);
            words
        };
        socket.send_to(&encode(SHIP, &batch), target).await?;
        let deadline = Instant::now() + SHIP_TIMEOUT;
        let mut have = None;
        while let Ok(received) = time::timeout_at(deadline, socket.recv_from(&mut buf)).await {
            let (len, _) = received?;
            if let Some((SHIP_OK, words)) = decode(&buf[..len]) {
                if words.len() == 1 {
                    have = Some(words[0] as usize);
                    break;
                }
            }
        }
        match have {
            Some(have) => {
                failures = 0;
                next = have;
                if next >= log.borrow().len() {
                    time::sleep(HEARTBEAT).await;
                }
            }
            None => {
                failures += 1;
                if failures >= FAILURES_MAX {
                    if fixed {
                        // The follower will be back: keep trying at the slowest pace.
                    } else {
                        // Declare the follower dead and stop spending retries on it.
                        return Ok(());
                    }
                }
                let backoff = BACKOFF_MIN.saturating_mul(1 << (failures - 1).min(10)).min(BACKOFF_MAX);
                time::sleep(backoff).await;
            }
        }
    }
}

async fn follower() -> io::Result<()> {
    let socket = UdpSocket::bind(("0.0.0.0", PORT)).await?;
    let mut log: Vec<u64> = Vec::new();
    let mut buf = [0u8; 512];
    loop {
        let (len, from) = socket.recv_from(&mut buf).await?;
        match decode(&buf[..len]) {
            Some((SHIP, words)) if !words.is_empty() => {
                let (start, entries) = (words[0] as usize, &words[1..]);
                // Take only what extends the log; a batch from further on waits for the gap.
                if start <= log.len() && start + entries.len() > log.len() {
                    log.extend_from_slice(&entries[log.len() - start..]);
                }
                socket.send_to(&encode(SHIP_OK, &[log.len() as u64]), from).await?;
            }
            Some((STATUS, _)) => {
                socket.send_to(&encode(STATE, &[log.len() as u64, digest(&log)]), from).await?;
            }
            _ => {}
        }
    }
}

/// Appends acknowledged to the writers, and how many writers are done: the test's record.
#[derive(Default)]
struct Ledger {
    acknowledged: u64,
    done: usize,
}

async fn writer(me: u64, ledger: Rc<RefCell<Ledger>>) -> Result<(), String> {
    let socket = UdpSocket::bind("0.0.0.0:0").await.map_err(|e| e.to_string())?;
    let primary = addr("primary");
    let mut rng = seedsim::rand::rng();
    let mut buf = [0u8; 512];
    for seq in 1..=APPENDS {
        let request = encode(APPEND, &[me, seq, (me << 32) | seq]);
        'acknowledged: loop {
            socket.send_to(&request, primary).await.map_err(|e| e.to_string())?;
            let deadline = Instant::now() + WRITER_RETRY;
            while let Ok(received) = time::timeout_at(deadline, socket.recv_from(&mut buf)).await {
                let (len, _) = received.map_err(|e| e.to_string())?;
                if let Some((APPENDED, words)) = decode(&buf[..len]) {
                    if words.len() == 3 && words[0] == me && words[1] == seq {
                        break 'acknowledged;
                    }
                }
            }
        }
        ledger.borrow_mut().acknowledged += 1;
        time::sleep(Duration::from_millis(rng.random_range(100..300))).await;
    }
    ledger.borrow_mut().done += 1;
    Ok(())
}

/// Once the writers are done, polls every log until the followers' equal the primary's.
async fn monitor(ledger: Rc<RefCell<Ledger>>, converged: Rc<Cell<bool>>) -> Result<(), String> {
    while ledger.borrow().done < WRITERS.len() {
        time::sleep(Duration::from_millis(200)).await;
    }
    let socket = UdpSocket::bind("0.0.0.0:0").await.map_err(|e| e.to_string())?;
    let nodes: Vec<SocketAddr> = ["primary", "f1", "f2", "f3"].iter().map(|n| addr(n)).collect();
    let mut buf = [0u8; 512];
    loop {
        for node in &nodes {
            socket.send_to(&encode(STATUS, &[]), node).await.map_err(|e| e.to_string())?;
        }
        let mut states: [Option<(u64, u64)>; 4] = [None; 4];
        let deadline = Instant::now() + Duration::from_millis(200);
        while let Ok(received) = time::timeout_at(deadline, socket.recv_from(&mut buf)).await {
            let (len, from) = received.map_err(|e| e.to_string())?;
            if let (Some((STATE, words)), Some(i)) = (decode(&buf[..len]), nodes.iter().position(|n| *n == from)) {
                if words.len() == 2 {
                    states[i] = Some((words[0], words[1]));
                }
            }
        }
        if let Some((len, _)) = states[0] {
            let acknowledged = ledger.borrow().acknowledged;
            if len < acknowledged {
                return Err(format!("the primary holds {len} entries, but {acknowledged} were acknowledged"));
            }
            if states[1..].iter().all(|state| *state == states[0]) {
                converged.set(true);
                return Ok(());
            }
        }
        time::sleep(Duration::from_millis(250)).await;
    }
}
