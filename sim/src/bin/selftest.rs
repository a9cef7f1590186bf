//! A target for seedsim's own command-line tests: scenarios that pass, that always fail,
//! one that is deliberately not deterministic (it reads state left over from an earlier run
//! in the same process), so `check-determinism` has something to catch, and one that fails
//! only on such leftovers, so `explore --isolate` has something to rule out.

use std::io;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use seedsim::explore::{self, Scenario};
use seedsim::time::sleep;
use seedsim::{Error, Sim};

fn passes(sim: &mut Sim) -> Result<(), Error> {
    sim.client("c", async {
        sleep(Duration::from_millis(5)).await;
        Ok::<(), io::Error>(())
    })?;
    Ok(())
}

fn always_fails(sim: &mut Sim) -> Result<(), Error> {
    sim.client("c", async {
        sleep(Duration::from_millis(5)).await;
        Err::<(), _>("this scenario always fails")
    })?;
    Ok(())
}

static LEFT_OVER: AtomicU64 = AtomicU64::new(0);
static TOUCHED: AtomicBool = AtomicBool::new(false);

/// Fails when it finds state an earlier run in this process left behind: the failure
/// `explore --isolate` exists to rule out.
fn leaky(sim: &mut Sim) -> Result<(), Error> {
    let earlier = TOUCHED.swap(true, Ordering::Relaxed);
    sim.client("c", async move {
        sleep(Duration::from_millis(5)).await;
        if earlier {
            return Err("saw state left by an earlier run in this process");
        }
        Ok(())
    })?;
    Ok(())
}

fn nondeterministic(sim: &mut Sim) -> Result<(), Error> {
    let runs = LEFT_OVER.fetch_add(1, Ordering::Relaxed);
    sim.client("c", async move {
        sleep(Duration::from_millis(5)).await;
        sleep(Duration::from_millis(1 + runs % 2)).await;
        Ok::<(), io::Error>(())
    })?;
    Ok(())
}

fn main() -> ExitCode {
    explore::main(
        "selftest",
        &[
            Scenario::new("passes", Sim::builder, passes),
            Scenario::new("always-fails", Sim::builder, always_fails),
            Scenario::new("nondeterministic", Sim::builder, nondeterministic),
            Scenario::new("leaky", Sim::builder, leaky),
        ],
    )
}
