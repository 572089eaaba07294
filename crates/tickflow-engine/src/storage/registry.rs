//! [`StoreRegistry`]: DataFusion's object store registry for tickflow sessions. It builds the
//! store for a location the first time a query names it, from the standard environment variables
//! and the session's `SET s3.…` / `azure.…` / `gcs.…` / `storage.…` / `cache.…` options, and
//! wraps it in a [`RemoteStore`] (disk cache, errors that name the location).
//!
//! | location | store |
//! |---|---|
//! | a path, `file://` | the local file system |
//! | `s3://bucket/…` (`s3a://`) | Amazon S3 or an S3-compatible server (`s3.endpoint`) |
//! | `az://container/…`, `abfs[s]://container@account.dfs.core.windows.net/…`, `azure://`, `adl://` | Azure Blob / ADLS Gen2 |
//! | `gs://bucket/…` | Google Cloud Storage |
//! | `http[s]://host/…` | plain HTTP(S) (read only, WebDAV for writes) |
//!
//! Built stores are kept for the process, keyed by the location's scheme and authority and the
//! options they were built with, so every session and task of a process shares their connection
//! pools, and a changed option builds a new one.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use datafusion::common::{DataFusionError, Result};
use datafusion::execution::object_store::ObjectStoreRegistry;
use object_store::local::LocalFileSystem;
use object_store::{BackoffConfig, ClientConfigKey, ObjectStore, RetryConfig};
use url::Url;

use super::block_cache::{self, BlockCache};
use super::options::{SessionStorage, duration_option, parse_duration, parse_size, parse_switch};
use super::remote_store::RemoteStore;
use crate::error::InvalidValue;

/// Retries of a failed request when `storage.max_retries` is not set.
pub const DEFAULT_MAX_RETRIES: usize = 3;
/// No retry starts after this long (`storage.retry_timeout`).
pub const DEFAULT_RETRY_TIMEOUT: Duration = Duration::from_secs(20);
/// `storage.connect_timeout`.
pub const DEFAULT_CONNECT_TIMEOUT: &str = "5s";
/// `storage.timeout`: one request.
pub const DEFAULT_TIMEOUT: &str = "30s";
/// `cache.max_size`.
pub const DEFAULT_CACHE_SIZE: u64 = 10 << 30;
/// `cache.block_size`.
pub const DEFAULT_BLOCK_SIZE: u64 = 1 << 20;

/// The object store registry of one session (see the module docs).
#[derive(Debug)]
pub struct StoreRegistry {
    options: SessionStorage,
    local: Arc<LocalFileSystem>,
    /// Stores registered by hand (`register_object_store`): they win over built ones.
    registered: RwLock<HashMap<String, Arc<dyn ObjectStore>>>,
}

impl StoreRegistry {
    pub fn new(options: SessionStorage) -> StoreRegistry {
        StoreRegistry {
            options,
            local: Arc::new(LocalFileSystem::new()),
            registered: RwLock::new(HashMap::new()),
        }
    }
}

/// `scheme://authority` of a URL: the key a store is kept under.
fn store_key(url: &Url) -> String {
    url[..url::Position::BeforePath].to_string()
}

/// Stores built so far in this process, by key and options.
static BUILT: Mutex<BTreeMap<(String, String), Arc<dyn ObjectStore>>> = Mutex::new(BTreeMap::new());

impl ObjectStoreRegistry for StoreRegistry {
    fn register_store(
        &self,
        url: &Url,
        store: Arc<dyn ObjectStore>,
    ) -> Option<Arc<dyn ObjectStore>> {
        let mut registered = self.registered.write().unwrap_or_else(|p| p.into_inner());
        registered.insert(store_key(url), store)
    }

    fn deregister_store(&self, url: &Url) -> Result<Arc<dyn ObjectStore>> {
        let mut registered = self.registered.write().unwrap_or_else(|p| p.into_inner());
        registered.remove(&store_key(url)).ok_or_else(|| {
            DataFusionError::Execution(format!("no object store registered for {url}"))
        })
    }

    fn get_store(&self, url: &Url) -> Result<Arc<dyn ObjectStore>> {
        let key = store_key(url);
        if let Some(store) = self
            .registered
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
        {
            return Ok(Arc::clone(store));
        }
        if matches!(url.scheme(), "file" | "") {
            return Ok(self.local.clone());
        }
        let fingerprint = format!("{:?}", self.settings(url.scheme()));
        let mut built = BUILT.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(store) = built.get(&(key.clone(), fingerprint.clone())) {
            return Ok(Arc::clone(store));
        }
        let store: Arc<dyn ObjectStore> = Arc::new(self.build(url, &key)?);
        built.insert((key, fingerprint), Arc::clone(&store));
        Ok(store)
    }
}

