//! A synthetic bug that needs two faults at once, for measuring guided exploration: three
//! servers send each other a heartbeat every 50 ms; each remembers when it last heard each
//! peer and the peer's incarnation (which a restart bumps).
//!
//! The planted bug (`fixed == false`): server `a`'s failure detector breaks when a peer
//! comes back with a new incarnation while another peer is suspected — that is, when `a`
//! hears `c` restarted at a time it has not heard `b` for 300 ms (a partition, an isolation,
//! a clog or lost heartbeats between `a` and `b`, overlapping a crash of `c`). Either fault
//! alone is harmless. The fixed variant does not check.

use std::cell::Cell;
use std::io;
use std::rc::Rc;
use std::time::Duration;

use seedsim::net::UdpSocket;
use seedsim::time::{self, Instant};
use seedsim::{Builder, Error, Sim};

const SERVERS: [&str; 3] = ["a", "b", "c"];
const PORT: u16 = 7100;
const SUSPECT_AFTER: Duration = Duration::from_millis(300);

pub fn builder() -> Builder {
    Sim::builder().time_limit(Duration::from_secs(60))
}

pub fn scenario(sim: &mut Sim, fixed: bool) -> Result<(), Error> {
    for (index, name) in SERVERS.iter().enumerate() {
        let incarnation = Rc::new(Cell::new(0u8));
        sim.node(name, move || {
            incarnation.set(incarnation.get() + 1);
            server(index, incarnation.get(), fixed)
        })?;
    }
    sim.client("clock", async {
        time::sleep(Duration::from_secs(12)).await;
        Ok::<(), io::Error>(())
    })?;
    Ok(())
}

async fn server(me: usize, incarnation: u8, fixed: bool) -> io::Result<()> {
    let socket = UdpSocket::bind(("0.0.0.0", PORT)).await?;
    let mut heard = [Instant::ZERO; 3];
    let mut seen = [0u8; 3];
    let mut next = Instant::now();
    let mut buf = [0u8; 8];
    loop {
        let now = Instant::now();
        if now >= next {
            for (peer, name) in SERVERS.iter().enumerate().filter(|(peer, _)| *peer != me) {
                let _ = peer;
                socket.send_to(&[me as u8, incarnation], (*name, PORT)).await?;
            }
            next = now + Duration::from_millis(50);
        }
        let Ok(received) = time::timeout_at(next, socket.recv_from(&mut buf)).await else { continue };
        let (len, _) = received?;
        if len != 2 || usize::from(buf[0]) >= 3 {
            continue;
        }
        let (peer, their) = (usize::from(buf[0]), buf[1]);
        let now = Instant::now();
        if me == 0 && peer == 2 && seen[2] != 0 && their != seen[2] {
            let b_suspected = now.duration_since(heard[1]) > SUSPECT_AFTER;
            if !fixed {
                seedsim::assert_always!(!b_suspected, "a rejoin while another peer is suspected");
            }
        }
        heard[peer] = now;
        seen[peer] = their;
    }
}
