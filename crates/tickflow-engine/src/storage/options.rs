//! Session options for object storage, set with SQL and shipped to a cluster with every job:
//!
//! ```sql
//! SET s3.endpoint = 'http://127.0.0.1:9000';   -- an S3-compatible server
//! SET s3.allow_http = 'true';
//! SET azure.account_name = 'devstoreaccount1';
//! SET gcs.service_account_path = '/secrets/sa.json';
//! SET storage.max_retries = '3';
//! SET cache.max_size = '20GiB';
//! ```
//!
//! `s3.*`, `azure.*` and `gcs.*` take every key the `object_store` builders take (with or without
//! their `aws_` / `azure_` / `google_` prefix, e.g. `s3.region`, `s3.access_key_id`,
//! `azure.account_key`, `azure.use_emulator`, and the HTTP client's `timeout`, `connect_timeout`,
//! `allow_http`). A key is checked when it is set, so a typo is an error that lists where the keys
//! are documented. Values set here override the standard environment variables (`AWS_*`,
//! `AZURE_STORAGE_*`, `GOOGLE_*`).
//!
//! The values live behind a shared pointer: a session's `SET` must reach the object store
//! registry built with the session (DataFusion gives a registry no view of the session's options),
//! so the copies DataFusion makes of the options share one map, as Ballista's own `S3Options` do.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::marker::PhantomData;
use std::str::FromStr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use datafusion::common::{Result, config_err};
use datafusion::config::{ConfigEntry, ConfigExtension, ExtensionOptions};
use datafusion::prelude::SessionConfig;

use crate::error::InvalidValue;

/// One family of options (`s3`, `azure`, `gcs`, `storage`, `cache`): its prefix and how a key
/// is checked.
pub trait Family: Debug + Default + Send + Sync + 'static {
    const PREFIX: &'static str;
    /// What the family configures, for `SHOW ALL`.
    const DESCRIPTION: &'static str;
    /// `Ok(())` when `key` (without the prefix) may be set to `value`.
    fn check(key: &str, value: &str) -> std::result::Result<(), InvalidValue>;
}

/// The options of one family. Clones share their values (see the module docs).
#[derive(Debug, Default)]
pub struct Options<F: Family> {
    values: Arc<RwLock<BTreeMap<String, String>>>,
    family: PhantomData<F>,
}

impl<F: Family> Clone for Options<F> {
    fn clone(&self) -> Self {
        Options {
            values: Arc::clone(&self.values),
            family: PhantomData,
        }
    }
}

