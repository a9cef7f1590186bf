//! Money transfers between bank branches, made atomic by two-phase commit (Gray, "Notes on
//! Data Base Operating Systems", 1978) with a transaction manager as coordinator.
//!
//! **Protocol.** Three branches (`b1`..`b3`) hold three accounts each, every account starting
//! at 100. A client asks the transaction manager `tm` to move an amount from an account at one
//! branch to an account at another, retrying the same transaction id every 300 ms until it
//! hears the outcome. `tm` sends `PREPARE` (account, delta) to both branches and resends it to
//! any that has not voted. A branch votes no if the account is locked by another transaction
//! (no waiting, so no deadlock) or would go negative; otherwise it logs the prepared
//! transaction, locks the account and votes yes. With two yes votes `tm` logs `COMMIT`, else
//! (a no, or no votes within 500 ms) it logs `ABORT`; only then does it send the decision,
//! resend it until both branches acknowledge, and answer the client. A branch applies a commit
//! (logged first) and unlocks. `tm` answers a branch's question about a transaction it knows
//! nothing of (it crashed before deciding) with presumed abort: it logs `ABORT` and says so.
//! Every log (`tm`'s and the branches') is a file of checksummed records, each written four
//! times over and synced before anything depends on it; nodes rebuild their state from it on
//! restart.
//!
//! **Bug class:** coordinator crash (or stall) in two-phase commit: a participant that
//! decides alone.
//!
//! **Planted bug** (`fixed == false`, in `branch`, at the `if fixed { .. } else { .. }` where a
//! prepared transaction has waited `DECISION_TIMEOUT`, 2 s, for the decision): the branch
//! gives up on the coordinator and aborts unilaterally, logging the abort and releasing the
//! lock ("a dead coordinator must not hold our accounts forever"). But after a yes vote the
//! outcome is no longer the branch's to choose: `tm` may have decided, or may still decide,
//! commit. When the decision arrives, the branch, which has already aborted, just
//! acknowledges it, while the other branch applies it.
//!
//! **Fix:** a prepared branch never decides alone. After the timeout it asks `tm` for the
//! outcome (every 500 ms) and keeps the lock until it learns it.
//!
//! **Check:** clients keep a ledger, outside the nodes, of the transfers they were told
//! committed. When the last client is done, it waits until no account is locked (bounded:
//! prepared transactions must resolve within 30 s after the clients finish, which is after
//! every fault has healed), reads every balance, and requires that the total is still 900 and
//! that every account holds 100 plus the transfers acknowledged as committed. Each client must
//! also have at least 10 transfers committed.
//!
//! **What exposes it:** anything that delays the decision past the participants' timeout
//! after they voted yes: a coordinator that crashes or stalls (a long GC or VM pause, a slow
//! disk under its decision log) between the votes and the decision, or a one-way partition
//! that holds up the decision to one branch.

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

const BRANCHES: [&str; 3] = ["b1", "b2", "b3"];
const CLIENTS: [&str; 2] = ["c1", "c2"];
const ACCOUNTS_PER_BRANCH: u64 = 3;
const ACCOUNTS: u64 = ACCOUNTS_PER_BRANCH * BRANCHES.len() as u64;
const INITIAL: i64 = 100;
const PORT: u16 = 7400;
const TRANSFERS: u64 = 30;
const COMMITTED_MIN: usize = 10;
/// `tm` aborts a transaction whose votes have not all arrived by then.
const VOTE_TIMEOUT: Duration = Duration::from_millis(500);
/// `tm` resends a prepare or a decision that has not been answered after this long.
const RESEND: Duration = Duration::from_millis(100);
/// A prepared branch waits this long for the decision before it acts.
const DECISION_TIMEOUT: Duration = Duration::from_secs(2);
/// A prepared branch that asks `tm` for the outcome asks again this often.
const ASK_EVERY: Duration = Duration::from_millis(500);
const CLIENT_RETRY: Duration = Duration::from_millis(300);
/// After the clients are done, prepared transactions must resolve within this long.
const SETTLE_WITHIN: Duration = Duration::from_secs(30);

const TRANSFER: u8 = 1;
const OUTCOME: u8 = 2;
const PREPARE: u8 = 3;
const VOTE: u8 = 4;
const DECIDE: u8 = 5;
const DECIDE_ACK: u8 = 6;
const STATUS: u8 = 7;
const READ: u8 = 8;
const BALANCE: u8 = 9;

/// `tm`'s disk stalls (every operation takes a second longer, as under an fsync stall) while
/// it writes decisions, and later `tm` pauses for 2.5 s (a long GC pause): decisions come
/// later than a branch waits.
pub const WITNESS: &str = "
    2s     disk-slow tm 1s 3s
    6s     pause tm
    8500ms resume tm
    9s     recover
