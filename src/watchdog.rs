//! The watchdog: a poll that runs longer than a wall-clock limit is reported (seed, node, task,
//! where the task was spawned, the replay line) instead of hanging its run silently.
//!
//! A simulation thread publishes what it polls into its thread's `Slot`, around every poll:
//! a handful of relaxed stores of integers it already holds (the step, simulated time, trace
//! hash, node, task, and a pointer to the `&'static Location` the task was spawned at). No
//! allocation, no formatting, no lock, no clock read on that thread. The node names and the
//! replay command are copied into the slot once, when a run starts.
//!
//! One process-wide watchdog thread, started the first time a watched `Sim` is made (never
//! one per run), wakes a few times per limit and reads only those atomics: a slot whose poll
//! counter has not moved since it first saw that poll, for longer than the limit, is a hang.
//! Nothing here touches a simulation's `RefCell`s, and no run reads anything the watchdog
//! writes, so it changes nothing a run does: trace hashes are the same with it on or off.
//!
//! A poll cannot be stopped from outside its thread. By default (a `Runner`, a `Sim` run by
//! hand, a target's `run`) the report goes to stderr and the process exits with a failure,
//! because the run, and the test around it, would otherwise never end. `explore` registers a
//! handler on its worker threads instead ([`on_hang`]) that records the failure and abandons
//! the thread. This module and `explore` are the only places allowed a thread and the host
//! clock; the watchdog's clock times polls from outside and never enters a run.

#![allow(clippy::disallowed_methods, clippy::disallowed_types)] // a host thread that times polls from outside

use std::cell::OnceCell;
use std::io::Write;
use std::panic::Location;
use std::ptr;
use std::sync::atomic::{fence, AtomicI32, AtomicPtr, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Once, Weak};
use std::time::{Duration, Instant};

use crate::fault::FaultPlan;
use crate::node::NodeId;
use crate::seed::Seed;
use crate::sim::outcome::{Cause, Failure};
use crate::task::TaskId;

/// The limit a `Sim` gets unless told otherwise: one poll running this long on the host is a
/// task that never yields. A legitimate poll takes microseconds.
pub(crate) const LIMIT_DEFAULT: Duration = Duration::from_secs(10);

/// The watchdog's sleep between looks is the shortest active limit over `TICKS_PER_LIMIT`,
/// kept within these bounds, so a hang is reported at most one tick after the limit.
const TICKS_PER_LIMIT: u32 = 8;
const TICK_MIN: Duration = Duration::from_millis(5);
const TICK_MAX: Duration = Duration::from_millis(500);

/// What a hang on a thread without a handler does after its report: exit the process with
/// this code (101, what a failed test binary returns; `explore` targets set 1).
static EXIT_CODE: AtomicI32 = AtomicI32::new(101);

/// Every thread's slot that may still be polled; pruned as threads end.
static SLOTS: Mutex<Vec<Weak<Slot>>> = Mutex::new(Vec::new());
static START: Once = Once::new();

thread_local! {
    static SLOT: OnceCell<Arc<Slot>> = const { OnceCell::new() };
}

/// What the sweep (or a test) does with a hang on its thread instead of ending the process.
/// It runs on the watchdog thread, so it must not block.
pub(crate) type Handler = Arc<dyn Fn(Box<Failure>) + Send + Sync>;

/// One thread's published poll. Written only by its simulation thread (the poll fields) or at
/// run boundaries (the rest); read by the watchdog thread.
pub(crate) struct Slot {
    /// Polls begun plus polls ended on this thread: odd while a poll runs.
    seq: AtomicU64,
    step: AtomicU64,
    /// True simulated time, in nanoseconds.
    now: AtomicU64,
    trace_hash: AtomicU64,
    task: AtomicU64,
    node: AtomicU32,
    site: AtomicPtr<Location<'static>>,
    /// The world being run (`Shared::id`), its seed and its limit in nanoseconds (0: off):
    /// set each time a `Sim` enters its run loop.
    world: AtomicU64,
    seed: AtomicU64,
    limit: AtomicU64,
    /// Names and replay command of the world that started last on this thread.
    info: Mutex<Info>,
    handler: Mutex<Option<Handler>>,
    /// The watchdog thread's own notes on this slot.
    seen: Mutex<Seen>,
}

#[derive(Default)]
struct Info {
    world: u64,
    names: Vec<String>,
    replay: Option<String>,
}

#[derive(Default)]
struct Seen {
    seq: u64,
    since: Option<Instant>,
    reported: u64,
}

