//! Exact counts of distinct byte strings, the state of `string_stats`.
//!
//! [`ValueCounts`] is one hash table of slots into one byte arena: no
//! allocation per distinct value, and each slot keeps its value's hash, so
//! growing the table never reads the arena (a cache miss per value on a
//! high-cardinality column).
//!
//! [`ShardedCounts`] merges many partial states at once, in parallel: every
//! value goes to the shard its hash picks, one thread builds each shard,
//! and the shards, being disjoint, need no merge afterwards (uniques add
//! up, the top values are the top of the shards' tops). The final merge of
//! a high-cardinality column is otherwise one thread re-inserting every
//! partition's distinct values while the other cores wait.

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

    fn add_hashed(&mut self, hash: u64, value: &[u8], count: u64) {
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

    /// Distinct values.
    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// Every distinct value with its count, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], u64)> + '_ {
        self.table
            .iter()
            .map(|s| (&self.arena[s.start..s.start + s.len], s.count))
    }

    /// Bytes held.
    pub fn size(&self) -> usize {
        self.arena.capacity() + self.table.capacity() * (std::mem::size_of::<Slot>() + 1)
    }
}

/// A source of `(value, count)` pairs for [`ShardedCounts::build`].
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
}

impl ShardedCounts {
    /// Counts of every pair of `sources`, built by `threads` threads (one
    /// shard each; one thread does all when the sources are small).
    pub fn build(sources: &[&dyn CountSource], threads: usize) -> Self {
        let total: usize = sources.iter().map(|s| s.len()).sum();
        let n = if total < 100_000 { 1 } else { threads.max(1) };
        let hasher = DefaultHashBuilder::default();
        let shard_of = move |hash: u64| ((hash >> 32) % n as u64) as usize;
        let build = |shard: usize| {
            let mut counts = ValueCounts::with_hasher(hasher.clone());
            counts.table.reserve(total / n, |s| s.hash);
            for src in sources {
                for i in 0..src.len() {
                    let (value, count) = src.get(i);
                    let hash = counts.hasher.hash_one(value);
                    if shard_of(hash) == shard {
                        counts.add_hashed(hash, value, count);
                    }
                }
            }
            counts
        };
        let shards = if n == 1 {
            vec![build(0)]
        } else {
            std::thread::scope(|scope| {
                let handles: Vec<_> = (0..n).map(|s| scope.spawn(move || build(s))).collect();
                handles
                    .into_iter()
                    .map(|h| h.join().expect("a shard's merge panicked"))
                    .collect()
            })
        };
        Self { shards }
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
            let s = ShardedCounts::build(&[&a, &b], threads);
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
