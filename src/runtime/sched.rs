//! Scheduling policies: which ready task runs next.
//!
//! The choice among ready tasks is where interleaving bugs hide, so the default policy picks
//! at random from the seed. Every policy is deterministic given the scheduler's own random
//! stream; ties are broken by task id, never by an address.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

use crate::error::{Error, ErrorKind};
use crate::rand::Stream;

/// How the executor picks the next task among those ready to run.
///
/// ```
/// use seedsim::{Policy, Seed, Sim};
/// let sim = Sim::builder().seed(Seed(3)).policy(Policy::Pct { depth: 3 }).build()?;
/// # drop(sim);
/// # Ok::<(), seedsim::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Policy {
    /// In the order tasks became ready, step by step; the tasks one step woke run in slot
    /// order, whatever order their wakes came in. Fastest; explores no interleavings beyond
    /// what the network and timers produce.
    Fifo,
    /// A seeded uniform pick among all ready tasks: every seed tries another interleaving.
    #[default]
    Random,
    /// Probabilistic concurrency testing (Burckhardt et al., ASPLOS 2010): tasks run by
    /// random distinct priorities, and at `depth - 1` random steps the running task drops to
    /// the lowest priority. Finds any bug of depth `depth` with a probability the paper
    /// bounds. `depth` must be 1 to 64.
    Pct {
        /// The bug depth to aim for: how many ordering constraints the bug needs.
        depth: u32,
    },
}

impl Policy {
    pub(crate) fn validate(self) -> Result<Policy, Error> {
        if let Policy::Pct { depth } = self {
            if !(1..=64).contains(&depth) {
                return Err(Error::new(
                    ErrorKind::InvalidConfig { field: "Policy::Pct::depth", expected: "1 to 64" },
                    depth.to_string(),
                ));
            }
        }
        Ok(self)
    }
}

/// An entry of the run queue: a task slot key and the generation it was queued under.
pub(crate) type Queued = (u32, u16);

pub(crate) enum RunQueue {
    Fifo(VecDeque<Queued>),
    Random(Vec<Queued>),
    Pct(Pct),
}

pub(crate) struct Pct {
    /// Ready tasks by (priority, oldest id first).
    ready: BinaryHeap<(u32, Reverse<u64>, Queued)>,
    /// Steps (polls) at which the running task is demoted, ascending.
    change_points: Vec<u64>,
    next_change: usize,
}

/// The number of steps over which PCT spreads its priority change points.
const PCT_STEPS_ESTIMATE: u64 = 10_000;

impl RunQueue {
    pub(crate) fn new(policy: Policy, rng: &mut Stream) -> RunQueue {
        match policy {
            Policy::Fifo => RunQueue::Fifo(VecDeque::new()),
            Policy::Random => RunQueue::Random(Vec::new()),
            Policy::Pct { depth } => {
                let mut change_points: Vec<u64> = (1..depth).map(|_| rng.between(1, PCT_STEPS_ESTIMATE)).collect();
                change_points.sort_unstable();
                RunQueue::Pct(Pct { ready: BinaryHeap::new(), change_points, next_change: 0 })
            }
        }
    }

    /// The priority a new task gets: random for PCT (above every demoted priority), unused
    /// otherwise.
    pub(crate) fn initial_priority(&self, rng: &mut Stream) -> u32 {
        match self {
            RunQueue::Pct(pct) => pct.change_points.len() as u32 + 1 + rng.below(1 << 30) as u32,
            _ => 0,
        }
    }

    #[inline]
    pub(crate) fn push(&mut self, entry: Queued, id: u64, priority: u32) {
        match self {
            RunQueue::Fifo(queue) => queue.push_back(entry),
            RunQueue::Random(ready) => ready.push(entry),
            RunQueue::Pct(pct) => pct.ready.push((priority, Reverse(id), entry)),
        }
    }

    #[inline]
    pub(crate) fn pop(&mut self, rng: &mut Stream) -> Option<Queued> {
        match self {
            RunQueue::Fifo(queue) => queue.pop_front(),
            RunQueue::Random(ready) => match ready.len() {
                0 => None,
                1 => ready.pop(),
                len => Some(ready.swap_remove(rng.below(len as u64) as usize)),
            },
            RunQueue::Pct(pct) => pct.ready.pop().map(|(_, _, entry)| entry),
        }
    }

    /// For PCT: the new priority of the task about to run at `step`, if `step` is a change
    /// point. Demoted priorities are `1..depth`, below every initial priority.
    pub(crate) fn demotion_at(&mut self, step: u64) -> Option<u32> {
        let RunQueue::Pct(pct) = self else {
            return None;
        };
        let mut demoted = None;
        while pct.next_change < pct.change_points.len() && pct.change_points[pct.next_change] <= step {
            pct.next_change += 1;
            demoted = Some((pct.change_points.len() - pct.next_change) as u32 + 1);
        }
        demoted
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rand::Purpose;
    use crate::seed::Seed;

    fn stream() -> Stream {
        Stream::for_purpose(Seed(5), Purpose::Scheduler)
    }

    #[test]
    fn fifo_keeps_order() {
        let mut rng = stream();
        let mut q = RunQueue::new(Policy::Fifo, &mut rng);
        for key in 0..5 {
            q.push((key, 0), u64::from(key), 0);
        }
        let order: Vec<u32> = std::iter::from_fn(|| q.pop(&mut rng)).map(|(k, _)| k).collect();
        assert_eq!(order, vec![0, 1, 2, 3, 4]);
    }

    #[test]
    fn random_pops_every_task_once_in_a_seeded_order() {
        let order = |seed| {
            let mut rng = Stream::for_purpose(Seed(seed), Purpose::Scheduler);
            let mut q = RunQueue::new(Policy::Random, &mut rng);
            for key in 0..16 {
                q.push((key, 0), u64::from(key), 0);
            }
            std::iter::from_fn(|| q.pop(&mut rng)).map(|(k, _)| k).collect::<Vec<u32>>()
        };
        let mut sorted = order(1);
        sorted.sort();
        assert_eq!(sorted, (0..16).collect::<Vec<_>>());
        assert_eq!(order(1), order(1));
        assert_ne!(order(1), order(2));
    }

    #[test]
    fn pct_runs_highest_priority_first_and_demotes_below_all() {
        let mut rng = stream();
        let mut q = RunQueue::new(Policy::Pct { depth: 3 }, &mut rng);
        q.push((0, 0), 0, 10);
        q.push((1, 0), 1, 30);
        q.push((2, 0), 2, 20);
        assert_eq!(q.pop(&mut rng), Some((1, 0)));
        let initial = q.initial_priority(&mut rng);
        assert!(initial >= 3);
        let demoted: Vec<u32> = (0..=PCT_STEPS_ESTIMATE).filter_map(|s| q.demotion_at(s)).collect();
        assert!(!demoted.is_empty() && demoted.iter().all(|&p| p < 3), "{demoted:?}");
        assert!(Policy::Pct { depth: 0 }.validate().is_err());
    }
}
