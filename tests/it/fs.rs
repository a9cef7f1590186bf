//! The simulated disk: synced data survives every crash, unsynced data may not, torn writes
//! tear at block boundaries, corruption is caught by checksums, the same seed leaves the same
//! disk, and file-system errors have the kinds a real one gives.

use std::cell::RefCell;
use std::io;
use std::rc::Rc;
use std::time::Duration;

use crate::support::ms;
use seedsim::fs::{self, DiskConfig, File};
use seedsim::time::{sleep, Instant};
use seedsim::{Ratio, Seed, Sim};

type Seen = Rc<RefCell<Vec<Vec<u8>>>>;

/// A node that, on its first start, writes `synced` and syncs it, then writes `unsynced`
/// over it without syncing; on every start it records what the file holds.
fn writer(sim: &mut Sim, synced: &'static [u8], unsynced: &'static [u8], seen: Seen) {
    sim.node("db", move || {
        let seen = seen.clone();
        async move {
            let existing = fs::read("data").await.ok();
            seen.borrow_mut().push(existing.clone().unwrap_or_default());
            if existing.is_none() {
                let file = File::create("data").await?;
                file.write_at(synced, 0).await?;
                file.sync_all().await?;
                file.write_at(unsynced, 0).await?;
            }
            sleep(Duration::from_secs(60)).await;
            Ok::<(), io::Error>(())
        }
    })
    .unwrap();
}

fn crash_and_restart(seed: u64, config: DiskConfig, synced: &'static [u8], unsynced: &'static [u8]) -> Vec<u8> {
    let seen = Seen::default();
    let mut sim = Sim::builder().seed(Seed(seed)).disk(config).build().unwrap();
    writer(&mut sim, synced, unsynced, seen.clone());
    sim.client("c", async {
        sleep(ms(100)).await;
        Ok::<(), io::Error>(())
    })
    .unwrap();
    sim.faults("50ms bounce db 10ms".parse().unwrap()).unwrap();
    sim.run().unwrap();
    let seen = seen.borrow();
    assert_eq!(seen.len(), 2, "started, crashed, restarted");
    seen[1].clone()
}

#[test]
fn synced_data_survives_every_crash() {
    for seed in 0..100 {
        let after = crash_and_restart(seed, DiskConfig::default(), b"durable!", b"durable!");
        assert_eq!(after, b"durable!", "seed {seed}");
    }
}

#[test]
fn unsynced_writes_tear_at_block_boundaries_and_the_seed_decides() {
    let config = DiskConfig { block_size: 4, ..DiskConfig::default() };
    let mut outcomes = std::collections::BTreeSet::new();
    for seed in 0..200 {
        let after = crash_and_restart(seed, config, b"aaaaaaaaaaaa", b"bbbbbbbbbbbb");
        for block in after.chunks(4) {
            assert!(block == b"aaaa" || block == b"bbbb", "seed {seed}: a torn block: {after:?}");
        }
        assert_eq!(after, crash_and_restart(seed, config, b"aaaaaaaaaaaa", b"bbbbbbbbbbbb"), "the seed decides");
        outcomes.insert(after);
    }
    assert!(outcomes.contains(b"aaaaaaaaaaaa".as_slice()), "sometimes every unsynced block is lost");
    assert!(outcomes.contains(b"bbbbbbbbbbbb".as_slice()), "sometimes every one is kept");
    assert!(outcomes.len() >= 6, "and often a torn mix: {outcomes:?}");
}

#[test]
fn corruption_of_unsynced_blocks_is_caught_by_a_checksum() {
    let config = DiskConfig { corrupt_unsynced: Ratio::ALWAYS, torn_keep: Ratio::ALWAYS, ..DiskConfig::default() };
    let after = crash_and_restart(7, config, b"xxxxxxxxxxxxxxxx", b"payload-checksum");
    assert_ne!(after, b"payload-checksum", "the kept block came back corrupted");
    let flipped: u32 = after.iter().zip(b"payload-checksum").map(|(a, b)| (a ^ b).count_ones()).sum();
    assert_eq!(flipped, 1, "one bit flipped: only a checksum notices");
}

#[test]
fn the_same_seed_leaves_the_same_disk_after_crashes() {
    let image = |seed: u64| {
        let mut sim = Sim::builder()
            .seed(Seed(seed))
            .disk(DiskConfig { block_size: 16, ..DiskConfig::default() })
            .build()
            .unwrap();
        sim.node("db", || async {
            let mut rng = seedsim::rand::rng();
            for round in 0..20u64 {
                let file = File::open_or_create(&format!("dir/f{}", round % 3)).await?;
                let data = seedsim::rand::RngExt::random::<u64>(&mut rng).to_le_bytes().repeat(5);
                file.write_at(&data, round * 8).await?;
                if seedsim::rand::RngExt::random_bool(&mut rng, 0.5) {
                    file.sync_all().await?;
                }
                sleep(ms(10)).await;
            }
            sleep(Duration::from_secs(60)).await;
            Ok::<(), io::Error>(())
        })
        .unwrap();
        sim.client("c", async {
            sleep(ms(400)).await;
            Ok::<(), io::Error>(())
        })
        .unwrap();
        sim.faults("95ms bounce db 1ms\n145ms bounce db 1ms\n300ms disk-corrupt db".parse().unwrap()).unwrap();
        sim.run().unwrap();
        sim.disk_files("db").unwrap()
    };
    assert_eq!(image(3), image(3));
    assert!(!image(3).is_empty());
    let distinct: std::collections::BTreeSet<_> = (0..10).map(image).collect();
    assert!(distinct.len() > 5, "different seeds, different crashes");
}

