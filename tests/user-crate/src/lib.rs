//! A UDP echo service and its clients, as a user of seedsim writes them: the service is
//! ordinary async Rust on `seedsim::net`, and the simulation tests and the simulation target
//! (`src/bin/sim.rs`) set it up in a `Sim`.

use std::io;
use std::time::Duration;

use seedsim::net::{Link, UdpSocket};
use seedsim::time::timeout;
use seedsim::{Builder, Error, Ratio, Sim};

/// The echo server: sends every datagram back to its sender.
pub async fn echo_server() -> io::Result<()> {
    let socket = UdpSocket::bind("0.0.0.0:9000").await?;
    let mut buf = [0u8; 1500];
    loop {
        let (len, from) = socket.recv_from(&mut buf).await?;
        socket.send_to(&buf[..len], from).await?;
    }
}

/// A client that sends ten numbers and waits for each echo, once: on a lossy link it waits
/// forever for a lost one (the bug a simulation finds).
pub async fn client_once() -> io::Result<()> {
    let socket = UdpSocket::bind("0.0.0.0:0").await?;
    let mut buf = [0u8; 1500];
    for i in 0u32..10 {
        socket.send_to(&i.to_be_bytes(), ("server", 9000)).await?;
        let (len, _) = socket.recv_from(&mut buf).await?;
        assert_eq!(&buf[..len], &i.to_be_bytes());
    }
    Ok(())
}

/// The same client, sending again after 100 ms without an echo, and skipping echoes of
/// numbers it already has (a late echo of a resent number).
pub async fn client_retrying() -> io::Result<()> {
    let socket = UdpSocket::bind("0.0.0.0:0").await?;
    let mut buf = [0u8; 1500];
    for i in 0u32..10 {
        'resend: loop {
            socket.send_to(&i.to_be_bytes(), ("server", 9000)).await?;
            loop {
                match timeout(Duration::from_millis(100), socket.recv_from(&mut buf)).await {
                    Err(_) => continue 'resend,
                    Ok(received) => {
                        let (len, _) = received?;
                        if buf[..len] == i.to_be_bytes() {
                            break 'resend;
                        }
                    }
                }
            }
        }
    }
    Ok(())
}

/// Worlds whose links lose 2% of datagrams.
pub fn lossy() -> Builder {
    let lossy = Link { loss: Ratio::percent(2).expect("2% is a ratio"), ..Link::default() };
    Sim::builder().link(lossy)
}

/// The echo service and one client: the retrying one, or the one that waits forever.
pub fn echo(sim: &mut Sim, retrying: bool) -> Result<(), Error> {
    sim.node("server", echo_server)?;
    if retrying {
        sim.client("client", client_retrying())?;
    } else {
        sim.client("client", client_once())?;
    }
    Ok(())
}
