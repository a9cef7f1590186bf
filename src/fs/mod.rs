//! A per-node simulated disk: files that survive a crash only as far as they were synced.
//!
//! Every node has its own disk, which outlives the node's crashes. Writes are visible to
//! reads at once, but a crash keeps only what `sync_all`/`sync_data` made durable: of each
//! block written since, the seed keeps the new contents or loses them (torn writes, at block
//! granularity), and the file's length may be the old or the new one. With
//! `DiskConfig::strict`, creating, renaming and removing files is durable only after
//! [`sync_dir`]. Every operation takes simulated time (`DiskConfig::latency`), and the disk's
//! faults (errors, misdirected writes, corruption, a full disk, slowness) come from fault
//! plans and the nemesis. Errors are `std::io::Error`s with the kinds a real file system gives.
//!
//! Paths are strings; a path's directory is everything before its last `/`. Directories
//! exist implicitly: there is no `create_dir`.
//!
//! On the real backend (see `seedsim::real`, feature `tokio`) the same calls work on the
//! host's files, relative to the runtime's data directory: no injected faults, and a real
//! crash keeps what the host's file system kept.
//!
//! ```
//! use seedsim::fs::File;
//! let mut sim = seedsim::Sim::new(seedsim::Seed(1));
//! sim.node("db", || async {
//!     let file = File::create("data/log").await?;
//!     file.write_at(b"hello", 0).await?;
//!     file.sync_all().await?; // durable from here on
//!     let mut buf = [0u8; 5];
//!     file.read_at(&mut buf, 0).await?;
//!     assert_eq!(&buf, b"hello");
//!     Ok::<(), std::io::Error>(())
//! })?;
//! sim.run().unwrap();
//! # Ok::<(), seedsim::Error>(())
//! ```

pub(crate) mod disk;
mod world;

use std::fmt;
use std::io;
use std::time::Duration;

use crate::context;
use crate::error::{Error, ErrorKind};
use crate::net::Latency;
use crate::node::NodeId;
use crate::rand::Ratio;
use crate::sim::state::World;
use crate::trace::DiskOp;
use disk::InodeKey;

/// How every node's disk behaves. Set it with [`Builder::disk`](crate::Builder::disk).
///
/// ```
/// use seedsim::{fs::DiskConfig, Ratio};
/// let config = DiskConfig { strict: true, corrupt_unsynced: Ratio::percent(5)?, ..DiskConfig::default() };
/// let sim = seedsim::Sim::builder().disk(config).build()?;
/// # drop(sim);
/// # Ok::<(), seedsim::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DiskConfig {
    /// The unit of torn writes and corruption (default 4096 bytes; 1 byte to 1 MiB).
    pub block_size: u64,
    /// Bytes a node's files may take in all (default 1 GiB); past it, writes that grow a file
    /// fail with `StorageFull`.
    pub capacity: u64,
    /// How long each operation takes (default uniform 10 to 100 µs).
    pub latency: Latency,
    /// The chance that an unsynced block keeps its new contents in a crash (default 1/2).
    pub torn_keep: Ratio,
    /// The chance that a kept unsynced block comes back corrupted (default never).
    pub corrupt_unsynced: Ratio,
    /// Creates, renames and removes are durable only after `sync_dir` (default false).
    pub strict: bool,
}

impl Default for DiskConfig {
    fn default() -> DiskConfig {
        DiskConfig {
            block_size: 4096,
            capacity: 1 << 30,
            latency: Latency::Uniform { min: Duration::from_micros(10), max: Duration::from_micros(100) },
            torn_keep: Ratio::new(1, 2).expect("valid"),
            corrupt_unsynced: Ratio::NEVER,
            strict: false,
        }
    }
}

impl DiskConfig {
    pub(crate) fn validate(&self) -> Result<(), Error> {
        if !(1..=1 << 20).contains(&self.block_size) {
            return Err(Error::new(
                ErrorKind::InvalidConfig { field: "DiskConfig::block_size", expected: "1 to 1048576 bytes" },
                self.block_size.to_string(),
            ));
        }
        self.latency.validate()
    }
}

/// A file's size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Metadata {
    len: u64,
}

