//! Exact counts of distinct byte strings: the state of `string_stats`, and
//! the map of `string_stats_approx`'s frequent-items sketch.
//!
//! [`ValueCounts`] is one hash table of slots into one byte arena: no
//! allocation per distinct value, and each slot keeps its value's hash, so
//! growing the table never reads the arena (a cache miss per value on a
//! high-cardinality column).
//!
//! [`ShardedCounts`] merges partial states in parallel as they arrive:
//! every value goes to the shard its hash picks, one thread fills each
//! shard, and the shards, being disjoint, need no merge afterwards (uniques
//! add up, the top values are the top of the shards' tops). The final
//! merge of a high-cardinality column is otherwise one thread re-inserting
//! every partition's distinct values (on a cluster, while the other cores
//! wait).

use std::hash::BuildHasher;

use hashbrown::{DefaultHashBuilder, HashTable};

/// One distinct value: its hash, its bytes in the arena, and its count.
#[derive(Debug, Clone, Copy)]
struct Slot {
    hash: u64,
    start: usize,
    len: usize,
    count: u64,
}

/// Exact value counts: a hash table of slots into one byte arena.
#[derive(Debug, Default)]
pub struct ValueCounts {
    table: HashTable<Slot>,
    arena: Vec<u8>,
    hasher: DefaultHashBuilder,
}

impl ValueCounts {
    fn with_hasher(hasher: DefaultHashBuilder) -> Self {
        Self {
            table: HashTable::new(),
            arena: Vec::new(),
            hasher,
        }
    }

    /// Adds `count` occurrences of `value`.
    pub fn add(&mut self, value: &[u8], count: u64) {
        let hash = self.hasher.hash_one(value);
        self.add_hashed(hash, value, count);
    }

    /// Adds `count` occurrences of `value`, whose hash is `hash`. A table
    /// must see one hash function for all its values.
    pub(super) fn add_hashed(&mut self, hash: u64, value: &[u8], count: u64) {
        let (table, arena) = (&mut self.table, &mut self.arena);
        let eq = |s: &Slot| s.hash == hash && &arena[s.start..s.start + s.len] == value;
        if let Some(slot) = table.find_mut(hash, eq) {
            slot.count += count;
            return;
        }
        let slot = Slot {
            hash,
            start: arena.len(),
            len: value.len(),
            count,
        };
        arena.extend_from_slice(value);
        table.insert_unique(hash, slot, |s| s.hash);
    }

    /// Keeps the values counted more than `by` times, each count less `by`,
    /// in a new table of the same capacity (it fills up again before the
    /// next purge, so it should not grow on the way) and a compacted arena
    /// (the frequent-items purge).
    pub fn purge(&mut self, by: u64) {
        let mut kept = Self::with_hasher(self.hasher.clone());
        kept.table.reserve(self.table.capacity(), |s| s.hash);
        kept.arena.reserve(self.arena.len());
        for s in self.table.iter().filter(|s| s.count > by) {
            let value = &self.arena[s.start..s.start + s.len];
            kept.add_hashed(s.hash, value, s.count - by);
        }
        *self = kept;
    }

    /// Forgets every value, keeping the table's and the arena's capacity.
    pub fn clear(&mut self) {
        self.table.clear();
        self.arena.clear();
    }

    /// Distinct values.
    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// True when no value is counted.
    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    /// Every distinct value with its count, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], u64)> + '_ {
        self.table
            .iter()
            .map(|s| (&self.arena[s.start..s.start + s.len], s.count))
    }

    /// Bytes of the distinct values counted.
    pub fn value_bytes(&self) -> usize {
        self.arena.len()
    }

    /// Bytes held.
    pub fn size(&self) -> usize {
        self.arena.capacity() + self.table.capacity() * (std::mem::size_of::<Slot>() + 1)
    }
}

/// TFDV's rank order: frequency descending, then value descending.
pub fn by_rank(a: &(&[u8], u64), b: &(&[u8], u64)) -> std::cmp::Ordering {
    b.1.cmp(&a.1).then_with(|| b.0.cmp(a.0))
}

