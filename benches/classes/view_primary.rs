//! A primary-backup key-value store with failover by a view service, in the style of the
//! classic primary/backup design taught with a view server (one primary, one backup, views
//! numbered in order).
//!
//! **Protocol.** The view service `vs` keeps the current view `(number, primary, backup)` and
//! changes it: when the primary has not pinged for a second, it promotes the backup and picks
//! an idle replica as the new backup; when the backup is gone, it picks a new one. It changes
//! the view only after the primary has acknowledged the current one, so a new primary always
//! comes from a backup that was in sync. Each replica (`r1`..`r3`) pings `vs` every 100 ms and
//! learns the view from the answer. The primary serves clients' `GET` and `PUT` one at a time:
//! it forwards each operation, with the view number and its position in the log, to the backup,
//! and applies and answers only when the backup has applied it (a forward and its answer name
//! the position and the operation, so a late answer never confirms another operation). A
//! primary that gets a new backup first copies its whole state to it, and acknowledges the view
//! after that; transfers are numbered, so a late copy of an old one never rolls the backup
//! back, and a backup that missed an operation (or holds another at that position) asks for the
//! whole state again. A table of each client's last request (and its answer) is part of the
//! replicated state, so a retried or duplicated request runs once. Clients cache the view, ask
//! `vs` again when the primary says it is not the primary or stops answering, and give up on an
//! operation after 1.5 s. Replica and view state live in an `Rc` that outlives a node's
//! crashes, standing in for a disk synced before every answer.
//!
//! **Bug class:** split brain without fencing.
//!
//! **Planted bug** (`fixed == false`, in `replica`, at the `if fixed && ..` fencing test on a
//! `FORWARD`): the backup applies and acknowledges forwarded operations without checking that
//! the sender is the primary of its current view. A primary cut off from `vs` (but not from
//! its backup and some clients) keeps serving after `vs` promoted the backup: the promoted
//! replica acknowledges the old primary's forwards, so the old primary goes on answering reads
//! from a state that misses writes the new primary acknowledged, and acknowledges writes that
//! the new primary's log never gets.
//!
//! **Fix:** the backup accepts a forward only when it carries the replica's current view
//! number and the replica is that view's backup; otherwise it rejects it, and the old primary
//! tells the client it is not the primary. The view number is the fencing token.
//!
//! **Check:** every client records its operations in a history (invoke, then ok, or unknown
//! when it gave up); the last client to finish runs seedsim's linearizability checker with a
//! key-value model over the whole run, and each client must have at least 5 operations
//! acknowledged.
//!
//! **What exposes it:** a partition that cuts the primary off from `vs` and from some clients
//! but not from the backup or other clients, long enough (over a second) for `vs` to fail
//! over; the cut-off clients move to the new primary while the others stay with the old one.
//! The old primary keeps serving until its forwards hit a position where the new primary's
//! log holds a different operation, so the clients that moved must outpace the ones that
//! stayed.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use seedsim::check::{check, Kv, KvInput, KvOutput, Recorder, Verdict};
use seedsim::net::UdpSocket;
use seedsim::rand::RngExt;
use seedsim::time::{self, Instant};
use seedsim::{Builder, Error, Sim};

const REPLICAS: [&str; 3] = ["r1", "r2", "r3"];
const CLIENTS: [&str; 3] = ["c1", "c2", "c3"];
const KEYS: usize = 3;
const PORT: u16 = 7200;
const PING_EVERY: Duration = Duration::from_millis(100);
/// `vs` takes a replica for dead after this long without a ping.
const DEAD_AFTER: Duration = Duration::from_secs(1);
/// The primary resends a forward or a state transfer after this long without an answer.
const RESEND: Duration = Duration::from_millis(30);
/// A client waits this long for an answer before it sends again.
const CLIENT_WAIT: Duration = Duration::from_millis(100);
/// A client gives up on an operation after this long (its outcome is then unknown).
const CLIENT_GIVE_UP: Duration = Duration::from_millis(1500);
/// Clients work until their clock reads this.
const RUN_FOR: Duration = Duration::from_secs(16);
/// Each client must have at least this many operations acknowledged: a system that refuses
/// work fails. (10 was too many for a few seeds in ten thousand of the default faults, whose
/// outages can last until the recover at 10 s and whose clocks, drifting and stepping, shorten
/// a client's 16 s on its own clock: fewer operations, none of them wrong.)
const ACKED_MIN: usize = 5;

