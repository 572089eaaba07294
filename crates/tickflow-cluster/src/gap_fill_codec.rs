//! Ships gap filling to Ballista: the `GapFill` logical node from the client to the scheduler,
//! and `GapFillExec` from the scheduler to the executors.
//!
//! Both travel as small protobuf messages after a magic prefix: the logical node as its
//! expressions (DataFusion's own protobuf form) plus its shape, the physical node as column
//! indices, the grid's constants and the fill kinds. Its input travels as its child, as for every
//! extension node.

use std::sync::Arc;

use datafusion::common::{DataFusionError, Result, ScalarValue, internal_err};
use datafusion::execution::TaskContext;
use datafusion::logical_expr::{Extension, LogicalPlan};
use datafusion::physical_plan::ExecutionPlan;
use datafusion_proto::logical_plan::LogicalExtensionCodec;
use datafusion_proto::logical_plan::from_proto::parse_exprs;
use datafusion_proto::logical_plan::to_proto::serialize_exprs;
use datafusion_proto::protobuf;
use prost::Message;
use tickflow_plan::gap_fill::GridSpec;
use tickflow_plan::gap_fill::{FillKind, GapFill, GapFillExec, GapFillParams, GapFillShape};

const LOGICAL: &[u8] = b"TFGAPL01";
const PHYSICAL: &[u8] = b"TFGAPP01";

#[derive(Clone, PartialEq, Message)]
struct GapValueProto {
    #[prost(uint32, tag = "1")]
    column: u32,
    #[prost(message, optional, tag = "2")]
    value: Option<protobuf::ScalarValue>,
}

#[derive(Clone, PartialEq, Message)]
struct GapFillNodeProto {
    #[prost(message, repeated, tag = "1")]
    exprs: Vec<protobuf::LogicalExprNode>,
    #[prost(uint32, tag = "2")]
    series: u32,
    #[prost(bool, tag = "3")]
    has_anchor: bool,
    #[prost(string, optional, tag = "4")]
    calendar: Option<String>,
    #[prost(bool, repeated, tag = "5")]
    lower_inclusive: Vec<bool>,
    #[prost(bool, repeated, tag = "6")]
    upper_inclusive: Vec<bool>,
    #[prost(message, repeated, tag = "7")]
    gap_values: Vec<GapValueProto>,
    #[prost(uint32, repeated, tag = "8")]
    fills: Vec<u32>,
}

#[derive(Clone, PartialEq, Message)]
struct GapFillExecProto {
    #[prost(uint32, repeated, tag = "1")]
    series: Vec<u32>,
    #[prost(uint32, tag = "2")]
    time: u32,
    #[prost(message, optional, tag = "3")]
    width: Option<protobuf::ScalarValue>,
    #[prost(message, optional, tag = "4")]
    anchor: Option<protobuf::ScalarValue>,
    #[prost(string, optional, tag = "5")]
    calendar: Option<String>,
    #[prost(int64, tag = "6")]
    lower_ns: i64,
    #[prost(int64, tag = "7")]
    upper_ns: i64,
    #[prost(bool, tag = "8")]
    upper_inclusive: bool,
    #[prost(message, repeated, tag = "9")]
    gap_values: Vec<GapValueProto>,
    #[prost(uint32, repeated, tag = "10")]
    fill_columns: Vec<u32>,
    #[prost(uint32, repeated, tag = "11")]
    fill_kinds: Vec<u32>,
}

fn kind_code(kind: FillKind) -> u32 {
    match kind {
        FillKind::Locf => 0,
        FillKind::Interpolate => 1,
    }
}

fn kind_of(code: u32) -> Result<FillKind> {
    match code {
        0 => Ok(FillKind::Locf),
        1 => Ok(FillKind::Interpolate),
        other => internal_err!("unknown gap fill kind {other}"),
    }
}

fn scalar_to_proto(value: &ScalarValue) -> Result<protobuf::ScalarValue> {
    protobuf::ScalarValue::try_from(value)
        .map_err(|e| DataFusionError::Internal(format!("encoding {value}: {e}")))
}

fn scalar_from_proto(value: Option<&protobuf::ScalarValue>) -> Result<ScalarValue> {
    match value {
        Some(v) => ScalarValue::try_from(v)
            .map_err(|e| DataFusionError::Internal(format!("decoding a gap fill value: {e}"))),
        None => internal_err!("a gap fill value is missing"),
    }
}

fn gap_values_to_proto(values: &[(usize, ScalarValue)]) -> Result<Vec<GapValueProto>> {
    values
        .iter()
        .map(|(column, value)| {
            Ok(GapValueProto {
                column: *column as u32,
                value: Some(scalar_to_proto(value)?),
            })
        })
        .collect()
}

fn gap_values_from_proto(values: &[GapValueProto]) -> Result<Vec<(usize, ScalarValue)>> {
    values
        .iter()
        .map(|v| Ok((v.column as usize, scalar_from_proto(v.value.as_ref())?)))
        .collect()
}

/// Writes `magic` and then `proto` to `buf`.
fn write(magic: &[u8], proto: &impl Message, buf: &mut Vec<u8>, what: &str) -> Result<bool> {
    buf.extend_from_slice(magic);
    proto
        .encode(buf)
        .map_err(|e| DataFusionError::Internal(format!("encoding {what}: {e}")))?;
    Ok(true)
}

