//! `explore`: many seeds on worker threads, sharded, within a budget of seeds or wall time;
//! failures grouped by cause signature, each group with a count and its smallest example.
//!
//! Each seed runs in a fresh world on one worker thread. Seeds are numbered `0, 1, 2, ...`
//! from the start seed (`Seed::nth`); shard `K/N` runs the numbers `K, K+N, K+2N, ...`, so N
//! machines with the same start and budget run disjoint seeds that together cover the range.
//!
//! With `--guided`, the workers share one [`Guide`] behind a lock: it hands each worker its
//! next trial (a fresh seed of the shard, or a mutant of a corpus entry's plan) and takes
//! back the run's feedback. A failing mutant cannot be replayed from its seed alone, so its
//! plan is written to a file (under `plans/` in the `--corpus` folder, else under
//! `target/seedsim-plans/`) that its replay line names.

#![allow(clippy::disallowed_methods, clippy::disallowed_types)] // threads and the host clock schedule and time whole runs

use std::collections::BTreeMap;
use std::io::Write;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use super::cli::{replay_line, replay_seed_plan_line, usage_flag};
use super::corpus::{read_corpus, replay as replay_entry, Entry};
use super::{build, Faults, Scenario, Target};
use crate::check::Coverage;
use crate::fault::FaultPlan;
use crate::guide::{Guide, Trial};
use crate::sim::outcome::{Cause, Failure, Outcome};
use crate::Seed;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Shard {
    pub(crate) index: u64,
    pub(crate) count: u64,
}

pub(crate) struct Plan {
    pub(crate) target: Target,
    pub(crate) scenario: Scenario,
    pub(crate) faults: Faults,
    pub(crate) start: Seed,
    /// Seed numbers `0..seeds` (this shard's share of them), if bounded.
    pub(crate) seeds: Option<u64>,
    pub(crate) duration: Option<Duration>,
    pub(crate) jobs: usize,
    pub(crate) shard: Shard,
    pub(crate) json: Option<PathBuf>,
    pub(crate) progress: bool,
    /// Where failures are kept: replayed before the sweep, the new ones saved after it.
    pub(crate) corpus: Option<PathBuf>,
    /// Run every seed in a process of its own.
    pub(crate) isolate: bool,
    /// Mutate the plans of runs that reached new behaviour, besides fresh seeds.
    pub(crate) guided: bool,
    /// `--watchdog`: the limit of one poll, for every run (else the scenario's builder's).
    pub(crate) watchdog: Option<Duration>,
}

/// Where the plans of failing mutants go when no `--corpus` folder is given.
pub(crate) const PLANS_DEFAULT: &str = "target/seedsim-plans";

enum Report {
    /// A worker has no more seeds to run.
    Exited,
    /// The watchdog found a poll of a worker's run hung: its report, the passes the worker
    /// had not sent yet, and the plan of the guided mutant it ran, if it ran one. The worker
    /// is abandoned.
    Hung(Box<Failure>, u64, Option<FaultPlan>),
    /// This many seeds passed, with their coverage added up: workers send passes in batches,
    /// so the main thread (which shares the cores with them) wakes once per batch, not per seed.
    Passed(u64, Box<Coverage>),
    Failed(Box<Found>, Box<Coverage>),
    Error(String),
}

/// Passes a worker collects before it reports them.
const PASSES_PER_BATCH: u64 = 64;

/// A failure as the sweep keeps it, the same whether the run was in this process or its own.
pub(crate) struct Found {
    seed: Seed,
    step: u64,
    signature: String,
    /// The failure report, as `Display` writes it.
    report: String,
    /// The fault plan, as text.
    faults: String,
    /// The JSON line.
    json: serde_json::Value,
}

impl Found {
    fn new(plan: &Plan, failure: &Failure) -> Found {
        let signature = signature(&failure.cause);
        let json = failure_json(plan.target, plan.scenario.name(), &signature, failure);
        Found {
            seed: failure.seed,
            step: failure.step,
            signature,
            report: failure.to_string(),
            faults: failure.faults.to_string(),
            json,
        }
    }

