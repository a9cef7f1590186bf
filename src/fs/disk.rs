//! One node's disk: files (inodes) with what the node sees and what would survive a crash,
//! a namespace of paths, and the disk's faults.
//!
//! A write changes a file's `current` bytes and marks its blocks dirty; a sync copies dirty
//! blocks to `durable`. A crash keeps `durable`, and of each dirty block the seed keeps the new
//! contents or loses them (a torn write, at block granularity), and may corrupt a kept one. In
//! strict mode the namespace (create, rename, remove) is durable only after its directory is
//! synced; otherwise at once. Nothing here is async or touches the clock: `fs/mod.rs` adds
//! latency and the world's context.

use std::collections::{BTreeMap, BTreeSet};
use std::io;

use slab::Slab;

use super::DiskConfig;
use crate::rand::{Ratio, Stream};

struct Inode {
    /// What reads see.
    current: Vec<u8>,
    /// What survives a crash.
    durable: Vec<u8>,
    /// Blocks of `current` that differ from `durable` (or may), by index.
    dirty: BTreeSet<u64>,
    /// Distinguishes this inode from a later one in the same slot.
    seq: u64,
}

/// A reference to a file that a handle keeps: its slot and the inode's sequence number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct InodeKey {
    slot: usize,
    seq: u64,
}

/// A fault active until a true time (ns).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Window<T> {
    pub(crate) value: T,
    pub(crate) until: u64,
}

impl<T: Copy> Window<T> {
    pub(crate) fn active(&self, now: u64) -> Option<T> {
        (now < self.until).then_some(self.value)
    }
}

/// What a crash did to unsynced data, for the trace.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct CrashDamage {
    pub(crate) blocks_kept: u64,
    pub(crate) blocks_lost: u64,
    pub(crate) blocks_corrupted: u64,
    pub(crate) names_lost: u64,
}

pub(crate) struct Disk {
    inodes: Slab<Inode>,
    names: BTreeMap<String, usize>,
    /// The namespace that survives a crash (equal to `names` unless strict).
    durable_names: BTreeMap<String, usize>,
    next_seq: u64,
    pub(crate) config: DiskConfig,
    /// Reads, writes and syncs fail with this probability.
    pub(crate) errors: Window<Ratio>,
    /// Writes land one block off with this probability.
    pub(crate) misdirect: Window<Ratio>,
    /// Writes that would grow the disk fail as full.
    pub(crate) full: Window<()>,
    /// Extra latency per operation (ns).
    pub(crate) slow: Window<u64>,
}

impl Disk {
    /// True once anything was written to this disk (a file made, a block written).
    pub(crate) fn is_used(&self) -> bool {
        self.next_seq > 0 || !self.inodes.is_empty()
    }
}

fn not_found(path: &str) -> io::Error {
    io::Error::new(io::ErrorKind::NotFound, format!("no such file: {path:?}"))
}

impl Disk {
    pub(crate) fn new(config: DiskConfig) -> Disk {
        Disk {
            inodes: Slab::new(),
            names: BTreeMap::new(),
            durable_names: BTreeMap::new(),
            next_seq: 0,
            config,
            errors: Window::default(),
            misdirect: Window::default(),
            full: Window::default(),
            slow: Window::default(),
        }
    }

    fn key(&self, slot: usize) -> InodeKey {
        InodeKey { slot, seq: self.inodes[slot].seq }
    }

    fn inode(&self, key: InodeKey) -> io::Result<&Inode> {
        match self.inodes.get(key.slot) {
            Some(inode) if inode.seq == key.seq => Ok(inode),
            _ => Err(io::Error::new(io::ErrorKind::NotFound, "the file was removed, or lost in a crash")),
        }
    }

    fn inode_mut(&mut self, key: InodeKey) -> io::Result<&mut Inode> {
        match self.inodes.get_mut(key.slot) {
            Some(inode) if inode.seq == key.seq => Ok(inode),
            _ => Err(io::Error::new(io::ErrorKind::NotFound, "the file was removed, or lost in a crash")),
        }
    }

    /// Bytes the node's files take (as it sees them).
    pub(crate) fn used(&self) -> u64 {
        self.inodes.iter().map(|(_, inode)| inode.current.len() as u64).sum()
    }

    fn set_name(&mut self, path: &str, slot: usize) {
        self.names.insert(path.to_owned(), slot);
        if !self.config.strict {
            self.durable_names.insert(path.to_owned(), slot);
        }
    }

