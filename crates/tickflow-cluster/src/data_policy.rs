//! What a cluster's servers may read and write for their clients (`--allow-path`,
//! `--allow-url`), and the storage settings of a job they ignore.
//!
//! A client's SQL names locations the *servers* open: the scheduler lists a table's files when it
//! plans (`CREATE EXTERNAL TABLE .. LOCATION`, a path in FROM, [`crate::path_tables`]), the
//! executors read them and write `COPY .. TO` results. Every such access goes through the
//! session's object store registry, so that is where the policy sits: [`server_runtime`] gives
//! the scheduler's sessions and the executors' tasks a registry whose stores ([`PolicyStore`])
//! refuse every location outside the allowed roots, before anything is read, listed, written or
//! deleted, with an error naming the location. The executors' own files (shuffle output, spill
//! files, the object cache) are written by the processes themselves, not through these stores.
//!
//! With neither flag a server reads and writes wherever its user may (tickflow's behaviour before
//! this policy); the README's Security section says to set them on any shared cluster.
//!
//! `cache.*` settings shipped with a job (`SET cache.dir = ..`) are ignored by the servers: where
//! a server caches objects and how much is its operator's choice (`TICKFLOW_CACHE*` variables),
//! and a client must not make it write cache blocks into a directory of the client's choosing.
//! Allowed roots are resolved once, at start: a root is canonicalized (symbolic links in it
//! resolved); links *inside* a root are followed as the file system follows them, so an operator
//! must not put links to elsewhere under an allowed root.

use std::fmt;
use std::ops::Range;
use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use datafusion::common::{DataFusionError, Result as DfResult};
use datafusion::config::ConfigOptions;
use datafusion::datasource::file_format::csv::CsvSink;
use datafusion::datasource::file_format::json::JsonSink;
use datafusion::datasource::file_format::parquet::ParquetSink;
use datafusion::datasource::physical_plan::FileSink;
use datafusion::datasource::sink::DataSinkExec;
use datafusion::execution::object_store::ObjectStoreRegistry;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::SessionConfig;
use futures::stream::{self, BoxStream, StreamExt};
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult, RenameOptions, Result,
};
use tickflow_engine::storage::options::CacheOptions;
use tickflow_engine::storage::{SessionStorage, StoreRegistry};
use url::Url;

/// The flags of the data policy, on both server processes.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct PolicyFlags {
    /// A local directory the server may read and write for its clients (tables, COPY .. TO);
    /// repeatable. With no --allow-path and no --allow-url, every location is allowed
    #[arg(long = "allow-path", value_name = "DIR")]
    pub allow_path: Vec<PathBuf>,
    /// An object store location the server may read and write for its clients, e.g.
    /// s3://bucket/prefix or https://host/path; repeatable
    #[arg(long = "allow-url", value_name = "URL")]
    pub allow_url: Vec<String>,
}

impl PolicyFlags {
    /// The policy the flags give (`None`: every location allowed).
    pub fn policy(&self) -> DfResult<Option<Arc<DataPolicy>>> {
        if self.allow_path.is_empty() && self.allow_url.is_empty() {
            return Ok(None);
        }
        let mut roots = Vec::new();
        for dir in &self.allow_path {
            let real = std::fs::canonicalize(dir).map_err(|e| {
                DataFusionError::Configuration(format!("--allow-path {}: {e}", dir.display()))
            })?;
            if !real.is_dir() {
                return Err(DataFusionError::Configuration(format!(
                    "--allow-path {}: not a directory",
                    dir.display()
                )));
            }
            let path = Path::from_absolute_path(&real).map_err(|e| {
                DataFusionError::Configuration(format!("--allow-path {}: {e}", dir.display()))
            })?;
            roots.push(Root::new("file://".to_string(), &path));
        }
        for url in &self.allow_url {
            let parsed = Url::parse(url)
                .map_err(|e| DataFusionError::Configuration(format!("--allow-url {url}: {e}")))?;
            if parsed.scheme() == "file" || parsed.host_str().is_none_or(str::is_empty) {
                return Err(DataFusionError::Configuration(format!(
                    "--allow-url {url}: expected an object store location such as \
                     s3://bucket/prefix (use --allow-path for local directories)"
                )));
            }
            let path = Path::from_url_path(parsed.path())
                .map_err(|e| DataFusionError::Configuration(format!("--allow-url {url}: {e}")))?;
            roots.push(Root::new(store_key(&parsed), &path));
        }
        Ok(Some(Arc::new(DataPolicy { roots })))
    }
}

