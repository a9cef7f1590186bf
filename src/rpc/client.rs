//! The calling side: [`Client`], one connection to one server shared by every clone and
//! every concurrent call, reopened on the next call after it breaks.

use std::any::{type_name, Any};
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::fmt;
use std::future::poll_fn;
use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::task::{Poll, Waker};
use std::time::Duration;

use futures::lock::Mutex;

use super::frame::{self, read_frame, write_frame, Body, Frame};
use super::{Codec, Request, RpcError};
use crate::net::{AddrSpec, TcpStream, ToSocketAddrs};
use crate::task::{self, JoinHandle};
use crate::time;

/// Calls a [`Server`](super::Server) on another node.
///
/// Cheap to clone: clones share one connection, opened on the first call (in the calling
/// task's node) and reopened by the next call after it breaks. Calls made concurrently are
/// multiplexed over it. A call is sent at most once; retrying is up to the caller.
///
/// ```
/// use std::time::Duration;
/// use seedsim::rpc::{Client, Request, RpcError, Server};
///
/// #[derive(Clone, Debug)]
/// struct Add(u32, u32);
/// impl Request for Add {
///     type Response = u32;
/// }
///
/// let mut sim = seedsim::Sim::new(seedsim::Seed(1));
/// sim.node("adder", || async {
///     let listener = seedsim::net::TcpListener::bind("0.0.0.0:7000").await?;
///     Server::new().handle(|Add(a, b)| async move { a.checked_add(b).ok_or("overflow") }).serve(listener).await
/// })?;
/// sim.client("client", async {
///     let adder = Client::new(("adder", 7000));
///     assert_eq!(adder.call(Add(2, 3), Duration::from_secs(1)).await?, 5);
///     let err = adder.call(Add(u32::MAX, 1), Duration::from_secs(1)).await.unwrap_err();
///     assert_eq!(err, RpcError::Handler("overflow".into()));
///     Ok::<(), RpcError>(())
/// })?;
/// sim.run().unwrap();
/// # Ok::<(), seedsim::Error>(())
/// ```
#[derive(Clone)]
pub struct Client {
    shared: Rc<Shared>,
}

struct Shared {
    server: Target,
    /// The connection, if one is open; locked while a call opens one, so concurrent calls
    /// wait for it instead of opening their own.
    connection: Mutex<Option<Rc<Connection>>>,
    next_call: Cell<u64>,
}

/// The server's address, owned, so the client can reconnect.
#[derive(Clone, Debug)]
enum Target {
    Addr(SocketAddr),
    Host(String, u16),
    Invalid(io::ErrorKind),
}

/// One open connection: the stream, the calls waiting on it, and the task reading replies.
struct Connection {
    stream: Rc<TcpStream>,
    calls: Rc<RefCell<Calls>>,
    /// Held while a frame is written, so concurrent calls' frames do not interleave.
    write: Mutex<()>,
    reader: JoinHandle<()>,
}

#[derive(Default)]
struct Calls {
    waiting: BTreeMap<u64, Waiting>,
    /// Set once the connection broke: how.
    broken: Option<io::ErrorKind>,
}

#[derive(Default)]
struct Waiting {
    reply: Option<Frame>,
    waker: Option<Waker>,
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client").field("server", &self.shared.server).finish_non_exhaustive()
    }
}

/// Forgets a call that stopped waiting (it returned, or its timeout dropped it), so a late
/// reply finds nobody and is dropped.
struct Registered {
    calls: Rc<RefCell<Calls>>,
    call: u64,
}

impl Drop for Registered {
    fn drop(&mut self) {
        if let Ok(mut calls) = self.calls.try_borrow_mut() {
            calls.waiting.remove(&self.call);
        }
    }
}

impl Client {
    /// A client of the server at `server` (`("name", port)`, `"name:port"` or an address).
    /// Nothing is sent until the first call, so a client can be made before its server is up.
    /// An address that does not parse makes every call fail with
    /// [`RpcError::Unreachable`]`(InvalidInput)`.
    pub fn new(server: impl ToSocketAddrs) -> Client {
        let server = match server.to_addr_spec() {
            Ok(AddrSpec::Addr(addr)) => Target::Addr(addr),
            Ok(AddrSpec::Host(host, port)) => Target::Host(host.to_owned(), port),
            Err(err) => Target::Invalid(err.kind()),
        };
        Client { shared: Rc::new(Shared { server, connection: Mutex::new(None), next_call: Cell::new(0) }) }
    }

