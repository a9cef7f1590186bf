//! `seedsim::compat`: tokio's I/O traits and hyper's runtime traits on seedsim's streams,
//! executor and clock. A tokio-util codec and hyper's HTTP/1 client and server run over
//! simulated TCP under loss, duplication and reordering, replay to the same trace hash, keep
//! hyper's timeouts on simulated time, and run unchanged on the real backend.

use std::cell::Cell;
use std::convert::Infallible;
use std::io;
use std::rc::Rc;
use std::time::Duration;

use bytes::Bytes;
use futures::io::{AsyncReadExt, AsyncWriteExt};
use futures::{SinkExt, StreamExt};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use seedsim::compat::hyper::{Executor, Timer};
use seedsim::net::{Link, TcpListener, TcpStream, ToSocketAddrs};
use seedsim::time::Instant;
use seedsim::{task, Error, Runner, Sim};
use tokio_util::codec::{FramedRead, FramedWrite, LengthDelimitedCodec};

use crate::support::rough_link;

fn ms(millis: u64) -> Duration {
    Duration::from_millis(millis)
}

/// Byte `i` of message `k`: varies with both, so a lost, repeated or misplaced byte shows.
fn pattern(k: usize, i: usize) -> u8 {
    (i.wrapping_mul(31) ^ (i >> 8) ^ k.wrapping_mul(7)) as u8
}

/// Message `k`: from empty up to 21,000 bytes, past hyper's and the codec's buffer sizes.
fn message(k: usize) -> Vec<u8> {
    (0..k * 3_000).map(|i| pattern(k, i)).collect()
}

/// Run `scenario` over `seeds` seeds on a rough link, each seed twice: every run must pass
/// and replay to the same trace hash.
fn passes_and_replays(seeds: u64, scenario: impl Fn(&mut Sim) -> Result<(), Error>) {
    let runner = Runner::new().seeds(seeds).determinism_checks(seeds).builder(Sim::builder().link(rough_link()));
    let report = runner.try_run(scenario).unwrap();
    assert!(report.failure.is_none(), "{}", report.failure.unwrap());
    assert_eq!(report.passed, seeds);
}

/// Node code: a length-delimited codec that answers each frame with the frame reversed,
/// reading and writing the one connection through `&TcpStream` at once.
async fn frame_server(listener: TcpListener) -> io::Result<()> {
    let (stream, _) = listener.accept().await?;
    let mut frames = FramedRead::new(&stream, LengthDelimitedCodec::new());
    let mut replies = FramedWrite::new(&stream, LengthDelimitedCodec::new());
    while let Some(frame) = frames.next().await {
        let mut frame = frame?;
        frame.reverse();
        replies.send(frame.freeze()).await?;
    }
    Ok(())
}

/// Node code: send eight frames, then read eight replies; each must be its frame reversed.
async fn frame_client(addr: impl ToSocketAddrs) -> io::Result<usize> {
    let stream = TcpStream::connect(addr).await?;
    let mut framed = tokio_util::codec::Framed::new(stream, LengthDelimitedCodec::new());
    for k in 0..8 {
        framed.send(Bytes::from(message(k))).await?;
    }
    for k in 0..8 {
        let reply = framed.next().await.expect("a reply per frame")?;
        let mut expected = message(k);
        expected.reverse();
        assert_eq!(reply.len(), expected.len(), "reply {k}");
        assert!(reply == expected, "reply {k} differs");
    }
    Ok(8)
}

#[test]
fn a_tokio_util_codec_keeps_frames_whole_under_loss_and_replays() {
    passes_and_replays(10, |sim| {
        sim.node("server", || async { frame_server(TcpListener::bind("0.0.0.0:7").await?).await })?;
        sim.client("client", async { frame_client(("server", 7)).await.map(drop) })?;
        Ok(())
    });
}