    fn drop_name(&mut self, path: &str) -> Option<usize> {
        let slot = self.names.remove(path);
        if !self.config.strict {
            self.durable_names.remove(path);
        }
        slot
    }

    /// Open `path`; with `create`, make it if missing; with `truncate`, empty it; with `new`,
    /// fail if it exists.
    pub(crate) fn open(&mut self, path: &str, create: bool, truncate: bool, new: bool) -> io::Result<InodeKey> {
        if let Some(&slot) = self.names.get(path) {
            if new {
                return Err(io::Error::new(io::ErrorKind::AlreadyExists, format!("file exists: {path:?}")));
            }
            if truncate {
                self.set_len(self.key(slot), 0, false)?;
            }
            return Ok(self.key(slot));
        }
        if !create {
            return Err(not_found(path));
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        let slot = self.inodes.insert(Inode { current: Vec::new(), durable: Vec::new(), dirty: BTreeSet::new(), seq });
        self.set_name(path, slot);
        Ok(self.key(slot))
    }

    pub(crate) fn read_at(&self, key: InodeKey, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        let data = &self.inode(key)?.current;
        let start = usize::try_from(offset).unwrap_or(usize::MAX).min(data.len());
        let len = buf.len().min(data.len() - start);
        buf[..len].copy_from_slice(&data[start..start + len]);
        Ok(len)
    }

    fn mark_dirty(inode: &mut Inode, block_size: u64, from: u64, to: u64) {
        if to > from {
            inode.dirty.extend(from / block_size..=(to - 1) / block_size);
        }
    }

    /// Write `data` at `offset`, growing the file with zeros if needed. `full` is a disk-full
    /// fault in force: no growth at all.
    pub(crate) fn write_at(&mut self, key: InodeKey, data: &[u8], offset: u64, full: bool) -> io::Result<()> {
        let end = offset.checked_add(data.len() as u64).ok_or_else(|| io::Error::from(io::ErrorKind::InvalidInput))?;
        let growth = end.saturating_sub(self.inode(key)?.current.len() as u64);
        if growth > 0 && (full || self.used() + growth > self.config.capacity) {
            return Err(io::Error::new(io::ErrorKind::StorageFull, "the simulated disk is full"));
        }
        let block_size = self.config.block_size;
        let inode = self.inode_mut(key)?;
        let (start, end) = (offset as usize, end as usize);
        if inode.current.len() < end {
            let old = inode.current.len() as u64;
            inode.current.resize(end, 0);
            Self::mark_dirty(inode, block_size, old, end as u64);
        }
        inode.current[start..end].copy_from_slice(data);
        Self::mark_dirty(inode, block_size, offset, end as u64);
        Ok(())
    }

    pub(crate) fn len(&self, key: InodeKey) -> io::Result<u64> {
        Ok(self.inode(key)?.current.len() as u64)
    }

    pub(crate) fn set_len(&mut self, key: InodeKey, len: u64, full: bool) -> io::Result<()> {
        let growth = len.saturating_sub(self.inode(key)?.current.len() as u64);
        if growth > 0 && (full || self.used() + growth > self.config.capacity) {
            return Err(io::Error::new(io::ErrorKind::StorageFull, "the simulated disk is full"));
        }
        let block_size = self.config.block_size;
        let inode = self.inode_mut(key)?;
        let old = inode.current.len() as u64;
        inode.current.resize(len as usize, 0);
        Self::mark_dirty(inode, block_size, old.min(len), old.max(len));
        // The durable length changes only at sync; mark the last block so a crash decides it.
        if len > 0 {
            inode.dirty.insert((len - 1) / block_size);
        }
        Ok(())
    }

    /// Make the file's data and length durable.
    pub(crate) fn sync(&mut self, key: InodeKey) -> io::Result<()> {
        let block_size = self.config.block_size;
        let inode = self.inode_mut(key)?;
        let len = inode.current.len();
        inode.durable.resize(len, 0);
        for block in std::mem::take(&mut inode.dirty) {
            let from = (block * block_size) as usize;
            let to = (from + block_size as usize).min(len);
            if from < to {
                inode.durable[from..to].copy_from_slice(&inode.current[from..to]);
            }
        }
        Ok(())
    }

    /// Make the namespace of `dir` durable (strict mode; a no-op otherwise).
    pub(crate) fn sync_dir(&mut self, dir: &str) {
        let in_dir = |path: &str| parent(path) == dir;
        self.durable_names.retain(|path, _| !in_dir(path));
        for (path, slot) in &self.names {
            if in_dir(path) {
                self.durable_names.insert(path.clone(), *slot);
            }
        }
    }

    pub(crate) fn rename(&mut self, from: &str, to: &str) -> io::Result<()> {
        let slot = self.drop_name(from).ok_or_else(|| not_found(from))?;
        if let Some(replaced) = self.drop_name(to) {
            self.collect(replaced);
        }
        self.set_name(to, slot);
        Ok(())
    }

    pub(crate) fn remove(&mut self, path: &str) -> io::Result<()> {
        let slot = self.drop_name(path).ok_or_else(|| not_found(path))?;
        self.collect(slot);
        Ok(())
    }

    /// Free an inode no name (current or durable) refers to any more.
    fn collect(&mut self, slot: usize) {
        let named = self.names.values().chain(self.durable_names.values()).any(|s| *s == slot);
        if !named && self.inodes.contains(slot) {
            self.inodes.remove(slot);
        }
    }

    pub(crate) fn lookup(&self, path: &str) -> io::Result<InodeKey> {
        self.names.get(path).map(|&slot| self.key(slot)).ok_or_else(|| not_found(path))
    }

    /// The names directly in `dir`, sorted.
    pub(crate) fn list(&self, dir: &str) -> Vec<String> {
        self.names.keys().filter(|path| parent(path) == dir).cloned().collect()
    }

    /// A crash: keep what was synced; of each dirty block keep the new contents with the
    /// configured probability (a torn write), sometimes corrupted; the namespace reverts to its
    /// durable state.
    pub(crate) fn crash(&mut self, rng: &mut Stream) -> CrashDamage {
        let mut damage = CrashDamage::default();
        let block = self.config.block_size as usize;
        let (keep, corrupt) = (self.config.torn_keep, self.config.corrupt_unsynced);
        for (_, inode) in self.inodes.iter_mut() {
            if inode.dirty.is_empty() {
                continue;
            }
            // The length is one more thing the crash decides, when it changed.
            let len = if inode.durable.len() == inode.current.len() || !rng.chance(Ratio::new(1, 2).expect("valid")) {
                inode.durable.len()
            } else {
                inode.current.len()
            };
            let mut survived = inode.durable.clone();
            survived.resize(len, 0);
            for &b in &inode.dirty {
                let from = b as usize * block;
                let to = (from + block).min(len).min(inode.current.len());
                if from >= to {
                    continue;
                }
                if rng.chance(keep) {
                    survived[from..to].copy_from_slice(&inode.current[from..to]);
                    damage.blocks_kept += 1;
                    if rng.chance(corrupt) {
                        let at = from + rng.below((to - from) as u64) as usize;
                        survived[at] ^= 1 << rng.below(8);
                        damage.blocks_corrupted += 1;
                    }
                } else {
                    damage.blocks_lost += 1;
                }
            }
            inode.current = survived.clone();
            inode.durable = survived;
            inode.dirty.clear();
        }
        damage.names_lost =
            self.names.iter().filter(|(path, slot)| self.durable_names.get(*path) != Some(slot)).count() as u64;
        self.names = self.durable_names.clone();
        let named: BTreeSet<usize> = self.names.values().copied().collect();
        let orphans: Vec<usize> =
            self.inodes.iter().map(|(slot, _)| slot).filter(|slot| !named.contains(slot)).collect();
        for slot in orphans {
            self.inodes.remove(slot);
        }
        damage
    }

    /// Flip one bit of a random synced block of a random file: corruption at rest.
    /// Returns the file and block hit, if the disk holds any data.
    pub(crate) fn corrupt_at_rest(&mut self, rng: &mut Stream) -> Option<(String, u64)> {
        let files: Vec<(String, usize)> = self
            .names
            .iter()
            .filter(|(_, slot)| !self.inodes[**slot].durable.is_empty())
            .map(|(path, slot)| (path.clone(), *slot))
            .collect();
        if files.is_empty() {
            return None;
        }
        let (path, slot) = files[rng.below(files.len() as u64) as usize].clone();
        let inode = &mut self.inodes[slot];
        let at = rng.below(inode.durable.len() as u64) as usize;
        let bit = 1 << rng.below(8);
        inode.durable[at] ^= bit;
        if !inode.dirty.contains(&(at as u64 / self.config.block_size)) {
            inode.current[at] ^= bit;
        }
        Some((path, at as u64 / self.config.block_size))
    }

    /// The files as they would survive a crash right now, for tests of determinism.
    pub(crate) fn durable_image(&self) -> Vec<(String, Vec<u8>)> {
        self.durable_names.iter().map(|(path, slot)| (path.clone(), self.inodes[*slot].durable.clone())).collect()
    }
}

/// The directory part of a path: `"wal/log"` is in `"wal"`, `"log"` is in `""`.
pub(crate) fn parent(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(dir, _)| dir)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rand::Purpose;
    use crate::seed::Seed;

