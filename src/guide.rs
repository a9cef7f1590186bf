//! [`Guide`]: coverage-guided exploration of fault plans.
//!
//! Plain exploration draws a fresh fault plan for every seed (the nemesis's, or a swarm
//! profile's). A guide also keeps a corpus of the passing runs that reached behaviour no
//! earlier passing run had (new [`Feedback`] features) and hands out mutations of their plans
//! ([`Mutator`]): a combination of faults that got somewhere is worth varying.
//!
//! The first trials are all fresh (the seeds plain exploration runs from the same start, so
//! a bug that many plans reach is found as fast); after them a share of the trials stays
//! fresh, between a quarter and three quarters, following which kind of trial found more new
//! features lately. Which entry to mutate is drawn by weight: the rarer the rarest feature it
//! holds (counted in passing runs), the heavier — rare features of assertions and `buggify!`
//! sites, the states the user marked, weigh far more than rare event bigrams — and entries
//! with fewer faults and entries picked less often weigh more. One to six mutations are
//! stacked; the donor plan of the splices, replacements and crossovers of a trial is a recent
//! fresh plan (so new fault shapes come in) or another entry's. A mutant runs a new seed. A failing run is a
//! finding, not a stepping stone: it is neither counted nor kept.
//!
//! A guide draws from its own stream, keyed by its start seed, and never reads the host
//! clock: with one thread calling [`Guide::next`] and [`Guide::observe`] in turn, the trials
//! it hands out are a pure function of the start seed (and of the runs' outcomes, which are a
//! pure function of their seeds and plans). Threads may share one behind a lock (`explore
//! --guided` does); the order of their reports then varies.

use std::collections::VecDeque;

use crate::error::{Error, ErrorKind};
use crate::fault::{FaultPlan, Mutation, Mutator};
use crate::feedback::Feedback;
use crate::rand::{Ratio, Stream};
use crate::seed::Seed;
use crate::sim::outcome::Outcome;
use crate::sim::Sim;

/// The stream a guide's choices come from (keyed by its start seed).
const GUIDE_STREAM: u64 = 1 << 48 | 2;
/// Entries the corpus holds; past this, the least productive old entry goes.
const CORPUS_MAX: usize = 1_024;
/// Fresh plans kept as donors for splices and replacements.
const DONORS_MAX: usize = 64;
/// Mutations stacked on one trial, at most (measured: six beat one and three).
const STACK_MAX: u64 = 6;
/// Trials that are all fresh, before any mutant: easy bugs are found by fresh draws as fast as
/// plain exploration finds them, and the corpus has something to offer by then.
const WARMUP: u64 = 64;
/// How much more a marked feature's rarity weighs than an event bigram's (measured: the more,
/// the better, up to a point: a rare marked feature should win over any rare bigram).
const MARKED_BOOST: u64 = 4_096;
/// Trials between two refreshes of the entries' rarity (computing it costs a pass over each
/// entry's features).
const RARITY_EVERY: u64 = 64;
/// The fresh share's bounds, in 1/1024ths.
const FRESH_MIN: u64 = 256;
const FRESH_MAX: u64 = 768;
/// Trials after which the fresh-or-mutant statistics are halved, so they follow the recent past.
const WINDOW: u64 = 256;

/// One run to make: a seed, and the plan to run it with (or `None`: the fault mode's own plan
/// for the seed).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Trial {
    /// Its number among the trials this guide handed out, from 0.
    pub number: u64,
    /// The seed.
    pub seed: Seed,
    /// `None` for a fresh trial: build the run as the fault mode does for this seed (its
    /// nemesis, its swarm profile). For a mutant, exactly the plan to install instead.
    pub plan: Option<FaultPlan>,
    /// Where it comes from.
    pub origin: Origin,
}

/// Where a [`Trial`] comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Origin {
    /// A fresh seed of the fault mode, as plain exploration would run.
    Fresh,
    /// A mutation of a corpus entry's plan.
    Mutant {
        /// The entry's [`Entry::id`].
        parent: u64,
        /// The mutations applied, in order (empty when none applied: the parent's plan, on
        /// another seed).
        mutations: Vec<Mutation>,
    },
}

/// A run the corpus keeps: it reached features no earlier run had.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Entry {
    /// Its id: the number of the trial that found it.
    pub id: u64,
    /// The seed it ran.
    pub seed: Seed,
    /// The plan it ran (the mode's own plan, for a fresh trial).
    pub plan: FaultPlan,
    /// How many features it reached.
    pub features: usize,
    /// How many of them no earlier run had.
    pub new: usize,
    /// How many trials had been observed when it was added.
    pub found_at: u64,
    /// How many times it was picked for mutation.
    pub picks: u64,
    /// Its features (the passing runs that reached each are counted in `Guide::hits`).
    reached: Vec<u32>,
    /// `Guide::rarity` of its features, as of the last refresh.
    rarity: u64,
}

