//! Partitions between sets of nodes, as objects: a `Cut` says nothing from one set of nodes
//! reaches another, and `Cuts` holds the active ones. Applying or repairing one costs the
//! size of its sets in bits, never the number of pairs it cuts, and it leaves no per-pair
//! state behind.
//!
//! The meaning is the per-pair count the network had before cuts existed: a directed pair is
//! blocked by as many partitions as cover it, and a repair takes one block off each pair it
//! names that has one (a pair with none stays open). Here a pair's count is the number of
//! cuts containing it (plus its own `Pair::blocked`, for partitions of single pairs), and a
//! repair removes the cut equal to it when there is one (each of its pairs then loses exactly
//! one block), or else carves the pairs it names out of the cuts that contain them, each pair
//! once. So overlapping partitions compose by count, as they always did, whichever form they
//! take. Nothing here iterates in an order the seed does not fix: cuts are a `Vec` in the
//! order they were made, sets are bitsets by node index.

use crate::node::NodeId;
use crate::trace::{mix, HASH_START};

/// A set of nodes as a bitset by node index. Trailing zero words are trimmed after every
/// operation, so two equal sets are equal structurally.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct NodeSet {
    words: Vec<u64>,
}

impl NodeSet {
    /// The set of these nodes (repeats are harmless).
    pub(crate) fn of(nodes: impl IntoIterator<Item = NodeId>) -> NodeSet {
        let mut set = NodeSet::default();
        for node in nodes {
            let (word, bit) = (node.index() / 64, node.index() % 64);
            if set.words.len() <= word {
                set.words.resize(word + 1, 0);
            }
            set.words[word] |= 1 << bit;
        }
        set
    }

    #[inline(always)]
    pub(crate) fn contains(&self, node: NodeId) -> bool {
        self.words.get(node.index() / 64).is_some_and(|word| word & (1 << (node.index() % 64)) != 0)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    pub(crate) fn len(&self) -> usize {
        self.words.iter().map(|word| word.count_ones() as usize).sum()
    }

    fn and(&self, other: &NodeSet) -> NodeSet {
        NodeSet::trimmed(self.words.iter().zip(&other.words).map(|(a, b)| a & b).collect())
    }

    fn minus(&self, other: &NodeSet) -> NodeSet {
        let none = std::iter::repeat(&0);
        NodeSet::trimmed(self.words.iter().zip(other.words.iter().chain(none)).map(|(a, b)| a & !b).collect())
    }

    fn trimmed(mut words: Vec<u64>) -> NodeSet {
        while words.last() == Some(&0) {
            words.pop();
        }
        NodeSet { words }
    }
}

/// Nothing sent from a node of `from` to a node of `to` gets through, except a node's
/// datagrams to itself (a node in both sets still reaches itself).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Cut {
    pub(crate) from: NodeSet,
    pub(crate) to: NodeSet,
}

impl Cut {
    #[inline(always)]
    pub(crate) fn contains(&self, from: NodeId, to: NodeId) -> bool {
        from != to && self.from.contains(from) && self.to.contains(to)
    }

    /// A digest of both sets' members for the trace: the trace hash's own fold over the
    /// words of each set, each set ended by its length.
    pub(crate) fn digest(&self) -> u64 {
        let fold = |hash, set: &NodeSet| {
            let hash = set.words.iter().fold(hash, |hash, &word| mix(hash, word));
            mix(hash, set.words.len() as u64)
        };
        fold(fold(HASH_START, &self.from), &self.to)
    }

    /// True if it holds no pair of two different nodes.
    pub(crate) fn is_empty(&self) -> bool {
        self.from.is_empty() || self.to.is_empty() || (self.from == self.to && self.from.len() == 1)
    }

    fn meet(&self, other: &Cut) -> Cut {
        Cut { from: self.from.and(&other.from), to: self.to.and(&other.to) }
    }

    /// `self` without `part`, which lies inside it, as at most two disjoint cuts: the pairs
    /// whose sender is not in `part`, and those whose sender is but whose receiver is not.
    fn without(self, part: &Cut) -> impl Iterator<Item = Cut> + use<> {
        let Cut { from, to } = self;
        let outside = Cut { from: from.minus(&part.from), to: to.clone() };
        let inside = Cut { from: part.from.clone(), to: to.minus(&part.to) };
        [outside, inside].into_iter().filter(|cut| !cut.is_empty())
    }
}

/// The active cuts. Each counts once; the same cut made twice is there twice.
#[derive(Default)]
pub(crate) struct Cuts {
    cuts: Vec<Cut>,
}

impl Cuts {
    pub(crate) fn is_empty(&self) -> bool {
        self.cuts.is_empty()
    }

    pub(crate) fn len(&self) -> usize {
        self.cuts.len()
    }

