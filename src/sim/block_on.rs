//! [`Sim::block_on`]: run a future that borrows the caller's locals as a client of the world,
//! and get its output back.
//!
//! The world stores tasks as `'static` trait objects; a borrowed future is stored there with
//! its lifetime erased, which is sound only because no path out of `block_on` (a return, an
//! error, a panic unwinding through it) leaves that future alive: the cleanup below cancels
//! the task and drops its future before `block_on` returns, and aborts the process if it
//! cannot. That is the one `unsafe` here, and nothing outside this file can reach the erased
//! future: tasks spawned from it must be `'static` as every task is.

use std::cell::Cell;
use std::fmt;
use std::future::Future;
use std::panic::{self, AssertUnwindSafe, Location};
use std::pin::Pin;

use super::{Advance, Sim};
use crate::error::Error;
use crate::node::{MainFuture, Role};
use crate::sim::outcome::Outcome;

/// Why [`Sim::block_on`] gave no output.
///
/// Its `Debug` is its `Display`, so `.unwrap()` on a `block_on` result panics with the
/// failure report and its replay line.
///
/// ```
/// use std::future::pending;
/// use seedsim::{BlockOnError, Seed, Sim};
/// let mut sim = Sim::new(Seed(1));
/// // Nothing will ever wake it: a deadlock, reported with the blocked task.
/// match sim.block_on("main", pending::<()>()) {
///     Err(BlockOnError::Ended(outcome)) => assert!(!outcome.is_passed()),
///     other => panic!("expected a deadlock, got {other:?}"),
/// }
/// ```
#[non_exhaustive]
pub enum BlockOnError {
    /// The client could not be added: a bad or taken name.
    Invalid(Error),
    /// The run ended before the future finished: how it ended. A failure (a panic, a
    /// deadlock, a limit, a failed check), or, with [`OnLimit::Pass`](crate::OnLimit::Pass),
    /// a passed run stopped by its time or step limit.
    Ended(Box<Outcome>),
}

impl BlockOnError {
    /// The outcome, if the run ended.
    pub fn outcome(&self) -> Option<&Outcome> {
        match self {
            BlockOnError::Invalid(_) => None,
            BlockOnError::Ended(outcome) => Some(outcome),
        }
    }
}

impl From<Error> for BlockOnError {
    fn from(error: Error) -> BlockOnError {
        BlockOnError::Invalid(error)
    }
}

impl fmt::Display for BlockOnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BlockOnError::Invalid(error) => write!(f, "Sim::block_on: {error}"),
            BlockOnError::Ended(outcome) => match &**outcome {
                Outcome::Failed(failure) => write!(f, "{failure}"),
                Outcome::Passed(summary) => write!(
                f,
                "Sim::block_on: the run stopped ({:?}) at {} before the future finished (seed {}, trace hash 0x{:016x})",
                summary.end, summary.time, summary.seed, summary.trace_hash
                ),
            },
        }
    }
}

impl fmt::Debug for BlockOnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::error::Error for BlockOnError {}

