//! The executor's task storage: tasks in a `Slab` with generation-checked ids, the run queue,
//! and the parking of tasks whose node is paused.
//!
//! Nothing here polls a future or runs user code while borrowed: the run loop (in `sim`)
//! takes a task's future out, releases every borrow, polls it, and puts it back. Futures that
//! must be dropped (a crashed node's tasks, an aborted task) are handed back to the caller to
//! drop outside any borrow, because their destructors may call seedsim again.

pub(crate) mod panic;
pub(crate) mod sched;
pub(crate) mod waker;

use std::any::Any;
use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use slab::Slab;

use crate::node::NodeId;
use crate::rand::Stream;
use crate::task::TaskId;
use sched::{Policy, RunQueue};

/// A spawned future with its output type erased. The output is boxed only when the task
/// completes, and a `()` output (the common case) boxes without allocating.
pub(crate) trait ErasedFuture {
    fn poll_erased(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Box<dyn Any>>;
}

impl<F> ErasedFuture for F
where
    F: Future,
    F::Output: 'static,
{
    #[inline]
    fn poll_erased(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Box<dyn Any>> {
        self.poll(cx).map(|output| Box::new(output) as Box<dyn Any>)
    }
}

pub(crate) type BoxedTask = Pin<Box<dyn ErasedFuture>>;

pub(crate) enum Status {
    Live,
    /// Finished; the output waits for the `JoinHandle` (taken once).
    Done(Option<Box<dyn Any>>),
    /// Aborted, or its node crashed.
    Cancelled,
}

pub(crate) struct Task {
    pub(crate) id: TaskId,
    pub(crate) node: NodeId,
    generation: u16,
    /// `None` while the task is being polled, and once it finished or was cancelled.
    future: Option<BoxedTask>,
    pub(crate) status: Status,
    queued: bool,
    has_handle: bool,
    join_waker: Option<Waker>,
    pub(crate) spawned_at: &'static Location<'static>,
    priority: u32,
}

/// What the run loop needs to poll one task.
pub(crate) struct Picked {
    pub(crate) key: u32,
    pub(crate) generation: u16,
    pub(crate) id: TaskId,
    pub(crate) node: NodeId,
    pub(crate) spawned_at: &'static Location<'static>,
    pub(crate) future: BoxedTask,
}

/// What removing tasks from the slab leaves to do outside the borrow: cancelled futures to
/// drop, outputs nobody will read, joiners to wake. `Shared::finish_removed` does it.
#[derive(Default)]
pub(crate) struct Removed {
    /// Cancelled tasks, with their futures (`None` for one being polled right now).
    pub(crate) cancelled: Vec<(TaskId, NodeId, Option<BoxedTask>)>,
    pub(crate) outputs: Vec<Box<dyn Any>>,
    pub(crate) join_wakers: Vec<Waker>,
}

/// What finishing a task leaves to do outside the borrow (see `Tasks::complete`).
pub(crate) struct Completed {
    /// False if the task was cancelled while it ran (its node crashed, or it aborted itself).
    pub(crate) live: bool,
    /// The output, if no `JoinHandle` will take it: to drop unborrowed.
    pub(crate) output: Option<Box<dyn Any>>,
    /// The task awaiting the `JoinHandle`, to wake.
    pub(crate) join_waker: Option<Waker>,
}

pub(crate) struct Tasks {
    slab: Slab<Task>,
    /// The generation of each slot, kept across removals so a stale id never matches.
    generations: Vec<u16>,
    runq: RunQueue,
    /// Ready tasks of paused nodes, in the order they were picked.
    parked: Vec<(u32, u16)>,
    paused: Vec<bool>,
    next_id: u64,
    /// The inbox's other buffer, swapped in on each drain so draining allocates nothing.
    spare_inbox: Vec<u64>,
    rng: Stream,
    tasks_max: usize,
}

impl Tasks {
    pub(crate) fn new(policy: Policy, mut rng: Stream, tasks_max: usize) -> Tasks {
        let runq = RunQueue::new(policy, &mut rng);
        Tasks {
            slab: Slab::new(),
            generations: Vec::new(),
            runq,
            parked: Vec::new(),
            paused: Vec::new(),
            next_id: 0,
            spare_inbox: Vec::new(),
            rng,
            tasks_max,
        }
    }

    pub(crate) fn insert(
        &mut self,
        node: NodeId,
        future: BoxedTask,
        spawned_at: &'static Location<'static>,
        has_handle: bool,
    ) -> (u32, u16, TaskId) {
        assert!(self.slab.len() < self.tasks_max, "insert past tasks_max: check is_full first");
        let entry = self.slab.vacant_entry();
        let key = entry.key();
        assert!(key < u32::MAX as usize, "task slot key {key} does not fit 32 bits");
        if self.generations.len() <= key {
            self.generations.resize(key + 1, 0);
        }
        let generation = self.generations[key];
        let id = TaskId(self.next_id);
        self.next_id += 1;
        let priority = self.runq.initial_priority(&mut self.rng);
        entry.insert(Task {
            id,
            node,
            generation,
            future: Some(future),
            status: Status::Live,
            queued: true,
            has_handle,
            join_waker: None,
            spawned_at,
            priority,
        });
        self.runq.push((key as u32, generation), id.0, priority);
        (key as u32, generation, id)
    }

    /// The task limit, if the world holds that many tasks (finished ones awaiting their
    /// handle included).
    pub(crate) fn is_full(&self) -> Option<usize> {
        (self.slab.len() >= self.tasks_max).then_some(self.tasks_max)
    }

    pub(crate) fn spawned(&self) -> u64 {
        self.next_id
    }

    /// Move woken ids from `inbox` into the run queue, skipping stale and finished tasks and
    /// tasks already queued.
    ///
    /// The wakes of one step enter the run queue in slot order, not in the order they came:
    /// a third-party primitive may wake its waiters in an order it drew from a generator
    /// seeded by the OS (tokio's `watch` does), and that order must not reach the
    /// schedule. Which tasks woke is the program's doing; in what order within a step is not.
    #[inline]
    pub(crate) fn drain_inbox(&mut self, inbox: &mut Vec<u64>) {
        // Every step asks, and after most polls nothing woke: answered without a call.
        if !inbox.is_empty() {
            self.queue_woken(inbox);
        }
    }

    fn queue_woken(&mut self, inbox: &mut Vec<u64>) {
        std::mem::swap(inbox, &mut self.spare_inbox);
        // By (slot key, generation): a total order, as a stale id and a fresh one may share a
        // slot. Rotated, an id reads `key | tag | generation` from its high bits down, and the
        // tag is the same in every id of one world's inbox: sorting the rotated ids as plain
        // integers gives that order, several times cheaper than sorting by a tuple key (a
        // timer-heavy step wakes hundreds of tasks).
        for id in &mut self.spare_inbox {
            *id = id.rotate_left(32);
        }
        self.spare_inbox.sort_unstable();
        for i in 0..self.spare_inbox.len() {
            let (_, generation, key) = waker::unpack(self.spare_inbox[i].rotate_right(32));
            if let Some(task) = self.slab.get_mut(key as usize) {
                if task.generation == generation && matches!(task.status, Status::Live) && !task.queued {
                    task.queued = true;
                    self.runq.push((key, generation), task.id.0, task.priority);
                }
            }
        }
        self.spare_inbox.clear();
    }

    /// The next task to poll, with its future taken out. Tasks of paused nodes are parked
    /// until the node resumes.
    pub(crate) fn pick(&mut self, step: u64) -> Option<Picked> {
        loop {
            let (key, generation) = self.runq.pop(&mut self.rng)?;
            let Some(task) = self.slab.get_mut(key as usize) else {
                continue;
            };
            if task.generation != generation || !task.queued {
                continue;
            }
            if self.paused.get(task.node.index()).copied().unwrap_or(false) {
                self.parked.push((key, generation));
                continue;
            }
            task.queued = false;
            let Some(future) = task.future.take() else {
                // Cancelled between its wake and now.
                continue;
            };
            if let Some(priority) = self.runq.demotion_at(step) {
                task.priority = priority;
            }
            return Some(Picked { key, generation, id: task.id, node: task.node, spawned_at: task.spawned_at, future });
        }
    }

    /// Return a future that is still pending. Gives it back if the task was cancelled while
    /// it ran (its node crashed, or it aborted itself): the caller drops it unborrowed.
    pub(crate) fn put_back(&mut self, key: u32, generation: u16, future: BoxedTask) -> Option<BoxedTask> {
        match self.slab.get_mut(key as usize) {
            Some(task) if task.generation == generation && matches!(task.status, Status::Live) => {
                debug_assert!(task.future.is_none());
                task.future = Some(future);
                None
            }
            _ => Some(future),
        }
    }

    /// Record a finished task: what is left to do outside the borrow (an output nobody will
    /// read, a joiner to wake). No allocation: a task finishes once per spawn.
    pub(crate) fn complete(&mut self, key: u32, generation: u16, output: Box<dyn Any>) -> Completed {
        let live = self
            .slab
            .get(key as usize)
            .is_some_and(|task| task.generation == generation && matches!(task.status, Status::Live));
        if !live {
            return Completed { live: false, output: Some(output), join_waker: None };
        }
        let task = &mut self.slab[key as usize];
        if task.has_handle {
            task.status = Status::Done(Some(output));
            let join_waker = task.join_waker.take();
            Completed { live: true, output: None, join_waker }
        } else {
            self.remove_slot(key);
            Completed { live: true, output: Some(output), join_waker: None }
        }
    }

    /// Cancel one task (abort). The future is returned to drop outside the borrow.
    pub(crate) fn cancel(&mut self, key: u32, generation: u16) -> Removed {
        let mut removed = Removed::default();
        if let Some(task) = self.slab.get_mut(key as usize) {
            if task.generation == generation && matches!(task.status, Status::Live) {
                self.cancel_slot(key, &mut removed);
            }
        }
        removed
    }

    /// Cancel every live task of `node`, in slot order.
    pub(crate) fn cancel_node(&mut self, node: NodeId) -> Removed {
        let mut removed = Removed::default();
        let keys: Vec<usize> = self
            .slab
            .iter()
            .filter(|(_, task)| task.node == node && matches!(task.status, Status::Live))
            .map(|(key, _)| key)
            .collect();
        for key in keys {
            self.cancel_slot(key as u32, &mut removed);
        }
        self.parked.retain(|&(key, _)| {
            // Parked entries of cancelled tasks would be skipped anyway; dropping them keeps
            // the parked list bounded by the live tasks.
            self.slab.get(key as usize).is_some_and(|t| t.node != node)
        });
        removed
    }

    fn cancel_slot(&mut self, key: u32, removed: &mut Removed) {
        let task = &mut self.slab[key as usize];
        removed.cancelled.push((task.id, task.node, task.future.take()));
        removed.join_wakers.extend(task.join_waker.take());
        if task.has_handle {
            task.status = Status::Cancelled;
        } else {
            self.remove_slot(key);
        }
    }

    fn remove_slot(&mut self, key: u32) {
        self.slab.remove(key as usize);
        let generation = &mut self.generations[key as usize];
        *generation = generation.wrapping_add(1);
    }

    pub(crate) fn set_paused(&mut self, node: NodeId, paused: bool) {
        let index = node.index();
        if self.paused.len() <= index {
            self.paused.resize(index + 1, false);
        }
        self.paused[index] = paused;
        if !paused {
            let parked = std::mem::take(&mut self.parked);
            for (key, generation) in parked {
                match self.slab.get(key as usize) {
                    Some(task) if task.node == node && task.generation == generation => {
                        self.runq.push((key, generation), task.id.0, task.priority)
                    }
                    Some(_) => self.parked.push((key, generation)),
                    None => {}
                }
            }
        }
    }

    // --- JoinHandle support ---------------------------------------------------------------

    /// Poll for a task's output on behalf of its `JoinHandle`.
    pub(crate) fn poll_join(&mut self, key: u32, generation: u16, waker: &Waker) -> Poll<Option<Box<dyn Any>>> {
        let Some(task) = self.slab.get_mut(key as usize) else {
            return Poll::Ready(None);
        };
        if task.generation != generation {
            return Poll::Ready(None);
        }
        match &mut task.status {
            Status::Live => {
                match &mut task.join_waker {
                    Some(existing) if existing.will_wake(waker) => {}
                    slot => *slot = Some(waker.clone()),
                }
                Poll::Pending
            }
            Status::Done(output) => Poll::Ready(output.take()),
            Status::Cancelled => Poll::Ready(None),
        }
    }

    pub(crate) fn is_finished(&self, key: u32, generation: u16) -> bool {
        match self.slab.get(key as usize) {
            Some(task) if task.generation == generation => !matches!(task.status, Status::Live),
            _ => true,
        }
    }

    /// The `JoinHandle` was dropped: detach a live task, free a finished one.
    pub(crate) fn release_handle(&mut self, key: u32, generation: u16) -> Option<Box<dyn Any>> {
        let task = self.slab.get_mut(key as usize)?;
        if task.generation != generation {
            return None;
        }
        task.has_handle = false;
        task.join_waker = None;
        match &mut task.status {
            Status::Live => None,
            Status::Done(output) => {
                let output = output.take();
                self.remove_slot(key);
                output
            }
            Status::Cancelled => {
                self.remove_slot(key);
                None
            }
        }
    }

    /// Live tasks, in slot order: for deadlock reports.
    pub(crate) fn live(&self) -> impl Iterator<Item = &Task> {
        self.slab.iter().map(|(_, task)| task).filter(|task| matches!(task.status, Status::Live))
    }

    pub(crate) fn live_count(&self) -> usize {
        self.live().count()
    }

    pub(crate) fn is_paused(&self, node: NodeId) -> bool {
        self.paused.get(node.index()).copied().unwrap_or(false)
    }

    /// Take every remaining future, for teardown.
    pub(crate) fn drain_all(&mut self) -> Removed {
        let mut removed = Removed::default();
        for (_, task) in self.slab.iter_mut() {
            removed.cancelled.push((task.id, task.node, task.future.take()));
            if let Status::Done(output) = &mut task.status {
                removed.outputs.extend(output.take());
            }
            task.join_waker = None;
        }
        self.slab.clear();
        removed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rand::Purpose;
    use crate::seed::Seed;

    /// Under every policy, the tasks woken in one step run in the same order whatever order
    /// their wakes came in.
    #[test]
    fn the_order_of_one_steps_wakes_does_not_change_the_picks() {
        let picks = |policy: Policy, wake_order: &[u32]| {
            let mut tasks = Tasks::new(policy, Stream::for_purpose(Seed(9), Purpose::Scheduler), 64);
            let ids: Vec<(u32, u16)> = (0..8)
                .map(|_| {
                    let (key, generation, _) = tasks.insert(NodeId(0), Box::pin(async {}), Location::caller(), false);
                    (key, generation)
                })
                .collect();
            // Run each once, so none is queued, then wake them all in one step.
            while let Some(picked) = tasks.pick(0) {
                assert!(tasks.put_back(picked.key, picked.generation, picked.future).is_none());
            }
            let mut inbox: Vec<u64> =
                wake_order.iter().map(|&i| waker::pack(0, ids[i as usize].1, ids[i as usize].0)).collect();
            tasks.drain_inbox(&mut inbox);
            std::iter::from_fn(|| tasks.pick(1).map(|picked| picked.id.0)).collect::<Vec<u64>>()
        };
        for policy in [Policy::Fifo, Policy::Random, Policy::Pct { depth: 3 }] {
            let forward = picks(policy, &[0, 1, 2, 3, 4, 5, 6, 7]);
            assert_eq!(forward.len(), 8, "{policy:?}: every woken task runs once");
            assert_eq!(picks(policy, &[7, 3, 5, 0, 6, 1, 4, 2]), forward, "{policy:?}");
            assert_eq!(picks(policy, &[2, 2, 6, 1, 0, 7, 5, 3, 4, 6]), forward, "{policy:?}: a repeated wake");
        }
    }
}
