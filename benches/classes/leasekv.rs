//! leasekv: a register on three nodes, written through a lease holder that serves reads
//! locally while its lease lasts (the leader-lease read optimisation of Chubby, Spanner and
//! etcd).
//!
//! **Protocol.** A node becomes the lease holder by asking every node for a lease in a new
//! epoch (voting for itself): a node grants it unless it has promised a live lease to someone
//! else or has seen a higher epoch, and promises not to grant another for `LEASE` (4 s) on its
//! own clock, counted from when the request arrived. The holder's lease runs from when it
//! *sent* the request, so it ends first; it renews every second. A node campaigns only when it
//! has no live promise and has not heard from a holder for 2 s (in a quiet start `n1` goes
//! first). A new holder adopts the newest state among its grants (any majority meets the last
//! write's) and writes it back under its epoch before serving. Writes go through the holder,
//! which stamps them `(epoch, version)` and acknowledges once a majority accepted; a node
//! rejects writes of an epoch older than it has promised, so a deposed holder cannot write.
//! Reads are answered by the holder from memory, without a round trip, while its lease lasts.
//! Client sessions carry request numbers, kept in the replicated state, so a retried write is
//! applied once. Every deadline is a timer started when the lease starts
//! (`Sleep::is_elapsed`), so a stepped clock does not move it; only the clock's rate does.
//! Durable state (epoch promised, register) lives in the `Rc` the factory captures; a
//! restarted node that had promised a lease honours it for a whole lease. Client `c1` (an
//! operator) writes and reads; `c2` and `c3` (services reading their configuration) only read,
//! each from the node that answered it last, trying the others on a redirect or after 100 ms.
//!
//! **Bug class:** leases and clock drift. **Planted bug** (`fixed == false`, in
//! [`holder_lease`]): the holder trusts its lease for the full `LEASE`, the same length the
//! grantors promise. With true clocks that is safe (the holder starts counting earlier), but
//! clocks drift: a holder whose clock runs 5% slow keeps serving reads 200 ms after the
//! grantors' promises ran out and a new holder accepted writes, so its reads are stale.
//! **Fix:** the holder trusts only `3/4` of the lease, safe for relative drift up to 14%.
//!
//! **Check.** Clients record every read and write in a history, checked at the end by
//! seedsim's linearizability checker against a register model, which knows nothing of
//! leases. Progress: every operation must be answered by 8 s after the workload (15 s), and
//! after the workload, with the faults over, each client completes three more.
//!
//! **Exposed by** a holder with a slow clock (drift of a few percent) that is cut off from the
//! other nodes but not from the clients, so its lease runs out at the others while it still
//! answers reads.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::rc::Rc;
use std::task::Poll;
use std::time::Duration;

use seedsim::check::{self, Recorder, Register, RegisterInput, RegisterOutput, Verdict};
use seedsim::net::UdpSocket;
use seedsim::rand::RngExt;
use seedsim::time::{self, Sleep};
use seedsim::{Builder, Error, Sim};

/// `n1` (the first holder) runs 5% slow and the other two 5% fast; at 3 s `n1` is cut off
/// from them, while the clients still reach everyone.
pub const WITNESS: &str = "\
0s skew n1 +0s drift -50000ppm
0s skew n2 +0s drift 50000ppm
0s skew n3 +0s drift 50000ppm
3s partition n1 | n2,n3
9s repair n1 | n2,n3
10s recover
";

const NODES: [&str; 3] = ["n1", "n2", "n3"];
const MAJORITY: usize = 2;
const CLIENTS: [&str; 3] = ["c1", "c2", "c3"];
const PORT: u16 = 7200;
const LEASE: Duration = Duration::from_secs(4);
const RENEW: Duration = Duration::from_secs(1);
/// How long a lease round waits for grants.
const ROUND: Duration = Duration::from_millis(100);
/// A node that heard from a holder this recently does not campaign.
const HEARD: Duration = Duration::from_secs(2);
const STAGGER: Duration = Duration::from_millis(200);
const TICK: Duration = Duration::from_millis(50);
const RESEND: Duration = Duration::from_millis(50);
const ATTEMPT: Duration = Duration::from_millis(100);
const WORKLOAD: Duration = Duration::from_secs(15);
const FINAL: Duration = Duration::from_secs(8);
const FINAL_OPS: usize = 3;

