//! `tokio::io::AsyncRead` and `AsyncWrite` on [`TcpStream`] and `&TcpStream` (feature
//! `tokio-io`), over the same read and write paths as its `futures::io` traits, so a tokio-util
//! codec or `tokio::io::copy` runs over a simulated or a real connection alike.
//!
//! Only tokio's traits are used, never its runtime: nothing here needs a Tokio runtime
//! inside a simulation.
//!
//! ```
//! use futures::{SinkExt, StreamExt};
//! use seedsim::net::{TcpListener, TcpStream};
//! use tokio_util::codec::{Framed, LinesCodec};
//!
//! let mut sim = seedsim::Sim::new(seedsim::Seed(1));
//! sim.node("server", || async {
//!     let listener = TcpListener::bind("0.0.0.0:7").await?;
//!     let (stream, _) = listener.accept().await?;
//!     let mut lines = Framed::new(stream, LinesCodec::new());
//!     while let Some(Ok(line)) = lines.next().await {
//!         lines.send(line.to_uppercase()).await.map_err(std::io::Error::other)?;
//!     }
//!     Ok::<(), std::io::Error>(())
//! })?;
//! sim.client("client", async {
//!     let stream = TcpStream::connect(("server", 7)).await?;
//!     let mut lines = Framed::new(stream, LinesCodec::new());
//!     lines.send("hello").await.map_err(std::io::Error::other)?;
//!     assert_eq!(lines.next().await.unwrap().unwrap(), "HELLO");
//!     Ok::<(), std::io::Error>(())
//! })?;
//! sim.run().unwrap();
//! # Ok::<(), seedsim::Error>(())
//! ```

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::net::TcpStream;

/// Read into the unfilled part of `buf`. `initialize_unfilled` zeroes only bytes never
/// initialized before, so a buffer reused across reads is zeroed once.
fn read(stream: &TcpStream, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
    let read = std::task::ready!(stream.read_polled(cx, buf.initialize_unfilled()))?;
    buf.advance(read);
    Poll::Ready(Ok(()))
}

impl AsyncRead for TcpStream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        read(&self, cx, buf)
    }
}

impl AsyncRead for &TcpStream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        read(&self, cx, buf)
    }
}

impl AsyncWrite for TcpStream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.write_bytes_polled(cx, buf)
    }

    /// Written data is in the connection's send buffer already: nothing to do.
    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    /// Shut down the write side (see [`TcpStream::shutdown`]).
    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
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

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.close_polled()
    }
}
