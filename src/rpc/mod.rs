//! Typed RPC over simulated streams: a [`Server`] registers a handler per request type, a
//! [`Client`] calls with a timeout and gets `Result<Response, RpcError>`.
//!
//! Requests and responses are plain Rust values ([`Request`]: `Clone + Debug + 'static`);
//! nothing forces a serialization format. A typed value rides through the connection on one
//! byte of its stream, so it is delayed, stalled by a partition and lost with a reset exactly
//! as bytes are, and the receiver gets its own clone. Where the real system serializes, the
//! byte-level variant ([`Server::handle_with_codec`], [`Client::call_with_codec`]) encodes
//! with a [`Codec`] of yours and sends the bytes, so codec bugs show up in simulation too.
//!
//! Each client keeps one `TcpStream` to its server, opened on the first call and again after
//! it breaks, and multiplexes concurrent calls over it by call number. A call is sent at most
//! once: the client never resends on its own (a retry is the caller's decision, because only
//! the caller knows whether the request is idempotent). The server runs each request's
//! handler in a task of its own on the server's node. The wire format (a 16-byte header, the
//! method name, the body) is in `frame.rs`. RPC traffic shows in the trace as the stream
//! segments that carry it.

mod client;
mod frame;
mod server;

pub use client::Client;
pub use server::Server;

use std::error::Error as StdError;
use std::fmt;
use std::io;

/// A request type: what a [`Client`] sends and a [`Server`] handler takes, and the type of
/// its response.
///
/// ```
/// #[derive(Clone, Debug)]
/// struct Get { key: String }
///
/// impl seedsim::rpc::Request for Get {
///     type Response = Option<u64>;
/// }
/// ```
pub trait Request: Clone + fmt::Debug + 'static {
    /// What a successful call returns.
    type Response: Clone + fmt::Debug + 'static;
}

/// Turns values into bytes and back, for the byte-level RPC variant
/// ([`Server::handle_with_codec`], [`Client::call_with_codec`]). One codec usually serves a
/// request type and its response type: implement `Codec<T>` for both.
///
/// ```
/// use seedsim::rpc::Codec;
///
/// /// Little-endian `u64`s.
/// struct Le;
///
/// impl Codec<u64> for Le {
///     fn encode(&self, value: &u64, out: &mut Vec<u8>) {
///         out.extend_from_slice(&value.to_le_bytes());
///     }
///     fn decode(&self, bytes: &[u8]) -> Result<u64, String> {
///         let bytes: [u8; 8] = bytes.try_into().map_err(|_| format!("{} bytes, expected 8", bytes.len()))?;
///         Ok(u64::from_le_bytes(bytes))
///     }
/// }
///
/// let mut buf = Vec::new();
/// Le.encode(&7, &mut buf);
/// assert_eq!(Le.decode(&buf), Ok(7));
/// assert!(Le.decode(&buf[..3]).is_err());
/// ```
pub trait Codec<T> {
    /// Append `value`'s encoding to `out`.
    fn encode(&self, value: &T, out: &mut Vec<u8>);

    /// Decode a value from all of `bytes`.
    ///
    /// # Errors
    /// A message saying what is wrong with the bytes; the call fails with
    /// [`RpcError::Codec`].
    fn decode(&self, bytes: &[u8]) -> Result<T, String>;
}

/// Why a call failed.
///
/// ```
/// use std::time::Duration;
/// use seedsim::rpc::{Client, Request, RpcError};
///
/// #[derive(Clone, Debug)]
/// struct Ping;
/// impl Request for Ping {
///     type Response = ();
/// }
///
/// let mut sim = seedsim::Sim::new(seedsim::Seed(1));
/// sim.node("server", || async {})?; // up, but serving nothing
/// sim.client("client", async {
///     let client = Client::new(("server", 7000));
///     let err = client.call(Ping, Duration::from_secs(1)).await.unwrap_err();
///     assert_eq!(err, RpcError::Unreachable(std::io::ErrorKind::ConnectionRefused));
///     Ok::<(), RpcError>(())
/// })?;
/// sim.run().unwrap();
/// # Ok::<(), seedsim::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RpcError {
    /// No response within the call's timeout (the request may or may not have been handled).
    Timeout,
    /// No connection to the server: refused (nothing listens, or its node is down), timed out
    /// (a partition), or an address that names nothing. The request was not sent.
    Unreachable(io::ErrorKind),
    /// The connection broke before the response came: the server's node crashed, the
    /// connection timed out under a partition, or a reset fault. The request may or may not
    /// have been handled.
    Reset(io::ErrorKind),
    /// The handler returned an error, with its message.
    Handler(String),
    /// The server has no handler for this request type or method, named here.
    NoHandler(String),
    /// The byte-level variant could not decode a request or response, with the codec's
    /// message.
    Codec(String),
    /// A typed call ([`Client::call`]) outside a simulation: typed values ride simulated
    /// streams without being serialized, so on the real backend (see `seedsim::real`) only the
    /// byte-level variant works. The request was not sent.
    TypedOutsideSimulation,
}

impl fmt::Display for RpcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RpcError::Timeout => f.write_str("rpc timed out: no response within the call's timeout"),
            RpcError::Unreachable(kind) => write!(f, "rpc server unreachable: {kind}"),
            RpcError::Reset(kind) => write!(f, "rpc connection broke before the response: {kind}"),
            RpcError::Handler(message) => write!(f, "rpc handler failed: {message}"),
            RpcError::NoHandler(name) => write!(f, "rpc server has no handler for {name}"),
            RpcError::Codec(message) => write!(f, "rpc codec error: {message}"),
            RpcError::TypedOutsideSimulation => f.write_str(
                "typed rpc (Client::call, Server::handle) moves Rust values through simulated streams and works only \
                 in a simulation; on the real backend use the byte-level variant (Client::call_with_codec, \
                 Server::handle_with_codec)",
            ),
        }
    }
}

impl StdError for RpcError {}

impl From<RpcError> for io::Error {
    /// `TimedOut`, the stream's error kind for `Unreachable` and `Reset`, `InvalidData` for
    /// a codec error, `Other` for a handler's.
    fn from(err: RpcError) -> io::Error {
        let kind = match &err {
            RpcError::Timeout => io::ErrorKind::TimedOut,
            RpcError::Unreachable(kind) | RpcError::Reset(kind) => *kind,
            RpcError::Codec(_) => io::ErrorKind::InvalidData,
            RpcError::TypedOutsideSimulation => io::ErrorKind::Unsupported,
            _ => io::ErrorKind::Other,
        };
        io::Error::new(kind, err)
    }
}
