//! The corpus: failures kept as files, replayed first by every `explore` and by
//! [`check_corpus`] under `cargo test`, so a bug once found stays fixed.
//!
//! An entry is a small text file: the scenario, the seed, the cause it failed with, and the
//! exact fault plan of the run (so it replays the same way even if the nemesis changes):
//!
//! ```text
//! # seedsim corpus entry
//! scenario: kv-buggy
//! seed: 0x9ed45c31c5332d07
//! cause: client error: not linearizable: …
//! plan:
//! 1500ms crash replica1
//! 10s recover
//! ```

use std::path::{Path, PathBuf};

use super::{build, Faults, Scenario};
use crate::error::{Error, ErrorKind};
use crate::fault::FaultPlan;
use crate::sim::outcome::Outcome;
use crate::Seed;

/// One entry of a corpus.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The file it was read from.
    pub path: PathBuf,
    /// The scenario's name.
    pub scenario: String,
    /// The seed.
    pub seed: Seed,
    /// The cause signature it failed with when it was found.
    pub cause: String,
    /// The run's fault plan.
    pub plan: FaultPlan,
}

fn corrupt(path: &Path, line: usize, expected: &'static str) -> Error {
    Error::new(ErrorKind::InvalidCorpusEntry { line, expected }, path.display().to_string())
}

impl Entry {
    /// Read an entry file.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidCorpusEntry`] naming the file and line, for a file that is not an
    /// entry (or cannot be read: line 0).
    pub fn read(path: &Path) -> Result<Entry, Error> {
        let text = std::fs::read_to_string(path).map_err(|_| corrupt(path, 0, "a readable file"))?;
        let mut lines = text.lines().enumerate().filter(|(_, l)| !l.starts_with('#'));
        let mut field = |name: &'static str, expected: &'static str| {
            let (number, line) = lines.next().ok_or_else(|| corrupt(path, 0, expected))?;
            line.strip_prefix(name).map(|v| v.trim().to_owned()).ok_or_else(|| corrupt(path, number + 1, expected))
        };
        let scenario = field("scenario:", "`scenario: NAME`")?;
        let seed_text = field("seed:", "`seed: 0x…`")?;
        let cause = field("cause:", "`cause: …`")?;
        let plan_header = field("plan:", "`plan:` and the fault plan's lines")?;
        let seed = seed_text.parse::<Seed>().map_err(|_| corrupt(path, 0, "`seed:` with a valid seed"))?;
        if !plan_header.is_empty() {
            return Err(corrupt(path, 0, "`plan:` alone on its line"));
        }
        let plan_text: String = lines.map(|(_, l)| format!("{l}\n")).collect();
        let plan = plan_text.parse::<FaultPlan>().map_err(|err| match err.kind() {
            ErrorKind::InvalidFaultPlan { .. } => corrupt(path, 0, "a fault plan after `plan:`"),
            _ => err,
        })?;
        Ok(Entry { path: path.to_owned(), scenario, seed, cause, plan })
    }

    /// Write `failure` of `scenario` as an entry in `dir`; returns its path.
    pub(crate) fn write(
        dir: &Path,
        scenario: &str,
        signature: &str,
        seed: Seed,
        faults: &str,
    ) -> std::io::Result<PathBuf> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join(format!("{scenario}-{seed}.txt"));
        let text = format!(
            "# seedsim corpus entry\nscenario: {scenario}\nseed: {seed}\ncause: {}\nplan:\n{faults}",
            signature.replace('\n', " ")
        );
        std::fs::write(&path, text)?;
        Ok(path)
    }
}

/// The entries of a corpus folder, sorted by file name (an absent folder is an empty corpus).
///
/// # Errors
/// As [`Entry::read`], for the first file that is not an entry; also
/// [`ErrorKind::InvalidCorpusEntry`] when `dir` is not a folder or cannot be read.
pub fn read_corpus(dir: &Path) -> Result<Vec<Entry>, Error> {
    let files = match std::fs::read_dir(dir) {
        Ok(files) => files,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        // A regular file given as the folder: said now, not when the sweep's first finding
        // fails to be saved.
        Err(err) => {
            let expected = "a folder of corpus entries (`--corpus DIR`), not a file";
            let input = if dir.is_file() { dir.display().to_string() } else { format!("{} ({err})", dir.display()) };
            return Err(Error::new(ErrorKind::InvalidCorpusEntry { line: 0, expected }, input));
        }
    };
    let mut paths: Vec<PathBuf> =
        files.filter_map(|f| f.ok().map(|f| f.path())).filter(|p| p.extension().is_some_and(|e| e == "txt")).collect();
    paths.sort();
    paths.iter().map(|path| Entry::read(path)).collect()
}

/// Replay one entry with its own plan; `replay` is the command its report's replay line names.
pub(crate) fn replay(entry: &Entry, scenarios: &[Scenario], replay: &str) -> Result<Outcome, Error> {
    let scenario = scenarios.iter().find(|s| s.name() == entry.scenario).ok_or_else(|| {
        Error::new(ErrorKind::UnknownScenario, format!("{} in {}", entry.scenario, entry.path.display()))
    })?;
    // A plan naming a node the scenario does not have (an entry of an older version of it)
    // says which entry.
    let mut sim = build(scenario, entry.seed, Faults::Calm, Some(&entry.plan), replay, false, None)
        .map_err(|err| Error::new(err.kind().clone(), format!("{} in {}", err.input(), entry.path.display())))?;
    Ok(sim.run())
}

/// Replay every entry of the corpus in `dir`, for `cargo test`: each must pass now (its bug
/// fixed). Entries of scenarios not in `scenarios` are skipped.
///
/// # Panics
/// Listing every entry that fails again, with its report; or on a corrupt entry.
///
/// ```
/// use seedsim::explore::{check_corpus, Scenario};
/// fn fixed(sim: &mut seedsim::Sim) -> Result<(), seedsim::Error> {
///     sim.client("c", async { Ok::<(), std::io::Error>(()) })?;
///     Ok(())
/// }
/// check_corpus(std::path::Path::new("sim/corpus"), &[Scenario::new("fixed", seedsim::Sim::builder, fixed)]);
/// ```
#[track_caller]
pub fn check_corpus(dir: &Path, scenarios: &[Scenario]) {
    let entries = read_corpus(dir).unwrap_or_else(|err| panic!("seedsim corpus {}: {err}", dir.display()));
    let mut again = Vec::new();
    for entry in entries.iter().filter(|e| scenarios.iter().any(|s| s.name() == e.scenario)) {
        let line = format!("cargo test (corpus entry {})", entry.path.display());
        match replay(entry, scenarios, &line) {
            Err(err) => panic!("seedsim corpus entry {}: {err}", entry.path.display()),
            Ok(Outcome::Passed(_)) => {}
            Ok(Outcome::Failed(failure)) => again.push(format!("{}:\n{failure}", entry.path.display())),
        }
    }
    if !again.is_empty() {
        panic!("{} corpus entr(y/ies) fail again:\n{}", again.len(), again.join("\n\n"));
    }
}
