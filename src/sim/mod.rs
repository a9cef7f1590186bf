//! [`Sim`]: build a world of nodes and clients, run it, and read how it ended.
//!
//! The run loop (`Sim::advance`) is the one place that decides what happens next: poll one
//! ready task, or, when none is ready, jump the clock to the next event and process every
//! event due then. It checks the limits and the end conditions between steps. Everything it
//! needs computed is asked of the world (`state`) or the tasks (`runtime`).

mod block_on;
mod checks;
mod config;
pub(crate) mod control;
mod faults;
pub(crate) mod outcome;
pub(crate) mod state;

pub use block_on::BlockOnError;
pub use config::{Builder, Config, OnLimit, OnNodeError};

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::panic::{self, AssertUnwindSafe, Location};
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use crate::context::{Enter, Shared};
use crate::error::Error;
use crate::fault::FaultPlan;
use crate::net::Link;
use crate::node::{Exit, MainFuture, NodeId, Role, State};
use crate::rand::{Purpose, Stream};
use crate::runtime::{panic as task_panic, waker, Picked, Tasks};
use crate::seed::Seed;
use crate::time::{nanos, Instant, Skew};
use crate::trace::{Event, EventKind, Trace};
use outcome::{BlockedTask, Cause, End, Failure, Outcome, Summary};
use state::{Fired, World};

/// A simulated world: nodes, clients, a network and a clock, all driven by one seed.
///
/// Add nodes with [`Sim::node`] and clients with [`Sim::client`], then [`Sim::run`] it. Faults
/// can be injected between [`Sim::step`]s from the test, or from inside the simulation
/// through [`seedsim::world`](crate::world).
///
/// ```
/// use std::time::Duration;
/// use seedsim::{net::UdpSocket, Seed, Sim};
///
/// async fn echo_server() -> std::io::Result<()> {
///     let socket = UdpSocket::bind("0.0.0.0:9000").await?;
///     let mut buf = [0; 64];
///     loop {
///         let (len, from) = socket.recv_from(&mut buf).await?;
///         socket.send_to(&buf[..len], from).await?;
///     }
/// }
///
/// let mut sim = Sim::new(Seed(42));
/// sim.node("server", echo_server)?;
/// sim.client("client", async {
///     let socket = UdpSocket::bind("0.0.0.0:0").await?;
///     socket.send_to(b"ping", ("server", 9000)).await?;
///     let mut buf = [0; 64];
///     let (len, _) = socket.recv_from(&mut buf).await?;
///     assert_eq!(&buf[..len], b"ping");
///     Ok::<(), std::io::Error>(())
/// })?;
/// let summary = sim.run().unwrap();
/// assert!(summary.time > seedsim::time::Instant::ZERO);
/// # Ok::<(), seedsim::Error>(())
/// ```
pub struct Sim {
    shared: Box<Shared>,
    config: Config,
    steps: u64,
    started: bool,
    outcome: Option<Outcome>,
    log: Option<tracing::Dispatch>,
    /// Every fault plan installed, merged, for reports.
    plan: FaultPlan,
    checks: checks::Checks,
    /// This thread's watchdog slot, while the watchdog is on.
    watch: Option<crate::watchdog::Watch>,
}

impl std::fmt::Debug for Sim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sim").field("seed", &self.config.seed).field("steps", &self.steps).finish_non_exhaustive()
    }
}

/// The cause for `count` wakes from another thread that came after the run went idle.
pub(crate) fn late_wakes(count: usize) -> Cause {
    Cause::Nondeterminism {
        message: format!(
            "{count} task wake(s) came from another thread or from outside the simulation after the run went \
             idle (it looked like a deadlock): node code must not use threads or another runtime's I/O or timers \
             (use seedsim's time, net and task APIs)"
        ),
    }
}

