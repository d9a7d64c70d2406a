//! One rank's stream of batches: the global batches of its share, cut
//! from shuffle windows read block by block. At most one window (plus the
//! batch being cut) is held in memory, whatever the split's size.

use std::sync::Arc;

use datafusion::arrow::array::{RecordBatch, UInt32Array};
use datafusion::arrow::compute::{concat_batches, take_record_batch};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::error::ArrowError;

use super::cache::{WindowCache, WindowKey};
use super::catalog::SplitData;
use super::order::{EpochOrder, RankShare};
use super::token::StreamToken;
use crate::error::{EngineError, Result};

/// Batches of one rank from where its token stands, each with the token
/// that resumes after it.
pub struct RankStream {
    split: Arc<SplitData>,
    order: EpochOrder,
    share: RankShare,
    token: StreamToken,
    projection: Option<Vec<usize>>,
    schema: SchemaRef,
    cache: Arc<WindowCache>,
    window: Option<(usize, Arc<RecordBatch>)>,
}

impl std::fmt::Debug for RankStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RankStream")
            .field("token", &self.token)
            .finish()
    }
}

fn arrow(e: ArrowError) -> EngineError {
    EngineError::Internal(e.to_string())
}

/// Column indices of `columns` in `schema` (None: all) and the schema of
/// the batches they select.
pub fn projection(
    schema: &SchemaRef,
    columns: &Option<Vec<String>>,
) -> Result<(Option<Vec<usize>>, SchemaRef)> {
    let Some(columns) = columns else {
        return Ok((None, schema.clone()));
    };
    let indices = columns
        .iter()
        .map(|c| {
            schema.index_of(c).map_err(|_| {
                let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
                EngineError::Invalid(format!("no column '{c}'; columns: {}", names.join(", ")))
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let projected = Arc::new(schema.project(&indices).map_err(arrow)?);
    Ok((Some(indices), projected))
}

impl RankStream {
    /// The stream `token` describes over `split` (checked by the caller),
    /// sharing windows through `cache`.
    pub fn new(split: Arc<SplitData>, token: StreamToken, cache: Arc<WindowCache>) -> Result<Self> {
        let (_, window_blocks) = token.layout;
        let order = EpochOrder::new(
            &split.block_rows(),
            token.id.shuffle,
            token.id.seed,
            token.id.epoch,
            window_blocks as usize,
        );
        let share = token.share(split.rows());
        let (projection, schema) = projection(&split.schema, &token.id.columns)?;
        Ok(Self {
            split,
            order,
            share,
            token,
            projection,
            schema,
            cache,
            window: None,
        })
    }

    /// Schema of the batches.
    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// Batches left in this stream.
    pub fn remaining(&self) -> u64 {
        self.share.batches_from(self.token.next)
    }

    fn load_window(&self, w: usize) -> Result<RecordBatch> {
        let blocks = &self.order.windows()[w].blocks;
        let mut parts = Vec::with_capacity(blocks.len());
        for &b in blocks {
            let batch = self.split.read_block(b)?;
            parts.push(match &self.projection {
                Some(p) => batch.project(p).map_err(arrow)?,
                None => batch,
            });
        }
        let all = concat_batches(&self.schema, &parts).map_err(arrow)?;
        let permutation = UInt32Array::from(self.order.permutation(w));
        take_record_batch(&all, &permutation).map_err(arrow)
    }

    fn window(&mut self, w: usize) -> Result<Arc<RecordBatch>> {
        if let Some((i, b)) = &self.window {
            if *i == w {
                return Ok(b.clone());
            }
        }
        self.window = None;
        let key = WindowKey {
            epoch: self.token.id.clone(),
            window: w,
        };
        let batch = self.cache.get_or_load(&key, || self.load_window(w))?;
        self.window = Some((w, batch.clone()));
        Ok(batch)
    }

    fn next_batch(&mut self) -> Result<RecordBatch> {
        let rows = self.share.batch_rows(self.token.next);
        let mut parts = Vec::new();
        let mut at = rows.start;
        while at < rows.end {
            let w = self.order.window_of(at);
            let win = &self.order.windows()[w];
            let (start, end) = (win.start, win.start + win.rows);
            let upto = rows.end.min(end);
            let batch = self.window(w)?;
            parts.push(batch.slice((at - start) as usize, (upto - at) as usize));
            at = upto;
        }
        let batch = if parts.len() == 1 {
            parts
                .pop()
                .unwrap_or_else(|| RecordBatch::new_empty(self.schema.clone()))
        } else {
            concat_batches(&self.schema, &parts).map_err(arrow)?
        };
        self.token.next += 1;
        Ok(batch)
    }
}

impl Iterator for RankStream {
    type Item = Result<(RecordBatch, StreamToken)>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.remaining() == 0 {
            return None;
        }
        Some(self.next_batch().map(|b| (b, self.token.clone())))
    }
}