#[test]
fn tokio_io_shutdown_sends_end_of_file() {
    let mut sim = Sim::builder().link(Link::fixed(ms(1))).build().unwrap();
    sim.node("server", || async {
        let listener = TcpListener::bind("0.0.0.0:7").await?;
        let (mut stream, _) = listener.accept().await?;
        let mut all = Vec::new();
        stream.read_to_end(&mut all).await?;
        stream.write_all(&(all.len() as u32).to_le_bytes()).await
    })
    .unwrap();
    sim.client("client", async {
        let mut stream = TcpStream::connect(("server", 7)).await?;
        tokio::io::AsyncWriteExt::write_all(&mut stream, &message(4)).await?;
        tokio::io::AsyncWriteExt::shutdown(&mut stream).await?;
        let mut len = [0u8; 4];
        tokio::io::AsyncReadExt::read_exact(&mut stream, &mut len).await?;
        assert_eq!(u32::from_le_bytes(len), 12_000);
        assert_eq!(tokio::io::AsyncReadExt::read(&mut stream, &mut len).await?, 0, "end of file");
        Ok::<(), io::Error>(())
    })
    .unwrap();
    assert!(sim.run().is_passed());
}

/// Node code: an HTTP/1 server whose answer to `POST /path` is the path and then the body
/// reversed.
async fn http_server(listener: TcpListener) -> io::Result<()> {
    loop {
        let (stream, _) = listener.accept().await?;
        let service = service_fn(|request: Request<Incoming>| async move {
            let mut reply = request.uri().path().as_bytes().to_vec();
            let mut body = request.into_body().collect().await?.to_bytes().to_vec();
            body.reverse();
            reply.extend(body);
            Ok::<_, hyper::Error>(Response::new(Full::new(Bytes::from(reply))))
        });
        let connection = http1::Builder::new().timer(Timer).auto_date_header(false).serve_connection(stream, service);
        drop(task::spawn(async move {
            // A connection the client dropped, or whose node crashed, ends here.
            let _ = connection.await;
        }));
    }
}

/// Node code: eight requests on one keep-alive connection, each answer checked.
async fn http_client(addr: impl ToSocketAddrs, host: &str) -> io::Result<usize> {
    let stream = TcpStream::connect(addr).await?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake::<_, Full<Bytes>>(stream).await.map_err(io::Error::other)?;
    drop(task::spawn(connection));
    for k in 0..8 {
        let request = Request::post(format!("/m{k}"))
            .header("host", host)
            .body(Full::new(Bytes::from(message(k))))
            .map_err(io::Error::other)?;
        let response = sender.send_request(request).await.map_err(io::Error::other)?;
        assert_eq!(response.status(), 200);
        let body = response.into_body().collect().await.map_err(io::Error::other)?.to_bytes();
        let mut expected = format!("/m{k}").into_bytes();
        expected.extend(message(k).into_iter().rev());
        assert_eq!(body.len(), expected.len(), "answer {k}");
        assert!(body == expected, "answer {k} differs");
    }
    Ok(8)
}

#[test]
fn hyper_http1_round_trips_over_simulated_tcp_under_loss_and_replays() {
    passes_and_replays(10, |sim| {
        sim.node("server", || async { http_server(TcpListener::bind("0.0.0.0:80").await?).await })?;
        for client in ["a", "b"] {
            sim.client(client, async { http_client(("server", 80), "server").await.map(drop) })?;
        }
        Ok(())
    });
}

#[test]
fn hyper_request_fails_cleanly_when_the_server_crashes() {
    let mut sim = Sim::builder().link(Link::fixed(ms(1))).build().unwrap();
    sim.node("server", || async {
        let listener = TcpListener::bind("0.0.0.0:80").await?;
        let (stream, _) = listener.accept().await?;
        let never = service_fn(|_: Request<Incoming>| async {
            seedsim::time::sleep(Duration::from_secs(3600)).await;
            Ok::<_, Infallible>(Response::new(Full::<Bytes>::default()))
        });
        http1::Builder::new().timer(Timer).serve_connection(stream, never).await.map_err(io::Error::other)
    })
    .unwrap();
    sim.client("client", async {
        let stream = TcpStream::connect(("server", 80)).await?;
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake::<_, Full<Bytes>>(stream).await.map_err(io::Error::other)?;
        drop(task::spawn(connection));
        let request = Request::get("/").header("host", "server").body(Full::default()).unwrap();
        let pending = task::spawn(sender.send_request(request));
        seedsim::time::sleep(ms(100)).await;
        seedsim::world::crash("server")?;
        let failed = pending.await.expect("the request task ran").unwrap_err();
        // The reset the crash caused, as an I/O error under hyper's.
        let source = std::error::Error::source(&failed).and_then(|source| source.downcast_ref::<io::Error>());
        assert_eq!(source.map(io::Error::kind), Some(io::ErrorKind::ConnectionReset), "{failed:?}");
        Ok::<(), Box<dyn std::error::Error>>(())
    })
    .unwrap();
    let outcome = sim.run();
    assert!(outcome.is_passed(), "{outcome:?}");
}

