//! The serving side: [`Server`], handlers by request type (typed) or by method name (bytes
//! with a codec), serving every connection a listener accepts.

use std::any::{type_name, Any, TypeId};
use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::rc::Rc;

use futures::lock::Mutex;

use super::frame::{self, read_frame, write_frame, Body, Frame};
use super::{Codec, Request};
use crate::net::{TcpListener, TcpStream};
use crate::task;

type Reply = Pin<Box<dyn Future<Output = (u8, Body)>>>;
type TypedHandler = Rc<dyn Fn(Rc<dyn Any>) -> Reply>;
type ByteHandler = Rc<dyn Fn(Vec<u8>) -> Reply>;

/// Serves RPC calls: a handler per request type, and for the byte-level variant a handler
/// per method name with its codec.
///
/// Build it with [`handle`](Server::handle) and [`handle_with_codec`](Server::handle_with_codec),
/// then [`serve`](Server::serve) a listener. Every request runs its handler in a task of its
/// own on the serving node, so a slow handler does not hold up other calls; a crash of the
/// node drops them all. Cheap to clone.
///
/// ```
/// use std::time::Duration;
/// use seedsim::net::TcpListener;
/// use seedsim::rpc::{Client, Request, RpcError, Server};
///
/// #[derive(Clone, Debug)]
/// struct Echo(String);
/// impl Request for Echo {
///     type Response = String;
/// }
/// #[derive(Clone, Debug)]
/// struct Len(String);
/// impl Request for Len {
///     type Response = usize;
/// }
///
/// let mut sim = seedsim::Sim::new(seedsim::Seed(1));
/// sim.node("server", || async {
///     let server = Server::new()
///         .handle(|Echo(text)| async move { Ok::<_, String>(text) })
///         .handle(|Len(text)| async move { Ok::<_, String>(text.len()) });
///     server.serve(TcpListener::bind("0.0.0.0:7000").await?).await
/// })?;
/// sim.client("client", async {
///     let server = Client::new("server:7000");
///     let second = Duration::from_secs(1);
///     assert_eq!(server.call(Echo("hi".into()), second).await?, "hi");
///     assert_eq!(server.call(Len("four".into()), second).await?, 4);
///     Ok::<(), RpcError>(())
/// })?;
/// sim.run().unwrap();
/// # Ok::<(), seedsim::Error>(())
/// ```
#[derive(Clone, Default)]
pub struct Server {
    typed: BTreeMap<TypeId, (&'static str, TypedHandler)>,
    bytes: BTreeMap<String, ByteHandler>,
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("typed", &self.typed.values().map(|(name, _)| *name).collect::<Vec<_>>())
            .field("methods", &self.bytes.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Server {
    /// A server with no handlers.
    pub fn new() -> Server {
        Server::default()
    }

    /// Handle requests of type `R` with `handler`. Its error's message becomes the caller's
    /// [`RpcError::Handler`](super::RpcError::Handler). A second handler for the same type
    /// replaces the first.
    pub fn handle<R, F, Fut, E>(mut self, handler: F) -> Server
    where
        R: Request,
        F: Fn(R) -> Fut + 'static,
        Fut: Future<Output = Result<R::Response, E>> + 'static,
        E: fmt::Display,
    {
        let handler: TypedHandler = Rc::new(move |value: Rc<dyn Any>| -> Reply {
            let request = match value.downcast::<R>() {
                Ok(request) => Rc::try_unwrap(request).unwrap_or_else(|shared| (*shared).clone()),
                Err(_) => unreachable!("typed handlers are found by the request's type"),
            };
            let response = handler(request);
            Box::pin(async move {
                match response.await {
                    Ok(response) => (frame::REPLY, Body::Value(Rc::new(response))),
                    Err(err) => (frame::HANDLER_ERROR, Body::Bytes(err.to_string().into_bytes())),
                }
            })
        });
        self.typed.insert(TypeId::of::<R>(), (type_name::<R>(), handler));
        self
    }

    /// Handle the byte-level method `method`: requests are decoded with `codec`, responses
    /// encoded with it (see [`Client::call_with_codec`](super::Client::call_with_codec)). A
    /// request that does not decode fails the call with
    /// [`RpcError::Codec`](super::RpcError::Codec). A second handler for the same method
    /// replaces the first. For an example, see
    /// [`Client::call_with_codec`](super::Client::call_with_codec).
    pub fn handle_with_codec<R, C, F, Fut, E>(mut self, method: &str, codec: C, handler: F) -> Server
    where
        R: Request,
        C: Codec<R> + Codec<R::Response> + 'static,
        F: Fn(R) -> Fut + 'static,
        Fut: Future<Output = Result<R::Response, E>> + 'static,
        E: fmt::Display,
    {
        let codec = Rc::new(codec);
        let handler: ByteHandler = Rc::new(move |bytes: Vec<u8>| -> Reply {
            let request = match Codec::<R>::decode(&*codec, &bytes) {
                Ok(request) => request,
                Err(message) => {
                    return Box::pin(async move { (frame::BAD_REQUEST, Body::Bytes(message.into_bytes())) })
                }
            };
            let response = handler(request);
            let codec = codec.clone();
            Box::pin(async move {
                match response.await {
                    Ok(response) => {
                        let mut bytes = Vec::new();
                        Codec::<R::Response>::encode(&*codec, &response, &mut bytes);
                        (frame::REPLY, Body::Bytes(bytes))
                    }
                    Err(err) => (frame::HANDLER_ERROR, Body::Bytes(err.to_string().into_bytes())),
                }
            })
        });
        self.bytes.insert(method.to_owned(), handler);
        self
    }

    /// Accept connections on `listener` and serve each in a task of its own, until the
    /// listener fails.
    ///
    /// # Errors
    /// The listener's error (it was closed by its node's crash).
    pub async fn serve(self, listener: TcpListener) -> io::Result<()> {
        loop {
            let (stream, _) = listener.accept().await?;
            let server = self.clone();
            drop(task::spawn(async move { server.serve_stream(stream).await }));
        }
    }

    /// Serve the calls that arrive on one connection, until it ends or breaks: for a server
    /// that accepts connections itself (to count them, or to serve other traffic on the same
    /// listener).
    ///
    /// ```
    /// use std::time::Duration;
    /// use seedsim::net::TcpListener;
    /// use seedsim::rpc::{Client, Request, RpcError, Server};
    ///
    /// #[derive(Clone, Debug)]
    /// struct Ping;
    /// impl Request for Ping {
    ///     type Response = &'static str;
    /// }
    ///
    /// let mut sim = seedsim::Sim::new(seedsim::Seed(1));
    /// sim.node("server", || async {
    ///     let server = Server::new().handle(|Ping| async { Ok::<_, String>("pong") });
    ///     let listener = TcpListener::bind("0.0.0.0:7000").await?;
    ///     let (stream, _) = listener.accept().await?; // one connection only
    ///     server.serve_stream(stream).await
    /// })?;
    /// sim.client("client", async {
    ///     let server = Client::new(("server", 7000));
    ///     assert_eq!(server.call(Ping, Duration::from_secs(1)).await?, "pong");
    ///     Ok::<(), RpcError>(())
    /// })?;
    /// sim.run().unwrap();
    /// # Ok::<(), seedsim::Error>(())
    /// ```
    ///
    /// # Errors
    /// How the connection broke (end of file after a whole frame is a clean end: `Ok`).
    pub async fn serve_stream(&self, stream: TcpStream) -> io::Result<()> {
        let connection = Rc::new((stream, Mutex::new(())));
        loop {
            let request = match read_frame(&connection.0).await {
                Ok(request) => request,
                Err(err) if err.kind() == io::ErrorKind::UnexpectedEof => return Ok(()),
                Err(err) => return Err(err),
            };
            if request.kind != frame::REQUEST {
                return Err(io::Error::new(io::ErrorKind::InvalidData, "an rpc reply sent to a server"));
            }
            let reply = self.dispatch(request.method, request.body);
            let (connection, call) = (connection.clone(), request.call);
            drop(task::spawn(async move {
                let (kind, body) = reply.await;
                let _writing = connection.1.lock().await;
                // A connection that broke meanwhile loses the reply, as it would in production.
                let _ = write_frame(&connection.0, &Frame { kind, call, method: String::new(), body }).await;
            }));
        }
    }

    fn dispatch(&self, method: String, body: Body) -> Reply {
        match body {
            Body::Value(value) => match self.typed.get(&(*value).type_id()) {
                Some((_, handler)) => handler(value),
                None => Box::pin(async { (frame::NO_HANDLER, Body::Bytes(Vec::new())) }),
            },
            Body::Bytes(bytes) => match self.bytes.get(&method) {
                Some(handler) => handler(bytes),
                None => Box::pin(async move { (frame::NO_HANDLER, Body::Bytes(method.into_bytes())) }),
            },
        }
    }
}
