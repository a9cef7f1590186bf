//! The linearizability checker: textbook histories, unknown outcomes, keys, explanations,
//! the budget, agreement with a brute-force checker, Porcupine's own test data, and long
//! generated histories.

use std::collections::BTreeMap;

use proptest::prelude::*;
use seedsim::check::{
    check, Checker, Completion, History, Kv, KvInput, KvOutput, Model, OpId, Register, RegisterInput as In,
    RegisterOutput as Out, Verdict,
};

use crate::check_support::{self as support, generate, Shape};

type RegisterHistory = History<In<u8>, Out<u8>>;
type RegisterOp = seedsim::check::Op<In<u8>, Out<u8>>;

/// Build a history from a script: each line is `invoke <name> <client> <input>` or
/// `ok <name> <output>` / `fail <name>` / `unknown <name>`, with inputs `r`, `w<v>`,
/// `cas<from>-<to>` and outputs `r<v>` (`r-` for empty), `w`, `cas+`, `cas-`.
fn script(text: &str) -> (RegisterHistory, BTreeMap<String, OpId>) {
    let mut history = History::new();
    let mut ops = BTreeMap::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let words: Vec<&str> = line.split_whitespace().collect();
        let value = |s: &str| s.parse::<u8>().unwrap();
        match words[..] {
            ["invoke", name, client, input] => {
                let input = match input {
                    "r" => In::Read,
                    w if w.starts_with("cas") => {
                        let (from, to) = w[3..].split_once('-').unwrap();
                        In::Cas { from: value(from), to: value(to) }
                    }
                    w => In::Write(value(&w[1..])),
                };
                ops.insert(name.to_owned(), history.invoke(client.parse().unwrap(), input));
            }
            ["ok", name, output] => {
                let output = match output {
                    "r-" => Out::Read(None),
                    "w" => Out::Write,
                    "cas+" => Out::Cas(true),
                    "cas-" => Out::Cas(false),
                    r => Out::Read(Some(value(&r[1..]))),
                };
                history.ok(ops[name], output).unwrap();
            }
            ["fail", name] => history.fail(ops[name]).unwrap(),
            ["unknown", name] => history.unknown(ops[name]).unwrap(),
            _ => panic!("bad script line {line:?}"),
        }
    }
    (history, ops)
}

fn linearizable(text: &str) -> bool {
    let (history, _) = script(text);
    match check(&Register::new(), &history) {
        Verdict::Linearizable => true,
        Verdict::NotLinearizable(_) => false,
        Verdict::Unknown(exhausted) => panic!("{exhausted}"),
    }
}

// --- textbook histories ------------------------------------------------------------------

#[test]
fn sequential_histories_follow_the_model() {
    assert!(linearizable("invoke a 1 w1\n ok a w\n invoke b 2 r\n ok b r1"));
    assert!(!linearizable("invoke a 1 w1\n ok a w\n invoke b 2 r\n ok b r2"));
    assert!(linearizable("invoke b 2 r\n ok b r-")); // nothing written yet
    assert!(!linearizable("invoke b 2 r\n ok b r0"));
}

#[test]
fn a_stale_read_after_a_completed_write_is_not_linearizable() {
    assert!(!linearizable("invoke a 1 w1\n ok a w\n invoke b 2 r\n ok b r-"));
}

#[test]
fn a_read_concurrent_with_a_write_may_see_either_value() {
    let overlap = "invoke a 1 w1\n invoke b 2 r\n ok b {}\n ok a w";
    assert!(linearizable(&overlap.replace("{}", "r1")));
    assert!(linearizable(&overlap.replace("{}", "r-")));
    assert!(!linearizable(&overlap.replace("{}", "r7")));
}

#[test]
fn a_read_cannot_see_a_write_invoked_after_it_completed() {
    assert!(!linearizable("invoke b 2 r\n ok b r1\n invoke a 1 w1\n ok a w"));
}

