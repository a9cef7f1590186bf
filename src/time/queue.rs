//! The event queue: what is scheduled to happen, ordered by (time, sequence).
//!
//! Events are grouped by instant. The instant being processed is a plain list drained from
//! the front; each later instant is a list in an arena of slots, and a binary heap orders the
//! lists by (instant, sequence number of their first event). Simulations schedule many events
//! at the same instant (timers of round durations, messages of a fixed latency), so this
//! touches far less memory than one heap of every event. A push finds its instant's list
//! through `last` (the list made last) or `recent`, a small direct-mapped cache from instant
//! to slot made once a world has many instants pending: a hit is an append, a miss starts a
//! new list (and a heap entry). Popping reads the current list from the
//! front; a new instant costs one heap pop. Slots keep their buffers, so a warm queue
//! allocates nothing.
//!
//! Order: a list is only ever appended to while it is the newest list of its instant (`last`
//! and the cache are set only when a list is made, and a list made later for the same
//! instant, after both forgot the first, replaces it there). So the lists of one instant hold disjoint,
//! increasing runs of sequence numbers, and the heap pops them in that order. Events at one
//! instant therefore come out in push (sequence) order: the order a heap keyed by (time,
//! sequence) gives, which a unit test checks on random schedules.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// Entries of the instant-to-list cache (a power of two): more than the distinct instants a
/// timer-heavy run keeps pending at once (about 100 for sleeps of 1 to 100 ms).
const RECENT: usize = 256;
/// Pending lists before the cache is made: a small world (a tiny simulation, a ping-pong)
/// never pays for it, and finds its lists through `last` alone.
const RECENT_AFTER: usize = 16;
/// Buffers kept for `next`; more are dropped.
const SPARE_LISTS_MAX: usize = 64;

/// The events of one instant, each with its sequence number, in push order; a popped slot is
/// left `None` until the list is cleared as a whole.
type List<T> = Vec<(u64, Option<T>)>;

/// A list in the arena: its instant, whether it is pending (in the heap), its events.
struct Slot<T> {
    at: u64,
    pending: bool,
    events: List<T>,
}

pub(crate) struct EventQueue<T> {
    /// The soonest pending instant, when it was pushed sooner than everything pending: kept
    /// out of the heap (every list in the heap is at a later instant), so a lone event (a
    /// ping-pong's message, a stream's next segment ahead of its retransmission timer) costs
    /// no heap operation.
    next: Option<(u64, List<T>)>,
    /// Buffers for `next`, kept for reuse.
    spare: Vec<List<T>>,
    /// Pending lists by (instant, first sequence number, slot), soonest first.
    heap: BinaryHeap<Reverse<(u64, u64, u32)>>,
    slots: Vec<Slot<T>>,
    /// Slots not pending, each with an empty buffer to reuse.
    free: Vec<u32>,
    /// By a hash of the instant: an instant and the slot of the newest list made for it, if
    /// the entry was not overwritten since (checked against the slot before use). Empty until
    /// `RECENT_AFTER` lists are pending at once.
    recent: Vec<(u64, u32)>,
    /// The instant and slot of the list made last: consecutive pushes to one instant (a
    /// fan-out's messages, timers set in one poll) find it without the cache.
    last: (u64, u32),
    /// The instant being drained, its events, and how many have been popped.
    draining_at: u64,
    draining: List<T>,
    drained: usize,
    len: usize,
}

impl<T> EventQueue<T> {
    pub(crate) fn new() -> EventQueue<T> {
        EventQueue {
            next: None,
            spare: Vec::new(),
            heap: BinaryHeap::new(),
            slots: Vec::new(),
            free: Vec::new(),
            recent: Vec::new(),
            last: (0, u32::MAX),
            draining_at: 0,
            draining: Vec::new(),
            drained: 0,
            len: 0,
        }
    }

