//! Histories for the linearizability checker's tests and benchmarks: parsers for the two
//! formats of Porcupine's test data (Jepsen's etcd logs and the key-value logs), the append
//! key-value model those use, and a generator of long key-value histories.
//!
//! Shared by `tests/it/linearizability.rs` and the benchmarks (`benches/porcupine.rs`,
//! `benches/histories.rs`, which include this file by path), so it is not public API.

#![allow(dead_code)] // each includer uses a part

use std::fmt;
use std::path::PathBuf;

use seedsim::check::{Completion, History, KvInput, KvOutput, Model, OpId, RegisterInput, RegisterOutput};
use seedsim::time::Instant;

/// Where the shared benchmark data lives: `../shared/bench-data/porcupine` beside the
/// repository (not in it: the data is Porcupine's, and a user's clone has no `../shared`).
pub fn porcupine_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/bench-data/porcupine")
}

/// `(name, linearizable)` from an `EXPECTED` file: lines of `name linearizable` or
/// `name not-linearizable`.
pub fn parse_expected(text: &str) -> Result<Vec<(String, bool)>, String> {
    let mut expected = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let mut words = line.split_whitespace();
        let (Some(name), Some(verdict), None) = (words.next(), words.next(), words.next()) else {
            return Err(format!("EXPECTED line {}: {line:?}: expected a name and a verdict", number + 1));
        };
        let linearizable = match verdict {
            "linearizable" => true,
            "not-linearizable" => false,
            other => {
                return Err(format!(
                    "EXPECTED line {}: verdict {other:?}: expected linearizable or not-linearizable",
                    number + 1
                ))
            }
        };
        expected.push((name.to_owned(), linearizable));
    }
    Ok(expected)
}

pub type EtcdHistory = History<RegisterInput<i64>, RegisterOutput<i64>>;

/// A Jepsen etcd log: lines `INFO  jepsen.util - <process>\t:<type>\t:<f>\t<value>`; other
/// lines are ignored. `:fail` of a `cas` is a completed cas that found another value; `:info`
/// (and an invoke never completed) is an unknown outcome.
pub fn parse_etcd(text: &str) -> Result<EtcdHistory, String> {
    let mut history = History::new();
    let mut pending: Vec<(u64, OpId)> = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let Some((_, rest)) = line.split_once("jepsen.util - ") else { continue };
        let error = |what: &str| format!("line {}: {what}: {line:?}", number + 1);
        // Fields are separated by tabs, or in some logs by spaces; a cas value is `[from to]`.
        let mut fields = rest.split_whitespace();
        let (Some(process), Some(kind), Some(f)) = (fields.next(), fields.next(), fields.next()) else {
            return Err(error("expected a process, a type, a function and a value after 'jepsen.util - '"));
        };
        let value = fields.collect::<Vec<_>>().join(" ");
        let value = value.as_str();
        let process: u64 = process.trim().parse().map_err(|_| error("the process is not a number"))?;
        let int = |s: &str| s.trim().parse::<i64>().map_err(|_| error("expected an integer value"));
        let pair = |s: &str| -> Result<(i64, i64), String> {
            let inner = s.trim().strip_prefix('[').and_then(|s| s.strip_suffix(']'));
            let (a, b) = inner.and_then(|s| s.split_once(' ')).ok_or_else(|| error("expected [from to]"))?;
            Ok((int(a)?, int(b)?))
        };
        match kind {
            ":invoke" => {
                if pending.iter().any(|(p, _)| *p == process) {
                    return Err(error("an invoke by a process whose last operation has not completed"));
                }
                let input = match f {
                    ":read" => RegisterInput::Read,
                    ":write" => RegisterInput::Write(int(value)?),
                    ":cas" => {
                        let (from, to) = pair(value)?;
                        RegisterInput::Cas { from, to }
                    }
                    _ => return Err(error("expected :read, :write or :cas")),
                };
                pending.push((process, history.invoke(process, input)));
            }
            ":ok" | ":fail" | ":info" => {
                let Some(index) = pending.iter().position(|(p, _)| *p == process) else {
                    return Err(error("a completion without an invoke"));
                };
                let (_, op) = pending.remove(index);
                let completion = match (kind, f) {
                    (":info", _) => Completion::Unknown,
                    (":ok", ":read") if value.trim() == "nil" => Completion::Ok(RegisterOutput::Read(None)),
                    (":ok", ":read") => Completion::Ok(RegisterOutput::Read(Some(int(value)?))),
                    (":ok", ":write") => Completion::Ok(RegisterOutput::Write),
                    (":ok", ":cas") => Completion::Ok(RegisterOutput::Cas(true)),
                    (":fail", ":cas") => Completion::Ok(RegisterOutput::Cas(false)),
                    (":fail", ":read") => Completion::Unknown, // a timed-out read
                    (":fail", _) => Completion::Fail,
                    _ => return Err(error("expected :read, :write or :cas")),
                };
                history.complete(op, completion).map_err(|e| error(&e.to_string()))?;
            }
            _ => return Err(error("expected :invoke, :ok, :fail or :info")),
        }
    }
    Ok(history)
}

