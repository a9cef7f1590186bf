//! The history of a run as its clients saw it: every operation's invocation and completion,
//! in the order they happened, with simulated times.
//!
//! Operations are recorded as Jepsen records them. A client *invokes* an operation, then it
//! *completes* in one of three ways: `ok` (it took effect, with this output), `fail` (it
//! certainly did not take effect) or `unknown` (the client gave up waiting, say on a timeout:
//! it may or may not have taken effect, now or at any later time). An operation never
//! completed by the end of the run counts as unknown.
//!
//! The order of events is the order of the calls: the checker uses it, not the times, so two
//! events at the same simulated instant are still ordered (the simulation runs one step at a
//! time). Times are true simulated time (no node's skew), for people and the timeline.
//! Recording is a push onto a `Vec`: cheap enough to leave on in every run. Nothing here
//! reads the host clock.

use std::cell::{Ref, RefCell};
use std::fmt;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::context;
use crate::error::{Error, ErrorKind};
use crate::node::NodeId;
use crate::time::Instant;

/// Identifies histories in the process, so an [`OpId`] from one history is refused by another.
static NEXT_HISTORY: AtomicU64 = AtomicU64::new(1);

/// An operation of one [`History`], as [`History::invoke`] returned it.
///
/// Its index counts invocations from 0. It is printed as `op 3`.
///
/// ```
/// let mut history = seedsim::check::History::<&str, ()>::new();
/// let op = history.invoke(7, "get");
/// assert_eq!(op.index(), 0);
/// assert_eq!(op.to_string(), "op 0");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OpId {
    history: u64,
    index: u32,
}

impl OpId {
    /// The operation's index in its history: 0 for the first invocation, then 1, 2, ...
    ///
    /// ```
    /// let mut history = seedsim::check::History::<u8, u8>::new();
    /// history.invoke(1, 0);
    /// assert_eq!(history.invoke(1, 0).index(), 1);
    /// ```
    pub fn index(self) -> usize {
        self.index as usize
    }
}

impl fmt::Debug for OpId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "OpId({})", self.index)
    }
}

impl fmt::Display for OpId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "op {}", self.index)
    }
}

/// How an operation completed.
///
/// ```
/// use seedsim::check::Completion;
/// let done: Completion<u64> = Completion::Ok(3);
/// assert_eq!(done.output(), Some(&3));
/// assert_eq!(Completion::<u64>::Unknown.output(), None);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Completion<O> {
    /// It took effect and returned this output (Jepsen's `:ok`).
    Ok(O),
    /// It certainly did not take effect (Jepsen's `:fail`). The checker leaves it out.
    Fail,
    /// Nobody knows whether it took effect (Jepsen's `:info`), for example because the client
    /// timed out waiting: it may have taken effect at any time after its invocation, or never.
    Unknown,
}

impl<O> Completion<O> {
    /// The output of an `Ok` completion.
    ///
    /// ```
    /// assert_eq!(seedsim::check::Completion::Ok("v").output(), Some(&"v"));
    /// ```
    pub fn output(&self) -> Option<&O> {
        match self {
            Completion::Ok(output) => Some(output),
            Completion::Fail | Completion::Unknown => None,
        }
    }

    fn word(&self) -> &'static str {
        match self {
            Completion::Ok(_) => "ok",
            Completion::Fail => "fail",
            Completion::Unknown => "unknown",
        }
    }
}

/// One operation of a [`History`]: who invoked what, when, and how it completed.
///
/// ```
/// use seedsim::check::{Completion, History};
/// let mut history = History::new();
/// let op = history.invoke(3, "incr");
/// history.ok(op, 41)?;
/// let op = history.op(op).unwrap();
/// assert_eq!((op.client(), *op.input(), op.output()), (3, "incr", Some(&41)));
/// assert_eq!(op.completion(), Some(&Completion::Ok(41)));
/// # Ok::<(), seedsim::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Op<I, O> {
    id: OpId,
    client: u64,
    node: Option<NodeId>,
    input: I,
    completion: Option<Completion<O>>,
    invoked_at: Instant,
    completed_at: Option<Instant>,
    /// Position of the invocation among the history's events.
    pub(crate) invoke_seq: u64,
    /// Position of the completion among the history's events.
    pub(crate) complete_seq: Option<u64>,
}

