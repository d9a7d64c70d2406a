//! `weir serve`'s logic: datasets under a root, epochs as a deterministic
//! global order shared out to ranks, and resumable streams. The Flight
//! protocol is at the binary's edge (`weir-cli`); everything here is plain
//! functions and types over Arrow record batches.
//!
//! The promises (each tested):
//! - *exactly once*: the ranks of one epoch together get every record of
//!   the split once (with `drop_last`, fewer than `world_size × batch_size`
//!   are held back, and [`EpochPlan::held_back`] says how many);
//! - *deterministic shuffle*: the global order depends only on the split's
//!   blocks, the seed and the epoch ([`order`]); rank `r` of `W` takes
//!   global batches `r, r+W, …`;
//! - *resume*: a [`StreamToken`] after any batch continues that rank's
//!   stream exactly; one taken at a step boundary continues the same global
//!   order with another world size.

pub mod cache;
pub mod catalog;
pub mod order;
pub mod stream;
pub mod token;

use datafusion::arrow::datatypes::SchemaRef;

pub use catalog::{check_name, Catalog, CatalogOptions, SplitData};
pub use order::{EpochOrder, RankShare};
pub use stream::RankStream;
pub use token::{EpochId, EpochRequest, StreamToken};

use crate::error::{EngineError, Result};

/// Records per block unless configured: the unit of reading and of the
/// block-level shuffle.
pub const BLOCK_ROWS: u64 = 8192;
/// Blocks per shuffle window unless configured: records are shuffled
/// uniformly within windows of 8 random blocks (65,536 records).
pub const WINDOW_BLOCKS: u64 = 8;
/// Megabytes of recently read windows shared between streams unless
/// configured.
pub const WINDOW_CACHE_MB: u64 = 128;

/// What `GetFlightInfo` answers: one ticket per rank and the counts.
#[derive(Debug, Clone)]
pub struct EpochPlan {
    /// Schema of the batches (projected).
    pub schema: SchemaRef,
    /// Records in the split.
    pub total_records: u64,
    /// Records the ranks get together from this point.
    pub delivered: u64,
    /// Records no rank gets (`drop_last`).
    pub held_back: u64,
    /// Each rank's ticket, rank order, with its batch and record counts.
    pub ranks: Vec<(StreamToken, u64, u64)>,
}

/// Plans an epoch for `request`: a fresh one, or one continuing from
/// `request.resume`.
pub fn plan_epoch(catalog: &Catalog, request: &EpochRequest) -> Result<EpochPlan> {
    let split = catalog.split(&request.dataset, &request.split)?;
    let tokens = match &request.resume {
        Some(text) => {
            let token = StreamToken::decode(text.as_bytes())?;
            token.check_matches(request)?;
            check_current(&split, catalog, &token)?;
            token.continue_with(request.world_size, request.columns.clone())
        }
        None => (0..request.world_size)
            .map(|rank| StreamToken {
                id: EpochId {
                    dataset: request.dataset.clone(),
                    split: request.split.clone(),
                    version: split.version.clone(),
                    seed: request.seed,
                    epoch: request.epoch,
                    shuffle: request.shuffle,
                    columns: request.columns.clone(),
                },
                batch_size: request.batch_size,
                drop_last: request.drop_last,
                layout: catalog.layout(),
                world_size: request.world_size,
                rank,
                base: 0,
                next: 0,
            })
            .collect(),
    };
    let (_, schema) = stream::projection(&split.schema, &request.columns)?;
    let total = split.rows();
    let ranks: Vec<(StreamToken, u64, u64)> = tokens
        .into_iter()
        .map(|t| {
            let share = t.share(total);
            let (batches, rows) = (share.batches_from(t.next), share.rows_from(t.next));
            (t, batches, rows)
        })
        .collect();
    let first = ranks
        .first()
        .map(|(t, _, _)| t.share(total))
        .ok_or_else(|| EngineError::Invalid("world_size must be at least 1".into()))?;
    Ok(EpochPlan {
        schema,
        total_records: total,
        delivered: ranks.iter().map(|(_, _, r)| r).sum(),
        held_back: first.held_back(),
        ranks,
    })
}

fn check_current(split: &SplitData, catalog: &Catalog, token: &StreamToken) -> Result<()> {
    if token.id.version != split.version {
        return Err(EngineError::Stale(format!(
            "token is for version {} of {}/{} but the server has version {}: the split changed since the stream began",
            token.id.version, token.id.dataset, token.id.split, split.version
        )));
    }
    if token.layout != catalog.layout() {
        return Err(EngineError::Stale(format!(
            "token was made with blocks of {} records in windows of {} blocks but this server uses {} and {}",
            token.layout.0,
            token.layout.1,
            catalog.layout().0,
            catalog.layout().1
        )));
    }
    Ok(())
}

/// Opens the stream a ticket or resume token describes.
pub fn open_stream(catalog: &Catalog, ticket: &[u8]) -> Result<RankStream> {
    let token = StreamToken::decode(ticket)?;
    let split = catalog.split(&token.id.dataset, &token.id.split)?;
    check_current(&split, catalog, &token)?;
    RankStream::new(split, token, catalog.windows())
}
