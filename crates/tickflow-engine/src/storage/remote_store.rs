//! [`RemoteStore`]: what tickflow puts around every remote object store. It reads through the
//! disk cache ([`super::block_cache`]) and names the full location (`s3://bucket/key`) in every
//! error.
//!
//! A read (`get_range`, `get_ranges`, `get`) needs blocks. Blocks found on disk are served only
//! after one HEAD request confirms that the object's version (ETag) is still the cached one; the
//! missing blocks are fetched with one ranged GET per run of adjacent blocks, and the version each
//! GET reports must agree with the rest, or the read starts over (an object replaced mid-read is
//! never stitched together from two versions). A read with nothing cached sends no HEAD: the
//! GETs report the version.
//!
//! Writes, listings and deletes go straight to the store. Writes are atomic there: S3, Azure and
//! GCS show an object only once its (multipart) upload completes.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use futures::stream::{BoxStream, StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{
    Attributes, CopyOptions, Error, GetOptions, GetRange, GetResult, GetResultPayload, ListResult,
    MultipartUpload, ObjectMeta, ObjectStore, ObjectStoreExt, PutMultipartOptions, PutOptions,
    PutPayload, PutResult, RenameOptions, Result, UploadPart,
};

use super::block_cache::{BlockCache, Version};
use crate::error_chain::error_chain;

/// How often a read starts over because its object changed under it before giving up.
const ATTEMPTS: usize = 3;

/// A remote store with tickflow's cache and error messages.
#[derive(Debug)]
pub struct RemoteStore {
    inner: Arc<dyn ObjectStore>,
    /// `s3://bucket`, `az://container`, ...: what a location is appended to in messages.
    base: String,
    cache: Option<Arc<BlockCache>>,
    /// Which store `base` is on (its endpoint, account, region), part of every cache key: the
    /// same `s3://bucket/key` on another endpoint is another object, and the cache (shared by
    /// every session and process) must not serve one's bytes for the other.
    identity: String,
}

impl RemoteStore {
    pub fn new(inner: Arc<dyn ObjectStore>, base: String, cache: Option<Arc<BlockCache>>) -> Self {
        RemoteStore {
            inner,
            base: base.trim_end_matches('/').to_string(),
            cache,
            identity: String::new(),
        }
    }

    /// This store with `identity` (see the field) in its cache keys.
    pub fn with_identity(mut self, identity: String) -> Self {
        self.identity = identity;
        self
    }

    /// The cache key of `location`: its URL, and the store's identity when it has one.
    fn cache_key(&self, location: &Path) -> String {
        if self.identity.is_empty() {
            self.url(location)
        } else {
            format!("{} @ {}", self.url(location), self.identity)
        }
    }

    pub fn cache(&self) -> Option<&Arc<BlockCache>> {
        self.cache.as_ref()
    }

    fn url(&self, location: &Path) -> String {
        format!("{}/{location}", self.base)
    }

    /// `e` with the full location in its message.
    fn located(&self, location: &Path, e: Error) -> Error {
        locate(&self.url(location), e)
    }

    /// The URL of a listing's prefix.
    fn prefix_url(&self, prefix: Option<&Path>) -> String {
        format!("{}/{}", self.base, prefix.map_or("", |p| p.as_ref()))
    }

    async fn head_counted(&self, cache: &BlockCache, location: &Path) -> Result<ObjectMeta> {
        cache.stats.heads.fetch_add(1, Ordering::Relaxed);
        self.inner
            .head(location)
            .await
            .map_err(|e| self.located(location, e))
    }