/// The replay line of a failure of a run with this seed: `SEEDSIM_SEED=… command`, or, for a
/// `Sim` built by hand, what to do instead.
pub(crate) fn replay_line(seed: Seed, command: Option<&str>) -> String {
    match command {
        Some(command) => format!("SEEDSIM_SEED={seed} {command}"),
        None => format!("build the Sim with Seed({seed}) again (seedsim::Runner gives a SEEDSIM_SEED=… replay line)"),
    }
}

impl Sim {
    /// Wakes from another thread for this world's tasks, waiting up to
    /// `waker::FOREIGN_GRACE_CHECKS` ms of host time for one: after a run that ended in a
    /// deadlock, a wake that comes late from a thread the node code started means the
    /// deadlock was a determinism failure.
    pub(crate) fn late_foreign_wakes(&self) -> usize {
        waker::await_foreign(self.shared.tag)
    }

    /// A simulation with default settings and this seed.
    pub fn new(seed: Seed) -> Sim {
        Sim::with_config(Config { seed, ..Config::default() }).expect("the default config is valid")
    }

    /// A builder for other settings.
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// A simulation with these settings.
    ///
    /// # Errors
    /// As [`Builder::build`].
    pub fn with_config(config: Config) -> Result<Sim, Error> {
        config.validate()?;
        let log = config.log.as_deref().map(crate::log::dispatch).transpose()?;
        task_panic::install_hook();
        let seed = config.seed;
        let mut trace = Trace::new(config.trace_tail, config.record_trace);
        trace.set_log(log.is_some());
        trace.set_feedback(config.feedback);
        let id = waker::next_world_id();
        let shared = Box::new(Shared {
            tag: waker::next_world_tag(),
            id,
            world: RefCell::new({
                let mut world = World::new(seed, config.link, trace, config.scheduled_max);
                world.id = id;
                world.disk_config = config.disk;
                world.clocks_monotonic = config.clocks_monotonic;
                world.on_node_error = config.on_node_error;
                world
            }),
            tasks: RefCell::new(Tasks::new(
                config.policy,
                Stream::for_purpose(seed, Purpose::Scheduler),
                config.tasks_max,
            )),
            inbox: RefCell::new(Vec::new()),
            log_stamp: Cell::new((0, None)),
            log_names: RefCell::new(Vec::new()),
        });
        shared.world.borrow_mut().net.streams.configure(seed, config.stream);
        let watch = if config.watchdog.is_zero() { None } else { crate::watchdog::Watch::new() };
        Ok(Sim {
            shared,
            config,
            steps: 0,
            started: false,
            outcome: None,
            log,
            plan: FaultPlan::new(),
            checks: Default::default(),
            watch,
        })
    }

    /// The seed.
    pub fn seed(&self) -> Seed {
        self.config.seed
    }

    /// The settings.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Add a node. `factory` builds its main future; it is called when the run starts and
    /// again on every restart, so state that must survive a crash lives outside it (as a
    /// disk's would). The future may return `()` or a `Result`; an `Err` fails the run.
    ///
    /// Nodes start at time zero in the order they were added (or at once, if the run has
    /// begun).
    ///
    /// # Errors
    /// [`ErrorKind::InvalidNodeName`](crate::ErrorKind::InvalidNodeName) or [`ErrorKind::DuplicateNode`](crate::ErrorKind::DuplicateNode).
    #[track_caller]
    pub fn node<F, Fut>(&mut self, name: &str, factory: F) -> Result<NodeId, Error>
    where
        F: Fn() -> Fut + 'static,
        Fut: Future + 'static,
        Fut::Output: Exit,
    {
        let factory = Rc::new(move || -> MainFuture {
            let future = factory();
            Box::pin(async move { future.await.into_exit() })
        });
        self.add(name, Role::Server { factory }, Location::caller())
    }

    /// Add a client: a node whose future runs once. The run passes when every client has
    /// finished; a client returning `Err` fails it. Clients cannot crash or restart.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidNodeName`](crate::ErrorKind::InvalidNodeName) or [`ErrorKind::DuplicateNode`](crate::ErrorKind::DuplicateNode).
    #[track_caller]
    pub fn client<Fut>(&mut self, name: &str, future: Fut) -> Result<NodeId, Error>
    where
        Fut: Future + 'static,
        Fut::Output: Exit,
    {
        let future: MainFuture = Box::pin(async move { future.await.into_exit() });
        self.add(name, Role::Client { future: Some(future), finished: false }, Location::caller())
    }

