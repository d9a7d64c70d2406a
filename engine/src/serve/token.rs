//! Stream tokens: what a Flight ticket and each batch's `app_metadata`
//! carry. A token says where a rank's stream stands (dataset version,
//! split, seed, epoch, layout, world size, rank, next batch) as JSON behind
//! a `weir1:<crc32c>:` prefix: opaque to users, self-describing and checked,
//! so a damaged token or one for another dataset version, split, seed or
//! epoch is refused instead of silently applied.

use serde::{Deserialize, Serialize};

use super::order::RankShare;
use crate::error::{EngineError, Result};

const PREFIX: &str = "weir1:";

/// What a trainer asks for (`GetFlightInfo`'s JSON command).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EpochRequest {
    /// Dataset name, as `ListFlights` shows it.
    pub dataset: String,
    /// Split name (`train`, `eval`, …).
    pub split: String,
    /// Records per batch.
    #[serde(default = "default_batch_size")]
    pub batch_size: u64,
    /// Epoch number (changes the shuffle).
    #[serde(default)]
    pub epoch: u64,
    /// Shuffle seed.
    #[serde(default)]
    pub seed: u64,
    /// Global shuffle (false: input order).
    #[serde(default = "default_true")]
    pub shuffle: bool,
    /// Ranks.
    #[serde(default = "default_world")]
    pub world_size: u64,
    /// Hold back the last incomplete round so every rank gets the same
    /// number of full batches.
    #[serde(default)]
    pub drop_last: bool,
    /// Columns to send (default: all).
    #[serde(default)]
    pub columns: Option<Vec<String>>,
    /// A token to continue from (a checkpoint); its world size may differ
    /// from this request's when taken at a step boundary.
    #[serde(default)]
    pub resume: Option<String>,
}

fn default_batch_size() -> u64 {
    1024
}
fn default_true() -> bool {
    true
}
fn default_world() -> u64 {
    1
}

impl EpochRequest {
    /// Parses and checks a JSON command.
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        let r: EpochRequest = serde_json::from_slice(bytes).map_err(|e| {
            EngineError::Invalid(format!(
                "the command is not a weir epoch request (JSON with dataset, split, batch_size, epoch, seed, shuffle, world_size, drop_last, columns, resume): {e}"
            ))
        })?;
        if r.batch_size == 0 {
            return Err(EngineError::Invalid("batch_size must be at least 1".into()));
        }
        if r.world_size == 0 {
            return Err(EngineError::Invalid("world_size must be at least 1".into()));
        }
        Ok(r)
    }
}

/// What fixes the contents and the global order of an epoch's batches.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct EpochId {
    /// Dataset name.
    pub dataset: String,
    /// Split name.
    pub split: String,
    /// The split's version (its files' fingerprint) when the stream began.
    pub version: String,
    /// Shuffle seed.
    pub seed: u64,
    /// Epoch.
    pub epoch: u64,
    /// Global shuffle.
    pub shuffle: bool,
    /// Columns sent (None: all).
    pub columns: Option<Vec<String>>,
}

/// Where one rank's stream stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamToken {
    /// The epoch.
    #[serde(flatten)]
    pub id: EpochId,
    /// Records per batch.
    pub batch_size: u64,
    /// Hold back the last incomplete round.
    pub drop_last: bool,
    /// Records per block and blocks per shuffle window (the server's
    /// layout; a token from a server laid out differently is refused).
    pub layout: (u64, u64),
    /// Ranks.
    pub world_size: u64,
    /// This rank.
    pub rank: u64,
    /// The global batch where this world size took over.
    pub base: u64,
    /// Batches of this rank already delivered.
    pub next: u64,
}

impl StreamToken {
    /// The bytes of a ticket or `app_metadata`.
    pub fn encode(&self) -> Vec<u8> {
        let json = serde_json::to_string(self).unwrap_or_default();
        format!("{PREFIX}{:08x}:{json}", crc32c::crc32c(json.as_bytes())).into_bytes()
    }

