//! The nemesis: a seeded fault generator driven by a [`Profile`] of rates and bounds, and
//! swarm profiles that let each seed pick which fault kinds are on and how strong they are.
//!
//! A nemesis writes a whole [`FaultPlan`] up front from the run's seed (its own random
//! stream, so it shifts no other draw), with every fault it starts undone later (a partition
//! repaired, a crashed node restarted, a skew set right) and a final `recover`. The plan is
//! installed like any other, so the faults are in the trace and the plan is in the report.

use std::fmt;
use std::time::Duration;

use super::{Fault, FaultPlan};
use crate::rand::{Purpose, Ratio, Stream};
use crate::seed::Seed;
use crate::time::{nanos, Skew};

/// Relative weights of the fault kinds a nemesis picks from; 0 turns a kind off.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Weights {
    /// Crash a server and restart it later.
    pub crash: u32,
    /// Pause a server and resume it later.
    pub pause: u32,
    /// Split the nodes into two random halves.
    pub partition: u32,
    /// Block one random set's datagrams to another, one way.
    pub partition_oneway: u32,
    /// Cut one node off.
    pub isolate: u32,
    /// Clog the link between two nodes.
    pub clog: u32,
    /// Set a node's clock off (offset and drift).
    pub skew: u32,
    /// Step a node's clock forward or back.
    pub jump: u32,
    /// Lose a share of every link's datagrams for a while.
    pub loss_burst: u32,
    /// Add latency to every link for a while.
    pub latency_spike: u32,
    /// Make a server's disk fail some reads, writes and syncs for a while.
    pub disk_errors: u32,
    /// Flip a bit of a synced block on a server's disk.
    pub disk_corrupt: u32,
    /// Fill a server's disk for a while.
    pub disk_full: u32,
    /// Slow a server's disk for a while.
    pub disk_slow: u32,
    /// Make a server's disk misdirect some writes for a while.
    pub disk_misdirect: u32,
}

impl Weights {
    fn entries(&self) -> [(u32, Kind); 15] {
        [
            (self.crash, Kind::Crash),
            (self.pause, Kind::Pause),
            (self.partition, Kind::Partition),
            (self.partition_oneway, Kind::PartitionOneWay),
            (self.isolate, Kind::Isolate),
            (self.clog, Kind::Clog),
            (self.skew, Kind::Skew),
            (self.jump, Kind::Jump),
            (self.loss_burst, Kind::LossBurst),
            (self.latency_spike, Kind::LatencySpike),
            (self.disk_errors, Kind::DiskErrors),
            (self.disk_corrupt, Kind::DiskCorrupt),
            (self.disk_full, Kind::DiskFull),
            (self.disk_slow, Kind::DiskSlow),
            (self.disk_misdirect, Kind::DiskMisdirect),
        ]
    }

    fn entries_mut(&mut self) -> [&mut u32; 15] {
        [
            &mut self.crash,
            &mut self.pause,
            &mut self.partition,
            &mut self.partition_oneway,
            &mut self.isolate,
            &mut self.clog,
            &mut self.skew,
            &mut self.jump,
            &mut self.loss_burst,
            &mut self.latency_spike,
            &mut self.disk_errors,
            &mut self.disk_corrupt,
            &mut self.disk_full,
            &mut self.disk_slow,
            &mut self.disk_misdirect,
        ]
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Crash,
    Pause,
    Partition,
    PartitionOneWay,
    Isolate,
    Clog,
    Skew,
    Jump,
    LossBurst,
    LatencySpike,
    DiskErrors,
    DiskCorrupt,
    DiskFull,
    DiskSlow,
    DiskMisdirect,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Crash => "crash",
            Kind::Pause => "pause",
            Kind::Partition => "partition",
            Kind::PartitionOneWay => "partition-oneway",
            Kind::Isolate => "isolate",
            Kind::Clog => "clog",
            Kind::Skew => "skew",
            Kind::Jump => "jump",
            Kind::LossBurst => "loss-burst",
            Kind::LatencySpike => "latency-spike",
            Kind::DiskErrors => "disk-errors",
            Kind::DiskCorrupt => "disk-corrupt",
            Kind::DiskFull => "disk-full",
            Kind::DiskSlow => "disk-slow",
            Kind::DiskMisdirect => "disk-misdirect",
        }
    }
}