const LEASE_REQ: u8 = 1;
const GRANT: u8 = 2;
const REJECT: u8 = 3;
const ACCEPT: u8 = 4;
const ACCEPTED: u8 = 5;
const NACK: u8 = 6;
const GET: u8 = 7;
const PUT: u8 = 8;
const GOT: u8 = 9;
const PUT_OK: u8 = 10;
const REDIRECT: u8 = 11;

const NOBODY: usize = usize::MAX;

type History = Recorder<RegisterInput<u64>, RegisterOutput<u64>>;

pub fn builder() -> Builder {
    Sim::builder().time_limit(Duration::from_secs(60))
}

/// How long the holder trusts a lease, counted from when it asked for it.
fn holder_lease(fixed: bool) -> Duration {
    if fixed {
        LEASE * 3 / 4
    } else {
        LEASE // BUG: no margin for the holder's clock running slower than the grantors'
    }
}

pub fn scenario(sim: &mut Sim, fixed: bool) -> Result<(), Error> {
    for (index, name) in NODES.iter().enumerate() {
        let disk = Rc::new(RefCell::new(Durable { promised_epoch: 0, promised_to: NOBODY, state: State::default() }));
        sim.node(name, move || node(index, disk.clone(), holder_lease(fixed)))?;
    }
    let history = History::new();
    let running = Rc::new(Cell::new(CLIENTS.len()));
    for (index, name) in CLIENTS.iter().enumerate() {
        let (history, running) = (history.clone(), running.clone());
        sim.client(name, async move {
            let outcome = client(index as u64, history.clone()).await;
            running.set(running.get() - 1);
            outcome?;
            if running.get() > 0 {
                return Ok(());
            }
            match check::check(&Register::new(), &history.history()) {
                Verdict::Linearizable => Ok(()),
                verdict => Err(verdict.to_string()),
            }
        })?;
    }
    Ok(())
}

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

/// The replicated state: the register and each client session's last applied request.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct State {
    /// `(epoch, version)`: the newer state has the larger stamp.
    stamp: (u64, u64),
    /// 0 when never written.
    value: u64,
    sessions: [u64; 3],
}

impl State {
    fn words(&self) -> [u64; 6] {
        [self.stamp.0, self.stamp.1, self.value, self.sessions[0], self.sessions[1], self.sessions[2]]
    }

    fn from_words(w: &[u64]) -> State {
        State { stamp: (w[0], w[1]), value: w[2], sessions: [w[3], w[4], w[5]] }
    }
}

/// What a node keeps on disk.
struct Durable {
    promised_epoch: u64,
    promised_to: usize,
    state: State,
}

/// A lease this node promised: to whom, for which epoch, until when on its clock.
struct Promise {
    holder: usize,
    timer: Sleep,
}

/// A round of lease requests: to become the holder, or to renew.
struct Round {
    epoch: u64,
    id: u64,
    /// Runs for the holder's lease from when the requests left.
    lease: Sleep,
    /// Runs for the lease we promise ourselves, if the round succeeds.
    promise: Sleep,
    give_up: Sleep,
    grants: Vec<(usize, State)>,
}

/// A write the holder is replicating.
struct Write {
    seq: u64,
    state: State,
    acks: Vec<usize>,
    resend: Sleep,
    /// The client's address, id and request number, for a client's write.
    origin: Option<(SocketAddr, u64, u64)>,
}

struct Holder {
    epoch: u64,
    lease: Option<Sleep>,
    renew: Sleep,
    /// The state last acknowledged by a majority: what reads return.
    committed: State,
    /// False until the adopted state has been written back under this epoch.
    caught_up: bool,
    writing: Option<Write>,
    queue: VecDeque<(SocketAddr, u64, u64, u64)>,
}

struct Node {
    me: usize,
    socket: UdpSocket,
    peers: Vec<IpAddr>,
    disk: Rc<RefCell<Durable>>,
    hold: Duration,
    promise: Option<Promise>,
    round: Option<Round>,
    holder: Option<Holder>,
    seen_epoch: u64,
    next_id: u64,
    hint: usize,
    /// Runs from when we last heard from a holder (a write or a renewal).
    heard: Option<Sleep>,
}

