//! What the nodes and clients say to each other: one request type per RPC method, the
//! responses, and the JSON codec that puts them on the wire. Nothing here depends on how the
//! bytes travel, so `peers/openraft` (the same cluster on turmoil) shares this file.

use openraft::raft::{AppendEntriesRequest, AppendEntriesResponse, SnapshotResponse, VoteRequest, VoteResponse};
use seedsim::rpc::Codec;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::types::Data;
use crate::types::{Request, SnapshotMeta, TypeConfig, Vote};

/// Every message as JSON: what a real deployment would put on the wire.
pub struct Json;

impl<T: Serialize + DeserializeOwned> Codec<T> for Json {
    fn encode(&self, value: &T, out: &mut Vec<u8>) {
        serde_json::to_writer(out, value).expect("the cluster's messages serialize");
    }

    fn decode(&self, bytes: &[u8]) -> Result<T, String> {
        serde_json::from_slice(bytes).map_err(|err| err.to_string())
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Append(pub AppendEntriesRequest<TypeConfig>);
impl seedsim::rpc::Request for Append {
    type Response = AppendEntriesResponse<TypeConfig>;
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RequestVote(pub VoteRequest<TypeConfig>);
impl seedsim::rpc::Request for RequestVote {
    type Response = VoteResponse<TypeConfig>;
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct InstallSnapshot {
    pub vote: Vote,
    pub meta: SnapshotMeta,
    pub data: Data,
}
impl seedsim::rpc::Request for InstallSnapshot {
    type Response = SnapshotResponse<TypeConfig>;
}

/// A client's write.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Put(pub Request);
impl seedsim::rpc::Request for Put {
    type Response = Reply;
}

/// A client's linearizable read of a key.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Get(pub u64);
impl seedsim::rpc::Request for Get {
    type Response = Reply;
}

/// A node's answer to a client.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Reply {
    /// Done: for a write, applied; for a read, the value.
    Done(Option<u64>),
    /// Not the leader, so nothing was done; the leader's address if known.
    NotLeader(Option<String>),
    /// Something else went wrong: a write may or may not take effect.
    Error(String),
}
