//! A log of write-once slots, each decided by single-decree Paxos (Lamport, "Paxos Made
//! Simple", 2001), with three acceptors and three proposers that compete for every slot.
//!
//! **Protocol.** Each proposer (a client) wants its values appended to a shared log. For the
//! next slot it does not know the outcome of, it runs classic Paxos with its own value: phase 1
//! sends `PREPARE(slot, ballot)` to every acceptor and waits 40 ms for a majority of
//! promises; if any promise reports an accepted value, the proposer must adopt the one with
//! the highest ballot. Phase 2 sends `ACCEPT(slot, ballot, value)` and waits for a majority of
//! `ACCEPTED`. A rejection (a higher promise) or a timeout makes it retry with a higher ballot
//! after a random backoff. A proposer that learns another value was chosen moves to the next
//! slot with its own value, so a proposer that fell behind catches up slot by slot, learning
//! each outcome by running Paxos on it. An acceptor keeps, per slot, the highest ballot it
//! promised and the last proposal it accepted, in an append-only file of checksummed records
//! (each written four times over, so bit rot leaves a good copy), and rebuilds that state from
//! the file when it restarts.
//!
//! **Bug class:** durable state not fsynced (a vote sent before the vote is on disk).
//!
//! **Planted bug** (`fixed == false`, in `acceptor`, at the `if fixed { log.sync_data() }`
//! before the reply): the acceptor appends its new promise or acceptance to its file and
//! answers at once, without `fsync`; the write sits in the page cache. The answer is a promise
//! that holds only while the process lives: a crash loses the unsynced records, the acceptor
//! restarts having never promised or accepted anything for those slots, and a proposer that
//! runs Paxos on such a slot later (one that fell behind, or one still retrying) can get a
//! majority of promises that report no accepted value and get its own, different value chosen.
//!
//! **Fix:** `sync_data` the record before answering. (Both variants give no answer when a
//! write or sync fails, so the proposer retries, and change their in-memory state only after
//! the record is stored.)
//!
//! **Check:** a ledger outside the nodes (the scenario's `Rc<RefCell<Ledger>>`) records, for
//! every slot, the first value any proposer learned was chosen; a proposer that learns a
//! different value for that slot fails the run with "two values chosen". Every proposer must
//! get its own 10 values chosen (a system that decides nothing fails by the time limit: the
//! proposer reports how many it got), so every run checks agreement over the whole run.
//!
//! **What exposes it:** a crash (or crashes) of acceptors while their recent records are
//! unsynced, followed by Paxos rounds on slots they had voted on: a proposer cut off during
//! the crashes and catching up afterwards, or dueling proposers still retrying a slot. Without
//! crashes the bug is invisible: the page cache never loses anything.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use seedsim::fs::File;
use seedsim::net::UdpSocket;
use seedsim::rand::RngExt;
use seedsim::time::{self, Instant};
use seedsim::{Builder, Error, Sim};

const ACCEPTORS: [&str; 3] = ["a1", "a2", "a3"];
const PROPOSERS: [&str; 3] = ["p1", "p2", "p3"];
const MAJORITY: usize = 2;
const PORT: u16 = 7100;
/// How long a proposer waits for a majority in each phase.
const PHASE_TIMEOUT: Duration = Duration::from_millis(40);
/// Each proposer stops once this many of its own values are chosen.
const VALUES: u64 = 10;
/// A proposer that has not got its values chosen by then (its clock) reports a stall.
const GIVE_UP: Duration = Duration::from_secs(90);
const LOG: &str = "acceptor.log";

const PREPARE: u8 = 1;
const PROMISE: u8 = 2;
const ACCEPT: u8 = 3;
const ACCEPTED: u8 = 4;
const REJECT: u8 = 5;

/// A rolling restart of the acceptors (a deploy) while proposer `p3` is cut off: each
/// acceptor loses its unsynced votes; `p3` then catches up on the slots decided meanwhile and
/// gets its own values chosen for some of them.
pub const WITNESS: &str = "
    2s     isolate p3
    3s     bounce a1 200ms
    3500ms bounce a2 200ms
    4s     bounce a3 200ms
    4500ms rejoin p3
    6s     recover
";

pub fn builder() -> Builder {
    Sim::builder().time_limit(Duration::from_secs(120))
}

pub fn scenario(sim: &mut Sim, fixed: bool) -> Result<(), Error> {
    for name in ACCEPTORS {
        sim.node(name, move || acceptor(fixed))?;
    }
    let ledger = Rc::new(RefCell::new(Ledger::default()));
    for (index, name) in PROPOSERS.iter().enumerate() {
        sim.client(name, proposer(index as u64 + 1, name, ledger.clone()))?;
    }
    Ok(())
}

