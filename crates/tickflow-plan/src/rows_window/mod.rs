//! Sliding ROWS-frame aggregates in one pass over each partition.
//!
//! `avg(close) OVER (PARTITION BY symbol ORDER BY ts ROWS BETWEEN 19 PRECEDING AND CURRENT
//! ROW)` and a `stddev` over the same frame are how moving averages and rolling volatility are
//! written. DataFusion 55's `BoundedWindowAggExec` evaluates such a frame a row at a time
//! through the `Accumulator` API (per row: slice the argument for the rows entering and leaving
//! the frame, two dynamic calls, one `ScalarValue`), which is most of such a query's time.
//! [`RowsWindowExec`] runs the same steps as a tight loop over native values, carrying the
//! frame's tail across input batches and starting afresh at each partition.
//!
//! [`UseRowsWindow`] ([`rule`]) swaps a `BoundedWindowAggExec` for a [`RowsWindowExec`] only
//! when its input is sorted by the PARTITION BY keys (`mode=[Sorted]`) and **every** window
//! expression in it is one of DataFusion's own aggregates below over a ROWS frame
//! (`ROWS BETWEEN {UNBOUNDED | n} PRECEDING | CURRENT ROW | n FOLLOWING AND n PRECEDING |
//! CURRENT ROW | n FOLLOWING`), without DISTINCT or FILTER; any other window is left alone:
//!
//! | function | argument (after DataFusion's coercion) |
//! |---|---|
//! | `sum` | BIGINT, BIGINT UNSIGNED, DOUBLE, DECIMAL(p, s) (up to 38 digits) |
//! | `avg` | DOUBLE (integers and floats are cast to it by DataFusion) |
//! | `count` | any (and `count(*)`) |
//! | `min`, `max` | integers, floats, DECIMAL (up to 38 digits), dates, timestamps |
//! | `var`/`var_samp`, `var_pop`, `stddev`/`stddev_samp`, `stddev_pop` | DOUBLE |
//!
//! **Results.** Each aggregate repeats DataFusion's accumulator arithmetic in DataFusion's
//! order ([`aggs`]): the frame's new rows are added, then the rows that left it are retracted,
//! with the same running sums (`sum`, `avg`), Welford updates and retractions (`var`,
//! `stddev`) and monotonic deques (`min`, `max`). Integers and decimals are exact (and wrap on
//! overflow exactly as DataFusion's window `sum` does); floats are the same bits as
//! DataFusion's, infinities and -0.0 included, and NaN where DataFusion gives NaN — but the
//! sign and payload bits of a NaN may differ: Rust does not specify them for a NaN an
//! operation produces (e.g. `inf - inf`, or NaN + NaN, whose operands LLVM may swap), so they
//! depend on code generation, in DataFusion's build as in this one. The other place the bits could differ is a
//! float `sum`/`avg` over a frame that starts at `n FOLLOWING` or ends at `n FOLLOWING`: the
//! rows entering the first frame of a partition together are summed by `arrow::compute::sum`,
//! as in DataFusion, whose lane order depends on the SIMD width Arrow was compiled for; both
//! use the same Arrow build, so they agree within one binary. NULLs are skipped, an empty frame
//! gives NULL (0 for `count`), a partition shorter than the frame gives the frame it has.
//!
//! ```sql
//! EXPLAIN SELECT symbol, ts,
//!   avg(close) OVER w AS ma20, stddev(close) OVER w AS vol20
//! FROM bars WINDOW w AS (PARTITION BY symbol ORDER BY ts
//!   ROWS BETWEEN 19 PRECEDING AND CURRENT ROW);
//! -- RowsWindowExec: wdw=[avg(bars.close) ..., stddev(bars.close) ...], mode=[Sorted]
//! ```
//!
//! On a cluster the node travels to executors as the `BoundedWindowAggExec` it wraps
//! (tickflow-cluster's `node_codec`) and is rebuilt there.

mod aggs;
mod exec;
mod frame;
mod kernel;
mod rule;
mod spec;
mod stream;

use std::sync::Arc;

use crate::{PhysicalRule, PhysicalStage, PlanExtension};

pub use exec::RowsWindowExec;
pub use rule::UseRowsWindow;

/// The rows window as a plan extension: [`UseRowsWindow`] after DataFusion's physical rules,
/// once the window's input order and mode are settled.
#[derive(Debug, Default)]
pub struct RowsWindowExtension;

impl PlanExtension for RowsWindowExtension {
    fn name(&self) -> &'static str {
        "rows_window"
    }

    fn physical_rules(&self) -> Vec<(PhysicalStage, PhysicalRule)> {
        vec![(PhysicalStage::Last, Arc::new(UseRowsWindow))]
    }
}

#[cfg(test)]
mod tests;
