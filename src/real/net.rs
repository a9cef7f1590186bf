//! Real sockets behind `seedsim::net`: name resolution by the host's resolver, and the
//! by-reference stream I/O that `futures::io` on `&TcpStream` needs.

use std::io;
use std::net::{IpAddr, Shutdown, SocketAddr};
use std::task::{Context, Poll};

use crate::error::{Error, ErrorKind};
use crate::net::AddrSpec;

/// The socket address `spec` names, by the host's resolver (DNS, `/etc/hosts`).
///
/// # Errors
/// `NotFound`, naming the host, when the resolver knows no address for it.
pub(crate) async fn resolve(spec: AddrSpec<'_>) -> io::Result<SocketAddr> {
    match spec {
        AddrSpec::Addr(addr) => Ok(addr),
        AddrSpec::Host(host, port) => {
            let unknown =
                |reason: String| io::Error::new(io::ErrorKind::NotFound, format!("unknown host {host:?}: {reason}"));
            let mut addrs = tokio::net::lookup_host((host, port)).await.map_err(|err| unknown(err.to_string()))?;
            addrs.next().ok_or_else(|| unknown("the resolver returned no address".to_owned()))
        }
    }
}

/// The first address the host's resolver gives for `name`. This blocks the thread while the
/// resolver works (at once for an IP address, `localhost` or a name in `/etc/hosts`).
pub(crate) fn lookup(name: &str) -> Result<IpAddr, Error> {
    if let Ok(ip) = name.parse::<IpAddr>() {
        return Ok(ip);
    }
    std::net::ToSocketAddrs::to_socket_addrs(&(name, 0))
        .ok()
        .and_then(|mut addrs| addrs.next())
        .map(|addr| addr.ip())
        .ok_or_else(|| Error::new(ErrorKind::UnknownNode, name))
}

/// Read from a shared stream, as tokio's own `AsyncRead` does from an owned one.
pub(crate) fn poll_read(
    stream: &tokio::net::TcpStream,
    cx: &mut Context<'_>,
    buf: &mut [u8],
) -> Poll<io::Result<usize>> {
    poll_when_ready(cx, |cx| stream.poll_read_ready(cx), || stream.try_read(buf))
}

/// Write to a shared stream, as tokio's own `AsyncWrite` does from an owned one.
pub(crate) fn poll_write(stream: &tokio::net::TcpStream, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
    poll_when_ready(cx, |cx| stream.poll_write_ready(cx), || stream.try_write(buf))
}

/// Wait for readiness, then try the operation. Readiness can be stale: `WouldBlock` clears it,
/// and the loop waits again.
fn poll_when_ready(
    cx: &mut Context<'_>,
    mut ready: impl FnMut(&mut Context<'_>) -> Poll<io::Result<()>>,
    mut operate: impl FnMut() -> io::Result<usize>,
) -> Poll<io::Result<usize>> {
    loop {
        if let Err(err) = std::task::ready!(ready(cx)) {
            return Poll::Ready(Err(err));
        }
        match operate() {
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => continue,
            done => return Poll::Ready(done),
        }
    }
}

/// `shutdown(2)` on a shared stream: tokio offers only the write side, through `&mut`.
pub(crate) fn shutdown(stream: &tokio::net::TcpStream, how: Shutdown) -> io::Result<()> {
    socket2::SockRef::from(stream).shutdown(how)
}
