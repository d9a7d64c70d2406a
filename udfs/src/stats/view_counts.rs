//! Per-batch counts of a string or binary *view* column (`Utf8View`,
//! `BinaryView`: what DataFusion's Parquet reader gives for strings) keyed
//! by the 16-byte views themselves, never reading the values' bytes.
//!
//! Equal views hold equal values: a view is the length and the whole value
//! (up to 12 bytes) or the length, a prefix and where the bytes lie. A
//! column decoded from a Parquet dictionary points every occurrence of a
//! value at the same bytes, so its distinct views are its distinct values,
//! and a low-cardinality column is reported once per distinct value of the
//! batch instead of once per example. Equal values at different places are
//! different views and are reported separately, which callers that sum
//! counts accept. A batch with more than [`VIEW_DISTINCT`] distinct views is
//! reported one value at a time, in order, as if it were not counted (so
//! order-sensitive sketches see a high-cardinality column's values as they
//! come, whatever its layout); it costs a few hundred table probes first.

use datafusion::arrow::buffer::NullBuffer;

/// Distinct views counted per batch, at most.
pub const VIEW_DISTINCT: usize = 256;
/// Slots of the table: twice the views it holds.
const SLOTS: usize = 2 * VIEW_DISTINCT;

/// Calls `f(index, count)` for the views of a batch: when it has at most
/// [`VIEW_DISTINCT`] distinct views, once per view with the index of its
/// first occurrence and how many non-null values share it; otherwise once
/// per non-null value, in order, with a count of 1.
pub fn each_view_counted(
    views: &[u128],
    nulls: Option<&NullBuffer>,
    mut f: impl FnMut(usize, u64),
) {
    let valid = |i: usize| !nulls.is_some_and(|n| n.is_null(i));
    let mut keys = vec![0u128; SLOTS];
    let mut counts = vec![0u64; SLOTS];
    let mut first = vec![0u32; SLOTS];
    let mut distinct = 0usize;
    let mask = SLOTS - 1;
    let shift = 64 - SLOTS.trailing_zeros();
    for (i, &view) in views.iter().enumerate() {
        if !valid(i) {
            continue;
        }
        let mixed = (view as u64) ^ ((view >> 64) as u64).wrapping_mul(0xC2B2_AE3D_27D4_EB4F);
        let mut at = (mixed.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> shift) as usize;
        loop {
            if counts[at] == 0 {
                if distinct == VIEW_DISTINCT {
                    (0..views.len()).filter(|&i| valid(i)).for_each(|i| f(i, 1));
                    return;
                }
                keys[at] = view;
                counts[at] = 1;
                first[at] = i as u32;
                distinct += 1;
                break;
            }
            if keys[at] == view {
                counts[at] += 1;
                break;
            }
            at = (at + 1) & mask;
        }
    }
    for (&c, &i) in counts.iter().zip(&first) {
        if c > 0 {
            f(i as usize, c);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Array, StringViewArray, StringViewBuilder};
    use std::collections::BTreeMap;

    fn counted(a: &StringViewArray) -> (BTreeMap<String, u64>, usize) {
        let mut sums = BTreeMap::new();
        let mut calls = 0;
        each_view_counted(a.views(), a.nulls(), |i, n| {
            *sums.entry(a.value(i).to_string()).or_default() += n;
            calls += 1;
        });
        (sums, calls)
    }

    #[test]
    fn few_values_are_reported_once_each_and_many_one_at_a_time() {
        let long = "a value longer than twelve bytes";
        let value = |i: usize| match i % 4 {
            0 => None,
            1 => Some("x"),
            2 => Some(""),
            _ => Some(long),
        };
        // As a dictionary decode lays them out: each long value's bytes once.
        let mut b = StringViewBuilder::new().with_deduplicate_strings();
        (0..1000).for_each(|i| b.append_option(value(i)));
        let a = b.finish();
        let (sums, calls) = counted(&a);
        assert_eq!(calls, 3, "one call per distinct view");
        assert_eq!(sums.values().sum::<u64>(), 750, "nulls skipped");
        assert_eq!(sums[long], 250);
        assert_eq!(sums[""], 250);
        // Each long value's bytes copied apart: distinct views, same sums.
        let apart: StringViewArray = (0..1000).map(value).collect();
        let (apart_sums, calls) = counted(&apart);
        assert_eq!(apart_sums, sums);
        assert!(calls > 200, "{calls}");

        let many: StringViewArray = (0..3 * VIEW_DISTINCT)
            .map(|i| Some(format!("value {}", i % (2 * VIEW_DISTINCT))))
            .collect();
        let mut order = Vec::new();
        each_view_counted(many.views(), many.nulls(), |i, n| order.push((i, n)));
        let expected: Vec<(usize, u64)> = (0..3 * VIEW_DISTINCT).map(|i| (i, 1)).collect();
        assert_eq!(
            order, expected,
            "too many distinct views: every value in order"
        );
    }
}