";

pub fn builder() -> Builder {
    Sim::builder().time_limit(Duration::from_secs(180))
}

pub fn scenario(sim: &mut Sim, fixed: bool) -> Result<(), Error> {
    sim.node("tm", coordinator)?;
    for (index, name) in BRANCHES.iter().enumerate() {
        sim.node(name, move || branch(index as u64, fixed))?;
    }
    let ledger = Rc::new(RefCell::new(Ledger::default()));
    for (index, name) in CLIENTS.iter().enumerate() {
        sim.client(name, client(index as u64 + 1, name, ledger.clone()))?;
    }
    Ok(())
}

/// A message: a tag and five words.
fn encode(tag: u8, words: [u64; 5]) -> [u8; 41] {
    let mut bytes = [0u8; 41];
    bytes[0] = tag;
    for (i, word) in words.iter().enumerate() {
        bytes[1 + 8 * i..9 + 8 * i].copy_from_slice(&word.to_le_bytes());
    }
    bytes
}

fn decode(bytes: &[u8]) -> Option<(u8, [u64; 5])> {
    if bytes.len() != 41 {
        return None;
    }
    let word = |i: usize| u64::from_le_bytes(bytes[1 + 8 * i..9 + 8 * i].try_into().expect("8 bytes"));
    Some((bytes[0], [word(0), word(1), word(2), word(3), word(4)]))
}

fn addr(name: &str) -> SocketAddr {
    SocketAddr::new(seedsim::net::lookup(name).expect("a node of the scenario"), PORT)
}

fn branch_of(account: u64) -> usize {
    (account / ACCOUNTS_PER_BRANCH) as usize
}

/// The durable log both roles use: records of four words and a checksum, 64 bytes each,
/// appended `COPIES` times over so that bit rot in one copy leaves another.
const RECORD: usize = 64;
const COPIES: usize = 4;
const MAGIC: u64 = 0x3250_434c_4f47_2121;

fn checksum(words: &[u64]) -> u64 {
    // SplitMix64's finalizer over the words, so any flipped bit changes it.
    words.iter().fold(0x9e37_79b9_7f4a_7c15u64, |acc, &word| {
        let mut z = (acc ^ word).wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    })
}

struct Log {
    file: File,
}

