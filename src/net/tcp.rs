//! TCP on a simulated node: [`TcpListener`] and [`TcpStream`], shaped like tokio's and
//! implementing `futures::io::AsyncRead` and `AsyncWrite`.
//!
//! The handles are small: a key into the world's stream state (`net::stream`), the addresses,
//! and the world's id. Every call borrows the world for a moment, checks the world id and the
//! key (a handle that outlived its node's crash gets `NotConnected`), and wakes any other
//! task it unblocked only after the borrow is released. Dropping a handle never panics.

use std::any::Any;
use std::fmt;
use std::future::poll_fn;
use std::io;
use std::net::{Shutdown, SocketAddr};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use futures::io::{AsyncRead, AsyncWrite};

use super::stream::{EndpointKey, Io, ListenerKey, Opened, Streams, Wakes};
use super::{resolve, ToSocketAddrs};
use crate::context::{self, Shared};
use crate::fault::Trigger;
use crate::sim::state::World;

/// A TCP socket listening for connections on the calling node.
///
/// `accept` returns each connection once its SYN has arrived (the listener answers it at
/// once, as a kernel does); a full backlog (`StreamConfig::backlog`) drops further SYNs and
/// the connecting side retries. The listener closes when dropped or when its node crashes;
/// connections it queued and nobody accepted are reset.
///
/// ```
/// use futures::io::{AsyncReadExt, AsyncWriteExt};
/// use seedsim::net::{TcpListener, TcpStream};
///
/// let mut sim = seedsim::Sim::new(seedsim::Seed(1));
/// sim.node("server", || async {
///     let listener = TcpListener::bind("0.0.0.0:7").await?;
///     loop {
///         let (mut stream, _) = listener.accept().await?;
///         drop(seedsim::task::spawn(async move {
///             let mut buf = [0u8; 64];
///             while let Ok(len @ 1..) = stream.read(&mut buf).await {
///                 stream.write_all(&buf[..len]).await?;
///             }
///             Ok::<(), std::io::Error>(())
///         }));
///     }
///     #[allow(unreachable_code)]
///     Ok::<(), std::io::Error>(())
/// })?;
/// sim.client("client", async {
///     let mut stream = TcpStream::connect(("server", 7)).await?;
///     stream.write_all(b"hello").await?;
///     let mut buf = [0u8; 5];
///     stream.read_exact(&mut buf).await?;
///     assert_eq!(&buf, b"hello");
///     Ok::<(), std::io::Error>(())
/// })?;
/// sim.run().unwrap();
/// # Ok::<(), seedsim::Error>(())
/// ```
pub struct TcpListener {
    listener: Listener,
}

enum Listener {
    Simulated(SimulatedListener),
    #[cfg(feature = "tokio")]
    Real(tokio::net::TcpListener),
}

/// A listener in a simulated world: a key into the world's stream state.
struct SimulatedListener {
    key: ListenerKey,
    local: SocketAddr,
    world: u64,
}

impl fmt::Debug for TcpListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpListener").field("local", &self.local_addr().ok()).finish()
    }
}

