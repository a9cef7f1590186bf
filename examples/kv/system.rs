//! A replicated register on three replicas, with a planted bug, and the checker that
//! catches it.
//!
//! The protocol is ABD (Attiya, Bar-Noy, Dolev): every value carries a stamp `(counter,
//! writer)`. A write asks a majority for the highest stamp, then stores its value under a
//! higher stamp on a majority; a read asks a majority for the highest stamp and writes it
//! back to a majority before it returns. Because any two majorities of three replicas
//! intersect, every operation sees every operation that completed before it began: the
//! register is linearizable under loss, duplication, reordering, partitions and crashes.
//!
//! The planted bug (`Variant::Buggy`) is a classic shortcut: the write's second phase waits
//! for one replica's acknowledgement instead of a majority's. The write is acknowledged to the
//! client before a quorum stored it, so a later read served by the other two replicas returns
//! the old value: a stale read. The fixed variant waits for a majority.
//!
//! Replicas keep their register in memory that outlives a crash (the factory's captured
//! `Rc`), standing in for a disk they sync before every reply.
//!
//! Every client checks each result the moment it completes against what has already
//! completed (a real-time order check, which for stamped registers is what linearizability
//! asks): a read may not return a value older than one already written or read before it
//! began. A violation fails the run with the offending operations in the message.
//!
//! The clients also record every operation in a history (`seedsim::check::Recorder`), and the
//! last client to finish checks the whole history with seedsim's linearizability checker
//! against a register model. That check knows nothing of stamps or replicas: it judges only
//! what the clients saw. With the online check off (`Checks { online: false, .. }`) it alone
//! catches the planted bug, and explains it.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use seedsim::check::{self, OpId, Recorder, Register, RegisterInput, RegisterOutput, Verdict};
use seedsim::net::{Latency, Link, UdpSocket};
use seedsim::rand::RngExt;
use seedsim::time::{self, Instant};
use seedsim::{world, Builder, Ratio, Sim};

/// The replicas' node names.
pub const REPLICAS: [&str; 3] = ["replica1", "replica2", "replica3"];
/// How many clients run operations.
pub const CLIENTS: u32 = 3;
/// Operations each client runs.
pub const OPS_PER_CLIENT: u32 = 8;
/// How long the nemesis injects faults before it heals everything.
pub const NEMESIS_TIME: Duration = Duration::from_secs(5);

/// The step budget of the history check under the default load. These histories (24
/// operations) take the checker under 1,000 steps; a checker that lost its pruning would
/// search for hours, and runs out of this instead, failing the run with a message. (Other
/// loads keep the checker's default budget.)
pub const HISTORY_STEPS_MAX: u64 = 1_000_000;

const PORT: u16 = 7000;
const MAJORITY: usize = 2;
/// How long a client waits for replies before it resends to the replicas that have not
/// answered.
const RETRY_AFTER: Duration = Duration::from_millis(40);

/// Which write path the clients use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Variant {
    /// Acknowledges a write once one replica stored it (the planted bug).
    Buggy,
    /// Acknowledges a write once a majority stored it.
    Fixed,
}

/// The settings the kv scenario runs with: a lossy, duplicating, reordering network.
pub fn builder() -> Builder {
    Sim::builder().time_limit(Duration::from_secs(300)).link(Link {
        latency: Latency::Uniform { min: Duration::from_millis(1), max: Duration::from_millis(12) },
        loss: Ratio::percent(2).expect("valid"),
        duplicate: Ratio::percent(1).expect("valid"),
        reorder: Ratio::percent(2).expect("valid"),
    })
}

/// Which checks the clients run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Checks {
    /// Check each result the moment it completes against what completed before it began.
    pub online: bool,
    /// When the last client finishes, check the whole recorded history with
    /// `seedsim::check` against a register model.
    pub history: bool,
}

impl Checks {
    /// Both checks: the online check fails a run at the first stale result, the history
    /// check judges what is left.
    pub const BOTH: Checks = Checks { online: true, history: true };
}

/// The register operations the clients record.
pub type Ops = Recorder<RegisterInput<u64>, RegisterOutput<u64>>;

/// Add the replicas, the clients and the nemesis to `sim`, with both checks.
pub fn scenario(sim: &mut Sim, variant: Variant) -> Result<(), seedsim::Error> {
    scenario_with(sim, variant, Checks::BOTH).map(drop)
}

/// How much work the clients do; the simulation target's `shrink` cuts it down.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Load {
    /// How many clients run operations.
    pub clients: u32,
    /// Operations each client runs.
    pub ops_per_client: u32,
}