const PING: u8 = 1;
const VIEW: u8 = 2;
const GET_VIEW: u8 = 3;
const REQUEST: u8 = 4;
const REPLY: u8 = 5;
const NOT_PRIMARY: u8 = 6;
const FORWARD: u8 = 7;
const FORWARD_OK: u8 = 8;
const FORWARD_REJECT: u8 = 9;
const FORWARD_GAP: u8 = 10;
const TRANSFER: u8 = 11;
const TRANSFER_OK: u8 = 12;

const OP_GET: u64 = 0;
const OP_PUT: u64 = 1;

/// The primary `r1` is cut off from `vs` and from `c2` and `c3`, but not from its backup `r2`
/// or from `c1`; `vs` fails over to `r2`, `c2` and `c3` follow, `c1` stays with `r1`.
pub const WITNESS: &str = "
    2s  partition r1 | vs,c2,c3
    6s  recover
";

pub fn builder() -> Builder {
    Sim::builder().time_limit(Duration::from_secs(120))
}

pub fn scenario(sim: &mut Sim, fixed: bool) -> Result<(), Error> {
    let views = Rc::new(RefCell::new(ViewState { view: View { num: 1, primary: 1, backup: 2 }, acked: false }));
    sim.node("vs", move || view_service(views.clone()))?;
    for (index, name) in REPLICAS.iter().enumerate() {
        let disk = Rc::new(RefCell::new(Durable::default()));
        sim.node(name, move || replica(index as u64 + 1, disk.clone(), fixed))?;
    }
    let history: Recorder<KvInput<u64, u64>, KvOutput<u64>> = Recorder::new();
    let done = Rc::new(RefCell::new(Done::default()));
    for (index, name) in CLIENTS.iter().enumerate() {
        sim.client(name, client(index as u64 + 1, name, history.clone(), done.clone()))?;
    }
    Ok(())
}

/// A message: a tag and up to 12 words.
fn encode(tag: u8, words: &[u64]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(1 + 8 * words.len());
    bytes.push(tag);
    for word in words {
        bytes.extend_from_slice(&word.to_le_bytes());
    }
    bytes
}

fn decode(bytes: &[u8]) -> Option<(u8, [u64; 12])> {
    let (&tag, rest) = bytes.split_first()?;
    if rest.len() % 8 != 0 || rest.len() > 96 {
        return None;
    }
    let mut words = [0u64; 12];
    for (word, chunk) in words.iter_mut().zip(rest.chunks_exact(8)) {
        *word = u64::from_le_bytes(chunk.try_into().expect("8 bytes"));
    }
    Some((tag, words))
}

fn addr(name: &str) -> SocketAddr {
    SocketAddr::new(seedsim::net::lookup(name).expect("a node of the scenario"), PORT)
}

