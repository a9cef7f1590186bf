//! The exploration runner behind `sim/` targets: a command line that runs one seed, replays
//! it with its trace, sweeps many seeds on all cores (sharded over machines, swarm faults on
//! by default), groups failures by cause, and checks determinism.
//!
//! Runs get the default faults unless `--faults` says otherwise: a swarm profile per seed
//! from [`Profile::default`], the whole fault vocabulary, less the kinds that two probe runs
//! of the scenario at a fixed seed show cannot touch it (see [`Usage`]).
//!
//! With the `explore` feature. A target is a few lines (in a binary of your crate, pass
//! [`explore_target!()`](crate::explore_target) rather than a name, and the replay lines it
//! prints name your package and binary):
//!
//! ```no_run
//! use seedsim::explore::{self, Scenario};
//! use seedsim::{Error, Sim};
//!
//! fn my_system(sim: &mut Sim) -> Result<(), Error> {
//!     // add nodes and clients
//! #   let _ = sim;
//!     Ok(())
//! }
//!
//! fn main() -> std::process::ExitCode {
//!     explore::main("my-target", &[Scenario::new("my-system", Sim::builder, my_system)])
//! }
//! ```
//!
//! ```text
//! my-target run --seed 0x2a                     # one seed, full report (SEEDSIM_LOG for a log)
//! my-target replay --seed 0x2a --trace out.txt  # the same, writing every event of the trace
//! my-target explore --seeds 1000000 --jobs 8    # a sweep; --duration 8h, --shard 3/16, --json out.jsonl
//! my-target explore --guided --seeds 100000     # keep runs that reached new behaviour, mutate their plans
//! my-target check-determinism --seeds 100       # each seed twice; names the first difference
//! my-target shrink --seed 0x2a --out plan.txt    # the fewest faults that still fail the same way
//! my-target replay --seed 0x2a --plan plan.txt   # replay with an edited or shrunk plan
//! my-target merge shard-*.jsonl                  # one report from many shards' results
//! ```
//!
//! Exit codes: 0 when every seed passed, 1 when a run failed, 2 for bad input or I/O errors.
//! This module is the one place in seedsim allowed threads and the host clock: they schedule
//! and time whole runs, and never enter one.

/// `println!` for the command line's reports, minus its panic when stdout is a closed pipe
/// (`explore … | head`): the reader has gone, so the target leaves quietly with exit code 2
/// (an I/O error), as a Unix tool killed by `SIGPIPE` would.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if let Err(err) = writeln!(std::io::stdout(), $($arg)*) {
            if err.kind() == std::io::ErrorKind::BrokenPipe {
                std::process::exit(2);
            }
        }
    }};
}

mod cli;
mod corpus;
mod merge;
mod shrink;
mod size;
mod sweep;
mod target;

use std::process::ExitCode;

pub use corpus::{check_corpus, read_corpus, Entry};
pub use size::{Size, Sizes, SIZES_MAX};
pub use target::Target;

use crate::error::Error;
use crate::fault::{FaultPlan, Profile, Usage};
use crate::sim::{Builder, Sim};
use crate::Seed;

/// One scenario a target can run: how to build the world, and how to set it up.
#[derive(Clone, Copy)]
pub struct Scenario {
    name: &'static str,
    builder: fn() -> Builder,
    setup: Setup,
    sizes: Sizes,
    profiles: &'static [NamedFaults],
}