impl Load {
    /// [`CLIENTS`] clients of [`OPS_PER_CLIENT`] operations each.
    pub const DEFAULT: Load = Load { clients: CLIENTS, ops_per_client: OPS_PER_CLIENT };
}

/// Add the replicas, the clients and the nemesis to `sim`; returns the recorder the clients
/// record their operations in.
pub fn scenario_with(sim: &mut Sim, variant: Variant, checks: Checks) -> Result<Ops, seedsim::Error> {
    scenario_loaded(sim, variant, checks, Load::DEFAULT)
}

/// [`scenario_with`], with `load.clients` clients of `load.ops_per_client` operations each.
pub fn scenario_loaded(sim: &mut Sim, variant: Variant, checks: Checks, load: Load) -> Result<Ops, seedsim::Error> {
    for name in REPLICAS {
        let stored = Rc::new(RefCell::new(Stored::default()));
        sim.node(name, move || replica(stored.clone()))?;
    }
    let history = Rc::new(RefCell::new(History::default()));
    let ops = Ops::new();
    let running = Rc::new(Cell::new(load.clients));
    let steps_max = if load == Load::DEFAULT { HISTORY_STEPS_MAX } else { check::linearizability::STEPS_MAX_DEFAULT };
    for id in 1..=load.clients {
        let done = Done { running: running.clone(), ops: ops.clone(), checks, steps_max };
        let ops_count = load.ops_per_client;
        sim.client(&format!("client{id}"), client(id, ops_count, variant, history.clone(), ops.clone(), done))?;
    }
    sim.client("nemesis", nemesis(NEMESIS_TIME, load.clients))?;
    Ok(ops)
}

/// What a client does when it has run all its operations: the last one checks the history.
struct Done {
    running: Rc<Cell<u32>>,
    ops: Ops,
    checks: Checks,
    /// The history check's step budget.
    steps_max: u64,
}

impl Done {
    fn finish(self) -> Result<(), String> {
        self.running.set(self.running.get() - 1);
        if self.running.get() > 0 || !self.checks.history {
            return Ok(());
        }
        // Replicas start with the value 0, so the register model starts there too.
        match check::Checker::new().steps_max(self.steps_max).check(&Register::starting_at(0), &self.ops.history()) {
            Verdict::Linearizable => Ok(()),
            verdict => Err(verdict.to_string()),
        }
    }
}

// --- the protocol --------------------------------------------------------------------------

/// Orders values: higher counter first, then writer id.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Stamp {
    counter: u64,
    writer: u32,
}

#[derive(Clone, Copy, Debug, Default)]
struct Stored {
    stamp: Stamp,
    value: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Message {
    Read { request: u64 },
    ReadAck { request: u64, stamp: Stamp, value: u64 },
    Write { request: u64, stamp: Stamp, value: u64 },
    WriteAck { request: u64 },
}

const MESSAGE_LEN: usize = 29;

impl Message {
    fn encode(self) -> [u8; MESSAGE_LEN] {
        let (kind, request, stamp, value) = match self {
            Message::Read { request } => (0, request, Stamp::default(), 0),
            Message::ReadAck { request, stamp, value } => (1, request, stamp, value),
            Message::Write { request, stamp, value } => (2, request, stamp, value),
            Message::WriteAck { request } => (3, request, Stamp::default(), 0),
        };
        let mut bytes = [0u8; MESSAGE_LEN];
        bytes[0] = kind;
        bytes[1..9].copy_from_slice(&request.to_le_bytes());
        bytes[9..17].copy_from_slice(&stamp.counter.to_le_bytes());
        bytes[17..21].copy_from_slice(&stamp.writer.to_le_bytes());
        bytes[21..29].copy_from_slice(&value.to_le_bytes());
        bytes
    }

    fn decode(bytes: &[u8]) -> Option<Message> {
        if bytes.len() != MESSAGE_LEN {
            return None;
        }
        let u64_at = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"));
        let request = u64_at(1);
        let stamp =
            Stamp { counter: u64_at(9), writer: u32::from_le_bytes(bytes[17..21].try_into().expect("4 bytes")) };
        let value = u64_at(21);
        match bytes[0] {
            0 => Some(Message::Read { request }),
            1 => Some(Message::ReadAck { request, stamp, value }),
            2 => Some(Message::Write { request, stamp, value }),
            3 => Some(Message::WriteAck { request }),
            _ => None,
        }
    }

