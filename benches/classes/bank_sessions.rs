//! A sharded bank with at-most-once RPC: deposits and withdrawals over seedsim's typed RPC
//! (simulated TCP), made safe to retry by a per-client session table on each server.
//!
//! **Protocol.** Three shard servers (`bank1`..`bank3`) own four accounts each, every account
//! starting at 100. Clients send `Apply { client, seq, account, delta }`: a deposit (positive
//! delta) or a withdrawal (negative), which the server refuses when the balance would go
//! negative. Neither is idempotent, so the client numbers its requests and retries the same
//! request (same `seq`) after a timeout, a reset connection or a server that is down, until it
//! gets an answer; the server remembers, per client, the last request it executed and its
//! answer, and answers a retry from there instead of executing it again. Requests are executed
//! one at a time; each writes a checksummed record (log position, client, request number,
//! account, applied delta, new balance; written four times over) to the server's log and syncs
//! it before answering (a write or sync that fails is undone by cutting the log back, so memory
//! and log agree). A server that restarts rebuilds its state from the log. When the log shows
//! that a record it once held is gone (every copy rotted, or a position missing), the server
//! says so and refuses every request, instead of serving balances and answers that forget it.
//!
//! **Bug class:** at-most-once RPC with a volatile dedupe table.
//!
//! **Planted bug** (`fixed == false`, in `replay`, at the `if fixed { .. }` inside the loop
//! over the log's records): recovery rebuilds the balances but not the session table, which
//! lives only in memory. After a crash between executing a request (its record synced) and
//! the client receiving the answer, the client's retry finds no session and the request runs
//! a second time: a deposit is credited twice, a withdrawal debited twice.
//!
//! **Fix:** the session table is rebuilt from the log too (each record carries the client and
//! request number), and a record whose request was already applied is skipped.
//!
//! **Check:** the clients keep their own account of every acknowledged operation in a ledger
//! outside the servers (an `Rc<RefCell<..>>` of the scenario). When the last client is done
//! (every client does 40 operations, each retried until answered), it reads every account's
//! balance, and each must equal 100 plus the deltas of the operations acknowledged as done.
//! The one exception is a shard that says it lost acknowledged records (which takes corruption
//! of every copy of a record, no fault of the session table): clients skip the operations it
//! refuses, and its accounts are not audited; every other shard's are.
//!
//! **What exposes it:** a server crash while an answer is on its way or held up: for example
//! answers from `bank1` to a client blocked by a one-way partition (the client keeps retrying
//! the same request, the server keeps answering from its session table), then a restart of
//! `bank1` before the partition heals.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::io;
use std::rc::Rc;
use std::time::Duration;

use futures::lock::Mutex;
use seedsim::fs::File;
use seedsim::net::TcpListener;
use seedsim::rand::RngExt;
use seedsim::rpc::{Client, Request, RpcError, Server};
use seedsim::time;
use seedsim::{Builder, Error, Sim};

const SHARDS: [&str; 3] = ["bank1", "bank2", "bank3"];
const CLIENTS: [&str; 3] = ["c1", "c2", "c3"];
const ACCOUNTS_PER_SHARD: u64 = 4;
const ACCOUNTS: u64 = ACCOUNTS_PER_SHARD * SHARDS.len() as u64;
const INITIAL: i64 = 100;
const PORT: u16 = 7300;
const OPS: u64 = 40;
/// How long a client waits for one call before it retries the same request.
const CALL_TIMEOUT: Duration = Duration::from_secs(1);
const RETRY_PAUSE: Duration = Duration::from_millis(100);
const LOG: &str = "bank.log";

/// Answers from `bank1` to `c1` are blocked while `c1` retries a request `bank1` executed;
/// `bank1` restarts before the partition heals, and `c1`'s retry then runs it a second time.
pub const WITNESS: &str = "
    2s  partition-oneway bank1 -> c1
    3s  bounce bank1 300ms
    4s  recover
";

pub fn builder() -> Builder {
    Sim::builder().time_limit(Duration::from_secs(180))
}

