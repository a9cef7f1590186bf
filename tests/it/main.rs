//! Integration tests of seedsim's promises, through the public API only: one test binary
//! with a module per area, so linking stays fast.

mod check_support;
mod support;

mod block_on;
mod bugs;
mod checks;
mod classes_a;
mod classes_b;
#[cfg(all(feature = "tokio-io", feature = "hyper"))]
mod compat;
mod determinism;
mod errors;
mod faults;
mod fs;
mod guided;
mod history;
mod interop;
mod kv;
mod linearizability;
mod net;
mod nodes;
#[cfg(feature = "openraft")]
mod openraft;
#[cfg(feature = "tokio")]
mod parity;
mod partitions;
mod rpc;
mod run;
mod runner;
mod stream_faults;
mod tcp;
mod time;
mod timeline;
mod vocabulary;
mod watchdog;