    fn request(self) -> u64 {
        match self {
            Message::Read { request }
            | Message::ReadAck { request, .. }
            | Message::Write { request, .. }
            | Message::WriteAck { request } => request,
        }
    }
}

/// A replica: answers reads with its stamped value, stores writes with a higher stamp.
async fn replica(stored: Rc<RefCell<Stored>>) -> io::Result<()> {
    let socket = UdpSocket::bind(("0.0.0.0", PORT)).await?;
    let mut buf = [0u8; 64];
    loop {
        let (len, from) = socket.recv_from(&mut buf).await?;
        let reply = match Message::decode(&buf[..len]) {
            Some(Message::Read { request }) => {
                let stored = stored.borrow();
                Message::ReadAck { request, stamp: stored.stamp, value: stored.value }
            }
            Some(Message::Write { request, stamp, value }) => {
                let mut stored = stored.borrow_mut();
                if stamp > stored.stamp {
                    *stored = Stored { stamp, value };
                }
                Message::WriteAck { request }
            }
            _ => continue,
        };
        socket.send_to(&reply.encode(), from).await?;
    }
}

struct Client {
    id: u32,
    socket: UdpSocket,
    replicas: Vec<SocketAddr>,
    next_request: u64,
}

impl Client {
    /// Send `message` (built for a fresh request number) to every replica and resend to the
    /// silent ones until `need` distinct replicas have replied.
    async fn quorum(&mut self, message: impl Fn(u64) -> Message, need: usize) -> io::Result<Vec<Message>> {
        let request = self.next_request;
        self.next_request += 1;
        let bytes = message(request).encode();
        let mut replied = vec![false; self.replicas.len()];
        let mut replies = Vec::new();
        let mut buf = [0u8; 64];
        loop {
            for (index, replica) in self.replicas.iter().enumerate() {
                if !replied[index] {
                    self.socket.send_to(&bytes, replica).await?;
                }
            }
            let resend_at = Instant::now() + RETRY_AFTER;
            while let Ok(received) = time::timeout_at(resend_at, self.socket.recv_from(&mut buf)).await {
                let (len, from) = received?;
                let Some(reply) = Message::decode(&buf[..len]) else {
                    continue;
                };
                let Some(index) = self.replicas.iter().position(|r| *r == from) else {
                    continue;
                };
                if reply.request() != request || replied[index] {
                    continue; // a late or duplicated reply
                }
                replied[index] = true;
                replies.push(reply);
                if replies.len() >= need {
                    return Ok(replies);
                }
            }
        }
    }

    /// The highest stamped value a majority knows.
    async fn read_majority(&mut self) -> io::Result<(Stamp, u64)> {
        let replies = self.quorum(|request| Message::Read { request }, MAJORITY).await?;
        Ok(replies
            .into_iter()
            .filter_map(|reply| match reply {
                Message::ReadAck { stamp, value, .. } => Some((stamp, value)),
                _ => None,
            })
            .max()
            .unwrap_or_default())
    }

    async fn write(&mut self, value: u64, variant: Variant, history: &RefCell<History>) -> io::Result<Stamp> {
        let (highest, _) = self.read_majority().await?;
        let stamp = Stamp { counter: highest.counter + 1, writer: self.id };
        history.borrow_mut().attempted.push((stamp, value));
        let need = match variant {
            Variant::Buggy => 1, // BUG: acknowledged before a quorum stored it
            Variant::Fixed => MAJORITY,
        };
        self.quorum(|request| Message::Write { request, stamp, value }, need).await?;
        Ok(stamp)
    }

