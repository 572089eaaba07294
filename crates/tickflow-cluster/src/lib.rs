//! Everything Ballista: tickflow on an Apache Ballista 55 cluster.
//!
//! - [`client`]: contexts that submit queries to a cluster (`--cluster df://HOST:PORT`) or to a
//!   scheduler and executor started in-process (`--standalone`); [`context`] picks by
//!   [`Engine`].
//! - [`roles`]: every cluster role's session, from tickflow-engine's one session builder with
//!   [`distributed::DistributedPlanning`]; the config, the executors' function registry and the
//!   codecs that `tickflow-scheduler` and `tickflow-executor` put in Ballista's override fields
//!   ([`process`]).
//! - [`codec`]: the codecs, which wrap Ballista's own, with one module per plan extension
//!   ([`gap_fill_codec`], [`node_codec`]).
//! - Planner rules and operators only a cluster needs: [`final_after_merge`],
//!   [`shuffle_order`], [`shuffle_merge`], [`stage_plan`], [`ignore_nulls`], [`empty_relation`].
//!
//! Ballista 55 traps this crate steps around: `remote_with_state`/`standalone_with_state` replace
//! the functions of the state they are handed (tickflow's are registered on the context after);
//! the executors' default registry lacks the nested functions (theirs is built from a full
//! session); a codec that does not wrap Ballista's loses Parquet scans and shuffles; an
//! `EmptyRelation` loses its columns on the wire ([`empty_relation`]); the shuffle between stages
//! loses an order the plan relies on ([`shuffle_order`] re-sorts in the plan the scheduler makes;
//! [`stage_plan`] checks again on the executors, where the adaptive planner's stages arrive).
//!
//! A client must connect with the same codecs as the servers: `tickflow --cluster df://HOST:PORT`.
//! The map of the whole project is `ARCHITECTURE.md`.

pub mod auth;
pub mod client;
pub mod codec;
pub mod data_policy;
pub mod distributed;
pub mod empty_relation;
mod file_format_options;
pub mod final_after_merge;
mod gap_fill_codec;
pub mod ignore_nulls;
pub mod memory_table;
mod node_codec;
pub mod partition_flight;
pub mod path_tables;
pub mod process;
pub mod roles;
pub mod scheduler_service;
pub mod server_flags;
pub mod shuffle_merge;
pub mod shuffle_order;
pub mod stage_plan;
#[cfg(test)]
mod test_tables;

use datafusion::common::Result;
use datafusion::prelude::SessionContext;
use tickflow_engine::{Engine, EngineConfig};

pub use client::{readable_error, remote_context, scheduler_address, standalone_context};
pub use process::{Logging, executor_config, scheduler_config};

/// A session on the engine `config` names: local, in-process Ballista, or a Ballista cluster
/// (which must answer within a few seconds).
pub async fn context(config: &EngineConfig) -> Result<SessionContext> {
    context_with_token(config, None).await
}

/// As [`context`], sending `token` to a cluster that requires one (`--auth-token-file`).
pub async fn context_with_token(
    config: &EngineConfig,
    token: Option<&auth::AuthToken>,
) -> Result<SessionContext> {
    match &config.engine {
        Engine::Local => tickflow_engine::local_context(config),
        Engine::Standalone => {
            let slots = config
                .target_partitions
                .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
            standalone_context(config.session_config(), slots).await
        }
        Engine::Cluster(url) => remote_context(url, config.session_config(), token).await,
    }
}