/// The key-value store of Porcupine's kv tests: string keys that start as the empty string,
/// with get, put and append.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum AppendInput {
    Get(String),
    Put(String, String),
    Append(String, String),
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum AppendOutput {
    Get(String),
    Done,
}

/// A key's value for [`AppendKv`]: the string, and a running hash of it, updated as text is
/// appended, so hashing a state (which the checker's memo does) costs the same for a long
/// string as for a short one.
#[derive(Clone, Debug)]
pub struct Text {
    value: String,
    hash: u64,
}

impl Text {
    fn new(value: &str) -> Text {
        Text { value: value.to_owned(), hash: Text::fold(0, value) }
    }

    fn fold(mut hash: u64, text: &str) -> u64 {
        for byte in text.bytes() {
            hash = (hash.rotate_left(5) ^ u64::from(byte)).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
        hash
    }

    fn appended(&self, text: &str) -> Text {
        let mut value = String::with_capacity(self.value.len() + text.len());
        value.push_str(&self.value);
        value.push_str(text);
        Text { value, hash: Text::fold(self.hash, text) }
    }
}

impl PartialEq for Text {
    fn eq(&self, other: &Text) -> bool {
        self.hash == other.hash && self.value == other.value
    }
}

impl Eq for Text {}

impl std::hash::Hash for Text {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash);
    }
}

pub struct AppendKv;

impl Model for AppendKv {
    type State = Text;
    type Input = AppendInput;
    type Output = AppendOutput;
    type Key = String;

    fn init(&self) -> Text {
        Text::new("")
    }

    fn key(&self, input: &AppendInput) -> String {
        match input {
            AppendInput::Get(key) | AppendInput::Put(key, _) | AppendInput::Append(key, _) => key.clone(),
        }
    }

    fn step(&self, state: &Text, input: &AppendInput, output: Option<&AppendOutput>) -> Option<Text> {
        match (input, output) {
            (AppendInput::Get(_), None) => Some(state.clone()),
            (AppendInput::Get(_), Some(AppendOutput::Get(value))) => (*value == state.value).then(|| state.clone()),
            (AppendInput::Put(_, value), None | Some(AppendOutput::Done)) => Some(Text::new(value)),
            (AppendInput::Append(_, value), None | Some(AppendOutput::Done)) => Some(state.appended(value)),
            _ => None,
        }
    }
}

/// A model that checks the whole history as one part (no per-key split): the state is every
/// key's value. Porcupine's "unsplit" figures are for this.
pub struct AppendKvUnsplit;

impl Model for AppendKvUnsplit {
    type State = Vec<(String, Text)>;
    type Input = AppendInput;
    type Output = AppendOutput;
    type Key = ();

    fn init(&self) -> Self::State {
        Vec::new()
    }

    fn key(&self, _: &AppendInput) {}

    fn step(&self, state: &Self::State, input: &AppendInput, output: Option<&AppendOutput>) -> Option<Self::State> {
        let key = AppendKv.key(input);
        let position = state.binary_search_by(|(k, _)| k.as_str().cmp(&key));
        let empty = Text::new("");
        let value = position.map_or(&empty, |i| &state[i].1);
        let after = AppendKv.step(value, input, output)?;
        let mut state = state.clone();
        match position {
            Ok(i) => state[i].1 = after,
            Err(i) => state.insert(i, (key, after)),
        }
        Some(state)
    }
}

pub type AppendHistory = History<AppendInput, AppendOutput>;

