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
//! check is the store's own history: accepted writes must come in token order.

use std::cell::Cell;
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

pub fn scenario(sim: &mut Sim, fixed: bool) -> Result<(), Error> {
    sim.node("locks", lock_server)?;
    sim.node("store", move || store(fixed))?;
    for (index, name) in WORKERS.iter().enumerate() {
        sim.node(name, move || worker(index as u64 + 1))?;
    }
    sim.client("clock", async {
        time::sleep(Duration::from_secs(12)).await;
        Ok::<(), io::Error>(())
    })?;
    Ok(())
}

/// Grants the lock to one worker at a time, for a lease, with a growing token.
async fn lock_server() -> io::Result<()> {
    let socket = UdpSocket::bind(("0.0.0.0", PORT)).await?;
    let mut holder: Option<(u64, Instant)> = None; // (token, lease end)
    let mut next_token = 1;
    let mut buf = [0u8; 64];
    loop {
        let (len, from) = socket.recv_from(&mut buf).await?;
        match wire::decode(&buf[..len]) {
            Some((ACQUIRE, worker, _, _)) => {
                let now = Instant::now();
                if holder.is_none_or(|(_, until)| now >= until) {
                    holder = Some((next_token, now + LEASE));
                    socket.send_to(&wire::encode(GRANTED, worker, next_token, 0), from).await?;
                    next_token += 1;
                } else {
                    socket.send_to(&wire::encode(DENIED, worker, 0, 0), from).await?;
                }
            }
            Some((RELEASE, _, token, _)) if holder.is_some_and(|(t, _)| t == token) => holder = None,
            _ => {}
        }
    }
}

/// Accepts writes; with fencing, only writes whose token is not older than the newest seen.
async fn store(fixed: bool) -> io::Result<()> {
    let socket = UdpSocket::bind(("0.0.0.0", PORT)).await?;
    let newest = Rc::new(Cell::new(0u64));
    let mut buf = [0u8; 64];
    loop {
        let (len, from) = socket.recv_from(&mut buf).await?;
        let Some((WRITE, worker, token, _)) = wire::decode(&buf[..len]) else { continue };
        if fixed && token < newest.get() {
            continue; // fenced off: a holder whose lease ran out
        }
        seedsim::assert_always!(token >= newest.get(), "the store accepts writes in lock order");
        seedsim::assert_sometimes!(token > 3, "the lock changed hands a few times");
        newest.set(newest.get().max(token));
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
