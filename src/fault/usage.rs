//! [`Usage`]: what a scenario was seen to use (files, datagrams), learned from
//! probe runs at a fixed seed, so exploration leaves out the fault kinds that cannot touch it
//! and does not dilute the mix with faults that do nothing.
//!
//! The probe's seed is fixed, so every command that explores, replays or shrinks a scenario
//! learns the same usage and draws the same plans for the same seed.

use super::{Nemesis, Profile};
use crate::error::Error;
use crate::seed::Seed;
use crate::sim::Sim;

/// What a scenario was seen to use, so a profile can leave out the fault kinds that cannot
/// touch it ([`Profile::relevant_to`]): disk faults for a system that never writes a file,
/// duplication and reordering of datagrams for one that sends none. [`Sim::usage`] reports it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Usage {
    /// Some node wrote a file (`seedsim::fs`).
    pub disk: bool,
    /// Some node sent a datagram (`UdpSocket`).
    pub datagrams: bool,
}

impl Usage {
    /// Everything: no fault kind is left out.
    pub const ALL: Usage = Usage { disk: true, datagrams: true };

    /// What either saw.
    pub fn union(self, other: Usage) -> Usage {
        Usage { disk: self.disk || other.disk, datagrams: self.datagrams || other.datagrams }
    }
}

/// The seed of the probe runs: fixed, so a scenario's usage (and with it every plan drawn for
/// it) is the same in every process.
const PROBE_SEED: Seed = Seed(0x5eed_0b5e_7e00_0001);

impl Usage {
    /// Learn a scenario's usage: run it at a fixed seed once without faults, and once under
    /// the default profile (which crashes and restarts servers, so recovery paths that read
    /// files run too), and join what the two used. `setup` builds the scenario's world for a
    /// seed (nodes and clients added, no faults). The runs' outcomes do not matter: a buggy
    /// system may fail either one. `explore` and [`Runner::default_faults`](crate::Runner::default_faults)
    /// do this for you; a harness of your own can too:
    ///
    /// ```
    /// use std::time::Duration;
    /// use seedsim::{fault::{Profile, Usage}, time::sleep, Seed, Sim};
    /// fn world(seed: Seed) -> Result<Sim, seedsim::Error> {
    ///     let mut sim = Sim::builder().seed(seed).build()?;
    ///     sim.node("db", || sleep(Duration::from_secs(60)))?;
    ///     Ok(sim)
    /// }
    /// let usage = Usage::probe(world)?;
    /// assert!(!usage.disk && !usage.datagrams);
    /// let mut sim = world(Seed(7))?;
    /// sim.nemesis(Profile::swarm(Profile::default().relevant_to(usage), Seed(7)))?;
    /// # Ok::<(), seedsim::Error>(())
    /// ```
    ///
    /// # Errors
    /// What `setup` returns, or an error installing the probe's faults.
    pub fn probe(mut setup: impl FnMut(Seed) -> Result<Sim, Error>) -> Result<Usage, Error> {
        let mut calm = setup(PROBE_SEED)?;
        drop(calm.run());
        let mut faulty = setup(PROBE_SEED)?;
        let (servers, nodes) = faulty.server_and_node_names();
        let plan = Nemesis::new(Profile::default()).plan(PROBE_SEED, &servers, &nodes);
        faulty.faults(plan)?;
        drop(faulty.run());
        Ok(calm.usage().union(faulty.usage()))
    }
}