    /// Call the server's handler for `R` with `request`, waiting at most `timeout` (of the
    /// calling node's clock) for the response, connecting first if needed.
    ///
    /// # Errors
    /// [`RpcError::Timeout`] when the time is up, [`RpcError::Unreachable`] if no connection
    /// could be made, [`RpcError::Reset`] if it broke before the response, and the server's
    /// [`RpcError::Handler`] or [`RpcError::NoHandler`]; [`RpcError::TypedOutsideSimulation`]
    /// on the real backend.
    pub async fn call<R: Request>(&self, request: R, timeout: Duration) -> Result<R::Response, RpcError> {
        if !crate::context::is_running() {
            return Err(RpcError::TypedOutsideSimulation);
        }
        let value: Rc<dyn Any> = Rc::new(request);
        let reply = self.exchange(String::new(), Body::Value(value), timeout, type_name::<R>()).await?;
        match reply {
            Body::Value(value) => match value.downcast::<R::Response>() {
                Ok(response) => Ok(Rc::try_unwrap(response).unwrap_or_else(|shared| (*shared).clone())),
                Err(_) => Err(RpcError::Codec(format!(
                    "the response to {} is not a {}",
                    type_name::<R>(),
                    type_name::<R::Response>()
                ))),
            },
            Body::Bytes(_) => {
                Err(RpcError::Codec(format!("bytes in response to the typed request {}", type_name::<R>())))
            }
        }
    }

    /// The byte-level call: encode `request` with `codec`, send the bytes to the server's
    /// handler registered for `method` with [`Server::handle_with_codec`](super::Server::handle_with_codec),
    /// and decode the response's bytes with `codec`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use seedsim::net::TcpListener;
    /// use seedsim::rpc::{Client, Codec, Request, RpcError, Server};
    ///
    /// #[derive(Clone, Debug)]
    /// struct Shout(String);
    /// impl Request for Shout {
    ///     type Response = String;
    /// }
    ///
    /// /// UTF-8, for the request and the response.
    /// struct Utf8;
    /// impl Codec<Shout> for Utf8 {
    ///     fn encode(&self, Shout(text): &Shout, out: &mut Vec<u8>) {
    ///         out.extend_from_slice(text.as_bytes());
    ///     }
    ///     fn decode(&self, bytes: &[u8]) -> Result<Shout, String> {
    ///         <Utf8 as Codec<String>>::decode(self, bytes).map(Shout)
    ///     }
    /// }
    /// impl Codec<String> for Utf8 {
    ///     fn encode(&self, text: &String, out: &mut Vec<u8>) {
    ///         out.extend_from_slice(text.as_bytes());
    ///     }
    ///     fn decode(&self, bytes: &[u8]) -> Result<String, String> {
    ///         String::from_utf8(bytes.to_vec()).map_err(|err| err.to_string())
    ///     }
    /// }
    ///
    /// let mut sim = seedsim::Sim::new(seedsim::Seed(1));
    /// sim.node("server", || async {
    ///     let server = Server::new()
    ///         .handle_with_codec("shout", Utf8, |Shout(text)| async move { Ok::<_, String>(text.to_uppercase()) });
    ///     server.serve(TcpListener::bind("0.0.0.0:7000").await?).await
    /// })?;
    /// sim.client("client", async {
    ///     let server = Client::new(("server", 7000));
    ///     let second = Duration::from_secs(1);
    ///     assert_eq!(server.call_with_codec("shout", &Utf8, Shout("hi".into()), second).await?, "HI");
    ///     let unknown = server.call_with_codec("whisper", &Utf8, Shout("hi".into()), second).await;
    ///     assert_eq!(unknown, Err(RpcError::NoHandler("whisper".into())));
    ///     Ok::<(), RpcError>(())
    /// })?;
    /// sim.run().unwrap();
    /// # Ok::<(), seedsim::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`call`](Client::call), and [`RpcError::Codec`] if the response (or, on the server,
    /// the request) does not decode.
    pub async fn call_with_codec<R, C>(
        &self,
        method: &str,
        codec: &C,
        request: R,
        timeout: Duration,
    ) -> Result<R::Response, RpcError>
    where
        R: Request,
        C: Codec<R> + Codec<R::Response>,
    {
        let mut bytes = Vec::new();
        Codec::<R>::encode(codec, &request, &mut bytes);
        match self.exchange(method.to_owned(), Body::Bytes(bytes), timeout, method).await? {
            Body::Bytes(bytes) => Codec::<R::Response>::decode(codec, &bytes).map_err(RpcError::Codec),
            Body::Value(_) => Err(RpcError::Codec(format!("a typed value in response to the byte method {method:?}"))),
        }
    }