/// What a nemesis does: which faults, how often, how long each lasts, and its bounds.
///
/// ```
/// use std::time::Duration;
/// use seedsim::fault::Profile;
/// let profile = Profile::chaos().duration(Duration::from_secs(20)).down_max(1).focus("leader");
/// assert!(profile.to_string().starts_with("chaos"));
/// assert_eq!(Profile::calm().to_string(), "calm (no faults)");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Profile {
    /// A name for reports: `calm`, `flaky`, `chaos`, `swarm`.
    pub name: String,
    /// Faults start during this long from the start of the run; then everything recovers.
    pub duration: Duration,
    /// Shortest time between two faults' starts.
    pub interval_min: Duration,
    /// Longest time between two faults' starts.
    pub interval_max: Duration,
    /// Shortest time a fault lasts before it is undone.
    pub fault_min: Duration,
    /// Longest time a fault lasts before it is undone.
    pub fault_max: Duration,
    /// The most servers down (crashed or paused) at once.
    pub down_max: usize,
    /// A node (say, the leader) that half of the faults aimed at one node hit.
    pub focus: Option<String>,
    /// Which faults, and how often each.
    pub weights: Weights,
}

impl Profile {
    /// No faults at all.
    pub fn calm() -> Profile {
        Profile {
            name: "calm".to_owned(),
            duration: Duration::from_secs(10),
            interval_min: Duration::from_millis(100),
            interval_max: Duration::from_secs(1),
            fault_min: Duration::from_millis(10),
            fault_max: Duration::from_secs(1),
            down_max: 1,
            focus: None,
            weights: Weights::default(),
        }
    }

    /// Network faults only: partitions, one-way partitions, isolation, clogs, loss bursts and
    /// latency spikes.
    pub fn flaky() -> Profile {
        Profile {
            name: "flaky".to_owned(),
            weights: Weights {
                partition: 3,
                partition_oneway: 2,
                isolate: 2,
                clog: 2,
                loss_burst: 1,
                latency_spike: 1,
                ..Weights::default()
            },
            ..Profile::calm()
        }
    }

    /// Every fault: the network's, crashes, pauses and clock faults.
    pub fn chaos() -> Profile {
        Profile {
            name: "chaos".to_owned(),
            weights: Weights {
                crash: 3,
                pause: 2,
                partition: 3,
                partition_oneway: 2,
                isolate: 2,
                clog: 2,
                skew: 1,
                jump: 1,
                loss_burst: 1,
                latency_spike: 1,
                disk_errors: 1,
                disk_corrupt: 1,
                disk_full: 1,
                disk_slow: 1,
                disk_misdirect: 1,
            },
            ..Profile::calm()
        }
    }

    /// Swarm testing (Groce et al., ISSTA 2012): from `base`, the seed turns each fault kind
    /// on or off (at least one stays on), redraws its weight, and scales how often and how
    /// long faults happen, so different seeds explore different corners. The same seed always
    /// makes the same profile.
    ///
    /// ```
    /// use seedsim::{fault::Profile, Seed};
    /// assert_eq!(Profile::swarm(Profile::chaos(), Seed(7)), Profile::swarm(Profile::chaos(), Seed(7)));
    /// ```
    pub fn swarm(base: Profile, seed: Seed) -> Profile {
        let mut rng = Stream::for_purpose(seed, Purpose::Swarm);
        let mut profile = Profile { name: "swarm".to_owned(), ..base.clone() };
        let available: Vec<usize> = (0..15).filter(|&i| *base.weights.clone().entries_mut()[i] > 0).collect();
        if available.is_empty() {
            return profile;
        }
        let keep = available[rng.below(available.len() as u64) as usize];
        for (i, weight) in profile.weights.entries_mut().into_iter().enumerate() {
            let on = available.contains(&i) && (i == keep || rng.chance(Ratio::new(1, 2).expect("valid")));
            *weight = if on { 1 + rng.below(5) as u32 } else { 0 };
        }
        // Intensity: how often faults start, and how long they last, each scaled by 1/4 to 4.
        let scale = |d: Duration, rng: &mut Stream| {
            let quarters = rng.between(1, 16);
            Duration::from_nanos(nanos(d).saturating_mul(quarters) / 4)
        };
        let (often, long) = (rng.next_u64(), rng.next_u64());
        let mut often_rng = Stream::new(Seed(often), 0);
        let mut long_rng = Stream::new(Seed(long), 0);
        profile.interval_min = scale(base.interval_min, &mut often_rng);
        profile.interval_max = profile.interval_min.max(scale(base.interval_max, &mut often_rng));
        profile.fault_min = scale(base.fault_min, &mut long_rng);
        profile.fault_max = profile.fault_min.max(scale(base.fault_max, &mut long_rng));
        profile
    }

