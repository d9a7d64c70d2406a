//! A column-wise `tf.train.Example` encoder.
//!
//! Each column is canonicalised once, the serialized size of its feature is
//! computed for every row, and then entries are written column by column
//! (columns in key order) straight into one Arrow `BinaryArray` buffer. The
//! bytes equal TensorFlow's deterministic serialization: map entries sorted by
//! key, packed numeric lists, and a missing value as an entry whose `Feature`
//! is empty.

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BinaryArray, Float32Array, Int64Array, ListArray,
};
use datafusion::arrow::buffer::{Buffer, OffsetBuffer, ScalarBuffer};
use datafusion::arrow::datatypes::{Float32Type, Int64Type, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;

use super::kind::{canonical_column, ArrowFeatureType, FeatureType};

/// Serialized examples of one batch, plus the serialized `Feature` of the
/// partition feature per row when one was asked for.
#[derive(Debug, Clone)]
pub struct EncodedBatch {
    /// One serialized `tf.train.Example` per row.
    pub examples: BinaryArray,
    /// Per row, `(start, len)` of the partition feature's serialized
    /// `Feature` inside that row's example bytes.
    pub partition_spans: Option<Vec<(u32, u32)>>,
}

/// Encodes record batches of a fixed schema into serialized tf.Examples.
#[derive(Debug, Clone)]
pub struct ExampleEncoder {
    /// Column indices in key (byte-wise name) order.
    order: Vec<usize>,
    names: Vec<Vec<u8>>,
    partition: Option<usize>,
}

enum Values<'a> {
    Missing,
    Int(&'a Int64Array),
    Float(&'a Float32Array),
    Bytes(&'a BinaryArray),
    IntList(&'a ListArray, &'a [i64]),
    FloatList(&'a ListArray, &'a [f32]),
    BytesList(&'a ListArray, &'a BinaryArray),
}

#[inline]
fn varint_len(v: u64) -> usize {
    // 1 byte per started group of 7 bits, at least 1.
    (64 - (v | 1).leading_zeros() as usize).div_ceil(7)
}

#[inline]
fn put_varint(buf: &mut [u8], mut pos: usize, mut v: u64) -> usize {
    while v >= 0x80 {
        buf[pos] = (v as u8) | 0x80;
        v >>= 7;
        pos += 1;
    }
    buf[pos] = v as u8;
    pos + 1
}

/// Length of a length-delimited field (tag + length + payload).
#[inline]
fn field_len(payload: usize) -> usize {
    1 + varint_len(payload as u64) + payload
}

impl ExampleEncoder {
    /// An encoder for batches of `schema`. `partition_feature` names the
    /// feature whose serialized `Feature` is reported per row.
    pub fn new(schema: &SchemaRef, partition_feature: Option<&str>) -> Result<Self, String> {
        let mut order: Vec<usize> = (0..schema.fields().len()).collect();
        order.sort_by(|&a, &b| {
            schema
                .field(a)
                .name()
                .as_bytes()
                .cmp(schema.field(b).name().as_bytes())
        });
        for w in order.windows(2) {
            if schema.field(w[0]).name() == schema.field(w[1]).name() {
                return Err(format!(
                    "duplicate column name '{}'",
                    schema.field(w[0]).name()
                ));
            }
        }
        let partition = match partition_feature {
            None => None,
            Some(name) => {
                let idx = schema.index_of(name).map_err(|_| {
                    format!("partition feature '{name}' is not a column of the input")
                })?;
                match FeatureType::of_column(schema.field(idx).data_type()) {
                    Some((FeatureType::Int | FeatureType::Bytes, _)) => Some(idx),
                    _ => {
                        return Err(format!(
                            "partition feature '{name}' has type {}; only int64 and bytes features can be hashed for partitioning",
                            schema.field(idx).data_type()
                        ))
                    }
                }
            }
        };
        let names = schema
            .fields()
            .iter()
            .map(|f| f.name().as_bytes().to_vec())
            .collect();
        Ok(Self {
            order,
            names,
            partition,
        })
    }

    /// Encodes every row of `batch`.
    pub fn encode(&self, batch: &RecordBatch) -> Result<EncodedBatch, String> {
        let rows = batch.num_rows();
        let mut canon: Vec<(FeatureType, ArrayRef)> = Vec::with_capacity(self.order.len());
        for &c in &self.order {
            canon.push(canonical_column(
                batch.schema().field(c).name(),
                batch.column(c),
            )?);
        }
        let views: Vec<Values<'_>> = canon.iter().map(|(k, a)| view(*k, a)).collect();

        // Pass 1: feature payload length per column per row, and entry totals per row.
        let mut feat_len: Vec<Vec<u32>> = Vec::with_capacity(views.len());
        let mut features_len = vec![0usize; rows];
        for (i, v) in views.iter().enumerate() {
            let key_len = self.names[self.order[i]].len();
            let lens = feature_lengths(v, rows);
            for (r, &fl) in lens.iter().enumerate() {
                let entry = field_len(key_len) + field_len(fl as usize);
                features_len[r] += field_len(entry);
            }
            feat_len.push(lens);
        }
        // Offsets: each example is field 1 (Features) of Example.
        let mut offsets = Vec::with_capacity(rows + 1);
        offsets.push(0i32);
        let mut total = 0usize;
        for &f in &features_len {
            total += field_len(f);
            if total > i32::MAX as usize {
                return Err(
                    "a batch of serialized examples exceeds 2 GiB; use smaller batches".into(),
                );
            }
            offsets.push(total as i32);
        }
        let mut buf = vec![0u8; total];
        let mut cursor: Vec<usize> = Vec::with_capacity(rows);
        for (r, &f) in features_len.iter().enumerate() {
            let mut p = offsets[r] as usize;
            buf[p] = 0x0a;
            p = put_varint(&mut buf, p + 1, f as u64);
            cursor.push(p);
        }
        let mut spans = self.partition.map(|_| vec![(0u32, 0u32); rows]);

        // Pass 2: write entries column by column (key order).
        for (i, v) in views.iter().enumerate() {
            let col = self.order[i];
            let key = &self.names[col];
            let want_span = self.partition == Some(col);
            for r in 0..rows {
                let fl = feat_len[i][r] as usize;
                let entry = field_len(key.len()) + field_len(fl);
                let mut p = cursor[r];
                buf[p] = 0x0a;
                p = put_varint(&mut buf, p + 1, entry as u64);
                buf[p] = 0x0a;
                p = put_varint(&mut buf, p + 1, key.len() as u64);
                buf[p..p + key.len()].copy_from_slice(key);
                p += key.len();
                buf[p] = 0x12;
                p = put_varint(&mut buf, p + 1, fl as u64);
                if want_span {
                    if let Some(s) = spans.as_mut() {
                        s[r] = ((p - offsets[r] as usize) as u32, fl as u32);
                    }
                }
                p = write_feature(v, r, &mut buf, p);
                cursor[r] = p;
            }
        }
        debug_assert!(cursor
            .iter()
            .enumerate()
            .all(|(r, &c)| c == offsets[r + 1] as usize));
        let examples = BinaryArray::new(
            OffsetBuffer::new(ScalarBuffer::from(offsets)),
            Buffer::from_vec(buf),
            None,
        );
        Ok(EncodedBatch {
            examples,
            partition_spans: spans,
        })
    }
}

fn view<'a>(kind: FeatureType, a: &'a ArrayRef) -> Values<'a> {
    match (kind, a.as_list_opt::<i32>()) {
        // `canonical_column` refuses structs: they have no tf.Example form.
        (FeatureType::Unknown | FeatureType::Struct, _) => Values::Missing,
        (FeatureType::Int, None) => Values::Int(a.as_primitive::<Int64Type>()),
        (FeatureType::Float, None) => Values::Float(a.as_primitive::<Float32Type>()),
        (FeatureType::Bytes, None) => Values::Bytes(a.as_binary::<i32>()),
        (FeatureType::Int, Some(l)) => {
            Values::IntList(l, l.values().as_primitive::<Int64Type>().values())
        }
        (FeatureType::Float, Some(l)) => {
            Values::FloatList(l, l.values().as_primitive::<Float32Type>().values())
        }
        (FeatureType::Bytes, Some(l)) => Values::BytesList(l, l.values().as_binary::<i32>()),
    }
}

/// True when the row gives an empty `Feature`: null, or an empty list.
#[inline]
fn list_range(l: &ListArray, r: usize) -> Option<(usize, usize)> {
    if l.is_null(r) {
        return None;
    }
    let o = l.value_offsets();
    let (s, e) = (o[r] as usize, o[r + 1] as usize);
    (e > s).then_some((s, e))
}

fn ints_payload(vals: &[i64]) -> usize {
    vals.iter().map(|&v| varint_len(v as u64)).sum()
}

fn bytes_payload(b: &BinaryArray, s: usize, e: usize) -> usize {
    (s..e).map(|i| field_len(b.value_length(i) as usize)).sum()
}

/// Serialized length of the `Feature` message of every row.
fn feature_lengths(v: &Values<'_>, rows: usize) -> Vec<u32> {
    let mut out = vec![0u32; rows];
    match v {
        Values::Missing => {}
        Values::Int(a) => {
            for (r, o) in out.iter_mut().enumerate() {
                if a.is_valid(r) {
                    *o = field_len(field_len(varint_len(a.value(r) as u64))) as u32;
                }
            }
        }
        Values::Float(a) => {
            for (r, o) in out.iter_mut().enumerate() {
                if a.is_valid(r) {
                    *o = 8;
                }
            }
        }
        Values::Bytes(a) => {
            for (r, o) in out.iter_mut().enumerate() {
                if a.is_valid(r) {
                    *o = field_len(field_len(a.value_length(r) as usize)) as u32;
                }
            }
        }
        Values::IntList(l, vals) => {
            for (r, o) in out.iter_mut().enumerate() {
                if let Some((s, e)) = list_range(l, r) {
                    *o = field_len(field_len(ints_payload(&vals[s..e]))) as u32;
                }
            }
        }
        Values::FloatList(l, _) => {
            for (r, o) in out.iter_mut().enumerate() {
                if let Some((s, e)) = list_range(l, r) {
                    *o = field_len(field_len(4 * (e - s))) as u32;
                }
            }
        }
        Values::BytesList(l, b) => {
            for (r, o) in out.iter_mut().enumerate() {
                if let Some((s, e)) = list_range(l, r) {
                    *o = field_len(bytes_payload(b, s, e)) as u32;
                }
            }
        }
    }
    out
}

#[inline]
fn put_ints(buf: &mut [u8], mut p: usize, vals: &[i64]) -> usize {
    let payload = ints_payload(vals);
    buf[p] = 0x1a; // Feature.int64_list
    p = put_varint(buf, p + 1, field_len(payload) as u64);
    buf[p] = 0x0a; // Int64List.value, packed
    p = put_varint(buf, p + 1, payload as u64);
    for &v in vals {
        p = put_varint(buf, p, v as u64);
    }
    p
}

#[inline]
fn put_floats(buf: &mut [u8], mut p: usize, vals: &[f32]) -> usize {
    let payload = 4 * vals.len();
    buf[p] = 0x12; // Feature.float_list
    p = put_varint(buf, p + 1, field_len(payload) as u64);
    buf[p] = 0x0a; // FloatList.value, packed
    p = put_varint(buf, p + 1, payload as u64);
    for &v in vals {
        buf[p..p + 4].copy_from_slice(&v.to_le_bytes());
        p += 4;
    }
    p
}

#[inline]
fn put_bytes<'b>(
    buf: &mut [u8],
    mut p: usize,
    vals: impl Iterator<Item = &'b [u8]> + Clone,
) -> usize {
    let payload: usize = vals.clone().map(|v| field_len(v.len())).sum();
    buf[p] = 0x0a; // Feature.bytes_list
    p = put_varint(buf, p + 1, payload as u64);
    for v in vals {
        buf[p] = 0x0a; // BytesList.value
        p = put_varint(buf, p + 1, v.len() as u64);
        buf[p..p + v.len()].copy_from_slice(v);
        p += v.len();
    }
    p
}

fn write_feature(v: &Values<'_>, r: usize, buf: &mut [u8], p: usize) -> usize {
    match v {
        Values::Missing => p,
        Values::Int(a) if a.is_valid(r) => put_ints(buf, p, &a.values()[r..r + 1]),
        Values::Float(a) if a.is_valid(r) => put_floats(buf, p, &a.values()[r..r + 1]),
        Values::Bytes(a) if a.is_valid(r) => put_bytes(buf, p, std::iter::once(a.value(r))),
        Values::IntList(l, vals) => match list_range(l, r) {
            Some((s, e)) => put_ints(buf, p, &vals[s..e]),
            None => p,
        },
        Values::FloatList(l, vals) => match list_range(l, r) {
            Some((s, e)) => put_floats(buf, p, &vals[s..e]),
            None => p,
        },
        Values::BytesList(l, b) => match list_range(l, r) {
            Some((s, e)) => put_bytes(buf, p, (s..e).map(|i| b.value(i))),
            None => p,
        },
        _ => p,
    }
}