impl<I, O> Op<I, O> {
    /// The operation's id.
    ///
    /// ```
    /// let mut history = seedsim::check::History::<(), ()>::new();
    /// let id = history.invoke(0, ());
    /// assert_eq!(history.op(id).unwrap().id(), id);
    /// ```
    pub fn id(&self) -> OpId {
        self.id
    }

    /// The client (Jepsen's process) that invoked it.
    ///
    /// ```
    /// let mut history = seedsim::check::History::<(), ()>::new();
    /// let id = history.invoke(9, ());
    /// assert_eq!(history.op(id).unwrap().client(), 9);
    /// ```
    pub fn client(&self) -> u64 {
        self.client
    }

    /// The node whose task invoked it, when it was invoked inside a simulation.
    ///
    /// ```
    /// let mut history = seedsim::check::History::<(), ()>::new();
    /// let id = history.invoke(1, ()); // outside a simulation: no node
    /// assert_eq!(history.op(id).unwrap().node(), None);
    /// ```
    pub fn node(&self) -> Option<NodeId> {
        self.node
    }

    /// What was asked.
    ///
    /// ```
    /// let mut history = seedsim::check::History::<&str, ()>::new();
    /// let id = history.invoke(1, "read");
    /// assert_eq!(*history.op(id).unwrap().input(), "read");
    /// ```
    pub fn input(&self) -> &I {
        &self.input
    }

    /// How it completed; `None` while it is pending (a pending operation at the end of a run
    /// counts as [`Completion::Unknown`]).
    ///
    /// ```
    /// let mut history = seedsim::check::History::<(), ()>::new();
    /// let id = history.invoke(1, ());
    /// assert_eq!(history.op(id).unwrap().completion(), None);
    /// history.fail(id)?;
    /// assert_eq!(history.op(id).unwrap().completion(), Some(&seedsim::check::Completion::Fail));
    /// # Ok::<(), seedsim::Error>(())
    /// ```
    pub fn completion(&self) -> Option<&Completion<O>> {
        self.completion.as_ref()
    }

    /// The output, if it completed `ok`.
    ///
    /// ```
    /// let mut history = seedsim::check::History::<(), u8>::new();
    /// let id = history.invoke(1, ());
    /// history.ok(id, 5)?;
    /// assert_eq!(history.op(id).unwrap().output(), Some(&5));
    /// # Ok::<(), seedsim::Error>(())
    /// ```
    pub fn output(&self) -> Option<&O> {
        self.completion.as_ref().and_then(Completion::output)
    }

    /// True while it has not completed.
    ///
    /// ```
    /// let mut history = seedsim::check::History::<(), ()>::new();
    /// let id = history.invoke(1, ());
    /// assert!(history.op(id).unwrap().is_pending());
    /// ```
    pub fn is_pending(&self) -> bool {
        self.completion.is_none()
    }

    /// True simulated time of the invocation.
    ///
    /// ```
    /// use seedsim::time::Instant;
    /// let mut history = seedsim::check::History::<(), ()>::new();
    /// let id = history.invoke_at(1, (), Instant::from_nanos(40))?;
    /// assert_eq!(history.op(id).unwrap().invoked_at(), Instant::from_nanos(40));
    /// # Ok::<(), seedsim::Error>(())
    /// ```
    pub fn invoked_at(&self) -> Instant {
        self.invoked_at
    }

    /// True simulated time of the completion, if it completed.
    ///
    /// ```
    /// use seedsim::{check::{Completion, History}, time::Instant};
    /// let mut history = History::<(), ()>::new();
    /// let id = history.invoke_at(1, (), Instant::from_nanos(40))?;
    /// history.complete_at(id, Completion::Unknown, Instant::from_nanos(90))?;
    /// assert_eq!(history.op(id).unwrap().completed_at(), Some(Instant::from_nanos(90)));
    /// # Ok::<(), seedsim::Error>(())
    /// ```
    pub fn completed_at(&self) -> Option<Instant> {
        self.completed_at
    }
}

impl<I: fmt::Debug, O: fmt::Debug> Op<I, O> {
    /// One line for reports: `op 3 (client 2): Write(4) -> ok Write, 1.2s..1.5s`.
    pub(crate) fn describe(&self) -> String {
        let completion = match &self.completion {
            Some(Completion::Ok(output)) => format!("ok {output:?}"),
            Some(other) => other.word().to_owned(),
            None => "pending".to_owned(),
        };
        let end = match self.completed_at {
            Some(at) => at.to_string(),
            None => "end".to_owned(),
        };
        format!(
            "{} (client {}): {:?} -> {completion}, {}..{end}",
            self.id,
            self.client,
            self.input,
            self.invoked_at.to_string().trim(),
        )
    }
}

