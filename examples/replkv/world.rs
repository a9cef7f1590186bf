//! The simulated world of the replkv example: its three replicas and client, and the faults
//! of its runs. The example's `main.rs` and the whole-systems benchmark (`benches/systems.rs`)
//! both build it from here.

use std::time::Duration;

use seedsim::fault::{Profile, Weights};
use seedsim::{Error, Sim};

use super::replica::{self, Config};

/// The faults of every simulated run: the primary and the backups crash, pause, are cut off
/// and clogged, one at a time, during the first 3 s.
pub fn profile() -> Profile {
    let mut weights = Weights::default();
    (weights.crash, weights.pause, weights.partition, weights.clog) = (3, 1, 2, 1);
    Profile::calm()
        .weights(weights)
        .duration(Duration::from_secs(3))
        .interval(Duration::from_millis(100), Duration::from_millis(400))
        .fault_length(Duration::from_millis(50), Duration::from_millis(500))
        .down_max(1)
        .focus("r0")
}

/// The simulated world: three replicas and one client that writes `writes` values.
pub fn scenario(sim: &mut Sim, sync_before_ack: bool, writes: u32) -> Result<(), Error> {
    let replicas: Vec<String> = (0..3).map(|id| format!("r{id}:7000")).collect();
    for id in 0..replicas.len() {
        let config = Config { id, replicas: replicas.clone(), sync_before_ack };
        sim.node(&format!("r{id}"), move || replica::replica(config.clone()))?;
    }
    sim.client("client", async move { replica::client("r0:7000", writes).await.map(drop) })?;
    Ok(())
}
