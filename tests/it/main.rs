//! Integration tests of seedsim's promises, through the public API only: one test binary
//! with a module per area, so linking stays fast.

mod support;

mod determinism;
mod errors;
mod kv;
mod net;
mod nodes;
mod run;
mod runner;
mod stream_faults;
mod tcp;
mod time;
