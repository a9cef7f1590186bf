//! openraft-rt's own runtime conformance suites against `SeedsimRuntime`, single-threaded as
//! this crate builds openraft (`threaded/` runs them as openraft builds by default): `Suite`
//! (time, tasks, select, channels, mutex, task-locals, `block_on` of a borrowed, non-`Send`
//! future) and `DetsimSuite` (openraft's deterministic-RNG wrapper over the runtime).

use openraft_rt::testing::{DetsimSuite, Suite};
use seedsim::compat::openraft::SeedsimRuntime;

#[test]
fn openraft_rt_suite_passes() {
    Suite::<SeedsimRuntime>::test_all();
}

#[test]
fn openraft_rt_detsim_suite_passes() {
    DetsimSuite::<SeedsimRuntime>::test_all();
}
