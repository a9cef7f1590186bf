//! The event queue: what is scheduled to happen, ordered by (time, sequence).
//!
//! Events are grouped by instant. The instant being processed is a plain list drained from
//! the front; later instants are lists in a `BTreeMap` keyed by time. Simulations schedule
//! many events at the same instant (timers of round durations, messages of a fixed latency),
//! so this touches far less memory than one binary heap of every event: pushing is a map
//! lookup among the distinct pending instants and an append, popping is a read from the
//! front. Emptied lists are kept for reuse, so a warm queue allocates nothing.
//!
//! The soonest pending instant after the one being drained may sit outside the map, in
//! `next`: when a push is sooner than everything pending (a ping-pong, where each message is
//! the only event, each at a new instant, or a stream whose far-off retransmission timer
//! waits in the map) pushing and popping it touch no map node.
//!
//! Events at one instant come out in the order they were pushed, which is sequence order:
//! the same order a heap keyed by (time, sequence) gives.

use std::collections::BTreeMap;

/// Lists kept for reuse; more are dropped.
const SPARE_LISTS_MAX: usize = 64;

/// The events of one instant, each with its sequence number, in push order; a popped slot is
/// left `None` until the list is cleared as a whole.
type List<T> = Vec<(u64, Option<T>)>;

pub(crate) struct EventQueue<T> {
    /// The soonest instant after the one being drained, if it is not in `later`: every key of
    /// `later` is after it.
    next: Option<(u64, List<T>)>,
    /// Instants after the one being drained (and after `next`), each with its events in push
    /// order.
    later: BTreeMap<u64, List<T>>,
    /// The instant being drained, its events, and how many have been popped.
    draining_at: u64,
    draining: List<T>,
    drained: usize,
    spare: Vec<List<T>>,
    len: usize,
}

impl<T> EventQueue<T> {
    pub(crate) fn new() -> EventQueue<T> {
        EventQueue {
            next: None,
            later: BTreeMap::new(),
            draining_at: 0,
            draining: Vec::new(),
            drained: 0,
            spare: Vec::new(),
            len: 0,
        }
    }

    /// Schedule `event` at `at` with sequence number `seq`. Callers push in increasing
    /// sequence order and never before the instant being drained.
    #[inline]
    pub(crate) fn push(&mut self, at: u64, seq: u64, event: T) {
        debug_assert!(self.drained == self.draining.len() || at >= self.draining_at);
        self.len += 1;
        if at == self.draining_at && self.drained < self.draining.len() {
            self.draining.push((seq, Some(event)));
            return;
        }
        match &mut self.next {
            Some((next_at, list)) if *next_at == at => {
                list.push((seq, Some(event)));
                return;
            }
            Some((next_at, _)) if *next_at < at => {}
            // Sooner than `next`: `next` joins the map, and this instant takes its place.
            Some(_) => {
                let mut list = self.spare.pop().unwrap_or_default();
                list.push((seq, Some(event)));
                let (later_at, later_list) = self.next.replace((at, list)).expect("matched");
                self.later.insert(later_at, later_list);
                return;
            }
            None if self.later.first_key_value().is_none_or(|(first, _)| at < *first) => {
                let mut list = self.spare.pop().unwrap_or_default();
                list.push((seq, Some(event)));
                self.next = Some((at, list));
                return;
            }
            None => {}
        }
        if let Some(list) = self.later.get_mut(&at) {
            list.push((seq, Some(event)));
            return;
        }
        let mut list = self.spare.pop().unwrap_or_default();
        list.push((seq, Some(event)));
        self.later.insert(at, list);
    }

    /// When the next event is due.
    #[inline]
    pub(crate) fn next_at(&self) -> Option<u64> {
        if self.drained < self.draining.len() {
            return Some(self.draining_at);
        }
        match &self.next {
            Some((at, _)) => Some(*at),
            None => self.later.first_key_value().map(|(at, _)| *at),
        }
    }

    /// The next event, if it is due by `until`: `(at, seq, event)`.
    #[inline]
    pub(crate) fn pop_until(&mut self, until: u64) -> Option<(u64, u64, T)> {
        if self.drained == self.draining.len() {
            let (at, list) = match &self.next {
                Some((at, _)) if *at > until => return None,
                Some(_) => self.next.take().expect("matched"),
                None => {
                    if self.later.first_key_value()?.0 > &until {
                        return None;
                    }
                    self.later.pop_first().expect("peeked")
                }
            };
            let mut done = std::mem::replace(&mut self.draining, list);
            if self.spare.len() < SPARE_LISTS_MAX {
                done.clear();
                self.spare.push(done);
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

    #[test]
    fn matches_a_heap_on_random_schedules() {
        use std::cmp::Reverse;
        use std::collections::BinaryHeap;
        let mut rng = crate::rand::Stream::for_purpose(crate::seed::Seed(3), crate::rand::Purpose::World);
        let mut queue = EventQueue::new();
        let mut heap = BinaryHeap::new();
        let (mut now, mut seq) = (0u64, 0u64);
        for _ in 0..5_000 {
            if rng.below(3) > 0 {
                let at = now + rng.below(20);
                queue.push(at, seq, seq);
                heap.push(Reverse((at, seq)));
                seq += 1;
            } else if let Some(Reverse((at, s))) = heap.pop() {
                now = at;
                assert_eq!(queue.pop_until(u64::MAX), Some((at, s, s)));
            }
            assert_eq!(queue.len(), heap.len());
        }
    }
}
