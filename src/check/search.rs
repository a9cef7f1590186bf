//! The linearizability search: Wing and Gong's backtracking with Lowe's memoization, over one
//! independent part of a history.
//!
//! The history is a doubly linked list of call and return entries in event order (as in
//! Lowe's and Porcupine's implementations). The search walks it from the front: a call whose
//! operation the model accepts in the current state is *lifted* (its call and return leave the
//! list) and pushed on a stack; reaching a return entry means the operation it returns could
//! not be placed, so the last lifted operation is put back (*unlifted*) and the next call after
//! it is tried. Every configuration reached, (set of operations linearized, model state), is
//! memoized: reaching one again cannot lead anywhere new.
//!
//! Operations with an unknown outcome have no return entry: they may take effect at any time
//! after their call, or never. They are tried only when the search is stuck at a return, and
//! two rules keep them from multiplying the search: one is never linearized where it leaves
//! the state as it is (leaving it out gives the same orders), and a configuration is skipped
//! when one with the same known operations and state but a *subset* of its unknown operations
//! was reached before (that one can do everything this one can: unknown operations are
//! optional and nothing must follow them). Many unknown operations on one key of a history
//! that is not linearizable still make the search exponential: that is what the budget is for.
//!
//! Representation, for speed: operations are bit indices, operations with a known output
//! first in call order, then the unknown ones. The set of linearized known operations is a
//! bitset with an incremental Zobrist hash; the memo stores only its words from the first one
//! not full to the last one not empty (operations linearize roughly in call order, so that
//! window is narrow), and under each such entry the sets of unknown operations seen with it.
//! Model states are interned: the stack and the memo hold `u32` ids.
//!
//! Nothing here reads the clock or iterates a hash table: tables answer "seen before?" only,
//! so the search order, and therefore the verdict and the explanation, depend on the history
//! alone. The budget is counted in steps: a model step, or one comparison of a memo record
//! of unknown operations (see `Memo::add_unknown_set`), so that a budget bounds the time a
//! search takes, and not only the model's share of it.

use std::hash::{Hash, Hasher};

use super::model::Model;

const NONE: u32 = u32::MAX;
/// Distinct model states kept for the explanation of a violation.
pub(crate) const STATES_KEPT: usize = 16;

/// One operation of the part to check.
pub(crate) struct Call<'h, M: Model> {
    pub(crate) input: &'h M::Input,
    /// `None` when the outcome is unknown.
    pub(crate) output: Option<&'h M::Output>,
    /// Position of the invocation in the history's event order.
    pub(crate) invoke_seq: u64,
    /// Position of the completion, for operations with a known output.
    pub(crate) complete_seq: Option<u64>,
}

/// Why the search stopped.
/// How a search ended.
pub(crate) enum Found<S> {
    Linearizable,
    /// No order fits: `op` (an index into the calls given) is the operation that could not be
    /// placed at the furthest point any order reached.
    Stuck(Stuck<S>),
}

pub(crate) struct Stuck<S> {
    pub(crate) op: usize,
    /// Distinct states (at most [`STATES_KEPT`]) in which `op` was tried and rejected, in the
    /// order they were found.
    pub(crate) states: Vec<S>,
    /// True if there were more than [`STATES_KEPT`].
    pub(crate) states_more: bool,
    /// The first order that reached that point: operations (indices into the calls given) and
    /// the state after each.
    pub(crate) order: Vec<(usize, S)>,
}