    /// Read what an isolated child printed: `{"type":"pass"}`, or a failure line with its
    /// report.
    fn from_child(seed: Seed, stdout: &str) -> Result<Option<Found>, String> {
        let line = stdout.lines().last().ok_or("the child printed nothing")?;
        let value: serde_json::Value =
            serde_json::from_str(line).map_err(|err| format!("the child's result: {err}"))?;
        if value["type"] == "pass" {
            return Ok(None);
        }
        let text =
            |field: &str| value[field].as_str().map(str::to_owned).ok_or(format!("the child's result has no {field}"));
        Ok(Some(Found {
            seed,
            step: value["step"].as_u64().ok_or("the child's result has no step")?,
            signature: text("signature")?,
            report: text("report")?,
            faults: text("faults")?,
            json: value,
        }))
    }
}

/// Run one seed, in this process or (with `--isolate`) in a child process of this target.
fn run_seed(plan: &Plan, seed: Seed, replay: &str) -> Report {
    if plan.isolate {
        let exe = match std::env::current_exe() {
            Ok(exe) => exe,
            Err(err) => return Report::Error(format!("--isolate: cannot find this executable: {err}")),
        };
        let mut command = std::process::Command::new(exe);
        command.args([
            "run",
            "--emit-json",
            "--seed",
            &seed.to_string(),
            "--scenario",
            plan.scenario.name(),
            "--faults",
            plan.faults.name(),
        ]);
        if let Faults::Default(usage) = plan.faults {
            command.args(["--usage", &usage_flag(usage)]);
        }
        if let Some(limit) = plan.watchdog {
            command.args(["--watchdog", &format!("{}ns", limit.as_nanos())]);
        }
        let output = command.env_remove("SEEDSIM_SEED").env_remove("SEEDSIM_LOG").output();
        return match output {
            Err(err) => Report::Error(format!("--isolate: cannot run a child process: {err}")),
            Ok(output) if output.status.code() == Some(2) => {
                Report::Error(format!("--isolate: {}", String::from_utf8_lossy(&output.stderr).trim()))
            }
            Ok(output) => match Found::from_child(seed, &String::from_utf8_lossy(&output.stdout)) {
                Err(message) => Report::Error(format!("--isolate: {message}")),
                Ok(None) => Report::Passed(1, Box::default()),
                Ok(Some(found)) => Report::Failed(Box::new(found), Box::default()),
            },
        };
    }
    match build(&plan.scenario, seed, plan.faults, None, replay, false, None) {
        Err(err) => Report::Error(err.to_string()),
        Ok(mut sim) => match watched(plan, &mut sim).run() {
            Outcome::Passed(summary) => Report::Passed(1, Box::new(summary.coverage)),
            Outcome::Failed(failure) => {
                Report::Failed(Box::new(Found::new(plan, &failure)), Box::new(failure.coverage))
            }
        },
    }
}

/// The sim with `--watchdog`'s limit, if one was given.
fn watched<'a>(plan: &Plan, sim: &'a mut crate::Sim) -> &'a mut crate::Sim {
    if let Some(limit) = plan.watchdog {
        sim.set_watchdog(limit);
    }
    sim
}

/// Run one trial of a guided sweep and report its outcome to the guide. A failing mutant's
/// plan is written to a file, and its replay line names it.
fn run_trial(plan: &Plan, guide: &Mutex<Guide>, trial: &Trial, replay: &str) -> Report {
    let mut sim = match build(&plan.scenario, trial.seed, plan.faults, trial.plan.as_ref(), replay, false, None) {
        Ok(sim) => sim,
        Err(err) => return Report::Error(err.to_string()),
    };
    sim.set_feedback(true);
    let outcome = watched(plan, &mut sim).run();
    guide.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).observe(trial, &outcome);
    match outcome {
        Outcome::Passed(summary) => Report::Passed(1, Box::new(summary.coverage)),
        Outcome::Failed(mut failure) => {
            if trial.plan.is_some() {
                match write_plan(plan, &failure) {
                    Ok(path) => {
                        failure.replay = replay_seed_plan_line(plan.target, &plan.scenario, failure.seed, &path)
                    }
                    Err(message) => return Report::Error(message),
                }
            }
            let coverage = std::mem::take(&mut failure.coverage);
            Report::Failed(Box::new(Found::new(plan, &failure)), Box::new(coverage))
        }
    }
}

