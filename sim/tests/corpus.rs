//! Every fixed bug stays fixed: the corpus kept in `sim/corpus/` replays under `cargo test`,
//! and each entry must pass against the fixed variants.

#![allow(clippy::duplicate_mod)] // each example includes the shared wire format as its own module

#[path = "../../examples/lock/system.rs"]
mod lock;
#[path = "../../examples/walkv/system.rs"]
mod walkv;

use seedsim::explore::{check_corpus, read_corpus, Scenario};
use seedsim::{Error, Sim};

fn lock_fixed(sim: &mut Sim) -> Result<(), Error> {
    lock::scenario(sim, true)
}

fn walkv_fixed(sim: &mut Sim) -> Result<(), Error> {
    walkv::scenario(sim, true)
}

#[test]
fn found_failures_pass_against_the_fixed_variants() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    assert!(!read_corpus(&dir).unwrap().is_empty(), "the corpus keeps at least one failure found by exploration");
    // The corpus entries were found against the buggy variants; here they run against the
    // fixed ones under their names, which must now pass.
    check_corpus(
        &dir,
        &[
            Scenario::new("lock-buggy", lock::builder, lock_fixed),
            Scenario::new("walkv-buggy", walkv::builder, walkv_fixed),
        ],
    );
}
