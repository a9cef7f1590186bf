//! seedsim: deterministic simulation testing for distributed systems in Rust.
//!
//! Your nodes (ordinary async Rust) run inside one process on a seeded, single-threaded
//! executor with a simulated network and clock. seedsim injects partitions, delays, loss,
//! duplication, reordering, clock skew, crashes, restarts and pauses. Everything that varies
//! comes from one `u64` seed, so a failure found under seed N replays exactly, event for
//! event, from seed N.
//!
//! ```
//! use std::time::Duration;
//! use seedsim::{net::UdpSocket, time, Runner};
//!
//! async fn echo_server() -> std::io::Result<()> {
//!     let socket = UdpSocket::bind("0.0.0.0:9000").await?;
//!     let mut buf = [0; 64];
//!     loop {
//!         let (len, from) = socket.recv_from(&mut buf).await?;
//!         socket.send_to(&buf[..len], from).await?;
//!     }
//! }
//!
//! Runner::new().seeds(10).run(|sim| {
//!     sim.node("server", echo_server)?;
//!     sim.client("client", async {
//!         let socket = UdpSocket::bind("0.0.0.0:0").await?;
//!         let mut buf = [0; 64];
//!         for attempt in 0u8..5 {
//!             socket.send_to(&[attempt], ("server", 9000)).await?;
//!             if let Ok(Ok((len, _))) = time::timeout(Duration::from_millis(50), socket.recv_from(&mut buf)).await {
//!                 assert_eq!(&buf[..len], &[attempt]);
//!             }
//!         }
//!         Ok::<(), std::io::Error>(())
//!     })?;
//!     Ok(())
//! });
//! ```
//!
//! Start with [`Sim`] (a world you drive by hand) or [`Runner`] (many seeds under
//! `cargo test`). Node code uses [`time`], [`net`], [`task`] and [`rand::rng`]; faults come from
//! [`world`] inside a run or the `Sim` methods of the same names between steps. With the
//! `tokio` feature, the same node code also runs in production: outside a simulation, inside a
//! Tokio runtime, those APIs run on tokio and the operating system (`seedsim::real`). With the
//! `tokio-io` and `hyper` features, [`compat`] puts tokio's I/O traits and hyper's runtime
//! traits on seedsim, so tokio-util codecs, hyper, axum and tonic run inside a simulation. The
//! guide is in the repository's `docs/` folder.

#![warn(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]
// Handles match on a simulated and a real variant; without the `tokio` feature the real arm is
// compiled out and the match has one arm, which is the point rather than a slip.
#![cfg_attr(not(feature = "tokio"), allow(clippy::infallible_destructuring_match))]

pub mod check;
pub mod compat;
mod context;
mod error;
#[cfg(feature = "explore")]
pub mod explore;
pub mod fault;
pub mod feedback;
pub mod fs;
pub mod guide;
mod log;
pub mod net;
mod node;
pub mod rand;
#[cfg(feature = "tokio")]
pub mod real;
pub mod rpc;
mod runner;
mod runtime;
mod seed;
mod sim;
pub mod task;
pub mod time;
pub mod timeline;
pub mod trace;
mod watchdog;
pub mod world;

pub use error::{Error, ErrorKind};
pub use node::{Exit, NodeId};
pub use rand::Ratio;
pub use runner::{Plan, Report, Runner, DEFAULT_BASE_SEED, DEFAULT_SEEDS};
pub use runtime::sched::Policy;
pub use seed::Seed;
pub use sim::outcome::{BlockedTask, Cause, End, Failure, Outcome, Summary};
pub use sim::{BlockOnError, Builder, Config, Counts, OnLimit, OnNodeError, Sim};

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

/// The guide's examples, compiled and run as doctests, so the docs stay true to the API.
#[cfg(doctest)]
#[doc = include_str!("../docs/getting-started.md")]
pub struct GettingStartedDoctests;

/// See [`GettingStartedDoctests`].
#[cfg(doctest)]
#[doc = include_str!("../docs/concepts.md")]
pub struct ConceptsDoctests;

/// See [`GettingStartedDoctests`].
#[cfg(doctest)]
#[doc = include_str!("../docs/faults.md")]
pub struct FaultsDoctests;

/// See [`GettingStartedDoctests`].
#[cfg(doctest)]
#[doc = include_str!("../docs/storage.md")]
pub struct StorageDoctests;

/// See [`GettingStartedDoctests`].
#[cfg(doctest)]
#[doc = include_str!("../docs/streams.md")]
pub struct StreamsDoctests;

/// See [`GettingStartedDoctests`].
#[cfg(doctest)]
#[doc = include_str!("../docs/history.md")]
pub struct HistoryDoctests;

/// See [`GettingStartedDoctests`].
#[cfg(doctest)]
#[doc = include_str!("../docs/timeline.md")]
pub struct TimelineDoctests;

/// See [`GettingStartedDoctests`].
#[cfg(doctest)]
#[doc = include_str!("../docs/production.md")]
pub struct ProductionDoctests;

/// See [`GettingStartedDoctests`]. Its recipes need the compat features.
#[cfg(all(doctest, feature = "hyper", feature = "tokio-io"))]
#[doc = include_str!("../docs/ecosystem.md")]
pub struct EcosystemDoctests;