/// A scenario's own faults, selectable by name with `--faults NAME`: a name, and the profile
/// for a seed (see [`Scenario::faults`]).
pub type NamedFaults = (&'static str, fn(Seed) -> Profile);

/// The names `--faults` gives to seedsim's own faults; a scenario's must differ.
const BUILT_IN_FAULTS: [&str; 4] = ["default", "calm", "chaos", "swarm"];

#[derive(Clone, Copy)]
enum Setup {
    Plain(fn(&mut Sim) -> Result<(), Error>),
    Sized(fn(&mut Sim, &Sizes) -> Result<(), Error>),
}

impl Scenario {
    /// A scenario named `name`: `builder` gives its settings (the seed is set per run), and
    /// `setup` adds its nodes and clients.
    pub fn new(name: &'static str, builder: fn() -> Builder, setup: fn(&mut Sim) -> Result<(), Error>) -> Scenario {
        Scenario { name, builder, setup: Setup::Plain(setup), sizes: Sizes::defaults(&[]), profiles: &[] }
    }

    /// A scenario whose setup takes [`Sizes`]: how many nodes, clients or operations it
    /// creates. `shrink` then also looks for smaller sizes that fail the same way, and
    /// `run`, `replay` and `shrink` take `--size NAME=VALUE`.
    ///
    /// ```
    /// use seedsim::explore::{Scenario, Size, Sizes};
    /// use seedsim::{Error, Sim};
    ///
    /// const SIZES: &[Size] = &[Size::new("clients", 3, 1)];
    ///
    /// fn counters(sim: &mut Sim, sizes: &Sizes) -> Result<(), Error> {
    ///     for client in 0..sizes.get("clients")? {
    ///         sim.client(&format!("client-{client}"), async { Ok::<(), std::io::Error>(()) })?;
    ///     }
    ///     Ok(())
    /// }
    ///
    /// let scenario = Scenario::sized("counters", Sim::builder, SIZES, counters);
    /// assert_eq!(scenario.sizes().to_string(), "clients=3");
    /// ```
    ///
    /// # Panics
    ///
    /// If `sizes` declares more than [`SIZES_MAX`] sizes.
    pub fn sized(
        name: &'static str,
        builder: fn() -> Builder,
        sizes: &'static [Size],
        setup: fn(&mut Sim, &Sizes) -> Result<(), Error>,
    ) -> Scenario {
        Scenario { name, builder, setup: Setup::Sized(setup), sizes: Sizes::defaults(sizes), profiles: &[] }
    }

    /// The same scenario with faults of its own, each selectable by name with `--faults
    /// NAME` (`run`, `replay`, `explore`, `shrink`, `check-determinism`), and named in replay
    /// lines, JSON results and corpus entries: a store with no checksums, say, explored
    /// under every fault but disk corruption. Each run installs the profile the function
    /// gives for its seed, as seedsim's own faults are installed, so `shrink` sees and
    /// removes them. (A scenario whose setup installs faults itself runs them in every run,
    /// whatever `--faults` says, and `shrink` cannot remove them.)
    ///
    /// ```
    /// use seedsim::explore::Scenario;
    /// use seedsim::fault::{Profile, Weights};
    /// use seedsim::{Seed, Sim};
    ///
    /// /// Every fault of the default profile but disk corruption, swarmed per seed.
    /// fn no_corruption(seed: Seed) -> Profile {
    ///     let mut profile = Profile::default();
    ///     profile.weights.disk_corrupt = 0;
    ///     Profile::swarm(profile, seed)
    /// }
    ///
    /// let scenario = Scenario::new("store", Sim::builder, |_| Ok(())).faults(&[("no-corruption", no_corruption)]);
    /// assert_eq!(scenario.fault_names(), ["no-corruption"]);
    /// ```
    ///
    /// # Panics
    ///
    /// If a name is one of seedsim's own (`default`, `calm`, `chaos`, `swarm`), empty, or
    /// given twice.
    pub fn faults(mut self, profiles: &'static [NamedFaults]) -> Scenario {
        for (index, (name, _)) in profiles.iter().enumerate() {
            assert!(!name.trim().is_empty(), "scenario {}: a fault profile needs a name", self.name);
            assert!(
                !BUILT_IN_FAULTS.contains(name),
                "scenario {}: --faults {name} is seedsim's own; give the profile another name",
                self.name
            );
            assert!(
                profiles[..index].iter().all(|(other, _)| other != name),
                "scenario {}: two fault profiles are named {name}",
                self.name
            );
        }
        self.profiles = profiles;
        self
    }

    /// The names of the scenario's own faults ([`Scenario::faults`]).
    pub fn fault_names(&self) -> Vec<&'static str> {
        self.profiles.iter().map(|(name, _)| *name).collect()
    }

    /// The scenario's name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The sizes its runs use: the declared defaults unless `--size` changed them.
    pub fn sizes(&self) -> Sizes {
        self.sizes
    }

    /// The same scenario run at other sizes.
    pub(crate) fn at(mut self, sizes: Sizes) -> Scenario {
        debug_assert_eq!(sizes.declared(), self.sizes.declared());
        self.sizes = sizes;
        self
    }
}

