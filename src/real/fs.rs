//! Real files behind `seedsim::fs`: the host's file system, under the runtime's data
//! directory, with the simulated disk's conventions (directories are implicit, a read fills
//! the buffer up to the end of the file, paths in listings are as the node wrote them).
//!
//! Every call runs on tokio's blocking pool, as `tokio::fs` does, so a slow `fsync` does not
//! stall the node's other tasks.

use std::fs;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use super::host_path;

/// Whether an `fs` call goes to the host: no simulation is running on this thread and the
/// real backend is.
pub(crate) fn serves_this_call() -> bool {
    !crate::context::is_running() && super::active()
}

/// Run `f` on the blocking pool.
async fn blocking<R: Send + 'static>(f: impl FnOnce() -> io::Result<R> + Send + 'static) -> io::Result<R> {
    match tokio::task::spawn_blocking(f).await {
        Ok(result) => result,
        Err(err) => match err.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(err) => Err(io::Error::other(err)),
        },
    }
}

/// The simulated disk's directories exist implicitly; the host's are made on demand.
fn make_parent(path: &std::path::Path) -> io::Result<()> {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => fs::create_dir_all(parent),
        _ => Ok(()),
    }
}

pub(crate) async fn open(path: &str, create: bool, truncate: bool, new: bool) -> io::Result<Arc<fs::File>> {
    let path = host_path(path);
    blocking(move || {
        if create {
            make_parent(&path)?;
        }
        let mut options = fs::OpenOptions::new();
        options.read(true).write(true);
        if new {
            options.create_new(true);
        } else {
            options.create(create).truncate(truncate);
        }
        options.open(&path).map(Arc::new)
    })
    .await
}

/// Read into `buf` from `offset` until it is full or the file ends; returns the bytes read.
pub(crate) async fn read_at(file: &Arc<fs::File>, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    let (file, len) = (file.clone(), buf.len());
    let data = blocking(move || {
        let mut data = vec![0u8; len];
        let mut filled = 0;
        while filled < len {
            match positional::read_at(&file, &mut data[filled..], offset + filled as u64) {
                Ok(0) => break,
                Ok(read) => filled += read,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) => return Err(err),
            }
        }
        data.truncate(filled);
        Ok(data)
    })
    .await?;
    buf[..data.len()].copy_from_slice(&data);
    Ok(data.len())
}

pub(crate) async fn write_at(file: &Arc<fs::File>, data: &[u8], offset: u64) -> io::Result<()> {
    let (file, data) = (file.clone(), data.to_vec());
    blocking(move || positional::write_all_at(&file, &data, offset)).await
}

/// Write `data` at the end of the file; returns the offset it was written at.
pub(crate) async fn append(file: &Arc<fs::File>, data: &[u8]) -> io::Result<u64> {
    let (file, data) = (file.clone(), data.to_vec());
    blocking(move || {
        let end = file.metadata()?.len();
        positional::write_all_at(&file, &data, end)?;
        Ok(end)
    })
    .await
}

pub(crate) async fn set_len(file: &Arc<fs::File>, len: u64) -> io::Result<()> {
    let file = file.clone();
    blocking(move || file.set_len(len)).await
}

pub(crate) async fn sync_all(file: &Arc<fs::File>) -> io::Result<()> {
    let file = file.clone();
    blocking(move || file.sync_all()).await
}

pub(crate) async fn len(file: &Arc<fs::File>) -> io::Result<u64> {
    let file = file.clone();
    blocking(move || Ok(file.metadata()?.len())).await
}

pub(crate) async fn path_len(path: &str) -> io::Result<u64> {
    let path = host_path(path);
    blocking(move || Ok(fs::metadata(path)?.len())).await
}

pub(crate) async fn rename(from: &str, to: &str) -> io::Result<()> {
    let (from, to) = (host_path(from), host_path(to));
    blocking(move || {
        make_parent(&to)?;
        fs::rename(from, to)
    })
    .await
}

pub(crate) async fn remove_file(path: &str) -> io::Result<()> {
    let path = host_path(path);
    blocking(move || fs::remove_file(path)).await
}

/// The files directly in `dir`, as paths the node would write (`dir/name`), sorted. A
/// directory that does not exist is empty, as the simulated disk's implicit ones are.
pub(crate) async fn read_dir(dir: &str) -> io::Result<Vec<String>> {
    let prefix = if dir.is_empty() { String::new() } else { format!("{dir}/") };
    let host = dir_path(dir);
    blocking(move || {
        let entries = match fs::read_dir(&host) {
            Ok(entries) => entries,
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(err) => return Err(err),
        };
        let mut files = Vec::new();
        for entry in entries {
            let entry = entry?;
            if entry.file_type()?.is_file() {
                files.push(format!("{prefix}{}", entry.file_name().to_string_lossy()));
            }
        }
        files.sort();
        Ok(files)
    })
    .await
}

/// `fsync` on a directory, which makes the creates, renames and removes in it durable. A
/// directory that does not exist has nothing to sync.
pub(crate) async fn sync_dir(dir: &str) -> io::Result<()> {
    let host = dir_path(dir);
    blocking(move || match fs::File::open(&host) {
        Ok(dir) => dir.sync_all(),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(err) => Err(err),
    })
    .await
}

fn dir_path(dir: &str) -> PathBuf {
    if dir.is_empty() {
        host_path(".")
    } else {
        host_path(dir)
    }
}

/// Reads and writes at an offset, without moving a shared cursor.
#[cfg(unix)]
mod positional {
    use std::os::unix::fs::FileExt;

    pub(super) fn read_at(file: &std::fs::File, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
        file.read_at(buf, offset)
    }

    pub(super) fn write_all_at(file: &std::fs::File, data: &[u8], offset: u64) -> std::io::Result<()> {
        file.write_all_at(data, offset)
    }
}

/// Reads and writes at an offset (Windows moves the cursor, which no call here relies on).
#[cfg(windows)]
mod positional {
    use std::os::windows::fs::FileExt;

    pub(super) fn read_at(file: &std::fs::File, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
        file.seek_read(buf, offset)
    }

    pub(super) fn write_all_at(file: &std::fs::File, mut data: &[u8], mut offset: u64) -> std::io::Result<()> {
        while !data.is_empty() {
            let written = file.seek_write(data, offset)?;
            if written == 0 {
                return Err(std::io::ErrorKind::WriteZero.into());
            }
            data = &data[written..];
            offset += written as u64;
        }
        Ok(())
    }
}
