//! A node: openraft on seedsim's disk, talking to its peers over seedsim's TCP with
//! seedsim's RPC (JSON on the wire), and serving clients' writes and linearizable reads.
//! The same code runs in a simulation and, on seedsim's real backend, on loopback.

use std::collections::BTreeMap;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use openraft::error::{RPCError, ReplicationClosed, StreamingError, Unreachable};
use openraft::network::{RPCOption, RaftNetworkFactory};
use openraft::raft::{AppendEntriesRequest, AppendEntriesResponse, SnapshotResponse, VoteRequest, VoteResponse};
use openraft::storage::Snapshot as RaftSnapshot;
use openraft::{BasicNode, RaftNetworkV2, ReadPolicy};
use seedsim::net::TcpListener;
use seedsim::rpc::{Client, RpcError, Server};

use crate::store::{LogStore, StateMachine};
use crate::types::Data;
use crate::types::{NodeId, Raft, Request, TypeConfig, Vote};
use crate::wire::{Append, Get, InstallSnapshot, Json, Put, Reply, RequestVote};
use crate::Variant;

/// The RPC timeout between nodes when openraft gives none shorter.
const PEER_TIMEOUT: Duration = Duration::from_secs(1);

/// The port every node listens on in a simulation (each node has its own address).
pub const PORT: u16 = 5000;

/// `host:port` to what seedsim's `Client::new` takes.
pub fn address(addr: &str) -> (String, u16) {
    let (host, port) = addr.rsplit_once(':').expect("a node address is host:port");
    (host.to_owned(), port.parse().expect("a node address's port is a number"))
}

/// How openraft reaches a peer.
pub struct Network;

impl RaftNetworkFactory<TypeConfig> for Network {
    type Network = Peer;

    async fn new_client(&mut self, _target: NodeId, node: &BasicNode) -> Peer {
        Peer { client: Client::new(address(&node.addr)) }
    }
}

pub struct Peer {
    client: Client,
}

fn unreachable(err: RpcError) -> Unreachable<TypeConfig> {
    Unreachable::new(&err)
}

fn ttl(option: &RPCOption) -> Duration {
    option.hard_ttl().min(PEER_TIMEOUT)
}

impl RaftNetworkV2<TypeConfig> for Peer {
    type SnapshotData = Data;

    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<TypeConfig>, RPCError<TypeConfig>> {
        let reply = self.client.call_with_codec("append", &Json, Append(rpc), ttl(&option)).await;
        reply.map_err(|err| RPCError::Unreachable(unreachable(err)))
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<VoteResponse<TypeConfig>, RPCError<TypeConfig>> {
        let reply = self.client.call_with_codec("vote", &Json, RequestVote(rpc), ttl(&option)).await;
        reply.map_err(|err| RPCError::Unreachable(unreachable(err)))
    }

    async fn full_snapshot(
        &mut self,
        vote: Vote,
        snapshot: crate::types::Snapshot,
        _cancel: impl std::future::Future<Output = ReplicationClosed> + 'static,
        option: RPCOption,
    ) -> Result<SnapshotResponse<TypeConfig>, StreamingError<TypeConfig>> {
        let request = InstallSnapshot { vote, meta: snapshot.meta, data: snapshot.snapshot };
        let reply = self.client.call_with_codec("snapshot", &Json, request, ttl(&option)).await;
        reply.map_err(|err| StreamingError::Unreachable(unreachable(err)))
    }
}

/// The cluster: node ids and addresses.
#[derive(Clone, Debug)]
pub struct Cluster {
    pub nodes: BTreeMap<NodeId, String>,
}

impl Cluster {
    /// Three nodes named `n1`..`n3` in a simulation, listening on [`PORT`].
    pub fn simulated() -> Cluster {
        Cluster { nodes: (1..=3).map(|id| (id, format!("n{id}:{PORT}"))).collect() }
    }

