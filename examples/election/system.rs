//! Leader election by votes in terms, as Raft elects (Ongaro and Ousterhout, 2014).
//!
//! Five nodes. A node whose election timer runs out starts a new term, votes for itself and
//! asks the others; a node grants one vote per term; a candidate with a majority (three)
//! leads and sends heartbeats. Election safety: at most one leader per term, because two
//! majorities of five share a node and that node votes once per term.
//!
//! The planted bug (`fixed == false`): a node grants its vote to any candidate of its current
//! term without checking whom it already voted for, so when two candidates start the same term
//! (a split vote, which crashes, partitions and lost heartbeats make common), a node votes for
//! both and both can win. The fix grants one vote per term, kept on disk with the term.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::rc::Rc;
use std::time::Duration;

#[path = "../support/wire.rs"]
mod wire;

use seedsim::net::UdpSocket;
use seedsim::rand::RngExt;
use seedsim::time::{self, Instant};
use seedsim::{Builder, Error, Sim};

const NODES: [&str; 5] = ["n1", "n2", "n3", "n4", "n5"];
const MAJORITY: usize = 3;
const PORT: u16 = 7000;
const HEARTBEAT: Duration = Duration::from_millis(50);

const REQUEST_VOTE: u8 = 1;
const VOTE: u8 = 2;
const HEARTBEAT_MSG: u8 = 3;

pub fn builder() -> Builder {
    Sim::builder().time_limit(Duration::from_secs(120))
}

/// What a node keeps on disk (it outlives crashes).
#[derive(Default)]
struct Durable {
    term: u64,
    voted_for: Option<u64>,
}

pub fn scenario(sim: &mut Sim, fixed: bool) -> Result<(), Error> {
    let leaders: Rc<RefCell<BTreeMap<u64, u64>>> = Rc::default();
    for (index, name) in NODES.iter().enumerate() {
        let durable = Rc::new(RefCell::new(Durable::default()));
        let leaders = leaders.clone();
        sim.node(name, move || node(index as u64 + 1, durable.clone(), leaders.clone(), fixed))?;
    }
    sim.client("observer", async {
        time::sleep(Duration::from_secs(15)).await;
        Ok::<(), io::Error>(())
    })?;
    let elected = leaders.clone();
    sim.liveness("a leader is elected", Duration::from_secs(3), move || !elected.borrow().is_empty());
    Ok(())
}

#[derive(PartialEq)]
enum Role {
    Follower,
    Candidate,
    Leader,
}

async fn node(
    me: u64,
    durable: Rc<RefCell<Durable>>,
    leaders: Rc<RefCell<BTreeMap<u64, u64>>>,
    fixed: bool,
) -> io::Result<()> {
    let socket = UdpSocket::bind(("0.0.0.0", PORT)).await?;
    let peers: Vec<(u64, std::net::SocketAddr)> = NODES
        .iter()
        .enumerate()
        .map(|(i, name)| (i as u64 + 1, wire::addr(name, PORT)))
        .filter(|(id, _)| *id != me)
        .collect();
    let mut rng = seedsim::rand::rng();
    let mut role = Role::Follower;
    let mut votes: BTreeSet<u64> = BTreeSet::new();
    // Staggered first timeouts, so a healthy start elects n1 without a contest.
    let mut election_at = Instant::now() + Duration::from_millis(rng.random_range(150..300) + 200 * (me - 1));
    let mut next_send = Instant::now();
    let mut buf = [0u8; 64];
    loop {
        let now = Instant::now();
        if role != Role::Leader && now >= election_at {
            let mut d = durable.borrow_mut();
            d.term += 1;
            d.voted_for = Some(me);
            role = Role::Candidate;
            votes = BTreeSet::from([me]);
            election_at = now + Duration::from_millis(rng.random_range(150..300));
            next_send = now;
        }
        if now >= next_send {
            let term = durable.borrow().term;
            for (id, peer) in &peers {
                match role {
                    Role::Leader => socket.send_to(&wire::encode(HEARTBEAT_MSG, term, me, 0), peer).await?,
                    Role::Candidate if !votes.contains(id) => {
                        socket.send_to(&wire::encode(REQUEST_VOTE, term, me, 0), peer).await?
                    }
                    _ => 0,
                };
            }
            next_send = now + HEARTBEAT;
        }
        let wake = if role == Role::Leader { next_send } else { election_at.min(next_send) };
        let Ok(received) = time::timeout_at(wake, socket.recv_from(&mut buf)).await else { continue };
        let (len, from) = received?;
        let Some((tag, their_term, sender, granted)) = wire::decode(&buf[..len]) else { continue };
        if their_term > durable.borrow().term {
            let mut d = durable.borrow_mut();
            d.term = their_term;
            d.voted_for = None;
            role = Role::Follower;
        }
        let term = durable.borrow().term;
        match tag {
            REQUEST_VOTE => {
                let grant = {
                    let mut d = durable.borrow_mut();
                    let grant = their_term == term && (!fixed || d.voted_for.is_none_or(|v| v == sender)); // BUG when !fixed
                    if grant {
                        d.voted_for = Some(sender);
                    }
                    grant
                };
                if grant {
                    election_at = Instant::now() + Duration::from_millis(rng.random_range(150..300));
                }
                socket.send_to(&wire::encode(VOTE, term, me, u64::from(grant)), from).await?;
            }
            VOTE if role == Role::Candidate && their_term == term && granted == 1 => {
                votes.insert(sender);
                if votes.len() >= MAJORITY {
                    role = Role::Leader;
                    next_send = Instant::now();
                    let previous = leaders.borrow_mut().insert(term, me);
                    seedsim::assert_always!(previous.is_none_or(|p| p == me), "at most one leader per term");
                    seedsim::assert_sometimes!(term > 1, "a later term elected a leader");
                }
            }
            HEARTBEAT_MSG if their_term == term => {
                if role != Role::Leader {
                    role = Role::Follower;
                }
                election_at = Instant::now() + Duration::from_millis(rng.random_range(150..300));
            }
            _ => {}
        }
    }
}