/// Where a donor plan comes from: by index, into the recent fresh plans or the corpus.
#[derive(Clone, Copy, Debug)]
enum Donor {
    Fresh(usize),
    Entry(usize),
}

/// Trials and the new features they found, for one kind of trial (fresh or mutant).
#[derive(Clone, Copy, Debug, Default)]
struct Arm {
    trials: u64,
    productive: u64,
}

impl Arm {
    fn add(&mut self, new: usize) {
        self.trials += 1;
        self.productive += new as u64;
        if self.trials >= WINDOW {
            self.trials /= 2;
            self.productive /= 2;
        }
    }

    /// New features per trial, in 1/1024ths, with one pseudo-feature in two pseudo-trials.
    fn rate(self) -> u64 {
        (self.productive + 1) * 1024 / (self.trials + 2)
    }
}

/// Counts of what a guide has done, for reports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Trials observed.
    pub trials: u64,
    /// Of those, fresh ones.
    pub fresh: u64,
    /// Of those, mutants.
    pub mutants: u64,
    /// Features reached by some trial.
    pub features: u64,
    /// Entries in the corpus.
    pub corpus: usize,
    /// Trials that reached a new feature (entries ever added).
    pub productive: u64,
}

/// Coverage-guided exploration: hands out the next (seed, plan) to run, and learns from each
/// run's [`Feedback`].
///
/// The caller builds each run: `build(seed, None)` must build the scenario with the fault
/// mode's own faults for that seed (its nemesis or swarm profile, so a new default is
/// picked up by itself), and `build(seed, Some(plan))` with exactly `plan` installed; both
/// with [`Builder::feedback`](crate::Builder::feedback) on. [`Guide::run`] does one trial
/// with such a closure; [`Guide::next`] and [`Guide::observe`] are the same in two halves, for
/// callers that run the trial elsewhere (another thread).
///
/// ```
/// use std::time::Duration;
/// use seedsim::fault::{FaultPlan, Profile};
/// use seedsim::guide::Guide;
/// use seedsim::{time::sleep, Error, Seed, Sim};
///
/// fn build(seed: Seed, plan: Option<&FaultPlan>) -> Result<Sim, Error> {
///     let mut sim = Sim::builder().seed(seed).feedback(true).build()?;
///     for name in ["a", "b", "c"] {
///         sim.node(name, || async { sleep(Duration::from_secs(30)).await })?;
///     }
///     sim.client("client", async { sleep(Duration::from_secs(12)).await; Ok::<(), std::io::Error>(()) })?;
///     match plan {
///         Some(plan) => sim.faults(plan.clone())?,
///         None => drop(sim.nemesis(Profile::swarm(Profile::chaos(), seed))?),
///     }
///     Ok(sim)
/// }
///
/// let mut guide = Guide::new(Seed(1));
/// let mut trials = Vec::new();
/// for _ in 0..80 {
///     let (trial, outcome) = guide.run(build)?;
///     assert!(outcome.is_passed());
///     trials.push(trial);
/// }
/// let stats = guide.stats();
/// assert!(stats.features > 0 && stats.corpus > 0 && stats.mutants > 0);
/// // With one thread, the trials are a function of the start seed.
/// let mut again = Guide::new(Seed(1));
/// for trial in &trials {
///     assert_eq!(&again.run(build)?.0, trial);
/// }
/// # Ok::<(), seedsim::Error>(())
/// ```
pub struct Guide {
    rng: Stream,
    mutator: Mutator,
    start: Seed,
    /// Fresh seed `k` is `start.nth(shard_index + k * shard_count)`.
    shard_index: u64,
    shard_count: u64,
    fresh_next: u64,
    handed: u64,
    /// False for a guide that only hands out fresh trials (a baseline that measures coverage).
    mutate: bool,
    /// Features some trial reached: a bitmap of `Feedback::SPACE` bits.
    seen: Vec<u64>,
    /// How many passing trials reached each feature (saturating).
    hits: Vec<u16>,
    /// Trials observed when the entries' rarity was last brought up to date.
    rarity_at: u64,
    stats: Stats,
    corpus: Vec<Entry>,
    donors: VecDeque<FaultPlan>,
    fresh_arm: Arm,
    mutant_arm: Arm,
    /// (trials observed, features reached) at 1, 2, 3, 4, 6, 8, 12, 16, ... trials.
    growth: Vec<(u64, u64)>,
}