/// A message: a tag and four words (slot, ballot, and two more whose meaning the tag gives).
fn encode(tag: u8, words: [u64; 4]) -> [u8; 33] {
    let mut bytes = [0u8; 33];
    bytes[0] = tag;
    for (i, word) in words.iter().enumerate() {
        bytes[1 + 8 * i..9 + 8 * i].copy_from_slice(&word.to_le_bytes());
    }
    bytes
}

fn decode(bytes: &[u8]) -> Option<(u8, [u64; 4])> {
    if bytes.len() != 33 {
        return None;
    }
    let word = |i: usize| u64::from_le_bytes(bytes[1 + 8 * i..9 + 8 * i].try_into().expect("8 bytes"));
    Some((bytes[0], [word(0), word(1), word(2), word(3)]))
}

fn addr(name: &str) -> SocketAddr {
    SocketAddr::new(seedsim::net::lookup(name).expect("a node of the scenario"), PORT)
}

/// What an acceptor knows about one slot.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Slot {
    promised: u64,
    accepted: u64,
    value: u64,
}

/// One record of the acceptor's file: 64 bytes (a magic word, the slot, its state, padding,
/// a checksum).
const RECORD: usize = 64;
/// Each record is appended this many times over: bit rot flips a bit of one copy, and it
/// takes every copy of a record going bad to lose it.
const COPIES: usize = 4;
const MAGIC: u64 = 0x5041_584f_5352_4543;

fn checksum(words: &[u64]) -> u64 {
    // SplitMix64's finalizer over the words, so any flipped bit changes it.
    words.iter().fold(0x9e37_79b9_7f4a_7c15u64, |acc, &word| {
        let mut z = (acc ^ word).wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    })
}

fn seal(slot: u64, state: Slot) -> [u8; COPIES * RECORD] {
    let words = [MAGIC, slot, state.promised, state.accepted, state.value, 0, 0];
    let mut copies = [0u8; COPIES * RECORD];
    for copy in 0..COPIES {
        for (i, word) in words.iter().chain([checksum(&words)].iter()).enumerate() {
            let at = copy * RECORD + 8 * i;
            copies[at..at + 8].copy_from_slice(&word.to_le_bytes());
        }
    }
    copies
}

fn unseal(chunk: &[u8]) -> Option<(u64, Slot)> {
    let word = |i: usize| u64::from_le_bytes(chunk[8 * i..8 * i + 8].try_into().expect("8 bytes"));
    let words = [word(0), word(1), word(2), word(3), word(4), word(5), word(6)];
    (words[0] == MAGIC && word(7) == checksum(&words))
        .then_some((words[1], Slot { promised: words[2], accepted: words[3], value: words[4] }))
}

/// Retry what a disk fault made fail: the acceptor never gives up on its own disk.
async fn retry<T, F: std::future::Future<Output = io::Result<T>>>(mut op: impl FnMut() -> F) -> T {
    loop {
        match op().await {
            Ok(value) => return value,
            Err(_) => time::sleep(Duration::from_millis(20)).await,
        }
    }
}

/// Rebuild every slot's state from the file: the highest promise and the highest-ballot
/// acceptance of each slot, from every record that checks out, wherever it landed.
async fn recover(log: &File) -> BTreeMap<u64, Slot> {
    let data = loop {
        let len = retry(|| log.metadata()).await.len();
        let mut data = vec![0u8; len as usize];
        if log.read_exact_at(&mut data, 0).await.is_ok() {
            break data;
        }
        time::sleep(Duration::from_millis(20)).await;
    };
    let mut slots: BTreeMap<u64, Slot> = BTreeMap::new();
    for (slot, record) in data.chunks_exact(RECORD).filter_map(unseal) {
        let state = slots.entry(slot).or_default();
        state.promised = state.promised.max(record.promised);
        if record.accepted > state.accepted {
            state.accepted = record.accepted;
            state.value = record.value;
        }
    }
    slots
}

async fn acceptor(fixed: bool) -> io::Result<()> {
    let log = retry(|| File::open_or_create(LOG)).await;
    let mut slots = recover(&log).await;
    let socket = UdpSocket::bind(("0.0.0.0", PORT)).await?;
    let mut buf = [0u8; 64];
    loop {
        let (len, from) = socket.recv_from(&mut buf).await?;
        let Some((tag, [slot, ballot, value, _])) = decode(&buf[..len]) else { continue };
        let state = slots.get(&slot).copied().unwrap_or_default();
        let (next, reply) = match tag {
            PREPARE if ballot >= state.promised => {
                (Slot { promised: ballot, ..state }, encode(PROMISE, [slot, ballot, state.accepted, state.value]))
            }
            ACCEPT if ballot >= state.promised => {
                (Slot { promised: ballot, accepted: ballot, value }, encode(ACCEPTED, [slot, ballot, 0, 0]))
            }
            PREPARE | ACCEPT => {
                socket.send_to(&encode(REJECT, [slot, ballot, state.promised, 0]), from).await?;
                continue;
            }
            _ => continue,
        };
        if next != state {
            let stored = async {
                log.append(&seal(slot, next)).await?;
                if fixed {
                    log.sync_data().await?;
                }
                io::Result::Ok(())
            }
            .await;
            if stored.is_err() {
                continue; // no answer: the proposer times out and retries
            }
            slots.insert(slot, next);
        }
        socket.send_to(&reply, from).await?;
    }
}

