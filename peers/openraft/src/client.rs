//! A client on turmoil: the port of `ecosystem/openraft/src/client.rs`, with the same
//! operation mix (two writes to each read over three keys), the same timeouts and retry rule
//! (a write is retried only when it certainly did not take effect), each operation recorded
//! in a history for seedsim's linearizability checker. Its random draws come from a generator
//! seeded by the run's seed and the client's id, since turmoil offers none to a host.

use std::time::Duration;

use seedsim::check::{KvInput, KvOutput, Recorder};

use crate::node::{call, CallError, Method};
use crate::types::Request;
use crate::wire::{Get, Put, Reply};

pub type History = Recorder<KvInput<u64, u64>, KvOutput<u64>>;

// raftkv's client constants.
/// Keys the clients use: few, so operations overlap on them.
const KEYS: u64 = 3;
/// Attempts at one operation before it gives up.
const ATTEMPTS: u32 = 12;
const CALL_TIMEOUT: Duration = Duration::from_secs(1);
const RETRY_PAUSE: Duration = Duration::from_millis(100);

/// SplitMix64: a small generator whose output is the same on every platform.
struct Draws(u64);

impl Draws {
    fn below(&mut self, bound: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        (z ^ (z >> 31)) % bound
    }
}

/// How one attempt ended.
enum Attempt {
    Done(Option<u64>),
    /// Certainly not done; try this address next, if there is one.
    Retry(Option<String>),
    /// Maybe done, maybe not.
    Ambiguous,
}

async fn attempt(addr: &str, input: &KvInput<u64, u64>) -> Attempt {
    // A connection per attempt, as raftkv's client makes a new `Client` per attempt.
    let mut connection = None;
    let reply = match *input {
        KvInput::Put(key, value) => {
            call(&mut connection, addr, Method::Put, Put(Request { key, value }), CALL_TIMEOUT).await
        }
        KvInput::Get(key) => call(&mut connection, addr, Method::Get, Get(key), CALL_TIMEOUT).await,
        KvInput::Cas { .. } => unreachable!("the clients do not compare-and-set"),
    };
    match reply {
        Ok(Reply::Done(value)) => Attempt::Done(value),
        Ok(Reply::NotLeader(leader)) => Attempt::Retry(leader),
        Err(CallError::Unreachable(_)) => Attempt::Retry(None),
        Ok(Reply::Error(_)) | Err(_) => Attempt::Ambiguous,
    }
}

/// Run `ops` operations as client `id` of the run with `seed`, recording each in `history`.
/// Returns how many completed.
pub async fn client(id: u64, ops: u32, seed: u64, addrs: Vec<String>, history: History) -> Result<u32, String> {
    let mut draws = Draws(seed ^ id.wrapping_mul(0x2545_f491_4f6c_dd1d));
    let mut target = (id as usize) % addrs.len();
    let mut completed = 0;
    for i in 0..ops {
        let key = draws.below(KEYS);
        let input =
            if draws.below(3) < 2 { KvInput::Put(key, id * 1_000_000 + u64::from(i)) } else { KvInput::Get(key) };
        let is_read = matches!(input, KvInput::Get(_));
        let op = history.invoke(id, input.clone());
        let mut hint: Option<String> = None;
        let mut outcome = None;
        for _ in 0..ATTEMPTS {
            let addr = hint.take().unwrap_or_else(|| addrs[target].clone());
            match attempt(&addr, &input).await {
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
            tokio::time::sleep(RETRY_PAUSE).await;
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