fn decode_error(what: &str, e: prost::DecodeError) -> DataFusionError {
    DataFusionError::Internal(format!("decoding {what}: {e}"))
}

/// Writes `node` if it is a `GapFill`; `Ok(false)` if it is not.
pub(crate) fn encode_logical(
    node: &Extension,
    buf: &mut Vec<u8>,
    codec: &dyn LogicalExtensionCodec,
) -> Result<bool> {
    let Some(gap) = node.node.as_any().downcast_ref::<GapFill>() else {
        return Ok(false);
    };
    use datafusion::logical_expr::UserDefinedLogicalNodeCore;
    let shape = gap.shape();
    let proto = GapFillNodeProto {
        exprs: serialize_exprs(&gap.expressions(), codec)?,
        series: shape.series as u32,
        has_anchor: shape.has_anchor,
        calendar: shape.calendar,
        lower_inclusive: shape.lower_inclusive,
        upper_inclusive: shape.upper_inclusive,
        gap_values: gap_values_to_proto(&shape.gap_values)?,
        fills: shape.fills.into_iter().map(kind_code).collect(),
    };
    write(LOGICAL, &proto, buf, "GapFill")
}

/// Reads a node [`encode_logical`] wrote; `None` if `buf` holds none.
pub(crate) fn decode_logical(
    buf: &[u8],
    inputs: &[LogicalPlan],
    ctx: &TaskContext,
    codec: &dyn LogicalExtensionCodec,
) -> Result<Option<Extension>> {
    let Some(body) = buf.strip_prefix(LOGICAL) else {
        return Ok(None);
    };
    let [input] = inputs else {
        return internal_err!("GapFill has one input, got {}", inputs.len());
    };
    let proto = GapFillNodeProto::decode(body).map_err(|e| decode_error("GapFill", e))?;
    let exprs = parse_exprs(&proto.exprs, ctx, codec)?;
    let shape = GapFillShape {
        series: proto.series as usize,
        has_anchor: proto.has_anchor,
        calendar: proto.calendar,
        lower_inclusive: proto.lower_inclusive,
        upper_inclusive: proto.upper_inclusive,
        gap_values: gap_values_from_proto(&proto.gap_values)?,
        fills: proto
            .fills
            .into_iter()
            .map(kind_of)
            .collect::<Result<_>>()?,
    };
    let node = GapFill::from_shape(shape, exprs, input.clone())?;
    Ok(Some(Extension {
        node: Arc::new(node),
    }))
}

/// Writes `node` if it is a `GapFillExec`; `Ok(false)` if it is not.
pub(crate) fn encode_physical(node: &Arc<dyn ExecutionPlan>, buf: &mut Vec<u8>) -> Result<bool> {
    let Some(exec) = node.downcast_ref::<GapFillExec>() else {
        return Ok(false);
    };
    let params = exec.params();
    let grid = &params.grid;
    let proto = GapFillExecProto {
        series: params.series.iter().map(|&i| i as u32).collect(),
        time: params.time as u32,
        width: Some(scalar_to_proto(&grid.width)?),
        anchor: grid.anchor.as_ref().map(scalar_to_proto).transpose()?,
        calendar: grid.calendar.clone(),
        lower_ns: grid.lower_ns,
        upper_ns: grid.upper_ns,
        upper_inclusive: grid.upper_inclusive,
        gap_values: gap_values_to_proto(&params.gap_values)?,
        fill_columns: params.fills.iter().map(|(i, _)| *i as u32).collect(),
        fill_kinds: params.fills.iter().map(|(_, k)| kind_code(*k)).collect(),
    };
    write(PHYSICAL, &proto, buf, "GapFillExec")
}

/// Reads a node [`encode_physical`] wrote, over `inputs`; `None` if `buf` holds none.
pub(crate) fn decode_physical(
    buf: &[u8],
    inputs: &[Arc<dyn ExecutionPlan>],
) -> Result<Option<Arc<dyn ExecutionPlan>>> {
    let Some(body) = buf.strip_prefix(PHYSICAL) else {
        return Ok(None);
    };
    let [input] = inputs else {
        return internal_err!("GapFillExec has one input, got {}", inputs.len());
    };
    let proto = GapFillExecProto::decode(body).map_err(|e| decode_error("GapFillExec", e))?;
    let params = GapFillParams {
        series: proto.series.iter().map(|&i| i as usize).collect(),
        time: proto.time as usize,
        grid: GridSpec {
            width: scalar_from_proto(proto.width.as_ref())?,
            anchor: proto
                .anchor
                .as_ref()
                .map(|a| scalar_from_proto(Some(a)))
                .transpose()?,
            calendar: proto.calendar,
            lower_ns: proto.lower_ns,
            upper_ns: proto.upper_ns,
            upper_inclusive: proto.upper_inclusive,
        },
        gap_values: gap_values_from_proto(&proto.gap_values)?,
        fills: proto
            .fill_columns
            .iter()
            .zip(&proto.fill_kinds)
            .map(|(&i, &k)| Ok((i as usize, kind_of(k)?)))
            .collect::<Result<_>>()?,
    };
    Ok(Some(Arc::new(GapFillExec::try_new(
        Arc::clone(input),
        params,
    )?)))
}