    fn add(&mut self, name: &str, role: Role, location: &'static Location<'static>) -> Result<NodeId, Error> {
        let id = self.shared.world.borrow_mut().add_node(name, role, location)?;
        self.shared.log_names.borrow_mut().push(name.to_owned());
        if self.started {
            self.describe_to_watchdog();
        }
        if self.started && self.outcome.is_none() {
            let _entered = self.enter();
            self.shared.start_node(id);
        }
        Ok(id)
    }

    /// Make this simulation current on this thread (and its log subscriber, if any) until
    /// the guard drops: every method that can change the world runs inside one.
    fn enter(&self) -> (Option<tracing::dispatcher::DefaultGuard>, Enter) {
        if let Some(watch) = &self.watch {
            watch.enter(self.shared.id, self.config.seed, self.config.watchdog);
        }
        (self.log.as_ref().map(tracing::dispatcher::set_default), Enter::new(&self.shared))
    }

    /// Give the watchdog what a report needs beyond the poll: node names and the replay command.
    fn describe_to_watchdog(&self) {
        if let Some(watch) = &self.watch {
            let world = self.shared.world.borrow();
            let names = world.nodes.iter().map(|node| node.name.as_str());
            watch.describe(self.shared.id, self.config.replay_command.as_deref(), names);
        }
    }

    /// Set the watchdog's limit, as [`Builder::watchdog`] would have: for `explore
    /// --watchdog`, which builds a scenario's own `Builder`.
    #[cfg(feature = "explore")]
    pub(crate) fn set_watchdog(&mut self, limit: Duration) {
        assert!(!self.started, "the watchdog is set before the run starts");
        self.config.watchdog = limit;
        self.watch = if limit.is_zero() { None } else { crate::watchdog::Watch::new() };
    }

    /// Run until the run ends.
    pub fn run(&mut self) -> Outcome {
        let _entered = self.enter();
        loop {
            if let Advance::Ended(outcome) = self.advance(u64::MAX) {
                return outcome;
            }
        }
    }

    /// Make one step: poll one ready task (moving the clock to the next event first if none
    /// is ready). Returns the outcome once the run has ended.
    pub fn step(&mut self) -> Option<Outcome> {
        let _entered = self.enter();
        match self.advance(u64::MAX) {
            Advance::Ended(outcome) => Some(outcome),
            Advance::Polled | Advance::Idle => None,
        }
    }

    /// Run until simulated time reaches `deadline` (and every task ready then has run), or
    /// the run ends. Returns the outcome if it ended.
    pub fn run_until(&mut self, deadline: Instant) -> Option<Outcome> {
        let _entered = self.enter();
        loop {
            match self.advance(deadline.as_nanos()) {
                Advance::Polled => {}
                Advance::Idle => {
                    self.shared.world.borrow_mut().idle_until(deadline.as_nanos());
                    return None;
                }
                Advance::Ended(outcome) => return Some(outcome),
            }
        }
    }

    /// True simulated time (no node's skew).
    pub fn now(&self) -> Instant {
        Instant::from_nanos(self.shared.world.borrow().now)
    }

    /// Steps (polls) made so far.
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// The trace hash so far.
    pub fn trace_hash(&self) -> u64 {
        self.shared.world.borrow().trace.hash()
    }

    /// Collect behaviour feedback, as [`Builder::feedback`] would have: for `explore
    /// --guided`, which builds a scenario's own `Builder`.
    #[cfg(feature = "explore")]
    pub(crate) fn set_feedback(&mut self, on: bool) {
        assert!(!self.started, "feedback is switched before the run starts");
        self.config.feedback = on;
        self.shared.world.borrow_mut().trace.set_feedback(on);
    }

