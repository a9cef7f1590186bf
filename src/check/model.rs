//! Sequential specifications to judge a history against: the [`Model`] trait, a [`Register`]
//! (read, write, compare-and-set) and a key-value store, [`Kv`], whose keys are independent.
//!
//! A model is a state machine: from a state, an operation with its observed output either is
//! possible (and gives the next state) or is not. The checker searches for an order of the
//! history's operations, consistent with real time, that the model accepts from its initial
//! state. Models are pure: the same state and operation always give the same answer.

use std::fmt;
use std::hash::Hash;
use std::marker::PhantomData;

/// A sequential specification: the state machine a linearizable system must look like.
///
/// `step` gets the output the client observed, or `None` when the outcome is unknown
/// (the operation timed out, or never completed): then it must accept and return the state
/// the operation leaves if it took effect. `key` splits a history into independent parts
/// (P-compositionality: a history is linearizable if and only if each part is): operations
/// with different keys never affect each other, and each part is checked on its own, from
/// [`init`](Model::init). A model without independent parts uses `type Key = ()`.
///
/// `State` is hashed and compared to memoize the search, so keep it small; it needs no
/// particular hash function (the checker's tables are never iterated).
///
/// A counter with `add` and `get`:
///
/// ```
/// use seedsim::check::{check, History, Model};
///
/// #[derive(Debug)]
/// enum Op { Add(u64), Get }
///
/// struct Counter;
///
/// impl Model for Counter {
///     type State = u64;
///     type Input = Op;
///     type Output = u64; // what `Get` returned; `Add` returns 0
///     type Key = ();
///
///     fn init(&self) -> u64 { 0 }
///     fn key(&self, _: &Op) {}
///     fn step(&self, state: &u64, input: &Op, output: Option<&u64>) -> Option<u64> {
///         match input {
///             Op::Add(n) => Some(state + n),
///             Op::Get => (output.is_none() || output == Some(state)).then_some(*state),
///         }
///     }
/// }
///
/// let mut history = History::new();
/// let add = history.invoke(1, Op::Add(2));
/// history.ok(add, 0)?;
/// let get = history.invoke(2, Op::Get);
/// history.ok(get, 1)?; // wrong: 2 was added before this began
/// assert!(!check(&Counter, &history).is_linearizable());
/// # Ok::<(), seedsim::Error>(())
/// ```
pub trait Model {
    /// The model's state. Hashed and compared by the checker's memo tables.
    type State: Clone + Eq + Hash + fmt::Debug;
    /// What a client asks.
    type Input: fmt::Debug;
    /// What an `ok` completion returns.
    type Output: fmt::Debug;
    /// What splits a history into independent parts; `()` for none.
    type Key: Ord + Clone + fmt::Debug;

    /// The state before any operation (of each part, when a history is split by key).
    fn init(&self) -> Self::State;

    /// The part `input` belongs to. Operations of different parts must be independent.
    fn key(&self, input: &Self::Input) -> Self::Key;

    /// The state after `input` took effect in `state` and returned `output`, or `None` if it
    /// could not have returned `output` there. `output` is `None` when the outcome is
    /// unknown: return the state the operation leaves if it took effect (the checker also
    /// considers that it never did).
    fn step(&self, state: &Self::State, input: &Self::Input, output: Option<&Self::Output>) -> Option<Self::State>;
}

/// What a client asks a [`Register`].
///
/// ```
/// use seedsim::check::RegisterInput;
/// let cas = RegisterInput::Cas { from: 1, to: 2 };
/// assert_eq!(format!("{cas:?}"), "Cas { from: 1, to: 2 }");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum RegisterInput<V> {
    /// Read the value.
    Read,
    /// Set the value.
    Write(V),
    /// Set the value to `to` if it is `from`.
    Cas {
        /// The value expected.
        from: V,
        /// The value to set.
        to: V,
    },
}

/// What a [`Register`] operation returns.
///
/// ```
/// use seedsim::check::RegisterOutput;
/// assert_ne!(RegisterOutput::Read(Some(3)), RegisterOutput::<u8>::Read(None));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum RegisterOutput<V> {
    /// The value read: `None` if nothing was written yet.
    Read(Option<V>),
    /// The write is done.
    Write,
    /// Whether the compare-and-set found `from` and set `to`.
    Cas(bool),
}

