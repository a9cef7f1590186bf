//! reconfig: a Raft log on five servers, three of which vote at a time, with an operator
//! who keeps moving the voting set (a rolling migration between machines).
//!
//! **Protocol.** Raft (Ongaro and Ousterhout, 2014): terms, randomized election timeouts
//! (300 to 600 ms; in a quiet start `n1` times out first), votes for candidates whose log is
//! at least as up to date, one leader per term, heartbeats every 150 ms that carry log entries
//! (`AppendEntries` with the previous entry's index and term), and entries committed once a
//! majority of the voting set stores them and they are of the leader's term. All five servers
//! receive the log; only the voting set votes and counts for commitment. The voting set is a
//! configuration entry in the log, and each server uses the latest one in its log, committed
//! or not. The operator asks the leader to move the voting set to a new set of three, which
//! replaces two of the voters each time; the leader commits a no-op of its term first, has
//! at most one configuration change uncommitted at a time, and steps down once it has
//! committed a configuration without itself. Servers that know they are not voters do not
//! campaign, and a server that heard from a leader within the minimum election timeout
//! ignores vote requests (so a removed server cannot disrupt). Clients append values through
//! the leader. Durable state (term, vote, log) lives in the `Rc` each factory captures.
//!
//! **Bug class:** membership change. **Planted bug** (`fixed == false`, in
//! [`next_config`]): the leader moves straight from the old voting set to the new one. Two
//! voting sets that share one server have disjoint majorities (`{n1,n2,n3}` and
//! `{n3,n4,n5}`: `{n1,n2}` and `{n4,n5}`), so while some servers have the new configuration
//! and some still the old, each side can elect a leader and commit different entries at the
//! same index. **Fix:** change one server at a time (add, then remove), each change
//! committed before the next: any majority of a set and any majority of a set that differs by
//! one server intersect (Raft's single-server changes; joint consensus would do as well).
//!
//! **Check.** A commit record kept outside the servers: whenever any server advances its
//! commit index, each newly committed entry is compared with what any server committed at
//! that index before (`assert_always!`: State Machine Safety). Progress: every value and every
//! migration must be committed by 8 s after the workload (15 s); after it, with the faults
//! over, each client commits one more value.
//!
//! **Exposed by** a partition during a migration that separates the leader and the incoming
//! servers from the other old voters, before these have received the new configuration.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::rc::Rc;
use std::task::Poll;
use std::time::Duration;

use seedsim::net::UdpSocket;
use seedsim::rand::RngExt;
use seedsim::time::{self, Sleep};
use seedsim::{Builder, Error, Sim};

/// The first migration (to `{n3,n4,n5}`) starts at 2 s; from just before it until 5 s the
/// leader `n1` and the incoming `n4`, `n5` are cut off from `n2` and `n3`.
pub const WITNESS: &str = "\
1900ms partition n1,n4,n5 | n2,n3
5s repair n1,n4,n5 | n2,n3
10s recover
";

const SERVERS: [&str; 5] = ["n1", "n2", "n3", "n4", "n5"];
const CLIENTS: [&str; 2] = ["c1", "c2"];
/// The voting sets the operator moves through, as bit masks (`n1` is bit 0).
const MIGRATIONS: [u64; 5] = [0b11100, 0b10011, 0b01110, 0b11001, 0b00111];
const INITIAL: u64 = 0b00111;
const PORT: u16 = 7500;
const HEARTBEAT: Duration = Duration::from_millis(150);
const ELECTION_MIN: u64 = 300;
const ELECTION_MAX: u64 = 600;
const ATTEMPT: Duration = Duration::from_millis(200);
const BATCH: usize = 64;
const WORKLOAD: Duration = Duration::from_secs(15);
const FINAL: Duration = Duration::from_secs(8);

const VOTE_REQ: u8 = 1;
const VOTE: u8 = 2;
const APPEND: u8 = 3;
const APPEND_REPLY: u8 = 4;
const PUT: u8 = 5;
const PUT_OK: u8 = 6;
const RECONFIG: u8 = 7;
const RECONFIG_OK: u8 = 8;
const RECONFIG_WAIT: u8 = 9;
const REDIRECT: u8 = 10;

