//! A node on turmoil: openraft on its tokio runtime, talking to its peers over turmoil's
//! simulated TCP, and serving clients' writes and linearizable reads; the port of
//! `ecosystem/openraft/src/node.rs`. The messages and their JSON codec are raftkv's
//! (`wire.rs`); the framing is this file's: seedsim's RPC does not run on turmoil.
//!
//! A request frame is `length u32 BE | method u8 | JSON`; a reply frame is
//! `length u32 BE | status u8 | body`, the body the response's JSON (status `OK`) or the
//! handler's error message. A connection carries one call at a time, as openraft makes its
//! calls to one peer one after another, and a client opens one per attempt, as raftkv's do.

use std::collections::BTreeMap;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use openraft::error::{RPCError, ReplicationClosed, StreamingError, Unreachable};
use openraft::network::{RPCOption, RaftNetworkFactory};
use openraft::raft::{AppendEntriesRequest, AppendEntriesResponse, SnapshotResponse, VoteRequest, VoteResponse};
use openraft::storage::Snapshot as RaftSnapshot;
use openraft::{BasicNode, RaftNetworkV2, ReadPolicy};
use seedsim::rpc::{Codec, Request};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use turmoil::net::{TcpListener, TcpStream};

use crate::store::{LogStore, StateMachine};
use crate::types::Data;
use crate::types::{NodeId, Raft, Snapshot, TypeConfig, Vote};
use crate::wire::{Append, Get, InstallSnapshot, Json, Put, Reply, RequestVote};

/// The methods, one byte each on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Method {
    Append = 1,
    Vote = 2,
    Snapshot = 3,
    Put = 4,
    Get = 5,
}

impl Method {
    fn from_byte(byte: u8) -> Option<Method> {
        [Method::Append, Method::Vote, Method::Snapshot, Method::Put, Method::Get]
            .into_iter()
            .find(|&m| m as u8 == byte)
    }
}

const OK: u8 = 0;
const HANDLER_ERROR: u8 = 1;
/// The largest frame body accepted: a longer length means a broken stream.
const BODY_MAX: usize = 64 << 20;

/// The RPC timeout between nodes when openraft gives none shorter (raftkv's `PEER_TIMEOUT`).
const PEER_TIMEOUT: Duration = Duration::from_secs(1);

/// The port every node listens on (each node is its own turmoil host).
pub const PORT: u16 = 5000;

/// Why a call failed.
#[derive(Debug)]
pub enum CallError {
    /// No connection: the call was certainly not delivered.
    Unreachable(io::Error),
    /// Sent, or maybe sent, and no answer (a reset, a timeout, an undecodable reply).
    Lost(String),
    /// The handler answered with an error.
    Handler(String),
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::Unreachable(err) => write!(f, "unreachable: {err}"),
            CallError::Lost(err) => write!(f, "no answer: {err}"),
            CallError::Handler(err) => write!(f, "handler error: {err}"),
        }
    }
}

impl std::error::Error for CallError {}

async fn write_frame(stream: &mut TcpStream, tag: u8, body: &[u8]) -> io::Result<()> {
    let mut frame = Vec::with_capacity(5 + body.len());
    frame.extend_from_slice(&(body.len() as u32).to_be_bytes());
    frame.push(tag);
    frame.extend_from_slice(body);
    stream.write_all(&frame).await?;
    stream.flush().await
}

async fn read_frame(stream: &mut TcpStream) -> io::Result<(u8, Vec<u8>)> {
    let mut header = [0u8; 5];
    stream.read_exact(&mut header).await?;
    let len = u32::from_be_bytes(header[..4].try_into().expect("four bytes")) as usize;
    if len > BODY_MAX {
        return Err(io::Error::new(io::ErrorKind::InvalidData, format!("a frame of {len} bytes")));
    }
    let mut body = vec![0; len];
    stream.read_exact(&mut body).await?;
    Ok((header[4], body))
}

/// One call on `slot`'s connection (opened if there is none), within `timeout`. The
/// connection is dropped after any failure, so a late reply never answers the next call.
pub async fn call<R>(
    slot: &mut Option<TcpStream>,
    addr: &str,
    method: Method,
    request: R,
    timeout: Duration,
) -> Result<R::Response, CallError>
where
    R: Request,
    Json: Codec<R> + Codec<R::Response>,
{
    let mut bytes = Vec::new();
    Codec::<R>::encode(&Json, &request, &mut bytes);
    let exchange = async {
        if slot.is_none() {
            *slot = Some(TcpStream::connect(addr).await.map_err(CallError::Unreachable)?);
        }
        let stream = slot.as_mut().expect("connected above");
        write_frame(stream, method as u8, &bytes).await.map_err(|err| CallError::Lost(err.to_string()))?;
        read_frame(stream).await.map_err(|err| CallError::Lost(err.to_string()))
    };
    let result = match tokio::time::timeout(timeout, exchange).await {
        Ok(Ok((OK, body))) => Codec::<R::Response>::decode(&Json, &body).map_err(CallError::Lost),
        Ok(Ok((_, body))) => Err(CallError::Handler(String::from_utf8_lossy(&body).into_owned())),
        Ok(Err(err)) => Err(err),
        Err(_) => Err(CallError::Lost("timed out".to_owned())),
    };
    if result.is_err() {
        *slot = None;
    }
    result
}

/// How openraft reaches a peer.
pub struct Network;

impl RaftNetworkFactory<TypeConfig> for Network {
    type Network = Peer;

    async fn new_client(&mut self, _target: NodeId, node: &BasicNode) -> Peer {
        Peer { addr: node.addr.clone(), stream: None }
    }
}

/// One peer's connection, opened on the first call and reopened after a failure.
pub struct Peer {
    addr: String,
    stream: Option<TcpStream>,
}

