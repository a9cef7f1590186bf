//! Faults from plans and nemeses, and the recovery that ends them: the `Sim` methods that
//! install them, the world's part of the faults `sim::state` does not already have, and the
//! one place (`Shared::apply_fault`) where a planned fault becomes world operations.
//!
//! A planned fault is applied leniently: restarting a node that is up, or resuming one that
//! is not paused, does nothing (the trace shows what did happen). Names and kinds are checked
//! when the plan is installed, so a bad plan is an error before the run, never mid-run.

use std::time::Duration;

use super::state::{Strobe, World};
use super::Sim;
use crate::context::Shared;
use crate::error::{Error, ErrorKind};
use crate::fault::{Fault, FaultPlan, Nemesis, Profile, Trigger, STROBE_PERIOD_MIN, STROBE_STEPS_MAX};
use crate::net::{Cut, NodeSet};
use crate::node::{Node, NodeId, State};
use crate::rand::Ratio;
use crate::time::{nanos, Clock, Instant};
use crate::trace::{DiskFaultKind, EventKind};

/// Partitions between sets that cut at most this many pairs are applied and repaired pair by
/// pair, with a `Partition` or `Repair` event per pair, as every partition once was: small
/// worlds keep their traces and their timelines' per-pair bands. Larger ones are one `Cut`
/// per direction (`net/cut.rs`), whose cost does not grow with the pairs.
const PAIRWISE_MAX: usize = 64;

impl World {
    /// Block datagrams from every node of `a` to every other node of `b`, and back unless
    /// `oneway`: one more partition on each of those pairs.
    pub(crate) fn partition_sets(&mut self, a: &[NodeId], b: &[NodeId], oneway: bool) {
        if a.len().saturating_mul(b.len()) <= PAIRWISE_MAX {
            for &x in a {
                for &y in b.iter().filter(|&&y| y != x) {
                    self.net.block_pair(x, y);
                    self.trace.record(self.now, EventKind::Partition { from: x, to: y });
                    if !oneway {
                        self.net.block_pair(y, x);
                        self.trace.record(self.now, EventKind::Partition { from: y, to: x });
                    }
                }
            }
            // One pass over what is in flight for all the pairs.
            let (a, b) = (NodeSet::of(a.iter().copied()), NodeSet::of(b.iter().copied()));
            let back = if oneway { None } else { Some(Cut { from: b.clone(), to: a.clone() }) };
            let crossing: Vec<Cut> = std::iter::once(Cut { from: a, to: b }).chain(back).collect();
            self.net.drop_crossing(&crossing);
            return;
        }
        let there = Cut { from: NodeSet::of(a.iter().copied()), to: NodeSet::of(b.iter().copied()) };
        let back = (!oneway).then(|| Cut { from: there.to.clone(), to: there.from.clone() });
        for cut in std::iter::once(&there).chain(&back) {
            let event =
                EventKind::SetPartition { from: cut.from.len() as u32, to: cut.to.len() as u32, sets: cut.digest() };
            self.trace.record(self.now, event);
        }
        self.net.block_sets(std::iter::once(there).chain(back).collect());
    }

    /// Take one partition off every pair from a node of `a` to another of `b` and back that
    /// has one: undoes `partition_sets(a, b, _)`.
    pub(crate) fn repair_sets(&mut self, a: &[NodeId], b: &[NodeId]) {
        if a.len().saturating_mul(b.len()) <= PAIRWISE_MAX {
            for &x in a {
                for &y in b.iter().filter(|&&y| y != x) {
                    self.repair(x, y);
                    self.repair(y, x);
                }
            }
            return;
        }
        let there = Cut { from: NodeSet::of(a.iter().copied()), to: NodeSet::of(b.iter().copied()) };
        let back = Cut { from: there.to.clone(), to: there.from.clone() };
        for cut in [there, back] {
            let event =
                EventKind::SetRepair { from: cut.from.len() as u32, to: cut.to.len() as u32, sets: cut.digest() };
            self.trace.record(self.now, event);
            self.net.unblock_sets(self.now, cut);
        }
    }

    /// Step a node's clock; with monotonic clocks a step back does nothing. The trace has the
    /// step the clock took.
    pub(crate) fn jump_clock(&mut self, node: NodeId, by_nanos: i64) {
        let now = self.now;
        let monotonic = self.clocks_monotonic;
        let target = &mut self.nodes[node.index()];
        let (by_nanos, changed) = target.set_clock(now, target.clock.jumped(now, by_nanos), monotonic);
        if changed {
            self.retime_timers(|id| id == node);
        }
        self.trace.record(now, EventKind::ClockJump { node, by_nanos });
    }

