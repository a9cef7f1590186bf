//! rackstore: a leaderless, quorum-replicated profile store on four replicas in two racks.
//!
//! **Protocol.** Four replicas (`r1`, `r2` in one rack, `r3`, `r4` in the other) each keep a
//! map from key to a versioned value, on disk (the `Rc` the factory captures, standing in for
//! a file synced before every reply). There is no leader: the client library coordinates, as
//! Cassandra's or Voldemort's smart clients do. Each key has one writer (a user's profile is
//! written only by that user's session), which numbers its versions. A write sends
//! `WRITE(key, version, value)` to every replica and succeeds once a write quorum has
//! acknowledged; a read sends `READ(key)` to every replica, waits for a read quorum, takes the
//! highest version, and, if the answers disagree, writes that version back to a quorum before
//! returning it (ABD's read repair, which makes reads linearizable). Requests are resent
//! every 30 ms until the quorum answers; an operation gives up after a second.
//!
//! **Bug class:** quorum intersection. **Planted bug** (`fixed == false`, in [`quorum`]): the
//! quorum is computed as `(n + 1) / 2`, the majority formula that is right for the odd cluster
//! sizes it was written for (2 of 3, 3 of 5) but gives 2 of 4 here. Two quorums of 2 out of 4
//! need not share a replica, so a write acknowledged by one rack and a later read answered by
//! the other never meet: the read returns the old value. **Fix:** `n / 2 + 1` (3 of 4).
//!
//! **Check.** Every client records each operation (invoke, then ok or unknown on give-up) in
//! a shared history, and the last client to finish checks it with seedsim's linearizability
//! checker against a key-value model; the check knows nothing of quorums. Progress is required
//! too: after the workload (15 s), with the faults over, every client must read every key
//! within 5 s.
//!
//! **Exposed by** a partition that splits the replicas two and two, with clients on both
//! sides (the racks losing their link): each side then completes writes and reads on its own.
//! Without faults a read rarely lands in the few milliseconds while a fresh write has reached
//! only two replicas.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
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

/// The racks lose their link for two seconds, with a client on one side and two on the other.
pub const WITNESS: &str = "\
2s partition r1,r2,c1 | r3,r4,c2,c3
4s repair r1,r2,c1 | r3,r4,c2,c3
10s recover
";

const REPLICAS: [&str; 4] = ["r1", "r2", "r3", "r4"];
const CLIENTS: [&str; 3] = ["c1", "c2", "c3"];
const KEYS_PER_CLIENT: u64 = 2;
const PORT: u16 = 7100;
const RESEND: Duration = Duration::from_millis(30);
const GIVE_UP: Duration = Duration::from_secs(1);
const WORKLOAD: Duration = Duration::from_secs(15);
const FINAL_READS: Duration = Duration::from_secs(5);

const READ: u8 = 1;
const READ_OK: u8 = 2;
const WRITE: u8 = 3;
const WRITE_OK: u8 = 4;

type History = Recorder<KvInput<u64, u64>, KvOutput<u64>>;
/// A replica's disk: key to (version, value); version 0 is "never written".
type Disk = Rc<RefCell<BTreeMap<u64, (u64, u64)>>>;

pub fn builder() -> Builder {
    Sim::builder().time_limit(Duration::from_secs(60))
}

/// How many replicas make a quorum, for reads and for writes.
fn quorum(replicas: usize, fixed: bool) -> usize {
    if fixed {
        replicas / 2 + 1
    } else {
        #[allow(clippy::manual_div_ceil)] // the formula as it is usually written
        let majority = (replicas + 1) / 2; // BUG: a majority only for odd sizes; 2 of 4 quorums can be disjoint
        majority
    }
}

pub fn scenario(sim: &mut Sim, fixed: bool) -> Result<(), Error> {
    for name in REPLICAS {
        let disk: Disk = Rc::default();
        sim.node(name, move || replica(disk.clone()))?;
    }
    let history = History::new();
    let running = Rc::new(Cell::new(CLIENTS.len()));
    for (index, name) in CLIENTS.iter().enumerate() {
        let session = Session { me: index as u64, quorum: quorum(REPLICAS.len(), fixed), history: history.clone() };
        let running = running.clone();
        let history = history.clone();
        sim.client(name, async move {
            let outcome = session.run().await;
            running.set(running.get() - 1);
            outcome?;
            if running.get() == 0 {
                return judge(&history);
            }
            Ok(())
        })?;
    }
    Ok(())
}

