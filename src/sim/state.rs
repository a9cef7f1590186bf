//! The world: every piece of simulated state except the tasks' futures — the clock and the
//! event queue, timers, nodes, the network, random streams, the trace and the first failure.
//!
//! The world computes; the run loop (`Sim::advance`) decides what happens next. Nothing here
//! polls a future or calls user code: events that wake a task return the waker for the run
//! loop to wake after the world's borrow is released, and a restart returns the node for the
//! run loop to call its factory.

use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use std::panic::Location;
use std::task::Waker;

use slab::Slab;

use crate::check::{Assertion, AssertionKind};
use crate::error::{Error, ErrorKind};
use crate::fault::{BuggifySite, Fault};
use crate::net::{self, Link, Net, SocketKey};
use crate::node::{validate_name, Node, NodeId, Role, State, NODES_MAX};
use crate::rand::{Purpose, Ratio, Stream};
use crate::seed::Seed;
use crate::sim::outcome::Cause;
use crate::task::TaskId;
use crate::time::queue::EventQueue;
use crate::time::{Clock, Instant, Skew, TimerKey};
use crate::trace::{EventKind, Trace};

/// Something scheduled to happen at a simulated time.
#[derive(Debug)]
enum Pending {
    Timer {
        slot: u32,
    },
    Deliver {
        slot: u32,
    },
    /// Valid only if the node is still down and has not started since it was scheduled.
    Restart {
        node: NodeId,
        starts: u32,
    },
    /// A stream segment arrives, or a stream endpoint's timer fires.
    Stream(crate::net::stream::StreamEvent),
    /// A fault of an installed plan, by its index in `World::faults`.
    Fault {
        index: u32,
    },
    /// A liveness property's deadline after the recover of `epoch`.
    Deadline {
        check: u32,
        epoch: u32,
    },
    /// The next step of a strobe, by its index in `World::strobes`.
    Strobe {
        index: u32,
    },
}

/// A strobing clock: the steps it has left, and the recover epoch it belongs to (a recover
/// ends it).
pub(crate) struct Strobe {
    pub(crate) node: NodeId,
    pub(crate) by_nanos: i64,
    pub(crate) period: u64,
    pub(crate) steps_left: u64,
    pub(crate) epoch: u32,
}

/// A pending `Sleep`: its deadline is on a node's clock, so when that clock changes the
/// timer's true time is computed again (`World::timer_at`) and its event moved
/// (`World::retime_timers`).
struct TimerEntry {
    /// Its identity, in the `TimerKey` its `Sleep` holds.
    seq: u64,
    /// The sequence number of its live event in the queue; older events of it are skipped.
    event: u64,
    /// Whose clock the deadline is on (`None`: true time, outside any node).
    node: Option<NodeId>,
    deadline: u64,
    /// The node's `clock_steps` when the deadline was set (see `World::timer_at`).
    steps: i64,
    waker: Waker,
}

/// What processing one event asks the run loop to do.
pub(crate) enum Fired {
    Wake(Waker),
    /// Wake up to two tasks (a stream's reader and writer, or a listener's acceptor).
    Wakes([Option<Waker>; 2]),
    Restart(NodeId),
    Fault(Fault),
    Deadline {
        check: u32,
        epoch: u32,
    },
    Nothing,
}

/// The first failure of the run, with where it happened.
pub(crate) struct Failing {
    pub(crate) cause: Cause,
    pub(crate) node: Option<NodeId>,
    pub(crate) task: Option<TaskId>,
}

