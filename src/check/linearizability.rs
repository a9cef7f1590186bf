//! Is a history linearizable? [`check`] and [`Checker`] answer with a [`Verdict`]: yes, no
//! with a [`Violation`] that explains why, or unknown when the step budget ran out.
//!
//! A history is linearizable under a model if its operations can be put in one order that
//! (1) respects real time: an operation that completed before another was invoked comes first,
//! (2) the model accepts from its initial state, with each operation returning what its client
//! saw. Failed operations are left out; operations with an unknown outcome may be placed
//! anywhere after their invocation, or left out. The history is split by the model's key and
//! each part is checked on its own (P-compositionality), in key order.
//!
//! The search is Wing and Gong's with Lowe's memoization (as in Knossos and Porcupine; see
//! `search.rs`). It is exponential in the worst case, so it counts its steps (model steps, and
//! comparisons in its memo of unknown outcomes) and gives up with [`Verdict::Unknown`] past
//! [`Checker::steps_max`]. Nothing here reads the clock: the
//! same history gives the same verdict, and the same explanation, on every run and machine.

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};

use super::history::{Completion, History, Op, OpId};
use super::model::Model;
use super::search::{self, Call, Found, Search};

/// Steps [`check`] spends before it answers [`Verdict::Unknown`]: a few seconds of search at
/// most for the bundled models (1.7 s on the histories benchmark's hardest history).
///
/// ```
/// use seedsim::check::{linearizability::STEPS_MAX_DEFAULT, Checker};
/// let twice_as_patient = Checker::new().steps_max(2 * STEPS_MAX_DEFAULT);
/// # let _ = twice_as_patient;
/// ```
pub const STEPS_MAX_DEFAULT: u64 = 100_000_000;

/// The first slice of steps each part of a history gets, and the largest (slices double).
const SLICE_FIRST: u64 = 1_000;
const SLICE_MAX: u64 = 1 << 20;

/// Operations and states listed in an explanation before "and N more".
const LISTED_MAX: usize = 8;

/// Check `history` against `model` with the default budget ([`STEPS_MAX_DEFAULT`]).
///
/// ```
/// use seedsim::check::{check, History, Register, RegisterInput as In, RegisterOutput as Out};
///
/// // A textbook stale read: the write completed before the read began.
/// let mut history = History::new();
/// let write = history.invoke(1, In::Write(1));
/// history.ok(write, Out::Write)?;
/// let read = history.invoke(2, In::Read);
/// history.ok(read, Out::Read(None))?;
/// let verdict = check(&Register::new(), &history);
/// let violation = verdict.violation().expect("not linearizable");
/// assert_eq!(violation.op(), read);
/// assert_eq!(violation.states(), ["Some(1)"]);
/// # Ok::<(), seedsim::Error>(())
/// ```
pub fn check<M: Model>(model: &M, history: &History<M::Input, M::Output>) -> Verdict {
    Checker::new().check(model, history)
}

/// A linearizability checker with its settings.
///
/// ```
/// use seedsim::check::{Checker, History, Register, RegisterInput as In, RegisterOutput as Out, Verdict};
///
/// let mut history = History::new();
/// let op = history.invoke(1, In::Write(1));
/// history.ok(op, Out::Write)?;
/// let verdict = Checker::new().steps_max(0).check(&Register::new(), &history);
/// assert!(matches!(verdict, Verdict::Unknown(_)));
/// # Ok::<(), seedsim::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Checker {
    steps_max: u64,
}

impl Default for Checker {
    fn default() -> Checker {
        Checker::new()
    }
}

impl Checker {
    /// A checker with the default budget.
    ///
    /// ```
    /// let checker = seedsim::check::Checker::new();
    /// # let _ = checker;
    /// ```
    pub fn new() -> Checker {
        Checker { steps_max: STEPS_MAX_DEFAULT }
    }

    /// Give up with [`Verdict::Unknown`] after `steps` steps in all. A step is one call of
    /// [`Model::step`], or one comparison with a set of unknown operations the memo recorded
    /// (a history with many unknown outcomes can gather thousands under one configuration);
    /// either costs tens of nanoseconds for the bundled models, so the budget bounds the
    /// checker's time, not only the model's share of it.
    ///
    /// ```
    /// let checker = seedsim::check::Checker::new().steps_max(1_000_000);
    /// # let _ = checker;
    /// ```
    pub fn steps_max(mut self, steps: u64) -> Checker {
        self.steps_max = steps;
        self
    }

