//! pbview: a primary-backup key-value store whose views come from a view service.
//!
//! **Protocol.** Three replicas (`p1`, `p2`, `p3`) ping a view service (`vs`) every 200 ms;
//! the service answers with the current view: its number, a primary and a backup. It
//! declares a replica dead after a second without a ping and moves to a new view when the
//! primary or the backup died or an idle replica could become a backup: a dead primary is
//! replaced by the backup, a dead or missing backup by an idle replica. It never changes the
//! view before the primary of the current one has acknowledged it (pinged with its number),
//! and it only ever promotes the backup of the current view: that is what keeps the new
//! primary up to date. A primary first copies its whole state to a new backup (a state
//! transfer), and serves nothing until the backup has it; then it handles one client request
//! at a time, forwarding every write, and checking every read, with the backup, which refuses
//! a request from any view but its own. A deposed primary therefore cannot answer: its
//! backup has moved on. The primary sends its state every tick until the backup confirms it,
//! and again after a restart, so an older copy can arrive after writes were forwarded: what a
//! primary sends its backup carries its view and how many times it has started (counted on
//! its disk), and the backup installs only a transfer newer than the one it holds, and takes
//! writes and read checks only from the primary whose transfer it holds. Clients ask the
//! view service for the primary and retry on a wrong answer or after 150 ms; requests carry
//! session numbers so a retried write is applied once. This is the design of MIT 6.824's
//! primary-backup lab. Replicas and the view service keep their state on disk (the `Rc` each
//! factory captures).
//!
//! **Bug class:** stale reads after failover. **Planted bug** (`fixed == false`, in
//! [`ready_to_ack`]): the primary acknowledges a new view as soon as it learns it, and copies
//! its state to the new backup afterwards. The view service then takes the backup for up to
//! date, and if the primary dies before the copy arrived, it promotes a backup that holds
//! nothing (or old data), which serves reads from it: stale reads, and acknowledged writes
//! gone. **Fix:** acknowledge a view only once its backup has confirmed the state transfer.
//!
//! **Check.** Clients record every operation in a history, checked at the end by seedsim's
//! linearizability checker against a key-value model. Progress: every operation must be
//! answered by 8 s after the workload (15 s), and after the workload, with the faults over,
//! each client completes a write and a read.
//!
//! **Exposed by** a backup that fails (so an idle replica becomes the backup), while the
//! primary cannot reach that new backup for a moment, followed by the primary's crash or
//! isolation before the state transfer got through.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::rc::Rc;
use std::task::Poll;
use std::time::Duration;

use seedsim::check::{self, Kv, KvInput, KvOutput, Recorder, Verdict};
use seedsim::net::UdpSocket;
use seedsim::rand::RngExt;
use seedsim::time::{self, Sleep};
use seedsim::{Builder, Error, Sim};

/// The backup `p2` drops out, so `p3` becomes the backup; `p1` cannot reach `p3` to copy its
/// state, and crashes a little later: `p3` is promoted with nothing.
pub const WITNESS: &str = "\
2s partition p1 | p3
2s isolate p2
3500ms crash p1
10s recover
";

const REPLICAS: [&str; 3] = ["p1", "p2", "p3"];
const CLIENTS: [&str; 3] = ["c1", "c2", "c3"];
const KEYS: u64 = 4;
const PORT: u16 = 7400;
const PING: Duration = Duration::from_millis(200);
const DEAD: Duration = Duration::from_secs(1);
const RESEND: Duration = Duration::from_millis(50);
const ATTEMPT: Duration = Duration::from_millis(150);
const WORKLOAD: Duration = Duration::from_secs(15);
const FINAL: Duration = Duration::from_secs(8);