    /// The bytes of `ranges` of `location`, through the cache, with the object's metadata.
    async fn read_ranges(
        &self,
        cache: &Arc<BlockCache>,
        location: &Path,
        ranges: &[Range<u64>],
        mut known: Option<ObjectMeta>,
    ) -> Result<(Vec<Bytes>, ObjectMeta)> {
        let url = self.url(location);
        let key = self.cache_key(location);
        let bs = cache.block_size();
        let mut needed = Vec::new();
        for r in ranges.iter().filter(|r| r.start < r.end) {
            needed.extend(r.start / bs..=(r.end - 1) / bs);
        }
        needed.sort_unstable();
        needed.dedup();
        for _ in 0..ATTEMPTS {
            let found = {
                let (cache, key, needed) = (Arc::clone(cache), key.clone(), needed.clone());
                tokio::task::spawn_blocking(move || {
                    needed
                        .into_iter()
                        .filter_map(|b| cache.read(&key, b).map(|(v, data)| (b, v, data)))
                        .collect::<Vec<_>>()
                })
                .await
                .map_err(|e| generic(format!("{url}: object cache: {e}")))?
            };
            let mut meta = known.take();
            if !found.is_empty() && meta.is_none() {
                meta = Some(self.head_counted(cache, location).await?);
            }
            let mut current = meta.as_ref().map(version_of);
            let mut blocks: BTreeMap<u64, Bytes> = BTreeMap::new();
            let mut hits = Vec::new();
            for (b, version, data) in found {
                if Some(&version) == current.as_ref() {
                    cache.stats.hits.fetch_add(1, Ordering::Relaxed);
                    cache
                        .stats
                        .hit_bytes
                        .fetch_add(data.len() as u64, Ordering::Relaxed);
                    hits.push(b);
                    blocks.insert(b, data);
                } else {
                    cache.stats.stale.fetch_add(1, Ordering::Relaxed);
                }
            }
            let runs = runs(needed.iter().copied().filter(|b| !blocks.contains_key(b)));
            let fetches = runs.iter().map(|run| {
                let mut range = run.start * bs..run.end * bs;
                if let Some(size) = current.as_ref().map(|v| v.size) {
                    range.end = range.end.min(size);
                }
                async move {
                    let options = GetOptions {
                        range: Some(GetRange::Bounded(range)),
                        ..Default::default()
                    };
                    let result = self.inner.get_opts(location, options).await?;
                    let meta = result.meta.clone();
                    Ok::<_, Error>((run.start, meta, result.bytes().await?))
                }
            });
            let fetched = futures::future::try_join_all(fetches)
                .await
                .map_err(|e| self.located(location, e))?;
            let mut changed = false;
            let mut new_blocks = Vec::new();
            for (first, m, data) in fetched {
                cache.stats.gets.fetch_add(1, Ordering::Relaxed);
                let version = version_of(&m);
                match &current {
                    Some(v) if *v != version => changed = true,
                    Some(_) => {}
                    None => {
                        current = Some(version);
                        meta = Some(m);
                    }
                }
                let mut at = 0usize;
                let mut block = first;
                while at < data.len() {
                    let end = (at + bs as usize).min(data.len());
                    let part = data.slice(at..end);
                    cache.stats.misses.fetch_add(1, Ordering::Relaxed);
                    cache
                        .stats
                        .fetched_bytes
                        .fetch_add(part.len() as u64, Ordering::Relaxed);
                    new_blocks.push((block, part.clone()));
                    blocks.insert(block, part);
                    at = end;
                    block += 1;
                }
            }
            if changed {
                tracing::debug!("{url} changed while it was read; reading it again");
                continue;
            }
            let (Some(meta), Some(version)) = (meta, current) else {
                // Nothing needed: every range is empty.
                let meta = self.head_counted(cache, location).await?;
                return Ok((ranges.iter().map(|_| Bytes::new()).collect(), meta));
            };
            if !new_blocks.is_empty() || !hits.is_empty() {
                let (cache, key, version) = (Arc::clone(cache), key.clone(), version.clone());
                let _ = tokio::task::spawn_blocking(move || {
                    for (b, data) in new_blocks {
                        cache.write(&key, &version, b, &data);
                    }
                    for b in hits {
                        cache.touch(&key, b);
                    }
                })
                .await;
            }
            let out = ranges
                .iter()
                .map(|r| assemble(&url, &blocks, r, bs, version.size))
                .collect::<Result<Vec<_>>>()?;
            log_stats(cache);
            return Ok((out, meta));
        }
        Err(generic(format!(
            "{url}: the object changed {ATTEMPTS} times while it was being read"
        )))
    }
}

/// `e` with `url` in its message (a generic error's; the others name their path already).
fn locate(url: &str, e: Error) -> Error {
    match e {
        Error::Generic { store, source } => Error::Generic {
            store,
            source: format!("{url}: {}", error_chain(source.as_ref())).into(),
        },
        other => other,
    }
}

fn generic(message: String) -> Error {
    Error::Generic {
        store: "tickflow",
        source: message.into(),
    }
}

fn version_of(meta: &ObjectMeta) -> Version {
    Version {
        tag: match &meta.e_tag {
            Some(tag) => tag.clone(),
            None => format!(
                "modified:{}",
                meta.last_modified.timestamp_nanos_opt().unwrap_or_default()
            ),
        },
        size: meta.size,
    }
}