    /// Three nodes on loopback, on `port`, `port + 1` and `port + 2`.
    pub fn loopback(port: u16) -> Cluster {
        Cluster { nodes: (1..=3).map(|id| (id, format!("127.0.0.1:{}", port + id as u16 - 1))).collect() }
    }
}

/// A node's main: open its storage, start openraft, initialize the cluster if this is node 1
/// on an empty disk, and serve peers and clients. Runs until its node crashes (or, on the
/// real backend, for ever).
pub async fn node(id: NodeId, cluster: Cluster, variant: Variant) -> io::Result<()> {
    let Some(log) = LogStore::open(variant).await? else {
        // The log is corrupt: serving from it could break what it promised. Stay down (an
        // operator would rebuild this node); the other two carry on.
        return std::future::pending().await;
    };
    let fresh = log.is_empty();
    let state_machine = StateMachine::open().await?;
    let data = state_machine.data.clone();
    let raft = Raft::new(id, Arc::new(crate::types::config()?), Network, log, state_machine)
        .await
        .map_err(io::Error::other)?;
    let addr = &cluster.nodes[&id];
    let listener = TcpListener::bind(("0.0.0.0", address(addr).1)).await?;
    if id == 1 && fresh {
        let members: BTreeMap<NodeId, BasicNode> =
            cluster.nodes.iter().map(|(&id, addr)| (id, BasicNode { addr: addr.clone() })).collect();
        // Already initialized (this node's first start was lost to a crash, but a peer kept
        // the membership): nothing to do.
        let _ = raft.initialize(members).await;
    }
    let server = Server::new()
        .handle_with_codec("append", Json, {
            let raft = raft.clone();
            move |Append(rpc)| {
                let raft = raft.clone();
                async move { raft.append_entries(rpc).await.map_err(|err| err.to_string()) }
            }
        })
        .handle_with_codec("vote", Json, {
            let raft = raft.clone();
            move |RequestVote(rpc)| {
                let raft = raft.clone();
                async move { raft.vote(rpc).await.map_err(|err| err.to_string()) }
            }
        })
        .handle_with_codec("snapshot", Json, {
            let raft = raft.clone();
            move |request: InstallSnapshot| {
                let raft = raft.clone();
                async move {
                    let snapshot = RaftSnapshot { meta: request.meta, snapshot: request.data };
                    raft.install_full_snapshot(request.vote, snapshot).await.map_err(|err| err.to_string())
                }
            }
        })
        .handle_with_codec("put", Json, {
            let raft = raft.clone();
            move |Put(request)| {
                let raft = raft.clone();
                async move { Ok::<_, String>(put(&raft, request).await) }
            }
        })
        .handle_with_codec("get", Json, {
            let raft = raft.clone();
            move |Get(key)| {
                let (raft, data) = (raft.clone(), data.clone());
                async move {
                    Ok::<_, String>(match raft.ensure_linearizable(ReadPolicy::ReadIndex).await {
                        Ok(_) => Reply::Done(data.borrow().kv.get(&key).copied()),
                        Err(err) => match err.forward_to_leader() {
                            Some(forward) => Reply::NotLeader(forward.leader_node.as_ref().map(|n| n.addr.clone())),
                            None => Reply::Error(err.to_string()),
                        },
                    })
                }
            }
        });
    // openraft stops for good on a storage error (a disk fault): exit then, as a real
    // process would, and let the supervisor restart the node from its disk.
    let fatal = std::pin::pin!(until_fatal(raft.clone()));
    let serve = std::pin::pin!(server.serve(listener));
    match futures_util::future::select(serve, fatal).await {
        futures_util::future::Either::Left((served, _)) => served,
        futures_util::future::Either::Right((fatal, _)) => Err(fatal),
    }
}

/// Waits until openraft reports that it stopped.
async fn until_fatal(raft: Raft) -> io::Error {
    use openraft::async_runtime::WatchReceiver;
    let mut metrics = raft.metrics();
    loop {
        if let Err(fatal) = &metrics.borrow_watched().running_state {
            return io::Error::other(format!("openraft stopped: {fatal}"));
        }
        if metrics.changed().await.is_err() {
            return io::Error::other("openraft stopped");
        }
    }
}

async fn put(raft: &Raft, request: Request) -> Reply {
    match raft.client_write(request).await {
        Ok(response) => Reply::Done(response.data.previous),
        Err(err) => match err.forward_to_leader() {
            Some(forward) => Reply::NotLeader(forward.leader_node.as_ref().map(|n| n.addr.clone())),
            None => Reply::Error(err.to_string()),
        },
    }
}