impl Log {
    /// Open the log and read every record that checks out, in file order; retries through
    /// disk faults.
    async fn open(path: &str) -> (Log, Vec<[u64; 4]>) {
        loop {
            let opened = async {
                let file = File::open_or_create(path).await?;
                let mut data = vec![0u8; file.metadata().await?.len() as usize];
                file.read_exact_at(&mut data, 0).await?;
                io::Result::Ok((file, data))
            };
            if let Ok((file, data)) = opened.await {
                let records = data
                    .chunks_exact(RECORD)
                    .filter_map(|chunk| {
                        let word = |i: usize| u64::from_le_bytes(chunk[8 * i..8 * i + 8].try_into().expect("8 bytes"));
                        let words = [word(0), word(1), word(2), word(3), word(4), 0, 0];
                        (words[0] == MAGIC && word(7) == checksum(&words))
                            .then_some([words[1], words[2], words[3], words[4]])
                    })
                    .collect();
                return (Log { file }, records);
            }
            time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Append a record and sync it. On failure the log is cut back to where it was (durably,
    /// retrying), so a record that failed is never found later.
    async fn append(&self, record: [u64; 4]) -> io::Result<()> {
        let words = [MAGIC, record[0], record[1], record[2], record[3], 0, 0];
        let mut copies = [0u8; COPIES * RECORD];
        for copy in 0..COPIES {
            for (i, word) in words.iter().chain([checksum(&words)].iter()).enumerate() {
                let at = copy * RECORD + 8 * i;
                copies[at..at + 8].copy_from_slice(&word.to_le_bytes());
            }
        }
        let end = self.file.metadata().await?.len();
        let stored = async {
            self.file.append(&copies).await?;
            self.file.sync_data().await
        }
        .await;
        if stored.is_err() {
            while self.file.set_len(end).await.is_err() || self.file.sync_data().await.is_err() {
                time::sleep(Duration::from_millis(20)).await;
            }
        }
        stored
    }
}

const COMMIT: u64 = 1;
const ABORT: u64 = 0;

/// A transaction `tm` is running.
struct Running {
    client: SocketAddr,
    /// (branch, account, delta, vote) for the debit and the credit.
    parts: [(usize, u64, i64, Option<bool>); 2],
    started: Instant,
    decision: Option<u64>,
    acked: [bool; 2],
    resend_at: Instant,
}

async fn coordinator() -> io::Result<()> {
    let (log, records) = Log::open("tm.log").await;
    // Decisions made, by transaction id.
    let mut decisions: BTreeMap<u64, u64> = records.iter().map(|r| (r[0], r[1])).collect();
    let mut running: BTreeMap<u64, Running> = BTreeMap::new();
    let branches: Vec<SocketAddr> = BRANCHES.iter().map(|b| addr(b)).collect();
    let socket = UdpSocket::bind(("0.0.0.0", PORT)).await?;
    let mut buf = [0u8; 64];
    loop {
        // Decide what can be decided, and resend what is unanswered.
        let now = Instant::now();
        let txns: Vec<u64> = running.keys().copied().collect();
        for txn in txns {
            let tx = running.get_mut(&txn).expect("listed");
            if tx.decision.is_none() {
                let votes: Vec<Option<bool>> = tx.parts.iter().map(|p| p.3).collect();
                let decision = if votes.iter().all(|v| *v == Some(true)) {
                    Some(COMMIT)
                } else if votes.contains(&Some(false)) || now.saturating_duration_since(tx.started) > VOTE_TIMEOUT {
                    Some(ABORT)
                } else {
                    None
                };
                if let Some(decision) = decision {
                    if log.append([txn, decision, 0, 0]).await.is_err() {
                        running.get_mut(&txn).expect("listed").resend_at = Instant::now() + RESEND;
                        continue; // try again on the next round
                    }
                    decisions.insert(txn, decision);
                    let tx = running.get_mut(&txn).expect("listed");
                    tx.decision = Some(decision);
                    tx.resend_at = Instant::now();
                    socket.send_to(&encode(OUTCOME, [txn, decision, 0, 0, 0]), tx.client).await?;
                }
            }
            let tx = running.get_mut(&txn).expect("listed");
            if Instant::now() < tx.resend_at {
                continue;
            }
            tx.resend_at = Instant::now() + RESEND;
            for (i, &(branch, account, delta, vote)) in tx.parts.iter().enumerate() {
                let message = match tx.decision {
                    None if vote.is_none() => encode(PREPARE, [txn, account, delta as u64, 0, 0]),
                    Some(decision) if !tx.acked[i] => encode(DECIDE, [txn, decision, 0, 0, 0]),
                    _ => continue,
                };
                socket.send_to(&message, branches[branch]).await?;
            }
        }
        let wake = running.values().map(|tx| tx.resend_at).min().unwrap_or(Instant::now() + RESEND);
        let Ok(received) = time::timeout_at(wake, socket.recv_from(&mut buf)).await else { continue };
        let (len, from) = received?;
        let Some((tag, [txn, a, b, c, _])) = decode(&buf[..len]) else { continue };
        match tag {
            TRANSFER => {
                if let Some(&decision) = decisions.get(&txn) {
                    socket.send_to(&encode(OUTCOME, [txn, decision, 0, 0, 0]), from).await?;
                } else if let Some(tx) = running.get_mut(&txn) {
                    tx.client = from;
                } else if a < ACCOUNTS && b < ACCOUNTS && branch_of(a) != branch_of(b) {
                    let amount = c as i64;
                    let now = Instant::now();
                    running.insert(
                        txn,
                        Running {
                            client: from,
                            parts: [(branch_of(a), a, -amount, None), (branch_of(b), b, amount, None)],
                            started: now,
                            decision: None,
                            acked: [false; 2],
                            resend_at: now,
                        },
                    );
                }
            }
            VOTE => {
                if let Some(tx) = running.get_mut(&txn) {
                    for part in tx.parts.iter_mut().filter(|p| branches[p.0] == from) {
                        part.3.get_or_insert(a == 1);
                    }
                }
            }
            DECIDE_ACK => {
                if let Some(tx) = running.get_mut(&txn) {
                    for (i, part) in tx.parts.iter().enumerate() {
                        tx.acked[i] |= branches[part.0] == from;
                    }
                    if tx.acked == [true; 2] {
                        running.remove(&txn);
                    }
                }
            }
            STATUS => {
                let decision = match decisions.get(&txn) {
                    Some(&decision) => decision,
                    None if running.contains_key(&txn) => continue, // still collecting votes
                    None => {
                        // Never decided (forgotten in a crash): presumed abort, made durable.
                        if log.append([txn, ABORT, 0, 0]).await.is_err() {
                            continue;
                        }
                        decisions.insert(txn, ABORT);
                        ABORT
                    }
                };
                socket.send_to(&encode(DECIDE, [txn, decision, 0, 0, 0]), from).await?;
            }
            _ => {}
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Prepared,
    Committed,
    Aborted,
}

const PREPARED: u64 = 2;
const COMMITTED: u64 = 3;
const ABORTED: u64 = 4;

struct Txn {
    account: u64,
    delta: i64,
    phase: Phase,
    /// When the branch next acts on a prepared transaction whose decision has not come.
    wait_until: Instant,
}

async fn branch(index: u64, fixed: bool) -> io::Result<()> {
    let (log, records) = Log::open("branch.log").await;
    let first = index * ACCOUNTS_PER_BRANCH;
    let mut balances: BTreeMap<u64, i64> = (first..first + ACCOUNTS_PER_BRANCH).map(|a| (a, INITIAL)).collect();
    let mut txns: BTreeMap<u64, Txn> = BTreeMap::new();
    let restarted = Instant::now();
    for [txn, kind, account, delta] in records {
        let phase = match kind {
            PREPARED => Phase::Prepared,
            COMMITTED => Phase::Committed,
            _ => Phase::Aborted,
        };
        let entry = txns.entry(txn).or_insert(Txn {
            account,
            delta: delta as i64,
            phase,
            wait_until: restarted + DECISION_TIMEOUT,
        });
        if entry.phase == Phase::Prepared {
            entry.phase = phase;
        }
    }
    for txn in txns.values().filter(|t| t.phase == Phase::Committed) {
        *balances.get_mut(&txn.account).expect("an account of this branch") += txn.delta;
    }
    let tm = addr("tm");
    let socket = UdpSocket::bind(("0.0.0.0", PORT)).await?;
    let mut buf = [0u8; 64];
    loop {
        // Prepared transactions whose decision is late.
        let now = Instant::now();
        let late: Vec<u64> =
            txns.iter().filter(|(_, t)| t.phase == Phase::Prepared && now >= t.wait_until).map(|(id, _)| *id).collect();
        for id in late {
            let txn = txns.get_mut(&id).expect("listed");
            txn.wait_until = now + ASK_EVERY;
            if fixed {
                // The outcome is tm's to decide: ask, and keep the lock until told.
                socket.send_to(&encode(STATUS, [id, 0, 0, 0, 0]), tm).await?;
            } else {
                // Give up on a coordinator that does not answer, and free the account.
                if log.append([id, ABORTED, txn.account, txn.delta as u64]).await.is_ok() {
                    txn.phase = Phase::Aborted;
                }
            }
        }
        let wake = txns.values().filter(|t| t.phase == Phase::Prepared).map(|t| t.wait_until).min();
        let wake = wake.unwrap_or(now + DECISION_TIMEOUT);
        let Ok(received) = time::timeout_at(wake, socket.recv_from(&mut buf)).await else { continue };
        let (len, from) = received?;
        let Some((tag, [id, a, b, _, _])) = decode(&buf[..len]) else { continue };
        match tag {
            PREPARE => {
                let (account, delta) = (a, b as i64);
                let vote = match txns.get(&id).map(|t| t.phase) {
                    Some(phase) => phase != Phase::Aborted,
                    None => {
                        let locked = txns.values().any(|t| t.phase == Phase::Prepared && t.account == account);
                        let Some(&balance) = balances.get(&account) else { continue };
                        if locked || balance + delta < 0 {
                            let wait_until = Instant::now();
                            txns.insert(id, Txn { account, delta, phase: Phase::Aborted, wait_until });
                            false
                        } else if log.append([id, PREPARED, account, delta as u64]).await.is_ok() {
                            let wait_until = Instant::now() + DECISION_TIMEOUT;
                            txns.insert(id, Txn { account, delta, phase: Phase::Prepared, wait_until });
                            true
                        } else {
                            continue; // no vote: tm asks again
                        }
                    }
                };
                socket.send_to(&encode(VOTE, [id, u64::from(vote), 0, 0, 0]), from).await?;
            }
            DECIDE => {
                if let Some(txn) = txns.get_mut(&id) {
                    if txn.phase == Phase::Prepared {
                        let (kind, phase) =
                            if a == COMMIT { (COMMITTED, Phase::Committed) } else { (ABORTED, Phase::Aborted) };
                        if log.append([id, kind, txn.account, txn.delta as u64]).await.is_err() {
                            continue; // no acknowledgement: tm sends the decision again
                        }
                        txn.phase = phase;
                        if phase == Phase::Committed {
                            *balances.get_mut(&txn.account).expect("an account of this branch") += txn.delta;
                        }
                    }
                }
                socket.send_to(&encode(DECIDE_ACK, [id, 0, 0, 0, 0]), from).await?;
            }
            READ => {
                let Some(&balance) = balances.get(&id) else { continue };
                let locked = txns.values().any(|t| t.phase == Phase::Prepared && t.account == id);
                socket.send_to(&encode(BALANCE, [id, balance as u64, u64::from(locked), 0, 0]), from).await?;
            }
            _ => {}
        }
    }
}

/// What clients were told: committed transfers' effect per account, and who is done.
#[derive(Default)]
struct Ledger {
    acknowledged: BTreeMap<u64, i64>,
    committed: Vec<(&'static str, usize)>,
}

async fn client(me: u64, name: &'static str, ledger: Rc<RefCell<Ledger>>) -> Result<(), String> {
    let socket = UdpSocket::bind("0.0.0.0:0").await.map_err(|e| e.to_string())?;
    let tm = addr("tm");
    let mut rng = seedsim::rand::rng();
    let mut buf = [0u8; 64];
    let mut committed = 0;
    for seq in 1..=TRANSFERS {
        let txn = (me << 32) | seq;
        let from = rng.random_range(0..ACCOUNTS);
        let to = loop {
            let to = rng.random_range(0..ACCOUNTS);
            if branch_of(to) != branch_of(from) {
                break to;
            }
        };
        let amount = rng.random_range(1..30u64);
        let outcome = 'answered: loop {
            let request = encode(TRANSFER, [txn, from, to, amount, 0]);
            socket.send_to(&request, tm).await.map_err(|e| e.to_string())?;
            let deadline = Instant::now() + CLIENT_RETRY;
            while let Ok(received) = time::timeout_at(deadline, socket.recv_from(&mut buf)).await {
                let (len, _) = received.map_err(|e| e.to_string())?;
                if let Some((OUTCOME, [id, outcome, ..])) = decode(&buf[..len]) {
                    if id == txn {
                        break 'answered outcome;
                    }
                }
            }
        };
        if outcome == COMMIT {
            committed += 1;
            let mut ledger = ledger.borrow_mut();
            *ledger.acknowledged.entry(from).or_default() -= amount as i64;
            *ledger.acknowledged.entry(to).or_default() += amount as i64;
        }
        time::sleep(Duration::from_millis(rng.random_range(200..600))).await;
    }
    ledger.borrow_mut().committed.push((name, committed));
    if ledger.borrow().committed.len() < CLIENTS.len() {
        return Ok(());
    }
    // The last client audits, once every prepared transaction has been resolved.
    let settle_by = Instant::now() + SETTLE_WITHIN;
    let mut balances = BTreeMap::new();
    while (balances.len() as u64) < ACCOUNTS {
        if Instant::now() > settle_by {
            let open: Vec<u64> = (0..ACCOUNTS).filter(|a| !balances.contains_key(a)).collect();
            return Err(format!(
                "accounts {open:?} still locked by prepared transactions {SETTLE_WITHIN:?} after the clients finished"
            ));
        }
        for account in (0..ACCOUNTS).filter(|a| !balances.contains_key(a)) {
            let request = encode(READ, [account, 0, 0, 0, 0]);
            socket.send_to(&request, addr(BRANCHES[branch_of(account)])).await.map_err(|e| e.to_string())?;
        }
        let deadline = Instant::now() + CLIENT_RETRY;
        while let Ok(received) = time::timeout_at(deadline, socket.recv_from(&mut buf)).await {
            let (len, _) = received.map_err(|e| e.to_string())?;
            if let Some((BALANCE, [account, balance, 0, ..])) = decode(&buf[..len]) {
                balances.insert(account, balance as i64);
            }
        }
    }
    let total: i64 = balances.values().sum();
    if total != INITIAL * ACCOUNTS as i64 {
        return Err(format!(
            "transfers were not atomic: the balances sum to {total}, not {}: {balances:?}",
            INITIAL * ACCOUNTS as i64
        ));
    }
    let ledger = ledger.borrow();
    for (account, balance) in &balances {
        let expected = INITIAL + ledger.acknowledged.get(account).copied().unwrap_or(0);
        if *balance != expected {
            return Err(format!(
                "transfers were not atomic: account {account} holds {balance}, \
                 but the transfers acknowledged as committed leave {expected}"
            ));
        }
    }
    match ledger.committed.iter().find(|(_, n)| *n < COMMITTED_MIN) {
        Some((name, n)) => Err(format!("{name}: only {n} transfers committed (at least {COMMITTED_MIN} expected)")),
        None => Ok(()),
    }
}
