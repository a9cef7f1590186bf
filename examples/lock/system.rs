//! A lock service with leases, and a store that workers write to while they hold the lock
//! (Kleppmann, "How to do distributed locking", 2016).
//!
//! The lock server grants the lock for a lease of 500 ms and a token that grows with every
//! grant. A worker that holds the lock does some work, checks on its own clock that its
//! lease still has time, and writes to the store. A worker can still be wrong about its
//! lease: a pause (a GC), a clock that runs slow, or a write that sits in a clogged network
//! lands after the lease ran out and another worker got the lock.
//!
//! The planted bug (`fixed == false`): the store accepts every write. The fix is a fencing
//! token: the store rejects a write whose token is older than one it already accepted. The
//! two variants differ in that one line.
//!
//! The checks sit outside the store, so they judge the fix rather than repeat it. The lock
//! server's grants and the store's write log (what it accepted) go into a journal, and an
//! invariant reads it: every accepted write carries a token the lock server granted to the
//! worker that sent it, and no write is accepted from a holder whose grant a newer one
//! superseded once the newer holder's write is in (the log is in token order). A fenced store
//! that rejected every write would keep that log empty, so the run also checks progress: once
//! the faults are over, the store must have accepted writes of several grants.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::io;
use std::rc::Rc;
use std::time::Duration;

#[path = "../support/wire.rs"]
mod wire;

use seedsim::net::UdpSocket;
use seedsim::rand::RngExt;
use seedsim::time::{self, Instant};
use seedsim::{Builder, Error, Sim};

const WORKERS: [&str; 3] = ["w1", "w2", "w3"];
const PORT: u16 = 7000;
const LEASE: Duration = Duration::from_millis(500);
/// A worker writes only while its lease has at least this much left on its clock.
const MARGIN: Duration = Duration::from_millis(150);

const ACQUIRE: u8 = 1;
const GRANTED: u8 = 2;
const DENIED: u8 = 3;
const RELEASE: u8 = 4;
const WRITE: u8 = 5;
const WRITTEN: u8 = 6;

pub fn builder() -> Builder {
    Sim::builder().time_limit(Duration::from_secs(120))
}

/// Grants of distinct holders whose writes the store must accept in a run, once the faults
/// are over (a calm run has dozens).
pub const GRANTS_WRITTEN_MIN: usize = 3;

/// What the lock server granted and the store accepted: the record the checks judge.
#[derive(Debug, Default)]
pub struct Journal {
    /// Each token the lock server granted, and the worker it went to.
    pub grants: BTreeMap<u64, u64>,
    /// The store's write log: (token, worker) of each write it accepted, in order.
    pub accepted: Vec<(u64, u64)>,
}

pub fn scenario(sim: &mut Sim, fixed: bool) -> Result<(), Error> {
    scenario_journal(sim, fixed).map(drop)
}

/// The scenario, and the journal its run fills in.
pub fn scenario_journal(sim: &mut Sim, fixed: bool) -> Result<Rc<RefCell<Journal>>, Error> {
    let journal: Rc<RefCell<Journal>> = Rc::default();
    let granting = journal.clone();
    // The next token is on the lock server's disk: a restart never grants a token twice.
    let tokens = Rc::new(Cell::new(1u64));
    sim.node("locks", move || lock_server(tokens.clone(), granting.clone()))?;
    let writing = journal.clone();
    // The store's newest token is on its disk (synced before each acknowledgement): a crash
    // does not reset the fence.
    let fence: Rc<Cell<u64>> = Rc::default();
    sim.node("store", move || store(fixed, fence.clone(), writing.clone()))?;
    for (index, name) in WORKERS.iter().enumerate() {
        sim.node(name, move || worker(index as u64 + 1))?;
    }
    let judged = journal.clone();
    // Invariants run after every event: judge only the writes accepted since the last time.
    let (checked, newest) = (Cell::new(0), Cell::new(0));
    sim.invariant("the store accepts writes in lock order", move || {
        let journal = judged.borrow();
        for &(token, worker) in &journal.accepted[checked.get()..] {
            if journal.grants.get(&token) != Some(&worker) {
                return Err(format!("the store accepted a write of worker {worker} with token {token}, never granted to it"));
            }
            if token < newest.get() {
                return Err(format!(
                    "the store accepted a write of worker {worker} under grant {token} after one under grant {}, which superseded it",
                    newest.get()
                ));
            }
            newest.set(token);
        }
        checked.set(journal.accepted.len());
        Ok(())
    });
    let progress = journal.clone();
    sim.client("clock", async move {
        // Past the nemesis' recover (10 s into the run), and then some calm time.
        time::sleep(Duration::from_secs(14)).await;
        let journal = progress.borrow();
        let mut holders: Vec<u64> = journal.accepted.iter().map(|&(token, _)| token).collect();
        holders.dedup();
        if holders.len() < GRANTS_WRITTEN_MIN {
            return Err(format!(
                "the store accepted writes of {} grants in 14 s ({} granted): it makes no progress",
                holders.len(),
                journal.grants.len()
            ));
        }
        Ok(())
    })?;
    Ok(journal)
}

