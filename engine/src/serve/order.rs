//! The global order of an epoch and each rank's share of it: plain
//! arithmetic, no I/O.
//!
//! A split is a list of *blocks* (runs of consecutive records of one file,
//! at most [`BLOCK_ROWS`](super::BLOCK_ROWS) each). With `shuffle`, the
//! blocks are permuted by a generator seeded from `(seed, epoch)`, cut into
//! *windows* of `window_blocks` consecutive permuted blocks, and the
//! records inside each window are permuted by a generator seeded from
//! `(seed, epoch, window)`. The global order is the windows' records one
//! after the other. It depends only on the block sizes (the dataset's
//! contents), the seed and the epoch: never on the world size, timing or
//! cores. Without `shuffle` the global order is the input order.
//!
//! Global batch `g` is records `[g·B, (g+1)·B)` of the global order.
//! Rank `r` of `W` takes global batches `base + r, base + r + W, …`, where
//! `base` is 0 for a fresh epoch and moves forward on an elastic resume.

use std::ops::Range;

/// SplitMix64 (Steele, Lea, Flood 2014): a fixed, documented generator, so
/// an order never changes with a dependency's version.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator seeded by `parts` (mixed one after another).
    pub fn new(parts: &[u64]) -> Self {
        let mut state = 0x5157_4549_525f_5345u64; // "WEIR_SE"
        for p in parts {
            state = Self(state ^ p).next_u64();
        }
        Self(state)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (Lemire's multiply-shift; `n` > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }

    /// Fisher–Yates shuffle in place.
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            items.swap(i, j);
        }
    }
}

/// Domain tags so block and window generators never share a stream.
const BLOCKS: u64 = 1;
const WINDOW: u64 = 2;

/// One window of the global order: which blocks (in order) and where its
/// records start in the global order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    /// Block indices, in the order their records are concatenated.
    pub blocks: Vec<usize>,
    /// Global position of the window's first record.
    pub start: u64,
    /// Records in the window.
    pub rows: u64,
}

/// The global order of one epoch of a split.
#[derive(Debug, Clone)]
pub struct EpochOrder {
    windows: Vec<Window>,
    shuffle: bool,
    seed: u64,
    epoch: u64,
    total: u64,
}

impl EpochOrder {
    /// The order of blocks of `block_rows` records for `(seed, epoch)`.
    pub fn new(
        block_rows: &[u64],
        shuffle: bool,
        seed: u64,
        epoch: u64,
        window_blocks: usize,
    ) -> Self {
        let mut order: Vec<usize> = (0..block_rows.len()).collect();
        let per_window = if shuffle { window_blocks.max(1) } else { 1 };
        if shuffle {
            SplitMix64::new(&[BLOCKS, seed, epoch]).shuffle(&mut order);
        }
        let mut windows = Vec::with_capacity(order.len() / per_window + 1);
        let mut start = 0u64;
        for chunk in order.chunks(per_window) {
            let rows: u64 = chunk.iter().map(|&b| block_rows[b]).sum();
            windows.push(Window {
                blocks: chunk.to_vec(),
                start,
                rows,
            });
            start += rows;
        }
        Self {
            windows,
            shuffle,
            seed,
            epoch,
            total: start,
        }
    }

    /// Records in the split.
    pub fn total_rows(&self) -> u64 {
        self.total
    }

    /// The windows in global order.
    pub fn windows(&self) -> &[Window] {
        &self.windows
    }

    /// The window that holds global position `row` (< total).
    pub fn window_of(&self, row: u64) -> usize {
        self.windows
            .partition_point(|w| w.start + w.rows <= row)
            .min(self.windows.len().saturating_sub(1))
    }

    /// The order of window `w`'s concatenated records: position `i` of the
    /// window holds record `permutation[i]` of the concatenation (identity
    /// without shuffle).
    pub fn permutation(&self, w: usize) -> Vec<u32> {
        let rows = self.windows[w].rows as u32;
        let mut p: Vec<u32> = (0..rows).collect();
        if self.shuffle {
            SplitMix64::new(&[WINDOW, self.seed, self.epoch, w as u64]).shuffle(&mut p);
        }
        p
    }
}

/// One rank's share of an epoch from global batch `base` on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RankShare {
    /// Records in the split.
    pub total_rows: u64,
    /// Records per batch.
    pub batch_size: u64,
    /// Ranks.
    pub world_size: u64,
    /// This rank (0-based).
    pub rank: u64,
    /// The global batch where this world size took over (0 for a fresh epoch).
    pub base: u64,
    /// Whether a last incomplete round of batches is held back, so every
    /// rank gets the same number of full batches.
    pub drop_last: bool,
}

impl RankShare {
    fn remaining(&self) -> u64 {
        self.total_rows
            .saturating_sub(self.base.saturating_mul(self.batch_size))
    }

    /// Global batches from `base` to the end of the epoch.
    pub fn global_batches(&self) -> u64 {
        let rest = self.remaining();
        if self.drop_last {
            rest / (self.world_size * self.batch_size) * self.world_size
        } else {
            rest.div_ceil(self.batch_size)
        }
    }

