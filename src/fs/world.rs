//! The world's part of the disks: per-operation latency, injected errors and misdirected
//! writes, what a crash does to a node's disk, and the disk faults of fault plans.

use std::io;
use std::time::Duration;

use super::disk::{Disk, Window};
use crate::node::NodeId;
use crate::rand::{Purpose, Ratio, Stream};
use crate::sim::state::World;
use crate::time::{nanos, Instant};
use crate::trace::{DiskFaultKind, DiskOp, EventKind};

impl World {
    fn disk_rng(&mut self) -> &mut Stream {
        let seed = self.seed;
        self.rng_disk.get_or_insert_with(|| Stream::for_purpose(seed, Purpose::Disk))
    }

    pub(crate) fn disk_mut(&mut self, node: NodeId) -> &mut Disk {
        &mut self.disks[node.index()]
    }

    /// How long the next operation on `node`'s disk takes.
    pub(crate) fn disk_latency(&mut self, node: NodeId) -> Duration {
        let now = self.now;
        let latency = self.disks[node.index()].config.latency;
        let extra = self.disks[node.index()].slow.active(now).unwrap_or(0);
        let sampled = latency.sample(self.disk_rng());
        Duration::from_nanos(sampled.saturating_add(extra))
    }

    /// Fail the operation if the disk's error fault says so.
    pub(crate) fn disk_fault_check(&mut self, node: NodeId, op: DiskOp) -> io::Result<()> {
        let now = self.now;
        let Some(ratio) = self.disks[node.index()].errors.active(now) else { return Ok(()) };
        if !self.disk_rng().chance(ratio) {
            return Ok(());
        }
        self.trace.record(now, EventKind::DiskError { node, op });
        Err(io::Error::other(format!("simulated disk error during {op:?} (a disk-errors fault)")))
    }

    /// True while a disk-full fault is in force on `node`.
    pub(crate) fn disk_full(&self, node: NodeId) -> bool {
        self.disks[node.index()].full.active(self.now).is_some()
    }

    /// Where a write aimed at `offset` lands: a block further, if a misdirect fault says so.
    pub(crate) fn disk_misdirect(&mut self, node: NodeId, offset: u64) -> u64 {
        let now = self.now;
        let Some(ratio) = self.disks[node.index()].misdirect.active(now) else { return offset };
        if !self.disk_rng().chance(ratio) {
            return offset;
        }
        self.trace.record(now, EventKind::DiskMisdirected { node });
        offset.saturating_add(self.disks[node.index()].config.block_size)
    }

    /// A node crashed: its disk keeps what was synced, and the seed decides the rest.
    pub(crate) fn crash_disk(&mut self, node: NodeId) {
        let seed = self.seed;
        let rng = self.rng_disk.get_or_insert_with(|| Stream::for_purpose(seed, Purpose::Disk));
        let damage = self.disks[node.index()].crash(rng);
        if damage.blocks_kept + damage.blocks_lost > 0 || damage.names_lost > 0 {
            let event = EventKind::DiskCrash {
                node,
                blocks_kept: damage.blocks_kept as u32,
                blocks_lost: damage.blocks_lost as u32,
                blocks_corrupted: damage.blocks_corrupted as u32,
            };
            self.trace.record(self.now, event);
        }
    }

    /// Start a disk fault on `node` for `duration` (corruption is a one-off).
    pub(crate) fn disk_fault(
        &mut self,
        node: NodeId,
        fault: DiskFaultKind,
        ratio: Ratio,
        extra: Duration,
        duration: Duration,
    ) {
        let now = self.now;
        let until = now.saturating_add(nanos(duration));
        let disk = &mut self.disks[node.index()];
        match fault {
            DiskFaultKind::Errors => disk.errors = Window { value: ratio, until },
            DiskFaultKind::Misdirect => disk.misdirect = Window { value: ratio, until },
            DiskFaultKind::Full => disk.full = Window { value: (), until },
            DiskFaultKind::Slow => disk.slow = Window { value: nanos(extra), until },
            DiskFaultKind::Corrupt => {
                let seed = self.seed;
                let rng = self.rng_disk.get_or_insert_with(|| Stream::for_purpose(seed, Purpose::Disk));
                if self.disks[node.index()].corrupt_at_rest(rng).is_none() {
                    return; // nothing on disk to corrupt
                }
            }
        }
        self.trace.record(now, EventKind::DiskFault { node, fault, until: Instant::from_nanos(until) });
    }

    /// End every disk fault (corruption already done stays).
    pub(crate) fn heal_disks(&mut self) {
        for disk in &mut self.disks {
            disk.errors = Window::default();
            disk.misdirect = Window::default();
            disk.full = Window::default();
            disk.slow = Window::default();
        }
    }
}
