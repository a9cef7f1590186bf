//! A datagram socket on a simulated node, shaped like `tokio::net::UdpSocket`.

use std::fmt;
use std::future::poll_fn;
use std::io;
use std::net::SocketAddr;
use std::task::Poll;

use super::{resolve, SocketKey, ToSocketAddrs, DATAGRAM_MAX};
use crate::context;
use crate::fault::Trigger;
use crate::node::NodeId;

/// A UDP socket bound on the calling node.
///
/// Datagrams carry bytes; each one goes through the link between the two nodes (latency,
/// loss, duplication, reordering, partitions). The socket is closed when dropped or when its
/// node crashes; a handle used after its node crashed returns `NotConnected`.
///
/// One task should receive on a socket at a time: a second concurrent `recv_from` replaces
/// the first one's wake-up.
///
/// ```
/// async fn echo() -> std::io::Result<()> {
///     let socket = seedsim::net::UdpSocket::bind("0.0.0.0:7").await?;
///     let mut buf = [0u8; 1500];
///     loop {
///         let (len, from) = socket.recv_from(&mut buf).await?;
///         socket.send_to(&buf[..len], from).await?;
///     }
/// }
///
/// let mut sim = seedsim::Sim::new(seedsim::Seed(1));
/// sim.node("echo", echo)?;
/// sim.client("client", async {
///     let socket = seedsim::net::UdpSocket::bind("0.0.0.0:0").await?;
///     socket.send_to(b"hello", ("echo", 7)).await?;
///     let mut buf = [0u8; 1500];
///     let (len, _) = socket.recv_from(&mut buf).await?;
///     assert_eq!(&buf[..len], b"hello");
///     Ok::<(), std::io::Error>(())
/// })?;
/// assert!(sim.run().is_passed());
/// # Ok::<(), seedsim::Error>(())
/// ```
pub struct UdpSocket {
    socket: Socket,
}

enum Socket {
    Simulated(Simulated),
    #[cfg(feature = "tokio")]
    Real(tokio::net::UdpSocket),
}

/// A socket in a simulated world: a key into the world's socket table.
struct Simulated {
    key: SocketKey,
    node: NodeId,
    local: SocketAddr,
    world: u64,
}

impl fmt::Debug for UdpSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UdpSocket").field("local", &self.local_addr().ok()).finish()
    }
}

impl UdpSocket {
    /// Bind a socket on the calling node. The address's IP must be `0.0.0.0`, `127.0.0.1` or
    /// the node's own; port 0 picks a free ephemeral port. On the real backend (`seedsim::real`,
    /// feature `tokio`) this binds a host socket, with the host's rules.
    ///
    /// # Errors
    /// `AddrInUse` if the port is taken on this node, `AddrNotAvailable` for another node's
    /// IP, `InvalidInput` for an address that does not parse, and `Other` outside a running
    /// simulation or outside a node's task.
    pub async fn bind(addr: impl ToSocketAddrs) -> io::Result<UdpSocket> {
        let spec = addr.to_addr_spec()?;
        let simulated = context::with_current(|shared| {
            let mut world = shared.world.borrow_mut();
            let requested = resolve(&world, spec)?;
            let node = world
                .current_node()
                .ok_or_else(|| io::Error::other("UdpSocket::bind must be called from a task of a node or client"))?;
            let (key, local) = world.bind(node, requested)?;
            Ok::<_, io::Error>(Simulated { key, node, local, world: shared.id })
        });
        let socket = match simulated {
            Some(bound) => Socket::Simulated(bound?),
            #[cfg(feature = "tokio")]
            None if crate::real::active() => {
                let requested = crate::real::net::resolve(spec).await?;
                Socket::Real(tokio::net::UdpSocket::bind(requested).await?)
            }
            None => return Err(no_simulation("seedsim::net::UdpSocket::bind")),
        };
        Ok(UdpSocket { socket })
    }