    /// The whole trace, if the simulation was built with `record_trace(true)`.
    pub fn take_trace(&mut self) -> Option<Vec<Event>> {
        self.shared.world.borrow_mut().trace.take_full()
    }

    /// Node names by index, for [`Event::describe`].
    pub fn node_names(&self) -> Vec<String> {
        self.shared.world.borrow().names()
    }

    /// True if the node is running or paused (not crashed, and started).
    ///
    /// # Errors
    /// [`ErrorKind::UnknownNode`](crate::ErrorKind::UnknownNode).
    pub fn is_up(&self, name: &str) -> Result<bool, Error> {
        let world = self.shared.world.borrow();
        let id = world.node_id(name)?;
        Ok(world.node(id).is_up())
    }

    // --- faults, from the test between steps ---------------------------------------------------

    /// Crash a node now: see [`world::crash`](crate::world::crash).
    ///
    /// # Errors
    /// As [`world::crash`](crate::world::crash).
    pub fn crash(&mut self, name: &str) -> Result<(), Error> {
        let _entered = self.enter();
        self.shared.crash(name)
    }

    /// Restart a crashed node now: see [`world::restart`](crate::world::restart).
    ///
    /// # Errors
    /// As [`world::restart`](crate::world::restart).
    pub fn restart(&mut self, name: &str) -> Result<(), Error> {
        let _entered = self.enter();
        self.shared.restart(name)
    }

    /// Crash a node now and restart it after `down_for`.
    ///
    /// # Errors
    /// As [`world::bounce`](crate::world::bounce).
    pub fn bounce(&mut self, name: &str, down_for: Duration) -> Result<(), Error> {
        let _entered = self.enter();
        self.shared.bounce(name, down_for)
    }

    /// Pause a node: see [`world::pause`](crate::world::pause).
    ///
    /// # Errors
    /// As [`world::pause`](crate::world::pause).
    pub fn pause(&mut self, name: &str) -> Result<(), Error> {
        let _entered = self.enter();
        self.shared.set_paused(name, true)
    }

    /// Resume a paused node.
    ///
    /// # Errors
    /// As [`world::resume`](crate::world::resume).
    pub fn resume(&mut self, name: &str) -> Result<(), Error> {
        let _entered = self.enter();
        self.shared.set_paused(name, false)
    }

    /// Partition two nodes both ways.
    ///
    /// Partitions stack: a pair cut twice needs two [`repair`](Sim::repair)s (or one
    /// [`heal_all`](Sim::heal_all)), so overlapping faults compose and the end of a short one
    /// does not end a longer one.
    ///
    /// # Errors
    /// [`ErrorKind::UnknownNode`](crate::ErrorKind::UnknownNode).
    pub fn partition(&mut self, a: &str, b: &str) -> Result<(), Error> {
        let _entered = self.enter();
        self.shared.partition(a, b)
    }

    /// Block datagrams from `from` to `to` only.
    ///
    /// # Errors
    /// [`ErrorKind::UnknownNode`](crate::ErrorKind::UnknownNode).
    pub fn partition_oneway(&mut self, from: &str, to: &str) -> Result<(), Error> {
        let _entered = self.enter();
        self.shared.partition_oneway(from, to)
    }

    /// Undo one partition between two nodes, both ways (a pair that is not partitioned is
    /// left as it is).
    ///
    /// # Errors
    /// [`ErrorKind::UnknownNode`](crate::ErrorKind::UnknownNode).
    pub fn repair(&mut self, a: &str, b: &str) -> Result<(), Error> {
        let _entered = self.enter();
        self.shared.repair(a, b)
    }

    /// Undo a one-way partition.
    ///
    /// # Errors
    /// [`ErrorKind::UnknownNode`](crate::ErrorKind::UnknownNode).
    pub fn repair_oneway(&mut self, from: &str, to: &str) -> Result<(), Error> {
        let _entered = self.enter();
        self.shared.repair_oneway(from, to)
    }