#[test]
fn values_cannot_flip_back_between_sequential_reads() {
    // Herlihy & Wing's register example: two concurrent writes; once a read has seen the
    // second value, a later read cannot see the first again.
    let flip = "invoke a 1 w1\n invoke b 2 w2\n invoke c 3 r\n ok c r{x}\n invoke d 4 r\n ok d r{y}\n ok a w\n ok b w";
    assert!(linearizable(&flip.replace("{x}", "1").replace("{y}", "2")));
    assert!(linearizable(&flip.replace("{x}", "2").replace("{y}", "1"))); // w2 then w1
                                                                          // Three reads: 1, then 2, then 1 again cannot be.
    assert!(!linearizable(
        "invoke a 1 w1\n invoke b 2 w2\n invoke c 3 r\n ok c r1\n invoke d 3 r\n ok d r2\n invoke e 3 r\n ok e r1\n ok a w\n ok b w"
    ));
}

#[test]
fn compare_and_set_succeeds_only_on_the_expected_value() {
    assert!(linearizable("invoke a 1 w1\n ok a w\n invoke b 2 cas1-2\n ok b cas+\n invoke c 1 r\n ok c r2"));
    assert!(!linearizable("invoke a 1 w1\n ok a w\n invoke b 2 cas3-2\n ok b cas+"));
    assert!(linearizable("invoke a 1 w1\n ok a w\n invoke b 2 cas3-2\n ok b cas-\n invoke c 1 r\n ok c r1"));
    assert!(!linearizable("invoke a 1 w1\n ok a w\n invoke b 2 cas1-2\n ok b cas-"));
    // Two concurrent cas from the same value cannot both succeed.
    assert!(!linearizable("invoke a 1 w1\n ok a w\n invoke b 2 cas1-2\n invoke c 3 cas1-3\n ok b cas+\n ok c cas+"));
    assert!(linearizable("invoke a 1 w1\n ok a w\n invoke b 2 cas1-2\n invoke c 3 cas2-3\n ok c cas+\n ok b cas+"));
}

#[test]
fn a_register_may_start_with_a_value() {
    let (history, _) = script("invoke a 1 r\n ok a r0");
    assert!(check(&Register::starting_at(0), &history).is_linearizable());
    assert!(!check(&Register::new(), &history).is_linearizable());
}

#[test]
fn outputs_of_the_wrong_kind_are_never_possible() {
    let mut history = History::new();
    let op = history.invoke(1, In::Read);
    history.ok(op, Out::<u8>::Write).unwrap();
    assert!(!check(&Register::new(), &history).is_linearizable());
}

// --- unknown outcomes and failures -------------------------------------------------------

#[test]
fn an_unknown_write_may_or_may_not_have_taken_effect() {
    assert!(linearizable("invoke a 1 w1\n unknown a\n invoke b 2 r\n ok b r1"));
    assert!(linearizable("invoke a 1 w1\n unknown a\n invoke b 2 r\n ok b r-"));
    // It may take effect after the client gave up: first not seen, then seen.
    assert!(linearizable("invoke a 1 w1\n unknown a\n invoke b 2 r\n ok b r-\n invoke c 2 r\n ok c r1"));
    // But once seen it stays.
    assert!(!linearizable("invoke a 1 w1\n unknown a\n invoke b 2 r\n ok b r1\n invoke c 2 r\n ok c r-"));
    // And it cannot take effect before it was invoked.
    assert!(!linearizable("invoke b 2 r\n ok b r1\n invoke a 1 w1\n unknown a"));
}

#[test]
fn a_pending_operation_counts_as_unknown() {
    assert!(linearizable("invoke a 1 w1\n invoke b 2 r\n ok b r1"));
    assert!(linearizable("invoke a 1 w1\n invoke b 2 r\n ok b r-"));
    assert!(!linearizable("invoke a 1 w1\n invoke b 2 r\n ok b r1\n invoke c 2 r\n ok c r-"));
}

#[test]
fn an_unknown_write_takes_effect_at_most_once() {
    // w1 (unknown), then w2 completes; reads see 1, 2, then 1 again: impossible.
    assert!(!linearizable(
        "invoke a 1 w1\n unknown a\n invoke b 2 r\n ok b r1\n invoke c 2 w2\n ok c w\n invoke d 2 r\n ok d r1"
    ));
    assert!(linearizable("invoke a 1 w1\n unknown a\n invoke c 2 w2\n ok c w\n invoke d 2 r\n ok d r1"));
}