impl TcpListener {
    /// Listen on the calling node. The address's IP must be `0.0.0.0`, `127.0.0.1` or the
    /// node's own; port 0 picks a free ephemeral port. TCP ports are separate from UDP ports.
    ///
    /// ```
    /// use seedsim::net::TcpListener;
    ///
    /// let mut sim = seedsim::Sim::new(seedsim::Seed(1));
    /// sim.client("c", async {
    ///     let listener = TcpListener::bind("0.0.0.0:0").await?;
    ///     let addr = listener.local_addr()?;
    ///     assert_eq!(addr.ip().to_string(), "10.0.0.1"); // the node's address
    ///     assert!(addr.port() >= 32768); // an ephemeral port
    ///     let taken = TcpListener::bind(addr).await.unwrap_err();
    ///     assert_eq!(taken.kind(), std::io::ErrorKind::AddrInUse);
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// sim.run().unwrap();
    /// # Ok::<(), seedsim::Error>(())
    /// ```
    ///
    /// # Errors
    /// `AddrInUse` if the TCP port is taken on this node, `AddrNotAvailable` for another
    /// node's IP, `InvalidInput` for an address that does not parse, `NotFound` for an unknown
    /// node name, and `Other` outside a running simulation or outside a node's task. On the
    /// real backend (`seedsim::real`, feature `tokio`), what the host reports.
    pub async fn bind(addr: impl ToSocketAddrs) -> io::Result<TcpListener> {
        let spec = addr.to_addr_spec()?;
        let simulated = context::with_current(|shared| {
            let mut world = shared.world.borrow_mut();
            let requested = resolve(&world, spec)?;
            let node = world
                .current_node()
                .ok_or_else(|| io::Error::other("TcpListener::bind must be called from a task of a node or client"))?;
            let World { net, nodes, .. } = &mut *world;
            let (key, local) = net.streams.listen(&mut nodes[node.index()], requested)?;
            Ok::<_, io::Error>(SimulatedListener { key, local, world: shared.id })
        });
        let listener = match simulated {
            Some(listening) => Listener::Simulated(listening?),
            #[cfg(feature = "tokio")]
            None if crate::real::active() => {
                let requested = crate::real::net::resolve(spec).await?;
                Listener::Real(tokio::net::TcpListener::bind(requested).await?)
            }
            None => return Err(no_simulation("seedsim::net::TcpListener::bind")),
        };
        Ok(TcpListener { listener })
    }

    /// The address the listener is bound to: the node's IP and the port.
    ///
    /// # Errors
    /// On the real backend, what the host reports.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        match &self.listener {
            Listener::Simulated(listener) => Ok(listener.local),
            #[cfg(feature = "tokio")]
            Listener::Real(listener) => listener.local_addr(),
        }
    }

    /// Wait for a connection; returns the stream and the connecting side's address.
    ///
    /// # Errors
    /// `NotConnected` if the listener was closed by its node's crash.
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        poll_fn(|cx| self.poll_accept(cx)).await
    }

    /// Poll for a connection: the poll form of [`accept`](TcpListener::accept). One task
    /// should accept at a time: a second one takes over the wake-up.
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(TcpStream, SocketAddr)>> {
        let listener = match &self.listener {
            Listener::Simulated(listener) => listener,
            #[cfg(feature = "tokio")]
            Listener::Real(listener) => {
                return listener.poll_accept(cx).map_ok(|(stream, peer)| (TcpStream::real(stream), peer));
            }
        };
        let world = listener.world;
        let polled = with_world(world, "seedsim::net::TcpListener::accept", |world| {
            Ok(world.net.streams.accept(listener.key, cx.waker()))
        });
        match polled {
            Err(err) | Ok(Poll::Ready(Err(err))) => Poll::Ready(Err(err)),
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(Ok(opened))) => {
                let peer = opened.peer;
                Poll::Ready(Ok((TcpStream::simulated(opened, world), peer)))
            }
        }
    }
}

impl Drop for SimulatedListener {
    fn drop(&mut self) {
        let key = self.key;
        let wakes = try_with_streams(self.world, |streams, io| {
            streams.close_listener(io, key);
            [None, None]
        });
        wake(wakes);
    }
}