impl Sim {
    /// Run `future` as a client named `name` until it finishes, and return its output. The
    /// future may borrow the caller's locals: it is dropped before `block_on` returns, on
    /// every path (its output, an error, a panic unwinding through here).
    ///
    /// The world runs as [`Sim::run`] runs it (the run starts if it had not), but only until
    /// this future finishes: nodes and tasks it spawned stay, so a later `block_on` or
    /// [`Sim::run`] carries on with them. Tasks it spawns with [`task::spawn`](crate::task::spawn)
    /// must be `'static`, as every task is; only the future itself may borrow.
    ///
    /// This is the way to drive a simulation from code that owns its state on the stack, such
    /// as an async runtime adapter's `block_on` (see `seedsim::compat::openraft`) or a test
    /// helper that takes `&mut` of the thing it tests.
    ///
    /// # Errors
    /// [`BlockOnError::Invalid`] for a bad or taken name; [`BlockOnError::Ended`] if the run
    /// ended before the future finished (or had ended before the call), with the outcome.
    ///
    /// ```
    /// use std::time::Duration;
    /// use seedsim::{Seed, Sim};
    ///
    /// let mut log = Vec::new(); // a local the future borrows mutably
    /// let mut sim = Sim::new(Seed(7));
    /// let total = sim.block_on("main", async {
    ///     for i in 1..=3 {
    ///         seedsim::time::sleep(Duration::from_secs(1)).await;
    ///         log.push(i);
    ///     }
    ///     log.iter().sum::<u32>()
    /// })?;
    /// assert_eq!(total, 6);
    /// assert_eq!(log, [1, 2, 3]);
    /// assert_eq!(sim.now().since_start(), Duration::from_secs(3));
    /// # Ok::<(), seedsim::BlockOnError>(())
    /// ```
    #[track_caller]
    pub fn block_on<F: Future>(&mut self, name: &str, future: F) -> Result<F::Output, BlockOnError> {
        let location = Location::caller();
        if let Some(outcome) = &self.outcome {
            return Err(BlockOnError::Ended(Box::new(outcome.clone())));
        }
        let _entered = self.enter();
        if !self.started {
            self.start();
        }
        let output: Cell<Option<F::Output>> = Cell::new(None);
        let main: Pin<Box<dyn Future<Output = Result<(), String>> + '_>> = Box::pin({
            let output = &output;
            async move {
                output.set(Some(future.await));
                Ok(())
            }
        });
        // SAFETY: only the lifetime changes (the same fat pointer). The erased future borrows
        // `output` and whatever `future` borrows, all of which outlive this call, and it does
        // not outlive this call: it goes into the client's role, which `start_node` empties at
        // once (into the task slab, or dropping it if the spawn panics), and from the slab only
        // to the run loop's poll, which drops it when it finishes or panics and otherwise puts
        // it back. `drop_task_now` below runs on every way out of this function (after
        // `catch_unwind`, on return and on unwinding alike), cancels the task if it is still
        // live, and drops its future then and there; it aborts the process if it cannot. A task
        // future is never copied or moved elsewhere: tasks it spawns are `'static`, and
        // wakers carry a slot id, not a pointer to it.
        let main: MainFuture =
            unsafe { std::mem::transmute::<Pin<Box<dyn Future<Output = Result<(), String>> + '_>>, MainFuture>(main) };
        // On an error, `add_node` drops the role, and the future with it, before returning.
        let id = self.shared.world.borrow_mut().add_node(
            name,
            Role::Client { future: Some(main), finished: false },
            location,
        )?;
        self.shared.log_names.borrow_mut().push(name.to_owned());
        let task = Cell::new(None);
        let driven = panic::catch_unwind(AssertUnwindSafe(|| {
            task.set(self.shared.start_node(id));
            loop {
                if let Some(value) = output.take() {
                    return Ok(value);
                }
                match self.advance(u64::MAX) {
                    Advance::Polled | Advance::Idle => {}
                    Advance::Ended(outcome) => return Err(BlockOnError::Ended(Box::new(outcome))),
                }
            }
        }));
        // A future that finished was dropped by the poll that finished it, and its slot may
        // hold another task by now.
        let finished = matches!(driven, Ok(Ok(_)));
        self.drop_task_now(id, if finished { None } else { task.get() });
        match driven {
            Ok(result) => result,
            Err(payload) => panic::resume_unwind(payload),
        }
    }

    /// Cancel `block_on`'s task if it is still live, dropping its future now, and mark its
    /// client finished. The caller has entered the context. (A task that panicked was removed
    /// already; the generation check keeps this from cancelling whatever reused its slot in
    /// the few steps before the run ended.)
    fn drop_task_now(&mut self, id: crate::node::NodeId, task: Option<(u32, u16)>) {
        if let Some((key, generation)) = task {
            let removed = match self.shared.tasks.try_borrow_mut() {
                Ok(mut tasks) => tasks.cancel(key, generation),
                Err(_) => {
                    // The borrowed future may still be in the slab and cannot be reached: going
                    // on would let it outlive what it borrows.
                    eprintln!("seedsim: Sim::block_on cannot drop its future (the task storage is borrowed); aborting");
                    std::process::abort();
                }
            };
            self.shared.finish_removed(removed);
        }
        if let Ok(mut world) = self.shared.world.try_borrow_mut() {
            world.mark_client_finished(id);
        }
    }
}