#[test]
fn an_unknown_cas_may_have_set_the_value() {
    assert!(linearizable("invoke a 1 w1\n ok a w\n invoke b 2 cas1-2\n unknown b\n invoke c 3 r\n ok c r2"));
    assert!(linearizable("invoke a 1 w1\n ok a w\n invoke b 2 cas1-2\n unknown b\n invoke c 3 r\n ok c r1"));
    assert!(!linearizable("invoke a 1 w1\n ok a w\n invoke b 2 cas5-2\n unknown b\n invoke c 3 r\n ok c r2"));
}

#[test]
fn a_failed_operation_did_not_happen() {
    assert!(!linearizable("invoke a 1 w1\n fail a\n invoke b 2 r\n ok b r1"));
    assert!(linearizable("invoke a 1 w1\n fail a\n invoke b 2 r\n ok b r-"));
}

#[test]
fn many_unknown_operations_are_fine() {
    // Ten timed-out writes, then reads that see some of them in a possible order. (Each
    // unknown operation may or may not have happened, so the search is exponential in how
    // many are concurrent: this is what budgets are for.)
    let mut text = String::new();
    for i in 0..10 {
        text += &format!("invoke u{i} {i} w{i}\n unknown u{i}\n");
    }
    text += "invoke r1 99 r\n ok r1 r3\n invoke r2 99 r\n ok r2 r7\n invoke r3 99 r\n ok r3 r7\n";
    assert!(linearizable(&text));
    text += "invoke r4 99 r\n ok r4 r3\n"; // 3 took effect before 7, and cannot again
    assert!(!linearizable(&text));
}

// --- a user model: Herlihy & Wing's FIFO queue ------------------------------------------

#[derive(Debug)]
enum QueueOp {
    Enq(u8),
    Deq,
}

struct Queue;

impl Model for Queue {
    type State = Vec<u8>;
    type Input = QueueOp;
    type Output = Option<u8>; // what Deq returned; Enq returns None
    type Key = ();

    fn init(&self) -> Vec<u8> {
        Vec::new()
    }

    fn key(&self, _: &QueueOp) {}

    fn step(&self, state: &Vec<u8>, input: &QueueOp, output: Option<&Option<u8>>) -> Option<Vec<u8>> {
        match input {
            QueueOp::Enq(x) => Some([state.as_slice(), &[*x]].concat()),
            QueueOp::Deq => {
                let front = state.first().copied();
                (output.is_none() || output == Some(&front)).then(|| state.get(1..).unwrap_or(&[]).to_vec())
            }
        }
    }
}

#[test]
fn herlihy_and_wing_queue_histories() {
    // H1: enq(x) by A and enq(y) by B overlap; A's deq returns y: linearizable (y first).
    let mut h = History::new();
    let ex = h.invoke(1, QueueOp::Enq(b'x'));
    let ey = h.invoke(2, QueueOp::Enq(b'y'));
    h.ok(ex, None).unwrap();
    h.ok(ey, None).unwrap();
    let d = h.invoke(1, QueueOp::Deq);
    h.ok(d, Some(b'y')).unwrap();
    assert!(check(&Queue, &h).is_linearizable());

    // H2: enq(x) completes before enq(y) begins; deq returns y: not linearizable.
    let mut h = History::new();
    let ex = h.invoke(1, QueueOp::Enq(b'x'));
    h.ok(ex, None).unwrap();
    let ey = h.invoke(2, QueueOp::Enq(b'y'));
    h.ok(ey, None).unwrap();
    let d = h.invoke(1, QueueOp::Deq);
    h.ok(d, Some(b'y')).unwrap();
    let verdict = check(&Queue, &h);
    let violation = verdict.violation().expect("not linearizable");
    assert_eq!(violation.op(), d);
    assert_eq!(violation.states(), ["[120, 121]"]);
}

// --- keys ----------------------------------------------------------------------------------

