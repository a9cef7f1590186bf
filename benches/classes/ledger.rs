//! ledger: a sharded account service over UDP; clients deposit money and retry until the
//! deposit is confirmed.
//!
//! **Protocol.** Three shards (`s1`, `s2`, `s3`) each own the accounts whose number is
//! their index modulo three, and keep balances on disk (the `Rc` the factory captures,
//! standing in for a transaction committed before the reply). A client sends
//! `DEPOSIT(client, seq, account, amount)` to the account's shard and waits for
//! `DEPOSITED(seq, balance)`; it resends the same request every 400 ms until it gets the
//! answer, as any client of a datagram protocol must (a request or its answer may be lost).
//! Every request carries the client's id and a sequence number that grows by one per
//! request, and each shard keeps, in the same transaction as the balances, each client's last
//! sequence number and its answer: the at-most-once table of Birrell and Nelson's RPC.
//! The links are cross-datacenter: 5 to 25 ms each way.
//!
//! **Bug class:** non-idempotent handling of a duplicated request. **Planted bug**
//! (`fixed == false`, in [`already_done`]): the shard records the table but never consults
//! it, so every copy of a deposit that arrives is applied: a datagram the network duplicated,
//! or the client's resend after a lost or late answer. **Fix:** a request whose sequence
//! number the table already holds is answered from the table (or, if older, ignored) and not
//! applied again.
//!
//! **Check.** A ledger outside the nodes (`Rc<RefCell<..>>`) adds up every deposit the clients
//! asked for. After the workload (15 s), when both clients have finished, the last to finish
//! reads every balance and compares it with the ledger: a balance above it means a deposit
//! was applied twice, below it means one was lost. Progress: every deposit and every final
//! read must be answered by 8 s after the workload.
//!
//! **Exposed by** anything that makes the client resend a request the shard already applied:
//! a one-way partition or a clog that holds back the answers, a loss burst, a latency spike
//! over 400 ms; or the network duplicating a datagram. Without faults no answer is late.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::rc::Rc;
use std::task::Poll;
use std::time::Duration;

use seedsim::net::{Latency, Link, UdpSocket};
use seedsim::rand::RngExt;
use seedsim::time::{self, Sleep};
use seedsim::{Builder, Error, Sim};

/// Answers from the shards to `c1` are cut for 1.5 s: `c1` resends deposits already applied.
pub const WITNESS: &str = "\
2s partition-oneway s1,s2,s3 -> c1
3500ms repair s1,s2,s3 | c1
10s recover
";

const SHARDS: [&str; 3] = ["s1", "s2", "s3"];
const CLIENTS: [&str; 2] = ["c1", "c2"];
const ACCOUNTS: u64 = 6;
const PORT: u16 = 7300;
const RESEND: Duration = Duration::from_millis(400);
const WORKLOAD: Duration = Duration::from_secs(15);
const FINAL: Duration = Duration::from_secs(8);

const DEPOSIT: u8 = 1;
const DEPOSITED: u8 = 2;
const BALANCE: u8 = 3;
const BALANCE_IS: u8 = 4;

/// A shard's disk: balances, and each client's last request and its answer.
#[derive(Default)]
struct Disk {
    balances: BTreeMap<u64, u64>,
    sessions: BTreeMap<u64, (u64, u64)>,
}

pub fn builder() -> Builder {
    let wan = Link { latency: Latency::Uniform { min: ms(5), max: ms(25) }, ..Link::default() };
    Sim::builder().link(wan).time_limit(Duration::from_secs(60))
}

fn ms(millis: u64) -> Duration {
    Duration::from_millis(millis)
}

/// Whether request `seq` of a client whose last request was `last` has been applied already.
fn already_done(last: Option<u64>, seq: u64, fixed: bool) -> bool {
    if fixed {
        last.is_some_and(|last| seq <= last)
    } else {
        false // BUG: the table is kept but never consulted: every copy of a request is applied
    }
}

pub fn scenario(sim: &mut Sim, fixed: bool) -> Result<(), Error> {
    for name in SHARDS {
        let disk = Rc::new(RefCell::new(Disk::default()));
        sim.node(name, move || shard(disk.clone(), fixed))?;
    }
    // The ledger: what every account should hold, kept by the clients as they ask.
    let ledger: Rc<RefCell<BTreeMap<u64, u64>>> = Rc::default();
    let running = Rc::new(RefCell::new(CLIENTS.len()));
    for (index, name) in CLIENTS.iter().enumerate() {
        let (ledger, running) = (ledger.clone(), running.clone());
        sim.client(name, async move {
            let mut client = Client::new(index as u64).await.map_err(|e| e.to_string())?;
            let stop = time::sleep(WORKLOAD + FINAL);
            let outcome = client.deposits(&ledger, &stop).await;
            *running.borrow_mut() -= 1;
            outcome?;
            if *running.borrow() > 0 {
                return Ok(());
            }
            let expected = ledger.borrow().clone();
            client.audit(&expected, &stop).await
        })?;
    }
    Ok(())
}

fn encode(tag: u8, words: &[u64]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(1 + 8 * words.len());
    bytes.push(tag);
    for word in words {
        bytes.extend_from_slice(&word.to_le_bytes());
    }
    bytes
}

fn decode(bytes: &[u8]) -> Option<(u8, Vec<u64>)> {
    let (&tag, rest) = bytes.split_first()?;
    if rest.len() % 8 != 0 {
        return None;
    }
    Some((tag, rest.chunks_exact(8).map(|w| u64::from_le_bytes(w.try_into().expect("8 bytes"))).collect()))
}