impl StoreRegistry {
    /// Every option that shapes the store for `scheme`.
    fn settings(&self, scheme: &str) -> Vec<BTreeMap<String, String>> {
        let family = match scheme {
            "s3" | "s3a" => self.options.s3.values(),
            "gs" => self.options.gcs.values(),
            "http" | "https" => BTreeMap::new(),
            _ => self.options.azure.values(),
        };
        vec![
            family,
            self.options.storage.values(),
            self.options.cache.values(),
        ]
    }

    fn build(&self, url: &Url, key: &str) -> Result<RemoteStore> {
        let failed =
            |e: object_store::Error| DataFusionError::Execution(format!("cannot open {key}: {e}"));
        let storage = self.options.storage.values();
        let retry = retry_config(&storage)?;
        // Checked by `SET`, but the map can be filled without it (a session's options on a
        // cluster); respelled for object_store, which reads `7` or `1.5s` differently.
        let duration = |key: &str, default: &str| -> Result<String> {
            match storage.get(key) {
                Some(v) => parse_duration(v)
                    .map(duration_option)
                    .map_err(|e| DataFusionError::Configuration(format!("storage.{key}: {e}"))),
                None => Ok(default.to_string()),
            }
        };
        let connect = duration("connect_timeout", DEFAULT_CONNECT_TIMEOUT)?;
        let timeout = duration("timeout", DEFAULT_TIMEOUT)?;
        let base_url = key.to_string();
        // A cloud store: the environment, then tickflow's retry and timeout defaults, then the
        // session's options (which may set the timeouts again). The three builders share no
        // trait, hence a macro.
        // The store's identity (`$identity`: the keys that say which service a bucket is on) is
        // part of its cache keys (`RemoteStore::with_identity`).
        macro_rules! configured {
            ($builder:ty, $key:ty, $url:expr, $options:expr, [$($identity:ident),*]) => {{
                type K = $key;
                let mut b = <$builder>::from_env()
                    .with_url($url)
                    .with_retry(retry)
                    .with_config(K::Client(ClientConfigKey::ConnectTimeout), connect)
                    .with_config(K::Client(ClientConfigKey::Timeout), timeout);
                for (k, v) in $options.values() {
                    b = b.with_config(K::from_str(&k).map_err(failed)?, v);
                }
                let identity = [$(K::$identity),*]
                    .iter()
                    .filter_map(|k| b.get_config_value(k).map(|v| format!("{k:?}={v}")))
                    .collect::<Vec<_>>()
                    .join(" ");
                let store: Arc<dyn ObjectStore> = Arc::new(b.build().map_err(failed)?);
                (store, identity)
            }};
        }
        let (inner, identity): (Arc<dyn ObjectStore>, String) = match url.scheme() {
            "s3" | "s3a" => configured!(
                object_store::aws::AmazonS3Builder,
                object_store::aws::AmazonS3ConfigKey,
                base_url.replacen("s3a://", "s3://", 1),
                self.options.s3,
                [Endpoint, Region]
            ),
            "az" | "azure" | "abfs" | "abfss" | "adl" => configured!(
                object_store::azure::MicrosoftAzureBuilder,
                object_store::azure::AzureConfigKey,
                base_url.as_str(),
                self.options.azure,
                [AccountName, Endpoint, UseEmulator, UseFabricEndpoint]
            ),
            "gs" => configured!(
                object_store::gcp::GoogleCloudStorageBuilder,
                object_store::gcp::GoogleConfigKey,
                base_url.as_str(),
                self.options.gcs,
                [BaseUrl]
            ),
            "http" | "https" => {
                use object_store::http::HttpBuilder;
                let store: Arc<dyn ObjectStore> = Arc::new(
                    HttpBuilder::new()
                        .with_url(base_url.as_str())
                        .with_retry(retry)
                        .with_config(ClientConfigKey::AllowHttp, "true")
                        .with_config(ClientConfigKey::ConnectTimeout, connect)
                        .with_config(ClientConfigKey::Timeout, timeout)
                        .build()
                        .map_err(failed)?,
                );
                // The host is in the URL already.
                (store, String::new())
            }
            other => {
                return Err(DataFusionError::Plan(format!(
                    "{key}: tickflow does not know the location scheme '{other}://'; it reads local \
                     paths, s3://, az://, abfss://, gs:// and http(s)://"
                )));
            }
        };
        let cache = self.cache()?;
        if let Some(cache) = &cache {
            tracing::debug!("{key}: cached in {}", cache.root().display());
        }
        Ok(RemoteStore::new(inner, base_url, cache).with_identity(identity))
    }