#[test]
fn keys_are_checked_independently_and_the_violation_names_its_key() {
    let mut history = History::new();
    for (client, key) in [(1, "a"), (2, "b"), (3, "c")] {
        let put = history.invoke(client, KvInput::Put(key, client));
        history.ok(put, KvOutput::Put).unwrap();
    }
    let ok = history.invoke(4, KvInput::Get("a"));
    history.ok(ok, KvOutput::Get(Some(1))).unwrap();
    let stale = history.invoke(4, KvInput::Get("b"));
    history.ok(stale, KvOutput::Get(None)).unwrap();
    let verdict = check(&Kv::new(), &history);
    let violation = verdict.violation().expect("key b is stale");
    assert_eq!(violation.key(), Some("\"b\""));
    assert_eq!(violation.op(), stale);
    assert!(violation.to_string().contains("not linearizable (key \"b\")"), "{violation}");
    // A register over the same values would need one order for all keys; the kv model does not.
    let mut history = History::new();
    let a = history.invoke(1, KvInput::Put("a", 1));
    let b = history.invoke(2, KvInput::Put("b", 2));
    history.ok(a, KvOutput::Put).unwrap();
    history.ok(b, KvOutput::Put).unwrap();
    let cas = history.invoke(1, KvInput::Cas { key: "a", from: 1, to: 3 });
    history.ok(cas, KvOutput::Cas(true)).unwrap();
    let get = history.invoke(2, KvInput::Get("b"));
    history.ok(get, KvOutput::Get(Some(2))).unwrap();
    assert!(check(&Kv::new(), &history).is_linearizable());
}

// --- explanations, determinism and the budget --------------------------------------------

#[test]
fn the_explanation_names_the_operation_the_states_and_an_order() {
    let (history, ops) = script(
        "invoke w1 1 w1\n ok w1 w\n invoke w2 2 w2\n invoke w3 3 w3\n ok w2 w\n ok w3 w\n invoke r 4 r\n ok r r1",
    );
    let verdict = check(&Register::new(), &history);
    let violation = verdict.violation().expect("stale");
    assert_eq!(violation.op(), ops["r"]);
    // Both orders of the concurrent writes were tried: the register holds 2 or 3.
    assert_eq!(violation.states(), ["Some(3)", "Some(2)"]);
    assert_eq!(violation.order(), [ops["w1"], ops["w2"], ops["w3"]]);
    assert!(violation.concurrent().is_empty());
    let text = violation.to_string();
    assert!(
        text.starts_with(
            "not linearizable: no order of the operations explains op 3 (client 4): Read -> ok Read(Some(1))"
        ),
        "{text}"
    );
    assert!(text.contains("every order of the 3 operation(s) that completed before it"), "{text}");
    assert!(text.contains("op 2 (client 3): Write(3) -> ok Write"), "{text}");
}

#[test]
fn the_verdict_and_explanation_are_the_same_every_time() {
    let history =
        generate(Shape { ops: 3_000, keys: 3, clients: 6, unknown_per_mille: 20, stale_read: true, seed: 11 });
    let first = check(&Kv::new(), &history).to_string();
    assert!(first.starts_with("not linearizable"), "{first}");
    for _ in 0..3 {
        assert_eq!(check(&Kv::new(), &history).to_string(), first);
    }
}

#[test]
fn the_step_budget_gives_unknown_instead_of_running_on() {
    let history = generate(Shape { ops: 2_000, keys: 1, clients: 8, unknown_per_mille: 0, stale_read: false, seed: 3 });
    let Verdict::Unknown(exhausted) = Checker::new().steps_max(100).check(&Kv::new(), &history) else {
        panic!("expected Unknown with a budget of 100 steps")
    };
    assert_eq!(exhausted.steps_max, 100);
    assert_eq!(exhausted.key.as_deref(), Some("0"));
    assert_eq!(exhausted.ops, 2_000);
    assert!(exhausted.to_string().contains("raise Checker::steps_max"), "{exhausted}");
    assert!(check(&Kv::new(), &history).is_linearizable());
}

// --- agreement with brute force ----------------------------------------------------------