    /// Reads a token, checking its form and checksum.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let bad = |why: &str| {
            EngineError::Invalid(format!(
                "malformed ticket or resume token ({why}); use a ticket from GetFlightInfo or a batch's app_metadata"
            ))
        };
        let text = std::str::from_utf8(bytes).map_err(|_| bad("not UTF-8"))?;
        let rest = text
            .strip_prefix(PREFIX)
            .ok_or_else(|| bad("no weir1: prefix"))?;
        let (crc, json) = rest.split_once(':').ok_or_else(|| bad("no checksum"))?;
        let crc = u32::from_str_radix(crc, 16).map_err(|_| bad("bad checksum"))?;
        if crc != crc32c::crc32c(json.as_bytes()) {
            return Err(bad("checksum mismatch: the token was altered or truncated"));
        }
        let t: StreamToken = serde_json::from_str(json).map_err(|e| bad(&e.to_string()))?;
        if t.batch_size == 0 || t.world_size == 0 || t.rank >= t.world_size {
            return Err(bad("batch_size, world_size or rank out of range"));
        }
        Ok(t)
    }

    /// This rank's share of the epoch over `total_rows` records.
    pub fn share(&self, total_rows: u64) -> RankShare {
        RankShare {
            total_rows,
            batch_size: self.batch_size,
            world_size: self.world_size,
            rank: self.rank,
            base: self.base,
            drop_last: self.drop_last,
        }
    }

    /// Refuses a token that belongs to another request: names the first
    /// field that differs.
    pub fn check_matches(&self, r: &EpochRequest) -> Result<()> {
        let differs = |what: &str, token: String, asked: String| {
            Err(EngineError::Invalid(format!(
                "resume token is for {what} {token} but the request asks for {what} {asked}"
            )))
        };
        if self.id.dataset != r.dataset {
            return differs("dataset", self.id.dataset.clone(), r.dataset.clone());
        }
        if self.id.split != r.split {
            return differs("split", self.id.split.clone(), r.split.clone());
        }
        if self.id.epoch != r.epoch {
            return differs("epoch", self.id.epoch.to_string(), r.epoch.to_string());
        }
        if self.id.seed != r.seed {
            return differs("seed", self.id.seed.to_string(), r.seed.to_string());
        }
        if self.id.shuffle != r.shuffle {
            return differs(
                "shuffle",
                self.id.shuffle.to_string(),
                r.shuffle.to_string(),
            );
        }
        if self.batch_size != r.batch_size {
            return differs(
                "batch_size",
                self.batch_size.to_string(),
                r.batch_size.to_string(),
            );
        }
        if self.drop_last != r.drop_last {
            return differs(
                "drop_last",
                self.drop_last.to_string(),
                r.drop_last.to_string(),
            );
        }
        Ok(())
    }

    /// The tickets of every rank of `world_size` continuing from this
    /// token taken at a step boundary (every rank had consumed `next`
    /// batches): the same world size keeps its positions; another one
    /// starts a new base where the old ranks stopped.
    pub fn continue_with(&self, world_size: u64, columns: Option<Vec<String>>) -> Vec<Self> {
        let (base, next) = if world_size == self.world_size {
            (self.base, self.next)
        } else {
            (self.base + self.next * self.world_size, 0)
        };
        (0..world_size)
            .map(|rank| StreamToken {
                id: EpochId {
                    columns: columns.clone(),
                    ..self.id.clone()
                },
                world_size,
                rank,
                base,
                next,
                ..self.clone()
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token() -> StreamToken {
        StreamToken {
            id: EpochId {
                dataset: "d".into(),
                split: "train".into(),
                version: "v1".into(),
                seed: 1,
                epoch: 2,
                shuffle: true,
                columns: None,
            },
            batch_size: 8,
            drop_last: false,
            layout: (8192, 8),
            world_size: 4,
            rank: 1,
            base: 0,
            next: 3,
        }
    }

    #[test]
    fn round_trips_and_refuses_damage() {
        let t = token();
        assert_eq!(StreamToken::decode(&t.encode()).unwrap(), t);
        let mut bytes = t.encode();
        let n = bytes.len();
        bytes[n - 3] ^= 1;
        let e = StreamToken::decode(&bytes).unwrap_err().to_string();
        assert!(e.contains("checksum"), "{e}");
        assert!(StreamToken::decode(b"hello").is_err());
    }

    #[test]
    fn elastic_continuation_starts_where_old_ranks_stopped() {
        let t = token();
        let two = t.continue_with(2, None);
        assert_eq!(two.len(), 2);
        assert_eq!((two[1].base, two[1].next, two[1].rank), (12, 0, 1));
        let same = t.continue_with(4, None);
        assert_eq!((same[0].base, same[0].next), (0, 3));
    }

    #[test]
    fn a_token_for_another_epoch_is_refused() {
        let r = EpochRequest::parse(
            br#"{"dataset":"d","split":"train","batch_size":8,"epoch":3,"seed":1}"#,
        )
        .unwrap();
        let e = token().check_matches(&r).unwrap_err().to_string();
        assert!(e.contains("epoch 2") && e.contains("epoch 3"), "{e}");
    }
}
