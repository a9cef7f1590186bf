//! Typed RPC and its byte-level variant: responses, handler errors, missing handlers,
//! timeouts, unreachable servers, resets on crash and under long partitions, reconnection,
//! values that travel with the stream's bytes, codecs, and determinism.

use std::cell::RefCell;
use std::io;
use std::rc::Rc;
use std::time::Duration;

use crate::support::{ms, rough_link};
use seedsim::net::{Link, StreamConfig, StreamFaults, TcpListener};
use seedsim::rpc::{Client, Codec, Request, RpcError, Server};
use seedsim::time::{sleep, Instant};
use seedsim::{world, Builder, Ratio, Seed, Sim};

const SECOND: Duration = Duration::from_secs(1);

#[derive(Clone, Debug, PartialEq)]
struct Add(u32, u32);
impl Request for Add {
    type Response = u32;
}

#[derive(Clone, Debug)]
struct Slow(Duration);
impl Request for Slow {
    type Response = Instant;
}

#[derive(Clone, Debug)]
struct Unhandled;
impl Request for Unhandled {
    type Response = ();
}

fn fixed() -> Builder {
    Sim::builder().link(Link::fixed(ms(1)))
}

/// A node serving `Add` (an error on overflow) and `Slow` (answers after sleeping, with the
/// time the request arrived) on port 7000; it records the `Add`s it handled.
fn server(sim: &mut Sim, handled: Rc<RefCell<Vec<Add>>>) {
    sim.node("server", move || {
        let handled = handled.clone();
        async move {
            let server = Server::new()
                .handle(move |add: Add| {
                    handled.borrow_mut().push(add.clone());
                    async move { add.0.checked_add(add.1).ok_or_else(|| format!("{} + {} overflows", add.0, add.1)) }
                })
                .handle(|Slow(delay)| async move {
                    let arrived = Instant::now();
                    sleep(delay).await;
                    Ok::<_, String>(arrived)
                });
            server.serve(TcpListener::bind("0.0.0.0:7000").await?).await
        }
    })
    .unwrap();
}

#[test]
fn typed_calls_return_responses_handler_errors_and_missing_handlers() {
    let mut sim = fixed().seed(Seed(1)).build().unwrap();
    let handled = Rc::default();
    server(&mut sim, Rc::clone(&handled));
    sim.client("client", async {
        let client = Client::new(("server", 7000));
        assert_eq!(client.call(Add(2, 3), SECOND).await?, 5);
        assert_eq!(
            client.call(Add(u32::MAX, 1), SECOND).await,
            Err(RpcError::Handler(format!("{} + 1 overflows", u32::MAX)))
        );
        let err = client.call(Unhandled, SECOND).await.unwrap_err();
        assert!(matches!(&err, RpcError::NoHandler(name) if name.ends_with("Unhandled")), "{err}");
        // Concurrent calls from clones share one connection and each gets its own answer.
        let calls: Vec<_> = (0..10u32)
            .map(|i| {
                let client = client.clone();
                seedsim::task::spawn(async move { client.call(Add(i, 100), SECOND).await })
            })
            .collect();
        for (i, call) in calls.into_iter().enumerate() {
            assert_eq!(call.await.unwrap()?, i as u32 + 100);
        }
        Ok::<(), RpcError>(())
    })
    .unwrap();
    let summary = sim.run().unwrap();
    assert_eq!(summary.net.connections, 1, "one connection for every call");
    assert_eq!(handled.borrow().len(), 12);
}

#[test]
fn a_call_times_out_at_its_deadline_and_the_connection_stays_usable() {
    let mut sim = fixed().seed(Seed(2)).build().unwrap();
    server(&mut sim, Rc::default());
    sim.client("client", async {
        let client = Client::new(("server", 7000));
        let start = Instant::now();
        assert_eq!(client.call(Slow(ms(2_000)), SECOND).await, Err(RpcError::Timeout));
        assert_eq!(start.elapsed(), SECOND);
        // The late reply (at about 2 s) is dropped; later calls get their own answers.
        assert_eq!(client.call(Add(1, 1), SECOND).await?, 2);
        sleep(ms(1_500)).await;
        assert_eq!(client.call(Add(2, 2), SECOND).await?, 4);
        Ok::<(), RpcError>(())
    })
    .unwrap();
    let summary = sim.run().unwrap();
    assert_eq!(summary.net.connections, 1);
}

