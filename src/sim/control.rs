//! Operations that touch both the world and the tasks: spawning, starting and crashing
//! nodes, pausing, and the faults callable by name.
//!
//! Each operation releases every borrow before it runs user code (a node's factory) or drops
//! futures (a crashed node's tasks), because both may call back into seedsim. `Sim`'s methods
//! and the `seedsim::world` functions are one-line facades over these.

use std::panic::{self, AssertUnwindSafe, Location};
use std::time::Duration;

use crate::context::{self, Shared};
use crate::error::Error;
use crate::net::Link;
use crate::node::{NodeId, Role};
use crate::runtime::{panic as task_panic, BoxedTask, Removed};
use crate::sim::outcome::Cause;
use crate::task::TaskId;
use crate::time::{nanos, Skew};
use crate::trace::EventKind;

impl Shared {
    /// Spawn `future` on `node`.
    ///
    /// # Panics
    /// At the task limit, with a message saying how to raise it.
    pub(crate) fn spawn(
        &self,
        node: NodeId,
        future: BoxedTask,
        location: &'static Location<'static>,
        has_handle: bool,
    ) -> (u32, u16, TaskId) {
        let full = self.tasks.borrow().is_full();
        if let Some(max) = full {
            drop(future);
            panic!("seedsim: the world holds its limit of {max} tasks (raise it with Builder::tasks_max)");
        }
        let (key, generation, id) = self.tasks.borrow_mut().insert(node, future, location, has_handle);
        let crashed = {
            let mut world = self.world.borrow_mut();
            let now = world.now;
            world.trace.record(now, EventKind::Spawn { task: id, node });
            world.is_crashed(node)
        };
        if crashed {
            // Spawned by a task of a node that crashed during that same poll: it dies with
            // its node, as every other task of it did.
            self.cancel_task(key, generation);
        }
        (key, generation, id)
    }

    /// Start a node or client: build its main future and spawn it. Returns the task's slot
    /// (key, generation), or `None` if its factory panicked (which fails the run).
    pub(crate) fn start_node(&self, id: NodeId) -> Option<(u32, u16)> {
        enum Main {
            Server(crate::node::Factory),
            Client(Option<crate::node::MainFuture>),
        }
        let (main, added_at) = {
            let mut world = self.world.borrow_mut();
            let node = world.node_mut(id);
            let main = match &mut node.role {
                Role::Server { factory } => Main::Server(factory.clone()),
                Role::Client { future, .. } => Main::Client(future.take()),
            };
            (main, node.added_at)
        };
        // The factory is user code: called with no borrow held, and a panic in it fails the
        // run like a panic in the node's task.
        let task: BoxedTask = match main {
            Main::Server(factory) => {
                let future = match panic::catch_unwind(AssertUnwindSafe(|| factory())) {
                    Ok(future) => future,
                    Err(payload) => {
                        let (message, location) = task_panic::take_last(&*payload);
                        let cause = Cause::Panic { message: format!("in the node's factory: {message}"), location };
                        self.world.borrow_mut().fail_at(cause, Some(id), None);
                        return None;
                    }
                };
                Box::pin(async move {
                    if let Err(message) = future.await {
                        context::with_world("node exit", |world| match world.on_node_error {
                            crate::sim::OnNodeError::Fail => world.fail(Cause::NodeError { message }),
                            crate::sim::OnNodeError::Restart { after } => {
                                // Exits as a crashed process does once this poll is over (what it
                                // sent is on the wire), and comes back `after` later.
                                let now = world.now;
                                world.trace.record(now, crate::trace::EventKind::NodeExit { node: id });
                                world.crashes_due.push((id, crate::time::nanos(after), crate::fault::Trigger::Send));
                            }
                        });
                    }
                })
            }
            Main::Client(Some(future)) => Box::pin(async move {
                let result = future.await;
                context::with_world("client exit", |world| {
                    world.mark_client_finished(id);
                    if let Err(message) = result {
                        world.fail(Cause::ClientError { message });
                    }
                });
            }),
            Main::Client(None) => unreachable!("a client starts once"),
        };
        self.world.borrow_mut().mark_started(id);
        let (key, generation, _) = self.spawn(id, task, added_at, false);
        Some((key, generation))
    }

    pub(crate) fn node_id(&self, name: &str) -> Result<NodeId, Error> {
        self.world.borrow().node_id(name)
    }

    pub(crate) fn crash(&self, name: &str) -> Result<(), Error> {
        let id = self.node_id(name)?;
        self.crash_id(id)
    }

    pub(crate) fn crash_id(&self, id: NodeId) -> Result<(), Error> {
        self.crash_keeping(id, false)
    }

    /// Crash a node; with `keep_sent`, the packets it sent stay in flight.
    pub(crate) fn crash_keeping(&self, id: NodeId, keep_sent: bool) -> Result<(), Error> {
        if !self.world.borrow_mut().crash(id, keep_sent)? {
            return Ok(());
        }
        let removed = {
            let mut tasks = self.tasks.borrow_mut();
            tasks.set_paused(id, false);
            tasks.cancel_node(id)
        };
        self.finish_removed(removed);
        Ok(())
    }

    pub(crate) fn restart(&self, name: &str) -> Result<(), Error> {
        let id = self.node_id(name)?;
        self.world.borrow().check_restart(id)?;
        self.start_node(id);
        Ok(())
    }