impl Metadata {
    /// Size in bytes, as reads see it.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// True for an empty file.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// An open file on the calling node's disk.
///
/// A handle is tied to the node's run between crashes: after its node crashed, every
/// operation on it fails (`NotFound`), as a file descriptor does not survive a reboot.
pub struct File {
    path: String,
    handle: Handle,
}

enum Handle {
    Simulated(SimulatedFile),
    #[cfg(feature = "tokio")]
    Real(std::sync::Arc<std::fs::File>),
}

/// A file on a simulated node's disk, valid for the node's run between crashes.
#[derive(Clone, Copy)]
struct SimulatedFile {
    node: NodeId,
    starts: u32,
    world: u64,
    inode: InodeKey,
}

impl fmt::Debug for File {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("File").field("path", &self.path).finish()
    }
}

/// Run one disk operation on the calling node: wait its latency, then do it. Injected
/// errors apply to the operations that name a `DiskOp`.
async fn operate<R>(
    api: &'static str,
    op: Option<DiskOp>,
    f: impl FnOnce(&mut World, NodeId) -> io::Result<R>,
) -> io::Result<R> {
    let latency = context::with_current(|shared| {
        let mut world = shared.world.borrow_mut();
        let node = world.current_node()?;
        Some(world.disk_latency(node))
    });
    let latency = match latency {
        Some(Some(latency)) => latency,
        Some(None) => return Err(io::Error::other(format!("{api} must be called from a task of a node or client"))),
        None => return Err(io::Error::other(Error::new(ErrorKind::NoSimulation, api))),
    };
    crate::time::sleep(latency).await;
    context::with_current(|shared| {
        let mut world = shared.world.borrow_mut();
        let node = world.current_node().expect("still in a node's task");
        if let Some(op) = op {
            world.disk_fault_check(node, op)?;
        }
        f(&mut world, node)
    })
    .unwrap_or_else(|| Err(io::Error::other(Error::new(ErrorKind::NoSimulation, api))))
}

fn check_path(path: &str) -> io::Result<()> {
    if path.is_empty() || path.ends_with('/') || path.contains('\0') {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("invalid path {path:?}: expected a non-empty file name (directories are implicit)"),
        ));
    }
    Ok(())
}

impl File {
    async fn open_with(path: &str, create: bool, truncate: bool, new: bool) -> io::Result<File> {
        check_path(path)?;
        #[cfg(feature = "tokio")]
        if crate::real::fs::serves_this_call() {
            let file = crate::real::fs::open(path, create, truncate, new).await?;
            return Ok(File { path: path.to_owned(), handle: Handle::Real(file) });
        }
        let owned = path.to_owned();
        operate("seedsim::fs::File::open", None, move |world, node| {
            let inode = world.disk_mut(node).open(&owned, create, truncate, new)?;
            let file = SimulatedFile { node, starts: world.node(node).starts, world: world.id, inode };
            Ok(File { path: owned, handle: Handle::Simulated(file) })
        })
        .await
    }

    /// Open a file, creating it if missing and emptying it if not (as `std::fs::File::create`).
    ///
    /// # Errors
    /// `InvalidInput` for a bad path, `StorageFull` when truncation cannot be recorded, and
    /// `Other` outside a node's task.
    pub async fn create(path: &str) -> io::Result<File> {
        File::open_with(path, true, true, false).await
    }

    /// Create a new file; fail with `AlreadyExists` if it exists.
    ///
    /// # Errors
    /// `AlreadyExists`, `InvalidInput` for a bad path.
    pub async fn create_new(path: &str) -> io::Result<File> {
        File::open_with(path, true, false, true).await
    }

    /// Open an existing file for reading and writing.
    ///
    /// # Errors
    /// `NotFound` if it does not exist (or did not survive a crash).
    pub async fn open(path: &str) -> io::Result<File> {
        File::open_with(path, false, false, false).await
    }

    /// Open a file, creating it empty if missing.
    ///
    /// # Errors
    /// `InvalidInput` for a bad path.
    pub async fn open_or_create(path: &str) -> io::Result<File> {
        File::open_with(path, true, false, false).await
    }

    /// The path it was opened with.
    pub fn path(&self) -> &str {
        &self.path
    }
}

