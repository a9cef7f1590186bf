//! The command line: raw flags (clap) first, then a validated command, then running it.
//! Bad seeds, ranges, shards and files get an error that names the flag and the form.

use std::ffi::OsString;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{value_parser, Arg, ArgAction, ArgMatches, Command as Clap};

use super::sweep::{self, Shard};
use super::{build, Faults, Scenario, Target};
use crate::fault::{FaultPlan, Usage};
use crate::sim::outcome::Outcome;
use crate::trace::first_difference;
use crate::Seed;

pub(crate) enum Command {
    Run {
        scenario: Scenario,
        seed: Seed,
        faults: Faults,
        plan: Option<(PathBuf, FaultPlan)>,
        log: Option<String>,
        trace: Option<PathBuf>,
        html: Option<PathBuf>,
        /// Print one JSON line (for `explore --isolate`'s children) instead of a report.
        emit_json: bool,
        watchdog: Option<Duration>,
    },
    Shrink {
        scenario: Scenario,
        seed: Seed,
        faults: Faults,
        plan: Option<(PathBuf, FaultPlan)>,
        out: Option<PathBuf>,
    },
    Merge {
        files: Vec<PathBuf>,
    },
    Explore(sweep::Plan),
    CheckDeterminism {
        scenario: Scenario,
        start: Seed,
        seeds: u64,
        faults: Faults,
    },
}

fn scenario_arg() -> Arg {
    Arg::new("scenario").long("scenario").value_name("NAME").help("which scenario (default: the first)")
}

fn faults_arg() -> Arg {
    Arg::new("faults").long("faults").default_value("default").help(
        "faults for every run: swarm profiles over every fault kind the scenario can feel (default), \
             none (calm), the chaos nemesis (chaos), swarm profiles over chaos (swarm), or one of the \
             scenario's own profiles by name (Scenario::faults)",
    )
}

fn size_arg() -> Arg {
    Arg::new("size")
        .long("size")
        .value_name("NAME=VALUE,…")
        .help("run the scenario at these sizes (from its Scenario::sized declaration)")
}

fn plan_arg() -> Arg {
    Arg::new("plan")
        .long("plan")
        .value_name("FILE")
        .value_parser(value_parser!(PathBuf))
        .help("a fault plan file (text form, or a corpus entry) to run instead of the nemesis")
}

fn watchdog_arg() -> Arg {
    Arg::new("watchdog").long("watchdog").value_name("SECONDS").help(
        "report a poll that runs longer than this on the host as a hang (default 10; 0 turns it off; \
         also 200ms, 1m)",
    )
}

fn seed_arg(required: bool) -> Arg {
    Arg::new("seed")
        .long("seed")
        .value_name("SEED")
        .required(required)
        .help("the seed: decimal or 0x and up to 16 hex digits (or SEEDSIM_SEED)")
}