pub(crate) struct World {
    pub(crate) seed: Seed,
    /// True simulated time, in nanoseconds.
    pub(crate) now: u64,
    seq: u64,
    queue: EventQueue<Pending>,
    timers: Slab<TimerEntry>,
    pub(crate) nodes: Vec<Node>,
    names: BTreeMap<String, NodeId>,
    pub(crate) net: Net,
    pub(crate) trace: Trace,
    /// Made on its first draw, like the nodes' streams.
    rng_world: Option<Stream>,
    /// The node and task being polled, if any.
    pub(crate) current: Option<(NodeId, TaskId)>,
    pub(crate) failing: Option<Failing>,
    pub(crate) clients: usize,
    pub(crate) clients_unfinished: usize,
    scheduled_max: usize,
    /// Events in the queue for timers cancelled or moved since (skipped when they come up).
    timers_cancelled: usize,
    /// Scratch for `retime_timers`: the timers to move and their new true times.
    timers_moved: Vec<(u32, u64)>,
    /// Bumped whenever a node's clock changes (and its timers may have moved): a `Sleep` set
    /// in the same epoch knows its timer's true time without looking it up.
    pub(crate) clock_epoch: u64,
    /// Faults of installed plans, by index (each scheduled as a `Pending::Fault`).
    pub(crate) faults: Vec<Fault>,
    /// Bumped by every recover; liveness deadlines carry the epoch they belong to.
    pub(crate) recover_epoch: u32,
    /// True time of the last recover.
    pub(crate) recovered_at: Option<u64>,
    pub(crate) assertions: BTreeMap<&'static str, Assertion>,
    pub(crate) buggify_sites: BTreeMap<(&'static str, u32, u32), BuggifySite>,
    rng_buggify: Option<Stream>,
    /// This world's process-unique id (`Shared::id`), for handles that check it.
    pub(crate) id: u64,
    /// Every node's disk, by node index: it outlives the node's crashes.
    pub(crate) disks: Vec<crate::fs::disk::Disk>,
    pub(crate) disk_config: crate::fs::DiskConfig,
    pub(crate) rng_disk: Option<Stream>,
    /// No clock fault steps a clock back (`Config::clocks_monotonic`).
    pub(crate) clocks_monotonic: bool,
    /// Nodes with a crash armed by `Fault::CrashAfter`: while zero, a send or receive checks
    /// nothing more.
    pub(crate) crashes_armed: u32,
    /// Nodes whose armed crash went off during the current poll, with their downtime (ns) and
    /// what set it off: crashed by the run loop once the poll is over.
    pub(crate) crashes_due: Vec<(NodeId, u64, crate::fault::Trigger)>,
    /// What a server's main future returning an error does.
    pub(crate) on_node_error: super::config::OnNodeError,
    /// Strobes applied in this run, each stepping until done or until a recover.
    pub(crate) strobes: Vec<Strobe>,
}

impl World {
    pub(crate) fn new(seed: Seed, link: Link, trace: Trace, scheduled_max: usize) -> World {
        World {
            seed,
            now: 0,
            seq: 0,
            queue: EventQueue::new(),
            timers: Slab::new(),
            nodes: Vec::new(),
            names: BTreeMap::new(),
            net: Net::new(link, Stream::for_purpose(seed, Purpose::Network)),
            trace,
            rng_world: None,
            current: None,
            failing: None,
            clients: 0,
            clients_unfinished: 0,
            scheduled_max,
            timers_cancelled: 0,
            timers_moved: Vec::new(),
            clock_epoch: 0,
            faults: Vec::new(),
            recover_epoch: 0,
            recovered_at: None,
            assertions: BTreeMap::new(),
            buggify_sites: BTreeMap::new(),
            id: 0,
            disks: Vec::new(),
            disk_config: crate::fs::DiskConfig::default(),
            rng_disk: None,
            rng_buggify: None,
            clocks_monotonic: false,
            crashes_armed: 0,
            crashes_due: Vec::new(),
            on_node_error: super::config::OnNodeError::Fail,
            strobes: Vec::new(),
        }
    }

    // --- nodes -----------------------------------------------------------------------------

    pub(crate) fn add_node(
        &mut self,
        name: &str,
        role: Role,
        added_at: &'static Location<'static>,
    ) -> Result<NodeId, Error> {
        validate_name(name)?;
        if self.names.contains_key(name) {
            return Err(Error::new(ErrorKind::DuplicateNode, name));
        }
        if self.nodes.len() >= NODES_MAX {
            return Err(Error::new(
                ErrorKind::InvalidConfig { field: "node count", expected: "at most 16777214 nodes" },
                name,
            ));
        }
        let id = NodeId(self.nodes.len() as u32);
        if matches!(role, Role::Client { .. }) {
            self.clients += 1;
            self.clients_unfinished += 1;
        }
        self.nodes.push(Node::new(id, name.to_owned(), role, added_at));
        self.disks.push(crate::fs::disk::Disk::new(self.disk_config));
        self.names.insert(name.to_owned(), id);
        Ok(id)
    }

