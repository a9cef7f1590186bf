//! `tracing` integration: log lines stamped with simulated time and node name.
//!
//! A run with a log filter (`SEEDSIM_LOG`, or `Builder::log`) installs a thread-local
//! subscriber for the length of the run, so two simulations on two threads log separately.
//! The stamp is read from two cells the run loop sets before each poll; nothing here borrows
//! the world, so a line can be written from anywhere, and nothing is formatted when no log was
//! asked for.

use std::fmt;

use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::FormatTime;
use tracing_subscriber::EnvFilter;

use crate::context;
use crate::error::{Error, ErrorKind};
use crate::time::Instant;
use crate::trace::{Event, EventKind};

/// The subscriber for a log filter.
pub(crate) fn dispatch(filter: &str) -> Result<tracing::Dispatch, Error> {
    let env_filter = EnvFilter::builder().parse(filter).map_err(|_| Error::new(ErrorKind::InvalidLogFilter, filter))?;
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(env_filter)
        .with_timer(SimTime)
        .with_ansi(false)
        .with_test_writer()
        .finish();
    Ok(tracing::Dispatch::new(subscriber))
}

/// Stamps a line with simulated time and the node being polled (`-` between polls).
struct SimTime;

impl FormatTime for SimTime {
    fn format_time(&self, w: &mut Writer<'_>) -> fmt::Result {
        let stamped = context::with_current(|shared| {
            let (now, node) = shared.log_stamp.get();
            let names = shared.log_names.borrow();
            let name = node.and_then(|n| names.get(n as usize)).map_or("-", String::as_str);
            write!(w, "{:>16} {name:<12}", Instant::from_nanos(now))
        });
        stamped.unwrap_or_else(|| write!(w, "{:>16} {:<12}", "(no simulation)", "-"))
    }
}

/// Log one trace event: polls at TRACE, everything else at DEBUG, target `seedsim`.
pub(crate) fn emit_event(event: &Event) {
    let is_poll = matches!(event.kind, EventKind::Poll { .. });
    let enabled = if is_poll {
        tracing::enabled!(target: "seedsim", tracing::Level::TRACE)
    } else {
        tracing::enabled!(target: "seedsim", tracing::Level::DEBUG)
    };
    if !enabled {
        return;
    }
    context::with_current(|shared| {
        let names = shared.log_names.borrow();
        let line = event.describe_kind(&names);
        if is_poll {
            tracing::trace!(target: "seedsim", "{line}");
        } else {
            tracing::debug!(target: "seedsim", "{line}");
        }
    });
}
