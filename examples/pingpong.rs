//! The smallest useful seedsim program: two nodes play ping-pong over datagrams on a lossy
//! link, and the client retries until every ping has its pong.
//!
//! ```text
//! cargo run --example pingpong                    # seed 0x…01
//! SEEDSIM_SEED=42 cargo run --example pingpong    # another seed: another schedule
//! SEEDSIM_SEED=42 SEEDSIM_LOG=seedsim=debug cargo run --example pingpong   # and every event
//! ```

use std::time::Duration;

use seedsim::net::{Link, UdpSocket};
use seedsim::time::{timeout, Instant};
use seedsim::{Ratio, Runner, Sim};

const ROUNDS: u32 = 10;

/// Answers every ping with a pong carrying the same round number.
async fn pong() -> std::io::Result<()> {
    let socket = UdpSocket::bind("0.0.0.0:9000").await?;
    let mut buf = [0u8; 4];
    loop {
        let (len, from) = socket.recv_from(&mut buf).await?;
        socket.send_to(&buf[..len], from).await?;
    }
}

/// Sends `ROUNDS` pings, resending each until its pong arrives.
async fn ping() -> std::io::Result<()> {
    let socket = UdpSocket::bind("0.0.0.0:0").await?;
    let mut buf = [0u8; 4];
    for round in 0..ROUNDS {
        let sent_at = Instant::now();
        let mut attempts = 0;
        loop {
            attempts += 1;
            socket.send_to(&round.to_le_bytes(), ("pong", 9000)).await?;
            if let Ok(received) = timeout(Duration::from_millis(50), socket.recv_from(&mut buf)).await {
                let (len, _) = received?;
                if len == 4 && u32::from_le_bytes(buf) == round {
                    break;
                }
                // A late pong of an earlier round: send again.
            }
        }
        tracing::info!(round, attempts, rtt = ?sent_at.elapsed(), "pong");
    }
    Ok(())
}

fn main() {
    let lossy = Link { loss: Ratio::percent(20).expect("valid"), ..Link::fixed(Duration::from_millis(5)) };
    let runner =
        Runner::new().seeds(1).builder(Sim::builder().link(lossy)).replay_command("cargo run --example pingpong");
    let report = runner
        .try_run(|sim| {
            sim.node("pong", pong)?;
            sim.client("ping", ping())?;
            Ok(())
        })
        .unwrap_or_else(|err| {
            eprintln!("pingpong: {err}");
            std::process::exit(2);
        });
    match report.failure {
        Some(failure) => {
            eprintln!("{failure}");
            std::process::exit(1);
        }
        None => println!("pingpong: {ROUNDS} rounds done"),
    }
}