    /// Cut a node off from every other node. Isolations stack like partitions: each needs
    /// its [`rejoin`](Sim::rejoin).
    ///
    /// # Errors
    /// [`ErrorKind::UnknownNode`](crate::ErrorKind::UnknownNode).
    pub fn isolate(&mut self, name: &str) -> Result<(), Error> {
        let _entered = self.enter();
        self.shared.isolate(name)
    }

    /// Undo one isolation of a node.
    ///
    /// # Errors
    /// [`ErrorKind::UnknownNode`](crate::ErrorKind::UnknownNode).
    pub fn rejoin(&mut self, name: &str) -> Result<(), Error> {
        let _entered = self.enter();
        self.shared.rejoin(name)
    }

    /// Clog the link between two nodes (both ways) for `duration`.
    ///
    /// # Errors
    /// [`ErrorKind::UnknownNode`](crate::ErrorKind::UnknownNode).
    pub fn clog(&mut self, a: &str, b: &str, duration: Duration) -> Result<(), Error> {
        let _entered = self.enter();
        self.shared.clog(a, b, duration)
    }

    /// Override the link from `from` to `to`.
    ///
    /// # Errors
    /// [`ErrorKind::UnknownNode`](crate::ErrorKind::UnknownNode), or [`ErrorKind::InvalidConfig`](crate::ErrorKind::InvalidConfig) for a bad latency.
    pub fn set_link(&mut self, from: &str, to: &str, link: Link) -> Result<(), Error> {
        let _entered = self.enter();
        self.shared.set_link(from, to, link)
    }

    /// Remove every partition, isolation and clog.
    pub fn heal_all(&mut self) {
        let _entered = self.enter();
        self.shared.heal_all()
    }

    /// Change the stream faults from now on: see
    /// [`world::set_stream_faults`](crate::world::set_stream_faults).
    ///
    /// # Errors
    /// As [`world::set_stream_faults`](crate::world::set_stream_faults).
    pub fn set_stream_faults(&mut self, faults: crate::net::StreamFaults) -> Result<(), Error> {
        let _entered = self.enter();
        self.shared.set_stream_faults(faults)
    }

    /// Set a node's clock off true time.
    ///
    /// # Errors
    /// [`ErrorKind::UnknownNode`](crate::ErrorKind::UnknownNode).
    pub fn skew_clock(&mut self, name: &str, skew: Skew) -> Result<(), Error> {
        let _entered = self.enter();
        self.shared.skew_clock(name, skew)
    }

    // --- the run loop ------------------------------------------------------------------------

    fn start(&mut self) {
        self.started = true;
        self.describe_to_watchdog();
        let ids: Vec<NodeId> = {
            let world = self.shared.world.borrow();
            world.nodes.iter().filter(|node| node.state == State::Added).map(|node| node.id).collect()
        };
        for id in ids {
            self.shared.start_node(id);
        }
        self.checks.schedule(&mut self.shared.world.borrow_mut());
    }

