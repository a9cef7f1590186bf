//! Other crates' traits on seedsim's types, each behind a cargo feature, so code written for
//! tokio's I/O traits, for hyper or for openraft runs on seedsim unchanged, inside a
//! simulation and on the real backend (feature `tokio`) alike.
//!
//! - feature `tokio-io`, module `tokio_io`: `tokio::io::AsyncRead` and `AsyncWrite` on
//!   [`net::TcpStream`](crate::net::TcpStream) (tokio-util's codecs, `tokio::io::copy`,
//!   anything generic over tokio's traits).
//! - feature `hyper`, module `hyper`: hyper's `rt::Read`/`rt::Write` on the stream, an
//!   executor on [`task::spawn`](crate::task::spawn) and a timer on [`time`](crate::time),
//!   for hyper's clients and servers and the frameworks built on them (axum, tonic).
//! - feature `openraft`, module `openraft`: openraft's `AsyncRuntime` on seedsim's time, tasks
//!   and randomness.
//!
//! Nothing here starts a thread or a runtime, or decides anything by the host clock: every
//! adapter calls the same seedsim function node code calls. docs/ecosystem.md lists what runs
//! inside a simulation and how; docs/openraft.md is the openraft recipe.

#[cfg(feature = "hyper")]
pub mod hyper;
#[cfg(feature = "openraft")]
pub mod openraft;
#[cfg(feature = "tokio-io")]
pub mod tokio_io;