/// Grants the lock to one worker at a time, for a lease, with a growing token.
async fn lock_server(next_token: Rc<Cell<u64>>, journal: Rc<RefCell<Journal>>) -> io::Result<()> {
    let socket = UdpSocket::bind(("0.0.0.0", PORT)).await?;
    let mut holder: Option<(u64, Instant)> = None; // (token, lease end)
    let mut buf = [0u8; 64];
    loop {
        let (len, from) = socket.recv_from(&mut buf).await?;
        match wire::decode(&buf[..len]) {
            Some((ACQUIRE, worker, _, _)) => {
                let now = Instant::now();
                if holder.is_none_or(|(_, until)| now >= until) {
                    let token = next_token.get();
                    next_token.set(token + 1);
                    holder = Some((token, now + LEASE));
                    journal.borrow_mut().grants.insert(token, worker);
                    socket.send_to(&wire::encode(GRANTED, worker, token, 0), from).await?;
                } else {
                    socket.send_to(&wire::encode(DENIED, worker, 0, 0), from).await?;
                }
            }
            Some((RELEASE, _, token, _)) if holder.is_some_and(|(t, _)| t == token) => holder = None,
            _ => {}
        }
    }
}

/// Accepts writes, into its write log; with fencing, only writes whose token is not older
/// than the newest it accepted.
async fn store(fixed: bool, newest: Rc<Cell<u64>>, journal: Rc<RefCell<Journal>>) -> io::Result<()> {
    let socket = UdpSocket::bind(("0.0.0.0", PORT)).await?;
    let mut buf = [0u8; 64];
    loop {
        let (len, from) = socket.recv_from(&mut buf).await?;
        let Some((WRITE, worker, token, _)) = wire::decode(&buf[..len]) else { continue };
        if fixed && token < newest.get() {
            continue; // fenced off: a holder whose lease ran out
        }
        seedsim::assert_sometimes!(token > 3, "the lock changed hands a few times");
        newest.set(newest.get().max(token));
        journal.borrow_mut().accepted.push((token, worker));
        socket.send_to(&wire::encode(WRITTEN, worker, token, 0), from).await?;
    }
}

async fn worker(me: u64) -> io::Result<()> {
    let socket = UdpSocket::bind("0.0.0.0:0").await?;
    let (locks, store) = (wire::addr("locks", PORT), wire::addr("store", PORT));
    let mut rng = seedsim::rand::rng();
    let mut buf = [0u8; 64];
    loop {
        time::sleep(Duration::from_millis(rng.random_range(20..200))).await;
        let asked = Instant::now();
        socket.send_to(&wire::encode(ACQUIRE, me, 0, 0), locks).await?;
        let Ok(received) = time::timeout(Duration::from_millis(100), socket.recv_from(&mut buf)).await else {
            continue;
        };
        let (len, _) = received?;
        let Some((GRANTED, _, token, _)) = wire::decode(&buf[..len]) else { continue };
        // The lease started no earlier than the request left: count it from then.
        let lease_end = asked + LEASE;
        time::sleep(Duration::from_millis(rng.random_range(50..250))).await; // the work
        if Instant::now() + MARGIN <= lease_end {
            socket.send_to(&wire::encode(WRITE, me, token, 0), store).await?;
            let _ = time::timeout(Duration::from_millis(100), socket.recv_from(&mut buf)).await;
        }
        socket.send_to(&wire::encode(RELEASE, me, token, 0), locks).await?;
    }
}