/// The whole history, judged once every client is done.
fn judge(history: &History) -> Result<(), String> {
    match check::check(&Kv::new(), &history.history()) {
        Verdict::Linearizable => Ok(()),
        verdict => Err(verdict.to_string()),
    }
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

async fn replica(disk: Disk) -> io::Result<()> {
    let socket = UdpSocket::bind(("0.0.0.0", PORT)).await?;
    let mut buf = [0u8; 256];
    loop {
        let (len, from) = socket.recv_from(&mut buf).await?;
        match decode(&buf[..len]) {
            Some((READ, words)) if words.len() == 2 => {
                let (version, value) = disk.borrow().get(&words[1]).copied().unwrap_or((0, 0));
                socket.send_to(&encode(READ_OK, &[words[0], version, value]), from).await?;
            }
            Some((WRITE, words)) if words.len() == 4 => {
                let (request, key, version, value) = (words[0], words[1], words[2], words[3]);
                if disk.borrow().get(&key).is_none_or(|stored| version > stored.0) {
                    disk.borrow_mut().insert(key, (version, value));
                }
                socket.send_to(&encode(WRITE_OK, &[request]), from).await?;
            }
            _ => {}
        }
    }
}

/// One client session: the coordinator of its own operations.
struct Session {
    me: u64,
    quorum: usize,
    history: History,
}

/// What a session needs while it runs.
struct Coordinator {
    socket: UdpSocket,
    replicas: Vec<IpAddr>,
    quorum: usize,
    next_request: u64,
    buf: Vec<u8>,
}

impl Coordinator {
    /// Send a request to every replica (resending to the silent ones) until `quorum` of them
    /// answer it with `reply`: their answers' words after the request id, or `None` on giving up.
    async fn ask(&mut self, tag: u8, reply: u8, args: &[u64]) -> io::Result<Option<Vec<Vec<u64>>>> {
        self.next_request += 1;
        let request = self.next_request;
        let mut words = vec![request];
        words.extend_from_slice(args);
        let bytes = encode(tag, &words);
        let give_up = time::sleep(GIVE_UP);
        let mut answers: Vec<Option<Vec<u64>>> = vec![None; self.replicas.len()];
        loop {
            for (index, ip) in self.replicas.iter().enumerate() {
                if answers[index].is_none() {
                    self.socket.send_to(&bytes, SocketAddr::new(*ip, PORT)).await?;
                }
            }
            let mut resend = time::sleep(RESEND);
            while let Some((len, from)) = recv_or(&self.socket, &mut self.buf, &mut resend).await? {
                let Some((tag, words)) = decode(&self.buf[..len]) else { continue };
                let Some(index) = self.replicas.iter().position(|ip| *ip == from.ip()) else { continue };
                if tag != reply || words.first() != Some(&request) {
                    continue; // an answer to an earlier request
                }
                answers[index] = Some(words[1..].to_vec());
                if answers.iter().flatten().count() >= self.quorum {
                    return Ok(Some(answers.into_iter().flatten().collect()));
                }
            }
            if give_up.is_elapsed() {
                return Ok(None);
            }
        }
    }

    async fn write(&mut self, key: u64, version: u64, value: u64) -> io::Result<bool> {
        Ok(self.ask(WRITE, WRITE_OK, &[key, version, value]).await?.is_some())
    }

    /// The value of `key` (`Some(None)` if never written), or `None` on giving up.
    async fn read(&mut self, key: u64) -> io::Result<Option<Option<u64>>> {
        let Some(answers) = self.ask(READ, READ_OK, &[key]).await? else { return Ok(None) };
        let newest = answers.iter().map(|a| (a[0], a[1])).max().expect("a quorum answered");
        if answers.iter().any(|a| (a[0], a[1]) != newest) && !self.write(key, newest.0, newest.1).await? {
            return Ok(None); // read repair: no later read may return an older version
        }
        Ok(Some((newest.0 > 0).then_some(newest.1)))
    }
}

impl Session {
    async fn run(self) -> Result<(), String> {
        let fail = |err: io::Error| err.to_string();
        let socket = UdpSocket::bind("0.0.0.0:0").await.map_err(fail)?;
        let replicas = REPLICAS.iter().map(|name| seedsim::net::lookup(name).expect("a replica")).collect();
        let mut coordinator = Coordinator { socket, replicas, quorum: self.quorum, next_request: 0, buf: vec![0; 256] };
        let mut rng = seedsim::rand::rng();
        let keys = CLIENTS.len() as u64 * KEYS_PER_CLIENT;
        let mut versions: BTreeMap<u64, u64> = BTreeMap::new();
        let mut written = 0u64;
        let workload = time::sleep(WORKLOAD);
        while !workload.is_elapsed() {
            time::sleep(Duration::from_millis(rng.random_range(150..400))).await;
            if rng.random_bool(0.5) {
                let key = self.me * KEYS_PER_CLIENT + rng.random_range(0..KEYS_PER_CLIENT);
                let version = versions.entry(key).or_insert(0);
                *version += 1;
                written += 1;
                let value = (self.me + 1) << 32 | written;
                let op = self.history.invoke(self.me, KvInput::Put(key, value));
                if coordinator.write(key, *version, value).await.map_err(fail)? {
                    self.history.ok(op, KvOutput::Put).map_err(|e| e.to_string())?;
                } else {
                    self.history.unknown(op).map_err(|e| e.to_string())?;
                }
            } else {
                // Mostly another user's profile.
                let key = rng.random_range(0..keys);
                let op = self.history.invoke(self.me, KvInput::Get(key));
                match coordinator.read(key).await.map_err(fail)? {
                    Some(value) => self.history.ok(op, KvOutput::Get(value)).map_err(|e| e.to_string())?,
                    None => self.history.unknown(op).map_err(|e| e.to_string())?,
                }
            }
        }
        // The faults are over: every key must be readable again, soon.
        let recovery = time::sleep(FINAL_READS);
        for key in 0..keys {
            loop {
                let op = self.history.invoke(self.me, KvInput::Get(key));
                match coordinator.read(key).await.map_err(fail)? {
                    Some(value) => {
                        self.history.ok(op, KvOutput::Get(value)).map_err(|e| e.to_string())?;
                        break;
                    }
                    None => self.history.unknown(op).map_err(|e| e.to_string())?,
                }
                if recovery.is_elapsed() {
                    return Err(format!(
                        "no progress: c{} could not read key {key} after the faults ended",
                        self.me + 1
                    ));
                }
            }
        }
        Ok(())
    }
}