async fn node(me: usize, disk: Rc<RefCell<Durable>>, hold: Duration) -> io::Result<()> {
    let socket = UdpSocket::bind(("0.0.0.0", PORT)).await?;
    let peers = NODES.iter().map(|name| seedsim::net::lookup(name).expect("a node")).collect();
    // After a restart we may have promised a lease we no longer remember the end of: honour
    // it for a whole lease.
    let (epoch, promised_to) = (disk.borrow().promised_epoch, disk.borrow().promised_to);
    let promise = (promised_to != NOBODY).then(|| Promise { holder: promised_to, timer: time::sleep(LEASE) });
    let mut node = Node {
        me,
        socket,
        peers,
        disk,
        hold,
        promise,
        round: None,
        holder: None,
        seen_epoch: epoch,
        next_id: 0,
        hint: NOBODY,
        // In a quiet start, n1 campaigns first: the preferred holder.
        heard: Some(time::sleep(STAGGER * me as u32)),
    };
    let mut rng = seedsim::rand::rng();
    let mut buf = vec![0u8; 512];
    let mut tick = time::sleep(TICK);
    loop {
        match recv_or(&node.socket, &mut buf, &mut tick).await? {
            Some((len, from)) => {
                if let Some((tag, words)) = decode(&buf[..len]) {
                    node.handle(tag, &words, from).await?;
                }
            }
            None => {
                tick = time::sleep(TICK);
                node.tick(rng.random_bool(0.5)).await?;
            }
        }
    }
}

impl Node {
    fn peer_index(&self, from: SocketAddr) -> Option<usize> {
        self.peers.iter().position(|ip| *ip == from.ip()).filter(|_| from.port() == PORT)
    }

    async fn send(&self, to: usize, tag: u8, words: &[u64]) -> io::Result<()> {
        self.socket.send_to(&encode(tag, words), SocketAddr::new(self.peers[to], PORT)).await?;
        Ok(())
    }

    fn promise_live(&self) -> Option<usize> {
        self.promise.as_ref().filter(|p| !p.timer.is_elapsed()).map(|p| p.holder)
    }

    fn lease_valid(&self) -> bool {
        self.holder.as_ref().is_some_and(|h| h.caught_up && h.lease.as_ref().is_some_and(|l| !l.is_elapsed()))
    }

    /// Ask the others for the lease of `epoch` (voting for ourselves).
    async fn start_round(&mut self, epoch: u64) -> io::Result<()> {
        self.next_id += 1;
        let (lease, promise) = (time::sleep(self.hold), time::sleep(LEASE));
        {
            let mut disk = self.disk.borrow_mut();
            disk.promised_epoch = epoch;
            disk.promised_to = self.me;
        }
        let own = self.disk.borrow().state;
        let give_up = time::sleep(ROUND);
        self.round = Some(Round { epoch, id: self.next_id, lease, promise, give_up, grants: vec![(self.me, own)] });
        for peer in 0..NODES.len() {
            if peer != self.me {
                self.send(peer, LEASE_REQ, &[epoch, self.next_id]).await?;
            }
        }
        Ok(())
    }

    async fn tick(&mut self, campaign: bool) -> io::Result<()> {
        if self.round.as_ref().is_some_and(|r| r.give_up.is_elapsed()) {
            self.round = None;
        }
        if let Some(holder) = &mut self.holder {
            if holder.renew.is_elapsed() && self.round.is_none() {
                holder.renew = time::sleep(RENEW);
                let epoch = holder.epoch;
                self.start_round(epoch).await?;
            }
            self.resend_write().await?;
        } else if self.round.is_none()
            && self.promise_live().is_none()
            && self.heard.as_ref().is_none_or(Sleep::is_elapsed)
            && campaign
        {
            let epoch = self.seen_epoch.max(self.disk.borrow().promised_epoch) + 1;
            self.seen_epoch = epoch;
            self.start_round(epoch).await?;
        }
        Ok(())
    }