/// A kv log: lines `{:process 9, :type :invoke, :f :append, :key "0", :value "x 9 0 y"}`.
/// An invoke never completed is an unknown outcome.
pub fn parse_kv(text: &str) -> Result<AppendHistory, String> {
    let mut history = History::new();
    let mut pending: Vec<(u64, OpId)> = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let error = |what: &str| format!("line {}: {what}: {line:?}", number + 1);
        let body = line.strip_prefix('{').and_then(|l| l.strip_suffix('}')).ok_or_else(|| error("expected {...}"))?;
        let field = |name: &str| -> Result<&str, String> {
            let start = body.find(name).ok_or_else(|| error(&format!("no {name}")))? + name.len();
            let rest = &body[start..];
            Ok(match rest.strip_prefix('"') {
                Some(quoted) => &quoted[..quoted.find('"').ok_or_else(|| error("unterminated string"))?],
                None => rest.split(',').next().unwrap_or(rest).trim(),
            })
        };
        let process: u64 = field(":process ")?.parse().map_err(|_| error("the process is not a number"))?;
        let kind = field(":type ")?;
        let f = field(":f ")?;
        let key = field(":key ")?.to_owned();
        let value = field(":value ")?.to_owned();
        match kind {
            ":invoke" => {
                if pending.iter().any(|(p, _)| *p == process) {
                    return Err(error("an invoke by a process whose last operation has not completed"));
                }
                let input = match f {
                    ":get" => AppendInput::Get(key),
                    ":put" => AppendInput::Put(key, value),
                    ":append" => AppendInput::Append(key, value),
                    _ => return Err(error("expected :get, :put or :append")),
                };
                pending.push((process, history.invoke(process, input)));
            }
            ":ok" => {
                let Some(index) = pending.iter().position(|(p, _)| *p == process) else {
                    return Err(error("a completion without an invoke"));
                };
                let (_, op) = pending.remove(index);
                let output = if f == ":get" { AppendOutput::Get(value) } else { AppendOutput::Done };
                history.ok(op, output).map_err(|e| error(&e.to_string()))?;
            }
            _ => return Err(error("expected :invoke or :ok")),
        }
    }
    Ok(history)
}

// --- generated histories ---------------------------------------------------------------------

/// SplitMix64: a tiny fixed generator, so generated histories are the same everywhere.
pub struct Gen(pub u64);

impl Gen {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

pub type GenHistory = History<KvInput<u32, u32>, KvOutput<u32>>;

/// What to generate.
#[derive(Clone, Copy, Debug)]
pub struct Shape {
    pub ops: usize,
    pub keys: u32,
    pub clients: u32,
    /// Out of 1,000 operations, how many time out (an unknown outcome; half of them took effect).
    pub unknown_per_mille: u64,
    /// Make one read in the second half stale, so the history is not linearizable.
    pub stale_read: bool,
    pub seed: u64,
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ops, {} keys, {} clients{}{}",
            self.ops,
            self.keys,
            self.clients,
            if self.unknown_per_mille > 0 { format!(", {}‰ unknown", self.unknown_per_mille) } else { String::new() },
            if self.stale_read { ", one stale read" } else { "" }
        )
    }
}