#[test]
fn an_unreachable_server_is_reported_as_such() {
    let mut sim = fixed().seed(Seed(3)).build().unwrap();
    sim.node("idle", || async { sleep(Duration::from_secs(3600)).await }).unwrap();
    server(&mut sim, Rc::default());
    sim.client("client", async {
        // Nothing listens there: refused.
        let nobody = Client::new(("idle", 7000));
        assert_eq!(nobody.call(Add(1, 2), SECOND).await, Err(RpcError::Unreachable(io::ErrorKind::ConnectionRefused)));
        assert_eq!(
            Client::new(("nowhere", 7000)).call(Add(1, 2), SECOND).await,
            Err(RpcError::Unreachable(io::ErrorKind::NotFound))
        );
        assert_eq!(
            Client::new("not an address").call(Add(1, 2), SECOND).await,
            Err(RpcError::Unreachable(io::ErrorKind::InvalidInput))
        );
        // Behind a partition: the call's own timeout, or the connect timeout (10 s) if that
        // comes first.
        world::partition("client", "server")?;
        let walled = Client::new(("server", 7000));
        assert_eq!(walled.call(Add(1, 2), SECOND).await, Err(RpcError::Timeout));
        let start = Instant::now();
        let err = walled.call(Add(1, 2), Duration::from_secs(60)).await;
        assert_eq!(err, Err(RpcError::Unreachable(io::ErrorKind::TimedOut)));
        assert_eq!(start.elapsed(), Duration::from_secs(10));
        world::repair("client", "server")?;
        assert_eq!(walled.call(Add(1, 2), SECOND).await?, 3);
        Ok::<(), Box<dyn std::error::Error>>(())
    })
    .unwrap();
    sim.run().unwrap();
}

#[test]
fn a_crash_resets_pending_calls_and_the_client_reconnects_after_the_restart() {
    let mut sim = fixed().seed(Seed(4)).build().unwrap();
    let handled = Rc::default();
    server(&mut sim, Rc::clone(&handled));
    sim.client("client", async {
        let client = Client::new(("server", 7000));
        assert_eq!(client.call(Add(1, 1), SECOND).await?, 2);
        let pending = {
            let client = client.clone();
            seedsim::task::spawn(async move { client.call(Slow(SECOND), Duration::from_secs(5)).await })
        };
        sleep(ms(100)).await;
        world::bounce("server", ms(500))?;
        assert_eq!(pending.await.unwrap(), Err(RpcError::Reset(io::ErrorKind::ConnectionReset)));
        // Down: the reconnect is refused.
        assert_eq!(client.call(Add(1, 2), SECOND).await, Err(RpcError::Unreachable(io::ErrorKind::ConnectionRefused)));
        // Up again: a retry loop gets through.
        let mut attempts = 0;
        let sum = loop {
            attempts += 1;
            match client.call(Add(2, 2), SECOND).await {
                Ok(sum) => break sum,
                Err(RpcError::Unreachable(_)) => sleep(ms(100)).await,
                Err(err) => return Err(err.into()),
            }
        };
        assert_eq!(sum, 4);
        assert!(attempts > 1);
        Ok::<(), Box<dyn std::error::Error>>(())
    })
    .unwrap();
    let summary = sim.run().unwrap();
    assert!(summary.net.connections >= 3);
    assert_eq!(handled.borrow().last(), Some(&Add(2, 2)));
}

