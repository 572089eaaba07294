//! Distributed execution on Apache Ballista 55.
//!
//! - [`client`]: contexts that submit queries to a cluster (`--cluster df://HOST:PORT`) or to a
//!   scheduler and executor started in-process (`--standalone`).
//! - [`roles`]: what `tickflow-scheduler` and `tickflow-executor` put in Ballista's override
//!   fields: the session builder, the config, the executors' function registry, the codecs.
//! - [`codec`]: the codecs, which wrap Ballista's own.
//!
//! Ballista 55 traps this module steps around: `remote_with_state`/`standalone_with_state` replace
//! the functions of the state they are handed (tickflow's are registered on the context after);
//! the executors' default registry lacks the nested functions (theirs is built from a full
//! session); a codec that does not wrap Ballista's loses Parquet scans and shuffles; an
//! `EmptyRelation` loses its columns on the wire ([`empty_relation`]); the shuffle between stages
//! loses an order the plan relies on ([`shuffle_order`] re-sorts in the plan the scheduler makes;
//! [`stage_plan`] checks again on the executors, where the adaptive planner's stages arrive).

pub mod client;
pub mod codec;
pub mod empty_relation;
mod file_format_options;
pub mod final_after_merge;
mod gap_fill_codec;
pub mod ignore_nulls;
pub mod memory_table;
mod node_codec;
pub mod roles;
pub mod shuffle_merge;
pub mod shuffle_order;
pub mod stage_plan;

pub use client::{readable_error, remote_context, scheduler_address, standalone_context};

/// The physical rules of a session that plans for Ballista: tickflow's local ones,
/// [`final_after_merge::FinalAfterMerge`] because a shuffle costs more than finishing a sorted
/// aggregation in the task that takes its result, and [`shuffle_order::ResortAfterShuffle`]
/// because the shuffle between stages loses order.
pub(crate) fn with_cluster_rules(
    builder: datafusion::execution::session_state::SessionStateBuilder,
) -> datafusion::execution::session_state::SessionStateBuilder {
    use std::sync::Arc;
    builder.with_physical_optimizer_rules(crate::sorted_aggregate::physical_optimizer_rules_with([
        Arc::new(final_after_merge::FinalAfterMerge) as _,
        Arc::new(shuffle_order::ResortAfterShuffle) as _,
    ]))
}