    /// Schedule `event` at `at` with sequence number `seq`. Callers push in increasing
    /// sequence order and never before the instant being drained.
    #[inline]
    pub(crate) fn push(&mut self, at: u64, seq: u64, event: T) {
        debug_assert!(self.drained == self.draining.len() || at >= self.draining_at);
        self.len += 1;
        if at == self.draining_at && self.drained < self.draining.len() && self.next_at_after_draining() != Some(at) {
            // No other list of this instant is pending, so nothing pushed before this event
            // would come after it.
            self.draining.push((seq, Some(event)));
            return;
        }
        match &mut self.next {
            Some((next_at, list)) if *next_at == at => {
                list.push((seq, Some(event)));
                return;
            }
            Some((next_at, _)) if *next_at < at => {}
            Some(_) => {
                // Sooner than `next`: `next` joins the heap, and this instant takes its place.
                let (next_at, list) = self.next.take().expect("matched");
                let index = self.new_slot(next_at);
                let slot = &mut self.slots[index as usize];
                let first = list[0].0;
                let buffer = std::mem::replace(&mut slot.events, list);
                self.heap.push(Reverse((next_at, first, index)));
                self.remember(next_at, index);
                self.next = Some((at, Self::filled(buffer, seq, event)));
                return;
            }
            None if self.heap.peek().is_none_or(|Reverse((first, _, _))| at < *first) => {
                let buffer = self.spare.pop().unwrap_or_default();
                self.next = Some((at, Self::filled(buffer, seq, event)));
                return;
            }
            None => {}
        }
        let known = if self.last.0 == at { Some(self.last) } else { self.recent.get(Self::hash(at)).copied() };
        if let Some((known_at, index)) = known {
            if let Some(slot) = self.slots.get_mut(index as usize) {
                if known_at == at && slot.pending && slot.at == at {
                    slot.events.push((seq, Some(event)));
                    return;
                }
            }
        }
        let index = self.new_slot(at);
        self.slots[index as usize].events.push((seq, Some(event)));
        self.heap.push(Reverse((at, seq, index)));
        self.remember(at, index);
    }

    fn filled(mut buffer: List<T>, seq: u64, event: T) -> List<T> {
        debug_assert!(buffer.is_empty());
        buffer.push((seq, Some(event)));
        buffer
    }

    fn hash(at: u64) -> usize {
        (at.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> (64 - RECENT.trailing_zeros())) as usize
    }

    /// A slot for a new list at `at`, pending, its buffer empty.
    fn new_slot(&mut self, at: u64) -> u32 {
        let index = match self.free.pop() {
            Some(index) => index,
            None => {
                assert!(self.slots.len() < u32::MAX as usize, "more than 2^32 pending instants");
                self.slots.push(Slot { at, pending: false, events: Vec::new() });
                (self.slots.len() - 1) as u32
            }
        };
        let slot = &mut self.slots[index as usize];
        debug_assert!(!slot.pending && slot.events.is_empty());
        slot.at = at;
        slot.pending = true;
        index
    }

    /// Note that the newest list at `at` is in slot `index`.
    fn remember(&mut self, at: u64, index: u32) {
        self.last = (at, index);
        if self.recent.is_empty() && self.heap.len() >= RECENT_AFTER {
            self.recent = vec![(0, u32::MAX); RECENT];
        }
        if let Some(entry) = self.recent.get_mut(Self::hash(at)) {
            *entry = (at, index);
        }
    }

    /// The soonest pending instant after the one being drained.
    #[inline]
    fn next_at_after_draining(&self) -> Option<u64> {
        match &self.next {
            Some((at, _)) => Some(*at),
            None => self.heap.peek().map(|Reverse((at, _, _))| *at),
        }
    }

    /// When the next event is due.
    #[inline]
    pub(crate) fn next_at(&self) -> Option<u64> {
        if self.drained < self.draining.len() {
            return Some(self.draining_at);
        }
        self.next_at_after_draining()
    }

