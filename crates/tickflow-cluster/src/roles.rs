//! What the server processes need from tickflow: the values `tickflow-scheduler` and
//! `tickflow-executor` put in Ballista's override fields.
//!
//! The scheduler builds a session for every job (from the client's settings) and plans it there;
//! the executors decode physical stages against a function registry. Both must know every
//! function a client may name, DataFusion's (including the nested/array ones the executors'
//! default registry lacks) and tickflow's, and both must use tickflow's codecs.

use std::sync::Arc;

use ballista_core::registry::BallistaFunctionRegistry;
use ballista_core::utils::default_session_builder;
use datafusion::common::Result;
use datafusion::execution::SessionState;
use datafusion::prelude::SessionConfig;
use datafusion_proto::logical_plan::LogicalExtensionCodec;
use datafusion_proto::physical_plan::PhysicalExtensionCodec;

use tickflow_engine::Role;
use tickflow_plan::PlanExtension;

use crate::codec::{TickflowLogicalCodec, TickflowPhysicalCodec};
use crate::data_policy::{DataPolicy, server_runtime, write_check};
use crate::distributed::DistributedPlanning;
use datafusion::execution::session_state::SessionStateBuilder;

/// The settings a server session starts from (Ballista's, with `information_schema` on and
/// tickflow's codecs); a client's own settings are applied on top.
///
/// Adaptive query planning is off here, which only matters for sessions that bring no settings
/// of their own: Flight SQL's. Ballista 55's Flight SQL service announces the schema of the
/// job's "final stage", and under adaptive planning it picks a stage that is not final (the
/// partial aggregation: `endpoint 0 returned inconsistent schema`, so ADBC rejects the result).
/// `tickflow --cluster` sends its own settings, adaptive planning included.
pub fn session_config() -> SessionConfig {
    use ballista_core::extension::SessionConfigExt;
    tickflow_engine::storage::with_storage_options(SessionConfig::new_with_ballista())
        .with_ballista_adaptive_query_planner(false)
        .with_information_schema(true)
        .with_ballista_logical_extension_codec(logical_codec())
        .with_ballista_physical_extension_codec(physical_codec())
}

/// The Ballista roles tickflow builds sessions for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClusterRole {
    /// Plans SQL and submits the logical plan (`--cluster`, `--standalone`).
    Client,
    /// Plans a job's stages, for clients and for Flight SQL.
    Scheduler,
    /// Decodes and runs stages; its session gives the function registry.
    Executor,
}

/// What planning for a cluster adds to tickflow's plan extensions.
pub fn extension() -> Arc<dyn PlanExtension> {
    Arc::new(DistributedPlanning)
}

/// The session of `role` with `config`: tickflow-engine's one session builder with
/// [`DistributedPlanning`]. The servers start from Ballista's default session (its optimizer
/// rules and functions), so SQL sent over Flight SQL can name Ballista's functions and
/// tickflow's alike; the client starts from DataFusion's.
pub fn session_state(role: ClusterRole, config: SessionConfig) -> Result<SessionState> {
    let base = match role {
        ClusterRole::Client => None,
        ClusterRole::Scheduler | ClusterRole::Executor => {
            Some(Box::new(default_session_builder(config.clone())?))
        }
    };
    let role = Role::Cluster {
        base,
        extension: extension(),
    };
    tickflow_engine::session_state(role, config)
}

/// The scheduler's session for a job (Ballista's override session builder). Flight SQL text is
/// planned here, so files can be queried by path as in a local session
/// ([`crate::path_tables`]); every location it lists or reads follows `policy`, and the job's
/// `cache.*` settings are ignored ([`crate::data_policy`]).
pub fn scheduler_session(
    config: SessionConfig,
    policy: Option<&Arc<DataPolicy>>,
) -> Result<SessionState> {
    let runtime = server_runtime(&config, policy).build_arc()?;
    let state = session_state(ClusterRole::Scheduler, config)?;
    let mut builder = SessionStateBuilder::new_from_existing(state).with_runtime_env(runtime);
    if let Some(policy) = policy {
        builder = builder.with_physical_optimizer_rule(write_check(Arc::clone(policy)));
    }
    let state = builder.build();
    Ok(crate::path_tables::with_path_tables(state))
}

/// The executors' function registry, taken from a full session (DataFusion's scalar, nested,
/// aggregate and window functions, and tickflow's).
pub fn function_registry() -> Result<BallistaFunctionRegistry> {
    let state = session_state(ClusterRole::Executor, session_config())?;
    Ok(BallistaFunctionRegistry::from(&state))
}

/// The runtime of an executor's task, built from the settings of the job's session: its object
/// stores follow the client's `SET s3.…` and friends ([`tickflow_engine::storage`]) but not its
/// `cache.*`, under `policy` ([`crate::data_policy`]); spill files go to the executor's work
/// directory, as with Ballista's own producer.
pub fn task_runtime(
    work_dir: Option<String>,
    policy: Option<Arc<DataPolicy>>,
) -> impl Fn(&SessionConfig) -> Result<Arc<datafusion::execution::runtime_env::RuntimeEnv>> {
    move |config: &SessionConfig| {
        let mut builder = server_runtime(config, policy.as_ref());
        if let Some(dir) = &work_dir {
            builder = builder.with_temp_file_path(dir.clone());
        }
        builder.build_arc()
    }
}

/// The logical codec: Ballista's, plus tickflow's functions.
pub fn logical_codec() -> Arc<dyn LogicalExtensionCodec> {
    Arc::new(TickflowLogicalCodec::default())
}

/// The physical codec: Ballista's, plus tickflow's functions.
pub fn physical_codec() -> Arc<dyn PhysicalExtensionCodec> {
    Arc::new(TickflowPhysicalCodec::default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::execution::FunctionRegistry;

    #[test]
    fn the_registry_has_nested_and_tickflow_functions() -> Result<()> {
        let registry = function_registry()?;
        for name in ["ohlc", "vwap", "bar_std", "total_volume"] {
            assert!(registry.udaf(name).is_ok(), "{name}");
        }
        // `make_array` is one of the nested functions Ballista's default registry lacks.
        for name in ["time_bucket", "time_buckets", "make_array"] {
            assert!(registry.udf(name).is_ok(), "{name}");
        }
        Ok(())
    }

    #[tokio::test]
    async fn the_scheduler_session_plans_tickflow_sql() -> Result<()> {
        let ctx = datafusion::prelude::SessionContext::new_with_state(scheduler_session(
            session_config(),
            None,
        )?);
        let batches = ctx
            .sql("SELECT count(*) FROM time_bucket('1 hour', TIMESTAMP '2024-01-02 00:00:00', TIMESTAMP '2024-01-03 00:00:00')")
            .await?
            .collect()
            .await?;
        assert_eq!(
            datafusion::arrow::util::pretty::pretty_format_batches(&batches)?.to_string(),
            "+----------+\n| count(*) |\n+----------+\n| 24       |\n+----------+"
        );
        Ok(())
    }
}