/// Replica `index` (1-based); 0 means none.
fn replica_addr(index: u64) -> SocketAddr {
    addr(REPLICAS[index as usize - 1])
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct View {
    num: u64,
    primary: u64,
    backup: u64,
}

struct ViewState {
    view: View,
    /// The primary has pinged with this view's number: it knows the view and its backup has
    /// the state.
    acked: bool,
}

async fn view_service(state: Rc<RefCell<ViewState>>) -> io::Result<()> {
    let socket = UdpSocket::bind(("0.0.0.0", PORT)).await?;
    // After a restart every replica gets a fresh grace period.
    let mut last_ping = [Instant::now(); 4];
    let mut buf = [0u8; 128];
    loop {
        if let Ok(received) = time::timeout(PING_EVERY, socket.recv_from(&mut buf)).await {
            let (len, from) = received?;
            match decode(&buf[..len]) {
                Some((PING, [me, acked, ..])) if (1..=3).contains(&me) => {
                    last_ping[me as usize] = Instant::now();
                    let mut state = state.borrow_mut();
                    if me == state.view.primary && acked == state.view.num {
                        state.acked = true;
                    }
                }
                Some((GET_VIEW, _)) => {}
                _ => continue,
            }
            let view = state.borrow().view;
            socket.send_to(&encode(VIEW, &[view.num, view.primary, view.backup]), from).await?;
        }
        let mut state = state.borrow_mut();
        if !state.acked {
            continue;
        }
        let now = Instant::now();
        let alive = |r: u64| r != 0 && now.saturating_duration_since(last_ping[r as usize]) < DEAD_AFTER;
        let view = state.view;
        let idle = (1..=3).find(|&r| r != view.primary && r != view.backup && alive(r)).unwrap_or(0);
        let next = if !alive(view.primary) && alive(view.backup) {
            Some(View { num: view.num + 1, primary: view.backup, backup: idle })
        } else if alive(view.primary) && !alive(view.backup) && idle != 0 {
            Some(View { num: view.num + 1, primary: view.primary, backup: idle })
        } else {
            None
        };
        if let Some(next) = next {
            state.view = next;
            state.acked = false;
        }
    }
}

/// What a replica keeps across crashes (its synced disk).
#[derive(Default)]
struct Durable {
    view: View,
    store: [u64; KEYS],
    /// Operations applied, in log order.
    applied: u64,
    /// Per client: the last request applied and its answer.
    sessions: [(u64, u64); 3],
    /// The (client, request) applied last, to tell a resent forward from a different one
    /// sent with the same position.
    last_op: (u64, u64),
    /// As backup: the (view, transfer) whose state this replica took last, so that a late
    /// copy of a transfer never rolls it back.
    synced: (u64, u64),
    /// As primary: how many state transfers it has started (each has its own number).
    transfers: u64,
}

impl Durable {
    /// Apply operation `index` and return its answer.
    fn apply(&mut self, index: u64, client: u64, seq: u64, op: u64, key: u64, value: u64) -> u64 {
        assert_eq!(index, self.applied + 1, "operations apply in log order");
        let answer = match op {
            OP_PUT => {
                self.store[key as usize] = value;
                0
            }
            _ => self.store[key as usize],
        };
        self.sessions[client as usize - 1] = (seq, answer);
        self.applied = index;
        self.last_op = (client, seq);
        answer
    }

    fn transfer(&self) -> Vec<u64> {
        let mut words = vec![self.view.num, self.transfers, self.applied];
        words.extend_from_slice(&self.store);
        for (seq, answer) in self.sessions {
            words.extend_from_slice(&[seq, answer]);
        }
        words
    }
}

/// A client request waiting for the primary.
#[derive(Clone, Copy, Debug)]
struct Request {
    from: SocketAddr,
    client: u64,
    seq: u64,
    op: u64,
    key: u64,
    value: u64,
}

/// A forward waiting for the backup's acknowledgement.
struct InFlight {
    request: Request,
    view: u64,
    index: u64,
    resend_at: Instant,
    sends: u32,
}

async fn replica(me: u64, disk: Rc<RefCell<Durable>>, fixed: bool) -> io::Result<()> {
    let socket = UdpSocket::bind(("0.0.0.0", PORT)).await?;
    // Whether this replica, as primary, has copied its state to the current view's backup.
    let ready = Rc::new(Cell::new(false));
    drop(seedsim::task::spawn(pinger(me, disk.clone(), ready.clone())));
    let mut pending: VecDeque<Request> = VecDeque::new();
    let mut in_flight: Option<InFlight> = None;
    let mut transfer_at = Instant::now();
    let mut transferring = false;
    let mut buf = [0u8; 128];
    loop {
        let view = disk.borrow().view;
        let primary = view.primary == me;
        if !primary {
            pending.clear();
        }
        if primary && !ready.get() && view.backup == 0 {
            ready.set(true);
        }
        if ready.get() {
            transferring = false;
        }
        // A forward from an earlier view is abandoned: the client will ask again.
        if in_flight.as_ref().is_some_and(|f| f.view != view.num || !primary) {
            in_flight = None;
        }
        if primary && !ready.get() && Instant::now() >= transfer_at {
            if !transferring {
                // A new transfer, numbered above every earlier one of this primary.
                disk.borrow_mut().transfers += 1;
                transferring = true;
            }
            let words = disk.borrow().transfer();
            socket.send_to(&encode(TRANSFER, &words), replica_addr(view.backup)).await?;
            transfer_at = Instant::now() + RESEND;
        }
        if primary && ready.get() && in_flight.is_none() {
            while let Some(request) = pending.pop_front() {
                let (last, answer) = disk.borrow().sessions[request.client as usize - 1];
                if request.seq < last {
                    continue;
                }
                if request.seq == last {
                    socket.send_to(&encode(REPLY, &[request.client, request.seq, answer]), request.from).await?;
                    continue;
                }
                let index = disk.borrow().applied + 1;
                if view.backup == 0 {
                    let r = request;
                    let answer = disk.borrow_mut().apply(index, r.client, r.seq, r.op, r.key, r.value);
                    socket.send_to(&encode(REPLY, &[r.client, r.seq, answer]), r.from).await?;
                    continue;
                }
                in_flight = Some(InFlight { request, view: view.num, index, resend_at: Instant::now(), sends: 0 });
                break;
            }
        }
        if let Some(forward) = in_flight.as_mut() {
            if Instant::now() >= forward.resend_at {
                if forward.sends >= 20 {
                    // The backup is gone: drop the request until the view changes.
                    in_flight = None;
                    continue;
                }
                let r = forward.request;
                let words = [forward.view, forward.index, r.client, r.seq, r.op, r.key, r.value];
                socket.send_to(&encode(FORWARD, &words), replica_addr(view.backup)).await?;
                forward.sends += 1;
                forward.resend_at = Instant::now() + RESEND;
            }
        }
        let wake = match &in_flight {
            Some(forward) => forward.resend_at,
            None if primary && !ready.get() => transfer_at,
            None => Instant::now() + PING_EVERY, // to notice a view the pinger adopted
        };
        let Ok(received) = time::timeout_at(wake, socket.recv_from(&mut buf)).await else { continue };
        let (len, from) = received?;
        let Some((tag, w)) = decode(&buf[..len]) else { continue };
        match tag {
            REQUEST if (1..=3).contains(&w[0]) && (w[3] as usize) < KEYS => {
                let request = Request { from, client: w[0], seq: w[1], op: w[2], key: w[3], value: w[4] };
                if !primary {
                    socket.send_to(&encode(NOT_PRIMARY, &[request.client, request.seq]), from).await?;
                } else if pending.len() < 16 {
                    pending.push_back(request);
                }
            }
            FORWARD if (1..=3).contains(&w[2]) && (w[5] as usize) < KEYS => {
                let [fview, index, client, seq, op, key, value, ..] = w;
                let (answer, words) = {
                    let mut d = disk.borrow_mut();
                    if fixed && (fview != d.view.num || d.view.backup != me) {
                        // Fencing: only the current view's primary may drive this backup.
                        (FORWARD_REJECT, vec![fview, index, d.view.num])
                    } else {
                        let answer = if index == d.applied + 1 {
                            d.apply(index, client, seq, op, key, value);
                            FORWARD_OK
                        } else if index < d.applied || (index == d.applied && d.last_op == (client, seq)) {
                            FORWARD_OK // sent again: already applied
                        } else {
                            FORWARD_GAP // missed operations, or holds another one at this position
                        };
                        (answer, vec![fview, index, client, seq, d.applied])
                    }
                };
                socket.send_to(&encode(answer, &words), from).await?;
            }
            FORWARD_OK => {
                let Some(forward) = in_flight.as_ref() else { continue };
                let r = forward.request;
                // An answer names the operation too: a late answer to an abandoned forward
                // at the same position is not an answer to this one.
                if w[..4] != [forward.view, forward.index, r.client, r.seq] {
                    continue;
                }
                let (r, index) = (forward.request, forward.index);
                in_flight = None;
                if index != disk.borrow().applied + 1 {
                    continue; // the log moved under this forward: the client will ask again
                }
                let answer = disk.borrow_mut().apply(index, r.client, r.seq, r.op, r.key, r.value);
                socket.send_to(&encode(REPLY, &[r.client, r.seq, answer]), r.from).await?;
            }
            FORWARD_REJECT => {
                let Some(forward) = in_flight.as_ref() else { continue };
                if w[0] == forward.view && w[1] == forward.index {
                    // Someone has a newer view: this replica may no longer be the primary.
                    let r = forward.request;
                    in_flight = None;
                    ready.set(false);
                    socket.send_to(&encode(NOT_PRIMARY, &[r.client, r.seq]), r.from).await?;
                }
            }
            FORWARD_GAP => {
                let Some(forward) = in_flight.as_ref() else { continue };
                let r = forward.request;
                if w[..4] == [forward.view, forward.index, r.client, r.seq] {
                    // The backup missed operations: send it the whole state again first.
                    in_flight = None;
                    ready.set(false);
                }
            }
            TRANSFER => {
                let taken = {
                    let mut d = disk.borrow_mut();
                    if w[0] != d.view.num || d.view.backup != me {
                        false // not (yet) this replica's view: the primary sends again
                    } else if (w[0], w[1]) > d.synced {
                        // A newer transfer than any taken: the primary's state replaces ours.
                        d.synced = (w[0], w[1]);
                        d.last_op = (0, 0);
                        d.applied = w[2];
                        d.store.copy_from_slice(&w[3..3 + KEYS]);
                        for (i, session) in d.sessions.iter_mut().enumerate() {
                            *session = (w[3 + KEYS + 2 * i], w[4 + KEYS + 2 * i]);
                        }
                        true
                    } else {
                        // The same transfer again is answered again; a late copy of an
                        // earlier one is ignored: it must never roll the state back.
                        (w[0], w[1]) == d.synced
                    }
                };
                if taken {
                    socket.send_to(&encode(TRANSFER_OK, &[w[0], w[1]]), from).await?;
                }
            }
            TRANSFER_OK => {
                // Against the view now: the pinger may have adopted a newer one meanwhile.
                let d = disk.borrow();
                if d.view.primary == me && (w[0], w[1]) == (d.view.num, d.transfers) {
                    ready.set(true);
                }
            }
            _ => {}
        }
    }
}

/// Pings `vs` and adopts newer views; acknowledges a view as primary only once ready.
async fn pinger(me: u64, disk: Rc<RefCell<Durable>>, ready: Rc<Cell<bool>>) -> io::Result<()> {
    let socket = UdpSocket::bind("0.0.0.0:0").await?;
    let vs = addr("vs");
    let mut buf = [0u8; 128];
    loop {
        let view = disk.borrow().view;
        let acked = if view.primary != me || ready.get() { view.num } else { 0 };
        socket.send_to(&encode(PING, &[me, acked]), vs).await?;
        let deadline = Instant::now() + PING_EVERY;
        while let Ok(received) = time::timeout_at(deadline, socket.recv_from(&mut buf)).await {
            let (len, _) = received?;
            let Some((VIEW, [num, primary, backup, ..])) = decode(&buf[..len]) else { continue };
            let mut d = disk.borrow_mut();
            if num > d.view.num {
                d.view = View { num, primary, backup };
                ready.set(false);
            }
        }
    }
}

/// How many operations each finished client had acknowledged.
#[derive(Default)]
struct Done {
    acked: Vec<(&'static str, usize)>,
}

async fn client(
    me: u64,
    name: &'static str,
    history: Recorder<KvInput<u64, u64>, KvOutput<u64>>,
    done: Rc<RefCell<Done>>,
) -> Result<(), String> {
    let socket = UdpSocket::bind("0.0.0.0:0").await.map_err(|e| e.to_string())?;
    let mut rng = seedsim::rand::rng();
    let mut primary = 1u64;
    let mut buf = [0u8; 128];
    let (mut seq, mut acked) = (0u64, 0usize);
    while Instant::now().since_start() < RUN_FOR {
        seq += 1;
        let key = rng.random_range(0..KEYS as u64);
        let input = if rng.random_bool(0.5) { KvInput::Get(key) } else { KvInput::Put(key, (me << 32) | seq) };
        let (op, value) = match input {
            KvInput::Put(_, value) => (OP_PUT, value),
            _ => (OP_GET, 0),
        };

        let id = history.invoke(me, input);
        let give_up = Instant::now() + CLIENT_GIVE_UP;
        let mut silent = 0;
        let answer = 'answered: loop {
            if Instant::now() >= give_up {
                break None;
            }
            let request = encode(REQUEST, &[me, seq, op, key, value]);
            socket.send_to(&request, replica_addr(primary)).await.map_err(|e| e.to_string())?;
            let deadline = Instant::now() + CLIENT_WAIT;
            let mut refresh = false;
            while let Ok(received) = time::timeout_at(deadline, socket.recv_from(&mut buf)).await {
                let (len, _) = received.map_err(|e| e.to_string())?;
                match decode(&buf[..len]) {
                    Some((REPLY, [c, s, answer, ..])) if c == me && s == seq => break 'answered Some(answer),
                    Some((NOT_PRIMARY, [c, s, ..])) if c == me && s == seq => {
                        refresh = true;
                        break;
                    }
                    _ => {}
                }
            }
            silent += usize::from(!refresh);
            if refresh || silent >= 3 {
                silent = 0;
                socket.send_to(&encode(GET_VIEW, &[]), addr("vs")).await.map_err(|e| e.to_string())?;
                let deadline = Instant::now() + CLIENT_WAIT;
                while let Ok(received) = time::timeout_at(deadline, socket.recv_from(&mut buf)).await {
                    let (len, _) = received.map_err(|e| e.to_string())?;
                    if let Some((VIEW, [_, p, ..])) = decode(&buf[..len]) {
                        if (1..=3).contains(&p) {
                            primary = p;
                        }
                        break;
                    }
                }
            }
        };
        match answer {
            Some(answer) => {
                let output = if op == OP_PUT { KvOutput::Put } else { KvOutput::Get((answer != 0).then_some(answer)) };
                history.ok(id, output).map_err(|e| e.to_string())?;
                acked += 1;
            }
            None => history.unknown(id).map_err(|e| e.to_string())?,
        }
        time::sleep(Duration::from_millis(rng.random_range(100..300))).await;
    }
    let mut done = done.borrow_mut();
    done.acked.push((name, acked));
    if done.acked.len() < CLIENTS.len() {
        return Ok(());
    }
    // The last client to finish judges the whole run: first what clients saw, then progress.
    if let verdict @ (Verdict::NotLinearizable(_) | Verdict::Unknown(_)) = check(&Kv::new(), &history.history()) {
        return Err(verdict.to_string());
    }
    match done.acked.iter().find(|(_, acked)| *acked < ACKED_MIN) {
        Some((name, acked)) => {
            Err(format!("{name}: only {acked} operations acknowledged (at least {ACKED_MIN} expected)"))
        }
        None => Ok(()),
    }
}