/// A search over one part, resumable: [`Search::resume`] runs it for a number of steps.
pub(crate) struct Search<'a, 'h, M: Model> {
    model: &'a M,
    calls: &'a [Call<'h, M>],
    /// Bit index -> index into `calls`.
    call_of_bit: Vec<u32>,
    /// Operations with a known output: bits `0..definite`; unknown ones after.
    definite: usize,
    /// The list of known calls and returns in event order; entry 0 is the head sentinel.
    next: Vec<u32>,
    prev: Vec<u32>,
    /// Entry -> bit of its operation (NONE for the head).
    bit_of: Vec<u32>,
    /// Call entry -> its return entry; return entry -> NONE.
    ret_of: Vec<u32>,
    /// Known bit -> its call entry.
    call_entries: Vec<u32>,
    is_call: Vec<bool>,
    /// Entry -> its event position.
    seq_of: Vec<u64>,
    /// The unknown operations not linearized, in call order: `unext[0]` is the first (index
    /// `u + 1` is unknown operation `u`, bit `definite + u`).
    unext: Vec<u32>,
    uprev: Vec<u32>,

    // The search's state.
    states: Interner<M::State>,
    state: u32,
    linearized: Bits,
    unknown: Vec<u64>,
    memo: Memo,
    stack: Vec<Frame>,
    remaining: usize,
    cursor: Cursor,
    // The furthest return entry reached, the states seen there, and the order that got there
    // first (kept incrementally: `order` is valid up to `order_valid` frames of `stack`).
    furthest: u32,
    stuck_states: Vec<u32>,
    stuck_more: bool,
    order: Vec<(u32, u32)>,
    order_valid: usize,
    done: bool,
}

/// Where the search is: scanning the list at an entry, or, stopped at the return entry
/// `limit`, trying the unknown operations from `unknown` (a node of the unknown list).
#[derive(Clone, Copy)]
enum Cursor {
    Entry(u32),
    Unknown { unknown: u32, limit: u32 },
}

/// A linearized operation: what to restore, and where to go on from when it is taken back.
struct Frame {
    bit: u32,
    /// The state before it was linearized.
    state: u32,
    /// `Bits::lo` and `Bits::hi` before it was (for a known operation).
    lo: u32,
    hi: u32,
    /// For an unknown operation, the return entry the search was stopped at.
    limit: u32,
}

impl<'a, 'h, M: Model> Search<'a, 'h, M> {
    pub(crate) fn new(model: &'a M, calls: &'a [Call<'h, M>]) -> Search<'a, 'h, M> {
        let n = calls.len();
        assert!(n < NONE as usize / 2, "a part of {n} operations is too large to check");
        // Bits: definite operations in call order, then the unknown ones in call order.
        let mut order: Vec<u32> = (0..n as u32).collect();
        order.sort_by_key(|&i| (calls[i as usize].complete_seq.is_none(), calls[i as usize].invoke_seq));
        let definite = calls.iter().filter(|c| c.complete_seq.is_some()).count();
        // Entries of the known operations in event order: (seq, bit, is_call).
        let mut events: Vec<(u64, u32, bool)> = Vec::with_capacity(2 * definite);
        for (bit, &call) in order.iter().enumerate().take(definite) {
            let call = &calls[call as usize];
            let seq = call.complete_seq.expect("a known operation has completed");
            assert!(seq > call.invoke_seq, "a completion at {seq} before its invocation at {}", call.invoke_seq);
            events.push((call.invoke_seq, bit as u32, true));
            events.push((seq, bit as u32, false));
        }
        events.sort_unstable_by_key(|event| event.0);
        let m = events.len() + 1;
        let mut bit_of = vec![NONE; m];
        let mut ret_of = vec![NONE; m];
        let mut is_call = vec![false; m];
        let mut seq_of = vec![0; m];
        let mut call_entries = vec![NONE; definite];
        for (index, &(seq, bit, call)) in events.iter().enumerate() {
            let entry = index + 1;
            bit_of[entry] = bit;
            is_call[entry] = call;
            seq_of[entry] = seq;
            if call {
                call_entries[bit as usize] = entry as u32;
            } else {
                ret_of[call_entries[bit as usize] as usize] = entry as u32;
            }
        }
        let link = |len: usize| -> (Vec<u32>, Vec<u32>) {
            let next = (0..len as u32).map(|e| if (e as usize) + 1 < len { e + 1 } else { NONE }).collect();
            let prev = (0..len as u32).map(|e| if e == 0 { NONE } else { e - 1 }).collect();
            (next, prev)
        };
        let (next, prev) = link(m);
        let (unext, uprev) = link(n - definite + 1);
        let unknown_words = (n - definite).div_ceil(64);
        let states = Interner::new(model.init());
        Search {
            model,
            calls,
            call_of_bit: order,
            definite,
            next,
            prev,
            bit_of,
            ret_of,
            call_entries,
            is_call,
            seq_of,
            unext,
            uprev,
            states,
            state: 0,
            linearized: Bits::new(definite),
            unknown: vec![0; unknown_words],
            memo: Memo::new(unknown_words),
            stack: Vec::new(),
            remaining: definite,
            cursor: Cursor::Entry(if m > 1 { 1 } else { NONE }),
            furthest: 0,
            stuck_states: Vec::new(),
            stuck_more: false,
            order: Vec::new(),
            order_valid: 0,
            done: false,
        }
    }

    fn call(&self, bit: u32) -> &Call<'h, M> {
        &self.calls[self.call_of_bit[bit as usize] as usize]
    }

