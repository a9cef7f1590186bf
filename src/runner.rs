//! [`Runner`]: run a scenario over many seeds under `cargo test`, and print the one line
//! that replays a failure.
//!
//! The environment picks the seeds: `SEEDSIM_SEED` runs exactly one, `SEEDSIM_SEEDS` changes
//! how many; otherwise a fixed count from a fixed base seed, so a test suite is itself
//! deterministic. `SEEDSIM_LOG` logs the runs. The first seeds are run twice and their trace
//! hashes compared, and a failure is replayed once before it is reported, so a report never
//! carries a replay line that does not replay. `SEEDSIM_HTML=PATH` and `SEEDSIM_TRACE=PATH`
//! have that replay write the failing seed's timeline and whole trace, and the report names
//! the files. `SEEDSIM_WATCHDOG=SECONDS` sets how long one poll may run on the host before the
//! watchdog reports a hang and ends the test process (`0` turns it off).

use crate::check::Coverage;
use crate::error::{Error, ErrorKind};
use crate::fault::{Profile, Usage};
use crate::seed::Seed;
use crate::sim::outcome::{Cause, Failure, Outcome};
use crate::sim::{Builder, Sim};
use crate::time::Instant;
use crate::trace::{first_difference, Event, EventKind};

use std::path::PathBuf;
use std::time::Duration;

/// Seeds a [`Runner`] runs when neither it nor `SEEDSIM_SEEDS` says otherwise.
pub const DEFAULT_SEEDS: u64 = 100;

/// The base seed a [`Runner`] counts from unless told otherwise.
pub const DEFAULT_BASE_SEED: Seed = Seed(0x5eed_0000_0000_0001);

const SEEDS_MAX: u64 = 1_000_000_000;

/// Runs a scenario over many seeds, as a test.
///
/// The scenario is a closure that adds nodes and clients to a fresh [`Sim`]; it is called
/// once per run.
///
/// ```
/// use seedsim::{Runner, time::sleep};
/// use std::time::Duration;
///
/// Runner::new().seeds(20).run(|sim| {
///     sim.client("c", async {
///         sleep(Duration::from_millis(5)).await;
///         Ok::<(), std::io::Error>(())
///     })?;
///     Ok(())
/// });
/// ```
#[derive(Clone, Debug)]
pub struct Runner {
    name: Option<String>,
    seeds: u64,
    base_seed: Seed,
    exact_seed: Option<Seed>,
    builder: Builder,
    determinism_checks: u64,
    replay_command: Option<String>,
    faults: FaultMode,
    html: Option<PathBuf>,
    trace: Option<PathBuf>,
}

/// Which faults a runner adds to every run.
#[derive(Clone, Debug)]
enum FaultMode {
    /// Only what the scenario does itself.
    None,
    /// A nemesis with this profile, the same for every seed.
    Nemesis(Profile),
    /// A nemesis with a swarm profile drawn per seed from this base.
    Swarm(Profile),
    /// The default exploration faults: a swarm profile per seed from [`Profile::default`],
    /// without the kinds a probe of the scenario shows cannot touch it.
    Default,
}

impl Default for Runner {
    fn default() -> Runner {
        Runner::new()
    }
}

/// What a [`Runner`] did.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Report {
    /// Runs made (determinism checks and the replay check included).
    pub runs: u64,
    /// Seeds that passed.
    pub passed: u64,
    /// The failure found, if any: the runner stops at the first.
    pub failure: Option<Box<Failure>>,
    /// What the assertions and `buggify!` sites did over every seed run (not counting
    /// determinism re-runs): `coverage.never_held()` lists states no seed reached.
    pub coverage: Coverage,
}

