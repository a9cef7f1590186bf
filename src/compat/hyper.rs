//! hyper on seedsim (feature `hyper`): hyper's `rt::Read` and `rt::Write` on
//! [`net::TcpStream`](crate::net::TcpStream), an [`Executor`] that spawns with
//! [`task::spawn`](crate::task::spawn), and a [`Timer`] on [`time`](crate::time), so hyper's
//! connection builders — and axum and tonic, which are tower services served by them — run
//! over seedsim's TCP inside a simulation, and over real sockets on the real backend
//! (feature `tokio`).
//!
//! Hand hyper the executor and the timer wherever a builder takes them: HTTP/2 connections
//! spawn their streams with the executor, and every timeout hyper keeps (header read
//! timeouts, keep-alive pings) sleeps on the timer, on the node's simulated clock.
//!
//! Turn off hyper's `Date` response header in a simulation (`auto_date_header(false)` on
//! the server builder): hyper renders it from the host's wall clock (`SystemTime::now`), so
//! its bytes differ from run to run. Its length does not, so the trace hash would not
//! notice, but node code that read it would.
//!
//! ```
//! use http_body_util::{BodyExt, Full};
//! use hyper::body::{Bytes, Incoming};
//! use hyper::{service::service_fn, Request, Response};
//! use seedsim::compat::hyper::{Executor, Timer};
//! use seedsim::net::{TcpListener, TcpStream};
//!
//! let mut sim = seedsim::Sim::new(seedsim::Seed(1));
//! sim.node("server", || async {
//!     let listener = TcpListener::bind("0.0.0.0:80").await?;
//!     loop {
//!         let (stream, _) = listener.accept().await?;
//!         let hello = service_fn(|request: Request<Incoming>| async move {
//!             let body = format!("hello, {}", request.uri().path());
//!             Ok::<_, std::convert::Infallible>(Response::new(Full::new(Bytes::from(body))))
//!         });
//!         let connection = hyper::server::conn::http1::Builder::new()
//!             .timer(Timer)
//!             .auto_date_header(false)
//!             .serve_connection(stream, hello);
//!         drop(seedsim::task::spawn(connection));
//!     }
//!     #[allow(unreachable_code)]
//!     Ok::<(), std::io::Error>(())
//! })?;
//! sim.client("client", async {
//!     let stream = TcpStream::connect(("server", 80)).await?;
//!     let (mut sender, connection) =
//!         hyper::client::conn::http1::handshake::<_, Full<Bytes>>(stream).await.map_err(std::io::Error::other)?;
//!     drop(seedsim::task::spawn(connection));
//!     let request = Request::get("/world").header("host", "server").body(Full::default()).unwrap();
//!     let response = sender.send_request(request).await.map_err(std::io::Error::other)?;
//!     let body = response.into_body().collect().await.map_err(std::io::Error::other)?.to_bytes();
//!     assert_eq!(body, "hello, /world");
//!     Ok::<(), std::io::Error>(())
//! })?;
//! sim.run().unwrap();
//! # let _ = Executor;
//! # Ok::<(), seedsim::Error>(())
//! ```

// hyper's `Timer` trait speaks `std::time::Instant`, so the type appears here; the host clock
// is read once, for the origin below, which opts out of `disallowed_methods` on its own.
#![allow(clippy::disallowed_types)]

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::OnceLock;
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::rt::{Read, ReadBufCursor, Write};

use crate::net::TcpStream;

/// The most one read moves: the stream reads into a zeroed buffer of at most this size on
/// the stack and copies what it got into hyper's, so no uninitialized memory is touched.
const READ_CHUNK_MAX: usize = 8 * 1024;

impl Read for TcpStream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, mut buf: ReadBufCursor<'_>) -> Poll<io::Result<()>> {
        let mut chunk = [0u8; READ_CHUNK_MAX];
        let len = buf.remaining().min(READ_CHUNK_MAX);
        let read = std::task::ready!(self.read_polled(cx, &mut chunk[..len]))?;
        buf.put_slice(&chunk[..read]);
        Poll::Ready(Ok(()))
    }
}

impl Write for TcpStream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.write_bytes_polled(cx, buf)
    }

    /// Written data is in the connection's send buffer already: nothing to do.
    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    /// Shut down the write side (see [`TcpStream::shutdown`]).
    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.close_polled()
    }
}