/// A TCP connection between two simulated nodes.
///
/// Bytes arrive in order and exactly once while the link is up: under datagram loss,
/// duplication and reordering the stream retransmits and reassembles, so faults show up as
/// delay. A partition stalls it; one that outlasts `StreamConfig::timeout` resets it
/// (`TimedOut`). A crash of the other node resets it (`ConnectionReset`). Writes wait
/// (`poll_write` returns `Pending`) while the send buffer is full, so a fast writer is held
/// back by a slow reader or a slow link.
///
/// It implements `futures::io::AsyncRead` and `AsyncWrite`, also for `&TcpStream`, so the
/// `futures::io` utilities (`AsyncReadExt::read_exact`, `BufReader`, `lines`, `copy`,
/// `split`) work on it. `poll_close` shuts down the write side: the other side reads the rest
/// of the data and then end of file. Dropping the stream closes it: unsent data is still
/// delivered, unless unread data was left, in which case the connection is reset, as on
/// Linux. One task should read and one write at a time: a second concurrent reader (or
/// writer) takes over the wake-up.
///
/// With the `tokio-io` feature it implements `tokio::io::AsyncRead` and `AsyncWrite` too, and
/// with `hyper` hyper's `rt::Read` and `rt::Write` (see [`compat`](crate::compat)).
///
/// ```
/// use futures::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
/// use futures::StreamExt;
/// use seedsim::net::{TcpListener, TcpStream};
///
/// let mut sim = seedsim::Sim::new(seedsim::Seed(1));
/// sim.node("server", || async {
///     let listener = TcpListener::bind("0.0.0.0:80").await?;
///     let (mut stream, _) = listener.accept().await?;
///     stream.write_all(b"one\ntwo\n").await?;
///     stream.close().await // the client sees end of file after "two"
/// })?;
/// sim.client("client", async {
///     let stream = TcpStream::connect("server:80").await?;
///     let lines: Vec<String> = BufReader::new(stream).lines().map(Result::unwrap).collect().await;
///     assert_eq!(lines, ["one", "two"]);
///     Ok::<(), std::io::Error>(())
/// })?;
/// sim.run().unwrap();
/// # Ok::<(), seedsim::Error>(())
/// ```
pub struct TcpStream {
    /// The connection's number: in its run for a simulated stream, in its thread for a real one.
    conn: u64,
    connection: Connection,
}

enum Connection {
    Simulated(SimulatedStream),
    #[cfg(feature = "tokio")]
    Real(tokio::net::TcpStream),
}

/// A connection in a simulated world: a key into the world's stream state.
struct SimulatedStream {
    key: EndpointKey,
    local: SocketAddr,
    peer: SocketAddr,
    world: u64,
}

impl fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpStream")
            .field("conn", &self.conn)
            .field("local", &self.local_addr().ok())
            .field("peer", &self.peer_addr().ok())
            .finish()
    }
}

/// A connection attempt in progress: dropping it (a connect under a timeout that fired)
/// forgets the attempt.
struct Connecting {
    key: EndpointKey,
    world: u64,
}

impl Drop for Connecting {
    fn drop(&mut self) {
        let key = self.key;
        wake(try_with_streams(self.world, |streams, io| {
            streams.close(io, key);
            [None, None]
        }));
    }
}

impl TcpStream {
    fn simulated(opened: Opened, world: u64) -> TcpStream {
        let Opened { key, conn, local, peer } = opened;
        TcpStream { conn, connection: Connection::Simulated(SimulatedStream { key, local, peer, world }) }
    }

    #[cfg(feature = "tokio")]
    fn real(stream: tokio::net::TcpStream) -> TcpStream {
        TcpStream { conn: crate::real::next_connection_number(), connection: Connection::Real(stream) }
    }