    async fn resend_write(&mut self) -> io::Result<()> {
        let Some(holder) = &mut self.holder else { return Ok(()) };
        let Some(write) = &mut holder.writing else { return Ok(()) };
        if !write.resend.is_elapsed() {
            return Ok(());
        }
        write.resend = time::sleep(RESEND);
        let mut words = vec![holder.epoch, write.seq];
        words.extend_from_slice(&write.state.words());
        let missing: Vec<usize> = (0..NODES.len()).filter(|p| *p != self.me && !write.acks.contains(p)).collect();
        for peer in missing {
            self.send(peer, ACCEPT, &words).await?;
        }
        Ok(())
    }

    fn step_down(&mut self, epoch: u64) {
        self.seen_epoch = self.seen_epoch.max(epoch);
        if self.holder.as_ref().is_some_and(|h| h.epoch < epoch) {
            self.holder = None;
            self.round = None;
            // We serve nothing any more, so our promise to ourselves protects nothing.
            if self.promise.as_ref().is_some_and(|p| p.holder == self.me) {
                self.promise = None;
            }
        }
    }

    /// Start replicating `state` under the holder's epoch.
    async fn write(&mut self, state: State, origin: Option<(SocketAddr, u64, u64)>) -> io::Result<()> {
        let Some(holder) = &mut self.holder else { return Ok(()) };
        {
            let mut disk = self.disk.borrow_mut();
            if state.stamp > disk.state.stamp {
                disk.state = state;
            }
        }
        self.next_id += 1;
        holder.writing =
            Some(Write { seq: self.next_id, state, acks: Vec::new(), resend: time::sleep(Duration::ZERO), origin });
        self.resend_write().await
    }

    /// Start the next queued client write, if none is running.
    async fn next_write(&mut self) -> io::Result<()> {
        loop {
            let Some(holder) = &mut self.holder else { return Ok(()) };
            if holder.writing.is_some() || !holder.caught_up {
                return Ok(());
            }
            let Some((from, client, request, value)) = holder.queue.pop_front() else { return Ok(()) };
            if holder.committed.sessions[client as usize] >= request {
                self.socket.send_to(&encode(PUT_OK, &[request]), from).await?;
                continue; // applied already: a retry
            }
            let mut state = holder.committed;
            state.stamp = (holder.epoch, state.stamp.1 + 1);
            state.value = value;
            state.sessions[client as usize] = request;
            return self.write(state, Some((from, client, request))).await;
        }
    }