impl std::fmt::Debug for Guide {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guide").field("start", &self.start).field("stats", &self.stats).finish_non_exhaustive()
    }
}

impl Guide {
    /// A guide whose fresh trials run seeds `start.nth(0)`, `start.nth(1)`, ... (the seeds
    /// plain exploration from `start` runs), and whose choices all derive from `start`.
    pub fn new(start: Seed) -> Guide {
        Guide {
            rng: Stream::new(start, GUIDE_STREAM),
            mutator: Mutator::new(Seed(start.0 ^ 0x6d75_7461_7465)),
            start,
            shard_index: 0,
            shard_count: 1,
            fresh_next: 0,
            handed: 0,
            mutate: true,
            seen: vec![0; (Feedback::SPACE / 64) as usize],
            hits: vec![0; Feedback::SPACE as usize],
            rarity_at: 0,
            stats: Stats::default(),
            corpus: Vec::new(),
            donors: VecDeque::new(),
            fresh_arm: Arm::default(),
            mutant_arm: Arm::default(),
            growth: Vec::new(),
        }
    }

    /// Run only the fresh seeds of shard `index` of `count`: `start.nth(index)`,
    /// `start.nth(index + count)`, ..., as `explore --shard` does.
    ///
    /// # Panics
    /// If `index >= count`.
    pub fn shard(mut self, index: u64, count: u64) -> Guide {
        assert!(index < count, "shard {index} of {count}: the index must be below the count");
        self.shard_index = index;
        self.shard_count = count;
        self
    }

    /// Hand out fresh trials only: plain exploration, as without a guide, with its coverage
    /// measured the same way (a baseline for comparisons).
    pub fn fresh_only(mut self) -> Guide {
        self.mutate = false;
        self
    }

