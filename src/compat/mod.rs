//! Adapters that let other crates' abstractions run on seedsim, each behind its own feature.
//!
//! Nothing here adds behaviour of its own: every adapter maps a foreign trait onto seedsim's
//! time, tasks and randomness, so code written against the trait runs deterministically in a
//! simulation (and, with the `tokio` feature, on the real backend).

#[cfg(feature = "openraft")]
pub mod openraft;