    /// Start a strobe: steps forward by `by`, back by `by`, every `period`, an even number of
    /// them, so it ends where the clock would have been. Each step schedules the next; a
    /// recover ends it (its steps belong to the recover epoch they started in).
    fn strobe(&mut self, node: NodeId, by: Duration, period: Duration, duration: Duration) {
        let period = nanos(period).max(nanos(STROBE_PERIOD_MIN));
        let steps = (nanos(duration) / period).min(u64::from(STROBE_STEPS_MAX)) & !1;
        if steps == 0 {
            return;
        }
        let by_nanos = i64::try_from(nanos(by)).unwrap_or(i64::MAX);
        let index = self.strobes.len() as u32;
        self.strobes.push(Strobe { node, by_nanos, period, steps_left: steps, epoch: self.recover_epoch });
        self.schedule_strobe(index);
    }

    pub(crate) fn duplicate_window(&mut self, ratio: Ratio, duration: Duration) {
        let until = self.now.saturating_add(nanos(duration));
        self.net.duplicate_window(ratio, until);
        let event = EventKind::DuplicateWindow {
            ratio_num: ratio.num(),
            ratio_den: ratio.den(),
            until: Instant::from_nanos(until),
        };
        self.trace.record(self.now, event);
    }

    pub(crate) fn reorder_window(&mut self, ratio: Ratio, spread: Duration, duration: Duration) {
        let until = self.now.saturating_add(nanos(duration));
        self.net.reorder_window(ratio, nanos(spread), until);
        let event = EventKind::ReorderWindow {
            ratio_num: ratio.num(),
            ratio_den: ratio.den(),
            spread_nanos: nanos(spread),
            until: Instant::from_nanos(until),
        };
        self.trace.record(self.now, event);
    }

    /// Arm a crash that goes off at the node's next send or receive (servers only; a node
    /// that is down is not armed).
    fn arm_crash(&mut self, node: NodeId, trigger: Trigger, down: Duration) {
        let target = &mut self.nodes[node.index()];
        if target.is_client() || target.state == State::Crashed {
            return;
        }
        if target.crash_after.replace((trigger, nanos(down))).is_none() {
            self.crashes_armed += 1;
        }
        self.trace.record(self.now, EventKind::CrashArmed { node, trigger, down_nanos: nanos(down) });
    }

    /// The nodes that say they are primaries; if none does, the server up now whose code sent
    /// the most messages since the primaries were last cut (a leader's heartbeats and
    /// replication make it the busiest), if any sent one. Starts the next count.
    fn primaries(&mut self) -> Vec<NodeId> {
        let declared: Vec<NodeId> = self.nodes.iter().filter(|node| node.primary).map(|node| node.id).collect();
        let busiest = self
            .nodes
            .iter()
            .filter(|node| !node.is_client() && node.state != State::Crashed)
            .map(|node| (node.sent - node.sent_at_cut, std::cmp::Reverse(node.id.index()), node.id))
            .max();
        for node in &mut self.nodes {
            node.sent_at_cut = node.sent;
        }
        match busiest {
            _ if !declared.is_empty() => declared,
            Some((sent, _, id)) if sent > 0 => vec![id],
            _ => Vec::new(),
        }
    }

    /// Cut the primaries off from the other servers, both ways, and schedule the repair;
    /// clients still reach everyone, as in Jepsen's nemeses. Does nothing (but trace it) when
    /// there is no primary.
    fn cut_primaries(&mut self, duration: Duration) {
        let until = self.now.saturating_add(nanos(duration));
        let primaries = self.primaries();
        let (primaries, rest): (Vec<&Node>, Vec<&Node>) =
            self.nodes.iter().filter(|node| !node.is_client()).partition(|node| primaries.contains(&node.id));
        let a: Vec<NodeId> = primaries.iter().map(|node| node.id).collect();
        let b: Vec<NodeId> = rest.iter().map(|node| node.id).collect();
        let names = |side: &[&Node]| side.iter().map(|node| node.name.clone()).collect::<Vec<String>>();
        let repair = Fault::Repair { a: names(&primaries), b: names(&rest) };
        self.trace
            .record(self.now, EventKind::PrimariesCut { primaries: a.len() as u32, until: Instant::from_nanos(until) });
        if a.is_empty() || b.is_empty() {
            return;
        }
        self.partition_sets(&a, &b, false);
        self.schedule_fault(until, repair);
    }