const PING_VS: u8 = 1;
const VIEW: u8 = 2;
const GET_VIEW: u8 = 3;
const TRANSFER: u8 = 4;
const TRANSFER_OK: u8 = 5;
const FORWARD: u8 = 6;
const FORWARD_OK: u8 = 7;
const CHECK: u8 = 8;
const CHECK_OK: u8 = 9;
const REFUSE: u8 = 10;
const GET: u8 = 11;
const PUT: u8 = 12;
const GOT: u8 = 13;
const PUT_OK: u8 = 14;
const WRONG: u8 = 15;

const NONE: u64 = u64::MAX;

type History = Recorder<KvInput<u64, u64>, KvOutput<u64>>;

pub fn builder() -> Builder {
    Sim::builder().time_limit(Duration::from_secs(60))
}

/// Whether the primary may acknowledge its view to the view service yet.
fn ready_to_ack(transferred: bool, fixed: bool) -> bool {
    if fixed {
        transferred
    } else {
        true // BUG: acknowledges before the backup has the state; the copy follows later
    }
}

pub fn scenario(sim: &mut Sim, fixed: bool) -> Result<(), Error> {
    let vs_disk = Rc::new(Cell::new((View::default(), false)));
    sim.node("vs", move || view_service(vs_disk.clone()))?;
    for (index, name) in REPLICAS.iter().enumerate() {
        let disk: Rc<RefCell<ReplicaDisk>> = Rc::default();
        sim.node(name, move || replica(index as u64, disk.clone(), fixed))?;
    }
    let history = History::new();
    let running = Rc::new(Cell::new(CLIENTS.len()));
    for (index, name) in CLIENTS.iter().enumerate() {
        let (history, running) = (history.clone(), running.clone());
        sim.client(name, async move {
            let outcome = client(index as u64, &history).await;
            running.set(running.get() - 1);
            outcome?;
            if running.get() > 0 {
                return Ok(());
            }
            match check::check(&Kv::new(), &history.history()) {
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

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct View {
    num: u64,
    primary: u64,
    backup: u64,
}

impl Default for View {
    fn default() -> View {
        View { num: 0, primary: NONE, backup: NONE }
    }
}

impl View {
    fn words(&self) -> [u64; 3] {
        [self.num, self.primary, self.backup]
    }
}

/// The view service: its disk holds the view and whether the primary acknowledged it.
async fn view_service(disk: Rc<Cell<(View, bool)>>) -> io::Result<()> {
    let socket = UdpSocket::bind(("0.0.0.0", PORT)).await?;
    let replicas: Vec<IpAddr> = REPLICAS.iter().map(|name| seedsim::net::lookup(name).expect("a replica")).collect();
    // After a restart, give every replica a full period to ping before calling it dead.
    let restarted = disk.get().0.num > 0;
    let mut alive: Vec<Option<Sleep>> = replicas.iter().map(|_| restarted.then(|| time::sleep(DEAD))).collect();
    let mut buf = [0u8; 128];
    let mut tick = time::sleep(PING);
    loop {
        let Some((len, from)) = recv_or(&socket, &mut buf, &mut tick).await? else {
            tick = time::sleep(PING);
            let live: Vec<bool> = alive.iter().map(|a| a.as_ref().is_some_and(|s| !s.is_elapsed())).collect();
            disk.set(next_view(disk.get(), &live));
            continue;
        };
        let (view, acked) = disk.get();
        match decode(&buf[..len]) {
            Some((PING_VS, w)) if w.len() == 1 => {
                let Some(index) = replicas.iter().position(|ip| *ip == from.ip()) else { continue };
                alive[index] = Some(time::sleep(DEAD));
                disk.set((view, acked || (view.primary == index as u64 && w[0] == view.num)));
                socket.send_to(&encode(VIEW, &view.words()), from).await?;
            }
            Some((GET_VIEW, _)) => {
                socket.send_to(&encode(VIEW, &view.words()), from).await?;
            }
            _ => {}
        }
    }
}

/// The view service's decision: the next view and whether it is acknowledged.
fn next_view((view, acked): (View, bool), live: &[bool]) -> (View, bool) {
    let alive = |i: u64| i != NONE && live[i as usize];
    if view.num == 0 {
        return match (0..live.len() as u64).find(|i| alive(*i)) {
            Some(primary) => (View { num: 1, primary, backup: NONE }, false),
            None => (view, acked),
        };
    }
    if !acked {
        return (view, acked); // the primary has not taken this view on yet: wait
    }
    let idle = |exclude: &[u64]| (0..live.len() as u64).find(|i| alive(*i) && !exclude.contains(i)).unwrap_or(NONE);
    let next = if !alive(view.primary) {
        if !alive(view.backup) {
            return (view, acked); // nobody is known to be up to date: wait for the primary
        }
        View { num: view.num + 1, primary: view.backup, backup: idle(&[view.primary, view.backup]) }
    } else if !alive(view.backup) {
        let backup = idle(&[view.primary, view.backup]);
        if backup == NONE && view.backup == NONE {
            return (view, acked);
        }
        View { num: view.num + 1, primary: view.primary, backup }
    } else {
        return (view, acked);
    };
    (next, false)
}

#[derive(Default)]
struct ReplicaDisk {
    view: View,
    data: BTreeMap<u64, u64>,
    /// Each client's last applied write.
    sessions: BTreeMap<u64, u64>,
    /// How many times this replica has started: as primary, it tags what it sends its backup
    /// with this, since one view's primary can restart and transfer its state again.
    starts: u64,
    /// As backup: the view and the primary's start of the state transfer installed last.
    installed: (u64, u64),
}

impl ReplicaDisk {
    /// Apply a client's write, unless it was applied already.
    fn apply(&mut self, client: u64, seq: u64, key: u64, value: u64) {
        if self.sessions.get(&client).is_none_or(|s| *s < seq) {
            self.data.insert(key, value);
            self.sessions.insert(client, seq);
        }
    }

    /// A state transfer's words: the view, our start, how many keys, the keys and values, the
    /// sessions.
    fn transfer(&self, view: u64) -> Vec<u64> {
        let mut words = vec![view, self.starts, self.data.len() as u64];
        words.extend(self.data.iter().flat_map(|(k, v)| [*k, *v]));
        words.extend(self.sessions.iter().flat_map(|(c, s)| [*c, *s]));
        words
    }

    /// Replace the state with a transfer's (its words after the view and the start).
    fn install(&mut self, words: &[u64]) {
        let keys = (words[0] as usize * 2).min(words.len() - 1);
        let (data, sessions) = words[1..].split_at(keys);
        self.data = data.chunks_exact(2).map(|p| (p[0], p[1])).collect();
        self.sessions = sessions.chunks_exact(2).map(|p| (p[0], p[1])).collect();
    }
}

/// A client request waiting at the primary.
#[derive(Clone, Copy)]
struct Request {
    from: SocketAddr,
    put: bool,
    client: u64,
    seq: u64,
    key: u64,
    value: u64,
}

struct Replica {
    me: u64,
    socket: UdpSocket,
    vs: SocketAddr,
    replicas: Vec<IpAddr>,
    disk: Rc<RefCell<ReplicaDisk>>,
    fixed: bool,
    /// As primary: the backup of our view holds our state.
    transferred: bool,
    queue: VecDeque<Request>,
    /// The request being confirmed by the backup, and when to resend.
    running: Option<(Request, Sleep)>,
}

async fn replica(me: u64, disk: Rc<RefCell<ReplicaDisk>>, fixed: bool) -> io::Result<()> {
    let socket = UdpSocket::bind(("0.0.0.0", PORT)).await?;
    let vs = SocketAddr::new(seedsim::net::lookup("vs").expect("the view service"), PORT);
    let replicas = REPLICAS.iter().map(|name| seedsim::net::lookup(name).expect("a replica")).collect();
    disk.borrow_mut().starts += 1;
    let transferred = disk.borrow().view.backup == NONE;
    let mut replica =
        Replica { me, socket, vs, replicas, disk, fixed, transferred, queue: VecDeque::new(), running: None };
    let mut buf = vec![0u8; 2048];
    let mut tick = time::sleep(Duration::ZERO);
    loop {
        match recv_or(&replica.socket, &mut buf, &mut tick).await? {
            Some((len, from)) => {
                if let Some((tag, words)) = decode(&buf[..len]) {
                    replica.handle(tag, &words, from).await?;
                }
            }
            None => {
                tick = time::sleep(PING);
                replica.tick().await?;
            }
        }
    }
}

impl Replica {
    fn view(&self) -> View {
        self.disk.borrow().view
    }

    fn is_primary(&self) -> bool {
        self.view().primary == self.me
    }

    /// How many times we have started: what we tag messages to our backup with.
    fn starts(&self) -> u64 {
        self.disk.borrow().starts
    }

    async fn to_replica(&self, index: u64, tag: u8, words: &[u64]) -> io::Result<()> {
        self.socket.send_to(&encode(tag, words), SocketAddr::new(self.replicas[index as usize], PORT)).await?;
        Ok(())
    }

    async fn tick(&mut self) -> io::Result<()> {
        let view = self.view();
        let ack =
            if self.is_primary() && !ready_to_ack(self.transferred, self.fixed) { view.num - 1 } else { view.num };
        self.socket.send_to(&encode(PING_VS, &[ack]), self.vs).await?;
        if self.is_primary() && !self.transferred {
            // The whole state, to the new backup.
            let words = self.disk.borrow().transfer(view.num);
            self.to_replica(view.backup, TRANSFER, &words).await?;
        }
        self.resend().await
    }

    async fn resend(&mut self) -> io::Result<()> {
        let view = self.view();
        let Some((request, resend)) = &mut self.running else { return Ok(()) };
        if !resend.is_elapsed() {
            return Ok(());
        }
        *resend = time::sleep(RESEND);
        let request = *request;
        let starts = self.starts();
        if request.put {
            let words = [view.num, starts, request.client, request.seq, request.key, request.value];
            self.to_replica(view.backup, FORWARD, &words).await
        } else {
            self.to_replica(view.backup, CHECK, &[view.num, starts, request.client, request.seq]).await
        }
    }

    /// Give up every waiting request: the view changed, the clients will ask the new primary.
    async fn drop_requests(&mut self) -> io::Result<()> {
        let running = self.running.take().map(|(request, _)| request);
        for request in running.into_iter().chain(self.queue.drain(..)).collect::<Vec<_>>() {
            self.socket.send_to(&encode(WRONG, &[request.seq]), request.from).await?;
        }
        Ok(())
    }

    async fn answer(&mut self, request: Request) -> io::Result<()> {
        if request.put {
            self.disk.borrow_mut().apply(request.client, request.seq, request.key, request.value);
            self.socket.send_to(&encode(PUT_OK, &[request.seq]), request.from).await?;
        } else {
            let value = self.disk.borrow().data.get(&request.key).copied();
            let words = [request.seq, value.is_some() as u64, value.unwrap_or(0)];
            self.socket.send_to(&encode(GOT, &words), request.from).await?;
        }
        Ok(())
    }

    /// Serve queued requests, one at a time, each confirmed by the backup if there is one.
    async fn pump(&mut self) -> io::Result<()> {
        while self.running.is_none() && self.is_primary() && self.transferred {
            let Some(request) = self.queue.pop_front() else { return Ok(()) };
            let applied =
                request.put && self.disk.borrow().sessions.get(&request.client).is_some_and(|s| *s >= request.seq);
            if applied || self.view().backup == NONE {
                self.answer(request).await?;
                continue;
            }
            self.running = Some((request, time::sleep(Duration::ZERO)));
            self.resend().await?;
        }
        Ok(())
    }

    async fn adopt(&mut self, view: View) -> io::Result<()> {
        let old = self.view();
        if view.num <= old.num {
            return Ok(());
        }
        self.disk.borrow_mut().view = view;
        self.drop_requests().await?;
        self.transferred = view.backup == NONE;
        self.pump().await
    }

    /// As backup: whether a message from the primary of view `num` is for our view.
    async fn is_our_primary(&mut self, num: u64, from: SocketAddr) -> io::Result<bool> {
        let view = self.view();
        if num == view.num && view.backup == self.me {
            return Ok(true);
        }
        if num < view.num {
            self.socket.send_to(&encode(REFUSE, &[view.num]), from).await?;
        }
        Ok(false)
    }

    /// As backup: whether the state we hold is the one the primary of view `num`, in its
    /// start `starts`, transferred to us.
    fn installed(&self, num: u64, starts: u64) -> bool {
        self.disk.borrow().installed == (num, starts)
    }

    async fn handle(&mut self, tag: u8, w: &[u64], from: SocketAddr) -> io::Result<()> {
        let view = self.view();
        // What a primary sends its backup, and the answers, start with its view and its start.
        let ours = [view.num, self.starts()];
        match tag {
            VIEW if w.len() == 3 => self.adopt(View { num: w[0], primary: w[1], backup: w[2] }).await,
            TRANSFER if w.len() >= 3 && self.is_our_primary(w[0], from).await? => {
                // Only a newer transfer replaces the state. The primary sends one every tick
                // until one is confirmed, and again after a restart: an older one arriving late
                // (delayed, duplicated) would undo the writes forwarded since.
                if (w[0], w[1]) > self.disk.borrow().installed {
                    let mut disk = self.disk.borrow_mut();
                    disk.install(&w[2..]);
                    disk.installed = (w[0], w[1]);
                }
                if !self.installed(w[0], w[1]) {
                    return Ok(());
                }
                self.socket.send_to(&encode(TRANSFER_OK, &w[..2]), from).await.map(drop)
            }
            TRANSFER_OK if w == ours && self.is_primary() => {
                self.transferred = true;
                self.pump().await
            }
            FORWARD if w.len() == 6 && self.is_our_primary(w[0], from).await? && self.installed(w[0], w[1]) => {
                self.disk.borrow_mut().apply(w[2], w[3], w[4], w[5]);
                self.socket.send_to(&encode(FORWARD_OK, &w[..4]), from).await.map(drop)
            }
            CHECK if w.len() == 4 && self.is_our_primary(w[0], from).await? && self.installed(w[0], w[1]) => {
                self.socket.send_to(&encode(CHECK_OK, w), from).await.map(drop)
            }
            FORWARD_OK | CHECK_OK if w.len() == 4 && w.starts_with(&ours) => {
                let Some((request, _)) = self.running else { return Ok(()) };
                if request.client != w[2] || request.seq != w[3] || request.put != (tag == FORWARD_OK) {
                    return Ok(());
                }
                self.running = None;
                self.answer(request).await?;
                self.pump().await
            }
            REFUSE if w.len() == 1 && w[0] > view.num => self.drop_requests().await,
            GET | PUT if w.len() >= 3 => {
                if !self.is_primary() {
                    return self.socket.send_to(&encode(WRONG, &[w[1]]), from).await.map(drop);
                }
                let put = tag == PUT && w.len() == 4;
                let request =
                    Request { from, put, client: w[0], seq: w[1], key: w[2], value: if put { w[3] } else { 0 } };
                let running = self.running.as_ref().map(|(r, _)| (r.client, r.seq));
                if running != Some((request.client, request.seq))
                    && !self.queue.iter().any(|r| r.client == request.client && r.seq == request.seq)
                {
                    self.queue.push_back(request);
                }
                self.pump().await
            }
            _ => Ok(()),
        }
    }
}

struct Client {
    me: u64,
    socket: UdpSocket,
    vs: SocketAddr,
    replicas: Vec<IpAddr>,
    view: View,
    seq: u64,
    buf: Vec<u8>,
}

impl Client {
    /// Ask the view service for the view (once; keep the old one if it does not answer).
    async fn refresh(&mut self) -> io::Result<()> {
        self.socket.send_to(&encode(GET_VIEW, &[]), self.vs).await?;
        let mut wait = time::sleep(ATTEMPT);
        while let Some((len, _)) = recv_or(&self.socket, &mut self.buf, &mut wait).await? {
            if let Some((VIEW, w)) = decode(&self.buf[..len]) {
                if w.len() == 3 && w[0] >= self.view.num {
                    self.view = View { num: w[0], primary: w[1], backup: w[2] };
                }
                return Ok(());
            }
        }
        Ok(())
    }

    /// Send a request to the primary until it answers: its words, or `None` once `stop` has
    /// passed.
    async fn call(&mut self, tag: u8, args: &[u64], stop: &Sleep) -> io::Result<Option<Vec<u64>>> {
        self.seq += 1;
        let seq = self.seq;
        let mut words = vec![self.me, seq];
        words.extend_from_slice(args);
        let bytes = encode(tag, &words);
        let reply = if tag == PUT { PUT_OK } else { GOT };
        while !stop.is_elapsed() {
            if self.view.primary == NONE {
                self.refresh().await?;
                time::sleep(RESEND).await;
                continue;
            }
            let primary = SocketAddr::new(self.replicas[self.view.primary as usize], PORT);
            self.socket.send_to(&bytes, primary).await?;
            let mut attempt = time::sleep(ATTEMPT);
            while let Some((len, _)) = recv_or(&self.socket, &mut self.buf, &mut attempt).await? {
                match decode(&self.buf[..len]) {
                    Some((tag, w)) if tag == reply && w.first() == Some(&seq) => return Ok(Some(w)),
                    Some((WRONG, w)) if w.first() == Some(&seq) => break,
                    _ => {}
                }
            }
            self.refresh().await?;
        }
        Ok(None)
    }
}

async fn client(me: u64, history: &History) -> Result<(), String> {
    let fail = |e: io::Error| e.to_string();
    let record = |e: seedsim::Error| e.to_string();
    let socket = UdpSocket::bind("0.0.0.0:0").await.map_err(fail)?;
    let vs = SocketAddr::new(seedsim::net::lookup("vs").expect("the view service"), PORT);
    let replicas = REPLICAS.iter().map(|name| seedsim::net::lookup(name).expect("a replica")).collect();
    let mut client = Client { me, socket, vs, replicas, view: View::default(), seq: 0, buf: vec![0; 256] };
    let mut rng = seedsim::rand::rng();
    let workload = time::sleep(WORKLOAD);
    let stop = time::sleep(WORKLOAD + FINAL);
    let mut written = 0;
    let mut last = [true, false].into_iter();
    loop {
        let put = if workload.is_elapsed() {
            // After the workload, with the faults over: one more write and read must get through.
            match last.next() {
                Some(put) => put,
                None => break,
            }
        } else {
            time::sleep(Duration::from_millis(rng.random_range(100..300))).await;
            rng.random_bool(0.5)
        };
        let key = rng.random_range(0..KEYS);
        let answered = if put {
            written += 1;
            let value = (me + 1) << 32 | written;
            let op = history.invoke(me, KvInput::Put(key, value));
            let answer = client.call(PUT, &[key, value], &stop).await.map_err(fail)?;
            if answer.is_some() {
                history.ok(op, KvOutput::Put).map_err(record)?;
            }
            answer.is_some()
        } else {
            let op = history.invoke(me, KvInput::Get(key));
            let answer = client.call(GET, &[key], &stop).await.map_err(fail)?;
            if let Some(w) = &answer {
                let value = (w.len() == 3 && w[1] == 1).then(|| w[2]);
                history.ok(op, KvOutput::Get(value)).map_err(record)?;
            }
            answer.is_some()
        };
        if !answered {
            return Err(format!("no progress: c{} got no answer by the end of the run", me + 1));
        }
    }
    Ok(())
}