/// The seeds and log filter a runner will use, after reading the environment.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Plan {
    /// The first seed.
    pub base_seed: Seed,
    /// How many seeds; `1` with `exact` for `SEEDSIM_SEED`.
    pub seeds: u64,
    /// True when `SEEDSIM_SEED` named the one seed to run.
    pub exact: bool,
    /// `SEEDSIM_LOG`, if set.
    pub log: Option<String>,
    /// Where to write a failing seed's timeline: `SEEDSIM_HTML`, or [`Runner::html`].
    pub html: Option<PathBuf>,
    /// Where to write a failing seed's whole trace as text: `SEEDSIM_TRACE`, or
    /// [`Runner::trace`].
    pub trace: Option<PathBuf>,
    /// The watchdog's limit from `SEEDSIM_WATCHDOG` (zero: off), if set; otherwise the
    /// builder's ([`Runner::watchdog`]) holds.
    pub watchdog: Option<Duration>,
}

impl Plan {
    /// The `index`-th seed of the plan.
    pub fn seed(&self, index: u64) -> Seed {
        if self.exact {
            self.base_seed
        } else {
            self.base_seed.nth(index)
        }
    }
}

impl Runner {
    /// A runner with [`DEFAULT_SEEDS`] seeds from [`DEFAULT_BASE_SEED`], default settings,
    /// and a determinism check of the first seed.
    pub fn new() -> Runner {
        Runner {
            name: None,
            seeds: DEFAULT_SEEDS,
            base_seed: DEFAULT_BASE_SEED,
            exact_seed: None,
            builder: Builder::default(),
            determinism_checks: 1,
            replay_command: None,
            faults: FaultMode::None,
            html: None,
            trace: None,
        }
    }

    /// The test's name, for the replay line. Defaults to the name of the test thread, which is
    /// the test's path under `cargo test`.
    pub fn name(mut self, name: impl Into<String>) -> Runner {
        self.name = Some(name.into());
        self
    }

    /// How many seeds to run (`SEEDSIM_SEEDS` overrides it).
    pub fn seeds(mut self, seeds: u64) -> Runner {
        self.seeds = seeds;
        self
    }

    /// The seed to count from.
    pub fn base_seed(mut self, seed: Seed) -> Runner {
        self.base_seed = seed;
        self
    }

    /// Run exactly this seed (`SEEDSIM_SEED` still overrides it): for a regression test
    /// named after the seed that found a bug.
    ///
    /// ```
    /// use seedsim::{Runner, Seed};
    /// let plan = Runner::new().seed(Seed(0x2a)).plan_from(|_| None)?;
    /// assert_eq!((plan.seeds, plan.seed(0)), (1, Seed(0x2a)));
    /// # Ok::<(), seedsim::Error>(())
    /// ```
    pub fn seed(mut self, seed: Seed) -> Runner {
        self.exact_seed = Some(seed);
        self
    }

    /// Settings for every run (the seed is set per run).
    pub fn builder(mut self, builder: Builder) -> Runner {
        self.builder = builder;
        self
    }

    /// How many of the first seeds to run twice, comparing trace hashes (default 1).
    pub fn determinism_checks(mut self, seeds: u64) -> Runner {
        self.determinism_checks = seeds;
        self
    }

    /// Add a nemesis with this profile to every run, after the scenario has added its nodes
    /// (see [`Sim::nemesis`]).
    pub fn nemesis(mut self, profile: Profile) -> Runner {
        self.faults = FaultMode::Nemesis(profile);
        self
    }

    /// Swarm testing: every run gets a nemesis whose profile the seed draws from `base`
    /// ([`Profile::swarm`]), so different seeds turn on different fault kinds at different
    /// strengths.
    ///
    /// ```
    /// use std::time::Duration;
    /// use seedsim::{fault::Profile, time::sleep, Runner};
    /// let report = Runner::new()
    ///     .seeds(5)
    ///     .swarm(Profile::chaos())
    ///     .try_run(|sim| {
    ///         sim.node("a", || async { sleep(Duration::from_secs(30)).await })?;
    ///         sim.client("c", async { sleep(Duration::from_secs(12)).await; Ok::<(), std::io::Error>(()) })?;
    ///         Ok(())
    ///     })?;
    /// assert!(report.failure.is_none());
    /// # Ok::<(), seedsim::Error>(())
    /// ```
    pub fn swarm(mut self, base: Profile) -> Runner {
        self.faults = FaultMode::Swarm(base);
        self
    }

