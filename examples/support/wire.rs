//! A fixed-size wire format for the example protocols: a tag and three `u64` fields, 25
//! bytes. Real systems would use serde; the examples keep their messages visible.

use std::net::SocketAddr;

pub const LEN: usize = 25;

pub fn encode(tag: u8, a: u64, b: u64, c: u64) -> [u8; LEN] {
    let mut bytes = [0u8; LEN];
    bytes[0] = tag;
    bytes[1..9].copy_from_slice(&a.to_le_bytes());
    bytes[9..17].copy_from_slice(&b.to_le_bytes());
    bytes[17..25].copy_from_slice(&c.to_le_bytes());
    bytes
}

pub fn decode(bytes: &[u8]) -> Option<(u8, u64, u64, u64)> {
    if bytes.len() != LEN {
        return None;
    }
    let word = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"));
    Some((bytes[0], word(1), word(9), word(17)))
}

/// The address of `name`'s port.
pub fn addr(name: &str, port: u16) -> SocketAddr {
    SocketAddr::new(seedsim::net::lookup(name).expect("a node of the scenario"), port)
}
