//! [`Profile`]: what a nemesis does (which fault kinds, how often, how long, within which
//! bounds), the named profiles, swarm profiles that let each seed pick its own mix, and the
//! profile without the kinds a scenario's [`Usage`] says cannot touch it.
//!
//! The kinds of `calm`, `flaky` and `chaos` come first in [`Weights`], in the order they have
//! always had, and a profile that leaves the later kinds at zero draws exactly what it drew
//! before they existed: the plans of existing seeds under `chaos` and `swarm(chaos)` do not
//! change when the vocabulary grows.

use std::fmt;
use std::time::Duration;

use super::Usage;
use crate::rand::{Purpose, Ratio, Stream};
use crate::seed::Seed;
use crate::time::nanos;

/// Relative weights of the fault kinds a nemesis picks from; 0 turns a kind off.
///
/// The shapes follow Jepsen's nemeses and FoundationDB's simulator: partitions into random
/// sets, halves, a bridge, a majority ring, a partial partition, the primaries against the
/// rest, and flapping; crashes of one server, several at once, a rolling restart, a crash
/// while recovering, and a crash right after a message; clocks skewed, drifting by up to 10%,
/// stepped and strobing; datagrams lost, delayed, duplicated and reordered; disks failing,
/// full, slow, misdirecting and rotting.
///
/// New kinds come with new fields, so the struct cannot be written out whole outside seedsim:
/// start from [`Weights::default`] (every kind off) or [`Weights::all`] (every kind at 1),
/// or from a profile's weights, and set the fields you want.
///
/// ```
/// use seedsim::fault::{Profile, Weights};
/// // Partitions and crashes only.
/// let mut weights = Weights::default();
/// weights.partition = 2;
/// weights.crash = 1;
/// let profile = Profile::chaos().weights(weights);
/// assert_eq!(profile.weights.partition, 2);
/// // Everything the default draws but disk corruption.
/// let mut profile = Profile::default();
/// profile.weights.disk_corrupt = 0;
/// assert!(profile.weights.crash > 0);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Weights {
    /// Crash a server and restart it later.
    pub crash: u32,
    /// Pause a server and resume it later.
    pub pause: u32,
    /// Split every node (clients too) into two random sets.
    pub partition: u32,
    /// Block one random set's datagrams to another, one way.
    pub partition_oneway: u32,
    /// Cut one node off.
    pub isolate: u32,
    /// Clog the link between two nodes.
    pub clog: u32,
    /// Set a node's clock off by up to a second, drifting by up to 0.1%.
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
    /// Split the servers into a minority and a majority (clients still reach both).
    pub partition_halves: u32,
    /// Split the servers into two sides that share one node, the bridge, which alone sees
    /// both (Jepsen's "bridge").
    pub partition_bridge: u32,
    /// Cut links among the servers so each still sees a majority, but no two the same one
    /// (Jepsen's "majorities ring").
    pub partition_ring: u32,
    /// Cut the servers that say they are primaries off from the rest
    /// ([`world::set_primary`](crate::world::set_primary)), or, in a system that names none,
    /// the busiest server (a leader sends the most).
    pub partition_primaries: u32,
    /// Partition and heal in quick succession.
    pub flap: u32,
    /// Crash several servers at once: a minority, a majority or all (within `down_max`).
    pub crash_many: u32,
    /// Restart the servers one after another.
    pub rolling_restart: u32,
    /// Crash a server, and again soon after it comes back, while it recovers.
    pub crash_recovering: u32,
    /// Crash a server right after it next sends, or receives, a message.
    pub crash_after_message: u32,
    /// Deliver a share of every link's packets twice, for a while.
    pub duplicate: u32,
    /// Hold back a share of every link's packets, so later ones overtake them, for a while.
    pub reorder: u32,
    /// Run a node's clock fast or slow by 0.1% to 10% for a while.
    pub drift: u32,
    /// Step a node's clock back and forth rapidly for a while.
    pub strobe: u32,
    /// Split every node (clients too) into two random sets that cannot reach each other and
    /// a third that reaches both: a partial partition (Alquraan et al., OSDI 2018), where one
    /// node sees a peer as dead that another still talks to.
    pub partition_partial: u32,
}