/// Sorted block numbers → runs of adjacent ones.
fn runs(blocks: impl Iterator<Item = u64>) -> Vec<Range<u64>> {
    let mut out: Vec<Range<u64>> = Vec::new();
    for b in blocks {
        match out.last_mut() {
            Some(run) if run.end == b => run.end += 1,
            _ => out.push(b..b + 1),
        }
    }
    out
}

/// The bytes of `range` of the object at `url` out of whole blocks.
fn assemble(
    url: &str,
    blocks: &BTreeMap<u64, Bytes>,
    range: &Range<u64>,
    bs: u64,
    size: u64,
) -> Result<Bytes> {
    if range.start >= range.end {
        return Ok(Bytes::new());
    }
    if range.end > size {
        return Err(generic(format!(
            "{url}: range {}..{} is past the end of the object ({size} bytes)",
            range.start, range.end
        )));
    }
    let first = range.start / bs;
    let last = (range.end - 1) / bs;
    let piece = |b: u64| -> Result<Bytes> {
        let data = blocks
            .get(&b)
            .ok_or_else(|| generic(format!("{url}: block {b} is missing")))?;
        let start = if b == first { range.start - b * bs } else { 0 };
        let end = if b == last { range.end - b * bs } else { bs };
        if end as usize > data.len() {
            return Err(generic(format!(
                "{url}: block {b} is short ({} bytes)",
                data.len()
            )));
        }
        Ok(data.slice(start as usize..end as usize))
    };
    if first == last {
        return piece(first);
    }
    let mut out = BytesMut::with_capacity((range.end - range.start) as usize);
    for b in first..=last {
        out.extend_from_slice(&piece(b)?);
    }
    Ok(out.freeze())
}

/// Logs a cache's counters at most every 10 seconds (the executors' view of the cache).
fn log_stats(cache: &BlockCache) {
    static LAST: AtomicU64 = AtomicU64::new(0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let last = LAST.load(Ordering::Relaxed);
    if now >= last + 10
        && LAST
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    {
        tracing::info!(
            "object cache {}: {}",
            cache.root().display(),
            cache.stats.snapshot()
        );
    }
}

impl fmt::Display for RemoteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.cache {
            Some(cache) => write!(f, "{} (cached in {})", self.inner, cache.root().display()),
            None => write!(f, "{}", self.inner),
        }
    }
}

/// A multipart upload whose errors name the location.
#[derive(Debug)]
struct LocatedUpload {
    inner: Box<dyn MultipartUpload>,
    url: String,
}

#[async_trait]
impl MultipartUpload for LocatedUpload {
    fn put_part(&mut self, data: PutPayload) -> UploadPart {
        let url = self.url.clone();
        let part = self.inner.put_part(data);
        Box::pin(async move { part.await.map_err(|e| locate(&url, e)) })
    }

    async fn complete(&mut self) -> Result<PutResult> {
        let url = self.url.clone();
        self.inner.complete().await.map_err(|e| locate(&url, e))
    }

    async fn abort(&mut self) -> Result<()> {
        let url = self.url.clone();
        self.inner.abort().await.map_err(|e| locate(&url, e))
    }
}

#[async_trait]
impl ObjectStore for RemoteStore {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> Result<PutResult> {
        self.inner
            .put_opts(location, payload, opts)
            .await
            .map_err(|e| self.located(location, e))
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> Result<Box<dyn MultipartUpload>> {
        let inner = self
            .inner
            .put_multipart_opts(location, opts)
            .await
            .map_err(|e| self.located(location, e))?;
        Ok(Box::new(LocatedUpload {
            inner,
            url: self.url(location),
        }))
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        let plain = options.if_match.is_none()
            && options.if_none_match.is_none()
            && options.if_modified_since.is_none()
            && options.if_unmodified_since.is_none()
            && options.version.is_none()
            && !options.head;
        let Some(cache) = self.cache.as_ref().filter(|_| plain) else {
            return self
                .inner
                .get_opts(location, options)
                .await
                .map_err(|e| self.located(location, e));
        };
        // Any range but an explicit one needs the size first.
        let (range, known) = match options.range {
            Some(GetRange::Bounded(r)) => (r, None),
            other => {
                let meta = self.head_counted(cache, location).await?;
                let size = meta.size;
                let range = match other {
                    Some(GetRange::Offset(o)) => o.min(size)..size,
                    Some(GetRange::Suffix(n)) => size.saturating_sub(n)..size,
                    _ => 0..size,
                };
                (range, Some(meta))
            }
        };
        let (mut data, meta) = self
            .read_ranges(cache, location, std::slice::from_ref(&range), known)
            .await?;
        let bytes = data.pop().unwrap_or_default();
        Ok(GetResult {
            payload: GetResultPayload::Stream(futures::stream::once(async { Ok(bytes) }).boxed()),
            meta,
            range,
            attributes: Attributes::default(),
        })
    }