fn clap(target: Target) -> Clap {
    Clap::new(target.bin())
        .about("A seedsim simulation target: run, replay and explore seeds of its scenarios")
        .subcommand_required(true)
        .subcommand(
            Clap::new("run")
                .about("Run one seed and print its report")
                .arg(seed_arg(false))
                .arg(scenario_arg())
                .arg(faults_arg())
                .arg(plan_arg())
                .arg(size_arg())
                .arg(watchdog_arg())
                .arg(Arg::new("emit-json").long("emit-json").action(ArgAction::SetTrue).hide(true))
                // What `explore --isolate` learned of the scenario, so a child does not probe
                // it again in its own process (where the probe's runs would be its "earlier" runs).
                .arg(Arg::new("usage").long("usage").value_name("KINDS").hide(true))
                .arg(
                    Arg::new("log").long("log").value_name("FILTER").help("a tracing filter, e.g. info,seedsim=debug"),
                ),
        )
        .subcommand(
            Clap::new("replay")
                .about("Run one seed again, bit for bit, and optionally write its whole trace")
                .arg(seed_arg(false))
                .arg(scenario_arg())
                .arg(faults_arg())
                .arg(plan_arg())
                .arg(size_arg())
                .arg(watchdog_arg())
                .arg(Arg::new("log").long("log").value_name("FILTER").help("a tracing filter"))
                .arg(
                    Arg::new("trace")
                        .long("trace")
                        .value_name("FILE")
                        .value_parser(value_parser!(PathBuf))
                        .help("write every event, one a line"),
                )
                .arg(
                    Arg::new("html")
                        .long("html")
                        .value_name("FILE")
                        .value_parser(value_parser!(PathBuf))
                        .help("write the run's timeline: one self-contained HTML page"),
                ),
        )
        .subcommand(
            Clap::new("explore")
                .about("Run many seeds on all cores; group failures by cause")
                .arg(scenario_arg())
                .arg(faults_arg())
                .arg(
                    Arg::new("seeds")
                        .long("seeds")
                        .value_name("N")
                        .value_parser(value_parser!(u64).range(1..))
                        .help("how many seeds (default 10000 without --duration)"),
                )
                .arg(
                    Arg::new("duration")
                        .long("duration")
                        .value_name("DURATION")
                        .help("stop after this long, e.g. 90s, 30m, 8h"),
                )
                .arg(
                    Arg::new("start")
                        .long("start")
                        .value_name("SEED")
                        .help("the first seed of the range (default seedsim's fixed base), or `random`"),
                )
                .arg(
                    Arg::new("jobs")
                        .long("jobs")
                        .value_name("N")
                        .value_parser(value_parser!(u16).range(1..=1024))
                        .help("worker threads (default: all cores)"),
                )
                .arg(
                    Arg::new("shard")
                        .long("shard")
                        .value_name("K/N")
                        .help("run only the seeds of shard K of N (0 <= K < N)"),
                )
                .arg(
                    Arg::new("json")
                        .long("json")
                        .value_name("FILE")
                        .value_parser(value_parser!(PathBuf))
                        .help("write one JSON line per failure and a summary line"),
                )
                .arg(Arg::new("quiet").long("quiet").action(ArgAction::SetTrue).help("no progress bar"))
                .arg(watchdog_arg())
                .arg(
                    Arg::new("guided").long("guided").action(ArgAction::SetTrue).help(
                        "keep the runs that reached new behaviour and mutate their fault plans, besides fresh seeds",
                    ),
                )
                .arg(Arg::new("isolate").long("isolate").action(ArgAction::SetTrue).help(
                    "run every seed in a process of its own, so state left over in one run cannot touch the next",
                ))
                .arg(
                    Arg::new("corpus")
                        .long("corpus")
                        .value_name("DIR")
                        .value_parser(value_parser!(PathBuf))
                        .help("replay the failures kept here first, and keep the new ones"),
                ),
        )
        .subcommand(
            Clap::new("shrink")
                .about("Cut a failing seed's fault plan and sizes to the fewest that still fail the same way")
                .arg(seed_arg(false))
                .arg(scenario_arg())
                .arg(faults_arg())
                .arg(plan_arg())
                .arg(size_arg())
                .arg(
                    Arg::new("out")
                        .long("out")
                        .value_name("FILE")
                        .value_parser(value_parser!(PathBuf))
                        .help("write the shrunk plan here"),
                ),
        )
        .subcommand(Clap::new("merge").about("One report from the JSON results of many shards").arg(
            Arg::new("files").value_name("FILE").required(true).num_args(1..).value_parser(value_parser!(PathBuf)),
        ))
        .subcommand(
            Clap::new("check-determinism")
                .about("Run each seed twice and compare; name the first event where two runs differ")
                .arg(scenario_arg())
                .arg(faults_arg())
                .arg(
                    Arg::new("seeds")
                        .long("seeds")
                        .value_name("N")
                        .value_parser(value_parser!(u64).range(1..=1_000_000))
                        .default_value("100"),
                )
                .arg(
                    Arg::new("start")
                        .long("start")
                        .value_name("SEED")
                        .help("the first seed (default seedsim's fixed base)"),
                ),
        )
}

fn fail(target: Target, message: impl std::fmt::Display) -> ExitCode {
    eprintln!("{target}: {message}");
    ExitCode::from(2)
}

fn seed_of(target: Target, text: &str, flag: &str) -> Result<Seed, ExitCode> {
    text.parse::<Seed>().map_err(|err| fail(target, format!("{flag}: {err}")))
}