    /// One step of the run: poll one task, or report that nothing can happen before `until`
    /// (true nanoseconds), or that the run ended. The caller has entered the context.
    fn advance(&mut self, until: u64) -> Advance {
        if let Some(outcome) = &self.outcome {
            return Advance::Ended(outcome.clone());
        }
        if !self.started {
            self.start();
        }
        let shared = &*self.shared;
        loop {
            let foreign = waker::take_foreign(shared.tag);
            if foreign > 0 {
                shared.world.borrow_mut().fail(Cause::Nondeterminism {
                    message: format!(
                        "{foreign} task wake(s) came from another thread or from outside the simulation; \
                         node code must not use threads or another runtime's I/O (use seedsim's time, net and task APIs)"
                    ),
                });
            }
            {
                // One borrow for both checks, and the (large) failure moved only if there is one.
                let mut world = shared.world.borrow_mut();
                if world.failing.is_some() {
                    let failing = world.failing.take().expect("checked");
                    drop(world);
                    return Advance::Ended(self.finish_failed(failing.cause, failing.node, failing.task));
                }
                if world.clients > 0 && world.clients_unfinished == 0 {
                    drop(world);
                    return Advance::Ended(self.finish_passed(End::ClientsDone));
                }
                if !world.crashes_due.is_empty() {
                    // A crash armed to go off at a send or receive: the poll that sent or
                    // received is over, and nothing else has run since.
                    drop(world);
                    shared.crash_due();
                    continue;
                }
            }
            let picked = {
                let mut tasks = shared.tasks.borrow_mut();
                tasks.drain_inbox(&mut shared.inbox.borrow_mut());
                tasks.pick(self.steps)
            };
            if let Some(picked) = picked {
                if self.steps >= self.config.steps_max {
                    // Not polled: put it back so a later look at the world is consistent.
                    let (key, generation) = (picked.key, picked.generation);
                    drop(shared.tasks.borrow_mut().put_back(key, generation, picked.future));
                    return Advance::Ended(
                        self.finish_limit(Cause::StepLimit { limit: self.config.steps_max }, End::StepLimit),
                    );
                }
                self.poll(picked);
                self.after_step();
                return Advance::Polled;
            }
            let next = shared.world.borrow().next_event_at();
            let Some(at) = next else {
                let unfinished = shared.world.borrow().clients_unfinished;
                return Advance::Ended(if unfinished > 0 {
                    // Wakes from another thread that came in while the run went idle. (Waiting
                    // for later ones costs host time on every deadlock, which sweeps find by
                    // the thousand: `Runner` waits, once, for the deadlock it reports.)
                    let foreign = waker::take_foreign(shared.tag);
                    if foreign > 0 {
                        return Advance::Ended(self.finish_failed(late_wakes(foreign), None, None));
                    }
                    let blocked = self.blocked_tasks();
                    self.finish_failed(Cause::Deadlock { blocked }, None, None)
                } else {
                    self.finish_passed(End::Quiescent)
                });
            };
            // A caller's bound comes first: the run is alive at `until`, whatever follows.
            if at > until {
                return Advance::Idle;
            }
            if at > nanos(self.config.time_limit) {
                return Advance::Ended(
                    self.finish_limit(Cause::TimeLimit { limit: self.config.time_limit }, End::TimeLimit),
                );
            }
            shared.log_stamp.set((at, None));
            loop {
                let fired = shared.world.borrow_mut().pop_due(at);
                match fired {
                    None => break,
                    Some(Fired::Wake(waker)) => shared.wake(waker),
                    Some(Fired::Wakes(wakers)) => wakers.into_iter().flatten().for_each(|waker| shared.wake(waker)),
                    Some(Fired::Restart(node)) => drop(shared.start_node(node)),
                    Some(Fired::Fault(fault)) => {
                        shared.apply_fault(&fault);
                        self.checks.schedule(&mut shared.world.borrow_mut());
                    }
                    Some(Fired::Deadline { check, epoch }) => {
                        let cause = self.checks.deadline(check, epoch, &shared.world.borrow());
                        if let Some(cause) = cause {
                            shared.world.borrow_mut().fail_at(cause, None, None);
                        }
                    }
                    Some(Fired::Nothing) => {}
                }
            }
        }
    }

    /// Run the registered checks, every `check_every` steps.
    fn after_step(&mut self) {
        if self.checks.is_empty() || self.steps % self.config.check_every != 0 {
            return;
        }
        let epoch = {
            let mut world = self.shared.world.borrow_mut();
            self.checks.schedule(&mut world);
            world.recover_epoch
        };
        if let Some(cause) = self.checks.after_step(epoch) {
            self.shared.world.borrow_mut().fail_at(cause, None, None);
        }
    }