    fn disk(strict: bool) -> Disk {
        Disk::new(DiskConfig { block_size: 4, strict, ..DiskConfig::default() })
    }

    fn rng(seed: u64) -> Stream {
        Stream::for_purpose(Seed(seed), Purpose::World)
    }

    fn read_all(disk: &Disk, path: &str) -> Vec<u8> {
        let key = disk.lookup(path).unwrap();
        let mut buf = vec![0; disk.len(key).unwrap() as usize];
        disk.read_at(key, &mut buf, 0).unwrap();
        buf
    }

    #[test]
    fn synced_data_survives_every_crash() {
        for seed in 0..50 {
            let mut d = disk(false);
            let f = d.open("log", true, false, false).unwrap();
            d.write_at(f, b"hello world!", 0, false).unwrap();
            d.sync(f).unwrap();
            d.crash(&mut rng(seed));
            assert_eq!(read_all(&d, "log"), b"hello world!");
        }
    }

    #[test]
    fn unsynced_writes_tear_at_block_boundaries() {
        let mut outcomes = BTreeSet::new();
        for seed in 0..200 {
            let mut d = disk(false);
            let f = d.open("f", true, false, false).unwrap();
            d.write_at(f, b"aaaaaaaaaaaa", 0, false).unwrap(); // three blocks of four
            d.sync(f).unwrap();
            d.write_at(f, b"bbbbbbbbbbbb", 0, false).unwrap();
            d.crash(&mut rng(seed));
            let after = read_all(&d, "f");
            for block in after.chunks(4) {
                assert!(block == b"aaaa" || block == b"bbbb", "a block is all old or all new: {after:?}");
            }
            outcomes.insert(after);
        }
        assert_eq!(outcomes.len(), 8, "every combination of kept and lost blocks happens");
    }

