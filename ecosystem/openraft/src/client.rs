//! A client: writes and linearizable reads against the cluster, each recorded in a history
//! for the linearizability checker. A write is retried only when it certainly did not take
//! effect (no connection, or not the leader); after an ambiguous attempt it is recorded as
//! unknown, since a second attempt could apply it twice.

use std::time::Duration;

use seedsim::check::{KvInput, KvOutput, Recorder};
use seedsim::rand::RngExt;
use seedsim::rpc::{Client, RpcError};

use crate::node::{address, Cluster};
use crate::types::Request;
use crate::wire::{Get, Json, Put, Reply};

pub type History = Recorder<KvInput<u64, u64>, KvOutput<u64>>;

/// Keys the clients use: few, so operations overlap on them.
const KEYS: u64 = 3;
/// Attempts at one operation before it gives up.
const ATTEMPTS: u32 = 12;
const CALL_TIMEOUT: Duration = Duration::from_secs(1);
const RETRY_PAUSE: Duration = Duration::from_millis(100);

/// How one attempt ended.
enum Attempt {
    Done(Option<u64>),
    /// Certainly not done; try this address next, if there is one.
    Retry(Option<String>),
    /// Maybe done, maybe not.
    Ambiguous,
}

async fn attempt(client: &Client, input: &KvInput<u64, u64>) -> Attempt {
    let reply = match *input {
        KvInput::Put(key, value) => {
            client.call_with_codec("put", &Json, Put(Request { key, value }), CALL_TIMEOUT).await
        }
        KvInput::Get(key) => client.call_with_codec("get", &Json, Get(key), CALL_TIMEOUT).await,
        KvInput::Cas { .. } => unreachable!("the clients do not compare-and-set"),
    };
    match reply {
        Ok(Reply::Done(value)) => Attempt::Done(value),
        Ok(Reply::NotLeader(leader)) => Attempt::Retry(leader),
        Err(RpcError::Unreachable(_)) => Attempt::Retry(None),
        Ok(Reply::Error(_)) | Err(_) => Attempt::Ambiguous,
    }
}

/// Run `ops` operations (two writes to each read) as client `id`, recording each in
/// `history`. Returns how many completed.
pub async fn client(id: u64, ops: u32, cluster: Cluster, history: History) -> Result<u32, String> {
    let addrs: Vec<String> = cluster.nodes.values().cloned().collect();
    let mut target = (id as usize) % addrs.len();
    let mut completed = 0;
    for i in 0..ops {
        let key = seedsim::rand::rng().random_range(0..KEYS);
        let input = if seedsim::rand::rng().random_range(0..3) < 2 {
            KvInput::Put(key, id * 1_000_000 + u64::from(i))
        } else {
            KvInput::Get(key)
        };
        let is_read = matches!(input, KvInput::Get(_));
        let op = history.invoke(id, input.clone());
        let mut hint: Option<String> = None;
        let mut outcome = None;
        for _ in 0..ATTEMPTS {
            let addr = hint.take().unwrap_or_else(|| addrs[target].clone());
            let client = Client::new(address(&addr));
            match attempt(&client, &input).await {
                Attempt::Done(value) => {
                    outcome = Some(value);
                    break;
                }
                Attempt::Retry(leader) => hint = leader,
                // A read has no effect: retrying it is always safe.
                Attempt::Ambiguous if is_read => {}
                Attempt::Ambiguous => break,
            }
            if hint.is_none() {
                target = (target + 1) % addrs.len();
            }
            seedsim::time::sleep(RETRY_PAUSE).await;
        }
        let recorded = match (outcome, &input) {
            (Some(value), KvInput::Get(_)) => history.ok(op, KvOutput::Get(value)),
            (Some(_), _) => history.ok(op, KvOutput::Put),
            // A read that never got an answer says nothing; a write that gave up is unknown.
            (None, _) => history.unknown(op),
        };
        recorded.map_err(|err| err.to_string())?;
        completed += u32::from(outcome.is_some());
    }
    Ok(completed)
}
