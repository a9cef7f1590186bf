//! Checking what a run did: the client-visible history of operations and whether it is
//! linearizable.
//!
//! - [`history`]: record operations as Jepsen does (invoke, then ok, fail or unknown), with
//!   simulated times and client ids ([`History`], [`Recorder`]).
//! - [`model`]: the sequential specifications a history is judged against ([`Model`], with
//!   [`Register`] and [`Kv`] built in).
//! - [`assertions`]: `assert_always!` and `assert_sometimes!` with coverage ([`Coverage`]).
//! - [`linearizability`]: the checker ([`check`], [`Checker`]), Wing–Gong search with Lowe's
//!   memoization, per-key partitioning, and a step budget.
//!
//! Nothing here reads the host clock or iterates a hash table: the same history gives the same
//! verdict and the same explanation on every run.
//!
//! ```
//! use seedsim::check::{check, History, Register, RegisterInput, RegisterOutput};
//!
//! let mut history = History::new();
//! let write = history.invoke(1, RegisterInput::Write(1));
//! history.ok(write, RegisterOutput::Write)?;
//! let read = history.invoke(2, RegisterInput::Read);
//! history.ok(read, RegisterOutput::Read(Some(1)))?;
//! assert!(check(&Register::new(), &history).is_linearizable());
//! # Ok::<(), seedsim::Error>(())
//! ```

pub mod assertions;
pub mod history;
pub mod linearizability;
pub mod model;
mod search;

pub use assertions::{Assertion, AssertionKind, Coverage};
pub use history::{Completion, History, Op, OpId, Recorder};
pub use linearizability::{check, Checker, Exhausted, Verdict, Violation};
pub use model::{Kv, KvInput, KvOutput, Model, Register, RegisterInput, RegisterOutput};
