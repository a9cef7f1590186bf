//! A replicated log of entries on three replicas, written through a primary that clients
//! fail over from when it stops answering.
//!
//! The fixed variant acknowledges an entry once a majority (the primary and one backup) has
//! it on disk, so it survives any single crash and any failover: every acknowledged entry is
//! in every majority's logs. The planted bug (`fixed == false`) is a write-behind buffer: the
//! primary acknowledges as soon as the entry is in memory and flushes it to disk and to the
//! backups a little later. A crash in between loses an acknowledged write; the client fails
//! over to another replica, and the final read finds the entry gone.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

#[path = "../support/wire.rs"]
mod wire;

use seedsim::net::UdpSocket;
use seedsim::time::{self, Instant};
use seedsim::{Builder, Error, Sim};

const REPLICAS: [&str; 3] = ["r1", "r2", "r3"];
const PORT: u16 = 7000;
const WRITES: u64 = 30;

const WRITE: u8 = 1;
const ACK: u8 = 2;
const REPLICATE: u8 = 3;
const REPLICATED: u8 = 4;
const READ: u8 = 5;
/// One entry of a replica's log, with how many it has in all (0 for an empty log).
const ENTRY: u8 = 6;

pub fn builder() -> Builder {
    Sim::builder().time_limit(Duration::from_secs(120))
}

type Log = Rc<RefCell<BTreeSet<u64>>>;

pub fn scenario(sim: &mut Sim, fixed: bool) -> Result<(), Error> {
    for name in REPLICAS {
        let disk: Log = Rc::default();
        sim.node(name, move || replica(disk.clone(), fixed))?;
    }
    sim.client("writer", writer())?;
    Ok(())
}

async fn replica(disk: Log, fixed: bool) -> io::Result<()> {
    let socket = Rc::new(UdpSocket::bind(("0.0.0.0", PORT)).await?);
    let me = socket.local_addr()?;
    let peers: Vec<SocketAddr> = REPLICAS.iter().map(|n| wire::addr(n, PORT)).filter(|a| *a != me).collect();
    // Entries acknowledged but not yet on disk (the buggy variant's write-behind buffer), and
    // entries waiting for a backup's copy before their client is acknowledged (the fixed one).
    let buffer: Rc<RefCell<Vec<u64>>> = Rc::default();
    let waiting: Rc<RefCell<Vec<(u64, u64, SocketAddr)>>> = Rc::default();
    let flusher = {
        let (socket, disk, buffer, waiting, peers) =
            (socket.clone(), disk.clone(), buffer.clone(), waiting.clone(), peers.clone());
        seedsim::task::spawn(async move {
            loop {
                time::sleep(Duration::from_millis(40)).await;
                let flushed: Vec<u64> = buffer.borrow_mut().drain(..).collect();
                disk.borrow_mut().extend(flushed.iter().copied());
                let unreplicated: Vec<u64> = flushed.into_iter().chain(waiting.borrow().iter().map(|w| w.1)).collect();
                for value in unreplicated {
                    for peer in &peers {
                        socket.send_to(&wire::encode(REPLICATE, 0, value, 0), peer).await?;
                    }
                }
            }
            #[allow(unreachable_code)]
            Ok::<(), io::Error>(())
        })
    };
    let mut buf = [0u8; 64];
    loop {
        let (len, from) = socket.recv_from(&mut buf).await?;
        let Some((tag, id, value, _)) = wire::decode(&buf[..len]) else { continue };
        match tag {
            WRITE if fixed => {
                disk.borrow_mut().insert(value);
                waiting.borrow_mut().push((id, value, from));
                for peer in &peers {
                    socket.send_to(&wire::encode(REPLICATE, 0, value, 0), peer).await?;
                }
            }
            WRITE => {
                buffer.borrow_mut().push(value); // BUG: acknowledged before it is anywhere durable
                socket.send_to(&wire::encode(ACK, id, value, 0), from).await?;
            }
            REPLICATE => {
                disk.borrow_mut().insert(value);
                socket.send_to(&wire::encode(REPLICATED, 0, value, 0), from).await?;
            }
            REPLICATED => {
                let done: Vec<(u64, u64, SocketAddr)> = {
                    let mut waiting = waiting.borrow_mut();
                    let (done, rest) = waiting.drain(..).partition(|w| w.1 == value);
                    *waiting = rest;
                    done
                };
                for (id, value, client) in done {
                    socket.send_to(&wire::encode(ACK, id, value, 0), client).await?;
                }
            }
            READ => {
                let entries: Vec<u64> = disk.borrow().iter().copied().collect();
                let total = entries.len() as u64;
                for entry in entries {
                    socket.send_to(&wire::encode(ENTRY, id, entry, total), from).await?;
                }
                if total == 0 {
                    socket.send_to(&wire::encode(ENTRY, id, 0, 0), from).await?;
                }
            }
            _ => {}
        }
        if flusher.is_finished() {
            return Err(io::Error::other("the flusher stopped"));
        }
    }
}