/// hyper's executor on seedsim: [`execute`](hyper::rt::Executor::execute) is
/// [`task::spawn`](crate::task::spawn), detached. A task it spawns belongs to the node of the
/// task that called it — the one polling the connection — and dies with that node's crash.
/// On the real backend it is `tokio::task::spawn_local`, on the `LocalSet` of
/// [`real::Runtime`](crate::real::Runtime). Futures need not be `Send`.
///
/// hyper's HTTP/2 connections need it, as they run each stream as a task:
/// `hyper::server::conn::http2::Builder::new(Executor)` on a server,
/// `hyper::client::conn::http2::Builder::new(Executor)` on a client.
///
/// ```
/// use std::cell::Cell;
/// use std::rc::Rc;
/// use hyper::rt::Executor as _;
/// use seedsim::compat::hyper::Executor;
///
/// let mut sim = seedsim::Sim::new(seedsim::Seed(1));
/// sim.client("c", async {
///     let ran = Rc::new(Cell::new(false)); // not `Send`, and need not be
///     let flag = ran.clone();
///     Executor.execute(async move { flag.set(true) });
///     seedsim::time::sleep(std::time::Duration::from_millis(1)).await; // the task runs meanwhile
///     assert!(ran.get());
///     Ok::<(), std::io::Error>(())
/// })?;
/// sim.run().unwrap();
/// # Ok::<(), seedsim::Error>(())
/// ```
///
/// # Panics
/// As [`task::spawn`](crate::task::spawn) does: outside a running simulation's node (or,
/// with the `tokio` feature, outside a [`real::Runtime`](crate::real::Runtime)).
#[derive(Clone, Copy, Debug, Default)]
pub struct Executor;

impl<F> hyper::rt::Executor<F> for Executor
where
    F: Future + 'static,
    F::Output: 'static,
{
    #[track_caller]
    fn execute(&self, future: F) {
        drop(crate::task::spawn(future));
    }
}

/// hyper's timer on seedsim: its sleeps are [`time::sleep`](crate::time::sleep) and
/// [`time::sleep_until`](crate::time::sleep_until) on the calling node's clock, and its
/// [`now`](hyper::rt::Timer::now) is [`time::Instant::now`](crate::time::Instant::now) — so
/// hyper's timeouts fire at the same simulated instant on every replay, and follow the node's
/// clock faults.
///
/// hyper speaks `std::time::Instant`; the timer maps seedsim's instants to std's by adding
/// them to one fixed `std::time::Instant` per process. hyper only subtracts and compares the
/// instants it gets, so which one that is does not matter, and nothing else reads the host
/// clock. (hyper reads the host clock itself only when it has no timer, so give servers and
/// clients this one.)
///
/// ```
/// use std::time::Duration;
/// use hyper::rt::Timer as _;
/// use seedsim::compat::hyper::Timer;
///
/// let mut sim = seedsim::Sim::new(seedsim::Seed(1));
/// sim.client("c", async {
///     let start = Timer.now();
///     Timer.sleep(Duration::from_secs(30)).await;
///     assert_eq!(Timer.now() - start, Duration::from_secs(30));
///     assert_eq!(seedsim::time::Instant::now().since_start(), Duration::from_secs(30));
///     Ok::<(), std::io::Error>(())
/// })?;
/// sim.run().unwrap();
/// # Ok::<(), seedsim::Error>(())
/// ```
///
/// # Panics
/// As [`time::sleep`](crate::time::sleep) and [`Instant::now`](crate::time::Instant::now)
/// do: outside a running simulation (or, with the `tokio` feature, outside a Tokio runtime).
#[derive(Clone, Copy, Debug, Default)]
pub struct Timer;

impl hyper::rt::Timer for Timer {
    #[track_caller]
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(crate::time::sleep(duration))
    }

    #[track_caller]
    fn sleep_until(&self, deadline: std::time::Instant) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(crate::time::sleep_until(from_std(deadline)))
    }

    fn now(&self) -> std::time::Instant {
        to_std(crate::time::Instant::now())
    }
}

/// seedsim's [`Sleep`](crate::time::Sleep) is hyper's sleep: `Send`, `Sync`, `Unpin`.
impl hyper::rt::Sleep for crate::time::Sleep {}

/// The `std::time::Instant` that seedsim's [`Instant::ZERO`](crate::time::Instant::ZERO)
/// maps to: a reading of the host clock taken once, used only as an origin.
fn origin() -> std::time::Instant {
    static ORIGIN: OnceLock<std::time::Instant> = OnceLock::new();
    // The one host-clock reading here: an origin that instants are offsets from. No decision
    // depends on its value.
    #[allow(clippy::disallowed_methods)]
    *ORIGIN.get_or_init(std::time::Instant::now)
}

fn to_std(instant: crate::time::Instant) -> std::time::Instant {
    let origin = origin();
    // Simulated time ends after 584 years (u64 nanoseconds), which std represents on every
    // platform Rust supports; should one not, 30 years stands in for "never", as in tokio.
    origin.checked_add(instant.since_start()).unwrap_or_else(|| origin + Duration::from_secs(86_400 * 365 * 30))
}

fn from_std(instant: std::time::Instant) -> crate::time::Instant {
    // An instant before the origin is before the run started: a deadline already past.
    let since = instant.saturating_duration_since(origin());
    crate::time::Instant::ZERO.checked_add(since).unwrap_or(crate::time::Instant::from_nanos(u64::MAX))
}