/// Every operation clients invoked, in the order of their invocations, with how and when each
/// completed.
///
/// `I` is what a client asks (a model's input) and `O` what an `ok` completion returns (a
/// model's output). Inside a simulation the recording methods take the time from the
/// simulated clock; outside one (in a unit test of a model, say) time stands still at the time
/// of the history's last event, and [`invoke_at`](History::invoke_at) and
/// [`complete_at`](History::complete_at) take explicit times.
///
/// To share one history among the clients of a simulation, use a [`Recorder`].
///
/// ```
/// use seedsim::check::{check, History, Register, RegisterInput as In, RegisterOutput as Out};
///
/// let mut history = History::new();
/// let w = history.invoke(1, In::Write(5));
/// let r = history.invoke(2, In::Read); // concurrent with the write
/// history.ok(r, Out::Read(Some(5)))?;
/// history.ok(w, Out::Write)?;
/// assert!(check(&Register::new(), &history).is_linearizable());
/// # Ok::<(), seedsim::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct History<I, O> {
    id: u64,
    ops: Vec<Op<I, O>>,
    /// Events recorded so far (invocations and completions).
    events: u64,
    /// Time of the last event.
    last_at: Instant,
}

impl<I, O> Default for History<I, O> {
    fn default() -> History<I, O> {
        History::new()
    }
}

impl<I, O> History<I, O> {
    /// An empty history.
    ///
    /// ```
    /// let history = seedsim::check::History::<(), ()>::new();
    /// assert!(history.is_empty());
    /// ```
    pub fn new() -> History<I, O> {
        History { id: NEXT_HISTORY.fetch_add(1, Ordering::Relaxed), ops: Vec::new(), events: 0, last_at: Instant::ZERO }
    }

    /// Record that `client` invoked `input`, now; returns the id to complete it with.
    ///
    /// The time is true simulated time (no node's skew) inside a simulation, and the time of
    /// the previous event outside one. The node is the one whose task is running, if any.
    ///
    /// ```
    /// use seedsim::check::{Completion, Recorder};
    /// let recorder = Recorder::<&str, u64>::new();
    /// let mut sim = seedsim::Sim::new(seedsim::Seed(1));
    /// let handle = recorder.clone();
    /// sim.client("c", async move {
    ///     seedsim::time::sleep(std::time::Duration::from_millis(5)).await;
    ///     let op = handle.invoke(1, "get");
    ///     handle.ok(op, 0)
    /// })?;
    /// assert!(sim.run().is_passed());
    /// let history = recorder.history();
    /// assert_eq!(history.ops()[0].invoked_at().as_nanos(), 5_000_000);
    /// assert_eq!(history.ops()[0].node().map(|n| n.index()), Some(0));
    /// # Ok::<(), seedsim::Error>(())
    /// ```
    pub fn invoke(&mut self, client: u64, input: I) -> OpId {
        let (now, node) = simulated_now();
        let at = now.map_or(self.last_at, |now| now.max(self.last_at));
        self.push_invoke(client, input, at, node)
    }

    /// Record that `client` invoked `input` at the time `at`.
    ///
    /// # Errors
    /// [`ErrorKind::HistoryTimeBackwards`] if `at` is before the history's last event.
    ///
    /// ```
    /// use seedsim::{check::History, time::Instant, ErrorKind};
    /// let mut history = History::<(), ()>::new();
    /// history.invoke_at(1, (), Instant::from_nanos(10))?;
    /// let err = history.invoke_at(2, (), Instant::from_nanos(5)).unwrap_err();
    /// assert_eq!(err.kind(), &ErrorKind::HistoryTimeBackwards);
    /// # Ok::<(), seedsim::Error>(())
    /// ```
    pub fn invoke_at(&mut self, client: u64, input: I, at: Instant) -> Result<OpId, Error> {
        if at < self.last_at {
            return Err(Error::new(
                ErrorKind::HistoryTimeBackwards,
                format!("invocation by client {client} at {} (last event at {})", at, self.last_at),
            ));
        }
        let node = simulated_now().1;
        Ok(self.push_invoke(client, input, at, node))
    }