impl SimulatedFile {
    async fn on_disk<R>(
        self,
        api: &'static str,
        op: Option<DiskOp>,
        f: impl FnOnce(&mut World, NodeId, InodeKey) -> io::Result<R>,
    ) -> io::Result<R> {
        let SimulatedFile { node, starts, world: world_id, inode } = self;
        operate(api, op, move |world, current| {
            if world.id != world_id || current != node || world.node(node).starts != starts {
                return Err(io::Error::new(
                    io::ErrorKind::NotFound,
                    format!("{api}: the handle is from before a crash of its node, or from another node or run"),
                ));
            }
            f(world, node, inode)
        })
        .await
    }
}

impl File {
    /// Read into `buf` from `offset`; returns how many bytes were read (0 at the end).
    ///
    /// # Errors
    /// An injected disk error (`Other`); `NotFound` for a handle from before a crash.
    pub async fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        match &self.handle {
            Handle::Simulated(file) => {
                file.on_disk("seedsim::fs::File::read_at", Some(DiskOp::Read), |world, node, inode| {
                    world.disk_mut(node).read_at(inode, buf, offset)
                })
                .await
            }
            #[cfg(feature = "tokio")]
            Handle::Real(file) => crate::real::fs::read_at(file, buf, offset).await,
        }
    }

    /// Read exactly `buf.len()` bytes from `offset`.
    ///
    /// # Errors
    /// `UnexpectedEof` if the file ends first; as [`File::read_at`].
    pub async fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        let read = self.read_at(buf, offset).await?;
        if read < buf.len() {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the file ends before the buffer is full"));
        }
        Ok(())
    }

    /// Write all of `data` at `offset`, growing the file with zeros if needed. Not durable
    /// until a sync.
    ///
    /// # Errors
    /// `StorageFull`, an injected disk error, `NotFound` for a handle from before a crash.
    pub async fn write_at(&self, data: &[u8], offset: u64) -> io::Result<()> {
        match &self.handle {
            Handle::Simulated(file) => {
                file.on_disk("seedsim::fs::File::write_at", Some(DiskOp::Write), |world, node, inode| {
                    let offset = world.disk_misdirect(node, offset);
                    let full = world.disk_full(node);
                    world.disk_mut(node).write_at(inode, data, offset, full)
                })
                .await
            }
            #[cfg(feature = "tokio")]
            Handle::Real(file) => crate::real::fs::write_at(file, data, offset).await,
        }
    }

    /// Write all of `data` at the end of the file; returns the offset it was written at.
    ///
    /// # Errors
    /// As [`File::write_at`].
    pub async fn append(&self, data: &[u8]) -> io::Result<u64> {
        match &self.handle {
            Handle::Simulated(file) => {
                file.on_disk("seedsim::fs::File::append", Some(DiskOp::Write), |world, node, inode| {
                    let end = world.disk_mut(node).len(inode)?;
                    let offset = world.disk_misdirect(node, end);
                    let full = world.disk_full(node);
                    world.disk_mut(node).write_at(inode, data, offset, full)?;
                    Ok(end)
                })
                .await
            }
            #[cfg(feature = "tokio")]
            Handle::Real(file) => crate::real::fs::append(file, data).await,
        }
    }

    /// Truncate or extend the file to `len` bytes.
    ///
    /// # Errors
    /// `StorageFull` when extending a full disk; `NotFound` for a handle from before a crash.
    pub async fn set_len(&self, len: u64) -> io::Result<()> {
        match &self.handle {
            Handle::Simulated(file) => {
                file.on_disk("seedsim::fs::File::set_len", Some(DiskOp::Write), |world, node, inode| {
                    let full = world.disk_full(node);
                    world.disk_mut(node).set_len(inode, len, full)
                })
                .await
            }
            #[cfg(feature = "tokio")]
            Handle::Real(file) => crate::real::fs::set_len(file, len).await,
        }
    }

    /// Make the file's data and length durable (fsync).
    ///
    /// # Errors
    /// An injected sync error: the data may or may not be durable, as after a real failed
    /// fsync; `NotFound` for a handle from before a crash.
    pub async fn sync_all(&self) -> io::Result<()> {
        match &self.handle {
            Handle::Simulated(file) => {
                file.on_disk("seedsim::fs::File::sync_all", Some(DiskOp::Sync), |world, node, inode| {
                    world.disk_mut(node).sync(inode)
                })
                .await
            }
            #[cfg(feature = "tokio")]
            Handle::Real(file) => crate::real::fs::sync_all(file).await,
        }
    }

    /// Make the file's data durable (fdatasync). The simulated disk keeps the length with
    /// the data, so this is [`File::sync_all`].
    ///
    /// # Errors
    /// As [`File::sync_all`].
    pub async fn sync_data(&self) -> io::Result<()> {
        self.sync_all().await
    }

    /// The file's size.
    ///
    /// # Errors
    /// `NotFound` for a handle from before a crash.
    pub async fn metadata(&self) -> io::Result<Metadata> {
        match &self.handle {
            Handle::Simulated(file) => {
                file.on_disk("seedsim::fs::File::metadata", None, |world, node, inode| {
                    Ok(Metadata { len: world.disk_mut(node).len(inode)? })
                })
                .await
            }
            #[cfg(feature = "tokio")]
            Handle::Real(file) => Ok(Metadata { len: crate::real::fs::len(file).await? }),
        }
    }
}