    /// Take a known call entry and its return entry out of the list.
    fn lift(&mut self, entry: u32) {
        unlink(&mut self.next, &mut self.prev, entry);
        unlink(&mut self.next, &mut self.prev, self.ret_of[entry as usize]);
    }

    /// Put back what `lift(entry)` took out (lifts and unlifts are last-in, first-out).
    fn unlift(&mut self, entry: u32) {
        relink(&mut self.next, &mut self.prev, self.ret_of[entry as usize]);
        relink(&mut self.next, &mut self.prev, entry);
    }

    /// Run for at most `budget` steps (counted into `steps`: model steps and memo comparisons;
    /// the last linearization may overshoot by its comparisons); `None` if not done yet.
    pub(crate) fn resume(&mut self, steps: &mut u64, budget: u64) -> Option<Found<M::State>> {
        assert!(!self.done, "a finished search was resumed");
        let stop = steps.saturating_add(budget);
        loop {
            if self.remaining == 0 {
                self.done = true;
                return Some(Found::Linearizable);
            }
            let (bit, resume_unknown) = match self.cursor {
                Cursor::Entry(entry) => {
                    assert!(entry != NONE, "an operation with a known output has no return entry left");
                    if !self.is_call[entry as usize] {
                        self.note_return(entry);
                        self.cursor = Cursor::Unknown { unknown: self.unext[0], limit: entry };
                        continue;
                    }
                    (self.bit_of[entry as usize], None)
                }
                Cursor::Unknown { unknown, limit } => {
                    let u = unknown.wrapping_sub(1);
                    if unknown == NONE
                        || self.calls[self.call_of_bit[self.definite + u as usize] as usize].invoke_seq
                            > self.seq_of[limit as usize]
                    {
                        // Nothing more to try here: take back the last operation.
                        if let Some(found) = self.backtrack() {
                            self.done = true;
                            return Some(found);
                        }
                        continue;
                    }
                    ((self.definite + u as usize) as u32, Some((unknown, limit)))
                }
            };
            if *steps >= stop {
                return None;
            }
            *steps += 1;
            let call = self.call(bit);
            let after = self.model.step(self.states.get(self.state), call.input, call.output);
            let after = match after {
                Some(after) if after == *self.states.get(self.state) => Some(self.state),
                Some(after) => Some(self.states.intern(after)),
                None => None,
            };
            let linearized = match (after, resume_unknown) {
                (None, _) => false,
                // An unknown operation that changes nothing here: leaving it out is as good.
                (Some(after), Some(_)) if after == self.state => false,
                (Some(after), _) => self.linearize(bit, after, resume_unknown.map_or(NONE, |(_, limit)| limit), steps),
            };
            if !linearized {
                self.cursor = match (self.cursor, resume_unknown) {
                    (Cursor::Entry(entry), _) => Cursor::Entry(self.next[entry as usize]),
                    (_, Some((unknown, limit))) => Cursor::Unknown { unknown: self.unext[unknown as usize], limit },
                    (cursor, None) => cursor,
                };
            }
        }
    }