    fn poll(&mut self, picked: Picked) {
        let shared = &*self.shared;
        let Picked { key, generation, id, node, spawned_at, mut future } = picked;
        {
            let mut world = shared.world.borrow_mut();
            world.current = Some((node, id));
            let now = world.now;
            // Stamp first, so the Poll event's own log line names the task's node.
            shared.log_stamp.set((now, Some(node.0)));
            world.trace.record(now, EventKind::Poll { task: id, node });
            if let Some(watch) = &self.watch {
                let trace_hash = world.trace.hash();
                let step = self.steps + 1;
                watch.begin(crate::watchdog::Poll { step, now, trace_hash, node, task: id, site: spawned_at });
            }
        }
        self.steps += 1;
        let waker = waker::waker(waker::pack(shared.tag, generation, key));
        let mut cx = Context::from_waker(&waker);
        let polled = panic::catch_unwind(AssertUnwindSafe(|| future.as_mut().poll_erased(&mut cx)));
        if let Some(watch) = &self.watch {
            watch.end();
        }
        match polled {
            Ok(Poll::Pending) => {
                shared.world.borrow_mut().current = None;
                if let Some(cancelled) = shared.tasks.borrow_mut().put_back(key, generation, future) {
                    // Its node crashed, or it aborted itself, during this poll.
                    shared.drop_task(cancelled, node, id);
                }
            }
            Ok(Poll::Ready(output)) => {
                // Dropped while the task is still current, so its destructors know their node.
                shared.drop_task(future, node, id);
                let completed = shared.tasks.borrow_mut().complete(key, generation, output);
                {
                    let mut world = shared.world.borrow_mut();
                    world.current = None;
                    if completed.live {
                        let now = world.now;
                        world.trace.record(now, EventKind::TaskDone { task: id });
                    }
                }
                if let Some(output) = completed.output {
                    drop_quietly(output);
                }
                if let Some(waker) = completed.join_waker {
                    shared.wake(waker);
                }
            }
            Err(payload) => {
                let (message, location) = task_panic::take_last(&*payload);
                shared.world.borrow_mut().fail(Cause::Panic { message, location });
                drop_quietly(future);
                drop_quietly(payload);
                shared.world.borrow_mut().current = None;
                let removed = shared.tasks.borrow_mut().cancel(key, generation);
                shared.finish_removed(removed);
            }
        }
    }

    fn blocked_tasks(&self) -> Vec<BlockedTask> {
        let world = self.shared.world.borrow();
        let tasks = self.shared.tasks.borrow();
        tasks
            .live()
            .map(|task| BlockedTask {
                task: task.id,
                node: world.node(task.node).name.clone(),
                spawned_at: format!("{}:{}", task.spawned_at.file(), task.spawned_at.line()),
                paused: tasks.is_paused(task.node),
            })
            .collect()
    }

    fn finish_limit(&mut self, cause: Cause, end: End) -> Outcome {
        match self.config.on_limit {
            OnLimit::Fail => self.finish_failed(cause, None, None),
            OnLimit::Pass => self.finish_passed(end),
        }
    }

    fn finish_passed(&mut self, end: End) -> Outcome {
        let liveness = self.checks.at_end(&self.shared.world.borrow());
        if let Some(cause) = liveness {
            return self.finish_failed(cause, None, None);
        }
        if let Some(blame) = self.checks.histories() {
            let cause = Cause::History { message: blame.message, op: blame.op };
            let outcome = self.finish_failed(cause, blame.node, None);
            return self.pointed_at(outcome, blame.at);
        }
        let world = self.shared.world.borrow();
        let coverage = world.coverage();
        let outcome = Outcome::Passed(Summary {
            seed: self.config.seed,
            end,
            time: Instant::from_nanos(world.now),
            steps: self.steps,
            events: world.trace.count(),
            trace_hash: world.trace.hash(),
            tasks_spawned: self.shared.tasks.borrow().spawned(),
            net: world.net.stats,
            faults: self.plan.clone(),
            feedback: world.trace.feedback(&coverage),
            coverage,
        });
        drop(world);
        self.outcome = Some(outcome.clone());
        outcome
    }

    /// A failure whose time is `at` (true ns), the moment the blamed thing happened, rather
    /// than the end of the run.
    fn pointed_at(&mut self, outcome: Outcome, at: Option<u64>) -> Outcome {
        let (Outcome::Failed(mut failure), Some(at)) = (outcome.clone(), at) else { return outcome };
        failure.time = Instant::from_nanos(at);
        let outcome = Outcome::Failed(failure);
        self.outcome = Some(outcome.clone());
        outcome
    }