    /// The address the socket is bound to: the node's IP and the port.
    ///
    /// # Errors
    /// On the real backend, what the host reports.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        match &self.socket {
            Socket::Simulated(socket) => Ok(socket.local),
            #[cfg(feature = "tokio")]
            Socket::Real(socket) => socket.local_addr(),
        }
    }

    /// Send `buf` as one datagram to `target`. Completes at once: the network takes the
    /// datagram (or drops it) without the sender knowing, as UDP does.
    ///
    /// # Errors
    /// `InvalidInput` for a payload over [`DATAGRAM_MAX`] bytes or an unparsable address,
    /// `NotFound` for an unknown node name, `NotConnected` if the socket was closed by a
    /// crash.
    pub async fn send_to(&self, buf: &[u8], target: impl ToSocketAddrs) -> io::Result<usize> {
        if buf.len() > DATAGRAM_MAX {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("datagram of {} bytes is longer than the UDP maximum of {DATAGRAM_MAX}", buf.len()),
            ));
        }
        let spec = target.to_addr_spec()?;
        let socket = match &self.socket {
            Socket::Simulated(socket) => socket,
            #[cfg(feature = "tokio")]
            Socket::Real(socket) => return socket.send_to(buf, crate::real::net::resolve(spec).await?).await,
        };
        socket.with_world("seedsim::net::UdpSocket::send_to", |world| {
            let to = resolve(world, spec)?;
            world.send_datagram(socket.key, socket.node, socket.local.port(), to, buf)?;
            world.note_message(Trigger::Send);
            Ok(buf.len())
        })
    }

    /// Wait for a datagram; copy it into `buf` and return its length and sender. A datagram
    /// longer than `buf` is truncated, as UDP does.
    ///
    /// # Errors
    /// `NotConnected` if the socket was closed by a crash.
    pub async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        let socket = match &self.socket {
            Socket::Simulated(socket) => socket,
            #[cfg(feature = "tokio")]
            Socket::Real(socket) => return socket.recv_from(buf).await,
        };
        poll_fn(|cx| {
            let received = socket.with_world("seedsim::net::UdpSocket::recv_from", |world| {
                let received = world.net.recv_into(socket.key, cx.waker(), buf)?;
                if received.is_some() {
                    world.note_message(Trigger::Receive);
                }
                Ok(received)
            });
            match received {
                Ok(Some(received)) => Poll::Ready(Ok(received)),
                Ok(None) => Poll::Pending,
                Err(err) => Poll::Ready(Err(err)),
            }
        })
        .await
    }

    /// Take a datagram that has already arrived, without waiting.
    ///
    /// # Errors
    /// `WouldBlock` if none has arrived; `NotConnected` if the socket was closed by a crash.
    pub fn try_recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        let socket = match &self.socket {
            Socket::Simulated(socket) => socket,
            #[cfg(feature = "tokio")]
            Socket::Real(socket) => return socket.try_recv_from(buf),
        };
        socket.with_world("seedsim::net::UdpSocket::try_recv_from", |world| {
            match world.net.try_recv_into(socket.key, buf)? {
                Some(received) => {
                    world.note_message(Trigger::Receive);
                    Ok(received)
                }
                None => Err(io::Error::from(io::ErrorKind::WouldBlock)),
            }
        })
    }
}

impl Simulated {
    // Inlined by hand: with the real backend's arms beside it, the compiler stopped inlining
    // it into the datagram path, which cost the simulator 5% more instructions in ping-pong.
    #[inline(always)]
    fn with_world<R>(
        &self,
        api: &'static str,
        f: impl FnOnce(&mut crate::sim::state::World) -> io::Result<R>,
    ) -> io::Result<R> {
        let world = self.world;
        context::with_current(|shared| {
            if shared.id != world {
                return Err(io::Error::other(format!(
                    "{api}: this socket belongs to another simulation (a handle that outlived its run)"
                )));
            }
            f(&mut shared.world.borrow_mut())
        })
        .unwrap_or_else(|| Err(no_simulation(api)))
    }
}

fn no_simulation(api: &'static str) -> io::Error {
    io::Error::other(crate::Error::new(crate::ErrorKind::NoSimulation, api))
}

impl Drop for Simulated {
    fn drop(&mut self) {
        let (world, key) = (self.world, self.key);
        context::with_current(|shared| {
            if shared.id == world {
                if let Ok(mut world) = shared.world.try_borrow_mut() {
                    world.net.close(key);
                }
            }
        });
    }
}
