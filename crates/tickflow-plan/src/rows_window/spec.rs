//! [`KernelSpec`]: which window expressions the rows window computes, and its kernel for each.

use std::any::Any;
use std::sync::Arc;

use datafusion::arrow::datatypes::{
    DataType, Date32Type, Date64Type, Decimal128Type, Float32Type, Float64Type, Int8Type,
    Int16Type, Int32Type, Int64Type, Schema, TimeUnit, TimestampMicrosecondType,
    TimestampMillisecondType, TimestampNanosecondType, TimestampSecondType, UInt8Type, UInt16Type,
    UInt32Type, UInt64Type,
};
use datafusion::common::Result;
use datafusion::functions_aggregate::average::Avg as AvgUdaf;
use datafusion::functions_aggregate::count::Count as CountUdaf;
use datafusion::functions_aggregate::min_max::{Max as MaxUdaf, Min as MinUdaf};
use datafusion::functions_aggregate::stddev::{Stddev, StddevPop};
use datafusion::functions_aggregate::sum::Sum as SumUdaf;
use datafusion::functions_aggregate::variance::{VariancePopulation, VarianceSample};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr::aggregate::AggregateFunctionExpr;
use datafusion::physical_expr::window::{
    PlainAggregateWindowExpr, SlidingAggregateWindowExpr, WindowExpr,
};

use super::aggs::{Avg, Count, Extreme, Statistic, Sum, Variance};
use super::frame::RowsFrame;
use super::kernel::{FrameKernel, Framed};

/// Whether the aggregate window expression `expr` has no `FILTER (WHERE ..)`. DataFusion 55
/// keeps the filter's accessor (`AggregateWindowExpr::filter_expr`) in a private module, so
/// this reads the expression's `Debug` form, whose last field is the filter in both
/// `SlidingAggregateWindowExpr` and `PlainAggregateWindowExpr`. Anything else reads as
/// filtered, so an unexpected form leaves the window to DataFusion.
fn has_no_filter(expr: &Arc<dyn WindowExpr>) -> bool {
    format!("{expr:?}").ends_with("filter: None }")
}

/// The aggregate a window expression computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Function {
    Sum,
    Avg,
    Count,
    Min,
    Max,
    Statistic(Statistic),
}

/// One window expression the rows window computes: its function, argument, types and frame.
#[derive(Debug, Clone)]
pub(crate) struct KernelSpec {
    function: Function,
    argument: Arc<dyn PhysicalExpr>,
    /// The argument's type (after DataFusion's coercion).
    input: DataType,
    /// The result's type.
    output: DataType,
    pub(crate) frame: RowsFrame,
}

impl KernelSpec {
    /// The spec of `expr` over `schema`, or `None` if the rows window does not compute it: it
    /// must be one of DataFusion's own `sum`, `avg`, `count`, `min`, `max`, `var`, `var_pop`,
    /// `stddev`, `stddev_pop` over one argument of a supported type, without DISTINCT, IGNORE
    /// NULLS or FILTER, over a ROWS frame with a bounded end.
    pub(crate) fn of(expr: &Arc<dyn WindowExpr>, schema: &Schema) -> Result<Option<Self>> {
        let any = expr.as_any();
        let aggregate: &AggregateFunctionExpr =
            if let Some(sliding) = any.downcast_ref::<SlidingAggregateWindowExpr>() {
                sliding.get_aggregate_expr()
            } else if let Some(plain) = any.downcast_ref::<PlainAggregateWindowExpr>() {
                plain.get_aggregate_expr()
            } else {
                return Ok(None);
            };
        if aggregate.is_distinct() || aggregate.ignore_nulls() || !has_no_filter(expr) {
            return Ok(None);
        }
        let Some(frame) = RowsFrame::of(expr.get_window_frame()) else {
            return Ok(None);
        };
        let inner: &dyn Any = aggregate.fun().inner().as_ref();
        let function = if inner.is::<SumUdaf>() {
            Function::Sum
        } else if inner.is::<AvgUdaf>() {
            Function::Avg
        } else if inner.is::<CountUdaf>() {
            Function::Count
        } else if inner.is::<MinUdaf>() {
            Function::Min
        } else if inner.is::<MaxUdaf>() {
            Function::Max
        } else if inner.is::<VarianceSample>() {
            Function::Statistic(Statistic::VarianceSample)
        } else if inner.is::<VariancePopulation>() {
            Function::Statistic(Statistic::VariancePopulation)
        } else if inner.is::<Stddev>() {
            Function::Statistic(Statistic::StddevSample)
        } else if inner.is::<StddevPop>() {
            Function::Statistic(Statistic::StddevPopulation)
        } else {
            return Ok(None);
        };
        let [argument] = &aggregate.expressions()[..] else {
            return Ok(None);
        };
        let input = argument.data_type(schema)?;
        let output = aggregate.field().data_type().clone();
        let spec = Self {
            function,
            argument: Arc::clone(argument),
            input,
            output,
            frame,
        };
        Ok(spec.types_supported().then_some(spec))
    }

