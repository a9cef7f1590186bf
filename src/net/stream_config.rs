//! The settings of simulated streams: [`StreamConfig`] (timeouts, buffers, segment size,
//! backlog) and [`StreamFaults`] (the stream-level faults a test can turn on).
//!
//! Every value is checked when the `Sim` is built (or when faults are changed in a run), and
//! the error names the setting and its accepted range. Nothing here is read on the hot path
//! but plain integers.

use std::time::Duration;

use crate::error::{Error, ErrorKind};
use crate::rand::Ratio;
use crate::time::nanos;

/// How simulated TCP connections behave: timeouts, buffer sizes, segment size, backlog, and
/// the stream faults that are on.
///
/// The defaults are those of a Linux host scaled down for simulation: a connection attempt
/// gives up after 10 s, a connection whose data or probes go unanswered for 30 s is reset, an
/// idle connection is probed after 10 s of silence, and each direction buffers 64 KiB.
/// Set it with [`Builder::stream`](crate::Builder::stream).
///
/// ```
/// use std::time::Duration;
/// use seedsim::net::StreamConfig;
/// let config = StreamConfig::default()
///     .timeout(Duration::from_secs(5))
///     .keepalive(None)
///     .send_buffer(16 * 1024);
/// let sim = seedsim::Sim::builder().stream(config).build()?;
/// assert_eq!(sim.config().stream.timeout, Duration::from_secs(5));
/// # Ok::<(), seedsim::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct StreamConfig {
    /// How long `TcpStream::connect` keeps resending its SYN before it fails with
    /// `TimedOut` (default 10 s).
    pub connect_timeout: Duration,
    /// How long a connection waits for its data to be acknowledged, or for an answer to a
    /// probe, before it is reset with `TimedOut` (default 30 s). This is what turns a long
    /// partition into a reset, like Linux's `TCP_USER_TIMEOUT`.
    pub timeout: Duration,
    /// Silence after which an idle connection sends a keepalive probe (default 10 s). With
    /// `None`, an idle connection across a partition stalls until it next sends.
    pub keepalive: Option<Duration>,
    /// The smallest retransmission timeout (default 200 ms, as Linux). The timeout follows
    /// the measured round trip time and doubles on every retransmission, up to 60 s.
    pub rto_min: Duration,
    /// Bytes a connection buffers for sending, written but not yet acknowledged (default
    /// 64 KiB). A writer that fills it waits: `poll_write` returns `Pending`.
    pub send_buffer: usize,
    /// Bytes a connection buffers for reading, received but not yet read (default 64 KiB).
    /// This is the window the receiver advertises: a sender never has more in flight.
    pub recv_buffer: usize,
    /// The largest payload of one segment (default 1,460 bytes, Ethernet's MSS).
    pub segment_max: usize,
    /// Connections a listener queues before `accept` takes them (default 128); SYNs beyond
    /// it are dropped, and the connecting side retries.
    pub backlog: usize,
    /// The stream faults that are on (default: none).
    pub faults: StreamFaults,
}

impl Default for StreamConfig {
    fn default() -> StreamConfig {
        StreamConfig {
            connect_timeout: Duration::from_secs(10),
            timeout: Duration::from_secs(30),
            keepalive: Some(Duration::from_secs(10)),
            rto_min: Duration::from_millis(200),
            send_buffer: 64 * 1024,
            recv_buffer: 64 * 1024,
            segment_max: 1_460,
            backlog: 128,
            faults: StreamFaults::NONE,
        }
    }
}

/// The largest buffer a connection may have in one direction.
const BUFFER_MAX: usize = 1 << 30;

impl StreamConfig {
    /// Set [`connect_timeout`](StreamConfig::connect_timeout).
    pub fn connect_timeout(mut self, timeout: Duration) -> StreamConfig {
        self.connect_timeout = timeout;
        self
    }

    /// Set [`timeout`](StreamConfig::timeout).
    pub fn timeout(mut self, timeout: Duration) -> StreamConfig {
        self.timeout = timeout;
        self
    }

    /// Set [`keepalive`](StreamConfig::keepalive).
    pub fn keepalive(mut self, idle: Option<Duration>) -> StreamConfig {
        self.keepalive = idle;
        self
    }

