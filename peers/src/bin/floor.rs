//! The floor: the datagram ping-pong and the timer workload as a bare discrete-event loop. A
//! `BinaryHeap` of events keyed by (time, sequence), each event handled by a plain function
//! call: no futures, no wakers, no sockets, no trace. It is what simulating these workloads
//! costs with nothing else around it, so `seedsim / floor` in the table is the price of
//! running real async code (and tracing every event) on top of the same queue.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use seedsim_peers::*;

fn main() {
    measure(
        "floor",
        &[workload("ping-pong", ping_pong), workload("timers", timers), workload("timers-100k", timers_100k)],
    );
}

/// Nanoseconds of the fixed one-way latency.
const LATENCY_NANOS: u64 = LATENCY.as_nanos() as u64;

/// A message in flight: who receives it, and its 64 bytes (moved with the event, as a
/// simulator moves a datagram's payload).
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct Message {
    to: u8,
    payload: [u8; MESSAGE_LEN],
}

/// The event queue: events by (time, sequence), the earliest first.
struct Queue<E: Ord> {
    heap: BinaryHeap<Reverse<(u64, u64, E)>>,
    sequence: u64,
    now: u64,
}

impl<E: Ord> Queue<E> {
    fn new() -> Self {
        Queue { heap: BinaryHeap::new(), sequence: 0, now: 0 }
    }

    fn schedule(&mut self, at: u64, event: E) {
        assert!(at >= self.now, "scheduled at {at} before now {}", self.now);
        self.sequence += 1;
        self.heap.push(Reverse((at, self.sequence, event)));
    }

    fn pop(&mut self) -> Option<E> {
        let Reverse((at, _, event)) = self.heap.pop()?;
        self.now = at;
        Some(event)
    }
}

const SERVER: u8 = 0;
const CLIENT: u8 = 1;

/// The client sends a message, the server echoes it, the client checks it and sends the next,
/// `PING_PONG_TRIPS` times. Counts messages received.
fn ping_pong() -> u64 {
    let mut queue = Queue::new();
    let mut received = 0;
    let mut trips = 0;
    queue.schedule(LATENCY_NANOS, Message { to: SERVER, payload: [0; MESSAGE_LEN] });
    while let Some(message) = queue.pop() {
        received += 1;
        match message.to {
            SERVER => server(&mut queue, message.payload),
            _ => {
                assert_eq!(message.payload[0], trips as u8);
                trips += 1;
                if trips < PING_PONG_TRIPS {
                    client(&mut queue, trips);
                }
            }
        }
    }
    assert_eq!(queue.now, 2 * PING_PONG_TRIPS * LATENCY_NANOS);
    received
}

#[inline(never)]
fn server(queue: &mut Queue<Message>, payload: [u8; MESSAGE_LEN]) {
    queue.schedule(queue.now + LATENCY_NANOS, Message { to: CLIENT, payload });
}

#[inline(never)]
fn client(queue: &mut Queue<Message>, trip: u64) {
    queue.schedule(queue.now + LATENCY_NANOS, Message { to: SERVER, payload: [trip as u8; MESSAGE_LEN] });
}

/// `TIMER_TASKS` tasks, each a count of sleeps done; each fire of a task's timer counts it and
/// schedules its next sleep. Counts fires.
fn timers() -> u64 {
    timers_with(TIMER_TASKS)
}

fn timers_100k() -> u64 {
    timers_with(TIMER_TASKS_LARGE)
}

fn timers_with(tasks: u64) -> u64 {
    let mut queue = Queue::new();
    let mut done = vec![0u64; tasks as usize];
    for task in 0..tasks {
        queue.schedule(sleep_ms(task, 0) * 1_000_000, task as u32);
    }
    let mut fired = 0;
    while let Some(task) = queue.pop() {
        fired += 1;
        fire(&mut queue, &mut done, task);
    }
    assert!(done.iter().all(|&sleeps| sleeps == TIMER_SLEEPS));
    fired
}

#[inline(never)]
fn fire(queue: &mut Queue<u32>, done: &mut [u64], task: u32) {
    let sleeps = &mut done[task as usize];
    *sleeps += 1;
    if *sleeps < TIMER_SLEEPS {
        queue.schedule(queue.now + sleep_ms(u64::from(task), *sleeps) * 1_000_000, task);
    }
}