impl Slot {
    fn new() -> Slot {
        Slot {
            seq: AtomicU64::new(0),
            step: AtomicU64::new(0),
            now: AtomicU64::new(0),
            trace_hash: AtomicU64::new(0),
            task: AtomicU64::new(0),
            node: AtomicU32::new(0),
            site: AtomicPtr::new(ptr::null_mut()),
            world: AtomicU64::new(0),
            seed: AtomicU64::new(0),
            limit: AtomicU64::new(0),
            info: Mutex::new(Info::default()),
            handler: Mutex::new(None),
            seen: Mutex::new(Seen::default()),
        }
    }
}

/// This thread's slot, made (and the watchdog started) on first use. `None` while the
/// thread's locals are being destroyed.
fn slot() -> Option<Arc<Slot>> {
    SLOT.try_with(|cell| {
        cell.get_or_init(|| {
            let slot = Arc::new(Slot::new());
            SLOTS.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).push(Arc::downgrade(&slot));
            START.call_once(start);
            slot
        })
        .clone()
    })
    .ok()
}

fn start() {
    let spawned = std::thread::Builder::new().name("seedsim-watchdog".to_owned()).spawn(watch);
    if let Err(err) = spawned {
        let _ =
            writeln!(std::io::stderr(), "seedsim: could not start the watchdog thread ({err}); hangs go unreported");
    }
}

/// Handle hangs on this thread with `handler` instead of ending the process (for `explore`'s
/// workers, and the children of `explore --isolate`).
#[cfg(feature = "explore")]
pub(crate) fn on_hang(handler: Handler) {
    if let Some(slot) = slot() {
        *slot.handler.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(handler);
    }
}

/// The exit code of a process ended by a hang that no handler took.
#[cfg(feature = "explore")]
pub(crate) fn set_exit_code(code: i32) {
    EXIT_CODE.store(code, Ordering::Relaxed);
}

/// A `Sim`'s hold on its thread's slot.
pub(crate) struct Watch {
    slot: Arc<Slot>,
}

impl Watch {
    /// The slot of this thread, or `None` if it has none (thread teardown).
    pub(crate) fn new() -> Option<Watch> {
        slot().map(|slot| Watch { slot })
    }

    /// This thread now runs `world`, with this seed and limit (nonzero).
    #[inline]
    pub(crate) fn enter(&self, world: u64, seed: Seed, limit: Duration) {
        debug_assert!(!limit.is_zero());
        self.slot.world.store(world, Ordering::Relaxed);
        self.slot.seed.store(seed.0, Ordering::Relaxed);
        self.slot.limit.store(crate::time::nanos(limit).max(1), Ordering::Relaxed);
    }

    /// Copy the world's node names and replay command for a report: when its run starts (and
    /// when a node is added later). Reuses the strings already there, so a sweep of runs with
    /// the same names allocates nothing here.
    pub(crate) fn describe<'a>(&self, world: u64, replay: Option<&str>, names: impl Iterator<Item = &'a str>) {
        let mut info = self.slot.info.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        info.world = world;
        let mut count = 0;
        for name in names {
            match info.names.get_mut(count) {
                Some(kept) => {
                    kept.clear();
                    kept.push_str(name);
                }
                None => info.names.push(name.to_owned()),
            }
            count += 1;
        }
        info.names.truncate(count);
        match (&mut info.replay, replay) {
            (Some(kept), Some(replay)) => {
                kept.clear();
                kept.push_str(replay);
            }
            (kept, replay) => *kept = replay.map(str::to_owned),
        }
    }

    /// A poll begins: what it is, then the counter made odd.
    #[inline]
    pub(crate) fn begin(&self, poll: Poll) {
        let slot = &*self.slot;
        slot.step.store(poll.step, Ordering::Relaxed);
        slot.now.store(poll.now, Ordering::Relaxed);
        slot.trace_hash.store(poll.trace_hash, Ordering::Relaxed);
        slot.task.store(poll.task.0, Ordering::Relaxed);
        slot.node.store(poll.node.0, Ordering::Relaxed);
        slot.site.store(ptr::from_ref(poll.site).cast_mut(), Ordering::Relaxed);
        // Odd from here to `end`. (A `Sim` run inside another's poll makes the outer poll
        // look idle while the inner one runs: the parity still comes out right after it.)
        let seq = slot.seq.load(Ordering::Relaxed);
        slot.seq.store(seq.wrapping_add(1), Ordering::Release);
    }

    /// The poll returned (or panicked): the counter made even.
    #[inline]
    pub(crate) fn end(&self) {
        let seq = self.slot.seq.load(Ordering::Relaxed);
        self.slot.seq.store(seq.wrapping_add(1), Ordering::Release);
    }
}

