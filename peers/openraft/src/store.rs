//! A node's storage in memory: openraft's log store (its vote, its log, its committed id) and
//! the state machine (a map from key to value) with its last snapshot. turmoil simulates no
//! disk in the form seedsim does, so nothing here is written anywhere or takes simulated
//! time; what `ecosystem/openraft/src/store.rs` writes to seedsim's disk as JSON records is
//! kept here as values. The state machine applies entries as raftkv's does.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::io;
use std::ops::RangeBounds;
use std::rc::Rc;

use openraft::storage::{EntryResponder, IOFlushed, LogState, RaftLogStorage, RaftStateMachine};
use openraft::{RaftLogReader, RaftSnapshotBuilder};

use crate::types::{Data, Entry, LogId, Snapshot, SnapshotMeta, StoredMembership, TypeConfig, Vote};

/// The log store's state. No borrow of it is held across an await.
#[derive(Default)]
struct LogData {
    vote: Option<Vote>,
    committed: Option<LogId>,
    last_purged: Option<LogId>,
    entries: BTreeMap<u64, Entry>,
}

/// The log store, and its reader (a clone: they share the data).
#[derive(Clone, Default)]
pub struct LogStore {
    data: Rc<RefCell<LogData>>,
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + std::fmt::Debug>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, io::Error> {
        Ok(self.data.borrow().entries.range(range).map(|(_, entry)| entry.clone()).collect())
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
        self.data.borrow_mut().vote = Some(*vote);
        Ok(())
    }

    async fn save_committed(&mut self, committed: Option<LogId>) -> Result<(), io::Error> {
        self.data.borrow_mut().committed = committed;
        Ok(())
    }

    async fn read_committed(&mut self) -> Result<Option<LogId>, io::Error> {
        Ok(self.data.borrow().committed)
    }

    async fn append<I>(&mut self, entries: I, callback: IOFlushed<TypeConfig>) -> Result<(), io::Error>
    where
        I: IntoIterator<Item = Entry>,
    {
        self.data.borrow_mut().entries.extend(entries.into_iter().map(|entry| (entry.log_id.index, entry)));
        callback.io_completed(Ok(()));
        Ok(())
    }

    async fn truncate_after(&mut self, last_log_id: Option<LogId>) -> Result<(), io::Error> {
        let from = last_log_id.map_or(0, |id| id.index + 1);
        self.data.borrow_mut().entries.split_off(&from);
        Ok(())
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), io::Error> {
        let mut data = self.data.borrow_mut();
        data.entries = data.entries.split_off(&(log_id.index + 1));
        data.last_purged = Some(log_id);
        Ok(())
    }
}

/// The state machine: the data, and the last snapshot. Shared with the node's read handler.
#[derive(Clone, Default)]
pub struct StateMachine {
    pub data: Rc<RefCell<Data>>,
    snapshot: Rc<RefCell<Option<(SnapshotMeta, Data)>>>,
}

impl RaftSnapshotBuilder<TypeConfig> for StateMachine {
    type SnapshotData = Data;

    async fn build_snapshot(&mut self) -> Result<Snapshot, io::Error> {
        let data = self.data.borrow().clone();
        let meta = SnapshotMeta { last_log_id: data.last_applied, last_membership: data.membership.clone() };
        *self.snapshot.borrow_mut() = Some((meta.clone(), data.clone()));
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
        *self.snapshot.borrow_mut() = Some((meta.clone(), snapshot.clone()));
        *self.data.borrow_mut() = snapshot;
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot>, io::Error> {
        Ok(self
            .snapshot
            .borrow()
            .as_ref()
            .map(|(meta, data)| openraft::storage::Snapshot { meta: meta.clone(), snapshot: data.clone() }))
    }
}
