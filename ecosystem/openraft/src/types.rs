//! The cluster's openraft type config and settings, its requests and responses, and the
//! aliases the rest of the crate uses. The runtime is the crate's `Runtime` (seedsim's here),
//! so `peers/openraft` (the same cluster on turmoil, with openraft's tokio runtime) shares
//! this file.

use std::collections::BTreeMap;
use std::fmt;
use std::io;

use openraft::{Config, EntryPayload, SnapshotPolicy};

use serde::{Deserialize, Serialize};

/// A write: set `key` to `value`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    pub key: u64,
    pub value: u64,
}

impl fmt::Display for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "set {}={}", self.key, self.value)
    }
}

/// What a write returns once applied: the value it replaced.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Response {
    pub previous: Option<u64>,
}

openraft::declare_raft_types!(
    /// openraft's types for this cluster, on the crate's runtime.
    pub TypeConfig:
        D = Request,
        R = Response,
        AsyncRuntime = crate::Runtime,
);

pub type NodeId = u64;
pub type Raft = openraft::Raft<TypeConfig, crate::store::StateMachine>;
pub type Entry = openraft::type_config::alias::EntryOf<TypeConfig>;
pub type LogId = openraft::type_config::alias::LogIdOf<TypeConfig>;
pub type Vote = openraft::type_config::alias::VoteOf<TypeConfig>;
pub type StoredMembership = openraft::type_config::alias::StoredMembershipOf<TypeConfig>;
pub type SnapshotMeta = openraft::type_config::alias::SnapshotMetaOf<TypeConfig>;
pub type Snapshot = openraft::type_config::alias::SnapshotOf<TypeConfig, Data>;

/// What a snapshot holds, and the state machine's own state.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Data {
    pub last_applied: Option<LogId>,
    pub membership: StoredMembership,
    pub kv: BTreeMap<u64, u64>,
}

impl Data {
    /// Apply one committed entry: the state machine's whole meaning, whichever store keeps it.
    pub fn apply(&mut self, entry: Entry) -> Response {
        self.last_applied = Some(entry.log_id);
        match entry.payload {
            EntryPayload::Blank => Response { previous: None },
            EntryPayload::Normal(request) => Response { previous: self.kv.insert(request.key, request.value) },
            EntryPayload::Membership(membership) => {
                self.membership = StoredMembership::new(Some(entry.log_id), membership);
                Response { previous: None }
            }
        }
    }
}

/// openraft's settings: quick elections and heartbeats, and a snapshot every few entries with
/// the log purged behind it, so snapshots are installed on lagging followers in every run.
pub fn config() -> io::Result<Config> {
    Config {
        cluster_name: "raftkv".to_owned(),
        heartbeat_interval: 50,
        election_timeout_min: 150,
        election_timeout_max: 300,
        snapshot_policy: SnapshotPolicy::LogsSinceLast(8),
        max_in_snapshot_log_to_keep: 0,
        purge_batch_size: 1,
        ..Config::default()
    }
    .validate()
    .map_err(io::Error::other)
}