/// The first value learned chosen for each slot, and by whom: kept by the test, not the nodes.
#[derive(Default)]
struct Ledger {
    chosen: BTreeMap<u64, (u64, &'static str)>,
}

impl Ledger {
    fn learn(&mut self, slot: u64, value: u64, who: &'static str) -> Result<(), String> {
        let (first, by) = *self.chosen.entry(slot).or_insert((value, who));
        if first != value {
            return Err(format!(
                "slot {slot}: two values chosen: {by} learned {first:#x}, then {who} learned {value:#x}"
            ));
        }
        Ok(())
    }
}

enum Phase {
    /// A majority answered yes; their answers' words.
    Quorum(Vec<[u64; 4]>),
    /// An acceptor had promised this higher ballot.
    Preempted(u64),
    TimedOut,
}

/// Send `message` to every acceptor and collect a majority of `ok` answers for `slot` and
/// `ballot`, or a rejection, or a timeout.
async fn phase(
    socket: &UdpSocket,
    acceptors: &[SocketAddr],
    message: [u8; 33],
    ok: u8,
    slot: u64,
    ballot: u64,
) -> io::Result<Phase> {
    for acceptor in acceptors {
        socket.send_to(&message, acceptor).await?;
    }
    let deadline = Instant::now() + PHASE_TIMEOUT;
    let mut answered: Vec<SocketAddr> = Vec::new();
    let mut answers = Vec::new();
    let mut buf = [0u8; 64];
    loop {
        let Ok(received) = time::timeout_at(deadline, socket.recv_from(&mut buf)).await else {
            return Ok(Phase::TimedOut);
        };
        let (len, from) = received?;
        match decode(&buf[..len]) {
            Some((tag, words)) if tag == ok && words[0] == slot && words[1] == ballot && !answered.contains(&from) => {
                answered.push(from);
                answers.push(words);
                if answers.len() >= MAJORITY {
                    return Ok(Phase::Quorum(answers));
                }
            }
            Some((REJECT, [s, b, promised, _])) if s == slot && b == ballot => return Ok(Phase::Preempted(promised)),
            _ => {} // an answer to an earlier round
        }
    }
}

/// Run Paxos on `slot` with `own` as this proposer's value until some value is chosen.
async fn decide(socket: &UdpSocket, acceptors: &[SocketAddr], me: u64, slot: u64, own: u64) -> io::Result<u64> {
    let mut rng = seedsim::rand::rng();
    let mut round = 1u64;
    loop {
        let ballot = (round << 8) | me;
        let outcome = match phase(socket, acceptors, encode(PREPARE, [slot, ballot, 0, 0]), PROMISE, slot, ballot)
            .await?
        {
            Phase::Quorum(promises) => {
                // The value of the highest-ballot acceptance reported, else our own.
                let value = promises.iter().filter(|p| p[2] > 0).max_by_key(|p| p[2]).map_or(own, |p| p[3]);
                match phase(socket, acceptors, encode(ACCEPT, [slot, ballot, value, 0]), ACCEPTED, slot, ballot).await?
                {
                    Phase::Quorum(_) => return Ok(value),
                    other => other,
                }
            }
            other => other,
        };
        round = match outcome {
            Phase::Preempted(promised) => round.max(promised >> 8) + 1,
            _ => round + 1,
        };
        time::sleep(Duration::from_millis(rng.random_range(1..30))).await;
    }
}

async fn proposer(me: u64, name: &'static str, ledger: Rc<RefCell<Ledger>>) -> Result<(), String> {
    let socket = UdpSocket::bind("0.0.0.0:0").await.map_err(|e| e.to_string())?;
    let acceptors: Vec<SocketAddr> = ACCEPTORS.iter().map(|name| addr(name)).collect();
    let mut rng = seedsim::rand::rng();
    let started = Instant::now();
    let (mut slot, mut mine) = (0u64, 0u64);
    while mine < VALUES {
        if started.elapsed() > GIVE_UP {
            return Err(format!("{name}: only {mine} of {VALUES} values chosen after {GIVE_UP:?}"));
        }
        let own = (me << 32) | (mine + 1);
        let chosen = decide(&socket, &acceptors, me, slot, own).await.map_err(|e| e.to_string())?;
        ledger.borrow_mut().learn(slot, chosen, name)?;
        slot += 1;
        if chosen == own {
            mine += 1;
            time::sleep(Duration::from_millis(rng.random_range(600..1600))).await;
        }
    }
    Ok(())
}