/// Which faults every run of a command gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Faults {
    Calm,
    Chaos,
    /// Swarm profiles from `chaos`.
    Swarm,
    /// The default: swarm profiles from the whole vocabulary ([`Profile::default`]), less the
    /// kinds the scenario's probed usage says cannot touch it.
    Default(Usage),
    /// One of the scenario's own profiles ([`Scenario::faults`]), by name.
    Named(&'static str),
}

impl Faults {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Faults::Calm => "calm",
            Faults::Chaos => "chaos",
            Faults::Swarm => "swarm",
            Faults::Default(_) => "default",
            Faults::Named(name) => name,
        }
    }

    /// The faults named `name` on the command line for `scenario`: `default` probes the
    /// scenario for what it uses.
    pub(crate) fn named(name: &str, scenario: &Scenario) -> Result<Faults, Error> {
        Ok(match name {
            "calm" => Faults::Calm,
            "chaos" => Faults::Chaos,
            "swarm" => Faults::Swarm,
            "default" => {
                Faults::Default(Usage::probe(|seed| build(scenario, seed, Faults::Calm, None, "", false, None))?)
            }
            _ => match scenario.profiles.iter().find(|(own, _)| *own == name) {
                Some((own, _)) => Faults::Named(own),
                None => {
                    let mut known: Vec<&str> = BUILT_IN_FAULTS.to_vec();
                    known.extend(scenario.fault_names());
                    let known = format!("{} (scenario {})", known.join(", "), scenario.name);
                    return Err(Error::new(crate::error::ErrorKind::UnknownFaults { known }, name));
                }
            },
        })
    }
}

/// Build and set up one run of `scenario` under `seed` with `faults`, or with exactly `plan`
/// when one is given (a shrunk or edited plan).
pub(crate) fn build(
    scenario: &Scenario,
    seed: Seed,
    faults: Faults,
    plan: Option<&FaultPlan>,
    replay: &str,
    record_trace: bool,
    log: Option<&str>,
) -> Result<Sim, Error> {
    let mut builder = (scenario.builder)().seed(seed).replay_command(replay).record_trace(record_trace);
    if let Some(filter) = log {
        builder = builder.log(filter);
    }
    let mut sim = builder.build()?;
    match scenario.setup {
        Setup::Plain(setup) => setup(&mut sim)?,
        Setup::Sized(setup) => setup(&mut sim, &scenario.sizes)?,
    }
    if let Some(plan) = plan {
        sim.faults(plan.clone())?;
        return Ok(sim);
    }
    match faults {
        Faults::Calm => {}
        Faults::Chaos => drop(sim.nemesis(Profile::chaos())?),
        Faults::Swarm => drop(sim.nemesis(Profile::swarm(Profile::chaos(), seed))?),
        Faults::Default(usage) => drop(sim.nemesis(Profile::swarm(Profile::default().relevant_to(usage), seed))?),
        Faults::Named(name) => {
            let (_, profile) = scenario.profiles.iter().find(|(own, _)| *own == name).expect("named by the scenario");
            drop(sim.nemesis(profile(seed))?);
        }
    }
    Ok(sim)
}

/// Parse the command line and run it; see the module docs for the commands.
pub fn main(target: impl Into<Target>, scenarios: &[Scenario]) -> ExitCode {
    main_from(target, scenarios, std::env::args_os())
}

/// Like [`main`], with the arguments given (the first is the program name).
pub fn main_from<I, T>(target: impl Into<Target>, scenarios: &[Scenario], args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let target = target.into();
    // A hang the watchdog ends the process for is a failure found: exit code 1, as for any.
    crate::watchdog::set_exit_code(1);
    match cli::parse(target, scenarios, args) {
        Err(code) => code,
        Ok(command) => cli::execute(target, command),
    }
}