/// A key-value history made by running `clients` concurrent clients against a linearizable
/// store: every operation takes effect at a random instant between its invocation and its
/// completion. Gets 50%, puts 35%, compare-and-sets 15%; values are unique per put.
pub fn generate(shape: Shape) -> GenHistory {
    struct Planned {
        client: u32,
        input: KvInput<u32, u32>,
        invoke: u64,
        effect: u64,
        complete: u64,
        unknown: bool,
        took_effect: bool,
        output: Option<KvOutput<u32>>,
    }
    let mut r#gen = Gen(shape.seed);
    let mut clock = vec![0u64; shape.clients as usize];
    let mut planned: Vec<Planned> = Vec::with_capacity(shape.ops);
    let mut next_value = 1u32;
    for _ in 0..shape.ops {
        // The client that is free first goes next.
        let client = (0..shape.clients).min_by_key(|&c| (clock[c as usize], c)).expect("a client");
        let invoke = clock[client as usize] + r#gen.below(20);
        let complete = invoke + 1 + r#gen.below(100);
        let effect = invoke + r#gen.below(complete - invoke);
        let key = r#gen.below(u64::from(shape.keys)) as u32;
        let input = match r#gen.below(100) {
            0..50 => KvInput::Get(key),
            50..85 => {
                next_value += 1;
                KvInput::Put(key, next_value)
            }
            _ => {
                next_value += 1;
                KvInput::Cas { key, from: next_value - 1 - r#gen.below(3) as u32, to: next_value }
            }
        };
        let unknown = r#gen.below(1000) < shape.unknown_per_mille;
        let took_effect = !unknown || r#gen.below(2) == 0;
        clock[client as usize] = complete;
        planned.push(Planned { client, input, invoke, effect, complete, unknown, took_effect, output: None });
    }
    // Apply in effect order to a real store.
    let mut by_effect: Vec<usize> = (0..planned.len()).collect();
    by_effect.sort_by_key(|&i| (planned[i].effect, i));
    let mut store: Vec<Option<u32>> = vec![None; shape.keys as usize];
    for &i in &by_effect {
        let op = &mut planned[i];
        if !op.took_effect {
            continue;
        }
        let slot = &mut store[*op.input.key() as usize];
        op.output = Some(match op.input {
            KvInput::Get(_) => KvOutput::Get(*slot),
            KvInput::Put(_, value) => {
                *slot = Some(value);
                KvOutput::Put
            }
            KvInput::Cas { from, to, .. } => {
                let done = *slot == Some(from);
                if done {
                    *slot = Some(to);
                }
                KvOutput::Cas(done)
            }
        });
    }
    if shape.stale_read {
        make_one_read_stale(&mut planned_view(&mut planned), &mut r#gen);
    }
    // Emit events in time order (invocations before completions at the same instant).
    let mut events: Vec<(u64, u8, usize)> = Vec::with_capacity(planned.len() * 2);
    for (i, op) in planned.iter().enumerate() {
        events.push((op.invoke, 1, i));
        events.push((op.complete, 0, i));
    }
    events.sort();
    let mut history = History::new();
    let mut ids = vec![None; planned.len()];
    for (at, kind, i) in events {
        let at = Instant::from_nanos(at * 1_000);
        let op = &planned[i];
        if kind == 1 {
            ids[i] = Some(history.invoke_at(u64::from(op.client), op.input.clone(), at).expect("in time order"));
        } else {
            let id = ids[i].expect("invoked first");
            let completion = match (&op.output, op.unknown) {
                (_, true) => Completion::Unknown,
                (Some(output), false) => Completion::Ok(output.clone()),
                (None, false) => unreachable!("a known outcome took effect"),
            };
            history.complete_at(id, completion, at).expect("in time order");
        }
    }
    return history;

    /// (invoke, complete, key, input is a get, output) views, to pick a read to corrupt.
    struct View<'a> {
        invoke: u64,
        complete: u64,
        input: &'a KvInput<u32, u32>,
        output: &'a mut Option<KvOutput<u32>>,
        unknown: bool,
    }
    fn planned_view(planned: &mut [Planned]) -> Vec<View<'_>> {
        planned
            .iter_mut()
            .map(|p| View {
                invoke: p.invoke,
                complete: p.complete,
                input: &p.input,
                output: &mut p.output,
                unknown: p.unknown,
            })
            .collect()
    }
    fn make_one_read_stale(ops: &mut [View<'_>], r#gen: &mut Gen) {
        // A get in the second half that returned a value, on a key with an earlier put of
        // another value that completed before a later put, which completed before the get began.
        let start = ops.len() / 2 + r#gen.below(ops.len() as u64 / 4 + 1) as usize;
        for g in start..ops.len() {
            let (KvInput::Get(key), Some(KvOutput::Get(Some(now)))) = (ops[g].input, &*ops[g].output) else {
                continue;
            };
            if ops[g].unknown {
                continue;
            }
            let invoke = ops[g].invoke;
            let puts: Vec<(u64, u32)> = ops[..g]
                .iter()
                .filter(|o| !o.unknown && o.complete < invoke)
                .filter_map(|o| match o.input {
                    KvInput::Put(k, v) if k == key && v != now => Some((o.complete, *v)),
                    _ => None,
                })
                .collect();
            let Some(&(old_end, old)) = puts.first() else { continue };
            // The value `now` must have been written by an op that began after `old` completed.
            let later = ops[..g].iter().any(|o| {
                !o.unknown
                    && o.invoke > old_end
                    && o.complete < invoke
                    && matches!(o.input, KvInput::Put(k, v) if k == key && v == now)
            });
            if later {
                *ops[g].output = Some(KvOutput::Get(Some(old)));
                return;
            }
        }
        panic!("no read to make stale: generate a longer history");
    }
}