fn faults_of(target: Target, scenario: &Scenario, matches: &ArgMatches) -> Result<Faults, ExitCode> {
    let name = matches.get_one::<String>("faults").map_or("default", String::as_str);
    if let (Some(text), "default") = (matches.try_get_one::<String>("usage").ok().flatten(), name) {
        return usage_from_flag(text)
            .map(Faults::Default)
            .ok_or_else(|| fail(target, format!("--usage {text:?}: expected none or disk,datagrams")));
    }
    Faults::named(name, scenario).map_err(|err| match err.kind() {
        crate::ErrorKind::UnknownFaults { .. } => fail(target, format!("--faults: {err}")),
        _ => fail(target, format!("--faults {name}: setting up {} to probe it: {err}", scenario.name())),
    })
}

/// The hidden `--usage` flag's text: `none`, or some of `disk,datagrams`.
pub(crate) fn usage_flag(usage: Usage) -> String {
    let names: Vec<&str> = [(usage.disk, "disk"), (usage.datagrams, "datagrams")]
        .into_iter()
        .filter_map(|(used, name)| used.then_some(name))
        .collect();
    if names.is_empty() {
        "none".to_owned()
    } else {
        names.join(",")
    }
}

fn usage_from_flag(text: &str) -> Option<Usage> {
    let mut usage = Usage::default();
    if text == "none" {
        return Some(usage);
    }
    for name in text.split(',') {
        match name {
            "disk" => usage.disk = true,
            "datagrams" => usage.datagrams = true,
            _ => return None,
        }
    }
    Some(usage)
}

fn scenario_of(target: Target, scenarios: &[Scenario], matches: &ArgMatches) -> Result<Scenario, ExitCode> {
    let Some(first) = scenarios.first() else { return Err(fail(target, "this target names no scenario")) };
    match matches.get_one::<String>("scenario") {
        None => Ok(*first),
        Some(name) => scenarios.iter().find(|s| s.name == name.as_str()).copied().ok_or_else(|| {
            let names: Vec<&str> = scenarios.iter().map(|s| s.name).collect();
            fail(target, format!("--scenario {name:?}: unknown; this target has {}", names.join(", ")))
        }),
    }
}