/// How many kinds [`Weights`] has.
pub(crate) const KINDS: usize = 29;

/// The kinds of fault a nemesis draws, one for each field of [`Weights`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
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
    PartitionHalves,
    PartitionBridge,
    PartitionRing,
    PartitionPrimaries,
    Flap,
    CrashMany,
    RollingRestart,
    CrashRecovering,
    CrashAfterMessage,
    Duplicate,
    Reorder,
    Drift,
    Strobe,
    PartitionPartial,
}

impl Weights {
    pub(crate) fn entries(&self) -> [(u32, Kind); KINDS] {
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
            (self.partition_halves, Kind::PartitionHalves),
            (self.partition_bridge, Kind::PartitionBridge),
            (self.partition_ring, Kind::PartitionRing),
            (self.partition_primaries, Kind::PartitionPrimaries),
            (self.flap, Kind::Flap),
            (self.crash_many, Kind::CrashMany),
            (self.rolling_restart, Kind::RollingRestart),
            (self.crash_recovering, Kind::CrashRecovering),
            (self.crash_after_message, Kind::CrashAfterMessage),
            (self.duplicate, Kind::Duplicate),
            (self.reorder, Kind::Reorder),
            (self.drift, Kind::Drift),
            (self.strobe, Kind::Strobe),
            (self.partition_partial, Kind::PartitionPartial),
        ]
    }

    fn entries_mut(&mut self) -> [&mut u32; KINDS] {
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
            &mut self.partition_halves,
            &mut self.partition_bridge,
            &mut self.partition_ring,
            &mut self.partition_primaries,
            &mut self.flap,
            &mut self.crash_many,
            &mut self.rolling_restart,
            &mut self.crash_recovering,
            &mut self.crash_after_message,
            &mut self.duplicate,
            &mut self.reorder,
            &mut self.drift,
            &mut self.strobe,
            &mut self.partition_partial,
        ]
    }

    /// Every kind at weight 1.
    pub fn all() -> Weights {
        let mut weights = Weights::default();
        for weight in weights.entries_mut() {
            *weight = 1;
        }
        weights
    }
}

impl Kind {
    pub(crate) fn name(self) -> &'static str {
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
            Kind::PartitionHalves => "partition-halves",
            Kind::PartitionBridge => "partition-bridge",
            Kind::PartitionRing => "partition-ring",
            Kind::PartitionPrimaries => "partition-primaries",
            Kind::Flap => "flap",
            Kind::CrashMany => "crash-many",
            Kind::RollingRestart => "rolling-restart",
            Kind::CrashRecovering => "crash-recovering",
            Kind::CrashAfterMessage => "crash-after-message",
            Kind::Duplicate => "duplicate",
            Kind::Reorder => "reorder",
            Kind::Drift => "drift",
            Kind::Strobe => "strobe",
            Kind::PartitionPartial => "partition-partial",
        }
    }

    /// True for the kinds that act on disks: they do nothing to a system that never writes a
    /// file.
    fn needs_disk(self) -> bool {
        matches!(self, Kind::DiskErrors | Kind::DiskCorrupt | Kind::DiskFull | Kind::DiskSlow | Kind::DiskMisdirect)
    }

    /// The family a kind belongs to, for swarm selection: kinds of one family act on the same
    /// part of the world (processes, links, clocks, the network as a whole, disks).
    fn family(self) -> Family {
        match self {
            Kind::Crash
            | Kind::Pause
            | Kind::CrashMany
            | Kind::RollingRestart
            | Kind::CrashRecovering
            | Kind::CrashAfterMessage => Family::Process,
            Kind::Partition
            | Kind::PartitionOneWay
            | Kind::Isolate
            | Kind::Clog
            | Kind::PartitionHalves
            | Kind::PartitionBridge
            | Kind::PartitionRing
            | Kind::PartitionPrimaries
            | Kind::PartitionPartial
            | Kind::Flap => Family::Links,
            Kind::Skew | Kind::Jump | Kind::Drift | Kind::Strobe => Family::Clocks,
            Kind::LossBurst | Kind::LatencySpike | Kind::Duplicate | Kind::Reorder => Family::Network,
            Kind::DiskErrors | Kind::DiskCorrupt | Kind::DiskFull | Kind::DiskSlow | Kind::DiskMisdirect => {
                Family::Disks
            }
        }
    }

    /// True for the kinds whose effect is on single datagrams (duplication, reordering):
    /// stream connections hide them from the application.
    fn needs_datagrams(self) -> bool {
        matches!(self, Kind::Duplicate | Kind::Reorder)
    }
}