    /// Check `history` against `model`.
    ///
    /// ```
    /// use seedsim::check::{Checker, History, Kv, KvInput as In, KvOutput as Out};
    ///
    /// let mut history = History::new();
    /// let a = history.invoke(1, In::Put("a", 1));
    /// let b = history.invoke(2, In::Cas { key: "a", from: 1, to: 2 });
    /// history.ok(b, Out::Cas(true))?; // took effect after the put, which is still running
    /// history.ok(a, Out::Put)?;
    /// assert!(Checker::new().check(&Kv::new(), &history).is_linearizable());
    /// # Ok::<(), seedsim::Error>(())
    /// ```
    pub fn check<M: Model>(&self, model: &M, history: &History<M::Input, M::Output>) -> Verdict {
        // Parts by key, each a list of operations in invocation order; failed ones left out.
        let mut parts: BTreeMap<M::Key, Vec<OpOf<'_, M>>> = BTreeMap::new();
        for op in history.ops() {
            if matches!(op.completion(), Some(Completion::Fail)) {
                continue;
            }
            parts.entry(model.key(op.input())).or_default().push(op);
        }
        let calls: Vec<Vec<Call<'_, M>>> = parts
            .values()
            .map(|ops| {
                ops.iter()
                    .map(|op| {
                        let output = op.output();
                        Call {
                            input: op.input(),
                            output,
                            invoke_seq: op.invoke_seq,
                            complete_seq: output.and(op.complete_seq),
                        }
                    })
                    .collect()
            })
            .collect();
        let mut searches: Vec<Option<Search<'_, '_, M>>> =
            calls.iter().map(|calls| Some(Search::new(model, calls))).collect();
        let parts: Vec<(&M::Key, &Vec<OpOf<'_, M>>)> = parts.iter().collect();
        // Round robin over the parts in slices that double, so a part that is quick to judge
        // is judged early even when another part would take the whole budget.
        let mut steps = 0;
        let mut slice = SLICE_FIRST;
        loop {
            let mut running = false;
            for (index, slot) in searches.iter_mut().enumerate() {
                let Some(search) = slot else { continue };
                let (key, ops) = parts[index];
                if steps >= self.steps_max {
                    return Verdict::Unknown(Exhausted {
                        steps_max: self.steps_max,
                        key: key_label(key),
                        ops: ops.len(),
                    });
                }
                let budget = slice.min(self.steps_max - steps);
                match search.resume(&mut steps, budget) {
                    None => running = true,
                    Some(Found::Linearizable) => *slot = None,
                    Some(Found::Stuck(stuck)) => {
                        return Verdict::NotLinearizable(Box::new(explain::<M>(key, ops, stuck)))
                    }
                }
            }
            if !running {
                return Verdict::Linearizable;
            }
            slice = (slice * 2).min(SLICE_MAX);
        }
    }
}

/// An operation of a history checked against `M`.
type OpOf<'h, M> = &'h Op<<M as Model>::Input, <M as Model>::Output>;

/// `None` for a model without parts (`Key = ()`), so explanations do not mention keys.
fn key_label<K: fmt::Debug>(key: &K) -> Option<String> {
    let label = format!("{key:?}");
    (label != "()").then_some(label)
}

fn explain<M: Model>(key: &M::Key, ops: &[OpOf<'_, M>], stuck: search::Stuck<M::State>) -> Violation {
    let op = ops[stuck.op];
    let concurrent: Vec<OpId> = ops
        .iter()
        .filter(|other| {
            other.id() != op.id()
                && other.invoke_seq < op.complete_seq.unwrap_or(u64::MAX)
                && other.complete_seq.is_none_or(|end| end > op.invoke_seq)
        })
        .map(|other| other.id())
        .collect();
    let states: Vec<String> = stuck.states.iter().map(|state| format!("{state:?}")).collect();
    let order: Vec<OpId> = stuck.order.iter().map(|&(index, _)| ops[index].id()).collect();

    let mut text = String::new();
    let key = key_label(key);
    let in_key = key.as_ref().map(|k| format!(" (key {k})")).unwrap_or_default();
    let _ = write!(text, "not linearizable{in_key}: no order of the operations explains {}", op.describe());
    let pending =
        ops.iter().filter(|o| o.complete_seq.is_none() && o.invoke_seq < op.complete_seq.unwrap_or(0)).count();
    let _ = write!(
        text,
        "\n  every order of the {} operation(s) that completed before it{} leaves the model in a state where it \
         cannot return that; the states such orders reach:",
        ops.iter().filter(|o| o.complete_seq.is_some_and(|end| end < op.complete_seq.unwrap_or(0))).count(),
        if pending > 0 { format!(" (with any of the {pending} whose outcome is unknown)") } else { String::new() },
    );
    for state in &states {
        let _ = write!(text, "\n    {state}");
    }
    if stuck.states_more {
        let _ = write!(text, "\n    and more");
    }
    // One order that got there, as the operations that changed the state (the rest only read it).
    let mut before = None::<&M::State>;
    let changes: Vec<(usize, &M::State)> = stuck
        .order
        .iter()
        .filter_map(|(index, after)| {
            let changed = before != Some(after);
            before = Some(after);
            changed.then_some((*index, after))
        })
        .collect();
    if !changes.is_empty() {
        let skipped = changes.len().saturating_sub(LISTED_MAX);
        let _ = write!(
            text,
            "\n  one such order ({} operation(s)); the last of those that changed the state:",
            stuck.order.len()
        );
        if skipped > 0 {
            let _ = write!(text, "\n    ... {skipped} earlier");
        }
        for (index, after) in &changes[skipped..] {
            let _ = write!(text, "\n    {}  => {after:?}", ops[*index].describe());
        }
    }
    if !concurrent.is_empty() {
        let _ = write!(text, "\n  concurrent with {}:", op.id());
        for other in concurrent.iter().take(LISTED_MAX) {
            if let Some(other) = ops.iter().find(|o| o.id() == *other) {
                let _ = write!(text, "\n    {}", other.describe());
            }
        }
        if concurrent.len() > LISTED_MAX {
            let _ = write!(text, "\n    and {} more", concurrent.len() - LISTED_MAX);
        }
    }
    Violation { op: op.id(), key, states, states_more: stuck.states_more, order, concurrent, text }
}

/// What the checker concluded.
///
/// ```
/// use seedsim::check::{check, History, Register, RegisterInput, RegisterOutput, Verdict};
/// let history = History::<RegisterInput<u8>, RegisterOutput<u8>>::new();
/// let verdict = check(&Register::new(), &history);
/// assert!(matches!(verdict, Verdict::Linearizable));
/// assert_eq!(verdict.to_string(), "linearizable");
/// ```
#[derive(Clone, Debug)]
pub enum Verdict {
    /// Some order of the operations fits the model.
    Linearizable,
    /// No order fits: the explanation says which operation cannot be placed and why.
    NotLinearizable(Box<Violation>),
    /// The step budget ran out before an answer.
    Unknown(Exhausted),
}

impl Verdict {
    /// True for [`Verdict::Linearizable`].
    ///
    /// ```
    /// use seedsim::check::{check, History, Register, RegisterInput, RegisterOutput};
    /// let history = History::<RegisterInput<u8>, RegisterOutput<u8>>::new();
    /// assert!(check(&Register::new(), &history).is_linearizable());
    /// ```
    pub fn is_linearizable(&self) -> bool {
        matches!(self, Verdict::Linearizable)
    }

    /// The violation, for [`Verdict::NotLinearizable`].
    ///
    /// ```
    /// use seedsim::check::{check, History, Register, RegisterInput as In, RegisterOutput as Out};
    /// let mut history = History::new();
    /// let read = history.invoke(1, In::Read);
    /// history.ok(read, Out::Read(Some(9)))?; // nothing wrote 9
    /// assert_eq!(check(&Register::<u8>::new(), &history).violation().unwrap().op(), read);
    /// # Ok::<(), seedsim::Error>(())
    /// ```
    pub fn violation(&self) -> Option<&Violation> {
        match self {
            Verdict::NotLinearizable(violation) => Some(violation),
            Verdict::Linearizable | Verdict::Unknown(_) => None,
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verdict::Linearizable => f.write_str("linearizable"),
            Verdict::NotLinearizable(violation) => violation.fmt(f),
            Verdict::Unknown(exhausted) => exhausted.fmt(f),
        }
    }
}

/// Why a history is not linearizable: the first operation no order of the history can explain
/// (the furthest any order of the operations got), the model states every order leaves
/// before it, and one such order.
///
/// Its `Display` is the explanation, several lines, made for a failure report.
///
/// ```
/// use seedsim::check::{check, History, Register, RegisterInput as In, RegisterOutput as Out};
///
/// let mut history = History::new();
/// let w1 = history.invoke(1, In::Write(1));
/// history.ok(w1, Out::Write)?;
/// let w2 = history.invoke(1, In::Write(2));
/// let r = history.invoke(2, In::Read);
/// history.ok(r, Out::Read(Some(2)))?; // fine: the write of 2 is running
/// history.ok(w2, Out::Write)?;
/// let stale = history.invoke(2, In::Read);
/// history.ok(stale, Out::Read(Some(1)))?; // stale: 2 was read before this began
///
/// let verdict = check(&Register::new(), &history);
/// let violation = verdict.violation().unwrap();
/// assert_eq!(violation.op(), stale);
/// assert_eq!(violation.states(), ["Some(2)"]);
/// assert_eq!(violation.order(), [w1, w2, r]);
/// assert!(violation.to_string().starts_with("not linearizable: no order of the operations explains op 3"));
/// # Ok::<(), seedsim::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Violation {
    op: OpId,
    key: Option<String>,
    states: Vec<String>,
    states_more: bool,
    order: Vec<OpId>,
    concurrent: Vec<OpId>,
    text: String,
}

impl Violation {
    /// The operation that cannot be explained: every order of the operations that completed
    /// before it leaves the model in a state where it cannot return what it returned.
    ///
    /// See [`Violation`] for an example.
    pub fn op(&self) -> OpId {
        self.op
    }

