//! Checking what a run did: assertions with coverage (`assert_always!`, `assert_sometimes!`),
//! and (as they land) histories and a linearizability checker.

pub mod assertions;

pub use assertions::{Assertion, AssertionKind, Coverage};
