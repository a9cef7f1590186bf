//! Tasks: [`spawn`], [`JoinHandle`], [`yield_now`].
//!
//! A task belongs to the node whose task spawned it and dies with it: a crash cancels every
//! task of the node. Futures need not be `Send`: everything runs on the simulation's thread.

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::panic::Location;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::context;
use crate::error::{Error, ErrorKind};

/// A task's number in its run: 0 for the first task spawned, counting up. Stable across
/// replays of a seed, so reports can name tasks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TaskId(pub(crate) u64);

impl TaskId {
    /// The number.
    pub fn as_u64(self) -> u64 {
        self.0
    }
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "task {}", self.0)
    }
}

/// Spawn a task on the calling task's node.
///
/// The task starts on a later step; the returned handle awaits its output, or cancels it with
/// [`JoinHandle::abort`]. Dropping the handle detaches the task.
///
/// # Panics
/// Outside a running simulation or outside a node's task, or when the world's task limit
/// (`Builder::tasks_max`) is reached: inside a run that panic fails the run with a report.
///
/// ```
/// let mut sim = seedsim::Sim::new(seedsim::Seed(1));
/// sim.client("c", async {
///     let handle = seedsim::task::spawn(async { 6 * 7 });
///     assert_eq!(handle.await.unwrap(), 42);
///     Ok::<(), std::io::Error>(())
/// })?;
/// assert!(sim.run().is_passed());
/// # Ok::<(), seedsim::Error>(())
/// ```
#[track_caller]
pub fn spawn<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    let location = Location::caller();
    let spawned = context::with_current(|shared| {
        let node = shared.world.borrow().current_node();
        let node = node.unwrap_or_else(|| {
            panic!("seedsim::task::spawn must be called from a task of a node or client (use Sim::node or Sim::client to add one)")
        });
        let (key, generation, id) = shared.spawn(node, Box::pin(future), location, true);
        JoinHandle { key, generation, id, world: shared.id, _output: PhantomData }
    });
    spawned.unwrap_or_else(|| panic!("{}", Error::new(ErrorKind::NoSimulation, "seedsim::task::spawn")))
}

/// Awaits a spawned task's output. See [`spawn`].
#[must_use = "dropping a JoinHandle detaches the task; call .abort() to cancel it"]
pub struct JoinHandle<T> {
    key: u32,
    generation: u16,
    id: TaskId,
    world: u64,
    _output: PhantomData<fn() -> T>,
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle").field("task", &self.id).finish()
    }
}

impl<T: 'static> JoinHandle<T> {
    /// The task's id.
    pub fn id(&self) -> TaskId {
        self.id
    }

    /// Cancel the task: its future is dropped now, and awaiting the handle gives a
    /// [`JoinError`]. Does nothing if the task already finished.
    pub fn abort(&self) {
        let (world, key, generation) = (self.world, self.key, self.generation);
        context::with_current(|shared| {
            if shared.id == world {
                shared.cancel_task(key, generation);
            }
        });
    }

    /// True once the task finished or was cancelled.
    pub fn is_finished(&self) -> bool {
        let (world, key, generation) = (self.world, self.key, self.generation);
        context::with_current(|shared| shared.id != world || shared.tasks.borrow().is_finished(key, generation))
            .unwrap_or(true)
    }
}

impl<T: 'static> Future for JoinHandle<T> {
    type Output = Result<T, JoinError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let (world, key, generation, id) = (self.world, self.key, self.generation, self.id);
        let polled = context::with_current(|shared| {
            if shared.id != world {
                return Poll::Ready(None);
            }
            shared.tasks.borrow_mut().poll_join(key, generation, cx.waker())
        });
        match polled {
            None => panic!("{}", Error::new(ErrorKind::NoSimulation, "seedsim::task::JoinHandle")),
            Some(Poll::Pending) => Poll::Pending,
            Some(Poll::Ready(None)) => Poll::Ready(Err(JoinError { task: id })),
            Some(Poll::Ready(Some(output))) => match output.downcast::<T>() {
                Ok(output) => Poll::Ready(Ok(*output)),
                Err(_) => unreachable!("a task's output has the type its JoinHandle was made with"),
            },
        }
    }
}

impl<T> Drop for JoinHandle<T> {
    fn drop(&mut self) {
        let (world, key, generation) = (self.world, self.key, self.generation);
        let output = context::with_current(|shared| {
            if shared.id != world {
                return None;
            }
            shared.tasks.try_borrow_mut().ok().and_then(|mut tasks| tasks.release_handle(key, generation))
        });
        drop(output);
    }
}

/// The error of a [`JoinHandle`] whose task was cancelled (aborted, or its node crashed)
/// before it finished.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JoinError {
    task: TaskId,
}

impl JoinError {
    /// The cancelled task.
    pub fn task(&self) -> TaskId {
        self.task
    }
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} was cancelled before it finished (aborted, or its node crashed)", self.task)
    }
}

impl std::error::Error for JoinError {}

/// Let other ready tasks run before this one continues.
///
/// ```
/// let mut sim = seedsim::Sim::new(seedsim::Seed(1));
/// sim.client("c", async {
///     seedsim::task::yield_now().await;
///     Ok::<(), std::io::Error>(())
/// })?;
/// assert!(sim.run().is_passed());
/// # Ok::<(), seedsim::Error>(())
/// ```
pub async fn yield_now() {
    let mut yielded = false;
    std::future::poll_fn(|cx| {
        if yielded {
            Poll::Ready(())
        } else {
            yielded = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    })
    .await
}
