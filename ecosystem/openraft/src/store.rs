//! The node's storage on seedsim's disk: openraft's log store (its vote, its log, its
//! committed id) as an append-only file of JSON records, and the state machine (a map from
//! key to value) whose snapshots are files.
//!
//! A record is a line: a checksum and the record's JSON. A crash keeps what was synced and may
//! tear what was not, so recovery reads records up to the first bad one and drops a torn tail.
//! A bad record followed by a good one is not a torn tail but corruption (a misdirected
//! write, a flipped bit): the node then refuses to start rather than serve from a log that
//! lost acknowledged records. Nothing is acknowledged to openraft before it is synced,
//! except, in the buggy variant, the vote ([`Variant::Buggy`]).

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::io;
use std::ops::RangeBounds;
use std::rc::Rc;

use openraft::storage::{EntryResponder, IOFlushed, LogState, RaftLogStorage, RaftStateMachine};
use openraft::{RaftLogReader, RaftSnapshotBuilder};
use seedsim::fs::File;
use serde::{Deserialize, Serialize};

use crate::types::{Data, Entry, LogId, SnapshotMeta, StoredMembership, TypeConfig, Vote};
use crate::Variant;

const LOG_PATH: &str = "raft/log";
const SNAPSHOT_PATH: &str = "raft/snapshot";
const SNAPSHOT_TMP: &str = "raft/snapshot.tmp";

/// One line of the log file.
#[derive(Serialize, Deserialize)]
enum Record {
    Vote(Vote),
    Committed(Option<LogId>),
    Entry(Entry),
    /// Entries after this log id (or all, for `None`) are gone.
    TruncateAfter(Option<LogId>),
    /// Entries up to this log id are gone.
    Purge(LogId),
}

/// A record's line: its JSON's checksum (FNV-1a, 16 hex digits), a space, the JSON, `\n`.
fn encode(record: &Record, out: &mut Vec<u8>) -> io::Result<()> {
    let json = serde_json::to_vec(record).map_err(io::Error::other)?;
    out.extend_from_slice(format!("{:016x} ", checksum(&json)).as_bytes());
    out.extend_from_slice(&json);
    out.push(b'\n');
    Ok(())
}

/// The record on a line, if the line is whole and its checksum matches.
fn decode(line: &[u8]) -> Option<Record> {
    let line = line.strip_suffix(b"\n")?;
    let (sum, json) = (line.get(..16)?, line.get(17..)?);
    let sum = u64::from_str_radix(std::str::from_utf8(sum).ok()?, 16).ok()?;
    (sum == checksum(json)).then(|| serde_json::from_slice(json).ok()).flatten()
}