pub fn scenario(sim: &mut Sim, fixed: bool) -> Result<(), Error> {
    for (index, name) in SHARDS.iter().enumerate() {
        sim.node(name, move || bank(index as u64, fixed))?;
    }
    let ledger = Rc::new(RefCell::new(Ledger::default()));
    for (index, name) in CLIENTS.iter().enumerate() {
        sim.client(name, client(index as u64 + 1, name, ledger.clone()))?;
    }
    Ok(())
}

/// Deposit (`delta > 0`) or withdraw (`delta < 0`); request `seq` of `client`.
#[derive(Clone, Debug)]
struct Apply {
    client: u64,
    seq: u64,
    account: u64,
    delta: i64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    Done { balance: i64 },
    Insufficient { balance: i64 },
}

impl Request for Apply {
    type Response = Outcome;
}

#[derive(Clone, Debug)]
struct Balance {
    account: u64,
}

impl Request for Balance {
    type Response = i64;
}

fn shard_of(account: u64) -> usize {
    (account / ACCOUNTS_PER_SHARD) as usize
}

/// One record: a magic word, the log position, client, request number, account, the delta
/// applied (0 when refused), the balance after, and a checksum; 64 bytes.
const RECORD: usize = 64;
/// Each record is appended this many times over: bit rot flips a bit of one copy, and it
/// takes every copy of a record going bad to lose it.
const COPIES: usize = 4;
const MAGIC: u64 = 0x4241_4e4b_4c4f_4721;
/// A copy that does not check out, but whose first word is at most this many bits off
/// `MAGIC`, was a record's copy that rotted. (`MAGIC` has 26 bits set: the zeros an append
/// left behind, lost in a crash or misdirected past, would need 18 flips in one word.)
const MAGIC_FLIPS_MAX: u32 = 8;
/// A rotten copy at most this many bits off a copy that checks out is a copy of the same
/// record; copies of two different records differ in about 32 bits of the checksum alone.
const ROT_FLIPS_MAX: u32 = 16;

#[derive(Clone, Copy, Debug)]
struct Record {
    lsn: u64,
    client: u64,
    seq: u64,
    account: u64,
    applied: i64,
    balance: i64,
}

impl Record {
    fn outcome(&self) -> Outcome {
        if self.applied == 0 {
            Outcome::Insufficient { balance: self.balance }
        } else {
            Outcome::Done { balance: self.balance }
        }
    }
}

fn checksum(words: &[u64]) -> u64 {
    // SplitMix64's finalizer over the words, so any flipped bit changes it.
    words.iter().fold(0x9e37_79b9_7f4a_7c15u64, |acc, &word| {
        let mut z = (acc ^ word).wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    })
}

fn seal(r: &Record) -> [u8; COPIES * RECORD] {
    let words = [MAGIC, r.lsn, r.client, r.seq, r.account, r.applied as u64, r.balance as u64];
    let mut copies = [0u8; COPIES * RECORD];
    for copy in 0..COPIES {
        for (i, word) in words.iter().chain([checksum(&words)].iter()).enumerate() {
            let at = copy * RECORD + 8 * i;
            copies[at..at + 8].copy_from_slice(&word.to_le_bytes());
        }
    }
    copies
}

fn word(chunk: &[u8], i: usize) -> u64 {
    u64::from_le_bytes(chunk[8 * i..8 * i + 8].try_into().expect("8 bytes"))
}

/// How many bits two copies differ in.
fn flips(a: &[u8], b: &[u8]) -> u32 {
    (0..RECORD / 8).map(|i| (word(a, i) ^ word(b, i)).count_ones()).sum()
}

fn unseal(chunk: &[u8]) -> Option<Record> {
    let word = |i: usize| word(chunk, i);
    let words = [word(0), word(1), word(2), word(3), word(4), word(5), word(6)];
    (words[0] == MAGIC && word(7) == checksum(&words)).then_some(Record {
        lsn: words[1],
        client: words[2],
        seq: words[3],
        account: words[4],
        applied: words[5] as i64,
        balance: words[6] as i64,
    })
}

/// A shard's state in memory.
struct State {
    balances: BTreeMap<u64, i64>,
    /// Per client: the last request executed and its answer.
    sessions: BTreeMap<u64, (u64, Outcome)>,
    next_lsn: u64,
    /// Why the log cannot be trusted, if it cannot: records it once held are gone. The server
    /// then refuses every request (and writes nothing, so every restart finds the same).
    lost: Option<String>,
}