fn ttl(option: &RPCOption) -> Duration {
    option.hard_ttl().min(PEER_TIMEOUT)
}

fn unreachable(err: CallError) -> Unreachable<TypeConfig> {
    Unreachable::new(&err)
}

impl RaftNetworkV2<TypeConfig> for Peer {
    type SnapshotData = Data;

    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<TypeConfig>, RPCError<TypeConfig>> {
        let reply = call(&mut self.stream, &self.addr, Method::Append, Append(rpc), ttl(&option)).await;
        reply.map_err(|err| RPCError::Unreachable(unreachable(err)))
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<VoteResponse<TypeConfig>, RPCError<TypeConfig>> {
        let reply = call(&mut self.stream, &self.addr, Method::Vote, RequestVote(rpc), ttl(&option)).await;
        reply.map_err(|err| RPCError::Unreachable(unreachable(err)))
    }

    async fn full_snapshot(
        &mut self,
        vote: Vote,
        snapshot: Snapshot,
        _cancel: impl std::future::Future<Output = ReplicationClosed> + 'static,
        option: RPCOption,
    ) -> Result<SnapshotResponse<TypeConfig>, StreamingError<TypeConfig>> {
        let request = InstallSnapshot { vote, meta: snapshot.meta, data: snapshot.snapshot };
        let reply = call(&mut self.stream, &self.addr, Method::Snapshot, request, ttl(&option)).await;
        reply.map_err(|err| StreamingError::Unreachable(unreachable(err)))
    }
}

/// The cluster: node ids and addresses, `n1:5000`..`n3:5000` as in raftkv's simulation.
pub fn cluster() -> BTreeMap<NodeId, String> {
    (1..=3).map(|id| (id, format!("n{id}:{PORT}"))).collect()
}

/// A node's main: start openraft on fresh storage, initialize the cluster if this is node 1,
/// and serve peers and clients, one task per connection, for ever.
pub async fn node(id: NodeId) -> turmoil::Result {
    let state_machine = StateMachine::default();
    let data = state_machine.data.clone();
    let raft = Raft::new(id, Arc::new(crate::types::config()?), Network, LogStore::default(), state_machine).await?;
    let listener = TcpListener::bind(("0.0.0.0", PORT)).await?;
    if id == 1 {
        let members: BTreeMap<NodeId, BasicNode> =
            cluster().into_iter().map(|(id, addr)| (id, BasicNode { addr })).collect();
        raft.initialize(members).await?;
    }
    loop {
        let (stream, _) = listener.accept().await?;
        tokio::task::spawn_local(serve(stream, raft.clone(), data.clone()));
    }
}

/// Answer the calls on one connection until it closes.
async fn serve(mut stream: TcpStream, raft: Raft, data: std::rc::Rc<std::cell::RefCell<Data>>) {
    // The handlers' futures borrow these.
    let (raft, data) = (&raft, &data);
    while let Ok((method, body)) = read_frame(&mut stream).await {
        let mut reply = Vec::new();
        let handled = match Method::from_byte(method) {
            Some(Method::Append) => {
                handle(&body, &mut reply, |Append(rpc)| async move {
                    raft.append_entries(rpc).await.map_err(|err| err.to_string())
                })
                .await
            }
            Some(Method::Vote) => {
                handle(&body, &mut reply, |RequestVote(rpc)| async move {
                    raft.vote(rpc).await.map_err(|err| err.to_string())
                })
                .await
            }
            Some(Method::Snapshot) => {
                handle(&body, &mut reply, |request: InstallSnapshot| async move {
                    let snapshot = RaftSnapshot { meta: request.meta, snapshot: request.data };
                    raft.install_full_snapshot(request.vote, snapshot).await.map_err(|err| err.to_string())
                })
                .await
            }
            Some(Method::Put) => {
                handle(&body, &mut reply, |Put(request)| async move {
                    Ok(match raft.client_write(request).await {
                        Ok(response) => Reply::Done(response.data.previous),
                        Err(err) => {
                            not_leader(err.forward_to_leader()).unwrap_or_else(|| Reply::Error(err.to_string()))
                        }
                    })
                })
                .await
            }
            Some(Method::Get) => {
                handle(&body, &mut reply, |Get(key)| async move {
                    Ok(match raft.ensure_linearizable(ReadPolicy::ReadIndex).await {
                        Ok(_) => Reply::Done(data.borrow().kv.get(&key).copied()),
                        Err(err) => {
                            not_leader(err.forward_to_leader()).unwrap_or_else(|| Reply::Error(err.to_string()))
                        }
                    })
                })
                .await
            }
            None => Err(format!("no method {method}")),
        };
        let written = match handled {
            Ok(()) => write_frame(&mut stream, OK, &reply).await,
            Err(message) => write_frame(&mut stream, HANDLER_ERROR, message.as_bytes()).await,
        };
        if written.is_err() {
            return;
        }
    }
}

/// A forward-to-leader error as raftkv's answer to the client.
fn not_leader(forward: Option<&openraft::error::ForwardToLeader<TypeConfig>>) -> Option<Reply> {
    forward.map(|forward| Reply::NotLeader(forward.leader_node.as_ref().map(|node| node.addr.clone())))
}

/// Decode a request, run its handler, encode the response into `reply`.
async fn handle<R, F, Fut>(body: &[u8], reply: &mut Vec<u8>, handler: F) -> Result<(), String>
where
    R: Request,
    Json: Codec<R> + Codec<R::Response>,
    F: FnOnce(R) -> Fut,
    Fut: std::future::Future<Output = Result<R::Response, String>>,
{
    let request = Codec::<R>::decode(&Json, body)?;
    let response = handler(request).await?;
    Codec::<R::Response>::encode(&Json, &response, reply);
    Ok(())
}
