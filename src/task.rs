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
/// replays of a seed, so reports can name tasks. On the real backend, tasks are numbered per
/// thread in the order they were spawned.
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
/// On the real backend (`seedsim::real`, feature `tokio`) this is `tokio::task::spawn_local`: the task
/// runs on the calling thread's `LocalSet`, which `seedsim::real::Runtime`
/// provides.
///
/// # Panics
/// Outside a running simulation or outside a node's task, or when the world's task limit
/// (`Builder::tasks_max`) is reached: inside a run that panic fails the run with a report.
/// With the `tokio` feature, outside a simulation: outside a Tokio runtime, or (tokio's
/// panic) outside a `LocalSet`.
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
    let simulated = context::with_current_taking(future, |shared, future| {
        let node = shared.world.borrow().current_node();
        let node = node.unwrap_or_else(|| {
            panic!("seedsim::task::spawn must be called from a task of a node or client (use Sim::node or Sim::client to add one)")
        });
        let (key, generation, id) = shared.spawn(node, Box::pin(future), location, true);
        JoinHandle { id, task: Task::Simulated { key, generation, world: shared.id, _output: PhantomData } }
    });
    match simulated {
        Ok(handle) => handle,
        #[cfg(feature = "tokio")]
        Err(future) if crate::real::active() => {
            let id = TaskId(crate::real::next_task_number());
            JoinHandle { id, task: Task::Real(tokio::task::spawn_local(future)) }
        }
        Err(_) => panic!("{}", Error::new(ErrorKind::NoSimulation, "seedsim::task::spawn")),
    }
}

/// Awaits a spawned task's output. See [`spawn`].
#[must_use = "dropping a JoinHandle detaches the task; call .abort() to cancel it"]
pub struct JoinHandle<T> {
    id: TaskId,
    task: Task<T>,
}

enum Task<T> {
    Simulated {
        key: u32,
        generation: u16,
        world: u64,
        _output: PhantomData<fn() -> T>,
    },
    #[cfg(feature = "tokio")]
    Real(tokio::task::JoinHandle<T>),
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

    /// Cancel the task: its future is dropped now (on the real backend: the next time the
    /// runtime looks), and awaiting the handle gives a [`JoinError`]. Does nothing if the task
    /// already finished.
    pub fn abort(&self) {
        match &self.task {
            &Task::Simulated { key, generation, world, .. } => {
                context::with_current(|shared| {
                    if shared.id == world {
                        shared.cancel_task(key, generation);
                    }
                });
            }
            #[cfg(feature = "tokio")]
            Task::Real(handle) => handle.abort(),
        }
    }

    /// True once the task finished or was cancelled.
    pub fn is_finished(&self) -> bool {
        match &self.task {
            &Task::Simulated { key, generation, world, .. } => {
                context::with_current(|shared| shared.id != world || shared.tasks.borrow().is_finished(key, generation))
                    .unwrap_or(true)
            }
            #[cfg(feature = "tokio")]
            Task::Real(handle) => handle.is_finished(),
        }
    }
}

impl<T: 'static> Future for JoinHandle<T> {
    type Output = Result<T, JoinError>;

    /// On the real backend a panic in the task resumes here, in the awaiting task, as a
    /// panic in a simulated task fails the run: it is not turned into a [`JoinError`].
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let id = self.id;
        let (key, generation, world) = match &mut self.task {
            &mut Task::Simulated { key, generation, world, .. } => (key, generation, world),
            #[cfg(feature = "tokio")]
            Task::Real(handle) => {
                return Pin::new(handle).poll(cx).map(|joined| {
                    joined.map_err(|err| match err.try_into_panic() {
                        Ok(panic) => std::panic::resume_unwind(panic),
                        Err(_) => JoinError { task: id },
                    })
                })
            }
        };
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

impl<T> Drop for Task<T> {
    fn drop(&mut self) {
        match *self {
            Task::Simulated { key, generation, world, .. } => {
                let output = context::with_current(|shared| {
                    if shared.id != world {
                        return None;
                    }
                    shared.tasks.try_borrow_mut().ok().and_then(|mut tasks| tasks.release_handle(key, generation))
                });
                drop(output);
            }
            // Dropping tokio's handle detaches the task, as dropping a simulated one does.
            #[cfg(feature = "tokio")]
            Task::Real(_) => {}
        }
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
