//! Two-phase commit: a coordinator asks two participants to prepare a transaction, and
//! commits it if both vote yes.
//!
//! A participant that voted yes is blocked: it holds the transaction's locks until it learns
//! the decision. The planted bug (`fixed == false`) is the textbook one: the coordinator keeps
//! its transactions in memory only and the participants wait passively, so a coordinator
//! crash between the votes and the decision leaves the participants blocked forever. A
//! liveness property catches it: after the faults end, every prepared transaction must be
//! decided within a few seconds. The fix logs each decision on the coordinator's disk before
//! sending it, and has blocked participants ask the coordinator; a coordinator that finds no
//! decision for a transaction logs and answers abort (presumed abort).
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
        sim.node(name, move || participant(disk.clone(), fixed))?;
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
    // In memory only: the votes of transactions in progress, and (in the buggy variant) the
    // decisions too. Lost in a crash.
    let mut votes: BTreeMap<u64, (BTreeSet<SocketAddr>, SocketAddr)> = BTreeMap::new();
    let mut memory: BTreeMap<u64, u8> = BTreeMap::new();
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
                let decided = if fixed { log.borrow().get(&txn).copied() } else { memory.get(&txn).copied() };
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
                            if fixed {
                                log.borrow_mut().insert(txn, COMMIT); // on disk before anyone hears it
                            } else {
                                memory.insert(txn, COMMIT);
                            }
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
                            log.borrow_mut().insert(txn, ABORT);
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

async fn participant(disk: Rc<RefCell<Participant>>, fixed: bool) -> io::Result<()> {
    let socket = UdpSocket::bind(("0.0.0.0", PORT)).await?;
    let coord = wire::addr("coord", PORT);
    let mut buf = [0u8; 64];
    loop {
        let ask = Instant::now() + Duration::from_millis(300);
        match time::timeout_at(ask, socket.recv_from(&mut buf)).await {
            Err(_) if fixed => {
                // Blocked transactions ask the coordinator for their decision.
                let blocked: Vec<u64> = disk.borrow().prepared.iter().copied().collect();
                for txn in blocked {
                    socket.send_to(&wire::encode(QUERY, txn, 0, 0), coord).await?;
                }
            }
            Err(_) => {} // BUG: a blocked participant only waits
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