    /// The default exploration faults, as `explore` runs them: every run gets a nemesis
    /// whose profile the seed draws ([`Profile::swarm`]) from the whole vocabulary
    /// ([`Profile::default`]), less the kinds that cannot touch this scenario
    /// ([`Profile::relevant_to`]: no disk faults for a system that writes no file, say).
    /// What the scenario uses is learned from two probe runs at a fixed seed before the
    /// sweep, so a replay of one seed draws the same plan.
    ///
    /// ```
    /// use std::time::Duration;
    /// use seedsim::{time::sleep, Runner};
    /// let report = Runner::new()
    ///     .seeds(5)
    ///     .default_faults()
    ///     .try_run(|sim| {
    ///         sim.node("a", || async { sleep(Duration::from_secs(30)).await })?;
    ///         sim.client("c", async { sleep(Duration::from_secs(12)).await; Ok::<(), std::io::Error>(()) })?;
    ///         Ok(())
    ///     })?;
    /// assert!(report.failure.is_none());
    /// # Ok::<(), seedsim::Error>(())
    /// ```
    pub fn default_faults(mut self) -> Runner {
        self.faults = FaultMode::Default;
        self
    }

    /// Write a failing seed's timeline (an HTML page, see `timeline.md`) to `path` when the
    /// run fails; `SEEDSIM_HTML=PATH` does the same without changing the test. The report
    /// names the file. A relative path is from where the test runs (`cargo test` runs a
    /// package's tests in its directory).
    ///
    /// ```
    /// use seedsim::Runner;
    /// let path = std::env::temp_dir().join(format!("seedsim-doc-{}.html", std::process::id()));
    /// let report = Runner::new().seeds(1).html(&path).try_run(|sim| {
    ///     sim.client("c", async { Err::<(), _>(std::io::Error::other("broken")) })?;
    ///     Ok(())
    /// })?;
    /// let failure = report.failure.expect("the client fails");
    /// assert!(std::fs::read_to_string(&path)?.contains("<html"));
    /// assert!(failure.to_string().contains("timeline:"));
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn html(mut self, path: impl Into<PathBuf>) -> Runner {
        self.html = Some(path.into());
        self
    }

    /// Write a failing seed's whole trace, one event a line, to `path` when the run fails;
    /// `SEEDSIM_TRACE=PATH` does the same without changing the test. The report names the
    /// file.
    pub fn trace(mut self, path: impl Into<PathBuf>) -> Runner {
        self.trace = Some(path.into());
        self
    }

    /// How long one poll may run on the host before the watchdog reports a hang, prints the
    /// report with the replay line and ends the test process (default 10 s; zero turns it
    /// off; `SEEDSIM_WATCHDOG` overrides it). See [`Builder::watchdog`].
    ///
    /// ```
    /// use std::time::Duration;
    /// seedsim::Runner::new().seeds(3).watchdog(Duration::from_secs(30)).run(|sim| {
    ///     sim.client("c", async { Ok::<(), std::io::Error>(()) })?;
    ///     Ok(())
    /// });
    /// ```
    pub fn watchdog(mut self, limit: Duration) -> Runner {
        self.builder = self.builder.watchdog(limit);
        self
    }

    /// The command the replay line runs after `SEEDSIM_SEED=…`, for runners outside
    /// `cargo test` (an example binary: `cargo run --release --example kv`).
    pub fn replay_command(mut self, command: impl Into<String>) -> Runner {
        self.replay_command = Some(command.into());
        self
    }

    /// The seeds this runner will run, after reading `SEEDSIM_SEED`, `SEEDSIM_SEEDS`,
    /// `SEEDSIM_LOG`, `SEEDSIM_HTML`, `SEEDSIM_TRACE` and `SEEDSIM_WATCHDOG`.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidEnv`] naming the variable and the accepted form;
    /// [`ErrorKind::InvalidConfig`] if the seed count is 0 or over a billion.
    pub fn plan(&self) -> Result<Plan, Error> {
        for var in ["SEEDSIM_SEED", "SEEDSIM_SEEDS", "SEEDSIM_LOG", "SEEDSIM_HTML", "SEEDSIM_TRACE", "SEEDSIM_WATCHDOG"]
        {
            if let Err(std::env::VarError::NotUnicode(value)) = std::env::var(var) {
                // Silently ignored, a seed asked for would not be the seed run.
                let kind = ErrorKind::InvalidEnv { var, expected: "UTF-8 text" };
                return Err(Error::new(kind, value.to_string_lossy()));
            }
        }
        self.plan_from(|var| std::env::var(var).ok())
    }