    /// The key of the part of the history that is not linearizable (its `Debug` form), or
    /// `None` for a model without keys.
    ///
    /// ```
    /// use seedsim::check::{check, History, Kv, KvInput as In, KvOutput as Out};
    /// let mut history = History::new();
    /// let get = history.invoke(1, In::Get("k"));
    /// history.ok(get, Out::Get(Some(1u8)))?;
    /// assert_eq!(check(&Kv::new(), &history).violation().unwrap().key(), Some("\"k\""));
    /// # Ok::<(), seedsim::Error>(())
    /// ```
    pub fn key(&self) -> Option<&str> {
        self.key.as_deref()
    }

    /// The model states (their `Debug` form) that the orders reaching [`op`](Violation::op)
    /// leave, in the order the search found them; at most 16.
    ///
    /// See [`Violation`] for an example.
    pub fn states(&self) -> &[String] {
        &self.states
    }

    /// True if there were more states than [`states`](Violation::states) lists.
    ///
    /// ```
    /// use seedsim::check::{check, History, Register, RegisterInput as In, RegisterOutput as Out};
    /// let mut history = History::new();
    /// let read = history.invoke(1, In::Read);
    /// history.ok(read, Out::Read(Some(1u8)))?;
    /// assert!(!check(&Register::new(), &history).violation().unwrap().states_more());
    /// # Ok::<(), seedsim::Error>(())
    /// ```
    pub fn states_more(&self) -> bool {
        self.states_more
    }