pub(crate) fn parse<I, T>(target: Target, scenarios: &[Scenario], args: I) -> Result<Command, ExitCode>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let matches = clap(target).try_get_matches_from(args).map_err(|err| {
        let _ = err.print();
        ExitCode::from(if err.use_stderr() { 2 } else { 0 })
    })?;
    let (name, sub) = matches.subcommand().expect("a subcommand is required");
    if name == "merge" {
        return Ok(Command::Merge { files: sub.get_many::<PathBuf>("files").expect("required").cloned().collect() });
    }
    let mut scenario = scenario_of(target, scenarios, sub)?;
    if let Some(text) = sub.try_get_one::<String>("size").ok().flatten() {
        let sizes = scenario.sizes().parse_into(text).map_err(|err| fail(target, format!("--size: {err}")))?;
        scenario = scenario.at(sizes);
    }
    let plan = match sub.try_get_one::<PathBuf>("plan").ok().flatten() {
        None => None,
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|err| fail(target, format!("--plan {}: {err}", path.display())))?;
            let plan = if text.starts_with("# seedsim corpus entry") {
                super::corpus::Entry::read(path).map(|entry| entry.plan)
            } else {
                text.parse::<FaultPlan>()
            };
            let plan = plan.map_err(|err| fail(target, format!("--plan {}: {err}", path.display())))?;
            Some((path.clone(), plan))
        }
    };
    let faults = faults_of(target, &scenario, sub)?;
    let watchdog = match sub.try_get_one::<String>("watchdog").ok().flatten() {
        None => None,
        Some(text) => Some(crate::runner::parse_watchdog(text).ok_or_else(|| {
            fail(
                target,
                format!("--watchdog {text:?}: expected the seconds one poll may run, e.g. 10, 0.5 or 200ms (0: off)"),
            )
        })?),
    };
    let start = |default: Seed| match sub.get_one::<String>("start").map(String::as_str) {
        None => Ok(default),
        Some("random") => Ok(random_seed()),
        Some(text) => seed_of(target, text, "--start"),
    };
    match name {
        "run" | "replay" | "shrink" => {
            let (text, source) = match sub.get_one::<String>("seed") {
                Some(text) => (text.clone(), "--seed"),
                None => match std::env::var("SEEDSIM_SEED") {
                    Ok(text) if !text.trim().is_empty() => (text, "SEEDSIM_SEED"),
                    Err(std::env::VarError::NotUnicode(text)) => {
                        return Err(fail(
                            target,
                            format!("SEEDSIM_SEED={text:?}: not UTF-8; expected a seed such as 0x2a"),
                        ))
                    }
                    _ => return Err(fail(target, "a seed is needed: --seed 0x… (or SEEDSIM_SEED=0x…)")),
                },
            };
            let seed = seed_of(target, &text, source)?;
            if name == "shrink" {
                let out = sub.get_one::<PathBuf>("out").cloned();
                return Ok(Command::Shrink { scenario, seed, faults, plan, out });
            }
            let log = sub.get_one::<String>("log").cloned().or_else(|| std::env::var("SEEDSIM_LOG").ok());
            let trace = if name == "replay" { sub.get_one::<PathBuf>("trace").cloned() } else { None };
            let emit_json = sub.try_get_one::<bool>("emit-json").ok().flatten().copied().unwrap_or(false);
            let html = if name == "replay" { sub.get_one::<PathBuf>("html").cloned() } else { None };
            Ok(Command::Run { scenario, seed, faults, plan, log, trace, html, emit_json, watchdog })
        }
        "explore" => {
            let duration = match sub.get_one::<String>("duration") {
                None => None,
                Some(text) => Some(crate::fault::parse_duration(text).filter(|d| !d.is_zero()).ok_or_else(|| {
                    fail(target, format!("--duration {text:?}: expected a duration such as 90s, 30m or 8h"))
                })?),
            };
            let seeds = sub.get_one::<u64>("seeds").copied().or(if duration.is_some() { None } else { Some(10_000) });
            let shard = match sub.get_one::<String>("shard") {
                None => Shard { index: 0, count: 1 },
                Some(text) => parse_shard(text).ok_or_else(|| {
                    fail(target, format!("--shard {text:?}: expected K/N with 0 <= K < N, e.g. 3/16"))
                })?,
            };
            if sub.get_flag("guided") && sub.get_flag("isolate") {
                return Err(fail(
                    target,
                    "--guided and --isolate: choose one (a guided run needs its feedback, which an isolated child does not send)",
                ));
            }
            let jobs = sub
                .get_one::<u16>("jobs")
                .map(|&jobs| usize::from(jobs))
                .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
            Ok(Command::Explore(sweep::Plan {
                target,
                scenario,
                faults,
                start: start(crate::DEFAULT_BASE_SEED)?,
                seeds,
                duration,
                jobs,
                shard,
                json: sub.get_one::<PathBuf>("json").cloned(),
                corpus: sub.get_one::<PathBuf>("corpus").cloned(),
                progress: !sub.get_flag("quiet"),
                isolate: sub.get_flag("isolate"),
                guided: sub.get_flag("guided"),
                watchdog,
            }))
        }
        "check-determinism" => Ok(Command::CheckDeterminism {
            scenario,
            start: start(crate::DEFAULT_BASE_SEED)?,
            seeds: *sub.get_one::<u64>("seeds").expect("has a default"),
            faults,
        }),
        _ => unreachable!("clap knows the subcommands"),
    }
}

fn parse_shard(text: &str) -> Option<Shard> {
    let (index, count) = text.split_once('/')?;
    let (index, count) = (index.trim().parse::<u64>().ok()?, count.trim().parse::<u64>().ok()?);
    (count >= 1 && index < count).then_some(Shard { index, count })
}

/// A seed from the host, for `--start random`: exploration outside any run may read the
/// host clock (a run itself never does).
#[allow(clippy::disallowed_methods, clippy::disallowed_types)]
fn random_seed() -> Seed {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
    Seed(crate::seed::splitmix64(nanos ^ u64::from(std::process::id())))
}

/// The command line that replays `seed` of this target with a plan file.
pub(crate) fn replay_seed_plan_line(target: Target, scenario: &Scenario, seed: Seed, plan: &std::path::Path) -> String {
    format!(
        "{} replay --scenario {}{} --seed {seed} --plan {}",
        target.command(),
        scenario.name,
        size_flag(scenario),
        plan.display()
    )
}

/// The command line that replays a seed of this target with a plan file.
fn replay_plan_line(target: Target, scenario: &Scenario, plan: &std::path::Path) -> String {
    format!("{} replay --scenario {}{} --plan {}", target.command(), scenario.name, size_flag(scenario), plan.display())
}