#[test]
fn strict_mode_makes_creates_and_renames_durable_only_after_sync_dir() {
    let names = |strict: bool, sync_dir: bool| {
        let seen: Rc<RefCell<Vec<Vec<String>>>> = Rc::default();
        let log = seen.clone();
        let mut sim = Sim::builder().disk(DiskConfig { strict, ..DiskConfig::default() }).build().unwrap();
        sim.node("db", move || {
            let log = log.clone();
            async move {
                let names = fs::read_dir("wal").await?;
                log.borrow_mut().push(names);
                if log.borrow().len() == 1 {
                    File::create("wal/a").await?.sync_all().await?;
                    File::create("wal/b").await?.sync_all().await?;
                    fs::rename("wal/b", "wal/c").await?;
                    if sync_dir {
                        fs::sync_dir("wal").await?;
                    }
                }
                sleep(Duration::from_secs(60)).await;
                Ok::<(), io::Error>(())
            }
        })
        .unwrap();
        sim.client("c", async {
            sleep(ms(100)).await;
            Ok::<(), io::Error>(())
        })
        .unwrap();
        sim.faults("50ms bounce db 1ms".parse().unwrap()).unwrap();
        sim.run().unwrap();
        seen.borrow()[1].clone()
    };
    assert_eq!(names(false, false), ["wal/a", "wal/c"], "durable at once by default");
    assert!(names(true, false).is_empty(), "strict: lost without sync_dir");
    assert_eq!(names(true, true), ["wal/a", "wal/c"], "strict: kept after sync_dir");
}

#[test]
fn file_system_errors_have_real_kinds_and_handles_die_with_their_node() {
    let mut sim = Sim::builder().disk(DiskConfig { capacity: 100, ..DiskConfig::default() }).build().unwrap();
    let kept: Rc<RefCell<Option<File>>> = Rc::default();
    let stash = kept.clone();
    sim.node("db", move || {
        let stash = stash.clone();
        async move {
            let old = stash.borrow_mut().take();
            if let Some(old) = old {
                // The second incarnation: the first one's handle died with it.
                let err = old.read_at(&mut [0; 4], 0).await.unwrap_err();
                assert!(err.to_string().contains("from before a crash"), "{err}");
                return Ok(());
            }
            assert_eq!(File::open("missing").await.unwrap_err().kind(), io::ErrorKind::NotFound);
            let file = File::create_new("f").await?;
            assert_eq!(File::create_new("f").await.unwrap_err().kind(), io::ErrorKind::AlreadyExists);
            assert_eq!(File::create("dir/").await.unwrap_err().kind(), io::ErrorKind::InvalidInput);
            file.write_at(&[1; 100], 0).await?;
            assert_eq!(file.append(&[2]).await.unwrap_err().kind(), io::ErrorKind::StorageFull);
            assert_eq!(fs::remove_file("nope").await.unwrap_err().kind(), io::ErrorKind::NotFound);
            let started = Instant::now();
            file.sync_all().await?;
            assert!(started.elapsed() > Duration::ZERO, "disk operations take simulated time");
            *stash.borrow_mut() = Some(file);
            sleep(Duration::from_secs(60)).await;
            Ok::<(), io::Error>(())
        }
    })
    .unwrap();
    sim.client("c", async {
        sleep(ms(100)).await;
        Ok::<(), io::Error>(())
    })
    .unwrap();
    sim.faults("50ms bounce db 1ms".parse().unwrap()).unwrap();
    sim.run().unwrap();
    assert!(kept.borrow().is_none(), "the second incarnation found the stale handle and checked it");
    let outside = futures::executor::block_on(File::open("x")).unwrap_err();
    assert!(outside.to_string().contains("outside a seedsim simulation"), "{outside}");
}

#[test]
fn disk_faults_fail_operations_while_they_last_and_are_traced() {
    let failures = Rc::new(RefCell::new((0u32, 0u32)));
    let count = failures.clone();
    let mut sim = Sim::builder().record_trace(true).build().unwrap();
    sim.node("db", move || {
        let count = count.clone();
        async move {
            let file = File::create("f").await?;
            for round in 0..400u64 {
                let result = file.write_at(&[1], round).await;
                {
                    let mut counts = count.borrow_mut();
                    if Instant::now() < Instant::ZERO + ms(200) {
                        counts.0 += u32::from(result.is_err());
                    } else {
                        counts.1 += u32::from(result.is_err());
                    }
                }
                sleep(ms(1)).await;
            }
            Ok::<(), io::Error>(())
        }
    })
    .unwrap();
    sim.client("c", async {
        sleep(ms(500)).await;
        Ok::<(), io::Error>(())
    })
    .unwrap();
    sim.faults("0s disk-errors db 50% 200ms".parse().unwrap()).unwrap();
    sim.run().unwrap();
    let (during, after) = *failures.borrow();
    assert!((50..=150).contains(&during), "about half of ~200 writes failed during the fault: {during}");
    assert_eq!(after, 0, "none after it");
    let trace = sim.take_trace().unwrap();
    let errors = trace.iter().filter(|e| matches!(e.kind, seedsim::trace::EventKind::DiskError { .. })).count();
    assert_eq!(errors as u32, during);
}