/// Whether the log lost a record it held: a copy that rotted with no good copy of its record
/// anywhere, or a position missing below the last one (positions are given out in order, and
/// one is taken only once its record is synced). The zeros of an append a crash lost or a
/// write misdirected past are no record; a torn append cannot split a copy, which lies within
/// one disk block.
fn lost(shard: u64, chunks: &[&[u8]], records: &BTreeMap<u64, Record>) -> Option<String> {
    let good: Vec<&[u8]> = chunks.iter().copied().filter(|chunk| unseal(chunk).is_some()).collect();
    let rotten = chunks.iter().position(|chunk| {
        unseal(chunk).is_none()
            && (word(chunk, 0) ^ MAGIC).count_ones() <= MAGIC_FLIPS_MAX
            && good.iter().all(|copy| flips(chunk, copy) > ROT_FLIPS_MAX)
    });
    if let Some(index) = rotten {
        return Some(format!("lost: shard {shard}: every copy of the record at byte {} rotted", index * RECORD));
    }
    let missing = records.keys().zip(0u64..).find(|(lsn, expected)| *lsn != expected);
    missing.map(|(_, lsn)| format!("lost: shard {shard}: log position {lsn} is missing"))
}

/// Rebuild a shard's state from its log: every record that checks out, wherever it landed,
/// once each (by log position), in log order.
async fn replay(shard: u64, log: &File, fixed: bool) -> io::Result<State> {
    let len = log.metadata().await?.len();
    let mut data = vec![0u8; len as usize];
    log.read_exact_at(&mut data, 0).await?;
    let chunks: Vec<&[u8]> = data.chunks_exact(RECORD).collect();
    let records: BTreeMap<u64, Record> = chunks.iter().filter_map(|chunk| unseal(chunk)).map(|r| (r.lsn, r)).collect();
    let first = shard * ACCOUNTS_PER_SHARD;
    let mut state = State {
        balances: (first..first + ACCOUNTS_PER_SHARD).map(|a| (a, INITIAL)).collect(),
        sessions: BTreeMap::new(),
        next_lsn: records.keys().next_back().map_or(0, |lsn| lsn + 1),
        lost: lost(shard, &chunks, &records),
    };
    seedsim::assert_sometimes!(state.lost.is_some(), "a shard found that its log lost a record");
    for record in records.values() {
        if fixed {
            // The session table is part of the durable state: a request runs once, ever.
            if state.sessions.get(&record.client).is_some_and(|(seq, _)| *seq >= record.seq) {
                continue;
            }
            state.sessions.insert(record.client, (record.seq, record.outcome()));
        }
        *state.balances.entry(record.account).or_insert(INITIAL) += record.applied;
    }
    Ok(state)
}

async fn bank(shard: u64, fixed: bool) -> io::Result<()> {
    let (log, state) = loop {
        let recovered = async {
            let log = File::open_or_create(LOG).await?;
            let state = replay(shard, &log, fixed).await?;
            io::Result::Ok((log, state))
        };
        match recovered.await {
            Ok(recovered) => break recovered,
            Err(_) => time::sleep(Duration::from_millis(20)).await, // a disk fault: try again
        }
    };
    let (log, state) = (Rc::new(log), Rc::new(RefCell::new(state)));
    // One request at a time, so a retry waits for the original and finds its session.
    let lock = Rc::new(Mutex::new(()));
    let balances = state.clone();
    let server = Server::new()
        .handle(move |request: Apply| {
            let (state, log, lock) = (state.clone(), log.clone(), lock.clone());
            async move {
                let _one = lock.lock().await;
                execute(&log, &state, request).await
            }
        })
        .handle(move |Balance { account }| {
            let state = balances.borrow();
            let balance = match &state.lost {
                Some(lost) => Err(lost.clone()),
                None => state.balances.get(&account).copied().ok_or_else(|| format!("no account {account} here")),
            };
            async move { balance }
        });
    server.serve(TcpListener::bind(("0.0.0.0", PORT)).await?).await
}