/// `scheme://authority` of a URL: the key a store is kept under (as in tickflow's registry).
fn store_key(url: &Url) -> String {
    url[..url::Position::BeforePath].to_string()
}

/// One allowed root: a store and a path prefix in it, by whole segments.
#[derive(Debug, Clone)]
struct Root {
    key: String,
    parts: Vec<String>,
}

impl Root {
    fn new(key: String, path: &Path) -> Root {
        Root {
            key,
            parts: path.parts().map(|p| p.as_ref().to_string()).collect(),
        }
    }

    fn contains(&self, key: &str, path: &Path) -> bool {
        if self.key != key {
            return false;
        }
        let mut parts = path.parts();
        self.parts
            .iter()
            .all(|root| parts.next().is_some_and(|p| p.as_ref() == root))
    }
}

/// The locations a server may read and write for its clients.
#[derive(Debug, Clone)]
pub struct DataPolicy {
    roots: Vec<Root>,
}

impl DataPolicy {
    fn allows_store(&self, key: &str) -> bool {
        self.roots.iter().any(|r| r.key == key)
    }

    fn allows(&self, key: &str, path: &Path) -> bool {
        self.roots.iter().any(|r| r.contains(key, path))
    }

    /// Whether a store setting's value names an allowed place: a URL whose scheme and host are
    /// an allowed root's, or an absolute path under an allowed directory.
    fn allows_setting(&self, value: &str) -> bool {
        if let Ok(url) = Url::parse(value)
            && url.host_str().is_some_and(|h| !h.is_empty())
        {
            let key = store_key(&url);
            return self.roots.iter().any(|r| r.key == key);
        }
        match value.strip_prefix('/').map(Path::parse) {
            Some(Ok(path)) => self.allows("file://", &path),
            _ => false,
        }
    }

