//! Object storage: `s3://`, `az://` / `abfss://`, `gs://` and `http(s)://` locations wherever a
//! path is accepted, read through a local disk cache.
//!
//! - [`options`]: the `SET s3.…`, `azure.…`, `gcs.…`, `storage.…` and `cache.…` session options;
//! - [`registry`]: builds a location's store from them and the environment;
//! - [`remote_store`]: the wrapper every remote store gets (cache, errors naming the location);
//! - [`block_cache`]: the disk cache (LRU, versioned by ETag, checksummed, shared by processes);
//! - [`prefix`]: a directory or prefix listed one level deep and read by name (the files ingest
//!   and watch read).
//!
//! Every role of a query builds its runtime with [`runtime_env`]: the local session, the client
//! of a cluster, the scheduler (which lists a table's files) and each executor task (which reads
//! them), each from the settings of the session the job came from.

pub mod block_cache;
pub mod options;
pub mod prefix;
pub mod registry;
pub mod remote_store;

use std::sync::Arc;

use datafusion::common::Result;
use datafusion::execution::cache::cache_manager::CacheManagerConfig;
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
use datafusion::prelude::SessionConfig;

pub use options::{SessionStorage, with_storage_options};
pub use registry::StoreRegistry;

/// A runtime whose object stores follow `config`'s storage options (see [`options`]).
/// A `TICKFLOW_CACHE*` variable that cannot be used is an error here, when the session is
/// made, not when (or if) a remote object is first read.
pub fn runtime_env(config: &SessionConfig) -> Result<Arc<RuntimeEnv>> {
    check_environment()?;
    runtime_builder(config).build_arc()
}

/// Refuses `TICKFLOW_CACHE`, `TICKFLOW_CACHE_SIZE` values that cannot be used
/// (`TICKFLOW_CACHE_SIZE=-5`), naming the variable; every command checks them before it starts.
pub fn check_environment() -> Result<()> {
    registry::CacheSettings::of(&Default::default()).map(|_| ())
}

/// [`runtime_env`] as a builder, for roles that set more (an executor's spill directory).
///
/// DataFusion 55 keeps a table's file listing for the life of the runtime by default; tickflow
/// lists again for every query (one LIST request per prefix), so a file that arrived, or an
/// object that was replaced, is part of the next query's answer.
pub fn runtime_builder(config: &SessionConfig) -> RuntimeEnvBuilder {
    RuntimeEnvBuilder::new()
        .with_object_store_registry(Arc::new(StoreRegistry::new(SessionStorage::of(config))))
        .with_cache_manager(CacheManagerConfig::default().with_list_files_cache_limit(0))
}

/// `\cache`: every disk cache this process has read through, with its size and counters.
pub fn cache_report() -> String {
    let caches = block_cache::opened();
    if caches.is_empty() {
        return match registry::CacheSettings::of(&Default::default()) {
            Ok(Some(settings)) => format!(
                "no remote object has been read in this process yet; the cache is {} \
                 (cache.dir, TICKFLOW_CACHE_DIR), bounded to {} (cache.max_size, \
                 TICKFLOW_CACHE_SIZE); cache.enabled or TICKFLOW_CACHE=off turns it off\n",
                settings.dir.display(),
                block_cache::human_bytes(settings.max_size)
            ),
            Ok(None) => "the object cache is off (TICKFLOW_CACHE)\n".to_string(),
            Err(e) => format!("{e}\n"),
        };
    }
    let mut out = String::new();
    for cache in caches {
        let usage = cache.usage();
        out.push_str(&format!(
            "object cache {} ({} blocks): {} in {} blocks of {} max\n  {}\n",
            cache.root().display(),
            block_cache::human_bytes(cache.block_size()),
            block_cache::human_bytes(usage.bytes),
            usage.blocks,
            block_cache::human_bytes(cache.max_bytes()),
            cache.stats.snapshot()
        ));
    }
    out
}

/// `\cache clear`: empties every disk cache this process has opened.
pub fn clear_caches() -> String {
    let caches = block_cache::opened();
    if caches.is_empty() {
        return "no cache opened in this process yet\n".to_string();
    }
    caches
        .iter()
        .map(|cache| {
            let removed = cache.clear();
            format!(
                "object cache {}: removed {} blocks ({})\n",
                cache.root().display(),
                removed.blocks,
                block_cache::human_bytes(removed.bytes)
            )
        })
        .collect()
}
