//! Invariants and liveness properties registered on a `Sim`, and when the run loop checks
//! them.
//!
//! Both are user closures, so the run loop calls them with no borrow held. Invariants run
//! after every `check_every` steps; a violated one fails the run. A liveness property is
//! measured from the last recover (or, in a run whose plans have no `recover`, from the
//! start): it must hold within its time, or the run fails with a liveness report. Once it
//! held, it is not checked again until the next recover.

use std::time::Duration;

use super::outcome::Cause;
use super::state::World;
use super::Sim;
use crate::time::{nanos, Instant};

type Invariant = Box<dyn Fn() -> Result<(), String>>;

/// What a history check blames: its explanation, the operation, and where and when it ran.
pub(crate) struct Blame {
    pub(crate) message: String,
    pub(crate) op: Option<u64>,
    pub(crate) node: Option<crate::node::NodeId>,
    /// True time of the operation's completion (or invocation), to point the report at.
    pub(crate) at: Option<u64>,
}

type HistoryCheck = Box<dyn Fn() -> Option<Blame>>;

struct Liveness {
    name: String,
    within: Duration,
    property: Box<dyn Fn() -> bool>,
    /// The recover epoch in which it last held.
    held_in: Option<u32>,
}

#[derive(Default)]
pub(crate) struct Checks {
    invariants: Vec<(String, Invariant)>,
    liveness: Vec<Liveness>,
    histories: Vec<HistoryCheck>,
    /// The checked histories as a timeline draws them.
    pub(crate) drawn: Vec<Box<dyn Fn() -> Vec<crate::timeline::OpBar>>>,
    /// The recover epoch whose deadlines are scheduled.
    epoch_scheduled: Option<u32>,
}

impl Checks {
    pub(crate) fn is_empty(&self) -> bool {
        self.invariants.is_empty() && self.liveness.is_empty()
    }

    /// After a step: run the invariants, then the liveness properties still pending.
    pub(crate) fn after_step(&mut self, epoch: u32) -> Option<Cause> {
        for (name, invariant) in &self.invariants {
            if let Err(message) = invariant() {
                return Some(Cause::Invariant { name: name.clone(), message });
            }
        }
        for liveness in &mut self.liveness {
            if liveness.held_in != Some(epoch) && (liveness.property)() {
                liveness.held_in = Some(epoch);
            }
        }
        None
    }

    /// Schedule the deadlines of a recover epoch the world has not told us about yet.
    pub(crate) fn schedule(&mut self, world: &mut World) {
        let epoch = world.recover_epoch;
        if self.liveness.is_empty() || self.epoch_scheduled == Some(epoch) || waits_for_recover(world) {
            return;
        }
        self.epoch_scheduled = Some(epoch);
        let from = world.recovered_at.unwrap_or(0);
        for (index, liveness) in self.liveness.iter().enumerate() {
            world.schedule_deadline(from.saturating_add(nanos(liveness.within)), index as u32, epoch);
        }
    }

    /// A deadline passed: the property must have held by now (it gets one last look).
    pub(crate) fn deadline(&mut self, check: u32, epoch: u32, world: &World) -> Option<Cause> {
        if epoch != world.recover_epoch {
            return None; // a later recover started the clock again
        }
        self.pending_cause(check as usize, epoch, world, false)
    }

    /// The run passed: each registered history must be linearizable.
    pub(crate) fn histories(&self) -> Option<Blame> {
        self.histories.iter().find_map(|check| check())
    }

    /// The run is ending: every property of the current epoch must have held.
    pub(crate) fn at_end(&mut self, world: &World) -> Option<Cause> {
        if waits_for_recover(world) {
            return None; // the faults never ended, so nothing was due yet
        }
        let epoch = world.recover_epoch;
        (0..self.liveness.len()).find_map(|index| self.pending_cause(index, epoch, world, true))
    }

    fn pending_cause(&mut self, index: usize, epoch: u32, world: &World, run_ended: bool) -> Option<Cause> {
        let liveness = &mut self.liveness[index];
        if liveness.held_in == Some(epoch) || (liveness.property)() {
            liveness.held_in = Some(epoch);
            return None;
        }
        Some(Cause::Liveness {
            name: liveness.name.clone(),
            since: Instant::from_nanos(world.recovered_at.unwrap_or(0)),
            within: liveness.within,
            run_ended,
        })
    }
}

/// True before the first recover of a run whose plan has one: until then, the faults are
/// still on and no property is due.
fn waits_for_recover(world: &World) -> bool {
    world.recover_epoch == 0 && world.faults.contains(&crate::fault::Fault::Recover)
}

impl Sim {
    /// The operations of the histories [`Sim::check_history`] checks, as a timeline draws
    /// them.
    pub(crate) fn drawn_histories(&self) -> Vec<Vec<crate::timeline::OpBar>> {
        self.checks.drawn.iter().map(|draw| draw()).collect()
    }