/// The whole contents of a file.
///
/// # Errors
/// `NotFound`; an injected disk error.
pub async fn read(path: &str) -> io::Result<Vec<u8>> {
    let file = File::open(path).await?;
    let len = file.metadata().await?.len();
    let mut buf = vec![0u8; len as usize];
    let read = file.read_at(&mut buf, 0).await?;
    buf.truncate(read);
    Ok(buf)
}

/// Replace a file's contents (created if missing). Not durable until synced.
///
/// # Errors
/// As [`File::write_at`].
pub async fn write(path: &str, data: &[u8]) -> io::Result<()> {
    let file = File::create(path).await?;
    file.write_at(data, 0).await
}

/// Rename a file, replacing `to` if it exists. Durable at once, or (strict mode) after
/// `sync_dir` of both directories.
///
/// # Errors
/// `NotFound` if `from` does not exist.
pub async fn rename(from: &str, to: &str) -> io::Result<()> {
    check_path(from)?;
    check_path(to)?;
    #[cfg(feature = "tokio")]
    if crate::real::fs::serves_this_call() {
        return crate::real::fs::rename(from, to).await;
    }
    operate("seedsim::fs::rename", None, |world, node| world.disk_mut(node).rename(from, to)).await
}

/// Remove a file.
///
/// # Errors
/// `NotFound` if it does not exist.
pub async fn remove_file(path: &str) -> io::Result<()> {
    check_path(path)?;
    #[cfg(feature = "tokio")]
    if crate::real::fs::serves_this_call() {
        return crate::real::fs::remove_file(path).await;
    }
    operate("seedsim::fs::remove_file", None, |world, node| world.disk_mut(node).remove(path)).await
}

/// The paths of the files directly in `dir` (`""` for the top), sorted.
///
/// # Errors
/// `Other` outside a node's task.
pub async fn read_dir(dir: &str) -> io::Result<Vec<String>> {
    let dir = dir.trim_end_matches('/');
    #[cfg(feature = "tokio")]
    if crate::real::fs::serves_this_call() {
        return crate::real::fs::read_dir(dir).await;
    }
    operate("seedsim::fs::read_dir", None, |world, node| Ok(world.disk_mut(node).list(dir))).await
}

/// A file's size.
///
/// # Errors
/// `NotFound` if it does not exist.
pub async fn metadata(path: &str) -> io::Result<Metadata> {
    #[cfg(feature = "tokio")]
    if crate::real::fs::serves_this_call() {
        return Ok(Metadata { len: crate::real::fs::path_len(path).await? });
    }
    operate("seedsim::fs::metadata", None, |world, node| {
        let disk = world.disk_mut(node);
        let inode = disk.lookup(path)?;
        Ok(Metadata { len: disk.len(inode)? })
    })
    .await
}

/// Make creates, renames and removes in `dir` durable (strict mode; otherwise they already
/// are).
///
/// # Errors
/// An injected sync error.
pub async fn sync_dir(dir: &str) -> io::Result<()> {
    let dir = dir.trim_end_matches('/');
    #[cfg(feature = "tokio")]
    if crate::real::fs::serves_this_call() {
        return crate::real::fs::sync_dir(dir).await;
    }
    operate("seedsim::fs::sync_dir", Some(DiskOp::Sync), |world, node| {
        world.disk_mut(node).sync_dir(dir);
        Ok(())
    })
    .await
}
