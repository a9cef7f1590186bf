//! A tonic gRPC service and client over hyper's HTTP/2 on seedsim: the key-value store of
//! `axum_kv`, as `kv.Kv/Put` and `kv.Kv/Get`, under crashes, pauses, partitions and clogs,
//! its clients' history checked for linearizability. The same node code runs on real
//! sockets with `--real`.
//!
//! ```text
//! cargo run --example tonic_kv                  # 100 seeds of the correct store
//! cargo run --example tonic_kv -- --buggy       # finds the planted lost write, prints its replay line
//! cargo run --example tonic_kv -- --seed 0x2a   # one seed and its trace hash
//! cargo run --example tonic_kv -- --real        # a real server and clients on 127.0.0.1:7300
//! ```
//!
//! No `protoc` and no build script: the messages are prost structs written by hand (what
//! `prost-build` would generate for the `.proto` below), and the service and client are the
//! few lines tonic's generated code would hold — `tonic::server::Grpc` and
//! `tonic::client::Grpc` with tonic-prost's codec. tonic's own transport (`Server`,
//! `Channel`) is not used: it runs on tokio's network and timers. Instead hyper's HTTP/2
//! connection builders serve and call over seedsim's TCP, with `seedsim::compat::hyper`'s
//! executor (HTTP/2 runs each stream as a task) and timer.
//!
//! ```text
//! syntax = "proto3";
//! package kv;
//! service Kv {
//!   rpc Put(PutRequest) returns (PutReply);
//!   rpc Get(GetRequest) returns (GetReply);
//! }
//! message PutRequest { string key = 1; uint64 value = 2; }
//! message PutReply {}
//! message GetRequest { string key = 1; }
//! message GetReply { optional uint64 value = 1; }
//! ```

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::uri::PathAndQuery;
use http::Uri;
use hyper::body::Incoming;
use hyper::service::service_fn;
use seedsim::compat::hyper::{Executor, Timer};
use seedsim::net::{TcpListener, TcpStream};
use seedsim_web::{App, KvClient, Store};
use tonic::body::Body;
use tonic::{Request, Response, Status};
use tonic_prost::ProstCodec;

#[derive(Clone, PartialEq, prost::Message)]
struct PutRequest {
    #[prost(string, tag = "1")]
    key: String,
    #[prost(uint64, tag = "2")]
    value: u64,
}

#[derive(Clone, PartialEq, prost::Message)]
struct PutReply {}

#[derive(Clone, PartialEq, prost::Message)]
struct GetRequest {
    #[prost(string, tag = "1")]
    key: String,
}

#[derive(Clone, PartialEq, prost::Message)]
struct GetReply {
    #[prost(uint64, optional, tag = "1")]
    value: Option<u64>,
}

const PUT: &str = "/kv.Kv/Put";
const GET: &str = "/kv.Kv/Get";

/// A reply on its way: handlers run on the server's node, so it need not be `Send`.
type Reply<T> = Pin<Box<dyn Future<Output = Result<Response<T>, Status>>>>;

/// The `Put` method: tonic decodes the request and encodes the reply around it.
struct PutMethod(Store);

impl tonic::server::UnaryService<PutRequest> for PutMethod {
    type Response = PutReply;
    type Future = Reply<PutReply>;

    fn call(&mut self, request: Request<PutRequest>) -> Self::Future {
        let store = self.0.clone();
        Box::pin(async move {
            let PutRequest { key, value } = request.into_inner();
            match store.put(key, value).await {
                Ok(()) => Ok(Response::new(PutReply {})),
                Err(err) => Err(Status::unavailable(err.to_string())),
            }
        })
    }
}

/// The `Get` method.
struct GetMethod(Store);

impl tonic::server::UnaryService<GetRequest> for GetMethod {
    type Response = GetReply;
    type Future = Reply<GetReply>;

    fn call(&mut self, request: Request<GetRequest>) -> Self::Future {
        let store = self.0.clone();
        Box::pin(async move {
            match store.get(request.into_inner().key).await {
                Ok(value) => Ok(Response::new(GetReply { value })),
                Err(err) => Err(Status::unavailable(err.to_string())),
            }
        })
    }
}

/// Route one HTTP/2 request to its method, as tonic's generated server does.
async fn route(store: Store, request: http::Request<Incoming>) -> Result<http::Response<Body>, Infallible> {
    Ok(match request.uri().path() {
        PUT => tonic::server::Grpc::new(ProstCodec::default()).unary(PutMethod(store), request).await,
        GET => tonic::server::Grpc::new(ProstCodec::default()).unary(GetMethod(store), request).await,
        path => Status::unimplemented(format!("no method {path}")).into_http(),
    })
}

/// Serve the service on every connection `listener` accepts, each on a task of its own.
async fn serve(listener: TcpListener, store: Store) -> io::Result<()> {
    loop {
        let (stream, _) = listener.accept().await?;
        let store = store.clone();
        let service = service_fn(move |request| route(store.clone(), request));
        let connection = hyper::server::conn::http2::Builder::new(Executor)
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

/// One HTTP/2 connection as the tower service tonic's client sends through: what tonic's
/// `Channel` is, minus tokio.
struct Connection {
    sender: hyper::client::conn::http2::SendRequest<Body>,
}

impl tower_service::Service<http::Request<Body>> for Connection {
    type Response = http::Response<Incoming>;
    type Error = hyper::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, hyper::Error>>>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), hyper::Error>> {
        self.sender.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        Box::pin(self.sender.send_request(request))
    }
}

/// A gRPC client on one connection.
struct GrpcClient {
    grpc: tonic::client::Grpc<Connection>,
}

impl GrpcClient {
    async fn unary<Q, R>(&mut self, path: &'static str, request: Q) -> io::Result<R>
    where
        Q: prost::Message + Send + Sync + 'static,
        R: prost::Message + Default + Send + Sync + 'static,
    {
        self.grpc.ready().await.map_err(io::Error::other)?;
        let codec = ProstCodec::<Q, R>::default();
        let reply = self.grpc.unary(Request::new(request), PathAndQuery::from_static(path), codec).await;
        Ok(reply.map_err(io::Error::other)?.into_inner())
    }
}

impl KvClient for GrpcClient {
    async fn connect(addr: &str) -> io::Result<GrpcClient> {
        let stream = TcpStream::connect(addr).await?;
        let (sender, connection) = hyper::client::conn::http2::Builder::new(Executor)
            .timer(Timer)
            .handshake(stream)
            .await
            .map_err(io::Error::other)?;
        drop(seedsim::task::spawn(connection));
        let origin: Uri = format!("http://{addr}").parse().map_err(io::Error::other)?;
        Ok(GrpcClient { grpc: tonic::client::Grpc::with_origin(Connection { sender }, origin) })
    }

    async fn put(&mut self, key: &str, value: u64) -> io::Result<()> {
        let _: PutReply = self.unary(PUT, PutRequest { key: key.to_owned(), value }).await?;
        Ok(())
    }

    async fn get(&mut self, key: &str) -> io::Result<Option<u64>> {
        let reply: GetReply = self.unary(GET, GetRequest { key: key.to_owned() }).await?;
        Ok(reply.value)
    }
}

fn main() -> std::process::ExitCode {
    seedsim_web::main::<GrpcClient>(App { name: "tonic_kv", serve: |listener, store| Box::pin(serve(listener, store)) })
}