/// The first `limit` of `items` in rank order. The `limit`-th largest
/// count is selected first among the counts alone (no byte comparisons), so
/// only values at least that frequent are ranked by their bytes.
pub fn top_of(items: Vec<(&[u8], u64)>, limit: usize) -> Vec<(&[u8], u64)> {
    if limit == 0 {
        return Vec::new();
    }
    let mut v = if limit < items.len() {
        let mut counts: Vec<u64> = items.iter().map(|(_, c)| *c).collect();
        let (_, &mut least, _) = counts.select_nth_unstable_by(limit - 1, |a, b| b.cmp(a));
        items.into_iter().filter(|(_, c)| *c >= least).collect()
    } else {
        items
    };
    if limit < v.len() {
        v.select_nth_unstable_by(limit - 1, by_rank);
        v.truncate(limit);
    }
    v.sort_unstable_by(by_rank);
    v
}

/// A source of `(value, count)` pairs for [`ShardedCounts::add`].
pub trait CountSource: Sync {
    /// Pairs in the source.
    fn len(&self) -> usize;
    /// Pair `i`.
    fn get(&self, i: usize) -> (&[u8], u64);
}

/// Exact counts split into disjoint shards by hash.
#[derive(Debug)]
pub struct ShardedCounts {
    shards: Vec<ValueCounts>,
    hasher: DefaultHashBuilder,
}

/// Below this many pairs, [`ShardedCounts::add`] runs on the caller's
/// thread (one pass placing each pair in its shard).
const PARALLEL_MIN: usize = 100_000;

impl ShardedCounts {
    /// Empty counts in `shards` shards (one thread each when adding).
    pub fn new(shards: usize) -> Self {
        let hasher = DefaultHashBuilder::default();
        Self {
            shards: (0..shards.max(1))
                .map(|_| ValueCounts::with_hasher(hasher.clone()))
                .collect(),
            hasher,
        }
    }

    fn shard_of(hash: u64, n: usize) -> usize {
        ((hash >> 32) % n as u64) as usize
    }

    /// Adds every pair of `sources`: large inputs with one thread per shard
    /// (each scans every pair and keeps its own), small ones on this thread.
    pub fn add(&mut self, sources: &[&dyn CountSource]) {
        let total: usize = sources.iter().map(|s| s.len()).sum();
        let n = self.shards.len();
        if n == 1 || total < PARALLEL_MIN {
            for src in sources {
                for i in 0..src.len() {
                    let (value, count) = src.get(i);
                    let hash = self.hasher.hash_one(value);
                    self.shards[Self::shard_of(hash, n)].add_hashed(hash, value, count);
                }
            }
            return;
        }
        std::thread::scope(|scope| {
            for (s, shard) in self.shards.iter_mut().enumerate() {
                scope.spawn(move || {
                    for src in sources {
                        for i in 0..src.len() {
                            let (value, count) = src.get(i);
                            let hash = shard.hasher.hash_one(value);
                            if Self::shard_of(hash, n) == s {
                                shard.add_hashed(hash, value, count);
                            }
                        }
                    }
                });
            }
        });
    }

    /// The shards.
    pub fn shards(&self) -> &[ValueCounts] {
        &self.shards
    }

    /// Bytes held.
    pub fn size(&self) -> usize {
        self.shards.iter().map(ValueCounts::size).sum()
    }
}

/// A [`CountSource`] over collected pairs.
pub struct CountsList<'a>(pub Vec<(&'a [u8], u64)>);

impl CountSource for CountsList<'_> {
    fn len(&self) -> usize {
        self.0.len()
    }
    fn get(&self, i: usize) -> (&[u8], u64) {
        self.0[i]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_hold_each_value_once_with_its_total_count() {
        let values: Vec<Vec<u8>> = (0..150_000u64)
            .map(|i| format!("v{}", (i * 7919) % 60_013).into_bytes())
            .collect();
        let (a, b) = values.split_at(70_000);
        let a = CountsList(a.iter().map(|v| (v.as_slice(), 1)).collect());
        let b = CountsList(b.iter().map(|v| (v.as_slice(), 2)).collect());
        let mut naive = std::collections::HashMap::<&[u8], u64>::new();
        for (v, c) in a.0.iter().chain(&b.0) {
            *naive.entry(v).or_default() += c;
        }
        for threads in [1, 3] {
            let mut s = ShardedCounts::new(threads);
            s.add(&[&a]);
            s.add(&[&b]);
            assert_eq!(s.shards().len(), threads);
            assert_eq!(
                s.shards().iter().map(ValueCounts::len).sum::<usize>(),
                naive.len()
            );
            let got: std::collections::HashMap<&[u8], u64> =
                s.shards().iter().flat_map(|sh| sh.iter()).collect();
            assert_eq!(got, naive);
        }
    }
}