/// Linearizable by brute force: every order of the operations (unknown ones included or
/// left out) that respects real time, run through the model.
fn brute_force(history: &RegisterHistory) -> bool {
    let ops: Vec<_> = history.ops().iter().filter(|op| op.completion() != Some(&Completion::Fail)).collect();
    // Real-time order from event positions: completions and invocations in recording order.
    let mut position = BTreeMap::new();
    let mut seq = 0;
    let mut events: Vec<(OpId, bool)> = Vec::new();
    // The history records events in call order; rebuild it from invoke order and completion
    // times (the generated histories below give every event its own instant).
    for op in history.ops() {
        events.push((op.id(), true));
        if op.completed_at().is_some() {
            events.push((op.id(), false));
        }
    }
    events.sort_by_key(|&(id, invoke)| {
        let op = history.op(id).unwrap();
        if invoke {
            op.invoked_at()
        } else {
            op.completed_at().unwrap()
        }
    });
    for (id, invoke) in events {
        position.insert((id, invoke), seq);
        seq += 1;
    }
    let known = |op: &&RegisterOp| op.output().is_some();
    let before = |a: OpId, b: OpId| match position.get(&(a, false)) {
        Some(&end) if history.op(a).unwrap().output().is_some() => end < position[&(b, true)],
        _ => false,
    };
    let n = ops.len();
    let mut used = vec![false; n];
    fn go(
        ops: &[&RegisterOp],
        used: &mut Vec<bool>,
        state: Option<u8>,
        before: &dyn Fn(OpId, OpId) -> bool,
        known: &dyn Fn(&&RegisterOp) -> bool,
    ) -> bool {
        if ops.iter().zip(used.iter()).all(|(op, &u)| u || !known(op)) {
            return true;
        }
        for i in 0..ops.len() {
            if used[i] {
                continue;
            }
            // Every known operation that must precede it is already placed.
            let ready =
                (0..ops.len()).all(|j| used[j] || j == i || !known(&ops[j]) || !before(ops[j].id(), ops[i].id()));
            if !ready {
                continue;
            }
            if let Some(next) = Register::new().step(&state, ops[i].input(), ops[i].output()) {
                used[i] = true;
                if go(ops, used, next, before, known) {
                    return true;
                }
                used[i] = false;
            }
        }
        false
    }
    go(&ops, &mut used, None, &before, &known)
}