    /// Like [`plan`](Runner::plan), reading variables from `env` instead of the process
    /// environment.
    ///
    /// # Errors
    /// As [`plan`](Runner::plan).
    pub fn plan_from(&self, env: impl Fn(&str) -> Option<String>) -> Result<Plan, Error> {
        let var = |name: &str| env(name).filter(|value| !value.trim().is_empty());
        if !(1..=SEEDS_MAX).contains(&self.seeds) {
            return Err(Error::new(
                ErrorKind::InvalidConfig { field: "Runner::seeds", expected: "1 to 1000000000" },
                self.seeds.to_string(),
            ));
        }
        let log = match var("SEEDSIM_LOG") {
            Some(filter) => {
                crate::log::dispatch(&filter).map_err(|_| {
                    Error::new(
                        ErrorKind::InvalidEnv {
                            var: "SEEDSIM_LOG",
                            expected: "a tracing filter such as \"info\" or \"seedsim=debug,my_crate=trace\"",
                        },
                        filter.clone(),
                    )
                })?;
                Some(filter)
            }
            None => None,
        };
        let html = var("SEEDSIM_HTML").map(PathBuf::from).or_else(|| self.html.clone());
        let trace = var("SEEDSIM_TRACE").map(PathBuf::from).or_else(|| self.trace.clone());
        let watchdog = match var("SEEDSIM_WATCHDOG") {
            None => None,
            Some(text) => Some(parse_watchdog(&text).ok_or_else(|| {
                Error::new(
                    ErrorKind::InvalidEnv {
                        var: "SEEDSIM_WATCHDOG",
                        expected: "the seconds one poll may run before the watchdog reports a hang, e.g. 10, 0.5 or \
                                   200ms (0 turns the watchdog off)",
                    },
                    text.clone(),
                )
            })?),
        };
        if let Some(text) = var("SEEDSIM_SEED") {
            let seed = text.parse::<Seed>().map_err(|_| {
                Error::new(
                    ErrorKind::InvalidEnv {
                        var: "SEEDSIM_SEED",
                        expected: "a decimal u64 or 0x followed by up to 16 hex digits, e.g. 0x00000000deadbeef",
                    },
                    text.clone(),
                )
            })?;
            return Ok(Plan { base_seed: seed, seeds: 1, exact: true, log, html, trace, watchdog });
        }
        if let Some(seed) = self.exact_seed {
            return Ok(Plan { base_seed: seed, seeds: 1, exact: true, log, html, trace, watchdog });
        }
        let seeds = match var("SEEDSIM_SEEDS") {
            None => self.seeds,
            Some(text) => text.trim().parse::<u64>().ok().filter(|n| (1..=SEEDS_MAX).contains(n)).ok_or_else(|| {
                Error::new(
                    ErrorKind::InvalidEnv { var: "SEEDSIM_SEEDS", expected: "a whole number from 1 to 1000000000" },
                    text.clone(),
                )
            })?,
        };
        Ok(Plan { base_seed: self.base_seed, seeds, exact: false, log, html, trace, watchdog })
    }

    /// Run the scenario over the planned seeds; panic with the failure report if a seed
    /// fails. For `cargo test`.
    ///
    /// # Panics
    /// On a failure (the message is the report, ending with the replay line), on a bad
    /// environment variable, and when the scenario returns an error.
    #[track_caller]
    pub fn run<F>(&self, scenario: F)
    where
        F: Fn(&mut Sim) -> Result<(), Error>,
    {
        match self.try_run(scenario) {
            Err(err) => panic!("seedsim: {err}"),
            Ok(Report { failure: Some(failure), .. }) => panic!("{failure}"),
            Ok(report) => {
                for assertion in report.coverage.never_held() {
                    eprintln!(
                        "seedsim: assert_sometimes!({:?}) at {} never held in {} runs: the tests never reach that state",
                        assertion.name, assertion.location, report.passed
                    );
                }
            }
        }
    }