/// Write a failing mutant's plan where its replay line can name it; returns the path. The
/// name holds the seed and a hash of the plan, so a plan found twice is written once.
fn write_plan(plan: &Plan, failure: &Failure) -> Result<PathBuf, String> {
    let dir = match &plan.corpus {
        Some(corpus) => corpus.join("plans"),
        None => PathBuf::from(PLANS_DEFAULT),
    };
    let text = failure.faults.to_string();
    let hash = text.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
    let path = dir.join(format!("{}-{}-{:08x}.txt", plan.scenario.name(), failure.seed, hash as u32));
    let contents = format!(
        "# seedsim fault plan of a failing mutant (explore --guided)\n# scenario: {}\n# seed: {}\n# cause: {}\n{text}",
        plan.scenario.name(),
        failure.seed,
        signature(&failure.cause).replace('\n', " ")
    );
    std::fs::create_dir_all(&dir)
        .and_then(|()| std::fs::write(&path, contents))
        .map_err(|err| format!("cannot write the plan of a failing mutant to {}: {err}", path.display()))?;
    Ok(path)
}

/// What groups failures: the panic's location, the assertion's or property's name, or the
/// message with its numbers blanked (so one bug is one group whatever the values).
pub(crate) fn signature(cause: &Cause) -> String {
    fn general(text: &str) -> String {
        let mut out = String::new();
        for c in text.chars() {
            if c.is_ascii_digit() {
                if !out.ends_with('#') {
                    out.push('#');
                }
            } else {
                out.push(c);
            }
        }
        // An optional value read back is one bug whether it was there or not: `Get(None)` and
        // `Get(Some(4))` in two reports of one stale read are the same signature.
        let out = out.replace("Some(#)", "#").replace("None", "#");
        out.chars().take(160).collect()
    }
    match cause {
        Cause::Panic { location: Some(location), .. } => format!("panic at {location}"),
        Cause::Panic { message, location: None } => format!("panic: {}", general(message)),
        Cause::ClientError { message } => format!("client error: {}", general(message)),
        Cause::NodeError { message } => format!("node error: {}", general(message)),
        Cause::Assertion { name, location } => format!("assert_always!({name:?}) at {location}"),
        Cause::Invariant { name, .. } => format!("invariant {name:?}"),
        Cause::Liveness { name, .. } => format!("liveness {name:?}"),
        Cause::Deadlock { .. } => "deadlock".to_owned(),
        Cause::TimeLimit { .. } => "time limit".to_owned(),
        Cause::StepLimit { .. } => "step limit".to_owned(),
        Cause::ScheduledLimit { .. } => "scheduled events limit".to_owned(),
        Cause::History { message, .. } => format!("history check: {}", general(message)),
        Cause::Nondeterminism { .. } => "nondeterminism".to_owned(),
        Cause::Hang { spawned_at, .. } => format!("hang in a task spawned at {spawned_at}"),
    }
}

struct Group {
    count: u64,
    smallest: Box<Found>,
}

/// What the sweep's threads share. Workers are not scoped threads: one stuck in a poll that
/// never returns is abandoned, and the sweep ends without joining it.
struct Sweep {
    plan: Plan,
    started: Instant,
    next: AtomicU64,
    stop: AtomicBool,
    replay: String,
    guide: Option<Mutex<Guide>>,
    /// This shard's share of the seed numbers, if bounded.
    shard_seeds: Option<u64>,
}

/// What a worker shares with the watchdog's handler on its thread.
#[derive(Default)]
struct Worker {
    /// Set when the watchdog reported one of its polls as hung: the sweep has counted it
    /// gone, so it reports nothing more.
    abandoned: AtomicBool,
    /// Passes it ran and has not reported yet.
    pending: AtomicU64,
    /// The seed it runs (or ran last), for the report of a panic outside a run.
    seed: AtomicU64,
    /// The plan of the guided mutant it runs, if it runs one: a hang's replay needs it.
    mutant: Mutex<Option<FaultPlan>>,
}

/// Workers abandoned to hung polls after which a sweep stops: each keeps a core busy.
const ABANDONED_MAX: u64 = 16;