/// A single register with read, write and compare-and-set. Its state is `Option<V>`: `None`
/// until the first write (unless it starts with a value).
///
/// An output of the wrong kind (a `Read` answered with `Write`) is never possible, so such a
/// history is not linearizable.
///
/// ```
/// use seedsim::check::{check, History, Register, RegisterInput as In, RegisterOutput as Out};
///
/// let mut history = History::new();
/// let cas = history.invoke(1, In::Cas { from: 0, to: 1 });
/// history.ok(cas, Out::Cas(true))?;
/// let read = history.invoke(1, In::Read);
/// history.ok(read, Out::Read(Some(1)))?;
/// assert!(check(&Register::starting_at(0), &history).is_linearizable());
/// assert!(!check(&Register::new(), &history).is_linearizable()); // empty: the cas must fail
/// # Ok::<(), seedsim::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Register<V> {
    initial: Option<V>,
}

impl<V> Default for Register<V> {
    fn default() -> Register<V> {
        Register::new()
    }
}

impl<V> Register<V> {
    /// A register that holds nothing until the first write: a read before it returns `None`.
    ///
    /// ```
    /// let register = seedsim::check::Register::<u64>::new();
    /// # let _ = register;
    /// ```
    pub fn new() -> Register<V> {
        Register { initial: None }
    }

    /// A register that starts with `value`.
    ///
    /// ```
    /// use seedsim::check::{Model, Register};
    /// assert_eq!(Register::starting_at(5u8).init(), Some(5));
    /// ```
    pub fn starting_at(value: V) -> Register<V> {
        Register { initial: Some(value) }
    }
}

/// The register transition shared by [`Register`] and each key of [`Kv`].
fn register_step<V: Clone + Eq>(
    state: &Option<V>,
    input: &RegisterInput<V>,
    output: Option<&RegisterOutput<V>>,
) -> Option<Option<V>> {
    match (input, output) {
        (RegisterInput::Read, None) => Some(state.clone()),
        (RegisterInput::Read, Some(RegisterOutput::Read(value))) => (value == state).then(|| state.clone()),
        (RegisterInput::Write(value), None | Some(RegisterOutput::Write)) => Some(Some(value.clone())),
        (RegisterInput::Cas { from, to }, None) => {
            Some(if state.as_ref() == Some(from) { Some(to.clone()) } else { state.clone() })
        }
        (RegisterInput::Cas { from, to }, Some(RegisterOutput::Cas(true))) => {
            (state.as_ref() == Some(from)).then(|| Some(to.clone()))
        }
        (RegisterInput::Cas { from, .. }, Some(RegisterOutput::Cas(false))) => {
            (state.as_ref() != Some(from)).then(|| state.clone())
        }
        _ => None, // an output of the wrong kind
    }
}

impl<V: Clone + Eq + Hash + fmt::Debug> Model for Register<V> {
    type State = Option<V>;
    type Input = RegisterInput<V>;
    type Output = RegisterOutput<V>;
    type Key = ();

    fn init(&self) -> Option<V> {
        self.initial.clone()
    }

    fn key(&self, _: &RegisterInput<V>) {}

    fn step(
        &self,
        state: &Option<V>,
        input: &RegisterInput<V>,
        output: Option<&RegisterOutput<V>>,
    ) -> Option<Option<V>> {
        register_step(state, input, output)
    }
}

/// What a client asks a [`Kv`] store.
///
/// ```
/// use seedsim::check::KvInput;
/// let put = KvInput::Put("k", 1);
/// assert_eq!(put.key(), &"k");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum KvInput<K, V> {
    /// Read a key's value.
    Get(K),
    /// Set a key's value.
    Put(K, V),
    /// Set a key's value to `to` if it is `from`.
    Cas {
        /// The key.
        key: K,
        /// The value expected.
        from: V,
        /// The value to set.
        to: V,
    },
}