#[test]
fn a_partition_stalls_a_call_and_one_longer_than_the_stream_timeout_resets_it() {
    let config = StreamConfig::default().timeout(Duration::from_secs(3));
    let mut sim = fixed().stream(config).seed(Seed(5)).build().unwrap();
    server(&mut sim, Rc::default());
    sim.client("client", async {
        let client = Client::new(("server", 7000));
        assert_eq!(client.call(Add(0, 0), SECOND).await?, 0);
        // A short partition: the request waits in the stream and is handled after repair,
        // at the next retransmission (0.2 s, then 0.4 s later: 0.6 s).
        world::partition("client", "server")?;
        let healer = seedsim::task::spawn(async {
            sleep(ms(500)).await;
            world::repair("client", "server")
        });
        let sent = Instant::now();
        let arrived = client.call(Slow(Duration::ZERO), Duration::from_secs(10)).await?;
        healer.await.unwrap()?;
        assert_eq!(arrived, sent + ms(601), "handled when the retransmission crossed");
        // A partition longer than the stream timeout: the connection resets under the call.
        world::partition("client", "server")?;
        let start = Instant::now();
        let err = client.call(Add(1, 1), Duration::from_secs(60)).await.unwrap_err();
        assert_eq!(err, RpcError::Reset(io::ErrorKind::TimedOut));
        assert!(start.elapsed() >= Duration::from_secs(3) && start.elapsed() < Duration::from_secs(4));
        world::repair("client", "server")?;
        assert_eq!(client.call(Add(1, 1), Duration::from_secs(10)).await?, 2);
        Ok::<(), Box<dyn std::error::Error>>(())
    })
    .unwrap();
    sim.run().unwrap();
}

/// A request and response for the byte-level variant.
#[derive(Clone, Debug, PartialEq)]
struct Put {
    key: String,
    value: u64,
}
impl Request for Put {
    type Response = Option<u64>;
}

/// `key=value` text, and `-`/a number for the previous value. Rejects empty keys.
struct Text;

impl Codec<Put> for Text {
    fn encode(&self, put: &Put, out: &mut Vec<u8>) {
        out.extend_from_slice(format!("{}={}", put.key, put.value).as_bytes());
    }
    fn decode(&self, bytes: &[u8]) -> Result<Put, String> {
        let text = std::str::from_utf8(bytes).map_err(|err| err.to_string())?;
        let (key, value) = text.split_once('=').ok_or_else(|| format!("no '=' in {text:?}"))?;
        if key.is_empty() {
            return Err("empty key".to_owned());
        }
        Ok(Put { key: key.to_owned(), value: value.parse().map_err(|_| format!("bad value {value:?}"))? })
    }
}

impl Codec<Option<u64>> for Text {
    fn encode(&self, previous: &Option<u64>, out: &mut Vec<u8>) {
        match previous {
            Some(value) => out.extend_from_slice(value.to_string().as_bytes()),
            None => out.push(b'-'),
        }
    }
    fn decode(&self, bytes: &[u8]) -> Result<Option<u64>, String> {
        match bytes {
            b"-" => Ok(None),
            b"!" => Err("the server sent '!'".to_owned()),
            _ => std::str::from_utf8(bytes).ok().and_then(|s| s.parse().ok()).map(Some).ok_or("bad number".to_owned()),
        }
    }
}

/// A codec whose responses never decode, to see the client's codec error.
struct Garbled;
impl Codec<Put> for Garbled {
    fn encode(&self, put: &Put, out: &mut Vec<u8>) {
        Text.encode(put, out)
    }
    fn decode(&self, bytes: &[u8]) -> Result<Put, String> {
        Text.decode(bytes)
    }
}
impl Codec<Option<u64>> for Garbled {
    fn encode(&self, _: &Option<u64>, out: &mut Vec<u8>) {
        out.push(b'!');
    }
    fn decode(&self, bytes: &[u8]) -> Result<Option<u64>, String> {
        Text.decode(bytes)
    }
}