    /// How long faults start for, before everything recovers.
    pub fn duration(mut self, duration: Duration) -> Profile {
        self.duration = duration;
        self
    }

    /// The most servers down (crashed or paused) at once.
    pub fn down_max(mut self, down_max: usize) -> Profile {
        self.down_max = down_max;
        self
    }

    /// A node half the single-node faults aim at (the leader, the primary).
    pub fn focus(mut self, node: impl Into<String>) -> Profile {
        self.focus = Some(node.into());
        self
    }

    /// The time between two faults' starts: uniform over `min..=max`.
    pub fn interval(mut self, min: Duration, max: Duration) -> Profile {
        self.interval_min = min;
        self.interval_max = max.max(min);
        self
    }

    /// How long a fault lasts: uniform over `min..=max`.
    pub fn fault_length(mut self, min: Duration, max: Duration) -> Profile {
        self.fault_min = min;
        self.fault_max = max.max(min);
        self
    }

    /// The weights.
    pub fn weights(mut self, weights: Weights) -> Profile {
        self.weights = weights;
        self
    }

    /// True if the profile injects nothing.
    pub fn is_calm(&self) -> bool {
        self.weights.entries().iter().all(|(weight, _)| *weight == 0)
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_calm() {
            return write!(f, "{} (no faults)", self.name);
        }
        write!(f, "{}:", self.name)?;
        for (weight, kind) in self.weights.entries() {
            if weight > 0 {
                write!(f, " {}x{weight}", kind.name())?;
            }
        }
        write!(
            f,
            "; a fault every {:?} to {:?}, lasting {:?} to {:?}, for {:?}; at most {} down",
            self.interval_min, self.interval_max, self.fault_min, self.fault_max, self.duration, self.down_max
        )?;
        if let Some(focus) = &self.focus {
            write!(f, "; focus {focus}")?;
        }
        Ok(())
    }
}

/// Writes fault plans from a seed and a [`Profile`].
///
/// ```
/// use seedsim::{fault::{Nemesis, Profile}, Seed};
/// let servers = ["a".to_owned(), "b".to_owned(), "c".to_owned()];
/// let plan = Nemesis::new(Profile::chaos()).plan(Seed(1), &servers, &servers);
/// assert_eq!(plan.faults().last().unwrap().fault, seedsim::fault::Fault::Recover);
/// assert_eq!(plan, Nemesis::new(Profile::chaos()).plan(Seed(1), &servers, &servers));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Nemesis {
    profile: Profile,
}

impl Nemesis {
    /// A nemesis with this profile.
    pub fn new(profile: Profile) -> Nemesis {
        Nemesis { profile }
    }