/// What a family of fault kinds acts on (see [`Kind::family`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Family {
    Process,
    Links,
    Clocks,
    Network,
    Disks,
}

/// How a profile draws the time between faults and how long each lasts, within its bounds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Spread {
    /// Uniform between the bounds.
    #[default]
    Uniform,
    /// Every doubling between the bounds equally likely (log-uniform by octave), so a profile
    /// from 1 ms to 30 s draws as many faults of milliseconds as of seconds: the nemesis does
    /// not know the system's timeouts, and this way it straddles them.
    LogUniform,
}

impl Spread {
    pub(crate) fn draw(self, rng: &mut Stream, min: u64, max: u64) -> u64 {
        match self {
            Spread::Uniform => rng.between(min, max),
            Spread::LogUniform => log_between(rng, min, max),
        }
    }
}

/// A draw from `min..=max` where each octave `[2^k, 2^(k+1))` that meets the range is
/// equally likely, uniform within it. Integer arithmetic only.
pub(crate) fn log_between(rng: &mut Stream, min: u64, max: u64) -> u64 {
    let (min, max) = (min.max(1), max.max(min.max(1)));
    let (low, high) = (63 - min.leading_zeros(), 63 - max.leading_zeros());
    let octave = low + rng.below(u64::from(high - low) + 1) as u32;
    let start = (1u64 << octave).max(min);
    let end = if octave >= 63 { u64::MAX } else { (1u64 << (octave + 1)) - 1 }.min(max);
    rng.between(start, end)
}

/// Which of the `available` kinds a swarm seed turns on, in two levels: each family with even
/// odds (at least one), then each kind of a family that is on with even odds (at least one).
/// With 29 kinds drawn one by one, nearly every seed would have some crash, some partition and
/// some clock fault on, and a bug that needs one long fault left alone (a leader cut off for
/// longer than its lease, with nothing crashing it meanwhile) would wait for 2^-20 odds; by
/// families, half the seeds have no process fault at all, half no link fault, and so on.
/// Drift is on whenever it is available: it is not an event but a property of every
/// oscillator (see `Nemesis::plan`), and a clock that keeps perfect time is the rarer world.
fn swarm_families(rng: &mut Stream, entries: &[(u32, Kind); KINDS], available: &[usize]) -> [bool; KINDS] {
    let mut families: Vec<Family> = available.iter().map(|&i| entries[i].1.family()).collect();
    families.sort();
    families.dedup();
    let keep = families[rng.below(families.len() as u64) as usize];
    let mut on = [false; KINDS];
    for family in families {
        if family != keep && !rng.chance(Ratio::new(1, 2).expect("valid")) {
            continue;
        }
        let members: Vec<usize> = available.iter().copied().filter(|&i| entries[i].1.family() == family).collect();
        let keep = members[rng.below(members.len() as u64) as usize];
        for i in members {
            on[i] = i == keep || rng.chance(Ratio::new(1, 2).expect("valid"));
        }
    }
    for &i in available {
        if entries[i].1 == Kind::Drift {
            on[i] = true;
        }
    }
    on
}

