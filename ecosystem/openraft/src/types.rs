//! The cluster's openraft type config, its requests and responses, and the aliases the rest
//! of the crate uses.

use std::fmt;

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
    /// openraft's types for this cluster: seedsim is its runtime.
    pub TypeConfig:
        D = Request,
        R = Response,
        AsyncRuntime = seedsim::compat::openraft::SeedsimRuntime,
);

pub type NodeId = u64;
pub type Raft = openraft::Raft<TypeConfig, crate::store::StateMachine>;
pub type Entry = openraft::type_config::alias::EntryOf<TypeConfig>;
pub type LogId = openraft::type_config::alias::LogIdOf<TypeConfig>;
pub type Vote = openraft::type_config::alias::VoteOf<TypeConfig>;
pub type StoredMembership = openraft::type_config::alias::StoredMembershipOf<TypeConfig>;
pub type SnapshotMeta = openraft::type_config::alias::SnapshotMetaOf<TypeConfig>;
pub type Snapshot = openraft::type_config::alias::SnapshotOf<TypeConfig, crate::store::Data>;