    /// Set [`rto_min`](StreamConfig::rto_min).
    pub fn rto_min(mut self, rto: Duration) -> StreamConfig {
        self.rto_min = rto;
        self
    }

    /// Set [`send_buffer`](StreamConfig::send_buffer).
    pub fn send_buffer(mut self, bytes: usize) -> StreamConfig {
        self.send_buffer = bytes;
        self
    }

    /// Set [`recv_buffer`](StreamConfig::recv_buffer).
    pub fn recv_buffer(mut self, bytes: usize) -> StreamConfig {
        self.recv_buffer = bytes;
        self
    }

    /// Set [`segment_max`](StreamConfig::segment_max).
    pub fn segment_max(mut self, bytes: usize) -> StreamConfig {
        self.segment_max = bytes;
        self
    }

    /// Set [`backlog`](StreamConfig::backlog).
    pub fn backlog(mut self, connections: usize) -> StreamConfig {
        self.backlog = connections;
        self
    }

    /// Set [`faults`](StreamConfig::faults).
    pub fn faults(mut self, faults: StreamFaults) -> StreamConfig {
        self.faults = faults;
        self
    }

    pub(crate) fn validate(&self) -> Result<(), Error> {
        let bad = |field, expected, value: String| Err(Error::new(ErrorKind::InvalidConfig { field, expected }, value));
        let duration = |field, value: Duration| {
            if value.is_zero() || nanos(value) > nanos(Duration::from_secs(1 << 30)) {
                bad(field, "a duration from 1 ns to 2^30 s", format!("{value:?}"))
            } else {
                Ok(())
            }
        };
        duration("StreamConfig::connect_timeout", self.connect_timeout)?;
        duration("StreamConfig::timeout", self.timeout)?;
        if let Some(keepalive) = self.keepalive {
            duration("StreamConfig::keepalive", keepalive)?;
        }
        duration("StreamConfig::rto_min", self.rto_min)?;
        if self.rto_min > RTO_MAX {
            return bad("StreamConfig::rto_min", "at most 60 s", format!("{:?}", self.rto_min));
        }
        if !(1..=BUFFER_MAX).contains(&self.send_buffer) {
            return bad("StreamConfig::send_buffer", "1 to 1073741824 bytes", self.send_buffer.to_string());
        }
        if !(1..=BUFFER_MAX).contains(&self.recv_buffer) {
            return bad("StreamConfig::recv_buffer", "1 to 1073741824 bytes", self.recv_buffer.to_string());
        }
        if !(1..=65_535).contains(&self.segment_max) {
            return bad("StreamConfig::segment_max", "1 to 65535 bytes", self.segment_max.to_string());
        }
        if !(1..=1 << 20).contains(&self.backlog) {
            return bad("StreamConfig::backlog", "1 to 1048576 connections", self.backlog.to_string());
        }
        self.faults.validate()
    }
}

/// The largest retransmission timeout, reached by doubling.
pub(crate) const RTO_MAX: Duration = Duration::from_secs(60);