fn spawn_worker(sweep: &Arc<Sweep>, sender: &mpsc::Sender<(Seed, Report)>) -> Result<(), String> {
    let (sweep, sender) = (Arc::clone(sweep), sender.clone());
    std::thread::Builder::new()
        .name("seedsim-explore".to_owned())
        .spawn(move || {
            let worker = Arc::new(Worker::default());
            let worked = std::panic::catch_unwind(AssertUnwindSafe(|| work(&sweep, &sender, &worker)));
            if worker.abandoned.load(Ordering::SeqCst) {
                return;
            }
            if worked.is_err() {
                // A panic outside any run (a scenario's setup, say), printed above by the
                // hook. Scoped workers used to take the sweep down with them; a plain thread
                // must say it is gone, or the sweep would wait for it forever.
                let message = "a worker thread panicked (its message is above)".to_owned();
                let _ = sender.send((Seed(worker.seed.load(Ordering::SeqCst)), Report::Error(message)));
            }
            let _ = sender.send((sweep.plan.start, Report::Exited));
        })
        .map(drop)
        .map_err(|err| format!("cannot start a worker thread: {err}"))
}

/// One worker: seeds until the budget, the deadline or a stop (then its thread sends
/// `Exited`); or, if the watchdog finds one of its polls hung, `Hung` (sent by the handler,
/// from the watchdog's thread) and nothing more.
fn work(sweep: &Sweep, sender: &mpsc::Sender<(Seed, Report)>, worker: &Arc<Worker>) {
    {
        let (worker, sender) = (Arc::clone(worker), sender.clone());
        crate::watchdog::on_hang(Arc::new(move |failure: Box<Failure>| {
            if !worker.abandoned.swap(true, Ordering::SeqCst) {
                let pending = worker.pending.swap(0, Ordering::SeqCst);
                let mutant = worker.mutant.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).take();
                let _ = sender.send((failure.seed, Report::Hung(failure, pending, mutant)));
            }
        }));
    }
    let plan = &sweep.plan;
    let (mut passes, mut seen, mut last) = (0u64, Box::<Coverage>::default(), plan.start);
    loop {
        if sweep.stop.load(Ordering::Relaxed) || plan.duration.is_some_and(|d| sweep.started.elapsed() >= d) {
            break;
        }
        let number = sweep.next.fetch_add(1, Ordering::Relaxed);
        if sweep.shard_seeds.is_some_and(|n| number >= n) {
            break;
        }
        let (seed, report) = match &sweep.guide {
            Some(guide) => {
                let trial = guide.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).next();
                *worker.mutant.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = trial.plan.clone();
                worker.seed.store(trial.seed.0, Ordering::SeqCst);
                (trial.seed, run_trial(plan, guide, &trial, &sweep.replay))
            }
            None => {
                let seed = plan.start.nth(plan.shard.index + number * plan.shard.count);
                worker.seed.store(seed.0, Ordering::Relaxed);
                (seed, run_seed(plan, seed, &sweep.replay))
            }
        };
        if worker.abandoned.load(Ordering::SeqCst) {
            // A poll the watchdog reported as hung returned after all: its seed is counted
            // as hung, and a replacement worker has taken this one's place.
            return;
        }
        let sent = match report {
            Report::Passed(count, coverage) => {
                (passes, last) = (passes + count, seed);
                worker.pending.store(passes, Ordering::SeqCst);
                if !coverage.assertions.is_empty() || !coverage.buggify.is_empty() {
                    seen.absorb(&coverage);
                }
                if passes < PASSES_PER_BATCH {
                    continue;
                }
                worker.pending.store(0, Ordering::SeqCst);
                let batch = Report::Passed(std::mem::take(&mut passes), std::mem::take(&mut seen));
                sender.send((seed, batch))
            }
            report => sender.send((seed, report)),
        };
        if sent.is_err() {
            break;
        }
    }
    if passes > 0 {
        let _ = sender.send((last, Report::Passed(passes, seen)));
    }
}