    /// The profile.
    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    /// The plan for `seed`: `servers` may crash and pause; every node in `nodes` (servers and
    /// clients) takes network and clock faults. A calm profile gives an empty plan.
    pub fn plan(&self, seed: Seed, servers: &[String], nodes: &[String]) -> FaultPlan {
        let profile = &self.profile;
        let mut plan = FaultPlan::new();
        if profile.is_calm() || nodes.is_empty() {
            return plan;
        }
        let mut rng = Stream::for_purpose(seed, Purpose::Faults);
        let end = nanos(profile.duration);
        let mut down: Vec<(String, u64)> = Vec::new();
        let mut t = 0u64;
        loop {
            t = t.saturating_add(rng.between(nanos(profile.interval_min), nanos(profile.interval_max).max(1)));
            if t >= end {
                break;
            }
            down.retain(|(_, until)| *until > t);
            let length = rng.between(nanos(profile.fault_min), nanos(profile.fault_max));
            let undo_at = t.saturating_add(length);
            let up_servers: Vec<&String> = servers.iter().filter(|s| !down.iter().any(|(d, _)| d == *s)).collect();
            let can_take_down = down.len() < profile.down_max && !up_servers.is_empty();
            let candidates: Vec<(u32, Kind)> = profile
                .weights
                .entries()
                .into_iter()
                .filter(|(weight, kind)| {
                    *weight > 0
                        && match kind {
                            Kind::Crash | Kind::Pause => can_take_down,
                            Kind::Partition | Kind::PartitionOneWay | Kind::Clog => nodes.len() >= 2,
                            Kind::DiskErrors
                            | Kind::DiskCorrupt
                            | Kind::DiskFull
                            | Kind::DiskSlow
                            | Kind::DiskMisdirect => !servers.is_empty(),
                            _ => true,
                        }
                })
                .collect();
            let total: u64 = candidates.iter().map(|(w, _)| u64::from(*w)).sum();
            if total == 0 {
                continue;
            }
            let mut pick = rng.below(total);
            let kind = candidates
                .iter()
                .find(|(w, _)| {
                    let hit = pick < u64::from(*w);
                    pick = pick.saturating_sub(u64::from(*w));
                    hit
                })
                .map(|(_, kind)| *kind)
                .expect("the pick is below the total");
            let at = Duration::from_nanos(t);
            // An undo at or after the end is left to the final recover.
            let undo = |plan: &mut FaultPlan, fault: Fault| {
                if undo_at < end {
                    plan.push(Duration::from_nanos(undo_at), fault);
                }
            };
            match kind {
                Kind::Crash | Kind::Pause => {
                    let node = self.aim(&mut rng, &up_servers);
                    down.push((node.clone(), undo_at));
                    if kind == Kind::Crash {
                        plan.push(at, Fault::Bounce { node, down: Duration::from_nanos(length) });
                    } else {
                        plan.push(at, Fault::Pause(node.clone()));
                        undo(&mut plan, Fault::Resume(node));
                    }
                }
                Kind::Partition => {
                    let (a, b) = split(&mut rng, nodes);
                    plan.push(at, Fault::Partition { a: a.clone(), b: b.clone() });
                    undo(&mut plan, Fault::Repair { a, b });
                }
                Kind::PartitionOneWay => {
                    let (from, to) = split(&mut rng, nodes);
                    plan.push(at, Fault::PartitionOneWay { from: from.clone(), to: to.clone() });
                    undo(&mut plan, Fault::Repair { a: from, b: to });
                }
                Kind::Isolate => {
                    let all: Vec<&String> = nodes.iter().collect();
                    let node = self.aim(&mut rng, &all);
                    plan.push(at, Fault::Isolate(node.clone()));
                    undo(&mut plan, Fault::Rejoin(node));
                }
                Kind::Clog => {
                    let a = rng.below(nodes.len() as u64) as usize;
                    let b = (a + 1 + rng.below(nodes.len() as u64 - 1) as usize) % nodes.len();
                    let fault = Fault::Clog {
                        a: nodes[a].clone(),
                        b: nodes[b].clone(),
                        duration: Duration::from_nanos(length),
                    };
                    plan.push(at, fault);
                }
                Kind::Skew => {
                    let node = nodes[rng.below(nodes.len() as u64) as usize].clone();
                    let offset = Duration::from_nanos(rng.below(1_000_000_001));
                    let skew = if rng.chance(Ratio::new(1, 2).expect("valid")) {
                        Skew::ahead(offset)
                    } else {
                        Skew::behind(offset)
                    };
                    let drift = rng.between(0, 2_000) as i32 - 1_000;
                    let skew = skew.with_drift_ppm(drift).expect("within range");
                    plan.push(at, Fault::Skew { node: node.clone(), skew });
                    undo(&mut plan, Fault::Skew { node, skew: Skew::NONE });
                }
                Kind::Jump => {
                    let node = nodes[rng.below(nodes.len() as u64) as usize].clone();
                    let by = rng.between(1_000_000, 2_000_000_000) as i64;
                    let by_nanos = if rng.chance(Ratio::new(1, 2).expect("valid")) { by } else { -by };
                    plan.push(at, Fault::Jump { node, by_nanos });
                }
                Kind::LossBurst => {
                    let loss = Ratio::percent(10 + rng.below(51) as u32).expect("at most 60%");
                    plan.push(at, Fault::LossBurst { loss, duration: Duration::from_nanos(length) });
                }
                Kind::LatencySpike => {
                    let extra = Duration::from_millis(10 + rng.below(491));
                    plan.push(at, Fault::LatencySpike { extra, duration: Duration::from_nanos(length) });
                }
                Kind::DiskErrors | Kind::DiskCorrupt | Kind::DiskFull | Kind::DiskSlow | Kind::DiskMisdirect => {
                    let node = servers[rng.below(servers.len() as u64) as usize].clone();
                    let duration = Duration::from_nanos(length);
                    let ratio = Ratio::percent(1 + rng.below(20) as u32).expect("at most 20%");
                    plan.push(
                        at,
                        match kind {
                            Kind::DiskErrors => Fault::DiskErrors { node, ratio, duration },
                            Kind::DiskCorrupt => Fault::DiskCorrupt(node),
                            Kind::DiskFull => Fault::DiskFull { node, duration },
                            Kind::DiskSlow => {
                                Fault::DiskSlow { node, extra: Duration::from_millis(1 + rng.below(50)), duration }
                            }
                            _ => Fault::DiskMisdirect { node, ratio, duration },
                        },
                    );
                }
            }
        }
        plan.push(profile.duration, Fault::Recover);
        plan
    }