    /// The next event, if it is due by `until`: `(at, seq, event)`.
    #[inline]
    pub(crate) fn pop_until(&mut self, until: u64) -> Option<(u64, u64, T)> {
        if self.drained == self.draining.len() {
            let at = self.next_at_after_draining()?;
            if at > until {
                return None;
            }
            self.draining.clear();
            match self.next.take() {
                Some((_, list)) => {
                    let drained = std::mem::replace(&mut self.draining, list);
                    if self.spare.len() < SPARE_LISTS_MAX {
                        self.spare.push(drained);
                    }
                }
                None => {
                    let Reverse((_, _, index)) = self.heap.pop().expect("peeked");
                    // The drained list's buffer goes to the slot, which is free again.
                    let slot = &mut self.slots[index as usize];
                    std::mem::swap(&mut self.draining, &mut slot.events);
                    slot.pending = false;
                    self.free.push(index);
                }
            }
            self.draining_at = at;
            self.drained = 0;
        } else if self.draining_at > until {
            return None;
        }
        // The slot is left empty; the list is cleared as a whole when the next instant starts.
        let index = self.drained;
        self.drained += 1;
        self.len -= 1;
        let (seq, event) = &mut self.draining[index];
        Some((self.draining_at, *seq, event.take().expect("each slot is popped once")))
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Drain everything due by `until`.
    fn drain(queue: &mut EventQueue<&'static str>, until: u64) -> Vec<(u64, u64, &'static str)> {
        std::iter::from_fn(|| queue.pop_until(until)).collect()
    }

    #[test]
    fn pops_by_time_then_sequence() {
        let mut queue = EventQueue::new();
        queue.push(30, 0, "c");
        queue.push(10, 1, "a");
        queue.push(30, 2, "d");
        queue.push(20, 3, "b");
        assert_eq!(queue.len(), 4);
        assert_eq!(queue.next_at(), Some(10));
        assert_eq!(drain(&mut queue, 25), vec![(10, 1, "a"), (20, 3, "b")]);
        assert_eq!(queue.next_at(), Some(30));
        assert_eq!(drain(&mut queue, 100), vec![(30, 0, "c"), (30, 2, "d")]);
        assert_eq!((queue.len(), queue.next_at()), (0, None));
    }

    #[test]
    fn an_event_pushed_for_the_instant_being_drained_comes_after_the_others() {
        let mut queue = EventQueue::new();
        queue.push(5, 0, "first");
        queue.push(5, 1, "second");
        assert_eq!(queue.pop_until(5), Some((5, 0, "first")));
        queue.push(5, 2, "pushed while draining");
        queue.push(6, 3, "later");
        assert_eq!(drain(&mut queue, 10), vec![(5, 1, "second"), (5, 2, "pushed while draining"), (6, 3, "later")]);
    }

    #[test]
    fn an_instant_pushed_again_after_it_was_drained_is_not_lost() {
        let mut queue = EventQueue::new();
        queue.push(5, 0, "a");
        assert_eq!(drain(&mut queue, 5).len(), 1);
        queue.push(5, 1, "b"); // the clock is still at 5: sleep(0), a zero-latency link
        assert_eq!(queue.next_at(), Some(5));
        assert_eq!(drain(&mut queue, 5), vec![(5, 1, "b")]);
    }

    /// Drive the queue and a plain heap with the same random pushes and pops (`push` says
    /// whether a step pushes, `later` how far past the clock), and require them to agree on
    /// every pop, the length and the next instant.
    fn agrees_with_a_heap(
        seed: u64,
        steps: usize,
        push: impl Fn(&mut crate::rand::Stream) -> bool,
        later: impl Fn(&mut crate::rand::Stream) -> u64,
    ) {
        use std::cmp::Reverse;
        use std::collections::BinaryHeap;
        let mut rng = crate::rand::Stream::for_purpose(crate::seed::Seed(seed), crate::rand::Purpose::World);
        let mut queue = EventQueue::new();
        let mut heap = BinaryHeap::new();
        let (mut now, mut seq) = (0u64, 0u64);
        for _ in 0..steps {
            if push(&mut rng) {
                let at = now + later(&mut rng);
                queue.push(at, seq, seq);
                heap.push(Reverse((at, seq)));
                seq += 1;
            } else if let Some(Reverse((at, s))) = heap.pop() {
                now = at;
                assert_eq!(queue.pop_until(u64::MAX), Some((at, s, s)));
            }
            assert_eq!(queue.len(), heap.len());
            assert_eq!(queue.next_at(), heap.peek().map(|Reverse((at, _))| *at));
        }
    }

    #[test]
    fn matches_a_heap_on_random_schedules() {
        agrees_with_a_heap(3, 5_000, |rng| rng.below(3) > 0, |rng| rng.below(20));
    }

    #[test]
    fn matches_a_heap_when_instants_collide_in_the_cache() {
        // Far more distinct instants than cache entries, many events each, pushes at the
        // instant being drained: lists of one instant made after the cache forgot the first.
        agrees_with_a_heap(5, 50_000, |rng| rng.below(5) > 1, |rng| rng.below(3) * rng.below(2_000));
    }
}