const NOOP: u64 = 0;
const VALUE: u64 = 1;
const CONFIG: u64 = 2;
const NONE: u64 = u64::MAX;

pub fn builder() -> Builder {
    Sim::builder().time_limit(Duration::from_secs(60))
}

/// The next voting set on the way from `current` to `target`.
fn next_config(current: u64, target: u64, fixed: bool) -> u64 {
    if !fixed {
        return target; // BUG: a jump: majorities of `current` and `target` need not intersect
    }
    let add = target & !current;
    if add != 0 {
        return current | (add & add.wrapping_neg()); // add the lowest missing server
    }
    let remove = current & !target;
    current & !(remove & remove.wrapping_neg()) // then remove the lowest extra one
}

pub fn scenario(sim: &mut Sim, fixed: bool) -> Result<(), Error> {
    let committed: Ledger = Rc::default();
    for (index, name) in SERVERS.iter().enumerate() {
        let disk: Rc<RefCell<Disk>> = Rc::new(RefCell::new(Disk { term: 0, voted_for: NONE, log: Vec::new() }));
        let committed = committed.clone();
        sim.node(name, move || server(index, disk.clone(), committed.clone(), fixed))?;
    }
    for (index, name) in CLIENTS.iter().enumerate() {
        sim.client(name, client(index as u64))?;
    }
    sim.client("operator", operator())?;
    Ok(())
}

/// What has been committed at each index, by any server.
type Ledger = Rc<RefCell<BTreeMap<u64, Entry>>>;

fn encode(tag: u8, words: &[u64]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(1 + 8 * words.len());
    bytes.push(tag);
    for word in words {
        bytes.extend_from_slice(&word.to_le_bytes());
    }
    bytes
}

fn decode(bytes: &[u8]) -> Option<(u8, Vec<u64>)> {
    let (&tag, rest) = bytes.split_first()?;
    if rest.len() % 8 != 0 {
        return None;
    }
    Some((tag, rest.chunks_exact(8).map(|w| u64::from_le_bytes(w.try_into().expect("8 bytes"))).collect()))
}