/// The command line that replays a seed of this target.
pub(crate) fn replay_line(target: Target, scenario: &Scenario, faults: Faults) -> String {
    format!(
        "{} replay --scenario {}{} --faults {}",
        target.command(),
        scenario.name,
        size_flag(scenario),
        faults.name()
    )
}

/// ` --size …` when the scenario runs at other than its default sizes.
pub(crate) fn size_flag(scenario: &Scenario) -> String {
    let sizes = scenario.sizes();
    if sizes.are_defaults() {
        String::new()
    } else {
        format!(" --size {sizes}")
    }
}

/// For an `explore --isolate` child: a hang is printed as the failure's JSON line, as the
/// parent reads every result, and ends the process (exit code 1, a failure).
fn emit_hang_as_json(target: Target, scenario: &'static str, faults: FaultPlan) {
    crate::watchdog::on_hang(Arc::new(move |mut failure: Box<crate::Failure>| {
        // The watchdog cannot read the run's plan; it is the one this run was built with.
        failure.faults = faults.clone();
        let signature = super::sweep::signature(&failure.cause);
        let mut line = super::sweep::failure_json(target, scenario, &signature, &failure);
        line["report"] = serde_json::Value::String(failure.to_string());
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{line}").and_then(|()| out.flush());
        std::process::exit(1);
    }));
}

pub(crate) fn execute(target: Target, command: Command) -> ExitCode {
    match command {
        Command::Run { scenario, seed, faults, plan, log, trace, html, emit_json, watchdog } => {
            let replay = match &plan {
                Some((path, _)) => replay_plan_line(target, &scenario, path),
                None => replay_line(target, &scenario, faults),
            };
            let plan = plan.map(|(_, plan)| plan);
            let record = trace.is_some() || html.is_some();
            let built = build(&scenario, seed, faults, plan.as_ref(), &replay, record, log.as_deref());
            let mut sim = match built {
                Ok(sim) => sim,
                Err(err) => return fail(target, err),
            };
            if let Some(limit) = watchdog {
                sim.set_watchdog(limit);
            }
            if emit_json {
                emit_hang_as_json(target, scenario.name(), sim.fault_plan().clone());
            }
            let outcome = sim.run();
            let names = sim.node_names();
            let events = sim.take_trace().unwrap_or_default();
            if let Some(path) = html {
                let timeline = crate::timeline::Timeline::new(names.clone(), events.clone())
                    .title(format!("{target} {}, seed {seed}", scenario.name))
                    .outcome(&outcome);
                if let Err(err) = timeline.write(&path) {
                    return fail(target, format!("--html {}: {err}", path.display()));
                }
            }
            if let Some(path) = trace {
                if let Err(err) = crate::trace::write_text(&path, &events, &names) {
                    return fail(target, format!("--trace {}: {err}", path.display()));
                }
            }
            if emit_json {
                let line = match &outcome {
                    Outcome::Passed(_) => serde_json::json!({ "type": "pass" }),
                    Outcome::Failed(failure) => {
                        let signature = super::sweep::signature(&failure.cause);
                        let mut line = super::sweep::failure_json(target, scenario.name(), &signature, failure);
                        line["report"] = serde_json::Value::String(failure.to_string());
                        line
                    }
                };
                say!("{line}");
                return ExitCode::from(if outcome.is_passed() { 0 } else { 1 });
            }
            match outcome {
                Outcome::Passed(summary) => {
                    say!(
                        "{target}: seed {seed} passed ({}) at {} after {} steps, trace hash 0x{:016x}",
                        scenario.name,
                        summary.time,
                        summary.steps,
                        summary.trace_hash
                    );
                    ExitCode::SUCCESS
                }
                Outcome::Failed(failure) => {
                    say!("{failure}");
                    ExitCode::from(1)
                }
            }
        }
        Command::Explore(plan) => sweep::explore(plan),
        Command::Shrink { scenario, seed, faults, plan, out } => shrink(target, scenario, seed, faults, plan, out),
        Command::Merge { files } => merge(target, &files),
        Command::CheckDeterminism { scenario, start, seeds, faults } => {
            let replay = replay_line(target, &scenario, faults);
            for index in 0..seeds {
                let seed = start.nth(index);
                let mut runs = Vec::new();
                for _ in 0..2 {
                    let mut sim = match build(&scenario, seed, faults, None, &replay, true, None) {
                        Ok(sim) => sim,
                        Err(err) => return fail(target, err),
                    };
                    let outcome = sim.run();
                    runs.push((outcome.trace_hash(), sim.take_trace().unwrap_or_default(), sim.node_names()));
                }
                if runs[0].0 != runs[1].0 {
                    say!(
                        "{target}: seed {seed} is not deterministic: trace hashes 0x{:016x} and 0x{:016x}",
                        runs[0].0,
                        runs[1].0
                    );
                    if let Some(at) = first_difference(&runs[0].1, &runs[1].1) {
                        say!("first difference at event {at}:");
                        for (label, (_, events, names)) in [("run 1", &runs[0]), ("run 2", &runs[1])] {
                            say!("  {label}:");
                            for (i, event) in events.iter().enumerate().skip(at.saturating_sub(3)).take(4) {
                                let marker = if i == at { ">" } else { " " };
                                say!("  {marker} {i:>8} {}", event.describe(names));
                            }
                        }
                    }
                    return ExitCode::from(1);
                }
            }
            say!("{target}: {seeds} seed(s) ran twice with the same trace hash ({})", scenario.name);
            ExitCode::SUCCESS
        }
    }
}