    pub(crate) fn loss_burst(&mut self, loss: Ratio, duration: Duration) {
        let until = self.now.saturating_add(nanos(duration));
        self.net.loss_burst(loss, until);
        let event =
            EventKind::LossBurst { loss_num: loss.num(), loss_den: loss.den(), until: Instant::from_nanos(until) };
        self.trace.record(self.now, event);
    }

    pub(crate) fn latency_spike(&mut self, extra: Duration, duration: Duration) {
        let until = self.now.saturating_add(nanos(duration));
        self.net.latency_spike(nanos(extra), until);
        let event = EventKind::LatencySpike { extra_nanos: nanos(extra), until: Instant::from_nanos(until) };
        self.trace.record(self.now, event);
    }

    /// The world's part of a recover: the network healed, every clock right, a new epoch.
    /// Returns the servers to restart and the nodes to resume.
    fn recover(&mut self) -> (Vec<NodeId>, Vec<NodeId>) {
        self.heal_all();
        self.heal_disks();
        let mut crashed = Vec::new();
        let mut paused = Vec::new();
        let (now, monotonic) = (self.now, self.clocks_monotonic);
        self.crashes_armed = 0;
        let mut clocks_changed = Vec::new();
        for node in &mut self.nodes {
            if node.set_clock(now, Clock::TRUE, monotonic).1 {
                clocks_changed.push(node.id);
            }
            node.crash_after = None;
            match node.state {
                State::Crashed if !node.is_client() => crashed.push(node.id),
                State::Paused => paused.push(node.id),
                _ => {}
            }
        }
        if !clocks_changed.is_empty() {
            // Sorted by id, as pushed.
            self.retime_timers(|id| clocks_changed.binary_search(&id).is_ok());
        }
        self.recover_epoch += 1;
        self.recovered_at = Some(self.now);
        self.trace.record(self.now, EventKind::Recover);
        (crashed, paused)
    }
}

impl Shared {
    /// Apply one planned fault now.
    pub(crate) fn apply_fault(&self, fault: &Fault) {
        // State errors (restarting a node that is up) are not failures of a plan: the fault
        // simply has nothing to do. Names were checked when the plan was installed.
        let _ = match fault {
            Fault::Crash(node) => self.crash(node),
            Fault::Restart(node) => self.restart(node),
            Fault::Bounce { node, down } => self.bounce(node, *down),
            Fault::Pause(node) => self.set_paused(node, true),
            Fault::Resume(node) => self.set_paused(node, false),
            Fault::Partition { a, b } => self.sets(a, b, |world, a, b| world.partition_sets(a, b, false)),
            Fault::PartitionOneWay { from, to } => {
                self.sets(from, to, |world, from, to| world.partition_sets(from, to, true))
            }
            Fault::Repair { a, b } => self.sets(a, b, |world, a, b| world.repair_sets(a, b)),
            Fault::Isolate(node) => self.isolate(node),
            Fault::Rejoin(node) => self.rejoin(node),
            Fault::Clog { a, b, duration } => self.clog(a, b, *duration),
            Fault::HealAll => {
                self.heal_all();
                Ok(())
            }
            Fault::Skew { node, skew } => self.skew_clock(node, *skew),
            Fault::Jump { node, by_nanos } => {
                let mut world = self.world.borrow_mut();
                world.node_id(node).map(|id| world.jump_clock(id, *by_nanos))
            }
            Fault::LossBurst { loss, duration } => {
                self.world.borrow_mut().loss_burst(*loss, *duration);
                Ok(())
            }
            Fault::LatencySpike { extra, duration } => {
                self.world.borrow_mut().latency_spike(*extra, *duration);
                Ok(())
            }
            Fault::DiskErrors { node, ratio, duration } => {
                self.disk_fault(node, DiskFaultKind::Errors, *ratio, Duration::ZERO, *duration)
            }
            Fault::DiskMisdirect { node, ratio, duration } => {
                self.disk_fault(node, DiskFaultKind::Misdirect, *ratio, Duration::ZERO, *duration)
            }
            Fault::DiskFull { node, duration } => {
                self.disk_fault(node, DiskFaultKind::Full, Ratio::NEVER, Duration::ZERO, *duration)
            }
            Fault::DiskSlow { node, extra, duration } => {
                self.disk_fault(node, DiskFaultKind::Slow, Ratio::NEVER, *extra, *duration)
            }
            Fault::DiskCorrupt(node) => {
                self.disk_fault(node, DiskFaultKind::Corrupt, Ratio::NEVER, Duration::ZERO, Duration::ZERO)
            }
            Fault::Duplicate { ratio, duration } => {
                self.world.borrow_mut().duplicate_window(*ratio, *duration);
                Ok(())
            }
            Fault::Reorder { ratio, spread, duration } => {
                self.world.borrow_mut().reorder_window(*ratio, *spread, *duration);
                Ok(())
            }
            Fault::PartitionPrimaries { duration } => {
                self.world.borrow_mut().cut_primaries(*duration);
                Ok(())
            }
            Fault::Strobe { node, by, period, duration } => {
                let mut world = self.world.borrow_mut();
                world.node_id(node).map(|id| world.strobe(id, *by, *period, *duration))
            }
            Fault::CrashAfter { node, trigger, down } => {
                let mut world = self.world.borrow_mut();
                world.node_id(node).map(|id| world.arm_crash(id, *trigger, *down))
            }
            Fault::Recover => {
                self.recover();
                Ok(())
            }
        };
    }