    /// The disk cache these options ask for, or `None` when it is off.
    fn cache(&self) -> Result<Option<Arc<BlockCache>>> {
        let Some(settings) = CacheSettings::of(&self.options.cache.values())? else {
            return Ok(None);
        };
        match block_cache::shared(&settings.dir, settings.block_size, settings.max_size) {
            Ok(cache) => Ok(Some(cache)),
            Err(e) => {
                // A cache that cannot be opened slows queries down; it does not stop them.
                tracing::warn!(
                    "object cache {} cannot be opened ({e}); reading without it",
                    settings.dir.display()
                );
                Ok(None)
            }
        }
    }
}

/// Where the cache is and how big, from `cache.*` options over `TICKFLOW_CACHE*` variables
/// over the defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheSettings {
    pub dir: PathBuf,
    pub max_size: u64,
    pub block_size: u64,
}

impl CacheSettings {
    /// `None` when the cache is off.
    pub fn of(options: &BTreeMap<String, String>) -> Result<Option<CacheSettings>> {
        let setting = |key: &str, env: &str| {
            options
                .get(key)
                .cloned()
                .or_else(|| std::env::var(env).ok().filter(|v| !v.is_empty()))
        };
        let bad = |key: &str, why: InvalidValue| {
            DataFusionError::Configuration(format!("cache.{key}: {why}"))
        };
        if let Some(on) = setting("enabled", "TICKFLOW_CACHE")
            && !parse_switch(&on).map_err(|e| bad("enabled (TICKFLOW_CACHE)", e))?
        {
            return Ok(None);
        }
        let dir = match setting("dir", "TICKFLOW_CACHE_DIR") {
            Some(dir) => PathBuf::from(dir),
            None => default_cache_dir(),
        };
        let max_size = match setting("max_size", "TICKFLOW_CACHE_SIZE") {
            Some(s) => parse_size(&s).map_err(|e| bad("max_size (TICKFLOW_CACHE_SIZE)", e))?,
            None => DEFAULT_CACHE_SIZE,
        };
        let block_size = match options.get("block_size") {
            Some(s) => parse_size(s).map_err(|e| bad("block_size", e))?,
            None => DEFAULT_BLOCK_SIZE,
        };
        Ok(Some(CacheSettings {
            dir,
            max_size,
            block_size,
        }))
    }
}

/// Where the cache lives when neither `cache.dir` nor `TICKFLOW_CACHE_DIR` says.
pub fn default_cache_dir() -> PathBuf {
    dirs::cache_dir()
        .unwrap_or_else(std::env::temp_dir)
        .join("tickflow")
        .join("objects")
}

fn retry_config(storage: &BTreeMap<String, String>) -> Result<RetryConfig> {
    let bad =
        |key: &str, why: String| DataFusionError::Configuration(format!("storage.{key}: {why}"));
    let max_retries = match storage.get("max_retries") {
        Some(v) => v
            .parse()
            .map_err(|_| bad("max_retries", format!("'{v}' is not a number")))?,
        None => DEFAULT_MAX_RETRIES,
    };
    let retry_timeout = match storage.get("retry_timeout") {
        Some(v) => parse_duration(v).map_err(|e| bad("retry_timeout", e.to_string()))?,
        None => DEFAULT_RETRY_TIMEOUT,
    };
    Ok(RetryConfig {
        backoff: BackoffConfig {
            init_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
            base: 2.0,
        },
        max_retries,
        retry_timeout,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_pick_their_store() -> Result<()> {
        let options = SessionStorage::default();
        options.s3.set_value("endpoint", "http://127.0.0.1:1")?;
        options.s3.set_value("allow_http", "true")?;
        options.s3.set_value("region", "us-east-1")?;
        options
            .azure
            .set_value("account_name", "devstoreaccount1")?;
        options.azure.set_value("use_emulator", "true")?;
        options.gcs.set_value("skip_signature", "true")?;
        options.cache.set_value("enabled", "off")?;
        let registry = StoreRegistry::new(options);
        for url in [
            "s3://bucket/a/b.parquet",
            "az://container/x",
            "abfss://container@devstoreaccount1.dfs.core.windows.net/x",
            "http://127.0.0.1:1/x",
            "gs://bucket/x",
        ] {
            let url = Url::parse(url).map_err(|e| DataFusionError::External(e.into()))?;
            registry.get_store(&url)?;
        }
        let url = Url::parse("ftp://h/x").map_err(|e| DataFusionError::External(e.into()))?;
        let err = registry.get_store(&url).expect_err("ftp").to_string();
        assert!(err.contains("'ftp://'"), "{err}");
        Ok(())
    }
}
