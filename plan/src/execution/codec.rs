//! weir's extension codecs for Ballista: [`WeirLogicalCodec`] and
//! [`WeirPhysicalCodec`] wrap Ballista's own codecs and delegate everything
//! that is not weir's. weir's nodes travel in a small envelope:
//!
//! ```text
//! [tag: u8] [payload]      tag 0 = Ballista's encoding, tag 1.. = weir's nodes
//! ```
//!
//! so decoding never guesses from bytes. Scan maps and shard sinks travel
//! as their kind's name and settings and are resolved against the list in
//! [`crate::kinds`]. weir's functions (UDFs and UDAFs)
//! travel by name and are resolved against weir's one function list, so a
//! process only needs weir's functions registered to run any weir plan.

use std::sync::Arc;

use ballista_core::serde::{BallistaLogicalExtensionCodec, BallistaPhysicalExtensionCodec};
use datafusion::arrow::datatypes::{Schema, SchemaRef};
use datafusion::common::TableReference;
use datafusion::datasource::TableProvider;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::TaskContext;
use datafusion::logical_expr::{AggregateUDF, Extension, LogicalPlan, ScalarUDF};
use datafusion::physical_plan::ExecutionPlan;
use datafusion_proto::logical_plan::LogicalExtensionCodec;
use datafusion_proto::physical_plan::{PhysicalExtensionCodec, PhysicalProtoConverterExtension};
use prost::Message;
use weir_datasets::formats::SourceSpec;

use crate::kinds;
use crate::map::{MapSpec, ScanMap};
use crate::scan::{as_source_scan, source_scan, ScanShape, SourceTable};
use crate::sink::{ShardSink, ShardSinkExec, SinkNode, SinkSpec};

/// Ballista's own encoding follows.
const TAG_BALLISTA: u8 = 0;
/// A [`SourceTable`] / a weir source scan (`crate::scan::source_scan`;
/// physical: `[spec][schema][shape]` chunks, then the map's spec if any).
const TAG_SOURCE: u8 = 1;
/// A [`SourceTable`] with a scan map (by its [`MapSpec`]).
const TAG_MAP_SOURCE: u8 = 2;
/// A weir sink, by its [`SinkSpec`]: the logical [`SinkNode`] or the
/// [`ShardSinkExec`] it plans as.
const TAG_SINK: u8 = 3;

fn decode_error(what: &str, e: impl std::fmt::Display) -> DataFusionError {
    DataFusionError::Internal(format!("weir codec: cannot decode {what}: {e}"))
}

/// `[len: u32 LE][bytes]`.
fn put_chunk(buf: &mut Vec<u8>, bytes: &[u8]) {
    buf.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    buf.extend_from_slice(bytes);
}

fn take_chunk<'a>(buf: &mut &'a [u8], what: &str) -> Result<&'a [u8]> {
    if buf.len() < 4 {
        return Err(decode_error(what, "truncated length"));
    }
    let n = u32::from_le_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
    if buf.len() < 4 + n {
        return Err(decode_error(what, "truncated payload"));
    }
    let chunk = &buf[4..4 + n];
    *buf = &buf[4 + n..];
    Ok(chunk)
}

fn encode_schema(schema: &Schema) -> Result<Vec<u8>> {
    let proto = datafusion_proto::protobuf::Schema::try_from(schema)?;
    Ok(proto.encode_to_vec())
}

fn decode_schema(bytes: &[u8]) -> Result<Schema> {
    let proto =
        datafusion_proto::protobuf::Schema::decode(bytes).map_err(|e| decode_error("schema", e))?;
    Schema::try_from(&proto).map_err(|e| decode_error("schema", e))
}

/// The sink a [`SinkSpec`]'s JSON names, of a kind this process knows.
fn decode_sink(bytes: &[u8], what: &str) -> Result<Arc<dyn ShardSink>> {
    let spec = SinkSpec::from_json(bytes).map_err(|e| decode_error(what, e))?;
    kinds::shard_sink(&spec).map_err(|e| decode_error(what, e))
}

/// The scan map a [`MapSpec`]'s JSON names, of a kind this process knows.
fn decode_map(bytes: &[u8], what: &str) -> Result<Arc<dyn ScanMap>> {
    let spec: MapSpec = serde_json::from_slice(bytes).map_err(|e| decode_error(what, e))?;
    kinds::scan_map(&spec).map_err(|e| decode_error(what, e))
}

/// A [`MapSpec`]'s JSON.
fn encode_map(map: &dyn ScanMap) -> Result<Vec<u8>> {
    serde_json::to_vec(&MapSpec::of(map))
        .map_err(|e| DataFusionError::Internal(format!("weir codec: {e}")))
}

/// The one input of a node with one input.
fn single_input<'a, T>(inputs: &'a [T], what: &str) -> Result<&'a T> {
    match inputs {
        [one] => Ok(one),
        _ => Err(decode_error(
            what,
            format!("{} inputs, expected 1", inputs.len()),
        )),
    }
}