/// Wait for a datagram, or for `timer` to fire (`None`).
async fn recv_or(socket: &UdpSocket, buf: &mut [u8], timer: &mut Sleep) -> io::Result<Option<(usize, SocketAddr)>> {
    let mut recv = std::pin::pin!(socket.recv_from(buf));
    std::future::poll_fn(|cx| {
        if let Poll::Ready(received) = recv.as_mut().poll(cx) {
            return Poll::Ready(received.map(Some));
        }
        if Pin::new(&mut *timer).poll(cx).is_ready() {
            return Poll::Ready(Ok(None));
        }
        Poll::Pending
    })
    .await
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Entry {
    term: u64,
    kind: u64,
    payload: u64,
}

struct Disk {
    term: u64,
    voted_for: u64,
    log: Vec<Entry>,
}

/// The voting set of the log's first `upto` entries: its latest configuration entry.
fn config_of(log: &[Entry], upto: usize) -> u64 {
    log[..upto].iter().rev().find(|e| e.kind == CONFIG).map_or(INITIAL, |e| e.payload)
}

fn majority(config: u64) -> u32 {
    config.count_ones() / 2 + 1
}

enum Role {
    Follower,
    Candidate { votes: u64 },
    Leader(Leader),
}

struct Leader {
    next: [u64; 5],
    matched: [u64; 5],
    /// The index of this term's first entry (its no-op).
    term_start: u64,
    /// Client values waiting to be committed: index, client, request.
    waiting: Vec<(u64, SocketAddr, u64)>,
    target: Option<u64>,
}

struct Server {
    me: usize,
    socket: UdpSocket,
    servers: Vec<IpAddr>,
    disk: Rc<RefCell<Disk>>,
    committed: Ledger,
    fixed: bool,
    role: Role,
    commit: u64,
    timer: Sleep,
    /// Runs for the minimum election timeout from the last word of a leader.
    leader_heard: Option<Sleep>,
    leader_hint: u64,
}

fn election_timeout() -> Duration {
    Duration::from_millis(seedsim::rand::rng().random_range(ELECTION_MIN..ELECTION_MAX))
}

async fn server(me: usize, disk: Rc<RefCell<Disk>>, committed: Ledger, fixed: bool) -> io::Result<()> {
    let socket = UdpSocket::bind(("0.0.0.0", PORT)).await?;
    let servers = SERVERS.iter().map(|name| seedsim::net::lookup(name).expect("a server")).collect();
    // In a quiet start the servers time out in order, so `n1` is the first leader.
    let first = if disk.borrow().term == 0 { Duration::from_millis(150 + 300 * me as u64) } else { election_timeout() };
    let mut server = Server {
        me,
        socket,
        servers,
        disk,
        committed,
        fixed,
        role: Role::Follower,
        commit: 0,
        timer: time::sleep(first),
        leader_heard: None,
        leader_hint: NONE,
    };
    let mut buf = vec![0u8; 4096];
    loop {
        match recv_or(&server.socket, &mut buf, &mut server.timer).await? {
            Some((len, from)) => {
                if let Some((tag, words)) = decode(&buf[..len]) {
                    server.handle(tag, &words, from).await?;
                }
            }
            None => server.timeout().await?,
        }
    }
}

impl Server {
    fn last(&self) -> (u64, u64) {
        let disk = self.disk.borrow();
        (disk.log.len() as u64, disk.log.last().map_or(0, |e| e.term))
    }

    fn term(&self) -> u64 {
        self.disk.borrow().term
    }

    fn config(&self) -> u64 {
        let disk = self.disk.borrow();
        config_of(&disk.log, disk.log.len())
    }

    fn peer(&self, from: SocketAddr) -> Option<usize> {
        self.servers.iter().position(|ip| *ip == from.ip()).filter(|_| from.port() == PORT)
    }

    async fn send(&self, to: usize, tag: u8, words: &[u64]) -> io::Result<()> {
        self.socket.send_to(&encode(tag, words), SocketAddr::new(self.servers[to], PORT)).await?;
        Ok(())
    }

    /// Record newly committed entries, and check them against what any server committed.
    fn commit_to(&mut self, index: u64) {
        let disk = self.disk.borrow();
        let index = index.min(disk.log.len() as u64);
        let mut committed = self.committed.borrow_mut();
        for i in self.commit + 1..=index {
            let entry = disk.log[i as usize - 1];
            let before = *committed.entry(i).or_insert(entry);
            seedsim::assert_always!(before == entry, "two servers committed different entries at one index");
        }
        self.commit = self.commit.max(index);
    }

    fn become_follower(&mut self, term: u64) {
        let mut disk = self.disk.borrow_mut();
        if term > disk.term {
            disk.term = term;
            disk.voted_for = NONE;
        }
        drop(disk);
        if !matches!(self.role, Role::Follower) {
            self.role = Role::Follower;
            self.timer = time::sleep(election_timeout());
        }
    }

    async fn timeout(&mut self) -> io::Result<()> {
        if matches!(self.role, Role::Leader(_)) {
            self.timer = time::sleep(HEARTBEAT);
            return self.replicate().await;
        }
        self.timer = time::sleep(election_timeout());
        if self.config() & (1 << self.me) == 0 {
            return Ok(()); // not a voter: nothing to campaign for
        }
        let term = {
            let mut disk = self.disk.borrow_mut();
            disk.term += 1;
            disk.voted_for = self.me as u64;
            disk.term
        };
        self.role = Role::Candidate { votes: 1 << self.me };
        let (last_index, last_term) = self.last();
        for peer in (0..SERVERS.len()).filter(|p| *p != self.me) {
            self.send(peer, VOTE_REQ, &[term, last_index, last_term]).await?;
        }
        self.count_votes().await
    }

    async fn count_votes(&mut self) -> io::Result<()> {
        let Role::Candidate { votes } = self.role else { return Ok(()) };
        let config = self.config();
        if (votes & config).count_ones() < majority(config) {
            return Ok(());
        }
        let term = self.term();
        let last = {
            let mut disk = self.disk.borrow_mut();
            disk.log.push(Entry { term, kind: NOOP, payload: 0 });
            disk.log.len() as u64
        };
        let mut matched = [0; 5];
        matched[self.me] = last;
        self.role =
            Role::Leader(Leader { next: [last; 5], matched, term_start: last, waiting: Vec::new(), target: None });
        self.leader_hint = self.me as u64;
        self.timer = time::sleep(HEARTBEAT);
        self.replicate().await
    }

    /// Send every other server the entries it is missing (or a heartbeat).
    async fn replicate(&mut self) -> io::Result<()> {
        let Role::Leader(leader) = &self.role else { return Ok(()) };
        let messages: Vec<(usize, Vec<u64>)> = {
            let disk = self.disk.borrow();
            let message = |peer: usize| {
                let next = leader.next[peer].clamp(1, disk.log.len() as u64 + 1);
                let prev_term = if next > 1 { disk.log[next as usize - 2].term } else { 0 };
                let mut words = vec![disk.term, next - 1, prev_term, self.commit];
                for entry in disk.log.iter().skip(next as usize - 1).take(BATCH) {
                    words.extend_from_slice(&[entry.term, entry.kind, entry.payload]);
                }
                (peer, words)
            };
            (0..SERVERS.len()).filter(|p| *p != self.me).map(message).collect()
        };
        for (peer, words) in messages {
            self.send(peer, APPEND, &words).await?;
        }
        Ok(())
    }

    /// As leader: commit what a majority of the voting set stores, answer clients, step down
    /// if removed, and take the next step of a migration.
    async fn leader_progress(&mut self) -> io::Result<()> {
        let term = self.term();
        let Role::Leader(leader) = &mut self.role else { return Ok(()) };
        let (config, last) = {
            let disk = self.disk.borrow();
            (config_of(&disk.log, disk.log.len()), disk.log.len() as u64)
        };
        leader.matched[self.me] = last;
        let mut commit = self.commit;
        for n in (self.commit + 1..=last).rev() {
            let stored = (0..SERVERS.len()).filter(|s| config & (1 << s) != 0 && leader.matched[*s] >= n).count();
            if stored as u32 >= majority(config) && self.disk.borrow().log[n as usize - 1].term == term {
                commit = n;
                break;
            }
        }
        let mut answers = Vec::new();
        leader.waiting.retain(|(index, client, request)| {
            let done = *index <= commit;
            if done {
                answers.push((*client, *request));
            }
            !done
        });
        self.commit_to(commit);
        for (client, request) in answers {
            self.socket.send_to(&encode(PUT_OK, &[request]), client).await?;
        }
        let Role::Leader(leader) = &mut self.role else { return Ok(()) };
        let (config_index, committed_config) = {
            let disk = self.disk.borrow();
            let index = disk.log.iter().rposition(|e| e.kind == CONFIG).map_or(0, |i| i as u64 + 1);
            (index, config_of(&disk.log, self.commit as usize))
        };
        if config_index <= self.commit && committed_config & (1 << self.me) == 0 {
            self.role = Role::Follower; // removed, and the removal is committed
            self.timer = time::sleep(election_timeout());
            return Ok(());
        }
        let ready = config_index <= self.commit && self.commit >= leader.term_start;
        if let Some(target) = leader.target.filter(|t| *t != config && ready) {
            let next = next_config(config, target, self.fixed);
            self.disk.borrow_mut().log.push(Entry { term, kind: CONFIG, payload: next });
            return self.replicate().await;
        }
        Ok(())
    }

    async fn handle(&mut self, tag: u8, w: &[u64], from: SocketAddr) -> io::Result<()> {
        let peer = self.peer(from);
        match (tag, peer) {
            (VOTE_REQ, Some(peer)) if w.len() == 3 => {
                let (term, last_index, last_term) = (w[0], w[1], w[2]);
                if term > self.term() && self.leader_heard.as_ref().is_some_and(|s| !s.is_elapsed()) {
                    return Ok(()); // we have a leader: a removed or partitioned server is campaigning
                }
                if term > self.term() {
                    self.become_follower(term);
                }
                let (my_index, my_term) = self.last();
                let granted = {
                    let mut disk = self.disk.borrow_mut();
                    let free = disk.voted_for == NONE || disk.voted_for == peer as u64;
                    let ok = term == disk.term && free && (last_term, last_index) >= (my_term, my_index);
                    if ok {
                        disk.voted_for = peer as u64;
                    }
                    ok
                };
                if granted {
                    self.timer = time::sleep(election_timeout());
                }
                self.send(peer, VOTE, &[self.term(), granted as u64]).await
            }
            (VOTE, Some(peer)) if w.len() == 2 => {
                if w[0] > self.term() {
                    self.become_follower(w[0]);
                    return Ok(());
                }
                let current = w[0] == self.term() && w[1] == 1;
                if let Role::Candidate { votes } = &mut self.role {
                    if current {
                        *votes |= 1 << peer;
                    }
                }
                self.count_votes().await
            }
            (APPEND, Some(peer)) if w.len() >= 4 && w[4..].chunks_exact(3).remainder().is_empty() => {
                self.append(peer, w).await
            }
            (APPEND_REPLY, Some(peer)) if w.len() == 3 => {
                if w[0] > self.term() {
                    self.become_follower(w[0]);
                    return Ok(());
                }
                let Role::Leader(leader) = &mut self.role else { return Ok(()) };
                if w[0] < self.disk.borrow().term {
                    return Ok(());
                }
                if w[1] == 1 {
                    leader.matched[peer] = leader.matched[peer].max(w[2]);
                    leader.next[peer] = leader.next[peer].max(w[2] + 1);
                    return self.leader_progress().await;
                }
                leader.next[peer] = (leader.next[peer].saturating_sub(1)).min(w[2] + 1).max(1);
                Ok(())
            }
            (PUT, None) if w.len() == 2 => {
                let term = self.term();
                let Role::Leader(leader) = &mut self.role else {
                    return self.socket.send_to(&encode(REDIRECT, &[w[0], self.leader_hint]), from).await.map(drop);
                };
                let index = {
                    let mut disk = self.disk.borrow_mut();
                    disk.log.push(Entry { term, kind: VALUE, payload: w[1] });
                    disk.log.len() as u64
                };
                leader.waiting.push((index, from, w[0]));
                self.leader_progress().await
            }
            (RECONFIG, None) if w.len() == 2 => {
                let Role::Leader(leader) = &mut self.role else {
                    return self.socket.send_to(&encode(REDIRECT, &[w[0], self.leader_hint]), from).await.map(drop);
                };
                leader.target = Some(w[1]);
                let committed = {
                    let disk = self.disk.borrow();
                    let index = disk.log.iter().rposition(|e| e.kind == CONFIG).map_or(0, |i| i as u64 + 1);
                    index <= self.commit && config_of(&disk.log, disk.log.len()) == w[1]
                };
                let reply = if committed { RECONFIG_OK } else { RECONFIG_WAIT };
                self.socket.send_to(&encode(reply, &[w[0]]), from).await?;
                self.leader_progress().await
            }
            _ => Ok(()),
        }
    }

    async fn append(&mut self, peer: usize, w: &[u64]) -> io::Result<()> {
        let (term, prev_index, prev_term, leader_commit) = (w[0], w[1], w[2], w[3]);
        if term < self.term() {
            return self.send(peer, APPEND_REPLY, &[self.term(), 0, 0]).await;
        }
        self.become_follower(term);
        if let Role::Candidate { .. } = self.role {
            self.role = Role::Follower;
        }
        self.leader_hint = peer as u64;
        self.leader_heard = Some(time::sleep(Duration::from_millis(ELECTION_MIN)));
        self.timer = time::sleep(election_timeout());
        let len = self.disk.borrow().log.len() as u64;
        if prev_index > len || (prev_index > 0 && self.disk.borrow().log[prev_index as usize - 1].term != prev_term) {
            // We lack the entry before these: say how far our log goes, so the leader backs up.
            return self.send(peer, APPEND_REPLY, &[term, 0, len.min(prev_index.saturating_sub(1))]).await;
        }
        let matched = {
            let mut disk = self.disk.borrow_mut();
            for (offset, e) in w[4..].chunks_exact(3).enumerate() {
                let entry = Entry { term: e[0], kind: e[1], payload: e[2] };
                let index = prev_index as usize + offset; // zero-based
                match disk.log.get(index) {
                    Some(existing) if *existing == entry => {}
                    Some(_) => {
                        disk.log.truncate(index);
                        disk.log.push(entry);
                    }
                    None => disk.log.push(entry),
                }
            }
            prev_index + (w.len() as u64 - 4) / 3
        };
        self.commit_to(leader_commit.min(matched));
        self.send(peer, APPEND_REPLY, &[term, 1, matched]).await
    }
}

/// Send requests to the servers, following redirects, until one answers with `accept`: the
/// answer's tag, or `None` once `stop` has passed.
async fn ask(
    socket: &UdpSocket,
    servers: &[IpAddr],
    target: &mut usize,
    request: &[u8],
    accept: &[u8],
    stop: &Sleep,
) -> io::Result<Option<u8>> {
    let mut buf = [0u8; 64];
    let id = u64::from_le_bytes(request[1..9].try_into().expect("a request id"));
    while !stop.is_elapsed() {
        socket.send_to(request, SocketAddr::new(servers[*target], PORT)).await?;
        let mut attempt = time::sleep(ATTEMPT);
        let mut hint = None;
        while let Some((len, _)) = recv_or(socket, &mut buf, &mut attempt).await? {
            match decode(&buf[..len]) {
                Some((tag, w)) if accept.contains(&tag) && w.first() == Some(&id) => return Ok(Some(tag)),
                Some((REDIRECT, w)) if w.len() == 2 && w[0] == id => {
                    hint = Some(w[1]);
                    break;
                }
                _ => {}
            }
        }
        *target = match hint {
            Some(leader) if (leader as usize) < servers.len() && leader as usize != *target => leader as usize,
            Some(_) => {
                time::sleep(ATTEMPT / 2).await; // nobody knows a leader yet
                (*target + 1) % servers.len()
            }
            None => (*target + 1) % servers.len(),
        };
    }
    Ok(None)
}

async fn client(me: u64) -> Result<(), String> {
    let fail = |e: io::Error| e.to_string();
    let socket = UdpSocket::bind("0.0.0.0:0").await.map_err(fail)?;
    let servers: Vec<IpAddr> = SERVERS.iter().map(|name| seedsim::net::lookup(name).expect("a server")).collect();
    let mut rng = seedsim::rand::rng();
    let (workload, stop) = (time::sleep(WORKLOAD), time::sleep(WORKLOAD + FINAL));
    let mut target = 0;
    for request in 1u64.. {
        // After the workload, with the faults over, one more value must be committed.
        let last = workload.is_elapsed();
        if !last {
            time::sleep(Duration::from_millis(rng.random_range(100..300))).await;
        }
        let value = (me + 1) << 32 | request;
        let put = encode(PUT, &[request, value]);
        if ask(&socket, &servers, &mut target, &put, &[PUT_OK], &stop).await.map_err(fail)?.is_none() {
            return Err(format!("no progress: c{} had no value committed by the end of the run", me + 1));
        }
        if last {
            break;
        }
    }
    Ok(())
}

async fn operator() -> Result<(), String> {
    let fail = |e: io::Error| e.to_string();
    let socket = UdpSocket::bind("0.0.0.0:0").await.map_err(fail)?;
    let servers: Vec<IpAddr> = SERVERS.iter().map(|name| seedsim::net::lookup(name).expect("a server")).collect();
    let mut rng = seedsim::rand::rng();
    let (workload, stop) = (time::sleep(WORKLOAD), time::sleep(WORKLOAD + FINAL));
    let mut target = 0;
    time::sleep(Duration::from_secs(2)).await;
    for (request, voters) in (1u64..).zip(MIGRATIONS.iter().cycle()) {
        let reconfig = encode(RECONFIG, &[request, *voters]);
        loop {
            match ask(&socket, &servers, &mut target, &reconfig, &[RECONFIG_OK, RECONFIG_WAIT], &stop)
                .await
                .map_err(fail)?
            {
                Some(RECONFIG_OK) => break,
                Some(_) => time::sleep(Duration::from_millis(100)).await,
                None => return Err(format!("no progress: the migration to {voters:05b} never completed")),
            }
        }
        if workload.is_elapsed() {
            break;
        }
        time::sleep(Duration::from_millis(rng.random_range(1500..2500))).await;
    }
    Ok(())
}