    async fn read(&mut self) -> io::Result<(Stamp, u64)> {
        let (stamp, value) = self.read_majority().await?;
        // Write back, so no later read can see an older value than this one.
        self.quorum(|request| Message::Write { request, stamp, value }, MAJORITY).await?;
        Ok((stamp, value))
    }
}

/// A client: a few random reads and writes, each recorded, and checked as soon as it completes.
async fn client(
    id: u32,
    ops_count: u32,
    variant: Variant,
    history: Rc<RefCell<History>>,
    ops: Ops,
    done: Done,
) -> Result<(), String> {
    let socket = UdpSocket::bind("0.0.0.0:0").await.map_err(|e| e.to_string())?;
    let replicas = REPLICAS
        .iter()
        .map(|name| seedsim::net::lookup(name).map(|ip| SocketAddr::new(ip, PORT)))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    let mut client = Client { id, socket, replicas, next_request: 0 };
    let mut rng = seedsim::rand::rng();
    for op in 0..ops_count {
        time::sleep(Duration::from_millis(rng.random_range(0..300))).await;
        let operation = if rng.random_bool(0.5) {
            let value = u64::from(id) * 1_000 + u64::from(op) + 1;
            let recorded = ops.invoke(u64::from(id), RegisterInput::Write(value));
            let stamp = client.write(value, variant, &history).await.map_err(|e| e.to_string())?;
            ops.ok(recorded, RegisterOutput::Write).map_err(|e| e.to_string())?;
            let (invoked, completed) = true_times(&ops, recorded);
            Operation { client: id, kind: Kind::Write, invoked, completed, stamp, value }
        } else {
            let recorded = ops.invoke(u64::from(id), RegisterInput::Read);
            let (stamp, value) = client.read().await.map_err(|e| e.to_string())?;
            ops.ok(recorded, RegisterOutput::Read(Some(value))).map_err(|e| e.to_string())?;
            let (invoked, completed) = true_times(&ops, recorded);
            Operation { client: id, kind: Kind::Read, invoked, completed, stamp, value }
        };
        if done.checks.online {
            history.borrow_mut().complete(operation).map_err(|violation| violation.to_string())?;
        }
    }
    done.finish()
}

/// When an operation began and ended in true simulated time, as the recorder saw it. Real-time
/// order is about true time: a client's own clock may be skewed or jumped by the run's faults,
/// and judging order by it flags correct runs (a write that "completed" before it began).
fn true_times(ops: &Ops, op: OpId) -> (Instant, Instant) {
    let history = ops.history();
    let op = history.op(op).expect("this client recorded the operation");
    (op.invoked_at(), op.completed_at().expect("the operation completed just now"))
}

/// Injects faults for `duration`, then heals everything.
async fn nemesis(duration: Duration, clients: u32) -> Result<(), seedsim::Error> {
    let mut rng = seedsim::rand::rng();
    let nodes: Vec<String> =
        REPLICAS.iter().map(|r| r.to_string()).chain((1..=clients).map(|i| format!("client{i}"))).collect();
    let end = Instant::now() + duration;
    while Instant::now() < end {
        time::sleep(Duration::from_millis(rng.random_range(50..400))).await;
        let replica = REPLICAS[rng.random_range(0..REPLICAS.len())];
        let (a, b) = {
            let a = rng.random_range(0..nodes.len());
            let b = (a + rng.random_range(1..nodes.len())) % nodes.len();
            (nodes[a].as_str(), nodes[b].as_str())
        };
        match rng.random_range(0..6) {
            0 => world::partition(a, b)?,
            1 => world::isolate(replica)?,
            2 => world::bounce(replica, Duration::from_millis(rng.random_range(10..800)))?,
            3 => world::clog(a, b, Duration::from_millis(rng.random_range(10..500)))?,
            4 => {
                if world::pause(replica).is_ok() {
                    let pause = Duration::from_millis(rng.random_range(10..500));
                    drop(seedsim::task::spawn(async move {
                        time::sleep(pause).await;
                        let _ = world::resume(replica); // it may have crashed meanwhile
                    }));
                }
            }
            _ => world::heal_all()?,
        }
    }
    world::heal_all()
}

// --- the checker ---------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Read,
    Write,
}

/// A completed operation.
#[derive(Clone, Copy, Debug)]
pub struct Operation {
    client: u32,
    kind: Kind,
    invoked: Instant,
    completed: Instant,
    stamp: Stamp,
    value: u64,
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verb = match self.kind {
            Kind::Read => "read",
            Kind::Write => "write",
        };
        write!(
            f,
            "client{} {verb} {} (stamp {}.{}) from {} to {}",
            self.client, self.value, self.stamp.counter, self.stamp.writer, self.invoked, self.completed
        )
    }
}

/// What the clients have done so far.
#[derive(Debug, Default)]
pub struct History {
    /// Every write's stamp and value, from the moment it picked its stamp.
    attempted: Vec<(Stamp, u64)>,
    completed: Vec<Operation>,
}

/// An operation that no linearization of the history can explain.
#[derive(Debug)]
pub struct Violation {
    operation: Operation,
    reason: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "not linearizable: {}: {}", self.operation, self.reason)
    }
}

impl History {
    /// Record a completed operation, checking it against every operation that completed
    /// before it began.
    fn complete(&mut self, operation: Operation) -> Result<(), Violation> {
        let violation = |reason: String| Err(Violation { operation, reason });
        if operation.kind == Kind::Read
            && operation.stamp != Stamp::default()
            && !self.attempted.contains(&(operation.stamp, operation.value))
        {
            return violation("no write wrote that value with that stamp".to_owned());
        }
        for earlier in self.completed.iter().filter(|e| e.completed < operation.invoked) {
            let stale = match operation.kind {
                // A read must return the latest value that completed before it began, or a newer one.
                Kind::Read => operation.stamp < earlier.stamp,
                // A write must be ordered after everything that completed before it began.
                Kind::Write => operation.stamp <= earlier.stamp,
            };
            if stale {
                return violation(format!("it began after [{earlier}] completed, but is ordered before it"));
            }
        }
        self.completed.push(operation);
        Ok(())
    }
}
