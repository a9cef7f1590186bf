//! The RPC wire format: a frame is a 16-byte header, a method name, and a body.
//!
//! ```text
//! kind u8 | flags u8 | call u64 LE | method length u16 LE | body length u32 LE
//! method (UTF-8) | body
//! ```
//!
//! A typed body (flag `VALUE`) is one byte that carries the value through the stream
//! (`TcpStream::poll_write_value`); a byte body is the codec's bytes, or an error's message.
//! A frame is written in one write where it can (so it usually travels as one segment), under
//! its connection's write lock, so frames of concurrent calls never interleave. Writing a
//! typed frame without a method name allocates nothing.

use std::any::Any;
use std::future::poll_fn;
use std::io;
use std::rc::Rc;

use futures::io::{AsyncReadExt, AsyncWriteExt};

use crate::net::TcpStream;

/// A request, from client to server.
pub(crate) const REQUEST: u8 = 1;
/// A successful response.
pub(crate) const REPLY: u8 = 2;
/// The handler returned an error; the body is its message.
pub(crate) const HANDLER_ERROR: u8 = 3;
/// No handler for the request's type or method.
pub(crate) const NO_HANDLER: u8 = 4;
/// The request's bytes did not decode; the body is the codec's message.
pub(crate) const BAD_REQUEST: u8 = 5;

/// The body is a value carried by its one byte.
const VALUE: u8 = 1;
const HEADER: usize = 16;
/// The largest byte body a frame may have: a longer one means a corrupt stream.
pub(crate) const BODY_MAX: usize = 64 << 20;

/// What a frame carries.
pub(crate) enum Body {
    Value(Rc<dyn Any>),
    Bytes(Vec<u8>),
}

pub(crate) struct Frame {
    pub(crate) kind: u8,
    pub(crate) call: u64,
    /// Empty for a typed request.
    pub(crate) method: String,
    pub(crate) body: Body,
}

pub(crate) async fn write_frame(stream: &TcpStream, frame: &Frame) -> io::Result<()> {
    let (flags, body_len) = match &frame.body {
        Body::Value(_) => (VALUE, 1),
        Body::Bytes(bytes) => (0, bytes.len()),
    };
    let method_len = u16::try_from(frame.method.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "rpc method name longer than 65535 bytes"))?;
    let body_len_u32 = u32::try_from(body_len).ok().filter(|_| body_len <= BODY_MAX).ok_or_else(|| {
        io::Error::new(io::ErrorKind::InvalidInput, format!("rpc body of {body_len} bytes: at most {BODY_MAX}"))
    })?;
    let mut header = [0u8; HEADER];
    header[0] = frame.kind;
    header[1] = flags;
    header[2..10].copy_from_slice(&frame.call.to_le_bytes());
    header[10..12].copy_from_slice(&method_len.to_le_bytes());
    header[12..16].copy_from_slice(&body_len_u32.to_le_bytes());
    match &frame.body {
        // The common typed frame (no method name): one write, its last byte carrying the value.
        Body::Value(value) if frame.method.is_empty() => {
            let mut bytes = [0u8; HEADER + 1];
            bytes[..HEADER].copy_from_slice(&header);
            write_all_with_value(stream, &bytes, value).await
        }
        Body::Value(value) => {
            let mut bytes = Vec::with_capacity(HEADER + frame.method.len() + 1);
            bytes.extend_from_slice(&header);
            bytes.extend_from_slice(frame.method.as_bytes());
            bytes.push(0);
            write_all_with_value(stream, &bytes, value).await
        }
        Body::Bytes(body) => {
            let mut bytes = Vec::with_capacity(HEADER + frame.method.len() + body.len());
            bytes.extend_from_slice(&header);
            bytes.extend_from_slice(frame.method.as_bytes());
            bytes.extend_from_slice(body);
            let mut writer = stream;
            writer.write_all(&bytes).await
        }
    }
}

/// Write all of `bytes`, the last one carrying `value`.
async fn write_all_with_value(stream: &TcpStream, mut bytes: &[u8], value: &Rc<dyn Any>) -> io::Result<()> {
    while !bytes.is_empty() {
        let written = poll_fn(|cx| stream.poll_write_value(cx, bytes, value)).await?;
        if written == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        bytes = &bytes[written..];
    }
    Ok(())
}

/// Read the next frame. End of file before a frame's first byte is `UnexpectedEof`, as it is
/// in the middle of one.
pub(crate) async fn read_frame(stream: &TcpStream) -> io::Result<Frame> {
    let mut reader = stream;
    let mut header = [0u8; HEADER];
    reader.read_exact(&mut header).await?;
    let kind = header[0];
    let flags = header[1];
    let call = u64::from_le_bytes(header[2..10].try_into().expect("8 bytes"));
    let method_len = usize::from(u16::from_le_bytes(header[10..12].try_into().expect("2 bytes")));
    let body_len = u32::from_le_bytes(header[12..16].try_into().expect("4 bytes")) as usize;
    let corrupt = |what: &str| io::Error::new(io::ErrorKind::InvalidData, format!("corrupt rpc frame: {what}"));
    if !(REQUEST..=BAD_REQUEST).contains(&kind) || flags & !VALUE != 0 {
        return Err(corrupt("unknown kind or flags"));
    }
    if body_len > BODY_MAX || (flags == VALUE && body_len != 1) {
        return Err(corrupt("body length"));
    }
    let mut method = vec![0u8; method_len];
    reader.read_exact(&mut method).await?;
    let method = String::from_utf8(method).map_err(|_| corrupt("method name is not UTF-8"))?;
    let body = if flags == VALUE {
        reader.read_exact(&mut [0u8; 1]).await?;
        Body::Value(stream.take_value().ok_or_else(|| corrupt("a value byte without a value"))?)
    } else {
        let mut body = vec![0u8; body_len];
        reader.read_exact(&mut body).await?;
        Body::Bytes(body)
    };
    Ok(Frame { kind, call, method, body })
}

/// An error frame's message.
pub(crate) fn message(body: Body) -> String {
    match body {
        Body::Bytes(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Body::Value(_) => String::new(),
    }
}