    fn push_invoke(&mut self, client: u64, input: I, at: Instant, node: Option<NodeId>) -> OpId {
        let index = u32::try_from(self.ops.len()).expect("a history holds at most 2^32 operations");
        let id = OpId { history: self.id, index };
        self.ops.push(Op {
            id,
            client,
            node,
            input,
            completion: None,
            invoked_at: at,
            completed_at: None,
            invoke_seq: self.events,
            complete_seq: None,
        });
        self.events += 1;
        self.last_at = at;
        id
    }

    /// Record that `op` completed with `output`: it took effect.
    ///
    /// # Errors
    /// As [`complete`](History::complete).
    ///
    /// ```
    /// let mut history = seedsim::check::History::<&str, u8>::new();
    /// let op = history.invoke(1, "read");
    /// history.ok(op, 7)?;
    /// # Ok::<(), seedsim::Error>(())
    /// ```
    pub fn ok(&mut self, op: OpId, output: O) -> Result<(), Error> {
        self.complete(op, Completion::Ok(output))
    }

    /// Record that `op` failed: it certainly did not take effect.
    ///
    /// # Errors
    /// As [`complete`](History::complete).
    ///
    /// ```
    /// let mut history = seedsim::check::History::<&str, u8>::new();
    /// let op = history.invoke(1, "write");
    /// history.fail(op)?;
    /// # Ok::<(), seedsim::Error>(())
    /// ```
    pub fn fail(&mut self, op: OpId) -> Result<(), Error> {
        self.complete(op, Completion::Fail)
    }

    /// Record that the client stopped waiting for `op` without knowing whether it took effect
    /// (a timeout, a lost connection).
    ///
    /// # Errors
    /// As [`complete`](History::complete).
    ///
    /// ```
    /// let mut history = seedsim::check::History::<&str, u8>::new();
    /// let op = history.invoke(1, "write");
    /// history.unknown(op)?;
    /// # Ok::<(), seedsim::Error>(())
    /// ```
    pub fn unknown(&mut self, op: OpId) -> Result<(), Error> {
        self.complete(op, Completion::Unknown)
    }

    /// Record how `op` completed, now (see [`invoke`](History::invoke) for which time).
    ///
    /// # Errors
    /// - [`ErrorKind::HistoryOpUnknown`] if `op` was not invoked in this history (it comes
    ///   from another history): a completion without an invocation;
    /// - [`ErrorKind::HistoryOpCompletedTwice`] if `op` already completed.
    ///
    /// ```
    /// use seedsim::{check::{Completion, History}, ErrorKind};
    /// let mut history = History::<&str, u8>::new();
    /// let op = history.invoke(1, "read");
    /// history.complete(op, Completion::Ok(1))?;
    /// let err = history.complete(op, Completion::Ok(2)).unwrap_err();
    /// assert_eq!(err.kind(), &ErrorKind::HistoryOpCompletedTwice);
    ///
    /// let stranger = History::<&str, u8>::new().invoke(1, "read");
    /// let err = history.ok(stranger, 3).unwrap_err();
    /// assert_eq!(err.kind(), &ErrorKind::HistoryOpUnknown);
    /// # Ok::<(), seedsim::Error>(())
    /// ```
    pub fn complete(&mut self, op: OpId, completion: Completion<O>) -> Result<(), Error> {
        let now = simulated_now().0;
        let at = now.map_or(self.last_at, |now| now.max(self.last_at));
        self.complete_at(op, completion, at)
    }

    /// Record how `op` completed, at the time `at`.
    ///
    /// # Errors
    /// As [`complete`](History::complete), and [`ErrorKind::HistoryTimeBackwards`] if `at` is
    /// before the history's last event.
    ///
    /// ```
    /// use seedsim::{check::{Completion, History}, time::Instant};
    /// let mut history = History::<&str, u8>::new();
    /// let op = history.invoke_at(1, "read", Instant::from_nanos(100))?;
    /// history.complete_at(op, Completion::Ok(4), Instant::from_nanos(250))?;
    /// assert!(history.complete_at(op, Completion::Fail, Instant::from_nanos(300)).is_err());
    /// # Ok::<(), seedsim::Error>(())
    /// ```
    pub fn complete_at(&mut self, op: OpId, completion: Completion<O>, at: Instant) -> Result<(), Error> {
        let index = self.index_of(op, completion.word())?;
        let entry = &mut self.ops[index];
        if let Some(previous) = &entry.completion {
            return Err(Error::new(
                ErrorKind::HistoryOpCompletedTwice,
                format!("{} completed {} after it completed {}", op, completion.word(), previous.word()),
            ));
        }
        if at < self.last_at {
            return Err(Error::new(
                ErrorKind::HistoryTimeBackwards,
                format!("completion of {op} at {at} (last event at {})", self.last_at),
            ));
        }
        entry.completion = Some(completion);
        entry.completed_at = Some(at);
        entry.complete_seq = Some(self.events);
        self.events += 1;
        self.last_at = at;
        Ok(())
    }