/// Faults of simulated TCP connections, each off by default. Every draw comes from a random
/// stream of its own (not the network's), so turning one on does not change the link's
/// decisions about other traffic.
///
/// Turn them on for a whole run with [`StreamConfig::faults`], or change them during a run
/// with [`world::set_stream_faults`](crate::world::set_stream_faults) and
/// [`Sim::set_stream_faults`](crate::Sim::set_stream_faults).
///
/// ```
/// use std::time::Duration;
/// use seedsim::{net::{StreamConfig, StreamFaults}, Ratio};
/// let faults = StreamFaults::NONE
///     .reset(Ratio::new(1, 1_000)?)           // one data segment in 1,000 resets its connection
///     .partial_read(Ratio::percent(20)?)      // a fifth of reads return fewer bytes than they could
///     .partial_write(Ratio::percent(20)?)     // and a fifth of writes take fewer
///     .connect_refused(Ratio::percent(5)?)    // 5% of connection attempts are refused
///     .slow(Ratio::percent(10)?, Duration::from_millis(50)); // 10% of connections are 50 ms slower
/// let sim = seedsim::Sim::builder().stream(StreamConfig::default().faults(faults)).build()?;
/// # let _ = sim;
/// # Ok::<(), seedsim::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct StreamFaults {
    /// Chance that a data segment, on arrival, resets its connection: the receiving side
    /// fails with `ConnectionReset` and sends a reset to the other, which fails the same way.
    pub reset: Ratio,
    /// Chance that a read which could return more than one byte returns fewer (at least
    /// one), as a real socket does when data arrives in pieces.
    pub partial_read: Ratio,
    /// Chance that a write of more than one byte takes fewer (at least one).
    pub partial_write: Ratio,
    /// Chance that a connection attempt which reaches a listener is refused
    /// (`ConnectionRefused`), as by a listener over its limits or a firewall.
    pub connect_refused: Ratio,
    /// Chance that a new connection is slow: every segment of it, both ways, takes
    /// [`slow_delay`](StreamFaults::slow_delay) longer.
    pub slow: Ratio,
    /// The extra one-way delay of a slow connection.
    pub slow_delay: Duration,
}

impl Default for StreamFaults {
    fn default() -> StreamFaults {
        StreamFaults::NONE
    }
}

impl StreamFaults {
    /// No stream faults.
    pub const NONE: StreamFaults = StreamFaults {
        reset: Ratio::NEVER,
        partial_read: Ratio::NEVER,
        partial_write: Ratio::NEVER,
        connect_refused: Ratio::NEVER,
        slow: Ratio::NEVER,
        slow_delay: Duration::ZERO,
    };

    /// Set [`reset`](StreamFaults::reset).
    pub fn reset(mut self, chance: Ratio) -> StreamFaults {
        self.reset = chance;
        self
    }

    /// Set [`partial_read`](StreamFaults::partial_read).
    pub fn partial_read(mut self, chance: Ratio) -> StreamFaults {
        self.partial_read = chance;
        self
    }

    /// Set [`partial_write`](StreamFaults::partial_write).
    pub fn partial_write(mut self, chance: Ratio) -> StreamFaults {
        self.partial_write = chance;
        self
    }

    /// Set [`connect_refused`](StreamFaults::connect_refused).
    pub fn connect_refused(mut self, chance: Ratio) -> StreamFaults {
        self.connect_refused = chance;
        self
    }

    /// Set [`slow`](StreamFaults::slow) and [`slow_delay`](StreamFaults::slow_delay).
    pub fn slow(mut self, chance: Ratio, delay: Duration) -> StreamFaults {
        self.slow = chance;
        self.slow_delay = delay;
        self
    }

    /// True if no fault is on.
    pub fn is_none(&self) -> bool {
        self.reset.is_never()
            && self.partial_read.is_never()
            && self.partial_write.is_never()
            && self.connect_refused.is_never()
            && (self.slow.is_never() || self.slow_delay.is_zero())
    }

    pub(crate) fn validate(&self) -> Result<(), Error> {
        if nanos(self.slow_delay) > nanos(Duration::from_secs(1 << 30)) {
            return Err(Error::new(
                ErrorKind::InvalidConfig { field: "StreamFaults::slow_delay", expected: "at most 2^30 s" },
                format!("{:?}", self.slow_delay),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_bad_values_are_named() {
        assert!(StreamConfig::default().validate().is_ok());
        let err = StreamConfig::default().send_buffer(0).validate().unwrap_err();
        assert!(err.to_string().contains("StreamConfig::send_buffer"), "{err}");
        let err = StreamConfig::default().timeout(Duration::ZERO).validate().unwrap_err();
        assert!(err.to_string().contains("StreamConfig::timeout"), "{err}");
        assert!(StreamConfig::default().segment_max(70_000).validate().is_err());
        assert!(StreamConfig::default().keepalive(Some(Duration::ZERO)).validate().is_err());
        assert!(StreamConfig::default().rto_min(Duration::from_secs(61)).validate().is_err());
        assert!(StreamFaults::NONE.is_none());
        assert!(!StreamFaults::NONE.partial_read(Ratio::ALWAYS).is_none());
    }
}
