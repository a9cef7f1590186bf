//! An axum router served by hyper's HTTP/1 connection builder on seedsim: a key-value store
//! (`PUT /kv/{key}` with the value as the body, `GET /kv/{key}`) under crashes, pauses,
//! partitions and clogs, its clients' history checked for linearizability. The same node
//! code runs on real sockets with `--real`.
//!
//! ```text
//! cargo run --example axum_kv                   # 100 seeds of the correct store
//! cargo run --example axum_kv -- --buggy        # finds the planted lost write, prints its replay line
//! cargo run --example axum_kv -- --seed 0x2a    # one seed and its trace hash
//! cargo run --example axum_kv -- --real         # a real server and clients on 127.0.0.1:7300
//! ```
//!
//! Everything hyper needs from a runtime comes from `seedsim::compat::hyper`: the stream
//! (`hyper::rt::Read`/`Write` on `seedsim::net::TcpStream`), the timer (seedsim's clock) and,
//! for HTTP/2, the executor. axum's own `serve` needs tokio's listener, so the accept loop
//! below is written out: accept, then serve each connection on a task of its own.

use std::io;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request};
use seedsim::compat::hyper::Timer;
use seedsim::net::{TcpListener, TcpStream};
use seedsim_web::{App, KvClient, Store};
use tower_service::Service;

/// `PUT /kv/{key}`: the body is the value, in decimal.
async fn put(State(store): State<Store>, Path(key): Path<String>, body: String) -> (StatusCode, String) {
    let Ok(value) = body.trim().parse::<u64>() else {
        return (StatusCode::BAD_REQUEST, format!("expected a number, got {body:?}"));
    };
    match store.put(key, value).await {
        Ok(()) => (StatusCode::NO_CONTENT, String::new()),
        Err(err) => (StatusCode::SERVICE_UNAVAILABLE, err.to_string()),
    }
}

/// `GET /kv/{key}`: the value, or 404.
async fn read(State(store): State<Store>, Path(key): Path<String>) -> (StatusCode, String) {
    match store.get(key).await {
        Ok(Some(value)) => (StatusCode::OK, value.to_string()),
        Ok(None) => (StatusCode::NOT_FOUND, String::new()),
        Err(err) => (StatusCode::SERVICE_UNAVAILABLE, err.to_string()),
    }
}

/// Serve the router on every connection `listener` accepts, each on a task of its own.
async fn serve(listener: TcpListener, store: Store) -> io::Result<()> {
    let router = Router::new().route("/kv/{key}", get(read).put(put)).with_state(store);
    loop {
        let (stream, _) = listener.accept().await?;
        let router = router.clone();
        // axum's router is a tower service; hyper takes its own `Service` trait.
        let service = service_fn(move |request: Request<Incoming>| router.clone().call(request));
        let connection = http1::Builder::new()
            .timer(Timer)
            // hyper's Date header reads the host's wall clock: off, so every byte replays.
            .auto_date_header(false)
            .serve_connection(stream, service);
        drop(seedsim::task::spawn(async move {
            // A client that went away, or a reset, ends the connection, not the server.
            let _ = connection.await;
        }));
    }
}

/// A client on one keep-alive HTTP/1 connection.
struct HttpClient {
    sender: hyper::client::conn::http1::SendRequest<Full<Bytes>>,
    host: String,
}

impl HttpClient {
    async fn send(&mut self, method: Method, key: &str, body: String) -> io::Result<(StatusCode, Bytes)> {
        let request = Request::builder()
            .method(method)
            .uri(format!("/kv/{key}"))
            .header("host", &self.host)
            .body(Full::new(Bytes::from(body)))
            .map_err(io::Error::other)?;
        let response = self.sender.send_request(request).await.map_err(io::Error::other)?;
        let status = response.status();
        let body = response.into_body().collect().await.map_err(io::Error::other)?.to_bytes();
        Ok((status, body))
    }
}

fn unexpected(status: StatusCode, body: &Bytes) -> io::Error {
    io::Error::other(format!("the server answered {status}: {}", String::from_utf8_lossy(body)))
}

impl KvClient for HttpClient {
    async fn connect(addr: &str) -> io::Result<HttpClient> {
        let stream = TcpStream::connect(addr).await?;
        // hyper's HTTP/1 client keeps no timers: the workload's own timeouts bound each call.
        let (sender, connection) = hyper::client::conn::http1::handshake(stream).await.map_err(io::Error::other)?;
        drop(seedsim::task::spawn(connection));
        Ok(HttpClient { sender, host: addr.to_owned() })
    }

    async fn put(&mut self, key: &str, value: u64) -> io::Result<()> {
        match self.send(Method::PUT, key, value.to_string()).await? {
            (StatusCode::NO_CONTENT, _) => Ok(()),
            (status, body) => Err(unexpected(status, &body)),
        }
    }

    async fn get(&mut self, key: &str) -> io::Result<Option<u64>> {
        match self.send(Method::GET, key, String::new()).await? {
            (StatusCode::OK, body) => {
                String::from_utf8_lossy(&body).parse().map(Some).map_err(|_| unexpected(StatusCode::OK, &body))
            }
            (StatusCode::NOT_FOUND, _) => Ok(None),
            (status, body) => Err(unexpected(status, &body)),
        }
    }
}

fn main() -> std::process::ExitCode {
    seedsim_web::main::<HttpClient>(App { name: "axum_kv", serve: |listener, store| Box::pin(serve(listener, store)) })
}