    /// Open a connection from the calling node to `addr`: a name and port (`("server",
    /// 80)`, `"server:80"`), or an address.
    ///
    /// It sends a SYN and resends it (after 1 s, then 2 s, 4 s ...) until the other side
    /// answers or `StreamConfig::connect_timeout` passes.
    ///
    /// ```
    /// use std::io::ErrorKind;
    /// use std::time::Duration;
    /// use seedsim::net::TcpStream;
    /// use seedsim::time::Instant;
    ///
    /// let mut sim = seedsim::Sim::new(seedsim::Seed(1));
    /// sim.node("idle", || async {})?;
    /// sim.client("c", async {
    ///     // Nothing listens: the node's stack answers with a reset.
    ///     let refused = TcpStream::connect(("idle", 80)).await.unwrap_err();
    ///     assert_eq!(refused.kind(), ErrorKind::ConnectionRefused);
    ///     // Behind a partition: no answer until the connect timeout.
    ///     seedsim::world::partition("c", "idle")?;
    ///     let start = Instant::now();
    ///     let silent = TcpStream::connect(("idle", 80)).await.unwrap_err();
    ///     assert_eq!(silent.kind(), ErrorKind::TimedOut);
    ///     assert_eq!(start.elapsed(), Duration::from_secs(10));
    ///     Ok::<(), Box<dyn std::error::Error>>(())
    /// })?;
    /// sim.run().unwrap();
    /// # Ok::<(), seedsim::Error>(())
    /// ```
    ///
    /// # Errors
    /// `ConnectionRefused` if nothing listens on that port, if the node is down (crashed
    /// nodes answer with a reset, as a host whose process died does), or a
    /// `connect_refused` fault; `TimedOut` if no answer came in time (a partition, an
    /// isolated node, a full backlog); `HostUnreachable` for an address no node has;
    /// `NotFound` for an unknown node name; `InvalidInput` for port 0 or an address that
    /// does not parse; `Other` outside a running simulation or a node's task. On the real
    /// backend (`seedsim::real`, feature `tokio`), what the host reports.
    pub async fn connect(addr: impl ToSocketAddrs) -> io::Result<TcpStream> {
        let spec = addr.to_addr_spec()?;
        let started = context::with_current(|shared| {
            let mut world = shared.world.borrow_mut();
            let to = resolve(&world, spec)?;
            let node = world
                .current_node()
                .ok_or_else(|| io::Error::other("TcpStream::connect must be called from a task of a node or client"))?;
            let port = {
                let World { net, nodes, .. } = &mut *world;
                net.streams.ephemeral_port(&mut nodes[node.index()])?
            };
            let (key, conn) = world.with_streams(|streams, io| streams.connect(io, node, port, to))?;
            let local = super::stream::local_addr(node, port);
            Ok::<_, io::Error>((Connecting { key, world: shared.id }, conn, local, to))
        });
        let (connecting, conn, local, peer) = match started {
            Some(started) => started?,
            #[cfg(feature = "tokio")]
            None if crate::real::active() => {
                let to = crate::real::net::resolve(spec).await?;
                return Ok(TcpStream::real(tokio::net::TcpStream::connect(to).await?));
            }
            None => return Err(no_simulation("seedsim::net::TcpStream::connect")),
        };
        poll_fn(|cx| {
            match with_world(connecting.world, "seedsim::net::TcpStream::connect", |world| {
                Ok(world.net.streams.poll_connected(connecting.key, cx.waker()))
            }) {
                Ok(polled) => polled,
                Err(err) => Poll::Ready(Err(err)),
            }
        })
        .await?;
        let opened = Opened { key: connecting.key, conn, local, peer };
        let world = connecting.world;
        std::mem::forget(connecting);
        Ok(TcpStream::simulated(opened, world))
    }

