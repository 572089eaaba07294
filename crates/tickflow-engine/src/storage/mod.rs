//! Object storage: `s3://`, `az://` / `abfss://`, `gs://` and `http(s)://` locations wherever a
//! path is accepted, read through a local disk cache.
//!
//! - [`options`]: the `SET s3.…`, `azure.…`, `gcs.…`, `storage.…` and `cache.…` session options;
//! - [`registry`]: builds a location's store from them and the environment;
//! - [`remote_store`]: the wrapper every remote store gets (cache, errors naming the location);
//! - [`block_cache`]: the disk cache (LRU, versioned by ETag, checksummed, shared by processes).
//!
//! Every role of a query builds its runtime with [`runtime_env`]: the local session, the client
//! of a cluster, the scheduler (which lists a table's files) and each executor task (which reads
//! them), each from the settings of the session the job came from.

pub mod block_cache;
pub mod options;
pub mod registry;
pub mod remote_store;

use std::sync::Arc;

use datafusion::common::Result;
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
use datafusion::prelude::SessionConfig;

pub use options::{SessionStorage, with_storage_options};
pub use registry::StoreRegistry;

/// A runtime whose object stores follow `config`'s storage options (see [`options`]).
pub fn runtime_env(config: &SessionConfig) -> Result<Arc<RuntimeEnv>> {
    runtime_builder(config).build_arc()
}

/// [`runtime_env`] as a builder, for roles that set more (an executor's spill directory).
pub fn runtime_builder(config: &SessionConfig) -> RuntimeEnvBuilder {
    RuntimeEnvBuilder::new().with_object_store_registry(Arc::new(StoreRegistry::new(
        SessionStorage::of(config),
    )))
}
