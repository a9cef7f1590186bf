//! Two-phase commit: a coordinator asks two participants to prepare a transaction, and
//! commits it if both vote yes.
//!
//! A participant that voted yes is blocked: it holds the transaction's locks until it learns
//! the decision, and asks the coordinator for it while it waits. A coordinator that finds no
//! decision for a transaction it is asked about logs and answers abort (presumed abort: no
//! decision means none was sent). That rule is only sound if every decision sent is on the
//! coordinator's disk first.
//!
//! The planted bug (`fixed == false`) breaks exactly that: the coordinator keeps its decisions
//! in memory, so a crash after a COMMIT reached one participant but not the other makes it
//! presume abort for the other one, and the participants disagree (one committed, one
//! aborted). The fix keeps the decisions on disk (a map the factory captures, which outlives
//! a crash). That one line, where the decisions live, is all the two variants differ in. An
//! invariant catches the bug: participants agree on every decision. A liveness property holds
//! both variants to deciding: after the faults end, every prepared transaction must be decided
//! within a few seconds.
//!
//! The application keeps the run going past the liveness deadline by sleeping for it, not by
//! waiting until a time on its own clock: the faults may set that clock seconds ahead, and a
//! run that ends before the deadline fails the liveness check however the protocol behaves.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

#[path = "../support/wire.rs"]
mod wire;

use seedsim::net::UdpSocket;
use seedsim::time::{self, Instant};
use seedsim::{Builder, Error, Sim};

const PARTICIPANTS: [&str; 2] = ["p1", "p2"];
const PORT: u16 = 7000;
const TRANSACTIONS: u64 = 20;

const BEGIN: u8 = 1;
const PREPARE: u8 = 2;
const VOTE_YES: u8 = 3;
const COMMIT: u8 = 4;
const ABORT: u8 = 5;
const DONE: u8 = 6;
const QUERY: u8 = 7;

pub fn builder() -> Builder {
    Sim::builder().time_limit(Duration::from_secs(120))
}

/// What a participant keeps on disk: transactions voted yes on and not yet decided, and
/// the decisions it learned.
#[derive(Default)]
struct Participant {
    prepared: BTreeSet<u64>,
    decided: BTreeMap<u64, u8>,
}

pub fn scenario(sim: &mut Sim, fixed: bool) -> Result<(), Error> {
    let log: Rc<RefCell<BTreeMap<u64, u8>>> = Rc::default();
    sim.node("coord", move || coordinator(log.clone(), fixed))?;
    let mut disks = Vec::new();
    for name in PARTICIPANTS {
        let disk: Rc<RefCell<Participant>> = Rc::default();
        disks.push(disk.clone());
        sim.node(name, move || participant(disk.clone()))?;
    }
    sim.client("app", app())?;
    let watched = disks.clone();
    sim.liveness("prepared transactions are decided", Duration::from_secs(5), move || {
        watched.iter().all(|disk| disk.borrow().prepared.is_empty())
    });
    let decisions = disks;
    sim.invariant("participants agree on every decision", move || {
        let (a, b) = (decisions[0].borrow(), decisions[1].borrow());
        match a.decided.iter().find(|(txn, d)| b.decided.get(txn).is_some_and(|other| other != *d)) {
            Some((txn, _)) => Err(format!("transaction {txn} committed on one participant and aborted on the other")),
            None => Ok(()),
        }
    });
    Ok(())
}

/// Submits transactions one by one; waits a while for each, and gives up on it if the
/// coordinator does not answer, as an application with a request timeout does.
async fn app() -> io::Result<()> {
    let socket = UdpSocket::bind("0.0.0.0:0").await?;
    let coord = wire::addr("coord", PORT);
    let mut buf = [0u8; 64];
    for txn in 1..=TRANSACTIONS {
        socket.send_to(&wire::encode(BEGIN, txn, 0, 0), coord).await?;
        let _ = time::timeout(Duration::from_millis(500), socket.recv_from(&mut buf)).await;
        time::sleep(Duration::from_millis(200)).await;
    }
    // Stay until the faults are over (the nemesis recovers 10 s into the run) and the
    // participants had their 5 s to settle: after at least 4 s of transactions, 15 s more is
    // past that even on a clock running 10% fast. Measured as time slept, not read off this
    // node's clock, which a jump or a strobe may have set seconds ahead: waiting until its
    // 15 s would end the run before the liveness property is due.
    time::sleep(Duration::from_secs(15)).await;
    Ok(())
}