    async fn handle(&mut self, tag: u8, w: &[u64], from: SocketAddr) -> io::Result<()> {
        match (tag, self.peer_index(from)) {
            (LEASE_REQ, Some(peer)) if w.len() == 2 => {
                let (epoch, id) = (w[0], w[1]);
                let promised = self.disk.borrow().promised_epoch;
                let same_holder = self.disk.borrow().promised_to == peer && epoch == promised;
                let busy = self.promise_live().is_some_and(|holder| holder != peer)
                    || self.round.as_ref().is_some_and(|round| round.epoch >= epoch);
                if busy || (epoch <= promised && !same_holder) {
                    return self.send(peer, REJECT, &[epoch, id, promised.max(self.seen_epoch)]).await;
                }
                {
                    let mut disk = self.disk.borrow_mut();
                    disk.promised_epoch = epoch;
                    disk.promised_to = peer;
                }
                self.seen_epoch = self.seen_epoch.max(epoch);
                self.promise = Some(Promise { holder: peer, timer: time::sleep(LEASE) });
                self.hint = peer;
                self.heard = Some(time::sleep(HEARD));
                self.round = None; // a campaign of a lower epoch: it must not win now
                self.step_down(epoch);
                let mut words = vec![epoch, id];
                words.extend_from_slice(&self.disk.borrow().state.words());
                self.send(peer, GRANT, &words).await
            }
            (GRANT, Some(peer)) if w.len() == 8 => {
                let Some(round) = &mut self.round else { return Ok(()) };
                if round.epoch != w[0] || round.id != w[1] || round.grants.iter().any(|(p, _)| *p == peer) {
                    return Ok(());
                }
                round.grants.push((peer, State::from_words(&w[2..])));
                if round.grants.len() < MAJORITY {
                    return Ok(());
                }
                let round = self.round.take().expect("a round");
                self.promise = Some(Promise { holder: self.me, timer: round.promise });
                match &mut self.holder {
                    Some(holder) if holder.epoch == round.epoch => holder.lease = Some(round.lease),
                    _ => {
                        let adopted = round.grants.iter().map(|(_, s)| *s).max_by_key(|s| s.stamp).expect("grants");
                        self.hint = self.me;
                        self.holder = Some(Holder {
                            epoch: round.epoch,
                            lease: Some(round.lease),
                            renew: time::sleep(RENEW),
                            committed: adopted,
                            caught_up: false,
                            writing: None,
                            queue: VecDeque::new(),
                        });
                        // Write the adopted state back under our epoch before serving from it.
                        let state = State { stamp: (round.epoch, 1), ..adopted };
                        self.write(state, None).await?;
                    }
                }
                Ok(())
            }
            (REJECT, Some(_)) if w.len() == 3 => {
                self.step_down(w[2]);
                Ok(())
            }
            (ACCEPT, Some(peer)) if w.len() == 8 => {
                let (epoch, seq) = (w[0], w[1]);
                let promised = self.disk.borrow().promised_epoch;
                if epoch < promised {
                    return self.send(peer, NACK, &[promised, seq]).await;
                }
                let state = State::from_words(&w[2..]);
                {
                    // Only the holder of an epoch writes in it: we know who holds this one.
                    let mut disk = self.disk.borrow_mut();
                    disk.promised_epoch = epoch;
                    disk.promised_to = peer;
                    if state.stamp > disk.state.stamp {
                        disk.state = state;
                    }
                }
                self.hint = peer;
                self.heard = Some(time::sleep(HEARD));
                self.step_down(epoch);
                self.send(peer, ACCEPTED, &[epoch, seq]).await
            }
            (ACCEPTED, Some(peer)) if w.len() == 2 => {
                let Some(holder) = &mut self.holder else { return Ok(()) };
                let Some(write) = &mut holder.writing else { return Ok(()) };
                if holder.epoch != w[0] || write.seq != w[1] || write.acks.contains(&peer) {
                    return Ok(());
                }
                write.acks.push(peer);
                if write.acks.len() + 1 < MAJORITY {
                    return Ok(());
                }
                let write = holder.writing.take().expect("a write");
                holder.committed = write.state;
                holder.caught_up = true;
                if let Some((client, _, request)) = write.origin {
                    self.socket.send_to(&encode(PUT_OK, &[request]), client).await?;
                }
                self.next_write().await
            }
            (NACK, Some(_)) if w.len() == 2 => {
                self.step_down(w[0]);
                Ok(())
            }
            (GET, None) if w.len() == 2 => {
                let request = w[1];
                if self.lease_valid() {
                    let value = self.holder.as_ref().expect("the holder").committed.value;
                    return self.socket.send_to(&encode(GOT, &[request, value]), from).await.map(drop);
                }
                self.redirect(from, request).await
            }
            (PUT, None) if w.len() == 3 && (w[0] as usize) < CLIENTS.len() => {
                let (client, request, value) = (w[0], w[1], w[2]);
                if !self.lease_valid() {
                    return self.redirect(from, request).await;
                }
                let holder = self.holder.as_mut().expect("the holder");
                if holder.committed.sessions[client as usize] >= request {
                    return self.socket.send_to(&encode(PUT_OK, &[request]), from).await.map(drop);
                }
                let running = holder.writing.as_mut().and_then(|wr| wr.origin.as_mut());
                if let Some(origin) = running.filter(|o| o.1 == client && o.2 == request) {
                    origin.0 = from; // a retry of the write in flight
                    return Ok(());
                }
                if !holder.queue.iter().any(|q| q.1 == client && q.2 == request) {
                    holder.queue.push_back((from, client, request, value));
                }
                self.next_write().await
            }
            _ => Ok(()),
        }
    }

    async fn redirect(&self, to: SocketAddr, request: u64) -> io::Result<()> {
        let hint = match self.promise_live() {
            Some(holder) if holder != self.me => holder,
            _ if self.hint != self.me => self.hint,
            _ => NOBODY,
        };
        let hint = if hint == NOBODY { 0 } else { hint as u64 + 1 };
        self.socket.send_to(&encode(REDIRECT, &[request, hint]), to).await?;
        Ok(())
    }
}