async fn execute(log: &File, state: &RefCell<State>, request: Apply) -> Result<Outcome, String> {
    let Apply { client, seq, account, delta } = request;
    if let Some(lost) = &state.borrow().lost {
        return Err(lost.clone());
    }
    if let Some(&(last, outcome)) = state.borrow().sessions.get(&client) {
        if seq == last {
            return Ok(outcome); // a retry: the answer it should have had
        }
        if seq < last {
            return Err(format!("request {seq} of client {client} is older than {last}"));
        }
    }
    let Some(&balance) = state.borrow().balances.get(&account) else {
        return Err(format!("no account {account} here"));
    };
    let applied = if balance + delta < 0 { 0 } else { delta };
    let lsn = state.borrow().next_lsn;
    let record = Record { lsn, client, seq, account, applied, balance: balance + applied };
    let end = log.metadata().await.map_err(|e| format!("retry: disk: {e}"))?.len();
    let stored = async {
        log.append(&seal(&record)).await?;
        log.sync_data().await
    }
    .await;
    if let Err(err) = stored {
        // The record may be in the file, durable or not: cut the log back to what memory
        // holds, durably, so that the log and memory agree before anything else happens.
        while log.set_len(end).await.is_err() || log.sync_data().await.is_err() {
            time::sleep(Duration::from_millis(20)).await;
        }
        return Err(format!("retry: disk: {err}"));
    }
    let mut state = state.borrow_mut();
    state.next_lsn += 1;
    state.balances.insert(account, record.balance);
    state.sessions.insert(client, (seq, record.outcome()));
    Ok(record.outcome())
}

/// What the clients were told: the sum of acknowledged deposits and withdrawals per account,
/// and how many clients are done. Kept by the test, not by the servers.
#[derive(Default)]
struct Ledger {
    acknowledged: BTreeMap<u64, i64>,
    done: usize,
}

/// Call until the server answers: retry the same request after a timeout, a broken or refused
/// connection, or a server that asked for a retry. `None`: the server says it lost data.
async fn call<R: Request>(server: &Client, request: R) -> Result<Option<R::Response>, String> {
    loop {
        match server.call(request.clone(), CALL_TIMEOUT).await {
            Ok(answer) => return Ok(Some(answer)),
            Err(RpcError::Timeout | RpcError::Reset(_) | RpcError::Unreachable(_)) => {}
            Err(RpcError::Handler(message)) if message.starts_with("retry") => {}
            Err(RpcError::Handler(message)) if message.starts_with("lost") => return Ok(None),
            Err(err) => return Err(format!("{request:?}: {err}")),
        }
        time::sleep(RETRY_PAUSE).await;
    }
}

async fn client(me: u64, name: &'static str, ledger: Rc<RefCell<Ledger>>) -> Result<(), String> {
    let banks: Vec<Client> = SHARDS.iter().map(|shard| Client::new((*shard, PORT))).collect();
    let mut rng = seedsim::rand::rng();
    for seq in 1..=OPS {
        let account = rng.random_range(0..ACCOUNTS);
        let amount = rng.random_range(1..50i64);
        let delta = if rng.random_bool(0.5) { amount } else { -amount };
        let request = Apply { client: me, seq, account, delta };
        match call(&banks[shard_of(account)], request).await? {
            None => {} // not acknowledged: the shard lost data and refuses everything
            Some(Outcome::Done { .. }) => *ledger.borrow_mut().acknowledged.entry(account).or_default() += delta,
            Some(Outcome::Insufficient { balance }) if balance + delta < 0 => {}
            Some(Outcome::Insufficient { balance }) => {
                return Err(format!("{name}: {delta} refused on account {account} with balance {balance}"));
            }
        }
        time::sleep(Duration::from_millis(rng.random_range(150..450))).await;
    }
    ledger.borrow_mut().done += 1;
    if ledger.borrow().done < CLIENTS.len() {
        return Ok(());
    }
    // The last client audits every account against what the clients were told, but those of a
    // shard that says it lost data.
    for account in 0..ACCOUNTS {
        let Some(balance) = call(&banks[shard_of(account)], Balance { account }).await? else {
            continue;
        };
        let expected = INITIAL + ledger.borrow().acknowledged.get(&account).copied().unwrap_or(0);
        if balance != expected {
            return Err(format!(
                "account {account}: balance {balance}, but the acknowledged operations leave {expected}: \
                 an operation took effect a different number of times than acknowledged"
            ));
        }
    }
    Ok(())
}