impl<F: Family> Options<F> {
    /// Every key set, in key order.
    pub fn values(&self) -> BTreeMap<String, String> {
        match self.values.read() {
            Ok(values) => values.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    pub fn get(&self, key: &str) -> Option<String> {
        self.values().get(key).cloned()
    }

    /// Sets `key`, checked as `SET` checks it.
    pub fn set_value(&self, key: &str, value: &str) -> Result<()> {
        let key = key.to_ascii_lowercase();
        if let Err(why) = F::check(&key, value) {
            return config_err!("{}.{key}: {why}", F::PREFIX);
        }
        match self.values.write() {
            Ok(mut values) => values.insert(key, value.to_string()),
            Err(poisoned) => poisoned.into_inner().insert(key, value.to_string()),
        };
        Ok(())
    }
}

impl<F: Family> ExtensionOptions for Options<F> {
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }

    fn as_any_mut(&mut self) -> &mut dyn std::any::Any {
        self
    }

    fn cloned(&self) -> Box<dyn ExtensionOptions> {
        Box::new(self.clone())
    }

    fn set(&mut self, key: &str, value: &str) -> Result<()> {
        self.set_value(key, value)
    }

    fn entries(&self) -> Vec<ConfigEntry> {
        self.values()
            .into_iter()
            .map(|(key, value)| ConfigEntry {
                key: format!("{}.{key}", F::PREFIX),
                value: Some(value),
                description: F::DESCRIPTION,
            })
            .collect()
    }
}

impl<F: Family> ConfigExtension for Options<F> {
    const PREFIX: &'static str = F::PREFIX;
}

/// `s3.*`: Amazon S3 and S3-compatible servers (`s3://bucket/path`).
#[derive(Debug, Default)]
pub struct S3;

impl Family for S3 {
    const PREFIX: &'static str = "s3";
    const DESCRIPTION: &'static str =
        "S3 store option (object_store AmazonS3ConfigKey; overrides AWS_* variables)";
    fn check(key: &str, _: &str) -> std::result::Result<(), InvalidValue> {
        known_key::<object_store::aws::AmazonS3ConfigKey>(key, "S3", "aws/enum.AmazonS3ConfigKey")
    }
}

/// `azure.*`: Azure Blob Storage and ADLS Gen2 (`az://container/path`,
/// `abfss://container@account.dfs.core.windows.net/path`).
#[derive(Debug, Default)]
pub struct Azure;

impl Family for Azure {
    const PREFIX: &'static str = "azure";
    const DESCRIPTION: &'static str =
        "Azure store option (object_store AzureConfigKey; overrides AZURE_STORAGE_* variables)";
    fn check(key: &str, _: &str) -> std::result::Result<(), InvalidValue> {
        known_key::<object_store::azure::AzureConfigKey>(key, "Azure", "azure/enum.AzureConfigKey")
    }
}

/// `gcs.*`: Google Cloud Storage (`gs://bucket/path`).
#[derive(Debug, Default)]
pub struct Gcs;

impl Family for Gcs {
    const PREFIX: &'static str = "gcs";
    const DESCRIPTION: &'static str =
        "GCS store option (object_store GoogleConfigKey; overrides GOOGLE_* variables)";
    fn check(key: &str, _: &str) -> std::result::Result<(), InvalidValue> {
        known_key::<object_store::gcp::GoogleConfigKey>(key, "GCS", "gcp/enum.GoogleConfigKey")
    }
}

/// `Ok` when `key` is one of the keys `K` parses; else where the keys are listed.
fn known_key<K: FromStr>(
    key: &str,
    store: &str,
    docs: &str,
) -> std::result::Result<(), InvalidValue> {
    K::from_str(key).map(|_| ()).map_err(|_| {
        InvalidValue(format!(
            "not a {store} option; the keys are listed at \
             https://docs.rs/object_store/0.13.2/object_store/{docs}.html"
        ))
    })
}

/// `storage.*`: how hard every remote store tries before a query fails.
///
/// - `max_retries` (default 3): retries of a request that failed in a way worth retrying
///   (connection refused or reset, a timeout, HTTP 5xx or 429), with exponential backoff from
///   100 ms;
/// - `retry_timeout` (default 20s): no retry starts after this long since the first attempt;
/// - `connect_timeout` (default 5s) and `timeout` (default 30s, one request): for stores whose
///   own options (`s3.timeout`, ...) do not set them.
///
/// So a server that is down fails a read within about `retry_timeout + timeout`.
#[derive(Debug, Default)]
pub struct Storage;

impl Family for Storage {
    const PREFIX: &'static str = "storage";
    const DESCRIPTION: &'static str = "retries and timeouts of remote stores (max_retries, retry_timeout, connect_timeout, timeout)";
    fn check(key: &str, value: &str) -> std::result::Result<(), InvalidValue> {
        match key {
            "max_retries" => value
                .parse::<usize>()
                .map(|_| ())
                .map_err(|_| InvalidValue(format!("'{value}' is not a number of retries"))),
            "retry_timeout" | "connect_timeout" | "timeout" => parse_duration(value).map(|_| ()),
            _ => Err(InvalidValue("not a storage option; the keys are max_retries, retry_timeout, connect_timeout, timeout".into())),
        }
    }
}

/// `cache.*`: the local disk cache of remote objects (see [`super::block_cache`]).
///
/// - `enabled` (default `true`, or `TICKFLOW_CACHE=off`);
/// - `dir` (default `TICKFLOW_CACHE_DIR`, else `tickflow/objects` in the user's cache directory);
/// - `max_size` (default `TICKFLOW_CACHE_SIZE`, else 10GiB): `20GiB`, `500MB`, `1048576`;
/// - `block_size` (default 1MiB): the unit the cache fetches and stores.
#[derive(Debug, Default)]
pub struct Cache;

impl Family for Cache {
    const PREFIX: &'static str = "cache";
    const DESCRIPTION: &'static str =
        "local disk cache of remote objects (enabled, dir, max_size, block_size)";
    fn check(key: &str, value: &str) -> std::result::Result<(), InvalidValue> {
        match key {
            "enabled" => parse_switch(value).map(|_| ()),
            "dir" if !value.is_empty() => Ok(()),
            "dir" => Err(InvalidValue("the directory is empty".into())),
            "max_size" => parse_size(value).map(|_| ()),
            "block_size" => match parse_size(value)? {
                n if (4096..=(64 << 20)).contains(&n) => Ok(()),
                _ => Err(InvalidValue(format!("'{value}': a block is 4KiB to 64MiB"))),
            },
            _ => Err(InvalidValue(
                "not a cache option; the keys are enabled, dir, max_size, block_size".into(),
            )),
        }
    }
}

pub type S3Options = Options<S3>;
pub type AzureOptions = Options<Azure>;
pub type GcsOptions = Options<Gcs>;
pub type StorageOptions = Options<Storage>;
pub type CacheOptions = Options<Cache>;

/// The storage options of one session, as the store registry reads them.
#[derive(Debug, Clone, Default)]
pub struct SessionStorage {
    pub s3: S3Options,
    pub azure: AzureOptions,
    pub gcs: GcsOptions,
    pub storage: StorageOptions,
    pub cache: CacheOptions,
}

impl SessionStorage {
    /// The options registered on `config`; fresh (empty) ones where a family is missing.
    pub fn of(config: &SessionConfig) -> SessionStorage {
        let ext = &config.options().extensions;
        SessionStorage {
            s3: ext.get::<S3Options>().cloned().unwrap_or_default(),
            azure: ext.get::<AzureOptions>().cloned().unwrap_or_default(),
            gcs: ext.get::<GcsOptions>().cloned().unwrap_or_default(),
            storage: ext.get::<StorageOptions>().cloned().unwrap_or_default(),
            cache: ext.get::<CacheOptions>().cloned().unwrap_or_default(),
        }
    }

