//! Ships a [`SortedAggregateExec`] to Ballista's executors.
//!
//! The node is the `AggregateExec` it wraps, so it travels as that: DataFusion's own protobuf
//! form of the aggregate, detached from its input (which the codec framework ships as the
//! node's child), after a magic prefix. Decoding reattaches the input and wraps the aggregate
//! again — only if that input is still sorted by the keys on the executor; otherwise the plain
//! `AggregateExec` runs, which is always correct.

use std::sync::Arc;

use datafusion::common::{DataFusionError, Result, internal_err};
use datafusion::execution::TaskContext;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::aggregates::AggregateExec;
use datafusion::physical_plan::empty::EmptyExec;
use datafusion::physical_plan::execution_plan::{ChildrenPropertiesMode, ReplaceChildrenOptions};
use datafusion_proto::physical_plan::{
    PhysicalExtensionCodec, PhysicalPlanDecodeContext, PhysicalProtoConverterExtension,
};
use datafusion_proto::protobuf::PhysicalPlanNode;
use prost::Message;

use crate::sorted_aggregate::SortedAggregateExec;

const MAGIC: &[u8] = b"TFSAGG01";

/// Whether `buf` holds a node [`encode`] wrote.
pub(super) fn is_encoded(buf: &[u8]) -> bool {
    buf.starts_with(MAGIC)
}

/// Writes `exec` as its aggregate, without the aggregate's input.
pub(super) fn encode(
    exec: &SortedAggregateExec,
    buf: &mut Vec<u8>,
    codec: &dyn PhysicalExtensionCodec,
    converter: &dyn PhysicalProtoConverterExtension,
) -> Result<()> {
    let agg = exec.aggregate();
    let detached = Arc::clone(agg).replace_children(
        vec![Arc::new(EmptyExec::new(agg.input().schema()))],
        ReplaceChildrenOptions::new(ChildrenPropertiesMode::Keep),
    )?;
    let node = converter.execution_plan_to_proto(&detached, codec)?;
    buf.extend_from_slice(MAGIC);
    node.encode(buf)
        .map_err(|e| DataFusionError::Internal(format!("encoding a sorted aggregate: {e}")))
}

/// Reads a node [`encode`] wrote, over `inputs` (its one child).
pub(super) fn decode(
    buf: &[u8],
    inputs: &[Arc<dyn ExecutionPlan>],
    ctx: &TaskContext,
    codec: &dyn PhysicalExtensionCodec,
    converter: &dyn PhysicalProtoConverterExtension,
) -> Result<Arc<dyn ExecutionPlan>> {
    let [input] = inputs else {
        return internal_err!("a sorted aggregate has one input, got {}", inputs.len());
    };
    let node = PhysicalPlanNode::decode(&buf[MAGIC.len()..])
        .map_err(|e| DataFusionError::Internal(format!("decoding a sorted aggregate: {e}")))?;
    let detached =
        converter.proto_to_execution_plan(&node, &PhysicalPlanDecodeContext::new(ctx, codec))?;
    let agg = detached.replace_children(
        vec![Arc::clone(input)],
        ReplaceChildrenOptions::new(ChildrenPropertiesMode::Recompute),
    )?;
    match agg.downcast_ref::<AggregateExec>() {
        Some(agg) => SortedAggregateExec::or_aggregate(Arc::new(agg.clone())),
        None => internal_err!("a sorted aggregate decoded as {}", agg.name()),
    }
}