async fn coordinator(log: Rc<RefCell<BTreeMap<u64, u8>>>, fixed: bool) -> io::Result<()> {
    let socket = Rc::new(UdpSocket::bind(("0.0.0.0", PORT)).await?);
    let participants: Vec<SocketAddr> = PARTICIPANTS.iter().map(|n| wire::addr(n, PORT)).collect();
    // The bug site: the fixed coordinator keeps its decisions in the log on its disk; the
    // buggy one in a map of this incarnation, lost in a crash.
    let decisions = if fixed { log } else { Rc::default() };
    // In memory only, in both variants: the votes of transactions in progress (a crash loses
    // them, and presumed abort covers it, as no decision was sent).
    let mut votes: BTreeMap<u64, (BTreeSet<SocketAddr>, SocketAddr)> = BTreeMap::new();
    let mut buf = [0u8; 64];
    loop {
        let resend = Instant::now() + Duration::from_millis(100);
        match time::timeout_at(resend, socket.recv_from(&mut buf)).await {
            Err(_) => {
                // Ask again for the votes still missing.
                for (txn, (voted, _)) in &votes {
                    for p in participants.iter().filter(|p| !voted.contains(p)) {
                        socket.send_to(&wire::encode(PREPARE, *txn, 0, 0), p).await?;
                    }
                }
            }
            Ok(received) => {
                let (len, from) = received?;
                let Some((tag, txn, _, _)) = wire::decode(&buf[..len]) else { continue };
                let decided = decisions.borrow().get(&txn).copied();
                match tag {
                    BEGIN if decided.is_none() && !votes.contains_key(&txn) => {
                        votes.insert(txn, (BTreeSet::new(), from));
                        for p in &participants {
                            socket.send_to(&wire::encode(PREPARE, txn, 0, 0), p).await?;
                        }
                    }
                    VOTE_YES => {
                        if let Some(decision) = decided {
                            socket.send_to(&wire::encode(decision, txn, 0, 0), from).await?;
                            continue;
                        }
                        let Some((voted, app)) = votes.get_mut(&txn) else { continue };
                        voted.insert(from);
                        if voted.len() == participants.len() {
                            let app = *app;
                            votes.remove(&txn);
                            decisions.borrow_mut().insert(txn, COMMIT); // kept before anyone hears it
                            for p in &participants {
                                socket.send_to(&wire::encode(COMMIT, txn, 0, 0), p).await?;
                            }
                            socket.send_to(&wire::encode(DONE, txn, 0, 0), app).await?;
                        }
                    }
                    QUERY => {
                        let decision = decided.unwrap_or_else(|| {
                            // Presumed abort: no decision on disk means none was sent.
                            votes.remove(&txn);
                            decisions.borrow_mut().insert(txn, ABORT);
                            ABORT
                        });
                        socket.send_to(&wire::encode(decision, txn, 0, 0), from).await?;
                    }
                    _ => {}
                }
            }
        }
    }
}

async fn participant(disk: Rc<RefCell<Participant>>) -> io::Result<()> {
    let socket = UdpSocket::bind(("0.0.0.0", PORT)).await?;
    let coord = wire::addr("coord", PORT);
    let mut buf = [0u8; 64];
    loop {
        let ask = Instant::now() + Duration::from_millis(300);
        match time::timeout_at(ask, socket.recv_from(&mut buf)).await {
            Err(_) => {
                // Blocked transactions ask the coordinator for their decision.
                let blocked: Vec<u64> = disk.borrow().prepared.iter().copied().collect();
                for txn in blocked {
                    socket.send_to(&wire::encode(QUERY, txn, 0, 0), coord).await?;
                }
            }
            Ok(received) => {
                let (len, from) = received?;
                let Some((tag, txn, _, _)) = wire::decode(&buf[..len]) else { continue };
                match tag {
                    PREPARE => {
                        {
                            let mut d = disk.borrow_mut();
                            if !d.decided.contains_key(&txn) {
                                d.prepared.insert(txn);
                            }
                        }
                        socket.send_to(&wire::encode(VOTE_YES, txn, 0, 0), from).await?;
                    }
                    COMMIT | ABORT => {
                        let mut d = disk.borrow_mut();
                        d.prepared.remove(&txn);
                        d.decided.insert(txn, tag);
                        seedsim::assert_sometimes!(tag == ABORT, "a transaction was presumed aborted");
                    }
                    _ => {}
                }
            }
        }
    }
}