    pub(crate) fn bounce(&self, name: &str, down_for: Duration) -> Result<(), Error> {
        let id = self.node_id(name)?;
        self.crash_id(id)?;
        self.world.borrow_mut().schedule_restart(id, nanos(down_for));
        Ok(())
    }

    pub(crate) fn set_paused(&self, name: &str, paused: bool) -> Result<(), Error> {
        let id = self.node_id(name)?;
        if self.world.borrow_mut().set_paused(id, paused)? {
            self.tasks.borrow_mut().set_paused(id, paused);
        }
        Ok(())
    }

    pub(crate) fn cancel_task(&self, key: u32, generation: u16) {
        let removed = self.tasks.borrow_mut().cancel(key, generation);
        self.finish_removed(removed);
    }

    /// Trace the cancellations, then drop the futures and wake joiners with no borrow held.
    /// A destructor that panics fails the run, as a panic in a poll does.
    pub(crate) fn finish_removed(&self, removed: Removed) {
        let Removed { cancelled, outputs, join_wakers } = removed;
        if !cancelled.is_empty() {
            let mut world = self.world.borrow_mut();
            let now = world.now;
            for &(task, _, _) in &cancelled {
                world.trace.record(now, EventKind::TaskCancel { task });
            }
        }
        for (task, node, future) in cancelled {
            if let Some(future) = future {
                self.drop_task(future, node, task);
            }
        }
        let _ = panic::catch_unwind(AssertUnwindSafe(move || drop(outputs)));
        for waker in join_wakers {
            waker.wake();
        }
    }

    /// Wake what an event woke, from the run loop: a task of this world is queued straight
    /// into the inbox (what its waker's `wake` would do, less the thread-local lookup); any
    /// other waker is woken as usual.
    #[inline]
    pub(crate) fn wake(&self, waker: std::task::Waker) {
        match crate::runtime::waker::own_id(&waker, self.tag) {
            Some(id) => self.inbox.borrow_mut().push(id),
            None => waker.wake(),
        }
    }

    /// Drop a task's future with no borrow held. A destructor that panics fails the run, as a
    /// panic in a poll does.
    pub(crate) fn drop_task(&self, future: BoxedTask, node: NodeId, task: TaskId) {
        if let Err(payload) = panic::catch_unwind(AssertUnwindSafe(move || drop(future))) {
            let (message, location) = task_panic::take_last(&*payload);
            let cause = Cause::Panic { message: format!("while dropping the task: {message}"), location };
            self.world.borrow_mut().fail_at(cause, Some(node), Some(task));
            let _ = panic::catch_unwind(AssertUnwindSafe(move || drop(payload)));
        }
    }

    /// Resolve two names and apply `f` to the pair.
    fn pair(
        &self,
        a: &str,
        b: &str,
        f: impl FnOnce(&mut crate::sim::state::World, NodeId, NodeId),
    ) -> Result<(), Error> {
        let mut world = self.world.borrow_mut();
        let (a, b) = (world.node_id(a)?, world.node_id(b)?);
        f(&mut world, a, b);
        Ok(())
    }

    pub(crate) fn partition(&self, a: &str, b: &str) -> Result<(), Error> {
        self.pair(a, b, |world, a, b| {
            world.partition(a, b);
            world.partition(b, a);
        })
    }

    pub(crate) fn partition_oneway(&self, from: &str, to: &str) -> Result<(), Error> {
        self.pair(from, to, |world, from, to| world.partition(from, to))
    }

    pub(crate) fn repair(&self, a: &str, b: &str) -> Result<(), Error> {
        self.pair(a, b, |world, a, b| {
            world.repair(a, b);
            world.repair(b, a);
        })
    }

    pub(crate) fn repair_oneway(&self, from: &str, to: &str) -> Result<(), Error> {
        self.pair(from, to, |world, from, to| world.repair(from, to))
    }

    pub(crate) fn clog(&self, a: &str, b: &str, duration: Duration) -> Result<(), Error> {
        self.pair(a, b, |world, a, b| {
            world.clog(a, b, nanos(duration));
            world.clog(b, a, nanos(duration));
        })
    }

    pub(crate) fn set_link(&self, from: &str, to: &str, link: Link) -> Result<(), Error> {
        let mut world = self.world.borrow_mut();
        let (from, to) = (world.node_id(from)?, world.node_id(to)?);
        world.set_link(from, to, link)
    }

    pub(crate) fn isolate(&self, name: &str) -> Result<(), Error> {
        let mut world = self.world.borrow_mut();
        let id = world.node_id(name)?;
        world.isolate(id);
        Ok(())
    }

    pub(crate) fn rejoin(&self, name: &str) -> Result<(), Error> {
        let mut world = self.world.borrow_mut();
        let id = world.node_id(name)?;
        world.rejoin(id);
        Ok(())
    }

    pub(crate) fn heal_all(&self) {
        self.world.borrow_mut().heal_all();
    }

    pub(crate) fn skew_clock(&self, name: &str, skew: Skew) -> Result<(), Error> {
        let mut world = self.world.borrow_mut();
        let id = world.node_id(name)?;
        world.skew(id, skew);
        Ok(())
    }
}