    /// `config` with these options registered (so `SET s3.…` and friends work and travel with
    /// a job to the cluster).
    pub fn install(&self, config: SessionConfig) -> SessionConfig {
        config
            .with_option_extension(self.s3.clone())
            .with_option_extension(self.azure.clone())
            .with_option_extension(self.gcs.clone())
            .with_option_extension(self.storage.clone())
            .with_option_extension(self.cache.clone())
    }
}

/// `config` with fresh storage options registered, unless it has them already.
pub fn with_storage_options(config: SessionConfig) -> SessionConfig {
    if config.options().extensions.get::<S3Options>().is_some() {
        return config;
    }
    SessionStorage::default().install(config)
}

/// `true`/`false`, `on`/`off`, `1`/`0`, `yes`/`no`.
pub fn parse_switch(value: &str) -> std::result::Result<bool, InvalidValue> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "on" | "1" | "yes" => Ok(true),
        "false" | "off" | "0" | "no" => Ok(false),
        _ => Err(InvalidValue(format!(
            "'{value}' is not on or off (true/false)"
        ))),
    }
}

/// A byte count: `1048576`, `512KiB`, `500MB`, `20GiB`, `1TB` (KB/MB/GB/TB are powers of 1000,
/// KiB/MiB/GiB/TiB of 1024).
pub fn parse_size(value: &str) -> std::result::Result<u64, InvalidValue> {
    let v = value.trim();
    let split = v
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(v.len());
    let (number, unit) = v.split_at(split);
    let number: f64 = number
        .parse()
        .map_err(|_| InvalidValue(format!("'{value}' is not a size (e.g. 500MB, 20GiB)")))?;
    let scale: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "kb" | "k" => 1e3,
        "mb" | "m" => 1e6,
        "gb" | "g" => 1e9,
        "tb" | "t" => 1e12,
        "kib" => 1024.0,
        "mib" => 1024.0 * 1024.0,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        "tib" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => {
            return Err(InvalidValue(format!(
                "'{value}': unknown unit (use B, KB, MB, GB, TB, KiB, MiB, GiB, TiB)"
            )));
        }
    };
    let bytes = (number * scale).round();
    // 2^64 is the first f64 a u64 cannot hold; `as` would saturate it silently.
    if !(bytes.is_finite() && bytes < 18_446_744_073_709_551_616.0) {
        return Err(InvalidValue(format!("'{value}' is too large a size")));
    }
    Ok(bytes as u64)
}