impl<K, V> KvInput<K, V> {
    /// The key the operation is about.
    ///
    /// ```
    /// use seedsim::check::KvInput;
    /// assert_eq!(KvInput::<_, u8>::Get(3).key(), &3);
    /// ```
    pub fn key(&self) -> &K {
        match self {
            KvInput::Get(key) | KvInput::Put(key, _) | KvInput::Cas { key, .. } => key,
        }
    }
}

/// What a [`Kv`] operation returns.
///
/// ```
/// use seedsim::check::KvOutput;
/// let got: KvOutput<&str> = KvOutput::Get(None); // the key was never written
/// assert_ne!(got, KvOutput::Put);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum KvOutput<V> {
    /// The value read: `None` if the key was never written.
    Get(Option<V>),
    /// The put is done.
    Put,
    /// Whether the compare-and-set found `from` and set `to`.
    Cas(bool),
}

/// A key-value store with get, put and compare-and-set, where every key is an independent
/// register that starts empty. The checker splits a history by key and checks each key on
/// its own, which is what makes long histories over many keys cheap.
///
/// ```
/// use seedsim::check::{check, History, Kv, KvInput as In, KvOutput as Out};
///
/// let mut history = History::new();
/// let put = history.invoke(1, In::Put("x", 1));
/// history.ok(put, Out::Put)?;
/// let get = history.invoke(2, In::Get("y"));
/// history.ok(get, Out::Get(None))?; // another key: still empty
/// let get = history.invoke(2, In::Get("x"));
/// history.ok(get, Out::Get(None))?; // stale: x was written before this began
/// let verdict = check(&Kv::new(), &history);
/// assert!(verdict.violation().unwrap().to_string().contains("key \"x\""));
/// # Ok::<(), seedsim::Error>(())
/// ```
pub struct Kv<K, V> {
    _types: PhantomData<fn(K, V)>,
}

impl<K, V> fmt::Debug for Kv<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Kv")
    }
}

impl<K, V> Clone for Kv<K, V> {
    fn clone(&self) -> Kv<K, V> {
        Kv::new()
    }
}

impl<K, V> Default for Kv<K, V> {
    fn default() -> Kv<K, V> {
        Kv::new()
    }
}

impl<K, V> Kv<K, V> {
    /// A store whose keys all start empty.
    ///
    /// ```
    /// let kv = seedsim::check::Kv::<String, u64>::new();
    /// # let _ = kv;
    /// ```
    pub fn new() -> Kv<K, V> {
        Kv { _types: PhantomData }
    }
}

impl<K, V> Model for Kv<K, V>
where
    K: Ord + Clone + fmt::Debug,
    V: Clone + Eq + Hash + fmt::Debug,
{
    /// The value of the one key a part of the history is about.
    type State = Option<V>;
    type Input = KvInput<K, V>;
    type Output = KvOutput<V>;
    type Key = K;

    fn init(&self) -> Option<V> {
        None
    }

    fn key(&self, input: &KvInput<K, V>) -> K {
        input.key().clone()
    }

    fn step(&self, state: &Option<V>, input: &KvInput<K, V>, output: Option<&KvOutput<V>>) -> Option<Option<V>> {
        // Each key is a register (see `register_step`), with outputs of the wrong kind refused.
        match (input, output) {
            (KvInput::Get(_), None) => Some(state.clone()),
            (KvInput::Get(_), Some(KvOutput::Get(value))) => (value == state).then(|| state.clone()),
            (KvInput::Put(_, value), None | Some(KvOutput::Put)) => Some(Some(value.clone())),
            (KvInput::Cas { from, to, .. }, None) => {
                Some(if state.as_ref() == Some(from) { Some(to.clone()) } else { state.clone() })
            }
            (KvInput::Cas { from, to, .. }, Some(KvOutput::Cas(true))) => {
                (state.as_ref() == Some(from)).then(|| Some(to.clone()))
            }
            (KvInput::Cas { from, .. }, Some(KvOutput::Cas(false))) => {
                (state.as_ref() != Some(from)).then(|| state.clone())
            }
            _ => None,
        }
    }
}
