//! Ships tickflow's execution nodes to Ballista's executors.
//!
//! Each tickflow node stands for a DataFusion node it wraps ([`SortedAggregateExec`] for an
//! `AggregateExec`, [`RowsWindowExec`] for a `BoundedWindowAggExec`, [`ShuffleMergeExec`] for a
//! `SortExec`), so it travels as that: DataFusion's
//! own protobuf form of the wrapped node, detached from its input (which the codec framework
//! ships as the node's child), after a magic prefix naming the tickflow node. Decoding
//! reattaches the input and wraps the node again. A sorted aggregate is rebuilt only if its
//! input is still sorted by the keys on the executor; otherwise the plain `AggregateExec` runs,
//! which is always correct. A rows window likewise, if the decoded window is one it computes.

use std::sync::Arc;

use datafusion::common::{DataFusionError, Result, internal_err};
use datafusion::execution::TaskContext;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::aggregates::AggregateExec;
use datafusion::physical_plan::empty::EmptyExec;
use datafusion::physical_plan::execution_plan::{ChildrenPropertiesMode, ReplaceChildrenOptions};
use datafusion::physical_plan::sorts::sort::SortExec;
use datafusion::physical_plan::windows::BoundedWindowAggExec;
use datafusion_proto::physical_plan::{
    PhysicalExtensionCodec, PhysicalPlanDecodeContext, PhysicalProtoConverterExtension,
};
use datafusion_proto::protobuf::PhysicalPlanNode;
use prost::Message;

use super::shuffle_merge::ShuffleMergeExec;
use tickflow_plan::rows_window::RowsWindowExec;
use tickflow_plan::sorted_aggregate::SortedAggregateExec;

const SORTED_AGGREGATE: &[u8] = b"TFSAGG01";
const SHUFFLE_MERGE: &[u8] = b"TFSMRG01";
const ROWS_WINDOW: &[u8] = b"TFRWIN01";

/// Writes `node` if it is one of tickflow's; `Ok(false)` if it is not.
pub(crate) fn encode(
    node: &Arc<dyn ExecutionPlan>,
    buf: &mut Vec<u8>,
    codec: &dyn PhysicalExtensionCodec,
    converter: &dyn PhysicalProtoConverterExtension,
) -> Result<bool> {
    let (magic, wrapped): (_, Arc<dyn ExecutionPlan>) =
        if let Some(sorted) = node.downcast_ref::<SortedAggregateExec>() {
            (SORTED_AGGREGATE, Arc::clone(sorted.aggregate()) as _)
        } else if let Some(window) = node.downcast_ref::<RowsWindowExec>() {
            (ROWS_WINDOW, Arc::clone(window.window()) as _)
        } else if let Some(merge) = node.downcast_ref::<ShuffleMergeExec>() {
            (SHUFFLE_MERGE, Arc::clone(merge.sort()) as _)
        } else {
            return Ok(false);
        };
    let [input] = wrapped.children()[..] else {
        return internal_err!("{} has one input", node.name());
    };
    let detached = Arc::clone(&wrapped).replace_children(
        vec![Arc::new(EmptyExec::new(input.schema()))],
        ReplaceChildrenOptions::new(ChildrenPropertiesMode::Keep),
    )?;
    let proto = converter.execution_plan_to_proto(&detached, codec)?;
    buf.extend_from_slice(magic);
    proto
        .encode(buf)
        .map_err(|e| DataFusionError::Internal(format!("encoding {}: {e}", node.name())))?;
    Ok(true)
}

/// Reads a node [`encode`] wrote, over `inputs` (its one child); `None` if `buf` holds none.
pub(crate) fn decode(
    buf: &[u8],
    inputs: &[Arc<dyn ExecutionPlan>],
    ctx: &TaskContext,
    codec: &dyn PhysicalExtensionCodec,
    converter: &dyn PhysicalProtoConverterExtension,
) -> Result<Option<Arc<dyn ExecutionPlan>>> {
    let Some(magic) = [SORTED_AGGREGATE, SHUFFLE_MERGE, ROWS_WINDOW]
        .into_iter()
        .find(|magic| buf.starts_with(magic))
    else {
        return Ok(None);
    };
    let [input] = inputs else {
        return internal_err!("a tickflow node has one input, got {}", inputs.len());
    };
    let proto = PhysicalPlanNode::decode(&buf[magic.len()..])
        .map_err(|e| DataFusionError::Internal(format!("decoding a tickflow node: {e}")))?;
    let detached =
        converter.proto_to_execution_plan(&proto, &PhysicalPlanDecodeContext::new(ctx, codec))?;
    let wrapped = detached.replace_children(
        vec![Arc::clone(input)],
        ReplaceChildrenOptions::new(ChildrenPropertiesMode::Recompute),
    )?;
    if let Some(agg) = wrapped.downcast_ref::<AggregateExec>()
        && magic == SORTED_AGGREGATE
    {
        return SortedAggregateExec::or_aggregate(Arc::new(agg.clone())).map(Some);
    }
    if let Some(window) = wrapped.downcast_ref::<BoundedWindowAggExec>()
        && magic == ROWS_WINDOW
    {
        return RowsWindowExec::or_window(Arc::new(window.clone())).map(Some);
    }
    if let Some(sort) = wrapped.downcast_ref::<SortExec>()
        && magic == SHUFFLE_MERGE
    {
        let merge = ShuffleMergeExec::new(sort.expr().clone(), Arc::clone(sort.input()));
        return Ok(Some(Arc::new(merge)));
    }
    internal_err!("a tickflow node decoded as {}", wrapped.name())
}