#[test]
fn the_byte_level_variant_encodes_with_a_user_codec() {
    let mut sim = fixed().seed(Seed(6)).build().unwrap();
    sim.node("store", || async {
        let store = Rc::new(RefCell::new(std::collections::BTreeMap::new()));
        let garbled = store.clone();
        let server = Server::new()
            .handle_with_codec("put", Text, move |put: Put| {
                let previous = store.borrow_mut().insert(put.key, put.value);
                async move { Ok::<_, String>(previous) }
            })
            .handle_with_codec("garbled", Garbled, move |put: Put| {
                let previous = garbled.borrow().get(&put.key).copied();
                async move { Ok::<_, String>(previous) }
            });
        server.serve(TcpListener::bind("0.0.0.0:8000").await?).await
    })
    .unwrap();
    sim.client("client", async {
        let store = Client::new(("store", 8000));
        let put = |key: &str, value| Put { key: key.to_owned(), value };
        assert_eq!(store.call_with_codec("put", &Text, put("a", 1), SECOND).await?, None);
        assert_eq!(store.call_with_codec("put", &Text, put("a", 2), SECOND).await?, Some(1));
        // The server cannot decode an empty key.
        assert_eq!(
            store.call_with_codec("put", &Text, put("", 3), SECOND).await,
            Err(RpcError::Codec("empty key".to_owned()))
        );
        // The client cannot decode the response.
        assert_eq!(
            store.call_with_codec("garbled", &Text, put("a", 0), SECOND).await,
            Err(RpcError::Codec("the server sent '!'".to_owned()))
        );
        assert_eq!(
            store.call_with_codec("get", &Text, put("a", 0), SECOND).await,
            Err(RpcError::NoHandler("get".to_owned()))
        );
        // A typed call to a server with only byte methods has no handler either.
        assert!(matches!(store.call(put("a", 0), SECOND).await, Err(RpcError::NoHandler(_))));
        Ok::<(), RpcError>(())
    })
    .unwrap();
    sim.run().unwrap();
}

#[test]
fn rpc_survives_partial_reads_and_writes_and_is_deterministic_under_faults() {
    let faults = StreamFaults::NONE
        .partial_read(Ratio::percent(50).unwrap())
        .partial_write(Ratio::percent(50).unwrap())
        .slow(Ratio::percent(20).unwrap(), ms(20));
    let run = |seed: Seed, faults: StreamFaults| {
        let builder = Sim::builder().link(rough_link()).stream(StreamConfig::default().faults(faults)).seed(seed);
        let mut sim = builder.build().unwrap();
        server(&mut sim, Rc::default());
        for name in ["c1", "c2"] {
            sim.client(name, async {
                let client = Client::new(("server", 7000));
                let mut done = 0;
                while done < 20 {
                    match client.call(Add(done, 1), SECOND).await {
                        Ok(sum) => {
                            assert_eq!(sum, done + 1);
                            done += 1;
                        }
                        Err(RpcError::Timeout | RpcError::Reset(_) | RpcError::Unreachable(_)) => {}
                        Err(err) => return Err(err),
                    }
                }
                Ok(())
            })
            .unwrap();
        }
        sim.client("nemesis", async {
            sleep(ms(300)).await;
            world::bounce("server", ms(200))?;
            sleep(ms(300)).await;
            world::partition("c1", "server")?;
            sleep(ms(700)).await;
            world::heal_all()
        })
        .unwrap();
        sim.run()
    };
    for index in 0..5 {
        let seed = Seed(0x49c).nth(index);
        let (first, second) = (run(seed, faults), run(seed, faults));
        assert!(first.is_passed(), "{}", first.failure().unwrap());
        assert_eq!(first.trace_hash(), second.trace_hash(), "seed {seed}");
    }
    // A run with random resets on as well still finishes every call with retries.
    let outcome = run(Seed(9), faults.reset(Ratio::new(1, 20).unwrap()));
    assert!(outcome.is_passed(), "{}", outcome.failure().unwrap());
}