    async fn get_ranges(&self, location: &Path, ranges: &[Range<u64>]) -> Result<Vec<Bytes>> {
        match &self.cache {
            Some(cache) => Ok(self.read_ranges(cache, location, ranges, None).await?.0),
            None => self
                .inner
                .get_ranges(location, ranges)
                .await
                .map_err(|e| self.located(location, e)),
        }
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, Result<Path>>,
    ) -> BoxStream<'static, Result<Path>> {
        let base = self.base.clone();
        self.inner
            .delete_stream(locations)
            .map_err(move |e| locate(&base, e))
            .boxed()
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        let url = self.prefix_url(prefix);
        self.inner
            .list(prefix)
            .map_err(move |e| locate(&url, e))
            .boxed()
    }

    fn list_with_offset(
        &self,
        prefix: Option<&Path>,
        offset: &Path,
    ) -> BoxStream<'static, Result<ObjectMeta>> {
        let url = self.prefix_url(prefix);
        self.inner
            .list_with_offset(prefix, offset)
            .map_err(move |e| locate(&url, e))
            .boxed()
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        let url = self.prefix_url(prefix);
        self.inner
            .list_with_delimiter(prefix)
            .await
            .map_err(|e| locate(&url, e))
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        self.inner
            .copy_opts(from, to, options)
            .await
            .map_err(|e| self.located(from, e))
    }

    async fn rename_opts(&self, from: &Path, to: &Path, options: RenameOptions) -> Result<()> {
        self.inner
            .rename_opts(from, to, options)
            .await
            .map_err(|e| self.located(from, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use object_store::memory::InMemory;

    async fn store_with(data: &[u8]) -> (tempfile::TempDir, Arc<InMemory>, RemoteStore) {
        let dir = tempfile::tempdir().expect("tempdir");
        let inner = Arc::new(InMemory::new());
        inner
            .put(&Path::from("k"), PutPayload::from(data.to_vec()))
            .await
            .expect("put");
        let cache = Arc::new(BlockCache::open(dir.path(), 4096, 1 << 30).expect("cache"));
        let store = RemoteStore::new(inner.clone(), "mem://b".into(), Some(cache));
        (dir, inner, store)
    }

    /// The same bucket and key on two endpoints are two objects: a job that names its own
    /// endpoint, answering with the same ETag and size as the real object, is not served the
    /// real object's cached bytes (issue 21).
    #[tokio::test]
    async fn stores_on_other_endpoints_do_not_share_cached_blocks() -> Result<()> {
        let dir = tempfile::tempdir().expect("tempdir");
        let cache = Arc::new(BlockCache::open(dir.path(), 4096, 1 << 30).expect("cache"));
        let real = Arc::new(InMemory::new());
        real.put(&Path::from("k"), PutPayload::from_static(b"the real bytes"))
            .await?;
        let fake = Arc::new(InMemory::new());
        fake.put(&Path::from("k"), PutPayload::from_static(b"someone else's"))
            .await?;
        // Same version as far as the cache can tell: ETag "0" and 14 bytes in both.
        assert_eq!(
            real.head(&Path::from("k")).await?.e_tag,
            fake.head(&Path::from("k")).await?.e_tag
        );
        let on = |inner: Arc<InMemory>, endpoint: &str| {
            RemoteStore::new(inner, "s3://b".into(), Some(Arc::clone(&cache)))
                .with_identity(format!("Endpoint={endpoint}"))
        };
        let victim = on(real, "https://s3.amazonaws.com");
        let attacker = on(fake, "http://attacker.example");
        let whole = std::slice::from_ref(&(0..14));
        assert_eq!(
            victim.get_ranges(&Path::from("k"), whole).await?[0],
            &b"the real bytes"[..]
        );
        assert_eq!(
            attacker.get_ranges(&Path::from("k"), whole).await?[0],
            &b"someone else's"[..]
        );
        Ok(())
    }

    /// Every range read through the cache equals the object's bytes, cold and warm, and a warm
    /// read fetches nothing.
    #[tokio::test]
    async fn ranges_read_through_the_cache_are_the_objects_bytes() -> Result<()> {
        let data: Vec<u8> = (0..50_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let (_dir, _inner, store) = store_with(&data).await;
        let ranges = [
            0..10,
            4090..4100,
            4096..8192,
            12_000..40_001,
            49_990..50_000,
            5..5,
        ];
        for round in 0..2 {
            let got = store.get_ranges(&Path::from("k"), &ranges).await?;
            for (r, bytes) in ranges.iter().zip(&got) {
                assert_eq!(&bytes[..], &data[r.start as usize..r.end as usize], "{r:?}");
            }
            let whole = store.get(&Path::from("k")).await?.bytes().await?;
            assert_eq!(&whole[..], &data[..]);
            let tail = store
                .get_opts(
                    &Path::from("k"),
                    GetOptions {
                        range: Some(GetRange::Suffix(100)),
                        ..Default::default()
                    },
                )
                .await?
                .bytes()
                .await?;
            assert_eq!(&tail[..], &data[data.len() - 100..]);
            let stats = store.cache().expect("cached").stats.snapshot();
            if round == 0 {
                assert!(stats.gets > 0);
            } else {
                assert_eq!(stats.misses, 13, "the second round fetched: {stats}");
            }
        }
        Ok(())
    }

    #[tokio::test]
    async fn a_changed_object_is_fetched_again() -> Result<()> {
        let (_dir, inner, store) = store_with(&[1u8; 10_000]).await;
        let k = Path::from("k");
        assert_eq!(&store.get_range(&k, 0..3).await?[..], &[1, 1, 1]);
        inner.put(&k, PutPayload::from(vec![2u8; 10_000])).await?;
        assert_eq!(&store.get_range(&k, 0..3).await?[..], &[2, 2, 2]);
        let stats = store.cache().expect("cached").stats.snapshot();
        assert_eq!(stats.stale, 1, "{stats}");
        Ok(())
    }

    #[tokio::test]
    async fn errors_name_the_location() {
        let (_dir, _inner, store) = store_with(b"x").await;
        let err = store
            .get_range(&Path::from("k"), 0..10)
            .await
            .expect_err("past the end")
            .to_string();
        assert!(err.contains("mem://b/k"), "{err}");
    }

    /// Two "processes" (two cache instances on one directory) and many concurrent readers of
    /// random ranges: every read returns the object's bytes, and the cache ends up whole.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_readers_in_several_processes() -> Result<()> {
        use rand::{Rng, SeedableRng};
        let data: Vec<u8> = (0..300_000u32).map(|i| (i * 31 % 253) as u8).collect();
        let (dir, inner, first) = store_with(&data).await;
        let second_cache = Arc::new(BlockCache::open(dir.path(), 4096, 1 << 30).expect("cache"));
        let second = RemoteStore::new(inner, "mem://b".into(), Some(second_cache));
        let stores = Arc::new([first, second]);
        let data = Arc::new(data);
        let mut tasks = Vec::new();
        for task in 0..16u64 {
            let (stores, data) = (Arc::clone(&stores), Arc::clone(&data));
            tasks.push(tokio::spawn(async move {
                let mut rng = rand::rngs::SmallRng::seed_from_u64(task);
                for _ in 0..20 {
                    let start = rng.random_range(0..data.len() as u64 - 1);
                    let end = rng.random_range(start + 1..=(start + 20_000).min(data.len() as u64));
                    let store = &stores[(task % 2) as usize];
                    let got = store.get_range(&Path::from("k"), start..end).await?;
                    assert_eq!(&got[..], &data[start as usize..end as usize]);
                }
                Ok::<_, Error>(())
            }));
        }
        for task in tasks {
            task.await.expect("reader task")?;
        }
        let whole = stores[0].get(&Path::from("k")).await?.bytes().await?;
        assert_eq!(&whole[..], &data[..]);
        let usage = stores[1].cache().expect("cached").usage();
        assert_eq!(usage.blocks, 300_000_u64.div_ceil(4096));
        Ok(())
    }

    #[test]
    fn adjacent_blocks_make_one_run() {
        assert_eq!(runs([1, 2, 3, 5, 7, 8].into_iter()), vec![1..4, 5..6, 7..9]);
    }
}
