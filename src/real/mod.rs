//! The real backend: seedsim's node-facing APIs outside a simulation, on tokio and the
//! operating system, so the node code a simulation tests is the code that runs in production.
//!
//! With the `tokio` feature on, every call that node code makes — [`time`](crate::time)
//! (`Instant::now`, `sleep`, `timeout`, `interval`), [`task::spawn`](crate::task::spawn),
//! [`net`](crate::net) (`UdpSocket`, `TcpListener`, `TcpStream`, `lookup`), [`fs`](crate::fs),
//! [`rand::rng`](crate::rand::rng) and [`buggify!`](crate::buggify) — checks, when it is
//! made, whether a simulation is running on this thread. Inside one it goes to the simulator,
//! as always. Outside one, inside a Tokio runtime, it goes to tokio and the operating system:
//! a real clock, real sockets, real files, entropy from the OS, and `buggify!()` always false.
//! Outside both it fails as it does without the feature, with
//! [`ErrorKind::NoSimulation`](crate::ErrorKind::NoSimulation).
//!
//! The check is the one a simulated call makes anyway (a thread-local pointer compared with
//! null), so a simulated call makes no extra check. The code around it grows, though: with the
//! feature on, the simulator's benchmarks run 1 to 5% more instructions (none with it off).
//! docs/production.md has the measurements and the intended differences between the two
//! backends.
//!
//! Node tasks need not be `Send`, so [`task::spawn`](crate::task::spawn) on the real backend is
//! `tokio::task::spawn_local`: run node code under [`Runtime::block_on`], which is a
//! current-thread runtime with a `LocalSet`, as the simulator is one thread. For several nodes
//! in one process, give each its own thread and `Runtime`.
//!
//! ```
//! use std::time::Duration;
//! use seedsim::{net::UdpSocket, time};
//!
//! /// Node code: the same function runs in a simulation and here.
//! async fn echo_once(socket: UdpSocket) -> std::io::Result<()> {
//!     let mut buf = [0u8; 64];
//!     let (len, from) = socket.recv_from(&mut buf).await?;
//!     socket.send_to(&buf[..len], from).await?;
//!     Ok(())
//! }
//!
//! seedsim::real::Runtime::new()?.block_on(async {
//!     let server = UdpSocket::bind("127.0.0.1:0").await?;
//!     let address = server.local_addr()?;
//!     let echo = seedsim::task::spawn(echo_once(server));
//!     let client = UdpSocket::bind("127.0.0.1:0").await?;
//!     client.send_to(b"ping", address).await?;
//!     let mut buf = [0u8; 64];
//!     let (len, _) = time::timeout(Duration::from_secs(5), client.recv_from(&mut buf)).await??;
//!     assert_eq!(&buf[..len], b"ping");
//!     echo.await.expect("the echo task finished")
//! })?;
//! # Ok::<(), std::io::Error>(())
//! ```

pub(crate) mod fs;
pub(crate) mod net;

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::OnceLock;

use crate::time::Instant;

/// A runtime for node code outside a simulation: tokio's current-thread runtime with its I/O
/// and timer drivers, and a `LocalSet` so that [`task::spawn`](crate::task::spawn) takes
/// futures that are not `Send`.
///
/// ```
/// let runtime = seedsim::real::Runtime::new()?;
/// let answer = runtime.block_on(async {
///     seedsim::task::spawn(async { 6 * 7 }).await.expect("the task finished")
/// });
/// assert_eq!(answer, 42);
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Runtime {
    runtime: tokio::runtime::Runtime,
    tasks: tokio::task::LocalSet,
    data_dir: Option<PathBuf>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime").field("data_dir", &self.data_dir).finish()
    }
}

impl Runtime {
    /// A new runtime. Relative [`fs`](crate::fs) paths resolve against the process's current
    /// directory until [`data_dir`](Runtime::data_dir) says otherwise.
    ///
    /// # Errors
    /// What tokio reports when it cannot start its I/O driver.
    pub fn new() -> io::Result<Runtime> {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_io().enable_time().build()?;
        Ok(Runtime { runtime, tasks: tokio::task::LocalSet::new(), data_dir: None })
    }

    /// Resolve relative [`fs`](crate::fs) paths against `dir`, as a simulated node's paths
    /// name files on its own disk. Give each node in a process its own directory.
    pub fn data_dir(mut self, dir: impl Into<PathBuf>) -> Runtime {
        self.data_dir = Some(dir.into());
        self
    }

    /// Run `future` to completion on this thread, with the tasks it spawns.
    ///
    /// # Panics
    /// When called from inside a Tokio runtime (tokio does not nest runtimes), or when
    /// `future` panics.
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        let previous = DATA_DIR.with(|dir| dir.replace(self.data_dir.clone()));
        let _restore = RestoreDataDir(previous);
        self.tasks.block_on(&self.runtime, future)
    }
}

/// Puts back the data directory this thread had before `block_on` (none, usually), also on
/// unwind.
struct RestoreDataDir(Option<PathBuf>);

impl Drop for RestoreDataDir {
    fn drop(&mut self) {
        let previous = self.0.take();
        DATA_DIR.with(|dir| *dir.borrow_mut() = previous);
    }
}

thread_local! {
    /// The data directory of the `Runtime::block_on` running on this thread, if any.
    static DATA_DIR: RefCell<Option<PathBuf>> = const { RefCell::new(None) };
    /// Numbers for real tasks and connections, which have no run to count them.
    static NEXT_TASK: Cell<u64> = const { Cell::new(0) };
    static NEXT_CONNECTION: Cell<u64> = const { Cell::new(0) };
}

/// Whether the real backend serves calls made outside a simulation on this thread: there is
/// a Tokio runtime to serve them.
pub(crate) fn active() -> bool {
    tokio::runtime::Handle::try_current().is_ok()
}

/// Where a relative path of node code lives on the host.
pub(crate) fn host_path(path: &str) -> PathBuf {
    DATA_DIR.with(|dir| match &*dir.borrow() {
        Some(dir) => dir.join(path),
        None => Path::new(path).to_path_buf(),
    })
}

pub(crate) fn next_task_number() -> u64 {
    NEXT_TASK.with(|next| next.replace(next.get() + 1))
}

pub(crate) fn next_connection_number() -> u64 {
    NEXT_CONNECTION.with(|next| next.replace(next.get() + 1))
}

/// The instant real [`Instant`]s count from: the first time any was read in this process.
fn epoch() -> tokio::time::Instant {
    static EPOCH: OnceLock<tokio::time::Instant> = OnceLock::new();
    *EPOCH.get_or_init(tokio::time::Instant::now)
}

/// The host's monotonic clock, as an [`Instant`].
pub(crate) fn now() -> Instant {
    let epoch = epoch();
    Instant::from_nanos(crate::time::nanos(tokio::time::Instant::now().saturating_duration_since(epoch)))
}

/// A tokio timer for `deadline` on the host's clock.
pub(crate) fn sleep_until(deadline: Instant) -> Pin<Box<tokio::time::Sleep>> {
    let epoch = epoch();
    // A deadline past what tokio can represent sleeps "forever", as the simulator's does.
    let deadline = epoch.checked_add(deadline.since_start()).unwrap_or_else(|| epoch + FAR_FUTURE);
    Box::pin(tokio::time::sleep_until(deadline))
}

/// About 30 years: tokio's own stand-in for "never".
const FAR_FUTURE: std::time::Duration = std::time::Duration::from_secs(86_400 * 365 * 30);