    /// One order of operations that reaches [`op`](Violation::op), first to last: the first
    /// the search found.
    ///
    /// See [`Violation`] for an example.
    pub fn order(&self) -> &[OpId] {
        &self.order
    }

    /// The operations whose run overlaps [`op`](Violation::op)'s, in invocation order
    /// (operations with an unknown outcome overlap everything after their invocation).
    ///
    /// ```
    /// use seedsim::check::{check, History, Register, RegisterInput as In, RegisterOutput as Out};
    /// let mut history = History::new();
    /// let write = history.invoke(1, In::Write(1u8));
    /// let read = history.invoke(2, In::Read);
    /// history.ok(read, Out::Read(Some(2)))?;
    /// history.ok(write, Out::Write)?;
    /// assert_eq!(check(&Register::new(), &history).violation().unwrap().concurrent(), [write]);
    /// # Ok::<(), seedsim::Error>(())
    /// ```
    pub fn concurrent(&self) -> &[OpId] {
        &self.concurrent
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl std::error::Error for Violation {}

/// The checker gave up: the step budget ran out.
///
/// ```
/// use seedsim::check::{Checker, History, Register, RegisterInput as In, RegisterOutput as Out, Verdict};
/// let mut history = History::new();
/// let op = history.invoke(1, In::Write(1u8));
/// history.ok(op, Out::Write)?;
/// let Verdict::Unknown(exhausted) = Checker::new().steps_max(0).check(&Register::new(), &history) else { panic!() };
/// assert_eq!(exhausted.steps_max, 0);
/// assert!(exhausted.to_string().contains("Checker::steps_max"));
/// # Ok::<(), seedsim::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Exhausted {
    /// The budget that ran out.
    pub steps_max: u64,
    /// The key of the part being checked (its `Debug` form), or `None` for a model without
    /// keys.
    pub key: Option<String>,
    /// The operations in that part.
    pub ops: usize,
}

impl fmt::Display for Exhausted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown: the checker gave up after {} steps", self.steps_max)?;
        if let Some(key) = &self.key {
            write!(f, " on key {key}")?;
        }
        write!(
            f,
            " ({} operations); raise Checker::steps_max, or check shorter histories or fewer concurrent clients",
            self.ops
        )
    }
}