    /// Crash the nodes whose armed crash went off during the last poll, each restarting after
    /// its downtime. After a send, what the node sent is on the wire: it still arrives.
    pub(crate) fn crash_due(&self) {
        let due = std::mem::take(&mut self.world.borrow_mut().crashes_due);
        for (node, down, trigger) in due {
            if self.crash_keeping(node, trigger == Trigger::Send).is_ok() {
                self.world.borrow_mut().schedule_restart(node, down);
            }
        }
    }

    fn disk_fault(
        &self,
        node: &str,
        kind: DiskFaultKind,
        ratio: Ratio,
        extra: Duration,
        duration: Duration,
    ) -> Result<(), Error> {
        let mut world = self.world.borrow_mut();
        let id = world.node_id(node)?;
        world.disk_fault(id, kind, ratio, extra, duration);
        Ok(())
    }

    /// Apply `f` to two sets of nodes named in a fault.
    fn sets(&self, a: &[String], b: &[String], f: impl FnOnce(&mut World, &[NodeId], &[NodeId])) -> Result<(), Error> {
        let mut world = self.world.borrow_mut();
        let a: Vec<NodeId> = a.iter().map(|n| world.node_id(n)).collect::<Result<_, _>>()?;
        let b: Vec<NodeId> = b.iter().map(|n| world.node_id(n)).collect::<Result<_, _>>()?;
        f(&mut world, &a, &b);
        Ok(())
    }

    /// End every fault: heal the network, restart crashed servers, resume paused nodes, set
    /// every clock right, and start a new liveness epoch.
    pub(crate) fn recover(&self) {
        let (crashed, paused) = self.world.borrow_mut().recover();
        for node in paused {
            if self.world.borrow_mut().set_paused(node, false).unwrap_or(false) {
                self.tasks.borrow_mut().set_paused(node, false);
            }
        }
        for node in crashed {
            self.start_node(node);
        }
    }
}

impl Sim {
    /// Install a fault plan: each fault happens at its time from the start of the run.
    /// Several plans can be installed; the report shows them together.
    ///
    /// ```
    /// use std::time::Duration;
    /// use seedsim::{fault::FaultPlan, time::sleep, Seed, Sim};
    /// let mut sim = Sim::new(Seed(1));
    /// sim.node("db", || async { sleep(Duration::from_secs(60)).await })?;
    /// sim.client("c", async { sleep(Duration::from_secs(2)).await; Ok::<(), std::io::Error>(()) })?;
    /// sim.faults("500ms crash db\n1s restart db\n1500ms recover".parse::<FaultPlan>()?)?;
    /// let summary = sim.run().unwrap();
    /// assert_eq!(summary.faults.len(), 3);
    /// # Ok::<(), seedsim::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`ErrorKind::UnknownNode`] for a name no node has; [`ErrorKind::InvalidNodeState`] for a
    /// crash, restart, bounce, pause or resume aimed at a client (clients run once);
    /// [`ErrorKind::InvalidConfig`] for a fault timed before the current simulated time.
    pub fn faults(&mut self, plan: FaultPlan) -> Result<(), Error> {
        {
            let world = self.shared.world.borrow();
            for timed in plan.faults() {
                if let Some(expected) = timed.fault.invalid() {
                    return Err(Error::new(
                        ErrorKind::InvalidConfig { field: "FaultPlan", expected },
                        format!("{:?} {}", timed.at, timed.fault),
                    ));
                }
                for name in timed.fault.nodes() {
                    let id = world.node_id(name)?;
                    if timed.fault.needs_server() && world.node(id).is_client() {
                        return Err(Error::new(
                            ErrorKind::InvalidNodeState {
                                operation: timed.fault.kind(),
                                reason: "it is a client, which runs once; only nodes added with Sim::node can crash or pause",
                            },
                            name,
                        ));
                    }
                }
                if nanos(timed.at) < world.now {
                    return Err(Error::new(
                        ErrorKind::InvalidConfig {
                            field: "FaultPlan",
                            expected: "faults timed at or after the current simulated time",
                        },
                        format!("{:?} {}", timed.at, timed.fault),
                    ));
                }
            }
        }
        let mut world = self.shared.world.borrow_mut();
        for timed in plan.faults() {
            world.schedule_fault(nanos(timed.at), timed.fault.clone());
        }
        drop(world);
        self.plan = self.plan.merged(&plan);
        Ok(())
    }