/// weir's scalar function `name`, else what `inner` decodes.
fn weir_udf(name: &str, inner: impl FnOnce() -> Result<Arc<ScalarUDF>>) -> Result<Arc<ScalarUDF>> {
    match weir_udfs::all_udfs().into_iter().find(|f| f.name() == name) {
        Some(f) => Ok(f),
        None => inner(),
    }
}

/// Marks the parameters of a weir aggregate in its encoding.
const UDAF_PARAMS: u8 = b'w';

/// The parameters of a parameterized weir aggregate (`numeric_stats`' KLL
/// `k`, which the transform's quantile analyzers raise): `[w][k: u16 LE]`.
/// Nothing for the others, which travel by name alone.
fn encode_weir_udaf(node: &AggregateUDF, buf: &mut Vec<u8>) -> bool {
    match node
        .inner()
        .downcast_ref::<weir_udfs::stats::NumericStatsUdaf>()
    {
        Some(f) => {
            buf.push(UDAF_PARAMS);
            buf.extend_from_slice(&f.k().to_le_bytes());
            true
        }
        None => false,
    }
}

/// weir's aggregate function `name` (with its encoded parameters), else
/// what `inner` decodes.
fn weir_udaf(
    name: &str,
    buf: &[u8],
    inner: impl FnOnce() -> Result<Arc<AggregateUDF>>,
) -> Result<Arc<AggregateUDF>> {
    if let [UDAF_PARAMS, k0, k1] = buf {
        if name == "numeric_stats" {
            let k = u16::from_le_bytes([*k0, *k1]);
            return Ok(Arc::new(AggregateUDF::from(
                weir_udfs::stats::NumericStatsUdaf::with_k(k),
            )));
        }
    }
    match weir_udfs::all_udafs()
        .into_iter()
        .find(|f| f.name() == name)
    {
        Some(f) => Ok(f),
        None => inner(),
    }
}

/// Ballista's logical codec plus weir's table provider and functions.
#[derive(Debug, Default)]
pub struct WeirLogicalCodec {
    inner: BallistaLogicalExtensionCodec,
}

impl LogicalExtensionCodec for WeirLogicalCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[LogicalPlan],
        ctx: &TaskContext,
    ) -> Result<Extension> {
        match buf.split_first() {
            Some((&TAG_BALLISTA, rest)) => self.inner.try_decode(rest, inputs, ctx),
            Some((&TAG_SINK, rest)) => {
                let what = "sink node";
                let sink = decode_sink(rest, what)?;
                let input = single_input(inputs, what)?.clone();
                Ok(Extension {
                    node: Arc::new(SinkNode::new(input, sink)?),
                })
            }
            _ => Err(decode_error("logical extension node", "unknown tag")),
        }
    }

    fn try_encode(&self, node: &Extension, buf: &mut Vec<u8>) -> Result<()> {
        if let Some(sink) = node.node.as_any().downcast_ref::<SinkNode>() {
            buf.push(TAG_SINK);
            buf.extend_from_slice(&sink.spec().to_json());
            return Ok(());
        }
        buf.push(TAG_BALLISTA);
        self.inner.try_encode(node, buf)
    }

    fn try_decode_table_provider(
        &self,
        buf: &[u8],
        table_ref: &TableReference,
        schema: SchemaRef,
        ctx: &TaskContext,
    ) -> Result<Arc<dyn TableProvider>> {
        match buf.split_first() {
            Some((&tag @ (TAG_SOURCE | TAG_MAP_SOURCE), mut rest)) => {
                let what = format!("table {table_ref}");
                let (id, tail) = rest
                    .split_first_chunk::<8>()
                    .ok_or_else(|| decode_error(&what, "truncated opening id"))?;
                rest = tail;
                let spec = SourceSpec::from_json(take_chunk(&mut rest, &what)?)
                    .map_err(|e| decode_error(&what, e))?;
                let mut table = SourceTable::reopen(spec, u64::from_le_bytes(*id))
                    .map_err(|e| DataFusionError::External(Box::new(e)))?;
                if tag == TAG_MAP_SOURCE {
                    table = table.with_map(decode_map(rest, &what)?);
                }
                if table.schema().fields() != schema.fields() {
                    return Err(decode_error(
                        &what,
                        "the input's schema changed since the plan was made",
                    ));
                }
                Ok(Arc::new(table))
            }
            Some((&TAG_BALLISTA, rest)) => self
                .inner
                .try_decode_table_provider(rest, table_ref, schema, ctx),
            _ => Err(decode_error(&format!("table {table_ref}"), "unknown tag")),
        }
    }

    fn try_encode_table_provider(
        &self,
        table_ref: &TableReference,
        node: Arc<dyn TableProvider>,
        buf: &mut Vec<u8>,
    ) -> Result<()> {
        if let Some(table) = node.downcast_ref::<SourceTable>() {
            buf.push(match table.map() {
                Some(_) => TAG_MAP_SOURCE,
                None => TAG_SOURCE,
            });
            buf.extend_from_slice(&table.open_id().to_le_bytes());
            put_chunk(buf, &table.spec().to_json());
            if let Some(map) = table.map() {
                buf.extend_from_slice(&encode_map(map.as_ref())?);
            }
            return Ok(());
        }
        buf.push(TAG_BALLISTA);
        self.inner.try_encode_table_provider(table_ref, node, buf)
    }

    fn try_decode_file_format(
        &self,
        buf: &[u8],
        ctx: &TaskContext,
    ) -> Result<Arc<dyn datafusion::datasource::file_format::FileFormatFactory>> {
        self.inner.try_decode_file_format(buf, ctx)
    }

    fn try_encode_file_format(
        &self,
        buf: &mut Vec<u8>,
        node: Arc<dyn datafusion::datasource::file_format::FileFormatFactory>,
    ) -> Result<()> {
        self.inner.try_encode_file_format(buf, node)
    }

    fn try_decode_udf(&self, name: &str, buf: &[u8]) -> Result<Arc<ScalarUDF>> {
        weir_udf(name, || self.inner.try_decode_udf(name, buf))
    }

    fn try_decode_udaf(&self, name: &str, buf: &[u8]) -> Result<Arc<AggregateUDF>> {
        weir_udaf(name, buf, || self.inner.try_decode_udaf(name, buf))
    }

    fn try_encode_udaf(&self, node: &AggregateUDF, buf: &mut Vec<u8>) -> Result<()> {
        if encode_weir_udaf(node, buf) {
            return Ok(());
        }
        self.inner.try_encode_udaf(node, buf)
    }
}