    /// Linearize `bit` into state `after` unless the configuration was seen; true if it was new.
    /// The memo records compared are counted into `steps`.
    fn linearize(&mut self, bit: u32, after: u32, limit: u32, steps: &mut u64) -> bool {
        let known = (bit as usize) < self.definite;
        let (lo, hi) = if known {
            self.linearized.set(bit)
        } else {
            let u = bit as usize - self.definite;
            self.unknown[u / 64] |= 1 << (u % 64);
            (0, 0)
        };
        let hash = self.linearized.hash() ^ u64::from(after).wrapping_mul(STATE_MIX);
        if !self.memo.insert(hash, after, &self.linearized, &self.unknown, steps) {
            if known {
                self.linearized.restore(bit, lo, hi);
            } else {
                let u = bit as usize - self.definite;
                self.unknown[u / 64] &= !(1 << (u % 64));
            }
            return false;
        }
        self.stack.push(Frame { bit, state: self.state, lo, hi, limit });
        self.state = after;
        if known {
            self.remaining -= 1;
            let Cursor::Entry(entry) = self.cursor else { unreachable!("a known call is tried from the list") };
            self.lift(entry);
        } else {
            let node = bit - self.definite as u32 + 1;
            unlink(&mut self.unext, &mut self.uprev, node);
        }
        self.cursor = Cursor::Entry(self.next[0]);
        true
    }

    /// Take back the last linearized operation and go on after it; at the bottom of the
    /// stack, the search is over: nothing fits.
    fn backtrack(&mut self) -> Option<Found<M::State>> {
        let Some(frame) = self.stack.pop() else {
            return Some(Found::Stuck(self.stuck()));
        };
        self.order_valid = self.order_valid.min(self.stack.len());
        self.state = frame.state;
        if (frame.bit as usize) < self.definite {
            self.linearized.restore(frame.bit, frame.lo, frame.hi);
            self.remaining += 1;
            let entry = self.call_entries[frame.bit as usize];
            self.unlift(entry);
            self.cursor = Cursor::Entry(self.next[entry as usize]);
        } else {
            let u = frame.bit as usize - self.definite;
            self.unknown[u / 64] &= !(1 << (u % 64));
            let node = u as u32 + 1;
            relink(&mut self.unext, &mut self.uprev, node);
            self.cursor = Cursor::Unknown { unknown: self.unext[node as usize], limit: frame.limit };
        }
        None
    }

    /// Note that the search reached return entry `entry` (its operation not placed).
    fn note_return(&mut self, entry: u32) {
        if entry > self.furthest {
            self.furthest = entry;
            self.stuck_states.clear();
            self.stuck_more = false;
            self.order.truncate(self.order_valid);
            for depth in self.order_valid..self.stack.len() {
                let after = self.stack.get(depth + 1).map_or(self.state, |next| next.state);
                self.order.push((self.stack[depth].bit, after));
            }
            self.order_valid = self.stack.len();
        }
        if entry == self.furthest && !self.stuck_states.contains(&self.state) {
            if self.stuck_states.len() < STATES_KEPT {
                self.stuck_states.push(self.state);
            } else {
                self.stuck_more = true;
            }
        }
    }

    fn stuck(&self) -> Stuck<M::State> {
        let op = self.call_of_bit[self.bit_of[self.furthest as usize] as usize] as usize;
        let order = self
            .order
            .iter()
            .map(|&(bit, after)| (self.call_of_bit[bit as usize] as usize, self.states.get(after).clone()))
            .collect();
        let states = self.stuck_states.iter().map(|&id| self.states.get(id).clone()).collect();
        Stuck { op, states, states_more: self.stuck_more, order }
    }
}

fn unlink(next: &mut [u32], prev: &mut [u32], node: u32) {
    let (p, n) = (prev[node as usize], next[node as usize]);
    next[p as usize] = n;
    if n != NONE {
        prev[n as usize] = p;
    }
}

fn relink(next: &mut [u32], prev: &mut [u32], node: u32) {
    let (p, n) = (prev[node as usize], next[node as usize]);
    next[p as usize] = node;
    if n != NONE {
        prev[n as usize] = node;
    }
}

const STATE_MIX: u64 = 0x9e37_79b9_7f4a_7c15;

