//! The key-value store both examples serve: a log on the node's disk and a map in memory,
//! owned by one storage task. Request handlers reach it through a [`Store`] handle, a
//! `tokio::sync` channel: the handle is `Send + Sync`, as axum requires of its state, while
//! the storage task (seedsim's files are not `Send`) stays on its node.
//!
//! The log is one line per put, `key value\n`. A crash keeps only what was synced; a torn
//! last line is ignored on the restart that reads the log back.

use std::collections::BTreeMap;
use std::io;

use seedsim::fs::File;
use tokio::sync::{mpsc, oneshot};

/// The log's path on the node's disk (on the real backend: in the runtime's data directory).
const LOG: &str = "kv.log";

/// How many requests may wait for the storage task.
const QUEUE_MAX: usize = 64;

/// When the store syncs its log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Durability {
    /// Sync each put before acknowledging it: an acknowledged put survives a crash.
    SyncEachPut,
    /// The planted bug: sync every 4th put only, acknowledging every put at once, so a crash
    /// loses up to three acknowledged puts.
    SyncEveryFourth,
}

enum Command {
    Put { key: String, value: u64, done: oneshot::Sender<io::Result<()>> },
    Get { key: String, done: oneshot::Sender<Option<u64>> },
}

/// A handle on the storage task: cheap to clone, `Send + Sync`.
#[derive(Clone, Debug)]
pub struct Store {
    commands: mpsc::Sender<Command>,
}

impl Store {
    /// Open the log (creating it), read it back, and start the storage task on the calling
    /// node. The task ends when every handle is dropped, or with its node.
    ///
    /// # Errors
    /// What the disk reports when the log cannot be opened or read.
    pub async fn open(durability: Durability) -> io::Result<Store> {
        let log = File::open_or_create(LOG).await?;
        let mut bytes = vec![0u8; log.metadata().await?.len() as usize];
        log.read_exact_at(&mut bytes, 0).await?;
        let mut map = BTreeMap::new();
        // Whole lines only: a torn last line (a crash mid-append) is not a put.
        let whole = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |end| end + 1);
        for line in String::from_utf8_lossy(&bytes[..whole]).lines() {
            if let Some((key, value)) = line.split_once(' ') {
                if let Ok(value) = value.parse::<u64>() {
                    map.insert(key.to_owned(), value);
                }
            }
        }
        log.set_len(whole as u64).await?;
        let (commands, queue) = mpsc::channel(QUEUE_MAX);
        drop(seedsim::task::spawn(serve(log, map, queue, durability)));
        Ok(Store { commands })
    }

    /// Set `key` to `value`; returns once the store acknowledges it.
    ///
    /// # Errors
    /// What the disk reported, or `BrokenPipe` if the storage task is gone.
    pub async fn put(&self, key: String, value: u64) -> io::Result<()> {
        let (done, answer) = oneshot::channel();
        self.commands.send(Command::Put { key, value, done }).await.map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }

    /// The value of `key`, if it was ever set.
    ///
    /// # Errors
    /// `BrokenPipe` if the storage task is gone.
    pub async fn get(&self, key: String) -> io::Result<Option<u64>> {
        let (done, answer) = oneshot::channel();
        self.commands.send(Command::Get { key, done }).await.map_err(|_| gone())?;
        answer.await.map_err(|_| gone())
    }
}

fn gone() -> io::Error {
    io::Error::new(io::ErrorKind::BrokenPipe, "the storage task stopped")
}

/// The storage task: one request at a time, in arrival order.
async fn serve(log: File, mut map: BTreeMap<String, u64>, mut queue: mpsc::Receiver<Command>, durability: Durability) {
    let mut unsynced = 0u32;
    while let Some(command) = queue.recv().await {
        match command {
            Command::Get { key, done } => {
                let _ = done.send(map.get(&key).copied());
            }
            Command::Put { key, value, done } => {
                let written = async {
                    log.append(format!("{key} {value}\n").as_bytes()).await?;
                    unsynced += 1;
                    if durability == Durability::SyncEachPut || unsynced == 4 {
                        log.sync_data().await?;
                        unsynced = 0;
                    }
                    Ok(())
                }
                .await;
                if written.is_ok() {
                    map.insert(key, value);
                }
                let _ = done.send(written);
            }
        }
    }
}