/// Writes entries through a primary, failing over when it stops answering; after the faults
/// end, reads a majority's logs and checks every acknowledged entry is there.
async fn writer() -> Result<(), String> {
    let socket = UdpSocket::bind("0.0.0.0:0").await.map_err(|e| e.to_string())?;
    let replicas: Vec<SocketAddr> = REPLICAS.iter().map(|n| wire::addr(n, PORT)).collect();
    let mut primary = 0;
    let mut acknowledged = Vec::new();
    let mut buf = [0u8; 64];
    for value in 1..=WRITES {
        'retry: loop {
            socket
                .send_to(&wire::encode(WRITE, value, value, 0), replicas[primary])
                .await
                .map_err(|e| e.to_string())?;
            let deadline = Instant::now() + Duration::from_millis(150);
            while let Ok(received) = time::timeout_at(deadline, socket.recv_from(&mut buf)).await {
                let (len, _) = received.map_err(|e| e.to_string())?;
                if let Some((ACK, id, _, _)) = wire::decode(&buf[..len]) {
                    if id == value {
                        break 'retry;
                    }
                }
            }
            primary = (primary + 1) % replicas.len(); // fail over
        }
        acknowledged.push(value);
        time::sleep(Duration::from_millis(100)).await;
    }
    // Read whole logs from a majority. A replica has answered when every entry of its log
    // arrived (each carries the log's length), so a lost datagram means asking again, not a
    // lost write.
    let mut logs: Vec<(BTreeSet<u64>, Option<u64>)> = vec![(BTreeSet::new(), None); replicas.len()];
    let complete = |log: &(BTreeSet<u64>, Option<u64>)| log.1.is_some_and(|total| log.0.len() as u64 == total);
    let mut read_id = 1_000_000;
    while logs.iter().filter(|log| complete(log)).count() < 2 {
        read_id += 1;
        for (index, replica) in replicas.iter().enumerate() {
            if !complete(&logs[index]) {
                logs[index] = (BTreeSet::new(), None);
                socket.send_to(&wire::encode(READ, read_id, 0, 0), replica).await.map_err(|e| e.to_string())?;
            }
        }
        let deadline = Instant::now() + Duration::from_millis(200);
        while let Ok(received) = time::timeout_at(deadline, socket.recv_from(&mut buf)).await {
            let (len, from) = received.map_err(|e| e.to_string())?;
            let Some((ENTRY, id, value, total)) = wire::decode(&buf[..len]) else { continue };
            let Some(index) = replicas.iter().position(|r| *r == from) else { continue };
            if id == read_id && !complete(&logs[index]) {
                if total > 0 {
                    logs[index].0.insert(value);
                }
                logs[index].1 = Some(total);
            }
        }
    }
    let seen: BTreeSet<u64> = logs.iter().filter(|log| complete(log)).flat_map(|log| log.0.iter().copied()).collect();
    for value in acknowledged {
        if !seen.contains(&value) {
            return Err(format!("acknowledged write {value} is lost: no replica of a majority has it"));
        }
    }
    Ok(())
}