    /// Records no rank gets (the held-back tail with `drop_last`).
    pub fn held_back(&self) -> u64 {
        let rest = self.remaining();
        if self.drop_last {
            rest - self.global_batches() * self.batch_size
        } else {
            0
        }
    }

    /// Records all ranks get together.
    pub fn delivered(&self) -> u64 {
        self.remaining() - self.held_back()
    }

    /// Batches this rank gets.
    pub fn batches(&self) -> u64 {
        let g = self.global_batches();
        if g > self.rank {
            (g - self.rank).div_ceil(self.world_size)
        } else {
            0
        }
    }

    /// Batches this rank gets from its `next`-th on.
    pub fn batches_from(&self, next: u64) -> u64 {
        self.batches().saturating_sub(next)
    }

    /// Records this rank gets from its `next`-th batch on.
    pub fn rows_from(&self, next: u64) -> u64 {
        (next..self.batches())
            .map(|k| {
                let r = self.batch_rows(k);
                r.end - r.start
            })
            .sum()
    }

    /// The global batch index of this rank's `k`-th batch.
    pub fn global_batch(&self, k: u64) -> u64 {
        self.base + self.rank + k * self.world_size
    }

    /// Global positions of this rank's `k`-th batch (`k` < `batches()`).
    pub fn batch_rows(&self, k: u64) -> Range<u64> {
        let start = self.global_batch(k) * self.batch_size;
        start..(start + self.batch_size).min(self.total_rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn global(order: &EpochOrder, block_rows: &[u64]) -> Vec<u64> {
        let starts: Vec<u64> = block_rows
            .iter()
            .scan(0, |s, &r| {
                let v = *s;
                *s += r;
                Some(v)
            })
            .collect();
        let mut out = Vec::new();
        for (w, win) in order.windows().iter().enumerate() {
            let concat: Vec<u64> = win
                .blocks
                .iter()
                .flat_map(|&b| starts[b]..starts[b] + block_rows[b])
                .collect();
            out.extend(order.permutation(w).iter().map(|&i| concat[i as usize]));
        }
        out
    }

    #[test]
    fn every_record_once_in_every_order() {
        let blocks = [5, 7, 1, 9, 3, 8, 8, 2];
        for shuffle in [false, true] {
            let o = EpochOrder::new(&blocks, shuffle, 7, 3, 3);
            let mut g = global(&o, &blocks);
            assert_eq!(g.len(), 43);
            g.sort();
            assert_eq!(g, (0..43).collect::<Vec<_>>());
        }
    }

    #[test]
    fn order_depends_on_seed_and_epoch_only() {
        let blocks = [100, 100, 50, 100];
        let a = global(&EpochOrder::new(&blocks, true, 1, 1, 2), &blocks);
        let b = global(&EpochOrder::new(&blocks, true, 1, 1, 2), &blocks);
        let c = global(&EpochOrder::new(&blocks, true, 1, 2, 2), &blocks);
        let d = global(&EpochOrder::new(&blocks, true, 2, 1, 2), &blocks);
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_ne!(a, d);
        let plain = global(&EpochOrder::new(&blocks, false, 1, 1, 2), &blocks);
        assert_eq!(plain, (0..350).collect::<Vec<_>>());
    }

    #[test]
    fn ranks_cover_the_epoch_exactly_once() {
        for total in [0u64, 1, 9, 10, 11, 97, 100] {
            for world in 1..=4 {
                for drop_last in [false, true] {
                    let mut seen = Vec::new();
                    let mut counts = Vec::new();
                    for rank in 0..world {
                        let s = RankShare {
                            total_rows: total,
                            batch_size: 5,
                            world_size: world,
                            rank,
                            base: 0,
                            drop_last,
                        };
                        counts.push(s.batches());
                        for k in 0..s.batches() {
                            seen.extend(s.batch_rows(k));
                        }
                    }
                    seen.sort();
                    let s0 = RankShare {
                        total_rows: total,
                        batch_size: 5,
                        world_size: world,
                        rank: 0,
                        base: 0,
                        drop_last,
                    };
                    assert_eq!(seen, (0..s0.delivered()).collect::<Vec<_>>());
                    assert!(s0.held_back() < world * 5);
                    if drop_last {
                        assert!(counts.iter().all(|&c| c == counts[0]));
                    }
                }
            }
        }
    }

    #[test]
    fn elastic_base_continues_the_same_global_batches() {
        // 4 ranks each took 3 batches: 12 global batches done; 2 ranks go on.
        let total = 200;
        let mut seen: Vec<u64> = Vec::new();
        for rank in 0..4 {
            let s = RankShare {
                total_rows: total,
                batch_size: 5,
                world_size: 4,
                rank,
                base: 0,
                drop_last: false,
            };
            for k in 0..3 {
                seen.extend(s.batch_rows(k));
            }
        }
        for rank in 0..2 {
            let s = RankShare {
                total_rows: total,
                batch_size: 5,
                world_size: 2,
                rank,
                base: 12,
                drop_last: false,
            };
            for k in 0..s.batches() {
                seen.extend(s.batch_rows(k));
            }
        }
        seen.sort();
        assert_eq!(seen, (0..total).collect::<Vec<_>>());
    }
}
