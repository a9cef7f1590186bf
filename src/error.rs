//! The error type for everything a user can get wrong: seeds, environment variables,
//! configuration values, node names, and seedsim APIs called outside a simulation.
//!
//! A misbehaving system under test is not an error here: that is a finding, reported as a
//! [`Failure`](crate::Failure) inside an [`Outcome`](crate::Outcome).

use std::fmt;

/// An error caused by input a user gave seedsim.
///
/// The error carries the offending input and a [`ErrorKind`]; its message says what was
/// expected, so it can be shown to a person as it is.
///
/// ```
/// let err = "0xZZ".parse::<seedsim::Seed>().unwrap_err();
/// assert_eq!(err.kind(), &seedsim::ErrorKind::InvalidSeed);
/// assert_eq!(err.input(), "0xZZ");
/// assert!(err.to_string().contains("expected a decimal u64 or 0x followed by up to 16 hex digits"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    input: String,
    kind: ErrorKind,
}

/// What kind of input an [`Error`] rejected.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A seed string that is neither a decimal `u64` nor `0x` and up to 16 hex digits.
    InvalidSeed,
    /// An environment variable with a value of the wrong form.
    InvalidEnv {
        /// The variable's name, e.g. `SEEDSIM_SEEDS`.
        var: &'static str,
        /// The accepted form, e.g. `a whole number from 1 to 1000000000`.
        expected: &'static str,
    },
    /// A configuration value out of its range.
    InvalidConfig {
        /// The setting, e.g. `Link::loss`.
        field: &'static str,
        /// The accepted range.
        expected: &'static str,
    },
    /// A node name that no node in the simulation has.
    UnknownNode,
    /// A second node with a name already taken.
    DuplicateNode,
    /// A history completion for an operation this history never invoked: an id from another
    /// history (`seedsim::check::History`).
    HistoryOpUnknown,
    /// A history completion for an operation that already completed.
    HistoryOpCompletedTwice,
    /// A history event with a time before the history's last event.
    HistoryTimeBackwards,
    /// A node name that is empty, too long or has characters other than `[A-Za-z0-9_.-]`.
    InvalidNodeName,
    /// A lifecycle operation a node cannot do in its current state, e.g. restarting a client.
    InvalidNodeState {
        /// What was asked, e.g. `restart`.
        operation: &'static str,
        /// Why it cannot be done.
        reason: &'static str,
    },
    /// A seedsim API that needs a running simulation was called outside one (and, for the
    /// node-facing APIs with the `tokio` feature on, outside a Tokio runtime too).
    NoSimulation,
    /// A `tracing` filter (`SEEDSIM_LOG` or `Builder::log`) that does not parse.
    InvalidLogFilter,
    /// A corpus entry file that does not parse (`line` 0 when it is not about one line).
    InvalidCorpusEntry {
        /// The line number, from 1 (0 for the file as a whole).
        line: usize,
        /// What was expected.
        expected: &'static str,
    },
    /// A scenario name that the target does not have.
    UnknownScenario,
    /// A `--faults` name that is neither seedsim's nor the scenario's own.
    UnknownFaults {
        /// The names that are known.
        known: String,
    },
    /// A size a scenario does not declare, or a value below the size's minimum.
    InvalidSize {
        /// What the scenario declares: each size's name and its smallest value.
        declared: String,
    },
    /// A line of a fault plan's text form that does not parse.
    InvalidFaultPlan {
        /// The line number, from 1.
        line: usize,
        /// The form that was expected there.
        expected: &'static str,
    },
}

impl Error {
    pub(crate) fn new(kind: ErrorKind, input: impl Into<String>) -> Error {
        Error { input: input.into(), kind }
    }

    /// The input that was rejected: the seed string, the variable's value, the node name, or
    /// for [`ErrorKind::NoSimulation`] the API that was called.
    pub fn input(&self) -> &str {
        &self.input
    }

    /// What kind of input was rejected.
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let input = &self.input;
        match &self.kind {
            ErrorKind::InvalidSeed => write!(
                f,
                "invalid seed {input:?}: expected a decimal u64 or 0x followed by up to 16 hex digits"
            ),
            ErrorKind::InvalidEnv { var, expected } => {
                write!(f, "invalid {var}={input:?}: expected {expected}")
            }
            ErrorKind::InvalidConfig { field, expected } => {
                write!(f, "invalid {field} {input}: expected {expected}")
            }
            ErrorKind::UnknownNode => write!(
                f,
                "unknown node {input:?}: no node or client of that name was added with Sim::node or Sim::client"
            ),
            ErrorKind::DuplicateNode => write!(
                f,
                "duplicate node name {input:?}: every node and client needs a name of its own"
            ),
            ErrorKind::HistoryOpUnknown => write!(
                f,
                "invalid history event ({input}): the operation was not invoked in this history \
                 (a completion needs the OpId that History::invoke or Recorder::invoke returned)"
            ),
            ErrorKind::HistoryOpCompletedTwice => write!(
                f,
                "invalid history event ({input}): an operation completes once, as ok, fail or unknown"
            ),
            ErrorKind::HistoryTimeBackwards => write!(
                f,
                "invalid history event ({input}): events are recorded in time order, so a time may not be \
                 before the previous event's"
            ),
            ErrorKind::InvalidNodeName => write!(
                f,
                "invalid node name {input:?}: expected 1 to 64 characters from A-Z, a-z, 0-9, '_', '-' and '.'"
            ),
            ErrorKind::InvalidNodeState { operation, reason } => {
                write!(f, "cannot {operation} node {input:?}: {reason}")
            }
            ErrorKind::NoSimulation => write!(
                f,
                "{input} was called outside a seedsim simulation: call it from a task of a node or client \
                 while Sim::run or Sim::step is running, or use the method of the same name on Sim. Node \
                 code runs outside a simulation only on the real backend: seedsim's `tokio` feature, inside \
                 a Tokio runtime such as seedsim::real::Runtime"
            ),
            ErrorKind::InvalidCorpusEntry { line: 0, expected } => {
                write!(f, "invalid corpus entry {input}: expected {expected}")
            }
            ErrorKind::InvalidCorpusEntry { line, expected } => {
                write!(f, "invalid corpus entry {input}, line {line}: expected {expected}")
            }
            ErrorKind::UnknownScenario => write!(f, "unknown scenario {input}: the target has no scenario of that name"),
            ErrorKind::UnknownFaults { known } => write!(f, "unknown faults {input}: expected one of {known}"),
            ErrorKind::InvalidSize { declared } => {
                write!(f, "invalid size {input}: expected NAME=VALUE[,NAME=VALUE…] with the scenario's sizes: {declared}")
            }
            ErrorKind::InvalidFaultPlan { line, expected } => {
                write!(f, "invalid fault plan, line {line} {input:?}: expected {expected}")
            }
            ErrorKind::InvalidLogFilter => write!(
                f,
                "invalid log filter {input:?}: expected a tracing filter such as \"info\" or \"seedsim=debug,my_crate=trace\""
            ),
        }
    }
}

impl std::error::Error for Error {}

impl From<Error> for std::io::Error {
    fn from(err: Error) -> std::io::Error {
        let kind = match err.kind {
            ErrorKind::UnknownNode => std::io::ErrorKind::NotFound,
            _ => std::io::ErrorKind::InvalidInput,
        };
        std::io::Error::new(kind, err)
    }
}