fn checksum(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

/// What the log file says, in memory.
#[derive(Default)]
struct LogData {
    vote: Option<Vote>,
    committed: Option<LogId>,
    last_purged: Option<LogId>,
    entries: BTreeMap<u64, Entry>,
}

impl LogData {
    fn apply(&mut self, record: Record) {
        match record {
            Record::Vote(vote) => self.vote = Some(vote),
            Record::Committed(committed) => self.committed = committed,
            Record::Entry(entry) => {
                self.entries.insert(entry.log_id.index, entry);
            }
            Record::TruncateAfter(after) => {
                let from = after.map_or(0, |id| id.index + 1);
                self.entries.split_off(&from);
            }
            Record::Purge(upto) => {
                self.entries = self.entries.split_off(&(upto.index + 1));
                self.last_purged = Some(upto);
            }
        }
    }
}

/// The log store, and its reader (a clone: they share the file and the cache). No borrow of
/// the cache is held across an await: replication tasks read it while a write waits on the
/// disk.
#[derive(Clone)]
pub struct LogStore {
    file: Rc<File>,
    data: Rc<RefCell<LogData>>,
    variant: Variant,
}

impl LogStore {
    /// Open the log, replaying what survived; `None` if it is corrupt.
    pub async fn open(variant: Variant) -> io::Result<Option<LogStore>> {
        let file = File::open_or_create(LOG_PATH).await?;
        let mut bytes = vec![0; file.metadata().await?.len() as usize];
        file.read_exact_at(&mut bytes, 0).await?;
        let mut data = LogData::default();
        let mut valid = 0;
        let mut lines = bytes.split_inclusive(|&b| b == b'\n');
        for line in lines.by_ref() {
            let Some(record) = decode(line) else { break };
            data.apply(record);
            valid += line.len();
        }
        // After the first bad record, only a torn tail (never acknowledged) may follow.
        if lines.any(|line| decode(line).is_some()) {
            return Ok(None);
        }
        // Cut the torn tail so later appends follow the last good record.
        file.set_len(valid as u64).await?;
        file.sync_all().await?;
        Ok(Some(LogStore { file: Rc::new(file), data: Rc::new(RefCell::new(data)), variant }))
    }

    /// Append records and sync them, then apply them to the cache: durable when this returns.
    /// Only openraft's storage task writes, one call after another.
    async fn persist(&self, records: Vec<Record>) -> io::Result<()> {
        let mut bytes = Vec::new();
        for record in &records {
            encode(record, &mut bytes)?;
        }
        self.file.append(&bytes).await?;
        self.file.sync_data().await?;
        let mut data = self.data.borrow_mut();
        for record in records {
            data.apply(record);
        }
        Ok(())
    }

    /// True for a disk this node never wrote to.
    pub fn is_empty(&self) -> bool {
        let data = self.data.borrow();
        data.vote.is_none() && data.entries.is_empty() && data.last_purged.is_none()
    }

    fn entries<RB: RangeBounds<u64>>(&self, range: RB) -> Vec<Entry> {
        self.data.borrow().entries.range(range).map(|(_, entry)| entry.clone()).collect()
    }
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + std::fmt::Debug>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, io::Error> {
        Ok(self.entries(range))
    }

    async fn read_vote(&mut self) -> Result<Option<Vote>, io::Error> {
        Ok(self.data.borrow().vote)
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogStore;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, io::Error> {
        let data = self.data.borrow();
        let last_purged_log_id = data.last_purged;
        let last_log_id = data.entries.values().next_back().map(|entry| entry.log_id).or(last_purged_log_id);
        Ok(LogState { last_purged_log_id, last_log_id })
    }

    async fn get_log_reader(&mut self) -> LogStore {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote) -> Result<(), io::Error> {
        match self.variant {
            Variant::Fixed => self.persist(vec![Record::Vote(*vote)]).await,
            // THE BUG: the vote is kept in memory only. After a crash the node has forgotten
            // whom it voted for in this term (and the term), so it can vote twice in a term
            // and help elect two leaders of one term.
            Variant::Buggy => {
                self.data.borrow_mut().vote = Some(*vote);
                Ok(())
            }
        }
    }

    async fn save_committed(&mut self, committed: Option<LogId>) -> Result<(), io::Error> {
        self.persist(vec![Record::Committed(committed)]).await
    }

    async fn read_committed(&mut self) -> Result<Option<LogId>, io::Error> {
        Ok(self.data.borrow().committed)
    }

    async fn append<I>(&mut self, entries: I, callback: IOFlushed<TypeConfig>) -> Result<(), io::Error>
    where
        I: IntoIterator<Item = Entry>,
    {
        let records = entries.into_iter().map(Record::Entry).collect();
        let result = self.persist(records).await;
        let reported = result.as_ref().map(|_| ()).map_err(|err| io::Error::new(err.kind(), err.to_string()));
        callback.io_completed(reported);
        result
    }

    async fn truncate_after(&mut self, last_log_id: Option<LogId>) -> Result<(), io::Error> {
        self.persist(vec![Record::TruncateAfter(last_log_id)]).await
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), io::Error> {
        self.persist(vec![Record::Purge(log_id)]).await
    }
}

/// A snapshot on disk: its meta and the data.
#[derive(Serialize, Deserialize)]
struct StoredSnapshot {
    meta: SnapshotMeta,
    data: Data,
}

/// The state machine: the data in memory, the last snapshot on disk. Shared with the node's
/// read handler, which reads `kv` after a linearizable read barrier.
#[derive(Clone)]
pub struct StateMachine {
    pub data: Rc<RefCell<Data>>,
    snapshot: Rc<RefCell<Option<StoredSnapshot>>>,
}

impl StateMachine {
    /// The state machine as the last durable snapshot left it (openraft replays the log
    /// after it).
    pub async fn open() -> io::Result<StateMachine> {
        let snapshot = match seedsim::fs::read(SNAPSHOT_PATH).await {
            Ok(bytes) => Some(serde_json::from_slice::<StoredSnapshot>(&bytes).map_err(io::Error::other)?),
            Err(err) if err.kind() == io::ErrorKind::NotFound => None,
            Err(err) => return Err(err),
        };
        let data = snapshot.as_ref().map(|s| s.data.clone()).unwrap_or_default();
        Ok(StateMachine { data: Rc::new(RefCell::new(data)), snapshot: Rc::new(RefCell::new(snapshot)) })
    }

    /// Write a snapshot durably: a new file, synced, renamed over the old one.
    async fn store(&self, stored: StoredSnapshot) -> io::Result<()> {
        let bytes = serde_json::to_vec(&stored).map_err(io::Error::other)?;
        let file = File::create(SNAPSHOT_TMP).await?;
        file.write_at(&bytes, 0).await?;
        file.sync_all().await?;
        seedsim::fs::rename(SNAPSHOT_TMP, SNAPSHOT_PATH).await?;
        seedsim::fs::sync_dir("raft").await?;
        *self.snapshot.borrow_mut() = Some(stored);
        Ok(())
    }
}

impl RaftSnapshotBuilder<TypeConfig> for StateMachine {
    type SnapshotData = Data;

    async fn build_snapshot(&mut self) -> Result<crate::types::Snapshot, io::Error> {
        let data = self.data.borrow().clone();
        let meta = SnapshotMeta { last_log_id: data.last_applied, last_membership: data.membership.clone() };
        self.store(StoredSnapshot { meta: meta.clone(), data: data.clone() }).await?;
        Ok(openraft::storage::Snapshot { meta, snapshot: data })
    }
}

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotData = Data;
    type SnapshotBuilder = StateMachine;

    async fn applied_state(&mut self) -> Result<(Option<LogId>, StoredMembership), io::Error> {
        let data = self.data.borrow();
        Ok((data.last_applied, data.membership.clone()))
    }

    async fn apply<Strm>(&mut self, mut entries: Strm) -> Result<(), io::Error>
    where
        Strm: futures_util::Stream<Item = Result<EntryResponder<TypeConfig>, io::Error>> + Unpin,
    {
        use futures_util::StreamExt;
        while let Some(item) = entries.next().await {
            let (entry, responder) = item?;
            let response = self.data.borrow_mut().apply(entry);
            if let Some(responder) = responder {
                responder.send(response);
            }
        }
        Ok(())
    }

    async fn get_snapshot_builder(&mut self) -> StateMachine {
        self.clone()
    }

    async fn install_snapshot(&mut self, meta: &SnapshotMeta, snapshot: Data) -> Result<(), io::Error> {
        self.store(StoredSnapshot { meta: meta.clone(), data: snapshot.clone() }).await?;
        *self.data.borrow_mut() = snapshot;
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<crate::types::Snapshot>, io::Error> {
        Ok(self
            .snapshot
            .borrow()
            .as_ref()
            .map(|s| openraft::storage::Snapshot { meta: s.meta.clone(), snapshot: s.data.clone() }))
    }
}
