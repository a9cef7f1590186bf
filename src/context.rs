//! The thread-local way in: node code reaches the running simulation through a pointer that
//! is set only while a `Sim` method runs (`run`, `step`, a fault call, teardown).
//!
//! Everything a simulation owns lives in one `Shared`, boxed by its `Sim` so its address is
//! stable. The pointer is set by an [`Enter`] guard and restored when the guard drops (also on
//! unwinding), so it never outlives the `Sim`'s borrow. The world, the task storage and the
//! wake inbox are separate `RefCell`s: a waker fired while the world is borrowed touches only
//! the inbox, and no borrow is held while user code (a poll, a destructor, a factory) runs.

use std::cell::{Cell, RefCell};
use std::ptr;

use crate::error::{Error, ErrorKind};
use crate::runtime::Tasks;
use crate::sim::state::World;

pub(crate) struct Shared {
    /// Distinguishes this world's wakers from another's (see `runtime::waker`). 16 bits, so
    /// it wraps: it only decides where a wake goes, and a stale wake is at worst spurious.
    pub(crate) tag: u16,
    /// This world's id, unique in the process: handles (`UdpSocket`, `JoinHandle`, `Sleep`)
    /// check it so a handle that outlived its run never acts on another world.
    pub(crate) id: u64,
    pub(crate) world: RefCell<World>,
    pub(crate) tasks: RefCell<Tasks>,
    /// Packed ids of tasks woken since the run loop last looked.
    pub(crate) inbox: RefCell<Vec<u64>>,
    /// What the log formatter stamps on a line: simulated time (ns) and the node polled, if
    /// any. Kept outside the world so a log line can be written while the world is borrowed.
    pub(crate) log_stamp: Cell<(u64, Option<u32>)>,
    /// Node names by index, for the log formatter (the world has its own copy).
    pub(crate) log_names: RefCell<Vec<String>>,
}

thread_local! {
    static CURRENT: Cell<*const Shared> = const { Cell::new(ptr::null()) };
}

/// Sets the current simulation for this thread until dropped.
pub(crate) struct Enter {
    previous: *const Shared,
}

impl Enter {
    pub(crate) fn new(shared: &Shared) -> Enter {
        let previous = CURRENT.with(|current| current.replace(shared as *const Shared));
        Enter { previous }
    }
}

impl Drop for Enter {
    fn drop(&mut self) {
        CURRENT.with(|current| current.set(self.previous));
    }
}

/// Run `f` with the simulation running on this thread, if any.
#[inline]
pub(crate) fn with_current<R>(f: impl FnOnce(&Shared) -> R) -> Option<R> {
    let shared = CURRENT.with(|current| current.get());
    if shared.is_null() {
        return None;
    }
    // SAFETY: the pointer is set only by `Enter`, which borrows the `Shared` (owned, boxed, by
    // a `Sim`) for the guard's whole life and restores the previous value when dropped, so a
    // non-null pointer always points to a live `Shared` on this thread.
    Some(f(unsafe { &*shared }))
}

/// Like [`with_current`], for an `f` that consumes `value`: outside a simulation, `value`
/// comes back, for the real backend to use.
#[inline]
pub(crate) fn with_current_taking<T, R>(value: T, f: impl FnOnce(&Shared, T) -> R) -> Result<R, T> {
    let shared = CURRENT.with(|current| current.get());
    if shared.is_null() {
        return Err(value);
    }
    // SAFETY: as in `with_current`.
    Ok(f(unsafe { &*shared }, value))
}

pub(crate) fn is_running() -> bool {
    CURRENT.with(|current| !current.get().is_null())
}

/// Run `f` on the world of the running simulation.
///
/// # Panics
/// Outside a running simulation, with a message naming `api`.
#[inline]
#[track_caller]
pub(crate) fn with_world<R>(api: &'static str, f: impl FnOnce(&mut World) -> R) -> R {
    match with_current(|shared| f(&mut shared.world.borrow_mut())) {
        Some(result) => result,
        None => panic!("{}", Error::new(ErrorKind::NoSimulation, api)),
    }
}

/// Like [`with_world`], but an error instead of a panic outside a simulation.
pub(crate) fn try_with_shared<R>(api: &'static str, f: impl FnOnce(&Shared) -> R) -> Result<R, Error> {
    with_current(f).ok_or_else(|| Error::new(ErrorKind::NoSimulation, api))
}