/// A window of `min..=max`, 2^3 to 2^7 times wide (or all of it, if narrower), centred on a
/// log-uniform draw.
fn time_scale(rng: &mut Stream, min: Duration, max: Duration) -> (Duration, Duration) {
    let (min, max) = (nanos(min).max(1), nanos(max).max(nanos(min).max(1)));
    let octaves = rng.between(3, 7) as u32;
    let centre = log_between(rng, min, max);
    let low = (centre >> (octaves / 2)).max(min);
    let high = centre.saturating_mul(1 << (octaves - octaves / 2)).min(max);
    (Duration::from_nanos(low), Duration::from_nanos(high.max(low)))
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
    /// A name for reports: `calm`, `flaky`, `chaos`, `default`, `swarm`.
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
    /// How intervals and fault lengths are drawn between their bounds.
    pub spread: Spread,
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
            spread: Spread::Uniform,
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

    /// The first mix seedsim had: the network's faults, crashes, pauses, clock skew and
    /// jumps, and disk faults, uniform between 100 ms and 1 s apart and lasting 10 ms to 1 s,
    /// one server down at a time. [`Profile::default`] is broader.
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
                ..Weights::default()
            },
            ..Profile::calm()
        }
    }

    /// Swarm testing (Groce et al., ISSTA 2012): from `base`, the seed turns each fault kind
    /// on or off (at least one stays on), redraws its weight, and scales how often and how
    /// long faults happen, so different seeds explore different corners. The same seed always
    /// makes the same profile.
    ///
    /// A log-uniform base (the default faults) is swarmed by families: each family of kinds
    /// (process faults, link faults, clock faults, network-wide windows, disk faults) is on
    /// with even odds, then each kind of a family that is on; drift stays on. So half the
    /// seeds crash nothing, half cut no link, and a fault that needs to be left alone gets its
    /// chance. A uniform base (`chaos`) turns each kind on or off by itself, as it always has.
    ///
    /// ```
    /// use seedsim::{fault::Profile, Seed};
    /// assert_eq!(Profile::swarm(Profile::chaos(), Seed(7)), Profile::swarm(Profile::chaos(), Seed(7)));
    /// ```
    pub fn swarm(base: Profile, seed: Seed) -> Profile {
        let mut rng = Stream::for_purpose(seed, Purpose::Swarm);
        let mut profile = Profile { name: "swarm".to_owned(), ..base.clone() };
        let entries = base.weights.entries();
        let available: Vec<usize> = (0..KINDS).filter(|&i| entries[i].0 > 0).collect();
        if available.is_empty() {
            return profile;
        }
        match base.spread {
            // The uniform draw keeps the choice it always made, kind by kind, so old seeds'
            // plans stay.
            Spread::Uniform => {
                let keep = available[rng.below(available.len() as u64) as usize];
                for (i, weight) in profile.weights.entries_mut().into_iter().enumerate() {
                    let on = available.contains(&i) && (i == keep || rng.chance(Ratio::new(1, 2).expect("valid")));
                    *weight = if on { 1 + rng.below(5) as u32 } else { 0 };
                }
            }
            Spread::LogUniform => {
                let on = swarm_families(&mut rng, &entries, &available);
                for (i, weight) in profile.weights.entries_mut().into_iter().enumerate() {
                    *weight = if on[i] { 1 + rng.below(5) as u32 } else { 0 };
                }
            }
        }
        let (often, long) = (rng.next_u64(), rng.next_u64());
        let mut often_rng = Stream::new(Seed(often), 0);
        let mut long_rng = Stream::new(Seed(long), 0);
        match base.spread {
            // Intensity: how often faults start, and how long they last, each scaled by 1/4 to 4.
            Spread::Uniform => {
                let scale = |d: Duration, rng: &mut Stream| {
                    let quarters = rng.between(1, 16);
                    Duration::from_nanos(nanos(d).saturating_mul(quarters) / 4)
                };
                profile.interval_min = scale(base.interval_min, &mut often_rng);
                profile.interval_max = profile.interval_min.max(scale(base.interval_max, &mut often_rng));
                profile.fault_min = scale(base.fault_min, &mut long_rng);
                profile.fault_max = profile.fault_min.max(scale(base.fault_max, &mut long_rng));
            }
            // A time scale per seed: fault lengths that span orders of magnitude narrowed to a
            // window of 8 to 128 times somewhere within them, so one seed's faults are all races
            // of milliseconds, another's all outages of seconds (swarm testing over time
            // scales; a mix of every scale in each seed lets the short faults break up the long
            // ones). How often faults come keeps the whole range: narrowed, some seeds would
            // get hundreds of faults, which no system is meant to survive.
            Spread::LogUniform => {
                drop(often_rng);
                (profile.fault_min, profile.fault_max) = time_scale(&mut long_rng, base.fault_min, base.fault_max);
            }
        }
        profile
    }

    /// The same profile without the kinds that cannot touch a scenario with this `usage`:
    /// disk faults without disk use, datagram duplication and reordering without datagrams.
    /// If that would leave no kind at all, the profile is unchanged.
    ///
    /// ```
    /// use seedsim::fault::{Profile, Usage};
    /// let mut usage = Usage::default();
    /// usage.datagrams = true;
    /// let profile = Profile::default().relevant_to(usage);
    /// assert_eq!(profile.weights.disk_corrupt, 0);
    /// assert!(profile.weights.duplicate > 0);
    /// ```
    pub fn relevant_to(mut self, usage: Usage) -> Profile {
        let mut weights = self.weights;
        for (weight, (_, kind)) in weights.entries_mut().into_iter().zip(self.weights.entries()) {
            let irrelevant = (kind.needs_disk() && !usage.disk) || (kind.needs_datagrams() && !usage.datagrams);
            if irrelevant {
                *weight = 0;
            }
        }
        if weights.entries().iter().any(|(weight, _)| *weight > 0) {
            self.weights = weights;
        }
        self
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

    /// The time between two faults' starts: drawn over `min..=max` by the profile's spread.
    pub fn interval(mut self, min: Duration, max: Duration) -> Profile {
        self.interval_min = min;
        self.interval_max = max.max(min);
        self
    }

    /// How long a fault lasts: drawn over `min..=max` by the profile's spread.
    pub fn fault_length(mut self, min: Duration, max: Duration) -> Profile {
        self.fault_min = min;
        self.fault_max = max.max(min);
        self
    }

    /// How intervals and fault lengths are drawn between their bounds.
    pub fn spread(mut self, spread: Spread) -> Profile {
        self.spread = spread;
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

impl Default for Profile {
    /// The default exploration profile, named `default`: every fault kind seedsim has, faults
    /// 10 ms to 2 s apart and lasting 1 ms to 20 s, both log-uniform (the nemesis does not
    /// know the system's timeouts, so it spans them), for the first 10 s, and any number of
    /// servers down at once (a crash of all of them is a power cut). Exploration runs it
    /// through [`Profile::swarm`] and [`Profile::relevant_to`], so each seed gets its own
    /// subset of kinds and intensities, and kinds the system cannot feel are left out.
    ///
    /// ```
    /// use seedsim::fault::Profile;
    /// let profile = Profile::default();
    /// assert_eq!(profile.name, "default");
    /// assert!(profile.weights.partition_bridge > 0 && profile.weights.strobe > 0);
    /// ```
    fn default() -> Profile {
        Profile {
            name: "default".to_owned(),
            duration: Duration::from_secs(10),
            interval_min: Duration::from_millis(10),
            interval_max: Duration::from_secs(2),
            fault_min: Duration::from_millis(1),
            fault_max: Duration::from_secs(20),
            spread: Spread::LogUniform,
            down_max: usize::MAX,
            focus: None,
            weights: Weights::all(),
        }
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
        let spread = match self.spread {
            Spread::Uniform => "",
            Spread::LogUniform => " (log-uniform)",
        };
        write!(
            f,
            "; a fault every {:?} to {:?}, lasting {:?} to {:?}{spread}, for {:?}; ",
            self.interval_min, self.interval_max, self.fault_min, self.fault_max, self.duration
        )?;
        if self.down_max == usize::MAX {
            f.write_str("any number down")?;
        } else {
            write!(f, "at most {} down", self.down_max)?;
        }
        if let Some(focus) = &self.focus {
            write!(f, "; focus {focus}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_between_stays_in_range_and_spans_the_octaves() {
        let mut rng = Stream::new(Seed(5), 0);
        let (min, max) = (1_000_000u64, 20_000_000_000u64);
        let mut below_10ms = 0;
        let mut above_1s = 0;
        for _ in 0..10_000 {
            let x = log_between(&mut rng, min, max);
            assert!((min..=max).contains(&x), "{x}");
            below_10ms += usize::from(x < 10_000_000);
            above_1s += usize::from(x > 1_000_000_000);
        }
        // 15 octaves: about 3.3 of them under 10 ms, 4.3 over 1 s.
        assert!((1_500..3_000).contains(&below_10ms), "{below_10ms}");
        assert!((2_200..3_600).contains(&above_1s), "{above_1s}");
        assert_eq!(log_between(&mut rng, 7, 7), 7);
        assert_eq!(log_between(&mut rng, 0, 0), 1);
    }

    #[test]
    fn relevance_leaves_out_what_cannot_touch_the_run() {
        let none = Profile::default().relevant_to(Usage::default());
        for (weight, kind) in none.weights.entries() {
            let out = kind.needs_disk() || kind.needs_datagrams();
            assert_eq!(weight == 0, out, "{kind:?}");
        }
        assert_eq!(Profile::default().relevant_to(Usage::ALL), Profile::default());
        // A profile of disk faults only keeps them rather than become calm.
        let disk = Profile::calm().weights(Weights { disk_full: 1, ..Weights::default() });
        assert_eq!(disk.clone().relevant_to(Usage::default()), disk);
    }

    #[test]
    fn swarm_of_the_default_turns_families_and_kinds_on_and_off_per_seed() {
        const SEEDS: u32 = 400;
        let mut on = [0u32; KINDS];
        let mut without_process_faults = 0;
        let mut without_link_faults = 0;
        for seed in 0..SEEDS {
            let profile = Profile::swarm(Profile::default(), Seed(u64::from(seed)));
            assert!(!profile.is_calm());
            assert_eq!(profile.spread, Spread::LogUniform);
            let entries = profile.weights.entries();
            for (i, (weight, _)) in entries.into_iter().enumerate() {
                on[i] += u32::from(weight > 0);
            }
            let none_of = |family| entries.iter().all(|(weight, kind)| kind.family() != family || *weight == 0);
            without_process_faults += u32::from(none_of(Family::Process));
            without_link_faults += u32::from(none_of(Family::Links));
        }
        for (i, count) in on.iter().enumerate() {
            if Profile::default().weights.entries()[i].1 == Kind::Drift {
                assert_eq!(*count, SEEDS, "drift is on in every seed");
            } else {
                // A family on half the time, a kind of it half of that (a little more for the
                // family's one kind that is always kept).
                assert!((SEEDS / 8..=SEEDS / 2).contains(count), "kind {i} on in {count} of {SEEDS} seeds");
            }
        }
        // Whole families off: about half the seeds crash nothing, half cut no link (one
        // family is always kept, so a little under half).
        for count in [without_process_faults, without_link_faults] {
            assert!((SEEDS / 4..=SEEDS * 2 / 3).contains(&count), "{count} of {SEEDS} seeds without a family");
        }
    }
}