/// The final mix of a 64-bit hash (from MurmurHash3), so table slots use well-spread bits.
#[inline]
fn finish(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// The set of linearized operations: a bitset with an incremental Zobrist hash and the window
/// `lo..hi` of words that are neither all ones (below `lo`) nor all zeros (from `hi`).
struct Bits {
    words: Vec<u64>,
    keys: Vec<u64>,
    hash: u64,
    lo: u32,
    hi: u32,
}

impl Bits {
    fn new(n: usize) -> Bits {
        // Fixed keys (SplitMix64 of the bit index): the hash is the same on every run.
        let keys = (0..n as u64)
            .map(|i| {
                let mut z = i.wrapping_add(1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
                z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
                z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
                z ^ (z >> 31)
            })
            .collect();
        Bits { words: vec![0; n.div_ceil(64)], keys, hash: 0, lo: 0, hi: 0 }
    }

    /// Set `bit` (not set yet); returns the window before, for `restore`.
    #[inline]
    fn set(&mut self, bit: u32) -> (u32, u32) {
        let saved = (self.lo, self.hi);
        let word = (bit / 64) as usize;
        debug_assert_eq!(self.words[word] & (1 << (bit % 64)), 0);
        self.words[word] |= 1 << (bit % 64);
        self.hash ^= self.keys[bit as usize];
        if word as u32 >= self.hi {
            self.hi = word as u32 + 1;
        }
        if word as u32 == self.lo {
            while (self.lo as usize) < self.words.len() && self.words[self.lo as usize] == u64::MAX {
                self.lo += 1;
            }
        }
        saved
    }

    /// Clear `bit`, set by the `set` that returned `lo` and `hi` (sets and restores are
    /// last-in, first-out, so the window before is exactly the window after).
    #[inline]
    fn restore(&mut self, bit: u32, lo: u32, hi: u32) {
        let word = (bit / 64) as usize;
        debug_assert_ne!(self.words[word] & (1 << (bit % 64)), 0);
        self.words[word] &= !(1 << (bit % 64));
        self.hash ^= self.keys[bit as usize];
        self.lo = lo;
        self.hi = hi;
    }

    fn hash(&self) -> u64 {
        self.hash
    }

    fn window(&self) -> &[u64] {
        &self.words[self.lo as usize..self.hi as usize]
    }
}

/// The memo: configurations (linearized known operations, state id) seen, in an
/// open-addressing table, each with the sets of unknown operations it was seen with. Lookups
/// only; never iterated.
struct Memo {
    slots: Vec<u32>,
    mask: usize,
    hashes: Vec<u64>,
    states: Vec<u32>,
    /// Per configuration: `Bits::lo`, then where its window starts in `words`, and its length.
    places: Vec<(u32, u32, u32)>,
    words: Vec<u64>,
    /// Per configuration: its first unknown-set record.
    first: Vec<u32>,
    /// Records: the next record of the same configuration (or NONE); the set is at
    /// `unknown_words[record * unknown_len..][..unknown_len]`.
    next: Vec<u32>,
    unknown_words: Vec<u64>,
    unknown_len: usize,
}

impl Memo {
    fn new(unknown_len: usize) -> Memo {
        Memo {
            slots: vec![NONE; 1024],
            mask: 1023,
            hashes: Vec::new(),
            states: Vec::new(),
            places: Vec::new(),
            words: Vec::new(),
            first: Vec::new(),
            next: Vec::new(),
            unknown_words: Vec::new(),
            unknown_len,
        }
    }

    /// Add the configuration; false if it, or one with a subset of its unknown operations, was
    /// there already. The unknown-set records compared are added to `compared`.
    #[inline]
    fn insert(&mut self, hash: u64, state: u32, bits: &Bits, unknown: &[u64], compared: &mut u64) -> bool {
        debug_assert_eq!(unknown.len(), self.unknown_len);
        let hash = finish(hash);
        let window = bits.window();
        let mut slot = hash as usize & self.mask;
        loop {
            let index = self.slots[slot];
            if index == NONE {
                break;
            }
            let i = index as usize;
            if self.hashes[i] == hash && self.states[i] == state {
                let (lo, start, len) = self.places[i];
                if lo == bits.lo && self.words[start as usize..(start + len) as usize] == *window {
                    return self.add_unknown_set(i, unknown, compared);
                }
            }
            slot = (slot + 1) & self.mask;
        }
        let index = u32::try_from(self.hashes.len()).expect("fewer than 2^32 configurations");
        assert!(self.words.len() + window.len() < u32::MAX as usize, "the memo outgrew 2^32 words");
        self.slots[slot] = index;
        self.hashes.push(hash);
        self.states.push(state);
        self.places.push((bits.lo, self.words.len() as u32, window.len() as u32));
        self.words.extend_from_slice(window);
        self.first.push(NONE);
        self.add_unknown_set(index as usize, unknown, compared);
        if self.hashes.len() * 2 > self.slots.len() {
            self.grow();
        }
        true
    }

    /// Record `unknown` under configuration `i` unless a subset of it is there already. The
    /// records compared are added to `compared`: with many unknown operations one
    /// configuration can gather thousands of records, and walking them, not the model, is
    /// then where the time goes, so the budget must count it.
    fn add_unknown_set(&mut self, i: usize, unknown: &[u64], compared: &mut u64) -> bool {
        let len = self.unknown_len;
        let mut record = self.first[i];
        while record != NONE {
            *compared += 1;
            let seen = &self.unknown_words[record as usize * len..][..len];
            if seen.iter().zip(unknown).all(|(seen, now)| seen & !now == 0) {
                return false;
            }
            record = self.next[record as usize];
        }
        let record = u32::try_from(self.next.len()).expect("fewer than 2^32 records");
        self.next.push(self.first[i]);
        self.first[i] = record;
        self.unknown_words.extend_from_slice(unknown);
        true
    }

    fn grow(&mut self) {
        let size = self.slots.len() * 2;
        self.mask = size - 1;
        self.slots = vec![NONE; size];
        for (index, &hash) in self.hashes.iter().enumerate() {
            let mut slot = hash as usize & self.mask;
            while self.slots[slot] != NONE {
                slot = (slot + 1) & self.mask;
            }
            self.slots[slot] = index as u32;
        }
    }
}

/// Model states by id; equal states get the same id. Lookups only; never iterated.
struct Interner<S> {
    values: Vec<S>,
    hashes: Vec<u64>,
    slots: Vec<u32>,
    mask: usize,
}

impl<S: Eq + Hash> Interner<S> {
    fn new(initial: S) -> Interner<S> {
        let mut interner = Interner { values: Vec::new(), hashes: Vec::new(), slots: vec![NONE; 64], mask: 63 };
        interner.intern(initial);
        interner
    }

    fn get(&self, id: u32) -> &S {
        &self.values[id as usize]
    }

    fn intern(&mut self, value: S) -> u32 {
        let mut hasher = FxHasher(0);
        value.hash(&mut hasher);
        let hash = finish(hasher.0);
        let mut slot = hash as usize & self.mask;
        loop {
            let index = self.slots[slot];
            if index == NONE {
                break;
            }
            if self.hashes[index as usize] == hash && self.values[index as usize] == value {
                return index;
            }
            slot = (slot + 1) & self.mask;
        }
        let index = u32::try_from(self.values.len()).expect("fewer than 2^32 model states");
        self.slots[slot] = index;
        self.values.push(value);
        self.hashes.push(hash);
        if self.values.len() * 2 > self.slots.len() {
            let size = self.slots.len() * 2;
            self.mask = size - 1;
            self.slots = vec![NONE; size];
            for (index, &hash) in self.hashes.iter().enumerate() {
                let mut slot = hash as usize & self.mask;
                while self.slots[slot] != NONE {
                    slot = (slot + 1) & self.mask;
                }
                self.slots[slot] = index as u32;
            }
        }
        index
    }
}

/// FxHash (rustc's): fast, fixed, not seeded. Only equality of what it hashes matters here.
struct FxHasher(u64);

impl FxHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

impl Hasher for FxHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            self.add(u64::from_le_bytes(chunk.try_into().expect("8 bytes")));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut last = [0u8; 8];
            last[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(last));
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }

    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }

    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_window_tracks_full_and_empty_words() {
        let mut bits = Bits::new(200);
        let mut saved = Vec::new();
        for bit in 0..64 {
            saved.push((bit, bits.set(bit)));
        }
        assert_eq!((bits.lo, bits.hi), (1, 1));
        assert!(bits.window().is_empty());
        saved.push((130, bits.set(130)));
        assert_eq!((bits.lo, bits.hi), (1, 3));
        assert_eq!(bits.window(), &[0, 1 << 2]);
        while let Some((bit, (lo, hi))) = saved.pop() {
            bits.restore(bit, lo, hi);
        }
        assert_eq!((bits.lo, bits.hi, bits.hash), (0, 0, 0));
        assert!(bits.words.iter().all(|&w| w == 0));
    }

    #[test]
    fn memo_finds_equal_configurations_only() {
        let mut memo = Memo::new(0);
        let mut bits = Bits::new(100);
        bits.set(3);
        assert!(memo.insert(bits.hash(), 0, &bits, &[], &mut 0));
        assert!(!memo.insert(bits.hash(), 0, &bits, &[], &mut 0));
        assert!(memo.insert(bits.hash(), 1, &bits, &[], &mut 0));
        // Many entries: the table grows and keeps finding them.
        for bit in 4..100 {
            bits.set(bit);
            assert!(memo.insert(bits.hash(), 0, &bits, &[], &mut 0));
        }
        assert!(!memo.insert(bits.hash(), 0, &bits, &[], &mut 0));
        // A colliding hash with a different set is not a hit.
        let mut other = Bits::new(100);
        other.set(5);
        assert!(memo.insert(bits.hash(), 0, &other, &[], &mut 0));
    }

    #[test]
    fn memo_skips_configurations_with_more_unknown_operations() {
        let mut memo = Memo::new(2);
        let bits = Bits::new(10);
        assert!(memo.insert(0, 0, &bits, &[0b0110, 0], &mut 0));
        assert!(!memo.insert(0, 0, &bits, &[0b0110, 0], &mut 0), "the same set");
        assert!(!memo.insert(0, 0, &bits, &[0b1110, 1], &mut 0), "a superset");
        assert!(memo.insert(0, 0, &bits, &[0b0100, 0], &mut 0), "a subset is new");
        assert!(!memo.insert(0, 0, &bits, &[0b0101, 0], &mut 0), "a superset of the subset");
        assert!(memo.insert(0, 0, &bits, &[0b1000, 0], &mut 0), "an unrelated set");
        assert!(memo.insert(0, 1, &bits, &[0b0110, 0], &mut 0), "another state");
    }

    #[test]
    fn the_unknown_sets_compared_are_counted() {
        // Sets of 2 of 8 unknown operations: none is a subset of another, so each insert
        // compares against every record before it. That walk is the work the budget counts.
        let mut memo = Memo::new(1);
        let bits = Bits::new(10);
        let mut compared = 0;
        let mut records = 0;
        for a in 0..8 {
            for b in a + 1..8 {
                let before = compared;
                assert!(memo.insert(0, 0, &bits, &[(1 << a) | (1 << b)], &mut compared));
                assert_eq!(compared - before, records, "one comparison per record");
                records += 1;
            }
        }
        let before = compared;
        assert!(!memo.insert(0, 0, &bits, &[0b11], &mut compared), "the set {{0, 1}} again");
        assert_eq!(compared - before, 28, "the newest record first, {{0, 1}} last");
    }

    #[test]
    fn interner_gives_equal_values_one_id() {
        let mut interner = Interner::new(String::new());
        let ids: Vec<u32> = (0..500).map(|i| interner.intern(format!("s{}", i % 250))).collect();
        assert_eq!(ids[0], ids[250]);
        assert_ne!(ids[0], ids[1]);
        assert_eq!(interner.intern(String::new()), 0);
        assert_eq!(interner.get(ids[7]), "s7");
    }
}