/// A hang as the sweep keeps it. The watchdog could not read the run's fault plan (it lives
/// in the stuck thread's world): it is the guided mutant's, written to a file its replay line
/// names as for any failing mutant, or else drawn again for the seed. A failure's plan is
/// printed and kept in the corpus.
fn hang_found(plan: &Plan, mut failure: Box<Failure>, mutant: Option<FaultPlan>) -> Result<Box<Found>, String> {
    match mutant {
        Some(mutant) => {
            failure.faults = mutant;
            let path = write_plan(plan, &failure)?;
            failure.replay = replay_seed_plan_line(plan.target, &plan.scenario, failure.seed, &path);
        }
        None => {
            if let Ok(sim) = build(&plan.scenario, failure.seed, plan.faults, None, "", false, None) {
                failure.faults = sim.fault_plan().clone();
            }
        }
    }
    Ok(Box::new(Found::new(plan, &failure)))
}

pub(crate) fn explore(plan: Plan) -> ExitCode {
    let started = Instant::now();
    let replay = replay_line(plan.target, &plan.scenario, plan.faults);
    let mut json = match &plan.json {
        None => None,
        Some(path) => match std::fs::File::create(path) {
            Ok(file) => Some(std::io::BufWriter::new(file)),
            Err(err) => {
                eprintln!("{}: --json {}: {err}", plan.target, path.display());
                return ExitCode::from(2);
            }
        },
    };
    let shard_seeds = plan.seeds.map(|n| n.saturating_sub(plan.shard.index).div_ceil(plan.shard.count));
    let bar = if plan.progress {
        match shard_seeds {
            Some(n) => indicatif::ProgressBar::new(n),
            None => indicatif::ProgressBar::new_spinner(),
        }
    } else {
        indicatif::ProgressBar::hidden()
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template("{elapsed_precise} {wide_bar} {pos} seeds ({per_sec}) {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let (mut passed, mut failed) = (0u64, 0u64);
    let mut groups: BTreeMap<String, Group> = BTreeMap::new();
    let mut coverage = Coverage::default();
    let (known, regressions) = match corpus_first(&plan) {
        Ok(replayed) => replayed,
        Err(message) => {
            eprintln!("{}: {message}", plan.target);
            return ExitCode::from(2);
        }
    };
    let mut error = None;
    let guide = plan.guided.then(|| Mutex::new(Guide::new(plan.start).shard(plan.shard.index, plan.shard.count)));
    let sweep = Arc::new(Sweep {
        plan,
        started,
        next: AtomicU64::new(0),
        stop: AtomicBool::new(false),
        replay,
        guide,
        shard_seeds,
    });
    let plan = &sweep.plan;
    let guided_status = || {
        sweep.guide.as_ref().map(|guide| {
            let stats = guide.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).stats();
            format!(", {} features, corpus {}", stats.features, stats.corpus)
        })
    };
    let (sender, receiver) = mpsc::channel::<(Seed, Report)>();
    let mut live = 0usize;
    for _ in 0..plan.jobs {
        match spawn_worker(&sweep, &sender) {
            Ok(()) => live += 1,
            Err(message) => {
                error.get_or_insert(message);
                sweep.stop.store(true, Ordering::Relaxed);
                break;
            }
        }
    }
    let mut abandoned = 0u64;
    let mut record = |found: Box<Found>, failed: &mut u64, groups: &mut BTreeMap<String, Group>| {
        *failed += 1;
        if let Some(out) = &mut json {
            let mut line = found.json.clone();
            if let Some(fields) = line.as_object_mut() {
                fields.remove("report");
            }
            let _ = writeln!(out, "{line}");
        }
        match groups.get_mut(&found.signature) {
            Some(group) => {
                group.count += 1;
                if (found.step, found.seed) < (group.smallest.step, group.smallest.seed) {
                    group.smallest = found;
                }
            }
            None => drop(groups.insert(found.signature.clone(), Group { count: 1, smallest: found })),
        }
    };
    // Not until every sender is gone: an abandoned worker keeps its sender, so count them.
    while live > 0 {
        let Ok((seed, report)) = receiver.recv() else { break };
        match report {
            Report::Exited => live -= 1,
            Report::Passed(count, seen) => {
                bar.inc(count);
                passed += count;
                if !seen.assertions.is_empty() || !seen.buggify.is_empty() {
                    let before = coverage.never_held().len();
                    coverage.absorb(&seen);
                    if coverage.never_held().len() != before && sweep.guide.is_none() {
                        bar.set_message(status(failed, groups.len(), &coverage));
                    }
                }
                if let Some(guided) = guided_status() {
                    bar.set_message(status(failed, groups.len(), &coverage) + &guided);
                }
            }
            Report::Error(message) => {
                bar.inc(1);
                error.get_or_insert(format!("seed {seed}: {message}"));
                sweep.stop.store(true, Ordering::Relaxed);
            }
            Report::Failed(found, seen) => {
                bar.inc(1);
                coverage.absorb(&seen);
                record(found, &mut failed, &mut groups);
                bar.set_message(status(failed, groups.len(), &coverage) + &guided_status().unwrap_or_default());
            }
            Report::Hung(failure, pending, mutant) => {
                live -= 1;
                abandoned += 1;
                bar.inc(pending + 1);
                passed += pending;
                match hang_found(plan, failure, mutant) {
                    Ok(found) => record(found, &mut failed, &mut groups),
                    Err(message) => {
                        error.get_or_insert(format!("seed {seed}: {message}"));
                        sweep.stop.store(true, Ordering::Relaxed);
                    }
                }
                bar.set_message(status(failed, groups.len(), &coverage) + &guided_status().unwrap_or_default());
                if abandoned == 1 {
                    bar.suspend(|| {
                        eprintln!(
                            "{}: warning: seed {seed} hung in a poll (the watchdog's report is at the end); its worker \
                             thread cannot be stopped and keeps a core busy until the sweep ends. With --isolate \
                             every seed runs in a process of its own, which a hang ends.",
                            plan.target
                        )
                    });
                }
                if abandoned >= ABANDONED_MAX {
                    bar.suspend(|| {
                        eprintln!(
                            "{}: {abandoned} worker threads hung: stopping the sweep (rerun with --isolate)",
                            plan.target
                        )
                    });
                    sweep.stop.store(true, Ordering::Relaxed);
                } else if !sweep.stop.load(Ordering::Relaxed) {
                    match spawn_worker(&sweep, &sender) {
                        Ok(()) => live += 1,
                        Err(message) => {
                            error.get_or_insert(message);
                            sweep.stop.store(true, Ordering::Relaxed);
                        }
                    }
                }
            }
        }
    }
    bar.finish_and_clear();
    if let Some(message) = error {
        eprintln!("{}: {message}", plan.target);
        return ExitCode::from(2);
    }
    let seconds = started.elapsed().as_secs_f64();
    let total = passed + failed;
    say!(
        "{}: {total} seeds of {} ({} faults{}) in {seconds:.1} s ({:.0} seeds/s): {failed} failed, {} distinct failure(s)",
        plan.target,
        plan.scenario.name(),
        plan.faults.name(),
        if plan.guided { ", guided" } else { "" },
        total as f64 / seconds.max(1e-9),
        groups.len()
    );
    // Locked, not taken: an abandoned worker may still hold the sweep.
    let guided = sweep.guide.as_ref().map(|guide| guide.lock().unwrap_or_else(|poisoned| poisoned.into_inner()));
    // Coverage growth: the guide's checkpoints, and where the sweep ended.
    let growth = guided.as_ref().map(|guide| {
        let mut growth = guide.growth().to_vec();
        let end = (guide.stats().trials, guide.stats().features);
        if growth.last() != Some(&end) {
            growth.push(end);
        }
        growth
    });
    if let (Some(guide), Some(growth)) = (&guided, &growth) {
        let stats = guide.stats();
        let growth: Vec<String> = growth.iter().map(|(runs, features)| format!("{runs}: {features}")).collect();
        say!(
            "guided: {} features in {} runs ({} fresh, {} mutants); corpus {} entries; features by runs: {}",
            stats.features,
            stats.trials,
            stats.fresh,
            stats.mutants,
            stats.corpus,
            growth.join(", ")
        );
    }
    for (signature, group) in &groups {
        say!(
            "\n{} run(s) failed with: {signature}\nthe smallest (fewest steps):\n{}",
            group.count,
            group.smallest.report
        );
    }
    for assertion in coverage.never_held() {
        say!("\nassert_sometimes!({:?}) at {} never held in {total} seeds", assertion.name, assertion.location);
    }
    if let Some(dir) = &plan.corpus {
        for (signature, group) in groups.iter().filter(|(signature, _)| !known.contains(*signature)) {
            match Entry::write(dir, plan.scenario.name(), signature, group.smallest.seed, &group.smallest.faults) {
                Ok(path) => say!("saved to the corpus: {}", path.display()),
                Err(err) => {
                    eprintln!("{}: --corpus {}: {err}", plan.target, dir.display());
                    return ExitCode::from(2);
                }
            }
        }
    }
    if let Some(out) = &mut json {
        let summary = serde_json::json!({
            "type": "summary",
            "target": plan.target.bin(),
            "scenario": plan.scenario.name(),
            "faults": plan.faults.name(),
            "start": plan.start.to_string(),
            "shard": format!("{}/{}", plan.shard.index, plan.shard.count),
            "seeds": total,
            "passed": passed,
            "failed": failed,
            "distinct": groups.len(),
            "never_held": coverage.never_held().iter().map(|a| a.name.clone()).collect::<Vec<_>>(),
            "corpus_regressions": regressions,
            "guided": guided.as_ref().map(|guide| {
                let stats = guide.stats();
                serde_json::json!({
                    "features": stats.features,
                    "corpus": stats.corpus,
                    "fresh": stats.fresh,
                    "mutants": stats.mutants,
                    "coverage": growth,
                })
            }),
            "seconds": seconds,
            "build": build_identity(),
        });
        if writeln!(out, "{summary}").and_then(|()| out.flush()).is_err() {
            eprintln!("{}: could not write the JSON results", plan.target);
            return ExitCode::from(2);
        }
    }
    if failed > 0 || regressions > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn status(failed: u64, distinct: usize, coverage: &Coverage) -> String {
    format!("{failed} failures, {distinct} distinct, {} sometimes never held", coverage.never_held().len())
}

/// Replay the corpus entries of this scenario before the sweep. Returns the signatures the
/// corpus already holds and how many entries fail again.
fn corpus_first(plan: &Plan) -> Result<(Vec<String>, u64), String> {
    let Some(dir) = &plan.corpus else { return Ok((Vec::new(), 0)) };
    let entries = read_corpus(dir).map_err(|err| format!("--corpus {}: {err}", dir.display()))?;
    let scenarios = [plan.scenario];
    let mut failing = 0;
    let mut known = Vec::new();
    for entry in entries.iter().filter(|e| e.scenario == plan.scenario.name()) {
        known.push(entry.cause.clone());
        let line =
            format!("{} replay --scenario {} --plan {}", plan.target.command(), entry.scenario, entry.path.display());
        match replay_entry(entry, &scenarios, &line).map_err(|err| err.to_string())? {
            Outcome::Passed(_) => say!("corpus: {} passes now", entry.path.display()),
            Outcome::Failed(failure) => {
                failing += 1;
                say!("corpus: {} fails again:\n{failure}", entry.path.display());
            }
        }
    }
    Ok((known, failing))
}

fn build_identity() -> String {
    let exe = std::env::current_exe().ok().and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()));
    format!("seedsim {} {}", env!("CARGO_PKG_VERSION"), exe.unwrap_or_default())
}

pub(crate) fn failure_json(target: Target, scenario: &str, signature: &str, failure: &Failure) -> serde_json::Value {
    serde_json::json!({
        "type": "failure",
        "target": target.bin(),
        "scenario": scenario,
        "seed": failure.seed.to_string(),
        "signature": signature,
        "cause": failure.cause.to_string(),
        "time": failure.time.to_string(),
        "step": failure.step,
        "node": failure.node,
        "faults": failure.faults.to_string(),
        "trace_hash": format!("0x{:016x}", failure.trace_hash),
        "replay": failure.replay,
        "build": build_identity(),
    })
}

#[cfg(test)]
mod tests {
    use super::signature;
    use crate::sim::outcome::Cause;

    #[test]
    fn one_bug_with_other_values_is_one_signature() {
        let error = |message: &str| signature(&Cause::ClientError { message: message.to_owned() });
        assert_eq!(error("op 3: Get(k1) -> Get(None)"), error("op 17: Get(k2) -> Get(Some(42))"));
        assert_eq!(error("read 7 but 9 was written"), "client error: read # but # was written");
        assert_ne!(error("read 7 but 9 was written"), error("lost write 9"));
    }
}