#[test]
fn hypers_header_read_timeout_fires_on_simulated_time() {
    let mut sim = Sim::builder().link(Link::fixed(ms(1))).build().unwrap();
    sim.node("server", || async {
        let listener = TcpListener::bind("0.0.0.0:80").await?;
        let (stream, _) = listener.accept().await?;
        let hello = service_fn(|_: Request<Incoming>| async {
            Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"hello"))))
        });
        let _ = http1::Builder::new()
            .timer(Timer)
            .header_read_timeout(Duration::from_secs(3))
            .serve_connection(stream, hello)
            .await;
        Ok::<(), io::Error>(())
    })
    .unwrap();
    sim.client("client", async {
        let mut stream = TcpStream::connect(("server", 80)).await?;
        let start = Instant::now();
        stream.write_all(b"GET / HTTP/1.1\r\n").await?; // and never the rest of the head
        let mut buf = [0u8; 256];
        let mut answer = Vec::new();
        loop {
            match stream.read(&mut buf).await? {
                0 => break,
                len => answer.extend_from_slice(&buf[..len]),
            }
        }
        // hyper closes the connection, unanswered, when its timer on the server's simulated
        // clock fires: 3 s after it began serving the connection (at the accept, 1 ms before
        // the connect returned here), and the FIN takes the link's 1 ms back.
        assert_eq!(start.elapsed(), Duration::from_secs(3));
        assert_eq!(String::from_utf8_lossy(&answer), "");
        Ok::<(), io::Error>(())
    })
    .unwrap();
    let outcome = sim.run();
    assert!(outcome.is_passed(), "{outcome:?}");
}

#[test]
fn hypers_executor_spawns_on_the_calling_node_and_its_timer_reads_the_nodes_clock() {
    use hyper::rt::{Executor as _, Timer as _};
    let mut sim = Sim::new(seedsim::Seed(1));
    let ran = Rc::new(Cell::new(None));
    let seen = ran.clone();
    sim.node("n", move || {
        let ran = ran.clone();
        async move {
            let before = Timer.now();
            let start = Instant::now();
            Executor.execute(async move {
                Timer.sleep(ms(250)).await;
                ran.set(Some(Instant::now()));
            });
            Timer.sleep_until(before + ms(100)).await;
            assert_eq!(start.elapsed(), ms(100));
            assert_eq!(Timer.now() - before, ms(100));
        }
    })
    .unwrap();
    sim.client("c", async {
        seedsim::time::sleep(ms(200)).await;
        // The spawned task belongs to node n: its crash cancels it before it sets the flag.
        seedsim::world::crash("n")?;
        seedsim::time::sleep(ms(500)).await;
        Ok::<(), Error>(())
    })
    .unwrap();
    assert!(sim.run().is_passed());
    assert_eq!(seen.get(), None, "the task died with its node");

    let mut sim = Sim::new(seedsim::Seed(1));
    let ran = Rc::new(Cell::new(None));
    let seen = ran.clone();
    sim.client("c", async move {
        Executor.execute(async move {
            Timer.sleep(ms(250)).await;
            ran.set(Some(Instant::now()));
        });
        seedsim::time::sleep(ms(500)).await;
        Ok::<(), Error>(())
    })
    .unwrap();
    assert!(sim.run().is_passed());
    assert_eq!(seen.get(), Some(Instant::ZERO + ms(250)));
}

#[cfg(feature = "tokio")]
mod real {
    use super::*;

    #[test]
    fn the_same_codec_and_hyper_node_code_runs_on_the_real_backend() {
        seedsim::real::Runtime::new()
            .unwrap()
            .block_on(async {
                let frames = TcpListener::bind("127.0.0.1:0").await?;
                let frames_at = frames.local_addr()?;
                drop(task::spawn(frame_server(frames)));
                let http = TcpListener::bind("127.0.0.1:0").await?;
                let http_at = http.local_addr()?;
                drop(task::spawn(http_server(http)));
                let deadline = Duration::from_secs(20);
                assert_eq!(seedsim::time::timeout(deadline, frame_client(frames_at)).await??, 8);
                assert_eq!(seedsim::time::timeout(deadline, http_client(http_at, "localhost")).await??, 8);
                Ok::<(), io::Error>(())
            })
            .unwrap();
    }
}