/// Ballista's physical codec plus weir's plan nodes and functions.
#[derive(Debug, Default)]
pub struct WeirPhysicalCodec {
    inner: BallistaPhysicalExtensionCodec,
}

impl PhysicalExtensionCodec for WeirPhysicalCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[Arc<dyn ExecutionPlan>],
        ctx: &TaskContext,
        proto_converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        match buf.split_first() {
            Some((&TAG_BALLISTA, rest)) => {
                self.inner.try_decode(rest, inputs, ctx, proto_converter)
            }
            Some((&TAG_SOURCE, mut rest)) => {
                let what = "weir source scan";
                let spec = SourceSpec::from_json(take_chunk(&mut rest, what)?)
                    .map_err(|e| decode_error(what, e))?;
                let schema = decode_schema(take_chunk(&mut rest, what)?)?;
                let shape: ScanShape = serde_json::from_slice(take_chunk(&mut rest, what)?)
                    .map_err(|e| decode_error(what, e))?;
                if let Some(u) = shape.units.iter().find(|&&u| u >= shape.total) {
                    return Err(decode_error(what, format!("unit {u} of {}", shape.total)));
                }
                let map = match rest {
                    [] => None,
                    bytes => Some(decode_map(bytes, what)?),
                };
                Ok(source_scan(Arc::new(spec), Arc::new(schema), shape, map))
            }
            Some((&TAG_SINK, rest)) => {
                let what = "sink";
                let sink = decode_sink(rest, what)?;
                Ok(Arc::new(ShardSinkExec::new(
                    single_input(inputs, what)?.clone(),
                    sink,
                )))
            }
            _ => Err(decode_error("physical plan node", "unknown tag")),
        }
    }

    fn try_encode(
        &self,
        node: Arc<dyn ExecutionPlan>,
        buf: &mut Vec<u8>,
        proto_converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<()> {
        if let Some(scan) = as_source_scan(node.as_ref()) {
            buf.push(TAG_SOURCE);
            put_chunk(buf, &scan.spec.to_json());
            put_chunk(buf, &encode_schema(&scan.schema)?);
            let shape = serde_json::to_vec(&scan.shape)
                .map_err(|e| DataFusionError::Internal(format!("weir codec: {e}")))?;
            put_chunk(buf, &shape);
            if let Some(map) = &scan.map {
                buf.extend_from_slice(&encode_map(map.as_ref())?);
            }
            return Ok(());
        }
        if let Some(sink) = node.downcast_ref::<ShardSinkExec>() {
            buf.push(TAG_SINK);
            buf.extend_from_slice(&SinkSpec::of(sink.sink().as_ref()).to_json());
            return Ok(());
        }
        buf.push(TAG_BALLISTA);
        self.inner.try_encode(node, buf, proto_converter)
    }

    fn try_decode_udf(&self, name: &str, buf: &[u8]) -> Result<Arc<ScalarUDF>> {
        weir_udf(name, || self.inner.try_decode_udf(name, buf))
    }

    fn try_decode_udaf(&self, name: &str, buf: &[u8]) -> Result<Arc<AggregateUDF>> {
        weir_udaf(name, buf, || self.inner.try_decode_udaf(name, buf))
    }

    fn try_encode_udaf(&self, node: &AggregateUDF, buf: &mut Vec<u8>) -> Result<()> {
        if encode_weir_udaf(node, buf) {
            return Ok(());
        }
        self.inner.try_encode_udaf(node, buf)
    }
}