    /// The next trial to run.
    // Not an `Iterator`: what comes next depends on what the caller reports of the last.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Trial {
        let number = self.handed;
        self.handed += 1;
        let fresh_share = {
            let (fresh, mutant) = (self.fresh_arm.rate(), self.mutant_arm.rate());
            (fresh * 1024 / (fresh + mutant)).clamp(FRESH_MIN, FRESH_MAX) as u32
        };
        let warm = number < WARMUP;
        if !self.mutate
            || warm
            || self.corpus.is_empty()
            || self.rng.chance(Ratio::new(fresh_share, 1024).expect("at most one"))
        {
            let seed = self.start.nth(self.shard_index + self.fresh_next * self.shard_count);
            self.fresh_next += 1;
            return Trial { number, seed, plan: None, origin: Origin::Fresh };
        }
        let index = self.pick();
        self.corpus[index].picks += 1;
        let parent = self.corpus[index].id;
        let count = self.rng.between(1, STACK_MAX) as usize;
        let donor = self.donor().map(|donor| match donor {
            Donor::Fresh(index) => &self.donors[index],
            Donor::Entry(index) => &self.corpus[index].plan,
        });
        let (plan, mutations) = self.mutator.mutate_stack(&self.corpus[index].plan, donor, count);
        // A new seed: measured, a mutant on its parent's seed mostly replays its parent.
        let seed = Seed(self.rng.next_u64());
        Trial { number, seed, plan: Some(plan), origin: Origin::Mutant { parent, mutations } }
    }

    /// Learn from a trial's outcome: its plan and its feedback. Returns how many features it
    /// reached that no earlier trial had; a trial with any is added to the corpus.
    pub fn observe(&mut self, trial: &Trial, outcome: &Outcome) -> usize {
        let feedback = outcome.feedback();
        let mut new = 0;
        // A failure is a finding, not a stepping stone: its features are not counted, so the
        // passing runs near it can still join the corpus.
        let failed = !outcome.is_passed();
        for &feature in feedback.features().iter().filter(|_| !failed) {
            let hits = &mut self.hits[feature as usize];
            *hits = hits.saturating_add(1);
            let (word, bit) = ((feature / 64) as usize, feature % 64);
            if self.seen[word] & (1 << bit) == 0 {
                self.seen[word] |= 1 << bit;
                new += 1;
            }
        }
        self.stats.trials += 1;
        self.stats.features += new as u64;
        let fresh = trial.origin == Origin::Fresh;
        if fresh {
            self.stats.fresh += 1;
            self.fresh_arm.add(new);
            if self.donors.len() == DONORS_MAX {
                self.donors.pop_front();
            }
            self.donors.push_back(outcome.faults().clone());
        } else {
            self.stats.mutants += 1;
            self.mutant_arm.add(new);
        }
        if new > 0 {
            self.stats.productive += 1;
            if self.corpus.len() == CORPUS_MAX {
                self.evict();
            }
            self.corpus.push(Entry {
                id: trial.number,
                seed: trial.seed,
                plan: outcome.faults().clone(),
                features: feedback.len(),
                new,
                found_at: self.stats.trials,
                picks: 0,
                rarity: self.rarity(feedback.features()),
                reached: feedback.features().to_vec(),
            });
        }
        self.stats.corpus = self.corpus.len();
        let trials = self.stats.trials;
        // 1, 2, 3, 4, 6, 8, 12, 16, ...: two checkpoints per doubling.
        let top = 1u64 << (63 - trials.leading_zeros());
        if trials == top || trials == top + top / 2 {
            self.growth.push((trials, self.stats.features));
        }
        new
    }

    /// One trial, start to end: the next trial, built by `build` (see [`Guide`]), run, and
    /// observed. Returns the trial and its outcome.
    ///
    /// # Errors
    /// Whatever `build` returns; [`ErrorKind::InvalidConfig`] if the run it built does not
    /// collect feedback (build it with [`Builder::feedback(true)`](crate::Builder::feedback)).
    pub fn run<F>(&mut self, build: F) -> Result<(Trial, Outcome), Error>
    where
        F: FnOnce(Seed, Option<&FaultPlan>) -> Result<Sim, Error>,
    {
        let trial = self.next();
        let mut sim = build(trial.seed, trial.plan.as_ref())?;
        if !sim.config().feedback {
            return Err(Error::new(
                ErrorKind::InvalidConfig {
                    field: "feedback",
                    expected: "on for a guided run: build the Sim with Builder::feedback(true)",
                },
                "false",
            ));
        }
        let outcome = sim.run();
        self.observe(&trial, &outcome);
        Ok((trial, outcome))
    }

    /// What it has done so far.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// The corpus: the entries kept, oldest first.
    pub fn corpus(&self) -> &[Entry] {
        &self.corpus
    }

    /// Coverage growth: (trials observed, features reached) at 1, 2, 3, 4, 6, 8, 12, 16, ...
    /// trials (two checkpoints per doubling).
    pub fn growth(&self) -> &[(u64, u64)] {
        &self.growth
    }

    /// An entry to mutate, by weight: entries that hold a rarer feature, have fewer faults and
    /// were picked less often weigh more.
    fn pick(&mut self) -> usize {
        if self.stats.trials >= self.rarity_at + RARITY_EVERY {
            // Counts only grow, so a stale rarity only overrates an entry a little, for a while.
            self.rarity_at = self.stats.trials;
            for index in 0..self.corpus.len() {
                self.corpus[index].rarity = self.rarity(&self.corpus[index].reached);
            }
        }
        let weights: Vec<u64> = self
            .corpus
            .iter()
            .map(|entry| {
                let small = (64 / (8 + entry.plan.len() as u64).min(64)).max(1);
                (entry.rarity * small / (4 + entry.picks.min(60))).max(1)
            })
            .collect();
        let total: u64 = weights.iter().sum();
        let mut pick = self.rng.below(total);
        weights
            .iter()
            .position(|&w| {
                let hit = pick < w;
                pick = pick.saturating_sub(w);
                hit
            })
            .expect("the pick is below the total")
    }

    /// How rare a set of features is: the inverse of how many passing runs reached its rarest
    /// event feature, plus `MARKED_BOOST` times that of its rarest marked feature.
    fn rarity(&self, features: &[u32]) -> u64 {
        let rarest = |marked: bool| {
            features
                .iter()
                .filter(|&&f| Feedback::is_marked(f) == marked)
                .map(|&f| u64::from(self.hits[f as usize]).max(1))
                .min()
        };
        rarest(false).map_or(0, |hits| (1 << 16) / hits)
            + rarest(true).map_or(0, |hits| (1 << 16) / hits * MARKED_BOOST)
    }

    /// A donor plan for a splice, replacement or crossover: a recent fresh plan or another
    /// corpus entry's, half the time each (whichever there is).
    fn donor(&mut self) -> Option<Donor> {
        let from_fresh =
            !self.donors.is_empty() && (self.corpus.len() < 2 || self.rng.chance(Ratio::new(1, 2).expect("valid")));
        if from_fresh {
            return Some(Donor::Fresh(self.rng.below(self.donors.len() as u64) as usize));
        }
        (!self.corpus.is_empty()).then(|| Donor::Entry(self.rng.below(self.corpus.len() as u64) as usize))
    }

    /// Make room: the entry with the fewest new features among the oldest half goes.
    fn evict(&mut self) {
        let half = (self.corpus.len() / 2).max(1);
        let index = (0..half).min_by_key(|&i| (self.corpus[i].new, self.corpus[i].found_at)).expect("not empty");
        self.corpus.remove(index);
    }
}