/// A random small history: each op is (client, input, completion kind, output value).
fn arbitrary_history() -> impl Strategy<Value = RegisterHistory> {
    let op = (0..3u8, 0..4u8, 0..10u8, 0..4u8, any::<bool>());
    (prop::collection::vec(op, 1..7), prop::collection::vec(any::<u8>(), 14)).prop_map(|(ops, order)| {
        // Events: each op's invoke and completion, interleaved by `order`, invocations first.
        let mut slots: Vec<(u16, usize, bool)> = Vec::new();
        for (i, _) in ops.iter().enumerate() {
            let invoke = u16::from(order[i * 2]);
            slots.push((invoke, i, true));
            slots.push((invoke + 1 + u16::from(order[i * 2 + 1] % 100), i, false));
        }
        slots.sort();
        let mut history = History::new();
        let mut ids = vec![None; ops.len()];
        for (at, (_, i, invoke)) in slots.into_iter().enumerate() {
            let at = seedsim::time::Instant::from_nanos(at as u64);
            let (client, kind, completion, value, cas_ok) = ops[i];
            if invoke {
                let input = match kind {
                    0 | 1 => In::Read,
                    2 => In::Write(value),
                    _ => In::Cas { from: value, to: (value + 1) % 4 },
                };
                ids[i] = Some(history.invoke_at(u64::from(client), input, at).unwrap());
            } else {
                let id = ids[i].unwrap();
                let input = history.op(id).unwrap().input().clone();
                let completion = match completion {
                    0 => Completion::Unknown,
                    1 => Completion::Fail,
                    _ => Completion::Ok(match input {
                        In::Read => Out::Read(if value == 0 { None } else { Some(value % 4) }),
                        In::Write(_) => Out::Write,
                        In::Cas { .. } => Out::Cas(cas_ok),
                    }),
                };
                if completion == Completion::Unknown && value == 3 {
                    continue; // left pending
                }
                history.complete_at(id, completion, at).unwrap();
            }
        }
        history
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn the_checker_agrees_with_brute_force(history in arbitrary_history()) {
        let verdict = check(&Register::new(), &history);
        prop_assert!(!matches!(verdict, Verdict::Unknown(_)));
        prop_assert_eq!(verdict.is_linearizable(), brute_force(&history), "{:#?}\n{}", history.ops(), verdict);
    }
}

// --- Porcupine's test data -----------------------------------------------------------------

/// The shared data, or `None` (with a loud message) when this clone has no `../shared`.
/// Under CI (`CI` set) the data must be there.
fn porcupine_data(folder: &str) -> Option<(std::path::PathBuf, Vec<(String, bool)>)> {
    let dir = support::porcupine_dir().join(folder);
    let expected = match std::fs::read_to_string(dir.join("EXPECTED")) {
        Ok(text) => support::parse_expected(&text).unwrap(),
        Err(err) => {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI is set but Porcupine's data is missing at {}: {err}",
                dir.display()
            );
            eprintln!(
                "SKIPPED: Porcupine's test data is not at {} ({err}); this test checks the checker against it \
                 when the repository sits beside the shared/ folder, as in CI",
                dir.display()
            );
            return None;
        }
    };
    Some((dir, expected))
}

#[test]
fn every_jepsen_etcd_history_gets_porcupines_verdict() {
    let Some((dir, expected)) = porcupine_data("jepsen") else { return };
    assert_eq!(expected.len(), 102);
    for (name, linearizable) in expected {
        let text = std::fs::read_to_string(dir.join(format!("{name}.log"))).unwrap();
        let history = support::parse_etcd(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        let verdict = check(&Register::new(), &history);
        assert!(!matches!(verdict, Verdict::Unknown(_)), "{name}: {verdict}");
        assert_eq!(verdict.is_linearizable(), linearizable, "{name}: {verdict}");
    }
}

#[test]
fn every_kv_history_gets_porcupines_verdict() {
    let Some((dir, expected)) = porcupine_data("kv") else { return };
    assert_eq!(expected.len(), 6);
    for (name, linearizable) in expected {
        let text = std::fs::read_to_string(dir.join(format!("{name}.txt"))).unwrap();
        let history = support::parse_kv(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        let verdict = check(&support::AppendKv, &history);
        assert_eq!(verdict.is_linearizable(), linearizable, "{name}: {verdict}");
    }
}

#[test]
fn the_parsers_reject_corrupt_files_with_the_line() {
    let err = support::parse_etcd("INFO  jepsen.util - 3\t:ok\t:read\t1").unwrap_err();
    assert!(err.contains("line 1: a completion without an invoke"), "{err}");
    let err =
        support::parse_etcd("INFO  jepsen.util - 3\t:invoke\t:read\tnil\nINFO  jepsen.util - 3\t:invoke\t:read\tnil")
            .unwrap_err();
    assert!(err.contains("line 2: an invoke by a process whose last operation has not completed"), "{err}");
    let err = support::parse_etcd("INFO  jepsen.util - 3\t:invoke\t:write\tfive").unwrap_err();
    assert!(err.contains("line 1: expected an integer value"), "{err}");
    let err = support::parse_kv("{:process 1, :type :ok, :f :get, :key \"0\", :value \"\"}").unwrap_err();
    assert!(err.contains("line 1: a completion without an invoke"), "{err}");
    let err = support::parse_kv("{:process 1, :type :invoke, :f :get, :key \"0\"").unwrap_err();
    assert!(err.contains("line 1: expected {...}"), "{err}");
    assert!(support::parse_expected("etcd_000 maybe")
        .unwrap_err()
        .contains("expected linearizable or not-linearizable"));
}

// --- long generated histories --------------------------------------------------------------

#[test]
fn long_generated_histories_are_judged_right() {
    for (seed, unknown_per_mille) in [(1, 0), (2, 10)] {
        let shape = Shape { ops: 10_000, keys: 50, clients: 5, unknown_per_mille, stale_read: false, seed };
        let history = generate(shape);
        assert!(check(&Kv::new(), &history).is_linearizable(), "{shape}");
        let history = generate(Shape { stale_read: true, ..shape });
        let verdict = check(&Kv::new(), &history);
        assert!(verdict.violation().is_some(), "{shape}: {verdict}");
    }
}