    /// Run the scenario over the planned seeds, stopping at the first failure.
    ///
    /// # Errors
    /// A bad environment variable, or an error returned by the scenario while it set up a
    /// world (a duplicate node name, say): these are mistakes in the test, not findings.
    pub fn try_run<F>(&self, scenario: F) -> Result<Report, Error>
    where
        F: Fn(&mut Sim) -> Result<(), Error>,
    {
        let plan = self.plan()?;
        let with_env;
        let this = match plan.watchdog {
            None => self,
            Some(limit) => {
                with_env = self.clone().watchdog(limit);
                &with_env
            }
        };
        this.sweep(&plan, scenario)
    }

    fn sweep<F>(&self, plan: &Plan, scenario: F) -> Result<Report, Error>
    where
        F: Fn(&mut Sim) -> Result<(), Error>,
    {
        let usage = match self.faults {
            FaultMode::Default => Usage::probe(|seed| self.setup(seed, None, false, &scenario))?,
            _ => Usage::ALL,
        };
        let run_one = |seed: Seed, log: Option<&str>, record: bool| self.run_one(seed, log, record, usage, &scenario);
        let write_files = plan.html.is_some() || plan.trace.is_some();
        let mut report = Report { runs: 0, passed: 0, failure: None, coverage: Coverage::default() };
        for index in 0..plan.seeds {
            let seed = plan.seed(index);
            let (mut outcome, sim) = run_one(seed, plan.log.as_deref(), false)?;
            if let Outcome::Failed(failure) = &mut outcome {
                // A deadlock that a thread of the node code's ends late is nondeterminism.
                if matches!(failure.cause, Cause::Deadlock { .. }) {
                    let late = sim.late_foreign_wakes();
                    if late > 0 {
                        failure.cause = crate::sim::late_wakes(late);
                    }
                }
            }
            drop(sim);
            report.runs += 1;
            report.coverage.absorb(outcome.coverage());
            if index < self.determinism_checks {
                // Not logged: one log of the seed is enough.
                let again = run_one(seed, None, false)?.0;
                report.runs += 1;
                if again.trace_hash() != outcome.trace_hash() {
                    report.failure = Some(Box::new(self.nondeterminism(seed, usage, &scenario)?));
                    return Ok(report);
                }
            }
            match outcome {
                Outcome::Passed(summary) => {
                    report.passed += 1;
                    if plan.exact {
                        eprintln!(
                            "seedsim: seed {seed} passed at {} after {} steps, trace hash 0x{:016x}",
                            summary.time, summary.steps, summary.trace_hash
                        );
                    }
                }
                Outcome::Failed(mut failure) => {
                    // The replay that checks the line replays also records the files asked for.
                    let (replayed, mut sim) = run_one(seed, None, write_files)?;
                    report.runs += 1;
                    if replayed.trace_hash() != failure.trace_hash {
                        let diff = self.nondeterminism(seed, usage, &scenario)?;
                        failure.replay = format!("{} (WARNING: {})", failure.replay, diff.cause);
                    }
                    if write_files {
                        failure.files = self.write_files(plan, &mut sim, &replayed);
                    }
                    report.failure = Some(failure);
                    return Ok(report);
                }
            }
        }
        Ok(report)
    }