    /// What the roots are, for error messages.
    fn describe(&self) -> String {
        self.roots
            .iter()
            .map(|r| {
                let path = r.parts.join("/");
                if r.key == "file://" {
                    format!("/{path}")
                } else {
                    format!("{}/{path}", r.key)
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// A physical rule that refuses a plan writing outside `policy` (`COPY .. TO`, `INSERT INTO` a
/// file table) when the scheduler plans it: the job fails before any task runs, with an error
/// naming the location. (The stores refuse such writes too, but DataFusion reports a failed
/// write as `Error encountered while finalizing writes`, without the reason.)
pub fn write_check(policy: Arc<DataPolicy>) -> Arc<dyn PhysicalOptimizerRule + Send + Sync> {
    Arc::new(WriteCheck { policy })
}

#[derive(Debug)]
struct WriteCheck {
    policy: Arc<DataPolicy>,
}

impl WriteCheck {
    fn check(&self, plan: &Arc<dyn ExecutionPlan>) -> DfResult<()> {
        if let Some(sink) = plan.downcast_ref::<DataSinkExec>() {
            let sink = sink.sink();
            let config = sink
                .downcast_ref::<ParquetSink>()
                .map(FileSink::config)
                .or_else(|| sink.downcast_ref::<CsvSink>().map(FileSink::config))
                .or_else(|| sink.downcast_ref::<JsonSink>().map(FileSink::config));
            if let Some(config) = config {
                let key = Url::parse(config.object_store_url.as_str())
                    .map(|url| match url.scheme() {
                        "file" => "file://".to_string(),
                        _ => store_key(&url),
                    })
                    .unwrap_or_default();
                for table in &config.table_paths {
                    if !self.policy.allows(&key, table.prefix()) {
                        return Err(DataFusionError::Plan(format!(
                            "cannot write to {}: outside the locations this server may read \
                             and write ({}; see --allow-path, --allow-url)",
                            config.original_url,
                            self.policy.describe()
                        )));
                    }
                }
            }
        }
        plan.children()
            .into_iter()
            .try_for_each(|child| self.check(child))
    }
}

impl PhysicalOptimizerRule for WriteCheck {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &ConfigOptions,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        self.check(&plan)?;
        Ok(plan)
    }

    fn name(&self) -> &str {
        "tickflow_data_policy_write_check"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// The runtime of a server's session or task for `config`: the job's storage settings
/// ([`tickflow_engine::storage`]) without its `cache.*` ones, and the stores under `policy`.
pub fn server_runtime(
    config: &SessionConfig,
    policy: Option<&Arc<DataPolicy>>,
) -> RuntimeEnvBuilder {
    let storage = SessionStorage {
        cache: CacheOptions::default(),
        ..SessionStorage::of(config)
    };
    let registry: Arc<dyn ObjectStoreRegistry> = Arc::new(StoreRegistry::new(storage.clone()));
    let registry = match policy {
        Some(policy) => Arc::new(PolicyRegistry {
            inner: registry,
            policy: Arc::clone(policy),
            storage,
        }) as Arc<dyn ObjectStoreRegistry>,
        None => registry,
    };
    tickflow_engine::storage::runtime_builder(config).with_object_store_registry(registry)
}

/// An object store registry whose stores follow a [`DataPolicy`].
#[derive(Debug)]
pub struct PolicyRegistry {
    inner: Arc<dyn ObjectStoreRegistry>,
    policy: Arc<DataPolicy>,
    /// The job's storage settings (shared with its session, so a later `SET` is seen here).
    storage: SessionStorage,
}

/// Words in the name of a store setting whose value says where to connect or what to read:
/// an endpoint, a proxy, a metadata or credentials URL, a key or token file, an emulator.
const LOCATION_WORDS: [&str; 8] = [
    "endpoint", "url", "uri", "host", "proxy", "path", "file", "emulator",
];

impl PolicyRegistry {
    /// Refuses a job's store setting that points this server somewhere the policy does not
    /// allow (`SET s3.endpoint = 'http://169.254.169.254'`, a proxy, a key file elsewhere): a
    /// URL must be an `--allow-url` location's scheme and host, a file must be under an
    /// `--allow-path`.
    fn check_job_settings(&self) -> DfResult<()> {
        let families = [
            ("s3", self.storage.s3.values()),
            ("azure", self.storage.azure.values()),
            ("gcs", self.storage.gcs.values()),
            ("storage", self.storage.storage.values()),
        ];
        for (family, values) in families {
            for (key, value) in values {
                let names_a_place = LOCATION_WORDS.iter().any(|w| key.contains(w));
                if names_a_place && !self.policy.allows_setting(&value) {
                    return Err(DataFusionError::Execution(format!(
                        "{family}.{key} = '{value}': this server does not connect to or read \
                         locations a job names outside its policy ({}; see --allow-url, \
                         --allow-path); set it on the server instead",
                        self.policy.describe()
                    )));
                }
            }
        }
        Ok(())
    }
}

impl ObjectStoreRegistry for PolicyRegistry {
    fn register_store(
        &self,
        url: &Url,
        store: Arc<dyn ObjectStore>,
    ) -> Option<Arc<dyn ObjectStore>> {
        self.inner.register_store(url, store)
    }

    fn deregister_store(&self, url: &Url) -> DfResult<Arc<dyn ObjectStore>> {
        self.inner.deregister_store(url)
    }

    fn get_store(&self, url: &Url) -> DfResult<Arc<dyn ObjectStore>> {
        if !matches!(url.scheme(), "file" | "") {
            self.check_job_settings()?;
        }
        let key = match url.scheme() {
            "file" | "" => "file://".to_string(),
            _ => store_key(url),
        };
        if !self.policy.allows_store(&key) {
            return Err(DataFusionError::Execution(format!(
                "{url} is not a location this server may read or write (allowed: {}; see \
                 --allow-path and --allow-url)",
                self.policy.describe()
            )));
        }
        Ok(Arc::new(PolicyStore {
            inner: self.inner.get_store(url)?,
            key,
            policy: Arc::clone(&self.policy),
        }))
    }
}

/// A store that refuses every location outside its policy's roots.
#[derive(Debug)]
pub struct PolicyStore {
    inner: Arc<dyn ObjectStore>,
    key: String,
    policy: Arc<DataPolicy>,
}

impl fmt::Display for PolicyStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PolicyStore({})", self.inner)
    }
}

/// Why a location is refused.
#[derive(Debug, thiserror::Error)]
#[error(
    "outside the locations this server may read and write ({0}; see --allow-path, --allow-url)"
)]
struct Outside(String);

impl PolicyStore {
    fn check(&self, path: &Path) -> Result<()> {
        if self.policy.allows(&self.key, path) {
            return Ok(());
        }
        let shown = if self.key == "file://" {
            format!("/{path}")
        } else {
            format!("{}/{path}", self.key)
        };
        Err(object_store::Error::PermissionDenied {
            path: shown,
            source: Box::new(Outside(self.policy.describe())),
        })
    }

    fn check_prefix(&self, prefix: Option<&Path>) -> Result<()> {
        self.check(prefix.unwrap_or(&Path::default()))
    }
}

#[async_trait]
impl ObjectStore for PolicyStore {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> Result<PutResult> {
        self.check(location)?;
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> Result<Box<dyn MultipartUpload>> {
        self.check(location)?;
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        self.check(location)?;
        self.inner.get_opts(location, options).await
    }

    async fn get_ranges(&self, location: &Path, ranges: &[Range<u64>]) -> Result<Vec<Bytes>> {
        self.check(location)?;
        self.inner.get_ranges(location, ranges).await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, Result<Path>>,
    ) -> BoxStream<'static, Result<Path>> {
        let policy = PolicyStore {
            inner: Arc::clone(&self.inner),
            key: self.key.clone(),
            policy: Arc::clone(&self.policy),
        };
        let checked = locations
            .map(move |location| location.and_then(|l| policy.check(&l).map(|()| l)))
            .boxed();
        self.inner.delete_stream(checked)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        match self.check_prefix(prefix) {
            Ok(()) => self.inner.list(prefix),
            Err(e) => stream::once(async move { Err(e) }).boxed(),
        }
    }

    fn list_with_offset(
        &self,
        prefix: Option<&Path>,
        offset: &Path,
    ) -> BoxStream<'static, Result<ObjectMeta>> {
        match self.check_prefix(prefix) {
            Ok(()) => self.inner.list_with_offset(prefix, offset),
            Err(e) => stream::once(async move { Err(e) }).boxed(),
        }
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        self.check_prefix(prefix)?;
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        self.check(from)?;
        self.check(to)?;
        self.inner.copy_opts(from, to, options).await
    }

    async fn rename_opts(&self, from: &Path, to: &Path, options: RenameOptions) -> Result<()> {
        self.check(from)?;
        self.check(to)?;
        self.inner.rename_opts(from, to, options).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::prelude::SessionContext;

    fn policy(dir: &std::path::Path) -> Arc<DataPolicy> {
        PolicyFlags {
            allow_path: vec![dir.to_path_buf()],
            allow_url: vec!["s3://bucket/allowed".to_string()],
        }
        .policy()
        .expect("valid flags")
        .expect("a policy")
    }

    #[test]
    fn roots_match_whole_segments() {
        let dir = tempfile::tempdir().expect("temp dir");
        let policy = policy(dir.path());
        let real = std::fs::canonicalize(dir.path()).expect("canonical");
        let inside = Path::from_absolute_path(real.join("a/b.parquet")).expect("path");
        assert!(policy.allows("file://", &inside));
        let sibling = Path::from_absolute_path(format!("{}x/b", real.display())).expect("path");
        assert!(!policy.allows("file://", &sibling));
        assert!(!policy.allows("file://", &Path::from("etc/passwd")));
        assert!(policy.allows("s3://bucket", &Path::from("allowed/t/x.parquet")));
        assert!(!policy.allows("s3://bucket", &Path::from("allowedx/t")));
        assert!(!policy.allows("s3://other", &Path::from("allowed/t")));
    }

    #[test]
    fn bad_flags_name_the_flag() {
        let err = PolicyFlags {
            allow_path: vec![PathBuf::from("/no/such/dir/anywhere")],
            allow_url: vec![],
        }
        .policy()
        .expect_err("missing dir")
        .to_string();
        assert!(err.contains("--allow-path /no/such/dir/anywhere"), "{err}");
        let err = PolicyFlags {
            allow_path: vec![],
            allow_url: vec!["file:///etc".to_string()],
        }
        .policy()
        .expect_err("file url")
        .to_string();
        assert!(err.contains("--allow-url file:///etc"), "{err}");
    }

    /// Under a policy, a job cannot point the servers' stores at another host or file.
    #[test]
    fn job_settings_naming_places_must_be_allowed() -> DfResult<()> {
        let dir = tempfile::tempdir()?;
        let mut flags = PolicyFlags {
            allow_path: vec![dir.path().to_path_buf()],
            allow_url: vec!["s3://bucket/allowed".to_string()],
        };
        let bucket = Url::parse("s3://bucket/").map_err(|e| DataFusionError::External(e.into()))?;
        let config = tickflow_engine::storage::with_storage_options(SessionConfig::new());
        let policy = flags.policy()?.expect("a policy");
        let runtime = server_runtime(&config, Some(&policy)).build_arc()?;
        runtime.object_store_registry.get_store(&bucket)?;
        // A SET after the runtime was built is seen too (the settings are shared).
        config
            .options()
            .extensions
            .get::<tickflow_engine::storage::options::S3Options>()
            .expect("s3 options")
            .set_value("endpoint", "http://169.254.169.254")?;
        let err = runtime
            .object_store_registry
            .get_store(&bucket)
            .expect_err("a metadata endpoint")
            .to_string();
        assert!(
            err.contains("s3.endpoint = 'http://169.254.169.254'"),
            "{err}"
        );
        // Allowed when the operator allows that host.
        flags.allow_url.push("http://169.254.169.254".to_string());
        let policy = flags.policy()?.expect("a policy");
        let runtime = server_runtime(&config, Some(&policy)).build_arc()?;
        runtime.object_store_registry.get_store(&bucket)?;
        Ok(())
    }

    /// A job's `SET cache.dir = ..` does not make a server open a cache there (a local session
    /// does: the same settings through tickflow-engine's runtime create the directory).
    #[test]
    fn servers_ignore_a_jobs_cache_settings() -> DfResult<()> {
        let dir = tempfile::tempdir()?;
        let wanted = dir.path().join("client-chosen-cache");
        let mut config = tickflow_engine::storage::with_storage_options(SessionConfig::new());
        config
            .options_mut()
            .set("cache.dir", &wanted.display().to_string())?;
        let url =
            Url::parse("s3://some-bucket/").map_err(|e| DataFusionError::External(e.into()))?;

        let local = tickflow_engine::storage::runtime_env(&config)?;
        local.object_store_registry.get_store(&url)?;
        assert!(
            wanted.exists(),
            "the local session should use its cache.dir"
        );
        std::fs::remove_dir_all(&wanted)?;

        let server = server_runtime(&config, None).build_arc()?;
        server.object_store_registry.get_store(&url)?;
        assert!(!wanted.exists(), "a server opened the job's cache.dir");
        Ok(())
    }

    /// A session under the policy reads inside the root, and neither reads nor writes outside.
    #[tokio::test]
    async fn a_session_under_the_policy_stays_inside_its_roots() -> DfResult<()> {
        let allowed = tempfile::tempdir()?;
        let outside = tempfile::tempdir()?;
        std::fs::write(allowed.path().join("in.csv"), "a\n1\n")?;
        std::fs::write(outside.path().join("out.csv"), "a\n2\n")?;
        let policy = policy(allowed.path());
        let config = SessionConfig::new();
        let runtime = server_runtime(&config, Some(&policy)).build_arc()?;
        let state = datafusion::execution::session_state::SessionStateBuilder::new()
            .with_default_features()
            .with_config(config)
            .with_runtime_env(runtime)
            .with_physical_optimizer_rule(write_check(Arc::clone(&policy)))
            .build();
        let ctx = SessionContext::new_with_state(state).enable_url_table();
        let inside = format!("{}/in.csv", allowed.path().display());
        let n = ctx
            .sql(&format!("SELECT count(*) FROM '{inside}'"))
            .await?
            .collect()
            .await?;
        assert_eq!(n[0].num_rows(), 1);

        let out = format!("{}/out.csv", outside.path().display());
        let err = ctx
            .sql(&format!(
                "CREATE EXTERNAL TABLE t STORED AS CSV LOCATION '{out}'"
            ))
            .await
            .expect_err("outside")
            .to_string();
        assert!(err.contains(&out) || err.contains(&out[1..]), "{err}");
        assert!(err.contains("--allow-path"), "{err}");

        let target = outside.path().join("copied");
        let err = ctx
            .sql(&format!(
                "COPY (SELECT 1 AS a) TO '{}/' STORED AS CSV",
                target.display()
            ))
            .await
            .expect("planned")
            .collect()
            .await
            .expect_err("outside")
            .to_string();
        assert!(err.contains("--allow-path"), "{err}");
        assert!(err.contains(&target.display().to_string()), "{err}");
        assert!(!target.exists(), "COPY wrote {}", target.display());
        Ok(())
    }
}