    /// Check `invariant` after every step (or every `Builder::check_every` steps): an `Err`
    /// fails the run, with the message in the report.
    ///
    /// ```
    /// use std::{cell::Cell, rc::Rc};
    /// let balance = Rc::new(Cell::new(10i64));
    /// let mut sim = seedsim::Sim::new(seedsim::Seed(1));
    /// let spend = balance.clone();
    /// sim.client("c", async move {
    ///     spend.set(spend.get() - 25);
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// let watched = balance.clone();
    /// sim.invariant("balance never negative", move || {
    ///     if watched.get() >= 0 { Ok(()) } else { Err(format!("balance is {}", watched.get())) }
    /// });
    /// let failure = sim.run().into_failure().unwrap();
    /// assert!(failure.to_string().contains("balance is -15"));
    /// # Ok::<(), seedsim::Error>(())
    /// ```
    pub fn invariant(&mut self, name: impl Into<String>, invariant: impl Fn() -> Result<(), String> + 'static) {
        self.checks.invariants.push((name.into(), Box::new(invariant)));
    }

    /// Require `property` to hold within `within` of the last recover (a plan's `recover`,
    /// [`Sim::recover`] or `world::recover`), or of the start of a run whose plans have no
    /// `recover`; otherwise the run fails with a liveness report. Checked after every step
    /// until it holds, at its deadline, and when the run ends.
    ///
    /// ```
    /// use std::{cell::Cell, rc::Rc, time::Duration};
    /// let converged = Rc::new(Cell::new(false));
    /// let mut sim = seedsim::Sim::new(seedsim::Seed(1));
    /// sim.client("c", async {
    ///     seedsim::time::sleep(Duration::from_secs(10)).await;
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// let watched = converged.clone();
    /// sim.liveness("replicas converge", Duration::from_secs(5), move || watched.get());
    /// let failure = sim.run().into_failure().unwrap();
    /// assert!(failure.to_string().contains("liveness: \"replicas converge\" did not hold within 5s"));
    /// # Ok::<(), seedsim::Error>(())
    /// ```
    pub fn liveness(&mut self, name: impl Into<String>, within: Duration, property: impl Fn() -> bool + 'static) {
        self.checks.liveness.push(Liveness { name: name.into(), within, property: Box::new(property), held_in: None });
    }

    /// Check the history `recorder` holds against `model` when the run ends with every client
    /// done: if it is not linearizable, the run fails with the checker's explanation, and the
    /// report's `at:` and `where:` (and a timeline's failure marker) point at the operation the
    /// checker blamed, not at the end of the run. A timeline drawn from this `Sim`
    /// ([`Timeline::from_sim`](crate::timeline::Timeline::from_sim)) draws the history, the
    /// blamed operation marked. The clients no longer need to count which of them finishes
    /// last to run the check.
    ///
    /// A history the checker cannot decide within `checker`'s step budget fails the run too
    /// (its message says so): an unchecked history must not pass.
    ///
    /// ```
    /// use seedsim::check::{Checker, Recorder, Register, RegisterInput as In, RegisterOutput as Out};
    /// use seedsim::{time::sleep, Sim, Seed};
    /// use std::time::Duration;
    ///
    /// let history = Recorder::<In<u8>, Out<u8>>::new();
    /// let mut sim = Sim::new(Seed(1));
    /// let recorder = history.clone();
    /// sim.client("reader", async move {
    ///     sleep(Duration::from_millis(5)).await;
    ///     let read = recorder.invoke(1, In::Read);
    ///     sleep(Duration::from_millis(3)).await;
    ///     recorder.ok(read, Out::Read(Some(7)))?; // nobody wrote 7
    ///     sleep(Duration::from_secs(1)).await;
    ///     Ok::<(), seedsim::Error>(())
    /// })?;
    /// sim.check_history(&history, Register::new(), Checker::new());
    /// let failure = sim.run().into_failure().expect("a read of a value never written");
    /// assert!(failure.to_string().contains("history check: "));
    /// // The report points at the read (completed at 8 ms), not at the run's end (1 s later).
    /// assert_eq!(failure.time.as_nanos(), 8_000_000);
    /// assert_eq!(failure.node.as_deref(), Some("reader"));
    /// # Ok::<(), seedsim::Error>(())
    /// ```
    pub fn check_history<M>(
        &mut self,
        recorder: &crate::check::Recorder<M::Input, M::Output>,
        model: M,
        checker: crate::check::Checker,
    ) where
        M: crate::check::Model + 'static,
        M::Input: 'static,
        M::Output: 'static,
    {
        use crate::check::{Completion, Verdict};
        let watched = recorder.clone();
        self.checks.histories.push(Box::new(move || {
            let history = watched.history();
            match checker.check(&model, &history) {
                Verdict::Linearizable => None,
                Verdict::NotLinearizable(violation) => {
                    let op = history.op(violation.op());
                    Some(Blame {
                        message: violation.to_string(),
                        op: Some(violation.op().index() as u64),
                        node: op.and_then(|op| op.node()),
                        at: op.map(|op| match op.completion() {
                            Some(Completion::Ok(_)) => op.completed_at().unwrap_or(op.invoked_at()).as_nanos(),
                            _ => op.invoked_at().as_nanos(),
                        }),
                    })
                }
                unknown => Some(Blame { message: unknown.to_string(), op: None, node: None, at: None }),
            }
        }));
        let drawn = recorder.clone();
        self.checks.drawn.push(Box::new(move || crate::timeline::op_bars(&drawn.history())));
    }
}