/// Wait for a datagram, or for `timer` to fire (`None`).
async fn recv_or(socket: &UdpSocket, buf: &mut [u8], timer: &mut Sleep) -> io::Result<Option<(usize, SocketAddr)>> {
    let mut recv = std::pin::pin!(socket.recv_from(buf));
    std::future::poll_fn(|cx| {
        if let Poll::Ready(received) = recv.as_mut().poll(cx) {
            return Poll::Ready(received.map(Some));
        }
        if Pin::new(&mut *timer).poll(cx).is_ready() {
            return Poll::Ready(Ok(None));
        }
        Poll::Pending
    })
    .await
}

async fn shard(disk: Rc<RefCell<Disk>>, fixed: bool) -> io::Result<()> {
    let socket = UdpSocket::bind(("0.0.0.0", PORT)).await?;
    let mut buf = [0u8; 128];
    loop {
        let (len, from) = socket.recv_from(&mut buf).await?;
        match decode(&buf[..len]) {
            Some((DEPOSIT, w)) if w.len() == 4 => {
                let (client, seq, account, amount) = (w[0], w[1], w[2], w[3]);
                let last = disk.borrow().sessions.get(&client).copied();
                let balance = if already_done(last.map(|(seq, _)| seq), seq, fixed) {
                    match last {
                        Some((last, balance)) if last == seq => balance, // answer again
                        _ => continue, // older than the last answered: the client has moved on
                    }
                } else {
                    // One transaction: the deposit, and the session's answer to it.
                    let mut disk = disk.borrow_mut();
                    let balance = disk.balances.entry(account).or_insert(0);
                    *balance += amount;
                    let balance = *balance;
                    disk.sessions.insert(client, (seq, balance));
                    balance
                };
                socket.send_to(&encode(DEPOSITED, &[seq, balance]), from).await?;
            }
            Some((BALANCE, w)) if w.len() == 3 => {
                let balance = disk.borrow().balances.get(&w[2]).copied().unwrap_or(0);
                socket.send_to(&encode(BALANCE_IS, &[w[1], balance]), from).await?;
            }
            _ => {}
        }
    }
}

struct Client {
    me: u64,
    socket: UdpSocket,
    shards: Vec<IpAddr>,
    seq: u64,
    buf: Vec<u8>,
}

impl Client {
    async fn new(me: u64) -> io::Result<Client> {
        let socket = UdpSocket::bind("0.0.0.0:0").await?;
        let shards = SHARDS.iter().map(|name| seedsim::net::lookup(name).expect("a shard")).collect();
        Ok(Client { me, socket, shards, seq: 0, buf: vec![0; 128] })
    }

    /// Send a request to the account's shard until it answers: the balance it reports, or
    /// `None` once `stop` has passed.
    async fn call(&mut self, tag: u8, reply: u8, account: u64, amount: u64, stop: &Sleep) -> io::Result<Option<u64>> {
        self.seq += 1;
        let seq = self.seq;
        let mut words = vec![self.me, seq, account];
        if tag == DEPOSIT {
            words.push(amount);
        }
        let bytes = encode(tag, &words);
        let shard = SocketAddr::new(self.shards[(account % SHARDS.len() as u64) as usize], PORT);
        while !stop.is_elapsed() {
            self.socket.send_to(&bytes, shard).await?;
            let mut resend = time::sleep(RESEND);
            while let Some((len, _)) = recv_or(&self.socket, &mut self.buf, &mut resend).await? {
                match decode(&self.buf[..len]) {
                    Some((tag, w)) if tag == reply && w.len() == 2 && w[0] == seq => return Ok(Some(w[1])),
                    _ => {} // a late answer to an earlier request
                }
            }
        }
        Ok(None)
    }

    async fn deposits(&mut self, ledger: &RefCell<BTreeMap<u64, u64>>, stop: &Sleep) -> Result<(), String> {
        let mut rng = seedsim::rand::rng();
        let workload = time::sleep(WORKLOAD);
        while !workload.is_elapsed() {
            time::sleep(ms(rng.random_range(100..300))).await;
            let (account, amount) = (rng.random_range(0..ACCOUNTS), rng.random_range(1..=100));
            *ledger.borrow_mut().entry(account).or_insert(0) += amount;
            if self.call(DEPOSIT, DEPOSITED, account, amount, stop).await.map_err(|e| e.to_string())?.is_none() {
                return Err(format!("no progress: a deposit of c{} was never confirmed", self.me + 1));
            }
        }
        Ok(())
    }

    /// Every balance must be what the clients deposited, no more and no less.
    async fn audit(&mut self, ledger: &BTreeMap<u64, u64>, stop: &Sleep) -> Result<(), String> {
        for account in 0..ACCOUNTS {
            let expected = ledger.get(&account).copied().unwrap_or(0);
            let Some(balance) = self.call(BALANCE, BALANCE_IS, account, 0, stop).await.map_err(|e| e.to_string())?
            else {
                return Err(format!("no progress: the balance of account {account} could not be read"));
            };
            if balance > expected {
                return Err(format!(
                    "a deposit was applied twice: account {account} holds {balance}, but the deposits to it add up to {expected}"
                ));
            }
            if balance < expected {
                return Err(format!(
                    "a deposit was lost: account {account} holds {balance}, but the deposits to it add up to {expected}"
                ));
            }
        }
        Ok(())
    }
}