    #[test]
    fn strict_mode_loses_a_create_or_rename_until_the_directory_is_synced() {
        let mut d = disk(true);
        let f = d.open("dir/a", true, false, false).unwrap();
        d.write_at(f, b"x", 0, false).unwrap();
        d.sync(f).unwrap();
        d.crash(&mut rng(1));
        assert!(d.lookup("dir/a").is_err(), "created but its directory was never synced");
        let f = d.open("dir/a", true, false, false).unwrap();
        d.sync(f).unwrap();
        d.sync_dir("dir");
        d.rename("dir/a", "dir/b").unwrap();
        d.crash(&mut rng(1));
        assert!(d.lookup("dir/a").is_ok() && d.lookup("dir/b").is_err(), "the rename was not durable");
        assert!(disk(false).lookup("x").is_err());
    }

    #[test]
    fn a_full_disk_refuses_growth_but_allows_overwrites() {
        let mut d = Disk::new(DiskConfig { capacity: 8, ..DiskConfig::default() });
        let f = d.open("f", true, false, false).unwrap();
        d.write_at(f, b"12345678", 0, false).unwrap();
        let err = d.write_at(f, b"9", 8, false).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::StorageFull);
        d.write_at(f, b"xx", 0, false).unwrap();
        assert!(d.open("f", false, false, true).is_err_and(|e| e.kind() == io::ErrorKind::AlreadyExists));
        assert!(d.open("g", false, false, false).is_err_and(|e| e.kind() == io::ErrorKind::NotFound));
    }

    #[test]
    fn corruption_at_rest_flips_one_bit_of_synced_data() {
        let mut d = disk(false);
        let f = d.open("f", true, false, false).unwrap();
        d.write_at(f, &[0u8; 16], 0, false).unwrap();
        d.sync(f).unwrap();
        let (path, _) = d.corrupt_at_rest(&mut rng(3)).unwrap();
        assert_eq!(path, "f");
        let data = read_all(&d, "f");
        assert_eq!(data.iter().map(|b| b.count_ones()).sum::<u32>(), 1);
        d.crash(&mut rng(3));
        assert_eq!(read_all(&d, "f"), data, "the flipped bit is at rest: it survives the crash");
    }
}