    /// Whether the argument and result types are ones the kernels compute as DataFusion does.
    fn types_supported(&self) -> bool {
        use DataType::*;
        match self.function {
            Function::Sum => match (&self.input, &self.output) {
                (Int64, Int64) | (UInt64, UInt64) | (Float64, Float64) => true,
                (Decimal128(_, s), Decimal128(_, t)) => s == t,
                _ => false,
            },
            Function::Avg | Function::Statistic(_) => {
                self.input == Float64 && self.output == Float64
            }
            Function::Count => self.output == Int64,
            Function::Min | Function::Max => {
                self.input == self.output && self.extreme::<false>().is_some()
            }
        }
    }

    /// The argument, evaluated per batch.
    pub(crate) fn argument(&self) -> &Arc<dyn PhysicalExpr> {
        &self.argument
    }

    /// A new kernel for this expression.
    pub(crate) fn kernel(&self) -> Option<Box<dyn FrameKernel>> {
        let frame = self.frame;
        let out = self.output.clone();
        Some(match self.function {
            Function::Sum => match &self.input {
                DataType::Int64 => Box::new(Framed::new(frame, Sum::<Int64Type>::new(out))),
                DataType::UInt64 => Box::new(Framed::new(frame, Sum::<UInt64Type>::new(out))),
                DataType::Float64 => Box::new(Framed::new(frame, Sum::<Float64Type>::new(out))),
                DataType::Decimal128(..) => {
                    Box::new(Framed::new(frame, Sum::<Decimal128Type>::new(out)))
                }
                _ => return None,
            },
            Function::Avg => Box::new(Framed::new(frame, Avg::new())),
            Function::Count => Box::new(Framed::new(frame, Count::new())),
            Function::Statistic(statistic) => {
                Box::new(Framed::new(frame, Variance::new(statistic)))
            }
            Function::Min => return self.extreme::<false>(),
            Function::Max => return self.extreme::<true>(),
        })
    }

    /// A `min` (`MAX = false`) or `max` kernel for the argument's type.
    fn extreme<const MAX: bool>(&self) -> Option<Box<dyn FrameKernel>> {
        let frame = self.frame;
        let t = self.output.clone();
        macro_rules! kernel {
            ($type:ty) => {
                Box::new(Framed::new(frame, Extreme::<$type, MAX>::new(t)))
            };
        }
        Some(match &self.input {
            DataType::Int8 => kernel!(Int8Type),
            DataType::Int16 => kernel!(Int16Type),
            DataType::Int32 => kernel!(Int32Type),
            DataType::Int64 => kernel!(Int64Type),
            DataType::UInt8 => kernel!(UInt8Type),
            DataType::UInt16 => kernel!(UInt16Type),
            DataType::UInt32 => kernel!(UInt32Type),
            DataType::UInt64 => kernel!(UInt64Type),
            DataType::Float32 => kernel!(Float32Type),
            DataType::Float64 => kernel!(Float64Type),
            DataType::Decimal128(..) => kernel!(Decimal128Type),
            DataType::Date32 => kernel!(Date32Type),
            DataType::Date64 => kernel!(Date64Type),
            DataType::Timestamp(TimeUnit::Second, _) => kernel!(TimestampSecondType),
            DataType::Timestamp(TimeUnit::Millisecond, _) => kernel!(TimestampMillisecondType),
            DataType::Timestamp(TimeUnit::Microsecond, _) => kernel!(TimestampMicrosecondType),
            DataType::Timestamp(TimeUnit::Nanosecond, _) => kernel!(TimestampNanosecondType),
            _ => return None,
        })
    }
}