    /// Install the plan a [`Nemesis`] with `profile` writes for this run's seed: servers
    /// (nodes added with [`Sim::node`]) may crash and pause, and every node, clients too,
    /// takes network and clock faults. Returns the plan. Add the nodes first.
    ///
    /// ```
    /// use std::time::Duration;
    /// use seedsim::{fault::Profile, time::sleep, Seed, Sim};
    /// let mut sim = Sim::new(Seed(4));
    /// for name in ["a", "b", "c"] {
    ///     sim.node(name, || async { sleep(Duration::from_secs(60)).await })?;
    /// }
    /// sim.client("c1", async { sleep(Duration::from_secs(15)).await; Ok::<(), std::io::Error>(()) })?;
    /// let plan = sim.nemesis(Profile::chaos())?;
    /// assert!(plan.len() > 5);
    /// sim.run().unwrap();
    /// # Ok::<(), seedsim::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`Sim::faults`] (a profile's `focus` must name a node).
    pub fn nemesis(&mut self, profile: Profile) -> Result<FaultPlan, Error> {
        if let Some(focus) = &profile.focus {
            self.shared.world.borrow().node_id(focus)?;
        }
        let (servers, nodes) = self.server_and_node_names();
        let plan = Nemesis::new(profile).plan(self.config.seed, &servers, &nodes);
        self.faults(plan.clone())?;
        Ok(plan)
    }

    /// The names of the servers (nodes added with [`Sim::node`]) and of every node.
    pub(crate) fn server_and_node_names(&self) -> (Vec<String>, Vec<String>) {
        let world = self.shared.world.borrow();
        let servers = world.nodes.iter().filter(|n| !n.is_client()).map(|n| n.name.clone()).collect();
        (servers, world.names())
    }

    /// What `node`'s disk would hold if it crashed now with nothing unsynced surviving: its
    /// durable files and their synced contents, by path. For tests of recovery.
    ///
    /// # Errors
    /// [`ErrorKind::UnknownNode`].
    pub fn disk_files(&self, node: &str) -> Result<Vec<(String, Vec<u8>)>, Error> {
        let world = self.shared.world.borrow();
        let id = world.node_id(node)?;
        Ok(world.disks[id.index()].durable_image())
    }

    /// What the run has used so far: whether some node wrote a file or sent a datagram. [`Profile::relevant_to`] leaves out the fault kinds that cannot
    /// touch a scenario that uses none of them; exploration learns it from a probe run.
    ///
    /// ```
    /// use seedsim::{net::UdpSocket, Seed, Sim};
    /// let mut sim = Sim::new(Seed(1));
    /// sim.client("c", async {
    ///     UdpSocket::bind("0.0.0.0:0").await?.send_to(b"hi", "c:9").await?;
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// sim.run().unwrap();
    /// let usage = sim.usage();
    /// assert!(usage.datagrams && !usage.disk);
    /// # Ok::<(), seedsim::Error>(())
    /// ```
    pub fn usage(&self) -> crate::fault::Usage {
        self.shared.world.borrow().usage()
    }

    /// Every fault plan installed so far, merged.
    pub fn fault_plan(&self) -> &FaultPlan {
        &self.plan
    }

    /// End every fault now: heal the network, restart crashed servers, resume paused
    /// nodes, set every clock right. Liveness properties are measured from the last recover.
    pub fn recover(&mut self) {
        let _entered = self.enter();
        self.shared.recover();
    }
}