/// A client: its socket, the node it talks to, and its request numbers.
struct Client {
    socket: UdpSocket,
    nodes: Vec<IpAddr>,
    target: usize,
    me: u64,
    next_request: u64,
    buf: Vec<u8>,
}

impl Client {
    /// Send a request until a node answers it: the answer's words, or `None` once `stop` has
    /// passed.
    async fn call(&mut self, tag: u8, args: &[u64], stop: &Sleep) -> io::Result<Option<(u8, Vec<u64>)>> {
        self.next_request += 1;
        let request = self.next_request;
        let mut words = vec![self.me, request];
        words.extend_from_slice(args);
        let bytes = encode(tag, &words);
        while !stop.is_elapsed() {
            self.socket.send_to(&bytes, SocketAddr::new(self.nodes[self.target], PORT)).await?;
            let mut attempt = time::sleep(ATTEMPT);
            let mut next = None;
            while let Some((len, _)) = recv_or(&self.socket, &mut self.buf, &mut attempt).await? {
                match decode(&self.buf[..len]) {
                    Some((REDIRECT, w)) if w.len() == 2 && w[0] == request => {
                        next = Some(w[1]);
                        break;
                    }
                    Some((reply @ (GOT | PUT_OK), w)) if w.first() == Some(&request) => return Ok(Some((reply, w))),
                    _ => {}
                }
            }
            self.target = match next {
                Some(hint) if hint > 0 && hint as usize - 1 != self.target => hint as usize - 1,
                Some(_) => {
                    time::sleep(RESEND).await; // nobody knows a holder yet
                    (self.target + 1) % NODES.len()
                }
                None => (self.target + 1) % NODES.len(),
            };
        }
        Ok(None)
    }
}

async fn client(me: u64, history: History) -> Result<(), String> {
    let fail = |err: io::Error| err.to_string();
    let socket = UdpSocket::bind("0.0.0.0:0").await.map_err(fail)?;
    let nodes = NODES.iter().map(|name| seedsim::net::lookup(name).expect("a node")).collect();
    let mut client = Client { socket, nodes, target: 0, me, next_request: 0, buf: vec![0; 512] };
    let mut rng = seedsim::rand::rng();
    let mut written = 0;
    let workload = time::sleep(WORKLOAD);
    // Every operation retries until answered, but no later than this.
    let stop = time::sleep(WORKLOAD + FINAL);
    let mut last = 0;
    while last < FINAL_OPS {
        // c1 (an operator) writes and checks; the others only read (services reading their
        // configuration).
        let write = me == 0 && rng.random_bool(0.7);
        if workload.is_elapsed() {
            last += 1; // after the workload, with the faults over: these must get through
        } else {
            time::sleep(Duration::from_millis(rng.random_range(100..300))).await;
        }
        if !operation(&mut client, &history, write, &mut written, &stop).await? {
            return Err(format!("no progress: c{} got no answer by the end of the run", me + 1));
        }
    }
    Ok(())
}

/// One read or write, recorded: whether it completed.
async fn operation(
    client: &mut Client,
    history: &History,
    write: bool,
    written: &mut u64,
    stop: &Sleep,
) -> Result<bool, String> {
    let (me, fail, record) = (client.me, |e: io::Error| e.to_string(), |e: seedsim::Error| e.to_string());
    if write {
        *written += 1;
        let value = (me + 1) << 32 | *written;
        let op = history.invoke(me, RegisterInput::Write(value));
        return match client.call(PUT, &[value], stop).await.map_err(fail)? {
            Some(_) => history.ok(op, RegisterOutput::Write).map(|()| true).map_err(record),
            None => history.unknown(op).map(|()| false).map_err(record),
        };
    }
    let op = history.invoke(me, RegisterInput::Read);
    match client.call(GET, &[], stop).await.map_err(fail)? {
        Some((_, w)) if w.len() == 2 => {
            history.ok(op, RegisterOutput::Read((w[1] > 0).then_some(w[1]))).map(|()| true).map_err(record)
        }
        _ => history.unknown(op).map(|()| false).map_err(record),
    }
}