    /// This end's address: the node's IP and the port.
    ///
    /// # Errors
    /// On the real backend, what the host reports.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        match &self.connection {
            Connection::Simulated(stream) => Ok(stream.local),
            #[cfg(feature = "tokio")]
            Connection::Real(stream) => stream.local_addr(),
        }
    }

    /// The other end's address.
    ///
    /// # Errors
    /// On the real backend, what the host reports (`NotConnected` once the connection has
    /// gone).
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        match &self.connection {
            Connection::Simulated(stream) => Ok(stream.peer),
            #[cfg(feature = "tokio")]
            Connection::Real(stream) => stream.peer_addr(),
        }
    }

    /// The connection's number in this run, as the trace's stream events show it. On the
    /// real backend, connections are numbered per thread in the order they were made.
    pub fn connection_id(&self) -> u64 {
        self.conn
    }

    fn simulated_stream(&self) -> Option<&SimulatedStream> {
        match &self.connection {
            Connection::Simulated(stream) => Some(stream),
            #[cfg(feature = "tokio")]
            Connection::Real(_) => None,
        }
    }

    /// Shut down reading, writing, or both, as `std::net::TcpStream::shutdown` does.
    /// Shutting down writing sends a FIN after the data already written: the other side
    /// reads that data and then end of file, and can still write back (a half-close).
    /// Shutting down reading makes reads return end of file and discards data that arrives.
    ///
    /// ```
    /// use std::net::Shutdown;
    /// use futures::io::{AsyncReadExt, AsyncWriteExt};
    /// use seedsim::net::{TcpListener, TcpStream};
    ///
    /// let mut sim = seedsim::Sim::new(seedsim::Seed(1));
    /// sim.node("sum", || async {
    ///     let listener = TcpListener::bind("0.0.0.0:9").await?;
    ///     let (mut stream, _) = listener.accept().await?;
    ///     let mut request = Vec::new();
    ///     stream.read_to_end(&mut request).await?; // until the client's FIN
    ///     let sum: u32 = request.iter().map(|&b| u32::from(b)).sum();
    ///     stream.write_all(&sum.to_le_bytes()).await
    /// })?;
    /// sim.client("client", async {
    ///     let mut stream = TcpStream::connect(("sum", 9)).await?;
    ///     stream.write_all(&[1, 2, 3]).await?;
    ///     stream.shutdown(Shutdown::Write)?;
    ///     let mut sum = [0u8; 4];
    ///     stream.read_exact(&mut sum).await?;
    ///     assert_eq!(u32::from_le_bytes(sum), 6);
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// sim.run().unwrap();
    /// # Ok::<(), seedsim::Error>(())
    /// ```
    ///
    /// # Errors
    /// `NotConnected` if the connection already failed or its node crashed.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        let (read, write) = match how {
            Shutdown::Read => (true, false),
            Shutdown::Write => (false, true),
            Shutdown::Both => (true, true),
        };
        let stream = match &self.connection {
            Connection::Simulated(stream) => stream,
            #[cfg(feature = "tokio")]
            Connection::Real(stream) => return crate::real::net::shutdown(stream, how),
        };
        let key = stream.key;
        let wakes = with_world(stream.world, "seedsim::net::TcpStream::shutdown", |world| {
            world.with_streams(|streams, io| streams.shutdown(io, key, read, write))
        })?;
        wake(wakes);
        Ok(())
    }

    /// Read into `buf`: the one read path behind every I/O trait the stream implements
    /// (`futures::io` here, tokio's and hyper's in `seedsim::compat`).
    pub(crate) fn read_polled(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        let stream = match &self.connection {
            Connection::Simulated(stream) => stream,
            #[cfg(feature = "tokio")]
            Connection::Real(stream) => return crate::real::net::poll_read(stream, cx, buf),
        };
        let key = stream.key;
        match with_world(stream.world, "seedsim::net::TcpStream::poll_read", |world| {
            let polled = world.with_streams(|streams, io| streams.read(io, key, cx.waker(), buf));
            if matches!(polled, Poll::Ready(Ok(1..))) {
                world.note_message(Trigger::Receive);
            }
            Ok(polled)
        }) {
            Ok(polled) => polled,
            Err(err) => Poll::Ready(Err(err)),
        }
    }

    fn write_polled(&self, cx: &mut Context<'_>, buf: &[u8], value: Option<&Rc<dyn Any>>) -> Poll<io::Result<usize>> {
        let stream = match &self.connection {
            Connection::Simulated(stream) => stream,
            #[cfg(feature = "tokio")]
            Connection::Real(stream) if value.is_none() => return crate::real::net::poll_write(stream, cx, buf),
            #[cfg(feature = "tokio")]
            Connection::Real(_) => return Poll::Ready(Err(typed_values_are_simulated())),
        };
        let key = stream.key;
        match with_world(stream.world, "seedsim::net::TcpStream::poll_write", |world| {
            let polled = world.with_streams(|streams, io| streams.write(io, key, cx.waker(), buf, value));
            if matches!(polled, Poll::Ready(Ok(1..))) {
                world.note_stream_write(stream.peer.ip());
            }
            Ok(polled)
        }) {
            Ok(polled) => polled,
            Err(err) => Poll::Ready(Err(err)),
        }
    }

    /// Shut down the write side, for every I/O trait's close or shutdown.
    pub(crate) fn close_polled(&self) -> Poll<io::Result<()>> {
        match self.shutdown(Shutdown::Write) {
            // Closing a stream that failed or was closed already is done.
            Err(err) if err.kind() == io::ErrorKind::NotConnected => Poll::Ready(Ok(())),
            result => Poll::Ready(result),
        }
    }

    /// Write plain bytes: the one write path behind every I/O trait the stream implements.
    pub(crate) fn write_bytes_polled(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.write_polled(cx, buf, None)
    }

    /// Write `buf`, whose last byte carries `value` to the reader: the typed RPC layer's way
    /// of moving a Rust value through the connection, delayed, stalled and lost with the
    /// bytes. The value goes only with a write that takes all of `buf`; after a short write,
    /// write the rest with the value again.
    pub(crate) fn poll_write_value(
        &self,
        cx: &mut Context<'_>,
        buf: &[u8],
        value: &Rc<dyn Any>,
    ) -> Poll<io::Result<usize>> {
        self.write_polled(cx, buf, Some(value))
    }

    /// The value carried by the last byte read, if it carried one.
    pub(crate) fn take_value(&self) -> Option<Rc<dyn Any>> {
        let stream = self.simulated_stream()?;
        let key = stream.key;
        with_world(stream.world, "seedsim::net::TcpStream::take_value", |world| Ok(world.net.streams.take_value(key)))
            .ok()
            .flatten()
    }
}