    /// Write the failing run's timeline and trace where the plan says, from `sim`, the replay
    /// of the failing seed that recorded its whole trace.
    fn write_files(
        &self,
        plan: &Plan,
        sim: &mut Sim,
        outcome: &Outcome,
    ) -> Vec<(&'static str, Result<PathBuf, String>)> {
        let names = sim.node_names();
        let events = sim.take_trace().unwrap_or_default();
        let located = |path: &PathBuf, written: std::io::Result<()>| match written {
            Ok(()) => Ok(std::fs::canonicalize(path).unwrap_or_else(|_| path.clone())),
            Err(err) => Err(format!("{}: {err}", path.display())),
        };
        let mut files = Vec::new();
        if let Some(path) = &plan.html {
            let title = match self.test_name() {
                Some(name) => format!("{name}, seed {}", outcome.seed()),
                None => format!("seed {}", outcome.seed()),
            };
            let timeline = crate::timeline::Timeline::new(names.clone(), events.clone())
                .title(title)
                .checked_histories(sim)
                .outcome(outcome);
            files.push(("timeline", located(path, timeline.write(path))));
        }
        if let Some(path) = &plan.trace {
            files.push(("trace", located(path, crate::trace::write_text(path, &events, &names))));
        }
        files
    }

    /// Build the world for `seed` and set up the scenario, without this runner's faults.
    fn setup<F>(&self, seed: Seed, log: Option<&str>, record: bool, scenario: &F) -> Result<Sim, Error>
    where
        F: Fn(&mut Sim) -> Result<(), Error>,
    {
        let mut builder = self.builder.clone().seed(seed).replay_command(self.replay_line()).record_trace(record);
        if let Some(filter) = log {
            builder = builder.log(filter);
        }
        let mut sim = builder.build()?;
        scenario(&mut sim)?;
        Ok(sim)
    }

    fn run_one<F>(
        &self,
        seed: Seed,
        log: Option<&str>,
        record: bool,
        usage: Usage,
        scenario: &F,
    ) -> Result<(Outcome, Sim), Error>
    where
        F: Fn(&mut Sim) -> Result<(), Error>,
    {
        let mut sim = self.setup(seed, log, record, scenario)?;
        match &self.faults {
            FaultMode::None => {}
            FaultMode::Nemesis(profile) => drop(sim.nemesis(profile.clone())?),
            FaultMode::Swarm(base) => drop(sim.nemesis(Profile::swarm(base.clone(), seed))?),
            FaultMode::Default => drop(sim.nemesis(Profile::swarm(Profile::default().relevant_to(usage), seed))?),
        }
        let outcome = sim.run();
        Ok((outcome, sim))
    }

    /// Run `seed` twice recording full traces, and describe where they part.
    fn nondeterminism<F>(&self, seed: Seed, usage: Usage, scenario: &F) -> Result<Failure, Error>
    where
        F: Fn(&mut Sim) -> Result<(), Error>,
    {
        let (first, mut sim_a) = self.run_one(seed, None, true, usage, scenario)?;
        let (second, mut sim_b) = self.run_one(seed, None, true, usage, scenario)?;
        let names = sim_a.node_names();
        let a = sim_a.take_trace().unwrap_or_default();
        let b = sim_b.take_trace().unwrap_or_default();
        let message = describe_divergence(&a, &b, &names, first.trace_hash(), second.trace_hash());
        let (time, step) = divergence_point(&a, &b);
        Ok(Failure {
            seed,
            time,
            step,
            node: None,
            task: None,
            cause: Cause::Nondeterminism { message },
            last_events: Vec::new(),
            trace_hash: first.trace_hash(),
            replay: format!("SEEDSIM_SEED={seed} {}", self.replay_line()),
            faults: sim_a.fault_plan().clone(),
            coverage: Default::default(),
            feedback: Default::default(),
            files: Vec::new(),
        })
    }

    /// The test's name: given, or the test thread's (`cargo test` names it after the test).
    fn test_name(&self) -> Option<String> {
        self.name.clone().or_else(|| std::thread::current().name().filter(|name| *name != "main").map(str::to_owned))
    }

    fn replay_line(&self) -> String {
        if let Some(command) = &self.replay_command {
            return command.clone();
        }
        let name = self.test_name();
        let package = std::env::var("CARGO_PKG_NAME").ok().map(|p| format!(" -p {p}")).unwrap_or_default();
        // An `#[ignore]`d test runs only when asked for with `--ignored` or
        // `--include-ignored` (nextest passes `--ignored` too), and its replay line must ask
        // again, or it replays nothing and passes.
        let ignored = std::env::args().any(|arg| arg == "--ignored" || arg == "--include-ignored");
        let nextest = std::env::var_os("NEXTEST").is_some();
        test_command(&package, name.as_deref(), ignored, nextest)
    }
}