    fn finish_failed(&mut self, cause: Cause, node: Option<NodeId>, task: Option<crate::task::TaskId>) -> Outcome {
        let world = self.shared.world.borrow();
        let names = world.names();
        let coverage = world.coverage();
        let failure = Failure {
            seed: self.config.seed,
            time: Instant::from_nanos(world.now),
            step: self.steps,
            node: node.map(|id| world.node(id).name.clone()),
            task,
            cause,
            last_events: world.trace.tail().map(|event| event.describe(&names).to_string()).collect(),
            trace_hash: world.trace.hash(),
            replay: replay_line(self.config.seed, self.config.replay_command.as_deref()),
            faults: self.plan.clone(),
            feedback: world.trace.feedback(&coverage),
            coverage,
            files: Vec::new(),
        };
        drop(world);
        let outcome = Outcome::Failed(Box::new(failure));
        self.outcome = Some(outcome.clone());
        outcome
    }

    /// How much the world holds right now: for tests of memory bounds and for benchmarks.
    ///
    /// ```
    /// let mut sim = seedsim::Sim::new(seedsim::Seed(1));
    /// for i in 0..1_000 {
    ///     sim.node(&format!("n{i}"), || async {})?;
    /// }
    /// assert_eq!(sim.counts().link_pairs, 0); // links are stored only where they differ
    /// # Ok::<(), seedsim::Error>(())
    /// ```
    pub fn counts(&self) -> Counts {
        let world = self.shared.world.borrow();
        Counts {
            link_pairs: world.net.pair_count(),
            set_partitions: world.net.cut_count(),
            datagrams_in_flight: world.net.in_flight_count(),
            events_scheduled: world.pending_events(),
            tasks_live: self.shared.tasks.borrow().live_count(),
            stream_endpoints: world.net.streams.endpoint_count(),
            segments_in_flight: world.net.streams.in_flight_count(),
        }
    }
}

/// What a world holds at one moment. See [`Sim::counts`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Counts {
    /// Directed node pairs with a stored link record (an override, a partition, a clog, or
    /// traffic whose order must be kept).
    pub link_pairs: usize,
    /// Partitions between sets of nodes in force, one per direction, each held as two sets
    /// rather than pair by pair (small ones are counted in `link_pairs` instead). A repair
    /// that takes part of one may leave it in two pieces, counted as two.
    pub set_partitions: usize,
    /// Datagrams sent and not yet arrived (including those marked to drop on arrival).
    pub datagrams_in_flight: usize,
    /// Events scheduled: timers, datagram arrivals, restarts.
    pub events_scheduled: usize,
    /// Tasks neither finished nor cancelled.
    pub tasks_live: usize,
    /// Stream connection ends the world holds: open, closing, or failed with a handle left.
    pub stream_endpoints: usize,
    /// Stream segments sent and not yet arrived.
    pub segments_in_flight: usize,
}

/// What one call of the run loop did.
// `Ended` is large (a whole report) but made once per run; boxing it would cost more than the
// bytes of a return slot that `Polled`, the common case, leaves untouched.
#[allow(clippy::large_enum_variant)]
enum Advance {
    Polled,
    /// No task is ready and the next event is after the bound the caller gave.
    Idle,
    Ended(Outcome),
}

/// Drop a value, swallowing a panic from its destructor: the run is already failing or the
/// task already finished, and a second panic must not abort the process.
fn drop_quietly<T>(value: T) {
    let _ = panic::catch_unwind(AssertUnwindSafe(move || drop(value)));
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _enter = Enter::new(&self.shared);
        let removed = self.shared.tasks.borrow_mut().drain_all();
        // The run is over: a destructor's panic has nobody left to report to.
        drop_quietly(removed);
        waker::take_foreign(self.shared.tag);
    }
}
