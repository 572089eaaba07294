//! Aggregation over input sorted by its GROUP BY keys, without a hash table.
//!
//! Bars are a GROUP BY over (symbol, time bucket), and tickflow's ingest writes trades ordered
//! by (symbol, ts). When DataFusion knows that order (`WITH ORDER (symbol ASC, ts ASC)`, as
//! `tickflow ingest` registers its tables), it plans the aggregation with
//! `ordering_mode=Sorted` — but DataFusion 55 still interns every row's key in a hash table
//! (benches/RESULTS.md has the profile). On sorted input the
//! rows of one group are adjacent, so the groups are simply the runs of equal keys: found by
//! comparing each row with the previous one, vectorized, and aggregated with the same
//! `GroupsAccumulator`s DataFusion uses. Memory stays bounded by one output batch.
//!
//! [`UseSortedAggregate`] ([`rule`]) is a physical optimizer rule that swaps every `AggregateExec` whose
//! input is fully sorted on its GROUP BY keys (`InputOrderMode::Sorted`; no grouping sets, no
//! limit) for a [`SortedAggregateExec`]; everything else is left alone. The results are the
//! same rows, in the same order, as DataFusion's own operator gives.
//!
//! [`OneFilePerPartition`] keeps a declared order alive when a table has more files than
//! partitions (a date-partitioned table), so that the aggregation is sorted in the first place.
//!
//! ```sql
//! CREATE EXTERNAL TABLE trades STORED AS PARQUET LOCATION 'trades/'
//!   WITH ORDER (symbol ASC, ts ASC);
//! EXPLAIN SELECT symbol, time_bucket(INTERVAL '1 minute', ts), vwap(price, size)
//! FROM trades GROUP BY 1, 2;
//! -- SortedAggregateExec: mode=Partial, gby=[symbol, time_bucket(..)], aggr=[vwap(..)]
//! ```

mod exec;
mod file_order;
mod rule;
mod stream;

use std::sync::Arc;

use crate::{PhysicalRule, PhysicalStage, PlanExtension};

pub use exec::SortedAggregateExec;
pub use file_order::{MAX_FILES, OneFilePerPartition};
pub use rule::UseSortedAggregate;

/// Sorted aggregation as a plan extension: [`OneFilePerPartition`] before DataFusion's physical
/// rules (so the plan is made around sorted partitions) and [`UseSortedAggregate`] after every
/// other rule (once distribution and ordering are settled, and after any rule that still looks
/// for DataFusion's `AggregateExec`).
#[derive(Debug, Default)]
pub struct SortedAggregateExtension;

impl PlanExtension for SortedAggregateExtension {
    fn name(&self) -> &'static str {
        "sorted_aggregate"
    }

    fn physical_rules(&self) -> Vec<(PhysicalStage, PhysicalRule)> {
        vec![
            (
                PhysicalStage::BeforeDataFusion,
                Arc::new(OneFilePerPartition),
            ),
            (PhysicalStage::Last, Arc::new(UseSortedAggregate)),
        ]
    }
}

#[cfg(test)]
mod tests;