    /// A node for a single-node fault: the focus half the time, if it is a candidate.
    fn aim(&self, rng: &mut Stream, candidates: &[&String]) -> String {
        if let Some(focus) = &self.profile.focus {
            if candidates.contains(&focus) && rng.chance(Ratio::new(1, 2).expect("valid")) {
                return focus.clone();
            }
        }
        candidates[rng.below(candidates.len() as u64) as usize].clone()
    }
}

/// Two disjoint, non-empty random sets covering `nodes` (which has at least two).
fn split(rng: &mut Stream, nodes: &[String]) -> (Vec<String>, Vec<String>) {
    let mut order: Vec<&String> = nodes.iter().collect();
    for i in (1..order.len()).rev() {
        order.swap(i, rng.below(i as u64 + 1) as usize);
    }
    let cut = 1 + rng.below(order.len() as u64 - 1) as usize;
    let mut a: Vec<String> = order[..cut].iter().map(|s| s.to_string()).collect();
    let mut b: Vec<String> = order[cut..].iter().map(|s| s.to_string()).collect();
    // Sorted, so a plan's text does not depend on the shuffle's leftovers.
    a.sort();
    b.sort();
    (a, b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("n{i}")).collect()
    }

    #[test]
    fn chaos_never_takes_down_more_than_its_bound() {
        let servers = names(5);
        for seed in 0..50 {
            let plan = Nemesis::new(Profile::chaos().down_max(2)).plan(Seed(seed), &servers, &servers);
            let mut down: Vec<(String, Duration)> = Vec::new();
            for timed in plan.faults() {
                down.retain(|(_, until)| *until > timed.at);
                match &timed.fault {
                    Fault::Bounce { node, down: d } => down.push((node.clone(), timed.at + *d)),
                    Fault::Pause(node) => down.push((node.clone(), Duration::MAX)),
                    Fault::Resume(node) => down.retain(|(n, _)| n != node),
                    _ => {}
                }
                assert!(down.len() <= 2, "seed {seed}: {down:?}\n{plan}");
            }
        }
    }

    #[test]
    fn flaky_only_touches_the_network_and_every_plan_recovers() {
        let nodes = names(4);
        for seed in 0..50 {
            let plan = Nemesis::new(Profile::flaky()).plan(Seed(seed), &nodes, &nodes);
            assert_eq!(plan.faults().last().map(|t| &t.fault), Some(&Fault::Recover));
            for timed in plan.faults() {
                assert!(
                    !timed.fault.needs_server() && !matches!(timed.fault, Fault::Skew { .. } | Fault::Jump { .. }),
                    "{plan}"
                );
            }
        }
        assert!(Nemesis::new(Profile::calm()).plan(Seed(1), &nodes, &nodes).is_empty());
    }

    #[test]
    fn swarm_profiles_differ_by_seed_and_repeat_by_seed() {
        let profiles: Vec<Profile> = (0..20).map(|s| Profile::swarm(Profile::chaos(), Seed(s))).collect();
        assert!(profiles.iter().all(|p| !p.is_calm()));
        let distinct: std::collections::BTreeSet<String> = profiles.iter().map(|p| p.to_string()).collect();
        assert!(distinct.len() >= 15, "{distinct:?}");
        assert_eq!(profiles[3], Profile::swarm(Profile::chaos(), Seed(3)));
    }

    #[test]
    fn focus_gets_about_half_of_the_isolations() {
        let nodes = names(6);
        let profile = Profile::calm().focus("n3").weights(Weights { isolate: 1, ..Weights::default() });
        let (mut focus, mut total) = (0, 0);
        for seed in 0..40 {
            for timed in Nemesis::new(profile.clone()).plan(Seed(seed), &nodes, &nodes).faults() {
                if let Fault::Isolate(node) = &timed.fault {
                    total += 1;
                    focus += usize::from(node == "n3");
                }
            }
        }
        assert!(focus * 100 / total > 45 && focus * 100 / total < 75, "{focus}/{total}");
    }
}
