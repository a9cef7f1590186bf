//! Wakers that allocate nothing: the waker's data pointer *is* the task's packed id.
//!
//! A packed id is `world tag (16 bits) | slot generation (16 bits) | slot key (32 bits)`.
//! Cloning or dropping a waker touches no memory; waking pushes the id into the inbox of the
//! simulation running on this thread. The executor checks the generation when it drains the
//! inbox, so a stale waker never wakes the task that reuses its slot (at worst, after 65,536
//! reuses of one slot, it causes a spurious poll, which every future must tolerate).
//!
//! A wake that arrives on a thread where its world is not running (a thread the node code
//! spawned, another runtime's reactor) cannot be delivered deterministically. It is recorded
//! here, keyed by the world's tag, and the owning world reports it as a determinism failure at
//! its next step. That record is the only process-wide state in the simulated path, and a
//! world removes its own entries when it reads them or is dropped.

use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU64, Ordering};
use std::sync::Mutex;
use std::task::{RawWaker, RawWakerVTable, Waker};

use crate::context;

#[cfg(not(target_pointer_width = "64"))]
compile_error!("seedsim packs task ids into waker data pointers and needs a 64-bit target");

/// How many unclaimed foreign wakes are remembered before the oldest are forgotten.
const FOREIGN_WAKES_MAX: usize = 256;
/// How many times, a millisecond of host time apart, a world about to report a deadlock looks
/// again for a wake from another thread (see `await_foreign`).
pub(crate) const FOREIGN_GRACE_CHECKS: u32 = 20;

static FOREIGN_PENDING: AtomicBool = AtomicBool::new(false);
static FOREIGN_WAKES: Mutex<Vec<u16>> = Mutex::new(Vec::new());
static NEXT_TAG: AtomicU16 = AtomicU16::new(1);
static NEXT_WORLD_ID: AtomicU64 = AtomicU64::new(1);

/// A tag for a new world: distinguishes worlds alive at the same time on different threads.
/// It never enters the trace, so it cannot make two runs of one seed differ.
pub(crate) fn next_world_tag() -> u16 {
    NEXT_TAG.fetch_add(1, Ordering::Relaxed)
}

/// An id for a new world, unique in the process. Like the tag, it never enters the trace.
pub(crate) fn next_world_id() -> u64 {
    NEXT_WORLD_ID.fetch_add(1, Ordering::Relaxed)
}

#[inline]
pub(crate) fn pack(tag: u16, generation: u16, key: u32) -> u64 {
    (u64::from(tag) << 48) | (u64::from(generation) << 32) | u64::from(key)
}

#[inline]
pub(crate) fn unpack(id: u64) -> (u16, u16, u32) {
    ((id >> 48) as u16, (id >> 32) as u16, id as u32)
}

static VTABLE: RawWakerVTable = RawWakerVTable::new(clone, wake, wake, drop);

// Safety of the four functions: the data pointer is never dereferenced; it is an integer
// carried in a pointer-sized field.
unsafe fn clone(data: *const ()) -> RawWaker {
    RawWaker::new(data, &VTABLE)
}

unsafe fn wake(data: *const ()) {
    wake_id(data as usize as u64);
}

unsafe fn drop(_data: *const ()) {}

/// The waker of the task with this packed id.
#[inline]
pub(crate) fn waker(id: u64) -> Waker {
    // SAFETY: the vtable's functions treat the data as an integer and uphold RawWaker's
    // contract trivially (clone returns the same id; drop releases nothing).
    unsafe { Waker::from_raw(RawWaker::new(id as usize as *const (), &VTABLE)) }
}

/// The packed id of `waker` if it is one of seedsim's task wakers of the world tagged `tag`:
/// the run loop then queues the id itself, without the thread-local lookup of a wake.
#[inline]
pub(crate) fn own_id(waker: &Waker, tag: u16) -> Option<u64> {
    let id = waker.data() as usize as u64;
    (std::ptr::eq(waker.vtable(), &VTABLE) && unpack(id).0 == tag).then_some(id)
}

#[inline]
fn wake_id(id: u64) {
    let (tag, _, _) = unpack(id);
    let delivered = context::with_current(|shared| {
        if shared.tag == tag {
            shared.inbox.borrow_mut().push(id);
            true
        } else {
            false
        }
    });
    if delivered != Some(true) {
        record_foreign(tag);
    }
}

#[cold]
fn record_foreign(tag: u16) {
    let mut wakes = FOREIGN_WAKES.lock().unwrap_or_else(|poison| poison.into_inner());
    if wakes.len() >= FOREIGN_WAKES_MAX {
        wakes.remove(0);
    }
    wakes.push(tag);
    FOREIGN_PENDING.store(true, Ordering::Release);
}

/// How many foreign wakes were recorded for the world with this tag; removes them.
/// Costs one relaxed load when there are none, so the run loop calls it every step.
#[inline]
pub(crate) fn take_foreign(tag: u16) -> usize {
    if !FOREIGN_PENDING.load(Ordering::Acquire) {
        return 0;
    }
    take_foreign_slow(tag)
}

#[cold]
fn take_foreign_slow(tag: u16) -> usize {
    let mut wakes = FOREIGN_WAKES.lock().unwrap_or_else(|poison| poison.into_inner());
    let before = wakes.len();
    wakes.retain(|&t| t != tag);
    if wakes.is_empty() {
        FOREIGN_PENDING.store(false, Ordering::Release);
    }
    before - wakes.len()
}

/// Like `take_foreign`, but when there is none yet, wait for one for up to
/// `FOREIGN_GRACE_CHECKS` milliseconds of host time. `Runner` calls it once, after a run it is
/// about to report as a deadlock: a task woken by a thread the node code started (or another
/// runtime's reactor) is then waiting for a wake that will come, late and from outside the
/// simulation, and that is a determinism failure, not a deadlock of the system under test.
/// Waiting changes nothing in the run (its trace is complete), only which failure is
/// reported; it reads no clock. A run itself never waits: sweeps meet deadlocks by the
/// thousand.
pub(crate) fn await_foreign(tag: u16) -> usize {
    for _ in 0..FOREIGN_GRACE_CHECKS {
        let wakes = take_foreign(tag);
        if wakes > 0 {
            return wakes;
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    take_foreign(tag)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pack_round_trips() {
        for (tag, r#gen, key) in [(0, 0, 0), (1, 2, 3), (u16::MAX, u16::MAX, u32::MAX)] {
            assert_eq!(unpack(pack(tag, r#gen, key)), (tag, r#gen, key));
        }
    }

    #[test]
    fn a_wake_with_no_world_running_is_recorded_for_its_tag() {
        let tag = next_world_tag();
        waker(pack(tag, 0, 5)).wake_by_ref();
        waker(pack(tag, 0, 6)).wake();
        assert_eq!(take_foreign(tag), 2);
        assert_eq!(take_foreign(tag), 0);
    }
}