    fn index_of(&self, op: OpId, what: &str) -> Result<usize, Error> {
        if op.history != self.id || op.index() >= self.ops.len() {
            return Err(Error::new(ErrorKind::HistoryOpUnknown, format!("{op} completed {what}")));
        }
        Ok(op.index())
    }

    /// Every operation, in the order of their invocations (`ops()[i].id().index() == i`).
    ///
    /// ```
    /// let mut history = seedsim::check::History::<u8, ()>::new();
    /// history.invoke(1, 10);
    /// history.invoke(2, 20);
    /// let inputs: Vec<u8> = history.ops().iter().map(|op| *op.input()).collect();
    /// assert_eq!(inputs, [10, 20]);
    /// ```
    pub fn ops(&self) -> &[Op<I, O>] {
        &self.ops
    }

    /// The operation `op`, if it belongs to this history.
    ///
    /// ```
    /// let mut history = seedsim::check::History::<u8, ()>::new();
    /// let id = history.invoke(1, 10);
    /// assert_eq!(*history.op(id).unwrap().input(), 10);
    /// assert!(seedsim::check::History::<u8, ()>::new().op(id).is_none());
    /// ```
    pub fn op(&self, op: OpId) -> Option<&Op<I, O>> {
        (op.history == self.id).then(|| self.ops.get(op.index())).flatten()
    }

    /// The number of operations invoked.
    ///
    /// ```
    /// let mut history = seedsim::check::History::<u8, ()>::new();
    /// history.invoke(1, 10);
    /// assert_eq!(history.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// True if nothing was invoked.
    ///
    /// ```
    /// assert!(seedsim::check::History::<u8, ()>::new().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// The operations not completed yet.
    ///
    /// ```
    /// let mut history = seedsim::check::History::<u8, ()>::new();
    /// let a = history.invoke(1, 10);
    /// let b = history.invoke(2, 20);
    /// history.ok(a, ())?;
    /// assert_eq!(history.pending().map(|op| op.id()).collect::<Vec<_>>(), [b]);
    /// # Ok::<(), seedsim::Error>(())
    /// ```
    pub fn pending(&self) -> impl Iterator<Item = &Op<I, O>> {
        self.ops.iter().filter(|op| op.is_pending())
    }
}

/// True simulated time and the node being polled, if a simulation is running on this thread.
fn simulated_now() -> (Option<Instant>, Option<NodeId>) {
    context::with_current(|shared| match shared.world.try_borrow() {
        Ok(world) => (Some(Instant::from_nanos(world.now)), world.current_node()),
        // Recording from a destructor run while the world is borrowed: no time to read.
        Err(_) => (None, None),
    })
    .unwrap_or((None, None))
}

/// A shared handle to a [`History`], for the clients of a simulation to record into.
///
/// Cloning it is cheap and every clone records into the same history. It is not `Send`:
/// a simulation runs on one thread.
///
/// ```
/// use std::time::Duration;
/// use seedsim::check::{check, Recorder, Register, RegisterInput, RegisterOutput};
/// use seedsim::time;
///
/// let recorder = Recorder::new();
/// let mut sim = seedsim::Sim::new(seedsim::Seed(7));
/// for client in 0..3u64 {
///     let history = recorder.clone();
///     sim.client(&format!("client{client}"), async move {
///         let op = history.invoke(client, RegisterInput::Write(client));
///         time::sleep(Duration::from_millis(client)).await; // "talk to the store"
///         history.ok(op, RegisterOutput::Write)
///     })?;
/// }
/// assert!(sim.run().is_passed());
/// assert!(check(&Register::new(), &recorder.history()).is_linearizable());
/// # Ok::<(), seedsim::Error>(())
/// ```
pub struct Recorder<I, O> {
    history: Rc<RefCell<History<I, O>>>,
}