    async fn exchange(&self, method: String, body: Body, timeout: Duration, name: &str) -> Result<Body, RpcError> {
        match time::timeout(timeout, self.exchange_untimed(method, body, name)).await {
            Ok(result) => result,
            Err(_) => Err(RpcError::Timeout),
        }
    }

    async fn exchange_untimed(&self, method: String, body: Body, name: &str) -> Result<Body, RpcError> {
        let connection = self.connection().await?;
        let call = self.shared.next_call.get();
        self.shared.next_call.set(call + 1);
        connection.calls.borrow_mut().waiting.insert(call, Waiting::default());
        let _registered = Registered { calls: connection.calls.clone(), call };
        {
            let _writing = connection.write.lock().await;
            let frame = Frame { kind: frame::REQUEST, call, method, body };
            if let Err(err) = write_frame(&connection.stream, &frame).await {
                connection.calls.borrow_mut().broken.get_or_insert(err.kind());
                return Err(RpcError::Reset(err.kind()));
            }
        }
        let reply = poll_fn(|cx| {
            let mut calls = connection.calls.borrow_mut();
            let broken = calls.broken;
            let waiting = calls.waiting.get_mut(&call).expect("a call waits until it returns");
            if let Some(reply) = waiting.reply.take() {
                return Poll::Ready(Ok(reply));
            }
            if let Some(kind) = broken {
                return Poll::Ready(Err(RpcError::Reset(kind)));
            }
            match &waiting.waker {
                Some(waker) if waker.will_wake(cx.waker()) => {}
                _ => waiting.waker = Some(cx.waker().clone()),
            }
            Poll::Pending
        })
        .await?;
        match reply.kind {
            frame::REPLY => Ok(reply.body),
            frame::HANDLER_ERROR => Err(RpcError::Handler(frame::message(reply.body))),
            frame::NO_HANDLER => Err(RpcError::NoHandler(name.to_owned())),
            frame::BAD_REQUEST => Err(RpcError::Codec(frame::message(reply.body))),
            kind => Err(RpcError::Codec(format!("unexpected rpc frame kind {kind} in a reply"))),
        }
    }

    /// The open connection, or a new one.
    async fn connection(&self) -> Result<Rc<Connection>, RpcError> {
        let mut slot = self.shared.connection.lock().await;
        if let Some(connection) = &*slot {
            if connection.calls.borrow().broken.is_none() {
                return Ok(connection.clone());
            }
        }
        *slot = None;
        let connected = match &self.shared.server {
            Target::Addr(addr) => TcpStream::connect(*addr).await,
            Target::Host(host, port) => TcpStream::connect((host.as_str(), *port)).await,
            Target::Invalid(kind) => Err(io::Error::from(*kind)),
        };
        let stream = Rc::new(connected.map_err(|err| RpcError::Unreachable(err.kind()))?);
        let calls: Rc<RefCell<Calls>> = Rc::default();
        let reader = task::spawn(read_replies(stream.clone(), calls.clone()));
        let connection = Rc::new(Connection { stream, calls, write: Mutex::new(()), reader });
        *slot = Some(connection.clone());
        Ok(connection)
    }
}

/// The connection's reader task: hand each reply to its call, until the connection breaks,
/// then fail every call still waiting.
async fn read_replies(stream: Rc<TcpStream>, calls: Rc<RefCell<Calls>>) {
    loop {
        match read_frame(&stream).await {
            Ok(reply) => {
                let waker = {
                    let mut calls = calls.borrow_mut();
                    // A call that gave up (its timeout) is gone: its late reply is dropped.
                    calls.waiting.get_mut(&reply.call).and_then(|waiting| {
                        waiting.reply = Some(reply);
                        waiting.waker.take()
                    })
                };
                if let Some(waker) = waker {
                    waker.wake();
                }
            }
            Err(err) => {
                let wakers: Vec<Waker> = {
                    let mut calls = calls.borrow_mut();
                    calls.broken.get_or_insert(err.kind());
                    calls.waiting.values_mut().filter_map(|waiting| waiting.waker.take()).collect()
                };
                wakers.into_iter().for_each(Waker::wake);
                return;
            }
        }
    }
}
