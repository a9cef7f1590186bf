//! The clients' side, the same for every transport: each client puts and gets over a
//! [`KvClient`], records each operation in a shared history, reconnects after an error, and
//! at the end reads every key back. The history must be linearizable for a key-value store,
//! which is how "an acknowledged write is readable" fails when it does.

use std::io;
use std::time::Duration;

use seedsim::check::{KvInput, KvOutput, Recorder};
use seedsim::rand::RngExt;
use seedsim::time::{sleep, timeout};

/// The history the clients record.
pub type History = Recorder<KvInput<String, u64>, KvOutput<u64>>;

/// The keys the clients share: few, so they meet.
pub const KEYS: [&str; 3] = ["a", "b", "c"];

/// How long a client waits for one request (and for a connection) before giving up on it.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(1);

/// A key-value client over some protocol: HTTP/1 for axum, gRPC for tonic.
#[allow(async_fn_in_trait)] // clients run on one thread: their futures need not be `Send`
pub trait KvClient: Sized {
    /// Connect to the server at `addr` (`"kv:80"`, `"127.0.0.1:7300"`).
    async fn connect(addr: &str) -> io::Result<Self>;
    /// Set `key` to `value`.
    async fn put(&mut self, key: &str, value: u64) -> io::Result<()>;
    /// The value of `key`, `None` if it was never set.
    async fn get(&mut self, key: &str) -> io::Result<Option<u64>>;
}

/// How often a client tries its final read of a key, 100 ms apart, before it gives up: past
/// the faults' end (3 s) a simulated server answers at once; a real one may not be there.
const FINAL_TRIES_MAX: u32 = 100;

/// One client: `ops` random operations, then a read of every key, retried until it answers
/// (so a run ends only once the server is back).
///
/// # Errors
/// A key no read got an answer for in [`FINAL_TRIES_MAX`] tries, or a misuse of the history.
pub async fn client<C: KvClient>(id: u64, addr: String, ops: u32, history: History) -> io::Result<()> {
    let mut connection: Option<C> = None;
    let mut rng = seedsim::rand::rng();
    for op in 0..ops {
        sleep(Duration::from_millis(rng.random_range(0..40))).await;
        let key = KEYS[rng.random_range(0..KEYS.len())];
        if rng.random_bool(0.5) {
            // Unique values, so a read names the put it saw.
            let value = id * 1_000_000 + u64::from(op);
            put(&mut connection, &addr, id, key, value, &history).await?;
        } else {
            get(&mut connection, &addr, id, key, &history).await?;
        }
    }
    for key in KEYS {
        let mut tries = 1;
        while !get(&mut connection, &addr, id, key, &history).await? {
            if tries == FINAL_TRIES_MAX {
                let message = format!("client {id}: no answer from {addr} to a read of {key:?} in {tries} tries");
                return Err(io::Error::new(io::ErrorKind::TimedOut, message));
            }
            tries += 1;
            sleep(Duration::from_millis(100)).await;
        }
    }
    Ok(())
}

/// The connection, opened if there is none. An error leaves none.
async fn connected<'a, C: KvClient>(connection: &'a mut Option<C>, addr: &str) -> io::Result<&'a mut C> {
    if connection.is_none() {
        *connection = Some(timeout(REQUEST_TIMEOUT, C::connect(addr)).await??);
    }
    Ok(connection.as_mut().expect("connected just now"))
}

async fn put<C: KvClient>(
    connection: &mut Option<C>,
    addr: &str,
    id: u64,
    key: &str,
    value: u64,
    history: &History,
) -> io::Result<()> {
    let op = history.invoke(id, KvInput::Put(key.to_owned(), value));
    let result = async { timeout(REQUEST_TIMEOUT, connected(connection, addr).await?.put(key, value)).await? }.await;
    match result {
        Ok(()) => history.ok(op, KvOutput::Put).map_err(io::Error::other),
        Err(_) => {
            // A timeout or a lost connection: the put may or may not have taken effect.
            *connection = None;
            sleep(Duration::from_millis(50)).await;
            history.unknown(op).map_err(io::Error::other)
        }
    }
}

/// Returns whether the get was answered.
async fn get<C: KvClient>(
    connection: &mut Option<C>,
    addr: &str,
    id: u64,
    key: &str,
    history: &History,
) -> io::Result<bool> {
    let op = history.invoke(id, KvInput::Get(key.to_owned()));
    let result = async { timeout(REQUEST_TIMEOUT, connected(connection, addr).await?.get(key)).await? }.await;
    match result {
        Ok(value) => history.ok(op, KvOutput::Get(value)).map(|()| true).map_err(io::Error::other),
        Err(_) => {
            // A read changes nothing, so one that got no answer certainly had no effect.
            *connection = None;
            sleep(Duration::from_millis(50)).await;
            history.fail(op).map(|()| false).map_err(io::Error::other)
        }
    }
}