    pub(crate) fn node_id(&self, name: &str) -> Result<NodeId, Error> {
        self.names.get(name).copied().ok_or_else(|| net::unknown_node(name))
    }

    pub(crate) fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id.index()]
    }

    pub(crate) fn node_mut(&mut self, id: NodeId) -> &mut Node {
        &mut self.nodes[id.index()]
    }

    pub(crate) fn names(&self) -> Vec<String> {
        self.nodes.iter().map(|node| node.name.clone()).collect()
    }

    pub(crate) fn is_crashed(&self, id: NodeId) -> bool {
        self.nodes[id.index()].state == State::Crashed
    }

    pub(crate) fn current_node(&self) -> Option<NodeId> {
        self.current.map(|(node, _)| node)
    }

    /// The random stream of the calling node, or the world's own outside any node.
    pub(crate) fn current_stream(&mut self) -> &mut Stream {
        let seed = self.seed;
        match self.current {
            Some((node, _)) => self.nodes[node.index()].rng.get_or_insert_with(|| Stream::for_node(seed, node.0)),
            None => self.rng_world.get_or_insert_with(|| Stream::for_purpose(seed, Purpose::World)),
        }
    }

    /// A node starts (or restarts): it runs again and the start is traced.
    pub(crate) fn mark_started(&mut self, id: NodeId) {
        let now = self.now;
        let node = &mut self.nodes[id.index()];
        debug_assert!(matches!(node.state, State::Added | State::Crashed), "{:?}", node.state);
        let incarnation = node.starts;
        node.starts += 1;
        node.state = State::Running;
        self.trace.record(now, EventKind::NodeStart { node: id, incarnation });
    }

    pub(crate) fn mark_client_finished(&mut self, id: NodeId) {
        if let Role::Client { finished, .. } = &mut self.nodes[id.index()].role {
            if !*finished {
                *finished = true;
                self.clients_unfinished -= 1;
            }
        }
    }

    /// The world's part of a crash: state, sockets, datagrams (those it sent too, unless
    /// `keep_sent`). Returns false if the node was not up (a crash of a crashed node changes
    /// nothing).
    pub(crate) fn crash(&mut self, id: NodeId, keep_sent: bool) -> Result<bool, Error> {
        let node = &self.nodes[id.index()];
        if node.is_client() {
            return Err(Error::new(
                ErrorKind::InvalidNodeState {
                    operation: "crash",
                    reason: "it is a client, which runs once; add it with Sim::node to make it restartable",
                },
                node.name.clone(),
            ));
        }
        match node.state {
            State::Crashed => return Ok(false),
            // Crashed before the run started it: it starts only when restarted.
            State::Added | State::Running | State::Paused => {}
        }
        let node = &mut self.nodes[id.index()];
        node.state = State::Crashed;
        node.primary = false;
        if node.crash_after.take().is_some() {
            self.crashes_armed -= 1;
        }
        self.net.crash(id, keep_sent);
        self.crash_disk(id);
        self.trace.record(self.now, EventKind::NodeCrash { node: id });
        self.crash_streams(id);
        Ok(true)
    }

    /// Check that a node can be restarted now.
    pub(crate) fn check_restart(&self, id: NodeId) -> Result<(), Error> {
        let node = &self.nodes[id.index()];
        let reason = match node.state {
            State::Crashed => return Ok(()),
            State::Added => "the run has not started it yet (crash it first to keep it down until a restart)",
            State::Running | State::Paused => "it is up; crash it first, or use bounce",
        };
        Err(Error::new(ErrorKind::InvalidNodeState { operation: "restart", reason }, node.name.clone()))
    }

    pub(crate) fn schedule_restart(&mut self, id: NodeId, after: u64) {
        let starts = self.nodes[id.index()].starts;
        self.schedule(self.now.saturating_add(after), Pending::Restart { node: id, starts });
    }

    pub(crate) fn set_paused(&mut self, id: NodeId, paused: bool) -> Result<bool, Error> {
        let node = &mut self.nodes[id.index()];
        let (from, to, kind) = if paused {
            (State::Running, State::Paused, EventKind::NodePause { node: id })
        } else {
            (State::Paused, State::Running, EventKind::NodeResume { node: id })
        };
        if node.state == to {
            return Ok(false);
        }
        if node.state != from {
            return Err(Error::new(
                ErrorKind::InvalidNodeState {
                    operation: if paused { "pause" } else { "resume" },
                    reason: "it is not running",
                },
                node.name.clone(),
            ));
        }
        node.state = to;
        self.trace.record(self.now, kind);
        Ok(true)
    }

    // --- failures ---------------------------------------------------------------------------

    /// Record a failure of the run in the task being polled; the first one wins.
    pub(crate) fn fail(&mut self, cause: Cause) {
        let (node, task) = match self.current {
            Some((node, task)) => (Some(node), Some(task)),
            None => (None, None),
        };
        self.fail_at(cause, node, task);
    }

    /// Record a failure of the run at a given node and task; the first one wins.
    pub(crate) fn fail_at(&mut self, cause: Cause, node: Option<NodeId>, task: Option<TaskId>) {
        if self.failing.is_none() {
            self.failing = Some(Failing { cause, node, task });
        }
    }

    // --- time -------------------------------------------------------------------------------

    /// The calling node's clock (true time outside any node).
    pub(crate) fn local_now(&self) -> Instant {
        match self.current {
            Some((node, _)) => Instant::from_nanos(self.nodes[node.index()].clock.local(self.now)),
            None => Instant::from_nanos(self.now),
        }
    }

    /// The sum of the steps `node`'s clock has taken (0 for true time).
    pub(crate) fn clock_steps(&self, node: Option<NodeId>) -> i64 {
        node.map_or(0, |node| self.nodes[node.index()].clock_steps)
    }

    /// The earliest true time, from now on, at which a timer set for `deadline` on `node`'s
    /// clock (true time for `None`) when the clock had taken `steps` fires: now, if it is due.
    /// A timer measures elapsed time, as one on a monotonic clock does, so the steps the clock
    /// took since (jumps, strobes, skews' offsets, recovers) move its deadline along, and only
    /// the clock's rate decides how long what is left of it takes.
    pub(crate) fn timer_at(&self, node: Option<NodeId>, deadline: Instant, steps: i64) -> u64 {
        let at = match node {
            Some(node) => {
                let moved =
                    i128::from(deadline.as_nanos()) + i128::from(self.clock_steps(Some(node))) - i128::from(steps);
                self.nodes[node.index()].clock.true_time_of(moved.clamp(0, i128::from(u64::MAX)) as u64)
            }
            None => deadline.as_nanos(),
        };
        at.max(self.now)
    }

    fn schedule(&mut self, at: u64, what: Pending) -> u64 {
        assert!(at >= self.now, "scheduling in the past: at {at} < now {}", self.now);
        if self.queue.len() - self.timers_cancelled >= self.scheduled_max {
            // Still scheduled, so the world stays consistent; the run ends at the next step.
            self.fail(Cause::ScheduledLimit { limit: self.scheduled_max });
        }
        let seq = self.seq;
        self.seq += 1;
        self.queue.push(at, seq, what);
        seq
    }

    /// A timer that wakes `waker` at `deadline` on `node`'s clock as of `steps` (true time
    /// for `None`), which is at true time `at` (from `timer_at`) unless the clock changes.
    pub(crate) fn add_timer(
        &mut self,
        node: Option<NodeId>,
        deadline: Instant,
        steps: i64,
        at: u64,
        waker: Waker,
    ) -> TimerKey {
        debug_assert_eq!(at, self.timer_at(node, deadline, steps));
        let deadline = deadline.as_nanos();
        let entry = self.timers.vacant_entry();
        let slot = entry.key() as u32;
        let seq = self.seq;
        entry.insert(TimerEntry { seq, event: seq, node, deadline, steps, waker });
        let scheduled = self.schedule(at, Pending::Timer { slot });
        debug_assert_eq!(scheduled, seq);
        TimerKey { slot, seq }
    }

    /// The clocks of the nodes for which `changed` holds now run differently from now on (see
    /// `Clock::same_from`), their steps already added to `clock_steps`: move each of their
    /// pending timers to the true time `timer_at` now gives, so a drift change stretches or
    /// shrinks what is left of it and a step neither ends it early nor makes it wait longer.
    /// Moved timers are rescheduled in slot order, so the order of events stays a function of
    /// the seed. Costs a pass over the pending timers; clocks change rarely, and the timers
    /// need no per-node index for it.
    pub(crate) fn retime_timers(&mut self, changed: impl Fn(NodeId) -> bool) {
        self.clock_epoch += 1;
        let mut moved = std::mem::take(&mut self.timers_moved);
        for (slot, entry) in self.timers.iter() {
            if entry.node.is_some_and(&changed) {
                let at = self.timer_at(entry.node, Instant::from_nanos(entry.deadline), entry.steps);
                moved.push((slot as u32, at));
            }
        }
        for &(slot, at) in &moved {
            // The old event stays queued and is skipped when it comes up, as a cancelled one.
            self.timers_cancelled += 1;
            let event = self.schedule(at, Pending::Timer { slot });
            self.timers[slot as usize].event = event;
        }
        moved.clear();
        self.timers_moved = moved;
    }

    pub(crate) fn update_timer(&mut self, key: TimerKey, waker: &Waker) {
        if let Some(entry) = self.timers.get_mut(key.slot as usize) {
            if entry.seq == key.seq && !entry.waker.will_wake(waker) {
                entry.waker = waker.clone();
            }
        }
    }

    pub(crate) fn timer_pending(&self, key: TimerKey) -> bool {
        self.timers.get(key.slot as usize).is_some_and(|entry| entry.seq == key.seq)
    }

    pub(crate) fn cancel_timer(&mut self, key: TimerKey) {
        if self.timers.get(key.slot as usize).is_some_and(|entry| entry.seq == key.seq) {
            self.timers.remove(key.slot as usize);
            // Its event stays queued until its time (removing it from the middle of the queue
            // would cost more than skipping it then); it is not counted as scheduled.
            self.timers_cancelled += 1;
        }
    }

    /// When the next event is due, if any is pending.
    pub(crate) fn next_event_at(&self) -> Option<u64> {
        self.queue.next_at()
    }

    /// Process the next event if it is due by `until`, moving the clock to it.
    pub(crate) fn pop_due(&mut self, until: u64) -> Option<Fired> {
        let (at, seq, what) = self.queue.pop_until(until)?;
        assert!(at >= self.now, "event at {at} is before now {}", self.now);
        self.now = at;
        Some(match what {
            Pending::Timer { slot } => match self.timers.get(slot as usize) {
                Some(entry) if entry.event == seq => Fired::Wake(self.timers.remove(slot as usize).waker),
                _ => {
                    debug_assert!(self.timers_cancelled > 0);
                    self.timers_cancelled -= 1;
                    Fired::Nothing // cancelled or moved
                }
            },
            Pending::Deliver { slot } => match self.net.deliver(at, slot, &mut self.trace) {
                Some(waker) => Fired::Wake(waker),
                None => Fired::Nothing,
            },
            Pending::Stream(event) => self.fire_stream(event),
            Pending::Fault { index } => Fired::Fault(self.faults[index as usize].clone()),
            Pending::Deadline { check, epoch } => Fired::Deadline { check, epoch },
            Pending::Strobe { index } => {
                self.strobe_step(index);
                Fired::Nothing
            }
            Pending::Restart { node, starts } => {
                let n = &self.nodes[node.index()];
                if n.state == State::Crashed && n.starts == starts {
                    Fired::Restart(node)
                } else {
                    Fired::Nothing // restarted by hand meanwhile, or crashed again
                }
            }
        })
    }

    /// Move the clock forward to `to` with nothing happening (for `run_until`).
    pub(crate) fn idle_until(&mut self, to: u64) {
        debug_assert!(self.next_event_at().is_none_or(|at| at > to));
        self.now = self.now.max(to);
    }

    /// Schedule the events the stream layer asked for (segment arrivals, endpoint timers).
    pub(crate) fn schedule_streams(&mut self) {
        let mut outbox = self.net.streams.take_outbox();
        for (at, event) in outbox.drain(..) {
            self.schedule(at, Pending::Stream(event));
        }
        self.net.streams.put_outbox(outbox);
    }

    pub(crate) fn schedule_fault(&mut self, at: u64, fault: Fault) {
        let index = self.faults.len() as u32;
        self.faults.push(fault);
        self.schedule(at, Pending::Fault { index });
    }

    /// Schedule the first step of the strobe at `index` now.
    pub(crate) fn schedule_strobe(&mut self, index: u32) {
        self.schedule(self.now, Pending::Strobe { index });
    }

    /// One step of a strobe, and the next scheduled, unless a recover ended it.
    fn strobe_step(&mut self, index: u32) {
        let strobe = &mut self.strobes[index as usize];
        if strobe.epoch != self.recover_epoch || strobe.steps_left == 0 {
            return;
        }
        let (node, by_nanos, period) = (strobe.node, strobe.by_nanos, strobe.period);
        strobe.by_nanos = -by_nanos;
        strobe.steps_left -= 1;
        let more = strobe.steps_left > 0;
        self.jump_clock(node, by_nanos);
        if more {
            self.schedule(self.now.saturating_add(period), Pending::Strobe { index });
        }
    }

    pub(crate) fn schedule_deadline(&mut self, at: u64, check: u32, epoch: u32) {
        self.schedule(at.max(self.now), Pending::Deadline { check, epoch });
    }

    pub(crate) fn record_assertion(
        &mut self,
        kind: AssertionKind,
        name: &'static str,
        location: &'static Location<'static>,
        held: bool,
    ) {
        let entry = self.assertions.entry(name).or_insert_with(|| Assertion {
            name: name.to_owned(),
            kind,
            location: format!("{}:{}", location.file(), location.line()),
            evaluated: 0,
            held: 0,
        });
        entry.evaluated += 1;
        entry.held += u64::from(held);
    }

    /// Evaluate a `buggify!` site: enabled by the seed per site, then fires with `fire`.
    pub(crate) fn buggify(&mut self, location: &'static Location<'static>, fire: Ratio) -> bool {
        let seed = self.seed.0;
        let key = (location.file(), location.line(), location.column());
        let site = self.buggify_sites.entry(key).or_insert_with(|| BuggifySite {
            location: format!("{}:{}:{}", location.file(), location.line(), location.column()),
            enabled: crate::fault::buggify_enabled(seed, location),
            evaluated: 0,
            fired: 0,
        });
        site.evaluated += 1;
        if !site.enabled {
            return false;
        }
        let rng = self.rng_buggify.get_or_insert_with(|| Stream::for_purpose(self.seed, Purpose::Buggify));
        let fired = rng.chance(fire);
        if fired {
            site.fired += 1;
            self.trace.record(self.now, EventKind::Buggify { site: location });
        }
        fired
    }

    /// What the assertions and buggify sites did so far.
    pub(crate) fn coverage(&self) -> crate::check::Coverage {
        crate::check::Coverage {
            assertions: self.assertions.values().cloned().collect(),
            buggify: self.buggify_sites.values().cloned().collect(),
        }
    }

    pub(crate) fn pending_events(&self) -> usize {
        self.queue.len() - self.timers_cancelled
    }

    // --- network ----------------------------------------------------------------------------

    pub(crate) fn bind(&mut self, node: NodeId, requested: SocketAddr) -> io::Result<(SocketKey, SocketAddr)> {
        self.net.bind(&mut self.nodes[node.index()], requested)
    }

    pub(crate) fn send_datagram(
        &mut self,
        key: SocketKey,
        node: NodeId,
        port: u16,
        to: SocketAddr,
        payload: &[u8],
    ) -> io::Result<()> {
        self.net.check_open(key)?;
        let now = self.now;
        self.count_sent(node, to.ip());
        let arrivals = self.net.send(now, &self.nodes, node, port, to, payload, &mut self.trace);
        for arrival in arrivals.into_iter().flatten() {
            self.schedule(arrival.at, Pending::Deliver { slot: arrival.slot });
        }
        Ok(())
    }

    pub(crate) fn partition(&mut self, from: NodeId, to: NodeId) {
        self.net.block(from, to);
        self.trace.record(self.now, EventKind::Partition { from, to });
    }

    pub(crate) fn repair(&mut self, from: NodeId, to: NodeId) {
        self.net.unblock(self.now, from, to);
        self.trace.record(self.now, EventKind::Repair { from, to });
    }

    pub(crate) fn isolate(&mut self, node: NodeId) {
        let isolated = &mut self.nodes[node.index()].isolated;
        *isolated = isolated.saturating_add(1);
        self.net.isolate(node);
        self.trace.record(self.now, EventKind::Isolate { node });
    }

    pub(crate) fn rejoin(&mut self, node: NodeId) {
        let isolated = &mut self.nodes[node.index()].isolated;
        *isolated = isolated.saturating_sub(1);
        self.trace.record(self.now, EventKind::Rejoin { node });
    }

    pub(crate) fn clog(&mut self, from: NodeId, to: NodeId, duration: u64) {
        let until = self.now.saturating_add(duration);
        self.net.clog(from, to, until);
        self.trace.record(self.now, EventKind::Clog { from, to, until: Instant::from_nanos(until) });
    }

    pub(crate) fn set_link(&mut self, from: NodeId, to: NodeId, link: Link) -> Result<(), Error> {
        link.validate()?;
        self.net.set_link(from, to, Some(link));
        self.trace.record(self.now, EventKind::LinkSet { from, to });
        Ok(())
    }

    pub(crate) fn heal_all(&mut self) {
        self.net.heal_all(self.now);
        for node in &mut self.nodes {
            node.isolated = 0;
        }
        self.trace.record(self.now, EventKind::HealAll);
    }

    pub(crate) fn skew(&mut self, node: NodeId, skew: Skew) {
        let now = self.now;
        let monotonic = self.clocks_monotonic;
        if self.nodes[node.index()].set_clock(now, Clock::skewed(now, skew), monotonic).1 {
            self.retime_timers(|id| id == node);
        }
        self.trace
            .record(now, EventKind::Skew { node, offset_nanos: skew.offset_nanos(), drift_ppm: skew.drift_ppm() });
    }

    /// What the run has used so far, for leaving out fault kinds that cannot touch it.
    pub(crate) fn usage(&self) -> crate::fault::Usage {
        crate::fault::Usage { disk: self.disks.iter().any(|disk| disk.is_used()), datagrams: self.net.stats.sent > 0 }
    }

    /// A node's code sent or received a message: if that sets off a crash armed on the current
    /// node, the crash is due once the poll is over. While nothing is armed the check is
    /// `crashes_armed == 0`.
    #[inline(always)]
    pub(crate) fn note_message(&mut self, trigger: crate::fault::Trigger) {
        if self.crashes_armed != 0 {
            self.note_message_armed(trigger);
        }
    }

    /// A node's code wrote to a stream whose peer is at `peer`: a message sent.
    #[inline]
    pub(crate) fn note_stream_write(&mut self, peer: std::net::IpAddr) {
        if let Some((node, _)) = self.current {
            self.count_sent(node, peer);
        }
        self.note_message(crate::fault::Trigger::Send);
    }

    /// Count a message from `node` to the node at `to` if both are servers: a leader's
    /// heartbeats and replication make it the busiest sender among the servers, while
    /// answers to clients would not tell a leader from a follower that redirects.
    #[inline(always)]
    fn count_sent(&mut self, node: NodeId, to: std::net::IpAddr) {
        let std::net::IpAddr::V4(ip) = to else { return };
        let is_server = |id: Option<NodeId>, nodes: &[Node]| {
            id.and_then(|id| nodes.get(id.index())).is_some_and(|node| !node.is_client())
        };
        if is_server(NodeId::from_ip(ip), &self.nodes) && is_server(Some(node), &self.nodes) {
            self.nodes[node.index()].sent += 1;
        }
    }

    #[cold]
    fn note_message_armed(&mut self, trigger: crate::fault::Trigger) {
        let Some((node, _)) = self.current else { return };
        let armed = &mut self.nodes[node.index()].crash_after;
        if let Some((wanted, down)) = *armed {
            if wanted == trigger {
                *armed = None;
                self.crashes_armed -= 1;
                self.crashes_due.push((node, down, trigger));
            }
        }
    }
}