impl<I, O> Clone for Recorder<I, O> {
    fn clone(&self) -> Recorder<I, O> {
        Recorder { history: self.history.clone() }
    }
}

impl<I, O> Default for Recorder<I, O> {
    fn default() -> Recorder<I, O> {
        Recorder::new()
    }
}

impl<I: fmt::Debug, O: fmt::Debug> fmt::Debug for Recorder<I, O> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.history.try_borrow() {
            Ok(history) => f.debug_struct("Recorder").field("history", &*history).finish(),
            Err(_) => f.write_str("Recorder { <recording> }"),
        }
    }
}

impl<I, O> Recorder<I, O> {
    /// A recorder with an empty history.
    ///
    /// ```
    /// let recorder = seedsim::check::Recorder::<u8, u8>::new();
    /// assert!(recorder.history().is_empty());
    /// ```
    pub fn new() -> Recorder<I, O> {
        Recorder { history: Rc::new(RefCell::new(History::new())) }
    }

    /// See [`History::invoke`].
    ///
    /// ```
    /// let recorder = seedsim::check::Recorder::<&str, u8>::new();
    /// let op = recorder.invoke(1, "get");
    /// assert!(recorder.history().op(op).unwrap().is_pending());
    /// ```
    pub fn invoke(&self, client: u64, input: I) -> OpId {
        self.history.borrow_mut().invoke(client, input)
    }

    /// See [`History::ok`].
    ///
    /// # Errors
    /// As [`History::complete`].
    ///
    /// ```
    /// let recorder = seedsim::check::Recorder::<&str, u8>::new();
    /// let op = recorder.invoke(1, "get");
    /// recorder.ok(op, 0)?;
    /// assert!(recorder.ok(op, 0).is_err());
    /// # Ok::<(), seedsim::Error>(())
    /// ```
    pub fn ok(&self, op: OpId, output: O) -> Result<(), Error> {
        self.history.borrow_mut().ok(op, output)
    }

    /// See [`History::fail`].
    ///
    /// # Errors
    /// As [`History::complete`].
    ///
    /// ```
    /// let recorder = seedsim::check::Recorder::<&str, u8>::new();
    /// let op = recorder.invoke(1, "put");
    /// recorder.fail(op)?;
    /// # Ok::<(), seedsim::Error>(())
    /// ```
    pub fn fail(&self, op: OpId) -> Result<(), Error> {
        self.history.borrow_mut().fail(op)
    }

    /// See [`History::unknown`].
    ///
    /// # Errors
    /// As [`History::complete`].
    ///
    /// ```
    /// let recorder = seedsim::check::Recorder::<&str, u8>::new();
    /// let op = recorder.invoke(1, "put");
    /// recorder.unknown(op)?;
    /// # Ok::<(), seedsim::Error>(())
    /// ```
    pub fn unknown(&self, op: OpId) -> Result<(), Error> {
        self.history.borrow_mut().unknown(op)
    }

    /// See [`History::complete`].
    ///
    /// # Errors
    /// As [`History::complete`].
    ///
    /// ```
    /// use seedsim::check::{Completion, Recorder};
    /// let recorder = Recorder::<&str, u8>::new();
    /// let op = recorder.invoke(1, "put");
    /// recorder.complete(op, Completion::Unknown)?;
    /// # Ok::<(), seedsim::Error>(())
    /// ```
    pub fn complete(&self, op: OpId, completion: Completion<O>) -> Result<(), Error> {
        self.history.borrow_mut().complete(op, completion)
    }

    /// The history recorded so far.
    ///
    /// # Panics
    /// If called while a recording call on the same history is running (it cannot be, since
    /// recording calls run no user code).
    ///
    /// ```
    /// let recorder = seedsim::check::Recorder::<&str, u8>::new();
    /// recorder.invoke(1, "get");
    /// assert_eq!(recorder.history().len(), 1);
    /// ```
    pub fn history(&self) -> Ref<'_, History<I, O>> {
        self.history.borrow()
    }

    /// The history recorded so far, taken out of the recorder (which starts a new, empty one).
    ///
    /// ```
    /// let recorder = seedsim::check::Recorder::<&str, u8>::new();
    /// recorder.invoke(1, "get");
    /// assert_eq!(recorder.take().len(), 1);
    /// assert!(recorder.history().is_empty());
    /// ```
    pub fn take(&self) -> History<I, O> {
        std::mem::take(&mut *self.history.borrow_mut())
    }
}