/// A duration: `30s`, `500ms`, `2m`, `1h`, or a number of seconds.
pub fn parse_duration(value: &str) -> std::result::Result<Duration, InvalidValue> {
    let v = value.trim();
    let bad = || {
        InvalidValue(format!(
            "'{value}' is not a duration (e.g. 30s, 500ms, 2m, 1h)"
        ))
    };
    let (number, scale) = if let Some(n) = v.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = v.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = v.strip_suffix('m') {
        (n, 60.0)
    } else if let Some(n) = v.strip_suffix('h') {
        (n, 3600.0)
    } else {
        (v, 1.0)
    };
    let secs: f64 = number.trim().parse().map_err(|_| bad())?;
    if secs.is_nan() || secs < 0.0 || !secs.is_finite() {
        return Err(bad());
    }
    match Duration::try_from_secs_f64(secs * scale) {
        Ok(d) if d <= MAX_DURATION => Ok(d),
        _ => Err(InvalidValue(format!(
            "'{value}' is longer than a year (365 days), the longest duration taken"
        ))),
    }
}

/// The longest duration [`parse_duration`] takes. Anything longer is a slip (`1e20`), and
/// durations near [`Duration::MAX`] overflow an instant they are added to (a timer, a deadline).
pub const MAX_DURATION: Duration = Duration::from_secs(365 * 86_400);

/// A duration as the object store's client options spell it (whole nanoseconds): what
/// [`parse_duration`] accepts (`7`, `1.5s`) is not always what `humantime` does.
pub fn duration_option(d: Duration) -> String {
    format!("{}ns", d.as_nanos())
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::prelude::SessionContext;

    #[tokio::test]
    async fn set_reaches_every_copy_and_checks_keys() -> Result<()> {
        let storage = SessionStorage::default();
        let ctx = SessionContext::new_with_config(storage.install(SessionConfig::new()));
        ctx.sql("SET s3.endpoint = 'http://127.0.0.1:9000'").await?;
        ctx.sql("SET s3.aws_region = 'eu-west-1'").await?;
        ctx.sql("SET cache.max_size = '2GiB'").await?;
        assert_eq!(
            storage.s3.get("endpoint").as_deref(),
            Some("http://127.0.0.1:9000")
        );
        assert_eq!(storage.s3.get("aws_region").as_deref(), Some("eu-west-1"));
        assert_eq!(storage.cache.get("max_size").as_deref(), Some("2GiB"));
        let err = ctx
            .sql("SET s3.endpont = 'x'")
            .await
            .expect_err("a typo")
            .to_string();
        assert!(err.contains("s3.endpont: not a S3 option"), "{err}");
        let err = ctx
            .sql("SET cache.max_size = 'lots'")
            .await
            .expect_err("not a size")
            .to_string();
        assert!(err.contains("cache.max_size"), "{err}");
        // The entries are what Ballista ships with a job.
        let shown: Vec<String> = ctx
            .state()
            .config()
            .options()
            .entries()
            .into_iter()
            .filter(|e| e.key.starts_with("s3."))
            .map(|e| e.key)
            .collect();
        assert_eq!(shown, ["s3.aws_region", "s3.endpoint"]);
        Ok(())
    }

    #[test]
    fn sizes_and_durations() {
        assert_eq!(parse_size("1048576"), Ok(1 << 20));
        assert_eq!(parse_size("20GiB"), Ok(20 << 30));
        assert_eq!(parse_size("500MB"), Ok(500_000_000));
        assert!(parse_size("5 parsecs").is_err());
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("7"), Ok(Duration::from_secs(7)));
        assert_eq!(parse_duration("8h"), Ok(Duration::from_secs(8 * 3600)));
        assert!(parse_duration("-1s").is_err());
        // Once a panic (`Duration::from_secs_f64` overflows); now a message.
        for v in ["1e20", "1e20s", "1e300h", "18446744073709551616"] {
            let e = parse_duration(v).expect_err(v);
            assert!(e.0.contains("longer than a year"), "{v}: {e}");
        }
        assert_eq!(parse_duration("8760h"), Ok(MAX_DURATION));
        assert!(parse_duration("8761h").is_err());
        assert!(parse_size("99999999999999999999TB").is_err());
        assert_eq!(duration_option(Duration::from_millis(1500)), "1500000000ns");
        assert_eq!(parse_switch("off"), Ok(false));
    }
}