/// A watchdog limit as `SEEDSIM_WATCHDOG` and `--watchdog` take it: seconds (`10`, `0.5`), or a
/// duration with its unit (`200ms`, `1m`); `0` is off.
pub(crate) fn parse_watchdog(text: &str) -> Option<Duration> {
    let text = text.trim();
    if text.ends_with(|c: char| c.is_ascii_digit()) {
        crate::fault::parse_duration(&format!("{text}s"))
    } else {
        crate::fault::parse_duration(text)
    }
}

/// The command that runs one test again: `cargo test`'s form, or nextest's when the test runs
/// under nextest.
fn test_command(package: &str, name: Option<&str>, ignored: bool, nextest: bool) -> String {
    match (name, nextest) {
        (Some(name), false) => {
            let ignored = if ignored { " --include-ignored" } else { "" };
            format!("cargo test{package} {name} -- --exact{ignored}")
        }
        (Some(name), true) => {
            let ignored = if ignored { " --run-ignored all" } else { "" };
            format!("cargo nextest run{package}{ignored} -E 'test(={name})'")
        }
        (None, false) => format!("cargo test{package}"),
        (None, true) => format!("cargo nextest run{package}"),
    }
}

/// Where two traces of one seed part: the time of the first differing event (run 1's, or run
/// 2's where run 1's trace ended first), and the polls both runs made before it, which is
/// the step the run had reached. Traces that do not differ give the end of run 1.
fn divergence_point(a: &[Event], b: &[Event]) -> (Instant, u64) {
    let index = first_difference(a, b).unwrap_or(a.len());
    let polls = a[..index.min(a.len())].iter().filter(|event| matches!(event.kind, EventKind::Poll { .. })).count();
    let at = a.get(index).or_else(|| b.get(index)).or_else(|| a.last()).map_or(Instant::ZERO, |event| event.at);
    (at, polls as u64)
}

/// Explain where two traces of one seed part, with a few events of context from each.
fn describe_divergence(a: &[Event], b: &[Event], names: &[String], hash_a: u64, hash_b: u64) -> String {
    let mut message = format!(
        "the same seed ran twice gave trace hashes 0x{hash_a:016x} and 0x{hash_b:016x}: something in the \
         scenario or the node code is not driven by the seed (the host clock, OS randomness, HashMap \
         iteration order, threads, or state left over from an earlier run)."
    );
    match first_difference(a, b) {
        None => message.push_str(" The recorded traces are equal; the difference is in a later run's setup."),
        Some(index) => {
            message.push_str(&format!("\n      first difference at event {index}:"));
            let from = index.saturating_sub(3);
            for (label, trace) in [("run 1", a), ("run 2", b)] {
                message.push_str(&format!("\n      {label}:"));
                for (i, event) in trace.iter().enumerate().skip(from).take(index - from + 1) {
                    let marker = if i == index { ">" } else { " " };
                    message.push_str(&format!("\n      {marker} {i:>8} {}", event.describe(names)));
                }
                if trace.len() <= index {
                    message.push_str(&format!("\n      > {index:>8} (trace ends)"));
                }
            }
        }
    }
    message
}

#[cfg(test)]
mod tests {
    use super::test_command;

    #[test]
    fn a_replay_line_runs_the_test_again_even_if_ignored_and_under_nextest() {
        assert_eq!(test_command(" -p app", Some("sim::t"), false, false), "cargo test -p app sim::t -- --exact");
        assert_eq!(
            test_command(" -p app", Some("sim::t"), true, false),
            "cargo test -p app sim::t -- --exact --include-ignored"
        );
        assert_eq!(test_command(" -p app", Some("sim::t"), false, true), "cargo nextest run -p app -E 'test(=sim::t)'");
        assert_eq!(
            test_command(" -p app", Some("sim::t"), true, true),
            "cargo nextest run -p app --run-ignored all -E 'test(=sim::t)'"
        );
        assert_eq!(test_command("", None, false, false), "cargo test");
    }
}
