//! What a shard of a fused ExampleGen reports of its statistics rows
//! ([`ShardStats`]): the value counts it reduced and the partial states it
//! received, as bytes in the sink's report (`summary`), so the driver
//! takes them from exactly the attempt it commits. Batches travel as Arrow
//! IPC streams.

use datafusion::arrow::ipc::reader::StreamReader;
use datafusion::arrow::ipc::writer::StreamWriter;
use datafusion::arrow::record_batch::RecordBatch;

use crate::error::{PlanError, Result};

/// The first bytes of an encoded [`ShardStats`].
const MAGIC: &[u8; 4] = b"WSS1";

/// One shard's statistics: its value counts and the partial states routed
/// to it.
#[derive(Debug, Default, Clone)]
pub struct ShardStats {
    /// `(split, feature)` counts (`values::counts_batch`), if any.
    pub counts: Option<RecordBatch>,
    /// Partial states (`SplitAccumulators::state` rows), as IPC streams.
    pub states: Vec<Vec<u8>>,
}

/// `batch` as an Arrow IPC stream.
pub fn ipc_bytes(batch: &RecordBatch) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut w = StreamWriter::try_new(&mut out, &batch.schema())
        .map_err(|e| PlanError::Internal(format!("statistics state: {e}")))?;
    w.write(batch)
        .and_then(|_| w.finish())
        .map_err(|e| PlanError::Internal(format!("statistics state: {e}")))?;
    drop(w);
    Ok(out)
}

/// The batches of an Arrow IPC stream.
pub fn ipc_batches(bytes: &[u8]) -> Result<Vec<RecordBatch>> {
    let bad = |e: datafusion::arrow::error::ArrowError| {
        PlanError::Internal(format!("statistics summary: {e}"))
    };
    StreamReader::try_new(bytes, None)
        .map_err(bad)?
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(bad)
}

impl ShardStats {
    /// Whether there is nothing to report.
    pub fn is_empty(&self) -> bool {
        self.counts.is_none() && self.states.is_empty()
    }

    /// The report's bytes: the magic, then length-prefixed sections (the
    /// counts as IPC, empty when none; then each state).
    pub fn encode(&self) -> Result<Vec<u8>> {
        let counts = match &self.counts {
            Some(b) => ipc_bytes(b)?,
            None => Vec::new(),
        };
        let mut out = MAGIC.to_vec();
        for section in std::iter::once(&counts).chain(&self.states) {
            out.extend_from_slice(&(section.len() as u64).to_le_bytes());
            out.extend_from_slice(section);
        }
        Ok(out)
    }

    /// A report from [`Self::encode`]'s bytes.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let bad = |what: &str| PlanError::Internal(format!("statistics summary: {what}"));
        let mut rest = bytes.strip_prefix(MAGIC).ok_or_else(|| bad("no magic"))?;
        let mut sections = Vec::new();
        while !rest.is_empty() {
            if rest.len() < 8 {
                return Err(bad("truncated length"));
            }
            let (len, tail) = rest.split_at(8);
            let len = u64::from_le_bytes(len.try_into().expect("8 bytes")) as usize;
            if tail.len() < len {
                return Err(bad("truncated section"));
            }
            let (section, tail) = tail.split_at(len);
            sections.push(section.to_vec());
            rest = tail;
        }
        let mut sections = sections.into_iter();
        let counts = match sections.next() {
            Some(c) if !c.is_empty() => ipc_batches(&c)?.into_iter().next(),
            Some(_) => None,
            None => return Err(bad("no counts section")),
        };
        Ok(Self {
            counts,
            states: sections.collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::UInt64Array;
    use std::sync::Arc;

    #[test]
    fn a_summary_round_trips_and_damage_is_an_error() {
        let batch =
            RecordBatch::try_from_iter([("n", Arc::new(UInt64Array::from(vec![1, 2])) as _)])
                .unwrap();
        let s = ShardStats {
            counts: Some(batch.clone()),
            states: vec![ipc_bytes(&batch).unwrap(), vec![1, 2, 3]],
        };
        let bytes = s.encode().unwrap();
        let back = ShardStats::decode(&bytes).unwrap();
        assert_eq!(back.counts, Some(batch));
        assert_eq!(back.states, s.states);
        let empty = ShardStats::default();
        assert!(empty.is_empty());
        assert!(ShardStats::decode(&empty.encode().unwrap())
            .unwrap()
            .is_empty());
        assert!(ShardStats::decode(&bytes[..bytes.len() - 1]).is_err());
        assert!(ShardStats::decode(b"nope").is_err());
    }
}