/// What one poll is, as the run loop publishes it.
pub(crate) struct Poll {
    pub(crate) step: u64,
    pub(crate) now: u64,
    pub(crate) trace_hash: u64,
    pub(crate) node: NodeId,
    pub(crate) task: TaskId,
    pub(crate) site: &'static Location<'static>,
}

/// The watchdog thread: look at every slot each tick, forever.
fn watch() {
    loop {
        let slots: Vec<Arc<Slot>> = {
            let mut all = SLOTS.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            all.retain(|slot| slot.strong_count() > 0);
            all.iter().filter_map(Weak::upgrade).collect()
        };
        let shortest = slots
            .iter()
            .map(|slot| slot.limit.load(Ordering::Relaxed))
            .filter(|&limit| limit > 0)
            .min()
            .map_or(TICK_MAX, |limit| Duration::from_nanos(limit) / TICKS_PER_LIMIT);
        for slot in &slots {
            if let Some(failure) = look(slot) {
                report(slot, failure);
            }
        }
        drop(slots);
        std::thread::sleep(shortest.clamp(TICK_MIN, TICK_MAX));
    }
}

/// A look at one slot: the hang's report if its poll has outlasted the limit.
fn look(slot: &Slot) -> Option<Box<Failure>> {
    let mut seen = slot.seen.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let seq = slot.seq.load(Ordering::Acquire);
    let limit = slot.limit.load(Ordering::Relaxed);
    if seq % 2 == 0 || limit == 0 {
        seen.since = None;
        return None;
    }
    let now = Instant::now();
    let since = match seen.since {
        Some(since) if seen.seq == seq => since,
        _ => {
            (seen.seq, seen.since) = (seq, Some(now));
            return None;
        }
    };
    let ran_for = now.duration_since(since);
    let limit = Duration::from_nanos(limit);
    if seen.reported == seq || ran_for < limit {
        return None;
    }
    let (step, at, trace_hash) =
        (slot.step.load(Ordering::Relaxed), slot.now.load(Ordering::Relaxed), slot.trace_hash.load(Ordering::Relaxed));
    let (task, node, site) =
        (slot.task.load(Ordering::Relaxed), slot.node.load(Ordering::Relaxed), slot.site.load(Ordering::Relaxed));
    let (world, seed) = (slot.world.load(Ordering::Relaxed), slot.seed.load(Ordering::Relaxed));
    // The fields were read while the poll they describe was still running.
    fence(Ordering::Acquire);
    if slot.seq.load(Ordering::Relaxed) != seq || site.is_null() {
        return None;
    }
    seen.reported = seq;
    // SAFETY: `site` was stored from a `&'static Location<'static>` in `Watch::begin`, and a
    // static location lives for the whole process.
    let site: &'static Location<'static> = unsafe { &*site };
    let info = slot.info.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let ours = info.world == world;
    let node_name = info.names.get(node as usize).filter(|_| ours).cloned().unwrap_or_else(|| format!("#{node}"));
    let seed = Seed(seed);
    Some(Box::new(Failure {
        seed,
        time: crate::time::Instant::from_nanos(at),
        step,
        node: Some(node_name),
        task: Some(TaskId(task)),
        cause: Cause::Hang { spawned_at: format!("{}:{}", site.file(), site.line()), ran_for, limit },
        last_events: Vec::new(),
        trace_hash,
        replay: crate::sim::replay_line(seed, if ours { info.replay.as_deref() } else { None }),
        faults: FaultPlan::new(),
        coverage: Default::default(),
        feedback: Default::default(),
        files: Vec::new(),
    }))
}

/// Hand a hang to its thread's handler, or print it and end the process.
fn report(slot: &Slot, failure: Box<Failure>) {
    let handler = slot.handler.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone();
    if let Some(handler) = handler {
        handler(failure);
        return;
    }
    // Straight to the process's stderr: the `eprintln!` of a thread started from a test may
    // be captured by the test harness, which will never print it.
    let _ = writeln!(
        std::io::stderr().lock(),
        "{failure}\n\nseedsim: the watchdog ends this process: a poll cannot be stopped from outside its thread, \
         so this run (and the test or command running it) would never end. Set the limit with \
         Builder::watchdog, SEEDSIM_WATCHDOG=SECONDS under a Runner, or --watchdog (0 turns it off)."
    );
    std::process::exit(EXIT_CODE.load(Ordering::Relaxed));
}