fn shrink(
    target: Target,
    scenario: Scenario,
    seed: Seed,
    faults: Faults,
    plan: Option<(PathBuf, FaultPlan)>,
    out: Option<PathBuf>,
) -> ExitCode {
    let replay = |scenario: &Scenario| match &out {
        Some(path) => replay_plan_line(target, scenario, path),
        None => replay_line(target, scenario, faults),
    };
    let shrunk = match super::shrink::shrink(&scenario, seed, faults, plan.map(|(_, plan)| plan), &replay) {
        Ok(Some(shrunk)) => shrunk,
        Ok(None) => {
            say!("{target}: seed {seed} passes with its plan: nothing to shrink");
            return ExitCode::SUCCESS;
        }
        Err(err) => return fail(target, err),
    };
    if let Some(path) = &out {
        if let Err(err) = std::fs::write(path, shrunk.after.to_string()) {
            return fail(target, format!("--out {}: {err}", path.display()));
        }
    }
    let sizes = if scenario.sizes().declared().is_empty() {
        String::new()
    } else {
        format!(
            ", sizes {} (total {}) to {} (total {})",
            scenario.sizes(),
            scenario.sizes().total(),
            shrunk.scenario.sizes(),
            shrunk.scenario.sizes().total()
        )
    };
    let own = if shrunk.own.is_empty() {
        String::new()
    } else {
        format!(
            "\n(and {} fault(s) the scenario's setup installs itself, in every run: shrink cannot remove those; \
             give them to Scenario::faults as a named profile to have them shrunk)",
            shrunk.own.len()
        )
    };
    say!(
        "{target}: seed {seed} shrank from {} to {} fault(s) ({:?} to {:?} of timed faults{sizes}) in {} run(s), still failing with: {}{own}\nshrunk plan:\n{}\n{}",
        shrunk.before.len(),
        shrunk.after.len(),
        super::shrink::fault_time(&shrunk.before),
        super::shrink::fault_time(&shrunk.after),
        shrunk.runs,
        super::sweep::signature(&shrunk.failure.cause),
        shrunk.after,
        shrunk.failure
    );
    ExitCode::from(1)
}

fn merge(target: Target, files: &[PathBuf]) -> ExitCode {
    let paths: Vec<&std::path::Path> = files.iter().map(PathBuf::as_path).collect();
    let merged = match super::merge::merge(&paths) {
        Ok(merged) => merged,
        Err(message) => return fail(target, message),
    };
    say!(
        "{target}: {} file(s), {} seeds: {} passed, {} failed, {} distinct failure(s)",
        merged.files,
        merged.seeds,
        merged.passed,
        merged.failed,
        merged.groups.len()
    );
    for (signature, (count, smallest)) in &merged.groups {
        let seed = smallest["seed"].as_str().unwrap_or("?");
        let replay = smallest["replay"].as_str().unwrap_or("?");
        // A guided mutant's line names its seed (and plan file) already.
        let seed_flag = if replay.contains(" --seed ") { String::new() } else { format!(" --seed {seed}") };
        say!(
            "\n{count} run(s) failed with: {signature}\nthe smallest: seed {seed} ({} steps)\nreplay: {replay}{seed_flag}",
            smallest["step"],
        );
    }
    if merged.failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