    /// True if an active cut blocks `from` to `to`. One bit test per active cut: there are
    /// few at a time (each is a fault in force).
    #[inline]
    pub(crate) fn separates(&self, from: NodeId, to: NodeId) -> bool {
        self.cuts.iter().any(|cut| cut.contains(from, to))
    }

    pub(crate) fn add(&mut self, cut: Cut) {
        if !cut.is_empty() {
            self.cuts.push(cut);
        }
    }

    /// Take one block off every pair of `repair` that a cut covers, each pair once. A cut
    /// equal to `repair` (the latest, if several) simply goes; otherwise the pairs are carved
    /// out of the cuts that hold them, latest first, which may leave a cut in up to two
    /// pieces. Returns what is left of `repair`: the pairs no cut covered, for the per-pair
    /// counts to answer.
    pub(crate) fn repair(&mut self, repair: Cut) -> Vec<Cut> {
        if repair.is_empty() {
            return Vec::new();
        }
        if let Some(i) = self.cuts.iter().rposition(|cut| *cut == repair) {
            self.cuts.remove(i);
            return Vec::new();
        }
        let mut todo = vec![repair];
        for i in (0..self.cuts.len()).rev() {
            if todo.is_empty() {
                break;
            }
            let mut pieces = vec![self.cuts[i].clone()];
            let mut untouched = Vec::new();
            while let Some(part) = todo.pop() {
                let hit = pieces.iter().position(|piece| !piece.meet(&part).is_empty());
                let Some(j) = hit else {
                    untouched.push(part);
                    continue;
                };
                let piece = pieces.swap_remove(j);
                let common = piece.meet(&part);
                pieces.extend(piece.without(&common));
                todo.extend(part.without(&common));
            }
            todo = untouched;
            self.cuts.splice(i..=i, pieces);
        }
        todo
    }

    pub(crate) fn clear(&mut self) {
        self.cuts.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(ids: &[u32]) -> NodeSet {
        NodeSet::of(ids.iter().map(|&i| NodeId(i)))
    }

    fn cut(from: &[u32], to: &[u32]) -> Cut {
        Cut { from: set(from), to: set(to) }
    }

    /// How many cuts block each directed pair of `n` nodes.
    fn counts(cuts: &Cuts, n: u32) -> Vec<usize> {
        let mut out = Vec::new();
        for a in 0..n {
            for b in 0..n {
                out.push(cuts.cuts.iter().filter(|c| c.contains(NodeId(a), NodeId(b))).count());
            }
        }
        out
    }

    #[test]
    fn sets_are_trimmed_and_compare_by_members() {
        let a = set(&[1, 70]);
        assert_eq!(a.minus(&set(&[70])), set(&[1]));
        assert_eq!(a.and(&set(&[1, 2])), set(&[1]));
        assert!(a.minus(&a).is_empty());
        assert_eq!(a.len(), 2);
        assert!(!a.contains(NodeId(500)));
    }

    #[test]
    fn an_equal_repair_removes_the_latest_equal_cut() {
        let mut cuts = Cuts::default();
        cuts.add(cut(&[0, 1], &[2, 3]));
        cuts.add(cut(&[0], &[3]));
        cuts.add(cut(&[0, 1], &[2, 3]));
        assert!(cuts.repair(cut(&[0, 1], &[2, 3])).is_empty());
        assert_eq!(cuts.cuts, vec![cut(&[0, 1], &[2, 3]), cut(&[0], &[3])]);
    }

    /// Against the per-pair model (each pair's count, a repair taking one off each pair it
    /// names that has one), on overlapping cuts and repairs of every shape over 6 nodes.
    #[test]
    fn repairs_match_per_pair_counts() {
        let n = 6u32;
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..2_000 {
            let mut cuts = Cuts::default();
            let mut model = vec![0usize; (n * n) as usize];
            for _ in 0..8 {
                let (from, to) = (next() & 0x3f, next() & 0x3f);
                let ids = |bits: u64| (0..n).filter(move |i| bits & (1 << i) != 0).collect::<Vec<u32>>();
                let c = cut(&ids(from), &ids(to));
                let pairs: Vec<usize> = (0..n)
                    .flat_map(|a| (0..n).map(move |b| (a, b)))
                    .filter(|&(a, b)| c.contains(NodeId(a), NodeId(b)))
                    .map(|(a, b)| (a * n + b) as usize)
                    .collect();
                if next() % 3 == 0 {
                    let left = cuts.repair(c.clone());
                    for &p in &pairs {
                        let covered = model[p] > 0;
                        model[p] = model[p].saturating_sub(1);
                        // What is left is exactly the pairs nothing covered.
                        let (a, b) = ((p as u32) / n, (p as u32) % n);
                        assert_eq!(left.iter().any(|l| l.contains(NodeId(a), NodeId(b))), !covered);
                    }
                } else {
                    cuts.add(c);
                    for &p in &pairs {
                        model[p] += 1;
                    }
                }
                assert_eq!(counts(&cuts, n), model);
            }
        }
    }
}
