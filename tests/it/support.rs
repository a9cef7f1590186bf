//! Shared scenarios: a small gossip world that exercises timers, spawns, datagrams on a
//! lossy link and every kind of fault, so a determinism check over it means something.

use std::io;
use std::rc::Rc;
use std::time::Duration;

use seedsim::net::{Latency, Link, UdpSocket};
use seedsim::rand::RngExt;
use seedsim::time::{interval, sleep};
use seedsim::{task, world, Builder, Error, Ratio, Sim};

pub const GOSSIP_NODES: [&str; 4] = ["n0", "n1", "n2", "n3"];

pub fn ms(millis: u64) -> Duration {
    Duration::from_millis(millis)
}

/// A link with every datagram fault on.
pub fn rough_link() -> Link {
    Link {
        latency: Latency::Uniform { min: ms(1), max: ms(20) },
        loss: Ratio::percent(5).unwrap(),
        duplicate: Ratio::percent(3).unwrap(),
        reorder: Ratio::percent(5).unwrap(),
    }
}

pub fn gossip_builder() -> Builder {
    Sim::builder().link(rough_link())
}

/// Four nodes gossiping on a rough network while a driver client injects faults.
pub fn gossip(sim: &mut Sim) -> Result<(), Error> {
    for (index, name) in GOSSIP_NODES.iter().enumerate() {
        sim.node(name, move || gossip_node(index))?;
    }
    sim.client("driver", driver())?;
    Ok(())
}

async fn gossip_node(index: usize) -> io::Result<()> {
    let socket = Rc::new(UdpSocket::bind("0.0.0.0:5000").await?);
    let receiver = socket.clone();
    let forwarder = task::spawn(async move {
        let mut buf = [0u8; 64];
        let mut rng = seedsim::rand::rng();
        loop {
            let (len, _) = receiver.recv_from(&mut buf).await?;
            if rng.random_ratio(1, 3) {
                let peer = GOSSIP_NODES[rng.random_range(0..GOSSIP_NODES.len())];
                receiver.send_to(&buf[..len], (peer, 5000)).await?;
            }
        }
        #[allow(unreachable_code)]
        Ok::<(), io::Error>(())
    });
    let mut ticks = interval(ms(5 + index as u64));
    let mut rng = seedsim::rand::rng();
    for round in 0u32.. {
        ticks.tick().await;
        let peer = GOSSIP_NODES[rng.random_range(0..GOSSIP_NODES.len())];
        let len = rng.random_range(1..=32);
        socket.send_to(&round.to_le_bytes().repeat(8)[..len], (peer, 5000)).await?;
        if forwarder.is_finished() {
            break;
        }
    }
    Ok(())
}

async fn driver() -> Result<(), Error> {
    let mut rng = seedsim::rand::rng();
    for _ in 0..8 {
        sleep(ms(rng.random_range(10..80))).await;
        let a = GOSSIP_NODES[rng.random_range(0..4)];
        let b = GOSSIP_NODES[rng.random_range(0..4)];
        match rng.random_range(0..7) {
            0 if a != b => world::partition(a, b)?,
            1 if a != b => world::partition_oneway(a, b)?,
            2 => world::bounce(a, ms(rng.random_range(1..50)))?,
            3 => {
                if world::pause(a).is_ok() {
                    let pause = ms(rng.random_range(1..40));
                    drop(task::spawn(async move {
                        sleep(pause).await;
                        let _ = world::resume(a);
                    }));
                }
            }
            4 if a != b => world::clog(a, b, ms(rng.random_range(1..60)))?,
            5 => world::isolate(a)?,
            _ => world::heal_all()?,
        }
    }
    world::heal_all()
}
