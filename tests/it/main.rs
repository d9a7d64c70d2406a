//! weir's integration tests: one binary, one module per area.

mod bad_input;
mod bigquery;
mod cluster;
mod conformance;
mod dataflow;
mod fault_figures;
mod formats;
mod memory_limit;
mod memory_store;
mod no_shared_disk;
mod output;
mod pipeline;
mod sequence;
mod stats;
mod tfdv_histograms;
mod tfidf;
mod transform;
mod transform_artifact;
mod util;
mod validate;