/// Typed RPC values ride on simulated streams without being serialized, so they cannot cross
/// a real connection (the RPC client refuses typed calls outside a simulation first).
#[cfg(feature = "tokio")]
fn typed_values_are_simulated() -> io::Error {
    io::Error::from(crate::rpc::RpcError::TypedOutsideSimulation)
}

impl Drop for SimulatedStream {
    fn drop(&mut self) {
        let key = self.key;
        wake(try_with_streams(self.world, |streams, io| {
            streams.close(io, key);
            [None, None]
        }));
    }
}

impl AsyncRead for TcpStream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        self.read_polled(cx, buf)
    }
}

impl AsyncRead for &TcpStream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        self.read_polled(cx, buf)
    }
}

impl AsyncWrite for TcpStream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.write_bytes_polled(cx, buf)
    }

    /// Written data is in the connection's send buffer already, as in a kernel: nothing to do.
    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    /// Shut down the write side (see [`TcpStream::shutdown`]).
    fn poll_close(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.close_polled()
    }
}

impl AsyncWrite for &TcpStream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.write_bytes_polled(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.close_polled()
    }
}

/// Run `f` on the world of the simulation that made a handle.
fn with_world<R>(world: u64, api: &'static str, f: impl FnOnce(&mut World) -> io::Result<R>) -> io::Result<R> {
    context::with_current(|shared| {
        if shared.id != world {
            return Err(io::Error::other(format!(
                "{api}: this stream belongs to another simulation (a handle that outlived its run)"
            )));
        }
        f(&mut shared.world.borrow_mut())
    })
    .unwrap_or_else(|| Err(no_simulation(api)))
}

/// For destructors: run a stream operation if the handle's world is running and not
/// borrowed; otherwise do nothing (the world is being torn down, or this drop happens inside
/// a world borrow).
fn try_with_streams(world: u64, f: impl FnOnce(&mut Streams, &mut Io<'_>) -> Wakes) -> Wakes {
    context::with_current(|shared: &Shared| {
        if shared.id != world {
            return [None, None];
        }
        match shared.world.try_borrow_mut() {
            Ok(mut world) => world.with_streams(f),
            Err(_) => [None, None],
        }
    })
    .unwrap_or([None, None])
}

fn wake(wakes: Wakes) {
    for waker in wakes.into_iter().flatten() {
        waker.wake();
    }
}

fn no_simulation(api: &'static str) -> io::Error {
    io::Error::other(crate::Error::new(crate::ErrorKind::NoSimulation, api))
}
